/* The patient options of 'patient add' and 'patient edit': one table says which option
 * fills which field of a Pm__Patient, what the server calls that field in its errors,
 * and what the help says. Options are collected first (so a bad command line fails
 * before anything is sent) and applied in order onto a new or a fetched record. */
#include "cli_patient.h"

#include "pm_err.h"
#include "pm_util.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

enum pf_kind { PF_TEXT, PF_SEX, PF_PHONE, PF_ADD_PHONE, PF_REMOVE_PHONE, PF_CLEAR_PHONES, PF_FLAG };
enum pf_group { G_PATIENT, G_ADDRESS, G_INSURANCE, G_EMERGENCY, G_PRIVACY };

typedef struct pfield {
    const char *opt; /* with its dashes */
    enum pf_kind kind;
    enum pf_group group;
    size_t off; /* PF_TEXT: the char * member; PF_FLAG: the protobuf_c_boolean */
    int value;  /* PF_FLAG: what the option sets */
    int edit_only;
    const char *wire; /* the field's name in the server's errors */
    const char *arg;  /* for the help; NULL: the option takes no value */
    const char *help;
} pfield;

#define TEXT(o, g, type, member, wire, arg, help)                                                  \
    {                                                                                              \
        o, PF_TEXT, g, offsetof(type, member), 0, 0, wire, arg, help                               \
    }
#define PAT(o, member, arg, help) TEXT(o, G_PATIENT, Pm__Patient, member, #member, arg, help)
#define ADDR(o, member, help)                                                                      \
    TEXT(o, G_ADDRESS, Pm__Address, member, "address." #member, "TEXT", help)
#define INS(o, member, help)                                                                       \
    TEXT(o, G_INSURANCE, Pm__Insurance, member, "insurance." #member, "TEXT", help)
#define EMERG(o, member, help)                                                                     \
    TEXT(o, G_EMERGENCY, Pm__EmergencyContact, member, "emergency_contact." #member, "TEXT", help)
#define FLAG(o, member, v, edit_only, help)                                                        \
    {                                                                                              \
        o, PF_FLAG, G_PRIVACY, offsetof(Pm__PrivacyFlags, member), v, edit_only,                   \
            "privacy." #member, NULL, help                                                         \
    }

static const pfield fields[] = {
    PAT("--first", first_name, "NAME", "first (given) name"),
    PAT("--last", last_name, "NAME", "last (family) name"),
    PAT("--preferred", preferred_name, "NAME", "the name the patient goes by"),
    PAT("--dob", date_of_birth, "YYYY-MM-DD", "date of birth"),
    {"--sex", PF_SEX, G_PATIENT, 0, 0, 0, "sex", "SEX", "female, male, other or unknown"},
    {"--phone", PF_PHONE, G_PATIENT, 0, 0, 0, "phones", "NUM[:KIND]",
     "a phone; KIND is mobile, home or work (repeat for more; on edit the phones given "
     "replace the old ones)"},
    {"--add-phone", PF_ADD_PHONE, G_PATIENT, 0, 0, 1, "phones", "NUM[:KIND]",
     "add a phone, keeping the others"},
    {"--remove-phone", PF_REMOVE_PHONE, G_PATIENT, 0, 0, 1, "phones", "NUM",
     "remove the phone with these digits"},
    {"--clear-phones", PF_CLEAR_PHONES, G_PATIENT, 0, 0, 1, "phones", NULL, "remove every phone"},
    PAT("--email", email, "ADDRESS", "email address"),
    ADDR("--address-line1", line1, "street address"),
    ADDR("--address-line2", line2, "apartment, building, ..."),
    ADDR("--city", city, "city or town"),
    ADDR("--region", region, "state, county or region"),
    ADDR("--postal-code", postal_code, "postal code"),
    ADDR("--country", country, "country"),
    PAT("--language", preferred_language, "TAG", "preferred language: en, es, fr, pt-BR, ..."),
    INS("--insurance-payer", payer, "insurer or payer"),
    INS("--insurance-member", member_id, "member id"),
    INS("--insurance-group", group_number, "group number"),
    EMERG("--emergency-name", name, "emergency contact's name"),
    EMERG("--emergency-relationship", relationship, "e.g. mother, husband, friend"),
    EMERG("--emergency-phone", phone, "emergency contact's phone"),
    FLAG("--confidential", confidential, 1, 0,
         "restricted record: found only by managers' searches"),
    FLAG("--not-confidential", confidential, 0, 1, "an ordinary record again"),
    FLAG("--no-voicemail", no_voicemail, 1, 0, "leave no voicemail"),
    FLAG("--allow-voicemail", no_voicemail, 0, 1, "voicemail is fine again"),
    FLAG("--no-sms", no_sms, 1, 0, "send no text messages"),
    FLAG("--allow-sms", no_sms, 0, 1, "text messages are fine again"),
    FLAG("--no-email", no_email, 1, 0, "send no email"),
    FLAG("--allow-email", no_email, 0, 1, "email is fine again"),
    PAT("--notes", notes, "TEXT", "free text (several lines allowed)"),
};

#define NFIELDS      PM_ARRAY_LEN(fields)
#define OPT_BASE     1000
#define OPT_EXPECT   999
#define MAX_PHONES_N 16

static const char *const kind_names[] = {"mobile", "home", "work"};

const char *patient_field_option(const char *wire)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (fields[i].kind != PF_FLAG && strcmp(fields[i].wire, wire) == 0)
            return fields[i].opt;
    return NULL;
}

void patient_opts_help(FILE *f, int for_edit)
{
    fprintf(f, "Options:\n");
    for (size_t i = 0; i < NFIELDS; i++) {
        const pfield *pf = &fields[i];
        if (pf->edit_only && !for_edit)
            continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", pf->opt, pf->arg ? " " : "", pf->arg ? pf->arg : "");
        cp_help_line(f, left, pf->help);
    }
    if (for_edit)
        cp_help_line(f, "--expect-version N",
                     "save only if the record is still at version N (for scripts)");
}

static const struct option *long_options(void)
{
    static struct option opts[NFIELDS + 3];
    if (!opts[0].name) {
        for (size_t i = 0; i < NFIELDS; i++) {
            opts[i].name = fields[i].opt + 2;
            opts[i].has_arg = fields[i].arg ? required_argument : no_argument;
            opts[i].val = OPT_BASE + (int)i;
        }
        opts[NFIELDS] = (struct option){"expect-version", required_argument, 0, OPT_EXPECT};
        opts[NFIELDS + 1] = (struct option){"help", no_argument, 0, 'h'};
    }
    return opts;
}

static int parse_phone(cli *c, const char *opt, const char *arg, pat_op *op)
{
    const char *colon = strrchr(arg, ':');
    size_t nlen = colon ? (size_t)(colon - arg) : strlen(arg);
    op->phone_kind = PM__PHONE_KIND__PHONE_UNSPECIFIED;
    if (colon) {
        size_t k;
        for (k = 0; k < PM_ARRAY_LEN(kind_names); k++)
            if (strcasecmp(colon + 1, kind_names[k]) == 0)
                break;
        if (k == PM_ARRAY_LEN(kind_names))
            return cli_fail(c, PM_E_INVALID_ARGUMENT, opt,
                            "%s %s: the kind after ':' is mobile, home or work", opt, arg);
        op->phone_kind = (Pm__PhoneKind)(k + 1);
    }
    if (nlen == 0 || nlen >= sizeof op->number)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, opt, "%s %s: not a phone number", opt, arg);
    memcpy(op->number, arg, nlen);
    op->number[nlen] = 0;
    return CLI_EXIT_OK;
}

static int parse_sex(cli *c, const char *arg, pat_op *op)
{
    static const char *const words[] = {"unspecified", "female", "male", "other", "unknown"};
    if (!*arg) {
        op->sex = PM__SEX__SEX_UNSPECIFIED;
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < PM_ARRAY_LEN(words); i++)
        if (strcasecmp(arg, words[i]) == 0) {
            op->sex = (Pm__Sex)i;
            return CLI_EXIT_OK;
        }
    return cli_fail(c, PM_E_INVALID_ARGUMENT, "--sex",
                    "--sex %s: give female, male, other or unknown", arg);
}

/* Records one patient option; checks the values the server could not read otherwise. */
static int take(cli *c, patient_opts *po, size_t idx, const char *arg, int for_edit)
{
    const pfield *pf = &fields[idx];
    if (pf->edit_only && !for_edit)
        return cli_usage_error(c, "%s is for 'practice patient edit'", pf->opt);
    if (po->n == PM_ARRAY_LEN(po->ops))
        return cli_usage_error(c, "too many options");
    pat_op *op = &po->ops[po->n];
    memset(op, 0, sizeof *op);
    op->field = idx;
    op->arg = arg;
    int rc = CLI_EXIT_OK;
    if (pf->kind == PF_SEX)
        rc = parse_sex(c, arg, op);
    else if (pf->kind == PF_PHONE || pf->kind == PF_ADD_PHONE)
        rc = parse_phone(c, pf->opt, arg, op);
    if (rc == CLI_EXIT_OK)
        po->n++;
    return rc;
}

int patient_opts_parse(cli *c, int argc, char **argv, patient_opts *po, int for_edit)
{
    memset(po, 0, sizeof *po);
    const struct option *opts = long_options();
    int o;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0) {
        int rc;
        if (o == OPT_EXPECT && for_edit) {
            unsigned long v;
            rc = cli_parse_uint(c, "--expect-version", optarg, 1, UINT32_MAX, &v);
            po->expect_version = (uint32_t)v;
        } else if (o == OPT_EXPECT) {
            rc = cli_usage_error(c, "--expect-version is for 'practice patient edit'");
        } else {
            rc = take(c, po, (size_t)(o - OPT_BASE), optarg, for_edit);
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

int patient_opts_has(const patient_opts *po, const char *opt)
{
    for (size_t i = 0; i < po->n; i++)
        if (strcmp(fields[po->ops[i].field].opt, opt) == 0)
            return 1;
    return 0;
}

/* ---- applying ---- */

static void *group_of(Pm__Patient *p, enum pf_group g, pm_arena *a)
{
    switch (g) {
    case G_PATIENT:
        return p;
    case G_ADDRESS:
        if (!p->address)
            p->address = pm_msg_new(a, &pm__address__descriptor);
        return p->address;
    case G_INSURANCE:
        if (!p->insurance)
            p->insurance = pm_msg_new(a, &pm__insurance__descriptor);
        return p->insurance;
    case G_EMERGENCY:
        if (!p->emergency_contact)
            p->emergency_contact = pm_msg_new(a, &pm__emergency_contact__descriptor);
        return p->emergency_contact;
    case G_PRIVACY:
        if (!p->privacy)
            p->privacy = pm_msg_new(a, &pm__privacy_flags__descriptor);
        return p->privacy;
    }
    return NULL;
}

static int add_phone(Pm__Patient *p, pm_arena *a, const pat_op *op)
{
    Pm__Phone **v = pm_arena_alloc(a, sizeof *v * (p->n_phones + 1));
    Pm__Phone *ph = pm_msg_new(a, &pm__phone__descriptor);
    if (!v || !ph)
        return PM_E_NOMEM;
    if (p->n_phones)
        memcpy(v, p->phones, sizeof *v * p->n_phones);
    ph->number = (char *)op->number;
    ph->kind = op->phone_kind;
    v[p->n_phones] = ph;
    p->phones = v;
    p->n_phones++;
    return PM_OK;
}

/* Removes the phones whose digits are those of number; how many went. */
static size_t remove_phone(Pm__Patient *p, const char *number)
{
    char want[32], have[32];
    pm_digits(number, want, sizeof want);
    size_t kept = 0, gone = 0;
    for (size_t i = 0; i < p->n_phones; i++) {
        pm_digits(p->phones[i]->number, have, sizeof have);
        if (*want && strcmp(want, have) == 0)
            gone++;
        else
            p->phones[kept++] = p->phones[i];
    }
    p->n_phones = kept;
    return gone;
}

int patient_opts_apply(cli *c, const patient_opts *po, Pm__Patient *p, pm_arena *a)
{
    int phones_replaced = 0;
    for (size_t i = 0; i < po->n; i++) {
        const pat_op *op = &po->ops[i];
        const pfield *pf = &fields[op->field];
        void *g = group_of(p, pf->group, a);
        int rc = g ? PM_OK : PM_E_NOMEM;
        switch (pf->kind) {
        case PF_TEXT:
            if (g)
                *(char **)((char *)g + pf->off) = (char *)op->arg;
            break;
        case PF_FLAG:
            if (g)
                *(protobuf_c_boolean *)((char *)g + pf->off) = pf->value;
            break;
        case PF_SEX:
            p->sex = op->sex;
            break;
        case PF_PHONE:
            if (!phones_replaced)
                p->n_phones = 0;
            phones_replaced = 1;
            rc = add_phone(p, a, op);
            break;
        case PF_ADD_PHONE:
            rc = add_phone(p, a, op);
            break;
        case PF_REMOVE_PHONE:
            if (!remove_phone(p, op->arg))
                return cli_fail(c, PM_E_INVALID_ARGUMENT, "--remove-phone",
                                "patient %s has no phone %s", p->mrn, op->arg);
            break;
        case PF_CLEAR_PHONES:
            p->n_phones = 0;
            break;
        }
        if (rc)
            return cli_fail(c, rc, NULL, "out of memory");
    }
    return CLI_EXIT_OK;
}
