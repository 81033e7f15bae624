// `ferry version`
#include <iostream>

#include "commands.hpp"
#include "ferry/core/version.hpp"
#include "ferry/simd/kernels.hpp"

namespace ferry::cli {

void add_version_command(CLI::App& app, bool run) {
  auto* cmd = app.add_subcommand("version", "print the library version");
  cmd->callback([run] {
    if (run) std::cout << "ferry " << ferry::version_string << "\nsimd: " << ferry::simd::active_isa_name() << "\n";
  });
}

}  // namespace ferry::cli
