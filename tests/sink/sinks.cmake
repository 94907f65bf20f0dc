# HTTP sink tests: Yida (and Kingdee Push) over loopback to the emulators, real RocksDB.
add_executable(stagesync_http_sink_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/sink/yida_sink_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/sink/kingdee_push_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/sink/http_sink_lost_reply_test.cc)
target_include_directories(stagesync_http_sink_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_http_sink_tests PRIVATE
  STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STAGESYNC_TEST_MARIADB_DIR="${STAGESYNC_TEST_MARIADB_DIR}")
target_link_libraries(stagesync_http_sink_tests PRIVATE stagesync_fetch stagesync_apply
  stagesync_emulators stagesync_emulator_kingdee stagesync_fault_proxy fmt::fmt GTest::gtest_main)
gtest_discover_tests(stagesync_http_sink_tests PROPERTIES LABELS integration
  FIXTURES_REQUIRED mariadb DISCOVERY_TIMEOUT 60)

add_executable(stagesync_http_sink_crash_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/sink/yida_crash_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/sink/kingdee_crash_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/sink/http_sink_chaos_test.cc)
target_include_directories(stagesync_http_sink_crash_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_http_sink_crash_tests PRIVATE
  STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}" STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STAGESYNC_TEST_MARIADB_DIR="${STAGESYNC_TEST_MARIADB_DIR}")
target_link_libraries(stagesync_http_sink_crash_tests PRIVATE stagesync_stage stagesync_env
  stagesync_emulators stagesync_emulator_kingdee stagesync_fault_proxy fmt::fmt GTest::gtest_main)
add_dependencies(stagesync_http_sink_crash_tests stagesync)
gtest_discover_tests(stagesync_http_sink_crash_tests PROPERTIES LABELS crash DISCOVERY_TIMEOUT 60)

# Seed 003 end to end (OKKI -> Yida), with its SIGKILL loop (label crash via the filter below).
add_executable(stagesync_seed003_tests ${CMAKE_CURRENT_SOURCE_DIR}/sink/seed003_test.cc)
target_include_directories(stagesync_seed003_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_seed003_tests PRIVATE
  STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}" STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STAGESYNC_TEST_MARIADB_DIR="${STAGESYNC_TEST_MARIADB_DIR}")
target_link_libraries(stagesync_seed003_tests PRIVATE stagesync_fetch stagesync_apply
  stagesync_emulators stagesync_emulator_okki fmt::fmt GTest::gtest_main)
add_dependencies(stagesync_seed003_tests stagesync)
gtest_discover_tests(stagesync_seed003_tests TEST_FILTER "Seed003Test.*" PROPERTIES
  LABELS integration DISCOVERY_TIMEOUT 60)
gtest_discover_tests(stagesync_seed003_tests TEST_FILTER "Seed003CrashTest.*" PROPERTIES
  LABELS crash DISCOVERY_TIMEOUT 60)
