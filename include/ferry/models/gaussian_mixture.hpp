#pragma once
// An exactly known data distribution: a Gaussian mixture p0 = Σ_k w_k N(μ_k, Σ_k), diagonal or
// full covariance. Under x_t = α·x0 + σ·ε every marginal is again a mixture,
//
//   p_t(x) = Σ_k w_k N(x; α μ_k, C_k),           C_k = α² Σ_k + σ² I
//   ∇log p_t(x) = −Σ_k r_k C_k⁻¹ (x − α μ_k),     r_k ∝ w_k N(x; α μ_k, C_k)   (responsibilities)
//   E[x0 | x_t = x] = Σ_k r_k (μ_k + α Σ_k C_k⁻¹ (x − α μ_k))
//
// so it answers every prediction kind exactly: the reference "network" of every test.
// Full covariances are diagonalised once, Σ_k = U_k diag(s_k) U_kᵀ, so C_k⁻¹ costs nothing per level.
#include <Eigen/Dense>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/io/read_file.hpp"

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
      if (!c.isApprox(c.transpose(), T(1e-12)))
        throw domain_error(detail::cat("gaussian_mixture: covs[", k, "] is not symmetric"));
      Eigen::SelfAdjointEigenSolver<mat> es(c);
      if (!(es.eigenvalues().minCoeff() > 0))
        throw domain_error(detail::cat("gaussian_mixture: covs[", k, "] is not positive definite (smallest eigenvalue ",
                                       es.eigenvalues().minCoeff(), ")"));
      g.eigval_.push_back(es.eigenvalues());
      g.eigvec_.push_back(es.eigenvectors());
    }
    g.full_ = true;
    return g;
  }

  /// From JSON {"weights": [K], "means": [K][D], "stds": [K][D]} or with "covs": [K][D][D].
  static gaussian_mixture from_json(const nlohmann::json& j, const std::string& where = "gmm") {
    auto need = [&](const char* key) -> const nlohmann::json& {
      if (!j.is_object() || !j.contains(key))
        throw config_error(detail::cat(where, ": missing key \"", key, "\""));
      return j.at(key);
    };
    try {
      auto weights = need("weights").template get<std::vector<T>>();
      std::vector<vec> means;
      for (const auto& m : need("means")) means.push_back(to_vec(m.template get<std::vector<T>>()));
      const bool has_stds = j.contains("stds"), has_covs = j.contains("covs");
      if (has_stds == has_covs)
        throw config_error(detail::cat(where, ": give exactly one of \"stds\" (diagonal) or \"covs\" (full)"));
      if (has_stds) {
        std::vector<vec> stds;
        for (const auto& s : j.at("stds")) stds.push_back(to_vec(s.template get<std::vector<T>>()));
        return diagonal(std::move(weights), std::move(means), std::move(stds));
      }
      std::vector<mat> covs;
      for (const auto& c : j.at("covs")) {
        const auto rows = c.template get<std::vector<std::vector<T>>>();
        mat m(Eigen::Index(rows.size()), Eigen::Index(rows.empty() ? 0 : rows[0].size()));
        for (std::size_t r = 0; r < rows.size(); ++r) {
          if (rows[r].size() != std::size_t(m.cols()))
            throw shape_error(detail::cat(where, ": a row of \"covs\" has ", rows[r].size(), " entries, expected ", m.cols()));
          for (std::size_t q = 0; q < rows[r].size(); ++q) m(Eigen::Index(r), Eigen::Index(q)) = rows[r][q];
        }
        covs.push_back(std::move(m));
      }
      return full(std::move(weights), std::move(means), std::move(covs));
    } catch (const nlohmann::json::exception& e) {
      throw config_error(detail::cat(where, ": ", detail::escape(e.what())));
    } catch (const error& e) {
      const std::string msg = e.what();
      if (msg.rfind(where, 0) == 0) throw;
      throw config_error(detail::cat(where, ": ", msg));
    }
  }

  /// Reads a JSON file of the format above.
  static gaussian_mixture load(const std::string& path) {
    const std::string where = detail::escape(path);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(io::read_file(path, "a Gaussian-mixture JSON object"));
    } catch (const nlohmann::json::exception& e) {
      throw io_error(detail::cat(where, ": not valid JSON: ", detail::escape(e.what())));
    }
    return from_json(j, where);
  }

  std::size_t components() const { return weights_.size(); }
  std::size_t dim() const { return means_.empty() ? 0 : std::size_t(means_[0].size()); }
  bool is_full() const { return full_; }
  const std::vector<T>& weights() const { return weights_; }
  const vec& mean(std::size_t k) const { return means_[k]; }

  /// The model call: the prediction of kind `predicts` for each row of x at level lv.
  void operator()(const_batch_view<T> x, const level<T>& lv, batch_view<T> out) const {
    require_same_shape(x.shape(), out.shape(), "gaussian_mixture");
    check_dim(x.cols);
    const auto c = conversion(prediction::data, predicts, lv);  // out = a·x + b·x̂0; row by row, so out may alias x
    vec row_out(dim());
    for (std::size_t i = 0; i < x.rows; ++i) {
      posterior_mean_row(x.row(i).data(), lv.alpha, lv.sigma, row_out.data());
      for (std::size_t j = 0; j < x.cols; ++j) out(i, j) = c.a * x(i, j) + c.b * row_out[Eigen::Index(j)];
    }
  }

  /// E[x0 | x_t = x] for each row.
  void posterior_mean(const_batch_view<T> x, T alpha, T sigma, batch_view<T> out) const {
    require_same_shape(x.shape(), out.shape(), "gaussian_mixture::posterior_mean");
    check_dim(x.cols);
    vec tmp(dim());
    for (std::size_t i = 0; i < x.rows; ++i) {
      posterior_mean_row(x.row(i).data(), alpha, sigma, tmp.data());
      std::copy(tmp.data(), tmp.data() + dim(), out.row(i).data());
    }
  }

  /// ∇log p_t(x) for each row.
  void score(const_batch_view<T> x, T alpha, T sigma, batch_view<T> out) const {
    require_same_shape(x.shape(), out.shape(), "gaussian_mixture::score");
    check_dim(x.cols);
    vec tmp(dim());
    for (std::size_t i = 0; i < x.rows; ++i) {
      score_row(x.row(i).data(), alpha, sigma, tmp.data());
      std::copy(tmp.data(), tmp.data() + dim(), out.row(i).data());
    }
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
    const Eigen::Map<const vec> xv(x, Eigen::Index(dim()));
    const T log2pi = std::log(2 * std::numbers::pi_v<T>);
    for (std::size_t k = 0; k < components(); ++k) {
      vec r = xv - alpha * means_[k];
      if (full_) r = eigvec_[k].transpose() * r;                        // eigen-coordinates
      const vec c = (alpha * alpha * eigval_[k].array() + sigma * sigma).matrix();  // eigenvalues of C_k
      T quad = 0, logdet = 0;
      for (Eigen::Index j = 0; j < r.size(); ++j) {
        quad += r[j] * r[j] / c[j];
        logdet += std::log(c[j]);
      }
      lp[k] = log_weights_[k] - T(0.5) * (quad + logdet + T(r.size()) * log2pi);
      if (res) {
        (*res)[k] = (r.array() / c.array()).matrix();                  // C_k⁻¹ r in eigen-coordinates
      }
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

  void posterior_mean_row(const T* x, T alpha, T sigma, T* out) const {
    std::vector<T> r;
    std::vector<vec> res;
    responsibilities(x, alpha, sigma, r, res);
    vec acc = vec::Zero(Eigen::Index(dim()));
    for (std::size_t k = 0; k < components(); ++k) {
      // μ_k + α Σ_k C_k⁻¹ (x − αμ_k): in eigen-coordinates Σ_k C_k⁻¹ is diag(s_k) · (C_k⁻¹ r)
      vec shift = (eigval_[k].array() * res[k].array()).matrix();
      if (full_) shift = eigvec_[k] * shift;
      acc += r[k] * (means_[k] + alpha * shift);
    }
    std::copy(acc.data(), acc.data() + dim(), out);
  }

  void score_row(const T* x, T alpha, T sigma, T* out) const {
    std::vector<T> r;
    std::vector<vec> res;
    responsibilities(x, alpha, sigma, r, res);
    vec acc = vec::Zero(Eigen::Index(dim()));
    for (std::size_t k = 0; k < components(); ++k) {
      vec g = res[k];
      if (full_) g = eigvec_[k] * g;
      acc -= r[k] * g;
    }
    std::copy(acc.data(), acc.data() + dim(), out);
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
  bool full_ = false;
};

}  // namespace ferry
