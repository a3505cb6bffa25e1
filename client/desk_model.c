/* The desk's model of the day: plain copies of the appointments the server sent, updated
 * by id from answers and events, and the set-up's names. Nothing here draws or talks to
 * the server, so the rules (which version wins, what leaves the day, the panes' order)
 * stay in one place. */
#include "desk.h"

#include "pm_time.h"

#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void desk_copy(char *dst, size_t n, const char *src)
{
    size_t len = src ? strlen(src) : 0;
    if (!n)
        return;
    if (len >= n) {
        len = n - 1;
        while (len && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--; /* not inside a UTF-8 character */
    }
    memcpy(dst, src ? src : "", len);
    dst[len] = 0;
}
#define COPY(dst, src) desk_copy(dst, sizeof(dst), src)

void dm_init(desk_model *m)
{
    memset(m, 0, sizeof *m);
}

void dm_clear(desk_model *m)
{
    if (m->appts)
        mbedtls_platform_zeroize(m->appts, m->cap * sizeof *m->appts);
    m->n = 0;
    m->npaces = 0;
}

void dm_free(desk_model *m)
{
    dm_clear(m);
    free(m->appts);
    free(m->paces);
    dm_init(m);
}

static void appt_from(desk_appt *d, const Pm__Appointment *a)
{
    memset(d, 0, sizeof *d);
    d->id = a->id;
    d->version = a->version;
    COPY(d->mrn, a->patient_mrn);
    COPY(d->name, a->patient_name);
    COPY(d->provider, a->provider);
    COPY(d->visit_type, a->visit_type);
    COPY(d->location, a->location);
    COPY(d->room, a->room);
    COPY(d->ticket, a->ticket);
    d->start = a->start;
    d->end = a->end;
    d->status = a->status;
    d->arrived_at = a->arrived_at;
    d->roomed_at = a->roomed_at;
    d->seen_at = a->seen_at;
    d->checked_out_at = a->checked_out_at;
    d->estimated_start = a->estimated_start;
    d->late = a->late;
    d->walk_in = a->walk_in;
    d->overdue = a->overdue;
}

static int grow(desk_model *m)
{
    if (m->n < m->cap)
        return 0;
    size_t cap = m->cap ? m->cap * 2 : 64;
    desk_appt *v = calloc(cap, sizeof *v);
    if (!v)
        return -1;
    if (m->n)
        memcpy(v, m->appts, m->n * sizeof *v);
    dm_clear(m); /* wipes the old copy */
    free(m->appts);
    m->appts = v;
    m->cap = cap;
    return 0;
}

static void remove_at(desk_model *m, size_t i)
{
    memmove(&m->appts[i], &m->appts[i + 1], (m->n - i - 1) * sizeof *m->appts);
    m->n--;
    mbedtls_platform_zeroize(&m->appts[m->n], sizeof *m->appts);
}

int dm_load_flow(desk_model *m, const Pm__Flow *f)
{
    size_t keep = m->n;
    m->n = 0;
    if (m->appts)
        mbedtls_platform_zeroize(m->appts, keep * sizeof *m->appts);
    for (size_t i = 0; i < f->n_appointments; i++) {
        if (grow(m))
            return -1;
        appt_from(&m->appts[m->n++], f->appointments[i]);
    }
    dm_set_paces(m, f->providers, f->n_providers);
    return 0;
}

desk_appt *dm_find(const desk_model *m, uint64_t id)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->appts[i].id == id)
            return &m->appts[i];
    return NULL;
}

/* Whether the appointment belongs on the viewed day at the viewed location. */
static int on_the_day(const desk_model *m, const Pm__Appointment *a)
{
    char date[11];
    pm_local_date((time_t)a->start, date);
    return strcmp(date, m->date) == 0 && strcmp(a->location, m->location) == 0 &&
           a->status != PM__APPOINTMENT_STATUS__HELD;
}

int dm_apply(desk_model *m, const Pm__Appointment *a)
{
    desk_appt *have = dm_find(m, a->id);
    if (have && have->version > a->version)
        return 0; /* an older copy, e.g. an event that crossed our own answer */
    if (!on_the_day(m, a)) {
        if (!have)
            return 0;
        remove_at(m, (size_t)(have - m->appts));
        return 1;
    }
    if (!have) {
        if (grow(m))
            return 0;
        have = &m->appts[m->n++];
    }
    uint64_t est = have->estimated_start;
    int overdue = have->overdue;
    appt_from(have, a);
    /* answers fill these in; events about other fields leave them empty */
    if (!have->estimated_start && (have->status == PM__APPOINTMENT_STATUS__ARRIVED ||
                                   have->status == PM__APPOINTMENT_STATUS__ROOMED))
        have->estimated_start = est;
    if (have->status == PM__APPOINTMENT_STATUS__BOOKED && !have->overdue)
        have->overdue = overdue;
    return 1;
}

void dm_set_paces(desk_model *m, Pm__ProviderPace *const *p, size_t n)
{
    if (n > m->cappaces) {
        desk_pace *v = realloc(m->paces, n * sizeof *v);
        if (!v)
            return;
        m->paces = v;
        m->cappaces = n;
    }
    m->npaces = n;
    for (size_t i = 0; i < n; i++) {
        COPY(m->paces[i].provider, p[i]->provider);
        m->paces[i].running_late_min = p[i]->running_late_min;
        m->paces[i].waiting = p[i]->waiting;
    }
}

const desk_pace *dm_pace(const desk_model *m, const char *provider)
{
    for (size_t i = 0; i < m->npaces; i++)
        if (strcmp(m->paces[i].provider, provider) == 0)
            return &m->paces[i];
    return NULL;
}

int dm_apply_board(desk_model *m, const Pm__BoardState *b)
{
    int changed = 0;
    if (strcmp(b->location, m->location) != 0)
        return 0;
    for (size_t i = 0; i < b->n_waiting; i++) {
        for (size_t k = 0; k < m->n; k++) {
            desk_appt *a = &m->appts[k];
            if (a->status == PM__APPOINTMENT_STATUS__ARRIVED && *a->ticket &&
                strcmp(a->ticket, b->waiting[i]->ticket) == 0 &&
                a->estimated_start != b->waiting[i]->estimated_start) {
                a->estimated_start = b->waiting[i]->estimated_start;
                changed = 1;
            }
        }
    }
    return changed;
}

/* ---- the panes' order ---- */

static int by_provider_then_time(const void *x, const void *y)
{
    const desk_appt *a = *(const desk_appt *const *)x, *b = *(const desk_appt *const *)y;
    /* the walk-ins for whoever is free come last */
    int ea = !*a->provider, eb = !*b->provider;
    if (ea != eb)
        return ea - eb;
    int c = strcmp(a->provider, b->provider);
    if (c)
        return c;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int by_arrival(const void *x, const void *y)
{
    const desk_appt *a = *(const desk_appt *const *)x, *b = *(const desk_appt *const *)y;
    if (a->arrived_at != b->arrived_at)
        return a->arrived_at < b->arrived_at ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

size_t dm_schedule_rows(const desk_model *m, const desk_appt **out)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->appts[i].status != PM__APPOINTMENT_STATUS__CANCELLED)
            out[n++] = &m->appts[i];
    qsort(out, n, sizeof *out, by_provider_then_time);
    return n;
}

size_t dm_waiting_rows(const desk_model *m, const desk_appt **out)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->appts[i].status == PM__APPOINTMENT_STATUS__ARRIVED ||
            m->appts[i].status == PM__APPOINTMENT_STATUS__ROOMED)
            out[n++] = &m->appts[i];
    qsort(out, n, sizeof *out, by_arrival);
    return n;
}

/* ---- set-up ---- */

static desk_named *list_add(desk_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        desk_named *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    desk_named *e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    return e;
}

static void list_free(desk_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

void ds_free(desk_setup *s)
{
    list_free(&s->locations);
    list_free(&s->providers);
    list_free(&s->visit_types);
    list_free(&s->rooms);
}

static void load_visit_type(desk_list *l, const Pm__VisitType *v)
{
    desk_named *e = list_add(l);
    if (!e)
        return;
    COPY(e->id, v->id);
    COPY(e->name, *v->name ? v->name : v->id);
    e->minutes = v->duration_min;
    for (size_t k = 0; k < v->n_providers && k < 8; k++)
        COPY(e->providers[e->nproviders++], v->providers[k]);
}

void ds_load(desk_setup *s, const Pm__Setup *in)
{
    ds_free(s);
    for (size_t i = 0; i < in->n_locations; i++) {
        desk_named *e = list_add(&s->locations);
        if (e) {
            COPY(e->id, in->locations[i]->id);
            COPY(e->name, *in->locations[i]->name ? in->locations[i]->name : e->id);
        }
    }
    for (size_t i = 0; i < in->n_providers; i++) {
        const Pm__Provider *p = in->providers[i];
        desk_named *e = p->inactive ? NULL : list_add(&s->providers);
        if (e) {
            COPY(e->id, p->id);
            COPY(e->name, *p->name ? p->name : p->id);
            COPY(e->location, p->default_location);
            COPY(e->username, p->username);
        }
    }
    for (size_t i = 0; i < in->n_visit_types; i++)
        load_visit_type(&s->visit_types, in->visit_types[i]);
    for (size_t i = 0; i < in->n_rooms; i++) {
        desk_named *e = list_add(&s->rooms);
        if (e) {
            COPY(e->id, in->rooms[i]->id);
            COPY(e->name, *in->rooms[i]->name ? in->rooms[i]->name : e->id);
            COPY(e->location, in->rooms[i]->location);
        }
    }
}

const desk_named *ds_find(const desk_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].id, id) == 0)
            return &l->v[i];
    return NULL;
}

const char *ds_name(const desk_list *l, const char *id)
{
    const desk_named *e = ds_find(l, id);
    return e ? e->name : id;
}
