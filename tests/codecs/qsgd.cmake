# qsgd codec unit test (included by tests/CMakeLists.txt): dlopens the .so
# that ships and checks it byte for byte against a reference written from
# plugins/qsgd/README.md, plus unbiasedness and the variance bound.
add_executable(test_codec_qsgd ${CMAKE_CURRENT_LIST_DIR}/test_codec_qsgd.c)
target_include_directories(test_codec_qsgd PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(test_codec_qsgd PRIVATE ${CMAKE_DL_LIBS} m)
add_dependencies(test_codec_qsgd rz_plugin_qsgd)
add_test(NAME codec_qsgd COMMAND test_codec_qsgd $<TARGET_FILE:rz_plugin_qsgd>)
set_tests_properties(codec_qsgd PROPERTIES LABELS "unit;asan" TIMEOUT 120)
