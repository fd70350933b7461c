# The out-of-tree plugin template (plugins/example, not part of this build):
# install this build into a temporary prefix, build the template against
# the installed headers only, and run the installed rz_plugin_check on it.
# Needs the whole tree built (it installs it).
add_test(NAME plugin_example_out_of_tree
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/scripts/test_plugin_example.sh
                 ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(plugin_example_out_of_tree PROPERTIES LABELS "tools"
                     TIMEOUT 300 ENVIRONMENT "CMAKE=${CMAKE_COMMAND}")
