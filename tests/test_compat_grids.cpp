// compat::set_timesteps against every grid of the diffusers2 reference set (tests/data/diffusers2):
// the thirteen classes beyond the first twelve and the options of the classes already covered, with
// set_timesteps' mu and sigmas as the FLUX and LTX pipelines pass them. Every float32 entry equal
// (REFERENCE.md asks 1e-6 relative), torch's SLEEF exp/log/sin/atan/atan2 included.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "ferry/compat/diffusers_config.hpp"
#include "ferry/compat/diffusers_timesteps.hpp"
#include "ferry/compat/sleef_f32.hpp"
#include "test_support.hpp"

namespace test_compat_grids {

// The reference set: tests/data/diffusers2/ (cases.json and its arrays).
const ferry_test::reference_set& refs = ferry_test::diffusers2_refs;

using namespace ferry;
using nlohmann::json;

namespace {

struct comparison {
  std::size_t entries = 0, differing = 0;
  double worst_rel = 0;
};

// Entry-wise comparison of float32 values (the references are float32 tensors printed as doubles).
comparison compare(const std::vector<double>& got, const json& want) {
  comparison r;
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto g = static_cast<float>(got[i]), w = static_cast<float>(want[i].get<double>());
    ++r.entries;
    if (g == w) continue;
    ++r.differing;
    r.worst_rel = std::max(r.worst_rel, double(std::abs(g - w)) / std::abs(double(w)));
  }
  return r;
}

compat::diffusers_grid grid_of(const std::string& name, const json& c) {
  const compat::diffusers_config cfg = compat::parse_diffusers_config(c.at("scheduler_config"), std::nullopt, name);
  compat::timestep_args a;
  std::size_t steps = c.at("steps").get<std::size_t>();
  if (c.contains("set_timesteps_kwargs")) {
    const json& k = c.at("set_timesteps_kwargs");
    if (k.contains("mu")) a.mu = k.at("mu").get<double>();
    if (k.contains("sigmas")) {
      a.sigmas = k.at("sigmas").get<std::vector<double>>();
      steps = 0;  // retrieve_timesteps passes sigmas without num_inference_steps
    }
  }
  return compat::set_timesteps(cfg, steps, a);
}

}  // namespace

TEST_CASE("set_timesteps reproduces every diffusers2 grid", "[compat][grid]") {
  std::size_t n = 0;
  for (const auto& [name, c] : refs.cases().items()) {
    ++n;
    const compat::diffusers_grid g = grid_of(name, c);
    const json& ref = c.at("grid");
    comparison t = compare(g.timesteps, ref.at("timesteps")), s;
    if (ref.contains("sigmas")) s = compare(g.sigmas, ref.at("sigmas"));
    else CHECK(g.sigmas.empty());
    std::printf("[compat grid] %-30s %3zu timesteps, %3zu sigmas: %zu entries differ (worst rel. %.2g)\n", name.c_str(), t.entries, s.entries,
                t.differing + s.differing, std::max(t.worst_rel, s.worst_rel));
    INFO(name << ": " << t.differing << " timesteps and " << s.differing << " sigmas differ, worst relative " << std::max(t.worst_rel, s.worst_rel));
    CHECK(t.differing + s.differing == 0);
    CHECK(std::max(t.worst_rel, s.worst_rel) <= 1e-6);  // REFERENCE.md's tolerance
  }
  CHECK(n == 71);
}

TEST_CASE("grid structure: calls, second-call levels, orders, τ", "[compat][grid]") {
  // Two-call classes: 2·steps − 1 calls, one step per interval, a second level inside every step but the last.
  const auto k = grid_of("kdpm2_sd_12", refs.cases().at("kdpm2_sd_12"));
  CHECK(k.steps() == 12);
  REQUIRE(k.mid.size() == 12);
  for (std::size_t j = 0; j + 1 < 12; ++j) {
    REQUIRE(k.mid[j]);
    const double s = k.cur[j].sigma_edm(), sn = k.next[j].sigma_edm(), m = k.mid[j]->sigma_edm();
    CHECK(m == Approx(std::sqrt(s * sn)).epsilon(1e-6));  // KDPM2's geometric midpoint
    CHECK(k.mid_timesteps[j] == k.timesteps[2 * j + 1]);
  }
  CHECK(!k.mid.back());
  // KDPM2Ancestral: √(σ·σ_down) = σ_next, so its second call sits at the next level.
  const auto ka = grid_of("kdpm2a_sd_12", refs.cases().at("kdpm2a_sd_12"));
  for (std::size_t j = 0; j + 1 < 12; ++j) CHECK(ka.mid[j]->sigma_edm() == Approx(ka.next[j].sigma_edm()).epsilon(1e-5));
  // DPMSolverSDE: the midpoint in t = −log σ.
  const auto sde = grid_of("dpmsde_sd_12", refs.cases().at("dpmsde_sd_12"));
  for (std::size_t j = 0; j + 1 < 12; ++j)
    CHECK(sde.mid[j]->sigma_edm() == Approx(std::sqrt(sde.cur[j].sigma_edm() * sde.next[j].sigma_edm())).epsilon(1e-6));
  // PNDM: 12 Runge–Kutta calls, then PLMS; with skip_prk_steps steps + 1 calls whose second repeats t.
  const auto prk = grid_of("pndm_prk_sd_12", refs.cases().at("pndm_prk_sd_12"));
  CHECK(prk.prk_calls == 12);
  CHECK(prk.steps() == 21);
  const auto plms = grid_of("pndm_sd15_plms_20", refs.cases().at("pndm_sd15_plms_20"));
  CHECK(plms.prk_calls == 0);
  CHECK(plms.timesteps[1] == plms.timesteps[2]);
  CHECK(plms.prev_timesteps[1] == static_cast<long long>(plms.timesteps[1]));  // call 1 steps from t + δ to t
  // DPM single-step: order lists as get_order_list, lower_order_final forced on where diffusers does.
  CHECK(grid_of("dpmss_o3_12", refs.cases().at("dpmss_o3_12")).orders == std::vector<int>{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 1});
  CHECK(grid_of("dpmss_o2_12", refs.cases().at("dpmss_o2_12")).orders == std::vector<int>{1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 1});
  const auto nolof = grid_of("dpmss_o3_nolof_sigmamin_12", refs.cases().at("dpmss_o3_nolof_sigmamin_12"));
  CHECK(!nolof.lower_order_final);
  CHECK(nolof.orders == std::vector<int>{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3});
  // SA-Solver: τ = 1 for 200 ≤ t ≤ 800.
  const auto sa = grid_of("sasolver_sd_20", refs.cases().at("sasolver_sd_20"));
  for (std::size_t i = 0; i < sa.steps(); ++i) CHECK(sa.tau[i] == (sa.timesteps[i] >= 200 && sa.timesteps[i] <= 800 ? 1.0 : 0.0));
  // Spaces and initial scales.
  CHECK(grid_of("edm_euler_20", refs.cases().at("edm_euler_20")).space == compat::grid_space::edm);
  CHECK(grid_of("edm_euler_20", refs.cases().at("edm_euler_20")).init_noise_sigma == std::sqrt(80.0 * 80.0 + 1));
  CHECK(grid_of("dpmpp2m_flow_shift3_20", refs.cases().at("dpmpp2m_flow_shift3_20")).space == compat::grid_space::flow);
  // invert_sigmas: the list is the data weight; the levels are the usual flow levels in decreasing σ.
  const auto inv = grid_of("flow_invert_shift3_12", refs.cases().at("flow_invert_shift3_12"));
  CHECK(inv.sigmas.back() == 1.0);
  CHECK(inv.cur.front().sigma == Approx(1 - inv.sigmas.front()).margin(1e-12));
  CHECK(inv.next.back().sigma == 0);
  // IPNDM: x = α·x0 + β·ε from pure noise (α = 0) to the data.
  const auto ip = grid_of("ipndm_12", refs.cases().at("ipndm_12"));
  CHECK(ip.cur.front().alpha == 0);
  CHECK(ip.next.back().sigma == 0);
  // DDPMWuerstchen: steps + 1 timesteps ending at 0, ᾱ clamped to [1e-4, 0.9999].
  const auto w = grid_of("wuerstchen_12", refs.cases().at("wuerstchen_12"));
  CHECK(w.steps() == 12);
  CHECK(w.alphas_cumprod_prev.back() == Approx(0.9999).epsilon(1e-6));
}

TEST_CASE("FLUX's calculate_shift gives the cases' mu", "[compat][grid]") {
  const auto flux = compat::parse_diffusers_config(refs.cases().at("flow_flux_dynamic_1024_12").at("scheduler_config"));
  CHECK(compat::calculate_shift(flux, 1024) == Approx(0.63).epsilon(1e-14));
  CHECK(compat::calculate_shift(flux, 4096) == Approx(1.15).epsilon(1e-14));
  const json& ltx = refs.cases().at("flow_ltx_terminal_20");
  const auto ltx_cfg = compat::parse_diffusers_config(ltx.at("scheduler_config"));
  CHECK(compat::calculate_shift(ltx_cfg, 21 * 15 * 22) == Approx(ltx.at("set_timesteps_kwargs").at("mu").get<double>()).epsilon(1e-14));
  // Only the class whose config has base/max_image_seq_len and base/max_shift computes it.
  CHECK_THROWS_AS(compat::calculate_shift(compat::default_config(compat::scheduler_class::unipc), 1024), config_error);
}

TEST_CASE("SLEEF's float32 kernels stay within one ulp of the correctly rounded functions", "[compat][grid]") {
  // A sanity sweep of compat/sleef_f32.hpp (bit-equality with torch is what the grids above check):
  // SLEEF's u10 kernels are faithful, so each result is one of the two floats around the exact value.
  namespace sl = ferry::detail::sleef;
  auto faithful = [](float got, double exact) {
    const auto lo = static_cast<float>(exact);
    return got == lo || got == std::nextafter(lo, exact > double(lo) ? INFINITY : -INFINITY);
  };
  std::size_t n = 0;
  for (float x = -20.0f; x < 20.0f; x += 0.0137f, ++n) {
    CHECK(faithful(sl::expf(x), std::exp(double(x))));
    CHECK(faithful(sl::atanf(x), std::atan(double(x))));
    CHECK(faithful(sl::sinf(x), std::sin(double(x))));
    CHECK(faithful(sl::cosf(x), std::cos(double(x))));
    CHECK(faithful(sl::atan2f(x, 0.7f), std::atan2(double(x), double(0.7f))));
    CHECK(faithful(sl::atan2f(0.3f, x), std::atan2(double(0.3f), double(x))));
    const float p = std::ldexp(1.0f + std::abs(x) / 20, int(x));
    CHECK(faithful(sl::logf(p), std::log(double(p))));
  }
  CHECK(n > 2000);
}

}  // namespace test_compat_grids
