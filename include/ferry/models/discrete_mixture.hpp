#pragma once
// An exactly known law over token sequences: a mixture of M product distributions over length-L
// sequences of V tokens,
//
//   p0(x) = Σ_m w_m Π_ℓ P_m[ℓ][x^ℓ],        JSON {"weights": [M], "probs": [M][L][V]}.
//
// Under either forward kernel (discrete/kernel.hpp) the positions stay independent given the
// component, so the exact denoiser is Bayes' rule twice (posterior over components, then per
// position):
//
//   r_m ∝ w_m Π_ℓ Σ_v P_m[ℓ][v]·q_t(x_t^ℓ | v)
//   p(x0^ℓ = v | x_t) = Σ_m r_m·P_m[ℓ][v]·q_t(x_t^ℓ | v) / Σ_u P_m[ℓ][u]·q_t(x_t^ℓ | u)
//
// (masked: a masked position's factor is the constant 1 − α_t and drops out, an unmasked one
// pins x0^ℓ = x_t^ℓ). Given tokens (a prompt, infill; flagged per position) are known exactly under
// either kernel: their factor is [x^ℓ = v], so they pin x0^ℓ and weigh the components by
// P_m[ℓ][x^ℓ] — p(x0 | x_t, the given tokens), exactly. It is the reference "network" of the discrete tests: every sampler's error
// against it is measurable. Zero probabilities are floored at the smallest normal double so that
// sequences outside the support (which approximate samplers may produce) still get a posterior.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferry/core/error.hpp"
#include "ferry/io/read_json.hpp"
#include "ferry/discrete/categorical.hpp"
#include "ferry/discrete/denoiser.hpp"
#include "ferry/discrete/kernel.hpp"
#include "ferry/random/normal.hpp"

namespace ferry {

class discrete_mixture {
 public:
  /// What operator() returns: p(x0 | x_t).
  static constexpr discrete::output_kind outputs = discrete::output_kind::probabilities;
  /// The forward kernel x_t came from.
  discrete::kernel_kind kernel = discrete::kernel_kind::masked;

  discrete_mixture() = default;
  /// weights [M], probs [M][L][V] flattened; each validated and normalised (1e-6 slack, as the Gaussian mixture's weights).
  discrete_mixture(std::vector<double> weights, std::vector<double> probs, std::size_t length, std::size_t vocab)
      : weights_(std::move(weights)), probs_(std::move(probs)), m_(weights_.size()), l_(length), v_(vocab) {
    const std::string where = "discrete_mixture";
    if (m_ == 0) throw shape_error(where + ": no components");
    if (l_ == 0 || v_ < 2) throw shape_error(detail::cat(where, ": L = ", l_, ", V = ", v_, "; expected L >= 1 and V >= 2"));
    if (probs_.size() != m_ * l_ * v_)
      throw shape_error(detail::cat(where, ": probs has ", probs_.size(), " entries, expected M·L·V = ", m_ * l_ * v_));
    normalise(weights_, where + ": weights");
    for (std::size_t m = 0; m < m_; ++m)
      for (std::size_t l = 0; l < l_; ++l) {
        std::span<double> p(probs_.data() + (m * l_ + l) * v_, v_);
        normalise(p, detail::cat(where, ": probs[", m, "][", l, "]"));
      }
  }

  /// From {"weights": [M], "probs": [M][L][V]}.
  static discrete_mixture from_json(const nlohmann::json& j, const std::string& where = "mixture") {
    return io::in_json_context(where, [&] {
      if (!j.is_object() || !j.contains("weights")) throw config_error(detail::cat(where, ": missing key \"weights\""));
      if (!j.contains("probs")) throw config_error(detail::cat(where, ": missing key \"probs\""));
      auto weights = j.at("weights").get<std::vector<double>>();
      const auto probs = j.at("probs").get<std::vector<std::vector<std::vector<double>>>>();
      if (probs.size() != weights.size())
        throw shape_error(detail::cat(where, ": \"probs\" has ", probs.size(), " components, \"weights\" has ", weights.size()));
      const std::size_t l = probs.empty() ? 0 : probs[0].size(), v = l == 0 ? 0 : probs[0][0].size();
      std::vector<double> flat;
      for (std::size_t m = 0; m < probs.size(); ++m) {
        if (probs[m].size() != l) throw shape_error(detail::cat(where, ": probs[", m, "] has ", probs[m].size(), " positions, expected ", l));
        for (std::size_t q = 0; q < l; ++q) {
          if (probs[m][q].size() != v)
            throw shape_error(detail::cat(where, ": probs[", m, "][", q, "] has ", probs[m][q].size(), " tokens, expected ", v));
          flat.insert(flat.end(), probs[m][q].begin(), probs[m][q].end());
        }
      }
      return discrete_mixture(std::move(weights), std::move(flat), l, v);
    });
  }

  /// Reads a JSON file of the format above.
  static discrete_mixture load(const std::string& path) {
    return from_json(io::read_json(path, "a discrete-mixture JSON object"), detail::escape(path));
  }


  std::size_t components() const { return m_; }
  std::size_t length() const { return l_; }
  std::size_t vocab() const { return v_; }
  double weight(std::size_t m) const { return weights_[m]; }
  double prob(std::size_t m, std::size_t l, std::size_t v) const { return probs_[(m * l_ + l) * v_ + v]; }

  /// p(x0 | x_t) for every row and position: out is rows × L × V.
  void operator()(discrete::const_token_view x, const discrete::noise_level& lv, std::span<double> out) const {
    if (x.cols != l_ || out.size() != x.rows * l_ * v_)
      throw shape_error(detail::cat("discrete_mixture: tokens ", x.rows, "x", x.cols, " and ", out.size(),
                                    " outputs; expected L = ", l_, " and rows·L·V outputs"));
    for (std::size_t i = 0; i < x.rows; ++i) posterior(x.row(i).data(), lv.alpha, out.data() + i * l_ * v_);
  }
  /// The same with the given tokens flagged (given(i, ℓ) = 1): p(x0 | x_t, the given tokens).
  void operator()(discrete::const_token_view x, discrete::given_view given, const discrete::noise_level& lv,
                  std::span<double> out) const {
    if (x.cols != l_ || given.rows != x.rows || given.cols != l_ || out.size() != x.rows * l_ * v_)
      throw shape_error(detail::cat("discrete_mixture: tokens ", x.rows, "x", x.cols, ", flags ", given.rows, "x", given.cols, " and ",
                                    out.size(), " outputs; expected L = ", l_, ", flags like the tokens and rows·L·V outputs"));
    for (std::size_t i = 0; i < x.rows; ++i) posterior(x.row(i).data(), lv.alpha, out.data() + i * l_ * v_, given.row(i).data());
  }

  /// p(x0 | x_t) of one sequence (L tokens) at α_t, into out (L × V); `given` (L flags, optional)
  /// marks tokens known exactly. Two passes over the components (max, then sum) so that nothing is
  /// allocated.
  void posterior(const std::int32_t* x, double alpha, double* out, const std::uint8_t* given = nullptr) const {
    double top = -std::numeric_limits<double>::infinity();
    for (std::size_t m = 0; m < m_; ++m) top = std::max(top, log_likelihood(m, x, alpha, given));
    std::fill(out, out + l_ * v_, 0.0);
    double z = 0;
    for (std::size_t m = 0; m < m_; ++m) {
      const double r = std::exp(log_likelihood(m, x, alpha, given) - top);
      z += r;
      for (std::size_t l = 0; l < l_; ++l) {
        const double* p = probs_.data() + (m * l_ + l) * v_;
        const bool known = given && given[l];
        double* o = out + l * v_;
        double norm = 0;
        for (std::size_t v = 0; v < v_; ++v) norm += floor(p[v]) * likelihood(x[l], v, alpha, known);
        for (std::size_t v = 0; v < v_; ++v) o[v] += r * floor(p[v]) * likelihood(x[l], v, alpha, known) / norm;
      }
    }
    for (std::size_t k = 0; k < l_ * v_; ++k) out[k] /= z;
  }

  /// log p0(x0) of one sequence of L tokens in [0, V).
  double log_prob(std::span<const std::int32_t> x0) const {
    if (x0.size() != l_) throw shape_error(detail::cat("discrete_mixture::log_prob: ", x0.size(), " tokens, expected ", l_));
    double top = -std::numeric_limits<double>::infinity(), z = 0;
    for (std::size_t m = 0; m < m_; ++m) top = std::max(top, exact_log_joint(m, x0.data()));
    if (top == -std::numeric_limits<double>::infinity()) return top;
    for (std::size_t m = 0; m < m_; ++m) z += std::exp(exact_log_joint(m, x0.data()) - top);
    return top + std::log(z);
  }

  /// Exact draws x0 ~ p0 into every row, keyed: row i of out is global row first_row + i, its
  /// component from the uniform at index 0 and position ℓ from index 1 + ℓ (data stream, step 0).
  void sample(std::uint64_t seed, discrete::token_view out, std::uint64_t first_row = 0) const {
    if (out.cols != l_) throw shape_error(detail::cat("discrete_mixture::sample: ", out.cols, " columns, expected L = ", l_));
    random::detail::require_row_range(first_row, out.rows);
    const std::uint32_t stream = discrete::draw_stream::of(discrete::draw_stream::data);
    for (std::size_t i = 0; i < out.rows; ++i) {
      const auto row = std::uint32_t(first_row + i);
      const std::size_t m = inverse_cdf(std::span<const double>(weights_), random::uniform_at(seed, row, 0, stream, 0));
      for (std::size_t l = 0; l < l_; ++l)
        out(i, l) = std::int32_t(inverse_cdf(std::span<const double>(probs_.data() + (m * l_ + l) * v_, v_),
                                             random::uniform_at(seed, row, 0, stream, 1 + l)));
    }
  }

 private:
  static double floor(double p) { return std::max(p, std::numeric_limits<double>::min()); }

  // q_t(x | v) of the kernel at α (the masked kernel's 1 − α at a mask is dropped: the same for every
  // v and m); [x = v] for a given token.
  double likelihood(std::int32_t x, std::size_t v, double alpha, bool known) const {
    if (known) return double(x == std::int32_t(v));
    if (kernel == discrete::kernel_kind::masked) return x == std::int32_t(v_) ? 1.0 : double(x == std::int32_t(v));
    return alpha * (x == std::int32_t(v)) + (1 - alpha) / double(v_);
  }
  // log w_m + Σ_ℓ log Σ_v P_m[ℓ][v] q_t(x^ℓ | v)
  double log_likelihood(std::size_t m, const std::int32_t* x, double alpha, const std::uint8_t* given) const {
    double s = std::log(floor(weights_[m]));
    for (std::size_t l = 0; l < l_; ++l) {
      const double* p = probs_.data() + (m * l_ + l) * v_;
      if (kernel == discrete::kernel_kind::masked || (given && given[l])) {
        if (x[l] != std::int32_t(v_)) s += std::log(floor(p[x[l]]));
        continue;
      }
      double q = 0;
      for (std::size_t v = 0; v < v_; ++v) q += p[v] * likelihood(x[l], v, alpha, false);
      s += std::log(floor(q));
    }
    return s;
  }
  double exact_log_joint(std::size_t m, const std::int32_t* x) const {
    double s = std::log(weights_[m]);
    for (std::size_t l = 0; l < l_; ++l) {
      if (x[l] < 0 || std::size_t(x[l]) >= v_)
        throw domain_error(detail::cat("discrete_mixture::log_prob: token ", x[l], " at position ", l, " is outside [0, ", v_, ")"));
      s += std::log(prob(m, l, std::size_t(x[l])));
    }
    return s;
  }
  static std::size_t inverse_cdf(std::span<const double> p, double u) {
    double c = 0;
    for (std::size_t k = 0; k < p.size(); ++k)
      if (p[k] > 0 && u < (c += p[k])) return k;
    std::size_t last = p.size() - 1;  // u beyond the rounded total: the last token with mass
    while (last > 0 && p[last] == 0) --last;
    return last;
  }
  static void normalise(std::span<double> p, const std::string& what) {
    double s = 0;
    for (std::size_t k = 0; k < p.size(); ++k) {
      if (!(p[k] >= 0) || !std::isfinite(p[k]))
        throw domain_error(detail::cat(what, "[", k, "] = ", p[k], "; expected a finite probability >= 0"));
      s += p[k];
    }
    if (std::abs(s - 1) > 1e-6) throw domain_error(detail::cat(what, " sums to ", s, "; expected 1"));
    for (double& v : p) v /= s;
  }

  std::vector<double> weights_, probs_;
  std::size_t m_ = 0, l_ = 0, v_ = 0;
};

}  // namespace ferry
