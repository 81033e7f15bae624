#pragma once
// ferry::io::read_json: a user's JSON file (a mixture, a scheduler config) parsed, or one io_error
// naming the file: read_file's reasons (missing, a directory, empty, ...) or "not valid JSON" with
// nlohmann's position, every input byte it quotes escaped.
#include <filesystem>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ferry/core/error.hpp"
#include "ferry/io/read_file.hpp"

namespace ferry::io {

/// The parsed JSON of the file at `path`; `what` says what it should hold ("a diffusers scheduler_config.json").
inline nlohmann::json read_json(const std::filesystem::path& path, std::string_view what) {
  const std::string bytes = read_file(path, what);
  try {
    return nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::exception& e) {
    throw io_error(ferry::detail::cat(ferry::detail::escape(path.string()), ": not valid JSON (",
                                      ferry::detail::escape(e.what()), ")"));
  }
}

}  // namespace ferry::io
