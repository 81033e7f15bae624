#pragma once
// What every harness asserts about a rejected input: the message is one line of printable ASCII
// (input bytes escaped), so nothing the fuzzer invents can reach a terminal raw.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ferry/core/error.hpp"

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

/// The JSON in [data, data + size), or nothing when it does not parse; then the parser's message,
/// escaped as io::read_json reports it, must be clean.
inline std::optional<nlohmann::json> parse_json(const std::uint8_t* data, std::size_t size) {
  try {
    return nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception& e) {
    require_clean(ferry::detail::escape(e.what()));
    return std::nullopt;
  }
}

}  // namespace ferry_fuzz
