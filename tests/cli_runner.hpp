#pragma once
// Runs the built `ferry` binary from tests: a scratch directory, shell quoting, captured output.
#ifdef FERRY_CLI_PATH
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "test_support.hpp"

namespace ferry_test {
namespace fs = std::filesystem;

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The path in single quotes for the shell (built by appending: GCC 12 warns falsely on "'" + std::string).
inline std::string quoted(const fs::path& p) {
  std::string s(1, '\'');
  s += p.string();
  s += '\'';
  return s;
}

struct run_result {
  int code = -1;
  std::string out, err;
};

/// Runs the ferry binary with `args` (already shell-quoted where needed), capturing stdout and stderr.
inline run_result run_cli(const std::string& args, const scratch_dir& io) {
  const fs::path out = io.path / "stdout.txt", err = io.path / "stderr.txt";
  std::string cmd = quoted(FERRY_CLI_PATH);
  cmd += ' ';
  cmd += args;
  cmd += " >" + quoted(out) + " 2>" + quoted(err);
  const int status = std::system(cmd.c_str());
  run_result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

inline std::size_t count_lines(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace ferry_test
#endif
