/* practice patient add | show | edit | search | list */
#include "cli_patient.h"

#include "pm_err.h"

#include <string.h>

#define LIST_PAGE_MAX 500
#define SEARCH_MAX    500

static int parse_exit(int rc)
{
    return rc == CLI_OPT_HELP ? CLI_EXIT_OK : rc;
}

static int print_patient(cli *c, const Pm__Patient *p, const char *headline)
{
    if (c->json) {
        cj_print(cj_patient(p));
        return CLI_EXIT_OK;
    }
    if (headline)
        printf("%s\n", headline);
    cp_patient(stdout, p);
    return CLI_EXIT_OK;
}

/* GetPatient; the read is recorded in the audit log. */
static int get_patient(cli *c, pm_arena *a, const char *mrn, Pm__Patient **out)
{
    Pm__GetPatient *g;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e =
        cli_request(a, PM__ENVELOPE__BODY_GET_PATIENT, &pm__get_patient__descriptor, (void **)&g);
    if (e)
        g->mrn = (char *)mrn;
    int rc = cli_call(c, e, a, PM__ENVELOPE__BODY_PATIENT_OK, &resp);
    if (rc == CLI_EXIT_OK)
        *out = resp->patient_ok->patient;
    return rc;
}

/* ---- add ---- */

static const char add_help[] =
    "usage: practice patient add --first NAME --last NAME --dob YYYY-MM-DD [options]\n"
    "\n"
    "Registers a new patient and prints the medical record number (MRN) the server\n"
    "assigned, with the record.\n"
    "\n";

static void add_help_extra(FILE *f)
{
    patient_opts_help(f, 0);
    fputs("\nExamples:\n"
          "  practice patient add --first José --last Núñez --dob 1984-03-02 --sex male \\\n"
          "      --phone '+33 6 12 34 56 78:mobile' --language es\n"
          "  practice patient add --first Mary --last Smith-Jones --dob 1950-11-30 \\\n"
          "      --insurance-payer 'Blue Cross' --insurance-member XJ123 --no-sms\n",
          f);
}

static int cmd_add(cli *c, int argc, char **argv)
{
    patient_opts po;
    int rc = patient_opts_parse(c, argc, argv, &po, 0);
    if (rc)
        return parse_exit(rc);
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    static const char *const required[] = {"--first", "--last", "--dob"};
    char missing[64] = "";
    for (size_t i = 0; i < 3; i++)
        if (!patient_opts_has(&po, required[i]))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s",
                     required[i]);
    if (*missing)
        return cli_usage_error(c, "missing:%s", missing);
    if ((rc = cli_open(c)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__CreatePatient *cp;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_CREATE_PATIENT,
                                  &pm__create_patient__descriptor, (void **)&cp);
    Pm__Patient *p = pm_msg_new(&a, &pm__patient__descriptor);
    if (!e || !p)
        rc = cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    else if ((rc = patient_opts_apply(c, &po, p, &a)) == CLI_EXIT_OK) {
        cp->patient = p;
        rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_PATIENT_OK, &resp);
    }
    if (rc == CLI_EXIT_OK) {
        char line[64];
        snprintf(line, sizeof line, "Created patient %s.", resp->patient_ok->patient->mrn);
        print_patient(c, resp->patient_ok->patient, line);
    }
    pm_arena_free(&a);
    return rc;
}

/* ---- show ---- */

static const char show_help[] = "usage: practice patient show MRN\n"
                                "\n"
                                "Shows a patient's record. Each look is recorded in the audit "
                                "log.\n"
                                "\n"
                                "Example:\n"
                                "  practice patient show 100016\n";

static int cmd_show(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {HELP_OPTION, END_OPTIONS};
    int o = cli_opt(c, argc, argv, opts);
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1)
        return cli_usage_error(c, "give one MRN");
    int rc = cli_open(c);
    if (rc)
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Patient *p;
    rc = get_patient(c, &a, argv[optind], &p);
    if (rc == CLI_EXIT_OK)
        print_patient(c, p, NULL);
    pm_arena_free(&a);
    return rc;
}

/* ---- edit ---- */

static const char edit_help[] =
    "usage: practice patient edit MRN [options]\n"
    "\n"
    "Changes a patient's record: reads it, applies the options given and saves it as a new\n"
    "version. Fields not named stay as they are; an empty value (\"\") clears a field. If\n"
    "someone else saved the record in between, nothing is saved and the command fails\n"
    "(exit 7): run it again to apply your change to their version.\n"
    "\n";

static void edit_help_extra(FILE *f)
{
    patient_opts_help(f, 1);
    fputs("\nExamples:\n"
          "  practice patient edit 100016 --phone '555 0100:home' --email ''\n"
          "  practice patient edit 100016 --add-phone '+1 212 555 0199:work' --no-voicemail\n"
          "  practice patient edit 100016 --city Lyon --expect-version 3\n",
          f);
}

static int update_patient(cli *c, pm_arena *a, Pm__Patient *p, Pm__Patient **out)
{
    Pm__UpdatePatient *up;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(a, PM__ENVELOPE__BODY_UPDATE_PATIENT,
                                  &pm__update_patient__descriptor, (void **)&up);
    if (e)
        up->patient = p;
    int rc = cli_call(c, e, a, PM__ENVELOPE__BODY_PATIENT_OK, &resp);
    if (rc == CLI_EXIT_OK)
        *out = resp->patient_ok->patient;
    return rc;
}

static int cmd_edit(cli *c, int argc, char **argv)
{
    patient_opts po;
    int rc = patient_opts_parse(c, argc, argv, &po, 1);
    if (rc)
        return parse_exit(rc);
    if (argc - optind != 1)
        return cli_usage_error(c, "give one MRN");
    if (po.n == 0)
        return cli_usage_error(c, "nothing to change: give at least one option");
    if ((rc = cli_open(c)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Patient *p, *saved;
    rc = get_patient(c, &a, argv[optind], &p);
    if (rc == CLI_EXIT_OK)
        rc = patient_opts_apply(c, &po, p, &a);
    if (rc == CLI_EXIT_OK) {
        if (po.expect_version)
            p->version = po.expect_version;
        rc = update_patient(c, &a, p, &saved);
    }
    if (rc == CLI_EXIT_OK) {
        char line[96];
        snprintf(line, sizeof line, "Saved patient %s (now version %u).", saved->mrn,
                 saved->version);
        print_patient(c, saved, line);
    }
    pm_arena_free(&a);
    return rc;
}

/* ---- lists ---- */

/* Human or JSON output of patients, gathered over one or more answers. */
typedef struct patient_out {
    cli *c;
    json_object *arr;
    cp_table table;
    size_t count;
    int failed;
} patient_out;

static void out_init(patient_out *out, cli *c)
{
    memset(out, 0, sizeof *out);
    out->c = c;
    if (c->json)
        out->arr = json_object_new_array();
    else if (cp_table_init(&out->table, 5, cp_patient_header))
        out->failed = 1;
}

static void out_add(patient_out *out, Pm__Patient *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (out->arr)
            json_object_array_add(out->arr, cj_patient(v[i]));
        else if (cp_patient_row(&out->table, v[i]))
            out->failed = 1;
    }
    out->count += n;
}

/* Prints what was gathered (unless rc says the command failed) and frees it. */
static int out_finish(patient_out *out, int rc, const char *more_hint)
{
    if (rc == CLI_EXIT_OK && out->failed)
        rc = cli_fail(out->c, PM_E_NOMEM, NULL, "out of memory");
    if (rc == CLI_EXIT_OK && out->arr) {
        cj_print(out->arr);
        out->arr = NULL;
    } else if (rc == CLI_EXIT_OK && out->count == 0) {
        printf("No patients found.\n");
    } else if (rc == CLI_EXIT_OK) {
        cp_table_print(&out->table, stdout);
        printf("%zu patient%s.%s%s\n", out->count, out->count == 1 ? "" : "s", more_hint ? " " : "",
               more_hint ? more_hint : "");
    }
    if (out->arr)
        json_object_put(out->arr);
    if (!out->c->json)
        cp_table_free(&out->table);
    return rc;
}

/* ---- search ---- */

static const char search_help[] =
    "usage: practice patient search [NAME...] [--dob YYYY-MM-DD] [--phone DIGITS] [--mrn MRN]\n"
    "                               [--limit N]\n"
    "\n"
    "Finds patients. Every criterion given must match. Each NAME word is the start of a\n"
    "first, last or preferred name, without regard to case or accents ('nun' finds\n"
    "Núñez). A phone matches on its last digits. Each patient shown is recorded in the\n"
    "audit log.\n"
    "\n"
    "Options:\n"
    "  --dob YYYY-MM-DD   date of birth\n"
    "  --phone DIGITS     the last digits of a phone number (at least 4)\n"
    "  --mrn MRN          the medical record number\n"
    "  --limit N          at most N patients (default 50, at most 500)\n"
    "\n"
    "Examples:\n"
    "  practice patient search smith\n"
    "  practice patient search jo nun --dob 1984-03-02\n"
    "  practice patient search --phone 5550100\n";

static int cmd_search(cli *c, int argc, char **argv)
{
    enum { O_DOB = 1, O_PHONE, O_MRN, O_LIMIT };
    static const struct option opts[] = {{"dob", required_argument, 0, O_DOB},
                                         {"phone", required_argument, 0, O_PHONE},
                                         {"mrn", required_argument, 0, O_MRN},
                                         {"limit", required_argument, 0, O_LIMIT},
                                         HELP_OPTION,
                                         END_OPTIONS};
    const char *dob = "", *phone = "", *mrn = "";
    unsigned long limit = 50;
    int o, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == O_DOB)
            dob = optarg;
        else if (o == O_PHONE)
            phone = optarg;
        else if (o == O_MRN)
            mrn = optarg;
        else
            rc = cli_parse_uint(c, "--limit", optarg, 1, SEARCH_MAX, &limit);
    }
    if (rc)
        return rc;
    if (o != -1)
        return cli_opt_exit(o);
    char name[512] = "";
    for (int i = optind; i < argc; i++)
        snprintf(name + strlen(name), sizeof name - strlen(name), "%s%s", i > optind ? " " : "",
                 argv[i]);
    if (!*name && !*dob && !*phone && !*mrn)
        return cli_usage_error(c, "give a name, --dob, --phone or --mrn");
    if ((rc = cli_open(c)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__SearchPatients *q;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_SEARCH_PATIENTS,
                                  &pm__search_patients__descriptor, (void **)&q);
    if (e) {
        q->name = name;
        q->date_of_birth = (char *)dob;
        q->phone = (char *)phone;
        q->mrn = (char *)mrn;
        q->limit = (uint32_t)limit;
    }
    patient_out out;
    out_init(&out, c);
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_PATIENT_LIST, &resp);
    if (rc == CLI_EXIT_OK)
        out_add(&out, resp->patient_list->patients, resp->patient_list->n_patients);
    int full = rc == CLI_EXIT_OK && out.count == limit;
    rc = out_finish(&out, rc,
                    full ? "There may be more: narrow the search or raise --limit." : NULL);
    pm_arena_free(&a);
    return rc;
}

/* ---- list ---- */

static const char list_help[] =
    "usage: practice patient list [--limit N | --all]\n"
    "\n"
    "Lists patients by last name, then first name. Each patient shown is recorded in the\n"
    "audit log.\n"
    "\n"
    "Options:\n"
    "  --limit N   the first N patients (default 50)\n"
    "  --all       every patient\n"
    "\n"
    "Examples:\n"
    "  practice patient list\n"
    "  practice --json patient list --all > patients.json\n";

/* Asks for pages until want patients (0: all) have come or there are no more. */
static int list_pages(cli *c, patient_out *out, unsigned long want, int *more)
{
    uint8_t cursor[512];
    size_t clen = 0;
    *more = 0;
    for (;;) {
        unsigned long left = want ? want - out->count : LIST_PAGE_MAX;
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__ListPatients *q;
        Pm__Envelope *resp = NULL;
        Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_LIST_PATIENTS,
                                      &pm__list_patients__descriptor, (void **)&q);
        if (e) {
            q->cursor.data = cursor;
            q->cursor.len = clen;
            q->limit = (uint32_t)(left < LIST_PAGE_MAX ? left : LIST_PAGE_MAX);
        }
        int rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_PATIENT_LIST, &resp);
        size_t got = 0;
        if (rc == CLI_EXIT_OK) {
            const Pm__PatientList *pl = resp->patient_list;
            out_add(out, pl->patients, pl->n_patients);
            got = pl->n_patients;
            clen = pl->next_cursor.len <= sizeof cursor ? pl->next_cursor.len : 0;
            if (clen)
                memcpy(cursor, pl->next_cursor.data, clen);
        }
        pm_arena_free(&a);
        if (rc)
            return rc;
        if (!clen || !got)
            return CLI_EXIT_OK;
        if (want && out->count >= want) {
            *more = 1;
            return CLI_EXIT_OK;
        }
    }
}

static int cmd_list(cli *c, int argc, char **argv)
{
    enum { O_LIMIT = 1, O_ALL };
    static const struct option opts[] = {{"limit", required_argument, 0, O_LIMIT},
                                         {"all", no_argument, 0, O_ALL},
                                         HELP_OPTION,
                                         END_OPTIONS};
    unsigned long limit = 50;
    int all = 0, o, rc = CLI_EXIT_OK, limit_given = 0;
    while (rc == CLI_EXIT_OK && (o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == O_ALL)
            all = 1;
        else
            limit_given = 1, rc = cli_parse_uint(c, "--limit", optarg, 1, 1000000, &limit);
    }
    if (rc)
        return rc;
    if (o != -1)
        return cli_opt_exit(o);
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if (all && limit_given)
        return cli_usage_error(c, "give --limit or --all, not both");
    if ((rc = cli_open(c)))
        return rc;
    patient_out out;
    out_init(&out, c);
    int more;
    rc = list_pages(c, &out, all ? 0 : limit, &more);
    return out_finish(&out, rc, more ? "More follow: use --all or a larger --limit." : NULL);
}

const cli_cmd cli_patient_cmds[] = {
    {"add", "register a new patient", add_help, cmd_add, NULL, add_help_extra},
    {"show", "show a patient's record", show_help, cmd_show, NULL, NULL},
    {"edit", "change a patient's record", edit_help, cmd_edit, NULL, edit_help_extra},
    {"search", "find patients by name, birth date, phone or MRN", search_help, cmd_search, NULL,
     NULL},
    {"list", "list patients by name", list_help, cmd_list, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
