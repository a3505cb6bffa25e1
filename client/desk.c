/* practice desk: the command, and its loop. The loop waits in poll() on the keyboard and
 * the server's connection at once, wakes each second for the clock, and draws only when
 * something changed; it never asks the server for news, the server sends it. */
#include "desk.h"

#include "pm_err.h"
#include "pm_time.h"

#include <curses.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char desk_help[] =
    "usage: practice desk [--location L] [--date D]\n"
    "\n"
    "The reception desk, full screen: the day's schedule per provider and the waiting\n"
    "room with tickets, status, time waited and the estimated wait, both kept live as\n"
    "anyone changes them. Needs a terminal of 80x24 at least; a larger one shows more.\n"
    "\n"
    "Options:\n"
    "  --location L   the location (default: the logged-in provider's, or the practice's\n"
    "                 only one)\n"
    "  --date D       the day shown (default today; other days are for looking only):\n"
    "                 YYYY-MM-DD, today, tomorrow, mon..sun\n"
    "\n"
    "Keys:\n"
    "  Up/Down, j/k   move the selection      Tab     the other pane\n"
    "  i              check in (a ticket)     r       to a room (pick one)\n"
    "  p              with the provider       o       check out\n"
    "  u              undo the last step      w       walk-in: patient, visit type\n"
    "  /              find a patient, see their next appointment\n"
    "  b              book: visit type, free time, patient\n"
    "  n / N          next / previous day     t       today\n"
    "  q              quit                    Esc     cancel a dialog\n"
    "\n"
    "When the session ends (timeout, account disabled) the screen clears and asks you to\n"
    "log in again; the exit code is then 4.\n"
    "\n"
    "Examples:\n"
    "  practice desk\n"
    "  practice desk --location main --date tomorrow\n";

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

/* Milliseconds to the next second of the wall clock, for the header's clock. */
static int ms_to_next_second(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return 1000 - (int)(ts.tv_nsec / 1000000);
}

static int wait_ms(const desk *d)
{
    int ms = ms_to_next_second();
    if (d->conn == CONN_RECONNECTING) {
        uint64_t now = desk_mono_ms();
        int until = d->retry_at > now ? (int)(d->retry_at - now) : 0;
        if (until < ms)
            ms = until;
    }
    if (d->status[0] && d->status_until) {
        uint64_t now = desk_mono_ms();
        int until = d->status_until > now ? (int)(d->status_until - now) : 0;
        if (until < ms)
            ms = until;
    }
    return ms;
}

/* At midnight, a desk that showed today shows the new day. */
static void follow_the_day(desk *d)
{
    char today[11];
    pm_local_date((time_t)desk_now(d), today);
    if (strcmp(today, d->today) == 0 || d->conn != CONN_LIVE)
        return;
    if (d->follow_today && strcmp(d->m.date, d->today) == 0) {
        /* the load moves d->today on; should it fail, the next tick tries again */
        desk_net_load_day(d, today);
        return;
    }
    desk_copy(d->today, sizeof d->today, today);
}

static void read_keys(desk *d)
{
    int key;
    while (!d->quit && (key = getch()) != ERR)
        desk_key(d, key);
}

static void run(desk *d)
{
    time_t shown = 0;
    d->dirty = 1;
    while (!d->quit && !stop_signal) {
        time_t now = time(NULL);
        if (now != shown) {
            shown = now;
            follow_the_day(d);
            d->dirty = 1;
        }
        if (d->dirty)
            desk_draw(d);
        int fd = d->conn == CONN_LIVE ? pc_fd(d->c->pc) : -1;
        struct pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {fd, POLLIN, 0}};
        int r = poll(p, fd >= 0 ? 2 : 1, wait_ms(d));
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0 && (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)))
            break; /* the terminal went away */
        /* keys first: a key acts on the screen the person saw, and if that was stale,
         * the server refuses it by its version and the desk says so */
        read_keys(d); /* also after EINTR: a resize comes as KEY_RESIZE */
        if (fd >= 0 && p[1].revents)
            desk_net_drain(d);
        desk_net_retry(d);
        if (d->status[0] && d->status_until && desk_mono_ms() >= d->status_until)
            d->dirty = 1;
    }
}

static void desk_free(desk *d)
{
    dm_free(&d->m);
    ds_free(&d->s);
    free(d->modal.items);
    d->modal.items = NULL;
}

static int cmd_desk(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"location", required_argument, 0, 'l'},
                                         {"date", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *location = NULL, *date = NULL;
    int o;
    while ((o = cli_opt(c, argc, argv, opts)) != -1) {
        if (o == 'l')
            location = optarg;
        else if (o == 'd')
            date = optarg;
        else
            return cli_opt_exit(o);
    }
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return cli_fail(c, PM_E_USAGE, NULL,
                        "the desk is a full-screen program: run it in a "
                        "terminal");
    desk *d = calloc(1, sizeof *d);
    if (!d)
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    d->c = c;
    dm_init(&d->m);
    int rc = desk_net_start(d, location, date);
    if (rc == CLI_EXIT_OK) {
        cli_catch_stop(on_stop, 1);
        desk_view_start();
        run(d);
        desk_view_stop();
        rc = d->exit_code;
    }
    desk_free(d);
    free(d);
    return rc;
}

const cli_cmd cli_desk_cmds[] = {
    {"desk", "the reception desk: the day's schedule and waiting room, live", desk_help, cmd_desk,
     NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
