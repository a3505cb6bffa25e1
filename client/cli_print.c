/* Human output: records laid out for a receptionist to read, tables in aligned columns,
 * enums as words and times in the practice's time zone. */
#include "cli.h"

#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LABEL_WIDTH  16
#define CELL_MAX_TTY 48 /* code points of a cell shown on a terminal */

const char *const cp_patient_header[5] = {"MRN", "NAME", "BORN", "SEX", "PHONE"};
const char *const cp_account_header[5] = {"USER", "NAME", "ROLE", "STATUS", "CREATED"};

/* ---- words ---- */

static const char *const sex_words[] = {"", "female", "male", "other", "unknown"};
static const char *const kind_words[] = {"", "mobile", "home", "work"};
static const char *const role_words[] = {"",       "manager",   "receptionist",
                                         "biller", "clinician", "display"};

const char *cp_sex_word(Pm__Sex s)
{
    return (unsigned)s < PM_ARRAY_LEN(sex_words) ? sex_words[s] : "";
}

const char *cp_phone_kind_word(Pm__PhoneKind k)
{
    return (unsigned)k < PM_ARRAY_LEN(kind_words) ? kind_words[k] : "";
}

const char *cp_role_word(Pm__Role r)
{
    return (unsigned)r < PM_ARRAY_LEN(role_words) ? role_words[r] : "";
}

int cp_role_parse(const char *s, Pm__Role *out)
{
    for (size_t i = 1; i < PM_ARRAY_LEN(role_words); i++)
        if (strcasecmp(s, role_words[i]) == 0) {
            *out = (Pm__Role)i;
            return 0;
        }
    return -1;
}

void cp_time(uint64_t t, char *buf, size_t n)
{
    if (!t) {
        snprintf(buf, n, "%s", "");
        return;
    }
    char full[32];
    pm_format_local((time_t)t, full, sizeof full);
    snprintf(buf, n, "%.16s", full); /* down to the minute */
}

/* ---- help ---- */

/* One option of the help: its name and value on the left, the text wrapped beside. */
void cp_help_line(FILE *f, const char *left, const char *text)
{
    enum { LEFT = 32, WIDTH = 88 };
    fprintf(f, "  %-*s", LEFT, left);
    size_t col = LEFT + 2;
    while (*text) {
        size_t word = strcspn(text, " ");
        if (col > LEFT + 2 && col + 1 + word > WIDTH) {
            fprintf(f, "\n  %-*s", LEFT, "");
            col = LEFT + 2;
        } else if (col > LEFT + 2) {
            fputc(' ', f);
            col++;
        }
        fwrite(text, 1, word, f);
        col += word;
        text += word;
        while (*text == ' ')
            text++;
    }
    fputc('\n', f);
}

/* ---- tables ---- */

int cp_table_init(cp_table *t, size_t ncols, const char *const *header)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    return cp_table_row(t, header);
}

int cp_table_row(cp_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **g = realloc(t->cells, sizeof *g * cap * t->ncols);
        if (!g)
            return -1;
        t->cells = g;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = strdup(cells[i] ? cells[i] : "");
        if (!row[i]) {
            while (i-- > 0)
                free(row[i]);
            return -1;
        }
    }
    t->nrows++;
    return 0;
}

/* Bytes of s that hold its first max code points. */
static size_t utf8_prefix(const char *s, size_t max)
{
    size_t i = 0, cps = 0;
    while (s[i] && cps < max) {
        i++;
        while ((s[i] & 0xC0) == 0x80)
            i++;
        cps++;
    }
    return i;
}

static size_t cell_width(const char *s, size_t cap)
{
    size_t w = pm_utf8_len(s);
    return w > cap ? cap : w;
}

void cp_table_print(const cp_table *t, FILE *f)
{
    size_t cap = isatty(fileno(f)) ? CELL_MAX_TTY : SIZE_MAX;
    size_t width[16] = {0};
    size_t ncols = t->ncols < 16 ? t->ncols : 16;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t col = 0; col < ncols; col++) {
            size_t w = cell_width(t->cells[r * t->ncols + col], cap);
            if (w > width[col])
                width[col] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t col = 0; col < ncols; col++) {
            const char *s = t->cells[r * t->ncols + col];
            size_t w = pm_utf8_len(s);
            if (w > cap) {
                fprintf(f, "%.*s…", (int)utf8_prefix(s, cap - 1), s);
                w = cap;
            } else {
                fputs(s, f);
            }
            if (col + 1 < ncols)
                fprintf(f, "%*s", (int)(width[col] - w + 2), "");
        }
        fputc('\n', f);
    }
}

void cp_table_free(cp_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

int cli_print_table(cli *c, cp_table *t, int bad)
{
    if (!bad)
        cp_table_print(t, stdout);
    cp_table_free(t);
    return bad ? cli_fail(c, PM_E_NOMEM, NULL, "out of memory") : CLI_EXIT_OK;
}

/* ---- patients ---- */

void cp_label(FILE *f, const char *name, const char *value)
{
    fprintf(f, "  %-*s%s\n", LABEL_WIDTH, name, value);
}

void cp_label_more(FILE *f, const char *value)
{
    fprintf(f, "  %-*s%s\n", LABEL_WIDTH, "", value);
}

static int age_on(const char *dob, time_t now)
{
    int y, m, d;
    if (pm_parse_date(dob, &y, &m, &d) != 0)
        return -1;
    struct tm tm;
    localtime_r(&now, &tm);
    int age = tm.tm_year + 1900 - y;
    if (tm.tm_mon + 1 < m || (tm.tm_mon + 1 == m && tm.tm_mday < d))
        age--;
    return age;
}

static void phone_text(const Pm__Phone *ph, char *buf, size_t n)
{
    const char *kind = cp_phone_kind_word(ph->kind);
    if (*kind)
        snprintf(buf, n, "%s (%s)", ph->number, kind);
    else
        snprintf(buf, n, "%s", ph->number);
}

void cp_address(FILE *f, const Pm__Address *a)
{
    if (!a)
        return;
    const char *lines[4] = {a->line1, a->line2, NULL, a->country};
    char town[400];
    snprintf(town, sizeof town, "%s%s%s%s%s", a->city, *a->city && *a->region ? ", " : "",
             a->region, (*a->city || *a->region) && *a->postal_code ? " " : "", a->postal_code);
    lines[2] = town;
    int first = 1;
    for (size_t i = 0; i < 4; i++) {
        if (!*lines[i])
            continue;
        if (first)
            cp_label(f, "Address", lines[i]);
        else
            cp_label_more(f, lines[i]);
        first = 0;
    }
}

static void print_insurance(FILE *f, const Pm__Insurance *ins)
{
    if (!ins || (!*ins->payer && !*ins->member_id && !*ins->group_number))
        return;
    char buf[400];
    snprintf(buf, sizeof buf, "%s%s%s%s%s", *ins->payer ? ins->payer : "(payer not given)",
             *ins->member_id ? ", member " : "", ins->member_id,
             *ins->group_number ? ", group " : "", ins->group_number);
    cp_label(f, "Insurance", buf);
}

static void print_emergency(FILE *f, const Pm__EmergencyContact *e)
{
    if (!e || (!*e->name && !*e->phone))
        return;
    char buf[400];
    snprintf(buf, sizeof buf, "%s%s%s%s%s%s", e->name, *e->relationship ? " (" : "",
             e->relationship, *e->relationship ? ")" : "", *e->phone && *e->name ? ", " : "",
             e->phone);
    cp_label(f, "Emergency", buf);
}

static void print_privacy(FILE *f, const Pm__PrivacyFlags *p)
{
    if (!p)
        return;
    char buf[128] = "";
    const char *words[] = {p->confidential ? "confidential record" : NULL,
                           p->no_voicemail ? "no voicemail" : NULL,
                           p->no_sms ? "no text messages" : NULL, p->no_email ? "no email" : NULL};
    for (size_t i = 0; i < PM_ARRAY_LEN(words); i++)
        if (words[i]) {
            size_t used = strlen(buf);
            snprintf(buf + used, sizeof buf - used, "%s%s", used ? ", " : "", words[i]);
        }
    if (*buf)
        cp_label(f, "Privacy", buf);
}

static void print_notes(FILE *f, const char *notes)
{
    int first = 1;
    for (const char *line = notes; *line;) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        fprintf(f, "  %-*s%.*s\n", LABEL_WIDTH, first ? "Notes" : "", len, line);
        first = 0;
        line += len + (end ? 1 : 0);
    }
}

static void print_stamp(FILE *f, const char *name, uint64_t t, const char *by)
{
    if (!t)
        return;
    char when[32], buf[160];
    cp_time(t, when, sizeof when);
    snprintf(buf, sizeof buf, "%s%s%s", when, *by ? " by " : "", by);
    cp_label(f, name, buf);
}

void cp_patient(FILE *f, const Pm__Patient *p)
{
    char buf[512];
    fprintf(f, "Patient %s (version %u)\n", p->mrn, p->version);
    snprintf(buf, sizeof buf, "%s %s", p->first_name, p->last_name);
    cp_label(f, "Name", buf);
    if (*p->preferred_name)
        cp_label(f, "Preferred name", p->preferred_name);
    int age = age_on(p->date_of_birth, time(NULL));
    if (age >= 0)
        snprintf(buf, sizeof buf, "%s (age %d)", p->date_of_birth, age);
    else
        snprintf(buf, sizeof buf, "%s", p->date_of_birth);
    cp_label(f, "Date of birth", buf);
    if (*cp_sex_word(p->sex))
        cp_label(f, "Sex", cp_sex_word(p->sex));
    for (size_t i = 0; i < p->n_phones; i++) {
        phone_text(p->phones[i], buf, sizeof buf);
        if (i == 0)
            cp_label(f, p->n_phones > 1 ? "Phones" : "Phone", buf);
        else
            cp_label_more(f, buf);
    }
    if (*p->email)
        cp_label(f, "Email", p->email);
    cp_address(f, p->address);
    if (*p->preferred_language)
        cp_label(f, "Language", p->preferred_language);
    print_insurance(f, p->insurance);
    print_emergency(f, p->emergency_contact);
    print_privacy(f, p->privacy);
    print_notes(f, p->notes);
    print_stamp(f, "Created", p->created_at, p->created_by);
    if (p->updated_at != p->created_at || p->version > 1)
        print_stamp(f, "Updated", p->updated_at, p->updated_by);
}

int cp_patient_row(cp_table *t, const Pm__Patient *p)
{
    char name[512], phone[160] = "";
    snprintf(name, sizeof name, "%s, %s%s%s%s", p->last_name, p->first_name,
             *p->preferred_name ? " (" : "", p->preferred_name, *p->preferred_name ? ")" : "");
    if (p->n_phones) {
        phone_text(p->phones[0], phone, sizeof phone);
        if (p->n_phones > 1) {
            size_t used = strlen(phone);
            snprintf(phone + used, sizeof phone - used, " and %zu more", p->n_phones - 1);
        }
    }
    const char *cells[5] = {p->mrn, name, p->date_of_birth, cp_sex_word(p->sex), phone};
    return cp_table_row(t, cells);
}

/* ---- accounts ---- */

static const char *account_status(const Pm__Account *a)
{
    if (a->disabled)
        return "disabled";
    if (a->must_change_password)
        return "one-time password not yet changed";
    return "active";
}

void cp_account(FILE *f, const Pm__Account *a)
{
    char when[32];
    fprintf(f, "%s %s\n", a->device ? "Display device" : "Account", a->username);
    cp_label(f, "Name", a->display_name);
    cp_label(f, "Role", cp_role_word(a->role));
    cp_label(f, "Status", account_status(a));
    if (*a->location)
        cp_label(f, "Location", a->location);
    cp_time(a->created_at, when, sizeof when);
    cp_label(f, "Created", when);
}

int cp_account_row(cp_table *t, const Pm__Account *a)
{
    char when[32], status[96];
    cp_time(a->created_at, when, sizeof when);
    if (*a->location)
        snprintf(status, sizeof status, "%s, at %s", account_status(a), a->location);
    else
        snprintf(status, sizeof status, "%s", account_status(a));
    const char *cells[5] = {a->username, a->display_name, cp_role_word(a->role), status, when};
    return cp_table_row(t, cells);
}
