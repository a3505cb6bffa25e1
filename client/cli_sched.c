/* The scheduling commands' shared pieces: reading times and dates in the practice's zone,
 * words for enums, set-up names, appointments shown, and the conflicts of a booking. */
#include "cli_sched.h"

#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_WIDTH 80

/* ---- what people type ---- */

int sched_parse_when(cli *c, const char *opt, const char *s, int64_t *out)
{
    time_t t;
    if (pm_parse_local_time(s, time(NULL), &t) != 0)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, opt,
                        "%s %s: give a time such as \"today 14:30\", \"tomorrow 9:00\", "
                        "\"mon 10:00\" or \"2026-12-01 09:30\"",
                        opt, s);
    *out = (int64_t)t;
    return CLI_EXIT_OK;
}

int sched_parse_date(cli *c, const char *opt, const char *s, char out[11])
{
    if (pm_parse_local_date(s, time(NULL), out) != 0)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, opt,
                        "%s %s: give a date: today, tomorrow, mon..sun or YYYY-MM-DD", opt, s);
    return CLI_EXIT_OK;
}

static int parse_end(const char *s, unsigned *m)
{
    if (strcmp(s, "24:00") == 0) {
        *m = 24 * 60;
        return 0;
    }
    return pm_parse_hhmm(s, m);
}

int sched_parse_span(cli *c, const char *opt, const char *s, unsigned *from, unsigned *to)
{
    char a[16], b[16];
    const char *dash = strchr(s, '-');
    size_t la = dash ? (size_t)(dash - s) : 0;
    if (!dash || la >= sizeof a || strlen(dash + 1) >= sizeof b)
        goto bad;
    memcpy(a, s, la);
    a[la] = 0;
    snprintf(b, sizeof b, "%s", dash + 1);
    if (pm_parse_hhmm(a, from) != 0 || parse_end(b, to) != 0 || *to <= *from)
        goto bad;
    return CLI_EXIT_OK;
bad:
    return cli_fail(c, PM_E_INVALID_ARGUMENT, opt,
                    "%s %s: give a span of the day such as 09:00-12:30", opt, s);
}

static const char *const weekday_words[8] = {"", "mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const weekday_names[8] = {"",         "monday", "tuesday",  "wednesday",
                                             "thursday", "friday", "saturday", "sunday"};

static unsigned weekday_of(const char *s, size_t n)
{
    if (n < 3)
        return 0;
    for (unsigned d = 1; d <= 7; d++)
        if (n <= strlen(weekday_names[d]) && strncasecmp(s, weekday_names[d], n) == 0)
            return d;
    return 0;
}

unsigned sched_parse_weekdays(const char *s)
{
    if (strcasecmp(s, "daily") == 0 || strcasecmp(s, "every-day") == 0)
        return 0xFE;
    if (strcasecmp(s, "weekdays") == 0)
        return 0x3E;
    if (strcasecmp(s, "weekends") == 0)
        return 0xC0;
    unsigned mask = 0;
    while (*s) {
        size_t item = strcspn(s, ",");
        const char *dash = memchr(s, '-', item);
        unsigned a = weekday_of(s, dash ? (size_t)(dash - s) : item);
        unsigned b = dash ? weekday_of(dash + 1, item - (size_t)(dash - s) - 1) : a;
        if (!a || !b)
            return 0;
        for (unsigned d = a;; d = d % 7 + 1) {
            mask |= 1u << d;
            if (d == b)
                break;
        }
        s += item;
        if (*s == ',')
            s++;
    }
    return mask;
}

int sched_list_add(pm_arena *a, const char *s, char ***v, size_t *n)
{
    size_t items = 1;
    for (const char *p = s; *p; p++)
        items += *p == ',';
    char **g = pm_arena_alloc(a, sizeof *g * (*n + items));
    if (!g)
        return PM_E_NOMEM;
    if (*n)
        memcpy(g, *v, sizeof *g * *n);
    size_t k = *n;
    while (*s) {
        size_t len = strcspn(s, ",");
        const char *b = s, *e = s + len;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b && !(g[k++] = pm_arena_strndup(a, b, (size_t)(e - b))))
            return PM_E_NOMEM;
        s += len;
        if (*s == ',')
            s++;
    }
    *v = g;
    *n = k;
    return PM_OK;
}

int sched_parse_dates(cli *c, const char *from_s, const char *to_s, char from[11], char to[11])
{
    int rc = CLI_EXIT_OK;
    from[0] = to[0] = 0;
    if (from_s)
        rc = sched_parse_date(c, "--from", from_s, from);
    if (rc == CLI_EXIT_OK && to_s)
        rc = sched_parse_date(c, "--to", to_s, to);
    return rc;
}

int sched_parse_id(cli *c, const char *what, const char *s, uint64_t *out)
{
    const char *p = *s == '#' ? s + 1 : s;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (!*p || !isdigit((unsigned char)*p) || *end || errno || v == 0)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, what, "%s %s: not a number such as 12", what, s);
    *out = v;
    return CLI_EXIT_OK;
}

int sched_id_operand(cli *c, int argc, char **argv, const char *usage, const char *what,
                     uint64_t *id)
{
    int rc = cli_no_options(c, argc, argv, 1, usage);
    return rc ? rc : sched_parse_id(c, what, argv[optind], id);
}

char *sched_mrn(pm_arena *a, const char *s)
{
    char *out = pm_arena_alloc(a, strlen(s) + 1);
    if (!out)
        return NULL;
    size_t k = 0;
    for (; *s; s++)
        if (*s != ' ' && *s != '-')
            out[k++] = *s;
    out[k] = 0;
    return out;
}

/* ---- words ---- */

const char *sched_weekday_word(unsigned wd)
{
    return wd >= 1 && wd <= 7 ? weekday_words[wd] : "?";
}

const char *sched_status_word(Pm__AppointmentStatus s)
{
    switch (s) {
    case PM__APPOINTMENT_STATUS__BOOKED:
        return "booked";
    case PM__APPOINTMENT_STATUS__CANCELLED:
        return "cancelled";
    case PM__APPOINTMENT_STATUS__NO_SHOW:
        return "no-show";
    case PM__APPOINTMENT_STATUS__HELD:
        return "held";
    case PM__APPOINTMENT_STATUS__ARRIVED:
        return "arrived";
    case PM__APPOINTMENT_STATUS__ROOMED:
        return "roomed";
    case PM__APPOINTMENT_STATUS__WITH_PROVIDER:
        return "with provider";
    case PM__APPOINTMENT_STATUS__CHECKED_OUT:
        return "checked out";
    default:
        return "?";
    }
}

static const char *const kind_words[] = {"", "time-off", "meeting", "blocked"};

const char *sched_kind_word(Pm__ExceptionKind k)
{
    return (unsigned)k < PM_ARRAY_LEN(kind_words) ? kind_words[k] : "?";
}

int sched_kind_parse(const char *s, Pm__ExceptionKind *out)
{
    for (size_t i = 1; i < PM_ARRAY_LEN(kind_words); i++) {
        /* "time-off", "time_off", "timeoff" */
        const char *w = kind_words[i], *p = s;
        while (*w && *p) {
            if (*w == '-' && (*p == '-' || *p == '_'))
                w++, p++;
            else if (*w == '-')
                w++;
            else if (tolower((unsigned char)*p) == *w)
                w++, p++;
            else
                break;
        }
        if (!*w && !*p) {
            *out = (Pm__ExceptionKind)i;
            return 0;
        }
    }
    return -1;
}

const char *sched_offer_word(Pm__OfferStatus s)
{
    static const char *const w[] = {"?", "open", "accepted", "declined", "expired", "withdrawn"};
    return (unsigned)s < PM_ARRAY_LEN(w) ? w[s] : "?";
}

const char *sched_waitlist_word(Pm__WaitlistStatus s)
{
    static const char *const w[] = {"?", "waiting", "offered", "scheduled", "removed"};
    return (unsigned)s < PM_ARRAY_LEN(w) ? w[s] : "?";
}

void sched_hhmm(unsigned m, char *buf, size_t n)
{
    snprintf(buf, n, "%02u:%02u", (m / 60) % 100, m % 60);
}

void sched_day(const char *date, char *buf, size_t n)
{
    snprintf(buf, n, "%s %s", sched_weekday_word((unsigned)pm_weekday(date)), date);
    if (buf[0] >= 'a' && buf[0] <= 'z')
        buf[0] = (char)(buf[0] - 32);
}

void sched_span(int64_t start, int64_t end, char *buf, size_t n)
{
    char d0[11], d1[11], day[24], t0[8], t1[8];
    pm_local_date((time_t)start, d0);
    pm_local_date((time_t)end, d1);
    sched_day(d0, day, sizeof day);
    sched_hhmm(pm_local_minutes((time_t)start), t0, sizeof t0);
    sched_hhmm(pm_local_minutes((time_t)end), t1, sizeof t1);
    if (end <= start)
        snprintf(buf, n, "%s %s", day, t0);
    else if (strcmp(d0, d1) == 0)
        snprintf(buf, n, "%s %s-%s", day, t0, t1);
    else if (pm_date_diff(d0, d1) == 1 && pm_local_minutes((time_t)end) == 0)
        snprintf(buf, n, "%s %s-24:00", day, t0);
    else
        snprintf(buf, n, "%s %s - %s %s", day, t0, d1, t1);
}

void sched_weekdays_text(unsigned mask, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (unsigned d = 1; d <= 7; d++) {
        if (!(mask & (1u << d)))
            continue;
        unsigned e = d;
        while (e < 7 && (mask & (1u << (e + 1))))
            e++;
        int w;
        if (e >= d + 2)
            w = snprintf(buf + used, n - used, "%s%s-%s", used ? "," : "", weekday_words[d],
                         weekday_words[e]);
        else
            w = snprintf(buf + used, n - used, "%s%s", used ? "," : "", weekday_words[d]), e = d;
        if (w < 0 || (size_t)w >= n - used)
            return;
        used += (size_t)w;
        d = e;
    }
}

void sched_duration(int64_t s, char *buf, size_t n)
{
    if (s < 0)
        s = 0;
    if (s < 3600)
        snprintf(buf, n, "%lld min", (long long)((s + 59) / 60));
    else if (s < 2 * 86400)
        snprintf(buf, n, "%lld h %02lld min", (long long)(s / 3600),
                 (long long)((s % 3600 + 59) / 60));
    else
        snprintf(buf, n, "%lld days", (long long)(s / 86400));
}

/* ---- set-up, for names ---- */

int sched_get_setup(cli *c, pm_arena *a, const char *provider, const char *location,
                    const char *from, const char *to, Pm__Setup **out)
{
    Pm__GetSetup *g;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e =
        cli_request(a, PM__ENVELOPE__BODY_GET_SETUP, &pm__get_setup__descriptor, (void **)&g);
    if (e) {
        g->provider = (char *)(provider ? provider : "");
        g->location = (char *)(location ? location : "");
        g->from_date = (char *)(from ? from : "");
        g->to_date = (char *)(to ? to : "");
    }
    int rc = cli_call(c, e, a, PM__ENVELOPE__BODY_SETUP, &resp);
    if (rc == CLI_EXIT_OK)
        *out = resp->setup;
    return rc;
}

void sched_names_load(cli *c, pm_arena *a, sched_names *n)
{
    n->s = NULL;
    Pm__GetSetup *g;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e =
        cli_request(a, PM__ENVELOPE__BODY_GET_SETUP, &pm__get_setup__descriptor, (void **)&g);
    if (!e)
        return;
    /* names only: the narrowest range of holidays and exceptions */
    char today[11];
    pm_local_date(time(NULL), today);
    g->from_date = pm_arena_strdup(a, today);
    g->to_date = g->from_date;
    if (pc_call(c->pc, e, a, &resp) == PM_OK && resp->body_case == PM__ENVELOPE__BODY_SETUP)
        n->s = resp->setup;
}

#define FIND(type, list, count)                                                                    \
    do {                                                                                           \
        if (!n || !n->s || !id)                                                                    \
            return NULL;                                                                           \
        for (size_t i = 0; i < n->s->count; i++)                                                   \
            if (strcmp(n->s->list[i]->id, id) == 0)                                                \
                return n->s->list[i];                                                              \
        return NULL;                                                                               \
    } while (0)

const Pm__Provider *sched_find_provider(const sched_names *n, const char *id)
{
    FIND(Pm__Provider, providers, n_providers);
}

const Pm__VisitType *sched_find_visit_type(const sched_names *n, const char *id)
{
    FIND(Pm__VisitType, visit_types, n_visit_types);
}

const Pm__Location *sched_find_location(const sched_names *n, const char *id)
{
    FIND(Pm__Location, locations, n_locations);
}

const Pm__Room *sched_find_room(const sched_names *n, const char *id)
{
    FIND(Pm__Room, rooms, n_rooms);
}

const char *sched_provider_name(const sched_names *n, const char *id)
{
    const Pm__Provider *p = sched_find_provider(n, id);
    return p && *p->name ? p->name : id ? id : "";
}

const char *sched_visit_type_name(const sched_names *n, const char *id)
{
    const Pm__VisitType *v = sched_find_visit_type(n, id);
    return v && *v->name ? v->name : id ? id : "";
}

const char *sched_location_name(const sched_names *n, const char *id)
{
    const Pm__Location *l = sched_find_location(n, id);
    return l && *l->name ? l->name : id ? id : "";
}

const char *sched_room_name(const sched_names *n, const char *id)
{
    const Pm__Room *r = sched_find_room(n, id);
    return r && *r->name ? r->name : id ? id : "";
}

/* "Name (id)", or the id alone when the name is not known. */
static void named(const char *name, const char *id, char *buf, size_t n)
{
    if (strcmp(name, id) == 0)
        snprintf(buf, n, "%s", id);
    else
        snprintf(buf, n, "%s (%s)", name, id);
}

/* ---- appointments ---- */

int sched_get_appointment(cli *c, pm_arena *a, uint64_t id, Pm__Appointment **out)
{
    Pm__GetAppointment *g;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(a, PM__ENVELOPE__BODY_GET_APPOINTMENT,
                                  &pm__get_appointment__descriptor, (void **)&g);
    if (e)
        g->id = id;
    int rc = cli_call(c, e, a, PM__ENVELOPE__BODY_APPOINTMENT_OK, &resp);
    if (rc == CLI_EXIT_OK)
        *out = resp->appointment_ok->appointment;
    return rc;
}

void sched_status_text(const Pm__Appointment *a, char *buf, size_t n)
{
    switch (a->status) {
    case PM__APPOINTMENT_STATUS__CANCELLED:
        snprintf(buf, n, "cancelled%s%s%s", a->late_cancel ? " (late)" : "",
                 *a->cancel_reason ? ": " : "", a->cancel_reason);
        break;
    case PM__APPOINTMENT_STATUS__HELD:
        snprintf(buf, n, "held for waitlist offer #%llu", (unsigned long long)a->offer_id);
        break;
    default:
        snprintf(buf, n, "%s", sched_status_word(a->status));
        break;
    }
}

void sched_patient_text(const char *name, const char *mrn, char *buf, size_t n)
{
    if (*name)
        snprintf(buf, n, "%s (%s)", name, mrn);
    else
        snprintf(buf, n, "%s", mrn);
}

static void patient_text(const Pm__Appointment *a, char *buf, size_t n)
{
    sched_patient_text(a->patient_name, a->patient_mrn, buf, n);
}

void cp_appointment(FILE *f, const sched_names *n, const Pm__Appointment *a)
{
    char buf[512], when[64];
    fprintf(f, "Appointment #%llu (version %u)\n", (unsigned long long)a->id, a->version);
    patient_text(a, buf, sizeof buf);
    cp_label(f, "Patient", buf);
    sched_span(a->start, a->end, when, sizeof when);
    snprintf(buf, sizeof buf, "%s (%lld min)", when, (long long)((a->end - a->start) / 60));
    cp_label(f, "When", buf);
    named(sched_visit_type_name(n, a->visit_type), a->visit_type, buf, sizeof buf);
    cp_label(f, "Visit type", buf);
    const Pm__Provider *p = sched_find_provider(n, a->provider);
    if (p && *p->credentials)
        snprintf(buf, sizeof buf, "%s, %s (%s)", p->name, p->credentials, p->id);
    else
        named(sched_provider_name(n, a->provider), a->provider, buf, sizeof buf);
    cp_label(f, "Provider", buf);
    if (*a->location) {
        named(sched_location_name(n, a->location), a->location, buf, sizeof buf);
        cp_label(f, "Location", buf);
    }
    if (*a->room) {
        named(sched_room_name(n, a->room), a->room, buf, sizeof buf);
        cp_label(f, "Room", buf);
    }
    sched_status_text(a, buf, sizeof buf);
    cp_label(f, "Status", buf);
    if (a->series_id) {
        snprintf(buf, sizeof buf, "#%llu, occurrence %u", (unsigned long long)a->series_id,
                 a->series_index);
        cp_label(f, "Series", buf);
    }
    if (a->overridden) {
        snprintf(buf, sizeof buf, "booked outside availability or capacity%s%s",
                 *a->override_reason ? ": " : "", a->override_reason);
        cp_label(f, "Override", buf);
    }
    for (const char *line = a->notes; *line;) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        snprintf(buf, sizeof buf, "%.*s", len, line);
        if (line == a->notes)
            cp_label(f, "Notes", buf);
        else
            cp_label_more(f, buf);
        line += len + (end ? 1 : 0);
    }
    if (a->created_at) {
        cp_time(a->created_at, when, sizeof when);
        snprintf(buf, sizeof buf, "%s%s%s", when, *a->created_by ? " by " : "", a->created_by);
        cp_label(f, "Booked", buf);
    }
    if (a->updated_at && a->version > 1) {
        cp_time(a->updated_at, when, sizeof when);
        snprintf(buf, sizeof buf, "%s%s%s", when, *a->updated_by ? " by " : "", a->updated_by);
        cp_label(f, "Changed", buf);
    }
    for (size_t i = 0; i < a->n_history; i++) {
        const Pm__AppointmentChange *h = a->history[i];
        cp_time(h->time, when, sizeof when);
        snprintf(buf, sizeof buf, "%s  %s  %s", when, h->by, h->what);
        if (i == 0)
            cp_label(f, "History", buf);
        else
            cp_label_more(f, buf);
    }
}

void sched_appt_line(const sched_names *n, const Pm__Appointment *a, char *buf, size_t len)
{
    char when[64], who[256], status[300] = "";
    sched_span(a->start, a->end, when, sizeof when);
    patient_text(a, who, sizeof who);
    if (a->status != PM__APPOINTMENT_STATUS__BOOKED) {
        status[0] = ' ';
        status[1] = '[';
        sched_status_text(a, status + 2, sizeof status - 3);
        strcat(status, "]");
    }
    snprintf(buf, len, "#%llu %s %s, %s, %s%s%s%s", (unsigned long long)a->id, when, who,
             sched_visit_type_name(n, a->visit_type), sched_provider_name(n, a->provider),
             *a->room ? ", " : "", *a->room ? sched_room_name(n, a->room) : "", status);
}

const char *const sched_appt_header[SCHED_APPT_COLS] = {"ID",       "WHEN",  "PATIENT", "VISIT",
                                                        "PROVIDER", "WHERE", "STATUS"};

int sched_appt_row(cp_table *t, const sched_names *n, const Pm__Appointment *a)
{
    char id[24], when[64], who[256], where[160], status[256];
    snprintf(id, sizeof id, "%llu", (unsigned long long)a->id);
    sched_span(a->start, a->end, when, sizeof when);
    patient_text(a, who, sizeof who);
    snprintf(where, sizeof where, "%s%s%s", sched_location_name(n, a->location),
             *a->room ? ", " : "", *a->room ? sched_room_name(n, a->room) : "");
    sched_status_text(a, status, sizeof status);
    const char *cells[SCHED_APPT_COLS] = {id,
                                          when,
                                          who,
                                          sched_visit_type_name(n, a->visit_type),
                                          sched_provider_name(n, a->provider),
                                          where,
                                          status};
    return cp_table_row(t, cells);
}

int sched_print_appointment(cli *c, const sched_names *n, const Pm__Appointment *a,
                            const char *headline)
{
    if (c->json) {
        cj_print(cj_message(&a->base));
        return CLI_EXIT_OK;
    }
    if (headline)
        printf("%s\n", headline);
    cp_appointment(stdout, n, a);
    return CLI_EXIT_OK;
}

/* ---- the conflicts of a booking ---- */

void cli_describe_conflicts(cli *c, const uint64_t *ids, size_t n, size_t total, char *out,
                            size_t outn, json_object *arr)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && used < outn; i++) {
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__GetAppointment *g;
        Pm__Envelope *resp = NULL;
        Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_GET_APPOINTMENT,
                                      &pm__get_appointment__descriptor, (void **)&g);
        const Pm__Appointment *ap = NULL;
        if (e) {
            g->id = ids[i];
            if (c->pc && pc_call(c->pc, e, &a, &resp) == PM_OK && resp &&
                resp->body_case == PM__ENVELOPE__BODY_APPOINTMENT_OK)
                ap = resp->appointment_ok->appointment;
        }
        char line[512];
        if (ap)
            sched_appt_line(NULL, ap, line, sizeof line);
        else
            snprintf(line, sizeof line, "#%llu", (unsigned long long)ids[i]);
        int w = snprintf(out + used, outn - used, "%s%s", i ? "\n" : "", line);
        used = w < 0 ? outn : used + (size_t)w;
        if (arr) {
            json_object *o;
            if (ap) {
                o = json_object_new_object();
                json_object_object_add(o, "id", json_object_new_uint64(ap->id));
                json_object_object_add(o, "start", cj_time((uint64_t)ap->start));
                json_object_object_add(o, "end", cj_time((uint64_t)ap->end));
                char t[32];
                cp_time((uint64_t)ap->start, t, sizeof t);
                json_object_object_add(o, "start_local", cj_string(t));
                json_object_object_add(o, "patient_mrn", cj_string(ap->patient_mrn));
                json_object_object_add(o, "patient_name", cj_string(ap->patient_name));
                json_object_object_add(o, "provider", cj_string(ap->provider));
                json_object_object_add(o, "visit_type", cj_string(ap->visit_type));
                json_object_object_add(o, "room", cj_string(ap->room));
                json_object_object_add(o, "status", cj_string(sched_status_word(ap->status)));
            } else {
                o = json_object_new_object();
                json_object_object_add(o, "id", json_object_new_uint64(ids[i]));
            }
            json_object_array_add(arr, o);
        }
        pm_arena_free(&a);
    }
    if (total > n && used < outn)
        snprintf(out + used, outn - used, "\nand %zu more", total - n);
}

/* ---- errors ---- */

static const struct {
    const char *field, *option;
} sched_fields[] = {
    {"start", "--at"},
    {"provider", "--provider"},
    {"providers", "--provider"},
    {"visit_type", "VISIT-TYPE"},
    {"patient_mrn", "MRN"},
    {"duration_min", "--minutes"},
    {"room", "--room"},
    {"location", "--location"},
    {"notes", "--notes"},
    {"note", "--note"},
    {"override", "--override"},
    {"override_reason", "--reason"},
    {"reason", "--reason"},
    {"repeat", "--repeat"},
    {"series_mode", "--free-ones"},
    {"scope", "--scope"},
    {"from_date", "--from"},
    {"to_date", "--to"},
    {"earliest_min", "--between"},
    {"latest_min", "--between"},
    {"count", "--count"},
    {"priority", "--priority"},
    {"date", "--day"},
    {"days", "--week"},
    {"offer_id", "OFFER-ID"},
    {"id", "ID"},
    {"version", "--expect-version"},
};

const char *sched_field_option(const char *field)
{
    /* "entry.providers[0]", "repeat.until": the outermost name that is known */
    char name[64];
    snprintf(name, sizeof name, "%s", field);
    name[strcspn(name, "[")] = 0;
    for (char *part = name; part;) {
        char *dot = strchr(part, '.');
        for (size_t i = 0; i < PM_ARRAY_LEN(sched_fields); i++) {
            size_t len = dot ? (size_t)(dot - part) : strlen(part);
            if (strlen(sched_fields[i].field) == len &&
                strncmp(sched_fields[i].field, part, len) == 0)
                return sched_fields[i].option;
        }
        part = dot ? dot + 1 : NULL;
    }
    return NULL;
}

/* ---- the terminal ---- */

int sched_term_width(int given)
{
    if (given > 0)
        return given;
    if (isatty(STDOUT_FILENO)) {
        struct winsize ws;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
            return ws.ws_col;
    }
    const char *cols = getenv("COLUMNS");
    if (cols && *cols) {
        long w = strtol(cols, NULL, 10);
        if (w >= 20 && w <= 1000)
            return (int)w;
    }
    return DEFAULT_WIDTH;
}
