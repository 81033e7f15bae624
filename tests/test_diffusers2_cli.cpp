// Every diffusers2 case through `ferry sample`, run as tests/data/diffusers2/REFERENCE.md says a checker
// runs it: the case's scheduler_config as CFG.json, `--steps K`, `--mu M` and `--sigmas S.npy` from its
// set_timesteps_kwargs, `--step-noise step_noise.npy` where a call draws, each step_kwargs key as a flag
// (DPMSolverSDE's --s-noise), the reference noise: the sample must be diffusers' to 1e-4 (the grids of
// the same calls: test_compat_cli.cpp). And torch's seeds end to end: `--rng torch-cpu --seed S` with a
// config spends the generator as a diffusers pipeline does (the initial latents, then one array per
// step() call that draws), which `ferry noise` and `--step-noise` rebuild call by call.
#include "cli_runner.hpp"
#ifdef FERRY_CLI_PATH
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "ferry/io/npy.hpp"

namespace test_diffusers2_cli {

// The reference set: tests/data/diffusers2/ (cases.json and its arrays).
const ferry_test::reference_set& refs = ferry_test::diffusers2_refs;

using nlohmann::json;
using ferry_test::quoted;
using ferry_test::run_cli;
namespace fs = std::filesystem;

namespace {

double max_abs(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

std::vector<double> read(const fs::path& p) { return ferry::io::read_npy(p.string()).as<double>(); }

/// The flags of a case beside --out: as REFERENCE.md's "How a case is run".
std::string case_args(const std::string& name, const json& c, const ferry_test::scratch_dir& dir) {
  const fs::path cfg = dir.path / (name + ".json");
  std::ofstream(cfg) << c.at("scheduler_config").dump();
  std::string args = "sample --model gmm:" + quoted(fs::path(refs.dir + "gmm.json")) + " --noise " + quoted(fs::path(refs.dir + "noise.npy")) +
                     " --scheduler-config " + quoted(cfg) + " --steps " + std::to_string(c.at("steps").get<std::size_t>());
  const json& k = c.at("set_timesteps_kwargs");
  if (k.contains("mu")) args += " --mu " + k.at("mu").dump();
  if (k.contains("sigmas")) {
    const auto s = k.at("sigmas").get<std::vector<double>>();
    const fs::path p = dir.path / (name + "_sigmas.npy");
    ferry::io::write_npy(p.string(), s.data(), {s.size()});
    args += " --sigmas " + quoted(p);
  }
  if (!c.at("draws").empty()) args += " --step-noise " + quoted(fs::path(refs.dir + "step_noise.npy"));
  for (const auto& [key, v] : c.at("step_kwargs").items()) {
    std::string flag = key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    args += " --" + flag + " " + v.dump();
  }
  return args;
}

}  // namespace

TEST_CASE("ferry sample reproduces every diffusers2 case as a checker runs it", "[diffusers2][cli][parity]") {
  const ferry_test::scratch_dir dir;
  std::size_t n = 0;
  double worst = 0;
  for (const auto& [name, c] : refs.cases().items()) {
    const fs::path out = dir.path / (name + ".npy");
    const std::string args = case_args(name, c, dir) + " --out " + quoted(out);
    const auto r = run_cli(args, dir);
    INFO(name << ": " << args << "\n" << r.err);
    REQUIRE(r.code == 0);
    const double d = max_abs(read(out), read(refs.dir + name + ".npy"));
    std::printf("[diffusers2 cli] %-30s max |ferry - diffusers| = %.3g\n", name.c_str(), d);
    worst = std::max(worst, d);
    CHECK(d <= 1e-4);
    ++n;
  }
  std::printf("[diffusers2 cli] %zu cases, worst %.3g\n", n, worst);
  CHECK(n == 71);
}

TEST_CASE("ferry sample --rng torch-cpu with a config is diffusers' loop with one generator", "[diffusers2][cli][torch]") {
  // The generator's arrays as `ferry noise` draws them: one (1 + calls)·N×D call equals 1 + calls calls of
  // N×D when N·D is a multiple of 16 (torch's blocks of 16), as 128·2 is. The first array is the initial
  // noise; the next go, in order, to the step() calls that draw (the case's `draws`), the rest of the
  // (calls, N, D) --step-noise file holding zeros.
  const ferry_test::scratch_dir dir;
  const std::size_t rows = 128, dim = 2;
  for (const char* name : {"sasolver_sd_20", "kdpm2a_sd_12", "dpmss_sde_o2_12", "wuerstchen_12", "edm_dpmpp2m_sde_12", "flow_stochastic_shift3_12"}) {
    const json& c = refs.cases().at(name);
    const auto draws = c.at("draws").get<std::vector<std::size_t>>();
    const std::size_t calls = draws.back() + 1;
    const fs::path z = dir.path / "torch.npy";
    const auto g = run_cli("noise --rng torch-cpu --seed 1234 --dtype float64 --shape " + std::to_string((1 + draws.size()) * rows) + "," +
                               std::to_string(dim) + " --out " + quoted(z),
                           dir);
    REQUIRE(g.code == 0);
    const std::vector<double> all = read(z);
    const std::vector<double> init(all.begin(), all.begin() + std::ptrdiff_t(rows * dim));
    std::vector<double> w(calls * rows * dim, 0.0);
    for (std::size_t k = 0; k < draws.size(); ++k)
      std::copy_n(all.begin() + std::ptrdiff_t((1 + k) * rows * dim), rows * dim, w.begin() + std::ptrdiff_t(draws[k] * rows * dim));
    ferry::io::write_npy((dir.path / "z0.npy").string(), init.data(), {rows, dim});
    ferry::io::write_npy((dir.path / "w.npy").string(), w.data(), {calls, rows, dim});

    const fs::path cfg = dir.path / "cfg.json";
    std::ofstream(cfg) << c.at("scheduler_config").dump();
    const std::string run = "sample --model gmm:" + quoted(fs::path(refs.dir + "gmm.json")) + " --scheduler-config " + quoted(cfg) + " --steps " +
                            std::to_string(c.at("steps").get<std::size_t>());
    const fs::path seeded = dir.path / "seeded.npy", injected = dir.path / "injected.npy";
    const auto a = run_cli(run + " --rng torch-cpu --seed 1234 --num-samples 128 --threads 2 --out " + quoted(seeded), dir);
    const auto b = run_cli(run + " --noise " + quoted(dir.path / "z0.npy") + " --step-noise " + quoted(dir.path / "w.npy") + " --out " +
                               quoted(injected),
                           dir);
    INFO(name << "\n" << a.err << b.err);
    REQUIRE(a.code == 0);
    REQUIRE(b.code == 0);
    CHECK(ferry_test::slurp(seeded) == ferry_test::slurp(injected));
  }
}

}  // namespace test_diffusers2_cli
#endif
