/*
 * Teaclave's user roles (teaclave-api.md §3.3) and who may manage whom.
 *
 * A role is a kind plus, for DataOwner and DataOwnerManager, an attribute
 * (an organisation). Its string form — in the JWT `role` claim and the
 * `role` metadata — is "PlatformAdmin", "FunctionOwner",
 * "DataOwnerManager-<attr>" or "DataOwner-<attr>". The rules below decide
 * user management; every one looks at the requester's role and, unlike
 * Teaclave, also at the target's CURRENT role where a target exists.
 *
 * Deviation from Teaclave (issue 14, item 13): a DataOwnerManager can take
 * over every DataOwner of its attribute (ResetUserPassword, UserUpdate), so
 * that power comes only from a PlatformAdmin. Only a PlatformAdmin registers
 * a DataOwnerManager or gives anyone that role; a FunctionOwner registers
 * nobody (Teaclave let it register a DataOwnerManager of any attribute, and
 * through it reset the password of any DataOwner). A DataOwnerManager
 * registers and updates only DataOwners of its attribute, so no chain of
 * non-admin calls yields a manager. The id of a deleted user is reused only
 * by a PlatformAdmin (api.c), so nobody inherits what a deleted user owned.
 */
#ifndef STEEP_AUTHENTICATION_ROLES_H
#define STEEP_AUTHENTICATION_ROLES_H

#include <stdbool.h>
#include <stddef.h>

#define STEEP_AUTH_ATTRIBUTE_MAX 128
#define STEEP_AUTH_ROLE_MAX      (STEEP_AUTH_ATTRIBUTE_MAX + 32)

enum steep_auth_role_kind {
    STEEP_ROLE_INVALID,
    STEEP_ROLE_PLATFORM_ADMIN,
    STEEP_ROLE_FUNCTION_OWNER,
    STEEP_ROLE_DATA_OWNER_MANAGER,
    STEEP_ROLE_DATA_OWNER,
};

struct steep_auth_role {
    enum steep_auth_role_kind kind;
    char attribute[STEEP_AUTH_ATTRIBUTE_MAX + 1]; /* "" unless a data owner (manager) */
};

/* From a request's role + attribute fields. Invalid for an unknown role, or a
 * data owner (manager) without an attribute or with one that is too long. */
struct steep_auth_role steep_auth_role_from_request(const char *role, const char *attribute);
/* From the string form ("DataOwner-org1"); Invalid when it does not parse. */
struct steep_auth_role steep_auth_role_parse(const char *text);
/* The string form; out holds STEEP_AUTH_ROLE_MAX bytes. */
void steep_auth_role_format(const struct steep_auth_role *role, char *out, size_t out_len);
bool steep_auth_role_equal(const struct steep_auth_role *a, const struct steep_auth_role *b);

/* May `requester` create a user with role `role`? Only a PlatformAdmin may
 * create a DataOwnerManager; a DataOwnerManager creates its DataOwners. */
bool steep_auth_may_register(const struct steep_auth_role *requester,
                             const struct steep_auth_role *role);
/* May `requester` change a user whose role is `current` to `role`? */
bool steep_auth_may_update(const struct steep_auth_role *requester,
                           const struct steep_auth_role *current,
                           const struct steep_auth_role *role);
/* May `requester` reset the password of, or delete, a user whose role is `current`? */
bool steep_auth_may_manage(const struct steep_auth_role *requester,
                           const struct steep_auth_role *current);
/* May `requester` list the users of attribute filter `filter`? */
bool steep_auth_may_list(const struct steep_auth_role *requester, const char *filter);

#endif
