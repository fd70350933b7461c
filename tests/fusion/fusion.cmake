# Tests of the tensor fusion engine (include/ringzip/fusion.h), included by
# tests/CMakeLists.txt. One program, test_fusion: ranks as threads
# (--threads K) or as processes under rzrun, cases chosen with --cases (see
# the comment at the top of test_fusion.c). RZ_TIMEOUT_MS is short so that a
# lost message fails within seconds; the program's own watchdog reports a
# case that runs past its budget, and every test has a ctest TIMEOUT.
add_executable(test_fusion ${CMAKE_CURRENT_LIST_DIR}/test_fusion.c)
target_link_libraries(test_fusion PRIVATE ringzip Threads::Threads m)
target_include_directories(test_fusion PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
# The compressors of the compression cases are plugins loaded at run time.
foreach(rz_fu_codec none sign blocksign topk fp16)
  if(TARGET rz_plugin_${rz_fu_codec})
    add_dependencies(test_fusion rz_plugin_${rz_fu_codec})
  endif()
endforeach()

# The default cases (order, mismatch, compress, shutdown, badargs) with
# ranks as threads and as processes; np 2 and 4 add the stall and timeline
# cases ("all" is everything but the dead peer).
foreach(k 2 3 4)
  add_test(NAME fusion_threads_K${k} COMMAND test_fusion --threads ${k})
  set_tests_properties(fusion_threads_K${k} PROPERTIES LABELS "threads"
                       TIMEOUT 120 ENVIRONMENT "RZ_TIMEOUT_MS=10000")
endforeach()
foreach(np 2 3 4)
  set(rz_fu_cases order,mismatch,compress,shutdown,badargs)
  if(NOT np EQUAL 3)
    set(rz_fu_cases all)
  endif()
  add_test(NAME fusion_np${np}
           COMMAND ${RZRUN} --timeout 110 -np ${np} -x RZ_TIMEOUT_MS=10000
                   $<TARGET_FILE:test_fusion> --cases ${rz_fu_cases})
  set_tests_properties(fusion_np${np} PROPERTIES LABELS "mp" TIMEOUT 120)
endforeach()

# A stalled tensor: the warning names the missing ranks (one; then a list
# with a range), the others' handles time out.
add_test(NAME fusion_stall_threads3
         COMMAND test_fusion --threads 3 --cases stall --stall-missing 1)
add_test(NAME fusion_stall_threads6
         COMMAND test_fusion --threads 6 --cases stall --stall-missing 1,3,4,5)
set_tests_properties(fusion_stall_threads3 fusion_stall_threads6 PROPERTIES
                     LABELS "fault" TIMEOUT 60
                     ENVIRONMENT "RZ_TIMEOUT_MS=10000")

# A rank dies with tensors pending (a worker, then the coordinator).
add_test(NAME fusion_deadpeer
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_deadpeer.sh ${RZRUN}
                 $<TARGET_FILE:test_fusion>)
set_tests_properties(fusion_deadpeer PROPERTIES LABELS "fault" TIMEOUT 120)

# Timeline files: the program's own checks, then json.load (skipped
# without python3).
add_test(NAME fusion_timeline
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_timeline.sh
                 $<TARGET_FILE:test_fusion>)
set_tests_properties(fusion_timeline PROPERTIES LABELS "tools" TIMEOUT 60
                     ENVIRONMENT "RZ_TIMEOUT_MS=10000")

# The sanitizer build's run: small tensors, the default cases, processes.
add_test(NAME fusion_small_np2
         COMMAND ${RZRUN} --timeout 170 -np 2 -x RZ_TIMEOUT_MS=20000
                 $<TARGET_FILE:test_fusion> --small)
set_tests_properties(fusion_small_np2 PROPERTIES LABELS "mp;asan" TIMEOUT 180)
