/* The practice's set-up records named by a code: practice location | room | provider |
 * visit-type, each with add | edit | show | list. One table per kind says which option
 * fills which field, what the server calls that field in its errors, and how the field
 * is shown; the four commands are written once for every kind. */
#include "cli_sched.h"

#include "pm_err.h"
#include "pm_util.h"

#include <stddef.h>
#include <string.h>

enum sf_type {
    SF_TEXT,  /* a string member */
    SF_ADDR,  /* a string of the record's Address */
    SF_UINT,  /* a uint32 member, at most `value` */
    SF_FLAG,  /* a boolean member set to `value` */
    SF_LIST,  /* repeated string, comma-separated; the first use on edit replaces */
    SF_HOURS, /* repeated OpeningHours: "mon-fri 08:00-18:00" */
};

#define SF_REQUIRED 1u /* needed by add */

typedef struct sfield {
    const char *opt; /* with its dashes */
    enum sf_type type;
    size_t off;       /* the member (SF_ADDR: in Pm__Address) */
    size_t count_off; /* SF_LIST, SF_HOURS: the member counting it */
    unsigned value;   /* SF_FLAG: what the option sets; SF_UINT: the largest value */
    unsigned flags;
    const char *wire;  /* the field's name in the server's errors */
    const char *arg;   /* the value in the help; NULL for a flag */
    const char *label; /* shown by show (NULL: not shown) */
    const char *col;   /* the column of list (NULL: none) */
    const char *empty; /* shown when the field is empty (a flag: unset), or NULL */
    const char *help;
    const char *yes; /* a flag: shown when set */
} sfield;

#define LIST_BY_LOCATION 1u /* list --location L */
#define LIST_INACTIVE    2u /* list hides inactive records unless --all */

typedef struct setup_kind {
    const char *word;       /* as typed: "visit-type" */
    const char *what;       /* in sentences: "visit type" */
    const char *list_field; /* its list in Setup: "visit_types" */
    const ProtobufCMessageDescriptor *desc;
    const ProtobufCMessageDescriptor *put_desc;
    Pm__Envelope__BodyCase put;
    size_t addr_off; /* the Address member, or 0 */
    unsigned list_flags;
    const sfield *fields;
    size_t nfields;
    const char *examples; /* the help's examples of add and edit */
} setup_kind;

#define TEXT(o, type, member, arg, label, col, help)                                               \
    {                                                                                              \
        o, SF_TEXT, offsetof(type, member), 0, 0, 0, #member, arg, label, col, NULL, help          \
    }
#define ADDR(o, member, help)                                                                      \
    {                                                                                              \
        o, SF_ADDR, offsetof(Pm__Address, member), 0, 0, 0, "address." #member, "TEXT", "Address", \
            NULL, NULL, help                                                                       \
    }

/* ---- the kinds ---- */

static const sfield location_fields[] = {
    {"--name", SF_TEXT, offsetof(Pm__Location, name), 0, 0, SF_REQUIRED, "name", "NAME", "Name",
     "NAME", NULL, "the name people know it by, e.g. \"Main Street\""},
    ADDR("--address-line1", line1, "street address"),
    ADDR("--address-line2", line2, "building, floor, ..."),
    ADDR("--city", city, "city or town"),
    ADDR("--region", region, "state, county or region"),
    ADDR("--postal-code", postal_code, "postal code"),
    ADDR("--country", country, "country"),
    TEXT("--phone", Pm__Location, phone, "NUMBER", "Phone", "PHONE", "the front desk's number"),
    TEXT("--ticket-prefix", Pm__Location, ticket_prefix, "TEXT", "Ticket prefix", NULL,
         "queue tickets read PREFIX-017 (default: the ID's first letter)"),
    {"--hours", SF_HOURS, offsetof(Pm__Location, hours), offsetof(Pm__Location, n_hours), 0, 0,
     "hours", "\"DAYS HH:MM-HH:MM\"", "Hours", "HOURS", "not given",
     "opening hours, e.g. \"mon-fri 08:00-18:00\" or \"sat 09:00-12:00\"; repeat for more "
     "(on edit, the hours given replace the old ones; \"\" clears them)"},
};

static const sfield room_fields[] = {
    {"--location", SF_TEXT, offsetof(Pm__Room, location), 0, 0, SF_REQUIRED, "location", "LOCATION",
     "Location", "LOCATION", NULL, "the location it is in"},
    {"--name", SF_TEXT, offsetof(Pm__Room, name), 0, 0, SF_REQUIRED, "name", "NAME", "Name", "NAME",
     NULL, "e.g. \"Room 1\""},
};

static const sfield provider_fields[] = {
    {"--name", SF_TEXT, offsetof(Pm__Provider, name), 0, 0, SF_REQUIRED, "name", "NAME", "Name",
     "NAME", NULL, "full name, e.g. \"Chidi Okafor\""},
    TEXT("--credentials", Pm__Provider, credentials, "TEXT", "Credentials", "CREDENTIALS",
         "e.g. MD, RN, NP"),
    TEXT("--color", Pm__Provider, color, "#RRGGBB", "Colour", NULL,
         "the colour of their column, e.g. \"#3b82f6\""),
    {"--location", SF_TEXT, offsetof(Pm__Provider, default_location), 0, 0, 0, "default_location",
     "LOCATION", "Location", "LOCATION", NULL,
     "where they usually work (template blocks default to it)"},
    {"--user", SF_TEXT, offsetof(Pm__Provider, username), 0, 0, 0, "username", "USERNAME",
     "Account", "ACCOUNT", NULL, "their staff account, if any"},
    {"--inactive", SF_FLAG, offsetof(Pm__Provider, inactive), 0, 1, 0, "inactive", NULL, "Status",
     "STATUS", "active", "no longer seeing patients: hidden from slots and lists", "inactive"},
    {"--active", SF_FLAG, offsetof(Pm__Provider, inactive), 0, 0, 0, "inactive", NULL, NULL, NULL,
     NULL, "seeing patients again"},
};

static const sfield visit_type_fields[] = {
    {"--name", SF_TEXT, offsetof(Pm__VisitType, name), 0, 0, SF_REQUIRED, "name", "NAME", "Name",
     "NAME", NULL, "e.g. \"Check-up\""},
    {"--minutes", SF_UINT, offsetof(Pm__VisitType, duration_min), 0, 720, SF_REQUIRED,
     "duration_min", "N", "Minutes", "MIN", NULL, "how long it takes"},
    {"--providers", SF_LIST, offsetof(Pm__VisitType, providers),
     offsetof(Pm__VisitType, n_providers), 0, 0, "providers", "P,P...", "Providers", "PROVIDERS",
     "every provider",
     "who offers it (default: every provider; on edit the list given replaces the old one, "
     "\"\" means every provider)"},
    {"--needs-room", SF_FLAG, offsetof(Pm__VisitType, needs_room), 0, 1, 0, "needs_room", NULL,
     "Needs a room", "ROOM", "no", "a free room of the location is taken with each booking", "yes"},
    {"--no-room", SF_FLAG, offsetof(Pm__VisitType, needs_room), 0, 0, 0, "needs_room", NULL, NULL,
     NULL, NULL, "needs no room"},
    TEXT("--color", Pm__VisitType, color, "#RRGGBB", "Colour", NULL, "e.g. \"#10b981\""),
};

static const setup_kind location_kind = {
    "location",
    "location",
    "locations",
    &pm__location__descriptor,
    &pm__put_location__descriptor,
    PM__ENVELOPE__BODY_PUT_LOCATION,
    offsetof(Pm__Location, address),
    0,
    location_fields,
    PM_ARRAY_LEN(location_fields),
    "  practice location add main --name \"Main Street\" --address-line1 \"12 Main St\" \\\n"
    "      --city Springfield --hours \"mon-fri 08:00-18:00\" --hours \"sat 09:00-12:00\"\n"
    "  practice location edit main --phone \"555 0100\"\n",
};

static const setup_kind room_kind = {
    "room",
    "room",
    "rooms",
    &pm__room__descriptor,
    &pm__put_room__descriptor,
    PM__ENVELOPE__BODY_PUT_ROOM,
    0,
    LIST_BY_LOCATION,
    room_fields,
    PM_ARRAY_LEN(room_fields),
    "  practice room add r1 --location main --name \"Room 1\"\n"
    "  practice room edit r1 --name \"Room 1 (treatment)\"\n",
};

static const setup_kind provider_kind = {
    "provider",
    "provider",
    "providers",
    &pm__provider__descriptor,
    &pm__put_provider__descriptor,
    PM__ENVELOPE__BODY_PUT_PROVIDER,
    0,
    LIST_INACTIVE,
    provider_fields,
    PM_ARRAY_LEN(provider_fields),
    "  practice provider add dr-okafor --name \"Chidi Okafor\" --credentials MD \\\n"
    "      --color \"#3b82f6\" --location main --user cokafor\n"
    "  practice provider edit dr-okafor --inactive\n",
};

static const setup_kind visit_type_kind = {
    "visit-type",
    "visit type",
    "visit_types",
    &pm__visit_type__descriptor,
    &pm__put_visit_type__descriptor,
    PM__ENVELOPE__BODY_PUT_VISIT_TYPE,
    0,
    0,
    visit_type_fields,
    PM_ARRAY_LEN(visit_type_fields),
    "  practice visit-type add checkup --name \"Check-up\" --minutes 20\n"
    "  practice visit-type add minor-op --name \"Minor procedure\" --minutes 45 \\\n"
    "      --providers dr-okafor,dr-lee --needs-room\n"
    "  practice visit-type edit checkup --minutes 30\n",
};

/* ---- records, generically ---- */

static void *member(const void *rec, size_t off)
{
    return (char *)rec + off;
}

static const ProtobufCFieldDescriptor *field_named(const ProtobufCMessageDescriptor *d,
                                                   const char *name)
{
    return protobuf_c_message_descriptor_get_field_by_name(d, name);
}

static const char *rec_id(const setup_kind *k, const void *rec)
{
    return *(char **)member(rec, field_named(k->desc, "id")->offset);
}

static uint32_t *rec_version(const setup_kind *k, void *rec)
{
    return member(rec, field_named(k->desc, "version")->offset);
}

/* The kind's records in a Setup. */
static void **setup_list(const setup_kind *k, const Pm__Setup *s, size_t *n)
{
    const ProtobufCFieldDescriptor *f = field_named(&pm__setup__descriptor, k->list_field);
    *n = *(size_t *)member(s, f->quantifier_offset);
    return *(void ***)member(s, f->offset);
}

static void *find_record(const setup_kind *k, const Pm__Setup *s, const char *id)
{
    size_t n;
    void **v = setup_list(k, s, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rec_id(k, v[i]), id) == 0)
            return v[i];
    return NULL;
}

static const setup_kind *current_kind;

/* The option for a field the server names, for the kind being written. */
static const char *kind_field_option(const char *field)
{
    const setup_kind *k = current_kind;
    for (size_t i = 0; k && i < k->nfields; i++) {
        size_t n = strlen(k->fields[i].wire);
        if (strncmp(field, k->fields[i].wire, n) == 0 && (!field[n] || field[n] == '['))
            return k->fields[i].opt;
    }
    if (strcmp(field, "id") == 0)
        return "ID";
    return sched_field_option(field);
}

/* ---- values shown ---- */

static void hours_text(const Pm__OpeningHours *const *h, size_t n, const char *sep, char *buf,
                       size_t len)
{
    /* weekdays with the same span go together: "mon-fri 08:00-18:00" */
    size_t used = 0;
    unsigned done = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (done & (1u << i) || i >= 32)
            continue;
        unsigned mask = 0;
        for (size_t j = i; j < n && j < 32; j++)
            if (h[j]->start_min == h[i]->start_min && h[j]->end_min == h[i]->end_min) {
                mask |= 1u << (h[j]->weekday & 7);
                done |= 1u << j;
            }
        char days[64], t0[8], t1[8];
        sched_weekdays_text(mask, days, sizeof days);
        sched_hhmm(h[i]->start_min, t0, sizeof t0);
        sched_hhmm(h[i]->end_min, t1, sizeof t1);
        int w = snprintf(buf + used, len - used, "%s%s %s-%s", used ? sep : "", days, t0, t1);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

static void address_text(const Pm__Address *a, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s", a ? a->line1 : "", a && *a->line1 && *a->city ? ", " : "",
             a ? a->city : "");
}

/* A field's value as text; multi-line values joined by sep. */
static void value_text(const setup_kind *k, const sfield *f, const void *rec, const char *sep,
                       char *buf, size_t n)
{
    buf[0] = 0;
    switch (f->type) {
    case SF_TEXT:
        snprintf(buf, n, "%s", *(char **)member(rec, f->off));
        break;
    case SF_ADDR:
        address_text(*(Pm__Address **)member(rec, k->addr_off), buf, n);
        break;
    case SF_UINT:
        snprintf(buf, n, "%u", *(uint32_t *)member(rec, f->off));
        break;
    case SF_FLAG:
        snprintf(buf, n, "%s", *(protobuf_c_boolean *)member(rec, f->off) ? f->yes : "");
        break;
    case SF_LIST: {
        size_t count = *(size_t *)member(rec, f->count_off), used = 0;
        char **v = *(char ***)member(rec, f->off);
        for (size_t i = 0; i < count && used < n; i++) {
            int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", v[i]);
            used = w < 0 ? n : used + (size_t)w;
        }
        break;
    }
    case SF_HOURS:
        hours_text(*(const Pm__OpeningHours *const **)member(rec, f->off),
                   *(size_t *)member(rec, f->count_off), sep, buf, n);
        break;
    }
    if (!buf[0] && f->empty)
        snprintf(buf, n, "%s", f->empty);
}

static void show_record(FILE *out, const setup_kind *k, void *rec)
{
    char title[64];
    snprintf(title, sizeof title, "%s", k->what);
    title[0] = (char)(title[0] - 32);
    fprintf(out, "%s %s (version %u)\n", title, rec_id(k, rec), *rec_version(k, rec));
    int address_done = 0;
    for (size_t i = 0; i < k->nfields; i++) {
        const sfield *f = &k->fields[i];
        if (!f->label)
            continue;
        if (f->type == SF_ADDR) {
            if (!address_done)
                cp_address(out, *(Pm__Address **)member(rec, k->addr_off));
            address_done = 1;
            continue;
        }
        char buf[1024];
        value_text(k, f, rec, "\n", buf, sizeof buf);
        if (!buf[0])
            continue;
        /* one line per line of the value */
        char *line = buf, *nl;
        int first = 1;
        do {
            nl = strchr(line, '\n');
            if (nl)
                *nl = 0;
            if (first)
                cp_label(out, f->label, line);
            else
                cp_label_more(out, line);
            first = 0;
            line = nl ? nl + 1 : NULL;
        } while (line);
    }
}

/* The list's columns: ID, then every field with a column, the address once. */
static size_t list_columns(const setup_kind *k, const char **header, const sfield **cols)
{
    size_t n = 0;
    header[n] = "ID";
    cols[n++] = NULL;
    int address_done = 0;
    for (size_t i = 0; i < k->nfields && n < 16; i++) {
        const sfield *f = &k->fields[i];
        if (f->type == SF_ADDR && !address_done) {
            header[n] = "ADDRESS";
            cols[n++] = f;
            address_done = 1;
        } else if (f->col) {
            header[n] = f->col;
            cols[n++] = f;
        }
    }
    return n;
}

static int print_list(cli *c, const setup_kind *k, const Pm__Setup *s, int all)
{
    size_t n;
    void **v = setup_list(k, s, &n);
    const ProtobufCFieldDescriptor *inactive = field_named(k->desc, "inactive");
    if (c->json) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++)
            if (all || !inactive || !*(protobuf_c_boolean *)member(v[i], inactive->offset))
                json_object_array_add(arr, cj_message(v[i]));
        cj_print(arr);
        return CLI_EXIT_OK;
    }
    const char *header[16];
    const sfield *cols[16];
    size_t ncols = list_columns(k, header, cols), shown = 0;
    cp_table t;
    int bad = cp_table_init(&t, ncols, header);
    for (size_t i = 0; !bad && i < n; i++) {
        if (!all && inactive && *(protobuf_c_boolean *)member(v[i], inactive->offset))
            continue;
        char cells[16][256];
        const char *row[16];
        for (size_t col = 0; col < ncols; col++) {
            if (cols[col])
                value_text(k, cols[col], v[i], "; ", cells[col], sizeof cells[col]);
            else
                snprintf(cells[col], sizeof cells[col], "%s", rec_id(k, v[i]));
            row[col] = cells[col];
        }
        bad = cp_table_row(&t, row);
        shown++;
    }
    if (!bad && shown)
        cp_table_print(&t, stdout);
    else if (!bad)
        printf("No %ss.\n", k->what);
    cp_table_free(&t);
    return bad ? cli_fail(c, PM_E_NOMEM, NULL, "out of memory") : CLI_EXIT_OK;
}

/* ---- options ---- */

#define OPT_BASE   1000
#define OPT_EXPECT 999
#define OPT_MAX    64

typedef struct setup_op {
    const sfield *f;
    const char *arg;
} setup_op;

typedef struct setup_opts {
    setup_op ops[OPT_MAX];
    size_t n;
    uint32_t expect_version;
} setup_opts;

static size_t long_options(const setup_kind *k, int for_edit, struct option *opts)
{
    size_t n = 0;
    for (size_t i = 0; i < k->nfields; i++)
        opts[n++] = (struct option){k->fields[i].opt + 2,
                                    k->fields[i].arg ? required_argument : no_argument, 0,
                                    OPT_BASE + (int)i};
    if (for_edit)
        opts[n++] = (struct option){"expect-version", required_argument, 0, OPT_EXPECT};
    opts[n++] = (struct option)HELP_OPTION;
    opts[n] = (struct option)END_OPTIONS;
    return n;
}

/* "mon-fri 08:00-18:00" or "mon-fri 08:00-12:00,14:00-18:00"; adds the hours to *out
 * when out is not NULL. */
static int parse_hours(cli *c, const char *opt, const char *s, pm_arena *a, Pm__OpeningHours ***out,
                       size_t *n)
{
    char days[64];
    size_t dl = strcspn(s, " ");
    unsigned mask = 0;
    if (dl < sizeof days) {
        memcpy(days, s, dl);
        days[dl] = 0;
        mask = sched_parse_weekdays(days);
    }
    const char *spans = s + dl;
    while (*spans == ' ')
        spans++;
    if (!mask || !*spans)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, opt,
                        "%s \"%s\": give weekdays and hours, e.g. \"mon-fri 08:00-18:00\"", opt, s);
    while (*spans) {
        char span[32];
        size_t sl = strcspn(spans, ",");
        if (sl >= sizeof span)
            return cli_fail(c, PM_E_INVALID_ARGUMENT, opt, "%s \"%s\": not hours", opt, s);
        memcpy(span, spans, sl);
        span[sl] = 0;
        unsigned from, to;
        int rc = sched_parse_span(c, opt, span, &from, &to);
        if (rc)
            return rc;
        for (unsigned d = 1; out && d <= 7; d++) {
            if (!(mask & (1u << d)))
                continue;
            Pm__OpeningHours **g = pm_arena_alloc(a, sizeof *g * (*n + 1));
            Pm__OpeningHours *h = pm_msg_new(a, &pm__opening_hours__descriptor);
            if (!g || !h)
                return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
            if (*n)
                memcpy(g, *out, sizeof *g * *n);
            h->weekday = d;
            h->start_min = from;
            h->end_min = to;
            g[(*n)++] = h;
            *out = g;
        }
        spans += sl;
        if (*spans == ',')
            spans++;
    }
    return CLI_EXIT_OK;
}

/* Collects the options (checking what can be checked before connecting). CLI_OPT_HELP
 * after the help. */
static int parse_opts(cli *c, const setup_kind *k, int argc, char **argv, int for_edit,
                      setup_opts *so)
{
    struct option opts[OPT_MAX];
    long_options(k, for_edit, opts);
    memset(so, 0, sizeof *so);
    int o;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0) {
        int rc = CLI_EXIT_OK;
        if (o == OPT_EXPECT) {
            unsigned long v;
            rc = cli_parse_uint(c, "--expect-version", optarg, 1, UINT32_MAX, &v);
            so->expect_version = (uint32_t)v;
        } else if (so->n == OPT_MAX) {
            rc = cli_usage_error(c, "too many options");
        } else {
            const sfield *f = &k->fields[o - OPT_BASE];
            unsigned long v;
            if (f->type == SF_UINT)
                rc = cli_parse_uint(c, f->opt, optarg, 1, f->value, &v);
            else if (f->type == SF_HOURS && *optarg)
                rc = parse_hours(c, f->opt, optarg, NULL, NULL, NULL);
            so->ops[so->n++] = (setup_op){f, optarg};
        }
        if (rc) {
            c->opt_active = 0;
            return rc;
        }
    }
    if (o == CLI_OPT_HELP)
        return CLI_OPT_HELP;
    return o == -1 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

static int has_opt(const setup_opts *so, const sfield *f)
{
    for (size_t i = 0; i < so->n; i++)
        if (so->ops[i].f == f)
            return 1;
    return 0;
}

static int apply_opts(cli *c, const setup_kind *k, const setup_opts *so, void *rec, pm_arena *a)
{
    unsigned replaced = 0; /* lists already replaced by this command line */
    for (size_t i = 0; i < so->n; i++) {
        const sfield *f = so->ops[i].f;
        const char *arg = so->ops[i].arg;
        unsigned bit = 1u << (f - k->fields);
        switch (f->type) {
        case SF_TEXT:
            *(char **)member(rec, f->off) = (char *)arg;
            break;
        case SF_ADDR: {
            Pm__Address **addr = member(rec, k->addr_off);
            if (!*addr && !(*addr = pm_msg_new(a, &pm__address__descriptor)))
                return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
            *(char **)member(*addr, f->off) = (char *)arg;
            break;
        }
        case SF_UINT:
            *(uint32_t *)member(rec, f->off) = (uint32_t)strtoul(arg, NULL, 10);
            break;
        case SF_FLAG:
            *(protobuf_c_boolean *)member(rec, f->off) = (protobuf_c_boolean)f->value;
            break;
        case SF_LIST:
        case SF_HOURS: {
            size_t *count = member(rec, f->count_off);
            if (!(replaced & bit))
                *count = 0;
            replaced |= bit;
            int rc = f->type == SF_LIST ? sched_list_add(a, arg, member(rec, f->off), count)
                     : *arg             ? parse_hours(c, f->opt, arg, a, member(rec, f->off), count)
                                        : CLI_EXIT_OK;
            if (rc == PM_E_NOMEM)
                return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
            if (rc)
                return rc;
            break;
        }
        }
    }
    return CLI_EXIT_OK;
}

static void opts_help(FILE *f, const setup_kind *k, int for_edit)
{
    fprintf(f, "Options:\n");
    for (size_t i = 0; i < k->nfields; i++) {
        const sfield *sf = &k->fields[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", sf->opt, sf->arg ? " " : "", sf->arg ? sf->arg : "");
        cp_help_line(f, left, sf->help);
    }
    if (for_edit)
        cp_help_line(f, "--expect-version N",
                     "save only if the record is still at version N (for scripts)");
    fprintf(f, "\nExamples:\n%s", k->examples);
}

/* ---- requests ---- */

static int put_record(cli *c, const setup_kind *k, pm_arena *a, void *rec, void **saved)
{
    void *put;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(a, k->put, k->put_desc, &put);
    if (e)
        *(void **)member(put, k->put_desc->fields[0].offset) = rec;
    current_kind = k;
    c->field_option = kind_field_option;
    int rc = cli_call(c, e, a, PM__ENVELOPE__BODY_SETUP, &resp);
    if (rc)
        return rc;
    *saved = find_record(k, resp->setup, rec_id(k, rec));
    if (!*saved)
        return cli_fail(c, PM_E_PROTOCOL, NULL, "the server's answer lacks the %s", k->what);
    return CLI_EXIT_OK;
}

static int fetch_record(cli *c, const setup_kind *k, pm_arena *a, const char *id, void **out)
{
    Pm__Setup *s;
    int rc = sched_get_setup(c, a, NULL, NULL, NULL, NULL, &s);
    if (rc)
        return rc;
    *out = find_record(k, s, id);
    if (!*out)
        return cli_fail(c, PM_E_NOT_FOUND, NULL, "no %s %s; see 'practice %s list'", k->what, id,
                        k->word);
    return CLI_EXIT_OK;
}

static int print_saved(cli *c, const setup_kind *k, void *rec, const char *verb)
{
    if (c->json) {
        cj_print(cj_message(rec));
        return CLI_EXIT_OK;
    }
    printf("%s %s %s (version %u).\n", verb, k->what, rec_id(k, rec), *rec_version(k, rec));
    show_record(stdout, k, rec);
    return CLI_EXIT_OK;
}

/* ---- the commands, for every kind ---- */

static int setup_add(cli *c, const setup_kind *k, int argc, char **argv)
{
    setup_opts so;
    int rc = parse_opts(c, k, argc, argv, 0, &so);
    if (rc)
        return rc == CLI_OPT_HELP ? CLI_EXIT_OK : rc;
    if (argc - optind != 1)
        return cli_usage_error(c, "give one ID for the new %s", k->what);
    char missing[128] = "";
    for (size_t i = 0; i < k->nfields; i++)
        if ((k->fields[i].flags & SF_REQUIRED) && !has_opt(&so, &k->fields[i]))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s",
                     k->fields[i].opt);
    if (*missing)
        return cli_usage_error(c, "missing:%s", missing);
    if ((rc = cli_open(c)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    void *rec = pm_msg_new(&a, k->desc), *saved = NULL;
    if (!rec) {
        rc = cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    } else {
        *(char **)member(rec, field_named(k->desc, "id")->offset) = argv[optind];
        rc = apply_opts(c, k, &so, rec, &a);
    }
    if (rc == CLI_EXIT_OK)
        rc = put_record(c, k, &a, rec, &saved);
    if (rc == CLI_EXIT_OK)
        rc = print_saved(c, k, saved, "Added");
    pm_arena_free(&a);
    return rc;
}

static int setup_edit(cli *c, const setup_kind *k, int argc, char **argv)
{
    setup_opts so;
    int rc = parse_opts(c, k, argc, argv, 1, &so);
    if (rc)
        return rc == CLI_OPT_HELP ? CLI_EXIT_OK : rc;
    if (argc - optind != 1)
        return cli_usage_error(c, "give the ID of one %s", k->what);
    if (so.n == 0)
        return cli_usage_error(c, "nothing to change: give at least one option");
    if ((rc = cli_open(c)))
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    void *rec = NULL, *saved = NULL;
    rc = fetch_record(c, k, &a, argv[optind], &rec);
    if (rc == CLI_EXIT_OK)
        rc = apply_opts(c, k, &so, rec, &a);
    if (rc == CLI_EXIT_OK) {
        if (so.expect_version)
            *rec_version(k, rec) = so.expect_version;
        rc = put_record(c, k, &a, rec, &saved);
    }
    if (rc == CLI_EXIT_OK)
        rc = print_saved(c, k, saved, "Saved");
    pm_arena_free(&a);
    return rc;
}

static int setup_show(cli *c, const setup_kind *k, int argc, char **argv)
{
    static const struct option opts[] = {HELP_OPTION, END_OPTIONS};
    int o = cli_opt(c, argc, argv, opts);
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1)
        return cli_usage_error(c, "give the ID of one %s", k->what);
    int rc = cli_open(c);
    if (rc)
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    void *rec;
    rc = fetch_record(c, k, &a, argv[optind], &rec);
    if (rc == CLI_EXIT_OK && c->json)
        cj_print(cj_message(rec));
    else if (rc == CLI_EXIT_OK)
        show_record(stdout, k, rec);
    pm_arena_free(&a);
    return rc;
}

static int setup_list_cmd(cli *c, const setup_kind *k, int argc, char **argv)
{
    static const struct option opts[] = {{"location", required_argument, 0, 'l'},
                                         {"all", no_argument, 0, 'a'},
                                         HELP_OPTION,
                                         END_OPTIONS};
    const char *location = NULL;
    int all = 0, o;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == 'l' && (k->list_flags & LIST_BY_LOCATION))
            location = optarg;
        else if (o == 'a' && (k->list_flags & LIST_INACTIVE))
            all = 1;
        else {
            c->opt_active = 0;
            return cli_usage_error(c, "%s is not an option of this command",
                                   o == 'l' ? "--location" : "--all");
        }
    }
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
    rc = sched_get_setup(c, &a, NULL, location, NULL, NULL, &s);
    if (rc == CLI_EXIT_OK)
        rc = print_list(c, k, s, all);
    pm_arena_free(&a);
    return rc;
}

/* ---- help texts ---- */

static const char id_rule[] =
    "ID is a short code used in other commands: 1 to 32 of a-z, 0-9 and '-', starting with\n"
    "a letter.\n\n";

#define ADD_HELP(word, what, usage, text)                                                          \
    "usage: practice " word " add ID " usage " [options]\n\n" text "\n"
#define EDIT_HELP(word, what)                                                                      \
    "usage: practice " word " edit ID [options]\n\n"                                               \
    "Changes a " what ": reads it, applies the options given and saves it as a new\n"              \
    "version. Fields not named stay as they are; \"\" clears a text. If someone else saved\n"      \
    "it in between, nothing is saved (exit 7): run the command again.\n\n"
#define SHOW_HELP(word, what) "usage: practice " word " show ID\n\nShows a " what ".\n"

#define KIND_COMMANDS(name, kind, list_help, add_text, add_usage)                                  \
    static void name##_add_extra(FILE *f)                                                          \
    {                                                                                              \
        fputs(id_rule, f);                                                                         \
        opts_help(f, &kind, 0);                                                                    \
    }                                                                                              \
    static void name##_edit_extra(FILE *f)                                                         \
    {                                                                                              \
        opts_help(f, &kind, 1);                                                                    \
    }                                                                                              \
    static int name##_add(cli *c, int argc, char **argv)                                           \
    {                                                                                              \
        return setup_add(c, &kind, argc, argv);                                                    \
    }                                                                                              \
    static int name##_edit(cli *c, int argc, char **argv)                                          \
    {                                                                                              \
        return setup_edit(c, &kind, argc, argv);                                                   \
    }                                                                                              \
    static int name##_show(cli *c, int argc, char **argv)                                          \
    {                                                                                              \
        return setup_show(c, &kind, argc, argv);                                                   \
    }                                                                                              \
    static int name##_list(cli *c, int argc, char **argv)                                          \
    {                                                                                              \
        return setup_list_cmd(c, &kind, argc, argv);                                               \
    }                                                                                              \
    const cli_cmd cli_##name##_cmds[] = {                                                          \
        {"add", "add a " #name, ADD_HELP(#name, #name, add_usage, add_text), name##_add, NULL,     \
         name##_add_extra},                                                                        \
        {"edit", "change a " #name, EDIT_HELP(#name, #name), name##_edit, NULL,                    \
         name##_edit_extra},                                                                       \
        {"show", "show a " #name, SHOW_HELP(#name, #name), name##_show, NULL, NULL},               \
        {"list", "list the " #name "s", list_help, name##_list, NULL, NULL},                       \
        {NULL, NULL, NULL, NULL, NULL, NULL},                                                      \
    };

KIND_COMMANDS(location, location_kind,
              "usage: practice location list\n\nLists the practice's locations.\n",
              "Adds a location of the practice: a site with its address and opening hours.\n",
              "--name NAME")
KIND_COMMANDS(room, room_kind,
              "usage: practice room list [--location LOCATION]\n\n"
              "Lists the rooms, of every location or of one.\n",
              "Adds a room of a location. Visit types that need a room take a free one when\n"
              "booked.\n",
              "--location LOCATION --name NAME")
KIND_COMMANDS(provider, provider_kind,
              "usage: practice provider list [--all]\n\n"
              "Lists the providers who see patients; --all adds the inactive ones.\n",
              "Adds a provider: someone patients book, with the colour of their column in the\n"
              "schedule. Their hours are set with 'practice template set'.\n",
              "--name NAME")

/* "visit-type" is not a C name: written out. */
static void visit_type_add_extra(FILE *f)
{
    fputs(id_rule, f);
    opts_help(f, &visit_type_kind, 0);
}

static void visit_type_edit_extra(FILE *f)
{
    opts_help(f, &visit_type_kind, 1);
}

static int visit_type_add(cli *c, int argc, char **argv)
{
    return setup_add(c, &visit_type_kind, argc, argv);
}

static int visit_type_edit(cli *c, int argc, char **argv)
{
    return setup_edit(c, &visit_type_kind, argc, argv);
}

static int visit_type_show(cli *c, int argc, char **argv)
{
    return setup_show(c, &visit_type_kind, argc, argv);
}

static int visit_type_list(cli *c, int argc, char **argv)
{
    return setup_list_cmd(c, &visit_type_kind, argc, argv);
}

const cli_cmd cli_visit_type_cmds[] = {
    {"add", "add a visit type",
     ADD_HELP("visit-type", "visit type", "--name NAME --minutes N",
              "Adds a kind of appointment: how long it takes, who offers it, whether it needs\n"
              "a room.\n"),
     visit_type_add, NULL, visit_type_add_extra},
    {"edit", "change a visit type", EDIT_HELP("visit-type", "visit type"), visit_type_edit, NULL,
     visit_type_edit_extra},
    {"show", "show a visit type", SHOW_HELP("visit-type", "visit type"), visit_type_show, NULL,
     NULL},
    {"list", "list the visit types",
     "usage: practice visit-type list\n\nLists the kinds of appointment, with their length.\n",
     visit_type_list, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
