/* Event streams of the day against a real practiced: what a waiting-room display may
 * watch and what it is sent (every byte of a scripted day scanned for the patients'
 * names, initials, birth dates and MRNs), replay across reconnects at random moments
 * (every event exactly once, in order, no gap), a subscriber that stops reading cut off
 * by the soft output limit while the others get everything, a backlog larger than the
 * output limit, RELOAD once the retention has dropped a subscriber's position, and a
 * session that expires under a subscribed connection.
 *
 * The server runs with --soft-output 64,2; the tests near the end restart it (same port,
 * same data) with other options. Its scheduling clock is a file (PRACTICED_TEST_CLOCK);
 * event times and the retention follow the real clock. PM_SEED=N repeats a run's random
 * reconnect moments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sched_help.h"

#include "pm_time.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERVE_ARGS     "--soft-output 64,2"
#define SOFT_S         2
#define CONTROL_MAX_US (1000 * 1000) /* the control client's worst answer, even under ASan */

static ts_server S;
static sh_clock K;
static pc_client *M;  /* the manager */
static pc_client *R;  /* a receptionist, rita */
static pc_client *R2; /* another receptionist, the replay test's driver (its own thread) */
static pc_client *C;  /* a clinician, cleo */
static pc_client *D;  /* the display of main */
static pc_client *D2; /* the display of the annex */
static pm_arena A;

static int setup(void **state)
{
    (void)state;
    sh_tz();
    pm_arena_init(&A, 0);
    if (ts_init(&S, NULL))
        return -1;
    sh_clock_init(&K, &S, sh_local("2026-06-01", 7, 0));
    if (ts_start(&S, SERVE_ARGS))
        return -1;
    M = ts_manager(&S);
    R = M ? ts_user(&S, M, "rita", PM__ROLE__RECEPTIONIST) : NULL;
    R2 = R ? ts_user(&S, M, "rosa", PM__ROLE__RECEPTIONIST) : NULL;
    C = R2 ? ts_user(&S, M, "cleo", PM__ROLE__CLINICIAN) : NULL;
    if (!C)
        return -1;
    pm_arena a;
    pm_arena_init(&a, 0);
    int rc =
        sh_location(M, &a, "main", "Main Street") || sh_location(M, &a, "annex", "Annex") ||
        sh_room(M, &a, "room-1", "main") || sh_room(M, &a, "room-2", "main") ||
        sh_room(M, &a, "room-3", "main") || sh_room(M, &a, "annex-1", "annex") ||
        sh_provider(M, &a, "dr-a", "Dr A", "main") || sh_provider(M, &a, "dr-b", "Dr B", "main") ||
        sh_provider(M, &a, "dr-c", "Dr C", "annex") ||
        sh_visit_type(M, &a, "checkup", 30, 0, NULL) || sh_visit_type(M, &a, "short", 15, 0, NULL);
    sh_block day = {0, 7 * 60, 19 * 60, NULL, 0, NULL};
    static const char *const provs[] = {"dr-a", "dr-b", "dr-c"};
    for (size_t i = 0; i < 3 && !rc; i++)
        rc = sh_template(M, &a, provs[i], "2026-01-01", NULL, &day, 1, NULL, 0);
    if (rc)
        fprintf(stderr, "set-up: %s\n", pc_last_error(M));
    pm_arena_free(&a);
    D = rc ? NULL : ts_display(&S, M, "lobby-tv", "main");
    D2 = D ? ts_display(&S, M, "annex-tv", "annex") : NULL;
    return D2 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    pc_free(D2);
    pc_free(D);
    pc_free(C);
    pc_free(R2);
    pc_free(R);
    pc_free(M);
    int rc = ts_stop(&S, SIGTERM);
    if (rc == 0)
        ts_cleanup(&S);
    pm_arena_free(&A);
    return rc;
}

static int test_done(void **state)
{
    (void)state;
    pm_arena_free(&A);
    pm_arena_init(&A, 0);
    return 0;
}

/* ---- helpers ---- */

static void at(const char *date, int hh, int mm)
{
    sh_clock_set(&K, sh_local(date, hh, mm));
}

static Pm__Appointment *book(pc_client *c, pm_arena *a, const char *mrn, const char *provider,
                             const char *vt, const char *date, int hh, int mm, const char *notes)
{
    Pm__Appointment *ap = NULL;
    Pm__Book *b = sh_book_req(a, mrn, provider, vt, sh_local(date, hh, mm));
    b->notes = (char *)(notes ? notes : "");
    SH_EXPECT(c, sh_book(c, a, b, &ap), PM_OK);
    return ap;
}

static Pm__Appointment *step(pc_client *c, uint64_t id, Pm__FlowAction act, const char *room)
{
    Pm__Appointment *ap = NULL;
    SH_EXPECT(c, ts_flow_step(c, &A, id, 0, act, room, &ap), PM_OK);
    return ap;
}

static uint64_t last_event_seq(void)
{
    Pm__Stats *st;
    SH_EXPECT(M, sh_stats(M, &A, &st), PM_OK);
    return st->last_event_seq;
}

/* n patients made (last names prefix0, prefix1...), an event each: the newest event's seq */
static uint64_t patients_made(const char *first, const char *prefix, int n)
{
    uint64_t before = last_event_seq();
    for (int i = 0; i < n; i++) {
        char mrn[24], last[32];
        snprintf(last, sizeof last, "%s%d", prefix, i);
        SH_EXPECT(R, sh_patient(R, &A, first, last, mrn), PM_OK);
    }
    uint64_t newest = last_event_seq();
    assert_int_equal(newest, before + (uint64_t)n);
    return newest;
}

static int log_count(const char *needle)
{
    FILE *f = fopen(S.log, "r");
    if (!f)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* A client of its own on the session behind token (no login). */
static pc_client *client_with(const uint8_t *token)
{
    pc_opts o = {.host = "127.0.0.1",
                 .port = S.port,
                 .ca_file = S.ca,
                 .client_name = "test_streams",
                 .timeout_ms = 30000};
    pc_client *c = pc_new(&o);
    assert_non_null(c);
    pc_set_token(c, token, 32);
    SH_EXPECT(c, pc_connect(c), PM_OK);
    return c;
}

static ts_raw *raw_with(const uint8_t *token, int rcvbuf)
{
    ts_raw *r = rcvbuf ? ts_raw_open_rcvbuf(&S, rcvbuf) : ts_raw_open(&S);
    assert_non_null(r);
    assert_int_equal(ts_raw_login(r, token), 0);
    return r;
}

/* What a subscriber received, in order: each event's sequence number and kind. */
typedef struct recv_log {
    uint64_t seq[4096];
    int kind[4096];
    size_t n;
    uint64_t last; /* the newest seen */
    int dups, gaps;
    int locked; /* SessionLocked frames */
    int locked_reason;
} recv_log;

static void rl_add(recv_log *l, uint64_t seq, int kind)
{
    if (l->n && seq <= l->last)
        l->dups++;
    else if (l->last && seq != l->last + 1)
        l->gaps++;
    if (l->n < 4096) {
        l->seq[l->n] = seq;
        l->kind[l->n] = kind;
        l->n++;
    }
    if (seq > l->last)
        l->last = seq;
}

static void rl_collect(void *ud, const Pm__Envelope *env)
{
    recv_log *l = ud;
    if (env->body_case == PM__ENVELOPE__BODY_EVENT) {
        rl_add(l, env->event->seq, env->event->body_case);
    } else if (env->body_case == PM__ENVELOPE__BODY_SESSION_LOCKED) {
        l->locked++;
        l->locked_reason = -(int)env->session_locked->reason;
    }
}

/* ---- the display's permissions ---- */

typedef struct topic_log {
    int events, board, other;
    char first_other[64];
} topic_log;

static void topics_seen(void *ud, const Pm__Envelope *env)
{
    topic_log *t = ud;
    if (env->body_case != PM__ENVELOPE__BODY_EVENT)
        return;
    t->events++;
    const Pm__Event *ev = env->event;
    int only_board = ev->body_case == PM__EVENT__BODY_BOARD_CHANGED && ev->n_topics == 1 &&
                     strcmp(ev->topics[0], "board/main") == 0;
    if (only_board) {
        t->board++;
    } else if (!t->other++) {
        snprintf(t->first_other, sizeof t->first_other, "%s (kind %d)",
                 ev->n_topics ? ev->topics[0] : "?", ev->body_case);
    }
}

static int display_request(pc_client *d, Pm__Envelope *e)
{
    Pm__Envelope *resp = NULL;
    return pc_call(d, e, &A, &resp);
}

/* A display may subscribe to board/<its location> and to nothing else, and read only its
 * own board. */
static void test_display_topics(void **state)
{
    (void)state;
    const char *day = "2026-06-01";
    at(day, 7, 30);
    static const char *const refused[] = {
        "flow/main",
        "schedule/location/main/2026-06-01",
        "schedule/provider/dr-a",
        "patients",
        "waitlist",
        "setup",
        "board/annex",
        "board/",
        "board/main/x",
        "board/mai",
        "board/main ",
        "flow/annex",
        "BOARD/main",
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        int rc = pc_subscribe(D, &refused[i], 1, 0, &A, NULL);
        if (rc != PM_E_PERMISSION_DENIED)
            print_error("display subscribing to '%s': %s (%s)\n", refused[i], pm_strerror(rc),
                        pc_last_error(D));
        assert_int_equal(rc, PM_E_PERMISSION_DENIED);
    }
    const char *mixed[] = {"board/main", "flow/main"};
    SH_EXPECT(D, pc_subscribe(D, mixed, 2, 0, &A, NULL), PM_E_PERMISSION_DENIED);
    print_message("      board/main + flow/main: %s\n", pc_last_error(D));
    const char *annex = "board/annex", *mine = "board/main";
    SH_EXPECT(D2, pc_subscribe(D2, &mine, 1, 0, &A, NULL), PM_E_PERMISSION_DENIED);
    SH_EXPECT(D2, pc_subscribe(D2, &annex, 1, 0, &A, NULL), PM_OK);
    SH_EXPECT(D, pc_subscribe(D, &mine, 1, 0, &A, NULL), PM_OK);

    /* reads: its own board only */
    Pm__BoardState *b;
    SH_EXPECT(D, ts_get_board(D, &A, "annex", &b), PM_E_PERMISSION_DENIED);
    print_message("      GetBoard annex: %s\n", pc_last_error(D));
    SH_EXPECT(D, ts_get_board(D, &A, "nowhere", &b), PM_E_PERMISSION_DENIED);
    SH_EXPECT(D, ts_get_board(D, &A, "main", &b), PM_OK);
    assert_string_equal(b->location, "main");
    SH_EXPECT(D2, ts_get_board(D2, &A, "main", &b), PM_E_PERMISSION_DENIED);
    SH_EXPECT(D, ts_get_flow(D, &A, "main", NULL, NULL), PM_E_PERMISSION_DENIED);
    Pm__Schedule *sc;
    SH_EXPECT(D, sh_schedule(D, &A, NULL, "main", NULL, day, 1, &sc), PM_E_PERMISSION_DENIED);
    SH_EXPECT(D, sh_get(D, &A, 1, NULL), PM_E_PERMISSION_DENIED);
    SH_EXPECT(D, sh_wait_list(D, &A, 0, NULL), PM_E_PERMISSION_DENIED);
    SH_EXPECT(D, sh_get_setup(D, &A, NULL, NULL), PM_E_PERMISSION_DENIED);
    SH_EXPECT(D, sh_patient_appts(D, &A, "100016", 0, NULL), PM_E_PERMISSION_DENIED);
    Pm__Envelope *e = pc_env(&A, PM__ENVELOPE__BODY_SEARCH_PATIENTS);
    e->search_patients = pm_msg_new(&A, &pm__search_patients__descriptor);
    e->search_patients->name = "a";
    SH_EXPECT(D, display_request(D, e), PM_E_PERMISSION_DENIED);

    /* a day's activity at main: the display is sent board events on board/main, and
     * nothing of the flow or schedule topics it was refused */
    static topic_log tl, tl2;
    memset(&tl, 0, sizeof tl);
    memset(&tl2, 0, sizeof tl2);
    pc_on_event(D, topics_seen, &tl);
    pc_on_event(D2, topics_seen, &tl2);
    char mrn[24];
    SH_EXPECT(R, sh_patient(R, &A, "Topic", "Tester", mrn), PM_OK);
    Pm__Appointment *ap = book(R, &A, mrn, "dr-a", "checkup", day, 9, 0, NULL);
    at(day, 8, 50);
    step(R, ap->id, PM__FLOW_ACTION__ARRIVE, NULL);
    step(C, ap->id, PM__FLOW_ACTION__TO_ROOM, "room-1");
    step(C, ap->id, PM__FLOW_ACTION__SEE, NULL);
    step(R, ap->id, PM__FLOW_ACTION__CHECK_OUT, NULL);
    for (int i = 0; i < 100 && tl.board < 5; i++)
        pc_poll(D, 50);
    pc_poll(D, 300);
    pc_poll(D2, 300);
    print_message("      display: %d events, %d board/main, %d other%s%s; annex's display: %d\n",
                  tl.events, tl.board, tl.other, tl.other ? ": " : "", tl.first_other, tl2.events);
    assert_int_equal(tl.board, 5); /* the booking (today) and the four steps */
    assert_int_equal(tl.other, 0);
    assert_int_equal(tl2.events, 0);

    /* a refused Subscribe leaves the connection with no topics at all */
    SH_EXPECT(D, pc_subscribe(D, &refused[0], 1, 0, &A, NULL), PM_E_PERMISSION_DENIED);
    memset(&tl, 0, sizeof tl);
    step(R, ap->id, PM__FLOW_ACTION__UNDO, NULL);
    pc_poll(D, 500);
    pc_poll(D, 100);
    assert_int_equal(tl.events, 0);
    pc_on_event(D, NULL, NULL);
    pc_on_event(D2, NULL, NULL);
}

/* ---- what the display is sent ---- */

typedef struct known {
    const char *first, *last, *preferred, *dob, *phone, *email;
    char mrn[24];
    uint64_t pid;
} known;

static known PEOPLE[] = {
    {"Zebulon", "Quixley", "Zeb", "1961-07-23", "+44 7700 900417", "zq@example.org", "", 0},
    {"Xanthippe", "Vukovich", "", "1944-12-02", "+33 6 12 34 56 78", "", "", 0},
    {"Ottilie", "Fairweather-Nkemelu", "", "2001-03-09", "+1 212 555 0199", "", "", 0},
    {"Bartholomew", "Yggdrasilsson", "", "1988-11-30", "", "", "", 0},
    {"Wilhelmina", "Juxon", "Minxie", "1975-02-14", "", "wj@example.org", "", 0},
    {"Peregrine", "Thistlewood", "", "1993-08-17", "+44 7700 900888", "", "", 0},
    {"Cosima", "Brightwater", "", "1950-05-05", "", "", "", 0},
};
#define NPEOPLE (sizeof PEOPLE / sizeof *PEOPLE)

static const char *const SECRETS[] = {"NOTE-ZQ-SECRET", "WALKIN-NOTE-SECRET", "REASON-SECRET-BY",
                                      "NOTE-XV-SECRET"};

static void create_known(known *k)
{
    Pm__Envelope *e = pc_env(&A, PM__ENVELOPE__BODY_CREATE_PATIENT), *resp = NULL;
    e->create_patient = pm_msg_new(&A, &pm__create_patient__descriptor);
    Pm__Patient *p = pm_msg_new(&A, &pm__patient__descriptor);
    p->first_name = (char *)k->first;
    p->last_name = (char *)k->last;
    p->preferred_name = (char *)k->preferred;
    p->date_of_birth = (char *)k->dob;
    p->email = (char *)k->email;
    if (*k->phone) {
        Pm__Phone *ph = pm_msg_new(&A, &pm__phone__descriptor);
        ph->number = (char *)k->phone;
        ph->kind = PM__PHONE_KIND__MOBILE;
        p->phones = pm_arena_alloc(&A, sizeof *p->phones);
        p->phones[0] = ph;
        p->n_phones = 1;
    }
    e->create_patient->patient = p;
    SH_EXPECT(R, pc_call(R, e, &A, &resp), PM_OK);
    snprintf(k->mrn, sizeof k->mrn, "%s", resp->patient_ok->patient->mrn);
    /* the MRN is the patient's number and a check digit */
    char digits[24];
    snprintf(digits, sizeof digits, "%s", k->mrn);
    digits[strlen(digits) - 1] = 0;
    k->pid = strtoull(digits, NULL, 10);
}

/* Every byte the display was sent, and every string and number in it. */
typedef struct capture {
    uint8_t *bytes;
    size_t n, cap;
    int frames, board_events, answers;
    char strings[8192]; /* every string field, '\n'-separated, for the initials */
    size_t slen;
    uint64_t ints[4096];
    size_t nints;
    int unknown_fields;
} capture;

static void cap_bytes(capture *c, const uint8_t *p, size_t n)
{
    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2;
        c->bytes = realloc(c->bytes, c->cap);
        assert_non_null(c->bytes);
    }
    memcpy(c->bytes + c->n, p, n);
    c->n += n;
}

/* Walks a decoded message by its descriptor: every string, bytes and integer field at any
 * depth, and whether anything was left unknown. */
static void walk(capture *c, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    c->unknown_fields += (int)m->n_unknown_fields;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        const char *member = base + f->offset;
        size_t n = 1;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)(base + f->quantifier_offset);
            member = *(const char *const *)member;
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
        }
        for (size_t k = 0; k < n && member; k++) {
            switch (f->type) {
            case PROTOBUF_C_TYPE_STRING: {
                const char *s = ((const char *const *)member)[k];
                size_t l = s ? strlen(s) : 0;
                if (l && c->slen + l + 2 < sizeof c->strings) {
                    memcpy(c->strings + c->slen, s, l);
                    c->slen += l;
                    c->strings[c->slen++] = '\n';
                    c->strings[c->slen] = 0;
                }
                break;
            }
            case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessage *sub = ((ProtobufCMessage *const *)member)[k];
                if (sub)
                    walk(c, sub);
                break;
            }
            case PROTOBUF_C_TYPE_UINT64:
            case PROTOBUF_C_TYPE_INT64:
            case PROTOBUF_C_TYPE_SINT64:
            case PROTOBUF_C_TYPE_FIXED64:
            case PROTOBUF_C_TYPE_SFIXED64:
                if (c->nints < 4096)
                    c->ints[c->nints++] = ((const uint64_t *)member)[k];
                break;
            case PROTOBUF_C_TYPE_UINT32:
            case PROTOBUF_C_TYPE_INT32:
            case PROTOBUF_C_TYPE_SINT32:
            case PROTOBUF_C_TYPE_FIXED32:
            case PROTOBUF_C_TYPE_SFIXED32:
            case PROTOBUF_C_TYPE_ENUM:
                if (c->nints < 4096)
                    c->ints[c->nints++] = ((const uint32_t *)member)[k];
                break;
            case PROTOBUF_C_TYPE_BYTES: {
                const ProtobufCBinaryData *b = &((const ProtobufCBinaryData *)member)[k];
                if (b->len && c->slen + b->len + 2 < sizeof c->strings) {
                    memcpy(c->strings + c->slen, b->data, b->len);
                    c->slen += b->len;
                    c->strings[c->slen++] = '\n';
                    c->strings[c->slen] = 0;
                }
                break;
            }
            default:
                break;
            }
        }
    }
}

/* Reads the display's frames until none comes for quiet_ms. */
static void capture_frames(capture *c, ts_raw *r, int quiet_ms)
{
    for (;;) {
        uint8_t *body;
        uint32_t len;
        if (ts_raw_frame(r, quiet_ms, &body, &len) != 1)
            return;
        cap_bytes(c, body, len);
        c->frames++;
        Pm__Envelope *e = pm__envelope__unpack(NULL, len, body);
        free(body);
        assert_non_null(e);
        if (e->body_case == PM__ENVELOPE__BODY_EVENT) {
            assert_int_equal(e->event->body_case, PM__EVENT__BODY_BOARD_CHANGED);
            c->board_events++;
        } else {
            c->answers++;
        }
        walk(c, &e->base);
        pm__envelope__free_unpacked(e, NULL);
    }
}

static const void *find_ci(const uint8_t *hay, size_t n, const char *needle)
{
    size_t l = strlen(needle);
    for (size_t i = 0; l && i + l <= n; i++) {
        size_t j = 0;
        while (j < l && tolower(hay[i + j]) == tolower((unsigned char)needle[j]))
            j++;
        if (j == l)
            return hay + i;
    }
    return NULL;
}

static int found(const capture *c, const char *needle, const char *what, int *misses)
{
    if (find_ci(c->bytes, c->n, needle)) {
        print_error("the display was sent %s: '%s'\n", what, needle);
        (*misses)++;
        return 1;
    }
    return 0;
}

/* Every byte the display receives over a scripted day (arrivals, rooms, walk-ins, a move,
 * cancellations, undo, check-outs) holds no name, initial, birth date, MRN, phone,
 * e-mail or note of the patients concerned. */
static void test_display_sees_no_patient_data(void **state)
{
    (void)state;
    const char *day = "2026-06-03";
    at(day, 7, 30);
    for (size_t i = 0; i < NPEOPLE; i++)
        create_known(&PEOPLE[i]);
    static capture cap;
    memset(&cap, 0, sizeof cap);
    ts_raw *r = raw_with(pc_token(D), 0);
    const char *mine = "board/main";
    assert_int_equal(ts_raw_subscribe(r, &mine, 1, 0, 9, NULL, NULL), 0);

    known *Z = &PEOPLE[0], *X = &PEOPLE[1], *O = &PEOPLE[2], *Bt = &PEOPLE[3], *W = &PEOPLE[4],
          *P = &PEOPLE[5], *Co = &PEOPLE[6];
    Pm__Appointment *z = book(R, &A, Z->mrn, "dr-a", "checkup", day, 9, 0, SECRETS[0]);
    Pm__Appointment *x = book(R, &A, X->mrn, "dr-a", "checkup", day, 9, 30, SECRETS[3]);
    Pm__Appointment *o = book(R, &A, O->mrn, "dr-b", "checkup", day, 9, 0, NULL);
    Pm__Appointment *bt = book(R, &A, Bt->mrn, "dr-b", "checkup", day, 9, 30, NULL);
    Pm__Appointment *w = book(R, &A, W->mrn, "dr-a", "checkup", day, 10, 0, NULL);

    at(day, 8, 50);
    step(R, z->id, PM__FLOW_ACTION__ARRIVE, NULL);
    step(R, o->id, PM__FLOW_ACTION__ARRIVE, NULL);
    at(day, 8, 55);
    step(C, z->id, PM__FLOW_ACTION__TO_ROOM, "room-1");
    at(day, 9, 0);
    step(C, z->id, PM__FLOW_ACTION__SEE, NULL);
    step(C, o->id, PM__FLOW_ACTION__TO_ROOM, "room-2");
    step(R, x->id, PM__FLOW_ACTION__ARRIVE, NULL);
    at(day, 9, 5);
    Pm__Appointment *pw, *cw;
    SH_EXPECT(R, ts_walk_in(R, &A, P->mrn, "main", "short", NULL, SECRETS[1], &pw), PM_OK);
    at(day, 9, 10);
    Pm__Move *mv = sh_move_req(&A, w->id, w->version);
    mv->start = sh_local(day, 11, 0);
    SH_EXPECT(R, sh_move(R, &A, mv, NULL), PM_OK);
    at(day, 9, 12);
    SH_EXPECT(R, sh_cancel(R, &A, bt->id, bt->version, SECRETS[2], PM__SCOPE__THIS, NULL), PM_OK);
    at(day, 9, 15);
    SH_EXPECT(R, ts_walk_in(R, &A, Co->mrn, "main", "short", "dr-b", NULL, &cw), PM_OK);
    step(R, cw->id, PM__FLOW_ACTION__UNDO, NULL);
    at(day, 9, 20);
    step(R, z->id, PM__FLOW_ACTION__CHECK_OUT, NULL);
    step(C, o->id, PM__FLOW_ACTION__SEE, NULL);
    step(C, x->id, PM__FLOW_ACTION__TO_ROOM, "room-1");
    step(C, x->id, PM__FLOW_ACTION__TO_ROOM, "room-3");
    at(day, 9, 30);
    step(R, o->id, PM__FLOW_ACTION__CHECK_OUT, NULL);
    step(C, x->id, PM__FLOW_ACTION__SEE, NULL);
    step(R, w->id, PM__FLOW_ACTION__ARRIVE, NULL);
    at(day, 9, 40);
    step(R, x->id, PM__FLOW_ACTION__CHECK_OUT, NULL);
    step(C, pw->id, PM__FLOW_ACTION__SEE, NULL);
    step(R, pw->id, PM__FLOW_ACTION__CHECK_OUT, NULL);
    /* its own read of the board, on the same connection */
    Pm__Envelope *e = pc_env(&A, PM__ENVELOPE__BODY_GET_BOARD);
    e->get_board = pm_msg_new(&A, &pm__get_board__descriptor);
    e->get_board->location = "main";
    e->id = 10;
    assert_int_equal(ts_raw_env(r, e), 0);
    capture_frames(&cap, r, 1500);
    ts_raw_close(r);

    print_message("      the display received %d frames (%d board events, %d answers), %zu bytes, "
                  "%zu strings' bytes, %zu numbers\n",
                  cap.frames, cap.board_events, cap.answers, cap.n, cap.slen, cap.nints);
    /* not vacuous: 5 bookings, 19 steps, 2 walk-ins, a move and a cancellation today */
    assert_int_equal(cap.board_events, 26);
    assert_int_equal(cap.answers, 1);
    assert_non_null(find_ci(cap.bytes, cap.n, "M-001"));
    assert_non_null(find_ci(cap.bytes, cap.n, "Room room-3"));
    assert_non_null(find_ci(cap.bytes, cap.n, "Main Street"));
    assert_int_equal(cap.unknown_fields, 0);

    int misses = 0;
    char buf[96];
    for (size_t i = 0; i < NPEOPLE; i++) {
        const known *k = &PEOPLE[i];
        found(&cap, k->first, "a first name", &misses);
        found(&cap, k->last, "a last name", &misses);
        if (*k->preferred)
            found(&cap, k->preferred, "a preferred name", &misses);
        if (*k->email)
            found(&cap, k->email, "an e-mail address", &misses);
        if (*k->phone) {
            /* the last 7 digits, the way search matches them */
            char digits[32];
            size_t nd = 0;
            for (const char *p = k->phone; *p && nd + 1 < sizeof digits; p++)
                if (*p >= '0' && *p <= '9')
                    digits[nd++] = *p;
            digits[nd] = 0;
            found(&cap, digits + (nd > 7 ? nd - 7 : 0), "a phone number", &misses);
        }
        found(&cap, k->mrn, "an MRN", &misses);
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)k->pid);
        found(&cap, buf, "a patient number", &misses);
        /* the birth date as ISO, European, American and compact dates */
        int y, m, d;
        assert_int_equal(sscanf(k->dob, "%d-%d-%d", &y, &m, &d), 3);
        found(&cap, k->dob, "a birth date", &misses);
        snprintf(buf, sizeof buf, "%02d/%02d/%04d", d, m, y);
        found(&cap, buf, "a birth date", &misses);
        snprintf(buf, sizeof buf, "%02d/%02d/%04d", m, d, y);
        found(&cap, buf, "a birth date", &misses);
        snprintf(buf, sizeof buf, "%02d.%02d.%04d", d, m, y);
        found(&cap, buf, "a birth date", &misses);
        snprintf(buf, sizeof buf, "%04d%02d%02d", y, m, d);
        found(&cap, buf, "a birth date", &misses);
        /* initials, punctuated anywhere, bare in any string the display was sent */
        char f0 = k->first[0], l0 = k->last[0];
        static const char *const seps[][2] = {{". ", "."}, {".", "."}, {". ", ""},
                                              {" ", "."},  {".", ""},  {"., ", ""}};
        for (size_t j = 0; j < sizeof seps / sizeof *seps; j++) {
            snprintf(buf, sizeof buf, "%c%s%c%s", f0, seps[j][0], l0, seps[j][1]);
            found(&cap, buf, "initials", &misses);
            snprintf(buf, sizeof buf, "%c%s%c%s", l0, seps[j][0], f0, seps[j][1]);
            found(&cap, buf, "initials", &misses);
        }
        snprintf(buf, sizeof buf, "%c%c", f0, l0);
        if (strstr(cap.strings, buf)) {
            print_error("a string sent to the display holds the initials %s\n", buf);
            misses++;
        }
        /* and no number the display was sent is the patient's */
        for (size_t j = 0; j < cap.nints; j++)
            if (cap.ints[j] == k->pid) {
                print_error("a number sent to the display is patient %s's\n", k->mrn);
                misses++;
            }
    }
    for (size_t i = 0; i < sizeof SECRETS / sizeof *SECRETS; i++)
        found(&cap, SECRETS[i], "a note or a reason", &misses);
    free(cap.bytes);
    assert_int_equal(misses, 0);
}

/* ---- replay across reconnects ---- */

typedef struct driver {
    pthread_t th;
    uint64_t seed;
    const char *day;
    char mrn[40][24];
    volatile int done;
    int ops;
    char error[300];
} driver;

#define DRV(call)                                                                                  \
    do {                                                                                           \
        int drv_rc_ = (call);                                                                      \
        if (drv_rc_ != PM_OK) {                                                                    \
            snprintf(dv->error, sizeof dv->error, "%s: %s (%s)", #call, pm_strerror(drv_rc_),      \
                     pc_last_error(R2));                                                           \
            goto out;                                                                              \
        }                                                                                          \
        dv->ops++;                                                                                 \
        usleep((useconds_t)(jitter_ms(&rng) * 1000));                                              \
    } while (0)

static unsigned jitter_ms(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((*s >> 33) % 30);
}

static unsigned rnd(uint64_t *s, unsigned n)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((*s >> 33) % n);
}

/* A day of flow at main from rosa's desk: bookings, then each patient through some variant
 * of the day (a whole visit, straight to the provider, a check-in undone and redone, a
 * cancellation, a move, a walk-in), with short random pauses. */
static void *drive_day(void *ud)
{
    driver *dv = ud;
    uint64_t rng = dv->seed;
    pm_arena a;
    pm_arena_init(&a, 0);
    enum { N = 24 };
    uint64_t ids[N];
    for (int i = 0; i < N; i++) {
        Pm__Book *b = sh_book_req(&a, dv->mrn[i], i % 2 ? "dr-b" : "dr-a", "checkup",
                                  sh_local(dv->day, 8, 30) + (time_t)(i / 2) * 1800);
        Pm__Appointment *ap;
        DRV(sh_book(R2, &a, b, &ap));
        ids[i] = ap->id;
    }
    for (int i = 0; i < N; i++) {
        uint64_t id = ids[i];
        Pm__Appointment *ap;
        switch (rnd(&rng, 6)) {
        case 0:
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__ARRIVE, NULL, NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__TO_ROOM, "room-1", NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__TO_ROOM, "room-2", NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__SEE, NULL, NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__CHECK_OUT, NULL, NULL));
            break;
        case 1:
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__ARRIVE, NULL, NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__SEE, NULL, NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__CHECK_OUT, NULL, NULL));
            break;
        case 2:
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__ARRIVE, NULL, NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__UNDO, NULL, NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__ARRIVE, NULL, NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__CHECK_OUT, NULL, NULL));
            break;
        case 3:
            DRV(sh_cancel(R2, &a, id, 0, "called to cancel", PM__SCOPE__THIS, NULL));
            break;
        case 4: {
            Pm__Move *m = sh_move_req(&a, id, 0);
            m->start = sh_local(dv->day, 15, 0) + (time_t)(i / 2) * 900;
            m->duration_min = 15;
            DRV(sh_move(R2, &a, m, NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__ARRIVE, NULL, NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__CHECK_OUT, NULL, NULL));
            break;
        }
        default:
            DRV(ts_walk_in(R2, &a, dv->mrn[N + i % 16], "main", "short", NULL, NULL, &ap));
            DRV(ts_flow_step(R2, &a, ap->id, 0, PM__FLOW_ACTION__TO_ROOM, "room-3", NULL));
            DRV(ts_flow_step(R2, &a, ap->id, 0, PM__FLOW_ACTION__UNDO, NULL, NULL));
            DRV(ts_flow_step(R2, &a, ap->id, 0, PM__FLOW_ACTION__UNDO, NULL, NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__ARRIVE, NULL, NULL));
            DRV(ts_flow_step(R2, &a, id, 0, PM__FLOW_ACTION__CHECK_OUT, NULL, NULL));
            break;
        }
        pm_arena_free(&a);
        pm_arena_init(&a, 0);
    }
out:
    pm_arena_free(&a);
    dv->done = 1;
    return NULL;
}

/* A subscriber to flow/main, board/main and the day's schedule topics reconnects at
 * random moments while rosa drives a day of flow: with the client library (pc_close, then
 * pc_reconnect), as a new client subscribing from the last event it saw, or as a raw
 * connection that sees every frame (so a duplicate the library would drop still shows).
 * At the end it has every event exactly once, in order, with no gap: the same as a
 * subscriber that never disconnected, and every number the server handed out meanwhile. */
static void test_replay_with_reconnects(void **state)
{
    (void)state;
    static driver dv;
    memset(&dv, 0, sizeof dv);
    dv.day = "2026-06-02";
    const char *env_seed = getenv("PM_SEED");
    dv.seed = env_seed ? strtoull(env_seed, NULL, 10) : (uint64_t)pm_mono_us();
    uint64_t rng = dv.seed ^ 0x9e3779b97f4a7c15ull;
    print_message("      seed %llu (PM_SEED=%llu repeats this run)\n", (unsigned long long)dv.seed,
                  (unsigned long long)dv.seed);
    at(dv.day, 8, 0);
    for (int i = 0; i < 40; i++) {
        char last[16];
        snprintf(last, sizeof last, "Replay%02d", i);
        SH_EXPECT(R, sh_patient(R, &A, "Stream", last, dv.mrn[i]), PM_OK);
    }
    const char *topics[] = {"flow/main", "board/main", "schedule/location/main/2026-06-02",
                            "schedule/provider/dr-a", "schedule/provider/dr-b"};
    const size_t ntopics = sizeof topics / sizeof *topics;
    const uint8_t *token = pc_token(C);
    static recv_log ref, rec;
    memset(&ref, 0, sizeof ref);
    memset(&rec, 0, sizeof rec);
    pc_client *Ref = client_with(token);
    pc_on_event(Ref, rl_collect, &ref);
    Pm__Subscribed *sd;
    SH_EXPECT(Ref, pc_subscribe(Ref, topics, ntopics, 0, &A, &sd), PM_OK);
    uint64_t start = sd->last_seq;
    ref.last = rec.last = start;

    assert_int_equal(pthread_create(&dv.th, NULL, drive_day, &dv), 0);
    pc_client *P = NULL;
    ts_raw *raw = NULL;
    int sessions[3] = {0, 0, 0}, raw_events = 0;
    uint64_t end = 0, t_end = 0;
    for (int round = 0;; round++) {
        if (dv.done && !end) {
            pthread_join(dv.th, NULL);
            end = last_event_seq();
            t_end = pm_mono_ms();
        }
        if (end && rec.last >= end && ref.last >= end)
            break;
        if (end && pm_mono_ms() - t_end > 15000)
            break;
        /* open: the three ways in turn (a new subscription, the library's reconnect, a raw
         * connection), each from the last event received, at random moments */
        static const unsigned turn[3] = {1, 0, 2};
        unsigned mode = end ? 1 : turn[round % 3];
        if (mode == 0 && !P)
            mode = 1;
        if (mode == 0) {
            pc_close(P);
            usleep(rnd(&rng, 30) * 1000);
            SH_EXPECT(P, pc_reconnect(P), PM_OK);
        } else if (mode == 1) {
            pc_free(P);
            P = client_with(token);
            pc_on_event(P, rl_collect, &rec);
            SH_EXPECT(P, pc_subscribe(P, topics, ntopics, rec.last, &A, NULL), PM_OK);
        } else {
            pc_free(P);
            P = NULL;
            raw = raw_with(token, 0);
            assert_int_equal(ts_raw_subscribe(raw, topics, ntopics, rec.last, 5, NULL, NULL), 0);
        }
        sessions[mode]++;
        /* read for a random while (to the end in the last round), then drop the connection */
        uint64_t until = pm_mono_ms() + (end ? 10000 : 5 + rnd(&rng, 100));
        while (pm_mono_ms() < until && !(end && rec.last >= end)) {
            if (raw) {
                pm_arena ra;
                pm_arena_init(&ra, 0);
                Pm__Envelope *e;
                int rc = ts_raw_next(raw, &ra, 5, &e);
                assert_true(rc == 1 || rc == -1);
                if (rc == 1 && e->body_case == PM__ENVELOPE__BODY_EVENT) {
                    rl_add(&rec, e->event->seq, e->event->body_case);
                    raw_events++;
                }
                pm_arena_free(&ra);
            } else {
                assert_true(pc_poll(P, 5) >= 0);
            }
            pc_poll(Ref, 0);
        }
        if (raw) {
            ts_raw_close(raw);
            raw = NULL;
        }
        pm_arena_free(&A);
        pm_arena_init(&A, 0);
    }
    for (int i = 0; i < 200 && ref.last < end; i++)
        pc_poll(Ref, 50);
    pc_free(P);
    pc_free(Ref);
    if (*dv.error)
        fail_msg("the driver failed: %s", dv.error);
    print_message("      %d steps and bookings made events %llu..%llu; the subscriber reconnected "
                  "%d times (%d pc_close+pc_reconnect, %d new subscriptions, %d raw) and got "
                  "%zu events (%d on raw connections), %d duplicates, %d gaps; the steady one "
                  "got %zu\n",
                  dv.ops, (unsigned long long)start + 1, (unsigned long long)end,
                  sessions[0] + sessions[1] + sessions[2], sessions[0], sessions[1], sessions[2],
                  rec.n, raw_events, rec.dups, rec.gaps, ref.n);
    assert_true(end > start + 100);
    assert_true(sessions[0] >= 4 && sessions[1] >= 4 && sessions[2] >= 4);
    /* the steady subscriber: every number handed out meanwhile, once, in order */
    assert_int_equal(ref.dups, 0);
    assert_int_equal(ref.gaps, 0);
    assert_int_equal(ref.n, end - start);
    /* the reconnecting one: the same */
    assert_int_equal(rec.dups, 0);
    assert_int_equal(rec.gaps, 0);
    assert_int_equal(rec.n, end - start);
    for (size_t i = 0; i < rec.n; i++) {
        assert_int_equal(rec.seq[i], start + 1 + i);
        assert_int_equal(ref.seq[i], rec.seq[i]);
        assert_int_equal(ref.kind[i], rec.kind[i]);
    }
}

/* ---- slow subscribers ---- */

typedef struct reader {
    pthread_t th;
    pthread_mutex_t mu;
    pc_client *c;
    recv_log log;
    int stop, broke;
    char why[200];
} reader;

static void reader_cb(void *ud, const Pm__Envelope *env)
{
    reader *rd = ud;
    pthread_mutex_lock(&rd->mu);
    rl_collect(&rd->log, env);
    pthread_mutex_unlock(&rd->mu);
}

static void *reader_main(void *ud)
{
    reader *rd = ud;
    for (;;) {
        pthread_mutex_lock(&rd->mu);
        int stop = rd->stop;
        pthread_mutex_unlock(&rd->mu);
        if (stop)
            break;
        if (pc_poll(rd->c, 50) < 0) {
            pthread_mutex_lock(&rd->mu);
            rd->broke = 1;
            snprintf(rd->why, sizeof rd->why, "%s", pc_last_error(rd->c));
            pthread_mutex_unlock(&rd->mu);
            break;
        }
    }
    return NULL;
}

static uint64_t reader_last(reader *rd)
{
    pthread_mutex_lock(&rd->mu);
    uint64_t l = rd->log.last;
    pthread_mutex_unlock(&rd->mu);
    return l;
}

/* The server's kernel send queue towards the client on local port cport (ss Send-Q), or
 * -1. */
static long server_sendq(int cport)
{
    char out[512];
    if (ts_sh(out, sizeof out,
              "ss -tnH state established '( sport = :%d and dport = :%d )' 2>/dev/null", S.port,
              cport) != 0)
        return -1;
    long recvq, sendq;
    return sscanf(out, "%ld %ld", &recvq, &sendq) == 2 ? sendq : -1;
}

static int local_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t l = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &l) != 0)
        return -1;
    return ntohs(sa.sin_port);
}

static char *long_notes(size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + i % 26);
    s[n] = 0;
    return s;
}

/* The longest notes a patient may have: 4,000 characters, here of four bytes each. */
static char *huge_notes(void)
{
    char *s = malloc(4000 * 4 + 1);
    assert_non_null(s);
    for (int i = 0; i < 4000; i++)
        memcpy(s + 4 * i, "\xF0\x9F\x98\x80", 4);
    s[16000] = 0;
    return s;
}

static int create_noted(pc_client *c, pm_arena *a, int i, const char *notes)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_CREATE_PATIENT), *resp = NULL;
    e->create_patient = pm_msg_new(a, &pm__create_patient__descriptor);
    Pm__Patient *p = pm_msg_new(a, &pm__patient__descriptor);
    p->first_name = pm_arena_printf(a, "Bulk%d", i);
    p->last_name = "Smithers";
    p->date_of_birth = "1960-06-06";
    p->notes = (char *)notes;
    e->create_patient->patient = p;
    return pc_call(c, e, a, &resp);
}

/* A subscriber that stops reading is cut off about --soft-output's SECS after its queue
 * went over KIB (here 64 KiB, 2 s), by the soft rule, not the hard one; three subscribers
 * that read get everything; a control client stays fast. Then one that pauses for less
 * than the allowed time and catches up is not cut off. */
static void test_slow_subscriber_cut_off(void **state)
{
    (void)state;
    const char *topics[] = {"patients", "flow/main", "board/main"};
    pc_client *ctrl_client = ts_manager(&S);
    assert_non_null(ctrl_client);
    ts_control *ctrl = ts_control_start(ctrl_client, "smi", 2);
    assert_non_null(ctrl);
    static reader rd[3];
    uint64_t start = 0;
    for (int i = 0; i < 3; i++) {
        memset(&rd[i], 0, sizeof rd[i]);
        pthread_mutex_init(&rd[i].mu, NULL);
        rd[i].c = client_with(pc_token(C));
        pc_on_event(rd[i].c, reader_cb, &rd[i]);
        Pm__Subscribed *sd;
        SH_EXPECT(rd[i].c, pc_subscribe(rd[i].c, topics, 3, 0, &A, &sd), PM_OK);
        if (!start)
            start = sd->last_seq;
        rd[i].log.last = sd->last_seq;
        assert_int_equal(sd->last_seq, start);
        assert_int_equal(pthread_create(&rd[i].th, NULL, reader_main, &rd[i]), 0);
    }
    int soft0 = log_count("client not keeping up"), hard0 = log_count("client not reading");
    ts_raw *slow = raw_with(pc_token(C), 4096);
    uint64_t sub_last;
    assert_int_equal(ts_raw_subscribe(slow, topics, 3, 0, 3, &sub_last, NULL), 0);
    assert_true(sub_last >= start);

    /* ~16 KB events as fast as the server takes them, until it cuts the silent one off.
     * The kernel takes the first megabytes (the server's send buffer grows); the server's
     * own queue grows from when the kernel's stops growing, so that is when it went over
     * the soft limit (64 KiB is a few events later). */
    int cport = local_port(ts_raw_fd(slow));
    char *notes = huge_notes();
    pm_arena a;
    pm_arena_init(&a, 0);
    uint64_t t0 = pm_mono_ms(), t_cut = 0, t_grew = 0, t_sample = 0;
    long sendq_max = -1;
    int created = 0;
    while (pm_mono_ms() - t0 < 20000) {
        SH_EXPECT(M, create_noted(M, &a, created, notes), PM_OK);
        created++;
        if (created % 5 == 0) {
            pm_arena_free(&a);
            pm_arena_init(&a, 0);
        }
        if (pm_mono_ms() - t_sample >= 50) {
            t_sample = pm_mono_ms();
            long q = server_sendq(cport);
            if (q > sendq_max) {
                sendq_max = q;
                t_grew = t_sample;
            }
            if (log_count("client not keeping up") > soft0) {
                t_cut = pm_mono_ms();
                break;
            }
        }
    }
    /* a few more after the cut: the others must get them too */
    for (int i = 0; i < 20; i++, created++)
        SH_EXPECT(M, create_noted(M, &a, created, notes), PM_OK);
    pm_arena_free(&a);
    free(notes);
    double cut_s = t_cut ? (double)(t_cut - t0) / 1000.0 : -1;
    double over_s = t_cut ? (double)(t_cut - t_grew) / 1000.0 : -1;
    print_message("      %d events of ~16 KB; the server's kernel send queue to the silent "
                  "subscriber stopped growing at %ld bytes %.2f s after the first event; it was "
                  "cut off %.2f s after the first, %.2f s after that (soft limit 64 KiB for %d "
                  "s)\n",
                  created, sendq_max, (double)(t_grew - t0) / 1000.0, cut_s, over_s, SOFT_S);
    assert_true(t_cut != 0);
    if (sendq_max < 0)
        fail_msg("could not read the server's send queue with ss(8): is iproute2 installed? "
                 "(./setup installs it)");
    assert_true(sendq_max > 0);
    assert_true(over_s >= SOFT_S - 0.3);
    assert_true(over_s < SOFT_S + 2.5);
    assert_int_equal(log_count("client not reading"), hard0);
    /* it gets what was queued for it before the cut, in order, then the close */
    int rc;
    uint64_t got = 0, last = 0, gaps = 0;
    Pm__Envelope *e;
    pm_arena_init(&a, 0);
    while ((rc = ts_raw_next(slow, &a, 5000, &e)) == 1) {
        if (e->body_case != PM__ENVELOPE__BODY_EVENT)
            continue;
        gaps += got && e->event->seq != last + 1;
        last = e->event->seq;
        got++;
    }
    pm_arena_free(&a);
    ts_raw_close(slow);
    print_message("      it had %llu events queued (to %llu), then %s\n", (unsigned long long)got,
                  (unsigned long long)last,
                  rc == 0    ? "the close"
                  : rc == -2 ? "a reset"
                             : "?");
    assert_true(rc == 0 || rc == -2);
    assert_int_equal(gaps, 0);

    /* the readers got every event */
    uint64_t end = last_event_seq();
    for (int i = 0; i < 3; i++) {
        for (int w = 0; w < 100 && reader_last(&rd[i]) < end && !rd[i].broke; w++)
            usleep(100 * 1000);
        pthread_mutex_lock(&rd[i].mu);
        rd[i].stop = 1;
        pthread_mutex_unlock(&rd[i].mu);
        pthread_join(rd[i].th, NULL);
        print_message("      reader %d: %zu events to %llu, %d gaps, %d duplicates%s%s\n", i,
                      rd[i].log.n, (unsigned long long)rd[i].log.last, rd[i].log.gaps,
                      rd[i].log.dups, rd[i].broke ? ", broke: " : "", rd[i].why);
        assert_false(rd[i].broke);
        assert_int_equal(rd[i].log.gaps, 0);
        assert_int_equal(rd[i].log.dups, 0);
        assert_int_equal(rd[i].log.last, end);
        assert_int_equal(rd[i].log.n, end - start);
        pc_free(rd[i].c);
        pthread_mutex_destroy(&rd[i].mu);
    }
    ts_latency l;
    ts_control_stop(ctrl, "control client meanwhile", &l);
    pc_free(ctrl_client);
    assert_true(l.n > 0);
    assert_int_equal(l.errors, 0);
    if (l.max_us >= CONTROL_MAX_US)
        fail_msg("the control client waited %.1f ms", (double)l.max_us / 1000.0);
}

typedef struct bulk {
    pthread_t th;
    int n;
    char error[200];
} bulk;

static void *bulk_main(void *ud)
{
    bulk *b = ud;
    char *notes = long_notes(4000);
    pm_arena a;
    pm_arena_init(&a, 0);
    for (int i = 0; i < b->n; i++) {
        int rc = create_noted(R, &a, 10000 + i, notes);
        if (rc != PM_OK) {
            snprintf(b->error, sizeof b->error, "%s", pc_last_error(R));
            break;
        }
        if (i % 5 == 4) {
            pm_arena_free(&a);
            pm_arena_init(&a, 0);
        }
        usleep(2000);
    }
    pm_arena_free(&a);
    free(notes);
    return NULL;
}

static void test_short_pause_is_not_cut_off(void **state)
{
    (void)state;
    const char *topic = "patients";
    int soft0 = log_count("client not keeping up");
    ts_raw *r = raw_with(pc_token(C), 4096);
    uint64_t start;
    assert_int_equal(ts_raw_subscribe(r, &topic, 1, 0, 4, &start, NULL), 0);
    static bulk b;
    memset(&b, 0, sizeof b);
    b.n = 300;
    assert_int_equal(pthread_create(&b.th, NULL, bulk_main, &b), 0);
    usleep(1000 * 1000); /* not reading while ~4 KiB events pile up */
    uint64_t got = 0, last = start, gaps = 0;
    int rc = 1;
    while (rc == 1 && got < (uint64_t)b.n) {
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e;
        rc = ts_raw_next(r, &a, 10000, &e);
        if (rc == 1 && e->body_case == PM__ENVELOPE__BODY_EVENT) {
            gaps += e->event->seq != last + 1;
            last = e->event->seq;
            got++;
        }
        pm_arena_free(&a);
    }
    pthread_join(b.th, NULL);
    ts_raw_close(r);
    print_message("      paused 1 s under a stream of ~4 KiB events, then read: %llu of %d "
                  "events, %llu gaps%s\n",
                  (unsigned long long)got, b.n, (unsigned long long)gaps,
                  rc == 1 ? "" : ", then the connection ended");
    assert_string_equal(b.error, "");
    assert_int_equal(got, (uint64_t)b.n);
    assert_int_equal(gaps, 0);
    assert_int_equal(log_count("client not keeping up"), soft0);
}

/* ---- backlogs, retention, expiry: the server restarted with other options ---- */

/* A subscriber that asks for more backlog than the output limit holds, and reads it
 * steadily at ~8 MB/s (a 4 KiB receive buffer, a frame every 2 ms: faster than a screen on
 * the practice's Wi-Fi), gets it all in well under a second, or is told to reload: it is
 * not cut off as "too slow", which would make every reconnect replay the same backlog and
 * be cut again. */
static void test_backlog_larger_than_output_limit(void **state)
{
    (void)state;
    assert_int_equal(ts_restart(&S, SERVE_ARGS " --max-output 256"), 0);
    uint64_t before = last_event_seq();
    char *notes = huge_notes();
    pm_arena a;
    pm_arena_init(&a, 0);
    enum { N = 320 }; /* ~5 MB of events: more than the kernel's buffers take at once */
    for (int i = 0; i < N; i++) {
        SH_EXPECT(M, create_noted(M, &a, 20000 + i, notes), PM_OK);
        if (i % 10 == 9) {
            pm_arena_free(&a);
            pm_arena_init(&a, 0);
        }
    }
    pm_arena_free(&a);
    free(notes);
    int hard0 = log_count("client not reading");
    ts_raw *r = raw_with(pc_token(C), 4096);
    const char *topic = "patients";
    uint32_t replayed = 0;
    uint64_t t0 = pm_mono_ms();
    int src = ts_raw_subscribe(r, &topic, 1, before, 6, NULL, &replayed);
    uint64_t got = 0;
    int rc = 1;
    while (src == 0 && rc == 1 && got < N) {
        pm_arena_init(&a, 0);
        Pm__Envelope *e;
        rc = ts_raw_next(r, &a, 5000, &e);
        if (rc == 1 && e->body_case == PM__ENVELOPE__BODY_EVENT)
            got++;
        pm_arena_free(&a);
        usleep(2000);
    }
    double secs = (double)(pm_mono_ms() - t0) / 1000.0;
    ts_raw_close(r);
    print_message("      a backlog of %d events of ~16 KB (--max-output 256 KiB): subscribe %s, "
                  "%u to replay, %llu received in %.2f s%s\n",
                  N, src == 0 ? "ok" : pm_strerror(src), replayed, (unsigned long long)got, secs,
                  log_count("client not reading") > hard0 ? "; the server logged 'client not "
                                                            "reading' and cut it off"
                                                          : "");
    assert_true(src == 0 || src == PM_E_RELOAD);
    if (src == 0)
        assert_int_equal(got, N);
}

/* --replay-max 5: a subscriber five events behind is replayed them; six behind, it is
 * told to reload (reading that far back would hold up the loop for everyone), and the
 * message says from where. */
static void test_reload_when_too_far_behind(void **state)
{
    (void)state;
    assert_int_equal(ts_restart(&S, SERVE_ARGS " --replay-max 5"), 0);
    uint64_t before = last_event_seq(), newest = patients_made("Behind", "Far", 6);
    const char *topic = "patients";
    pc_client *c = client_with(pc_token(C));
    SH_EXPECT(c, pc_subscribe(c, &topic, 1, before, &A, NULL), PM_E_RELOAD);
    print_message("      subscribe from %llu: %s\n", (unsigned long long)before, pc_last_error(c));
    assert_string_equal(pc_last_error_detail(c)->field, "since");
    assert_non_null(strstr(pc_last_error(c), "more than are replayed"));
    Pm__Subscribed *sd;
    SH_EXPECT(c, pc_subscribe(c, &topic, 1, before + 1, &A, &sd), PM_OK);
    assert_int_equal(sd->replayed, 5);
    assert_int_equal(sd->last_seq, newest);
    pc_free(c);
}

/* Once the retention has dropped the events after a subscriber's position, Subscribe
 * answers RELOAD (the newest event is always kept, so a subscriber that saw it goes on). */
static void test_reload_after_retention(void **state)
{
    (void)state;
    assert_int_equal(ts_restart(&S, SERVE_ARGS), 0);
    uint64_t before = last_event_seq(), newest = patients_made("Retained", "Old", 3);
    const char *topic = "patients";
    /* still kept: a replay from before them */
    ts_raw *r = raw_with(pc_token(C), 0);
    uint32_t replayed;
    assert_int_equal(ts_raw_subscribe(r, &topic, 1, before, 7, NULL, &replayed), 0);
    assert_int_equal(replayed, 3);
    ts_raw_close(r);
    /* a position in the future is refused too */
    r = raw_with(pc_token(C), 0);
    assert_int_equal(ts_raw_subscribe(r, &topic, 1, newest + 5, 7, NULL, NULL), PM_E_RELOAD);
    ts_raw_close(r);

    /* older than --event-retention 2 (real time: event times are wall-clock), and the
     * server's maintenance has run (it does at start) */
    usleep(3000 * 1000);
    assert_int_equal(ts_restart(&S, SERVE_ARGS " --event-retention 2"), 0);
    int src = 0;
    for (int i = 0; i < 50; i++) {
        r = raw_with(pc_token(C), 0);
        src = ts_raw_subscribe(r, &topic, 1, before + 1, 8, NULL, NULL);
        ts_raw_close(r);
        if (src == PM_E_RELOAD)
            break;
        usleep(100 * 1000);
    }
    assert_int_equal(src, PM_E_RELOAD);
    /* the client library passes it on */
    pc_client *c = client_with(pc_token(C));
    SH_EXPECT(c, pc_subscribe(c, &topic, 1, before, &A, NULL), PM_E_RELOAD);
    print_message("      subscribe from %llu: %s\n", (unsigned long long)before, pc_last_error(c));
    assert_string_equal(pc_last_error_detail(c)->field, "since");
    /* one that saw the newest, or the one before it, goes on */
    Pm__Subscribed *sd;
    SH_EXPECT(c, pc_subscribe(c, &topic, 1, newest, &A, &sd), PM_OK);
    assert_int_equal(sd->replayed, 0);
    assert_int_equal(sd->last_seq, newest);
    SH_EXPECT(c, pc_subscribe(c, &topic, 1, newest - 1, &A, &sd), PM_OK);
    assert_int_equal(sd->replayed, 1);
    pc_free(c);
}

/* --idle-timeout 2: a staff session idle for 2 s ends; its subscribed connection is told
 * (SessionLocked) and sent nothing more, while the display (no idle timeout) goes on. */
static void test_session_expiry_locks_the_stream(void **state)
{
    (void)state;
    assert_int_equal(ts_restart(&S, SERVE_ARGS " --idle-timeout 2"), 0);
    const char *day = "2026-06-04";
    at(day, 8, 0);
    pc_client *m = ts_manager(&S);
    assert_non_null(m);
    pc_client *sam = ts_user(&S, m, "sam", PM__ROLE__CLINICIAN);
    assert_non_null(sam);
    char mrn[24];
    SH_EXPECT(m, sh_patient(m, &A, "Locked", "Out", mrn), PM_OK);
    const char *topics[] = {"flow/main", "board/main"};
    ts_raw *staff = raw_with(pc_token(sam), 0);
    assert_int_equal(ts_raw_subscribe(staff, topics, 2, 0, 11, NULL, NULL), 0);
    uint64_t t_active = pm_mono_ms();
    pc_free(sam); /* its other connection: gone, so only the raw one is bound */
    ts_raw *screen = raw_with(pc_token(D), 0);
    assert_int_equal(ts_raw_subscribe(screen, &topics[1], 1, 0, 12, NULL, NULL), 0);

    /* the manager keeps busy: a walk-in and its undo every 300 ms for 5 s */
    int staff_events = 0, staff_after = 0, screen_events = 0, screen_after = 0, steps = 0;
    uint64_t t_locked = 0;
    int reason = 0;
    while (pm_mono_ms() - t_active < 5000) {
        Pm__Appointment *w;
        SH_EXPECT(m, ts_walk_in(m, &A, mrn, "main", "short", NULL, NULL, &w), PM_OK);
        SH_EXPECT(m, ts_flow_step(m, &A, w->id, 0, PM__FLOW_ACTION__UNDO, NULL, NULL), PM_OK);
        steps += 2;
        uint64_t until = pm_mono_ms() + 300;
        while (pm_mono_ms() < until) {
            pm_arena a;
            pm_arena_init(&a, 0);
            Pm__Envelope *e;
            while (ts_raw_next(staff, &a, 5, &e) == 1) {
                if (e->body_case == PM__ENVELOPE__BODY_SESSION_LOCKED && !t_locked) {
                    t_locked = pm_mono_ms();
                    reason = -(int)e->session_locked->reason;
                } else if (e->body_case == PM__ENVELOPE__BODY_EVENT) {
                    staff_events++;
                    staff_after += t_locked != 0;
                }
            }
            while (ts_raw_next(screen, &a, 5, &e) == 1)
                if (e->body_case == PM__ENVELOPE__BODY_EVENT) {
                    screen_events++;
                    screen_after += t_locked != 0;
                }
            pm_arena_free(&a);
        }
    }
    double locked_s = t_locked ? (double)(t_locked - t_active) / 1000.0 : -1;
    print_message("      %d steps; the staff stream got %d events, then SessionLocked (%s) "
                  "%.2f s after its last request, then %d events; the display got %d (%d "
                  "after)\n",
                  steps, staff_events, pm_strerror(reason), locked_s, staff_after, screen_events,
                  screen_after);
    assert_true(t_locked != 0);
    assert_int_equal(reason, PM_E_SESSION_EXPIRED);
    assert_true(locked_s >= 2.0 && locked_s < 4.5);
    assert_true(staff_events > 0);
    assert_int_equal(staff_after, 0);
    assert_true(screen_after > 0);
    /* and its requests are refused now */
    Pm__Envelope *e = pc_env(&A, PM__ENVELOPE__BODY_GET_FLOW), *resp = NULL;
    e->get_flow = pm_msg_new(&A, &pm__get_flow__descriptor);
    e->get_flow->location = "main";
    e->id = 13;
    assert_int_equal(ts_raw_env(staff, e), 0);
    int rc;
    while ((rc = ts_raw_next(staff, &A, 5000, &resp)) == 1 && resp->id != 13)
        ;
    assert_int_equal(rc, 1);
    assert_int_equal(resp->body_case, PM__ENVELOPE__BODY_ERROR);
    print_message("      its next request: %s\n", resp->error->message);
    assert_true(resp->error->code == PM__ERROR_CODE__UNAUTHENTICATED ||
                resp->error->code == PM__ERROR_CODE__SESSION_EXPIRED);
    ts_raw_close(staff);
    ts_raw_close(screen);
    pc_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_display_topics, test_done),
        cmocka_unit_test_teardown(test_display_sees_no_patient_data, test_done),
        cmocka_unit_test_teardown(test_replay_with_reconnects, test_done),
        cmocka_unit_test_teardown(test_slow_subscriber_cut_off, test_done),
        cmocka_unit_test_teardown(test_short_pause_is_not_cut_off, test_done),
        cmocka_unit_test_teardown(test_backlog_larger_than_output_limit, test_done),
        cmocka_unit_test_teardown(test_reload_when_too_far_behind, test_done),
        cmocka_unit_test_teardown(test_reload_after_retention, test_done),
        cmocka_unit_test_teardown(test_session_expiry_locks_the_stream, test_done),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
