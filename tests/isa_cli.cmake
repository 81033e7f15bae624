# Every SIMD path this CPU runs gives the same output bytes through the CLI (issue 21): every solver
# `ferry sample` names (float64 and float32), the issue-9 diffusers job, every discrete sampler and
# `ferry likelihood` (exact and Hutchinson), each run under FERRY_ISA=sse2, avx2 and avx512 where the
# CPU has them, the files compared byte for byte with the sse2 run's. Also: `ferry version` names
# the path it runs, and a path the CPU lacks or a misspelt one is refused with exit code 2.
#
#   cmake -DFERRY=<ferry> -DDATA=<tests/data> -DWORK=<scratch dir> -P tests/isa_cli.cmake
cmake_minimum_required(VERSION 3.25)
foreach(v FERRY DATA WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "isa_cli.cmake: pass -D${v}=...")
  endif()
endforeach()
set(dir ${WORK}/isa_cli)
file(REMOVE_RECURSE ${dir})
file(MAKE_DIRECTORY ${dir})
set(gmm ${DATA}/diffusion/gmm.json)

# Runs the CLI with FERRY_ISA=isa; fails the test on a non-zero exit.
function(ferry_run isa)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env FERRY_ISA=${isa} ${FERRY} ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "FERRY_ISA=${isa} ferry ${cmd}: exit ${rc}: ${err}")
  endif()
endfunction()

# The paths: `ferry version` prints exactly "simd: <path>" on its own line, or refuses with exit 2.
set(paths)
foreach(isa sse2 avx2 avx512)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env FERRY_ISA=${isa} ${FERRY} version
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    if(NOT out MATCHES "\nsimd: ${isa}\n$")
      message(FATAL_ERROR "FERRY_ISA=${isa} ferry version printed '${out}', expected a line 'simd: ${isa}'")
    endif()
    list(APPEND paths ${isa})
  elseif(rc EQUAL 2 AND err MATCHES "^ferry: FERRY_ISA=${isa}: this CPU cannot run the ${isa} path[^\n]*\n$")
    message(STATUS "this CPU has no ${isa} path: ${err}")
  else()
    message(FATAL_ERROR "FERRY_ISA=${isa} ferry version: exit ${rc}, stderr '${err}'")
  endif()
endforeach()
if(NOT "sse2" IN_LIST paths)
  message(FATAL_ERROR "the sse2 path must run on any x86-64")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E env FERRY_ISA=avx1024 ${FERRY} version RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "^ferry: FERRY_ISA=avx1024: not an instruction set")
  message(FATAL_ERROR "FERRY_ISA=avx1024: exit ${rc}, stderr '${err}'; expected exit 2 and one line")
endif()
list(REMOVE_ITEM paths sse2)
message(STATUS "comparing the paths ${paths} with sse2")

# The names, from the CLI's own refusal of an unknown one.
execute_process(COMMAND ${FERRY} sample --model gmm:${gmm} --solver no-such-solver --steps 2 --num-samples 1 --out ${dir}/x.npy
                ERROR_VARIABLE err)
string(REGEX MATCH "expected one of ([^\n]*)" _ "${err}")
string(REPLACE ", " ";" solvers "${CMAKE_MATCH_1}")
execute_process(COMMAND ${FERRY} sample-discrete --model mixture:${DATA}/discrete/mixture.json --sampler no-such-sampler
                        --steps 2 --num-samples 1 --out ${dir}/t.npy ERROR_VARIABLE err)
string(REGEX MATCH "expected ([^\n]*)" _ "${err}")
string(REGEX REPLACE ",? or |, " ";" samplers "${CMAKE_MATCH_1}")
list(LENGTH solvers ns)
list(LENGTH samplers nd)
if(ns LESS 20 OR nd LESS 5)
  message(FATAL_ERROR "could not read the sampler names (${ns} solvers: ${solvers}; ${nd} discrete: ${samplers})")
endif()

# The runs: name -> arguments (with OUT standing for the output file).
set(runs)
foreach(s IN LISTS solvers)
  foreach(dtype float64 float32)
    list(APPEND runs "sample_${s}_${dtype}")
    set(args_sample_${s}_${dtype} sample --model gmm:${gmm} --solver ${s} --steps 7 --num-samples 333 --seed 5
        --threads 2 --dtype ${dtype} --out OUT)
    if(s MATCHES "^sa-solver")  # EDM has no sigma table for ComfyUI's noise interval: SD1's
      list(APPEND args_sample_${s}_${dtype} --sde-start-sigma 5.0924 --sde-end-sigma 0.5712)
    endif()
  endforeach()
endforeach()
file(WRITE ${dir}/dpm.json [=[{"_class_name": "DPMSolverMultistepScheduler", "beta_schedule": "scaled_linear",
  "beta_start": 0.00085, "beta_end": 0.012, "num_train_timesteps": 1000, "solver_order": 2,
  "algorithm_type": "dpmsolver++", "prediction_type": "epsilon", "timestep_spacing": "linspace",
  "final_sigmas_type": "zero"}]=])
foreach(dtype float64 float32)
  list(APPEND runs "diffusers_${dtype}")
  set(args_diffusers_${dtype} sample --model gmm:${gmm} --scheduler-config ${dir}/dpm.json --steps 20 --num-samples 1001
      --seed 1 --threads 2 --dtype ${dtype} --out OUT)
endforeach()
foreach(s IN LISTS samplers)
  list(APPEND runs "discrete_${s}")
  set(args_discrete_${s} sample-discrete --model mixture:${DATA}/discrete/mixture.json --sampler ${s} --steps 6
      --num-samples 500 --seed 2 --threads 2 --out OUT)
endforeach()
ferry_run(sse2 sample --model gmm:${gmm} --solver dpmpp-2m --steps 10 --num-samples 200 --seed 9 --out ${dir}/points.npy)
list(APPEND runs likelihood_exact likelihood_hutchinson)
set(args_likelihood_exact likelihood --model gmm:${gmm} --data ${dir}/points.npy --process vp-linear --out OUT)
set(args_likelihood_hutchinson likelihood --model gmm:${gmm} --data ${dir}/points.npy --process vp-linear --hutchinson 2
    --seed 4 --out OUT)

foreach(run IN LISTS runs)
  set(ref ${dir}/${run}_sse2.npy)
  list(TRANSFORM args_${run} REPLACE "^OUT$" ${ref} OUTPUT_VARIABLE a)
  ferry_run(sse2 ${a})
  foreach(isa IN LISTS paths)
    set(f ${dir}/${run}_${isa}.npy)
    list(TRANSFORM args_${run} REPLACE "^OUT$" ${f} OUTPUT_VARIABLE a)
    ferry_run(${isa} ${a})
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${ref} ${f} RESULT_VARIABLE differ)
    if(differ)
      message(FATAL_ERROR "${run}: the ${isa} path's output ${f} differs from the sse2 path's ${ref}")
    endif()
  endforeach()
endforeach()
list(LENGTH runs n)
message(STATUS "${n} runs: the same bytes on sse2 and ${paths}")
