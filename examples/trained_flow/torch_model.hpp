#pragma once
// A libtorch MLP as a ferry model (core/concepts.hpp: `predicts` and operator()(x, level, out)).
//
// The network maps (x, t) ∈ R^D × [0, 1] to R^D: `depth` hidden layers of `width` SiLU units and a
// linear read-out. Trained as a flow-matching velocity (process `flow`, predicts velocity
// dx/dt = ε − x0) or as an ε-prediction (process `vp_linear`, predicts epsilon); ferry's pf_ode
// converts its answer to whatever a solver asks for (core/prediction.hpp).
//
// Allocation: a call copies x and t into a preallocated input tensor, runs every layer with
// torch's out= kernels into preallocated activations (addmm_out with a bias pre-expanded to the
// batch, then silu_ in place) and copies the read-out into ferry's `out`. It allocates only when
// the number of rows changes (the driver passes the same N at every call, so after the first
// call of a run: never). Wrapping ferry's buffers with torch::from_blob instead would allocate a
// TensorImpl for x and for out at every call, so the wrapper copies N×D floats twice instead.
// `trained_flow sample` counts operator new and c10's CPU allocator during sampling and prints it.
#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ferry/core/batch.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/io/atomic_file.hpp"
#include "ferry/io/read_file.hpp"

namespace trained_flow {

/// What a weights file holds besides the parameters: the prediction kind and the shape.
struct net_spec {
  ferry::prediction predicts = ferry::prediction::velocity;
  std::int64_t dim = 2, width = 128, depth = 3;
};

/// Linear(D+1, W), SiLU, (Linear(W, W), SiLU) × (depth − 1), Linear(W, D).
inline torch::nn::Sequential make_net(const net_spec& s) {
  torch::nn::Sequential net;
  std::int64_t in = s.dim + 1;
  for (std::int64_t l = 0; l < s.depth; ++l) {
    net->push_back(torch::nn::Linear(in, s.width));
    net->push_back(torch::nn::SiLU());
    in = s.width;
  }
  net->push_back(torch::nn::Linear(in, s.dim));
  return net;
}

/// Writes the parameters and the spec through torch's archive (what torch::save writes, plus
/// one "ferry_spec" tensor), atomically: a failed write leaves no partial file.
inline void save_net(torch::nn::Sequential& net, const net_spec& s, const std::string& path) {
  torch::serialize::OutputArchive archive;
  net->save(archive);
  archive.write("ferry_spec", torch::tensor({std::int64_t(s.predicts), s.dim, s.width, s.depth}, torch::kInt64));
  std::string bytes;
  archive.save_to([&bytes](const void* p, std::size_t n) {
    bytes.append(static_cast<const char*>(p), n);
    return n;
  });
  ferry::io::write_file_atomically(path, bytes);
}

/// Reads a file written by save_net; io_error naming the file when it is missing, not a torch
/// archive, or not one of this example's networks.
inline torch::nn::Sequential load_net(const std::string& path, net_spec& s) {
  using ferry::detail::cat;
  const std::string bytes = ferry::io::read_file(path, "trained_flow weights (from `trained_flow train`)");
  const std::string name = ferry::detail::escape(path);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(bytes.data(), bytes.size());
  } catch (const c10::Error& e) {
    throw ferry::io_error(cat(name, ": not a torch archive (", e.what_without_backtrace(), ")"));
  }
  torch::Tensor spec;
  if (!archive.try_read("ferry_spec", spec) || spec.numel() != 4 || spec.scalar_type() != torch::kInt64)
    throw ferry::io_error(cat(name, ": a torch archive without trained_flow's \"ferry_spec\"; write it with `trained_flow train`"));
  const auto* v = spec.data_ptr<std::int64_t>();
  if ((v[0] != std::int64_t(ferry::prediction::velocity) && v[0] != std::int64_t(ferry::prediction::epsilon)) ||
      v[1] < 1 || v[1] > 64 || v[2] < 1 || v[2] > 4096 || v[3] < 1 || v[3] > 16)
    throw ferry::io_error(cat(name, ": \"ferry_spec\" = [", v[0], ", ", v[1], ", ", v[2], ", ", v[3],
                              "] is not a prediction kind, dimension, width and depth this example writes"));
  s = {ferry::prediction(v[0]), v[1], v[2], v[3]};
  torch::nn::Sequential net = make_net(s);
  try {
    net->load(archive);
  } catch (const c10::Error& e) {
    throw ferry::io_error(cat(name, ": the parameters do not fit the network in \"ferry_spec\" (",
                              e.what_without_backtrace(), ")"));
  }
  return net;
}

/// The trained network as a ferry model over float states.
class torch_model {
 public:
  ferry::prediction predicts;

  torch_model(torch::nn::Sequential net, const net_spec& s) : predicts(s.predicts), net_(std::move(net)), dim_(s.dim) {
    for (const auto& m : net_->children())
      if (auto* lin = m->as<torch::nn::Linear>()) {
        weight_t_.push_back(lin->weight.detach().t());  // a view: addmm reads it transposed, no copy
        bias_.push_back(lin->bias.detach());
      }
    act_.resize(weight_t_.size() + 1);
    bias_rows_.resize(bias_.size());
  }

  std::size_t dim() const { return std::size_t(dim_); }

  /// out = net(x, t) for every row of x (N × D) at the level's time t.
  void operator()(ferry::const_batch_view<float> x, const ferry::level<float>& lv, ferry::batch_view<float> out) {
    if (x.cols != std::size_t(dim_) || out.rows != x.rows || out.cols != x.cols)
      throw ferry::shape_error(ferry::detail::cat("torch_model: x is ", x.rows, "x", x.cols, " and out ", out.rows, "x",
                                                  out.cols, "; the network maps N x ", dim_, " to N x ", dim_));
    c10::InferenceMode guard;  // no autograd records, no version counters
    if (x.rows != rows_) resize(x.rows);
    const std::size_t d = x.cols, in = d + 1;
    float* a = act_[0].data_ptr<float>();
    for (std::size_t i = 0; i < x.rows; ++i) {
      for (std::size_t j = 0; j < d; ++j) a[i * in + j] = x(i, j);
      a[i * in + d] = lv.t;
    }
    const std::size_t layers = weight_t_.size();
    for (std::size_t l = 0; l < layers; ++l) {
      at::addmm_out(act_[l + 1], bias_rows_[l], act_[l], weight_t_[l]);  // b + h·Wᵀ
      if (l + 1 < layers) at::silu_(act_[l + 1]);
    }
    const float* y = act_.back().data_ptr<float>();
    std::copy(y, y + out.size(), out.data);
  }

 private:
  void resize(std::size_t rows) {
    if (rows == 0) throw ferry::shape_error("torch_model: a batch needs at least one row");
    const auto n = std::int64_t(rows);
    act_[0] = torch::empty({n, dim_ + 1});
    for (std::size_t l = 0; l < weight_t_.size(); ++l) {
      act_[l + 1] = torch::empty({n, weight_t_[l].size(1)});
      bias_rows_[l] = bias_[l].expand({n, weight_t_[l].size(1)});
    }
    rows_ = rows;
  }

  torch::nn::Sequential net_;  // owns the parameters the views below read
  std::int64_t dim_;
  std::vector<torch::Tensor> weight_t_, bias_, bias_rows_, act_;
  std::size_t rows_ = 0;
};

}  // namespace trained_flow
