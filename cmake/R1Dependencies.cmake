# Finds every dependency once. All come from Debian packages (see scripts/setup.sh); LibTorch may
# instead come from a Python install (set Torch_DIR or CMAKE_PREFIX_PATH to torch.utils.cmake_prefix_path).

find_program(R1_CCACHE ccache)
if(R1_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER "${R1_CCACHE}")
  set(CMAKE_CXX_COMPILER_LAUNCHER "${R1_CCACHE}")
endif()

find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Boost 1.74 REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
pkg_check_modules(GMP REQUIRED IMPORTED_TARGET gmp)

find_package(Torch REQUIRED)
# TorchConfig puts its flags into TORCH_CXX_FLAGS globally; keep them on torch targets only.
string(REPLACE " " ";" R1_TORCH_CXX_FLAGS "${TORCH_CXX_FLAGS}")
# LibTorch runs its intra-op threads on OpenMP. Our own at::parallel_for loops (decode attention,
# the packed linear kernel) are header templates: without OpenMP they compile to a serial loop.
find_package(OpenMP REQUIRED COMPONENTS CXX)
separate_arguments(R1_OPENMP_FLAGS UNIX_COMMAND "${OpenMP_CXX_FLAGS}")
list(APPEND R1_TORCH_CXX_FLAGS ${R1_OPENMP_FLAGS})
set(R1_HAVE_CUDA OFF)
if(R1_CUDA STREQUAL "ON" OR (R1_CUDA STREQUAL "auto" AND TORCH_CUDA_LIBRARIES))
  set(R1_HAVE_CUDA ON)
endif()
# Several ranks on CUDA talk NCCL through c10d's ProcessGroupNCCL, which LibTorch ships with CUDA.
set(R1_HAVE_NCCL OFF)
if(R1_HAVE_CUDA)
  # It includes <nccl.h>, which pip's torch does not ship: the CUDA toolkit's, NCCL_HOME's or the
  # nvidia-nccl wheel's. Without it the CUDA build talks Gloo.
  find_file(R1_PROCESS_GROUP_NCCL torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp PATHS ${TORCH_INCLUDE_DIRS} NO_DEFAULT_PATH)
  find_path(R1_NCCL_INCLUDE_DIR nccl.h HINTS ${TORCH_INCLUDE_DIRS} ENV NCCL_HOME ENV CUDA_HOME /usr/local/cuda PATH_SUFFIXES include)
  if(R1_PROCESS_GROUP_NCCL AND R1_NCCL_INCLUDE_DIR)
    set(R1_HAVE_NCCL ON)
  elseif(R1_PROCESS_GROUP_NCCL)
    message(STATUS "r1forge: LibTorch has ProcessGroupNCCL but nccl.h was not found (set NCCL_HOME): several CUDA ranks will use Gloo")
  endif()
endif()
message(STATUS "r1forge: LibTorch ${Torch_VERSION}, CUDA paths: ${R1_HAVE_CUDA}, NCCL: ${R1_HAVE_NCCL}")

if(R1_BUILD_TESTS)
  find_package(doctest REQUIRED)
endif()

if(R1_SANITIZE)
  add_compile_options(-fsanitize=${R1_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${R1_SANITIZE})
endif()
