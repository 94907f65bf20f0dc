# Prometheus /metrics (src/obs/metrics.h): unit tests of the hooks, the ApiEndpoint reports and
# the staging-read gauges; a process test of the real agent scraped by promtool and by a real
# Prometheus server (needs the MariaDB fixture; skips when prometheus is not installed).
add_executable(stagesync_obs_metrics_tests ${CMAKE_CURRENT_SOURCE_DIR}/obs/metrics_test.cc)
target_include_directories(stagesync_obs_metrics_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(stagesync_obs_metrics_tests PRIVATE stagesync_obs_metrics GTest::gtest_main)
gtest_discover_tests(stagesync_obs_metrics_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

add_executable(stagesync_obs_metrics_process_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/metrics_process_test.cc)
target_include_directories(stagesync_obs_metrics_process_tests PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_obs_metrics_process_tests PRIVATE
  STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}" STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STAGESYNC_TEST_MARIADB_DIR="${STAGESYNC_TEST_MARIADB_DIR}")
target_link_libraries(stagesync_obs_metrics_process_tests PRIVATE stagesync_stage stagesync_env
  stagesync_emulators fmt::fmt GTest::gtest_main)
add_dependencies(stagesync_obs_metrics_process_tests stagesync)
gtest_discover_tests(stagesync_obs_metrics_process_tests PROPERTIES LABELS integration
  FIXTURES_REQUIRED mariadb DISCOVERY_TIMEOUT 60)
