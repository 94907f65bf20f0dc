# The Prometheus rules, their unit tests and the dashboard: promtool (Debian's prometheus
# package) checks the rules and runs stagesync-rules.test.yml; check_monitoring.py makes sure
# every metric a rule or panel uses is documented in doc/monitoring.md.
find_program(STAGESYNC_PROMTOOL promtool)
find_package(Python3 COMPONENTS Interpreter)
if(STAGESYNC_PROMTOOL)
  add_test(NAME obs_prometheus_rules_check
    COMMAND ${STAGESYNC_PROMTOOL} check rules ${PROJECT_SOURCE_DIR}/conf/prometheus/stagesync-rules.yml)
  add_test(NAME obs_prometheus_rules_unit
    COMMAND ${STAGESYNC_PROMTOOL} test rules stagesync-rules.test.yml
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/conf/prometheus)
  set_tests_properties(obs_prometheus_rules_check obs_prometheus_rules_unit PROPERTIES LABELS unit)
else()
  message(WARNING "promtool not found (Debian package prometheus): rule tests not added")
endif()
if(Python3_Interpreter_FOUND)
  add_test(NAME obs_monitoring_files_agree
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/obs/check_monitoring.py
      --root ${PROJECT_SOURCE_DIR})
  set_tests_properties(obs_monitoring_files_agree PROPERTIES LABELS unit)
endif()
