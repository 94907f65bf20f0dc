# Alerts from the agent itself (issue 12 item 4): the Alerter evaluating conditions over the
# agent's state and staging, and their delivery to a DingTalk robot (HMAC-SHA256 signed, hence
# libcrypto) and a generic webhook over the Runtime's HttpClient. Linked into `stagesync`.
add_library(stagesync_obs_alerts STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/alerts.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/obs/alert_delivery.cc)
add_library(stagesync::obs_alerts ALIAS stagesync_obs_alerts)
target_link_libraries(stagesync_obs_alerts PUBLIC stagesync_config stagesync_stage stagesync_env
  Threads::Threads PRIVATE PkgConfig::OPENSSL_CRYPTO fmt::fmt)
target_link_libraries(stagesync PRIVATE stagesync_obs_alerts)
