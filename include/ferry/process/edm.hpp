#pragma once
// The EDM process (Karras et al. 2022, Table 1, "Ours"): x = x0 + σ·ε with σ itself as time,
// so α = 1, σ(t) = t, λ = −log t. Its PF-ODE is dx/dσ = (x − D(x; σ))/σ = ε̂ (Eq. 3 with s = 1),
// the ODE that k-diffusion's samplers integrate.
#include <cmath>
#include <limits>

#include "ferry/core/error.hpp"

namespace ferry {

template <class T = double>
struct edm {
  using value_type = T;
  T sigma_min = T(0.002), sigma_max = T(80);  ///< the usual sampling range (defaults of EDM, Sec. 5)

  edm() = default;
  edm(T smin, T smax) : sigma_min(smin), sigma_max(smax) {
    if (!(smin > 0) || !(smax > smin) || !std::isfinite(smax))
      throw config_error(detail::cat("edm: need 0 < sigma_min < sigma_max < inf, got sigma_min=", smin, ", sigma_max=", smax));
  }

  T alpha(T) const { return 1; }
  T sigma(T t) const { return t; }
  T d_alpha(T) const { return 0; }
  T d_sigma(T) const { return 1; }
  T lambda(T t) const { return -std::log(t); }
  T t_of_lambda(T l) const { return std::exp(-l); }
  T t_min() const { return 0; }
  T t_max() const { return std::numeric_limits<T>::infinity(); }
};

}  // namespace ferry
