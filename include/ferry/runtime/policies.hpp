#pragma once
// Every solver policy the run-time registry can build, by family: the list that is explicitly
// instantiated once per scalar type on runtime_problem<T> (run_policy), and declared `extern
// template` where FERRY_RUNTIME_LIBRARY is defined (the `ferry::runtime` CMake target defines it and
// compiles one TU per family and type: cmake/ferry_runtime.cmake). Without the library the same
// code is instantiated implicitly where it is used, as everywhere else in ferry.
//
// Adding a policy: include its header here, add it to its family's list (a type with a template
// argument list of more than one parameter gets an alias below, since a macro argument cannot hold
// a comma), and give it a name in runtime/registry.hpp.
#include "ferry/runtime/problem.hpp"
#include "ferry/solvers/ode/ddim.hpp"
#include "ferry/solvers/ode/deis.hpp"
#include "ferry/solvers/ode/dopri5.hpp"
#include "ferry/solvers/ode/dpmpp_2s.hpp"
#include "ferry/solvers/ode/dpmpp_multistep.hpp"
#include "ferry/solvers/ode/euler.hpp"
#include "ferry/solvers/ode/heun.hpp"
#include "ferry/solvers/ode/lms.hpp"
#include "ferry/solvers/ode/midpoint.hpp"
#include "ferry/solvers/ode/rk4.hpp"
#include "ferry/solvers/ode/unipc.hpp"
#include "ferry/solvers/sde/ancestral.hpp"
#include "ferry/solvers/sde/consistency.hpp"
#include "ferry/solvers/sde/dpmpp_2s_ancestral.hpp"
#include "ferry/solvers/sde/dpmpp_multistep_sde.hpp"
#include "ferry/solvers/sde/dpmpp_sde.hpp"
#include "ferry/solvers/sde/edm_churn.hpp"
#include "ferry/solvers/sde/euler_maruyama.hpp"
#include "ferry/solvers/sde/pc_langevin.hpp"

namespace ferry::policy {
template <class T> using euler_churn = edm_churn<euler<T>, T>;
template <class T> using heun_churn = edm_churn<heun<T>, T>;
template <class T> using dpmpp_1 = dpmpp_multistep<1, T>;
template <class T> using dpmpp_2 = dpmpp_multistep<2, T>;
template <class T> using dpmpp_3 = dpmpp_multistep<3, T>;
template <class T> using dpmpp_sde_1 = dpmpp_multistep_sde<1, T>;
template <class T> using dpmpp_sde_2 = dpmpp_multistep_sde<2, T>;
template <class T> using dpmpp_sde_3 = dpmpp_multistep_sde<3, T>;
template <class T> using unipc_1 = unipc<1, T>;
template <class T> using unipc_2 = unipc<2, T>;
template <class T> using unipc_3 = unipc<3, T>;
template <class T> using deis_1 = deis<1, T>;
template <class T> using deis_2 = deis<2, T>;
template <class T> using deis_3 = deis<3, T>;
template <class T> using lms_1 = lms<1, T>;
template <class T> using lms_2 = lms<2, T>;
template <class T> using lms_3 = lms<3, T>;
template <class T> using lms_4 = lms<4, T>;
template <class T> using lcm = multistep_consistency<lcm_boundary, T>;
template <class T> using tcd = multistep_consistency<tcd_landing<T>, T>;
}  // namespace ferry::policy

// The families: X(policy type, scalar type) for each member.
#define FERRY_POLICIES_RK(X, T)                                                                                     \
  X(::ferry::euler<T>, T) X(::ferry::heun<T>, T) X(::ferry::midpoint<T>, T) X(::ferry::rk4<T>, T) X(::ferry::dopri5<T>, T) \
  X(::ferry::policy::euler_churn<T>, T) X(::ferry::policy::heun_churn<T>, T)
#define FERRY_POLICIES_DPM(X, T)                                                                                  \
  X(::ferry::ddim<T>, T) X(::ferry::policy::dpmpp_1<T>, T) X(::ferry::policy::dpmpp_2<T>, T) X(::ferry::policy::dpmpp_3<T>, T) \
  X(::ferry::dpmpp_2s<T>, T)
#define FERRY_POLICIES_MULTISTEP(X, T)                                                                          \
  X(::ferry::policy::unipc_1<T>, T) X(::ferry::policy::unipc_2<T>, T) X(::ferry::policy::unipc_3<T>, T)          \
  X(::ferry::policy::deis_1<T>, T) X(::ferry::policy::deis_2<T>, T) X(::ferry::policy::deis_3<T>, T)             \
  X(::ferry::policy::lms_1<T>, T) X(::ferry::policy::lms_2<T>, T) X(::ferry::policy::lms_3<T>, T) X(::ferry::policy::lms_4<T>, T)
#define FERRY_POLICIES_ANCESTRAL(X, T) \
  X(::ferry::ancestral<T>, T) X(::ferry::policy::lcm<T>, T) X(::ferry::policy::tcd<T>, T)
#define FERRY_POLICIES_SDE(X, T)                                                                                     \
  X(::ferry::euler_maruyama<T>, T) X(::ferry::pc_langevin<T>, T) X(::ferry::dpmpp_sde<T>, T)                        \
  X(::ferry::policy::dpmpp_sde_1<T>, T) X(::ferry::policy::dpmpp_sde_2<T>, T) X(::ferry::policy::dpmpp_sde_3<T>, T) \
  X(::ferry::dpmpp_2s_ancestral<T>, T)
// Every family, by its macro's suffix (cmake/ferry_runtime.cmake lists the same names).
#define FERRY_POLICY_FAMILIES(F) F(RK) F(DPM) F(MULTISTEP) F(ANCESTRAL) F(SDE)

// run_policy of one policy: the declaration (extern) and the definition (in the library's TUs).
#define FERRY_RUNTIME_SIGNATURE(P, T)                                                                   \
  ::ferry::sample_stats ferry::run_policy<P, T>(P&, ::ferry::runtime_problem<T>&, const ::ferry::schedule<T>&, \
                                               ::ferry::batch_view<T>, ::ferry::observer_ref<T>, const ::ferry::sample_options&);
#define FERRY_RUNTIME_EXTERN(P, T) extern template FERRY_RUNTIME_SIGNATURE(P, T)
#define FERRY_RUNTIME_INSTANTIATE(P, T) template FERRY_RUNTIME_SIGNATURE(P, T)

#ifdef FERRY_RUNTIME_LIBRARY
#define FERRY_RUNTIME_EXTERN_FAMILY(F) FERRY_POLICIES_##F(FERRY_RUNTIME_EXTERN, double) FERRY_POLICIES_##F(FERRY_RUNTIME_EXTERN, float)
FERRY_POLICY_FAMILIES(FERRY_RUNTIME_EXTERN_FAMILY)
#undef FERRY_RUNTIME_EXTERN_FAMILY
#endif
