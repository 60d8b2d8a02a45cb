/*
 * The 22 TeaclaveFrontend methods: wire name, Teaclave's snake_case API
 * name (used for access control and the audit log) and message types.
 */
#ifndef STEEP_FRONTEND_METHODS_H
#define STEEP_FRONTEND_METHODS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

struct steep_frontend_method {
    const char *name; /* "GetFunction" */
    const char *api;  /* "get_function" */
    const ProtobufCMessageDescriptor *request;
    const ProtobufCMessageDescriptor *response;
};

extern const struct steep_frontend_method steep_frontend_methods[];
extern const size_t steep_frontend_method_count;

#define STEEP_FRONTEND_SERVICE   "teaclave_frontend_service_proto.TeaclaveFrontend"
#define STEEP_MANAGEMENT_SERVICE "teaclave_management_service_proto.TeaclaveManagement"

#endif
