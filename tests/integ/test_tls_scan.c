/* The TLS policy as an outsider sees it: Debian's sslscan and openssl against a real
 * practiced, and ClientHellos written by hand for what those tools can no longer offer
 * (SSLv2, export and NULL suites, compression).
 *
 * The policy (DESIGN.md): TLS 1.2 only; ECDHE-ECDSA with AES-GCM or ChaCha20-Poly1305 and
 * nothing else; no renegotiation; no compression; a certificate that verifies against the
 * practice's CA for the names a client dials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "pm_err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static ts_server S;
static char SCAN[65536]; /* sslscan's report */

static int setup(void **state)
{
    (void)state;
    if (ts_init(&S, NULL) || ts_start(&S, NULL))
        return -1;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sslscan --no-colour --show-certificate 127.0.0.1:%d 2>&1", S.port);
    int rc = ts_sh(SCAN, sizeof SCAN, "%s", cmd);
    printf("      $ %s  (exit %d)\n", cmd, rc);
    if (rc != 0) {
        fprintf(stderr, "sslscan failed (is it installed? ./setup installs it):\n%s\n", SCAN);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = ts_stop(&S, SIGTERM);
    if (rc == 0)
        ts_cleanup(&S);
    return rc;
}

/* The line of the report that starts with prefix, copied into out (without the newline). */
static int scan_line(const char *prefix, char *out, size_t n)
{
    size_t pl = strlen(prefix);
    for (const char *p = SCAN; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, pl) == 0) {
            size_t l = strcspn(p, "\n");
            if (l >= n)
                l = n - 1;
            memcpy(out, p, l);
            out[l] = 0;
            return 1;
        }
    }
    return 0;
}

/* The line after the one that is exactly `heading` (after leading spaces). */
static int line_after(const char *heading, char *out, size_t n)
{
    const char *p = strstr(SCAN, heading);
    if (!p || !(p = strchr(p, '\n')))
        return 0;
    p++;
    size_t l = strcspn(p, "\n");
    if (l >= n)
        l = n - 1;
    memcpy(out, p, l);
    out[l] = 0;
    return 1;
}

static void test_protocols(void **state)
{
    (void)state;
    static const char *const refused[] = {"SSLv2 ", "SSLv3 ", "TLSv1.0 ", "TLSv1.1 "};
    char line[256];
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        assert_true(scan_line(refused[i], line, sizeof line));
        printf("      %s\n", line);
        if (!strstr(line, "disabled"))
            fail_msg("sslscan: a protocol below TLS 1.2 is accepted: %s", line);
    }
    assert_true(scan_line("TLSv1.2 ", line, sizeof line));
    printf("      %s\n", line);
    assert_non_null(strstr(line, "enabled"));
    /* TLS 1.3 may come one day; today mbedtls 2.28 has none */
    assert_true(scan_line("TLSv1.3 ", line, sizeof line));
    printf("      %s\n", line);
}

static void test_cipher_suites(void **state)
{
    (void)state;
    static const char *const expected[] = {
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    };
    static const char *const banned[] = {"CBC",  "RC4",   "DES",  "NULL", "EXP", "anon",
                                         "ADH",  "AECDH", "MD5",  "PSK",  "SRP", "CAMELLIA",
                                         "ARIA", "SEED",  "IDEA", "CCM"};
    int seen[3] = {0};
    int accepted = 0;
    printf("      accepted suites:\n");
    for (const char *p = SCAN; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, "Preferred ", 10) != 0 && strncmp(p, "Accepted ", 9) != 0)
            continue;
        char status[16], version[16], bits[16], word[16], name[80];
        if (sscanf(p, "%15s %15s %15s %15s %79s", status, version, bits, word, name) != 5)
            fail_msg("sslscan: cannot read the suite line %.*s", (int)strcspn(p, "\n"), p);
        printf("        %.*s\n", (int)strcspn(p, "\n"), p);
        accepted++;
        if (strcmp(version, "TLSv1.2") != 0 && strcmp(version, "TLSv1.3") != 0)
            fail_msg("a suite is accepted over %s: %s", version, name);
        for (size_t b = 0; b < sizeof banned / sizeof *banned; b++)
            if (strstr(name, banned[b]))
                fail_msg("a weak suite is accepted: %s (%s)", name, banned[b]);
        /* not AEAD (OpenSSL's names of CBC suites do not say CBC) or not ECDHE */
        if (!strstr(name, "GCM") && !strstr(name, "CHACHA20"))
            fail_msg("a suite without AES-GCM or ChaCha20-Poly1305 is accepted: %s", name);
        if (strcmp(version, "TLSv1.2") == 0 && strncmp(name, "ECDHE-ECDSA-", 12) != 0)
            fail_msg("a suite without ECDHE-ECDSA is accepted: %s", name);
        int known = 0;
        for (size_t e = 0; e < 3; e++)
            if (strcmp(name, expected[e]) == 0) {
                seen[e]++;
                known = 1;
            }
        if (!known && strcmp(version, "TLSv1.2") == 0)
            fail_msg("an unexpected suite is accepted: %s", name);
    }
    for (size_t e = 0; e < 3; e++)
        if (seen[e] != 1)
            fail_msg("%s is not accepted (or listed twice): seen %d times", expected[e], seen[e]);
    assert_int_equal(accepted, 3);
}

static void test_renegotiation_compression_heartbleed(void **state)
{
    (void)state;
    char line[256];
    assert_true(line_after("TLS renegotiation:", line, sizeof line));
    printf("      renegotiation: %s\n", line);
    if (strstr(line, "ecure session renegotiation supported"))
        fail_msg("renegotiation is supported: %s", line);
    assert_string_equal(line, "Session renegotiation not supported");

    /* sslscan's OpenSSL may be built without zlib and then cannot tell: the hand-made
     * ClientHello in test_compression_offered checks it for sure */
    assert_true(line_after("TLS Compression:", line, sizeof line));
    printf("      compression: %s\n", line);
    if (strstr(line, "Compression enabled"))
        fail_msg("compression is accepted: %s", line);

    assert_true(line_after("Heartbleed:", line, sizeof line));
    printf("      heartbleed: %s\n", line);
    assert_non_null(strstr(line, "not vulnerable"));

    /* And a real attempt: openssl s_client's R command renegotiates an open session. */
    char out[32768];
    ts_sh(out, sizeof out,
          "(sleep 1; echo R; sleep 2) | timeout 20 openssl s_client -connect 127.0.0.1:%d "
          "-CAfile %s 2>&1",
          S.port, S.ca);
    const char *ren = strstr(out, "RENEGOTIATING");
    assert_non_null(ren);
    printf("      s_client asked to renegotiate: %.*s\n", (int)strcspn(ren + 14, "\n"), ren + 14);
    if (!strstr(ren, "no renegotiation"))
        fail_msg("the server did not refuse a renegotiation:\n%s", ren);
}

/* The certificate the server presents, as openssl sees it. */
static void test_certificate(void **state)
{
    (void)state;
    char out[32768], pres[400], chain_ca[400], other_dir[300];
    snprintf(pres, sizeof pres, "%s/presented.pem", S.dir);
    snprintf(chain_ca, sizeof chain_ca, "%s/presented-ca.pem", S.dir);
    /* the first and second certificates of -showcerts */
    int rc = ts_sh(out, sizeof out,
                   "timeout 20 openssl s_client -connect 127.0.0.1:%d -showcerts </dev/null "
                   "2>/dev/null | awk -v f1=%s -v f2=%s '/BEGIN CERT/{n++; p=1} "
                   "p && n==1 {print > f1} p && n==2 {print > f2} /END CERT/{p=0}'",
                   S.port, pres, chain_ca);
    assert_int_equal(rc, 0);
    rc = ts_sh(out, sizeof out,
               "openssl x509 -in %s -noout -subject -issuer -ext subjectAltName,extendedKeyUsage "
               "-fingerprint -sha256 2>&1",
               pres);
    assert_int_equal(rc, 0);
    printf("      presented certificate:\n%s", out);
    assert_non_null(strstr(out, "subject=CN = localhost"));
    assert_non_null(strstr(out, "DNS:localhost"));
    assert_non_null(strstr(out, "IP Address:127.0.0.1"));
    assert_non_null(strstr(out, "TLS Web Server Authentication"));
    char text[32768];
    assert_int_equal(ts_sh(text, sizeof text, "openssl x509 -in %s -noout -text", pres), 0);
    assert_non_null(strstr(text, "ASN1 OID: prime256v1"));
    assert_non_null(strstr(text, "Signature Algorithm: ecdsa-with-SHA256"));
    assert_non_null(strstr(text, "CA:FALSE"));

    /* the same certificate as on disk, and the CA behind it is the one init printed */
    char disk[256];
    assert_int_equal(ts_sh(disk, sizeof disk,
                           "openssl x509 -in %s/server.crt -noout -fingerprint "
                           "-sha256",
                           S.dir),
                     0);
    assert_non_null(strstr(out, disk));
    char fp[256];
    assert_int_equal(ts_sh(fp, sizeof fp,
                           "openssl x509 -in %s -noout -fingerprint -sha256 | cut -d= -f2 | "
                           "tr -d ':\\n' | tr A-F a-f",
                           chain_ca),
                     0);
    printf("      CA in the chain: %s (init printed %s)\n", fp, S.fingerprint);
    assert_string_equal(fp, S.fingerprint);

    /* verifies against the practice CA for the names clients use */
    static const char *const good[] = {"-verify_hostname localhost", "-verify_ip 127.0.0.1"};
    for (size_t i = 0; i < 2; i++) {
        rc = ts_sh(out, sizeof out, "openssl verify -CAfile %s -purpose sslserver %s %s 2>&1", S.ca,
                   good[i], pres);
        printf("      openssl verify %s: %s", good[i], out);
        assert_int_equal(rc, 0);
        assert_non_null(strstr(out, ": OK"));
    }
    /* and not for a name it does not carry, nor against another practice's CA */
    rc =
        ts_sh(out, sizeof out,
              "openssl verify -CAfile %s -verify_hostname desk-server.example %s 2>&1", S.ca, pres);
    printf("      openssl verify for a name it does not carry (exit %d): %s", rc, out);
    assert_int_not_equal(rc, 0);
    ts_server other;
    assert_int_equal(ts_init(&other, NULL), 0);
    snprintf(other_dir, sizeof other_dir, "%s", other.ca);
    rc = ts_sh(out, sizeof out, "openssl verify -CAfile %s %s 2>&1", other_dir, pres);
    printf("      openssl verify against another practice's CA (exit %d): %s", rc, out);
    assert_int_not_equal(rc, 0);
    ts_cleanup(&other);
}

/* ---- hand-made ClientHellos ---- */

typedef struct hello_opts {
    uint16_t record_version, client_version;
    const uint16_t *suites;
    size_t nsuites;
    const uint8_t *compression;
    size_t ncompression;
} hello_opts;

typedef struct server_answer {
    int server_hello; /* 1: a ServerHello came back */
    uint16_t version, suite;
    uint8_t compression;
    int alert;      /* the alert description, or -1 */
    char what[128]; /* for the report */
} server_answer;

static size_t put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

static size_t client_hello(const hello_opts *o, uint8_t *buf)
{
    uint8_t body[1024];
    size_t n = 0;
    n += put16(body + n, o->client_version);
    for (int i = 0; i < 32; i++)
        body[n++] = (uint8_t)(i * 7 + 1); /* client random */
    body[n++] = 0;                        /* no session id */
    n += put16(body + n, (uint16_t)(o->nsuites * 2));
    for (size_t i = 0; i < o->nsuites; i++)
        n += put16(body + n, o->suites[i]);
    body[n++] = (uint8_t)o->ncompression;
    for (size_t i = 0; i < o->ncompression; i++)
        body[n++] = o->compression[i];
    static const uint8_t ext[] = {
        0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17, /* groups: x25519, P-256 */
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,                         /* point formats */
        0x00, 0x0d, 0x00, 0x0a, 0x00, 0x08, 0x04, 0x03, 0x05, 0x03, /* signature algorithms */
        0x04, 0x01, 0x02, 0x03,                                     /* (ecdsa sha256/384, ...) */
        0xff, 0x01, 0x00, 0x01, 0x00,                               /* renegotiation_info */
        0x00, 0x17, 0x00, 0x00,                                     /* extended master secret */
    };
    n += put16(body + n, sizeof ext);
    memcpy(body + n, ext, sizeof ext);
    n += sizeof ext;
    size_t m = 0;
    buf[m++] = 0x16; /* handshake */
    m += put16(buf + m, o->record_version);
    m += put16(buf + m, (uint16_t)(n + 4));
    buf[m++] = 0x01; /* ClientHello */
    buf[m++] = 0;
    m += put16(buf + m, (uint16_t)n);
    memcpy(buf + m, body, n);
    return m + n;
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)S.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Reads exactly n bytes within 5 s: 1, or 0 on close/reset, -1 on timeout. */
static int read_full(int fd, uint8_t *p, size_t n)
{
    size_t have = 0;
    while (have < n) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 5000) <= 0)
            return -1;
        ssize_t r = read(fd, p + have, n - have);
        if (r <= 0)
            return 0;
        have += (size_t)r;
    }
    return 1;
}

/* Sends bytes and reads what the server answers: a ServerHello, an alert, or a close. */
static void exchange(const uint8_t *msg, size_t len, server_answer *a)
{
    memset(a, 0, sizeof *a);
    a->alert = -1;
    int fd = connect_server();
    assert_int_equal(write(fd, msg, len), (ssize_t)len);
    uint8_t hdr[5], rec[16384];
    int rc = read_full(fd, hdr, 5);
    if (rc == 0) {
        snprintf(a->what, sizeof a->what, "connection closed");
    } else if (rc < 0) {
        snprintf(a->what, sizeof a->what, "no answer in 5 s");
    } else {
        size_t rl = (size_t)hdr[3] << 8 | hdr[4];
        if (hdr[0] == 0x80 || rl > sizeof rec || read_full(fd, rec, rl) != 1) {
            snprintf(a->what, sizeof a->what, "unreadable answer (type %u)", hdr[0]);
            if (hdr[0] == 0x80) /* an SSLv2 record: SERVER-HELLO is type 4 */
                a->server_hello = 1;
        } else if (hdr[0] == 0x15 && rl >= 2) {
            a->alert = rec[1];
            snprintf(a->what, sizeof a->what, "alert %u (level %u)", rec[1], rec[0]);
        } else if (hdr[0] == 0x16 && rl >= 4 && rec[0] == 0x02) {
            const uint8_t *h = rec + 4;
            size_t sid = h[34];
            a->server_hello = 1;
            a->version = (uint16_t)(h[0] << 8 | h[1]);
            if (35 + sid + 3 <= rl - 4) {
                a->suite = (uint16_t)(h[35 + sid] << 8 | h[36 + sid]);
                a->compression = h[37 + sid];
            }
            snprintf(a->what, sizeof a->what,
                     "ServerHello: version %04x, suite %04x, compression %u", a->version, a->suite,
                     a->compression);
        } else {
            snprintf(a->what, sizeof a->what, "record type %u, handshake type %u", hdr[0], rec[0]);
        }
    }
    close(fd);
}

static const uint16_t GOOD[] = {0xc02b, 0xc02c, 0xcca9};
static const uint8_t NULL_COMPRESSION[] = {0};

static void probe(const hello_opts *o, server_answer *a)
{
    uint8_t buf[2048];
    size_t n = client_hello(o, buf);
    exchange(buf, n, a);
}

/* A positive control first: the probe itself works. */
static void test_probe_good_suites(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        hello_opts o = {0x0301, 0x0303, &GOOD[i], 1, NULL_COMPRESSION, 1};
        server_answer a;
        probe(&o, &a);
        printf("      TLS 1.2 offering only %04x: %s\n", GOOD[i], a.what);
        assert_true(a.server_hello);
        assert_int_equal(a.version, 0x0303);
        assert_int_equal(a.suite, GOOD[i]);
        assert_int_equal(a.compression, 0);
    }
}

static void test_probe_old_versions(void **state)
{
    (void)state;
    static const uint16_t with_cbc[] = {0xc02b, 0xc02c, 0xcca9, 0xc009, 0xc00a, 0x002f, 0x0035};
    static const struct {
        uint16_t v;
        const char *name;
    } versions[] = {{0x0300, "SSLv3"}, {0x0301, "TLS 1.0"}, {0x0302, "TLS 1.1"}};
    for (size_t i = 0; i < 3; i++) {
        hello_opts o = {0x0300, versions[i].v, with_cbc, 7, NULL_COMPRESSION, 1};
        server_answer a;
        probe(&o, &a);
        printf("      %s ClientHello: %s\n", versions[i].name, a.what);
        if (a.server_hello)
            fail_msg("the server answered a %s ClientHello: %s", versions[i].name, a.what);
    }
    /* SSLv2's own ClientHello format (RC4-MD5 and 3DES-EDE-CBC-MD5) */
    static const uint8_t v2[] = {0x80, 0x1f,             /* a 2-byte header, 31 bytes follow */
                                 0x01, 0x00, 0x02,       /* CLIENT-HELLO, version 2 */
                                 0x00, 0x06, 0x00, 0x00, /* cipher specs: 6 bytes; no session id */
                                 0x00, 0x10,             /* a 16-byte challenge */
                                 0x01, 0x00, 0x80, 0x07, 0x00, 0xc0, 1,  2,  3,  4,  5,
                                 6,    7,    8,    9,    10,   11,   12, 13, 14, 15, 16};
    server_answer a;
    exchange(v2, sizeof v2, &a);
    printf("      SSLv2 ClientHello: %s\n", a.what);
    assert_false(a.server_hello);
}

/* Each suite the policy excludes, offered alone over TLS 1.2, is refused. */
static void test_probe_weak_suites(void **state)
{
    (void)state;
    static const struct {
        uint16_t id;
        const char *name;
    } weak[] = {
        {0xc023, "ECDHE-ECDSA-AES128-SHA256 (CBC)"},
        {0xc024, "ECDHE-ECDSA-AES256-SHA384 (CBC)"},
        {0xc009, "ECDHE-ECDSA-AES128-SHA (CBC)"},
        {0xc00a, "ECDHE-ECDSA-AES256-SHA (CBC)"},
        {0x002f, "RSA-AES128-SHA (CBC, no ECDHE)"},
        {0x009c, "RSA-AES128-GCM-SHA256 (no ECDHE)"},
        {0x009e, "DHE-RSA-AES128-GCM-SHA256 (no ECDHE)"},
        {0xc02f, "ECDHE-RSA-AES128-GCM-SHA256 (RSA)"},
        {0xc007, "ECDHE-ECDSA-RC4-SHA"},
        {0x0004, "RSA-RC4-MD5"},
        {0xc008, "ECDHE-ECDSA-3DES-EDE-CBC-SHA"},
        {0x000a, "RSA-3DES-EDE-CBC-SHA"},
        {0xc006, "ECDHE-ECDSA-NULL-SHA"},
        {0x003b, "RSA-NULL-SHA256"},
        {0x0003, "EXP-RC4-MD5"},
        {0x0008, "EXP-DES-CBC-SHA"},
        {0xc018, "AECDH-AES128-SHA (anonymous)"},
        {0x00a6, "ADH-AES128-GCM-SHA256 (anonymous)"},
        {0x00a8, "PSK-AES128-GCM-SHA256"},
        {0xccac, "ECDHE-PSK-CHACHA20-POLY1305"},
        {0xc0ac, "ECDHE-ECDSA-AES128-CCM"},
        {0xc05c, "ECDHE-ECDSA-ARIA128-GCM-SHA256"},
        {0xc086, "ECDHE-ECDSA-CAMELLIA128-GCM-SHA256"},
    };
    for (size_t i = 0; i < sizeof weak / sizeof *weak; i++) {
        hello_opts o = {0x0301, 0x0303, &weak[i].id, 1, NULL_COMPRESSION, 1};
        server_answer a;
        probe(&o, &a);
        printf("      %-38s %s\n", weak[i].name, a.what);
        if (a.server_hello)
            fail_msg("the server accepted %s: %s", weak[i].name, a.what);
    }
}

/* DEFLATE offered first: the server picks no compression, or refuses. */
static void test_compression_offered(void **state)
{
    (void)state;
    static const uint8_t deflate_first[] = {1, 0}, deflate_only[] = {1};
    hello_opts o = {0x0301, 0x0303, GOOD, 3, deflate_first, 2};
    server_answer a;
    probe(&o, &a);
    printf("      DEFLATE and null offered: %s\n", a.what);
    assert_true(a.server_hello);
    assert_int_equal(a.compression, 0);
    o.compression = deflate_only;
    o.ncompression = 1;
    probe(&o, &a);
    printf("      only DEFLATE offered: %s\n", a.what);
    assert_false(a.server_hello && a.compression != 0);
}

/* After all of that the server still serves. */
static void test_still_serving(void **state)
{
    (void)state;
    pc_client *c = ts_manager(&S);
    assert_non_null(c);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PING), *resp = NULL;
    e->ping = pm_msg_new(&a, &pm__ping__descriptor);
    assert_int_equal(pc_call(c, e, &a, &resp), PM_OK);
    pm_arena_free(&a);
    pc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocols),
        cmocka_unit_test(test_cipher_suites),
        cmocka_unit_test(test_renegotiation_compression_heartbleed),
        cmocka_unit_test(test_certificate),
        cmocka_unit_test(test_probe_good_suites),
        cmocka_unit_test(test_probe_old_versions),
        cmocka_unit_test(test_probe_weak_suites),
        cmocka_unit_test(test_compression_offered),
        cmocka_unit_test(test_still_serving),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
