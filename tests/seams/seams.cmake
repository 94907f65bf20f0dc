# Unit tests of the retry policy, the intent protocol, the applier's cursor rules and the MySQL
# bookkeeping on the fakes beside each seam (tests/testing/fake_*.h); included by
# tests/CMakeLists.txt. Fake clock, no network, no server: each test runs in milliseconds.
add_executable(stagesync_seam_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/seams/cursor_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/seams/daily_quota_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/seams/intent_protocol_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/seams/mysql_bookkeeping_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/seams/retry_policy_test.cc)
target_include_directories(stagesync_seam_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(stagesync_seam_tests PRIVATE stagesync_apply GTest::gtest_main)
gtest_discover_tests(stagesync_seam_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
