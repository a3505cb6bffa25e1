/* practice board: the waiting-room screen of one location, full screen and unattended.
 *
 * It runs as a display device account (role display, made by 'practice device add'),
 * whose name and secret it is given once and keeps in the configuration directory; it
 * logs in with them by itself whenever its session has ended. It asks the server for
 * the board (GetBoard), subscribes to board/<location>, and takes each BoardChanged as
 * the new state. The server sends a display nothing but the redacted projection (ticket,
 * room, estimated start), and that is all this file ever puts on the screen.
 *
 * When the server goes away the last board stays up with a small notice, and the
 * connection is retried for ever with capped exponential backoff and jitter; once back,
 * the library has resubscribed from the last event seen and a fresh GetBoard replaces
 * what was shown. */
#include "board.h"

#include "board_draw.h"
#include "board_model.h"
#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"

#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DISPLAY_FILE     "display"
#define SECRET_MAX       256
#define LOCATION_MAX     40
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS   30000
#define REFUSED_RETRY_MS 60000 /* credentials refused: try again this often */
#define REFRESH_MS       20000 /* a fresh GetBoard this often, events or not */
#define NOTICE_MAX       256

/* The display this computer is, as kept in the configuration directory. */
typedef struct display_cred {
    char device[CLI_NAME_MAX];
    char location[LOCATION_MAX];
    char secret[SECRET_MAX];
} display_cred;

typedef struct board {
    cli *c;
    display_cred cred;
    const char *want_location; /* --location, or NULL */
    char topic[LOCATION_MAX + 8];
    char label[CLI_NAME_MAX + 16]; /* the device in the audit log */
    board_model m;
    int speed_given; /* --speed: else the server's clock speed, from its HelloOk */
    int up;          /* connected, logged in, subscribed, with a fresh board */
    int subscribed;  /* the library holds the subscription (renewed on reconnect) */
    int need_login;  /* the server ended the session */
    int refused;     /* the server refused the display's credentials or location */
    uint64_t backoff_ms, next_try_ms, next_refresh_ms, down_since_ms;
    char why[NOTICE_MAX]; /* why the last login was refused, when not the server's word */
    char notice[NOTICE_MAX];
    char message[NOTICE_MAX * 2];
} board;

static volatile sig_atomic_t stop_board;

static void on_stop(int sig)
{
    (void)sig;
    stop_board = 1;
}

/* ---- the credentials ---- */

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

static int load_cred(const cli_config *cfg, display_cred *d)
{
    char text[1024];
    int rc = cfg_load_file(cfg, DISPLAY_FILE, text, sizeof text);
    if (rc)
        return rc;
    kv(text, "device", d->device, sizeof d->device);
    kv(text, "location", d->location, sizeof d->location);
    kv(text, "secret", d->secret, sizeof d->secret);
    cli_wipe(text, sizeof text);
    return *d->device && *d->secret ? PM_OK : PM_E_CONFIG;
}

static int save_cred(const cli_config *cfg, const display_cred *d)
{
    char text[1024];
    snprintf(text, sizeof text,
             "# The waiting-room display this computer is, written by 'practice board'.\n"
             "# Keep it private: the secret logs in as the display.\n"
             "device %s\nlocation %s\nsecret %s\n",
             d->device, d->location, d->secret);
    int rc = cfg_save_file(cfg, DISPLAY_FILE, text);
    cli_wipe(text, sizeof text);
    return rc;
}

static int read_secret(cli *c, const char *file, const char *device, char *out, size_t n)
{
    if (file) {
        FILE *f = fopen(file, "re");
        if (!f)
            return cli_fail(c, PM_E_INVALID_ARGUMENT, "--secret-file", "cannot open %s: %s", file,
                            strerror(errno));
        int got = fgets(out, (int)n, f) != NULL;
        fclose(f);
        out[got ? strcspn(out, "\r\n") : 0] = 0;
    } else {
        char prompt[CLI_NAME_MAX + 48];
        snprintf(prompt, sizeof prompt, "Secret of display %s: ", device);
        if (cli_read_line(prompt, 1, out, n) != 0)
            out[0] = 0;
    }
    if (!*out)
        return cli_fail(c, PM_E_USAGE, NULL,
                        "no secret given: 'practice device add %s' printed it (a manager makes a "
                        "new one with 'practice user passwd %s')",
                        device, device);
    return CLI_EXIT_OK;
}

/* ---- talking to the server ---- */

/* Errors that mean the display may not show this board: retried only slowly, and the
 * board is cleared meanwhile. */
static int refusal(int rc)
{
    return rc == PM_E_BAD_CREDENTIALS || rc == PM_E_ACCOUNT_DISABLED || rc == PM_E_LOCKED ||
           rc == PM_E_PERMISSION_DENIED || rc == PM_E_PASSWORD_CHANGE_REQUIRED;
}

/* Errors that mean the session is gone and a login will do. */
static int session_gone(int rc)
{
    return rc == PM_E_SESSION_EXPIRED || rc == PM_E_UNAUTHENTICATED;
}

/* Logs in as the display. Checks that the account is one, and its location; b->why
 * says what is wrong when the server had no word for it. */
static int login(board *b)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__LoginOk *ok;
    pc_client *pc = b->c->pc;
    b->why[0] = 0;
    int rc = pc_login(pc, b->cred.device, b->cred.secret, b->label, &a, &ok);
    if (rc == PM_OK && (!ok->account || ok->account->role != PM__ROLE__DISPLAY)) {
        rc = PM_E_PERMISSION_DENIED;
        snprintf(b->why, sizeof b->why,
                 "%s is not a display device account: make one with 'practice device add'",
                 b->cred.device);
    } else if (rc == PM_OK && b->want_location &&
               strcmp(b->want_location, ok->account->location) != 0) {
        rc = PM_E_PERMISSION_DENIED;
        snprintf(b->why, sizeof b->why, "display %s shows the board of %s, not %s", b->cred.device,
                 ok->account->location, b->want_location);
    } else if (rc == PM_OK) {
        snprintf(b->cred.location, sizeof b->cred.location, "%s", ok->account->location);
        snprintf(b->topic, sizeof b->topic, "board/%s", b->cred.location);
        cli_use_practice_zone(b->c);
    }
    if (rc == PM_E_PERMISSION_DENIED && *b->why)
        pc_set_token(pc, NULL, 0); /* logged in as something that may not show this board */
    pm_arena_free(&a);
    return rc;
}

static int subscribe(board *b, uint64_t since)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    const char *topics[1] = {b->topic};
    int rc = pc_subscribe(b->c->pc, topics, 1, since, &a, NULL);
    pm_arena_free(&a);
    b->subscribed = rc == PM_OK;
    return rc;
}

static int get_board(board *b)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__GetBoard *g;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e =
        cli_request(&a, PM__ENVELOPE__BODY_GET_BOARD, &pm__get_board__descriptor, (void **)&g);
    int rc = PM_E_NOMEM;
    if (e) {
        g->location = b->cred.location;
        rc = pc_call(b->c->pc, e, &a, &resp);
    }
    if (rc == PM_OK && (resp->body_case != PM__ENVELOPE__BODY_BOARD_STATE || !resp->board_state))
        rc = PM_E_PROTOCOL;
    if (rc == PM_OK && !b->speed_given)
        b->m.speed = pc_clock_speed(b->c->pc);
    if (rc == PM_OK)
        rc = bm_apply(&b->m, resp->board_state, pm_mono_ms(), 1);
    pm_arena_free(&a);
    return rc;
}

static void on_event(void *ud, const Pm__Envelope *env)
{
    board *b = ud;
    if (env->body_case == PM__ENVELOPE__BODY_SESSION_LOCKED) {
        b->need_login = 1;
        b->subscribed = 0;
        return;
    }
    if (env->body_case != PM__ENVELOPE__BODY_EVENT || !env->event ||
        env->event->body_case != PM__EVENT__BODY_BOARD_CHANGED || !env->event->board_changed->board)
        return;
    bm_apply(&b->m, env->event->board_changed->board, pm_mono_ms(), 0);
}

/* ---- staying connected ---- */

static void format_clock(const board *b, uint64_t now_ms, char *buf, size_t n)
{
    time_t t = (time_t)bm_clock(&b->m, now_ms);
    struct tm tm;
    buf[0] = 0;
    if (localtime_r(&t, &tm))
        strftime(buf, n, "%H:%M", &tm);
}

/* The connection failed (rc): keep the board, say so, and try again later. */
static void went_down(board *b, int rc)
{
    uint64_t now = pm_mono_ms();
    if (b->up || !b->down_since_ms)
        b->down_since_ms = now;
    b->up = 0;
    if (refusal(rc)) {
        /* no longer allowed to show it: clear it, say why, try now and then */
        snprintf(b->message, sizeof b->message,
                 "This screen may not show the waiting room.\n%s\nA manager can enrol it "
                 "again: practice board --device %s --enrol",
                 *b->why ? b->why : pc_last_error(b->c->pc), b->cred.device);
        pc_close(b->c->pc);
        bm_clear(&b->m);
        b->refused = 1;
        b->subscribed = 0;
        b->notice[0] = 0;
        b->next_try_ms = now + REFUSED_RETRY_MS;
        return;
    }
    pc_close(b->c->pc);
    b->backoff_ms = b->backoff_ms ? b->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (b->backoff_ms > BACKOFF_MAX_MS)
        b->backoff_ms = BACKOFF_MAX_MS;
    /* jitter over the upper half, so that many screens do not all come back at once */
    uint32_t r = 0;
    pm_random(&r, sizeof r);
    b->next_try_ms = now + b->backoff_ms / 2 + r % (b->backoff_ms / 2 + 1);
    char clock[16];
    format_clock(b, b->down_since_ms, clock, sizeof clock);
    snprintf(b->notice, sizeof b->notice, "Reconnecting%s%s%s%s",
             bd_utf8() ? "\xe2\x80\xa6" : "...", b->m.have_state ? " (board as of " : "",
             b->m.have_state ? clock : "", b->m.have_state ? ")" : "");
}

/* Makes the board live: connects (resuming the session and the subscription), logs in
 * when the session is gone, subscribes when it is not, and takes a fresh board. */
static int go_live(board *b)
{
    pc_client *pc = b->c->pc;
    int rc = pc_token(pc) ? pc_reconnect(pc) : pc_connect(pc);
    if (rc == PM_OK && !pc_token(pc))
        rc = PM_E_UNAUTHENTICATED;
    if (session_gone(rc) || rc == PM_E_NOT_FOUND) {
        /* the secret may have been enrolled again by another run */
        display_cred now;
        memset(&now, 0, sizeof now);
        if (load_cred(&b->c->cfg, &now) == PM_OK && strcmp(now.device, b->cred.device) == 0)
            snprintf(b->cred.secret, sizeof b->cred.secret, "%s", now.secret);
        cli_wipe(&now, sizeof now);
        rc = login(b);
        if (rc == PM_OK)
            rc = subscribe(b, b->m.have_state ? pc_last_seq(pc) : 0);
    } else if (rc == PM_E_RELOAD || (rc == PM_OK && (!b->subscribed || !pc_subscribed(pc)))) {
        rc = subscribe(b, 0);
    }
    if (rc == PM_E_RELOAD) /* what we saw is older than the server keeps */
        rc = subscribe(b, 0);
    if (rc == PM_OK)
        rc = get_board(b);
    if (rc)
        return rc;
    b->up = 1;
    b->refused = 0;
    b->need_login = 0;
    b->backoff_ms = 0;
    b->down_since_ms = 0;
    b->notice[0] = 0;
    b->message[0] = 0;
    b->next_refresh_ms = pm_mono_ms() + REFRESH_MS;
    return PM_OK;
}

/* Hands over what arrived; fails when the connection broke. */
static int drain(board *b)
{
    int n;
    while ((n = pc_poll(b->c->pc, 0)) > 0)
        ;
    return n;
}

static void step(board *b)
{
    uint64_t now = pm_mono_ms();
    int rc;
    if (!b->up && now >= b->next_try_ms) {
        if ((rc = go_live(b)))
            went_down(b, rc);
        return;
    }
    if (!b->up)
        return;
    if ((rc = drain(b)) < 0) {
        went_down(b, rc);
        return;
    }
    if (b->need_login) {
        /* the session ended (its 12 hours, a restart that lost it): log in again */
        b->need_login = 0;
        rc = login(b);
        if (rc == PM_OK)
            rc = subscribe(b, pc_last_seq(b->c->pc));
        if (rc == PM_OK)
            rc = get_board(b);
        if (rc)
            went_down(b, rc);
        return;
    }
    if (now >= b->next_refresh_ms) {
        b->next_refresh_ms = now + REFRESH_MS;
        if ((rc = get_board(b)))
            went_down(b, rc);
    }
}

/* ---- the screen ---- */

static int run_screen(board *b)
{
    cli *c = b->c;
    if (!isatty(STDOUT_FILENO))
        return cli_fail(c, PM_E_USAGE, NULL,
                        "the board needs a terminal to draw on (run it in one, or in tmux)");
    FILE *in = stdin, *tty = NULL;
    if (!isatty(STDIN_FILENO)) {
        /* the secret came on standard input: keys come from the terminal */
        if (!(tty = fopen("/dev/tty", "re")))
            return cli_fail(c, PM_E_USAGE, NULL, "no terminal to read keys from");
        in = tty;
    }
    setlocale(LC_CTYPE, "");
    SCREEN *scr = newterm(NULL, stdout, in);
    if (!scr) {
        if (tty)
            fclose(tty);
        return cli_fail(c, PM_E_USAGE, NULL, "cannot draw on this terminal (TERM=%s)",
                        getenv("TERM") ? getenv("TERM") : "");
    }
    cli_catch_stop(on_stop, 1);
    set_term(scr);
    cbreak();
    noecho();
    nodelay(stdscr, TRUE);
    keypad(stdscr, TRUE);
    curs_set(0);
    bd_start();
    pc_on_event(c->pc, on_event, b);
    while (!stop_board) {
        step(b);
        uint64_t now = pm_mono_ms();
        bd_status st = {*b->notice ? b->notice : NULL, *b->message ? b->message : NULL};
        bd_draw(&b->m, &st, now);
        /* wake for the clock (waits, fading calls), a flashing call, or the next try */
        int timeout = bd_animating(&b->m, now) ? (int)(250 - now % 250) : (int)(1000 - now % 1000);
        if (!b->up && b->next_try_ms > now && b->next_try_ms - now < (uint64_t)timeout)
            timeout = (int)(b->next_try_ms - now);
        if ((!b->up && b->next_try_ms <= now) || (b->up && pc_pending(c->pc)))
            timeout = 0; /* a retry due, or events the library already holds */
        struct pollfd p[2] = {{fileno(in), POLLIN, 0}, {pc_fd(c->pc), POLLIN, 0}};
        if (poll(p, b->up && p[1].fd >= 0 ? 2 : 1, timeout) > 0 &&
            (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)))
            break; /* the terminal went away: poll would return at once from now on */
        int ch;
        while ((ch = getch()) != ERR) {
            if (ch == 'q' || ch == 'Q')
                stop_board = 1;
            if ((ch == 'r' || ch == 'R') && !b->up)
                b->next_try_ms = 0; /* someone is there: try again now */
        }
    }
    endwin();
    delscreen(scr);
    if (tty)
        fclose(tty);
    pc_on_event(c->pc, NULL, NULL);
    return CLI_EXIT_OK;
}

/* ---- the command ---- */

static const char board_help[] =
    "usage: practice board [--device NAME [--enrol] [--secret-file FILE]] [--location L]\n"
    "                      [--speed N]\n"
    "       practice board --forget\n"
    "\n"
    "The waiting room's screen, full screen: the ticket called and the room to go to, in\n"
    "large letters, the calls before it, and the tickets waiting with their estimated\n"
    "waits. It shows ticket codes, rooms and waits only, never a name. Leave it running:\n"
    "when the server is away it keeps the last board up with a small notice and\n"
    "reconnects by itself. Press q to quit, r to reconnect at once.\n"
    "\n"
    "It runs as a display device: a manager makes one with 'practice device add NAME\n"
    "--location L', which prints its secret. The first run with --device asks for the\n"
    "secret (or reads it from standard input, or --secret-file) and keeps it in the\n"
    "configuration directory (mode 0600); later runs need no options. Set the computer up\n"
    "with 'practice connect' first; no staff login is needed.\n"
    "\n"
    "Options:\n"
    "  --device NAME        the display account to run as (asks for its secret once)\n"
    "  --enrol              only take the display's secret, check it and keep it; do not\n"
    "                       show the board (for set-up scripts)\n"
    "  --secret-file FILE   read the secret from the first line of FILE\n"
    "  --location L         check that the display is the one of location L\n"
    "  --speed N            waits count down N times faster than real time between\n"
    "                       updates (default: as fast as the server's clock runs, 1 but\n"
    "                       for a demo's 'practiced serve --clock-speed N')\n"
    "  --forget             forget the display's secret kept on this computer\n"
    "\n"
    "Examples:\n"
    "  practice board --device lobby-tv --location main\n"
    "  printf '%s\\n' \"$SECRET\" | practice board --device lobby-tv --enrol\n"
    "  practice board\n";

static int enrol(board *b, const char *device, const char *secret_file)
{
    cli *c = b->c;
    memset(&b->cred, 0, sizeof b->cred);
    snprintf(b->cred.device, sizeof b->cred.device, "%s", device);
    int rc = read_secret(c, secret_file, device, b->cred.secret, sizeof b->cred.secret);
    if (rc)
        return rc;
    if ((rc = pc_connect(c->pc)))
        return cli_fail_call(c, rc);
    if ((rc = login(b)))
        return *b->why ? cli_fail(c, rc, "--device", "%s", b->why) : cli_fail_call(c, rc);
    if ((rc = save_cred(&c->cfg, &b->cred)))
        return cli_fail(c, rc, NULL, "cannot keep the secret in %s: %s", c->cfg.dir,
                        pm_strerror(rc));
    if (c->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "device", cj_string(b->cred.device));
        json_object_object_add(o, "location", cj_string(b->cred.location));
        json_object_object_add(o, "practice", cj_string(pc_practice_name(c->pc)));
        json_object_object_add(o, "config_dir", cj_string(c->cfg.dir));
        cj_print(o);
    } else {
        printf("Display %s is enrolled: this computer shows the board of %s at \"%s\".\n",
               b->cred.device, b->cred.location, pc_practice_name(c->pc));
    }
    fflush(stdout);
    return CLI_EXIT_OK;
}

static int forget(cli *c)
{
    char path[PATH_MAX + 16];
    if (cfg_path(&c->cfg, DISPLAY_FILE, path, sizeof path) == PM_OK && unlink(path) != 0 &&
        errno != ENOENT)
        return cli_fail(c, pm_err_from_errno(errno), NULL, "cannot delete %s: %s", path,
                        strerror(errno));
    if (c->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "forgotten", json_object_new_boolean(1));
        cj_print(o);
    } else {
        printf("This computer no longer keeps a display's secret.\n");
    }
    return CLI_EXIT_OK;
}

/* A client of its own: short timeouts, and no retries inside a call (the board retries
 * by itself, drawing meanwhile). */
static int make_client(cli *c)
{
    char ca[PATH_MAX + 16];
    if (cfg_path(&c->cfg, CFG_CA_FILE, ca, sizeof ca))
        return cli_fail(c, PM_E_CONFIG, NULL, "configuration path too long");
    pc_opts o = {.host = c->cfg.host,
                 .port = c->cfg.port,
                 .ca_file = ca,
                 .client_name = "practice-board/" PM_VERSION,
                 .timeout_ms = 10000,
                 .connect_timeout_ms = 3000,
                 .retries = -1};
    pc_free(c->pc);
    c->pc = pc_new(&o);
    return c->pc ? CLI_EXIT_OK : cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
}

static int cmd_board(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"device", required_argument, 0, 'd'},
                                         {"location", required_argument, 0, 'l'},
                                         {"secret-file", required_argument, 0, 's'},
                                         {"enrol", no_argument, 0, 'e'},
                                         {"enroll", no_argument, 0, 'e'},
                                         {"forget", no_argument, 0, 'f'},
                                         {"speed", required_argument, 0, 'S'},
                                         HELP_OPTION,
                                         END_OPTIONS};
    const char *device = NULL, *location = NULL, *secret_file = NULL;
    int enrol_only = 0, forget_it = 0, o, rc;
    unsigned long speed = 0;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == 'd')
            device = optarg;
        else if (o == 'l')
            location = optarg;
        else if (o == 's')
            secret_file = optarg;
        else if (o == 'e')
            enrol_only = 1;
        else if (o == 'f')
            forget_it = 1;
        else if ((rc = cli_parse_uint(c, "--speed", optarg, 1, 3600, &speed)))
            return rc;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if (enrol_only && !device)
        return cli_usage_error(c, "--enrol needs --device NAME");
    if ((rc = cli_prepare(c, 0)))
        return rc;
    if (forget_it)
        return forget(c);
    if ((rc = make_client(c)))
        return rc;
    board *b = calloc(1, sizeof *b);
    if (!b)
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    b->c = c;
    b->want_location = location;
    bm_init(&b->m, (unsigned)speed);
    b->speed_given = speed != 0;
    char host[CLI_NAME_MAX] = "";
    gethostname(host, sizeof host - 1);
    snprintf(b->label, sizeof b->label, "board on %s", *host ? host : "a display");
    int stored = load_cred(&c->cfg, &b->cred) == PM_OK;
    if (!device && !stored) {
        rc = cli_usage_error(c, "this computer is not a display yet: run 'practice board --device "
                                "NAME' with the secret 'practice device add NAME' printed");
    } else if (enrol_only || secret_file ||
               (device && (!stored || strcmp(device, b->cred.device)))) {
        rc = enrol(b, device ? device : b->cred.device, secret_file);
    } else if (location && *b->cred.location && strcmp(location, b->cred.location) != 0) {
        rc = cli_fail(c, PM_E_INVALID_ARGUMENT, "--location",
                      "display %s shows the board of %s, not %s (enrol another display for %s)",
                      b->cred.device, b->cred.location, location, location);
    } else {
        rc = CLI_EXIT_OK;
        snprintf(b->topic, sizeof b->topic, "board/%s", b->cred.location);
    }
    if (rc == CLI_EXIT_OK && !enrol_only)
        rc = run_screen(b);
    bm_free(&b->m);
    cli_wipe(b, sizeof *b);
    free(b);
    return rc;
}

const cli_cmd cli_board_cmds[] = {
    {"board", "the waiting room's screen", board_help, cmd_board, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
