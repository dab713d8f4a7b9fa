# What `cmake --install` puts where, for any prefix (docs/INSTALL.md). Included from the top-level
# CMakeLists.txt, so ${CMAKE_SOURCE_DIR} is the checkout.
#
#   <prefix>/bin/tooljail                          the binary (--strip: without symbols)
#   <prefix>/share/tooljail/policies/*.json        the shipped policies
#   <prefix>/share/tooljail/tools.d/*.json         the shipped tool manifests
#   <prefix>/share/tooljail/apparmor/tooljail      the AppArmor profile (userns), for the package
#                                                  or an admin to put into /etc/apparmor.d
#   <prefix>/share/man/man1/tooljail.1             man tooljail
#   <prefix>/lib/systemd/system/tooljail.service   the hardened unit (TOOLJAIL_SYSTEMD_UNIT_DIR)
#
# Nothing goes to ${TOOLJAIL_CONFIG_DIR} (/etc/tooljail): it holds the local configuration, which
# an install must not overwrite, and may not exist at all. The binary knows both directories
# (runtime/base/config_path.h).

set(TOOLJAIL_BINARY "${CMAKE_INSTALL_FULL_BINDIR}/tooljail")
set(TOOLJAIL_DATA_DIR "${CMAKE_INSTALL_FULL_DATADIR}/tooljail")
if(IS_ABSOLUTE "${TOOLJAIL_SYSTEMD_UNIT_DIR}")
  set(TOOLJAIL_UNIT_DIR "${TOOLJAIL_SYSTEMD_UNIT_DIR}")
else()
  set(TOOLJAIL_UNIT_DIR "${CMAKE_INSTALL_PREFIX}/${TOOLJAIL_SYSTEMD_UNIT_DIR}")
endif()
# Debian and Ubuntu read service settings from /etc/default; the unit names the file.
set(TOOLJAIL_ENV_FILE "/etc/default/tooljail")

install(TARGETS tooljail RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY policies/ DESTINATION ${CMAKE_INSTALL_DATADIR}/tooljail/policies
        FILES_MATCHING PATTERN "*.json")
install(DIRECTORY tools.d/ DESTINATION ${CMAKE_INSTALL_DATADIR}/tooljail/tools.d
        FILES_MATCHING PATTERN "*.json")

configure_file(deploy/tooljail.service.in ${CMAKE_BINARY_DIR}/deploy/tooljail.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/deploy/tooljail.service DESTINATION ${TOOLJAIL_SYSTEMD_UNIT_DIR})
configure_file(deploy/apparmor/tooljail.in ${CMAKE_BINARY_DIR}/deploy/apparmor/tooljail @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/deploy/apparmor/tooljail
        DESTINATION ${CMAKE_INSTALL_DATADIR}/tooljail/apparmor)
install(FILES docs/tooljail.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
