// `ferry noise`: each generator's array through the CLI, against torch's and A1111's vectors
// (tests/data/torch) and ferry's keyed draw; shapes, dtypes and 64-bit seeds. Bad input is in
// test_cli_errors.cpp.
#include "catch.hpp"

#ifdef FERRY_CLI_PATH
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "cli_runner.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/random/normal.hpp"

namespace test_torch_rng_cli {

using namespace ferry_test;

namespace {

const std::string torch_dir = FERRY_TEST_DATA "/torch/";

// Runs `ferry noise ARGS --out DIR/z.npy` and reads the array back.
ferry::io::npy_array noise(const std::string& args, const scratch_dir& dir) {
  const fs::path out = dir.path / "z.npy";
  const run_result r = run_cli("noise " + args + " --out " + quoted(out), dir);
  INFO("ferry noise " << args << ": " << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.empty());
  return ferry::io::read_npy(out);
}

template <class T>
std::vector<T> slice(const std::string& file, std::size_t begin, std::size_t end) {
  const std::vector<T> all = ferry::io::read_npy(torch_dir + file).as<T>();
  return {all.begin() + long(begin), all.begin() + long(end)};
}

}  // namespace

TEST_CASE("ferry noise --rng torch-cpu is torch.randn(shape, generator=manual_seed(S), dtype)", "[cli][random][torch]") {
  scratch_dir dir;
  for (const char* dtype : {"float32", "float64"})
    for (const auto& [n, d] : {std::pair<std::size_t, std::size_t>{7, 3}, {2, 3}}) {
      INFO(dtype << " " << n << "x" << d);
      const std::string name = "run_" + std::to_string(n) + "x" + std::to_string(d) + "_" + dtype + ".npy";
      const ferry::io::npy_array z =
          noise("--rng torch-cpu --seed 1234 --shape " + std::to_string(n) + "," + std::to_string(d) + " --dtype " + dtype, dir);
      CHECK(z.shape == std::vector<std::size_t>{n, d});
      if (std::string(dtype) == "float32") {
        CHECK(z.dtype() == ferry::io::npy_dtype::f4);
        CHECK(z.as<float>() == slice<float>(name, 0, n * d));  // the run's first array: the initial noise
      } else {
        CHECK(z.dtype() == ferry::io::npy_dtype::f8);
        CHECK(z.as<double>() == slice<double>(name, 0, n * d));
      }
    }
  // A 64-bit seed, and float32 by default: the first call of make_vectors.py's sequence (1 element).
  const ferry::io::npy_array big = noise("--rng torch-cpu --seed 9223372036854788153 --shape 1", dir);
  CHECK(big.dtype() == ferry::io::npy_dtype::f4);
  CHECK(big.as<float>() == slice<float>("cpu_avx2_9223372036854788153_float32.npy", 0, 1));
  // Any rank: torch draws the flat array (latents (1, 4, 4, 4) are randn of 64 elements).
  const ferry::io::npy_array latents = noise("--rng torch-cpu --seed 1234 --shape 1,4,4,4", dir);
  CHECK(latents.shape == std::vector<std::size_t>{1, 4, 4, 4});
  CHECK(latents.as<float>() == noise("--rng torch-cpu --seed 1234 --shape 64", dir).as<float>());
}

TEST_CASE("ferry noise --rng torch-cuda is A1111's rng_philox; --rng philox is ferry sample's initial noise", "[cli][random][torch]") {
  scratch_dir dir;
  const ferry::io::npy_array c = noise("--rng torch-cuda --seed 0 --shape 3,4", dir);
  CHECK(c.shape == std::vector<std::size_t>{3, 4});
  const std::vector<float> want = slice<float>("cuda_0.npy", 0, 12), got = c.as<float>();
  double worst = 0;
  for (std::size_t i = 0; i < 12; ++i) worst = std::max(worst, std::abs(double(got[i]) - double(want[i])));
  CHECK(worst <= 2e-7);  // bit for bit on glibc (test_torch_rng.cpp)
  CHECK(noise("--rng torch-cuda --seed 1234 --shape 12", dir).as<float>().size() == 12);

  // philox: row i is the keyed draw (seed, row i, initial_noise_step), in float64 or rounded to float32.
  ferry::batch<double> z(5, 3);
  ferry::random::fill_normal<double>(77, z.view(), 0, ferry::random::initial_noise_step);
  const std::vector<double> keyed(z.data(), z.data() + z.size());
  CHECK(noise("--seed 77 --shape 5,3 --dtype float64", dir).as<double>() == keyed);
  std::vector<float> rounded(keyed.begin(), keyed.end());
  CHECK(noise("--rng philox --seed 77 --shape 5,3", dir).as<float>() == rounded);
  // Row i does not depend on the batch: the first 2 rows of 5 are the 2 rows of a batch of 2.
  const std::vector<double> two = noise("--seed 77 --shape 2,3 --dtype float64", dir).as<double>();
  CHECK(two == std::vector<double>(keyed.begin(), keyed.begin() + 6));
}

}  // namespace test_torch_rng_cli
#endif  // FERRY_CLI_PATH
