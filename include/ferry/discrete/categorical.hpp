#pragma once
// Shaping and drawing from p(x0^ℓ | x_t) at one position.
//
// Shaping, in this order (as Hugging Face's logits processors): temperature T (p^{1/T},
// renormalised; T = 0 is the argmax), top-k (the k most probable tokens, ties to the lower id),
// top-p / nucleus (Holtzman et al. 2020: the fewest most-probable tokens whose mass reaches p).
//
// Draws are Gumbel-max over V keyed uniforms (random/normal.hpp's uniform_at): token v of
// position ℓ uses index ℓ·V + v, so a draw is fixed by (seed, row, step, stream, ℓ) alone.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "ferry/core/error.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/simd/categorical.hpp"

namespace ferry::discrete {

enum class gumbel_precision { float64, float32 };

/// How p(x0 | x_t) is shaped before it is used, and how categorical draws are made.
struct categorical_options {
  double temperature = 1;  ///< 0: argmax
  std::size_t top_k = 0;   ///< 0: all tokens
  double top_p = 1;        ///< 1: all tokens
  gumbel_precision precision = gumbel_precision::float64;

  void validate() const {
    if (!(temperature >= 0) || !std::isfinite(temperature))
      throw config_error(detail::cat("temperature = ", temperature, "; expected a finite value >= 0"));
    if (!(top_p > 0 && top_p <= 1)) throw config_error(detail::cat("top_p = ", top_p, "; expected 0 < top_p <= 1"));
  }
  bool is_identity() const { return temperature == 1 && top_k == 0 && top_p == 1; }
};

/// Streams of the categorical layer within one step (offsets from random::streams::categorical).
namespace draw_stream {
inline constexpr std::uint32_t token = 0;      ///< Gumbel draws of tokens, index ℓ·V + v
inline constexpr std::uint32_t coin = 1;       ///< one uniform per position: move or stay, index ℓ
inline constexpr std::uint32_t position = 2;   ///< first-hitting: which masked position
inline constexpr std::uint32_t data = 3;       ///< exact draws of x0 from an oracle
inline constexpr std::uint32_t corrector = 8;  ///< corrector step c: corrector + 2c (token), + 2c + 1 (coin)
inline constexpr std::uint32_t of(std::uint32_t offset) { return random::streams::categorical + offset; }
}  // namespace draw_stream

/// Shapes one position's probabilities p[0..V) in place; order is a scratch of V indices.
inline void shape_probabilities(std::span<double> p, const categorical_options& o, std::span<std::size_t> order) {
  const std::size_t n = p.size();
  if (o.temperature == 0) {
    const std::size_t best = std::size_t(std::max_element(p.begin(), p.end()) - p.begin());
    std::fill(p.begin(), p.end(), 0.0);
    p[best] = 1;
    return;
  }
  if (o.temperature != 1) {  // p^{1/T} = exp(log p / T), shifted by the largest log p
    const double top = std::log(*std::max_element(p.begin(), p.end()));
    for (double& v : p) v = v > 0 ? std::exp((std::log(v) - top) / o.temperature) : 0.0;
  }
  if (o.top_k > 0 || o.top_p < 1) {
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    double total = 0;
    for (double v : p) total += v;
    std::size_t keep = o.top_k > 0 ? std::min(o.top_k, n) : n;
    if (o.top_p < 1) {
      double mass = 0;
      std::size_t k = 0;
      while (k < keep && mass < o.top_p * total) mass += p[order[k++]];
      keep = std::max<std::size_t>(k, 1);
    }
    for (std::size_t k = keep; k < n; ++k) p[order[k]] = 0;
  }
  double z = 0;
  for (double v : p) z += v;
  for (double& v : p) v /= z;
}

/// Scratch for Gumbel draws over V tokens (sized once, reused every draw).
struct gumbel_workspace {
  std::vector<double> u, score;
  std::vector<float> wf, uf, scoref;
  explicit gumbel_workspace(std::size_t v = 0) : u(v), score(v), wf(v), uf(v), scoref(v) {}
};

/// argmax_v [log w_v + G_v] over v < V with v ≠ exclude, G_v = −log(−log u_v) from the keyed
/// uniforms at index ℓ·V + v: a draw from w/Σw restricted to the allowed tokens. Returns V when no
/// allowed w_v > 0. In float64 it is computed as the exponential race argmin_v (−log u_v)/w_v
/// (simd::race_argmin), the same law with a logarithm only for the entries that can still win.
inline std::size_t gumbel_draw(std::span<const double> w, std::uint64_t seed, std::uint32_t row, std::uint32_t step,
                               std::uint32_t stream, std::size_t position, gumbel_precision precision, gumbel_workspace& ws,
                               std::size_t exclude = std::size_t(-1)) {
  const std::size_t n = w.size();
  random::fill_uniform(seed, std::span<double>(ws.u.data(), n), row, step, stream, std::uint64_t(position) * n);
  auto skip = [&](std::size_t v) { return v == exclude; };
  if (precision == gumbel_precision::float64) {
    const std::size_t v = simd::race_argmin(w.data(), ws.u.data(), n, exclude);
    if (v < n) return v;
    simd::gumbel_scores(w.data(), ws.u.data(), ws.score.data(), n);  // no finite key: weights below ~1e-307
    return simd::argmax_where(ws.score.data(), n, skip);
  }
  for (std::size_t v = 0; v < n; ++v) {
    ws.wf[v] = float(w[v]);
    ws.uf[v] = float(ws.u[v]);
  }
  simd::gumbel_scores(ws.wf.data(), ws.uf.data(), ws.scoref.data(), n);
  return simd::argmax_where(ws.scoref.data(), n, skip);
}

}  // namespace ferry::discrete
