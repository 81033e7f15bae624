// The words example (examples/words): the committed model reloads and reproduces its recorded
// held-out NELBO and a recorded sampler row; its numbers do not depend on threads, batching or
// the memo; its files are checked.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "../examples/words/words_eval.hpp"
#include "alloc_counter.hpp"
#include "catch.hpp"

namespace test_words {

namespace {

const std::string dir = FERRY_TEST_DATA "/../../examples/words/data/";

const words::word_denoiser& model() {
  static const words::word_denoiser m(words::model_weights::load(dir + "words_model.bin"));
  return m;
}
const words::word_list& train() {
  static const words::word_list w = words::load_words(dir + "train.txt");
  return w;
}
const words::word_list& heldout() {
  static const words::word_list w = words::load_words(dir + "heldout.txt");
  return w;
}

// Recorded from the committed weights (examples/words/README.md, docs/discrete.md).
constexpr double recorded_nelbo_bpc = 2.1434357420328358;
constexpr std::size_t recorded_valid = 95, recorded_heldout = 10;  // ancestral, 16 steps, 2000 samples, seed 0
constexpr double recorded_nfe = 9.1055;

}  // namespace

TEST_CASE("words: the lists are the committed split", "[words]") {
  CHECK(train().size() == 54587);
  CHECK(heldout().size() == 6065);
  for (const std::string& w : heldout().words) REQUIRE_FALSE(train().contains(w));
}

TEST_CASE("words: encode and decode", "[words]") {
  std::vector<std::int32_t> t(12);
  words::encode("quartz", t);
  CHECK(t == std::vector<std::int32_t>{16, 20, 0, 17, 19, 25, 26, 26, 26, 26, 26, 26});
  CHECK(words::decode(t) == "quartz");
  CHECK(words::well_formed(t));
  t[7] = 4;  // a letter after the end: decoded as letters only, not well formed
  CHECK(words::decode(t) == "quartze");
  CHECK_FALSE(words::well_formed(t));
  CHECK_THROWS_AS(words::encode("Quartz", t), ferry::domain_error);
  CHECK_THROWS_AS(words::encode("abcdefghijklm", t), ferry::shape_error);
}

TEST_CASE("words: the weights file round-trips and refuses damage", "[words]") {
  const std::string bytes = model().weights().bytes();
  CHECK(words::model_weights::from_bytes(bytes, "w").bytes() == bytes);
  CHECK_THROWS_AS(words::model_weights::from_bytes(bytes.substr(0, bytes.size() - 4), "w"), ferry::io_error);
  CHECK_THROWS_AS(words::model_weights::from_bytes(bytes + "x", "w"), ferry::io_error);
  CHECK_THROWS_AS(words::model_weights::from_bytes("FERRYWD1" + bytes.substr(8), "w"), ferry::io_error);
  CHECK_THROWS_AS(words::model_weights::load(dir + "no_such_file.bin"), ferry::io_error);
}

TEST_CASE("words: a row's logits do not depend on the rows beside it, nor on the memo", "[words]") {
  // 40 rows (more than a tile of 16): words, partly masked, with repeats.
  const std::size_t n = 40, l = 12;
  std::vector<std::int32_t> x(n * l);
  for (std::size_t i = 0; i < n; ++i) {
    words::encode(heldout().words[(i * 37) % 25], std::span<std::int32_t>(x.data() + i * l, l));
    for (std::size_t j = 0; j < l; ++j)
      if ((i * 7 + j * 3) % 5 < i % 4) x[i * l + j] = words::mask;
  }
  std::vector<double> all(n * l * 27), one(l * 27), memo(n * l * 27);
  model()(ferry::discrete::const_token_view(x.data(), n, l), {}, all);
  for (std::size_t i = 0; i < n; ++i) {
    model()(ferry::discrete::const_token_view(x.data() + i * l, 1, l), {}, one);
    REQUIRE(std::equal(one.begin(), one.end(), all.begin() + std::ptrdiff_t(i * l * 27)));
  }
  const words::memo_denoiser cached(model());
  for (int pass = 0; pass < 2; ++pass) {  // misses, then hits
    cached(ferry::discrete::const_token_view(x.data(), n, l), {}, memo);
    CHECK(memo == all);
  }
  x[5] = 28;  // out of range: the model refuses it, through the memo too
  CHECK_THROWS_AS(cached(ferry::discrete::const_token_view(x.data(), n, l), {}, memo), ferry::domain_error);
}

TEST_CASE("words: the committed model reproduces its held-out NELBO", "[words]") {
  const std::vector<std::int32_t> tokens = words::encode_all(heldout(), model().length());
  const double bpc = words::bits_per_char(words::nelbo_nats(model(), tokens, 0, 2), model().length());
  CHECK(bpc == Approx(recorded_nelbo_bpc).epsilon(1e-6));
  CHECK(bpc < 3.0);  // the target; a uniform model scores log2 27 = 4.75
  const std::vector<std::int32_t> head(tokens.begin(), tokens.begin() + 500 * 12);  // the same on 1 thread
  CHECK(words::nelbo_nats(model(), head, 0, 1) == words::nelbo_nats(model(), head, 0, 2));
}

TEST_CASE("words: the committed model reproduces a recorded sampler row, on any thread count", "[words]") {
  const words::eval_row r = words::sample_row(model(), train(), heldout(), {"ancestral"}, 16, 2000, 2, 0);
  CHECK(r.words.size() == 2000);
  CHECK(std::size_t(r.valid_rate * 2000 + 0.5) == recorded_valid);
  CHECK(std::size_t(r.heldout_rate * 2000 + 0.5) == recorded_heldout);
  CHECK(r.nfe == Approx(recorded_nfe).epsilon(1e-12));
  const words::eval_row one = words::sample_row(model(), train(), heldout(), {"ancestral"}, 16, 2000, 1, 0);
  CHECK(one.words == r.words);
}

TEST_CASE("words: the greedy decoder at temperature 0.5 reaches the issue's targets, as recorded", "[words]") {
  const words::eval_row r = words::sample_row(model(), train(), heldout(), {"confidence", 0.5}, 32, 2000, 2, 0);
  CHECK(r.sampler == "confidence (T=0.5)");
  CHECK(std::size_t(r.valid_rate * 2000 + 0.5) == 926);   // 46.3% real words (target ≥ 30%)
  CHECK(std::size_t(r.heldout_rate * 2000 + 0.5) == 85);  // 4.25% held-out words (target ≥ 2%)
  CHECK(r.nfe == 32);
}

TEST_CASE("words: the model and its memo allocate nothing per call once warm", "[words][alloc]") {
  const std::size_t n = 100, l = 12;
  std::vector<std::int32_t> x(n * l, words::mask);
  for (std::size_t i = 0; i < n; ++i) x[i * l + i % l] = std::int32_t(i % 27);
  std::vector<double> out(n * l * 27);
  const words::memo_denoiser cached(model());
  const ferry::discrete::const_token_view v(x.data(), n, l);
  model()(v, {}, out), cached(v, {}, out);  // the thread's scratch and table are sized here
  x[0] = 3;  // one miss among hits
  ferry_test::count_allocations count;
  model()(v, {}, out);
  cached(v, {}, out);
  CHECK(count.count() == 0);
}

}  // namespace test_words
