#pragma once
// The stochastic reference set tests/data/diffusion_sde (see tests/data/README.md): the directory,
// cases.json parsed once, and its arrays as float64 batches.
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "ferry/core/batch.hpp"
#include "ferry/io/npy.hpp"

namespace ferry_test {

inline const std::string sde_dir = FERRY_TEST_DATA "/diffusion_sde/";

inline const nlohmann::json& sde_cases() {
  static const nlohmann::json j = [] {
    std::ifstream in(sde_dir + "cases.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

inline ferry::batch<double> load_sde(const std::string& name) {
  return ferry::io::read_npy(sde_dir + name + ".npy").as_batch<double>();
}

}  // namespace ferry_test
