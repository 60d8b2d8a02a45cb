/*
 * Input and output files (teaclave-api.md §5.2, §5.4): registration with
 * validated crypto info and cmac, "updates" that write a new record under a
 * new id (Teaclave's behaviour), fusion outputs owned jointly, inputs made
 * from finished outputs, and reads of owners and cmac. Ownership questions
 * go to the policy (data_access, data_update).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ids.h"
#include "management.h"
#include "records.h"
#include "rpc/rpc.h"

#define NEW_MESSAGE(var, type, init)                                                               \
    type *var = malloc(sizeof *var);                                                               \
    if (!var)                                                                                      \
        return steep_management_internal("allocation");                                            \
    init(var)

/* "scheme:rest" with an RFC 3986 scheme, as the url crate requires. */
static int check_url(const char *url)
{
    const char *p = url ? url : "";
    if (!isalpha((unsigned char)*p))
        return steep_management_fail(STEEP_GRPC_INTERNAL, "invalid url: RelativeUrlWithoutBase");
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (*p != ':' || p[1] == '\0')
        return steep_management_fail(STEEP_GRPC_INTERNAL, "invalid url: RelativeUrlWithoutBase");
    for (p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return steep_management_fail(STEEP_GRPC_INTERNAL, "invalid url: InvalidCharacter");
    /* File records are copied into task and StagedTask records (records.h). */
    if ((size_t)(p - url) > steep_record_limits.url_max)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT,
                                     "url too long: %zu bytes; the limit is %zu bytes",
                                     (size_t)(p - url), steep_record_limits.url_max);
    return 0;
}

/* Loads "<prefix>-<uuid>" named by data_id: INVALID_ARGUMENT "invalid data id"
 * when it does not parse or does not exist. */
static int load_file(struct steep_management *m, const char *prefix, const char *data_id,
                     char uuid[STEEP_UUID_TEXT], json_t **file)
{
    if (steep_id_parse(data_id, prefix, uuid) < 0)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid data id");
    char key[STEEP_ID_TEXT];
    snprintf(key, sizeof key, "%s-%s", prefix, uuid);
    int rc = steep_record_load(&m->kv, key, file, NULL);
    if (rc == STEEP_STORE_NOT_FOUND)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid data id");
    if (rc != STEEP_STORE_OK)
        return steep_management_internal("load file");
    return 0;
}

/* Asks the policy `request` (data_access / data_update) about this file. */
static int check_file(struct steep_management *m, const char *request, const char *data_id,
                      const json_t *file, const struct steep_management_caller *caller)
{
    struct steep_management_facts facts = {0};
    int rc = steep_management_fact_set(&facts, "data_owner", data_id, NULL,
                                       json_object_get(file, "owner"));
    if (rc == 0)
        rc = steep_management_fact(&facts, "requester", 1, caller->id);
    if (rc < 0)
        rc = steep_management_internal("facts");
    else
        rc = steep_management_check(m, request, &facts, "data", data_id, "usr", caller->id, NULL);
    steep_management_facts_free(&facts);
    return rc;
}

/* Stores a new file record under "<prefix>-<new uuid>"; id receives the key. */
static int store_new_file(struct steep_management *m, const char *prefix, const char *url,
                          const uint8_t *cmac, json_t *crypto, json_t *owner,
                          char id[STEEP_ID_TEXT])
{
    char uuid[STEEP_UUID_TEXT];
    if (steep_id_new(prefix, id, uuid) < 0) {
        json_decref(crypto);
        json_decref(owner);
        return steep_management_internal("id");
    }
    json_t *file = steep_record_file(url, cmac, crypto, owner, uuid);
    int rc = file ? steep_record_save(&m->kv, id, file) : -1;
    json_decref(file);
    return rc == STEEP_STORE_OK ? 0 : steep_management_internal("save file");
}

STEEP_MANAGEMENT_HANDLER(steep_management_register_input_file)
{
    const TeaclaveFrontendServiceProto__RegisterInputFileRequest *req = (const void *)request;
    GUARD_CODE(check_url(req->url));
    if (req->cmac.len != 16)
        return steep_management_fail(STEEP_GRPC_INTERNAL, "invalid cmac: expected 16 bytes");
    json_t *crypto = steep_record_crypto(req->crypto_info);
    if (!crypto)
        return steep_management_fail(STEEP_GRPC_INTERNAL, "%s", steep_error_get());
    char id[STEEP_ID_TEXT];
    GUARD_CODE(store_new_file(m, "input", req->url, req->cmac.data, crypto,
                              steep_record_set(&caller->id, 1), id));
    NEW_MESSAGE(resp, TeaclaveFrontendServiceProto__RegisterInputFileResponse,
                teaclave_frontend_service_proto__register_input_file_response__init);
    resp->data_id = steep_management_strdup(id);
    *response = &resp->base;
    return 0;
}

STEEP_MANAGEMENT_HANDLER(steep_management_register_output_file)
{
    const TeaclaveFrontendServiceProto__RegisterOutputFileRequest *req = (const void *)request;
    GUARD_CODE(check_url(req->url));
    json_t *crypto = steep_record_crypto(req->crypto_info);
    if (!crypto)
        return steep_management_fail(STEEP_GRPC_INTERNAL, "%s", steep_error_get());
    char id[STEEP_ID_TEXT];
    GUARD_CODE(
        store_new_file(m, "output", req->url, NULL, crypto, steep_record_set(&caller->id, 1), id));
    NEW_MESSAGE(resp, TeaclaveFrontendServiceProto__RegisterOutputFileResponse,
                teaclave_frontend_service_proto__register_output_file_response__init);
    resp->data_id = steep_management_strdup(id);
    *response = &resp->base;
    return 0;
}

/* Update{Input,Output}File: a new record (new id) with the new URL; an
 * output's cmac is reset. The old record stays. */
static int update_file(struct steep_management *m, const struct steep_management_caller *caller,
                       const char *prefix, const char *data_id, const char *url,
                       char new_id[STEEP_ID_TEXT])
{
    char uuid[STEEP_UUID_TEXT];
    json_t *file = NULL;
    GUARD_CODE(load_file(m, prefix, data_id, uuid, &file));
    int rc = check_file(m, "data_update", data_id, file, caller);
    if (rc == 0)
        rc = check_url(url);
    if (rc == 0) {
        uint8_t cmac[16];
        bool keep_cmac = strcmp(prefix, "input") == 0 && steep_record_file_cmac(file, cmac);
        json_t *crypto = json_incref(json_object_get(file, "crypto_info"));
        json_t *owner = json_deep_copy(json_object_get(file, "owner"));
        rc = store_new_file(m, prefix, url, keep_cmac ? cmac : NULL, crypto, owner, new_id);
    }
    json_decref(file);
    return rc;
}

STEEP_MANAGEMENT_HANDLER(steep_management_update_input_file)
{
    const TeaclaveFrontendServiceProto__UpdateInputFileRequest *req = (const void *)request;
    char id[STEEP_ID_TEXT];
    GUARD_CODE(update_file(m, caller, "input", req->data_id, req->url, id));
    NEW_MESSAGE(resp, TeaclaveFrontendServiceProto__UpdateInputFileResponse,
                teaclave_frontend_service_proto__update_input_file_response__init);
    resp->data_id = steep_management_strdup(id);
    *response = &resp->base;
    return 0;
}

STEEP_MANAGEMENT_HANDLER(steep_management_update_output_file)
{
    const TeaclaveFrontendServiceProto__UpdateOutputFileRequest *req = (const void *)request;
    char id[STEEP_ID_TEXT];
    GUARD_CODE(update_file(m, caller, "output", req->data_id, req->url, id));
    NEW_MESSAGE(resp, TeaclaveFrontendServiceProto__UpdateOutputFileResponse,
                teaclave_frontend_service_proto__update_output_file_response__init);
    resp->data_id = steep_management_strdup(id);
    *response = &resp->base;
    return 0;
}

STEEP_MANAGEMENT_HANDLER(steep_management_register_fusion_output)
{
    const TeaclaveFrontendServiceProto__RegisterFusionOutputRequest *req = (const void *)request;
    bool has_caller = false;
    for (size_t i = 0; i < req->n_owner_list; i++)
        has_caller = has_caller || strcmp(req->owner_list[i], caller->id) == 0;
    if (req->n_owner_list <= 1 || !has_caller)
        return steep_management_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
    char uuid[STEEP_UUID_TEXT], url[128];
    if (steep_uuid_new(uuid) < 0)
        return steep_management_internal("id");
    snprintf(url, sizeof url, "fusion:///TEACLAVE_FUSION_BASE/%s.fusion", uuid);
    json_t *crypto = steep_record_crypto_random_tf128();
    if (!crypto)
        return steep_management_internal("fusion key");
    char id[STEEP_ID_TEXT];
    GUARD_CODE(store_new_file(
        m, "output", url, NULL, crypto,
        steep_record_set((const char *const *)req->owner_list, req->n_owner_list), id));
    NEW_MESSAGE(resp, TeaclaveFrontendServiceProto__RegisterFusionOutputResponse,
                teaclave_frontend_service_proto__register_fusion_output_response__init);
    resp->data_id = steep_management_strdup(id);
    *response = &resp->base;
    return 0;
}

STEEP_MANAGEMENT_HANDLER(steep_management_register_input_from_output)
{
    const TeaclaveFrontendServiceProto__RegisterInputFromOutputRequest *req = (const void *)request;
    char uuid[STEEP_UUID_TEXT];
    json_t *output = NULL;
    GUARD_CODE(load_file(m, "output", req->data_id, uuid, &output));
    int rc = check_file(m, "data_access", req->data_id, output, caller);
    uint8_t cmac[16];
    if (rc == 0 && !steep_record_file_cmac(output, cmac))
        rc = steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid output file");
    char id[STEEP_ID_TEXT];
    snprintf(id, sizeof id, "input-%s", uuid);
    if (rc == 0) {
        json_t *input = steep_record_file(steep_record_string(output, "url"), cmac,
                                          json_incref(json_object_get(output, "crypto_info")),
                                          json_incref(json_object_get(output, "owner")), uuid);
        if (!input || steep_record_save(&m->kv, id, input) != STEEP_STORE_OK)
            rc = steep_management_internal("save input");
        json_decref(input);
    }
    json_decref(output);
    if (rc != 0)
        return rc;
    NEW_MESSAGE(resp, TeaclaveFrontendServiceProto__RegisterInputFromOutputResponse,
                teaclave_frontend_service_proto__register_input_from_output_response__init);
    resp->data_id = steep_management_strdup(id);
    *response = &resp->base;
    return 0;
}

/* Get{Input,Output}File: owners and cmac (empty when not produced yet). */
static int get_file(struct steep_management *m, const struct steep_management_caller *caller,
                    const char *prefix, const char *data_id, char ***owners, size_t *n_owners,
                    ProtobufCBinaryData *cmac_out)
{
    char uuid[STEEP_UUID_TEXT];
    json_t *file = NULL;
    GUARD_CODE(load_file(m, prefix, data_id, uuid, &file));
    int rc = check_file(m, "data_access", data_id, file, caller);
    if (rc == 0) {
        json_t *uids = steep_record_set_uids(json_object_get(file, "owner"));
        *n_owners = json_array_size(uids);
        *owners = calloc(*n_owners + 1, sizeof **owners);
        for (size_t i = 0; *owners && i < *n_owners; i++)
            (*owners)[i] = steep_management_strdup(json_string_value(json_array_get(uids, i)));
        uint8_t cmac[16];
        if (steep_record_file_cmac(file, cmac)) {
            cmac_out->data = malloc(16);
            if (cmac_out->data) {
                memcpy(cmac_out->data, cmac, 16);
                cmac_out->len = 16;
            }
        }
        if (!*owners)
            rc = steep_management_internal("allocation");
    }
    json_decref(file);
    return rc;
}

STEEP_MANAGEMENT_HANDLER(steep_management_get_input_file)
{
    const TeaclaveFrontendServiceProto__GetInputFileRequest *req = (const void *)request;
    NEW_MESSAGE(resp, TeaclaveFrontendServiceProto__GetInputFileResponse,
                teaclave_frontend_service_proto__get_input_file_response__init);
    int rc = get_file(m, caller, "input", req->data_id, &resp->owner, &resp->n_owner, &resp->cmac);
    if (rc != 0) {
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        return rc;
    }
    *response = &resp->base;
    return 0;
}

STEEP_MANAGEMENT_HANDLER(steep_management_get_output_file)
{
    const TeaclaveFrontendServiceProto__GetOutputFileRequest *req = (const void *)request;
    NEW_MESSAGE(resp, TeaclaveFrontendServiceProto__GetOutputFileResponse,
                teaclave_frontend_service_proto__get_output_file_response__init);
    int rc = get_file(m, caller, "output", req->data_id, &resp->owner, &resp->n_owner, &resp->cmac);
    if (rc != 0) {
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        return rc;
    }
    *response = &resp->base;
    return 0;
}
