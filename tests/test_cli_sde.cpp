// `ferry sample` with stochastic samplers end to end: every case of the injected-noise reference
// set (diffusers classes through --scheduler-config, k-diffusion samplers through --process/--grid/
// --solver and their flags) from the command line, and the keyed runs' bytes across --threads and
// --shard for a stochastic sampler.
#include "catch.hpp"
#include "test_support.hpp"

#ifdef FERRY_CLI_PATH
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "ferry/io/npy.hpp"

namespace test_cli_sde {

using namespace ferry_test;

namespace {

double max_abs_diff_files(const fs::path& a, const std::string& b) {
  const auto x = ferry::io::read_npy(a).as<double>(), y = ferry::io::read_npy(b).as<double>();
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (std::size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

std::string number(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

}  // namespace

TEST_CASE("ferry sample --step-noise reproduces every stochastic reference case", "[cli][sde][parity]") {
  scratch_dir dir;
  const std::string common = "sample --model gmm:" + quoted(fs::path(sde_dir + "gmm.json")) + " --noise " +
                             quoted(fs::path(sde_dir + "noise.npy")) + " --step-noise " +
                             quoted(fs::path(sde_dir + "step_noise.npy"));
  std::size_t cases = 0;
  for (const auto& [name, c] : sde_cases().items()) {
    const fs::path out = dir.path / (name + ".npy");
    std::string args = common + " --steps " + std::to_string(c.at("steps").get<int>()) + " --out " + quoted(out);
    if (c.at("kind") == "diffusers") {
      const fs::path cfg = dir.path / (name + ".json");
      std::ofstream(cfg) << c.at("scheduler_config").dump();
      args += " --scheduler-config " + quoted(cfg);
      for (const auto& [key, value] : c.at("step_kwargs").items()) args += " --" + key + " " + number(value.get<double>());
    } else {
      args += " --process " + c.at("process").get<std::string>() + " --grid " + c.at("grid").get<std::string>() +
              " --sigma-min " + number(c.at("sigma_min")) + " --sigma-max " + number(c.at("sigma_max")) + " --rho " +
              number(c.at("rho")) + " --solver " + c.at("solver").get<std::string>();
      for (const auto& [flag, value] : c.at("options").items()) args += " " + flag + " " + number(value.get<double>());
    }
    const run_result r = run_cli(args, dir);
    INFO(name << ": " << args << "\n" << r.err);
    REQUIRE(r.code == 0);
    const double d = max_abs_diff_files(out, sde_dir + name + ".npy");
    INFO(name << ": max-abs " << d);
    CHECK(d < 1e-4);
    ++cases;
  }
  CHECK(cases == 20);
}

TEST_CASE("a keyed stochastic run: the same bytes for --threads 1 and 2 and for any --shard split", "[cli][sde][random]") {
  scratch_dir dir;
  for (const char* solver : {"dpmpp-2m-sde", "euler-ancestral", "dpmpp-sde"}) {
    INFO(solver);
    const std::string run = "sample --model gmm:" + quoted(fs::path(sde_dir + "gmm.json")) +
                            " --num-samples 500 --seed 11 --steps 12 --solver " + solver;
    const fs::path one = dir.path / "one.npy", two = dir.path / "two.npy";
    REQUIRE(run_cli(run + " --threads 1 --out " + quoted(one), dir).code == 0);
    REQUIRE(run_cli(run + " --threads 2 --out " + quoted(two), dir).code == 0);
    CHECK(slurp(one) == slurp(two));
    std::vector<double> joined;
    for (int i = 0; i < 4; ++i) {
      const fs::path part = dir.path / ("part" + std::to_string(i) + ".npy");
      REQUIRE(run_cli(run + " --shard " + std::to_string(i) + "/4 --out " + quoted(part), dir).code == 0);
      const auto v = ferry::io::read_npy(part).as<double>();
      joined.insert(joined.end(), v.begin(), v.end());
    }
    CHECK(joined == ferry::io::read_npy(one).as<double>());
    // Another seed is another run.
    const fs::path other = dir.path / "other.npy";
    REQUIRE(run_cli("sample --model gmm:" + quoted(fs::path(sde_dir + "gmm.json")) +
                        " --num-samples 500 --seed 12 --steps 12 --solver " + solver + " --out " + quoted(other),
                    dir)
                .code == 0);
    CHECK(slurp(other) != slurp(one));
  }
}

}  // namespace test_cli_sde
#endif
