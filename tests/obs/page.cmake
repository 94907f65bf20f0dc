# The status page: renderers, escaping, agent.lang and staging facts (unit), and the real agent
# read by headless Chromium (integration; needs the MariaDB fixture and /usr/bin/chromium, and
# keeps its screenshots in build/test-artifacts/).
add_executable(stagesync_obs_page_tests ${CMAKE_CURRENT_SOURCE_DIR}/obs/status_page_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/status_routes_test.cc)
target_include_directories(stagesync_obs_page_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(stagesync_obs_page_tests PRIVATE stagesync_obs_page stagesync_config
  GTest::gtest_main)
gtest_discover_tests(stagesync_obs_page_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

add_executable(stagesync_obs_page_chromium_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/status_page_chromium_test.cc)
target_include_directories(stagesync_obs_page_chromium_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_obs_page_chromium_tests PRIVATE
  STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}" STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STAGESYNC_TEST_MARIADB_DIR="${STAGESYNC_TEST_MARIADB_DIR}")
target_link_libraries(stagesync_obs_page_chromium_tests PRIVATE stagesync_env stagesync_emulators
  fmt::fmt GTest::gtest_main)
add_dependencies(stagesync_obs_page_chromium_tests stagesync)
gtest_discover_tests(stagesync_obs_page_chromium_tests PROPERTIES LABELS integration
  FIXTURES_REQUIRED mariadb TIMEOUT 120 DISCOVERY_TIMEOUT 60)
