// ferry — the command-line front end of the library. Subcommands register themselves (commands.hpp);
// this file only dispatches and turns failures into one line on stderr and an exit code:
//   0 success, 2 a usage error or a ferry::error (bad input, config, file), 1 anything unexpected.
// Every message goes out through ferry::detail::escape, so bytes from the input never reach the
// terminal raw; an unknown option or subcommand gets a "did you mean" from the names that exist.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "commands.hpp"
#include "parse_error.hpp"
#include "ferry/core/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"ferry: generative sampling with ODEs, SDEs and CTMCs"};
  app.name("ferry");
  app.require_subcommand(1);
  ferry::cli::add_commands(app);
  using ferry::detail::escape;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help and friends print and succeed
    std::cerr << ferry::cli::parse_error_line(app, e) << "\n";
    return 2;
  } catch (const ferry::error& e) {
    std::cerr << "ferry: " << escape(e.what()) << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ferry: internal error: " << escape(e.what()) << "\n";
    return 1;
  }
  return 0;
}
