// ComfyUI's samplers and schedulers through the `ferry` CLI, run as tests/data/comfy/REFERENCE.md says
// its checker runs them:
//   ferry sample --model gmm:gmm.json --noise noise.npy --step-noise step_noise.npy --process edm|flow
//                [--shift 3.0] --sigmas S.npy --solver NAME [--OPTION VALUE ...] --out X.npy
//   ferry info --process discrete-vp --beta-schedule scaled_linear --beta-start 0.00085 --beta-end 0.012
//              --num-train-timesteps 1000 | --process flow --shift 3.0 --num-train-timesteps 1000
//              --grid NAME --steps n [--OPTION VALUE ...] --json
// (NAME and the options with `_` → `-`). Samples within 1e-4 of ComfyUI's (and ComfyUI's model calls),
// σ lists of the same length within 1e-6 relative with zeros exact; the worst per sampler and per
// scheduler is printed.
#include "cli_runner.hpp"
#ifdef FERRY_CLI_PATH
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "ferry/io/npy.hpp"

namespace test_comfy_cli {

// The reference set: tests/data/comfy/ (cases.json and its arrays).
const ferry_test::reference_set& refs = ferry_test::comfy_refs;

using nlohmann::json;
using ferry_test::quoted;
using ferry_test::run_cli;

namespace {

// A file of the reference set, quoted for the shell.
std::string data(const std::string& name) { return quoted(std::filesystem::path(refs.dir + name)); }

std::string dashed(std::string s) {
  std::replace(s.begin(), s.end(), '_', '-');
  return s;
}

// " --key value" for each option, keys dashed, numbers in full precision.
std::string option_flags(const json& options) {
  std::string out;
  for (const auto& [key, v] : options.items()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v.get<double>());
    out += " --" + dashed(key) + " " + buf;
  }
  return out;
}

void print_worst(const char* what, const std::map<std::string, double>& worst, const char* unit) {
  std::printf("%s\n", what);
  for (const auto& [name, d] : worst) std::printf("  %-26s %.3g %s\n", name.c_str(), d, unit);
}

}  // namespace

TEST_CASE("every ComfyUI sampler case through ferry sample --sigmas (1e-4, ComfyUI's model calls)", "[comfy][cli][parity]") {
  const ferry_test::scratch_dir dir;
  std::map<std::string, double> worst;
  for (const auto& [name, c] : refs.cases().items()) {
    if (c.at("kind") != "comfy-sampler") continue;
    const auto sigmas = c.at("sigmas").get<std::vector<double>>();
    const auto s_path = dir.path / (name + "_sigmas.npy"), out = dir.path / (name + ".npy");
    ferry::io::write_npy(s_path.string(), sigmas.data(), {sigmas.size()});
    const bool flow = c.at("model_sampling") == "const";
    const std::string sampler = c.at("sampler");
    const std::string args = "sample --model gmm:" + data("gmm.json") + " --noise " + data("noise.npy") +
                             " --step-noise " + data("step_noise.npy") + (flow ? " --process flow --shift 3.0" : " --process edm") +
                             " --sigmas " + quoted(s_path) + " --solver " + dashed(sampler) + option_flags(c.at("options")) + " --out " + quoted(out);
    const auto r = run_cli(args, dir);
    INFO(name << ": ferry " << args << "\n" << r.err);
    REQUIRE(r.code == 0);
    const auto x = ferry::io::read_npy(out.string()).as<double>(), want = ferry::io::read_npy(refs.dir + name + ".npy").as<double>();
    REQUIRE(x.size() == want.size());
    double d = 0;
    for (std::size_t i = 0; i < x.size(); ++i) d = std::max(d, std::abs(x[i] - want[i]));
    CHECK(d <= 1e-4);
    std::smatch m;
    REQUIRE(std::regex_search(r.err, m, std::regex("NFE ([0-9]+)")));
    CHECK(std::stoul(m[1]) == c.at("nfe").get<std::size_t>());
    worst[sampler] = std::max(worst[sampler], d);
  }
  CHECK(worst.size() == 22);  // every sampler of REFERENCE.md's list
  print_worst("[comfy-cli] worst max |ferry - ComfyUI| per sampler:", worst, "");
}

TEST_CASE("every ComfyUI scheduler case through ferry info --grid --json (1e-6 relative, zeros exact)", "[comfy][cli][parity]") {
  const ferry_test::scratch_dir dir;
  std::map<std::string, double> worst;
  for (const auto& [name, c] : refs.cases().items()) {
    if (c.at("kind") != "comfy-scheduler") continue;
    const json& ms = c.at("model_sampling");
    std::string args = "info --json --num-train-timesteps " + ms.at("num_train_timesteps").dump();
    if (ms.at("process") == "flow") {
      args += " --process flow --shift " + ms.at("shift").dump();
    } else {
      args += " --process discrete-vp --beta-schedule " + ms.at("beta_schedule").get<std::string>() + " --beta-start " +
              ms.at("beta_start").dump() + " --beta-end " + ms.at("beta_end").dump();
    }
    const std::string scheduler = c.at("scheduler");
    args += " --grid " + dashed(scheduler) + " --steps " + c.at("steps").dump() + option_flags(c.at("options"));
    const auto r = run_cli(args, dir);
    INFO(name << ": ferry " << args << "\n" << r.err);
    REQUIRE(r.code == 0);
    const auto got = json::parse(r.out).at("sigmas").get<std::vector<double>>();
    const auto want = c.at("sigmas").get<std::vector<double>>();
    REQUIRE(got.size() == want.size());
    double d = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (want[i] == 0) CHECK(got[i] == 0);
      else d = std::max(d, std::abs(got[i] - want[i]) / std::abs(want[i]));
    }
    CHECK(d <= 1e-6);
    worst[scheduler] = std::max(worst[scheduler], d);
  }
  CHECK(worst.size() == 14);
  print_worst("[comfy-cli] worst relative difference per scheduler:", worst, "");
}

TEST_CASE("ferry sample --sigmas: --steps may be left out or must equal the list's steps; samplers without noise ignore --step-noise",
          "[comfy][cli]") {
  const ferry_test::scratch_dir dir;
  const json& c = refs.cases().at("dpm_2_eps_karras_12");
  const auto sigmas = c.at("sigmas").get<std::vector<double>>();
  const auto s_path = dir.path / "s.npy", a = dir.path / "a.npy", b = dir.path / "b.npy";
  ferry::io::write_npy(s_path.string(), sigmas.data(), {sigmas.size()});
  const std::string base = "sample --model gmm:" + data("gmm.json") + " --noise " + data("noise.npy") +
                           " --process edm --solver dpm-2 --sigmas " + quoted(s_path);
  REQUIRE(run_cli(base + " --out " + quoted(a), dir).code == 0);
  REQUIRE(run_cli(base + " --steps 12 --step-noise " + data("step_noise.npy") + " --out " + quoted(b), dir).code == 0);
  CHECK(ferry_test::slurp(a) == ferry_test::slurp(b));
  const auto r = run_cli(base + " --steps 11 --out " + quoted(b), dir);
  CHECK(r.code == 2);
  CHECK(r.err.find("--steps 11") != std::string::npos);
}

TEST_CASE("sa-solver takes ComfyUI's noise interval from a flow's or a discrete table's model sampling", "[comfy][cli]") {
  // The cases give the interval as options; on --process flow --shift 3 and on SD1's discrete-vp table
  // the defaults (percent_to_sigma(0.2), (0.8)) are those values, so runs without them give the same
  // file. EDM has no model sampling to take them from: one line naming the flags.
  const ferry_test::scratch_dir dir;
  const auto a = dir.path / "a.npy", b = dir.path / "b.npy";
  auto run = [&](const std::string& case_name, const std::string& process, bool options, const std::filesystem::path& out) {
    const json& c = refs.cases().at(case_name);
    const auto sigmas = c.at("sigmas").get<std::vector<double>>();
    const auto s_path = dir.path / (case_name + "_sigmas.npy");
    ferry::io::write_npy(s_path.string(), sigmas.data(), {sigmas.size()});
    return run_cli("sample --model gmm:" + data("gmm.json") + " --noise " + data("noise.npy") + " --step-noise " +
                       data("step_noise.npy") + " --process " + process + " --solver sa-solver --sigmas " + quoted(s_path) +
                       (options ? option_flags(c.at("options")) : std::string()) + " --out " + quoted(out),
                   dir);
  };
  REQUIRE(run("sa_solver_const_shift3_12", "flow --shift 3.0", true, a).code == 0);
  REQUIRE(run("sa_solver_const_shift3_12", "flow --shift 3.0", false, b).code == 0);
  CHECK(ferry_test::slurp(a) == ferry_test::slurp(b));
  REQUIRE(run("sa_solver_eps_karras_16", "discrete-vp", true, a).code == 0);
  REQUIRE(run("sa_solver_eps_karras_16", "discrete-vp", false, b).code == 0);
  CHECK(ferry_test::slurp(a) == ferry_test::slurp(b));
  const auto r = run("sa_solver_eps_karras_16", "edm", false, b);
  CHECK(r.code == 2);
  CHECK(r.err.find("--sde-start-sigma") != std::string::npos);
  CHECK(r.err.find("--process edm") != std::string::npos);
}

}  // namespace test_comfy_cli
#endif  // FERRY_CLI_PATH
