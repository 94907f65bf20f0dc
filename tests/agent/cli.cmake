# The real `stagesync run` as ops drive it (tests/agent/agent_cli_test.cc): systemd's notify
# protocol, `stagesync ctl`, SIGHUP reloads, the control API's address and token rules.
add_executable(stagesync_agent_cli_tests ${CMAKE_CURRENT_SOURCE_DIR}/agent/agent_cli_test.cc)
target_include_directories(stagesync_agent_cli_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_agent_cli_tests PRIVATE
  STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}" STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STAGESYNC_TEST_MARIADB_DIR="${STAGESYNC_TEST_MARIADB_DIR}")
target_link_libraries(stagesync_agent_cli_tests PRIVATE stagesync_stage stagesync_env
  stagesync_emulators stagesync_emulator_kingdee fmt::fmt GTest::gtest_main)
add_dependencies(stagesync_agent_cli_tests stagesync stagesync-dump)
gtest_discover_tests(stagesync_agent_cli_tests PROPERTIES LABELS integration DISCOVERY_TIMEOUT 60)
