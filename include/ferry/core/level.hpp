#pragma once
// Noise level of x_t = α_t·x0 + σ_t·ε at one time t, with λ_t = log(α_t/σ_t) (half the log-SNR)
// and the time derivatives α'_t, σ'_t that a flow velocity needs.
#include <cmath>
#include <limits>

namespace ferry {

template <class T>
struct level {
  T t{};                                             ///< the process's own time (a diffusers timestep for β tables)
  T alpha{1};                                        ///< α_t, signal scale
  T sigma{0};                                        ///< σ_t, noise scale
  T lambda{std::numeric_limits<T>::infinity()};     ///< λ_t = log α_t − log σ_t
  T d_alpha{};                                       ///< dα/dt
  T d_sigma{};                                       ///< dσ/dt

  /// The level with λ computed from α and σ (σ = 0 gives λ = +∞, α = 0 gives −∞).
  static level make(T alpha, T sigma, T t = 0, T d_alpha = 0, T d_sigma = 0) {
    return {t, alpha, sigma, std::log(alpha) - std::log(sigma), d_alpha, d_sigma};
  }
  /// σ/α: the EDM / k-diffusion noise level of the same state divided by α.
  T sigma_edm() const { return sigma / alpha; }
};

/// The level of the VP process whose EDM-view noise is σ̃: α = 1/√(1+σ̃²), σ = σ̃·α.
template <class T>
level<T> vp_level_from_edm_sigma(T sigma_edm, T t = 0) {
  if (std::isinf(sigma_edm)) return level<T>::make(T(0), T(1), t);
  const T alpha = 1 / std::sqrt(sigma_edm * sigma_edm + 1);
  return level<T>::make(alpha, sigma_edm * alpha, t);
}

}  // namespace ferry
