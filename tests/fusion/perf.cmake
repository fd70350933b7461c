# rz_fusion_perf smoke tests (label "perf", about 5 s together): the model
# lists hold the documented tensor and parameter counts, bad usage exits 2,
# and short runs of every mode compute exact means (np 2 and np 3, where
# the mean rounds), bitwise-equal compressed outputs across ranks, and
# compressed results that do not depend on the grouping; both memory
# layouts, in and out of place, both schedules. A wrong result prints
# "FAILED" and exits non-zero.
if(RZ_BUILD_PERF)
  add_test(NAME perf_fusion_models
           COMMAND $<TARGET_FILE:rz_fusion_perf> --list -M all -L 12 -E)
  set_tests_properties(perf_fusion_models PROPERTIES LABELS "perf" TIMEOUT 30
    PASS_REGULAR_EXPRESSION
    "resnet50: 161 tensors, 25557032 parameters.*bert12\\+E: 197 tensors, 108891648")
  add_test(NAME perf_fusion_usage
           COMMAND sh -c "\"$1\" --modes fused-c && exit 1; [ $? -eq 2 ]"
                   sh $<TARGET_FILE:rz_fusion_perf>)
  set_tests_properties(perf_fusion_usage PROPERTIES LABELS "perf" TIMEOUT 30)
  add_test(NAME perf_fusion_bert_sign_np2
           COMMAND ${RZRUN} --timeout 60 -np 2 $<TARGET_FILE:rz_fusion_perf>
                   -M bert -L 1 -n 2 -w 1 -c sign -t sharded)
  add_test(NAME perf_fusion_resnet50_np3
           COMMAND ${RZRUN} --timeout 60 -np 3 $<TARGET_FILE:rz_fusion_perf>
                   -M resnet50 -n 2 -w 1)
  add_test(NAME perf_fusion_contiguous_inplace_np2
           COMMAND ${RZRUN} --timeout 60 -np 2 $<TARGET_FILE:rz_fusion_perf>
                   -M resnet50 -n 2 -w 1 --layout contiguous -I
                   --schedule blocked)
  set_tests_properties(perf_fusion_bert_sign_np2 perf_fusion_resnet50_np3
                       perf_fusion_contiguous_inplace_np2 PROPERTIES
                       LABELS "perf" TIMEOUT 90
                       FAIL_REGULAR_EXPRESSION "FAILED")
endif()
