/* Intel collateral from a PCCS-compatible endpoint, cached; see pccs.h. */
#include "tee/hw/pccs.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "tee/hw/hw_internal.h"

#define PCCS_MAX_DOCUMENT (1024 * 1024)
#define PCCS_MAX_HEADER   (64 * 1024)
#define PCCS_MAX_SETS     64
#define PCCS_MAX_NESTING  64

struct pccs_set {
    char key[32]; /* "tdx/50806f000000/platform" */
    struct steep_hw_collateral collateral;
    time_t valid_until; /* earliest nextUpdate */
    struct pccs_set *superseded;
};

struct steep_pccs {
    char url[1024];
    char *ca_file;
    int refresh_margin;
    int timeout_ms;
    pthread_mutex_t lock; /* guards sets, stats */
    struct pccs_set *sets[PCCS_MAX_SETS];
    size_t n_sets;
    struct steep_pccs_stats stats;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct steep_pccs *steep_pccs_new(const struct steep_pccs_options *options)
{
    if (!options || !options->url || !*options->url) {
        steep_error_set("PCCS: no URL configured");
        return NULL;
    }
    if (strncmp(options->url, "https://", 8) != 0 && strncmp(options->url, "http://", 7) != 0) {
        steep_error_set("PCCS URL '%s' must start with https:// (or http:// on loopback)",
                        options->url);
        return NULL;
    }
    pthread_once(&curl_once, curl_init);
    struct steep_pccs *p = calloc(1, sizeof(*p));
    if (!p) {
        steep_error_set("out of memory");
        return NULL;
    }
    snprintf(p->url, sizeof(p->url), "%s", options->url);
    size_t n = strlen(p->url);
    while (n > 0 && p->url[n - 1] == '/')
        p->url[--n] = '\0';
    p->ca_file = options->ca_file ? strdup(options->ca_file) : NULL;
    p->refresh_margin = options->refresh_margin == 0  ? STEEP_PCCS_DEFAULT_REFRESH_MARGIN
                        : options->refresh_margin < 0 ? 0
                                                      : options->refresh_margin;
    p->timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : STEEP_PCCS_DEFAULT_TIMEOUT_MS;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

static void set_free(struct pccs_set *s)
{
    while (s) {
        struct pccs_set *next = s->superseded;
        steep_hw_collateral_free(&s->collateral);
        free(s);
        s = next;
    }
}

void steep_pccs_free(struct steep_pccs *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_sets; i++)
        set_free(p->sets[i]);
    pthread_mutex_destroy(&p->lock);
    free(p->ca_file);
    free(p);
}

void steep_pccs_get_stats(struct steep_pccs *p, struct steep_pccs_stats *stats)
{
    pthread_mutex_lock(&p->lock);
    *stats = p->stats;
    pthread_mutex_unlock(&p->lock);
}

/* ---- HTTP ---- */

struct response {
    struct steep_buf body;
    const char *header_name; /* the one header kept */
    struct steep_buf header;
    bool too_large;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct response *r = arg;
    size_t len = size * n;
    if (r->body.len + len > PCCS_MAX_DOCUMENT || steep_buf_append(&r->body, data, len) < 0) {
        r->too_large = true;
        return 0;
    }
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct response *r = arg;
    size_t len = size * n, name_len = r->header_name ? strlen(r->header_name) : 0;
    if (name_len && len > name_len + 1 && strncasecmp(data, r->header_name, name_len) == 0 &&
        data[name_len] == ':') {
        const char *v = data + name_len + 1;
        size_t vlen = len - name_len - 1;
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
            vlen--;
        steep_buf_reset(&r->header);
        if (vlen > PCCS_MAX_HEADER || steep_buf_append(&r->header, v, vlen) < 0)
            r->too_large = true;
    }
    return len;
}

static int fetch(struct steep_pccs *p, const char *path, const char *header_name,
                 struct response *r)
{
    *r = (struct response){
        .body = STEEP_BUF_INIT, .header_name = header_name, .header = STEEP_BUF_INIT};
    char url[2048];
    snprintf(url, sizeof(url), "%s%s", p->url, path);
    CURL *curl = curl_easy_init();
    ENSURE(curl, "PCCS: cannot start an HTTP client");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (p->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, p->ca_file);
    CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    int rc = 0;
    if (r->too_large)
        rc = steep_error_set("PCCS %s: the answer is over %d bytes", path, PCCS_MAX_DOCUMENT);
    else if (code != CURLE_OK)
        rc = steep_error_set("PCCS %s unreachable: %s", path, curl_easy_strerror(code));
    else if (status != 200)
        rc = steep_error_set("PCCS %s answered HTTP %ld", path, status);
    else if (header_name && r->header.len == 0)
        rc = steep_error_set("PCCS %s: no %s header", path, header_name);
    if (rc < 0) {
        steep_buf_free(&r->body);
        steep_buf_free(&r->header);
    }
    return rc;
}

static void response_free(struct response *r)
{
    steep_buf_free(&r->body);
    steep_buf_free(&r->header);
}

/* ---- Documents ---- */

/* Skips one JSON string starting at s[i] == '"'; returns the index after it. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return len + 1;
}

/* From s[*k] == '{' to its matching '}' (left in *k), every bracket
 * matched by kind, nesting bounded. */
static int match_object(const char *s, size_t len, size_t *k, const char *key)
{
    char open[PCCS_MAX_NESTING];
    size_t depth = 0, i = *k;
    while (i < len) {
        char ch = s[i];
        if (ch == '"') {
            i = skip_string(s, len, i);
            continue;
        }
        if (ch == '{' || ch == '[') {
            ENSURE(depth < PCCS_MAX_NESTING, "'%s' nests deeper than %d", key, PCCS_MAX_NESTING);
            open[depth++] = ch;
        } else if (ch == '}' || ch == ']') {
            ENSURE(depth > 0 && open[depth - 1] == (ch == '}' ? '{' : '['),
                   "'%s' has mismatched brackets", key);
            if (--depth == 0) {
                *k = i;
                return 0;
            }
        }
        i++;
    }
    return steep_error_set("'%s' is not closed", key);
}

int steep_pccs_raw_object(const char *s, size_t len, const char *key, const char **start,
                          size_t *object_len)
{
    size_t i = 0, key_len = strlen(key);
    int depth = 0;
    while (i < len) {
        char ch = s[i];
        if (ch == '"') {
            size_t end = skip_string(s, len, i);
            ENSURE(end <= len, "unterminated string in the JSON document");
            /* a key of the top-level object, followed by ':' */
            size_t j = end;
            while (j < len && isspace((unsigned char)s[j]))
                j++;
            if (depth == 1 && j < len && s[j] == ':' && end - i - 2 == key_len &&
                memcmp(s + i + 1, key, key_len) == 0) {
                j++;
                while (j < len && isspace((unsigned char)s[j]))
                    j++;
                ENSURE(j < len && s[j] == '{', "'%s' is not an object", key);
                size_t k = j;
                GUARD(match_object(s, len, &k, key));
                *start = s + j;
                *object_len = k + 1 - j;
                return 0;
            }
            i = end;
            continue;
        }
        if (ch == '{' || ch == '[')
            depth++;
        else if (ch == '}' || ch == ']')
            depth--;
        i++;
    }
    return steep_error_set("no '%s' in the JSON document", key);
}

/* {"<key>":{...},"signature":"HEX"} into the collateral through set(). */
static int signed_document(const struct response *r, const char *what, const char *key,
                           struct steep_hw_collateral *c,
                           int (*set)(struct steep_hw_collateral *, const void *, size_t,
                                      const uint8_t *))
{
    json_error_t error;
    json_t *root = json_loadb((const char *)r->body.data, r->body.len, 0, &error);
    ENSURE(root && json_is_object(root), "PCCS %s is not JSON: %s", what,
           root ? "not an object" : error.text);
    const char *hex = json_string_value(json_object_get(root, "signature"));
    uint8_t sig[64];
    int rc =
        hex ? steep_hw_hex(hex, sig, 64) : steep_error_set("PCCS %s has no \"signature\"", what);
    json_decref(root);
    if (rc < 0)
        return steep_error_wrap("PCCS %s", what);
    const char *start;
    size_t n;
    if (steep_pccs_raw_object((const char *)r->body.data, r->body.len, key, &start, &n) < 0 ||
        set(c, start, n, sig) < 0)
        return steep_error_wrap("PCCS %s", what);
    return 0;
}

static STACK_OF(X509) * issuer_chain(const struct response *r, const char *what)
{
    CURL *curl = curl_easy_init();
    int n = 0;
    char *pem = curl
                    ? curl_easy_unescape(curl, (const char *)r->header.data, (int)r->header.len, &n)
                    : NULL;
    STACK_OF(X509) *chain = pem ? steep_hw_pem_chain((const uint8_t *)pem, (size_t)n) : NULL;
    curl_free(pem);
    curl_easy_cleanup(curl);
    if (!chain || sk_X509_num(chain) == 0) {
        sk_X509_pop_free(chain, X509_free);
        steep_error_set("PCCS %s: the issuer chain header holds no PEM certificate", what);
        return NULL;
    }
    return chain;
}

/* DER, PEM or hex-encoded DER. */
static X509_CRL *crl_of(const struct steep_buf *body, const char *what)
{
    const unsigned char *p = body->data;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)body->len);
    if (crl && p == body->data + body->len)
        return crl;
    X509_CRL_free(crl);
    crl = NULL;
    BIO *bio = BIO_new_mem_buf(body->data, (int)body->len);
    crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (crl)
        return crl;
    size_t n = body->len;
    while (n && isspace(body->data[n - 1]))
        n--;
    uint8_t *der = n % 2 == 0 && n > 0 ? malloc(n / 2) : NULL;
    char *text = der ? strndup((const char *)body->data, n) : NULL;
    if (text && steep_hex_decode(text, der, n / 2) == 0) {
        p = der;
        crl = d2i_X509_CRL(NULL, &p, (long)(n / 2));
        if (crl && p != der + n / 2) {
            X509_CRL_free(crl);
            crl = NULL;
        }
    }
    free(text);
    free(der);
    if (!crl)
        steep_error_set("PCCS %s is not a CRL (DER, PEM or hex)", what);
    return crl;
}

static int fetch_crl(struct steep_pccs *p, const char *path, const char *what, X509_CRL **out)
{
    struct response r;
    GUARD(fetch(p, path, NULL, &r));
    *out = crl_of(&r.body, what);
    response_free(&r);
    return *out ? 0 : -1;
}

static time_t earliest(const struct steep_hw_collateral *c)
{
    time_t until = 0;
    steep_hw_until(&until, c->tcb_info->next_update);
    steep_hw_until(&until, c->qe_identity->next_update);
    steep_hw_until(&until, steep_hw_asn1_time(X509_CRL_get0_nextUpdate(c->pck_crl)));
    steep_hw_until(&until, steep_hw_asn1_time(X509_CRL_get0_nextUpdate(c->root_crl)));
    return until;
}

static int fetch_set(struct steep_pccs *p, const char *tee, const char *fmspc, const char *ca,
                     struct pccs_set *s)
{
    struct steep_hw_collateral *c = &s->collateral;
    char path[256];
    struct response r;
    snprintf(path, sizeof(path), "/%s/certification/v4/tcb?fmspc=%s", tee, fmspc);
    GUARD(fetch(p, path, "TCB-Info-Issuer-Chain", &r));
    int rc = signed_document(&r, "TCB info", "tcbInfo", c, steep_hw_collateral_set_tcb_info);
    if (rc == 0 && !(c->tcb_signing_chain = issuer_chain(&r, "TCB info")))
        rc = -1;
    response_free(&r);
    GUARD(rc);
    snprintf(path, sizeof(path), "/%s/certification/v4/qe/identity", tee);
    GUARD(fetch(p, path, NULL, &r));
    rc = signed_document(&r, "QE identity", "enclaveIdentity", c,
                         steep_hw_collateral_set_qe_identity);
    response_free(&r);
    GUARD(rc);
    snprintf(path, sizeof(path), "/sgx/certification/v4/pckcrl?ca=%s&encoding=der", ca);
    GUARD(fetch_crl(p, path, "PCK CRL", &c->pck_crl));
    GUARD(fetch_crl(p, "/sgx/certification/v4/rootcacrl", "root CA CRL", &c->root_crl));
    c->memo = steep_hw_memo_new();
    s->valid_until = earliest(c);
    return 0;
}

/* tee ("sgx"/"tdx"), FMSPC hex and PCK CA ("platform"/"processor") of a quote. */
static int quote_platform(const uint8_t *quote, size_t len, char tee[4], char fmspc[13],
                          char ca[10])
{
    struct steep_dcap_quote q;
    GUARD(steep_dcap_quote_parse(quote, len, &q));
    STACK_OF(X509) *chain = steep_hw_pem_chain(q.cert_data, q.cert_len);
    ENSURE(chain && sk_X509_num(chain) >= 1, "the quote carries no PCK certificate");
    X509 *pck = sk_X509_value(chain, 0);
    struct steep_pck_info info;
    int rc = steep_hw_pck_info(pck, &info);
    char issuer[256] = "";
    X509_NAME_get_text_by_NID(X509_get_issuer_name(pck), NID_commonName, issuer, sizeof(issuer));
    sk_X509_pop_free(chain, X509_free);
    GUARD(rc);
    snprintf(tee, 4, "%s", q.tee_type == 0x81 ? "tdx" : "sgx");
    steep_hex_encode(info.fmspc, 6, fmspc);
    if (strstr(issuer, "Platform"))
        snprintf(ca, 10, "platform");
    else if (strstr(issuer, "Processor"))
        snprintf(ca, 10, "processor");
    else
        return steep_error_set("the PCK certificate's issuer '%s' is no Intel PCK CA", issuer);
    return 0;
}

static struct pccs_set **find_set(struct steep_pccs *p, const char *key)
{
    for (size_t i = 0; i < p->n_sets; i++)
        if (strcmp(p->sets[i]->key, key) == 0)
            return &p->sets[i];
    return NULL;
}

int steep_pccs_collateral(struct steep_pccs *p, const uint8_t *quote, size_t len, time_t now,
                          const struct steep_hw_collateral **out)
{
    char tee[4], fmspc[13], ca[10], key[32];
    if (quote_platform(quote, len, tee, fmspc, ca) < 0)
        return steep_error_wrap("PCCS");
    snprintf(key, sizeof(key), "%s/%s/%s", tee, fmspc, ca);
    pthread_mutex_lock(&p->lock);
    struct pccs_set **slot = find_set(p, key);
    struct pccs_set *cached = slot ? *slot : NULL;
    if (cached && now + p->refresh_margin < cached->valid_until) {
        p->stats.hits++;
        *out = &cached->collateral;
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    /* One fetch at a time: the lock is held across it, so concurrent
     * requests of a stale platform wait for one refresh, not make several. */
    int rc = 0;
    struct pccs_set *fresh = calloc(1, sizeof(*fresh));
    if (!fresh)
        rc = steep_error_set("out of memory");
    else if (!slot && p->n_sets == PCCS_MAX_SETS)
        rc = steep_error_set("PCCS: collateral of %d platforms cached already", PCCS_MAX_SETS);
    else if (fetch_set(p, tee, fmspc, ca, fresh) < 0)
        rc = -1;
    if (rc == 0) {
        snprintf(fresh->key, sizeof(fresh->key), "%s", key);
        fresh->superseded = cached;
        if (slot)
            *slot = fresh;
        else
            p->sets[p->n_sets++] = fresh;
        p->stats.fetches++;
        *out = &fresh->collateral;
        if (now >= fresh->valid_until)
            rc = steep_error_set("PCCS collateral for %s is stale: its next update was due "
                                 "before the verification time, and the endpoint has no newer",
                                 key);
    } else {
        set_free(fresh);
        if (cached) {
            p->stats.failed_refreshes++;
            char reason[STEEP_ERROR_MAX];
            snprintf(reason, sizeof(reason), "%s", steep_error_get());
            if (now < cached->valid_until) {
                log_warn("PCCS: refreshing the collateral for %s failed (%s); the cached set "
                         "stays in use until its next update",
                         key, reason);
                *out = &cached->collateral;
                rc = 0;
            } else {
                rc = steep_error_set("PCCS collateral for %s is stale (past its next update) "
                                     "and the refresh failed: %s",
                                     key, reason);
            }
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}
