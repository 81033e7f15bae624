// The discrete loop from given tokens and over any time grid: exact samplers reach the exact
// conditional law p0(x | the given tokens) under either kernel (the oracle conditions exactly; χ²);
// a two-step run on a non-uniform grid follows its own enumerated law; the uniform grid is
// t_k = (K − k)/K to the bit; and the checks of init and times.
#include <cmath>
#include <cstdint>
#include <vector>

#include "catch.hpp"
#include "discrete_support.hpp"
#include "ferry/discrete/times.hpp"

namespace test_discrete_init {

using namespace ferry;
using namespace ferry::discrete;
using namespace ferry_test;

namespace {

discrete_run run_from(const discrete_mixture& m, const sampler_settings& s, schedule_kind sched, std::size_t steps, std::size_t n,
                      std::uint64_t seed, const std::vector<std::int32_t>& init, std::vector<double> times = {}, std::size_t block = 0,
                      int threads = 1, std::size_t init_cols = 0) {
  if (init_cols == 0) init_cols = m.length();
  const process p{kernel{m.kernel, m.vocab()}, alpha_schedule(sched)};
  run_options o;
  o.seed = seed;
  o.steps = steps;
  o.block_size = block;
  o.threads = threads;
  o.times = std::move(times);
  if (!init.empty()) o.init = const_token_view(init.data(), init.size() / init_cols, init_cols);
  discrete_run r;
  r.tokens.assign(n * m.length(), -1);
  r.stats = with_sampler(s, [&](auto smp) { return sample(m, p, smp, token_view(r.tokens.data(), n, m.length()), o); });
  return r;
}

// The oracle without the given flags: a denoiser that is not a conditional_denoiser.
struct plain {
  const discrete_mixture* m;
  static constexpr output_kind outputs = output_kind::probabilities;
  std::size_t vocab() const { return m->vocab(); }
  void operator()(const_token_view x, const noise_level& lv, std::span<double> out) const { (*m)(x, lv, out); }
};
static_assert(!conditional_denoiser<plain> && conditional_denoiser<discrete_mixture>);

// p0(x | x_ℓ = init_ℓ wherever init_ℓ < V), over all V^L sequences.
std::vector<double> conditional_law(const discrete_mixture& m, const std::vector<std::int32_t>& init) {
  std::vector<double> p = data_law(m);
  double z = 0;
  for (std::size_t c = 0; c < p.size(); ++c) {
    const auto x = sequence_of(c, m.length(), m.vocab());
    for (std::size_t l = 0; l < m.length(); ++l)
      if (std::size_t(init[l]) != m.vocab() && x[l] != init[l]) p[c] = 0;
    z += p[c];
  }
  for (double& v : p) v /= z;
  return p;
}

// Pearson's χ² of n draws (their empirical law q) against law p over the cells p > 0 (a draw in a
// cell with p = 0 makes it infinite), and its 0.999 quantile for those cells − 1 degrees of freedom
// (Wilson–Hilferty). TV against its mean is too loose a test for laws on a few cells: with 9 cells
// its standard deviation is a quarter of the mean.
struct chi_square {
  double stat = 0, limit = 0;
};
chi_square chi_square_test(const std::vector<double>& q, const std::vector<double>& p, std::size_t n) {
  chi_square r;
  std::size_t cells = 0;
  for (std::size_t c = 0; c < p.size(); ++c) {
    if (p[c] == 0) {
      if (q[c] > 0) r.stat = INFINITY;
      continue;
    }
    ++cells;
    const double d = (q[c] - p[c]) * double(n);
    r.stat += d * d / (p[c] * double(n));
  }
  const double k = double(cells - 1), z = 3.09;  // z of 0.999
  r.limit = k * std::pow(1 - 2 / (9 * k) + z * std::sqrt(2 / (9 * k)), 3);
  return r;
}

}  // namespace

TEST_CASE("from given tokens, exact samplers reach the exact conditional law under either kernel", "[discrete][init]") {
  const std::size_t n = mc_samples(50000);
  for (const std::vector<std::int32_t>& init : {std::vector<std::int32_t>{2, 3, 3, 3}, std::vector<std::int32_t>{3, 0, 3, 1}}) {
    struct c {
      const char* name;
      kernel_kind kind;
      std::size_t steps;
    };
    for (const c& k : {c{"first-hitting", kernel_kind::masked, 0}, c{"ancestral", kernel_kind::masked, 512},
                       c{"tweedie", kernel_kind::uniform, 128}}) {
      const discrete_mixture m = test_mixture(k.kind);
      const auto law = conditional_law(m, init);
      const auto r = run_from(m, {.name = k.name}, schedule_kind::linear, k.steps, n, 13, init, {}, 0, 2);
      std::size_t moved = 0;
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t l = 0; l < 4; ++l) moved += std::size_t(init[l]) != m.vocab() && r.tokens[4 * i + l] != init[l];
      const auto emp = empirical_law(r.tokens, 4, 3);
      const double tv = total_variation(emp, law), floor = tv_floor(law, n);
      const chi_square chi = chi_square_test(emp, law, n);
      INFO(k.name << " kernel " << int(k.kind) << " init " << init[0] << init[1] << init[2] << init[3] << ": TV " << tv << ", floor "
                  << floor << ", chi2 " << chi.stat << " (limit " << chi.limit << "), NFE " << r.stats.nfe_max);
      CHECK(moved == 0);
      CHECK(chi.stat < chi.limit);
      // The conditional law is not the data law: the test can tell conditioning from ignoring the prompt.
      CHECK(total_variation(law, data_law(m)) > 10 * floor);
      if (k.kind == kernel_kind::masked && std::string(k.name) == "first-hitting") CHECK(r.stats.nfe_max == (init[0] == 2 ? 3u : 2u));
    }
  }
}

TEST_CASE("a plain uniform-kernel model sees given tokens as noised ones; the conditional oracle does not", "[discrete][init]") {
  // The same oracle without the given flags (a denoiser that is not a conditional_denoiser) is SEDD's
  // prompt clamping: the given token is clamped but read as noised, so the law drifts from p0(x | given).
  const discrete_mixture m = test_mixture(kernel_kind::uniform);
  const std::vector<std::int32_t> init = {2, 3, 3, 3};
  const std::size_t n = mc_samples(20000);
  const auto law = conditional_law(m, init);
  const process p{kernel{kernel_kind::uniform, 3}, alpha_schedule(schedule_kind::linear)};
  run_options o{.seed = 3, .steps = 64, .block_size = 0, .threads = 2, .first_row = 0, .categorical = {}};
  o.init = const_token_view(init.data(), 1, 4);
  std::vector<std::int32_t> x(n * 4);
  sample(plain{&m}, p, tweedie{}, token_view(x.data(), n, 4), o);
  const double tv = total_variation(empirical_law(x, 4, 3), law), floor = tv_floor(law, n);
  const chi_square chi = chi_square_test(empirical_law(x, 4, 3), law, n);
  INFO("plain model: TV " << tv << ", floor " << floor << ", chi2 " << chi.stat << " (limit " << chi.limit << ")");
  CHECK(tv > 3 * floor);
  CHECK(chi.stat > 3 * chi.limit);
}

TEST_CASE("the uniform grid is t_k = (K - k)/K to the bit; custom grids are checked", "[discrete][times]") {
  for (std::size_t K : {1, 3, 7, 10, 64, 1000}) {
    const auto t = make_times({.kind = grid_kind::uniform, .steps = K});
    REQUIRE(t.size() == K + 1);
    for (std::size_t k = 0; k <= K; ++k) CHECK(t[k] == double(K - k) / double(K));
  }
  CHECK(make_times({.kind = grid_kind::custom, .times = {1, 0.3, 0}}) == std::vector<double>{1, 0.3, 0});
  using V = std::vector<double>;
  CHECK_THROWS_WITH(make_times({.kind = grid_kind::custom, .times = V{0.9, 0}}), "discrete times: time 0 is t = 0.90000000000000002; the grid starts at t = 1 (all noise)");
  CHECK_THROWS_WITH(make_times({.kind = grid_kind::custom, .times = V{1, 0.5}}), "discrete times: the last time is t = 0.5; the grid ends at t = 0 (the data)");
  CHECK_THROWS_WITH(make_times({.kind = grid_kind::custom, .times = V{1, 0.5, 0.5, 0}}),
                    "discrete times: times must decrease strictly (noise first), but time 2 (t = 0.5) repeats time 1 (t = 0.5)");
  CHECK_THROWS_WITH(make_times({.kind = grid_kind::custom, .times = V{1, 1.5, 0}}), "discrete times: time 1 is t = 1.5, outside [0, 1]");
  CHECK_THROWS_WITH(make_times({.kind = grid_kind::custom, .times = V{1}}), "discrete times: need at least 2 times (1, then 0), got 1");
  CHECK_THROWS_WITH(make_times({.kind = grid_kind::custom, .steps = 3, .times = V{1, 0}}),
                    "discrete times: steps = 3 but the 2 times give 1 steps; set steps to 0 or 1");
  CHECK_THROWS_WITH(make_times({.kind = grid_kind::karras, .steps = 4}),
                    "discrete times: grid kind karras spaces a continuous process's noise levels; expected uniform or custom");
  CHECK_THROWS_AS(make_times({.kind = grid_kind::uniform, .steps = 4, .t_max = 0.5}), config_error);
}

TEST_CASE("a 2-step run on the grid {1, 0.3, 0} follows its enumerated law", "[discrete][times]") {
  // Linear schedule: step 1 (t = 1 → 0.3) reveals each position with probability α(0.3) = 0.7, drawn
  // from p(x0^ℓ | all masked); step 2 draws every remaining mask from p(x0^ℓ | x_0.3).
  const discrete_mixture m = test_mixture();
  const std::size_t L = m.length(), V = m.vocab(), S = count_sequences(L, V);
  std::vector<double> law(S, 0.0), first(L * V), second(L * V);
  std::vector<std::int32_t> x(L, std::int32_t(V));
  m.posterior(x.data(), 0, first.data());
  for (std::size_t c = 0; c < S; ++c) {
    const auto y = sequence_of(c, L, V);
    for (unsigned revealed = 0; revealed < (1u << L); ++revealed) {
      double p = 1;
      for (std::size_t l = 0; l < L; ++l) {
        const bool r = (revealed >> l) & 1;
        p *= r ? 0.7 : 0.3;
        x[l] = r ? y[l] : std::int32_t(V);
      }
      m.posterior(x.data(), 0.7, second.data());
      for (std::size_t l = 0; l < L; ++l) p *= ((revealed >> l) & 1 ? first : second)[l * V + std::size_t(y[l])];
      law[c] += p;
    }
  }
  const std::size_t n = 200000;
  const auto r = run_from(m, {.name = "ancestral"}, schedule_kind::linear, 0, n, 41, {}, {1, 0.3, 0}, 0, 2);
  const auto uniform2 = run_from(m, {.name = "ancestral"}, schedule_kind::linear, 2, n, 41, {}, {}, 0, 2);
  const double tv = total_variation(empirical_law(r.tokens, L, V), law), floor = tv_floor(law, n);
  const double off = total_variation(empirical_law(uniform2.tokens, L, V), law);
  INFO("TV to the law of the {1, 0.3, 0} grid " << tv << ", floor " << floor << "; the uniform 2-step run is " << off << " from it");
  CHECK(tv < floor_multiple * floor);
  CHECK(off > 3 * floor);  // the grid matters: the test can tell it from the uniform one
  CHECK(r.stats.steps == 2);
}

TEST_CASE("init and steps are checked against the batch and the model", "[discrete][init]") {
  const discrete_mixture m = test_mixture();
  const sampler_settings anc{.name = "ancestral"};
  using I = std::vector<std::int32_t>;
  CHECK_THROWS_WITH(run_from(m, anc, schedule_kind::linear, 4, 2, 0, I{0, 3, 3}, {}, 0, 1, 3),
                    "discrete::sample: init has rows of 3 tokens; the model has L = 4");
  CHECK_THROWS_WITH(run_from(m, anc, schedule_kind::linear, 4, 3, 0, I{0, 3, 3, 3, 1, 3, 3, 3}),
                    "discrete::sample: init has 2 rows; expected 1 (for every row) or 3");
  CHECK_THROWS_WITH(run_from(m, anc, schedule_kind::linear, 4, 2, 0, I{0, 4, 3, 3}),
                    "discrete::sample: init token 4 at row 0, position 1 is outside [0, 3] (tokens 0..2, the mask 3 where to generate)");
  CHECK_THROWS_WITH(run_from(m, anc, schedule_kind::linear, 4, 2, 0, I{0, 3, 3, 3, 0, 1, 2, 0}),
                    "discrete::sample: init row 1 has no masked position (the mask id 3 marks the positions to generate)");
  CHECK_THROWS_WITH(run_from(m, anc, schedule_kind::linear, 0, 2, 0, I{}), "discrete::sample: steps must be at least 1");
  CHECK_THROWS_WITH(run_from(m, {.name = "first-hitting"}, schedule_kind::linear, 0, 2, 0, I{}, {1, 0}),
                    "sampler first-hitting takes no time grid; leave times empty");
  // Blocks start at the first generated position: a prompt of 2 and blocks of 1 give 2 blocks of K steps.
  const auto r = run_from(m, anc, schedule_kind::linear, 3, 10, 0, I{1, 0, 3, 3}, {}, 1);
  CHECK(r.stats.steps == 6);
}

}  // namespace test_discrete_init
