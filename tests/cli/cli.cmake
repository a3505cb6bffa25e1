# End-to-end tests of the practice CLI against a real practiced (tests/cli/test_*.sh, which
# share tests/cli/lib.sh).
add_test(NAME cli
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_cli.sh $<TARGET_FILE:practiced>
                 $<TARGET_FILE:practice>)
set_tests_properties(cli PROPERTIES TIMEOUT 300 LABELS cli)
add_test(NAME cli_schedule
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_schedule.sh $<TARGET_FILE:practiced>
                 $<TARGET_FILE:practice>)
set_tests_properties(cli_schedule PROPERTIES TIMEOUT 300 LABELS cli)
add_test(NAME cli_desk
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_desk.sh $<TARGET_FILE:practiced>
                 $<TARGET_FILE:practice>)
set_tests_properties(cli_desk PROPERTIES TIMEOUT 120 LABELS cli)
