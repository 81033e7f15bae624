// End-to-end tests of the `ferry` CLI binary (built when the examples are): exit codes, output,
// files it writes, and the one-line errors it prints.
#include "catch.hpp"

#ifdef FERRY_CLI_PATH
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli_runner.hpp"
#include "ferry/core/version.hpp"
#include "ferry/runtime/solver_settings.hpp"
#include "ferry/simd/kernels.hpp"

namespace test_cli {

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
/// The rows of a CSV text after its header, each as its comma-separated fields and its text.
std::vector<std::pair<std::vector<std::string>, std::string>> csv_rows(const std::string& csv) {
  std::vector<std::pair<std::vector<std::string>, std::string>> rows;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string v; std::getline(fields, v, ',');) f.push_back(v);
    rows.emplace_back(std::move(f), line);
  }
  return rows;
}

std::vector<demo_row> parse_results(const std::string& csv) {
  std::vector<demo_row> rows;
  for (auto [f, line] : csv_rows(csv)) {
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

/// A row of the demo's discrete.csv (the exact-sample floor has sampler "exact").
struct discrete_row {
  std::string sampler;
  std::size_t steps = 0, nfe_max = 0;
  double tv = 0;
};
std::vector<discrete_row> parse_discrete(const std::string& csv) {
  std::vector<discrete_row> rows;
  for (const auto& [f, line] : csv_rows(csv)) {
    REQUIRE(f.size() == 5);
    rows.push_back({f[0], f[1].empty() ? 0 : std::stoul(f[1]), f[2].empty() ? 0 : std::stoul(f[2]), std::stod(f[4])});
  }
  return rows;
}

std::uint32_t big_endian32(const std::string& b, std::size_t at) {
  return std::uint32_t(std::uint8_t(b[at])) << 24 | std::uint32_t(std::uint8_t(b[at + 1])) << 16 |
         std::uint32_t(std::uint8_t(b[at + 2])) << 8 | std::uint32_t(std::uint8_t(b[at + 3]));
}

/// A PNG file: the signature, an IHDR chunk first (8-bit RGB, at least min_w × min_h), chunks whose
/// lengths walk exactly to an IEND chunk at the end, and at least one IDAT chunk.
void check_png(const fs::path& path, std::uint32_t min_w = 400, std::uint32_t min_h = 300) {
  INFO(path.string());
  const std::string b = slurp(path);
  REQUIRE(b.size() > 1000);
  REQUIRE(b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  REQUIRE(b.compare(12, 4, "IHDR") == 0);
  CHECK(big_endian32(b, 16) >= min_w);
  CHECK(big_endian32(b, 20) >= min_h);
  CHECK(int(b[24]) == 8);  // bit depth
  CHECK(int(b[25]) == 2);  // colour type RGB
  std::size_t at = 8, idat = 0;
  std::string last;
  while (at + 12 <= b.size()) {
    const std::size_t len = big_endian32(b, at);
    last = b.substr(at + 4, 4);
    idat += last == "IDAT";
    at += 12 + len;
  }
  CHECK(at == b.size());
  CHECK(last == "IEND");
  CHECK(idat >= 1);
}

constexpr const char* demo_pngs[] = {"samples.png", "ode_error_vs_nfe.png", "sde_error_vs_nfe.png", "trajectories.png",
                                     "discrete_tv.png"};
}  // namespace

TEST_CASE("ferry version prints the library version and the SIMD path", "[cli]") {
  scratch_dir dir;
  const run_result r = run_cli("version", dir);
  CHECK(r.code == 0);
  // the CLI and this test pick their path the same way (the CPU, or FERRY_ISA)
  CHECK(r.out == std::string("ferry ") + ferry::version_string + "\nsimd: " + ferry::simd::active_isa_name() + "\n");
  CHECK(r.err.empty());
}

TEST_CASE("ferry demo runs every sampler, writes its tables and figures, and errors shrink with steps", "[cli][demo]") {
  scratch_dir dir;
  const fs::path out_dir = dir.path / "demo";  // created by the demo
  const run_result r = run_cli("demo --n 400 --threads 2 --out " + quoted(out_dir), dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  for (const char* png : demo_pngs) check_png(out_dir / png);
  CHECK(fs::exists(out_dir / "results.md"));
  CHECK(fs::exists(out_dir / "discrete.md"));
  CHECK(std::distance(fs::directory_iterator(out_dir), fs::directory_iterator()) == 13);  // no temporary left
  CHECK(r.out.find("| dpmpp-2m | ode | 16 |") != std::string::npos);  // the markdown table is printed too

  // The words part: every masked sampler and the T = 0.5 decoder at 4 step counts, N words a row.
  check_png(out_dir / "words_valid_rate.png");
  CHECK(fs::exists(out_dir / "words.md"));
  const std::string words_csv = slurp(out_dir / "words.csv");
  CHECK(words_csv.rfind("sampler,steps,nfe,valid_rate,heldout_rate,nelbo_bpc\n", 0) == 0);
  CHECK(std::count(words_csv.begin(), words_csv.end(), '\n') == 1 + 8 * 4);
  CHECK(words_csv.find("\nconfidence (T=0.5),32,32,") != std::string::npos);
  const std::string tsv = slurp(out_dir / "words_samples.tsv");
  CHECK(std::count(tsv.begin(), tsv.end(), '\n') == std::ptrdiff_t(1 + 8 * 4 * 400));  // a header, a line per word
  CHECK(r.out.find("| confidence (T=0.5) | 32 |") != std::string::npos);

  const std::vector<demo_row> rows = parse_results(slurp(out_dir / "results.csv"));
  const std::size_t samplers = ferry::solver_names.size() + 2;  // every registry name, euler/heun with churn
  REQUIRE(rows.size() == samplers * 5 + 1);                     // at 5 step counts; the floor
  const demo_row floor = rows.back();
  REQUIRE(floor.kind == "exact");
  std::map<std::string, std::vector<demo_row>> by_sampler;
  for (const auto& row : rows)
    if (row.kind != "exact") by_sampler[row.sampler].push_back(row);
  REQUIRE(by_sampler.size() == samplers);
  for (const char* name : {"euler", "heun", "midpoint", "rk4", "dopri5 tol 1e-3", "ddim", "dpmpp-2m", "unipc", "lms"})
    CHECK(by_sampler[name].front().kind == "ode");
  for (const char* name : {"ddpm", "euler-ancestral", "lcm", "tcd", "euler-maruyama", "pc-langevin", "flow-sde", "dpmpp-sde",
                           "dpmpp-2m-sde", "dpmpp-3m-sde", "dpmpp-2s-ancestral", "euler churn 40", "heun churn 40"})
    CHECK(by_sampler[name].front().kind == "sde");
  CHECK(rows.front().kind == "ode");  // deterministic samplers first
  for (const auto& [name, runs] : by_sampler) {
    INFO(name);
    REQUIRE(runs.size() == 5);  // 4, 8, 16, 32, 64 steps
    CHECK(runs.front().steps == 4);
    CHECK(runs.back().nfe >= 64);
    // LCM's boundary condition is a distilled model's (diffusers' timestep scale), and PC Langevin's
    // corrector has its own bias: neither converges to p0 on the exact EDM denoiser.
    if (name == "lcm" || name == "pc-langevin") continue;
    // At 64 steps every other sampler's samples are as close to p0 as exact samples are, up to a
    // factor that covers the remaining discretisation bias and the noise of 400 samples.
    CHECK(runs.back().sw1 < 2 * floor.sw1);
    if (name.rfind("dopri5", 0) != 0) CHECK(runs.back().sw1 < runs.front().sw1);  // dopri5: set by its tolerance, at the floor throughout
    if (runs.back().kind == "ode") {
      CHECK(runs.back().endpoint < runs[1].endpoint);  // 64 steps against 8
      CHECK(runs.back().endpoint < 0.07);
    }
  }
  // Fourth order: 32 → 64 steps shrinks RK4's endpoint error by about 2⁴.
  const auto& rk4 = by_sampler.at("rk4");
  CHECK(rk4[3].endpoint / rk4[4].endpoint > 8);
  CHECK(rk4[4].endpoint < 1e-3);

  // The discrete part: 4000 samples of the masked diffusion.
  const std::vector<discrete_row> d = parse_discrete(slurp(out_dir / "discrete.csv"));
  REQUIRE(d.size() == 5 * 6 + 1 + 1);  // 5 samplers at K = 2 … 64, first-hitting once, the floor
  REQUIRE(d.back().sampler == "exact");
  std::map<std::string, std::vector<discrete_row>> by_discrete;
  for (const auto& row : d) by_discrete[row.sampler].push_back(row);
  for (const char* name : {"ancestral", "euler", "tau-leaping", "pc", "confidence"}) {
    INFO(name);
    REQUIRE(by_discrete[name].size() == 6);
    CHECK(by_discrete[name].front().steps == 2);
    CHECK(by_discrete[name].back().steps == 64);
  }
  // 2-step ancestral is 0.148 from p0 in law (docs/discrete.md); at 64 steps it is near the floor,
  // and first-hitting (L = 4 events) is exact.
  CHECK(by_discrete["ancestral"].front().tv > 0.12);
  CHECK(by_discrete["ancestral"].back().tv < 0.5 * by_discrete["ancestral"].front().tv);
  REQUIRE(by_discrete["first-hitting"].size() == 1);
  CHECK(by_discrete["first-hitting"][0].steps == 4);
  CHECK(by_discrete["first-hitting"][0].tv < 2 * d.back().tv);
  CHECK(by_discrete["ancestral"].back().nfe_max <= 5);  // caching: about L model calls
}

TEST_CASE("ferry demo --quick writes a table row per sampler and step count and valid PNGs, the same for any thread count",
          "[cli][demo]") {
  scratch_dir dir;
  const run_result a = run_cli("demo --quick --n 200 --seed 7 --threads 1 --out " + quoted(dir.path / "a"), dir);
  const run_result b = run_cli("demo --quick --n 200 --seed 7 --threads 2 --out " + quoted(dir.path / "b"), dir);
  const run_result c = run_cli("demo --quick --n 200 --seed 8 --out " + quoted(dir.path / "c"), dir);
  INFO(a.err);
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  REQUIRE(c.code == 0);
  CHECK(a.out.find("200 samples") != std::string::npos);

  // A row per sampler and step count, in the CSV and the markdown table alike.
  const fs::path out_dir = dir.path / "a";
  const std::vector<demo_row> rows = parse_results(slurp(out_dir / "results.csv"));
  REQUIRE(rows.size() == (ferry::solver_names.size() + 2) * 5 + 1);
  std::map<std::string, std::vector<std::size_t>> steps;
  for (const auto& row : rows)
    if (row.kind != "exact") steps[row.sampler].push_back(row.steps);
  CHECK(steps.size() == ferry::solver_names.size() + 2);
  for (const auto& [name, s] : steps) CHECK(s == std::vector<std::size_t>{4, 8, 16, 32, 64});
  CHECK(count_lines(slurp(out_dir / "results.md")) == 2 + rows.size());  // header, rule, rows
  CHECK(parse_discrete(slurp(out_dir / "discrete.csv")).size() == 32);
  CHECK(count_lines(slurp(out_dir / "discrete.md")) == 2 + 32);
  for (const char* png : demo_pngs) check_png(out_dir / png);

  // Deterministic for a seed, whatever the thread count.
  const auto csv = [&](const char* d) { return without_times(parse_results(slurp(dir.path / d / "results.csv"))); };
  CHECK(csv("a") == csv("b"));
  CHECK(csv("a") != csv("c"));
  CHECK(slurp(dir.path / "a" / "discrete.csv") == slurp(dir.path / "b" / "discrete.csv"));
  CHECK(slurp(dir.path / "a" / "discrete.csv") != slurp(dir.path / "c" / "discrete.csv"));
  for (const char* png : demo_pngs) {
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

}  // namespace test_cli
#endif  // FERRY_CLI_PATH
