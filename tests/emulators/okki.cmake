# OKKI / Xiaoman CRM open-API emulator (see okki_emulator.h); included by CMakeLists.txt here.
add_library(stagesync_emulator_okki STATIC okki_emulator.cc)
target_link_libraries(stagesync_emulator_okki PUBLIC stagesync_emulator_base)

add_executable(stagesync-emu-okki okki_emulator_main.cc)
target_link_libraries(stagesync-emu-okki PRIVATE stagesync_emulator_okki)
set_target_properties(stagesync-emu-okki PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

add_executable(stagesync_okki_emulator_test okki_emulator_test.cc)
target_link_libraries(stagesync_okki_emulator_test
  PRIVATE stagesync_emulator_okki GTest::gtest_main)
add_test(NAME okki_emulator_test COMMAND stagesync_okki_emulator_test)
set_tests_properties(okki_emulator_test PROPERTIES LABELS unit)
set_property(GLOBAL APPEND PROPERTY STAGESYNC_EMULATOR_LIBS stagesync_emulator_okki)
