#include "words_demo.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "ferry/core/error.hpp"
#include "ferry/io/atomic_file.hpp"
#include "plot.hpp"
#include "words_embedded.hpp"

namespace words {

word_denoiser embedded_model() { return word_denoiser(model_weights::from_bytes(embedded::weights(), "the built-in words model")); }
word_list embedded_train() { return parse_words(embedded::train(), "the built-in training words"); }
word_list embedded_heldout() { return parse_words(embedded::heldout(), "the built-in held-out words"); }

namespace {

std::string fmt(double v, int precision) {
  std::ostringstream os;
  os << std::setprecision(precision) << v;
  return os.str();
}

/// Checks o before anything runs: every sampler name known, steps and samples positive.
void validate(const demo_options& o) {
  namespace d = ferry::discrete;
  if (o.samplers.empty()) throw ferry::config_error("words: no samplers; expected at least one masked sampler name");
  for (const sampler_entry& s : o.samplers) {
    d::with_sampler(d::sampler_settings{.name = s.name}, [](const auto&) { return 0; });  // throws for an unknown name
    if (!(s.temperature > 0 && s.temperature <= 10))
      throw ferry::config_error(ferry::detail::cat("words: ", s.name, " at temperature ", s.temperature, "; expected (0, 10]"));
  }
  if (o.steps.empty()) throw ferry::config_error("words: no step counts; expected at least one");
  for (const std::size_t k : o.steps)
    if (k < 1 || k > 100000) throw ferry::config_error(ferry::detail::cat("words: steps ", k, "; expected 1 to 100000"));
  if (o.samples < 1 || o.samples > 10000000)
    throw ferry::config_error(ferry::detail::cat("words: samples ", o.samples, "; expected 1 to 10000000"));
  if (o.threads < 1) throw ferry::config_error(ferry::detail::cat("words: threads ", o.threads, "; expected at least 1"));
}

using ferry::cli::draw::canvas;

/// The legend's name of a row's sampler: first-hitting says that its steps are its L events.
std::string ignores_steps_label(const std::string& sampler) {
  const std::string name = sampler.substr(0, sampler.find(' '));
  return registered(name) && ignores_steps(name) ? sampler + " (L events)" : sampler;
}
using ferry::cli::draw::rgb;

/// A chart of rate (linear, 0 to the top tick) against steps (log2) in box b.
void rate_panel(canvas& img, ferry::cli::panel_box b, const std::string& title, const std::string& y_label,
                const std::vector<ferry::cli::series>& lines, const std::vector<double>& steps) {
  namespace draw = ferry::cli::draw;
  double top = 0;
  for (const auto& s : lines)
    for (const double y : s.y) top = std::max(top, y);
  const std::vector<double> yt = draw::nice_ticks(0, std::max(top, 1e-3) * 105, 5);  // in percent
  const double y_max = std::max(yt.back() / 100, top * 1.05);
  const double x_lo = std::log2(steps.front()) - 0.3, x_hi = std::log2(steps.back()) + 0.3;
  auto px = [&](double x) { return b.x + (std::log2(x) - x_lo) / (x_hi - x_lo) * b.w; };
  auto py = [&](double y) { return b.y + (1 - y / y_max) * b.h; };
  constexpr int font = 2;
  const rgb ink{20, 20, 20}, grid{225, 225, 225};
  for (const double t : steps) {
    const int x = int(std::lround(px(t)));
    img.fill(x, b.y, x + 1, b.y + b.h, grid);
    img.fill(x, b.y + b.h + 1, x + 1, b.y + b.h + 7, ink);
    const std::string s = fmt(t, 6);
    img.text(x - canvas::text_width(s, font) / 2, b.y + b.h + 11, s, font, ink);
  }
  int widest = 0;
  for (const double t : yt) {
    const int y = int(std::lround(py(t / 100)));
    img.fill(b.x, y, b.x + b.w, y + 1, grid);
    img.fill(b.x - 7, y, b.x - 1, y + 1, ink);
    const std::string s = draw::tick_label(t) + "%";
    widest = std::max(widest, canvas::text_width(s, font));
    img.text(b.x - 11 - canvas::text_width(s, font), y - 6, s, font, ink);
  }
  for (const auto& s : lines) {
    for (std::size_t i = 0; i + 1 < s.x.size(); ++i) img.line(px(s.x[i]), py(s.y[i]), px(s.x[i + 1]), py(s.y[i + 1]), s.color, 1, s.dash);
    for (std::size_t i = 0; i < s.x.size(); ++i) draw::marker(img, px(s.x[i]), py(s.y[i]), s.marker, s.color);
  }
  draw::frame_box(img, b.x, b.y, b.w, b.h, ink);
  img.text(b.x, b.y - 26, title, font, ink);
  draw::axis_labels(img, b, "steps K", y_label, widest);
}

}  // namespace

std::string words_csv(const std::vector<eval_row>& rows) {
  std::ostringstream os;
  os << "sampler,steps,nfe,valid_rate,heldout_rate,nelbo_bpc\n";
  for (const eval_row& r : rows)
    os << r.sampler << "," << r.steps << "," << fmt(r.nfe, 6) << "," << fmt(r.valid_rate, 6) << "," << fmt(r.heldout_rate, 6) << ","
       << fmt(r.nelbo_bpc, 6) << "\n";
  return os.str();
}

std::string words_samples_tsv(const std::vector<eval_row>& rows) {
  std::string s = "sampler\tsteps\tword\n";
  for (const eval_row& r : rows) {
    const std::string prefix = r.sampler + "\t" + std::to_string(r.steps) + "\t";
    for (const std::string& w : r.words) s += prefix + w + "\n";
  }
  return s;
}

std::string words_markdown(const std::vector<eval_row>& rows, std::size_t examples) {
  std::ostringstream os;
  os << "| sampler | steps | NFE | valid words | held-out words | NELBO (bits/char) |\n|---|---:|---:|---:|---:|---:|\n";
  for (const eval_row& r : rows)
    os << "| " << r.sampler << " | " << r.steps << " | " << fmt(r.nfe, 4) << " | " << std::fixed << std::setprecision(1)
       << 100 * r.valid_rate << "% | " << 100 * r.heldout_rate << "% | " << std::setprecision(3) << r.nelbo_bpc << " |\n"
       << std::defaultfloat;
  if (examples == 0) return os.str();
  os << "\n| sampler | steps | first " << examples << " samples |\n|---|---:|---|\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i + 1 < rows.size() && rows[i + 1].sampler == rows[i].sampler) continue;  // each sampler's last row
    os << "| " << rows[i].sampler << " | " << rows[i].steps << " |";
    for (std::size_t k = 0; k < std::min(examples, rows[i].words.size()); ++k) os << " " << rows[i].words[k];
    os << " |\n";
  }
  return os.str();
}

void words_figure(const std::filesystem::path& path, const std::vector<eval_row>& rows) {
  std::vector<ferry::cli::series> valid, held;
  std::vector<double> steps;
  for (const eval_row& r : rows) {
    const std::string label = ignores_steps_label(r.sampler);
    if (valid.empty() || valid.back().label != label) {
      const std::size_t k = valid.size();
      valid.push_back({label, {}, {}, ferry::cli::draw::palette(k), 0, int(k % 4)});
      held.push_back(valid.back());
    }
    valid.back().x.push_back(double(r.steps)), valid.back().y.push_back(r.valid_rate);
    held.back().x.push_back(double(r.steps)), held.back().y.push_back(r.heldout_rate);
    if (std::find(steps.begin(), steps.end(), double(r.steps)) == steps.end()) steps.push_back(double(r.steps));
  }
  if (steps.empty()) throw ferry::config_error("words_figure: no rows");
  std::sort(steps.begin(), steps.end());
  constexpr int left = 110, panel_w = 460, panel_h = 400, pitch = 620, top = 50;
  int legend = 0;
  for (const auto& s : valid) legend = std::max(legend, canvas::text_width(s.label, 2));
  canvas img(left + pitch + panel_w + 40 + 36 + legend + 20, top + panel_h + 70);
  rate_panel(img, {left, top, panel_w, panel_h}, "samples that are real words", "valid-word rate", valid, steps);
  rate_panel(img, {left + pitch, top, panel_w, panel_h}, "samples that are held-out words (never trained on)", "held-out-word rate", held, steps);
  ferry::cli::draw_legend(img, left + pitch + panel_w + 40, top + 6, valid);
  ferry::cli::write_png(path, img);
}

std::vector<eval_row> run_words(const word_denoiser& model, const word_list& train, const word_list& heldout, const demo_options& o) {
  validate(o);
  std::error_code ec;
  std::filesystem::create_directories(o.out, ec);
  if (ec || !std::filesystem::is_directory(o.out))
    throw ferry::io_error(ferry::detail::cat("words: ", o.out.string(), ": not a directory and cannot be created",
                                             ec ? ": " + ec.message() : std::string()));
  const std::size_t total = o.samplers.size() * o.steps.size() + 1;
  std::size_t done = 0;
  auto report = [&](const std::string& what) {
    if (o.progress) o.progress(done, total, what);
  };
  report("words: held-out NELBO");
  const double bpc = bits_per_char(nelbo_nats(model, encode_all(heldout, model.length()), o.seed, o.threads), model.length());
  ++done;
  std::vector<eval_row> rows;
  for (const sampler_entry& s : o.samplers)
    for (const std::size_t k : o.steps) {
      const std::string what = ferry::detail::cat("words: ", s.label(), ", ", k, " steps");
      report(what);
      if (k != o.steps.front() && ignores_steps(s.name)) {  // first-hitting: the same draws at every K
        eval_row copy = rows.back();
        copy.steps = k;
        rows.push_back(std::move(copy));
      } else {
        rows.push_back(sample_row(model, train, heldout, s, k, o.samples, o.threads, o.seed));
        rows.back().nelbo_bpc = bpc;
      }
      ++done;
      report(what);
    }
  ferry::io::write_file_atomically(o.out / "words.csv", words_csv(rows));
  ferry::io::write_file_atomically(o.out / "words.md", words_markdown(rows));
  ferry::io::write_file_atomically(o.out / "words_samples.tsv", words_samples_tsv(rows));
  words_figure(o.out / "words_valid_rate.png", rows);
  return rows;
}

}  // namespace words
