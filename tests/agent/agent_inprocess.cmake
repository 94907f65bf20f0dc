# The agent in-process against the emulators (no MariaDB): schedules and single flight,
# catch-up, backoff, pause/resume/run/requeue, reload, and a day of schedules on a fast clock.
add_executable(stagesync_agent_tests ${CMAKE_CURRENT_LIST_DIR}/agent_test.cc)
target_include_directories(stagesync_agent_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_agent_tests PRIVATE
  STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(stagesync_agent_tests PRIVATE stagesync_agent stagesync_emulators
  stagesync_emulator_kingdee fmt::fmt GTest::gtest_main)
gtest_discover_tests(stagesync_agent_tests PROPERTIES LABELS integration DISCOVERY_TIMEOUT 60)
