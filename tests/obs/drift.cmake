# Drift detection tests (issue 12 item 5). Unit: the mapper's reference report, DriftTracker's
# thresholds and the DingTalk emulator's label rename. Integration: the real `stagesync run`
# with the DingTalk emulator and the MariaDB fixture, a form label renamed mid-run.
add_executable(stagesync_obs_drift_tests ${CMAKE_CURRENT_SOURCE_DIR}/obs/drift_test.cc)
target_include_directories(stagesync_obs_drift_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(stagesync_obs_drift_tests PRIVATE stagesync_obs_drift stagesync_emulators
  GTest::gtest_main)
gtest_discover_tests(stagesync_obs_drift_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

add_executable(stagesync_obs_drift_process_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/drift_process_test.cc)
target_include_directories(stagesync_obs_drift_process_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_obs_drift_process_tests PRIVATE
  STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}" STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STAGESYNC_TEST_MARIADB_DIR="${STAGESYNC_TEST_MARIADB_DIR}")
target_link_libraries(stagesync_obs_drift_process_tests PRIVATE stagesync_stage stagesync_env
  stagesync_emulators fmt::fmt GTest::gtest_main)
add_dependencies(stagesync_obs_drift_process_tests stagesync)
gtest_discover_tests(stagesync_obs_drift_process_tests PROPERTIES LABELS integration
  FIXTURES_REQUIRED mariadb DISCOVERY_TIMEOUT 60)
