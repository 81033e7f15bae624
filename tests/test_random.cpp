// The keyed random layer: Random123's published Philox answers, keying that ignores how a run is
// split, the law of the normals (moments, Kolmogorov–Smirnov), the virtual Brownian tree, and the
// driver's bitwise-equal results over chunk sizes and thread counts.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "catch.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/random/brownian_tree.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/random/philox.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"
#include "ferry/solvers/ode/euler.hpp"
#include "ferry/solvers/ode/heun.hpp"
#include "ferry/solvers/ode/unipc.hpp"
#include "test_support.hpp"

namespace test_random {

using namespace ferry;

namespace {

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// Kolmogorov–Smirnov statistic of v (sorted in place) against cdf.
template <class Cdf>
double ks_statistic(std::vector<double>& v, Cdf cdf) {
  std::sort(v.begin(), v.end());
  const double n = double(v.size());
  double d = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double f = cdf(v[i]);
    d = std::max({d, f - double(i) / n, double(i + 1) / n - f});
  }
  return d;
}

// A minimal stochastic solver for the driver tests: x ← x + 0.1·z_step (z keyed per step and row).
struct noise_kick {
  static constexpr int order = 1, evals_per_step = 0;
  static constexpr bool stochastic = true;
  batch<double> z;
  void reset(extent e) { z.resize(e); }
  template <class P>
  void step(P& p, const step_span<double>& s, batch_view<double> x) {
    p.normal(s.index, 0, z.view());
    simd::lincomb<double, 2>(x.span(), {1.0, 0.1}, {x.data, z.data()});
  }
};

}  // namespace

TEST_CASE("Philox-4x32-10 reproduces Random123's known-answer vectors", "[random]") {
  // kat_vectors of Random123 1.14: philox4x32 10 rounds (counter words, key words → output words).
  using gen = r123::Philox4x32;
  const gen::ctr_type c0 = {{0, 0, 0, 0}}, c1 = {{~0u, ~0u, ~0u, ~0u}},
                      c2 = {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}};
  const gen::key_type k0 = {{0, 0}}, k1 = {{~0u, ~0u}}, k2 = {{0xa4093822, 0x299f31d0}};
  CHECK(gen{}(c0, k0) == gen::ctr_type{{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}});
  CHECK(gen{}(c1, k1) == gen::ctr_type{{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}});
  CHECK(gen{}(c2, k2) == gen::ctr_type{{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}});
  // ferry's keying: the seed's low and high words are the key, the counter is (block, row, step, stream).
  const std::uint64_t seed = (std::uint64_t(0x299f31d0) << 32) | 0xa4093822;
  CHECK(random::philox(seed, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}) ==
        random::bits128{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("vectorised Philox and normals give the bits of the one-block definition", "[random]") {
  // philox_many (SIMD lanes, the AVX2 path where the CPU has it, the scalar tail) against philox().
  for (std::uint64_t seed : {std::uint64_t(0), std::uint64_t(7), (std::uint64_t(0x299f31d0) << 32) | 0xa4093822, ~std::uint64_t(0)})
    for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(3), std::size_t(8), std::size_t(13), std::size_t(64), std::size_t(67)}) {
      std::vector<std::uint32_t> c0(n), c1(n), r0(n), r1(n), r2(n), r3(n);
      for (std::size_t i = 0; i < n; ++i) c0[i] = std::uint32_t(i * 2654435761u), c1[i] = std::uint32_t(~i);
      random::philox_many(seed, c0.data(), c1.data(), 5, 0xFFFFFFFFu, r0.data(), r1.data(), r2.data(), r3.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        INFO("seed " << seed << ", n " << n << ", block " << i);
        REQUIRE(random::bits128{r0[i], r1[i], r2[i], r3[i]} == random::philox(seed, {c0[i], c1[i], 5, 0xFFFFFFFFu}));
      }
    }
  // fill_normal: element (i, 2b + e) is Box–Muller of block b's two uniforms, bit for bit, for odd
  // and even widths and rows that straddle the 64-block gathers; and Box–Muller in std:: functions
  // to rounding.
  for (std::size_t d : {std::size_t(1), std::size_t(2), std::size_t(5), std::size_t(64), std::size_t(129)}) {
    batch<double> z(77, d);
    random::fill_normal<double>(11, z.view(), 1000, 4, 2);
    double worst = 0;
    for (std::size_t i = 0; i < z.rows(); ++i)
      for (std::size_t b = 0; b < (d + 1) / 2; ++b) {
        const random::bits128 r = random::philox(11, {std::uint32_t(b), std::uint32_t(1000 + i), 4, 2});
        alignas(64) double u1[8] = {}, u2[8] = {}, z0[8], z1[8];
        std::fill(u1, u1 + 8, 0.5), std::fill(u2, u2 + 8, 0.5);
        u1[0] = random::uniform_open(r[0], r[1]);
        u2[0] = random::uniform_open(r[2], r[3]);
        random::detail::box_muller(u1, u2, z0, z1, xsimd::batch<double>::size);
        INFO("d " << d << ", row " << i << ", block " << b);
        REQUIRE(z(i, 2 * b) == z0[0]);
        if (2 * b + 1 < d) REQUIRE(z(i, 2 * b + 1) == z1[0]);
        const double rad = std::sqrt(-2 * std::log(u1[0])), ang = 2 * std::numbers::pi * u2[0];
        worst = std::max({worst, std::abs(z0[0] - rad * std::cos(ang)), std::abs(z1[0] - rad * std::sin(ang))});
      }
    CHECK(worst < 1e-14);
  }
}

TEST_CASE("keyed normals depend only on (seed, row, step, stream, element)", "[random]") {
  const std::size_t n = 1000, d = 5;
  batch<double> all(n, d);
  random::fill_normal<double>(7, all.view(), 0, 3);
  // Sample i of a batch of 1000 equals sample i drawn alone, and any slice with its offset.
  for (std::size_t i : {0, 1, 499, 999}) {
    batch<double> one(1, d);
    random::fill_normal<double>(7, one.view(), i, 3);
    for (std::size_t j = 0; j < d; ++j) CHECK(one(0, j) == all(i, j));
  }
  batch<double> slice(37, d);
  random::fill_normal<double>(7, slice.view(), 400, 3);
  for (std::size_t i = 0; i < 37; ++i)
    for (std::size_t j = 0; j < d; ++j) REQUIRE(slice(i, j) == all(400 + i, j));
  // Element j of a row does not depend on the row's length.
  batch<double> wide(3, 11);
  random::fill_normal<double>(7, wide.view(), 0, 3);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < d; ++j) CHECK(wide(i, j) == all(i, j));
  // float states get the double normals rounded.
  batch<float> f(n, d);
  random::fill_normal<float>(7, f.view(), 0, 3);
  for (std::size_t i = 0; i < n * d; ++i) REQUIRE(f.data()[i] == float(all.data()[i]));
  // Another step, stream or seed is another array.
  for (auto [seed, step, stream] : {std::tuple{8u, 3u, 0u}, {7u, 4u, 0u}, {7u, 3u, 1u}}) {
    batch<double> other(n, d);
    random::fill_normal<double>(seed, other.view(), 0, step, stream);
    double dot = 0;
    for (std::size_t i = 0; i < n * d; ++i) dot += other.data()[i] * all.data()[i];
    CHECK(std::abs(dot / double(n * d)) < 4 / std::sqrt(double(n * d)));  // uncorrelated: |r| < 4 standard errors
  }
  CHECK_THROWS_AS(random::fill_normal<double>(7, all.view(), (std::uint64_t(1) << 32) - 10, 0), domain_error);
}

TEST_CASE("keyed normals are standard normal: moments and Kolmogorov–Smirnov", "[random]") {
  const std::size_t n = std::size_t(1) << 18;
  batch<double> z(n / 6, 6);  // rows of 6: three Philox blocks per row
  random::fill_normal<double>(2024, z.view(), 0, 0);
  std::vector<double> v(z.data(), z.data() + z.size());
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  for (double x : v) m1 += x, m2 += x * x, m3 += x * x * x, m4 += x * x * x * x;
  const double N = double(v.size());
  m1 /= N, m2 /= N, m3 /= N, m4 /= N;
  // Standard errors of the sample moments of N(0, 1): mean 1/√N, E z² √(2/N), E z³ √(15/N), E z⁴ √(96/N).
  CHECK(std::abs(m1) < 4 / std::sqrt(N));
  CHECK(std::abs(m2 - 1) < 4 * std::sqrt(2 / N));
  CHECK(std::abs(m3) < 4 * std::sqrt(15 / N));
  CHECK(std::abs(m4 - 3) < 4 * std::sqrt(96 / N));
  // KS: the 0.1% critical value of √N·D is 1.95.
  const double d = ks_statistic(v, normal_cdf);
  INFO("sqrt(N) * D = " << std::sqrt(N) * d);
  CHECK(std::sqrt(N) * d < 1.95);

  std::vector<double> u(1 << 16);
  random::fill_uniform(5, u, 9, 1, random::streams::categorical);
  for (std::size_t i = 0; i < u.size(); i += 777) CHECK(u[i] == random::uniform_at(5, 9, 1, random::streams::categorical, i));
  CHECK(*std::min_element(u.begin(), u.end()) > 0);
  CHECK(*std::max_element(u.begin(), u.end()) < 1);
  std::vector<double> tail(5);
  random::fill_uniform(5, tail, 9, 1, random::streams::categorical, 101);  // an odd start
  for (std::size_t i = 0; i < 5; ++i) CHECK(tail[i] == u[101 + i]);
  CHECK(std::sqrt(double(u.size())) * ks_statistic(u, [](double x) { return x; }) < 1.95);
}

TEST_CASE("the virtual Brownian tree: consistent, W(t0) = 0, independent N(0, dt) increments", "[random][brownian]") {
  const std::size_t n = 20000;
  random::brownian_tree<double> tree(11, 0, 0.0, 2.0);
  tree.reset({n, 1});
  batch<double> a(n, 1), b(n, 1), c(n, 1), again(n, 1);
  tree.value(0.0, a.view());
  CHECK(std::all_of(a.data(), a.data() + n, [](double v) { return v == 0; }));
  tree.value(0.7, a.view());
  tree.value(1.9, b.view());
  tree.value(0.7, again.view());  // re-query after another point: the same path
  CHECK(ferry_test::max_abs_diff(a, again) == 0);

  // Increments over [0.2, 0.5], [0.5, 1.3], [1.3, 1.31]: variance Δt, uncorrelated.
  const double t[] = {0.2, 0.5, 1.3, 1.31};
  std::vector<batch<double>> w;
  for (double ti : t) {
    w.emplace_back(n, 1);
    tree.value(ti, w.back().view());
  }
  std::vector<std::vector<double>> inc(3, std::vector<double>(n));
  for (int k = 0; k < 3; ++k)
    for (std::size_t i = 0; i < n; ++i) inc[k][i] = (w[k + 1].data()[i] - w[k].data()[i]) / std::sqrt(t[k + 1] - t[k]);
  for (int k = 0; k < 3; ++k) {
    double m = 0, v = 0;
    for (double x : inc[k]) m += x, v += x * x;
    m /= double(n), v /= double(n);
    INFO("increment " << k << ": mean " << m << ", variance/dt " << v);
    CHECK(std::abs(m) < 4 / std::sqrt(double(n)));
    CHECK(std::abs(v - 1) < 4 * std::sqrt(2.0 / double(n)));
    std::vector<double> s = inc[k];
    CHECK(std::sqrt(double(n)) * ks_statistic(s, normal_cdf) < 1.95);
  }
  for (int k = 0; k < 3; ++k)
    for (int l = k + 1; l < 3; ++l) {
      const double r = std::inner_product(inc[k].begin(), inc[k].end(), inc[l].begin(), 0.0) / double(n);
      INFO("corr(" << k << ", " << l << ") = " << r);
      CHECK(std::abs(r) < 4 / std::sqrt(double(n)));
    }
  // increment() is W(tb) − W(ta), either direction, and a row slice sees the same path.
  batch<double> tmp(n, 1), d(n, 1);
  tree.increment(1.3, 0.5, d.view(), tmp.view());
  for (std::size_t i = 0; i < n; i += 997) CHECK(d.data()[i] == Approx(w[1].data()[i] - w[2].data()[i]).margin(1e-15));
  random::brownian_tree<double> shifted(11, 500, 0.0, 2.0);
  shifted.reset({10, 1});
  batch<double> ten(10, 1);
  shifted.value(0.7, ten.view());
  for (std::size_t i = 0; i < 10; ++i) CHECK(ten.data()[i] == a.data()[500 + i]);
  CHECK_THROWS_AS(random::brownian_tree<double>(1, 0, 1.0, 1.0), domain_error);
}

TEST_CASE("the driver gives the same bits for any chunk size and thread count", "[random][driver]") {
  const auto g = gaussian_mixture<double>::load(ferry_test::reference_dir + "gmm.json");
  const edm<double> process;
  const auto sched = make_schedule(make_grid(process, grid_spec<double>{.kind = grid_kind::karras, .steps = 12}));
  const std::size_t n = 300;
  batch<double> z(n, g.dim());
  random::fill_normal<double>(1, z.view(), 0, random::initial_noise_step);

  auto run = [&](auto solver, sample_options opt) {
    batch<double> x = z;
    gaussian_mixture<double> m = g;
    pf_ode<edm<double>, gaussian_mixture<double>, no_transform, keyed_noise> p(process, m, {}, keyed_noise{42});
    simd::lincomb<double, 1>(x.view().span(), {sched.points.front().sigma}, {x.data()});
    sample(p, sched, solver, x.view(), no_observer{}, opt);
    return x;
  };
  auto same_bits = [](const batch<double>& a, const batch<double>& b) {
    return std::equal(a.data(), a.data() + a.size(), b.data());
  };
  auto check_chunking = [&](const char* name, auto solver) {
    const batch<double> ref = run(solver, {});
    for (std::size_t chunk : {std::size_t(1), std::size_t(7), std::size_t(64), n})
      for (int threads : {1, 2}) {
        INFO(name << ", chunk " << chunk << ", threads " << threads);
        CHECK(same_bits(run(solver, {.threads = threads, .chunk_rows = chunk}), ref));
      }
  };
  // A multistep history, a two-stage RK and a predictor–corrector (not with_solver: it would build all of them).
  check_chunking("dpmpp-2m", dpmpp_multistep<2, double>{});
  check_chunking("heun", heun<double>{});
  check_chunking("unipc", unipc<2, double>{});
  // Keyed step noise through chunks: each row's draws follow its global index.
  const batch<double> ref = run(noise_kick{}, {});
  for (std::size_t chunk : {std::size_t(1), std::size_t(7), std::size_t(64)})
    CHECK(same_bits(run(noise_kick{}, {.threads = 2, .chunk_rows = chunk}), ref));
  batch<double> expect = z;
  simd::lincomb<double, 1>(expect.view().span(), {sched.points.front().sigma}, {expect.data()});
  batch<double> kick(n, g.dim());
  for (std::uint32_t i = 0; i < sched.steps(); ++i) {
    random::fill_normal<double>(42, kick.view(), 0, i);
    simd::lincomb<double, 2>(expect.view().span(), {1.0, 0.1}, {expect.data(), kick.data()});
  }
  CHECK(same_bits(ref, expect));
  // An observer needs the whole state, so it refuses chunks.
  batch<double> x = z;
  gaussian_mixture<double> m = g;
  pf_ode<edm<double>, gaussian_mixture<double>> p(process, m);
  euler<double> e;
  CHECK_THROWS_AS(sample(p, sched, e, x.view(), [](const auto&) {}, sample_options{.threads = 2}), config_error);
}

}  // namespace test_random
