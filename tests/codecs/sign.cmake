# sign and blocksign codec unit tests (included by tests/CMakeLists.txt).
# Each dlopens the .so that ships; blocksign's also gets sign's, to check
# that one block gives sign's bytes.
add_executable(test_codec_sign ${CMAKE_CURRENT_LIST_DIR}/test_codec_sign.c)
target_include_directories(test_codec_sign PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(test_codec_sign PRIVATE ${CMAKE_DL_LIBS} m)
add_dependencies(test_codec_sign rz_plugin_sign)
add_test(NAME codec_sign COMMAND test_codec_sign $<TARGET_FILE:rz_plugin_sign>)
set_tests_properties(codec_sign PROPERTIES LABELS "unit;asan" TIMEOUT 120)

add_executable(test_codec_blocksign
  ${CMAKE_CURRENT_LIST_DIR}/test_codec_blocksign.c)
target_include_directories(test_codec_blocksign PRIVATE
  ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(test_codec_blocksign PRIVATE ${CMAKE_DL_LIBS} m)
add_dependencies(test_codec_blocksign rz_plugin_blocksign rz_plugin_sign)
add_test(NAME codec_blocksign
  COMMAND test_codec_blocksign $<TARGET_FILE:rz_plugin_blocksign>
          $<TARGET_FILE:rz_plugin_sign>)
set_tests_properties(codec_blocksign PROPERTIES LABELS "unit;asan" TIMEOUT 120)
