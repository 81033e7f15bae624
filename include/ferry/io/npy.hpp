#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0, numpy/lib/format.py):
//
//   "\x93NUMPY" major minor  header_len (uint16 LE for 1.0, uint32 LE for 2.0/3.0)  header  data
//
// The header is a Python dict literal, e.g. {'descr': '<f8', 'fortran_order': False, 'shape': (128, 2), },
// padded with spaces and ended by '\n' so the data starts at a multiple of 64 bytes. Version 3.0
// only allows UTF-8 in the header. ferry reads and writes little-endian <f4, <f8, <i4, <i8 in C
// order, any number of dimensions; it writes 1.0 and falls back to 2.0 when the header needs more
// than 65535 bytes, as numpy does.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/io/atomic_file.hpp"
#include "ferry/io/read_file.hpp"

namespace ferry::io {

/// The element types ferry reads and writes (all little-endian).
enum class npy_dtype { f4, f8, i4, i8 };

/// The numpy descr string of a dtype: "<f4", "<f8", "<i4" or "<i8".
constexpr std::string_view npy_descr(npy_dtype d) {
  switch (d) {
    case npy_dtype::f4: return "<f4";
    case npy_dtype::f8: return "<f8";
    case npy_dtype::i4: return "<i4";
    case npy_dtype::i8: return "<i8";
  }
  return "?";
}

template <class T>
concept npy_element = std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int32_t> ||
                      std::is_same_v<T, std::int64_t>;

/// The dtype that stores T.
template <npy_element T>
inline constexpr npy_dtype npy_dtype_of = std::is_same_v<T, float>          ? npy_dtype::f4
                                          : std::is_same_v<T, double>       ? npy_dtype::f8
                                          : std::is_same_v<T, std::int32_t> ? npy_dtype::i4
                                                                            : npy_dtype::i8;

namespace detail {
using ferry::detail::cat;
using ferry::detail::escape;

inline std::string shape_string(std::span<const std::size_t> shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += cat(i ? ", " : "", shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

/// Π shape, or false when it overflows size_t.
inline bool element_count(std::span<const std::size_t> shape, std::size_t& n) {
  n = 1;
  for (std::size_t d : shape) {
    if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d) return false;
    n *= d;
  }
  return true;
}

/// Copies n little-endian elements from raw bytes into out (byte-swapping on a big-endian host).
template <class T>
void load_le(const char* src, std::size_t n, T* out) {
  if (n == 0) return;  // out may be null for an empty array
  std::memcpy(out, src, n * sizeof(T));
  if constexpr (std::endian::native == std::endian::big) {
    for (std::size_t i = 0; i < n; ++i) {
      auto* b = reinterpret_cast<unsigned char*>(out + i);
      std::reverse(b, b + sizeof(T));
    }
  }
}

template <class T>
void append_le(std::string& dst, const T* src, std::size_t n) {
  if (n == 0) return;  // src may be null for an empty array
  const std::size_t at = dst.size();
  dst.resize(at + n * sizeof(T));
  std::memcpy(dst.data() + at, src, n * sizeof(T));
  if constexpr (std::endian::native == std::endian::big) {
    for (std::size_t i = 0; i < n; ++i) {
      auto* b = reinterpret_cast<unsigned char*>(dst.data() + at + i * sizeof(T));
      std::reverse(b, b + sizeof(T));
    }
  }
}

/// One value of the header dict: a string, a bool, a tuple of non-negative ints, or anything else (kept verbatim).
struct header_value {
  enum kind_t { string, boolean, tuple, other } kind = other;
  std::string text;               // string contents, or the verbatim source of an `other`
  bool flag = false;              // boolean
  std::vector<std::size_t> ints;  // tuple
};

/// Recursive-descent parser of the header's Python dict literal (the subset numpy writes).
class header_parser {
 public:
  header_parser(std::string_view src, std::string_view where) : s_(src), where_(where) {}

  /// Parses {key: value, ...}; calls on_item(key, value) for each entry.
  template <class F>
  void parse_dict(F&& on_item) {
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') break;
      if (peek() != '\'' && peek() != '"') fail("a quoted key or '}'");
      const std::string key = parse_string();
      expect(':');
      on_item(key, parse_value());
      skip_ws();
      if (peek() == ',') { ++i_; continue; }
      if (peek() == '}') break;
      fail("',' or '}'");
    }
    ++i_;
    skip_ws();
    if (i_ != s_.size()) fail("the end of the header after '}'");
  }

  [[noreturn]] void fail(std::string_view expected) const {
    throw io_error(cat(where_, ": cannot parse the .npy header at byte ", i_, ": expected ", expected, ", found ",
                       i_ < s_.size() ? cat("'", escape(s_.substr(i_, 12)), "'") : std::string("the end")));
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) fail(cat("'", c, "'"));
    ++i_;
  }
  std::string parse_string() {
    const char q = s_[i_++];
    std::string out;
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
      out += s_[i_++];
    }
    if (i_ >= s_.size()) fail("a closing quote");
    ++i_;
    return out;
  }
  bool word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  header_value parse_value() {
    skip_ws();
    header_value v;
    if (peek() == '\'' || peek() == '"') {
      v.kind = header_value::string;
      v.text = parse_string();
    } else if (word("True")) {
      v.kind = header_value::boolean;
      v.flag = true;
    } else if (word("False")) {
      v.kind = header_value::boolean;
    } else if (peek() == '(') {
      ++i_;
      v.kind = header_value::tuple;
      while (true) {
        skip_ws();
        if (peek() == ')') break;
        v.ints.push_back(parse_dim());
        skip_ws();
        if (peek() == ',') { ++i_; continue; }
        if (peek() != ')') fail("',' or ')' in the shape tuple");
      }
      ++i_;
    } else {
      // Anything else (a list descr of a structured dtype, None, a number): keep its source text.
      const std::size_t start = i_;
      int depth = 0;
      while (i_ < s_.size()) {
        const char c = s_[i_];
        if (c == '\'' || c == '"') { parse_string(); continue; }
        if (c == '[' || c == '(' || c == '{') ++depth;
        if (c == ']' || c == ')' || c == '}') {
          if (depth == 0) break;
          --depth;
        }
        if (c == ',' && depth == 0) break;
        ++i_;
      }
      if (i_ == start) fail("a value");
      v.text = std::string(s_.substr(start, i_ - start));
      while (!v.text.empty() && v.text.back() == ' ') v.text.pop_back();
    }
    return v;
  }
  std::size_t parse_dim() {
    if (peek() < '0' || peek() > '9') fail("a non-negative integer in the shape tuple");
    std::size_t d = 0;
    while (peek() >= '0' && peek() <= '9') {
      const auto digit = std::size_t(peek() - '0');
      if (d > (std::numeric_limits<std::size_t>::max() - digit) / 10) fail("a dimension that fits in size_t");
      d = d * 10 + digit;
      ++i_;
    }
    if (peek() == 'L') ++i_;  // Python 2 long literal, as old numpy wrote
    return d;
  }

  std::string_view s_, where_;
  std::size_t i_ = 0;
};

inline constexpr std::string_view npy_magic{"\x93NUMPY", 6};
}  // namespace detail

/// A whole .npy array: its shape (empty for a 0-d scalar) and its elements in C order.
struct npy_array {
  using storage = std::variant<std::vector<float>, std::vector<double>, std::vector<std::int32_t>, std::vector<std::int64_t>>;

  std::vector<std::size_t> shape;
  storage data;

  npy_dtype dtype() const { return npy_dtype(data.index()); }  // storage alternatives follow npy_dtype's order
  /// Number of elements (Π shape).
  std::size_t size() const {
    return std::visit([](const auto& v) { return v.size(); }, data);
  }
  std::size_t ndim() const { return shape.size(); }

  /// The elements without copying; io_error unless the stored dtype is exactly T's.
  template <npy_element T>
  std::span<const T> values() const {
    if (const auto* v = std::get_if<std::vector<T>>(&data)) return *v;
    throw io_error(detail::cat("npy_array: holds ", npy_descr(dtype()), ", not ", npy_descr(npy_dtype_of<T>),
                               "; use as<T>() to convert"));
  }

  /// The elements converted to T. Integers convert to either float type; floats never convert to integers,
  /// and <i8 → int32 throws domain_error when a value does not fit.
  template <npy_element T>
  std::vector<T> as() const {
    return std::visit(
        [&]<class S>(const std::vector<S>& v) -> std::vector<T> {
          if constexpr (std::is_integral_v<T> && std::is_floating_point_v<S>) {
            throw io_error(detail::cat("npy_array: cannot convert ", npy_descr(npy_dtype_of<S>), " to integer ",
                                       npy_descr(npy_dtype_of<T>), "; read it as float or double"));
          } else {
            if constexpr (std::is_same_v<S, std::int64_t> && std::is_same_v<T, std::int32_t>) {
              for (std::size_t i = 0; i < v.size(); ++i)
                if (v[i] < std::numeric_limits<T>::min() || v[i] > std::numeric_limits<T>::max())
                  throw domain_error(detail::cat("npy_array: element ", i, " = ", v[i], " does not fit in int32"));
            }
            return std::vector<T>(v.begin(), v.end());
          }
        },
        data);
  }

  /// A 2-D array as an N×D batch (converted to T); shape_error unless ndim() == 2.
  template <class T>
    requires std::is_floating_point_v<T>
  batch<T> as_batch() const {
    if (shape.size() != 2)
      throw shape_error(detail::cat("npy_array: shape ", detail::shape_string(shape), " is not 2-D (rows, cols)"));
    batch<T> b(shape[0], shape[1]);
    const std::vector<T> v = as<T>();
    std::copy(v.begin(), v.end(), b.data());
    return b;
  }
};

/// Parses the bytes of a .npy file; `where` names the source in error messages.
inline npy_array parse_npy(std::string_view bytes, std::string_view where = "<npy>") {
  using detail::cat;
  using detail::escape;
  if (bytes.empty()) throw io_error(cat(where, ": empty file; expected a .npy array"));
  if (bytes.size() < 8 || bytes.substr(0, 6) != detail::npy_magic)
    throw io_error(cat(where, ": not a .npy file (bad magic ", escape(bytes.substr(0, 6)), "; expected \\x93NUMPY)"));
  const auto major = static_cast<unsigned char>(bytes[6]), minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    throw io_error(cat(where, ": unsupported .npy format version ", int(major), ".", int(minor), "; expected 1.0, 2.0 or 3.0"));
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + len_bytes) throw io_error(cat(where, ": truncated .npy header (file has ", bytes.size(), " bytes)"));
  std::size_t header_len = 0;
  for (std::size_t i = 0; i < len_bytes; ++i) header_len |= std::size_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
  const std::size_t data_start = 8 + len_bytes + header_len;
  if (bytes.size() < data_start)
    throw io_error(cat(where, ": truncated .npy header: declares ", header_len, " bytes, file has ", bytes.size() - 8 - len_bytes));
  const std::string_view header = bytes.substr(8 + len_bytes, header_len);

  npy_array a;
  std::string descr;
  bool have_descr = false, have_order = false, have_shape = false, fortran = false;
  detail::header_parser p(header, where);
  p.parse_dict([&](const std::string& key, const detail::header_value& v) {
    if (key == "descr") {
      if (v.kind != detail::header_value::string)
        throw io_error(cat(where, ": unsupported dtype ", escape(v.text), " (structured); expected <f4, <f8, <i4 or <i8"));
      descr = v.text;
      have_descr = true;
    } else if (key == "fortran_order") {
      if (v.kind != detail::header_value::boolean) p.fail("True or False for 'fortran_order'");
      fortran = v.flag;
      have_order = true;
    } else if (key == "shape") {
      if (v.kind != detail::header_value::tuple) p.fail("a tuple of integers for 'shape'");
      a.shape = v.ints;
      have_shape = true;
    } else {
      throw io_error(cat(where, ": unexpected key '", escape(key), "' in the .npy header; expected descr, fortran_order, shape"));
    }
  });
  const std::pair<bool, const char*> required[] = {{have_descr, "descr"}, {have_order, "fortran_order"}, {have_shape, "shape"}};
  for (const auto& [have, key] : required)
    if (!have) throw io_error(cat(where, ": the .npy header has no '", key, "' key"));

  if (!descr.empty() && descr[0] == '>')
    throw io_error(cat(where, ": dtype '", escape(descr), "' is big-endian; expected little-endian <f4, <f8, <i4 or <i8"));
  if (fortran)
    throw io_error(cat(where, ": fortran_order is True; only C-order arrays are supported (save np.ascontiguousarray(a))"));

  std::size_t n = 0;
  if (!detail::element_count(a.shape, n))
    throw io_error(cat(where, ": shape ", detail::shape_string(a.shape), " has more elements than fit in memory"));
  const char* payload = bytes.data() + data_start;
  const std::size_t found = bytes.size() - data_start;
  auto fill = [&]<class T>(std::vector<T>& v) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T))
      throw io_error(cat(where, ": shape ", detail::shape_string(a.shape), " has more bytes than fit in memory"));
    const std::size_t expected = n * sizeof(T);
    if (found < expected)
      throw io_error(cat(where, ": truncated data: shape ", detail::shape_string(a.shape), " of ", descr, " needs ",
                         expected, " bytes, found ", found));
    if (found > expected)
      throw io_error(cat(where, ": size mismatch: shape ", detail::shape_string(a.shape), " of ", descr, " needs ",
                         expected, " bytes, the file has ", found));
    v.resize(n);
    detail::load_le(payload, n, v.data());
  };
  if (descr == "<f4") fill(a.data.emplace<std::vector<float>>());
  else if (descr == "<f8") fill(a.data.emplace<std::vector<double>>());
  else if (descr == "<i4") fill(a.data.emplace<std::vector<std::int32_t>>());
  else if (descr == "<i8") fill(a.data.emplace<std::vector<std::int64_t>>());
  else throw io_error(cat(where, ": unsupported dtype '", escape(descr), "'; expected <f4, <f8, <i4 or <i8"));
  return a;
}

/// Reads a .npy file (versions 1.0–3.0; <f4, <f8, <i4, <i8; C order); io_error naming the file on any problem.
inline npy_array read_npy(const std::filesystem::path& path) {
  return parse_npy(read_file(path, "a .npy array"), detail::escape(path.string()));
}

/// The bytes of a .npy file holding `data` (Π shape elements, C order): version 1.0, or 2.0 for huge headers.
template <npy_element T>
std::string format_npy(const T* data, const std::vector<std::size_t>& shape) {
  std::size_t n = 0;
  if (!detail::element_count(shape, n))
    throw shape_error(detail::cat("write_npy: shape ", detail::shape_string(shape), " overflows size_t"));
  std::string dict = detail::cat("{'descr': '", npy_descr(npy_dtype_of<T>), "', 'fortran_order': False, 'shape': ",
                                 detail::shape_string(shape), ", }");
  // Pad with spaces so that magic + version + length + dict + '\n' is a multiple of 64 (numpy's alignment).
  auto padded = [&](std::size_t prefix) {
    std::string h = dict;
    h.append((64 - (prefix + h.size() + 1) % 64) % 64, ' ');
    return h + '\n';
  };
  std::string header = padded(10);
  unsigned char major = 1;
  if (header.size() > 0xFFFF) {
    header = padded(12);
    major = 2;
  }
  std::string out(detail::npy_magic);
  out += char(major);
  out += char(0);
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  for (std::size_t i = 0; i < len_bytes; ++i) out += char((header.size() >> (8 * i)) & 0xFF);
  out += header;
  out.reserve(out.size() + n * sizeof(T));
  detail::append_le(out, data, n);
  return out;
}

/// Writes `data` (Π shape elements, C order) as a .npy file, atomically: a failed write leaves no partial file.
template <npy_element T>
void write_npy(const std::filesystem::path& path, const T* data, const std::vector<std::size_t>& shape) {
  write_file_atomically(path, format_npy(data, shape));
}

/// As above, checking that the span holds exactly Π shape elements (shape_error otherwise).
template <npy_element T>
void write_npy(const std::filesystem::path& path, std::span<const T> data, const std::vector<std::size_t>& shape) {
  std::size_t n = 0;
  if (!detail::element_count(shape, n) || n != data.size())
    throw shape_error(detail::cat(path.string(), ": shape ", detail::shape_string(shape), " needs ", n, " elements, got ",
                                  data.size()));
  write_npy(path, data.data(), shape);
}

/// Writes an N×D batch (view) as a 2-D array of shape (N, D).
template <class T>
  requires npy_element<std::remove_const_t<T>>
void write_npy(const std::filesystem::path& path, batch_view<T> x) {
  write_npy<std::remove_const_t<T>>(path, x.data, {x.rows, x.cols});
}
template <npy_element T>
void write_npy(const std::filesystem::path& path, const batch<T>& x) {
  write_npy(path, x.view());
}

/// Writes an npy_array back out with its own dtype and shape.
inline void write_npy(const std::filesystem::path& path, const npy_array& a) {
  std::visit([&]<class T>(const std::vector<T>& v) { write_npy(path, std::span<const T>(v), a.shape); }, a.data);
}

}  // namespace ferry::io
