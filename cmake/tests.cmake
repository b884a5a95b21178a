# Test registration. Every test is a command that exits 0 (pass), 77 (skip,
# the one skip code; CTest has it as SKIP_RETURN_CODE) or anything else
# (fail). The driver script (./contig-mr test) reads the manifests written
# here:
#   ${PROJECT_BINARY_DIR}/tests/host.list  tests run on the build machine
#   ${PROJECT_BINARY_DIR}/tests/vm.list    tests run in the guest, one by one
# Line format: NAME<TAB>TIMEOUT_S<TAB>SETUP<TAB>COMMAND...
# SETUP names the rxe set-up the guest prepares first: none, loop (one rxe
# device on a veth end, server and client on it) or pair (two rxe devices on
# the two ends of a veth pair: two hosts wired back to back); see
# scripts/guest/setup.sh.

set(CONTIG_MR_TEST_DIR ${PROJECT_BINARY_DIR}/tests)
file(MAKE_DIRECTORY ${CONTIG_MR_TEST_DIR})
set_property(GLOBAL PROPERTY CONTIG_MR_HOST_TESTS "")
set_property(GLOBAL PROPERTY CONTIG_MR_VM_TESTS "")

# contig_mr_test(HOST|VM NAME name [TIMEOUT s] [SETUP none|loop|pair]
#                COMMAND cmd args...)
# A COMMAND that names a target of this build is replaced by its path.
function(contig_mr_test where)
  cmake_parse_arguments(T "" "NAME;TIMEOUT;SETUP" "COMMAND" ${ARGN})
  if(NOT T_NAME OR NOT T_COMMAND)
    message(FATAL_ERROR "contig_mr_test: NAME and COMMAND are required")
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(NOT T_SETUP)
    set(T_SETUP none)
  endif()
  if(T_SETUP STREQUAL "netns")
    message(FATAL_ERROR "contig_mr_test(${T_NAME}): SETUP netns does not exist: "
            "6.1's rxe works in init_net only; use SETUP pair (two rxe devices "
            "on the two ends of a veth, CMR_RXE1/CMR_RXE2, CMR_IP1/CMR_IP2)")
  endif()
  if(NOT T_SETUP MATCHES "^(none|loop|pair)$")
    message(FATAL_ERROR "contig_mr_test(${T_NAME}): bad SETUP ${T_SETUP}")
  endif()
  list(GET T_COMMAND 0 exe)
  list(REMOVE_AT T_COMMAND 0)
  if(TARGET ${exe})
    set(exe "$<TARGET_FILE:${exe}>")
  endif()
  string(REPLACE ";" " " args "${T_COMMAND}")
  set(line "${T_NAME}\t${T_TIMEOUT}\t${T_SETUP}\t${exe} ${args}")
  if(where STREQUAL "HOST")
    set_property(GLOBAL APPEND PROPERTY CONTIG_MR_HOST_TESTS "${line}")
    # Host tests are ordinary CTest tests as well.
    add_test(NAME ${T_NAME} COMMAND ${exe} ${T_COMMAND})
    set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT}
                         SKIP_RETURN_CODE 77)
  elseif(where STREQUAL "VM")
    set_property(GLOBAL APPEND PROPERTY CONTIG_MR_VM_TESTS "${line}")
  else()
    message(FATAL_ERROR "contig_mr_test: HOST or VM, not ${where}")
  endif()
endfunction()

# Called once at the end of the top-level CMakeLists.txt.
function(contig_mr_write_test_lists)
  foreach(kind HOST VM)
    get_property(lines GLOBAL PROPERTY CONTIG_MR_${kind}_TESTS)
    string(TOLOWER ${kind} lower)
    string(REPLACE ";" "\n" body "${lines}")
    if(body)
      string(APPEND body "\n")
    endif()
    file(GENERATE OUTPUT ${CONTIG_MR_TEST_DIR}/${lower}.list CONTENT "${body}")
  endforeach()
endfunction()
