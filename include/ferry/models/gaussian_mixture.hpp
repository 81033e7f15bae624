#pragma once
// An exactly known data distribution: a Gaussian mixture p0 = Σ_k w_k N(μ_k, Σ_k), diagonal or
// full covariance. Under x_t = α·x0 + σ·ε every marginal is again a mixture,
//
//   p_t(x) = Σ_k w_k N(x; α μ_k, C_k),           C_k = α² Σ_k + σ² I
//   ∇log p_t(x) = −Σ_k r_k C_k⁻¹ (x − α μ_k),     r_k ∝ w_k N(x; α μ_k, C_k)   (responsibilities)
//   E[x0 | x_t = x] = Σ_k r_k (μ_k + α Σ_k C_k⁻¹ (x − α μ_k))
//
// so it answers every prediction kind exactly: the reference "network" of every test.
// Full covariances are diagonalised once (Jacobi rotations), Σ_k = U_k diag(s_k) U_kᵀ, so C_k⁻¹
// costs nothing per level.
//
// The batch calls (operator(), posterior_mean, score) run vectorised ACROSS rows
// (simd/kernel/mixture.hpp): SIMD lane l holds row i + l, a partial last batch is zero-padded and
// runs the same body, so a row's bits do not depend on where it sits in the batch (any chunking
// over threads gives the same bits), nor on the ISA path a dispatching program runs
// (simd/kernels.hpp). They do not allocate: the per-level constants and the lane arrays live on the
// caller's stack (a thread-local buffer, sized once per thread, only for mixtures too big for it),
// so concurrent calls from several threads on different row chunks share no mutable state.
//
// Compile cost: the parameters live in flat arrays and the loader reads JSON number by number, so a
// program that loads and calls a mixture compiles little beyond the kernel. Programs that use it in
// several translation units can compile it once: define FERRY_EXTERN_GAUSSIAN_MIXTURE everywhere
// and compile src/models/gaussian_mixture_{float,double}.cpp (the explicit instantiations)
// into the program, as the ferry_kernels library does for its users (docs/install.md).
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/io/read_json.hpp"
#include "ferry/simd/kernels.hpp"

namespace ferry {

template <class T = double>
class gaussian_mixture {
 public:
  using value_type = T;
  using vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  using mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

  /// The kind of prediction operator() returns (any of the five; data by default).
  prediction predicts = prediction::data;

  gaussian_mixture() = default;

  /// Diagonal covariance: stds are standard deviations per component and dimension.
  static gaussian_mixture diagonal(std::vector<T> weights, const std::vector<vec>& means, const std::vector<vec>& stds) {
    return make(std::move(weights), rows_of(means), rows_of(stds), nullptr);
  }

  /// Full covariance: each Σ_k symmetric positive definite.
  static gaussian_mixture full(std::vector<T> weights, const std::vector<vec>& means, const std::vector<mat>& covs) {
    std::vector<dense> c;
    for (const mat& m : covs) {
      dense d{std::size_t(m.rows()), std::size_t(m.cols()), {}};
      for (Eigen::Index i = 0; i < m.rows(); ++i)
        for (Eigen::Index j = 0; j < m.cols(); ++j) d.a.push_back(m(i, j));
      c.push_back(std::move(d));
    }
    return make(std::move(weights), rows_of(means), {}, &c);
  }

  /// From JSON {"weights": [K], "means": [K][D], "stds": [K][D]} or with "covs": [K][D][D].
  static gaussian_mixture from_json(const nlohmann::json& j, const std::string& where = "gmm") {
    return io::in_json_context(where, [&] {
      for (const char* key : {"weights", "means"})
        if (!j.is_object() || !j.contains(key)) throw config_error(detail::cat(where, ": missing key \"", key, "\""));
      const bool has_stds = j.contains("stds"), has_covs = j.contains("covs");
      if (has_stds == has_covs)
        throw config_error(detail::cat(where, ": give exactly one of \"stds\" (diagonal) or \"covs\" (full)"));
      std::vector<T> weights = json_numbers(j["weights"], "\"weights\"");
      const auto means = json_rows(j["means"], "\"means\"");
      if (has_stds) return make(std::move(weights), means, json_rows(j["stds"], "\"stds\""), nullptr);
      std::vector<dense> covs;
      for (const auto& c : json_array(j["covs"], "\"covs\"")) {
        const auto rows = json_rows(c, detail::cat("\"covs\"[", covs.size(), "]"));
        dense d{rows.size(), rows.empty() ? 0 : rows[0].size(), {}};
        for (const auto& r : rows) {
          if (r.size() != d.cols)
            throw shape_error(detail::cat(where, ": a row of \"covs\" has ", r.size(), " entries, expected ", d.cols));
          for (T v : r) d.a.push_back(v);
        }
        covs.push_back(std::move(d));
      }
      return make(std::move(weights), means, {}, &covs);
    });
  }

  /// Reads a JSON file of the format above.
  static gaussian_mixture load(const std::string& path) {
    return from_json(io::read_json(path, "a Gaussian-mixture JSON object"), detail::escape(path));
  }

  std::size_t components() const { return weights_.size(); }
  std::size_t dim() const { return dim_; }
  const std::vector<T>& weights() const { return weights_; }
  vec mean(std::size_t k) const { return Eigen::Map<const vec>(mu_.data() + k * dim_, Eigen::Index(dim_)); }

  /// The model call: the prediction of kind `predicts` for each row of x at level lv.
  void operator()(const_batch_view<T> x, const level<T>& lv, batch_view<T> out) const {
    require_same_shape(x.shape(), out.shape(), "gaussian_mixture");
    check_dim(x.cols);
    const auto c = conversion(prediction::data, predicts, lv);  // out = a·x + b·x̂0; block by block, so out may alias x
    rows_kernel<false>(x.data, x.rows, lv.alpha, lv.sigma, T(c.a), T(c.b), out.data);
  }

  /// E[x0 | x_t = x] for each row.
  void posterior_mean(const_batch_view<T> x, T alpha, T sigma, batch_view<T> out) const {
    require_same_shape(x.shape(), out.shape(), "gaussian_mixture::posterior_mean");
    check_dim(x.cols);
    rows_kernel<false>(x.data, x.rows, alpha, sigma, T(0), T(1), out.data);
  }

  /// ∇log p_t(x) for each row.
  void score(const_batch_view<T> x, T alpha, T sigma, batch_view<T> out) const {
    require_same_shape(x.shape(), out.shape(), "gaussian_mixture::score");
    check_dim(x.cols);
    rows_kernel<true>(x.data, x.rows, alpha, sigma, T(0), T(1), out.data);
  }

  /// log p_t(x) of one point (length dim()).
  T log_prob(const T* x, T alpha, T sigma) const {
    std::vector<T> lp(components());
    component_log_probs(x, alpha, sigma, lp.data(), nullptr);
    return log_sum_exp(lp);
  }
  /// log p_t(x) for each row.
  void log_prob(const_batch_view<T> x, T alpha, T sigma, std::span<T> out) const {
    check_dim(x.cols);
    if (out.size() != x.rows) throw shape_error(detail::cat("gaussian_mixture::log_prob: ", out.size(), " outputs for ", x.rows, " rows"));
    for (std::size_t i = 0; i < x.rows; ++i) out[i] = log_prob(x.row(i).data(), alpha, sigma);
  }

  /// Vector–Jacobian product of the model call: out = aᵀ ∂(operator()(x, lv))/∂x for each row
  /// (the prediction is c.a·x + c.b·x̂0, so this is c.a·a + c.b·aᵀ∂x̂0/∂x; see posterior_mean_vjp).
  void vjp(const_batch_view<T> x, const level<T>& lv, const_batch_view<T> a, batch_view<T> out) const {
    const auto c = conversion(prediction::data, predicts, lv);
    posterior_mean_vjp(x, lv.alpha, lv.sigma, a, out);
    for (std::size_t i = 0; i < out.size(); ++i) out.data[i] = c.a * a.data[i] + c.b * out.data[i];
  }

  /// aᵀ ∂x̂0/∂x with x̂0 = E[x0 | x_t = x] = Σ_k r_k m_k, m_k = μ_k + αΣ_k g_k, g_k = C_k⁻¹(x − αμ_k):
  ///   ∂r_k/∂x = r_k (ḡ − g_k), ḡ = Σ_j r_j g_j, so
  ///   aᵀ∂x̂0/∂x = Σ_k r_k [α C_k⁻¹Σ_k a + (m_k·a)(ḡ − g_k)]   (C_k⁻¹Σ_k is symmetric; exact at α = 0).
  void posterior_mean_vjp(const_batch_view<T> x, T alpha, T sigma, const_batch_view<T> a, batch_view<T> out) const {
    jacobian_product(x, alpha, sigma, a, out, true);
  }

  /// The Hessian of log p_t times a: H·a = −Σ_k r_k C_k⁻¹a + Σ_k r_k g_k (g_k·a) − ḡ(ḡ·a) for each row
  /// (H is symmetric, so this is the score's jvp and vjp alike).
  void score_hessian_product(const_batch_view<T> x, T alpha, T sigma, const_batch_view<T> a, batch_view<T> out) const {
    jacobian_product(x, alpha, sigma, a, out, false);
  }

  /// Exact draws of x0 ~ p0 into each row of out: x0 = μ_k + U_k (√s_k ⊙ z), k ~ w, z ~ N(0, I).
  template <class Rng>
  void sample(Rng& rng, batch_view<T> out) const {
    check_dim(out.cols);
    std::discrete_distribution<std::size_t> pick(weights_.begin(), weights_.end());
    std::normal_distribution<T> normal;
    const std::size_t D = dim_;
    std::vector<T> z(D);
    for (std::size_t i = 0; i < out.rows; ++i) {
      const std::size_t k = pick(rng);
      for (auto& v : z) v = normal(rng);
      T* x0 = out.row(i).data();
      for (std::size_t j = 0; j < D; ++j) {
        if (!full_) {
          x0[j] = mu_[k * D + j] + std::sqrt(s_[k * D + j]) * z[j];
          continue;
        }
        T v = 0;  // (U_k (√s_k ⊙ z))_j
        for (std::size_t q = 0; q < D; ++q) v += u_[(k * D + q) * D + j] * (std::sqrt(s_[k * D + q]) * z[q]);
        x0[j] = mu_[k * D + j] + v;
      }
    }
  }

 private:
  // A matrix as read: rows × cols, row-major.
  struct dense {
    std::size_t rows = 0, cols = 0;
    std::vector<T> a;
  };

  static std::vector<std::vector<T>> rows_of(const std::vector<vec>& v) {
    std::vector<std::vector<T>> out;
    for (const vec& r : v) {
      out.emplace_back();
      for (Eigen::Index j = 0; j < r.size(); ++j) out.back().push_back(r[j]);
    }
    return out;
  }

  // JSON read number by number: nlohmann's conversions to nested std::vector cost a program that
  // loads a mixture more compile time than the mixture itself.
  static const nlohmann::json& json_array(const nlohmann::json& v, const std::string& what) {
    if (!v.is_array()) throw config_error(detail::cat(what, " is ", v.type_name(), "; expected an array"));
    return v;
  }
  static std::vector<T> json_numbers(const nlohmann::json& v, const std::string& what) {
    std::vector<T> out;
    out.reserve(json_array(v, what).size());
    for (const auto& x : v) {
      if (!x.is_number()) throw config_error(detail::cat(what, "[", out.size(), "] is ", x.type_name(), "; expected a number"));
      out.push_back(x.template get<T>());
    }
    return out;
  }
  static std::vector<std::vector<T>> json_rows(const nlohmann::json& v, const std::string& what) {
    std::vector<std::vector<T>> out;
    for (const auto& r : json_array(v, what)) out.push_back(json_numbers(r, detail::cat(what, "[", out.size(), "]")));
    return out;
  }

  // The one constructor behind diagonal(), full() and from_json(): K weights, K means of D, and per
  // component either D standard deviations (stds) or a D×D covariance (covs).
  static gaussian_mixture make(std::vector<T> weights, const std::vector<std::vector<T>>& means,
                               const std::vector<std::vector<T>>& stds, const std::vector<dense>* covs) {
    gaussian_mixture g;
    g.init_weights(std::move(weights), means.size());
    const std::size_t K = means.size(), D = means[0].size();
    for (std::size_t k = 0; k < K; ++k) {
      if (means[k].size() != D || D == 0)
        throw shape_error(detail::cat("gaussian_mixture: means[", k, "] has ", means[k].size(), " entries, expected ", D));
      for (std::size_t j = 0; j < D; ++j)
        if (!std::isfinite(means[k][j]))
          throw domain_error(detail::cat("gaussian_mixture: means[", k, "][", j, "] = ", means[k][j], "; must be finite"));
    }
    g.dim_ = D;
    g.full_ = covs != nullptr;
    for (const auto& m : means)
      for (T v : m) g.mu_.push_back(v);
    if (!covs) {
      if (stds.size() != K) throw shape_error(detail::cat("gaussian_mixture: ", stds.size(), " stds for ", K, " components"));
      for (std::size_t k = 0; k < K; ++k) {
        if (stds[k].size() != D)
          throw shape_error(detail::cat("gaussian_mixture: stds[", k, "] has ", stds[k].size(), " entries, expected ", D));
        for (std::size_t j = 0; j < D; ++j) {
          if (!(stds[k][j] > 0) || !std::isfinite(stds[k][j]))
            throw domain_error(detail::cat("gaussian_mixture: stds[", k, "][", j, "] = ", stds[k][j], "; must be positive and finite"));
          g.s_.push_back(stds[k][j] * stds[k][j]);
        }
      }
      return g;
    }
    if (covs->size() != K) throw shape_error(detail::cat("gaussian_mixture: ", covs->size(), " covs for ", K, " components"));
    g.s_.resize(K * D);
    g.u_.resize(K * D * D);
    for (std::size_t k = 0; k < K; ++k) {
      const dense& c = (*covs)[k];
      if (c.rows != D || c.cols != D)
        throw shape_error(detail::cat("gaussian_mixture: covs[", k, "] is ", c.rows, "x", c.cols, ", expected ", D, "x", D));
      T asym = 0, norm = 0;  // ‖Σ − Σᵀ‖² ≤ 10⁻²⁴‖Σ‖² (Frobenius), as Eigen's isApprox(Σᵀ, 1e-12)
      for (std::size_t i = 0; i < D; ++i)
        for (std::size_t j = 0; j < D; ++j) {
          const T d = c.a[i * D + j] - c.a[j * D + i];
          asym += d * d;
          norm += c.a[i * D + j] * c.a[i * D + j];
        }
      if (!(asym <= T(1e-24) * norm)) throw domain_error(detail::cat("gaussian_mixture: covs[", k, "] is not symmetric"));
      symmetric_eigen(c.a.data(), D, g.s_.data() + k * D, g.u_.data() + k * D * D);
      const T smallest = g.s_[k * D];  // ascending
      if (!(smallest > 0))
        throw domain_error(detail::cat("gaussian_mixture: covs[", k, "] is not positive definite (smallest eigenvalue ", smallest, ")"));
    }
    return g;
  }

  // Σ = U diag(s) Uᵀ by cyclic Jacobi rotations (Golub & Van Loan, "Matrix Computations", 4th ed.,
  // §8.5.2–8.5.3: each rotation zeroes one off-diagonal pair; sweeps until the off-diagonal mass is
  // below ε² of the whole), in double for float mixtures; eigenvalues ascending, U column-major.
  // A D×D loop in place of Eigen's SelfAdjointEigenSolver, whose instantiation cost every program
  // that loads a mixture seconds of compile time.
  static void symmetric_eigen(const T* sigma, std::size_t n, T* values, T* vectors) {
    using W = std::conditional_t<(sizeof(T) < sizeof(double)), double, T>;
    std::vector<W> a(n * n), v(n * n, W(0));
    for (std::size_t i = 0; i < n * n; ++i) a[i] = W(sigma[i]);
    for (std::size_t i = 0; i < n; ++i) v[i * n + i] = 1;
    for (int sweep = 0; sweep < 100; ++sweep) {
      W off = 0, all = 0;
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) (i == j ? all : off) += a[i * n + j] * a[i * n + j];
      if (!(off > std::numeric_limits<W>::epsilon() * std::numeric_limits<W>::epsilon() * (all + off))) break;
      for (std::size_t p = 0; p + 1 < n; ++p)
        for (std::size_t q = p + 1; q < n; ++q) {
          const W apq = a[p * n + q];
          if (apq == 0) continue;
          // τ = (a_qq − a_pp)/(2a_pq), t = sign(τ)/(|τ| + √(1 + τ²)), c = 1/√(1 + t²), s = t·c
          const W tau = (a[q * n + q] - a[p * n + p]) / (2 * apq);
          const W t = (tau >= 0 ? W(1) : W(-1)) / (std::abs(tau) + std::sqrt(1 + tau * tau));
          const W cs = 1 / std::sqrt(1 + t * t), sn = t * cs;
          auto rotate = [cs, sn](W& xp, W& xq) {  // (xp, xq) ← (c·xp − s·xq, s·xp + c·xq)
            const W u = xp, w = xq;
            xp = cs * u - sn * w;
            xq = sn * u + cs * w;
          };
          for (std::size_t k = 0; k < n; ++k) rotate(a[k * n + p], a[k * n + q]);  // A ← A·J
          for (std::size_t k = 0; k < n; ++k) rotate(a[p * n + k], a[q * n + k]);  // A ← Jᵀ·A
          for (std::size_t k = 0; k < n; ++k) rotate(v[k * n + p], v[k * n + q]);  // U ← U·J
        }
    }
    std::vector<std::size_t> order(n);  // ascending eigenvalues, ties in index order (insertion sort: n is small)
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t at = i;
      for (; at > 0 && a[i * n + i] < a[order[at - 1] * n + order[at - 1]]; --at) order[at] = order[at - 1];
      order[at] = i;
    }
    for (std::size_t j = 0; j < n; ++j) {
      values[j] = T(a[order[j] * n + order[j]]);
      for (std::size_t i = 0; i < n; ++i) vectors[j * n + i] = T(v[i * n + order[j]]);
    }
  }

  // ---- the vectorised batch kernel (simd/kernel/mixture.hpp) -------------------------------------
  static constexpr std::size_t stack_elements = 2048;  // 16 KiB of doubles; see scratch_elements

  std::size_t scratch_elements() const {
    const std::size_t K = components(), D = dim();
    return K * (3 * D + 1) + simd::kernel::mixture_lanes_scratch<T>(K, D);
  }

  // out = ca·x + cb·f(x) for every row, f the posterior mean (Score = false) or the score (true):
  // the per-level constants here, the rows in the kernel of the program's ISA path.
  template <bool Score>
  void rows_kernel(const T* x, std::size_t rows, T alpha, T sigma, T ca, T cb, T* out) const {
    const std::size_t need = scratch_elements();
    if (need <= stack_elements) {
      alignas(64) T buf[stack_elements];
      rows_kernel_in<Score>(buf, x, rows, alpha, sigma, ca, cb, out);
    } else {
      thread_local std::vector<T> big;  // per thread: concurrent calls never share it
      if (big.size() < need) big.resize(need);
      rows_kernel_in<Score>(big.data(), x, rows, alpha, sigma, ca, cb, out);
    }
  }

  // Per level: c_kj = α²s_kj + σ² (eigenvalues of C_k), inv_c = 1/c, shift = α s/c (α Σ_k C_k⁻¹ in
  // the eigenbasis), κ_k = log w_k − ½(Σ_j log c_kj + D log 2π).
  template <bool Score>
  void rows_kernel_in(T* buf, const T* x, std::size_t rows, T alpha, T sigma, T ca, T cb, T* out) const {
    const std::size_t K = components(), D = dim();
    T* inv_c = buf;            // K·D
    T* shift = inv_c + K * D;  // K·D
    T* am = shift + K * D;     // K·D: αμ_k
    T* kappa = am + K * D;     // K
    const T log2pi = std::log(2 * std::numbers::pi_v<T>);
    for (std::size_t k = 0; k < K; ++k) {
      T logdet = 0;
      for (std::size_t j = 0; j < D; ++j) {
        const T s = s_[k * D + j], c = alpha * alpha * s + sigma * sigma;
        inv_c[k * D + j] = T(1) / c;
        shift[k * D + j] = alpha * s / c;
        am[k * D + j] = alpha * mu_[k * D + j];
        logdet += std::log(c);
      }
      kappa[k] = log_weights_[k] - T(0.5) * (logdet + T(D) * log2pi);
    }
    simd::kernel::mixture_args<T> a;
    a.K = K, a.D = D, a.inv_c = inv_c, a.shift = shift, a.am = am, a.kappa = kappa, a.mu = mu_.data();
    a.u = full_ ? u_.data() : nullptr;
    a.ca = ca, a.cb = cb, a.score = Score, a.scratch = kappa + K;
#ifdef FERRY_SIMD_DISPATCH
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "with FERRY_SIMD_DISPATCH the kernels take float and double");
    simd::kernels().of<T>().mixture_rows(a, x, rows, out);
#else
    simd::kernel::detail::mixture_rows_as<T, Score, xsimd::default_arch>(a, x, rows, out);
#endif
  }

  static T log_sum_exp(const std::vector<T>& v) {
    T m = -std::numeric_limits<T>::infinity();
    for (T a : v) m = std::max(m, a);
    if (!std::isfinite(m)) return m;
    T s = 0;
    for (T a : v) s += std::exp(a - m);
    return m + std::log(s);
  }

  void init_weights(std::vector<T> w, std::size_t k) {
    if (w.empty()) throw shape_error("gaussian_mixture: no components");
    if (w.size() != k) throw shape_error(detail::cat("gaussian_mixture: ", w.size(), " weights for ", k, " means"));
    T total = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (!(w[i] > 0) || !std::isfinite(w[i]))
        throw domain_error(detail::cat("gaussian_mixture: weights[", i, "] = ", w[i], "; must be positive and finite"));
      total += w[i];
    }
    if (std::abs(total - 1) > T(1e-6))
      throw domain_error(detail::cat("gaussian_mixture: weights sum to ", total, "; expected 1"));
    for (auto& v : w) v /= total;
    weights_ = std::move(w);
    log_weights_.resize(weights_.size());
    for (std::size_t i = 0; i < weights_.size(); ++i) log_weights_[i] = std::log(weights_[i]);
  }

  void check_dim(std::size_t d) const {
    if (d != dim()) throw shape_error(detail::cat("gaussian_mixture: state has ", d, " dimensions, the mixture has ", dim()));
  }

  // log w_k + log N(x; αμ_k, C_k) for every k; optionally the whitened residual C_k⁻¹(x − αμ_k)
  // in the eigenbasis (u_k = U_kᵀ(x − αμ_k), written as C_k⁻¹-scaled coordinates) into res[k].
  void component_log_probs(const T* x, T alpha, T sigma, T* lp, std::vector<vec>* res) const {
    const std::size_t K = components(), D = dim();
    const T log2pi = std::log(2 * std::numbers::pi_v<T>);
    for (std::size_t k = 0; k < K; ++k) {
      if (res) (*res)[k].resize(Eigen::Index(D));
      T quad = 0, logdet = 0;
      for (std::size_t j = 0; j < D; ++j) {
        T r = 0;  // (U_kᵀ(x − αμ_k))_j: eigen-coordinates (x_j − αμ_kj for a diagonal mixture)
        if (full_)
          for (std::size_t q = 0; q < D; ++q) r += u_[(k * D + j) * D + q] * (x[q] - alpha * mu_[k * D + q]);
        else
          r = x[j] - alpha * mu_[k * D + j];
        const T c = alpha * alpha * s_[k * D + j] + sigma * sigma;  // eigenvalue of C_k
        quad += r * r / c;
        logdet += std::log(c);
        if (res) (*res)[k][Eigen::Index(j)] = r / c;  // C_k⁻¹ r in eigen-coordinates
      }
      lp[k] = log_weights_[k] - T(0.5) * (quad + logdet + T(D) * log2pi);
    }
  }

  // Responsibilities r_k (softmax of the component log-probabilities) and residuals.
  void responsibilities(const T* x, T alpha, T sigma, std::vector<T>& r, std::vector<vec>& res) const {
    r.resize(components());
    res.resize(components());
    component_log_probs(x, alpha, sigma, r.data(), &res);
    const T lse = log_sum_exp(r);
    for (auto& v : r) v = std::exp(v - lse);
  }

  // Row-wise posterior-mean vjp (data = true) or Hessian-vector product of log p_t (data = false),
  // in Eigen's vector arithmetic (its dot products set these bits).
  void jacobian_product(const_batch_view<T> x, T alpha, T sigma, const_batch_view<T> a, batch_view<T> out,
                        bool data) const {
    require_same_shape(x.shape(), a.shape(), "gaussian_mixture: vjp direction");
    require_same_shape(x.shape(), out.shape(), "gaussian_mixture: vjp output");
    check_dim(x.cols);
    const Eigen::Index D = Eigen::Index(dim());
    std::vector<vec> means, eigval;
    std::vector<mat> eigvec;
    for (std::size_t k = 0; k < components(); ++k) {
      means.push_back(mean(k));
      eigval.push_back(Eigen::Map<const vec>(s_.data() + k * dim(), D));
      if (full_) eigvec.push_back(Eigen::Map<const mat>(u_.data() + k * dim() * dim(), D, D));
    }
    std::vector<T> r;
    std::vector<vec> res;
    std::vector<vec> g(components());
    vec g_bar(D), acc(D), w(D);
    for (std::size_t i = 0; i < x.rows; ++i) {
      const Eigen::Map<const vec> av(a.row(i).data(), D);
      responsibilities(x.row(i).data(), alpha, sigma, r, res);
      g_bar.setZero();
      for (std::size_t k = 0; k < components(); ++k) {
        g[k] = full_ ? vec(eigvec[k] * res[k]) : res[k];  // g_k = C_k⁻¹(x − αμ_k)
        g_bar += r[k] * g[k];
      }
      acc.setZero();
      for (std::size_t k = 0; k < components(); ++k) {
        const vec c = (alpha * alpha * eigval[k].array() + sigma * sigma).matrix();   // eigenvalues of C_k
        const vec ae = full_ ? vec(eigvec[k].transpose() * av) : vec(av);
        if (data) {
          w = (alpha * eigval[k].array() / c.array() * ae.array()).matrix();          // α C_k⁻¹Σ_k a
          if (full_) w = eigvec[k] * w;
          vec shift = (eigval[k].array() * res[k].array()).matrix();
          if (full_) shift = eigvec[k] * shift;
          const T ma = (means[k] + alpha * shift).dot(av);                              // m_k·a
          acc += r[k] * (w + ma * (g_bar - g[k]));
        } else {
          w = (ae.array() / c.array()).matrix();                                        // C_k⁻¹ a
          if (full_) w = eigvec[k] * w;
          acc += r[k] * (g[k] * g[k].dot(av) - w);
        }
      }
      if (!data) acc -= g_bar * g_bar.dot(av);
      std::copy(acc.data(), acc.data() + dim(), out.row(i).data());
    }
  }

  std::vector<T> weights_, log_weights_;
  std::size_t dim_ = 0;
  std::vector<T> mu_;  ///< K·D means
  std::vector<T> s_;   ///< K·D eigenvalues of Σ_k (the variances of a diagonal mixture)
  std::vector<T> u_;   ///< K·D·D eigenvectors, column-major per component (full covariance only)
  bool full_ = false;
};

}  // namespace ferry

#ifdef FERRY_EXTERN_GAUSSIAN_MIXTURE
// Compiled once, in src/models/gaussian_mixture_{float,double}.cpp (the ferry_kernels library defines the macro).
extern template class ferry::gaussian_mixture<float>;
extern template class ferry::gaussian_mixture<double>;
#endif
