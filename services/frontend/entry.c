/*
 * Audit entry fields in Teaclave's formats (entry.h). The role is parsed as
 * UserRole::from_str does and printed as Rust's Debug would print the enum,
 * strings escaped as Rust's {:?} escapes them.
 */
#include "entry.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void steep_frontend_entry_ip(const struct sockaddr_storage *addr, socklen_t len, uint8_t ip[16])
{
    memset(ip, 0, 16);
    if (addr->ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)addr;
        memcpy(ip + 12, &v4->sin_addr, 4);
    } else if (addr->ss_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)addr;
        memcpy(ip, &v6->sin6_addr, 16);
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr))
            ip[10] = ip[11] = 0; /* the peer is IPv4: Teaclave's ::a.b.c.d form */
    }
}

/* Rust's Debug of a str: quoted, with \" \\ \n \r \t and \u{..} escapes. */
static size_t debug_string(const char *s, char *out, size_t out_len)
{
    size_t n = 0;
#define PUT(...)                                                                                   \
    n += (size_t)snprintf(out + (n < out_len ? n : out_len), n < out_len ? out_len - n : 0,        \
                          __VA_ARGS__)
    PUT("\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            PUT("\\%c", *p);
        else if (*p == '\n')
            PUT("\\n");
        else if (*p == '\r')
            PUT("\\r");
        else if (*p == '\t')
            PUT("\\t");
        else if (*p < 0x20 || *p == 0x7f)
            PUT("\\u{%x}", *p);
        else
            PUT("%c", *p);
    }
    PUT("\"");
#undef PUT
    return n;
}

static void role_debug(const char *role, char *out, size_t out_len)
{
    static const char data_owner[] = "DataOwner-";
    static const char manager[] = "DataOwnerManager-";
    const char *attribute = NULL;
    const char *variant;
    if (strcmp(role, "PlatformAdmin") == 0 || strcmp(role, "FunctionOwner") == 0) {
        snprintf(out, out_len, "%s", role);
        return;
    } else if (strncmp(role, data_owner, sizeof data_owner - 1) == 0) {
        variant = "DataOwner";
        attribute = role + sizeof data_owner - 1;
    } else if (strncmp(role, manager, sizeof manager - 1) == 0) {
        variant = "DataOwnerManager";
        attribute = role + sizeof manager - 1;
    } else {
        snprintf(out, out_len, "Invalid");
        return;
    }
    int n = snprintf(out, out_len, "%s(", variant);
    if (n < 0 || (size_t)n >= out_len)
        return;
    size_t used = (size_t)n + debug_string(attribute, out + n, out_len - (size_t)n);
    if (used < out_len)
        snprintf(out + used, out_len - used, ")");
}

void steep_frontend_entry_user(const char *sub, const char *role, char *out, size_t out_len)
{
    char debug[256];
    role_debug(role, debug, sizeof debug);
    snprintf(out, out_len, "{ user: %s, role: %s }", sub, debug);
}

static const char *code_debug(int code)
{
    static const char *const names[] = {
        "Ok",
        "Cancelled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    };
    return code >= 0 && code <= 16 ? names[code] : "Unknown";
}

void steep_frontend_entry_status(int code, const char *message, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "status: %s, message: ", code_debug(code));
    if (n > 0 && (size_t)n < out_len)
        debug_string(message, out + n, out_len - (size_t)n);
}

void steep_frontend_acs_role(const char *role, char *out, size_t out_len)
{
    size_t n = strcspn(role, "-");
    if (n >= out_len)
        n = out_len - 1;
    memcpy(out, role, n);
    out[n] = '\0';
}

int64_t steep_frontend_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
