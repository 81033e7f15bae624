#pragma once
// The divergence (trace of the Jacobian) of a vector field f(x) given as a batched callable
// f(const_batch_view<T> x, batch_view<T> out), row by row — what the instantaneous change of
// variables needs (Chen et al. 2018, Thm. 1; Grathwohl et al. 2019, FFJORD):
//
//   d log p(x(t))/dt = −div f(t, x(t)),      div f = tr ∂f/∂x = Σ_j ∂f_j/∂x_j.
//
// exact_divergence:        D central differences along the unit vectors (2D evaluations):
//     div f ≈ Σ_j [f_j(x + h_j e_j) − f_j(x − h_j e_j)] / (2 h_j),   h_j = ε^{1/3}·max(1, |x_j|)
//   Error (per term): h²/6·|∂³f_j/∂x_j³| truncation + ε·|f|/h rounding, i.e. ~ε^{2/3} relative
//   (≈ 4e-11 in double, 5e-5 in float) — far below any ODE tolerance used for likelihoods.
// hutchinson_divergence:   Hutchinson–Skilling (Hutchinson 1989; Skilling 1989): with K probes
//   z_k, E[z] = 0, E[z zᵀ] = I (Rademacher ±1 or standard normal),
//     div f ≈ (1/K) Σ_k z_kᵀ (∂f/∂x) z_k,   (∂f/∂x) z ≈ [f(x + h z) − f(x − h z)] / (2h),
//   unbiased up to the same O(h²) difference error; 2K evaluations. The probes are drawn once per
//   solve from the keyed generator (random/, stream `probes`, "step" = probe index k, rows keyed by
//   their global index) and held for the whole integration, as FFJORD does.
//
// Both size their scratch in reset(extent) and never allocate while evaluating.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/random/philox.hpp"

namespace ferry {

namespace detail {
template <class T>
T difference_step() {
  return std::cbrt(std::numeric_limits<T>::epsilon());
}
}  // namespace detail

/// Σ_j ∂f_j/∂x_j by central differences along each coordinate (2D evaluations per call).
template <class T = double>
struct exact_divergence {
  void reset(extent e) {
    xp_.resize(e);
    fp_.resize(e);
    fm_.resize(e);
    h_.resize(e.rows);
  }
  /// Model evaluations per call, for a state of D columns.
  static std::size_t evaluations(std::size_t d) { return 2 * d; }

  /// div[i] = Σ_j ∂f_j/∂x_j at row i of x.
  template <class F>
  void operator()(F&& f, const_batch_view<T> x, std::span<T> div) {
    const std::size_t n = x.rows, d = x.cols;
    std::fill(div.begin(), div.end(), T(0));
    std::copy(x.data, x.data + x.size(), xp_.data());
    for (std::size_t j = 0; j < d; ++j) {
      for (std::size_t i = 0; i < n; ++i) {
        h_[i] = detail::difference_step<T>() * std::max(T(1), std::abs(x(i, j)));
        xp_.view()(i, j) = x(i, j) + h_[i];
      }
      f(const_batch_view<T>(xp_.view()), fp_.view());
      for (std::size_t i = 0; i < n; ++i) xp_.view()(i, j) = x(i, j) - h_[i];
      f(const_batch_view<T>(xp_.view()), fm_.view());
      for (std::size_t i = 0; i < n; ++i) {
        div[i] += (fp_.view()(i, j) - fm_.view()(i, j)) / (2 * h_[i]);
        xp_.view()(i, j) = x(i, j);
      }
    }
  }

 private:
  batch<T> xp_, fp_, fm_;
  std::vector<T> h_;
};

enum class probe_kind { rademacher, gaussian };

/// (1/K) Σ_k z_kᵀ (∂f/∂x) z_k with K probes held fixed after draw() (2K evaluations per call).
template <class T = double>
struct hutchinson_divergence {
  std::size_t probes = 1;
  probe_kind kind = probe_kind::rademacher;
  std::uint64_t seed = 0;
  std::uint64_t first_row = 0;  ///< global index of the first row (threads, shards)

  hutchinson_divergence() = default;
  hutchinson_divergence(std::size_t k, probe_kind pk, std::uint64_t s, std::uint64_t row0 = 0)
      : probes(k), kind(pk), seed(s), first_row(row0) {
    if (k == 0) throw config_error("hutchinson_divergence: the number of probes must be at least 1");
  }
  /// Model evaluations per call (any D).
  std::size_t evaluations(std::size_t) const { return 2 * probes; }

  /// Sizes the scratch and draws the probes for an N×D state.
  void reset(extent e) {
    z_.resize({e.rows * probes, e.cols});
    xp_.resize(e);
    xm_.resize(e);
    fp_.resize(e);
    fm_.resize(e);
    draw(e);
  }
  /// Probe k (N×D), as drawn by reset.
  const_batch_view<T> probe(std::size_t k) const {
    return const_batch_view<T>(z_.data() + k * z_.cols() * (z_.rows() / probes), z_.rows() / probes, z_.cols());
  }

  template <class F>
  void operator()(F&& f, const_batch_view<T> x, std::span<T> div) {
    const std::size_t n = x.rows, d = x.cols;
    std::fill(div.begin(), div.end(), T(0));
    for (std::size_t k = 0; k < probes; ++k) {
      const const_batch_view<T> z = probe(k);
      for (std::size_t i = 0; i < n; ++i) {
        const T h = step(x, i);
        for (std::size_t j = 0; j < d; ++j) {
          xp_.view()(i, j) = x(i, j) + h * z(i, j);
          xm_.view()(i, j) = x(i, j) - h * z(i, j);
        }
      }
      f(const_batch_view<T>(xp_.view()), fp_.view());
      f(const_batch_view<T>(xm_.view()), fm_.view());
      for (std::size_t i = 0; i < n; ++i) {
        T q = 0;
        for (std::size_t j = 0; j < d; ++j) q += z(i, j) * (fp_.view()(i, j) - fm_.view()(i, j));
        div[i] += q / (2 * step(x, i) * T(probes));
      }
    }
  }

 private:
  void draw(extent e) {
    for (std::size_t k = 0; k < probes; ++k) {
      batch_view<T> zk(z_.data() + k * e.size(), e);
      if (kind == probe_kind::gaussian) {
        random::fill_normal(seed, zk, first_row, std::uint32_t(k), random::streams::probes);
      } else {
        for (std::size_t i = 0; i < e.rows; ++i)
          for (std::size_t j = 0; j < e.cols; ++j)
            zk(i, j) = random::uniform_at(seed, std::uint32_t(first_row + i), std::uint32_t(k), random::streams::probes + 1, j) < 0.5
                           ? T(-1)
                           : T(1);
      }
    }
  }

  // h = ε^{1/3}·max(1, max_j |x_ij|): the difference step of row i.
  static T step(const_batch_view<T> x, std::size_t i) {
    T norm = 1;
    for (std::size_t j = 0; j < x.cols; ++j) norm = std::max(norm, std::abs(x(i, j)));
    return detail::difference_step<T>() * norm;
  }

  batch<T> z_, xp_, xm_, fp_, fm_;
};

}  // namespace ferry
