#pragma once
// How ComfyUI's samplers see a level (comfy/model_sampling.py, comfy/k_diffusion/sampling.py): they
// step the state of the model's own sampling in its own σ. An EPS / V model's state is the EDM form
// x̃ = x0 + σ̃·ε at σ̃ = σ/α (ferry's x/α); a CONST (rectified-flow) model's state is x = (1 − σ)·x0 + σ·ε
// itself at the flow σ. Samplers written for the EDM form (Karras et al. 2022: d = (x − D)/σ, Euler and
// Adams–Bashforth in σ, t = −log σ) run unchanged on a flow model's state, the flow σ in the place of
// the EDM σ. sigma_view gives that view of a level: the state is y = x/scale at noise level sigma
// (scale·sigma is the level's σ in both views). comfy_view chooses the view: automatic is the flow view
// on a `flow` process (by the problem's process type) and the EDM view otherwise; behind the run-time
// boundary (any_process) the type is unknown, so a program that samples a flow model there says
// comfy_view::flow.
//
// offset_first_sigma_for_snr is ComfyUI's rule for samplers that need a finite λ at the first level:
// on a CONST model a first σ ≥ 1 (α = 0) is replaced by percent_to_sigma(1e-4), the flow σ at time
// 1 − 10⁻⁴ of the model's shifted schedule.
#include <cmath>
#include <type_traits>

#include "ferry/core/level.hpp"
#include "ferry/process/flow.hpp"

namespace ferry {

/// Which state ComfyUI's samplers step: its EPS view (x/α at σ/α) or its CONST view (a flow's own state).
enum class comfy_view { automatic, edm, flow };

}  // namespace ferry

namespace ferry::detail {

/// Whether a problem's process is a flow (ComfyUI's CONST model sampling).
template <class Problem>
constexpr bool flow_view() {
  if constexpr (requires(const Problem& p) { p.process(); }) {
    using P = std::remove_cvref_t<decltype(std::declval<const Problem&>().process())>;
    return std::is_same_v<P, flow<typename P::value_type>>;
  } else {
    return false;
  }
}

/// The state y = x/scale at noise level sigma that ComfyUI's samplers step.
template <class T>
struct view_level {
  T scale, sigma;
};

/// Whether the view `v` is the flow view on this problem.
template <class Problem>
bool is_flow_view(comfy_view v) {
  return v == comfy_view::flow || (v == comfy_view::automatic && flow_view<Problem>());
}

template <class Problem, class T>
view_level<T> sigma_view(const level<T>& lv, comfy_view v) {
  if (is_flow_view<Problem>(v)) return {T(1), lv.sigma};
  return {lv.alpha, lv.sigma / lv.alpha};
}

/// ComfyUI's offset_first_sigma_for_snr: on a flow process the pure-noise level (α = 0) becomes the
/// level at flow time 1 − 10⁻⁴, kept as ComfyUI keeps it (α = 1 − σ, λ = log((1 − σ)/σ)).
template <class Problem, class T>
level<T> offset_first_sigma_for_snr(const Problem& p, const level<T>& lv, comfy_view v) {
  if (!is_flow_view<Problem>(v) || lv.alpha != 0) return lv;
  level<T> out = p.at(T(1) - T(1e-4));
  out.alpha = 1 - out.sigma;
  out.lambda = std::log(out.alpha) - std::log(out.sigma);
  return out;
}

}  // namespace ferry::detail
