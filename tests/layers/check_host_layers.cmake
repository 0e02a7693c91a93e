# Checks the host's include rules (docs/decisions.md, "The host's layers"): compiles, for
# every layer, a probe that may see exactly the layers the picture allows below it and
# must not see any other. Run as: cmake -DCXX=... -DHOST_SOURCE=... -DLAYER_ROOT=... -P
#
#   common <- loader <- experiment <- train, report <- engine <- check <- cli
#   common <- scaffold <- cli
cmake_minimum_required(VERSION 3.25)
set(sees_common "")
set(sees_loader common)
set(sees_experiment common loader)
set(sees_train common loader experiment)
set(sees_report common loader experiment)
set(sees_engine common loader experiment train report)
set(sees_check common loader experiment train report engine)
set(sees_scaffold common)
set(sees_cli common loader experiment train report engine check scaffold)
set(layers common loader experiment train report engine check scaffold cli)

set(failures "")
foreach(layer IN LISTS layers)
  set(probe "// layer ${layer}\n")
  foreach(other IN LISTS layers)
    file(GLOB headers RELATIVE ${HOST_SOURCE} ${HOST_SOURCE}/${other}/*.h)
    list(GET headers 0 header)
    if(other STREQUAL layer OR other IN_LIST sees_${layer})
      string(APPEND probe "#if !__has_include(\"${header}\")\n#error ${layer} cannot include ${header}\n#endif\n")
    else()
      string(APPEND probe "#if __has_include(\"${header}\")\n#error ${layer} can include ${header}, above or beside it\n#endif\n")
    endif()
  endforeach()
  set(file ${CMAKE_CURRENT_BINARY_DIR}/layer_probe_${layer}.cpp)
  file(WRITE ${file} "${probe}")
  execute_process(COMMAND ${CXX} -std=c++17 -fsyntax-only -I ${LAYER_ROOT}/${layer} ${file}
                  RESULT_VARIABLE status ERROR_VARIABLE errors)
  if(NOT status EQUAL 0)
    string(APPEND failures "${errors}")
  endif()
endforeach()
if(failures)
  message(FATAL_ERROR "host layer rules broken:\n${failures}")
endif()
message(STATUS "every host layer sees exactly the layers below it")
