# Exports exactly the medadv entry symbol from a plugin library: hidden visibility
# alone still lets LibTorch's template and typeinfo symbols out.
function(medadv_plugin_exports target)
  set(script ${CMAKE_CURRENT_BINARY_DIR}/${target}.exports.map)
  file(WRITE ${script} "{\n  global: medadv_plugin_v*;\n  local: *;\n};\n")
  target_link_options(${target} PRIVATE -Wl,--version-script=${script})
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${script})
endfunction()

# medadv_add_plugin(NAME SOURCES src... [LIBRARIES libs...] [OUTPUT_DIRECTORY dir])
#
# Builds one plugin library (a MODULE, lib<NAME>.so) against the medadv SDK. Used
# unchanged inside the medadv tree and out of tree after find_package(MedAdvSDK).
# The library is compiled with hidden visibility: the entry symbol written by
# MEDADV_PLUGINS(...) is its only export.
function(medadv_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "medadv_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE MedAdv::sdk ${ARG_LIBRARIES})
  set_target_properties(${name} PROPERTIES
    CXX_STANDARD 17
    CXX_STANDARD_REQUIRED ON
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  medadv_plugin_exports(${name})
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  elseif(DEFINED MEDADV_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${MEDADV_PLUGIN_OUTPUT_DIR})
  endif()
  # Installed next to the SDK runtime: <prefix>/lib/medadv/plugins -> <prefix>/lib.
  set_target_properties(${name} PROPERTIES INSTALL_RPATH "$ORIGIN/../..")
  include(GNUInstallDirs)
  install(TARGETS ${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/medadv/plugins)
  if(COMMAND medadv_warnings)
    # In the medadv tree: the project's warnings, which the shared precompiled header expects.
    medadv_warnings(${name})
  endif()
  if(COMMAND medadv_use_torch_pch)
    medadv_use_torch_pch(${name})
  else()
    # A precompiled header costs about one translation unit to build, so it pays off
    # only for plugins with several sources.
    list(LENGTH ARG_SOURCES source_count)
    if(source_count GREATER 2)
      target_precompile_headers(${name} PRIVATE <torch/torch.h>)
    endif()
  endif()
endfunction()
