#pragma once
// ferry::io::read_json: a user's JSON file (a mixture, a scheduler config) parsed, or one io_error
// naming the file: read_file's reasons (missing, a directory, empty, ...) or "not valid JSON" with
// nlohmann's position, every input byte it quotes escaped. in_json_context: the same contract for
// the readers that turn the parsed value into an object.
//
// Python's json.dumps (and so diffusers' save_config) writes the non-finite floats as the bare words
// NaN, Infinity and -Infinity, which JSON does not have (PixArt-α ships "lambda_min_clipped":
// -Infinity). json_literals::python reads them as the doubles they stand for; only scheduler configs
// ask for it, model files stay strict JSON.
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ferry/core/error.hpp"
#include "ferry/io/read_file.hpp"

namespace ferry::io {

/// Which non-JSON literals a reader accepts: none (strict JSON), or Python json's NaN, Infinity, -Infinity.
enum class json_literals { strict, python };

}  // namespace ferry::io

namespace ferry::detail {

// Each Python literal in value position becomes a JSON string no file can hold as text (it starts
// with an escaped NUL), restored to its double after parsing.
inline constexpr std::string_view python_json_words[] = {"-Infinity", "Infinity", "NaN"};
inline std::string python_json_sentinel(std::size_t word) { return std::string("\"\\u0000ferry:") + std::string(python_json_words[word]) + "\""; }

/// The text with every NaN / Infinity / -Infinity outside strings, standing as a whole value, replaced
/// by its sentinel; `found` tells whether there was any.
inline std::string mark_python_json_literals(std::string_view text, bool& found) {
  std::string out;
  out.reserve(text.size());
  found = false;
  std::string open;          // the enclosing '{' and '[' (a bare word is a value in an array, or after ':')
  char last = 0;             // the last structural character outside strings
  bool in_string = false;
  auto delimiter = [](char c) { return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') open += c;
    if ((c == '}' || c == ']') && !open.empty()) open.pop_back();
    const bool value_position = last == ':' || last == 0 || (!open.empty() && open.back() == '[' && (last == '[' || last == ','));
    bool replaced = false;
    for (std::size_t w = 0; w < std::size(python_json_words) && value_position && !replaced; ++w) {
      const std::string_view word = python_json_words[w];
      const std::size_t end = i + word.size();
      if (text.substr(i, word.size()) == word && (end == text.size() || delimiter(text[end]))) {
        out += python_json_sentinel(w);
        i = end;
        replaced = found = true;
        last = 'v';
      }
    }
    if (replaced) continue;
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') last = c;
    out += text[i++];
  }
  return out;
}

inline void restore_python_json_literals(nlohmann::json& j) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s.size() > 6 && s[0] == '\0' && s.compare(1, 6, "ferry:") == 0) {
      const std::string_view word = std::string_view(s).substr(7);
      if (word == "NaN") j = std::numeric_limits<double>::quiet_NaN();
      else if (word == "Infinity") j = std::numeric_limits<double>::infinity();
      else if (word == "-Infinity") j = -std::numeric_limits<double>::infinity();
    }
  } else if (j.is_structured()) {
    for (auto& v : j) restore_python_json_literals(v);
  }
}

}  // namespace ferry::detail

namespace ferry::io {

/// The JSON value of `text`; with json_literals::python also Python's NaN, Infinity and -Infinity.
/// Throws nlohmann's parse_error as nlohmann::json::parse does.
inline nlohmann::json parse_json_text(std::string_view text, json_literals literals = json_literals::strict) {
  if (literals == json_literals::strict) return nlohmann::json::parse(text);
  bool found = false;
  const std::string marked = ferry::detail::mark_python_json_literals(text, found);
  if (!found) return nlohmann::json::parse(text);
  nlohmann::json j = nlohmann::json::parse(marked);
  ferry::detail::restore_python_json_literals(j);
  return j;
}

/// The parsed JSON of the file at `path`; `what` says what it should hold ("a diffusers scheduler_config.json").
inline nlohmann::json read_json(const std::filesystem::path& path, std::string_view what,
                                json_literals literals = json_literals::strict) {
  const std::string bytes = read_file(path, what);
  try {
    return parse_json_text(bytes, literals);
  } catch (const nlohmann::json::exception& e) {
    throw io_error(ferry::detail::cat(ferry::detail::escape(path.string()), ": not valid JSON (",
                                      ferry::detail::escape(e.what()), ")"));
  }
}

/// Runs `parse` (which reads a JSON value into an object) so that every failure names `where`:
/// nlohmann's type and key errors become a config_error "where: …" (escaped), and a ferry::error
/// whose message does not start with `where` gets it as a prefix (keeping io/shape/domain errors'
/// own message).
template <class F>
decltype(auto) in_json_context(const std::string& where, F&& parse) {
  try {
    return parse();
  } catch (const nlohmann::json::exception& e) {
    throw config_error(ferry::detail::cat(where, ": ", ferry::detail::escape(e.what())));
  } catch (const error& e) {
    const std::string msg = e.what();
    if (msg.rfind(where, 0) == 0) throw;
    throw config_error(ferry::detail::cat(where, ": ", msg));
  }
}

}  // namespace ferry::io
