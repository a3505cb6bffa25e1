/* bench_schedule: scheduling on a practice with five years of history.
 *
 * Sets up a practice (two locations with rooms, 20 providers, five visit types, weekly
 * templates valid for years, holidays, time off and staff meetings), creates patients and
 * books about 500,000 appointments over the past five years plus partly booked coming
 * weeks, all through the real server and protocol: manager sessions on a few TLS
 * connections, each with requests in flight; some appointments are then cancelled or
 * marked no-show. Then:
 *
 *   slots:     FindSlots for a visit type across all providers, the next 10, from a day in
 *              the coming weeks, sometimes within a time-of-day window or at one location;
 *   schedules: GetSchedule of one provider for one day: past and coming days, busy and empty;
 *              then of one location for one day (every provider's stretch of the provider
 *              index, since the location has no index of its own; client side only);
 *   booking:   32 receptionist desks, each its own TLS connection and session, booking free
 *              future slots back-to-back (each desk its own provider and days), first on the
 *              server as it runs (group commit), then on the same data with the server
 *              restarted with --max-batch 1 (one commit per booking).
 *
 * Targets: find_slots handler p99 < 2 ms; get_schedule handler p99 < 1 ms (server-side,
 * GetStats); bookings/s with group commit >= 5x the one-commit-per-booking figure. */
#include "bench_common.h"

#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TARGET_SLOTS_P99_US    2000
#define TARGET_SCHEDULE_P99_US 1000
#define TARGET_BOOK_RATIO      5.0

#define TZ             "Europe/Paris" /* bs_server_start's practice zone */
#define MAX_PROVIDERS  99
#define NLOC           2
#define ROOMS_PER_LOC  6
#define HISTORY_FILL   970 /* per mille of the history's bookable time that gets booked */
#define TEMPLATE_YEARS 7   /* the first templates are valid from this many years back */
#define ANSWER_RING    4096
#define PROGRESS_EVERY 5000000

static struct {
    long appointments, patients, slot_searches, schedules, loc_schedules;
    int providers, future_weeks, load_conns, load_depth, read_threads, desks, rounds;
    double book_secs, warmup;
    const char *dir, *perf, *perf_phase, *serve_args;
} opt = {500000, 20000, 5000, 5000, 1000, 20,     4,    4,       32,
         4,      32,    2,    10,   1,    "/tmp", NULL, "slots", NULL};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_schedule [options]\n\n"
            "Loads years of appointments into a fresh practiced through the protocol, then\n"
            "times slot searches, day schedules, and bookings by many desks with and without\n"
            "group commit.\n\n"
            "  --appointments N   history to book before today (default %ld: about 5 years\n"
            "                     of 20 full-time providers; fewer: fewer days back)\n"
            "  --providers N      providers (default %d, at most %d)\n"
            "  --patients N       patients (default %ld)\n"
            "  --future-weeks N   coming weeks booked in part, fullest first (default %d)\n"
            "  --load-conns N     TLS connections loading (manager sessions; default %d)\n"
            "  --load-depth N     requests in flight on each (default %d)\n"
            "  --slot-searches N  FindSlots requests (default %ld)\n"
            "  --schedules N      GetSchedule requests (default %ld)\n"
            "  --location-schedules N  GetSchedule requests for a location's day (default %ld)\n"
            "  --read-threads N   desks sending those at once (default %d)\n"
            "  --desks N          receptionist desks booking at once (default %d)\n"
            "  --book-secs S      measured seconds of booking per server run (default %.0f)\n"
            "  --rounds N         runs of each kind, alternating (default %d): the machine\n"
            "                     is shared, and the ratio uses the mean of each kind\n"
            "  --warmup S         unmeasured seconds of booking before that (default %.0f)\n"
            "  --serve-args ARGS  more practiced serve arguments for the group-commit runs\n"
            "                     (experiments, e.g. \"--writer-delay-ms 1\")\n"
            "  --dir DIR          where the data directory goes (default %s)\n"
            "  --perf FILE        perf record the server during one phase into FILE\n"
            "  --perf-phase P     which: load, slots, schedules, book (default %s)\n"
            "  --help\n\n"
            "The server binary is $PRACTICED_BIN, else the one of this build tree.\n"
            "Targets: find_slots handler p99 < %d us; get_schedule handler p99 < %d us;\n"
            "bookings/s with group commit >= %.0fx with --max-batch 1.\n",
            opt.appointments, opt.providers, MAX_PROVIDERS, opt.patients, opt.future_weeks,
            opt.load_conns, opt.load_depth, opt.slot_searches, opt.schedules, opt.loc_schedules,
            opt.read_threads, opt.desks, opt.book_secs, opt.rounds, opt.warmup, opt.dir,
            opt.perf_phase, TARGET_SLOTS_P99_US, TARGET_SCHEDULE_P99_US, TARGET_BOOK_RATIO);
}

/* ---- the practice, as the bench sets it up and the server will derive it ---- */

static const char *const loc_ids[NLOC] = {"north", "south"};
static const char *const loc_names[NLOC] = {"North Clinic", "South Clinic"};

typedef struct vtype {
    const char *id, *name;
    unsigned minutes;
    int needs_room;
    unsigned weight; /* share of bookings, per cent */
} vtype;

static const vtype vtypes[] = {
    {"followup", "Follow-up visit", 15, 0, 45}, {"checkup", "Check-up", 20, 0, 30},
    {"newpatient", "New patient", 30, 0, 12},   {"physical", "Annual physical", 45, 0, 8},
    {"procedure", "Minor procedure", 60, 1, 5},
};
#define NVT ((int)(sizeof vtypes / sizeof vtypes[0]))

/* Whole-practice holidays (month-day) and one of the south clinic alone. */
static const struct {
    const char *mmdd, *name;
} holidays[] = {
    {"01-01", "New Year's Day"}, {"05-01", "Labour Day"},    {"05-08", "Victory Day"},
    {"07-14", "Bastille Day"},   {"08-15", "Assumption"},    {"11-01", "All Saints' Day"},
    {"11-11", "Armistice Day"},  {"12-25", "Christmas Day"},
};
#define SOUTH_HOLIDAY "06-24"

static char today[11];     /* the practice's today */
static time_t t_now;       /* when the bench started */
static int year0, year1;   /* the years the set-up covers */
static char tpl_from[11];  /* every provider's first template starts here */
static char tpl2_from[11]; /* the first five providers' new hours start here (2 years ago) */

static char prov_id[MAX_PROVIDERS][16];

typedef struct span {
    time_t s, e;
} span;
static span *exc[MAX_PROVIDERS]; /* each provider's time off and meetings, in order */
static size_t nexc[MAX_PROVIDERS];

static int prov_loc(int p)
{
    return p < (opt.providers + 1) / 2 ? 0 : 1;
}

static int vt_offered(int v, int p)
{
    return !vtypes[v].needs_room || p % 2 == 0;
}

static int is_holiday(const char *date, int loc)
{
    for (size_t i = 0; i < sizeof holidays / sizeof holidays[0]; i++)
        if (strcmp(date + 5, holidays[i].mmdd) == 0)
            return 1;
    return loc == 1 && strcmp(date + 5, SOUTH_HOLIDAY) == 0;
}

/* The provider's availability blocks on date (minutes from local midnight), as the server
 * derives them from the templates and holidays set up below: Monday to Friday 08:00-12:00
 * and 13:00-17:00; the first five providers 09:00-13:00 and 14:00-18:00 for the last two
 * years; every fifth provider has Wednesday afternoons off. */
static int model_blocks(int p, const char *date, unsigned bs[2], unsigned be[2])
{
    int wd = pm_weekday(date);
    if (wd > 5 || strcmp(date, tpl_from) < 0 || is_holiday(date, prov_loc(p)))
        return 0;
    int recent = p < 5 && strcmp(date, tpl2_from) >= 0;
    int n = 0;
    bs[n] = recent ? 9 * 60 : 8 * 60;
    be[n] = bs[n] + 240;
    n++;
    if (!(p % 5 == 4 && wd == 3)) {
        bs[n] = recent ? 14 * 60 : 13 * 60;
        be[n] = bs[n] + 240;
        n++;
    }
    return n;
}

/* The provider's exceptions overlapping [t0, t1), into out (at most max). */
static size_t day_exceptions(int p, time_t t0, time_t t1, span *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < nexc[p] && n < max; i++)
        if (exc[p][i].s < t1 && exc[p][i].e > t0)
            out[n++] = exc[p][i];
    return n;
}

static int overlaps(const span *ex, size_t n, time_t t0, time_t t1)
{
    for (size_t i = 0; i < n; i++)
        if (ex[i].s < t1 && ex[i].e > t0)
            return 1;
    return 0;
}

static int pick_vt(bs_rng *r, int p)
{
    for (;;) {
        unsigned x = bs_randn(r, 100), acc = 0;
        for (int v = 0; v < NVT; v++) {
            acc += vtypes[v].weight;
            if (x < acc)
                return vt_offered(v, p) ? v : 0;
        }
    }
}

static time_t local_at(const char *date, unsigned minutes)
{
    time_t t = 0;
    pm_local_instant(date, minutes, &t);
    return t;
}

static void add_span(int p, time_t s, time_t e)
{
    static size_t cap[MAX_PROVIDERS];
    if (nexc[p] == cap[p]) {
        cap[p] = cap[p] ? cap[p] * 2 : 64;
        exc[p] = realloc(exc[p], cap[p] * sizeof *exc[p]);
        if (!exc[p]) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    exc[p][nexc[p]++] = (span){s, e};
}

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return (x->s > y->s) - (x->s < y->s);
}

/* Two weeks of time off a year (late winter, summer) and a staff meeting on the first
 * Tuesday of every month, 08:00-10:00, for every provider over the years set up. */
static void make_exceptions(void)
{
    for (int p = 0; p < opt.providers; p++) {
        for (int y = year0; y <= year1; y++) {
            char jan4[11], mon1[11], d[11];
            snprintf(jan4, sizeof jan4, "%04d-01-04", y);
            pm_date_add(jan4, -(pm_weekday(jan4) - 1), mon1); /* Monday of ISO week 1 */
            int weeks[2] = {8 + (p * 3) % 6, 29 + (p * 5) % 6};
            for (int k = 0; k < 2; k++) {
                char sat[11];
                pm_date_add(mon1, 7 * (weeks[k] - 1), d);
                pm_date_add(d, 5, sat);
                add_span(p, local_at(d, 0), local_at(sat, 0));
            }
            for (int m = 1; m <= 12; m++) {
                char first[11];
                snprintf(first, sizeof first, "%04d-%02d-01", y, m);
                pm_date_add(first, (2 - pm_weekday(first) + 7) % 7, d);
                add_span(p, local_at(d, 8 * 60), local_at(d, 10 * 60));
            }
        }
        qsort(exc[p], nexc[p], sizeof *exc[p], cmp_span);
    }
}

/* ---- the machine during a measured window ---- */

/* Busy CPU seconds of the whole machine (every process), and sectors written to the disk
 * holding the data directory: what other processes did meanwhile, and what reached the
 * device (the kernel may write more than was handed to write(): whole folios). */
typedef struct machine_snap {
    double busy_s, self_s, server_s;
    uint64_t sectors;
} machine_snap;

static char disk_name[64];

static void find_disk(const char *dir)
{
    char out[256] = "";
    ts_sh(out, sizeof out, "basename \"$(findmnt -no SOURCE -T '%s')\" 2>/dev/null", dir);
    out[strcspn(out, "\n")] = 0;
    snprintf(disk_name, sizeof disk_name, "%.63s", out);
}

static void machine_read(pid_t server, machine_snap *m)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        unsigned long long v[8] = {0};
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]) == 8)
            m->busy_s =
                (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
        fclose(f);
    }
    m->self_s = bs_cpu_s(getpid());
    m->server_s = bs_cpu_s(server);
    f = fopen("/proc/diskstats", "r");
    if (f && *disk_name) {
        char line[512], name[64];
        unsigned long long x[7];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "%*u %*u %63s %llu %llu %llu %llu %llu %llu %llu", name, &x[0], &x[1],
                       &x[2], &x[3], &x[4], &x[5], &x[6]) == 8 &&
                strcmp(name, disk_name) == 0)
                m->sectors = x[6];
    }
    if (f)
        fclose(f);
}

/* Prints what other processes used during the window and what reached the disk. */
static double machine_print(const char *tag, const machine_snap *a, const machine_snap *b,
                            double secs, double per, const char *per_what)
{
    char m[128];
    double others = (b->busy_s - a->busy_s) - (b->self_s - a->self_s) - (b->server_s - a->server_s);
    snprintf(m, sizeof m, "%s.other_processes_cpu", tag);
    bs_result(m, others > 0 ? others / secs : 0, "cores");
    if (*disk_name && per > 0) {
        snprintf(m, sizeof m, "%s.device_written_per_%s", tag, per_what);
        bs_result(m, (double)(b->sectors - a->sectors) * 512.0 / 1024.0 / per, "KiB");
    }
    return others > 0 ? others / secs : 0;
}

/* ---- requests on raw TLS connections, many in flight (set-up and load) ---- */

enum { FATE_KEEP, FATE_CANCEL, FATE_NO_SHOW };
#define TAG_FOLLOWUP (1ull << 63)

typedef struct pl_worker pl_worker;
/* What a loading connection sends next and does with each answer. */
typedef struct pipeline {
    /* The next request, built in a; 0 when there is none (now). *tag comes back with its
     * answer. */
    int (*next)(pl_worker *w, pm_arena *a, Pm__Envelope **e, uint64_t *tag);
    /* An answer: the request's, or an Error. */
    void (*answer)(pl_worker *w, uint64_t tag, const Pm__Envelope *resp);
    int depth;
} pipeline;

/* After a booking: cancel it or mark it no-show. */
typedef struct followup {
    uint64_t id;
    uint32_t version;
    int kind;
} followup;

struct pl_worker {
    pthread_t th;
    const pipeline *pl;
    ts_raw *raw;
    int idx;
    size_t cur, end; /* the chunk of the plan being booked */
    followup *fu;
    size_t nfu, capfu;
    uint64_t ids[ANSWER_RING], tags[ANSWER_RING], next_id;
    atomic_ulong done;
    atomic_int finished;
    uint64_t ok[3]; /* booked, cancelled, no-show (set-up and patients: ok[0]) */
    uint64_t by_code[PM_WIRE_ERR_MAX + 1];
    uint64_t broken;
    char first_error[256];
};

static void pl_note_error(pl_worker *w, const Pm__Envelope *resp, const char *what)
{
    int err = resp->body_case == PM__ENVELOPE__BODY_ERROR;
    int code = err ? (int)resp->error->code : PM__ERROR_CODE__INTERNAL;
    if (code < 0 || code > PM_WIRE_ERR_MAX)
        code = PM__ERROR_CODE__INTERNAL;
    w->by_code[code]++;
    if (!w->first_error[0])
        snprintf(w->first_error, sizeof w->first_error, "%s: %s: %s", what, pm_err_name(-code),
                 err ? resp->error->message : "unexpected answer");
}

static void pl_loop(pl_worker *w)
{
    int inflight = 0;
    for (;;) {
        while (inflight < w->pl->depth) {
            pm_arena a;
            pm_arena_init(&a, 0);
            Pm__Envelope *e;
            uint64_t tag;
            if (!w->pl->next(w, &a, &e, &tag)) {
                pm_arena_free(&a);
                break;
            }
            e->id = ++w->next_id;
            w->ids[e->id % ANSWER_RING] = e->id;
            w->tags[e->id % ANSWER_RING] = tag;
            int rc = ts_raw_env(w->raw, e);
            pm_arena_free(&a);
            if (rc) {
                w->broken++;
                snprintf(w->first_error, sizeof w->first_error, "cannot send");
                return;
            }
            inflight++;
        }
        if (!inflight)
            return;
        uint8_t *body;
        uint32_t len;
        if (ts_raw_frame(w->raw, 300000, &body, &len) != 1) {
            w->broken++;
            snprintf(w->first_error, sizeof w->first_error,
                     "the connection broke or timed out with %d requests in flight", inflight);
            return;
        }
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *resp = pm__envelope__unpack(pm_arena_pbc(&a), len, body);
        free(body);
        if (!resp || w->ids[resp->id % ANSWER_RING] != resp->id) {
            pm_arena_free(&a);
            w->broken++;
            snprintf(w->first_error, sizeof w->first_error, "an answer to no request");
            return;
        }
        inflight--;
        w->pl->answer(w, w->tags[resp->id % ANSWER_RING], resp);
        atomic_fetch_add(&w->done, 1);
        pm_arena_free(&a);
    }
}

static void *pl_main(void *arg)
{
    pl_worker *w = arg;
    pl_loop(w);
    atomic_store(&w->finished, 1);
    return NULL;
}

/* Runs a pipeline on n connections resumed with token (a manager's session); prints
 * progress every 5 s when label is given. Returns the workers, or NULL. */
static pl_worker *pl_run(ts_server *s, const uint8_t *token, const pipeline *pl, int n,
                         const char *label, double *secs)
{
    pl_worker *w = calloc((size_t)n, sizeof *w);
    if (!w)
        return NULL;
    for (int i = 0; i < n; i++) {
        w[i].pl = pl;
        w[i].idx = i;
        if (!(w[i].raw = ts_raw_open(s)) || ts_raw_login(w[i].raw, token) != 0) {
            fprintf(stderr, "a loading connection could not log in\n");
            for (int k = 0; k <= i; k++)
                ts_raw_close(w[k].raw);
            free(w);
            return NULL;
        }
    }
    uint64_t t0 = bs_now_us(), last_t = t0;
    unsigned long last_n = 0;
    for (int i = 0; i < n; i++)
        pthread_create(&w[i].th, NULL, pl_main, &w[i]);
    for (int running = 1; running && label;) {
        bs_sleep_us(250000);
        running = 0;
        unsigned long done = 0;
        for (int i = 0; i < n; i++) {
            done += atomic_load(&w[i].done);
            running |= !atomic_load(&w[i].finished);
        }
        uint64_t now = bs_now_us();
        if (running && now - last_t >= PROGRESS_EVERY) {
            printf("# %s: %lu requests answered after %.0f s, %.0f/s over the last %.1f s\n", label,
                   done, (double)(now - t0) / 1e6,
                   (double)(done - last_n) * 1e6 / (double)(now - last_t),
                   (double)(now - last_t) / 1e6);
            last_n = done;
            last_t = now;
        }
    }
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].th, NULL);
        ts_raw_close(w[i].raw);
        w[i].raw = NULL;
    }
    *secs = (double)(bs_now_us() - t0) / 1e6;
    return w;
}

/* Sums of the workers' counters; prints each worker's first error. */
typedef struct pl_sum {
    uint64_t ok[3], by_code[PM_WIRE_ERR_MAX + 1], failed, broken;
} pl_sum;

static void pl_finish(pl_worker *w, int n, const char *what, pl_sum *sum)
{
    memset(sum, 0, sizeof *sum);
    for (int i = 0; w && i < n; i++) {
        for (int k = 0; k < 3; k++)
            sum->ok[k] += w[i].ok[k];
        for (int k = 0; k <= PM_WIRE_ERR_MAX; k++) {
            sum->by_code[k] += w[i].by_code[k];
            sum->failed += w[i].by_code[k];
        }
        sum->broken += w[i].broken;
        if (w[i].first_error[0])
            printf("# %s connection %d: first error: %s\n", what, i, w[i].first_error);
        free(w[i].fu);
    }
    free(w);
}

/* ---- set-up: a list of requests sent in order of stages ---- */

typedef struct env_list {
    Pm__Envelope **v;
    size_t n, cap;
    atomic_size_t next;
} env_list;

static env_list *the_list;

static void list_add(env_list *l, Pm__Envelope *e)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = e;
}

static int list_next(pl_worker *w, pm_arena *a, Pm__Envelope **e, uint64_t *tag)
{
    (void)w;
    (void)a;
    size_t i = atomic_fetch_add(&the_list->next, 1);
    if (i >= the_list->n)
        return 0;
    *e = the_list->v[i];
    *tag = i;
    return 1;
}

static void list_answer(pl_worker *w, uint64_t tag, const Pm__Envelope *resp)
{
    (void)tag;
    if (resp->body_case == PM__ENVELOPE__BODY_SETUP)
        w->ok[0]++;
    else
        pl_note_error(w, resp, "set-up");
}

/* Sends a stage of set-up requests; 0 when every one was accepted. */
static int send_stage(ts_server *s, const uint8_t *token, env_list *l, const char *what)
{
    static const pipeline pl = {list_next, list_answer, 32};
    double secs;
    the_list = l;
    atomic_store(&l->next, 0);
    pl_sum sum;
    pl_worker *w = pl_run(s, token, &pl, 1, NULL, &secs);
    if (!w)
        return -1;
    pl_finish(w, 1, what, &sum);
    if (sum.failed || sum.broken || sum.ok[0] != l->n) {
        fprintf(stderr, "set-up of %s failed: %llu of %zu accepted\n", what,
                (unsigned long long)sum.ok[0], l->n);
        return -1;
    }
    return 0;
}

static Pm__TemplateBlock *tblock(pm_arena *a, unsigned wd, unsigned s, unsigned e, int loc)
{
    Pm__TemplateBlock *b = pm_msg_new(a, &pm__template_block__descriptor);
    b->weekday = wd;
    b->start_min = s;
    b->end_min = e;
    b->location = (char *)loc_ids[loc];
    b->capacity = 1;
    return b;
}

static Pm__Template *make_template(pm_arena *a, int p, const char *from, unsigned m0, unsigned a0)
{
    Pm__Template *t = pm_msg_new(a, &pm__template__descriptor);
    t->provider = prov_id[p];
    t->valid_from = (char *)from;
    t->blocks = pm_arena_alloc(a, sizeof *t->blocks * 10);
    for (unsigned wd = 1; wd <= 5; wd++) {
        t->blocks[t->n_blocks++] = tblock(a, wd, m0, m0 + 240, prov_loc(p));
        if (!(p % 5 == 4 && wd == 3))
            t->blocks[t->n_blocks++] = tblock(a, wd, a0, a0 + 240, prov_loc(p));
    }
    return t;
}

/* Locations, rooms, providers, visit types, templates, holidays and exceptions. */
static int setup_practice(ts_server *s, const uint8_t *token)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    env_list st[4];
    memset(st, 0, sizeof st);
    bs_rng r;
    bs_rng_seed(&r, 77);
    size_t nhol = 0, nex = 0;
    for (int l = 0; l < NLOC; l++) {
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PUT_LOCATION);
        e->put_location = pm_msg_new(&a, &pm__put_location__descriptor);
        Pm__Location *loc = pm_msg_new(&a, &pm__location__descriptor);
        loc->id = (char *)loc_ids[l];
        loc->name = (char *)loc_names[l];
        loc->phone = pm_arena_printf(&a, "+33 4 72 %02d 10 %02d", 10 + l, 20 + l);
        loc->hours = pm_arena_alloc(&a, sizeof *loc->hours * 5);
        for (unsigned wd = 1; wd <= 5; wd++) {
            Pm__OpeningHours *h = pm_msg_new(&a, &pm__opening_hours__descriptor);
            h->weekday = wd;
            h->start_min = 7 * 60 + 30;
            h->end_min = 18 * 60 + 30;
            loc->hours[loc->n_hours++] = h;
        }
        e->put_location->location = loc;
        list_add(&st[0], e);
        for (int k = 1; k <= ROOMS_PER_LOC; k++) {
            e = pc_env(&a, PM__ENVELOPE__BODY_PUT_ROOM);
            e->put_room = pm_msg_new(&a, &pm__put_room__descriptor);
            Pm__Room *rm = pm_msg_new(&a, &pm__room__descriptor);
            rm->id = pm_arena_printf(&a, "%s-%d", loc_ids[l], k);
            rm->location = (char *)loc_ids[l];
            rm->name = pm_arena_printf(&a, "Exam room %d", k);
            e->put_room->room = rm;
            list_add(&st[1], e);
        }
    }
    for (int p = 0; p < opt.providers; p++) {
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PUT_PROVIDER);
        e->put_provider = pm_msg_new(&a, &pm__put_provider__descriptor);
        Pm__Provider *pr = pm_msg_new(&a, &pm__provider__descriptor);
        pr->id = prov_id[p];
        pr->name = pm_arena_printf(&a, "Dr. %s %s",
                                   bs_first_names[bs_randn(&r, (uint32_t)bs_n_first_names)],
                                   bs_last_names[bs_randn(&r, (uint32_t)bs_n_last_names)]);
        pr->credentials = "MD";
        pr->color = pm_arena_printf(&a, "#%06x", bs_randn(&r, 0x1000000));
        pr->default_location = (char *)loc_ids[prov_loc(p)];
        e->put_provider->provider = pr;
        list_add(&st[1], e);
    }
    for (int v = 0; v < NVT; v++) {
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PUT_VISIT_TYPE);
        e->put_visit_type = pm_msg_new(&a, &pm__put_visit_type__descriptor);
        Pm__VisitType *vt = pm_msg_new(&a, &pm__visit_type__descriptor);
        vt->id = (char *)vtypes[v].id;
        vt->name = (char *)vtypes[v].name;
        vt->duration_min = vtypes[v].minutes;
        vt->needs_room = vtypes[v].needs_room;
        if (vtypes[v].needs_room) {
            vt->providers = pm_arena_alloc(&a, sizeof *vt->providers * (size_t)opt.providers);
            for (int p = 0; p < opt.providers; p++)
                if (vt_offered(v, p))
                    vt->providers[vt->n_providers++] = prov_id[p];
        }
        e->put_visit_type->visit_type = vt;
        list_add(&st[2], e);
    }
    for (int p = 0; p < opt.providers; p++) {
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PUT_TEMPLATE);
        e->put_template = pm_msg_new(&a, &pm__put_template__descriptor);
        e->put_template->template_ = make_template(&a, p, tpl_from, 8 * 60, 13 * 60);
        list_add(&st[3], e);
        if (p < 5) { /* new hours from two years ago */
            e = pc_env(&a, PM__ENVELOPE__BODY_PUT_TEMPLATE);
            e->put_template = pm_msg_new(&a, &pm__put_template__descriptor);
            e->put_template->template_ = make_template(&a, p, tpl2_from, 9 * 60, 14 * 60);
            list_add(&st[3], e);
        }
        for (size_t i = 0; i < nexc[p]; i++) {
            e = pc_env(&a, PM__ENVELOPE__BODY_ADD_EXCEPTION);
            e->add_exception = pm_msg_new(&a, &pm__add_exception__descriptor);
            Pm__Exception *x = pm_msg_new(&a, &pm__exception__descriptor);
            int vacation = exc[p][i].e - exc[p][i].s > 86400;
            x->provider = prov_id[p];
            x->start = exc[p][i].s;
            x->end = exc[p][i].e;
            x->kind = vacation ? PM__EXCEPTION_KIND__TIME_OFF : PM__EXCEPTION_KIND__MEETING;
            x->reason = vacation ? "Vacation" : "Staff meeting";
            e->add_exception->exception = x;
            list_add(&st[3], e);
            nex++;
        }
    }
    for (int y = year0; y <= year1; y++) {
        for (size_t i = 0; i <= sizeof holidays / sizeof holidays[0]; i++) {
            int south = i == sizeof holidays / sizeof holidays[0];
            Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PUT_HOLIDAY);
            e->put_holiday = pm_msg_new(&a, &pm__put_holiday__descriptor);
            Pm__Holiday *h = pm_msg_new(&a, &pm__holiday__descriptor);
            h->date = pm_arena_printf(&a, "%04d-%s", y, south ? SOUTH_HOLIDAY : holidays[i].mmdd);
            h->name = south ? "Fête de la Saint-Jean" : (char *)holidays[i].name;
            h->location = south ? (char *)loc_ids[1] : "";
            e->put_holiday->holiday = h;
            list_add(&st[3], e);
            nhol++;
        }
    }
    static const char *const what[4] = {"locations", "rooms and providers", "visit types",
                                        "templates, holidays and exceptions"};
    int rc = 0;
    uint64_t t0 = bs_now_us();
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = send_stage(s, token, &st[i], what[i]);
    if (rc == 0)
        printf("# set-up: %d locations, %d rooms, %d providers, %d visit types, %d templates "
               "(valid from %s; five providers' new hours from %s), %zu holidays, %zu "
               "exceptions (time off, meetings) for %d-%d, in %.1f s\n",
               NLOC, NLOC * ROOMS_PER_LOC, opt.providers, NVT,
               opt.providers + (opt.providers < 5 ? opt.providers : 5), tpl_from, tpl2_from, nhol,
               nex, year0, year1, (double)(bs_now_us() - t0) / 1e6);
    for (int i = 0; i < 4; i++)
        free(st[i].v);
    pm_arena_free(&a);
    return rc;
}

/* ---- patients ---- */

static char (*mrns)[24];
static atomic_long next_patient;

static int patient_next(pl_worker *w, pm_arena *a, Pm__Envelope **e, uint64_t *tag)
{
    (void)w;
    long i = atomic_fetch_add(&next_patient, 1);
    if (i >= opt.patients)
        return 0;
    bs_rng r;
    bs_rng_seed(&r, 500000 + (uint64_t)i);
    *e = pc_env(a, PM__ENVELOPE__BODY_CREATE_PATIENT);
    (*e)->create_patient = pm_msg_new(a, &pm__create_patient__descriptor);
    (*e)->create_patient->patient = bs_make_patient(&r, a);
    *tag = (uint64_t)i;
    return 1;
}

static void patient_answer(pl_worker *w, uint64_t tag, const Pm__Envelope *resp)
{
    if (resp->body_case == PM__ENVELOPE__BODY_PATIENT_OK) {
        snprintf(mrns[tag], sizeof mrns[tag], "%s", resp->patient_ok->patient->mrn);
        w->ok[0]++;
    } else {
        pl_note_error(w, resp, "create patient");
    }
}

/* Each provider sees the patients of a panel of its own, so that a patient is never
 * booked with two providers at once. */
static uint32_t panel_patient(int p, bs_rng *r)
{
    long lo = opt.patients * p / opt.providers, hi = opt.patients * (p + 1) / opt.providers;
    return (uint32_t)(lo + bs_randn(r, (uint32_t)(hi - lo)));
}

/* ---- the plan: every appointment to book, decided in advance ---- */

typedef struct plan_appt {
    int64_t start;
    uint32_t patient;
    uint8_t prov, vt, fate;
} plan_appt;

static plan_appt *plan;
static size_t nplan, capplan;

static void plan_add(int p, int v, time_t start, uint32_t patient, int fate)
{
    if (nplan == capplan) {
        capplan = capplan ? capplan * 2 : 65536;
        plan = realloc(plan, capplan * sizeof *plan);
        if (!plan) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    plan[nplan++] = (plan_appt){start, patient, (uint8_t)p, (uint8_t)v, (uint8_t)fate};
}

/* Books a provider's day: visits back-to-back through each block, keeping fill per
 * mille of them (the rest stays free), none in the way of an exception or before
 * not_before. Past days get some cancellations and no-shows, coming ones a few
 * cancellations. Returns how many. */
static long plan_day(int p, const char *date, bs_rng *r, unsigned fill, time_t not_before, int past,
                     long budget)
{
    unsigned bs[2], be[2];
    int nb = model_blocks(p, date, bs, be);
    long n = 0;
    if (!nb)
        return 0;
    span ex[16];
    size_t nx = day_exceptions(p, local_at(date, 0), local_at(date, 24 * 60), ex, 16);
    for (int b = 0; b < nb && n < budget; b++) {
        time_t t = local_at(date, bs[b]), end = local_at(date, be[b]);
        while (t < end && n < budget) {
            int v = pick_vt(r, p);
            time_t dur = (time_t)vtypes[v].minutes * 60;
            if (t + dur > end) {
                v = 0;
                dur = (time_t)vtypes[0].minutes * 60;
                if (t + dur > end)
                    break;
            }
            if (t < not_before || overlaps(ex, nx, t, t + dur)) {
                t += 15 * 60;
                continue;
            }
            if (bs_randn(r, 1000) < fill) {
                unsigned x = bs_randn(r, 100);
                int fate = past ? (x < 8    ? FATE_CANCEL
                                   : x < 12 ? FATE_NO_SHOW
                                            : FATE_KEEP)
                                : (x < 4 ? FATE_CANCEL : FATE_KEEP);
                plan_add(p, v, t, panel_patient(p, r), fate);
                n++;
            }
            t += dur;
        }
    }
    return n;
}

static char history_from[11];
static int history_days;
static long history_planned, future_planned;

static int cmp_plan(const void *a, const void *b)
{
    const plan_appt *x = a, *y = b;
    if (x->start != y->start)
        return (x->start > y->start) - (x->start < y->start);
    return (x->prov > y->prov) - (x->prov < y->prov);
}

/* History back from yesterday until opt.appointments, then the coming weeks: the first
 * almost full, then less and less. Sorted by time, as a migration would send them. */
static void make_plan(void)
{
    bs_rng r;
    bs_rng_seed(&r, 2024);
    char d[11];
    long left = opt.appointments;
    int back = 0;
    for (back = 1; left > 0; back++) {
        pm_date_add(today, -back, d);
        if (strcmp(d, tpl_from) < 0) {
            printf("# the history reaches the start of the templates (%s) with %ld "
                   "appointments left unplanned\n",
                   tpl_from, left);
            break;
        }
        for (int p = 0; p < opt.providers && left > 0; p++)
            left -= plan_day(p, d, &r, HISTORY_FILL, 0, 1, left);
    }
    history_days = back - 1;
    pm_date_add(today, -history_days, history_from);
    history_planned = (long)nplan;
    static const unsigned week_fill[] = {970, 900, 750, 500, 300};
    for (int k = 0; k < 7 * opt.future_weeks; k++) {
        pm_date_add(today, k, d);
        unsigned fill = week_fill[k / 7 < 4 ? k / 7 : 4];
        for (int p = 0; p < opt.providers; p++)
            plan_day(p, d, &r, fill, t_now, 0, 1000);
    }
    future_planned = (long)nplan - history_planned;
    qsort(plan, nplan, sizeof *plan, cmp_plan);
}

/* ---- the load: the plan booked by managers, many requests in flight ---- */

#define CHUNK 64
static atomic_size_t next_chunk;

static int appt_next(pl_worker *w, pm_arena *a, Pm__Envelope **e, uint64_t *tag)
{
    if (w->nfu) {
        followup f = w->fu[--w->nfu];
        if (f.kind == FATE_CANCEL) {
            *e = pc_env(a, PM__ENVELOPE__BODY_CANCEL);
            (*e)->cancel = pm_msg_new(a, &pm__cancel__descriptor);
            (*e)->cancel->id = f.id;
            (*e)->cancel->version = f.version;
            (*e)->cancel->reason = "Patient called to cancel";
        } else {
            *e = pc_env(a, PM__ENVELOPE__BODY_MARK_NO_SHOW);
            (*e)->mark_no_show = pm_msg_new(a, &pm__mark_no_show__descriptor);
            (*e)->mark_no_show->id = f.id;
            (*e)->mark_no_show->version = f.version;
        }
        *tag = TAG_FOLLOWUP | (uint64_t)f.kind;
        return 1;
    }
    if (w->cur >= w->end) {
        size_t c = atomic_fetch_add(&next_chunk, 1);
        if (c * CHUNK >= nplan)
            return 0;
        w->cur = c * CHUNK;
        w->end = w->cur + CHUNK < nplan ? w->cur + CHUNK : nplan;
    }
    size_t i = w->cur++;
    const plan_appt *pa = &plan[i];
    *e = pc_env(a, PM__ENVELOPE__BODY_BOOK);
    Pm__Book *b = pm_msg_new(a, &pm__book__descriptor);
    b->patient_mrn = mrns[pa->patient];
    b->provider = prov_id[pa->prov];
    b->visit_type = (char *)vtypes[pa->vt].id;
    b->start = pa->start;
    (*e)->book = b;
    *tag = i;
    return 1;
}

static void appt_answer(pl_worker *w, uint64_t tag, const Pm__Envelope *resp)
{
    if (tag & TAG_FOLLOWUP) {
        int kind = (int)(tag & 3);
        if (resp->body_case == PM__ENVELOPE__BODY_APPOINTMENT_OK)
            w->ok[kind]++;
        else
            pl_note_error(w, resp, kind == FATE_CANCEL ? "cancel" : "no-show");
        return;
    }
    if (resp->body_case != PM__ENVELOPE__BODY_APPOINTMENT_OK) {
        pl_note_error(w, resp, "book");
        return;
    }
    w->ok[0]++;
    const plan_appt *pa = &plan[tag];
    if (pa->fate == FATE_KEEP)
        return;
    if (w->nfu == w->capfu) {
        w->capfu = w->capfu ? w->capfu * 2 : 64;
        w->fu = realloc(w->fu, w->capfu * sizeof *w->fu);
    }
    const Pm__Appointment *ap = resp->appointment_ok->appointment;
    w->fu[w->nfu++] = (followup){ap->id, ap->version, pa->fate};
}

/* ---- reads: slot searches and day schedules from a few desks ---- */

enum { Q_SLOTS, Q_SCHEDULE, Q_LOC_SCHEDULE };

typedef struct reader {
    pthread_t th;
    pc_client *c;
    int idx, kind;
    bs_lat lat, days, by_days[3];
    uint64_t n, errors, items, empty, windowed, located, past, coming, far;
    char first_error[256];
} reader;

static atomic_long next_query;
static long phase_total;

/* A day a desk would look at: a past weekday with appointments (65%), one of the coming
 * weeks (20%), or an empty day: a weekday a year or more ahead, a weekend or a holiday
 * in the history (15%). */
static void schedule_day(reader *rd, bs_rng *r, int p, char out[11])
{
    unsigned x = bs_randn(r, 100);
    unsigned bs[2], be[2];
    if (x < 65) {
        for (int tries = 0; tries < 20; tries++) {
            pm_date_add(today, -1 - (int)bs_randn(r, (uint32_t)history_days), out);
            if (model_blocks(p, out, bs, be))
                break;
        }
        rd->past++;
    } else if (x < 85) {
        pm_date_add(today, (int)bs_randn(r, (uint32_t)(7 * opt.future_weeks)), out);
        rd->coming++;
    } else if (x < 93) {
        pm_date_add(today, 365 + (int)bs_randn(r, 300), out);
        rd->far++;
    } else {
        for (int tries = 0; tries < 50; tries++) {
            pm_date_add(today, -1 - (int)bs_randn(r, (uint32_t)history_days), out);
            if (!model_blocks(p, out, bs, be))
                break;
        }
        rd->past++;
    }
}

static void *reader_main(void *arg)
{
    reader *rd = arg;
    bs_rng r;
    bs_rng_seed(&r, 31000 + (uint64_t)rd->idx * 7 + (uint64_t)rd->kind);
    while (atomic_fetch_add(&next_query, 1) < phase_total) {
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e, *resp = NULL;
        char from[11];
        if (rd->kind == Q_SLOTS) {
            e = pc_env(&a, PM__ENVELOPE__BODY_FIND_SLOTS);
            Pm__FindSlots *q = pm_msg_new(&a, &pm__find_slots__descriptor);
            q->visit_type = (char *)vtypes[pick_vt(&r, 0)].id;
            pm_date_add(today, (int)bs_randn(&r, (uint32_t)(7 * opt.future_weeks)), from);
            q->from_date = from;
            q->count = 10;
            if (bs_randn(&r, 100) < 25) {
                int late = (int)bs_randn(&r, 2);
                q->earliest_min = late ? 15 * 60 : 8 * 60;
                q->latest_min = q->earliest_min + 120;
                rd->windowed++;
            }
            if (bs_randn(&r, 100) < 20) {
                q->location = (char *)loc_ids[bs_randn(&r, NLOC)];
                rd->located++;
            }
            e->find_slots = q;
        } else {
            e = pc_env(&a, PM__ENVELOPE__BODY_GET_SCHEDULE);
            Pm__GetSchedule *q = pm_msg_new(&a, &pm__get_schedule__descriptor);
            int p = (int)bs_randn(&r, (uint32_t)opt.providers);
            if (rd->kind == Q_LOC_SCHEDULE)
                q->location = (char *)loc_ids[bs_randn(&r, NLOC)];
            else
                q->provider = prov_id[p];
            schedule_day(rd, &r, p, from);
            q->date = from;
            q->days = 1;
            e->get_schedule = q;
        }
        uint64_t t0 = bs_now_us();
        int rc = pc_call(rd->c, e, &a, &resp);
        uint64_t t1 = bs_now_us();
        rd->n++;
        if (rc == PM_OK && rd->kind == Q_SLOTS && resp->body_case == PM__ENVELOPE__BODY_SLOT_LIST) {
            const Pm__SlotList *sl = resp->slot_list;
            bs_lat_add(&rd->lat, t1 - t0);
            rd->items += sl->n_slots;
            rd->empty += sl->n_slots == 0;
            if (sl->n_slots) {
                char last[11];
                pm_local_date((time_t)sl->slots[sl->n_slots - 1]->start, last);
                int nd = pm_date_diff(from, last);
                bs_lat_add(&rd->days, (uint64_t)nd);
                bs_lat_add(&rd->by_days[nd == 0 ? 0 : nd < 7 ? 1 : 2], t1 - t0);
            }
        } else if (rc == PM_OK && rd->kind != Q_SLOTS &&
                   resp->body_case == PM__ENVELOPE__BODY_SCHEDULE && resp->schedule->n_days == 1) {
            size_t n = resp->schedule->days[0]->n_appointments;
            bs_lat_add(&rd->lat, t1 - t0);
            rd->items += n;
            rd->empty += n == 0;
        } else if (!rd->errors++) {
            snprintf(rd->first_error, sizeof rd->first_error, "%s",
                     rc == PM_OK ? "unexpected answer" : pc_last_error(rd->c));
        }
        pm_arena_free(&a);
    }
    return NULL;
}

/* Runs count requests of one kind from the readers; prints the client's figures. */
static void run_reads(pid_t server, reader *rd, int n, int kind, long count, const char *tag)
{
    atomic_store(&next_query, 0);
    phase_total = count;
    bs_tasks tk0, tk1;
    bs_io io0, io1;
    machine_snap ms0, ms1;
    machine_read(server, &ms0);
    bs_tasks_read(server, &tk0);
    bs_io_read(server, &io0);
    double c0 = bs_cpu_s(server);
    uint64_t t0 = bs_now_us();
    for (int i = 0; i < n; i++) {
        rd[i].kind = kind;
        pthread_create(&rd[i].th, NULL, reader_main, &rd[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(rd[i].th, NULL);
    double secs = (double)(bs_now_us() - t0) / 1e6;
    double cpu = (bs_cpu_s(server) - c0) / secs;
    bs_tasks_read(server, &tk1);
    bs_io_read(server, &io1);
    machine_read(server, &ms1);
    bs_lat all = {0}, days = {0}, by_days[3] = {{0}};
    reader sum = {0};
    for (int i = 0; i < n; i++) {
        bs_lat_merge(&all, &rd[i].lat);
        bs_lat_merge(&days, &rd[i].days);
        for (int k = 0; k < 3; k++)
            bs_lat_merge(&by_days[k], &rd[i].by_days[k]);
        sum.n += rd[i].n;
        sum.errors += rd[i].errors;
        sum.items += rd[i].items;
        sum.empty += rd[i].empty;
        sum.windowed += rd[i].windowed;
        sum.located += rd[i].located;
        sum.past += rd[i].past;
        sum.coming += rd[i].coming;
        sum.far += rd[i].far;
        if (rd[i].errors)
            printf("# %s desk %d: %llu errors, first: %s\n", tag, i,
                   (unsigned long long)rd[i].errors, rd[i].first_error);
    }
    bs_lat_sort(&all);
    bs_lat_sort(&days);
    char m[192];
#define R(name, val, unit)                                                                         \
    do {                                                                                           \
        snprintf(m, sizeof m, "%s.%s", tag, name);                                                 \
        bs_result(m, val, unit);                                                                   \
    } while (0)
    R("requests", (double)sum.n, "requests");
    R("requests_per_s", (double)sum.n / secs, "requests/s");
    R("client_p50", (double)bs_lat_pct(&all, 0.50), "us");
    R("client_p99", (double)bs_lat_pct(&all, 0.99), "us");
    R("client_errors", (double)sum.errors, "requests");
    if (kind == Q_SLOTS) {
        printf("# %s: %llu with a time-of-day window (08:00-10:00 or 15:00-17:00), %llu at one "
               "location\n",
               tag, (unsigned long long)sum.windowed, (unsigned long long)sum.located);
        R("mean_slots", all.n ? (double)sum.items / (double)all.n : 0, "slots");
        R("no_slot_answers", (double)sum.empty, "requests");
        R("days_to_last_slot_p50", (double)bs_lat_pct(&days, 0.50), "days");
        R("days_to_last_slot_p99", (double)bs_lat_pct(&days, 0.99), "days");
        R("days_to_last_slot_max", (double)(days.n ? days.v[days.n - 1] : 0), "days");
        /* how the round trip grows with the days searched: the handler looks at every
         * provider's day in turn until it has the slots asked for */
        static const char *const bucket[3] = {"last_slot_same_day", "last_slot_1_6_days_on",
                                              "last_slot_7_days_on_or_more"};
        for (int k = 0; k < 3; k++) {
            char nm[96];
            bs_lat_sort(&by_days[k]);
            snprintf(nm, sizeof nm, "%s.requests", bucket[k]);
            R(nm, (double)by_days[k].n, "requests");
            snprintf(nm, sizeof nm, "%s.client_p50", bucket[k]);
            R(nm, (double)bs_lat_pct(&by_days[k], 0.50), "us");
            snprintf(nm, sizeof nm, "%s.client_p99", bucket[k]);
            R(nm, (double)bs_lat_pct(&by_days[k], 0.99), "us");
        }
    } else {
        printf("# %s: %llu past days (15%% of them weekends and holidays), %llu in the coming "
               "weeks, %llu a year or more ahead\n",
               tag, (unsigned long long)sum.past, (unsigned long long)sum.coming,
               (unsigned long long)sum.far);
        R("mean_appointments", all.n ? (double)sum.items / (double)all.n : 0, "appointments");
        R("empty_days", (double)sum.empty, "requests");
        R("server.written_per_request",
          sum.n ? (double)(io1.wchar - io0.wchar) / 1024.0 / (double)sum.n : 0, "KiB");
    }
    R("server.cpu", cpu, "cores");
    /* CPU per request hardly depends on what else runs: the figure to compare servers by */
    R("server.cpu_per_request", sum.n ? cpu * secs * 1e6 / (double)sum.n : 0, "us");
#undef R
    bs_tasks_print(server, &tk0, &tk1, secs);
    machine_print(tag, &ms0, &ms1, secs, 0, NULL);
    for (int i = 0; i < n; i++) {
        bs_lat_free(&rd[i].lat);
        bs_lat_free(&rd[i].days);
        for (int k = 0; k < 3; k++)
            bs_lat_free(&rd[i].by_days[k]);
        pc_client *c = rd[i].c;
        memset(&rd[i], 0, sizeof rd[i]);
        rd[i].c = c;
        rd[i].idx = i;
    }
    bs_lat_free(&all);
    bs_lat_free(&days);
    for (int k = 0; k < 3; k++)
        bs_lat_free(&by_days[k]);
}

/* ---- bookings by receptionist desks ---- */

enum { C_OUTSIDE, C_SLOT_FULL, C_PATIENT_BUSY, C_ROOM_BUSY, NCONFLICT };
static const char *const conflict_names[NCONFLICT] = {"outside_availability", "slot_full",
                                                      "patient_busy", "room_busy"};

/* A desk books its provider's free slots, day after day from a date well past the
 * booked weeks; when several desks share a provider they take turns by day. */
typedef struct desk {
    pthread_t th;
    pc_client *c;
    int idx, prov, lane, nlanes;
    char first_day[11], date[11];
    int block;
    time_t t;
    uint32_t pat_lo, pat_n, pat_i;
    bs_rng r;
    pthread_barrier_t *go;
    uint64_t win0, win1;
    bs_lat lat;
    uint64_t in_window, conflicts[NCONFLICT], errors, attempts;
    char first_error[200], first_conflict[200];
} desk;

static void desk_next_slot(desk *d, time_t *start, int *v)
{
    for (;;) {
        unsigned bs[2], be[2];
        int nb = pm_date_diff(d->first_day, d->date) % d->nlanes == d->lane
                     ? model_blocks(d->prov, d->date, bs, be)
                     : 0;
        span ex[16];
        size_t nx =
            nb ? day_exceptions(d->prov, local_at(d->date, 0), local_at(d->date, 24 * 60), ex, 16)
               : 0;
        for (; d->block < nb; d->block++, d->t = 0) {
            time_t end = local_at(d->date, be[d->block]);
            if (!d->t)
                d->t = local_at(d->date, bs[d->block]);
            while (d->t < end) {
                int vt = pick_vt(&d->r, d->prov);
                time_t dur = (time_t)vtypes[vt].minutes * 60;
                if (d->t + dur > end) {
                    vt = 0;
                    dur = (time_t)vtypes[0].minutes * 60;
                    if (d->t + dur > end)
                        break;
                }
                if (overlaps(ex, nx, d->t, d->t + dur)) {
                    d->t += 15 * 60;
                    continue;
                }
                *start = d->t;
                *v = vt;
                d->t += dur;
                return;
            }
        }
        pm_date_add(d->date, 1, d->date);
        d->block = 0;
        d->t = 0;
    }
}

static void *desk_main(void *arg)
{
    desk *d = arg;
    pthread_barrier_wait(d->go);
    for (;;) {
        pm_arena a;
        pm_arena_init(&a, 0);
        time_t start;
        int v;
        desk_next_slot(d, &start, &v);
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_BOOK), *resp = NULL;
        Pm__Book *b = pm_msg_new(&a, &pm__book__descriptor);
        b->patient_mrn = mrns[d->pat_lo + d->pat_i++ % d->pat_n];
        b->provider = prov_id[d->prov];
        b->visit_type = (char *)vtypes[v].id;
        b->start = start;
        e->book = b;
        uint64_t t0 = bs_now_us();
        int rc = pc_call(d->c, e, &a, &resp);
        uint64_t t1 = bs_now_us();
        int in = t1 >= d->win0 && t1 < d->win1;
        d->attempts += in;
        int c = rc == PM_E_OUTSIDE_AVAILABILITY ? C_OUTSIDE
                : rc == PM_E_SLOT_FULL          ? C_SLOT_FULL
                : rc == PM_E_PATIENT_BUSY       ? C_PATIENT_BUSY
                : rc == PM_E_ROOM_BUSY          ? C_ROOM_BUSY
                                                : -1;
        if (rc == PM_OK) {
            if (in) {
                d->in_window++;
                bs_lat_add(&d->lat, t1 - t0);
            }
        } else if (c >= 0) {
            d->conflicts[c] += in;
            if (!d->first_conflict[0])
                snprintf(d->first_conflict, sizeof d->first_conflict, "%s", pc_last_error(d->c));
        } else if (!d->errors++) {
            snprintf(d->first_error, sizeof d->first_error, "%s", pc_last_error(d->c));
        }
        pm_arena_free(&a);
        if (t1 >= d->win1)
            break;
    }
    return NULL;
}

/* A receptionist made earlier (bs_desks) logging in again, after a restart. */
static pc_client *login_desk(ts_server *s, const char *name)
{
    pc_client *c = ts_client(s);
    if (!c)
        return NULL;
    pm_arena a;
    pm_arena_init(&a, 0);
    char pw[64];
    snprintf(pw, sizeof pw, "%s-password-1", name);
    int rc = pc_login(c, name, pw, "bench desk", &a, NULL);
    pm_arena_free(&a);
    if (rc != PM_OK) {
        fprintf(stderr, "login %s: %s\n", name, pc_last_error(c));
        pc_free(c);
        return NULL;
    }
    return c;
}

typedef struct book_result {
    double per_s, conflicts_per_s, mean_batch, others_cpu;
} book_result;

/* Restarts the server on the same data with extra arguments, logs the desks in and has
 * them book for warm-up + book-secs; prints the figures under tag. */
static int run_bookings(ts_server *s, desk *dk, const char *tag, const char *extra,
                        const char *perf, book_result *res)
{
    int rc = -1;
    pc_client *mgr = NULL;
    pm_arena a;
    pm_arena_init(&a, 0);
    printf("# --- %d desks booking, server restarted on the same data%s%s ---\n", opt.desks,
           extra ? " with " : "", extra ? extra : "");
    int st = ts_stop(s, SIGTERM);
    if (st != 0)
        printf("# practiced exited with status %d when stopped\n", st);
    if (ts_start(s, extra) != 0 || !(mgr = ts_manager(s))) {
        fprintf(stderr, "cannot restart the server; log %s\n", s->log);
        goto out;
    }
    for (int i = 0; i < opt.desks; i++) {
        char name[32];
        snprintf(name, sizeof name, "desk%02d", i);
        if (!(dk[i].c = login_desk(s, name)))
            goto out;
    }
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)opt.desks + 1);
    uint64_t start = bs_now_us() + 100000;
    uint64_t win0 = start + (uint64_t)(opt.warmup * 1e6);
    uint64_t win1 = win0 + (uint64_t)(opt.book_secs * 1e6);
    char from[11];
    snprintf(from, sizeof from, "%s", dk[0].date);
    for (int i = 0; i < opt.desks; i++) {
        dk[i].go = &go;
        dk[i].win0 = win0;
        dk[i].win1 = win1;
        pthread_create(&dk[i].th, NULL, desk_main, &dk[i]);
    }
    pthread_barrier_wait(&go);
    uint64_t now = bs_now_us();
    if (now < win0)
        bs_sleep_us(win0 - now);
    Pm__Stats *st0 = NULL, *st1 = NULL;
    bs_tasks tk0, tk1;
    bs_io io0, io1;
    int stats_ok = bs_get_stats(mgr, &a, &st0) == PM_OK;
    bs_tasks_read(s->pid, &tk0);
    bs_io_read(s->pid, &io0);
    double scpu0 = bs_cpu_s(s->pid), ccpu0 = bs_cpu_s(getpid());
    machine_snap ms0, ms1;
    machine_read(s->pid, &ms0);
    pid_t pf = bs_perf_start(s->pid, perf);
    uint64_t t_a = bs_now_us();
    now = bs_now_us();
    if (now < win1)
        bs_sleep_us(win1 - now);
    uint64_t t_b = bs_now_us();
    machine_read(s->pid, &ms1);
    bs_perf_stop(pf);
    double scpu1 = bs_cpu_s(s->pid), ccpu1 = bs_cpu_s(getpid());
    bs_tasks_read(s->pid, &tk1);
    bs_io_read(s->pid, &io1);
    stats_ok = stats_ok && bs_get_stats(mgr, &a, &st1) == PM_OK;
    for (int i = 0; i < opt.desks; i++)
        pthread_join(dk[i].th, NULL);
    pthread_barrier_destroy(&go);
    if (!stats_ok)
        goto out;
    double win = (double)(t_b - t_a) / 1e6;
    bs_lat all = {0};
    uint64_t done = 0, errors = 0, attempts = 0, conflicts[NCONFLICT] = {0}, nconf = 0;
    for (int i = 0; i < opt.desks; i++) {
        bs_lat_merge(&all, &dk[i].lat);
        done += dk[i].in_window;
        attempts += dk[i].attempts;
        errors += dk[i].errors;
        for (int k = 0; k < NCONFLICT; k++) {
            conflicts[k] += dk[i].conflicts[k];
            nconf += dk[i].conflicts[k];
        }
        if (dk[i].errors)
            printf("# desk %d: %llu errors, first: %s\n", i, (unsigned long long)dk[i].errors,
                   dk[i].first_error);
        if (dk[i].first_conflict[0])
            printf("# desk %d: first conflict: %s\n", i, dk[i].first_conflict);
        bs_lat_free(&dk[i].lat);
        memset(dk[i].conflicts, 0, sizeof dk[i].conflicts);
        dk[i].in_window = dk[i].errors = dk[i].attempts = 0;
        dk[i].first_error[0] = dk[i].first_conflict[0] = 0;
    }
    bs_lat_sort(&all);
    printf("# booked days from %s to %s (desk 0)\n", from, dk[0].date);
    char m[128];
#define R(name, val, unit)                                                                         \
    do {                                                                                           \
        snprintf(m, sizeof m, "%s.%s", tag, name);                                                 \
        bs_result(m, val, unit);                                                                   \
    } while (0)
    uint64_t commits = st1->commits - st0->commits;
    uint64_t writes = st1->committed_writes - st0->committed_writes;
    res->per_s = (double)done / win;
    res->conflicts_per_s = (double)nconf / win;
    res->mean_batch = commits ? (double)writes / (double)commits : 0;
    R("bookings_per_s", res->per_s, "bookings/s");
    R("attempts_per_s", (double)attempts / win, "requests/s");
    R("conflicts_per_s", res->conflicts_per_s, "requests/s");
    for (int k = 0; k < NCONFLICT; k++)
        if (conflicts[k]) {
            char nm[64];
            snprintf(nm, sizeof nm, "conflicts.%s", conflict_names[k]);
            R(nm, (double)conflicts[k], "requests");
        }
    R("client_errors", (double)errors, "requests");
    R("client_p50", (double)bs_lat_pct(&all, 0.50), "us");
    R("client_p99", (double)bs_lat_pct(&all, 0.99), "us");
    R("client_max", (double)(all.n ? all.v[all.n - 1] : 0), "us");
    R("server.commits_per_s", (double)commits / win, "commits/s");
    R("server.mean_batch", res->mean_batch, "writes/commit");
    R("server.max_batch", (double)st1->max_batch, "writes");
    bs_writer_times(tag, st0, st1, win);
    R("server.cpu", (scpu1 - scpu0) / win, "cores");
    R("server.cpu_per_booking", writes ? (scpu1 - scpu0) * 1e6 / (double)writes : 0, "us");
    R("server.written_per_commit",
      commits ? (double)(io1.wchar - io0.wchar) / 1024.0 / (double)commits : 0, "KiB");
    R("server.written_per_booking",
      writes ? (double)(io1.wchar - io0.wchar) / 1024.0 / (double)writes : 0, "KiB");
    R("server.disk_written_per_booking",
      writes ? (double)(io1.write_bytes - io0.write_bytes) / 1024.0 / (double)writes : 0, "KiB");
    R("bench_client.cpu", (ccpu1 - ccpu0) / win, "cores");
    snprintf(m, sizeof m, "%s.server.book", tag);
    bs_print_op(m, bs_op(st1, "book"));
#undef R
    printf("# (server p50/p99 since the restart, warm-up included; bucket upper edges)\n");
    bs_tasks_print(s->pid, &tk0, &tk1, win);
    res->others_cpu = machine_print(tag, &ms0, &ms1, win, (double)writes, "booking");
    bs_lat_free(&all);
    rc = 0;
out:
    for (int i = 0; i < opt.desks; i++) {
        pc_free(dk[i].c);
        dk[i].c = NULL;
    }
    pc_free(mgr);
    pm_arena_free(&a);
    return rc;
}

/* ---- main ---- */

static int perf_in(const char *phase)
{
    return opt.perf && strcmp(opt.perf_phase, phase) == 0;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"appointments", required_argument, 0, 'n'},
        {"providers", required_argument, 0, 'P'},
        {"patients", required_argument, 0, 'p'},
        {"future-weeks", required_argument, 0, 'f'},
        {"load-conns", required_argument, 0, 'c'},
        {"load-depth", required_argument, 0, 'D'},
        {"slot-searches", required_argument, 0, 's'},
        {"schedules", required_argument, 0, 'S'},
        {"location-schedules", required_argument, 0, 'L'},
        {"read-threads", required_argument, 0, 'r'},
        {"desks", required_argument, 0, 'k'},
        {"book-secs", required_argument, 0, 'b'},
        {"rounds", required_argument, 0, 'o'},
        {"warmup", required_argument, 0, 'w'},
        {"dir", required_argument, 0, 'd'},
        {"serve-args", required_argument, 0, 'A'},
        {"perf", required_argument, 0, 'R'},
        {"perf-phase", required_argument, 0, 'F'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'n':
            opt.appointments = atol(optarg);
            break;
        case 'P':
            opt.providers = atoi(optarg);
            break;
        case 'p':
            opt.patients = atol(optarg);
            break;
        case 'f':
            opt.future_weeks = atoi(optarg);
            break;
        case 'c':
            opt.load_conns = atoi(optarg);
            break;
        case 'D':
            opt.load_depth = atoi(optarg);
            break;
        case 's':
            opt.slot_searches = atol(optarg);
            break;
        case 'S':
            opt.schedules = atol(optarg);
            break;
        case 'L':
            opt.loc_schedules = atol(optarg);
            break;
        case 'r':
            opt.read_threads = atoi(optarg);
            break;
        case 'k':
            opt.desks = atoi(optarg);
            break;
        case 'b':
            opt.book_secs = atof(optarg);
            break;
        case 'o':
            opt.rounds = atoi(optarg);
            break;
        case 'w':
            opt.warmup = atof(optarg);
            break;
        case 'd':
            opt.dir = optarg;
            break;
        case 'A':
            opt.serve_args = optarg;
            break;
        case 'R':
            opt.perf = optarg;
            break;
        case 'F':
            opt.perf_phase = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || opt.appointments < 0 || opt.providers < 2 ||
        opt.providers > MAX_PROVIDERS || opt.patients < opt.providers || opt.future_weeks < 1 ||
        opt.load_conns < 1 || opt.load_depth < 1 || opt.load_depth > 100 || opt.read_threads < 1 ||
        opt.desks < 1 || opt.book_secs <= 0 || opt.rounds < 1 || opt.warmup < 0 ||
        opt.slot_searches < 0 || opt.schedules < 0 || opt.loc_schedules < 0 ||
        (strcmp(opt.perf_phase, "load") && strcmp(opt.perf_phase, "slots") &&
         strcmp(opt.perf_phase, "schedules") && strcmp(opt.perf_phase, "book"))) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pm_tz_use(TZ) != 0) {
        fprintf(stderr, "time zone %s is not installed\n", TZ);
        return 1;
    }
    t_now = time(NULL);
    pm_local_date(t_now, today);
    int y = atoi(today);
    year0 = y - TEMPLATE_YEARS;
    year1 = y + 2;
    snprintf(tpl_from, sizeof tpl_from, "%04u-01-01", (unsigned)year0 % 10000u);
    pm_date_add(today, -730, tpl2_from);
    for (int p = 0; p < opt.providers; p++)
        snprintf(prov_id[p], sizeof prov_id[p], "dr-%02d", p + 1);
    make_exceptions();

    printf("# bench_schedule: server %s\n", ts_practiced());
    bs_print_machine(opt.dir);
    bs_raise_nofile(4096);
    find_disk(opt.dir);

    ts_server s;
    pc_client *mgr = NULL, **desks = NULL;
    reader *rd = NULL;
    desk *dk = NULL;
    int rc = 1, ndesks = opt.desks > opt.read_threads ? opt.desks : opt.read_threads;
    double secs;
    pl_sum sum;
    pm_arena a;
    pm_arena_init(&a, 0);
    mrns = calloc((size_t)opt.patients, sizeof *mrns);
    if (!mrns || bs_server_start(&s, opt.dir, NULL) != 0 || !(mgr = ts_manager(&s)))
        goto out;
    uint8_t token[32];
    memcpy(token, pc_token(mgr), 32);

    /* ---- set-up and patients ---- */
    printf("# --- set-up (practice zone %s, today %s) ---\n", TZ, today);
    if (setup_practice(&s, token) != 0)
        goto out;
    printf("# --- %ld patients, %d connections with %d requests in flight ---\n", opt.patients,
           opt.load_conns, opt.load_depth);
    {
        static const pipeline pp = {patient_next, patient_answer, 0};
        pipeline pl = pp;
        pl.depth = opt.load_depth;
        pl_worker *w = pl_run(&s, token, &pl, opt.load_conns, "patients", &secs);
        pl_finish(w, opt.load_conns, "patients", &sum);
        bs_result("patients.created", (double)sum.ok[0], "patients");
        bs_result("patients.creates_per_s", (double)sum.ok[0] / secs, "creates/s");
        if (!w || sum.ok[0] != (uint64_t)opt.patients) {
            fprintf(stderr, "not every patient was created\n");
            goto out;
        }
    }

    /* ---- the history ---- */
    make_plan();
    long cancels = 0, no_shows = 0;
    for (size_t i = 0; i < nplan; i++) {
        cancels += plan[i].fate == FATE_CANCEL;
        no_shows += plan[i].fate == FATE_NO_SHOW;
    }
    printf("# --- history: %ld appointments from %s to yesterday (%d days, %.1f years), then "
           "%ld in the coming %d weeks (about 97%%, 90%%, 75%%, 50%% full); %ld to cancel, "
           "%ld no-shows to mark; %d connections with %d requests in flight, as managers ---\n",
           history_planned, history_from, history_days, history_days / 365.25, future_planned,
           opt.future_weeks, cancels, no_shows, opt.load_conns, opt.load_depth);
    {
        static const pipeline pp = {appt_next, appt_answer, 0};
        pipeline pl = pp;
        pl.depth = opt.load_depth;
        Pm__Stats *st0, *st1;
        if (bs_get_stats(mgr, &a, &st0) != PM_OK)
            goto out;
        bs_io io0, io1;
        bs_io_read(s.pid, &io0);
        double c0 = bs_cpu_s(s.pid);
        machine_snap ms0, ms1;
        machine_read(s.pid, &ms0);
        pid_t pf = perf_in("load") ? bs_perf_start(s.pid, opt.perf) : 0;
        pl_worker *w = pl_run(&s, token, &pl, opt.load_conns, "history", &secs);
        bs_perf_stop(pf);
        machine_read(s.pid, &ms1);
        double cpu = (bs_cpu_s(s.pid) - c0) / secs;
        bs_io_read(s.pid, &io1);
        pl_finish(w, opt.load_conns, "history", &sum);
        if (!w || bs_get_stats(mgr, &a, &st1) != PM_OK)
            goto out;
        uint64_t commits = st1->commits - st0->commits;
        uint64_t writes = st1->committed_writes - st0->committed_writes;
        bs_result("history.booked", (double)sum.ok[0], "appointments");
        bs_result("history.planned_past", (double)history_planned, "appointments");
        bs_result("history.planned_coming_weeks", (double)future_planned, "appointments");
        bs_result("history.cancelled", (double)sum.ok[FATE_CANCEL], "appointments");
        bs_result("history.no_shows", (double)sum.ok[FATE_NO_SHOW], "appointments");
        bs_result("history.refused", (double)sum.failed, "requests");
        for (int k = 1; k <= PM_WIRE_ERR_MAX; k++)
            if (sum.by_code[k])
                printf("#   refused %s: %llu\n", pm_err_name(-k),
                       (unsigned long long)sum.by_code[k]);
        bs_result("history.secs", secs, "s");
        bs_result("history.bookings_per_s", (double)sum.ok[0] / secs, "bookings/s");
        bs_result("history.writes_per_s", (double)writes / secs, "writes/s");
        bs_result("history.server.mean_batch", commits ? (double)writes / (double)commits : 0,
                  "writes/commit");
        bs_result("history.server.cpu", cpu, "cores");
        bs_result("history.server.cpu_per_write", writes ? cpu * secs * 1e6 / (double)writes : 0,
                  "us");
        bs_result("history.server.written_per_write",
                  writes ? (double)(io1.wchar - io0.wchar) / 1024.0 / (double)writes : 0, "KiB");
        machine_print("history", &ms0, &ms1, secs, (double)writes, "write");
        bs_print_op("history.server.book", bs_op(st1, "book"));
        bs_result("history.server.rss", (double)st1->rss_bytes / 1048576.0, "MiB");
        if (sum.broken || sum.ok[0] == 0) {
            fprintf(stderr, "the load did not finish\n");
            goto out;
        }
        bs_print_db_stats(&s, "appointment", (double)sum.ok[0]);
    }

    /* ---- reads ---- */
    if (!(desks = bs_desks(&s, mgr, "desk", ndesks)))
        goto out;
    rd = calloc((size_t)opt.read_threads, sizeof *rd);
    for (int i = 0; i < opt.read_threads; i++) {
        rd[i].c = desks[i];
        rd[i].idx = i;
    }
    Pm__Stats *st;
    const Pm__OpStat *fs = NULL, *gs = NULL;
    if (opt.slot_searches) {
        printf("# --- %ld FindSlots: one visit type, every provider, next 10, from a day of the "
               "coming %d weeks; %d desks ---\n",
               opt.slot_searches, opt.future_weeks, opt.read_threads);
        pid_t pf = perf_in("slots") ? bs_perf_start(s.pid, opt.perf) : 0;
        run_reads(s.pid, rd, opt.read_threads, Q_SLOTS, opt.slot_searches, "slots");
        bs_perf_stop(pf);
        if (bs_get_stats(mgr, &a, &st) != PM_OK)
            goto out;
        fs = bs_op(st, "find_slots");
        bs_print_op("slots.server.find_slots", fs);
    }
    if (opt.schedules) {
        printf("# --- %ld GetSchedule: one provider, one day; %d desks ---\n", opt.schedules,
               opt.read_threads);
        Pm__Stats *st0;
        if (bs_get_stats(mgr, &a, &st0) != PM_OK)
            goto out;
        pid_t pf = perf_in("schedules") ? bs_perf_start(s.pid, opt.perf) : 0;
        run_reads(s.pid, rd, opt.read_threads, Q_SCHEDULE, opt.schedules, "schedule");
        bs_perf_stop(pf);
        if (bs_get_stats(mgr, &a, &st) != PM_OK)
            goto out;
        gs = bs_op(st, "get_schedule");
        bs_print_op("schedule.server.get_schedule", gs);
        bs_result("schedule.server.mean_batch",
                  st->commits > st0->commits
                      ? (double)(st->committed_writes - st0->committed_writes) /
                            (double)(st->commits - st0->commits)
                      : 0,
                  "audits/commit");
    }
    if (opt.loc_schedules) {
        printf("# --- %ld GetSchedule: one location, one day; %d desks ---\n", opt.loc_schedules,
               opt.read_threads);
        run_reads(s.pid, rd, opt.read_threads, Q_LOC_SCHEDULE, opt.loc_schedules,
                  "location_schedule");
    }
    bs_desks_free(desks, ndesks);
    desks = NULL;
    pc_free(mgr);
    mgr = NULL;

    /* ---- bookings: group commit, then one commit per booking ---- */
    dk = calloc((size_t)opt.desks, sizeof *dk);
    char first_day[11];
    pm_date_add(today, 7 * (opt.future_weeks + 6), first_day);
    for (int i = 0; i < opt.desks; i++) {
        desk *d = &dk[i];
        d->idx = i;
        d->prov = i % opt.providers;
        d->lane = i / opt.providers;
        d->nlanes = opt.desks / opt.providers + (d->prov < opt.desks % opt.providers);
        snprintf(d->first_day, sizeof d->first_day, "%s", first_day);
        snprintf(d->date, sizeof d->date, "%s", first_day);
        long p_lo = opt.patients * d->prov / opt.providers;
        long p_hi = opt.patients * (d->prov + 1) / opt.providers;
        long per = (p_hi - p_lo) / d->nlanes;
        d->pat_lo = (uint32_t)(p_lo + per * d->lane);
        d->pat_n = (uint32_t)(per > 0 ? per : 1);
        bs_rng_seed(&d->r, 90000 + (uint64_t)i);
    }
    book_result gc[16], one[16];
    double gc_sum = 0, one_sum = 0;
    if (opt.rounds > 16)
        opt.rounds = 16;
    for (int k = 0; k < opt.rounds; k++) {
        char tag[64];
        snprintf(tag, sizeof tag,
                 opt.rounds > 1 ? "book.group_commit.round%d" : "book.group_commit", k + 1);
        if (run_bookings(&s, dk, tag, opt.serve_args, k == 0 && perf_in("book") ? opt.perf : NULL,
                         &gc[k]) != 0)
            goto out;
        snprintf(tag, sizeof tag,
                 opt.rounds > 1 ? "book.one_commit_per_booking.round%d"
                                : "book.one_commit_per_booking",
                 k + 1);
        if (run_bookings(&s, dk, tag, "--max-batch 1", NULL, &one[k]) != 0)
            goto out;
        gc_sum += gc[k].per_s;
        one_sum += one[k].per_s;
    }
    double gc_mean = gc_sum / opt.rounds, one_mean = one_sum / opt.rounds;
    double ratio = one_mean > 0 ? gc_mean / one_mean : 0;
    printf("# --- side by side (same data, same %d desks, alternating runs) ---\n", opt.desks);
    printf("#   %-47s %11s %12s %14s %14s\n", "", "bookings/s", "conflicts/s", "writes/commit",
           "others' cores");
    for (int k = 0; k < opt.rounds; k++) {
        char name[64];
        snprintf(name, sizeof name, "group commit, run %d", k + 1);
        printf("#   %-47s %11.0f %12.1f %14.1f %14.2f\n", name, gc[k].per_s, gc[k].conflicts_per_s,
               gc[k].mean_batch, gc[k].others_cpu);
        snprintf(name, sizeof name, "one commit per booking (--max-batch 1), run %d", k + 1);
        printf("#   %-47s %11.0f %12.1f %14.1f %14.2f\n", name, one[k].per_s,
               one[k].conflicts_per_s, one[k].mean_batch, one[k].others_cpu);
    }
    if (opt.rounds > 1) {
        bs_result("book.group_commit.bookings_per_s", gc_mean, "bookings/s");
        bs_result("book.one_commit_per_booking.bookings_per_s", one_mean, "bookings/s");
    }
    bs_result("ratio.book.group_commit_over_one_commit_per_booking", ratio, "x");

    if (fs)
        bs_verdict("find_slots handler p99 < 2 ms", fs->handler_p99_us < TARGET_SLOTS_P99_US,
                   "handler p99 %llu us (p50 %llu us), whole request p99 %llu us",
                   (unsigned long long)fs->handler_p99_us, (unsigned long long)fs->handler_p50_us,
                   (unsigned long long)fs->p99_us);
    if (gs)
        bs_verdict("get_schedule handler p99 < 1 ms", gs->handler_p99_us < TARGET_SCHEDULE_P99_US,
                   "handler p99 %llu us (p50 %llu us); whole request with its durable audit "
                   "entry p99 %llu us",
                   (unsigned long long)gs->handler_p99_us, (unsigned long long)gs->handler_p50_us,
                   (unsigned long long)gs->p99_us);
    bs_verdict("bookings/s with group commit >= 5x one commit per booking",
               ratio >= TARGET_BOOK_RATIO, "%.2fx: %.0f bookings/s vs %.0f bookings/s%s", ratio,
               gc_mean, one_mean, opt.rounds > 1 ? ", means of the runs" : "");
    bs_print_load("after");
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench_schedule failed; server log: %s\n", s.log);
    if (rd)
        for (int i = 0; i < opt.read_threads; i++) {
            bs_lat_free(&rd[i].lat);
            bs_lat_free(&rd[i].days);
            for (int k = 0; k < 3; k++)
                bs_lat_free(&rd[i].by_days[k]);
        }
    free(rd);
    if (dk)
        for (int i = 0; i < opt.desks; i++) {
            bs_lat_free(&dk[i].lat);
            pc_free(dk[i].c);
        }
    free(dk);
    bs_desks_free(desks, desks ? ndesks : 0);
    pc_free(mgr);
    pm_arena_free(&a);
    bs_server_finish(&s);
    free(plan);
    free(mrns);
    for (int p = 0; p < opt.providers; p++)
        free(exc[p]);
    return rc;
}
