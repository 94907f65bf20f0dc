# stagesync-audit (issue 13): seeds synced into the MariaDB fixture, then audited (library and
# the tool's binary).
add_executable(stagesync_audit_tests audit/audit_test.cc audit/http_audit_test.cc)
target_include_directories(stagesync_audit_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_audit_tests PRIVATE
  STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STAGESYNC_TEST_MARIADB_DIR="${STAGESYNC_TEST_MARIADB_DIR}"
  STAGESYNC_AUDIT_BIN="$<TARGET_FILE:stagesync-audit>")
add_dependencies(stagesync_audit_tests stagesync-audit)
target_link_libraries(stagesync_audit_tests PRIVATE stagesync_audit stagesync_fetch
  stagesync_apply stagesync_emulator_kingdee stagesync_emulator_kuaimai stagesync_emulator_okki
  stagesync_emulators fmt::fmt GTest::gtest_main)
gtest_discover_tests(stagesync_audit_tests PROPERTIES LABELS integration
  FIXTURES_REQUIRED mariadb DISCOVERY_TIMEOUT 60)

# Beside the real agent process (`stagesync run`), which holds the state dir.
add_executable(stagesync_audit_process_tests audit/audit_process_test.cc)
target_include_directories(stagesync_audit_process_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(stagesync_audit_process_tests PRIVATE
  STAGESYNC_BINARY_DIR="${CMAKE_BINARY_DIR}" STAGESYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STAGESYNC_TEST_MARIADB_DIR="${STAGESYNC_TEST_MARIADB_DIR}"
  STAGESYNC_AUDIT_BIN="$<TARGET_FILE:stagesync-audit>")
add_dependencies(stagesync_audit_process_tests stagesync stagesync-audit)
target_link_libraries(stagesync_audit_process_tests PRIVATE stagesync_stage stagesync_env
  stagesync_emulators fmt::fmt GTest::gtest_main)
gtest_discover_tests(stagesync_audit_process_tests PROPERTIES LABELS integration
  FIXTURES_REQUIRED mariadb DISCOVERY_TIMEOUT 60)

add_executable(stagesync_audit_unit_tests audit/values_test.cc audit/chain_test.cc
  audit/outcome_chain_test.cc)
target_include_directories(stagesync_audit_unit_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(stagesync_audit_unit_tests PRIVATE stagesync_audit RocksDB::rocksdb-shared
  GTest::gtest_main)
gtest_discover_tests(stagesync_audit_unit_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
