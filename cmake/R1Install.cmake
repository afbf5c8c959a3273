# `cmake --install build --prefix P` and `cpack -G DEB`: the r1 binary with its sandbox worker
# beside it (r1 finds it relative to itself), the demo's recipes under share/r1forge (r1 finds them
# relative to itself too), the reward plugin header with a CMake package (find_package(r1forge) ->
# r1forge::reward_plugin), and bash completion generated from the CLI definition.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS r1 r1-sandbox-worker RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/experiments/recipes/ DESTINATION ${CMAKE_INSTALL_DATADIR}/r1forge/recipes)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/experiments/pipelines/ DESTINATION ${CMAKE_INSTALL_DATADIR}/r1forge/pipelines)

# The plugin header as an interface target, for plugin authors' CMakeLists.
add_library(r1_reward_plugin INTERFACE)
add_library(r1forge::reward_plugin ALIAS r1_reward_plugin)
target_include_directories(r1_reward_plugin INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/rewards>
                                                      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/r1forge>)
set_target_properties(r1_reward_plugin PROPERTIES EXPORT_NAME reward_plugin)
install(FILES ${PROJECT_SOURCE_DIR}/rewards/r1_reward_plugin.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/r1forge)
install(TARGETS r1_reward_plugin EXPORT r1forgeTargets)
set(R1_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/r1forge)
install(EXPORT r1forgeTargets NAMESPACE r1forge:: DESTINATION ${R1_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/r1forgeConfig.cmake.in ${PROJECT_BINARY_DIR}/r1forgeConfig.cmake
                              INSTALL_DESTINATION ${R1_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/r1forgeConfigVersion.cmake COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/r1forgeConfig.cmake ${PROJECT_BINARY_DIR}/r1forgeConfigVersion.cmake DESTINATION ${R1_CMAKE_DIR})

# Completion from the binary itself, so it lists exactly the commands it has.
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/completion/r1
                   COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/completion
                   COMMAND r1 completion bash > ${PROJECT_BINARY_DIR}/completion/r1
                   DEPENDS r1 VERBATIM)
add_custom_target(r1_completion ALL DEPENDS ${PROJECT_BINARY_DIR}/completion/r1)
install(FILES ${PROJECT_BINARY_DIR}/completion/r1 DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# The .deb: runtime dependencies from the binaries' own libraries (dpkg-shlibdeps), plus the BLAS
# LibTorch should run on (without it Debian's LibTorch falls back to reference BLAS, ~35x slower).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME r1forge)
set(CPACK_PACKAGE_VENDOR "r1forge")
set(CPACK_PACKAGE_CONTACT "r1forge developers <r1forge@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "GRPO on verifiable rewards (DeepSeek-R1's recipe), one native binary")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "python3")  # exec reward plugins written in Python
set(CPACK_STRIP_FILES ON)
include(CPack)
