/*
 * Intel collateral: TCB info (v3, SGX or TDX) and QE / TD-QE identity (v2),
 * parsed with jansson from the exact bytes whose signature dcap_verify.c
 * checks (never re-serialised), plus loading a collateral directory with the
 * file names of ../shared/fixtures/hw-attestation (Intel's and AMD's).
 *
 * Parsing is strict: a missing or mistyped field is an error naming it, a
 * status outside Intel's list is an error, and level lists are bounded.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/pem.h>

#include "core/error.h"
#include "tee/hw/hw_internal.h"

#define MAX_COLLATERAL_FILE (1 << 20)

static json_t *member(json_t *obj, const char *what, const char *key, json_type type)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_typeof(v) != type) {
        steep_error_set("%s: field '%s' is missing or has the wrong type", what, key);
        return NULL;
    }
    return v;
}

static int get_string(json_t *obj, const char *what, const char *key, const char **out)
{
    json_t *v = member(obj, what, key, JSON_STRING);
    if (!v)
        return -1; /* member() said why */
    *out = json_string_value(v);
    return 0;
}

static int get_uint(json_t *obj, const char *what, const char *key, uint32_t max, uint32_t *out)
{
    json_t *v = member(obj, what, key, JSON_INTEGER);
    if (!v)
        return -1; /* member() said why */
    json_int_t i = json_integer_value(v);
    ENSURE(i >= 0 && (uint64_t)i <= max, "%s: '%s' = %lld is out of range", what, key,
           (long long)i);
    *out = (uint32_t)i;
    return 0;
}

static int get_hex(json_t *obj, const char *what, const char *key, uint8_t *out, size_t n)
{
    const char *text;
    GUARD(get_string(obj, what, key, &text));
    if (steep_hw_hex(text, out, n) < 0)
        return steep_error_set("%s: '%s' is not %zu bytes of hex", what, key, n);
    return 0;
}

static int get_time(json_t *obj, const char *what, const char *key, time_t *out)
{
    const char *text;
    GUARD(get_string(obj, what, key, &text));
    if (steep_hw_parse_time(text, out) < 0)
        return steep_error_wrap("%s: '%s'", what, key);
    return 0;
}

static int read_components(json_t *tcb, const char *what, const char *key, uint8_t out[16])
{
    json_t *list = member(tcb, what, key, JSON_ARRAY);
    if (!list)
        return -1;
    ENSURE(json_array_size(list) == 16, "%s: '%s' has %zu entries, expected 16", what, key,
           json_array_size(list));
    for (size_t i = 0; i < 16; i++) {
        json_t *entry = json_array_get(list, i);
        uint32_t svn;
        ENSURE(json_is_object(entry), "%s: '%s'[%zu] is not an object", what, key, i);
        GUARD(get_uint(entry, what, "svn", 255, &svn));
        out[i] = (uint8_t)svn;
    }
    return 0;
}

/* One tcbLevels entry: tcb (kind-specific), tcbDate, tcbStatus, advisoryIDs. */
static int read_level(json_t *entry, const char *what, bool platform, bool tdx,
                      struct tcb_level *level)
{
    memset(level, 0, sizeof(*level));
    ENSURE(json_is_object(entry), "%s: a tcbLevels entry is not an object", what);
    json_t *tcb = member(entry, what, "tcb", JSON_OBJECT);
    if (!tcb)
        return -1;
    uint32_t v;
    if (platform) {
        GUARD(read_components(tcb, what, "sgxtcbcomponents", level->sgx));
        GUARD(get_uint(tcb, what, "pcesvn", 65535, &v));
        level->pcesvn = (uint16_t)v;
        if (tdx) {
            GUARD(read_components(tcb, what, "tdxtcbcomponents", level->tdx));
            level->have_tdx = true;
        }
    } else {
        GUARD(get_uint(tcb, what, "isvsvn", 65535, &v));
        level->isvsvn = (uint16_t)v;
    }
    const char *status, *date;
    time_t tcb_date;
    GUARD(get_string(entry, what, "tcbStatus", &status));
    GUARD(get_string(entry, what, "tcbDate", &date));
    GUARD(steep_hw_parse_time(date, &tcb_date));
    ENSURE(steep_hw_tcb_status_parse(status, &level->status) == 0 &&
               level->status != STEEP_HW_TCB_NOT_SUPPORTED &&
               level->status != STEEP_HW_TCB_NOT_APPLICABLE,
           "%s: unknown tcbStatus '%s'", what, status);
    json_t *advisories = json_object_get(entry, "advisoryIDs");
    if (advisories) {
        ENSURE(json_is_array(advisories), "%s: advisoryIDs is not a list", what);
        ENSURE(json_array_size(advisories) <= STEEP_HW_MAX_ADVISORIES, "%s: too many advisoryIDs",
               what);
        for (size_t i = 0; i < json_array_size(advisories); i++) {
            const char *id = json_string_value(json_array_get(advisories, i));
            ENSURE(id && strlen(id) > 0 && strlen(id) < STEEP_HW_ADVISORY_LEN,
                   "%s: bad advisory ID", what);
            snprintf(level->advisories[level->n_advisories++], STEEP_HW_ADVISORY_LEN, "%s", id);
        }
    }
    return 0;
}

static int read_levels(json_t *obj, const char *what, bool platform, bool tdx,
                       struct tcb_level *levels, size_t *n)
{
    json_t *list = member(obj, what, "tcbLevels", JSON_ARRAY);
    if (!list)
        return -1;
    ENSURE(json_array_size(list) >= 1 && json_array_size(list) <= TCB_MAX_LEVELS,
           "%s: %zu tcbLevels (1 to %d allowed)", what, json_array_size(list), TCB_MAX_LEVELS);
    for (size_t i = 0; i < json_array_size(list); i++)
        GUARD(read_level(json_array_get(list, i), what, platform, tdx, &levels[i]));
    *n = json_array_size(list);
    return 0;
}

static int read_common(json_t *root, const char *what, struct steep_hw_collateral_item *out)
{
    const char *id;
    uint32_t version;
    GUARD(get_string(root, what, "id", &id));
    ENSURE(strlen(id) < sizeof(out->id), "%s: id '%s' too long", what, id);
    snprintf(out->id, sizeof(out->id), "%s", id);
    GUARD(get_uint(root, what, "version", 255, &version));
    out->version = (int)version;
    GUARD(get_time(root, what, "issueDate", &out->issue_date));
    GUARD(get_time(root, what, "nextUpdate", &out->next_update));
    GUARD(get_uint(root, what, "tcbEvaluationDataNumber", UINT32_MAX, &out->evaluation_number));
    return 0;
}

static int read_module_identity(json_t *entry, struct tdx_module_identity *m)
{
    const char *what = "TCB info tdxModuleIdentities";
    const char *id;
    ENSURE(json_is_object(entry), "%s: entry is not an object", what);
    GUARD(get_string(entry, what, "id", &id));
    ENSURE(strlen(id) < sizeof(m->id), "%s: id too long", what);
    snprintf(m->id, sizeof(m->id), "%s", id);
    GUARD(get_hex(entry, what, "mrsigner", m->mrsigner, 48));
    GUARD(get_hex(entry, what, "attributes", m->attributes, 8));
    GUARD(get_hex(entry, what, "attributesMask", m->attributes_mask, 8));
    return read_levels(entry, what, false, false, m->levels, &m->n_levels);
}

static int parse_tcb_info(json_t *root, struct steep_hw_collateral_item *out)
{
    const char *what = "TCB info";
    GUARD(read_common(root, what, out));
    ENSURE(out->version == 3, "TCB info version %d is not supported (3 is)", out->version);
    bool tdx = strcmp(out->id, "TDX") == 0;
    ENSURE(tdx || strcmp(out->id, "SGX") == 0, "TCB info id '%s' is neither SGX nor TDX", out->id);
    uint8_t pce[2];
    GUARD(get_hex(root, what, "fmspc", out->fmspc, 6));
    GUARD(get_hex(root, what, "pceId", pce, 2));
    out->pce_id = (uint16_t)(pce[0] << 8 | pce[1]);
    uint32_t tcb_type;
    GUARD(get_uint(root, what, "tcbType", 255, &tcb_type));
    ENSURE(tcb_type == 0, "TCB info tcbType %u is not supported (0 is)", tcb_type);
    if (tdx) {
        json_t *module = member(root, what, "tdxModule", JSON_OBJECT);
        if (!module)
            return -1;
        GUARD(get_hex(module, what, "mrsigner", out->module_mrsigner, 48));
        GUARD(get_hex(module, what, "attributes", out->module_attributes, 8));
        GUARD(get_hex(module, what, "attributesMask", out->module_attributes_mask, 8));
        out->have_tdx_module = true;
        json_t *ids = json_object_get(root, "tdxModuleIdentities");
        if (ids) {
            ENSURE(json_is_array(ids) && json_array_size(ids) <= TCB_MAX_MODULES,
                   "TCB info: tdxModuleIdentities is not a list of at most %d", TCB_MAX_MODULES);
            for (size_t i = 0; i < json_array_size(ids); i++)
                GUARD(read_module_identity(json_array_get(ids, i), &out->modules[i]));
            out->n_modules = json_array_size(ids);
        }
    }
    return read_levels(root, what, true, tdx, out->levels, &out->n_levels);
}

static int parse_qe_identity(json_t *root, struct steep_hw_collateral_item *out)
{
    const char *what = "QE identity";
    GUARD(read_common(root, what, out));
    ENSURE(out->version == 2, "QE identity version %d is not supported (2 is)", out->version);
    ENSURE(strcmp(out->id, "QE") == 0 || strcmp(out->id, "TD_QE") == 0,
           "QE identity id '%s' is neither QE nor TD_QE", out->id);
    uint8_t misc[4], mask[4];
    GUARD(get_hex(root, what, "miscselect", misc, 4));
    GUARD(get_hex(root, what, "miscselectMask", mask, 4));
    /* Written as the 32-bit number, most significant digit first. */
    out->miscselect = (uint32_t)misc[0] << 24 | misc[1] << 16 | misc[2] << 8 | misc[3];
    out->miscselect_mask = (uint32_t)mask[0] << 24 | mask[1] << 16 | mask[2] << 8 | mask[3];
    GUARD(get_hex(root, what, "attributes", out->attributes, 16));
    GUARD(get_hex(root, what, "attributesMask", out->attributes_mask, 16));
    GUARD(get_hex(root, what, "mrsigner", out->mrsigner, 32));
    uint32_t prod;
    GUARD(get_uint(root, what, "isvprodid", 65535, &prod));
    out->isvprodid = (uint16_t)prod;
    return read_levels(root, what, false, false, out->levels, &out->n_levels);
}

static int parse_json(const void *data, size_t len, const char *what,
                      int (*parse)(json_t *, struct steep_hw_collateral_item *),
                      struct steep_hw_collateral_item *out)
{
    memset(out, 0, sizeof(*out));
    json_error_t err;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    ENSURE(root != NULL, "%s is not valid JSON: %s", what, err.text);
    int rc = json_is_object(root) ? parse(root, out) : steep_error_set("%s is not an object", what);
    json_decref(root);
    return rc;
}

int steep_hw_tcb_info_parse(const void *json, size_t len, struct steep_hw_collateral_item *out)
{
    return parse_json(json, len, "TCB info", parse_tcb_info, out);
}

int steep_hw_qe_identity_parse(const void *json, size_t len, struct steep_hw_collateral_item *out)
{
    return parse_json(json, len, "QE identity", parse_qe_identity, out);
}

static int set_item(struct steep_buf *json_buf, struct steep_hw_collateral_item **item,
                    uint8_t sig_out[64], bool *have, const void *json, size_t len,
                    const uint8_t sig[64],
                    int (*parse)(const void *, size_t, struct steep_hw_collateral_item *))
{
    struct steep_hw_collateral_item *parsed = calloc(1, sizeof(*parsed));
    ENSURE(parsed != NULL, "out of memory");
    if (parse(json, len, parsed) < 0) {
        free(parsed);
        return -1;
    }
    free(*item);
    *item = parsed;
    steep_buf_reset(json_buf);
    GUARD(steep_buf_append(json_buf, json, len));
    memcpy(sig_out, sig, 64);
    *have = true;
    return 0;
}

int steep_hw_collateral_set_tcb_info(struct steep_hw_collateral *c, const void *json, size_t len,
                                     const uint8_t sig[64])
{
    return set_item(&c->tcb_info_json, &c->tcb_info, c->tcb_info_sig, &c->have_tcb_info, json, len,
                    sig, steep_hw_tcb_info_parse);
}

int steep_hw_collateral_set_qe_identity(struct steep_hw_collateral *c, const void *json, size_t len,
                                        const uint8_t sig[64])
{
    return set_item(&c->qe_identity_json, &c->qe_identity, c->qe_identity_sig, &c->have_qe_identity,
                    json, len, sig, steep_hw_qe_identity_parse);
}

/* 1 read, 0 absent, -1 error. */
static int read_optional(const char *dir, const char *name, struct steep_buf *out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fclose(f);
    if (steep_read_file(path, MAX_COLLATERAL_FILE, out) < 0)
        return steep_error_wrap("collateral %s", name);
    return 1;
}

static int load_json_pair(const char *dir, const char *json_name, const char *sig_name,
                          struct steep_hw_collateral *c,
                          int (*set)(struct steep_hw_collateral *, const void *, size_t,
                                     const uint8_t *))
{
    struct steep_buf json = STEEP_BUF_INIT, sig = STEEP_BUF_INIT;
    int rc = read_optional(dir, json_name, &json);
    if (rc == 1) {
        int s = read_optional(dir, sig_name, &sig);
        if (s == 0)
            rc = steep_error_set("collateral %s has no %s beside it", json_name, sig_name);
        else if (s < 0)
            rc = -1;
        else if (sig.len != 64)
            rc = steep_error_set("collateral %s is %zu bytes, expected 64 (r||s)", sig_name,
                                 sig.len);
        else if (set(c, json.data, json.len, sig.data) < 0)
            rc = steep_error_wrap("collateral %s", json_name);
    }
    steep_buf_free(&json);
    steep_buf_free(&sig);
    return rc < 0 ? -1 : 0;
}

static STACK_OF(X509) * load_pem_chain(const char *dir, const char *name, int *rc)
{
    struct steep_buf pem = STEEP_BUF_INIT;
    STACK_OF(X509) *chain = NULL;
    *rc = read_optional(dir, name, &pem);
    if (*rc == 1) {
        chain = steep_hw_pem_chain(pem.data, pem.len);
        if (!chain || sk_X509_num(chain) == 0) {
            sk_X509_pop_free(chain, X509_free);
            chain = NULL;
            *rc = steep_error_set("collateral %s holds no PEM certificate", name);
        }
    }
    steep_buf_free(&pem);
    return chain;
}

static X509_CRL *load_crl(const char *dir, const char *name, int *rc)
{
    struct steep_buf der = STEEP_BUF_INIT;
    X509_CRL *crl = NULL;
    *rc = read_optional(dir, name, &der);
    if (*rc == 1) {
        const unsigned char *p = der.data;
        crl = d2i_X509_CRL(NULL, &p, (long)der.len);
        if (!crl || p != der.data + der.len) {
            X509_CRL_free(crl);
            crl = NULL;
            *rc = steep_error_set("collateral %s is not a DER CRL", name);
        }
    }
    steep_buf_free(&der);
    return crl;
}

static X509 *load_cert(const char *dir, const char *name, int *rc)
{
    struct steep_buf data = STEEP_BUF_INIT;
    X509 *cert = NULL;
    *rc = read_optional(dir, name, &data);
    if (*rc == 1) {
        const unsigned char *p = data.data;
        cert = d2i_X509(NULL, &p, (long)data.len);
        if (!cert || p != data.data + data.len) {
            X509_free(cert);
            cert = NULL;
            STACK_OF(X509) *pem = steep_hw_pem_chain(data.data, data.len);
            if (pem && sk_X509_num(pem) == 1)
                cert = sk_X509_shift(pem);
            sk_X509_pop_free(pem, X509_free);
        }
        if (!cert)
            *rc = steep_error_set("collateral %s is not one DER or PEM certificate", name);
    }
    steep_buf_free(&data);
    return cert;
}

/* AMD KDS names its chain file per product: ask_ark_milan.pem, ask_ark_turin.pem, ... */
static int find_ask_ark(const char *dir, char *name, size_t size)
{
    DIR *d = opendir(dir);
    ENSURE(d != NULL, "collateral directory %s cannot be read", dir);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "ask_ark", 7) == 0 && n > 4 &&
            strcmp(e->d_name + n - 4, ".pem") == 0) {
            if (found++ == 0)
                snprintf(name, size, "%s", e->d_name);
        }
    }
    closedir(d);
    ENSURE(found <= 1, "collateral directory %s has %d ask_ark*.pem files; one is allowed", dir,
           found);
    return found;
}

int steep_hw_collateral_load_dir(const char *dir, struct steep_hw_collateral *out)
{
    memset(out, 0, sizeof(*out));
    int rc = 0;
    if (load_json_pair(dir, "tcb_info.json", "tcb_info.sig", out,
                       steep_hw_collateral_set_tcb_info) < 0 ||
        load_json_pair(dir, "qe_identity.json", "qe_identity.sig", out,
                       steep_hw_collateral_set_qe_identity) < 0)
        goto fail;
    out->tcb_signing_chain = load_pem_chain(dir, "tcb_signing_chain.pem", &rc);
    if (rc < 0)
        goto fail;
    out->pck_crl = load_crl(dir, "pck_crl.der", &rc);
    if (rc < 0)
        goto fail;
    out->root_crl = load_crl(dir, "root_ca_crl.der", &rc);
    if (rc < 0)
        goto fail;
    out->vcek = load_cert(dir, "vcek.der", &rc);
    if (rc < 0)
        goto fail;
    char name[256];
    rc = find_ask_ark(dir, name, sizeof(name));
    if (rc < 0)
        goto fail;
    if (rc == 1) {
        out->ask_ark = load_pem_chain(dir, name, &rc);
        if (rc < 0)
            goto fail;
    }
    out->memo = steep_hw_memo_new(); /* NULL only costs speed */
    return 0;
fail:
    steep_hw_collateral_free(out);
    return -1;
}

void steep_hw_collateral_free(struct steep_hw_collateral *c)
{
    steep_buf_free(&c->tcb_info_json);
    steep_buf_free(&c->qe_identity_json);
    free(c->tcb_info);
    free(c->qe_identity);
    sk_X509_pop_free(c->tcb_signing_chain, X509_free);
    X509_CRL_free(c->pck_crl);
    X509_CRL_free(c->root_crl);
    X509_free(c->vcek);
    sk_X509_pop_free(c->ask_ark, X509_free);
    steep_hw_memo_free(c->memo);
    memset(c, 0, sizeof(*c));
}
