#include "demo_continuous.hpp"

#include <chrono>
#include <iostream>
#include <limits>
#include <sstream>

#include "ferry/grid/grid.hpp"
#include "ferry/io/atomic_file.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/runtime/registry.hpp"
#include "ferry/simd/lincomb.hpp"

namespace ferry::cli::demo {

schedule<double> karras(std::size_t steps, bool final_zero) {
  grid_spec<double> spec{.kind = grid_kind::karras, .steps = steps};
  spec.final_zero = final_zero;
  return make_schedule(make_grid(edm<double>{}, spec));
}

run_result run_sampler(const mixture& gmm, const solver_settings& s, std::size_t steps, const batch<double>& z, const options& opt,
                       const step_tap& tap) {
  const edm<double> process;
  mixture model = gmm;
  model.predicts = prediction::data;
  const schedule<double> sched = karras(steps);
  run_result r{batch<double>(z.shape())};
  simd::lincomb<double, 1>(r.x.view().span(), {sched.points.front().sigma}, {z.data()});
  const any_process<double> ap(process);
  model_ref<double> m(model);
  runtime_problem<double> problem(ap, m, {}, runtime_noise<double>{keyed_noise{opt.seed, 0}, {}, {}});
  const sample_options run{.threads = tap.active() ? 1 : opt.threads};
  r.stochastic = solver_is_stochastic(s);
  r.nfe = run_solver<double>(s, problem, sched, r.x.view(), tap, run).nfe;
  return r;
}

batch<double> exact_endpoint(const mixture& gmm, const batch<double>& z) {
  dopri5<double> solver({.rtol = 1e-10, .atol = 1e-10, .time = ode_time::lambda});
  const edm<double> process;
  mixture model = gmm;
  model.predicts = prediction::data;
  const schedule<double> sched = karras(64, false);
  batch<double> x(z.shape());
  simd::lincomb<double, 1>(x.view().span(), {sched.points.front().sigma}, {z.data()});
  const any_process<double> ap(process);
  model_ref<double> m(model);
  runtime_problem<double> problem(ap, m, {}, {});
  run_policy(solver, problem, sched, x.view(), {}, {});
  batch<double> x0(x.shape());
  model(x.view(), sched.points.back(), x0.view());
  return x0;
}

continuous_results run_continuous(const mixture& gmm, std::vector<entry> samplers, const batch<double>& z, const batch<double>& endpoint,
                                  const sliced_w1& sw1, double entropy, const options& opt, progress& bar, std::size_t& done) {
  continuous_results out;
  std::vector<result> rows;
  for (entry& e : samplers)
    for (const std::size_t steps : step_counts) {
      const std::string what = e.label + ", " + std::to_string(steps) + " steps";
      bar.update(done, what);
      const auto t0 = std::chrono::steady_clock::now();
      const run_result run = run_sampler(gmm, e.settings, steps, z, opt);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      e.stochastic = run.stochastic;
      rows.push_back({e.label, e.stochastic, steps, run.nfe, sw1(run.x), mean_nll(gmm, run.x) - entropy,
                      e.stochastic ? std::numeric_limits<double>::quiet_NaN() : rms_distance(run.x, endpoint), secs});
      const bool show = (steps == 8 && (e.label == "euler" || e.label == "dpmpp-2m")) ||
                        (steps == 32 && (e.label == "euler-ancestral" || e.label == "dpmpp-2m-sde" || e.label == "dpmpp-sde"));
      if (show) out.shown.emplace_back(ferry::detail::cat(e.label, ", ", steps, " steps"), run.x);
      bar.update(++done, what);
    }
  // Deterministic samplers first, each kind in roster order.
  for (const bool stochastic : {false, true})
    for (const entry& e : samplers)
      if (e.stochastic == stochastic) {
        out.samplers.push_back(e);
        for (const result& r : rows)
          if (r.label == e.label) out.rows.push_back(r);
      }
  return out;
}

void write_tables(const std::filesystem::path& dir, const std::vector<result>& rows, double floor_sw1, double floor_gap) {
  std::ostringstream csv, md;
  csv << "sampler,kind,steps,nfe,sw1,nll_gap,endpoint_rms,seconds\n";
  md << "| sampler | kind | steps | NFE | SW1 | NLL gap | endpoint RMS |\n|---|---|---:|---:|---:|---:|---:|\n";
  for (const result& r : rows) {
    const char* kind = r.stochastic ? "sde" : "ode";
    csv << r.label << "," << kind << "," << r.steps << "," << r.nfe << "," << fmt(r.sw1, 6) << "," << fmt(r.nll_gap, 6) << ","
        << fmt(r.endpoint, 6) << "," << fmt(r.seconds, 4) << "\n";
    md << "| " << r.label << " | " << kind << " | " << r.steps << " | " << r.nfe << " | " << fmt(r.sw1) << " | " << fmt(r.nll_gap, 3)
       << " | " << fmt(r.endpoint, 3) << " |\n";
  }
  csv << "exact,exact,,," << fmt(floor_sw1, 6) << "," << fmt(floor_gap, 6) << ",,\n";
  md << "| exact samples | | | | " << fmt(floor_sw1) << " | " << fmt(floor_gap, 3) << " | |\n";
  io::write_file_atomically(dir / "results.csv", csv.str());
  io::write_file_atomically(dir / "results.md", md.str());
  std::cout << md.str();
}

}  // namespace ferry::cli::demo
