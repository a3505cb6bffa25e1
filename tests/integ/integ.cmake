# Integration tests: each starts its own practiced on 127.0.0.1.
pm_test(test_auth SOURCES integ/test_auth.c LIBS pm_harness LABELS integ TIMEOUT 300)
pm_test(test_patients SOURCES integ/test_patients.c LIBS pm_harness LABELS "integ;tsan" TIMEOUT 300)
pm_test(test_protocol SOURCES integ/test_protocol.c LIBS pm_harness LABELS integ TIMEOUT 300)
pm_test(test_durability SOURCES integ/test_durability.c LIBS pm_harness LABELS "integ;tsan" TIMEOUT 300)
pm_test(test_crash SOURCES integ/test_crash.c LIBS pm_harness LABELS integ TIMEOUT 900)
pm_test(test_interop SOURCES integ/test_interop.c LIBS pm_harness LABELS integ TIMEOUT 120)
target_compile_definitions(test_interop PRIVATE PM_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
