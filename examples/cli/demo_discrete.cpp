#include "demo_discrete.hpp"

#include <cmath>
#include <cstdint>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>

#include "demo_gmm.hpp"
#include "demo_metrics.hpp"
#include "discrete_run.hpp"
#include "ferry/io/atomic_file.hpp"

namespace ferry::cli::demo {

std::vector<discrete_result> run_discrete(const options& opt, std::size_t n, progress& bar, std::size_t& done) {
  discrete_mixture model = discrete_mixture::from_json(nlohmann::json::parse(demo_discrete_json), std::string(demo_discrete_name));
  model.kernel = discrete::kernel_kind::masked;
  const std::size_t length = model.length(), vocab = model.vocab();
  std::vector<double> p0(std::size_t(std::pow(double(vocab), double(length)) + 0.5));
  std::vector<std::int32_t> seq(length);
  for (std::size_t k = 0; k < p0.size(); ++k) {
    for (std::size_t l = 0, r = k; l < length; ++l, r /= vocab) seq[l] = std::int32_t(r % vocab);
    p0[k] = std::exp(model.log_prob(seq));
  }
  const discrete::process p{discrete::kernel{model.kernel, vocab}, discrete::alpha_schedule(discrete::schedule_kind::linear)};
  std::vector<std::int32_t> tokens(n * length);
  const discrete::token_view x(tokens.data(), n, length);
  std::vector<discrete_result> rows;
  for (const char* name : discrete_samplers) {
    const bool event_driven = std::string_view(name) == "first-hitting";
    for (const std::size_t steps : discrete_step_counts) {
      const std::string what = ferry::detail::cat("discrete ", name, event_driven ? "" : ferry::detail::cat(", ", steps, " steps"));
      bar.update(done, what);
      const discrete::run_stats st = sample_discrete_mixture(
          model, p, discrete::sampler_settings{.name = name}, x,
          discrete::run_options{.seed = opt.seed, .steps = steps, .block_size = 0, .threads = opt.threads, .first_row = 0, .categorical = {}});
      rows.push_back({name, st.steps, st.nfe_max, st.nfe_mean, total_variation(p0, tokens, length, vocab)});
      bar.update(++done, what);
      if (event_driven) break;  // one run: its steps are the L events whatever K is
    }
  }
  model.sample(opt.seed, x);  // exact draws: the floor that n samples set
  rows.push_back({"exact", 0, 0, 0, total_variation(p0, tokens, length, vocab)});
  return rows;
}

void write_discrete_tables(const std::filesystem::path& dir, const std::vector<discrete_result>& rows, std::size_t n) {
  std::ostringstream csv, md;
  csv << "sampler,steps,nfe_max,nfe_mean,tv\n";
  md << "| sampler | steps | NFE (max) | NFE (mean) | TV |\n|---|---:|---:|---:|---:|\n";
  for (const discrete_result& r : rows) {
    if (r.sampler == "exact") {
      csv << "exact,,,," << fmt(r.tv, 6) << "\n";
      md << "| exact samples | | | | " << fmt(r.tv, 3) << " |\n";
      continue;
    }
    csv << r.sampler << "," << r.steps << "," << r.nfe_max << "," << fmt(r.nfe_mean, 6) << "," << fmt(r.tv, 6) << "\n";
    md << "| " << r.sampler << " | " << r.steps << " | " << r.nfe_max << " | " << fmt(r.nfe_mean, 3) << " | " << fmt(r.tv, 3) << " |\n";
  }
  io::write_file_atomically(dir / "discrete.csv", csv.str());
  io::write_file_atomically(dir / "discrete.md", md.str());
  std::cout << "\nmasked discrete diffusion on a mixture of 3 product laws (L = 4, V = 3; linear schedule), " << n
            << " samples: total variation to p0\n\n"
            << md.str();
}

}  // namespace ferry::cli::demo
