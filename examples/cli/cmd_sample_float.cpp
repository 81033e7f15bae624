// `ferry sample --dtype float32`: the float instantiation of the run (sample_run.hpp), in its own TU
// so that it compiles in parallel with the double one in cmd_sample.cpp.
#include <optional>

#include "ferry/io/npy.hpp"
#include "sample_run.hpp"

namespace ferry::cli {

template void run_sample_as<float>(const sample_options&, const std::optional<io::npy_array>&, io::npy_dtype);

}  // namespace ferry::cli
