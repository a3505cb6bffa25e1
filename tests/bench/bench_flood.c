/* bench_flood: can one connection's flood of requests slow everyone else down?
 *
 * A flooding connection (a receptionist's session, bench_uv) keeps --depth (128) requests in
 * flight, sending the next the moment an answer comes back, while a control connection (the
 * pc library, a manager's session) does one request at a time, 1 ms apart: a Ping, a
 * GetSchedule of a provider's day (a read with its audit entry) and a CreatePatient (a
 * write), in turn. Phases of --secs (10) each, the first second of each not counted:
 *
 *   idle    no flood: the control's floor
 *   reads   FindSlots (the slot search, on the loop thread) and GetSchedule, alternately
 *   writes  CreatePatient (the writer thread, group commit)
 *   mixed   the two above, alternately
 *
 * Printed per phase: the control's p50/p99/max (all requests, and by kind), the flood's
 * answers/s, the server's CPU, and the CPU other processes used meanwhile.
 *
 * Target (issue 6): the control's p99 < 10 ms during a flood. This measures what the server
 * does now; the per-connection limits on work per loop turn and queued answers that would
 * give it are a server change. */
#include "bench_common.h"
#include "bench_uv.h"
#include "sched_help.h"

#include "pm_err.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TARGET_P99_MS 10.0
#define PROVIDERS     4
#define PATIENTS      400
#define MAX_SAMPLES   (2u << 20)

enum { PH_IDLE, PH_READS, PH_WRITES, PH_MIXED, PH_N };
static const char *const phase_name[PH_N] = {"idle", "reads", "writes", "mixed"};
enum { K_PING, K_READ, K_WRITE, K_N };
static const char *const kind_name[K_N] = {"ping", "read", "write"};

static struct {
    int depth;
    double secs;
    const char *dir;
    const char *only;
} opt = {128, 10.0, "/tmp", NULL};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_flood [options]\n\n"
            "One connection floods the server with pipelined requests; a control connection\n"
            "does one request at a time. The control's latency with and without the flood.\n\n"
            "  --depth N      requests the flood keeps in flight (default %d; the server stops\n"
            "                 reading a connection at 128)\n"
            "  --secs S       seconds per phase (default %.0f; the first is not counted)\n"
            "  --phases LIST  some of idle,reads,writes,mixed (default all)\n"
            "  --dir DIR      where the data directory goes (default %s)\n"
            "  --help\n\n"
            "Target: the control's p99 < %.0f ms while the flood runs.\n",
            opt.depth, opt.secs, opt.dir, TARGET_P99_MS);
}

static struct {
    _Atomic int phase, stop, measuring;
    _Atomic long flood_answers, flood_errors;
    char today[11], day[11];
    char mrn[PATIENTS][24];
} G;

/* ---- the flood ---- */

typedef struct flood {
    pthread_t th;
    uv_loop_t loop;
    bu_ctx x;
    bu_conn c;
    uv_timer_t tick;
    uint64_t n;
    bs_rng r;
    int up;
    char first_error[200];
} flood;

static void flood_fill(flood *f);

static void f_ready(bu_conn *c)
{
    flood *f = c->ud;
    f->up = 1;
    flood_fill(f);
}

static void f_down(bu_conn *c, const char *why)
{
    flood *f = c->ud;
    f->up = 0;
    if (!atomic_load(&G.stop) && !f->first_error[0])
        snprintf(f->first_error, sizeof f->first_error, "flood connection lost: %s", why);
}

static void f_answer(bu_conn *c, uint64_t tag, const Pm__Envelope *r, uint64_t t0, uint64_t t1)
{
    (void)tag, (void)t0, (void)t1;
    flood *f = c->ud;
    if (atomic_load(&G.measuring)) {
        G.flood_answers++;
        if (r->body_case == PM__ENVELOPE__BODY_ERROR)
            G.flood_errors++;
    }
    if (r->body_case == PM__ENVELOPE__BODY_ERROR && !f->first_error[0])
        snprintf(f->first_error, sizeof f->first_error, "%s", r->error->message);
    flood_fill(f);
}

static const bu_ops flood_ops = {f_ready, f_down, f_answer, NULL};

/* The next request of the phase, built in a. */
static Pm__Envelope *flood_req(flood *f, int phase, pm_arena *a)
{
    int write = phase == PH_WRITES || (phase == PH_MIXED && f->n % 2);
    Pm__Envelope *e;
    if (write) {
        e = pc_env(a, PM__ENVELOPE__BODY_CREATE_PATIENT);
        e->create_patient = pm_msg_new(a, &pm__create_patient__descriptor);
        e->create_patient->patient = bs_make_patient(&f->r, a);
    } else if ((f->n / 2) % 2) {
        char prov[16];
        snprintf(prov, sizeof prov, "dr-%u", 1 + bs_randn(&f->r, PROVIDERS));
        e = pc_env(a, PM__ENVELOPE__BODY_GET_SCHEDULE);
        e->get_schedule = pm_msg_new(a, &pm__get_schedule__descriptor);
        e->get_schedule->provider = pm_arena_strdup(a, prov);
        e->get_schedule->date = G.today;
    } else {
        e = pc_env(a, PM__ENVELOPE__BODY_FIND_SLOTS);
        e->find_slots = sh_slots_req(a, "visit", NULL, G.day, NULL);
    }
    f->n++;
    return e;
}

static void flood_fill(flood *f)
{
    int phase = atomic_load(&G.phase);
    if (!f->up || phase == PH_IDLE || atomic_load(&G.stop))
        return;
    while (f->c.inflight < opt.depth) {
        pm_arena a;
        pm_arena_init(&a, 0);
        int rc = bu_send(&f->c, flood_req(f, phase, &a), 0);
        pm_arena_free(&a);
        if (rc)
            break;
    }
}

static void f_tick(uv_timer_t *t)
{
    flood *f = t->data;
    if (atomic_load(&G.stop)) {
        uv_timer_stop(t);
        bu_close(&f->c, "bench over");
        return;
    }
    flood_fill(f); /* a new phase starts the flood again */
}

static void *flood_main(void *ud)
{
    flood *f = ud;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

static int flood_start(flood *f, ts_server *s, const uint8_t *token)
{
    uv_loop_init(&f->loop);
    if (bu_ctx_init(&f->x, &f->loop, s->ca, s->port) != 0)
        return -1;
    bs_rng_seed(&f->r, 42);
    bu_conn_init(&f->c, &f->x, &flood_ops, f);
    bu_conn_token(&f->c, token, "bench flood");
    uv_timer_init(&f->loop, &f->tick);
    f->tick.data = f;
    uv_timer_start(&f->tick, f_tick, 10, 10);
    bu_connect(&f->c);
    return pthread_create(&f->th, NULL, flood_main, f);
}

/* ---- the control ---- */

typedef struct sample {
    uint64_t t_end;
    uint32_t us;
    uint8_t kind, phase, ok;
} sample;

static struct {
    pthread_t th;
    pc_client *c;
    sample *s;
    _Atomic size_t n;
    char first_error[200];
} C;

static void *ctl_main(void *ud)
{
    (void)ud;
    bs_rng r;
    bs_rng_seed(&r, 7);
    for (uint64_t k = 0; !atomic_load(&G.stop); k++) {
        pm_arena a;
        pm_arena_init(&a, 0);
        int kind = (int)(k % K_N), phase = atomic_load(&G.phase);
        Pm__Envelope *e, *resp = NULL;
        if (kind == K_PING) {
            e = pc_env(&a, PM__ENVELOPE__BODY_PING);
            e->ping = pm_msg_new(&a, &pm__ping__descriptor);
        } else if (kind == K_READ) {
            e = pc_env(&a, PM__ENVELOPE__BODY_GET_SCHEDULE);
            e->get_schedule = pm_msg_new(&a, &pm__get_schedule__descriptor);
            e->get_schedule->provider = "dr-1";
            e->get_schedule->date = G.today;
        } else {
            e = pc_env(&a, PM__ENVELOPE__BODY_CREATE_PATIENT);
            e->create_patient = pm_msg_new(&a, &pm__create_patient__descriptor);
            e->create_patient->patient = bs_make_patient(&r, &a);
        }
        uint64_t t0 = bs_now_us();
        int rc = pc_call(C.c, e, &a, &resp);
        uint64_t t1 = bs_now_us();
        if (rc != PM_OK && !C.first_error[0])
            snprintf(C.first_error, sizeof C.first_error, "%s", pc_last_error(C.c));
        pm_arena_free(&a);
        size_t i = atomic_load(&C.n);
        if (i < MAX_SAMPLES) {
            C.s[i] = (sample){t1, (uint32_t)(t1 - t0), (uint8_t)kind, (uint8_t)phase, rc == PM_OK};
            atomic_store(&C.n, i + 1);
        }
        bs_sleep_us(1000);
    }
    return NULL;
}

/* ---- the practice ---- */

static int setup(ts_server *s, pc_client *m)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    int rc =
        sh_location(m, &a, "main", "Main Street") || sh_visit_type(m, &a, "visit", 20, 0, NULL);
    sh_block day = {0, 8 * 60, 18 * 60, NULL, 0, NULL};
    for (int i = 1; i <= PROVIDERS && !rc; i++) {
        char id[16];
        snprintf(id, sizeof id, "dr-%d", i);
        rc = sh_provider(m, &a, id, id, "main") ||
             sh_template(m, &a, id, "2020-01-01", NULL, &day, 1, NULL, 0);
    }
    bs_rng r;
    bs_rng_seed(&r, 1);
    for (int i = 0; i < PATIENTS && !rc; i++) {
        pm_arena_free(&a);
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_CREATE_PATIENT), *resp;
        e->create_patient = pm_msg_new(&a, &pm__create_patient__descriptor);
        e->create_patient->patient = bs_make_patient(&r, &a);
        rc = pc_call(m, e, &a, &resp);
        if (rc == PM_OK)
            snprintf(G.mrn[i], sizeof G.mrn[i], "%s", resp->patient_ok->patient->mrn);
    }
    /* a full day for every provider: what a desk's GetSchedule returns */
    for (int p = 0; p < PROVIDERS && !rc; p++)
        for (int k = 0; k < 30 && !rc; k++) {
            pm_arena_free(&a);
            char prov[16];
            snprintf(prov, sizeof prov, "dr-%d", p + 1);
            rc = sh_book(m, &a,
                         sh_book_req(&a, G.mrn[(p * 30 + k) % PATIENTS], prov, "visit",
                                     sh_local(G.today, 8, 0) + (time_t)k * 20 * 60),
                         NULL);
        }
    if (rc)
        fprintf(stderr, "set-up: %s\n", pc_last_error(m));
    pm_arena_free(&a);
    (void)s;
    return rc;
}

/* ---- the phases ---- */

static int want_phase(int p)
{
    if (!opt.only)
        return 1;
    const char *n = phase_name[p];
    size_t l = strlen(n);
    for (const char *q = opt.only; (q = strstr(q, n)); q += l)
        if ((q == opt.only || q[-1] == ',') && (q[l] == 0 || q[l] == ','))
            return 1;
    return 0;
}

static double worst_p99 = 0;

static void report(int ph, uint64_t t0, uint64_t t1, double scpu, double others, flood *f)
{
    bs_lat all = {0}, by[K_N] = {{0}};
    size_t n = atomic_load(&C.n), failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (C.s[i].t_end < t0 || C.s[i].t_end >= t1 || C.s[i].phase != ph)
            continue;
        if (!C.s[i].ok) {
            failed++;
            continue;
        }
        bs_lat_add(&all, C.s[i].us);
        bs_lat_add(&by[C.s[i].kind], C.s[i].us);
    }
    double secs = (double)(t1 - t0) / 1e6;
    char m[128];
    const char *p = phase_name[ph];
    bs_lat_sort(&all);
    snprintf(m, sizeof m, "%s.control.requests", p);
    bs_result(m, (double)all.n, "requests");
    snprintf(m, sizeof m, "%s.control.failed", p);
    bs_result(m, (double)failed, "requests");
    snprintf(m, sizeof m, "%s.control.p50", p);
    bs_result(m, (double)bs_lat_pct(&all, 0.5) / 1000.0, "ms");
    snprintf(m, sizeof m, "%s.control.p99", p);
    bs_result(m, (double)bs_lat_pct(&all, 0.99) / 1000.0, "ms");
    snprintf(m, sizeof m, "%s.control.max", p);
    bs_result(m, (double)bs_lat_pct(&all, 1.0) / 1000.0, "ms");
    for (int k = 0; k < K_N; k++) {
        bs_lat_sort(&by[k]);
        snprintf(m, sizeof m, "%s.control.%s.p50", p, kind_name[k]);
        bs_result(m, (double)bs_lat_pct(&by[k], 0.5) / 1000.0, "ms");
        snprintf(m, sizeof m, "%s.control.%s.p99", p, kind_name[k]);
        bs_result(m, (double)bs_lat_pct(&by[k], 0.99) / 1000.0, "ms");
        snprintf(m, sizeof m, "%s.control.%s.max", p, kind_name[k]);
        bs_result(m, (double)bs_lat_pct(&by[k], 1.0) / 1000.0, "ms");
        bs_lat_free(&by[k]);
    }
    if (ph != PH_IDLE) {
        snprintf(m, sizeof m, "%s.flood.answers_per_s", p);
        bs_result(m, (double)atomic_load(&G.flood_answers) / secs, "/s");
        snprintf(m, sizeof m, "%s.flood.errors", p);
        bs_result(m, (double)atomic_load(&G.flood_errors), "requests");
    }
    snprintf(m, sizeof m, "%s.server.cores", p);
    bs_result(m, scpu / secs, "cores");
    snprintf(m, sizeof m, "%s.other_processes_cpu", p);
    bs_result(m, others > 0 ? others / secs : 0, "cores");
    double p99 = (double)bs_lat_pct(&all, 0.99) / 1000.0;
    if (ph != PH_IDLE) {
        char target[96];
        snprintf(target, sizeof target, "control p99 < %.0f ms during a %s flood (depth %d)",
                 TARGET_P99_MS, p, opt.depth);
        bs_verdict(target, p99 < TARGET_P99_MS && all.n > 0,
                   "p50 %.2f ms, p99 %.2f ms, max %.2f ms over %zu requests; the flood %.0f "
                   "answers/s",
                   (double)bs_lat_pct(&all, 0.5) / 1000.0, p99,
                   (double)bs_lat_pct(&all, 1.0) / 1000.0, all.n,
                   (double)atomic_load(&G.flood_answers) / secs);
        if (p99 > worst_p99)
            worst_p99 = p99;
    }
    if (f->first_error[0])
        printf("# the flood's first error: %s\n", f->first_error);
    bs_lat_free(&all);
}

static void run_phase(int ph, pid_t server, flood *f)
{
    printf("# ---- %s ----\n", phase_name[ph]);
    atomic_store(&G.phase, ph);
    bs_sleep_us(1000000); /* warm-up: the flood fills its pipeline */
    G.flood_answers = 0;
    G.flood_errors = 0;
    bs_tasks tk0, tk1;
    bs_tasks_read(server, &tk0);
    double s0 = bs_cpu_s(server), b0 = bu_machine_busy_s(), self0 = bs_cpu_s(getpid());
    uint64_t t0 = bs_now_us();
    atomic_store(&G.measuring, 1);
    bs_sleep_us((uint64_t)((opt.secs - 1) * 1e6));
    atomic_store(&G.measuring, 0);
    uint64_t t1 = bs_now_us();
    double s1 = bs_cpu_s(server), b1 = bu_machine_busy_s(), self1 = bs_cpu_s(getpid());
    bs_tasks_read(server, &tk1);
    report(ph, t0, t1, s1 - s0, (b1 - b0) - (s1 - s0) - (self1 - self0), f);
    bs_tasks_print(server, &tk0, &tk1, (double)(t1 - t0) / 1e6);
    atomic_store(&G.phase, PH_IDLE);
    bs_sleep_us(1000000); /* the flood drains */
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"depth", required_argument, 0, 'D'},  {"secs", required_argument, 0, 's'},
        {"phases", required_argument, 0, 'p'}, {"dir", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'D':
            opt.depth = atoi(optarg);
            break;
        case 's':
            opt.secs = atof(optarg);
            break;
        case 'p':
            opt.only = optarg;
            break;
        case 'd':
            opt.dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || opt.depth < 1 || opt.depth > BU_RING - 1 || opt.secs < 2) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    printf("# bench_flood: server %s\n", ts_practiced());
    bs_print_machine(opt.dir);
    sh_tz();
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(G.today, sizeof G.today, "%Y-%m-%d", &tm);
    now += 7 * 86400;
    localtime_r(&now, &tm);
    strftime(G.day, sizeof G.day, "%Y-%m-%d", &tm);

    ts_server s;
    pc_client *mgr = NULL, *desk = NULL;
    flood f;
    memset(&f, 0, sizeof f);
    int rc = 1, flood_started = 0, ctl_started = 0;
    C.s = calloc(MAX_SAMPLES, sizeof *C.s);
    if (!C.s || bs_server_start(&s, opt.dir, NULL) != 0 || !(mgr = ts_manager(&s)) ||
        setup(&s, mgr) != 0 || !(desk = ts_user(&s, mgr, "flooder", PM__ROLE__RECEPTIONIST)))
        goto out;
    printf("# one location, %d providers with a full day today, %d patients; the flood is a "
           "receptionist, the control a manager\n",
           PROVIDERS, PATIENTS);
    if (flood_start(&f, &s, pc_token(desk)) != 0)
        goto out;
    flood_started = 1;
    C.c = mgr;
    ctl_started = pthread_create(&C.th, NULL, ctl_main, NULL) == 0;
    bs_sleep_us(500000);
    for (int ph = 0; ph < PH_N; ph++)
        if (want_phase(ph))
            run_phase(ph, s.pid, &f);
    if (C.first_error[0])
        printf("# the control's first error: %s\n", C.first_error);
    bs_result("worst_flood.control.p99", worst_p99, "ms");
    bs_print_load("after");
    rc = 0;
out:
    atomic_store(&G.stop, 1);
    if (ctl_started)
        pthread_join(C.th, NULL);
    if (flood_started)
        pthread_join(f.th, NULL);
    if (rc)
        fprintf(stderr, "bench_flood failed; server log: %s\n", s.log);
    pc_free(mgr);
    pc_free(desk);
    bs_server_finish(&s);
    return rc;
}
