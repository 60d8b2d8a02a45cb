/*
 * The texts and fields of the frontend's audit entries, in Teaclave's
 * formats (spec §4.2): the peer address as 16 bytes, the user as
 * `{ user: <sub>, role: <RoleDebug> }`, a management failure as
 * `<api>:status: <Code>, message: "<text>"` (tonic's Status display without
 * its details and metadata).
 */
#ifndef STEEP_FRONTEND_ENTRY_H
#define STEEP_FRONTEND_ENTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* IPv4 (also IPv4-mapped IPv6) -> ::a.b.c.d; IPv6 as is; anything else -> ::. */
void steep_frontend_entry_ip(const struct sockaddr_storage *addr, socklen_t len, uint8_t ip[16]);
/* `{ user: alice, role: DataOwner("org1") }` from the token's sub and role claim. */
void steep_frontend_entry_user(const char *sub, const char *role, char *out, size_t out_len);
/* `status: InvalidArgument, message: "invalid function id"` */
void steep_frontend_entry_status(int code, const char *message, char *out, size_t out_len);
/* The role sent to access control: the claim up to its first '-'. */
void steep_frontend_acs_role(const char *role, char *out, size_t out_len);
/* Microseconds since the epoch. */
int64_t steep_frontend_now_us(void);

#endif
