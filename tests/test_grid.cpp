// Time grids against their defining formulas (Karras et al. 2022 Eq. 5, k-diffusion's exponential,
// DPM-Solver's uniform / logSNR / quadratic spacings), diffusers' flow-matching grid, final_zero,
// and every validation message.
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "test_support.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/process/ve.hpp"
#include "ferry/process/vp_cosine.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/driver/schedule.hpp"

namespace test_grid {

using namespace ferry;
using spec = grid_spec<double>;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// Karras et al. 2022, Eq. 5: σ_i = (σ_max^{1/ρ} + i/(N−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, i < N.
double karras_sigma(int i, int n, double smin, double smax, double rho) {
  const double a = std::pow(smax, 1 / rho), b = std::pow(smin, 1 / rho);
  return std::pow(a + (n == 1 ? 0.0 : double(i) / (n - 1)) * (b - a), rho);
}

}  // namespace

TEST_CASE("grid kinds parse from their CLI names and reject others listing them", "[grid]") {
  for (const auto* name : {"uniform", "uniform-logsnr", "quadratic", "karras", "exponential", "custom"})
    CHECK(to_string(parse_grid_kind(name)) == name);
  CHECK(parse_grid_kind("uniform-logsnr") == grid_kind::uniform_logsnr);
  CHECK_CONFIG_ERROR(parse_grid_kind("linear"),
                     "\"linear\" is unknown; expected uniform, uniform-logsnr, quadratic, karras, exponential, custom, simple, "
                     "sgm-uniform, normal, ddim-uniform, beta, linear-quadratic, kl-optimal, ays-sd1, ays-sdxl, gits, "
                     "polyexponential or vp");
}

TEST_CASE("karras grid on EDM is k-diffusion's get_sigmas_karras for the reference cases", "[grid]") {
  int native = 0;
  const nlohmann::json& cases = ferry_test::reference_cases();
  for (const auto& [name, c] : cases.items()) {
    if (c["kind"] != "native" || c["spacing"] != "karras") continue;
    ++native;
    const int n = c["steps"];
    const double smin = c["sigma_min"], smax = c["sigma_max"], rho = c["rho"];
    const edm<double> p(smin, smax);
    const auto g = make_grid(p, spec{.kind = grid_kind::karras, .steps = std::size_t(n), .rho = rho});
    INFO(name);
    REQUIRE(g.size() == std::size_t(n) + 1);  // n sigmas, then append_zero
    for (int i = 0; i < n; ++i) {
      CHECK(g[i].sigma == Approx(karras_sigma(i, n, smin, smax, rho)).epsilon(1e-14));
      CHECK(g[i].t == g[i].sigma);
      CHECK(g[i].alpha == 1);
    }
    CHECK(g.front().sigma == Approx(80).epsilon(1e-15));
    CHECK(g[n - 1].sigma == Approx(0.002).epsilon(1e-14));
    CHECK(g.back().sigma == 0);
    CHECK(g.back().lambda == inf);
  }
  CHECK(native == 5);
}

TEST_CASE("karras grid on a VP process is Eq. 5 in sigma/alpha, mapped through t_of_lambda", "[grid]") {
  const vp_linear<double> p(0.1, 20, 1e-5);  // σ̃(1e-3) ≈ 0.01, so σ̃ = 0.002 needs a lower t_min
  const auto g = make_grid(p, spec{.kind = grid_kind::karras, .steps = 10, .rho = 7, .sigma_min = 0.002, .sigma_max = 80});
  REQUIRE(g.size() == 11);
  for (int i = 0; i < 10; ++i) {
    CHECK(g[i].sigma / g[i].alpha == Approx(karras_sigma(i, 10, 0.002, 80, 7)).epsilon(1e-12));
    CHECK(g[i].alpha * g[i].alpha + g[i].sigma * g[i].sigma == Approx(1).epsilon(1e-15));
    CHECK(g[i].d_sigma == p.d_sigma(g[i].t));  // levels come from level_at
  }
  // default range: the process's own [t_min, t_max], so σ̃ runs from σ̃(1) to σ̃(1e-3)
  const auto d = make_grid(p, spec{.kind = grid_kind::karras, .steps = 6, .rho = 3});
  CHECK(d.front().t == Approx(1).epsilon(1e-14));
  CHECK(d[5].t == Approx(1e-5).epsilon(1e-12));
  for (int i = 0; i < 6; ++i)
    CHECK(d[i].sigma_edm() == Approx(karras_sigma(i, 6, p.sigma(1e-5) / p.alpha(1e-5), p.sigma(1) / p.alpha(1), 3)).epsilon(1e-12));
}

TEST_CASE("exponential grid is uniform in log(sigma/alpha) (k-diffusion get_sigmas_exponential)", "[grid]") {
  const edm<double> p;
  const auto g = make_grid(p, spec{.kind = grid_kind::exponential, .steps = 9});
  REQUIRE(g.size() == 10);
  for (int i = 0; i < 9; ++i)
    CHECK(g[i].sigma == Approx(std::exp(std::log(80.0) + i / 8.0 * (std::log(0.002) - std::log(80.0)))).epsilon(1e-14));
  CHECK(g.back().sigma == 0);
  // on VE its σ̃ range is the process's σ_min..σ_max, and the grid is then also uniform in t
  const ve<double> v;
  const auto gv = make_grid(v, spec{.kind = grid_kind::exponential, .steps = 5, .final_zero = false});
  REQUIRE(gv.size() == 6);
  for (int i = 0; i <= 5; ++i) CHECK(gv[i].t == Approx(1 - i / 5.0).margin(1e-14));
}

TEST_CASE("uniform, uniform-logsnr and quadratic grids space t, lambda and sqrt(t) evenly", "[grid]") {
  const vp_cosine<double> p;
  const double hi = p.t_max(), lo = p.t_min();
  const auto u = make_grid(p, spec{.kind = grid_kind::uniform, .steps = 8});
  REQUIRE(u.size() == 9);  // final_zero defaults to false: steps + 1 points ending at t_min
  CHECK(u.front().t == hi);
  CHECK(u.back().t == lo);
  for (int i = 0; i <= 8; ++i) CHECK(u[i].t == Approx(hi + i / 8.0 * (lo - hi)).epsilon(1e-15));

  const auto l = make_grid(p, spec{.kind = grid_kind::uniform_logsnr, .steps = 8});
  REQUIRE(l.size() == 9);
  const double h = (p.lambda(lo) - p.lambda(hi)) / 8;
  for (int i = 0; i <= 8; ++i) CHECK(l[i].lambda == Approx(p.lambda(hi) + i * h).epsilon(1e-12));
  CHECK(l.front().t == hi);
  CHECK(l.back().t == lo);

  const auto q = make_grid(p, spec{.kind = grid_kind::quadratic, .steps = 8});
  REQUIRE(q.size() == 9);
  for (int i = 0; i <= 8; ++i) {
    const double r = std::sqrt(hi) + i / 8.0 * (std::sqrt(lo) - std::sqrt(hi));
    CHECK(q[i].t == Approx(r * r).epsilon(1e-14));
  }
  CHECK(q.back().t == lo);
}

TEST_CASE("uniform flow grid with final_zero is diffusers' FlowMatchEuler grid", "[grid]") {
  const auto& cases = ferry_test::reference_cases();
  for (const auto* name : {"flow_euler_12_shift1", "flow_euler_28_shift3"}) {
    const auto& c = cases[name];
    const double shift = c["scheduler_config"]["shift"];
    const std::vector<double> ref = c["grid"]["sigmas"];
    // diffusers runs linspace(1, σ_min·1000) / 1000 with σ_min the shifted 1/1000, then shifts again:
    // in ferry's time that is a uniform grid from 1 down to t_min = shift(1e-3).
    const double t_min = shift * 1e-3 / (1 + (shift - 1) * 1e-3);
    const flow<double> p(shift, t_min);
    const auto g = make_grid(p, spec{.kind = grid_kind::uniform, .steps = c["steps"], .final_zero = true});
    INFO(name);
    REQUIRE(g.size() == ref.size());
    for (std::size_t i = 0; i < ref.size(); ++i) CHECK(g[i].sigma == Approx(ref[i]).margin(2e-7));  // float32 peer
    CHECK(g.front().alpha == 0);
    CHECK(g.front().lambda == -inf);
    CHECK_NOTHROW(make_schedule(g));
  }
}

TEST_CASE("final_zero ends the grid at the data level; defaults follow k-diffusion and DPM-Solver", "[grid]") {
  const vp_linear<double> vp;
  const auto k = make_grid(vp, spec{.kind = grid_kind::karras, .steps = 5});
  const auto u = make_grid(vp, spec{.kind = grid_kind::uniform, .steps = 5});
  const auto uz = make_grid(vp, spec{.kind = grid_kind::uniform, .steps = 5, .final_zero = true});
  const auto kn = make_grid(vp, spec{.kind = grid_kind::karras, .steps = 5, .final_zero = false});
  CHECK(k.size() == 6);
  CHECK(u.size() == 6);
  CHECK(uz.size() == 6);
  CHECK(kn.size() == 6);
  CHECK(k.back().sigma == 0);                 // karras: append_zero by default
  CHECK(u.back().t == vp.t_min());            // uniform: ends at t_min by default
  CHECK(u.back().sigma > 0);
  CHECK(uz[4].t == vp.t_min());               // 5 points down to t_min, then the data level
  CHECK(kn.back().t == Approx(vp.t_min()).epsilon(1e-12));
  for (const auto& z : {k.back(), uz.back()}) {
    CHECK(z.t == 0);
    CHECK(z.alpha == 1);
    CHECK(z.sigma == 0);
    CHECK(z.lambda == inf);
  }
  // VE never reaches σ = 0; its data level is placed at t = 0 below σ(0) = σ_min
  const ve<double> v;
  const auto gv = make_grid(v, spec{.kind = grid_kind::uniform, .steps = 4, .final_zero = true});
  REQUIRE(gv.size() == 5);
  CHECK(gv[3].t == 0);
  CHECK(gv[3].sigma == Approx(0.01).epsilon(1e-15));
  CHECK(gv[4].t == 0);
  CHECK(gv[4].sigma == 0);
  CHECK(gv[4].alpha == 1);
  CHECK(gv[4].d_sigma == 0);
  // flow keeps its derivatives at t = 0: σ' = shift, α' = −shift
  const auto df = data_level(flow<double>(3));
  CHECK(df.d_sigma == 3);
  CHECK(df.d_alpha == -3);
  CHECK_NOTHROW(make_schedule(gv));
  // one step straight to data
  const auto one = make_grid(edm<double>{}, spec{.kind = grid_kind::karras, .steps = 1});
  REQUIRE(one.size() == 2);
  CHECK(one[0].sigma == Approx(80).epsilon(1e-15));
}

TEST_CASE("grid ranges: t or sigma overrides, resolved end by end", "[grid]") {
  const vp_linear<double> p;
  const auto a = make_grid(p, spec{.kind = grid_kind::uniform, .steps = 4, .t_min = 0.2, .t_max = 0.6});
  CHECK(a.front().t == 0.6);
  CHECK(a.back().t == 0.2);
  CHECK(a[2].t == Approx(0.4).epsilon(1e-15));
  const auto b = make_grid(p, spec{.kind = grid_kind::uniform, .steps = 4, .sigma_max = 10});
  CHECK(b.front().sigma_edm() == Approx(10).epsilon(1e-13));
  CHECK(b.back().t == p.t_min());
  const auto c = make_grid(edm<double>(0.1, 10), spec{.kind = grid_kind::uniform, .steps = 3});
  CHECK(c.front().sigma == 10);
  CHECK(c.back().sigma == 0.1);
}

TEST_CASE("custom grids take the caller's times and check them", "[grid]") {
  const vp_linear<double> p;
  const auto g = make_grid(p, spec{.kind = grid_kind::custom, .times = {0.9, 0.5, 0.1}});
  REQUIRE(g.size() == 3);  // 2 steps
  CHECK(g[1].t == 0.5);
  CHECK(g[1].alpha == p.alpha(0.5));
  const auto z = make_grid(p, spec{.kind = grid_kind::custom, .steps = 3, .final_zero = true, .times = {0.9, 0.5, 0.1}});
  REQUIRE(z.size() == 4);
  CHECK(z.back().sigma == 0);
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::custom, .steps = 5, .times = {0.9, 0.5, 0.1}}),
                     "steps=5 but the 3 custom times give 2 steps");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::custom, .times = {0.9, 0.5, 0.5}}), "time 2 (t=0.5) repeats");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::custom, .times = {0.5, 0.9}}), "is above time 0");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::custom, .times = {1.5, 0.5}}), "custom time 0 is t=1.5, outside");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::custom, .times = {0.5, std::nan("")}}), "custom time 1");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::custom, .times = {0.5}}), "at least 2 times");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::custom, .t_min = 0.1, .times = {0.9, 0.5}}), "custom times carry");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::uniform, .steps = 2, .times = {0.9, 0.5}}), "use kind custom");
}

TEST_CASE("grid specs are validated with one-line messages naming the problem", "[grid]") {
  const vp_linear<double> p;
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::uniform}), "steps=0; need at least 1");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::karras, .steps = 4, .rho = 0}), "rho=0");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::karras, .steps = 4, .rho = -inf}), "rho=");
  CHECK_CONFIG_ERROR(make_grid(edm<double>{}, spec{.kind = grid_kind::karras, .steps = 4, .sigma_min = 80, .sigma_max = 1}),
                     "sigma_min=80 must be below sigma_max=1");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::uniform, .steps = 4, .t_min = 0.5, .t_max = 0.5}),
                     "t_min=0.5 must be below t_max=0.5");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::uniform, .steps = 4, .t_max = 0.9, .sigma_max = 3}),
                     "give t_max or sigma_max, not both");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::uniform, .steps = 4, .t_max = 1.5}),
                     "t_max=1.5 is outside the process's time range");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::uniform, .steps = 4, .t_min = inf}), "t_min=inf");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::karras, .steps = 4, .sigma_max = 1e6}),
                     "sigma_max=1000000 maps to t=");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::karras, .steps = 4, .sigma_min = -1}),
                     "sigma_min=-1 must be finite and > 0");
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::uniform, .steps = 4, .t_min = 0.7, .sigma_max = 0.5}),
                     "the range is empty");
  // flow's t_max = 1 is pure noise (σ/α = ∞): a σ-spaced grid needs a finite end
  CHECK_CONFIG_ERROR(make_grid(flow<double>{}, spec{.kind = grid_kind::karras, .steps = 4}),
                     "karras spacing needs a finite log-SNR at both ends");
  CHECK_NOTHROW(make_grid(flow<double>{}, spec{.kind = grid_kind::karras, .steps = 4, .sigma_max = 100}));
  CHECK_CONFIG_ERROR(make_grid(edm<double>{}, spec{.kind = grid_kind::uniform, .steps = 4, .t_max = inf}), "t_max=inf");
  // so many steps that neighbouring levels coincide
  CHECK_CONFIG_ERROR(make_grid(p, spec{.kind = grid_kind::uniform, .steps = 100, .t_min = 0.5, .t_max = 0.5 + 1e-14}),
                     "noise must decrease strictly");
}

TEST_CASE("every generated grid is a valid schedule with noise strictly decreasing", "[grid]") {
  const auto check_all = [](const auto& p, std::optional<double> t_max = {}) {
    for (const auto kind : {grid_kind::uniform, grid_kind::uniform_logsnr, grid_kind::quadratic, grid_kind::karras,
                            grid_kind::exponential})
      for (const bool zero : {false, true}) {
        INFO(to_string(kind) << ", final_zero " << zero);
        const auto g = make_grid(p, spec{.kind = kind, .steps = 17, .t_max = t_max, .final_zero = zero});
        CHECK(g.size() == 18);
        CHECK_NOTHROW(make_schedule(g));
      }
  };
  check_all(vp_linear<double>{});
  check_all(vp_cosine<double>{});
  check_all(ve<double>{});
  check_all(edm<double>{});
  check_all(flow<double>(3, 1e-3), 0.999);  // below flow's pure-noise end, where λ = −∞
}

}  // namespace test_grid
