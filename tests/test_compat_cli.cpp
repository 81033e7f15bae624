// `ferry info --scheduler-config C --steps K [--mu M] [--sigmas S.npy] [--image-seq-len L] --json` on
// every diffusers2 case, run as REFERENCE.md says a case is run: the printed grid is the reference's
// (the library test test_compat_grids.cpp checks it entry by entry; here the CLI's plumbing of the
// flags). And its one-line errors with exit 2.
#include "cli_runner.hpp"
#ifdef FERRY_CLI_PATH
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "ferry/io/npy.hpp"

namespace test_compat_cli {

// The reference set: tests/data/diffusers2/ (cases.json and its arrays).
const ferry_test::reference_set& refs = ferry_test::diffusers2_refs;

using nlohmann::json;
using ferry_test::quoted;
using ferry_test::run_cli;

namespace {

double worst_rel(const json& got, const json& want) {
  if (got.size() != want.size()) return INFINITY;
  double w = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i].get<double>(), r = want[i].get<double>();
    w = std::max(w, std::abs(g - r) / std::max(std::abs(r), 1e-300));
  }
  return w;
}

}  // namespace

TEST_CASE("ferry info --json prints every diffusers2 grid, with --mu and --sigmas as the pipelines pass them", "[compat][cli]") {
  const ferry_test::scratch_dir dir;
  std::size_t n = 0;
  for (const auto& [name, c] : refs.cases().items()) {
    const auto cfg = dir.path / (name + ".json");
    std::ofstream(cfg) << c.at("scheduler_config").dump();
    std::string args = "info --json --scheduler-config " + quoted(cfg) + " --steps " + std::to_string(c.at("steps").get<std::size_t>());
    if (c.contains("set_timesteps_kwargs")) {
      const json& k = c.at("set_timesteps_kwargs");
      if (k.contains("mu")) args += " --mu " + k.at("mu").dump();
      if (k.contains("sigmas")) {
        const auto s = k.at("sigmas").get<std::vector<double>>();
        const auto path = dir.path / (name + "_sigmas.npy");
        ferry::io::write_npy(path.string(), s.data(), {s.size()});
        args += " --sigmas " + quoted(path);
      }
    }
    const auto r = run_cli(args, dir);
    INFO(name << ": " << args << "\n" << r.err);
    REQUIRE(r.code == 0);
    const json out = json::parse(r.out);
    CHECK(worst_rel(out.at("timesteps"), c.at("grid").at("timesteps")) <= 1e-6);
    if (c.at("grid").contains("sigmas")) CHECK(worst_rel(out.at("sigmas"), c.at("grid").at("sigmas")) <= 1e-6);
    else CHECK(!out.contains("sigmas"));
    ++n;
  }
  CHECK(n == 71);
}

TEST_CASE("ferry info: --image-seq-len, --mu without shifting, and its errors", "[compat][cli]") {
  const ferry_test::scratch_dir dir;
  auto write = [&](const char* file, const std::string& body) {
    std::ofstream(dir.path / file) << body;
    return quoted(dir.path / file);
  };
  const json& flux = refs.cases().at("flow_flux_dynamic_1024_12");
  const std::string flux_cfg = write("flux.json", flux.at("scheduler_config").dump());
  const auto s = flux.at("set_timesteps_kwargs").at("sigmas").get<std::vector<double>>();
  ferry::io::write_npy((dir.path / "s.npy").string(), s.data(), {s.size()});
  // The FLUX pipeline's mu for 1024 image tokens is the case's mu, and --steps is the length of --sigmas.
  const auto a = run_cli("info --json --scheduler-config " + flux_cfg + " --image-seq-len 1024 --sigmas " + quoted(dir.path / "s.npy"), dir);
  REQUIRE(a.code == 0);
  CHECK(worst_rel(json::parse(a.out).at("timesteps"), flux.at("grid").at("timesteps")) <= 1e-6);
  // --mu on a config that does not shift: accepted and ignored, with a warning.
  const std::string schnell = write("schnell.json", R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "use_dynamic_shifting": false})");
  const auto b = run_cli("info --json --steps 4 --mu 1.15 --scheduler-config " + schnell, dir);
  CHECK(b.code == 0);
  CHECK(b.err.find("ferry: warning: ") != std::string::npos);
  CHECK(b.err.find("is ignored (use_dynamic_shifting is false)") != std::string::npos);
  CHECK(b.out == run_cli("info --json --steps 4 --scheduler-config " + schnell, dir).out);
  // PixArt-α ships -Infinity.
  const std::string pixart = write("pixart.json", R"({"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity})");
  CHECK(run_cli("info --json --steps 4 --scheduler-config " + pixart, dir).code == 0);

  const std::vector<double> up{0.25, 0.5, 0.75, 1.0};
  ferry::io::write_npy((dir.path / "up.npy").string(), up.data(), {up.size()});
  const std::vector<float> f32{1.0f, 0.5f};
  ferry::io::write_npy((dir.path / "f32.npy").string(), f32.data(), {f32.size()});
  struct bad_case {
    std::string args;
    std::vector<std::string> needles;
  };
  const std::vector<bad_case> bad{
      {"info --scheduler-config " + flux_cfg + " --steps 4", {"use_dynamic_shifting is true; give mu"}},
      {"info --scheduler-config " + flux_cfg + " --steps 4 --mu 1 --image-seq-len 1024", {"--mu and --image-seq-len"}},
      {"info --scheduler-config " + flux_cfg + " --steps 5 --mu 1 --sigmas " + quoted(dir.path / "s.npy"), {"sigmas has 12 entries; expected 5"}},
      {"info --scheduler-config " + flux_cfg + " --mu 1 --sigmas " + quoted(dir.path / "up.npy"), {"sigmas[1] = 0.5", "decrease strictly"}},
      {"info --scheduler-config " + flux_cfg + " --mu 1 --sigmas " + quoted(dir.path / "f32.npy"), {"f32.npy", "float64 1-D"}},
      {"info --scheduler-config " + flux_cfg + " --mu 1", {"--steps is required"}},
      {"info --scheduler-config " + pixart + " --image-seq-len 1024 --steps 4", {"an image sequence length gives mu only for FlowMatchEulerDiscreteScheduler"}},
      {"info --scheduler-config " + pixart + " --steps 2 --sigmas " + quoted(dir.path / "s.npy"), {"DPMSolverMultistepScheduler.set_timesteps takes no sigmas"}},
      {"info --scheduler-config " + write("pndm.json", R"({"_class_name": "PNDMSchedular"})") + " --steps 4", {"did you mean \"PNDMScheduler\""}},
      {"info --scheduler-config " + write("ve.json", R"({"_class_name": "KarrasVeScheduler"})") + " --steps 4", {"ferry does not reproduce"}},
      {"info --scheduler-config " + write("lv.json", R"({"_class_name": "DPMSolverMultistepScheduler", "variance_type": "learned"})") + " --steps 4",
       {"\"variance_type\"", "ferry does not implement"}},
  };
  for (const auto& c : bad) {
    const auto r = run_cli(c.args, dir);
    INFO(c.args << "\nstderr: " << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(ferry_test::count_lines(r.err) == 1);
    for (const auto& needle : c.needles) CHECK(r.err.find(needle) != std::string::npos);
  }
}

}  // namespace test_compat_cli
#endif
