// torch's seeds in diffusers' loop for the classes of tests/data/diffusers2: compat::sample with
// torch_noise (one generator: the initial latents, then every draw in the order the scheduler's step()
// calls make them) gives the bytes of the same run with the generator's arrays injected call by call —
// array k + 1 at the k-th call of the case's `draws` — the convention under which these classes
// reproduce diffusers (test_compat_sampling.cpp). So a run seeded with torch's generator is the diffusers
// loop that spends that generator, for every stochastic class: KDPM2Ancestral (second calls only),
// SASolver (every call, τ = 0 ones too), DPM-Solver single-step and EDM DPM-Solver SDE, stochastic
// FlowMatchEuler, DDPMWuerstchen. DPMSolverSDE and CosineDPMSolverMultistep draw from torchsde's
// Brownian tree in diffusers, not from the generator: the generator then draws the latents only, and
// the steps take ferry's keyed Brownian tree of the same seed.
#include <algorithm>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/random/torch_generator.hpp"
#include "test_support.hpp"

namespace test_torch_rng_diffusers2 {

// The reference set: tests/data/diffusers2/ (cases.json and its arrays).
const ferry_test::reference_set& refs = ferry_test::diffusers2_refs;

using namespace ferry;
using nlohmann::json;

namespace {

bool same(const batch<double>& a, const batch<double>& b) { return std::equal(a.data(), a.data() + a.size(), b.data()); }

}  // namespace

TEST_CASE("torch_noise in diffusers' loop: the diffusers2 classes draw where their step() calls draw", "[random][torch][compat]") {
  const std::size_t n = 37;  // N·D = 74: blocks of 16 and a redrawn tail
  const std::uint64_t seed = 2024;
  std::size_t checked = 0, trees = 0;
  for (const auto& [name, c] : refs.cases().items()) {
    const auto draws = c.at("draws").get<std::vector<std::size_t>>();
    if (draws.empty()) continue;
    INFO(name);
    const compat::diffusers_config cfg = compat::parse_diffusers_config(c.at("scheduler_config"), std::nullopt, name);
    const compat::diffusers_grid g = compat::set_timesteps(cfg, c.at("steps").get<std::size_t>());
    auto model = gaussian_mixture<double>::load(refs.dir + "gmm.json");
    model.predicts = compat::model_prediction(cfg);
    const std::size_t dim = model.dim();
    compat::step_kwargs kw;
    if (c.at("step_kwargs").contains("s_noise")) kw.s_noise = c.at("step_kwargs").at("s_noise").get<double>();
    const double scale = compat::initial_scale(cfg, g);
    const bool tree = cfg.kind == compat::scheduler_class::dpm_sde || cfg.kind == compat::scheduler_class::cosine_dpm_multistep;

    // The generator's initial array, then its arrays at the drawing calls (other calls: zeros, unread).
    random::torch_cpu_generator gen(seed);
    batch<double> x_injected(n, dim);
    gen.randn(x_injected.view().span());
    const batch<double> z = x_injected;
    const std::size_t calls = draws.back() + 1;
    std::vector<double> w(calls * n * dim, 0.0);
    for (std::size_t k : draws) gen.randn(std::span<double>(w.data() + k * n * dim, n * dim));
    simd::lincomb<double, 1>(x_injected.view().span(), {scale}, {x_injected.data()});
    if (tree) {  // the reference for the Brownian-tree classes: ferry's keyed tree of the same seed
      compat::sample(cfg, g, model, x_injected.view(), no_observer{}, keyed_noise{seed, 0}, sample_options{}, kw);
      ++trees;
    } else {
      compat::sample(cfg, g, model, x_injected.view(), no_observer{}, injected_noise<double>{w.data(), calls, n, dim, 0}, sample_options{}, kw);
    }

    for (int threads : {1, 2}) {
      INFO("threads " << threads);
      torch_noise<double> src({.seed = seed, .batch = {n, dim}});
      batch<double> x(n, dim);
      src.initial(x.view());
      REQUIRE(same(x, z));
      simd::lincomb<double, 1>(x.view().span(), {scale}, {x.data()});
      // The seed keys ferry's Brownian tree where the class has one (torch_noise alone carries no seed for it).
      const runtime_noise<double> noise{keyed_noise{seed, 0}, {}, src};
      compat::sample(cfg, g, model, x.view(), no_observer{}, noise, sample_options{.threads = threads, .chunk_rows = 16}, kw);
      CHECK(same(x, x_injected));
      // arrays drawn: the latents, then one per drawing call but perhaps the last (multiplied by 0 or by
      // σ_next = 0 there: ferry does not ask for it, and no later draw follows); the trees draw none
      if (tree) CHECK(src.draws() == 1);
      else CHECK((src.draws() == draws.size() + 1 || src.draws() == draws.size()));
    }
    ++checked;
  }
  CHECK(checked == 17);
  CHECK(trees == 5);
}

}  // namespace test_torch_rng_diffusers2
