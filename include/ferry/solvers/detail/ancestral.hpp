#pragma once
// get_ancestral_step: the ancestral split of a step (Ho et al. 2020; Song et al. 2021 "DDIM", Eq. 16 with η; k-diffusion
// get_ancestral_step): in the EDM view σ̃ = σ/α, the step σ̃_cur → σ̃_next becomes a deterministic
// step to σ̃_down followed by fresh noise of standard deviation σ̃_up, with σ̃_down² + σ̃_up² = σ̃_next²:
//   σ̃_up   = min(σ̃_next, η·√(σ̃_next²·(σ̃_cur² − σ̃_next²)/σ̃_cur²)),   σ̃_down = √(σ̃_next² − σ̃_up²)
// η = 1 is the DDPM posterior variance; η = 0 no noise (σ̃_down = σ̃_next).
// In the model's view a state at σ̃_down is kept with the landing's α: down_level() is
// {α_next, α_next·σ̃_down}, so x_next = x_down + α_next·σ̃_up·z.
//
// get_ancestral_step_rf: ComfyUI's split on a rectified flow (sample_euler_ancestral_RF and the other
// _RF samplers), in flow σ's (α = 1 − σ): the deterministic step lands on the flow level
//   σ_down = σ'·(1 + (σ'/σ − 1)·η)
// and the forward process takes it to σ':  x' = (α'/α_down)·x_down + σ_renoise·z,
//   σ_renoise = √(σ'² − (α'·σ_down/α_down)²).
// η = 1 gives σ_down = σ'²/σ, η = 0 no noise. In the model's scale at σ' this is the split
// {α'·σ_down/α_down, σ_renoise} of σ' (ancestral.hpp's form x' = α'x̂0 + down·ε̂ + up·z).
#include <algorithm>
#include <cmath>

#include "ferry/core/level.hpp"

namespace ferry::detail {

template <class T>
struct ancestral_sigmas {
  T down, up;  ///< σ_down, σ_up
};

/// k-diffusion get_ancestral_step(σ̃_cur, σ̃_next, η), written as it is (σ̃_cur may be +∞).
template <class T>
ancestral_sigmas<T> get_ancestral_step(T sigma_cur, T sigma_next, T eta) {
  if (eta == 0) return {sigma_next, T(0)};
  const T var = std::isinf(sigma_cur) ? sigma_next * sigma_next
                                      : sigma_next * sigma_next * (sigma_cur * sigma_cur - sigma_next * sigma_next) / (sigma_cur * sigma_cur);
  const T up = std::min(sigma_next, eta * std::sqrt(var));
  return {std::sqrt(sigma_next * sigma_next - up * up), up};
}

/// The same split in the model's scale (get_ancestral_step times α_next) from two levels, through
/// r = σ̃'/σ̃ = σ'α/(σα'), which stays finite where α = 0 (pure noise):
///   σ_up = min(σ', η·σ'·√(1 − r²)),   σ_down = √(σ'² − σ_up²)
/// σ_up² = η²σ'²(1 − r²) is the DDPM posterior variance β̃·σ'²/σ² and DDIM's σ_t(η)².
template <class T>
ancestral_sigmas<T> get_ancestral_step(const level<T>& cur, const level<T>& next, T eta) {
  if (eta == 0 || next.sigma == 0) return {next.sigma, T(0)};
  const T r = (next.sigma * cur.alpha) / (cur.sigma * next.alpha);  // σ̃'/σ̃
  const T up = std::min(next.sigma, eta * next.sigma * std::sqrt(std::max(T(0), 1 - r * r)));
  return {std::sqrt(std::max(T(0), next.sigma * next.sigma - up * up)), up};
}

/// ComfyUI's rectified-flow split of the flow step σ → σ' (σ > 0).
template <class T>
struct rf_split {
  T down;     ///< σ_down, a flow σ
  T scale;    ///< α'/α_down
  T renoise;  ///< σ_renoise
  /// The same split in the model's scale at σ': {scale·σ_down, σ_renoise}.
  ancestral_sigmas<T> model_scale() const { return {scale * down, renoise}; }
};

template <class T>
rf_split<T> get_ancestral_step_rf(T sigma, T sigma_next, T eta) {
  const T down = sigma_next * (1 + (sigma_next / sigma - 1) * eta);
  const T scale = (1 - sigma_next) / (1 - down);
  const T renoise = std::sqrt(std::max(T(0), sigma_next * sigma_next - down * down * scale * scale));
  return {down, scale, renoise};
}

/// The level σ̃_down below `next` in the state's view: α = α_next, σ = α_next·σ̃_down.
template <class T>
level<T> down_level(const level<T>& next, T sigma_down) {
  return level<T>::make(next.alpha, next.alpha * sigma_down, next.t);
}

}  // namespace ferry::detail
