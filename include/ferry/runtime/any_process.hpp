#pragma once
// A noise process chosen at run time: any type of the noise_process concept behind one small
// interface, for programs that pick the process from their input (the CLI, the demo, config files).
// A solver asks a process for a handful of levels per step, so the virtual calls cost nothing next
// to a model evaluation; the results are the concrete process's own, bit for bit.
#include <memory>
#include <type_traits>

#include "ferry/core/concepts.hpp"

namespace ferry {

template <class T>
class any_process {
 public:
  using value_type = T;

  template <noise_process P>
    requires(!std::is_same_v<std::remove_cvref_t<P>, any_process> && std::is_same_v<typename P::value_type, T>)
  any_process(const P& p) : self_(std::make_shared<const holder<P>>(p)) {}  // NOLINT: implicit by design

  T alpha(T t) const { return self_->alpha(t); }
  T sigma(T t) const { return self_->sigma(t); }
  T d_alpha(T t) const { return self_->d_alpha(t); }
  T d_sigma(T t) const { return self_->d_sigma(t); }
  T lambda(T t) const { return self_->lambda(t); }
  T t_of_lambda(T l) const { return self_->t_of_lambda(l); }
  T t_min() const { return self_->t_min(); }
  T t_max() const { return self_->t_max(); }

 private:
  struct base {
    virtual ~base() = default;
    virtual T alpha(T) const = 0;
    virtual T sigma(T) const = 0;
    virtual T d_alpha(T) const = 0;
    virtual T d_sigma(T) const = 0;
    virtual T lambda(T) const = 0;
    virtual T t_of_lambda(T) const = 0;
    virtual T t_min() const = 0;
    virtual T t_max() const = 0;
  };
  template <class P>
  struct holder final : base {
    explicit holder(const P& p) : p(p) {}
    T alpha(T t) const override { return p.alpha(t); }
    T sigma(T t) const override { return p.sigma(t); }
    T d_alpha(T t) const override { return p.d_alpha(t); }
    T d_sigma(T t) const override { return p.d_sigma(t); }
    T lambda(T t) const override { return p.lambda(t); }
    T t_of_lambda(T l) const override { return p.t_of_lambda(l); }
    T t_min() const override { return p.t_min(); }
    T t_max() const override { return p.t_max(); }
    P p;
  };
  std::shared_ptr<const base> self_;  // immutable: copies share it
};

}  // namespace ferry
