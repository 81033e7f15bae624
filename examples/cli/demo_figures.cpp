#include "demo_figures.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace ferry::cli::demo {

density_plot density_of(const mixture& gmm, const batch<double>& reference) {
  double lo[2], hi[2];
  for (std::size_t d = 0; d < 2; ++d) {
    lo[d] = std::numeric_limits<double>::infinity(), hi[d] = -lo[d];
    for (std::size_t i = 0; i < reference.rows(); ++i) lo[d] = std::min(lo[d], reference(i, d)), hi[d] = std::max(hi[d], reference(i, d));
  }
  const double half = 0.54 * std::max(hi[0] - lo[0], hi[1] - lo[1]), cx = (lo[0] + hi[0]) / 2, cy = (lo[1] + hi[1]) / 2;
  density_plot dens;
  dens.frame = {cx - half, cx + half, cy - half, cy + half};
  dens.log_density = [&gmm](double x, double y) {
    const double p[2] = {x, y};
    return gmm.log_prob(p, 1.0, 0.0);
  };
  dens.bands = 12;  // one band a nat: filled contours, and a PNG a fraction of the size
  return dens;
}

namespace {

/// Longest legend label in pixels.
int legend_width(const std::vector<series>& lines) {
  int w = 0;
  for (const series& s : lines) w = std::max(w, draw::canvas::text_width(s.label, 2));
  return 36 + w;
}

/// Log-log charts side by side (`pitch` apart, `panel` pixels square) and one legend at legend_x, in
/// as many columns as the chart's height needs (22 pixels a row).
void draw_figure_with_legend(const std::filesystem::path& path, const std::vector<loglog_chart>& charts, const std::vector<series>& legend,
                             int left, int pitch, int panel, int legend_x) {
  const std::size_t fit = std::size_t(panel + 40) / 22, columns = std::max<std::size_t>(1, (legend.size() + fit - 1) / fit);
  const std::size_t per_column = (legend.size() + columns - 1) / columns;  // balanced
  std::vector<std::vector<series>> column(columns);
  for (std::size_t i = 0; i < legend.size(); ++i) column[i / per_column].push_back(legend[i]);
  int width = legend_x;
  for (const auto& c : column) width += legend_width(c) + 20;
  draw::canvas img(width, panel + 120);
  for (std::size_t c = 0; c < charts.size(); ++c) draw_loglog_panel(img, {left + int(c) * pitch, 50, panel, panel}, charts[c]);
  for (int x = legend_x; const auto& c : column) draw_legend(img, x, 56, c), x += legend_width(c) + 20;
  write_png(path, img);
}

}  // namespace

void samples_figure(const std::filesystem::path& path, const density_plot& dens,
                    const std::vector<std::pair<std::string, batch<double>>>& shown) {
  constexpr int cell_w = 400, cell_h = 410, data = 300, left = 78, top = 36;
  const int cols = 3, rows_n = int(shown.size() + 2) / 3;
  draw::canvas img(cols * cell_w, rows_n * cell_h);
  for (std::size_t i = 0; i < shown.size(); ++i) {
    density_plot p = dens;
    p.title = shown[i].first;
    p.x_label = "x1", p.y_label = "x2";
    draw_density_panel(img, {int(i % 3) * cell_w + left, int(i / 3) * cell_h + top, data, data}, p, shown[i].second.view().span());
  }
  write_png(path, img);
}

void error_figure(const std::filesystem::path& path, const std::vector<entry>& samplers, const std::vector<result>& rows, bool stochastic,
                  double floor_sw1) {
  std::vector<series> sw, ep;
  std::size_t k = 0;
  for (const entry& e : samplers) {
    if (e.stochastic != stochastic) continue;
    series s{e.label, {}, {}, draw::palette(k), k >= 10 ? 5 : 0, int(k / 10) * 2};
    series t = s;
    for (const result& r : rows)
      if (r.label == e.label) {
        s.x.push_back(double(r.nfe)), s.y.push_back(r.sw1);
        t.x.push_back(double(r.nfe)), t.y.push_back(r.endpoint);
      }
    sw.push_back(s), ep.push_back(t), ++k;
  }
  std::vector<loglog_chart> charts;
  const std::string nfe = "NFE (model evaluations)";
  if (!stochastic) charts.push_back({"ODE samplers: distance to the exact endpoint", nfe, "RMS distance", ep, 0});
  charts.push_back({stochastic ? "stochastic samplers: sliced W1 to p0" : "ODE samplers: sliced W1 to p0", nfe, "sliced W1", sw, floor_sw1});
  sw.push_back({"exact-sample floor (SW1)", {}, {}, floor_grey, floor_dash, -1});
  constexpr int panel = 500, pitch = 650, left = 110;
  const int legend_x = left + int(charts.size() - 1) * pitch + panel + 40;
  draw_figure_with_legend(path, charts, sw, left, pitch, panel, legend_x);
}

void discrete_figure(const std::filesystem::path& path, const std::vector<discrete_result>& rows) {
  std::vector<series> lines;
  double floor = 0;
  for (const discrete_result& r : rows) {
    if (r.sampler == "exact") {
      floor = r.tv;
      continue;
    }
    if (lines.empty() || lines.back().label != r.sampler) {
      const std::size_t k = lines.size();
      lines.push_back({r.sampler, {}, {}, draw::palette(k), 0, int(k % 4)});
    }
    lines.back().x.push_back(double(r.steps)), lines.back().y.push_back(r.tv);
  }
  for (series& s : lines)
    if (s.label == "first-hitting") s.label = "first-hitting (L events)";
  const loglog_chart chart{"masked diffusion on a discrete mixture: TV to p0", "steps K", "total variation", lines, floor};
  lines.push_back({"exact-sample floor", {}, {}, floor_grey, floor_dash, -1});
  draw_figure_with_legend(path, {chart}, lines, 110, 0, 500, 650);
}

// 12 paths in the VP view x/sqrt(1 + sigma^2), which keeps the whole path (sigma 80 -> 0) inside the
// frame; white dots mark the starts, red dots the ends.
void trajectories_figure(const std::filesystem::path& path, const mixture& gmm, const std::vector<entry>& samplers, const batch<double>& z,
                         const density_plot& dens, const options& opt) {
  constexpr std::size_t paths = 12, steps = 32;
  batch<double> z_few(paths, 2);
  std::copy(z.data(), z.data() + z_few.size(), z_few.data());
  draw::canvas img(800, 420);
  const std::array<std::string, 2> names = {"dpmpp-2m", "euler-ancestral"};
  for (std::size_t k = 0; k < names.size(); ++k) {
    const auto it = std::find_if(samplers.begin(), samplers.end(), [&](const entry& e) { return e.label == names[k]; });
    if (it == samplers.end()) continue;
    std::vector<path2d> lines(paths);
    const schedule<double> sched = karras(steps);
    const double s0 = sched.points.front().sigma, scale0 = s0 / std::sqrt(1 + s0 * s0);
    for (std::size_t i = 0; i < paths; ++i) lines[i].color = draw::palette(i), lines[i].xy = {z_few(i, 0) * scale0, z_few(i, 1) * scale0};
    const run_result end = run_sampler(gmm, it->settings, steps, z_few, opt, {[&](const step_report<double>& r) {
                                         const double scale = 1 / std::sqrt(1 + r.to.sigma * r.to.sigma);
                                         for (std::size_t i = 0; i < paths; ++i)
                                           lines[i].xy.insert(lines[i].xy.end(), {r.x(i, 0) * scale, r.x(i, 1) * scale});
                                       }});
    density_plot p = dens;
    p.title = ferry::detail::cat(names[k], ", ", steps, " steps");
    p.x_label = "x1 / sqrt(1 + sigma^2)", p.y_label = "x2 / sqrt(1 + sigma^2)";
    const panel_box box{int(k) * 400 + 78, 36, 300, 300};
    draw_density_panel(img, box, p, {}, lines);
    const plot_frame& f = p.frame;
    auto dot = [&](double x, double y, draw::rgb c) {
      img.disc(box.x + (x - f.x_min) / (f.x_max - f.x_min) * box.w, box.y + (f.y_max - y) / (f.y_max - f.y_min) * box.h, 3, c, 1);
    };
    for (std::size_t i = 0; i < paths; ++i) dot(lines[i].xy[0], lines[i].xy[1], {255, 255, 255}), dot(end.x(i, 0), end.x(i, 1), {240, 50, 40});
  }
  write_png(path, img);
}

}  // namespace ferry::cli::demo
