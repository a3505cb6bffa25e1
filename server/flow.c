/* Patient flow on the day of the visit: arrive (a queue ticket per location and day),
 * roomed, with the provider, checked out, and undo of the last step; walk-ins; the end of
 * the day's no-shows; the estimated waits; and the waiting-room board, a projection with
 * tickets, rooms and waits and nothing that names a patient.
 *
 * Each step is one write: the appointment, its history, a FlowChanged event on the
 * location's flow topic and its schedule topics, and a fresh BoardState on the location's
 * board topic, all in the transaction that makes the step. */
#include "flow.h"

#include "dispatch.h"
#include "patients.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_time.h"
#include "pm_util.h"
#include "scheduling.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOARD_CALLS 5

flow_config flow_cfg = {.grace_s = 10 * 60, .auto_no_show = 0};

/* ---- the day at a location ---- */

typedef struct flow_day {
    Pm__Appointment **appts; /* by start */
    size_t n;
    Pm__ProviderPace **paces;
    size_t npaces;
    uint64_t pick_for;  /* a walk-in for anyone: */
    const char *picked; /* the provider the estimate gives them to */
} flow_day;

static double provider_pace(Pm__Appointment **appts, size_t n, const char *provider)
{
    double actual = 0, scheduled = 0;
    for (size_t i = 0; i < n; i++) {
        const Pm__Appointment *a = appts[i];
        if (strcmp(a->provider, provider) != 0 || !a->seen_at || !a->checked_out_at ||
            a->checked_out_at < a->seen_at)
            continue;
        actual += (double)(a->checked_out_at - a->seen_at);
        scheduled += (double)(a->end - a->start);
    }
    if (scheduled <= 0)
        return 1.0;
    double pace = actual / scheduled;
    return pace < 0.5 ? 0.5 : pace > 3.0 ? 3.0 : pace;
}

static int waiting_status(int s)
{
    return s == PM__APPOINTMENT_STATUS__ARRIVED || s == PM__APPOINTMENT_STATUS__ROOMED;
}

static int queue_order(const void *x, const void *y)
{
    const Pm__Appointment *a = *(Pm__Appointment *const *)x, *b = *(Pm__Appointment *const *)y;
    /* in the room before the waiting room; then by appointment time (walk-ins by arrival) */
    int ra = a->status == PM__APPOINTMENT_STATUS__ROOMED,
        rb = b->status == PM__APPOINTMENT_STATUS__ROOMED;
    if (ra != rb)
        return rb - ra;
    int64_t ka = a->walk_in ? (int64_t)a->arrived_at : a->start;
    int64_t kb = b->walk_in ? (int64_t)b->arrived_at : b->start;
    return ka < kb ? -1 : ka > kb ? 1 : (a->id < b->id ? -1 : 1);
}

/* Estimates when each waiting patient will be seen: every provider is free once the
 * visit in progress ends at the day's pace; the waiting are seen in order, not before
 * their time; a walk-in for anyone goes to whoever is free first. */
static int estimate(struct req *r, MDB_txn *txn, flow_day *fd, time_t now)
{
    pm_arena *a = &r->arena;
    const char **names = pm_arena_alloc(a, sizeof *names * (fd->n + 1));
    double *pace = pm_arena_alloc(a, sizeof *pace * (fd->n + 1));
    time_t *free_at = pm_arena_alloc(a, sizeof *free_at * (fd->n + 1));
    Pm__Appointment **queue = pm_arena_alloc(a, sizeof *queue * (fd->n + 1));
    if (!names || !pace || !free_at || !queue)
        return PM_E_NOMEM;
    size_t np = 0, nq = 0;
    for (size_t i = 0; i < fd->n; i++) {
        Pm__Appointment *ap = fd->appts[i];
        if (waiting_status(ap->status))
            queue[nq++] = ap;
        if (ap->status == PM__APPOINTMENT_STATUS__BOOKED && now > ap->start + flow_cfg.grace_s)
            ap->overdue = 1;
        if (!*ap->provider)
            continue;
        size_t k = 0;
        while (k < np && strcmp(names[k], ap->provider) != 0)
            k++;
        if (k == np) {
            names[np] = ap->provider;
            pace[np] = provider_pace(fd->appts, fd->n, ap->provider);
            free_at[np] = now;
            np++;
        }
        if (ap->status == PM__APPOINTMENT_STATUS__WITH_PROVIDER && ap->seen_at) {
            time_t ends = (time_t)ap->seen_at + (time_t)((double)(ap->end - ap->start) * pace[k]);
            if (ends > free_at[k])
                free_at[k] = ends;
        }
    }
    fd->paces = pm_arena_alloc(a, sizeof *fd->paces * (np ? np : 1));
    if (!fd->paces)
        return PM_E_NOMEM;
    for (size_t k = 0; k < np; k++) {
        Pm__ProviderPace *pp = pm_msg_new(a, &pm__provider_pace__descriptor);
        if (!pp)
            return PM_E_NOMEM;
        pp->provider = (char *)names[k];
        pp->pace = pace[k];
        fd->paces[k] = pp;
    }
    fd->npaces = np;
    qsort(queue, nq, sizeof *queue, queue_order);
    for (size_t i = 0; i < nq; i++) {
        Pm__Appointment *ap = queue[i];
        size_t k = np;
        if (*ap->provider) {
            for (k = 0; k < np && strcmp(names[k], ap->provider) != 0; k++)
                ;
        } else {
            /* whoever offers the visit and is free first */
            Pm__VisitType *vt = NULL;
            setup_visit_type(txn, ap->visit_type, &r->arena, &vt);
            for (size_t j = 0; j < np; j++)
                if ((!vt || vt_offered_by(vt, names[j])) && (k == np || free_at[j] < free_at[k]))
                    k = j;
            if (k < np && ap->id == fd->pick_for)
                fd->picked = names[k];
        }
        time_t dur = ap->end - ap->start;
        time_t est = now;
        if (k < np) {
            est = free_at[k];
            if (!ap->walk_in && ap->start > est)
                est = ap->start;
            free_at[k] = est + (time_t)((double)dur * pace[k]);
            Pm__ProviderPace *pp = fd->paces[k];
            pp->waiting++;
            if (!ap->walk_in && est > ap->start) {
                int late = (int)((est - ap->start) / 60);
                if (late > pp->running_late_min)
                    pp->running_late_min = late;
            }
        }
        ap->estimated_start = (uint64_t)est;
    }
    return PM_OK;
}

/* fd->pick_for is kept: the estimate says who takes that walk-in for anyone */
static int flow_load(struct req *r, MDB_txn *txn, const char *location, const char *date,
                     time_t now, flow_day *fd)
{
    *fd = (flow_day){.pick_for = fd->pick_for};
    time_t t0, t1;
    if (pm_local_instant(date, 0, &t0) != 0 || pm_local_instant(date, 24 * 60, &t1) != 0)
        return PM_E_INVALID_ARGUMENT;
    appt_span *sp;
    size_t n;
    int rc = appt_spans(txn, SCHED_BY_LOCATION, location, t0, t1, &sp, &n);
    if (rc)
        return rc;
    fd->appts = pm_arena_alloc(&r->arena, sizeof *fd->appts * (n ? n : 1));
    if (!fd->appts) {
        free(sp);
        return PM_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        Pm__Appointment *a;
        if (sp[i].start < t0 || sp[i].status == PM__APPOINTMENT_STATUS__HELD ||
            appt_load(txn, sp[i].id, &r->arena, &a) != PM_OK)
            continue;
        fd->appts[fd->n++] = a;
    }
    free(sp);
    return estimate(r, txn, fd, now);
}

static int room_name(MDB_txn *txn, const char *id, pm_arena *a, const char **out)
{
    Pm__Room *rm;
    *out = id;
    if (setup_room(txn, id, a, &rm) == PM_OK && *rm->name)
        *out = rm->name;
    return PM_OK;
}

static int cmp_called(const void *x, const void *y)
{
    const Pm__Appointment *a = *(Pm__Appointment *const *)x, *b = *(Pm__Appointment *const *)y;
    return a->roomed_at > b->roomed_at ? -1 : a->roomed_at < b->roomed_at ? 1 : 0;
}

/* The redacted projection for the waiting room. */
static int board_of(struct req *r, MDB_txn *txn, const char *location, const flow_day *fd,
                    time_t now, Pm__BoardState **out)
{
    pm_arena *a = &r->arena;
    Pm__BoardState *b = pm_msg_new(a, &pm__board_state__descriptor);
    Pm__Location *loc;
    if (!b)
        return PM_E_NOMEM;
    b->location = (char *)location;
    b->location_name =
        (char *)(setup_location(txn, location, a, &loc) == PM_OK ? loc->name : location);
    b->as_of = (uint64_t)now;
    b->waiting = pm_arena_alloc(a, sizeof *b->waiting * (fd->n ? fd->n : 1));
    Pm__Appointment **called = pm_arena_alloc(a, sizeof *called * (fd->n ? fd->n : 1));
    if (!b->waiting || !called)
        return PM_E_NOMEM;
    size_t ncalled = 0;
    for (size_t i = 0; i < fd->n; i++) {
        Pm__Appointment *ap = fd->appts[i];
        if (ap->status == PM__APPOINTMENT_STATUS__ARRIVED && *ap->ticket) {
            Pm__BoardTicket *t = pm_msg_new(a, &pm__board_ticket__descriptor);
            if (!t)
                return PM_E_NOMEM;
            t->ticket = ap->ticket;
            t->estimated_start = ap->estimated_start;
            t->wait_min = ap->estimated_start > (uint64_t)now
                              ? (uint32_t)((ap->estimated_start - (uint64_t)now + 59) / 60)
                              : 0;
            b->waiting[b->n_waiting++] = t;
        }
        if (ap->roomed_at && *ap->ticket && ap->status == PM__APPOINTMENT_STATUS__ROOMED)
            called[ncalled++] = ap;
    }
    qsort(called, ncalled, sizeof *called, cmp_called);
    if (ncalled > BOARD_CALLS)
        ncalled = BOARD_CALLS;
    b->calls = pm_arena_alloc(a, sizeof *b->calls * (ncalled ? ncalled : 1));
    if (!b->calls)
        return PM_E_NOMEM;
    for (size_t i = 0; i < ncalled; i++) {
        Pm__BoardCall *c = pm_msg_new(a, &pm__board_call__descriptor);
        if (!c)
            return PM_E_NOMEM;
        c->ticket = called[i]->ticket;
        room_name(txn, called[i]->room, a, (const char **)&c->room);
        c->at = called[i]->roomed_at;
        b->calls[b->n_calls++] = c;
    }
    *out = b;
    return PM_OK;
}

/* After a change at a location today: the board's new state, as an event. */
static int board_event_now(struct req *r, wctx *ctx, const char *location)
{
    time_t now = sched_now();
    char date[11];
    pm_local_date(now, date);
    flow_day fd = {0};
    Pm__BoardState *b;
    int rc = flow_load(r, ctx->txn, location, date, now, &fd);
    if (rc || (rc = board_of(r, ctx->txn, location, &fd, now, &b)))
        return rc;
    Pm__Event *ev = pm_msg_new(&r->arena, &pm__event__descriptor);
    Pm__BoardChanged *bc = pm_msg_new(&r->arena, &pm__board_changed__descriptor);
    if (!ev || !bc)
        return PM_E_NOMEM;
    bc->board = b;
    ev->body_case = PM__EVENT__BODY_BOARD_CHANGED;
    ev->board_changed = bc;
    char topic[80];
    snprintf(topic, sizeof topic, "board/%s", location);
    const char *topics[1] = {topic};
    return req_event(r, ctx, topics, 1, ev);
}

int flow_board_event(struct req *r, const char *location)
{
    for (size_t i = 0; i < r->nboards; i++)
        if (strcmp(r->boards[i], location) == 0)
            return PM_OK;
    char *loc = pm_arena_strdup(&r->arena, location);
    if (!loc || pm_arena_push(&r->arena, (void ***)&r->boards, &r->nboards, &r->boards_cap, loc))
        return PM_E_NOMEM;
    return PM_OK;
}

int flow_boards_flush(struct req *r, wctx *ctx)
{
    int rc = PM_OK;
    for (size_t i = 0; i < r->nboards && rc == PM_OK; i++)
        rc = board_event_now(r, ctx, r->boards[i]);
    r->nboards = 0;
    return rc;
}

/* The step as an event on the location's flow and day and on the provider's schedule,
 * and on the provider's it had before when that changed (an undo that gives a walk-in
 * back to anyone): that desk must drop it too. */
static int flow_events(struct req *r, wctx *ctx, const char *action, Pm__Appointment *a,
                       const char *provider_before)
{
    time_t now = sched_now();
    char date[11], today[11];
    pm_local_date(a->start, date);
    pm_local_date(now, today);
    flow_day fd = {0};
    int rc = flow_load(r, ctx->txn, a->location, today, now, &fd);
    if (rc)
        return rc;
    for (size_t i = 0; i < fd.n; i++) /* the estimate as it stands after the step */
        if (fd.appts[i]->id == a->id)
            a->estimated_start = fd.appts[i]->estimated_start;
    Pm__Event *ev = pm_msg_new(&r->arena, &pm__event__descriptor);
    Pm__FlowChanged *fc = pm_msg_new(&r->arena, &pm__flow_changed__descriptor);
    if (!ev || !fc)
        return PM_E_NOMEM;
    if (!*a->patient_name)
        a->patient_name = (char *)sched_patient_name(ctx->txn, a->patient_mrn, &r->arena);
    fc->action = (char *)action;
    fc->appointment = a;
    fc->providers = fd.paces;
    fc->n_providers = fd.npaces;
    ev->body_case = PM__EVENT__BODY_FLOW_CHANGED;
    ev->flow_changed = fc;
    char t_flow[80], t_loc[96], t_prov[64], t_prev[64];
    snprintf(t_flow, sizeof t_flow, "flow/%s", a->location);
    snprintf(t_loc, sizeof t_loc, "schedule/location/%s/%s", a->location, date);
    const char *topics[4] = {t_flow, t_loc};
    size_t nt = 2;
    if (*a->provider) {
        snprintf(t_prov, sizeof t_prov, "schedule/provider/%s", a->provider);
        topics[nt++] = t_prov;
    }
    if (provider_before && *provider_before && strcmp(provider_before, a->provider) != 0) {
        snprintf(t_prev, sizeof t_prev, "schedule/provider/%s", provider_before);
        topics[nt++] = t_prev;
    }
    if ((rc = req_event(r, ctx, topics, nt, ev)))
        return rc;
    return flow_board_event(r, a->location);
}

/* ---- steps ---- */

static const char *status_word(int s)
{
    switch (s) {
    case PM__APPOINTMENT_STATUS__BOOKED:
        return "booked";
    case PM__APPOINTMENT_STATUS__CANCELLED:
        return "cancelled";
    case PM__APPOINTMENT_STATUS__NO_SHOW:
        return "a no-show";
    case PM__APPOINTMENT_STATUS__HELD:
        return "held for a waitlist offer";
    case PM__APPOINTMENT_STATUS__ARRIVED:
        return "waiting";
    case PM__APPOINTMENT_STATUS__ROOMED:
        return "in a room";
    case PM__APPOINTMENT_STATUS__WITH_PROVIDER:
        return "with the provider";
    case PM__APPOINTMENT_STATUS__CHECKED_OUT:
        return "checked out";
    }
    return "in an unknown state";
}

static int issue_ticket(struct req *r, wctx *ctx, const char *location, time_t now,
                        const char **out)
{
    Pm__Location *loc;
    int rc = setup_location(ctx->txn, location, &r->arena, &loc);
    if (rc)
        return rc == PM_E_NOT_FOUND
                   ? req_fail(r, PM_E_INVALID_ARGUMENT, "location", "no location %s", location)
                   : rc;
    char date[11], name[96];
    pm_local_date(now, date);
    snprintf(name, sizeof name, "ticket.%s.%s", location, date);
    uint64_t n;
    if ((rc = store_next_id(ctx->txn, ctx->st, name, 1, &n)))
        return rc;
    /* PutLocation keeps the prefix to 8 characters of text; printed whole */
    char first[2] = {(char)(loc->id[0] >= 'a' && loc->id[0] <= 'z' ? loc->id[0] - 32 : loc->id[0])};
    const char *prefix = *loc->ticket_prefix ? loc->ticket_prefix : first;
    *out = pm_arena_printf(&r->arena, "%s-%03llu", prefix, (unsigned long long)n);
    return *out ? PM_OK : PM_E_NOMEM;
}

/* The room must be free: nobody else of the location is in it now. */
static int room_free(struct req *r, MDB_txn *txn, const Pm__Appointment *a, const char *room)
{
    Pm__Room *rm;
    if (!*room || setup_room(txn, room, &r->arena, &rm) != PM_OK ||
        strcmp(rm->location, a->location))
        return req_fail(r, PM_E_INVALID_ARGUMENT, "room", "no room %s at %s", room, a->location);
    time_t now = sched_now();
    char date[11];
    pm_local_date(now, date);
    flow_day fd = {0};
    int rc = flow_load(r, txn, a->location, date, now, &fd);
    if (rc)
        return rc;
    for (size_t i = 0; i < fd.n; i++) {
        const Pm__Appointment *o = fd.appts[i];
        if (o->id != a->id && strcmp(o->room, room) == 0 &&
            (o->status == PM__APPOINTMENT_STATUS__ROOMED ||
             o->status == PM__APPOINTMENT_STATUS__WITH_PROVIDER)) {
            r->conflicts = pm_arena_alloc(&r->arena, sizeof *r->conflicts);
            if (r->conflicts) {
                r->conflicts[0] = o->id;
                r->nconflicts = 1;
            }
            return req_fail(r, PM_E_ROOM_BUSY, "room", "%s is in use (ticket %s)", rm->name,
                            o->ticket);
        }
    }
    return PM_OK;
}

static int respond_appt(struct req *r, MDB_txn *txn, Pm__Appointment *a)
{
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_APPOINTMENT_OK);
    Pm__AppointmentOk *ok = pm_msg_new(&r->arena, &pm__appointment_ok__descriptor);
    if (!e || !ok)
        return PM_E_NOMEM;
    if (!*a->patient_name)
        a->patient_name = (char *)sched_patient_name(txn, a->patient_mrn, &r->arena);
    ok->appointment = a;
    e->appointment_ok = ok;
    return PM_OK;
}

/* A walk-in for anyone is seen by someone: the one named, or the one the estimate gave
 * them to; from then on that provider's day counts the visit. */
static int pick_provider(struct req *r, MDB_txn *txn, Pm__Appointment *a, const char *named,
                         time_t now)
{
    if (*named) {
        Pm__Provider *pv;
        Pm__VisitType *vt;
        if (setup_provider(txn, named, &r->arena, &pv) != PM_OK)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "provider", "no provider %s", named);
        if (setup_visit_type(txn, a->visit_type, &r->arena, &vt) == PM_OK &&
            !vt_offered_by(vt, named))
            return req_fail(r, PM_E_INVALID_ARGUMENT, "provider", "%s does not offer %s", named,
                            a->visit_type);
        a->provider = (char *)named;
        a->provider_picked = 1;
        return PM_OK;
    }
    char date[11];
    pm_local_date(now, date);
    flow_day fd = {.pick_for = a->id};
    int rc = flow_load(r, txn, a->location, date, now, &fd);
    if (rc)
        return rc;
    if (!fd.picked) /* a location where nobody offering it works today: never seen by nobody */
        return req_fail(r, PM_E_INVALID_ARGUMENT, "provider",
                        "nobody who offers %s works at %s today: say who sees them", a->visit_type,
                        a->location);
    a->provider = (char *)fd.picked;
    a->provider_picked = 1;
    return PM_OK;
}

int flow_step(struct req *r, wctx *ctx)
{
    const Pm__FlowStep *s = r->env->flow_step;
    Pm__Appointment *a;
    int rc = appt_load(ctx->txn, s->appointment_id, &r->arena, &a);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, rc, "appointment_id", "no appointment %llu",
                        (unsigned long long)s->appointment_id);
    if (rc)
        return rc;
    r->audit_record = a->patient_mrn;
    if (s->version && s->version != a->version)
        return req_fail(r, PM_E_CONFLICT, "version",
                        "appointment %llu was changed by %s since you read it; reload",
                        (unsigned long long)a->id, a->updated_by);
    time_t now = sched_now();
    char today[11], day[11];
    pm_local_date(now, today);
    pm_local_date(a->start, day);
    Pm__Appointment before = *a;
    const char *action, *what;
    int st = a->status, reindex = 0;
    switch (s->action) {
    case PM__FLOW_ACTION__ARRIVE:
        if (st != PM__APPOINTMENT_STATUS__BOOKED)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "action",
                            "cannot check in: the patient is %s", status_word(st));
        if (strcmp(day, today) != 0)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "action",
                            "cannot check in: the appointment is on %s", day);
        if ((rc = issue_ticket(r, ctx, a->location, now, (const char **)&a->ticket)))
            return rc;
        a->status = PM__APPOINTMENT_STATUS__ARRIVED;
        a->arrived_at = (uint64_t)now;
        a->late = now > a->start + (time_t)flow_cfg.grace_s;
        action = "arrive";
        what =
            pm_arena_printf(&r->arena, "arrived%s, ticket %s", a->late ? " late" : "", a->ticket);
        reindex = 1;
        break;
    case PM__FLOW_ACTION__TO_ROOM:
        if (st != PM__APPOINTMENT_STATUS__ARRIVED && st != PM__APPOINTMENT_STATUS__ROOMED)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "action", "cannot room: the patient is %s",
                            status_word(st));
        if ((rc = room_free(r, ctx->txn, a, s->room)))
            return rc;
        if (st == PM__APPOINTMENT_STATUS__ARRIVED)
            a->booked_room = a->room;
        a->status = PM__APPOINTMENT_STATUS__ROOMED;
        a->roomed_at = (uint64_t)now;
        a->room = (char *)s->room;
        action = "to_room";
        what = pm_arena_printf(&r->arena, "to room %s", s->room);
        reindex = 1;
        break;
    case PM__FLOW_ACTION__SEE:
        if (st != PM__APPOINTMENT_STATUS__ARRIVED && st != PM__APPOINTMENT_STATUS__ROOMED)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "action",
                            "cannot hand to the provider: the patient is %s", status_word(st));
        what = "with the provider";
        if (*s->provider && *a->provider && strcmp(s->provider, a->provider) != 0)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "provider",
                            "the visit is with %s; move it to change the provider", a->provider);
        if (!*a->provider) {
            if ((rc = pick_provider(r, ctx->txn, a, s->provider, now)))
                return rc;
            if (*a->provider)
                what = pm_arena_printf(&r->arena, "with the provider (%s)", a->provider);
        }
        a->status = PM__APPOINTMENT_STATUS__WITH_PROVIDER;
        a->seen_at = (uint64_t)now;
        action = "see";
        reindex = 1;
        break;
    case PM__FLOW_ACTION__CHECK_OUT:
        if (st != PM__APPOINTMENT_STATUS__ARRIVED && st != PM__APPOINTMENT_STATUS__ROOMED &&
            st != PM__APPOINTMENT_STATUS__WITH_PROVIDER)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "action",
                            "cannot check out: the patient is %s", status_word(st));
        a->status = PM__APPOINTMENT_STATUS__CHECKED_OUT;
        a->checked_out_at = (uint64_t)now;
        action = "check_out";
        what = "checked out";
        reindex = 1;
        break;
    case PM__FLOW_ACTION__UNDO:
        action = "undo";
        reindex = 1;
        if (st == PM__APPOINTMENT_STATUS__CHECKED_OUT) {
            a->status = a->seen_at     ? PM__APPOINTMENT_STATUS__WITH_PROVIDER
                        : a->roomed_at ? PM__APPOINTMENT_STATUS__ROOMED
                                       : PM__APPOINTMENT_STATUS__ARRIVED;
            /* back in the room it left, unless someone has been put in it since */
            if (a->roomed_at && (rc = room_free(r, ctx->txn, a, a->room)))
                return rc;
            a->checked_out_at = 0;
            what = "undo: check-out";
        } else if (st == PM__APPOINTMENT_STATUS__WITH_PROVIDER) {
            a->status =
                a->roomed_at ? PM__APPOINTMENT_STATUS__ROOMED : PM__APPOINTMENT_STATUS__ARRIVED;
            a->seen_at = 0;
            if (a->provider_picked) {
                /* a walk-in for anyone again */
                a->provider = "";
                a->provider_picked = 0;
            }
            what = "undo: with the provider";
        } else if (st == PM__APPOINTMENT_STATUS__ROOMED) {
            a->status = PM__APPOINTMENT_STATUS__ARRIVED;
            a->roomed_at = 0;
            a->room = a->booked_room;
            a->booked_room = "";
            what = "undo: to room";
        } else if (st == PM__APPOINTMENT_STATUS__ARRIVED && a->walk_in) {
            a->status = PM__APPOINTMENT_STATUS__CANCELLED;
            a->cancel_reason = "walk-in check-in undone";
            what = "undo: walk-in check-in";
        } else if (st == PM__APPOINTMENT_STATUS__ARRIVED) {
            a->status = PM__APPOINTMENT_STATUS__BOOKED;
            a->arrived_at = 0;
            a->late = 0;
            what = pm_arena_printf(&r->arena, "undo: check-in (ticket %s not reused)", a->ticket);
            a->ticket = "";
        } else {
            return req_fail(r, PM_E_INVALID_ARGUMENT, "action",
                            "nothing to undo: the patient is %s", status_word(st));
        }
        break;
    default:
        return req_fail(r, PM_E_INVALID_ARGUMENT, "action",
                        "arrive, to_room, see, check_out or undo");
    }
    a->version++;
    a->updated_at = (uint64_t)now;
    a->updated_by = (char *)(r->username ? r->username : "");
    r->audit_detail =
        pm_arena_printf(&r->arena, "appointment %llu: %s", (unsigned long long)a->id, what);
    if ((rc = sched_append_history(r, a, what)) || (rc = sched_store_appt(ctx->txn, a)))
        return rc;
    if (reindex && (rc = sched_reindex_from(ctx->txn, &before, a)))
        return rc;
    if ((rc = flow_events(r, ctx, action, a, before.provider)))
        return rc;
    return respond_appt(r, ctx->txn, a);
}

int flow_walk_in(struct req *r, wctx *ctx)
{
    const Pm__WalkIn *w = r->env->walk_in;
    uint64_t pid;
    Pm__Patient *p;
    r->audit_record = w->patient_mrn;
    if (mrn_parse(w->patient_mrn, &pid) != 0 || patient_load(ctx->txn, pid, &r->arena, &p) != PM_OK)
        return req_fail(r, PM_E_NOT_FOUND, "patient_mrn", "no patient %s", w->patient_mrn);
    r->audit_record = p->mrn;
    Pm__VisitType *vt;
    if (setup_visit_type(ctx->txn, w->visit_type, &r->arena, &vt) != PM_OK)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "visit_type", "no visit type %s", w->visit_type);
    if (*w->provider) {
        Pm__Provider *pv;
        if (setup_provider(ctx->txn, w->provider, &r->arena, &pv) != PM_OK)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "provider", "no provider %s", w->provider);
        if (!vt_offered_by(vt, w->provider))
            return req_fail(r, PM_E_INVALID_ARGUMENT, "visit_type", "%s does not offer %s",
                            w->provider, vt->id);
    }
    size_t nl = strlen(w->notes);
    if (nl > 2000 || !pm_utf8_valid(w->notes, nl, 1))
        return req_fail(r, PM_E_INVALID_ARGUMENT, "notes", "at most 2000 characters of text");
    time_t now = sched_now();
    const char *ticket;
    int rc = issue_ticket(r, ctx, w->location, now, &ticket);
    if (rc)
        return rc;
    uint64_t id;
    if ((rc = store_next_id(ctx->txn, ctx->st, "seq.appointment", 1, &id)))
        return rc;
    Pm__Appointment *a = pm_msg_new(&r->arena, &pm__appointment__descriptor);
    if (!a)
        return PM_E_NOMEM;
    a->id = id;
    a->patient_mrn = p->mrn;
    a->provider = (char *)w->provider;
    a->visit_type = vt->id;
    a->location = (char *)w->location;
    a->start = now;
    a->end = now + (time_t)vt->duration_min * 60;
    a->status = PM__APPOINTMENT_STATUS__ARRIVED;
    a->notes = (char *)w->notes;
    a->ticket = (char *)ticket;
    a->arrived_at = (uint64_t)now;
    a->walk_in = 1;
    a->version = 1;
    a->created_at = a->updated_at = (uint64_t)now;
    a->created_by = a->updated_by = (char *)(r->username ? r->username : "");
    r->audit_detail = pm_arena_printf(&r->arena, "walk-in, appointment %llu, ticket %s",
                                      (unsigned long long)id, ticket);
    if ((rc = sched_append_history(r, a,
                                   pm_arena_printf(&r->arena, "walked in, ticket %s", ticket))) ||
        (rc = sched_insert_appt(ctx->txn, a)) || (rc = flow_events(r, ctx, "walk_in", a, NULL)))
        return rc;
    return respond_appt(r, ctx->txn, a);
}

/* The day's unarrived appointments of a location, made no-shows when confirmed. */
static int close_day(struct req *r, wctx *ctx, MDB_txn *txn, const char *location, const char *date,
                     int confirm, Pm__AppointmentList *out)
{
    time_t t0, t1;
    if (pm_local_instant(date, 0, &t0) != 0 || pm_local_instant(date, 24 * 60, &t1) != 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "date", "a date (YYYY-MM-DD)");
    appt_span *sp;
    size_t n;
    int rc = appt_spans(txn, SCHED_BY_LOCATION, location, t0, t1, &sp, &n);
    if (rc)
        return rc;
    out->appointments = pm_arena_alloc(&r->arena, sizeof *out->appointments * (n ? n : 1));
    if (!out->appointments) {
        free(sp);
        return PM_E_NOMEM;
    }
    /* closing today takes only who is overdue: a later visit may still come */
    time_t due = sched_now() - (time_t)flow_cfg.grace_s;
    for (size_t i = 0; i < n && rc == PM_OK; i++) {
        Pm__Appointment *a;
        if (sp[i].start < t0 || sp[i].start > due ||
            sp[i].status != PM__APPOINTMENT_STATUS__BOOKED ||
            appt_load(txn, sp[i].id, &r->arena, &a) != PM_OK)
            continue;
        if (confirm) {
            Pm__Appointment before = *a;
            a->status = PM__APPOINTMENT_STATUS__NO_SHOW;
            a->version++;
            a->updated_at = (uint64_t)sched_now();
            a->updated_by = (char *)(r->username ? r->username : "");
            if ((rc = sched_append_history(r, a, "no-show (end of day)")) ||
                (rc = sched_store_appt(txn, a)) || (rc = sched_reindex_from(txn, &before, a)) ||
                (rc = appt_event(r, ctx, "no_show", a, NULL)))
                break;
        }
        if (!*a->patient_name) /* appt_event filled it when it made the no-show */
            a->patient_name = (char *)sched_patient_name(txn, a->patient_mrn, &r->arena);
        out->appointments[out->n_appointments++] = a;
    }
    free(sp);
    return rc;
}

static int close_day_answer(struct req *r, Pm__AppointmentList **out)
{
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_APPOINTMENT_LIST);
    Pm__AppointmentList *al = pm_msg_new(&r->arena, &pm__appointment_list__descriptor);
    if (!e || !al)
        return PM_E_NOMEM;
    e->appointment_list = al;
    *out = al;
    return PM_OK;
}

static void default_yesterday(const char *given, char out[11])
{
    if (*given) {
        snprintf(out, 11, "%s", given);
    } else {
        char today[11];
        pm_local_date(sched_now(), today);
        pm_date_add(today, -1, out);
    }
}

int flow_close_day(struct req *r, wctx *ctx)
{
    const Pm__CloseDay *c = r->env->close_day;
    Pm__Location *loc;
    r->audit_record = c->location;
    if (setup_location(ctx->txn, c->location, &r->arena, &loc) != PM_OK)
        return req_fail(r, PM_E_NOT_FOUND, "location", "no location %s", c->location);
    int y, m, d;
    if (*c->date && pm_parse_date(c->date, &y, &m, &d) != 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "date", "a date (YYYY-MM-DD)");
    char date[11], today[11];
    default_yesterday(c->date, date);
    pm_local_date(sched_now(), today);
    if (c->confirm && strcmp(date, today) > 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "date", "%s has not happened yet", date);
    Pm__AppointmentList *al;
    int rc = close_day_answer(r, &al);
    if (rc || (rc = close_day(r, ctx, ctx->txn, c->location, date, c->confirm, al)))
        return rc;
    r->audit_detail = pm_arena_printf(&r->arena, "%s: %zu unarrived%s", date, al->n_appointments,
                                      c->confirm ? ", made no-shows" : "");
    return PM_OK;
}

int flow_get(struct req *r, MDB_txn *txn)
{
    const Pm__GetFlow *q = r->env->get_flow;
    Pm__Location *loc;
    r->audit_record = pm_arena_printf(&r->arena, "location %s", q->location);
    if (setup_location(txn, q->location, &r->arena, &loc) != PM_OK)
        return req_fail(r, PM_E_NOT_FOUND, "location", "no location %s", q->location);
    time_t now = sched_now();
    char date[11];
    int y, m, d;
    if (*q->date && pm_parse_date(q->date, &y, &m, &d) != 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "date", "a date (YYYY-MM-DD)");
    if (*q->date)
        snprintf(date, sizeof date, "%s", q->date);
    else
        pm_local_date(now, date);
    flow_day fd = {0};
    int rc = flow_load(r, txn, q->location, date, now, &fd);
    if (rc)
        return rc;
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_FLOW);
    Pm__Flow *f = pm_msg_new(&r->arena, &pm__flow__descriptor);
    if (!e || !f)
        return PM_E_NOMEM;
    for (size_t i = 0; i < fd.n; i++)
        fd.appts[i]->patient_name =
            (char *)sched_patient_name(txn, fd.appts[i]->patient_mrn, &r->arena);
    f->location = loc->id;
    f->date = pm_arena_strdup(&r->arena, date);
    f->appointments = fd.appts;
    f->n_appointments = fd.n;
    f->providers = fd.paces;
    f->n_providers = fd.npaces;
    f->as_of = (uint64_t)now;
    f->grace_min = (uint32_t)(flow_cfg.grace_s / 60);
    e->flow = f;
    r->audit_detail = pm_arena_printf(&r->arena, "%s, %zu appointments", date, fd.n);
    return PM_OK;
}

int flow_get_board(struct req *r, MDB_txn *txn)
{
    const Pm__GetBoard *q = r->env->get_board;
    if (r->role == PM__ROLE__DISPLAY && strcmp(q->location, r->location ? r->location : "") != 0)
        return req_fail(r, PM_E_PERMISSION_DENIED, "location",
                        "this display shows the board of %s only", r->location);
    Pm__Location *loc;
    if (setup_location(txn, q->location, &r->arena, &loc) != PM_OK)
        return req_fail(r, PM_E_NOT_FOUND, "location", "no location %s", q->location);
    time_t now = sched_now();
    char date[11];
    pm_local_date(now, date);
    flow_day fd = {0};
    Pm__BoardState *b;
    int rc = flow_load(r, txn, q->location, date, now, &fd);
    if (rc || (rc = board_of(r, txn, q->location, &fd, now, &b)))
        return rc;
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_BOARD_STATE);
    if (!e)
        return PM_E_NOMEM;
    e->board_state = b;
    return PM_OK;
}

/* ---- the end of the day, when configured ---- */

/* Days closed by themselves are caught up at most this far back (a server off for a week
 * closes the week when it comes back; one off for a season does not rewrite it). */
#define EOD_CATCH_UP_DAYS 31
#define EOD_META          "flow.closed_through"

typedef struct close_all {
    char from[11], to[11]; /* the days closed, in order */
} close_all;

static int close_all_run(struct req *r, wctx *ctx)
{
    close_all *ca = r->ext;
    void **locs;
    size_t n;
    int rc = setup_list(ctx->txn, 'L', &r->arena, &locs, &n);
    char d[11];
    memcpy(d, ca->from, 11);
    while (rc == PM_OK && *d && strcmp(d, ca->to) <= 0) { /* flow_tick bounds the span */
        for (size_t i = 0; rc == PM_OK && i < n; i++) {
            Pm__AppointmentList al = PM__APPOINTMENT_LIST__INIT;
            rc = close_day(r, ctx, ctx->txn, ((Pm__Location *)locs[i])->id, d, 1, &al);
        }
        pm_date_add(d, 1, d);
    }
    /* remembered with the no-shows, so that a restart goes on from here */
    return rc ? rc : store_meta_put_str(ctx->txn, ctx->st, EOD_META, ca->to);
}

/* The automatic end of day: the date last closed for good ("" until read from the
 * store), whether a close is in the writer now, and when a failed one may be tried
 * again. */
static struct {
    char closed[11];
    int loaded;
    int pending;
    uint64_t retry_ms;
} eod;

static void close_all_done(struct req *r)
{
    close_all *ca = r->ext;
    eod.pending = 0;
    if (r->job.committed && r->job.status == PM_OK)
        memcpy(eod.closed, ca->to, 11);
    else /* not saved (a full disk, say): the days stay open, and are tried again in a minute */
        eod.retry_ms = pm_mono_ms() + 60 * 1000;
    free(ca);
    r->ext = NULL;
    req_finish(r);
}

void flow_tick(void)
{
    if (!flow_cfg.auto_no_show || eod.pending || pm_mono_ms() < eod.retry_ms)
        return;
    if (!eod.loaded) { /* where the last run of the server got to */
        MDB_txn *txn;
        if (store_read_begin(srv.st, &txn) != PM_OK)
            return;
        if (store_meta_get_str(txn, srv.st, EOD_META, eod.closed, sizeof eod.closed) != PM_OK)
            eod.closed[0] = 0;
        store_read_end(srv.st);
        eod.loaded = 1;
    }
    char today[11], yesterday[11], from[11], oldest[11];
    pm_local_date(sched_now(), today);
    pm_date_add(today, -1, yesterday);
    if (strcmp(eod.closed, today) >= 0) /* closed "through" a day not yet over: a clock */
        eod.closed[0] = 0;              /* that was wrong; start again from yesterday */
    if (strcmp(eod.closed, yesterday) >= 0)
        return;
    /* the days after the last one closed, a month back at most; yesterday the first time */
    pm_date_add(today, -EOD_CATCH_UP_DAYS, oldest);
    if (*eod.closed)
        pm_date_add(eod.closed, 1, from);
    else
        memcpy(from, yesterday, 11);
    if (strcmp(from, oldest) < 0)
        memcpy(from, oldest, 11);
    req *r = req_system("flow.end_of_day");
    close_all *ca = malloc(sizeof *ca);
    if (!r || !ca) {
        free(ca);
        if (r)
            req_finish(r);
        return;
    }
    memcpy(ca->from, from, 11);
    memcpy(ca->to, yesterday, 11);
    eod.pending = 1;
    r->ext = ca;
    r->done_hook = close_all_done;
    req_submit_write(r, close_all_run);
}
