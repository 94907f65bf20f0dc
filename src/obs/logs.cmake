# Structured logs and the central Redactor (issue 12 item 6). Included by src/CMakeLists.txt.
# The Redactor is used wherever text leaves the process or lands in staging: the config loader
# registers secrets, staging redacts quarantine entries and run history, the control server
# redacts answers, and the agent / CLI / stagesync-dump redact what they print. PUBLIC on
# config and stage so every tool over them (stagesync-dump included) links it.
add_library(stagesync_obs_logs STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/redact.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/log.cc)
add_library(stagesync::obs_logs ALIAS stagesync_obs_logs)
target_link_libraries(stagesync_obs_logs PUBLIC stagesync_common)
target_link_libraries(stagesync_config PUBLIC stagesync_obs_logs)
target_link_libraries(stagesync_stage PUBLIC stagesync_obs_logs)
target_link_libraries(stagesync_control PUBLIC stagesync_obs_logs)
target_link_libraries(stagesync_agent PUBLIC stagesync_obs_logs)
target_link_libraries(stagesync PRIVATE stagesync_obs_logs)
