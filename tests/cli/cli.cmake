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
# The waiting-room board and the simulator (tests/cli/test_board.sh, driving the board in
# tmux; board_tool does the front desk's flow steps and records what a display receives).
add_executable(board_tool cli/board_tool.c)
target_link_libraries(board_tool PRIVATE practice_client)
foreach(part screen bytes simulate)
  add_test(NAME board_${part}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_board.sh $<TARGET_FILE:practiced>
                   $<TARGET_FILE:practice> $<TARGET_FILE:board_tool> ${part})
  set_tests_properties(board_${part} PROPERTIES TIMEOUT 120 LABELS cli)
endforeach()
add_test(NAME cli_desk
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_desk.sh $<TARGET_FILE:practiced>
                 $<TARGET_FILE:practice>)
set_tests_properties(cli_desk PROPERTIES TIMEOUT 120 LABELS cli)
