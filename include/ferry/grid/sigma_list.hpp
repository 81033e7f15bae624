#pragma once
// A grid given as a list of noise levels, as ComfyUI's and k-diffusion's samplers take it: the run
// visits exactly these σ's. Each entry is the σ of the process's own state x = α·x0 + σ·ε —
// for EDM and VE (α = 1) the k-diffusion σ, for a flow the flow σ of x = (1 − σ)·x0 + σ·ε — and
// for any other (variance-preserving) process the EDM-view σ̃ = σ/α. A final 0 is a step to the
// data level. sigma_of_level is the inverse: the entry a level has in such a list.
//
// The level's α, σ and λ are the entry itself (α = 1; 1 − σ on a flow; 1/√(1 + σ̃²) and σ̃·α on a VP
// process), not the process re-evaluated at t(σ), so no rounding of the time map reaches the sampler;
// t = t_of_lambda(−log σ̃) and the derivatives α', σ' are the process's at that time. An entry beyond
// the σ̃_max of a discrete table (which k-diffusion's vp grid passes) keeps its own α, σ, λ, with t
// clamped to the table's end: solvers that step in λ or σ (every ComfyUI sampler) run it; solvers in
// the process's own time see no time pass there.
#include <cmath>
#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/process/flow.hpp"

namespace ferry {

/// The data level x = x0 that a final_zero grid ends at: t = 0, α = 1, σ = 0, λ = +∞. Where the
/// process itself reaches σ = 0 at t = 0 (VP, flow, EDM) its derivatives there are kept (σ' = +∞ for
/// VP, whose σ grows like √t); VE never reaches σ = 0, so its data level sits at t = 0 with zero
/// derivatives, below σ(0) = σ_min.
template <noise_process P>
level<typename P::value_type> data_level(const P& p) {
  using T = typename P::value_type;
  level<T> lv{};
  if (p.sigma(T(0)) == 0) {
    lv.d_alpha = p.d_alpha(T(0));
    lv.d_sigma = p.d_sigma(T(0));
  }
  return lv;
}

namespace detail {
// The time at which σ/α = s: t(−log s), exactly s for EDM (σ = t) so its σ grids are bit-exact.
template <noise_process P>
typename P::value_type t_of_sigma_edm(const P& p, typename P::value_type s) {
  using T = typename P::value_type;
  if constexpr (std::is_same_v<P, edm<T>>) return s;
  else return p.t_of_lambda(-std::log(s));
}
}  // namespace detail


/// The level of `p` whose σ (flow σ, or σ̃ = σ/α) is `s`; s = 0 is the data level.
template <noise_process P>
level<typename P::value_type> level_at_sigma(const P& p, typename P::value_type s) {
  using T = typename P::value_type;
  if (s == 0) return data_level(p);
  if constexpr (std::is_same_v<P, flow<T>>) {
    // σ(t) = k·t/(1 + (k − 1)t)  ⇒  t = σ/(k − (k − 1)σ)
    const T k = p.shift();
    level<T> lv = level_at(p, s / (k - (k - 1) * s));
    lv.alpha = 1 - s, lv.sigma = s;
    lv.lambda = std::log(lv.alpha) - std::log(s);
    return lv;
  } else {
    level<T> lv = level_at(p, detail::t_of_sigma_edm(p, s));
    if (lv.alpha == 1) {  // EDM, VE: the state's σ is the entry
      lv.sigma = s;
    } else if (std::abs(lv.alpha * lv.alpha + lv.sigma * lv.sigma - 1) < T(1e-4)) {  // VP: α = 1/√(1 + σ̃²)
      const level<T> e = vp_level_from_edm_sigma(s);
      lv.alpha = e.alpha, lv.sigma = e.sigma;
    }
    lv.lambda = -std::log(s);
    return lv;
  }
}

/// The entry of a level in a σ list: 0 at the data level, the flow σ on a flow, σ/α otherwise.
template <noise_process P>
typename P::value_type sigma_of_level(const P&, const level<typename P::value_type>& lv) {
  using T = typename P::value_type;
  if (lv.sigma == 0) return 0;
  if constexpr (std::is_same_v<P, flow<T>>) return lv.sigma;
  else return lv.sigma / lv.alpha;
}

/// The levels of a σ list (high noise first, strictly decreasing, finite, > 0 but for a final 0).
template <noise_process P>
std::vector<level<typename P::value_type>> levels_at_sigmas(const P& p, std::span<const typename P::value_type> sigmas) {
  using T = typename P::value_type;
  if (sigmas.size() < 2) throw config_error(detail::cat("sigmas: need at least 2 entries (one step), got ", sigmas.size()));
  std::vector<level<T>> out;
  out.reserve(sigmas.size());
  for (std::size_t i = 0; i < sigmas.size(); ++i) {
    const T s = sigmas[i];
    const bool last = i + 1 == sigmas.size();
    if (!std::isfinite(s) || s < 0 || (s == 0 && !last))
      throw config_error(detail::cat("sigmas: entry ", i, " is ", s, "; expected finite values > 0 (only the last may be 0)"));
    if (i > 0 && !(s < sigmas[i - 1]))
      throw config_error(detail::cat("sigmas: must decrease strictly, but entry ", i, " (", s, ") ",
                                     s == sigmas[i - 1] ? "repeats" : "is above", " entry ", i - 1, " (", sigmas[i - 1], ")"));
    if constexpr (std::is_same_v<P, flow<T>>)
      if (!(s <= 1)) throw config_error(detail::cat("sigmas: entry ", i, " is ", s, "; a flow's sigma lies in [0, 1]"));
    out.push_back(level_at_sigma(p, s));
  }
  return out;
}

}  // namespace ferry
