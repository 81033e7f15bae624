// DEIS with diffusers' float32 coefficients. diffusers evaluates DEIS's log-ρ integrals (ind_fn) on
// float32 tensors with NumPy float32 logs, and ind_fn(ρ_next) − ind_fn(ρ_cur) cancels: the exact
// double integrals land 4.8e-5 from its order-3 samples on the 12-step SD grid. deis_options::
// compat's diffusers_deis_coefficients reproduces that rounding as the policy's coefficient option.
#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <string>

#include "catch.hpp"
#include "test_support.hpp"
#include "ferry/compat/diffusers_deis.hpp"
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/solvers/detail/lagrange.hpp"
#include "ferry/solvers/ode/deis.hpp"

namespace test_deis_float32 {

using namespace ferry;

namespace {

const std::string& dir = ferry_test::reference_dir;
const nlohmann::json& reference_case(const std::string& name) { return ferry_test::reference_cases().at(name); }
using ferry_test::max_abs_diff;

struct deis_run {
  compat::diffusers_config cfg;
  compat::diffusers_grid grid;
  gaussian_mixture<double> model;
  batch<double> x;

  explicit deis_run(const nlohmann::json& c)
      : cfg(compat::parse_diffusers_config(c.at("scheduler_config"))),
        grid(compat::set_timesteps(cfg, c.at("steps").get<std::size_t>())),
        model(gaussian_mixture<double>::load(dir + "gmm.json")),
        x(io::read_npy(dir + "noise.npy").as_batch<double>()) {
    model.predicts = cfg.prediction_type;
    const double scale = compat::initial_scale(cfg, grid);
    for (double& v : x.view().span()) v *= scale;
  }

  // The run compat::sample makes, with the DEIS options given here.
  template <int Order>
  batch<double> with(const deis_options& o) {
    const discrete_vp<double> process(diffusers_alphas_cumprod(compat::config_betas(cfg)));
    const schedule<double> s = compat::to_schedule(grid);
    deis<Order, double> solver;
    solver.opt = o;
    ferry::sample(model, process, s, solver, x.view());
    return x;
  }

  batch<double> through_compat() {
    compat::sample(cfg, grid, model, x.view());
    return x;
  }
};

batch<double> reference(const std::string& name) { return io::read_npy(dir + name + ".npy").as_batch<double>(); }

}  // namespace

TEST_CASE("diffusers' DEIS samples are reproduced with its float32 coefficients", "[deis_f32]") {
  for (const std::string name : {"deis_o3_12", "deis_sd_12"}) {
    const nlohmann::json c = reference_case(name);
    const double d = max_abs_diff(deis_run(c).through_compat(), reference(name));
    INFO(name << ": max |ferry - diffusers| = " << d);
    CHECK(d < 5e-6);  // measured ~1e-14: the same float32 coefficients, the rest in double
  }
}

TEST_CASE("the exact and the float32 DEIS coefficients differ by diffusers' cancellation, not by the method",
          "[deis_f32]") {
  const nlohmann::json c = reference_case("deis_o3_12");
  const batch<double> ref = reference("deis_o3_12");
  const double exact = max_abs_diff(deis_run(c).with<3>({}), ref);
  const double f32 = max_abs_diff(deis_run(c).with<3>({.coefficients = compat::diffusers_deis_coefficients}), ref);
  const double f32_rn_log = max_abs_diff(deis_run(c).with<3>({.coefficients = compat::deis_float32_coefficients<detail::log_f32_rn>}), ref);
  INFO("exact " << exact << ", float32 with NumPy's log " << f32 << ", float32 with the correctly rounded log " << f32_rn_log);
  CHECK(exact > 1e-5);   // the default is the exact integral: 4.8e-5 off diffusers here
  CHECK(exact < 1e-4);   // … still within the parity tolerance
  CHECK(f32 < 5e-6);
  CHECK(f32 < exact / 100);
  CHECK(f32_rn_log > 100 * f32);  // the cancellation amplifies NumPy's log (≤ 3.8 ulp off): it must be emulated
}

TEST_CASE("diffusers' float32 ind_fn is the integral of the log-rho Lagrange basis", "[deis_f32]") {
  // Well separated nodes, no cancellation to speak of: float32 and exact agree to float32 precision.
  const std::array<float, 3> rho{1.0f, 1.7f, 2.9f};
  const float rho_t = 0.6f;
  for (std::size_t n : {std::size_t(2), std::size_t(3)}) {
    std::array<double, 3> v{};  // nodes log(ρ_j/ρ_0)
    for (std::size_t j = 0; j < n; ++j) v[j] = std::log(double(rho[j]) / double(rho[0]));
    const double v_t = std::log(double(rho_t) / double(rho[0]));
    double sum = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const double exact = double(rho[0]) * detail::lagrange_exp_integral(v, n, j, v_t);
      const double f32 = compat::detail::lagrange_log_integral_f32(rho, n, j, rho_t, detail::log_f32_rn);
      INFO("n = " << n << ", j = " << j << ": exact " << exact << ", float32 " << f32);
      CHECK(f32 == Approx(exact).epsilon(1e-5));
      sum += f32;
    }
    CHECK(sum == Approx(double(rho_t) - double(rho[0])).epsilon(1e-5));  // Σ_j ℓ_j = 1
  }
}

}  // namespace test_deis_float32
