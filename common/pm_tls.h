/* TLS settings shared by server and clients. One policy: TLS 1.2 only, ECDHE with ECDSA
 * and AEAD ciphers only, X25519 and P-256, no renegotiation. */
#ifndef PM_TLS_H
#define PM_TLS_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <stddef.h>

typedef struct pm_rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
} pm_rng;

int pm_rng_init(pm_rng *rng, const char *personalization);
void pm_rng_free(pm_rng *rng);
/* An f_rng for mbedtls calls; ctx is a pm_rng. */
int pm_rng_bytes(void *ctx, unsigned char *out, size_t len);

extern const int pm_tls_ciphersuites[];

/* Initialises conf for endpoint (MBEDTLS_SSL_IS_SERVER or _CLIENT) with the policy above.
 * The caller adds certificates and, on servers, session tickets. */
int pm_tls_conf_init(mbedtls_ssl_config *conf, int endpoint, pm_rng *rng);

/* mbedtls's description of rc, e.g. "X509 - Certificate verification failed". */
void pm_tls_strerror(int rc, char *buf, size_t n);

#endif
