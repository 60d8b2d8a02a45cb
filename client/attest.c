/*
 * libsteep: fail-closed attestation of the services the client talks to.
 *
 * The verifier holds the attestation root, the measurements of
 * enclave_info.toml (after checking the auditors' signatures when given)
 * and the simulation switch. Each connection gets a TLS verify hook pinned
 * to one service name: the peer's RA-TLS certificate must carry evidence
 * for exactly that service's measurement, or the handshake fails and the
 * call reports why.
 */
#include "client_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "core/buf.h"
#include "core/error.h"
#include "tee/enclave_info.h"
#include "tee/verify.h"

#define MAX_PINS 2

struct client_pin {
    struct client_verifier *verifier;
    struct steep_tee_enclave_attr attr;
};

struct client_verifier {
    X509_STORE *roots;
    struct steep_enclave_info info;
    bool allow_simulation;
    struct client_pin pins[MAX_PINS];
    size_t n_pins;
};

void client_verifier_free(struct client_verifier *v)
{
    if (!v)
        return;
    if (v->roots)
        X509_STORE_free(v->roots);
    steep_enclave_info_free(&v->info);
    free(v);
}

static int check_auditors(const struct steep_client_options *o, const struct steep_buf *info,
                          struct steep_error *err)
{
    if (o->n_auditor_signatures == 0)
        return 0;
    if (o->n_auditor_public_keys == 0)
        return client_error(err, "auditor signatures given without auditor public keys");
    EVP_PKEY *keys[16] = {0};
    struct steep_buf sigs[16] = {0};
    struct steep_enclave_info_signature refs[16];
    size_t nk = o->n_auditor_public_keys, ns = o->n_auditor_signatures;
    int rc = -1;
    if (nk > 16 || ns > 16) {
        client_error(err, "at most 16 auditor keys and signatures");
        goto done;
    }
    for (size_t i = 0; i < nk; i++) {
        FILE *f = fopen(o->auditor_public_keys[i], "r");
        keys[i] = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
        if (f)
            fclose(f);
        if (!keys[i]) {
            client_error(err, "cannot read auditor public key %s", o->auditor_public_keys[i]);
            goto done;
        }
    }
    for (size_t i = 0; i < ns; i++) {
        if (steep_read_file(o->auditor_signatures[i], 65536, &sigs[i]) < 0) {
            client_error(err, "%s", steep_error_get());
            goto done;
        }
        refs[i] = (struct steep_enclave_info_signature){sigs[i].data, sigs[i].len,
                                                        o->auditor_signatures[i]};
    }
    if (steep_enclave_info_verify(info->data, info->len, refs, ns, keys, nk) < 0) {
        client_error(err, "enclave_info is not signed as required: %s", steep_error_get());
        goto done;
    }
    rc = 0;
done:
    for (size_t i = 0; i < 16; i++) {
        EVP_PKEY_free(keys[i]);
        steep_buf_free(&sigs[i]);
    }
    return rc;
}

struct client_verifier *client_verifier_new(const struct steep_client_options *o,
                                            struct steep_error *err)
{
    struct client_verifier *v = calloc(1, sizeof(*v));
    struct steep_buf info = STEEP_BUF_INIT;
    if (!v) {
        client_error(err, "out of memory");
        return NULL;
    }
    v->allow_simulation = o->allow_simulation;
    if (!(v->roots = steep_tee_roots_load(o->as_root_ca_cert))) {
        client_error(err, "cannot load the attestation root %s: %s", o->as_root_ca_cert,
                     steep_error_get());
        goto fail;
    }
    if (steep_read_file(o->enclave_info, 1 << 20, &info) < 0 ||
        steep_enclave_info_parse(o->enclave_info, info.data, info.len, &v->info) < 0) {
        client_error(err, "cannot use enclave_info: %s", steep_error_get());
        goto fail;
    }
    if (check_auditors(o, &info, err) < 0)
        goto fail;
    steep_buf_free(&info);
    return v;
fail:
    steep_buf_free(&info);
    client_verifier_free(v);
    return NULL;
}

static int verify_peer(void *arg, X509 *leaf, STACK_OF(X509) * chain, char *peer_name,
                       size_t peer_name_len, char *reason, size_t reason_len)
{
    (void)chain;
    const struct client_pin *pin = arg;
    struct steep_tee_policy policy = {
        .roots = pin->verifier->roots,
        .accepted = &pin->attr,
        .n_accepted = 1,
        .insecure_allow_simulated_evidence = pin->verifier->allow_simulation,
    };
    struct steep_tee_verdict verdict;
    if (steep_tee_verify_cert(leaf, &policy, &verdict) < 0) {
        snprintf(reason, reason_len, "%s refused: %s", pin->attr.name, steep_error_get());
        return -1;
    }
    snprintf(peer_name, peer_name_len, "%s", verdict.name);
    return 0;
}

/* A verify hook that refuses every peer, with the reason fixed at setup. */
static int refuse_peer(void *arg, X509 *leaf, STACK_OF(X509) * chain, char *peer_name,
                       size_t peer_name_len, char *reason, size_t reason_len)
{
    (void)leaf, (void)chain, (void)peer_name, (void)peer_name_len;
    snprintf(reason, reason_len, "%s is not listed in enclave_info: refusing it",
             (const char *)arg);
    return -1;
}

struct steep_tls_config client_verifier_tls(struct client_verifier *v, const char *service_name)
{
    struct steep_tls_config tls = {.verify_peer = refuse_peer, .verify_arg = (void *)service_name};
    const struct steep_tee_enclave_attr *attr = steep_enclave_info_find(&v->info, service_name);
    if (!attr || v->n_pins == MAX_PINS)
        return tls;
    struct client_pin *pin = &v->pins[v->n_pins++];
    pin->verifier = v;
    pin->attr = *attr;
    tls.verify_peer = verify_peer;
    tls.verify_arg = pin;
    return tls;
}
