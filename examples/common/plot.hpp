#pragma once
// A tiny PNG plotter for the example programs (the CLI, cnf_adjoint, words): panels of a 2-D density as a heat map (log scale) with points and
// paths on top, log-log line charts with a legend, axes frames with tick labels. Pixels are drawn
// by hand; stb_image_write encodes the PNG (its implementation lives in stb_impl.cpp) and
// stb_easy_font supplies the letters.
#include <stb/stb_easy_font.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "ferry/core/error.hpp"
#include "ferry/io/atomic_file.hpp"

namespace ferry::cli {

/// The data rectangle shown by the plot.
struct plot_frame {
  double x_min = -1, x_max = 1, y_min = -1, y_max = 1;
};

struct density_plot {
  plot_frame frame;
  std::function<double(double, double)> log_density;  ///< log p(x, y); the heat map shows it
  double log_range = 12;                                 ///< nats below the maximum that still get colour
  int width = 720, height = 720;                         ///< the whole image in pixels
  std::string title;                                     ///< ASCII, drawn above the frame
  int bands = 0;                                         ///< > 0: the heat map in this many flat bands (filled contours; small PNGs)
  std::string x_label{}, y_label{};                      ///< axis labels (empty: none)
};

namespace draw {

using rgb = std::array<std::uint8_t, 3>;

/// Viridis, sampled at five points and interpolated linearly: dark blue (low) to yellow (high).
inline rgb viridis(double u) {
  static constexpr std::array<rgb, 5> stops = {
      {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}}};
  u = std::clamp(u, 0.0, 1.0) * double(stops.size() - 1);
  const std::size_t i = std::min(std::size_t(u), stops.size() - 2);
  const double f = u - double(i);
  rgb c{};
  for (std::size_t k = 0; k < 3; ++k) c[k] = std::uint8_t(std::lround((1 - f) * stops[i][k] + f * stops[i + 1][k]));
  return c;
}

/// An RGB image with the few drawing operations the plot needs.
class canvas {
 public:
  canvas(int w, int h) : w_(w), h_(h), px_(std::size_t(w) * std::size_t(h) * 3, 255) {}
  int width() const { return w_; }
  int height() const { return h_; }

  /// Alpha-blends colour c into pixel (x, y); outside the image is ignored.
  void blend(int x, int y, rgb c, double a = 1) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    std::uint8_t* p = &px_[(std::size_t(y) * std::size_t(w_) + std::size_t(x)) * 3];
    for (std::size_t k = 0; k < 3; ++k) p[k] = std::uint8_t(std::lround((1 - a) * p[k] + a * c[k]));
  }
  void fill(int x0, int y0, int x1, int y1, rgb c) {  // [x0, x1) × [y0, y1)
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) blend(x, y, c);
  }
  /// A filled disc with a soft edge (coverage-weighted alpha), or a hard one (pixels at least half
  /// covered, drawn opaque: few distinct colours, so a dense scatter still compresses well).
  void disc(double cx, double cy, double r, rgb c, double a, bool soft = true) {
    for (int y = int(std::floor(cy - r - 1)); y <= int(std::ceil(cy + r + 1)); ++y)
      for (int x = int(std::floor(cx - r - 1)); x <= int(std::ceil(cx + r + 1)); ++x) {
        const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
        const double cover = std::clamp(r + 0.5 - d, 0.0, 1.0);
        if (soft ? cover > 0 : cover >= 0.5) blend(x, y, c, soft ? a * cover : a);
      }
  }
  /// ASCII text with its top-left corner at (x, y), each font pixel drawn as scale × scale.
  void text(int x, int y, const std::string& s, int scale, rgb c) {
    glyph_rects(s, [&](int u0, int v0, int u1, int v1) { fill(x + u0 * scale, y + v0 * scale, x + u1 * scale, y + v1 * scale, c); });
  }
  /// The same text turned 90° counter-clockwise (it reads bottom to top): the text's top-left
  /// corner at (x, y), the text running up from y and its glyphs extending right from x.
  void text_up(int x, int y, const std::string& s, int scale, rgb c) {
    glyph_rects(s, [&](int u0, int v0, int u1, int v1) { fill(x + v0 * scale, y - u1 * scale, x + v1 * scale, y - u0 * scale, c); });
  }
  /// A line of width ~1.5 px from (x0, y0) to (x1, y1); dashed with `dash` > 0 (pixels on, then off).
  void line(double x0, double y0, double x1, double y1, rgb c, double a = 1, int dash = 0) {
    const double len = std::hypot(x1 - x0, y1 - y0);
    const int n = std::max(1, int(std::ceil(len * 2)));
    for (int i = 0; i <= n; ++i) {
      const double u = double(i) / n;
      if (dash > 0 && int(u * len / dash) % 2 == 1) continue;
      disc(x0 + u * (x1 - x0), y0 + u * (y1 - y0), 0.75, c, a);
    }
  }
  static int text_width(const std::string& s, int scale) {
    std::string buf = s;
    return stb_easy_font_width(buf.data()) * scale;
  }
  /// The PNG encoding of the image.
  std::string png() const {
    std::string out;
    auto sink = [](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), std::size_t(size)); };
    if (!stbi_write_png_to_func(sink, &out, w_, h_, 3, px_.data(), w_ * 3))
      throw io_error("plot: PNG encoding failed");
    return out;
  }

 private:
  /// Calls f(u0, v0, u1, v1) for every font-pixel rectangle [u0, u1) × [v0, v1) of s (u right, v down).
  template <class F>
  static void glyph_rects(const std::string& s, F&& f) {
    std::string buf = s;
    // stb_easy_font writes 64 bytes per segment and silently drops segments that do not fit: up to
    // 10 segments a glyph ('0' has 6, and a 300-byte budget cut its right stroke).
    std::vector<char> quads(s.size() * 640 + 64);
    const int n = stb_easy_font_print(0, 0, buf.data(), nullptr, quads.data(), int(quads.size()));
    struct vertex { float x, y, z; std::uint8_t rgba[4]; };
    static_assert(sizeof(vertex) == 16, "stb_easy_font vertices are 16 bytes");
    for (int q = 0; q < n; ++q) {
      vertex v[4];
      std::copy_n(quads.data() + std::size_t(q) * sizeof v, sizeof v, reinterpret_cast<char*>(v));
      f(int(v[0].x), int(v[0].y), int(v[2].x), int(v[2].y));
    }
  }

  int w_, h_;
  std::vector<std::uint8_t> px_;
};

/// Tick positions 1, 2 or 5 × 10^k apart, about `target` of them inside [lo, hi].
inline std::vector<double> nice_ticks(double lo, double hi, int target = 5) {
  const double raw = (hi - lo) / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) t.push_back(std::abs(v) < 1e-12 * step ? 0.0 : v);
  return t;
}

inline std::string tick_label(double v) {
  std::string s = ferry::detail::cat(std::round(v * 1000) / 1000);
  return s == "-0" ? "0" : s;
}

/// Ten distinguishable colours (Tableau 10).
inline rgb palette(std::size_t i) {
  static constexpr std::array<rgb, 10> c = {{{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
                                            {140, 86, 75}, {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}}};
  return c[i % c.size()];
}

/// Decades 10^k inside [lo, hi] (lo > 0), and 2·10^k, 5·10^k when fewer than three decades show.
inline std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> t;
  const bool fine = std::log10(hi / lo) < 2.5;
  for (int k = int(std::floor(std::log10(lo))); k <= int(std::ceil(std::log10(hi))); ++k)
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, k);
      if ((m == 1.0 || fine) && v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
    }
  return t;
}

/// 0.05, 20, 1e-4, 2e-5: six significant digits at most, exponents outside 1e-3 … 1e4.
inline std::string log_tick_label(double v) {
  const int k = int(std::floor(std::log10(v) + 1e-9));
  std::ostringstream os;
  os.precision(6);
  if (k >= -3 && k <= 4)
    os << v;
  else
    os << std::lround(v / std::pow(10.0, k)) << "e" << k;
  return os.str();
}

inline void frame_box(canvas& img, int x0, int y0, int w, int h, rgb ink) {
  img.fill(x0 - 1, y0 - 1, x0 + w + 1, y0, ink);
  img.fill(x0 - 1, y0 + h, x0 + w + 1, y0 + h + 1, ink);
  img.fill(x0 - 1, y0 - 1, x0, y0 + h + 1, ink);
  img.fill(x0 + w, y0 - 1, x0 + w + 1, y0 + h + 1, ink);
}

/// A marker centred at (x, y): 0 disc, 1 square, 2 triangle (point up), 3 diamond.
inline void marker(canvas& img, double x, double y, int shape, rgb c) {
  constexpr double r = 3.5;
  if (shape == 0) return img.disc(x, y, r - 0.5, c, 1);
  for (int yy = int(std::floor(y - r)); yy <= int(std::ceil(y + r)); ++yy)
    for (int xx = int(std::floor(x - r)); xx <= int(std::ceil(x + r)); ++xx) {
      const double dx = std::abs(xx + 0.5 - x), dy = yy + 0.5 - y;
      const bool in = shape == 1   ? dx <= r - 0.5 && std::abs(dy) <= r - 0.5
                      : shape == 2 ? dy <= r - 0.5 && dy >= -r && dx <= (dy + r) / 2 + 0.3
                                   : dx + std::abs(dy) <= r + 0.5;
      if (in) img.blend(xx, yy, c);
    }
}

}  // namespace draw

/// A rectangle of an image: where a panel's data area goes (axes and labels are drawn around it).
struct panel_box {
  int x = 0, y = 0, w = 0, h = 0;
};

namespace draw {
/// The x label centred under the tick labels, the y label turned up left of tick labels `widest` pixels wide.
inline void axis_labels(canvas& img, panel_box b, const std::string& x_label, const std::string& y_label, int widest) {
  constexpr int font = 2;
  const rgb ink{20, 20, 20};
  if (!x_label.empty()) img.text(b.x + b.w / 2 - canvas::text_width(x_label, font) / 2, b.y + b.h + 32, x_label, font, ink);
  if (!y_label.empty()) img.text_up(b.x - 11 - widest - 30, b.y + b.h / 2 + canvas::text_width(y_label, font) / 2, y_label, font, ink);
}
}  // namespace draw

/// A path in data coordinates (x0 y0 x1 y1 …), drawn as a polyline.
struct path2d {
  std::vector<double> xy;
  draw::rgb color{255, 255, 255};
};

/// The heat map of plot.log_density in box b, the points xy on top, then the paths; axes with ticks.
inline void draw_density_panel(draw::canvas& img, panel_box b, const density_plot& plot, std::span<const double> xy,
                               std::span<const path2d> paths = {}) {
  using draw::rgb;
  const plot_frame f = plot.frame;
  constexpr int font = 2;
  auto px = [&](double x) { return b.x + (x - f.x_min) / (f.x_max - f.x_min) * b.w; };
  auto py = [&](double y) { return b.y + (f.y_max - y) / (f.y_max - f.y_min) * b.h; };
  std::vector<double> lp(std::size_t(b.w) * std::size_t(b.h));
  double top_lp = -std::numeric_limits<double>::infinity();
  for (int r = 0; r < b.h; ++r)
    for (int c = 0; c < b.w; ++c) {
      const double x = f.x_min + (c + 0.5) / b.w * (f.x_max - f.x_min), y = f.y_max - (r + 0.5) / b.h * (f.y_max - f.y_min);
      const double v = plot.log_density(x, y);
      lp[std::size_t(r) * std::size_t(b.w) + std::size_t(c)] = v;
      if (v > top_lp) top_lp = v;
    }
  for (int r = 0; r < b.h; ++r)
    for (int c = 0; c < b.w; ++c) {
      const double v = lp[std::size_t(r) * std::size_t(b.w) + std::size_t(c)];
      double u = std::isfinite(v) ? 1 + (v - top_lp) / plot.log_range : 0;
      if (plot.bands > 0) u = u <= 0 ? 0 : std::ceil(u * plot.bands) / plot.bands;
      img.blend(b.x + c, b.y + r, draw::viridis(u));
    }
  auto inside = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && x >= f.x_min && x <= f.x_max && y >= f.y_min && y <= f.y_max;
  };
  const double radius = b.w >= 500 ? 1.8 : 1.3;
  for (std::size_t i = 0; i + 1 < xy.size(); i += 2)
    if (inside(xy[i], xy[i + 1])) img.disc(px(xy[i]), py(xy[i + 1]), radius, rgb{240, 50, 40}, 1, false);
  for (const path2d& p : paths)
    for (std::size_t i = 0; i + 3 < p.xy.size(); i += 2)
      if (inside(p.xy[i], p.xy[i + 1]) && inside(p.xy[i + 2], p.xy[i + 3]))
        img.line(px(p.xy[i]), py(p.xy[i + 1]), px(p.xy[i + 2]), py(p.xy[i + 3]), p.color, 0.9);

  const rgb ink{20, 20, 20};
  draw::frame_box(img, b.x, b.y, b.w, b.h, ink);
  for (double t : draw::nice_ticks(f.x_min, f.x_max)) {
    const int x = int(std::lround(px(t)));
    img.fill(x, b.y + b.h + 1, x + 1, b.y + b.h + 7, ink);
    const std::string s = draw::tick_label(t);
    img.text(x - draw::canvas::text_width(s, font) / 2, b.y + b.h + 11, s, font, ink);
  }
  int widest = 0;
  for (double t : draw::nice_ticks(f.y_min, f.y_max)) {
    const int y = int(std::lround(py(t)));
    img.fill(b.x - 7, y, b.x - 1, y + 1, ink);
    const std::string s = draw::tick_label(t);
    widest = std::max(widest, draw::canvas::text_width(s, font));
    img.text(b.x - 11 - draw::canvas::text_width(s, font), y - 6, s, font, ink);
  }
  if (!plot.title.empty()) img.text(b.x, b.y - 26, plot.title, font, ink);
  draw::axis_labels(img, b, plot.x_label, plot.y_label, widest);
}

/// One line of a chart: points (x_i, y_i) joined, with a marker at each.
struct series {
  std::string label;
  std::vector<double> x, y;
  draw::rgb color{0, 0, 0};
  int dash = 0;    ///< dash length in pixels (0: solid)
  int marker = 0;  ///< draw::marker's shape; -1: none
};

/// The grey of a chart's floor line (and of its legend row).
inline constexpr draw::rgb floor_grey{90, 90, 90};
inline constexpr int floor_dash = 3;

struct loglog_chart {
  std::string title, x_label, y_label;
  std::vector<series> lines;
  double floor = 0;  ///< a horizontal dotted reference line (0: none); name it in the legend: {label, {}, {}, floor_grey, floor_dash, -1}
};

/// A log-log chart of c's lines in box b; the axes span the positive data (and the floor).
inline void draw_loglog_panel(draw::canvas& img, panel_box b, const loglog_chart& c) {
  using draw::rgb;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = 0, y_lo = x_lo, y_hi = 0;
  for (const series& s : c.lines)
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (s.x[i] > 0 && s.y[i] > 0 && std::isfinite(s.y[i]))
        x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]), y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
  if (c.floor > 0) y_lo = std::min(y_lo, c.floor), y_hi = std::max(y_hi, c.floor);
  if (!(x_hi > 0)) x_lo = 1, x_hi = 10, y_lo = 1, y_hi = 10;
  // Pad by a fraction of a decade so markers stay inside, and widen to a whole decade at least.
  const double lx0 = std::log10(x_lo) - 0.08, lx1 = std::log10(x_hi) + 0.08;
  double ly0 = std::log10(y_lo) - 0.1, ly1 = std::log10(y_hi) + 0.1;
  if (ly1 - ly0 < 1) ly0 = (ly0 + ly1) / 2 - 0.5, ly1 = ly0 + 1;
  auto px = [&](double x) { return b.x + (std::log10(x) - lx0) / (lx1 - lx0) * b.w; };
  auto py = [&](double y) { return b.y + (ly1 - std::log10(y)) / (ly1 - ly0) * b.h; };
  constexpr int font = 2;
  const rgb ink{20, 20, 20}, grid{225, 225, 225};
  for (double t : draw::log_ticks(std::pow(10.0, lx0), std::pow(10.0, lx1))) {
    const int x = int(std::lround(px(t)));
    img.fill(x, b.y, x + 1, b.y + b.h, grid);
    img.fill(x, b.y + b.h + 1, x + 1, b.y + b.h + 7, ink);
    const std::string s = draw::log_tick_label(t);
    img.text(x - draw::canvas::text_width(s, font) / 2, b.y + b.h + 11, s, font, ink);
  }
  int widest = 0;
  for (double t : draw::log_ticks(std::pow(10.0, ly0), std::pow(10.0, ly1))) {
    const int y = int(std::lround(py(t)));
    img.fill(b.x, y, b.x + b.w, y + 1, grid);
    img.fill(b.x - 7, y, b.x - 1, y + 1, ink);
    const std::string s = draw::log_tick_label(t);
    widest = std::max(widest, draw::canvas::text_width(s, font));
    img.text(b.x - 11 - draw::canvas::text_width(s, font), y - 6, s, font, ink);
  }
  if (c.floor > 0) img.line(b.x, py(c.floor), b.x + b.w, py(c.floor), floor_grey, 1, floor_dash);
  for (const series& s : c.lines) {
    for (std::size_t i = 0; i + 1 < s.x.size(); ++i)
      if (s.y[i] > 0 && s.y[i + 1] > 0 && std::isfinite(s.y[i]) && std::isfinite(s.y[i + 1]))
        img.line(px(s.x[i]), py(s.y[i]), px(s.x[i + 1]), py(s.y[i + 1]), s.color, 1, s.dash);
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (s.y[i] > 0 && std::isfinite(s.y[i])) draw::marker(img, px(s.x[i]), py(s.y[i]), s.marker, s.color);
  }
  draw::frame_box(img, b.x, b.y, b.w, b.h, ink);
  img.text(b.x, b.y - 26, c.title, font, ink);
  draw::axis_labels(img, b, c.x_label, c.y_label, widest);
}

/// A legend: one row per series (a short line with a marker, then the label), top-left at (x, y).
inline void draw_legend(draw::canvas& img, int x, int y, std::span<const series> lines) {
  constexpr int font = 2, row = 22;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const int yy = y + int(i) * row;
    img.line(x, yy + 6, x + 28, yy + 6, lines[i].color, 1, lines[i].dash);
    if (lines[i].marker >= 0) draw::marker(img, x + 14, yy + 6, lines[i].marker, lines[i].color);
    img.text(x + 36, yy, lines[i].label, font, draw::rgb{20, 20, 20});
  }
}

/// Writes the image as a PNG, atomically.
inline void write_png(const std::filesystem::path& path, const draw::canvas& img) { io::write_file_atomically(path, img.png()); }

/// Renders the density heat map with the points (N×2 row-major: x0 y0 x1 y1 …) on top and writes
/// a PNG to `path` atomically. Throws io_error when the file cannot be written.
inline void write_density_scatter_png(const std::filesystem::path& path, const density_plot& plot,
                                      std::span<const double> xy) {
  const plot_frame f = plot.frame;
  if (!(f.x_max > f.x_min) || !(f.y_max > f.y_min) || plot.width < 200 || plot.height < 200 || xy.size() % 2)
    throw config_error(ferry::detail::cat("plot: bad frame [", f.x_min, ", ", f.x_max, "] x [", f.y_min, ", ", f.y_max,
                                          "], size ", plot.width, "x", plot.height, " or ", xy.size(), " coordinates"));
  constexpr int left = 64, right = 20, top = 36, bottom = 48;
  draw::canvas img(plot.width, plot.height);
  draw_density_panel(img, {left, top, plot.width - left - right, plot.height - top - bottom}, plot, xy);
  write_png(path, img);
}

}  // namespace ferry::cli
