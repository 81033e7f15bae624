// `ferry sample` with the keyed generator: --seed/--num-samples draw the initial noise, --threads
// and --shard give the single run's bytes, and bad values of the new flags fail in one line.
#include "catch.hpp"

#ifdef FERRY_CLI_PATH
#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/random/normal.hpp"

namespace test_cli_random {

using namespace ferry_test;

namespace {

std::string model() { return "--model gmm:" + quoted(fs::path(reference_dir + "gmm.json")); }

std::vector<double> values(const fs::path& p) { return ferry::io::read_npy(p).as<double>(); }

}  // namespace

TEST_CASE("ferry sample --seed: the same bytes for any --threads and any --shard split", "[cli][random]") {
  scratch_dir dir;
  const std::string run = "sample " + model() + " --num-samples 1000 --seed 5 --steps 10 --solver dpmpp-2m";
  const fs::path one = dir.path / "one.npy", two = dir.path / "two.npy";
  REQUIRE(run_cli(run + " --out " + quoted(one), dir).code == 0);
  REQUIRE(run_cli(run + " --threads 2 --out " + quoted(two), dir).code == 0);
  CHECK(slurp(one) == slurp(two));

  std::vector<double> joined;
  for (int i = 0; i < 3; ++i) {
    const fs::path part = dir.path / ("part" + std::to_string(i) + ".npy");
    const run_result r = run_cli(run + " --shard " + std::to_string(i) + "/3 --threads 2 --out " + quoted(part), dir);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto v = values(part);
    joined.insert(joined.end(), v.begin(), v.end());
  }
  CHECK(joined == values(one));

  // Sample i of the run equals sample i drawn alone (shard i/N of N), and its noise is the keyed draw.
  const fs::path alone = dir.path / "alone.npy";
  REQUIRE(run_cli(run + " --shard 123/1000 --out " + quoted(alone), dir).code == 0);
  const auto a = values(alone), all = values(one);
  REQUIRE(a.size() == 2);
  CHECK(a[0] == all[246]);
  CHECK(a[1] == all[247]);

  // Another seed is another run; the same seed with --noise of the keyed draw is the same run.
  const fs::path other = dir.path / "other.npy";
  REQUIRE(run_cli("sample " + model() + " --num-samples 1000 --seed 6 --steps 10 --solver dpmpp-2m --out " + quoted(other), dir)
              .code == 0);
  CHECK(values(other) != all);
  ferry::batch<double> z(1000, 2);
  ferry::random::fill_normal<double>(5, z.view(), 0, ferry::random::initial_noise_step);
  const fs::path znpy = dir.path / "z.npy", from_file = dir.path / "from_file.npy";
  ferry::io::write_npy(znpy.string(), z);
  REQUIRE(run_cli("sample " + model() + " --noise " + quoted(znpy) + " --steps 10 --solver dpmpp-2m --out " + quoted(from_file), dir)
              .code == 0);
  CHECK(slurp(from_file) == slurp(one));
}

TEST_CASE("ferry sample --dtype float32: float end to end, close to float64, the same bytes for any --threads", "[cli][random][float]") {
  scratch_dir dir;
  const fs::path cfg = dir.path / "dpm.json";
  std::ofstream(cfg) << R"({"_class_name": "DPMSolverMultistepScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085,
    "beta_end": 0.012, "num_train_timesteps": 1000, "solver_order": 2, "algorithm_type": "dpmsolver++",
    "prediction_type": "epsilon", "timestep_spacing": "linspace", "final_sigmas_type": "zero"})";
  const std::string run = "sample " + model() + " --scheduler-config " + quoted(cfg) + " --num-samples 2000 --seed 1 --steps 20";
  const fs::path f1 = dir.path / "f1.npy", f2 = dir.path / "f2.npy", d = dir.path / "d.npy";
  REQUIRE(run_cli(run + " --dtype float32 --out " + quoted(f1), dir).code == 0);
  REQUIRE(run_cli(run + " --dtype float32 --threads 2 --out " + quoted(f2), dir).code == 0);
  REQUIRE(run_cli(run + " --out " + quoted(d), dir).code == 0);  // float64 by default when the noise is drawn
  CHECK(slurp(f1) == slurp(f2));
  const ferry::io::npy_array x = ferry::io::read_npy(f1), y = ferry::io::read_npy(d);
  CHECK(x.dtype() == ferry::io::npy_dtype::f4);
  CHECK(y.dtype() == ferry::io::npy_dtype::f8);
  const auto xf = x.as<float>();
  const auto yd = y.as<double>();
  REQUIRE(xf.size() == yd.size());
  double m = 0;
  std::size_t not_rounded = 0;  // the float run is not the double run rounded at the end
  for (std::size_t i = 0; i < xf.size(); ++i) {
    m = std::max(m, std::abs(double(xf[i]) - yd[i]));
    not_rounded += xf[i] != float(yd[i]);
  }
  CHECK(m < 1e-4);  // measured 1.1e-5 here (2000 samples), 5.1e-5 over 1e5 samples
  CHECK(not_rounded > 0);

  // A stochastic solver in float32: seed-reproducible, the same keyed normals as float64.
  const std::string sde = "sample " + model() + " --num-samples 2000 --steps 20 --solver euler-ancestral";
  const fs::path a = dir.path / "a.npy", b = dir.path / "b.npy", c = dir.path / "c.npy", e = dir.path / "e.npy";
  REQUIRE(run_cli(sde + " --seed 3 --dtype float32 --out " + quoted(a), dir).code == 0);
  REQUIRE(run_cli(sde + " --seed 3 --dtype float32 --threads 2 --out " + quoted(b), dir).code == 0);
  REQUIRE(run_cli(sde + " --seed 4 --dtype float32 --out " + quoted(c), dir).code == 0);
  REQUIRE(run_cli(sde + " --seed 3 --dtype float64 --out " + quoted(e), dir).code == 0);
  CHECK(slurp(a) == slurp(b));
  CHECK(slurp(a) != slurp(c));
  const auto af = ferry::io::read_npy(a).as<float>();
  const auto ed = ferry::io::read_npy(e).as<double>();
  REQUIRE(af.size() == ed.size());
  double ms = 0;
  for (std::size_t i = 0; i < af.size(); ++i) ms = std::max(ms, std::abs(double(af[i]) - ed[i]));
  CHECK(ms < 1e-3);  // measured 1.0e-4
}

TEST_CASE("ferry sample: bad --seed/--num-samples/--shard/--threads/--step-noise fail in one line", "[cli][random][errors]") {
  scratch_dir dir;
  const fs::path out = dir.path / "out.npy";
  const std::string base = "sample " + model() + " --steps 4 --out " + quoted(out);
  const fs::path noise = fs::path(reference_dir + "noise.npy");
  ferry::batch<double> w2(3, 2);  // (3, 2): the wrong rank for step noise
  const fs::path bad_rank = dir.path / "w2.npy";
  ferry::io::write_npy(bad_rank.string(), w2);
  struct bad {
    std::string args, needle;
  };
  const std::vector<bad> cases = {
      {"", "--noise Z.npy or draw it with --num-samples"},
      {" --num-samples 10 --noise " + quoted(noise), "excludes"},
      {" --num-samples 10 --shard 2/2", "--shard \"2/2\""},
      {" --num-samples 10 --shard x", "--shard \"x\""},
      {" --num-samples 10 --shard 1/", "--shard \"1/\""},
      {" --num-samples 10 --threads 0", "--threads must be at least 1"},
      {" --num-samples 10 --seed -1", "--seed"},
      {" --num-samples -3", "--num-samples"},
      {" --num-samples 10 --seed 1x", "--seed"},
      {" --num-samples 10 --step-noise " + quoted(bad_rank), "step noise must be 3-D"},
      {" --num-samples 10 --step-noise " + quoted(dir.path / "missing.npy"), "missing.npy"},
  };
  for (const auto& c : cases) {
    const run_result r = run_cli(base + c.args, dir);
    INFO(c.args << " -> " << r.err);
    CHECK(r.code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find(c.needle) != std::string::npos);
    CHECK(!fs::exists(out));
  }
}

}  // namespace test_cli_random
#endif
