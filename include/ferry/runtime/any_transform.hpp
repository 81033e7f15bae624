#pragma once
// A transform of the data prediction chosen at run time (none, clipping, dynamic thresholding): the
// Transform of pf_ode for code compiled once per scalar type. Empty, it is off and pf_ode takes the
// untransformed path, so a run without a transform has the same bits as with no_transform.
// Copies are deep (each row chunk owns its transform's scratch).
#include <memory>
#include <type_traits>
#include <utility>

#include "ferry/core/batch.hpp"

namespace ferry {

template <class T>
class any_transform {
 public:
  static constexpr bool active = true;  ///< pf_ode asks enabled() at run time

  any_transform() = default;
  template <class X>
    requires(!std::is_same_v<std::remove_cvref_t<X>, any_transform> && std::remove_cvref_t<X>::active)
  any_transform(X x) : self_(std::make_unique<holder<X>>(std::move(x))) {}  // NOLINT: implicit by design
  any_transform(const any_transform& o) : self_(o.self_ ? o.self_->clone() : nullptr) {}
  any_transform(any_transform&&) noexcept = default;
  any_transform& operator=(any_transform o) noexcept {
    self_ = std::move(o.self_);
    return *this;
  }

  bool enabled() const { return self_ != nullptr; }
  void reset(extent e) {
    if (self_) self_->reset(e);
  }
  void operator()(batch_view<T> x0) {
    if (self_) self_->apply(x0);
  }

 private:
  struct base {
    virtual ~base() = default;
    virtual std::unique_ptr<base> clone() const = 0;
    virtual void reset(extent) = 0;
    virtual void apply(batch_view<T>) = 0;
  };
  template <class X>
  struct holder final : base {
    explicit holder(X x) : x(std::move(x)) {}
    std::unique_ptr<base> clone() const override { return std::make_unique<holder>(x); }
    void reset(extent e) override { x.reset(e); }
    void apply(batch_view<T> v) override { x(v); }
    X x;
  };
  std::unique_ptr<base> self_;
};

}  // namespace ferry
