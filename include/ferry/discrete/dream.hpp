#pragma once
// Dream's decoding loop (Ye et al. 2025, "Dream 7B"): Dream-org/Dream-v0-Instruct-7B
// generation_utils.py, DreamGenerationMixin._sample with sample_tokens, top_p_logits and
// top_k_logits (the version that picks the positions to reveal per row), on the masked kernel.
// Over the times t_0 = 1 > … > t_K (its own: torch.linspace(1, ε, K + 1) in float32), a step from t
// to s with n masks in the block shapes π at every mask and reveals some of them:
//
//   q       T > 0: π^{1/T} (logits/T); then top-p (sorted descending, a token stays while the mass
//           before it is ≤ P, the first always), then top-k (q ≥ the K-th largest); renormalised
//   x0      T = 0: argmax q;   T > 0: x0 ~ q
//   score   maskgit-plus q[x0];   topk-margin q_(1) − q_(2);   entropy Σ_v q_v·log(q_v + 1e−10)
//   reveal  k = ⌊n·(1 − s/t)⌋ in float32 as the peer (all n at the last step): the k highest scores,
//           or (alg_temp A > 0) k positions drawn without replacement ∝ softmax(score/A)
//   origin  no score: each mask is revealed with probability 1 − s/t (1 at the last step)
//
// Dream's network predicts position ℓ from its output at ℓ − 1 (_sample shifts its logits right by
// one); a ferry denoiser answers for ℓ at ℓ, so there is no shift here. Ties go to the lower
// position. NFE = K (rows whose tokens did not change keep their π).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string_view>
#include <vector>

#include "ferry/compat/float32.hpp"
#include "ferry/core/error.hpp"
#include "ferry/discrete/categorical.hpp"
#include "ferry/discrete/denoiser.hpp"
#include "ferry/discrete/step_info.hpp"
#include "ferry/discrete/times.hpp"

namespace ferry::discrete {

enum class dream_alg { origin, maskgit_plus, topk_margin, entropy };

/// origin | maskgit-plus | topk-margin | entropy (Dream's spellings maskgit_plus, topk_margin also accepted).
inline dream_alg parse_dream_alg(std::string_view name) {
  if (name == "origin") return dream_alg::origin;
  if (name == "maskgit-plus" || name == "maskgit_plus") return dream_alg::maskgit_plus;
  if (name == "topk-margin" || name == "topk_margin") return dream_alg::topk_margin;
  if (name == "entropy") return dream_alg::entropy;
  throw config_error(ferry::detail::cat("alg \"", ferry::detail::escape(name), "\" is unknown",
                                        ferry::detail::did_you_mean(name, {"origin", "maskgit-plus", "topk-margin", "entropy"}),
                                        "; expected origin, maskgit-plus, topk-margin or entropy"));
}

struct dream_options {
  dream_alg alg = dream_alg::origin;
  double eps = 1e-3;       ///< ε: the default grid ends at ε instead of 0
  double alg_temp = 0;     ///< A; 0: the k best scores
  double temperature = 0;  ///< 0: argmax
  double top_p = 1;        ///< 1: off
  std::size_t top_k = 0;   ///< 0: off

  void validate() const {
    using ferry::detail::cat;
    if (!(eps >= 0 && eps < 1)) throw config_error(cat("dream: eps = ", eps, "; expected 0 <= eps < 1"));
    if (!(alg_temp >= 0) || !std::isfinite(alg_temp)) throw config_error(cat("dream: alg_temp = ", alg_temp, "; expected a finite value >= 0"));
    if (!(temperature >= 0) || !std::isfinite(temperature))
      throw config_error(cat("dream: temperature = ", temperature, "; expected a finite value >= 0"));
    if (!(top_p > 0 && top_p <= 1)) throw config_error(cat("dream: top_p = ", top_p, "; expected 0 < top_p <= 1"));
  }
};

class dream {
 public:
  static constexpr const char* name = "dream";
  static constexpr bool masked_only = true, shapes_itself = true;
  dream_options options;

  dream() = default;
  explicit dream(const dream_options& o) : options(o) { options.validate(); }
  void validate() const { options.validate(); }

  /// Dream's grid: torch.linspace(1, ε, K + 1) in float32, its last point moved to 0 (the last step
  /// reveals every mask whatever it is).
  std::vector<double> times(std::size_t steps) const {
    const std::vector<float> f = ferry::detail::torch_linspace_f32(1.0, options.eps, steps + 1);
    std::vector<double> t(f.begin(), f.end());
    t.back() = 0;
    return make_times({.kind = grid_kind::custom, .steps = steps, .times = t});
  }

  template <class Ctx>
  void reset(Ctx& ctx) {
    x0_.assign(ctx.length(), 0);
    score_.assign(ctx.length(), 0.0);
    order_.assign(ctx.length(), 0);
    q_.assign(ctx.vocab(), 0.0);
    sorted_.assign(ctx.vocab(), 0);
  }

  template <class Ctx>
  void step(Ctx& ctx, const step_info& st, token_view x) {
    const int mask = ctx.kernel().mask();
    ctx.posterior(x, ctx.level(st.t), true);
    const float ratio = ferry::detail::f32_sub(1.0f, ferry::detail::f32_div(float(st.s), float(st.t)));  // 1 − s/t
    for (std::size_t i = 0; i < x.rows; ++i) {
      std::size_t masked = 0;
      for (std::size_t l = st.lo; l < st.hi; ++l)
        if (x(i, l) == mask) order_[masked++] = l;
      if (masked == 0) continue;
      if (options.alg == dream_alg::origin) {
        for (std::size_t m = 0; m < masked; ++m) {
          const std::size_t l = order_[m];
          if (!st.last && !(ctx.uniform(i, st.index, draw_stream::coin, l) < double(ratio))) continue;
          shape(ctx.pi(i, l));
          x(i, l) = std::int32_t(propose(ctx, i, st.index, l));
          ctx.changed(i);
        }
        continue;
      }
      for (std::size_t m = 0; m < masked; ++m) {
        const std::size_t l = order_[m];
        shape(ctx.pi(i, l));
        x0_[l] = std::int32_t(propose(ctx, i, st.index, l));
        score_[l] = score(std::size_t(x0_[l]));
      }
      const std::size_t k = st.last ? masked : std::size_t(ferry::detail::f32_mul(float(masked), ratio));
      if (k == 0) continue;
      if (options.alg_temp > 0) {  // k draws without replacement ∝ exp(score/A): the k smallest exponential-race keys
        double best = -std::numeric_limits<double>::infinity();
        for (std::size_t m = 0; m < masked; ++m) best = std::max(best, score_[order_[m]]);
        for (std::size_t m = 0; m < masked; ++m) {
          const std::size_t l = order_[m];
          const double w = std::exp((score_[l] - best) / options.alg_temp);
          score_[l] = std::log(ctx.uniform(i, st.index, draw_stream::position, l)) / w;  // −key: the largest go first
        }
      }
      std::partial_sort(order_.begin(), order_.begin() + std::ptrdiff_t(k), order_.begin() + std::ptrdiff_t(masked),
                        [&](std::size_t a, std::size_t b) { return score_[a] > score_[b] || (score_[a] == score_[b] && a < b); });
      for (std::size_t m = 0; m < k; ++m) x(i, order_[m]) = x0_[order_[m]];
      ctx.changed(i);
    }
  }

 private:
  // q_ = π shaped by temperature, top-p, top-k (sample_tokens' order), normalised.
  void shape(std::span<const double> pi) {
    const std::size_t V = q_.size();
    double z = 0;
    if (options.temperature > 0 && options.temperature != 1) {
      const double top = std::log(*std::max_element(pi.begin(), pi.end()));
      for (std::size_t v = 0; v < V; ++v) z += q_[v] = pi[v] > 0 ? std::exp((std::log(pi[v]) - top) / options.temperature) : 0.0;
    } else {
      for (std::size_t v = 0; v < V; ++v) z += q_[v] = pi[v];
    }
    for (double& v : q_) v /= z;
    if (options.top_p < 1) {  // top_p_logits: drop a token once the mass before it exceeds P
      std::iota(sorted_.begin(), sorted_.end(), std::size_t(0));
      std::sort(sorted_.begin(), sorted_.end(), [&](std::size_t a, std::size_t b) { return q_[a] > q_[b] || (q_[a] == q_[b] && a < b); });
      double before = 0;
      for (std::size_t r = 0; r < V; ++r) {
        const double p = q_[sorted_[r]];
        if (r > 0 && before > options.top_p) q_[sorted_[r]] = 0;
        before += p;
      }
    }
    if (options.top_k > 0 && options.top_k < V) {  // top_k_logits: keep q ≥ the K-th largest (ties stay)
      if (options.top_p == 1) {
        std::iota(sorted_.begin(), sorted_.end(), std::size_t(0));
        std::sort(sorted_.begin(), sorted_.end(), [&](std::size_t a, std::size_t b) { return q_[a] > q_[b] || (q_[a] == q_[b] && a < b); });
      }  // else sorted_ is still in order: top-p zeroed a tail of it
      const double kth = q_[sorted_[options.top_k - 1]];
      for (double& v : q_)
        if (v < kth) v = 0;
    }
    if (options.top_p < 1 || options.top_k > 0) {
      z = 0;
      for (double v : q_) z += v;
      for (double& v : q_) v /= z;
    }
  }

  template <class Ctx>
  std::size_t propose(Ctx& ctx, std::size_t i, std::uint32_t step, std::size_t l) const {
    if (options.temperature == 0) return std::size_t(std::max_element(q_.begin(), q_.end()) - q_.begin());
    return ctx.draw(q_, i, step, draw_stream::token, l);
  }
  double score(std::size_t x0) const {
    switch (options.alg) {
      case dream_alg::maskgit_plus: return q_[x0];
      case dream_alg::topk_margin: {
        double first = 0, second = 0;
        for (double v : q_)
          if (v > first) second = first, first = v;
          else if (v > second) second = v;
        return first - second;
      }
      case dream_alg::entropy: {
        double s = 0;
        for (double v : q_) s += v * std::log(v + 1e-10);
        return s;
      }
      case dream_alg::origin: break;
    }
    return 0;
  }

  std::vector<std::int32_t> x0_;     // per position: the proposal
  std::vector<double> score_;        // per position: its score
  std::vector<std::size_t> order_;   // the row's masks, best first
  std::vector<double> q_;            // one position's shaped probabilities
  std::vector<std::size_t> sorted_;  // its tokens by probability
};

}  // namespace ferry::discrete
