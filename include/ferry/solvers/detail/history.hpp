#pragma once
// The history of a multistep solver: the last N model outputs with the levels they were taken
// at, newest first. Buffers are sized in reset() and recycled by rotation (moves, never copies),
// so pushing a new entry neither allocates nor copies a batch.
#include <algorithm>
#include <array>
#include <cstddef>

#include "ferry/core/batch.hpp"
#include "ferry/core/level.hpp"
#include "ferry/driver/schedule.hpp"

namespace ferry::detail {

template <class T, std::size_t N>
class history {
 public:
  /// Sizes every buffer for states of shape e and forgets all entries.
  void reset(extent e) {
    for (auto& b : out_) b.resize(e);
    size_ = 0;
  }
  /// Makes the oldest buffer the newest entry, taken at `lv`, and returns it for the model to fill.
  batch<T>& push(const level<T>& lv) {
    std::rotate(out_.begin(), out_.end() - 1, out_.end());
    std::rotate(lv_.begin(), lv_.end() - 1, lv_.end());
    lv_[0] = lv;
    size_ = std::min(size_ + 1, N);
    return out_[0];
  }
  /// The i-th newest output (0 = the latest push).
  const batch<T>& operator[](std::size_t i) const { return out_[i]; }
  /// The level of the i-th newest output.
  const level<T>& at(std::size_t i) const { return lv_[i]; }
  std::size_t size() const { return size_; }

 private:
  std::array<batch<T>, N> out_;
  std::array<level<T>, N> lv_{};
  std::size_t size_ = 0;
};

/// diffusers' order rule for DPM-Solver and DEIS multistep: the order warms up with the history
/// (1, 2, 3 …); with lower_order_final and a run of fewer than 15 steps the last step is first
/// order and the one before at most second; `first_order` forces order 1 (a step to σ = 0,
/// euler_at_final).
template <class T>
int multistep_order(int max_order, std::size_t history_size, const step_span<T>& s, bool lower_order_final,
                    bool first_order = false) {
  const bool short_run = lower_order_final && s.count < 15;
  int k = std::min(max_order, int(history_size));
  if (first_order || (short_run && s.last())) k = 1;
  if (short_run && s.remaining() == 1) k = std::min(k, 2);
  return k;
}

}  // namespace ferry::detail
