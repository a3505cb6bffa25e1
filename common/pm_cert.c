#include "pm_cert.h"

#include "pm_err.h"
#include "pm_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CA_YEARS     20
#define SERVER_YEARS 10
#define PEM_MAX      4096

int pm_write_file(const char *path, const void *data, size_t len, int mode)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return PM_E_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return pm_err_from_errno(errno);
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return pm_err_from_errno(e);
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        return PM_E_IO;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return PM_E_IO;
    }
    return PM_OK;
}

static int gen_key(pm_rng *rng, mbedtls_pk_context *key)
{
    mbedtls_pk_init(key);
    int rc = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (rc == 0)
        rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key), pm_rng_bytes, rng);
    return rc ? PM_E_TLS : PM_OK;
}

static int write_key(mbedtls_pk_context *key, const char *path)
{
    unsigned char pem[PEM_MAX];
    if (mbedtls_pk_write_key_pem(key, pem, sizeof pem) != 0)
        return PM_E_TLS;
    int rc = pm_write_file(path, pem, strlen((char *)pem), 0600);
    mbedtls_platform_zeroize(pem, sizeof pem);
    return rc;
}

/* Keeps a practice name safe inside an X.509 distinguished name string. */
static void dn_clean(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (; *in && o + 1 < n && o < 60; in++)
        out[o++] = strchr(",=+<>#;\\\"", *in) ? ' ' : *in;
    out[o] = 0;
    if (o == 0)
        snprintf(out, n, "Practice");
}

static void validity(int years, char from[16], char to[16])
{
    time_t now = time(NULL) - 86400;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(from, 16, "%Y%m%d%H%M%S", &tm);
    tm.tm_year += years;
    strftime(to, 16, "%Y%m%d%H%M%S", &tm);
}

static int set_serial(pm_rng *rng, mbedtls_x509write_cert *crt)
{
    unsigned char raw[16];
    if (pm_rng_bytes(rng, raw, sizeof raw) != 0)
        return PM_E_TLS;
    raw[0] &= 0x7f; /* positive */
    raw[0] |= 0x01; /* and never zero */
    mbedtls_mpi serial;
    mbedtls_mpi_init(&serial);
    int rc = mbedtls_mpi_read_binary(&serial, raw, sizeof raw);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_serial(crt, &serial);
    mbedtls_mpi_free(&serial);
    return rc ? PM_E_TLS : PM_OK;
}

#define ASN1(expr)                                                                                 \
    do {                                                                                           \
        int r_ = (expr);                                                                           \
        if (r_ < 0)                                                                                \
            return PM_E_TLS;                                                                       \
        len += (size_t)r_;                                                                         \
    } while (0)

/* subjectAltName: every name as dNSName, and addresses also as iPAddress. mbedtls 2.28
 * matches a hostname only against dNSName entries, so "127.0.0.1" appears as both. */
static int write_san(mbedtls_x509write_cert *crt, const char *const *names, size_t n)
{
    unsigned char buf[2048];
    unsigned char *p = buf + sizeof buf;
    size_t len = 0;
    for (size_t i = n; i-- > 0;) {
        const char *name = names[i];
        size_t nl = strlen(name);
        unsigned char addr[16];
        size_t alen = 0;
        if (inet_pton(AF_INET, name, addr) == 1)
            alen = 4;
        else if (inet_pton(AF_INET6, name, addr) == 1)
            alen = 16;
        if (alen) {
            ASN1(mbedtls_asn1_write_raw_buffer(&p, buf, addr, alen));
            ASN1(mbedtls_asn1_write_len(&p, buf, alen));
            ASN1(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));
        }
        if (alen == 16)
            continue; /* "::1" is no DNS name, and mbedtls clients cannot match it anyway */
        ASN1(mbedtls_asn1_write_raw_buffer(&p, buf, (const unsigned char *)name, nl));
        ASN1(mbedtls_asn1_write_len(&p, buf, nl));
        ASN1(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2));
    }
    ASN1(mbedtls_asn1_write_len(&p, buf, len));
    ASN1(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    int rc = mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                 MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                                 p, len);
    return rc ? PM_E_TLS : PM_OK;
}

/* extendedKeyUsage: serverAuth. */
static int write_eku_server(mbedtls_x509write_cert *crt)
{
    unsigned char buf[64];
    unsigned char *p = buf + sizeof buf;
    size_t len = 0;
    ASN1(mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_SERVER_AUTH,
                                MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
    ASN1(mbedtls_asn1_write_len(&p, buf, len));
    ASN1(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    int rc = mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                                 MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE),
                                                 0, p, len);
    return rc ? PM_E_TLS : PM_OK;
}

static int write_crt(pm_rng *rng, mbedtls_x509write_cert *crt, const char *path)
{
    unsigned char pem[PEM_MAX];
    if (mbedtls_x509write_crt_pem(crt, pem, sizeof pem, pm_rng_bytes, rng) != 0)
        return PM_E_TLS;
    return pm_write_file(path, pem, strlen((char *)pem), 0644);
}

int pm_cert_create_ca(pm_rng *rng, const char *practice, const char *key_path, const char *crt_path)
{
    mbedtls_pk_context key;
    mbedtls_x509write_cert crt;
    char clean[64], dn[160], from[16], to[16];
    int rc = gen_key(rng, &key);
    mbedtls_x509write_crt_init(&crt);
    if (rc)
        goto out;
    dn_clean(practice, clean, sizeof clean);
    snprintf(dn, sizeof dn, "CN=%s CA,O=%s", clean, clean);
    validity(CA_YEARS, from, to);
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, &key);
    mbedtls_x509write_crt_set_issuer_key(&crt, &key);
    rc = PM_E_TLS;
    if (mbedtls_x509write_crt_set_subject_name(&crt, dn) ||
        mbedtls_x509write_crt_set_issuer_name(&crt, dn) ||
        mbedtls_x509write_crt_set_validity(&crt, from, to) ||
        mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0) ||
        mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_KEY_CERT_SIGN |
                                                      MBEDTLS_X509_KU_CRL_SIGN) ||
        mbedtls_x509write_crt_set_subject_key_identifier(&crt) ||
        mbedtls_x509write_crt_set_authority_key_identifier(&crt))
        goto out;
    if ((rc = set_serial(rng, &crt)) || (rc = write_key(&key, key_path)) ||
        (rc = write_crt(rng, &crt, crt_path)))
        goto out;
    rc = PM_OK;
out:
    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&key);
    return rc;
}

int pm_cert_create_server(pm_rng *rng, const char *practice, const char *ca_key_path,
                          const char *ca_crt_path, const char *const *hosts, size_t nhosts,
                          const char *key_path, const char *crt_path)
{
    mbedtls_pk_context key, ca_key;
    mbedtls_x509_crt ca;
    mbedtls_x509write_cert crt;
    char clean[64], dn[160], issuer[256], from[16], to[16];
    const char *names[64];
    size_t nnames = 0;
    int rc;

    mbedtls_pk_init(&ca_key);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509write_crt_init(&crt);
    rc = gen_key(rng, &key);
    if (rc)
        goto out;
    rc = PM_E_TLS;
    if (mbedtls_pk_parse_keyfile(&ca_key, ca_key_path, NULL) != 0 ||
        mbedtls_x509_crt_parse_file(&ca, ca_crt_path) != 0)
        goto out;
    if (mbedtls_x509_dn_gets(issuer, sizeof issuer, &ca.subject) < 0)
        goto out;

    names[nnames++] = "localhost";
    names[nnames++] = "127.0.0.1";
    names[nnames++] = "::1";
    for (size_t i = 0; i < nhosts && nnames < PM_ARRAY_LEN(names); i++)
        names[nnames++] = hosts[i];

    dn_clean(practice, clean, sizeof clean);
    snprintf(dn, sizeof dn, "CN=%s,O=%s", nhosts ? hosts[0] : "localhost", clean);
    validity(SERVER_YEARS, from, to);
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, &key);
    mbedtls_x509write_crt_set_issuer_key(&crt, &ca_key);
    if (mbedtls_x509write_crt_set_subject_name(&crt, dn) ||
        mbedtls_x509write_crt_set_issuer_name(&crt, issuer) ||
        mbedtls_x509write_crt_set_validity(&crt, from, to) ||
        mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1) ||
        mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) ||
        mbedtls_x509write_crt_set_subject_key_identifier(&crt) ||
        mbedtls_x509write_crt_set_authority_key_identifier(&crt))
        goto out;
    if ((rc = write_san(&crt, names, nnames)) || (rc = write_eku_server(&crt)) ||
        (rc = set_serial(rng, &crt)) || (rc = write_key(&key, key_path)) ||
        (rc = write_crt(rng, &crt, crt_path)))
        goto out;
    rc = PM_OK;
out:
    mbedtls_x509write_crt_free(&crt);
    mbedtls_x509_crt_free(&ca);
    mbedtls_pk_free(&ca_key);
    mbedtls_pk_free(&key);
    return rc;
}

void pm_cert_fingerprint_der(const uint8_t *der, size_t len, char hex[65])
{
    uint8_t md[32];
    pm_sha256(der, len, md);
    pm_hex(md, 32, hex);
}

int pm_cert_fingerprint_file(const char *crt_path, char hex[65])
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    if (mbedtls_x509_crt_parse_file(&crt, crt_path) != 0) {
        mbedtls_x509_crt_free(&crt);
        return PM_E_CERT;
    }
    pm_cert_fingerprint_der(crt.raw.p, crt.raw.len, hex);
    mbedtls_x509_crt_free(&crt);
    return PM_OK;
}

void pm_cert_fingerprint_pretty(const char hex[65], char out[96])
{
    size_t o = 0;
    for (int i = 0; i < 64; i += 2) {
        if (i)
            out[o++] = ':';
        out[o++] = hex[i];
        out[o++] = hex[i + 1];
    }
    out[o] = 0;
}
