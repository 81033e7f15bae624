#pragma once
// What the discrete tests share: the L = 4, V = 3 test mixture, laws over all V^L sequences,
// total variation and its Monte-Carlo floor, and sample counts scaled down under sanitizers.
#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "ferry/discrete/registry.hpp"
#include "ferry/discrete/sample.hpp"
#include "ferry/models/discrete_mixture.hpp"
#include "test_support.hpp"


namespace ferry_test {

/// Sample counts: full size in Release, a tenth under ASan+UBSan at -O1 (the thresholds below
/// are relative to the floor at the n actually used, so they stay valid).
inline std::size_t mc_samples(std::size_t n) {
  return FERRY_TEST_SANITIZED ? n / 10 : n;
}

inline const std::string discrete_data = FERRY_TEST_DATA "/discrete/";

/// tests/data/discrete/mixture.json: M = 3 components, L = 4, V = 3.
inline ferry::discrete_mixture test_mixture(ferry::discrete::kernel_kind k = ferry::discrete::kernel_kind::masked) {
  auto m = ferry::discrete_mixture::load(discrete_data + "mixture.json");
  m.kernel = k;
  return m;
}

/// The sequence with index c (base V, position 0 most significant).
inline std::vector<std::int32_t> sequence_of(std::size_t c, std::size_t length, std::size_t vocab) {
  std::vector<std::int32_t> x(length);
  for (std::size_t l = length; l-- > 0; c /= vocab) x[l] = std::int32_t(c % vocab);
  return x;
}
inline std::size_t index_of(const std::int32_t* x, std::size_t length, std::size_t vocab) {
  std::size_t c = 0;
  for (std::size_t l = 0; l < length; ++l) c = c * vocab + std::size_t(x[l]);
  return c;
}
inline std::size_t count_sequences(std::size_t length, std::size_t vocab) {
  std::size_t n = 1;
  for (std::size_t l = 0; l < length; ++l) n *= vocab;
  return n;
}

/// p0 over all V^L sequences.
inline std::vector<double> data_law(const ferry::discrete_mixture& m) {
  std::vector<double> p(count_sequences(m.length(), m.vocab()));
  for (std::size_t c = 0; c < p.size(); ++c) p[c] = std::exp(m.log_prob(sequence_of(c, m.length(), m.vocab())));
  return p;
}

/// The empirical law of N×L tokens (all must be in [0, V)).
inline std::vector<double> empirical_law(const std::vector<std::int32_t>& x, std::size_t length, std::size_t vocab) {
  std::vector<double> h(count_sequences(length, vocab), 0.0);
  const std::size_t n = x.size() / length;
  for (std::size_t i = 0; i < n; ++i) h[index_of(x.data() + i * length, length, vocab)] += 1.0 / double(n);
  return h;
}

inline double total_variation(const std::vector<double>& p, const std::vector<double>& q) {
  double tv = 0;
  for (std::size_t c = 0; c < p.size(); ++c) tv += 0.5 * std::abs(p[c] - q[c]);
  return tv;
}

/// E[TV] between p and the empirical law of n exact draws from p (normal approximation of each
/// cell: E|p̂_c − p_c| = √(2 p_c (1 − p_c) / (π n))). Its standard deviation is about
/// √(Σ p_c(1 − p_c)·(1 − 2/π)/4)/√n ≈ 0.3/√n, under 10% of the floor for 81 cells at any n, so
/// an exact sampler stays below 1.35·floor (≥ 3.5 standard deviations) and a sampler whose bias
/// is as large as the floor does not (√2 ≈ 1.41 for independent errors).
inline double tv_floor(const std::vector<double>& p, std::size_t n) {
  double f = 0;
  for (double v : p) f += 0.5 * std::sqrt(2 * v * (1 - v) / (std::numbers::pi * double(n)));
  return f;
}
inline constexpr double floor_multiple = 1.35;

/// Runs a named sampler on the test mixture; returns the tokens (N×L) and the stats.
struct discrete_run {
  std::vector<std::int32_t> tokens;
  ferry::discrete::run_stats stats;
};
inline discrete_run run_sampler(const ferry::discrete_mixture& m, const ferry::discrete::sampler_settings& s,
                                ferry::discrete::schedule_kind sched, std::size_t steps, std::size_t n, std::uint64_t seed,
                                std::size_t block = 0, int threads = 1, ferry::discrete::categorical_options cat = {}) {
  using namespace ferry::discrete;
  const process p{kernel{m.kernel, m.vocab()}, alpha_schedule(sched)};
  run_options o;
  o.seed = seed;
  o.steps = steps;
  o.block_size = block;
  o.threads = threads;
  o.categorical = cat;
  discrete_run r;
  r.tokens.assign(n * m.length(), -1);
  r.stats = with_sampler(s, [&](auto smp) { return sample(m, p, smp, token_view(r.tokens.data(), n, m.length()), o); });
  return r;
}

}  // namespace ferry_test
