/* The practice's own small PKI: a CA (ECDSA P-256) made at init, and a server certificate
 * signed by it. Clients trust only that CA, by file or by its SHA-256 fingerprint. */
#ifndef PM_CERT_H
#define PM_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "pm_tls.h"

/* Writes a new CA key (mode 0600) and self-signed certificate. */
int pm_cert_create_ca(pm_rng *rng, const char *practice, const char *key_path,
                      const char *crt_path);
/* Writes a server key (0600) and a certificate signed by the CA for localhost, 127.0.0.1,
 * ::1 and each of hosts (DNS names or IP addresses). */
int pm_cert_create_server(pm_rng *rng, const char *practice, const char *ca_key_path,
                          const char *ca_crt_path, const char *const *hosts, size_t nhosts,
                          const char *key_path, const char *crt_path);
/* SHA-256 of a DER certificate, lower-case hex (65 bytes with the NUL). */
void pm_cert_fingerprint_der(const uint8_t *der, size_t len, char hex[65]);
/* Fingerprint of the first certificate in a PEM file. */
int pm_cert_fingerprint_file(const char *crt_path, char hex[65]);
/* "ab:cd:..." grouping for people to compare by eye (96 bytes with the NUL). */
void pm_cert_fingerprint_pretty(const char hex[65], char out[96]);
/* Writes data to path atomically (temp file, fsync, rename) with the given mode. */
int pm_write_file(const char *path, const void *data, size_t len, int mode);

#endif
