/* practiced init: a new practice in a new data directory. */
#include "audit.h"
#include "auth.h"
#include "pm_cert.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_time.h"
#include "pm_util.h"
#include "server.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HOSTS 16

static void init_usage(FILE *f)
{
    fprintf(f,
            "usage: practiced init --data DIR --name NAME --tz Area/City [options]\n\n"
            "Creates a practice: its database, its own certificate authority and server\n"
            "certificate, and the first manager account, whose one-time password is printed.\n"
            "Refuses to touch a directory that already holds a practice.\n\n"
            "  --data DIR          where the practice lives (created, mode 0700)\n"
            "  --name NAME         the practice's name, e.g. \"Riverside Family Practice\"\n"
            "  --tz Area/City      its time zone, e.g. Europe/Paris, America/Chicago\n"
            "  --host NAME         a further DNS name or address clients use to reach the\n"
            "                      server (repeatable); localhost and 127.0.0.1 are always in\n"
            "  --manager USER      the first manager's username (default: admin)\n"
            "  --argon2-memory KIB Argon2id memory cost (default %d)\n"
            "  --argon2-passes N   Argon2id passes (default %d)\n",
            ARGON2_DEFAULT_M_KIB, ARGON2_DEFAULT_T);
}

static int host_valid(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 253)
        return 0;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == ':'))
            return 0;
    return 1;
}

static int path_exists(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},
        {"name", required_argument, 0, 'n'},
        {"tz", required_argument, 0, 't'},
        {"host", required_argument, 0, 'H'},
        {"manager", required_argument, 0, 'm'},
        {"argon2-memory", required_argument, 0, 'M'},
        {"argon2-passes", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *dir = NULL, *name = NULL, *tz = NULL, *manager = "admin";
    const char *hosts[MAX_HOSTS];
    size_t nhosts = 0;
    argon2_params ap = {ARGON2_DEFAULT_M_KIB, ARGON2_DEFAULT_T};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 't':
            tz = optarg;
            break;
        case 'H':
            if (nhosts == MAX_HOSTS || !host_valid(optarg)) {
                fprintf(stderr, "practiced init: bad or too many --host: %s\n", optarg);
                return 2;
            }
            hosts[nhosts++] = optarg;
            break;
        case 'm':
            manager = optarg;
            break;
        case 'M':
            ap.m_kib = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'P':
            ap.t = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'h':
            init_usage(stdout);
            return 0;
        default:
            init_usage(stderr);
            return 2;
        }
    }
    if (!dir || !name || !tz || optind < argc) {
        init_usage(stderr);
        return 2;
    }
    if (!*name || strlen(name) > 100 || !pm_utf8_valid(name, strlen(name), 0)) {
        fprintf(stderr, "practiced init: --name must be 1 to 100 characters of text\n");
        return 2;
    }
    if (!pm_tz_valid(tz)) {
        fprintf(stderr,
                "practiced init: unknown time zone '%s' (see /usr/share/zoneinfo, "
                "e.g. Europe/Paris)\n",
                tz);
        return 2;
    }
    if (!username_valid(manager)) {
        fprintf(stderr, "practiced init: --manager must be 1 to 32 of a-z 0-9 . _ -, "
                        "starting with a letter\n");
        return 2;
    }
    if (ap.m_kib < 8 || ap.m_kib > 4u * 1024 * 1024 || ap.t < 1 || ap.t > 100) {
        fprintf(stderr, "practiced init: Argon2 memory must be 8..4194304 KiB, passes 1..100\n");
        return 2;
    }
    if (path_exists(dir, "data.mdb") || path_exists(dir, "ca.crt") || path_exists(dir, "ca.key")) {
        fprintf(stderr, "practiced init: %s already holds a practice; refusing to touch it\n", dir);
        return 1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "practiced init: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }

    char ca_key[4096], ca_crt[4096], srv_key[4096], srv_crt[4096];
    snprintf(ca_key, sizeof ca_key, "%s/ca.key", dir);
    snprintf(ca_crt, sizeof ca_crt, "%s/ca.crt", dir);
    snprintf(srv_key, sizeof srv_key, "%s/server.key", dir);
    snprintf(srv_crt, sizeof srv_crt, "%s/server.crt", dir);
    pm_rng rng;
    if (pm_rng_init(&rng, "practiced-init") != PM_OK) {
        fprintf(stderr, "practiced init: no randomness\n");
        return 1;
    }
    int rc = pm_cert_create_ca(&rng, name, ca_key, ca_crt);
    if (rc == PM_OK)
        rc = pm_cert_create_server(&rng, name, ca_key, ca_crt, hosts, nhosts, srv_key, srv_crt);
    pm_rng_free(&rng);
    if (rc) {
        fprintf(stderr, "practiced init: cannot create certificates: %s\n", pm_strerror(rc));
        return 1;
    }
    char fp[65], pretty[96];
    pm_cert_fingerprint_file(ca_crt, fp);
    pm_cert_fingerprint_pretty(fp, pretty);

    char otp[32];
    password_generate(otp, 3);
    char hash[160];
    if (password_hash(&ap, otp, hash, sizeof hash) != PM_OK) {
        fprintf(stderr, "practiced init: password hashing failed\n");
        return 1;
    }
    store *st;
    rc = store_open(&st, dir, STORE_CREATE);
    if (rc) {
        fprintf(stderr, "practiced init: cannot create the database: %s\n", pm_strerror(rc));
        return 1;
    }
    srv.st = st;
    MDB_txn *txn;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Account *acct;
    audit_info ai = {.username = "practiced",
                     .device = "practiced init",
                     .action = "practice.init",
                     .record = manager,
                     .outcome = PM__OUTCOME__SUCCESS,
                     .detail = name};
    if ((rc = store_txn_begin(st, 1, &txn)) == PM_OK) {
        if ((rc = store_meta_put_str(txn, st, "practice_name", name)) ||
            (rc = store_meta_put_str(txn, st, "timezone", tz)) ||
            (rc = store_meta_put_u64(txn, st, "argon2.m_kib", ap.m_kib)) ||
            (rc = store_meta_put_u64(txn, st, "argon2.t", ap.t)) ||
            (rc = store_meta_put_u64(txn, st, "created_at", pm_wall_s())) ||
            (rc = account_insert(txn, st, manager, "Practice manager", PM__ROLE__MANAGER, hash, 1,
                                 0, "", pm_wall_s(), &acct, &a)) ||
            (rc = audit_append(txn, st, &ai)))
            mdb_txn_abort(txn);
        else
            rc = store_txn_commit(txn);
    }
    pm_arena_free(&a);
    store_close(st);
    srv.st = NULL;
    if (rc) {
        fprintf(stderr, "practiced init: cannot write the practice: %s\n", pm_strerror(rc));
        return 1;
    }
    printf("Practice \"%s\" created in %s (time zone %s).\n\n", name, dir, tz);
    printf("ca-certificate: %s\n", ca_crt);
    printf("ca-fingerprint: %s\n", fp);
    printf("                (%s)\n", pretty);
    printf("manager: %s\n", manager);
    printf("one-time-password: %s\n\n", otp);
    printf("The one-time password is shown only now; it must be changed at first login.\n"
           "Start the server:  practiced serve --data %s\n"
           "Then, on a desk:   practice connect HOST:7440 --fingerprint %s\n"
           "                   practice login %s\n",
           dir, fp, manager);
    mbedtls_platform_zeroize(otp, sizeof otp);
    return 0;
}
