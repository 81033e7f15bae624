// words_train: trains the words example's masked-diffusion denoiser (words_model.hpp) on
// data/train.txt with MDLM's objective and writes its weights.
//
// Objective (MDLM, Sahoo et al. 2024, Eq. 10–11; linear schedule α_t = 1 − t): for a word x and
// t ~ U(ε, 1), mask every position independently with probability 1 − α_t = t, and
//
//   L(x) = (−α'_t / (1 − α_t)) · Σ_{ℓ masked} −log p_θ(x^ℓ | x_t) = (1/t) · Σ_{ℓ masked} CE_ℓ,
//
// whose expectation over t and the masks is the continuous-time NELBO of x (nats per word).
// `--objective mdlm` draws exactly that, with MDLM's low-discrepancy times t_b = ε + (1 − ε)·frac(u + b/B).
// `--objective subset` (the default) draws the same expectation with t integrated out: given k
// masked positions, t has density ∝ t^k (1 − t)^{L−k}, under which E[1/t] = (L + 1)/k, and k is
// uniform on 0 … L, so the loss is Σ_{k=1}^{L} E_{|m|=k}[(1/k) Σ_{ℓ∈m} CE_ℓ] — drawn as k uniform on
// 1 … L (stratified over the batch), a uniform k-subset masked, weight L/k. Same objective, same
// optimum, less variance (no 1/t spikes, no empty masks): at equal steps it reaches a held-out
// NELBO about 0.04 bits/char lower (README).
//
// Forward and backward are written out below on preallocated Eigen workspaces (nothing is
// allocated inside a step), every matrix product through words_kernel.hpp's matmul (the model's
// own kernel, 4× Eigen's baseline-x86-64 GEMM here), Adam (Kingma & Ba 2015) with decoupled weight
// decay on the matrices (AdamW), linear warm-up then cosine decay, and an exponential moving
// average of the weights, which is what is saved. Every random draw comes from one
// std::mt19937_64 seeded with --seed, so a run is the same for a seed on any --threads.
//
//   words_train --out examples/words/data/words_model.bin          (from the repository's root)
#include <CLI/CLI.hpp>
#include <Eigen/Core>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "ferry/core/error.hpp"
#include "words_data.hpp"
#include "words_model.hpp"

namespace {

using Eigen::Index;
using mat = Eigen::MatrixXf;
using vec = Eigen::VectorXf;
using map = Eigen::Map<mat>;
using vmap = Eigen::Map<vec>;
using cmap = Eigen::Map<const mat>;
using cvmap = Eigen::Map<const vec>;

struct options {
  std::string train = "examples/words/data/train.txt", heldout = "examples/words/data/heldout.txt", out;
  std::uint32_t length = 12, radius = 3, global = 128, hidden = 192, depth = 2;
  std::size_t batch = 256, steps = 10000, warmup = 500, eval_every = 1000;
  double lr = 2e-3, lr_min = 0.05, weight_decay = 0.0, ema = 0.999, beta1 = 0.9, beta2 = 0.999, t_eps = 1e-3;
  std::uint64_t seed = 1;
  int threads = 1;
  std::string objective = "subset";
};

/// Offsets of the parameter arrays in one flat vector, in the weights file's order.
struct layout {
  Index l, r, g, h, depth, v = Index(words::vocab), in = Index(words::inputs), win = Index(words::window_inputs);
  std::size_t eg, bg, wg, er, p, wo, bo, total;
  std::vector<std::size_t> w, b;
  explicit layout(const words::model_weights& m) : l(m.length), r(m.radius), g(m.global), h(m.hidden), depth(m.depth) {
    std::size_t at = 0;
    auto take = [&](Index n) { return (at += std::size_t(n)) - std::size_t(n); };
    eg = take(g * l * in), bg = take(g), wg = take(h * g), er = take(h * (2 * r + 1) * win), p = take(h * l);
    for (Index d = 0; d < depth; ++d) w.push_back(take(h * h)), b.push_back(take(h));
    wo = take(v * h), bo = take(v);
    total = at;
  }
  /// 1 where decoupled weight decay applies (the matrices W_g, W_d, W_o), 0 elsewhere.
  std::vector<float> decay_mask() const {
    std::vector<float> m(total, 0.0f);
    std::fill_n(m.begin() + Index(wg), h * g, 1.0f);
    for (Index d = 0; d < depth; ++d) std::fill_n(m.begin() + Index(w[std::size_t(d)]), h * h, 1.0f);
    std::fill_n(m.begin() + Index(wo), v * h, 1.0f);
    return m;
  }
};

using words::detail::hard_swish;
using words::detail::hard_swish_grad;

/// Forward and backward on a batch of B words (the per-position layers on B·L columns, column
/// b·L + ℓ), on workspaces sized once.
class trainer {
 public:
  trainer(const layout& lay, std::size_t batch, int threads)
      : threads_(threads), lay_(lay), b_(Index(batch)), n_(b_ * lay.l), tokens_(std::size_t(n_)), targets_(tokens_.size()), weight_(batch),
        gpre_(lay.g, b_), g0_(lay.g, b_), dg0_(lay.g, b_), gv_(lay.h, b_), dgv_(lay.h, b_), hpre_(lay.h, n_),
        z_(std::size_t(lay.depth), mat(lay.h, n_)), a_(std::size_t(lay.depth + 1), mat(lay.h, n_)), logits_(out_rows, n_),
        dlogits_(mat::Zero(out_rows, n_)), da_(lay.h, n_), dz_(lay.h, n_), tmp_(lay.h, n_), at_(n_, lay.h), g0t_(b_, lay.g),
        wt_(lay.h, lay.h), wgt_(lay.g, lay.h), wo_(mat::Zero(out_rows, lay.h)), wot_(lay.h, out_rows), y32_(out_rows, lay.h),
        part_(std::size_t((std::max(lay.g, lay.h) + out_rows) * std::max(lay.g, lay.h))) {}

  std::int32_t& token(std::size_t b, Index l) { return tokens_[b * std::size_t(lay_.l) + std::size_t(l)]; }
  std::int32_t& target(std::size_t b, Index l) { return targets_[b * std::size_t(lay_.l) + std::size_t(l)]; }
  float& weight(std::size_t b) { return weight_[b]; }

  /// Logits of the batch under parameters p.
  void forward(const float* p) {
    const layout& y = lay_;
    const cmap eg(p + y.eg, y.g, y.l * y.in), er(p + y.er, y.h, (2 * y.r + 1) * y.win), pos(p + y.p, y.h, y.l);
    for (Index c = 0; c < b_; ++c) {  // g = W_g act(b_g + Σ_ℓ E_g[ℓ, x^ℓ])
      gpre_.col(c) = cvmap(p + y.bg, y.g);
      for (Index l = 0; l < y.l; ++l) gpre_.col(c) += eg.col(l * y.in + token(std::size_t(c), l));
    }
    g0_ = hard_swish(gpre_.array());
    product(gv_, p + y.wg, g0_);
    for (Index c = 0; c < b_; ++c)  // h_ℓ = act(g + P[ℓ] + Σ_r E_r[r, x^{ℓ+r}])
      for (Index l = 0; l < y.l; ++l) {
        auto col = hpre_.col(c * y.l + l);
        col = gv_.col(c) + pos.col(l);
        for (Index r = -y.r; r <= y.r; ++r) col += er.col((r + y.r) * y.win + window_token(c, l + r));
      }
    a_[0] = hard_swish(hpre_.array());
    for (Index d = 0; d < y.depth; ++d) {  // h ← h + act(W_d h + b_d)
      const std::size_t k = std::size_t(d);
      product(z_[k], p + y.w[k], a_[k]);
      z_[k].colwise() += cvmap(p + y.b[k], y.h);
      a_[k + 1] = a_[k] + hard_swish(z_[k].array()).matrix();
    }
    wo_.topRows(y.v) = cmap(p + y.wo, y.v, y.h);  // W_o padded with zero rows to 32
    product(logits_, wo_.data(), a_.back());
    logits_.topRows(y.v).colwise() += cvmap(p + y.bo, y.v);
  }

  /// Σ_b weight_b · Σ_{ℓ: target ≥ 0} CE_ℓ (nats), and dL/dlogits of the batch mean when `grad`.
  double loss(bool grad) {
    double total = 0;
    for (Index c = 0; c < n_; ++c) {
      auto g = dlogits_.col(c).head(lay_.v);
      const std::int32_t y = targets_[std::size_t(c)];
      if (y < 0) {
        if (grad) g.setZero();
        continue;
      }
      const auto s = logits_.col(c).head(lay_.v);
      const float top = s.maxCoeff();
      const float z = (s.array() - top).exp().sum();
      const float w = weight_[std::size_t(c / lay_.l)];
      total += double(w) * (double(top) + std::log(double(z)) - double(s(y)));
      if (grad) {  // w·(softmax − onehot)/B
        g = (s.array() - top).exp() * (w / (z * float(b_)));
        g(y) -= w / float(b_);
      }
    }
    return total;
  }

  /// Gradient of the batch mean loss (after forward and loss(true)) into gr (layout order).
  void backward(const float* p, float* gr) {
    const layout& y = lay_;
    at_ = a_.back().transpose();
    product(y32_, dlogits_.data(), at_);  // dW_o = dlogits · a_Dᵀ
    map(gr + y.wo, y.v, y.h) = y32_.topRows(y.v);
    vmap(gr + y.bo, y.v) = dlogits_.topRows(y.v).rowwise().sum();
    wot_ = wo_.transpose();
    product(da_, wot_.data(), dlogits_);  // da = W_oᵀ dlogits
    for (Index d = y.depth; d-- > 0;) {
      const std::size_t k = std::size_t(d);
      dz_ = da_.cwiseProduct(hard_swish_grad(z_[k].array()).matrix());
      at_ = a_[k].transpose();
      product(map(gr + y.w[k], y.h, y.h), dz_.data(), at_);  // dW_d = dz · a_dᵀ
      vmap(gr + y.b[k], y.h) = dz_.rowwise().sum();
      wt_ = cmap(p + y.w[k], y.h, y.h).transpose();
      product(tmp_, wt_.data(), dz_);  // da += W_dᵀ dz
      da_ += tmp_;
    }
    dz_ = da_.cwiseProduct(hard_swish_grad(hpre_.array()).matrix());  // dL/dh_pre, then scattered to E_r, P and g
    map ger(gr + y.er, y.h, (2 * y.r + 1) * y.win), gpos(gr + y.p, y.h, y.l);
    ger.setZero(), gpos.setZero(), dgv_.setZero();
    for (Index c = 0; c < b_; ++c)
      for (Index l = 0; l < y.l; ++l) {
        const auto col = dz_.col(c * y.l + l);
        gpos.col(l) += col;
        dgv_.col(c) += col;
        for (Index r = -y.r; r <= y.r; ++r) ger.col((r + y.r) * y.win + window_token(c, l + r)) += col;
      }
    g0t_ = g0_.transpose();
    product(map(gr + y.wg, y.h, y.g), dgv_.data(), g0t_);  // dW_g = dgv · g_0ᵀ
    wgt_ = cmap(p + y.wg, y.h, y.g).transpose();
    product(dg0_, wgt_.data(), dgv_);  // dg_0 = W_gᵀ dgv
    dg0_ = dg0_.cwiseProduct(hard_swish_grad(gpre_.array()).matrix());
    vmap(gr + y.bg, y.g) = dg0_.rowwise().sum();
    map geg(gr + y.eg, y.g, y.l * y.in);
    geg.setZero();
    for (Index c = 0; c < b_; ++c)
      for (Index l = 0; l < y.l; ++l) geg.col(l * y.in + token(std::size_t(c), l)) += dg0_.col(c);
  }

  Index batch() const { return b_; }

 private:
  static constexpr Index out_rows = 32;  // W_o's 27 rows padded for the kernel (a multiple of 8)

  /// y = W·x with words_kernel.hpp's matmul: W (y.rows() × x.rows(), column-major) at w. The columns
  /// are split among the threads, so every number is the same for any thread count; a long inner
  /// dimension (the weight gradients' sums over the batch) goes in chunks of 256 added in order, so
  /// that each chunk of W stays in cache.
  template <class Y>
  void product(Y&& y, const float* w, const mat& x) {
    const std::size_t m = std::size_t(y.rows()), k = std::size_t(x.rows()), n = std::size_t(x.cols()), chunk = 256;
    const std::size_t block = (n / std::size_t(threads_) + 4) / 4 * 4;
    for (std::size_t k0 = 0; k0 < k; k0 += chunk) {
      const std::size_t kk = std::min(chunk, k - k0);
      float* out = k0 == 0 ? y.data() : part_.data();  // part_ holds m × n here
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads_) schedule(static)
#endif
      for (std::ptrdiff_t c = 0; c < std::ptrdiff_t(n); c += std::ptrdiff_t(block)) {
        const std::size_t first = std::size_t(c), cols = std::min(block, n - first);
        words::detail::matmul(w + k0 * m, x.data() + first * k + k0, out + first * m, m, kk, cols, k);
      }
      if (k0 > 0) y += cmap(part_.data(), y.rows(), y.cols());
    }
  }

  Index window_token(Index c, Index l) { return l < 0 || l >= lay_.l ? Index(words::outside) : Index(token(std::size_t(c), l)); }

  int threads_;
  const layout& lay_;
  Index b_, n_;
  std::vector<std::int32_t> tokens_, targets_;  // targets_: the clean token where the loss applies, −1 elsewhere
  std::vector<float> weight_;
  mat gpre_, g0_, dg0_, gv_, dgv_, hpre_;
  std::vector<mat> z_, a_;
  mat logits_, dlogits_, da_, dz_, tmp_, at_, g0t_, wt_, wgt_, wo_, wot_, y32_;
  std::vector<float> part_;  // a later chunk's share of a long product
};

double uniform(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

/// Held-out NELBO in nats per word, by the identity NELBO(x) = Σ_{k=1}^{L} E_{|m| = k}[(1/k) Σ_{ℓ∈m} CE_ℓ]
/// (words_eval.hpp), one random order of the positions per word (a quick estimate during training).
double nelbo(trainer& tr, const float* p, const std::vector<std::int32_t>& words_tokens, Index length, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::size_t n = words_tokens.size() / std::size_t(length), bs = std::size_t(tr.batch());
  std::vector<Index> order(std::size_t(length) * bs);
  double total = 0;
  for (std::size_t first = 0; first < n; first += bs) {
    const std::size_t count = std::min(bs, n - first);
    for (std::size_t c = 0; c < bs; ++c) {
      Index* o = order.data() + c * std::size_t(length);
      for (Index l = 0; l < length; ++l) o[l] = l;
      for (Index l = length - 1; l > 0; --l) std::swap(o[l], o[Index(uniform(rng) * double(l + 1))]);
    }
    for (Index k = 1; k <= length; ++k) {
      for (std::size_t c = 0; c < bs; ++c) {
        const std::int32_t* x = words_tokens.data() + (first + std::min(c, count - 1)) * std::size_t(length);
        tr.weight(c) = c < count ? 1.0f / float(k) : 0.0f;
        for (Index l = 0; l < length; ++l) tr.token(c, l) = x[l], tr.target(c, l) = -1;
        for (Index j = 0; j < k; ++j) {
          const Index l = order[c * std::size_t(length) + std::size_t(j)];
          tr.token(c, l) = words::mask, tr.target(c, l) = c < count ? x[l] : -1;
        }
      }
      tr.forward(p);
      total += tr.loss(false);
    }
  }
  return total / double(n);
}

void run(const options& o) {
  const words::word_list train = words::load_words(o.train), held = words::load_words(o.heldout);
  const std::vector<std::int32_t> x_train = words::encode_all(train, o.length), x_held = words::encode_all(held, o.length);

  words::model_weights shape;
  shape.length = o.length, shape.radius = o.radius, shape.global = o.global, shape.hidden = o.hidden, shape.depth = o.depth;
  const layout lay(shape);
  std::vector<float> theta(lay.total, 0.0f), grad(lay.total), m1(lay.total, 0), m2(lay.total, 0), avg;
  const std::vector<float> decay = lay.decay_mask();
  std::mt19937_64 rng(o.seed);
  auto normal = [&] {  // Box–Muller on the one generator
    const double u = uniform(rng), v = uniform(rng);
    return std::sqrt(-2 * std::log1p(-u)) * std::cos(2 * std::numbers::pi * v);
  };
  // Init: every sum of embedding columns and every layer's output starts at about unit variance;
  // biases and P start at 0.
  auto init = [&](std::size_t at, Index n, double std) {
    for (Index i = 0; i < n; ++i) theta[at + std::size_t(i)] = float(std * normal());
  };
  init(lay.eg, lay.g * lay.l * lay.in, 1 / std::sqrt(double(lay.l)));
  init(lay.wg, lay.h * lay.g, 1 / std::sqrt(double(lay.g)));
  init(lay.er, lay.h * (2 * lay.r + 1) * lay.win, 1 / std::sqrt(double(2 * lay.r + 2)));
  for (Index d = 0; d < lay.depth; ++d) init(lay.w[std::size_t(d)], lay.h * lay.h, 1 / std::sqrt(double(lay.h)));
  init(lay.wo, lay.v * lay.h, 1 / std::sqrt(double(lay.h)));
  avg = theta;
  std::cout << "words_train: " << train.size() << " training words, " << held.size() << " held out; L = " << o.length
            << ", window R = " << o.radius << ", G = " << o.global << ", H = " << o.hidden << ", D = " << o.depth << ", "
            << lay.total << " parameters; batch " << o.batch << ", " << o.steps << " steps, seed " << o.seed << ", "
            << o.threads << " thread(s)" << std::endl;

  trainer tr(lay, o.batch, o.threads);
  std::vector<std::size_t> perm(train.size());
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = i;
  std::size_t next = perm.size();  // position in the current epoch's permutation
  const Index length = Index(o.length);
  const double bits = 1 / (double(o.length) * std::numbers::ln2);  // nats per word → bits per position
  const auto wall0 = std::chrono::steady_clock::now();
  const std::clock_t cpu0 = std::clock();
  double running = 0;
  std::vector<Index> order(o.length);
  for (std::size_t step = 1; step <= o.steps; ++step) {
    const double u0 = uniform(rng);
    for (std::size_t c = 0; c < o.batch; ++c) {
      if (next == perm.size()) {  // a new epoch: Fisher–Yates on the one generator
        for (std::size_t i = perm.size() - 1; i > 0; --i) std::swap(perm[i], perm[std::size_t(uniform(rng) * double(i + 1))]);
        next = 0;
      }
      const std::int32_t* x = x_train.data() + perm[next++] * o.length;
      if (o.objective == "mdlm") {
        double t = u0 + double(c) / double(o.batch);
        t = o.t_eps + (1 - o.t_eps) * (t - std::floor(t));
        tr.weight(c) = float(1 / t);  // −α'/(1 − α) for α = 1 − t
        for (Index l = 0; l < length; ++l) {
          const bool masked = uniform(rng) < t;
          tr.token(c, l) = masked ? words::mask : x[l];
          tr.target(c, l) = masked ? x[l] : -1;
        }
      } else {  // the same NELBO with t integrated out: k ~ U{1..L} (stratified), a uniform k-subset, weight L/k
        const Index k = 1 + Index((std::size_t(u0 * double(length)) + c) % std::size_t(length));
        tr.weight(c) = float(double(length) / double(k));
        for (Index l = 0; l < length; ++l) order[std::size_t(l)] = l;
        for (Index j = 0; j < k; ++j) std::swap(order[std::size_t(j)], order[std::size_t(j + Index(uniform(rng) * double(length - j)))]);
        for (Index l = 0; l < length; ++l) tr.token(c, l) = x[l], tr.target(c, l) = -1;
        for (Index j = 0; j < k; ++j) {
          const Index l = order[std::size_t(j)];
          tr.token(c, l) = words::mask, tr.target(c, l) = x[l];
        }
      }
    }
    tr.forward(theta.data());
    running += tr.loss(true) / double(o.batch);
    tr.backward(theta.data(), grad.data());

    const double warm = std::min(1.0, double(step) / double(std::max<std::size_t>(o.warmup, 1)));
    const double progress = double(step) / double(o.steps);
    const double lr = o.lr * warm * (o.lr_min + (1 - o.lr_min) * 0.5 * (1 + std::cos(std::numbers::pi * progress)));
    const double c1 = 1 / (1 - std::pow(o.beta1, double(step))), c2 = 1 / (1 - std::pow(o.beta2, double(step)));
    const float b1 = float(o.beta1), b2 = float(o.beta2), ema = float(o.ema), wd = float(lr * o.weight_decay);
    for (std::size_t i = 0; i < lay.total; ++i) {
      m1[i] = b1 * m1[i] + (1 - b1) * grad[i];
      m2[i] = b2 * m2[i] + (1 - b2) * grad[i] * grad[i];
      theta[i] -= float(lr * (m1[i] * c1) / (std::sqrt(m2[i] * c2) + 1e-8)) + wd * decay[i] * theta[i];
      avg[i] = ema * avg[i] + (1 - ema) * theta[i];
    }
    if (step % o.eval_every == 0 || step == o.steps) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
      std::cout << "step " << std::setw(6) << step << "  train loss " << std::fixed << std::setprecision(4)
                << running / double(o.eval_every) * bits << " bits/char  held-out NELBO (EMA) "
                << nelbo(tr, avg.data(), x_held, length, o.seed) * bits << " bits/char  lr " << std::setprecision(6) << lr
                << std::setprecision(1) << "  " << secs << " s" << std::defaultfloat << std::endl;
      running = 0;
    }
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const double cpu = double(std::clock() - cpu0) / CLOCKS_PER_SEC;
  std::cout << "trained in " << std::fixed << std::setprecision(1) << wall << " s wall, " << cpu << " s CPU\n";
  if (!o.out.empty()) {
    words::model_weights w = shape;
    w.resize();
    std::size_t at = 0;
    for (auto* a : w.arrays()) std::copy_n(avg.begin() + Index(at), a->size(), a->begin()), at += a->size();
    w.save(o.out);
    at = 0;  // the saved weights are float16: their held-out NELBO
    words::model_weights saved = w.rounded();
    for (const auto* a : saved.arrays()) std::copy(a->begin(), a->end(), avg.begin() + Index(at)), at += a->size();
    std::cout << "wrote " << o.out << " (" << w.bytes().size() << " bytes, float16); its held-out NELBO "
              << std::setprecision(4) << nelbo(tr, avg.data(), x_held, length, o.seed) * bits << " bits/char\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"words_train: the words example's masked-diffusion denoiser, MDLM objective"};
  app.add_option("--train", o.train, "training words, one a line")->capture_default_str();
  app.add_option("--heldout", o.heldout, "held-out words (NELBO reported during training)")->capture_default_str();
  app.add_option("--out", o.out, "weights file to write (none: train only)");
  app.add_option("--radius", o.radius, "window radius R (positions l-R..l+R)")->capture_default_str()->check(CLI::Range(0, 16));
  app.add_option("--global", o.global, "width G of the whole-word summary")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--hidden", o.hidden, "per-position width H")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--depth", o.depth, "residual per-position layers D")->capture_default_str()->check(CLI::Range(0, 16));
  app.add_option("--length", o.length, "positions L (words up to L letters)")->capture_default_str()->check(CLI::Range(2, 64));
  app.add_option("--batch", o.batch, "words per step")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--steps", o.steps, "optimizer steps")->capture_default_str()->check(CLI::Range(1, 1 << 30));
  app.add_option("--warmup", o.warmup, "linear warm-up steps")->capture_default_str();
  app.add_option("--eval-every", o.eval_every, "steps between held-out NELBO reports")->capture_default_str()->check(CLI::Range(1, 1 << 30));
  app.add_option("--lr", o.lr, "peak learning rate")->capture_default_str();
  app.add_option("--lr-min", o.lr_min, "final learning rate / peak")->capture_default_str();
  app.add_option("--weight-decay", o.weight_decay, "AdamW decoupled weight decay (matrices)")->capture_default_str();
  app.add_option("--ema", o.ema, "weight EMA decay (the saved weights)")->capture_default_str();
  app.add_option("--objective", o.objective, "mdlm: t ~ U, mask each position w.p. t, weight 1/t; subset: the same with t integrated out")
      ->capture_default_str()->check(CLI::IsMember({"mdlm", "subset"}));
  app.add_option("--seed", o.seed, "seed of the initialisation, batches, times and masks")->capture_default_str();
  app.add_option("--threads", o.threads, "threads of the matrix products (the weights do not depend on it)")->capture_default_str()->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  try {
    run(o);
  } catch (const ferry::error& e) {
    std::cerr << "words_train: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
