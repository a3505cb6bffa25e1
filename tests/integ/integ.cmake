# Integration tests: each starts its own practiced on 127.0.0.1.
pm_test(test_auth SOURCES integ/test_auth.c LIBS pm_harness LABELS integ TIMEOUT 300)
pm_test(test_patients SOURCES integ/test_patients.c LIBS pm_harness LABELS "integ;tsan" TIMEOUT 300)
pm_test(test_protocol SOURCES integ/test_protocol.c LIBS pm_harness LABELS integ TIMEOUT 300)
pm_test(test_durability SOURCES integ/test_durability.c LIBS pm_harness LABELS "integ;tsan" TIMEOUT 300)
pm_test(test_crash SOURCES integ/test_crash.c LIBS pm_harness LABELS integ TIMEOUT 900)
pm_test(test_interop SOURCES integ/test_interop.c LIBS pm_harness LABELS integ TIMEOUT 120)
target_compile_definitions(test_interop PRIVATE PM_SOURCE_DIR="${CMAKE_SOURCE_DIR}")

# The storage-fault shim, preloaded into a server under test.
add_library(failfs SHARED faults/failfs.c)
target_link_libraries(failfs PRIVATE dl)
set_target_properties(failfs PROPERTIES C_STANDARD 11)
target_compile_options(failfs PRIVATE -fno-sanitize=all)
target_link_options(failfs PRIVATE -fno-sanitize=all)
pm_test(test_faults SOURCES integ/test_faults.c LIBS pm_harness LABELS integ TIMEOUT 120)
target_compile_definitions(test_faults PRIVATE FAILFS_SO="$<TARGET_FILE:failfs>")
add_dependencies(test_faults failfs)
pm_test(test_tls_scan SOURCES integ/test_tls_scan.c LIBS pm_harness LABELS integ TIMEOUT 120)
pm_test(test_check_corrupt SOURCES integ/test_check_corrupt.c LIBS pm_harness LABELS integ TIMEOUT 120)
pm_test(test_bruteforce SOURCES integ/test_bruteforce.c LIBS pm_harness LABELS integ TIMEOUT 300)
pm_test(test_hostile SOURCES integ/test_hostile.c LIBS pm_harness LABELS integ TIMEOUT 300)
# Scheduling: availability, bookings, series, the waitlist, a race, a restart.
pm_test(test_schedule SOURCES integ/test_schedule.c integ/sched_help.c LIBS pm_harness LABELS integ TIMEOUT 300)
pm_test(test_series SOURCES integ/test_series.c integ/sched_help.c LIBS pm_harness LABELS integ TIMEOUT 300)
pm_test(test_waitlist SOURCES integ/test_waitlist.c integ/sched_help.c LIBS pm_harness LABELS integ TIMEOUT 300)
pm_test(test_sched_race SOURCES integ/test_sched_race.c integ/sched_help.c LIBS pm_harness LABELS integ TIMEOUT 300)
pm_test(test_sched_restart SOURCES integ/test_sched_restart.c integ/sched_help.c LIBS pm_harness LABELS integ TIMEOUT 300)
# Patient flow: steps, refusals, undo, tickets, late and overdue, closing the day, estimates.
pm_test(test_flow SOURCES integ/test_flow.c integ/sched_help.c LIBS pm_harness LABELS integ TIMEOUT 300)
# Event streams of the day: the display's topics and bytes, replay across reconnects, slow
# subscribers, backlogs, retention, session expiry.
pm_test(test_streams SOURCES integ/test_streams.c integ/sched_help.c LIBS pm_harness LABELS integ TIMEOUT 300)
# Idempotency under reconnects: 50 desks race for one slot through a proxy that cuts them.
pm_test(test_idem_race SOURCES integ/test_idem_race.c integ/sched_help.c LIBS pm_harness LABELS integ TIMEOUT 300)
# A batch that fills the map is redone in a grown one, each request answered once.
pm_test(test_map_grow SOURCES integ/test_map_grow.c integ/sched_help.c LIBS pm_harness LABELS integ TIMEOUT 120)
