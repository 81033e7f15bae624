#pragma once
// Writes a file all-or-nothing: the bytes go to a temporary file in the destination's directory,
// which is renamed over the destination only once everything was written. A reader (or a crash)
// sees either the old file or the complete new one, never a prefix.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

#include "ferry/core/error.hpp"

namespace ferry::io {

/// Writes `bytes` to `path` atomically (temp file in the same directory + rename); io_error on failure.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  namespace fs = std::filesystem;
  if (path.filename().empty()) throw io_error(detail::cat(path.string(), ": not a file name"));
  // Same directory, so the rename stays on one file system (and is atomic on POSIX).
  std::random_device rd;
  const fs::path tmp = path.parent_path() / detail::cat(".", path.filename().string(), ".tmp-", std::hex, rd(), rd());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw io_error(detail::cat(path.string(), ": cannot open for writing (temporary ", tmp.string(), ")"));
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw io_error(detail::cat(path.string(), ": write failed after at most ", bytes.size(), " bytes"));
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw io_error(detail::cat(path.string(), ": cannot rename the temporary file into place: ", ec.message()));
  }
}

}  // namespace ferry::io
