/* libsteep: functions (register, update, get, usage, delete, disable, list). */
#include "client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "google/protobuf/empty.pb-c.h"
#include "teaclave_frontend_service.pb-c.h"

/* The repeated members of a Register/UpdateFunctionRequest, built from a spec.
 * Pointers refer into the spec; only the arrays are allocated. */
struct function_request_parts {
    TeaclaveFrontendServiceProto__FunctionArgument *arguments;
    TeaclaveFrontendServiceProto__FunctionArgument **argument_ptrs;
    TeaclaveFrontendServiceProto__FunctionInput *inputs;
    TeaclaveFrontendServiceProto__FunctionInput **input_ptrs;
    TeaclaveFrontendServiceProto__FunctionOutput *outputs;
    TeaclaveFrontendServiceProto__FunctionOutput **output_ptrs;
};

static void parts_free(struct function_request_parts *p)
{
    free(p->arguments);
    free(p->argument_ptrs);
    free(p->inputs);
    free(p->input_ptrs);
    free(p->outputs);
    free(p->output_ptrs);
}

static int parts_build(const struct steep_function_spec *spec, struct function_request_parts *p,
                       struct steep_error *err)
{
    memset(p, 0, sizeof(*p));
    size_t na = spec->n_arguments, ni = spec->n_inputs, no = spec->n_outputs;
    p->arguments = calloc(na + 1, sizeof(*p->arguments));
    p->argument_ptrs = calloc(na + 1, sizeof(*p->argument_ptrs));
    p->inputs = calloc(ni + 1, sizeof(*p->inputs));
    p->input_ptrs = calloc(ni + 1, sizeof(*p->input_ptrs));
    p->outputs = calloc(no + 1, sizeof(*p->outputs));
    p->output_ptrs = calloc(no + 1, sizeof(*p->output_ptrs));
    if (!p->arguments || !p->argument_ptrs || !p->inputs || !p->input_ptrs || !p->outputs ||
        !p->output_ptrs) {
        parts_free(p);
        return client_error(err, "out of memory");
    }
    for (size_t i = 0; i < na; i++) {
        TeaclaveFrontendServiceProto__FunctionArgument *a = &p->arguments[i];
        teaclave_frontend_service_proto__function_argument__init(a);
        a->key = (char *)spec->arguments[i].key;
        a->default_value =
            (char *)(spec->arguments[i].default_value ? spec->arguments[i].default_value : "");
        a->allow_overwrite = spec->arguments[i].allow_overwrite;
        p->argument_ptrs[i] = a;
    }
    for (size_t i = 0; i < ni; i++) {
        TeaclaveFrontendServiceProto__FunctionInput *in = &p->inputs[i];
        teaclave_frontend_service_proto__function_input__init(in);
        in->name = (char *)spec->inputs[i].name;
        in->description = (char *)(spec->inputs[i].description ? spec->inputs[i].description : "");
        in->optional = spec->inputs[i].optional;
        p->input_ptrs[i] = in;
    }
    for (size_t i = 0; i < no; i++) {
        TeaclaveFrontendServiceProto__FunctionOutput *out = &p->outputs[i];
        teaclave_frontend_service_proto__function_output__init(out);
        out->name = (char *)spec->outputs[i].name;
        out->description =
            (char *)(spec->outputs[i].description ? spec->outputs[i].description : "");
        out->optional = spec->outputs[i].optional;
        p->output_ptrs[i] = out;
    }
    return 0;
}

/* Register- and UpdateFunctionRequest carry the same members under the same
 * names (at different positions), so one macro fills either. */
#define FILL_FUNCTION_REQUEST(request, spec, parts)                                                \
    do {                                                                                           \
        (request).name = (char *)(spec)->name;                                                     \
        (request).description = (char *)((spec)->description ? (spec)->description : "");          \
        (request).executor_type = (char *)(spec)->executor_type;                                   \
        (request).public_ = (spec)->public_function;                                               \
        (request).payload.data = (uint8_t *)(spec)->payload;                                       \
        (request).payload.len = (spec)->payload_len;                                               \
        (request).n_arguments = (spec)->n_arguments;                                               \
        (request).arguments = (parts).argument_ptrs;                                               \
        (request).n_inputs = (spec)->n_inputs;                                                     \
        (request).inputs = (parts).input_ptrs;                                                     \
        (request).n_outputs = (spec)->n_outputs;                                                   \
        (request).outputs = (parts).output_ptrs;                                                   \
        (request).n_user_allowlist = (spec)->n_user_allowlist;                                     \
        (request).user_allowlist = (char **)(spec)->user_allowlist;                                \
        (request).usage_quota = (spec)->usage_quota;                                               \
    } while (0)

static int check_spec(const struct steep_function_spec *spec, struct steep_error *err)
{
    if (!spec || !spec->name || !spec->executor_type)
        return client_error(err, "a function needs a name and an executor type");
    return 0;
}

int steep_register_function(steep_client *client, const struct steep_function_spec *spec,
                            char **function_id, struct steep_error *err)
{
    struct function_request_parts parts;
    if (check_spec(spec, err) < 0 || parts_build(spec, &parts, err) < 0)
        return -1;
    TeaclaveFrontendServiceProto__RegisterFunctionRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_FUNCTION_REQUEST__INIT;
    FILL_FUNCTION_REQUEST(request, spec, parts);
    ProtobufCMessage *message = NULL;
    int rc = client_call(client, CLIENT_FRONTEND, "RegisterFunction", &request.base,
                         &teaclave_frontend_service_proto__register_function_response__descriptor,
                         &message, true, err);
    parts_free(&parts);
    if (rc < 0)
        return -1;
    TeaclaveFrontendServiceProto__RegisterFunctionResponse *response = (void *)message;
    *function_id = client_strdup(response->function_id, err);
    protobuf_c_message_free_unpacked(message, NULL);
    return *function_id ? 0 : -1;
}

int steep_update_function(steep_client *client, const char *function_id,
                          const struct steep_function_spec *spec, struct steep_error *err)
{
    struct function_request_parts parts;
    if (check_spec(spec, err) < 0 || parts_build(spec, &parts, err) < 0)
        return -1;
    TeaclaveFrontendServiceProto__UpdateFunctionRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__UPDATE_FUNCTION_REQUEST__INIT;
    request.function_id = (char *)function_id;
    FILL_FUNCTION_REQUEST(request, spec, parts);
    ProtobufCMessage *message = NULL;
    int rc = client_call(client, CLIENT_FRONTEND, "UpdateFunction", &request.base,
                         &teaclave_frontend_service_proto__update_function_response__descriptor,
                         &message, true, err);
    parts_free(&parts);
    if (rc == 0)
        protobuf_c_message_free_unpacked(message, NULL);
    return rc;
}

void steep_function_free(struct steep_function *f)
{
    if (!f)
        return;
    free(f->name);
    free(f->description);
    free(f->executor_type);
    free(f->owner);
    free(f->payload);
    for (size_t i = 0; i < f->n_arguments; i++) {
        free((char *)f->arguments[i].key);
        free((char *)f->arguments[i].default_value);
    }
    free(f->arguments);
    for (size_t i = 0; i < f->n_inputs; i++) {
        free((char *)f->inputs[i].name);
        free((char *)f->inputs[i].description);
    }
    free(f->inputs);
    for (size_t i = 0; i < f->n_outputs; i++) {
        free((char *)f->outputs[i].name);
        free((char *)f->outputs[i].description);
    }
    free(f->outputs);
    steep_string_list_free(&f->user_allowlist);
    free(f);
}

/* Copies name/description/optional of inputs or outputs (same layout in the proto). */
static int copy_ios(TeaclaveFrontendServiceProto__FunctionInput **in, size_t n,
                    struct steep_function_io **out, size_t *n_out, struct steep_error *err)
{
    *out = calloc(n + 1, sizeof(**out));
    if (!*out)
        return client_error(err, "out of memory");
    for (size_t i = 0; i < n; i++, (*n_out)++) {
        (*out)[i].name = client_strdup(in[i]->name, err);
        (*out)[i].description = client_strdup(in[i]->description, err);
        (*out)[i].optional = in[i]->optional;
        if (!(*out)[i].name || !(*out)[i].description) {
            (*n_out)++;
            return -1;
        }
    }
    return 0;
}

static int convert_function(const TeaclaveFrontendServiceProto__GetFunctionResponse *r,
                            struct steep_function *f, struct steep_error *err)
{
    if (!(f->name = client_strdup(r->name, err)) ||
        !(f->description = client_strdup(r->description, err)) ||
        !(f->executor_type = client_strdup(r->executor_type, err)) ||
        !(f->owner = client_strdup(r->owner, err)))
        return -1;
    f->public_function = r->public_;
    if (r->payload.len) {
        if (!(f->payload = malloc(r->payload.len)))
            return client_error(err, "out of memory");
        memcpy(f->payload, r->payload.data, r->payload.len);
        f->payload_len = r->payload.len;
    }
    f->arguments = calloc(r->n_arguments + 1, sizeof(*f->arguments));
    if (!f->arguments)
        return client_error(err, "out of memory");
    for (size_t i = 0; i < r->n_arguments; i++, f->n_arguments++) {
        f->arguments[i].key = client_strdup(r->arguments[i]->key, err);
        f->arguments[i].default_value = client_strdup(r->arguments[i]->default_value, err);
        f->arguments[i].allow_overwrite = r->arguments[i]->allow_overwrite;
        if (!f->arguments[i].key || !f->arguments[i].default_value) {
            f->n_arguments++;
            return -1;
        }
    }
    /* FunctionInput and FunctionOutput share one layout. */
    if (copy_ios(r->inputs, r->n_inputs, &f->inputs, &f->n_inputs, err) < 0 ||
        copy_ios((TeaclaveFrontendServiceProto__FunctionInput **)r->outputs, r->n_outputs,
                 &f->outputs, &f->n_outputs, err) < 0)
        return -1;
    return client_copy_strings(r->user_allowlist, r->n_user_allowlist, &f->user_allowlist, err);
}

int steep_get_function(steep_client *client, const char *function_id,
                       struct steep_function **function, struct steep_error *err)
{
    TeaclaveFrontendServiceProto__GetFunctionRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_FUNCTION_REQUEST__INIT;
    request.function_id = (char *)function_id;
    ProtobufCMessage *message = NULL;
    if (client_call(client, CLIENT_FRONTEND, "GetFunction", &request.base,
                    &teaclave_frontend_service_proto__get_function_response__descriptor, &message,
                    true, err) < 0)
        return -1;
    struct steep_function *f = calloc(1, sizeof(*f));
    int rc = f ? convert_function((void *)message, f, err) : client_error(err, "out of memory");
    protobuf_c_message_free_unpacked(message, NULL);
    if (rc < 0) {
        steep_function_free(f);
        return -1;
    }
    *function = f;
    return 0;
}

int steep_get_function_usage_stats(steep_client *client, const char *function_id, int32_t *quota,
                                   int32_t *current_usage, struct steep_error *err)
{
    TeaclaveFrontendServiceProto__GetFunctionUsageStatsRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_FUNCTION_USAGE_STATS_REQUEST__INIT;
    request.function_id = (char *)function_id;
    ProtobufCMessage *message = NULL;
    if (client_call(client, CLIENT_FRONTEND, "GetFunctionUsageStats", &request.base,
                    &teaclave_frontend_service_proto__get_function_usage_stats_response__descriptor,
                    &message, true, err) < 0)
        return -1;
    TeaclaveFrontendServiceProto__GetFunctionUsageStatsResponse *response = (void *)message;
    *quota = response->function_quota;
    *current_usage = response->current_usage;
    protobuf_c_message_free_unpacked(message, NULL);
    return 0;
}

static int function_id_call(steep_client *client, const char *method, const char *function_id,
                            struct steep_error *err)
{
    /* DeleteFunctionRequest and DisableFunctionRequest share one layout. */
    TeaclaveFrontendServiceProto__DeleteFunctionRequest del =
        TEACLAVE_FRONTEND_SERVICE_PROTO__DELETE_FUNCTION_REQUEST__INIT;
    TeaclaveFrontendServiceProto__DisableFunctionRequest dis =
        TEACLAVE_FRONTEND_SERVICE_PROTO__DISABLE_FUNCTION_REQUEST__INIT;
    del.function_id = dis.function_id = (char *)function_id;
    const ProtobufCMessage *request = !strcmp(method, "DeleteFunction") ? &del.base : &dis.base;
    ProtobufCMessage *message = NULL;
    if (client_call(client, CLIENT_FRONTEND, method, request, &google__protobuf__empty__descriptor,
                    &message, true, err) < 0)
        return -1;
    protobuf_c_message_free_unpacked(message, NULL);
    return 0;
}

int steep_delete_function(steep_client *client, const char *function_id, struct steep_error *err)
{
    return function_id_call(client, "DeleteFunction", function_id, err);
}

int steep_disable_function(steep_client *client, const char *function_id, struct steep_error *err)
{
    return function_id_call(client, "DisableFunction", function_id, err);
}

int steep_list_functions(steep_client *client, const char *user_id,
                         struct steep_string_list *registered, struct steep_string_list *allowed,
                         struct steep_error *err)
{
    TeaclaveFrontendServiceProto__ListFunctionsRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__LIST_FUNCTIONS_REQUEST__INIT;
    request.user_id = (char *)user_id;
    ProtobufCMessage *message = NULL;
    if (client_call(client, CLIENT_FRONTEND, "ListFunctions", &request.base,
                    &teaclave_frontend_service_proto__list_functions_response__descriptor, &message,
                    true, err) < 0)
        return -1;
    TeaclaveFrontendServiceProto__ListFunctionsResponse *response = (void *)message;
    int rc = client_copy_strings(response->registered_functions, response->n_registered_functions,
                                 registered, err);
    if (rc == 0 && client_copy_strings(response->allowed_functions, response->n_allowed_functions,
                                       allowed, err) < 0) {
        steep_string_list_free(registered);
        rc = -1;
    }
    protobuf_c_message_free_unpacked(message, NULL);
    return rc;
}
