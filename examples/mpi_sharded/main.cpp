// mpi_sharded: one sampling run spread over MPI ranks. Rank r samples the rows
// [r·N/R, (r+1)·N/R) of the run — its shard, with the keyed generator's global row indices, so
// nothing but (N, seed) is shared — and rank 0 gathers the rows and writes one .npy, byte for
// byte the file `ferry sample --num-samples N --seed S` writes in one process.
//
//   mpirun -np 4 mpi_sharded --model gmm:G.json --num-samples 100000 --seed 7 --steps 20
//          --solver dpmpp-2m --out X.npy                       (one command line)
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "ferry/grid/grid.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/process/edm.hpp"
#include "ferry/random/noise.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/runtime/registry.hpp"

namespace {

struct options {
  std::string model, out, solver = "euler";
  std::size_t num_samples = 0, steps = 0;
  std::uint64_t seed = 0;
};

// This rank's rows of an EDM/Karras run (the CLI's defaults for --process and --grid).
ferry::batch<double> sample_shard(const options& o, std::size_t begin, std::size_t end) {
  if (o.model.rfind("gmm:", 0) != 0) throw ferry::config_error("--model: expected gmm:PATH");
  ferry::gaussian_mixture<double> model = ferry::gaussian_mixture<double>::load(o.model.substr(4));
  const ferry::edm<double> process;
  const auto sched = ferry::make_schedule(
      ferry::make_grid(process, ferry::grid_spec<double>{.kind = ferry::grid_kind::karras, .steps = o.steps}));
  ferry::batch<double> x(end - begin, model.dim());
  ferry::random::fill_normal(o.seed, x.view(), begin, ferry::random::initial_noise_step);
  ferry::simd::lincomb<double, 1>(x.view().span(), {sched.points.front().sigma}, {x.data()});
  const ferry::any_process<double> p(process);
  ferry::model_ref<double> m(model);
  ferry::runtime_problem<double> problem(p, m, {}, ferry::runtime_noise<double>{ferry::keyed_noise{o.seed, begin}, {}});
  ferry::run_solver<double>(ferry::solver_settings{.name = o.solver}, problem, sched, x.view());
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  options o;
  CLI::App app{"mpi_sharded: ferry sample over MPI ranks"};
  app.add_option("--model", o.model, "gmm:PATH")->required();
  app.add_option("--num-samples", o.num_samples, "N")->required();
  app.add_option("--seed", o.seed, "seed");
  app.add_option("--steps", o.steps, "steps")->required();
  app.add_option("--solver", o.solver, "solver name");
  app.add_option("--out", o.out, "output .npy (written by rank 0)")->required();
  int code = 0;
  try {
    app.parse(argc, argv);
    const std::size_t begin = std::size_t(rank) * o.num_samples / std::size_t(ranks),
                      end = std::size_t(rank + 1) * o.num_samples / std::size_t(ranks);
    const ferry::batch<double> x = sample_shard(o, begin, end);
    // Gather every rank's rows at rank 0, in rank order.
    std::vector<int> counts(static_cast<std::size_t>(ranks)), offsets(static_cast<std::size_t>(ranks));
    const int mine = int(x.size());
    MPI_Gather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
    for (std::size_t r = 1; r < counts.size(); ++r) offsets[r] = offsets[r - 1] + counts[r - 1];
    std::vector<double> all(rank == 0 ? o.num_samples * x.cols() : 0);
    MPI_Gatherv(x.data(), mine, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (rank == 0) ferry::io::write_npy<double>(o.out, all.data(), {o.num_samples, x.cols()});
  } catch (const CLI::ParseError& e) {
    if (rank == 0) std::cerr << "mpi_sharded: " << e.what() << "\n";
    code = 2;
  } catch (const std::exception& e) {
    std::cerr << "mpi_sharded (rank " << rank << "): " << e.what() << "\n";
    code = 2;
  }
  // Every rank either reached the gathers or failed before them on the same input; abort on failure
  // so no rank waits for a partner that will never come.
  if (code != 0) MPI_Abort(MPI_COMM_WORLD, code);
  MPI_Finalize();
  return 0;
}
