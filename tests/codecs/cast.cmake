# none, fp16 and bf16 codec unit tests (included by tests/CMakeLists.txt).
# Each dlopens the .so that ships. fp16 and bf16 also run their portable
# and AVX2 kernels on all 2^32 fp32 patterns (a few seconds); pass
# --exhaustive by hand to run the double-precision reference on all of them
# as well (one to three minutes).
foreach(codec none fp16 bf16)
  add_executable(test_codec_${codec}
    ${CMAKE_CURRENT_LIST_DIR}/test_codec_${codec}.c)
  target_include_directories(test_codec_${codec} PRIVATE
    ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(test_codec_${codec} PRIVATE ${CMAKE_DL_LIBS} m)
  add_dependencies(test_codec_${codec} rz_plugin_${codec})
  add_test(NAME codec_${codec}
    COMMAND test_codec_${codec} $<TARGET_FILE:rz_plugin_${codec}>)
  set_tests_properties(codec_${codec} PROPERTIES
    LABELS "unit;asan" TIMEOUT 120)
endforeach()
