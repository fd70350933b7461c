# Loader tests: deliberately broken fake plugins (tests/codecs/fakes), the
# loader's documented errors, search order and RZ_COMPRESSORS; the
# conformance checker must refuse every broken fake; the plugin header
# must compile on its own.
set(RZ_FAKE_DIR ${CMAKE_BINARY_DIR}/tests/fakes)
set(RZ_FAKES good abi short nosym wrongname initfail nullptr liar)
foreach(kind ${RZ_FAKES})
  set(t rz_fake_${kind})
  add_library(${t} MODULE ${CMAKE_CURRENT_LIST_DIR}/fakes/fake_plugin.c)
  set_target_properties(${t} PROPERTIES PREFIX "" OUTPUT_NAME "librz_fake_${kind}"
    SUFFIX ".so" LIBRARY_OUTPUT_DIRECTORY ${RZ_FAKE_DIR} C_VISIBILITY_PRESET hidden)
  target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  string(TOUPPER ${kind} KIND)
  target_compile_definitions(${t} PRIVATE FAKE_${KIND}=1 FAKE_NAME="fake_${kind}")
endforeach()

add_executable(test_plugin_loader ${CMAKE_CURRENT_LIST_DIR}/test_plugin_loader.c)
target_link_libraries(test_plugin_loader PRIVATE ringzip_internal)
foreach(kind ${RZ_FAKES})
  add_dependencies(test_plugin_loader rz_fake_${kind})
endforeach()
add_test(NAME plugin_loader COMMAND test_plugin_loader ${RZ_FAKE_DIR})
set_tests_properties(plugin_loader PROPERTIES LABELS "unit;asan" TIMEOUT 120)

# The header alone (only include/ on the path), and its status enum against
# ringzip/status.h's.
add_executable(test_compressor_abi
  ${CMAKE_CURRENT_LIST_DIR}/test_compressor_abi.c
  ${CMAKE_CURRENT_LIST_DIR}/test_compressor_abi_status.c)
target_include_directories(test_compressor_abi PRIVATE ${PROJECT_SOURCE_DIR}/include)
add_test(NAME compressor_abi COMMAND test_compressor_abi)
set_tests_properties(compressor_abi PROPERTIES LABELS "unit;asan" TIMEOUT 60)

if(TARGET rz_plugin_check)
  foreach(kind abi short nosym wrongname initfail nullptr)
    add_test(NAME plugin_check_rejects_${kind}
             COMMAND rz_plugin_check ${RZ_FAKE_DIR}/librz_fake_${kind}.so)
    # Exit 2: the plugin cannot be loaded.
    set_tests_properties(plugin_check_rejects_${kind} PROPERTIES
      LABELS "unit" TIMEOUT 60 WILL_FAIL TRUE)
  endforeach()
  add_test(NAME plugin_check_catches_liar
           COMMAND rz_plugin_check ${RZ_FAKE_DIR}/librz_fake_liar.so)
  set_tests_properties(plugin_check_catches_liar PROPERTIES
    LABELS "unit" TIMEOUT 60 WILL_FAIL TRUE)
  add_test(NAME plugin_check_accepts_good
           COMMAND rz_plugin_check ${RZ_FAKE_DIR}/librz_fake_good.so)
  set_tests_properties(plugin_check_accepts_good PROPERTIES LABELS "unit" TIMEOUT 60)
endif()
