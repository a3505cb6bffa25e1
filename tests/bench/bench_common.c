#include "bench_common.h"

#include "pm_err.h"
#include "pm_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- clocks and samples ---- */

uint64_t bs_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void bs_sleep_us(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void bs_lat_add(bs_lat *l, uint64_t us)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        uint32_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return; /* a lost sample, not a lost benchmark */
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

void bs_lat_merge(bs_lat *into, const bs_lat *from)
{
    for (size_t i = 0; i < from->n; i++)
        bs_lat_add(into, from->v[i]);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void bs_lat_sort(bs_lat *l)
{
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, cmp_u32);
}

uint64_t bs_lat_pct(const bs_lat *l, double pct)
{
    if (!l->n)
        return 0;
    size_t i = (size_t)(pct * (double)l->n);
    return l->v[i < l->n ? i : l->n - 1];
}

void bs_lat_free(bs_lat *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- output ---- */

void bs_result(const char *metric, double value, const char *unit)
{
    if (value >= 100 || value <= -100 || value == (double)(long long)value)
        printf("RESULT %-46s %12.0f %s\n", metric, value, unit);
    else
        printf("RESULT %-46s %12.2f %s\n", metric, value, unit);
    fflush(stdout);
}

void bs_verdict(const char *target, int met, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("VERDICT target %s: %s (%s)\n", target, met ? "met" : "not met", buf);
    fflush(stdout);
}

static void first_line_of(const char *path, const char *key, char *out, size_t n)
{
    snprintf(out, n, "?");
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, strlen(key)) != 0)
            continue;
        char *p = strchr(line, ':');
        if (!p)
            continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        p[strcspn(p, "\n")] = 0;
        snprintf(out, n, "%s", p);
        break;
    }
    fclose(f);
}

typedef struct cpu_sample {
    unsigned long long v[10];
} cpu_sample;

static void cpu_read(cpu_sample *c)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &c->v[0], &c->v[1], &c->v[2],
               &c->v[3], &c->v[4], &c->v[5], &c->v[6], &c->v[7]) != 8)
        memset(c, 0, sizeof *c);
    fclose(f);
}

void bs_print_load(const char *when)
{
    cpu_sample a, b;
    cpu_read(&a);
    bs_sleep_us(1000000);
    cpu_read(&b);
    unsigned long long tot = 0, busy = 0, steal = b.v[7] - a.v[7];
    for (int i = 0; i < 8; i++) {
        unsigned long long d = b.v[i] - a.v[i];
        tot += d;
        if (i != 3 && i != 4) /* not idle, not iowait */
            busy += d;
    }
    double loads[3] = {0, 0, 0};
    getloadavg(loads, 3);
    printf("# load %s: other CPU use %llu%% of %ld cores (1 s sample, steal %llu%%), loadavg "
           "%.2f %.2f %.2f\n",
           when, tot ? busy * 100 / tot : 0, sysconf(_SC_NPROCESSORS_ONLN),
           tot ? steal * 100 / tot : 0, loads[0], loads[1], loads[2]);
    fflush(stdout);
}

void bs_print_machine(const char *path)
{
    char model[256], mhz[64];
    first_line_of("/proc/cpuinfo", "model name", model, sizeof model);
    first_line_of("/proc/cpuinfo", "cpu MHz", mhz, sizeof mhz);
    struct utsname u;
    uname(&u);
    struct sysinfo si;
    sysinfo(&si);
    printf("# machine: nproc %ld, cpu \"%s\" @ %s MHz, kernel %s, memory %.1f GiB\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, mhz, u.release,
           (double)si.totalram * si.mem_unit / (1024.0 * 1024 * 1024));
    if (path) {
        char fs[512] = "", cache[64] = "";
        ts_sh(fs, sizeof fs, "findmnt -no SOURCE,FSTYPE,OPTIONS -T '%s' 2>/dev/null", path);
        fs[strcspn(fs, "\n")] = 0;
        ts_sh(cache, sizeof cache,
              "cat /sys/block/$(basename \"$(findmnt -no SOURCE -T '%s')\")/queue/write_cache "
              "2>/dev/null",
              path);
        cache[strcspn(cache, "\n")] = 0;
        printf("# data dir: %s on %s (disk write cache: %s)\n", path, *fs ? fs : "?",
               *cache ? cache : "?");
    }
    fflush(stdout);
    bs_print_load("before");
}

/* ---- processes ---- */

void bs_io_read(pid_t pid, bs_io *io)
{
    memset(io, 0, sizeof *io);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char key[64];
    unsigned long long v;
    while (fscanf(f, "%63[^:]: %llu\n", key, &v) == 2) {
        if (strcmp(key, "wchar") == 0)
            io->wchar = v;
        else if (strcmp(key, "syscw") == 0)
            io->syscw = v;
        else if (strcmp(key, "write_bytes") == 0)
            io->write_bytes = v;
    }
    fclose(f);
}

long bs_rss_kib(pid_t pid)
{
    char path[64];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    char v[64];
    first_line_of(path, "VmRSS", v, sizeof v);
    return *v == '?' ? -1 : atol(v);
}

/* utime + stime of a /proc/.../stat file, in seconds. */
static double stat_cpu_s(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return 0;
    unsigned long ut = 0, st = 0;
    /* after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double bs_cpu_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return stat_cpu_s(path);
}

double bs_machine_busy_s(void)
{
    cpu_sample c;
    cpu_read(&c);
    unsigned long long busy = c.v[0] + c.v[1] + c.v[2] + c.v[5] + c.v[6] + c.v[7];
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

void bs_tasks_read(pid_t pid, bs_tasks *t)
{
    t->n = 0;
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && t->n < BS_MAX_TASKS) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        pid_t tid = (pid_t)atoi(e->d_name);
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
        t->tid[t->n] = tid;
        t->cpu_s[t->n] = stat_cpu_s(path);
        t->n++;
    }
    closedir(d);
}

void bs_tasks_print(pid_t pid, const bs_tasks *before, const bs_tasks *after, double secs)
{
    struct {
        pid_t tid;
        double d;
    } v[BS_MAX_TASKS];
    int n = 0;
    for (int i = 0; i < after->n; i++) {
        double prev = 0;
        for (int j = 0; j < before->n; j++)
            if (before->tid[j] == after->tid[i])
                prev = before->cpu_s[j];
        v[n].tid = after->tid[i];
        v[n].d = after->cpu_s[i] - prev;
        n++;
    }
    for (int i = 1; i < n; i++) /* a handful of threads: insertion sort, busiest first */
        for (int j = i; j > 0 && v[j].d > v[j - 1].d; j--) {
            __typeof__(v[0]) tmp = v[j];
            v[j] = v[j - 1];
            v[j - 1] = tmp;
        }
    int writer_named = 0;
    for (int i = 0; i < n && i < 4; i++) {
        if (v[i].d <= 0 && i > 0)
            break;
        const char *what = "";
        if (v[i].tid == pid) {
            what = " (loop)";
        } else if (!writer_named) {
            what = " (busiest other: likely the writer)";
            writer_named = 1;
        }
        printf("# server thread %d%s: %.2f cores\n", (int)v[i].tid, what, v[i].d / secs);
    }
}

pid_t bs_perf_start(pid_t pid, const char *out)
{
    if (!out || !*out)
        return 0;
    pid_t p = fork();
    if (p < 0)
        return 0;
    if (p == 0) {
        char spid[16];
        snprintf(spid, sizeof spid, "%d", (int)pid);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        /* DWARF unwinding: the Release build and Debian's libraries keep no frame pointers */
        execlp("perf", "perf", "record", "-q", "-e", "cpu-clock", "-F", "250", "--call-graph",
               "dwarf,16384", "-p", spid, "-o", out, (char *)NULL);
        _exit(127);
    }
    bs_sleep_us(300000); /* let it attach */
    printf("# perf record on pid %d into %s\n", (int)pid, out);
    return p;
}

void bs_perf_stop(pid_t perf)
{
    if (perf <= 0)
        return;
    kill(perf, SIGINT);
    int st;
    waitpid(perf, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        printf("# perf record exited abnormally (is perf installed?)\n");
}

long bs_raise_nofile(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rlim_t target = (rlim_t)want;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
        target = rl.rlim_max;
    if (rl.rlim_cur < target) {
        rl.rlim_cur = target;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

/* ---- the server ---- */

static int init_field(const char *text, const char *key, char *out, size_t n)
{
    const char *p = strstr(text, key);
    if (!p)
        return -1;
    p += strlen(key);
    while (*p == ' ')
        p++;
    size_t i = 0;
    while (p[i] && p[i] != '\n' && i + 1 < n) {
        out[i] = p[i];
        i++;
    }
    out[i] = 0;
    return 0;
}

int bs_server_start(ts_server *s, const char *parent, const char *extra)
{
    memset(s, 0, sizeof *s);
    char top[200];
    snprintf(top, sizeof top, "%s/pm-bench-XXXXXX", parent && *parent ? parent : "/tmp");
    if (!mkdtemp(top)) {
        fprintf(stderr, "cannot make a directory under %s: %s\n", parent ? parent : "/tmp",
                strerror(errno));
        return -1;
    }
    snprintf(s->dir, sizeof s->dir, "%s/p", top);
    snprintf(s->ca, sizeof s->ca, "%s/ca.crt", s->dir);
    snprintf(s->log, sizeof s->log, "%s/serve.log", top);
    char out[4096];
    int rc = ts_sh(out, sizeof out,
                   "%s init --data %s --name 'Bench Practice' --tz Europe/Paris "
                   "--argon2-memory 256 --argon2-passes 1 2>&1",
                   ts_practiced(), s->dir);
    if (rc != 0 || init_field(out, "one-time-password:", s->otp, sizeof s->otp) ||
        init_field(out, "ca-fingerprint:", s->fingerprint, sizeof s->fingerprint) ||
        init_field(out, "manager:", s->manager, sizeof s->manager)) {
        fprintf(stderr, "practiced init failed (%d):\n%s\n", rc, out);
        return -1;
    }
    if (ts_start(s, extra) != 0) {
        fprintf(stderr, "practiced serve did not start; log %s\n", s->log);
        return -1;
    }
    return 0;
}

void bs_server_finish(ts_server *s)
{
    if (s->pid) {
        int st = ts_stop(s, SIGTERM);
        if (st != 0)
            fprintf(stderr, "# practiced exited with status %d (log %s)\n", st, s->log);
    }
    char top[256];
    snprintf(top, sizeof top, "%s", s->dir);
    char *slash = strrchr(top, '/');
    if (slash && strstr(top, "/pm-bench-")) {
        *slash = 0;
        ts_sh(NULL, 0, "rm -rf '%s'", top);
    }
}

void bs_print_db_stats(const ts_server *s, const char *per_what, double per)
{
    MDB_env *env;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    if (mdb_env_create(&env) != 0)
        return;
    mdb_env_set_maxdbs(env, 64);
    if (mdb_env_open(env, s->dir, MDB_RDONLY | MDB_NOTLS, 0600) != 0 ||
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0) {
        printf("# cannot open %s read-only for its statistics\n", s->dir);
        goto out;
    }
    MDB_dbi main_dbi;
    MDB_val k, v;
    if (mdb_dbi_open(txn, NULL, 0, &main_dbi) != 0 || mdb_cursor_open(txn, main_dbi, &cur) != 0)
        goto out;
    MDB_envinfo ei;
    mdb_env_info(env, &ei);
    printf("# databases (file %.1f MiB in use):\n", (double)(ei.me_last_pgno + 1) * 4096 / 1048576);
    printf("#   %-12s %10s %5s %9s %9s%s\n", "name", "entries", "depth", "pages", "KiB",
           per > 0 ? "  bytes per " : "");
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(k.mv_size < 63 ? k.mv_size : 63),
                 (const char *)k.mv_data);
        MDB_dbi d;
        MDB_stat st;
        if (mdb_dbi_open(txn, name, 0, &d) != 0 || mdb_stat(txn, d, &st) != 0)
            continue;
        size_t pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        printf("#   %-12s %10zu %5u %9zu %9.0f", name, st.ms_entries, st.ms_depth, pages,
               (double)pages * st.ms_psize / 1024.0);
        if (per > 0)
            printf("  %8.0f %s", (double)pages * st.ms_psize / per, per_what);
        printf("\n");
    }
out:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(env);
}

int bs_get_stats(pc_client *mgr, pm_arena *a, Pm__Stats **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_GET_STATS), *resp = NULL;
    e->get_stats = pm_msg_new(a, &pm__get_stats__descriptor);
    int rc = pc_call(mgr, e, a, &resp);
    if (rc == PM_OK && resp->body_case != PM__ENVELOPE__BODY_STATS)
        rc = PM_E_PROTOCOL;
    if (rc != PM_OK) {
        fprintf(stderr, "GetStats: %s\n", pc_last_error(mgr));
        return rc;
    }
    *out = resp->stats;
    return PM_OK;
}

const Pm__OpStat *bs_op(const Pm__Stats *st, const char *op)
{
    for (size_t i = 0; st && i < st->n_ops; i++)
        if (strcmp(st->ops[i]->op, op) == 0)
            return st->ops[i];
    return NULL;
}

void bs_writer_times(const char *prefix, const Pm__Stats *a, const Pm__Stats *b, double win)
{
    char m[128];
    double commits = (double)(b->commits - a->commits);
    double run = (double)(b->writer_run_us - a->writer_run_us);
    double commit = (double)(b->writer_commit_us - a->writer_commit_us);
    if (commits <= 0 || win <= 0)
        return;
    snprintf(m, sizeof m, "%s.server.writer_run_per_commit", prefix);
    bs_result(m, run / commits, "us");
    snprintf(m, sizeof m, "%s.server.writer_commit_per_commit", prefix);
    bs_result(m, commit / commits, "us");
    snprintf(m, sizeof m, "%s.server.writer_busy", prefix);
    bs_result(m, (run + commit) / (win * 1e6), "of the time");
}

void bs_print_op(const char *prefix, const Pm__OpStat *o)
{
    char m[128];
    if (!o) {
        printf("# %s: no requests recorded by the server\n", prefix);
        return;
    }
    snprintf(m, sizeof m, "%s.count", prefix);
    bs_result(m, (double)o->count, "requests");
    snprintf(m, sizeof m, "%s.errors", prefix);
    bs_result(m, (double)o->errors, "requests");
    snprintf(m, sizeof m, "%s.p50", prefix);
    bs_result(m, (double)o->p50_us, "us");
    snprintf(m, sizeof m, "%s.p99", prefix);
    bs_result(m, (double)o->p99_us, "us");
    snprintf(m, sizeof m, "%s.max", prefix);
    bs_result(m, (double)o->max_us, "us");
    snprintf(m, sizeof m, "%s.handler_p50", prefix);
    bs_result(m, (double)o->handler_p50_us, "us");
    snprintf(m, sizeof m, "%s.handler_p99", prefix);
    bs_result(m, (double)o->handler_p99_us, "us");
}

pc_client **bs_desks(ts_server *s, pc_client *mgr, const char *prefix, int n)
{
    pc_client **c = calloc((size_t)n, sizeof *c);
    if (!c)
        return NULL;
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s%02d", prefix, i);
        c[i] = ts_user(s, mgr, name, PM__ROLE__RECEPTIONIST);
        if (!c[i]) {
            bs_desks_free(c, i);
            return NULL;
        }
    }
    return c;
}

void bs_desks_free(pc_client **c, int n)
{
    if (!c)
        return;
    for (int i = 0; i < n; i++)
        pc_free(c[i]);
    free(c);
}

/* ---- made-up patients ---- */

void bs_rng_seed(bs_rng *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    if (!r->s)
        r->s = 1;
}

uint64_t bs_rand(bs_rng *r)
{
    uint64_t x = r->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint32_t bs_randn(bs_rng *r, uint32_t n)
{
    return n ? (uint32_t)((bs_rand(r) >> 32) % n) : 0;
}

#define PICK(r, arr) (arr)[bs_randn((r), (uint32_t)(sizeof(arr) / sizeof((arr)[0])))]

const char *const bs_last_names[] = {
    "Smith",        "Johnson",     "Williams",   "Brown",      "Jones",     "Miller",
    "Davis",        "Wilson",      "Anderson",   "Taylor",     "Thomas",    "Moore",
    "Jackson",      "Martin",      "Lee",        "Thompson",   "White",     "Harris",
    "Clark",        "Lewis",       "Robinson",   "Walker",     "Young",     "Allen",
    "King",         "Wright",      "Scott",      "Hill",       "Green",     "Adams",
    "Baker",        "Nelson",      "Carter",     "Mitchell",   "Roberts",   "Turner",
    "Phillips",     "Campbell",    "Parker",     "Evans",      "Edwards",   "Collins",
    "Stewart",      "Morris",      "Murphy",     "Cook",       "Rogers",    "Morgan",
    "Cooper",       "Peterson",    "Bailey",     "Reed",       "Kelly",     "Howard",
    "Cox",          "Ward",        "Richardson", "Watson",     "Brooks",    "Wood",
    "James",        "Bennett",     "Gray",       "Hughes",     "Price",     "Sanders",
    "Myers",        "Long",        "Ross",       "Foster",     "O'Brien",   "O'Connor",
    "McDonald",     "MacLeod",     "Fitzgerald", "García",     "Rodríguez", "Martínez",
    "Hernández",    "López",       "González",   "Pérez",      "Sánchez",   "Ramírez",
    "Torres",       "Flores",      "Rivera",     "Gómez",      "Díaz",      "Reyes",
    "Cruz",         "Morales",     "Ortiz",      "Gutiérrez",  "Chávez",    "Ramos",
    "Jiménez",      "Ruiz",        "Álvarez",    "Mendoza",    "Castillo",  "Vásquez",
    "Núñez",        "de la Cruz",  "de León",    "del Río",    "Muñoz",     "Peña",
    "Ibáñez",       "Müller",      "Schmidt",    "Schneider",  "Fischer",   "Weber",
    "Schäfer",      "Köhler",      "Groß",       "Becker",     "Hoffmann",  "Krüger",
    "Zimmermann",   "Lefèvre",     "Dubois",     "Moreau",     "Laurent",   "Girard",
    "Bonnet",       "Mercier",     "Rousseau",   "Fournier",   "Lambert",   "Faure",
    "Chevalier",    "Gauthier",    "Leclerc",    "Bérubé",     "Côté",      "Gagné",
    "Pelletier",    "Rossi",       "Russo",      "Ferrari",    "Esposito",  "Bianchi",
    "Romano",       "Colombo",     "Ricci",      "Marino",     "Conti",     "De Luca",
    "Silva",        "Santos",      "Oliveira",   "Souza",      "Pereira",   "Costa",
    "Carvalho",     "Gonçalves",   "Araújo",     "Ribeiro",    "Fernandes", "Magalhães",
    "Nowak",        "Kowalski",    "Wiśniewski", "Wójcik",     "Kamińska",  "Lewandowski",
    "Nguyen",       "Nguyễn",      "Tran",       "Trần",       "Le",        "Pham",
    "Phạm",         "Huynh",       "Vo",         "Wang",       "Li",        "Zhang",
    "Liu",          "Chen",        "Yang",       "Huang",      "Zhao",      "Wu",
    "Zhou",         "Kim",         "Park",       "Choi",       "Jung",      "Kang",
    "Yoon",         "Patel",       "Shah",       "Singh",      "Kumar",     "Sharma",
    "Gupta",        "Reddy",       "Iyer",       "Khan",       "Ahmed",     "Hassan",
    "Ali",          "Mohammed",    "Haddad",     "Nasser",     "Okafor",    "Adeyemi",
    "Okonkwo",      "Mensah",      "Diallo",     "Traoré",     "Johansson", "Andersson",
    "Nilsson",      "Søndergaard", "Jørgensen",  "Østergaard", "Virtanen",  "Korhonen",
    "Papadopoulos", "Yılmaz",      "Kaya",       "Cohen",      "Levi",      "Friedman",
    "van der Berg", "van Dijk",    "de Vries",   "Janssen",    "Bakker",    "Visser",
    "Smit",         "Ó Briain",    "Ní Bhriain", "Ivanov",     "Petrov",    "Horváth",
    "Novák",        "Dvořák",
};
const size_t bs_n_last_names = sizeof bs_last_names / sizeof bs_last_names[0];

const char *const bs_first_names[] = {
    "James",     "Mary",       "John",        "Patricia",    "Robert",       "Jennifer",
    "Michael",   "Linda",      "William",     "Elizabeth",   "David",        "Barbara",
    "Richard",   "Susan",      "Joseph",      "Jessica",     "Thomas",       "Sarah",
    "Charles",   "Karen",      "Christopher", "Nancy",       "Daniel",       "Lisa",
    "Matthew",   "Betty",      "Anthony",     "Margaret",    "Mark",         "Sandra",
    "Donald",    "Ashley",     "Steven",      "Kimberly",    "Paul",         "Emily",
    "Andrew",    "Donna",      "Joshua",      "Michelle",    "Kenneth",      "Carol",
    "Kevin",     "Amanda",     "Brian",       "Melissa",     "George",       "Deborah",
    "Timothy",   "Stephanie",  "Olivia",      "Emma",        "Ava",          "Sophia",
    "Isabella",  "Mia",        "Noah",        "Liam",        "Ethan",        "Lucas",
    "José",      "María",      "Juan",        "Ana",         "Luis",         "Carmen",
    "Jesús",     "Lucía",      "Andrés",      "Sofía",       "Ramón",        "Inés",
    "Mónica",    "Raúl",       "Ángel",       "Begoña",      "Joaquín",      "Ana-María",
    "José-Luis", "María-José", "François",    "Françoise",   "Hélène",       "Jérôme",
    "Zoë",       "Chloé",      "Amélie",      "Renée",       "Noël",         "Léa",
    "Benoît",    "Gaëlle",     "Jean-Luc",    "Jean-Pierre", "Marie-Claire", "Anne-Marie",
    "Jürgen",    "Jörg",       "Günter",      "Björn",       "Søren",        "Åsa",
    "Ørjan",     "Märta",      "Łukasz",      "Małgorzata",  "Paweł",        "Zoltán",
    "Zuzana",    "João",       "Conceição",   "Antônio",     "Giulia",       "Francesca",
    "Giuseppe",  "Niccolò",    "Siobhán",     "Seán",        "Aoife",        "Niamh",
    "Oisín",     "Minh",       "Thảo",        "Huong",       "Wei",          "Xiaoming",
    "Mei",       "Jun",        "Hyun-woo",    "Ji-yeon",     "Seo-yeon",     "Priya",
    "Arjun",     "Ananya",     "Rahul",       "Fatima",      "Mohammed",     "Aisha",
    "Omar",      "Yusuf",      "Leila",       "Chinedu",     "Ngozi",        "Kwame",
    "Amara",     "Aleksandr",  "Olga",        "Dmitri",      "Svetlana",     "Yael",
    "Avi",       "Mateo",      "Valentina",   "Santiago",    "Camila",       "Sebastián",
    "Ximena",    "Dylan",      "Zoey",        "Grace",       "Harper",
};
const size_t bs_n_first_names = sizeof bs_first_names / sizeof bs_first_names[0];

static const char *const streets[] = {
    "Main",      "Oak",    "Maple",          "Cedar",       "Elm",           "Washington",
    "Lake",      "Hill",   "Park",           "Pine",        "Walnut",        "Sunset",
    "Riverside", "Church", "Mill",           "Highland",    "Chestnut",      "Spring",
    "Ridge",     "Willow", "Rue de la Paix", "Calle Mayor", "Bahnhofstraße", "Avenida Paulista",
};
static const char *const street_kinds[] = {"St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Way", "Ct"};
static const struct {
    const char *city, *region, *country;
} cities[] = {
    {"Springfield", "IL", "US"}, {"Riverside", "CA", "US"}, {"Portland", "OR", "US"},
    {"Madison", "WI", "US"},     {"Austin", "TX", "US"},    {"Miami", "FL", "US"},
    {"Brooklyn", "NY", "US"},    {"Montréal", "QC", "CA"},  {"Québec", "QC", "CA"},
    {"Lyon", "ARA", "FR"},       {"Paris", "IDF", "FR"},    {"Zürich", "ZH", "CH"},
    {"München", "BY", "DE"},     {"São Paulo", "SP", "BR"}, {"Málaga", "AN", "ES"},
    {"Kraków", "MA", "PL"},
};
static const char *const languages[] = {"en",      "en", "en", "en", "en", "en",    "en",
                                        "en",      "es", "es", "es", "fr", "pt-BR", "vi",
                                        "zh-Hant", "ar", "de", "pl", "ko"};
static const char *const payers[] = {
    "Blue Cross Blue Shield",
    "Aetna",
    "UnitedHealthcare",
    "Cigna",
    "Humana",
    "Kaiser Permanente",
    "Medicare",
    "Medicaid",
    "Anthem",
    "Molina Healthcare",
    "Tricare",
    "Oscar Health",
};
static const char *const relationships[] = {"spouse", "mother",  "father",  "daughter", "son",
                                            "sister", "brother", "partner", "friend",   "guardian"};
static const char *const notes[] = {
    "Prefers morning appointments; works evenings and cannot come after 3 pm.",
    "Hard of hearing: speak clearly and face the patient. Text reminders preferred.",
    "Needs an interpreter for visits (Spanish). Book a double slot for annual physicals.",
    "Allergic to penicillin (per patient, 2019). Latex sensitivity: use nitrile gloves.",
    "Wheelchair user: ground floor rooms only. Transport by county van, arrives early.",
    "Call the daughter for scheduling; patient does not answer unknown numbers.",
    "New patient referred by Dr. Okafor for follow-up of hypertension. Records requested.",
    "Bring previous imaging to the first visit. Prior practice: Lakeside Family Medicine.",
    "Self-pay until insurance card is on file; copay collected at check-in.",
};

static char *phone_number(bs_rng *r, pm_arena *a)
{
    switch (bs_randn(r, 4)) {
    case 0:
        return pm_arena_printf(a, "+33 6 %02u %02u %02u %02u", bs_randn(r, 100), bs_randn(r, 100),
                               bs_randn(r, 100), bs_randn(r, 100));
    case 1:
        return pm_arena_printf(a, "%03u-%03u-%04u", 200 + bs_randn(r, 800), 200 + bs_randn(r, 800),
                               bs_randn(r, 10000));
    default:
        return pm_arena_printf(a, "+1 (%03u) %03u-%04u", 200 + bs_randn(r, 800),
                               200 + bs_randn(r, 800), bs_randn(r, 10000));
    }
}

/* Lower-case ASCII letters of s, for a made-up email address. */
static void ascii_handle(const char *s, char *out, size_t n)
{
    char folded[256];
    pm_fold(s, folded, sizeof folded);
    size_t o = 0;
    for (const char *p = folded; *p && o + 1 < n; p++)
        if (*p >= 'a' && *p <= 'z')
            out[o++] = *p;
    if (o == 0 && n > 1)
        out[o++] = 'x';
    out[o] = 0;
}

static Pm__Phone *make_phone(bs_rng *r, pm_arena *a, Pm__PhoneKind kind)
{
    Pm__Phone *ph = pm_msg_new(a, &pm__phone__descriptor);
    ph->number = phone_number(r, a);
    ph->kind = kind;
    return ph;
}

Pm__Patient *bs_make_patient(bs_rng *r, pm_arena *a)
{
    Pm__Patient *p = pm_msg_new(a, &pm__patient__descriptor);
    const char *first = bs_first_names[bs_randn(r, (uint32_t)bs_n_first_names)];
    const char *last = bs_last_names[bs_randn(r, (uint32_t)bs_n_last_names)];
    p->first_name = (char *)first;
    if (bs_randn(r, 100) < 7) /* a double-barrelled last name */
        p->last_name = pm_arena_printf(a, "%s-%s", last,
                                       bs_last_names[bs_randn(r, (uint32_t)bs_n_last_names)]);
    else
        p->last_name = (char *)last;
    if (bs_randn(r, 100) < 15)
        p->preferred_name = (char *)bs_first_names[bs_randn(r, (uint32_t)bs_n_first_names)];
    p->date_of_birth = pm_arena_printf(a, "%04u-%02u-%02u", 1925 + bs_randn(r, 99),
                                       1 + bs_randn(r, 12), 1 + bs_randn(r, 28));
    uint32_t sx = bs_randn(r, 100);
    p->sex = sx < 48   ? PM__SEX__FEMALE
             : sx < 96 ? PM__SEX__MALE
             : sx < 98 ? PM__SEX__OTHER
                       : PM__SEX__UNKNOWN;
    p->n_phones = bs_randn(r, 100) < 50 ? 2 : 1;
    p->phones = pm_arena_alloc(a, sizeof *p->phones * p->n_phones);
    p->phones[0] = make_phone(r, a, PM__PHONE_KIND__MOBILE);
    if (p->n_phones > 1)
        p->phones[1] = make_phone(r, a, PM__PHONE_KIND__HOME);
    if (bs_randn(r, 100) < 80) {
        char f[64], l[64];
        ascii_handle(first, f, sizeof f);
        ascii_handle(p->last_name, l, sizeof l);
        static const char *const domains[] = {"example.com", "mail.example.org", "example.net"};
        p->email = pm_arena_printf(a, "%s.%s%u@%s", f, l, bs_randn(r, 100), PICK(r, domains));
    }
    Pm__Address *ad = pm_msg_new(a, &pm__address__descriptor);
    unsigned ci = bs_randn(r, (uint32_t)(sizeof cities / sizeof cities[0]));
    ad->line1 = pm_arena_printf(a, "%u %s %s", 1 + bs_randn(r, 9999), PICK(r, streets),
                                PICK(r, street_kinds));
    if (bs_randn(r, 100) < 35)
        ad->line2 = pm_arena_printf(a, "Apt %u", 1 + bs_randn(r, 400));
    ad->city = (char *)cities[ci].city;
    ad->region = (char *)cities[ci].region;
    ad->postal_code = pm_arena_printf(a, "%05u", bs_randn(r, 100000));
    ad->country = (char *)cities[ci].country;
    p->address = ad;
    p->preferred_language = (char *)PICK(r, languages);
    if (bs_randn(r, 100) < 90) {
        Pm__Insurance *in = pm_msg_new(a, &pm__insurance__descriptor);
        in->payer = (char *)PICK(r, payers);
        in->member_id = pm_arena_printf(a, "%c%c%09u", 'A' + bs_randn(r, 26), 'A' + bs_randn(r, 26),
                                        bs_randn(r, 1000000000));
        in->group_number = pm_arena_printf(a, "G%05u", bs_randn(r, 100000));
        p->insurance = in;
    }
    if (bs_randn(r, 100) < 75) {
        Pm__EmergencyContact *ec = pm_msg_new(a, &pm__emergency_contact__descriptor);
        ec->name = pm_arena_printf(
            a, "%s %s", bs_first_names[bs_randn(r, (uint32_t)bs_n_first_names)],
            bs_randn(r, 2) ? last : bs_last_names[bs_randn(r, (uint32_t)bs_n_last_names)]);
        ec->relationship = (char *)PICK(r, relationships);
        ec->phone = phone_number(r, a);
        p->emergency_contact = ec;
    }
    if (bs_randn(r, 100) < 10) {
        Pm__PrivacyFlags *pf = pm_msg_new(a, &pm__privacy_flags__descriptor);
        pf->no_voicemail = bs_randn(r, 2);
        pf->no_sms = bs_randn(r, 4) == 0;
        p->privacy = pf;
    }
    if (bs_randn(r, 100) < 50)
        p->notes = (char *)PICK(r, notes);
    return p;
}

int bs_create_patient(pc_client *c, pm_arena *a, Pm__Patient *p)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_CREATE_PATIENT), *resp = NULL;
    Pm__CreatePatient *cp = pm_msg_new(a, &pm__create_patient__descriptor);
    cp->patient = p;
    e->create_patient = cp;
    return pc_call(c, e, a, &resp);
}

void bs_utf8_prefix(const char *s, size_t k, char *out, size_t n)
{
    size_t i = 0, chars = 0;
    while (s[i] && chars < k) {
        size_t len = 1;
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0xf0)
            len = 4;
        else if (ch >= 0xe0)
            len = 3;
        else if (ch >= 0xc0)
            len = 2;
        if (i + len + 1 > n)
            break;
        i += len;
        chars++;
    }
    if (i >= n)
        i = n - 1;
    memcpy(out, s, i);
    out[i] = 0;
}
