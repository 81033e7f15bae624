// `ferry sample` and `ferry info` end to end: reference parity from the command line, the dtype of
// the output, the JSON grid, and one-line errors with no output file on bad input.
#include "catch.hpp"

#ifdef FERRY_CLI_PATH
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.hpp"
#include "ferry/io/npy.hpp"

namespace test_cli_sample {

using namespace ferry_test;

namespace {

const std::string& data = reference_dir;
const nlohmann::json& cases() { return reference_cases(); }

// Writes a case's scheduler_config.json into the scratch directory.
fs::path write_config(const scratch_dir& dir, const std::string& name, const nlohmann::json& cfg) {
  const fs::path p = dir.path / (name + ".json");
  std::ofstream(p) << cfg.dump(1);
  return p;
}

double max_abs_diff(const fs::path& a, const std::string& reference) {
  const auto x = ferry::io::read_npy(a).as<double>(), y = ferry::io::read_npy(data + reference + ".npy").as<double>();
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (std::size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

std::string common(const fs::path& out, std::size_t steps) {
  return "--model gmm:" + quoted(fs::path(data + "gmm.json")) + " --noise " + quoted(fs::path(data + "noise.npy")) + " --steps " +
         std::to_string(steps) + " --out " + quoted(out);
}

}  // namespace

TEST_CASE("ferry sample with a diffusers scheduler_config reproduces diffusers", "[cli][parity]") {
  scratch_dir dir;
  for (const char* name : {"dpmpp2m_sd_12", "euler_sd_25", "ddim_threshold_12", "flow_euler_28_shift3", "unipc_sd_12"}) {
    const auto& c = cases().at(name);
    const fs::path cfg = write_config(dir, name, c.at("scheduler_config")), out = dir.path / (std::string(name) + ".npy");
    const run_result r = run_cli("sample " + common(out, c.at("steps")) + " --scheduler-config " + quoted(cfg), dir);
    INFO(name << ": " << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find("NFE " + std::to_string(c.at("steps").get<int>())) != std::string::npos);
    CHECK(max_abs_diff(out, name) < 1e-4);
  }
}

TEST_CASE("ferry sample with process, grid and solver reproduces k-diffusion", "[cli][parity]") {
  scratch_dir dir;
  for (const char* name : {"kd_heun_karras_12", "kd_dpmpp2m_karras_12", "kd_lms_karras_25"}) {
    const auto& c = cases().at(name);
    const fs::path out = dir.path / (std::string(name) + ".npy");
    const run_result r = run_cli("sample " + common(out, c.at("steps")) + " --process edm --grid karras --solver " +
                                     c.at("solver").get<std::string>() + " --sigma-min 0.002 --sigma-max 80 --rho 7",
                                 dir);
    INFO(name << ": " << r.err);
    REQUIRE(r.code == 0);
    CHECK(max_abs_diff(out, name) < 1e-4);
  }
}

TEST_CASE("ferry sample writes float32 samples for float32 noise, unless --dtype says otherwise", "[cli]") {
  scratch_dir dir;
  const auto z = ferry::io::read_npy(data + "noise.npy").as<float>();
  const fs::path z32 = dir.path / "z32.npy", out = dir.path / "x.npy";
  ferry::io::write_npy<float>(z32, z.data(), {z.size() / 2, 2});
  const run_result r = run_cli("sample --model gmm:" + quoted(fs::path(data + "gmm.json")) + " --noise " + quoted(z32) +
                                   " --steps 20 --out " + quoted(out) + " --process vp-linear --grid uniform-logsnr --solver dpmpp-2m --prediction epsilon",
                               dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto x = ferry::io::read_npy(out);
  CHECK(x.dtype() == ferry::io::npy_dtype::f4);
  CHECK(x.shape == std::vector<std::size_t>{z.size() / 2, 2});
  // An explicit --dtype wins over the noise file's dtype.
  const run_result r64 = run_cli("sample --model gmm:" + quoted(fs::path(data + "gmm.json")) + " --noise " + quoted(z32) +
                                     " --steps 20 --out " + quoted(out) + " --process vp-linear --grid uniform-logsnr --solver dpmpp-2m --prediction epsilon --dtype float64",
                                 dir);
  INFO(r64.err);
  REQUIRE(r64.code == 0);
  CHECK(ferry::io::read_npy(out).dtype() == ferry::io::npy_dtype::f8);
}

TEST_CASE("every solver name runs on every process from the command line", "[cli]") {
  scratch_dir dir;
  for (const char* process : {"vp-linear", "vp-cosine", "ve", "edm", "flow"})
    for (const char* solver : {"euler", "heun", "midpoint", "rk4", "dopri5", "ddim", "dpmpp-1", "dpmpp-2m", "dpmpp-3m",
                               "dpmpp-2s", "unipc", "deis", "lms"}) {
      const fs::path out = dir.path / "x.npy";
      // Flow grids start below pure noise (t = 1, α = 0), where σ/α-based solvers (lms, deis) cannot start.
      const std::string grid = std::string(process) == "flow" ? "uniform --t-max 0.999" : "uniform-logsnr";
      const run_result r = run_cli("sample " + common(out, 8) + " --process " + process + " --grid " + grid + " --solver " + solver, dir);
      INFO(process << " / " << solver << ": " << r.err);
      CHECK(r.code == 0);
      CHECK(fs::exists(out));
      fs::remove(out);
    }
}

TEST_CASE("ferry info prints diffusers' timesteps and sigmas as JSON", "[cli]") {
  scratch_dir dir;
  for (const char* name : {"dpmpp2m_karras_cos_17", "heun_sd_12", "ddim_sd_leading_12", "flow_euler_28_shift3"}) {
    const auto& c = cases().at(name);
    const fs::path cfg = write_config(dir, name, c.at("scheduler_config"));
    const run_result r = run_cli("info --scheduler-config " + quoted(cfg) + " --steps " + std::to_string(c.at("steps").get<int>()) + " --json", dir);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    const auto& grid = c.at("grid");
    CHECK(j.at("timesteps").size() == grid.at("timesteps").size());
    for (std::size_t i = 0; i < grid.at("timesteps").size(); ++i)
      CHECK(j["timesteps"][i].get<double>() == Approx(grid["timesteps"][i].get<double>()).epsilon(1e-6));
    CHECK(j.contains("sigmas") == grid.contains("sigmas"));
    if (grid.contains("sigmas"))
      for (std::size_t i = 0; i < grid.at("sigmas").size(); ++i)
        CHECK(j["sigmas"][i].get<double>() == Approx(grid["sigmas"][i].get<double>()).epsilon(1e-6));
  }
}

TEST_CASE("ferry sample rejects bad input with one line, exit code 2 and no output file", "[cli]") {
  scratch_dir dir;
  const fs::path out = dir.path / "x.npy";
  const fs::path bad_cfg = write_config(dir, "bad", {{"_class_name", "DDIMScheduler"}, {"beta_schedule", "foo"}});
  const fs::path nan_noise = dir.path / "nan.npy";
  const double nan_values[] = {0.1, std::nan(""), 0.3, 0.4};
  ferry::io::write_npy<double>(nan_noise, nan_values, {2, 2});
  const fs::path three_d = dir.path / "z3.npy";
  const double z3[] = {0.1, 0.2, 0.3};
  ferry::io::write_npy<double>(three_d, z3, {1, 3});
  struct bad_case {
    std::string args, message;
  };
  const std::vector<bad_case> bad = {
      {"sample " + common(out, 12) + " --scheduler-config " + quoted(bad_cfg), "\"beta_schedule\" is \"foo\""},
      {"sample " + common(out, 12) + " --solver rk5", "solver \"rk5\" is unknown"},
      {"sample " + common(out, 12) + " --process vp-exotic", "--process \"vp-exotic\" is unknown"},
      {"sample " + common(out, 12) + " --grid fancy", "fancy"},
      {"sample --model gmm:/nonexistent.json --noise " + quoted(fs::path(data + "noise.npy")) + " --steps 4 --out " + quoted(out), "/nonexistent.json"},
      {"sample --model " + quoted(fs::path(data + "gmm.json")) + " --noise " + quoted(fs::path(data + "noise.npy")) + " --steps 4 --out " + quoted(out), "expected gmm:PATH"},
      {"sample --model gmm:" + quoted(fs::path(data + "gmm.json")) + " --noise " + quoted(nan_noise) + " --steps 4 --out " + quoted(out), "non-finite"},
      {"sample --model gmm:" + quoted(fs::path(data + "gmm.json")) + " --noise " + quoted(three_d) + " --steps 4 --out " + quoted(out), "D = 3"},
      {"sample " + common(out, 0), "--steps: expected a whole number from 1"},
      {"sample " + common(out, 8) + " --process flow --grid uniform --solver lms", "lms works with sigma/alpha, which is infinite at level 0"},
      {"sample " + common(out, 12) + " --scheduler-config " + quoted(bad_cfg) + " --solver heun", "excludes"},
      {"info --scheduler-config " + quoted(bad_cfg) + " --steps 10", "\"beta_schedule\" is \"foo\""},
  };
  for (const auto& b : bad) {
    const run_result r = run_cli(b.args, dir);
    INFO(b.args << "\n -> " << r.err);
    CHECK(r.code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find(b.message) != std::string::npos);
    CHECK_FALSE(fs::exists(out));
  }
}

TEST_CASE("ferry sample warns about keys the scheduler class does not take", "[cli]") {
  scratch_dir dir;
  nlohmann::json cfg = cases().at("dpmpp2m_sd_12").at("scheduler_config");
  cfg["clip_sample_typo"] = true;
  const fs::path p = write_config(dir, "warn", cfg), out = dir.path / "x.npy";
  const run_result r = run_cli("sample " + common(out, 12) + " --scheduler-config " + quoted(p), dir);
  CHECK(r.code == 0);
  CHECK(r.err.find("warning") != std::string::npos);
  CHECK(r.err.find("clip_sample_typo") != std::string::npos);
}

TEST_CASE("ferry sample --trajectory writes the state before and after every step", "[cli]") {
  scratch_dir dir;
  const fs::path out = dir.path / "x.npy", traj = dir.path / "traj.npy";
  const run_result r = run_cli("sample " + common(out, 12) + " --solver heun --trajectory " + quoted(traj), dir);
  REQUIRE(r.code == 0);
  const auto t = ferry::io::read_npy(traj);
  const auto z = load_reference("noise");
  REQUIRE(t.shape == std::vector<std::size_t>{13, z.rows(), z.cols()});
  const auto frames = t.as<double>(), x = ferry::io::read_npy(out).as<double>();
  const std::size_t frame = z.size();
  for (std::size_t i = 0; i < frame; ++i) {
    CHECK(frames[i] == 80 * z.data()[i]);                   // frame 0: σ_max·z (EDM, Karras grid)
    CHECK(frames[12 * frame + i] == x[i]);                  // the last frame is the output
  }
}

}  // namespace test_cli_sample
#endif
