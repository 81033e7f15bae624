// End-to-end tests of the `ferry` CLI binary (built when the examples are): exit codes, output,
// files it writes, and the one-line errors it prints.
#include "catch.hpp"

#ifdef FERRY_CLI_PATH
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "ferry/core/version.hpp"

namespace fs = std::filesystem;

using namespace ferry_test;

namespace {

/// A row of the demo's results.csv (the exact-sample floor has kind "exact").
struct demo_row {
  std::string sampler, kind;
  std::size_t steps = 0, nfe = 0;
  double sw1 = 0, nll_gap = 0, endpoint = -1;  // endpoint: −1 where the CSV leaves it empty (SDE)
  std::string without_time;                    // the row less its wall-time column
};
std::vector<demo_row> parse_results(const std::string& csv) {
  std::vector<demo_row> rows;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string v; std::getline(fields, v, ',');) f.push_back(v);
    while (f.size() < 8) f.emplace_back();
    demo_row r;
    r.sampler = f[0], r.kind = f[1];
    r.steps = f[2].empty() ? 0 : std::stoul(f[2]);
    r.nfe = f[3].empty() ? 0 : std::stoul(f[3]);
    r.sw1 = std::stod(f[4]), r.nll_gap = std::stod(f[5]);
    r.endpoint = f[6].empty() ? -1 : std::stod(f[6]);
    r.without_time = line.substr(0, line.rfind(','));
    rows.push_back(r);
  }
  return rows;
}
std::string without_times(const std::vector<demo_row>& rows) {
  std::string s;
  for (const auto& r : rows) s += r.without_time + "\n";
  return s;
}
}  // namespace

TEST_CASE("ferry version prints the library version", "[cli]") {
  scratch_dir dir;
  const run_result r = run_cli("version", dir);
  CHECK(r.code == 0);
  CHECK(r.out == std::string("ferry ") + ferry::version_string + "\n");
  CHECK(r.err.empty());
}

TEST_CASE("ferry demo runs every sampler, writes its tables and figures, and errors shrink with steps", "[cli][demo]") {
  scratch_dir dir;
  const fs::path out_dir = dir.path / "demo";  // created by the demo
  const run_result r = run_cli("demo --n 400 --threads 2 --out " + quoted(out_dir), dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  for (const char* png : {"samples.png", "error_vs_nfe.png", "trajectories.png"}) {
    const std::string bytes = slurp(out_dir / png);
    REQUIRE(bytes.size() > 1000);
    CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  }
  CHECK(fs::exists(out_dir / "results.md"));
  CHECK(std::distance(fs::directory_iterator(out_dir), fs::directory_iterator()) == 5);  // no temporary left
  CHECK(r.out.find("| dpmpp-2m | ode | 16 |") != std::string::npos);  // the markdown table is printed too

  const std::vector<demo_row> rows = parse_results(slurp(out_dir / "results.csv"));
  REQUIRE(rows.size() > 10);
  const demo_row floor = rows.back();
  REQUIRE(floor.kind == "exact");
  std::map<std::string, std::vector<demo_row>> by_sampler;
  for (const auto& row : rows)
    if (row.kind != "exact") by_sampler[row.sampler].push_back(row);
  for (const char* name : {"euler", "heun", "rk4", "dpmpp-2m", "unipc", "lms"}) CHECK(by_sampler.count(name) == 1);
  for (const auto& [name, runs] : by_sampler) {
    INFO(name);
    REQUIRE(runs.size() == 5);  // 4, 8, 16, 32, 64 steps
    CHECK(runs.front().steps == 4);
    CHECK(runs.back().nfe >= 64);
    // At 64 steps every sampler's samples are as close to p0 as exact samples are, up to a factor
    // that covers the remaining discretisation bias and the noise of 400 samples.
    CHECK(runs.back().sw1 < 2 * floor.sw1);
    CHECK(runs.back().sw1 < runs.front().sw1);
    if (runs.back().kind == "ode") {
      CHECK(runs.back().endpoint < runs[1].endpoint);  // 64 steps against 8
      CHECK(runs.back().endpoint < 0.07);
    }
  }
  // Fourth order: 32 → 64 steps shrinks RK4's endpoint error by about 2⁴.
  const auto& rk4 = by_sampler.at("rk4");
  CHECK(rk4[3].endpoint / rk4[4].endpoint > 8);
  CHECK(rk4[4].endpoint < 1e-3);
}

TEST_CASE("ferry demo is deterministic for a seed, whatever the thread count", "[cli][demo]") {
  scratch_dir dir;
  const run_result a = run_cli("demo --n 200 --seed 7 --threads 1 --out " + quoted(dir.path / "a"), dir);
  const run_result b = run_cli("demo --n 200 --seed 7 --threads 2 --out " + quoted(dir.path / "b"), dir);
  const run_result c = run_cli("demo --n 200 --seed 8 --out " + quoted(dir.path / "c"), dir);
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  REQUIRE(c.code == 0);
  const auto csv = [&](const char* d) { return without_times(parse_results(slurp(dir.path / d / "results.csv"))); };
  CHECK(csv("a") == csv("b"));
  CHECK(csv("a") != csv("c"));
  for (const char* png : {"samples.png", "error_vs_nfe.png", "trajectories.png"}) {
    CHECK(slurp(dir.path / "a" / png) == slurp(dir.path / "b" / png));
    CHECK(slurp(dir.path / "a" / png) != slurp(dir.path / "c" / png));
  }
}

TEST_CASE("ferry reports bad input in one line with exit code 2 and writes nothing", "[cli]") {
  scratch_dir dir;
  const fs::path out_dir = dir.path / "out";
  auto check_failure = [&](const std::string& args, const std::string& mentions) {
    const run_result r = run_cli(args, dir);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.rfind("ferry: ", 0) == 0);
    CHECK(r.err.find(mentions) != std::string::npos);
    CHECK(!fs::exists(out_dir / "results.csv"));
  };

  SECTION("an unknown flag") { check_failure("demo --out " + quoted(out_dir) + " --bogus", "--bogus"); }
  SECTION("no subcommand") { check_failure("", "subcommand"); }
  SECTION("--n out of range") { check_failure("demo --n 1 --out " + quoted(out_dir), "--n"); }
  SECTION("a --gmm file that does not exist") {
    check_failure("demo --gmm " + quoted(dir.path / "missing.json") + " --out " + quoted(out_dir), "missing.json");
  }
  SECTION("a --gmm file that is not JSON") {
    std::ofstream(dir.path / "broken.json") << "{\"weights\": [1], \"means\": [[0, 0]";
    check_failure("demo --gmm " + quoted(dir.path / "broken.json") + " --out " + quoted(out_dir), "broken.json");
  }
  SECTION("a --gmm mixture with a bad key") {
    std::ofstream(dir.path / "nostd.json") << R"({"weights": [1], "means": [[0, 0]]})";
    check_failure("demo --gmm " + quoted(dir.path / "nostd.json") + " --out " + quoted(out_dir), "stds");
  }
  SECTION("a --gmm mixture that is not 2-D") {
    std::ofstream(dir.path / "g3.json") << R"({"weights": [1], "means": [[0, 0, 0]], "stds": [[1, 1, 1]]})";
    check_failure("demo --gmm " + quoted(dir.path / "g3.json") + " --out " + quoted(out_dir), "dimension 3");
  }
}

#endif  // FERRY_CLI_PATH
