// `ferry likelihood`: log p(x) of each data row through the probability-flow ODE (likelihood/),
// exact divergence or Hutchinson–Skilling probes, DOPRI5 from t_min to the process's t_max.
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "commands.hpp"
#include "ferry/core/error.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/likelihood/divergence.hpp"
#include "ferry/likelihood/likelihood.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/process/ve.hpp"
#include "ferry/process/vp_cosine.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/runtime/any_process.hpp"
#include "ferry/solvers/ode/dopri5.hpp"

namespace ferry::cli {
namespace {

struct likelihood_cli_options {
  std::string model, data, out, process, prediction, probes = "rademacher";
  std::size_t hutchinson = 0;
  std::uint64_t seed = 0;
  double rtol = 1e-6, atol = 1e-6, t_min = 1e-5, shift = 1;
};

using likelihood_process = std::variant<vp_linear<double>, vp_cosine<double>, ve<double>, flow<double>>;

likelihood_process make_likelihood_process(const likelihood_cli_options& o) {
  if (o.process == "vp-linear") return vp_linear<double>{};
  if (o.process == "vp-cosine") return vp_cosine<double>{};
  if (o.process == "ve") return ve<double>{};
  if (o.process == "flow") return flow<double>(o.shift);
  throw config_error(detail::cat("--process \"", detail::escape(o.process), "\" is unknown",
                                 detail::did_you_mean(o.process, {"vp-linear", "vp-cosine", "ve", "flow"}),
                                 "; expected vp-linear, vp-cosine, ve or flow"));
}

void run_likelihood(const likelihood_cli_options& o) {
  const std::string prefix = "gmm:";
  if (o.model.rfind(prefix, 0) != 0 || o.model.size() == prefix.size())
    throw config_error(detail::cat("--model \"", detail::escape(o.model), "\": expected gmm:PATH (an exact Gaussian-mixture model from a JSON file)"));
  if (o.probes != "rademacher" && o.probes != "gaussian")
    throw config_error(detail::cat("--probes \"", detail::escape(o.probes), "\" is unknown",
                                   detail::did_you_mean(o.probes, {"rademacher", "gaussian"}), "; expected rademacher or gaussian"));
  const likelihood_process process = make_likelihood_process(o);
  gaussian_mixture<double> model = gaussian_mixture<double>::load(o.model.substr(prefix.size()));
  model.predicts = o.prediction.empty() ? (o.process == "flow" ? prediction::velocity : prediction::data)
                                        : parse_prediction(o.prediction);
  const io::npy_array a = io::read_npy(o.data);
  if (a.ndim() != 2) throw shape_error(detail::cat(o.data, ": data must be 2-D (N, D), got ", a.ndim(), " dimensions"));
  if (a.dtype() != io::npy_dtype::f4 && a.dtype() != io::npy_dtype::f8)
    throw io_error(detail::cat(o.data, ": data must be float32 or float64, got ", io::npy_descr(a.dtype())));
  const batch<double> x = a.as_batch<double>();
  if (x.cols() != model.dim())
    throw shape_error(detail::cat(o.data, ": data has D = ", x.cols(), " but the model's mixture has dimension ", model.dim()));
  const std::span<const double> v(x.data(), x.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw domain_error(detail::cat(o.data, ": data holds a non-finite value (", v[i], ") at row ", i / x.cols(), ", column ",
                                     i % x.cols(), "; expected finite values"));

  dopri5<double> solver({.rtol = o.rtol, .atol = o.atol});
  std::vector<double> logp(x.rows());
  const auto start = std::chrono::steady_clock::now();
  // One process type (any_process) and one model type: two dopri5 loops in all, one per divergence.
  const any_process<double> ap = std::visit([](const auto& p) { return any_process<double>(p); }, process);
  const likelihood_options<double> lo{.t_min = o.t_min};
  likelihood_stats<double> st;
  if (o.hutchinson == 0) {
    exact_divergence<double> div;
    st = log_likelihood(model, ap, solver, div, x.view(), std::span<double>(logp), lo);
  } else {
    hutchinson_divergence<double> div(o.hutchinson, o.probes == "gaussian" ? probe_kind::gaussian : probe_kind::rademacher, o.seed);
    st = log_likelihood(model, ap, solver, div, x.view(), std::span<double>(logp), lo);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  io::write_npy<double>(o.out, logp.data(), {x.rows()});
  std::cerr << "ferry likelihood: " << x.rows() << " rows, " << (o.hutchinson ? "Hutchinson" : "exact") << " divergence, "
            << solver.accepted << " accepted + " << solver.rejected << " rejected dopri5 steps, NFE " << st.nfe << ", "
            << seconds << " s -> " << o.out << "\n";
  if (st.end.alpha > 0)
    std::cerr << "ferry likelihood: note: the prior N(0, sigma_T^2) at t = " << st.end.t << " ignores alpha_T = " << st.end.alpha
              << " (biased by log N(x_T; 0, sigma_T^2) - log p_T(x_T); see docs/likelihood.md)\n";
}

}  // namespace

void add_likelihood_command(CLI::App& app, bool run) {
  auto opt = std::make_shared<likelihood_cli_options>();
  auto* cmd = app.add_subcommand("likelihood", "log p(x) per row through the probability-flow ODE, in nats");
  cmd->add_option("--model", opt->model, "the model: gmm:PATH (exact Gaussian mixture, JSON)")->required();
  cmd->add_option("--data", opt->data, "the points x, .npy (N, D) float32 or float64")->required();
  cmd->add_option("--process", opt->process, "vp-linear | vp-cosine | ve | flow")->required();
  cmd->add_option("--out", opt->out, "where to write log p(x), .npy (N,) float64, in nats")->required();
  cmd->add_option("--prediction", opt->prediction,
                  "what the model predicts: epsilon | data | v | score | velocity (default: data, velocity for flow)");
  cmd->add_option("--hutchinson", opt->hutchinson, "estimate the divergence with K probes (default 0: exact, 2D evaluations)")
      ->check(count_in(0, std::size_t(1) << 20));
  cmd->add_option("--probes", opt->probes, "Hutchinson probes: rademacher | gaussian")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "seed of the Hutchinson probes (keyed by seed and row)")->capture_default_str();
  cmd->add_option("--rtol", opt->rtol, "dopri5 relative tolerance")->capture_default_str();
  cmd->add_option("--atol", opt->atol, "dopri5 absolute tolerance")->capture_default_str();
  cmd->add_option("--t-min", opt->t_min, "where the data sits in the process's time (p_{t_min} stands for p_0)")->capture_default_str();
  cmd->add_option("--shift", opt->shift, "flow time shift (SD3)")->capture_default_str();
  cmd->callback([opt, run] {
    if (run) run_likelihood(*opt);
  });
}

}  // namespace ferry::cli
