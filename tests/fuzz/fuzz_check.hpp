#pragma once
// What every harness asserts about a rejected input: the message is one line of printable ASCII
// (input bytes escaped), so nothing the fuzzer invents can reach a terminal raw.
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace ferry_fuzz {

inline void require_clean(std::string_view msg) {
  for (const char ch : msg) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f) {
      std::fprintf(stderr, "unescaped byte 0x%02x in message: %.*s\n", c, int(msg.size()), msg.data());
      std::abort();
    }
  }
}

}  // namespace ferry_fuzz
