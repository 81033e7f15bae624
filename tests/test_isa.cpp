// Run-time ISA dispatch (simd/kernels.hpp): every path this CPU can run gives the sse2 path's bytes,
// kernel by kernel (inputs with the awkward values: ±0, subnormals, ±∞, NaN, lengths that end in
// a partial register) and for whole sampling runs; the sse2 path keeps the bits the keyed normals
// have always had (xsimd's two-lane log, sqrt and sincos); and the header-only kernels a program
// without dispatch compiles agree with them.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "catch.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/random/philox.hpp"
#include "ferry/simd/categorical.hpp"
#include "ferry/simd/kernel_table.hpp"
#include "ferry/simd/lincomb.hpp"
#include "runtime_support.hpp"

namespace test_isa {

using namespace ferry;

namespace {

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Values with the cases a lane could treat differently: signed zeros, subnormals, infinities, NaN,
// huge and tiny magnitudes, among ordinary normals.
template <class T>
std::vector<T> awkward(std::size_t n, std::uint64_t seed, bool specials = true) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<T> v(n);
  const T special[] = {T(0), -T(0), std::numeric_limits<T>::denorm_min(), -std::numeric_limits<T>::min() / 3,
                       std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity(),
                       std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::max(), T(1e-30), T(7)};
  for (std::size_t i = 0; i < n; ++i) v[i] = specials && rng() % 7 == 0 ? special[rng() % 10] : T(3 * normal(rng));
  return v;
}

// (0, 1) values: uniforms as the keyed stream makes them, and the ends of the interval.
std::vector<double> unit_values(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> v(n);
  const double ends[] = {0x1p-54, 0x1p-1074, 1 - 0x1p-53, 0.5, 0.125, 0.25, 1e-300};
  for (std::size_t i = 0; i < n; ++i)
    v[i] = rng() % 9 == 0 ? ends[rng() % 7] : random::uniform_open(std::uint32_t(rng()), std::uint32_t(rng()));
  return v;
}

#ifdef FERRY_SIMD_DISPATCH
// The paths to compare with sse2's: every other one this CPU runs.
std::vector<const simd::kernel_table*> wider_paths() {
  std::vector<const simd::kernel_table*> out;
  for (simd::isa i : {simd::isa::avx2, simd::isa::avx512})
    if (const auto* t = simd::kernels_for(i)) out.push_back(t);
  return out;
}

const simd::kernel_table& sse2() { return *simd::kernels_for(simd::isa::sse2); }

const std::size_t lengths[] = {0, 1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 64, 100, 1001};

template <class T, std::size_t... K>
void check_lincomb(const simd::kernel_table& wide, std::index_sequence<K...>) {
  for (std::size_t n : lengths) {
    const std::size_t terms = sizeof...(K);
    std::vector<std::vector<T>> in;
    for (std::size_t k = 0; k < terms; ++k) in.push_back(awkward<T>(n, 100 * n + k));
    const std::vector<T> c = awkward<T>(terms, n, false);
    std::vector<const T*> p;
    for (auto& v : in) p.push_back(v.data());
    std::vector<T> a(n), b(n);
    sse2().of<T>().lincomb[terms - 1](a.data(), n, c.data(), p.data());
    wide.of<T>().lincomb[terms - 1](b.data(), n, c.data(), p.data());
    INFO(simd::isa_name(wide.id) << ": lincomb of " << terms << " terms, n = " << n);
    REQUIRE(same_bytes(a, b));
    // in place (out aliases in[0])
    std::vector<T> x = in[0], y = in[0];
    p[0] = x.data();
    sse2().of<T>().lincomb[terms - 1](x.data(), n, c.data(), p.data());
    p[0] = y.data();
    wide.of<T>().lincomb[terms - 1](y.data(), n, c.data(), p.data());
    REQUIRE(same_bytes(x, y));
  }
}

template <class T>
void check_all_lincombs(const simd::kernel_table& wide) {
  [&]<std::size_t... K>(std::index_sequence<K...>) {
    (check_lincomb<T>(wide, std::make_index_sequence<K + 1>{}), ...);
  }(std::make_index_sequence<simd::max_lincomb_terms>{});
}

// A mixture call's arguments with random constants (the kernel does not need them to come from a
// valid mixture to be compared bit for bit) and the values that make exp underflow.
template <class T>
struct mixture_case {
  std::size_t K, D;
  std::vector<T> inv_c, shift, am, kappa, mu, u, scratch;
  mixture_case(std::size_t k, std::size_t d, bool full, std::uint64_t seed) : K(k), D(d) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> pos(0.05, 3), any(-2, 2);
    for (std::size_t i = 0; i < K * D; ++i) {
      inv_c.push_back(T(pos(rng)));
      shift.push_back(T(pos(rng)));
      am.push_back(T(any(rng)));
      mu.push_back(T(any(rng)));
    }
    for (std::size_t i = 0; i < K; ++i) kappa.push_back(T(i == 1 ? -800 : any(rng)));  // one component far below the rest
    if (full)
      for (std::size_t i = 0; i < K * D * D; ++i) u.push_back(T(any(rng)));
    scratch.resize(simd::kernel::mixture_lanes_scratch<T>(K, D) + 64);
  }
  simd::kernel::mixture_args<T> args(bool score, T ca, T cb, std::size_t misalign) {
    simd::kernel::mixture_args<T> a;
    a.K = K, a.D = D, a.inv_c = inv_c.data(), a.shift = shift.data(), a.am = am.data(), a.kappa = kappa.data();
    a.mu = mu.data(), a.u = u.empty() ? nullptr : u.data(), a.ca = ca, a.cb = cb, a.score = score;
    a.scratch = scratch.data() + misalign;
    return a;
  }
};

template <class T>
void check_mixture(const simd::kernel_table& wide) {
  for (bool full : {false, true})
    for (std::size_t D : {1, 2, 3, 5})
      for (std::size_t K : {1, 2, 5})
        for (bool score : {false, true})
          for (std::size_t rows : {1, 3, 8, 17, 40}) {
            mixture_case<T> m(K, D, full, 7 * D + K);
            std::vector<T> x = awkward<T>(rows * D, rows + 31 * D, false);
            x[0] = T(40);  // a row far from every component
            for (auto [ca, cb] : {std::pair<T, T>{T(0), T(1)}, std::pair<T, T>{T(0.7), T(-1.3)}}) {
              std::vector<T> a(rows * D), b(rows * D);
              sse2().of<T>().mixture_rows(m.args(score, ca, cb, 0), x.data(), rows, a.data());
              wide.of<T>().mixture_rows(m.args(score, ca, cb, 3), x.data(), rows, b.data());
              INFO(simd::isa_name(wide.id) << ": mixture " << (full ? "full" : "diagonal") << " K " << K << " D " << D
                                            << (score ? " score" : " posterior") << " rows " << rows << " ca " << ca);
              REQUIRE(same_bytes(a, b));
            }
          }
}
#endif

}  // namespace

#ifdef FERRY_SIMD_DISPATCH
TEST_CASE("every ISA path gives the sse2 path's bits: lincomb and sum_squares", "[isa][simd]") {
  INFO("this CPU also runs " << wider_paths().size() << " wider path(s)");
  for (const auto* wide : wider_paths()) {
    check_all_lincombs<double>(*wide);
    check_all_lincombs<float>(*wide);
    for (std::size_t n : lengths) {
      const auto d = awkward<double>(n, n + 5, n % 2 == 0);
      const auto f = awkward<float>(n, n + 6, n % 2 == 0);
      const double sd = sse2().f64.sum_squares(d.data(), n), wd = wide->f64.sum_squares(d.data(), n);
      const float sf = sse2().f32.sum_squares(f.data(), n), wf = wide->f32.sum_squares(f.data(), n);
      INFO(simd::isa_name(wide->id) << ": sum_squares, n = " << n);
      CHECK(std::memcmp(&sd, &wd, sizeof sd) == 0);
      CHECK(std::memcmp(&sf, &wf, sizeof sf) == 0);
      // find_nonfinite: the first NaN or ±∞, as std::isfinite finds it, on every path
      const auto finite = awkward<double>(n, n + 7, false);
      for (const auto* v : {&d, &finite}) {
        const std::size_t want = std::size_t(std::find_if(v->begin(), v->end(), [](double e) { return !std::isfinite(e); }) - v->begin());
        CHECK(sse2().f64.find_nonfinite(v->data(), n) == want);
        CHECK(wide->f64.find_nonfinite(v->data(), n) == want);
      }
      const std::size_t want_f = std::size_t(std::find_if(f.begin(), f.end(), [](float e) { return !std::isfinite(e); }) - f.begin());
      CHECK(wide->f32.find_nonfinite(f.data(), n) == want_f);
    }
  }
}

TEST_CASE("every ISA path gives the sse2 path's bits: Philox, uniforms and normals", "[isa][random]") {
  for (const auto* wide : wider_paths()) {
    INFO(simd::isa_name(wide->id));
    for (std::size_t n : lengths) {
      std::vector<std::uint32_t> c0(n), c1(n), r[8];
      for (auto& v : r) v.resize(n);
      for (std::size_t i = 0; i < n; ++i) c0[i] = std::uint32_t(i * 2654435761u), c1[i] = ~std::uint32_t(i);
      sse2().philox(0x299f31d0a4093822ull, c0.data(), c1.data(), 5, 7, r[0].data(), r[1].data(), r[2].data(), r[3].data(), n);
      wide->philox(0x299f31d0a4093822ull, c0.data(), c1.data(), 5, 7, r[4].data(), r[5].data(), r[6].data(), r[7].data(), n);
      for (int w = 0; w < 4; ++w) REQUIRE(same_bytes(r[w], r[w + 4]));
      for (std::uint64_t first : {std::uint64_t(0), std::uint64_t(1), std::uint64_t(1000001)}) {
        std::vector<double> a(n), b(n);
        sse2().fill_uniform(9, a.data(), n, 3, 4, 5, first);
        wide->fill_uniform(9, b.data(), n, 3, 4, 5, first);
        REQUIRE(same_bytes(a, b));
      }
      auto u1 = unit_values(n, n), u2 = unit_values(n, n + 1);
      if (n > 4) u1[4] = 0.0, u1[3] = 1.0, u2[2] = 0.0, u2[1] = 1.0;  // the closed ends: radius ∞ or 0, angle 0 or 2π
      std::vector<double> z[4];
      for (auto& v : z) v.resize(n);
      sse2().box_muller(u1.data(), u2.data(), z[0].data(), z[1].data(), n);
      wide->box_muller(u1.data(), u2.data(), z[2].data(), z[3].data(), n);
      REQUIRE(same_bytes(z[0], z[2]));
      REQUIRE(same_bytes(z[1], z[3]));
    }
    for (std::size_t cols : {1, 2, 3, 64, 129})
      for (std::size_t rows : {1, 7, 70}) {
        std::vector<double> a(rows * cols), b(rows * cols);
        std::vector<float> af(rows * cols), bf(rows * cols);
        sse2().f64.fill_normal(11, a.data(), rows, cols, 1000, 4, 2);
        wide->f64.fill_normal(11, b.data(), rows, cols, 1000, 4, 2);
        sse2().f32.fill_normal(11, af.data(), rows, cols, 1000, 4, 2);
        wide->f32.fill_normal(11, bf.data(), rows, cols, 1000, 4, 2);
        INFO("fill_normal " << rows << " x " << cols);
        REQUIRE(same_bytes(a, b));
        REQUIRE(same_bytes(af, bf));
      }
  }
}

TEST_CASE("every ISA path gives the sse2 path's bits: the Gaussian-mixture oracle", "[isa][models]") {
  for (const auto* wide : wider_paths()) {
    check_mixture<double>(*wide);
    check_mixture<float>(*wide);
  }
}
#endif

TEST_CASE("the mixture kernel's register path for small diagonal mixtures gives the generic body's bits", "[isa][models]") {
  // D = 1 … 4 diagonal mixtures run diagonal_block (coordinates in registers, residuals taken again);
  // the generic body (scratch arrays) is the definition, compared here on the build's own arch.
  auto check = [](auto tag) {
    using T = decltype(tag);
    using A = xsimd::default_arch;
    for (std::size_t D : {1, 2, 3, 4})
      for (std::size_t K : {1, 5})
        for (std::size_t rows : {1, 9, 37}) {
          std::mt19937_64 rng(D * 100 + K * 10 + rows);
          std::uniform_real_distribution<double> pos(0.05, 3), any(-2, 2);
          std::vector<T> inv_c, shift, am, mu, kappa, scratch(simd::kernel::mixture_lanes_scratch<T>(K, D));
          for (std::size_t i = 0; i < K * D; ++i)
            inv_c.push_back(T(pos(rng))), shift.push_back(T(pos(rng))), am.push_back(T(any(rng))), mu.push_back(T(any(rng)));
          for (std::size_t k = 0; k < K; ++k) kappa.push_back(T(k == 1 ? -800 : any(rng)));
          std::vector<T> x(rows * D);
          for (auto& v : x) v = T(3 * any(rng));
          for (bool score : {false, true})
            for (T ca : {T(0), T(0.75)}) {
              simd::kernel::mixture_args<T> a;
              a.K = K, a.D = D, a.inv_c = inv_c.data(), a.shift = shift.data(), a.am = am.data(), a.kappa = kappa.data();
              a.mu = mu.data(), a.ca = ca, a.cb = ca == T(0) ? T(1) : T(-0.5), a.score = score, a.scratch = scratch.data();
              std::vector<T> fast(rows * D), generic(rows * D);
              simd::kernel::mixture_rows<T, A>(a, x.data(), rows, fast.data());
              if (score)
                simd::kernel::detail::mixture_rows_generic<T, true, A>(a, x.data(), rows, generic.data());
              else
                simd::kernel::detail::mixture_rows_generic<T, false, A>(a, x.data(), rows, generic.data());
              INFO("D " << D << " K " << K << " rows " << rows << (score ? " score" : " posterior") << " ca " << ca);
              REQUIRE(same_bytes(fast, generic));
            }
        }
  };
  check(double{});
  check(float{});
}

#ifdef FERRY_SIMD_DISPATCH

TEST_CASE("every ISA path gives the sse2 path's bits: softmax, Gumbel scores, the exponential race", "[isa][categorical]") {
  for (const auto* wide : wider_paths()) {
    INFO(simd::isa_name(wide->id));
    for (std::size_t n : lengths) {
      std::vector<double> a = awkward<double>(n, n + 40, false), b = a;
      if (n > 3) a[2] = b[2] = -std::numeric_limits<double>::infinity();
      sse2().softmax(a.data(), n);
      wide->softmax(b.data(), n);
      REQUIRE(same_bytes(a, b));
      std::vector<double> w = unit_values(n, n + 41), u = unit_values(n, n + 42);
      for (std::size_t j = 0; j < n; j += 4) w[j] = j % 8 == 0 ? 0.0 : std::pow(w[j], 40.0);  // zeros and a wide range
      std::vector<double> ga(n), gb(n);
      sse2().f64.gumbel_scores(w.data(), u.data(), ga.data(), n);
      wide->f64.gumbel_scores(w.data(), u.data(), gb.data(), n);
      REQUIRE(same_bytes(ga, gb));
      std::vector<float> wf(w.begin(), w.end()), uf(u.begin(), u.end()), fa(n), fb(n);
      sse2().f32.gumbel_scores(wf.data(), uf.data(), fa.data(), n);
      wide->f32.gumbel_scores(wf.data(), uf.data(), fb.data(), n);
      REQUIRE(same_bytes(fa, fb));
      for (std::size_t exclude : {n, n / 2})
        REQUIRE(sse2().race_argmin(w.data(), u.data(), n, exclude) == wide->race_argmin(w.data(), u.data(), n, exclude));
    }
  }
}

TEST_CASE("every ISA path gives the same bytes for every registry solver", "[isa][driver]") {
  // Every solver the registry names, through the run-time boundary (the code the CLI runs), on the
  // mixture with keyed noise, in float and double, on 1 and 2 threads: the oracle, the solvers'
  // lincombs and the keyed normals together.
  const simd::isa start = simd::kernels().id;
  struct restore {
    simd::isa i;
    ~restore() { simd::use_isa(i); }
  } guard{start};
  auto run = [](auto tag, std::string_view name, int threads) {
    using T = decltype(tag);
    auto g = gaussian_mixture<T>::load(FERRY_TEST_DATA "/diffusion/gmm.json");
    const edm<T> process;
    const auto sched = make_schedule(make_grid(process, grid_spec<T>{.kind = grid_kind::karras, .steps = 7}));
    batch<T> x(333, g.dim());
    random::fill_normal<T>(5, x.view(), 0, random::initial_noise_step);
    simd::lincomb<T, 1>(x.view().span(), {sched.points.front().sigma}, {x.data()});
    ferry_test::run_named(ferry_test::sweep_settings(name), process, g, sched, x.view(), runtime_noise<T>{{5, 0}, {}},
                          {.threads = threads});
    return std::vector<T>(x.data(), x.data() + x.size());
  };
  for (std::string_view name : solver_names)
    for (int threads : {1, 2}) {
      simd::use_isa(simd::isa::sse2);
      const auto d = run(double{}, name, threads);
      const auto f = run(float{}, name, threads);
      for (simd::isa i : {simd::isa::avx2, simd::isa::avx512}) {
        if (!simd::kernels_for(i)) continue;
        simd::use_isa(i);
        INFO(simd::isa_name(i) << " " << name << ", threads " << threads);
        CHECK(same_bytes(d, run(double{}, name, threads)));
        CHECK(same_bytes(f, run(float{}, name, threads)));
      }
    }
}
#endif

TEST_CASE("the keyed normals keep the bits of their definition: xsimd's two-lane log, sqrt and sincos", "[isa][random]") {
  // Box–Muller as the keyed stream has always computed it, on 2-lane SSE2 registers: both lanes
  // hold the same pair, so xsimd's register-wide choice of the sincos reduction is this lane's.
  using B = xsimd::batch<double, xsimd::sse2>;
  auto reference = [](double u1, double u2, double& z0, double& z1) {
    const B r = xsimd::sqrt(B(-2.0) * xsimd::log(B(u1)));
    const auto [s, c] = xsimd::sincos(B(2 * std::numbers::pi) * B(u2));
    z0 = (r * c).get(0);
    z1 = (r * s).get(0);
  };
  std::vector<double> u1 = unit_values(4096, 1), u2 = unit_values(4096, 2);
  // every angle 2πu2 within 2²⁰ steps of u2 = 1/8 and 1/4, where xsimd switches reductions at π/4, π/2
  for (double edge : {0.125, 0.25})
    for (std::int64_t d = -(1 << 20); d <= (1 << 20); d += 17) {
      u1.push_back(0.3);
      u2.push_back((double(std::int64_t(edge * 0x1p53) + d) + 0.5) * 0x1p-53);
    }
  const std::size_t n = u1.size();
  std::vector<double> z0(n), z1(n), r0(n), r1(n);
  random::detail::box_muller(u1.data(), u2.data(), z0.data(), z1.data(), n);
  for (std::size_t i = 0; i < n; ++i) reference(u1[i], u2[i], r0[i], r1[i]);
  CHECK(same_bytes(z0, r0));
  CHECK(same_bytes(z1, r1));
  // and a whole fill: element (i, 2b + e) from the scalar Philox block (b, row, step, stream)
  batch<double> z(9, 7);
  random::fill_normal<double>(21, z.view(), 40, 3, 1);
  for (std::size_t i = 0; i < z.rows(); ++i)
    for (std::size_t b = 0; b < 4; ++b) {
      const random::bits128 r = random::philox(21, {std::uint32_t(b), std::uint32_t(40 + i), 3, 1});
      double a, c;
      reference(random::uniform_open(r[0], r[1]), random::uniform_open(r[2], r[3]), a, c);
      REQUIRE(std::memcmp(&z(i, 2 * b), &a, sizeof a) == 0);
      if (2 * b + 1 < 7) REQUIRE(std::memcmp(&z(i, 2 * b + 1), &c, sizeof c) == 0);
    }
}

TEST_CASE("the header-only kernels (the build's own arch) give the dispatched path's bits", "[isa][simd]") {
  // What a program without ferry_kernels compiles for baseline x86-64 against the table in use.
  const auto a = awkward<double>(301, 3), b = awkward<double>(301, 4);
  std::vector<double> x(301), y(301);
  const double c[2] = {0.25, -3.5};
  const double* in[2] = {a.data(), b.data()};
  simd::kernel::lincomb<double, 2, xsimd::default_arch>(x.data(), 301, c, in);
  simd::lincomb<double, 2>(y, {0.25, -3.5}, {a.data(), b.data()});
  CHECK(same_bytes(x, y));
  std::vector<float> fx(6 * 55), fy(6 * 55);
  simd::kernel::fill_normal<float, xsimd::default_arch>(3, fx.data(), 55, 6, 0, 1, 0);
  random::fill_normal<float>(3, batch_view<float>(fy.data(), 55, 6), 0, 1);
  CHECK(same_bytes(fx, fy));
  INFO("kernels in use: " << simd::active_isa_name());
  CHECK(std::string(simd::active_isa_name()).size() > 0);
}

}  // namespace test_isa
