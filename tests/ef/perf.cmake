# rz_allreduce_perf's compressed mode (-c), smoke tests at np 4. Sizes of
# 1, 7, 49, 343, 2401 and 16807 fp32 elements: fewer elements than ranks
# and counts that 4 does not divide. -n 3 -w 2 makes five calls per size,
# so p = 2 averages and H = 3 syncs inside the timed ones. -C fails the run
# when the EF/SAEF outputs differ between ranks; the regular expression
# catches that footer and a LIEC sync the library asked for off schedule.
if(RZ_BUILD_PERF)
  set(RZ_PERF_EF_SWEEP -b 4 -e 100K -f 7 -n 3 -w 2 -C)
  add_test(NAME perf_ef_sign_ring_np4
           COMMAND ${RZRUN} --timeout 300 -np 4
                   $<TARGET_FILE:rz_allreduce_perf> ${RZ_PERF_EF_SWEEP}
                   -c sign -t ring)
  add_test(NAME perf_saef_sign_sharded_p2_np4
           COMMAND ${RZRUN} --timeout 300 -np 4
                   $<TARGET_FILE:rz_allreduce_perf> ${RZ_PERF_EF_SWEEP}
                   -c sign -t sharded -m saef -p 2)
  add_test(NAME perf_liec_sign_h3_np4
           COMMAND ${RZRUN} --timeout 300 -np 4
                   $<TARGET_FILE:rz_allreduce_perf> ${RZ_PERF_EF_SWEEP}
                   -c sign -m liec -p 3)
  set_tests_properties(perf_ef_sign_ring_np4 perf_saef_sign_sharded_p2_np4
                       perf_liec_sign_h3_np4
                       PROPERTIES LABELS "tools;ef" TIMEOUT 400
                       FAIL_REGULAR_EXPRESSION "FAILED;NEED_SYNC")
  # Bad usage of the compressed mode exits 2 before joining a job.
  add_test(NAME perf_ef_usage
           COMMAND sh -c "\"$1\" -c sign -d f64 && exit 1; [ $? -eq 2 ]"
                   sh $<TARGET_FILE:rz_allreduce_perf>)
  set_tests_properties(perf_ef_usage PROPERTIES LABELS "tools;ef" TIMEOUT 60)
endif()
