# The real `stagesync run` process (tests/agent/agent_process_test.cc): SIGTERM mid-batch, a
# SIGKILL loop over two pipelines, failure isolation between pipelines and between sinks, and
# one-shot commands meeting a running agent. Included by tests/CMakeLists.txt; needs the
# MariaDB fixture and the stagesync binary.
add_executable(stagesync_agent_process_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/agent/agent_process_test.cc)
target_include_directories(stagesync_agent_process_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_agent_process_tests PRIVATE
  STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}" STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STAGESYNC_TEST_MARIADB_DIR="${STAGESYNC_TEST_MARIADB_DIR}")
target_link_libraries(stagesync_agent_process_tests PRIVATE stagesync_stage stagesync_env
  stagesync_emulators stagesync_emulator_kingdee fmt::fmt GTest::gtest_main)
add_dependencies(stagesync_agent_process_tests stagesync)
gtest_discover_tests(stagesync_agent_process_tests PROPERTIES LABELS integration
  FIXTURES_REQUIRED mariadb DISCOVERY_TIMEOUT 60)
