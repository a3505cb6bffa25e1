# End-to-end test of the practice CLI against a real practiced (tests/cli/test_cli.sh).
add_test(NAME cli
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_cli.sh $<TARGET_FILE:practiced>
                 $<TARGET_FILE:practice>)
set_tests_properties(cli PROPERTIES TIMEOUT 300 LABELS cli)
