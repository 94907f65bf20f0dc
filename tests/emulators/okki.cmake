# OKKI / Xiaoman CRM open-API emulator (see okki_emulator.h); included by CMakeLists.txt here.
add_library(stagesync_emulator_okki STATIC okki_emulator.cc)
target_include_directories(stagesync_emulator_okki PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/..)
target_link_libraries(stagesync_emulator_okki
  PUBLIC PkgConfig::HTTPLIB simdjson::simdjson fmt::fmt Threads::Threads)

add_executable(stagesync-emu-okki okki_emulator_main.cc)
target_link_libraries(stagesync-emu-okki PRIVATE stagesync_emulator_okki)
set_target_properties(stagesync-emu-okki PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

add_executable(stagesync_okki_emulator_test okki_emulator_test.cc)
target_link_libraries(stagesync_okki_emulator_test
  PRIVATE stagesync_emulator_okki GTest::gtest_main)
add_test(NAME okki_emulator_test COMMAND stagesync_okki_emulator_test)
set_tests_properties(okki_emulator_test PROPERTIES LABELS unit)
