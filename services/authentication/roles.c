/* Roles and the user-management rules; see roles.h. */
#include "authentication/roles.h"

#include <stdio.h>
#include <string.h>

static struct steep_auth_role make(enum steep_auth_role_kind kind, const char *attribute)
{
    struct steep_auth_role role = {STEEP_ROLE_INVALID, ""};
    if (kind == STEEP_ROLE_DATA_OWNER || kind == STEEP_ROLE_DATA_OWNER_MANAGER) {
        size_t n = strnlen(attribute, STEEP_AUTH_ATTRIBUTE_MAX + 1);
        if (n == 0 || n > STEEP_AUTH_ATTRIBUTE_MAX)
            return role;
        memcpy(role.attribute, attribute, n + 1);
    }
    role.kind = kind;
    return role;
}

struct steep_auth_role steep_auth_role_from_request(const char *role, const char *attribute)
{
    if (!role)
        return make(STEEP_ROLE_INVALID, "");
    if (strcmp(role, "PlatformAdmin") == 0)
        return make(STEEP_ROLE_PLATFORM_ADMIN, "");
    if (strcmp(role, "FunctionOwner") == 0)
        return make(STEEP_ROLE_FUNCTION_OWNER, "");
    if (strcmp(role, "DataOwnerManager") == 0)
        return make(STEEP_ROLE_DATA_OWNER_MANAGER, attribute ? attribute : "");
    if (strcmp(role, "DataOwner") == 0)
        return make(STEEP_ROLE_DATA_OWNER, attribute ? attribute : "");
    return make(STEEP_ROLE_INVALID, "");
}

struct steep_auth_role steep_auth_role_parse(const char *text)
{
    static const char data_owner[] = "DataOwner-";
    static const char manager[] = "DataOwnerManager-";
    if (!text)
        return make(STEEP_ROLE_INVALID, "");
    if (strcmp(text, "PlatformAdmin") == 0)
        return make(STEEP_ROLE_PLATFORM_ADMIN, "");
    if (strcmp(text, "FunctionOwner") == 0)
        return make(STEEP_ROLE_FUNCTION_OWNER, "");
    if (strncmp(text, data_owner, sizeof data_owner - 1) == 0)
        return make(STEEP_ROLE_DATA_OWNER, text + sizeof data_owner - 1);
    if (strncmp(text, manager, sizeof manager - 1) == 0)
        return make(STEEP_ROLE_DATA_OWNER_MANAGER, text + sizeof manager - 1);
    return make(STEEP_ROLE_INVALID, "");
}

void steep_auth_role_format(const struct steep_auth_role *role, char *out, size_t out_len)
{
    switch (role->kind) {
    case STEEP_ROLE_PLATFORM_ADMIN:
        snprintf(out, out_len, "PlatformAdmin");
        break;
    case STEEP_ROLE_FUNCTION_OWNER:
        snprintf(out, out_len, "FunctionOwner");
        break;
    case STEEP_ROLE_DATA_OWNER_MANAGER:
        snprintf(out, out_len, "DataOwnerManager-%s", role->attribute);
        break;
    case STEEP_ROLE_DATA_OWNER:
        snprintf(out, out_len, "DataOwner-%s", role->attribute);
        break;
    default:
        snprintf(out, out_len, "Invalid");
    }
}

bool steep_auth_role_equal(const struct steep_auth_role *a, const struct steep_auth_role *b)
{
    return a->kind == b->kind && strcmp(a->attribute, b->attribute) == 0;
}

static bool is_own_data_owner(const struct steep_auth_role *manager,
                              const struct steep_auth_role *role)
{
    return manager->kind == STEEP_ROLE_DATA_OWNER_MANAGER && role->kind == STEEP_ROLE_DATA_OWNER &&
           strcmp(manager->attribute, role->attribute) == 0;
}

bool steep_auth_may_register(const struct steep_auth_role *requester,
                             const struct steep_auth_role *role)
{
    if (role->kind == STEEP_ROLE_INVALID)
        return false;
    switch (requester->kind) {
    case STEEP_ROLE_PLATFORM_ADMIN:
        return true;
    case STEEP_ROLE_DATA_OWNER_MANAGER:
        return is_own_data_owner(requester, role);
    default:
        /* Teaclave let a FunctionOwner create a DataOwnerManager of any
         * attribute, which then could reset that attribute's DataOwners'
         * passwords: an account takeover. Only a PlatformAdmin does now. */
        return false;
    }
}

bool steep_auth_may_update(const struct steep_auth_role *requester,
                           const struct steep_auth_role *current,
                           const struct steep_auth_role *role)
{
    if (role->kind == STEEP_ROLE_INVALID)
        return false;
    if (requester->kind == STEEP_ROLE_PLATFORM_ADMIN)
        return true;
    /* Teaclave checked only the new role; the target must be one of ours too. */
    return is_own_data_owner(requester, role) && is_own_data_owner(requester, current);
}

bool steep_auth_may_manage(const struct steep_auth_role *requester,
                           const struct steep_auth_role *current)
{
    if (requester->kind == STEEP_ROLE_PLATFORM_ADMIN)
        return true;
    return is_own_data_owner(requester, current);
}

bool steep_auth_may_list(const struct steep_auth_role *requester, const char *filter)
{
    if (requester->kind == STEEP_ROLE_PLATFORM_ADMIN)
        return true;
    return requester->kind == STEEP_ROLE_DATA_OWNER_MANAGER &&
           strcmp(requester->attribute, filter) == 0;
}
