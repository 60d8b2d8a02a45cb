/*
 * Client side of steep-access-control: builds the request messages, makes
 * one unary call with a deadline and turns every failure into -1 (callers
 * deny on -1).
 */
#include "policy/acs_client.h"

#include "core/error.h"

#include "steep_access_control.pb-c.h"
#include "teaclave_access_control_service.pb-c.h"

#include <stdio.h>
#include <stdlib.h>

int steep_acs_authorize_api(struct steep_rpc_client *client, const char *role, const char *api,
                            bool *accept)
{
    *accept = false;
    TeaclaveAccessControlServiceProto__AuthorizeApiRequest request =
        TEACLAVE_ACCESS_CONTROL_SERVICE_PROTO__AUTHORIZE_API_REQUEST__INIT;
    request.user_role = (char *)role;
    request.api = (char *)api;
    ProtobufCMessage *response = NULL;
    struct steep_rpc_status status;
    if (steep_rpc_call(client, STEEP_ACS_PATH_AUTHORIZE_API, &request.base,
                       &teaclave_access_control_service_proto__authorize_api_response__descriptor,
                       &response, NULL, 0, STEEP_ACS_TIMEOUT_MS, &status) < 0)
        return steep_error_set("access control: %s (%s)", status.message,
                               steep_grpc_code_name(status.code));
    *accept = ((TeaclaveAccessControlServiceProto__AuthorizeApiResponse *)response)->accept;
    protobuf_c_message_free_unpacked(response, NULL);
    return 0;
}

static void copy_reason(char *reason, size_t reason_len, const char *text)
{
    if (reason && reason_len)
        snprintf(reason, reason_len, "%s", text ? text : "");
}

int steep_acs_authorize(struct steep_rpc_client *client, const char *request_name,
                        const struct steep_acs_field *fields, size_t nfields,
                        const struct steep_acs_fact *facts, size_t nfacts, bool *accept,
                        char *reason, size_t reason_len)
{
    *accept = false;
    copy_reason(reason, reason_len, "");
    SteepAccessControlProto__Field *field_messages = calloc(nfields + 1, sizeof *field_messages);
    SteepAccessControlProto__Field **field_pointers = calloc(nfields + 1, sizeof *field_pointers);
    SteepAccessControlProto__Fact *fact_messages = calloc(nfacts + 1, sizeof *fact_messages);
    SteepAccessControlProto__Fact **fact_pointers = calloc(nfacts + 1, sizeof *fact_pointers);
    int rc = -1;
    if (!field_messages || !field_pointers || !fact_messages || !fact_pointers) {
        steep_error_set("out of memory");
        goto done;
    }
    for (size_t i = 0; i < nfields; i++) {
        steep_access_control_proto__field__init(&field_messages[i]);
        field_messages[i].name = (char *)fields[i].name;
        field_messages[i].value = (char *)fields[i].value;
        field_pointers[i] = &field_messages[i];
    }
    for (size_t i = 0; i < nfacts; i++) {
        steep_access_control_proto__fact__init(&fact_messages[i]);
        fact_messages[i].term = (char *)facts[i].term;
        fact_messages[i].n_values = facts[i].nvalues;
        fact_messages[i].values = (char **)facts[i].values;
        fact_pointers[i] = &fact_messages[i];
    }
    SteepAccessControlProto__AuthorizeRequest message =
        STEEP_ACCESS_CONTROL_PROTO__AUTHORIZE_REQUEST__INIT;
    message.request = (char *)request_name;
    message.n_fields = nfields;
    message.fields = field_pointers;
    message.n_facts = nfacts;
    message.facts = fact_pointers;
    ProtobufCMessage *response = NULL;
    struct steep_rpc_status status;
    if (steep_rpc_call(client, STEEP_ACS_PATH_AUTHORIZE, &message.base,
                       &steep_access_control_proto__authorize_response__descriptor, &response, NULL,
                       0, STEEP_ACS_TIMEOUT_MS, &status) < 0) {
        steep_error_set("access control: %s (%s)", status.message,
                        steep_grpc_code_name(status.code));
        copy_reason(reason, reason_len, steep_error_get());
        goto done;
    }
    SteepAccessControlProto__AuthorizeResponse *answer =
        (SteepAccessControlProto__AuthorizeResponse *)response;
    *accept = answer->accept;
    copy_reason(reason, reason_len, answer->reason);
    protobuf_c_message_free_unpacked(response, NULL);
    rc = 0;
done:
    free(field_messages);
    free(field_pointers);
    free(fact_messages);
    free(fact_pointers);
    return rc;
}
