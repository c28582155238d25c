# Installation layout and .deb packages (CPack): vigil-agent, vigil-collector
# and vigilctl (vigilctl, vigil-loadgen, vigil-evolve). deploy/package.sh builds
# them with CMAKE_INSTALL_PREFIX=/usr; `cmake --install` with the default
# /usr/local prefix installs the same files for a hand-made setup.
include(GNUInstallDirs)

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(VIGIL_UNITDIR /lib/systemd/system)  # the package's units
else()
  set(VIGIL_UNITDIR /etc/systemd/system)  # an administrator's own install
endif()

# systemd units and maintainer scripts, per package.
foreach(_pkg agent collector)
  set(VIGIL_SBINDIR ${CMAKE_INSTALL_FULL_SBINDIR})
  set(VIGIL_DOCDIR ${CMAKE_INSTALL_FULL_DATAROOTDIR}/doc/vigil-${_pkg})
  configure_file(${PROJECT_SOURCE_DIR}/deploy/systemd/vigil-${_pkg}.service.in
                 ${CMAKE_BINARY_DIR}/systemd/vigil-${_pkg}.service @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/systemd/vigil-${_pkg}.service DESTINATION ${VIGIL_UNITDIR}
          COMPONENT ${_pkg})
  install(FILES ${PROJECT_SOURCE_DIR}/deploy/config/${_pkg}.yaml DESTINATION /etc/vigil
          COMPONENT ${_pkg})
  install(FILES ${PROJECT_SOURCE_DIR}/docs/operations.md ${PROJECT_SOURCE_DIR}/docs/configuration.md
                ${PROJECT_SOURCE_DIR}/README.md
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/vigil-${_pkg} COMPONENT ${_pkg})
  set(_ctl ${CMAKE_BINARY_DIR}/debian/${_pkg})
  file(MAKE_DIRECTORY ${_ctl})
  foreach(_script postinst prerm postrm)
    file(COPY_FILE ${PROJECT_SOURCE_DIR}/deploy/debian/${_pkg}-${_script} ${_ctl}/${_script})
    file(CHMOD ${_ctl}/${_script} PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
         GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endforeach()
  if(_pkg STREQUAL "agent")
    # Rotation of its local outputs (/var/log/vigil/*.jsonl); SIGHUP reopens them.
    install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/vigil-agent.logrotate
            DESTINATION /etc/logrotate.d RENAME vigil-agent COMPONENT agent)
    file(WRITE ${_ctl}/conffiles "/etc/vigil/${_pkg}.yaml\n/etc/logrotate.d/vigil-agent\n")
  else()
    file(WRITE ${_ctl}/conffiles "/etc/vigil/${_pkg}.yaml\n")
  endif()
  string(TOUPPER ${_pkg} _PKG)
  set(CPACK_DEBIAN_${_PKG}_PACKAGE_CONTROL_EXTRA
      "${_ctl}/postinst;${_ctl}/prerm;${_ctl}/postrm;${_ctl}/conffiles")
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/docs/api.md ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/vigilctl COMPONENT cli)
# The labelled scenario recordings the shipped model was evolved on: the
# collector's fleet evolution learns from them beside the fleet's own data
# (evolve_scenario_dataset in collector.yaml; docs/learning.md).
install(FILES ${PROJECT_SOURCE_DIR}/models/dataset.vds
        DESTINATION ${CMAKE_INSTALL_DATADIR}/vigil-collector COMPONENT collector)

set(CPACK_PACKAGE_NAME vigil)
set(CPACK_PACKAGE_VENDOR "vigil")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "vigil maintainers <vigil@localhost>")
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL agent collector cli)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES TRUE)  # debug info stays in the build tree
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends: from the binaries' shared libraries
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME vigil-agent)
set(CPACK_DEBIAN_AGENT_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "logrotate")  # /etc/logrotate.d/vigil-agent
set(CPACK_COMPONENT_AGENT_DESCRIPTION
    "vigil runtime threat detection agent (eBPF)\nLoads CO-RE eBPF probes (process, network, memory, file), scores every\nevent on the host and ships scored events to vigil-collector.")
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_NAME vigil-collector)
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_DEPENDS "adduser")
set(CPACK_COMPONENT_COLLECTOR_DESCRIPTION
    "vigil collector: fleet ingest, RocksDB storage, correlation, models\nIngests every agent's stream, stores events and alerts, correlates across\nhosts, evolves and signs scoring models and serves the operator API.")
set(CPACK_DEBIAN_CLI_PACKAGE_NAME vigilctl)
set(CPACK_COMPONENT_CLI_DESCRIPTION
    "vigil operator tools: vigilctl, vigil-loadgen, vigil-evolve\nThe gRPC client for fleet reports, alerts, agents, events, feedback and\nmodel rollout; a load generator; the offline model evolution tool.")
include(CPack)
