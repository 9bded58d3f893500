# Compiling kernel sources once per instruction set (csrc/include/pyhpe/isa.h says how the code
# exports and chooses its tables). Included by the Python extension's CMakeLists.txt, the C++
# runtime's (csrc/runtime) and the native tests' (csrc/tests).
#
#   pyhpe_isa_objects(<group> ISAS <level>... SOURCES <file>...
#                     [INCLUDE_DIRS <dir>...] [DEFINITIONS <def>...])
#
# Levels: baseline (the target's default flags), avx2 (-mavx2 -mfma), avx512 (-mavx512f -mavx2
# -mfma); avx2 and avx512 are built on x86-64 targets only. Each level becomes an OBJECT library
# <group>_<level>, compiled with -O3 -fno-math-errno (sqrt as one instruction; no other fast-math
# flag, so NaN and Inf keep their IEEE behaviour), -Wall -Wextra, position-independent, OpenMP
# when the OpenMP::OpenMP_CXX target exists, and PYHPE_ISA_SUFFIX=<level>. Sets in the caller:
#   <group>_OBJECTS      $<TARGET_OBJECTS:...> of every level, for target_sources()
#   <group>_DEFINITION   PYHPE_ISAS_<GROUP>=<mask> (bit n: level n of pyhpe::isa::Level; <GROUP> is
#                        the group's name in capitals without a leading "pyhpe_", e.g.
#                        pyhpe_rt_ffn -> PYHPE_ISAS_RT_FFN), for target_compile_definitions() of
#                        the code that chooses a table
#   <group>_TARGETS      the object libraries
include_guard(GLOBAL)

set(PYHPE_ISA_FLAGS_baseline "")
set(PYHPE_ISA_FLAGS_avx2 -mavx2 -mfma)
set(PYHPE_ISA_FLAGS_avx512 -mavx512f -mavx2 -mfma)
set(PYHPE_ISA_BIT_baseline 1)
set(PYHPE_ISA_BIT_avx2 2)
set(PYHPE_ISA_BIT_avx512 4)

# Whether the target is x86-64 (the levels above the baseline exist only there).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(PYHPE_ISA_X86_64 ON)
else()
  set(PYHPE_ISA_X86_64 OFF)
endif()

function(pyhpe_isa_objects group)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "ISAS;SOURCES;INCLUDE_DIRS;DEFINITIONS")
  if(NOT ARG_SOURCES OR NOT ARG_ISAS)
    message(FATAL_ERROR "pyhpe_isa_objects(${group}): SOURCES and ISAS are required")
  endif()
  set(objects)
  set(targets)
  set(mask 0)
  foreach(isa IN LISTS ARG_ISAS)
    if(NOT DEFINED PYHPE_ISA_BIT_${isa})
      message(FATAL_ERROR "pyhpe_isa_objects(${group}): unknown ISA level '${isa}'")
    endif()
    if(NOT isa STREQUAL "baseline" AND NOT PYHPE_ISA_X86_64)
      continue()
    endif()
    set(t ${group}_${isa})
    add_library(${t} OBJECT ${ARG_SOURCES})
    target_include_directories(${t} PRIVATE ${ARG_INCLUDE_DIRS})
    target_compile_definitions(${t} PRIVATE PYHPE_ISA_SUFFIX=${isa} ${ARG_DEFINITIONS})
    target_compile_options(${t} PRIVATE -O3 -fno-math-errno -Wall -Wextra ${PYHPE_ISA_FLAGS_${isa}})
    set_target_properties(${t} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    if(TARGET OpenMP::OpenMP_CXX)
      target_link_libraries(${t} PRIVATE OpenMP::OpenMP_CXX)
    endif()
    list(APPEND objects $<TARGET_OBJECTS:${t}>)
    list(APPEND targets ${t})
    math(EXPR mask "${mask} | ${PYHPE_ISA_BIT_${isa}}")
  endforeach()
  string(REGEX REPLACE "^pyhpe_" "" short "${group}")
  string(TOUPPER "${short}" upper)
  set(${group}_OBJECTS ${objects} PARENT_SCOPE)
  set(${group}_TARGETS ${targets} PARENT_SCOPE)
  set(${group}_DEFINITION PYHPE_ISAS_${upper}=${mask} PARENT_SCOPE)
endfunction()
