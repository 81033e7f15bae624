// libFuzzer harness: the diffusers scheduler-config loader (parse_diffusers_config after the JSON
// parser with Python's NaN/Infinity literals, as load_diffusers_config does), then set_timesteps for
// a step count and, where the config shifts dynamically, a mu, both from the last byte.
// Accepted configs must give finite timesteps; rejected ones a ferry::error with a clean message.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "ferry/compat/diffusers_config.hpp"
#include "ferry/compat/diffusers_timesteps.hpp"
#include "ferry/io/read_json.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t steps = data[size - 1] % 64 + 1;
  const double mu = double(data[size - 1] / 64) * 0.5 + 0.25;
  nlohmann::json j;
  try {
    j = ferry::io::parse_json_text(std::string_view(reinterpret_cast<const char*>(data), size - 1), ferry::io::json_literals::python);
  } catch (const nlohmann::json::exception& e) {
    ferry_fuzz::require_clean(ferry::detail::escape(e.what()));
    return 0;
  }
  try {
    const ferry::compat::diffusers_config c = ferry::compat::parse_diffusers_config(j, std::nullopt, "f.json");
    for (const auto& w : c.warnings) ferry_fuzz::require_clean(w);
    if (c.num_train_timesteps > 4096) return 0;  // bounded cost per input
    ferry::compat::timestep_args args;
    if (c.use_dynamic_shifting) args.mu = mu;
    const ferry::compat::diffusers_grid g = ferry::compat::set_timesteps(c, steps, args);
    for (const auto& w : g.warnings) ferry_fuzz::require_clean(w);
    for (double t : g.timesteps)
      if (std::isnan(t)) std::abort();
    for (double s : g.sigmas)
      if (std::isnan(s)) std::abort();
  } catch (const ferry::error& e) {
    ferry_fuzz::require_clean(e.what());
  }
  return 0;
}
