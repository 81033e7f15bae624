// The fused linear-combination kernel against the memory bandwidth (the STREAM triad, McCalpin
// 1995) and against the plain loop with the compiler's vectoriser switched off.
// Bytes count every array read or written once: (k + 1)·n·8 for lincomb, 3·n·8 for the triad.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/simd/kernels.hpp"
#include "ferry/simd/lincomb.hpp"

namespace {

// The SIMD path every benchmark of this binary runs (FERRY_ISA=sse2|avx2|avx512 picks one), in the
// context block Google Benchmark prints first and writes into --benchmark_out files.
[[maybe_unused]] const bool isa_context = (benchmark::AddCustomContext("ferry_simd", ferry::simd::active_isa_name()), true);

using aligned_vector = std::vector<double, ferry::aligned_allocator<double>>;

// a = b + s·c, as in STREAM.
void BM_StreamTriad(benchmark::State& st) {
  const std::size_t n = std::size_t(st.range(0));
  aligned_vector a(n, 0.0), b(n, 1.0), c(n, 2.0);
  const double s = 3.0;
  for (auto _ : st) {
    double* __restrict pa = a.data();
    const double* __restrict pb = b.data();
    const double* __restrict pc = c.data();
    for (std::size_t i = 0; i < n; ++i) pa[i] = pb[i] + s * pc[i];
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(3 * n * sizeof(double)));
}

template <std::size_t K>
void run_lincomb(benchmark::State& st, std::size_t n) {
  std::vector<aligned_vector> in(K, aligned_vector(n, 1.0));
  aligned_vector out(n);
  std::array<double, K> c{};
  std::array<const double*, K> p{};
  for (std::size_t k = 0; k < K; ++k) c[k] = 0.5 / double(k + 1), p[k] = in[k].data();
  for (auto _ : st) {
    ferry::simd::lincomb<double, K>(out, c, p);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t((K + 1) * n * sizeof(double)));
}

// The same sum as a plain loop, compiled without auto-vectorisation.
template <std::size_t K>
#if defined(__clang__)
[[clang::noinline]]
#else
__attribute__((noinline, optimize("no-tree-vectorize", "no-tree-slp-vectorize")))
#endif
void scalar_lincomb(double* out, const std::array<double, K>& c, const std::array<const double*, K>& in, std::size_t n) {
#if defined(__clang__)
#pragma clang loop vectorize(disable) interleave(disable)
#endif
  for (std::size_t i = 0; i < n; ++i) {
    double acc = c[0] * in[0][i];
    for (std::size_t k = 1; k < K; ++k) acc += c[k] * in[k][i];
    out[i] = acc;
  }
}

template <std::size_t K>
void run_lincomb_scalar(benchmark::State& st, std::size_t n) {
  std::vector<aligned_vector> in(K, aligned_vector(n, 1.0));
  aligned_vector out(n);
  std::array<double, K> c{};
  std::array<const double*, K> p{};
  for (std::size_t k = 0; k < K; ++k) c[k] = 0.5 / double(k + 1), p[k] = in[k].data();
  for (auto _ : st) {
    scalar_lincomb<K>(out.data(), c, p, n);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t((K + 1) * n * sizeof(double)));
}


void BM_LinComb(benchmark::State& st) {
  const std::size_t n = std::size_t(st.range(1));
  switch (st.range(0)) {
    case 1: return run_lincomb<1>(st, n);
    case 2: return run_lincomb<2>(st, n);
    case 3: return run_lincomb<3>(st, n);
    default: return run_lincomb<4>(st, n);
  }
}

void BM_LinCombScalar(benchmark::State& st) {
  const std::size_t n = std::size_t(st.range(1));
  switch (st.range(0)) {
    case 1: return run_lincomb_scalar<1>(st, n);
    case 2: return run_lincomb_scalar<2>(st, n);
    case 3: return run_lincomb_scalar<3>(st, n);
    default: return run_lincomb_scalar<4>(st, n);
  }
}

}  // namespace

BENCHMARK(BM_StreamTriad)->Arg(1 << 12)->Arg(1 << 24);
BENCHMARK(BM_LinComb)->ArgsProduct({{1, 2, 3, 4}, {1 << 12}})->Args({3, 1 << 20})->Args({3, 1 << 24});
BENCHMARK(BM_LinCombScalar)->ArgsProduct({{1, 2, 3, 4}, {1 << 12}})->Args({3, 1 << 20})->Args({3, 1 << 24});
