# Builds BPF programs and their libbpf skeletons.
#
#   vigil_bpf_skeleton(NAME process SOURCE process.bpf.c)
#
# compiles SOURCE with clang for the BPF target against the chosen vmlinux.h and
# generates ${NAME}.skel.h with bpftool. Each output has its own custom command
# and target (a custom command's output used by two targets would otherwise be
# built twice in parallel); the INTERFACE library vigil_bpf_<NAME> carries the
# include path of the generated header.

find_program(VIGIL_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(VIGIL_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

set(VIGIL_BPF_ARCH x86)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(VIGIL_BPF_ARCH arm64)
endif()

function(vigil_bpf_skeleton)
  cmake_parse_arguments(ARG "" "NAME;SOURCE;VMLINUX_DIR" "DEPENDS" ${ARGN})
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${VIGIL_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${VIGIL_BPF_ARCH} -Wall -Werror
            -I${ARG_VMLINUX_DIR} -I${PROJECT_SOURCE_DIR}/common/include
            -I${CMAKE_CURRENT_SOURCE_DIR} -c ${CMAKE_CURRENT_SOURCE_DIR}/${ARG_SOURCE} -o ${obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${ARG_SOURCE} ${ARG_DEPENDS}
    COMMENT "BPF ${ARG_SOURCE}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${VIGIL_BPFTOOL} gen skeleton ${obj} name ${ARG_NAME}_bpf > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${ARG_NAME}.skel.h"
    VERBATIM)
  add_custom_target(vigil_bpf_${ARG_NAME}_skel DEPENDS ${skel})
  add_library(vigil_bpf_${ARG_NAME} INTERFACE)
  target_include_directories(vigil_bpf_${ARG_NAME} INTERFACE ${CMAKE_CURRENT_BINARY_DIR})
  add_dependencies(vigil_bpf_${ARG_NAME} vigil_bpf_${ARG_NAME}_skel)
endfunction()
