// libFuzzer harness: ferry::io::parse_npy on arbitrary bytes. It must return an array whose
// element count matches its shape, or throw a ferry::error with a clean one-line message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ferry/io/npy.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const ferry::io::npy_array a = ferry::io::parse_npy(std::string_view(reinterpret_cast<const char*>(data), size), "f.npy");
    std::size_t n = 1;
    for (std::size_t d : a.shape) n *= d;
    if (n != a.size()) std::abort();
    if (a.ndim() == 2 && (a.dtype() == ferry::io::npy_dtype::f4 || a.dtype() == ferry::io::npy_dtype::f8))
      (void)a.as_batch<double>();
  } catch (const ferry::error& e) {
    ferry_fuzz::require_clean(e.what());
  }
  return 0;
}
