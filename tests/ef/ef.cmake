# Invariant tests of the compressed allreduce (EF, SAEF, LIEC; ALGORITHMS.md
# section 5), included by tests/CMakeLists.txt. One program, test_ef: ranks
# as threads (--threads K) or as processes under rzrun. The full matrix runs
# in threads at K = 1..4 (at 5 and 8 without d = 1000), a reduced (covering)
# one in the multi-process runs, a small one under the sanitizers.
add_executable(test_ef ${CMAKE_CURRENT_LIST_DIR}/test_ef.c)
target_include_directories(test_ef PRIVATE ${CMAKE_CURRENT_LIST_DIR}
                           ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(test_ef PRIVATE ringzip Threads::Threads m)
# The codecs the matrix uses are plugins the library loads at run time.
foreach(rz_ef_codec none sign blocksign topk randk fp16)
  if(TARGET rz_plugin_${rz_ef_codec})
    add_dependencies(test_ef rz_plugin_${rz_ef_codec})
  endif()
endforeach()

# A hang fails within RZ_TIMEOUT_MS instead of the ctest TIMEOUT. K = 5
# and 8 drop d = 1000 from the full matrix (mid); ef_np5/ef_np8 keep it.
foreach(k 1 2 3 4 5 8)
  set(rz_ef_level full)
  if(k GREATER 4)
    set(rz_ef_level mid)
  endif()
  add_test(NAME ef_threads_K${k}
           COMMAND test_ef --threads ${k} --level ${rz_ef_level})
  set_tests_properties(ef_threads_K${k} PROPERTIES LABELS "threads"
                       TIMEOUT 300 ENVIRONMENT "RZ_TIMEOUT_MS=30000")
endforeach()
foreach(np 1 2 3 4 5 8)
  add_test(NAME ef_np${np}
           COMMAND ${RZRUN} --timeout 280 -np ${np} -x RZ_TIMEOUT_MS=30000
                   $<TARGET_FILE:test_ef> --level reduced)
  set_tests_properties(ef_np${np} PROPERTIES LABELS "mp" TIMEOUT 300)
endforeach()
# Long runs: the E6 bound and the E10 (soft) mismatch comparison.
add_test(NAME ef_long_threads4 COMMAND test_ef --threads 4 --level long)
set_tests_properties(ef_long_threads4 PROPERTIES LABELS "threads"
                     TIMEOUT 300 ENVIRONMENT "RZ_TIMEOUT_MS=30000")
add_test(NAME ef_small_np3
         COMMAND ${RZRUN} --timeout 280 -np 3 -x RZ_TIMEOUT_MS=30000
                 $<TARGET_FILE:test_ef> --level small)
set_tests_properties(ef_small_np3 PROPERTIES LABELS "mp;asan" TIMEOUT 300)
# Mismatched configurations and call sequences: an error on every rank
# within RZ_TIMEOUT_MS, never a hang.
add_test(NAME ef_mismatch_np3
         COMMAND ${RZRUN} --timeout 170 -np 3 -x RZ_TIMEOUT_MS=5000
                 $<TARGET_FILE:test_ef> --mismatch)
set_tests_properties(ef_mismatch_np3 PROPERTIES LABELS "fault" TIMEOUT 180)
