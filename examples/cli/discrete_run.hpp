#pragma once
// The CLI's one dispatch of the discrete samplers by name (defined in cmd_sample_discrete.cpp), for
// `ferry sample-discrete` and the demo's discrete part: every sampler is instantiated once.
#include "ferry/discrete/registry.hpp"
#include "ferry/discrete/sample.hpp"
#include "ferry/models/discrete_mixture.hpp"

namespace ferry::cli {

/// discrete::sample(model, p, sampler named in s, x, o) for the exact mixture oracle.
discrete::run_stats sample_discrete_mixture(const discrete_mixture& model, const discrete::process& p,
                                            const discrete::sampler_settings& s, discrete::token_view x,
                                            const discrete::run_options& o);

}  // namespace ferry::cli
