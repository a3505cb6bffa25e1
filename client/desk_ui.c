/* Keys: moving the selection, the single-key flow steps, and the small dialogs (a line
 * of text, a pick list, a card) that walk-ins, patient search and booking are made of.
 * A dialog never blocks the screen: it is state, drawn over the panes while events keep
 * coming, and its end calls the next step with what it gathered in d->wz. */
#include "desk.h"

#include "pm_time.h"

#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_ESC    27
#define NEWS_MS    5000 /* how long a success stays in the status line */
#define ROOM_ITEMS 64

void desk_say(desk *d, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->status, sizeof d->status, fmt, ap);
    va_end(ap);
    d->status_err = err;
    d->status_until = err ? 0 : desk_mono_ms() + NEWS_MS;
    d->dirty = 1;
}

/* ---- the selection ---- */

static size_t pane_rows(const desk *d, enum desk_pane p, const desk_appt **rows)
{
    return p == PANE_SCHEDULE ? dm_schedule_rows(&d->m, rows) : dm_waiting_rows(&d->m, rows);
}

/* Keeps the pane's selection on its appointment; when that left the pane, on the line
 * where it was. */
static void fix_pane(desk *d, enum desk_pane p, const desk_appt **rows)
{
    desk_sel *s = &d->sel[p];
    size_t n = pane_rows(d, p, rows);
    for (size_t i = 0; i < n; i++) {
        if (rows[i]->id == s->id) {
            s->index = i;
            return;
        }
    }
    if (!n) {
        s->id = 0;
        s->index = 0;
        return;
    }
    if (s->index >= n)
        s->index = n - 1;
    s->id = rows[s->index]->id;
}

void desk_fix_selection(desk *d)
{
    const desk_appt **rows = calloc(d->m.n ? d->m.n : 1, sizeof *rows);
    if (!rows)
        return;
    for (int p = 0; p < PANE_COUNT; p++)
        fix_pane(d, (enum desk_pane)p, rows);
    free(rows);
}

const desk_appt *desk_selected(desk *d)
{
    desk_fix_selection(d);
    uint64_t id = d->sel[d->pane].id;
    return id ? dm_find(&d->m, id) : NULL;
}

static void move_selection(desk *d, long delta)
{
    const desk_appt **rows = calloc(d->m.n ? d->m.n : 1, sizeof *rows);
    if (!rows)
        return;
    fix_pane(d, d->pane, rows);
    desk_sel *s = &d->sel[d->pane];
    size_t n = pane_rows(d, d->pane, rows);
    if (n) {
        long i = (long)s->index + delta;
        i = i < 0 ? 0 : i >= (long)n ? (long)n - 1 : i;
        s->index = (size_t)i;
        s->id = rows[i]->id;
    }
    free(rows);
    d->dirty = 1;
}

/* ---- dialogs ---- */

static void close_modal(desk *d)
{
    free(d->modal.items);
    memset(&d->modal, 0, sizeof d->modal);
    d->dirty = 1;
}

static void open_input(desk *d, const char *title, const char *text, desk_modal_done done)
{
    close_modal(d);
    if (d->conn == CONN_LOCKED)
        return;
    d->modal.kind = MODAL_INPUT;
    desk_copy(d->modal.title, sizeof d->modal.title, title);
    desk_copy(d->modal.input, sizeof d->modal.input, text ? text : "");
    d->modal.done = done;
}

/* Takes ownership of items. */
static void open_pick(desk *d, const char *title, desk_item *items, size_t n, size_t sel,
                      desk_modal_done done)
{
    close_modal(d);
    if (d->conn == CONN_LOCKED) {
        free(items);
        return;
    }
    d->modal.kind = MODAL_PICK;
    desk_copy(d->modal.title, sizeof d->modal.title, title);
    d->modal.items = items;
    d->modal.nitems = n;
    d->modal.sel = sel < n ? sel : 0;
    d->modal.done = done;
}

static void end_wizard(desk *d)
{
    close_modal(d);
    memset(&d->wz, 0, sizeof d->wz);
}

/* Ends the dialog, keeping what it gave in d->wz, and calls its next step. */
static void finish_modal(desk *d, int ok)
{
    desk_modal_done done = d->modal.done;
    desk_copy(d->wz.text, sizeof d->wz.text, d->modal.input);
    if (d->modal.kind == MODAL_PICK && d->modal.nitems)
        d->wz.picked = d->modal.items[d->modal.sel];
    close_modal(d);
    if (!done)
        return;
    if (!ok) {
        end_wizard(d);
        return;
    }
    done(d, ok);
}

static void input_key(desk *d, int key)
{
    desk_modal *m = &d->modal;
    size_t len = strlen(m->input);
    if (key == KEY_BACKSPACE || key == 127 || key == 8) {
        while (len && ((unsigned char)m->input[len - 1] & 0xC0) == 0x80)
            m->input[--len] = 0; /* the rest of a UTF-8 character */
        if (len)
            m->input[--len] = 0;
    } else if (key == 21) { /* ^U */
        m->input[0] = 0;
    } else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
        if (len)
            finish_modal(d, 1);
    } else if (key >= 32 && key < 256 && key != 127 && len + 1 < sizeof m->input) {
        m->input[len] = (char)key;
        m->input[len + 1] = 0;
    }
}

static void pick_key(desk *d, int key)
{
    desk_modal *m = &d->modal;
    long page = LINES > 10 ? LINES - 10 : 1, i = (long)m->sel;
    switch (key) {
    case KEY_UP:
    case 'k':
        i--;
        break;
    case KEY_DOWN:
    case 'j':
        i++;
        break;
    case KEY_PPAGE:
        i -= page;
        break;
    case KEY_NPAGE:
        i += page;
        break;
    case KEY_HOME:
        i = 0;
        break;
    case KEY_END:
        i = (long)m->nitems - 1;
        break;
    case '\n':
    case '\r':
    case KEY_ENTER:
        if (m->nitems)
            finish_modal(d, 1);
        return;
    default:
        return;
    }
    m->sel = i < 0 ? 0 : i >= (long)m->nitems ? m->nitems - 1 : (size_t)i;
}

static void modal_key(desk *d, int key)
{
    d->dirty = 1;
    if (key == KEY_ESC) {
        finish_modal(d, 0);
        return;
    }
    switch (d->modal.kind) {
    case MODAL_INPUT:
        input_key(d, key);
        break;
    case MODAL_PICK:
        pick_key(d, key);
        break;
    case MODAL_INFO:
        d->wz.key = key;
        finish_modal(d, 1);
        break;
    default:
        break;
    }
}

/* ---- the flow steps ---- */

static int viewing_today(desk *d)
{
    if (strcmp(d->m.date, d->today) == 0)
        return 1;
    desk_say(d, 1, "This day is shown to look at only: press t to go back to today");
    return 0;
}

static const desk_appt *target(desk *d)
{
    const desk_appt *a = desk_selected(d);
    if (!a)
        desk_say(d, 1, "Select an appointment first (arrow keys, Tab for the other pane)");
    return a;
}

static void step(desk *d, int action)
{
    const desk_appt *a = viewing_today(d) ? target(d) : NULL;
    if (a)
        desk_net_step(d, a, action, NULL, NULL);
}

/* The step on the appointment a pick was opened for, with what was picked as its room
 * (TO_ROOM) or as who sees them (SEE). */
static void picked_step(desk *d, int action)
{
    const desk_appt *a = dm_find(&d->m, d->wz.appt);
    const char *id = d->wz.picked.id;
    if (!a)
        desk_say(d, 1, "That appointment is no longer on this day");
    else
        desk_net_step(d, a, action, action == PM__FLOW_ACTION__TO_ROOM ? id : NULL,
                      action == PM__FLOW_ACTION__SEE ? id : NULL);
    end_wizard(d);
}

static void room_picked(desk *d, int ok)
{
    (void)ok;
    picked_step(d, PM__FLOW_ACTION__TO_ROOM);
}

/* Who is in the room now, or NULL. */
static const desk_appt *room_taken_by(const desk *d, const char *room, uint64_t except)
{
    for (size_t i = 0; i < d->m.n; i++) {
        const desk_appt *a = &d->m.appts[i];
        if (a->id != except && strcmp(a->room, room) == 0 &&
            (a->status == PM__APPOINTMENT_STATUS__ROOMED ||
             a->status == PM__APPOINTMENT_STATUS__WITH_PROVIDER))
            return a;
    }
    return NULL;
}

static void choose_room(desk *d)
{
    const desk_appt *a = viewing_today(d) ? target(d) : NULL;
    if (!a)
        return;
    desk_item *items = calloc(d->s.rooms.n ? d->s.rooms.n : 1, sizeof *items);
    if (!items)
        return;
    size_t n = 0, first_free = SIZE_MAX;
    for (size_t i = 0; i < d->s.rooms.n && n < ROOM_ITEMS; i++) {
        const desk_named *r = &d->s.rooms.v[i];
        if (strcmp(r->location, d->location) != 0)
            continue;
        const desk_appt *by = room_taken_by(d, r->id, a->id);
        snprintf(items[n].label, sizeof items[n].label, "%-24s %s", r->name, by ? "taken" : "free");
        if (by)
            snprintf(items[n].label + strlen(items[n].label),
                     sizeof items[n].label - strlen(items[n].label), " (%s)", by->ticket);
        else if (first_free == SIZE_MAX)
            first_free = n;
        desk_copy(items[n].id, sizeof items[n].id, r->id);
        n++;
    }
    if (!n) {
        free(items);
        desk_say(d, 1, "%s has no rooms: a manager adds them with 'practice room add'",
                 d->location_name);
        return;
    }
    memset(&d->wz, 0, sizeof d->wz);
    d->wz.appt = a->id;
    char title[200];
    snprintf(title, sizeof title, "Room for %s", a->name);
    open_pick(d, title, items, n, first_free == SIZE_MAX ? 0 : first_free, room_picked);
}

/* ---- patients, walk-ins and bookings ---- */

static void patient_chosen(desk *d, int ok);
static void ask_patient(desk *d, const char *text);
static void visit_type_chosen(desk *d, int ok);

static void patient_typed(desk *d, int ok)
{
    (void)ok;
    char text[120];
    desk_copy(text, sizeof text, d->wz.text);
    desk_item *items;
    size_t n;
    if (desk_net_search(d, text, &items, &n) != 0) {
        end_wizard(d);
        return;
    }
    if (!n) {
        desk_say(d, 1, "No patient matches \"%s\": try another part of the name", text);
        ask_patient(d, text);
        return;
    }
    char title[160];
    snprintf(title, sizeof title, "%zu patient%s match \"%s\"", n, n == 1 ? "" : "s", text);
    open_pick(d, title, items, n, 0, patient_chosen);
}

static void ask_patient(desk *d, const char *text)
{
    open_input(d, "Patient: name, date of birth (YYYY-MM-DD), phone or MRN", text, patient_typed);
}

static void choose_visit_type(desk *d)
{
    desk_item *items = calloc(d->s.visit_types.n ? d->s.visit_types.n : 1, sizeof *items);
    if (!items)
        return;
    for (size_t i = 0; i < d->s.visit_types.n; i++) {
        const desk_named *v = &d->s.visit_types.v[i];
        snprintf(items[i].label, sizeof items[i].label, "%-30s %3u min", v->name, v->minutes);
        desk_copy(items[i].id, sizeof items[i].id, v->id);
    }
    if (!d->s.visit_types.n) {
        free(items);
        desk_say(d, 1,
                 "No visit types are set up: a manager adds them with 'practice visit-type add'");
        end_wizard(d);
        return;
    }
    open_pick(d, "Visit type", items, d->s.visit_types.n, 0, visit_type_chosen);
}

static int offers(const desk_named *vt, const char *provider)
{
    if (!vt || !vt->nproviders)
        return 1;
    for (size_t i = 0; i < vt->nproviders; i++)
        if (strcmp(vt->providers[i], provider) == 0)
            return 1;
    return 0;
}

static void walk_in_provider_chosen(desk *d, int ok)
{
    (void)ok;
    desk_copy(d->wz.provider, sizeof d->wz.provider, d->wz.picked.id);
    desk_net_walk_in(d, d->wz.mrn, d->wz.visit_type, d->wz.provider);
    end_wizard(d);
}

/* The providers who offer visit_type, after "Whoever is free first" (id ""); NULL when
 * out of memory. */
static desk_item *provider_items(desk *d, const char *visit_type, size_t *n)
{
    const desk_named *vt = ds_find(&d->s.visit_types, visit_type);
    desk_item *items = calloc(d->s.providers.n + 1, sizeof *items);
    if (!items)
        return NULL;
    *n = 0;
    snprintf(items[(*n)++].label, sizeof items[0].label, "Whoever is free first");
    for (size_t i = 0; i < d->s.providers.n; i++) {
        const desk_named *p = &d->s.providers.v[i];
        if (!offers(vt, p->id))
            continue;
        const desk_pace *pace = dm_pace(&d->m, p->id);
        snprintf(items[*n].label, sizeof items[*n].label, "%-30s %u waiting", p->name,
                 pace ? pace->waiting : 0);
        desk_copy(items[*n].id, sizeof items[*n].id, p->id);
        (*n)++;
    }
    return items;
}

static void choose_walk_in_provider(desk *d)
{
    size_t n;
    desk_item *items = provider_items(d, d->wz.visit_type, &n);
    if (items)
        open_pick(d, "Provider", items, n, 0, walk_in_provider_chosen);
}

static void seer_picked(desk *d, int ok)
{
    (void)ok;
    picked_step(d, PM__FLOW_ACTION__SEE);
}

/* With the provider: a walk-in for anyone is asked who sees them first ("whoever is free
 * first" leaves it to the wait estimate, where someone works today). */
static void see(desk *d)
{
    const desk_appt *a = viewing_today(d) ? target(d) : NULL;
    if (!a)
        return;
    if (*a->provider) {
        desk_net_step(d, a, PM__FLOW_ACTION__SEE, NULL, NULL);
        return;
    }
    size_t n;
    desk_item *items = provider_items(d, a->visit_type, &n);
    if (!items)
        return;
    memset(&d->wz, 0, sizeof d->wz);
    d->wz.appt = a->id;
    char title[200];
    snprintf(title, sizeof title, "Who sees %s", a->name);
    open_pick(d, title, items, n, 0, seer_picked);
}

static void book_now(desk *d)
{
    desk_net_book(d, &d->wz);
    end_wizard(d);
}

static void slot_chosen(desk *d, int ok)
{
    (void)ok;
    desk_copy(d->wz.provider, sizeof d->wz.provider, d->wz.picked.id);
    desk_copy(d->wz.room, sizeof d->wz.room, d->wz.picked.extra2);
    d->wz.start = d->wz.picked.when;
    if (*d->wz.mrn)
        book_now(d);
    else
        ask_patient(d, NULL);
}

static void choose_slot(desk *d)
{
    desk_item *items;
    size_t n;
    if (desk_net_slots(d, d->wz.visit_type, &items, &n) != 0) {
        end_wizard(d);
        return;
    }
    const char *vt = ds_name(&d->s.visit_types, d->wz.visit_type);
    if (!n) {
        desk_say(d, 1, "No free time for %s at %s in the coming weeks", vt, d->location_name);
        end_wizard(d);
        return;
    }
    char title[200];
    snprintf(title, sizeof title, "Free times for %s", vt);
    open_pick(d, title, items, n, 0, slot_chosen);
}

static void visit_type_chosen(desk *d, int ok)
{
    (void)ok;
    desk_copy(d->wz.visit_type, sizeof d->wz.visit_type, d->wz.picked.id);
    if (d->wz.kind == WZ_WALK_IN)
        choose_walk_in_provider(d);
    else
        choose_slot(d);
}

static void start_walk_in(desk *d)
{
    d->wz.kind = WZ_WALK_IN;
    if (*d->wz.mrn)
        choose_visit_type(d);
    else
        ask_patient(d, NULL);
}

static void start_booking(desk *d)
{
    d->wz.kind = WZ_BOOK;
    choose_visit_type(d);
}

static void card_closed(desk *d, int ok)
{
    (void)ok;
    if (d->wz.key == 'w' && viewing_today(d))
        start_walk_in(d);
    else if (d->wz.key == 'b')
        start_booking(d);
    else
        end_wizard(d);
}

static void show_patient(desk *d)
{
    char lines[DESK_INFO_LINES][200];
    size_t n;
    if (desk_net_patient_info(d, d->wz.mrn, lines, DESK_INFO_LINES, &n) != 0) {
        end_wizard(d);
        return;
    }
    close_modal(d);
    d->modal.kind = MODAL_INFO;
    snprintf(d->modal.title, sizeof d->modal.title, "Patient");
    memcpy(d->modal.lines, lines, sizeof lines);
    d->modal.nlines = n;
    snprintf(d->modal.keys, sizeof d->modal.keys, " w walk-in now  b book  any other key closes");
    d->modal.done = card_closed;
}

static void patient_chosen(desk *d, int ok)
{
    (void)ok;
    desk_copy(d->wz.mrn, sizeof d->wz.mrn, d->wz.picked.id);
    desk_copy(d->wz.patient, sizeof d->wz.patient, d->wz.picked.extra);
    switch (d->wz.kind) {
    case WZ_WALK_IN:
        choose_visit_type(d);
        break;
    case WZ_BOOK:
        book_now(d);
        break;
    default:
        show_patient(d);
        break;
    }
}

/* ---- the day ---- */

static void go_to_day(desk *d, const char *date)
{
    char prev[11];
    desk_copy(prev, sizeof prev, d->m.date);
    memset(d->sel, 0, sizeof d->sel);
    if (desk_net_load_day(d, date) != 0 && d->conn == CONN_LIVE)
        desk_net_load_day(d, prev);
    d->dirty = 1;
}

static void shift_day(desk *d, int days)
{
    char date[11];
    pm_date_add(d->m.date, days, date);
    go_to_day(d, date);
}

/* ---- keys ---- */

static void main_key(desk *d, int key)
{
    d->dirty = 1;
    switch (key) {
    case KEY_UP:
    case 'k':
        move_selection(d, -1);
        break;
    case KEY_DOWN:
    case 'j':
        move_selection(d, 1);
        break;
    case KEY_PPAGE:
        move_selection(d, -desk_view_pane_lines(d->pane));
        break;
    case KEY_NPAGE:
        move_selection(d, desk_view_pane_lines(d->pane));
        break;
    case KEY_HOME:
    case 'g':
        move_selection(d, -(long)d->m.n - 1);
        break;
    case KEY_END:
    case 'G':
        move_selection(d, (long)d->m.n + 1);
        break;
    case '\t':
    case KEY_BTAB:
        d->pane = d->pane == PANE_SCHEDULE ? PANE_WAITING : PANE_SCHEDULE;
        break;
    case 'i':
        step(d, PM__FLOW_ACTION__ARRIVE);
        break;
    case 'r':
        choose_room(d);
        break;
    case 'p':
        see(d);
        break;
    case 'o':
        step(d, PM__FLOW_ACTION__CHECK_OUT);
        break;
    case 'u':
        step(d, PM__FLOW_ACTION__UNDO);
        break;
    case 'w':
        memset(&d->wz, 0, sizeof d->wz);
        if (viewing_today(d))
            start_walk_in(d);
        break;
    case '/':
        memset(&d->wz, 0, sizeof d->wz);
        d->wz.kind = WZ_SEARCH;
        ask_patient(d, NULL);
        break;
    case 'b':
        memset(&d->wz, 0, sizeof d->wz);
        start_booking(d);
        break;
    case 'n':
        shift_day(d, 1);
        break;
    case 'N':
        shift_day(d, -1);
        break;
    case 't':
        go_to_day(d, d->today);
        break;
    case 'q':
        d->quit = 1;
        break;
    default:
        break;
    }
}

void desk_key(desk *d, int key)
{
    if (key == KEY_RESIZE) {
        d->dirty = 1;
        return;
    }
    if (d->conn == CONN_LOCKED) {
        d->quit = 1;
        d->exit_code = CLI_EXIT_AUTH;
        return;
    }
    if (d->status_err) {
        d->status[0] = 0;
        d->status_err = 0;
    }
    if (d->modal.kind != MODAL_NONE)
        modal_key(d, key);
    else
        main_key(d, key);
}
