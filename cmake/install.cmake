# What `cmake --install` puts where (GNU directories), and `make deb` (CPack,
# DEB generator) on top of the same rules.
#
# Everything is found relative to the installed binaries, so an installed
# tree works wherever it is unpacked (the package test runs it from a
# scratch root): the executables share one directory (steep up starts the
# services from its own directory, steep-execution finds its runners beside
# itself), libsteep is reached through an $ORIGIN rpath, and steep up copies
# the default policies from BINDIR/../share/steep/policies (cli/provision.c).
include(GNUInstallDirs)

# Every executable named steep or steep-* defined under these folders, found
# by walking the build system rather than listed by hand, so a new runner
# (steep-python-runner, ...) is installed without editing this file.
function(steep_collect_executables dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  set(found ${${out}})
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "EXECUTABLE" AND (t STREQUAL "steep" OR t MATCHES "^steep-"))
      list(APPEND found ${t})
    endif()
  endforeach()
  foreach(sub ${subdirs})
    steep_collect_executables(${sub} found)
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

set(STEEP_INSTALLED_EXECUTABLES "")
foreach(dir cli tools executors services)
  if(EXISTS ${CMAKE_SOURCE_DIR}/${dir}/CMakeLists.txt)
    steep_collect_executables(${CMAKE_SOURCE_DIR}/${dir} STEEP_INSTALLED_EXECUTABLES)
  elseif(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/${dir})
    file(GLOB children LIST_DIRECTORIES true ${CMAKE_SOURCE_DIR}/${dir}/*)
    foreach(child ${children})
      if(EXISTS ${child}/CMakeLists.txt)
        steep_collect_executables(${child} STEEP_INSTALLED_EXECUTABLES)
      endif()
    endforeach()
  endif()
endforeach()
file(RELATIVE_PATH steep_bin_to_lib ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
# The build tree gets the same rpath (its bin/ and lib/ are laid out as
# the installed ones, libsteep in lib/). Otherwise CMake pads the build
# rpath with ':' to the install rpath's length so it can rewrite it in
# place at install, and every empty RUNPATH entry means the current
# directory: each binary run from the build tree (make demo, the tests)
# would first look for its libraries wherever it was started, the task
# runner in the node's directory before it confines itself
# (tests/packaging/check_runpath.sh keeps it out).
foreach(t ${STEEP_INSTALLED_EXECUTABLES})
  set_target_properties(${t} PROPERTIES INSTALL_RPATH "$ORIGIN/${steep_bin_to_lib}"
                                        BUILD_WITH_INSTALL_RPATH ON)
endforeach()
install(TARGETS ${STEEP_INSTALLED_EXECUTABLES} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(DIRECTORY ${CMAKE_SOURCE_DIR}/policies/ DESTINATION ${CMAKE_INSTALL_DATADIR}/steep/policies
        FILES_MATCHING PATTERN "*.policy")

# Manual pages by section (man/NAME.SECTION).
file(GLOB steep_man_pages ${CMAKE_SOURCE_DIR}/man/*.[1-8])
foreach(page ${steep_man_pages})
  string(REGEX REPLACE "^.*\\.([1-8])$" "\\1" section ${page})
  install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()

install(FILES ${CMAKE_SOURCE_DIR}/cli/completion/steep.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME steep)

# systemd units (packaging/systemd/*.in) name the installed executables;
# they are filled in at install time with the prefix of that install, so the
# same build tree gives right units for `cmake --install --prefix P` and for
# the package (CPack installs with prefix /usr). Written straight to their
# destination (steep_install_configured, cmake/steep.cmake), not through the build tree, so
# installs to different prefixes may run at once.
set(STEEP_UNIT_DIR lib/systemd/system CACHE STRING
    "where the systemd units are installed (relative: below the prefix)")
file(GLOB steep_units ${CMAKE_SOURCE_DIR}/packaging/systemd/*.in)
foreach(unit ${steep_units})
  get_filename_component(name ${unit} NAME)
  string(REGEX REPLACE "\\.in$" "" name ${name})
  steep_install_configured(${unit} ${STEEP_UNIT_DIR} ${name})
endforeach()

# `make deb`: a binary package of the whole install tree.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME steep)
set(CPACK_PACKAGE_VERSION 0.1.0)
set(CPACK_PACKAGE_CONTACT "Steep maintainers <steep@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "confidential Function-as-a-Service platform, wire-compatible with Apache Teaclave")
set(CPACK_PACKAGE_INSTALL_DIRECTORY steep)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR}/lib)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
include(CPack)
