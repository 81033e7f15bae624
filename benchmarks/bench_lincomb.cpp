// The fused linear-combination kernel against the plain loop a compiler makes of the same sum.
#include <benchmark/benchmark.h>

#include <vector>

#include "ferry/simd/lincomb.hpp"

namespace {

void bm_lincomb3_simd(benchmark::State& st) {
  const std::size_t n = std::size_t(st.range(0));
  std::vector<double> a(n, 1.0), b(n, 2.0), c(n, 3.0), out(n);
  for (auto _ : st) {
    ferry::simd::lincomb<double, 3>(out, {0.5, -0.25, 0.125}, {a.data(), b.data(), c.data()});
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(4 * n * sizeof(double)));
}

void bm_lincomb3_scalar(benchmark::State& st) {
  const std::size_t n = std::size_t(st.range(0));
  std::vector<double> a(n, 1.0), b(n, 2.0), c(n, 3.0), out(n);
  for (auto _ : st) {
    for (std::size_t i = 0; i < n; ++i) out[i] = 0.5 * a[i] - 0.25 * b[i] + 0.125 * c[i];
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(4 * n * sizeof(double)));
}

}  // namespace

BENCHMARK(bm_lincomb3_simd)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(bm_lincomb3_scalar)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);
