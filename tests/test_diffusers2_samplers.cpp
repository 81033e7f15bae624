// diffusers' KDPM2DiscreteScheduler, KDPM2AncestralDiscreteScheduler and DPMSolverSDEScheduler
// (issue 18 §1) as ferry policies, against diffusers' own loops (tests/data/diffusers2, diffusers
// 58eb52c). Each case runs through ferry::sample on the EDM process over the σ's of the case's own
// grid (grid.sigmas, de-interleaved: the class visits each σ twice), x = init_noise_sigma·z, with
// the exact mixture answering x̂0 (the prediction type only changes how diffusers converts, not x̂0),
// through the run-time boundary (runtime_support.hpp): the policies are the runtime library's.
//
// Draws: diffusers' step() call i uses step_noise[i] (40, N, D); ferry's step i is calls 2i, 2i + 1,
// so the file is read as (20, 2, N, D): KDPM2Ancestral draws in its second call (stream 0 of the file
// shifted by one array), DPMSolverSDE in both (streams 0 and 1).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "runtime_support.hpp"
#include "test_support.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/driver/pf_ode.hpp"
#include "ferry/grid/sigma_list.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/solvers/sde/dpm_2.hpp"
#include "ferry/solvers/sde/dpmpp_sde.hpp"

namespace test_diffusers2_samplers {

// The reference set: tests/data/diffusers2/ (cases.json and its arrays).
const ferry_test::reference_set& refs = ferry_test::diffusers2_refs;

using namespace ferry;

namespace {

using mixture = gaussian_mixture<double>;
const std::vector<double>& step_noise() {
  static const std::vector<double> w = [] {
    const io::npy_array a = io::read_npy(refs.dir + "step_noise.npy");
    REQUIRE(a.ndim() == 3);
    return a.as<double>();
  }();
  return w;
}

// The σ's the class steps through: its interleaved grid.sigmas without the repeats (σ_0, σ_1, …, 0).
std::vector<double> visited_sigmas(const nlohmann::json& c) {
  std::vector<double> out;
  for (double v : c.at("grid").at("sigmas").get<std::vector<double>>())
    if (out.empty() || v != out.back()) out.push_back(v);
  return out;
}

// diffusers' call i → ferry's step i/2, stream i%2; `first_call` shifts the file so that stream 0 of
// step i is call 2i + first_call.
injected_noise<double> calls_as_streams(std::size_t first_call, std::size_t rows, std::size_t cols) {
  const std::size_t arrays = step_noise().size() / (rows * cols) - first_call;
  return {step_noise().data() + first_call * rows * cols, arrays / 2, rows, cols, 0, 2};
}

template <class Solver>
batch<double> run_case(const std::string& name, Solver solver, std::size_t first_call, sample_options opt = {}) {
  const nlohmann::json& c = refs.cases().at(name);
  const std::vector<double> sigmas = visited_sigmas(c);
  const edm<double> process;
  const schedule<double> sched = make_schedule(levels_at_sigmas(process, std::span<const double>(sigmas)));
  const std::string spacing = c.at("scheduler_config").value("timestep_spacing", std::string("linspace"));
  const double init = spacing == "leading" ? std::sqrt(sigmas.front() * sigmas.front() + 1) : sigmas.front();
  mixture model = mixture::load(refs.dir + "gmm.json");
  batch<double> x = refs.load("noise");
  simd::lincomb<double, 1>(x.view().span(), {init}, {x.data()});
  const sample_stats st =
      ferry_test::run_erased(solver, process, model, sched, x.view(), ferry_test::injected(calls_as_streams(first_call, x.rows(), x.cols())), opt);
  if (opt.threads == 1 && opt.chunk_rows == 0) CHECK(st.nfe == c.at("grid").at("timesteps").size());  // one model call per step() call
  return x;
}

template <class Solver>
double diffusers_diff(const std::string& name, Solver solver, std::size_t first_call) {
  const batch<double> x = run_case(name, solver, first_call);
  const double d = ferry_test::max_abs_diff(x, refs.load(name));
  std::printf("[diffusers2] %-28s max |ferry - diffusers| = %.3g\n", name.c_str(), d);
  return d;
}

}  // namespace

TEST_CASE("KDPM2DiscreteScheduler is DPM-2", "[diffusers2][parity]") {
  for (const char* name : {"kdpm2_karras_8", "kdpm2_sd_12", "kdpm2_vpred_trailing_20"}) {
    INFO(name);
    CHECK(diffusers_diff(name, dpm_2<double>{}, 0) < 1e-4);
  }
}

TEST_CASE("KDPM2AncestralDiscreteScheduler is DPM-2 ancestral, drawing in its second call", "[diffusers2][parity]") {
  for (const char* name : {"kdpm2a_sd_12", "kdpm2a_karras_vpred_20"}) {
    INFO(name);
    CHECK(diffusers_diff(name, dpm_2_ancestral<double>(), 1) < 1e-4);
  }
}

TEST_CASE("DPMSolverSDEScheduler is dpmpp-sde with one injected array per call", "[diffusers2][parity]") {
  for (const char* name : {"dpmsde_karras_8", "dpmsde_sd_12", "dpmsde_vpred_snoise_12"}) {
    INFO(name);
    const double s_noise = refs.cases().at(name).at("step_kwargs").value("s_noise", 1.0);
    CHECK(diffusers_diff(name, dpmpp_sde<double>({.eta = 1, .s_noise = s_noise}), 0) < 1e-4);
  }
}

TEST_CASE("injected draws follow the rows, whatever the chunking", "[diffusers2][random]") {
  const batch<double> whole = run_case("dpmsde_sd_12", dpmpp_sde<double>{}, 0);
  const batch<double> chunked = run_case("dpmsde_sd_12", dpmpp_sde<double>{}, 0, {.threads = 2, .chunk_rows = 7});
  CHECK(std::equal(whole.data(), whole.data() + whole.size(), chunked.data()));
  const batch<double> a = run_case("kdpm2a_sd_12", dpm_2_ancestral<double>(), 1);
  const batch<double> b = run_case("kdpm2a_sd_12", dpm_2_ancestral<double>(), 1, {.threads = 2, .chunk_rows = 5});
  CHECK(std::equal(a.data(), a.data() + a.size(), b.data()));
}

}  // namespace test_diffusers2_samplers
