/* Idempotency under reconnects: fifty desks race for one slot through a proxy that cuts
 * their connections, and each desk retries with its request key until it has an answer.
 * Exactly one booking exists, the winner's final answer is that booking, every other
 * desk's is SLOT_FULL naming it, and no patient is booked twice.
 *
 * The proxy reads TLS record headers (not their contents) to cut at chosen places: before
 * the server hears the Book (the client's third application record: Hello, Resume, Book),
 * halfway through it, when the server's answer comes back (the server did the work; the
 * desk never hears of it), halfway through that answer, or in the handshake. In the first
 * round every desk's first answer is lost, so the winner's retry must be answered from
 * its request key (Stats.replayed_answers counts it); in the second, cuts fall at random
 * and the writer holds each batch open for a while, so retries meet their first attempt
 * still in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pm_time.h"
#include "pm_util.h"
#include "sched_help.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NRACERS     50
#define CALL_ROUNDS 20 /* a desk calls again (same key) after pc_call's own retries */

static ts_server S;
static sh_clock K;
static pc_client *M, *R;
static uint8_t token[32];
static char mrns[NRACERS][24];
static pm_arena A;
static const char *DAY = "2026-06-01";

/* ---- the proxy ---- */

enum cut {
    CUT_NONE,
    CUT_REQUEST,      /* the Book never reaches the server */
    CUT_REQUEST_HALF, /* half of it does */
    CUT_ANSWER,       /* the server answered; the answer goes nowhere */
    CUT_ANSWER_HALF,  /* half of the answer reaches the client */
    CUT_HANDSHAKE,    /* somewhere in the server's handshake records */
    CUT_KINDS
};

static const char *const cut_names[CUT_KINDS] = {"none",   "request",        "half a request",
                                                 "answer", "half an answer", "handshake"};

typedef struct proxy {
    int lfd, port;
    pthread_t th;
    atomic_int stop;
    atomic_uint conns;
    atomic_uint forced; /* the first this many connections lose their answer */
    atomic_uint cuts[CUT_KINDS];
    atomic_uint seed;
} proxy;

typedef struct pair {
    proxy *p;
    int fd[2]; /* 0: the client's side, 1: the server's */
    enum cut cut;
    unsigned at_record; /* CUT_HANDSHAKE: the server's record number */
    int rst;
} pair;

static unsigned next_rand(proxy *p)
{
    unsigned s = atomic_fetch_add(&p->seed, 0x9e3779b9u);
    s ^= s >> 16;
    s *= 0x7feb352du;
    s ^= s >> 15;
    return s;
}

static int write_all(int fd, const uint8_t *b, size_t n)
{
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static void cut_now(pair *pr)
{
    if (pr->rst) {
        struct linger l = {1, 0};
        setsockopt(pr->fd[0], SOL_SOCKET, SO_LINGER, &l, sizeof l);
        setsockopt(pr->fd[1], SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    atomic_fetch_add(&pr->p->cuts[pr->cut], 1);
}

/* Whether record number rec (application record number app) from direction d is where
 * this pair is cut; *keep is how much of it still goes through. */
static int cut_here(const pair *pr, int d, unsigned rec, int type, unsigned app, size_t len,
                    size_t *keep)
{
    *keep = 0;
    switch (pr->cut) {
    case CUT_REQUEST:
    case CUT_REQUEST_HALF:
        if (d != 0 || type != 23 || app != 3)
            return 0;
        *keep = pr->cut == CUT_REQUEST_HALF ? len / 2 : 0;
        return 1;
    case CUT_ANSWER:
    case CUT_ANSWER_HALF:
        if (d != 1 || type != 23 || app != 3)
            return 0;
        *keep = pr->cut == CUT_ANSWER_HALF ? len / 2 : 0;
        return 1;
    case CUT_HANDSHAKE:
        if (d != 1 || type == 23 || rec != pr->at_record)
            return 0;
        *keep = len / 3;
        return 1;
    default:
        return 0;
    }
}

/* One connection: whole records are passed on as they come, until the cut. */
static void *pair_main(void *arg)
{
    pair *pr = arg;
    enum { CAP = 20000 };
    uint8_t buf[2][CAP];
    size_t len[2] = {0, 0};
    unsigned rec[2] = {0, 0}, app[2] = {0, 0};
    int done = 0;
    while (!done && !atomic_load(&pr->p->stop)) {
        struct pollfd pf[2] = {{pr->fd[0], POLLIN, 0}, {pr->fd[1], POLLIN, 0}};
        if (poll(pf, 2, 200) < 0 && errno != EINTR)
            break;
        for (int d = 0; d < 2 && !done; d++) {
            if (!(pf[d].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = recv(pr->fd[d], buf[d] + len[d], CAP - len[d], 0);
            if (n <= 0) {
                done = 1;
                break;
            }
            len[d] += (size_t)n;
            size_t off = 0;
            while (!done && len[d] - off >= 5) {
                const uint8_t *h = buf[d] + off;
                size_t rl = 5 + ((size_t)h[3] << 8 | h[4]);
                if (rl > CAP) {
                    done = 1; /* not TLS as we know it: give up on this one */
                    break;
                }
                if (len[d] - off < rl)
                    break;
                rec[d]++;
                if (h[0] == 23)
                    app[d]++;
                size_t keep;
                if (cut_here(pr, d, rec[d], h[0], app[d], rl, &keep)) {
                    write_all(pr->fd[!d], h, keep);
                    cut_now(pr);
                    done = 1;
                    break;
                }
                if (write_all(pr->fd[!d], h, rl) != 0)
                    done = 1;
                off += rl;
            }
            memmove(buf[d], buf[d] + off, len[d] - off);
            len[d] -= off;
        }
    }
    close(pr->fd[0]);
    close(pr->fd[1]);
    free(pr);
    return NULL;
}

static int connect_server(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void *accept_main(void *arg)
{
    proxy *p = arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd pf = {p->lfd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        int cfd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0)
            continue;
        int sfd = connect_server(S.port);
        pair *pr = sfd >= 0 ? calloc(1, sizeof *pr) : NULL;
        if (!pr) {
            close(cfd);
            if (sfd >= 0)
                close(sfd);
            continue;
        }
        pr->p = p;
        pr->fd[0] = cfd;
        pr->fd[1] = sfd;
        unsigned n = atomic_fetch_add(&p->conns, 1), r = next_rand(p);
        if (n < atomic_load(&p->forced)) {
            pr->cut = CUT_ANSWER;
        } else {
            /* four in ten go through; the rest are cut, mostly around the Book */
            static const enum cut mix[10] = {
                CUT_NONE,         CUT_NONE,   CUT_NONE,   CUT_NONE,        CUT_REQUEST,
                CUT_REQUEST_HALF, CUT_ANSWER, CUT_ANSWER, CUT_ANSWER_HALF, CUT_HANDSHAKE};
            pr->cut = mix[r % 10];
        }
        pr->at_record = 1 + (r >> 8) % 3;
        pr->rst = (r >> 12) & 1;
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, pair_main, pr) != 0) {
            close(cfd);
            close(sfd);
            free(pr);
        }
        pthread_attr_destroy(&at);
    }
    return NULL;
}

static int proxy_start(proxy *p, unsigned forced, unsigned seed)
{
    memset(p, 0, sizeof *p);
    atomic_store(&p->forced, forced);
    atomic_store(&p->seed, seed);
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(p->lfd, 256) != 0 || getsockname(p->lfd, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    p->port = ntohs(sa.sin_port);
    return pthread_create(&p->th, NULL, accept_main, p) == 0 ? 0 : -1;
}

static void proxy_stop(proxy *p)
{
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    close(p->lfd);
    usleep(300 * 1000); /* the pairs see stop within their poll's 200 ms */
}

/* ---- the desks ---- */

struct racer {
    int idx;
    int port;
    time_t start;
    int rc;
    unsigned calls;
    uint64_t appt;
    size_t nconflicts;
    uint64_t conflict0;
    char err[256];
};

static pthread_barrier_t barrier;

static void *racer_main(void *arg)
{
    struct racer *r = arg;
    pc_opts o = {.host = "127.0.0.1",
                 .port = r->port,
                 .ca_file = S.ca,
                 .client_name = "racer",
                 .timeout_ms = 20000,
                 .connect_timeout_ms = 5000,
                 .retries = 6};
    pc_client *c = pc_new(&o);
    pm_arena a;
    pm_arena_init(&a, 0);
    r->rc = PM_E_NOMEM;
    if (c) {
        pc_set_token(c, token, 32);
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_BOOK), *resp = NULL;
        e->book = sh_book_req(&a, mrns[r->idx], "dr-race", "checkup", r->start);
        pthread_barrier_wait(&barrier);
        /* pc_call keeps the request key it gave e the first time: every call below and
         * every retry inside it is the same request */
        do {
            r->calls++;
            r->rc = pc_call(c, e, &a, &resp);
        } while ((r->rc == PM_E_CLOSED || r->rc == PM_E_IO || r->rc == PM_E_TIMEOUT ||
                  r->rc == PM_E_CONNECT || r->rc == PM_E_TLS) &&
                 r->calls < CALL_ROUNDS);
        if (r->rc == PM_OK && resp->body_case == PM__ENVELOPE__BODY_APPOINTMENT_OK) {
            r->appt = resp->appointment_ok->appointment->id;
        } else {
            snprintf(r->err, sizeof r->err, "%s", pc_last_error(c));
            const Pm__Error *er = pc_last_error_detail(c);
            if (er) {
                r->nconflicts = er->n_conflicts;
                r->conflict0 = er->n_conflicts ? er->conflicts[0] : 0;
            }
        }
        pc_free(c);
    } else {
        pthread_barrier_wait(&barrier);
    }
    pm_arena_free(&a);
    return NULL;
}

static uint64_t replayed_now(void)
{
    Pm__Stats *st;
    SH_EXPECT(M, sh_stats(M, &A, &st), PM_OK);
    return st->replayed_answers;
}

static void race(const char *label, time_t start, unsigned forced, unsigned seed, int must_replay)
{
    proxy p;
    assert_int_equal(proxy_start(&p, forced, seed), 0);
    static struct racer rs[NRACERS];
    pthread_t th[NRACERS];
    uint64_t replayed0 = replayed_now();
    pthread_barrier_init(&barrier, NULL, NRACERS + 1);
    for (int i = 0; i < NRACERS; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].idx = i;
        rs[i].port = p.port;
        rs[i].start = start;
        pthread_create(&th[i], NULL, racer_main, &rs[i]);
    }
    uint64_t t0 = pm_mono_us();
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < NRACERS; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(pm_mono_us() - t0) / 1e6;
    pthread_barrier_destroy(&barrier);
    proxy_stop(&p);
    uint64_t replayed = replayed_now() - replayed0;

    int ok = 0, full = 0, winner = -1;
    unsigned calls = 0, most = 0;
    for (int i = 0; i < NRACERS; i++) {
        calls += rs[i].calls;
        if (rs[i].calls > most)
            most = rs[i].calls;
        if (rs[i].rc == PM_OK && rs[i].appt) {
            ok++;
            winner = i;
        } else if (rs[i].rc == PM_E_SLOT_FULL) {
            full++;
        } else {
            print_error("racer %d: %s: %s\n", i, pm_strerror(rs[i].rc), rs[i].err);
        }
    }
    unsigned cut_total = 0;
    char cuts[256] = "";
    size_t o = 0;
    for (int k = 1; k < CUT_KINDS; k++) {
        unsigned n = atomic_load(&p.cuts[k]);
        cut_total += n;
        o += (size_t)snprintf(cuts + o, sizeof cuts - o, "%s%u %s", k > 1 ? ", " : "", n,
                              cut_names[k]);
    }
    print_message("      %s: %u connections, %u cut (%s)\n", label, atomic_load(&p.conns),
                  cut_total, cuts);
    print_message("      %s: %d booked, %d SLOT_FULL in %.1f s; %u pc_call rounds (at most %u "
                  "for one desk); %llu answer(s) replayed from request keys\n",
                  label, ok, full, secs, calls, most, (unsigned long long)replayed);
    assert_int_equal(ok, 1);
    assert_int_equal(full, NRACERS - 1);
    assert_true(cut_total > 0);
    if (must_replay)
        assert_true(replayed >= 1);
    for (int i = 0; i < NRACERS; i++) {
        if (i == winner)
            continue;
        assert_int_equal(rs[i].nconflicts, 1);
        assert_int_equal(rs[i].conflict0, rs[winner].appt);
    }
    /* one appointment at that time, the winner's */
    Pm__Schedule *s;
    SH_EXPECT(M, sh_schedule(M, &A, "dr-race", NULL, NULL, DAY, 1, &s), PM_OK);
    int at_start = 0;
    for (size_t i = 0; i < s->days[0]->n_appointments; i++) {
        const Pm__Appointment *x = s->days[0]->appointments[i];
        if (x->start == start && x->status == PM__APPOINTMENT_STATUS__BOOKED) {
            at_start++;
            assert_int_equal(x->id, rs[winner].appt);
            assert_string_equal(x->patient_mrn, mrns[winner]);
        }
    }
    assert_int_equal(at_start, 1);
    /* and no desk's retry booked its patient anywhere: each patient has at most the one */
    for (int i = 0; i < NRACERS; i++) {
        Pm__AppointmentList *al;
        SH_EXPECT(M, sh_patient_appts(M, &A, mrns[i], 0, &al), PM_OK);
        int has = 0;
        for (size_t k = 0; k < al->n_appointments; k++)
            has += al->appointments[k]->start == start &&
                   al->appointments[k]->status == PM__APPOINTMENT_STATUS__BOOKED;
        assert_int_equal(has, i == winner);
    }
    pm_arena_free(&A);
    pm_arena_init(&A, 0);
}

/* ---- the tests ---- */

static int setup(void **state)
{
    (void)state;
    sh_tz();
    pm_arena_init(&A, 0);
    if (ts_init(&S, NULL))
        return -1;
    sh_clock_init(&K, &S, sh_local("2026-05-01", 8, 0));
    if (ts_start(&S, NULL))
        return -1;
    M = ts_manager(&S);
    R = M ? ts_user(&S, M, "racer", PM__ROLE__RECEPTIONIST) : NULL;
    if (!R)
        return -1;
    memcpy(token, pc_token(R), 32);
    pm_arena a;
    pm_arena_init(&a, 0);
    sh_block mornings = {0, 8 * 60, 12 * 60, NULL, 1, NULL};
    int rc = sh_location(M, &a, "main", "Main Street") ||
             sh_provider(M, &a, "dr-race", "Dr Race", "main") ||
             sh_visit_type(M, &a, "checkup", 30, 0, NULL) ||
             sh_template(M, &a, "dr-race", "2026-01-01", NULL, &mornings, 1, NULL, 0);
    for (int i = 0; i < NRACERS && !rc; i++) {
        char last[32];
        snprintf(last, sizeof last, "Retry%02d", i);
        rc = sh_patient(R, &a, "Cut", last, mrns[i]);
        pm_arena_free(&a);
    }
    if (rc)
        fprintf(stderr, "set-up: %s / %s\n", pc_last_error(M), pc_last_error(R));
    pm_arena_free(&a);
    return rc ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_free(R);
    pc_free(M);
    pm_arena_free(&A);
    int rc = ts_stop(&S, SIGTERM);
    char out[4096];
    if (rc == 0 && ts_sh(out, sizeof out, "%s check --data %s", ts_practiced(), S.dir) != 0) {
        fprintf(stderr, "practiced check:\n%s\n", out);
        rc = -1;
    }
    if (rc == 0)
        ts_cleanup(&S);
    return rc;
}

static void test_every_first_answer_lost(void **state)
{
    (void)state;
    race("first answers lost", sh_local(DAY, 9, 0), NRACERS, 1, 1);
}

static void test_random_cuts_slow_writer(void **state)
{
    (void)state;
    pc_free(R);
    pc_free(M);
    R = M = NULL;
    assert_int_equal(ts_stop(&S, SIGTERM), 0);
    /* each batch held open 50 ms: a retry can come while its first attempt waits */
    assert_int_equal(ts_start(&S, "--writer-delay-ms 50"), 0);
    M = ts_manager(&S);
    assert_non_null(M);
    race("random cuts, --writer-delay-ms 50", sh_local(DAY, 10, 0), 0, 7, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_first_answer_lost),
        cmocka_unit_test(test_random_cuts_slow_writer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
