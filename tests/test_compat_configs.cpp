// scheduler_config.json files as model repositories ship them (tests/data/configs, sources in its
// README.md): every one loads and samples a short run — or is refused with one clear line that names the
// key or the class — through the library and through `ferry sample` / `ferry info`, as a new user runs them.
// Flow models with dynamic shifting get mu as the FLUX pipeline computes it for 4096 image tokens.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "cli_runner.hpp"
#include "test_support.hpp"
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/random/normal.hpp"

namespace test_compat_configs {

using namespace ferry;
namespace fs = std::filesystem;

namespace {

const std::string configs = FERRY_TEST_DATA "/configs/";
const std::string gmm_path = FERRY_TEST_DATA "/diffusers2/gmm.json";

struct shipped {
  const char* file;
  const char* refusal;  ///< empty: accepted; else a piece of the one-line error
};
// Every file of tests/data/configs, and what ferry does with it.
const std::vector<shipped> all = {
    {"sd15_pndm.json", ""},            {"sd21_base_pndm.json", ""},       {"sd21_flax_ddim.json", ""},
    {"sdxl_base_euler.json", ""},      {"sdxl_finetune_euler_a.json", ""}, {"sd35_large.json", ""},
    {"flux1_dev.json", ""},            {"flux1_schnell.json", ""},        {"lumina2.json", ""},
    {"pixart_alpha.json", ""},         {"bria32.json", ""},               {"stable_cascade.json", ""},
    {"qwen_image.json", ""},           {"playground_v25.json", ""},       {"wan21_t2v.json", ""},
    {"wan22_ti2v_5b.json", ""},        {"sana_1600m_1024px.json", ""},    {"sana_1600m_4kpx.json", ""},
    {"cosmos1_text2world.json", ""},   {"cosmos2_text2image.json", ""},   {"stable_audio_open.json", ""},
    {"ltx_video_0_9_1.json", ""},      {"mochi_1.json", ""},              {"hunyuan_video.json", ""},
    {"dance_diffusion.json", ""},      {"cogvideox_2b.json", ""},
    {"deepfloyd_if_i.json", "\"variance_type\" is \"learned_range\""},
    {"cogvideox_5b_dpm.json", "\"CogVideoXDPMScheduler\", a diffusers scheduler ferry does not reproduce"},
    {"consistency_cd_imagenet64.json", "\"CMStochasticIterativeScheduler\", a diffusers scheduler ferry does not reproduce"},
};

std::size_t accepted() { return std::size_t(std::count_if(all.begin(), all.end(), [](const shipped& s) { return *s.refusal == 0; })); }

/// set_timesteps' mu where the config shifts dynamically (FLUX's calculate_shift at 4096 tokens).
compat::timestep_args args_for(const compat::diffusers_config& c) {
  compat::timestep_args a;
  if (c.use_dynamic_shifting && c.kind == compat::scheduler_class::flow_euler) a.mu = compat::calculate_shift(c, 4096);
  return a;
}

}  // namespace

TEST_CASE("every shipped scheduler_config.json is listed", "[compat][configs]") {
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(configs))
    if (e.path().extension() == ".json") {
      ++files;
      const std::string name = e.path().filename().string();
      INFO(name);
      CHECK(std::any_of(all.begin(), all.end(), [&](const shipped& s) { return name == s.file; }));
    }
  CHECK(files == all.size());
  std::printf("[configs] %zu shipped configs: %zu accepted, %zu refused\n", all.size(), accepted(), all.size() - accepted());
}

TEST_CASE("shipped configs load and sample a short run, or are refused by name", "[compat][configs]") {
  // A run of 30 steps and 2000 samples of the diffusers2 mixture: the samples sit on the mixture (their mean
  // near its mean, most of them near a component), whatever the class and its options.
  const auto mixture = gaussian_mixture<double>::load(gmm_path);
  const nlohmann::json g = nlohmann::json::parse(std::ifstream(gmm_path));
  const auto means = g.at("means").get<std::vector<std::vector<double>>>();
  const auto weights = g.at("weights").get<std::vector<double>>();
  double mean[2] = {0, 0};
  for (std::size_t k = 0; k < weights.size(); ++k) mean[0] += weights[k] * means[k][0], mean[1] += weights[k] * means[k][1];
  for (const auto& s : all) {
    INFO(s.file);
    if (*s.refusal) {
      CHECK_THROWS_WITH(compat::load_diffusers_config(configs + s.file), Catch::Contains(s.refusal));
      continue;
    }
    const auto cfg = compat::load_diffusers_config(configs + s.file);
    const auto grid = compat::set_timesteps(cfg, 30, args_for(cfg));
    auto model = mixture;
    model.predicts = compat::model_prediction(cfg);
    batch<double> x(2000, 2);
    random::fill_normal(std::uint64_t(7), x.view(), 0, random::initial_noise_step);
    simd::lincomb<double, 1>(x.view().span(), {compat::initial_scale(cfg, grid)}, {x.data()});
    compat::sample(cfg, grid, model, x.view(), no_observer{}, keyed_noise{7, 0});
    double m[2] = {0, 0};
    std::size_t near = 0;
    for (std::size_t i = 0; i < x.rows(); ++i) {
      const double a = x.data()[2 * i], b = x.data()[2 * i + 1];
      REQUIRE(std::isfinite(a));
      REQUIRE(std::isfinite(b));
      m[0] += a / double(x.rows()), m[1] += b / double(x.rows());
      double best = INFINITY;
      for (const auto& mu : means) best = std::min(best, std::hypot(a - mu[0], b - mu[1]));
      near += best < 0.6;
    }
    std::printf("[configs] %-32s %-34s mean (%.3f, %.3f) vs (%.3f, %.3f), %.1f%% near a component\n", s.file,
                std::string(compat::class_name(cfg.kind)).c_str(), m[0], m[1], mean[0], mean[1], 100.0 * double(near) / double(x.rows()));
    CHECK(std::abs(m[0] - mean[0]) < 0.15);
    CHECK(std::abs(m[1] - mean[1]) < 0.15);
    CHECK(double(near) > 0.9 * double(x.rows()));
  }
}

#ifdef FERRY_CLI_PATH
TEST_CASE("shipped configs through the CLI, as a new user runs them", "[compat][configs][cli]") {
  using ferry_test::quoted;
  const ferry_test::scratch_dir dir;
  for (const auto& s : all) {
    INFO(s.file);
    const std::string cfg = quoted(fs::path(configs + s.file));
    std::string shift;
    if (*s.refusal == 0) {
      const auto c = compat::load_diffusers_config(configs + s.file);
      if (c.use_dynamic_shifting && c.kind == compat::scheduler_class::flow_euler) shift = " --image-seq-len 4096";
    }
    const fs::path out = dir.path / "out.npy";
    const auto r = ferry_test::run_cli("sample --model gmm:" + quoted(fs::path(gmm_path)) + " --scheduler-config " + cfg +
                                           " --steps 8 --num-samples 64 --seed 3" + shift + " --out " + quoted(out),
                                       dir);
    const auto i = ferry_test::run_cli("info --json --scheduler-config " + cfg + " --steps 8" + shift, dir);
    INFO(r.err << i.err);
    if (*s.refusal) {
      CHECK(r.code == 2);
      CHECK(i.code == 2);
      CHECK(ferry_test::count_lines(r.err) == 1);
      CHECK(r.err.find(s.refusal) != std::string::npos);
      CHECK(!fs::exists(out));
    } else {
      CHECK(r.code == 0);
      CHECK(i.code == 0);
      CHECK(nlohmann::json::parse(i.out).at("timesteps").size() >= 8);
      CHECK(fs::exists(out));
    }
    fs::remove(out);
  }
}
#endif

}  // namespace test_compat_configs
