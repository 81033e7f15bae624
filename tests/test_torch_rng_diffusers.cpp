// A seeded torch generator in diffusers' loop: compat::sample with torch_noise (one generator: the
// initial latents, then each step() call that draws) gives the bytes of the same run with the
// generator's arrays injected as the step noise, call by call as diffusers' reference runs inject
// them (tests/data/diffusion_sde: injected runs reproduce diffusers to 1e-4). So a run seeded with
// torch's generator is the diffusers loop that spends that generator, for every stochastic class.
#include <string>
#include <vector>

#include "catch.hpp"
#include "ferry/compat/diffusers_sampler.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/random/torch_generator.hpp"
#include "test_support.hpp"

namespace test_torch_rng_diffusers {

using namespace ferry;

TEST_CASE("torch_noise in diffusers' loop: the generator's draws in the order the scheduler's step() calls make them",
          "[random][torch][compat]") {
  const std::size_t n = 37;  // N·D = 74: blocks of 16 and a redrawn tail
  for (const auto& [name, c] : ferry_test::sde_cases().items()) {
    if (!c.contains("scheduler_config")) continue;  // the diffusers cases
    INFO(name);
    const compat::diffusers_config cfg = compat::parse_diffusers_config(c.at("scheduler_config"));
    const std::size_t steps = c.at("steps").get<std::size_t>();
    const compat::diffusers_grid g = compat::set_timesteps(cfg, steps);
    auto model = gaussian_mixture<double>::load(ferry_test::sde_dir + "gmm.json");
    model.predicts = cfg.prediction_type;
    const std::size_t dim = model.dim();
    compat::step_kwargs kw;
    if (c.at("step_kwargs").contains("eta")) kw.eta = c.at("step_kwargs").at("eta").get<double>();
    const double scale = compat::initial_scale(cfg, g);

    // The generator's arrays: the initial latents, then one per step() call. Each of these classes
    // draws in every call, or in every call but the last (DDPM at t = 0, LCM, TCD): injected step i is
    // the generator's (i + 1)-th array either way.
    random::torch_cpu_generator gen(2024);
    batch<double> x_injected(n, dim);
    gen.randn(x_injected.view().span());
    std::vector<double> w(steps * n * dim);
    for (std::size_t i = 0; i < steps; ++i) gen.randn(std::span<double>(w.data() + i * n * dim, n * dim));
    simd::lincomb<double, 1>(x_injected.view().span(), {scale}, {x_injected.data()});
    compat::sample(cfg, g, model, x_injected.view(), no_observer{}, injected_noise<double>{w.data(), steps, n, dim, 0}, sample_options{}, kw);

    for (int threads : {1, 2}) {
      torch_noise<double> src({.seed = 2024, .batch = {n, dim}});
      batch<double> x(n, dim);
      src.initial(x.view());
      simd::lincomb<double, 1>(x.view().span(), {scale}, {x.data()});
      compat::sample(cfg, g, model, x.view(), no_observer{}, src, sample_options{.threads = threads, .chunk_rows = 16}, kw);
      INFO("threads " << threads);
      CHECK(std::equal(x.data(), x.data() + x.size(), x_injected.data()));
    }
  }
}

}  // namespace test_torch_rng_diffusers
