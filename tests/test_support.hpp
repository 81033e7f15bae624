#pragma once
// What several test files share: the reference sets in tests/data, max-abs differences,
// scratch directories, and checks of config_error messages.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "catch.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/io/npy.hpp"
#include "sanitized.hpp"

namespace ferry_test {
namespace fs = std::filesystem;

/// A reference set tests/data/<name>/ (copies of the peers' outputs; see tests/data/README.md): its
/// cases.json, parsed once, and its arrays as float64 batches.
class reference_set {
 public:
  explicit reference_set(const std::string& name) : dir(FERRY_TEST_DATA "/" + name + "/") {}
  const std::string dir;
  const nlohmann::json& cases() const {
    if (cases_.is_null()) {
      std::ifstream in(dir + "cases.json");
      cases_ = nlohmann::json::parse(in);
    }
    return cases_;
  }
  /// A reference array (noise, step noise or a case's final samples) as a float64 batch.
  ferry::batch<double> load(const std::string& name) const { return ferry::io::read_npy(dir + name + ".npy").as_batch<double>(); }

 private:
  mutable nlohmann::json cases_;
};

/// The deterministic set (diffusion/) and the stochastic one (diffusion_sde/).
inline const reference_set diffusion_refs("diffusion"), sde_refs("diffusion_sde");
inline const std::string& reference_dir = diffusion_refs.dir;
inline const nlohmann::json& reference_cases() { return diffusion_refs.cases(); }
inline ferry::batch<double> load_reference(const std::string& name) { return diffusion_refs.load(name); }
inline const std::string& sde_dir = sde_refs.dir;
inline const nlohmann::json& sde_cases() { return sde_refs.cases(); }
inline ferry::batch<double> load_sde(const std::string& name) { return sde_refs.load(name); }
/// diffusers' remaining classes and options (diffusers2/) and ComfyUI's samplers and schedulers (comfy/).
inline const reference_set diffusers2_refs("diffusers2"), comfy_refs("comfy");

/// max_i |a_i − b_i| over two batches of the same shape.
inline double max_abs_diff(ferry::const_batch_view<double> a, ferry::const_batch_view<double> b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data[i] - b.data[i]));
  return m;
}
inline double max_abs_diff(const ferry::batch<double>& a, const ferry::batch<double>& b) {
  return max_abs_diff(a.view(), b.view());
}

/// A fresh empty directory under the system temp dir, removed at scope exit.
struct scratch_dir {
  fs::path path;
  scratch_dir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("ferry_test_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  std::size_t entries() const { return std::size_t(std::distance(fs::directory_iterator(path), fs::directory_iterator())); }
};

/// The message of the config_error that f throws ("<nothing thrown>" otherwise).
template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const ferry::config_error& e) {
    return e.what();
  }
  return "<nothing thrown>";
}

}  // namespace ferry_test

/// expr throws a config_error whose message contains needle.
#define CHECK_CONFIG_ERROR(expr, needle)                                   \
  do {                                                                     \
    CHECK_THROWS_AS(expr, ferry::config_error);                            \
    const std::string msg_ = ferry_test::message_of([&] { (void)(expr); }); \
    INFO(msg_);                                                            \
    CHECK(msg_.find(needle) != std::string::npos);                         \
  } while (0)
