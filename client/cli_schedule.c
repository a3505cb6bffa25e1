/* practice schedule: a provider's, a location's or a room's day as the grid a desk keeps
 * on paper (time down the side, one column per provider), a week as one narrow column
 * per day, or either as a list. Rows are the practice's local clock: on the day
 * daylight-saving time changes, 09:00 is still the 09:00 row. */
#include "cli_sched.h"

#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COLS_MAX      64
#define CELL_MIN      12 /* a day column is never narrower */
#define CELL_MAX      40 /* nor wider */
#define TIME_COL      7  /* "09:15  " */
#define DEFAULT_START (8 * 60)
#define DEFAULT_END   (18 * 60)

typedef struct column {
    const Pm__ScheduleDay *day;
    const char *provider; /* NULL: everyone's */
    unsigned char *shown; /* per appointment of the day: its name was printed */
    char title[96];
} column;

typedef struct grid {
    const sched_names *n;
    unsigned lo, hi, step; /* rows: local minutes [lo, hi) by step */
    size_t cw;             /* a cell's width */
    int compact;           /* week view: names only */
    int exceptions;        /* show providers' exceptions (a column is one provider's) */
    int where;             /* show where a block is (a provider at several locations) */
    int tty;               /* strike cancelled appointments through */
} grid;

/* Minutes past midnight of date at which t falls: 0 before the day, 1440 after it. */
static unsigned minutes_on(const char *date, int64_t t)
{
    char d[11];
    pm_local_date((time_t)t, d);
    int cmp = strcmp(d, date);
    if (cmp != 0)
        return cmp < 0 ? 0 : 24 * 60;
    return pm_local_minutes((time_t)t);
}

static int mine(const column *k, const char *provider)
{
    return !k->provider || strcmp(k->provider, provider) == 0;
}

static int active(const Pm__Appointment *a)
{
    return a->status != PM__APPOINTMENT_STATUS__CANCELLED;
}

/* The grid row holding instant t (clamped to the grid). */
static unsigned row_of(const grid *g, const char *date, int64_t t)
{
    unsigned m = minutes_on(date, t);
    if (m < g->lo)
        return 0;
    if (m >= g->hi)
        return (g->hi - g->lo) / g->step - 1;
    return (m - g->lo) / g->step;
}

/* The rows: from the earliest block or appointment to the latest, on the step, else
 * the location's opening hours that day, else 08:00-18:00. */
static void row_range(grid *g, const column *cols, size_t ncols, const Pm__Location *loc)
{
    unsigned lo = 24 * 60, hi = 0;
    for (size_t i = 0; i < ncols; i++) {
        const Pm__ScheduleDay *d = cols[i].day;
        for (size_t b = 0; b < d->n_blocks; b++) {
            if (!mine(&cols[i], d->blocks[b]->provider))
                continue;
            unsigned s = minutes_on(d->date, d->blocks[b]->start);
            unsigned e = minutes_on(d->date, d->blocks[b]->end);
            lo = s < lo ? s : lo;
            hi = e > hi ? e : hi;
        }
        for (size_t a = 0; a < d->n_appointments; a++) {
            if (!mine(&cols[i], d->appointments[a]->provider))
                continue;
            unsigned s = minutes_on(d->date, d->appointments[a]->start);
            unsigned e = minutes_on(d->date, d->appointments[a]->end);
            lo = s < lo ? s : lo;
            hi = e > hi ? e : hi;
        }
    }
    if (hi <= lo && loc && ncols) {
        int wd = pm_weekday(cols[0].day->date);
        for (size_t i = 0; i < loc->n_hours; i++)
            if ((int)loc->hours[i]->weekday == wd) {
                lo = loc->hours[i]->start_min < lo ? loc->hours[i]->start_min : lo;
                hi = loc->hours[i]->end_min > hi ? loc->hours[i]->end_min : hi;
            }
    }
    if (hi <= lo) {
        lo = DEFAULT_START;
        hi = DEFAULT_END;
    }
    g->lo = lo / g->step * g->step;
    g->hi = (hi + g->step - 1) / g->step * g->step;
    if (g->hi > 24 * 60)
        g->hi = 24 * 60;
}

/* ---- cells ---- */

/* Whether rank x comes before rank y. */
static int ranks_before(const long *x, const long *y)
{
    for (int i = 0; i < 3; i++)
        if (x[i] != y[i])
            return x[i] < y[i];
    return 0;
}

/* The appointment a cell shows, among those of the column overlapping [t0, t1): an
 * active one before a cancelled one, one starting in the row before one going on (the
 * earliest starting), else the one that started last. *others: how many more of its kind
 * (active, or cancelled) overlap. */
static int pick(const column *k, int64_t t0, int64_t t1, size_t *others)
{
    const Pm__ScheduleDay *d = k->day;
    int best = -1;
    long best_rank[3] = {0, 0, 0};
    size_t n_active = 0, n_cancelled = 0;
    for (size_t i = 0; i < d->n_appointments; i++) {
        const Pm__Appointment *a = d->appointments[i];
        if (!mine(k, a->provider) || a->start >= t1 || a->end <= t0)
            continue;
        if (active(a))
            n_active++;
        else
            n_cancelled++;
        int here = a->start >= t0;
        long rank[3] = {active(a) ? 0 : 1, here ? 0 : 1, here ? (long)a->start : -(long)a->start};
        if (best >= 0 && !ranks_before(rank, best_rank))
            continue;
        best = (int)i;
        memcpy(best_rank, rank, sizeof rank);
    }
    *others = n_active ? n_active - 1 : n_cancelled ? n_cancelled - 1 : 0;
    return best;
}

static void short_name(const char *full, int compact, char *buf, size_t n)
{
    /* "Núñez, José": the last name alone in a narrow column */
    size_t len = compact ? strcspn(full, ",") : strlen(full);
    snprintf(buf, n, "%.*s", (int)len, full);
}

static const char *status_mark(const Pm__Appointment *a)
{
    switch (a->status) {
    case PM__APPOINTMENT_STATUS__CANCELLED:
        return "cancelled";
    case PM__APPOINTMENT_STATUS__NO_SHOW:
        return "NO-SHOW";
    case PM__APPOINTMENT_STATUS__HELD:
        return "held for offer";
    case PM__APPOINTMENT_STATUS__BOOKED:
        return "";
    default:
        return sched_status_word(a->status);
    }
}

/* The text of an appointment's row r of the grid. */
static void appt_text(const grid *g, const column *k, const Pm__Appointment *a, unsigned r,
                      int64_t t0, char *out, size_t n)
{
    const char *date = k->day->date;
    unsigned first = row_of(g, date, a->start), last = row_of(g, date, a->end - 1);
    unsigned span = last - first + 1, at = r - first;
    char name[160], line2[200], when[8] = "";
    short_name(*a->patient_name ? a->patient_name : a->patient_mrn, g->compact, name, sizeof name);
    const char *cross = active(a) ? "" : "✗ ";
    const char *status = status_mark(a);
    snprintf(line2, sizeof line2, "%s%s%s", sched_visit_type_name(g->n, a->visit_type),
             *status ? " · " : "", status);
    if (a->start > t0 && !g->compact) {
        sched_hhmm(pm_local_minutes((time_t)a->start), when, sizeof when);
        when[5] = ' ', when[6] = 0;
    }
    if (g->compact)
        snprintf(out, n, "%s%s", at == 0 ? cross : "", at == 0 ? name : "│");
    else if (span == 1)
        snprintf(out, n, "▪ %s%s%s · %s", when, cross, name, line2);
    else if (at == 0)
        snprintf(out, n, "┌ %s%s%s", when, cross, name);
    else if (at == 1)
        snprintf(out, n, "%s %s", span == 2 ? "└" : "│", line2);
    else
        snprintf(out, n, "%s", at + 1 == span ? "└" : "│");
}

/* A cell: an appointment, else an exception, else available time, else nothing. Sets
 * *struck when the text is a cancelled appointment's. */
static void cell(const grid *g, column *k, unsigned r, char *out, size_t n, int *struck)
{
    const Pm__ScheduleDay *d = k->day;
    unsigned m = g->lo + r * g->step;
    time_t t0, t1;
    out[0] = 0;
    *struck = 0;
    if (pm_local_instant(d->date, m, &t0) != 0 || pm_local_instant(d->date, m + g->step, &t1) ||
        t1 <= t0)
        return; /* the hour skipped when the clocks go forward */
    size_t others;
    int i = pick(k, t0, t1, &others);
    if (i >= 0) {
        const Pm__Appointment *a = d->appointments[i];
        appt_text(g, k, a, r, t0, out, n);
        if (r == row_of(g, d->date, a->start))
            k->shown[i] = 1;
        *struck = !active(a);
        if (others) {
            size_t used = strlen(out);
            snprintf(out + used, n - used, " +%zu", others);
        }
        return;
    }
    for (size_t x = 0; g->exceptions && x < d->n_exceptions; x++) {
        const Pm__Exception *e = d->exceptions[x];
        if (!mine(k, e->provider) || e->start >= t1 || e->end <= t0)
            continue;
        if (r == row_of(g, d->date, e->start) || e->start < t0) {
            if (r == row_of(g, d->date, e->start))
                snprintf(out, n, "░ %s", *e->reason ? e->reason : sched_kind_word(e->kind));
            else
                for (size_t w = 0; w < g->cw && strlen(out) + 4 < n; w++)
                    strcat(out, "░");
        }
        return;
    }
    for (size_t b = 0; b < d->n_blocks; b++) {
        const Pm__AvailabilityBlock *bl = d->blocks[b];
        if (!mine(k, bl->provider) || bl->start >= t1 || bl->end <= t0)
            continue;
        if (g->where && r == row_of(g, d->date, bl->start))
            snprintf(out, n, "· %s", sched_location_name(g->n, bl->location));
        else
            snprintf(out, n, "·");
        return;
    }
}

/* Bytes of s holding at most max code points. */
static size_t prefix_bytes(const char *s, size_t max)
{
    size_t i = 0, cps = 0;
    while (s[i] && cps < max) {
        i++;
        while ((s[i] & 0xC0) == 0x80)
            i++;
        cps++;
    }
    return i;
}

/* Prints s in exactly w columns: cut with '…' or padded (unless last). */
static void put_cell(const char *s, size_t w, int last, int struck)
{
    size_t len = pm_utf8_len(s);
    if (struck)
        fputs("\033[9m", stdout);
    if (len > w) {
        fwrite(s, 1, prefix_bytes(s, w - 1), stdout);
        fputs("…", stdout);
        len = w;
    } else {
        fputs(s, stdout);
    }
    if (struck)
        fputs("\033[0m", stdout);
    if (!last)
        printf("%*s", (int)(w - len), "");
}

/* One page of columns: titles, a rule, the rows. */
static void print_page(const grid *g, column *cols, size_t ncols)
{
    printf("%*s", TIME_COL, "");
    for (size_t i = 0; i < ncols; i++) {
        put_cell(cols[i].title, g->cw, i + 1 == ncols, 0);
        if (i + 1 < ncols)
            fputs("  ", stdout);
    }
    putchar('\n');
    printf("%*s", TIME_COL, "");
    for (size_t i = 0; i < ncols; i++) {
        for (size_t w = 0; w < g->cw; w++)
            fputs("─", stdout);
        if (i + 1 < ncols)
            fputs("  ", stdout);
    }
    putchar('\n');
    unsigned rows = (g->hi - g->lo) / g->step;
    for (unsigned r = 0; r < rows; r++) {
        char texts[COLS_MAX][512];
        int struck[COLS_MAX];
        for (size_t i = 0; i < ncols; i++)
            cell(g, &cols[i], r, texts[i], sizeof texts[i], &struck[i]);
        char label[8];
        sched_hhmm(g->lo + r * g->step, label, sizeof label);
        /* a row that does not exist today (the spring gap) is left out */
        time_t t0, t1;
        const char *date = cols[0].day->date;
        if (!g->compact && (pm_local_instant(date, g->lo + r * g->step, &t0) ||
                            pm_local_instant(date, g->lo + (r + 1) * g->step, &t1) || t1 <= t0))
            continue;
        printf("%-*s", TIME_COL, label);
        size_t lastcol = ncols;
        while (lastcol > 0 && !texts[lastcol - 1][0])
            lastcol--;
        for (size_t i = 0; i < lastcol; i++) {
            put_cell(texts[i], g->cw, i + 1 == lastcol, struck[i] && g->tty);
            if (i + 1 < lastcol)
                fputs("  ", stdout);
        }
        putchar('\n');
    }
}

/* Columns side by side as many as fit the width; then the next ones below. */
static void print_grid(grid *g, column *cols, size_t ncols, int width, size_t min_cell)
{
    size_t avail = width > TIME_COL + 4 ? (size_t)width - TIME_COL : 4;
    size_t per_page = (avail + 2) / (min_cell + 2);
    if (per_page < 1)
        per_page = 1;
    for (size_t start = 0; start < ncols; start += per_page) {
        size_t n = ncols - start < per_page ? ncols - start : per_page;
        g->cw = (avail - 2 * (n - 1)) / n;
        if (g->cw > CELL_MAX)
            g->cw = CELL_MAX;
        if (g->cw < 2)
            g->cw = 2;
        if (start)
            putchar('\n');
        print_page(g, cols + start, n);
    }
}

/* ---- the commands ---- */

static const char schedule_help[] =
    "usage: practice schedule [--provider P | --location L | --room R]\n"
    "                         [--day WHEN | --week WHEN] [--list] [--step MIN] [--width N]\n"
    "\n"
    "Shows a day as a grid: time down the side, one column per provider (a location's\n"
    "day) or one column (a provider's or a room's day). Each appointment fills its rows:\n"
    "the patient's name, then the visit type and what happened (NO-SHOW, held for a\n"
    "waitlist offer; cancelled ones are marked ✗ and only shown where nothing else is,\n"
    "and listed below). '·' is time the provider can be booked, '░' time they are away\n"
    "(with the reason), blank is time they do not work; '+N' says N more appointments\n"
    "share the row. A week shows one narrow column per day.\n"
    "\n"
    "Without --provider, --location or --room: the practice's only location, else yours\n"
    "if you are a provider.\n"
    "\n"
    "Options:\n"
    "  --provider P   a provider's schedule\n"
    "  --location L   a location's: every provider working there\n"
    "  --room R       a room's\n"
    "  --day WHEN     the day (default today): today, tomorrow, mon, 2026-12-01\n"
    "  --week WHEN    the week (Monday to Sunday) holding that day\n"
    "  --list         a list of the appointments and absences instead of a grid\n"
    "  --step MIN     minutes per row: 5, 10, 15 (default for a day), 20, 30 (a week), 60\n"
    "  --width N      columns to fill (default: the terminal's, else 80)\n"
    "\n"
    "Examples:\n"
    "  practice schedule --location main\n"
    "  practice schedule --provider dr-okafor --day tomorrow\n"
    "  practice schedule --provider dr-okafor --week mon\n"
    "  practice --json schedule --location main --week 2026-12-01\n";

typedef struct sched_args {
    const char *provider, *location, *room, *day_s, *week_s;
    unsigned long step, width;
    int list;
} sched_args;

static int scan_args(cli *c, int argc, char **argv, sched_args *s)
{
    enum { O_PROVIDER = 1, O_LOCATION, O_ROOM, O_DAY, O_WEEK, O_LIST, O_STEP, O_WIDTH };
    static const struct option opts[] = {{"provider", required_argument, 0, O_PROVIDER},
                                         {"location", required_argument, 0, O_LOCATION},
                                         {"room", required_argument, 0, O_ROOM},
                                         {"day", required_argument, 0, O_DAY},
                                         {"week", required_argument, 0, O_WEEK},
                                         {"list", no_argument, 0, O_LIST},
                                         {"step", required_argument, 0, O_STEP},
                                         {"width", required_argument, 0, O_WIDTH},
                                         HELP_OPTION,
                                         END_OPTIONS};
    memset(s, 0, sizeof *s);
    int o, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == O_PROVIDER)
            s->provider = optarg;
        else if (o == O_LOCATION)
            s->location = optarg;
        else if (o == O_ROOM)
            s->room = optarg;
        else if (o == O_DAY)
            s->day_s = optarg;
        else if (o == O_WEEK)
            s->week_s = optarg;
        else if (o == O_LIST)
            s->list = 1;
        else if (o == O_STEP)
            rc = cli_parse_uint(c, "--step", optarg, 5, 60, &s->step);
        else
            rc = cli_parse_uint(c, "--width", optarg, 40, 1000, &s->width);
    }
    if (rc) {
        c->opt_active = 0;
        return rc;
    }
    if (o == CLI_OPT_HELP)
        return o;
    if (o != -1)
        return CLI_EXIT_USAGE;
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if ((s->provider != NULL) + (s->location != NULL) + (s->room != NULL) > 1)
        return cli_usage_error(c, "give one of --provider, --location and --room");
    if (s->day_s && s->week_s)
        return cli_usage_error(c, "give --day or --week, not both");
    if (s->step && 60 % s->step != 0)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, "--step",
                        "--step %lu: give 5, 10, 15, 20, 30 or 60", s->step);
    return CLI_EXIT_OK;
}

/* A day as people type it, or the day of a time ("mon 10:00"). */
static int parse_day(cli *c, const char *opt, const char *s, char out[11])
{
    time_t t;
    if (pm_parse_local_date(s, time(NULL), out) == 0)
        return CLI_EXIT_OK;
    if (pm_parse_local_time(s, time(NULL), &t) == 0) {
        pm_local_date(t, out);
        return CLI_EXIT_OK;
    }
    return sched_parse_date(c, opt, s, out);
}

/* Whose schedule when none was named: the only location, else the user's own. */
static int default_subject(cli *c, const sched_names *n, sched_args *s)
{
    if (!n->s)
        return cli_usage_error(c, "give --provider, --location or --room");
    if (n->s->n_locations == 1) {
        s->location = n->s->locations[0]->id;
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < n->s->n_providers; i++)
        if (*n->s->providers[i]->username &&
            strcmp(n->s->providers[i]->username, c->cfg.user) == 0) {
            s->provider = n->s->providers[i]->id;
            return CLI_EXIT_OK;
        }
    char ids[512] = "";
    for (size_t i = 0; i < n->s->n_locations; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%s", i ? ", " : "",
                 n->s->locations[i]->id);
    return cli_usage_error(c, "give --provider, --location or --room (locations: %s)",
                           *ids ? ids : "none yet");
}

static void provider_title(const sched_names *n, const char *id, char *buf, size_t len)
{
    const Pm__Provider *p = sched_find_provider(n, id);
    if (p && *p->credentials)
        snprintf(buf, len, "%s, %s", p->name, p->credentials);
    else
        snprintf(buf, len, "%s", sched_provider_name(n, id));
}

static void add_provider(const char **ids, size_t *nids, const char *id)
{
    for (size_t i = 0; i < *nids; i++)
        if (strcmp(ids[i], id) == 0)
            return;
    if (*nids < COLS_MAX)
        ids[(*nids)++] = id;
}

/* The providers with anything on a day, in the set-up's order. */
static size_t day_providers(const sched_names *n, const Pm__ScheduleDay *d, const char **ids)
{
    const char *seen[COLS_MAX];
    size_t nseen = 0, nids = 0;
    for (size_t i = 0; i < d->n_blocks; i++)
        add_provider(seen, &nseen, d->blocks[i]->provider);
    for (size_t i = 0; i < d->n_appointments; i++)
        add_provider(seen, &nseen, d->appointments[i]->provider);
    for (size_t i = 0; n->s && i < n->s->n_providers; i++)
        for (size_t k = 0; k < nseen; k++)
            if (strcmp(seen[k], n->s->providers[i]->id) == 0)
                add_provider(ids, &nids, seen[k]);
    for (size_t k = 0; k < nseen; k++)
        add_provider(ids, &nids, seen[k]);
    return nids;
}

static const char *subject_title(const sched_names *n, const sched_args *s, char *buf, size_t len)
{
    char name[160];
    const char *id = s->provider ? s->provider : s->location ? s->location : s->room;
    if (s->provider)
        provider_title(n, id, name, sizeof name);
    else
        snprintf(name, sizeof name, "%s",
                 s->location ? sched_location_name(n, id) : sched_room_name(n, id));
    if (strcmp(name, id) == 0)
        snprintf(buf, len, "%s", id);
    else
        snprintf(buf, len, "%s (%s)", name, id);
    return buf;
}

/* Appointments the grid did not name (hidden behind others), and the counts. */
static void print_footer(const Pm__Schedule *sc, column *cols, size_t ncols, const sched_names *n,
                         int width)
{
    size_t total = 0, cancelled = 0, no_show = 0, held = 0, hidden = 0;
    for (size_t d = 0; d < sc->n_days; d++)
        for (size_t i = 0; i < sc->days[d]->n_appointments; i++) {
            const Pm__Appointment *a = sc->days[d]->appointments[i];
            total++;
            cancelled += a->status == PM__APPOINTMENT_STATUS__CANCELLED;
            no_show += a->status == PM__APPOINTMENT_STATUS__NO_SHOW;
            held += a->status == PM__APPOINTMENT_STATUS__HELD;
        }
    for (size_t k = 0; k < ncols; k++) {
        const Pm__ScheduleDay *d = cols[k].day;
        for (size_t i = 0; i < d->n_appointments; i++) {
            const Pm__Appointment *a = d->appointments[i];
            if (cols[k].shown[i] || !mine(&cols[k], a->provider))
                continue;
            cols[k].shown[i] = 1;
            char line[768], t0[8], t1[8], status[300] = "", day[24];
            sched_day(d->date, day, sizeof day);
            day[3] = 0; /* "Mon" */
            sched_hhmm(pm_local_minutes((time_t)a->start), t0, sizeof t0);
            sched_hhmm(pm_local_minutes((time_t)a->end), t1, sizeof t1);
            if (a->status != PM__APPOINTMENT_STATUS__BOOKED) {
                status[0] = ':', status[1] = ' ';
                sched_status_text(a, status + 2, sizeof status - 2);
            }
            snprintf(line, sizeof line, "%s %s %s %s-%s %s, %s, %s%s",
                     hidden++ ? "     " : "Also:", active(a) ? " " : "✗", day, t0, t1,
                     *a->patient_name ? a->patient_name : a->patient_mrn,
                     sched_visit_type_name(n, a->visit_type), sched_provider_name(n, a->provider),
                     status);
            if (pm_utf8_len(line) > (size_t)width)
                printf("%.*s…\n", (int)prefix_bytes(line, (size_t)width - 1), line);
            else
                printf("%s\n", line);
        }
    }
    printf("%zu appointment%s", total - cancelled, total - cancelled == 1 ? "" : "s");
    if (no_show)
        printf(" (%zu no-show%s)", no_show, no_show == 1 ? "" : "s");
    if (held)
        printf(", %zu held for waitlist offers", held);
    if (cancelled)
        printf(", %zu cancelled", cancelled);
    printf(".\n· bookable  ░ away  ✗ cancelled  +N more in the row\n");
}

static int print_day_grid(cli *c, const sched_names *n, const sched_args *s, Pm__Schedule *sc,
                          pm_arena *a, int width)
{
    const Pm__ScheduleDay *d = sc->days[0];
    grid g = {.n = n,
              .step = s->step ? (unsigned)s->step : 15,
              .exceptions = 1,
              .tty = isatty(STDOUT_FILENO) && !getenv("NO_COLOR")};
    column cols[COLS_MAX];
    size_t ncols = 0;
    const char *ids[COLS_MAX];
    if (s->location) {
        size_t np = day_providers(n, d, ids);
        for (size_t i = 0; i < np; i++) {
            cols[ncols].provider = ids[i];
            provider_title(n, ids[i], cols[ncols].title, sizeof cols[ncols].title);
            ncols++;
        }
    } else {
        cols[0].provider = s->provider; /* a room's column is everyone's */
        if (s->provider)
            provider_title(n, s->provider, cols[0].title, sizeof cols[0].title);
        else
            snprintf(cols[0].title, sizeof cols[0].title, "%s", sched_room_name(n, s->room));
        g.exceptions = s->provider != NULL;
        ncols = 1;
    }
    for (size_t i = 0; i < ncols; i++) {
        cols[i].day = d;
        cols[i].shown = pm_arena_alloc(a, d->n_appointments + 1);
        if (!cols[i].shown)
            return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    }
    if (s->provider) {
        for (size_t b = 1; b < d->n_blocks; b++)
            g.where |= strcmp(d->blocks[b]->location, d->blocks[0]->location) != 0;
    }
    char title[256], day[24];
    sched_day(d->date, day, sizeof day);
    printf("%s · %s\n", subject_title(n, s, title, sizeof title), day);
    if (*d->holiday)
        printf("HOLIDAY: %s\n", d->holiday);
    if (!ncols) {
        printf("Nobody works here this day.\n");
        return CLI_EXIT_OK;
    }
    row_range(&g, cols, ncols, s->location ? sched_find_location(n, s->location) : NULL);
    print_grid(&g, cols, ncols, width, CELL_MIN);
    print_footer(sc, cols, ncols, n, width);
    return CLI_EXIT_OK;
}

static int print_week_grid(cli *c, const sched_names *n, const sched_args *s, Pm__Schedule *sc,
                           pm_arena *a, int width)
{
    grid g = {.n = n,
              .step = s->step ? (unsigned)s->step : 30,
              .compact = 1,
              .exceptions = s->provider != NULL,
              .tty = isatty(STDOUT_FILENO) && !getenv("NO_COLOR")};
    column cols[COLS_MAX];
    size_t ncols = 0;
    for (size_t i = 0; i < sc->n_days && ncols < COLS_MAX; i++) {
        const Pm__ScheduleDay *d = sc->days[i];
        column *k = &cols[ncols++];
        k->day = d;
        k->provider = s->provider;
        k->shown = pm_arena_alloc(a, d->n_appointments + 1);
        if (!k->shown)
            return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
        sched_day(d->date, k->title, sizeof k->title);
        /* "Mon 30": the weekday and the day of the month */
        memmove(k->title + 4, k->title + 12, 3);
        if (*d->holiday)
            snprintf(k->title + 6, sizeof k->title - 6, " %s", d->holiday);
    }
    /* a weekend with nothing on it takes no room */
    while (ncols > 5 && !cols[ncols - 1].day->n_blocks && !cols[ncols - 1].day->n_appointments &&
           !*cols[ncols - 1].day->holiday)
        ncols--;
    char title[256], first[24], last[24];
    sched_day(sc->days[0]->date, first, sizeof first);
    sched_day(sc->days[sc->n_days - 1]->date, last, sizeof last);
    printf("%s · %s to %s\n", subject_title(n, s, title, sizeof title), first, last);
    row_range(&g, cols, ncols, s->location ? sched_find_location(n, s->location) : NULL);
    print_grid(&g, cols, ncols, width, 6);
    print_footer(sc, cols, ncols, n, width);
    return CLI_EXIT_OK;
}

static int appt_order(const void *pa, const void *pb)
{
    const Pm__Appointment *a = *(Pm__Appointment *const *)pa;
    const Pm__Appointment *b = *(Pm__Appointment *const *)pb;
    return a->start < b->start ? -1 : a->start > b->start ? 1 : a->id < b->id ? -1 : a->id > b->id;
}

static int print_list(cli *c, const sched_names *n, const sched_args *s, Pm__Schedule *sc)
{
    char title[256];
    printf("%s\n", subject_title(n, s, title, sizeof title));
    for (size_t i = 0; i < sc->n_days; i++) {
        Pm__ScheduleDay *d = sc->days[i];
        char day[24];
        sched_day(d->date, day, sizeof day);
        printf("\n%s%s%s\n", day, *d->holiday ? "  HOLIDAY: " : "", d->holiday);
        for (size_t x = 0; x < d->n_exceptions; x++) {
            const Pm__Exception *e = d->exceptions[x];
            char when[80];
            sched_span(e->start, e->end, when, sizeof when);
            printf("  away: %s %s, %s%s%s\n", e->provider, sched_kind_word(e->kind), when,
                   *e->reason ? ": " : "", e->reason);
        }
        if (!d->n_appointments) {
            printf("  no appointments\n");
            continue;
        }
        if (d->n_appointments > 1)
            qsort(d->appointments, d->n_appointments, sizeof *d->appointments, appt_order);
        cp_table t;
        int bad = cp_table_init(&t, SCHED_APPT_COLS, sched_appt_header);
        for (size_t k = 0; !bad && k < d->n_appointments; k++)
            bad = sched_appt_row(&t, n, d->appointments[k]);
        if ((bad = cli_print_table(c, &t, bad)))
            return bad;
    }
    return CLI_EXIT_OK;
}

static int cmd_schedule(cli *c, int argc, char **argv)
{
    sched_args s;
    int rc = scan_args(c, argc, argv, &s);
    if (rc)
        return rc == CLI_OPT_HELP ? CLI_EXIT_OK : rc;
    if ((rc = cli_open(c)))
        return rc;
    char date[11];
    pm_local_date(time(NULL), date);
    if ((s.day_s && (rc = parse_day(c, "--day", s.day_s, date))) ||
        (s.week_s && (rc = parse_day(c, "--week", s.week_s, date))))
        return rc;
    if (s.week_s) /* from its Monday */
        pm_date_add(date, 1 - pm_weekday(date), date);
    pm_arena a;
    pm_arena_init(&a, 0);
    sched_names n;
    sched_names_load(c, &a, &n);
    if (!s.provider && !s.location && !s.room && (rc = default_subject(c, &n, &s))) {
        pm_arena_free(&a);
        return rc;
    }
    Pm__GetSchedule *q;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_GET_SCHEDULE,
                                  &pm__get_schedule__descriptor, (void **)&q);
    if (e) {
        q->provider = (char *)(s.provider ? s.provider : "");
        q->location = (char *)(s.location ? s.location : "");
        q->room = (char *)(s.room ? s.room : "");
        q->date = date;
        q->days = s.week_s ? 7 : 1;
    }
    c->field_option = sched_field_option;
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_SCHEDULE, &resp);
    Pm__Schedule *sc = rc ? NULL : resp->schedule;
    if (rc == CLI_EXIT_OK && c->json)
        cj_print(cj_message(&sc->base));
    else if (rc == CLI_EXIT_OK && !sc->n_days)
        rc = cli_fail(c, PM_E_PROTOCOL, NULL, "the server's schedule has no days");
    else if (rc == CLI_EXIT_OK && s.list)
        rc = print_list(c, &n, &s, sc);
    else if (rc == CLI_EXIT_OK && s.week_s)
        rc = print_week_grid(c, &n, &s, sc, &a, sched_term_width((int)s.width));
    else if (rc == CLI_EXIT_OK)
        rc = print_day_grid(c, &n, &s, sc, &a, sched_term_width((int)s.width));
    pm_arena_free(&a);
    return rc;
}

const cli_cmd cli_schedule_cmds[] = {
    {"schedule", "a day or a week as a grid", schedule_help, cmd_schedule, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
