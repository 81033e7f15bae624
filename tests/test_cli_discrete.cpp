// `ferry sample-discrete` end to end: (N, L) int32 tokens, NFE on stderr, the same bytes for any
// thread count, and one-line errors with no output file on bad input.
#include "catch.hpp"

#ifdef FERRY_CLI_PATH
#include <string>

#include "cli_runner.hpp"
#include "discrete_support.hpp"
#include "ferry/io/npy.hpp"

using namespace ferry_test;

namespace {
std::string mixture_arg() { return "--model mixture:" + quoted(fs::path(discrete_data + "mixture.json")); }
}  // namespace

TEST_CASE("ferry sample-discrete writes (N, L) int32 tokens and reports NFE", "[cli][discrete]") {
  scratch_dir dir;
  const fs::path a = dir.path / "a.npy", b = dir.path / "b.npy";
  const std::string common = "sample-discrete " + mixture_arg() + " --num-samples 3000 --seed 4 ";
  const run_result r = run_cli(common + "--sampler first-hitting --out " + quoted(a), dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("NFE 4") != std::string::npos);
  const auto x = ferry::io::read_npy(a);
  CHECK(x.dtype() == ferry::io::npy_dtype::i4);
  REQUIRE(x.shape == std::vector<std::size_t>{3000, 4});
  const auto tokens = x.as<std::int32_t>();
  for (auto v : tokens) CHECK((v >= 0 && v < 3));
  const auto m = test_mixture();
  const auto p0 = data_law(m);
  CHECK(total_variation(empirical_law(tokens, 4, 3), p0) < floor_multiple * tv_floor(p0, 3000));

  for (const std::string sampler : {"ancestral", "pc", "confidence"}) {
    const std::string flags = "--sampler " + sampler + " --steps 8 --schedule cosine --block-size 2 --top-p 0.95 --remask 1 ";
    REQUIRE(run_cli(common + flags + "--threads 1 --out " + quoted(a), dir).code == 0);
    const run_result two = run_cli(common + flags + "--threads 2 --out " + quoted(b), dir);
    INFO(sampler << ": " << two.err);
    REQUIRE(two.code == 0);
    CHECK(slurp(a) == slurp(b));
  }
  const run_result u = run_cli(common + "--kernel uniform --schedule loglinear --sampler tweedie --steps 16 --out " + quoted(a), dir);
  INFO(u.err);
  CHECK(u.code == 0);
  CHECK(u.err.find("NFE 16") != std::string::npos);
}

TEST_CASE("ferry sample-discrete: bad input is one line, exit 2, no output file", "[cli][discrete]") {
  scratch_dir dir;
  const fs::path out = dir.path / "x.npy";
  const std::string tail = " --num-samples 10 --out " + quoted(out);
  const std::string cases[] = {
      "sample-discrete " + mixture_arg() + " --sampler bogus --steps 4" + tail,
      "sample-discrete " + mixture_arg() + " --kernel uniform --sampler ancestral --steps 4" + tail,
      "sample-discrete " + mixture_arg() + " --kernel uniform --sampler tweedie --block-size 2 --steps 4" + tail,
      "sample-discrete " + mixture_arg() + " --sampler euler --steps 0" + tail,
      "sample-discrete " + mixture_arg() + " --schedule quadratic --steps 4" + tail,
      "sample-discrete " + mixture_arg() + " --top-p 0 --steps 4" + tail,
      "sample-discrete --model mixture:" + quoted(dir.path / "missing.json") + " --steps 4" + tail,
      "sample-discrete --model gmm:x.json --steps 4" + tail,
      "sample-discrete " + mixture_arg() + " --steps 4 --num-samples 0 --out " + quoted(out),
  };
  for (const auto& args : cases) {
    const run_result r = run_cli(args, dir);
    INFO(args << "\n" << r.err);
    CHECK(r.code == 2);
    CHECK(r.err.rfind("ferry: ", 0) == 0);
    CHECK(count_lines(r.err) == 1);
    CHECK_FALSE(fs::exists(out));
  }
}
#endif
