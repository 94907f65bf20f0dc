# The mysql connector's files (included by src/CMakeLists.txt).
target_sources(stagesync_connectors PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/connector.cc
  ${CMAKE_CURRENT_LIST_DIR}/mysql_sink.cc
  ${CMAKE_CURRENT_LIST_DIR}/batch_chain.cc
)
