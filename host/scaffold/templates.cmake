# Included by host/CMakeLists.txt: the rule that compiles every file under
# scaffold/templates/ into the host as text, so an installed medadv scaffolds without the
# source tree. Sets MEDADV_SCAFFOLD_TEMPLATES_SOURCE, the generated .cpp to add to the
# library that holds scaffold/scaffold.cpp.
set(MEDADV_SCAFFOLD_TEMPLATES_SOURCE ${CMAKE_CURRENT_BINARY_DIR}/scaffold_templates.cpp)
file(GLOB_RECURSE medadv_scaffold_templates CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/templates/*)
add_custom_command(OUTPUT ${MEDADV_SCAFFOLD_TEMPLATES_SOURCE}
  COMMAND ${CMAKE_COMMAND} -DTEMPLATE_DIR=${CMAKE_CURRENT_LIST_DIR}/templates
          -DOUTPUT=${MEDADV_SCAFFOLD_TEMPLATES_SOURCE} -P ${CMAKE_CURRENT_LIST_DIR}/embed_templates.cmake
  DEPENDS ${medadv_scaffold_templates} ${CMAKE_CURRENT_LIST_DIR}/embed_templates.cmake
  COMMENT "Embedding the medadv new templates")
