# The kingdee connector's files (included by src/CMakeLists.txt).
target_sources(stagesync_connectors PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/connector.cc
  ${CMAKE_CURRENT_LIST_DIR}/kingdee_client.cc
  ${CMAKE_CURRENT_LIST_DIR}/kingdee_push.cc
  ${CMAKE_CURRENT_LIST_DIR}/kingdee_source.cc
)
