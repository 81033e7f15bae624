// Hostile input through the `ferry` CLI, table-driven (issue 11): every bad file, value, flag or
// name gets exactly one line on stderr, starting "ferry: ", naming the file or flag, with input
// bytes escaped (only printable ASCII on stderr), exit code 2, nothing on stdout, and no output
// file — an existing one is left byte-for-byte as it was.
#include "catch.hpp"

#ifdef FERRY_CLI_PATH
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "ferry/io/npy.hpp"

namespace test_cli_errors {

namespace fs = std::filesystem;
using namespace ferry_test;

namespace {

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

/// A valid (rows, 2) float64 .npy with a header we can then corrupt.
std::string good_npy(std::size_t rows = 8, std::size_t cols = 2, double fill = 0.25) {
  std::vector<double> v(rows * cols, fill);
  return ferry::io::format_npy(v.data(), {rows, cols});
}

/// A .npy with the given header dict text and `payload_bytes` zero bytes of data.
std::string npy_with_header(const std::string& dict, std::size_t payload_bytes) {
  std::string h = dict;
  h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += char(h.size() & 0xff);
  out += char(h.size() >> 8);
  return out + h + std::string(payload_bytes, '\0');
}

/// Every byte printable ASCII, and the text is one line ending in '\n'.
bool one_clean_line(const std::string& s) {
  if (s.empty() || s.back() != '\n') return false;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

struct bad_input {
  std::string what;                  // the case, for the report
  std::string args;                  // after the binary name
  std::vector<std::string> mentions; // substrings the message must contain
};

/// The files every case draws on, made once in a scratch directory.
struct fixture {
  scratch_dir dir;
  fs::path p(const std::string& name) const { return dir.path / name; }
  std::string q(const std::string& name) const { return quoted(p(name)); }

  fixture() {
    const std::string good = good_npy();
    write_bytes(p("noise.npy"), good);
    write_bytes(p("empty.npy"), "");
    fs::create_directories(p("dir.npy"));
    write_bytes(p("magic.npy"), "PK\x03\x04 this is a zip file");
    write_bytes(p("version.npy"), std::string("\x93NUMPY\x09\x00", 8) + good.substr(8));
    write_bytes(p("trunc_header.npy"), good.substr(0, 30));
    write_bytes(p("trunc_data.npy"), good.substr(0, good.size() - 8));
    write_bytes(p("long_data.npy"), good + std::string(8, '\0'));
    std::string garbage = good;
    garbage.replace(10, 4, "{\xdf\x01\x1b");  // invalid UTF-8, a control byte and ESC in the header
    write_bytes(p("garbage_header.npy"), garbage);
    write_bytes(p("dtype.npy"), npy_with_header("{'descr': '<c16', 'fortran_order': False, 'shape': (8, 2), }", 256));
    write_bytes(p("dtype_raw.npy"), npy_with_header("{'descr': '<\xfe\xff', 'fortran_order': False, 'shape': (8, 2), }", 128));
    write_bytes(p("structured.npy"), npy_with_header("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (8,), }", 64));
    write_bytes(p("fortran.npy"), npy_with_header("{'descr': '<f8', 'fortran_order': True, 'shape': (8, 2), }", 128));
    write_bytes(p("bigendian.npy"), npy_with_header("{'descr': '>f8', 'fortran_order': False, 'shape': (8, 2), }", 128));
    write_bytes(p("extra_key.npy"), npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (8, 2), 'x\x07': 1, }", 128));
    write_bytes(p("no_shape.npy"), npy_with_header("{'descr': '<f8', 'fortran_order': False, }", 128));
    write_bytes(p("rank1.npy"), npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (16,), }", 128));
    write_bytes(p("rank3.npy"), npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4, 2), }", 128));
    write_bytes(p("int.npy"), npy_with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (8, 2), }", 64));
    write_bytes(p("dim3.npy"), good_npy(8, 3));
    write_bytes(p("huge.npy"), npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 64));
    std::vector<double> v(16, 0.5);
    v[3] = std::numeric_limits<double>::quiet_NaN();
    write_bytes(p("nan.npy"), ferry::io::format_npy(v.data(), {8, 2}));
    v[3] = 0.5;
    v[10] = -std::numeric_limits<double>::infinity();
    write_bytes(p("inf.npy"), ferry::io::format_npy(v.data(), {8, 2}));

    // Gaussian mixtures (2-D, as the demo needs).
    write_bytes(p("empty.json"), "");
    write_bytes(p("broken.json"), R"({"weights": [1], "means": [[0, 0]])");
    write_bytes(p("badutf8.json"), "{\"weights\": [1], \"means\": [[0, 0]], \"stds\": \"\xdf\xff\"}");
    write_bytes(p("array.json"), "[1, 2, 3]");
    write_bytes(p("neg_weight.json"), R"({"weights": [1.5, -0.5], "means": [[0, 0], [1, 1]], "stds": [[1, 1], [1, 1]]})");
    write_bytes(p("weight_sum.json"), R"({"weights": [0.5, 0.4], "means": [[0, 0], [1, 1]], "stds": [[1, 1], [1, 1]]})");
    write_bytes(p("zero_std.json"), R"({"weights": [1], "means": [[0, 0]], "stds": [[1, 0]]})");
    write_bytes(p("neg_std.json"), R"({"weights": [1], "means": [[0, 0]], "stds": [[-1, 1]]})");
    write_bytes(p("ragged_means.json"), R"({"weights": [0.5, 0.5], "means": [[0, 0], [1]], "stds": [[1, 1], [1, 1]]})");
    write_bytes(p("ragged_stds.json"), R"({"weights": [0.5, 0.5], "means": [[0, 0], [1, 1]], "stds": [[1, 1], [1, 1, 1]]})");
    write_bytes(p("not_pd.json"), R"({"weights": [1], "means": [[0, 0]], "covs": [[[1, 2], [2, 1]]]})");
    write_bytes(p("ragged_cov.json"), R"({"weights": [1], "means": [[0, 0]], "covs": [[[1, 0], [0]]]})");
    write_bytes(p("both.json"), R"({"weights": [1], "means": [[0, 0]], "stds": [[1, 1]], "covs": [[[1, 0], [0, 1]]]})");
    write_bytes(p("string_weight.json"), R"({"weights": ["one"], "means": [[0, 0]], "stds": [[1, 1]]})");
    write_bytes(p("huge_mean.json"), R"({"weights": [1], "means": [[1e999, 0]], "stds": [[1, 1]]})");
    write_bytes(p("gmm3.json"), R"({"weights": [1], "means": [[0, 0, 0]], "stds": [[1, 1, 1]]})");
    write_bytes(p("gmm.json"), R"({"weights": [0.5, 0.5], "means": [[-1, 0], [1, 0]], "stds": [[0.5, 0.5], [0.5, 0.5]]})");

    // diffusers scheduler configs.
    auto cfg = [&](const std::string& name, const std::string& body) { write_bytes(p(name), body); };
    cfg("cfg_empty.json", "");
    cfg("cfg_broken.json", R"({"_class_name": "EulerDiscreteScheduler",)");
    cfg("cfg_badutf8.json", "{\"_class_name\": \"Euler\xc3\x28\"}");
    cfg("cfg_class.json", R"({"_class_name": "EulerDiscreteSchedular"})");
    cfg("cfg_noclass.json", R"({"beta_start": 0.001})");
    cfg("cfg_beta_big.json", R"({"_class_name": "DDIMScheduler", "beta_end": 1.5})");
    cfg("cfg_beta_neg.json", R"({"_class_name": "DDIMScheduler", "beta_start": -0.001})");
    cfg("cfg_sigma_neg.json", R"({"_class_name": "EulerDiscreteScheduler", "sigma_min": -0.1, "use_karras_sigmas": true})");
    cfg("cfg_shift0.json", R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 0})");
    cfg("cfg_type.json", R"({"_class_name": "DPMSolverMultistepScheduler", "num_train_timesteps": "1000"})");
    cfg("cfg_order.json", R"({"_class_name": "DPMSolverMultistepScheduler", "solver_order": "two"})");
    cfg("cfg_enum.json", R"({"_class_name": "DDIMScheduler", "timestep_spacing": "trailling\u001b"})");
    cfg("cfg_ok.json", R"({"_class_name": "EulerDiscreteScheduler"})");
    cfg("cfg_small.json", R"({"_class_name": "EulerDiscreteScheduler", "num_train_timesteps": 100})");
    cfg("cfg_linspace.json", R"({"_class_name": "DDIMScheduler", "timestep_spacing": "linspace"})");
    // issue 18: the remaining diffusers classes and their step() arguments
    cfg("cfg_flow.json", R"({"_class_name": "FlowMatchEulerDiscreteScheduler"})");
    cfg("cfg_kdpm2a.json", R"({"_class_name": "KDPM2AncestralDiscreteScheduler"})");
    cfg("cfg_edm_sde3.json", R"({"_class_name": "EDMDPMSolverMultistepScheduler", "solver_order": 3, "algorithm_type": "sde-dpmsolver++"})");
    cfg("cfg_cogdpm.json", R"({"_class_name": "CogVideoXDPMScheduler"})");
    cfg("cfg_sde_dpmsolver.json", R"({"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "sde-dpmsolver"})");
    cfg("cfg_pndm_prk.json", R"({"_class_name": "PNDMScheduler"})");
    const std::vector<double> cfg_sig_up{0.5, 0.75, 0.25, 0.1}, sig_three{0.9, 0.5, 0.1};
    write_bytes(p("cfg_sig_up.npy"), ferry::io::format_npy(cfg_sig_up.data(), {cfg_sig_up.size()}));
    write_bytes(p("sig_three.npy"), ferry::io::format_npy(sig_three.data(), {sig_three.size()}));
    const std::vector<double> w_calls(4 * 8 * 2, 0.5);  // (4, 8, 2) step noise: 4 step() calls
    write_bytes(p("w4.npy"), ferry::io::format_npy(w_calls.data(), {4, 8, 2}));

    // discrete mixtures (sample-discrete --model mixture:FILE)
    write_bytes(p("dm.json"), R"({"weights": [0.5, 0.5], "probs": [[[0.9, 0.1], [0.5, 0.5]], [[0.2, 0.8], [0.5, 0.5]]]})");
    write_bytes(p("dm_broken.json"), R"({"weights": [1], "probs": [[[0.5, 0.5]])");
    write_bytes(p("dm_badutf8.json"), "{\"weights\": [1], \"probs\": \"\xdf\xff\"}");
    write_bytes(p("dm_array.json"), "[0.5, 0.5]");
    write_bytes(p("dm_neg_weight.json"), R"({"weights": [1.5, -0.5], "probs": [[[0.5, 0.5]], [[0.5, 0.5]]]})");
    write_bytes(p("dm_weight_sum.json"), R"({"weights": [0.5, 0.4], "probs": [[[0.5, 0.5]], [[0.5, 0.5]]]})");
    write_bytes(p("dm_prob_range.json"), R"({"weights": [1], "probs": [[[1.2, -0.2]]]})");
    write_bytes(p("dm_prob_sum.json"), R"({"weights": [1], "probs": [[[0.5, 0.4]]]})");
    write_bytes(p("dm_ragged.json"), R"({"weights": [1], "probs": [[[0.5, 0.5], [1]]]})");
    write_bytes(p("dm_components.json"), R"({"weights": [0.5, 0.5], "probs": [[[0.5, 0.5]]]})");
    write_bytes(p("dm_string.json"), R"({"weights": ["one"], "probs": [[[0.5, 0.5]]]})");
    // sample-discrete --init / --times (dm4.json: L = 4, V = 2, so the mask is 2)
    write_bytes(p("dm4.json"), R"({"weights": [1], "probs": [[[0.9, 0.1], [0.5, 0.5], [0.3, 0.7], [0.6, 0.4]]]})");
    auto tokens = [&](const std::string& name, std::vector<std::int32_t> v, std::vector<std::size_t> shape) {
      write_bytes(p(name), ferry::io::format_npy(v.data(), shape));
    };
    tokens("init_ok.npy", {0, 2, 2, 2}, {1, 4});
    tokens("init_two.npy", {0, 2, 2, 2, 1, 2, 2, 2}, {2, 4});
    tokens("init_range.npy", {0, 3, 2, 2}, {1, 4});
    tokens("init_negative.npy", {0, 2, -1, 2}, {1, 4});
    tokens("init_len.npy", {0, 2, 2}, {1, 3});
    tokens("init_nomask.npy", {0, 1, 0, 1}, {1, 4});
    tokens("init_allmask.npy", {2, 2, 2, 2}, {1, 4});
    tokens("init_rank1.npy", {0, 2, 2, 2}, {4});
    auto times = [&](const std::string& name, std::vector<double> v) { write_bytes(p(name), ferry::io::format_npy(v.data(), {v.size()})); };
    times("times_start.npy", {0.9, 0.5, 0.0});
    times("times_end.npy", {1.0, 0.5, 0.1});
    times("times_up.npy", {1.0, 0.4, 0.6, 0.0});
    times("times_nan.npy", {1.0, std::numeric_limits<double>::quiet_NaN(), 0.0});
    times("times_one.npy", {1.0});
    times("times_two.npy", {1.0, 0.5, 0.0});
    // sample --sigmas (ComfyUI's sigma lists), --step-noise shapes
    times("sig_ok.npy", {14.6, 3.0, 0.5, 0.0});
    times("sig_up.npy", {14.6, 3.0, 5.0, 0.0});
    times("sig_nan.npy", {14.6, std::numeric_limits<double>::quiet_NaN(), 0.0});
    times("sig_zero.npy", {14.6, 0.0, 0.5, 0.0});
    const std::vector<float> f32{14.6f, 3.0f, 0.0f};
    write_bytes(p("sig_f32.npy"), ferry::io::format_npy(f32.data(), {f32.size()}));
    const std::vector<double> w(2 * 8 * 2, 0.5), w4(4 * 1 * 8 * 2, 0.5), w5(3 * 5 * 2, 0.5);
    write_bytes(p("w_short.npy"), ferry::io::format_npy(w.data(), {2, 8, 2}));
    write_bytes(p("w_k1.npy"), ferry::io::format_npy(w4.data(), {4, 1, 8, 2}));
    write_bytes(p("w_rows.npy"), ferry::io::format_npy(w5.data(), {3, 5, 2}));
  }
};

}  // namespace

TEST_CASE("every bad input to every subcommand: one escaped line, exit 2, no output", "[cli][errors]") {
  fixture f;
  const fs::path out = f.p("out.npy");
  const std::string keep = "an existing output file, left untouched";
  const std::string sample = "sample --model gmm:" + f.q("gmm.json") + " --steps 4 --out " + quoted(out) + " ";
  const std::string sample_z = sample + "--noise " + f.q("noise.npy") + " ";
  // the same without a model, for the rows that give a bad one
  const std::string sample_nm = "sample --steps 4 --out " + quoted(out) + " --noise " + f.q("noise.npy") + " ";
  const std::string info = "info --steps 10 ";
  const std::string demo = "demo --n 50 --out " + f.q("plots") + " ";
  const std::string dsample = "sample-discrete --num-samples 4 --steps 4 --out " + quoted(out) + " ";
  const std::string dm = dsample + "--model mixture:" + f.q("dm.json") + " ";
  const std::string dm4 = dsample + "--model mixture:" + f.q("dm4.json") + " ";
  const std::string lik = "likelihood --out " + quoted(out) + " --model gmm:" + f.q("gmm.json") + " ";
  const std::string likd = lik + "--process flow --data ";
  const std::string invert = "invert --model gmm:" + f.q("gmm.json") + " --steps 4 --out " + quoted(out) + " ";
  const std::string inv = invert + "--data " + f.q("noise.npy") + " ";
  const std::string edit = sample + "--init " + f.q("noise.npy") + " ";
  const std::string noise = "noise --out " + quoted(out) + " ";
  // sample with a sigma list (no --steps: the list gives them)
  const std::string comfy = "sample --model gmm:" + f.q("gmm.json") + " --out " + quoted(out) + " --noise " + f.q("noise.npy") + " ";
  const std::string comfy_ok = comfy + "--sigmas " + f.q("sig_ok.npy") + " ";

  std::vector<bad_input> cases = {
      // .npy noise: files
      {"missing noise", sample + "--noise " + f.q("missing.npy"), {"missing.npy", "no such file"}},
      {"noise is a directory", sample + "--noise " + f.q("dir.npy"), {"dir.npy", "is a directory"}},
      {"noise is not a regular file", sample + "--noise /dev/zero", {"/dev/zero", "not a regular file"}},
      {"empty noise", sample + "--noise " + f.q("empty.npy"), {"empty.npy", "empty file"}},
      {"bad magic", sample + "--noise " + f.q("magic.npy"), {"magic.npy", "bad magic", "\\x03\\x04"}},
      {"bad version", sample + "--noise " + f.q("version.npy"), {"version.npy", "format version 9.0"}},
      {"truncated header", sample + "--noise " + f.q("trunc_header.npy"), {"trunc_header.npy", "truncated .npy header"}},
      {"truncated data", sample + "--noise " + f.q("trunc_data.npy"), {"trunc_data.npy", "truncated data"}},
      {"trailing data", sample + "--noise " + f.q("long_data.npy"), {"long_data.npy", "size mismatch"}},
      {"garbage header bytes", sample + "--noise " + f.q("garbage_header.npy"), {"garbage_header.npy", "\\xdf\\x01\\x1b"}},
      {"unsupported dtype", sample + "--noise " + f.q("dtype.npy"), {"dtype.npy", "'<c16'"}},
      {"dtype with raw bytes", sample + "--noise " + f.q("dtype_raw.npy"), {"dtype_raw.npy", "<\\xfe\\xff"}},
      {"structured dtype", sample + "--noise " + f.q("structured.npy"), {"structured.npy", "structured"}},
      {"fortran order", sample + "--noise " + f.q("fortran.npy"), {"fortran.npy", "fortran_order"}},
      {"big-endian", sample + "--noise " + f.q("bigendian.npy"), {"bigendian.npy", "big-endian"}},
      {"unknown header key", sample + "--noise " + f.q("extra_key.npy"), {"extra_key.npy", "'x\\x07'"}},
      {"header without shape", sample + "--noise " + f.q("no_shape.npy"), {"no_shape.npy", "'shape'"}},
      {"rank 1", sample + "--noise " + f.q("rank1.npy"), {"rank1.npy", "2-D"}},
      {"rank 3", sample + "--noise " + f.q("rank3.npy"), {"rank3.npy", "2-D"}},
      {"integer noise", sample + "--noise " + f.q("int.npy"), {"int.npy", "float32 or float64"}},
      {"shape does not fit the model", sample + "--noise " + f.q("dim3.npy"), {"dim3.npy", "D = 3", "dimension 2"}},
      {"shape overflows", sample + "--noise " + f.q("huge.npy"), {"huge.npy", "more"}},
      {"NaN in the noise", sample + "--noise " + f.q("nan.npy"), {"nan.npy", "nan", "row 1, column 1"}},
      {"Inf in the noise", sample + "--noise " + f.q("inf.npy"), {"inf.npy", "inf", "row 5, column 0"}},
      // Gaussian-mixture JSON through sample --model gmm:FILE
      {"missing mixture", sample_nm + "--model gmm:" + f.q("nope.json"), {"nope.json", "no such file"}},
      {"empty mixture", sample_nm + "--model gmm:" + f.q("empty.json"), {"empty.json", "empty file"}},
      {"malformed mixture JSON", sample_nm + "--model gmm:" + f.q("broken.json"), {"broken.json", "not valid JSON"}},
      {"invalid UTF-8 in the mixture", sample_nm + "--model gmm:" + f.q("badutf8.json"), {"badutf8.json", "\\xdf"}},
      {"mixture is an array", sample_nm + "--model gmm:" + f.q("array.json"), {"array.json", "\"weights\""}},
      {"negative weight", sample_nm + "--model gmm:" + f.q("neg_weight.json"), {"neg_weight.json", "weights[1] = -0.5"}},
      {"weights not summing to 1", sample_nm + "--model gmm:" + f.q("weight_sum.json"), {"weight_sum.json", "sum to 0.9"}},
      {"zero std", sample_nm + "--model gmm:" + f.q("zero_std.json"), {"zero_std.json", "stds[0][1] = 0"}},
      {"negative std", sample_nm + "--model gmm:" + f.q("neg_std.json"), {"neg_std.json", "stds[0][0] = -1"}},
      {"ragged means", sample_nm + "--model gmm:" + f.q("ragged_means.json"), {"ragged_means.json", "means[1]"}},
      {"ragged stds", sample_nm + "--model gmm:" + f.q("ragged_stds.json"), {"ragged_stds.json", "stds[1]"}},
      {"covariance not positive definite", sample_nm + "--model gmm:" + f.q("not_pd.json"), {"not_pd.json", "positive definite"}},
      {"ragged covariance", sample_nm + "--model gmm:" + f.q("ragged_cov.json"), {"ragged_cov.json", "covs"}},
      {"stds and covs", sample_nm + "--model gmm:" + f.q("both.json"), {"both.json", "exactly one"}},
      {"a string weight", sample_nm + "--model gmm:" + f.q("string_weight.json"), {"string_weight.json", "number"}},
      {"an infinite mean", sample_nm + "--model gmm:" + f.q("huge_mean.json"), {"huge_mean.json", "number overflow parsing '1e999'"}},
      {"a model that is not gmm:", sample_nm + "--model mixture.json", {"--model", "gmm:PATH"}},
      // scheduler configs
      {"missing config", sample_z + "--scheduler-config " + f.q("nope.json"), {"nope.json", "no such file"}},
      {"empty config", sample_z + "--scheduler-config " + f.q("cfg_empty.json"), {"cfg_empty.json", "empty file"}},
      {"malformed config", sample_z + "--scheduler-config " + f.q("cfg_broken.json"), {"cfg_broken.json", "not valid JSON"}},
      {"invalid UTF-8 in the config", sample_z + "--scheduler-config " + f.q("cfg_badutf8.json"), {"cfg_badutf8.json", "\\xc3"}},
      {"unknown _class_name", sample_z + "--scheduler-config " + f.q("cfg_class.json"),
       {"cfg_class.json", "EulerDiscreteSchedular", "did you mean \"EulerDiscreteScheduler\""}},
      {"no _class_name", sample_z + "--scheduler-config " + f.q("cfg_noclass.json"), {"cfg_noclass.json", "_class_name"}},
      {"beta above 1", sample_z + "--scheduler-config " + f.q("cfg_beta_big.json"), {"cfg_beta_big.json", "beta_end", "(0, 1)"}},
      {"negative beta", sample_z + "--scheduler-config " + f.q("cfg_beta_neg.json"), {"cfg_beta_neg.json", "beta_start", "(0, 1)"}},
      {"negative sigma", sample_z + "--scheduler-config " + f.q("cfg_sigma_neg.json"), {"cfg_sigma_neg.json", "sigma_min", "> 0"}},
      {"shift 0", sample_z + "--scheduler-config " + f.q("cfg_shift0.json"), {"cfg_shift0.json", "\"shift\"", "> 0"}},
      {"string where a number goes", sample_z + "--scheduler-config " + f.q("cfg_type.json"),
       {"cfg_type.json", "num_train_timesteps", "integer"}},
      {"string solver_order", sample_z + "--scheduler-config " + f.q("cfg_order.json"), {"cfg_order.json", "solver_order"}},
      {"enum with a control byte", sample_z + "--scheduler-config " + f.q("cfg_enum.json"),
       {"cfg_enum.json", "timestep_spacing", "trailling\\u001b"}},
      {"more steps than the spacing allows", "sample --model gmm:" + f.q("gmm.json") + " --noise " + f.q("noise.npy") +
                                                 " --out " + quoted(out) + " --steps 101 --scheduler-config " + f.q("cfg_small.json"),
       {"steps = 101", "expected 1 to 100"}},
      // native sampling values
      {"steps 0", sample_z + "--steps 0", {"--steps", "from 1"}},
      {"negative steps", sample_z + "--steps -3", {"--steps", "\"-3\""}},
      {"steps not a number", sample_z + "--steps many", {"--steps", "many"}},
      {"rho 0", sample_z + "--rho 0", {"rho", "> 0"}},
      {"negative rho", sample_z + "--rho -7", {"rho", "> 0"}},
      {"shift 0 on flow", sample_z + "--process flow --shift 0", {"shift", "> 0"}},
      {"negative sigma-min", sample_z + "--sigma-min -1", {"sigma_min", "> 0"}},
      {"sigma range reversed", sample_z + "--sigma-min 10 --sigma-max 1", {"sigma_min", "sigma_max"}},
      {"order out of range", sample_z + "--solver unipc --order 7", {"unipc", "order 7"}},
      // names: solvers, grids, processes, predictions, ode times, options, subcommands
      {"unknown solver", sample_z + "--solver eulr", {"\"eulr\"", "did you mean \"euler\""}},
      {"unknown solver, raw bytes", sample_z + "--solver \"$(printf '\\337\\233')\"", {"\"\\xdf\\x9b\"", "expected one of"}},
      {"unknown grid", sample_z + "--grid karas", {"\"karas\"", "did you mean \"karras\""}},
      {"unknown process", sample_z + "--process vp-liner", {"\"vp-liner\"", "did you mean \"vp-linear\""}},
      {"unknown prediction", sample_z + "--prediction epsilion", {"\"epsilion\"", "did you mean \"epsilon\""}},
      {"unknown ode time", sample_z + "--ode-time sigam", {"\"sigam\"", "did you mean \"sigma\""}},
      {"unknown dtype", sample_z + "--dtype float23", {"--dtype", "\"float23\"", "did you mean \"float32\""}},
      {"few-step solver in float32", sample_z + "--dtype float32 --solver meanflow", {"meanflow", "--dtype float64"}},
      {"unknown option to sample", sample_z + "--stpes 4", {"--stpes", "did you mean --steps"}},
      {"native option with a config", sample_z + "--scheduler-config " + f.q("cfg_ok.json") + " --solver heun",
       {"--solver", "--scheduler-config"}},
      {"missing required option", "sample --noise " + f.q("noise.npy") + " --steps 4 --out " + quoted(out), {"--model"}},
      {"unknown subcommand", "smaple", {"\"smaple\"", "did you mean \"sample\""}},
      {"unknown subcommand, raw bytes", "\"$(printf '\\377\\033[2J')\"", {"\\xff\\x1b[2J"}},
      {"no subcommand", "", {"subcommand"}},
      // info
      {"info: missing config", info + "--scheduler-config " + f.q("nope.json"), {"nope.json", "no such file"}},
      {"info: empty config", info + "--scheduler-config " + f.q("cfg_empty.json"), {"cfg_empty.json", "empty file"}},
      {"info: config is a directory", info + "--scheduler-config " + f.q("dir.npy"), {"dir.npy", "is a directory"}},
      {"info: malformed config", info + "--scheduler-config " + f.q("cfg_broken.json"), {"cfg_broken.json", "not valid JSON"}},
      {"info: invalid UTF-8", info + "--scheduler-config " + f.q("cfg_badutf8.json"), {"cfg_badutf8.json", "\\xc3"}},
      {"info: unknown class", info + "--scheduler-config " + f.q("cfg_class.json"), {"did you mean \"EulerDiscreteScheduler\""}},
      {"info: beta above 1", info + "--scheduler-config " + f.q("cfg_beta_big.json"), {"beta_end", "(0, 1)"}},
      {"info: negative sigma", info + "--scheduler-config " + f.q("cfg_sigma_neg.json"), {"sigma_min", "> 0"}},
      {"info: shift 0", info + "--scheduler-config " + f.q("cfg_shift0.json"), {"\"shift\"", "> 0"}},
      {"info: wrong type", info + "--scheduler-config " + f.q("cfg_type.json"), {"num_train_timesteps", "integer"}},
      {"info: too many steps", "info --steps 101 --scheduler-config " + f.q("cfg_small.json"), {"steps = 101"}},
      {"info: steps 0", "info --steps 0 --scheduler-config " + f.q("cfg_ok.json"), {"--steps", "from 1"}},
      {"info: negative steps", "info --steps -1 --scheduler-config " + f.q("cfg_ok.json"), {"--steps", "\"-1\""}},
      {"info: unknown option", info + "--scheduler-config " + f.q("cfg_ok.json") + " --jsno", {"--jsno", "did you mean --json"}},
      {"info: stray argument", info + "--scheduler-config " + f.q("cfg_ok.json") + " extra", {"\"extra\""}},
      // demo
      {"demo: missing mixture", demo + "--gmm " + f.q("nope.json"), {"nope.json", "no such file"}},
      {"demo: empty mixture", demo + "--gmm " + f.q("empty.json"), {"empty.json", "empty file"}},
      {"demo: malformed mixture", demo + "--gmm " + f.q("broken.json"), {"broken.json", "not valid JSON"}},
      {"demo: invalid UTF-8", demo + "--gmm " + f.q("badutf8.json"), {"badutf8.json", "\\xdf"}},
      {"demo: negative weight", demo + "--gmm " + f.q("neg_weight.json"), {"weights[1] = -0.5"}},
      {"demo: weights not summing to 1", demo + "--gmm " + f.q("weight_sum.json"), {"sum to 0.9"}},
      {"demo: zero std", demo + "--gmm " + f.q("zero_std.json"), {"stds[0][1] = 0"}},
      {"demo: ragged means", demo + "--gmm " + f.q("ragged_means.json"), {"means[1]"}},
      {"demo: not positive definite", demo + "--gmm " + f.q("not_pd.json"), {"positive definite"}},
      {"demo: not 2-D", demo + "--gmm " + f.q("gmm3.json"), {"gmm3.json", "dimension 3"}},
      {"demo: n too small", demo + "--n 1", {"--n", "from 2"}},
      {"demo: negative n", "demo --n -5 --out " + f.q("plots"), {"--n", "\"-5\""}},
      {"demo: unknown option", demo + "--sed 3", {"--sed", "did you mean --seed"}},
      // invert and sample --init (SDEdit)
      {"invert: missing data", invert + "--data " + f.q("missing.npy"), {"missing.npy", "no such file"}},
      {"invert: data of another D", invert + "--data " + f.q("dim3.npy"), {"dim3.npy", "D = 3", "dimension 2"}},
      {"invert: NaN in the data", invert + "--data " + f.q("nan.npy"), {"nan.npy", "data", "row 1, column 1"}},
      {"invert: integer data", invert + "--data " + f.q("int.npy"), {"int.npy", "float32 or float64"}},
      {"invert: no --data", invert, {"--data"}},
      {"invert: a stochastic solver", inv + "--solver euler-ancestral", {"deterministic"}},
      {"invert: a few-step solver", inv + "--solver consistency", {"consistency", "no inverse"}},
      {"invert: a grid ending at sigma = 0", inv + "--final-zero true", {"sigma = 0", "final_zero"}},
      {"invert: a lambda solver landing on pure noise", inv + "--process flow --grid uniform --solver dpmpp-2m",
       {"not finite", "alpha = 0", "t_max < 1"}},
      {"invert: linspace DDIM config", inv + "--scheduler-config " + f.q("cfg_linspace.json"), {"linspace", "leading or trailing"}},
      {"invert: unknown solver", inv + "--solver dpmpp-3n", {"\"dpmpp-3n\"", "did you mean \"dpmpp-3m\""}},
      {"invert: a sampling-only option", inv + "--seed 3", {"--seed"}},
      {"sample --init: strength 0", edit + "--strength 0", {"--strength", "(0, 1]"}},
      {"sample --init: strength above 1", edit + "--strength 1.5", {"--strength", "(0, 1]"}},
      {"sample --init: strength NaN", edit + "--strength nan", {"--strength", "(0, 1]"}},
      {"sample --init: no step kept", edit + "--strength 0.2", {"keeps no step"}},
      {"sample --init without --strength", edit, {"--init", "--strength"}},
      {"sample --strength without --init", sample + "--num-samples 4 --strength 0.5", {"--strength", "--init"}},
      {"sample --init with --noise", edit + "--strength 0.5 --noise " + f.q("noise.npy"), {"--init", "--noise"}},
      {"sample --init: missing file", sample + "--init " + f.q("missing.npy") + " --strength 0.5", {"missing.npy", "no such file"}},
      {"sample --init: data of another D", sample + "--init " + f.q("dim3.npy") + " --strength 0.5", {"dim3.npy", "D = 3"}},
      {"sample --init: NaN in the data", sample + "--init " + f.q("nan.npy") + " --strength 0.5", {"nan.npy", "row 1, column 1"}},
      // sample-discrete
      {"discrete: missing mixture", dsample + "--model mixture:" + f.q("nope.json"), {"nope.json", "no such file"}},
      {"discrete: mixture is a directory", dsample + "--model mixture:" + f.q("dir.npy"), {"dir.npy", "is a directory"}},
      {"discrete: empty mixture", dsample + "--model mixture:" + f.q("empty.json"), {"empty.json", "empty file"}},
      {"discrete: malformed JSON", dsample + "--model mixture:" + f.q("dm_broken.json"), {"dm_broken.json", "not valid JSON"}},
      {"discrete: invalid UTF-8", dsample + "--model mixture:" + f.q("dm_badutf8.json"), {"dm_badutf8.json", "\\xdf"}},
      {"discrete: mixture is an array", dsample + "--model mixture:" + f.q("dm_array.json"), {"dm_array.json", "\"weights\""}},
      {"discrete: negative weight", dsample + "--model mixture:" + f.q("dm_neg_weight.json"), {"dm_neg_weight.json", "weights[1] = -0.5"}},
      {"discrete: weights not summing to 1", dsample + "--model mixture:" + f.q("dm_weight_sum.json"), {"dm_weight_sum.json", "sums to 0.9"}},
      {"discrete: probability outside [0, 1]", dsample + "--model mixture:" + f.q("dm_prob_range.json"),
       {"dm_prob_range.json", "probs[0][0][1] = -0.2"}},
      {"discrete: probabilities not summing to 1", dsample + "--model mixture:" + f.q("dm_prob_sum.json"),
       {"dm_prob_sum.json", "probs[0][0] sums to 0.9"}},
      {"discrete: ragged probabilities", dsample + "--model mixture:" + f.q("dm_ragged.json"), {"dm_ragged.json", "probs[0][1]"}},
      {"discrete: components disagree", dsample + "--model mixture:" + f.q("dm_components.json"), {"dm_components.json", "components"}},
      {"discrete: a string weight", dsample + "--model mixture:" + f.q("dm_string.json"), {"dm_string.json", "number"}},
      {"discrete: a model that is not mixture:", dsample + "--model dm.json", {"--model", "mixture:PATH"}},
      {"discrete: unknown sampler", dm + "--sampler ancestrl", {"\"ancestrl\"", "did you mean \"ancestral\""}},
      {"discrete: unknown kernel", dm + "--kernel maskd", {"\"maskd\"", "did you mean \"masked\""}},
      {"discrete: unknown schedule", dm + "--schedule cosin", {"\"cosin\"", "did you mean \"cosine\""}},
      {"discrete: unknown confidence", dm + "--sampler confidence --confidence margn", {"\"margn\"", "did you mean \"margin\""}},
      {"discrete: unknown gumbel precision", dm + "--gumbel float16", {"--gumbel", "\"float16\""}},
      {"discrete: ancestral on the uniform kernel", dm + "--kernel uniform --sampler ancestral", {"ancestral", "masked kernel"}},
      {"discrete: num-samples 0", "sample-discrete --num-samples 0 --out " + quoted(out) + " --model mixture:" + f.q("dm.json"),
       {"--num-samples", "from 1"}},
      {"discrete: negative num-samples", "sample-discrete --num-samples -3 --out " + quoted(out) + " --model mixture:" + f.q("dm.json"),
       {"--num-samples", "\"-3\""}},
      {"discrete: steps not a number", dm + "--steps many", {"--steps", "many"}},
      {"discrete: unknown option", dm + "--sampeler pc", {"--sampeler", "did you mean --sampler"}},
      // sample-discrete --init, --times, llada and dream
      {"discrete --init: token above the mask", dm4 + "--init " + f.q("init_range.npy"), {"init_range.npy", "--init", "token 3", "[0, 2]"}},
      {"discrete --init: negative token", dm4 + "--init " + f.q("init_negative.npy"), {"init_negative.npy", "token -1", "position 2"}},
      {"discrete --init: wrong length", dm4 + "--init " + f.q("init_len.npy"), {"init_len.npy", "3 tokens", "L = 4"}},
      {"discrete --init: a row without a mask", dm4 + "--init " + f.q("init_nomask.npy"), {"init_nomask.npy", "row 0", "no masked position"}},
      {"discrete --init: float tokens", dm4 + "--init " + f.q("noise.npy"), {"noise.npy", "--init", "int32"}},
      {"discrete --init: rank 1", dm4 + "--init " + f.q("init_rank1.npy"), {"init_rank1.npy", "2-D"}},
      {"discrete --init: missing file", dm4 + "--init " + f.q("nope.npy"), {"nope.npy", "no such file"}},
      {"discrete --init: rows and --num-samples disagree", "sample-discrete --steps 4 --out " + quoted(out) + " --model mixture:" +
           f.q("dm4.json") + " --num-samples 3 --init " + f.q("init_two.npy"), {"--num-samples 3", "2 rows"}},
      {"discrete: no --num-samples and no --init", "sample-discrete --steps 4 --out " + quoted(out) + " --model mixture:" + f.q("dm4.json"),
       {"--num-samples", "--init"}},
      {"discrete --times: not from 1", dm4 + "--times " + f.q("times_start.npy"), {"times_start.npy", "--times", "t = 0.9", "starts at t = 1"}},
      {"discrete --times: not to 0", dm4 + "--times " + f.q("times_end.npy"), {"times_end.npy", "t = 0.1", "ends at t = 0"}},
      {"discrete --times: not decreasing", dm4 + "--times " + f.q("times_up.npy"), {"times_up.npy", "decrease strictly", "time 2"}},
      {"discrete --times: NaN", dm4 + "--times " + f.q("times_nan.npy"), {"times_nan.npy", "time 1", "nan"}},
      {"discrete --times: one time", dm4 + "--times " + f.q("times_one.npy"), {"times_one.npy", "at least 2 times"}},
      {"discrete --times: 2-D", dm4 + "--times " + f.q("noise.npy"), {"noise.npy", "--times", "1-D"}},
      {"discrete --times: integers", dm4 + "--times " + f.q("init_rank1.npy"), {"init_rank1.npy", "--times", "float64"}},
      {"discrete --times: steps disagree", dm4 + "--times " + f.q("times_two.npy"), {"times_two.npy", "--times", "--steps 4", "2 steps"}},
      {"discrete llada: block size not dividing the span", dm4 + "--sampler llada --block-size 2 --init " + f.q("init_ok.npy"),
       {"--block-size 2", "does not divide", "3 positions"}},
      {"discrete llada: steps not a multiple of the blocks", dm4 + "--sampler llada --block-size 1 --init " + f.q("init_ok.npy"),
       {"--steps 4", "multiple of the 3 blocks"}},
      {"discrete llada: --cfg-scale without given tokens", dm4 + "--sampler llada --cfg-scale 1 --init " + f.q("init_allmask.npy"),
       {"--cfg-scale 1", "given tokens"}},
      {"discrete llada: --cfg-scale without --init", dm4 + "--sampler llada --cfg-scale 0.5", {"--cfg-scale 0.5", "given tokens"}},
      {"discrete llada: unknown --remasking", dm4 + "--sampler llada --remasking low-confidance",
       {"--remasking \"low-confidance\"", "did you mean \"low-confidence\""}},
      {"discrete llada: unknown --eos-rule", dm4 + "--sampler llada --eos-id 1 --eos-rule logit", {"--eos-rule \"logit\"", "logits"}},
      {"discrete llada: --eos-id outside the vocabulary", dm4 + "--sampler llada --eos-id 2 --eos-rule logits", {"--eos-id 2", "[0, 2)"}},
      {"discrete llada: --eos-rule without --eos-id", dm4 + "--sampler llada --eos-rule confidence", {"--eos-rule", "--eos-id"}},
      {"discrete llada: --eos-id without --eos-rule", dm4 + "--sampler llada --eos-id 1", {"--eos-id", "--eos-rule"}},
      {"discrete llada: --top-p", dm4 + "--sampler llada --top-p 0.9", {"--top-p", "llada"}},
      {"discrete dream: unknown --alg", dm4 + "--sampler dream --alg maskgit-pls", {"--alg \"maskgit-pls\"", "did you mean \"maskgit-plus\""}},
      {"discrete dream: --eps 1", dm4 + "--sampler dream --eps 1", {"--eps 1", "0 <= eps < 1"}},
      {"discrete dream: negative --alg-temp", dm4 + "--sampler dream --alg-temp -1", {"--alg-temp -1"}},
      {"discrete llada: --times", dm4 + "--sampler llada --times " + f.q("times_two.npy"), {"--times", "llada"}},
      {"discrete: --alg for another sampler", dm4 + "--sampler ancestral --alg entropy", {"--alg", "--sampler dream", "ancestral"}},
      {"discrete: --cfg-scale for another sampler", dm4 + "--sampler dream --cfg-scale 1", {"--cfg-scale", "--sampler llada"}},
      // likelihood
      {"likelihood: missing data", likd + f.q("nope.npy"), {"nope.npy", "no such file"}},
      {"likelihood: data is not .npy", likd + f.q("magic.npy"), {"magic.npy"}},
      {"likelihood: rank-1 data", likd + f.q("rank1.npy"), {"rank1.npy", "2-D"}},
      {"likelihood: integer data", likd + f.q("int.npy"), {"int.npy", "float32 or float64"}},
      {"likelihood: data of another dimension", likd + f.q("dim3.npy"), {"dim3.npy", "D = 3", "dimension 2"}},
      {"likelihood: NaN in the data", likd + f.q("nan.npy"), {"nan.npy", "nan", "row 1, column 1"}},
      {"likelihood: Inf in the data", likd + f.q("inf.npy"), {"inf.npy", "inf", "row 5, column 0"}},
      {"likelihood: unknown process", lik + "--process vp-linaer --data " + f.q("noise.npy"), {"\"vp-linaer\"", "did you mean \"vp-linear\""}},
      {"likelihood: unknown probes", likd + f.q("noise.npy") + " --hutchinson 2 --probes gausian", {"\"gausian\"", "did you mean \"gaussian\""}},
      {"likelihood: negative probe count", likd + f.q("noise.npy") + " --hutchinson -2", {"--hutchinson", "\"-2\""}},
      {"likelihood: t-min above t-max", likd + f.q("noise.npy") + " --t-min 2", {"t_min=2"}},
      {"likelihood: negative tolerance", likd + f.q("noise.npy") + " --rtol -1", {"rtol=-1"}},
      {"likelihood: zero tolerances", likd + f.q("noise.npy") + " --rtol 0 --atol 0", {"rtol=0", "atol=0"}},
      {"likelihood: t-min 0", likd + f.q("noise.npy") + " --t-min 0", {"t_min=0"}},
      {"likelihood: a process without likelihood", lik + "--process edm --data " + f.q("noise.npy"), {"\"edm\"", "expected vp-linear"}},
      {"likelihood: unknown prediction", likd + f.q("noise.npy") + " --prediction velocty", {"velocty"}},
      {"likelihood: model that is not gmm:", "likelihood --out " + quoted(out) + " --process flow --model m.json --data " + f.q("noise.npy"),
       {"--model", "gmm:PATH"}},
      {"likelihood: malformed mixture", "likelihood --out " + quoted(out) + " --process flow --model gmm:" + f.q("broken.json") +
       " --data " + f.q("noise.npy"), {"broken.json", "not valid JSON"}},
      // ferry noise
      {"noise: unknown rng", noise + "--rng torch-gpu --shape 4,2", {"--rng", "\"torch-gpu\"", "did you mean \"torch-cpu\"", "philox"}},
      {"noise: rng with control bytes", noise + "--rng \"$(printf 'torch\\033')\" --shape 4,2", {"--rng", "\"torch\\x1b\""}},
      {"noise: torch-cuda in float64", noise + "--rng torch-cuda --dtype float64 --shape 4,2", {"torch-cuda", "float32 only"}},
      {"noise: unknown dtype", noise + "--dtype float16 --shape 4,2", {"--dtype", "\"float16\"", "float32 or float64"}},
      {"noise: shape not numbers", noise + "--shape 4,x", {"--shape", "\"4,x\"", "N,D"}},
      {"noise: empty dimension", noise + "--shape 4,,2", {"--shape", "\"4,,2\""}},
      {"noise: zero dimension", noise + "--shape 0,2", {"--shape", "a dimension is 0"}},
      {"noise: negative dimension", noise + "--shape -4,2", {"--shape", "\"-4,2\""}},
      {"noise: too many elements", noise + "--shape 65536,65537", {"--shape", "2^32 elements"}},
      {"noise: negative seed", noise + "--seed -1 --shape 4,2", {"--seed"}},
      {"noise: no shape", noise, {"--shape", "required"}},
      // ComfyUI's samplers and schedulers (issue 19): sigma lists, step noise, names, tables, options
      {"sigmas not decreasing", comfy + "--sigmas " + f.q("sig_up.npy"), {"sig_up.npy", "decrease strictly", "entry 2"}},
      {"sigmas with a NaN", comfy + "--sigmas " + f.q("sig_nan.npy"), {"sig_nan.npy", "entry 1", "nan"}},
      {"sigmas with an inner 0", comfy + "--sigmas " + f.q("sig_zero.npy"), {"sig_zero.npy", "entry 1", "only the last may be 0"}},
      {"sigmas 2-D", comfy + "--sigmas " + f.q("noise.npy"), {"noise.npy", "1-D"}},
      {"sigmas float32", comfy + "--sigmas " + f.q("sig_f32.npy"), {"sig_f32.npy", "float64", "<f4"}},
      {"sigmas integer", comfy + "--sigmas " + f.q("init_rank1.npy"), {"init_rank1.npy", "float64"}},
      {"sigmas above a flow's 1", comfy_ok + "--process flow", {"sig_ok.npy", "a flow's sigma lies in [0, 1]"}},
      {"sigmas and --steps disagree", comfy_ok + "--steps 4", {"--steps 4", "3 steps"}},
      {"sigmas and --grid", comfy_ok + "--grid karras", {"--sigmas", "--grid"}},
      {"step noise for too few steps", comfy_ok + "--solver euler-ancestral --step-noise " + f.q("w_short.npy"),
       {"w_short.npy", "(2, 8, 2)", "S >= 3"}},
      {"step noise of another batch", comfy_ok + "--solver er-sde --step-noise " + f.q("w_rows.npy"), {"w_rows.npy", "(3, 5, 2)", "8, 2)"}},
      {"step noise with too few draws a step", comfy_ok + "--solver seeds-3 --step-noise " + f.q("w_k1.npy"), {"K >= 2", "draws 2"}},
      {"step noise 2-D", comfy_ok + "--solver seeds-2 --step-noise " + f.q("noise.npy"), {"noise.npy", "3-D (S, N, D) or 4-D"}},
      {"unknown ComfyUI sampler", comfy_ok + "--solver ipndm-w", {"\"ipndm-w\"", "did you mean \"ipndm-v\""}},
      {"unknown ComfyUI grid", sample_z + "--process discrete-vp --grid sgm-unifrom", {"\"sgm-unifrom\"", "did you mean \"sgm-uniform\""}},
      {"a table grid without a table", sample_z + "--process edm --grid simple", {"simple", "discrete sigma table", "edm"}},
      {"a table grid on a flow without a table", sample_z + "--process flow --shift 3 --grid normal", {"normal", "num_train_timesteps"}},
      {"sa-solver without its interval on edm", comfy_ok + "--solver sa-solver", {"--sde-start-sigma", "--process edm"}},
      {"sa-solver interval reversed", comfy_ok + "--solver sa-solver --sde-start-sigma 0.5 --sde-end-sigma 5",
       {"sde_start_sigma = 0.5", "sde_end_sigma = 5"}},
      {"sa-solver predictor order 5", comfy_ok + "--solver sa-solver-pece --predictor-order 5 --sde-start-sigma 5 --sde-end-sigma 0.5",
       {"predictor_order = 5", "1 to 4"}},
      {"ipndm max order 5", comfy_ok + "--solver ipndm --max-order 5", {"ipndm", "max_order 5", "1 to 4"}},
      {"deis max order 5", comfy_ok + "--solver deis --max-order 5", {"deis", "max_order 5", "1 to 4"}},
      {"unknown deis mode", comfy_ok + "--solver deis --deis-mode rhoab", {"deis_mode \"rhoab\"", "tab or logrho"}},
      {"er-sde max stage 4", comfy_ok + "--solver er-sde --max-stage 4", {"max_stage = 4"}},
      {"res-multistep negative eta", comfy_ok + "--solver res-multistep-ancestral --eta -1", {"res-multistep", "eta"}},
      {"unknown dpm-singlestep algorithm", comfy_ok + "--solver dpm-singlestep --algorithm-type dpmsolver+",
       {"\"dpmsolver+\"", "did you mean \"dpmsolver++\""}},
      {"info: a table grid without a table", "info --process edm --grid beta --steps 10 --json", {"beta", "discrete sigma table"}},
      {"info: unknown ComfyUI grid", "info --process discrete-vp --grid ays-sd2 --steps 10", {"\"ays-sd2\"", "did you mean"}},
      {"info: grid without --steps", "info --process discrete-vp --grid simple", {"--steps"}},
      {"info: native with --mu", "info --process flow --grid simple --steps 4 --mu 0.5", {"--mu", "--scheduler-config"}},
      {"info: gits coefficient", "info --process discrete-vp --grid gits --steps 10 --coeff 2", {"coeff"}},
      // diffusers classes and their step() arguments (issue 18)
      {"config: --s-noise to a class whose step takes none", sample_z + "--scheduler-config " + f.q("cfg_ok.json") + " --s-noise 0.5",
       {"EulerDiscreteScheduler.step takes no s_noise", "DPMSolverSDEScheduler"}},
      {"config: --eta to a class whose step takes none", sample_z + "--scheduler-config " + f.q("cfg_kdpm2a.json") + " --eta 0.5",
       {"KDPM2AncestralDiscreteScheduler.step takes no eta"}},
      {"config: --sigmas not decreasing", sample_z + "--scheduler-config " + f.q("cfg_flow.json") + " --sigmas " + f.q("cfg_sig_up.npy"),
       {"sigmas[1] = 0.75", "decrease strictly"}},
      {"config: --sigmas of the wrong length", sample_z + "--scheduler-config " + f.q("cfg_flow.json") + " --sigmas " + f.q("sig_three.npy"),
       {"sigmas has 3 entries; expected 4"}},
      {"config: --sigmas to a class that takes none", sample_z + "--scheduler-config " + f.q("cfg_kdpm2a.json") + " --sigmas " + f.q("cfg_sig_up.npy"),
       {"KDPM2AncestralDiscreteScheduler.set_timesteps takes no sigmas"}},
      {"config: --rng with --step-noise", sample_z + "--scheduler-config " + f.q("cfg_kdpm2a.json") + " --rng torch-cpu --step-noise " + f.q("w4.npy"),
       {"--rng torch-cpu", "drop --step-noise"}},
      {"config: step noise shorter than the class's step() calls", sample_z + "--scheduler-config " + f.q("cfg_kdpm2a.json") + " --step-noise " + f.q("w4.npy"),
       {"w4.npy", "KDPM2AncestralDiscreteScheduler", "4 arrays", "at least 6"}},
      {"config: EDMDPM's third-order SDE step", "sample --model gmm:" + f.q("gmm.json") + " --noise " + f.q("noise.npy") + " --out " +
       quoted(out) + " --steps 12 --scheduler-config " + f.q("cfg_edm_sde3.json"), {"EDMDPMSolverMultistepScheduler", "solver_order 2"}},
      {"config: a diffusers class ferry does not reproduce", sample_z + "--scheduler-config " + f.q("cfg_cogdpm.json"),
       {"cfg_cogdpm.json", "\"CogVideoXDPMScheduler\", a diffusers scheduler ferry does not reproduce"}},
      {"config: a value ferry does not implement", sample_z + "--scheduler-config " + f.q("cfg_sde_dpmsolver.json"),
       {"\"algorithm_type\" is \"sde-dpmsolver\"", "ferry does not implement sde-dpmsolver"}},
      {"config: PNDM's warm-up with 3 steps", "sample --model gmm:" + f.q("gmm.json") + " --noise " + f.q("noise.npy") + " --out " +
       quoted(out) + " --steps 3 --scheduler-config " + f.q("cfg_pndm_prk.json"), {"PNDMScheduler.set_timesteps: steps = 3", "at least 4"}},
  };

  for (const bad_input& c : cases) {
    INFO(c.what << ": ferry " << c.args);
    write_bytes(out, keep);
    const run_result r = run_cli(c.args, f.dir);
    INFO("stderr: " << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.rfind("ferry: ", 0) == 0);
    CHECK(one_clean_line(r.err));
    for (const std::string& m : c.mentions) CHECK(r.err.find(m) != std::string::npos);
    CHECK(slurp(out) == keep);                          // an existing output is untouched
    CHECK((!fs::exists(f.p("plots")) || fs::is_empty(f.p("plots"))));  // the demo wrote nothing
    std::size_t stray = 0;                              // and no temporary file was left behind
    for (const auto& e : fs::directory_iterator(f.dir.path))
      stray += e.path().filename().string().find(".tmp") != std::string::npos;
    CHECK(stray == 0);
  }
  SECTION("a missing output is not created") {
    fs::remove(out);
    const run_result r = run_cli(sample + "--noise " + f.q("nan.npy"), f.dir);
    CHECK(r.code == 2);
    CHECK(!fs::exists(out));
  }
}

TEST_CASE("the good inputs of the error table do run (the table's failures are the bad parts)", "[cli][errors]") {
  fixture f;
  const fs::path out = f.p("out.npy");
  const run_result a = run_cli("sample --model gmm:" + f.q("gmm.json") + " --noise " + f.q("noise.npy") +
                                   " --steps 4 --out " + quoted(out), f.dir);
  CHECK(a.code == 0);
  CHECK(fs::exists(out));
  const run_result b = run_cli("sample --model gmm:" + f.q("gmm.json") + " --noise " + f.q("noise.npy") +
                                   " --steps 100 --out " + quoted(out) + " --scheduler-config " + f.q("cfg_small.json"), f.dir);
  CHECK(b.code == 0);
  const run_result c = run_cli("info --steps 10 --scheduler-config " + f.q("cfg_ok.json"), f.dir);
  CHECK(c.code == 0);
  const run_result e = run_cli("invert --model gmm:" + f.q("gmm.json") + " --data " + f.q("noise.npy") + " --steps 4 --out " +
                                   quoted(out), f.dir);
  CHECK(e.code == 0);
  const run_result g = run_cli("sample --model gmm:" + f.q("gmm.json") + " --init " + f.q("noise.npy") +
                                   " --strength 0.5 --steps 4 --out " + quoted(out), f.dir);
  CHECK(g.code == 0);
  const run_result d = run_cli("sample-discrete --num-samples 4 --steps 4 --out " + quoted(out) + " --model mixture:" + f.q("dm.json"), f.dir);
  CHECK(d.code == 0);
  const run_result h = run_cli("sample --model gmm:" + f.q("gmm.json") + " --noise " + f.q("noise.npy") + " --sigmas " + f.q("sig_ok.npy") +
                                   " --solver seeds-3 --step-noise " + f.q("w_k1.npy") + " --eta 0 --out " + quoted(out), f.dir);
  CHECK(h.code == 0);  // seeds-3 with eta 0 draws nothing: any step noise will do
  const run_result i = run_cli("info --process discrete-vp --grid simple --steps 4 --json", f.dir);
  CHECK(i.code == 0);
  for (const char* rng : {"philox", "torch-cpu", "torch-cuda"}) {
    const run_result n = run_cli(std::string("noise --rng ") + rng + " --shape 4,2 --out " + quoted(out), f.dir);
    CHECK(n.code == 0);
  }
}

}  // namespace test_cli_errors
#endif  // FERRY_CLI_PATH
