#pragma once
// The discrete part of `ferry demo`: every masked discrete sampler samples a discrete mixture
// (tests/data/discrete/mixture.json, built in; linear schedule) with the exact mixture oracle as the
// denoiser, at several step counts; each run is measured by the total variation between the
// empirical law of its samples and p0, enumerated over all V^L sequences.
#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "demo_common.hpp"

namespace ferry::cli::demo {

inline constexpr std::array<std::size_t, 6> discrete_step_counts = {2, 4, 8, 16, 32, 64};
// tweedie is left out: on the masked kernel it draws what ancestral draws (the same TV at every K), without caching.
inline constexpr std::array<const char*, 6> discrete_samplers = {"ancestral", "euler", "tau-leaping", "pc", "confidence", "first-hitting"};

/// The progress bar's items of run_discrete: first-hitting runs once.
inline constexpr std::size_t discrete_runs = (discrete_samplers.size() - 1) * discrete_step_counts.size() + 1;

struct discrete_result {
  std::string sampler;
  std::size_t steps, nfe_max;  // steps: K (first-hitting: L events); nfe_max = 0 for the exact row
  double nfe_mean, tv;
};

/// Every sampler of discrete_samplers at every K with n samples, then the exact-sample floor (sampler "exact").
std::vector<discrete_result> run_discrete(const options& opt, std::size_t n, progress& bar, std::size_t& done);

/// discrete.csv and discrete.md; prints the Markdown with a heading.
void write_discrete_tables(const std::filesystem::path& dir, const std::vector<discrete_result>& rows, std::size_t n);

}  // namespace ferry::cli::demo
