// Numerical guards and hostile-input helpers (issue 11): the driver's finiteness check names the
// step, σ and the first bad sample; a caller can switch it off; the escaping and "did you mean"
// helpers every error message uses; the .npy parser on corrupt bytes.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "runtime_support.hpp"
#include "ferry/compat/diffusers_config.hpp"
#include "ferry/core/error.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/discrete_vp.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/solvers/ode/euler.hpp"
#include "ferry/runtime/registry.hpp"

namespace test_reliability {

using namespace ferry;

namespace {
/// A data predictor that returns x (so Euler leaves x as it is) except that the sample whose first
/// coordinate is `bad_row` (numeric_message writes each row's index there) turns NaN once σ falls
/// below `below`: keyed on the sample, not on its place in a chunk.
struct nan_below {
  prediction predicts = prediction::data;
  double bad_row = 5;
  double below = 1.0;
  void operator()(const_batch_view<double> x, const level<double>& lv, batch_view<double> out) const {
    for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = x.data[i];
    if (lv.sigma < below)
      for (std::size_t r = 0; r < x.rows; ++r)
        if (x(r, 0) == bad_row) out(r, 0) = std::numeric_limits<double>::quiet_NaN();
  }
};

std::string numeric_message(sample_options opt) {
  const edm<double> process;
  const schedule<double> sched = make_schedule(make_grid(process, {.kind = grid_kind::karras, .steps = 10}));
  nan_below model;
  batch<double> x(16, 3);
  for (std::size_t r = 0; r < x.rows(); ++r) x(r, 0) = double(r), x(r, 1) = 0.5, x(r, 2) = -1;
  euler<double> solver;
  try {
    sample(model, process, sched, solver, x.view(), no_observer{}, opt);
  } catch (const numeric_error& e) {
    return e.what();
  }
  return std::isnan(x(5, 0)) ? "<no error, NaN kept>" : "<no error>";
}
}  // namespace

TEST_CASE("the driver's finiteness check names the step, sigma and the first bad sample", "[reliability]") {
  // Karras σ from 80 to 0.002 over 10 steps: the first level below 1 is the model call of the
  // step that starts there; the check fires after that step.
  const std::string serial = numeric_message({});
  INFO(serial);
  CHECK(serial.find("not finite after step ") != std::string::npos);
  CHECK(serial.find("(sigma ") != std::string::npos);
  CHECK(serial.find("first at sample 5") != std::string::npos);
  // Row chunks report the row in the whole batch, not in the chunk.
  const std::string chunked = numeric_message({.threads = 2, .chunk_rows = 4});
  CHECK(chunked.find("first at sample 5") != std::string::npos);
  CHECK(chunked.substr(0, chunked.find(", first")) == serial.substr(0, serial.find(", first")));
  // Off on the caller's fast path: no throw, the NaN stays in the state.
  CHECK(numeric_message({.check_finite = false}) == "<no error, NaN kept>");
}

TEST_CASE("escape shows non-printable bytes as \\xNN and is idempotent", "[reliability]") {
  using detail::escape;
  CHECK(escape("plain ASCII, with \\ and 'quotes'") == "plain ASCII, with \\ and 'quotes'");
  CHECK(escape(std::string("a\x93NUMPY\x01\x00z", 10)) == "a\\x93NUMPY\\x01\\x00z");
  CHECK(escape("line\nbreak\ttab\x1b[2J\x7f") == "line\\x0abreak\\x09tab\\x1b[2J\\x7f");
  CHECK(escape("caf\xc3\xa9") == "caf\\xc3\\xa9");
  const std::string once = escape("\xdf\xff\n");
  CHECK(escape(once) == once);
}

TEST_CASE("did_you_mean suggests the nearest name within a few edits", "[reliability]") {
  using detail::did_you_mean;
  using detail::edit_distance;
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("euler", "euler") == 0);
  CHECK(did_you_mean("eulr", solver_names) == " (did you mean \"euler\"?)");
  CHECK(did_you_mean("dpmpp2m", solver_names) == " (did you mean \"dpmpp-2m\"?)");
  CHECK(did_you_mean("unicp", solver_names) == " (did you mean \"unipc\"?)");
  CHECK(did_you_mean("zzzzzzzz", solver_names).empty());
  CHECK(did_you_mean("--stpes", {"--steps", "--out"}, "") == " (did you mean --steps?)");
  const std::string msg = [] {
    try {
      with_solver({.name = "hune"}, [](auto) { return 0; });
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  CHECK(msg.find("did you mean \"heun\"") != std::string::npos);
}

TEST_CASE("parse_npy rejects every corruption of a valid file with an escaped one-line io_error", "[reliability][io]") {
  const double v[6] = {1, 2, 3, 4, 5, 6};
  const std::string good = io::format_npy(v, {3, 2});
  REQUIRE(io::parse_npy(good).size() == 6);
  // Every single-byte change of the header, and every truncation: either a valid parse or an io_error
  // whose message is one printable line.
  std::size_t rejected = 0, accepted = 0;
  auto check = [&](const std::string& bytes) {
    try {
      (void)io::parse_npy(bytes, "f.npy");
      ++accepted;
    } catch (const error& e) {
      const std::string m = e.what();
      bool clean = m.rfind("f.npy: ", 0) == 0;
      for (char c : m) clean = clean && static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
      if (!clean) FAIL_CHECK("unclean message: " << detail::escape(m));
      ++rejected;
    }
  };
  for (std::size_t i = 0; i < 64; ++i)
    for (int b : {0x00, 0x0a, 0x1b, 0x27, 0x29, 0x2c, 0x7b, 0x7d, 0x93, 0xdf, 0xff}) {
      std::string s = good;
      s[i] = char(b);
      check(s);
    }
  for (std::size_t n = 0; n < good.size(); ++n) check(good.substr(0, n));
  CHECK(rejected > 600);
  CHECK(accepted > 0);  // e.g. padding spaces changed to '\n'
}

namespace {
/// Every registry solver, in scalar type T, over `steps` levels of `process` from x = σ_0·z: the
/// state stays finite, and lands where the mixture's mass is (|x| < 3) except for the solvers in
/// `unbounded`, whose spread on that grid is a property of the method, not of the precision.
template <class T, class P>
void sweep_registry(const P& process, const grid_spec<T>& spec, const char* label,
                    std::initializer_list<std::string_view> unbounded = {}) {
  auto model = gaussian_mixture<T>::load(FERRY_TEST_DATA "/diffusion/gmm.json");
  model.predicts = prediction::data;
  const schedule<T> sched = make_schedule(make_grid(process, spec));
  for (const std::string_view name : solver_names) {
    INFO(label << ", solver " << name);
    batch<T> x(32, 2);
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = T(sched.points.front().sigma * std::sin(1.7 * double(i) + 0.3));
    // check_finite is on (the default): a NaN or Inf in any step throws numeric_error.
    // Keyed step noise, so that the stochastic samplers run too.
    const solver_settings s = ferry_test::sweep_settings(name);
    CHECK_NOTHROW(ferry_test::run_named<P, gaussian_mixture<T>, T>(s, process, model, sched, x.view(), runtime_noise<T>{keyed_noise{7}, {}, {}}));
    bool finite = true;
    double spread = 0;
    for (std::size_t i = 0; i < x.size(); ++i) finite = finite && std::isfinite(x.data()[i]), spread = std::max(spread, std::abs(double(x.data()[i])));
    CHECK(finite);
    if (std::find(unbounded.begin(), unbounded.end(), name) == unbounded.end())
      CHECK(spread < 3);  // the mixture's mass lies within |x| < 2; a blown-up run lands far outside
  }
}
}  // namespace

TEST_CASE("float32 runs of every registry solver stay finite on 1000-step and zero-terminal-SNR grids",
          "[reliability][float]") {
  // Two process types only (each instantiates every solver): diffusers' discrete VP and EDM.
  // 1000 uniform steps of the linear β table (h = λ_{i+1} − λ_i is tiny: expm1 forms matter).
  // Not bounded, for reasons double precision shares (measured with the same start and keys):
  // LCM needs a consistency-distilled model — with the exact one its c_skip·x + c_out·x̂0 exceeds
  // the trajectory on fine grids and compounds (EDM, 1000 steps: 1e13); PC-Langevin's corrector at
  // a fixed snr does not shrink with σ (linear betas, 1000 steps: 4.8 in double, 22 in float);
  // the third-order SDE multistep extrapolates across the zero-SNR grid's first step (σ̃ 4096 →
  // 6.6 over 25 steps: 5.2 in double and in float; 1.5 at 1000 steps), and so do SA-Solver's
  // third-order predictors there (3.8 in double and in float; PECE 2.7, or 3.2 with the table's interval).
  const auto linear = discrete_vp<float>::diffusers(beta_schedule::linear, 1000, 0.0001, 0.02, false);
  sweep_registry<float>(linear, {.kind = grid_kind::uniform, .steps = 1000}, "linear betas, 1000 uniform steps",
                        {"lcm", "pc-langevin"});
  // Stable Diffusion's β table rescaled to zero terminal SNR (Lin et al. 2024), ᾱ_T clamped to 2⁻²⁴ as
  // diffusers does: σ̃ reaches 4096 and α 2⁻¹², the hardest start a float run meets.
  const auto zsnr = discrete_vp<float>::diffusers(beta_schedule::scaled_linear, 1000, 0.00085, 0.012, true);
  sweep_registry<float>(zsnr, {.kind = grid_kind::uniform, .steps = 1000}, "zero-terminal-SNR, 1000 steps",
                        {"lcm", "pc-langevin"});
  sweep_registry<float>(zsnr, {.kind = grid_kind::uniform, .steps = 25}, "zero-terminal-SNR, 25 steps",
                        {"lcm", "pc-langevin", "dpmpp-3m-sde", "sa-solver", "sa-solver-pece"});
  // EDM with the final step to σ = 0 (no division by σ = 0 in any solver).
  sweep_registry<float>(edm<float>{}, {.kind = grid_kind::karras, .steps = 1000}, "edm karras to 0, 1000 steps",
                        {"lcm", "pc-langevin"});
}

TEST_CASE("fuzz regression: a beta schedule that drives alphas_cumprod to 0 is a config_error", "[reliability][fuzz]") {
  // fuzz_scheduler_config found this (tests/fuzz/corpus/fuzz_scheduler_config/crash_beta_underflow.json):
  // scaled_linear β up to 0.412 over 1000 steps underflows the float32 ᾱ, and set_timesteps made NaN σs.
  const auto j = nlohmann::json::parse(R"({"_class_name": "EulerDiscreteScheduler", "beta_schedule": "scaled_linear",
                                           "beta_start": 0.00082, "beta_end": 0.412, "num_train_timesteps": 1000})");
  std::string msg;
  try {
    (void)compat::parse_diffusers_config(j, std::nullopt, "cfg.json");
  } catch (const config_error& e) {
    msg = e.what();
  }
  INFO(msg);
  CHECK(msg.find("cfg.json: the beta schedule (beta_start, beta_end) drives alphas_cumprod to ") == 0);
  // The zero-terminal-SNR rescale ends at ᾱ = 0 on purpose and stays accepted.
  const auto z = nlohmann::json::parse(R"({"_class_name": "EulerDiscreteScheduler", "rescale_betas_zero_snr": true})");
  CHECK_NOTHROW(compat::parse_diffusers_config(z));
}

}  // namespace test_reliability
