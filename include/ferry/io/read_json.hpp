#pragma once
// ferry::io::read_json: a user's JSON file (a mixture, a scheduler config) parsed, or one io_error
// naming the file: read_file's reasons (missing, a directory, empty, ...) or "not valid JSON" with
// nlohmann's position, every input byte it quotes escaped. in_json_context: the same contract for
// the readers that turn the parsed value into an object.
#include <filesystem>
#include <string>
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
