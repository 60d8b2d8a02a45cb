# The version every binary prints with --version: `git describe --always
# --dirty` of the source tree, taken at build time (not only at configure
# time) so a rebuilt binary never reports an older commit; outside git, the
# project's own version. Targets that print it link steep_version and include
# "steep_version.h".
set(STEEP_FALLBACK_VERSION 0.1.0)
if(PROJECT_VERSION)
  set(STEEP_FALLBACK_VERSION ${PROJECT_VERSION})
endif()
set(STEEP_VERSION_HEADER ${CMAKE_BINARY_DIR}/generated/steep_version.h)
add_custom_target(steep_version_header ALL
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -DOUTPUT=${STEEP_VERSION_HEADER}
          -DFALLBACK=${STEEP_FALLBACK_VERSION} -P ${CMAKE_SOURCE_DIR}/cmake/version_header.cmake
  BYPRODUCTS ${STEEP_VERSION_HEADER}
  COMMENT "steep version from git describe"
  VERBATIM)
add_library(steep_version INTERFACE)
target_include_directories(steep_version INTERFACE ${CMAKE_BINARY_DIR}/generated)
add_dependencies(steep_version steep_version_header)
