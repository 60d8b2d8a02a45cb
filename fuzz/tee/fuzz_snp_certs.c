/*
 * libFuzzer target for the SEV-SNP certificate table (configfs-tsm auxblob,
 * written by the host): steep_snp_cert_table_parse must refuse or return a
 * VCEK (and an ASK/ARK pair) without reading outside the input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "tee/hw/hw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    X509 *vcek = NULL;
    STACK_OF(X509) *ask_ark = NULL;
    if (steep_snp_cert_table_parse(data, size, &vcek, &ask_ark) == 0) {
        if (!vcek || (ask_ark && sk_X509_num(ask_ark) != 2))
            abort();
    } else if (vcek || ask_ark) {
        abort();
    }
    X509_free(vcek);
    sk_X509_pop_free(ask_ark, X509_free);
    return 0;
}
