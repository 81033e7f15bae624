// LLaDA's generate() and Dream's _sample() against the peers' own outputs on the exact mixture
// oracle (tests/data/dllm, REFERENCE.md): every deterministic case token for token, every
// stochastic case's per-position marginals within 4·SE + 0.002; keyed over threads, no allocation
// per step, and their one-line errors.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "dllm_cases.hpp"

namespace test_discrete_llm {

using namespace ferry;
using namespace ferry::discrete;
using namespace ferry_test;

TEST_CASE("llada and dream reproduce every deterministic dllm case token for token", "[discrete][llm]") {
  const discrete_mixture m = dllm_mixture();
  std::size_t cases = 0;
  for (const dllm_case& c : dllm_cases()) {
    if (c.kind != "deterministic") continue;
    ++cases;
    const discrete_run r = run_case(m, c, c.rows, 0, 2);
    std::size_t differ = 0;
    for (std::size_t e = 0; e < r.tokens.size(); ++e) differ += r.tokens[e] != c.out[e];
    INFO(c.name << ": " << differ << " of " << r.tokens.size() << " tokens differ, NFE " << r.stats.nfe_max);
    CHECK(differ == 0);
  }
  CHECK(cases == 31);
}

TEST_CASE("llada and dream match the stochastic dllm cases' marginals", "[discrete][llm]") {
  const discrete_mixture m = dllm_mixture();
  std::size_t cases = 0;
  for (const dllm_case& c : dllm_cases()) {
    if (c.kind != "stochastic") continue;
    ++cases;
    const std::size_t n = mc_samples(c.num_samples);
    const discrete_run r = run_case(m, c, n, c.seed, 2);
    const std::vector<double> f = marginals_of(r.tokens, m.length(), m.vocab());
    double gap = 0;
    const double ratio = marginal_ratio(f, n, c.marginals, c.peer_samples, gap);
    INFO(c.name << ": largest |f - f_peer| " << gap << ", largest ratio to 4 SE + 0.002 " << ratio);
    CHECK(ratio <= 1);
    // The given tokens never move, and nothing is left masked.
    std::size_t moved = 0, masked = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t l = 0; l < m.length(); ++l) {
        const std::int32_t v = r.tokens[i * m.length() + l];
        moved += std::size_t(c.init[l]) != m.vocab() && v != c.init[l];
        masked += !(v >= 0 && std::size_t(v) < m.vocab());
      }
    CHECK(moved == 0);
    CHECK(masked == 0);
  }
  CHECK(cases == 4);
}

TEST_CASE("the stochastic loops can tell a wrong rule from the right one", "[discrete][llm]") {
  // The marginal test has power: LLaDA at temperature 1 scored by the noised proposal's own
  // probability under T = 2, or Dream's origin revealing by step counts, fail it.
  const discrete_mixture m = dllm_mixture();
  for (dllm_case c : dllm_cases()) {
    if (c.name != "llada_t1_p8_s8_b8" && c.name != "dream_origin_p8_s8") continue;
    if (c.name == "llada_t1_p8_s8_b8") c.sampler.llada_opts.temperature = 2;
    else c.sampler.dream_opts.alg = dream_alg::maskgit_plus;
    const std::size_t n = mc_samples(20000);
    const discrete_run r = run_case(m, c, n, c.seed);
    double gap = 0;
    const double ratio = marginal_ratio(marginals_of(r.tokens, m.length(), m.vocab()), n, c.marginals, c.peer_samples, gap);
    INFO(c.name << " altered: ratio " << ratio << ", gap " << gap);
    CHECK(ratio > 2);
  }
}

TEST_CASE("llada and dream: the same tokens on any thread count; NFE at most the steps", "[discrete][llm][threads]") {
  const discrete_mixture m = dllm_mixture();
  for (const dllm_case& c : dllm_cases()) {
    if (c.kind != "stochastic") continue;
    const discrete_run one = run_case(m, c, 257, 3, 1), three = run_case(m, c, 257, 3, 3);
    INFO(c.name);
    CHECK(one.tokens == three.tokens);
    CHECK(one.stats.nfe_max <= c.steps);
  }
  for (const dllm_case& c : dllm_cases()) {  // CFG: two evaluations per step
    if (c.name != "llada_cfg05_p8_s8_b16") continue;
    CHECK(run_case(m, c, c.rows, 0).stats.nfe_max == 2 * c.steps);
  }
}

TEST_CASE("llada and dream allocate nothing per step", "[discrete][llm][alloc]") {
  const discrete_mixture m = dllm_mixture();
  for (dllm_case c : dllm_cases()) {
    if (c.name != "llada_infill_cfg1_p4_s6_b20" && c.name != "dream_maskgit_t1_p8_s8" && c.name != "dream_origin_p8_s8" &&
        c.name != "llada_t1_p8_s8_b8")
      continue;
    c.sampler.dream_opts.top_p = 0.9;
    c.sampler.dream_opts.alg_temp = c.name == "dream_maskgit_t1_p8_s8" ? 0.5 : 0.0;
    std::size_t counts[3];
    for (int r = 0; r < 3; ++r) {
      c.steps = c.name.rfind("llada", 0) == 0 ? (r == 2 ? 20 : 4) * (c.name == "llada_t1_p8_s8_b8" ? 2 : 1) : (r == 2 ? 48 : 6);
      count_allocations counter;
      run_case(m, c, c.rows, 1);
      counts[r] = counter.count();
    }
    INFO(c.name << ": " << counts[1] << " allocations with few steps, " << counts[2] << " with many");
    CHECK(counts[1] == counts[2]);
  }
}

namespace {
dllm_case case_named(const std::string& name) {
  for (dllm_case& c : dllm_cases())
    if (c.name == name) return c;
  FAIL("no case " << name);
  return {};
}
}  // namespace

TEST_CASE("llada and dream: one-line errors naming the option", "[discrete][llm]") {
  const discrete_mixture m = dllm_mixture();
  dllm_case c = case_named("llada_p8_s8_b8");
  c.block_size = 5;  // 16 positions after the prompt of 8
  CHECK_THROWS_WITH(run_case(m, c, 64, 0), "llada: block_size = 5 does not divide the generated span of 16 positions (8 to 23)");
  c.block_size = 32;  // longer than the span: LLaDA's gen_length % block_length fails too
  CHECK_THROWS_WITH(run_case(m, c, 64, 0), "llada: block_size = 32 does not divide the generated span of 16 positions (8 to 23)");
  c.block_size = 8;
  c.steps = 7;
  CHECK_THROWS_WITH(run_case(m, c, 64, 0), "sampler llada: steps = 7 is not a multiple of the 2 blocks (steps count every block's)");
  c.steps = 8;
  c.sampler.llada_opts.eos = eos_rule::logits;
  CHECK_THROWS_WITH(run_case(m, c, 64, 0), "llada: an eos rule needs eos_id, the EOS token");
  c.sampler.llada_opts.eos_id = 7;
  CHECK_THROWS_WITH(run_case(m, c, 64, 0), "llada: eos_id = 7 is not a token of the vocabulary [0, 7)");
  c.sampler.llada_opts = {.cfg_scale = 1};
  c.block_size = 0;
  std::fill(c.init.begin(), c.init.end(), std::int32_t(m.vocab()));  // nothing given
  CHECK_THROWS_WITH(run_case(m, c, 64, 0),
                    "llada: cfg_scale = 1 needs given tokens (a prompt or infill in init): the unconditional input masks them");
  CHECK_THROWS_WITH(parse_remasking("low-confidense"),
                    "remasking \"low-confidense\" is unknown (did you mean \"low-confidence\"?); expected low-confidence or random");
  CHECK_THROWS_WITH(parse_dream_alg("entropi"),
                    "alg \"entropi\" is unknown (did you mean \"entropy\"?); expected origin, maskgit-plus, topk-margin or entropy");
  CHECK(parse_dream_alg("maskgit_plus") == dream_alg::maskgit_plus);
  CHECK_THROWS_AS(dream(dream_options{.top_p = 0}), config_error);
  CHECK_THROWS_AS(llada(llada_options{.temperature = -1}), config_error);

  // Options the loops apply themselves, and grids LLaDA does not walk, are refused.
  dllm_case d = case_named("dream_maskgit_p8_s5");
  const process p{kernel{kernel_kind::masked, m.vocab()}, alpha_schedule(schedule_kind::linear)};
  std::vector<std::int32_t> x(64 * m.length());
  run_options o{.seed = 0, .steps = 5, .block_size = 0, .threads = 1, .first_row = 0, .categorical = {.temperature = 0}};
  o.init = const_token_view(d.init.data(), d.rows, m.length());
  CHECK_THROWS_WITH(sample(m, p, dream(d.sampler.dream_opts), token_view(x.data(), 64, m.length()), o),
                    "sampler dream applies its own temperature, top_k and top_p; leave run_options::categorical at its defaults");
  o.categorical = {};
  o.steps = 4;
  o.times = {1, 0.5, 0.25, 0};
  CHECK_THROWS_WITH(sample(m, p, dream(d.sampler.dream_opts), token_view(x.data(), 64, m.length()), o),
                    "discrete times: steps = 4 but the 4 times give 3 steps; set steps to 0 or 3");
  CHECK_THROWS_WITH(sample(m, p, llada(), token_view(x.data(), 64, m.length()), o), "sampler llada takes no time grid; leave times empty");
}

TEST_CASE("dream walks any grid: its own is torch.linspace(1, eps) in float32, ending at 0", "[discrete][llm]") {
  const dream d(dream_options{.eps = 0.05});
  const std::vector<double> t = d.times(6);
  REQUIRE(t.size() == 7);
  CHECK(t.front() == 1);
  CHECK(t.back() == 0);
  for (std::size_t i = 1; i < 6; ++i) {
    CHECK(t[i] == double(float(t[i])));                     // float32 values
    CHECK(t[i] == Approx(1 - double(i) * 0.95 / 6).epsilon(1e-7));  // 1 − i(1 − ε)/S
  }
  // A custom grid through the loop: the same tokens as Dream's own when the points are the same.
  const discrete_mixture m = dllm_mixture();
  const dllm_case c = case_named("dream_entropy_eps005_p8_s6");
  const process p{kernel{kernel_kind::masked, m.vocab()}, alpha_schedule(schedule_kind::linear)};
  std::vector<std::int32_t> x(c.rows * m.length());
  run_options o{.seed = 0, .steps = 0, .block_size = 0, .threads = 1, .first_row = 0, .categorical = {}};
  o.init = const_token_view(c.init.data(), c.rows, m.length());
  o.times = t;
  sample(m, p, dream(c.sampler.dream_opts), token_view(x.data(), c.rows, m.length()), o);
  CHECK(x == c.out);
}

namespace {
// Three positions, two tokens: before any token is revealed, position ℓ proposes token 0 with
// probability p_ℓ; afterwards every position proposes token 1. At temperature 0 the output names
// the position revealed first (the one that holds token 0).
struct first_reveal_model {
  static constexpr output_kind outputs = output_kind::probabilities;
  std::size_t vocab() const { return 2; }
  void operator()(const_token_view x, const noise_level&, std::span<double> out) const {
    const double p[3] = {0.6, 0.7, 0.9};
    for (std::size_t i = 0; i < x.rows; ++i) {
      const bool fresh = x(i, 0) == 2 && x(i, 1) == 2 && x(i, 2) == 2;
      for (std::size_t l = 0; l < 3; ++l) {
        out[(i * 3 + l) * 2] = fresh ? p[l] : 0.1;
        out[(i * 3 + l) * 2 + 1] = fresh ? 1 - p[l] : 0.9;
      }
    }
  }
};
}  // namespace

TEST_CASE("dream --alg-temp draws the positions to reveal from softmax(score / A)", "[discrete][llm]") {
  const process p{kernel{kernel_kind::masked, 2}, alpha_schedule(schedule_kind::linear)};
  const std::size_t n = mc_samples(60000);
  std::vector<std::int32_t> x(n * 3);
  run_options o{.seed = 11, .steps = 0, .block_size = 0, .threads = 2, .first_row = 0, .categorical = {}};
  o.times = {1, 0.6, 0};  // step 0 reveals ⌊3·0.4⌋ = 1 position, step 1 the other two
  const double A = 0.1;
  sample(first_reveal_model{}, p, dream(dream_options{.alg = dream_alg::maskgit_plus, .alg_temp = A}), token_view(x.data(), n, 3), o);
  double count[3] = {0, 0, 0};
  std::size_t not_one = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t zeros = 0;
    for (std::size_t l = 0; l < 3; ++l)
      if (x[3 * i + l] == 0) ++zeros, count[l] += 1;
    not_one += zeros != 1;
  }
  CHECK(not_one == 0);
  const double w[3] = {std::exp(0.6 / A), std::exp(0.7 / A), std::exp(0.9 / A)}, z = w[0] + w[1] + w[2];
  double chi2 = 0;
  for (std::size_t l = 0; l < 3; ++l) chi2 += std::pow(count[l] - double(n) * w[l] / z, 2) / (double(n) * w[l] / z);
  INFO("first reveals " << count[0] << " " << count[1] << " " << count[2] << ", chi2 " << chi2);
  CHECK(chi2 < 13.82);  // χ²₂ at p = 0.001
  // Without alg_temp the best score always goes first.
  sample(first_reveal_model{}, p, dream(dream_options{.alg = dream_alg::maskgit_plus}), token_view(x.data(), n, 3), o);
  std::size_t other = 0;
  for (std::size_t i = 0; i < n; ++i) other += x[3 * i + 2] != 0;
  CHECK(other == 0);
}

}  // namespace test_discrete_llm
