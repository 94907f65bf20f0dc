# The dingtalk connector's files (included by src/CMakeLists.txt).
target_sources(stagesync_connectors PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/connector.cc
  ${CMAKE_CURRENT_LIST_DIR}/dingtalk_client.cc
  ${CMAKE_CURRENT_LIST_DIR}/dingtalk_source.cc
)
