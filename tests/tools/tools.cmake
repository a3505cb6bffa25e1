# Tools that are not tests: the demo practice's seeder, run by ./setup demo through
# tests/tools/demo-seed.
add_executable(demo-seed tools/demo_seed.c)
target_link_libraries(demo-seed PRIVATE practice_client)
set_target_properties(demo-seed PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/tools)
