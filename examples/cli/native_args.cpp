// The process and grid flags (native_args.hpp) turned into library objects.
#include "native_args.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "ferry/core/error.hpp"
#include "ferry/grid/grid_kind.hpp"
#include "ferry/io/npy.hpp"

namespace ferry::cli {

template <class T>
native_process<T> make_process(const native_args& a) {
  const bool table_flags = a.beta_schedule != "scaled_linear" || a.beta_start != 0.00085 || a.beta_end != 0.012;
  if (a.process != "discrete-vp" && table_flags)
    throw config_error(detail::cat("--beta-schedule, --beta-start and --beta-end describe a discrete-vp table; --process is ", a.process));
  if (a.num_train_timesteps && a.process != "discrete-vp" && a.process != "flow")
    throw config_error(detail::cat("--num-train-timesteps sets the table of discrete-vp or flow; --process is ", a.process));
  if (a.shift != 1 && a.process != "flow")
    throw config_error(detail::cat("--shift is a flow's time shift; --process is ", a.process));
  if (a.process == "vp-linear") return vp_linear<T>{};
  if (a.process == "vp-cosine") return vp_cosine<T>{};
  if (a.process == "ve") return ve<T>{};
  if (a.process == "edm") return edm<T>{};
  if (a.process == "flow") return a.num_train_timesteps ? flow<T>::discrete(T(a.shift), *a.num_train_timesteps) : flow<T>(T(a.shift));
  if (a.process == "discrete-vp") {
    const beta_schedule b = parse_beta_schedule(a.beta_schedule);
    if (b == beta_schedule::exp)
      throw config_error("--beta-schedule exp is HeunDiscreteScheduler's alpha_transform_type, not a model table; expected linear, "
                         "scaled_linear or squaredcos_cap_v2");
    return discrete_vp<T>::comfy(b, a.num_train_timesteps.value_or(1000), a.beta_start, a.beta_end);
  }
  throw config_error(detail::cat("--process \"", detail::escape(a.process), "\" is unknown",
                                 detail::did_you_mean(a.process, {"vp-linear", "vp-cosine", "ve", "edm", "flow", "discrete-vp"}),
                                 "; expected vp-linear, vp-cosine, ve, edm, flow or discrete-vp"));
}

template <class T>
grid_spec<T> make_grid_spec(const native_args& a, std::size_t steps) {
  auto opt = [](const std::optional<double>& v) { return v ? std::optional<T>(T(*v)) : std::nullopt; };
  grid_spec<T> spec{.kind = parse_grid_kind(a.grid), .steps = steps};
  spec.rho = opt(a.rho);
  spec.t_min = opt(a.t_min), spec.t_max = opt(a.t_max), spec.sigma_min = opt(a.sigma_min), spec.sigma_max = opt(a.sigma_max);
  spec.final_zero = a.final_zero;
  spec.alpha = opt(a.alpha), spec.beta = opt(a.beta), spec.coeff = opt(a.coeff);
  spec.beta_d = opt(a.beta_d), spec.beta_min = opt(a.beta_min), spec.eps_s = opt(a.eps_s);
  return spec;
}

std::vector<double> read_sigmas(const std::string& path) {
  const io::npy_array s = io::read_npy(path);
  if (s.ndim() != 1) throw shape_error(detail::cat(path, ": sigmas must be 1-D, got ", s.ndim(), " dimensions"));
  if (s.dtype() != io::npy_dtype::f8) throw io_error(detail::cat(path, ": sigmas must be float64, got ", io::npy_descr(s.dtype())));
  std::vector<double> v = s.as<double>();
  if (v.size() < 2) throw config_error(detail::cat(path, ": sigmas has ", v.size(), " entries; a run needs at least 2"));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const bool last = i + 1 == v.size();
    if (!std::isfinite(v[i]) || v[i] < 0 || (v[i] == 0 && !last))
      throw config_error(detail::cat(path, ": sigmas entry ", i, " is ", v[i], "; expected finite values > 0 (only the last may be 0)"));
    if (i > 0 && !(v[i] < v[i - 1]))
      throw config_error(detail::cat(path, ": sigmas must decrease strictly, but entry ", i, " (", v[i], ") ",
                                     v[i] == v[i - 1] ? "repeats" : "is above", " entry ", i - 1, " (", v[i - 1], ")"));
  }
  return v;
}

template native_process<double> make_process<double>(const native_args&);
template native_process<float> make_process<float>(const native_args&);
template grid_spec<double> make_grid_spec<double>(const native_args&, std::size_t);
template grid_spec<float> make_grid_spec<float>(const native_args&, std::size_t);

}  // namespace ferry::cli
