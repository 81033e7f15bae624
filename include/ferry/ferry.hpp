#pragma once
// ferry: generative sampling with ODEs, SDEs and CTMCs. Includes the whole library.
#include "ferry/core/batch.hpp"
#include "ferry/core/concepts.hpp"
#include "ferry/core/error.hpp"
#include "ferry/core/level.hpp"
#include "ferry/core/prediction.hpp"
#include "ferry/core/version.hpp"
#include "ferry/models/gaussian_mixture.hpp"
#include "ferry/simd/lincomb.hpp"
#include "ferry/solvers/driver.hpp"
#include "ferry/solvers/pf_ode.hpp"
#include "ferry/solvers/schedule.hpp"
