/* bench_search: patient search on a practice of realistic size.
 *
 * Loads N patients (default 100,000) with varied names (accents, hyphens, particles), dates
 * of birth and phones as fast as a few dozen desks can create them, then runs name-prefix
 * searches the way a front desk types them: 1 to 4 letters of a real last name ("gar"), and
 * sometimes a first name and the start of a last name ("john smi"); then a few searches by
 * date of birth and by phone. Reports the server's own figures for search_patients (the
 * handler: the lookup on the loop thread; the whole request: also the durable audit entry
 * each patient read gets) and the client round trip.
 * Target: search_patients handler p99 under 1 ms. */
#include "bench_common.h"

#include "pm_err.h"
#include "pm_util.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TARGET_HANDLER_P99_US 1000
#define SAMPLE_EVERY          16

static struct {
    long patients, searches, dob_searches, phone_searches;
    int load_threads, search_threads, two_word_pct;
    unsigned limit;
    const char *dir, *perf;
} opt = {100000, 20000, 500, 500, 32, 4, 30, 0, "/tmp", NULL};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_search [options]\n\n"
            "Loads patients into a fresh practiced, then times name-prefix, date-of-birth\n"
            "and phone searches.\n\n"
            "  --patients N        patients to load (default %ld)\n"
            "  --load-threads N    desks creating them at once (default %d)\n"
            "  --searches N        name searches (default %ld)\n"
            "  --search-threads N  desks searching at once (default %d)\n"
            "  --two-words PCT     share of name searches that are \"first last-prefix\"\n"
            "                      (default %d; the rest are last-name prefixes)\n"
            "  --dob-searches N    searches by date of birth (default %ld)\n"
            "  --phone-searches N  searches by the last digits of a phone (default %ld)\n"
            "  --limit N           results per search (default: the server's, 50)\n"
            "  --dir DIR           where the data directory goes (default %s)\n"
            "  --perf FILE         perf record the server during the name searches\n"
            "  --help\n\n"
            "Target: search_patients handler p99 < %d us (server-side, GetStats).\n",
            opt.patients, opt.load_threads, opt.searches, opt.search_threads, opt.two_word_pct,
            opt.dob_searches, opt.phone_searches, opt.dir, TARGET_HANDLER_P99_US);
}

/* What the searches look for: a sample of the patients loaded. */
typedef struct sample {
    char dob[11];
    char phone_digits[20];
} sample;

typedef struct worker {
    pthread_t th;
    pc_client *c;
    int idx;
    /* load */
    long todo;
    sample *samples;
    size_t nsamples, capsamples;
    /* search */
    int kind;
    bs_lat lat;
    uint64_t results, zero_hits, errors, searches;
    char first_error[200];
} worker;

static atomic_long loaded, next_query;
static atomic_int loaders_done;
static long phase_total;
static const sample *all_samples;
static size_t n_all_samples;

enum { Q_PREFIX, Q_TWO_WORDS, Q_DOB, Q_PHONE };

static void *load_main(void *arg)
{
    worker *w = arg;
    bs_rng r;
    bs_rng_seed(&r, 7000 + (uint64_t)w->idx);
    for (long i = 0; i < w->todo; i++) {
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Patient *p = bs_make_patient(&r, &a);
        uint64_t t0 = bs_now_us();
        int rc = bs_create_patient(w->c, &a, p);
        uint64_t t1 = bs_now_us();
        if (rc == PM_OK) {
            bs_lat_add(&w->lat, t1 - t0);
            atomic_fetch_add(&loaded, 1);
            if (i % SAMPLE_EVERY == 0) {
                if (w->nsamples == w->capsamples) {
                    size_t cap = w->capsamples ? w->capsamples * 2 : 256;
                    sample *g = realloc(w->samples, cap * sizeof *g);
                    if (g) {
                        w->samples = g;
                        w->capsamples = cap;
                    }
                }
                if (w->nsamples < w->capsamples) {
                    sample *s = &w->samples[w->nsamples++];
                    snprintf(s->dob, sizeof s->dob, "%s", p->date_of_birth);
                    pm_digits(p->phones[0]->number, s->phone_digits, sizeof s->phone_digits);
                }
            }
        } else if (!w->errors++) {
            snprintf(w->first_error, sizeof w->first_error, "%s", pc_last_error(w->c));
        }
        pm_arena_free(&a);
    }
    atomic_fetch_add(&loaders_done, 1);
    return NULL;
}

/* A query the way a desk types it. */
static void make_query(bs_rng *r, int kind, Pm__SearchPatients *q, pm_arena *a)
{
    const char *last = bs_last_names[bs_randn(r, (uint32_t)bs_n_last_names)];
    char pre[64];
    switch (kind) {
    case Q_PREFIX:
        bs_utf8_prefix(last, 1 + bs_randn(r, 4), pre, sizeof pre);
        q->name = pm_arena_strdup(a, pre);
        break;
    case Q_TWO_WORDS:
        bs_utf8_prefix(last, 2 + bs_randn(r, 3), pre, sizeof pre);
        q->name = pm_arena_printf(a, "%s %s",
                                  bs_first_names[bs_randn(r, (uint32_t)bs_n_first_names)], pre);
        break;
    case Q_DOB:
        q->date_of_birth =
            pm_arena_strdup(a, all_samples[bs_randn(r, (uint32_t)n_all_samples)].dob);
        break;
    case Q_PHONE: {
        const char *d = all_samples[bs_randn(r, (uint32_t)n_all_samples)].phone_digits;
        size_t n = strlen(d), k = 4 + bs_randn(r, 4);
        q->phone = pm_arena_strdup(a, d + (n > k ? n - k : 0));
        break;
    }
    }
    q->limit = opt.limit;
}

static void *search_main(void *arg)
{
    worker *w = arg;
    bs_rng r;
    bs_rng_seed(&r, 9000 + (uint64_t)w->idx * 31 + (uint64_t)w->kind);
    while (atomic_fetch_add(&next_query, 1) < phase_total) {
        pm_arena a;
        pm_arena_init(&a, 0);
        int kind = w->kind;
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_SEARCH_PATIENTS), *resp = NULL;
        Pm__SearchPatients *q = pm_msg_new(&a, &pm__search_patients__descriptor);
        make_query(&r, kind, q, &a);
        e->search_patients = q;
        uint64_t t0 = bs_now_us();
        int rc = pc_call(w->c, e, &a, &resp);
        uint64_t t1 = bs_now_us();
        w->searches++;
        if (rc == PM_OK && resp->body_case == PM__ENVELOPE__BODY_PATIENT_LIST) {
            bs_lat_add(&w->lat, t1 - t0);
            w->results += resp->patient_list->n_patients;
            w->zero_hits += resp->patient_list->n_patients == 0;
        } else if (!w->errors++) {
            snprintf(w->first_error, sizeof w->first_error,
                     "%s (query name=\"%s\" dob=%s phone=%s)",
                     rc == PM_OK ? "unexpected answer" : pc_last_error(w->c), q->name,
                     q->date_of_birth, q->phone);
        }
        pm_arena_free(&a);
    }
    return NULL;
}

typedef struct phase_out {
    double secs, server_cpu;
    bs_tasks tk0, tk1;
} phase_out;

/* Runs one phase of searches of one kind on every search desk. */
static void run_search_phase(pid_t server, worker *w, int n, int kind, long count, const char *tag,
                             phase_out *po)
{
    atomic_store(&next_query, 0);
    phase_total = count;
    bs_tasks_read(server, &po->tk0);
    bs_io io0, io1;
    bs_io_read(server, &io0);
    double c0 = bs_cpu_s(server);
    uint64_t t0 = bs_now_us();
    for (int i = 0; i < n; i++) {
        w[i].kind = kind;
        bs_lat_free(&w[i].lat);
        w[i].results = w[i].zero_hits = w[i].errors = w[i].searches = 0;
        pthread_create(&w[i].th, NULL, search_main, &w[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(w[i].th, NULL);
    po->secs = (double)(bs_now_us() - t0) / 1e6;
    po->server_cpu = (bs_cpu_s(server) - c0) / po->secs;
    bs_tasks_read(server, &po->tk1);
    bs_io_read(server, &io1);
    bs_lat all = {0};
    uint64_t results = 0, zero = 0, errors = 0, searches = 0;
    for (int i = 0; i < n; i++) {
        bs_lat_merge(&all, &w[i].lat);
        results += w[i].results;
        zero += w[i].zero_hits;
        errors += w[i].errors;
        searches += w[i].searches;
        if (w[i].errors)
            printf("# search desk %d: %llu errors, first: %s\n", i, (unsigned long long)w[i].errors,
                   w[i].first_error);
    }
    bs_lat_sort(&all);
    char m[96];
#define R(name, val, unit)                                                                         \
    do {                                                                                           \
        snprintf(m, sizeof m, "%s.%s", tag, name);                                                 \
        bs_result(m, val, unit);                                                                   \
    } while (0)
    R("searches", (double)searches, "searches");
    R("searches_per_s", (double)searches / po->secs, "searches/s");
    R("client_p50", (double)bs_lat_pct(&all, 0.50), "us");
    R("client_p99", (double)bs_lat_pct(&all, 0.99), "us");
    R("client_errors", (double)errors, "searches");
    R("mean_results", all.n ? (double)results / (double)all.n : 0, "patients");
    R("zero_result_searches", (double)zero, "searches");
    R("server.cpu", po->server_cpu, "cores");
    R("server.written_per_search",
      searches ? (double)(io1.wchar - io0.wchar) / 1024.0 / (double)searches : 0, "KiB");
#undef R
    bs_tasks_print(server, &po->tk0, &po->tk1, po->secs);
    bs_lat_free(&all);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"patients", required_argument, 0, 'n'},
        {"load-threads", required_argument, 0, 'L'},
        {"searches", required_argument, 0, 's'},
        {"search-threads", required_argument, 0, 'S'},
        {"two-words", required_argument, 0, 'T'},
        {"dob-searches", required_argument, 0, 'D'},
        {"phone-searches", required_argument, 0, 'P'},
        {"limit", required_argument, 0, 'l'},
        {"dir", required_argument, 0, 'd'},
        {"perf", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'n':
            opt.patients = atol(optarg);
            break;
        case 'L':
            opt.load_threads = atoi(optarg);
            break;
        case 's':
            opt.searches = atol(optarg);
            break;
        case 'S':
            opt.search_threads = atoi(optarg);
            break;
        case 'T':
            opt.two_word_pct = atoi(optarg);
            break;
        case 'D':
            opt.dob_searches = atol(optarg);
            break;
        case 'P':
            opt.phone_searches = atol(optarg);
            break;
        case 'l':
            opt.limit = (unsigned)atoi(optarg);
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
    if (optind < argc || opt.patients < 1 || opt.load_threads < 1 || opt.search_threads < 1 ||
        opt.searches < 0 || opt.two_word_pct < 0 || opt.two_word_pct > 100) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("# bench_search: server %s\n", ts_practiced());
    bs_print_machine(opt.dir);
    bs_raise_nofile(4096);

    ts_server s;
    pc_client *mgr = NULL, **loaders = NULL, **searchers = NULL;
    worker *lw = NULL, *sw = NULL;
    int rc = 1;
    pm_arena a;
    pm_arena_init(&a, 0);
    if (bs_server_start(&s, opt.dir, NULL) != 0)
        goto out;
    if (!(mgr = ts_manager(&s)) || !(loaders = bs_desks(&s, mgr, "load", opt.load_threads)) ||
        !(searchers = bs_desks(&s, mgr, "desk", opt.search_threads)))
        goto out;

    /* ---- load ---- */
    printf("# --- loading %ld patients with %d desks ---\n", opt.patients, opt.load_threads);
    lw = calloc((size_t)opt.load_threads, sizeof *lw);
    Pm__Stats *st0, *st1, *st2, *st3;
    if (bs_get_stats(mgr, &a, &st0) != PM_OK)
        goto out;
    double c0 = bs_cpu_s(s.pid);
    uint64_t t0 = bs_now_us();
    for (int i = 0; i < opt.load_threads; i++) {
        lw[i].c = loaders[i];
        lw[i].idx = i;
        lw[i].todo = opt.patients / opt.load_threads + (i < opt.patients % opt.load_threads);
        pthread_create(&lw[i].th, NULL, load_main, &lw[i]);
    }
    long last_n = 0;
    uint64_t last_t = t0;
    while (atomic_load(&loaded) < opt.patients) {
        bs_sleep_us(250000);
        int alive = atomic_load(&loaders_done) < opt.load_threads;
        uint64_t now = bs_now_us();
        long n = atomic_load(&loaded);
        if (now - last_t >= 5000000 || !alive) {
            printf("# load: %ld patients after %.0f s, %.0f/s over the last %.1f s\n", n,
                   (double)(now - t0) / 1e6, (double)(n - last_n) * 1e6 / (double)(now - last_t),
                   (double)(now - last_t) / 1e6);
            last_n = n;
            last_t = now;
        }
        if (!alive)
            break;
    }
    for (int i = 0; i < opt.load_threads; i++)
        pthread_join(lw[i].th, NULL);
    double load_s = (double)(bs_now_us() - t0) / 1e6;
    double load_cpu = (bs_cpu_s(s.pid) - c0) / load_s;
    if (bs_get_stats(mgr, &a, &st1) != PM_OK)
        goto out;
    {
        bs_lat all = {0};
        uint64_t errors = 0;
        size_t ns = 0;
        for (int i = 0; i < opt.load_threads; i++) {
            bs_lat_merge(&all, &lw[i].lat);
            errors += lw[i].errors;
            ns += lw[i].nsamples;
            if (lw[i].errors)
                printf("# load desk %d: %llu errors, first: %s\n", i,
                       (unsigned long long)lw[i].errors, lw[i].first_error);
        }
        sample *samples = malloc((ns ? ns : 1) * sizeof *samples);
        ns = 0;
        for (int i = 0; i < opt.load_threads; i++) {
            memcpy(samples + ns, lw[i].samples, lw[i].nsamples * sizeof *samples);
            ns += lw[i].nsamples;
        }
        all_samples = samples;
        n_all_samples = ns;
        bs_lat_sort(&all);
        uint64_t commits = st1->commits - st0->commits;
        uint64_t writes = st1->committed_writes - st0->committed_writes;
        bs_result("load.patients", (double)all.n, "patients");
        bs_result("load.errors", (double)errors, "requests");
        bs_result("load.secs", load_s, "s");
        bs_result("load.creates_per_s", (double)all.n / load_s, "creates/s");
        bs_result("load.client_p50", (double)bs_lat_pct(&all, 0.50), "us");
        bs_result("load.client_p99", (double)bs_lat_pct(&all, 0.99), "us");
        bs_result("load.server.mean_batch", commits ? (double)writes / (double)commits : 0,
                  "writes/commit");
        bs_result("load.server.cpu", load_cpu, "cores");
        bs_print_op("load.server.create_patient", bs_op(st1, "create_patient"));
        bs_result("load.server.rss", (double)st1->rss_bytes / 1048576.0, "MiB");
        bs_result("load.server.map_size", (double)st1->map_size / 1048576.0, "MiB");
        double n_loaded = (double)all.n;
        bs_lat_free(&all);
        bs_print_db_stats(&s, "patient", n_loaded);
        if (!n_all_samples) {
            fprintf(stderr, "no patients loaded\n");
            goto out;
        }
    }

    /* ---- searches ---- */
    sw = calloc((size_t)opt.search_threads, sizeof *sw);
    for (int i = 0; i < opt.search_threads; i++) {
        sw[i].c = searchers[i];
        sw[i].idx = i;
    }
    phase_out po;
    long n_two = opt.searches * opt.two_word_pct / 100, n_prefix = opt.searches - n_two;
    printf("# --- %ld name searches by 1-4 letter last-name prefixes, %d desks ---\n", n_prefix,
           opt.search_threads);
    pid_t pf = bs_perf_start(s.pid, opt.perf);
    run_search_phase(s.pid, sw, opt.search_threads, Q_PREFIX, n_prefix, "search.prefix", &po);
    if (bs_get_stats(mgr, &a, &st2) != PM_OK)
        goto out;
    bs_print_op("search.prefix.server.search_patients", bs_op(st2, "search_patients"));
    printf("# --- %ld name searches \"first-name last-prefix\" (\"john smi\"), %d desks ---\n",
           n_two, opt.search_threads);
    run_search_phase(s.pid, sw, opt.search_threads, Q_TWO_WORDS, n_two, "search.two_words", &po);
    bs_perf_stop(pf);
    if (bs_get_stats(mgr, &a, &st3) != PM_OK)
        goto out;
    printf("# server-side figures for every name search so far (%d%% prefixes, %d%% two words):\n",
           100 - opt.two_word_pct, opt.two_word_pct);
    const Pm__OpStat *sp = bs_op(st3, "search_patients");
    bs_print_op("search.names.server.search_patients", sp);
    bs_result("search.names.server.mean_batch",
              st3->commits > st2->commits
                  ? (double)(st3->committed_writes - st2->committed_writes) /
                        (double)(st3->commits - st2->commits)
                  : 0,
              "audits/commit");

    printf("# --- %ld searches by date of birth ---\n", opt.dob_searches);
    if (opt.dob_searches)
        run_search_phase(s.pid, sw, opt.search_threads, Q_DOB, opt.dob_searches, "search.dob", &po);
    printf("# --- %ld searches by the last 4-7 digits of a phone ---\n", opt.phone_searches);
    if (opt.phone_searches)
        run_search_phase(s.pid, sw, opt.search_threads, Q_PHONE, opt.phone_searches, "search.phone",
                         &po);
    Pm__Stats *st4;
    if (bs_get_stats(mgr, &a, &st4) != PM_OK)
        goto out;
    printf("# server-side figures for every search (names, dates of birth, phones):\n");
    bs_print_op("search.all.server.search_patients", bs_op(st4, "search_patients"));
    bs_result("search.all.server.rss", (double)st4->rss_bytes / 1048576.0, "MiB");
    bs_print_db_stats(&s, NULL, 0);

    if (sp)
        bs_verdict("search_patients handler p99 < 1 ms", sp->handler_p99_us < TARGET_HANDLER_P99_US,
                   "name searches: handler p99 %llu us, whole request p99 %llu us",
                   (unsigned long long)sp->handler_p99_us, (unsigned long long)sp->p99_us);
    bs_print_load("after");
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench_search failed; server log: %s\n", s.log);
    if (lw)
        for (int i = 0; i < opt.load_threads; i++) {
            bs_lat_free(&lw[i].lat);
            free(lw[i].samples);
        }
    if (sw)
        for (int i = 0; i < opt.search_threads; i++)
            bs_lat_free(&sw[i].lat);
    free(lw);
    free(sw);
    free((void *)all_samples);
    bs_desks_free(loaders, loaders ? opt.load_threads : 0);
    bs_desks_free(searchers, searchers ? opt.search_threads : 0);
    pc_free(mgr);
    pm_arena_free(&a);
    bs_server_finish(&s);
    return rc;
}
