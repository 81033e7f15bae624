#include "demo_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ferry::cli::demo {

double wasserstein1_sorted(const std::vector<double>& a, const std::vector<double>& b) {
  std::size_t i = 0, j = 0;
  double w = 0, prev = std::min(a.front(), b.front());
  while (i < a.size() || j < b.size()) {
    const bool take_a = j == b.size() || (i < a.size() && a[i] <= b[j]);
    const double t = take_a ? a[i] : b[j];
    w += std::abs(double(i) / double(a.size()) - double(j) / double(b.size())) * (t - prev);
    prev = t;
    (take_a ? i : j) += 1;
  }
  return w;
}

namespace {
/// The projections of the rows of x on direction k, sorted.
std::vector<double> project(const batch<double>& x, std::size_t k) {
  const double th = std::numbers::pi * (double(k) + 0.5) / double(directions), c = std::cos(th), s = std::sin(th);
  std::vector<double> p(x.rows());
  for (std::size_t i = 0; i < x.rows(); ++i) p[i] = c * x(i, 0) + s * x(i, 1);
  std::sort(p.begin(), p.end());
  return p;
}
}  // namespace

sliced_w1::sliced_w1(const batch<double>& ref) : proj_(directions) {
  for (std::size_t k = 0; k < directions; ++k) proj_[k] = project(ref, k);
}

double sliced_w1::operator()(const batch<double>& x) const {
  double total = 0;
  for (std::size_t k = 0; k < directions; ++k) total += wasserstein1_sorted(project(x, k), proj_[k]);
  return total / double(directions);
}

double mean_nll(const gaussian_mixture<double>& gmm, const batch<double>& x) {
  double s = 0;
  for (std::size_t i = 0; i < x.rows(); ++i) s -= gmm.log_prob(x.view().row(i).data(), 1.0, 0.0);
  return s / double(x.rows());
}

double rms_distance(const batch<double>& a, const batch<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (a.data()[i] - b.data()[i]) * (a.data()[i] - b.data()[i]);
  return std::sqrt(s / double(a.rows()));
}

std::size_t sequence_index(const std::int32_t* x, std::size_t length, std::size_t vocab) {
  std::size_t k = 0;
  for (std::size_t l = length; l-- > 0;) k = k * vocab + std::size_t(x[l]);
  return k;
}

double total_variation(const std::vector<double>& p0, const std::vector<std::int32_t>& tokens, std::size_t length, std::size_t vocab) {
  std::vector<double> q(p0.size(), 0.0);
  const std::size_t rows = tokens.size() / length;
  for (std::size_t i = 0; i < rows; ++i) q[sequence_index(tokens.data() + i * length, length, vocab)] += 1.0 / double(rows);
  double tv = 0;
  for (std::size_t k = 0; k < p0.size(); ++k) tv += 0.5 * std::abs(p0[k] - q[k]);
  return tv;
}

}  // namespace ferry::cli::demo
