#include "pm_tls.h"

#include "pm_err.h"

#include <mbedtls/error.h>
#include <stdio.h>
#include <string.h>

/* In order of preference, which the server's is (mbedtls picks by its own list). ChaCha20-
 * Poly1305 first: mbedtls 2.28 runs AES-GCM one 16-byte block at a time even with AES-NI and
 * PCLMULQDQ (~200 MB/s here, AES-128 and AES-256 alike), ChaCha20-Poly1305 at ~300 MB/s, and
 * every event is encrypted once per subscriber. */
const int pm_tls_ciphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    0,
};

static const mbedtls_ecp_group_id pm_tls_curves[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_NONE,
};

/* Signature hashes allowed in the handshake (ECDSA over P-256 with SHA-256/384). */
static const int pm_tls_sig_hashes[] = {
    MBEDTLS_MD_SHA256,
    MBEDTLS_MD_SHA384,
    MBEDTLS_MD_NONE,
};

int pm_rng_init(pm_rng *rng, const char *personalization)
{
    mbedtls_entropy_init(&rng->entropy);
    mbedtls_ctr_drbg_init(&rng->drbg);
    int rc = mbedtls_ctr_drbg_seed(&rng->drbg, mbedtls_entropy_func, &rng->entropy,
                                   (const unsigned char *)personalization, strlen(personalization));
    return rc ? PM_E_TLS : PM_OK;
}

void pm_rng_free(pm_rng *rng)
{
    mbedtls_ctr_drbg_free(&rng->drbg);
    mbedtls_entropy_free(&rng->entropy);
}

int pm_rng_bytes(void *ctx, unsigned char *out, size_t len)
{
    pm_rng *rng = ctx;
    return mbedtls_ctr_drbg_random(&rng->drbg, out, len);
}

int pm_tls_conf_init(mbedtls_ssl_config *conf, int endpoint, pm_rng *rng)
{
    mbedtls_ssl_config_init(conf);
    int rc = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc)
        return pm_err_from_mbedtls(rc);
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(conf, pm_tls_ciphersuites);
    mbedtls_ssl_conf_curves(conf, pm_tls_curves);
    mbedtls_ssl_conf_sig_hashes(conf, pm_tls_sig_hashes);
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    mbedtls_ssl_conf_legacy_renegotiation(conf, MBEDTLS_SSL_LEGACY_NO_RENEGOTIATION);
    mbedtls_ssl_conf_rng(conf, pm_rng_bytes, rng);
    return PM_OK;
}

void pm_tls_strerror(int rc, char *buf, size_t n)
{
    mbedtls_strerror(rc, buf, n);
}
