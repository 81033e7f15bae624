#pragma once
// What the parts of `ferry demo` share (cmd_demo.cpp runs them): the command's options, the sample
// counts they imply, the progress bar and the number format of the tables.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

namespace ferry::cli::demo {

struct options {
  std::filesystem::path out = "ferry-demo";
  std::string gmm;  // empty: the built-in mixture
  std::size_t n = 2000;
  std::uint64_t seed = 0;
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  bool quick = false;
};

/// Sample counts: --n samplers' samples; the exact samples that stand in for p0; the discrete samples.
struct sizes {
  std::size_t n, reference, discrete;
};
inline sizes sizes_of(const options& o) {
  if (o.quick) return {std::min<std::size_t>(o.n, 300), 2000, 1000};
  return {o.n, 20000, 10 * o.n};
}

/// A progress bar on a terminal, plain lines otherwise (both on stderr).
class progress {
 public:
  explicit progress(std::size_t total) : total_(total), tty_(isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()) {}
  void update(std::size_t done, const std::string& what) {
    if (tty_) {
      const int width = 30, filled = int(double(width) * double(done) / double(total_));
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      std::cerr << "\r[" << std::string(std::size_t(filled), '#') << std::string(std::size_t(width - filled), '.') << "] "
                << std::setw(3) << done << "/" << total_ << " " << std::fixed << std::setprecision(1) << std::setw(5) << secs
                << " s  " << std::left << std::setw(32) << what << std::right << std::defaultfloat << std::flush;
      if (done == total_) std::cerr << "\n";
    } else if (done == total_ || what != last_) {
      std::cerr << "ferry demo: " << done << "/" << total_ << " " << what << "\n";
    }
    last_ = what;
  }

 private:
  std::size_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::string last_;
};

/// A table cell: `precision` significant digits, empty for NaN (a column that does not apply).
inline std::string fmt(double v, int precision = 4) {
  if (!std::isfinite(v)) return "";
  std::ostringstream os;
  os << std::setprecision(precision) << v;
  return os.str();
}

}  // namespace ferry::cli::demo
