// Core vocabulary: batch views, prediction conversions, concepts, errors, the lincomb kernel.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/core/eigen.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/simd/lincomb.hpp"

namespace test_core {

using namespace ferry;

namespace {

// A conforming model, process and solver, and their near misses.
struct good_model {
  static constexpr prediction predicts = prediction::epsilon;
  void operator()(const_batch_view<double>, const level<double>&, batch_view<double>) const {}
};
struct model_without_kind {
  void operator()(const_batch_view<double>, const level<double>&, batch_view<double>) const {}
};
struct model_wrong_signature {
  static constexpr prediction predicts = prediction::data;
  void operator()(const_batch_view<double>) const {}
};
struct good_process {
  using value_type = double;
  double alpha(double) const { return 1; }
  double sigma(double t) const { return t; }
  double d_alpha(double) const { return 0; }
  double d_sigma(double) const { return 1; }
  double lambda(double t) const { return -std::log(t); }
  double t_of_lambda(double l) const { return std::exp(-l); }
  double t_min() const { return 0; }
  double t_max() const { return 80; }
};
struct process_without_inverse {
  using value_type = double;
  double alpha(double) const { return 1; }
  double sigma(double t) const { return t; }
};
struct good_solver {
  static constexpr int order = 1, evals_per_step = 1;
  void reset(extent) {}
};
struct solver_without_order {
  void reset(extent) {}
};

static_assert(model<good_model, double>);
static_assert(!model<model_without_kind, double>);
static_assert(!model<model_wrong_signature, double>);
static_assert(noise_process<good_process>);
static_assert(!noise_process<process_without_inverse>);
static_assert(solver_policy<good_solver>);
static_assert(!solver_policy<solver_without_order>);

constexpr prediction all_kinds[] = {prediction::epsilon, prediction::data, prediction::v, prediction::score,
                                    prediction::velocity};

// Applies a conversion to scalars.
double apply(prediction from, prediction to, const level<double>& lv, double x, double p) {
  const auto c = conversion(from, to, lv);
  return c.a * x + c.b * p;
}

}  // namespace

TEST_CASE("batch_view maps onto Eigen without copying", "[core]") {
  batch<double> b(3, 4);
  for (std::size_t i = 0; i < b.size(); ++i) b.data()[i] = double(i);
  batch_view<double> v = b.view();
  auto m = v.eigen();
  CHECK(m.data() == b.data());
  CHECK(m(2, 1) == 9.0);
  m(1, 3) = -1;
  CHECK(b(1, 3) == -1.0);
  const_batch_view<double> cv = v;
  CHECK(cv(1, 3) == -1.0);
  CHECK(cv.row(2)[0] == 8.0);
  CHECK(v.rows_slice(1, 2).data == b.data() + 4);

  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> e(2, 5);
  e.setConstant(7);
  batch_view<double> ev(e);
  CHECK(ev.rows == 2);
  CHECK(ev.cols == 5);
  CHECK(ev.data == e.data());
}

TEST_CASE("batch storage is 64-byte aligned and keeps its allocation", "[core]") {
  batch<float> b(5, 3);
  CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % 64 == 0);
  CHECK(b.shape() == extent{5, 3});
  const float* p = b.data();
  b.resize({3, 5});
  CHECK(b.data() == p);
  CHECK_THROWS_AS(require_same_shape({2, 3}, {3, 2}, "here"), shape_error);
  CHECK_THROWS_WITH(require_same_shape({2, 3}, {3, 2}, "here"), "here: shape 2x3 does not match 3x2");
}

TEST_CASE("prediction kinds round-trip exactly at random levels", "[core][prediction]") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.01, 3.0), n(-2.0, 2.0);
  for (int trial = 0; trial < 200; ++trial) {
    // Non-VP levels too: α, σ, α', σ' independent.
    level<double> lv = level<double>::make(u(rng), u(rng), 0.5, -u(rng), u(rng));
    const double x = n(rng), p = n(rng);
    for (prediction a : all_kinds)
      for (prediction b : all_kinds) {
        const double q = apply(a, b, lv, x, p);
        const double back = apply(b, a, lv, x, q);
        CHECK(back == Approx(p).margin(1e-12).epsilon(1e-12));
      }
  }
}

TEST_CASE("prediction conversions match their definitions", "[core][prediction]") {
  // Build x from a known (x0, ε) and check every kind against its formula.
  const double alpha = 0.6, sigma = 0.8, da = -1.3, ds = 0.7, x0 = 0.25, eps = -1.5;
  const level<double> lv = level<double>::make(alpha, sigma, 0.3, da, ds);
  const double x = alpha * x0 + sigma * eps;
  const double v = alpha * eps - sigma * x0, score = -eps / sigma, vel = da * x0 + ds * eps;
  CHECK(apply(prediction::data, prediction::epsilon, lv, x, x0) == Approx(eps).epsilon(1e-14));
  CHECK(apply(prediction::data, prediction::v, lv, x, x0) == Approx(v).epsilon(1e-14));
  CHECK(apply(prediction::data, prediction::score, lv, x, x0) == Approx(score).epsilon(1e-14));
  CHECK(apply(prediction::data, prediction::velocity, lv, x, x0) == Approx(vel).epsilon(1e-14));
  CHECK(apply(prediction::v, prediction::data, lv, x, v) == Approx(x0).epsilon(1e-14));
  CHECK(apply(prediction::velocity, prediction::epsilon, lv, x, vel) == Approx(eps).epsilon(1e-14));
  CHECK(apply(prediction::score, prediction::data, lv, x, score) == Approx(x0).epsilon(1e-14));
  CHECK(lv.lambda == Approx(std::log(0.6 / 0.8)));
}

TEST_CASE("prediction conversions at the ends alpha -> 0 and sigma -> 0", "[core][prediction]") {
  // σ = 0 (data end): x = x0, so data, v and velocity stay defined; ε and score do not.
  const level<double> data_end = level<double>::make(1.0, 0.0, 0.0, -1.0, 1.0);  // flow at t = 0
  CHECK(apply(prediction::velocity, prediction::data, data_end, 0.3, 0.9) == Approx(0.3));
  CHECK(apply(prediction::v, prediction::data, data_end, 0.3, 0.9) == Approx(0.3));
  CHECK(apply(prediction::epsilon, prediction::data, data_end, 0.3, 0.9) == Approx(0.3));
  CHECK_THROWS_AS(conversion(prediction::data, prediction::epsilon, data_end), domain_error);
  CHECK_THROWS_AS(conversion(prediction::data, prediction::score, data_end), domain_error);
  // α = 0 (pure noise): x = σε; ε is defined from anything, x0 only from data or v.
  const level<double> noise_end = level<double>::make(0.0, 1.0, 1.0, -1.0, 1.0);
  CHECK(apply(prediction::data, prediction::epsilon, noise_end, 0.4, 7.0) == Approx(0.4));
  CHECK(apply(prediction::v, prediction::data, noise_end, 0.4, -0.2) == Approx(0.2));
  CHECK_THROWS_AS(conversion(prediction::epsilon, prediction::data, noise_end), domain_error);
  CHECK_THROWS_WITH(conversion(prediction::epsilon, prediction::data, noise_end),
                    "cannot convert a epsilon prediction to data at alpha=0, sigma=1: the conversion divides by zero there");
  // Near the ends (1e-8) the conversions stay finite and round-trip.
  const level<double> near = level<double>::make(1.0, 1e-8);
  const double eps_near = apply(prediction::data, prediction::epsilon, near, 0.5, 0.1);
  CHECK(std::isfinite(eps_near));
  CHECK(apply(prediction::epsilon, prediction::data, near, 0.5, eps_near) == Approx(0.1).epsilon(1e-6));
}

TEST_CASE("parse_prediction accepts diffusers and ferry names", "[core][prediction]") {
  CHECK(parse_prediction("v_prediction") == prediction::v);
  CHECK(parse_prediction("sample") == prediction::data);
  CHECK(parse_prediction("epsilon") == prediction::epsilon);
  CHECK(parse_prediction("flow") == prediction::velocity);
  CHECK_THROWS_AS(parse_prediction("noise"), config_error);
}

TEST_CASE("convert applies the conversion to whole batches, in place too", "[core][prediction]") {
  batch<double> x(2, 3), p(2, 3), out(2, 3);
  for (std::size_t i = 0; i < 6; ++i) x.data()[i] = 0.1 * double(i), p.data()[i] = 1.0 - 0.2 * double(i);
  const level<double> lv = level<double>::make(0.8, 0.6);
  convert<double>(prediction::epsilon, prediction::data, lv, x.view(), p.view(), out.view());
  for (std::size_t i = 0; i < 6; ++i) CHECK(out.data()[i] == Approx((x.data()[i] - 0.6 * p.data()[i]) / 0.8));
  convert<double>(prediction::epsilon, prediction::data, lv, x.view(), p.view(), p.view());
  for (std::size_t i = 0; i < 6; ++i) CHECK(p.data()[i] == Approx(out.data()[i]).epsilon(1e-15));
}

TEST_CASE("lincomb equals the scalar sum and its tail does not depend on the split", "[core][simd]") {
  for (std::size_t n : {1u, 3u, 7u, 8u, 17u, 64u, 1001u}) {
    std::vector<double> a(n), b(n), c(n), out(n), ref(n);
    for (std::size_t i = 0; i < n; ++i) a[i] = std::sin(double(i)), b[i] = std::cos(double(i)), c[i] = 1.0 / double(i + 1);
    simd::lincomb<double, 3>(out, {0.5, -1.25, 3.0}, {a.data(), b.data(), c.data()});
    for (std::size_t i = 0; i < n; ++i) ref[i] = 0.5 * a[i] - 1.25 * b[i] + 3.0 * c[i];
    for (std::size_t i = 0; i < n; ++i) CHECK(out[i] == Approx(ref[i]).epsilon(1e-15).margin(1e-15));
    // The same elements computed in two chunks give the same bits.
    const std::size_t cut = n / 3;
    std::vector<double> chunked(n);
    simd::lincomb<double, 3>(std::span<double>(chunked.data(), cut), {0.5, -1.25, 3.0}, {a.data(), b.data(), c.data()});
    simd::lincomb<double, 3>(std::span<double>(chunked.data() + cut, n - cut), {0.5, -1.25, 3.0},
                             {a.data() + cut, b.data() + cut, c.data() + cut});
    CHECK(chunked == out);
  }
}

TEST_CASE("lincomb may write over one of its inputs", "[core][simd]") {
  std::vector<float> x{1, 2, 3, 4, 5}, y{10, 20, 30, 40, 50};
  simd::lincomb<float, 2>(x, {2.f, 0.5f}, {x.data(), y.data()});
  CHECK(x == std::vector<float>{7, 14, 21, 28, 35});
  std::vector<double> s{3, 4};
  CHECK(simd::sum_squares<double>(s) == 25.0);
}

TEST_CASE("errors derive from ferry::error and carry one-line messages", "[core]") {
  try {
    throw config_error(detail::cat("cfg.json: \"beta_schedule\" is \"foo\"; expected linear"));
  } catch (const error& e) {
    const std::string msg = e.what();
    CHECK(msg == "cfg.json: \"beta_schedule\" is \"foo\"; expected linear");
    CHECK(msg.find('\n') == std::string::npos);
  }
  CHECK_THROWS_AS(throw io_error("x"), error);
  CHECK_THROWS_AS(throw numeric_error("x"), std::runtime_error);
}

TEST_CASE("ferry.hpp includes every public header", "[core]") {
  // The library's tree beside the test data; detail/ headers are internal and ferry.hpp itself is the list.
  const std::filesystem::path include_dir = std::filesystem::path(FERRY_TEST_DATA) / ".." / ".." / "include";
  std::ifstream in(include_dir / "ferry" / "ferry.hpp");
  REQUIRE(in);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t headers = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(include_dir / "ferry")) {
    const std::string rel = std::filesystem::relative(e.path(), include_dir).generic_string();
    if (e.path().extension() != ".hpp" || rel.find("/detail/") != std::string::npos || rel == "ferry/ferry.hpp") continue;
    ++headers;
    INFO(rel);
    CHECK(all.find("#include \"" + rel + "\"") != std::string::npos);
  }
  CHECK(headers > 50);
}

}  // namespace test_core
