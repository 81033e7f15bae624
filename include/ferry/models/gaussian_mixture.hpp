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
// Programs that use the mixture in several translation units can compile it once: define
// FERRY_EXTERN_GAUSSIAN_MIXTURE everywhere and compile src/models/gaussian_mixture.cpp (the
// explicit instantiations of float and double) into the program, as the ferry_kernels library
// does; see docs/install.md.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
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
  static gaussian_mixture diagonal(std::vector<T> weights, std::vector<vec> means, std::vector<vec> stds) {
    gaussian_mixture g;
    g.init_weights(std::move(weights), means.size(), "weights");
    g.means_ = std::move(means);
    g.check_means();
    if (stds.size() != g.means_.size())
      throw shape_error(detail::cat("gaussian_mixture: ", stds.size(), " stds for ", g.means_.size(), " components"));
    for (std::size_t k = 0; k < stds.size(); ++k) {
      if (std::size_t(stds[k].size()) != g.dim())
        throw shape_error(detail::cat("gaussian_mixture: stds[", k, "] has ", stds[k].size(), " entries, expected ", g.dim()));
      for (Eigen::Index j = 0; j < stds[k].size(); ++j)
        if (!(stds[k][j] > 0) || !std::isfinite(stds[k][j]))
          throw domain_error(detail::cat("gaussian_mixture: stds[", k, "][", j, "] = ", stds[k][j], "; must be positive and finite"));
      g.eigval_.push_back(stds[k].array().square().matrix());
    }
    g.full_ = false;
    g.pack();
    return g;
  }

  /// Full covariance: each Σ_k symmetric positive definite.
  static gaussian_mixture full(std::vector<T> weights, std::vector<vec> means, std::vector<mat> covs) {
    gaussian_mixture g;
    g.init_weights(std::move(weights), means.size(), "weights");
    g.means_ = std::move(means);
    g.check_means();
    if (covs.size() != g.means_.size())
      throw shape_error(detail::cat("gaussian_mixture: ", covs.size(), " covs for ", g.means_.size(), " components"));
    for (std::size_t k = 0; k < covs.size(); ++k) {
      const mat& c = covs[k];
      if (std::size_t(c.rows()) != g.dim() || std::size_t(c.cols()) != g.dim())
        throw shape_error(detail::cat("gaussian_mixture: covs[", k, "] is ", c.rows(), "x", c.cols(), ", expected ", g.dim(), "x", g.dim()));
      T asym = 0, norm = 0;  // ‖Σ − Σᵀ‖² ≤ 10⁻²⁴‖Σ‖² (Frobenius), as Eigen's isApprox(Σᵀ, 1e-12)
      for (Eigen::Index i = 0; i < c.rows(); ++i)
        for (Eigen::Index j = 0; j < c.cols(); ++j) {
          const T d = c(i, j) - c(j, i);
          asym += d * d;
          norm += c(i, j) * c(i, j);
        }
      if (!(asym <= T(1e-24) * norm)) throw domain_error(detail::cat("gaussian_mixture: covs[", k, "] is not symmetric"));
      vec values;
      mat vectors;
      symmetric_eigen(c, values, vectors);
      if (!(values.minCoeff() > 0))
        throw domain_error(detail::cat("gaussian_mixture: covs[", k, "] is not positive definite (smallest eigenvalue ",
                                       values.minCoeff(), ")"));
      g.eigval_.push_back(std::move(values));
      g.eigvec_.push_back(std::move(vectors));
    }
    g.full_ = true;
    g.pack();
    return g;
  }

  /// From JSON {"weights": [K], "means": [K][D], "stds": [K][D]} or with "covs": [K][D][D].
  static gaussian_mixture from_json(const nlohmann::json& j, const std::string& where = "gmm") {
    auto need = [&](const char* key) -> const nlohmann::json& {
      if (!j.is_object() || !j.contains(key))
        throw config_error(detail::cat(where, ": missing key \"", key, "\""));
      return j.at(key);
    };
    return io::in_json_context(where, [&] {
      auto weights = json_numbers(need("weights"), "\"weights\"");
      std::vector<vec> means;
      for (const auto& m : json_array(need("means"), "\"means\""))
        means.push_back(to_vec(json_numbers(m, detail::cat("\"means\"[", means.size(), "]"))));
      const bool has_stds = j.contains("stds"), has_covs = j.contains("covs");
      if (has_stds == has_covs)
        throw config_error(detail::cat(where, ": give exactly one of \"stds\" (diagonal) or \"covs\" (full)"));
      if (has_stds) {
        std::vector<vec> stds;
        for (const auto& s : json_array(j.at("stds"), "\"stds\""))
          stds.push_back(to_vec(json_numbers(s, detail::cat("\"stds\"[", stds.size(), "]"))));
        return diagonal(std::move(weights), std::move(means), std::move(stds));
      }
      std::vector<mat> covs;
      for (const auto& c : json_array(j.at("covs"), "\"covs\"")) {
        const std::string name = detail::cat("\"covs\"[", covs.size(), "]");
        const auto& rows = json_array(c, name);
        mat m(Eigen::Index(rows.size()), Eigen::Index(rows.empty() ? 0 : rows[0].size()));
        for (std::size_t r = 0; r < rows.size(); ++r) {
          const std::vector<T> row = json_numbers(rows[r], detail::cat(name, "[", r, "]"));
          if (row.size() != std::size_t(m.cols()))
            throw shape_error(detail::cat(where, ": a row of \"covs\" has ", row.size(), " entries, expected ", m.cols()));
          for (std::size_t q = 0; q < row.size(); ++q) m(Eigen::Index(r), Eigen::Index(q)) = row[q];
        }
        covs.push_back(std::move(m));
      }
      return full(std::move(weights), std::move(means), std::move(covs));
    });
  }

  /// Reads a JSON file of the format above.
  static gaussian_mixture load(const std::string& path) {
    return from_json(io::read_json(path, "a Gaussian-mixture JSON object"), detail::escape(path));
  }

  std::size_t components() const { return weights_.size(); }
  std::size_t dim() const { return means_.empty() ? 0 : std::size_t(means_[0].size()); }
  const std::vector<T>& weights() const { return weights_; }
  const vec& mean(std::size_t k) const { return means_[k]; }

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

  /// Exact draws of x0 ~ p0 into each row of out.
  template <class Rng>
  void sample(Rng& rng, batch_view<T> out) const {
    check_dim(out.cols);
    std::discrete_distribution<std::size_t> pick(weights_.begin(), weights_.end());
    std::normal_distribution<T> normal;
    vec z(dim());
    for (std::size_t i = 0; i < out.rows; ++i) {
      const std::size_t k = pick(rng);
      for (auto& v : z) v = normal(rng);
      vec x0 = full_ ? vec(means_[k] + eigvec_[k] * (eigval_[k].array().sqrt() * z.array()).matrix())
                     : vec(means_[k] + (eigval_[k].array().sqrt() * z.array()).matrix());
      std::copy(x0.data(), x0.data() + dim(), out.row(i).data());
    }
  }

 private:
  static vec to_vec(const std::vector<T>& v) { return Eigen::Map<const vec>(v.data(), Eigen::Index(v.size())); }

  // JSON to numbers element by element: nlohmann's conversions to nested std::vector cost a
  // program that loads a mixture more compile time than the mixture itself.
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

  // Σ = U diag(s) Uᵀ by cyclic Jacobi rotations (Golub & Van Loan, "Matrix Computations", 4th ed.,
  // §8.5.2–8.5.3: each rotation zeroes one off-diagonal pair, sweeps until the off-diagonal mass is
  // below ε² of the whole), in double for float mixtures; eigenvalues ascending. A D×D loop in place
  // of Eigen's SelfAdjointEigenSolver, whose instantiation cost every user of the mixture seconds
  // of compile time.
  static void symmetric_eigen(const mat& c, vec& values, mat& vectors) {
    using W = std::conditional_t<(sizeof(T) < sizeof(double)), double, T>;
    const std::size_t n = std::size_t(c.rows());
    std::vector<W> a(n * n), v(n * n, W(0));
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) a[i * n + j] = W(c(Eigen::Index(i), Eigen::Index(j)));
      v[i * n + i] = 1;
    }
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
          auto rotate = [&](W& xp, W& xq) {  // (xp, xq) ← (c·xp − s·xq, s·xp + c·xq)
            const W u = xp, w = xq;
            xp = cs * u - sn * w;
            xq = sn * u + cs * w;
          };
          for (std::size_t k = 0; k < n; ++k) rotate(a[k * n + p], a[k * n + q]);  // A ← A·J
          for (std::size_t k = 0; k < n; ++k) rotate(a[p * n + k], a[q * n + k]);  // A ← Jᵀ·A
          for (std::size_t k = 0; k < n; ++k) rotate(v[k * n + p], v[k * n + q]);  // U ← U·J
        }
    }
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return a[x * n + x] < a[y * n + y]; });
    values.resize(Eigen::Index(n));
    vectors.resize(Eigen::Index(n), Eigen::Index(n));
    for (std::size_t j = 0; j < n; ++j) {
      values[Eigen::Index(j)] = T(a[order[j] * n + order[j]]);
      for (std::size_t i = 0; i < n; ++i) vectors(Eigen::Index(i), Eigen::Index(j)) = T(v[i * n + order[j]]);
    }
  }

  // The kernel's packed copies: μ_k (K·D) and U_k column-major (K·D·D, full covariance only).
  void pack() {
    const std::size_t K = components(), D = dim();
    mu_.assign(K * D, T(0));
    u_.assign(full_ ? K * D * D : 0, T(0));
    for (std::size_t k = 0; k < K; ++k) {
      for (std::size_t j = 0; j < D; ++j) mu_[k * D + j] = means_[k][Eigen::Index(j)];
      if (full_) std::copy(eigvec_[k].data(), eigvec_[k].data() + D * D, u_.data() + k * D * D);
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
        const T s = eigval_[k][Eigen::Index(j)], c = alpha * alpha * s + sigma * sigma;
        inv_c[k * D + j] = T(1) / c;
        shift[k * D + j] = alpha * s / c;
        am[k * D + j] = alpha * means_[k][Eigen::Index(j)];
        logdet += std::log(c);
      }
      kappa[k] = log_weights_[k] - T(0.5) * (logdet + T(D) * log2pi);
    }
    simd::kernel::mixture_args<T> a;
    a.K = K, a.D = D, a.inv_c = inv_c, a.shift = shift, a.am = am, a.kappa = kappa, a.mu = mu_.data();
    a.u = full_ ? u_.data() : nullptr;
    a.ca = ca, a.cb = cb, a.score = Score, a.scratch = kappa + K;
#ifdef FERRY_SIMD_DISPATCH
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
      simd::kernels().of<T>().mixture_rows(a, x, rows, out);
    else
#endif
      simd::kernel::mixture_rows<T, xsimd::default_arch>(a, x, rows, out);
  }

  static T log_sum_exp(const std::vector<T>& v) {
    T m = -std::numeric_limits<T>::infinity();
    for (T a : v) m = std::max(m, a);
    if (!std::isfinite(m)) return m;
    T s = 0;
    for (T a : v) s += std::exp(a - m);
    return m + std::log(s);
  }

  void init_weights(std::vector<T> w, std::size_t k, const char* what) {
    if (w.empty()) throw shape_error("gaussian_mixture: no components");
    if (w.size() != k) throw shape_error(detail::cat("gaussian_mixture: ", w.size(), " ", what, " for ", k, " means"));
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

  void check_means() const {
    for (std::size_t k = 0; k < means_.size(); ++k) {
      if (std::size_t(means_[k].size()) != dim() || dim() == 0)
        throw shape_error(detail::cat("gaussian_mixture: means[", k, "] has ", means_[k].size(), " entries, expected ", dim()));
      for (Eigen::Index j = 0; j < means_[k].size(); ++j)
        if (!std::isfinite(means_[k][j]))
          throw domain_error(detail::cat("gaussian_mixture: means[", k, "][", j, "] = ", means_[k][j], "; must be finite"));
    }
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
        const T c = alpha * alpha * eigval_[k][Eigen::Index(j)] + sigma * sigma;  // eigenvalue of C_k
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

  // Row-wise posterior-mean vjp (data = true) or Hessian-vector product of log p_t (data = false).
  void jacobian_product(const_batch_view<T> x, T alpha, T sigma, const_batch_view<T> a, batch_view<T> out,
                        bool data) const {
    require_same_shape(x.shape(), a.shape(), "gaussian_mixture: vjp direction");
    require_same_shape(x.shape(), out.shape(), "gaussian_mixture: vjp output");
    check_dim(x.cols);
    std::vector<T> r;
    std::vector<vec> res;
    std::vector<vec> g(components());
    vec g_bar(dim()), acc(dim()), w(dim());
    for (std::size_t i = 0; i < x.rows; ++i) {
      const Eigen::Map<const vec> av(a.row(i).data(), Eigen::Index(dim()));
      responsibilities(x.row(i).data(), alpha, sigma, r, res);
      g_bar.setZero();
      for (std::size_t k = 0; k < components(); ++k) {
        g[k] = full_ ? vec(eigvec_[k] * res[k]) : res[k];  // g_k = C_k⁻¹(x − αμ_k)
        g_bar += r[k] * g[k];
      }
      acc.setZero();
      for (std::size_t k = 0; k < components(); ++k) {
        const vec c = (alpha * alpha * eigval_[k].array() + sigma * sigma).matrix();   // eigenvalues of C_k
        const vec ae = full_ ? vec(eigvec_[k].transpose() * av) : vec(av);
        if (data) {
          w = (alpha * eigval_[k].array() / c.array() * ae.array()).matrix();          // α C_k⁻¹Σ_k a
          if (full_) w = eigvec_[k] * w;
          vec shift = (eigval_[k].array() * res[k].array()).matrix();
          if (full_) shift = eigvec_[k] * shift;
          const T ma = (means_[k] + alpha * shift).dot(av);                              // m_k·a
          acc += r[k] * (w + ma * (g_bar - g[k]));
        } else {
          w = (ae.array() / c.array()).matrix();                                         // C_k⁻¹ a
          if (full_) w = eigvec_[k] * w;
          acc += r[k] * (g[k] * g[k].dot(av) - w);
        }
      }
      if (!data) acc -= g_bar * g_bar.dot(av);
      std::copy(acc.data(), acc.data() + dim(), out.row(i).data());
    }
  }

  std::vector<T> weights_, log_weights_;
  std::vector<vec> means_, eigval_;
  std::vector<mat> eigvec_;
  std::vector<T> mu_, u_;  // pack()
  bool full_ = false;
};

}  // namespace ferry

#ifdef FERRY_EXTERN_GAUSSIAN_MIXTURE
// Compiled once, in src/models/gaussian_mixture.cpp (the ferry_kernels library defines the macro).
extern template class ferry::gaussian_mixture<float>;
extern template class ferry::gaussian_mixture<double>;
#endif
