# Alerts (issue 12 item 4): the DingTalk robot emulator, unit tests of the Alerter and its
# delivery over loopback, and the real agent process alerting on a failing pipeline.
add_library(stagesync_robot_emulator STATIC ${CMAKE_CURRENT_SOURCE_DIR}/obs/robot_emulator.cc)
target_include_directories(stagesync_robot_emulator PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(stagesync_robot_emulator PUBLIC stagesync_common PkgConfig::HTTPLIB
  Threads::Threads PRIVATE PkgConfig::OPENSSL_CRYPTO)

add_executable(stagesync_alerts_tests ${CMAKE_CURRENT_SOURCE_DIR}/obs/alerts_test.cc)
target_include_directories(stagesync_alerts_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(stagesync_alerts_tests PRIVATE stagesync_obs_alerts stagesync_robot_emulator
  stagesync_stage fmt::fmt GTest::gtest_main)
gtest_discover_tests(stagesync_alerts_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

add_executable(stagesync_alerts_process_tests ${CMAKE_CURRENT_SOURCE_DIR}/obs/alerts_process_test.cc)
target_include_directories(stagesync_alerts_process_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_alerts_process_tests PRIVATE
  STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}" STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STAGESYNC_TEST_MARIADB_DIR="${STAGESYNC_TEST_MARIADB_DIR}")
target_link_libraries(stagesync_alerts_process_tests PRIVATE stagesync_robot_emulator
  stagesync_env stagesync_emulators fmt::fmt GTest::gtest_main)
add_dependencies(stagesync_alerts_process_tests stagesync)
gtest_discover_tests(stagesync_alerts_process_tests PROPERTIES LABELS integration
  FIXTURES_REQUIRED mariadb DISCOVERY_TIMEOUT 60)
