#pragma once
// ferry::error and its subclasses: every exception ferry throws derives from ferry::error, and its
// message is one line naming where, what was given and what is accepted.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ferry {

struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// A configuration key or option with a bad or unsupported value.
struct config_error : error { using error::error; };
/// A batch, array or file whose shape does not fit.
struct shape_error : error { using error::error; };
/// A file that cannot be read, written or parsed.
struct io_error : error { using error::error; };
/// A numeric argument outside the domain where the formula is defined.
struct domain_error : error { using error::error; };
/// A non-finite value produced while sampling.
struct numeric_error : error { using error::error; };

namespace detail {
/// Concatenates its arguments with operator<< (GCC 12 has no <format>).
template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  os.precision(17);
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace ferry
