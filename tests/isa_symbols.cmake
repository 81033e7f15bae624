# The AVX2 and AVX-512 kernel objects define no function but their own arch's (issue 21): an inline
# function they compiled with their flags (a std:: or xsimd helper that is not a template on the
# arch) would be a weak symbol the linker may pick for the baseline code too, which then runs
# AVX-512 instructions on a CPU without them. Every global or weak symbol such an object defines
# must name its arch (xsimd::avx2, xsimd::avx512dq, table_avx2, ...).
#
#   cmake -DNM=<nm> -DOBJECTS="<kernels_avx2.cpp.o>;<kernels_avx512.cpp.o>" -P tests/isa_symbols.cmake
cmake_minimum_required(VERSION 3.25)
if(NOT NM OR NOT OBJECTS)
  message(FATAL_ERROR "isa_symbols.cmake: pass -DNM=... -DOBJECTS=...")
endif()
set(checked 0)
foreach(obj IN LISTS OBJECTS)
  if(NOT obj MATCHES "kernels_(avx2|avx512)\\.cpp\\.o(bj)?$")
    continue()
  endif()
  set(arch ${CMAKE_MATCH_1})
  execute_process(COMMAND ${NM} --defined-only -C ${obj} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} ${obj} failed")
  endif()
  string(REPLACE ";" "\\;" out "${out}")
  string(REPLACE "\n" ";" lines "${out}")
  set(n 0)
  foreach(line IN LISTS lines)
    # global (upper-case type) symbols only; the personality reference is the runtime's own
    if(NOT line MATCHES "^[0-9a-f]* [A-Z] (.*)$")
      continue()
    endif()
    set(symbol "${CMAKE_MATCH_1}")
    if(symbol MATCHES "^DW\\.ref\\.__gxx_personality_v0$")
      continue()
    endif()
    math(EXPR n "${n} + 1")
    if(NOT symbol MATCHES "${arch}")
      message(FATAL_ERROR "${obj} defines '${symbol}', which is not ${arch} code: the linker may use it for the "
                          "baseline path. Keep everything it compiles a template on the arch (simd/kernels.hpp).")
    endif()
  endforeach()
  if(n EQUAL 0)
    message(FATAL_ERROR "${obj} defines no ${arch} symbol: is it the kernel table's object?")
  endif()
  message(STATUS "${obj}: ${n} symbols, all ${arch}")
  math(EXPR checked "${checked} + 1")
endforeach()
if(checked EQUAL 0)
  message(FATAL_ERROR "no kernels_avx2/avx512 object among ${OBJECTS}")
endif()
