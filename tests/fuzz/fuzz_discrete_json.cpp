// libFuzzer harness: the discrete-mixture JSON reader (discrete_mixture::from_json after
// nlohmann's parser, as discrete_mixture::load does). A mixture it accepts must give normalised
// posteriors for an all-masked sequence; a rejected one throws a ferry::error with a clean message.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

#include "ferry/models/discrete_mixture.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parsed = ferry_fuzz::parse_json(data, size);
  if (!parsed) return 0;
  const nlohmann::json& j = *parsed;
  try {
    const auto m = ferry::discrete_mixture::from_json(j, "f.json");
    if (m.length() * m.vocab() > 4096) return 0;  // evaluation cost only
    std::vector<std::int32_t> x(m.length(), std::int32_t(m.vocab()));  // every position masked
    std::vector<double> post(m.length() * m.vocab());
    m.posterior(x.data(), 0.5, post.data());
    for (std::size_t l = 0; l < m.length(); ++l) {
      double s = 0;
      for (std::size_t v = 0; v < m.vocab(); ++v) s += post[l * m.vocab() + v];
      if (!(std::abs(s - 1) < 1e-9)) std::abort();  // an accepted mixture gives a distribution
    }
  } catch (const ferry::error& e) {
    ferry_fuzz::require_clean(e.what());
  }
  return 0;
}
