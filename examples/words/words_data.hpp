#pragma once
// The word lists of the words example (data/train.txt, data/heldout.txt: one word a line, 2–12
// letters a–z; derived once from Debian's wamerican by make_words.py) and their token rows.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "ferry/core/error.hpp"
#include "ferry/io/read_file.hpp"
#include "words_model.hpp"

namespace words {

struct word_list {
  std::vector<std::string> words;  ///< in file order
  std::unordered_set<std::string> set;
  bool contains(const std::string& w) const { return set.count(w) > 0; }
  std::size_t size() const { return words.size(); }
};

/// One word a line (a final newline optional); every word 1 to max_length letters a–z, no repeats.
inline word_list parse_words(std::string_view text, std::string_view where, std::size_t max_length = 12) {
  word_list list;
  std::size_t line = 0;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    const std::string_view w = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    ++line;
    bool ok = !w.empty() && w.size() <= max_length;
    for (const char c : w) ok = ok && c >= 'a' && c <= 'z';
    if (!ok)
      throw ferry::io_error(ferry::detail::cat(where, ": line ", line, " is \"", ferry::detail::escape(w), "\"; expected 1 to ",
                                               max_length, " letters a-z"));
    if (!list.set.emplace(w).second) throw ferry::io_error(ferry::detail::cat(where, ": line ", line, " repeats \"", w, "\""));
    list.words.emplace_back(w);
  }
  if (list.words.empty()) throw ferry::io_error(ferry::detail::cat(where, ": no words"));
  return list;
}

inline word_list load_words(const std::filesystem::path& path) {
  return parse_words(ferry::io::read_file(path, "a word list"), path.string());
}

/// The words as token rows: N × length, row-major.
inline std::vector<std::int32_t> encode_all(const word_list& list, std::size_t length) {
  std::vector<std::int32_t> t(list.size() * length);
  for (std::size_t i = 0; i < list.size(); ++i) encode(list.words[i], std::span<std::int32_t>(t.data() + i * length, length));
  return t;
}

}  // namespace words
