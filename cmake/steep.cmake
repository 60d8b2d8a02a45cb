# Helpers shared by every folder's CMakeLists.txt.

# steep_unit_test(NAME SOURCES a.c b.c LIBS x y [LABELS l...])
# A cmocka (or plain) test executable in build/bin, registered with ctest.
# Every test gets the label "sanitize" unless NO_SANITIZE is given, so the
# ASan+UBSan build runs it too.
function(steep_unit_test name)
  cmake_parse_arguments(T "NO_SANITIZE" "" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set(labels ${T_LABELS})
  if(NOT T_NO_SANITIZE)
    list(APPEND labels sanitize)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${labels}"
    ENVIRONMENT "STEEP_SOURCE_DIR=${CMAKE_SOURCE_DIR};STEEP_BUILD_DIR=${CMAKE_BINARY_DIR};STEEP_SHARED_DIR=${CMAKE_SOURCE_DIR}/../shared")
endfunction()

# steep_script_test(NAME COMMAND cmd args... [LABELS l...] [TIMEOUT s])
# An integration test driven by a script (bash or /usr/bin/python3).
function(steep_script_test name)
  cmake_parse_arguments(T "NO_SANITIZE" "TIMEOUT" "COMMAND;LABELS" ${ARGN})
  add_test(NAME ${name} COMMAND ${T_COMMAND} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set(labels integration ${T_LABELS})
  if(NOT T_NO_SANITIZE)
    list(APPEND labels sanitize)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${labels}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "STEEP_SOURCE_DIR=${CMAKE_SOURCE_DIR};STEEP_BUILD_DIR=${CMAKE_BINARY_DIR};STEEP_BIN=${CMAKE_BINARY_DIR}/bin;STEEP_SHARED_DIR=${CMAKE_SOURCE_DIR}/../shared")
endfunction()

# steep_alloc_fail_test(NAME SOURCES ... LIBS ...): a steep_unit_test whose
# allocations can be failed on demand (tests/lib/c/alloc_fail.h). The
# wrappers are compiled into the executable itself so the linker resolves
# the __wrap_ references from every static library of the link.
function(steep_alloc_fail_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  steep_unit_test(${name} SOURCES ${T_SOURCES} ${CMAKE_SOURCE_DIR}/tests/lib/c/alloc_fail.c
                  LIBS ${T_LIBS})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/lib/c)
  target_link_options(${name} PRIVATE
    "LINKER:--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup")
endfunction()

# steep_fuzz_target(NAME SOURCES ... LIBS ...): a libFuzzer binary fuzz-NAME,
# built only with -DSTEEP_FUZZ=ON (clang).
function(steep_fuzz_target name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  if(STEEP_FUZZ)
    add_executable(fuzz-${name} ${T_SOURCES})
    target_compile_options(fuzz-${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz-${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz-${name} PRIVATE ${T_LIBS})
  endif()
endfunction()
# steep_install_configured(TEMPLATE DESTINATION NAME): at install time,
# configure_file(@ONLY) TEMPLATE straight to DESTINATION/NAME (relative: below
# the install's prefix), with STEEP_BINDIR and the GNU directories of that
# install. For files that name installed paths (systemd units, steep.pc):
# right for every prefix, and no shared build-tree copy that two installs
# to different prefixes would race on.
include(GNUInstallDirs)
function(steep_install_configured template destination name)
  install(CODE "
    set(STEEP_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    set(CMAKE_INSTALL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
    set(CMAKE_INSTALL_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
    set(dir \"${destination}\")
    if(NOT IS_ABSOLUTE \"\${dir}\")
      set(dir \"\${CMAKE_INSTALL_PREFIX}/\${dir}\")
    endif()
    message(STATUS \"Installing: \$ENV{DESTDIR}\${dir}/${name}\")
    configure_file(\"${template}\" \"\$ENV{DESTDIR}\${dir}/${name}\" @ONLY)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\$ENV{DESTDIR}\${dir}/${name}\")")
endfunction()

include(${CMAKE_CURRENT_LIST_DIR}/version.cmake)
