#pragma once
// The one place that maps discrete sampler names to sampler types, for the CLI and for programs
// that pick a sampler at run time: with_sampler(settings, f) calls f with the sampler object.
#include <cstddef>
#include <string>
#include <string_view>

#include "ferry/core/error.hpp"
#include "ferry/discrete/ancestral.hpp"
#include "ferry/discrete/confidence.hpp"
#include "ferry/discrete/dream.hpp"
#include "ferry/discrete/euler.hpp"
#include "ferry/discrete/first_hitting.hpp"
#include "ferry/discrete/llada.hpp"
#include "ferry/discrete/predictor_corrector.hpp"
#include "ferry/discrete/tau_leaping.hpp"
#include "ferry/discrete/tweedie.hpp"

namespace ferry::discrete {

struct sampler_settings {
  std::string name = "ancestral";  ///< euler | tau-leaping | pc | tweedie | ancestral | first-hitting | confidence | llada | dream
  std::size_t corrector_steps = 1;  ///< pc
  double corrector_size = 1;        ///< pc: τ_c / τ
  bool cache = true;                ///< ancestral
  confidence_score score = confidence_score::max_prob;
  std::size_t remask = 0;  ///< confidence
  llada_options llada_opts{};  ///< llada
  dream_options dream_opts{};  ///< dream
};

inline confidence_score parse_confidence_score(std::string_view name) {
  if (name == "max-prob") return confidence_score::max_prob;
  if (name == "margin") return confidence_score::margin;
  throw config_error(detail::cat("confidence score \"", ferry::detail::escape(name), "\" is unknown",
                                 ferry::detail::did_you_mean(name, {"max-prob", "margin"}), "; expected max-prob or margin"));
}

/// The sampler names with_sampler knows.
inline constexpr const char* sampler_names[] = {"euler", "tau-leaping", "pc", "tweedie", "ancestral", "first-hitting", "confidence", "llada", "dream"};

/// Throws config_error unless `name` is one of sampler_names.
inline void check_sampler_name(std::string_view name) {
  for (const char* n : sampler_names)
    if (name == n) return;
  throw config_error(detail::cat("sampler \"", ferry::detail::escape(name), "\" is unknown", ferry::detail::did_you_mean(name, sampler_names),
                                 "; expected euler, tau-leaping, pc, tweedie, ancestral, first-hitting, confidence, llada or dream"));
}

template <class F>
decltype(auto) with_sampler(const sampler_settings& s, F&& f) {
  if (s.name == "euler") return f(euler{});
  if (s.name == "tau-leaping") return f(tau_leaping{});
  if (s.name == "pc") return f(predictor_corrector{.corrector_steps = s.corrector_steps, .corrector_size = s.corrector_size});
  if (s.name == "tweedie") return f(tweedie{});
  if (s.name == "ancestral") return f(ancestral{.cache = s.cache});
  if (s.name == "first-hitting") return f(first_hitting{});
  if (s.name == "confidence") {
    confidence c;  // not an aggregate: it owns per-row workspaces
    c.score = s.score;
    c.remask = s.remask;
    return f(c);
  }
  if (s.name == "llada") return f(llada(s.llada_opts));
  if (s.name == "dream") return f(dream(s.dream_opts));
  check_sampler_name(s.name);  // throws: every name is handled above
  throw config_error("with_sampler: unreachable");
}

}  // namespace ferry::discrete
