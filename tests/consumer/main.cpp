// Uses the installed package: one Euler-free sanity run of the public API.
#include <ferry/ferry.hpp>

#include <cstdio>

int main() {
  ferry::batch<double> x(2, 3);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = double(i);
  ferry::simd::lincomb<double, 1>(x.view().span(), {2.0}, {x.data()});
  std::printf("ferry %s consumer: x[5] = %g\n", ferry::version_string, x(1, 2));
  return x(1, 2) == 10.0 ? 0 : 1;
}
