/* practiced backup: a consistent, compacted copy of a practice, taken while it runs. */
#include "pm_cert.h"
#include "pm_err.h"
#include "server.h"

#include <errno.h>
#include <getopt.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void backup_usage(FILE *f)
{
    fprintf(f, "usage: practiced backup --data DIR --out PATH\n\n"
               "Copies the practice in DIR to the new directory PATH: the database (one\n"
               "consistent snapshot, compacted) and the certificates and keys, so that\n"
               "'practiced serve --data PATH' runs the practice as it was. Safe while the\n"
               "server runs; writers are not blocked.\n");
}

static int copy_file(const char *from_dir, const char *to_dir, const char *name, int mode)
{
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s", from_dir, name);
    snprintf(dst, sizeof dst, "%s/%s", to_dir, name);
    FILE *f = fopen(src, "rb");
    if (!f)
        return PM_E_IO;
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf, f);
    int err = ferror(f) || !feof(f);
    fclose(f);
    if (err)
        return PM_E_IO;
    return pm_write_file(dst, buf, n, mode);
}

int cmd_backup(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},
        {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *dir = NULL, *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 'o')
            out = optarg;
        else if (c == 'h') {
            backup_usage(stdout);
            return 0;
        } else {
            backup_usage(stderr);
            return 2;
        }
    }
    if (!dir || !out || optind < argc) {
        backup_usage(stderr);
        return 2;
    }
    if (mkdir(out, 0700) != 0) {
        fprintf(stderr, "practiced backup: cannot create %s: %s%s\n", out, strerror(errno),
                errno == EEXIST ? " (give a new directory)" : "");
        return 1;
    }
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(env, 64);
    if (rc == 0)
        rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600);
    if (rc) {
        fprintf(stderr, "practiced backup: cannot open the practice in %s: %s\n", dir,
                mdb_strerror(rc));
        mdb_env_close(env);
        return 1;
    }
    MDB_txn *txn;
    size_t last_txn = 0;
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
        last_txn = mdb_txn_id(txn);
        mdb_txn_abort(txn);
    }
    rc = mdb_env_copy2(env, out, MDB_CP_COMPACT);
    mdb_env_close(env);
    if (rc) {
        fprintf(stderr, "practiced backup: copy failed: %s\n", mdb_strerror(rc));
        return 1;
    }
    static const struct {
        const char *name;
        int mode;
    } files[] = {{"ca.crt", 0644}, {"ca.key", 0600}, {"server.crt", 0644}, {"server.key", 0600}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (copy_file(dir, out, files[i].name, files[i].mode) != PM_OK) {
            fprintf(stderr, "practiced backup: cannot copy %s\n", files[i].name);
            return 1;
        }
    }
    char db[4096];
    snprintf(db, sizeof db, "%s/data.mdb", out);
    struct stat st;
    long long size = stat(db, &st) == 0 ? (long long)st.st_size : -1;
    printf("backup of %s written to %s (%lld bytes, as of transaction %zu)\n", dir, out, size,
           last_txn);
    return 0;
}
