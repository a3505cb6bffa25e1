/* practice simulate: plays a clinic day at one location against a practice server, for
 * demos and for trying the desk and the board. Meant for a server started with
 * 'practiced serve --clock-speed N': each simulated minute (60/N real seconds) it reads
 * the day's flow (GetFlow, whose as_of is the server's clock) and does what the front
 * desk and the providers would do in that minute:
 *
 *   - keeps the next hours booked to about 70% (FindSlots, then Book), and now and
 *     then books a patient for a later day;
 *   - checks patients in around their time: most a few minutes early, some on time,
 *     some late, a few not at all (marked no-shows half an hour after their time);
 *   - rooms the next patient of a provider when a room is free and nobody else is
 *     already in a room waiting for that provider;
 *   - hands a roomed patient to the provider once the provider is free and a short
 *     intake is done; checks them out after about the visit type's length (0.7x to
 *     1.5x);
 *   - cancels a booking now and then, and takes walk-ins.
 *
 * What each patient does is drawn from the seed and the appointment's id, so it needs no
 * memory between minutes: the flow the server returns is the state. Each action prints
 * one line. */
#include "simulate.h"

#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATIENTS_MAX    500
#define FUTURE_MAX      64
#define FILL_TARGET     0.7        /* of the bookable time in the next hours */
#define BOOK_AHEAD_MIN  10         /* same-day bookings start at least this far ahead */
#define BOOK_WINDOW_MIN 180        /* ... and this far at most */
#define NO_SHOW_MIN     30         /* not arrived this long after the time: a no-show */
#define P_WALK_IN       (1.0 / 25) /* per minute open */
#define P_BOOK_LATER    0.06       /* per minute open */
#define P_CANCEL        0.025      /* per minute open */
#define P_NEVER_COMES   0.07
#define P_EARLY         0.60
#define P_ON_TIME       0.20 /* the rest come late */

typedef struct future_appt {
    uint64_t id;
    uint32_t version;
} future_appt;

typedef struct sim {
    cli *c;
    const char *location;
    char location_name[128];
    unsigned speed;
    uint64_t seed, rng;
    double hours;
    pm_arena setup_arena; /* rooms, providers, visit types, patients: for the whole run */
    const char **rooms;
    const char **room_names;
    size_t nrooms;
    Pm__Provider **provs;
    size_t nprovs;
    Pm__VisitType **vts;
    size_t nvts;
    char **mrns;
    size_t nmrns;
    /* today's hours at the location, from the schedule */
    pm_arena day_arena;
    char day[11];
    Pm__AvailabilityBlock **blocks, **next;
    size_t nblocks, nnext;
    int said_closed;
    future_appt future[FUTURE_MAX];
    size_t nfuture;
    uint64_t start_clock, first_asof, first_ms;
    int warned_speed, failing;
    unsigned long booked, booked_later, arrived, walk_ins, roomed, seen, checked_out, cancelled,
        no_shows, refused;
} sim;

static volatile sig_atomic_t stop_sim;

static void on_stop(int sig)
{
    (void)sig;
    stop_sim = 1;
}

/* ---- chance ---- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unit(uint64_t h)
{
    return (double)(h >> 11) / 9007199254740992.0;
}

static double chance(sim *s)
{
    s->rng = mix64(s->rng);
    return unit(s->rng);
}

static size_t pick(sim *s, size_t n)
{
    s->rng = mix64(s->rng);
    return n ? (size_t)(s->rng % n) : 0;
}

/* The same number in [0, 1) every minute for one appointment and purpose. */
static double fate(const sim *s, uint64_t id, unsigned what)
{
    return unit(mix64(s->seed ^ mix64(id * 8 + what)));
}

/* ---- printing ---- */

static void stamp(uint64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    buf[0] = 0;
    if (localtime_r(&tt, &tm))
        strftime(buf, n, "%a %H:%M", &tm);
}

static void say(uint64_t now, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(uint64_t now, const char *what, const char *fmt, ...)
{
    char when[32], line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    stamp(now, when, sizeof when);
    printf("%s  %-11s %s\n", when, what, line);
    fflush(stdout);
}

static const char *room_name(const sim *s, const char *id)
{
    for (size_t i = 0; i < s->nrooms; i++)
        if (strcmp(s->rooms[i], id) == 0)
            return s->room_names[i];
    return id;
}

static const char *who(const Pm__Appointment *a)
{
    return *a->patient_name ? a->patient_name : a->patient_mrn;
}

/* ---- requests ---- */

/* Errors that pass: the connection, or the server's storage (a full disk being cleared):
 * the simulation waits, growing the wait, and goes on. */
static int transport(int rc)
{
    return pc_transport_error(rc) || rc == PM_E_SHUTTING_DOWN || rc == PM_E_BUSY ||
           rc == PM_E_STORAGE;
}

/* Errors after which the simulation cannot go on. */
static int fatal(int rc)
{
    return rc == PM_E_SESSION_EXPIRED || rc == PM_E_UNAUTHENTICATED ||
           rc == PM_E_ACCOUNT_DISABLED || rc == PM_E_PERMISSION_DENIED ||
           rc == PM_E_PASSWORD_CHANGE_REQUIRED;
}

/* Sends a request; *resp is the answer of kind want. A refusal of the request itself
 * (a slot taken meanwhile, a stale version) is counted, not fatal. */
static int call(sim *s, Pm__Envelope *e, pm_arena *a, Pm__Envelope__BodyCase want,
                Pm__Envelope **resp)
{
    if (!e)
        return PM_E_NOMEM;
    int rc = pc_call(s->c->pc, e, a, resp);
    if (rc == PM_OK && (*resp)->body_case != want)
        rc = PM_E_PROTOCOL;
    if (rc && !transport(rc) && !fatal(rc))
        s->refused++;
    return rc;
}

static Pm__Appointment *flow_step(sim *s, pm_arena *a, const Pm__Appointment *ap,
                                  Pm__FlowAction action, const char *room, int *rc)
{
    Pm__FlowStep *fs;
    Pm__Envelope *resp;
    Pm__Envelope *e =
        cli_request(a, PM__ENVELOPE__BODY_FLOW_STEP, &pm__flow_step__descriptor, (void **)&fs);
    if (e) {
        fs->appointment_id = ap->id;
        fs->version = ap->version;
        fs->action = action;
        fs->room = (char *)(room ? room : "");
    }
    *rc = call(s, e, a, PM__ENVELOPE__BODY_APPOINTMENT_OK, &resp);
    return *rc ? NULL : resp->appointment_ok->appointment;
}

/* ---- the set-up ---- */

static int offers(const Pm__VisitType *vt, const char *provider)
{
    if (!vt->n_providers)
        return 1;
    for (size_t i = 0; i < vt->n_providers; i++)
        if (strcmp(vt->providers[i], provider) == 0)
            return 1;
    return 0;
}

/* Whether the provider has hours at the location in some template. */
static int works_at(const Pm__Setup *st, const Pm__Provider *p, const char *location)
{
    for (size_t i = 0; i < st->n_templates; i++) {
        const Pm__Template *t = st->templates[i];
        if (strcmp(t->provider, p->id) != 0)
            continue;
        for (size_t k = 0; k < t->n_blocks; k++) {
            const char *l = *t->blocks[k]->location ? t->blocks[k]->location : p->default_location;
            if (strcmp(l, location) == 0)
                return 1;
        }
    }
    return 0;
}

static int role_check(sim *s)
{
    cli *c = s->c;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Resume *r;
    Pm__Envelope *resp;
    Pm__Envelope *e =
        cli_request(&a, PM__ENVELOPE__BODY_RESUME, &pm__resume__descriptor, (void **)&r);
    if (e) {
        r->token.data = c->cfg.token;
        r->token.len = sizeof c->cfg.token;
        r->device = c->cfg.device;
    }
    int rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_LOGIN_OK, &resp);
    if (rc == CLI_EXIT_OK) {
        const Pm__Account *acct = resp->login_ok->account;
        int role = acct ? acct->role : 0;
        if (role != PM__ROLE__MANAGER && role != PM__ROLE__RECEPTIONIST)
            rc = cli_fail(c, PM_E_PERMISSION_DENIED, NULL,
                          "the simulation books and checks patients in: log in as a manager or "
                          "a receptionist (you are %s, %s)",
                          acct ? acct->username : "?", cp_role_word((Pm__Role)role));
    }
    pm_arena_free(&a);
    return rc;
}

/* Loads what the simulation needs and says clearly what is missing. */
static int load_setup(sim *s, const char *want_location)
{
    cli *c = s->c;
    pm_arena *a = &s->setup_arena;
    Pm__GetSetup *g;
    Pm__Envelope *resp;
    Pm__Envelope *e =
        cli_request(a, PM__ENVELOPE__BODY_GET_SETUP, &pm__get_setup__descriptor, (void **)&g);
    int rc = cli_call(c, e, a, PM__ENVELOPE__BODY_SETUP, &resp);
    if (rc)
        return rc;
    const Pm__Setup *st = resp->setup;
    const Pm__Location *loc = NULL;
    for (size_t i = 0; i < st->n_locations; i++)
        if (!want_location || strcmp(st->locations[i]->id, want_location) == 0) {
            loc = st->locations[i];
            break;
        }
    if (!loc && want_location)
        return cli_fail(c, PM_E_NOT_FOUND, "--location", "no location %s", want_location);
    if (!loc)
        return cli_fail(c, PM_E_NOT_FOUND, NULL,
                        "the practice has no location: set one up ('practice location add', a "
                        "provider, a visit type and hours) or seed the demo practice");
    if (!want_location && st->n_locations > 1)
        fprintf(stderr, "%s: simulating at %s (choose another with --location)\n", c->name,
                loc->id);
    s->location = loc->id;
    snprintf(s->location_name, sizeof s->location_name, "%s", loc->name);
    size_t n = st->n_rooms + st->n_providers + st->n_visit_types + 1;
    s->rooms = pm_arena_alloc(a, sizeof *s->rooms * n);
    s->room_names = pm_arena_alloc(a, sizeof *s->room_names * n);
    s->provs = pm_arena_alloc(a, sizeof *s->provs * n);
    s->vts = pm_arena_alloc(a, sizeof *s->vts * n);
    if (!s->rooms || !s->room_names || !s->provs || !s->vts)
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < st->n_rooms; i++)
        if (strcmp(st->rooms[i]->location, s->location) == 0) {
            s->rooms[s->nrooms] = st->rooms[i]->id;
            s->room_names[s->nrooms++] =
                *st->rooms[i]->name ? st->rooms[i]->name : st->rooms[i]->id;
        }
    for (size_t i = 0; i < st->n_providers; i++)
        if (!st->providers[i]->inactive && works_at(st, st->providers[i], s->location))
            s->provs[s->nprovs++] = st->providers[i];
    for (size_t i = 0; i < st->n_visit_types; i++)
        for (size_t k = 0; k < s->nprovs; k++)
            if (offers(st->visit_types[i], s->provs[k]->id)) {
                s->vts[s->nvts++] = st->visit_types[i];
                break;
            }
    /* the patients to play */
    Pm__ListPatients *lp;
    e = cli_request(a, PM__ENVELOPE__BODY_LIST_PATIENTS, &pm__list_patients__descriptor,
                    (void **)&lp);
    if (e)
        lp->limit = PATIENTS_MAX;
    if ((rc = cli_call(c, e, a, PM__ENVELOPE__BODY_PATIENT_LIST, &resp)))
        return rc;
    const Pm__PatientList *pl = resp->patient_list;
    s->mrns = pm_arena_alloc(a, sizeof *s->mrns * (pl->n_patients + 1));
    if (!s->mrns)
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < pl->n_patients; i++)
        s->mrns[s->nmrns++] = pl->patients[i]->mrn;
    char missing[512] = "";
    if (!s->nprovs)
        strcat(missing, "; no provider has hours here ('practice provider add', 'practice "
                        "template set')");
    else if (!s->nvts)
        strcat(missing, "; no visit type its providers offer ('practice visit-type add')");
    if (!s->nmrns)
        strcat(missing, "; no patients ('practice patient add')");
    if (*missing)
        return cli_fail(c, PM_E_NOT_FOUND, NULL, "cannot simulate a day at %s: %s", s->location,
                        missing + 2);
    return CLI_EXIT_OK;
}

/* Today's and tomorrow's hours at the location, read once a day. */
static int load_day(sim *s, const char *date)
{
    if (strcmp(s->day, date) == 0)
        return PM_OK;
    pm_arena_free(&s->day_arena);
    pm_arena_init(&s->day_arena, 0);
    s->nblocks = s->nnext = 0;
    Pm__GetSchedule *g;
    Pm__Envelope *resp;
    Pm__Envelope *e = cli_request(&s->day_arena, PM__ENVELOPE__BODY_GET_SCHEDULE,
                                  &pm__get_schedule__descriptor, (void **)&g);
    if (e) {
        g->location = (char *)s->location;
        g->date = (char *)date;
        g->days = 2;
    }
    int rc = call(s, e, &s->day_arena, PM__ENVELOPE__BODY_SCHEDULE, &resp);
    if (rc)
        return rc;
    if (resp->schedule->n_days > 0) {
        s->blocks = resp->schedule->days[0]->blocks;
        s->nblocks = resp->schedule->days[0]->n_blocks;
    }
    if (resp->schedule->n_days > 1) {
        s->next = resp->schedule->days[1]->blocks;
        s->nnext = resp->schedule->days[1]->n_blocks;
    }
    snprintf(s->day, sizeof s->day, "%s", date);
    return PM_OK;
}

/* Whether a provider (any, for NULL) has hours at the location at t. */
static int open_at(const sim *s, const char *provider, uint64_t t)
{
    for (size_t i = 0; i < s->nblocks; i++) {
        const Pm__AvailabilityBlock *b = s->blocks[i];
        if ((!provider || strcmp(b->provider, provider) == 0) && (uint64_t)b->start <= t &&
            t < (uint64_t)b->end)
            return 1;
    }
    return 0;
}

static uint64_t closes_at(const sim *s)
{
    uint64_t last = 0;
    for (size_t i = 0; i < s->nblocks; i++)
        if ((uint64_t)s->blocks[i]->end > last)
            last = (uint64_t)s->blocks[i]->end;
    return last;
}

/* When someone next has hours at the location after t (today or tomorrow), or 0. */
static uint64_t opens_at(const sim *s, uint64_t t)
{
    uint64_t first = 0;
    for (size_t i = 0; i < s->nblocks + s->nnext; i++) {
        const Pm__AvailabilityBlock *b = i < s->nblocks ? s->blocks[i] : s->next[i - s->nblocks];
        if ((uint64_t)b->start > t && (!first || (uint64_t)b->start < first))
            first = (uint64_t)b->start;
    }
    return first;
}

/* Says when the practice is closed (once each time it closes), and when it opens. */
static void closed_notice(sim *s, uint64_t now, int open)
{
    if (open || s->said_closed) {
        s->said_closed = !open;
        return;
    }
    s->said_closed = 1;
    uint64_t at = opens_at(s, now);
    if (!at) {
        say(now, "closed", "nobody has hours at %s today or tomorrow; waiting", s->location);
        return;
    }
    char when[32];
    stamp(at, when, sizeof when);
    uint64_t real_s = (at - now) / s->speed;
    say(now, "closed", "%s opens %s, in %llu min %02llu s of real time at %ux", s->location, when,
        (unsigned long long)(real_s / 60), (unsigned long long)(real_s % 60), s->speed);
}

/* ---- one simulated minute ---- */

typedef struct day {
    Pm__Appointment **ap;
    size_t n;
    uint64_t now;
    const char *date;
} day;

static int in_flow(int st)
{
    return st == PM__APPOINTMENT_STATUS__ARRIVED || st == PM__APPOINTMENT_STATUS__ROOMED ||
           st == PM__APPOINTMENT_STATUS__WITH_PROVIDER;
}

/* Whether the patient has a booking today not yet over (so not a walk-in or another
 * booking today). */
static int busy_today(const day *d, const char *mrn)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->ap[i]->patient_mrn, mrn) == 0 &&
            (d->ap[i]->status == PM__APPOINTMENT_STATUS__BOOKED || in_flow(d->ap[i]->status)))
            return 1;
    return 0;
}

static const char *free_patient(sim *s, const day *d)
{
    for (int tries = 0; tries < 20; tries++) {
        const char *mrn = s->mrns[pick(s, s->nmrns)];
        if (!busy_today(d, mrn))
            return mrn;
    }
    return NULL;
}

static size_t count(const day *d, const char *provider, Pm__AppointmentStatus status)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->ap[i]->status == status && strcmp(d->ap[i]->provider, provider) == 0)
            n++;
    return n;
}

static int room_taken(const day *d, const char *room)
{
    for (size_t i = 0; i < d->n; i++)
        if ((d->ap[i]->status == PM__APPOINTMENT_STATUS__ROOMED ||
             d->ap[i]->status == PM__APPOINTMENT_STATUS__WITH_PROVIDER) &&
            strcmp(d->ap[i]->room, room) == 0)
            return 1;
    return 0;
}

/* The waiting in the order the server estimates they will be seen. */
static int queue_order(const void *x, const void *y)
{
    const Pm__Appointment *a = *(Pm__Appointment *const *)x, *b = *(Pm__Appointment *const *)y;
    uint64_t ka = a->estimated_start ? a->estimated_start : (uint64_t)a->start;
    uint64_t kb = b->estimated_start ? b->estimated_start : (uint64_t)b->start;
    if (ka != kb)
        return ka < kb ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int check_outs(sim *s, pm_arena *a, day *d)
{
    for (size_t i = 0; i < d->n; i++) {
        Pm__Appointment *ap = d->ap[i];
        if (ap->status != PM__APPOINTMENT_STATUS__WITH_PROVIDER || !ap->seen_at)
            continue;
        double planned = (double)(ap->end - ap->start) * (0.7 + 0.8 * fate(s, ap->id, 4));
        if (d->now < ap->seen_at + (uint64_t)planned)
            continue;
        int rc;
        Pm__Appointment *got = flow_step(s, a, ap, PM__FLOW_ACTION__CHECK_OUT, NULL, &rc);
        if (transport(rc) || fatal(rc))
            return rc;
        if (!got)
            continue;
        d->ap[i] = got;
        s->checked_out++;
        say(d->now, "checked out", "%s %s (%llu min with %s)", got->ticket, who(got),
            (unsigned long long)((d->now - ap->seen_at) / 60), got->provider);
    }
    return PM_OK;
}

/* A free provider takes the next patient: one roomed a few minutes ago, or (at a
 * location without rooms) the next in the waiting room. */
static int see(sim *s, pm_arena *a, day *d, Pm__Appointment **queue, size_t nq)
{
    Pm__AppointmentStatus want =
        s->nrooms ? PM__APPOINTMENT_STATUS__ROOMED : PM__APPOINTMENT_STATUS__ARRIVED;
    for (size_t i = 0; i < nq; i++) {
        Pm__Appointment *ap = queue[i];
        if (ap->status != want || count(d, ap->provider, PM__APPOINTMENT_STATUS__WITH_PROVIDER))
            continue;
        uint64_t intake = (uint64_t)(60 + fate(s, ap->id, 3) * 240);
        if (s->nrooms && d->now < ap->roomed_at + intake)
            continue;
        int rc;
        Pm__Appointment *got = flow_step(s, a, ap, PM__FLOW_ACTION__SEE, NULL, &rc);
        if (transport(rc) || fatal(rc))
            return rc;
        if (!got)
            continue;
        for (size_t k = 0; k < d->n; k++)
            if (d->ap[k]->id == got->id)
                d->ap[k] = got;
        queue[i] = got;
        s->seen++;
        say(d->now, "with", "%s %s sees %s", got->ticket, *got->provider ? got->provider : "?",
            who(got));
    }
    return PM_OK;
}

/* Calls the next patient of each provider to a free room, unless someone already waits
 * in a room for that provider. */
static int to_rooms(sim *s, pm_arena *a, day *d, Pm__Appointment **queue, size_t nq)
{
    if (!s->nrooms)
        return PM_OK;
    for (size_t i = 0; i < nq; i++) {
        Pm__Appointment *ap = queue[i];
        if (ap->status != PM__APPOINTMENT_STATUS__ARRIVED ||
            count(d, ap->provider, PM__APPOINTMENT_STATUS__ROOMED))
            continue;
        const char *room = *ap->room && !room_taken(d, ap->room) ? ap->room : NULL;
        for (size_t k = 0, first = pick(s, s->nrooms); !room && k < s->nrooms; k++) {
            const char *r = s->rooms[(first + k) % s->nrooms];
            if (!room_taken(d, r))
                room = r;
        }
        if (!room)
            return PM_OK;
        int rc;
        Pm__Appointment *got = flow_step(s, a, ap, PM__FLOW_ACTION__TO_ROOM, room, &rc);
        if (transport(rc) || fatal(rc))
            return rc;
        if (!got)
            continue;
        for (size_t k = 0; k < d->n; k++)
            if (d->ap[k]->id == got->id)
                d->ap[k] = got;
        queue[i] = got;
        s->roomed++;
        say(d->now, "to room", "%s %s, please go to %s", got->ticket, who(got),
            room_name(s, got->room));
    }
    return PM_OK;
}

static int no_show(sim *s, pm_arena *a, day *d, size_t i)
{
    Pm__Appointment *ap = d->ap[i];
    Pm__MarkNoShow *m;
    Pm__Envelope *resp;
    Pm__Envelope *e =
        cli_request(a, PM__ENVELOPE__BODY_MARK_NO_SHOW, &pm__mark_no_show__descriptor, (void **)&m);
    if (e) {
        m->id = ap->id;
        m->version = ap->version;
    }
    int rc = call(s, e, a, PM__ENVELOPE__BODY_APPOINTMENT_OK, &resp);
    if (rc)
        return transport(rc) || fatal(rc) ? rc : PM_OK;
    d->ap[i] = resp->appointment_ok->appointment;
    s->no_shows++;
    char when[32];
    stamp((uint64_t)ap->start, when, sizeof when);
    say(d->now, "no-show", "#%llu %s (%s at %s) did not come", (unsigned long long)ap->id, who(ap),
        ap->visit_type, when + 4);
    return PM_OK;
}

/* Patients come in around their time: most a little early, some on time, some late, a
 * few not at all. */
static int arrivals(sim *s, pm_arena *a, day *d)
{
    for (size_t i = 0; i < d->n; i++) {
        Pm__Appointment *ap = d->ap[i];
        if (ap->status != PM__APPOINTMENT_STATUS__BOOKED ||
            (uint64_t)ap->start + NO_SHOW_MIN * 60 < s->start_clock)
            continue; /* long before the simulation began: the day's closing deals with it */
        int rc;
        if (d->now > (uint64_t)ap->start + NO_SHOW_MIN * 60) {
            if ((rc = no_show(s, a, d, i)))
                return rc;
            continue;
        }
        double r = fate(s, ap->id, 1), v = fate(s, ap->id, 2);
        if (r < P_NEVER_COMES)
            continue;
        double offset_min = r < P_NEVER_COMES + P_EARLY               ? -(3 + v * 12)
                            : r < P_NEVER_COMES + P_EARLY + P_ON_TIME ? -2 + v * 6
                                                                      : 6 + v * 19;
        if ((double)d->now < (double)ap->start + offset_min * 60)
            continue;
        Pm__Appointment *got = flow_step(s, a, ap, PM__FLOW_ACTION__ARRIVE, NULL, &rc);
        if (transport(rc) || fatal(rc))
            return rc;
        if (!got)
            continue;
        d->ap[i] = got;
        s->arrived++;
        long early = ((long)ap->start - (long)d->now) / 60;
        char when[32];
        stamp((uint64_t)ap->start, when, sizeof when);
        say(d->now, "arrived", "%s %s, %s with %s at %s (%ld min %s)", got->ticket, who(got),
            got->visit_type, got->provider, when + 4, early < 0 ? -early : early,
            early < 0 ? "late" : "early");
    }
    return PM_OK;
}

/* A visit type a provider offers, at random. */
static const Pm__VisitType *vt_of(sim *s, const char *provider)
{
    const Pm__VisitType *opts[64];
    size_t n = 0;
    for (size_t i = 0; i < s->nvts && n < 64; i++)
        if (offers(s->vts[i], provider))
            opts[n++] = s->vts[i];
    return n ? opts[pick(s, n)] : NULL;
}

static int walk_in(sim *s, pm_arena *a, day *d)
{
    Pm__Provider *open[64];
    size_t n = 0;
    for (size_t i = 0; i < s->nprovs && n < 64; i++)
        if (open_at(s, s->provs[i]->id, d->now))
            open[n++] = s->provs[i];
    const char *mrn = free_patient(s, d);
    if (!n || !mrn)
        return PM_OK;
    const Pm__Provider *p = open[pick(s, n)];
    const Pm__VisitType *vt = vt_of(s, p->id);
    if (!vt)
        return PM_OK;
    Pm__WalkIn *w;
    Pm__Envelope *resp;
    Pm__Envelope *e =
        cli_request(a, PM__ENVELOPE__BODY_WALK_IN, &pm__walk_in__descriptor, (void **)&w);
    if (e) {
        w->patient_mrn = (char *)mrn;
        w->location = (char *)s->location;
        w->visit_type = vt->id;
        w->provider = p->id;
    }
    int rc = call(s, e, a, PM__ENVELOPE__BODY_APPOINTMENT_OK, &resp);
    if (rc)
        return transport(rc) || fatal(rc) ? rc : PM_OK;
    const Pm__Appointment *got = resp->appointment_ok->appointment;
    s->walk_ins++;
    s->arrived++;
    say(d->now, "walk-in", "%s %s, %s with %s", got->ticket, who(got), got->visit_type,
        got->provider);
    return PM_OK;
}

static int find_slots(sim *s, pm_arena *a, const char *vt, const char *from, const char *to,
                      unsigned n, const char *mrn, Pm__SlotList **out)
{
    Pm__FindSlots *q;
    Pm__Envelope *resp;
    Pm__Envelope *e =
        cli_request(a, PM__ENVELOPE__BODY_FIND_SLOTS, &pm__find_slots__descriptor, (void **)&q);
    if (e) {
        q->visit_type = (char *)vt;
        q->location = (char *)s->location;
        q->from_date = (char *)from;
        q->to_date = (char *)to;
        q->count = n;
        q->patient_mrn = (char *)(mrn ? mrn : "");
    }
    int rc = call(s, e, a, PM__ENVELOPE__BODY_SLOT_LIST, &resp);
    if (rc == PM_OK)
        *out = resp->slot_list;
    return rc;
}

static int book(sim *s, pm_arena *a, const char *mrn, const char *vt, const Pm__Slot *sl,
                Pm__Appointment **out)
{
    Pm__Book *b;
    Pm__Envelope *resp;
    Pm__Envelope *e = cli_request(a, PM__ENVELOPE__BODY_BOOK, &pm__book__descriptor, (void **)&b);
    if (e) {
        b->patient_mrn = (char *)mrn;
        b->provider = sl->provider;
        b->visit_type = (char *)vt;
        b->start = sl->start;
        b->location = sl->location;
        b->room = sl->room;
    }
    int rc = call(s, e, a, PM__ENVELOPE__BODY_APPOINTMENT_OK, &resp);
    if (rc == PM_OK)
        *out = resp->appointment_ok->appointment;
    return rc;
}

/* Keeps the next hours of today booked to about FILL_TARGET, as a front desk does
 * taking calls through the morning. */
static int book_today(sim *s, pm_arena *a, day *d)
{
    uint64_t w0 = d->now + BOOK_AHEAD_MIN * 60, w1 = d->now + BOOK_WINDOW_MIN * 60;
    if (closes_at(s) <= w0)
        return PM_OK;
    size_t made = 0; /* this minute's, not yet in the flow read at its start */
    for (int round = 0; round < 2; round++) {
        const Pm__VisitType *vt = s->vts[pick(s, s->nvts)];
        Pm__SlotList *sl;
        int rc = find_slots(s, a, vt->id, d->date, d->date, 100, NULL, &sl);
        if (rc)
            return transport(rc) || fatal(rc) ? rc : PM_OK;
        Pm__Slot *free_slots[100];
        size_t nfree = 0, booked = made;
        for (size_t i = 0; i < sl->n_slots && nfree < 100; i++)
            if ((uint64_t)sl->slots[i]->start >= w0 && (uint64_t)sl->slots[i]->start < w1)
                free_slots[nfree++] = sl->slots[i];
        for (size_t i = 0; i < d->n; i++)
            if ((uint64_t)d->ap[i]->start >= w0 && (uint64_t)d->ap[i]->start < w1 &&
                d->ap[i]->status != PM__APPOINTMENT_STATUS__CANCELLED &&
                d->ap[i]->status != PM__APPOINTMENT_STATUS__NO_SHOW)
                booked++;
        if (!nfree || (double)booked >= FILL_TARGET * (double)(booked + nfree))
            return PM_OK;
        const char *mrn = free_patient(s, d);
        if (!mrn)
            return PM_OK;
        const Pm__Slot *slot = free_slots[pick(s, nfree < 6 ? nfree : 6)];
        Pm__Appointment *got;
        rc = book(s, a, mrn, vt->id, slot, &got);
        if (rc)
            return transport(rc) || fatal(rc) ? rc : PM_OK;
        s->booked++;
        made++;
        char when[32];
        stamp((uint64_t)got->start, when, sizeof when);
        say(d->now, "booked", "%s, %s with %s today at %s", who(got), got->visit_type,
            got->provider, when + 4);
    }
    return PM_OK;
}

static int book_later(sim *s, pm_arena *a, day *d)
{
    char from[11], to[11];
    pm_date_add(d->date, 1 + (int)pick(s, 20), from);
    pm_date_add(from, 6, to);
    const Pm__VisitType *vt = s->vts[pick(s, s->nvts)];
    const char *mrn = s->mrns[pick(s, s->nmrns)];
    Pm__SlotList *sl;
    int rc = find_slots(s, a, vt->id, from, to, 20, mrn, &sl);
    if (rc || !sl->n_slots)
        return transport(rc) || fatal(rc) ? rc : PM_OK;
    Pm__Appointment *got;
    rc = book(s, a, mrn, vt->id, sl->slots[pick(s, sl->n_slots)], &got);
    if (rc)
        return transport(rc) || fatal(rc) ? rc : PM_OK;
    s->booked++;
    s->booked_later++;
    if (s->nfuture == FUTURE_MAX) {
        memmove(s->future, s->future + 1, sizeof s->future[0] * (FUTURE_MAX - 1));
        s->nfuture--;
    }
    s->future[s->nfuture++] = (future_appt){got->id, got->version};
    char when[32];
    stamp((uint64_t)got->start, when, sizeof when);
    char date[11];
    pm_local_date((time_t)got->start, date);
    say(d->now, "booked", "%s, %s with %s on %s %s", who(got), got->visit_type, got->provider, date,
        when + 4);
    return PM_OK;
}

static int cancel(sim *s, pm_arena *a, day *d)
{
    uint64_t id = 0;
    uint32_t version = 0;
    size_t fi = 0, today = 0;
    if (s->nfuture && pick(s, 2) == 0) {
        fi = pick(s, s->nfuture);
        id = s->future[fi].id;
        version = s->future[fi].version;
    } else {
        size_t later[256], n = 0;
        for (size_t i = 0; i < d->n && n < 256; i++)
            if (d->ap[i]->status == PM__APPOINTMENT_STATUS__BOOKED &&
                (uint64_t)d->ap[i]->start > d->now + 20 * 60)
                later[n++] = i;
        if (!n)
            return PM_OK;
        today = 1;
        fi = later[pick(s, n)];
        id = d->ap[fi]->id;
        version = d->ap[fi]->version;
    }
    Pm__Cancel *c;
    Pm__Envelope *resp;
    Pm__Envelope *e =
        cli_request(a, PM__ENVELOPE__BODY_CANCEL, &pm__cancel__descriptor, (void **)&c);
    if (e) {
        c->id = id;
        c->version = version;
        c->reason = "the patient called to cancel";
    }
    int rc = call(s, e, a, PM__ENVELOPE__BODY_APPOINTMENT_OK, &resp);
    if (!today) {
        memmove(s->future + fi, s->future + fi + 1, sizeof s->future[0] * (s->nfuture - fi - 1));
        s->nfuture--;
    }
    if (rc)
        return transport(rc) || fatal(rc) ? rc : PM_OK;
    const Pm__Appointment *got = resp->appointment_ok->appointment;
    if (today)
        d->ap[fi] = resp->appointment_ok->appointment;
    s->cancelled++;
    char when[32], date[11];
    stamp((uint64_t)got->start, when, sizeof when);
    pm_local_date((time_t)got->start, date);
    say(d->now, "cancelled", "#%llu %s, %s with %s on %s %s%s", (unsigned long long)got->id,
        who(got), got->visit_type, got->provider, date, when + 4,
        got->late_cancel ? " (late)" : "");
    return PM_OK;
}

static int get_flow(sim *s, pm_arena *a, Pm__Flow **out)
{
    Pm__GetFlow *g;
    Pm__Envelope *resp;
    Pm__Envelope *e =
        cli_request(a, PM__ENVELOPE__BODY_GET_FLOW, &pm__get_flow__descriptor, (void **)&g);
    if (e)
        g->location = (char *)s->location;
    int rc = call(s, e, a, PM__ENVELOPE__BODY_FLOW, &resp);
    if (rc == PM_OK)
        *out = resp->flow;
    return rc;
}

/* Warns once when the server's clock does not run at the speed given. */
static void check_speed(sim *s, uint64_t asof)
{
    uint64_t now_ms = pm_mono_ms();
    if (!s->first_ms) {
        s->first_ms = now_ms;
        s->first_asof = asof;
        return;
    }
    uint64_t real_ms = now_ms - s->first_ms;
    if (s->warned_speed || real_ms < 20000 || asof < s->first_asof)
        return;
    double ratio = (double)(asof - s->first_asof) * 1000.0 / (double)real_ms;
    if (ratio > s->speed * 1.5 + 0.5 || ratio < s->speed / 1.5 - 0.5) {
        fprintf(stderr,
                "%s: the server's clock runs about %.0fx real time, not %ux: give --speed the "
                "server's --clock-speed\n",
                s->c->name, ratio, s->speed);
        s->warned_speed = 1;
    }
}

static int minute(sim *s, uint64_t *clock)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Flow *f;
    int rc = get_flow(s, &a, &f);
    if (rc == PM_OK)
        rc = load_day(s, f->date);
    if (rc) {
        pm_arena_free(&a);
        return rc;
    }
    *clock = f->as_of;
    check_speed(s, f->as_of);
    if (!s->start_clock) {
        char when[32];
        s->start_clock = f->as_of;
        stamp(f->as_of, when, sizeof when);
        printf("Simulating %s (%s) from %s at %ux, seed %llu: %zu providers, %zu visit types, "
               "%zu rooms, %zu patients.\n",
               s->location_name, s->location, when, s->speed, (unsigned long long)s->seed,
               s->nprovs, s->nvts, s->nrooms, s->nmrns);
        fflush(stdout);
    }
    day d = {f->appointments, f->n_appointments, f->as_of, f->date};
    Pm__Appointment **queue = pm_arena_alloc(&a, sizeof *queue * (d.n + 1));
    if (!queue) {
        pm_arena_free(&a);
        return PM_E_NOMEM;
    }
    size_t nq = 0;
    for (size_t i = 0; i < d.n; i++)
        if (in_flow(d.ap[i]->status))
            queue[nq++] = d.ap[i];
    qsort(queue, nq, sizeof *queue, queue_order);
    int open = open_at(s, NULL, d.now);
    closed_notice(s, d.now, open);
    if ((rc = check_outs(s, &a, &d)) || (rc = see(s, &a, &d, queue, nq)) ||
        (rc = to_rooms(s, &a, &d, queue, nq)) || (rc = arrivals(s, &a, &d)))
        goto out;
    if (open && chance(s) < P_WALK_IN && (rc = walk_in(s, &a, &d)))
        goto out;
    if ((rc = book_today(s, &a, &d)))
        goto out;
    if (open && chance(s) < P_BOOK_LATER && (rc = book_later(s, &a, &d)))
        goto out;
    if (open && chance(s) < P_CANCEL)
        rc = cancel(s, &a, &d);
out:
    pm_arena_free(&a);
    return rc;
}

/* ---- the command ---- */

static const char simulate_help[] =
    "usage: practice simulate [--speed N] [--location L] [--seed S] [--duration H]\n"
    "\n"
    "Plays a clinic day at a location against the practice's server, for demos and for\n"
    "trying the desk and the waiting-room board: each simulated minute it books same-day\n"
    "and later appointments into free slots, checks patients in around their time (most\n"
    "a little early, some late, a few not at all), rooms them when a room is free, hands\n"
    "them to the provider, checks them out after about the visit's length, cancels a\n"
    "few bookings and takes walk-ins. It prints one line for each thing it does, and a\n"
    "summary at the end (Ctrl-C, or --duration).\n"
    "\n"
    "Run it against a server whose clock runs fast ('practiced serve --clock-speed 60\n"
    "--clock-start \"today 08:45\"'); it keeps pace with the server's clock: a simulated\n"
    "minute is then one real second, and a day's morning passes in a few minutes. It needs a "
    "manager's or receptionist's session\n"
    "('practice login') and a practice with a location, a provider with hours there, a\n"
    "visit type and some patients; the practice's real bookings are changed, so never run\n"
    "it against a practice in use.\n"
    "\n"
    "Options:\n"
    "  --speed N       the server's --clock-speed (default: the speed it says)\n"
    "  --location L    where (default: the first location)\n"
    "  --seed S        the same seed plays the same choices (default: from the clock)\n"
    "  --duration H    stop after H simulated hours (decimals allowed: 0.5)\n"
    "\n"
    "Examples:\n"
    "  practiced serve --data demo/data --clock-speed 60 --clock-start 'today 08:45' &\n"
    "  practice simulate --location main\n"
    "  practice simulate --seed 7 --duration 8\n";

static int parse_hours(cli *c, const char *arg, double *out)
{
    char *end;
    errno = 0;
    double h = strtod(arg, &end);
    if (!*arg || *end || errno || !(h > 0) || h > 24 * 366)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, "--duration",
                        "--duration: simulated hours, more than 0 (e.g. 8 or 0.5)");
    *out = h;
    return CLI_EXIT_OK;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a signal cuts it short: the loop looks at stop_sim */
}

static void summary(const sim *s, uint64_t clock)
{
    uint64_t mins = clock > s->start_clock ? (clock - s->start_clock) / 60 : 0;
    printf("Simulated %llu h %02llu min at %s: %lu booked (%lu for later days), %lu arrived "
           "(%lu walk-ins), %lu roomed, %lu seen, %lu checked out, %lu cancelled, %lu "
           "no-shows; %lu requests refused.\n",
           (unsigned long long)(mins / 60), (unsigned long long)(mins % 60), s->location, s->booked,
           s->booked_later, s->arrived, s->walk_ins, s->roomed, s->seen, s->checked_out,
           s->cancelled, s->no_shows, s->refused);
}

static int run(sim *s)
{
    cli *c = s->c;
    uint64_t period = 60000 / s->speed, next = pm_mono_ms(), backoff = 0, clock = 0;
    int rc = CLI_EXIT_OK;
    while (!stop_sim) {
        int r = minute(s, &clock);
        if (r && fatal(r)) {
            rc = cli_fail_call(c, r);
            break;
        }
        if (r && transport(r)) {
            if (!s->failing)
                fprintf(stderr, "%s: %s; retrying\n", c->name, pc_last_error(c->pc));
            s->failing = 1;
            backoff = backoff ? (backoff * 2 > 30000 ? 30000 : backoff * 2) : 1000;
            sleep_ms(backoff);
            next = pm_mono_ms();
            continue;
        }
        if (r && r != PM_OK) {
            rc = cli_fail_call(c, r);
            break;
        }
        if (s->failing)
            fprintf(stderr, "%s: the server answers again\n", c->name);
        s->failing = 0;
        backoff = 0;
        if (s->hours > 0 && (double)(clock - s->start_clock) >= s->hours * 3600)
            break;
        next += period;
        uint64_t now = pm_mono_ms();
        if (next > now)
            sleep_ms(next - now);
        else
            next = now; /* behind (a slow server): do not race to catch up */
    }
    if (s->start_clock)
        summary(s, clock);
    return rc;
}

static int cmd_simulate(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"speed", required_argument, 0, 'S'},
                                         {"location", required_argument, 0, 'l'},
                                         {"seed", required_argument, 0, 's'},
                                         {"duration", required_argument, 0, 'd'},
                                         HELP_OPTION,
                                         END_OPTIONS};
    unsigned long speed = 0, seed = 0;
    int have_seed = 0, o, rc;
    const char *location = NULL;
    double hours = 0;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == 'S')
            rc = cli_parse_uint(c, "--speed", optarg, 1, 3600, &speed);
        else if (o == 's')
            rc = cli_parse_uint(c, "--seed", optarg, 0, ULONG_MAX, &seed), have_seed = 1;
        else if (o == 'd')
            rc = parse_hours(c, optarg, &hours);
        else
            location = optarg, rc = CLI_EXIT_OK;
        if (rc)
            return rc;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_open(c)))
        return rc;
    sim *s = calloc(1, sizeof *s);
    if (!s)
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    s->c = c;
    /* cli_open said Hello: the server told its clock's speed */
    s->speed = speed ? (unsigned)speed : pc_clock_speed(c->pc);
    s->hours = hours;
    if (!have_seed) {
        uint32_t r = 0;
        pm_random(&r, sizeof r);
        seed = r % 1000000;
    }
    s->seed = seed;
    s->rng = mix64(seed ^ 0x5eed);
    pm_arena_init(&s->setup_arena, 0);
    pm_arena_init(&s->day_arena, 0);
    rc = role_check(s);
    if (rc == CLI_EXIT_OK)
        rc = load_setup(s, location);
    if (rc == CLI_EXIT_OK) {
        cli_catch_stop(on_stop, 0);
        rc = run(s);
    }
    pm_arena_free(&s->day_arena);
    pm_arena_free(&s->setup_arena);
    free(s);
    return rc;
}

const cli_cmd cli_simulate_cmds[] = {
    {"simulate", "play a clinic day against a server with a fast clock", simulate_help,
     cmd_simulate, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
