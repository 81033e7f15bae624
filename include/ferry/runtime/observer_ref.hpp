#pragma once
// A reference to any step observer (or none), for code compiled once per scalar type: one indirect
// call per step. Inactive (the default) it lets the driver split rows over threads.
#include <memory>
#include <type_traits>

#include "ferry/driver/driver.hpp"

namespace ferry {

template <class T>
class observer_ref {
 public:
  observer_ref() = default;
  /// Watches with `o` (any callable on step_report<T>; an observer with active() false is off).
  template <class O>
    requires(!std::is_same_v<std::remove_cvref_t<O>, observer_ref> && std::is_invocable_v<O&, const step_report<T>&>)
  observer_ref(O& o)  // NOLINT: implicit by design
      : self_(const_cast<void*>(static_cast<const void*>(std::addressof(o)))), call_([](void* self, const step_report<T>& r) { (*static_cast<O*>(self))(r); }), active_(watching(o)) {}

  bool active() const { return active_; }
  void operator()(const step_report<T>& r) const {
    if (active_) call_(self_, r);
  }

 private:
  void* self_ = nullptr;
  void (*call_)(void*, const step_report<T>&) = nullptr;
  bool active_ = false;
};

}  // namespace ferry
