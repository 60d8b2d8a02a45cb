# steep_audit: the hash-chained audit log (audit.h), written by the frontend
# engineer, linked into steep-management. Included from
# services/management/CMakeLists.txt and tests/audit/CMakeLists.txt; the
# guard makes the order irrelevant.
if(NOT TARGET steep_audit AND TARGET steep_proto AND TARGET steep_store_client)
  add_library(steep_audit STATIC
    ${CMAKE_CURRENT_LIST_DIR}/audit.c
    ${CMAKE_CURRENT_LIST_DIR}/audit_record.c
    ${CMAKE_CURRENT_LIST_DIR}/audit_query.c
    ${CMAKE_CURRENT_LIST_DIR}/audit_logs.c
    ${CMAKE_CURRENT_LIST_DIR}/audit_store.c
    ${CMAKE_CURRENT_LIST_DIR}/audit_cache.c
    ${CMAKE_CURRENT_LIST_DIR}/audit_pending.c)
  target_include_directories(steep_audit PUBLIC ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_SOURCE_DIR}/lib)
  target_link_libraries(steep_audit PUBLIC steep_proto steep_store steep_store_client steep_rpc
                        steep_core steep::crypto)
endif()
