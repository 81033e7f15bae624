#pragma once
// Discretise-then-optimise: the exact gradient of the map x0 ↦ x_n of n fixed steps of an explicit
// Runge–Kutta method (the same explicit_rk<Tab> that integrate() runs), by one reverse pass
// (reverse-mode differentiation of the solver; cf. Gholami et al. 2019, ANODE, and Kidger 2021,
// "On Neural Differential Equations", §5.1). For one step
//
//   Y_i = x + h Σ_{j<i} a_ij k_j,   k_i = f(t + c_i h, Y_i),   x' = x + h Σ_i b_i k_i,
//
// and x̄' = ∂L/∂x', the reverse step runs the stages backwards:
//
//   k̄_i = h·b_i·x̄' + h Σ_{l>i} a_li·Ȳ_l,   Ȳ_i = k̄_iᵀ ∂f/∂x(Y_i),   θ̄ += k̄_iᵀ ∂f/∂θ(Y_i),
//   x̄ = x̄' + Σ_i Ȳ_i.
//
// Checkpointing (Griewank & Walther 2008, §12): the forward pass keeps x at every k-th step; the
// reverse pass recomputes the k states of one segment at a time from its checkpoint. Memory holds
// ⌈n/k⌉ + k states and the stages of one step; the cost is one extra forward pass.
#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/ode/explicit_rk.hpp"
#include "ferry/driver/field_problem.hpp"

namespace ferry {

template <const auto& Tab, class T = double>
class discrete_adjoint {
 public:
  static constexpr std::size_t stages = Tab.stages;

  /// Keep x at every `checkpoint_every`-th step (1: store every step).
  explicit discrete_adjoint(std::size_t checkpoint_every = 1) : every_(checkpoint_every) {
    if (checkpoint_every == 0) throw config_error("discrete_adjoint: checkpoint_every is 0; need at least 1");
  }

  /// Field evaluations and vjps of the last gradient() call.
  std::size_t evaluations = 0, vjps = 0;

  /// L(x_n) and its exact gradients through n steps of explicit_rk<Tab> from x0 over [t0, t1]:
  /// ∂L/∂x0 into grad_x0 and ∂L/∂θ into grad_theta. loss(x_n, dl_dxn) returns L and writes ∂L/∂x_n.
  template <differentiable_field<T> F, class Loss>
  T gradient(F& f, T t0, T t1, std::size_t steps, const_batch_view<T> x0, Loss&& loss, batch_view<T> grad_x0,
             std::span<T> grad_theta) {
    if (steps == 0) throw config_error("discrete_adjoint: steps is 0; need at least 1");
    require_same_shape(x0.shape(), grad_x0.shape(), "discrete_adjoint: grad_x0");
    if (grad_theta.size() != f.parameter_count())
      throw shape_error(detail::cat("discrete_adjoint: grad_theta has ", grad_theta.size(), " entries, the field has ",
                                    f.parameter_count(), " parameters"));
    const extent e = x0.shape();
    resize(e, steps, f.parameter_count());
    evaluations = vjps = 0;
    h_ = (t1 - t0) / T(steps);
    t0_ = t0;
    t1_ = t1;
    n_ = steps;
    // Forward: checkpoints at steps 0, k, 2k, …
    batch<T>& x = segment_[0];
    std::copy(x0.data, x0.data + x0.size(), x.data());
    for (std::size_t i = 0; i < steps; ++i) {
      if (i % every_ == 0) std::copy(x.data(), x.data() + x.size(), checkpoints_[i / every_].data());
      forward_step(f, i, x.view());
    }
    const T value = loss(const_batch_view<T>(x.view()), bar_.view());  // x̄_n
    std::fill(grad_theta.begin(), grad_theta.end(), T(0));
    // Reverse, one segment at a time.
    for (std::size_t seg = (steps - 1) / every_ + 1; seg-- > 0;) {
      const std::size_t first = seg * every_, last = std::min(steps, first + every_);
      std::copy(checkpoints_[seg].data(), checkpoints_[seg].data() + x.size(), segment_[0].data());
      for (std::size_t i = first; i + 1 < last; ++i) {
        std::copy(segment_[i - first].data(), segment_[i - first].data() + x.size(), segment_[i - first + 1].data());
        forward_step(f, i, segment_[i - first + 1].view());
      }
      for (std::size_t i = last; i-- > first;) reverse_step(f, i, segment_[i - first].view(), grad_theta);
    }
    std::copy(bar_.data(), bar_.data() + bar_.size(), grad_x0.data);
    return value;
  }

 private:
  T time(std::size_t i) const { return i == n_ ? t1_ : t0_ + T(i) * h_; }
  T stage_time(std::size_t i, std::size_t s) const {
    return Tab.c[s] == 1 ? time(i + 1) : time(i) + T(Tab.c[s]) * (time(i + 1) - time(i));
  }

  void resize(extent e, std::size_t steps, std::size_t p) {
    for (auto& k : k_) k.resize(e);
    for (auto& y : y_) y.resize(e);
    for (auto& y : y_bar_) y.resize(e);
    k_bar_.resize(e);
    bar_.resize(e);
    theta_.resize(p);
    checkpoints_.resize((steps - 1) / every_ + 1);
    for (auto& c : checkpoints_) c.resize(e);
    segment_.resize(std::min(every_, steps) + 1);
    for (auto& s : segment_) s.resize(e);
  }

  // Stages of step i from x into y_ and k_ (the same sums explicit_rk forms in native time).
  template <class F>
  void stages_at(F& f, std::size_t i, const_batch_view<T> x) {
    const T h = time(i + 1) - time(i);
    detail::for_each_index(std::make_index_sequence<stages>{}, [&](auto I) {
      constexpr std::size_t s = I;
      std::array<T, stages> c{};
      for (std::size_t j = 0; j < s; ++j) c[j] = h * T(Tab.a[s][j]);
      detail::rk_combine<s>(y_[s].view(), T(1), x.data, c, k_);     // Y_s = x + h Σ a_sj k_j
      f(stage_time(i, s), const_batch_view<T>(y_[s].view()), k_[s].view());
      ++evaluations;
    });
  }
  template <class F>
  void forward_step(F& f, std::size_t i, batch_view<T> x) {
    stages_at(f, i, x);
    const T h = time(i + 1) - time(i);
    std::array<T, stages> c{};
    for (std::size_t j = 0; j < stages; ++j) c[j] = h * T(Tab.b[j]);
    detail::rk_combine<stages>(x, T(1), x.data, c, k_);              // x' = x + h Σ b_i k_i
  }
  // x̄ (in bar_) from step i's x̄' and θ̄ += its parameter part.
  template <class F>
  void reverse_step(F& f, std::size_t i, const_batch_view<T> x, std::span<T> grad_theta) {
    stages_at(f, i, x);
    const T h = time(i + 1) - time(i);
    for (std::size_t s = stages; s-- > 0;) {
      bool any = Tab.b[s] != 0;
      for (std::size_t l = s + 1; l < stages; ++l) any = any || Tab.a[l][s] != 0;
      if (!any) {  // stage s does not reach the output: Ȳ_s = 0
        std::fill(y_bar_[s].data(), y_bar_[s].data() + y_bar_[s].size(), T(0));
        continue;
      }
      // k̄_s = h b_s x̄' + h Σ_{l>s} a_ls Ȳ_l
      simd::lincomb<T, 1>(k_bar_.view().span(), {h * T(Tab.b[s])}, {bar_.data()});
      for (std::size_t l = s + 1; l < stages; ++l)
        if (Tab.a[l][s] != 0)
          simd::lincomb<T, 2>(k_bar_.view().span(), {T(1), h * T(Tab.a[l][s])}, {k_bar_.data(), y_bar_[l].data()});
      f.vjp(stage_time(i, s), const_batch_view<T>(y_[s].view()), const_batch_view<T>(k_bar_.view()), y_bar_[s].view(),
            std::span<T>(theta_));
      ++vjps;
      for (std::size_t j = 0; j < theta_.size(); ++j) grad_theta[j] += theta_[j];
    }
    for (std::size_t s = 0; s < stages; ++s)                              // x̄ = x̄' + Σ Ȳ_s
      simd::lincomb<T, 2>(bar_.view().span(), {T(1), T(1)}, {bar_.data(), y_bar_[s].data()});
  }

  std::size_t every_;
  std::size_t n_ = 0;
  T h_{}, t0_{}, t1_{};
  std::array<batch<T>, stages> k_, y_, y_bar_;
  batch<T> k_bar_, bar_;
  std::vector<T> theta_;
  std::vector<batch<T>> checkpoints_, segment_;
};

}  // namespace ferry
