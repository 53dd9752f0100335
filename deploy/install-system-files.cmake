# Runs during installation (cmake --install, cpack): writes pmd-node.service
# with the paths of the prefix being installed to, and installs the example
# configuration unless a configuration is already there. Set by
# deploy/package.cmake before this script: PMD_UNIT_TEMPLATE,
# PMD_CONFIG_FILES, PMD_STAGING_DIR, PMD_REL_BINDIR, PMD_REL_PLUGINDIR,
# PMD_REL_DOCDIR, PMD_USR_UNIT_DIR.
#
# prefix /usr (the package): /etc/pmd and systemd's unit directory;
# any other prefix P: P/etc/pmd and P/lib/systemd/system (systemd also looks
# in /usr/local/lib/systemd/system). Nothing outside "$DESTDIR"P is written
# otherwise.

set(prefix "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/+$" "" prefix "${prefix}")
if(prefix STREQUAL "/usr")
  set(etc_dir "/etc/pmd")
  set(unit_dir "${PMD_USR_UNIT_DIR}")
else()
  set(etc_dir "${prefix}/etc/pmd")
  set(unit_dir "${prefix}/lib/systemd/system")
endif()

set(PMD_UNIT_NAME "pmd-node.service")
set(PMD_BINDIR "${prefix}/${PMD_REL_BINDIR}")
set(PMD_PLUGINDIR "${prefix}/${PMD_REL_PLUGINDIR}")
set(PMD_DOCDIR "${prefix}/${PMD_REL_DOCDIR}")
set(PMD_SYSCONFDIR "${etc_dir}")

# One staging file per destination, so that two installations running at
# once (ctest runs the install and package tests in parallel) never share it.
string(MD5 key "$ENV{DESTDIR}|${prefix}")
set(staged "${PMD_STAGING_DIR}/${key}/${PMD_UNIT_NAME}")
configure_file("${PMD_UNIT_TEMPLATE}" "${staged}" @ONLY)
file(INSTALL "${staged}" DESTINATION "${unit_dir}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# The configuration belongs to the operator once installed: an existing file
# is kept (the package's conffiles are dpkg's business).
foreach(src IN LISTS PMD_CONFIG_FILES)
  get_filename_component(name "${src}" NAME)
  if(EXISTS "$ENV{DESTDIR}${etc_dir}/${name}")
    message(STATUS "Keeping: $ENV{DESTDIR}${etc_dir}/${name} (example in ${PMD_DOCDIR}/examples)")
  else()
    file(INSTALL "${src}" DESTINATION "${etc_dir}"
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
endforeach()
