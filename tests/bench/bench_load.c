/* bench_load: a peak day of a group practice, replayed against one server.
 *
 * --sites N locations (default 20; 1 is one small practice, 200 a large group on one
 * server). Each site has --providers (4) providers with a weekly template (every day
 * 08:00-18:00, so that the bench runs on any day), two exam rooms per provider, --patients
 * (300) patients, and today --visits (24) appointments per provider. On the wire, per site:
 *
 *   --desks (2) reception desks: a receptionist's session, subscribed as the desk is
 *               (flow/<site>, schedule/location/<site>/<today>, board/<site>), loading
 *               GetFlow once connected; each desk does one request at a time
 *   --boards (2) waiting-room displays: the site's display device, subscribed to
 *               board/<site>, loading GetBoard
 *   and for the whole practice --managers (1 + sites/10) back-office connections reading
 *   schedules.
 *
 * The practice's day (08:00-18:00) is played in --day-secs (120) seconds of wall time: each
 * appointment's patient arrives about on time (10 minutes early to 5 late), is roomed when
 * one of the site's rooms is free after a wait of 2-15 minutes, seen 1-5 minutes later and
 * checked out after a 15-25 minute visit, each step a FlowStep from a desk of the site. Over
 * the same day each site's desks book --bookings (120) appointments for the coming four
 * weeks (SearchPatients by three letters of a name, FindSlots at the site, Book the first
 * slot), move one in six of them (FindSlots, Move), cancel one in eight, read the site's day
 * (GetSchedule, 60) and reload the flow (GetFlow, 20); the managers read 20 schedules per
 * site (a location's day, a provider's week). Requests are sent when due (open loop), by
 * the first idle desk of the site; `lag` is how long a due request waited for a desk.
 *
 * Printed: per request type the count, rate, and p50/p99/p999/max measured from sending to
 * the answer (TLS both ways); events received per second by desks and boards, and for
 * FlowChanged the time from the step's request to its arrival at the site's desks; the
 * server's CPU (cores, by thread), its RSS (peak and end), and the server-side GetStats
 * figures; other processes' CPU meanwhile.
 *
 * Everything runs on one client thread (one libuv loop, bench_uv), so the clients' own CPU
 * is at most one core; it is printed. */
#include "bench_common.h"
#include "bench_uv.h"
#include "sched_help.h"

#include "pm_err.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROOMS_PER_PROV 2
#define SLOTS_PER_DAY  30 /* 20-minute slots, 08:00-18:00 */
#define LOADERS        4
#define LOAD_DEPTH     32
#define DAY_S          36000.0
#define CONNECTS_MAX   64
#define FUTURE_DAYS    28

static struct {
    int sites, providers, desks, boards, managers, patients, visits, bookings;
    double day_secs, restart_at;
    const char *dir;
} opt = {20, 4, 2, 2, -1, 300, 24, 120, 120.0, 0.0, "/tmp"};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_load [options]\n\n"
            "A peak day of a group practice replayed against one server: desks booking,\n"
            "moving, cancelling, checking patients in, rooming and out; boards and desks\n"
            "subscribed; managers reading schedules.\n\n"
            "  --sites N      locations (default %d)\n"
            "  --providers N  per site (default %d)\n"
            "  --desks N      reception desks per site (default %d)\n"
            "  --boards N     waiting-room displays per site (default %d)\n"
            "  --managers N   back-office connections for the practice (default 1 + sites/10)\n"
            "  --patients N   per site (default %d)\n"
            "  --visits N     today's appointments per provider (default %d, at most %d)\n"
            "  --bookings N   future bookings per site over the day (default %d)\n"
            "  --day-secs S   wall seconds the 10-hour day is played in (default %.0f)\n"
            "  --restart-at F restart the server (SIGTERM, then serve again on the same port)\n"
            "                 when the fraction F of the day has passed (0.5: at midday;\n"
            "                 default 0: no restart); every desk and board comes back as the\n"
            "                 real ones do, and each board's events are checked for gaps\n"
            "  --dir DIR      where the data directory goes (default %s)\n"
            "  --help\n",
            opt.sites, opt.providers, opt.desks, opt.boards, opt.patients, opt.visits,
            SLOTS_PER_DAY, opt.bookings, opt.day_secs, opt.dir);
}

/* ---- request types ---- */

enum {
    T_ARRIVE,
    T_TO_ROOM,
    T_SEE,
    T_CHECK_OUT,
    T_SEARCH,
    T_FIND_SLOTS,
    T_BOOK,
    T_MOVE,
    T_CANCEL,
    T_DESK_SCHEDULE,
    T_GET_FLOW,
    T_MGR_SCHEDULE,
    T_N
};
static const char *const tname[T_N] = {
    "flow_arrive", "flow_to_room", "flow_see", "flow_check_out", "search",   "find_slots",
    "book",        "move",         "cancel",   "desk_schedule",  "get_flow", "manager_schedule"};

static struct {
    bs_lat lat[T_N];
    uint64_t ok[T_N], err[T_N], conflicts[T_N], by_code[T_N][PM_WIRE_ERR_MAX + 1];
    char first_err[T_N][160], first_conflict[T_N][160];
    bs_lat lag, ev_flow;
    uint64_t ev_desk, ev_board, ev_other;
    int measuring;
} R;

/* The restart (--restart-at): when, what it cost, who came back. */
static struct {
    uint64_t t_sigterm, t_stopped, t_listen, t_all_back;
    double scpu_before, scpu_mark; /* the old server's CPU in the day; the new one's at start */
    int done, failed, back, down_at_restart;
    uint64_t lost_tasks;
    bs_lat back_lat; /* each connection's time back, from the SIGTERM */
} RS;

/* ---- the practice ---- */

typedef struct appt {
    uint64_t id;
    int site, prov, status, room;
    uint64_t t_sent; /* the latest flow step's request */
} appt;

typedef struct fut {
    uint64_t id;
    uint32_t version;
    int prov;
} fut;

/* A desk's task: search, find, book; find, move; cancel; one flow step; one read. */
enum { K_BOOK, K_MOVE, K_CANCEL, K_SCHEDULE, K_FLOW_READ, K_STEP, K_MGR };

typedef struct task {
    uint64_t due;
    int kind, site;
    appt *a; /* K_STEP */
    int step;
} task;

typedef struct site {
    char id[16];
    char prov[16][40];
    char room[16 * ROOMS_PER_PROV][40];
    int room_busy[16 * ROOMS_PER_PROV];
    char (*mrn)[24];
    char **last;
    int npat;
    uint8_t desk_token[32], board_token[32];
    fut *fut;
    int nfut, capfut;
    task *q; /* due tasks waiting for a desk */
    int qh, qn, qcap;
    struct conn *idle[8];
    int nidle;
} site;

static site *S;
static appt *A;
static int NA;
static uint64_t A_min_id;
static appt **AI; /* today's appointments by id - A_min_id */
static uint64_t NAI;
static char today[11];
static uint8_t mgr_token[32];
static bs_rng rng;

/* ---- connections ---- */

enum { C_DESK, C_BOARD, C_MGR, C_LOADER };

typedef struct conn {
    bu_conn c;
    int kind, site;
    int busy;
    task t;
    int tstep; /* request within the task */
    uint64_t t_due;
    char pick_mrn[24];
    int pick_prov, pick_vt;
    fut pick_fut;
    uv_timer_t retry; /* the next reconnect, after the server went away */
    uint64_t backoff_ms;
    int was_up;
    uint64_t events, seq0; /* events since it first subscribed, and the seq it started at */
} conn;

static conn *CN;
static int NCN;
static uv_loop_t loop;
static int loop_inited;
static bu_ctx X;
static uv_timer_t tick;

/* ---- a timer heap of tasks ---- */

static task *H;
static size_t HN, HCAP;

static void heap_push(task t)
{
    if (HN == HCAP) {
        HCAP = HCAP ? HCAP * 2 : 4096;
        H = realloc(H, HCAP * sizeof *H);
    }
    size_t i = HN++;
    while (i && H[(i - 1) / 2].due > t.due) {
        H[i] = H[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    H[i] = t;
}

static task heap_pop(void)
{
    task top = H[0], last = H[--HN];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const task *cur = &last;
        if (l < HN && H[l].due < cur->due) {
            m = l;
            cur = &H[l];
        }
        if (r < HN && H[r].due < cur->due)
            m = r;
        if (m == i)
            break;
        H[i] = H[m];
        i = m;
    }
    H[i] = last;
    return top;
}

static uint64_t t_day0;
static double dayf; /* wall seconds per day second */

static uint64_t at_day(double day_s)
{
    if (day_s < 0)
        day_s = 0;
    return t_day0 + (uint64_t)(day_s * dayf * 1e6);
}

static double urand(double lo, double hi)
{
    return lo + (hi - lo) * (double)(bs_rand(&rng) >> 11) / 9007199254740992.0;
}

/* ---- sending ---- */

static void note_answer(int type, const Pm__Envelope *r, uint64_t sent, uint64_t now)
{
    if (!R.measuring)
        return;
    if (r->body_case == PM__ENVELOPE__BODY_ERROR) {
        int code = (int)r->error->code;
        if (code >= 0 && code <= PM_WIRE_ERR_MAX)
            R.by_code[type][code]++;
        if (code == PM__ERROR_CODE__SLOT_FULL || code == PM__ERROR_CODE__PATIENT_BUSY ||
            code == PM__ERROR_CODE__ROOM_BUSY || code == PM__ERROR_CODE__CONFLICT) {
            R.conflicts[type]++;
            if (!R.first_conflict[type][0])
                snprintf(R.first_conflict[type], sizeof R.first_conflict[type], "%s",
                         r->error->message);
        } else {
            R.err[type]++;
            if (!R.first_err[type][0])
                snprintf(R.first_err[type], sizeof R.first_err[type], "%s: %s", pm_err_name(-code),
                         r->error->message);
        }
    } else {
        R.ok[type]++;
    }
    bs_lat_add(&R.lat[type], now - sent);
}

static void conn_idle(conn *k);

static int send_env(conn *k, Pm__Envelope *e, int type)
{
    if (bu_send(&k->c, e, (uint64_t)type) != 0)
        return -1;
    return 0;
}

static char *day_after(pm_arena *a, int days)
{
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    localtime_r(&t, &tm);
    char *d = pm_arena_alloc(a, 11);
    strftime(d, 11, "%Y-%m-%d", &tm);
    return d;
}

static const char *const vtypes[] = {"visit", "follow", "checkup", "new"};

/* Sends the task's next request; 0 when sent, 1 when the task is over. */
static int task_next(conn *k)
{
    task *t = &k->t;
    site *st = &S[k->site < 0 ? t->site : k->site];
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = NULL;
    int type = -1;
    switch (t->kind) {
    case K_BOOK:
        if (k->tstep == 0) {
            int p = (int)bs_randn(&rng, (uint32_t)st->npat);
            snprintf(k->pick_mrn, sizeof k->pick_mrn, "%s", st->mrn[p]);
            e = pc_env(&a, PM__ENVELOPE__BODY_SEARCH_PATIENTS);
            e->search_patients = pm_msg_new(&a, &pm__search_patients__descriptor);
            char pre[16];
            bs_utf8_prefix(st->last[p], 3, pre, sizeof pre);
            e->search_patients->name = pm_arena_strdup(&a, pre);
            e->search_patients->limit = 20;
            type = T_SEARCH;
        } else if (k->tstep == 1) {
            k->pick_vt = (int)bs_randn(&rng, 4);
            e = pc_env(&a, PM__ENVELOPE__BODY_FIND_SLOTS);
            e->find_slots = sh_slots_req(&a, vtypes[k->pick_vt], NULL,
                                         day_after(&a, 1 + (int)bs_randn(&rng, FUTURE_DAYS)), NULL);
            e->find_slots->location = st->id;
            e->find_slots->count = 5;
            type = T_FIND_SLOTS;
        }
        break;
    case K_MOVE:
        if (k->tstep == 0) {
            if (!st->nfut) {
                t->kind = K_BOOK; /* nothing of ours to move yet */
                pm_arena_free(&a);
                return task_next(k);
            }
            int i = (int)bs_randn(&rng, (uint32_t)st->nfut);
            k->pick_fut = st->fut[i];
            st->fut[i] = st->fut[--st->nfut];
            e = pc_env(&a, PM__ENVELOPE__BODY_FIND_SLOTS);
            e->find_slots = sh_slots_req(&a, "visit", st->prov[k->pick_fut.prov],
                                         day_after(&a, 1 + (int)bs_randn(&rng, FUTURE_DAYS)), NULL);
            e->find_slots->count = 5;
            type = T_FIND_SLOTS;
        }
        break;
    case K_CANCEL:
        if (k->tstep == 0) {
            if (!st->nfut) {
                t->kind = K_BOOK;
                pm_arena_free(&a);
                return task_next(k);
            }
            int i = (int)bs_randn(&rng, (uint32_t)st->nfut);
            fut f = st->fut[i];
            st->fut[i] = st->fut[--st->nfut];
            e = pc_env(&a, PM__ENVELOPE__BODY_CANCEL);
            e->cancel = pm_msg_new(&a, &pm__cancel__descriptor);
            e->cancel->id = f.id;
            e->cancel->version = f.version;
            e->cancel->reason = "the patient called";
            type = T_CANCEL;
        }
        break;
    case K_SCHEDULE:
        if (k->tstep == 0) {
            e = pc_env(&a, PM__ENVELOPE__BODY_GET_SCHEDULE);
            e->get_schedule = pm_msg_new(&a, &pm__get_schedule__descriptor);
            e->get_schedule->location = st->id;
            e->get_schedule->date = today;
            type = T_DESK_SCHEDULE;
        }
        break;
    case K_FLOW_READ:
        if (k->tstep == 0) {
            e = pc_env(&a, PM__ENVELOPE__BODY_GET_FLOW);
            e->get_flow = pm_msg_new(&a, &pm__get_flow__descriptor);
            e->get_flow->location = st->id;
            type = T_GET_FLOW;
        }
        break;
    case K_MGR:
        if (k->tstep == 0) {
            e = pc_env(&a, PM__ENVELOPE__BODY_GET_SCHEDULE);
            e->get_schedule = pm_msg_new(&a, &pm__get_schedule__descriptor);
            e->get_schedule->date = today;
            if (bs_randn(&rng, 2)) {
                e->get_schedule->location = st->id;
            } else {
                e->get_schedule->provider = st->prov[bs_randn(&rng, (uint32_t)opt.providers)];
                e->get_schedule->days = 7;
            }
            type = T_MGR_SCHEDULE;
        }
        break;
    case K_STEP:
        if (k->tstep == 0) {
            appt *ap = t->a;
            e = pc_env(&a, PM__ENVELOPE__BODY_FLOW_STEP);
            e->flow_step = pm_msg_new(&a, &pm__flow_step__descriptor);
            e->flow_step->appointment_id = ap->id;
            e->flow_step->action = (Pm__FlowAction)t->step;
            if (t->step == PM__FLOW_ACTION__TO_ROOM)
                e->flow_step->room = st->room[ap->room];
            type = T_ARRIVE + t->step - PM__FLOW_ACTION__ARRIVE;
            ap->t_sent = bu_now_us();
        }
        break;
    }
    int rc = 1;
    if (e) {
        if (k->tstep == 0 && R.measuring)
            bs_lat_add(&R.lag, bu_now_us() - t->due);
        rc = send_env(k, e, type) == 0 ? 0 : 1;
    }
    pm_arena_free(&a);
    return rc;
}

/* ---- dispatching due tasks to idle desks ---- */

static conn **mgr_idle;
static int nmgr_idle;
static task *mq;
static size_t mqh, mqn, mqcap;

static void start_task(conn *k, task t)
{
    k->busy = 1;
    k->t = t;
    k->tstep = 0;
    if (task_next(k) != 0)
        conn_idle(k);
}

static void site_push(site *st, task t)
{
    if (st->qn == st->qcap) {
        int cap = st->qcap ? st->qcap * 2 : 16;
        task *q = malloc((size_t)cap * sizeof *q);
        for (int i = 0; i < st->qn; i++)
            q[i] = st->q[(st->qh + i) % st->qcap];
        free(st->q);
        st->q = q;
        st->qh = 0;
        st->qcap = cap;
    }
    st->q[(st->qh + st->qn++) % st->qcap] = t;
}

static void dispatch(task t)
{
    if (t.kind == K_MGR) {
        if (nmgr_idle) {
            start_task(mgr_idle[--nmgr_idle], t);
            return;
        }
        if (mqn == mqcap) {
            size_t cap = mqcap ? mqcap * 2 : 64;
            task *q = malloc(cap * sizeof *q);
            for (size_t i = 0; i < mqn; i++)
                q[i] = mq[(mqh + i) % mqcap];
            free(mq);
            mq = q;
            mqh = 0;
            mqcap = cap;
        }
        mq[(mqh + mqn++) % mqcap] = t;
        return;
    }
    site *st = &S[t.site];
    if (st->nidle) {
        start_task(st->idle[--st->nidle], t);
        return;
    }
    site_push(st, t);
}

static void conn_idle(conn *k)
{
    k->busy = 0;
    if (k->c.state != BU_READY)
        return;
    if (k->kind == C_MGR) {
        if (mqn) {
            task t = mq[mqh];
            mqh = (mqh + 1) % mqcap;
            mqn--;
            start_task(k, t);
        } else {
            mgr_idle[nmgr_idle++] = k;
        }
        return;
    }
    site *st = &S[k->site];
    if (st->qn) {
        task t = st->q[st->qh];
        st->qh = (st->qh + 1) % st->qcap;
        st->qn--;
        start_task(k, t);
    } else {
        st->idle[st->nidle++] = k;
    }
}

static void schedule_step(appt *ap, int step, double delay_day_s)
{
    task t = {.due = bu_now_us() + (uint64_t)(delay_day_s * dayf * 1e6),
              .kind = K_STEP,
              .site = ap->site,
              .a = ap,
              .step = step};
    heap_push(t);
}

/* A flow step's answer: the patient's next step, or the room given back. */
static void step_done(conn *k, const Pm__Envelope *r)
{
    appt *ap = k->t.a;
    site *st = &S[ap->site];
    int ok = r->body_case != PM__ENVELOPE__BODY_ERROR;
    switch (k->t.step) {
    case PM__FLOW_ACTION__ARRIVE:
        if (ok)
            schedule_step(ap, PM__FLOW_ACTION__TO_ROOM, urand(120, 900));
        break;
    case PM__FLOW_ACTION__TO_ROOM:
        if (ok) {
            schedule_step(ap, PM__FLOW_ACTION__SEE, urand(60, 300));
        } else {
            st->room_busy[ap->room] = 0;
            ap->room = -1;
        }
        break;
    case PM__FLOW_ACTION__SEE:
        if (ok)
            schedule_step(ap, PM__FLOW_ACTION__CHECK_OUT, urand(900, 1500));
        break;
    case PM__FLOW_ACTION__CHECK_OUT:
        if (ap->room >= 0)
            st->room_busy[ap->room] = 0;
        ap->room = -1;
        break;
    }
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    uint64_t now = bu_now_us();
    while (HN && H[0].due <= now) {
        task tk = heap_pop();
        if (tk.kind == K_STEP && tk.step == PM__FLOW_ACTION__TO_ROOM) {
            site *st = &S[tk.site];
            int nroom = opt.providers * ROOMS_PER_PROV, room = -1;
            for (int i = 0; i < nroom && room < 0; i++)
                if (!st->room_busy[i])
                    room = i;
            if (room < 0) { /* every room taken: look again in two minutes */
                tk.due = now + (uint64_t)(120 * dayf * 1e6);
                heap_push(tk);
                continue;
            }
            st->room_busy[room] = 1;
            tk.a->room = room;
        }
        dispatch(tk);
    }
}

/* ---- connection callbacks ---- */

static int connecting, next_connect, nready;

static void k_ready(bu_conn *c)
{
    conn *k = c->ud;
    nready++;
    if (k->was_up) { /* back after the restart */
        RS.back++;
        bs_lat_add(&RS.back_lat, bu_now_us() - RS.t_sigterm);
        if (RS.back == RS.down_at_restart)
            RS.t_all_back = bu_now_us();
    } else {
        connecting--;
        k->was_up = 1;
        k->seq0 = c->last_seq;
    }
    if (k->kind != C_BOARD && k->kind != C_LOADER)
        conn_idle(k);
}

static char first_down[200];
static int downs;
static uint32_t retry_rng = 12345;

static void idle_remove(conn *k)
{
    conn **v = k->kind == C_MGR ? mgr_idle : S[k->site].idle;
    int *n = k->kind == C_MGR ? &nmgr_idle : &S[k->site].nidle;
    for (int i = 0; i < *n; i++)
        if (v[i] == k) {
            v[i] = v[--*n];
            break;
        }
}

static void on_retry(uv_timer_t *t)
{
    conn *k = t->data;
    bu_connect(&k->c);
}

static void k_down(bu_conn *c, const char *why)
{
    conn *k = c->ud;
    int was_ready = c->t_ready != 0;
    if (was_ready)
        nready--;
    else if (!k->was_up)
        connecting--;
    if (strstr(why, "bench over"))
        return;
    if (!RS.t_sigterm) { /* no restart: a connection lost is a failure */
        downs++;
        if (!first_down[0])
            snprintf(first_down, sizeof first_down, "%s", why);
    }
    if (!k->was_up)
        return;
    /* The server went away: the task in hand is lost (a desk's person would look again),
     * a room it held is given back, and the connection comes back as the real screens do. */
    idle_remove(k);
    if (k->busy) {
        RS.lost_tasks++;
        if (k->t.kind == K_STEP) {
            Pm__Envelope lost = PM__ENVELOPE__INIT;
            lost.body_case = PM__ENVELOPE__BODY_ERROR;
            step_done(k, &lost);
        }
        k->busy = 0;
    }
    retry_rng = retry_rng * 1664525u + 1013904223u;
    uint64_t delay = bu_backoff_ms(k->kind != C_BOARD, was_ready, &k->backoff_ms, retry_rng >> 8);
    c->t_ready = 0;
    uv_timer_start(&k->retry, on_retry, delay, 0);
}

static void k_event(bu_conn *c, const Pm__Envelope *e, uint64_t now)
{
    conn *k = c->ud;
    if (e->body_case == PM__ENVELOPE__BODY_EVENT)
        k->events++;
    if (!R.measuring || e->body_case != PM__ENVELOPE__BODY_EVENT)
        return;
    if (k->kind == C_BOARD)
        R.ev_board++;
    else if (k->kind == C_DESK)
        R.ev_desk++;
    else
        R.ev_other++;
    if (k->kind == C_DESK && e->event->body_case == PM__EVENT__BODY_FLOW_CHANGED &&
        e->event->flow_changed->appointment) {
        uint64_t id = e->event->flow_changed->appointment->id;
        if (AI && id >= A_min_id && id < A_min_id + NAI && AI[id - A_min_id]) {
            appt *ap = AI[id - A_min_id];
            if (ap->t_sent && now > ap->t_sent)
                bs_lat_add(&R.ev_flow, now - ap->t_sent);
        }
    }
}

static void k_answer(bu_conn *c, uint64_t tag, const Pm__Envelope *r, uint64_t sent, uint64_t now)
{
    conn *k = c->ud;
    int type = (int)tag;
    note_answer(type, r, sent, now);
    int err = r->body_case == PM__ENVELOPE__BODY_ERROR;
    task *t = &k->t;
    site *st = &S[k->site < 0 ? t->site : k->site];
    k->tstep++;
    if (t->kind == K_BOOK && k->tstep == 1 && !err) {
        if (task_next(k) == 0)
            return;
    } else if (t->kind == K_BOOK && k->tstep == 2 && !err) {
        Pm__SlotList *sl = r->slot_list;
        if (sl && sl->n_slots) {
            const Pm__Slot *s = sl->slots[bs_randn(&rng, (uint32_t)sl->n_slots)];
            pm_arena a;
            pm_arena_init(&a, 0);
            Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_BOOK);
            e->book = sh_book_req(&a, k->pick_mrn, s->provider, vtypes[k->pick_vt], s->start);
            int rc = send_env(k, e, T_BOOK);
            pm_arena_free(&a);
            if (rc == 0)
                return;
        }
    } else if (t->kind == K_BOOK && k->tstep == 3 && !err) {
        const Pm__Appointment *ap = r->appointment_ok ? r->appointment_ok->appointment : NULL;
        if (ap) {
            if (st->nfut == st->capfut) {
                st->capfut = st->capfut ? st->capfut * 2 : 64;
                st->fut = realloc(st->fut, (size_t)st->capfut * sizeof *st->fut);
            }
            int p = 0;
            for (int i = 0; i < opt.providers; i++)
                if (strcmp(st->prov[i], ap->provider) == 0)
                    p = i;
            st->fut[st->nfut++] = (fut){ap->id, ap->version, p};
        }
    } else if (t->kind == K_MOVE && k->tstep == 1 && !err && r->slot_list &&
               r->slot_list->n_slots) {
        const Pm__Slot *s = r->slot_list->slots[bs_randn(&rng, (uint32_t)r->slot_list->n_slots)];
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_MOVE);
        e->move = sh_move_req(&a, k->pick_fut.id, k->pick_fut.version);
        e->move->start = s->start;
        int rc = send_env(k, e, T_MOVE);
        pm_arena_free(&a);
        if (rc == 0)
            return;
    } else if (t->kind == K_MOVE && k->tstep == 1) { /* no slot found: it stays where it is */
        if (st->nfut == st->capfut) {
            st->capfut = st->capfut ? st->capfut * 2 : 64;
            st->fut = realloc(st->fut, (size_t)st->capfut * sizeof *st->fut);
        }
        st->fut[st->nfut++] = k->pick_fut;
    } else if (t->kind == K_MOVE && k->tstep == 2) {
        if (!err && r->appointment_ok && r->appointment_ok->appointment)
            k->pick_fut.version = r->appointment_ok->appointment->version;
        if (st->nfut == st->capfut) {
            st->capfut = st->capfut ? st->capfut * 2 : 64;
            st->fut = realloc(st->fut, (size_t)st->capfut * sizeof *st->fut);
        }
        if (!err) /* a refused move leaves a version we may not know: let it be */
            st->fut[st->nfut++] = k->pick_fut;
    } else if (t->kind == K_STEP) {
        step_done(k, r);
    }
    conn_idle(k);
}

static const bu_ops ops = {k_ready, k_down, k_answer, k_event};

/* ---- set-up through pipelined manager connections ---- */

typedef struct stage {
    Pm__Envelope **e;
    size_t n, cap, next, answered, failed;
    void (*answer)(size_t i, const Pm__Envelope *r);
    char first_error[200];
} stage;

static stage *cur_stage;
static conn loaders[LOADERS];

static void loader_fill(conn *k)
{
    stage *sg = cur_stage;
    while (sg && sg->next < sg->n && k->c.inflight < LOAD_DEPTH && k->c.state == BU_READY) {
        size_t i = sg->next++;
        if (bu_send(&k->c, sg->e[i], i) != 0) {
            sg->next--;
            break;
        }
    }
}

static void l_ready(bu_conn *c)
{
    nready++;
    connecting--;
    loader_fill(c->ud);
}

static void l_answer(bu_conn *c, uint64_t tag, const Pm__Envelope *r, uint64_t s, uint64_t n)
{
    (void)s, (void)n;
    stage *sg = cur_stage;
    sg->answered++;
    if (r->body_case == PM__ENVELOPE__BODY_ERROR) {
        sg->failed++;
        if (!sg->first_error[0])
            snprintf(sg->first_error, sizeof sg->first_error, "%s", r->error->message);
    } else if (sg->answer) {
        sg->answer((size_t)tag, r);
    }
    if (sg->answered == sg->n)
        uv_stop(&loop);
    else
        loader_fill(c->ud);
}

static const bu_ops lops = {l_ready, k_down, l_answer, NULL};

static void stage_add(stage *sg, Pm__Envelope *e)
{
    if (sg->n == sg->cap) {
        sg->cap = sg->cap ? sg->cap * 2 : 256;
        sg->e = realloc(sg->e, sg->cap * sizeof *sg->e);
    }
    sg->e[sg->n++] = e;
}

static int stage_run(stage *sg, const char *what)
{
    uint64_t t0 = bu_now_us();
    cur_stage = sg;
    if (sg->n) {
        for (int i = 0; i < LOADERS; i++)
            loader_fill(&loaders[i]);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    cur_stage = NULL;
    printf("# set-up: %zu %s in %.1f s\n", sg->n, what, (double)(bu_now_us() - t0) / 1e6);
    if (sg->failed) {
        fprintf(stderr, "set-up of %s: %zu refused, first: %s\n", what, sg->failed,
                sg->first_error);
        return -1;
    }
    return 0;
}

static pm_arena setup_arena;

static void patient_answer(size_t i, const Pm__Envelope *r)
{
    site *st = &S[i / (size_t)opt.patients];
    snprintf(st->mrn[i % (size_t)opt.patients], 24, "%s", r->patient_ok->patient->mrn);
}

static void appt_answer(size_t i, const Pm__Envelope *r)
{
    A[i].id = r->appointment_ok->appointment->id;
}

static int setup(void)
{
    pm_arena *a = &setup_arena;
    stage s1 = {0}, s2 = {0}, s3 = {0}, s4 = {0}, s5 = {0};
    static const unsigned vmin[] = {20, 15, 30, 40};
    for (int v = 0; v < 4; v++) {
        Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_PUT_VISIT_TYPE);
        e->put_visit_type = pm_msg_new(a, &pm__put_visit_type__descriptor);
        Pm__VisitType *vt = pm_msg_new(a, &pm__visit_type__descriptor);
        vt->id = (char *)vtypes[v];
        vt->name = (char *)vtypes[v];
        vt->duration_min = vmin[v];
        e->put_visit_type->visit_type = vt;
        stage_add(&s1, e);
    }
    for (int i = 0; i < opt.sites; i++) {
        site *st = &S[i];
        Pm__Envelope *e;
        for (int p = 0; p < opt.providers; p++) {
            e = pc_env(a, PM__ENVELOPE__BODY_PUT_PROVIDER);
            e->put_provider = pm_msg_new(a, &pm__put_provider__descriptor);
            Pm__Provider *pv = pm_msg_new(a, &pm__provider__descriptor);
            pv->id = st->prov[p];
            pv->name = pm_arena_printf(a, "Dr %s", bs_last_names[(i * 7 + p) % bs_n_last_names]);
            pv->default_location = st->id;
            e->put_provider->provider = pv;
            stage_add(&s2, e);
            Pm__Envelope *t = pc_env(a, PM__ENVELOPE__BODY_PUT_TEMPLATE);
            t->put_template = pm_msg_new(a, &pm__put_template__descriptor);
            Pm__Template *tp = pm_msg_new(a, &pm__template__descriptor);
            tp->provider = st->prov[p];
            tp->valid_from = "2020-01-01";
            tp->n_blocks = 7;
            tp->blocks = pm_arena_alloc(a, 7 * sizeof *tp->blocks);
            for (unsigned wd = 1; wd <= 7; wd++) {
                Pm__TemplateBlock *b = pm_msg_new(a, &pm__template_block__descriptor);
                b->weekday = wd;
                b->start_min = 8 * 60;
                b->end_min = 18 * 60;
                b->location = st->id;
                b->capacity = 1;
                tp->blocks[wd - 1] = b;
            }
            t->put_template->template_ = tp;
            stage_add(&s3, t);
        }
        for (int r = 0; r < opt.providers * ROOMS_PER_PROV; r++) {
            e = pc_env(a, PM__ENVELOPE__BODY_PUT_ROOM);
            e->put_room = pm_msg_new(a, &pm__put_room__descriptor);
            Pm__Room *rm = pm_msg_new(a, &pm__room__descriptor);
            rm->id = st->room[r];
            rm->location = st->id;
            rm->name = pm_arena_printf(a, "Exam %d", r + 1);
            e->put_room->room = rm;
            stage_add(&s2, e);
        }
        bs_rng pr;
        bs_rng_seed(&pr, 1000u + (uint64_t)i);
        for (int k = 0; k < opt.patients; k++) {
            e = pc_env(a, PM__ENVELOPE__BODY_CREATE_PATIENT);
            e->create_patient = pm_msg_new(a, &pm__create_patient__descriptor);
            e->create_patient->patient = bs_make_patient(&pr, a);
            st->last[k] = e->create_patient->patient->last_name;
            stage_add(&s4, e);
        }
    }
    s4.answer = patient_answer;
    s5.answer = appt_answer;
    if (stage_run(&s1, "visit types") || stage_run(&s2, "providers and rooms") ||
        stage_run(&s3, "templates") || stage_run(&s4, "patients"))
        return -1;
    /* today's appointments, booked by the manager (a day partly past is history to a desk) */
    NA = opt.sites * opt.providers * opt.visits;
    A = calloc((size_t)NA, sizeof *A);
    int n = 0;
    for (int i = 0; i < opt.sites; i++)
        for (int p = 0; p < opt.providers; p++)
            for (int v = 0; v < opt.visits; v++) {
                int slot = v * SLOTS_PER_DAY / opt.visits;
                appt *ap = &A[n];
                ap->site = i;
                ap->prov = p;
                ap->room = -1;
                Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_BOOK);
                e->book =
                    sh_book_req(a, S[i].mrn[(p * opt.visits + v) % opt.patients], S[i].prov[p],
                                "visit", sh_local(today, 8, 0) + (time_t)slot * 20 * 60);
                e->book->override = 1; /* whatever the hour now, a manager records the day */
                e->book->override_reason = "bench: today's appointments";
                stage_add(&s5, e);
                n++;
            }
    if (stage_run(&s5, "appointments today"))
        return -1;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < NA; i++) {
        lo = A[i].id < lo ? A[i].id : lo;
        hi = A[i].id > hi ? A[i].id : hi;
    }
    A_min_id = lo;
    AI = calloc(hi - lo + 1, sizeof *AI);
    NAI = hi - lo + 1;
    for (int i = 0; AI && i < NA; i++)
        AI[A[i].id - lo] = &A[i];
    free(s1.e), free(s2.e), free(s3.e), free(s4.e), free(s5.e);
    return 0;
}

/* ---- the day's plan ---- */

static long plan_day(void)
{
    long n = 0;
    for (int i = 0; i < NA; i++) {
        appt *ap = &A[i];
        double start = (double)((i % opt.visits) * SLOTS_PER_DAY / opt.visits) * 1200.0;
        task t = {.due = at_day(start + urand(-600, 300)),
                  .kind = K_STEP,
                  .site = ap->site,
                  .a = ap,
                  .step = PM__FLOW_ACTION__ARRIVE};
        heap_push(t);
        n += 4;
    }
    struct {
        int kind, per_site;
    } mix[] = {
        {K_BOOK, opt.bookings}, {K_MOVE, opt.bookings / 6}, {K_CANCEL, opt.bookings / 8},
        {K_SCHEDULE, 60},       {K_FLOW_READ, 20},          {K_MGR, 20},
    };
    for (size_t m = 0; m < sizeof mix / sizeof mix[0]; m++)
        for (int s = 0; s < opt.sites; s++)
            for (int k = 0; k < mix[m].per_site; k++) {
                task t = {.due = at_day(urand(0, DAY_S)), .kind = mix[m].kind, .site = s};
                heap_push(t);
                n += mix[m].kind == K_BOOK ? 3 : mix[m].kind == K_MOVE ? 2 : 1;
            }
    return n;
}

/* ---- main ---- */

static int connect_some(void)
{
    while (next_connect < NCN && connecting < CONNECTS_MAX) {
        connecting++;
        bu_connect(&CN[next_connect++].c);
    }
    return next_connect == NCN && connecting == 0;
}

static void on_connect_tick(uv_timer_t *t)
{
    if (connect_some())
        uv_stop(t->loop);
}

static void close_all(void)
{
    for (int i = 0; i < NCN; i++) {
        if (CN[i].retry.loop)
            uv_close((uv_handle_t *)&CN[i].retry, NULL);
        bu_close(&CN[i].c, "bench over");
    }
    for (int i = 0; i < LOADERS; i++)
        bu_close(&loaders[i].c, "bench over");
    uv_run(&loop, UV_RUN_NOWAIT);
}

static uint64_t t_end_day;
static long peak_rss;
static pid_t server_pid;
static uv_timer_t rss_timer;

static void on_rss(uv_timer_t *t)
{
    (void)t;
    long r = bs_rss_kib(server_pid);
    if (r > peak_rss)
        peak_rss = r;
    int busy = 0;
    for (int i = 0; i < NCN; i++)
        busy += CN[i].busy;
    for (int i = 0; i < opt.sites; i++)
        busy += S[i].qn;
    if ((!HN && !busy && !mqn) || bu_now_us() > t_end_day)
        uv_stop(&loop);
}

static ts_server *SRV;
static uv_timer_t restart_timer;

/* --restart-at: the server is stopped as an operator would (SIGTERM: it answers what it
 * committed, closes every connection) and started again on the same port, with the same
 * data directory and its ticket key. */
static void on_restart(uv_timer_t *t)
{
    (void)t;
    RS.down_at_restart = nready;
    RS.t_sigterm = bu_now_us();
    RS.scpu_before += bs_cpu_s(server_pid) - RS.scpu_mark;
    int port = SRV->port;
    int st = ts_stop(SRV, SIGTERM);
    RS.t_stopped = bu_now_us();
    char args[64];
    snprintf(args, sizeof args, "--listen 127.0.0.1:%d", port);
    if (ts_start(SRV, args) != 0) {
        fprintf(stderr, "restart: the server did not start again; log %s\n", SRV->log);
        RS.failed = 1;
        uv_stop(&loop);
        return;
    }
    RS.t_listen = bu_now_us();
    server_pid = SRV->pid;
    RS.scpu_mark = bs_cpu_s(server_pid);
    RS.done = 1;
    printf("# restart: SIGTERM at %.1f s of the day with %d connections up; stopped (status "
           "%d) in %.0f ms, serving again %.0f ms later\n",
           (double)(RS.t_sigterm - t_day0) / 1e6, RS.down_at_restart, st,
           (double)(RS.t_stopped - RS.t_sigterm) / 1000.0,
           (double)(RS.t_listen - RS.t_stopped) / 1000.0);
}

struct replay_count {
    uint64_t n, last;
};

static void count_replayed(void *ud, const Pm__Envelope *e)
{
    struct replay_count *rc = ud;
    if (e->body_case == PM__ENVELOPE__BODY_EVENT) {
        rc->n++;
        rc->last = e->event->seq;
    }
}

/* After a restart: every board of a site must have had the same events as its neighbours,
 * and, for the first three sites, as many as the event log holds for board/<site> since
 * they subscribed (a new subscriber replays them): none was missed across the restart.
 * Returns the disagreements, each printed. */
static int check_boards(ts_server *srv, pc_client *mgr)
{
    int bad = 0, replayed = 0;
    for (int i = 0; i < opt.sites; i++) {
        conn *b0 = NULL;
        for (int j = 0; j < NCN; j++) {
            conn *k = &CN[j];
            if (k->kind != C_BOARD || k->site != i)
                continue;
            if (!b0) {
                b0 = k;
            } else if (k->events != b0->events || k->c.last_seq != b0->c.last_seq ||
                       k->seq0 != b0->seq0) {
                printf("# site %s: a board had %llu events to seq %llu, another %llu to %llu\n",
                       S[i].id, (unsigned long long)k->events, (unsigned long long)k->c.last_seq,
                       (unsigned long long)b0->events, (unsigned long long)b0->c.last_seq);
                bad++;
            }
        }
        if (!b0 || i >= 3)
            continue;
        char topic[40];
        snprintf(topic, sizeof topic, "board/%s", S[i].id);
        const char *tp[1] = {topic};
        pc_opts po = {
            .host = "127.0.0.1", .port = srv->port, .ca_file = srv->ca, .timeout_ms = 30000};
        pc_client *c = pc_new(&po);
        struct replay_count rc = {0, 0};
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Subscribed *sd;
        if (c)
            pc_set_token(c, pc_token(mgr), 32);
        if (!c || pc_connect(c) != PM_OK) {
            printf("# site %s: cannot connect to replay its board: %s\n", S[i].id,
                   c ? pc_last_error(c) : "out of memory");
            bad++;
        } else {
            pc_on_event(c, count_replayed, &rc);
            if (pc_subscribe(c, tp, 1, b0->seq0, &a, &sd) != PM_OK) {
                printf("# site %s: cannot replay its board: %s\n", S[i].id, pc_last_error(c));
                bad++;
            } else {
                while (rc.last < b0->c.last_seq && pc_poll(c, 2000) > 0)
                    ;
                replayed++;
                if (rc.n != b0->events || rc.last != b0->c.last_seq) {
                    printf("# site %s: the log holds %llu board events to seq %llu, its boards "
                           "got %llu to %llu\n",
                           S[i].id, (unsigned long long)rc.n, (unsigned long long)rc.last,
                           (unsigned long long)b0->events, (unsigned long long)b0->c.last_seq);
                    bad++;
                } else {
                    printf("# site %s: its boards got all %llu board events of the log (seq %llu "
                           "to %llu)\n",
                           S[i].id, (unsigned long long)rc.n, (unsigned long long)b0->seq0,
                           (unsigned long long)rc.last);
                }
            }
        }
        pm_arena_free(&a);
        pc_free(c);
    }
    bs_result("restart.sites_replayed", replayed, "sites");
    bs_result("restart.board_disagreements", bad, "boards");
    return bad;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"sites", required_argument, 0, 's'},
        {"providers", required_argument, 0, 'p'},
        {"desks", required_argument, 0, 'D'},
        {"boards", required_argument, 0, 'B'},
        {"managers", required_argument, 0, 'm'},
        {"patients", required_argument, 0, 'P'},
        {"visits", required_argument, 0, 'v'},
        {"bookings", required_argument, 0, 'b'},
        {"day-secs", required_argument, 0, 'S'},
        {"dir", required_argument, 0, 'd'},
        {"restart-at", required_argument, 0, 'r'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 's':
            opt.sites = atoi(optarg);
            break;
        case 'p':
            opt.providers = atoi(optarg);
            break;
        case 'D':
            opt.desks = atoi(optarg);
            break;
        case 'B':
            opt.boards = atoi(optarg);
            break;
        case 'm':
            opt.managers = atoi(optarg);
            break;
        case 'P':
            opt.patients = atoi(optarg);
            break;
        case 'v':
            opt.visits = atoi(optarg);
            break;
        case 'b':
            opt.bookings = atoi(optarg);
            break;
        case 'S':
            opt.day_secs = atof(optarg);
            break;
        case 'd':
            opt.dir = optarg;
            break;
        case 'r':
            opt.restart_at = atof(optarg);
            if (opt.restart_at < 0 || opt.restart_at >= 1) {
                fprintf(stderr, "--restart-at: a fraction of the day, from 0 to below 1\n");
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (opt.managers < 0)
        opt.managers = 1 + opt.sites / 10;
    if (optind < argc || opt.sites < 1 || opt.sites > 1000 || opt.providers < 1 ||
        opt.providers > 16 || opt.desks < 1 || opt.desks > 8 || opt.boards < 0 ||
        opt.managers < 1 || opt.patients < 1 || opt.visits < 1 || opt.visits > SLOTS_PER_DAY ||
        opt.bookings < 0 || opt.day_secs < 5 || opt.patients < opt.providers * opt.visits / 2) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    printf("# bench_load: server %s\n", ts_practiced());
    bs_print_machine(opt.dir);
    NCN = opt.sites * (opt.desks + opt.boards) + opt.managers;
    long need = NCN + LOADERS + 200;
    long have = bs_raise_nofile(need);
    if (have < need) {
        fprintf(stderr, "bench_load: %d connections need %ld descriptors; the limit is %ld\n", NCN,
                need, have);
        return 2;
    }
    sh_tz();
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    if (tm.tm_hour == 23 && tm.tm_min >= 45)
        printf("# WARNING: close to midnight in Europe/Paris; the day may change mid-run\n");
    bs_rng_seed(&rng, (uint64_t)now);
    dayf = opt.day_secs / DAY_S;
    printf("# %d sites x (%d providers, %d rooms, %d patients, %d visits today, %d desks, %d "
           "boards), %d managers: %d connections; the day played %.0fx faster than real time\n",
           opt.sites, opt.providers, opt.providers * ROOMS_PER_PROV, opt.patients,
           opt.providers * opt.visits, opt.desks, opt.boards, opt.managers, NCN, 1.0 / dayf);

    ts_server s;
    pc_client *mgr = NULL;
    int rc = 1;
    pm_arena_init(&setup_arena, 0);
    S = calloc((size_t)opt.sites, sizeof *S);
    CN = calloc((size_t)NCN, sizeof *CN);
    mgr_idle = calloc((size_t)opt.managers, sizeof *mgr_idle);
    if (!S || !CN || !mgr_idle || bs_server_start(&s, opt.dir, NULL) != 0 ||
        !(mgr = ts_manager(&s)))
        goto out;
    server_pid = s.pid;
    SRV = &s;
    memcpy(mgr_token, pc_token(mgr), 32);
    uint64_t t_setup = bu_now_us();
    for (int i = 0; i < opt.sites; i++) {
        site *st = &S[i];
        snprintf(st->id, sizeof st->id, "site%d", i);
        for (int p = 0; p < opt.providers; p++)
            snprintf(st->prov[p], sizeof st->prov[p], "dr-%d-%d", i, p);
        for (int r = 0; r < opt.providers * ROOMS_PER_PROV; r++)
            snprintf(st->room[r], sizeof st->room[r], "s%d-exam%d", i, r + 1);
        st->mrn = calloc((size_t)opt.patients, sizeof *st->mrn);
        st->last = calloc((size_t)opt.patients, sizeof *st->last);
        st->npat = opt.patients;
    }
    /* the site's accounts: a receptionist and a display device, each logged in once */
    pm_arena a;
    pm_arena_init(&a, 0);
    for (int i = 0; i < opt.sites; i++) {
        site *st = &S[i];
        if (sh_location(mgr, &a, st->id, st->id) != PM_OK) {
            fprintf(stderr, "location: %s\n", pc_last_error(mgr));
            goto out;
        }
        char name[32];
        snprintf(name, sizeof name, "desk-%s", st->id);
        pc_client *d = ts_user(&s, mgr, name, PM__ROLE__RECEPTIONIST);
        snprintf(name, sizeof name, "board-%s", st->id);
        pc_client *b = d ? ts_display(&s, mgr, name, st->id) : NULL;
        if (!d || !b) {
            pc_free(d);
            goto out;
        }
        memcpy(st->desk_token, pc_token(d), 32);
        memcpy(st->board_token, pc_token(b), 32);
        pc_free(d);
        pc_free(b);
        pm_arena_free(&a);
    }
    printf("# set-up: %d accounts and display devices in %.1f s\n", 2 * opt.sites,
           (double)(bu_now_us() - t_setup) / 1e6);
    uv_loop_init(&loop);
    loop_inited = 1;
    if (bu_ctx_init(&X, &loop, s.ca, s.port) != 0)
        goto out;
    for (int i = 0; i < LOADERS; i++) {
        bu_conn_init(&loaders[i].c, &X, &lops, &loaders[i]);
        bu_conn_token(&loaders[i].c, mgr_token, "bench set-up");
        loaders[i].kind = C_LOADER;
        connecting++;
        bu_connect(&loaders[i].c);
    }
    while (connecting > 0)
        uv_run(&loop, UV_RUN_ONCE);
    if (nready != LOADERS) {
        fprintf(stderr, "the set-up connections failed: %s\n", first_down);
        goto out;
    }
    if (setup() != 0)
        goto out;
    printf("# set-up done in %.1f s\n", (double)(bu_now_us() - t_setup) / 1e6);

    /* the day's connections */
    int at = 0;
    for (int i = 0; i < opt.sites; i++) {
        site *st = &S[i];
        char *tp[3];
        tp[0] = pm_arena_printf(&setup_arena, "flow/%s", st->id);
        tp[1] = pm_arena_printf(&setup_arena, "schedule/location/%s/%s", st->id, today);
        tp[2] = pm_arena_printf(&setup_arena, "board/%s", st->id);
        for (int d = 0; d < opt.desks; d++, at++) {
            conn *k = &CN[at];
            k->kind = C_DESK;
            k->site = i;
            bu_conn_init(&k->c, &X, &ops, k);
            bu_conn_token(&k->c, st->desk_token, "bench desk");
            bu_conn_topics(&k->c, (const char *const *)tp, 3);
            bu_conn_load(&k->c, PM__ENVELOPE__BODY_GET_FLOW, st->id);
        }
        for (int b = 0; b < opt.boards; b++, at++) {
            conn *k = &CN[at];
            k->kind = C_BOARD;
            k->site = i;
            bu_conn_init(&k->c, &X, &ops, k);
            bu_conn_token(&k->c, st->board_token, "bench board");
            bu_conn_topics(&k->c, (const char *const *)&tp[2], 1);
            bu_conn_load(&k->c, PM__ENVELOPE__BODY_GET_BOARD, st->id);
        }
    }
    for (int m = 0; m < opt.managers; m++, at++) {
        conn *k = &CN[at];
        k->kind = C_MGR;
        k->site = -1;
        bu_conn_init(&k->c, &X, &ops, k);
        bu_conn_token(&k->c, mgr_token, "bench back office");
    }
    for (int i = 0; i < NCN; i++) {
        uv_timer_init(&loop, &CN[i].retry);
        CN[i].retry.data = &CN[i];
    }
    uint64_t tc = bu_now_us();
    nready = 0;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_connect_tick, 0, 2);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_timer_stop(&tick);
    printf("# %d of %d connections up (full TLS handshake, Resume, Subscribe, first read) in "
           "%.1f s\n",
           nready, NCN, (double)(bu_now_us() - tc) / 1e6);
    if (nready != NCN) {
        for (int i = 0; i < NCN; i++)
            if (CN[i].c.state != BU_READY)
                fprintf(stderr, "connection %d (kind %d) in state %d: %s\n", i, CN[i].kind,
                        CN[i].c.state, CN[i].c.why);
        fprintf(stderr, "connections failed: %s\n", first_down);
        goto out;
    }
    long rss_before = bs_rss_kib(s.pid);
    bs_result("server.rss_connected", (double)rss_before, "KiB");

    /* the day */
    t_day0 = bu_now_us() + 200000;
    long planned = plan_day();
    printf("# the day: %ld requests planned over %.0f s (%.0f/s offered)\n", planned, opt.day_secs,
           (double)planned / opt.day_secs);
    t_end_day = t_day0 + (uint64_t)((opt.day_secs + 60) * 1e6);
    bs_tasks tk0, tk1;
    bs_tasks_read(s.pid, &tk0);
    double busy0 = bu_machine_busy_s(), self0 = bs_cpu_s(getpid());
    RS.scpu_mark = bs_cpu_s(s.pid);
    R.measuring = 1;
    uv_timer_init(&loop, &restart_timer);
    if (opt.restart_at > 0)
        uv_timer_start(
            &restart_timer, on_restart,
            (t_day0 - bu_now_us()) / 1000 + (uint64_t)(opt.restart_at * opt.day_secs * 1000), 0);
    peak_rss = rss_before;
    uv_timer_start(&tick, on_tick, 1, 1);
    uv_timer_init(&loop, &rss_timer);
    uv_timer_start(&rss_timer, on_rss, 1000, 1000);
    uint64_t t0 = bu_now_us();
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t t1 = bu_now_us();
    R.measuring = 0;
    uv_timer_stop(&tick);
    uv_timer_stop(&rss_timer);
    uv_close((uv_handle_t *)&restart_timer, NULL);
    double scpu = RS.scpu_before + bs_cpu_s(s.pid) - RS.scpu_mark, busy1 = bu_machine_busy_s(),
           self1 = bs_cpu_s(getpid());
    bs_tasks_read(s.pid, &tk1);
    double secs = (double)(t1 - t0) / 1e6;
    if (HN)
        printf("# WARNING: %zu planned requests not sent by the end (%.0f s)\n", HN, secs);

    /* ---- figures ---- */
    uint64_t total = 0, errors = 0;
    for (int ty = 0; ty < T_N; ty++) {
        char m[96];
        snprintf(m, sizeof m, "req.%s", tname[ty]);
        bu_print_lat(m, &R.lat[ty], secs);
        if (R.conflicts[ty]) {
            snprintf(m, sizeof m, "req.%s.refused_conflict", tname[ty]);
            bs_result(m, (double)R.conflicts[ty], "requests");
            printf("# %s refused:", tname[ty]);
            for (int c = 0; c <= PM_WIRE_ERR_MAX; c++)
                if (R.by_code[ty][c])
                    printf(" %s %llu", pm_err_name(-c), (unsigned long long)R.by_code[ty][c]);
            printf("; the first: %s\n", R.first_conflict[ty]);
        }
        if (R.err[ty]) {
            snprintf(m, sizeof m, "req.%s.errors", tname[ty]);
            bs_result(m, (double)R.err[ty], "requests");
            printf("# %s: first error: %s\n", tname[ty], R.first_err[ty]);
        }
        total += R.lat[ty].n;
        errors += R.err[ty];
    }
    bs_result("day.secs", secs, "s");
    bs_result("day.requests", (double)total, "requests");
    bs_result("day.requests_per_s", (double)total / secs, "/s");
    bs_result("day.errors", (double)errors, "requests");
    bu_print_lat("day.lag_waiting_for_a_desk", &R.lag, 0);
    bs_result("events.desks_per_s", (double)R.ev_desk / secs, "events/s");
    bs_result("events.boards_per_s", (double)R.ev_board / secs, "events/s");
    bs_result("events.delivered_per_s", (double)(R.ev_desk + R.ev_board + R.ev_other) / secs,
              "events/s");
    bu_print_lat("events.flow_step_to_desk", &R.ev_flow, 0);
    bs_result("server.cores", scpu / secs, "cores");
    bs_result("server.cpu_per_request", total ? scpu / (double)total * 1e6 : 0, "us");
    bs_result("server.rss_peak", (double)peak_rss, "KiB");
    bs_result("server.rss_end", (double)bs_rss_kib(s.pid), "KiB");
    if (RS.done)
        printf("# (the server's threads: not shown, the server was restarted)\n");
    else
        bs_tasks_print(s.pid, &tk0, &tk1, secs);
    bs_result("bench_clients.cores", (self1 - self0) / secs, "cores");
    double others = (busy1 - busy0) - scpu - (self1 - self0);
    bs_result("other_processes_cpu", others > 0 ? others / secs : 0, "cores");
    if (downs)
        printf("# connections lost during the day: %d, first: %s\n", downs, first_down);
    int restart_bad = 0;
    if (opt.restart_at > 0) {
        uint64_t lost = 0;
        for (int i = 0; i < NCN; i++)
            lost += CN[i].c.lost;
        bs_lat_sort(&RS.back_lat);
        bs_result("restart.connections_up_at_sigterm", RS.down_at_restart, "connections");
        bs_result("restart.connections_back", RS.back, "connections");
        if (RS.t_all_back)
            bs_result("restart.all_back_from_sigterm", (double)(RS.t_all_back - RS.t_sigterm) / 1e6,
                      "s");
        bs_result("restart.back_p50", (double)bs_lat_pct(&RS.back_lat, 0.5) / 1e6, "s");
        bs_result("restart.back_p99", (double)bs_lat_pct(&RS.back_lat, 0.99) / 1e6, "s");
        bs_result("restart.requests_cut_off", (double)lost, "requests");
        bs_result("restart.tasks_dropped", (double)RS.lost_tasks, "tasks");
        /* the day's last events still on their way to the boards */
        for (uint64_t until = bu_now_us() + 500000; bu_now_us() < until;) {
            uv_run(&loop, UV_RUN_NOWAIT);
            bs_sleep_us(1000);
        }
        int boards_bad = RS.done ? check_boards(&s, mgr) : -1;
        restart_bad = !RS.done || !RS.t_all_back || boards_bad != 0;
        printf("VERDICT target every desk and board back after a restart under load, no board "
               "event missed: %s (%d of %d back%s%.2f s after the SIGTERM; %s)\n",
               restart_bad ? "not met" : "met", RS.back, RS.down_at_restart,
               RS.t_all_back ? ", all of them " : ", the last ",
               (double)((RS.t_all_back ? RS.t_all_back : bu_now_us()) - RS.t_sigterm) / 1e6,
               boards_bad == 0  ? "every board's events match its neighbours' and the log"
               : boards_bad > 0 ? "some boards' events do not match"
                                : "the server did not restart");
    }
    Pm__Stats *st;
    if (bs_get_stats(mgr, &a, &st) == PM_OK) {
        static const char *const ops_shown[] = {"flow_step",    "book",       "move",
                                                "cancel",       "find_slots", "search_patients",
                                                "get_schedule", "get_flow",   "subscribe"};
        for (size_t i = 0; i < sizeof ops_shown / sizeof ops_shown[0]; i++) {
            char m[96];
            snprintf(m, sizeof m, "server.%s", ops_shown[i]);
            bs_print_op(m, bs_op(st, ops_shown[i]));
        }
        bs_result("server.mean_batch",
                  st->commits ? (double)st->committed_writes / (double)st->commits : 0, "writes");
        bs_result("server.connections", (double)st->connections, "connections");
    }
    pm_arena_free(&a);
    bs_print_db_stats(&s, NULL, 0);
    bs_print_load("after");
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench_load failed; server log: %s\n", s.log);
    if (loop_inited)
        close_all();
    pc_free(mgr);
    bs_server_finish(&s);
    return rc;
}
