/* For managers and operators: practice audit (who read or changed what, with the hash
 * chain's verdict) and practice stats (the server's counters and latencies). */
#include "cli.h"

#include "pm_err.h"
#include "pm_time.h"

#include <string.h>
#include <time.h>

#define AUDIT_PAGE_MAX  1000
#define AUDIT_LIMIT_MAX 100000

static const char audit_help[] =
    "usage: practice audit [--patient MRN] [--user USER] [--since WHEN] [--until WHEN]\n"
    "                      [--limit N]\n"
    "\n"
    "Shows the audit log: every look at patient data and every change, who did it from\n"
    "which device, when, and whether it succeeded. Times are the practice's. Entries are\n"
    "hash-chained; the command says whether the chain verified, and exits 9 when it did\n"
    "not (the log may have been tampered with).\n"
    "\n"
    "Options:\n"
    "  --patient MRN   entries about this patient, including searches that showed them\n"
    "  --user USER     entries by this account\n"
    "  --since WHEN    from WHEN on (inclusive)\n"
    "  --until WHEN    before WHEN\n"
    "  --limit N       at most N entries (default 100); without --since the newest,\n"
    "                  at most 1000\n"
    "\n"
    "WHEN is now, today, yesterday, YYYY-MM-DD, \"YYYY-MM-DD HH:MM\", or a span ago: 90m,\n"
    "2h, 7d.\n"
    "\n"
    "Examples:\n"
    "  practice audit --patient 100016\n"
    "  practice audit --user anna --since yesterday\n"
    "  practice audit --since \"2024-05-01 08:00\" --until \"2024-05-01 12:00\"\n";

typedef struct audit_args {
    char mrn[32];
    const char *user, *since_s, *until_s;
    unsigned long limit;
    time_t since, until;
} audit_args;

typedef struct audit_out {
    json_object *arr;
    cp_table table;
    size_t count;
    int chain_ok;
    int failed;
} audit_out;

static const char *const audit_header[7] = {"TIME",   "USER",    "DEVICE", "ACTION",
                                            "RECORD", "OUTCOME", "DETAIL"};

static void outcome_text(const Pm__AuditEntry *e, char *buf, size_t n)
{
    switch (e->outcome) {
    case PM__OUTCOME__SUCCESS:
        snprintf(buf, n, "ok");
        break;
    case PM__OUTCOME__DENIED:
        snprintf(buf, n, "denied");
        break;
    case PM__OUTCOME__FAILURE:
        snprintf(buf, n, "failed: %s", pm_err_name(-(int)e->error));
        break;
    default:
        snprintf(buf, n, "?");
        break;
    }
}

static void add_entry(audit_out *out, const Pm__AuditEntry *e)
{
    out->count++;
    if (out->arr) {
        json_object_array_add(out->arr, cj_audit_entry(e));
        return;
    }
    char when[32], outcome[48];
    pm_format_local((time_t)e->time, when, sizeof when);
    outcome_text(e, outcome, sizeof outcome);
    const char *cells[7] = {when, e->username, e->device, e->action, e->record, outcome, e->detail};
    if (cp_table_row(&out->table, cells))
        out->failed = 1;
}

static int parse_when(cli *c, const char *opt, const char *s, time_t *out)
{
    *out = 0;
    if (!s)
        return CLI_EXIT_OK;
    if (pm_parse_when(s, time(NULL), out) != 0 || *out < 0)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, opt,
                        "%s %s: give now, today, yesterday, YYYY-MM-DD, \"YYYY-MM-DD HH:MM\" or "
                        "a span ago such as 90m, 2h, 7d",
                        opt, s);
    return CLI_EXIT_OK;
}

/* Asks for pages of entries until the limit or the end. */
static int audit_pages(cli *c, const audit_args *q, audit_out *out)
{
    uint64_t after = 0;
    for (;;) {
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__QueryAudit *qa;
        Pm__Envelope *resp = NULL;
        Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_QUERY_AUDIT,
                                      &pm__query_audit__descriptor, (void **)&qa);
        unsigned long left = q->limit - out->count;
        if (e) {
            qa->mrn = (char *)q->mrn;
            qa->username = (char *)(q->user ? q->user : "");
            qa->since = (uint64_t)q->since;
            qa->until = (uint64_t)q->until;
            qa->limit = (uint32_t)(left < AUDIT_PAGE_MAX ? left : AUDIT_PAGE_MAX);
            qa->after_seq = after;
            qa->newest = !q->since; /* without --since: the latest entries */
        }
        int rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_AUDIT_LIST, &resp);
        if (rc == CLI_EXIT_OK) {
            const Pm__AuditList *al = resp->audit_list;
            for (size_t i = 0; i < al->n_entries; i++)
                add_entry(out, al->entries[i]);
            out->chain_ok &= al->chain_ok != 0;
            after = al->n_entries ? al->next_after_seq : 0;
        }
        pm_arena_free(&a);
        if (rc || !after || out->count >= q->limit)
            return rc;
    }
}

static int print_audit(cli *c, audit_out *out, int full)
{
    if (c->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "practice", cj_string(pc_practice_name(c->pc)));
        json_object_object_add(o, "timezone", cj_string(pc_timezone(c->pc)));
        json_object_object_add(o, "chain_ok", json_object_new_boolean(out->chain_ok));
        json_object_object_add(o, "entries", out->arr);
        out->arr = NULL;
        cj_print(o);
    } else {
        printf("Audit log of \"%s\"; times in %s.\n", pc_practice_name(c->pc), pc_timezone(c->pc));
        if (out->count)
            cp_table_print(&out->table, stdout);
        printf("%zu entr%s.%s\n", out->count, out->count == 1 ? "y" : "ies",
               full ? " There may be more: narrow with --since/--until or raise --limit." : "");
        printf("%s\n", out->chain_ok ? "Hash chain verified."
                                     : "WARNING: the hash chain did NOT verify: entries may "
                                       "have been altered or removed. Tell the practice "
                                       "manager.");
    }
    if (!out->chain_ok)
        return cli_fail(c, PM_E_INTERNAL, NULL, "the audit log's hash chain did not verify");
    return CLI_EXIT_OK;
}

/* The log files entries under the MRN's digits: "10001-6" is 100016. */
static int mrn_digits(cli *c, const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == '-')
            continue;
        if (*s < '0' || *s > '9' || o + 1 >= n)
            return cli_fail(c, PM_E_INVALID_ARGUMENT, "--patient", "--patient: not an MRN");
        out[o++] = *s;
    }
    out[o] = 0;
    return o ? CLI_EXIT_OK
             : cli_fail(c, PM_E_INVALID_ARGUMENT, "--patient", "--patient: not an MRN");
}

static int scan_audit_args(cli *c, int argc, char **argv, audit_args *q)
{
    enum { O_PATIENT = 1, O_USER, O_SINCE, O_UNTIL, O_LIMIT };
    static const struct option opts[] = {{"patient", required_argument, 0, O_PATIENT},
                                         {"user", required_argument, 0, O_USER},
                                         {"since", required_argument, 0, O_SINCE},
                                         {"until", required_argument, 0, O_UNTIL},
                                         {"limit", required_argument, 0, O_LIMIT},
                                         HELP_OPTION,
                                         END_OPTIONS};
    memset(q, 0, sizeof *q);
    q->limit = 100;
    int o, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == O_PATIENT)
            rc = mrn_digits(c, optarg, q->mrn, sizeof q->mrn);
        else if (o == O_USER)
            q->user = optarg;
        else if (o == O_SINCE)
            q->since_s = optarg;
        else if (o == O_UNTIL)
            q->until_s = optarg;
        else
            rc = cli_parse_uint(c, "--limit", optarg, 1, AUDIT_LIMIT_MAX, &q->limit);
    }
    if (rc)
        return rc;
    if (o == CLI_OPT_HELP)
        return o;
    if (o != -1)
        return CLI_EXIT_USAGE;
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    return CLI_EXIT_OK;
}

static int cmd_audit(cli *c, int argc, char **argv)
{
    audit_args q;
    int rc = scan_audit_args(c, argc, argv, &q);
    if (rc)
        return rc == CLI_OPT_HELP ? CLI_EXIT_OK : rc;
    if ((rc = cli_open(c)))
        return rc;
    /* WHEN is read in the practice's zone, which cli_open selected */
    if ((rc = parse_when(c, "--since", q.since_s, &q.since)) ||
        (rc = parse_when(c, "--until", q.until_s, &q.until)))
        return rc;
    if (q.since && q.until && q.until <= q.since)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, "--until", "--until must be after --since");
    if (!q.since && q.limit > AUDIT_PAGE_MAX)
        q.limit = AUDIT_PAGE_MAX; /* the newest entries come in one answer */
    audit_out out = {.chain_ok = 1};
    if (c->json)
        out.arr = json_object_new_array();
    else if (cp_table_init(&out.table, 7, audit_header))
        out.failed = 1;
    rc = audit_pages(c, &q, &out);
    if (rc == CLI_EXIT_OK && out.failed)
        rc = cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    if (rc == CLI_EXIT_OK)
        rc = print_audit(c, &out, out.count >= q.limit);
    if (out.arr)
        json_object_put(out.arr);
    if (!c->json)
        cp_table_free(&out.table);
    return rc;
}

/* ---- stats ---- */

static const char stats_help[] =
    "usage: practice stats\n"
    "\n"
    "Shows the server's counters: connections, sessions, write batches, memory, and per\n"
    "request type the count, errors and latencies (p50/p99/max from arrival to answer,\n"
    "including the durable commit; 'work' is the handler's own part).\n";

static void duration(uint64_t us, char *buf, size_t n)
{
    if (us < 1000)
        snprintf(buf, n, "%llu us", (unsigned long long)us);
    else
        snprintf(buf, n, "%.1f ms", (double)us / 1000.0);
}

static int print_stats(cli *c, const Pm__Stats *s)
{
    if (c->json) {
        cj_print(cj_stats(s));
        return CLI_EXIT_OK;
    }
    printf("Connections %llu, sessions %llu, write batches %llu (%llu writes, largest %llu), "
           "last event %llu\nMemory %.1f MiB, database map %.1f MiB\n\n",
           (unsigned long long)s->connections, (unsigned long long)s->sessions,
           (unsigned long long)s->commits, (unsigned long long)s->committed_writes,
           (unsigned long long)s->max_batch, (unsigned long long)s->last_event_seq,
           (double)s->rss_bytes / 1048576.0, (double)s->map_size / 1048576.0);
    static const char *const header[8] = {"REQUEST", "COUNT", "ERRORS",   "P50",
                                          "P99",     "MAX",   "WORK P50", "WORK P99"};
    cp_table t;
    int bad = cp_table_init(&t, 8, header);
    for (size_t i = 0; !bad && i < s->n_ops; i++) {
        const Pm__OpStat *st = s->ops[i];
        char count[24], errors[24], p50[24], p99[24], max[24], h50[24], h99[24];
        snprintf(count, sizeof count, "%llu", (unsigned long long)st->count);
        snprintf(errors, sizeof errors, "%llu", (unsigned long long)st->errors);
        duration(st->p50_us, p50, sizeof p50);
        duration(st->p99_us, p99, sizeof p99);
        duration(st->max_us, max, sizeof max);
        duration(st->handler_p50_us, h50, sizeof h50);
        duration(st->handler_p99_us, h99, sizeof h99);
        const char *cells[8] = {st->op, count, errors, p50, p99, max, h50, h99};
        bad = cp_table_row(&t, cells);
    }
    return cli_print_table(c, &t, bad);
}

static int cmd_stats(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {HELP_OPTION, END_OPTIONS};
    int o = cli_opt(c, argc, argv, opts);
    if (o != -1)
        return cli_opt_exit(o);
    if (optind < argc)
        return cli_usage_error(c, "stats takes no arguments");
    int rc = cli_open(c);
    if (rc)
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__GetStats *gs;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e =
        cli_request(&a, PM__ENVELOPE__BODY_GET_STATS, &pm__get_stats__descriptor, (void **)&gs);
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_STATS, &resp);
    if (rc == CLI_EXIT_OK)
        rc = print_stats(c, resp->stats);
    pm_arena_free(&a);
    return rc;
}

const cli_cmd cli_audit_cmds[] = {
    {"audit", "who read or changed what, and when", audit_help, cmd_audit, NULL, NULL},
    {"stats", "the server's counters and latencies", stats_help, cmd_stats, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
