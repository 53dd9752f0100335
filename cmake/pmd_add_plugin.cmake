# pmd_add_plugin(): build a pmd plugin the way plugin.abi.md requires. The one
# definition, used by this project's own CMakeLists.txt and installed with the
# kit (lib/<multiarch>/cmake/pmd-plugin/, loaded by find_package(pmd-plugin)).
#
#   pmd_add_plugin(<name> [CHECK | NO_CHECK] [CHECK_ARGS <arg>...]
#                  [PKG_MODULES <pkg-config module>...] [SOURCES] <source>...)
#
# makes <name>.so: a MODULE library (no "lib" prefix) with hidden visibility,
# linked with the version script that exports pmd_plugin_entry only, with
# -z defs (an unresolved symbol fails the link, not the host's dlopen), and
# linked to pmd::plugin-abi (the include directory of pmd_plugin.h), to the
# thread library and to each PKG_MODULES module found with pkg-config (e.g.
# "libcurl json-c").
#
# CHECK adds the ctest abi_check_<name>: pmd-abi-check (the target
# pmd::abi-check) runs every conformance check on the built plugin, with
# CHECK_ARGS before the plugin path (e.g. --config FILE). The default is
# PMD_PLUGIN_CHECK_DEFAULT: ON where find_package(pmd-plugin) was called
# (NO_CHECK opts out), OFF in this project's own tree, whose test plugins
# include deliberately broken ones (its shipped plugins say CHECK, so each
# gets its abi_check_<name> test from its own pmd_add_plugin() call).
#
# Needs PMD_PLUGIN_VERSION_SCRIPT (the path of plugin.map) and the targets
# pmd::plugin-abi and, for CHECK, pmd::abi-check.
include_guard(GLOBAL)

function(pmd_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "CHECK;NO_CHECK" "" "CHECK_ARGS;PKG_MODULES;SOURCES")
  set(sources ${arg_UNPARSED_ARGUMENTS} ${arg_SOURCES})
  if(NOT sources)
    message(FATAL_ERROR "pmd_add_plugin(${target}): no source files")
  endif()
  if(NOT PMD_PLUGIN_VERSION_SCRIPT)
    message(FATAL_ERROR "pmd_add_plugin(${target}): PMD_PLUGIN_VERSION_SCRIPT is not set "
                        "(find_package(pmd-plugin) sets it)")
  endif()

  add_library(${target} MODULE ${sources})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LINK_DEPENDS ${PMD_PLUGIN_VERSION_SCRIPT})
  find_package(Threads REQUIRED) # plugin threads (plugin.abi.md section 7)
  target_link_libraries(${target} PRIVATE pmd::plugin-abi Threads::Threads)
  target_link_options(${target} PRIVATE
    -Wl,--version-script=${PMD_PLUGIN_VERSION_SCRIPT} -Wl,--no-undefined -Wl,-z,defs)

  foreach(module IN LISTS arg_PKG_MODULES)
    string(MAKE_C_IDENTIFIER "pmd_pc_${module}" prefix)
    if(NOT TARGET PkgConfig::${prefix})
      find_package(PkgConfig REQUIRED)
      pkg_check_modules(${prefix} REQUIRED IMPORTED_TARGET GLOBAL ${module})
    endif()
    target_link_libraries(${target} PRIVATE PkgConfig::${prefix})
  endforeach()

  set(check ${PMD_PLUGIN_CHECK_DEFAULT})
  if(arg_CHECK)
    set(check ON)
  elseif(arg_NO_CHECK)
    set(check OFF)
  endif()
  if(check)
    if(NOT TARGET pmd::abi-check AND NOT PMD_ABI_CHECK_IN_TREE)
      message(WARNING "pmd_add_plugin(${target}): pmd-abi-check not found, no conformance test")
      return()
    endif()
    add_test(NAME abi_check_${target}
             COMMAND $<TARGET_FILE:pmd::abi-check> ${arg_CHECK_ARGS} $<TARGET_FILE:${target}>)
    set_tests_properties(abi_check_${target} PROPERTIES TIMEOUT 300)
  endif()
endfunction()
