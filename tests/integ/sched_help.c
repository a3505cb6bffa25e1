#include "sched_help.h"

#include "pm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- time ---- */

void sh_tz(void)
{
    pm_tz_set("Europe/Paris");
}

static void parse_date(const char *date, struct tm *tm)
{
    memset(tm, 0, sizeof *tm);
    int y = 0, m = 0, d = 0;
    sscanf(date, "%d-%d-%d", &y, &m, &d);
    tm->tm_year = y - 1900;
    tm->tm_mon = m - 1;
    tm->tm_mday = d;
}

time_t sh_local(const char *date, int hh, int mm)
{
    struct tm tm;
    parse_date(date, &tm);
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

time_t sh_utc(const char *date, int hh, int mm)
{
    struct tm tm;
    parse_date(date, &tm);
    tm.tm_hour = hh;
    tm.tm_min = mm;
    return timegm(&tm);
}

const char *sh_fmt(time_t t, char *buf, size_t n)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M %Z", &tm);
    return buf;
}

int sh_local_min(time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_hour * 60 + tm.tm_min;
}

long sh_utc_offset(time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_gmtoff;
}

/* ---- the clock ---- */

void sh_clock_init(sh_clock *k, ts_server *s, time_t now)
{
    /* s->dir is /tmp/pm-test-XXXXXX/p: the clock lives beside p and goes with it */
    snprintf(k->path, sizeof k->path, "%.280s/../clock", s->dir);
    snprintf(k->env, sizeof k->env, "TZ=UTC PRACTICED_TEST_CLOCK=%s", k->path);
    s->env = k->env;
    sh_clock_set(k, now);
}

void sh_clock_set(sh_clock *k, time_t now)
{
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.new", k->path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        abort();
    }
    fprintf(f, "%lld\n", (long long)now);
    fclose(f);
    if (rename(tmp, k->path) != 0) {
        perror(k->path);
        abort();
    }
}

/* ---- set-up ---- */

static int call(pc_client *c, pm_arena *a, Pm__Envelope *e, Pm__Envelope **resp)
{
    Pm__Envelope *r = NULL;
    int rc = pc_call(c, e, a, &r);
    if (resp)
        *resp = r;
    return rc;
}

int sh_location(pc_client *c, pm_arena *a, const char *id, const char *name)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_PUT_LOCATION);
    e->put_location = pm_msg_new(a, &pm__put_location__descriptor);
    Pm__Location *l = pm_msg_new(a, &pm__location__descriptor);
    l->id = (char *)id;
    l->name = (char *)name;
    e->put_location->location = l;
    return call(c, a, e, NULL);
}

int sh_room(pc_client *c, pm_arena *a, const char *id, const char *location)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_PUT_ROOM);
    e->put_room = pm_msg_new(a, &pm__put_room__descriptor);
    Pm__Room *r = pm_msg_new(a, &pm__room__descriptor);
    r->id = (char *)id;
    r->name = pm_arena_printf(a, "Room %s", id);
    r->location = (char *)location;
    e->put_room->room = r;
    return call(c, a, e, NULL);
}

int sh_provider(pc_client *c, pm_arena *a, const char *id, const char *name,
                const char *default_location)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_PUT_PROVIDER);
    e->put_provider = pm_msg_new(a, &pm__put_provider__descriptor);
    Pm__Provider *p = pm_msg_new(a, &pm__provider__descriptor);
    p->id = (char *)id;
    p->name = (char *)name;
    p->credentials = "MD";
    p->default_location = (char *)(default_location ? default_location : "");
    e->put_provider->provider = p;
    return call(c, a, e, NULL);
}

int sh_visit_type(pc_client *c, pm_arena *a, const char *id, unsigned minutes, int needs_room,
                  const char *const *providers)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_PUT_VISIT_TYPE);
    e->put_visit_type = pm_msg_new(a, &pm__put_visit_type__descriptor);
    Pm__VisitType *v = pm_msg_new(a, &pm__visit_type__descriptor);
    v->id = (char *)id;
    v->name = pm_arena_printf(a, "Visit %s", id);
    v->duration_min = minutes;
    v->needs_room = needs_room;
    size_t n = 0;
    while (providers && providers[n])
        n++;
    v->providers = (char **)providers;
    v->n_providers = n;
    e->put_visit_type->visit_type = v;
    return call(c, a, e, NULL);
}

int sh_template(pc_client *c, pm_arena *a, const char *provider, const char *from, const char *to,
                const sh_block *blocks, size_t n, char *id_out, size_t id_len)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_PUT_TEMPLATE), *resp = NULL;
    e->put_template = pm_msg_new(a, &pm__put_template__descriptor);
    Pm__Template *t = pm_msg_new(a, &pm__template__descriptor);
    t->provider = (char *)provider;
    t->valid_from = (char *)from;
    t->valid_to = (char *)(to ? to : "");
    t->blocks = pm_arena_alloc(a, sizeof *t->blocks * n * 7 + 1);
    for (size_t i = 0; i < n; i++) {
        for (unsigned wd = 1; wd <= 7; wd++) {
            if (blocks[i].weekdays && !(blocks[i].weekdays & (1u << wd)))
                continue;
            Pm__TemplateBlock *b = pm_msg_new(a, &pm__template_block__descriptor);
            b->weekday = wd;
            b->start_min = blocks[i].start_min;
            b->end_min = blocks[i].end_min;
            b->location = (char *)(blocks[i].location ? blocks[i].location : "");
            b->capacity = blocks[i].capacity;
            if (blocks[i].visit_type) {
                b->visit_types = pm_arena_alloc(a, sizeof(char *));
                b->visit_types[0] = (char *)blocks[i].visit_type;
                b->n_visit_types = 1;
            }
            t->blocks[t->n_blocks++] = b;
        }
    }
    e->put_template->template_ = t;
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && id_out)
        snprintf(id_out, id_len, "%s", resp->setup->templates[0]->id);
    return rc;
}

int sh_holiday(pc_client *c, pm_arena *a, const char *date, const char *name, const char *location)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_PUT_HOLIDAY);
    e->put_holiday = pm_msg_new(a, &pm__put_holiday__descriptor);
    Pm__Holiday *h = pm_msg_new(a, &pm__holiday__descriptor);
    h->date = (char *)date;
    h->name = (char *)name;
    h->location = (char *)(location ? location : "");
    e->put_holiday->holiday = h;
    return call(c, a, e, NULL);
}

int sh_exception(pc_client *c, pm_arena *a, const char *provider, time_t start, time_t end,
                 Pm__ExceptionKind kind, const char *reason, uint64_t *id)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_ADD_EXCEPTION), *resp = NULL;
    e->add_exception = pm_msg_new(a, &pm__add_exception__descriptor);
    Pm__Exception *x = pm_msg_new(a, &pm__exception__descriptor);
    x->provider = (char *)provider;
    x->start = start;
    x->end = end;
    x->kind = kind;
    x->reason = (char *)(reason ? reason : "");
    e->add_exception->exception = x;
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && id)
        *id = resp->setup->exceptions[0]->id;
    return rc;
}

int sh_delete_exception(pc_client *c, pm_arena *a, uint64_t id)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_DELETE_EXCEPTION);
    e->delete_exception = pm_msg_new(a, &pm__delete_exception__descriptor);
    e->delete_exception->id = id;
    return call(c, a, e, NULL);
}

int sh_get_setup(pc_client *c, pm_arena *a, const char *provider, Pm__Setup **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_GET_SETUP), *resp = NULL;
    e->get_setup = pm_msg_new(a, &pm__get_setup__descriptor);
    e->get_setup->provider = (char *)(provider ? provider : "");
    e->get_setup->from_date = "2026-01-01";
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && out)
        *out = resp->setup;
    return rc;
}

int sh_patient(pc_client *c, pm_arena *a, const char *first, const char *last, char *mrn)
{
    Pm__Patient *p;
    int rc = ts_create_patient(c, a, first, last, "1970-01-01", NULL, &p);
    if (rc == PM_OK)
        snprintf(mrn, 24, "%s", p->mrn);
    return rc;
}

/* ---- appointments ---- */

Pm__Book *sh_book_req(pm_arena *a, const char *mrn, const char *provider, const char *visit_type,
                      time_t start)
{
    Pm__Book *b = pm_msg_new(a, &pm__book__descriptor);
    b->patient_mrn = (char *)mrn;
    b->provider = (char *)provider;
    b->visit_type = (char *)visit_type;
    b->start = start;
    return b;
}

static int book(pc_client *c, pm_arena *a, Pm__Book *b, Pm__Envelope **resp)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_BOOK);
    e->book = b;
    return call(c, a, e, resp);
}

int sh_book(pc_client *c, pm_arena *a, Pm__Book *b, Pm__Appointment **out)
{
    Pm__Envelope *resp = NULL;
    int rc = book(c, a, b, &resp);
    if (rc == PM_OK && resp->body_case != PM__ENVELOPE__BODY_APPOINTMENT_OK)
        rc = PM_E_PROTOCOL;
    if (rc == PM_OK && out)
        *out = resp->appointment_ok->appointment;
    return rc;
}

int sh_book_series(pc_client *c, pm_arena *a, Pm__Book *b, Pm__SeriesResult **out)
{
    Pm__Envelope *resp = NULL;
    int rc = book(c, a, b, &resp);
    if (rc == PM_OK && resp->body_case != PM__ENVELOPE__BODY_SERIES_RESULT)
        rc = PM_E_PROTOCOL;
    if (rc == PM_OK && out)
        *out = resp->series_result;
    return rc;
}

int sh_get(pc_client *c, pm_arena *a, uint64_t id, Pm__Appointment **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_GET_APPOINTMENT), *resp = NULL;
    e->get_appointment = pm_msg_new(a, &pm__get_appointment__descriptor);
    e->get_appointment->id = id;
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && out)
        *out = resp->appointment_ok->appointment;
    return rc;
}

Pm__Move *sh_move_req(pm_arena *a, uint64_t id, uint32_t version)
{
    Pm__Move *m = pm_msg_new(a, &pm__move__descriptor);
    m->id = id;
    m->version = version;
    return m;
}

int sh_move(pc_client *c, pm_arena *a, Pm__Move *m, Pm__Envelope **resp)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_MOVE);
    e->move = m;
    return call(c, a, e, resp);
}

int sh_cancel(pc_client *c, pm_arena *a, uint64_t id, uint32_t version, const char *reason,
              Pm__Scope scope, Pm__Envelope **resp)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_CANCEL);
    e->cancel = pm_msg_new(a, &pm__cancel__descriptor);
    e->cancel->id = id;
    e->cancel->version = version;
    e->cancel->reason = (char *)reason;
    e->cancel->scope = scope;
    return call(c, a, e, resp);
}

int sh_no_show(pc_client *c, pm_arena *a, uint64_t id, uint32_t version, Pm__Appointment **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_MARK_NO_SHOW), *resp = NULL;
    e->mark_no_show = pm_msg_new(a, &pm__mark_no_show__descriptor);
    e->mark_no_show->id = id;
    e->mark_no_show->version = version;
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && out)
        *out = resp->appointment_ok->appointment;
    return rc;
}

int sh_notes(pc_client *c, pm_arena *a, uint64_t id, uint32_t version, const char *notes,
             Pm__Appointment **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_SET_NOTES), *resp = NULL;
    e->set_notes = pm_msg_new(a, &pm__set_notes__descriptor);
    e->set_notes->id = id;
    e->set_notes->version = version;
    e->set_notes->notes = (char *)notes;
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && out)
        *out = resp->appointment_ok->appointment;
    return rc;
}

/* ---- reading ---- */

Pm__FindSlots *sh_slots_req(pm_arena *a, const char *visit_type, const char *provider,
                            const char *from, const char *to)
{
    Pm__FindSlots *q = pm_msg_new(a, &pm__find_slots__descriptor);
    q->visit_type = (char *)visit_type;
    if (provider) {
        q->providers = pm_arena_alloc(a, sizeof(char *));
        q->providers[0] = (char *)provider;
        q->n_providers = 1;
    }
    q->from_date = (char *)(from ? from : "");
    q->to_date = (char *)(to ? to : "");
    q->count = 100;
    return q;
}

int sh_find(pc_client *c, pm_arena *a, Pm__FindSlots *q, Pm__SlotList **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_FIND_SLOTS), *resp = NULL;
    e->find_slots = q;
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && out)
        *out = resp->slot_list;
    return rc;
}

int sh_has_slot(const Pm__SlotList *l, const char *provider, time_t t)
{
    for (size_t i = 0; i < l->n_slots; i++)
        if (l->slots[i]->start == t && (!provider || strcmp(l->slots[i]->provider, provider) == 0))
            return 1;
    return 0;
}

int sh_schedule(pc_client *c, pm_arena *a, const char *provider, const char *location,
                const char *room, const char *date, unsigned days, Pm__Schedule **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_GET_SCHEDULE), *resp = NULL;
    Pm__GetSchedule *q = pm_msg_new(a, &pm__get_schedule__descriptor);
    q->provider = (char *)(provider ? provider : "");
    q->location = (char *)(location ? location : "");
    q->room = (char *)(room ? room : "");
    q->date = (char *)date;
    q->days = days;
    e->get_schedule = q;
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && out)
        *out = resp->schedule;
    return rc;
}

int sh_patient_appts(pc_client *c, pm_arena *a, const char *mrn, int past,
                     Pm__AppointmentList **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_PATIENT_APPOINTMENTS), *resp = NULL;
    e->patient_appointments = pm_msg_new(a, &pm__patient_appointments__descriptor);
    e->patient_appointments->mrn = (char *)mrn;
    e->patient_appointments->past = past;
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && out)
        *out = resp->appointment_list;
    return rc;
}

/* ---- waitlist ---- */

Pm__WaitlistEntry *sh_entry(pm_arena *a, const char *mrn, const char *visit_type)
{
    Pm__WaitlistEntry *e = pm_msg_new(a, &pm__waitlist_entry__descriptor);
    e->patient_mrn = (char *)mrn;
    e->visit_type = (char *)visit_type;
    return e;
}

int sh_wait_add(pc_client *c, pm_arena *a, Pm__WaitlistEntry *en, Pm__WaitlistEntry **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_ADD_TO_WAITLIST), *resp = NULL;
    e->add_to_waitlist = pm_msg_new(a, &pm__add_to_waitlist__descriptor);
    e->add_to_waitlist->entry = en;
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && out)
        *out = resp->waitlist_ok->entry;
    return rc;
}

int sh_wait_remove(pc_client *c, pm_arena *a, uint64_t id, Pm__WaitlistEntry **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_REMOVE_FROM_WAITLIST), *resp = NULL;
    e->remove_from_waitlist = pm_msg_new(a, &pm__remove_from_waitlist__descriptor);
    e->remove_from_waitlist->id = id;
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && out)
        *out = resp->waitlist_ok->entry;
    return rc;
}

int sh_wait_list(pc_client *c, pm_arena *a, int include_closed, Pm__Waitlist **out)
{
    return sh_wait_page(c, a, include_closed, 0, 0, out);
}

int sh_wait_page(pc_client *c, pm_arena *a, int include_closed, uint32_t closed_limit,
                 uint64_t closed_before_id, Pm__Waitlist **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_LIST_WAITLIST), *resp = NULL;
    e->list_waitlist = pm_msg_new(a, &pm__list_waitlist__descriptor);
    e->list_waitlist->include_closed = include_closed;
    e->list_waitlist->closed_limit = closed_limit;
    e->list_waitlist->closed_before_id = closed_before_id;
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && out)
        *out = resp->waitlist;
    return rc;
}

int sh_answer(pc_client *c, pm_arena *a, uint64_t offer, int accept, Pm__Envelope **resp)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_ANSWER_OFFER);
    e->answer_offer = pm_msg_new(a, &pm__answer_offer__descriptor);
    e->answer_offer->offer_id = offer;
    e->answer_offer->accept = accept;
    return call(c, a, e, resp);
}

const Pm__WaitlistEntry *sh_wl_entry(const Pm__Waitlist *w, uint64_t id)
{
    for (size_t i = 0; i < w->n_entries; i++)
        if (w->entries[i]->id == id)
            return w->entries[i];
    return NULL;
}

const Pm__Offer *sh_wl_offer(const Pm__Waitlist *w, uint64_t id)
{
    for (size_t i = 0; i < w->n_offers; i++)
        if (w->offers[i]->id == id)
            return w->offers[i];
    return NULL;
}

/* ---- audit, stats ---- */

int sh_audit(pc_client *c, pm_arena *a, const char *mrn, Pm__AuditList **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_QUERY_AUDIT), *resp = NULL;
    e->query_audit = pm_msg_new(a, &pm__query_audit__descriptor);
    e->query_audit->mrn = (char *)mrn;
    e->query_audit->limit = 1000;
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && out)
        *out = resp->audit_list;
    return rc;
}

int sh_stats(pc_client *c, pm_arena *a, Pm__Stats **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_GET_STATS), *resp = NULL;
    e->get_stats = pm_msg_new(a, &pm__get_stats__descriptor);
    int rc = call(c, a, e, &resp);
    if (rc == PM_OK && out)
        *out = resp->stats;
    return rc;
}

int sh_conflicts_has(const Pm__Error *e, uint64_t id)
{
    if (!e)
        return 0;
    for (size_t i = 0; i < e->n_conflicts; i++)
        if (e->conflicts[i] == id)
            return 1;
    return 0;
}

/* ---- events ---- */

void sh_collect(void *ud, const Pm__Envelope *env)
{
    sh_events *s = ud;
    if (env->body_case != PM__ENVELOPE__BODY_EVENT || s->n >= (int)(sizeof s->ev / sizeof *s->ev))
        return;
    const Pm__Event *ev = env->event;
    sh_ev *x = &s->ev[s->n];
    memset(x, 0, sizeof *x);
    x->seq = ev->seq;
    x->kind = ev->body_case;
    if (ev->body_case == PM__EVENT__BODY_APPOINTMENT_CHANGED &&
        ev->appointment_changed->appointment) {
        const Pm__Appointment *ap = ev->appointment_changed->appointment;
        snprintf(x->action, sizeof x->action, "%s", ev->appointment_changed->action);
        x->appt = ap->id;
        x->status = ap->status;
        x->start = ap->start;
        snprintf(x->provider, sizeof x->provider, "%s", ap->provider);
        snprintf(x->mrn, sizeof x->mrn, "%s", ap->patient_mrn);
    } else if (ev->body_case == PM__EVENT__BODY_OFFER_CHANGED && ev->offer_changed->offer) {
        const Pm__Offer *o = ev->offer_changed->offer;
        snprintf(x->action, sizeof x->action, "offer");
        x->offer = o->id;
        x->entry = o->entry_id;
        x->status = o->status;
        x->start = o->start;
        x->offer_appt = o->appointment_id;
        x->expires_at = o->expires_at;
        snprintf(x->provider, sizeof x->provider, "%s", o->provider);
        snprintf(x->mrn, sizeof x->mrn, "%s", o->patient_mrn);
    } else if (ev->body_case == PM__EVENT__BODY_SETUP_CHANGED) {
        snprintf(x->action, sizeof x->action, "%s", ev->setup_changed->what);
    }
    s->n++;
}

int sh_wait_event(pc_client *c, sh_events *ev, int (*pred)(const sh_ev *, const void *),
                  const void *arg, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        for (int i = 0; i < ev->n; i++)
            if (pred(&ev->ev[i], arg))
                return i;
        if (waited >= timeout_ms)
            return -1;
        pc_poll(c, 50);
    }
}

int sh_count_appt(const sh_events *ev, uint64_t appt, const char *action)
{
    int n = 0;
    for (int i = 0; i < ev->n; i++)
        n += ev->ev[i].kind == PM__EVENT__BODY_APPOINTMENT_CHANGED && ev->ev[i].appt == appt &&
             (!*action || strcmp(ev->ev[i].action, action) == 0);
    return n;
}

int sh_find_offer(const sh_events *ev, int from, uint64_t entry, int status)
{
    for (int i = from < 0 ? 0 : from; i < ev->n; i++)
        if (ev->ev[i].kind == PM__EVENT__BODY_OFFER_CHANGED && ev->ev[i].entry == entry &&
            (!status || ev->ev[i].status == status))
            return i;
    return -1;
}
