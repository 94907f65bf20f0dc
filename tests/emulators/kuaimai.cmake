# Kuaimai ERP gateway emulator (see kuaimai_emulator.h); included by CMakeLists.txt here.
if(NOT TARGET PkgConfig::OPENSSL_CRYPTO)
  pkg_check_modules(OPENSSL_CRYPTO REQUIRED IMPORTED_TARGET libcrypto)
endif()

add_library(stagesync_emulator_kuaimai STATIC kuaimai_emulator.cc)
target_link_libraries(stagesync_emulator_kuaimai PUBLIC stagesync_emulator_base
  PRIVATE PkgConfig::OPENSSL_CRYPTO)

add_executable(stagesync-emu-kuaimai kuaimai_emulator_main.cc)
target_link_libraries(stagesync-emu-kuaimai PRIVATE stagesync_emulator_kuaimai)
set_target_properties(stagesync-emu-kuaimai PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

add_executable(stagesync_kuaimai_emulator_test kuaimai_emulator_test.cc)
target_link_libraries(stagesync_kuaimai_emulator_test
  PRIVATE stagesync_emulator_kuaimai GTest::gtest_main)
add_test(NAME kuaimai_emulator_test COMMAND stagesync_kuaimai_emulator_test)
set_tests_properties(kuaimai_emulator_test PROPERTIES LABELS unit)
set_property(GLOBAL APPEND PROPERTY STAGESYNC_EMULATOR_LIBS stagesync_emulator_kuaimai)
