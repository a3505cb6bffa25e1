/* bench_storm: a server restart with 2,000 screens and desks connected.
 *
 * --clients (2000) connections, three boards to each desk, spread over --sites (20)
 * locations: each board resumes its site's display session and subscribes to board/<site>,
 * each desk resumes its site's receptionist session and subscribes to flow/<site>,
 * schedule/location/<site>/<today> and board/<site>. They live in --threads (2) client
 * threads, each one libuv loop (bench_uv). Then the server is stopped (SIGTERM) and started
 * again on the same port, twice:
 *
 *   tickets     as it is: DATA/tickets.key survives, so the session tickets the clients
 *               hold still open and each handshake is resumed (no ECDHE, no signature);
 *   no_tickets  DATA/tickets.key deleted before the start, so the server makes a new key,
 *               refuses every ticket and each client does a full handshake.
 *
 * Each client comes back the way the real ones do: a board (client/board.c) retries after
 * a backoff of 500 ms doubling to 30 s, jittered over its upper half; a desk
 * (client/desk_net.c) after 250 ms doubling to 8 s, without jitter. Back means: TLS, Hello,
 * Resume of its session, Subscribe from the last event it saw, and the read the screen makes
 * (GetBoard, GetFlow). Printed: the time until all are back (from the SIGTERM, and from the
 * moment the new server listens), the distribution over the clients, the handshakes the
 * server counted and how many it resumed from tickets, the server's CPU per client brought
 * back and the clients' own, and the latency of a control client (the pc library, a manager
 * pinging and reading the board one request at a time) before and during the storm.
 *
 * Target (issue 6): all 2,000 back, resumed and resubscribed in < 5 s, from tickets. */
#include "bench_common.h"
#include "bench_uv.h"
#include "pm_time.h"

#include "pm_err.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TARGET_S         5.0
#define CONNECTS_AT_ONCE 64 /* per thread, at the first connect: under the listen backlog */
#define CTL_SAMPLES      (4u << 20)

static struct {
    int clients, sites, threads, boards_per_desk, rounds_full;
    double steady, wait_s;
    const char *dir;
} opt = {2000, 20, 2, 3, 1, 3.0, 60.0, "/tmp"};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_storm [options]\n\n"
            "A server restart under 2,000 connected boards and desks: the time until all are\n"
            "back, resumed and resubscribed, with TLS session tickets and without.\n\n"
            "  --clients N    connections (default %d)\n"
            "  --sites N      locations they are spread over (default %d)\n"
            "  --boards-per-desk N  boards to each desk (default %d)\n"
            "  --threads N    client threads, each one libuv loop (default %d)\n"
            "  --no-full      skip the run without tickets (tickets.key deleted)\n"
            "  --steady S     seconds of control-client pings before the restart (default "
            "%.0f)\n"
            "  --wait S       give up on a storm after S seconds (default %.0f)\n"
            "  --dir DIR      where the data directory goes (default %s)\n"
            "  --help\n\n"
            "Target: all back (TLS resumed, Resume, Subscribe, first read) in < %.0f s.\n",
            opt.clients, opt.sites, opt.boards_per_desk, opt.threads, opt.steady, opt.wait_s,
            opt.dir, TARGET_S);
}

/* ---- the clients ---- */

typedef struct sclient {
    bu_conn c;
    uv_timer_t retry;
    int desk;
    uint64_t backoff_ms;
    int was_up;
    uint32_t attempts; /* connects since the latest outage began */
    uint64_t t_back;   /* when it was last ready (monotonic us) */
    char topic[3][96];
} sclient;

typedef struct cthread {
    pthread_t th;
    uv_loop_t loop;
    bu_ctx x;
    uv_timer_t tick;
    sclient *cl;
    int n, next_connect, connecting;
    _Atomic int ready;     /* clients in state READY */
    _Atomic long attempts; /* connects tried since start */
    _Atomic long refused;  /* connects that failed before TLS (server not listening yet) */
    _Atomic long tls_full, tls_done;
    _Atomic double cpu_s;
    char first_error[200];
} cthread;

static struct {
    _Atomic int stop;
    _Atomic int port;
    const char *ca;
    uint8_t board_token[256][32], desk_token[256][32];
    char today[11];
    uint32_t rng;
} G;

static uint32_t rnd(void)
{
    G.rng = G.rng * 1664525u + 1013904223u;
    return G.rng >> 8;
}

static void on_retry(uv_timer_t *t);

static void c_ready(bu_conn *c)
{
    sclient *s = c->ud;
    cthread *th = s->retry.loop->data;
    s->t_back = bu_now_us();
    s->backoff_ms = 0;
    s->was_up = 1;
    th->ready++;
    if (th->connecting > 0)
        th->connecting--;
}

static void c_down(bu_conn *c, const char *why)
{
    sclient *s = c->ud;
    cthread *th = s->retry.loop->data;
    if (c->t_ready) /* it was up on this connection */
        th->ready--;
    if (c->t_tls == 0)
        th->refused++;
    else if (!c->t_ready && !th->first_error[0])
        snprintf(th->first_error, sizeof th->first_error, "%s", why);
    if (!s->was_up && th->connecting > 0) /* the first connect failed */
        th->connecting--;
    if (atomic_load(&G.stop))
        return;
    uint64_t delay = bu_backoff_ms(s->desk, c->t_ready != 0, &s->backoff_ms, rnd());
    c->t_ready = 0;
    uv_timer_start(&s->retry, on_retry, delay, 0);
}

static void on_retry(uv_timer_t *t)
{
    sclient *s = t->data;
    cthread *th = t->loop->data;
    if (atomic_load(&G.stop))
        return;
    bu_ctx_port(&th->x, atomic_load(&G.port));
    s->attempts++;
    th->attempts++;
    bu_connect(&s->c);
}

static void c_answer(bu_conn *c, uint64_t tag, const Pm__Envelope *r, uint64_t t0, uint64_t t1)
{
    (void)c, (void)tag, (void)r, (void)t0, (void)t1;
}

static const bu_ops ops = {c_ready, c_down, c_answer, NULL};

static void on_tick(uv_timer_t *t)
{
    cthread *th = t->data;
    if (atomic_load(&G.stop)) {
        uv_timer_stop(t);
        for (int i = 0; i < th->n; i++) {
            uv_timer_stop(&th->cl[i].retry);
            bu_close(&th->cl[i].c, "bench over");
        }
        return;
    }
    while (th->next_connect < th->n && th->connecting < CONNECTS_AT_ONCE) {
        sclient *s = &th->cl[th->next_connect++];
        th->connecting++;
        th->attempts++;
        bu_connect(&s->c);
    }
    th->tls_full = (long)th->x.full_handshakes;
    th->tls_done = (long)th->x.handshakes;
    th->cpu_s = bu_thread_cpu_s();
}

static void *cthread_main(void *ud)
{
    cthread *th = ud;
    uv_run(&th->loop, UV_RUN_DEFAULT);
    th->cpu_s = bu_thread_cpu_s();
    return NULL;
}

static int cthread_start(cthread *th, int first, int n)
{
    uv_loop_init(&th->loop);
    th->loop.data = th;
    if (bu_ctx_init(&th->x, &th->loop, G.ca, atomic_load(&G.port)) != 0)
        return -1;
    th->n = n;
    th->cl = calloc((size_t)n, sizeof *th->cl);
    if (!th->cl)
        return -1;
    for (int i = 0; i < n; i++) {
        sclient *s = &th->cl[i];
        int k = first + i, site = k % opt.sites;
        s->desk = (k / opt.sites) % (opt.boards_per_desk + 1) == 0;
        bu_conn_init(&s->c, &th->x, &ops, s);
        uv_timer_init(&th->loop, &s->retry);
        s->retry.data = s;
        char loc[16];
        snprintf(loc, sizeof loc, "site%d", site);
        if (s->desk) {
            snprintf(s->topic[0], sizeof s->topic[0], "flow/%s", loc);
            snprintf(s->topic[1], sizeof s->topic[1], "schedule/location/%s/%s", loc, G.today);
            snprintf(s->topic[2], sizeof s->topic[2], "board/%s", loc);
            const char *tp[3] = {s->topic[0], s->topic[1], s->topic[2]};
            bu_conn_token(&s->c, G.desk_token[site], "bench desk");
            bu_conn_topics(&s->c, tp, 3);
            bu_conn_load(&s->c, PM__ENVELOPE__BODY_GET_FLOW, strdup(loc));
        } else {
            snprintf(s->topic[0], sizeof s->topic[0], "board/%s", loc);
            const char *tp[1] = {s->topic[0]};
            bu_conn_token(&s->c, G.board_token[site], "bench board");
            bu_conn_topics(&s->c, tp, 1);
            bu_conn_load(&s->c, PM__ENVELOPE__BODY_GET_BOARD, strdup(loc));
        }
    }
    uv_timer_init(&th->loop, &th->tick);
    th->tick.data = th;
    uv_timer_start(&th->tick, on_tick, 1, 5);
    return pthread_create(&th->th, NULL, cthread_main, th);
}

/* ---- the control client ---- */

typedef struct ctl_sample {
    uint64_t t_end;
    uint32_t us;
    int ok;
    int reconnect; /* the first answer after a failure: it includes pc's reconnect */
} ctl_sample;

static struct {
    pthread_t th;
    pc_client *c;
    ctl_sample *s;
    _Atomic size_t n;
    _Atomic int stop;
} C;

static void *ctl_main(void *ud)
{
    (void)ud;
    uint64_t k = 0;
    int failed = 0;
    while (!atomic_load(&C.stop)) {
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e, *resp = NULL;
        if (k++ % 2) {
            e = pc_env(&a, PM__ENVELOPE__BODY_GET_BOARD);
            e->get_board = pm_msg_new(&a, &pm__get_board__descriptor);
            e->get_board->location = "site0";
        } else {
            e = pc_env(&a, PM__ENVELOPE__BODY_PING);
            e->ping = pm_msg_new(&a, &pm__ping__descriptor);
        }
        uint64_t t0 = bs_now_us();
        int rc = pc_call(C.c, e, &a, &resp);
        uint64_t t1 = bs_now_us();
        pm_arena_free(&a);
        size_t i = atomic_load(&C.n);
        if (i < CTL_SAMPLES) {
            C.s[i].t_end = t1;
            C.s[i].us = (uint32_t)(t1 - t0);
            C.s[i].ok = rc == PM_OK;
            C.s[i].reconnect = rc == PM_OK && failed;
            atomic_store(&C.n, i + 1);
        }
        failed = rc != PM_OK;
        bs_sleep_us(rc == PM_OK ? 5000 : 2000);
    }
    return NULL;
}

/* The control's answers that ended in [t0, t1): latency figures under prefix. */
static void ctl_window(const char *prefix, uint64_t t0, uint64_t t1)
{
    bs_lat l = {0};
    size_t n = atomic_load(&C.n), fails = 0;
    uint64_t reconnect_us = 0;
    for (size_t i = 0; i < n; i++) {
        if (C.s[i].t_end < t0 || C.s[i].t_end >= t1)
            continue;
        if (C.s[i].reconnect)
            reconnect_us = C.s[i].us;
        else if (C.s[i].ok)
            bs_lat_add(&l, C.s[i].us);
        else
            fails++;
    }
    char m[128];
    if (reconnect_us) {
        snprintf(m, sizeof m, "%s.control.reconnect", prefix);
        bs_result(m, (double)reconnect_us / 1000.0, "ms");
    }
    bs_lat_sort(&l);
    snprintf(m, sizeof m, "%s.control.answers", prefix);
    bs_result(m, (double)l.n, "requests");
    snprintf(m, sizeof m, "%s.control.failed", prefix);
    bs_result(m, (double)fails, "requests");
    snprintf(m, sizeof m, "%s.control.p50", prefix);
    bs_result(m, (double)bs_lat_pct(&l, 0.5) / 1000.0, "ms");
    snprintf(m, sizeof m, "%s.control.p99", prefix);
    bs_result(m, (double)bs_lat_pct(&l, 0.99) / 1000.0, "ms");
    snprintf(m, sizeof m, "%s.control.max", prefix);
    bs_result(m, (double)bs_lat_pct(&l, 1.0) / 1000.0, "ms");
    bs_lat_free(&l);
}

/* ---- the storm ---- */

static int all_ready(cthread *th)
{
    int r = 0;
    for (int i = 0; i < opt.threads; i++)
        r += atomic_load(&th[i].ready);
    return r;
}

static long sum_l(cthread *th, size_t off)
{
    long s = 0;
    for (int i = 0; i < opt.threads; i++)
        s += atomic_load((_Atomic long *)((char *)&th[i] + off));
    return s;
}

static double sum_cpu(cthread *th)
{
    double s = 0;
    for (int i = 0; i < opt.threads; i++)
        s += atomic_load(&th[i].cpu_s);
    return s;
}

/* Waits until every client is ready (or timeout); the time it happened, or 0. */
static uint64_t wait_all(cthread *th, double timeout_s)
{
    uint64_t dl = bs_now_us() + (uint64_t)(timeout_s * 1e6);
    while (bs_now_us() < dl) {
        if (all_ready(th) == opt.clients)
            return bs_now_us();
        bs_sleep_us(2000);
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int storm(ts_server *s, cthread *th, const char *tag, int drop_tickets)
{
    char m[128];
    printf("# ---- storm: %s ----\n", tag);
    long att0 = sum_l(th, offsetof(cthread, attempts)),
         ref0 = sum_l(th, offsetof(cthread, refused)),
         full0 = sum_l(th, offsetof(cthread, tls_full)),
         done0 = sum_l(th, offsetof(cthread, tls_done));
    double ccpu0 = sum_cpu(th), busy0 = bu_machine_busy_s(), self0 = bs_cpu_s(getpid());
    uint64_t t0 = bs_now_us();
    int port = s->port;
    int st = ts_stop(s, SIGTERM);
    uint64_t t_stopped = bs_now_us();
    if (drop_tickets) {
        char path[400];
        snprintf(path, sizeof path, "%s/tickets.key", s->dir);
        if (unlink(path) != 0)
            printf("# cannot delete %s: %s\n", path, strerror(errno));
    }
    char args[64];
    snprintf(args, sizeof args, "--listen 127.0.0.1:%d", port);
    if (ts_start(s, args) != 0)
        return -1;
    uint64_t t_listen = bs_now_us();
    double scpu0 = bs_cpu_s(s->pid); /* its start-up (LMDB, TLS keys) is not the storm's */
    printf("# server stopped (status %d) in %.0f ms; the new one listened %.0f ms later\n", st,
           (double)(t_stopped - t0) / 1000.0, (double)(t_listen - t_stopped) / 1000.0);
    uint64_t t_all = wait_all(th, opt.wait_s);
    uint64_t t_end = t_all ? t_all : bs_now_us();
    bs_sleep_us(20000); /* the client threads publish their counters every 5 ms */
    double scpu1 = bs_cpu_s(s->pid), ccpu1 = sum_cpu(th), busy1 = bu_machine_busy_s(),
           self1 = bs_cpu_s(getpid());
    int back = all_ready(th);
    /* the clients' own times back, from the SIGTERM */
    uint64_t *tb = calloc((size_t)opt.clients, sizeof *tb);
    size_t nb = 0;
    uint32_t max_attempts = 0;
    for (int i = 0; i < opt.threads; i++)
        for (int k = 0; k < th[i].n; k++) {
            sclient *c = &th[i].cl[k];
            uint64_t tback = __atomic_load_n(&c->t_back, __ATOMIC_RELAXED);
            if (tback > t0)
                tb[nb++] = tback - t0;
        }
    qsort(tb, nb, sizeof *tb, cmp_u64);
    double secs = (double)(t_end - t_listen) / 1e6;
    snprintf(m, sizeof m, "storm.%s.back", tag);
    bs_result(m, back, "clients");
    snprintf(m, sizeof m, "storm.%s.all_back_from_sigterm", tag);
    bs_result(m, t_all ? (double)(t_all - t0) / 1e6 : -1, "s");
    snprintf(m, sizeof m, "storm.%s.all_back_from_listen", tag);
    bs_result(m, t_all ? (double)(t_all - t_listen) / 1e6 : -1, "s");
    snprintf(m, sizeof m, "storm.%s.stop_to_listen", tag);
    bs_result(m, (double)(t_listen - t0) / 1e6, "s");
    if (nb) {
        snprintf(m, sizeof m, "storm.%s.client_back_p50", tag);
        bs_result(m, (double)tb[nb / 2] / 1e6, "s");
        snprintf(m, sizeof m, "storm.%s.client_back_p99", tag);
        bs_result(m, (double)tb[(size_t)(nb * 0.99) < nb ? (size_t)(nb * 0.99) : nb - 1] / 1e6,
                  "s");
    }
    free(tb);
    long attempts = sum_l(th, offsetof(cthread, attempts)) - att0,
         refused = sum_l(th, offsetof(cthread, refused)) - ref0,
         full = sum_l(th, offsetof(cthread, tls_full)) - full0,
         done = sum_l(th, offsetof(cthread, tls_done)) - done0;
    (void)max_attempts;
    snprintf(m, sizeof m, "storm.%s.connect_attempts", tag);
    bs_result(m, (double)attempts, "connects");
    snprintf(m, sizeof m, "storm.%s.refused_while_down", tag);
    bs_result(m, (double)refused, "connects");
    snprintf(m, sizeof m, "storm.%s.client_handshakes", tag);
    bs_result(m, (double)done, "handshakes");
    snprintf(m, sizeof m, "storm.%s.client_full_handshakes", tag);
    bs_result(m, (double)full, "handshakes");
    /* the server's own counters (since its start; the control's reconnect is among them) */
    pc_opts po = {.host = "127.0.0.1", .port = s->port, .ca_file = s->ca, .timeout_ms = 30000};
    pc_client *mgr = pc_new(&po);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Stats *stt = NULL;
    uint64_t srv_hs = 0, srv_res = 0;
    if (mgr) {
        pc_set_token(mgr, pc_token(C.c), 32);
        if (pc_connect(mgr) == PM_OK && bs_get_stats(mgr, &a, &stt) == PM_OK) {
            srv_hs = stt->tls_handshakes;
            srv_res = stt->tls_resumed;
            snprintf(m, sizeof m, "storm.%s.server.tls_handshakes", tag);
            bs_result(m, (double)srv_hs, "handshakes");
            snprintf(m, sizeof m, "storm.%s.server.tls_resumed", tag);
            bs_result(m, (double)srv_res, "handshakes");
            snprintf(m, sizeof m, "storm.%s.server.tls_deferred", tag);
            bs_result(m, (double)stt->tls_deferred, "steps");
            snprintf(m, sizeof m, "storm.%s.server.connections", tag);
            bs_result(m, (double)stt->connections, "connections");
        }
    }
    pm_arena_free(&a);
    pc_free(mgr);
    double scpu = scpu1 - scpu0, ccpu = ccpu1 - ccpu0;
    snprintf(m, sizeof m, "storm.%s.server.cpu", tag);
    bs_result(m, scpu, "s");
    snprintf(m, sizeof m, "storm.%s.server.cpu_per_client_back", tag);
    bs_result(m, back ? scpu / back * 1000.0 : 0, "ms");
    snprintf(m, sizeof m, "storm.%s.server.cores", tag);
    bs_result(m, secs > 0 ? scpu / secs : 0, "cores");
    snprintf(m, sizeof m, "storm.%s.bench_clients.cpu_per_client_back", tag);
    bs_result(m, back ? ccpu / back * 1000.0 : 0, "ms");
    double others = (busy1 - busy0) - (self1 - self0) - scpu;
    double wall = (double)(t_end - t0) / 1e6;
    snprintf(m, sizeof m, "storm.%s.other_processes_cpu", tag);
    bs_result(m, others > 0 && wall > 0 ? others / wall : 0, "cores");
    snprintf(m, sizeof m, "storm.%s", tag);
    ctl_window(m, t0, t_end); /* its own reconnect, then its answers among the storm */
    if (th[0].first_error[0])
        printf("# a client's first failure after TLS: %s\n", th[0].first_error);
    char target[128];
    snprintf(target, sizeof target, "%d clients back after a restart (%s) in < %.0f s", opt.clients,
             tag, TARGET_S);
    double from_sigterm = t_all ? (double)(t_all - t0) / 1e6 : -1;
    bs_verdict(target, t_all && from_sigterm < TARGET_S,
               "%d back; %.2f s from SIGTERM, %.2f s from listening; %llu of %llu server "
               "handshakes resumed",
               back, from_sigterm, t_all ? (double)(t_all - t_listen) / 1e6 : -1,
               (unsigned long long)srv_res, (unsigned long long)srv_hs);
    bs_sleep_us(1000000);
    return t_all ? 0 : -1;
}

static int make_tokens(ts_server *s, pc_client *mgr)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    int rc = 0;
    for (int i = 0; i < opt.sites && !rc; i++) {
        char loc[16], name[32];
        snprintf(loc, sizeof loc, "site%d", i);
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PUT_LOCATION), *resp;
        e->put_location = pm_msg_new(&a, &pm__put_location__descriptor);
        e->put_location->location = pm_msg_new(&a, &pm__location__descriptor);
        e->put_location->location->id = loc;
        e->put_location->location->name = loc;
        if (pc_call(mgr, e, &a, &resp) != PM_OK) {
            fprintf(stderr, "location %s: %s\n", loc, pc_last_error(mgr));
            rc = -1;
            break;
        }
        snprintf(name, sizeof name, "board-%s", loc);
        pc_client *d = ts_display(s, mgr, name, loc);
        snprintf(name, sizeof name, "desk-%s", loc);
        pc_client *k = d ? ts_user(s, mgr, name, PM__ROLE__RECEPTIONIST) : NULL;
        if (!d || !k)
            rc = -1;
        else {
            memcpy(G.board_token[i], pc_token(d), 32);
            memcpy(G.desk_token[i], pc_token(k), 32);
        }
        pc_free(d);
        pc_free(k);
        pm_arena_free(&a);
    }
    pm_arena_free(&a);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"clients", required_argument, 0, 'n'}, {"sites", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'}, {"boards-per-desk", required_argument, 0, 'b'},
        {"no-full", no_argument, 0, 'F'},       {"steady", required_argument, 0, 'S'},
        {"wait", required_argument, 0, 'w'},    {"dir", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'n':
            opt.clients = atoi(optarg);
            break;
        case 's':
            opt.sites = atoi(optarg);
            break;
        case 't':
            opt.threads = atoi(optarg);
            break;
        case 'b':
            opt.boards_per_desk = atoi(optarg);
            break;
        case 'F':
            opt.rounds_full = 0;
            break;
        case 'S':
            opt.steady = atof(optarg);
            break;
        case 'w':
            opt.wait_s = atof(optarg);
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
    if (optind < argc || opt.clients < 1 || opt.sites < 1 || opt.sites > 256 || opt.threads < 1 ||
        opt.threads > opt.clients || opt.boards_per_desk < 0) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    printf("# bench_storm: server %s\n", ts_practiced());
    bs_print_machine(opt.dir);
    long need = opt.clients + 300;
    long have = bs_raise_nofile(need);
    printf("# RLIMIT_NOFILE %ld (%ld needed here and in the server)\n", have, need);
    if (have < need) {
        fprintf(stderr, "bench_storm: the descriptor limit %ld is too low\n", have);
        return 2;
    }
    time_t now = time(NULL);
    struct tm tm;
    pm_tz_set("Europe/Paris");
    localtime_r(&now, &tm);
    strftime(G.today, sizeof G.today, "%Y-%m-%d", &tm);
    G.rng = (uint32_t)now;

    ts_server s;
    pc_client *mgr = NULL;
    cthread *th = calloc((size_t)opt.threads, sizeof *th);
    int rc = 1, started = 0, ctl_started = 0;
    C.s = calloc(CTL_SAMPLES, sizeof *C.s);
    if (!th || !C.s || bs_server_start(&s, opt.dir, NULL) != 0 || !(mgr = ts_manager(&s)) ||
        make_tokens(&s, mgr) != 0)
        goto out;
    G.ca = s.ca;
    atomic_store(&G.port, s.port);
    int desks = 0;
    for (int k = 0; k < opt.clients; k++)
        desks += (k / opt.sites) % (opt.boards_per_desk + 1) == 0;
    printf("# %d clients: %d boards, %d desks, over %d sites, in %d client threads\n", opt.clients,
           opt.clients - desks, desks, opt.sites, opt.threads);

    uint64_t t0 = bs_now_us();
    double scpu0 = bs_cpu_s(s.pid);
    for (int i = 0, at = 0; i < opt.threads; i++) {
        int n = opt.clients / opt.threads + (i < opt.clients % opt.threads);
        if (cthread_start(&th[i], at, n) != 0)
            goto out;
        started++;
        at += n;
    }
    if (!wait_all(th, 300)) {
        fprintf(stderr, "only %d of %d clients connected\n", all_ready(th), opt.clients);
        for (int i = 0; i < opt.threads; i++)
            if (th[i].first_error[0])
                fprintf(stderr, "  thread %d: %s\n", i, th[i].first_error);
        goto out;
    }
    double secs = (double)(bs_now_us() - t0) / 1e6;
    double scpu = bs_cpu_s(s.pid) - scpu0;
    bs_result("first_connect.clients", opt.clients, "clients");
    bs_result("first_connect.secs", secs, "s");
    bs_result("first_connect.server.cpu_per_client", scpu / opt.clients * 1000.0, "ms");
    bs_result("first_connect.bench_clients.cpu_per_client", sum_cpu(th) / opt.clients * 1000.0,
              "ms");
    bs_result("server.rss_with_clients", (double)bs_rss_kib(s.pid), "KiB");

    /* the control client: a manager on the pc library, one request at a time */
    C.c = mgr;
    mgr = NULL;
    pc_close(C.c);
    {
        pc_opts po = {.host = "127.0.0.1",
                      .port = s.port,
                      .ca_file = s.ca,
                      .client_name = "bench_storm control",
                      .timeout_ms = 30000,
                      .retries = -1};
        pc_client *c = pc_new(&po);
        pc_set_token(c, pc_token(C.c), 32);
        pc_free(C.c);
        C.c = c;
        if (pc_connect(C.c) != PM_OK) {
            fprintf(stderr, "control: %s\n", pc_last_error(C.c));
            goto out;
        }
    }
    ctl_started = pthread_create(&C.th, NULL, ctl_main, NULL) == 0;
    uint64_t ts0 = bs_now_us();
    bs_sleep_us((uint64_t)(opt.steady * 1e6));
    ctl_window("steady", ts0, bs_now_us());

    rc = storm(&s, th, "tickets", 0) != 0;
    if (opt.rounds_full)
        rc |= storm(&s, th, "no_tickets", 1) != 0;
    bs_print_load("after");
out:
    atomic_store(&G.stop, 1);
    atomic_store(&C.stop, 1);
    if (ctl_started)
        pthread_join(C.th, NULL);
    pc_free(C.c);
    for (int i = 0; i < started; i++) {
        pthread_join(th[i].th, NULL);
    }
    if (rc)
        fprintf(stderr, "bench_storm failed; server log: %s\n", s.log);
    pc_free(mgr);
    bs_server_finish(&s);
    return rc;
}
