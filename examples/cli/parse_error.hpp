#pragma once
// The one line `ferry` prints for a command line CLI11 rejects: an argument nobody took, with a
// "did you mean" from the option or subcommand names that exist, else CLI11's own message; bytes
// from the command line escaped. Shared by main.cpp and the CLI fuzz harness (tests/fuzz).
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "ferry/core/error.hpp"

namespace ferry::cli {


/// The subcommand the command line reached (the deepest one parsed), or the app itself.
inline const CLI::App* reached(const CLI::App& app) {
  const CLI::App* at = &app;
  for (bool deeper = true; deeper;) {
    deeper = false;
    for (const CLI::App* sub : at->get_subcommands()) {
      at = sub;
      deeper = true;
      break;
    }
  }
  return at;
}

/// "unknown option --stpes (did you mean --steps?)" for the first argument `at` did not take (or "").
inline std::string unknown_argument(const CLI::App& app, const CLI::App& at) {
  for (const CLI::App* a : {&at, &app}) {
    const std::vector<std::string> left = a->remaining(false);
    if (left.empty()) continue;
    const std::string& arg = left.front();
    std::vector<std::string> names;
    if (!arg.empty() && arg[0] == '-') {
      const std::string flag = arg.substr(0, arg.find('='));
      for (const CLI::Option* o : a->get_options()) {
        for (const std::string& l : o->get_lnames()) names.push_back("--" + l);
        for (const std::string& s : o->get_snames()) names.push_back("-" + s);
      }
      return ferry::detail::cat("unknown option ", ferry::detail::escape(flag),
                                ferry::detail::did_you_mean(flag, names, ""));
    }
    for (const CLI::App* sub : a->get_subcommands({})) names.push_back(sub->get_name());
    if (a == &app && a->get_subcommands().empty()) {
      std::string all;
      for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
      return ferry::detail::cat("unknown subcommand \"", ferry::detail::escape(arg), "\"",
                                ferry::detail::did_you_mean(arg, names), "; expected one of ", all);
    }
    return ferry::detail::cat("unexpected argument \"", ferry::detail::escape(arg), "\"");
  }
  return {};
}


/// "ferry: <what is wrong> (see 'ferry <sub> --help')" for a ParseError of `app`, without the newline.
inline std::string parse_error_line(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App& at = *reached(app);
  std::string where = "ferry";
  for (const CLI::App* sub = &at; sub != &app; sub = sub->get_parent()) where.insert(5, " " + sub->get_name());
  // An argument nobody took explains the error better than what CLI11 noticed first
  // (`ferry smaple` is "a subcommand is required" to CLI11).
  std::string what = unknown_argument(app, at);
  if (what.empty()) what = e.what();
  return "ferry: " + ferry::detail::escape(what) + " (see '" + ferry::detail::escape(where) + " --help')";
}

}  // namespace ferry::cli
