// The vectorised Gaussian-mixture batch kernel: exact against a long-double evaluation of the
// definition, bitwise independent of where a row sits in the batch (any chunking), float within
// float rounding of double, and allocation-free per call.
#include <cmath>
#include <random>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "ferry/models/gaussian_mixture.hpp"

namespace test_gmm_kernel {

using namespace ferry;

namespace {
template <class T>
gaussian_mixture<T> diag_mixture() { return gaussian_mixture<T>::load(FERRY_TEST_DATA "/diffusion/gmm.json"); }

template <class T>
gaussian_mixture<T> full_mixture() {
  using mat = typename gaussian_mixture<T>::mat;
  using vec = typename gaussian_mixture<T>::vec;
  mat a(3, 3), b(3, 3);
  a << 0.5, 0.1, 0.0, 0.1, 0.3, 0.05, 0.0, 0.05, 0.2;
  b << 0.2, -0.08, 0.02, -0.08, 0.4, 0.0, 0.02, 0.0, 0.1;
  vec m1(3), m2(3);
  m1 << 1, 0, -1;
  m2 << -0.5, 1, 0.5;
  return gaussian_mixture<T>::full({T(0.4), T(0.6)}, {m1, m2}, {a, b});
}

template <class T>
batch<T> points(std::size_t rows, std::size_t dim, unsigned seed) {
  batch<T> x(rows, dim);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n(0, 1.5);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = T(n(rng));
  return x;
}

// E[x0 | x_t = x] of the diagonal mixture straight from the definition, in long double.
std::vector<long double> posterior_mean_ld(const std::vector<double>& w, const std::vector<std::vector<double>>& mu,
                                           const std::vector<std::vector<double>>& sd, const double* x, double a, double s) {
  const std::size_t K = w.size(), D = mu[0].size();
  std::vector<long double> lp(K), out(D, 0.0L);
  long double m = -INFINITY;
  for (std::size_t k = 0; k < K; ++k) {
    long double l = std::log((long double)w[k]);
    for (std::size_t j = 0; j < D; ++j) {
      const long double c = (long double)a * a * sd[k][j] * sd[k][j] + (long double)s * s, r = x[j] - (long double)a * mu[k][j];
      l -= 0.5L * (r * r / c + std::log(2 * 3.14159265358979323846264338327950288L * c));
    }
    lp[k] = l;
    m = std::max(m, l);
  }
  long double z = 0;
  for (auto& l : lp) z += (l = std::exp(l - m));
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t j = 0; j < D; ++j) {
      const long double v = (long double)sd[k][j] * sd[k][j], c = (long double)a * a * v + (long double)s * s;
      out[j] += lp[k] / z * (mu[k][j] + a * v / c * (x[j] - (long double)a * mu[k][j]));
    }
  return out;
}
}  // namespace

TEST_CASE("gmm batch posterior mean equals the long-double definition", "[models][gmm-kernel]") {
  const auto g = diag_mixture<double>();
  const std::vector<double> w = g.weights();
  const std::vector<std::vector<double>> mu = {{-1, -1}, {1, -1}, {0, 1.2}, {-1.2, 0.6}, {1.1, 0.9}},
                                         sd = {{0.15, 0.15}, {0.1, 0.3}, {0.3, 0.08}, {0.05, 0.05}, {0.2, 0.2}};
  const auto x = points<double>(37, 2, 5);
  batch<double> out(37, 2);
  double worst = 0;
  for (auto [a, s] : {std::pair{1.0, 0.02}, {0.8, 0.6}, {0.05, 0.9987}, {1.0, 0.0}}) {
    g.posterior_mean(x.view(), a, s, out.view());
    for (std::size_t i = 0; i < x.rows(); ++i) {
      const auto ref = posterior_mean_ld(w, mu, sd, x.view().row(i).data(), a, s);
      for (std::size_t j = 0; j < 2; ++j) worst = std::max(worst, double(std::abs(out(i, j) - ref[j])));
    }
  }
  CHECK(worst < 1e-13);
}

TEMPLATE_TEST_CASE("gmm batch calls are bitwise independent of the chunking", "[models][gmm-kernel]", float, double) {
  for (const auto& g : {diag_mixture<TestType>(), full_mixture<TestType>()}) {
    const std::size_t n = 29;
    const auto x = points<TestType>(n, g.dim(), 11);
    const auto lv = level<TestType>::make(TestType(0.7), TestType(0.714));
    for (const auto kind : {prediction::data, prediction::epsilon, prediction::score}) {
      auto m = g;
      m.predicts = kind;
      batch<TestType> whole(n, g.dim()), parts(n, g.dim());
      m(x.view(), lv, whole.view());
      for (std::size_t first = 0; first < n;) {  // uneven chunks: 1, 2, 3, … rows at odd offsets
        const std::size_t count = std::min(n - first, first % 5 + 1);
        m(const_batch_view<TestType>(x.view().rows_slice(first, count)), lv, parts.view().rows_slice(first, count));
        first += count;
      }
      CHECK(std::equal(whole.data(), whole.data() + whole.size(), parts.data()));
      batch<TestType> inplace = x;  // out may alias x
      m(inplace.view(), lv, inplace.view());
      CHECK(std::equal(whole.data(), whole.data() + whole.size(), inplace.data()));
    }
  }
}

TEST_CASE("gmm float batch calls agree with double to float rounding", "[models][gmm-kernel]") {
  const auto gd = diag_mixture<double>();
  const auto gf = diag_mixture<float>();
  const auto xd = points<double>(64, 2, 2);
  batch<float> xf(64, 2);
  for (std::size_t i = 0; i < xd.size(); ++i) xf.data()[i] = float(xd.data()[i]);
  batch<double> od(64, 2);
  batch<float> of(64, 2);
  double worst = 0;
  for (auto [a, s] : {std::pair{0.9, 0.43}, {0.3, 0.95}}) {
    std::vector<double> xr(xf.data(), xf.data() + xf.size());
    gd.posterior_mean(const_batch_view<double>(xr.data(), 64, 2), a, s, od.view());
    gf.posterior_mean(xf.view(), float(a), float(s), of.view());
    for (std::size_t i = 0; i < od.size(); ++i) worst = std::max(worst, std::abs(double(of.data()[i]) - od.data()[i]));
  }
  CHECK(worst < 1e-5);
}

TEST_CASE("gmm model calls do not allocate", "[models][gmm-kernel][alloc]") {
  const auto gd = diag_mixture<double>();
  const auto gf = full_mixture<float>();
  const auto xd = points<double>(101, 2, 1);
  const auto xf = points<float>(101, 3, 1);
  batch<double> od(101, 2);
  batch<float> of(101, 3);
  ferry_test::count_allocations counter;
  gd(xd.view(), level<double>::make(0.8, 0.6), od.view());
  gd.score(xd.view(), 0.8, 0.6, od.view());
  gf(xf.view(), level<float>::make(0.8f, 0.6f), of.view());
  CHECK(counter.count() == 0);
}

}  // namespace test_gmm_kernel
