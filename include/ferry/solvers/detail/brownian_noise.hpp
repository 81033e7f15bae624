#pragma once
// The normal array of a step drawn from a Brownian path, as k-diffusion's BrownianTreeNoiseSampler
// gives it: z = (W(σ̃') − W(σ̃))/√|σ̃' − σ̃| in the EDM noise level σ̃ = σ/α of the step's ends, W ferry's
// keyed virtual Brownian tree (random/brownian_tree.hpp) over the schedule's positive σ̃, keyed by the
// run's seed and the rows of the chunk. Disjoint steps give independent standard normals; the path is
// shared by every grid of the same seed (refining the grid refines the same path). With injected draws
// (no keyed generator) step i uses its own array (step i, stream 0), the step-noise convention.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/driver/schedule.hpp"
#include "ferry/random/brownian_tree.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/simd/lincomb.hpp"

namespace ferry::detail {

template <class T>
class brownian_step_noise {
 public:
  /// Spans the tree over the schedule's positive σ̃ (leaves narrower than tol of that width).
  void span(const schedule<T>& s, T tol, const char* solver) {
    T lo = std::numeric_limits<T>::infinity(), hi = 0;
    for (const auto& l : s.points)
      if (l.sigma > 0 && l.alpha > 0) lo = std::min(lo, l.sigma_edm()), hi = std::max(hi, l.sigma_edm());
    if (!(lo < hi)) throw config_error(cat(solver, ": the Brownian tree needs two distinct positive noise levels in the schedule"));
    tree_ = random::brownian_tree<T>(0, 0, lo, hi, tol);
    spanned_ = true;
  }
  void reset(extent e) {
    tree_.reset(e);
    w_.resize(e);
  }
  /// z for step s: the tree's increment over [σ̃', σ̃] when the problem's noise is keyed, else step s's array.
  template <class Problem>
  void draw(Problem& p, const step_span<T>& s, batch_view<T> z) {
    const keyed_noise* key = nullptr;
    if constexpr (requires { p.noise(); }) key = keyed_source(p.noise());
    if (!key) return p.normal(s.index, 0, z);
    if (!spanned_) throw config_error("Brownian step noise: call check(schedule) before stepping (ferry::sample does)");
    tree_.rekey(key->seed, key->first_row);
    const T a = s.cur.sigma_edm(), b = s.next.sigma_edm();
    tree_.value(a, w_.view());
    tree_.value(b, z);
    const T inv = 1 / std::sqrt(std::abs(b - a));
    simd::lincomb<T, 2>(z.span(), {inv, -inv}, {z.data, w_.data()});
  }

 private:
  random::brownian_tree<T> tree_;
  batch<T> w_;
  bool spanned_ = false;
};

}  // namespace ferry::detail
