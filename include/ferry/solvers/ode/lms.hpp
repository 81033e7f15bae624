#pragma once
// Linear multistep (Adams–Bashforth on a non-uniform grid) in the EDM noise level, as k-diffusion's
// sample_lms and diffusers' LMSDiscreteScheduler: with x̃ = x/α, σ̃ = σ/α the PF-ODE is dx̃/dσ̃ = ε̂
// (Karras et al. 2022, Eq. 4 with s = 1), and
//   x̃_next = x̃ + Σ_{j<k} c_j·ε̂_{i−j},   c_j = ∫_{σ̃_i}^{σ̃_next} ℓ_j(τ) dτ,  ℓ_j through σ̃_i … σ̃_{i−k+1}
// written in the model's view as x_next = α_next·(x/α_cur + Σ_j c_j·ε̂_j). The peers compute c_j with
// scipy's quad, which is exact for these polynomials; we integrate exactly (Gauss–Legendre).
// Order k = min(Order, i + 1); no lower-order rule, and a step to σ̃ = 0 keeps its order (as both peers).
#include <algorithm>
#include <array>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/history.hpp"
#include "ferry/solvers/detail/lagrange.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry {

template <int Order = 4, class T = double>
struct lms {
  static_assert(Order >= 1 && Order <= 4, "LMS is implemented for orders 1 to 4 (k-diffusion's default is 4)");
  static constexpr int order = Order, evals_per_step = 1;

  void reset(extent e) { hist_.reset(e); }

  void check(const schedule<T>& s) const { detail::require_positive_alpha(s, "lms"); }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    p.epsilon(x, s.cur, hist_.push(s.cur).view());
    const std::size_t k = hist_.size();

    std::array<T, Order> nodes{};  // σ̃ of the outputs, newest first
    for (std::size_t j = 0; j < k; ++j) nodes[j] = hist_.at(j).sigma_edm();
    const T a = s.cur.sigma_edm(), b = s.next.sigma / s.next.alpha;

    detail::terms<T, Order + 1> u;
    u.add(s.next.alpha / s.cur.alpha, x.data);
    for (std::size_t j = 0; j < k; ++j)
      u.add(s.next.alpha * detail::lagrange_integral(nodes, k, j, a, b), hist_[j]);
    detail::combine(x, u);
  }

 private:
  detail::history<T, std::size_t(Order)> hist_;
};

}  // namespace ferry
