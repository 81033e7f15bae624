#pragma once
// Measuring the words model: its held-out NELBO, and what each masked sampler draws from it.
//
// NELBO. MDLM's continuous-time bound (Sahoo et al. 2024, Eq. 10) for the masked kernel and a
// time-independent denoiser, −log p(x) ≤ ∫₀¹ (−α'_t/(1 − α_t)) E_{x_t}[Σ_{ℓ masked} −log p_θ(x^ℓ | x_t)] dt,
// integrates in closed form over t: a given set m of k masked positions has probability
// α^{L−k}(1 − α)^k, and ∫ (1 − α)^{k−1} α^{L−k} dα = B(k, L − k + 1) = 1 / (k·C(L, k)), so
//
//   NELBO(x) = Σ_{k=1}^{L} E_{m uniform among the k-subsets}[(1/k) Σ_{ℓ∈m} −log p_θ(x^ℓ | x with m masked)],
//
// the same for every schedule α (Shi et al. 2024, MD4 §4; Ou et al. 2024). It is estimated with
// one random order of the positions per word (m_k = its first k positions): L model calls per
// word, unbiased. In bits per character it is divided by L ln 2 — per position, so a uniform model
// over the 27 tokens scores log2 27 = 4.75.
//
// Samples. Every row of the table is discrete::sample with the named sampler on the masked kernel
// and the linear schedule (MDLM's), `samples` rows from one seed, the model behind a
// memo_denoiser (the same answers; rows that did not change cost a lookup); a sample is valid when the word
// it spells (decode: its letters, pads dropped) is in the full list, held out when it is in the
// held-out list, which training never saw.
#include <cmath>
#include <cstdint>
#include <numbers>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "ferry/discrete/registry.hpp"
#include "ferry/discrete/sample.hpp"
#include "ferry/random/normal.hpp"
#include "memo_denoiser.hpp"
#include "words_data.hpp"
#include "words_model.hpp"

namespace words {

/// The random order of a word's positions in the NELBO estimate: keyed by (seed, word index).
inline constexpr std::uint32_t nelbo_order_stream = ferry::random::streams::categorical + 0x800000;

/// The NELBO of the words (N × L token rows) in nats per word, averaged; the same for any thread count.
inline double nelbo_nats(const word_denoiser& model, const std::vector<std::int32_t>& tokens, std::uint64_t seed,
                         [[maybe_unused]] int threads = 1) {
  const std::size_t length = model.length(), n = tokens.size() / length, v = vocab;
  if (n == 0 || tokens.size() % length) throw ferry::shape_error("words::nelbo_nats: no words, or rows of the wrong length");
  constexpr std::size_t chunk = 64;
  const std::size_t chunks = (n + chunk - 1) / chunk;
  std::vector<double> per_word(n, 0.0);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    std::vector<std::int32_t> x(chunk * length);
    std::vector<std::size_t> order(chunk * length);
    std::vector<double> logits(chunk * length * v);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (std::ptrdiff_t c = 0; c < std::ptrdiff_t(chunks); ++c) {
      const std::size_t first = std::size_t(c) * chunk, rows = std::min(chunk, n - first);
      for (std::size_t i = 0; i < rows; ++i) {  // Fisher–Yates, keyed by the word's index
        std::size_t* o = order.data() + i * length;
        for (std::size_t l = 0; l < length; ++l) o[l] = l;
        for (std::size_t l = length - 1; l > 0; --l) {
          const double u = ferry::random::uniform_at(seed, std::uint32_t(first + i), 0, nelbo_order_stream, l);
          std::swap(o[l], o[std::min(l, std::size_t(u * double(l + 1)))]);
        }
      }
      for (std::size_t k = 1; k <= length; ++k) {
        std::copy_n(tokens.data() + first * length, rows * length, x.data());
        for (std::size_t i = 0; i < rows; ++i)
          for (std::size_t j = 0; j < k; ++j) x[i * length + order[i * length + j]] = mask;
        model(ferry::discrete::const_token_view(x.data(), rows, length), {}, std::span<double>(logits.data(), rows * length * v));
        for (std::size_t i = 0; i < rows; ++i) {
          double ce = 0;
          for (std::size_t j = 0; j < k; ++j) {
            const std::size_t l = order[i * length + j];
            const double* s = logits.data() + (i * length + l) * v;
            double top = s[0], z = 0;
            for (std::size_t u = 1; u < v; ++u) top = std::max(top, s[u]);
            for (std::size_t u = 0; u < v; ++u) z += std::exp(s[u] - top);
            ce += top + std::log(z) - s[tokens[(first + i) * length + l]];
          }
          per_word[first + i] += ce / double(k);
        }
      }
    }
  }
  double total = 0;
  for (const double w : per_word) total += w;
  return total / double(n);
}

/// nats per word → bits per character (per position).
inline double bits_per_char(double nats_per_word, std::size_t length) { return nats_per_word / (double(length) * std::numbers::ln2); }

/// True when the discrete registry (with_sampler) knows the sampler `name`.
inline bool registered(const std::string& name) {
  try {
    ferry::discrete::with_sampler(ferry::discrete::sampler_settings{.name = name}, [](const auto&) { return 0; });
    return true;
  } catch (const ferry::config_error&) {
    return false;
  }
}

/// The table's samplers, in its order: the masked samplers of the discrete registry (euler and
/// tweedie are left out: on the masked kernel with the linear schedule both draw what ancestral
/// draws, without its caching). llada and dream join as soon as the registry has them.
inline std::vector<std::string> masked_samplers() {
  std::vector<std::string> names;
  for (const char* n : {"ancestral", "tau-leaping", "pc", "first-hitting", "confidence", "llada", "dream"})
    if (registered(n)) names.emplace_back(n);
  return names;
}

/// True for the samplers that ignore the step count: event-driven ones (first-hitting draws L
/// unmasking events), whose rows are the same at every K.
inline bool ignores_steps(const std::string& name) {
  return ferry::discrete::with_sampler(ferry::discrete::sampler_settings{.name = name}, [](const auto& s) {
    return ferry::discrete::detail::event_driven<std::decay_t<decltype(s)>>;
  });
}

/// A row's sampler: a discrete registry name and the temperature of its categorical draws
/// (run_options::categorical; 1 samples the model's own law).
struct sampler_entry {
  std::string name;
  double temperature = 1;
  /// "confidence", or "confidence (T=0.5)" away from temperature 1.
  std::string label() const {
    if (temperature == 1) return name;
    std::ostringstream os;
    os << name << " (T=" << temperature << ")";
    return os.str();
  }
};

/// "name" or "name@T" (a temperature T in (0, 10]); config_error otherwise.
inline sampler_entry parse_sampler_entry(const std::string& s) {
  const std::size_t at = s.find('@');
  sampler_entry e{s.substr(0, at), 1};
  if (at != std::string::npos) {
    std::size_t used = 0;
    try {
      e.temperature = std::stod(s.substr(at + 1), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size() - at - 1 || !(e.temperature > 0 && e.temperature <= 10))
      throw ferry::config_error(ferry::detail::cat("words: sampler \"", ferry::detail::escape(s), "\": expected NAME or NAME@T with a temperature T in (0, 10]"));
  }
  if (!registered(e.name)) ferry::discrete::with_sampler(ferry::discrete::sampler_settings{.name = e.name}, [](const auto&) { return 0; });  // throws the registry's message
  return e;
}

/// One row of the table.
struct eval_row {
  std::string sampler;
  std::size_t steps = 0;
  double nfe = 0;  ///< model evaluations per word, mean over the samples
  double valid_rate = 0, heldout_rate = 0, nelbo_bpc = 0;
  std::vector<std::string> words;  ///< every sample, decoded
};

/// One sampler at one step count: `samples` words from the model, scored against the lists.
inline eval_row sample_row(const word_denoiser& model, const word_list& train, const word_list& heldout, const sampler_entry& sampler,
                           std::size_t steps, std::size_t samples, int threads, std::uint64_t seed) {
  namespace d = ferry::discrete;
  const std::size_t length = model.length();
  const d::process p{d::kernel{d::kernel_kind::masked, vocab}, d::alpha_schedule(d::schedule_kind::linear)};
  std::vector<std::int32_t> x(samples * length);
  d::run_options o{.seed = seed, .steps = steps, .block_size = 0, .threads = threads, .first_row = 0, .categorical = {}};
  o.categorical.temperature = sampler.temperature;
  const d::run_stats st = d::with_sampler(d::sampler_settings{.name = sampler.name}, [&](const auto& s) {
    return d::sample(memo_denoiser(model), p, s, d::token_view(x.data(), samples, length), o);
  });
  eval_row r{sampler.label(), steps, st.nfe_mean, 0, 0, 0, {}};
  std::size_t valid = 0, held = 0;
  for (std::size_t i = 0; i < samples; ++i) {
    std::string w = decode(std::span<const std::int32_t>(x.data() + i * length, length));
    const bool in_heldout = heldout.contains(w);
    valid += in_heldout || train.contains(w);
    held += in_heldout;
    r.words.push_back(std::move(w));
  }
  r.valid_rate = double(valid) / double(samples), r.heldout_rate = double(held) / double(samples);
  return r;
}

}  // namespace words
