/* libsteep: input and output files, fusion outputs. */
#include "client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "teaclave_frontend_service.pb-c.h"

/* Calls a method whose response carries a single `data_id` string. */
static int data_id_call(steep_client *client, const char *method, const ProtobufCMessage *request,
                        const ProtobufCMessageDescriptor *response_type, char **data_id,
                        struct steep_error *err)
{
    ProtobufCMessage *message = NULL;
    if (client_call(client, CLIENT_FRONTEND, method, request, response_type, &message, true, err) <
        0)
        return -1;
    /* Every *Response of these methods is {string data_id = 1;}. */
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name(response_type, "data_id");
    char *value = *(char **)((char *)message + field->offset);
    *data_id = client_strdup(value, err);
    protobuf_c_message_free_unpacked(message, NULL);
    return *data_id ? 0 : -1;
}

static void fill_crypto(TeaclaveCommonProto__FileCryptoInfo *info,
                        const struct steep_crypto_info *crypto)
{
    info->schema = (char *)crypto->schema;
    info->key.data = (uint8_t *)crypto->key;
    info->key.len = crypto->key_len;
    info->iv.data = (uint8_t *)crypto->iv;
    info->iv.len = crypto->iv_len;
}

int steep_register_input_file(steep_client *client, const char *url, const uint8_t cmac[16],
                              const struct steep_crypto_info *crypto, char **data_id,
                              struct steep_error *err)
{
    if (!url || !crypto || !crypto->schema)
        return client_error(err, "an input file needs a URL and crypto info");
    TeaclaveCommonProto__FileCryptoInfo info = TEACLAVE_COMMON_PROTO__FILE_CRYPTO_INFO__INIT;
    fill_crypto(&info, crypto);
    TeaclaveFrontendServiceProto__RegisterInputFileRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_INPUT_FILE_REQUEST__INIT;
    request.url = (char *)url;
    request.cmac.data = (uint8_t *)cmac;
    request.cmac.len = cmac ? 16 : 0;
    request.crypto_info = &info;
    return data_id_call(client, "RegisterInputFile", &request.base,
                        &teaclave_frontend_service_proto__register_input_file_response__descriptor,
                        data_id, err);
}

int steep_register_output_file(steep_client *client, const char *url,
                               const struct steep_crypto_info *crypto, char **data_id,
                               struct steep_error *err)
{
    if (!url || !crypto || !crypto->schema)
        return client_error(err, "an output file needs a URL and crypto info");
    TeaclaveCommonProto__FileCryptoInfo info = TEACLAVE_COMMON_PROTO__FILE_CRYPTO_INFO__INIT;
    fill_crypto(&info, crypto);
    TeaclaveFrontendServiceProto__RegisterOutputFileRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_OUTPUT_FILE_REQUEST__INIT;
    request.url = (char *)url;
    request.crypto_info = &info;
    return data_id_call(client, "RegisterOutputFile", &request.base,
                        &teaclave_frontend_service_proto__register_output_file_response__descriptor,
                        data_id, err);
}

int steep_update_input_file(steep_client *client, const char *data_id, const char *url,
                            char **new_data_id, struct steep_error *err)
{
    TeaclaveFrontendServiceProto__UpdateInputFileRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__UPDATE_INPUT_FILE_REQUEST__INIT;
    request.data_id = (char *)data_id;
    request.url = (char *)url;
    return data_id_call(client, "UpdateInputFile", &request.base,
                        &teaclave_frontend_service_proto__update_input_file_response__descriptor,
                        new_data_id, err);
}

int steep_update_output_file(steep_client *client, const char *data_id, const char *url,
                             char **new_data_id, struct steep_error *err)
{
    TeaclaveFrontendServiceProto__UpdateOutputFileRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__UPDATE_OUTPUT_FILE_REQUEST__INIT;
    request.data_id = (char *)data_id;
    request.url = (char *)url;
    return data_id_call(client, "UpdateOutputFile", &request.base,
                        &teaclave_frontend_service_proto__update_output_file_response__descriptor,
                        new_data_id, err);
}

int steep_register_fusion_output(steep_client *client, const char *const *owners, size_t n_owners,
                                 char **data_id, struct steep_error *err)
{
    TeaclaveFrontendServiceProto__RegisterFusionOutputRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_FUSION_OUTPUT_REQUEST__INIT;
    request.owner_list = (char **)owners;
    request.n_owner_list = n_owners;
    return data_id_call(
        client, "RegisterFusionOutput", &request.base,
        &teaclave_frontend_service_proto__register_fusion_output_response__descriptor, data_id,
        err);
}

int steep_register_input_from_output(steep_client *client, const char *output_id, char **input_id,
                                     struct steep_error *err)
{
    TeaclaveFrontendServiceProto__RegisterInputFromOutputRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_INPUT_FROM_OUTPUT_REQUEST__INIT;
    request.data_id = (char *)output_id;
    return data_id_call(
        client, "RegisterInputFromOutput", &request.base,
        &teaclave_frontend_service_proto__register_input_from_output_response__descriptor, input_id,
        err);
}

int steep_get_file(steep_client *client, const char *data_id, struct steep_file_info *info,
                   struct steep_error *err)
{
    memset(info, 0, sizeof(*info));
    bool output = data_id && !strncmp(data_id, "output-", 7);
    /* Get{Input,Output}FileRequest are both {string data_id = 1;}, and both
     * responses {repeated string owner = 1; bytes cmac = 2;}. */
    TeaclaveFrontendServiceProto__GetInputFileRequest in =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_INPUT_FILE_REQUEST__INIT;
    TeaclaveFrontendServiceProto__GetOutputFileRequest out =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_OUTPUT_FILE_REQUEST__INIT;
    in.data_id = out.data_id = (char *)data_id;
    ProtobufCMessage *message = NULL;
    if (client_call(client, CLIENT_FRONTEND, output ? "GetOutputFile" : "GetInputFile",
                    output ? &out.base : &in.base,
                    output ? &teaclave_frontend_service_proto__get_output_file_response__descriptor
                           : &teaclave_frontend_service_proto__get_input_file_response__descriptor,
                    &message, true, err) < 0)
        return -1;
    TeaclaveFrontendServiceProto__GetInputFileResponse *response = (void *)message;
    int rc = client_copy_strings(response->owner, response->n_owner, &info->owners, err);
    if (rc == 0 && response->cmac.len == 16) {
        memcpy(info->cmac, response->cmac.data, 16);
        info->has_cmac = true;
    }
    protobuf_c_message_free_unpacked(message, NULL);
    return rc;
}

void steep_file_info_free(struct steep_file_info *info)
{
    if (info)
        steep_string_list_free(&info->owners);
}
