# Drift detection (issue 12 item 5): DriftTracker and the applier observer that feeds it.
# Included by src/CMakeLists.txt after the agent target, which it links itself into.
add_library(stagesync_obs_drift STATIC obs/drift.cc)
add_library(stagesync::obs_drift ALIAS stagesync_obs_drift)
target_link_libraries(stagesync_obs_drift PUBLIC stagesync_transform stagesync_config
  stagesync_stage PRIVATE stagesync_connectors fmt::fmt)
target_link_libraries(stagesync_agent PUBLIC stagesync_obs_drift)
