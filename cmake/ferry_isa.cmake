# Run-time SIMD dispatch (issue 21) and the precompiled Gaussian-mixture oracle (issue 17).
#
# ferry_kernels_library(<name> SOURCE_DIR <dir> LINK <targets...>) creates the static library <name>:
#   <dir>/simd/kernels_sse2.cpp    the kernel table for SSE2     (-mno-avx)
#   <dir>/simd/kernels_avx2.cpp    the kernel table for AVX2     (-mavx2 -mno-avx512f)
#   <dir>/simd/kernels_avx512.cpp  the kernel table for AVX-512  (-mavx512f -mavx512dq -mavx512vl -mavx512bw)
#   <dir>/simd/dispatch.cpp        picks one table per process (CPU, or FERRY_ISA)
#   <dir>/models/gaussian_mixture_{float,double}.cpp  gaussian_mixture<float> and <double>, instantiated once
# every kernel TU with -ffp-contract=off (no fused multiply–add: the same bits on every path). Its
# users get FERRY_SIMD_DISPATCH (the headers call the kernels through the table) and
# FERRY_EXTERN_GAUSSIAN_MIXTURE (they do not instantiate the mixture themselves).
#
# In ferry's own build (this file included from the top-level CMakeLists.txt after the `ferry`
# target), every program that links ferry::ferry gets the library, unless -DFERRY_SIMD_DISPATCH=OFF
# or the target is not x86-64 (then the headers run the build's own xsimd arch, as for any
# header-only user). The installed package provides ferry_enable_dispatch(<target>) for users
# (docs/install.md).
include_guard(GLOBAL)

function(ferry_kernels_library name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "SOURCE_DIR" "LINK")
  set(isa_flags_sse2 -mno-avx)
  set(isa_flags_avx2 -mavx2 -mno-avx512f)
  set(isa_flags_avx512 -mavx512f -mavx512dq -mavx512vl -mavx512bw)
  set(objects)
  foreach(isa IN ITEMS sse2 avx2 avx512)
    add_library(${name}_${isa} OBJECT ${arg_SOURCE_DIR}/simd/kernels_${isa}.cpp)
    target_link_libraries(${name}_${isa} PRIVATE ${arg_LINK})
    # -O2 at least: unoptimised, xsimd's scalar helpers (constants, bit_cast) would be emitted as
    # functions compiled for this ISA that the linker may pick for the baseline code too.
    target_compile_options(${name}_${isa} PRIVATE ${isa_flags_${isa}} -ffp-contract=off $<$<CONFIG:Debug>:-O2>)
    # Likewise, a sanitizer keeps std and xsimd helpers out of line (and UBSan's function checks
    # emit their type info): the AVX objects build uninstrumented; the SSE2 one, which runs the same
    # kernel templates, keeps the sanitizers' checks.
    if(NOT isa STREQUAL "sse2" AND CMAKE_CXX_FLAGS MATCHES "-fsanitize=")
      target_compile_options(${name}_${isa} PRIVATE -fno-sanitize=all)
    endif()
    set_target_properties(${name}_${isa} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    list(APPEND objects $<TARGET_OBJECTS:${name}_${isa}>)
  endforeach()
  add_library(${name} STATIC ${arg_SOURCE_DIR}/simd/dispatch.cpp ${arg_SOURCE_DIR}/models/gaussian_mixture_float.cpp
              ${arg_SOURCE_DIR}/models/gaussian_mixture_double.cpp ${objects})
  target_link_libraries(${name} PRIVATE ${arg_LINK})
  target_compile_definitions(${name} PUBLIC FERRY_SIMD_DISPATCH=1 FERRY_EXTERN_GAUSSIAN_MIXTURE=1)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

function(ferry_isa_supported out)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$" AND CMAKE_SIZEOF_VOID_P EQUAL 8
     AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

# ---- ferry's own build ------------------------------------------------------------------------------
if(PROJECT_NAME STREQUAL "ferry" AND TARGET ferry AND NOT FERRY_ISA_INSTALLED)
  ferry_isa_supported(ferry_isa_ok)
  option(FERRY_SIMD_DISPATCH "Dispatch the SIMD kernels at run time in the programs ferry builds (x86-64)" ${ferry_isa_ok})
  if(FERRY_SIMD_DISPATCH AND NOT ferry_isa_ok)
    message(STATUS "ferry: run-time SIMD dispatch needs x86-64 with GCC or Clang; the kernels use the build's own arch")
    set(FERRY_SIMD_DISPATCH OFF)
  endif()
  if(FERRY_SIMD_DISPATCH)
    # ferry's usage requirements without ferry itself (which links the library back)
    add_library(ferry_isa_includes INTERFACE)
    target_include_directories(ferry_isa_includes INTERFACE ${PROJECT_SOURCE_DIR}/include ${FERRY_RANDOM123_INCLUDE_DIR})
    target_compile_features(ferry_isa_includes INTERFACE cxx_std_20)
    target_link_libraries(ferry_isa_includes INTERFACE Eigen3::Eigen xsimd nlohmann_json::nlohmann_json)
    if(TARGET ferry_warnings)
      target_link_libraries(ferry_isa_includes INTERFACE ferry_warnings)
    endif()
    ferry_kernels_library(ferry_kernels SOURCE_DIR ${PROJECT_SOURCE_DIR}/src LINK ferry_isa_includes)
    target_link_libraries(ferry INTERFACE $<BUILD_INTERFACE:ferry_kernels>)
  endif()
  # For users of the installed package: the sources and this file (ferry_enable_dispatch).
  install(FILES ${PROJECT_SOURCE_DIR}/src/simd/kernels_sse2.cpp ${PROJECT_SOURCE_DIR}/src/simd/kernels_avx2.cpp
                ${PROJECT_SOURCE_DIR}/src/simd/kernels_avx512.cpp ${PROJECT_SOURCE_DIR}/src/simd/dispatch.cpp
          DESTINATION ${CMAKE_INSTALL_DATADIR}/ferry/src/simd)
  install(FILES ${PROJECT_SOURCE_DIR}/src/models/gaussian_mixture_float.cpp ${PROJECT_SOURCE_DIR}/src/models/gaussian_mixture_double.cpp
          DESTINATION ${CMAKE_INSTALL_DATADIR}/ferry/src/models)
  install(FILES ${CMAKE_CURRENT_LIST_FILE} DESTINATION ${CMAKE_INSTALL_DATADIR}/cmake/ferry)
  return()
endif()

# ---- the installed package ---------------------------------------------------------------------------
# ferry_enable_dispatch(<target>): compile ferry's kernel tables and the mixture once (the library
# ferry_kernels, made on first use) and link them into <target>, whose calls then dispatch at run
# time. On a platform without the x86-64 paths it does nothing: the headers keep the build's arch.
set(FERRY_ISA_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/../../ferry/src")
function(ferry_enable_dispatch target)
  ferry_isa_supported(ok)
  if(NOT ok)
    message(STATUS "ferry_enable_dispatch(${target}): not x86-64 with GCC or Clang; the kernels use the build's own arch")
    return()
  endif()
  if(NOT TARGET ferry_kernels)
    ferry_kernels_library(ferry_kernels SOURCE_DIR ${FERRY_ISA_SOURCE_DIR} LINK ferry::ferry)
  endif()
  target_link_libraries(${target} PRIVATE ferry_kernels)
endfunction()
