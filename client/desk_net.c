/* The desk and the server: the first load, the day's subscription, the events that keep
 * the model current, the requests the keys make, and the reconnect. The desk never asks
 * the server again and again: it loads a day once, then lives on the events, and loads
 * again only after a reconnect or a refused stale change. */
#include "desk.h"

#include "pm_err.h"
#include "pm_time.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS   8000
#define SLOTS_SHOWN      30
#define SEARCH_LIMIT     40

uint64_t desk_mono_ms(void)
{
    return pm_mono_ms();
}

int64_t desk_now(const desk *d)
{
    return (int64_t)time(NULL) + d->skew;
}

static int session_over(int rc)
{
    return rc == PM_E_SESSION_EXPIRED || rc == PM_E_ACCOUNT_DISABLED || rc == PM_E_UNAUTHENTICATED;
}

static void connection_lost(desk *d)
{
    if (d->conn != CONN_LIVE)
        return;
    d->conn = CONN_RECONNECTING;
    /* a server that takes the connection and drops it again at once does not get the
     * desk back four times a second: the wait grows until a connection has lasted */
    if (!d->live_since || desk_mono_ms() - d->live_since > 10 * 1000 || !d->backoff_ms)
        d->backoff_ms = BACKOFF_FIRST_MS;
    else
        d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
    d->retry_at = desk_mono_ms() + d->backoff_ms;
    d->dirty = 1;
}

static const char *lock_reason(int code, const char *msg)
{
    if (msg && *msg)
        return msg;
    switch (code) {
    case PM_E_ACCOUNT_DISABLED:
        return "the account was disabled";
    case PM_E_SESSION_EXPIRED:
        return "the session expired";
    default:
        return "the session ended";
    }
}

void desk_lock(desk *d, const char *why)
{
    dm_clear(&d->m);
    free(d->modal.items);
    memset(&d->modal, 0, sizeof d->modal);
    memset(&d->wz, 0, sizeof d->wz);
    memset(d->sel, 0, sizeof d->sel);
    d->status[0] = 0;
    desk_copy(d->locked_msg, sizeof d->locked_msg, why);
    d->conn = CONN_LOCKED;
    d->dirty = 1;
    cfg_drop_session(&d->c->cfg);
    pc_close(d->c->pc);
}

/* ---- events ---- */

static void on_event(void *ud, const Pm__Envelope *env)
{
    desk *d = ud;
    if (env->body_case == PM__ENVELOPE__BODY_SESSION_LOCKED && env->session_locked) {
        const Pm__SessionLocked *sl = env->session_locked;
        desk_lock(d, lock_reason(-(int)sl->reason, sl->message));
        return;
    }
    if (d->conn == CONN_LOCKED || env->body_case != PM__ENVELOPE__BODY_EVENT || !env->event)
        return;
    const Pm__Event *ev = env->event;
    switch (ev->body_case) {
    case PM__EVENT__BODY_FLOW_CHANGED:
        if (ev->flow_changed->appointment)
            d->dirty |= dm_apply(&d->m, ev->flow_changed->appointment);
        if (strcmp(d->m.date, d->today) == 0)
            dm_set_paces(&d->m, ev->flow_changed->providers, ev->flow_changed->n_providers);
        d->dirty = 1;
        break;
    case PM__EVENT__BODY_APPOINTMENT_CHANGED:
        if (ev->appointment_changed->appointment)
            d->dirty |= dm_apply(&d->m, ev->appointment_changed->appointment);
        break;
    case PM__EVENT__BODY_BOARD_CHANGED:
        if (ev->board_changed->board)
            d->dirty |= dm_apply_board(&d->m, ev->board_changed->board);
        break;
    default:
        break;
    }
}

void desk_net_drain(desk *d)
{
    while (d->conn == CONN_LIVE) {
        int n = pc_poll(d->c->pc, 0);
        if (n < 0) {
            if (d->conn == CONN_LIVE)
                connection_lost(d);
            return;
        }
        if (n == 0)
            return;
    }
}

/* ---- requests ---- */

/* Sends req and expects an answer of kind want. A failure is told in the status line (or
 * on stderr before the screen starts); an ended session locks the screen; a lost
 * connection starts the reconnect. Events that came with the answer are applied. */
static int call(desk *d, pm_arena *a, Pm__Envelope *req, Pm__Envelope__BodyCase want,
                Pm__Envelope **resp, const char *what)
{
    if (!req)
        return PM_E_NOMEM;
    if (d->conn != CONN_LIVE) {
        desk_say(d, 1, "%s: not connected to the server; reconnecting", what);
        return PM_E_CLOSED;
    }
    int rc = pc_call(d->c->pc, req, a, resp);
    if (rc == PM_OK && (!*resp || (*resp)->body_case != want))
        rc = PM_E_PROTOCOL;
    desk_copy(d->error, sizeof d->error,
              rc == PM_OK                ? ""
              : *pc_last_error(d->c->pc) ? pc_last_error(d->c->pc)
                                         : pm_strerror(rc));
    if (rc && session_over(rc)) {
        desk_lock(d, lock_reason(rc, pc_last_error(d->c->pc)));
        return rc;
    }
    if (rc && (pc_transport_error(rc) || rc == PM_E_RELOAD)) {
        /* RELOAD: the library reconnected but the stream could not resume: the retry
         * subscribes anew and reloads the day */
        connection_lost(d);
        desk_say(d, 1, "%s: the connection to the server was lost; reconnecting", what);
        return rc;
    }
    if (rc)
        desk_say(d, 1, "%s: %s", what, d->error);
    /* the pushes that came with the answer: a SessionLocked among them locks the screen,
     * and then the answer is not shown either */
    desk_net_drain(d);
    return d->conn == CONN_LOCKED ? PM_E_SESSION_EXPIRED : rc;
}

static Pm__Envelope *request(pm_arena *a, Pm__Envelope__BodyCase body,
                             const ProtobufCMessageDescriptor *desc, void **msg)
{
    return cli_request(a, body, desc, msg);
}

static int load_flow(desk *d, const char *date)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__GetFlow *q;
    Pm__Envelope *e = request(&a, PM__ENVELOPE__BODY_GET_FLOW, &pm__get_flow__descriptor,
                              (void **)&q),
                 *r;
    int rc = PM_E_NOMEM;
    if (e) {
        q->location = d->location;
        q->date = (char *)date;
        rc = call(d, &a, e, PM__ENVELOPE__BODY_FLOW, &r, "Loading the day");
    }
    if (rc == PM_OK) {
        d->skew = (int64_t)r->flow->as_of - (int64_t)time(NULL);
        d->grace_s = r->flow->grace_min ? (int64_t)r->flow->grace_min * 60 : 600;
        pm_local_date((time_t)desk_now(d), d->today);
        desk_copy(d->m.date, sizeof d->m.date, r->flow->date);
        desk_copy(d->m.location, sizeof d->m.location, d->location);
        if (dm_load_flow(&d->m, r->flow))
            rc = PM_E_NOMEM;
        desk_fix_selection(d);
        d->dirty = 1;
    }
    pm_arena_free(&a);
    return rc;
}

/* Watches the day: its flow, its schedule and the board's estimates, from now on. */
static int subscribe_day(desk *d, const char *date)
{
    char flow[96], sched[128], board[96];
    snprintf(flow, sizeof flow, "flow/%s", d->location);
    snprintf(sched, sizeof sched, "schedule/location/%s/%s", d->location, date);
    snprintf(board, sizeof board, "board/%s", d->location);
    const char *topics[] = {flow, sched, board};
    pm_arena a;
    pm_arena_init(&a, 0);
    int rc = pc_subscribe(d->c->pc, topics, 3, 0, &a, NULL);
    pm_arena_free(&a);
    if (rc && session_over(rc))
        desk_lock(d, lock_reason(rc, pc_last_error(d->c->pc)));
    else if (rc && pc_transport_error(rc))
        connection_lost(d);
    else if (rc)
        desk_say(d, 1, "Cannot follow the day: %s", pc_last_error(d->c->pc));
    return rc;
}

/* Subscribes first, then loads: every change after the load's state comes as an event,
 * and one that crossed the load is recognised by its version. */
int desk_net_load_day(desk *d, const char *date)
{
    int rc = subscribe_day(d, date);
    if (rc == PM_OK)
        rc = load_flow(d, date);
    if (rc == PM_OK)
        d->follow_today = strcmp(d->m.date, d->today) == 0;
    return rc;
}

void desk_net_retry(desk *d)
{
    if (d->conn != CONN_RECONNECTING || desk_mono_ms() < d->retry_at)
        return;
    int rc = pc_reconnect(d->c->pc);
    if (rc == PM_OK || rc == PM_E_RELOAD) {
        d->conn = CONN_LIVE;
        d->live_since = desk_mono_ms();
        /* resubscribed from the last event seen (or anew, when the server no longer had
         * it or the subscription never took); the load shows the day as it is now */
        int following = d->follow_today;
        if (rc == PM_E_RELOAD || !pc_subscribed(d->c->pc))
            rc = subscribe_day(d, d->m.date);
        if (rc == PM_OK)
            rc = load_flow(d, d->m.date);
        /* away across midnight: the load says the server's day has turned, and a desk
         * that showed today goes on to the new one */
        if (rc == PM_OK && following && strcmp(d->m.date, d->today) != 0) {
            char today[11];
            desk_copy(today, sizeof today, d->today);
            rc = desk_net_load_day(d, today);
        }
        if (rc == PM_OK) { /* a day shown ahead may have become today */
            d->follow_today = strcmp(d->m.date, d->today) == 0;
            desk_say(d, 0, "Reconnected");
        }
        return;
    }
    if (session_over(rc)) {
        desk_lock(d, lock_reason(rc, pc_last_error(d->c->pc)));
        return;
    }
    d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
    d->retry_at = desk_mono_ms() + d->backoff_ms;
    d->dirty = 1;
}

static const char *step_done_word(int action)
{
    switch (action) {
    case PM__FLOW_ACTION__ARRIVE:
        return "Checked in";
    case PM__FLOW_ACTION__TO_ROOM:
        return "Roomed";
    case PM__FLOW_ACTION__SEE:
        return "With the provider:";
    case PM__FLOW_ACTION__CHECK_OUT:
        return "Checked out";
    default:
        return "Undone for";
    }
}

static const char *step_what(int action)
{
    switch (action) {
    case PM__FLOW_ACTION__ARRIVE:
        return "Check-in";
    case PM__FLOW_ACTION__TO_ROOM:
        return "Rooming";
    case PM__FLOW_ACTION__SEE:
        return "Hand-over";
    case PM__FLOW_ACTION__CHECK_OUT:
        return "Check-out";
    default:
        return "Undo";
    }
}

int desk_net_step(desk *d, const desk_appt *a, int action, const char *room, const char *provider)
{
    pm_arena ar;
    pm_arena_init(&ar, 0);
    Pm__FlowStep *s;
    Pm__Envelope *e = request(&ar, PM__ENVELOPE__BODY_FLOW_STEP, &pm__flow_step__descriptor,
                              (void **)&s),
                 *r;
    int rc = PM_E_NOMEM;
    if (e) {
        s->appointment_id = a->id;
        s->version = a->version; /* a stale screen is refused, not obeyed */
        s->action = (Pm__FlowAction)action;
        s->room = (char *)(room ? room : "");
        s->provider = (char *)(provider ? provider : "");
        rc = call(d, &ar, e, PM__ENVELOPE__BODY_APPOINTMENT_OK, &r, step_what(action));
    }
    if (rc == PM_OK) {
        const Pm__Appointment *ap = r->appointment_ok->appointment;
        dm_apply(&d->m, ap);
        if (action == PM__FLOW_ACTION__ARRIVE)
            desk_say(d, 0, "Checked in %s: ticket %s", ap->patient_name, ap->ticket);
        else if (action == PM__FLOW_ACTION__TO_ROOM)
            desk_say(d, 0, "Roomed %s in %s", ap->patient_name, ds_name(&d->s.rooms, ap->room));
        else
            desk_say(d, 0, "%s %s", step_done_word(action), ap->patient_name);
    } else if (rc == PM_E_CONFLICT) {
        char msg[300];
        desk_copy(msg, sizeof msg, d->error);
        load_flow(d, d->m.date);
        desk_say(d, 1, "Not saved: %s. The screen now shows it as it is: look, then try again.",
                 msg);
    }
    desk_fix_selection(d);
    d->dirty = 1;
    pm_arena_free(&ar);
    return rc;
}

int desk_net_walk_in(desk *d, const char *mrn, const char *visit_type, const char *provider)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__WalkIn *w;
    Pm__Envelope *e =
                     request(&a, PM__ENVELOPE__BODY_WALK_IN, &pm__walk_in__descriptor, (void **)&w),
                 *r;
    int rc = PM_E_NOMEM;
    if (e) {
        w->patient_mrn = (char *)mrn;
        w->location = d->location;
        w->visit_type = (char *)visit_type;
        w->provider = (char *)provider;
        rc = call(d, &a, e, PM__ENVELOPE__BODY_APPOINTMENT_OK, &r, "Walk-in");
    }
    if (rc == PM_OK) {
        const Pm__Appointment *ap = r->appointment_ok->appointment;
        dm_apply(&d->m, ap);
        d->pane = PANE_WAITING;
        d->sel[PANE_WAITING].id = ap->id;
        desk_say(d, 0, "Walk-in %s: ticket %s", ap->patient_name, ap->ticket);
    }
    desk_fix_selection(d);
    d->dirty = 1;
    pm_arena_free(&a);
    return rc;
}

static void when_text(int64_t t, char *buf, size_t n)
{
    struct tm tm;
    time_t tt = (time_t)t;
    localtime_r(&tt, &tm);
    strftime(buf, n, "%a %d %b %H:%M", &tm);
}

int desk_net_book(desk *d, const desk_wizard *w)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Book *b;
    Pm__Envelope *e = request(&a, PM__ENVELOPE__BODY_BOOK, &pm__book__descriptor, (void **)&b), *r;
    int rc = PM_E_NOMEM;
    if (e) {
        b->patient_mrn = (char *)w->mrn;
        b->provider = (char *)w->provider;
        b->visit_type = (char *)w->visit_type;
        b->start = w->start;
        b->location = d->location;
        b->room = (char *)w->room;
        rc = call(d, &a, e, PM__ENVELOPE__BODY_APPOINTMENT_OK, &r, "Booking");
    }
    if (rc == PM_OK) {
        const Pm__Appointment *ap = r->appointment_ok->appointment;
        char when[40];
        when_text(ap->start, when, sizeof when);
        if (dm_apply(&d->m, ap)) {
            d->pane = PANE_SCHEDULE;
            d->sel[PANE_SCHEDULE].id = ap->id;
        }
        desk_say(d, 0, "Booked %s: %s, %s with %s", ap->patient_name, when,
                 ds_name(&d->s.visit_types, ap->visit_type),
                 ds_name(&d->s.providers, ap->provider));
    }
    desk_fix_selection(d);
    d->dirty = 1;
    pm_arena_free(&a);
    return rc;
}

/* ---- look-ups for the dialogs ---- */

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static int phone_like(const char *s)
{
    int digits = 0;
    for (; *s; s++) {
        if (isdigit((unsigned char)*s))
            digits++;
        else if (!strchr(" +-().", *s))
            return 0;
    }
    return digits >= 4;
}

static int search_once(desk *d, pm_arena *a, const char *text, int how, Pm__PatientList **out)
{
    Pm__SearchPatients *q;
    Pm__Envelope *e = request(a, PM__ENVELOPE__BODY_SEARCH_PATIENTS,
                              &pm__search_patients__descriptor, (void **)&q),
                 *r;
    if (!e)
        return PM_E_NOMEM;
    if (how == 'd')
        q->date_of_birth = (char *)text;
    else if (how == 'm')
        q->mrn = (char *)text;
    else if (how == 'p')
        q->phone = (char *)text;
    else
        q->name = (char *)text;
    q->limit = SEARCH_LIMIT;
    int rc = call(d, a, e, PM__ENVELOPE__BODY_PATIENT_LIST, &r, "Search");
    if (rc == PM_OK)
        *out = r->patient_list;
    return rc;
}

static void patient_item(desk_item *it, const Pm__Patient *p)
{
    snprintf(it->extra, sizeof it->extra, "%s, %s", p->last_name, p->first_name);
    snprintf(it->label, sizeof it->label, "%-34.34s %-10s  %s", it->extra, p->date_of_birth,
             p->mrn);
    desk_copy(it->id, sizeof it->id, p->mrn);
}

int desk_net_search(desk *d, const char *text, desk_item **out, size_t *n)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    int y, mo, dd;
    Pm__PatientList *pl = NULL;
    int rc;
    *out = NULL;
    *n = 0;
    if (pm_parse_date(text, &y, &mo, &dd) == 0) {
        rc = search_once(d, &a, text, 'd', &pl);
    } else if (all_digits(text) && strlen(text) <= 12) {
        rc = search_once(d, &a, text, 'm', &pl);
        if (rc == PM_E_NOT_FOUND || rc == PM_E_INVALID_ARGUMENT ||
            (rc == PM_OK && !pl->n_patients)) {
            d->status[0] = 0;
            rc = search_once(d, &a, text, 'p', &pl);
        }
    } else {
        rc = search_once(d, &a, text, phone_like(text) ? 'p' : 'n', &pl);
    }
    if (rc == PM_OK && pl->n_patients) {
        *out = calloc(pl->n_patients, sizeof **out);
        if (!*out) {
            rc = PM_E_NOMEM;
        } else {
            for (size_t i = 0; i < pl->n_patients; i++)
                patient_item(&(*out)[i], pl->patients[i]);
            *n = pl->n_patients;
        }
    }
    pm_arena_free(&a);
    return rc;
}

int desk_net_slots(desk *d, const char *visit_type, desk_item **out, size_t *n)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__FindSlots *q;
    Pm__Envelope *e = request(&a, PM__ENVELOPE__BODY_FIND_SLOTS, &pm__find_slots__descriptor,
                              (void **)&q),
                 *r;
    int rc = PM_E_NOMEM;
    *out = NULL;
    *n = 0;
    if (e) {
        q->visit_type = (char *)visit_type;
        q->location = d->location;
        q->from_date = strcmp(d->m.date, d->today) > 0 ? d->m.date : d->today;
        q->count = SLOTS_SHOWN;
        rc = call(d, &a, e, PM__ENVELOPE__BODY_SLOT_LIST, &r, "Free slots");
    }
    if (rc == PM_OK && r->slot_list->n_slots) {
        const Pm__SlotList *sl = r->slot_list;
        *out = calloc(sl->n_slots, sizeof **out);
        if (!*out) {
            rc = PM_E_NOMEM;
        } else {
            for (size_t i = 0; i < sl->n_slots; i++) {
                const Pm__Slot *s = sl->slots[i];
                desk_item *it = &(*out)[i];
                char when[40];
                when_text(s->start, when, sizeof when);
                snprintf(it->label, sizeof it->label, "%s  %-24.24s %s", when,
                         ds_name(&d->s.providers, s->provider),
                         *s->room ? ds_name(&d->s.rooms, s->room) : "");
                desk_copy(it->id, sizeof it->id, s->provider);
                desk_copy(it->extra2, sizeof it->extra2, s->room);
                it->when = s->start;
            }
            *n = sl->n_slots;
        }
    }
    pm_arena_free(&a);
    return rc;
}

static int next_appointment(desk *d, pm_arena *a, const char *mrn, const Pm__Appointment **out)
{
    Pm__PatientAppointments *q;
    Pm__Envelope *e = request(a, PM__ENVELOPE__BODY_PATIENT_APPOINTMENTS,
                              &pm__patient_appointments__descriptor, (void **)&q),
                 *r;
    if (!e)
        return PM_E_NOMEM;
    q->mrn = (char *)mrn;
    q->limit = 5;
    int rc = call(d, a, e, PM__ENVELOPE__BODY_APPOINTMENT_LIST, &r, "Appointments");
    *out = NULL;
    for (size_t i = 0; rc == PM_OK && i < r->appointment_list->n_appointments && !*out; i++) {
        const Pm__Appointment *ap = r->appointment_list->appointments[i];
        if (ap->status != PM__APPOINTMENT_STATUS__CANCELLED)
            *out = ap;
    }
    return rc;
}

int desk_net_patient_info(desk *d, const char *mrn, char lines[][200], size_t max, size_t *n)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__GetPatient *q;
    Pm__Envelope *e = request(&a, PM__ENVELOPE__BODY_GET_PATIENT, &pm__get_patient__descriptor,
                              (void **)&q),
                 *r;
    int rc = PM_E_NOMEM;
    *n = 0;
    if (e) {
        q->mrn = (char *)mrn;
        rc = call(d, &a, e, PM__ENVELOPE__BODY_PATIENT_OK, &r, "Patient");
    }
    const Pm__Appointment *next = NULL;
    if (rc == PM_OK)
        rc = next_appointment(d, &a, mrn, &next);
    if (rc == PM_OK && max >= 6) {
        const Pm__Patient *p = r->patient_ok->patient;
        snprintf(lines[(*n)++], 200, "%s, %s%s%s%s", p->last_name, p->first_name,
                 *p->preferred_name ? " (" : "", p->preferred_name, *p->preferred_name ? ")" : "");
        snprintf(lines[(*n)++], 200, "MRN %s   born %s", p->mrn, p->date_of_birth);
        if (p->n_phones)
            snprintf(lines[(*n)++], 200, "Phone %s", p->phones[0]->number);
        lines[(*n)++][0] = 0;
        if (next) {
            char when[40];
            when_text(next->start, when, sizeof when);
            snprintf(lines[(*n)++], 200, "Next appointment: %s, %s", when,
                     ds_name(&d->s.visit_types, next->visit_type));
            snprintf(lines[(*n)++], 200, "  with %s at %s",
                     ds_name(&d->s.providers, next->provider),
                     ds_name(&d->s.locations, next->location));
        } else {
            snprintf(lines[(*n)++], 200, "No appointment booked");
        }
    }
    pm_arena_free(&a);
    return rc;
}

/* ---- the start ---- */

static int load_setup(desk *d, pm_arena *a)
{
    Pm__GetSetup *q;
    Pm__Envelope *e = request(a, PM__ENVELOPE__BODY_GET_SETUP, &pm__get_setup__descriptor,
                              (void **)&q),
                 *r;
    if (!e)
        return cli_fail(d->c, PM_E_NOMEM, NULL, "out of memory");
    int rc = cli_call(d->c, e, a, PM__ENVELOPE__BODY_SETUP, &r);
    if (rc == CLI_EXIT_OK)
        ds_load(&d->s, r->setup);
    return rc;
}

static void location_ids(const desk *d, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < d->s.locations.n && used < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", d->s.locations.v[i].id);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* --location, else where the logged-in clinician works, else the practice's only one. */
static int choose_location(desk *d, const char *given)
{
    char ids[400];
    location_ids(d, ids, sizeof ids);
    const char *pick = given;
    if (!pick) {
        for (size_t i = 0; i < d->s.providers.n && !pick; i++) {
            const desk_named *p = &d->s.providers.v[i];
            if (*p->username && strcmp(p->username, d->c->cfg.user) == 0 && *p->location)
                pick = p->location;
        }
    }
    if (!pick && d->s.locations.n == 1)
        pick = d->s.locations.v[0].id;
    if (!pick && !d->s.locations.n)
        return cli_fail(d->c, PM_E_NOT_FOUND, "location",
                        "the practice has no location yet; a manager adds one with 'practice "
                        "location add'");
    if (!pick)
        return cli_fail(d->c, PM_E_INVALID_ARGUMENT, "location",
                        "the practice has several locations (%s): choose one with --location", ids);
    const desk_named *loc = ds_find(&d->s.locations, pick);
    if (!loc)
        return cli_fail(d->c, PM_E_NOT_FOUND, "location", "no location %s (the practice has: %s)",
                        pick, *ids ? ids : "none");
    desk_copy(d->location, sizeof d->location, loc->id);
    desk_copy(d->location_name, sizeof d->location_name, loc->name);
    return CLI_EXIT_OK;
}

/* The client of cli_prepare, with timeouts for a screen: a dead server must not freeze
 * the keyboard for long. */
static int open_client(desk *d)
{
    cli *c = d->c;
    int rc = cli_prepare(c, 1);
    if (rc)
        return rc;
    char ca[PATH_MAX + 16];
    if (cfg_path(&c->cfg, CFG_CA_FILE, ca, sizeof ca))
        return cli_fail(c, PM_E_CONFIG, NULL, "configuration path too long");
    pc_opts o = {.host = c->cfg.host,
                 .port = c->cfg.port,
                 .ca_file = ca,
                 .client_name = "practice-desk/" PM_VERSION,
                 .timeout_ms = 15000,
                 .connect_timeout_ms = 3000,
                 .retries = 1};
    pc_free(c->pc);
    c->pc = pc_new(&o);
    if (!c->pc)
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    pc_set_device(c->pc, c->cfg.device);
    pc_set_token(c->pc, c->cfg.token, sizeof c->cfg.token);
    pc_on_event(c->pc, on_event, d);
    return cli_connect(c);
}

/* A failure before the screen starts, on stderr. */
static int start_failed(desk *d, int rc)
{
    if (d->conn == CONN_LOCKED)
        return cli_fail(d->c, PM_E_SESSION_EXPIRED, NULL, "%s; log in again with 'practice login'",
                        d->locked_msg);
    return cli_fail(d->c, rc, NULL, "%s", *d->status ? d->status : pm_strerror(rc));
}

static int first_load(desk *d, const char *date)
{
    char day[11] = "";
    int rc;
    if (date && pm_parse_local_date(date, (time_t)time(NULL), day) != 0)
        return cli_fail(d->c, PM_E_INVALID_ARGUMENT, "date",
                        "--date: a date (YYYY-MM-DD, today, tomorrow, mon..sun)");
    /* without --date, the server's today: a first look tells which day that is */
    if (!date && (rc = load_flow(d, "")) != PM_OK)
        return start_failed(d, rc);
    if (!date)
        desk_copy(day, sizeof day, d->m.date);
    if ((rc = desk_net_load_day(d, day)) != PM_OK)
        return start_failed(d, rc);
    d->status[0] = 0;
    return CLI_EXIT_OK;
}

int desk_net_start(desk *d, const char *location, const char *date)
{
    int rc = open_client(d);
    if (rc)
        return rc;
    desk_copy(d->practice, sizeof d->practice, pc_practice_name(d->c->pc));
    pm_arena a;
    pm_arena_init(&a, 0);
    rc = load_setup(d, &a);
    pm_arena_free(&a);
    if (rc == CLI_EXIT_OK)
        rc = choose_location(d, location);
    if (rc == CLI_EXIT_OK)
        rc = first_load(d, date);
    return rc;
}
