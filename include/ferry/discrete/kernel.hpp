#pragma once
// The two forward kernels of discrete diffusion over a vocabulary of V tokens, per position
// (Austin et al. 2021, D3PM; Campbell et al. 2022; Lou et al. 2024, SEDD):
//
//   masked (absorbing)  q_t(j | v) = α_t·[j = v] + (1 − α_t)·[j = m]      m = V, the mask id
//   uniform             q_t(j | v) = α_t·[j = v] + (1 − α_t)/V
//
// Both are "keep with probability a, else re-draw from the noise law" with a = α_t from the data;
// between two times s < t the same holds with a = α_{t|s} = α_t/α_s, so the posterior of the
// intermediate state is Bayes' rule on three such factors (D3PM Eq. 3):
//
//   q(x_s = j | x_t = x, x0 = v) = q(x | j; α_t/α_s)·q(j | v; α_s) / q(x | v; α_t)
//
// Forward rates (σ̄' = −α'/α): masked v → m at σ̄'; uniform v → j ≠ v at σ̄'/V.
#include <cstddef>
#include <string_view>

#include "ferry/core/error.hpp"

namespace ferry::discrete {

enum class kernel_kind { masked, uniform };

inline kernel_kind parse_kernel_kind(std::string_view name) {
  if (name == "masked") return kernel_kind::masked;
  if (name == "uniform") return kernel_kind::uniform;
  throw config_error(detail::cat("kernel \"", ferry::detail::escape(name), "\" is unknown",
                                 ferry::detail::did_you_mean(name, {"masked", "uniform"}), "; expected masked or uniform"));
}

/// A forward kernel over V tokens (the masked kernel adds the mask id V).
struct kernel {
  kernel_kind kind = kernel_kind::masked;
  std::size_t vocab = 0;

  bool masked() const { return kind == kernel_kind::masked; }
  /// The mask id V (masked kernel).
  int mask() const { return int(vocab); }
  /// Number of states a token can take: V + 1 with the mask, else V.
  std::size_t states() const { return masked() ? vocab + 1 : vocab; }

  /// q(x = j | y = v) for "keep with probability a, else noise": the forward law from v after keep-probability a.
  double keep(int j, int v, double a) const {
    if (masked()) return v == mask() ? double(j == mask()) : a * (j == v) + (1 - a) * (j == mask());
    return a * (j == v) + (1 - a) / double(vocab);
  }
  /// Forward marginal q_t(x_t = j | x0 = v).
  double forward(int j, int v, double alpha_t) const { return keep(j, v, alpha_t); }
  /// Posterior q(x_s = j | x_t = x, x0 = v) for s < t (α_s ≥ α_t); 0 where x is impossible from v.
  double posterior(int j, int x, int v, double alpha_t, double alpha_s) const {
    const double denom = keep(x, v, alpha_t);
    if (denom == 0) return 0;
    const double a_ts = alpha_s > 0 ? alpha_t / alpha_s : 1.0;
    return keep(x, j, a_ts) * keep(j, v, alpha_s) / denom;
  }
};

}  // namespace ferry::discrete
