#pragma once
// ferry::io::read_file: the whole of an input file as bytes, or an io_error naming the file and the
// reason (missing, a directory or other non-regular file such as a FIFO or /dev/zero, which could
// block or never end, unreadable, empty). Every reader of user files (.npy, mixture JSON, scheduler
// configs) starts here, so they all fail the same way.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>

#include "ferry/core/error.hpp"

namespace ferry::io {

/// The bytes of the regular file at `path`; `what` says what the file should hold ("a .npy array").
inline std::string read_file(const std::filesystem::path& path, std::string_view what) {
  namespace fs = std::filesystem;
  using ferry::detail::cat;
  const std::string name = ferry::detail::escape(path.string());
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found) throw io_error(cat(name, ": cannot open for reading: no such file"));
  if (ec) throw io_error(cat(name, ": cannot open for reading: ", ec.message()));
  if (st.type() == fs::file_type::directory) throw io_error(cat(name, ": cannot open for reading: is a directory"));
  if (st.type() != fs::file_type::regular) throw io_error(cat(name, ": not a regular file; expected ", what));
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int e = errno;
    throw io_error(cat(name, ": cannot open for reading", e ? cat(": ", std::strerror(e)) : std::string()));
  }
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw io_error(cat(name, ": read error"));
  if (bytes.empty()) throw io_error(cat(name, ": empty file; expected ", what));
  return bytes;
}

}  // namespace ferry::io
