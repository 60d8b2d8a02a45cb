/* Harness for steep-authentication tests; see auth_harness.h. */
#include "auth_harness.h"

#include "core/error.h"

#include "google/protobuf/empty.pb-c.h"
#include "teaclave_authentication_service.pb-c.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define API(m)      "/teaclave_authentication_service_proto.TeaclaveAuthenticationApi/" m
#define INTERNAL(m) "/teaclave_authentication_service_proto.TeaclaveAuthenticationInternal/" m

static int add_all(struct steep_rpc_server *server, void *arg)
{
    if (steep_auth_register_api(server, arg) < 0)
        return -1;
    return steep_auth_register_internal(server, arg);
}

static int open_and_serve(struct auth_env *env)
{
    env->options.state_dir = env->dir;
    env->auth = steep_auth_open(&env->options);
    if (!env->auth) {
        fprintf(stderr, "steep_auth_open: %s\n", steep_error_get());
        return -1;
    }
    if (test_server_start(&env->server, add_all, env->auth) < 0) {
        fprintf(stderr, "server: %s\n", steep_error_get());
        return -1;
    }
    return 0;
}

int auth_env_start(struct auth_env *env)
{
    memset(env, 0, sizeof *env);
    snprintf(env->dir, sizeof env->dir, "/tmp/steep-auth-test-XXXXXX");
    if (!mkdtemp(env->dir))
        return -1;
    memset(env->options.db_key, 0x11, sizeof env->options.db_key);
    memset(env->options.jwt_key, 0x22, sizeof env->options.jwt_key);
    memset(env->options.index_key, 0x55, sizeof env->options.index_key);
    /* cheap hashes keep the tests fast; the parameters are the service's choice */
    env->options.argon2 = (struct steep_auth_argon2){1, 64, 1};
    env->options.login_delay_base_ms = 0;
    env->options.login_delay_max_ms = 1;
    return open_and_serve(env);
}

void auth_env_stop(struct auth_env *env)
{
    test_server_stop(&env->server);
    steep_auth_close(env->auth);
    env->auth = NULL;
}

int auth_env_restart(struct auth_env *env)
{
    auth_env_stop(env);
    return open_and_serve(env);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void auth_env_destroy(struct auth_env *env)
{
    auth_env_stop(env);
    if (env->dir[0])
        nftw(env->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int call(struct auth_env *env, const char *path, const ProtobufCMessage *request,
                const ProtobufCMessageDescriptor *response_type, ProtobufCMessage **response,
                const char *id, const char *token)
{
    struct steep_rpc_metadata metadata[2];
    size_t n = 0;
    if (id)
        metadata[n++] = (struct steep_rpc_metadata){"id", id};
    if (token)
        metadata[n++] = (struct steep_rpc_metadata){"token", token};
    ProtobufCMessage *ignored = NULL;
    memset(&env->last_status, 0, sizeof env->last_status);
    if (steep_rpc_call(env->server.client, path, request, response_type,
                       response ? response : &ignored, metadata, n, 10000, &env->last_status) < 0)
        return env->last_status.code ? env->last_status.code : -1;
    if (ignored)
        protobuf_c_message_free_unpacked(ignored, NULL);
    return 0;
}

int auth_login(struct auth_env *env, const char *id, const char *password, char **token)
{
    TeaclaveAuthenticationServiceProto__UserLoginRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_LOGIN_REQUEST__INIT;
    request.id = (char *)id;
    request.password = (char *)password;
    ProtobufCMessage *response = NULL;
    int code = call(env, API("UserLogin"), &request.base,
                    &teaclave_authentication_service_proto__user_login_response__descriptor,
                    &response, NULL, NULL);
    if (code == 0 && token)
        *token = strdup(((TeaclaveAuthenticationServiceProto__UserLoginResponse *)response)->token);
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    return code;
}

int auth_register(struct auth_env *env, const char *as_id, const char *as_token, const char *id,
                  const char *password, const char *role, const char *attribute)
{
    TeaclaveAuthenticationServiceProto__UserRegisterRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_REGISTER_REQUEST__INIT;
    request.id = (char *)id;
    request.password = (char *)password;
    request.role = (char *)role;
    request.attribute = (char *)attribute;
    return call(env, API("UserRegister"), &request.base, &google__protobuf__empty__descriptor, NULL,
                as_id, as_token);
}

int auth_update(struct auth_env *env, const char *as_id, const char *as_token, const char *id,
                const char *password, const char *role, const char *attribute)
{
    TeaclaveAuthenticationServiceProto__UserUpdateRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_UPDATE_REQUEST__INIT;
    request.id = (char *)id;
    request.password = (char *)password;
    request.role = (char *)role;
    request.attribute = (char *)attribute;
    return call(env, API("UserUpdate"), &request.base, &google__protobuf__empty__descriptor, NULL,
                as_id, as_token);
}

int auth_change_password(struct auth_env *env, const char *as_id, const char *as_token,
                         const char *password)
{
    TeaclaveAuthenticationServiceProto__UserChangePasswordRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_CHANGE_PASSWORD_REQUEST__INIT;
    request.password = (char *)password;
    return call(env, API("UserChangePassword"), &request.base, &google__protobuf__empty__descriptor,
                NULL, as_id, as_token);
}

int auth_reset(struct auth_env *env, const char *as_id, const char *as_token, const char *id,
               char password[64])
{
    TeaclaveAuthenticationServiceProto__ResetUserPasswordRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__RESET_USER_PASSWORD_REQUEST__INIT;
    request.id = (char *)id;
    ProtobufCMessage *response = NULL;
    int code =
        call(env, API("ResetUserPassword"), &request.base,
             &teaclave_authentication_service_proto__reset_user_password_response__descriptor,
             &response, as_id, as_token);
    if (code == 0 && password)
        snprintf(
            password, 64, "%s",
            ((TeaclaveAuthenticationServiceProto__ResetUserPasswordResponse *)response)->password);
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    return code;
}

int auth_delete(struct auth_env *env, const char *as_id, const char *as_token, const char *id)
{
    TeaclaveAuthenticationServiceProto__DeleteUserRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__DELETE_USER_REQUEST__INIT;
    request.id = (char *)id;
    return call(env, API("DeleteUser"), &request.base, &google__protobuf__empty__descriptor, NULL,
                as_id, as_token);
}

int auth_list(struct auth_env *env, const char *as_id, const char *as_token, const char *filter,
              char *out, size_t out_len)
{
    TeaclaveAuthenticationServiceProto__ListUsersRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__LIST_USERS_REQUEST__INIT;
    request.id = (char *)filter;
    ProtobufCMessage *response = NULL;
    int code = call(env, API("ListUsers"), &request.base,
                    &teaclave_authentication_service_proto__list_users_response__descriptor,
                    &response, as_id, as_token);
    if (code == 0 && out) {
        TeaclaveAuthenticationServiceProto__ListUsersResponse *list = (void *)response;
        out[0] = '\0';
        for (size_t i = 0; i < list->n_ids; i++) {
            size_t used = strlen(out);
            snprintf(out + used, out_len - used, "%s%s", i ? "," : "", list->ids[i]);
        }
    }
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    return code;
}

int auth_authenticate(struct auth_env *env, const char *id, const char *token, char *role_out,
                      size_t role_len, uint64_t *exp_out)
{
    TeaclaveCommonProto__UserCredential credential = TEACLAVE_COMMON_PROTO__USER_CREDENTIAL__INIT;
    credential.id = (char *)(id ? id : "");
    credential.token = (char *)(token ? token : "");
    TeaclaveAuthenticationServiceProto__UserAuthenticateRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_AUTHENTICATE_REQUEST__INIT;
    request.credential = &credential;
    ProtobufCMessage *response = NULL;
    int code = call(env, INTERNAL("UserAuthenticate"), &request.base,
                    &teaclave_authentication_service_proto__user_authenticate_response__descriptor,
                    &response, NULL, NULL);
    if (code == 0) {
        TeaclaveAuthenticationServiceProto__UserAuthClaims *claims =
            ((TeaclaveAuthenticationServiceProto__UserAuthenticateResponse *)response)->claims;
        if (!claims || strcmp(claims->sub, id) != 0 || strcmp(claims->iss, "Teaclave") != 0)
            code = -2;
        else {
            if (role_out)
                snprintf(role_out, role_len, "%s", claims->role);
            if (exp_out)
                *exp_out = claims->exp;
        }
    }
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    return code;
}

char *auth_make_user(struct auth_env *env, const char *admin_token, const char *id,
                     const char *role, const char *attribute)
{
    char password[128];
    snprintf(password, sizeof password, "pw-%s", id);
    if (auth_register(env, "admin", admin_token, id, password, role, attribute) != 0)
        return NULL;
    char *token = NULL;
    if (auth_login(env, id, password, &token) != 0)
        return NULL;
    return token;
}
