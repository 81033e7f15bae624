// End-to-end tests of the `ferry` CLI binary (built when the examples are): exit codes, output,
// files it writes, and the one-line errors it prints.
#include "catch.hpp"

#ifdef FERRY_CLI_PATH
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "ferry/core/version.hpp"

namespace fs = std::filesystem;

using namespace ferry_test;

namespace {

/// The demo table's rows: label → {SW1, NLL gap}.
struct table_row {
  std::string label;
  double sw1 = 0, nll_gap = 0;
};
std::vector<table_row> parse_table(const std::string& out) {
  std::vector<table_row> rows;
  std::istringstream in(out);
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.find("steps") != std::string::npos && line.find("SW1") != std::string::npos) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.empty()) break;
    std::istringstream f(line);
    table_row r;
    std::string nfe;
    f >> r.label >> nfe >> r.sw1 >> r.nll_gap;
    if (f) rows.push_back(r);
  }
  return rows;
}

}  // namespace

TEST_CASE("ferry version prints the library version", "[cli]") {
  scratch_dir dir;
  const run_result r = run_cli("version", dir);
  CHECK(r.code == 0);
  CHECK(r.out == std::string("ferry ") + ferry::version_string + "\n");
  CHECK(r.err.empty());
}

TEST_CASE("ferry demo samples the mixture, errors shrink with steps, and it writes a PNG", "[cli]") {
  scratch_dir dir;
  const fs::path out_dir = dir.path / "plots";  // created by the demo
  const run_result r = run_cli("demo --out " + quoted(out_dir), dir);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());

  const fs::path png = out_dir / "demo.png";
  REQUIRE(fs::exists(png));
  const std::string bytes = slurp(png);
  REQUIRE(bytes.size() > 1000);
  CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  CHECK(bytes.compare(12, 4, "IHDR") == 0);
  CHECK(std::distance(fs::directory_iterator(out_dir), fs::directory_iterator()) == 1);  // no temporary left
  CHECK(r.out.find("wrote " + png.string()) != std::string::npos);

  const std::vector<table_row> rows = parse_table(r.out);
  REQUIRE(rows.size() == 7);
  const char* labels[] = {"4", "8", "16", "32", "64", "128", "exact"};
  for (std::size_t i = 0; i < rows.size(); ++i) CHECK(rows[i].label == labels[i]);
  // Euler is first order: both distances to p0 fall with every doubling of the steps, towards the
  // sampling-noise floor of the exact row.
  for (std::size_t i = 0; i + 2 < rows.size(); ++i) {
    CHECK(rows[i + 1].sw1 < rows[i].sw1);
    CHECK(rows[i + 1].nll_gap < rows[i].nll_gap);
  }
  CHECK(rows[0].sw1 > 4 * rows[5].sw1);
  CHECK(rows[5].sw1 < 2 * rows[6].sw1);
  CHECK(std::abs(rows[5].nll_gap) < 0.1);
  CHECK(std::abs(rows[6].nll_gap) < 0.05);
}

TEST_CASE("ferry demo is deterministic for a seed", "[cli]") {
  scratch_dir dir;
  const run_result a = run_cli("demo --n 200 --seed 7 --out " + quoted(dir.path / "a"), dir);
  const run_result b = run_cli("demo --n 200 --seed 7 --out " + quoted(dir.path / "b"), dir);
  const run_result c = run_cli("demo --n 200 --seed 8 --out " + quoted(dir.path / "c"), dir);
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  REQUIRE(c.code == 0);
  CHECK(parse_table(a.out).size() == 7);
  CHECK(parse_table(a.out)[0].sw1 == parse_table(b.out)[0].sw1);
  CHECK(slurp(dir.path / "a" / "demo.png") == slurp(dir.path / "b" / "demo.png"));
  CHECK(slurp(dir.path / "a" / "demo.png") != slurp(dir.path / "c" / "demo.png"));
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
    CHECK(!fs::exists(out_dir / "demo.png"));
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
