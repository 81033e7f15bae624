// ferry — the command-line front end of the library.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "ferry/ferry.hpp"

int main(int argc, char** argv) {
  CLI::App app{"ferry: generative sampling with ODEs, SDEs and CTMCs"};
  app.require_subcommand(1);
  auto* version = app.add_subcommand("version", "print the library version");
  version->callback([] { std::cout << "ferry " << ferry::version_string << "\n"; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ferry::error& e) {
    std::cerr << "ferry: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
