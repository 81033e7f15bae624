// ferry — the command-line front end of the library. Subcommands register themselves (commands.hpp);
// this file only dispatches and turns failures into one line on stderr and an exit code:
//   0 success, 2 a usage error or a ferry::error (bad input, config, file), 1 anything unexpected.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "ferry/core/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"ferry: generative sampling with ODEs, SDEs and CTMCs"};
  app.name("ferry");
  app.require_subcommand(1);
  ferry::cli::add_version_command(app);
  ferry::cli::add_demo_command(app);
  ferry::cli::add_sample_command(app);
  ferry::cli::add_info_command(app);
  ferry::cli::add_likelihood_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help and friends print and succeed
    std::string where = "ferry";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    std::cerr << "ferry: " << e.what() << " (see '" << where << " --help')\n";
    return 2;
  } catch (const ferry::error& e) {
    std::cerr << "ferry: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ferry: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
