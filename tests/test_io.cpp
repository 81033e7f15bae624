// ferry::io: .npy reading and writing (format 1.0/2.0/3.0), checked against files numpy wrote and
// against headers built byte by byte here, plus every error path.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "test_support.hpp"
#include "ferry/io/npy.hpp"

namespace test_io {

namespace fs = std::filesystem;
using ferry::io::npy_array;
using ferry::io::npy_dtype;

using ferry_test::scratch_dir;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

/// Decodes a little-endian IEEE double from 8 bytes by assembling its bit pattern (independent of memcpy/host order).
double le_double(const std::string& bytes, std::size_t at) {
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < 8; ++i) bits |= std::uint64_t(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return std::bit_cast<double>(bits);
}

/// Little-endian bytes of an integer of `width` bytes.
std::string le_bytes(std::uint64_t v, std::size_t width) {
  std::string s;
  for (std::size_t i = 0; i < width; ++i) s += char((v >> (8 * i)) & 0xFF);
  return s;
}

/// A .npy file built by hand: magic, version, header length of the version's width, header, payload.
std::string npy_bytes(int major, int minor, const std::string& dict, const std::string& payload) {
  const std::size_t len_width = major == 1 ? 2 : 4;
  std::string header = dict;
  header.append((64 - (8 + len_width + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string s = "\x93NUMPY";
  s += char(major);
  s += char(minor);
  return s + le_bytes(header.size(), len_width) + header + payload;
}

std::string doubles_le(const std::vector<double>& v) {
  std::string s;
  for (double d : v) s += le_bytes(std::bit_cast<std::uint64_t>(d), 8);
  return s;
}

/// The message of the ferry exception of type E that f throws ("" if none, so CHECKs on it fail).
template <class E, class F>
std::string thrown(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("read_npy reads the reference noise written by numpy", "[io]") {
  const fs::path path = fs::path(FERRY_TEST_DATA) / "diffusion" / "noise.npy";
  const npy_array a = ferry::io::read_npy(path);
  CHECK(a.dtype() == npy_dtype::f8);
  REQUIRE(a.shape == std::vector<std::size_t>{128, 2});
  REQUIRE(a.size() == 256);

  // Decode the same file independently: header length at bytes 8–9, data right after it.
  const std::string raw = slurp(path);
  REQUIRE(raw.compare(0, 6, "\x93NUMPY") == 0);
  const std::size_t start = 10 + std::size_t(static_cast<unsigned char>(raw[8])) + 256 * std::size_t(static_cast<unsigned char>(raw[9]));
  REQUIRE(raw.size() == start + 256 * 8);
  const auto v = a.values<double>();
  for (std::size_t i : {std::size_t(0), std::size_t(1), std::size_t(2), std::size_t(137), std::size_t(255)})
    CHECK(v[i] == le_double(raw, start + 8 * i));

  // It is unit Gaussian noise: mean near 0 and variance near 1 (256 draws: generous bounds).
  double mean = 0, sq = 0;
  for (double x : v) mean += x, sq += x * x;
  mean /= 256;
  CHECK(std::abs(mean) < 0.25);
  CHECK(sq / 256 - mean * mean == Approx(1).margin(0.3));

  // Conversions: to float rounds each value, the batch view is row-major (row 1 = elements 2, 3).
  const auto f = a.as<float>();
  CHECK(f[137] == static_cast<float>(v[137]));
  const auto b = a.as_batch<double>();
  CHECK(b.rows() == 128);
  CHECK(b.cols() == 2);
  CHECK(b(1, 1) == v[3]);
}

TEST_CASE("read_npy reads a case file of final samples", "[io]") {
  const fs::path path = fs::path(FERRY_TEST_DATA) / "diffusion" / "euler_sd_25.npy";
  const npy_array a = ferry::io::read_npy(path);
  CHECK(a.dtype() == npy_dtype::f8);
  REQUIRE(a.shape == std::vector<std::size_t>{128, 2});
  const std::string raw = slurp(path);
  const std::size_t start = raw.size() - 256 * 8;
  const auto v = a.values<double>();
  CHECK(v[0] == le_double(raw, start));
  CHECK(v[200] == le_double(raw, start + 8 * 200));
  CHECK(v[255] == le_double(raw, start + 8 * 255));
  for (double x : v) CHECK(std::isfinite(x));
}

TEMPLATE_TEST_CASE("write_npy then read_npy round-trips every dtype and rank", "[io]", float, double, std::int32_t,
                   std::int64_t) {
  using T = TestType;
  scratch_dir dir;
  const std::vector<std::vector<std::size_t>> shapes = {{}, {0}, {7}, {3, 5}, {2, 3, 4}, {4, 0, 2}};
  for (const auto& shape : shapes) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<T> src(n);
    for (std::size_t i = 0; i < n; ++i) src[i] = static_cast<T>(i % 2 ? -(long long)(3 * i + 1) : (long long)(7 * i)) / T(2);
    const fs::path p = dir.path / "a.npy";
    ferry::io::write_npy(p, src.data(), shape);

    // The file is format 1.0 and its data starts at a multiple of 64, as numpy writes it.
    const std::string raw = slurp(p);
    REQUIRE(raw.size() >= 10);
    CHECK(raw.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) == 0);
    const std::size_t start = 10 + std::size_t(static_cast<unsigned char>(raw[8])) + 256 * std::size_t(static_cast<unsigned char>(raw[9]));
    CHECK(start % 64 == 0);
    CHECK(raw[start - 1] == '\n');
    CHECK(raw.size() == start + n * sizeof(T));

    const npy_array a = ferry::io::read_npy(p);
    CHECK(a.dtype() == ferry::io::npy_dtype_of<T>);
    CHECK(a.shape == shape);
    const auto back = a.values<T>();
    CHECK(std::vector<T>(back.begin(), back.end()) == src);
  }
  CHECK(dir.entries() == 1);  // no temporary left behind
}

TEST_CASE("write_npy writes a batch as (rows, cols) and an npy_array back byte for byte", "[io]") {
  scratch_dir dir;
  ferry::batch<double> x(3, 2);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 2; ++j) x(i, j) = double(10 * i + j) + 0.25;
  ferry::io::write_npy(dir.path / "x.npy", x);
  const npy_array a = ferry::io::read_npy(dir.path / "x.npy");
  CHECK(a.shape == std::vector<std::size_t>{3, 2});
  CHECK(a.values<double>()[3] == 11.25);

  const fs::path ref = fs::path(FERRY_TEST_DATA) / "diffusion" / "noise.npy";
  ferry::io::write_npy(dir.path / "copy.npy", ferry::io::read_npy(ref));
  CHECK(slurp(dir.path / "copy.npy") == slurp(ref));  // numpy's own header layout, reproduced exactly
}

TEST_CASE("read_npy accepts format 2.0 and 3.0 headers built by hand", "[io]") {
  scratch_dir dir;
  const std::vector<double> vals = {1.5, -2.25, 3e-300, 0.0, -0.0, 1e300};
  for (int major : {1, 2, 3}) {
    const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
    spit(dir.path / "v.npy", npy_bytes(major, 0, dict, doubles_le(vals)));
    const npy_array a = ferry::io::read_npy(dir.path / "v.npy");
    CHECK(a.shape == std::vector<std::size_t>{2, 3});
    const auto v = a.values<double>();
    CHECK(std::vector<double>(v.begin(), v.end()) == vals);
    CHECK(std::signbit(v[4]));
  }
  // Keys in another order, double quotes, no trailing comma, 1-D shape without spaces, int32 data.
  std::string payload = le_bytes(std::uint32_t(-5), 4) + le_bytes(7, 4);
  spit(dir.path / "w.npy", npy_bytes(3, 0, "{\"shape\":(2,),\"fortran_order\":False,\"descr\":\"<i4\"}", payload));
  const npy_array w = ferry::io::read_npy(dir.path / "w.npy");
  CHECK(w.dtype() == npy_dtype::i4);
  CHECK(w.shape == std::vector<std::size_t>{2});
  CHECK(w.values<std::int32_t>()[0] == -5);
  CHECK(w.as<double>()[1] == 7.0);
  CHECK(w.as<std::int64_t>()[0] == -5);
}

TEST_CASE("write_npy switches to format 2.0 when the header outgrows 65535 bytes", "[io]") {
  scratch_dir dir;
  const std::vector<std::size_t> shape(30000, 1);  // "(1, 1, …)" is ~90 kB
  const double one = 42.0;
  ferry::io::write_npy(dir.path / "big.npy", &one, shape);
  const std::string raw = slurp(dir.path / "big.npy");
  REQUIRE(raw.size() > 12);
  CHECK(raw[6] == 2);
  CHECK(raw[7] == 0);
  std::uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len |= std::uint32_t(static_cast<unsigned char>(raw[8 + i])) << (8 * i);
  CHECK((12 + len) % 64 == 0);
  const npy_array a = ferry::io::read_npy(dir.path / "big.npy");
  CHECK(a.shape == shape);
  CHECK(a.values<double>()[0] == 42.0);
}

TEST_CASE("read_npy rejects bad files with one clear message", "[io]") {
  using ferry::io_error;
  scratch_dir dir;
  const fs::path p = dir.path / "bad.npy";
  const std::string ok_dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
  auto read_error = [&](const std::string& bytes) {
    spit(p, bytes);
    return thrown<io_error>([&] { (void)ferry::io::read_npy(p); });
  };

  SECTION("cannot open") {
    const std::string m = thrown<io_error>([&] { (void)ferry::io::read_npy(dir.path / "missing.npy"); });
    CHECK(has(m, "missing.npy"));
    CHECK(has(m, "cannot open"));
    CHECK(has(m, "no such file"));
    const std::string d = thrown<io_error>([&] { (void)ferry::io::read_npy(dir.path); });
    CHECK(has(d, "is a directory"));
  }
  SECTION("bad magic") {
    CHECK(has(read_error("PK\x03\x04 this is a zip"), "bad magic"));
    CHECK(has(read_error(""), "empty file"));  // an empty file says so (issue 11)
    CHECK(has(read_error(npy_bytes(1, 0, ok_dict, doubles_le({1, 2})).replace(1, 1, "X")), "bad magic"));
  }
  SECTION("unsupported version") {
    const std::string m = read_error(npy_bytes(4, 0, ok_dict, doubles_le({1, 2})));
    CHECK(has(m, "version 4.0"));
    CHECK(has(m, "expected 1.0, 2.0 or 3.0"));
    CHECK(has(read_error(npy_bytes(1, 1, ok_dict, doubles_le({1, 2}))), "version 1.1"));
  }
  SECTION("truncated header") {
    CHECK(has(read_error(npy_bytes(1, 0, ok_dict, "").substr(0, 40)), "truncated .npy header"));
    CHECK(has(read_error(std::string("\x93NUMPY\x02\x00\x01", 9)), "truncated .npy header"));
  }
  SECTION("header parse failures") {
    CHECK(has(read_error(npy_bytes(1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,) ", doubles_le({1, 2}))),
              "cannot parse the .npy header"));
    CHECK(has(read_error(npy_bytes(1, 0, "not a dict", "")), "expected '{'"));
    CHECK(has(read_error(npy_bytes(1, 0, "{'descr': '<f8', 'fortran_order': 0, 'shape': (2,)}", doubles_le({1, 2}))),
              "True or False for 'fortran_order'"));
    CHECK(has(read_error(npy_bytes(1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, -1)}", "")),
              "non-negative integer"));
    CHECK(has(read_error(npy_bytes(1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': [2]}", "")),
              "tuple of integers for 'shape'"));
    CHECK(has(read_error(npy_bytes(1, 0, "{'descr': '<f8', 'shape': (2,)}", doubles_le({1, 2}))),
              "no 'fortran_order' key"));
    CHECK(has(read_error(npy_bytes(1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", "")),
              "unexpected key 'x'"));
    CHECK(has(read_error(npy_bytes(1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,)}", "")),
              "fits in size_t"));
    CHECK(has(read_error(npy_bytes(1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}", "")),
              "more elements than fit"));
  }
  SECTION("big-endian and unsupported dtypes are named") {
    const std::string be = read_error(npy_bytes(1, 0, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", doubles_le({1, 2})));
    CHECK(has(be, "'>f8'"));
    CHECK(has(be, "big-endian"));
    const std::string u1 = read_error(npy_bytes(1, 0, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", "ab"));
    CHECK(has(u1, "unsupported dtype '|u1'"));
    CHECK(has(u1, "expected <f4, <f8, <i4 or <i8"));
    CHECK(has(read_error(npy_bytes(1, 0, "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", doubles_le({1, 2}))),
              "unsupported dtype '<c16'"));
    CHECK(has(read_error(npy_bytes(1, 0, "{'descr': [('a', '<f8'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }", "")),
              "unsupported dtype [('a', '<f8'), ('b', '<i4')] (structured)"));
  }
  SECTION("fortran order") {
    const std::string m = read_error(npy_bytes(1, 0, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 1), }", doubles_le({1, 2})));
    CHECK(has(m, "fortran_order is True"));
  }
  SECTION("truncated data says how many bytes were expected and found") {
    const std::string m = read_error(npy_bytes(1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", doubles_le({1, 2, 3})));
    CHECK(has(m, "truncated data"));
    CHECK(has(m, "(2, 3)"));
    CHECK(has(m, "needs 48 bytes, found 24"));
  }
  SECTION("data longer than the shape") {
    const std::string m = read_error(npy_bytes(2, 0, ok_dict, doubles_le({1, 2, 3})));
    CHECK(has(m, "size mismatch"));
    CHECK(has(m, "needs 16 bytes, the file has 24"));
  }
}

TEST_CASE("npy_array conversions refuse what would lose meaning", "[io]") {
  npy_array a;
  a.shape = {2};
  a.data = std::vector<double>{1.0, 2.5};
  CHECK(has(thrown<ferry::io_error>([&] { (void)a.values<float>(); }), "holds <f8, not <f4"));
  CHECK(has(thrown<ferry::io_error>([&] { (void)a.as<std::int32_t>(); }), "cannot convert <f8 to integer <i4"));
  a.data = std::vector<std::int64_t>{1, std::int64_t(1) << 40};
  CHECK(has(thrown<ferry::domain_error>([&] { (void)a.as<std::int32_t>(); }), "element 1"));
  CHECK(a.as<double>()[1] == 1099511627776.0);
  CHECK(has(thrown<ferry::shape_error>([&] { (void)a.as_batch<double>(); }), "(2,) is not 2-D"));
}

TEST_CASE("write_npy fails cleanly and leaves no partial file", "[io]") {
  scratch_dir dir;
  const std::vector<double> v = {1, 2, 3};
  const fs::path p = dir.path / "out.npy";

  // A span whose size disagrees with the shape: shape_error, nothing written.
  const std::string m = thrown<ferry::shape_error>([&] { ferry::io::write_npy(p, std::span<const double>(v), {2, 2}); });
  CHECK(has(m, "(2, 2) needs 4 elements, got 3"));
  CHECK(dir.entries() == 0);

  // An existing file survives a failed overwrite untouched.
  ferry::io::write_npy(p, std::span<const double>(v), {3});
  const std::string before = slurp(p);
  CHECK_THROWS_AS(ferry::io::write_npy(p, std::span<const double>(v), {4}), ferry::shape_error);
  CHECK(slurp(p) == before);

  // A directory that does not exist: io_error naming the path, and no file anywhere.
  const fs::path nowhere = dir.path / "no" / "such" / "dir" / "x.npy";
  CHECK(has(thrown<ferry::io_error>([&] { ferry::io::write_npy(nowhere, v.data(), {3}); }), "cannot open for writing"));
  CHECK(!fs::exists(dir.path / "no"));
  // Renaming onto a directory fails after the data was written: the temporary is removed again.
  fs::create_directory(dir.path / "taken.npy");
  CHECK(has(thrown<ferry::io_error>([&] { ferry::io::write_npy(dir.path / "taken.npy", v.data(), {3}); }), "cannot rename"));
  CHECK(dir.entries() == 2);  // out.npy and the directory taken.npy only
}

}  // namespace test_io
