// ComfyUI's schedulers as grid rules (grid/comfy.hpp) against ComfyUI's own σ lists
// (tests/data/comfy, kind "comfy-scheduler": same length, 1e-6 relative, zeros exact), the σ tables
// they stand on (discrete_vp::comfy, flow::discrete), the levels a list becomes, and every refusal.
#include <cmath>
#include <fstream>
#include <map>
#include <numbers>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "test_support.hpp"
#include "ferry/grid/grid.hpp"

namespace test_grid_comfy {

// The reference set: tests/data/comfy/ (cases.json and its arrays).
const ferry_test::reference_set& refs = ferry_test::comfy_refs;

using namespace ferry;
using spec = grid_spec<double>;

namespace {

// The case's model sampling as a process, as `ferry info --process …` builds it.
template <class F>
auto with_process(const nlohmann::json& ms, F&& f) {
  const std::size_t n = ms.at("num_train_timesteps");
  if (ms.at("process") == "flow") return f(flow<double>::discrete(ms.at("shift").get<double>(), n));
  return f(discrete_vp<double>::comfy(parse_beta_schedule(ms.at("beta_schedule").get<std::string>()), n,
                                      ms.at("beta_start").get<double>(), ms.at("beta_end").get<double>()));
}

spec case_spec(const nlohmann::json& c) {
  std::string name = c.at("scheduler");
  for (char& ch : name)
    if (ch == '_') ch = '-';
  spec s{.kind = parse_grid_kind(name), .steps = c.at("steps").get<std::size_t>()};
  for (const auto& [key, v] : c.at("options").items()) {
    const double x = v.get<double>();
    std::map<std::string, std::optional<double>*> opt{{"alpha", &s.alpha},       {"beta", &s.beta},       {"coeff", &s.coeff},
                                                       {"sigma_min", &s.sigma_min}, {"sigma_max", &s.sigma_max}, {"rho", &s.rho},
                                                       {"beta_d", &s.beta_d},     {"beta_min", &s.beta_min}, {"eps_s", &s.eps_s}};
    REQUIRE(opt.count(key) == 1);
    *opt.at(key) = x;
  }
  return s;
}

double rel_diff(double a, double b) { return std::abs(a - b) / std::abs(b); }

}  // namespace

TEST_CASE("every ComfyUI scheduler case: the same list to 1e-6 relative, zeros exact", "[grid][comfy]") {
  std::map<std::string, int> per_scheduler;
  double worst = 0;
  for (const auto& [name, c] : refs.cases().items()) {
    if (c.at("kind") != "comfy-scheduler") continue;
    INFO(name);
    const std::vector<double> want = c.at("sigmas");
    const spec s = case_spec(c);
    const std::vector<double> got = with_process(c.at("model_sampling"), [&](const auto& p) { return grid_sigmas(p, s); });
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO("entry " << i << ": " << got[i] << " vs " << want[i]);
      if (want[i] == 0) {
        CHECK(got[i] == 0);
      } else {
        CHECK(rel_diff(got[i], want[i]) <= 1e-6);
        worst = std::max(worst, rel_diff(got[i], want[i]));
      }
    }
    ++per_scheduler[c.at("scheduler")];
  }
  for (const char* s : {"simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal", "linear_quadratic",
                        "kl_optimal", "ays_sd1", "ays_sdxl", "gits", "polyexponential", "vp"})
    CHECK(per_scheduler[s] >= 4);
  CHECK(worst > 0);  // float32 rounding differs somewhere: the comparison is not vacuous
}

TEST_CASE("ComfyUI's SD table is float64 arithmetic stored in float32, not diffusers' float32 table", "[grid][comfy][process]") {
  const auto sd = discrete_vp<double>::comfy();
  CHECK(sd.num_train_timesteps() == 1000);
  CHECK(sd.sigma_edm(0) == 0.029167158529162407);
  CHECK(sd.sigma_edm(999) == 14.614641189575195);
  const auto d = discrete_vp<double>::diffusers(beta_schedule::scaled_linear, 1000, 0.00085, 0.012);
  double worst = 0;
  for (std::size_t k = 0; k < 1000; ++k) {
    CHECK(sd.sigma_edm(k) == double(static_cast<float>(sd.sigma_edm(k))));
    CHECK(std::exp(sd.log_sigma_edm(double(k))) == Approx(sd.sigma_edm(k)).epsilon(3e-7));
    worst = std::max(worst, rel_diff(d.sigma_edm(k), sd.sigma_edm(k)));
  }
  CHECK(worst > 1e-5);
  CHECK(worst < 2e-5);
  // The continuous extension interpolates log σ̃ between the integer timesteps and inverts exactly.
  for (const double t : {0.0, 0.25, 17.5, 500.0, 998.75, 999.0})
    CHECK(sd.t_of_lambda(sd.lambda(t)) == Approx(t).margin(1e-9));
  // The three β schedules build tables; linear is LDM's sqrt_linear (β itself linear).
  const auto lin = discrete_vp<double>::comfy(beta_schedule::linear, 1000, 0.0001, 0.02);
  CHECK(lin.alphas_cumprod()[0] == Approx(1 - 0.0001).epsilon(1e-15));
  CHECK(lin.alphas_cumprod()[1] == Approx((1 - 0.0001) * (1 - (0.0001 + (0.02 - 0.0001) / 999))).epsilon(1e-15));
  const auto cos = discrete_vp<double>::comfy(beta_schedule::squaredcos_cap_v2, 1000, 0, 0);  // β_start, β_end unused
  const double c0 = std::cos(0.008 / 1.008 * std::numbers::pi / 2), c1 = std::cos(0.009 / 1.008 * std::numbers::pi / 2);
  CHECK(cos.alphas_cumprod()[0] == Approx(c1 * c1 / (c0 * c0)).epsilon(1e-12));
}

TEST_CASE("a flow's discrete table is ComfyUI's ModelSamplingDiscreteFlow", "[grid][comfy][process]") {
  const auto f = flow<double>::discrete(3.0, 1000);
  CHECK(f.num_train_timesteps() == 1000);
  CHECK(f.t_min() == 1e-3);
  CHECK(f.table_sigma(0) == Approx(3 * 0.001 / (1 + 2 * 0.001)).epsilon(1e-15));
  CHECK(f.table_sigma(999) == 1);
  CHECK(flow<double>(3.0).num_train_timesteps() == 0);
}

TEST_CASE("a scheduler's levels visit its list: vp beyond the table, kl-optimal on a flow from sigma = 1", "[grid][comfy]") {
  const auto sd = discrete_vp<double>::comfy();
  for (const grid_kind k : {grid_kind::simple, grid_kind::normal, grid_kind::beta, grid_kind::karras, grid_kind::vp, grid_kind::gits,
                            grid_kind::ays_sdxl, grid_kind::polyexponential}) {
    INFO(to_string(k));
    const spec s{.kind = k, .steps = 12};
    const std::vector<double> list = grid_sigmas(sd, s);
    const std::vector<level<double>> lv = make_grid(sd, s);
    REQUIRE(lv.size() == list.size());
    for (std::size_t i = 0; i < lv.size(); ++i) {
      CHECK(sigma_of_level(sd, lv[i]) == Approx(list[i]).epsilon(1e-14));
      if (list[i] > 0) CHECK(lv[i].alpha * lv[i].alpha + lv[i].sigma * lv[i].sigma == Approx(1).epsilon(1e-14));
    }
  }
  const std::vector<level<double>> vp = make_grid(sd, spec{.kind = grid_kind::vp, .steps = 10});
  CHECK(vp.front().sigma_edm() == Approx(152.1669702839464).epsilon(1e-12));  // σ̃ beyond the table's 14.6
  CHECK(vp.front().t == 999);

  // On a flow the list is the flow σ, from 1 (α = 0) to the data.
  const auto f = flow<double>::discrete(3.0, 1000);
  const std::vector<double> kl = grid_sigmas(f, spec{.kind = grid_kind::kl_optimal, .steps = 10});
  CHECK(kl.front() == 1);  // float32 tan(float32(atan 1)) correctly rounded; ComfyUI's tanf gives 1 + 2⁻²³
  const std::vector<level<double>> lv = make_grid(f, spec{.kind = grid_kind::kl_optimal, .steps = 10});
  REQUIRE(lv.size() == kl.size());
  CHECK(lv.front().alpha == 0);
  for (std::size_t i = 0; i < lv.size(); ++i) CHECK(lv[i].sigma == kl[i]);
}

TEST_CASE("in float the lists are the float64 lists rounded (float32 runs)", "[grid][comfy]") {
  const auto sd32 = discrete_vp<float>::comfy();
  const auto sd64 = discrete_vp<double>::comfy();
  for (const grid_kind k : {grid_kind::simple, grid_kind::sgm_uniform, grid_kind::ddim_uniform, grid_kind::beta, grid_kind::gits,
                            grid_kind::kl_optimal, grid_kind::karras}) {
    INFO(to_string(k));
    const std::vector<float> a = grid_sigmas(sd32, grid_spec<float>{.kind = k, .steps = 9});
    const std::vector<double> b = grid_sigmas(sd64, spec{.kind = k, .steps = 9});
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).epsilon(3e-7));
    CHECK(make_grid(sd32, grid_spec<float>{.kind = k, .steps = 9}).size() == a.size());
  }
  const std::vector<float> f = grid_sigmas(flow<float>::discrete(3.0f, 1000), grid_spec<float>{.kind = grid_kind::normal, .steps = 5});
  CHECK(f.front() == 1.0f);
}

TEST_CASE("beta drops repeated timesteps as ComfyUI does, so a run can have fewer steps", "[grid][comfy]") {
  const auto sd = discrete_vp<double>::comfy();
  const std::vector<double> s = grid_sigmas(sd, spec{.kind = grid_kind::beta, .steps = 400});
  CHECK(s.size() < 401);
  CHECK(s.size() > 300);
  for (std::size_t i = 1; i < s.size(); ++i) CHECK(s[i] < s[i - 1]);
  // every entry but the 0 is a table entry
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    std::size_t k = 0;
    while (k < 1000 && sd.sigma_edm(k) != s[i]) ++k;
    CHECK(k < 1000);
  }
  CHECK(make_grid(sd, spec{.kind = grid_kind::beta, .steps = 400}).size() == s.size());
}

TEST_CASE("the Beta quantile against closed forms", "[grid][comfy]") {
  for (const double p : {1e-3, 0.1, 0.25, 0.5, 0.8, 0.999}) {
    INFO(p);
    CHECK(detail::beta_ppf(p, 1, 1) == Approx(p).epsilon(1e-14));
    CHECK(detail::beta_ppf(p, 2, 1) == Approx(std::sqrt(p)).epsilon(1e-14));
    CHECK(detail::beta_ppf(p, 1, 3) == Approx(-std::expm1(std::log1p(-p) / 3)).epsilon(1e-13));  // 1 − (1 − p)^⅓
    const double arcsine = std::pow(std::sin(std::numbers::pi * p / 2), 2);  // Beta(½, ½)
    CHECK(detail::beta_ppf(p, 0.5, 0.5) == Approx(arcsine).epsilon(1e-13));
    CHECK(detail::beta_cdf(detail::beta_ppf(p, 0.6, 0.6), 0.6, 0.6) == Approx(p).epsilon(1e-13));
  }
  CHECK(detail::beta_ppf(0.5, 0.6, 0.6) == Approx(0.5).epsilon(1e-15));
}

TEST_CASE("grid names: ComfyUI's with dashes, typos get a suggestion", "[grid][comfy]") {
  for (const grid_kind k : all_grid_kinds) CHECK(parse_grid_kind(to_string(k)) == k);
  CHECK(parse_grid_kind("sgm-uniform") == grid_kind::sgm_uniform);
  CHECK_CONFIG_ERROR(parse_grid_kind("sgm_uniform"), "did you mean \"sgm-uniform\"?");
  CHECK_CONFIG_ERROR(parse_grid_kind("karas"), "did you mean \"karras\"?");
  CHECK_CONFIG_ERROR(parse_grid_kind("kl-optimum"), "did you mean \"kl-optimal\"?");
  CHECK_CONFIG_ERROR(parse_grid_kind("cosine"), "grid kind \"cosine\" is unknown; expected uniform, uniform-logsnr");
  CHECK(ferry_test::message_of([] { parse_grid_kind("cosine"); }).find("did you mean") == std::string::npos);
  CHECK_CONFIG_ERROR(parse_beta_schedule("scaled-linear"), "did you mean \"scaled_linear\"?");
}

TEST_CASE("a grid that needs a discrete table on a process without one names both", "[grid][comfy]") {
  const grid_spec<double> simple{.kind = grid_kind::simple, .steps = 10};
  CHECK_CONFIG_ERROR(make_grid(edm<double>{}, simple), "grid: simple needs a discrete sigma table (discrete_vp, or flow with "
                                                         "num_train_timesteps), but the process is edm");
  CHECK_CONFIG_ERROR(grid_sigmas(flow<double>(3.0), spec{.kind = grid_kind::normal, .steps = 10}),
                     "grid: normal needs a discrete sigma table (discrete_vp, or flow with num_train_timesteps), but the process is "
                     "flow without num_train_timesteps");
  CHECK_CONFIG_ERROR(make_grid(vp_linear<double>{}, spec{.kind = grid_kind::ddim_uniform, .steps = 10}), "the process is vp_linear");
  CHECK_CONFIG_ERROR(make_grid(ve<double>{}, spec{.kind = grid_kind::beta, .steps = 10}), "the process is ve");
  CHECK_CONFIG_ERROR(make_grid(vp_cosine<double>{}, spec{.kind = grid_kind::kl_optimal, .steps = 10}),
                     "grid: kl-optimal needs sigma_min and sigma_max, or a process with a sigma range");
  // … while the rules that read only a σ range take the process's own (EDM's 0.002 … 80) or the options
  // (in ComfyUI's float32: atan 80 is rounded to 2⁻²³·1.56, which tan magnifies by 1 + σ² to 5e-6 relative)
  const std::vector<double> kl = grid_sigmas(edm<double>{}, spec{.kind = grid_kind::kl_optimal, .steps = 4});
  CHECK(kl.front() == Approx(80).epsilon(1e-5));
  CHECK(kl[3] == Approx(0.002).epsilon(1e-6));
  CHECK(grid_sigmas(vp_cosine<double>{}, spec{.kind = grid_kind::kl_optimal, .steps = 4, .sigma_min = 0.1, .sigma_max = 10})[0] ==
        Approx(10).epsilon(1e-6));
  // … and AYS, GITS, polyexponential and vp read nothing of the process (no range check either)
  CHECK(grid_sigmas(edm<double>{}, spec{.kind = grid_kind::ays_sd1, .steps = 10}) ==
        grid_sigmas(discrete_vp<double>::comfy(), spec{.kind = grid_kind::ays_sd1, .steps = 10}));
  CHECK_CONFIG_ERROR(make_grid(flow<double>::discrete(3.0, 1000), spec{.kind = grid_kind::gits, .steps = 10}),
                     "grid: gits on flow: sigmas: entry 0 is 14.614641189575195; a flow's sigma lies in [0, 1]");
}

TEST_CASE("ComfyUI's options: out of range, or on a kind that does not read them", "[grid][comfy]") {
  const auto sd = discrete_vp<double>::comfy();
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::beta, .steps = 10, .alpha = 0}), "grid: alpha=0 must lie in (0, 50]");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::beta, .steps = 10, .beta = 60}), "grid: beta=60 must lie in (0, 50]");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::karras, .steps = 10, .alpha = 0.5}),
                     "grid: alpha is an option of beta, not of karras");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::gits, .steps = 10, .coeff = 1.23}),
                     "grid: coeff=1.23 is not one of GITS's coefficients 0.80, 0.85, ..., 1.50");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::gits, .steps = 10, .coeff = 1.55}), "coeff=1.55");
  CHECK(grid_sigmas(sd, spec{.kind = grid_kind::gits, .steps = 4, .coeff = 0.8}).size() == 5);
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::gits, .steps = 1}), "grid: gits needs steps >= 2, got 1");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::kl_optimal, .steps = 1}), "grid: kl-optimal needs steps >= 2, got 1");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::vp, .steps = 10, .eps_s = 0}), "grid: eps_s=0 must lie in (0, 1)");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::vp, .steps = 10, .beta_d = -1}), "grid: beta_d=-1 must be finite and >= 0");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::vp, .steps = 10, .beta_d = 0, .beta_min = 0}), "beta_d + beta_min > 0");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::exponential, .steps = 10, .eps_s = 0.01}),
                     "grid: eps_s is an option of vp, not of exponential");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::polyexponential, .steps = 10, .sigma_min = 20}),
                     "grid: polyexponential needs 0 < sigma_min < sigma_max < inf, got sigma_min=20, sigma_max=14.614642");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::polyexponential, .steps = 10, .rho = 0}), "grid: rho=0 must be finite and > 0");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::simple, .steps = 10, .sigma_max = 5}), "grid: simple takes no sigma_min or sigma_max");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::normal, .steps = 10, .t_max = 500}),
                     "grid: normal on discrete_vp is a sigma list; t_min and t_max must be unset");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::karras, .steps = 10, .t_max = 500}), "t_min and t_max must be unset");
  CHECK_CONFIG_ERROR(make_grid(sd, spec{.kind = grid_kind::ays_sd1, .steps = 10, .final_zero = false}),
                     "grid: ays-sd1 always ends at sigma = 0 (ComfyUI's list); final_zero=false is not available");
  // k-diffusion's rules drop their appended 0 on request: steps + 1 points from σ_max to σ_min
  const std::vector<double> k = grid_sigmas(sd, spec{.kind = grid_kind::karras, .steps = 5, .final_zero = false});
  REQUIRE(k.size() == 6);
  CHECK(k.front() == Approx(sd.sigma_edm(999)).epsilon(1e-15));
  CHECK(k.back() == Approx(sd.sigma_edm(0)).epsilon(1e-15));
}

TEST_CASE("the table factories refuse what cannot be a table", "[grid][comfy][process]") {
  CHECK_CONFIG_ERROR(discrete_vp<double>::comfy(beta_schedule::exp), "beta_schedule exp is diffusers' HeunDiscreteScheduler table");
  CHECK_CONFIG_ERROR(discrete_vp<double>::comfy(beta_schedule::scaled_linear, 1000, 0, 0.012), "discrete_vp: beta_start=0 must lie in (0, 1)");
  CHECK_CONFIG_ERROR(discrete_vp<double>::comfy(beta_schedule::linear, 1000, 0.0001, 1.5), "discrete_vp: beta_end=1.5 must lie in (0, 1)");
  CHECK_CONFIG_ERROR(discrete_vp<double>::comfy(beta_schedule::scaled_linear, 1), "num_train_timesteps=1 must be at least 2");
  CHECK_THROWS_WITH(discrete_vp<double>::comfy(beta_schedule::scaled_linear, 1000, 0.00085, 0.999),
                    Catch::Contains("overflows the float32 table"));
  CHECK_CONFIG_ERROR(flow<double>::discrete(3.0, 1), "flow: num_train_timesteps=1 must be at least 2");
  CHECK_CONFIG_ERROR(flow<double>::discrete(-1.0, 1000), "flow: shift=-1 must be finite and > 0");
}

}  // namespace test_grid_comfy
