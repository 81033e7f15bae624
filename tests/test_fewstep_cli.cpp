// `ferry sample --solver consistency|meanflow`: with the mixture's exact flow map as the distilled
// model, one step lands on the point that dopri5 at rtol = atol = 1e-10 reaches over the same grid.
#include "catch.hpp"

#ifdef FERRY_CLI_PATH
#include <cstdio>
#include <string>

#include "cli_runner.hpp"
#include "ferry/io/npy.hpp"

namespace test_fewstep_cli {

using namespace ferry_test;

namespace {

double max_abs_diff_files(const fs::path& a, const fs::path& b) {
  const auto x = ferry::io::read_npy(a).as<double>(), y = ferry::io::read_npy(b).as<double>();
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (std::size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

}  // namespace

TEST_CASE("ferry sample --solver consistency|meanflow --steps 1 lands on the dopri5 endpoint", "[cli][fewstep]") {
  scratch_dir dir;
  const std::string common = "sample --model gmm:" + quoted(fs::path(reference_dir + "gmm.json")) + " --noise " +
                             quoted(fs::path(reference_dir + "noise.npy"));
  struct setup {
    const char* process;
    const char* grid;
  };
  for (const setup c : {setup{"vp-linear", "--grid uniform"}, setup{"vp-cosine", "--grid uniform"}, setup{"ve", "--grid uniform"},
                        setup{"edm", "--grid uniform"}, setup{"edm", "--grid karras --final-zero false"},
                        setup{"flow", "--grid uniform"}}) {
    const std::string grid = std::string(" --process ") + c.process + " " + c.grid;
    const fs::path ode = dir.path / "ode.npy";
    const run_result r0 = run_cli(common + grid + " --steps 1 --solver dopri5 --rtol 1e-10 --atol 1e-10 --out " + quoted(ode), dir);
    INFO(c.process << " " << c.grid << ": " << r0.err);
    REQUIRE(r0.code == 0);
    for (const char* solver : {"consistency", "meanflow"}) {
      const fs::path out = dir.path / (std::string(solver) + ".npy");
      const run_result r = run_cli(common + grid + " --steps 1 --solver " + solver + " --out " + quoted(out), dir);
      INFO(solver << ": " << r.err);
      REQUIRE(r.code == 0);
      CHECK(r.err.find("NFE 1,") != std::string::npos);
      const double d = max_abs_diff_files(out, ode);
      std::printf("[fewstep] CLI K=1 %-11s %-9s %-32s vs dopri5 1e-10: %.2e\n", solver, c.process, c.grid, d);
      CHECK(d <= 1e-4);
    }
  }
}

TEST_CASE("ferry sample --solver consistency with several steps draws keyed noise between steps", "[cli][fewstep]") {
  scratch_dir dir;
  const std::string common = "sample --model gmm:" + quoted(fs::path(reference_dir + "gmm.json")) + " --noise " +
                             quoted(fs::path(reference_dir + "noise.npy")) +
                             " --process vp-linear --grid uniform --steps 3 --solver consistency --out ";
  const fs::path a = dir.path / "a.npy", b = dir.path / "b.npy", c = dir.path / "c.npy";
  const run_result ra = run_cli(common + quoted(a) + " --seed 4", dir);
  INFO(ra.err);
  REQUIRE(ra.code == 0);
  CHECK(ra.err.find("NFE 3,") != std::string::npos);
  REQUIRE(run_cli(common + quoted(b) + " --seed 4", dir).code == 0);
  REQUIRE(run_cli(common + quoted(c) + " --seed 5", dir).code == 0);
  CHECK(max_abs_diff_files(a, b) == 0);  // keyed: the same seed gives the same bits
  CHECK(max_abs_diff_files(a, c) > 1e-3);  // and another seed other draws
}

}  // namespace test_fewstep_cli
#endif
