# Helpers shared by every folder's CMakeLists.

set(R1_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers)

# r1_library(NAME SOURCES... [TORCH] [DEPS ...]): one library per folder. TORCH targets link LibTorch
# and reuse one precompiled <torch/torch.h> (a torch TU costs ~15 s here without it).
function(r1_library name)
  cmake_parse_arguments(A "TORCH" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${R1_WARNINGS})
  target_link_libraries(${name} PUBLIC ${A_DEPS} PRIVATE ${A_PRIVATE_DEPS})
  if(A_TORCH)
    r1_use_torch(${name})
  endif()
endfunction()

# Torch flags and the shared precompiled header. The PCH is built once, by r1_torch_pch.
function(r1_use_torch name)
  target_link_libraries(${name} PUBLIC ${TORCH_LIBRARIES} OpenMP::OpenMP_CXX)
  target_compile_options(${name} PRIVATE ${R1_TORCH_CXX_FLAGS})
  if(R1_HAVE_CUDA)
    target_compile_definitions(${name} PUBLIC R1_WITH_CUDA=1)
  endif()
  if(R1_HAVE_NCCL)
    target_compile_definitions(${name} PUBLIC R1_WITH_NCCL=1)
  endif()
  if(TARGET r1_torch_pch)
    target_precompile_headers(${name} REUSE_FROM r1_torch_pch)
    get_target_property(kind ${name} TYPE)
    if(kind STREQUAL "EXECUTABLE")
      # Compile like the PCH (-fPIC, not the executables' -fPIE): GCC silently ignores a
      # precompiled header built with other code-model flags (-Winvalid-pch).
      target_compile_options(${name} PRIVATE -fPIC)
    endif()
  endif()
endfunction()

add_library(r1_torch_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/torch_pch.cpp)
target_link_libraries(r1_torch_pch PUBLIC ${TORCH_LIBRARIES} OpenMP::OpenMP_CXX)
target_compile_options(r1_torch_pch PRIVATE ${R1_WARNINGS} ${R1_TORCH_CXX_FLAGS})
target_include_directories(r1_torch_pch PUBLIC ${PROJECT_SOURCE_DIR})
if(R1_HAVE_CUDA)
  target_compile_definitions(r1_torch_pch PUBLIC R1_WITH_CUDA=1)
endif()
if(R1_HAVE_NCCL)
  target_compile_definitions(r1_torch_pch PUBLIC R1_WITH_NCCL=1)
endif()
target_precompile_headers(r1_torch_pch PRIVATE <torch/torch.h> <vector> <string> <memory> <optional>)

# The git commit recorded with every run: regenerated each build, rewritten only when it changes.
add_custom_target(r1_git_version ALL
  COMMAND ${CMAKE_COMMAND} -DSRC=${PROJECT_SOURCE_DIR} -DOUT=${PROJECT_BINARY_DIR}/generated/git_version.cpp
          -DVERSION=${PROJECT_VERSION} -P ${PROJECT_SOURCE_DIR}/cmake/GitVersion.cmake
  BYPRODUCTS ${PROJECT_BINARY_DIR}/generated/git_version.cpp)
