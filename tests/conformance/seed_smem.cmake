# ctest conformance.seed_smem_{build,install} (included from tests/CMakeLists.txt; the memcache
# conformance tests keep their own lines). The compilers are the ones a user would have.
find_program(SMEM_SEED_CXX NAMES c++ g++ clang++)
if(NOT SMEM_SEED_CXX)
  set(SMEM_SEED_CXX "")
endif()
# A sanitized libsmem needs its runtime first: the seed program is built with the same -fsanitize.
set(SMEM_SEED_SAN "")
if(SMEM_SANITIZE)
  set(SMEM_SEED_SAN "-fsanitize=address,undefined")
elseif(SMEM_TSAN)
  set(SMEM_SEED_SAN "-fsanitize=thread")
endif()
foreach(mode build install)
  add_test(NAME conformance.seed_smem_${mode}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/conformance/seed_smem_check.sh ${mode} ${CMAKE_C_COMPILER}
                   "${SMEM_SEED_CXX}" ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR} "${SMEM_SEED_SAN}")
  set_tests_properties(conformance.seed_smem_${mode} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)
endforeach()

# it.seed_smem (tests/integration/it_seed_smem.c) includes the seed's way ("smem.h") and loads
# this decrypter library from <build>/tests.
add_library(seed_smem_decrypter MODULE ${CMAKE_CURRENT_SOURCE_DIR}/conformance/seed_smem_decrypter.c)
set_target_properties(seed_smem_decrypter PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
if(TARGET it_seed_smem)
  target_include_directories(it_seed_smem PRIVATE ${CMAKE_SOURCE_DIR}/include/smem/host)
  add_dependencies(it_seed_smem seed_smem_decrypter)
endif()
