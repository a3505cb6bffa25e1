/* fuzz_dispatch: the whole request path behind a logged-in manager's connection.
 *
 * LLVMFuzzerInitialize makes a practice in a temporary directory (practiced init with fast
 * Argon2), opens its store, starts the writer thread and runs the loop in this process,
 * as practiced serve does but without sockets or TLS. It logs in as the manager once on a
 * detached connection, sets the manager's password, adds a few patients and accounts,
 * and keeps that state as the pristine copy of the database.
 *
 * Each input then gets a new detached connection that sends Hello and Resume with the
 * manager's session token, so every post-login handler is in reach (a Resume in the input
 * can switch to the other roles, see prepare_frame). The input is the rest
 * of what the client sends: frames as on the wire, a 4-byte big-endian length and that
 * many bytes (the last frame takes what is left when its length promises more). Each
 * frame goes to dispatch_frame() as net.c would hand it over, with the same back-pressure
 * (the loop runs while too many requests are in flight). When the input is used up the
 * loop runs until every request has been answered, and the connection is closed; it
 * must then be freed, with no request or subscription left holding it.
 *
 * Every frame the server sends back must decode as a pm.Envelope whose text is valid:
 * clients (the Python one among them) reject anything else.
 *
 * State: every input starts from the pristine copy of the database (after each input the
 * store is closed, the copy written back, the store opened again: under 2 ms), so that an
 * input that crashes does it again when run alone, and memory and disk stay bounded
 * however long the run. An input is a whole pipeline, so it can still build on what it
 * wrote itself. PM_FUZZ_RESET_EVERY=N keeps what earlier inputs wrote for N inputs instead
 * (the file is still put back when it passes 64 MiB, and whenever an input ended the
 * manager's session); the run is then no faster, as the growing database slows every
 * request, and findings may depend on earlier inputs.
 *
 * Environment: PM_FUZZ_TMP (where the temporary practice goes; default /dev/shm, where
 * fsync costs nothing, else $TMPDIR or /tmp), PM_FUZZ_RESET_EVERY, PM_FUZZ_LOG (the
 * server's log level, default error), PM_FUZZ_TRACE=1 (print every frame sent back). */
#include "auth.h"
#include "dispatch.h"
#include "fuzz.h"
#include "net.h"
#include "pm_err.h"
#include "pm_frame.h"
#include "pm_log.h"
#include "pm_time.h"
#include "pm_util.h"
#include "server.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

server srv;

/* The seeds log in with it too, so that the fuzzer reaches a successful login. */
#define MANAGER_PASSWORD "fuzz-manager-pass-1"
#define DATA_MAX         (64u << 20)
#define HARNESS_ID       0xfffffffffff00000ull /* ids of the harness's own requests */

static char base_dir[512], data_dir[600], data_file[640];
static uint8_t *pristine;
static size_t pristine_len;
/* The session token of each role's account in the pristine practice (admin, reception,
 * drlee, lobby), by Pm__Role. */
static uint8_t tokens[PM__ROLE__DISPLAY + 1][32];
static int have_token[PM__ROLE__DISPLAY + 1];
static unsigned long reset_every = 1, since_reset;
static int trace;

/* ---- what the server sends ---- */

static struct {
    uint64_t want; /* the harness request whose answer is awaited */
    int answered;
    Pm__Envelope__BodyCase body;
    int error;
    int must_change;
    uint8_t token[32];
    char mrn[32];
    char secret[64]; /* a new account's one-time password or device secret */
} ans;

static void sink(void *ud, sframe *f)
{
    (void)ud;
    FUZZ_CHECK(f->len >= PM_FRAME_HDR);
    uint32_t blen = pm_get_u32(f->data);
    FUZZ_CHECK(blen == f->len - PM_FRAME_HDR);
    Pm__Envelope *env = pm__envelope__unpack(NULL, blen, f->data + PM_FRAME_HDR);
    if (!env) {
        fprintf(stderr, "fuzz_dispatch: the server sent a frame that does not decode\n");
        abort();
    }
    const char *bad;
    if (!pm_msg_text_valid(&env->base, &bad)) {
        fprintf(stderr, "fuzz_dispatch: the server sent invalid text in field '%s' (body %d)\n",
                bad, (int)env->body_case);
        abort();
    }
    if (trace) {
        const ProtobufCFieldDescriptor *bf =
            protobuf_c_message_descriptor_get_field(&pm__envelope__descriptor, env->body_case);
        fprintf(stderr, "  <- id %llu %s", (unsigned long long)env->id, bf ? bf->name : "(none)");
        if (env->body_case == PM__ENVELOPE__BODY_ERROR)
            fprintf(stderr, " %d %s%s%s", (int)env->error->code, env->error->message,
                    *env->error->field ? " field " : "", env->error->field);
        fprintf(stderr, "\n");
    }
    if (ans.want && env->id == ans.want) {
        ans.answered = 1;
        ans.body = env->body_case;
        if (env->body_case == PM__ENVELOPE__BODY_ERROR)
            ans.error = -(int)env->error->code;
        if (env->body_case == PM__ENVELOPE__BODY_LOGIN_OK) {
            ans.must_change = env->login_ok->must_change_password;
            if (env->login_ok->token.len == sizeof ans.token)
                memcpy(ans.token, env->login_ok->token.data, sizeof ans.token);
        }
        if (env->body_case == PM__ENVELOPE__BODY_ACCOUNT_CREDENTIAL)
            snprintf(ans.secret, sizeof ans.secret, "%s",
                     env->account_credential->one_time_password);
        if (env->body_case == PM__ENVELOPE__BODY_PATIENT_OK && env->patient_ok->patient)
            snprintf(ans.mrn, sizeof ans.mrn, "%s", env->patient_ok->patient->mrn);
    }
    pm__envelope__free_unpacked(env, NULL);
}

/* What the harness does to an input frame before the server sees it: 0 to drop it (it
 * would only show a known finding again, fuzz.h), 1 to send it. A Resume whose token is
 * 31 zero bytes and a role number gets the session token of that role's account in the
 * pristine practice: the fuzzer cannot guess a token, and so an input can act as the
 * receptionist, the clinician or the lobby display as well as the manager. */
static int prepare_frame(uint8_t **body, uint32_t *len)
{
    static const uint8_t zero[31];
    pm_arena a;
    pm_arena_init(&a, pm_frame_decode_budget(*len));
    Pm__Envelope *env = pm_frame_decode(&a, *body, *len);
    int keep = 1;
    if (env && env->body_case == PM__ENVELOPE__BODY_RESUME && env->resume->token.len == 32 &&
        memcmp(env->resume->token.data, zero, 31) == 0) {
        unsigned role = env->resume->token.data[31];
        if (role <= PM__ROLE__DISPLAY && have_token[role]) {
            env->resume->token.data = tokens[role];
            size_t n = pm__envelope__get_packed_size(env);
            uint8_t *p = malloc(n);
            FUZZ_CHECK(p != NULL);
            pm__envelope__pack(env, p);
            free(*body);
            *body = p;
            *len = (uint32_t)n;
        }
    }
    pm_arena_free(&a);
    return keep;
}

/* ---- driving the loop ---- */

static void run_until_idle(void)
{
    uv_run(srv.loop, UV_RUN_NOWAIT);
    while (srv.inflight > 0)
        uv_run(srv.loop, UV_RUN_ONCE);
    uv_run(srv.loop, UV_RUN_NOWAIT);
}

static void send_env(conn *c, const Pm__Envelope *env)
{
    size_t len = pm__envelope__get_packed_size(env);
    FUZZ_CHECK(len > 0 && len <= PM_FRAME_MAX);
    uint8_t *body = malloc(len);
    FUZZ_CHECK(body != NULL);
    pm__envelope__pack(env, body);
    dispatch_frame(c, body, (uint32_t)len);
}

/* Sends a harness request and runs the loop until it is answered. */
static void call(conn *c, Pm__Envelope *env)
{
    static uint64_t next_id = HARNESS_ID;
    memset(&ans, 0, sizeof ans);
    env->id = ans.want = ++next_id;
    send_env(c, env);
    run_until_idle();
    FUZZ_CHECK(ans.answered);
}

static conn *conn_open(void)
{
    conn *c = conn_new_detached(sink, NULL);
    FUZZ_CHECK(c != NULL);
    conn_ref(c); /* ours, so that it can be checked after the server let go of it */
    Pm__Envelope env = PM__ENVELOPE__INIT;
    Pm__Hello hello = PM__HELLO__INIT;
    hello.protocol_version = PM_PROTOCOL_VERSION;
    hello.client = "fuzz_dispatch";
    env.body_case = PM__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    call(c, &env);
    FUZZ_CHECK(ans.body == PM__ENVELOPE__BODY_HELLO_OK);
    return c;
}

static void conn_close(conn *c)
{
    run_until_idle();
    conn_abort(c, "fuzz input done");
    uv_run(srv.loop, UV_RUN_NOWAIT); /* the close callbacks */
    /* Nothing but our reference may be left: no request, subscription or timer. */
    FUZZ_CHECK(c->refs == 1);
    FUZZ_CHECK(c->inflight == 0 && c->subs == NULL && c->sess == NULL);
    conn_unref(c);
    FUZZ_CHECK(srv.conns == NULL && srv.nconns == 0 && srv.inflight == 0);
}

static int resume(conn *c)
{
    Pm__Envelope env = PM__ENVELOPE__INIT;
    Pm__Resume rs = PM__RESUME__INIT;
    rs.token.data = tokens[PM__ROLE__MANAGER];
    rs.token.len = sizeof tokens[0];
    rs.device = "fuzz";
    env.body_case = PM__ENVELOPE__BODY_RESUME;
    env.resume = &rs;
    call(c, &env);
    return ans.body == PM__ENVELOPE__BODY_LOGIN_OK && !ans.must_change;
}

/* ---- the store: up, down, back to the pristine copy ---- */

static void server_up(void)
{
    FUZZ_CHECK(store_open(&srv.st, data_dir, STORE_OPEN) == PM_OK);
    FUZZ_CHECK(auth_init() == PM_OK);
    FUZZ_CHECK(store_writer_start(srv.st, srv.loop) == PM_OK);
}

static void server_down(void)
{
    run_until_idle();
    store_writer_stop(srv.st);       /* after the jobs still queued (forgotten sessions) ran */
    uv_run(srv.loop, UV_RUN_NOWAIT); /* the writer's async handle closes */
    auth_shutdown();
    store_close(srv.st);
    srv.st = NULL;
}

static void write_all(const char *path, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0);
    while (n) {
        ssize_t w = write(fd, p, n);
        FUZZ_CHECK(w > 0);
        p += w;
        n -= (size_t)w;
    }
    FUZZ_CHECK(close(fd) == 0);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    FUZZ_CHECK(f != NULL);
    size_t cap = 1 << 16, n = 0;
    uint8_t *p = malloc(cap);
    FUZZ_CHECK(p != NULL);
    size_t r;
    while ((r = fread(p + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            p = realloc(p, cap);
            FUZZ_CHECK(p != NULL);
        }
    }
    fclose(f);
    *len = n;
    return p;
}

static void restore(void)
{
    server_down();
    write_all(data_file, pristine, pristine_len);
    server_up();
    since_reset = 0;
}

static int data_too_big(void)
{
    struct stat sb;
    return stat(data_file, &sb) == 0 && (uint64_t)sb.st_size > DATA_MAX;
}

/* ---- set-up ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(void)
{
    if (base_dir[0])
        nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* practiced init, its output caught to learn the manager's one-time password. */
static void init_practice(char *otp, size_t otplen)
{
    char out_path[640];
    snprintf(out_path, sizeof out_path, "%s/init.txt", base_dir);
    char a0[] = "init", a1[] = "--data", a3[] = "--name", a4[] = "Fuzz Family Practice",
         a5[] = "--tz", a6[] = "Europe/Paris", a7[] = "--argon2-memory", a8[] = "256",
         a9[] = "--argon2-passes", a10[] = "1";
    char *argv[] = {a0, a1, data_dir, a3, a4, a5, a6, a7, a8, a9, a10, NULL};
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(saved >= 0 && fd >= 0);
    dup2(fd, STDOUT_FILENO);
    int rc = cmd_init(11, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(fd);
    FUZZ_CHECK(rc == 0);
    size_t len;
    char *text = (char *)read_all(out_path, &len);
    text = realloc(text, len + 1);
    FUZZ_CHECK(text != NULL);
    text[len] = 0;
    const char *p = strstr(text, "one-time-password: ");
    FUZZ_CHECK(p != NULL);
    p += strlen("one-time-password: ");
    size_t n = strcspn(p, "\n");
    FUZZ_CHECK(n > 0 && n < otplen);
    memcpy(otp, p, n);
    otp[n] = 0;
    free(text);
    unlink(out_path);
}

/* A set-up step the seeds rely on. The server's rules move on: when one is refused, say
 * so and carry on (the seeds that use it reach less) rather than stop fuzzing. */
static void step(conn *c, Pm__Envelope *env, const char *what)
{
    call(c, env);
    if (ans.body == PM__ENVELOPE__BODY_ERROR || ans.body == PM__ENVELOPE__BODY__NOT_SET)
        fprintf(stderr, "fuzz_dispatch: set-up step '%s' refused (error %d)\n", what, ans.error);
}

static void create_patient(conn *c, const char *first, const char *last, const char *dob,
                           const char *phone)
{
    Pm__Envelope env = PM__ENVELOPE__INIT;
    Pm__CreatePatient cp = PM__CREATE_PATIENT__INIT;
    Pm__Patient p = PM__PATIENT__INIT;
    Pm__Phone ph = PM__PHONE__INIT, *phones[1] = {&ph};
    p.first_name = (char *)first;
    p.last_name = (char *)last;
    p.date_of_birth = (char *)dob;
    p.sex = PM__SEX__FEMALE;
    ph.number = (char *)phone;
    ph.kind = PM__PHONE_KIND__MOBILE;
    p.phones = phones;
    p.n_phones = 1;
    cp.patient = &p;
    env.body_case = PM__ENVELOPE__BODY_CREATE_PATIENT;
    env.create_patient = &cp;
    step(c, &env, "create patient");
}

/* Logs name in on a connection of its own, replaces a one-time password, and keeps the
 * session's token for role. */
static void login_as(const char *name, const char *secret, Pm__Role role, int change)
{
    if (!*secret)
        return;
    conn *c = conn_open();
    Pm__Envelope env = PM__ENVELOPE__INIT;
    Pm__Login login = PM__LOGIN__INIT;
    login.username = (char *)name;
    login.password = (char *)secret;
    login.device = "fuzz";
    env.body_case = PM__ENVELOPE__BODY_LOGIN;
    env.login = &login;
    call(c, &env);
    if (ans.body != PM__ENVELOPE__BODY_LOGIN_OK) {
        fprintf(stderr, "fuzz_dispatch: set-up: %s cannot log in (error %d)\n", name, ans.error);
        conn_close(c);
        return;
    }
    memcpy(tokens[role], ans.token, sizeof tokens[role]);
    if (change) {
        Pm__Envelope ce = PM__ENVELOPE__INIT;
        Pm__ChangePassword cp = PM__CHANGE_PASSWORD__INIT;
        cp.new_password = MANAGER_PASSWORD;
        ce.body_case = PM__ENVELOPE__BODY_CHANGE_PASSWORD;
        ce.change_password = &cp;
        call(c, &ce);
        if (ans.body != PM__ENVELOPE__BODY_ACCOUNT_OK) {
            fprintf(stderr, "fuzz_dispatch: set-up: %s cannot set a password\n", name);
            conn_close(c);
            return;
        }
    }
    have_token[role] = 1;
    conn_close(c);
}

static void create_account(conn *c, const char *name, Pm__Role role, char *secret, size_t n)
{
    Pm__Envelope env = PM__ENVELOPE__INIT;
    Pm__CreateAccount ca = PM__CREATE_ACCOUNT__INIT;
    ca.username = (char *)name;
    ca.role = role;
    env.body_case = PM__ENVELOPE__BODY_CREATE_ACCOUNT;
    env.create_account = &ca;
    step(c, &env, "create account");
    snprintf(secret, n, "%s", ans.secret);
}

/* Local midnight of today + days, as YYYY-MM-DD and as an instant. */
static time_t local_day(int days, char date[11])
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    tm.tm_mday += days;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    localtime_r(&t, &tm);
    strftime(date, 11, "%Y-%m-%d", &tm);
    return t;
}

/* The schedule the seeds name: location main with rooms room-1 and room-2, provider dr-lee
 * (account drlee) available every day from 08:00 to 20:00 (template dr-lee/1), visit type
 * checkup, a holiday on 2031-12-25, exception 1; appointment 1 tomorrow at 10:00 for
 * 100016, appointment 2 a walk-in today for 100024, waitlist entry 1 for 100032. */
static void populate_schedule(conn *c)
{
    Pm__Envelope env;
    Pm__PutLocation pl = PM__PUT_LOCATION__INIT;
    Pm__Location loc = PM__LOCATION__INIT;
    loc.id = "main";
    loc.name = "Main Street";
    pl.location = &loc;
    env = (Pm__Envelope)PM__ENVELOPE__INIT;
    env.body_case = PM__ENVELOPE__BODY_PUT_LOCATION;
    env.put_location = &pl;
    step(c, &env, "location main");

    static const char *const rooms[2][2] = {{"room-1", "Room 1"}, {"room-2", "Room 2"}};
    for (int i = 0; i < 2; i++) {
        Pm__PutRoom pr = PM__PUT_ROOM__INIT;
        Pm__Room room = PM__ROOM__INIT;
        room.id = (char *)rooms[i][0];
        room.name = (char *)rooms[i][1];
        room.location = "main";
        pr.room = &room;
        env = (Pm__Envelope)PM__ENVELOPE__INIT;
        env.body_case = PM__ENVELOPE__BODY_PUT_ROOM;
        env.put_room = &pr;
        step(c, &env, "room");
    }

    Pm__PutProvider pp = PM__PUT_PROVIDER__INIT;
    Pm__Provider prov = PM__PROVIDER__INIT;
    prov.id = "dr-lee";
    prov.name = "Dr Lee";
    prov.credentials = "MD";
    prov.color = "#3b82f6";
    prov.default_location = "main";
    prov.username = "drlee";
    pp.provider = &prov;
    env = (Pm__Envelope)PM__ENVELOPE__INIT;
    env.body_case = PM__ENVELOPE__BODY_PUT_PROVIDER;
    env.put_provider = &pp;
    step(c, &env, "provider dr-lee");

    Pm__PutVisitType pv = PM__PUT_VISIT_TYPE__INIT;
    Pm__VisitType vt = PM__VISIT_TYPE__INIT;
    char *offered[1] = {"dr-lee"};
    vt.id = "checkup";
    vt.name = "Check-up";
    vt.duration_min = 30;
    vt.color = "#10b981";
    vt.providers = offered;
    vt.n_providers = 1;
    vt.needs_room = 1;
    pv.visit_type = &vt;
    env = (Pm__Envelope)PM__ENVELOPE__INIT;
    env.body_case = PM__ENVELOPE__BODY_PUT_VISIT_TYPE;
    env.put_visit_type = &pv;
    step(c, &env, "visit type checkup");

    Pm__PutTemplate pt = PM__PUT_TEMPLATE__INIT;
    Pm__Template tpl = PM__TEMPLATE__INIT;
    Pm__TemplateBlock blocks[7], *bp[7];
    for (int d = 0; d < 7; d++) {
        blocks[d] = (Pm__TemplateBlock)PM__TEMPLATE_BLOCK__INIT;
        blocks[d].weekday = (uint32_t)d + 1;
        blocks[d].start_min = 8 * 60;
        blocks[d].end_min = 20 * 60;
        blocks[d].location = "main";
        blocks[d].capacity = 2;
        bp[d] = &blocks[d];
    }
    tpl.provider = "dr-lee";
    tpl.valid_from = "2020-01-01";
    tpl.blocks = bp;
    tpl.n_blocks = 7;
    pt.template_ = &tpl;
    env = (Pm__Envelope)PM__ENVELOPE__INIT;
    env.body_case = PM__ENVELOPE__BODY_PUT_TEMPLATE;
    env.put_template = &pt;
    step(c, &env, "template dr-lee/1");

    Pm__PutHoliday ph = PM__PUT_HOLIDAY__INIT;
    Pm__Holiday hol = PM__HOLIDAY__INIT;
    hol.date = "2031-12-25";
    hol.name = "Christmas";
    ph.holiday = &hol;
    env = (Pm__Envelope)PM__ENVELOPE__INIT;
    env.body_case = PM__ENVELOPE__BODY_PUT_HOLIDAY;
    env.put_holiday = &ph;
    step(c, &env, "holiday");

    char today[11], tomorrow[11], later[11];
    time_t t0 = local_day(0, today), t1 = local_day(1, tomorrow);
    local_day(60, later);
    Pm__AddException ae = PM__ADD_EXCEPTION__INIT;
    Pm__Exception ex = PM__EXCEPTION__INIT;
    ex.provider = "dr-lee";
    ex.start = t0 + 40 * 86400 + 12 * 3600;
    ex.end = ex.start + 3600;
    ex.kind = PM__EXCEPTION_KIND__MEETING;
    ex.reason = "staff meeting";
    ae.exception = &ex;
    env = (Pm__Envelope)PM__ENVELOPE__INIT;
    env.body_case = PM__ENVELOPE__BODY_ADD_EXCEPTION;
    env.add_exception = &ae;
    step(c, &env, "exception 1");

    Pm__Book bk = PM__BOOK__INIT;
    bk.patient_mrn = "100016";
    bk.provider = "dr-lee";
    bk.visit_type = "checkup";
    bk.location = "main";
    bk.start = t1 + 10 * 3600;
    env = (Pm__Envelope)PM__ENVELOPE__INIT;
    env.body_case = PM__ENVELOPE__BODY_BOOK;
    env.book = &bk;
    step(c, &env, "appointment 1");

    Pm__WalkIn wi = PM__WALK_IN__INIT;
    wi.patient_mrn = "100024";
    wi.location = "main";
    wi.visit_type = "checkup";
    wi.provider = "dr-lee";
    env = (Pm__Envelope)PM__ENVELOPE__INIT;
    env.body_case = PM__ENVELOPE__BODY_WALK_IN;
    env.walk_in = &wi;
    step(c, &env, "walk-in (appointment 2)");

    Pm__AddToWaitlist aw = PM__ADD_TO_WAITLIST__INIT;
    Pm__WaitlistEntry we = PM__WAITLIST_ENTRY__INIT;
    we.patient_mrn = "100032";
    we.visit_type = "checkup";
    we.providers = offered;
    we.n_providers = 1;
    we.from_date = today;
    we.to_date = later;
    we.priority = 1;
    aw.entry = &we;
    env = (Pm__Envelope)PM__ENVELOPE__INIT;
    env.body_case = PM__ENVELOPE__BODY_ADD_TO_WAITLIST;
    env.add_to_waitlist = &aw;
    step(c, &env, "waitlist entry 1");
}

/* The manager logs in with the one-time password, sets MANAGER_PASSWORD, and adds what
 * the seeds refer to: patients 100016, 100024 and 100032, accounts reception and drlee,
 * the schedule above, and display lobby; then logs each of those accounts in once (their
 * sessions are in the pristine copy, for prepare_frame's Resume). */
static void populate(const char *otp)
{
    conn *c = conn_open();
    Pm__Envelope env = PM__ENVELOPE__INIT;
    Pm__Login login = PM__LOGIN__INIT;
    login.username = "admin";
    login.password = (char *)otp;
    login.device = "fuzz";
    env.body_case = PM__ENVELOPE__BODY_LOGIN;
    env.login = &login;
    call(c, &env);
    FUZZ_CHECK(ans.body == PM__ENVELOPE__BODY_LOGIN_OK && ans.must_change);
    memcpy(tokens[PM__ROLE__MANAGER], ans.token, sizeof tokens[0]);
    have_token[PM__ROLE__MANAGER] = 1;

    Pm__Envelope ce = PM__ENVELOPE__INIT;
    Pm__ChangePassword cp = PM__CHANGE_PASSWORD__INIT;
    cp.new_password = MANAGER_PASSWORD;
    ce.body_case = PM__ENVELOPE__BODY_CHANGE_PASSWORD;
    ce.change_password = &cp;
    call(c, &ce);
    FUZZ_CHECK(ans.body == PM__ENVELOPE__BODY_ACCOUNT_OK);

    create_patient(c, "Ann", "Smith", "1984-02-29", "+44 7700 900123");
    if (strcmp(ans.mrn, "100016") != 0)
        fprintf(stderr, "fuzz_dispatch: the first patient is '%s', the seeds say 100016\n",
                ans.mrn);
    create_patient(c, "José", "Núñez", "1951-07-04", "+1 212 555 1234");
    create_patient(c, "Mary-Jane", "O'Brien Smith", "2019-12-31", "020 7946 0000");
    char reception[64], drlee[64], lobby[64];
    create_account(c, "reception", PM__ROLE__RECEPTIONIST, reception, sizeof reception);
    create_account(c, "drlee", PM__ROLE__CLINICIAN, drlee, sizeof drlee);
    populate_schedule(c);

    Pm__Envelope de = PM__ENVELOPE__INIT;
    Pm__CreateDevice cd = PM__CREATE_DEVICE__INIT;
    cd.name = "lobby";
    cd.location = "main";
    de.body_case = PM__ENVELOPE__BODY_CREATE_DEVICE;
    de.create_device = &cd;
    step(c, &de, "display lobby");
    snprintf(lobby, sizeof lobby, "%s", ans.secret);
    conn_close(c);

    login_as("reception", reception, PM__ROLE__RECEPTIONIST, 1);
    login_as("drlee", drlee, PM__ROLE__CLINICIAN, 1);
    login_as("lobby", lobby, PM__ROLE__DISPLAY, 0);
}

/* Removes the practices of earlier runs that crashed (libFuzzer then exits without
 * running atexit handlers): practiced-fuzz-PID-* whose process is gone. */
static void remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int pid;
        if (sscanf(e->d_name, "practiced-fuzz-%d-", &pid) != 1 || pid <= 0)
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

static void pick_base(void)
{
    const char *env = getenv("PM_FUZZ_TMP");
    const char *dir = env && *env ? env : NULL;
    if (!dir && access("/dev/shm", W_OK) == 0)
        dir = "/dev/shm";
    if (!dir)
        dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    remove_stale(dir);
    snprintf(base_dir, sizeof base_dir, "%s/practiced-fuzz-%d-XXXXXX", dir, (int)getpid());
    FUZZ_CHECK(mkdtemp(base_dir) != NULL);
    atexit(cleanup);
    snprintf(data_dir, sizeof data_dir, "%s/data", base_dir);
    snprintf(data_file, sizeof data_file, "%s/data.mdb", data_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *lv = getenv("PM_FUZZ_LOG");
    pm_log_set_level(lv && pm_log_parse_level(lv) >= 0 ? pm_log_parse_level(lv) : PM_LOG_ERROR);
    trace = getenv("PM_FUZZ_TRACE") && *getenv("PM_FUZZ_TRACE") == '1';
    const char *re = getenv("PM_FUZZ_RESET_EVERY");
    if (re && strtoul(re, NULL, 10) > 0)
        reset_every = strtoul(re, NULL, 10);

    pick_base();
    char otp[64];
    init_practice(otp, sizeof otp);

    server_config_defaults(&srv.cfg);
    srv.cfg.data_dir = data_dir;
    /* Nothing may wait on a timer: a failed login answers at once, and nothing locks or
     * times out however long the run. */
    srv.cfg.login_delay_ms = 0;
    srv.cfg.login_delay_max_ms = 0;
    srv.cfg.lockout_failures = UINT32_MAX;
    srv.cfg.idle_timeout_s = 365 * 86400;
    srv.cfg.session_max_s = 365 * 86400;
    snprintf(srv.practice_name, sizeof srv.practice_name, "Fuzz Family Practice");
    snprintf(srv.timezone, sizeof srv.timezone, "Europe/Paris");
    FUZZ_CHECK(pm_tz_use(srv.timezone) == PM_OK);
    srv.loop = uv_default_loop();
    server_up();
    populate(otp);

    server_down();
    pristine = read_all(data_file, &pristine_len);
    server_up();
    fprintf(stderr, "fuzz_dispatch: practice in %s (%zu KiB), reset every %lu inputs\n", data_dir,
            pristine_len / 1024, reset_every);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    conn *c = conn_open();
    if (!resume(c)) {
        /* An earlier input ended the manager's session (Logout, ResetPassword). */
        conn_close(c);
        restore();
        c = conn_open();
        FUZZ_CHECK(resume(c));
    }
    memset(&ans, 0, sizeof ans);

    size_t off = 0;
    while (!c->closing && size - off >= PM_FRAME_HDR) {
        uint32_t len = pm_get_u32(data + off);
        off += PM_FRAME_HDR;
        if (len == 0 || len > c->framer.limit) {
            /* what net.c does with such a header */
            int err = len == 0 ? PM_E_PROTOCOL : PM_E_FRAME_TOO_LARGE;
            conn_send_error(c, 0, err, NULL, NULL);
            conn_end(c, pm_strerror(err));
            break;
        }
        if (len > size - off)
            len = (uint32_t)(size - off);
        if (len == 0)
            break;
        uint8_t *body = malloc(len);
        FUZZ_CHECK(body != NULL);
        memcpy(body, data + off, len);
        off += len;
        if (!prepare_frame(&body, &len)) {
            free(body);
            continue;
        }
        dispatch_frame(c, body, len);
        uv_run(srv.loop, UV_RUN_NOWAIT);
        /* net.c stops reading while this many are in flight */
        while (!c->closing && c->inflight >= srv.cfg.max_inflight)
            uv_run(srv.loop, UV_RUN_ONCE);
    }
    conn_close(c);
    /* Put back at the end rather than at the start of the next input: what this input
     * made is freed within it, so that libFuzzer's leak check (which runs when an input
     * allocated more than it freed) stays meaningful instead of firing on every input. */
    if (++since_reset >= reset_every || data_too_big())
        restore();
    return 0;
}
