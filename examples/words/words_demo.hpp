#pragma once
// The words part of `ferry demo` (and of the words_eval program): every masked sampler draws words
// from the trained model at several step counts; the table, every sampled word and a figure go
// into one directory.
//
//   words.csv           sampler,steps,nfe,valid_rate,heldout_rate,nelbo_bpc   (a row per sampler and step count)
//   words.md            the same as a Markdown table, and a few words per sampler
//   words_samples.tsv   sampler<TAB>steps<TAB>word, every sample of every row (the word decoded: letters only)
//   words_valid_rate.png  valid-word and held-out-word rates against steps, a line per sampler
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "words_eval.hpp"

namespace words {

/// The demo's rows: every masked sampler of the registry at temperature 1 (the model's own law),
/// then the confidence decoder at temperature `low`, the setting diffusion LMs decode with.
inline std::vector<sampler_entry> default_samplers(double low = 0.5) {
  std::vector<sampler_entry> r;
  for (const std::string& n : masked_samplers()) r.push_back({n, 1});
  r.push_back({"confidence", low});
  return r;
}

struct demo_options {
  std::filesystem::path out = "ferry-demo";
  std::vector<sampler_entry> samplers = default_samplers();
  std::vector<std::size_t> steps = {4, 8, 16, 32};
  std::size_t samples = 2000;  ///< per row
  int threads = 1;
  std::uint64_t seed = 0;
  /// Called before and after each row: (rows done, rows in all, what runs now).
  std::function<void(std::size_t, std::size_t, const std::string&)> progress{};
};

/// The trained model and the word lists compiled into the binary (data/).
word_denoiser embedded_model();
word_list embedded_train();
word_list embedded_heldout();

/// Evaluates every sampler × step count of o on the model and writes the four files into o.out
/// (created if missing; each written atomically, all after the runs). Options are checked first:
/// a bad one throws ferry::config_error before anything runs or is written.
std::vector<eval_row> run_words(const word_denoiser& model, const word_list& train, const word_list& heldout, const demo_options& o);

/// run_words on the embedded model and lists: what `ferry demo` calls.
inline std::vector<eval_row> run_words_demo(const demo_options& o) {
  return run_words(embedded_model(), embedded_train(), embedded_heldout(), o);
}

/// The file contents, for callers that write elsewhere.
std::string words_csv(const std::vector<eval_row>& rows);
std::string words_samples_tsv(const std::vector<eval_row>& rows);
/// The table as Markdown, then up to `examples` words of each sampler's row with the most steps.
std::string words_markdown(const std::vector<eval_row>& rows, std::size_t examples = 8);
/// words_valid_rate.png: valid-word (left) and held-out-word (right) rate against steps.
void words_figure(const std::filesystem::path& path, const std::vector<eval_row>& rows);

}  // namespace words
