/* Appointments: practice slots (free times, remembered for book --slot), practice book
 * (one appointment or a recurring series), practice appts (a patient's), and practice
 * appt show | move | cancel | no-show | notes. Changes name the version they read, so a
 * change made meanwhile at another desk is not overwritten. */
#include "cli_sched.h"

#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SLOTS_FILE      "slots"
#define SLOTS_FILE_MAX  (64 * 1024)
#define SLOTS_MAX       100
#define SERIES_LOOKUPS  20 /* conflicts of a series looked up by name, at most */
#define APPTS_LIMIT_MAX 500

/* ---- answers ---- */

/* Sends req and expects one of two kinds of answer (an appointment, or a series'
 * results); reports failures like cli_call. */
static int call2(cli *c, Pm__Envelope *req, pm_arena *a, Pm__Envelope__BodyCase want1,
                 Pm__Envelope__BodyCase want2, Pm__Envelope **resp)
{
    if (!req)
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    Pm__Envelope *r = NULL;
    int rc = pc_call(c->pc, req, a, &r);
    if (rc)
        return cli_fail_call(c, rc);
    if (!r || (r->body_case != want1 && r->body_case != want2))
        return cli_fail(c, PM_E_PROTOCOL, NULL, "the server gave an unexpected answer");
    *resp = r;
    return CLI_EXIT_OK;
}

/* Why an occurrence of a series could not be done: the server's reason and the
 * appointments in the way (looked up while *lookups allows). */
static void occurrence_why(cli *c, const Pm__Error *e, size_t *lookups, char *why, size_t n)
{
    char conflicts[1200] = "";
    size_t nids = e->n_conflicts < CLI_CONFLICTS_MAX ? e->n_conflicts : CLI_CONFLICTS_MAX;
    if (*lookups + nids > SERIES_LOOKUPS)
        nids = 0;
    *lookups += nids;
    if (nids) {
        snprintf(conflicts, sizeof conflicts, "conflicts with ");
        cli_describe_conflicts(c, e->conflicts, nids, e->n_conflicts, conflicts + 15,
                               sizeof conflicts - 15, NULL);
        for (char *nl = strchr(conflicts, '\n'); nl; nl = strchr(nl, '\n'))
            *nl = ';'; /* one line per occurrence */
    } else if (e->n_conflicts) {
        snprintf(conflicts, sizeof conflicts, "conflicts with #%llu%s",
                 (unsigned long long)e->conflicts[0], e->n_conflicts > 1 ? " and others" : "");
    }
    snprintf(why, n, "%s%s%s", *e->message ? e->message : pm_strerror(-(int)e->code),
             *conflicts ? ": " : "", conflicts);
}

/* The results of a series, one line per occurrence: done (booked, moved...), or why not,
 * or free but left alone because all or none was asked. */
static int print_series(cli *c, const sched_names *n, const Pm__SeriesResult *sr, const char *verb)
{
    size_t done = 0, failed = 0, lookups = 0;
    int first_err = 0;
    for (size_t i = 0; i < sr->n_occurrences; i++) {
        const Pm__Occurrence *oc = sr->occurrences[i];
        if (oc->conflict && !failed++)
            first_err = -(int)oc->conflict->code;
        else if (oc->appointment && !oc->conflict)
            done++;
    }
    if (c->json) {
        cj_print(cj_message(&sr->base));
    } else {
        char series[32] = "";
        if (sr->series_id)
            snprintf(series, sizeof series, " #%llu", (unsigned long long)sr->series_id);
        printf("Series%s: %zu of %zu occurrence%s %s%s\n", series, done, sr->n_occurrences,
               sr->n_occurrences == 1 ? "" : "s", verb, sr->applied ? "." : "; nothing was done.");
        for (size_t i = 0; i < sr->n_occurrences; i++) {
            const Pm__Occurrence *oc = sr->occurrences[i];
            const Pm__Appointment *ap = oc->appointment;
            char when[64], why[1600];
            if (ap && !oc->conflict) {
                sched_span(ap->start, ap->end, when, sizeof when);
                printf("  %-28s  %s #%llu%s%s\n", when, verb, (unsigned long long)ap->id,
                       *ap->room ? ", " : "", *ap->room ? sched_room_name(n, ap->room) : "");
                continue;
            }
            sched_span(oc->start, oc->start, when, sizeof when);
            if (oc->conflict) {
                occurrence_why(c, oc->conflict, &lookups, why, sizeof why);
                printf("  %-28s  not %s: %s\n", when, verb, why);
            } else {
                printf("  %-28s  free, not %s: all or none\n", when, verb);
            }
        }
    }
    if (!sr->applied || (done == 0 && sr->n_occurrences)) {
        int err = first_err ? first_err : PM_E_CONFLICT;
        return cli_fail(c, err, NULL, "nothing %s: %zu of %zu occurrence%s conflict%s", verb,
                        failed, sr->n_occurrences, sr->n_occurrences == 1 ? "" : "s",
                        sr->applied ? "" : " (--free-ones does those that fit)");
    }
    return CLI_EXIT_OK;
}

/* "Booked appointment #12: Tue 2026-12-01 09:30-09:50." from what ("Booked"). */
static int print_answer(cli *c, const sched_names *n, const Pm__Envelope *resp, const char *verb,
                        const char *what)
{
    if (resp->body_case == PM__ENVELOPE__BODY_SERIES_RESULT)
        return print_series(c, n, resp->series_result, verb);
    const Pm__Appointment *ap = resp->appointment_ok->appointment;
    char headline[256], when[64];
    sched_span(ap->start, ap->end, when, sizeof when);
    snprintf(headline, sizeof headline, "%s appointment #%llu: %s.", what,
             (unsigned long long)ap->id, when);
    return sched_print_appointment(c, n, ap, headline);
}

/* Sends a booking, move or cancellation (e, in a) and prints the appointment or, for a
 * series, each occurrence's outcome. */
static int send_appt_change(cli *c, pm_arena *a, Pm__Envelope *e, const char *verb,
                            const char *what)
{
    Pm__Envelope *resp = NULL;
    c->field_option = sched_field_option;
    int rc =
        call2(c, e, a, PM__ENVELOPE__BODY_APPOINTMENT_OK, PM__ENVELOPE__BODY_SERIES_RESULT, &resp);
    if (rc)
        return rc;
    sched_names n = {0};
    if (!c->json)
        sched_names_load(c, a, &n);
    return print_answer(c, &n, resp, verb, what);
}

/* ---- slots remembered for book --slot ---- */

typedef struct saved_slot {
    char provider[40], location[40], room[40];
    int64_t start, end;
} saved_slot;

static int save_slots(cli *c, const char *visit_type, const Pm__SlotList *sl)
{
    size_t cap = 512 + sl->n_slots * 200;
    char *text = malloc(cap);
    if (!text)
        return PM_E_NOMEM;
    size_t used = (size_t)snprintf(text, cap,
                                   "# The last 'practice slots' listing: 'practice book MRN "
                                   "--slot N' books from it.\nserver %s:%d\nvisit_type %s\n",
                                   c->cfg.host, c->cfg.port, visit_type);
    for (size_t i = 0; i < sl->n_slots && used < cap; i++) {
        const Pm__Slot *s = sl->slots[i];
        int w = snprintf(text + used, cap - used, "slot %s %s %lld %lld %s\n", s->provider,
                         *s->location ? s->location : "-", (long long)s->start, (long long)s->end,
                         *s->room ? s->room : "-");
        used = w < 0 ? cap : used + (size_t)w;
    }
    int rc = used < cap ? cfg_save_file(&c->cfg, SLOTS_FILE, text) : PM_E_NOMEM;
    free(text);
    return rc;
}

/* The nth slot (from 1) of the last listing, and its visit type. */
static int load_slot(cli *c, unsigned long nth, char *visit_type, size_t vn, saved_slot *out)
{
    char *text = malloc(SLOTS_FILE_MAX);
    if (!text)
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    int rc = cfg_load_file(&c->cfg, SLOTS_FILE, text, SLOTS_FILE_MAX);
    if (rc) {
        free(text);
        if (rc == PM_E_NOT_FOUND)
            return cli_fail(c, PM_E_USAGE, "--slot",
                            "no slots listed yet: run 'practice slots VISIT-TYPE' first");
        return cli_fail(c, rc, NULL, "cannot read %s/%s: %s", c->cfg.dir, SLOTS_FILE,
                        pm_strerror(rc));
    }
    char server[CLI_HOST_MAX + 16], want[CLI_HOST_MAX + 16];
    snprintf(want, sizeof want, "%s:%d", c->cfg.host, c->cfg.port);
    server[0] = visit_type[0] = 0;
    unsigned long count = 0;
    int found = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (sscanf(line, "server %271s", server) == 1)
            continue;
        if (strncmp(line, "visit_type ", 11) == 0) {
            snprintf(visit_type, vn, "%s", line + 11);
            continue;
        }
        long long start, end;
        saved_slot s;
        if (sscanf(line, "slot %39s %39s %lld %lld %39s", s.provider, s.location, &start, &end,
                   s.room) != 5)
            continue;
        if (++count != nth)
            continue;
        if (strcmp(s.location, "-") == 0)
            s.location[0] = 0;
        if (strcmp(s.room, "-") == 0)
            s.room[0] = 0;
        s.start = start;
        s.end = end;
        *out = s;
        found = 1;
    }
    free(text);
    if (strcmp(server, want) != 0)
        return cli_fail(c, PM_E_USAGE, "--slot",
                        "the last slots listed were another server's: run 'practice slots' again");
    if (!found)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, "--slot",
                        "--slot %lu: the last listing had %lu slot%s", nth, count,
                        count == 1 ? "" : "s");
    return CLI_EXIT_OK;
}

/* ---- slots ---- */

static const char slots_help[] =
    "usage: practice slots VISIT-TYPE [--provider P]... [--location L] [--from DATE]\n"
    "                      [--to DATE] [--between HH:MM-HH:MM] [--count N] [--patient MRN]\n"
    "\n"
    "Lists the next free times for a visit type, earliest first, numbered: 'practice book\n"
    "MRN VISIT-TYPE --slot N' then books the Nth (the listing is kept in the configuration\n"
    "directory until the next one).\n"
    "\n"
    "Options:\n"
    "  --provider P         only this provider (repeat for several; default: everyone who\n"
    "                       offers the visit type)\n"
    "  --location L         only at this location\n"
    "  --from DATE          from this day (default today)\n"
    "  --to DATE            up to this day (default: eight weeks on)\n"
    "  --between SPAN       only within these hours of the day, e.g. 09:00-12:00\n"
    "  --count N            at most N slots (default 10, at most 100)\n"
    "  --patient MRN        leave out times this patient is already booked\n"
    "\n"
    "Examples:\n"
    "  practice slots checkup\n"
    "  practice slots checkup --provider dr-okafor --from mon --between 14:00-18:00\n";

static int print_slots(cli *c, const sched_names *n, const char *visit_type, const Pm__SlotList *sl)
{
    if (c->json) {
        cj_print(cj_message(&sl->base));
        return CLI_EXIT_OK;
    }
    if (!sl->n_slots) {
        printf("No free slots for %s in that range.\n", sched_visit_type_name(n, visit_type));
        return CLI_EXIT_OK;
    }
    const Pm__VisitType *vt = sched_find_visit_type(n, visit_type);
    if (vt)
        printf("Free slots for %s (%u min):\n", vt->name, vt->duration_min);
    static const char *const header[4] = {"#", "WHEN", "PROVIDER", "WHERE"};
    cp_table t;
    int bad = cp_table_init(&t, 4, header);
    for (size_t i = 0; !bad && i < sl->n_slots; i++) {
        const Pm__Slot *s = sl->slots[i];
        char num[24], when[64], where[200];
        snprintf(num, sizeof num, "%zu", i + 1);
        sched_span(s->start, s->end, when, sizeof when);
        snprintf(where, sizeof where, "%s%s%s", sched_location_name(n, s->location),
                 *s->room ? ", " : "", *s->room ? sched_room_name(n, s->room) : "");
        const char *row[4] = {num, when, sched_provider_name(n, s->provider), where};
        bad = cp_table_row(&t, row);
    }
    if ((bad = cli_print_table(c, &t, bad)))
        return bad;
    printf("Book one: practice book MRN %s --slot N\n", visit_type);
    return CLI_EXIT_OK;
}

static int cmd_slots(cli *c, int argc, char **argv)
{
    enum { O_PROVIDER = 1, O_LOCATION, O_FROM, O_TO, O_BETWEEN, O_COUNT, O_PATIENT };
    static const struct option opts[] = {{"provider", required_argument, 0, O_PROVIDER},
                                         {"location", required_argument, 0, O_LOCATION},
                                         {"from", required_argument, 0, O_FROM},
                                         {"to", required_argument, 0, O_TO},
                                         {"between", required_argument, 0, O_BETWEEN},
                                         {"count", required_argument, 0, O_COUNT},
                                         {"patient", required_argument, 0, O_PATIENT},
                                         HELP_OPTION,
                                         END_OPTIONS};
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__FindSlots *q;
    Pm__Envelope *e =
        cli_request(&a, PM__ENVELOPE__BODY_FIND_SLOTS, &pm__find_slots__descriptor, (void **)&q);
    const char *from_s = NULL, *to_s = NULL;
    unsigned long count = 10;
    int o, rc = e ? CLI_EXIT_OK : cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == O_PROVIDER && sched_list_add(&a, optarg, &q->providers, &q->n_providers))
            rc = cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
        else if (o == O_LOCATION)
            q->location = optarg;
        else if (o == O_FROM)
            from_s = optarg;
        else if (o == O_TO)
            to_s = optarg;
        else if (o == O_BETWEEN)
            rc = sched_parse_span(c, "--between", optarg, &q->earliest_min, &q->latest_min);
        else if (o == O_COUNT)
            rc = cli_parse_uint(c, "--count", optarg, 1, SLOTS_MAX, &count);
        else if (o == O_PATIENT)
            q->patient_mrn = sched_mrn(&a, optarg);
    }
    if (rc || o != -1) {
        c->opt_active = 0;
        pm_arena_free(&a);
        return rc ? rc : cli_opt_exit(o);
    }
    if (argc - optind != 1) {
        pm_arena_free(&a);
        return cli_usage_error(c, "give one visit type");
    }
    q->visit_type = argv[optind];
    q->count = (uint32_t)count;
    char from[11] = "", to[11] = "";
    if ((rc = cli_open(c)) == CLI_EXIT_OK)
        rc = sched_parse_dates(c, from_s, to_s, from, to);
    q->from_date = from;
    q->to_date = to;
    Pm__Envelope *resp = NULL;
    sched_names n = {0};
    if (rc == CLI_EXIT_OK) {
        c->field_option = sched_field_option;
        rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_SLOT_LIST, &resp);
    }
    if (rc == CLI_EXIT_OK) {
        int saved = save_slots(c, q->visit_type, resp->slot_list);
        if (!c->json)
            sched_names_load(c, &a, &n);
        rc = print_slots(c, &n, q->visit_type, resp->slot_list);
        if (saved && !c->json)
            fprintf(stderr, "%s: cannot remember the listing for --slot: %s\n", c->name,
                    pm_strerror(saved));
    }
    pm_arena_free(&a);
    return rc;
}

/* ---- book ---- */

static const char book_help[] =
    "usage: practice book MRN VISIT-TYPE --provider P --at WHEN [options]\n"
    "       practice book MRN [VISIT-TYPE] --slot N [options]\n"
    "\n"
    "Books an appointment, or with --repeat a recurring series. The time must be within\n"
    "the provider's hours, free for the patient and, when the visit type needs one, with\n"
    "a free room; otherwise nothing is booked and the command says what it conflicts with\n"
    "(exit 7). --slot N books the Nth slot of the last 'practice slots' listing.\n"
    "\n"
    "Options:\n"
    "  --provider P          who the patient sees\n"
    "  --at WHEN             when it starts\n"
    "  --slot N              the Nth slot of the last 'practice slots' listing\n"
    "  --minutes N           how long (default: the visit type's)\n"
    "  --location L          where (default: where the provider works then)\n"
    "  --room R              which room (default: any free one, when the visit needs one)\n"
    "  --notes TEXT          for the provider and the desk\n"
    "  --override            managers: book outside the hours or over capacity\n"
    "  --reason TEXT         why (with --override)\n"
    "  --repeat RULE         a series: \"every 2 weeks on mon,thu until 2027-03-01\",\n"
    "                        \"weekly 6 times\", \"every day until fri\", \"monthly\"\n"
    "  --repeat-count N      at most N occurrences (alone: weekly, N times)\n"
    "  --free-ones           book the occurrences that fit even if others conflict\n"
    "                        (default: all or none)\n"
    "\n" SCHED_WHEN_HELP "\n"
    "Examples:\n"
    "  practice book 100016 checkup --provider dr-okafor --at \"tomorrow 9:00\"\n"
    "  practice slots checkup --provider dr-lee && practice book 100016 checkup --slot 2\n"
    "  practice book 100016 physio --provider dr-lee --at \"mon 10:00\" \\\n"
    "      --repeat \"every week on mon,thu until 2027-03-01\" --free-ones\n";

static int unit_of(const char *w, Pm__RepeatUnit *u)
{
    static const struct {
        const char *word;
        Pm__RepeatUnit unit;
    } units[] = {{"day", PM__REPEAT_UNIT__DAYS},     {"days", PM__REPEAT_UNIT__DAYS},
                 {"week", PM__REPEAT_UNIT__WEEKS},   {"weeks", PM__REPEAT_UNIT__WEEKS},
                 {"month", PM__REPEAT_UNIT__MONTHS}, {"months", PM__REPEAT_UNIT__MONTHS}};
    for (size_t i = 0; i < PM_ARRAY_LEN(units); i++)
        if (strcasecmp(w, units[i].word) == 0) {
            *u = units[i].unit;
            return 0;
        }
    return -1;
}

/* "every 2 weeks on mon,thu until 2027-03-01", "weekly 6 times", "daily until fri". */
static int parse_repeat(cli *c, const char *s, pm_arena *a, Pm__Recurrence *r)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        goto bad;
    snprintf(buf, sizeof buf, "%s", s);
    char *tok[16];
    size_t nt = 0;
    for (char *p = strtok(buf, " \t"); p; p = strtok(NULL, " \t")) {
        if (nt == PM_ARRAY_LEN(tok))
            goto bad;
        tok[nt++] = p;
    }
    size_t i = 0;
    r->interval = 1;
    if (i < nt && strcasecmp(tok[i], "every") == 0) {
        i++;
        char *end;
        unsigned long n = i < nt ? strtoul(tok[i], &end, 10) : 0;
        if (i < nt && isdigit((unsigned char)tok[i][0]) && !*end) {
            if (n < 1 || n > 365)
                goto bad;
            r->interval = (uint32_t)n;
            i++;
        }
        if (i >= nt || unit_of(tok[i++], &r->unit) != 0)
            goto bad;
    } else if (i < nt) {
        static const struct {
            const char *word;
            Pm__RepeatUnit unit;
            uint32_t interval;
        } adverbs[] = {{"daily", PM__REPEAT_UNIT__DAYS, 1},
                       {"weekly", PM__REPEAT_UNIT__WEEKS, 1},
                       {"fortnightly", PM__REPEAT_UNIT__WEEKS, 2},
                       {"biweekly", PM__REPEAT_UNIT__WEEKS, 2},
                       {"monthly", PM__REPEAT_UNIT__MONTHS, 1}};
        size_t k;
        for (k = 0; k < PM_ARRAY_LEN(adverbs); k++)
            if (strcasecmp(tok[i], adverbs[k].word) == 0)
                break;
        if (k == PM_ARRAY_LEN(adverbs))
            goto bad;
        r->unit = adverbs[k].unit;
        r->interval = adverbs[k].interval;
        i++;
    } else {
        goto bad;
    }
    while (i < nt) {
        if (strcasecmp(tok[i], "on") == 0 && i + 1 < nt) {
            unsigned mask = sched_parse_weekdays(tok[i + 1]);
            if (!mask || r->unit != PM__REPEAT_UNIT__WEEKS)
                goto bad;
            r->weekdays = pm_arena_alloc(a, sizeof *r->weekdays * 7);
            if (!r->weekdays)
                return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
            r->n_weekdays = 0;
            for (unsigned d = 1; d <= 7; d++)
                if (mask & (1u << d))
                    r->weekdays[r->n_weekdays++] = d;
            i += 2;
        } else if (strcasecmp(tok[i], "until") == 0 && i + 1 < nt) {
            char date[11];
            int rc = sched_parse_date(c, "--repeat until", tok[i + 1], date);
            if (rc)
                return rc;
            r->until = pm_arena_strdup(a, date);
            i += 2;
        } else if (i + 1 < nt && strcasecmp(tok[i + 1], "times") == 0) {
            unsigned long n;
            int rc = cli_parse_uint(c, "--repeat N times", tok[i], 1, 1000, &n);
            if (rc)
                return rc;
            r->count = (uint32_t)n;
            i += 2;
        } else {
            goto bad;
        }
    }
    return CLI_EXIT_OK;
bad:
    return cli_fail(c, PM_E_INVALID_ARGUMENT, "--repeat",
                    "--repeat \"%s\": give e.g. \"every 2 weeks on mon,thu until 2027-03-01\", "
                    "\"weekly 6 times\" or \"daily until fri\"",
                    s);
}

typedef struct book_args {
    const char *provider, *at, *location, *room, *notes, *reason, *repeat;
    unsigned long minutes, slot, repeat_count;
    int override, free_ones;
} book_args;

static int scan_book(cli *c, int argc, char **argv, book_args *b)
{
    enum {
        O_PROVIDER = 1,
        O_AT,
        O_SLOT,
        O_MINUTES,
        O_LOCATION,
        O_ROOM,
        O_NOTES,
        O_OVERRIDE,
        O_REASON,
        O_REPEAT,
        O_REPEAT_COUNT,
        O_FREE_ONES
    };
    static const struct option opts[] = {{"provider", required_argument, 0, O_PROVIDER},
                                         {"at", required_argument, 0, O_AT},
                                         {"slot", required_argument, 0, O_SLOT},
                                         {"minutes", required_argument, 0, O_MINUTES},
                                         {"location", required_argument, 0, O_LOCATION},
                                         {"room", required_argument, 0, O_ROOM},
                                         {"notes", required_argument, 0, O_NOTES},
                                         {"override", no_argument, 0, O_OVERRIDE},
                                         {"reason", required_argument, 0, O_REASON},
                                         {"repeat", required_argument, 0, O_REPEAT},
                                         {"repeat-count", required_argument, 0, O_REPEAT_COUNT},
                                         {"free-ones", no_argument, 0, O_FREE_ONES},
                                         HELP_OPTION,
                                         END_OPTIONS};
    memset(b, 0, sizeof *b);
    int o, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        switch (o) {
        case O_PROVIDER:
            b->provider = optarg;
            break;
        case O_AT:
            b->at = optarg;
            break;
        case O_SLOT:
            rc = cli_parse_uint(c, "--slot", optarg, 1, SLOTS_MAX, &b->slot);
            break;
        case O_MINUTES:
            rc = cli_parse_uint(c, "--minutes", optarg, 1, 720, &b->minutes);
            break;
        case O_LOCATION:
            b->location = optarg;
            break;
        case O_ROOM:
            b->room = optarg;
            break;
        case O_NOTES:
            b->notes = optarg;
            break;
        case O_OVERRIDE:
            b->override = 1;
            break;
        case O_REASON:
            b->reason = optarg;
            break;
        case O_REPEAT:
            b->repeat = optarg;
            break;
        case O_REPEAT_COUNT:
            rc = cli_parse_uint(c, "--repeat-count", optarg, 1, 1000, &b->repeat_count);
            break;
        default:
            b->free_ones = 1;
            break;
        }
    }
    if (rc) {
        c->opt_active = 0;
        return rc;
    }
    if (o == CLI_OPT_HELP)
        return o;
    if (o != -1)
        return CLI_EXIT_USAGE;
    int operands = argc - optind;
    if (operands < 1 || operands > 2 || (operands == 1 && !b->slot))
        return cli_usage_error(c, "give the patient's MRN and the visit type");
    if (b->slot && (b->provider || b->at))
        return cli_usage_error(c, "give --slot, or --provider and --at, not both");
    if (!b->slot && (!b->provider || !b->at))
        return cli_usage_error(c, "missing:%s%s", b->provider ? "" : " --provider",
                               b->at ? "" : " --at");
    if (b->reason && !b->override)
        return cli_usage_error(c, "--reason goes with --override");
    if (b->free_ones && !b->repeat && !b->repeat_count)
        return cli_usage_error(c, "--free-ones is for a series (--repeat)");
    return CLI_EXIT_OK;
}

static int cmd_book(cli *c, int argc, char **argv)
{
    book_args b;
    int rc = scan_book(c, argc, argv, &b);
    if (rc)
        return rc == CLI_OPT_HELP ? CLI_EXIT_OK : rc;
    if ((rc = cli_open(c)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Book *bk;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_BOOK, &pm__book__descriptor, (void **)&bk);
    if (!e) {
        pm_arena_free(&a);
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    }
    bk->patient_mrn = sched_mrn(&a, argv[optind]);
    bk->visit_type = optind + 1 < argc ? argv[optind + 1] : "";
    if (b.slot) {
        char listed_type[64];
        saved_slot s;
        rc = load_slot(c, b.slot, listed_type, sizeof listed_type, &s);
        if (rc == CLI_EXIT_OK && *bk->visit_type && strcmp(bk->visit_type, listed_type) != 0)
            rc = cli_fail(c, PM_E_USAGE, "--slot",
                          "the last slots listed were for %s, not %s: run 'practice slots %s'",
                          listed_type, bk->visit_type, bk->visit_type);
        if (rc == CLI_EXIT_OK) {
            bk->visit_type = pm_arena_strdup(&a, listed_type);
            bk->provider = pm_arena_strdup(&a, s.provider);
            bk->start = s.start;
            if (!b.location)
                bk->location = pm_arena_strdup(&a, s.location);
            if (!b.room)
                bk->room = pm_arena_strdup(&a, s.room);
        }
    } else {
        bk->provider = (char *)b.provider;
        rc = sched_parse_when(c, "--at", b.at, &bk->start);
    }
    if (b.location)
        bk->location = (char *)b.location;
    if (b.room)
        bk->room = (char *)b.room;
    bk->duration_min = (uint32_t)b.minutes;
    bk->notes = (char *)(b.notes ? b.notes : "");
    bk->override = b.override;
    bk->override_reason = (char *)(b.reason ? b.reason : "");
    if (rc == CLI_EXIT_OK && (b.repeat || b.repeat_count)) {
        bk->repeat = pm_msg_new(&a, &pm__recurrence__descriptor);
        if (!bk->repeat)
            rc = cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
        else if (b.repeat)
            rc = parse_repeat(c, b.repeat, &a, bk->repeat);
        else
            bk->repeat->interval = 1, bk->repeat->unit = PM__REPEAT_UNIT__WEEKS;
        if (rc == CLI_EXIT_OK && b.repeat_count)
            bk->repeat->count = (uint32_t)b.repeat_count;
        bk->series_mode = b.free_ones ? PM__SERIES_MODE__FREE_ONES : PM__SERIES_MODE__ALL_OR_NONE;
    }
    if (rc == CLI_EXIT_OK)
        rc = send_appt_change(c, &a, e, "booked", "Booked");
    pm_arena_free(&a);
    return rc;
}

/* ---- appts ---- */

static const char appts_help[] =
    "usage: practice appts MRN [--past] [--limit N]\n"
    "\n"
    "A patient's appointments: the coming ones, soonest first, or with --past the earlier\n"
    "ones, latest first.\n"
    "\n"
    "Options:\n"
    "  --past      earlier appointments instead\n"
    "  --limit N   at most N (default 20)\n"
    "\n"
    "Example:\n"
    "  practice appts 100016\n";

static int print_appointments(cli *c, const sched_names *n, const Pm__AppointmentList *al,
                              const char *none)
{
    if (c->json) {
        cj_print_messages((void *const *)al->appointments, al->n_appointments);
        return CLI_EXIT_OK;
    }
    if (!al->n_appointments) {
        printf("%s\n", none);
        return CLI_EXIT_OK;
    }
    cp_table t;
    int bad = cp_table_init(&t, SCHED_APPT_COLS, sched_appt_header);
    for (size_t i = 0; !bad && i < al->n_appointments; i++)
        bad = sched_appt_row(&t, n, al->appointments[i]);
    return cli_print_table(c, &t, bad);
}

static int cmd_appts(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"past", no_argument, 0, 'p'},
                                         {"limit", required_argument, 0, 'l'},
                                         HELP_OPTION,
                                         END_OPTIONS};
    int past = 0, o, rc = CLI_EXIT_OK;
    unsigned long limit = 20;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == 'p')
            past = 1;
        else
            rc = cli_parse_uint(c, "--limit", optarg, 1, APPTS_LIMIT_MAX, &limit);
    }
    if (rc) {
        c->opt_active = 0;
        return rc;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1)
        return cli_usage_error(c, "give one MRN");
    if ((rc = cli_open(c)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__PatientAppointments *q;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_PATIENT_APPOINTMENTS,
                                  &pm__patient_appointments__descriptor, (void **)&q);
    if (e) {
        q->mrn = sched_mrn(&a, argv[optind]);
        q->past = past;
        q->limit = (uint32_t)limit;
    }
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_APPOINTMENT_LIST, &resp);
    if (rc == CLI_EXIT_OK) {
        sched_names n = {0};
        if (!c->json)
            sched_names_load(c, &a, &n);
        rc = print_appointments(c, &n, resp->appointment_list,
                                past ? "No past appointments." : "No coming appointments.");
    }
    pm_arena_free(&a);
    return rc;
}

/* ---- appt show | move | cancel | no-show | notes ---- */

/* The shape every change of one appointment shares: ID operand(s), read the appointment
 * for its version, make the request, print the answer. */
typedef struct change {
    Pm__Appointment *ap; /* as read */
    uint32_t version;    /* the one to name: read, or --expect-version */
} change;

static const char show_help[] = "usage: practice appt show ID\n"
                                "\n"
                                "Shows an appointment, with its history.\n"
                                "\n"
                                "Example:\n"
                                "  practice appt show 12\n";

static int cmd_show(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {HELP_OPTION, END_OPTIONS};
    int o = cli_opt(c, argc, argv, opts);
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1)
        return cli_usage_error(c, "give one appointment number");
    uint64_t id;
    int rc = sched_parse_id(c, "ID", argv[optind], &id);
    if (rc || (rc = cli_open(c)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Appointment *ap;
    rc = sched_get_appointment(c, &a, id, &ap);
    if (rc == CLI_EXIT_OK) {
        sched_names n = {0};
        if (!c->json)
            sched_names_load(c, &a, &n);
        rc = sched_print_appointment(c, &n, ap, NULL);
    }
    pm_arena_free(&a);
    return rc;
}

static int parse_scope(cli *c, const char *s, Pm__Scope *out)
{
    if (strcasecmp(s, "this") == 0)
        *out = PM__SCOPE__THIS;
    else if (strcasecmp(s, "following") == 0 || strcasecmp(s, "this-and-following") == 0)
        *out = PM__SCOPE__THIS_AND_FOLLOWING;
    else if (strcasecmp(s, "all") == 0)
        *out = PM__SCOPE__ALL;
    else
        return cli_fail(c, PM_E_INVALID_ARGUMENT, "--scope",
                        "--scope %s: give this, following or all", s);
    return CLI_EXIT_OK;
}

/* Reads the appointment a change is about; its version unless expect is given. */
static int read_for_change(cli *c, pm_arena *a, const char *id_s, uint32_t expect, change *ch)
{
    uint64_t id;
    int rc = sched_parse_id(c, "ID", id_s, &id);
    if (rc || (rc = cli_open(c)))
        return rc;
    if ((rc = sched_get_appointment(c, a, id, &ch->ap)))
        return rc;
    ch->version = expect ? expect : ch->ap->version;
    return CLI_EXIT_OK;
}

/* --at for a move: a time alone keeps the day, a day alone keeps the time. */
static int move_target(cli *c, const char *s, const Pm__Appointment *ap, int64_t *out)
{
    unsigned minutes;
    char date[11];
    time_t t;
    if (pm_parse_hhmm(s, &minutes) == 0) {
        pm_local_date((time_t)ap->start, date);
    } else if (pm_parse_local_date(s, time(NULL), date) == 0) {
        minutes = pm_local_minutes((time_t)ap->start);
    } else {
        return sched_parse_when(c, "--at", s, out);
    }
    if (pm_local_instant(date, minutes, &t) != 0)
        return sched_parse_when(c, "--at", s, out);
    *out = (int64_t)t;
    return CLI_EXIT_OK;
}

static const char move_help[] =
    "usage: practice appt move ID [--at WHEN] [--provider P] [--minutes N] [--room R]\n"
    "                             [--scope this|following|all] [--free-ones]\n"
    "                             [--override --reason TEXT] [--expect-version N]\n"
    "\n"
    "Moves an appointment: to another time, provider, length or room. For an occurrence of\n"
    "a series, --scope says which move (by the same shift in time): this one (default),\n"
    "this and the following ones, or all of them. The new time must be free, as for a\n"
    "booking; if not, nothing moves and the command names the conflict (exit 7).\n"
    "\n"
    "Options:\n"
    "  --at WHEN           the new start; a time alone (14:30) keeps the day, a day alone\n"
    "                      (tomorrow, fri) keeps the time\n"
    "  --provider P        another provider\n"
    "  --minutes N         another length\n"
    "  --room R            another room\n"
    "  --scope SCOPE       this (default), following, or all of a series\n"
    "  --free-ones         with a scope: move the occurrences that fit, leave the others\n"
    "  --override          managers: outside the hours or over capacity\n"
    "  --reason TEXT       why (with --override)\n"
    "  --expect-version N  move only if the appointment is still at version N\n"
    "\n" SCHED_WHEN_HELP "\n"
    "Examples:\n"
    "  practice appt move 12 --at \"tomorrow 10:30\"\n"
    "  practice appt move 12 --at 15:00 --provider dr-lee\n"
    "  practice appt move 40 --at thu --scope following --free-ones\n";

static int cmd_move(cli *c, int argc, char **argv)
{
    enum {
        O_AT = 1,
        O_PROVIDER,
        O_MINUTES,
        O_ROOM,
        O_SCOPE,
        O_FREE,
        O_OVERRIDE,
        O_REASON,
        O_EXPECT
    };
    static const struct option opts[] = {{"at", required_argument, 0, O_AT},
                                         {"provider", required_argument, 0, O_PROVIDER},
                                         {"minutes", required_argument, 0, O_MINUTES},
                                         {"room", required_argument, 0, O_ROOM},
                                         {"scope", required_argument, 0, O_SCOPE},
                                         {"free-ones", no_argument, 0, O_FREE},
                                         {"override", no_argument, 0, O_OVERRIDE},
                                         {"reason", required_argument, 0, O_REASON},
                                         {"expect-version", required_argument, 0, O_EXPECT},
                                         HELP_OPTION,
                                         END_OPTIONS};
    const char *at = NULL, *provider = "", *room = "", *reason = NULL;
    unsigned long minutes = 0, expect = 0;
    Pm__Scope scope = PM__SCOPE__THIS;
    int free_ones = 0, override = 0, o, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == O_AT)
            at = optarg;
        else if (o == O_PROVIDER)
            provider = optarg;
        else if (o == O_MINUTES)
            rc = cli_parse_uint(c, "--minutes", optarg, 1, 720, &minutes);
        else if (o == O_ROOM)
            room = optarg;
        else if (o == O_SCOPE)
            rc = parse_scope(c, optarg, &scope);
        else if (o == O_FREE)
            free_ones = 1;
        else if (o == O_OVERRIDE)
            override = 1;
        else if (o == O_REASON)
            reason = optarg;
        else
            rc = cli_parse_uint(c, "--expect-version", optarg, 1, UINT32_MAX, &expect);
    }
    if (rc) {
        c->opt_active = 0;
        return rc;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1)
        return cli_usage_error(c, "give one appointment number");
    if (!at && !*provider && !minutes && !*room)
        return cli_usage_error(c, "nothing to change: give --at, --provider, --minutes or --room");
    if (reason && !override)
        return cli_usage_error(c, "--reason goes with --override");
    pm_arena a;
    pm_arena_init(&a, 0);
    change ch;
    rc = read_for_change(c, &a, argv[optind], (uint32_t)expect, &ch);
    Pm__Move *mv = NULL;
    Pm__Envelope *e = NULL;
    if (rc == CLI_EXIT_OK &&
        !(e = cli_request(&a, PM__ENVELOPE__BODY_MOVE, &pm__move__descriptor, (void **)&mv)))
        rc = cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    if (rc == CLI_EXIT_OK) {
        mv->id = ch.ap->id;
        mv->version = ch.version;
        if (at)
            rc = move_target(c, at, ch.ap, &mv->start);
        mv->provider = (char *)provider;
        mv->duration_min = (uint32_t)minutes;
        mv->room = (char *)room;
        mv->override = override;
        mv->override_reason = (char *)(reason ? reason : "");
        mv->scope = scope;
        mv->series_mode = free_ones ? PM__SERIES_MODE__FREE_ONES : PM__SERIES_MODE__ALL_OR_NONE;
    }
    if (rc == CLI_EXIT_OK)
        rc = send_appt_change(c, &a, e, "moved", "Moved");
    pm_arena_free(&a);
    return rc;
}

static const char cancel_help[] =
    "usage: practice appt cancel ID --reason TEXT [--scope this|following|all]\n"
    "                               [--expect-version N]\n"
    "\n"
    "Cancels an appointment (or occurrences of a series). The time frees up, and the\n"
    "waitlist may be offered it. A cancellation shortly before the start is marked late.\n"
    "\n"
    "Options:\n"
    "  --reason TEXT       why, e.g. \"patient unwell\"\n"
    "  --scope SCOPE       this (default), following, or all of a series\n"
    "  --expect-version N  cancel only if the appointment is still at version N\n"
    "\n"
    "Example:\n"
    "  practice appt cancel 12 --reason \"patient called: unwell\"\n";

static int cmd_cancel(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"reason", required_argument, 0, 'r'},
                                         {"scope", required_argument, 0, 's'},
                                         {"expect-version", required_argument, 0, 'e'},
                                         HELP_OPTION,
                                         END_OPTIONS};
    const char *reason = "";
    unsigned long expect = 0;
    Pm__Scope scope = PM__SCOPE__THIS;
    int o, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == 'r')
            reason = optarg;
        else if (o == 's')
            rc = parse_scope(c, optarg, &scope);
        else
            rc = cli_parse_uint(c, "--expect-version", optarg, 1, UINT32_MAX, &expect);
    }
    if (rc) {
        c->opt_active = 0;
        return rc;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1)
        return cli_usage_error(c, "give one appointment number");
    if (!*reason)
        return cli_usage_error(c, "missing: --reason (say why it is cancelled)");
    pm_arena a;
    pm_arena_init(&a, 0);
    change ch;
    rc = read_for_change(c, &a, argv[optind], (uint32_t)expect, &ch);
    Pm__Cancel *cn = NULL;
    Pm__Envelope *e = NULL;
    if (rc == CLI_EXIT_OK &&
        !(e = cli_request(&a, PM__ENVELOPE__BODY_CANCEL, &pm__cancel__descriptor, (void **)&cn)))
        rc = cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    if (rc == CLI_EXIT_OK) {
        cn->id = ch.ap->id;
        cn->version = ch.version;
        cn->reason = (char *)reason;
        cn->scope = scope;
    }
    if (rc == CLI_EXIT_OK)
        rc = send_appt_change(c, &a, e, "cancelled", "Cancelled");
    pm_arena_free(&a);
    return rc;
}

/* no-show and notes: one request naming the appointment and its version. */
static int simple_change(cli *c, int argc, char **argv, int with_text)
{
    static const struct option opts[] = {
        {"expect-version", required_argument, 0, 'e'}, HELP_OPTION, END_OPTIONS};
    unsigned long expect = 0;
    int o, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0)
        rc = cli_parse_uint(c, "--expect-version", optarg, 1, UINT32_MAX, &expect);
    if (rc) {
        c->opt_active = 0;
        return rc;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1 + with_text)
        return cli_usage_error(c, with_text ? "give the appointment number and the notes"
                                            : "give one appointment number");
    pm_arena a;
    pm_arena_init(&a, 0);
    change ch;
    rc = read_for_change(c, &a, argv[optind], (uint32_t)expect, &ch);
    Pm__Envelope *resp, *e = NULL;
    if (rc == CLI_EXIT_OK && with_text) {
        Pm__SetNotes *sn;
        if ((e = cli_request(&a, PM__ENVELOPE__BODY_SET_NOTES, &pm__set_notes__descriptor,
                             (void **)&sn))) {
            sn->id = ch.ap->id;
            sn->version = ch.version;
            sn->notes = argv[optind + 1];
        }
    } else if (rc == CLI_EXIT_OK) {
        Pm__MarkNoShow *ns;
        if ((e = cli_request(&a, PM__ENVELOPE__BODY_MARK_NO_SHOW, &pm__mark_no_show__descriptor,
                             (void **)&ns))) {
            ns->id = ch.ap->id;
            ns->version = ch.version;
        }
    }
    if (rc == CLI_EXIT_OK) {
        c->field_option = sched_field_option;
        rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_APPOINTMENT_OK, &resp);
    }
    if (rc == CLI_EXIT_OK) {
        sched_names n = {0};
        if (!c->json)
            sched_names_load(c, &a, &n);
        rc = print_answer(c, &n, resp, "changed",
                          with_text ? "Saved the notes of" : "No-show recorded for");
    }
    pm_arena_free(&a);
    return rc;
}

static const char no_show_help[] = "usage: practice appt no-show ID [--expect-version N]\n"
                                   "\n"
                                   "Records that the patient did not come.\n";

static int cmd_no_show(cli *c, int argc, char **argv)
{
    return simple_change(c, argc, argv, 0);
}

static const char notes_help[] = "usage: practice appt notes ID TEXT [--expect-version N]\n"
                                 "\n"
                                 "Replaces an appointment's notes (\"\" clears them).\n"
                                 "\n"
                                 "Example:\n"
                                 "  practice appt notes 12 \"Bring the X-rays\"\n";

static int cmd_notes(cli *c, int argc, char **argv)
{
    return simple_change(c, argc, argv, 1);
}

const cli_cmd cli_appt_cmds[] = {
    {"show", "show an appointment and its history", show_help, cmd_show, NULL, NULL},
    {"move", "move an appointment (or a series)", move_help, cmd_move, NULL, NULL},
    {"cancel", "cancel an appointment (or a series)", cancel_help, cmd_cancel, NULL, NULL},
    {"no-show", "record that the patient did not come", no_show_help, cmd_no_show, NULL, NULL},
    {"notes", "replace an appointment's notes", notes_help, cmd_notes, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const cli_cmd cli_book_cmds[] = {
    {"book", "book an appointment or a series", book_help, cmd_book, NULL, NULL},
    {"slots", "the next free times for a visit type", slots_help, cmd_slots, NULL, NULL},
    {"appts", "a patient's coming (or past) appointments", appts_help, cmd_appts, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
