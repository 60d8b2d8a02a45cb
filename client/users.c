/* libsteep: the authentication service's API (users and login). */
#include "client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "google/protobuf/empty.pb-c.h"
#include "teaclave_authentication_service.pb-c.h"

#define EMPTY (&google__protobuf__empty__descriptor)

static int call_empty(steep_client *client, const char *method, const ProtobufCMessage *request,
                      struct steep_error *err)
{
    ProtobufCMessage *response = NULL;
    if (client_call(client, CLIENT_AUTHENTICATION, method, request, EMPTY, &response, true, err) <
        0)
        return -1;
    protobuf_c_message_free_unpacked(response, NULL);
    return 0;
}

int steep_user_login(steep_client *client, const char *user_id, const char *password, char **token,
                     struct steep_error *err)
{
    TeaclaveAuthenticationServiceProto__UserLoginRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_LOGIN_REQUEST__INIT;
    request.id = (char *)user_id;
    request.password = (char *)password;
    ProtobufCMessage *message = NULL;
    if (client_call(client, CLIENT_AUTHENTICATION, "UserLogin", &request.base,
                    &teaclave_authentication_service_proto__user_login_response__descriptor,
                    &message, false, err) < 0)
        return -1;
    TeaclaveAuthenticationServiceProto__UserLoginResponse *response = (void *)message;
    int rc = steep_client_set_credential(client, user_id, response->token, err);
    if (rc == 0 && token && !(*token = client_strdup(response->token, err)))
        rc = -1;
    protobuf_c_message_free_unpacked(message, NULL);
    return rc;
}

int steep_user_register(steep_client *client, const char *user_id, const char *password,
                        const char *role, const char *attribute, struct steep_error *err)
{
    TeaclaveAuthenticationServiceProto__UserRegisterRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_REGISTER_REQUEST__INIT;
    request.id = (char *)user_id;
    request.password = (char *)password;
    request.role = (char *)role;
    request.attribute = (char *)(attribute ? attribute : "");
    return call_empty(client, "UserRegister", &request.base, err);
}

int steep_user_update(steep_client *client, const char *user_id, const char *password,
                      const char *role, const char *attribute, struct steep_error *err)
{
    TeaclaveAuthenticationServiceProto__UserUpdateRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_UPDATE_REQUEST__INIT;
    request.id = (char *)user_id;
    request.password = (char *)password;
    request.role = (char *)role;
    request.attribute = (char *)(attribute ? attribute : "");
    return call_empty(client, "UserUpdate", &request.base, err);
}

int steep_user_change_password(steep_client *client, const char *new_password,
                               struct steep_error *err)
{
    TeaclaveAuthenticationServiceProto__UserChangePasswordRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_CHANGE_PASSWORD_REQUEST__INIT;
    request.password = (char *)new_password;
    return call_empty(client, "UserChangePassword", &request.base, err);
}

int steep_user_reset_password(steep_client *client, const char *user_id, char **new_password,
                              struct steep_error *err)
{
    TeaclaveAuthenticationServiceProto__ResetUserPasswordRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__RESET_USER_PASSWORD_REQUEST__INIT;
    request.id = (char *)user_id;
    ProtobufCMessage *message = NULL;
    if (client_call(
            client, CLIENT_AUTHENTICATION, "ResetUserPassword", &request.base,
            &teaclave_authentication_service_proto__reset_user_password_response__descriptor,
            &message, true, err) < 0)
        return -1;
    TeaclaveAuthenticationServiceProto__ResetUserPasswordResponse *response = (void *)message;
    *new_password = client_strdup(response->password, err);
    protobuf_c_message_free_unpacked(message, NULL);
    return *new_password ? 0 : -1;
}

int steep_user_delete(steep_client *client, const char *user_id, struct steep_error *err)
{
    TeaclaveAuthenticationServiceProto__DeleteUserRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__DELETE_USER_REQUEST__INIT;
    request.id = (char *)user_id;
    return call_empty(client, "DeleteUser", &request.base, err);
}

int steep_user_list(steep_client *client, const char *attribute_filter,
                    struct steep_string_list *ids, struct steep_error *err)
{
    TeaclaveAuthenticationServiceProto__ListUsersRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__LIST_USERS_REQUEST__INIT;
    request.id = (char *)(attribute_filter ? attribute_filter : "");
    ProtobufCMessage *message = NULL;
    if (client_call(client, CLIENT_AUTHENTICATION, "ListUsers", &request.base,
                    &teaclave_authentication_service_proto__list_users_response__descriptor,
                    &message, true, err) < 0)
        return -1;
    TeaclaveAuthenticationServiceProto__ListUsersResponse *response = (void *)message;
    int rc = client_copy_strings(response->ids, response->n_ids, ids, err);
    protobuf_c_message_free_unpacked(message, NULL);
    return rc;
}
