# Prometheus /metrics (issue 12 item 1): the Telemetry implementation over prometheus-cpp's
# core registry, served on the agent's control listener. Linked into the stagesync executable.
find_package(prometheus-cpp CONFIG REQUIRED)
add_library(stagesync_obs_metrics STATIC ${CMAKE_CURRENT_LIST_DIR}/metrics.cc)
add_library(stagesync::obs_metrics ALIAS stagesync_obs_metrics)
target_link_libraries(stagesync_obs_metrics PUBLIC stagesync_connectors stagesync_stage
  PkgConfig::HTTPLIB PRIVATE prometheus-cpp::core)
target_link_libraries(stagesync PRIVATE stagesync_obs_metrics)
