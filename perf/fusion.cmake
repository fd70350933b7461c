# rz_fusion_perf: step time of the tensor fusion engine on the ResNet-50 and
# BERT-base gradient lists (fused, unfused, one flat allreduce; plain or
# compressed). Included from perf/CMakeLists.txt; its smoke tests live in
# tests/fusion/perf.cmake.
add_executable(rz_fusion_perf rz_fusion_perf.c)
target_link_libraries(rz_fusion_perf PRIVATE ringzip m)
target_compile_definitions(rz_fusion_perf PRIVATE _GNU_SOURCE)
install(TARGETS rz_fusion_perf RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
