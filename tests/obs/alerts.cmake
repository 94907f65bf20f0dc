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
