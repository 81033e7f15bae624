#pragma once
// Classifier-free guidance as a model adaptor (Ho & Salimans 2021): one model answering
// conditionally (c) and unconditionally (u) at the same (x, level), combined as
//
//   p̃ = p_u + w·(p_c − p_u)                  (w: diffusers' guidance_scale; Saharia et al. 2022)
//     = (1 + ω)·p_c − ω·p_u,    w = 1 + ω     (ω: Ho & Salimans' guidance strength, Eq. 6)
//
// w = 0 is the unconditional model, w = 1 the conditional one (both returned bit for bit), w > 1
// extrapolates. Every prediction kind is an affine map a·x + b·p of any other at a fixed (x, level)
// (core/prediction.hpp), so the combination commutes with conversions: it is taken in the
// conditional model's own kind, and the unconditional model's answer is converted to that kind.
//
// CFG-rescale (Lin et al. 2024, "Common diffusion noise schedules and sample steps are flawed",
// §3.4, Alg. 2; diffusers' rescale_noise_cfg), per sample over its D coordinates:
//   p_rescaled = p̃ · std(p_c)/std(p̃),      p̂ = φ·p_rescaled + (1 − φ)·p̃,
// applied to the combined prediction in the model's kind (Lin et al. use v-prediction).
//
// Guidance interval (Kynkäänniemi et al. 2024, "Applying guidance in a limited interval improves
// sample and distribution quality"): guidance applies only where σ̃ = σ/α lies in
// [interval_low, interval_high]; elsewhere the conditional model answers alone (w = 1).
//
// Thresholding and clipping of x̂0 stay pf_ode's Transform (models/thresholding.hpp): they apply
// to the guided prediction, as in diffusers' pipelines.
#include <cmath>
#include <limits>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/core/scratch.hpp"
#include "ferry/simd/lincomb.hpp"

namespace ferry {

template <class T = double>
struct guidance_options {
  T scale = 1;                                              ///< w (= 1 + ω); 1: conditional, 0: unconditional
  T rescale = 0;                                            ///< φ in [0, 1]: CFG-rescale weight (0: off)
  T interval_low = 0;                                       ///< guide only for σ/α >= this
  T interval_high = std::numeric_limits<T>::infinity();     ///< … and σ/α <= this

  /// Options from Ho & Salimans' ω (w = 1 + ω).
  static guidance_options from_strength(T omega) { return {.scale = 1 + omega}; }
};

/// The guided model: predicts what Cond predicts. Cond and Uncond are any two models (or two
/// views of one network with and without its condition).
template <class Cond, class Uncond, class T = double>
class classifier_free_guidance {
 public:
  using value_type = T;
  prediction predicts;

  classifier_free_guidance(Cond& cond, Uncond& uncond, guidance_options<T> opt = {})
      : predicts(cond.predicts), cond_(cond), uncond_(uncond), opt_(opt) {
    if (!std::isfinite(opt.scale)) throw config_error(detail::cat("guidance scale is ", opt.scale, "; expected a finite value"));
    if (!(opt.rescale >= 0 && opt.rescale <= 1))
      throw config_error(detail::cat("guidance rescale is ", opt.rescale, "; expected a value in [0, 1]"));
    if (!(opt.interval_low >= 0) || !(opt.interval_low <= opt.interval_high))
      throw config_error(detail::cat("guidance interval [", opt.interval_low, ", ", opt.interval_high,
                                     "] is not an interval of sigma/alpha >= 0"));
  }

  const guidance_options<T>& options() const { return opt_; }

  /// Whether guidance applies at lv (σ/α inside the interval).
  bool guides_at(const level<T>& lv) const {
    const T s = lv.alpha > 0 ? lv.sigma / lv.alpha : std::numeric_limits<T>::infinity();
    return s >= opt_.interval_low && s <= opt_.interval_high;
  }

  /// Thread-safe like the models it wraps (scratch is per thread, core/scratch.hpp); allocates
  /// only the first time a thread needs a larger buffer.
  void operator()(const_batch_view<T> x, const level<T>& lv, batch_view<T> out) {
    if (opt_.scale == 1 || !guides_at(lv)) return cond_(x, lv, out);
    if (opt_.scale == 0 && opt_.rescale == 0) return unconditional(x, lv, out);
    const std::size_t n = x.rows * x.cols;
    const detail::thread_scratch<T> scratch(opt_.rescale > 0 ? 2 * n : n);
    const batch_view<T> pu{scratch.data(), x.rows, x.cols}, pc{scratch.data() + n, x.rows, x.cols};
    unconditional(x, lv, pu);
    cond_(x, lv, out);
    if (opt_.rescale > 0) simd::lincomb<T, 1>(pc.span(), {T(1)}, {out.data});             // keep p_c
    simd::lincomb<T, 2>(out.span(), {opt_.scale, 1 - opt_.scale}, {out.data, pu.data});  // w·p_c + (1 − w)·p_u
    if (opt_.rescale > 0) rescale(out, pc);
  }

 private:
  // p_u in the conditional model's kind, into out.
  void unconditional(const_batch_view<T> x, const level<T>& lv, batch_view<T> out) {
    uncond_(x, lv, out);
    if (uncond_.predicts != cond_.predicts) convert<T>(uncond_.predicts, cond_.predicts, lv, x, out, out);
  }
  static T row_std(const T* p, std::size_t d) {
    T mean = 0, sq = 0;
    for (std::size_t j = 0; j < d; ++j) mean += p[j];
    mean /= T(d);
    for (std::size_t j = 0; j < d; ++j) sq += (p[j] - mean) * (p[j] - mean);
    return std::sqrt(sq / T(d > 1 ? d - 1 : 1));  // torch's std: unbiased
  }
  // Lin et al. Alg. 2 per row: p̂ = φ·p̃·std(p_c)/std(p̃) + (1 − φ)·p̃ (a row with std(p̃) = 0 is kept).
  void rescale(batch_view<T> guided, batch_view<T> pc) const {
    const T phi = opt_.rescale;
    for (std::size_t i = 0; i < guided.rows; ++i) {
      T* g = guided.row(i).data();
      const T sg = row_std(g, guided.cols), sc = row_std(pc.row(i).data(), guided.cols);
      if (!(sg > 0)) continue;
      const T f = phi * sc / sg + (1 - phi);
      for (std::size_t j = 0; j < guided.cols; ++j) g[j] *= f;
    }
  }

  Cond& cond_;
  Uncond& uncond_;
  guidance_options<T> opt_;
};

}  // namespace ferry
