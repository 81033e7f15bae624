# examples/trained_flow end to end (only where libtorch is installed): a short training, then
# sampling through ferry with the sample's model calls allocation-free, and a missing weights file
# refused with one line and exit code 2.
file(REMOVE_RECURSE ${WORK}/trained_flow)
execute_process(COMMAND ${TRAINED_FLOW} train --out ${WORK}/trained_flow --steps 300 --width 32 --depth 2 --threads 1
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/trained_flow/flow.pt OR NOT EXISTS ${WORK}/trained_flow/eps.pt)
  message(FATAL_ERROR "train failed (${rc}): ${out}${err}")
endif()
foreach(run "flow.pt;heun" "eps.pt;dpmpp-2m")
  list(GET run 0 weights)
  list(GET run 1 solver)
  execute_process(COMMAND ${TRAINED_FLOW} sample --weights ${WORK}/trained_flow/${weights} --solver ${solver} --steps 8 --n 500
                          --out ${WORK}/trained_flow/x.npy
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "energy distance" OR NOT out MATCHES ": 0 operator new, 0 tensor storage")
    message(FATAL_ERROR "sample ${weights} ${solver} (${rc}): ${out}${err}")
  endif()
endforeach()
execute_process(COMMAND ${TRAINED_FLOW} sample --weights ${WORK}/trained_flow/nope.pt
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "^trained_flow: .*nope.pt")
  message(FATAL_ERROR "a missing weights file gave (${rc}): ${out}${err}")
endif()
