#pragma once
// Per-thread scratch for models that need a temporary the size of their input. Models are called
// concurrently from the driver's row chunks through one shared reference, so a member buffer would
// be a data race; a thread_local one is private to its thread and, once grown, never allocates
// again. Calls may nest (an adaptor whose inner model is another adaptor): each live call holds
// its own slot of the thread's stack of buffers.
#include <cstddef>
#include <memory>
#include <vector>

namespace ferry::detail {

template <class T>
class thread_scratch {
 public:
  /// Holds the calling thread's next free buffer, with at least n elements, until destroyed.
  explicit thread_scratch(std::size_t n) : slot_(depth()++) {
    auto& s = stack();
    if (s.size() <= slot_) s.resize(slot_ + 1);
    if (s[slot_].size() < n) s[slot_].resize(n);
    data_ = s[slot_].data();
  }
  ~thread_scratch() { --depth(); }
  thread_scratch(const thread_scratch&) = delete;
  thread_scratch& operator=(const thread_scratch&) = delete;

  T* data() const { return data_; }

 private:
  static std::vector<std::vector<T>>& stack() {
    thread_local std::vector<std::vector<T>> s;
    return s;
  }
  static std::size_t& depth() {
    thread_local std::size_t d = 0;
    return d;
  }
  std::size_t slot_;
  T* data_;
};

}  // namespace ferry::detail
