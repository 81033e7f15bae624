// trained_flow: train two small libtorch MLPs on a 2-D checkerboard — a flow-matching velocity
// model and a VP ε-prediction model — and sample them through ferry's model concept with several
// solvers, scoring each run by its energy distance to held-out data (README.md has the table).
//
//   trained_flow train  --out DIR [--steps 4000 --batch 512 --width 128 --depth 3 --lr 2e-3 --threads 1]
//   trained_flow sample --weights DIR/flow.pt --solver heun --steps 8 [--n 5000 --out X.npy]
//   trained_flow table  --weights DIR [--n 5000 --out TABLE.md]
//
// Data: the checkerboard of Grathwohl et al. 2019 (FFJORD) — uniform on the 8 unit squares of
// [−2, 2]² whose indices sum to an even number — drawn with ferry's keyed Philox: training batch k
// is step k of --seed, the held-out and reference sets are steps 0xFFFFFFF0 and 0xFFFFFFF1.
//
// Training (Lipman et al. 2023, Eq. 23 with σ_min = 0; Ho et al. 2020, Eq. 14):
//   flow:  t ~ U(0, 1),      x_t = (1 − t)·x0 + t·ε,   loss ‖v_θ(x_t, t) − (ε − x0)‖²
//   ε:     t ~ U(1e-3, 1),   x_t = α(t)·x0 + σ(t)·ε on vp_linear (β 0.1 → 20),  loss ‖ε_θ(x_t, t) − ε‖²
// Adam (lr with a cosine decay to 0), batch 512, fresh data every step.
//
// Score: the energy distance (Székely & Rizzo 2013) between n samples X and n held-out points Y,
//   D² = 2·E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖,
// the within-set means over distinct pairs (U-statistics, so D² of two draws of the data is 0 on
// average and may come out slightly negative).
#include <CLI/CLI.hpp>
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numbers>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "commands.hpp"
#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/grid/grid.hpp"
#include "ferry/io/atomic_file.hpp"
#include "ferry/io/npy.hpp"
#include "ferry/process/flow.hpp"
#include "ferry/process/vp_linear.hpp"
#include "ferry/random/normal.hpp"
#include "ferry/random/philox.hpp"
#include "ferry/driver/driver.hpp"
#include "ferry/solvers/ode/ddim.hpp"
#include "ferry/solvers/ode/dopri5.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"
#include "ferry/solvers/ode/euler.hpp"
#include "ferry/solvers/ode/heun.hpp"
#include "ferry/solvers/ode/rk4.hpp"
#include "ferry/solvers/ode/unipc.hpp"
#include "parse_error.hpp"
#include "torch_model.hpp"

namespace {

using namespace trained_flow;
using ferry::detail::cat;

constexpr std::uint32_t held_out_step = 0xFFFFFFF0u, reference_step = 0xFFFFFFF1u;
constexpr float vp_t_min = 1e-3f;

// n checkerboard points: column c = ⌊4u₀⌋, row r = 2⌊2u₁⌋ + (c mod 2), so c + r is even.
ferry::batch<float> checkerboard(std::size_t n, std::uint64_t seed, std::uint32_t step) {
  ferry::batch<float> x(n, 2);
  double u[3];
  for (std::size_t i = 0; i < n; ++i) {
    ferry::random::fill_uniform(seed, u, std::uint32_t(i), step, 0);
    const int c = std::min(int(4 * u[0]), 3), r = 2 * std::min(int(2 * u[1]), 1) + c % 2;
    x(i, 0) = float(-2 + 4 * u[0]);
    x(i, 1) = float(-2 + r + u[2]);
  }
  return x;
}

// D² = 2·E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖ (U-statistics within a set).
double energy_distance(ferry::const_batch_view<float> x, ferry::const_batch_view<float> y) {
  auto mean_dist = [](ferry::const_batch_view<float> a, ferry::const_batch_view<float> b, bool same) {
    double s = 0;
    for (std::size_t i = 0; i < a.rows; ++i)
      for (std::size_t j = same ? i + 1 : 0; j < b.rows; ++j) {
        double d2 = 0;
        for (std::size_t k = 0; k < a.cols; ++k) d2 += double(a(i, k) - b(j, k)) * double(a(i, k) - b(j, k));
        s += std::sqrt(d2);
      }
    const double pairs = same ? double(a.rows) * double(a.rows - 1) / 2 : double(a.rows) * double(b.rows);
    return s / pairs;
  };
  return 2 * mean_dist(x, y, false) - mean_dist(x, x, true) - mean_dist(y, y, true);
}

// ---- training --------------------------------------------------------------------------------

struct train_options {
  std::string out = "trained_flow";
  std::size_t steps = 4000, batch = 512, width = 128, depth = 3, threads = 1;
  double lr = 2e-3;
  std::uint64_t seed = 1;
};

double train_one(const train_options& o, ferry::prediction kind, const std::string& path) {
  const auto started = std::chrono::steady_clock::now();
  torch::manual_seed(o.seed + std::uint64_t(kind));
  const net_spec spec{kind, 2, std::int64_t(o.width), std::int64_t(o.depth)};
  torch::nn::Sequential net = make_net(spec);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(o.lr));
  const ferry::vp_linear<double> vp;
  const auto b = std::int64_t(o.batch);
  double recent = 0;
  for (std::size_t step = 0; step < o.steps; ++step) {
    ferry::batch<float> data = checkerboard(o.batch, o.seed, std::uint32_t(step));
    const torch::Tensor x0 = torch::from_blob(data.data(), {b, 2});  // used before `data` goes out of scope
    const torch::Tensor eps = torch::randn({b, 2});
    torch::Tensor t, xt, target;
    if (kind == ferry::prediction::velocity) {
      t = torch::rand({b, 1});
      xt = (1 - t) * x0 + t * eps;
      target = eps - x0;
    } else {  // vp_linear: B(t) = β_min·t + ½t²(β_max − β_min), α = e^{−B/2}, σ = √(1 − e^{−B})
      t = vp_t_min + (1 - vp_t_min) * torch::rand({b, 1});
      const torch::Tensor big_b = vp.beta_min() * t + 0.5 * (vp.beta_max() - vp.beta_min()) * t * t;
      xt = torch::exp(-0.5 * big_b) * x0 + torch::sqrt(-torch::expm1(-big_b)) * eps;
      target = eps;
    }
    const torch::Tensor loss = torch::mse_loss(net->forward(torch::cat({xt, t}, 1)), target);
    opt.zero_grad();
    loss.backward();
    const double lr = 0.5 * o.lr * (1 + std::cos(std::numbers::pi * double(step) / double(o.steps)));
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
    opt.step();
    recent += loss.item<double>();
    if ((step + 1) % 500 == 0 || step + 1 == o.steps) {
      const std::size_t k = (step + 1) % 500 == 0 ? 500 : (step + 1) % 500;
      std::printf("  %s step %zu: loss %.4f (mean of the last %zu)\n", to_string(kind).data(), step + 1, recent / double(k), k);
      std::fflush(stdout);
      recent = 0;
    }
  }
  save_net(net, spec, path);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("wrote %s (%s model, %zu steps, %.1f s)\n", path.c_str(), to_string(kind).data(), o.steps, seconds);
  return seconds;
}

void train(const train_options& o) {
  torch::set_num_threads(int(o.threads));
  std::error_code ec;
  std::filesystem::create_directories(o.out, ec);
  if (ec) throw ferry::io_error(cat(ferry::detail::escape(o.out), ": cannot create the directory: ", ec.message()));
  const double a = train_one(o, ferry::prediction::velocity, o.out + "/flow.pt");
  const double b = train_one(o, ferry::prediction::epsilon, o.out + "/eps.pt");
  std::printf("training took %.1f s on %zu thread(s)\n", a + b, o.threads);
}

// ---- sampling --------------------------------------------------------------------------------

// Counts heap allocations inside the model calls: operator new (tests/alloc_counter.cpp) and
// torch's CPU allocator (tensor storage), which does not go through operator new.
struct counting_cpu_allocator final : c10::Allocator {
  c10::Allocator* base = nullptr;
  mutable std::atomic<std::size_t> count{0};
  c10::DataPtr allocate(std::size_t n) const override {
    ++count;
    return base->allocate(n);
  }
  c10::DeleterFnPtr raw_deleter() const override { return base->raw_deleter(); }
};
counting_cpu_allocator& cpu_counter() {
  static counting_cpu_allocator a;
  return a;
}

// The model with its allocations counted per call (the counters are global, so a call's share is
// the difference across it).
struct counted_model {
  torch_model& m;
  ferry::prediction predicts;
  std::size_t calls = 0, new_calls = 0, storage = 0;
  explicit counted_model(torch_model& model) : m(model), predicts(model.predicts) {}
  void operator()(ferry::const_batch_view<float> x, const ferry::level<float>& lv, ferry::batch_view<float> out) {
    const std::size_t n0 = ferry_test::allocations(), s0 = cpu_counter().count;
    m(x, lv, out);
    new_calls += ferry_test::allocations() - n0;
    storage += cpu_counter().count - s0;
    ++calls;
  }
};

constexpr std::string_view solver_list[] = {"euler", "heun", "rk4", "dopri5", "ddim", "dpmpp-2m", "unipc"};

struct run_result {
  ferry::batch<float> x;
  std::size_t nfe = 0, calls = 0, new_calls = 0, storage = 0;
  std::size_t sizing_new = 0, sizing_storage = 0;  // the first call's (sizes the buffers; shows the counters count)
};

// One sampling run of `solver` from the keyed initial noise: flow models on ferry::flow (uniform t
// grid from t = 1), ε models on vp_linear (uniform log-SNR grid); both end at t_min = 1e-3.
template <class Process, class Solver>
run_result run_with(torch_model& model, const Process& process, ferry::grid_kind kind, std::size_t steps, Solver solver,
                    std::size_t n, std::uint64_t seed) {
  const auto sched = ferry::make_schedule(ferry::make_grid(process, ferry::grid_spec<float>{.kind = kind, .steps = steps}));
  run_result r{ferry::batch<float>(n, model.dim())};
  ferry::random::fill_normal(seed, r.x.view(), 0, ferry::random::initial_noise_step);
  for (float& v : r.x.view().span()) v *= sched.points.front().sigma;
  counted_model counted(model);
  ferry::batch<float> scratch(n, model.dim());
  ferry_test::count_allocations scope;
  {  // one call sizes the wrapper's buffers for n rows (the run's calls then allocate nothing)
    const std::size_t s0 = cpu_counter().count;
    model(r.x.view(), sched.points.front(), scratch.view());
    r.sizing_new = ferry_test::allocations(), r.sizing_storage = cpu_counter().count - s0;
  }
  const auto stats = ferry::sample(counted, process, sched, solver, r.x.view());
  r.nfe = stats.nfe, r.calls = counted.calls, r.new_calls = counted.new_calls, r.storage = counted.storage;
  return r;
}

run_result run_solver(torch_model& model, std::string_view solver, std::size_t steps, double tol, std::size_t n,
                      std::uint64_t seed) {
  c10::InferenceMode guard;
  const bool is_flow = model.predicts == ferry::prediction::velocity;
  auto rk = [&](auto s) {
    if (is_flow) return run_with(model, ferry::flow<float>(), ferry::grid_kind::uniform, steps, s, n, seed);
    return run_with(model, ferry::vp_linear<float>(), ferry::grid_kind::uniform_logsnr, steps, s, n, seed);
  };
  if (solver == "euler") return rk(ferry::euler<float>());
  if (solver == "heun") return rk(ferry::heun<float>());
  if (solver == "rk4") return rk(ferry::rk4<float>());
  if (solver == "dopri5") return rk(ferry::dopri5<float>({.rtol = float(tol), .atol = float(tol)}));
  const bool known = std::find(std::begin(solver_list), std::end(solver_list), solver) != std::end(solver_list);
  if (known && is_flow)
    throw ferry::config_error(cat("--solver ", solver, ": the flow model samples with euler, heun, rk4 or dopri5 "
                                  "(the exponential integrators need a finite log-SNR at the start, and flow starts at alpha = 0)"));
  const ferry::vp_linear<float> vp;
  if (solver == "ddim") return run_with(model, vp, ferry::grid_kind::uniform_logsnr, steps, ferry::ddim<float>{}, n, seed);
  if (solver == "dpmpp-2m") {
    ferry::dpmpp_multistep<2, float> s;
    s.opt = ferry::dpmpp_multistep_options::k_diffusion_2m();
    return run_with(model, vp, ferry::grid_kind::uniform_logsnr, steps, s, n, seed);
  }
  if (solver == "unipc") return run_with(model, vp, ferry::grid_kind::uniform_logsnr, steps, ferry::unipc<2, float>{}, n, seed);
  throw ferry::config_error(cat("--solver \"", ferry::detail::escape(solver), "\" is unknown",
                                ferry::detail::did_you_mean(solver, solver_list),
                                "; expected euler, heun, rk4, dopri5 (either model) or ddim, dpmpp-2m, unipc (the eps model)"));
}

torch_model load_model(const std::string& path) {
  net_spec spec;
  torch::nn::Sequential net = load_net(path, spec);
  if (spec.dim != 2)
    throw ferry::io_error(cat(ferry::detail::escape(path), ": a ", spec.dim, "-D network; the checkerboard is 2-D"));
  return torch_model(std::move(net), spec);
}

struct sample_options {
  std::string weights, solver = "heun", out;
  std::size_t steps = 8, n = 5000, threads = 1;
  double tol = 1e-3;
  std::uint64_t seed = 1, data_seed = 1;
};

// An --out whose directory does not exist fails before the run rather than after it.
void require_parent_dir(const std::string& out) {
  if (out.empty()) return;
  const std::filesystem::path dir = std::filesystem::path(out).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    throw ferry::io_error(cat(ferry::detail::escape(out), ": cannot write: the directory ", ferry::detail::escape(dir.string()),
                              " does not exist"));
}

void sample_cmd(const sample_options& o) {
  require_parent_dir(o.out);
  torch::set_num_threads(int(o.threads));
  torch_model model = load_model(o.weights);
  const run_result r = run_solver(model, o.solver, o.steps, o.tol, o.n, o.seed);
  const ferry::batch<float> held = checkerboard(o.n, o.data_seed, held_out_step);
  std::printf("%s model, %s, %zu steps: NFE %zu, energy distance to %zu held-out points %.5f\n",
              to_string(model.predicts).data(), o.solver.c_str(), o.steps, r.nfe, o.n, energy_distance(r.x.view(), held.view()));
  std::printf("heap allocations inside the %zu model calls: %zu operator new, %zu tensor storage "
              "(the call before the run sized the buffers: %zu, %zu)\n",
              r.calls, r.new_calls, r.storage, r.sizing_new, r.sizing_storage);
  if (!o.out.empty()) {
    ferry::io::write_npy(o.out, r.x);
    std::printf("wrote %s\n", o.out.c_str());
  }
}

// ---- the README's table ----------------------------------------------------------------------

struct table_options {
  std::string weights = "trained_flow", out;
  std::size_t n = 5000, threads = 1;
  std::uint64_t seed = 1, data_seed = 1;
};

void table_cmd(const table_options& o) {
  require_parent_dir(o.out);
  torch::set_num_threads(int(o.threads));
  torch_model flow_model = load_model(o.weights + "/flow.pt"), eps_model = load_model(o.weights + "/eps.pt");
  if (flow_model.predicts != ferry::prediction::velocity || eps_model.predicts != ferry::prediction::epsilon)
    throw ferry::io_error(cat(ferry::detail::escape(o.weights), ": flow.pt must hold the velocity model and eps.pt the epsilon model"));
  const ferry::batch<float> held = checkerboard(o.n, o.data_seed, held_out_step);
  const ferry::batch<float> again = checkerboard(o.n, o.data_seed, reference_step);
  char floor[32];
  std::snprintf(floor, sizeof floor, "%.2f", 1e3 * energy_distance(again.view(), held.view()));
  std::string md = cat("| model | solver | steps (tol) | NFE | energy distance × 10³ | RMS to the ODE endpoint |\n",
                       "|---|---|---|---:|---:|---:|\n", "| data | another ", o.n, " draws | – | – | ", floor, " | – |\n");
  // The ODE's own endpoint from the same noise (DOPRI5 at rtol = atol = 1e-5), per model: the RMS
  // column is the solver's discretisation error alone, the energy distance adds the model's.
  const ferry::batch<float> flow_ode = run_solver(flow_model, "dopri5", 1, 1e-5, o.n, o.seed).x;
  const ferry::batch<float> eps_ode = run_solver(eps_model, "dopri5", 1, 1e-5, o.n, o.seed).x;
  std::size_t allocs = 0, calls = 0;
  auto row = [&](torch_model& m, const char* name, std::string_view solver, std::size_t steps, double tol) {
    const run_result r = run_solver(m, solver, steps, tol, o.n, o.seed);
    const ferry::batch<float>& ode = m.predicts == ferry::prediction::velocity ? flow_ode : eps_ode;
    double se = 0;
    for (std::size_t i = 0; i < r.x.size(); ++i) se += double(r.x.data()[i] - ode.data()[i]) * double(r.x.data()[i] - ode.data()[i]);
    char ed[32], rms[32], knob[32];
    std::snprintf(ed, sizeof ed, "%.2f", 1e3 * energy_distance(r.x.view(), held.view()));
    std::snprintf(rms, sizeof rms, "%.2e", std::sqrt(se / double(r.x.rows())));
    if (solver == "dopri5") std::snprintf(knob, sizeof knob, "tol %.0e", tol);
    else std::snprintf(knob, sizeof knob, "%zu", steps);
    const std::string line = cat("| ", name, " | ", solver, " | ", knob, " | ", r.nfe, " | ", ed, " | ", rms, " |\n");
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
    md += line;
    allocs += r.new_calls + r.storage, calls += r.calls;
  };
  for (std::size_t nfe : {4, 8, 16, 32, 64}) row(flow_model, "flow", "euler", nfe, 0);
  for (std::size_t nfe : {4, 8, 16, 32, 64}) row(flow_model, "flow", "heun", nfe / 2, 0);
  for (std::size_t nfe : {4, 8, 16, 32, 64}) row(flow_model, "flow", "rk4", nfe / 4, 0);
  for (double tol : {1e-1, 1e-2, 1e-3}) row(flow_model, "flow", "dopri5", 1, tol);
  for (std::size_t nfe : {4, 8, 16, 32, 64}) row(eps_model, "eps", "euler", nfe, 0);
  for (std::string_view s : {"ddim", "dpmpp-2m", "unipc"})
    for (std::size_t nfe : {4, 8, 16, 32, 64}) row(eps_model, "eps", s, nfe, 0);
  for (double tol : {1e-2, 1e-3}) row(eps_model, "eps", "dopri5", 1, tol);
  std::printf("heap allocations inside all %zu model calls: %zu\n", calls, allocs);
  if (!o.out.empty()) {
    ferry::io::write_file_atomically(o.out, md);
    std::printf("wrote %s\n", o.out.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  cpu_counter().base = c10::GetCPUAllocator();
  c10::SetCPUAllocator(&cpu_counter(), 1);  // counts tensor storage (run_with reports it)
  CLI::App app{"trained_flow: train a flow-matching and an eps model with libtorch, sample them with ferry"};
  app.name("trained_flow");
  app.require_subcommand(1);
  using ferry::cli::count_in;
  const CLI::Validator positive(
      [](std::string& v) -> std::string {
        double x = 0;
        std::size_t used = 0;
        try {
          x = std::stod(v, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == v.size() && used > 0 && std::isfinite(x) && x > 0) return {};
        return "expected a finite number > 0, got \"" + v + "\"";
      },
      "X>0");

  train_options t;
  CLI::App* tr = app.add_subcommand("train", "train both models on the checkerboard; writes DIR/flow.pt and DIR/eps.pt");
  tr->add_option("--out", t.out, "directory for the weights (created if missing)")->capture_default_str();
  tr->add_option("--steps", t.steps, "Adam steps per model")->check(count_in(1, 1000000))->capture_default_str();
  tr->add_option("--batch", t.batch, "points per step")->check(count_in(1, 1 << 20))->capture_default_str();
  tr->add_option("--width", t.width, "hidden units per layer")->check(count_in(1, 4096))->capture_default_str();
  tr->add_option("--depth", t.depth, "hidden layers")->check(count_in(1, 16))->capture_default_str();
  tr->add_option("--lr", t.lr, "Adam's peak learning rate (cosine decay to 0)")->check(positive)->capture_default_str();
  tr->add_option("--seed", t.seed, "data and initialisation seed")->capture_default_str();
  tr->add_option("--threads", t.threads, "torch threads (the machine may be shared)")->check(count_in(1, 256))->capture_default_str();
  tr->callback([&] { train(t); });

  sample_options s;
  CLI::App* sa = app.add_subcommand("sample", "sample one model with one solver; prints NFE and the energy distance");
  sa->add_option("--weights", s.weights, "a weights file from `train` (DIR/flow.pt or DIR/eps.pt)")->required();
  sa->add_option("--solver", s.solver, "euler heun rk4 dopri5 (both models), ddim dpmpp-2m unipc (eps)")->capture_default_str();
  sa->add_option("--steps", s.steps, "solver steps (dopri5: grid intervals)")->check(count_in(1, 100000))->capture_default_str();
  sa->add_option("--tol", s.tol, "dopri5's rtol = atol")->check(positive)->capture_default_str();
  sa->add_option("--n", s.n, "samples (and held-out points)")->check(count_in(2, 100000))->capture_default_str();
  sa->add_option("--seed", s.seed, "initial-noise seed")->capture_default_str();
  sa->add_option("--data-seed", s.data_seed, "held-out data seed")->capture_default_str();
  sa->add_option("--threads", s.threads, "torch threads")->check(count_in(1, 256))->capture_default_str();
  sa->add_option("--out", s.out, "write the samples as an N x 2 float32 .npy");
  sa->callback([&] { sample_cmd(s); });

  table_options tb;
  CLI::App* ta = app.add_subcommand("table", "energy distance against NFE for every solver (the README's table)");
  ta->add_option("--weights", tb.weights, "the directory `train --out` wrote")->capture_default_str();
  ta->add_option("--n", tb.n, "samples per run (and held-out points)")->check(count_in(2, 100000))->capture_default_str();
  ta->add_option("--seed", tb.seed, "initial-noise seed")->capture_default_str();
  ta->add_option("--data-seed", tb.data_seed, "held-out data seed")->capture_default_str();
  ta->add_option("--threads", tb.threads, "torch threads")->check(count_in(1, 256))->capture_default_str();
  ta->add_option("--out", tb.out, "also write the markdown table here");
  ta->callback([&] { table_cmd(tb); });

  using ferry::detail::escape;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::string line = ferry::cli::parse_error_line(app, e);  // "ferry: … (see 'ferry … --help')"
    line.replace(0, 5, "trained_flow");
    if (const std::size_t p = line.rfind("(see 'ferry"); p != std::string::npos) line.replace(p + 6, 5, "trained_flow");
    std::cerr << line << "\n";
    return 2;
  } catch (const ferry::error& e) {
    std::cerr << "trained_flow: " << escape(e.what()) << "\n";
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "trained_flow: torch: " << escape(e.what_without_backtrace()) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "trained_flow: internal error: " << escape(e.what()) << "\n";
    return 1;
  }
  return 0;
}
