# Structured logs and the Redactor (issue 12 item 6). Included by tests/CMakeLists.txt.
# Unit tests: the log line formats and each kind of redaction.
add_executable(stagesync_obs_logs_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/log_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/redact_test.cc)
target_link_libraries(stagesync_obs_logs_tests PRIVATE stagesync_obs_logs stagesync_config
  GTest::gtest_main)
gtest_discover_tests(stagesync_obs_logs_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
