#pragma once
// Confidence-ordered unmasking (MaskGIT, Chang et al. 2022, §3.2; LLaDA's low-confidence
// remasking, Nie et al. 2025, Alg. 5): at each step every masked position of the block proposes a
// token x̂^ℓ ~ p(x0^ℓ | x_t) (shaped: temperature 0 gives the argmax), and only the most
// confident proposals are kept — as many as the schedule says should be unmasked by s:
//
//   keep n_t − ⌊(1 − α_s)·B⌋ proposals with the largest score   (n_t masks now; all at s = 0;
//                                                                B the block's positions not given)
//   score  max-prob: max_v π_v            margin: π_(1) − π_(2)  (top-two margin)
//
// Optional remasking (ReMDM-style, Wang et al. 2025): after each step but the last, the R tokens
// decoded in earlier steps with the lowest score at their decoding are masked again, to be
// re-predicted with more context. Ties go to the lower position. Not an exact sampler of the data
// law: a fast, greedy decoder. NFE = K (per block).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "ferry/discrete/categorical.hpp"
#include "ferry/discrete/denoiser.hpp"
#include "ferry/discrete/step_info.hpp"

namespace ferry::discrete {

enum class confidence_score { max_prob, margin };

struct confidence {
  static constexpr const char* name = "confidence";
  static constexpr bool masked_only = true;
  confidence_score score = confidence_score::max_prob;
  std::size_t remask = 0;  ///< R tokens remasked per step

  void validate() const {}
  template <class Ctx>
  void reset(Ctx& ctx) {
    score_.assign(ctx.rows() * ctx.length(), 0.0);
    decoded_at_.assign(ctx.rows() * ctx.length(), 0);
    proposal_.assign(ctx.length(), 0);
    order_.assign(ctx.length(), 0);
  }

  template <class Ctx>
  void step(Ctx& ctx, const step_info& st, token_view x) {
    const int mask = ctx.kernel().mask();
    const double alpha_s = ctx.level(st.s).alpha;
    ctx.posterior(x, ctx.level(st.t));
    for (std::size_t i = 0; i < x.rows; ++i) {
      double* sc = score_.data() + i * x.cols;
      std::size_t masked = 0, block = 0;
      for (std::size_t l = st.lo; l < st.hi; ++l) block += !ctx.given(i, l);
      const std::size_t target = st.last ? 0 : std::size_t(std::floor((1 - alpha_s) * double(block)));
      for (std::size_t l = st.lo; l < st.hi; ++l) {
        if (x(i, l) != mask) continue;
        const auto pi = ctx.pi(i, l);
        proposal_[l] = std::int32_t(ctx.draw(pi, i, st.index, draw_stream::token, l));
        sc[l] = position_score(pi);
        order_[masked++] = l;
      }
      if (masked <= target) continue;
      const std::size_t keep = masked - target;
      std::partial_sort(order_.begin(), order_.begin() + std::ptrdiff_t(keep), order_.begin() + std::ptrdiff_t(masked),
                        [&](std::size_t a, std::size_t b) { return sc[a] > sc[b] || (sc[a] == sc[b] && a < b); });
      for (std::size_t k = 0; k < keep; ++k) {
        x(i, order_[k]) = proposal_[order_[k]];
        decoded_at_[i * x.cols + order_[k]] = st.index + 1;
      }
      ctx.changed(i);
      if (remask == 0 || st.last) continue;
      std::size_t earlier = 0;  // tokens of the block decoded before this step
      for (std::size_t l = st.lo; l < st.hi; ++l)
        if (x(i, l) != mask && decoded_at_[i * x.cols + l] != 0 && decoded_at_[i * x.cols + l] <= st.index) order_[earlier++] = l;
      const std::size_t r = std::min(remask, earlier);
      std::partial_sort(order_.begin(), order_.begin() + std::ptrdiff_t(r), order_.begin() + std::ptrdiff_t(earlier),
                        [&](std::size_t a, std::size_t b) { return sc[a] < sc[b] || (sc[a] == sc[b] && a > b); });
      for (std::size_t k = 0; k < r; ++k) {
        x(i, order_[k]) = mask;
        decoded_at_[i * x.cols + order_[k]] = 0;
      }
    }
  }

 private:
  double position_score(std::span<const double> pi) const {
    double first = 0, second = 0;
    for (double v : pi)
      if (v > first) second = first, first = v;
      else if (v > second) second = v;
    return score == confidence_score::max_prob ? first : first - second;
  }

  std::vector<double> score_;
  std::vector<std::uint32_t> decoded_at_;
  std::vector<std::int32_t> proposal_;
  std::vector<std::size_t> order_;
};

}  // namespace ferry::discrete
