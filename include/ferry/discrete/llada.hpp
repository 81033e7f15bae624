#pragma once
// LLaDA's decoding loop (Nie et al. 2025, "Large Language Diffusion Models", Alg. 5 and App. B.4):
// ML-GSAI/LLaDA generate.py, generate() with get_num_transfer_tokens and add_gumbel_noise, on the
// masked kernel. The generated span is decoded in blocks of B left to right (the loop's blocks,
// which must tile it), each in K = S/blocks steps (`steps` counts all blocks'). Step k of a block
// that had m masks when it started reveals
//
//   n_k = ⌊m/K⌋ + [k < m mod K]                                  (get_num_transfer_tokens)
//
// of the block's masks, those with the highest scores, each to its proposal x0:
//
//   logits  l = log π(x);  cfg_scale W > 0: l = u + (W + 1)(l − u), u = log π(x with every given token masked)
//   EOS     rule logits: l_E = −∞ right away, so E is never proposed
//   x0      T = 0: argmax_v l_v;   T > 0: argmax_v e^{l_v}/(−log u_v)^T, u_v keyed U(0, 1) — a draw from softmax(l/T)
//   score   low-confidence: softmax(l)[x0], at temperature 1 (rule confidence: with l_E = −∞, so x0 = E scores 0)
//           random: a keyed U(0, 1)
//
// Ties go to the lower position. π is floored at the smallest normal double before the logarithm.
// The times play no part (the schedule is the counts). NFE = S, or 2S with CFG (rows whose tokens
// did not change keep their π without CFG: the masked kernel's π does not depend on t).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "ferry/core/error.hpp"
#include "ferry/discrete/categorical.hpp"
#include "ferry/discrete/denoiser.hpp"
#include "ferry/discrete/step_info.hpp"

namespace ferry::discrete {

enum class remasking { low_confidence, random };
enum class eos_rule { none, logits, confidence };

/// low-confidence | random (LLaDA's spellings low_confidence also accepted).
inline remasking parse_remasking(std::string_view name) {
  if (name == "low-confidence" || name == "low_confidence") return remasking::low_confidence;
  if (name == "random") return remasking::random;
  throw config_error(ferry::detail::cat("remasking \"", ferry::detail::escape(name), "\" is unknown",
                                        ferry::detail::did_you_mean(name, {"low-confidence", "random"}),
                                        "; expected low-confidence or random"));
}
/// logits (generate.py's logits_eos_inf) | confidence (confidence_eos_eot_inf).
inline eos_rule parse_eos_rule(std::string_view name) {
  if (name == "logits") return eos_rule::logits;
  if (name == "confidence") return eos_rule::confidence;
  throw config_error(ferry::detail::cat("eos rule \"", ferry::detail::escape(name), "\" is unknown",
                                        ferry::detail::did_you_mean(name, {"logits", "confidence"}), "; expected logits or confidence"));
}

struct llada_options {
  double temperature = 0;  ///< 0: argmax
  discrete::remasking remasking = remasking::low_confidence;
  double cfg_scale = 0;   ///< W; 0: no guidance
  std::int64_t eos_id = -1;  ///< E, with eos != none
  eos_rule eos = eos_rule::none;

  void validate() const {
    using ferry::detail::cat;
    if (!(temperature >= 0) || !std::isfinite(temperature))
      throw config_error(cat("llada: temperature = ", temperature, "; expected a finite value >= 0"));
    if (!(cfg_scale >= 0) || !std::isfinite(cfg_scale))
      throw config_error(cat("llada: cfg_scale = ", cfg_scale, "; expected a finite value >= 0"));
    if (eos != eos_rule::none && eos_id < 0) throw config_error("llada: an eos rule needs eos_id, the EOS token");
    if (eos == eos_rule::none && eos_id >= 0) throw config_error(cat("llada: eos_id = ", eos_id, " without an eos rule (logits or confidence)"));
  }
};

class llada {
 public:
  static constexpr const char* name = "llada";
  static constexpr bool masked_only = true, total_steps = true, uses_times = false, shapes_itself = true;
  llada_options options;

  llada() = default;
  explicit llada(const llada_options& o) : options(o) { options.validate(); }
  void validate() const { options.validate(); }
  void check(const run_plan& plan) const {
    using ferry::detail::cat;
    const std::size_t span = plan.length - plan.span_start;
    if (span % plan.block_size != 0)
      throw config_error(cat("llada: block_size = ", plan.block_size, " does not divide the generated span of ", span,
                             " positions (", plan.span_start, " to ", plan.length - 1, ")"));
    if (options.cfg_scale > 0 && !plan.given)
      throw config_error(cat("llada: cfg_scale = ", options.cfg_scale,
                             " needs given tokens (a prompt or infill in init): the unconditional input masks them"));
    if (options.eos != eos_rule::none && std::size_t(options.eos_id) >= plan.vocab)
      throw config_error(cat("llada: eos_id = ", options.eos_id, " is not a token of the vocabulary [0, ", plan.vocab, ")"));
  }

  template <class Ctx>
  void reset(Ctx& ctx) {
    masks_.assign(ctx.rows(), 0);
    x0_.assign(ctx.length(), 0);
    score_.assign(ctx.length(), 0.0);
    order_.assign(ctx.length(), 0);
    logits_.assign(ctx.vocab(), 0.0);
    if (options.cfg_scale > 0) {
      uncond_.assign(ctx.rows() * ctx.length(), 0);
      pi_u_.assign(ctx.rows() * ctx.length() * ctx.vocab(), 0.0);
    }
  }

  template <class Ctx>
  void step(Ctx& ctx, const step_info& st, token_view x) {
    const int mask = ctx.kernel().mask();
    const std::size_t V = ctx.vocab();
    const noise_level lv = ctx.level(st.t);
    const bool cfg = options.cfg_scale > 0;
    if (cfg) {  // the unconditional input: every given token masked (generate.py's prompt_index)
      ctx.posterior(x, lv);
      for (std::size_t i = 0; i < x.rows; ++i)
        for (std::size_t l = 0; l < x.cols; ++l) uncond_[i * x.cols + l] = ctx.given(i, l) ? mask : x(i, l);
      ctx.posterior_into(const_token_view(uncond_.data(), x.rows, x.cols), lv, pi_u_);
    } else {
      ctx.posterior(x, lv, true);
    }
    for (std::size_t i = 0; i < x.rows; ++i) {
      if (st.k == 0) masks_[i] = std::size_t(std::count(x.row(i).begin() + std::ptrdiff_t(st.lo), x.row(i).begin() + std::ptrdiff_t(st.hi), mask));
      const std::size_t reveal = masks_[i] / st.steps + (st.k < masks_[i] % st.steps);
      if (reveal == 0) continue;
      std::size_t candidates = 0;
      for (std::size_t l = st.lo; l < st.hi; ++l) {
        if (x(i, l) != mask) continue;
        const double* pc = ctx.pi(i, l).data();
        const double* pu = cfg ? pi_u_.data() + (i * x.cols + l) * V : nullptr;
        for (std::size_t v = 0; v < V; ++v) {
          logits_[v] = log_floor(pc[v]);
          if (cfg) logits_[v] = log_floor(pu[v]) + (options.cfg_scale + 1) * (logits_[v] - log_floor(pu[v]));
        }
        if (options.eos == eos_rule::logits) logits_[std::size_t(options.eos_id)] = -inf;
        x0_[l] = std::int32_t(propose(ctx, i, st.index, l));
        if (options.remasking == remasking::random) {
          score_[l] = ctx.uniform(i, st.index, draw_stream::coin, l);
        } else {
          if (options.eos == eos_rule::confidence) logits_[std::size_t(options.eos_id)] = -inf;
          score_[l] = softmax_at(std::size_t(x0_[l]));
        }
        order_[candidates++] = l;
      }
      const std::size_t keep = std::min(reveal, candidates);
      std::partial_sort(order_.begin(), order_.begin() + std::ptrdiff_t(keep), order_.begin() + std::ptrdiff_t(candidates),
                        [&](std::size_t a, std::size_t b) { return score_[a] > score_[b] || (score_[a] == score_[b] && a < b); });
      for (std::size_t k = 0; k < keep; ++k) x(i, order_[k]) = x0_[order_[k]];
      if (keep > 0) ctx.changed(i);
    }
  }

 private:
  static constexpr double inf = std::numeric_limits<double>::infinity();
  static double log_floor(double p) { return std::log(std::max(p, std::numeric_limits<double>::min())); }

  // x0 from logits_: the argmax, or (T > 0) the Gumbel-max draw ∝ exp(l/T) with the keyed uniforms of position l.
  template <class Ctx>
  std::size_t propose(Ctx& ctx, std::size_t i, std::uint32_t step, std::size_t l) const {
    const auto best = std::max_element(logits_.begin(), logits_.end());
    if (options.temperature == 0) return std::size_t(best - logits_.begin());
    const double top = *best;
    const std::span<double> w = ctx.scratch();
    for (std::size_t v = 0; v < w.size(); ++v) w[v] = std::exp((logits_[v] - top) / options.temperature);
    return ctx.draw(w, i, step, draw_stream::token, l);
  }
  // softmax(logits_)[v]
  double softmax_at(std::size_t v) const {
    const double top = *std::max_element(logits_.begin(), logits_.end());
    double z = 0;
    for (double a : logits_) z += std::exp(a - top);
    return std::exp(logits_[v] - top) / z;
  }

  std::vector<std::size_t> masks_;    // per row: the block's masks when it started
  std::vector<std::int32_t> x0_;      // per position: the proposal
  std::vector<double> score_;         // per position: its score
  std::vector<std::size_t> order_;    // the candidates, best first
  std::vector<double> logits_;        // one position's logits
  std::vector<std::int32_t> uncond_;  // CFG: the rows with their given tokens masked
  std::vector<double> pi_u_;          // CFG: π of uncond_
};

}  // namespace ferry::discrete
