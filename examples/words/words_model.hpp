#pragma once
// The words example's denoiser: a small network that reads a masked word (L positions over 26
// letters, the end/pad token and the mask) and writes, for every position, the logits of
// p(x0^ℓ | x_t) over the 27 clean tokens — a ferry::discrete::denoiser, sampled by every masked
// sampler exactly as the mixture oracle is.
//
// It is an MLP applied at every position ℓ (weights shared across positions, like a convolution)
// to the tokens of a window ℓ − R … ℓ + R, plus a summary of the whole word:
//
//   g      = W_g act(b_g + Σ_ℓ E_g[ℓ, x^ℓ])                       (the whole word → H numbers, once)
//   h_ℓ    = act(g + P[ℓ] + Σ_{r=−R}^{R} E_r[r, x^{ℓ+r}])         (x^{ℓ+r} outside the word is the token "outside")
//   h_ℓ   ← h_ℓ + act(W_d h_ℓ + b_d)                              d = 0 … D − 1
//   logits_ℓ = W_o h_ℓ + b_o                                      (27)
//
// The first layers on the one-hot tokens are sums of embedding columns. act is hard-swish
// (words_kernel.hpp). The
// model ignores the noise level: under the masked kernel p(x0 | x_t) does not depend on t (MDLM,
// Sahoo et al. 2024, §3.2, drops the time input too), which is also what makes ancestral
// sampling's caching exact.
//
// Rows go through in tiles of 16, their L positions as the columns of the products. Every number
// is computed by words_kernel.hpp's matmul or elementwise in a fixed order, so a row's logits do
// not depend on which rows share the call or on the CPU's vector width: the tokens are the same on
// any number of threads.
//
// Weights file (little-endian): "FERRYWD2", uint32 L, R, G, H, D, then the arrays in IEEE float16
// (the model computes in float32 from them), matrices column-major (Eigen's default): E_g (G × L·28, column ℓ·28 + v), b_g (G), W_g (H × G),
// E_r (H × (2R + 1)·29, column (r + R)·29 + v, v = 28 outside), P (H × L), D × {W_d (H × H), b_d (H)},
// W_o (27 × H), b_o (27).
#include <Eigen/Core>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/core/error.hpp"
#include "ferry/core/scratch.hpp"
#include "ferry/discrete/denoiser.hpp"
#include "ferry/io/atomic_file.hpp"
#include "ferry/io/read_file.hpp"
#include "words_kernel.hpp"

namespace words {

inline constexpr std::size_t letters = 26;          ///< a–z are tokens 0–25
inline constexpr std::int32_t pad = 26;             ///< the end/pad token: after the last letter, to the end
inline constexpr std::size_t vocab = letters + 1;   ///< V: the clean tokens
inline constexpr std::int32_t mask = std::int32_t(vocab);  ///< the masked kernel's mask id V
inline constexpr std::size_t inputs = vocab + 1;    ///< what a position can hold: 27 tokens and the mask

/// The tokens of `word` (2–12 letters a–z: the lists' words) into L slots, padded with `pad`.
inline void encode(std::string_view word, std::span<std::int32_t> out) {
  if (word.size() > out.size() || word.empty())
    throw ferry::shape_error(ferry::detail::cat("words::encode: \"", word, "\" has ", word.size(),
                                                " letters; expected 1 to ", out.size()));
  for (std::size_t l = 0; l < out.size(); ++l) {
    if (l >= word.size()) { out[l] = pad; continue; }
    if (word[l] < 'a' || word[l] > 'z')
      throw ferry::domain_error(ferry::detail::cat("words::encode: \"", word, "\" has a character outside a-z"));
    out[l] = word[l] - 'a';
  }
}

/// The word a token row spells: its letters in order, every pad (and mask) dropped.
inline std::string decode(std::span<const std::int32_t> tokens) {
  std::string w;
  for (const std::int32_t v : tokens)
    if (v >= 0 && v < std::int32_t(letters)) w += char('a' + v);
  return w;
}

/// True when the row is letters followed by pads only (no pad inside the word).
inline bool well_formed(std::span<const std::int32_t> tokens) {
  bool ended = false;
  for (const std::int32_t v : tokens) {
    if (v == pad) ended = true;
    else if (ended || v < 0 || v >= std::int32_t(letters)) return false;
  }
  return tokens.size() > 0 && tokens[0] != pad;
}

inline constexpr std::size_t window_inputs = inputs + 1;  ///< a window slot: 28 inputs and "outside" (28)
inline constexpr std::int32_t outside = std::int32_t(inputs);

namespace detail {
/// float32 → IEEE float16 bits, rounded to nearest, ties to even (overflow to ±inf, NaN kept).
inline std::uint16_t to_half(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f), sign = (x >> 16) & 0x8000u, abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) return std::uint16_t(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0u));
  if (abs >= 0x477FF000u) return std::uint16_t(sign | 0x7C00u);  // rounds to ≥ 65520: inf
  if (abs < 0x38800000u) {  // below 2^-14: a subnormal half, m·2^-24
    const float m = std::bit_cast<float>(abs) * 0x1p24f;  // exact; the conversion below rounds to nearest even
    return std::uint16_t(sign | std::uint32_t(std::nearbyint(m)));
  }
  const std::uint32_t rounded = abs + 0xFFFu + ((abs >> 13) & 1u);  // ties to even on the 13 dropped bits
  return std::uint16_t(sign | ((rounded - 0x38000000u) >> 13));
}
/// IEEE float16 bits → float32 (exact).
inline float from_half(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  if (e == 0) return std::bit_cast<float>(sign) + (sign ? -1.0f : 1.0f) * float(m) * 0x1p-24f;
  if (e == 31) return std::bit_cast<float>(sign | 0x7F800000u | (m << 13));
  return std::bit_cast<float>(sign | ((e + 112u) << 23) | (m << 13));
}
}  // namespace detail

/// The parameters (float32, column-major), shared by the trainer and the denoiser; the arrays in
/// the weights file's order.
struct model_weights {
  std::uint32_t length = 12, radius = 3, global = 128, hidden = 192, depth = 2;
  std::vector<float> eg, bg, wg, er, p, wo, bo;
  std::vector<std::vector<float>> w, b;  // depth of each

  std::size_t window() const { return 2 * std::size_t(radius) + 1; }
  /// Every array, in file order (for the trainer's flat parameter vector and for I/O).
  std::vector<std::vector<float>*> arrays() {
    std::vector<std::vector<float>*> a = {&eg, &bg, &wg, &er, &p};
    for (std::size_t d = 0; d < depth; ++d) a.push_back(&w[d]), a.push_back(&b[d]);
    a.push_back(&wo), a.push_back(&bo);
    return a;
  }
  /// Sized for the shape, zero-filled.
  void resize() {
    const std::size_t g = global, h = hidden;
    eg.assign(g * length * inputs, 0), bg.assign(g, 0), wg.assign(h * g, 0), er.assign(h * window() * window_inputs, 0);
    p.assign(h * length, 0), wo.assign(vocab * h, 0), bo.assign(vocab, 0);
    w.assign(depth, std::vector<float>(h * h, 0)), b.assign(depth, std::vector<float>(h, 0));
  }
  std::size_t parameters() {
    std::size_t n = 0;
    for (const auto* a : arrays()) n += a->size();
    return n;
  }

  static constexpr std::string_view magic = "FERRYWD2";

  /// The file's bytes: every weight rounded to float16 (to nearest, ties to even).
  std::string bytes() const {
    static_assert(std::endian::native == std::endian::little, "the weights file is little-endian");
    std::string s(magic);
    for (const std::uint32_t v : {length, radius, global, hidden, depth}) s.append(reinterpret_cast<const char*>(&v), 4);
    for (const auto* a : const_cast<model_weights*>(this)->arrays())
      for (const float f : *a) {
        const std::uint16_t h = detail::to_half(f);
        s.append(reinterpret_cast<const char*>(&h), 2);
      }
    return s;
  }
  /// The weights as the file holds them: each rounded to float16 and back.
  model_weights rounded() const { return from_bytes(bytes(), "model_weights::rounded"); }
  void save(const std::filesystem::path& path) const { ferry::io::write_file_atomically(path, bytes()); }

  /// Parses a weights file's bytes; `where` names it in errors.
  static model_weights from_bytes(std::string_view s, std::string_view where) {
    auto fail = [&](std::string_view what) {
      return ferry::io_error(ferry::detail::cat(where, ": ", what, "; expected a words model weights file (", magic, ")"));
    };
    if (s.size() < magic.size() + 20 || s.substr(0, magic.size()) != magic) throw fail(ferry::detail::cat("no ", magic, " header"));
    model_weights m;
    std::size_t at = magic.size();
    auto get = [&](void* to, std::size_t n) {
      if (s.size() - at < n) throw fail(ferry::detail::cat("truncated at byte ", s.size()));
      std::memcpy(to, s.data() + at, n);
      at += n;
    };
    for (std::uint32_t* v : {&m.length, &m.radius, &m.global, &m.hidden, &m.depth}) get(v, 4);
    if (m.length < 1 || m.length > 64 || m.radius > 16 || m.global < 1 || m.global > 4096 || m.hidden < 1 || m.hidden > 4096 || m.depth > 16)
      throw fail(ferry::detail::cat("shape L = ", m.length, ", R = ", m.radius, ", G = ", m.global, ", H = ", m.hidden, ", D = ", m.depth,
                                    " out of range"));
    m.resize();
    for (auto* a : m.arrays())
      for (float& f : *a) {
        std::uint16_t h;
        get(&h, 2);
        f = detail::from_half(h);
        if (!std::isfinite(f)) throw fail(ferry::detail::cat("a weight at byte ", at - 2, " is not finite"));
      }
    if (at != s.size()) throw fail(ferry::detail::cat(s.size() - at, " bytes after the last array"));
    return m;
  }
  static model_weights load(const std::filesystem::path& path) {
    return from_bytes(ferry::io::read_file(path, "words model weights"), path.string());
  }
};

/// The trained model as a discrete denoiser (logits over the 27 clean tokens at every position).
class word_denoiser {
 public:
  static constexpr ferry::discrete::output_kind outputs = ferry::discrete::output_kind::logits;

  explicit word_denoiser(model_weights w) : w_(std::move(w)), wo_(std::size_t(out_rows) * w_.hidden, 0.0f) {
    if (w_.hidden % 8 != 0)
      throw ferry::config_error(ferry::detail::cat("words::word_denoiser: hidden width ", w_.hidden, "; expected a multiple of 8"));
    for (std::size_t c = 0; c < w_.hidden; ++c)  // W_o padded with zero rows to 32 (the kernel's multiple of 8)
      std::copy_n(w_.wo.data() + c * words::vocab, words::vocab, wo_.data() + c * out_rows);
  }

  std::size_t vocab() const { return words::vocab; }
  std::size_t length() const { return w_.length; }
  const model_weights& weights() const { return w_; }

  /// Logits for every row of x (N × L tokens in [0, V]) into out (N × L × 27). The level is unused.
  void operator()(ferry::discrete::const_token_view x, const ferry::discrete::noise_level&, std::span<double> out) const {
    const std::size_t l_ = w_.length, v_ = words::vocab;
    if (x.cols != l_ || out.size() != x.rows * l_ * v_)
      throw ferry::shape_error(ferry::detail::cat("words::word_denoiser: ", x.rows, " x ", x.cols, " tokens and ", out.size(),
                                                  " outputs; expected length ", l_, " and N x L x 27 outputs"));
    for (std::size_t i = 0; i < x.size(); ++i)
      if (x.data[i] < 0 || x.data[i] > mask)
        throw ferry::domain_error(ferry::detail::cat("words::word_denoiser: token ", x.data[i], " at row ", i / l_, ", position ",
                                                     i % l_, "; expected 0 to ", mask, " (26 letters, pad, mask)"));
    const std::size_t g_ = w_.global, h_ = w_.hidden, cols = tile * l_;
    const ferry::detail::thread_scratch<float> scratch(tile * (g_ + h_) + cols * (2 * h_ + out_rows));
    float *g0 = scratch.data(), *gv = g0 + tile * g_, *a = gv + tile * h_, *z = a + cols * h_, *logits = z + cols * h_;
    using vmap = Eigen::Map<Eigen::VectorXf>;
    using cvmap = Eigen::Map<const Eigen::VectorXf>;
    auto act = [](vmap v) { v = detail::hard_swish(v.array()); };
    const auto g = Eigen::Index(g_), h = Eigen::Index(h_);
    for (std::size_t first = 0; first < x.rows; first += tile) {
      const std::size_t rows = std::min(tile, x.rows - first), n = rows * l_;
      for (std::size_t i = 0; i < rows; ++i) {  // g_0 = act(b_g + Σ_ℓ E_g[ℓ, x^ℓ])
        vmap gi(g0 + i * g_, g);
        gi = cvmap(w_.bg.data(), g);
        for (std::size_t l = 0; l < l_; ++l) gi += cvmap(w_.eg.data() + (l * inputs + std::size_t(x(first + i, l))) * g_, g);
        act(gi);
      }
      detail::matmul(w_.wg.data(), g0, gv, h_, g_, rows);  // g = W_g g_0
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t l = 0; l < l_; ++l) {  // h_ℓ = act(g + P[ℓ] + Σ_r E_r[r, x^{ℓ+r}])
          vmap c(a + (i * l_ + l) * h_, h);
          c = cvmap(gv + i * h_, h) + cvmap(w_.p.data() + l * h_, h);
          for (std::ptrdiff_t r = -std::ptrdiff_t(w_.radius); r <= std::ptrdiff_t(w_.radius); ++r) {
            const std::ptrdiff_t at = std::ptrdiff_t(l) + r;
            const std::int32_t v = at < 0 || at >= std::ptrdiff_t(l_) ? outside : x(first + i, std::size_t(at));
            c += cvmap(w_.er.data() + (std::size_t(r + std::ptrdiff_t(w_.radius)) * window_inputs + std::size_t(v)) * h_, h);
          }
          act(c);
        }
      for (std::size_t d = 0; d < w_.depth; ++d) {  // h ← h + act(W_d h + b_d)
        detail::matmul(w_.w[d].data(), a, z, h_, h_, n);
        for (std::size_t c = 0; c < n; ++c) {
          vmap zc(z + c * h_, h);
          zc += cvmap(w_.b[d].data(), h);
          act(zc);
          vmap(a + c * h_, h) += zc;
        }
      }
      detail::matmul(wo_.data(), a, logits, out_rows, h_, n);  // logits = W_o h + b_o
      double* o = out.data() + first * l_ * v_;
      for (std::size_t c = 0; c < n; ++c)
        for (std::size_t u = 0; u < v_; ++u) o[c * v_ + u] = double(logits[c * out_rows + u] + w_.bo[u]);
    }
  }

 private:
  static constexpr std::size_t tile = 16, out_rows = 32;  // rows per pass; W_o's rows padded
  model_weights w_;
  std::vector<float> wo_;
};

static_assert(ferry::discrete::denoiser<word_denoiser>);

}  // namespace words
