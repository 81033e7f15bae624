#pragma once
// FERRY_TEST_SANITIZED: 1 under AddressSanitizer (g++ says so with __SANITIZE_ADDRESS__, clang with
// __has_feature), where the statistical tests draw fewer samples and alloc_counter.cpp counts through
// ASan's malloc hook; 0 otherwise.
#if defined(__SANITIZE_ADDRESS__)
#define FERRY_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FERRY_TEST_SANITIZED 1
#endif
#endif
#ifndef FERRY_TEST_SANITIZED
#define FERRY_TEST_SANITIZED 0
#endif
