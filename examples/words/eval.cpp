// words_eval: the words part of `ferry demo` on its own — every masked sampler draws words from the
// trained denoiser (built in, or --weights FILE), and the table, the samples and the figure are written
// to --out (words_demo.hpp lists the files).
//
//   words_eval --out words-out --threads 2
#include <CLI/CLI.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ferry/core/error.hpp"
#include "words_demo.hpp"

int main(int argc, char** argv) {
  words::demo_options o;
  o.out = "words-out";
  o.threads = int(std::max(1u, std::thread::hardware_concurrency()));
  std::string weights, train, heldout, out = o.out.string();
  std::vector<std::string> samplers;
  for (const words::sampler_entry& e : o.samplers) {
    std::ostringstream os;
    os << e.name;
    if (e.temperature != 1) os << "@" << e.temperature;
    samplers.push_back(os.str());
  }
  CLI::App app{"words_eval: masked samplers on the trained words denoiser (valid-word rates, held-out NELBO)"};
  app.add_option("--weights", weights, "weights file (default: the built-in data/words_model.bin)");
  app.add_option("--train", train, "training words (default: the built-in data/train.txt)");
  app.add_option("--heldout", heldout, "held-out words (default: the built-in data/heldout.txt)");
  app.add_option("--out", out, "directory for words.csv, words.md, words_samples.tsv, words_valid_rate.png")->capture_default_str();
  app.add_option("--samplers", samplers, "masked samplers: registry names, NAME@T for temperature T")->delimiter(',')->capture_default_str();
  app.add_option("--steps", o.steps, "step counts")->delimiter(',')->capture_default_str();
  app.add_option("--samples", o.samples, "samples per row")->capture_default_str();
  app.add_option("--threads", o.threads, "threads over rows (the results do not depend on it)")->capture_default_str();
  app.add_option("--seed", o.seed, "seed of every draw")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  o.out = out;
  try {
    o.samplers.clear();
    for (const std::string& s : samplers) o.samplers.push_back(words::parse_sampler_entry(s));
    const auto start = std::chrono::steady_clock::now();
    const words::word_denoiser model =
        weights.empty() ? words::embedded_model() : words::word_denoiser(words::model_weights::load(weights));
    const words::word_list tr = train.empty() ? words::embedded_train() : words::load_words(train);
    const words::word_list he = heldout.empty() ? words::embedded_heldout() : words::load_words(heldout);
    o.progress = [](std::size_t done, std::size_t total, const std::string& what) {
      std::cerr << "\r" << done << "/" << total << " " << std::left << std::setw(40) << what << std::right << std::flush;
      if (done == total) std::cerr << "\n";
    };
    const std::vector<words::eval_row> rows = words::run_words(model, tr, he, o);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << words::words_markdown(rows) << "\nwrote " << (o.out / "words.csv").string()
              << ", words.md, words_samples.tsv, words_valid_rate.png (" << std::fixed << std::setprecision(1) << secs << " s)\n";
  } catch (const ferry::error& e) {
    std::cerr << "words_eval: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
