// `ferry sample-discrete` end to end: (N, L) int32 tokens, NFE on stderr, the same bytes for any
// thread count, one-line errors with no output file on bad input; every dllm reference case run
// as REFERENCE.md's command; --init with every sampler; --times.
#include "catch.hpp"

#ifdef FERRY_CLI_PATH
#include <string>

#include "cli_runner.hpp"
#include "dllm_cases.hpp"
#include "ferry/io/npy.hpp"

namespace test_cli_discrete {

using namespace ferry_test;

namespace {
std::string mixture_arg() { return "--model mixture:" + quoted(fs::path(discrete_data + "mixture.json")); }

template <class T>
void write_array(const fs::path& p, const std::vector<T>& v, const std::vector<std::size_t>& shape) {
  ferry::io::write_npy<T>(p, v.data(), shape);
}
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

TEST_CASE("ferry sample-discrete runs every dllm case as REFERENCE.md's command", "[cli][discrete][llm]") {
  scratch_dir dir;
  const fs::path out = dir.path / "out.npy";
  const std::string model = "sample-discrete --model mixture:" + quoted(fs::path(dllm_data + "mixture.json")) + " --kernel masked ";
  const nlohmann::json j = ferry::io::read_json(dllm_data + "cases.json", "the dllm cases");
  const auto m = dllm_mixture();
  std::size_t deterministic = 0, stochastic = 0;
  for (const auto& [name, e] : j.items()) {
    std::string args = model + "--init " + quoted(fs::path(dllm_data + e.at("files").at("init").get<std::string>()));
    for (const auto& a : e.at("args")) {  // appended in two parts: GCC 12's -Wstringop-overflow misfires on " " + string at -O3
      args += ' ';
      args += a.get<std::string>();
    }
    const bool det = e.at("kind") == "deterministic";
    if (!det) {  // one stochastic case of each loop at the full count, the others at a tenth (the library test runs them all)
      const bool full = name == "dream_origin_p8_s8" || name == "llada_t1_p8_s8_b8";
      args += " --seed " + std::to_string(e.at("ferry_seed").get<std::uint64_t>()) + " --num-samples " +
              std::to_string(full ? e.at("num_samples").get<std::size_t>() : e.at("num_samples").get<std::size_t>() / 10);
    }
    const run_result r = run_cli(args + " --threads 2 --out " + quoted(out), dir);
    INFO(name << ": " << args << "\n" << r.err);
    REQUIRE(r.code == 0);
    const auto x = ferry::io::read_npy(out);
    REQUIRE(x.dtype() == ferry::io::npy_dtype::i4);
    const std::vector<std::int32_t> tokens = x.as<std::int32_t>();
    if (det) {
      ++deterministic;
      const auto want = ferry::io::read_npy(dllm_data + e.at("files").at("out").get<std::string>()).as<std::int32_t>();
      std::size_t differ = 0;
      for (std::size_t k = 0; k < tokens.size(); ++k) differ += tokens[k] != want[k];
      CHECK(tokens.size() == want.size());
      CHECK(differ == 0);
    } else {
      ++stochastic;
      const auto peer = ferry::io::read_npy(dllm_data + e.at("files").at("marginals").get<std::string>()).as<double>();
      double gap = 0;
      const std::size_t n = x.shape[0];
      const double ratio = marginal_ratio(marginals_of(tokens, m.length(), m.vocab()), n, peer, e.at("peer_samples").get<std::size_t>(), gap);
      INFO("n " << n << ": ratio " << ratio << ", gap " << gap);
      CHECK(ratio <= 1);
    }
  }
  CHECK(deterministic == 31);
  CHECK(stochastic == 4);
}

TEST_CASE("ferry sample-discrete --init: every sampler keeps the given tokens, on any thread count", "[cli][discrete]") {
  scratch_dir dir;
  const fs::path init = dir.path / "init.npy", many = dir.path / "many.npy", a = dir.path / "a.npy", b = dir.path / "b.npy";
  write_array<std::int32_t>(init, {2, 3, 3, 0}, {1, 4});                 // V = 3: the mask is 3
  write_array<std::int32_t>(many, {2, 3, 3, 0, 3, 1, 3, 3, 3, 3, 3, 2}, {3, 4});
  const std::string common = "sample-discrete " + mixture_arg() + " --seed 5 --steps 4 ";
  for (const std::string sampler : {"euler", "tau-leaping", "pc", "tweedie", "ancestral", "first-hitting", "confidence", "llada", "dream"})
    for (const std::string kernel : {"masked", "uniform"}) {
      const bool masked_only = sampler == "ancestral" || sampler == "first-hitting" || sampler == "confidence" || sampler == "llada" ||
                               sampler == "dream";
      if (kernel == "uniform" && masked_only) continue;
      const std::string flags = common + "--sampler " + sampler + " --kernel " + kernel + " ";
      const run_result one = run_cli(flags + "--init " + quoted(init) + " --num-samples 500 --threads 1 --out " + quoted(a), dir);
      INFO(sampler << " " << kernel << ": " << one.err);
      REQUIRE(one.code == 0);
      REQUIRE(run_cli(flags + "--init " + quoted(init) + " --num-samples 500 --threads 2 --out " + quoted(b), dir).code == 0);
      CHECK(slurp(a) == slurp(b));
      const auto x = ferry::io::read_npy(a).as<std::int32_t>();
      REQUIRE(x.size() == 2000);
      std::size_t moved = 0, bad = 0;
      for (std::size_t i = 0; i < 500; ++i) {
        moved += x[4 * i] != 2 || x[4 * i + 3] != 0;
        for (std::size_t l = 0; l < 4; ++l) bad += x[4 * i + l] < 0 || x[4 * i + l] > 2;
      }
      CHECK(moved == 0);
      CHECK(bad == 0);
      // A file of several rows: its rows are the samples.
      const run_result r = run_cli(flags + "--init " + quoted(many) + " --out " + quoted(a), dir);
      REQUIRE(r.code == 0);
      const auto y = ferry::io::read_npy(a);
      CHECK(y.shape == std::vector<std::size_t>{3, 4});
      const auto t = y.as<std::int32_t>();
      CHECK(t[0] == 2);
      CHECK(t[3] == 0);
      CHECK(t[5] == 1);
      CHECK(t[11] == 2);
    }
}

TEST_CASE("ferry sample-discrete --times: the uniform grid as a file gives the same bytes; any grid from 1 to 0 runs", "[cli][discrete]") {
  scratch_dir dir;
  const fs::path grid = dir.path / "grid.npy", a = dir.path / "a.npy", b = dir.path / "b.npy";
  write_array<double>(grid, {1.0, 0.75, 0.5, 0.25, 0.0}, {5});
  const std::string common = "sample-discrete " + mixture_arg() + " --num-samples 2000 --seed 9 --schedule cosine ";
  for (const std::string sampler : {"ancestral", "tweedie", "pc", "confidence", "dream"}) {
    REQUIRE(run_cli(common + "--sampler " + sampler + " --steps 4 --out " + quoted(a), dir).code == 0);
    const run_result r = run_cli(common + "--sampler " + sampler + " --times " + quoted(grid) + " --out " + quoted(b), dir);
    INFO(sampler << ": " << r.err);
    REQUIRE(r.code == 0);
    if (sampler != "dream") CHECK(slurp(a) == slurp(b));  // dream's own grid ends at eps
  }
  write_array<double>(grid, {1.0, 0.99, 0.9, 0.5, 0.0}, {5});
  const run_result r = run_cli(common + "--sampler tweedie --kernel uniform --times " + quoted(grid) + " --out " + quoted(a), dir);
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.err.find("4 steps, NFE 4") != std::string::npos);
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

}  // namespace test_cli_discrete
#endif
