# The agent's control API (src/agent/control_server.h) against a fake agent, `stagesync ctl`
# in process, the systemd notifier and conf/systemd/stagesync.service; included by
# tests/CMakeLists.txt. Loopback HTTP on ephemeral ports; each test runs in milliseconds.
add_executable(stagesync_control_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/agent/control_server_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/agent/ctl_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/agent/sd_notify_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/agent/systemd_unit_test.cc)
target_include_directories(stagesync_control_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_control_tests PRIVATE
  STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}" STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}")
target_link_libraries(stagesync_control_tests PRIVATE stagesync_control stagesync_ctl
  PkgConfig::HTTPLIB GTest::gtest_main)
# systemd_unit_test verifies the unit against the built binary.
add_dependencies(stagesync_control_tests stagesync)
gtest_discover_tests(stagesync_control_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
