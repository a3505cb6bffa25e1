/* bench_fanout: the waiting-room board pushed to many screens, and a subscriber catching up.
 *
 * 1. fan-out: one display device logs in once; --subs (1000) TLS connections resume its
 *    session (pc_set_token) and subscribe to board/main, held by --threads client threads
 *    that each wait on all their connections with one epoll set. A receptionist then checks
 *    patients in one at a time (--checkins, 200, after a few unmeasured), the longest-waiting
 *    one leaving first once --max-waiting (20) wait: for each check-in, the time
 *    from sending the FlowStep to the BoardChanged event reaching the last of the
 *    subscribers (CLOCK_MONOTONIC, one machine), and to the first. Server RSS before and
 *    with the subscribers, and its CPU per check-in.
 * 2. catch-up: --backlog (10,000) events on one topic, then a subscriber from the seq
 *    before them: the time until it has all of them, while a control client pings. Twice:
 *    board events (a check-in and its undo, over and over, at a small location: the board
 *    topic the screens use) and patient events (created by 8 desks).
 *
 * Targets: check-in to the last of 1,000 subscribers p99 < 20 ms; server RSS with 1,000
 * subscribers < 100 MiB; 10,000 events behind caught up in < 1 s. */
#include "bench_common.h"
#include "sched_help.h"

#include "pm_err.h"

#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define TARGET_P99_MS     20.0
#define TARGET_RSS_MIB    100.0
#define TARGET_CATCHUP_MS 1000.0
#define WARMUP            5
#define PROVIDERS         5
#define BACKLOG_DESKS     8

static struct {
    int subs, threads, checkins, backlog, pause_ms, max_waiting;
    double settle;
    const char *dir, *perf;
} opt = {1000, 1, 200, 10000, 10, 20, 1.5, "/tmp", NULL};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_fanout [options]\n\n"
            "The waiting-room board pushed to many display connections, and a subscriber\n"
            "catching up on a backlog.\n\n"
            "  --subs N       display connections subscribed to board/main (default %d)\n"
            "  --threads N    client threads holding them, each with one epoll set (default %d:\n"
            "                 the screens take one core and leave the server the other, the\n"
            "                 nearest this machine comes to screens on their own computers;\n"
            "                 2 has them contend with the server's loop for both cores)\n"
            "  --checkins N   measured check-ins, one at a time (default %d)\n"
            "  --pause-ms MS  between check-ins (default %d)\n"
            "  --max-waiting N  check the longest-waiting patient out (unmeasured) before each\n"
            "                 check-in once N are waiting (default %d: a waiting room's usual\n"
            "                 board); 0: everyone stays, so the board, and each event, grows\n"
            "                 to --checkins tickets (the big board)\n"
            "  --backlog N    events to catch up on, per topic (default %d; 0: skip)\n"
            "  --settle S     seconds before reading the server's RSS (default %.1f)\n"
            "  --dir DIR      where the data directory goes (default %s)\n"
            "  --perf FILE    perf record the server during the check-ins into FILE\n"
            "  --help\n\n"
            "Targets: check-in to the last subscriber p99 < %.0f ms; server RSS with 1,000\n"
            "subscribers < %.0f MiB; %d events behind caught up in < %.0f ms.\n",
            opt.subs, opt.threads, opt.checkins, opt.pause_ms, opt.max_waiting, opt.backlog,
            opt.settle, opt.dir, TARGET_P99_MS, TARGET_RSS_MIB, opt.backlog, TARGET_CATCHUP_MS);
}

/* ---- the subscribers ---- */

/* The subscribers' side is kept lean so that the figures are the server's: each client
 * thread waits on its connections with one epoll set, each event is decoded once (by
 * pc_poll) and the callback only notes the time and the sequence number in its own screen.
 * A round ends when every thread has seen each of its screens get the round's event; the
 * main thread then reads the screens' arrival times. Nothing is shared per event. */
static struct {
    uint64_t per_screen; /* events each screen is to have had at the end of this round */
    void *probe;         /* the screen whose events' sizes are kept */
    uint64_t probe_bytes, probe_events, probe_last_bytes;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
} G = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

struct sub_thread;

typedef struct screen {
    pc_client *c;
    struct sub_thread *t;
    uint64_t events, last_seq, out_of_order;
    uint64_t last_us; /* when the newest event arrived */
} screen;

typedef struct sub_thread {
    pthread_t th;
    const ts_server *s;
    const uint8_t *token;
    screen *sc;
    int n;
    int opened, failed, broke;
    char first_error[200];
    int ready;         /* under G.mu */
    int live;          /* screens still connected */
    uint64_t arrivals; /* events its live screens received */
    uint64_t reached;  /* the G.per_screen its screens all reached (atomic) */
} sub_thread;

static void on_board(void *ud, const Pm__Envelope *env)
{
    screen *sc = ud;
    if (env->body_case != PM__ENVELOPE__BODY_EVENT ||
        env->event->body_case != PM__EVENT__BODY_BOARD_CHANGED)
        return;
    sc->last_us = bs_now_us();
    sc->events++;
    sc->t->arrivals++;
    if (ud == G.probe) {
        size_t b = pm__event__get_packed_size(env->event);
        G.probe_bytes += b;
        G.probe_events++;
        G.probe_last_bytes = b;
    }
    if (env->event->seq <= sc->last_seq)
        sc->out_of_order++;
    sc->last_seq = env->event->seq;
}

/* After each batch: once every screen of t has the round's event, says so. */
static void round_check(sub_thread *t)
{
    uint64_t want = __atomic_load_n(&G.per_screen, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&t->reached, __ATOMIC_RELAXED) >= want ||
        t->arrivals < want * (uint64_t)t->live)
        return;
    pthread_mutex_lock(&G.mu);
    __atomic_store_n(&t->reached, want, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&G.cv);
    pthread_mutex_unlock(&G.mu);
}

static void *sub_main(void *ud)
{
    sub_thread *t = ud;
    pm_arena a;
    pm_arena_init(&a, 0);
    const char *topic = "board/main";
    for (int i = 0; i < t->n; i++) {
        pc_opts po = {.host = "127.0.0.1",
                      .port = t->s->port,
                      .ca_file = t->s->ca,
                      .client_name = "bench_fanout screen",
                      .timeout_ms = 60000};
        screen *sc = &t->sc[i];
        sc->t = t;
        sc->c = pc_new(&po);
        int rc = PM_E_NOMEM;
        if (sc->c) {
            pc_set_token(sc->c, t->token, 32);
            pc_set_device(sc->c, "bench screen");
            pc_on_event(sc->c, on_board, sc);
            rc = pc_connect(sc->c);
            if (rc == PM_OK)
                rc = pc_subscribe(sc->c, &topic, 1, 0, &a, NULL);
        }
        if (rc != PM_OK) {
            if (!t->failed++)
                snprintf(t->first_error, sizeof t->first_error, "%s",
                         sc->c ? pc_last_error(sc->c) : "out of memory");
            pc_free(sc->c);
            sc->c = NULL;
        } else {
            t->opened++;
        }
        pm_arena_free(&a);
        pm_arena_init(&a, 0);
    }
    pm_arena_free(&a);
    t->live = t->opened;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; ep >= 0 && i < t->n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &t->sc[i]};
        if (t->sc[i].c)
            epoll_ctl(ep, EPOLL_CTL_ADD, pc_fd(t->sc[i].c), &ev);
    }
    pthread_mutex_lock(&G.mu);
    t->ready = 1;
    pthread_cond_broadcast(&G.cv);
    pthread_mutex_unlock(&G.mu);

    struct epoll_event evs[256];
    while (ep >= 0 && !__atomic_load_n(&G.stop, __ATOMIC_ACQUIRE)) {
        int n = epoll_wait(ep, evs, 256, 50);
        for (int k = 0; k < n; k++) {
            screen *sc = evs[k].data.ptr;
            if (!sc->c)
                continue;
            int rc;
            do /* what the socket has, then what is left in TLS: epoll says when there is more */
                rc = pc_poll(sc->c, 0);
            while (rc > 0 && pc_pending(sc->c));
            if (rc < 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, pc_fd(sc->c), NULL);
                t->broke++;
                t->live--;
                t->arrivals -= sc->events;
                pc_free(sc->c);
                sc->c = NULL;
            }
        }
        round_check(t);
    }
    if (ep >= 0)
        close(ep);
    return NULL;
}

/* Waits until every client thread's screens have per_screen events (or timeout_ms); 0 when
 * they did. */
static int wait_round(sub_thread *th, int nthreads, uint64_t per_screen, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&G.mu);
    int rc = 0, behind;
    for (;;) {
        behind = 0;
        for (int i = 0; i < nthreads; i++)
            behind += th[i].live && __atomic_load_n(&th[i].reached, __ATOMIC_ACQUIRE) < per_screen;
        if (!behind || rc)
            break;
        rc = pthread_cond_timedwait(&G.cv, &G.mu, &dl);
    }
    pthread_mutex_unlock(&G.mu);
    return behind ? -1 : 0;
}

/* A round: every screen is to get one more event. */
static uint64_t round_start(void)
{
    return __atomic_add_fetch(&G.per_screen, 1, __ATOMIC_ACQ_REL);
}

/* The first and the last arrival of the round's event (after wait_round). */
static void round_times(const screen *sc, int n, uint64_t *first, uint64_t *last)
{
    *first = UINT64_MAX;
    *last = 0;
    for (int i = 0; i < n; i++) {
        if (!sc[i].c)
            continue;
        if (sc[i].last_us < *first)
            *first = sc[i].last_us;
        if (sc[i].last_us > *last)
            *last = sc[i].last_us;
    }
}

/* The server's VmRSS once it stops moving (two readings 250 ms apart within 64 KiB). */
static long settled_rss(pid_t pid)
{
    bs_sleep_us((uint64_t)(opt.settle * 1e6));
    long prev = bs_rss_kib(pid);
    for (int i = 0; i < 40; i++) {
        bs_sleep_us(250000);
        long now = bs_rss_kib(pid);
        if (labs(now - prev) <= 64)
            return now;
        prev = now;
    }
    return prev;
}

/* ---- the practice ---- */

static char today[11];

static int setup_practice(pc_client *m, pm_arena *a)
{
    int rc = sh_location(m, a, "main", "Main Street") || sh_location(m, a, "small", "Small") ||
             sh_visit_type(m, a, "visit", 10, 0, NULL);
    sh_block all_day = {0, 0, 24 * 60, NULL, 0, NULL};
    for (int i = 1; i <= PROVIDERS + 1 && !rc; i++) {
        char id[16];
        snprintf(id, sizeof id, "dr-%d", i);
        rc = sh_provider(m, a, id, id, i <= PROVIDERS ? "main" : "small") ||
             sh_template(m, a, id, "2020-01-01", NULL, &all_day, 1, NULL, 0);
    }
    if (rc)
        fprintf(stderr, "set-up: %s\n", pc_last_error(m));
    return rc;
}

/* n patients, and an appointment today for each at location (its providers in turn, ten
 * minutes apart from 08:00); ids into out. */
static int book_day(pc_client *m, int n, int first_provider, int nproviders, uint64_t *out)
{
    bs_rng rng;
    bs_rng_seed(&rng, (uint64_t)n * 7919u + (uint64_t)first_provider);
    for (int i = 0; i < n; i++) {
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Patient *p = bs_make_patient(&rng, &a);
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_CREATE_PATIENT), *resp;
        e->create_patient = pm_msg_new(&a, &pm__create_patient__descriptor);
        e->create_patient->patient = p;
        int rc = pc_call(m, e, &a, &resp);
        char prov[16];
        snprintf(prov, sizeof prov, "dr-%d", first_provider + i % nproviders);
        Pm__Appointment *ap = NULL;
        if (rc == PM_OK)
            rc = sh_book(m, &a,
                         sh_book_req(&a, resp->patient_ok->patient->mrn, prov, "visit",
                                     sh_local(today, 8, 0) + (time_t)(i / nproviders) * 600),
                         &ap);
        if (rc != PM_OK) {
            fprintf(stderr, "booking %d: %s\n", i, pc_last_error(m));
            pm_arena_free(&a);
            return -1;
        }
        out[i] = ap->id;
        pm_arena_free(&a);
    }
    return 0;
}

static int arrive(pc_client *c, uint64_t id, int undo)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    int rc = ts_flow_step(c, &a, id, 0, undo ? PM__FLOW_ACTION__UNDO : PM__FLOW_ACTION__ARRIVE,
                          NULL, NULL);
    pm_arena_free(&a);
    return rc;
}

/* ---- 1: fan-out ---- */

static int fanout(ts_server *s, pc_client *mgr)
{
    int rc = -1, nthreads = opt.threads;
    pm_arena a;
    pm_arena_init(&a, 0);
    sub_thread *th = calloc((size_t)nthreads, sizeof *th);
    screen *sc = calloc((size_t)opt.subs, sizeof *sc);
    uint64_t *appt = calloc((size_t)(opt.checkins + WARMUP), sizeof *appt);
    pc_client *desk = NULL, *display = NULL;
    bs_lat last = {0}, first = {0}, answer = {0};
    int started = 0;
    if (!th || !sc || !appt)
        goto out;
    printf("# booking %d appointments today (%s) at main\n", opt.checkins + WARMUP, today);
    if (book_day(mgr, opt.checkins + WARMUP, 1, PROVIDERS, appt) != 0)
        goto out;
    if (!(desk = ts_user(s, mgr, "front-desk", PM__ROLE__RECEPTIONIST)) ||
        !(display = ts_display(s, mgr, "lobby-tv", "main")))
        goto out;

    long rss0 = settled_rss(s->pid);
    bs_result("server.rss_before_subscribers", (double)rss0, "KiB");
    uint64_t t0 = bs_now_us();
    int per = opt.subs / nthreads, extra = opt.subs % nthreads, at = 0;
    for (int i = 0; i < nthreads; i++) {
        th[i].s = s;
        th[i].token = pc_token(display);
        th[i].sc = sc + at;
        th[i].n = per + (i < extra);
        at += th[i].n;
        if (pthread_create(&th[i].th, NULL, sub_main, &th[i]) != 0)
            goto out;
        started++;
    }
    pthread_mutex_lock(&G.mu);
    for (;;) {
        int ready = 0;
        for (int i = 0; i < nthreads; i++)
            ready += th[i].ready;
        if (ready == nthreads)
            break;
        pthread_cond_wait(&G.cv, &G.mu);
    }
    pthread_mutex_unlock(&G.mu);
    double connect_s = (double)(bs_now_us() - t0) / 1e6;
    int opened = 0;
    for (int i = 0; i < nthreads; i++) {
        opened += th[i].opened;
        if (th[i].failed)
            printf("# client thread %d: %d failed, first: %s\n", i, th[i].failed,
                   th[i].first_error);
    }
    bs_result("subscribers", opened, "connections");
    bs_result("subscribe_s", connect_s, "s");
    printf("# %d subscribers in %d threads (full TLS handshake, Resume, Subscribe each)\n", opened,
           nthreads);
    if (opened == 0)
        goto out;
    Pm__Stats *st;
    if (bs_get_stats(mgr, &a, &st) != PM_OK)
        goto out;
    printf("# server: %llu connections, %llu sessions\n", (unsigned long long)st->connections,
           (unsigned long long)st->sessions);
    long rss1 = settled_rss(s->pid);
    bs_result("server.rss_with_subscribers", (double)rss1, "KiB");
    bs_result("server.rss_per_subscriber", (double)(rss1 - rss0) / opened, "KiB");

    /* warm-up, then the measured check-ins, one at a time */
    for (int i = 0; i < opt.subs && !G.probe; i++)
        if (sc[i].c)
            G.probe = &sc[i];
    for (int i = 0; i < WARMUP; i++) {
        uint64_t want = round_start();
        if (arrive(desk, appt[i], 0) != PM_OK) {
            fprintf(stderr, "check-in: %s\n", pc_last_error(desk));
            goto out;
        }
        if (wait_round(th, nthreads, want, 10000) != 0) {
            fprintf(stderr, "warm-up: the event did not reach every subscriber\n");
            goto out;
        }
    }
    bs_tasks tk0, tk1;
    bs_tasks_read(s->pid, &tk0);
    double cpu0 = bs_cpu_s(s->pid), ccpu0 = bs_cpu_s(getpid()), busy0 = bs_machine_busy_s();
    pid_t pf = bs_perf_start(s->pid, opt.perf);
    uint64_t w0 = bs_now_us();
    int missing = 0, checked_out = 0, events = 0;
    uint64_t probe_bytes0 = G.probe_bytes, probe_events0 = G.probe_events;
    for (int i = 0; i < opt.checkins; i++) {
        if (opt.max_waiting && WARMUP + i - checked_out >= opt.max_waiting) {
            /* the longest-waiting patient leaves: unmeasured, but its event is awaited */
            uint64_t want = round_start();
            pm_arena ca;
            pm_arena_init(&ca, 0);
            int crc = ts_flow_step(desk, &ca, appt[checked_out++], 0, PM__FLOW_ACTION__CHECK_OUT,
                                   NULL, NULL);
            pm_arena_free(&ca);
            if (crc != PM_OK || wait_round(th, nthreads, want, 10000) != 0) {
                fprintf(stderr, "check-out: %s\n",
                        crc != PM_OK ? pc_last_error(desk) : "not every screen got its event");
                goto out;
            }
            events++;
            bs_sleep_us((uint64_t)opt.pause_ms * 1000);
        }
        uint64_t want = round_start();
        uint64_t ts = bs_now_us();
        if (arrive(desk, appt[WARMUP + i], 0) != PM_OK) {
            fprintf(stderr, "check-in: %s\n", pc_last_error(desk));
            goto out;
        }
        uint64_t ta = bs_now_us();
        events++;
        if (wait_round(th, nthreads, want, 10000) != 0) {
            /* a screen lost an event: the later rounds cannot be told apart from it */
            missing = opt.checkins - i;
            fprintf(stderr, "check-in %d: not every screen got its event in 10 s\n", i);
            break;
        }
        uint64_t t_first, t_last;
        round_times(sc, opt.subs, &t_first, &t_last);
        bs_lat_add(&answer, ta - ts);
        bs_lat_add(&first, t_first - ts);
        bs_lat_add(&last, t_last - ts);
        bs_sleep_us((uint64_t)opt.pause_ms * 1000);
    }
    double wall = (double)(bs_now_us() - w0) / 1e6;
    bs_perf_stop(pf);
    double cpu1 = bs_cpu_s(s->pid), ccpu1 = bs_cpu_s(getpid()), busy1 = bs_machine_busy_s();
    bs_tasks_read(s->pid, &tk1);
    long rss2 = bs_rss_kib(s->pid);
    double others = (busy1 - busy0) - (cpu1 - cpu0) - (ccpu1 - ccpu0);

    bs_lat_sort(&answer);
    bs_lat_sort(&first);
    bs_lat_sort(&last);
    bs_result("checkins", (double)last.n, "check-ins");
    bs_result("board_event_bytes_mean",
              G.probe_events > probe_events0 ? (double)(G.probe_bytes - probe_bytes0) /
                                                   (double)(G.probe_events - probe_events0)
                                             : 0,
              "B");
    bs_result("board_event_bytes_last", (double)G.probe_last_bytes, "B");
    printf("# waiting at the end: %d (%s)\n", WARMUP + opt.checkins - checked_out,
           opt.max_waiting ? "the longest-waiting checked out beyond --max-waiting"
                           : "nobody leaves the waiting room");
    bs_result("checkins_not_reaching_all", missing, "check-ins");
    bs_result("checkin.answer_p50", (double)bs_lat_pct(&answer, 0.5) / 1000.0, "ms");
    bs_result("checkin.answer_p99", (double)bs_lat_pct(&answer, 0.99) / 1000.0, "ms");
    bs_result("checkin.first_subscriber_p50", (double)bs_lat_pct(&first, 0.5) / 1000.0, "ms");
    bs_result("checkin.first_subscriber_p99", (double)bs_lat_pct(&first, 0.99) / 1000.0, "ms");
    bs_result("checkin.last_subscriber_p50", (double)bs_lat_pct(&last, 0.5) / 1000.0, "ms");
    bs_result("checkin.last_subscriber_p99", (double)bs_lat_pct(&last, 0.99) / 1000.0, "ms");
    bs_result("checkin.last_subscriber_max", (double)bs_lat_pct(&last, 1.0) / 1000.0, "ms");
    bs_result("board_events", events, "events");
    bs_result("server.cpu_per_checkin", (cpu1 - cpu0) / opt.checkins * 1000.0, "ms");
    bs_result("server.cpu_per_event", (cpu1 - cpu0) / events * 1000.0, "ms");
    bs_result("server.cpu_per_delivery", (cpu1 - cpu0) / events / opened * 1e6, "us");
    bs_result("server.cores_during_checkins", (cpu1 - cpu0) / wall, "cores");
    bs_result("bench_clients.cores_during_checkins", (ccpu1 - ccpu0) / wall, "cores");
    bs_result("bench_clients.cpu_per_checkin", (ccpu1 - ccpu0) / opt.checkins * 1000.0, "ms");
    bs_result("bench_clients.cpu_per_delivery", (ccpu1 - ccpu0) / events / opened * 1e6, "us");
    bs_result("other_processes_cpu", others > 0 ? others / wall : 0, "cores");
    bs_result("server.rss_after_checkins", (double)rss2, "KiB");
    bs_tasks_print(s->pid, &tk0, &tk1, wall);
    if (bs_get_stats(mgr, &a, &st) == PM_OK) {
        bs_print_op("server.flow_step", bs_op(st, "flow_step"));
        printf("# server: %llu events so far, RSS %llu KiB\n",
               (unsigned long long)st->last_event_seq, (unsigned long long)st->rss_bytes / 1024);
    }
    /* every screen got every board event, in order */
    uint64_t want = (uint64_t)(WARMUP + opt.checkins + checked_out), short_screens = 0,
             disorder = 0;
    for (int i = 0; i < opt.subs; i++) {
        if (!sc[i].c)
            continue;
        short_screens += sc[i].events != want;
        disorder += sc[i].out_of_order;
    }
    int broke = 0;
    for (int i = 0; i < nthreads; i++)
        broke += th[i].broke;
    printf("# screens missing events: %llu, events out of order: %llu, connections broken: %d\n",
           (unsigned long long)short_screens, (unsigned long long)disorder, broke);

    double p99 = (double)bs_lat_pct(&last, 0.99) / 1000.0;
    char target[96];
    snprintf(target, sizeof target, "check-in to the last of %d subscribers p99 < %.0f ms", opened,
             TARGET_P99_MS);
    bs_verdict(target, p99 < TARGET_P99_MS && !missing && !short_screens,
               "p50 %.2f ms, p99 %.2f ms, max %.2f ms over %zu check-ins; first subscriber "
               "p50 %.2f ms; answer p50 %.2f ms",
               (double)bs_lat_pct(&last, 0.5) / 1000.0, p99,
               (double)bs_lat_pct(&last, 1.0) / 1000.0, last.n,
               (double)bs_lat_pct(&first, 0.5) / 1000.0, (double)bs_lat_pct(&answer, 0.5) / 1000.0);
    snprintf(target, sizeof target, "server RSS with %d subscribers < %.0f MiB", opened,
             TARGET_RSS_MIB);
    bs_verdict(target, (double)rss1 / 1024.0 < TARGET_RSS_MIB,
               "%.1f MiB with them idle, %.1f MiB after the check-ins, %.1f MiB before",
               (double)rss1 / 1024.0, (double)rss2 / 1024.0, (double)rss0 / 1024.0);
    rc = 0;
out:
    __atomic_store_n(&G.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < started; i++)
        pthread_join(th[i].th, NULL);
    for (int i = 0; sc && i < opt.subs; i++)
        pc_free(sc[i].c);
    free(sc);
    free(th);
    free(appt);
    pc_free(desk);
    pc_free(display);
    bs_lat_free(&last);
    bs_lat_free(&first);
    bs_lat_free(&answer);
    pm_arena_free(&a);
    return rc;
}

/* ---- 2: catching up ---- */

typedef struct maker {
    pthread_t th;
    pc_client *c;
    int n;
    uint64_t appt; /* board: the appointment checked in and undone; 0: patients */
    uint64_t seed;
    int failed;
    char error[200];
} maker;

static void *make_events(void *ud)
{
    maker *m = ud;
    bs_rng rng;
    bs_rng_seed(&rng, m->seed);
    for (int i = 0; i < m->n && !m->failed; i++) {
        pm_arena a;
        pm_arena_init(&a, 0);
        int rc = m->appt ? ts_flow_step(m->c, &a, m->appt, 0,
                                        i % 2 ? PM__FLOW_ACTION__UNDO : PM__FLOW_ACTION__ARRIVE,
                                        NULL, NULL)
                         : bs_create_patient(m->c, &a, bs_make_patient(&rng, &a));
        if (rc != PM_OK) {
            m->failed = 1;
            snprintf(m->error, sizeof m->error, "%s", pc_last_error(m->c));
        }
        pm_arena_free(&a);
    }
    return NULL;
}

/* Pings back-to-back (1 ms apart) on its own connection, keeping the slowest answer. */
typedef struct pinger {
    pthread_t th;
    pc_client *c;
    int stop;
    uint64_t n, errors, max_us;
    bs_lat lat;
} pinger;

static void *ping_main(void *ud)
{
    pinger *p = ud;
    while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PING), *resp;
        e->ping = pm_msg_new(&a, &pm__ping__descriptor);
        uint64_t t0 = bs_now_us();
        int rc = pc_call(p->c, e, &a, &resp);
        uint64_t us = bs_now_us() - t0;
        pm_arena_free(&a);
        p->n++;
        p->errors += rc != PM_OK;
        if (us > p->max_us)
            p->max_us = us;
        bs_lat_add(&p->lat, us);
        bs_sleep_us(1000);
    }
    return NULL;
}

typedef struct catcher {
    uint64_t n, first_seq, last_seq, disorder, bytes;
    uint64_t t_last;
} catcher;

static void on_catch(void *ud, const Pm__Envelope *env)
{
    catcher *k = ud;
    if (env->body_case != PM__ENVELOPE__BODY_EVENT)
        return;
    if (!k->n)
        k->first_seq = env->event->seq;
    else if (env->event->seq <= k->last_seq)
        k->disorder++;
    k->last_seq = env->event->seq;
    k->bytes += pm__event__get_packed_size(env->event);
    k->n++;
    k->t_last = bs_now_us();
}

/* n events on topic (made by desks: board or patients), then a subscriber from the seq
 * before them on token's session; prints and returns the catch-up time in ms (< 0 on
 * failure). */
static double catch_up(ts_server *s, pc_client *mgr, pc_client **desks, const uint64_t *appts,
                       const char *label, const char *topic, const uint8_t *token)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    double ms = -1;
    char m[96];
    pc_client *c = NULL;
    pinger pg = {0};
    int pinging = 0;
    catcher k = {0};
    Pm__Stats *st;
    if (bs_get_stats(mgr, &a, &st) != PM_OK)
        return -1;
    uint64_t before = st->last_event_seq;
    maker mk[BACKLOG_DESKS];
    memset(mk, 0, sizeof mk);
    uint64_t t0 = bs_now_us();
    for (int i = 0; i < BACKLOG_DESKS; i++) {
        mk[i].c = desks[i];
        mk[i].n = opt.backlog / BACKLOG_DESKS + (i < opt.backlog % BACKLOG_DESKS);
        if (appts && mk[i].n % 2) /* whole pairs, so each ends where it began */
            mk[i].n += i % 2 ? -1 : 1;
        mk[i].appt = appts ? appts[i] : 0;
        mk[i].seed = 1000u + (uint64_t)i;
        pthread_create(&mk[i].th, NULL, make_events, &mk[i]);
    }
    int failed = 0;
    for (int i = 0; i < BACKLOG_DESKS; i++) {
        pthread_join(mk[i].th, NULL);
        if (mk[i].failed && !failed++)
            fprintf(stderr, "%s: %s\n", label, mk[i].error);
    }
    if (failed || bs_get_stats(mgr, &a, &st) != PM_OK)
        goto out;
    double make_s = (double)(bs_now_us() - t0) / 1e6;
    printf("# %s: %d events on %s made in %.1f s (the log grew by %llu: %s)\n", label, opt.backlog,
           topic, make_s, (unsigned long long)(st->last_event_seq - before),
           appts ? "each step is also a flow event" : "one event per create");

    /* a control client pings throughout: the loop thread is busy while it builds a replay */
    pg.c = ts_manager(s);
    pinging = pg.c && pthread_create(&pg.th, NULL, ping_main, &pg) == 0;
    bs_sleep_us(200000);
    pc_opts po = {.host = "127.0.0.1",
                  .port = s->port,
                  .ca_file = s->ca,
                  .client_name = "bench_fanout catch-up",
                  .timeout_ms = 60000};
    c = pc_new(&po);
    pc_set_token(c, token, 32);
    pc_on_event(c, on_catch, &k);
    if (pc_connect(c) != PM_OK) {
        fprintf(stderr, "%s: connect: %s\n", label, pc_last_error(c));
        goto done;
    }
    Pm__Subscribed *sd;
    uint64_t ts = bs_now_us();
    int rc = pc_subscribe(c, &topic, 1, before, &a, &sd);
    uint64_t t_answer = bs_now_us();
    if (rc != PM_OK) {
        fprintf(stderr, "%s: subscribe from %llu: %s\n", label, (unsigned long long)before,
                pc_last_error(c));
        goto done;
    }
    uint32_t replayed = sd->replayed;
    while (k.n < (uint64_t)opt.backlog && bs_now_us() - ts < 30000000) {
        if (pc_poll(c, 1000) < 0) {
            fprintf(stderr, "%s: the connection broke after %llu events: %s\n", label,
                    (unsigned long long)k.n, pc_last_error(c));
            break;
        }
    }
    ms = k.n == (uint64_t)opt.backlog ? (double)(k.t_last - ts) / 1000.0 : -1;
    snprintf(m, sizeof m, "catchup.%s.replayed", label);
    bs_result(m, replayed, "events");
    snprintf(m, sizeof m, "catchup.%s.received", label);
    bs_result(m, (double)k.n, "events");
    snprintf(m, sizeof m, "catchup.%s.event_bytes_mean", label);
    bs_result(m, k.n ? (double)k.bytes / (double)k.n : 0, "B");
    snprintf(m, sizeof m, "catchup.%s.subscribed_answer", label);
    bs_result(m, (double)(t_answer - ts) / 1000.0, "ms");
    snprintf(m, sizeof m, "catchup.%s.all_received", label);
    bs_result(m, ms, "ms");
    printf("# %s: seqs %llu..%llu, %llu out of order\n", label, (unsigned long long)k.first_seq,
           (unsigned long long)k.last_seq, (unsigned long long)k.disorder);
done:
    pc_free(c);
    if (pinging) {
        __atomic_store_n(&pg.stop, 1, __ATOMIC_RELEASE);
        pthread_join(pg.th, NULL);
        bs_lat_sort(&pg.lat);
        printf("# %s: a control client's pings meanwhile: %llu, p50 %.2f ms, max %.2f ms, %llu "
               "errors\n",
               label, (unsigned long long)pg.n, (double)bs_lat_pct(&pg.lat, 0.5) / 1000.0,
               (double)pg.max_us / 1000.0, (unsigned long long)pg.errors);
        snprintf(m, sizeof m, "catchup.%s.control_ping_max", label);
        bs_result(m, (double)pg.max_us / 1000.0, "ms");
    }
    bs_lat_free(&pg.lat);
    pc_free(pg.c);
    char target[96];
    snprintf(target, sizeof target, "%d %s events behind caught up in < %.0f ms", opt.backlog,
             label, TARGET_CATCHUP_MS);
    bs_verdict(target, ms >= 0 && ms < TARGET_CATCHUP_MS, "%s",
               ms >= 0 ? pm_arena_printf(&a, "%.0f ms", ms) : "did not catch up");
out:
    pm_arena_free(&a);
    return ms;
}

static int catch_ups(ts_server *s, pc_client *mgr)
{
    pc_client **desks = bs_desks(s, mgr, "backlog", BACKLOG_DESKS);
    pc_client *display = desks ? ts_display(s, mgr, "small-tv", "small") : NULL;
    uint64_t appts[BACKLOG_DESKS];
    int rc = -1;
    if (!display || book_day(mgr, BACKLOG_DESKS, PROVIDERS + 1, 1, appts) != 0)
        goto out;
    catch_up(s, mgr, desks, appts, "board", "board/small", pc_token(display));
    catch_up(s, mgr, desks, NULL, "patients", "patients", pc_token(mgr));
    rc = 0;
out:
    pc_free(display);
    bs_desks_free(desks, BACKLOG_DESKS);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"subs", required_argument, 0, 'n'},
        {"threads", required_argument, 0, 't'},
        {"checkins", required_argument, 0, 'c'},
        {"pause-ms", required_argument, 0, 'p'},
        {"backlog", required_argument, 0, 'b'},
        {"settle", required_argument, 0, 's'},
        {"dir", required_argument, 0, 'd'},
        {"perf", required_argument, 0, 'P'},
        {"max-waiting", required_argument, 0, 'w'},
        {"epoll", no_argument, 0, 'E'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'n':
            opt.subs = atoi(optarg);
            break;
        case 't':
            opt.threads = atoi(optarg);
            break;
        case 'c':
            opt.checkins = atoi(optarg);
            break;
        case 'p':
            opt.pause_ms = atoi(optarg);
            break;
        case 'b':
            opt.backlog = atoi(optarg);
            break;
        case 's':
            opt.settle = atof(optarg);
            break;
        case 'd':
            opt.dir = optarg;
            break;
        case 'w':
            opt.max_waiting = atoi(optarg);
            break;
        case 'E': /* epoll is the only way now; kept for older command lines */
            break;
        case 'P':
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
    if (optind < argc || opt.subs < 1 || opt.threads < 1 || opt.threads > opt.subs ||
        opt.checkins < 1 || opt.backlog < 0 || opt.pause_ms < 0 || opt.max_waiting < 0) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("# bench_fanout: server %s\n", ts_practiced());
    bs_print_machine(opt.dir);
    long need = opt.subs + 300;
    long have = bs_raise_nofile(need);
    printf("# RLIMIT_NOFILE %ld (this process holds the subscribers, the server one per "
           "connection; %ld needed)\n",
           have, need);
    if (have < need) {
        fprintf(stderr, "bench_fanout: %d subscribers need %ld descriptors; the limit is %ld\n",
                opt.subs, need, have);
        return 2;
    }
    /* the practice's day, in its zone */
    sh_tz();
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    if (tm.tm_hour == 23 && tm.tm_min >= 45)
        printf("# WARNING: close to midnight in Europe/Paris; the day may change mid-run\n");

    ts_server s;
    pc_client *mgr = NULL;
    int rc = 1;
    pm_arena a;
    pm_arena_init(&a, 0);
    if (bs_server_start(&s, opt.dir, NULL) != 0 || !(mgr = ts_manager(&s)) ||
        setup_practice(mgr, &a) != 0)
        goto out;
    if (fanout(&s, mgr) != 0)
        goto out;
    if (opt.backlog && catch_ups(&s, mgr) != 0)
        goto out;
    bs_print_load("after");
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench_fanout failed; server log: %s\n", s.log);
    pc_free(mgr);
    pm_arena_free(&a);
    bs_server_finish(&s);
    return rc;
}
