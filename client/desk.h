/* practice desk: the receptionist's live screen. Today's schedule per provider and the
 * waiting room, kept current by the server's events; check-in, rooming, hand-over and
 * check-out with single keys; patient search, walk-ins and quick booking.
 *
 * The parts: desk_model.c holds the day (plain copies of the appointments, no curses, no
 * network); desk_net.c talks to the server (the load, the events, the requests, the
 * reconnect); desk_view.c draws the model; desk_ui.c turns keys into requests through
 * small dialogs; desk.c is the command and its loop. */
#ifndef DESK_H
#define DESK_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"

#define DESK_ID_MAX   40  /* set-up codes are at most 32 characters */
#define DESK_NAME_MAX 128 /* names as the server writes them, UTF-8 */

/* ---- the model (desk_model.c) ---- */

/* One appointment of the day, as much of it as the desk shows. */
typedef struct desk_appt {
    uint64_t id;
    uint32_t version;
    char mrn[24];
    char name[DESK_NAME_MAX];
    char provider[DESK_ID_MAX];
    char visit_type[DESK_ID_MAX];
    char location[DESK_ID_MAX];
    char room[DESK_ID_MAX];
    char ticket[24];
    int64_t start, end;
    int status; /* Pm__AppointmentStatus */
    uint64_t arrived_at, roomed_at, seen_at, checked_out_at, estimated_start;
    int late, walk_in, overdue;
} desk_appt;

/* How a provider's day runs, from the server's estimate. */
typedef struct desk_pace {
    char provider[DESK_ID_MAX];
    int running_late_min;
    unsigned waiting;
} desk_pace;

/* A set-up record shown by name: a provider, visit type, room or location. */
typedef struct desk_named {
    char id[DESK_ID_MAX];
    char name[DESK_NAME_MAX];
    unsigned minutes;               /* visit types: duration */
    char location[DESK_ID_MAX];     /* rooms: where; providers: default location */
    char providers[8][DESK_ID_MAX]; /* visit types: who offers it (none: everyone) */
    size_t nproviders;
    char username[64]; /* providers: their account */
} desk_named;

typedef struct desk_list {
    desk_named *v;
    size_t n, cap;
} desk_list;

/* What the practice is set up with, for names and choices. */
typedef struct desk_setup {
    desk_list locations, providers, visit_types, rooms;
} desk_setup;

/* The viewed day at one location. */
typedef struct desk_model {
    char location[DESK_ID_MAX];
    char date[11];
    desk_appt *appts;
    size_t n, cap;
    desk_pace *paces;
    size_t npaces, cappaces;
} desk_model;

void dm_init(desk_model *m);
/* Forgets every appointment, overwriting the memory that held patient data. */
void dm_clear(desk_model *m);
void dm_free(desk_model *m);
/* Replaces the day with a GetFlow answer. */
int dm_load_flow(desk_model *m, const Pm__Flow *f);
/* Takes an appointment from an answer or an event: added, updated (unless the model
 * holds a newer version) or removed when it left the day or the location. Returns 1 when
 * the model changed. */
int dm_apply(desk_model *m, const Pm__Appointment *a);
void dm_set_paces(desk_model *m, Pm__ProviderPace *const *p, size_t n);
/* The waiting room's fresh estimates, matched by ticket. */
int dm_apply_board(desk_model *m, const Pm__BoardState *b);
desk_appt *dm_find(const desk_model *m, uint64_t id);
const desk_pace *dm_pace(const desk_model *m, const char *provider);

/* The schedule pane's appointments (cancelled ones left out), grouped by provider, each
 * group in time order; and the waiting room's (arrived and roomed) in order of arrival.
 * out must hold m->n pointers; returns how many. */
size_t dm_schedule_rows(const desk_model *m, const desk_appt **out);
size_t dm_waiting_rows(const desk_model *m, const desk_appt **out);

void ds_free(desk_setup *s);
void ds_load(desk_setup *s, const Pm__Setup *in);
const desk_named *ds_find(const desk_list *l, const char *id);
/* The record's name, or its id when unknown. */
const char *ds_name(const desk_list *l, const char *id);

/* ---- the screen's state ---- */

enum desk_pane { PANE_SCHEDULE, PANE_WAITING, PANE_COUNT };
enum desk_conn { CONN_LIVE, CONN_RECONNECTING, CONN_LOCKED };

typedef struct desk_sel {
    uint64_t id;  /* the selected appointment, kept across updates */
    size_t index; /* where it was, for when it leaves the pane */
    size_t top;   /* the first line shown */
} desk_sel;

/* One choice of a pick list. */
typedef struct desk_item {
    char label[200];
    char id[DESK_ID_MAX];
    char extra[DESK_NAME_MAX];
    char extra2[DESK_ID_MAX];
    int64_t when;
} desk_item;

enum desk_modal_kind { MODAL_NONE, MODAL_INPUT, MODAL_PICK, MODAL_INFO };

#define DESK_INFO_LINES 12

struct desk;
/* Called when a dialog ends: ok is 0 when it was cancelled (Esc). */
typedef void (*desk_modal_done)(struct desk *d, int ok);

typedef struct desk_modal {
    enum desk_modal_kind kind;
    char title[120];
    char input[120]; /* MODAL_INPUT: the text typed, UTF-8 */
    desk_item *items;
    size_t nitems, sel, top;
    char lines[DESK_INFO_LINES][200]; /* MODAL_INFO */
    size_t nlines;
    char keys[80]; /* MODAL_INFO: the keys it answers besides "any key closes" */
    desk_modal_done done;
    int key; /* MODAL_INFO: the key that closed it */
} desk_modal;

enum desk_wizard_kind { WZ_NONE, WZ_SEARCH, WZ_WALK_IN, WZ_BOOK };

/* What a multi-step dialog (walk-in, booking, search) has gathered so far. */
typedef struct desk_wizard {
    enum desk_wizard_kind kind;
    char mrn[DESK_ID_MAX];
    char patient[DESK_NAME_MAX];
    char visit_type[DESK_ID_MAX];
    char provider[DESK_ID_MAX];
    char room[DESK_ID_MAX];
    int64_t start;
    uint64_t appt;    /* the appointment a room is chosen for */
    char text[120];   /* what the last dialog gave: the text typed, */
    desk_item picked; /* the item chosen, */
    int key;          /* or the key that closed it */
} desk_wizard;

typedef struct desk {
    cli *c;
    desk_model m;
    desk_setup s;
    char location[DESK_ID_MAX];
    char location_name[DESK_NAME_MAX];
    char practice[128];
    char today[11];
    int follow_today; /* the viewed day moves on at midnight */
    int64_t skew;     /* the server's clock minus ours, from the last GetFlow */
    int64_t grace_s;  /* past its start by this, a booked visit is overdue (from GetFlow) */
    enum desk_conn conn;
    uint64_t retry_at; /* monotonic ms of the next reconnect attempt */
    unsigned backoff_ms;
    uint64_t live_since; /* monotonic ms it last came back (0: the first connection) */
    char locked_msg[300];
    enum desk_pane pane;
    desk_sel sel[PANE_COUNT];
    desk_modal modal;
    desk_wizard wz;
    char status[300];
    char error[300]; /* the last request's failure, as the server said it */
    int status_err;
    uint64_t status_until; /* monotonic ms; 0: until the next key */
    int dirty;
    int quit;
    int exit_code;
} desk;

/* ---- the server (desk_net.c) ---- */

/* Resolves the location, loads the set-up, subscribes and loads the day. Reports on
 * stderr (before the screen starts) and returns an exit code. */
int desk_net_start(desk *d, const char *location, const char *date);
/* Moves the view to another day: subscribes to its topics and loads it. */
int desk_net_load_day(desk *d, const char *date);
/* Reads what the server pushed, without waiting. */
void desk_net_drain(desk *d);
/* Tries to reconnect when it is time. */
void desk_net_retry(desk *d);
/* Requests; each reports in the status line and returns 0 on success. */
/* room: TO_ROOM's; provider: SEE's for a walk-in for anyone ("" or NULL: the one the
 * wait estimate gave them to). */
int desk_net_step(desk *d, const desk_appt *a, int action, const char *room, const char *provider);
int desk_net_walk_in(desk *d, const char *mrn, const char *visit_type, const char *provider);
int desk_net_book(desk *d, const desk_wizard *w);
/* Patients matching what was typed (a name, a date of birth, a phone number or an MRN). */
int desk_net_search(desk *d, const char *text, desk_item **out, size_t *n);
/* The next free slots for a visit type at the location, from the viewed day on. */
int desk_net_slots(desk *d, const char *visit_type, desk_item **out, size_t *n);
/* A patient's details and next appointment, as lines for a dialog. */
int desk_net_patient_info(desk *d, const char *mrn, char lines[][200], size_t max, size_t *n);
/* The server's clock now (UTC seconds). */
int64_t desk_now(const desk *d);
/* Clears every patient's data and shows why the session ended. */
void desk_lock(desk *d, const char *why);

/* ---- the screen (desk_view.c) ---- */

void desk_view_start(void);
void desk_view_stop(void);
void desk_draw(desk *d);
/* The lines the panes have room for, as last drawn (for page moves). */
int desk_view_pane_lines(enum desk_pane p);

/* ---- keys (desk_ui.c) ---- */

void desk_key(desk *d, int key);
/* The selected appointment of the active pane, or NULL. */
const desk_appt *desk_selected(desk *d);
/* Keeps each pane's selection on its appointment after the model changed. */
void desk_fix_selection(desk *d);
/* A message in the status line: an error stays until the next key, news for a moment. */
void desk_say(desk *d, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

uint64_t desk_mono_ms(void);
/* Copies src into dst of n bytes, cut at a character's edge if it is too long. */
void desk_copy(char *dst, size_t n, const char *src);

#endif
