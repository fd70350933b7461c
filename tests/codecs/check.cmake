# The conformance checker (rz_plugin_check, ALGORITHMS.md section 5.1) on
# every built-in plugin with its default parameters, then once more for each
# non-default parameter that changes the wire layout or the codec's
# arithmetic. The checker's exit status is the verdict: 0 all properties
# pass, 1 one failed, 2 the plugin could not be loaded. The broken fakes the
# checker must refuse are registered in loader.cmake.
get_property(rz_check_plugins GLOBAL PROPERTY RZ_PLUGINS)

foreach(p ${rz_check_plugins})
  add_test(NAME plugin_check_${p}
           COMMAND rz_plugin_check $<TARGET_FILE:rz_plugin_${p}>)
  set_tests_properties(plugin_check_${p} PROPERTIES
    LABELS "unit;asan" TIMEOUT 300)
endforeach()

# <plugin>|<test name suffix>|<parameters>: block lengths that do not divide
# the counts, a sparse ratio and a fixed k, fewer levels in small buckets.
set(rz_check_variants
  "blocksign|block7|block=7"
  "topk|ratio0_1|ratio=0.1"
  "topk|k3|k=3"
  "randk|ratio0_1|ratio=0.1"
  "qsgd|levels4_bucket64|levels=4,bucket=64")
foreach(v ${rz_check_variants})
  string(REPLACE "|" ";" v "${v}")
  list(GET v 0 p)
  list(GET v 1 suffix)
  list(GET v 2 params)
  if(p IN_LIST rz_check_plugins)
    add_test(NAME plugin_check_${p}_${suffix}
             COMMAND rz_plugin_check $<TARGET_FILE:rz_plugin_${p}> ${params})
    set_tests_properties(plugin_check_${p}_${suffix} PROPERTIES
      LABELS "unit;asan" TIMEOUT 300)
  endif()
endforeach()
