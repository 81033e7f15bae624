#pragma once
// The dllm reference cases (tests/data/dllm, REFERENCE.md): each case's flags as the discrete
// library's settings, its INIT and the peer's output or marginals, and the tolerance on marginals.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "discrete_support.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/io/read_json.hpp"

namespace ferry_test {

inline const std::string dllm_data = FERRY_TEST_DATA "/dllm/";

struct dllm_case {
  std::string name, kind;
  ferry::discrete::sampler_settings sampler;
  std::size_t steps = 0, block_size = 0, num_samples = 0, peer_samples = 0;
  std::uint64_t seed = 0;
  std::vector<std::int32_t> init, out;  // out: deterministic cases
  std::vector<double> marginals;        // stochastic cases: L×V
  std::size_t rows = 0;                 // of init
};

/// The case's "args" (ferry sample-discrete flags) as settings; an unknown flag fails the test.
inline void apply_flags(dllm_case& c, const std::vector<std::string>& args) {
  using namespace ferry::discrete;
  for (std::size_t k = 0; k + 1 < args.size(); k += 2) {
    const std::string& f = args[k];
    const std::string& v = args[k + 1];
    llada_options& ll = c.sampler.llada_opts;
    dream_options& dr = c.sampler.dream_opts;
    if (f == "--sampler") c.sampler.name = v;
    else if (f == "--steps") c.steps = std::stoul(v);
    else if (f == "--block-size") c.block_size = std::stoul(v);
    else if (f == "--remasking") ll.remasking = parse_remasking(v);
    else if (f == "--temperature") ll.temperature = dr.temperature = std::stod(v);
    else if (f == "--cfg-scale") ll.cfg_scale = std::stod(v);
    else if (f == "--eos-id") ll.eos_id = std::stol(v);
    else if (f == "--eos-rule") ll.eos = parse_eos_rule(v);
    else if (f == "--alg") dr.alg = parse_dream_alg(v);
    else if (f == "--alg-temp") dr.alg_temp = std::stod(v);
    else if (f == "--eps") dr.eps = std::stod(v);
    else if (f == "--top-p") dr.top_p = std::stod(v);
    else if (f == "--top-k") dr.top_k = std::stoul(v);
    else FAIL("case " << c.name << ": flag " << f << " is not known to the test");
  }
}

inline std::vector<dllm_case> dllm_cases() {
  const nlohmann::json j = ferry::io::read_json(dllm_data + "cases.json", "the dllm cases");
  std::vector<dllm_case> cases;
  for (const auto& [name, e] : j.items()) {
    dllm_case c;
    c.name = name;
    c.kind = e.at("kind").get<std::string>();
    apply_flags(c, e.at("args").get<std::vector<std::string>>());
    const auto init = ferry::io::read_npy(dllm_data + e.at("files").at("init").get<std::string>());
    c.init = init.as<std::int32_t>();
    c.rows = init.shape.at(0);
    if (c.kind == "deterministic") {
      c.out = ferry::io::read_npy(dllm_data + e.at("files").at("out").get<std::string>()).as<std::int32_t>();
    } else {
      c.marginals = ferry::io::read_npy(dllm_data + e.at("files").at("marginals").get<std::string>()).as<double>();
      c.num_samples = e.at("num_samples").get<std::size_t>();
      c.peer_samples = e.at("peer_samples").get<std::size_t>();
      c.seed = e.at("ferry_seed").get<std::uint64_t>();
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

inline ferry::discrete_mixture dllm_mixture() { return ferry::discrete_mixture::load(dllm_data + "mixture.json"); }

/// Runs a case's sampler on the mixture: `n` rows from its INIT (its own rows, or its one row repeated).
inline discrete_run run_case(const ferry::discrete_mixture& m, const dllm_case& c, std::size_t n, std::uint64_t seed, int threads = 1) {
  using namespace ferry::discrete;
  const process p{kernel{kernel_kind::masked, m.vocab()}, alpha_schedule(schedule_kind::linear)};
  run_options o;
  o.seed = seed;
  o.steps = c.steps;
  o.block_size = c.block_size;
  o.threads = threads;
  o.init = const_token_view(c.init.data(), c.rows, m.length());
  discrete_run r;
  r.tokens.assign(n * m.length(), -1);
  r.stats = with_sampler(c.sampler, [&](auto smp) { return sample(m, p, smp, token_view(r.tokens.data(), n, m.length()), o); });
  return r;
}

/// The per-position token frequencies (L×V) of N×L tokens.
inline std::vector<double> marginals_of(const std::vector<std::int32_t>& x, std::size_t length, std::size_t vocab) {
  std::vector<double> f(length * vocab, 0.0);
  const std::size_t n = x.size() / length;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t l = 0; l < length; ++l) f[l * vocab + std::size_t(x[i * length + l])] += 1.0 / double(n);
  return f;
}

/// REFERENCE.md's test: |f − g| ≤ 4·SE + 0.002, SE = √(p̄(1 − p̄)(1/n_f + 1/n_g)) with the pooled p̄.
/// Returns the largest |f − g| / (4·SE + 0.002) (≤ 1 passes) and, in worst_gap, the largest |f − g|.
inline double marginal_ratio(const std::vector<double>& f, std::size_t nf, const std::vector<double>& g, std::size_t ng,
                             double& worst_gap) {
  double worst = 0;
  worst_gap = 0;
  for (std::size_t e = 0; e < f.size(); ++e) {
    const double pooled = (f[e] * double(nf) + g[e] * double(ng)) / double(nf + ng);
    const double se = std::sqrt(pooled * (1 - pooled) * (1 / double(nf) + 1 / double(ng)));
    worst = std::max(worst, std::abs(f[e] - g[e]) / (4 * se + 0.002));
    worst_gap = std::max(worst_gap, std::abs(f[e] - g[e]));
  }
  return worst;
}

}  // namespace ferry_test
