#pragma once

namespace ferry {
inline constexpr int version_major = 0, version_minor = 1, version_patch = 0;
inline constexpr const char* version_string = "0.1.0";
}  // namespace ferry
