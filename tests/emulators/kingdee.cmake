# Kingdee K3Cloud WebAPI emulator (see kingdee_emulator.h); included by CMakeLists.txt here.

add_library(stagesync_emulator_kingdee STATIC kingdee_emulator.cc)
target_link_libraries(stagesync_emulator_kingdee PUBLIC stagesync_emulator_base)

add_executable(stagesync-emu-kingdee kingdee_emulator_main.cc)
target_link_libraries(stagesync-emu-kingdee PRIVATE stagesync_emulator_kingdee)
set_target_properties(stagesync-emu-kingdee PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

add_executable(stagesync_kingdee_emulator_test kingdee_emulator_test.cc)
target_link_libraries(stagesync_kingdee_emulator_test
  PRIVATE stagesync_emulator_kingdee GTest::gtest_main)
add_test(NAME kingdee_emulator_test COMMAND stagesync_kingdee_emulator_test)
set_tests_properties(kingdee_emulator_test PROPERTIES LABELS unit)
set_property(GLOBAL APPEND PROPERTY STAGESYNC_EMULATOR_LIBS stagesync_emulator_kingdee)
