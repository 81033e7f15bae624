#pragma once
// The demo's measures of a sample against a law known exactly:
//   sliced_w1        sliced Wasserstein-1 distance to a fixed set of exact samples (2-D)
//   mean_nll         mean −log p0 of the samples (minus the entropy of p0: the NLL gap)
//   rms_distance     RMS distance per row between two samples of the same noise
//   total_variation  TV between the empirical law of token rows and p0 enumerated over V^L
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/models/gaussian_mixture.hpp"

namespace ferry::cli::demo {

inline constexpr std::size_t directions = 64;  // slicing directions of SW1

/// W1 between the empirical distributions of two sorted samples: ∫|F_a(t) − F_b(t)| dt.
double wasserstein1_sorted(const std::vector<double>& a, const std::vector<double>& b);

/// Sliced W1 (Rabin et al. 2011) to a fixed reference: W1 of the 1-D projections on the directions
/// θ_k = π(k + ½)/K, averaged; the reference's sorted projections are computed once.
class sliced_w1 {
 public:
  explicit sliced_w1(const batch<double>& ref);
  double operator()(const batch<double>& x) const;

 private:
  std::vector<std::vector<double>> proj_;
};

/// Mean of −log p0 over the rows: the cross-entropy of p0 under the samples' distribution.
double mean_nll(const gaussian_mixture<double>& gmm, const batch<double>& x);

/// √(Σ‖a_i − b_i‖² / N): the RMS distance per row.
double rms_distance(const batch<double>& a, const batch<double>& b);

/// Index of a sequence among the V^L: Σ_ℓ x^ℓ V^ℓ.
std::size_t sequence_index(const std::int32_t* x, std::size_t length, std::size_t vocab);

/// Total variation between p0 (enumerated by sequence_index) and the empirical law of the rows of `tokens`.
double total_variation(const std::vector<double>& p0, const std::vector<std::int32_t>& tokens, std::size_t length, std::size_t vocab);

}  // namespace ferry::cli::demo
