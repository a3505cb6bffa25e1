/* The practice's PKI: a CA and a server certificate it signs, checked the way a client
 * checks them (mbedtls_x509_crt_verify against the CA, by name), their files' modes, and
 * fingerprints against a SHA-256 of the DER computed here from the PEM text. */
#include "tu.h"

#include "pm_cert.h"
#include "pm_err.h"
#include "pm_tls.h"

#include <dirent.h>
#include <mbedtls/base64.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <sys/stat.h>

typedef struct fx {
    char dir[256];
    char ca_key[300], ca_crt[300], srv_key[300], srv_crt[300];
    pm_rng rng;
    mbedtls_x509_crt ca, srv;
} fx;

static const char *const extra_hosts[] = {"practice.lan", "192.168.1.20"};

static void path(char *out, const char *dir, const char *name)
{
    snprintf(out, 300, "%s/%s", dir, name);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    tu_mkdtemp(f->dir, sizeof f->dir, "cert");
    path(f->ca_key, f->dir, "ca.key");
    path(f->ca_crt, f->dir, "ca.crt");
    path(f->srv_key, f->dir, "server.key");
    path(f->srv_crt, f->dir, "server.crt");
    if (pm_rng_init(&f->rng, "test_cert") != PM_OK)
        return -1;
    mbedtls_x509_crt_init(&f->ca);
    mbedtls_x509_crt_init(&f->srv);
    if (pm_cert_create_ca(&f->rng, "Test Practice", f->ca_key, f->ca_crt) != PM_OK)
        return -1;
    if (pm_cert_create_server(&f->rng, "Test Practice", f->ca_key, f->ca_crt, extra_hosts, 2,
                              f->srv_key, f->srv_crt) != PM_OK)
        return -1;
    if (mbedtls_x509_crt_parse_file(&f->ca, f->ca_crt) != 0 ||
        mbedtls_x509_crt_parse_file(&f->srv, f->srv_crt) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (!f)
        return 0;
    mbedtls_x509_crt_free(&f->ca);
    mbedtls_x509_crt_free(&f->srv);
    pm_rng_free(&f->rng);
    tu_rmrf(f->dir);
    free(f);
    return 0;
}

static int verify(mbedtls_x509_crt *crt, mbedtls_x509_crt *ca, const char *name, uint32_t *flags)
{
    *flags = 0;
    return mbedtls_x509_crt_verify(crt, ca, NULL, name, flags, NULL, NULL);
}

static void test_verifies_for_its_names(void **state)
{
    fx *f = *state;
    static const char *const good[] = {"localhost", "127.0.0.1", "practice.lan", "192.168.1.20"};
    for (size_t i = 0; i < TU_LEN(good); i++) {
        uint32_t flags;
        int rc = verify(&f->srv, &f->ca, good[i], &flags);
        if (rc)
            print_error("%s: rc %d flags %#x\n", good[i], rc, flags);
        assert_int_equal(rc, 0);
        assert_int_equal(flags, 0);
    }
    static const char *const bad[] = {"evil.example",     "practice.lan.evil.example",
                                      "sub.practice.lan", "127.0.0.2",
                                      "localhost.",       "lan"};
    for (size_t i = 0; i < TU_LEN(bad); i++) {
        uint32_t flags;
        int rc = verify(&f->srv, &f->ca, bad[i], &flags);
        if (rc != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
            print_error("%s: rc %d\n", bad[i], rc);
        assert_int_equal(rc, MBEDTLS_ERR_X509_CERT_VERIFY_FAILED);
        assert_true(flags & MBEDTLS_X509_BADCERT_CN_MISMATCH);
        /* and nothing else is wrong with it */
        assert_int_equal(flags & ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH, 0);
    }
}

/* Another practice's CA does not vouch for this server. */
static void test_other_ca_not_trusted(void **state)
{
    fx *f = *state;
    char key[300], crt[300];
    path(key, f->dir, "other-ca.key");
    path(crt, f->dir, "other-ca.crt");
    assert_int_equal(pm_cert_create_ca(&f->rng, "Test Practice", key, crt), PM_OK);
    mbedtls_x509_crt other;
    mbedtls_x509_crt_init(&other);
    assert_int_equal(mbedtls_x509_crt_parse_file(&other, crt), 0);
    uint32_t flags;
    assert_int_equal(verify(&f->srv, &other, "localhost", &flags),
                     MBEDTLS_ERR_X509_CERT_VERIFY_FAILED);
    assert_true(flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED);
    /* the CA is its own trust anchor */
    assert_int_equal(verify(&f->ca, &f->ca, NULL, &flags), 0);
    mbedtls_x509_crt_free(&other);
}

static void test_ca_properties(void **state)
{
    fx *f = *state;
    mbedtls_x509_crt *ca = &f->ca;
    assert_int_equal(ca->version, 3);
    assert_true(ca->ext_types & MBEDTLS_X509_EXT_BASIC_CONSTRAINTS);
    assert_int_equal(ca->ca_istrue, 1);
    assert_int_equal(mbedtls_x509_crt_check_key_usage(ca, MBEDTLS_X509_KU_KEY_CERT_SIGN), 0);
    /* self-signed */
    assert_int_equal(ca->issuer_raw.len, ca->subject_raw.len);
    assert_memory_equal(ca->issuer_raw.p, ca->subject_raw.p, ca->subject_raw.len);
    assert_int_equal(mbedtls_pk_get_type(&ca->pk), MBEDTLS_PK_ECKEY);
    assert_int_equal(mbedtls_pk_ec(ca->pk)->grp.id, MBEDTLS_ECP_DP_SECP256R1);
    char dn[256];
    assert_true(mbedtls_x509_dn_gets(dn, sizeof dn, &ca->subject) > 0);
    assert_string_equal(dn, "CN=Test Practice CA, O=Test Practice");
    /* valid now, for years */
    assert_false(mbedtls_x509_time_is_future(&ca->valid_from));
    assert_false(mbedtls_x509_time_is_past(&ca->valid_to));
    assert_true(ca->valid_to.year - ca->valid_from.year >= 10);
    assert_int_equal(ca->serial.p[0] & 0x80, 0); /* positive */
}

static void test_server_properties(void **state)
{
    fx *f = *state;
    mbedtls_x509_crt *s = &f->srv;
    assert_int_equal(s->version, 3);
    /* not a CA: it cannot sign certificates of its own */
    assert_int_equal(s->ca_istrue, 0);
    assert_int_not_equal(mbedtls_x509_crt_check_key_usage(s, MBEDTLS_X509_KU_KEY_CERT_SIGN), 0);
    assert_int_equal(mbedtls_x509_crt_check_key_usage(s, MBEDTLS_X509_KU_DIGITAL_SIGNATURE), 0);
    assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(
                         s, MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
                     0);
    assert_int_not_equal(mbedtls_x509_crt_check_extended_key_usage(
                             s, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
                         0);
    /* issued by the CA */
    assert_int_equal(s->issuer_raw.len, f->ca.subject_raw.len);
    assert_memory_equal(s->issuer_raw.p, f->ca.subject_raw.p, s->issuer_raw.len);
    assert_false(mbedtls_x509_time_is_future(&s->valid_from));
    assert_false(mbedtls_x509_time_is_past(&s->valid_to));
    /* a different serial from the CA's */
    assert_false(s->serial.len == f->ca.serial.len &&
                 memcmp(s->serial.p, f->ca.serial.p, s->serial.len) == 0);

    /* the key file holds the key of the certificate */
    mbedtls_pk_context key;
    mbedtls_pk_init(&key);
    assert_int_equal(mbedtls_pk_parse_keyfile(&key, f->srv_key, NULL), 0);
    assert_int_equal(mbedtls_pk_check_pair(&s->pk, &key), 0);
    mbedtls_pk_free(&key);
    mbedtls_pk_init(&key);
    assert_int_equal(mbedtls_pk_parse_keyfile(&key, f->ca_key, NULL), 0);
    assert_int_equal(mbedtls_pk_check_pair(&f->ca.pk, &key), 0);
    /* and not the server's */
    assert_int_not_equal(mbedtls_pk_check_pair(&s->pk, &key), 0);
    mbedtls_pk_free(&key);
}

static void test_file_modes(void **state)
{
    fx *f = *state;
    struct stat st;
    assert_int_equal(stat(f->ca_key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(f->srv_key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(f->ca_crt, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(stat(f->srv_crt, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);

    /* the atomic writes left no temporary files behind */
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strstr(e->d_name, ".tmp"))
            fail_msg("left behind: %s", e->d_name);
    }
    closedir(d);

    /* pm_write_file replaces, with the mode given, even over a looser file */
    char p[300];
    path(p, f->dir, "secret");
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("old", fp);
    fclose(fp);
    assert_int_equal(chmod(p, 0666), 0);
    assert_int_equal(pm_write_file(p, "new", 3, 0600), PM_OK);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 3);
}

/* The DER inside a PEM file, decoded here from the base64 text. */
static size_t pem_to_der(const char *file, uint8_t *der, size_t max)
{
    FILE *fp = fopen(file, "r");
    assert_non_null(fp);
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = 0;
    const char *begin = strstr(text, "-----BEGIN CERTIFICATE-----\n");
    assert_non_null(begin);
    begin += strlen("-----BEGIN CERTIFICATE-----\n");
    const char *end = strstr(begin, "-----END CERTIFICATE-----");
    assert_non_null(end);
    char b64[8192];
    size_t bl = 0;
    for (const char *p = begin; p < end; p++)
        if (*p != '\n' && *p != '\r')
            b64[bl++] = *p;
    size_t dl = 0;
    assert_int_equal(mbedtls_base64_decode(der, max, &dl, (const unsigned char *)b64, bl), 0);
    return dl;
}

static void sha256_hex(const uint8_t *p, size_t n, char hex[65])
{
    uint8_t md[32];
    assert_int_equal(mbedtls_sha256_ret(p, n, md, 0), 0);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void test_fingerprints(void **state)
{
    fx *f = *state;
    const char *files[] = {f->ca_crt, f->srv_crt};
    char fps[2][65];
    for (int i = 0; i < 2; i++) {
        uint8_t der[4096];
        size_t dl = pem_to_der(files[i], der, sizeof der);
        assert_true(dl > 100);
        char want[65];
        sha256_hex(der, dl, want);
        char got[65];
        memset(got, 'x', sizeof got);
        assert_int_equal(pm_cert_fingerprint_file(files[i], got), PM_OK);
        assert_int_equal(strlen(got), 64);
        assert_string_equal(got, want);
        char fromder[65];
        pm_cert_fingerprint_der(der, dl, fromder);
        assert_string_equal(fromder, want);
        memcpy(fps[i], got, 65);
    }
    assert_string_not_equal(fps[0], fps[1]);

    char pretty[96];
    pm_cert_fingerprint_pretty(fps[0], pretty);
    assert_int_equal(strlen(pretty), 95);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(pretty[3 * i], fps[0][2 * i]);
        assert_int_equal(pretty[3 * i + 1], fps[0][2 * i + 1]);
        if (i < 31)
            assert_int_equal(pretty[3 * i + 2], ':');
    }

    char hex[65];
    char missing[300];
    path(missing, f->dir, "missing.crt");
    assert_int_equal(pm_cert_fingerprint_file(missing, hex), PM_E_CERT);
    assert_int_equal(pm_cert_fingerprint_file(f->ca_key, hex), PM_E_CERT);
}

/* A practice name with the characters that structure a DN stays one CN and one O. */
static void test_hostile_practice_name(void **state)
{
    fx *f = *state;
    char key[300], crt[300];
    path(key, f->dir, "odd-ca.key");
    path(crt, f->dir, "odd-ca.crt");
    assert_int_equal(pm_cert_create_ca(&f->rng, "Smith, Jones+Co=\"CN=evil\"", key, crt), PM_OK);
    mbedtls_x509_crt c;
    mbedtls_x509_crt_init(&c);
    assert_int_equal(mbedtls_x509_crt_parse_file(&c, crt), 0);
    size_t rdns = 0;
    for (const mbedtls_x509_name *n = &c.subject; n; n = n->next)
        if (n->oid.p)
            rdns++;
    assert_int_equal(rdns, 2);
    assert_int_equal(c.ca_istrue, 1);
    mbedtls_x509_crt_free(&c);
    /* an empty name still makes a CA */
    path(key, f->dir, "empty-ca.key");
    path(crt, f->dir, "empty-ca.crt");
    assert_int_equal(pm_cert_create_ca(&f->rng, "", key, crt), PM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verifies_for_its_names),
        cmocka_unit_test(test_other_ca_not_trusted),
        cmocka_unit_test(test_ca_properties),
        cmocka_unit_test(test_server_properties),
        cmocka_unit_test(test_file_modes),
        cmocka_unit_test(test_fingerprints),
        cmocka_unit_test(test_hostile_practice_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
