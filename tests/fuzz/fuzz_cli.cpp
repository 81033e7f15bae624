// libFuzzer harness: the ferry command-line parser. The input, split at NUL bytes, is argv after
// "ferry"; the subcommands are registered with run = false, so nothing runs and no file is touched
// (their callbacks stay in place: they own the options the parser writes into). Every
// rejected command line must give one clean line (parse_error_line, as main prints it).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "commands.hpp"
#include "fuzz_check.hpp"
#include "parse_error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args;
  std::string cur;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += char(data[i]);
    }
  }
  args.push_back(cur);
  if (args.size() > 64) return 0;
  std::vector<const char*> argv{"ferry"};
  for (const std::string& a : args) argv.push_back(a.c_str());

  CLI::App app{"ferry"};
  app.name("ferry");
  app.require_subcommand(1);
  ferry::cli::add_commands(app, /*run=*/false);  // parse and validate only: nothing runs, no file is touched
  try {
    app.parse(int(argv.size()), const_cast<char**>(argv.data()));
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      const std::string line = ferry::cli::parse_error_line(app, e);
      ferry_fuzz::require_clean(line);
    }
  }
  return 0;
}
