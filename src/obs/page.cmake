# The status page (GET / and GET /pipelines/{name} on the agent's listener): pure renderers in
# status_page.cc, the routes that gather the data in status_routes.cc.
add_library(stagesync_obs_page STATIC
  ${CMAKE_CURRENT_LIST_DIR}/status_page.cc
  ${CMAKE_CURRENT_LIST_DIR}/status_routes.cc)
add_library(stagesync::obs_page ALIAS stagesync_obs_page)
target_link_libraries(stagesync_obs_page PUBLIC stagesync_common stagesync_control stagesync_stage
  PRIVATE fmt::fmt)
target_link_libraries(stagesync PRIVATE stagesync_obs_page)
