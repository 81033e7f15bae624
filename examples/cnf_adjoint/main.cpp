// cnf_adjoint: a continuous normalizing flow (Chen et al. 2018, §4; FFJORD, Grathwohl et al. 2019)
// fitted by maximum likelihood to 2-D data, with gradients from the continuous adjoint.
//
// The flow is ferry's mlp_field (one tanh layer, time as an input) on [0, 1], data at t = 0 and
// N(0, I) at t = 1; log p(x) = log N(z(1)) + ∫ tr ∂f/∂z dt, the trace exact (default) or Hutchinson's
// estimate (--hutchinson, one Gaussian probe per sample and batch). The data are draws from a
// Gaussian mixture (keyed Philox normals, so every run is the same), split into training and
// held-out sets. Adam (Kingma & Ba 2015) updates the parameters.
//
// It prints the held-out loss per epoch, writes cnf_adjoint.png (the data over their true density,
// beside the learned density) into the current directory, and ends with
//   final: nll_start=A nll_end=B grad_rel_err=C
// where A, B are the held-out mean negative log-likelihoods (nats) before and after training and
// C = ‖g_adjoint − g_fd‖/‖g_fd‖ over all parameters for one batch at the start: the adjoint with
// DOPRI5 at rtol = atol = 1e-10 against central differences of a fine fixed-step RK4 solve.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "ferry/adjoint/cnf.hpp"
#include "ferry/adjoint/mlp_field.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/random/philox.hpp"
#include "ferry/solvers/ode/dopri5.hpp"
#include "ferry/solvers/ode/rk4.hpp"
#include "plot.hpp"

namespace {

using namespace ferry;
using mixture = gaussian_mixture<double>;
using flow = cnf_field<double, mlp_field<double>>;

struct options {
  std::size_t epochs = 40, hidden = 32, batch_size = 256, train = 4096, test = 2048;
  double lr = 2e-2, tol = 1e-5;
  bool hutchinson = false, quick = false;
  std::uint64_t seed = 1;
  std::string png = "cnf_adjoint.png";
};

// Three anisotropic clusters on a ring of radius 1.5: far from N(0, I), so the flow has work to do.
struct data_spec {
  std::vector<double> w = {0.4, 0.35, 0.25};
  std::vector<mixture::vec> means, stds;
  data_spec() {
    for (int k = 0; k < 3; ++k) {
      const double a = 2 * std::numbers::pi * k / 3 + 0.3;
      means.push_back(mixture::vec{{1.5 * std::cos(a), 1.5 * std::sin(a)}});
      stds.push_back(mixture::vec{{k == 1 ? 0.45 : 0.2, k == 1 ? 0.2 : 0.35}});
    }
  }
  mixture density() const { return mixture::diagonal(w, means, stds); }

  // n exact draws: the component from a keyed uniform, the offset from keyed normals.
  batch<double> draw(std::size_t n, std::uint64_t seed, std::uint32_t step) const {
    batch<double> x(n, 2), z(n, 2);
    random::fill_normal(seed, z.view(), 0, step);
    for (std::size_t i = 0; i < n; ++i) {
      double u = random::uniform_at(seed, std::uint32_t(i), step, random::streams::categorical, 0);
      std::size_t k = 0;
      while (k + 1 < w.size() && u > w[k]) u -= w[k++];
      for (std::size_t j = 0; j < 2; ++j)
        x(i, j) = means[k][Eigen::Index(j)] + stds[k][Eigen::Index(j)] * z(i, j);
    }
    return x;
  }
};

// Adam (Kingma & Ba 2015, Alg. 1): m ← β1 m + (1−β1) g, v ← β2 v + (1−β2) g², θ ← θ − lr·m̂/(√v̂ + ε).
struct adam {
  double lr = 1e-2, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  std::vector<double> m, v;
  std::size_t t = 0;
  void step(std::span<double> theta, std::span<const double> g) {
    if (m.empty()) m.assign(theta.size(), 0), v.assign(theta.size(), 0);
    ++t;
    const double c1 = 1 - std::pow(beta1, double(t)), c2 = 1 - std::pow(beta2, double(t));
    for (std::size_t i = 0; i < theta.size(); ++i) {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      theta[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps);
    }
  }
};

double mean_nll(flow& g, const batch<double>& x, double tol) {
  dopri5<double> s({.rtol = tol, .atol = tol});
  std::vector<double> lp(x.rows());
  g.set_probe({});
  cnf_log_likelihood(g, s, 1, x.view(), std::span<double>(lp));
  double acc = 0;
  for (double v : lp) acc -= v;
  return acc / double(lp.size());
}

// ‖g_adjoint − g_fd‖/‖g_fd‖ on one batch with exact traces.
double gradient_check(flow& g, const batch<double>& x) {
  auto theta = g.field().parameters();
  std::vector<double> adj(theta.size()), fd(theta.size());
  g.set_probe({});
  dopri5<double> tight({.rtol = 1e-10, .atol = 1e-10});
  cnf_nll_gradient(g, tight, 1, x.view(), std::span<double>(adj));
  auto nll = [&] {
    rk4<double> s;
    std::vector<double> lp(x.rows());
    cnf_log_likelihood(g, s, 120, x.view(), std::span<double>(lp));
    double acc = 0;
    for (double v : lp) acc -= v;
    return acc / double(lp.size());
  };
  const double h = 1e-6;
  for (std::size_t j = 0; j < theta.size(); ++j) {
    const double keep = theta[j];
    theta[j] = keep + h;
    const double up = nll();
    theta[j] = keep - h;
    const double down = nll();
    theta[j] = keep;
    fd[j] = (up - down) / (2 * h);
  }
  double num = 0, den = 0;
  for (std::size_t j = 0; j < theta.size(); ++j) num += (adj[j] - fd[j]) * (adj[j] - fd[j]), den += fd[j] * fd[j];
  return std::sqrt(num / den);
}

// The learned log-density on an n×n grid over the frame, looked up bilinearly by the plot.
struct grid_density {
  cli::plot_frame f;
  std::size_t n;
  std::vector<double> lp;
  double operator()(double x, double y) const {
    const double u = std::clamp((x - f.x_min) / (f.x_max - f.x_min) * double(n - 1), 0.0, double(n - 1));
    const double v = std::clamp((y - f.y_min) / (f.y_max - f.y_min) * double(n - 1), 0.0, double(n - 1));
    const std::size_t i = std::min(std::size_t(u), n - 2), j = std::min(std::size_t(v), n - 2);
    const double a = u - double(i), b = v - double(j);
    auto at = [&](std::size_t p, std::size_t q) { return lp[q * n + p]; };
    return (1 - a) * (1 - b) * at(i, j) + a * (1 - b) * at(i + 1, j) + (1 - a) * b * at(i, j + 1) + a * b * at(i + 1, j + 1);
  }
};

grid_density learned_density(flow& g, const cli::plot_frame& f, std::size_t n) {
  batch<double> pts(n * n, 2);
  for (std::size_t q = 0; q < n; ++q)
    for (std::size_t p = 0; p < n; ++p) {
      pts(q * n + p, 0) = f.x_min + (f.x_max - f.x_min) * double(p) / double(n - 1);
      pts(q * n + p, 1) = f.y_min + (f.y_max - f.y_min) * double(q) / double(n - 1);
    }
  grid_density d{f, n, std::vector<double>(n * n)};
  dopri5<double> s({.rtol = 1e-6, .atol = 1e-6});
  g.set_probe({});
  cnf_log_likelihood(g, s, 1, pts.view(), std::span<double>(d.lp));
  return d;
}

int run(const options& o) {
  const auto started = std::chrono::steady_clock::now();
  const data_spec spec;
  const mixture data = spec.density();
  const batch<double> train = spec.draw(o.train, o.seed, 0), test = spec.draw(o.test, o.seed, 1);

  mlp_field<double> field(2, o.hidden);
  {  // W1, W2 ~ N(0, 1/fan_in)·0.5 (keyed normals), u, biases 0: the initial flow is mild
    batch<double> z(1, field.parameter_count());
    random::fill_normal(o.seed, z.view(), 0, 2, random::streams::step_noise);
    auto th = field.parameters();
    const std::size_t h = o.hidden, d = 2;
    for (std::size_t i = 0; i < h * d; ++i) th[i] = 0.5 * z.data()[i] / std::sqrt(double(d));
    for (std::size_t i = 0; i < d * h; ++i) th[h * d + 2 * h + i] = 0.5 * z.data()[h * d + i] / std::sqrt(double(h));
  }
  flow g(field);

  const std::size_t check_rows = o.quick ? 16 : 64;
  batch<double> check(check_rows, 2);
  std::copy(train.data(), train.data() + check.size(), check.data());
  const double grad_rel_err = gradient_check(g, check);
  const double nll_start = mean_nll(g, test, 1e-7);
  double entropy = 0;  // the floor: the held-out −log p under the true density
  for (std::size_t i = 0; i < test.rows(); ++i) entropy -= data.log_prob(test.view().row(i).data(), 1.0, 0.0);
  std::printf("held-out -log p under the true density: %.4f nats (the best any model can do)\n", entropy / double(test.rows()));
  std::printf("gradient check at the start (%zu samples, %zu parameters): adjoint vs central differences %.3g\n",
              check_rows, field.parameter_count(), grad_rel_err);
  std::printf("epoch 0: test_nll=%.4f\n", nll_start);

  adam opt;
  opt.lr = o.lr;
  std::vector<double> grad(field.parameter_count());
  batch<double> x(o.batch_size, 2), probe(o.batch_size, 2);
  const std::size_t per_epoch = std::max<std::size_t>(1, o.train / o.batch_size);
  std::uint32_t iteration = 0;
  for (std::size_t epoch = 1; epoch <= o.epochs; ++epoch) {
    double train_nll = 0;
    std::size_t nfe = 0;
    for (std::size_t it = 0; it < per_epoch; ++it, ++iteration) {
      for (std::size_t i = 0; i < o.batch_size; ++i) {  // a keyed uniform pick of training rows
        const auto r = std::size_t(random::uniform_at(o.seed, std::uint32_t(i), 3 + iteration, 0, 0) * double(o.train));
        x(i, 0) = train(std::min(r, o.train - 1), 0);
        x(i, 1) = train(std::min(r, o.train - 1), 1);
      }
      if (o.hutchinson) {
        random::fill_normal(o.seed, probe.view(), 0, 3 + iteration, random::streams::probes);
        g.set_probe(probe.view());
      } else {
        g.set_probe({});
      }
      dopri5<double> s({.rtol = o.tol, .atol = o.tol});
      const auto st = cnf_nll_gradient(g, s, 1, x.view(), std::span<double>(grad));
      train_nll += st.loss;
      nfe += st.forward_nfe + st.backward_nfe;
      opt.lr = o.lr * (epoch > o.epochs * 3 / 4 ? 0.2 : 1.0);  // a step decay for the last quarter
      opt.step(field.parameters(), grad);
    }
    const double test_nll = mean_nll(g, test, 1e-6);
    std::printf("epoch %zu: train_nll=%.4f test_nll=%.4f nfe/iter=%zu\n", epoch, train_nll / double(per_epoch), test_nll,
                nfe / per_epoch);
    std::fflush(stdout);
  }
  const double nll_end = mean_nll(g, test, 1e-7);

  // The figure: data over their true density | the learned density.
  const cli::plot_frame frame{-3.5, 3.5, -3.5, 3.5};
  const grid_density learned = learned_density(g, frame, o.quick ? 40 : 160);
  std::vector<double> xy(test.data(), test.data() + std::min<std::size_t>(test.size(), 2 * 1000));
  const cli::density_plot truth{
      .frame = frame,
      .log_density = [&](double a, double b) { const double p[2] = {a, b}; return data.log_prob(p, 1.0, 0.0); },
      .log_range = 10, .width = 560, .height = 560, .title = "data: 1000 held-out points, true density"};
  const cli::density_plot model{.frame = frame, .log_density = learned, .log_range = 10, .width = 560, .height = 560,
                                .title = "learned CNF density (log, 10 nats)"};
  cli::draw::canvas img(2 * 620 + 20, 660);
  cli::draw_density_panel(img, {70, 50, 560, 560}, truth, xy);
  cli::draw_density_panel(img, {70 + 620, 50, 560, 560}, model, {});
  cli::write_png(o.png, img);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("wrote %s (%.1f s)\n", o.png.c_str(), seconds);
  std::printf("final: nll_start=%.4f nll_end=%.4f grad_rel_err=%.3g\n", nll_start, nll_end, grad_rel_err);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"cnf_adjoint: fit a continuous normalizing flow to 2-D data with adjoint gradients"};
  app.add_option("--epochs", o.epochs, "training epochs (passes over the training set)");
  app.add_option("--hidden", o.hidden, "width of the flow's hidden layer");
  app.add_option("--lr", o.lr, "Adam's learning rate");
  app.add_option("--tol", o.tol, "DOPRI5 rtol = atol while training");
  app.add_flag("--hutchinson", o.hutchinson, "Hutchinson's trace estimate instead of the exact divergence");
  app.add_flag("--quick", o.quick, "a smoke run: small sets, 1 epoch by default, a coarse figure");
  app.add_option("--png", o.png, "where to write the figure");
  app.add_option("--seed", o.seed, "data and initialisation seed");
  try {
    app.parse(argc, argv);
    if (o.quick) {
      if (app.count("--epochs") == 0) o.epochs = 1;
      o.train = 512;
      o.test = 256;
      o.batch_size = 128;
    }
    if (o.epochs == 0 || o.hidden == 0 || !(o.lr > 0) || !(o.tol > 0))
      throw config_error("cnf_adjoint: need --epochs, --hidden >= 1 and --lr, --tol > 0");
    return run(o);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ferry::error& e) {
    std::cerr << "cnf_adjoint: " << e.what() << "\n";
    return 2;
  }
}
