# Benchmarks: plain programs, not ctest tests (they print figures and never assert
# timings). tests/bench/run BUILD_DIR runs them all against a Release build.
add_library(pm_bench STATIC bench/bench_common.c)
target_include_directories(pm_bench PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/bench)
target_link_libraries(pm_bench PUBLIC pm_harness practice_client pm_common ${LMDB_LIB})

foreach(b bench_group_commit bench_search bench_conn_mem bench_schedule)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/bench/${b}.c)
    add_executable(${b} bench/${b}.c)
    target_link_libraries(${b} PRIVATE pm_bench ${LMDB_LIB} Threads::Threads)
    set_target_properties(${b} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/bench)
  endif()
endforeach()

# The board to many screens, and catching up: needs the scheduling helpers of the tests.
add_executable(bench_fanout bench/bench_fanout.c integ/sched_help.c)
target_link_libraries(bench_fanout PRIVATE pm_bench Threads::Threads)
set_target_properties(bench_fanout PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/bench)

# Load generators on libuv (issue 6): many TLS connections per thread, pipelined requests.
add_library(pm_bench_uv STATIC bench/bench_uv.c)
target_link_libraries(pm_bench_uv PUBLIC pm_bench)
foreach(b bench_storm bench_flood bench_load)
  add_executable(${b} bench/${b}.c integ/sched_help.c)
  target_link_libraries(${b} PRIVATE pm_bench_uv Threads::Threads)
  set_target_properties(${b} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/bench)
endforeach()
