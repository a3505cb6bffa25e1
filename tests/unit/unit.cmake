# Unit tests: one focused cmocka program per concern, each in its own process with a
# time limit. Code that refers to the daemon's global `srv` links practiced_core and
# defines it in the test.
set(PM_UNIT_DIR ${CMAKE_CURRENT_LIST_DIR})

pm_test(test_frame SOURCES ${PM_UNIT_DIR}/test_frame.c LIBS pm_common LABELS unit TIMEOUT 60)
pm_test(test_arena SOURCES ${PM_UNIT_DIR}/test_arena.c LIBS pm_common LABELS unit TIMEOUT 60)
pm_test(test_errors SOURCES ${PM_UNIT_DIR}/test_errors.c LIBS pm_common LABELS unit TIMEOUT 60)
pm_test(test_perm SOURCES ${PM_UNIT_DIR}/test_perm.c LIBS practiced_core LABELS unit TIMEOUT 60)
pm_test(test_password SOURCES ${PM_UNIT_DIR}/test_password.c LIBS practiced_core LABELS unit
        TIMEOUT 60)
pm_test(test_util_time SOURCES ${PM_UNIT_DIR}/test_util_time.c LIBS pm_common LABELS unit
        TIMEOUT 60)
pm_test(test_mrn_validate SOURCES ${PM_UNIT_DIR}/test_mrn_validate.c LIBS practiced_core
        LABELS unit TIMEOUT 60)
pm_test(test_cert SOURCES ${PM_UNIT_DIR}/test_cert.c LIBS pm_common LABELS unit TIMEOUT 60)
# The writer thread: also run under ThreadSanitizer (a -DPM_TSAN=ON build, ctest -L tsan).
pm_test(test_store SOURCES ${PM_UNIT_DIR}/test_store.c LIBS practiced_core LABELS unit tsan
        TIMEOUT 60)
# The desk's model of the day (client/desk_model.c), without a screen or a server.
pm_test(test_desk_model SOURCES ${PM_UNIT_DIR}/test_desk_model.c
        ${CMAKE_SOURCE_DIR}/client/desk_model.c LIBS practice_client PkgConfig::JSONC
        LABELS unit TIMEOUT 60)
# The board's block font (client/board_font.c): a glyph for every character shown.
pm_test(test_board_font SOURCES ${PM_UNIT_DIR}/test_board_font.c
        ${CMAKE_SOURCE_DIR}/client/board_font.c LIBS pm_common LABELS unit TIMEOUT 60)
target_include_directories(test_board_font PRIVATE ${CMAKE_SOURCE_DIR}/client)
# Every write a job makes goes through the store's helpers, which note it (store.h).
add_test(NAME lint_store_writes COMMAND sh ${PM_UNIT_DIR}/lint_store_writes.sh
         ${CMAKE_SOURCE_DIR}/server)
set_tests_properties(lint_store_writes PROPERTIES TIMEOUT 30 LABELS unit)
