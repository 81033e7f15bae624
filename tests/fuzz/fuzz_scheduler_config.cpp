// libFuzzer harness: the diffusers scheduler-config loader (parse_diffusers_config after the JSON
// parser, as load_diffusers_config does), then set_timesteps for a step count from the last byte.
// Accepted configs must give finite timesteps/sigmas; rejected ones a ferry::error with a clean message.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "ferry/compat/diffusers_config.hpp"
#include "ferry/compat/diffusers_timesteps.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t steps = data[size - 1] % 64 + 1;
  const auto parsed = ferry_fuzz::parse_json(data, size - 1);
  if (!parsed) return 0;
  const nlohmann::json& j = *parsed;
  try {
    const ferry::compat::diffusers_config c = ferry::compat::parse_diffusers_config(j, std::nullopt, "f.json");
    for (const auto& w : c.warnings) ferry_fuzz::require_clean(w);
    if (c.num_train_timesteps > 4096) return 0;  // bounded cost per input
    const ferry::compat::diffusers_grid g = ferry::compat::set_timesteps(c, steps);
    for (double s : g.sigmas)
      if (std::isnan(s)) std::abort();
  } catch (const ferry::error& e) {
    ferry_fuzz::require_clean(e.what());
  }
  return 0;
}
