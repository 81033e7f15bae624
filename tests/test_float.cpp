// Every solver is a template on the scalar type: in float it follows the double run to float
// precision (the kernels, conversions and grids all instantiate for float).
#include <cmath>

#include "catch.hpp"
#include "runtime_support.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/ode/ddim.hpp"
#include "ferry/solvers/ode/deis.hpp"
#include "ferry/solvers/ode/dopri5.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"
#include "ferry/solvers/ode/heun.hpp"
#include "ferry/solvers/ode/lms.hpp"
#include "ferry/solvers/ode/unipc.hpp"

namespace test_float {

using namespace ferry;

namespace {
template <class T>
batch<T> run(auto solver) {
  auto model = gaussian_mixture<T>::load(FERRY_TEST_DATA "/diffusion/gmm.json");
  const edm<T> process;
  const auto sched = make_schedule(make_grid(process, {.kind = grid_kind::karras, .steps = 20}));
  batch<T> x(64, 2);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = T(80 * std::sin(1.3 * double(i)));
  ferry_test::run_erased(solver, process, model, sched, x.view());
  return x;
}
template <template <class> class S>
double float_vs_double() {
  const batch<float> f = run<float>(S<float>{});
  const batch<double> d = run<double>(S<double>{});
  double m = 0;
  for (std::size_t i = 0; i < f.size(); ++i) m = std::max(m, std::abs(double(f.data()[i]) - d.data()[i]));
  return m;
}
template <class T> using unipc2 = unipc<2, T>;
template <class T> using lms4 = lms<4, T>;
template <class T> using deis2 = deis<2, T>;
}  // namespace

TEST_CASE("solvers in float follow their double runs to float precision", "[float]") {
  CHECK(float_vs_double<heun>() < 2e-5);  // measured ≤ 7.5e-6 (dopri5), ≤ 1.1e-6 for the others
  CHECK(float_vs_double<dopri5>() < 2e-5);  // measured ≤ 7.5e-6 (dopri5), ≤ 1.1e-6 for the others
  CHECK(float_vs_double<ddim>() < 2e-5);  // measured ≤ 7.5e-6 (dopri5), ≤ 1.1e-6 for the others
  CHECK(float_vs_double<dpmpp_2m>() < 2e-5);  // measured ≤ 7.5e-6 (dopri5), ≤ 1.1e-6 for the others
  CHECK(float_vs_double<dpmpp_3m>() < 2e-5);  // measured ≤ 7.5e-6 (dopri5), ≤ 1.1e-6 for the others
  CHECK(float_vs_double<unipc2>() < 2e-5);  // measured ≤ 7.5e-6 (dopri5), ≤ 1.1e-6 for the others
  CHECK(float_vs_double<deis2>() < 2e-5);  // measured ≤ 7.5e-6 (dopri5), ≤ 1.1e-6 for the others
  CHECK(float_vs_double<lms4>() < 2e-5);  // measured ≤ 7.5e-6 (dopri5), ≤ 1.1e-6 for the others
}

}  // namespace test_float
