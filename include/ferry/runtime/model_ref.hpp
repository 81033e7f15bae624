#pragma once
// A reference to any model, for code compiled once per scalar type (the run-time registry): one
// indirect call per evaluation of a whole batch (or row chunk), never per row or element. The model
// must outlive the reference; `predicts` is read when the reference is made.
#include <memory>
#include <type_traits>

#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/level.hpp"
#include "ferry/core/prediction.hpp"

namespace ferry {

template <class T>
class model_ref {
 public:
  prediction predicts = prediction::data;

  template <class M>
    requires(!std::is_same_v<std::remove_cvref_t<M>, model_ref> && model<M, T>)
  model_ref(M& m)  // NOLINT: implicit by design
      : predicts(m.predicts), self_(const_cast<void*>(static_cast<const void*>(std::addressof(m)))), call_([](void* self, const_batch_view<T> x, const level<T>& lv, batch_view<T> out) {
          (*static_cast<M*>(self))(x, lv, out);
        }) {}

  void operator()(const_batch_view<T> x, const level<T>& lv, batch_view<T> out) const { call_(self_, x, lv, out); }

 private:
  void* self_;
  void (*call_)(void*, const_batch_view<T>, const level<T>&, batch_view<T>);
};

}  // namespace ferry
