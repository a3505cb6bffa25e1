/* When providers can be booked: practice template (weekly hours over a date range),
 * practice exception (time off, meetings, blocked time) and practice holiday (days a
 * location, or the whole practice, is closed). */
#include "cli_sched.h"

#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCKS_MAX 100

static int print_setup_json(const Pm__Setup *s)
{
    cj_print(cj_message(&s->base));
    return CLI_EXIT_OK;
}

/* ---- templates ---- */

/* "mon-fri 09:00-12:30 main [checkup,followup] cap=2": one block per weekday and span. */
static int parse_block(cli *c, const char *s, const char *default_location, pm_arena *a,
                       Pm__TemplateBlock ***out, size_t *n)
{
    char buf[512], bracketed[512], *types = NULL;
    if (strlen(s) >= sizeof buf)
        goto bad;
    snprintf(buf, sizeof buf, "%s", s);
    /* the bracketed visit types first: they may hold spaces */
    char *open = strchr(buf, '['), *close = open ? strchr(open, ']') : NULL;
    if (open && !close)
        goto bad;
    if (open) {
        *close = 0;
        snprintf(bracketed, sizeof bracketed, "%s", open + 1);
        types = bracketed;
        memmove(open, close + 1, strlen(close + 1) + 1);
    }
    char *tok[8];
    size_t nt = 0;
    for (char *p = strtok(buf, " \t"); p; p = strtok(NULL, " \t")) {
        if (nt == PM_ARRAY_LEN(tok))
            goto bad;
        tok[nt++] = p;
    }
    if (nt < 2)
        goto bad;
    unsigned mask = sched_parse_weekdays(tok[0]);
    if (!mask)
        goto bad;
    const char *location = NULL;
    unsigned long cap = 0;
    for (size_t i = 2; i < nt; i++) {
        if (strncmp(tok[i], "cap=", 4) == 0 || strncmp(tok[i], "capacity=", 9) == 0) {
            int rc = cli_parse_uint(c, "--block capacity", strchr(tok[i], '=') + 1, 1, 50, &cap);
            if (rc)
                return rc;
        } else if (strncmp(tok[i], "types=", 6) == 0 && !types) {
            types = tok[i] + 6;
        } else if (!location && !strchr(tok[i], '=')) {
            location = tok[i];
        } else {
            goto bad;
        }
    }
    if (!location)
        location = default_location ? default_location : "";
    for (char *span = tok[1]; *span;) {
        size_t sl = strcspn(span, ",");
        char one[32];
        if (sl >= sizeof one)
            goto bad;
        memcpy(one, span, sl);
        one[sl] = 0;
        unsigned from, to;
        int rc = sched_parse_span(c, "--block", one, &from, &to);
        if (rc)
            return rc;
        for (unsigned d = 1; out && d <= 7; d++) {
            if (!(mask & (1u << d)))
                continue;
            Pm__TemplateBlock *b = pm_msg_new(a, &pm__template_block__descriptor);
            Pm__TemplateBlock **g = pm_arena_alloc(a, sizeof *g * (*n + 1));
            if (!b || !g)
                return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
            b->weekday = d;
            b->start_min = from;
            b->end_min = to;
            b->location = pm_arena_strdup(a, location);
            b->capacity = (uint32_t)cap;
            if (types && sched_list_add(a, types, &b->visit_types, &b->n_visit_types))
                return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
            if (*n)
                memcpy(g, *out, sizeof *g * *n);
            g[(*n)++] = b;
            *out = g;
        }
        span += sl;
        if (*span == ',')
            span++;
    }
    return CLI_EXIT_OK;
bad:
    return cli_fail(c, PM_E_INVALID_ARGUMENT, "--block",
                    "--block \"%s\": give DAYS HH:MM-HH:MM [LOCATION] [[TYPE,TYPE...]] [cap=N], "
                    "e.g. \"mon-fri 09:00-12:30 main [checkup,followup] cap=2\"",
                    s);
}

static int block_order(const void *pa, const void *pb)
{
    const Pm__TemplateBlock *a = *(Pm__TemplateBlock *const *)pa;
    const Pm__TemplateBlock *b = *(Pm__TemplateBlock *const *)pb;
    if (a->weekday != b->weekday)
        return a->weekday < b->weekday ? -1 : 1;
    return a->start_min < b->start_min ? -1 : a->start_min > b->start_min;
}

static void print_template(FILE *f, const sched_names *n, Pm__Template *t)
{
    char provider[160];
    snprintf(provider, sizeof provider, "%s", sched_provider_name(n, t->provider));
    fprintf(f, "Template %s of %s%s%s%s, from %s%s%s (version %u)\n", t->id, provider,
            strcmp(provider, t->provider) ? " (" : "",
            strcmp(provider, t->provider) ? t->provider : "",
            strcmp(provider, t->provider) ? ")" : "", t->valid_from, *t->valid_to ? " to " : "",
            *t->valid_to ? t->valid_to : ", no end", t->version);
    if (!t->n_blocks) {
        fprintf(f, "  (no hours: not bookable in this range)\n");
        return;
    }
    if (t->n_blocks > 1)
        qsort(t->blocks, t->n_blocks, sizeof *t->blocks, block_order);
    unsigned minutes = 0;
    for (size_t i = 0; i < t->n_blocks; i++) {
        const Pm__TemplateBlock *b = t->blocks[i];
        char t0[8], t1[8], types[256] = "";
        sched_hhmm(b->start_min, t0, sizeof t0);
        sched_hhmm(b->end_min, t1, sizeof t1);
        size_t used = 0;
        for (size_t k = 0; k < b->n_visit_types && used < sizeof types; k++) {
            int w = snprintf(types + used, sizeof types - used, "%s%s", k ? ", " : "",
                             b->visit_types[k]);
            used = w < 0 ? sizeof types : used + (size_t)w;
        }
        fprintf(f, "  %s  %s-%s  %-10s  %s", sched_weekday_word(b->weekday), t0, t1, b->location,
                *types ? types : "any visit type");
        if (b->capacity > 1)
            fprintf(f, "  (%u at once)", b->capacity);
        fputc('\n', f);
        minutes += b->end_min - b->start_min;
    }
    fprintf(f, "  %u h %02u a week\n", minutes / 60, minutes % 60);
}

static int template_order(const void *pa, const void *pb)
{
    const Pm__Template *a = *(Pm__Template *const *)pa;
    const Pm__Template *b = *(Pm__Template *const *)pb;
    int p = strcmp(a->provider, b->provider);
    return p ? p : strcmp(a->valid_from, b->valid_from);
}

/* Whether the template is in force on date (the latest valid_from wins among those). */
static int covers(const Pm__Template *t, const char *date)
{
    return strcmp(t->valid_from, date) <= 0 && (!*t->valid_to || strcmp(date, t->valid_to) <= 0);
}

static const char *template_field_option(const char *field)
{
    if (strcmp(field, "valid_from") == 0)
        return "--from";
    if (strcmp(field, "valid_to") == 0)
        return "--to";
    if (strncmp(field, "blocks", 6) == 0)
        return "--block";
    if (strcmp(field, "provider") == 0)
        return "PROVIDER";
    return sched_field_option(field);
}

static const char set_help[] =
    "usage: practice template set PROVIDER [--from DATE] [--to DATE] --block BLOCK...\n"
    "\n"
    "Sets a provider's weekly hours from a date (default today) on, or up to --to. A\n"
    "template that starts on the same date is replaced; otherwise a new one is made, and\n"
    "on any day the template with the latest start that covers it is in force (so next\n"
    "month's hours can be set now). Without --block the provider has no hours then.\n"
    "\n"
    "Options:\n"
    "  --from DATE     the first day (default today)\n"
    "  --to DATE       the last day (default: no end)\n"
    "  --block BLOCK   \"DAYS HH:MM-HH:MM [LOCATION] [[TYPE,TYPE...]] [cap=N]\": weekdays\n"
    "                  (mon, mon-fri, mon,thu, daily), hours (several: 09:00-12:00,14:00-17:00),\n"
    "                  the location (default: the provider's), the visit types offered then\n"
    "                  (default: all of theirs) and how many appointments may overlap\n"
    "                  (default 1). Repeat for more blocks.\n"
    "\n"
    "Examples:\n"
    "  practice template set dr-okafor --from 2026-12-01 \\\n"
    "      --block \"mon-fri 09:00-12:30 main\" --block \"mon,thu 14:00-17:00 main [checkup]\"\n"
    "  practice template set dr-lee --from 2027-01-01 --to 2027-01-31 \\\n"
    "      --block \"tue 08:00-12:00 north [vaccine] cap=3\"\n";

static int cmd_template_set(cli *c, int argc, char **argv)
{
    enum { O_FROM = 1, O_TO, O_BLOCK };
    static const struct option opts[] = {{"from", required_argument, 0, O_FROM},
                                         {"to", required_argument, 0, O_TO},
                                         {"block", required_argument, 0, O_BLOCK},
                                         HELP_OPTION,
                                         END_OPTIONS};
    const char *from_s = "today", *to_s = NULL, *blocks[BLOCKS_MAX];
    size_t nblocks = 0;
    int o, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == O_FROM)
            from_s = optarg;
        else if (o == O_TO)
            to_s = optarg;
        else if (nblocks == BLOCKS_MAX)
            rc = cli_usage_error(c, "at most %d --block options", BLOCKS_MAX);
        else if ((rc = parse_block(c, optarg, NULL, NULL, NULL, NULL)) == CLI_EXIT_OK)
            blocks[nblocks++] = optarg;
    }
    if (rc) {
        c->opt_active = 0;
        return rc;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1)
        return cli_usage_error(c, "give one provider");
    const char *provider = argv[optind];
    if ((rc = cli_open(c)))
        return rc;
    char from[11], to[11];
    if ((rc = sched_parse_dates(c, from_s, to_s, from, to)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Setup *s;
    Pm__Template *t = NULL;
    rc = sched_get_setup(c, &a, provider, NULL, NULL, NULL, &s);
    const char *default_location = NULL;
    for (size_t i = 0; rc == CLI_EXIT_OK && i < s->n_providers; i++)
        if (strcmp(s->providers[i]->id, provider) == 0)
            default_location = s->providers[i]->default_location;
    for (size_t i = 0; rc == CLI_EXIT_OK && i < s->n_templates; i++)
        if (strcmp(s->templates[i]->provider, provider) == 0 &&
            strcmp(s->templates[i]->valid_from, from) == 0)
            t = s->templates[i];
    int replacing = t != NULL;
    if (rc == CLI_EXIT_OK && !t && !(t = pm_msg_new(&a, &pm__template__descriptor)))
        rc = cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    if (rc == CLI_EXIT_OK) {
        t->provider = (char *)provider;
        t->valid_from = from;
        t->valid_to = to;
        t->n_blocks = 0;
        for (size_t i = 0; rc == CLI_EXIT_OK && i < nblocks; i++)
            rc = parse_block(c, blocks[i], default_location, &a, &t->blocks, &t->n_blocks);
    }
    Pm__Envelope *resp = NULL;
    if (rc == CLI_EXIT_OK) {
        Pm__PutTemplate *pt;
        Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_PUT_TEMPLATE,
                                      &pm__put_template__descriptor, (void **)&pt);
        if (e)
            pt->template_ = t;
        c->field_option = template_field_option;
        rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_SETUP, &resp);
    }
    if (rc == CLI_EXIT_OK && resp->setup->n_templates == 0)
        rc = cli_fail(c, PM_E_PROTOCOL, NULL, "the server's answer lacks the template");
    if (rc == CLI_EXIT_OK && c->json) {
        cj_print(cj_message(&resp->setup->templates[0]->base));
    } else if (rc == CLI_EXIT_OK) {
        sched_names n = {s};
        printf("%s template %s.\n", replacing ? "Replaced" : "Saved",
               resp->setup->templates[0]->id);
        print_template(stdout, &n, resp->setup->templates[0]);
    }
    pm_arena_free(&a);
    return rc;
}

static const char show_help[] =
    "usage: practice template show PROVIDER [--on DATE]\n"
    "\n"
    "Shows a provider's weekly hours: every template from today on, or with --on the one\n"
    "in force that day.\n"
    "\n"
    "Example:\n"
    "  practice template show dr-okafor --on \"mon\"\n";

static int cmd_template_show(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"on", required_argument, 0, 'o'}, HELP_OPTION, END_OPTIONS};
    const char *on_s = NULL;
    int o;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0)
        on_s = optarg;
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1)
        return cli_usage_error(c, "give one provider");
    const char *provider = argv[optind];
    int rc = cli_open(c);
    if (rc)
        return rc;
    char on[11] = "", today[11];
    pm_local_date(time(NULL), today);
    if (on_s && (rc = sched_parse_date(c, "--on", on_s, on)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Setup *s;
    rc = sched_get_setup(c, &a, provider, NULL, NULL, NULL, &s);
    if (rc == CLI_EXIT_OK && !sched_find_provider(&(sched_names){s}, provider))
        rc = cli_fail(c, PM_E_NOT_FOUND, NULL, "no provider %s; see 'practice provider list'",
                      provider);
    if (rc) {
        pm_arena_free(&a);
        return rc;
    }
    if (s->n_templates > 1)
        qsort(s->templates, s->n_templates, sizeof *s->templates, template_order);
    /* with --on: the covering one with the latest start; else every current or later one */
    Pm__Template *pick[256];
    size_t npick = 0;
    for (size_t i = 0; i < s->n_templates && npick < PM_ARRAY_LEN(pick); i++) {
        Pm__Template *t = s->templates[i];
        if (strcmp(t->provider, provider) != 0)
            continue;
        if (*on) {
            if (covers(t, on)) { /* sorted by start: the last one covering wins */
                pick[0] = t;
                npick = 1;
            }
        } else if (!*t->valid_to || strcmp(t->valid_to, today) >= 0) {
            pick[npick++] = t;
        }
    }
    sched_names n = {s};
    if (c->json) {
        cj_print_messages((void *const *)pick, npick);
    } else if (!npick) {
        printf("%s has no hours %s%s.\n", sched_provider_name(&n, provider), *on ? "on " : "",
               *on ? on : "from today on");
    } else {
        for (size_t i = 0; i < npick; i++) {
            if (i)
                putchar('\n');
            print_template(stdout, &n, pick[i]);
        }
    }
    pm_arena_free(&a);
    return CLI_EXIT_OK;
}

static const char tlist_help[] = "usage: practice template list [--provider PROVIDER]\n"
                                 "\n"
                                 "Lists the templates: whose, from when to when, how many hours a "
                                 "week.\n";

static int cmd_template_list(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"provider", required_argument, 0, 'p'}, HELP_OPTION, END_OPTIONS};
    const char *provider = NULL;
    int o;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0)
        provider = optarg;
    if (o != -1)
        return cli_opt_exit(o);
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    int rc = cli_open(c);
    if (rc)
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Setup *s;
    rc = sched_get_setup(c, &a, provider, NULL, NULL, NULL, &s);
    if (rc == CLI_EXIT_OK && c->json) {
        cj_print_messages((void *const *)s->templates, s->n_templates);
    } else if (rc == CLI_EXIT_OK && !s->n_templates) {
        printf("No templates.\n");
    } else if (rc == CLI_EXIT_OK) {
        if (s->n_templates > 1)
            qsort(s->templates, s->n_templates, sizeof *s->templates, template_order);
        static const char *const header[6] = {"ID", "PROVIDER", "FROM", "TO", "BLOCKS", "HOURS"};
        cp_table t;
        int bad = cp_table_init(&t, 6, header);
        for (size_t i = 0; !bad && i < s->n_templates; i++) {
            const Pm__Template *tp = s->templates[i];
            unsigned minutes = 0;
            for (size_t k = 0; k < tp->n_blocks; k++)
                minutes += tp->blocks[k]->end_min - tp->blocks[k]->start_min;
            char nb[16], hours[16];
            snprintf(nb, sizeof nb, "%zu", tp->n_blocks);
            snprintf(hours, sizeof hours, "%u:%02u", minutes / 60, minutes % 60);
            const char *row[6] = {
                tp->id, tp->provider, tp->valid_from, *tp->valid_to ? tp->valid_to : "-",
                nb,     hours};
            bad = cp_table_row(&t, row);
        }
        rc = cli_print_table(c, &t, bad);
    }
    pm_arena_free(&a);
    return rc;
}

static const char remove_help[] =
    "usage: practice template remove ID\n"
    "\n"
    "Removes a template (its ID is shown by 'practice template list', e.g. dr-okafor/2).\n"
    "Appointments already booked stay.\n";

static int cmd_template_remove(cli *c, int argc, char **argv)
{
    int rc = cli_no_options(c, argc, argv, 1, "give one template ID");
    if (rc || (rc = cli_open(c)))
        return cli_scan_exit(rc);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__DeleteTemplate *d;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_DELETE_TEMPLATE,
                                  &pm__delete_template__descriptor, (void **)&d);
    if (e)
        d->id = argv[optind];
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_SETUP, &resp);
    if (rc == CLI_EXIT_OK && c->json)
        print_setup_json(resp->setup);
    else if (rc == CLI_EXIT_OK)
        printf("Removed template %s.\n", argv[optind]);
    pm_arena_free(&a);
    return rc;
}

const cli_cmd cli_template_cmds[] = {
    {"set", "set a provider's weekly hours", set_help, cmd_template_set, NULL, NULL},
    {"show", "show a provider's weekly hours", show_help, cmd_template_show, NULL, NULL},
    {"list", "list every template", tlist_help, cmd_template_list, NULL, NULL},
    {"remove", "remove a template", remove_help, cmd_template_remove, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

/* ---- exceptions ---- */

/* A moment, or a whole day ("2026-12-24": its start; as an end, the next day's start). */
static int parse_moment(cli *c, const char *opt, const char *s, int is_end, int64_t *out)
{
    time_t t;
    char date[11];
    if (pm_parse_local_time(s, time(NULL), &t) == 0) {
        *out = (int64_t)t;
        return CLI_EXIT_OK;
    }
    if (pm_parse_local_date(s, time(NULL), date) == 0 &&
        pm_local_instant(date, is_end ? 24 * 60 : 0, &t) == 0) {
        *out = (int64_t)t;
        return CLI_EXIT_OK;
    }
    return sched_parse_when(c, opt, s, out);
}

static const char *exception_field_option(const char *field)
{
    if (strcmp(field, "start") == 0)
        return "--from";
    if (strcmp(field, "end") == 0)
        return "--to";
    if (strcmp(field, "kind") == 0)
        return "--kind";
    if (strcmp(field, "provider") == 0)
        return "PROVIDER";
    return sched_field_option(field);
}

static const char exc_add_help[] =
    "usage: practice exception add PROVIDER --from WHEN --to WHEN [--kind KIND]\n"
    "                              [--reason TEXT]\n"
    "\n"
    "Makes a provider unavailable for a while although their template says otherwise:\n"
    "holidays of their own, meetings, blocked time. Appointments already booked then\n"
    "stay; new ones cannot be made.\n"
    "\n"
    "Options:\n"
    "  --from WHEN     the start; a date alone is the start of that day\n"
    "  --to WHEN       the end; a date alone is the end of that day\n"
    "  --kind KIND     time-off, meeting or blocked (default blocked)\n"
    "  --reason TEXT   shown in the schedule\n"
    "\n" SCHED_WHEN_HELP "\n"
    "Examples:\n"
    "  practice exception add dr-okafor --from \"mon 12:00\" --to \"mon 13:00\" \\\n"
    "      --kind meeting --reason \"Team meeting\"\n"
    "  practice exception add dr-lee --from 2026-12-24 --to 2026-12-31 --kind time-off\n";

static int cmd_exception_add(cli *c, int argc, char **argv)
{
    enum { O_FROM = 1, O_TO, O_KIND, O_REASON };
    static const struct option opts[] = {{"from", required_argument, 0, O_FROM},
                                         {"to", required_argument, 0, O_TO},
                                         {"kind", required_argument, 0, O_KIND},
                                         {"reason", required_argument, 0, O_REASON},
                                         HELP_OPTION,
                                         END_OPTIONS};
    const char *from_s = NULL, *to_s = NULL, *reason = "";
    Pm__ExceptionKind kind = PM__EXCEPTION_KIND__BLOCKED;
    int o, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == O_FROM)
            from_s = optarg;
        else if (o == O_TO)
            to_s = optarg;
        else if (o == O_REASON)
            reason = optarg;
        else if (sched_kind_parse(optarg, &kind) != 0)
            rc = cli_fail(c, PM_E_INVALID_ARGUMENT, "--kind",
                          "--kind %s: give time-off, meeting or blocked", optarg);
    }
    if (rc) {
        c->opt_active = 0;
        return rc;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1)
        return cli_usage_error(c, "give one provider");
    if (!from_s || !to_s)
        return cli_usage_error(c, "missing:%s%s", from_s ? "" : " --from", to_s ? "" : " --to");
    if ((rc = cli_open(c)))
        return rc;
    int64_t from, to;
    if ((rc = parse_moment(c, "--from", from_s, 0, &from)) ||
        (rc = parse_moment(c, "--to", to_s, 1, &to)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__AddException *ae;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_ADD_EXCEPTION,
                                  &pm__add_exception__descriptor, (void **)&ae);
    Pm__Exception *x = pm_msg_new(&a, &pm__exception__descriptor);
    if (e && x) {
        x->provider = argv[optind];
        x->start = from;
        x->end = to;
        x->kind = kind;
        x->reason = (char *)reason;
        ae->exception = x;
    }
    c->field_option = exception_field_option;
    rc = cli_call(c, x ? e : NULL, &a, PM__ENVELOPE__BODY_SETUP, &resp);
    if (rc == CLI_EXIT_OK && !resp->setup->n_exceptions)
        rc = cli_fail(c, PM_E_PROTOCOL, NULL, "the server's answer lacks the exception");
    if (rc == CLI_EXIT_OK && c->json) {
        cj_print(cj_message(&resp->setup->exceptions[0]->base));
    } else if (rc == CLI_EXIT_OK) {
        const Pm__Exception *got = resp->setup->exceptions[0];
        char when[80];
        sched_span(got->start, got->end, when, sizeof when);
        printf("Added exception %llu: %s %s, %s%s%s.\n", (unsigned long long)got->id, got->provider,
               sched_kind_word(got->kind), when, *got->reason ? ": " : "", got->reason);
    }
    pm_arena_free(&a);
    return rc;
}

static const char exc_list_help[] =
    "usage: practice exception list [--provider PROVIDER] [--from DATE] [--to DATE]\n"
    "\n"
    "Lists providers' exceptions (time off, meetings, blocked time) from today, or from\n"
    "--from, on.\n";

static int cmd_exception_list(cli *c, int argc, char **argv)
{
    enum { O_PROVIDER = 1, O_FROM, O_TO };
    static const struct option opts[] = {{"provider", required_argument, 0, O_PROVIDER},
                                         {"from", required_argument, 0, O_FROM},
                                         {"to", required_argument, 0, O_TO},
                                         HELP_OPTION,
                                         END_OPTIONS};
    const char *provider = NULL, *from_s = NULL, *to_s = NULL;
    int o;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == O_PROVIDER)
            provider = optarg;
        else if (o == O_FROM)
            from_s = optarg;
        else
            to_s = optarg;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    int rc = cli_open(c);
    if (rc)
        return rc;
    char from[11], to[11];
    if ((rc = sched_parse_dates(c, from_s, to_s, from, to)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Setup *s;
    rc = sched_get_setup(c, &a, provider, NULL, from, to, &s);
    if (rc == CLI_EXIT_OK && c->json) {
        cj_print_messages((void *const *)s->exceptions, s->n_exceptions);
    } else if (rc == CLI_EXIT_OK && !s->n_exceptions) {
        printf("No exceptions.\n");
    } else if (rc == CLI_EXIT_OK) {
        static const char *const header[5] = {"ID", "PROVIDER", "WHEN", "KIND", "REASON"};
        cp_table t;
        int bad = cp_table_init(&t, 5, header);
        for (size_t i = 0; !bad && i < s->n_exceptions; i++) {
            const Pm__Exception *x = s->exceptions[i];
            char id[24], when[80];
            snprintf(id, sizeof id, "%llu", (unsigned long long)x->id);
            sched_span(x->start, x->end, when, sizeof when);
            const char *row[5] = {id, x->provider, when, sched_kind_word(x->kind), x->reason};
            bad = cp_table_row(&t, row);
        }
        rc = cli_print_table(c, &t, bad);
    }
    pm_arena_free(&a);
    return rc;
}

static const char exc_remove_help[] = "usage: practice exception remove ID\n"
                                      "\n"
                                      "Removes an exception: the provider is available again "
                                      "then, as their template says.\n";

static int cmd_exception_remove(cli *c, int argc, char **argv)
{
    uint64_t id;
    int rc = sched_id_operand(c, argc, argv, "give one exception ID", "ID", &id);
    if (rc || (rc = cli_open(c)))
        return cli_scan_exit(rc);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__DeleteException *d;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_DELETE_EXCEPTION,
                                  &pm__delete_exception__descriptor, (void **)&d);
    if (e)
        d->id = id;
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_SETUP, &resp);
    if (rc == CLI_EXIT_OK && c->json)
        print_setup_json(resp->setup);
    else if (rc == CLI_EXIT_OK)
        printf("Removed exception %llu.\n", (unsigned long long)id);
    pm_arena_free(&a);
    return rc;
}

const cli_cmd cli_exception_cmds[] = {
    {"add", "make a provider unavailable for a while", exc_add_help, cmd_exception_add, NULL, NULL},
    {"list", "list exceptions", exc_list_help, cmd_exception_list, NULL, NULL},
    {"remove", "remove an exception", exc_remove_help, cmd_exception_remove, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

/* ---- holidays ---- */

static const char *holiday_field_option(const char *field)
{
    if (strcmp(field, "date") == 0)
        return "DATE";
    if (strcmp(field, "name") == 0)
        return "--name";
    return sched_field_option(field);
}

static const char hol_add_help[] =
    "usage: practice holiday add DATE --name NAME [--location LOCATION]\n"
    "\n"
    "Closes the practice, or one location, for a day: nobody can be booked there then.\n"
    "\n"
    "Options:\n"
    "  --name NAME           e.g. \"Christmas Day\"\n"
    "  --location LOCATION   only this location (default: every location)\n"
    "\n"
    "Example:\n"
    "  practice holiday add 2026-12-25 --name \"Christmas Day\"\n";

/* DATE [--name NAME] [--location LOCATION]: the shape of holiday add and remove. */
static int holiday_args(cli *c, int argc, char **argv, int with_name, const char **name,
                        const char **location)
{
    static const struct option opts[] = {{"name", required_argument, 0, 'n'},
                                         {"location", required_argument, 0, 'l'},
                                         HELP_OPTION,
                                         END_OPTIONS};
    int o;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == 'l') {
            *location = optarg;
        } else if (with_name) {
            *name = optarg;
        } else {
            c->opt_active = 0;
            return cli_usage_error(c, "--name is for 'practice holiday add'");
        }
    }
    if (o == CLI_OPT_HELP)
        return o;
    if (o != -1)
        return CLI_EXIT_USAGE;
    if (argc - optind != 1)
        return cli_usage_error(c, "give one date");
    if (with_name && !*name)
        return cli_usage_error(c, "missing: --name");
    return CLI_EXIT_OK;
}

static int cmd_holiday_add(cli *c, int argc, char **argv)
{
    const char *name = NULL, *location = "";
    int rc = holiday_args(c, argc, argv, 1, &name, &location);
    if (rc)
        return rc == CLI_OPT_HELP ? CLI_EXIT_OK : rc;
    if ((rc = cli_open(c)))
        return rc;
    char date[11];
    if ((rc = sched_parse_date(c, "DATE", argv[optind], date)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__PutHoliday *ph;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e =
        cli_request(&a, PM__ENVELOPE__BODY_PUT_HOLIDAY, &pm__put_holiday__descriptor, (void **)&ph);
    Pm__Holiday *h = pm_msg_new(&a, &pm__holiday__descriptor);
    if (e && h) {
        h->date = date;
        h->name = (char *)name;
        h->location = (char *)location;
        ph->holiday = h;
    }
    c->field_option = holiday_field_option;
    rc = cli_call(c, h ? e : NULL, &a, PM__ENVELOPE__BODY_SETUP, &resp);
    if (rc == CLI_EXIT_OK && c->json) {
        cj_print(cj_message(&h->base));
    } else if (rc == CLI_EXIT_OK) {
        char day[24];
        sched_day(date, day, sizeof day);
        printf("Holiday %s: %s, %s.\n", day, name, *location ? location : "every location");
    }
    pm_arena_free(&a);
    return rc;
}

static const char hol_list_help[] = "usage: practice holiday list [--from DATE] [--to DATE]\n"
                                    "\n"
                                    "Lists the holidays, all of them or in a range of dates.\n";

static int cmd_holiday_list(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"from", required_argument, 0, 'f'},
                                         {"to", required_argument, 0, 't'},
                                         HELP_OPTION,
                                         END_OPTIONS};
    const char *from_s = NULL, *to_s = NULL;
    int o;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == 'f')
            from_s = optarg;
        else
            to_s = optarg;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    int rc = cli_open(c);
    if (rc)
        return rc;
    char from[11], to[11];
    if ((rc = sched_parse_dates(c, from_s, to_s, from, to)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Setup *s;
    /* the exceptions' range must be a date too: the holidays' start will do */
    rc = sched_get_setup(c, &a, NULL, NULL, from, to, &s);
    if (rc == CLI_EXIT_OK && c->json) {
        cj_print_messages((void *const *)s->holidays, s->n_holidays);
    } else if (rc == CLI_EXIT_OK && !s->n_holidays) {
        printf("No holidays.\n");
    } else if (rc == CLI_EXIT_OK) {
        static const char *const header[3] = {"DATE", "NAME", "WHERE"};
        cp_table t;
        int bad = cp_table_init(&t, 3, header);
        for (size_t i = 0; !bad && i < s->n_holidays; i++) {
            const Pm__Holiday *h = s->holidays[i];
            char day[24];
            sched_day(h->date, day, sizeof day);
            const char *row[3] = {day, h->name, *h->location ? h->location : "every location"};
            bad = cp_table_row(&t, row);
        }
        rc = cli_print_table(c, &t, bad);
    }
    pm_arena_free(&a);
    return rc;
}

static const char hol_remove_help[] =
    "usage: practice holiday remove DATE [--location LOCATION]\n"
    "\n"
    "Removes a holiday (of every location, or of the one given).\n";

static int cmd_holiday_remove(cli *c, int argc, char **argv)
{
    const char *name = NULL, *location = "";
    int rc = holiday_args(c, argc, argv, 0, &name, &location);
    if (rc)
        return rc == CLI_OPT_HELP ? CLI_EXIT_OK : rc;
    if ((rc = cli_open(c)))
        return rc;
    char date[11];
    if ((rc = sched_parse_date(c, "DATE", argv[optind], date)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__DeleteHoliday *d;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_DELETE_HOLIDAY,
                                  &pm__delete_holiday__descriptor, (void **)&d);
    if (e) {
        d->date = date;
        d->location = (char *)location;
    }
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_SETUP, &resp);
    if (rc == CLI_EXIT_OK && c->json)
        print_setup_json(resp->setup);
    else if (rc == CLI_EXIT_OK)
        printf("Removed the holiday of %s%s%s.\n", date, *location ? " at " : "", location);
    pm_arena_free(&a);
    return rc;
}

const cli_cmd cli_holiday_cmds[] = {
    {"add", "close the practice or a location for a day", hol_add_help, cmd_holiday_add, NULL,
     NULL},
    {"list", "list holidays", hol_list_help, cmd_holiday_list, NULL, NULL},
    {"remove", "remove a holiday", hol_remove_help, cmd_holiday_remove, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
