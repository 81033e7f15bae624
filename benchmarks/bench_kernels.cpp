// Kernels against their peers: ferry's RK4 against Boost.Odeint's runge_kutta4, keyed Philox
// normals against std::mt19937 + std::normal_distribution, the end-to-end mixture job on 1 and 2
// threads, and a Gumbel-max categorical draw against one softmax pass over the same logits.
#include <benchmark/benchmark.h>

#if __has_include(<boost/numeric/odeint.hpp>)
#include <boost/numeric/odeint.hpp>
#define FERRY_BENCH_ODEINT 1
#endif
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "ferry/discrete/categorical.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"
#include "ferry/solvers/ode/rk4.hpp"

namespace {

// ---- RK4 on dx/dt = −x + c, 100 steps of h = 0.01 -------------------------------------------------
constexpr double rk4_c = 0.5, rk4_h = 0.01;
constexpr int rk4_steps = 100;
constexpr std::size_t rk4_chunk = 4096;  // rows per driver chunk: RK4's six arrays of a chunk fit in L2

// The smallest problem explicit_rk integrates in native time, f(t, y) = c − y, with what the driver
// needs to run it in row chunks (its rows are independent). Its levels carry σ = e^{−t} only so
// that the schedule's noise decreases; the field reads t alone.
struct linear_field {
  std::size_t evals = 0;
  void reset(ferry::extent) { evals = 0; }
  std::size_t nfe() const { return evals; }
  linear_field for_rows(std::size_t) const { return {}; }
  ferry::level<double> at(double t) const { return ferry::level<double>::make(1.0, std::exp(-t), t); }
  void velocity(ferry::const_batch_view<double> y, const ferry::level<double>&, ferry::batch_view<double> k) {
    ++evals;
    const double* __restrict src = y.data;
    double* __restrict dst = k.data;
    for (std::size_t i = 0; i < y.size(); ++i) dst[i] = rk4_c - src[i];
  }
};

ferry::schedule<double> rk4_schedule() {
  std::vector<ferry::level<double>> t;
  for (int s = 0; s <= rk4_steps; ++s) t.push_back(linear_field{}.at(s * rk4_h));
  return ferry::make_schedule(std::move(t));
}

// ferry as it runs a batch of independent rows: ferry::sample, whose row chunks each run all 100
// steps (one thread here; the chunks are what the driver's threads share out).
void BM_RK4_Ferry(benchmark::State& st) {
  const std::size_t n = std::size_t(st.range(0));
  ferry::batch<double> x(n, 1);
  ferry::rk4<double> solver;
  linear_field f;
  const auto sched = rk4_schedule();
  for (auto _ : st) {
    std::fill(x.data(), x.data() + n, 1.0);
    ferry::sample(f, sched, solver, x.view(), ferry::no_observer{}, {.chunk_rows = rk4_chunk});
    benchmark::DoNotOptimize(x.data());
  }
  st.SetItemsProcessed(std::int64_t(st.iterations()) * rk4_steps * std::int64_t(n));
}

// The same stepper over the whole vector, step by step, as Odeint runs it (no chunks): both then
// stream every stage through memory.
void BM_RK4_FerryWhole(benchmark::State& st) {
  const std::size_t n = std::size_t(st.range(0));
  ferry::batch<double> x(n, 1);
  ferry::rk4<double> solver;
  linear_field f;
  const auto sched = rk4_schedule();
  solver.reset(x.view().shape());
  for (auto _ : st) {
    std::fill(x.data(), x.data() + n, 1.0);
    for (int s = 0; s < rk4_steps; ++s) solver.step(f, sched.step(std::size_t(s)), x.view());
    benchmark::DoNotOptimize(x.data());
  }
  st.SetItemsProcessed(std::int64_t(st.iterations()) * rk4_steps * std::int64_t(n));
}

#ifdef FERRY_BENCH_ODEINT
void BM_RK4_Odeint(benchmark::State& st) {
  using state = std::vector<double>;
  const std::size_t n = std::size_t(st.range(0));
  state x(n);
  boost::numeric::odeint::runge_kutta4<state> stepper;
  auto field = [](const state& y, state& dydt, double) {
    for (std::size_t i = 0; i < y.size(); ++i) dydt[i] = rk4_c - y[i];
  };
  for (auto _ : st) {
    std::fill(x.begin(), x.end(), 1.0);
    for (int s = 0; s < rk4_steps; ++s) stepper.do_step(field, x, s * rk4_h, rk4_h);
    benchmark::DoNotOptimize(x.data());
  }
  st.SetItemsProcessed(std::int64_t(st.iterations()) * rk4_steps * std::int64_t(n));
}
#endif

// ---- standard normals ---------------------------------------------------------------------------
void BM_Normal_Philox(benchmark::State& st) {
  const std::size_t n = std::size_t(st.range(0));
  ferry::batch<double> z(n / 64, 64);
  std::uint32_t step = 0;
  for (auto _ : st) {
    ferry::random::fill_normal<double>(1, z.view(), 0, step++);
    benchmark::DoNotOptimize(z.data());
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(n * sizeof(double)));
}

void BM_Normal_StdMt19937(benchmark::State& st) {
  const std::size_t n = std::size_t(st.range(0));
  std::vector<double> z(n);
  std::mt19937 rng(1);
  std::normal_distribution<double> normal;
  for (auto _ : st) {
    for (double& v : z) v = normal(rng);
    benchmark::DoNotOptimize(z.data());
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(n * sizeof(double)));
}

// ---- the end-to-end mixture job: DPM-Solver++(2M), 20 steps, 10^5 samples of the 2-D mixture ----
// (tests/data/diffusion/gmm.json, written out here so the benchmark reads no files).
ferry::gaussian_mixture<double> gmm2d() {
  using vec = Eigen::VectorXd;
  auto v = [](double a, double b) { vec r(2); r << a, b; return r; };
  return ferry::gaussian_mixture<double>::diagonal(
      {0.3, 0.25, 0.2, 0.15, 0.1}, {v(-1, -1), v(1, -1), v(0, 1.2), v(-1.2, 0.6), v(1.1, 0.9)},
      {v(0.15, 0.15), v(0.1, 0.3), v(0.3, 0.08), v(0.05, 0.05), v(0.2, 0.2)});
}

template <class T>
void run_gmm_sample(benchmark::State& st) {
  const int threads = int(st.range(0));
  const std::size_t rows = 100000, steps = 20;
  const ferry::vp_linear<T> process;
  const auto sched = ferry::make_schedule(
      ferry::make_grid(process, ferry::grid_spec<T>{.kind = ferry::grid_kind::uniform_logsnr, .steps = steps}));
  const auto g64 = gmm2d();
  std::vector<Eigen::Matrix<T, Eigen::Dynamic, 1>> means, stds;
  std::vector<T> w;
  for (std::size_t k = 0; k < g64.components(); ++k) {
    w.push_back(T(g64.weights()[k]));
    means.push_back(g64.mean(k).cast<T>());
  }
  const auto sd = std::vector<std::array<double, 2>>{{0.15, 0.15}, {0.1, 0.3}, {0.3, 0.08}, {0.05, 0.05}, {0.2, 0.2}};
  for (const auto& s : sd) stds.push_back((Eigen::Matrix<T, 2, 1>() << T(s[0]), T(s[1])).finished());
  auto model = ferry::gaussian_mixture<T>::diagonal(w, means, stds);
  ferry::batch<T> z(rows, 2), x(rows, 2);
  ferry::random::fill_normal<T>(1, z.view(), 0, ferry::random::initial_noise_step);
  for (auto _ : st) {
    ferry::simd::lincomb<T, 1>(x.view().span(), {sched.points.front().sigma}, {z.data()});
    ferry::dpmpp_multistep<2, T> solver;
    ferry::sample(model, process, sched, solver, x.view(), ferry::no_observer{}, {.threads = threads});
    benchmark::DoNotOptimize(x.data());
  }
  st.SetItemsProcessed(std::int64_t(st.iterations()) * std::int64_t(rows * steps));  // sample-steps
}

void BM_GmmSample(benchmark::State& st) { run_gmm_sample<double>(st); }
void BM_GmmSample_Float(benchmark::State& st) { run_gmm_sample<float>(st); }

// ---- categorical draws over V logits, 10^4 rows ---------------------------------------------------
// SoftmaxPass: one read of the logits (max, then Σ exp(ℓ − max) in the same sweep, online).
// GumbelMax: argmax_v ℓ_v − log(−log u_v), u the keyed Philox uniforms, via the library's draw.
constexpr std::size_t cat_rows = 10000;

std::vector<double> logits(std::size_t v) {
  std::vector<double> l(v);
  for (std::size_t j = 0; j < v; ++j) l[j] = std::sin(double(j)) * 3;
  return l;
}

double softmax_normaliser(const double* l, std::size_t n) {
  using B = xsimd::batch<double>;
  B m(-std::numeric_limits<double>::infinity()), s(0.0);
  std::size_t j = 0;
  for (; j + B::size <= n; j += B::size) {  // online: s ← s·e^{m − m'} + e^{ℓ − m'}
    const B v = B::load_unaligned(l + j), m2 = xsimd::max(m, v);
    s = s * xsimd::exp(m - m2) + xsimd::exp(v - m2);
    m = m2;
  }
  alignas(64) double mm[B::size], ss[B::size];
  m.store_aligned(mm);
  s.store_aligned(ss);
  double M = -std::numeric_limits<double>::infinity(), S = 0;
  for (std::size_t q = 0; q < B::size; ++q) M = std::max(M, mm[q]);
  for (std::size_t q = 0; q < B::size; ++q) S += ss[q] * std::exp(mm[q] - M);
  for (; j < n; ++j) S += std::exp(l[j] - M);
  return M + std::log(S);
}

void BM_SoftmaxPass(benchmark::State& st) {
  const std::size_t v = std::size_t(st.range(0));
  const auto l = logits(v);
  double acc = 0;
  for (auto _ : st) {
    for (std::size_t r = 0; r < cat_rows; ++r) acc += softmax_normaliser(l.data(), v);
    benchmark::DoNotOptimize(acc);
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(cat_rows * v * sizeof(double)));
}

// One draw from the row's logits: w = exp(ℓ − max ℓ) in one vector pass, then the library's
// Gumbel-max draw (discrete::gumbel_draw: keyed uniforms, the lazy exponential race).
std::size_t gumbel_argmax(const double* l, double* w, std::size_t n, std::uint32_t row, ferry::discrete::gumbel_workspace& ws) {
  using B = xsimd::batch<double>;
  B m(-std::numeric_limits<double>::infinity());
  std::size_t j = 0;
  for (; j + B::size <= n; j += B::size) m = xsimd::max(m, B::load_unaligned(l + j));
  alignas(64) double mm[B::size];
  m.store_aligned(mm);
  double top = *std::max_element(mm, mm + B::size);
  for (std::size_t q = j; q < n; ++q) top = std::max(top, l[q]);
  for (j = 0; j + B::size <= n; j += B::size) xsimd::exp(B::load_unaligned(l + j) - B(top)).store_unaligned(w + j);
  for (; j < n; ++j) w[j] = std::exp(l[j] - top);
  return ferry::discrete::gumbel_draw({w, n}, 7, row, 0, ferry::random::streams::categorical, 0,
                                      ferry::discrete::gumbel_precision::float64, ws);
}

void BM_GumbelMax(benchmark::State& st) {
  const std::size_t v = std::size_t(st.range(0));
  const auto l = logits(v);
  std::vector<double> w(v);
  ferry::discrete::gumbel_workspace ws(v);
  std::size_t acc = 0;
  for (auto _ : st) {
    for (std::size_t r = 0; r < cat_rows; ++r) acc += gumbel_argmax(l.data(), w.data(), v, std::uint32_t(r), ws);
    benchmark::DoNotOptimize(acc);
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(cat_rows * v * sizeof(double)));
}

}  // namespace

BENCHMARK(BM_RK4_Ferry)->Arg(1 << 12)->Arg(1 << 20);
BENCHMARK(BM_RK4_FerryWhole)->Arg(1 << 12)->Arg(1 << 20);
#ifdef FERRY_BENCH_ODEINT
BENCHMARK(BM_RK4_Odeint)->Arg(1 << 12)->Arg(1 << 20);
#endif
BENCHMARK(BM_Normal_Philox)->Arg(1 << 20);
BENCHMARK(BM_Normal_StdMt19937)->Arg(1 << 20);
BENCHMARK(BM_GmmSample)->Arg(1)->Arg(2);
BENCHMARK(BM_GmmSample_Float)->Arg(1)->Arg(2);
BENCHMARK(BM_SoftmaxPass)->Arg(1024)->Arg(32768);
BENCHMARK(BM_GumbelMax)->Arg(1024)->Arg(32768);
