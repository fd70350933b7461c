# Codec unit tests of the sparsifying plugins: top-k (wire id 6) and
# random-k (wire id 7). Each test dlopens the shipped librz_<name>.so.
foreach(rz_sparse_codec topk randk)
  if(TARGET rz_plugin_${rz_sparse_codec})
    add_executable(test_codec_${rz_sparse_codec}
                   ${CMAKE_CURRENT_LIST_DIR}/test_codec_${rz_sparse_codec}.c)
    target_include_directories(test_codec_${rz_sparse_codec} PRIVATE
                               ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(test_codec_${rz_sparse_codec} PRIVATE
                          ${CMAKE_DL_LIBS} m)
    add_dependencies(test_codec_${rz_sparse_codec}
                     rz_plugin_${rz_sparse_codec})
    add_test(NAME codec_${rz_sparse_codec}
             COMMAND test_codec_${rz_sparse_codec}
                     $<TARGET_FILE:rz_plugin_${rz_sparse_codec}>)
    set_tests_properties(codec_${rz_sparse_codec} PROPERTIES
                         LABELS "unit;asan" TIMEOUT 120)
  endif()
endforeach()
