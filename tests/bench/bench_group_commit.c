/* bench_group_commit: what group commit buys on this disk.
 *
 * (a) baseline: raw LMDB with default (durable) flags in a directory on the same filesystem
 *     as the server's data, one write transaction per patient create and a commit each:
 *     what a create writes in practiced (the encoded patient, its name, date-of-birth and
 *     phone keys, the id counter, an audit entry and its index key, an event and a stored
 *     answer with its expiry key), sized alike. Run before and after the server runs, so
 *     that the ratio compares like with like on a noisy machine.
 * (b) practiced: a real server (Release build) and N desks, each its own TLS connection
 *     and login, creating patients back-to-back; an OK answer means committed. Creates/s,
 *     client latency, the server's own figures (GetStats) and its CPU by thread; then the
 *     same server with group commit off (--max-batch 1), and with one desk.
 * (c) the baseline once more, after loading as many records as practiced's register held
 *     halfway through its window: the same tree depths, like for like.
 * Target: practiced with 32 desks does at least 4x the commits/s of (c); the ratio over
 * (a), from an empty store, is printed beside it. */
#include "bench_common.h"

#include "pm_err.h"
#include "pm_util.h"

#include <getopt.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TARGET_RATIO 4.0

static struct {
    double secs, warmup, baseline_secs;
    int clients;
    const char *dir;
    const char *perf;
} opt = {8, 1, 3, 32, "/tmp", NULL};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_group_commit [options]\n\n"
            "Durable patient creates: raw LMDB one commit per record (baseline) against\n"
            "practiced with many desks at once (group commit), then with one desk.\n\n"
            "  --secs S           measured seconds per practiced run (default %.0f)\n"
            "  --warmup S         unmeasured seconds before that (default %.0f)\n"
            "  --clients N        desks in the main run (default %d)\n"
            "  --baseline-secs S  seconds per raw LMDB run (default %.0f)\n"
            "  --dir DIR          where the data directories go (default %s); the\n"
            "                     baseline runs on the same filesystem as the server\n"
            "  --perf FILE        perf record the server during the main run\n"
            "  --help\n\n"
            "The server binary is $PRACTICED_BIN, else the one of this build tree.\n"
            "Target: practiced creates/s with %d desks >= %.0fx baseline commits/s, the\n"
            "baseline run on a store as big as practiced's register (the ratio over an\n"
            "empty store is printed too).\n",
            opt.secs, opt.warmup, opt.clients, opt.baseline_secs, opt.dir, opt.clients,
            TARGET_RATIO);
}

/* ---- (a) raw LMDB ---- */

typedef struct baseline {
    int batch;
    double commits_per_s, records_per_s, p50_us, p99_us, value_bytes, cpu_us, write_kib, disk_kib;
} baseline;

#define CHK(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_) {                                                                                 \
            fprintf(stderr, "%s: %s\n", #x, mdb_strerror(rc_));                                    \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

static size_t word_key(uint8_t *k, char kind, const char *a, const char *b, uint64_t id)
{
    char fa[256], fb[256];
    size_t la = pm_fold(a, fa, sizeof fa), lb = b ? pm_fold(b, fb, sizeof fb) : 0, n = 0;
    k[n++] = (uint8_t)kind;
    memcpy(k + n, fa, la);
    n += la;
    k[n++] = 0;
    if (b) {
        memcpy(k + n, fb, lb);
        n += lb;
        k[n++] = 0;
    }
    pm_put_u64(k + n, id);
    return n + 8;
}

/* Durable transactions of batch records each until secs have passed, after preload
 * records put in untimed transactions of a thousand (a register of that size). */
static int run_baseline(const char *parent, double secs, int batch, uint64_t preload, baseline *out)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/pm-bench-lmdb-XXXXXX", parent);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return -1;
    }
    MDB_env *env = NULL;
    MDB_dbi rec, name, dob, phone, meta, audit, audit_rec, events, idem, idem_time;
    MDB_txn *txn = NULL;
    bs_lat lat = {0};
    int ok = -1;
    bs_rng r;
    bs_rng_seed(&r, 42);
    CHK(mdb_env_create(&env));
    CHK(mdb_env_set_mapsize(env, (size_t)1 << 30));
    CHK(mdb_env_set_maxdbs(env, 16));
    CHK(mdb_env_open(env, dir, 0, 0600)); /* default flags: durable commits */
    CHK(mdb_txn_begin(env, NULL, 0, &txn));
    CHK(mdb_dbi_open(txn, "patients", MDB_CREATE, &rec));
    CHK(mdb_dbi_open(txn, "pat_name", MDB_CREATE, &name));
    CHK(mdb_dbi_open(txn, "pat_dob", MDB_CREATE, &dob));
    CHK(mdb_dbi_open(txn, "pat_phone", MDB_CREATE, &phone));
    CHK(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta));
    CHK(mdb_dbi_open(txn, "audit", MDB_CREATE, &audit));
    CHK(mdb_dbi_open(txn, "audit_rec", MDB_CREATE, &audit_rec));
    CHK(mdb_dbi_open(txn, "events", MDB_CREATE, &events));
    CHK(mdb_dbi_open(txn, "idem", MDB_CREATE, &idem));
    CHK(mdb_dbi_open(txn, "idem_time", MDB_CREATE, &idem_time));
    CHK(mdb_txn_commit(txn));
    txn = NULL;
    bs_io io0, io1;
    bs_io_read(getpid(), &io0);
    double cpu0 = bs_cpu_s(getpid());
    uint64_t t0 = bs_now_us(), end = t0 + (uint64_t)(secs * 1e6), bytes = 0;
    uint64_t id = 10001, n = 0, commits = 0, c0 = 0;
    int timed_batch = batch;
    if (preload)
        batch = 1000;
    for (;;) {
        if (preload && n == preload) { /* loaded: the timing starts now */
            if (txn) {
                CHK(mdb_txn_commit(txn));
                txn = NULL;
            }
            preload = n = commits = bytes = 0;
            batch = timed_batch;
            bs_lat_free(&lat);
            memset(&lat, 0, sizeof lat);
            bs_io_read(getpid(), &io0);
            cpu0 = bs_cpu_s(getpid());
            t0 = bs_now_us();
            end = t0 + (uint64_t)(secs * 1e6);
        }
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Patient *p = bs_make_patient(&r, &a);
        size_t plen = pm__patient__get_packed_size(p);
        uint8_t val[4096], k[4][600], idk[8], ctr[8];
        if (plen > sizeof val) {
            fprintf(stderr, "a made-up patient of %zu bytes\n", plen);
            pm_arena_free(&a);
            goto fail;
        }
        pm__patient__pack(p, val);
        bytes += plen;
        pm_put_u64(idk, id);
        pm_put_u64(ctr, id + 1);
        size_t kl[4];
        kl[0] = word_key(k[0], 'L', p->last_name, p->first_name, id);
        kl[1] = word_key(k[1], 'W', p->last_name, NULL, id);
        kl[2] = word_key(k[2], 'W', p->first_name, NULL, id);
        char digits[32], rev[32];
        size_t dn = pm_digits(p->phones[0]->number, digits, sizeof digits);
        for (size_t i = 0; i < dn; i++)
            rev[i] = digits[dn - 1 - i];
        rev[dn] = 0;
        kl[3] = word_key(k[3], 'P', rev, NULL, id) - 1; /* no kind byte in the phone index */
        memmove(k[3], k[3] + 1, kl[3]);
        uint8_t dk[16];
        memcpy(dk, p->date_of_birth, 4);
        memcpy(dk + 4, p->date_of_birth + 5, 2);
        memcpy(dk + 6, p->date_of_birth + 8, 2);
        pm_put_u64(dk + 8, id);
        MDB_val key = {8, idk}, v = {plen, val}, empty = {0, ""};
        if (!txn) {
            c0 = bs_now_us();
            CHK(mdb_txn_begin(env, NULL, 0, &txn));
        }
        CHK(mdb_put(txn, rec, &key, &v, 0));
        for (int i = 0; i < 3; i++) {
            MDB_val ik = {kl[i], k[i]};
            CHK(mdb_put(txn, name, &ik, &empty, 0));
        }
        MDB_val pk = {kl[3], k[3]}, dkv = {16, dk}, mk = {11, "seq.patient"}, mv = {8, ctr};
        CHK(mdb_put(txn, phone, &pk, &empty, 0));
        CHK(mdb_put(txn, dob, &dkv, &empty, 0));
        CHK(mdb_put(txn, meta, &mk, &mv, 0));
        /* What else a create writes in practiced, sized alike: its audit entry and the
         * entry's index key, its event (the patient again), and its stored answer (the
         * patient again) under a time-ordered request key with its expiry key. */
        uint8_t blob[4096 + 200], ak[16], tk[40];
        memset(blob, 0x5a, sizeof blob);
        MDB_val seqk = {8, idk}, av = {180, blob}, ev = {plen + 30, blob}, an = {plen + 12, blob};
        CHK(mdb_put(txn, audit, &seqk, &av, MDB_APPEND));
        memcpy(ak, idk, 8);
        ak[8] = 0;
        pm_put_u64(ak + 8, id);
        MDB_val akv = {16, ak};
        CHK(mdb_put(txn, audit_rec, &akv, &empty, 0));
        CHK(mdb_put(txn, events, &seqk, &ev, MDB_APPEND));
        pm_put_u64(tk, bs_now_us() * 1000);
        pm_put_u64(tk + 8, id);
        pm_put_u64(tk + 16, 7);
        MDB_val ik2 = {24, tk}, ik3 = {32, tk};
        CHK(mdb_put(txn, idem, &ik2, &an, 0));
        pm_put_u64(tk + 24, id);
        CHK(mdb_put(txn, idem_time, &ik3, &empty, 0));
        pm_arena_free(&a);
        n++;
        id++;
        if (n % (uint64_t)batch == 0) {
            CHK(mdb_txn_commit(txn));
            txn = NULL;
            uint64_t c1 = bs_now_us();
            bs_lat_add(&lat, c1 - c0);
            commits++;
            if (c1 >= end && !preload)
                break;
        }
    }
    double el = (double)(bs_now_us() - t0) / 1e6;
    double cpu1 = bs_cpu_s(getpid());
    bs_io_read(getpid(), &io1);
    out->batch = batch;
    out->cpu_us = commits ? (cpu1 - cpu0) * 1e6 / (double)commits : 0;
    out->write_kib = commits ? (double)(io1.wchar - io0.wchar) / 1024.0 / (double)commits : 0;
    out->disk_kib =
        commits ? (double)(io1.write_bytes - io0.write_bytes) / 1024.0 / (double)commits : 0;
    bs_lat_sort(&lat);
    out->commits_per_s = (double)commits / el;
    out->records_per_s = (double)n / el;
    out->p50_us = (double)bs_lat_pct(&lat, 0.50);
    out->p99_us = (double)bs_lat_pct(&lat, 0.99);
    out->value_bytes = n ? (double)bytes / (double)n : 0;
    ok = 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    bs_lat_free(&lat);
    ts_sh(NULL, 0, "rm -rf '%s'", dir);
    return ok;
}

static void print_baseline(const char *name, const baseline *b)
{
    char m[64];
    snprintf(m, sizeof m, "%s.commits_per_s", name);
    bs_result(m, b->commits_per_s, "txn/s");
    if (b->batch > 1) {
        snprintf(m, sizeof m, "%s.records_per_s", name);
        bs_result(m, b->records_per_s, "records/s");
    }
    snprintf(m, sizeof m, "%s.commit_p50", name);
    bs_result(m, b->p50_us, "us");
    snprintf(m, sizeof m, "%s.commit_p99", name);
    bs_result(m, b->p99_us, "us");
    snprintf(m, sizeof m, "%s.record_bytes", name);
    bs_result(m, b->value_bytes, "bytes");
    snprintf(m, sizeof m, "%s.cpu_per_commit", name);
    bs_result(m, b->cpu_us, "us");
    snprintf(m, sizeof m, "%s.written_per_commit", name);
    bs_result(m, b->write_kib, "KiB");
    snprintf(m, sizeof m, "%s.disk_written_per_commit", name);
    bs_result(m, b->disk_kib, "KiB");
}

/* ---- (b) practiced ---- */

typedef struct worker {
    pthread_t th;
    pc_client *c;
    int idx;
    pthread_barrier_t *go;
    uint64_t win0, win1, end;
    bs_lat lat;
    uint64_t in_window, errors;
    char first_error[200];
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    bs_rng r;
    bs_rng_seed(&r, 1000 + (uint64_t)w->idx);
    pthread_barrier_wait(w->go);
    for (;;) {
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Patient *p = bs_make_patient(&r, &a);
        uint64_t t0 = bs_now_us();
        int rc = bs_create_patient(w->c, &a, p);
        uint64_t t1 = bs_now_us();
        pm_arena_free(&a);
        if (rc != PM_OK) {
            if (!w->errors++)
                snprintf(w->first_error, sizeof w->first_error, "%s", pc_last_error(w->c));
        } else if (t1 >= w->win0 && t1 < w->win1) {
            w->in_window++;
            bs_lat_add(&w->lat, t1 - t0);
        }
        if (t1 >= w->end)
            break;
    }
    return NULL;
}

typedef struct run_result {
    double creates_per_s;
    uint64_t register_mid; /* patients in the register halfway through the window */
} run_result;

static int run_practiced(int nclients, const char *tag, const char *extra, const char *perf,
                         run_result *res)
{
    ts_server s;
    pc_client *mgr = NULL, **desks = NULL;
    worker *w = NULL;
    int rc = -1;
    pm_arena a;
    pm_arena_init(&a, 0);
    printf("# --- practiced, %d desk%s (%s) ---\n", nclients, nclients == 1 ? "" : "s", tag);
    if (bs_server_start(&s, opt.dir, extra) != 0)
        goto out;
    if (!(mgr = ts_manager(&s)) || !(desks = bs_desks(&s, mgr, "desk", nclients)))
        goto out;
    w = calloc((size_t)nclients, sizeof *w);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)nclients + 1);
    uint64_t start = bs_now_us() + 100000;
    uint64_t win0 = start + (uint64_t)(opt.warmup * 1e6);
    uint64_t win1 = win0 + (uint64_t)(opt.secs * 1e6);
    for (int i = 0; i < nclients; i++) {
        w[i].c = desks[i];
        w[i].idx = i;
        w[i].go = &go;
        w[i].win0 = win0;
        w[i].win1 = win1;
        w[i].end = win1;
        pthread_create(&w[i].th, NULL, worker_main, &w[i]);
    }
    pthread_barrier_wait(&go);
    uint64_t now = bs_now_us();
    if (now < win0)
        bs_sleep_us(win0 - now);
    Pm__Stats *st0, *st1;
    bs_tasks tk0, tk1;
    if (bs_get_stats(mgr, &a, &st0) != PM_OK)
        goto join;
    bs_tasks_read(s.pid, &tk0);
    bs_io io0, io1;
    bs_io_read(s.pid, &io0);
    double scpu0 = bs_cpu_s(s.pid), ccpu0 = bs_cpu_s(getpid());
    pid_t pf = bs_perf_start(s.pid, perf);
    uint64_t t_a = bs_now_us();
    now = bs_now_us();
    if (now < win1)
        bs_sleep_us(win1 - now);
    uint64_t t_b = bs_now_us();
    bs_perf_stop(pf);
    double scpu1 = bs_cpu_s(s.pid), ccpu1 = bs_cpu_s(getpid());
    bs_tasks_read(s.pid, &tk1);
    bs_io_read(s.pid, &io1);
    if (bs_get_stats(mgr, &a, &st1) != PM_OK)
        goto join;
    rc = 0;
join:
    for (int i = 0; i < nclients; i++)
        pthread_join(w[i].th, NULL);
    pthread_barrier_destroy(&go);
    if (rc)
        goto out;
    {
        double win = (double)(t_b - t_a) / 1e6;
        bs_lat all = {0};
        uint64_t done = 0, errors = 0;
        for (int i = 0; i < nclients; i++) {
            bs_lat_merge(&all, &w[i].lat);
            done += w[i].in_window;
            errors += w[i].errors;
            if (w[i].errors)
                printf("# desk %d: %llu errors, first: %s\n", i, (unsigned long long)w[i].errors,
                       w[i].first_error);
        }
        bs_lat_sort(&all);
        char m[96];
        res->creates_per_s = (double)done / win;
        res->register_mid = (st0->committed_writes + st1->committed_writes) / 2;
#define R(name, val, unit)                                                                         \
    do {                                                                                           \
        snprintf(m, sizeof m, "%s.%s", tag, name);                                                 \
        bs_result(m, val, unit);                                                                   \
    } while (0)
        R("creates_per_s", res->creates_per_s, "creates/s");
        R("client_p50", (double)bs_lat_pct(&all, 0.50), "us");
        R("client_p99", (double)bs_lat_pct(&all, 0.99), "us");
        R("client_max", (double)(all.n ? all.v[all.n - 1] : 0), "us");
        R("client_errors", (double)errors, "requests");
        uint64_t commits = st1->commits - st0->commits;
        uint64_t writes = st1->committed_writes - st0->committed_writes;
        R("server.commits_per_s", (double)commits / win, "commits/s");
        R("server.mean_batch", commits ? (double)writes / (double)commits : 0, "writes/commit");
        R("server.max_batch", (double)st1->max_batch, "writes");
        bs_writer_times(tag, st0, st1, win);
        R("server.cpu", (scpu1 - scpu0) / win, "cores");
        R("server.cpu_per_create", writes ? (scpu1 - scpu0) * 1e6 / (double)writes : 0, "us");
        R("server.written_per_commit",
          commits ? (double)(io1.wchar - io0.wchar) / 1024.0 / (double)commits : 0, "KiB");
        R("server.written_per_create",
          writes ? (double)(io1.wchar - io0.wchar) / 1024.0 / (double)writes : 0, "KiB");
        R("server.disk_written_per_create",
          writes ? (double)(io1.write_bytes - io0.write_bytes) / 1024.0 / (double)writes : 0,
          "KiB");
        R("bench_client.cpu", (ccpu1 - ccpu0) / win, "cores");
        snprintf(m, sizeof m, "%s.server.create_patient", tag);
        bs_print_op(m, bs_op(st1, "create_patient"));
#undef R
        printf("# (server p50/p99 are since the server started, warm-up included; bucket upper "
               "edges, ~12%% resolution)\n");
        bs_tasks_print(s.pid, &tk0, &tk1, win);
        bs_lat_free(&all);
    }
out:
    if (rc)
        fprintf(stderr, "practiced run failed; server log: %s\n", s.log);
    if (w)
        for (int i = 0; i < nclients; i++)
            bs_lat_free(&w[i].lat);
    free(w);
    bs_desks_free(desks, desks ? nclients : 0);
    pc_free(mgr);
    pm_arena_free(&a);
    bs_server_finish(&s);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"secs", required_argument, 0, 's'},    {"warmup", required_argument, 0, 'w'},
        {"clients", required_argument, 0, 'c'}, {"baseline-secs", required_argument, 0, 'b'},
        {"dir", required_argument, 0, 'd'},     {"perf", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 's':
            opt.secs = atof(optarg);
            break;
        case 'w':
            opt.warmup = atof(optarg);
            break;
        case 'c':
            opt.clients = atoi(optarg);
            break;
        case 'b':
            opt.baseline_secs = atof(optarg);
            break;
        case 'd':
            opt.dir = optarg;
            break;
        case 'p':
            opt.perf = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || opt.secs <= 0 || opt.clients < 1 || opt.baseline_secs <= 0) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("# bench_group_commit: server %s\n", ts_practiced());
    bs_print_machine(opt.dir);
    bs_raise_nofile(4096);

    baseline b1, b2, bb;
    printf("# --- baseline: raw LMDB, durable, one commit per record ---\n");
    if (run_baseline(opt.dir, opt.baseline_secs, 1, 0, &b1) != 0)
        return 1;
    print_baseline("baseline.before", &b1);
    /* Not the target's baseline: what LMDB itself does with the batch size practiced
     * reaches (half its desks), to tell LMDB's share of the cost from the server's. */
    int batch = opt.clients > 1 ? opt.clients / 2 : 1;
    char bname[48];
    snprintf(bname, sizeof bname, "lmdb_batch%d", batch);
    printf("# --- reference: raw LMDB, %d records per commit (not the target's baseline) ---\n",
           batch);
    if (run_baseline(opt.dir, opt.baseline_secs, batch, 0, &bb) != 0)
        return 1;
    print_baseline(bname, &bb);

    char tag[32];
    snprintf(tag, sizeof tag, "practiced.c%d", opt.clients);
    run_result many, one, unbatched;
    if (run_practiced(opt.clients, tag, NULL, opt.perf, &many) != 0)
        return 1;
    /* The same server and work with group commit turned off: one commit per create. */
    char utag[48];
    snprintf(utag, sizeof utag, "practiced.c%d.one_commit_per_write", opt.clients);
    if (run_practiced(opt.clients, utag, "--max-batch 1", NULL, &unbatched) != 0)
        return 1;
    if (run_practiced(1, "practiced.c1", NULL, NULL, &one) != 0)
        return 1;

    printf("# --- baseline again ---\n");
    if (run_baseline(opt.dir, opt.baseline_secs, 1, 0, &b2) != 0)
        return 1;
    print_baseline("baseline.after", &b2);
    /* The baselines above start from an empty store and end at a few thousand records:
     * shallower trees than practiced's register, which holds register_mid patients
     * halfway through its window. The same register size, like for like: */
    baseline bs;
    printf("# --- baseline with the register practiced had: %llu records first ---\n",
           (unsigned long long)many.register_mid);
    if (run_baseline(opt.dir, opt.baseline_secs, 1, many.register_mid, &bs) != 0)
        return 1;
    print_baseline("baseline.same_size", &bs);

    double base = (b1.commits_per_s + b2.commits_per_s) / 2;
    double ratio = base > 0 ? many.creates_per_s / base : 0;
    double ratio_same = bs.commits_per_s > 0 ? many.creates_per_s / bs.commits_per_s : 0;
    printf("# --- ratios (same run) ---\n");
    bs_result("baseline.mean_commits_per_s", base, "txn/s");
    char m[96];
    snprintf(m, sizeof m, "ratio.%s_over_baseline", tag);
    bs_result(m, ratio, "x");
    snprintf(m, sizeof m, "ratio.%s_over_same_size_baseline", tag);
    bs_result(m, ratio_same, "x");
    bs_result("ratio.practiced.c1_over_baseline", base > 0 ? one.creates_per_s / base : 0, "x");
    snprintf(m, sizeof m, "ratio.%s_over_%s", tag, bname);
    bs_result(m, bb.records_per_s > 0 ? many.creates_per_s / bb.records_per_s : 0, "x");
    snprintf(m, sizeof m, "ratio.%s_over_one_commit_per_write", tag);
    bs_result(m, unbatched.creates_per_s > 0 ? many.creates_per_s / unbatched.creates_per_s : 0,
              "x");
    snprintf(m, sizeof m, "ratio.%s_over_c1", tag);
    bs_result(m, one.creates_per_s > 0 ? many.creates_per_s / one.creates_per_s : 0, "x");
    char tgt[96];
    snprintf(tgt, sizeof tgt, "practiced %d desks >= %.0fx raw LMDB commits/s", opt.clients,
             TARGET_RATIO);
    /* Like for like: the same register size (see above); the empty-store ratio is
     * printed beside it, and in the README. */
    bs_verdict(tgt, ratio_same >= TARGET_RATIO,
               "%.2fx: %.0f creates/s vs %.0f commits/s with the same register size; %.2fx over "
               "%.0f commits/s from an empty store",
               ratio_same, many.creates_per_s, bs.commits_per_s, ratio, base);
    bs_print_load("after");
    return 0;
}
