#pragma once
// Transforms of the data prediction x̂0 that samplers apply before using it (pf_ode's Transform).
//
// Dynamic thresholding (Saharia et al. 2022, "Imagen", §2.3; diffusers' _threshold_sample):
//   s = clamp(quantile_p(|x̂0|), 1, sample_max_value) per sample,  x̂0 ← clamp(x̂0, −s, s) / s
// where the quantile is taken over each sample's D coordinates with linear interpolation
// (torch.quantile's default), and clamp is torch.clamp's min(max(q, 1), sample_max_value): a
// sample_max_value below 1 makes s = sample_max_value, as in diffusers. Static clipping (diffusers' clip_sample): x̂0 ← clamp(x̂0, −r, r).
#include <algorithm>
#include <cmath>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"

namespace ferry {

template <class T = double>
struct dynamic_thresholding {
  static constexpr bool active = true;
  T ratio = T(0.995);           ///< diffusers' dynamic_thresholding_ratio: the quantile p
  T sample_max_value = T(1);    ///< upper bound of the threshold s

  dynamic_thresholding() = default;
  dynamic_thresholding(T p, T max_value) : ratio(p), sample_max_value(max_value) {
    if (!(p > 0 && p <= 1)) throw config_error(detail::cat("dynamic_thresholding_ratio is ", p, "; expected a value in (0, 1]"));
    if (!(max_value > 0 && std::isfinite(max_value)))
      throw config_error(detail::cat("sample_max_value is ", max_value, "; expected a finite value > 0"));
  }

  void reset(extent e) { scratch_.resize(e.cols); }

  void operator()(batch_view<T> x0) {
    const std::size_t d = x0.cols;
    for (std::size_t i = 0; i < x0.rows; ++i) {
      auto row = x0.row(i);
      for (std::size_t j = 0; j < d; ++j) scratch_[j] = std::abs(row[j]);
      const T pos = ratio * T(d - 1);  // linear interpolation between order statistics
      const std::size_t lo = std::size_t(std::floor(pos)), hi = std::min(lo + 1, d - 1);
      std::nth_element(scratch_.begin(), scratch_.begin() + std::ptrdiff_t(lo), scratch_.end());
      const T v_lo = scratch_[lo];
      const T v_hi = hi == lo ? v_lo : *std::min_element(scratch_.begin() + std::ptrdiff_t(lo) + 1, scratch_.end());
      const T s = std::min(std::max(v_lo + (pos - T(lo)) * (v_hi - v_lo), T(1)), sample_max_value);  // torch.clamp(q, 1, max)
      for (auto& v : row) v = std::clamp(v, -s, s) / s;
    }
  }

 private:
  std::vector<T> scratch_;
};

template <class T = double>
struct clip_sample {
  static constexpr bool active = true;
  T range = T(1);  ///< diffusers' clip_sample_range

  clip_sample() = default;
  explicit clip_sample(T r) : range(r) {
    if (!(r > 0)) throw config_error(detail::cat("clip_sample_range is ", r, "; expected a positive value"));
  }
  void reset(extent) {}
  void operator()(batch_view<T> x0) {
    for (auto& v : x0.span()) v = std::clamp(v, -range, range);
  }
};

}  // namespace ferry
