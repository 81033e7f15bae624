#pragma once
// UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework", Alg. 2 (UniP-p) and
// Alg. 1 (UniC-p), B(h) variants of Sec. 3.3). diffusers: UniPCMultistepScheduler (solver_type
// bh1 | bh2, predict_x0, lower_order_final, disable_corrector).
//
// With m the model outputs (x̂0 if predict_x0, else ε̂), h = λ_t − λ_s, ĥ = −h (data) or h (noise),
//   r_k = (λ_{s_k} − λ_s)/h,  D_k = (m_k − m_s)/r_k,  g_i = ĥ·i!·φ_{i+1}(ĥ),  B(h) = ĥ (bh1) | e^ĥ − 1 (bh2)
//   UniP-p:  x_t = A·x_s − C·(e^ĥ − 1)·m_s − C·Σ_{k<p} w_k·D_k,   Σ_k w_k r_k^{i−1} = g_i (i < p)
//   UniC-p:  x_t^c = same from x_s, with the new output m_t at r = 1 added:  Σ_k w_k r_k^{i−1} = g_i (i ≤ p)
// where A = σ_t/σ_s, C = α_t (data) or A = α_t/α_s, C = σ_t (noise), and w = B(h)·ρ of the paper
// (ρ_p = ½ for UniP-2 and ρ_c = ½ for UniC-1, the paper's simplified choice that diffusers keeps).
// Each step evaluates the model once at the predictor's x_t; UniC then corrects x_t with that output
// (which is kept: the model is not re-evaluated at x_t^c), and the next UniP starts from x_t^c.
//
// Orders follow diffusers: UniP at step i has order min(Order, i + 1), and with lower_order_final
// min(Order, steps − i) (for any number of steps, unlike DPM-Solver); UniC after step i has the order
// of that UniP. A step that lands on σ = 0 is UniP-1 (x_t = α_t·x̂0): there h = ∞, so B(h) = h of bh1
// is infinite and diffusers returns NaN; bh2 gives the same first-order answer.
//
// ComfyUI a125cd8 (comfy/extra_samplers/uni_pc.py, sample_unipc / sample_unipc_bh2: B(h) = h | e^h − 1,
// predict_x0, order min(3, len(sigmas) − 2), lower_order_final, the corrector on every step but the
// last) runs this update in the VP view α = 1/√(1 + σ²) of its σ list, which is the same update (it
// depends on the levels only through λ and the ratios above). Its order rule is the one above. Two
// differences are options: final_sigma = 0.001 lands a step to σ = 0 at σ = 0.001 instead, in the
// EDM view (ComfyUI divides its VP state there by α(0.001): the result is x̃ at σ = 0.001, not
// denoised); flow_view steps a flow's state with the flow σ used as an EDM σ (α = 1) on a step that
// runs on a flow (detail/comfy_view.hpp), as ComfyUI does on CONST models (the EDM view of any other
// level is this update unchanged). comfy_unipc() sets both. With a one-step list ComfyUI's loop never
// updates (it returns its input over α); ferry steps once.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string_view>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/detail/combine.hpp"
#include "ferry/solvers/detail/history.hpp"
#include "ferry/solvers/detail/phi.hpp"
#include "ferry/solvers/detail/comfy_view.hpp"
#include "ferry/solvers/detail/small_solve.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry {

/// UniPC's B(h): bh1 = h, bh2 = e^h − 1 (Zhao et al. 2023, Sec. 3.3).
enum class unipc_bh { bh1, bh2 };

inline unipc_bh parse_unipc_solver_type(std::string_view s) {
  if (s == "bh1") return unipc_bh::bh1;
  if (s == "bh2") return unipc_bh::bh2;
  throw config_error(detail::cat("solver_type \"", s, "\" is not a UniPC variant; expected bh1 or bh2"));
}

/// diffusers UniPCMultistepScheduler option names and defaults.
struct unipc_options {
  unipc_bh solver_type = unipc_bh::bh2;
  bool predict_x0 = true;         ///< integrate the data prediction (else the noise prediction)
  bool lower_order_final = true;  ///< UniP order ≤ steps left, for every run length
  /// Steps whose result is not corrected: diffusers skips UniC at step i when i − 1 is listed.
  std::vector<std::size_t> disable_corrector{};
  double final_sigma = 0;   ///< > 0: a step to σ = 0 lands at this EDM σ instead (ComfyUI: 0.001)
  bool flow_view = false;   ///< on a flow, its σ as an EDM σ (ComfyUI on CONST models); false: the level itself (diffusers)
};

template <int Order, class T = double>
struct unipc {
  static_assert(Order >= 1 && Order <= 3, "UniPC is implemented for orders 1, 2 and 3");
  static constexpr int order = Order, evals_per_step = 1;
  unipc_options opt{};

  void reset(extent e) {
    hist_.reset(e);
    x_last_.resize(e);
    has_last_ = false;
    last_order_ = 0;
  }

  template <class Problem>
  void step(Problem& p, const step_span<T>& s, batch_view<T> x) {
    const bool flow = detail::comfy_view<T>::of(s, opt.flow_view).flow;
    const level<T> cur = view(s.cur, flow);
    const level<T> next = s.next.sigma == 0 && opt.final_sigma > 0 ? level<T>::make(T(1), T(opt.final_sigma)) : view(s.next, flow);
    batch<T>& m = hist_.push(cur);
    if (opt.predict_x0)
      p.data(x, s.cur, m.view());
    else
      p.epsilon(x, s.cur, m.view());

    // UniC-p: correct x_cur from the state before the last UniP, now that m_cur is known.
    if (has_last_ && !corrector_disabled(s.index - 1)) update(x, x_last_.data(), 1, cur, last_order_, true);

    int k = opt.lower_order_final ? int(std::min<std::size_t>(Order, s.count - s.index)) : Order;
    k = std::min(k, int(hist_.size()));
    if (next.sigma == 0) k = 1;

    simd::lincomb<T, 1>(x_last_.view().span(), {T(1)}, {x.data});
    update(x, x_last_.data(), 0, next, k, false);  // UniP-k
    last_order_ = k;
    has_last_ = true;
  }

 private:
  // The level the coefficients see: the flow σ as an EDM σ in ComfyUI's CONST view.
  static level<T> view(const level<T>& lv, bool flow) { return flow ? level<T>::make(T(1), lv.sigma, lv.t) : lv; }

  bool corrector_disabled(std::size_t i) const {
    return std::find(opt.disable_corrector.begin(), opt.disable_corrector.end(), i) != opt.disable_corrector.end();
  }

  // out = UniP-p (corrector = false) or UniC-p (true) from state xs at history entry b to level tgt.
  void update(batch_view<T> out, const T* xs, std::size_t b, const level<T>& tgt, int p, bool corrector) const {
    const level<T>& src = hist_.at(b);
    const bool data = opt.predict_x0;
    const T h = tgt.lambda - src.lambda, hh = data ? -h : h;
    const T A = data ? tgt.sigma / src.sigma : tgt.alpha / src.alpha;
    const T C = data ? tgt.alpha : tgt.sigma;
    // −C·(e^ĥ − 1), with its limit −α_t·σ_s/α_s for the noise form at σ_t = 0
    const T c_m = !data && tgt.sigma == 0 ? -tgt.alpha * src.sigma / src.alpha : -C * std::expm1(hh);

    // the divided differences D_k: older outputs b+1 … b+p−1, then (UniC) the new output at r = 1
    // (n ≤ Order + 1 always; the min tells GCC so, which otherwise warns about R's bounds)
    const std::size_t n_old = std::size_t(p - 1), n = std::min<std::size_t>(n_old + (corrector ? 1 : 0), Order + 1);
    std::array<T, Order + 1> r{};
    for (std::size_t k = 0; k < n_old; ++k) r[k] = (hist_.at(b + 1 + k).lambda - src.lambda) / h;
    if (corrector) r[n_old] = 1;

    std::array<T, Order + 1> w{};  // B(h)·ρ
    const T bh = opt.solver_type == unipc_bh::bh1 ? hh : std::expm1(hh);
    if (n == 1 && (corrector ? p == 1 : p == 2)) {
      w[0] = bh / 2;  // ρ = ½
    } else if (n > 0) {
      std::array<std::array<T, Order + 1>, Order + 1> R{};
      std::array<T, Order + 1> g{};
      T fact = 1;
      for (std::size_t i = 0; i < n; ++i) {  // UniP-p: p − 1 order conditions, UniC-p: p
        fact *= T(i + 1);  // (i+1)!
        g[i] = hh * fact * detail::phi(int(i) + 2, hh);
        for (std::size_t k = 0; k < n; ++k) R[i][k] = i == 0 ? T(1) : R[i - 1][k] * r[k];
      }
      w = detail::solve_small(R, g, n);
    }

    detail::terms<T, Order + 2> u;
    u.add(A, xs);
    T c_src = c_m;
    for (std::size_t k = 0; k < n; ++k) c_src += C * w[k] / r[k];
    u.add(c_src, hist_[b]);
    for (std::size_t k = 0; k < n_old; ++k) u.add(-C * w[k] / r[k], hist_[b + 1 + k]);
    if (corrector) u.add(-C * w[n_old], hist_[0]);
    detail::combine(out, u);
  }

  detail::history<T, std::size_t(Order) + 1> hist_;
  batch<T> x_last_;
  bool has_last_ = false;
  int last_order_ = 0;
};

/// ComfyUI's uni_pc (bh1) and uni_pc_bh2: UniPC-3 with lower_order_final, landing at σ = 0.001 in place
/// of σ = 0, a flow's σ used as an EDM σ.
template <class T = double>
unipc<3, T> comfy_unipc(unipc_bh variant = unipc_bh::bh1) {
  unipc<3, T> s;
  s.opt.solver_type = variant;
  s.opt.predict_x0 = true;
  s.opt.lower_order_final = true;
  s.opt.final_sigma = 0.001;
  s.opt.flow_view = true;
  return s;
}

}  // namespace ferry
