/* board_tool: what tests/cli/test_board.sh needs beyond the practice CLI, through the
 * client library: the flow steps of the front desk, the day's flow in numbers, and a
 * recorder of everything an account receives on a board or flow subscription.
 *
 * It uses the CLI's configuration directory ($PRACTICE_CONFIG: the server, the CA and the
 * saved session), so it acts as whoever 'practice login' logged in.
 *
 *   board_tool arrive|see|checkout|undo APPT
 *   board_tool room APPT ROOM
 *   board_tool walkin MRN LOCATION VISIT-TYPE [PROVIDER]     prints "TICKET APPT"
 *   board_tool flow LOCATION [DATE]     "arrived=N roomed=N seen=N checked_out=N ..."
 *   board_tool record LOCATION OUT [DEVICE SECRET]
 *
 * record logs in as the display DEVICE (or, without it, uses the saved staff session
 * and also subscribes to flow/LOCATION), subscribes to board/LOCATION from the start,
 * asks for the board, and writes every envelope it receives (answers and events),
 * encoded again as they were decoded, each as a 4-byte length and the bytes, until
 * SIGTERM or SIGINT. The session token in a login answer is blanked: 32 random bytes
 * could spell anything. It prints "recording" once subscribed. */
#include "pc.h"
#include "pm_err.h"
#include "pm_util.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "board_tool: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void kv(const char *text, const char *key, char *out, size_t n)
{
    size_t klen = strlen(key);
    out[0] = 0;
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            snprintf(out, n, "%.*s", (int)(len - klen - 1), line + klen + 1);
            return;
        }
        line += len + (line[len] == '\n');
    }
}

static void slurp(const char *dir, const char *name, char *buf, size_t n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    size_t len = f ? fread(buf, 1, n - 1, f) : 0;
    if (f)
        fclose(f);
    buf[len] = 0;
}

/* A client for the CLI's server; with the saved session unless anonymous. */
static pc_client *open_client(int anonymous)
{
    const char *dir = getenv("PRACTICE_CONFIG");
    if (!dir)
        die("%s", "PRACTICE_CONFIG is not set");
    char text[4096], host[256], port[16], hex[80], device[64], ca[PATH_MAX];
    slurp(dir, "config", text, sizeof text);
    kv(text, "host", host, sizeof host);
    kv(text, "port", port, sizeof port);
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    pc_opts o = {.host = host, .port = atoi(port), .ca_file = ca, .client_name = "board_tool"};
    pc_client *c = pc_new(&o);
    if (!c)
        die("%s", "out of memory");
    if (!anonymous) {
        uint8_t token[32];
        slurp(dir, "session", text, sizeof text);
        kv(text, "token", hex, sizeof hex);
        kv(text, "device", device, sizeof device);
        if (pm_unhex(hex, token, sizeof token) != 32)
            die("%s", "no saved session: log in with the practice CLI first");
        pc_set_token(c, token, sizeof token);
        pc_set_device(c, device);
    }
    int rc = pc_connect(c);
    if (rc)
        die("cannot connect: %s", pc_last_error(c));
    return c;
}

static Pm__Envelope *call(pc_client *c, pm_arena *a, Pm__Envelope *e, Pm__Envelope__BodyCase want)
{
    Pm__Envelope *resp = NULL;
    int rc = pc_call(c, e, a, &resp);
    if (rc)
        die("%s", pc_last_error(c));
    if (resp->body_case != want)
        die("%s", "unexpected answer");
    return resp;
}

static int step(int argc, char **argv, Pm__FlowAction action)
{
    if (argc < 3 || (action == PM__FLOW_ACTION__TO_ROOM && argc < 4))
        die("%s", "usage: board_tool STEP APPT [ROOM]");
    pc_client *c = open_client(0);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_FLOW_STEP);
    Pm__FlowStep *fs = pm_msg_new(&a, &pm__flow_step__descriptor);
    fs->appointment_id = strtoull(argv[2], NULL, 10);
    fs->action = action;
    fs->room = action == PM__FLOW_ACTION__TO_ROOM ? argv[3] : "";
    e->flow_step = fs;
    const Pm__Appointment *ap =
        call(c, &a, e, PM__ENVELOPE__BODY_APPOINTMENT_OK)->appointment_ok->appointment;
    printf("%s %llu\n", *ap->ticket ? ap->ticket : "-", (unsigned long long)ap->id);
    pm_arena_free(&a);
    pc_free(c);
    return 0;
}

static int walk_in(int argc, char **argv)
{
    if (argc < 5)
        die("%s", "usage: board_tool walkin MRN LOCATION VISIT-TYPE [PROVIDER]");
    pc_client *c = open_client(0);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_WALK_IN);
    Pm__WalkIn *w = pm_msg_new(&a, &pm__walk_in__descriptor);
    w->patient_mrn = argv[2];
    w->location = argv[3];
    w->visit_type = argv[4];
    w->provider = argc > 5 ? argv[5] : "";
    e->walk_in = w;
    const Pm__Appointment *ap =
        call(c, &a, e, PM__ENVELOPE__BODY_APPOINTMENT_OK)->appointment_ok->appointment;
    printf("%s %llu\n", ap->ticket, (unsigned long long)ap->id);
    pm_arena_free(&a);
    pc_free(c);
    return 0;
}

static int flow(int argc, char **argv)
{
    if (argc < 3)
        die("%s", "usage: board_tool flow LOCATION [DATE]");
    pc_client *c = open_client(0);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_GET_FLOW);
    Pm__GetFlow *g = pm_msg_new(&a, &pm__get_flow__descriptor);
    g->location = argv[2];
    g->date = argc > 3 ? argv[3] : "";
    e->get_flow = g;
    const Pm__Flow *f = call(c, &a, e, PM__ENVELOPE__BODY_FLOW)->flow;
    unsigned booked = 0, arrived = 0, roomed = 0, seen = 0, out = 0, cancelled = 0, walk_ins = 0,
             no_shows = 0;
    for (size_t i = 0; i < f->n_appointments; i++) {
        const Pm__Appointment *ap = f->appointments[i];
        booked++;
        arrived += ap->arrived_at != 0;
        roomed += ap->roomed_at != 0;
        seen += ap->seen_at != 0;
        out += ap->checked_out_at != 0;
        walk_ins += ap->walk_in;
        cancelled += ap->status == PM__APPOINTMENT_STATUS__CANCELLED;
        no_shows += ap->status == PM__APPOINTMENT_STATUS__NO_SHOW;
    }
    printf("date=%s appointments=%u arrived=%u roomed=%u seen=%u checked_out=%u cancelled=%u "
           "walk_ins=%u no_shows=%u\n",
           f->date, booked, arrived, roomed, seen, out, cancelled, walk_ins, no_shows);
    pm_arena_free(&a);
    pc_free(c);
    return 0;
}

/* ---- the recorder ---- */

static volatile sig_atomic_t stop;
static FILE *rec;
static unsigned long recorded;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static void record_env(const Pm__Envelope *e)
{
    size_t n = pm__envelope__get_packed_size(e);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        die("%s", "out of memory");
    pm__envelope__pack(e, buf);
    uint8_t len[4];
    pm_put_u32(len, (uint32_t)n);
    if (fwrite(len, 1, 4, rec) != 4 || fwrite(buf, 1, n, rec) != n)
        die("%s", "cannot write the recording");
    fflush(rec);
    recorded++;
    free(buf);
}

static void on_event(void *ud, const Pm__Envelope *env)
{
    (void)ud;
    record_env(env);
}

static int record(int argc, char **argv)
{
    if (argc != 4 && argc != 6)
        die("%s", "usage: board_tool record LOCATION OUT [DEVICE SECRET]");
    const char *location = argv[2];
    int display = argc == 6;
    if (!(rec = fopen(argv[3], "wb")))
        die("cannot write %s", argv[3]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pc_client *c = open_client(display);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *resp;
    if (display) {
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_LOGIN);
        Pm__Login *l = pm_msg_new(&a, &pm__login__descriptor);
        l->username = argv[4];
        l->password = argv[5];
        l->device = "board_tool recorder";
        e->login = l;
        resp = call(c, &a, e, PM__ENVELOPE__BODY_LOGIN_OK);
        if (resp->login_ok->token.len != 32)
            die("%s", "no token");
        pc_set_token(c, resp->login_ok->token.data, 32);
        memset(resp->login_ok->token.data, 0, 32);
        record_env(resp);
    }
    char board[96], flow_topic[96];
    snprintf(board, sizeof board, "board/%s", location);
    snprintf(flow_topic, sizeof flow_topic, "flow/%s", location);
    const char *topics[2] = {board, flow_topic};
    pc_on_event(c, on_event, NULL);
    Pm__Subscribed *sub;
    int rc = pc_subscribe(c, topics, display ? 1 : 2, 0, &a, &sub);
    if (rc)
        die("cannot subscribe: %s", pc_last_error(c));
    Pm__Envelope *se = pc_env(&a, PM__ENVELOPE__BODY_SUBSCRIBED);
    se->subscribed = sub;
    record_env(se);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_GET_BOARD);
    Pm__GetBoard *g = pm_msg_new(&a, &pm__get_board__descriptor);
    g->location = (char *)location;
    e->get_board = g;
    record_env(call(c, &a, e, PM__ENVELOPE__BODY_BOARD_STATE));
    printf("recording\n");
    fflush(stdout);
    while (!stop) {
        rc = pc_poll(c, 200);
        if (rc < 0 && !stop)
            die("the connection broke: %s", pc_last_error(c));
    }
    pm_arena_free(&a);
    pc_free(c);
    fclose(rec);
    fprintf(stderr, "board_tool: recorded %lu envelopes\n", recorded);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("%s", "usage: board_tool arrive|room|see|checkout|undo|walkin|flow|record ...");
    const char *cmd = argv[1];
    if (strcmp(cmd, "arrive") == 0)
        return step(argc, argv, PM__FLOW_ACTION__ARRIVE);
    if (strcmp(cmd, "room") == 0)
        return step(argc, argv, PM__FLOW_ACTION__TO_ROOM);
    if (strcmp(cmd, "see") == 0)
        return step(argc, argv, PM__FLOW_ACTION__SEE);
    if (strcmp(cmd, "checkout") == 0)
        return step(argc, argv, PM__FLOW_ACTION__CHECK_OUT);
    if (strcmp(cmd, "undo") == 0)
        return step(argc, argv, PM__FLOW_ACTION__UNDO);
    if (strcmp(cmd, "walkin") == 0)
        return walk_in(argc, argv);
    if (strcmp(cmd, "flow") == 0)
        return flow(argc, argv);
    if (strcmp(cmd, "record") == 0)
        return record(argc, argv);
    die("unknown command %s", cmd);
}
