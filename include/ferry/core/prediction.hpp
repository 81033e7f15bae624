#pragma once
// The five things a model may predict, and exact conversions between them at a level (α, σ).
//
//   x = α·x0 + σ·ε                    (forward process)
//   epsilon  ε
//   data     x0
//   v        v = α·ε − σ·x0           (Salimans & Ho 2022)
//   score    ∇log p_t(x) = −ε/σ
//   velocity dx/dt = α'·x0 + σ'·ε     (flow matching; α' = dα/dt, σ' = dσ/dt)
//
// Every conversion is affine in (x, prediction): out = a·x + b·p. We first express x0 and ε as
// affine maps of (x, p), then the target as a combination of x0 and ε, so one lincomb converts.
#include <cmath>
#include <limits>
#include <string_view>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"
#include "ferry/simd/lincomb.hpp"

namespace ferry {

enum class prediction { epsilon, data, v, score, velocity };

constexpr std::string_view to_string(prediction p) {
  switch (p) {
    case prediction::epsilon: return "epsilon";
    case prediction::data: return "data";
    case prediction::v: return "v";
    case prediction::score: return "score";
    case prediction::velocity: return "velocity";
  }
  return "?";
}

/// Parses epsilon | data | sample | x0 | v | v_prediction | score | velocity | flow.
inline prediction parse_prediction(std::string_view s) {
  if (s == "epsilon" || s == "eps") return prediction::epsilon;
  if (s == "data" || s == "sample" || s == "x0") return prediction::data;
  if (s == "v" || s == "v_prediction") return prediction::v;
  if (s == "score") return prediction::score;
  if (s == "velocity" || s == "flow" || s == "flow_prediction") return prediction::velocity;
  throw config_error(detail::cat("prediction kind \"", detail::escape(s), "\" is unknown",
                                 detail::did_you_mean(s, {"epsilon", "data", "sample", "v", "v_prediction", "score", "velocity"}),
                                 "; expected epsilon, data (sample), v (v_prediction), score or velocity"));
}

/// out = a·x + b·p; NaN coefficients mark an undefined conversion.
template <class T>
struct affine {
  T a{}, b{};
  bool defined() const { return std::isfinite(a) && std::isfinite(b); }
};

namespace detail {
template <class T>
constexpr T undefined = std::numeric_limits<T>::quiet_NaN();

// x0 and ε as affine maps of (x, p) for a model predicting `kind` at `lv`.
template <class T>
void basis_from(prediction kind, const level<T>& lv, affine<T>& x0, affine<T>& eps) {
  const T al = lv.alpha, s = lv.sigma, nan = undefined<T>;
  switch (kind) {
    case prediction::data:  // ε = (x − α·x0)/σ
      x0 = {0, 1};
      eps = s != 0 ? affine<T>{1 / s, -al / s} : affine<T>{nan, nan};
      break;
    case prediction::epsilon:  // x0 = (x − σ·ε)/α
      eps = {0, 1};
      x0 = al != 0 ? affine<T>{1 / al, -s / al} : affine<T>{nan, nan};
      break;
    case prediction::v: {  // α·x − σ·v = (α²+σ²)·x0,  σ·x + α·v = (α²+σ²)·ε
      const T n = al * al + s * s;
      x0 = {al / n, -s / n};
      eps = {s / n, al / n};
      break;
    }
    case prediction::score:  // ε = −σ·score,  x0 = (x + σ²·score)/α
      eps = {0, -s};
      x0 = al != 0 ? affine<T>{1 / al, s * s / al} : affine<T>{nan, nan};
      break;
    case prediction::velocity: {  // [α σ; α' σ'] [x0; ε] = [x; v]
      const T det = al * lv.d_sigma - lv.d_alpha * s;
      if (det == 0 || !std::isfinite(det)) {
        x0 = eps = {nan, nan};
      } else {
        x0 = {lv.d_sigma / det, -s / det};
        eps = {-lv.d_alpha / det, al / det};
      }
      break;
    }
  }
}

// The target kind as c0·x0 + c1·ε.
template <class T>
void target_in_basis(prediction kind, const level<T>& lv, T& c0, T& c1) {
  switch (kind) {
    case prediction::data: c0 = 1, c1 = 0; break;
    case prediction::epsilon: c0 = 0, c1 = 1; break;
    case prediction::v: c0 = -lv.sigma, c1 = lv.alpha; break;
    case prediction::score: c0 = 0, c1 = lv.sigma != 0 ? -1 / lv.sigma : undefined<T>; break;
    case prediction::velocity: c0 = lv.d_alpha, c1 = lv.d_sigma; break;
  }
}
}  // namespace detail

/// Coefficients of the conversion from → to at `lv`: to = a·x + b·(from). Throws domain_error
/// where the conversion is undefined (e.g. ε → x0 at α = 0, x0 → ε at σ = 0).
template <class T>
affine<T> conversion(prediction from, prediction to, const level<T>& lv) {
  if (from == to) return {0, 1};
  affine<T> x0, eps;
  detail::basis_from(from, lv, x0, eps);
  T c0 = 0, c1 = 0;
  detail::target_in_basis(to, lv, c0, c1);
  affine<T> r{0, 0};
  bool ok = std::isfinite(c0) && std::isfinite(c1);
  if (c0 != 0) { ok = ok && x0.defined(); r.a += c0 * x0.a; r.b += c0 * x0.b; }
  if (c1 != 0) { ok = ok && eps.defined(); r.a += c1 * eps.a; r.b += c1 * eps.b; }
  if (!ok || !r.defined())
    throw domain_error(detail::cat("cannot convert a ", to_string(from), " prediction to ", to_string(to),
                                   " at alpha=", lv.alpha, ", sigma=", lv.sigma,
                                   ": the conversion divides by zero there"));
  return r;
}

/// out = conversion(from → to) applied to (x, p); out may alias p or x.
template <class T>
void convert(prediction from, prediction to, const level<T>& lv, const_batch_view<T> x,
             const_batch_view<T> p, batch_view<T> out) {
  const affine<T> c = conversion(from, to, lv);
  if (c.a == 0 && c.b == 1) {
    if (out.data != p.data) simd::lincomb<T, 1>(out.span(), {T(1)}, {p.data});
    return;
  }
  simd::lincomb<T, 2>(out.span(), {c.a, c.b}, {x.data, p.data});
}

}  // namespace ferry
