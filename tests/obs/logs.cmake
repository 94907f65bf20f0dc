# Structured logs and the Redactor (issue 12 item 6). Included by tests/CMakeLists.txt.
# Unit tests: the log line formats, each kind of redaction, run ids kept by the run history.
add_executable(stagesync_obs_logs_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/log_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/redact_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/run_id_test.cc)
target_include_directories(stagesync_obs_logs_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(stagesync_obs_logs_tests PRIVATE stagesync_obs_logs stagesync_config
  stagesync_stage GTest::gtest_main)
gtest_discover_tests(stagesync_obs_logs_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

# Redaction across every command and the agent (a real `stagesync run`, the emulators, the
# state dir's files searched byte by byte). No database: seed 001 pushes into Kingdee.
add_executable(stagesync_obs_redaction_process_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/redaction_process_test.cc)
target_include_directories(stagesync_obs_redaction_process_tests PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_obs_redaction_process_tests PRIVATE
  STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}" STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(stagesync_obs_redaction_process_tests PRIVATE stagesync_env
  stagesync_emulators stagesync_emulator_kingdee fmt::fmt GTest::gtest_main)
add_dependencies(stagesync_obs_redaction_process_tests stagesync stagesync-dump)
gtest_discover_tests(stagesync_obs_redaction_process_tests PROPERTIES LABELS integration
  DISCOVERY_TIMEOUT 60)

# The control API's post-routing redaction (FakeAgent, loopback HTTP, compression asked for).
add_executable(stagesync_obs_control_redaction_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/control_redaction_test.cc)
target_include_directories(stagesync_obs_control_redaction_tests PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(stagesync_obs_control_redaction_tests PRIVATE stagesync_control stagesync_env
  PkgConfig::HTTPLIB GTest::gtest_main)
gtest_discover_tests(stagesync_obs_control_redaction_tests PROPERTIES LABELS unit
  DISCOVERY_TIMEOUT 60)
