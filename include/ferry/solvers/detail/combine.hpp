#pragma once
// A linear combination with a number of terms known only at run time (multistep orders warm up):
// the terms are gathered into fixed arrays and one fused simd::lincomb of exactly that arity runs.
#include <array>
#include <cstddef>
#include <utility>

#include "ferry/core/batch.hpp"
#include "ferry/simd/lincomb.hpp"

namespace ferry::detail {

/// Up to Max terms c_k·in_k of a pending update out = Σ c_k·in_k.
template <class T, std::size_t Max>
struct terms {
  std::array<T, Max> c{};
  std::array<const T*, Max> in{};
  std::size_t n = 0;

  void add(T coeff, const T* x) {
    c[n] = coeff;
    in[n] = x;
    ++n;
  }
  void add(T coeff, const batch<T>& x) { add(coeff, x.data()); }
};

template <std::size_t K, class T, std::size_t Max>
void combine_exactly(batch_view<T> out, const terms<T, Max>& t) {
  std::array<T, K> c;
  std::array<const T*, K> in;
  for (std::size_t k = 0; k < K; ++k) c[k] = t.c[k], in[k] = t.in[k];
  simd::lincomb<T, K>(out.span(), c, in);
}

/// out = Σ_{k<t.n} t.c[k]·t.in[k] in one pass; out may alias any input.
template <class T, std::size_t Max>
void combine(batch_view<T> out, const terms<T, Max>& t) {
  [&]<std::size_t... K>(std::index_sequence<K...>) {
    ((t.n == K + 1 ? combine_exactly<K + 1>(out, t) : void()), ...);
  }(std::make_index_sequence<Max>{});
}

}  // namespace ferry::detail
