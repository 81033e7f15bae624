#pragma once
// One include for Catch2 v2 (Debian 12) or v3.
#if FERRY_CATCH3
#include <catch2/catch_approx.hpp>
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
using Catch::Approx;
#else
#include <catch2/catch.hpp>
#endif
