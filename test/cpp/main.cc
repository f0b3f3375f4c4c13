// doctest entry point for the C++ suite (ctest runs bitflash_tests).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
