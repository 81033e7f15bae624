#pragma once
// What a discrete sampler asks of a model. Tokens are N×L int32 in [0, V), plus the mask id V
// under the masked kernel. Given x_t and the noise level, a denoiser writes for every row and
// position ℓ the V numbers of one of three kinds (N×L×V, row-major):
//
//   probabilities   p(x0^ℓ = v | x_t)                               (MDLM, MD4, LLaDA)
//   logits          log p(x0^ℓ = v | x_t) up to a constant per position
//   ratios          the concrete score s(x_t)_ℓ,v = p_t(x_t with x^ℓ = v)/p_t(x_t)   (SEDD, Lou et al. 2024)
//
// Samplers turn all three into p(x0^ℓ | x_t) (discrete/context.hpp); ratios invert through the
// kernel: masked s_v = α/(1−α)·p(v), uniform s_v = Σ_u p(u)·q_t(v|u)/q_t(x^ℓ|u).
//
// Given tokens (a prompt, infill): under the masked kernel a given token is an unmasked one, which
// p(x0 | x_t) already pins. Under the uniform kernel a token does not say whether it is given or
// noised, so a model that conditions on given tokens exactly takes their flags as well,
// m(x, given, lv, out) (conditional_denoiser); a plain one sees them as noised tokens (SEDD's
// prompt clamping).
#include <concepts>
#include <cstdint>
#include <span>

#include "ferry/core/batch.hpp"

namespace ferry::discrete {

/// N×L tokens (mutable / read-only).
using token_view = batch_view<std::int32_t>;
using const_token_view = batch_view<const std::int32_t>;
/// N×L flags: 1 where the token is given (never changes), 0 where it is generated.
using given_view = batch_view<const std::uint8_t>;

/// The noise level a model is evaluated at: time, α(t) and α'(t).
struct noise_level {
  double t = 1, alpha = 0, d_alpha = 0;
};

enum class output_kind { probabilities, logits, ratios };

/// A model of p(x0 | x_t): `outputs` says which of the three kinds operator() writes into out
/// (x.rows·x.cols·V doubles). It must be callable on any subset of rows and, being const, from
/// several threads at once.
template <class M>
concept denoiser = requires(const M& m, const_token_view x, const noise_level& lv, std::span<double> out) {
  { m.outputs } -> std::convertible_to<output_kind>;
  { m.vocab() } -> std::convertible_to<std::size_t>;
  m(x, lv, out);
};

/// A denoiser that also conditions on which tokens are given: m(x, given, lv, out).
template <class M>
concept conditional_denoiser =
    denoiser<M> && requires(const M& m, const_token_view x, given_view g, const noise_level& lv, std::span<double> out) {
      m(x, g, lv, out);
    };

}  // namespace ferry::discrete
