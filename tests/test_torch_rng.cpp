// torch's seeds: the CPU generator against torch 1.13's own randn (tests/data/torch, made by
// make_vectors.py there: every size path, both dtypes, both float32 kernels, seeds up to 2^63), the
// CUDA emulation against A1111's rng_philox.py (its output and its published docstring), and the
// torch_noise source: one generator for the initial noise and every step, the same bytes on any
// number of threads and over shards. A live check runs torch itself when python3 has it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "catch.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/random/torch_generator.hpp"
#include "ferry/solvers/sde/dpmpp_multistep_sde.hpp"
#include "ferry/solvers/sde/euler_ancestral.hpp"
#include "test_support.hpp"

namespace test_torch_rng {

using namespace ferry;

namespace {

const std::string torch_dir = FERRY_TEST_DATA "/torch/";
const std::vector<std::uint64_t> seeds = {0, 1234, (std::uint64_t(1) << 32) + 5, (std::uint64_t(1) << 63) + 12345};
const std::vector<std::size_t> calls = {1, 3, 7, 15, 16, 17, 33, 48, 100, 2, 16, 1000};  // make_vectors.py's CALLS

template <class T>
std::vector<T> load(const std::string& name) {
  return io::read_npy(torch_dir + name).as<T>();
}

// Counts of unequal elements and the largest difference.
struct diff {
  std::size_t unequal = 0;
  double max_abs = 0;
};
template <class T>
diff compare(const std::vector<T>& got, const std::vector<T>& want) {
  REQUIRE(got.size() == want.size());
  diff d;
  for (std::size_t i = 0; i < got.size(); ++i) {
    d.unequal += got[i] != want[i];
    d.max_abs = std::max(d.max_abs, std::abs(double(got[i]) - double(want[i])));
  }
  return d;
}

// The concatenated randn calls of `sizes` on one generator.
template <class T>
std::vector<T> randn_calls(random::torch_cpu_generator& g, const std::vector<std::size_t>& sizes) {
  std::vector<T> out;
  for (std::size_t n : sizes) {
    std::vector<T> z(n);
    g.randn(std::span<T>(z));
    out.insert(out.end(), z.begin(), z.end());
  }
  return out;
}

// Results that go through libm (float64, the generic float32 kernel, the CUDA emulation's double
// Box–Muller) are bit-exact where torch's libm is ours (glibc), within tolerance elsewhere.
void check_libm_path(const diff& d, double tolerance) {
  INFO(d.unequal << " unequal, max |diff| " << d.max_abs);
  CHECK(d.max_abs <= tolerance);
#ifdef __GLIBC__
  CHECK(d.unequal == 0);
#endif
}

// A minimal stochastic solver: x ← x + 0.1·z_step, so the result shows the draws themselves.
template <class T>
struct noise_kick {
  static constexpr int order = 1, evals_per_step = 0;
  static constexpr bool stochastic = true;
  batch<T> z;
  void reset(extent e) { z.resize(e); }
  template <class P>
  void step(P& p, const step_span<T>& s, batch_view<T> x) {
    p.normal(s.index, 0, z.view());
    simd::lincomb<T, 2>(x.span(), {T(1), T(0.1)}, {x.data, z.data()});
  }
};

static_assert(noise_source<torch_noise<float>, float> && noise_source<torch_noise<double>, double>);

}  // namespace

TEST_CASE("torch-cpu: torch 1.13's randn for every size path, both dtypes, seeds up to 2^63", "[random][torch]") {
  for (std::uint64_t seed : seeds) {
    INFO("seed " << seed);
    {  // float32, AVX2 kernel: arithmetic only (std::fma where torch's build fused), bit for bit anywhere
      random::torch_cpu_generator g(seed);
      const diff d = compare(randn_calls<float>(g, calls), load<float>("cpu_avx2_" + std::to_string(seed) + "_float32.npy"));
      INFO("float32 avx2: " << d.unequal << " unequal, max |diff| " << d.max_abs);
      CHECK(d.unequal == 0);
    }
    {
      random::torch_cpu_generator g(seed);
      check_libm_path(compare(randn_calls<double>(g, calls), load<double>("cpu_avx2_" + std::to_string(seed) + "_float64.npy")), 1e-12);
    }
    {  // torch's generic kernel (ATEN_CPU_CAPABILITY=default): libm's logf, cosf, sinf
      random::torch_cpu_generator g(seed, random::torch_cpu_kernel::generic);
      check_libm_path(compare(randn_calls<float>(g, calls), load<float>("cpu_generic_" + std::to_string(seed) + "_float32.npy")), 2e-6);
    }
  }
  // The two float32 kernels differ (by up to ~2e-6), sizes below 16 do not use them.
  random::torch_cpu_generator a(7), b(7, random::torch_cpu_kernel::generic);
  CHECK(randn_calls<float>(a, {1000}) != randn_calls<float>(b, {1000}));
  // manual_seed: the engine takes the seed's low 32 bits and forgets the cached normal.
  random::torch_cpu_generator c(5), d((std::uint64_t(1) << 32) + 5);
  CHECK(randn_calls<double>(c, {3, 20}) == randn_calls<double>(d, {3, 20}));
  std::vector<double> one(1);
  c.randn(std::span<double>(one));  // leaves a cached sine
  c.manual_seed(5);
  d.manual_seed(5);
  CHECK(randn_calls<double>(c, {1}) == randn_calls<double>(d, {1}));
  CHECK(d.initial_seed() == 5);
}

TEST_CASE("torch-cpu's AVX2 log and sincos are avx_mathfun's: exact at known points, close to libm", "[random][torch]") {
  // Every float32 input the kernel sees: u1 = 1 − k·2⁻²⁴ and θ = float(2π)·k·2⁻²⁴. Checked against
  // the correctly rounded double functions to the polynomials' accuracy (a few float ulps), and
  // at points where the polynomials are exact.
  double worst_log = 0, worst_trig = 0;
  for (std::uint32_t k = 0; k < (1u << 24); k += 997) {
    const float u = 1.0f - float(k) * 0x1p-24f;
    const float l = random::detail::torch_avx2_log(u);
    worst_log = std::max(worst_log, std::abs(double(l) - std::log(double(u))) / std::max(1e-30, std::abs(std::log(double(u)))));
    const float theta = float(2 * std::numbers::pi) * (float(k) * 0x1p-24f);
    float s, c;
    random::detail::torch_avx2_sincos(theta, s, c);
    worst_trig = std::max({worst_trig, std::abs(double(s) - std::sin(double(theta))), std::abs(double(c) - std::cos(double(theta)))});
  }
  CHECK(worst_log < 2e-7);
  CHECK(worst_trig < 2e-7);
  CHECK(random::detail::torch_avx2_log(1.0f) == 0.0f);
  float s, c;
  random::detail::torch_avx2_sincos(0.0f, s, c);
  CHECK(s == 0.0f);
  CHECK(c == 1.0f);
}

TEST_CASE("torch-cuda: A1111's rng_philox (its output and its published docstring), offset +1 per call", "[random][torch]") {
  const std::vector<std::size_t> cuda_calls = {12, 5, 1, 40};  // make_vectors.py's CUDA_CALLS
  for (std::uint64_t seed : seeds) {
    INFO("seed " << seed);
    random::torch_cuda_generator g(seed);
    std::vector<float> got;
    for (std::size_t n : cuda_calls) {
      std::vector<float> z(n);
      g.randn(z);
      got.insert(got.end(), z.begin(), z.end());
    }
    CHECK(g.offset() == cuda_calls.size());
    check_libm_path(compare(got, load<float>("cuda_" + std::to_string(seed) + ".npy")), 2e-7);
  }
  // A1111, modules/rng_philox.py (commit ef1698f), docstring: Generator(seed=0).randn(shape=(3, 4))
  // "Expected output". Its own code (NumPy float64 Box–Muller) differs from these printed values by
  // up to 2.4e-7 (in the fourth to eighth digit), as ferry does: the docstring's numbers come from a
  // float32 evaluation (curand's), which the emulation does not replay.
  const std::vector<double> docstring = {-0.92466259, -0.42534415, -2.6438457,  0.14518388,  -0.12086647, -0.57972564,
                                         -0.62285122, -0.32838709, -1.07454231, -0.36314407, -1.67105067, 2.26550497};
  random::torch_cuda_generator g(0);
  std::vector<float> z(12);
  g.randn(z);
  double worst = 0;
  for (std::size_t i = 0; i < z.size(); ++i) worst = std::max(worst, std::abs(double(z[i]) - docstring[i]));
  CHECK(worst < 3e-7);
  // Element i of call k is the Box–Muller of Philox block (k, 0, i, 0) under the seed's two words.
  const random::bits128 r = random::philox(0, {.block = 0, .row = 0, .step = 5, .stream = 0});
  CHECK(z[5] == random::torch_cuda_generator::box_muller_sin(r[0], r[1]));
}

TEST_CASE("torch_noise: the initial noise, then each (step, stream) the generator's next whole-batch array", "[random][torch]") {
  auto check_run = [](auto tag, std::size_t n, std::size_t d) {
    using T = decltype(tag);
    const std::string dtype = std::is_same_v<T, float> ? "float32" : "float64";
    INFO(n << "x" << d << " " << dtype);
    const std::vector<T> want = load<T>("run_" + std::to_string(n) + "x" + std::to_string(d) + "_" + dtype + ".npy");  // (5, n, d)
    const std::size_t size = n * d;
    auto draw = [&](std::size_t k) { return std::vector<T>(want.begin() + long(k * size), want.begin() + long((k + 1) * size)); };
    torch_noise<T> src({.seed = 1234, .batch = {n, d}});
    batch<T> x(n, d);
    src.initial(x.view());
    CHECK(std::vector<T>(x.data(), x.data() + size) == draw(0));
    for (std::size_t i = 0; i < 4; ++i) {
      src.normal(i, 0, x.view());
      CHECK(std::vector<T>(x.data(), x.data() + size) == draw(i + 1));
    }
    src.normal(3, 0, x.view());  // asked again: the same array, not a new draw
    CHECK(std::vector<T>(x.data(), x.data() + size) == draw(4));
    CHECK(src.draws() == 5);
    if (n < 5) return;
    // A shard (rows [2, 5) of n) draws the same whole arrays and keeps its rows.
    torch_noise<T> shard({.seed = 1234, .batch = {n, d}, .first_row = 2, .rows = 3});
    batch<T> part(3, d);
    shard.initial(part.view());
    CHECK(std::vector<T>(part.data(), part.data() + 3 * d) == std::vector<T>(want.begin() + long(2 * d), want.begin() + long(5 * d)));
    shard.for_rows(1).normal(0, 0, batch_view<T>(part.data(), 2, d));
    CHECK(std::vector<T>(part.data(), part.data() + 2 * d) ==
          std::vector<T>(want.begin() + long(size + 3 * d), want.begin() + long(size + 5 * d)));
  };
  check_run(float{}, 7, 3);   // 21 elements: the 16-blocks and the redrawn tail
  check_run(double{}, 7, 3);
  check_run(float{}, 2, 3);   // 6 elements: the scalar path, its cached sine carried from draw to draw
  check_run(double{}, 2, 3);

  // A run that starts from given noise skips the initial draw, as a pipeline given `latents`.
  torch_noise<double> given({.seed = 1234, .batch = {7, 3}});
  batch<double> x(7, 3);
  given.normal(0, 0, x.view());
  const std::vector<double> run = load<double>("run_7x3_float64.npy");
  CHECK(std::vector<double>(x.data(), x.data() + 21) == std::vector<double>(run.begin(), run.begin() + 21));
  CHECK_THROWS_AS(given.initial(x.view()), config_error);

  // Chunks that ask in different orders are refused; a released array cannot be asked for again.
  torch_noise<double> src({.seed = 1, .batch = {4, 2}});
  batch<double> half(2, 2);
  torch_noise<double> a = src.for_rows(0), b = src.for_rows(2);
  a.normal(0, 0, half.view());
  a.normal(0, 1, half.view());
  CHECK_THROWS_AS(b.normal(0, 1, half.view()), config_error);  // b's first pair must be (0, 0)
  b.normal(0, 0, half.view());
  b.normal(0, 1, half.view());
  a.normal(1, 0, half.view());
  b.normal(1, 0, half.view());  // every row has moved past (0, 1): released
  CHECK_THROWS_AS(a.normal(0, 1, half.view()), config_error);
  // Bad shapes and the float32-only CUDA emulation.
  CHECK_THROWS_AS(src.normal(0, 0, batch_view<double>(half.data(), 2, 1)), shape_error);
  CHECK_THROWS_AS(src.for_rows(3).normal(0, 0, half.view()), shape_error);
  CHECK_THROWS_AS(torch_noise<double>({.device = random::torch_device::cuda, .batch = {4, 2}}), config_error);
  CHECK_THROWS_AS(torch_noise<float>({.batch = {4, 2}, .first_row = 3, .rows = 2}), shape_error);
  CHECK_THROWS_AS(torch_noise<float>({.batch = {0, 2}}), shape_error);
  CHECK_THROWS_AS(torch_noise<float>{}.normal(0, 0, batch_view<float>()), config_error);
}

TEST_CASE("torch_noise through the driver: torch's sequence, the same bytes on 1, 2, 3 threads and over shards", "[random][torch][driver]") {
  // x ← x + 0.1·z_i over 4 steps from the initial noise: exactly torch's five arrays combined.
  {
    const std::vector<float> want = load<float>("run_7x3_float32.npy");
    auto m = gaussian_mixture<float>::diagonal({1.0f}, {Eigen::VectorXf::Zero(3)}, {Eigen::VectorXf::Ones(3)});
    const edm<float> process;
    const auto sched = make_schedule(make_grid(process, grid_spec<float>{.kind = grid_kind::karras, .steps = 4}));
    for (int threads : {1, 2, 3}) {
      torch_noise<float> src({.seed = 1234, .batch = {7, 3}});
      batch<float> x(7, 3);
      src.initial(x.view());
      pf_ode<edm<float>, gaussian_mixture<float>, no_transform, torch_noise<float>> p(process, m, {}, src);
      noise_kick<float> kick;
      sample(p, sched, kick, x.view(), no_observer{}, {.threads = threads, .chunk_rows = 3});
      for (std::size_t j = 0; j < 21; ++j) {
        float e = want[j];
        for (std::size_t k = 1; k <= 4; ++k) e = e + 0.1f * want[k * 21 + j];
        INFO("threads " << threads << ", element " << j);
        CHECK(x.data()[j] == Approx(e).margin(1e-6));
      }
    }
  }
  // A real sampler (Euler ancestral; DPM-Solver++(2M) SDE) on the mixture, float32 and float64.
  auto check = [](auto tag, auto make_solver) {
    using T = decltype(tag);
    const auto m = gaussian_mixture<T>::load(ferry_test::reference_dir + "gmm.json");
    const edm<T> process;
    const auto sched = make_schedule(make_grid(process, grid_spec<T>{.kind = grid_kind::karras, .steps = 10}));
    const std::size_t n = 37, dim = m.dim();
    auto run = [&](std::size_t first, std::size_t rows, sample_options opt) {
      torch_noise<T> src({.seed = 99, .batch = {n, dim}, .first_row = first, .rows = rows});
      batch<T> x(rows, dim);
      src.initial(x.view());
      simd::lincomb<T, 1>(x.view().span(), {sched.points.front().sigma}, {x.data()});
      gaussian_mixture<T> model = m;
      pf_ode<edm<T>, gaussian_mixture<T>, no_transform, torch_noise<T>> p(process, model, {}, src);
      auto solver = make_solver();
      sample(p, sched, solver, x.view(), no_observer{}, opt);
      CHECK(src.draws() == sched.steps());  // the initial noise and every step but the last (to σ = 0)
      return std::vector<T>(x.data(), x.data() + x.size());
    };
    const std::vector<T> one = run(0, n, {});
    for (int threads : {1, 2, 3})
      for (std::size_t chunk : {std::size_t(0), std::size_t(5)}) {
        INFO("threads " << threads << ", chunk " << chunk);
        CHECK(run(0, n, {.threads = threads, .chunk_rows = chunk}) == one);
      }
    std::vector<T> joined;
    for (std::size_t i = 0; i < 3; ++i) {  // --shard i/3: rows [i·n/3, (i+1)·n/3)
      const std::vector<T> part = run(i * n / 3, (i + 1) * n / 3 - i * n / 3, {.threads = 2});
      joined.insert(joined.end(), part.begin(), part.end());
    }
    CHECK(joined == one);
    // and it is torch's batch that decides: the first 5 rows of a batch of 37 are not a batch of 5
    torch_noise<T> alone({.seed = 99, .batch = {5, dim}});
    batch<T> z5(5, dim);
    alone.initial(z5.view());
    torch_noise<T> whole({.seed = 99, .batch = {n, dim}});
    batch<T> z37(n, dim);
    whole.initial(z37.view());
    CHECK(!std::equal(z5.data(), z5.data() + z5.size(), z37.data()));
  };
  check(double{}, [] { return euler_ancestral<double>(); });
  check(float{}, [] { return euler_ancestral<float>(); });
  check(double{}, [] { return dpmpp_multistep_sde<2, double>{}; });
}

TEST_CASE("torch-cpu against the torch that python3 has (skipped without it)", "[random][torch][live]") {
  ferry_test::scratch_dir dir;
  std::string python;
  for (const char* candidate : {"python3", "/usr/bin/python3"}) {
    const std::string probe = std::string(candidate) + " -c \"import torch, numpy\" >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) {
      python = candidate;
      break;
    }
  }
  if (python.empty()) {
    WARN("python3 with torch and numpy is not installed: the live check against torch is skipped");
    return;
  }
  const std::vector<std::size_t> sizes = {5, 16, 23, 64, 257, 4099};
  const std::uint64_t seed = (std::uint64_t(1) << 40) + 3;
  const std::string script = R"(
import sys, numpy as np, torch
out, seed = sys.argv[1], int(sys.argv[2])
sizes = [int(s) for s in sys.argv[3].split(',')]
cap = torch.__config__.show().split('CPU capability usage: ')[1].split(chr(10))[0]
open(out + '/capability.txt', 'w').write(cap)
for dt in ('float32', 'float64'):
    g = torch.Generator().manual_seed(seed)
    np.save(out + '/' + dt + '.npy', np.concatenate([torch.randn((n,), generator=g, dtype=getattr(torch, dt)).numpy() for n in sizes]))
)";
  std::ofstream(dir.path / "live.py") << script;
  std::string list;
  for (std::size_t n : sizes) list += (list.empty() ? "" : ",") + std::to_string(n);
  const std::string cmd = python + " " + (dir.path / "live.py").string() + " " + dir.path.string() + " " + std::to_string(seed) + " " + list;
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::string capability;
  std::ifstream(dir.path / "capability.txt") >> capability;
  // torch's AVX2 kernel runs on AVX2 and AVX-512 CPUs (the normal kernel has no AVX-512 variant)
  const auto kernel = capability == "AVX2" || capability == "AVX512" ? random::torch_cpu_kernel::avx2 : random::torch_cpu_kernel::generic;
  INFO("torch's CPU capability: " << capability);
  random::torch_cpu_generator g32(seed, kernel), g64(seed, kernel);
  const std::vector<float> f32 = randn_calls<float>(g32, sizes);
  const std::vector<double> f64 = randn_calls<double>(g64, sizes), t64 = io::read_npy(dir.path / "float64.npy").as<double>();
  const diff d32 = compare(f32, io::read_npy(dir.path / "float32.npy").as<float>());
  // The first call (5 elements) is the scalar path, whose ln(1 − u) later torch versions take as
  // log1p(−u): the same number's logarithm, which may differ in the last bit of a double.
  const diff small = compare(std::vector<double>(f64.begin(), f64.begin() + 5), std::vector<double>(t64.begin(), t64.begin() + 5));
  const diff d64 = compare(std::vector<double>(f64.begin() + 5, f64.end()), std::vector<double>(t64.begin() + 5, t64.end()));
  INFO("float32: " << d32.unequal << " unequal, max |diff| " << d32.max_abs);
  INFO("float64: " << d64.unequal << " unequal, max |diff| " << d64.max_abs << "; below 16 elements: max |diff| " << small.max_abs);
  CHECK(d32.max_abs <= 2e-6);
  CHECK(small.max_abs <= 1e-12);
  CHECK(d64.max_abs <= 1e-12);
  if (kernel == random::torch_cpu_kernel::avx2) CHECK(d32.unequal == 0);  // arithmetic only: bit for bit
#ifdef __GLIBC__
  CHECK(d32.unequal == 0);  // the generic kernel and float64 through the same libm as torch
  CHECK(d64.unequal == 0);
#endif
}

}  // namespace test_torch_rng
