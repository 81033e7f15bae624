#pragma once
// ferry::error and its subclasses: every exception ferry throws derives from ferry::error, and its
// message is one line naming where, what was given and what is accepted.
#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry {

struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// A configuration key or option with a bad or unsupported value.
struct config_error : error { using error::error; };
/// A batch, array or file whose shape does not fit.
struct shape_error : error { using error::error; };
/// A file that cannot be read, written or parsed.
struct io_error : error { using error::error; };
/// A numeric argument outside the domain where the formula is defined.
struct domain_error : error { using error::error; };
/// A non-finite value produced while sampling.
struct numeric_error : error { using error::error; };

namespace detail {
/// Concatenates its arguments with operator<< (GCC 12 has no <format>).
template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  os.precision(17);
  (os << ... << std::forward<Args>(args));
  return os.str();
}

/// Text from an input (a file's bytes, a JSON string, an argument) made safe to print on one line:
/// printable ASCII stays, backslash included; every other byte (control characters, newlines,
/// bytes ≥ 0x80, so also UTF-8) becomes \xNN. Escaping escaped text changes nothing, so every
/// message that quotes input goes through this, and the CLI passes each message through it once more.
inline std::string escape(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

/// Levenshtein distance (insertions, deletions, substitutions), for "did you mean" suggestions.
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

/// " (did you mean "x"?)" for the candidate closest to `given` in edit distance, or "" when none is
/// close: within max(1, min(3, ⌈|given|/3⌉)) edits (a typo, a swapped pair, a missing letter).
template <class Names>
std::string did_you_mean(std::string_view given, const Names& candidates, std::string_view quote = "\"") {
  std::string_view best;
  std::size_t best_d = std::max<std::size_t>(1, std::min<std::size_t>(3, (given.size() + 2) / 3)) + 1;
  for (const auto& c : candidates) {
    const std::string_view name(c);
    const std::size_t d = edit_distance(given, name);
    if (d < best_d) best_d = d, best = name;
  }
  if (best.empty()) return {};
  return cat(" (did you mean ", quote, best, quote, "?)");
}
inline std::string did_you_mean(std::string_view given, std::initializer_list<std::string_view> candidates,
                                std::string_view quote = "\"") {
  return did_you_mean(given, std::vector<std::string_view>(candidates), quote);
}
}  // namespace detail

}  // namespace ferry
