// The discrete layer's parts: schedules, kernels, the exact oracle against brute-force Bayes,
// categorical draws (Gumbel-max against the softmax by chi-square, shaping, argmax limits), jump
// probabilities, model output kinds, determinism over threads and no allocation per step.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "discrete_support.hpp"
#include "ferry/discrete/context.hpp"
#include "ferry/discrete/reverse.hpp"
#include "ferry/simd/categorical.hpp"
#include "ferry/simd/kernel/categorical.hpp"

namespace test_discrete {

using namespace ferry;
using namespace ferry::discrete;
using namespace ferry_test;

TEST_CASE("discrete schedules: alpha(0) = 1, their ends, derivatives and inverses", "[discrete]") {
  for (auto k : {schedule_kind::linear, schedule_kind::cosine, schedule_kind::loglinear, schedule_kind::geometric}) {
    const alpha_schedule s(k);
    INFO("kind " << int(k));
    CHECK(s.alpha(0) == Approx(1).margin(1e-15));
    CHECK(s.alpha(1) < 1.1e-3);
    for (double t : {0.05, 0.3, 0.5, 0.77, 0.95}) {
      const double h = 1e-6, fd = (s.alpha(t + h) - s.alpha(t - h)) / (2 * h);
      CHECK(s.d_alpha(t) == Approx(fd).epsilon(1e-6).margin(1e-12));
      CHECK(s.d_alpha(t) < 0);
      CHECK(s.t_of_alpha(s.alpha(t)) == Approx(t).epsilon(1e-10));
    }
  }
  CHECK(alpha_schedule(schedule_kind::loglinear).alpha(1) == Approx(1e-3));
  CHECK_THROWS_AS(parse_schedule_kind("quadratic"), config_error);
  CHECK_THROWS_AS(alpha_schedule(schedule_kind::loglinear, 1.5), config_error);
}

TEST_CASE("discrete kernels: forward marginals and posteriors are normalised and match Bayes", "[discrete]") {
  for (auto kind : {kernel_kind::masked, kernel_kind::uniform}) {
    const kernel k{kind, 3};
    const double at = 0.3, as = 0.8;
    for (int v = 0; v < 3; ++v) {
      double total = 0;
      for (int j = 0; j < int(k.states()); ++j) total += k.forward(j, v, at);
      CHECK(total == Approx(1).epsilon(1e-14));
      for (int x = 0; x < int(k.states()); ++x) {
        if (k.forward(x, v, at) == 0) continue;
        double post = 0;
        for (int j = 0; j < int(k.states()); ++j) {
          // Bayes through the intermediate state: q(x_s=j|x0=v)·q(x_t=x|x_s=j) / q(x_t=x|x0=v)
          const double brute = k.forward(j, v, as) * k.keep(x, j, at / as) / k.forward(x, v, at);
          CHECK(k.posterior(j, x, v, at, as) == Approx(brute).epsilon(1e-14).margin(1e-15));
          post += k.posterior(j, x, v, at, as);
        }
        CHECK(post == Approx(1).epsilon(1e-14));
      }
    }
  }
  // Chapman–Kolmogorov: keeping with a then b is keeping with a·b.
  const kernel u{kernel_kind::uniform, 4};
  for (int x = 0; x < 4; ++x) {
    double two = 0;
    for (int j = 0; j < 4; ++j) two += u.keep(x, j, 0.5) * u.keep(j, 1, 0.6);
    CHECK(two == Approx(u.keep(x, 1, 0.3)).epsilon(1e-14));
  }
}

TEST_CASE("discrete_mixture: posterior p(x0|x_t) equals brute-force Bayes by enumeration", "[discrete][oracle]") {
  for (auto kind : {kernel_kind::masked, kernel_kind::uniform}) {
    const discrete_mixture m = test_mixture(kind);
    const kernel k{kind, m.vocab()};
    const std::vector<double> p0 = data_law(m);
    double total = 0;
    for (double v : p0) total += v;
    CHECK(total == Approx(1).epsilon(1e-13));
    const std::size_t L = m.length(), V = m.vocab(), states = k.states();
    std::vector<double> out(L * V), brute(L * V);
    for (double alpha : {0.0, 0.25, 0.7, 0.999}) {
      double worst = 0;
      for (std::size_t c = 0; c < count_sequences(L, states); ++c) {  // every x_t, masks included
        const std::vector<std::int32_t> xt = sequence_of(c, L, states);
        std::fill(brute.begin(), brute.end(), 0.0);
        double z = 0;
        for (std::size_t c0 = 0; c0 < p0.size(); ++c0) {
          const std::vector<std::int32_t> x0 = sequence_of(c0, L, V);
          double w = p0[c0];
          for (std::size_t l = 0; l < L; ++l) w *= k.forward(xt[l], x0[l], alpha);
          z += w;
          for (std::size_t l = 0; l < L; ++l) brute[l * V + std::size_t(x0[l])] += w;
        }
        if (z == 0) continue;  // x_t impossible at this α
        m.posterior(xt.data(), alpha, out.data());
        for (std::size_t e = 0; e < L * V; ++e) worst = std::max(worst, std::abs(out[e] - brute[e] / z));
      }
      INFO("kernel " << int(kind) << " alpha " << alpha);
      CHECK(worst < 1e-13);
    }
  }
}

TEST_CASE("discrete_mixture: exact draws follow p0; JSON errors name the problem", "[discrete][oracle]") {
  const discrete_mixture m = test_mixture();
  const std::size_t n = mc_samples(200000);
  std::vector<std::int32_t> x(n * m.length());
  m.sample(11, token_view(x.data(), n, m.length()));
  const auto p0 = data_law(m);
  const double tv = total_variation(empirical_law(x, m.length(), m.vocab()), p0), floor = tv_floor(p0, n);
  INFO("TV " << tv << " floor " << floor);
  CHECK(tv < floor_multiple * floor);
  CHECK_THROWS_WITH(discrete_mixture::from_json(nlohmann::json{{"weights", {1.0}}}, "m.json"), "m.json: missing key \"probs\"");
  CHECK_THROWS_AS(discrete_mixture::from_json(nlohmann::json{{"weights", {1.0}}, {"probs", {{{0.5, 0.6}}}}}, "m.json"), config_error);
  CHECK_THROWS_WITH(discrete_mixture::from_json(nlohmann::json{{"weights", {0.5, 0.5}}, {"probs", {{{0.5, 0.5}}}}}, "m.json"),
                    "m.json: \"probs\" has 1 components, \"weights\" has 2");
}

TEST_CASE("Gumbel-max draws follow the softmax (chi-square)", "[discrete][categorical]") {
  const std::vector<double> w = {0.05, 0.4, 0.15, 0.3, 0.1};  // already normalised
  const std::size_t n = mc_samples(200000), V = w.size();
  for (auto precision : {gumbel_precision::float64, gumbel_precision::float32}) {
    gumbel_workspace ws(V);
    std::vector<double> count(V, 0.0);
    for (std::size_t i = 0; i < n; ++i) count[gumbel_draw(w, 5, std::uint32_t(i), 3, random::streams::categorical, 7, precision, ws)] += 1;
    double chi2 = 0;
    for (std::size_t v = 0; v < V; ++v) chi2 += (count[v] - double(n) * w[v]) * (count[v] - double(n) * w[v]) / (double(n) * w[v]);
    INFO("precision " << int(precision) << " chi2 " << chi2);
    CHECK(chi2 < 18.47);  // χ²₄ at p = 0.001
  }
  // Excluded tokens and zero weights are never drawn.
  gumbel_workspace ws(3);
  const std::vector<double> z = {0.0, 0.5, 0.5};
  for (std::uint32_t i = 0; i < 200; ++i) CHECK(gumbel_draw(z, 1, i, 0, 0, 0, gumbel_precision::float64, ws, 1) == 2);
  // Weights too small for a finite race key still draw (the log-form fallback).
  const std::vector<double> tiny = {1.0, 1e-310};
  CHECK(gumbel_draw(tiny, 1, 0, 0, 0, 0, gumbel_precision::float64, ws, 0) == 1);
}

TEST_CASE("the lazy exponential race picks the argmin of every key", "[discrete][categorical]") {
  // race_argmin skips the logarithm where a bound rules an entry out; it must still return the
  // first index of the smallest (−log u_j)/w_j computed for all j, for any length and exclusion.
  for (std::size_t n : {std::size_t(1), std::size_t(2), std::size_t(7), std::size_t(64), std::size_t(1001)})
    for (std::uint32_t row = 0; row < 200; ++row) {
      std::vector<double> w(n), u(n);
      random::fill_uniform(3, u, row, 0, 0);
      random::fill_uniform(4, w, row, 0, 0);
      for (std::size_t j = 0; j < n; ++j) w[j] = j % 5 == 3 ? 0.0 : std::pow(w[j], 8.0);  // zeros and a wide range
      const std::size_t exclude = row % 3 == 0 ? std::size_t(row) % n : n;
      std::size_t best = n;
      double key = std::numeric_limits<double>::infinity();
      for (std::size_t j = 0; j < n; ++j) {
        const double k = -xsimd::log(xsimd::batch<double>(u[j])).get(0) / w[j];  // the kernel's log
        if (w[j] > 0 && j != exclude && k < key) key = k, best = j;
      }
      INFO("n " << n << ", row " << row);
      // The predicate form, on the build's own arch (dispatched programs call it on an arch).
      CHECK(simd::kernel::race_argmin<xsimd::default_arch>(w.data(), u.data(), n, [&](std::size_t j) { return j == exclude; }) == best);
    }
}

TEST_CASE("softmax and Gumbel scores: the vector body and the padded tail agree", "[discrete][categorical]") {
  std::vector<double> x(11), ref(11);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = ref[i] = std::sin(double(i)) * 3;
  simd::softmax(x.data(), x.size());
  const double top = *std::max_element(ref.begin(), ref.end());
  double z = 0;
  for (double& v : ref) z += v = std::exp(v - top);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i] == Approx(ref[i] / z).epsilon(1e-14));
}

TEST_CASE("shaping: temperature 0 and top-k 1 give the argmax; top-p keeps the nucleus", "[discrete][categorical]") {
  std::vector<std::size_t> order(4);
  const std::vector<double> p = {0.2, 0.45, 0.1, 0.25};
  auto shaped = [&](categorical_options o) {
    std::vector<double> q = p;
    shape_probabilities(q, o, order);
    return q;
  };
  const std::vector<double> onehot = {0, 1, 0, 0};
  CHECK(shaped({.temperature = 0}) == onehot);
  CHECK(shaped({.top_k = 1}) == onehot);
  const auto nucleus = shaped({.top_p = 0.6});  // 0.45 + 0.25 reaches 0.6
  CHECK(nucleus[0] == 0);
  CHECK(nucleus[2] == 0);
  CHECK(nucleus[1] == Approx(0.45 / 0.7));
  const auto hot = shaped({.temperature = 2});  // p^{1/2}, normalised
  double z = 0;
  for (double v : p) z += std::sqrt(v);
  CHECK(hot[3] == Approx(std::sqrt(0.25) / z));
  // A draw from top-k 1 or temperature 0 is the argmax whatever the key.
  gumbel_workspace ws(4);
  for (std::uint32_t row = 0; row < 100; ++row) CHECK(gumbel_draw(shaped({.top_k = 1}), 9, row, 0, 0, 0, gumbel_precision::float64, ws) == 1);
  CHECK_THROWS_AS(categorical_options{.top_p = 0}.validate(), config_error);
}

TEST_CASE("jump probabilities are clipped into [0, 1]", "[discrete]") {
  for (double r : {0.0, 1e-3, 0.5, 1.0, 2.0, 50.0, double(INFINITY), double(NAN), -1.0}) {
    for (auto rule : {jump_rule::euler, jump_rule::tau_leaping}) {
      const double p = move_probability(rule, r);
      INFO("tau*rate " << r);
      CHECK(p >= 0);
      CHECK(p <= 1);
      if (rule == jump_rule::tau_leaping) CHECK(p <= std::exp(-1.0) + 1e-15);
    }
  }
  CHECK(move_probability(jump_rule::euler, 0.25) == 0.25);
  CHECK(move_probability(jump_rule::euler, 7) == 1);
  CHECK(move_probability(jump_rule::euler, INFINITY) == 1);
  // The uniform kernel under the geometric schedule has σ̄' ≈ 244 at t = 1: Euler clips and stays finite.
  const discrete_mixture m = test_mixture(kernel_kind::uniform);
  const auto r = run_sampler(m, {.name = "euler"}, schedule_kind::geometric, 3, 500, 1);
  for (auto v : r.tokens) CHECK((v >= 0 && v < 3));
}

TEST_CASE("uniform concrete scores and the Tweedie step are consistent with the kernel", "[discrete]") {
  const std::vector<double> pi = {0.5, 0.3, 0.2};
  std::vector<double> s(3), step(3);
  uniform_ratios(pi, 1, 0.4, s);
  CHECK(s[1] == Approx(1).epsilon(1e-14));  // s_x = 1
  uniform_tweedie(pi, 1, 0.4, 0.7, step);
  CHECK(step[0] + step[1] + step[2] == Approx(1).epsilon(1e-14));
  uniform_tweedie(pi, 1, 0.4, 1.0, step);  // to the data: p(x0 | x_t) itself
  for (int v = 0; v < 3; ++v) CHECK(step[std::size_t(v)] == Approx(pi[std::size_t(v)]).epsilon(1e-14));
}

namespace {
// The oracle seen through another output kind: logits (log p + a constant) or concrete scores.
struct converted_model {
  const discrete_mixture* m;
  output_kind outputs;
  std::size_t vocab() const { return m->vocab(); }
  void operator()(const_token_view x, const noise_level& lv, std::span<double> out) const {
    (*m)(x, lv, out);
    const std::size_t V = m->vocab();
    for (std::size_t i = 0; i < x.rows; ++i)
      for (std::size_t l = 0; l < x.cols; ++l) {
        double* p = out.data() + (i * x.cols + l) * V;
        if (outputs == output_kind::logits) {
          for (std::size_t v = 0; v < V; ++v) p[v] = std::log(p[v]) + 3.0;
        } else if (m->kernel == kernel_kind::masked) {
          for (std::size_t v = 0; v < V; ++v) p[v] *= lv.alpha / (1 - lv.alpha);
        } else {
          std::vector<double> s(V);
          uniform_ratios(std::span<const double>(p, V), x(i, l), lv.alpha, s);
          std::copy(s.begin(), s.end(), p);
        }
      }
  }
};
}  // namespace

TEST_CASE("logits and concrete-score models give the same p(x0|x_t) as probabilities", "[discrete]") {
  for (auto kind : {kernel_kind::masked, kernel_kind::uniform}) {
    const discrete_mixture m = test_mixture(kind);
    const process p{kernel{kind, 3}, alpha_schedule(schedule_kind::linear)};
    std::vector<std::int32_t> x = {0, 3 * (kind == kernel_kind::masked), 2, 1, 2, 2, 1, 0};
    const const_token_view xv(x.data(), 2, 4);
    const noise_level lv = p.level(0.6);
    context<discrete_mixture> ref(m, p, {}, 0, 0, 2, 4);
    ref.posterior(xv, lv);
    for (auto kind_out : {output_kind::logits, output_kind::ratios}) {
      const converted_model cm{&m, kind_out};
      context<converted_model> ctx(cm, p, {}, 0, 0, 2, 4);
      ctx.posterior(xv, lv);
      for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t l = 0; l < 4; ++l)
          for (std::size_t v = 0; v < 3; ++v) CHECK(ctx.pi(i, l)[v] == Approx(ref.pi(i, l)[v]).margin(1e-12));
    }
  }
}

TEST_CASE("discrete samplers give bitwise-equal tokens for any thread count", "[discrete][threads]") {
  for (const char* name : {"euler", "tau-leaping", "pc", "tweedie", "ancestral", "first-hitting", "confidence"})
    for (auto kind : {kernel_kind::masked, kernel_kind::uniform}) {
      const discrete_mixture m = test_mixture(kind);
      sampler_settings s{.name = name, .remask = 1};
      if (kind == kernel_kind::uniform && (s.name == "ancestral" || s.name == "first-hitting" || s.name == "confidence")) continue;
      const auto one = run_sampler(m, s, schedule_kind::cosine, 6, 101, 42, 0, 1);
      const auto three = run_sampler(m, s, schedule_kind::cosine, 6, 101, 42, 0, 3);
      INFO(name);
      CHECK(one.tokens == three.tokens);
      CHECK(one.stats.nfe_mean == three.stats.nfe_mean);
      for (auto v : one.tokens) CHECK((v >= 0 && v < 3));
    }
}

TEST_CASE("discrete samplers allocate nothing per step", "[discrete][alloc]") {
  for (const char* name : {"euler", "pc", "tweedie", "ancestral", "first-hitting", "confidence"}) {
    const discrete_mixture m = test_mixture(kernel_kind::masked);
    const categorical_options cat{.temperature = 0.8, .top_k = 2, .top_p = 0.9};
    std::size_t counts[3];
    for (int r = 0; r < 3; ++r) {  // run 0 warms up one-time state (the OpenMP runtime's, for one)
      const std::size_t steps = r == 2 ? 64 : 4;
      std::vector<std::int32_t> x(20 * 4);
      const process p{kernel{kernel_kind::masked, 3}, alpha_schedule(schedule_kind::linear)};
      run_options o{.seed = 1, .steps = steps, .block_size = 2, .threads = 1, .first_row = 0, .categorical = cat};
      sampler_settings s{.name = name, .remask = 1};
      with_sampler(s, [&](auto smp) {
        count_allocations c;
        discrete::sample(m, p, smp, token_view(x.data(), 20, 4), o);
        counts[r] = c.count();
        return 0;
      });
    }
    INFO(name << ": " << counts[1] << " allocations with 4 steps, " << counts[2] << " with 64");
    CHECK(counts[1] == counts[2]);
  }
}

TEST_CASE("discrete::sample rejects bad settings with one-line errors", "[discrete]") {
  const discrete_mixture mu = test_mixture(kernel_kind::uniform);
  CHECK_THROWS_WITH(run_sampler(mu, {.name = "ancestral"}, schedule_kind::linear, 4, 2, 0), "sampler ancestral needs the masked kernel");
  CHECK_THROWS_WITH(run_sampler(mu, {.name = "tweedie"}, schedule_kind::linear, 4, 2, 0, 2),
                    "discrete::sample: block decoding needs the masked kernel (later blocks stay masked)");
  CHECK_THROWS_AS(run_sampler(mu, {.name = "euler"}, schedule_kind::linear, 0, 2, 0), config_error);
  CHECK_THROWS_AS(run_sampler(mu, {.name = "bogus"}, schedule_kind::linear, 4, 2, 0), config_error);
  CHECK_THROWS_AS(run_sampler(mu, {.name = "pc", .corrector_size = -1}, schedule_kind::linear, 4, 2, 0), config_error);
}

}  // namespace test_discrete
