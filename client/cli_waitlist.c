/* The waitlist (practice waitlist add | list | remove | accept | decline | watch) and the
 * live feed of changes (practice watch): when a booked time frees up, the server offers
 * it to the first matching patient on the waitlist and holds it until the offer is
 * answered or expires; every desk watching sees the offer appear and go. */
#include "cli_sched.h"

#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WATCH_TOPICS_MAX 128
#define POLL_MS          500
#define RECONNECT_MAX_MS 10000

/* "2026-12-01 to 2026-12-20, 09:00-12:00", "any day, any time" */
static void window_text(const Pm__WaitlistEntry *w, char *buf, size_t n)
{
    char dates[48], hours[24] = "any time";
    if (*w->from_date && *w->to_date)
        snprintf(dates, sizeof dates, "%s to %s", w->from_date, w->to_date);
    else if (*w->from_date)
        snprintf(dates, sizeof dates, "from %s", w->from_date);
    else if (*w->to_date)
        snprintf(dates, sizeof dates, "by %s", w->to_date);
    else
        snprintf(dates, sizeof dates, "any day");
    if (w->earliest_min || w->latest_min) {
        char a[8], b[8];
        sched_hhmm(w->earliest_min, a, sizeof a);
        sched_hhmm(w->latest_min ? w->latest_min : 24 * 60, b, sizeof b);
        snprintf(hours, sizeof hours, "%s-%s", a, b);
    }
    snprintf(buf, n, "%s, %s", dates, hours);
}

static void list_text(char **v, size_t n, const char *none, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? "," : "", v[i]);
        used = w < 0 ? len : used + (size_t)w;
    }
    if (!n)
        snprintf(buf, len, "%s", none);
}

/* "answer within 12 min", "expired" */
static void time_left(const Pm__Offer *o, char *buf, size_t n)
{
    if (o->status != PM__OFFER_STATUS__OPEN) {
        snprintf(buf, n, "%s", sched_offer_word(o->status));
        return;
    }
    int64_t left = (int64_t)o->expires_at - (int64_t)time(NULL);
    char d[32];
    sched_duration(left, d, sizeof d);
    snprintf(buf, n, "%s", left > 0 ? d : "expiring");
}

/* One line about an offer, for lists and the live feed. */
static void offer_line(const sched_names *n, const Pm__Offer *o, char *buf, size_t len)
{
    char who[200], when[64], left[48];
    sched_patient_text(o->patient_name, o->patient_mrn, who, sizeof who);
    sched_span(o->start, o->end, when, sizeof when);
    time_left(o, left, sizeof left);
    if (o->status == PM__OFFER_STATUS__OPEN)
        snprintf(buf, len,
                 "offer #%llu to %s: %s with %s (%s); answer within %s: practice waitlist "
                 "accept|decline %llu",
                 (unsigned long long)o->id, who, when, sched_provider_name(n, o->provider),
                 sched_visit_type_name(n, o->visit_type), left, (unsigned long long)o->id);
    else
        snprintf(buf, len, "offer #%llu to %s %s: %s with %s (%s)%s", (unsigned long long)o->id,
                 who, sched_offer_word(o->status), when, sched_provider_name(n, o->provider),
                 sched_visit_type_name(n, o->visit_type),
                 o->status == PM__OFFER_STATUS__ACCEPTED && o->appointment_id ? ", booked" : "");
}

/* ---- waitlist add ---- */

static const char add_help[] =
    "usage: practice waitlist add MRN VISIT-TYPE [--provider P]... [--from DATE] [--to DATE]\n"
    "                             [--between HH:MM-HH:MM] [--priority N] [--note TEXT]\n"
    "\n"
    "Puts a patient on the waitlist for an earlier appointment. When a matching time frees\n"
    "up (a cancellation, a move), the server offers it to the waiting patient with the\n"
    "highest priority (then the longest waiting) and holds it for them for a while; the\n"
    "desk answers with 'practice waitlist accept|decline OFFER-ID'.\n"
    "\n"
    "Options:\n"
    "  --provider P     only with this provider (repeat for several; default: any)\n"
    "  --from DATE      not before this day\n"
    "  --to DATE        not after this day\n"
    "  --between SPAN   only within these hours, e.g. 09:00-12:00\n"
    "  --priority N     higher goes first (default 0)\n"
    "  --note TEXT      e.g. \"can come at short notice\"\n"
    "\n"
    "Example:\n"
    "  practice waitlist add 100016 checkup --provider dr-okafor --to 2026-12-20 \\\n"
    "      --between 09:00-12:00 --note \"prefers mornings\"\n";

static int cmd_add(cli *c, int argc, char **argv)
{
    enum { O_PROVIDER = 1, O_FROM, O_TO, O_BETWEEN, O_PRIORITY, O_NOTE };
    static const struct option opts[] = {{"provider", required_argument, 0, O_PROVIDER},
                                         {"from", required_argument, 0, O_FROM},
                                         {"to", required_argument, 0, O_TO},
                                         {"between", required_argument, 0, O_BETWEEN},
                                         {"priority", required_argument, 0, O_PRIORITY},
                                         {"note", required_argument, 0, O_NOTE},
                                         HELP_OPTION,
                                         END_OPTIONS};
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__AddToWaitlist *aw;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_ADD_TO_WAITLIST,
                                  &pm__add_to_waitlist__descriptor, (void **)&aw);
    Pm__WaitlistEntry *w = pm_msg_new(&a, &pm__waitlist_entry__descriptor);
    const char *from_s = NULL, *to_s = NULL;
    unsigned long priority = 0;
    int o, rc = e && w ? CLI_EXIT_OK : cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == O_PROVIDER && sched_list_add(&a, optarg, &w->providers, &w->n_providers))
            rc = cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
        else if (o == O_FROM)
            from_s = optarg;
        else if (o == O_TO)
            to_s = optarg;
        else if (o == O_BETWEEN)
            rc = sched_parse_span(c, "--between", optarg, &w->earliest_min, &w->latest_min);
        else if (o == O_PRIORITY)
            rc = cli_parse_uint(c, "--priority", optarg, 0, 1000, &priority);
        else if (o == O_NOTE)
            w->note = optarg;
    }
    if (rc || o != -1) {
        c->opt_active = 0;
        pm_arena_free(&a);
        return rc ? rc : cli_opt_exit(o);
    }
    if (argc - optind != 2) {
        pm_arena_free(&a);
        return cli_usage_error(c, "give the patient's MRN and the visit type");
    }
    w->patient_mrn = sched_mrn(&a, argv[optind]);
    w->visit_type = argv[optind + 1];
    w->priority = (uint32_t)priority;
    aw->entry = w;
    char from[11] = "", to[11] = "";
    if ((rc = cli_open(c)) == CLI_EXIT_OK)
        rc = sched_parse_dates(c, from_s, to_s, from, to);
    w->from_date = from;
    w->to_date = to;
    Pm__Envelope *resp = NULL;
    if (rc == CLI_EXIT_OK) {
        c->field_option = sched_field_option;
        rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_WAITLIST_OK, &resp);
    }
    if (rc == CLI_EXIT_OK && c->json) {
        cj_print(cj_message(&resp->waitlist_ok->entry->base));
    } else if (rc == CLI_EXIT_OK) {
        const Pm__WaitlistEntry *got = resp->waitlist_ok->entry;
        char who[200], window[96];
        sched_patient_text(got->patient_name, got->patient_mrn, who, sizeof who);
        window_text(got, window, sizeof window);
        printf("Waitlist entry %llu: %s for %s, %s (%s).\n", (unsigned long long)got->id, who,
               got->visit_type, window, sched_waitlist_word(got->status));
    }
    pm_arena_free(&a);
    return rc;
}

/* ---- waitlist list ---- */

static const char list_help[] =
    "usage: practice waitlist list [--all [--limit N] [--before ID]]\n"
    "\n"
    "The patients waiting for an earlier time, in the order offers go out, and the offers\n"
    "waiting for an answer with the time left to answer.\n"
    "\n"
    "Options:\n"
    "  --all         also the newest entries that are done with (scheduled or removed), and\n"
    "                the offers they had\n"
    "  --limit N     that many of those (default 100, at most 1000)\n"
    "  --before ID   those older than entry ID: the next page back\n";

static int print_waitlist(cli *c, const sched_names *n, const Pm__Waitlist *wl)
{
    if (c->json) {
        cj_print(cj_message(&wl->base));
        return CLI_EXIT_OK;
    }
    if (!wl->n_entries) {
        printf("Nobody is on the waitlist.\n");
    } else {
        static const char *const header[8] = {"ID",     "PATIENT",  "VISIT",  "PROVIDERS",
                                              "WINDOW", "PRIORITY", "STATUS", "NOTE"};
        cp_table t;
        int bad = cp_table_init(&t, 8, header);
        for (size_t i = 0; !bad && i < wl->n_entries; i++) {
            const Pm__WaitlistEntry *w = wl->entries[i];
            char id[24], who[200], provs[256], window[96], prio[16];
            snprintf(id, sizeof id, "%llu", (unsigned long long)w->id);
            sched_patient_text(w->patient_name, w->patient_mrn, who, sizeof who);
            list_text(w->providers, w->n_providers, "any", provs, sizeof provs);
            window_text(w, window, sizeof window);
            snprintf(prio, sizeof prio, "%u", w->priority);
            const char *row[8] = {id,     who,  sched_visit_type_name(n, w->visit_type), provs,
                                  window, prio, sched_waitlist_word(w->status),          w->note};
            bad = cp_table_row(&t, row);
        }
        int rc = cli_print_table(c, &t, bad);
        if (rc)
            return rc;
    }
    if (!wl->n_offers)
        return CLI_EXIT_OK;
    static const char *const header[7] = {"OFFER", "PATIENT", "WHEN",         "PROVIDER",
                                          "VISIT", "APPT",    "ANSWER WITHIN"};
    cp_table t;
    printf("\nOffers:\n");
    int bad = cp_table_init(&t, 7, header);
    for (size_t i = 0; !bad && i < wl->n_offers; i++) {
        const Pm__Offer *o = wl->offers[i];
        char id[24], who[200], when[64], left[48], appt[24] = "";
        snprintf(id, sizeof id, "%llu", (unsigned long long)o->id);
        sched_patient_text(o->patient_name, o->patient_mrn, who, sizeof who);
        sched_span(o->start, o->end, when, sizeof when);
        time_left(o, left, sizeof left);
        if (o->appointment_id)
            snprintf(appt, sizeof appt, "#%llu", (unsigned long long)o->appointment_id);
        const char *row[7] = {id,
                              who,
                              when,
                              sched_provider_name(n, o->provider),
                              sched_visit_type_name(n, o->visit_type),
                              appt,
                              left};
        bad = cp_table_row(&t, row);
    }
    return cli_print_table(c, &t, bad);
}

static int cmd_list(cli *c, int argc, char **argv)
{
    enum { O_ALL = 1, O_LIMIT, O_BEFORE };
    static const struct option opts[] = {{"all", no_argument, 0, O_ALL},
                                         {"limit", required_argument, 0, O_LIMIT},
                                         {"before", required_argument, 0, O_BEFORE},
                                         HELP_OPTION,
                                         END_OPTIONS};
    int all = 0, o, rc = CLI_EXIT_OK;
    unsigned long limit = 0, before = 0;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == O_ALL)
            all = 1;
        else if (o == O_LIMIT)
            rc = cli_parse_uint(c, "--limit", optarg, 1, 1000, &limit);
        else if (o == O_BEFORE)
            rc = cli_parse_uint(c, "--before", optarg, 1, ULONG_MAX, &before);
    }
    if (rc || o != -1) {
        c->opt_active = 0;
        return rc ? rc : cli_opt_exit(o);
    }
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if ((limit || before) && !all)
        return cli_usage_error(c, "--limit and --before page the closed entries: give --all");
    if ((rc = cli_open(c)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__ListWaitlist *lw;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_LIST_WAITLIST,
                                  &pm__list_waitlist__descriptor, (void **)&lw);
    if (e) {
        lw->include_closed = all;
        lw->closed_limit = (uint32_t)limit;
        lw->closed_before_id = before;
    }
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_WAITLIST, &resp);
    if (rc == CLI_EXIT_OK) {
        sched_names n = {0};
        if (!c->json)
            sched_names_load(c, &a, &n);
        const Pm__Waitlist *wl = resp->waitlist;
        rc = print_waitlist(c, &n, wl);
        if (rc == CLI_EXIT_OK && !c->json && wl->closed_before_next)
            printf("\nOlder entries: practice waitlist list --all --before %llu%s%s\n",
                   (unsigned long long)wl->closed_before_next, limit ? " --limit " : "",
                   limit ? pm_arena_printf(&a, "%lu", limit) : "");
    }
    pm_arena_free(&a);
    return rc;
}

/* ---- waitlist remove | accept | decline ---- */

static const char remove_help[] = "usage: practice waitlist remove ID\n"
                                  "\n"
                                  "Takes an entry off the waitlist (an open offer to it is "
                                  "withdrawn).\n";

static int cmd_remove(cli *c, int argc, char **argv)
{
    uint64_t id;
    int rc = sched_id_operand(c, argc, argv, "give one ID", "ID", &id);
    if (rc || (rc = cli_open(c)))
        return cli_scan_exit(rc);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__RemoveFromWaitlist *r;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_REMOVE_FROM_WAITLIST,
                                  &pm__remove_from_waitlist__descriptor, (void **)&r);
    if (e)
        r->id = id;
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_WAITLIST_OK, &resp);
    if (rc == CLI_EXIT_OK && c->json)
        cj_print(cj_message(&resp->waitlist_ok->entry->base));
    else if (rc == CLI_EXIT_OK)
        printf("Waitlist entry %llu removed.\n", (unsigned long long)id);
    pm_arena_free(&a);
    return rc;
}

static int answer_offer(cli *c, int argc, char **argv, int accept)
{
    uint64_t id;
    int rc = sched_id_operand(c, argc, argv, "give one OFFER-ID", "OFFER-ID", &id);
    if (rc || (rc = cli_open(c)))
        return cli_scan_exit(rc);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__AnswerOffer *ao;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_ANSWER_OFFER,
                                  &pm__answer_offer__descriptor, (void **)&ao);
    if (e) {
        ao->offer_id = id;
        ao->accept = accept;
        rc = pc_call(c->pc, e, &a, &resp);
        rc = rc ? cli_fail_call(c, rc) : CLI_EXIT_OK;
    } else {
        rc = cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    }
    if (rc == CLI_EXIT_OK && resp->body_case == PM__ENVELOPE__BODY_APPOINTMENT_OK) {
        sched_names n = {0};
        if (!c->json)
            sched_names_load(c, &a, &n);
        char headline[96];
        snprintf(headline, sizeof headline, "Offer %llu accepted: the appointment is booked.",
                 (unsigned long long)id);
        rc = sched_print_appointment(c, &n, resp->appointment_ok->appointment, headline);
    } else if (rc == CLI_EXIT_OK && resp->body_case == PM__ENVELOPE__BODY_WAITLIST_OK) {
        const Pm__WaitlistEntry *w = resp->waitlist_ok->entry;
        if (c->json)
            cj_print(cj_message(&w->base));
        else
            printf("Offer %llu %s; waitlist entry %llu is %s.\n", (unsigned long long)id,
                   accept ? "accepted" : "declined", (unsigned long long)w->id,
                   sched_waitlist_word(w->status));
    } else if (rc == CLI_EXIT_OK && resp->body_case == PM__ENVELOPE__BODY_OK) {
        if (c->json) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "offer_id", json_object_new_uint64(id));
            json_object_object_add(o, "accepted", json_object_new_boolean(accept));
            cj_print(o);
        } else {
            printf("Offer %llu %s.\n", (unsigned long long)id, accept ? "accepted" : "declined");
        }
    } else if (rc == CLI_EXIT_OK) {
        rc = cli_fail(c, PM_E_PROTOCOL, NULL, "the server gave an unexpected answer");
    }
    pm_arena_free(&a);
    return rc;
}

static const char accept_help[] =
    "usage: practice waitlist accept OFFER-ID\n"
    "\n"
    "The patient takes the time offered: the held appointment becomes theirs and they\n"
    "leave the waitlist. 'practice waitlist list' shows the open offers.\n";

static int cmd_accept(cli *c, int argc, char **argv)
{
    return answer_offer(c, argc, argv, 1);
}

static const char decline_help[] =
    "usage: practice waitlist decline OFFER-ID\n"
    "\n"
    "The patient does not want the time offered: it goes to the next one waiting, and\n"
    "they stay on the waitlist.\n";

static int cmd_decline(cli *c, int argc, char **argv)
{
    return answer_offer(c, argc, argv, 0);
}

/* ---- watch ---- */

static volatile sig_atomic_t stop_watching;

static void on_stop(int sig)
{
    (void)sig;
    stop_watching = 1;
}

typedef struct watcher {
    cli *c;
    const sched_names *n;
    unsigned long count, seen;
    int locked; /* the session ended: the exit code */
} watcher;

static void print_json_line(json_object *o)
{
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

static void print_event(watcher *w, const Pm__Event *ev)
{
    char stamp[32], line[1024];
    struct tm tm;
    time_t t = (time_t)ev->time;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    switch (ev->body_case) {
    case PM__EVENT__BODY_APPOINTMENT_CHANGED: {
        const Pm__AppointmentChanged *ac = ev->appointment_changed;
        if (ac->appointment)
            sched_appt_line(w->n, ac->appointment, line, sizeof line);
        else
            snprintf(line, sizeof line, "?");
        printf("%s  %-9s %s\n", stamp, ac->action, line);
        break;
    }
    case PM__EVENT__BODY_OFFER_CHANGED:
        if (ev->offer_changed->offer)
            offer_line(w->n, ev->offer_changed->offer, line, sizeof line);
        else
            snprintf(line, sizeof line, "offer ?");
        printf("%s  %-9s %s\n", stamp, "offer", line);
        break;
    case PM__EVENT__BODY_SETUP_CHANGED:
        printf("%s  %-9s %s changed\n", stamp, "set-up", ev->setup_changed->what);
        break;
    case PM__EVENT__BODY_PATIENT_CHANGED:
        printf("%s  %-9s patient %s %s\n", stamp, "patient",
               ev->patient_changed->patient ? ev->patient_changed->patient->mrn : "?",
               ev->patient_changed->action);
        break;
    default:
        printf("%s  %-9s event %llu on %s\n", stamp, "?", (unsigned long long)ev->seq,
               ev->n_topics ? ev->topics[0] : "?");
        break;
    }
}

static void on_event(void *ud, const Pm__Envelope *env)
{
    watcher *w = ud;
    if (env->body_case == PM__ENVELOPE__BODY_SESSION_LOCKED) {
        const Pm__SessionLocked *sl = env->session_locked;
        w->locked =
            cli_fail(w->c, sl && sl->reason ? -(int)sl->reason : PM_E_SESSION_EXPIRED, NULL,
                     "the session ended: %s", sl && *sl->message ? sl->message : "log in again");
        return;
    }
    if (env->body_case != PM__ENVELOPE__BODY_EVENT || !env->event)
        return;
    if (w->c->json)
        print_json_line(cj_message(&env->event->base));
    else
        print_event(w, env->event);
    fflush(stdout);
    w->seen++;
}

static const char watch_help[] =
    "usage: practice watch [TOPIC...] [--provider P]... [--location L [--day DATE]]\n"
    "                      [--count N] [--since SEQ]\n"
    "\n"
    "Prints every change as it happens, until Ctrl-C: appointments booked, moved,\n"
    "cancelled or marked, waitlist offers appearing and being answered or expiring, set-up\n"
    "changes. Without topics: the waitlist and every provider's schedule. With --json,\n"
    "one JSON object per line (the first says what is watched).\n"
    "\n"
    "Topics: waitlist, schedule/provider/ID, schedule/location/ID/YYYY-MM-DD, setup.\n"
    "\n"
    "Options:\n"
    "  --provider P    this provider's schedule (repeat for several)\n"
    "  --location L    this location's day (--day, default today)\n"
    "  --day DATE      with --location\n"
    "  --count N       stop after N changes\n"
    "  --since SEQ     first replay the changes after event SEQ\n"
    "\n"
    "Examples:\n"
    "  practice watch\n"
    "  practice watch waitlist\n"
    "  practice watch --provider dr-okafor --location main --day tomorrow\n";

typedef struct topics {
    char *v[WATCH_TOPICS_MAX];
    size_t n;
} topics;

static int add_topic(cli *c, pm_arena *a, topics *t, const char *s)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i], s) == 0)
            return CLI_EXIT_OK;
    if (t->n == WATCH_TOPICS_MAX)
        return cli_usage_error(c, "at most %d topics", WATCH_TOPICS_MAX);
    if (!(t->v[t->n] = pm_arena_strdup(a, s)))
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    t->n++;
    return CLI_EXIT_OK;
}

/* Follows the subscription until stopped: reconnects (the library resubscribes from the
 * last event seen) when the connection breaks. */
static int follow(cli *c, watcher *w)
{
    unsigned backoff = 250;
    while (!stop_watching && !w->locked && (!w->count || w->seen < w->count)) {
        int n = pc_poll(c->pc, POLL_MS);
        if (n >= 0) {
            backoff = 250;
            continue;
        }
        if (stop_watching)
            break;
        fprintf(stderr, "%s: connection lost (%s); reconnecting\n", c->name, pm_strerror(n));
        int rc;
        while (!stop_watching && (rc = pc_reconnect(c->pc)) != PM_OK) {
            if (!pc_transport_error(rc) && rc != PM_E_SHUTTING_DOWN)
                return cli_fail_call(c, rc);
            struct timespec ts = {backoff / 1000, (long)(backoff % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            backoff = backoff * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : backoff * 2;
        }
    }
    return w->locked ? w->locked : CLI_EXIT_OK;
}

static int cmd_watch(cli *c, int argc, char **argv)
{
    enum { O_PROVIDER = 1, O_LOCATION, O_DAY, O_COUNT, O_SINCE };
    static const struct option opts[] = {{"provider", required_argument, 0, O_PROVIDER},
                                         {"location", required_argument, 0, O_LOCATION},
                                         {"day", required_argument, 0, O_DAY},
                                         {"count", required_argument, 0, O_COUNT},
                                         {"since", required_argument, 0, O_SINCE},
                                         HELP_OPTION,
                                         END_OPTIONS};
    pm_arena a;
    pm_arena_init(&a, 0);
    topics t = {.n = 0};
    const char *providers[WATCH_TOPICS_MAX], *locations[WATCH_TOPICS_MAX], *day_s = NULL;
    size_t np = 0, nl = 0;
    unsigned long count = 0, since = 0;
    int o, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == O_PROVIDER && np < WATCH_TOPICS_MAX)
            providers[np++] = optarg;
        else if (o == O_LOCATION && nl < WATCH_TOPICS_MAX)
            locations[nl++] = optarg;
        else if (o == O_DAY)
            day_s = optarg;
        else if (o == O_COUNT)
            rc = cli_parse_uint(c, "--count", optarg, 1, 1000000, &count);
        else if (o == O_SINCE)
            rc = cli_parse_uint(c, "--since", optarg, 0, (unsigned long)-1, &since);
    }
    if (rc || o != -1) {
        c->opt_active = 0;
        pm_arena_free(&a);
        return rc ? rc : cli_opt_exit(o);
    }
    if (day_s && !nl) {
        pm_arena_free(&a);
        return cli_usage_error(c, "--day goes with --location");
    }
    if ((rc = cli_open(c))) {
        pm_arena_free(&a);
        return rc;
    }
    char day[11];
    pm_local_date(time(NULL), day);
    if (day_s)
        rc = sched_parse_date(c, "--day", day_s, day);
    for (int i = optind; rc == CLI_EXIT_OK && i < argc; i++)
        rc = add_topic(c, &a, &t, argv[i]);
    char topic[128];
    for (size_t i = 0; rc == CLI_EXIT_OK && i < np; i++) {
        snprintf(topic, sizeof topic, "schedule/provider/%s", providers[i]);
        rc = add_topic(c, &a, &t, topic);
    }
    for (size_t i = 0; rc == CLI_EXIT_OK && i < nl; i++) {
        snprintf(topic, sizeof topic, "schedule/location/%s/%s", locations[i], day);
        rc = add_topic(c, &a, &t, topic);
    }
    sched_names n;
    sched_names_load(c, &a, &n);
    if (rc == CLI_EXIT_OK && !t.n) {
        rc = add_topic(c, &a, &t, "waitlist");
        for (size_t i = 0; rc == CLI_EXIT_OK && n.s && i < n.s->n_providers; i++) {
            snprintf(topic, sizeof topic, "schedule/provider/%s", n.s->providers[i]->id);
            rc = add_topic(c, &a, &t, topic);
        }
    }
    watcher w = {.c = c, .n = &n, .count = count};
    Pm__Subscribed *sub = NULL;
    if (rc == CLI_EXIT_OK) {
        pc_on_event(c->pc, on_event, &w);
        int err = pc_subscribe(c->pc, (const char *const *)t.v, t.n, since, &a, &sub);
        if (err)
            rc = cli_fail_call(c, err);
    }
    if (rc == CLI_EXIT_OK) {
        if (c->json) {
            json_object *head = json_object_new_object(), *arr = json_object_new_array();
            for (size_t i = 0; i < t.n; i++)
                json_object_array_add(arr, cj_string(t.v[i]));
            json_object_object_add(head, "watching", arr);
            json_object_object_add(head, "last_seq", json_object_new_uint64(sub->last_seq));
            json_object_object_add(head, "replayed", json_object_new_int64(sub->replayed));
            print_json_line(head);
        } else {
            printf("Watching");
            for (size_t i = 0; i < t.n; i++)
                printf("%s %s", i ? "," : "", t.v[i]);
            printf(" (Ctrl-C to stop).\n");
        }
        fflush(stdout);
        cli_catch_stop(on_stop, 0);
        rc = follow(c, &w);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        pc_on_event(c->pc, NULL, NULL);
    }
    pm_arena_free(&a);
    return rc;
}

static int cmd_waitlist_watch(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"count", required_argument, 0, 'n'}, HELP_OPTION, END_OPTIONS};
    unsigned long count = 0;
    int o, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0)
        rc = cli_parse_uint(c, "--count", optarg, 1, 1000000, &count);
    if (rc) {
        c->opt_active = 0;
        return rc;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    char count_s[24];
    snprintf(count_s, sizeof count_s, "%lu", count);
    char *args[] = {argv[0], "waitlist", count ? "--count" : NULL, count ? count_s : NULL, NULL};
    return cmd_watch(c, count ? 4 : 2, args);
}

static const char wwatch_help[] =
    "usage: practice waitlist watch [--count N]\n"
    "\n"
    "Prints offers as they appear, are answered and expire (and the held appointments),\n"
    "until Ctrl-C: 'practice watch waitlist'.\n";

const cli_cmd cli_waitlist_cmds[] = {
    {"add", "put a patient on the waitlist", add_help, cmd_add, NULL, NULL},
    {"list", "who is waiting, and the open offers", list_help, cmd_list, NULL, NULL},
    {"remove", "take an entry off the waitlist", remove_help, cmd_remove, NULL, NULL},
    {"accept", "the patient takes the time offered", accept_help, cmd_accept, NULL, NULL},
    {"decline", "the patient does not want it", decline_help, cmd_decline, NULL, NULL},
    {"watch", "offers as they happen", wwatch_help, cmd_waitlist_watch, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const cli_cmd cli_watch_cmds[] = {
    {"watch", "changes as they happen", watch_help, cmd_watch, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
