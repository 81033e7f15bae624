#pragma once
// A tiny PNG plotter for the CLI: a 2-D density as a heat map (log scale), points on top, and an
// axes frame with tick labels. Pixels are drawn by hand; stb_image_write encodes the PNG (its
// implementation lives in stb_impl.cpp) and stb_easy_font supplies the digits.
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
};

namespace detail {

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
  /// A filled disc with a soft edge (coverage-weighted alpha).
  void disc(double cx, double cy, double r, rgb c, double a) {
    for (int y = int(std::floor(cy - r - 1)); y <= int(std::ceil(cy + r + 1)); ++y)
      for (int x = int(std::floor(cx - r - 1)); x <= int(std::ceil(cx + r + 1)); ++x) {
        const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
        const double cover = std::clamp(r + 0.5 - d, 0.0, 1.0);
        if (cover > 0) blend(x, y, c, a * cover);
      }
  }
  /// ASCII text with its top-left corner at (x, y), each font pixel drawn as scale × scale.
  void text(int x, int y, const std::string& s, int scale, rgb c) {
    std::string buf = s;
    std::vector<char> quads(s.size() * 300 + 64);  // stb_easy_font needs ~270 bytes per character
    const int n = stb_easy_font_print(0, 0, buf.data(), nullptr, quads.data(), int(quads.size()));
    struct vertex { float x, y, z; std::uint8_t rgba[4]; };
    static_assert(sizeof(vertex) == 16, "stb_easy_font vertices are 16 bytes");
    for (int q = 0; q < n; ++q) {
      vertex v[4];
      std::copy_n(quads.data() + std::size_t(q) * sizeof v, sizeof v, reinterpret_cast<char*>(v));
      fill(x + int(v[0].x) * scale, y + int(v[0].y) * scale, x + int(v[2].x) * scale, y + int(v[2].y) * scale, c);
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

}  // namespace detail

/// Renders the density heat map with the points (N×2 row-major: x0 y0 x1 y1 …) on top and writes
/// a PNG to `path` atomically. Throws io_error when the file cannot be written.
inline void write_density_scatter_png(const std::filesystem::path& path, const density_plot& plot,
                                      std::span<const double> xy) {
  using detail::rgb;
  const plot_frame f = plot.frame;
  if (!(f.x_max > f.x_min) || !(f.y_max > f.y_min) || plot.width < 200 || plot.height < 200 || xy.size() % 2)
    throw config_error(ferry::detail::cat("plot: bad frame [", f.x_min, ", ", f.x_max, "] x [", f.y_min, ", ", f.y_max,
                                          "], size ", plot.width, "x", plot.height, " or ", xy.size(), " coordinates"));
  constexpr int left = 64, right = 20, top = 36, bottom = 48, font = 2;
  detail::canvas img(plot.width, plot.height);
  const int pw = plot.width - left - right, ph = plot.height - top - bottom;
  auto px = [&](double x) { return left + (x - f.x_min) / (f.x_max - f.x_min) * pw; };
  auto py = [&](double y) { return top + (f.y_max - y) / (f.y_max - f.y_min) * ph; };

  // Heat map of log p at pixel centres, scaled to [max − log_range, max].
  std::vector<double> lp(std::size_t(pw) * std::size_t(ph));
  double top_lp = -std::numeric_limits<double>::infinity();
  for (int r = 0; r < ph; ++r)
    for (int c = 0; c < pw; ++c) {
      const double x = f.x_min + (c + 0.5) / pw * (f.x_max - f.x_min), y = f.y_max - (r + 0.5) / ph * (f.y_max - f.y_min);
      const double v = plot.log_density(x, y);
      lp[std::size_t(r) * std::size_t(pw) + std::size_t(c)] = v;
      if (v > top_lp) top_lp = v;
    }
  for (int r = 0; r < ph; ++r)
    for (int c = 0; c < pw; ++c) {
      const double v = lp[std::size_t(r) * std::size_t(pw) + std::size_t(c)];
      img.blend(left + c, top + r, detail::viridis(std::isfinite(v) ? 1 + (v - top_lp) / plot.log_range : 0));
    }

  // Points: soft red discs, drawn only inside the frame.
  for (std::size_t i = 0; i + 1 < xy.size(); i += 2) {
    const double x = xy[i], y = xy[i + 1];
    if (x < f.x_min || x > f.x_max || y < f.y_min || y > f.y_max || !std::isfinite(x) || !std::isfinite(y)) continue;
    img.disc(px(x), py(y), 1.8, rgb{240, 50, 40}, 0.85);
  }

  // Frame, ticks and labels.
  const rgb ink{20, 20, 20};
  img.fill(left - 1, top - 1, left + pw + 1, top, ink);
  img.fill(left - 1, top + ph, left + pw + 1, top + ph + 1, ink);
  img.fill(left - 1, top - 1, left, top + ph + 1, ink);
  img.fill(left + pw, top - 1, left + pw + 1, top + ph + 1, ink);
  for (double t : detail::nice_ticks(f.x_min, f.x_max)) {
    const int x = int(std::lround(px(t)));
    img.fill(x, top + ph + 1, x + 1, top + ph + 7, ink);
    const std::string s = detail::tick_label(t);
    img.text(x - detail::canvas::text_width(s, font) / 2, top + ph + 11, s, font, ink);
  }
  for (double t : detail::nice_ticks(f.y_min, f.y_max)) {
    const int y = int(std::lround(py(t)));
    img.fill(left - 7, y, left - 1, y + 1, ink);
    const std::string s = detail::tick_label(t);
    img.text(left - 11 - detail::canvas::text_width(s, font), y - 6, s, font, ink);
  }
  if (!plot.title.empty()) img.text(left, 10, plot.title, font, ink);

  io::write_file_atomically(path, img.png());
}

}  // namespace ferry::cli
