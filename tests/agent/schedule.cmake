# Unit tests of pipeline schedules (src/agent/schedule.cc) against a naive minute-by-minute
# reading (cron_oracle.h, shared with tests/fuzz/schedule_fuzzer.cc); included by
# tests/CMakeLists.txt. No clock, no I/O: the whole set runs in about a second.
add_executable(stagesync_schedule_tests ${CMAKE_CURRENT_SOURCE_DIR}/agent/schedule_test.cc)
target_include_directories(stagesync_schedule_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(stagesync_schedule_tests PRIVATE stagesync_schedule GTest::gtest_main)
gtest_discover_tests(stagesync_schedule_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
