# Tests of the Kingdee, Kuaimai and OKKI sources; included by tests/CMakeLists.txt.

# Integration: real HTTP over loopback to the vendor emulators, real RocksDB.
# Every source/<vendor>_fetch_test.cc against every emulator library the emulator fragments
# registered (DingTalk's fetch test runs in stagesync_integration_tests).
file(GLOB STAGESYNC_FETCH_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/source/*_fetch_test.cc)
list(FILTER STAGESYNC_FETCH_TESTS EXCLUDE REGEX "/dingtalk_fetch_test\\.cc$")
get_property(STAGESYNC_EMULATOR_LIBS GLOBAL PROPERTY STAGESYNC_EMULATOR_LIBS)
add_executable(stagesync_source_tests ${STAGESYNC_FETCH_TESTS})
target_include_directories(stagesync_source_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_source_tests PRIVATE
  STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(stagesync_source_tests PRIVATE stagesync_fetch ${STAGESYNC_EMULATOR_LIBS}
  fmt::fmt GTest::gtest_main)
gtest_discover_tests(stagesync_source_tests PROPERTIES LABELS integration DISCOVERY_TIMEOUT 60)

# Seeds 002 and 004 end to end: emulator -> staging -> MySQL sink -> MariaDB (the fixture).
add_executable(stagesync_source_mysql_tests source/seeds_mysql_test.cc)
target_include_directories(stagesync_source_mysql_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_source_mysql_tests PRIVATE
  STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STAGESYNC_TEST_MARIADB_DIR="${STAGESYNC_TEST_MARIADB_DIR}")
target_link_libraries(stagesync_source_mysql_tests PRIVATE stagesync_fetch stagesync_apply
  stagesync_emulator_kingdee stagesync_emulator_kuaimai fmt::fmt GTest::gtest_main)
gtest_discover_tests(stagesync_source_mysql_tests PROPERTIES LABELS integration
  FIXTURES_REQUIRED mariadb DISCOVERY_TIMEOUT 60)

# Crash: SIGKILL the real `stagesync fetch` of each source, then check staging.
add_executable(stagesync_source_crash_tests source/sources_crash_test.cc)
target_include_directories(stagesync_source_crash_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_source_crash_tests PRIVATE
  STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}"
  STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(stagesync_source_crash_tests PRIVATE stagesync_stage stagesync_env
  stagesync_config stagesync_emulator_kingdee stagesync_emulator_kuaimai stagesync_emulator_okki
  fmt::fmt GTest::gtest_main)
add_dependencies(stagesync_source_crash_tests stagesync)
gtest_discover_tests(stagesync_source_crash_tests PROPERTIES LABELS crash DISCOVERY_TIMEOUT 60)

# The real binary against the emulators: config validated before any work, check --connect,
# a Kuaimai fetch cut short resuming inside its window.
add_executable(stagesync_cli_tests source/cli_test.cc)
target_include_directories(stagesync_cli_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_cli_tests PRIVATE
  STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}"
  STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(stagesync_cli_tests PRIVATE stagesync_stage stagesync_env stagesync_config
  stagesync_emulators stagesync_emulator_kingdee stagesync_emulator_kuaimai
  stagesync_emulator_okki fmt::fmt GTest::gtest_main)
add_dependencies(stagesync_cli_tests stagesync)
gtest_discover_tests(stagesync_cli_tests PROPERTIES LABELS integration DISCOVERY_TIMEOUT 60)
