/* demo-seed: fills the demo practice through the client library. './setup demo' runs it
 * from tests/tools/demo-seed, once that script has connected to the server and logged in
 * as the manager (the session is in $PRACTICE_CONFIG, where the practice CLI saved it):
 *
 *   demo-seed DEMO_DIR [--clock FILE] [--now TIME] [--verbose]
 *
 * It adds only what is missing, so a second run adds nothing:
 *   - two staff accounts, their one-time passwords appended to DEMO_DIR/accounts.txt;
 *   - 500 patients: the forty the demo always had, then households generated from a fixed
 *     seed (the same ones on every machine), matched by name and date of birth;
 *   - 2 locations with rooms, 6 providers, 8 visit types, weekly templates from four
 *     weeks ago, holidays and exceptions;
 *   - appointments three weeks either side of today on every provider-day that has none:
 *     booked through the server, whose checks apply; in the past attended, cancelled
 *     (some late) or missed; ahead booked, a few cancelled; weekly physiotherapy series;
 *   - a waitlist, once, after everything else (so the seeding's cancellations offer
 *     nobody anything, and the next cancellation does).
 *
 * --clock FILE names the file practiced was started to read as its scheduling clock
 * (PRACTICED_TEST_CLOCK), and the seeder sets it to the moment each step happened:
 * bookings carry the time they were made (to within a few hours: they go to the server in
 * batches that share a moment), cancellations theirs (late only when they were), no-shows
 * a time after the start, and the visits of today so far and of the last day before it
 * are checked in, roomed, seen and checked out minute by minute (one request at a time,
 * so older visits stay booked, as history). The file is removed at the end, giving the
 * server its own clock back; with --now TIME the seeder works as if it were then and
 * leaves the clock there, to look at a day in progress. Without --clock the real clock
 * applies: the past is recorded as history (a manager may book in the past), every
 * cancellation of the past is late, and no visit is checked in. */
#include "pc.h"
#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RANGE_BACK    21 /* days of appointments before today */
#define RANGE_AHEAD   21 /* and after */
#define NDAYS         (RANGE_BACK + 1 + RANGE_AHEAD)
#define TEMPLATE_BACK 28 /* the templates start four weeks ago */
#define NPATIENTS     500
#define MAX_PER_PAT   9 /* appointments of one patient in the six weeks */
#define DEVICE        "demo seed"
#define SCHED_CODE    32 /* the longest set-up code */
#define WORKERS       8  /* connections writing at once: the server commits them together */

#define MIN  60
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

/* ---- small things ---------------------------------------------------------------------- */

static int verbose;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("demo-seed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("demo-seed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Strings that live as long as the program. */
static pm_arena keep;

static char *kdup(const char *s)
{
    char *d = pm_arena_strdup(&keep, s ? s : "");
    if (!d)
        die("out of memory");
    return d;
}

#define KPRINTF(...) kcheck(pm_arena_printf(&keep, __VA_ARGS__))
static char *kcheck(char *s)
{
    if (!s)
        die("out of memory");
    return s;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p)
        die("out of memory");
    return p;
}

/* A list of strings ends with NULL. */
static size_t count_of(const char *const *v)
{
    size_t n = 0;
    while (v[n])
        n++;
    return n;
}

/* ---- random numbers: splitmix64, one stream per purpose, each from a fixed seed -------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rn(rng *r, unsigned n) /* [0, n) */
{
    return n ? (unsigned)(rnd(r) % n) : 0;
}

static int rr(rng *r, int lo, int hi) /* [lo, hi] */
{
    return lo + (int)rn(r, (unsigned)(hi - lo + 1));
}

static double rf(rng *r) /* [0, 1) */
{
    return (double)(rnd(r) >> 11) / 9007199254740992.0;
}

static int chance(rng *r, double p)
{
    return rf(r) < p;
}

static const char *pick(rng *r, const char *const *v)
{
    return v[rn(r, (unsigned)count_of(v))];
}

/* ---- time --------------------------------------------------------------------------- */

static time_t now_real;     /* when the run started */
static char today[11];      /* in the practice's zone */
static char range_from[11]; /* the first day of appointments */
static char monday[11];     /* this week's Monday */

static time_t at(const char *date, unsigned minutes)
{
    time_t t;
    if (pm_local_instant(date, minutes, &t) != 0)
        die("bad date %s", date);
    return t;
}

static void day_of(int i, char out[11]) /* day i of the range */
{
    pm_date_add(range_from, i, out);
}

static unsigned hhmm(const char *s) /* "08:30" */
{
    unsigned h, m;
    if (sscanf(s, "%u:%u", &h, &m) != 2 || m > 59 || h * 60 + m > 24 * 60)
        die("bad time %s", s);
    return h * 60 + m;
}

static const char *when(time_t t)
{
    static _Thread_local char buf[4][32];
    static _Thread_local int k;
    char *b = buf[k++ % 4];
    char d[11];
    pm_local_date(t, d);
    unsigned m = pm_local_minutes(t);
    snprintf(b, sizeof buf[0], "%s %02u:%02u", d, m / 60, m % 60);
    return b;
}

/* The scheduling clock of the server (PRACTICED_TEST_CLOCK), when we were given it. */
static const char *clock_file;

static void clock_set(time_t t)
{
    if (!clock_file)
        return;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", clock_file);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%lld\n", (long long)t) < 0 || fclose(f) != 0)
        die("cannot write %s: %s", tmp, strerror(errno));
    /* replaced whole: the server never reads half a number */
    if (rename(tmp, clock_file) != 0)
        die("cannot replace %s: %s", clock_file, strerror(errno));
}

static void clock_real(void)
{
    if (clock_file && unlink(clock_file) != 0 && errno != ENOENT)
        die("cannot remove %s: %s", clock_file, strerror(errno));
}

/* ---- the practice --------------------------------------------------------------------- */

typedef struct location_def {
    const char *id, *name, *line1, *line2, *city, *postal, *phone, *prefix, *hours;
    const char *rooms; /* room ids start with it */
} location_def;

static const location_def LOCATIONS[] = {
    {"main", "Riverside Surgery", "12 Kings Road", "", "Reading", "RG1 3AA", "0118 496 0000", "M",
     "12345 08:00-18:30; 6 09:00-12:00", "main"},
    {"caversham", "Caversham Branch Surgery", "48 Church Street", "Caversham", "Reading", "RG4 8AU",
     "0118 496 0050", "C", "12345 08:30-18:00", "cav"},
};
#define NLOC ((int)PM_ARRAY_LEN(LOCATIONS))

static const struct {
    const char *id, *location, *name;
} ROOMS[] = {
    {"main-1", "main", "Consulting room 1"},          {"main-2", "main", "Consulting room 2"},
    {"main-treatment", "main", "Treatment room"},     {"main-physio", "main", "Physiotherapy room"},
    {"cav-1", "caversham", "Consulting room 1"},      {"cav-2", "caversham", "Consulting room 2"},
    {"cav-treatment", "caversham", "Treatment room"},
};

typedef struct provider_def {
    const char *id, *name, *credentials, *color, *location, *username;
    const char *mix; /* how often each visit type comes up in an open block */
} provider_def;

static const provider_def PROVIDERS[] = {
    {"dr-okafor", "Dr Chidi Okafor", "MBBS MRCGP", "#2563eb", "main", "dr.okafor",
     "consult:78 phone:14 checkup:8"},
    {"dr-lindqvist", "Dr Hanna Lindqvist", "MD MRCGP", "#7c3aed", "main", "",
     "consult:66 phone:13 checkup:6 smear:15"},
    {"dr-brennan", "Dr Aoife Brennan", "MB BCh BAO MRCGP", "#db2777", "caversham", "",
     "consult:68 phone:16 smear:10 checkup:6"},
    {"dr-mensah", "Dr Kwame Mensah", "MBChB MRCGP", "#059669", "caversham", "",
     "consult:76 phone:16 checkup:8"},
    {"nurse-kaur", "Simran Kaur", "RN", "#d97706", "main", "",
     "vaccination:40 smear:25 checkup:35"},
    {"physio-nowak", "Tomasz Nowak", "MCSP", "#0891b2", "main", "", "physio:76 physio-new:24"},
};
#define NPROV ((int)PM_ARRAY_LEN(PROVIDERS))

typedef struct vt_def {
    const char *id, *name;
    unsigned minutes;
    const char *color;
    const char *providers; /* who offers it */
    int needs_room;
    const char *room; /* the room it goes to first: "<location's rooms>-<room>" */
} vt_def;

static const vt_def VTYPES[] = {
    {"consult", "GP appointment", 15, "#3b82f6", "dr-okafor dr-lindqvist dr-brennan dr-mensah", 0,
     ""},
    {"phone", "Telephone consultation", 10, "#64748b",
     "dr-okafor dr-lindqvist dr-brennan dr-mensah", 0, ""},
    {"checkup", "Health check", 30, "#16a34a",
     "nurse-kaur dr-okafor dr-lindqvist dr-brennan dr-mensah", 1, "treatment"},
    {"vaccination", "Vaccination", 10, "#f59e0b", "nurse-kaur", 0, ""},
    {"smear", "Cervical screening", 20, "#ec4899", "nurse-kaur dr-lindqvist dr-brennan", 1,
     "treatment"},
    {"minor-surgery", "Minor surgery", 60, "#ef4444", "dr-okafor", 1, "treatment"},
    {"physio-new", "Physiotherapy assessment", 45, "#06b6d4", "physio-nowak", 1, "physio"},
    {"physio", "Physiotherapy follow-up", 30, "#0e7490", "physio-nowak", 1, "physio"},
};
#define NVT ((int)PM_ARRAY_LEN(VTYPES))

/* Weekly templates: "<weekdays> HH:MM-HH:MM <location> [visit types,...] [xCAPACITY]",
 * blocks separated by ';'. from: FROM_START (four weeks ago) or FROM_WEEK2 (the Monday
 * after next). */
enum { FROM_START, FROM_WEEK2 };

static const struct {
    const char *provider;
    int from;
    const char *blocks;
} TEMPLATES[] = {
    {"dr-okafor", FROM_START,
     "12345 08:00-08:30 main phone; 12345 08:30-12:30 main; 1235 14:00-17:30 main; "
     "4 14:00-17:00 main minor-surgery"},
    /* main on Monday, Wednesday and Thursday; Caversham on Tuesday and Friday */
    {"dr-lindqvist", FROM_START,
     "134 08:30-12:30 main; 134 13:30-17:30 main; 25 08:30-12:30 caversham; "
     "25 13:30-17:00 caversham"},
    /* part-time: three mornings, and from the Monday after next a fourth, for calls */
    {"dr-brennan", FROM_START, "124 08:30-13:00 caversham"},
    {"dr-brennan", FROM_WEEK2, "124 08:30-13:00 caversham; 3 08:30-11:00 caversham phone,consult"},
    {"dr-mensah", FROM_START,
     "12345 08:30-12:00 caversham; 12345 12:00-12:30 caversham phone; "
     "1245 14:00-17:30 caversham"},
    /* Wednesday afternoons and Saturday mornings: the vaccination clinic, two at a time */
    {"nurse-kaur", FROM_START,
     "12345 08:30-12:30 main; 1245 13:30-16:30 main; 3 13:30-16:30 main vaccination x2; "
     "6 09:00-11:30 main vaccination x2"},
    {"physio-nowak", FROM_START, "1245 09:00-13:00 main; 1245 14:00-17:30 main"},
};

/* Exceptions, by day from this week's Monday. */
static const struct {
    const char *provider;
    int day;
    const char *from, *to;
    Pm__ExceptionKind kind;
    const char *reason;
} EXCEPTIONS[] = {
    {"dr-okafor", -6, "11:30", "12:30", PM__EXCEPTION_KIND__MEETING, "Practice clinical meeting"},
    {"dr-okafor", 1, "11:30", "12:30", PM__EXCEPTION_KIND__MEETING, "Practice clinical meeting"},
    {"dr-okafor", 8, "11:30", "12:30", PM__EXCEPTION_KIND__MEETING, "Practice clinical meeting"},
    {"dr-brennan", -11, "08:30", "10:00", PM__EXCEPTION_KIND__TIME_OFF, "Appraisal"},
    {"nurse-kaur", -4, "13:30", "16:30", PM__EXCEPTION_KIND__TIME_OFF,
     "Immunisation update course"},
    {"dr-mensah", 10, "00:00", "24:00", PM__EXCEPTION_KIND__TIME_OFF, "Annual leave"},
    {"physio-nowak", 14, "09:00", "11:00", PM__EXCEPTION_KIND__BLOCKED, "Equipment servicing"},
    {"dr-lindqvist", 15, "00:00", "24:00", PM__EXCEPTION_KIND__TIME_OFF, "Study leave"},
};

/* The practice's own closures, by day from this week's Monday; and the bank holidays of
 * England and Wales, of which those from four weeks ago to four months ahead go in. */
static const struct {
    int day;
    const char *location, *name;
} CLOSURES[] = {
    {-12, "", "Staff training day (practice closed)"},
    {11, "caversham", "Caversham branch closed: building works"},
};

static const char *const BANK_HOLIDAYS[] = {
    "2025-01-01 New Year's Day",
    "2025-04-18 Good Friday",
    "2025-04-21 Easter Monday",
    "2025-05-05 Early May bank holiday",
    "2025-05-26 Spring bank holiday",
    "2025-08-25 Summer bank holiday",
    "2025-12-25 Christmas Day",
    "2025-12-26 Boxing Day",
    "2026-01-01 New Year's Day",
    "2026-04-03 Good Friday",
    "2026-04-06 Easter Monday",
    "2026-05-04 Early May bank holiday",
    "2026-05-25 Spring bank holiday",
    "2026-08-31 Summer bank holiday",
    "2026-12-25 Christmas Day",
    "2026-12-28 Boxing Day (substitute day)",
    "2027-01-01 New Year's Day",
    "2027-03-26 Good Friday",
    "2027-03-29 Easter Monday",
    "2027-05-03 Early May bank holiday",
    "2027-05-31 Spring bank holiday",
    "2027-08-30 Summer bank holiday",
    "2027-12-27 Christmas Day (substitute day)",
    "2027-12-28 Boxing Day (substitute day)",
    "2028-01-03 New Year's Day (substitute day)",
    "2028-04-14 Good Friday",
    "2028-04-17 Easter Monday",
    "2028-05-01 Early May bank holiday",
    "2028-05-29 Spring bank holiday",
    "2028-08-28 Summer bank holiday",
    "2028-12-25 Christmas Day",
    "2028-12-26 Boxing Day",
    "2029-01-01 New Year's Day",
    "2029-03-30 Good Friday",
    "2029-04-02 Easter Monday",
    "2029-05-07 Early May bank holiday",
    "2029-05-28 Spring bank holiday",
    "2029-08-27 Summer bank holiday",
    "2029-12-25 Christmas Day",
    "2029-12-26 Boxing Day",
    NULL,
};

/* Weekly physiotherapy: from the first such weekday at least first_week weeks into the
 * range; one occurrence may be cancelled (well ahead) and one missed. */
static const struct {
    int weekday;
    const char *time;
    int first_week;
    unsigned count;
    const char *notes;
    unsigned cancel_occ, no_show_occ; /* 1-based; 0: none */
} SERIES[] = {
    {2, "10:00", 0, 6, "Weekly physio: lower back pain", 2, 0},
    {4, "15:00", 1, 6, "Knee rehabilitation after surgery (weekly)", 0, 1},
    {1, "09:30", 2, 6, "Frozen shoulder (weekly)", 0, 0},
    {5, "16:00", 3, 4, "Ankle sprain: strengthening (weekly)", 0, 0},
};
#define NSERIES ((int)PM_ARRAY_LEN(SERIES))

/* The waitlist: patients of the forty (by their place in the list), what they wait for,
 * for whom, when. */
static const struct {
    int patient;
    const char *visit_type, *providers, *from, *to;
    unsigned priority;
    const char *note;
} WAITLIST[] = {
    {0, "consult", "dr-okafor", "08:30", "12:30", 2,
     "Wants to see Dr Okafor about his test results; mornings"},
    {1, "consult", "", "09:00", "12:00", 1, "Hard of hearing: arrange through her son Peter"},
    {5, "smear", "nurse-kaur dr-lindqvist", "", "", 1, "Overdue recall"},
    {9, "checkup", "nurse-kaur", "", "", 1, "Diabetes review with the nurse"},
    {14, "consult", "dr-lindqvist dr-brennan", "", "", 1,
     "Prefers a female doctor; Arabic interpreter"},
    {26, "physio", "physio-nowak", "15:30", "17:30", 0, "After work only"},
    {32, "vaccination", "nurse-kaur", "", "", 2, "Flu vaccine; ground-floor room"},
    {34, "phone", "", "", "", 0, "Fit note renewal; any doctor"},
    {36, "minor-surgery", "dr-okafor", "", "", 0, "Sebaceous cyst removal"},
    {38, "consult", "dr-mensah dr-brennan", "", "", 0, "Prefers Caversham"},
    {29, "checkup", "", "", "", 0, "Any clinician"},
    {23, "physio-new", "physio-nowak", "", "", 0, "Shoulder pain since the summer"},
};

static const struct {
    const char *user, *role_word, *name;
    Pm__Role role;
} ACCOUNTS[] = {
    {"rosa", "receptionist", "Rosa Martínez", PM__ROLE__RECEPTIONIST},
    {"dr.okafor", "clinician", "Dr. Chidi Okafor", PM__ROLE__CLINICIAN},
};

/* ---- patients ------------------------------------------------------------------------- */

typedef struct patient {
    const char *first, *last, *preferred, *dob, *email, *lang, *notes;
    Pm__Sex sex;
    const char *phone[3];
    Pm__PhoneKind kind[3];
    int nphones;
    const char *payer, *member, *group;
    const char *line1, *line2, *city, *postal;
    const char *ename, *erel, *ephone;
    int confidential, no_voicemail, no_sms, no_email;
    /* for booking */
    char mrn[24];
    int age, loc;
    uint64_t busy; /* the days of the range on which the patient has an appointment */
    int nappts;
} patient;

static patient *pats;
static size_t npats, cap_pats, ncurated;

static patient *new_patient(void)
{
    if (npats == cap_pats) {
        cap_pats = cap_pats ? cap_pats * 2 : 512;
        pats = xrealloc(pats, sizeof *pats * cap_pats);
    }
    patient *p = &pats[npats++];
    memset(p, 0, sizeof *p);
    p->first = p->last = p->preferred = p->dob = p->email = p->lang = p->notes = "";
    p->payer = p->member = p->group = p->line1 = p->line2 = p->city = p->postal = "";
    p->ename = p->erel = p->ephone = "";
    return p;
}

static void add_phone(patient *p, const char *number, Pm__PhoneKind kind)
{
    if (p->nphones < 3 && *number) {
        p->phone[p->nphones] = number;
        p->kind[p->nphones++] = kind;
    }
}

/* The forty the demo has always had (first|last|preferred|date of birth|sex|phone:kind|
 * more phones|language|payer|member|address line 1|city|postal code|emergency contact|
 * relationship|emergency phone|flags|notes), as the earlier script registered them. */
static const char CURATED[] =
    "José|Núñez||1984-03-02|male|07700 900123:mobile||es|Bupa|BUP-448120|14 Mill Lane|Reading|RG1 "
    "2AB|Ana Núñez|wife|07700 900124||Prefers morning appointments.\n"
    "Mary|Smith|Molly|1950-11-30|female|0118 496 0011:home|07700 900201:mobile|en|AXA "
    "Health|AX99120|3 Church Street|Reading|RG1 3CD|Peter Smith|son|07700 900202|--no-sms|Hard of "
    "hearing: speak clearly, face her.\n"
    "John|Smith||1979-07-14|male|07700 900210:mobile||en|||27 Oxford Road|Reading|RG1 7QG|||||\n"
    "Olivia|Smith||2016-02-09|female|07700 900211:mobile||en|Vitality|VH-300121|27 Oxford "
    "Road|Reading|RG1 7QG|John Smith|father|07700 900210||\n"
    "Noah|Smith-Jones||2019-10-23|male|07700 900212:mobile||en|Vitality|VH-300122|27 Oxford "
    "Road|Reading|RG1 7QG|John Smith|father|07700 900210||\n"
    "Anne-Marie|Dubois-Laurent||1968-05-30|female|07700 900301:mobile|0118 496 0301:work|fr|MGEN|1 "
    "68 05 75 112 034|8 Kings Walk|Reading|RG1 2HG|Luc Dubois|husband|07700 900302||\n"
    "François|Lefèvre||1991-12-01|male|07700 900310:mobile||fr|||||||||--no-voicemail|\n"
    "Zoë|Müller||2003-08-17|female|07700 900320:mobile||de|Aviva|AV-5521|Flat 2, 40 London "
    "Street|Reading|RG1 4PS|Karin Müller|mother|+49 151 23456789||\n"
    "Mary-Kate|O'Brien|MK|1988-03-17|female|07700 900330:mobile||en|Bupa|BUP-551902|5 Castle "
    "Hill|Reading|RG1 7RP|||||\n"
    "Seán|O'Connor||1956-09-04|male|0118 496 0340:home||ga|||19 Baker Street|Reading|RG1 "
    "7XY|Siobhán O'Connor|daughter|07700 900341||Diabetic, type 2.\n"
    "Giulia|Rossi||1975-01-26|female|07700 900350:mobile||it|AXA Health|AX10442||||||||\n"
    "Luca|Bianchi||2010-06-11|male|07700 900351:mobile||it|AXA Health|AX10443||||Giulia "
    "Rossi|mother|07700 900350||\n"
    "Aisha|Bello||1993-04-05|female|07700 900360:mobile||en|||62 Wokingham Road|Reading|RG6 "
    "1JH|||||\n"
    "Chidinma|Eze|Chi|1987-11-19|female|07700 900370:mobile|0118 496 "
    "0370:work|en|Vitality|VH-118822||||||||\n"
    "Fatima|Al-Sayed||1962-02-28|female|07700 900380:mobile||ar|||11 Cumberland Road|Reading|RG1 "
    "3LB|Omar Al-Sayed|son|07700 900381|--no-voicemail|Arabic interpreter for consultations.\n"
    "Mohammed|Rahman||1949-12-25|male|0118 496 0390:home||bn||||||Rahima Rahman|wife|0118 496 "
    "0390||\n"
    "Wei|Chen||1982-08-08|male|07700 900400:mobile||zh|Bupa|BUP-700455||||||||\n"
    "Mei|Lin||1995-03-14|female|07700 900401:mobile||zh-Hant||||||||||\n"
    "Thanh|Nguyễn||1970-10-10|male|07700 900410:mobile||vi||||||||||\n"
    "Priya|Sharma||1990-07-21|female|07700 900420:mobile||hi|AXA Health|AX77812|2 Erleigh "
    "Road|Reading|RG1 5LR|||||\n"
    "Arjun|Patel||1958-04-30|male|0118 496 0430:home|07700 900431:mobile|gu||||||Meena "
    "Patel|wife|07700 900432||\n"
    "João|Silva||1986-09-09|male|07700 900440:mobile||pt-BR||||||||||\n"
    "Ana|Souza||2001-01-01|female|07700 900441:mobile||pt||||||||||\n"
    "Carmen|García López||1973-06-06|female|07700 900450:mobile||es|Sanitas|SN-200345||||||||\n"
    "Miguel Ángel|Hernández|Miguel|1999-11-11|male|07700 900451:mobile||es||||||||||\n"
    "Søren|Østergaard||1965-05-15|male|+45 20 12 34 56:mobile||da||||||||||\n"
    "Agnieszka|Kowalska||1984-02-29|female|07700 900460:mobile||pl|||||||||--no-email|\n"
    "Dmitri|Ivanov||1977-08-31|male|07700 900470:mobile||ru||||||||||\n"
    "Elif|Yılmaz||1998-12-12|female|07700 900480:mobile||tr||||||||||\n"
    "Hannah|Cohen||1960-03-03|female|0118 496 0490:home||en|Bupa|BUP-118200|7 Alexandra "
    "Road|Reading|RG1 5PD|David Cohen|husband|0118 496 0490||\n"
    "Oliver|Taylor||2012-09-30|male|07700 900500:mobile||en||||||Emma Taylor|mother|07700 "
    "900501||\n"
    "Emma|Taylor||1984-10-15|female|07700 900501:mobile||en||||||||||\n"
    "George|Williams||1941-06-18|male|0118 496 0510:home||en||||||Margaret Williams|wife|0118 496 "
    "0510|--no-sms|Uses a walking frame; ground-floor room please.\n"
    "Grace|Brown||2020-04-04|female|07700 900520:mobile||en||||||Lucy Brown|mother|07700 900521||\n"
    "Jack|Evans||1996-02-14|male|07700 900530:mobile||en|Vitality|VH-220019||||||||\n"
    "Charlotte|Walker|Lottie|1989-07-07|female|07700 900540:mobile||en||||||||||\n"
    "Samuel|Okonkwo||1971-11-02|male|07700 900550:mobile||en||||||||||\n"
    "Isabelle|Martin||1994-05-25|female|07700 900560:mobile||fr||||||||||\n"
    "Kenji|Tanaka||1980-01-17|male|07700 900570:mobile||ja||||||||||\n"
    "Alex|Morgan||2000-06-30|other|07700 900580:mobile||en|||||||||--confidential|Confidential "
    "record: managers only.\n"
    "Wojciech|Smith||1966-03-21|male|07700 900590:mobile||pl|Aviva|AV-7710||||||||\n";

static Pm__PhoneKind phone_kind(const char *s)
{
    return strcmp(s, "mobile") == 0 ? PM__PHONE_KIND__MOBILE
           : strcmp(s, "home") == 0 ? PM__PHONE_KIND__HOME
           : strcmp(s, "work") == 0 ? PM__PHONE_KIND__WORK
                                    : PM__PHONE_KIND__PHONE_UNSPECIFIED;
}

static void curated_phone(patient *p, const char *spec)
{
    const char *colon = strrchr(spec, ':');
    if (!*spec || !colon)
        return;
    add_phone(p, kcheck(pm_arena_strndup(&keep, spec, (size_t)(colon - spec))),
              phone_kind(colon + 1));
}

static void load_curated(void)
{
    char *text = kdup(CURATED);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[18];
        size_t n = 0;
        for (char *s = line; n < 18; n++) {
            f[n] = s;
            char *bar = strchr(s, '|');
            if (!bar) {
                n++;
                break;
            }
            *bar = 0;
            s = bar + 1;
        }
        if (n != 18)
            die("bad curated line %s", line);
        patient *p = new_patient();
        p->first = f[0];
        p->last = f[1];
        p->preferred = f[2];
        p->dob = f[3];
        p->sex = strcmp(f[4], "male") == 0     ? PM__SEX__MALE
                 : strcmp(f[4], "female") == 0 ? PM__SEX__FEMALE
                                               : PM__SEX__OTHER;
        curated_phone(p, f[5]);
        curated_phone(p, f[6]);
        p->lang = f[7];
        p->payer = f[8];
        p->member = f[9];
        p->line1 = f[10];
        p->city = f[11];
        p->postal = f[12];
        p->ename = f[13];
        p->erel = f[14];
        p->ephone = f[15];
        p->no_sms = strstr(f[16], "--no-sms") != NULL;
        p->no_voicemail = strstr(f[16], "--no-voicemail") != NULL;
        p->no_email = strstr(f[16], "--no-email") != NULL;
        p->confidential = strstr(f[16], "--confidential") != NULL;
        p->notes = f[17];
        p->loc = strncmp(p->postal, "RG4", 3) == 0;
    }
    ncurated = npats;
}

/* Names, by background, as a Reading practice's list has them. Surnames written "a/b"
 * have a man's and a woman's form. */
static const char *const EN_M[] = {
    "Oliver",  "George", "Harry",    "Jack",   "Charlie",     "Thomas",   "James",     "William",
    "Henry",   "Alfie",  "Leo",      "Arthur", "Freddie",     "Archie",   "Joshua",    "Daniel",
    "Matthew", "Samuel", "Benjamin", "Edward", "Peter",       "David",    "Michael",   "Richard",
    "Paul",    "Mark",   "Stephen",  "Andrew", "Christopher", "Robert",   "Brian",     "Keith",
    "Graham",  "Colin",  "Derek",    "Trevor", "Nigel",       "Gary",     "Simon",     "Jamie",
    "Ryan",    "Callum", "Lewis",    "Noah",   "Theo",        "Oscar",    "Alexander", "Jacob",
    "Ethan",   "Max",    "Reggie",   "Ronald", "Kenneth",     "Dennis",   "Malcolm",   "Ian",
    "Neil",    "Adam",   "Luke",     "Hamish", "Fraser",      "Alistair", NULL};
static const char *const EN_F[] = {
    "Olivia",    "Amelia",   "Isla",      "Ava",       "Mia",       "Ivy",       "Lily",
    "Isabella",  "Sophia",   "Grace",     "Freya",     "Poppy",     "Emily",     "Ella",
    "Charlotte", "Evie",     "Florence",  "Alice",     "Ruby",      "Sarah",     "Emma",
    "Rebecca",   "Laura",    "Claire",    "Helen",     "Karen",     "Susan",     "Linda",
    "Margaret",  "Patricia", "Jean",      "Joan",      "Dorothy",   "Sheila",    "Barbara",
    "Gillian",   "Janet",    "Lucy",      "Hannah",    "Jessica",   "Chloe",     "Sophie",
    "Katie",     "Megan",    "Holly",     "Elizabeth", "Victoria",  "Rachel",    "Nicola",
    "Joanne",    "Deborah",  "Pauline",   "Maureen",   "Brenda",    "Valerie",   "Daisy",
    "Matilda",   "Rosie",    "Mary-Jane", "Lily-Rose", "Ellie-May", "Katherine", "Eilidh",
    "Mhairi",    NULL};
static const char *const EN_L[] = {
    "Smith",         "Jones",       "Williams",     "Taylor",        "Brown",      "Davies",
    "Evans",         "Wilson",      "Thomas",       "Johnson",       "Roberts",    "Robinson",
    "Thompson",      "Wright",      "Walker",       "White",         "Edwards",    "Hughes",
    "Green",         "Hall",        "Lewis",        "Harris",        "Clarke",     "Jackson",
    "Wood",          "Turner",      "Martin",       "Cooper",        "Hill",       "Ward",
    "Morris",        "Moore",       "Clark",        "King",          "Baker",      "Harrison",
    "Morgan",        "Allen",       "James",        "Scott",         "Phillips",   "Watson",
    "Davis",         "Parker",      "Price",        "Bennett",       "Young",      "Griffiths",
    "Mitchell",      "Kelly",       "Cook",         "Carter",        "Richardson", "Bailey",
    "Collins",       "Bell",        "Shaw",         "Miller",        "Cox",        "Richards",
    "Marshall",      "Anderson",    "Simpson",      "Ellis",         "Adams",      "Wilkinson",
    "Foster",        "Chapman",     "Powell",       "Webb",          "Rogers",     "Gray",
    "Mason",         "Hunt",        "Campbell",     "Matthews",      "Owen",       "Palmer",
    "Holmes",        "Mills",       "Barnes",       "Knight",        "Lloyd",      "Butler",
    "Russell",       "Barker",      "Fisher",       "Stevens",       "Jenkins",    "Murray",
    "Dixon",         "Harvey",      "Fletcher",     "Spencer",       "Hartley",    "Pemberton",
    "Ashworth",      "Whitfield",   "MacLeod",      "MacDonald",     "Fraser",     "Hughes-Davies",
    "Carter-Wright", "Lloyd-Jones", "Ashby-Clarke", "Sinclair-Hall", NULL};
static const char *const CARIB_M[] = {"Delroy",  "Winston",  "Marcus", "Andre", "Tyrone", "Leroy",
                                      "Desmond", "Jermaine", "Clive",  "Errol", NULL};
static const char *const CARIB_F[] = {"Marcia", "Sonia",     "Beverley", "Janelle", "Shanice",
                                      "Keisha", "Claudette", "Hyacinth", "Maxine",  NULL};
static const char *const CARIB_L[] = {"Campbell", "Brown",   "Williams", "Francis",
                                      "Grant",    "Reid",    "Thompson", "Morgan-Reid",
                                      "Gordon",   "Samuels", NULL};
static const char *const IE_M[] = {"Seán",  "Ciarán", "Pádraig", "Eoin", "Cillian", "Darragh",
                                   "Oisín", "Ruairí", "Declan",  "Colm", NULL};
static const char *const IE_F[] = {"Siobhán", "Aoife",   "Niamh", "Órla",   "Caoimhe", "Róisín",
                                   "Saoirse", "Clodagh", "Bríd",  "Sinéad", NULL};
static const char *const IE_L[] = {"O'Brien", "O'Connor", "O'Neill",  "Murphy",    "Kelly",
                                   "Walsh",   "Byrne",    "McCarthy", "Doherty",   "Gallagher",
                                   "Nolan",   "Quinn",    "Ryan",     "Ó Dónaill", NULL};
static const char *const CY_M[] = {"Rhys", "Dafydd", "Iolo", "Gethin", "Emyr", "Aled", NULL};
static const char *const CY_F[] = {"Siân", "Ffion", "Cerys", "Gwen", "Angharad", "Eleri", NULL};
static const char *const CY_L[] = {"Llewellyn", "Pritchard", "Rees",  "Vaughan", "Bevan",
                                   "Prosser",   "Morgan",    "Jones", NULL};
static const char *const PL_M[] = {"Łukasz",  "Paweł",    "Michał", "Krzysztof", "Piotr",
                                   "Tomasz",  "Wojciech", "Jakub",  "Grzegorz",  "Zbigniew",
                                   "Mateusz", "Kamil",    NULL};
static const char *const PL_F[] = {"Małgorzata", "Agnieszka", "Katarzyna", "Joanna", "Magdalena",
                                   "Zofia",      "Ewa",       "Żaneta",    "Anna",   "Barbara",
                                   "Aleksandra", "Dorota",    NULL};
static const char *const PL_L[] = {"Nowak",
                                   "Kowalski/Kowalska",
                                   "Wiśniewski/Wiśniewska",
                                   "Wójcik",
                                   "Kamiński/Kamińska",
                                   "Lewandowski/Lewandowska",
                                   "Zieliński/Zielińska",
                                   "Woźniak",
                                   "Dąbrowski/Dąbrowska",
                                   "Kozłowski/Kozłowska",
                                   "Mazur",
                                   "Krawczyk",
                                   "Szymański/Szymańska",
                                   "Jabłoński/Jabłońska",
                                   NULL};
static const char *const RO_M[] = {"Andrei",    "Ștefan",   "Mihai",  "Ionuț", "Bogdan",
                                   "Alexandru", "Cristian", "Florin", NULL};
static const char *const RO_F[] = {"Ioana",    "Elena",  "Andreea", "Mădălina", "Alexandra",
                                   "Cristina", "Roxana", "Bianca",  NULL};
static const char *const RO_L[] = {"Popescu", "Ionescu",    "Popa",     "Dumitru",
                                   "Stan",    "Constantin", "Munteanu", "Țurcanu",
                                   "Stoica",  "Moldovan",   NULL};
static const char *const GU_M[] = {"Amit",    "Ketan", "Hitesh", "Rakesh", "Nilesh", "Jayesh",
                                   "Bhavesh", "Dhruv", "Vivek",  "Kiran",  NULL};
static const char *const GU_F[] = {"Priya", "Nisha", "Hetal",  "Bhavna", "Krupa", "Rina",
                                   "Jaya",  "Meera", "Anjali", "Dhara",  NULL};
static const char *const GU_L[] = {"Patel",   "Shah",    "Mistry", "Desai",   "Parmar",
                                   "Solanki", "Chauhan", "Joshi",  "Thakkar", NULL};
static const char *const PA_M[] = {"Harpreet", "Gurpreet", "Manjit", "Jaswinder",
                                   "Amrik",    "Sukhdev",  "Baljit", "Ranjit",
                                   "Harjit",   "Arjun",    NULL};
static const char *const PA_F[] = {"Simran",   "Jaspreet", "Manpreet", "Harleen",
                                   "Navneet",  "Gurleen",  "Kiranjit", "Balvinder",
                                   "Rajinder", "Amrit",    NULL};
static const char *const PA_L[] = {"Singh/Kaur", "Sandhu", "Gill",  "Dhillon",    "Sidhu",
                                   "Bains",      "Johal",  "Virdi", "Singh/Kaur", NULL};
static const char *const HI_M[] = {"Rohan", "Vikram",  "Sanjay", "Rajesh", "Anil", "Suresh",
                                   "Arun",  "Karthik", "Aditya", "Rahul",  NULL};
static const char *const HI_F[] = {"Ananya",  "Kavya", "Deepa",  "Sunita", "Aarti", "Pooja",
                                   "Lakshmi", "Divya", "Shreya", "Neha",   NULL};
static const char *const HI_L[] = {"Sharma",   "Gupta", "Verma",  "Mehta", "Agarwal",
                                   "Iyer",     "Nair",  "Pillai", "Reddy", "Menon",
                                   "Krishnan", "Rao",   NULL};
static const char *const UR_M[] = {"Mohammed", "Muhammad", "Imran", "Bilal", "Tariq",
                                   "Faisal",   "Hamza",    "Zain",  "Asif",  "Usman",
                                   "Adnan",    "Kamran",   NULL};
static const char *const UR_F[] = {"Ayesha", "Fatima", "Zainab",   "Maryam",  "Nadia",
                                   "Sana",   "Amina",  "Rukhsana", "Shabana", "Saima",
                                   "Hira",   "Iqra",   NULL};
static const char *const UR_L[] = {"Khan",    "Hussain", "Ahmed", "Ali",     "Akhtar", "Iqbal",
                                   "Mahmood", "Butt",    "Raja",  "Qureshi", "Malik",  NULL};
static const char *const BN_M[] = {"Abdul", "Rashid", "Jamal", "Shahid",  "Nazrul", "Rahim",
                                   "Habib", "Faruk",  "Sohel", "Mizanur", NULL};
static const char *const BN_F[] = {"Nusrat",  "Shirin", "Rokeya",  "Taslima", "Jahanara", "Farzana",
                                   "Shamima", "Rehana", "Sultana", "Nasima",  NULL};
static const char *const BN_L[] = {"Miah/Begum", "Uddin/Begum", "Chowdhury", "Islam",
                                   "Hoque",      "Rahman",      NULL};
static const char *const WA_M[] = {"Chinedu", "Emeka",       "Oluwaseun", "Tunde",  "Kwame",
                                   "Kofi",    "Babajide",    "Ifeanyi",   "Obinna", "Kwabena",
                                   "Yaw",     "Chukwuemeka", NULL};
static const char *const WA_F[] = {"Ngozi", "Adaeze",   "Funmilayo", "Chiamaka", "Abena",
                                   "Ama",   "Folake",   "Yetunde",   "Nneka",    "Akosua",
                                   "Efua",  "Temitope", NULL};
static const char *const WA_L[] = {"Adeyemi", "Okonkwo", "Eze",   "Adebayo", "Ogunleye",
                                   "Asante",  "Boateng", "Osei",  "Nwosu",   "Obi",
                                   "Balogun", "Owusu",   "Okoro", "Afolabi", NULL};
static const char *const ZH_M[] = {"Wei", "Jun",    "Hao",       "Ming", "Lei",
                                   "Jie", "Ka-Wai", "Chi-Keung", NULL};
static const char *const ZH_F[] = {"Mei",  "Xin",      "Li",       "Yan",     "Hui",
                                   "Ying", "Wing-Yan", "Mei-Ling", "Suk-Yee", NULL};
static const char *const ZH_L[] = {"Chen", "Wang",   "Li", "Zhang", "Liu", "Wong",  "Chan", "Lau",
                                   "Ho",   "Cheung", "Ng", "Huang", "Lam", "Yeung", NULL};
static const char *const PT_M[] = {"João",   "Pedro",   "Tiago",  "Gonçalo",  "Luís", "André",
                                   "Rafael", "Rodrigo", "Thiago", "Vinícius", NULL};
static const char *const PT_F[] = {"Inês",      "Beatriz", "Mariana",  "Leonor",
                                   "Conceição", "Luana",   "Fernanda", "Ana Luísa",
                                   "Gabriela",  "Juliana", NULL};
static const char *const PT_L[] = {"Silva",    "Santos",    "Ferreira", "Pereira",   "Oliveira",
                                   "Costa",    "Rodrigues", "Martins",  "Gonçalves", "Araújo",
                                   "Carvalho", "Sousa",     "Lima",     "Ribeiro",   NULL};
static const char *const ES_M[] = {"José",  "Javier", "Álvaro", "Alejandro", "Sergio", "Raúl",
                                   "Iñaki", "Pablo",  "Jorge",  "Andrés",    NULL};
static const char *const ES_F[] = {"María José", "Lucía", "Sofía", "Marta", "Elena", "Nuria",
                                   "Begoña",     "Inés",  "Pilar", "Rocío", NULL};
static const char *const ES_L[] = {"García",   "Fernández", "González", "Rodríguez", "López",
                                   "Martínez", "Sánchez",   "Pérez",    "Gómez",     "Jiménez",
                                   "Ruiz",     "Hernández", "Díaz",     "Muñoz",     "Álvarez",
                                   "Peña",     "Ibáñez",    NULL};
static const char *const FR_M[] = {"Jean-Luc", "Mathieu",     "Théo", "Étienne", "Loïc", "Benoît",
                                   "Rémi",     "Jean-Pierre", "Hugo", "Olivier", NULL};
static const char *const FR_F[] = {"Hélène",       "Chloé",  "Léa",    "Élodie",
                                   "Margaux",      "Anaïs",  "Cécile", "Anne-Sophie",
                                   "Marie-Claire", "Océane", NULL};
static const char *const FR_L[] = {
    "Martin", "Bernard", "Dubois",  "Petit",   "Durand",   "Moreau",    "Laurent", "Fournier",
    "Girard", "Bonnet",  "Lefèvre", "Mercier", "Rousseau", "Chevalier", "Faure",   NULL};
static const char *const DE_M[] = {"Jürgen", "Matthias", "Lukas",   "Jonas",  "Felix", "Maximilian",
                                   "Sören",  "Tobias",   "Florian", "Dieter", NULL};
static const char *const DE_F[] = {"Anja",   "Katrin", "Lena",      "Sabine", "Ute", "Jana",
                                   "Annika", "Birgit", "Franziska", "Heike",  NULL};
static const char *const DE_L[] = {
    "Müller",  "Schmidt", "Schneider", "Fischer",  "Weber",    "Meyer", "Wagner", "Becker",
    "Schäfer", "Koch",    "Bauer",     "Schröder", "Hoffmann", "Groß",  "Köhler", NULL};
static const char *const IT_M[] = {"Alessandro", "Lorenzo", "Matteo", "Giuseppe",
                                   "Francesco",  "Niccolò", "Andrea", "Davide",
                                   "Salvatore",  "Luca",    NULL};
static const char *const IT_F[] = {"Giulia",  "Chiara",  "Francesca", "Federica",
                                   "Alessia", "Sara",    "Elisa",     "Valentina",
                                   "Martina", "Giorgia", NULL};
static const char *const IT_L[] = {"Rossi",  "Russo",   "Ferrari",  "Esposito", "Bianchi",
                                   "Romano", "Colombo", "Ricci",    "Marino",   "Greco",
                                   "Bruno",  "De Luca", "D'Angelo", "Lombardi", NULL};
static const char *const TR_M[] = {"Mehmet", "Mustafa", "Emre", "Burak", "Can",
                                   "Murat",  "Hakan",   "Oğuz", NULL};
static const char *const TR_F[] = {"Ayşe",  "Elif",  "Zeynep", "Büşra", "Gülşen",
                                   "Merve", "Özlem", "Derya",  NULL};
static const char *const TR_L[] = {"Yılmaz", "Kaya",  "Demir",  "Şahin", "Çelik", "Yıldız",
                                   "Öztürk", "Aydın", "Arslan", "Doğan", NULL};
static const char *const AR_M[] = {"Omar",  "Youssef", "Karim", "Ahmad", "Khalid",
                                   "Samir", "Hassan",  "Nabil", NULL};
static const char *const AR_F[] = {"Layla",  "Noor", "Rania", "Yasmin", "Huda",
                                   "Mariam", "Dina", "Salma", NULL};
static const char *const AR_L[] = {"Al-Sayed", "Haddad",     "Al-Amin", "Mansour", "Nasser",
                                   "El-Masri", "Al-Hashimi", "Saleh",   "Khoury",  NULL};
static const char *const EL_M[] = {"Giorgos", "Dimitris", "Nikos", "Kostas", "Yannis", NULL};
static const char *const EL_F[] = {"Eleni", "Maria", "Katerina", "Sofia", "Despina", NULL};
static const char *const EL_L[] = {
    "Papadopoulos/Papadopoulou", "Georgiou", "Nikolaou", "Christodoulou", "Pappas",
    "Vlachos/Vlachou",           NULL};
static const char *const VI_M[] = {"Minh", "Tuấn", "Huy", "Đức", "Thắng", "Quang", NULL};
static const char *const VI_F[] = {"Linh", "Ngọc", "Thảo", "Hương", "Lan", "Trang", NULL};
static const char *const VI_L[] = {"Nguyễn", "Trần", "Lê",  "Phạm", "Hoàng",
                                   "Vũ",     "Đặng", "Bùi", NULL};
static const char *const NO_M[] = {"Björn", "Lars", "Søren", "Anders", "Mikael", "Jens", NULL};
static const char *const NO_F[] = {"Åsa", "Ingrid", "Sigrid", "Karin", "Maja", "Freja", NULL};
static const char *const NO_L[] = {"Andersson", "Johansson", "Nilsson",   "Østergaard", "Bjørnsen",
                                   "Lindgren",  "Sørensen",  "Håkansson", NULL};
static const char *const JA_M[] = {"Haruto", "Hiroshi", "Kenta", "Takeshi", NULL};
static const char *const JA_F[] = {"Yuki", "Sakura", "Aiko", "Haruka", NULL};
static const char *const JA_L[] = {"Tanaka", "Sato", "Suzuki", "Watanabe", "Takahashi", NULL};
static const char *const KO_M[] = {"Min-jun", "Ji-ho", "Seung-woo", "Dong-hyun", NULL};
static const char *const KO_F[] = {"Seo-yeon", "Ji-woo", "Hae-won", "Eun-ji", NULL};
static const char *const KO_L[] = {"Kim", "Park", "Choi", "Jung", "Kang", NULL};
static const char *const NEUTRAL[] = {"Alex",  "Sam",   "Jordan", "Charlie",
                                      "Robin", "Jesse", "Riley",  NULL};

typedef struct culture {
    int weight;        /* of a thousand households, about */
    const char *langs; /* the languages people of it ask for, when not English */
    double native;     /* how many adults ask for it */
    const char *const *m, *const *f, *const *l;
} culture;

static const culture CULTURES[] = {
    {450, "en", 0, EN_M, EN_F, EN_L},
    {30, "en", 0, CARIB_M, CARIB_F, CARIB_L},
    {30, "ga", 0.08, IE_M, IE_F, IE_L},
    {15, "cy", 0.25, CY_M, CY_F, CY_L},
    {70, "pl", 0.75, PL_M, PL_F, PL_L},
    {25, "ro", 0.7, RO_M, RO_F, RO_L},
    {35, "gu", 0.35, GU_M, GU_F, GU_L},
    {35, "pa", 0.35, PA_M, PA_F, PA_L},
    {25, "hi ta ml", 0.25, HI_M, HI_F, HI_L},
    {45, "ur", 0.35, UR_M, UR_F, UR_L},
    {20, "bn", 0.45, BN_M, BN_F, BN_L},
    {45, "yo ig tw", 0.1, WA_M, WA_F, WA_L},
    {30, "zh zh yue zh-Hant", 0.5, ZH_M, ZH_F, ZH_L},
    {30, "pt pt-BR", 0.6, PT_M, PT_F, PT_L},
    {20, "es", 0.6, ES_M, ES_F, ES_L},
    {15, "fr", 0.55, FR_M, FR_F, FR_L},
    {12, "de", 0.5, DE_M, DE_F, DE_L},
    {15, "it", 0.5, IT_M, IT_F, IT_L},
    {10, "tr", 0.6, TR_M, TR_F, TR_L},
    {12, "ar", 0.55, AR_M, AR_F, AR_L},
    {6, "el", 0.5, EL_M, EL_F, EL_L},
    {8, "vi", 0.6, VI_M, VI_F, VI_L},
    {5, "sv da nb", 0.3, NO_M, NO_F, NO_L},
    {4, "ja", 0.5, JA_M, JA_F, JA_L},
    {4, "ko", 0.5, KO_M, KO_F, KO_L},
};

static const struct {
    const char *name, *pref;
} NICKNAMES[] = {
    {"Robert", "Bob"},        {"William", "Will"},      {"Margaret", "Maggie"},
    {"Elizabeth", "Liz"},     {"Christopher", "Chris"}, {"Alexander", "Alex"},
    {"Katherine", "Kate"},    {"Oluwaseun", "Seun"},    {"Funmilayo", "Funmi"},
    {"Chukwuemeka", "Emeka"}, {"Babajide", "Jide"},     {"Temitope", "Tope"},
    {"Maximilian", "Max"},    {"Małgorzata", "Gosia"},  {"Katarzyna", "Kasia"},
    {"Wojciech", "Wojtek"},   {"Aleksandra", "Ola"},    {"Victoria", "Vicky"},
    {"Rebecca", "Becky"},     {"Kenneth", "Ken"},       {"Alistair", "Ali"},
};

/* Streets and their postcode sectors: around the main surgery, and in Caversham. */
static const char *const STREETS_MAIN[] = {"Oxford Road|RG1 7",
                                           "London Road|RG1 5",
                                           "Wokingham Road|RG6 1",
                                           "Erleigh Road|RG1 5",
                                           "Southampton Street|RG1 2",
                                           "Castle Hill|RG1 7",
                                           "Bath Road|RG30 2",
                                           "Tilehurst Road|RG30 2",
                                           "Basingstoke Road|RG2 0",
                                           "Northumberland Avenue|RG2 7",
                                           "Addington Road|RG1 5",
                                           "Kendrick Road|RG1 5",
                                           "Alexandra Road|RG1 5",
                                           "Cumberland Road|RG1 3",
                                           "Cholmeley Road|RG1 3",
                                           "Amity Road|RG1 3",
                                           "Kings Road|RG1 3",
                                           "Russell Street|RG1 7",
                                           "Baker Street|RG1 7",
                                           "Elgar Road|RG2 0",
                                           "Christchurch Road|RG2 7",
                                           "Redlands Road|RG1 5",
                                           "Queens Road|RG1 4",
                                           "Eldon Road|RG1 4",
                                           "Watlington Street|RG1 4",
                                           "Hatherley Road|RG1 5",
                                           "Wantage Road|RG30 2",
                                           "Brunswick Street|RG1 6",
                                           "Western Elms Avenue|RG30 2",
                                           "Shinfield Road|RG2 7",
                                           NULL};
static const char *const STREETS_CAV[] = {"Church Street|RG4 8",
                                          "Gosbrook Road|RG4 8",
                                          "Priest Hill|RG4 7",
                                          "Henley Road|RG4 6",
                                          "Peppard Road|RG4 8",
                                          "St Peter's Hill|RG4 7",
                                          "Hemdean Road|RG4 7",
                                          "Westfield Road|RG4 8",
                                          "Star Road|RG4 5",
                                          "Lowfield Road|RG4 6",
                                          "Briants Avenue|RG4 5",
                                          "Kidmore Road|RG4 7",
                                          "Oakley Road|RG4 7",
                                          "Albert Road|RG4 7",
                                          "Derby Road|RG4 5",
                                          "Washington Road|RG4 5",
                                          NULL};
static const char *const BLOCKS_OF_FLATS[] = {"Kennet Court", "Thames Side House", "Wharf House",
                                              "Forbury Mews", "Abbey Lodge",       NULL};

static const struct {
    const char *payer, *prefix;
    int digits;
} PAYERS[] = {
    {"Bupa", "BUP-", 6}, {"AXA Health", "AX", 5},   {"Vitality", "VH-", 6}, {"Aviva", "AV-", 4},
    {"WPA", "WPA", 7},   {"Simplyhealth", "SH", 8}, {"Cigna", "CG", 9},
};

static const char *const ADULT_NOTES[] = {"Prefers afternoon appointments.",
                                          "Needs step-free access; uses a wheelchair.",
                                          "Interpreter needed for consultations.",
                                          "A carer comes to appointments with them.",
                                          "Works nights: mornings after 11:00 are best.",
                                          "Do not call before 10:00.",
                                          "Guide dog.",
                                          "Text first, then call.",
                                          "Prefers to see a female clinician.",
                                          "Hearing aid: please speak clearly.",
                                          "Lives alone; next of kin is a neighbour.",
                                          NULL};
static const char *const CHILD_NOTES[] = {"Needle-phobic: allow extra time.",
                                          "Comes with a foster carer.",
                                          "Parents separated: both may book.", NULL};
static const char *const CONTACT_RELATIONS[] = {"daughter", "son",     "sister",    "brother",
                                                "friend",   "partner", "neighbour", NULL};

/* Made-up numbers from the ranges Ofcom keeps for drama (07700 900xxx, 0118 496 0xxx,
 * 020 7946 0xxx), past the ones the forty use. */
static const char *mobile_number(rng *r)
{
    static unsigned next;
    unsigned k = next++ % 500, n = k < 400 ? 900600 + k : 900000 + (k - 400);
    unsigned style = rn(r, 20);
    return style < 16   ? KPRINTF("07700 %06u", n)
           : style < 19 ? KPRINTF("+44 7700 %06u", n)
                        : KPRINTF("07700%06u", n);
}

static const char *landline_number(void)
{
    static unsigned next;
    unsigned k = next++ % 500;
    return KPRINTF("0118 496 %04u", k < 400 ? 600 + k : k - 400);
}

static const char *work_number(rng *r)
{
    return chance(r, 0.6) ? KPRINTF("020 7946 %04u", rn(r, 1000))
                          : KPRINTF("0118 496 %04u", 100 + rn(r, 200));
}

/* Lower-case ASCII letters of a name, for e-mail addresses. */
static void ascii_name(const char *s, char *out, size_t n)
{
    static const char *const extra[][2] = {
        {"ł", "l"}, {"Ł", "l"}, {"ś", "s"}, {"Ś", "s"}, {"ż", "z"}, {"Ż", "z"}, {"ź", "z"},
        {"ń", "n"}, {"ą", "a"}, {"ę", "e"}, {"ć", "c"}, {"ş", "s"}, {"Ş", "s"}, {"ğ", "g"},
        {"ı", "i"}, {"ț", "t"}, {"Ț", "t"}, {"ș", "s"}, {"Ș", "s"}, {"ă", "a"}, {"đ", "d"},
        {"Đ", "d"}, {"ư", "u"}, {"ơ", "o"}, {"ễ", "e"}, {"ấ", "a"}, {"ắ", "a"}, {"ọ", "o"},
        {"ả", "a"}, {"ũ", "u"}, {"ữ", "u"}, {"ạ", "a"}, {"ố", "o"},
    };
    char folded[256];
    pm_fold(s, folded, sizeof folded);
    size_t o = 0;
    for (const char *p = folded; *p && o + 1 < n;) {
        if (*p >= 'a' && *p <= 'z') {
            out[o++] = *p++;
            continue;
        }
        size_t adv = 1;
        for (size_t i = 0; i < PM_ARRAY_LEN(extra); i++) {
            size_t l = strlen(extra[i][0]);
            if (strncmp(p, extra[i][0], l) == 0) {
                out[o++] = extra[i][1][0];
                adv = l;
                break;
            }
        }
        p += adv;
    }
    out[o] = 0;
}

static const char *email_for(rng *r, const char *first, const char *last)
{
    char f[64], l[64];
    ascii_name(first, f, sizeof f);
    ascii_name(last, l, sizeof l);
    if (!*f || !*l)
        return "";
    switch (rn(r, 5)) {
    case 0:
        return KPRINTF("%s.%s@example.com", f, l);
    case 1:
        return KPRINTF("%s%s%02u@example.net", f, l, rn(r, 100));
    case 2:
        return KPRINTF("%c.%s@example.org", f[0], l);
    case 3:
        return KPRINTF("%s_%s@example.com", l, f);
    default:
        return KPRINTF("%s.%s%u@example.net", f, l, 1 + rn(r, 9));
    }
}

/* A date of birth for someone of this age in mid-2025, so that it stays in the past and
 * the same on every run. */
static const char *dob_for_age(rng *r, int age)
{
    char d[11];
    pm_date_add("2025-06-30", -(age * 365 + age / 4 + (int)rn(r, 365)), d);
    return kdup(d);
}

static int age_on(const char *dob, const char *date)
{
    int y, m, d, y2, m2, d2;
    if (pm_parse_date(dob, &y, &m, &d) != 0 || pm_parse_date(date, &y2, &m2, &d2) != 0)
        return 40;
    return y2 - y - (m2 < m || (m2 == m && d2 < d));
}

static const char *surname_form(const char *raw, Pm__Sex sex)
{
    const char *slash = strchr(raw, '/');
    if (!slash)
        return raw;
    if (sex == PM__SEX__FEMALE)
        return slash + 1;
    return kcheck(pm_arena_strndup(&keep, raw, (size_t)(slash - raw)));
}

static const culture *pick_culture(rng *r)
{
    unsigned total = 0;
    for (size_t i = 0; i < PM_ARRAY_LEN(CULTURES); i++)
        total += (unsigned)CULTURES[i].weight;
    unsigned x = rn(r, total);
    for (size_t i = 0; i < PM_ARRAY_LEN(CULTURES); i++) {
        if (x < (unsigned)CULTURES[i].weight)
            return &CULTURES[i];
        x -= (unsigned)CULTURES[i].weight;
    }
    return &CULTURES[0];
}

static const char *culture_surname(rng *r, const culture *c)
{
    const char *s = pick(r, c->l);
    if (c->f != ES_F)
        return s;
    const char *s2 = pick(r, c->l); /* two surnames */
    while (strcmp(s2, s) == 0)
        s2 = pick(r, c->l);
    return KPRINTF("%s %s", s, s2);
}

static const char *culture_language(rng *r, const culture *c, int age)
{
    double p = age >= 18 ? c->native : c->native * 0.3;
    if (!chance(r, p))
        return "en";
    char buf[64];
    snprintf(buf, sizeof buf, "%s", c->langs);
    const char *v[8];
    size_t n = 0;
    for (char *t = strtok(buf, " "); t && n < 8; t = strtok(NULL, " "))
        v[n++] = t;
    return kdup(v[rn(r, (unsigned)n)]);
}

static int same_person(const patient *p, const char *first, const char *last, const char *dob)
{
    return strcmp(p->first, first) == 0 && strcmp(p->last, last) == 0 && strcmp(p->dob, dob) == 0;
}

typedef struct household {
    const culture *c;
    int loc;
    const char *line1, *line2, *postal, *landline, *payer, *group;
    unsigned payer_i;
} household;

static patient *person(rng *r, const household *h, const culture *c, Pm__Sex sex, int age,
                       const char *surname_raw)
{
    patient *p = new_patient();
    p->sex = sex;
    p->last = surname_form(surname_raw, sex);
    /* the same name twice happens (and a list must cope), but not often, and never a
     * child named after the parent it lives with */
    int allow_twin = chance(r, 0.02);
    for (int tries = 0; tries < 30; tries++) {
        if (sex == PM__SEX__OTHER)
            p->first = pick(r, NEUTRAL);
        else
            p->first = pick(r, sex == PM__SEX__FEMALE ? c->f : c->m);
        int taken = 0;
        for (size_t i = 0; i + 1 < npats && !taken; i++)
            taken = strcmp(pats[i].first, p->first) == 0 && strcmp(pats[i].last, p->last) == 0 &&
                    (!allow_twin || strcmp(pats[i].line1, h->line1) == 0);
        if (!taken)
            break;
    }
    p->dob = dob_for_age(r, age);
    for (int tries = 0; tries < 50; tries++) {
        int dup = 0;
        for (size_t i = 0; i + 1 < npats && !dup; i++)
            dup = same_person(&pats[i], p->first, p->last, p->dob);
        if (!dup)
            break;
        p->dob = dob_for_age(r, age);
    }
    p->age = age;
    p->loc = h->loc;
    p->line1 = h->line1;
    p->line2 = h->line2;
    p->city = "Reading";
    p->postal = h->postal;
    p->lang = culture_language(r, c, age);
    if (age >= 18 && chance(r, 0.07))
        for (size_t i = 0; i < PM_ARRAY_LEN(NICKNAMES); i++)
            if (strcmp(NICKNAMES[i].name, p->first) == 0)
                p->preferred = NICKNAMES[i].pref;
    if (h->payer) {
        p->payer = h->payer;
        unsigned low = 1; /* a number of exactly that many digits */
        for (int d = 1; d < PAYERS[h->payer_i].digits; d++)
            low *= 10;
        p->member = KPRINTF("%s%u", PAYERS[h->payer_i].prefix, low + rn(r, 9 * low));
        p->group = h->group ? h->group : "";
    }
    if (age >= 18) {
        int elderly = age >= 75;
        if (h->landline && (elderly || chance(r, 0.3)))
            add_phone(p, h->landline, PM__PHONE_KIND__HOME);
        if (chance(r, elderly ? 0.6 : 0.96))
            add_phone(p, mobile_number(r), PM__PHONE_KIND__MOBILE);
        if (age < 67 && chance(r, 0.08))
            add_phone(p, work_number(r), PM__PHONE_KIND__WORK);
        if (chance(r, age < 70 ? 0.55 : 0.15))
            p->email = email_for(r, p->first, p->last);
        if (chance(r, 0.05))
            p->notes = pick(r, ADULT_NOTES);
        p->no_sms = chance(r, 0.03);
        p->no_voicemail = chance(r, 0.03);
        p->no_email = *p->email && chance(r, 0.04);
        p->confidential = age < 60 && chance(r, 0.005);
    } else {
        if (age >= 12 && chance(r, 0.6))
            add_phone(p, mobile_number(r), PM__PHONE_KIND__MOBILE);
        if (chance(r, 0.03))
            p->notes = pick(r, CHILD_NOTES);
    }
    return p;
}

static const char *full_name(const patient *p)
{
    return KPRINTF("%s %s", p->first, p->last);
}

static const char *first_phone(const patient *p)
{
    for (int i = 0; i < p->nphones; i++)
        if (p->kind[i] == PM__PHONE_KIND__MOBILE)
            return p->phone[i];
    return p->nphones ? p->phone[0] : "";
}

static void contact(patient *p, const patient *who, const char *rel)
{
    p->ename = full_name(who);
    p->erel = rel;
    p->ephone = first_phone(who);
}

static const char *partner_word(rng *r, const patient *partner)
{
    if (chance(r, 0.25))
        return "partner";
    return partner->sex == PM__SEX__FEMALE ? "wife"
           : partner->sex == PM__SEX__MALE ? "husband"
                                           : "partner";
}

static void outside_contact(rng *r, patient *p, const culture *c, const char *surname_raw)
{
    const char *rel = pick(r, CONTACT_RELATIONS);
    int family =
        strcmp(rel, "friend") != 0 && strcmp(rel, "neighbour") != 0 && strcmp(rel, "partner") != 0;
    int female =
        strcmp(rel, "daughter") == 0 || strcmp(rel, "sister") == 0 || (!family && chance(r, 0.5));
    Pm__Sex sex = female ? PM__SEX__FEMALE : PM__SEX__MALE;
    p->ename = KPRINTF("%s %s", pick(r, female ? c->f : c->m),
                       surname_form(family ? surname_raw : culture_surname(r, c), sex));
    p->erel = rel;
    p->ephone = mobile_number(r);
}

/* Kids' phones are a parent's, when they have none of their own. */
static void child_of(rng *r, patient *kid, patient *mother, patient *father)
{
    patient *parent = mother && father ? (chance(r, 0.65) ? mother : father)
                      : mother         ? mother
                                       : father;
    if (!parent)
        return;
    contact(kid, parent, parent == mother ? "mother" : "father");
    if (kid->nphones == 0 && *first_phone(parent))
        add_phone(kid, first_phone(parent), PM__PHONE_KIND__MOBILE);
}

static void gen_household(rng *r)
{
    household h = {.c = pick_culture(r)};
    const culture *c = h.c;
    h.loc = chance(r, 0.35);
    const char *street = pick(r, h.loc ? STREETS_CAV : STREETS_MAIN);
    const char *bar = strchr(street, '|');
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(bar - street), street);
    static const char unit[] = "ABDEFGHJLNPQRSTUWXYZ";
    h.postal = KPRINTF("%s%c%c", bar + 1, unit[rn(r, 20)], unit[rn(r, 20)]);
    unsigned kind = rn(r, 100);
    if (kind < 10)
        h.line1 = KPRINTF("Flat %u, %u %s", 1 + rn(r, 12), 1 + rn(r, 180), name);
    else if (kind < 15)
        h.line1 = KPRINTF("Flat %u, %s", 1 + rn(r, 40), pick(r, BLOCKS_OF_FLATS));
    else
        h.line1 = KPRINTF("%u %s", 1 + rn(r, 180), name);
    h.line2 = kind >= 10 && kind < 15 ? KPRINTF("%u %s", 1 + rn(r, 180), name) : "";
    if (h.loc && !*h.line2)
        h.line2 = "Caversham";

    /* who lives there */
    unsigned t = rn(r, 100);
    int a1 = 0, a2 = -1, nkids = 0, grand = -1;
    if (t < 30) { /* one adult */
        a1 = rr(r, 19, 92);
    } else if (t < 50) { /* a couple */
        a1 = rr(r, 22, 80);
        a2 = a1 + rr(r, -6, 6);
    } else if (t < 74) { /* a couple with children */
        a1 = rr(r, 28, 50);
        a2 = a1 + rr(r, -4, 4);
        nkids = rr(r, 1, 3);
    } else if (t < 82) { /* a single parent */
        a1 = rr(r, 22, 50);
        nkids = rr(r, 1, 2);
    } else if (t < 94) { /* an older couple */
        a1 = rr(r, 68, 93);
        a2 = chance(r, 0.6) ? a1 + rr(r, -5, 5) : -1;
    } else { /* three generations */
        a1 = rr(r, 30, 48);
        a2 = a1 + rr(r, -4, 4);
        nkids = rr(r, 1, 2);
        grand = a1 + rr(r, 24, 34);
    }
    if (a1 >= 60 || chance(r, 0.25))
        h.landline = landline_number();
    if (a1 < 67 && chance(r, 0.22)) {
        h.payer_i = rn(r, (unsigned)PM_ARRAY_LEN(PAYERS));
        h.payer = PAYERS[h.payer_i].payer;
        h.group = chance(r, 0.35) ? KPRINTF("GRP-%05u", rn(r, 100000)) : NULL;
    }

    const char *sur = culture_surname(r, c);
    int single_parent = t >= 74 && t < 82;
    Pm__Sex s1 = single_parent     ? (chance(r, 0.8) ? PM__SEX__FEMALE : PM__SEX__MALE)
                 : chance(r, 0.01) ? PM__SEX__OTHER
                                   : (chance(r, 0.5) ? PM__SEX__FEMALE : PM__SEX__MALE);
    patient *p1 = person(r, &h, c, s1, a1, sur);
    size_t i1 = npats - 1;
    patient *p2 = NULL;
    const char *kid_sur = sur;
    if (a2 >= 18 && npats < NPATIENTS) {
        const culture *c2 = chance(r, 0.15) ? pick_culture(r) : c;
        Pm__Sex s2 =
            chance(r, 0.92) ? (s1 == PM__SEX__FEMALE ? PM__SEX__MALE : PM__SEX__FEMALE) : s1;
        unsigned how = rn(r, 100);
        const char *sur2 = how < 65 ? sur : culture_surname(r, c2);
        if (how >= 90 && !strchr(sur, ' ') && !strchr(sur2, ' ') && !strchr(sur, '-') &&
            !strchr(sur2, '-')) {
            /* a double-barrelled name, passed on to the children (in a son's and a
             * daughter's forms, where they differ) */
            const char *m = KPRINTF("%s-%s", surname_form(sur, PM__SEX__MALE),
                                    surname_form(sur2, PM__SEX__MALE));
            const char *f = KPRINTF("%s-%s", surname_form(sur, PM__SEX__FEMALE),
                                    surname_form(sur2, PM__SEX__FEMALE));
            sur2 = strcmp(m, f) == 0 ? m : KPRINTF("%s/%s", m, f);
            kid_sur = sur2;
        }
        p2 = person(r, &h, c2, s2, a2, sur2);
        p1 = &pats[i1]; /* person() may have moved the array */
    }
    size_t i2 = p2 ? npats - 1 : 0;
    if (p2) {
        contact(p1, p2, partner_word(r, p2));
        contact(p2, p1, partner_word(r, p1));
    } else if (chance(r, 0.6)) {
        outside_contact(r, p1, c, sur);
    }
    for (int k = 0; k < nkids && npats < NPATIENTS; k++) {
        int max_age = a1 - 20 < 17 ? a1 - 20 : 17;
        Pm__Sex ks = chance(r, 0.5) ? PM__SEX__FEMALE : PM__SEX__MALE;
        patient *kid = person(r, &h, c, ks, rr(r, 0, max_age < 0 ? 0 : max_age), kid_sur);
        p1 = &pats[i1];
        p2 = i2 ? &pats[i2] : NULL;
        patient *mother = p1->sex == PM__SEX__FEMALE         ? p1
                          : p2 && p2->sex == PM__SEX__FEMALE ? p2
                                                             : NULL;
        patient *father = p1->sex == PM__SEX__MALE         ? p1
                          : p2 && p2->sex == PM__SEX__MALE ? p2
                                                           : NULL;
        child_of(r, kid, mother, father);
    }
    if (grand > 0 && npats < NPATIENTS) {
        Pm__Sex gs = chance(r, 0.6) ? PM__SEX__FEMALE : PM__SEX__MALE;
        patient *g = person(r, &h, c, gs, grand, sur);
        p1 = &pats[i1];
        contact(g, p1, p1->sex == PM__SEX__FEMALE ? "daughter" : "son");
    }
}

static void make_patients(void)
{
    load_curated();
    rng r = {0x5eed0d3e0c0a57e5ull}; /* the same households everywhere, every time */
    while (npats < NPATIENTS)
        gen_household(&r);
    for (size_t i = 0; i < npats; i++)
        pats[i].age = age_on(pats[i].dob, today);
}

/* ---- the server ----------------------------------------------------------------------- */

/* Each thread has its own connection, resuming the manager's session, and its own arena
 * for the request in hand and its answer. */
typedef void (*job_fn)(size_t what);
static _Thread_local pc_client *pc;
static _Thread_local pm_arena ra;
static unsigned long calls;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* the patients' calendars, counts */

static struct {
    char host[256], port[16], ca[PATH_MAX], device[64];
    uint8_t token[32];
} saved;

/* The "key value" line of a file of the CLI's configuration directory. */
static int config_value(const char *dir, const char *file, const char *key, char *out, size_t n)
{
    char path[PATH_MAX], line[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    int found = -1;
    size_t kl = strlen(key);
    while (found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
            snprintf(out, n, "%s", line + kl + 1);
            found = 0;
        }
    }
    fclose(f);
    return found;
}

/* What 'practice connect' and 'practice login' saved. */
static void read_saved(void)
{
    const char *dir = getenv("PRACTICE_CONFIG");
    char token_hex[80];
    if (!dir || !*dir)
        die("PRACTICE_CONFIG is not set (the practice CLI's configuration directory)");
    if (config_value(dir, "config", "host", saved.host, sizeof saved.host) ||
        config_value(dir, "config", "port", saved.port, sizeof saved.port))
        die("no server in %s/config: run 'practice connect' first", dir);
    if (config_value(dir, "session", "token", token_hex, sizeof token_hex))
        die("no session in %s/session: run 'practice login' first", dir);
    snprintf(saved.device, sizeof saved.device, "%s", DEVICE);
    config_value(dir, "session", "device", saved.device, sizeof saved.device);
    if (pm_unhex(token_hex, saved.token, sizeof saved.token) != (int)sizeof saved.token)
        die("the session in %s/session is not a token", dir);
    snprintf(saved.ca, sizeof saved.ca, "%s/ca.crt", dir);
}

/* This thread's connection. */
static void connect_saved(void)
{
    pc_opts o = {.host = saved.host,
                 .port = atoi(saved.port),
                 .ca_file = saved.ca,
                 .client_name = "demo-seed/" PM_VERSION,
                 .timeout_ms = 60000};
    pc = pc_new(&o);
    if (!pc)
        die("out of memory");
    pc_set_device(pc, saved.device);
    pc_set_token(pc, saved.token, sizeof saved.token);
    if (pc_connect(pc))
        die("cannot connect to %s:%s: %s", saved.host, saved.port, pc_last_error(pc));
    pm_arena_init(&ra, 0);
}

static void disconnect(void)
{
    pc_free(pc);
    pc = NULL;
    pm_arena_free(&ra);
}

/* A request with its body; the arena is emptied first, so earlier answers are gone. */
static void *request(Pm__Envelope__BodyCase body, const ProtobufCMessageDescriptor *desc,
                     Pm__Envelope **env)
{
    pm_arena_free(&ra);
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&pm__envelope__descriptor, (unsigned)body);
    Pm__Envelope *e = pc_env(&ra, body);
    void *m = pm_msg_new(&ra, desc);
    if (!f || !e || !m)
        die("out of memory");
    *(void **)((char *)e + f->offset) = m; /* the oneof member of this body */
    *env = e;
    return m;
}

static void *alloc(size_t n)
{
    void *p = pm_arena_alloc(&ra, n);
    if (!p)
        die("out of memory");
    return p;
}

static void *msg(const ProtobufCMessageDescriptor *desc)
{
    void *m = pm_msg_new(&ra, desc);
    if (!m)
        die("out of memory");
    return m;
}

/* Sends a request; PM_OK with the answer of kind want, or the server's error code. Lost
 * connections are the library's to mend; a failure of the transport ends the run. */
static int call(Pm__Envelope *e, Pm__Envelope__BodyCase want, Pm__Envelope **resp)
{
    __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
    int rc = pc_call(pc, e, &ra, resp);
    if (pc_transport_error(rc) || rc == PM_E_CERT || rc == PM_E_UNAUTHENTICATED ||
        rc == PM_E_SESSION_EXPIRED || rc == PM_E_PERMISSION_DENIED || rc == PM_E_STORAGE ||
        rc == PM_E_SHUTTING_DOWN)
        die("%s", pc_last_error(pc));
    if (rc == PM_OK && (*resp)->body_case != want)
        die("unexpected answer (%d) to request %d", (int)(*resp)->body_case, (int)e->body_case);
    return rc;
}

/* For requests that must work. */
static Pm__Envelope *must(Pm__Envelope *e, Pm__Envelope__BodyCase want, const char *what)
{
    Pm__Envelope *resp;
    if (call(e, want, &resp))
        die("%s: %s", what, pc_last_error(pc));
    return resp;
}

static char **split_words(const char *s, size_t *n)
{
    *n = 0;
    char *copy = pm_arena_strdup(&ra, s);
    char **v = alloc(sizeof *v * (strlen(s) / 2 + 2));
    for (char *t = strtok(copy, " ,"); t; t = strtok(NULL, " ,"))
        v[(*n)++] = t;
    return v;
}

/* ---- staff accounts ---------------------------------------------------------------- */

static void seed_accounts(const char *demo_dir)
{
    Pm__Envelope *e, *resp;
    Pm__ListAccounts *q =
        request(PM__ENVELOPE__BODY_LIST_ACCOUNTS, &pm__list_accounts__descriptor, &e);
    q->include_disabled = 1;
    resp = must(e, PM__ENVELOPE__BODY_ACCOUNT_LIST, "listing the accounts");
    int have[PM_ARRAY_LEN(ACCOUNTS)] = {0};
    for (size_t i = 0; i < resp->account_list->n_accounts; i++)
        for (size_t k = 0; k < PM_ARRAY_LEN(ACCOUNTS); k++)
            have[k] |= strcmp(resp->account_list->accounts[i]->username, ACCOUNTS[k].user) == 0;
    for (size_t k = 0; k < PM_ARRAY_LEN(ACCOUNTS); k++) {
        if (have[k])
            continue;
        Pm__CreateAccount *c =
            request(PM__ENVELOPE__BODY_CREATE_ACCOUNT, &pm__create_account__descriptor, &e);
        c->username = (char *)ACCOUNTS[k].user;
        c->display_name = (char *)ACCOUNTS[k].name;
        c->role = ACCOUNTS[k].role;
        resp = must(e, PM__ENVELOPE__BODY_ACCOUNT_CREDENTIAL, ACCOUNTS[k].user);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/accounts.txt", demo_dir);
        mode_t old = umask(077);
        FILE *f = fopen(path, "a");
        umask(old);
        if (!f ||
            fprintf(f, "%s %s one-time-password: %s\n", ACCOUNTS[k].user, ACCOUNTS[k].role_word,
                    resp->account_credential->one_time_password) < 0 ||
            fclose(f) != 0)
            die("cannot write %s", path);
        chmod(path, 0600);
        say("added %s %s (%s); one-time password in %s", ACCOUNTS[k].role_word, ACCOUNTS[k].user,
            ACCOUNTS[k].name, path);
    }
}

/* ---- registering the patients --------------------------------------------------------- */

static int pat_added;

static void find_registered(void)
{
    uint8_t cursor[512];
    size_t cursor_len = 0;
    do {
        Pm__Envelope *e;
        Pm__ListPatients *q =
            request(PM__ENVELOPE__BODY_LIST_PATIENTS, &pm__list_patients__descriptor, &e);
        q->limit = 500;
        q->cursor.data = cursor;
        q->cursor.len = cursor_len;
        Pm__Envelope *resp = must(e, PM__ENVELOPE__BODY_PATIENT_LIST, "listing the patients");
        Pm__PatientList *l = resp->patient_list;
        for (size_t i = 0; i < l->n_patients; i++) {
            const Pm__Patient *sp = l->patients[i];
            for (size_t k = 0; k < npats; k++)
                if (!*pats[k].mrn &&
                    same_person(&pats[k], sp->first_name, sp->last_name, sp->date_of_birth)) {
                    snprintf(pats[k].mrn, sizeof pats[k].mrn, "%s", sp->mrn);
                    break;
                }
        }
        if (l->next_cursor.len > sizeof cursor)
            die("a cursor longer than expected");
        cursor_len = l->next_cursor.len;
        if (cursor_len)
            memcpy(cursor, l->next_cursor.data, cursor_len);
    } while (cursor_len);
}

static void register_patient(patient *p)
{
    Pm__Envelope *e;
    Pm__CreatePatient *c =
        request(PM__ENVELOPE__BODY_CREATE_PATIENT, &pm__create_patient__descriptor, &e);
    Pm__Patient *sp = c->patient = msg(&pm__patient__descriptor);
    sp->first_name = (char *)p->first;
    sp->last_name = (char *)p->last;
    sp->preferred_name = (char *)p->preferred;
    sp->date_of_birth = (char *)p->dob;
    sp->sex = p->sex;
    sp->email = (char *)p->email;
    sp->preferred_language = (char *)p->lang;
    sp->notes = (char *)p->notes;
    sp->n_phones = (size_t)p->nphones;
    sp->phones = alloc(sizeof *sp->phones * 3);
    for (int i = 0; i < p->nphones; i++) {
        sp->phones[i] = msg(&pm__phone__descriptor);
        sp->phones[i]->number = (char *)p->phone[i];
        sp->phones[i]->kind = p->kind[i];
    }
    if (*p->line1) {
        sp->address = msg(&pm__address__descriptor);
        sp->address->line1 = (char *)p->line1;
        sp->address->line2 = (char *)p->line2;
        sp->address->city = (char *)p->city;
        sp->address->postal_code = (char *)p->postal;
        sp->address->country = "United Kingdom";
    }
    if (*p->payer) {
        sp->insurance = msg(&pm__insurance__descriptor);
        sp->insurance->payer = (char *)p->payer;
        sp->insurance->member_id = (char *)p->member;
        sp->insurance->group_number = (char *)p->group;
    }
    if (*p->ename) {
        sp->emergency_contact = msg(&pm__emergency_contact__descriptor);
        sp->emergency_contact->name = (char *)p->ename;
        sp->emergency_contact->relationship = (char *)p->erel;
        sp->emergency_contact->phone = (char *)p->ephone;
    }
    if (p->confidential || p->no_voicemail || p->no_sms || p->no_email) {
        sp->privacy = msg(&pm__privacy_flags__descriptor);
        sp->privacy->confidential = p->confidential;
        sp->privacy->no_voicemail = p->no_voicemail;
        sp->privacy->no_sms = p->no_sms;
        sp->privacy->no_email = p->no_email;
    }
    Pm__Envelope *resp;
    if (call(e, PM__ENVELOPE__BODY_PATIENT_OK, &resp))
        die("cannot register %s %s: %s", p->first, p->last, pc_last_error(pc));
    snprintf(p->mrn, sizeof p->mrn, "%s", resp->patient_ok->patient->mrn);
    __atomic_add_fetch(&pat_added, 1, __ATOMIC_RELAXED);
}

static void job_register(size_t i)
{
    register_patient(&pats[i]);
}

static void run_jobs(job_fn fn, const size_t *what, size_t n);

static void seed_patients(void)
{
    find_registered();
    size_t *todo = calloc(npats + 1, sizeof *todo), n = 0;
    if (!todo)
        die("out of memory");
    /* the forty one at a time, in their order, so they get the numbers they always had
     * (100016 is José Núñez); the others together */
    for (size_t i = 0; i < npats; i++) {
        if (*pats[i].mrn)
            continue;
        if (i < ncurated)
            register_patient(&pats[i]);
        else
            todo[n++] = i;
    }
    run_jobs(job_register, todo, n);
    free(todo);
}

/* ---- set-up ------------------------------------------------------------------------ */

static int prov_index(const char *id)
{
    for (int i = 0; i < NPROV; i++)
        if (strcmp(PROVIDERS[i].id, id) == 0)
            return i;
    return -1;
}

static int vt_index(const char *id)
{
    for (int i = 0; i < NVT; i++)
        if (strcmp(VTYPES[i].id, id) == 0)
            return i;
    return -1;
}

static int loc_index(const char *id)
{
    for (int i = 0; i < NLOC; i++)
        if (strcmp(LOCATIONS[i].id, id) == 0)
            return i;
    return -1;
}

/* "12345 08:00-18:30": weekdays and a span of the day. */
static const char *parse_span(const char *s, unsigned *days, unsigned *from, unsigned *to)
{
    char wd[16], t1[8], t2[8];
    int used;
    if (sscanf(s, " %15[1-7] %7[0-9:]-%7[0-9:]%n", wd, t1, t2, &used) != 3)
        die("bad span '%s'", s);
    *days = 0;
    for (const char *p = wd; *p; p++)
        *days |= 1u << (*p - '0');
    *from = hhmm(t1);
    *to = hhmm(t2);
    return s + used;
}

static int setup_added;

static Pm__Setup *get_setup(const char *from_date)
{
    Pm__Envelope *e;
    Pm__GetSetup *q = request(PM__ENVELOPE__BODY_GET_SETUP, &pm__get_setup__descriptor, &e);
    q->from_date = (char *)from_date;
    return must(e, PM__ENVELOPE__BODY_SETUP, "reading the set-up")->setup;
}

static void put(Pm__Envelope *e, const char *what)
{
    Pm__Envelope *resp;
    if (call(e, PM__ENVELOPE__BODY_SETUP, &resp))
        die("cannot add %s: %s", what, pc_last_error(pc));
    setup_added++;
}

static void put_location(const location_def *l)
{
    Pm__Envelope *e;
    Pm__PutLocation *m =
        request(PM__ENVELOPE__BODY_PUT_LOCATION, &pm__put_location__descriptor, &e);
    Pm__Location *loc = m->location = msg(&pm__location__descriptor);
    loc->id = (char *)l->id;
    loc->name = (char *)l->name;
    loc->phone = (char *)l->phone;
    loc->ticket_prefix = (char *)l->prefix;
    loc->address = msg(&pm__address__descriptor);
    loc->address->line1 = (char *)l->line1;
    loc->address->line2 = (char *)l->line2;
    loc->address->city = (char *)l->city;
    loc->address->postal_code = (char *)l->postal;
    loc->address->country = "United Kingdom";
    loc->hours = alloc(sizeof *loc->hours * 14);
    char spec[128];
    snprintf(spec, sizeof spec, "%s", l->hours);
    for (char *part = strtok(spec, ";"); part; part = strtok(NULL, ";")) {
        unsigned days, from, to;
        parse_span(part, &days, &from, &to);
        for (unsigned wd = 1; wd <= 7; wd++) {
            if (!(days & (1u << wd)))
                continue;
            Pm__OpeningHours *h = loc->hours[loc->n_hours++] = msg(&pm__opening_hours__descriptor);
            h->weekday = wd;
            h->start_min = from;
            h->end_min = to;
        }
    }
    put(e, l->id);
}

static void put_template(int k)
{
    Pm__Envelope *e;
    Pm__PutTemplate *m =
        request(PM__ENVELOPE__BODY_PUT_TEMPLATE, &pm__put_template__descriptor, &e);
    Pm__Template *t = m->template_ = msg(&pm__template__descriptor);
    t->provider = (char *)TEMPLATES[k].provider;
    char from[11];
    if (TEMPLATES[k].from == FROM_START)
        pm_date_add(today, -TEMPLATE_BACK, from);
    else
        pm_date_add(monday, 14, from);
    t->valid_from = from;
    t->blocks = alloc(sizeof *t->blocks * 100);
    char *spec = pm_arena_strdup(&ra, TEMPLATES[k].blocks), *save = NULL;
    for (char *part = strtok_r(spec, ";", &save); part; part = strtok_r(NULL, ";", &save)) {
        unsigned days, s, en, cap = 0;
        const char *rest = parse_span(part, &days, &s, &en);
        char loc[32] = "", types[128] = "", extra[16] = "";
        sscanf(rest, " %31s %127s %15s", loc, types, extra);
        if (types[0] == 'x') { /* a capacity without visit types */
            cap = (unsigned)atoi(types + 1);
            types[0] = 0;
        } else if (extra[0] == 'x') {
            cap = (unsigned)atoi(extra + 1);
        }
        for (unsigned wd = 1; wd <= 7; wd++) {
            if (!(days & (1u << wd)))
                continue;
            Pm__TemplateBlock *b = t->blocks[t->n_blocks++] = msg(&pm__template_block__descriptor);
            b->weekday = wd;
            b->start_min = s;
            b->end_min = en;
            b->location = pm_arena_strdup(&ra, loc);
            b->capacity = cap;
            if (*types)
                b->visit_types = split_words(types, &b->n_visit_types);
        }
    }
    put(e, KPRINTF("a template of %s", t->provider));
}

static void seed_setup(void)
{
    char from[11];
    pm_date_add(today, -(TEMPLATE_BACK + 14), from);
    Pm__Setup *s = get_setup(from);
    /* what is there already, by id */
    int have_loc[NLOC] = {0}, have_prov[NPROV] = {0}, have_vt[NVT] = {0},
        have_room[PM_ARRAY_LEN(ROOMS)] = {0}, have_tpl[NPROV] = {0};
    int fresh_practice = s->n_locations == 0;
    for (size_t i = 0; i < s->n_locations; i++)
        if (loc_index(s->locations[i]->id) >= 0)
            have_loc[loc_index(s->locations[i]->id)] = 1;
    for (size_t i = 0; i < s->n_providers; i++)
        if (prov_index(s->providers[i]->id) >= 0)
            have_prov[prov_index(s->providers[i]->id)] = 1;
    for (size_t i = 0; i < s->n_visit_types; i++)
        if (vt_index(s->visit_types[i]->id) >= 0)
            have_vt[vt_index(s->visit_types[i]->id)] = 1;
    for (size_t i = 0; i < s->n_templates; i++)
        if (prov_index(s->templates[i]->provider) >= 0)
            have_tpl[prov_index(s->templates[i]->provider)] = 1;
    for (size_t i = 0; i < s->n_rooms; i++)
        for (size_t k = 0; k < PM_ARRAY_LEN(ROOMS); k++)
            have_room[k] |= strcmp(s->rooms[i]->id, ROOMS[k].id) == 0;

    for (int i = 0; i < NLOC; i++)
        if (!have_loc[i])
            put_location(&LOCATIONS[i]);
    for (size_t k = 0; k < PM_ARRAY_LEN(ROOMS); k++) {
        if (have_room[k])
            continue;
        Pm__Envelope *e;
        Pm__PutRoom *m = request(PM__ENVELOPE__BODY_PUT_ROOM, &pm__put_room__descriptor, &e);
        m->room = msg(&pm__room__descriptor);
        m->room->id = (char *)ROOMS[k].id;
        m->room->location = (char *)ROOMS[k].location;
        m->room->name = (char *)ROOMS[k].name;
        put(e, ROOMS[k].id);
    }
    for (int i = 0; i < NPROV; i++) {
        if (have_prov[i])
            continue;
        Pm__Envelope *e;
        Pm__PutProvider *m =
            request(PM__ENVELOPE__BODY_PUT_PROVIDER, &pm__put_provider__descriptor, &e);
        Pm__Provider *p = m->provider = msg(&pm__provider__descriptor);
        p->id = (char *)PROVIDERS[i].id;
        p->name = (char *)PROVIDERS[i].name;
        p->credentials = (char *)PROVIDERS[i].credentials;
        p->color = (char *)PROVIDERS[i].color;
        p->default_location = (char *)PROVIDERS[i].location;
        p->username = (char *)PROVIDERS[i].username;
        put(e, p->id);
    }
    for (int i = 0; i < NVT; i++) {
        if (have_vt[i])
            continue;
        Pm__Envelope *e;
        Pm__PutVisitType *m =
            request(PM__ENVELOPE__BODY_PUT_VISIT_TYPE, &pm__put_visit_type__descriptor, &e);
        Pm__VisitType *v = m->visit_type = msg(&pm__visit_type__descriptor);
        v->id = (char *)VTYPES[i].id;
        v->name = (char *)VTYPES[i].name;
        v->duration_min = VTYPES[i].minutes;
        v->color = (char *)VTYPES[i].color;
        v->needs_room = VTYPES[i].needs_room;
        v->providers = split_words(VTYPES[i].providers, &v->n_providers);
        put(e, v->id);
    }
    /* a provider's templates and exceptions come with the provider's first set-up; the
     * closures with the practice's: a later run, days on, adds none at other dates */
    for (int i = 0; i < NPROV; i++) {
        if (have_tpl[i])
            continue;
        for (size_t k = 0; k < PM_ARRAY_LEN(TEMPLATES); k++)
            if (strcmp(TEMPLATES[k].provider, PROVIDERS[i].id) == 0)
                put_template((int)k);
        for (size_t k = 0; k < PM_ARRAY_LEN(EXCEPTIONS); k++) {
            if (strcmp(EXCEPTIONS[k].provider, PROVIDERS[i].id) != 0)
                continue;
            Pm__Envelope *e;
            Pm__AddException *m =
                request(PM__ENVELOPE__BODY_ADD_EXCEPTION, &pm__add_exception__descriptor, &e);
            Pm__Exception *x = m->exception = msg(&pm__exception__descriptor);
            char d[11];
            pm_date_add(monday, EXCEPTIONS[k].day, d);
            x->provider = (char *)EXCEPTIONS[k].provider;
            x->start = at(d, hhmm(EXCEPTIONS[k].from));
            x->end = at(d, hhmm(EXCEPTIONS[k].to));
            x->kind = EXCEPTIONS[k].kind;
            x->reason = (char *)EXCEPTIONS[k].reason;
            put(e, KPRINTF("an exception of %s", x->provider));
        }
    }
    if (fresh_practice)
        for (size_t k = 0; k < PM_ARRAY_LEN(CLOSURES); k++) {
            Pm__Envelope *e;
            Pm__PutHoliday *m =
                request(PM__ENVELOPE__BODY_PUT_HOLIDAY, &pm__put_holiday__descriptor, &e);
            char d[11];
            pm_date_add(monday, CLOSURES[k].day, d);
            m->holiday = msg(&pm__holiday__descriptor);
            m->holiday->date = d;
            m->holiday->location = (char *)CLOSURES[k].location;
            m->holiday->name = (char *)CLOSURES[k].name;
            put(e, "a closure");
        }
    /* bank holidays: the ones from four weeks ago to four months ahead that are missing */
    char last[11];
    pm_date_add(today, 120, last);
    s = get_setup(from);
    for (const char *const *b = BANK_HOLIDAYS; *b; b++) {
        char d[11];
        snprintf(d, sizeof d, "%.10s", *b);
        if (strcmp(d, from) < 0 || strcmp(d, last) > 0)
            continue;
        int have = 0;
        for (size_t i = 0; i < s->n_holidays && !have; i++)
            have = strcmp(s->holidays[i]->date, d) == 0 && !*s->holidays[i]->location;
        if (have)
            continue;
        const char *name = *b + 11;
        Pm__Envelope *e;
        Pm__PutHoliday *m =
            request(PM__ENVELOPE__BODY_PUT_HOLIDAY, &pm__put_holiday__descriptor, &e);
        m->holiday = msg(&pm__holiday__descriptor);
        m->holiday->date = d;
        m->holiday->location = "";
        m->holiday->name = (char *)name;
        put(e, "a bank holiday");
        s = get_setup(from);
    }
}

/* ---- what the server holds, for planning --------------------------------------------- */

typedef struct pblock {
    unsigned wd, s, e, cap;
    int loc;
    int vts[NVT]; /* offered in the block */
    int nvts;
} pblock;

typedef struct ptemplate {
    int prov;
    char from[11], to[11];
    pblock *b;
    int nb;
} ptemplate;

static ptemplate *tpls;
static int ntpls;
static struct {
    int prov;
    time_t s, e;
} * excs;
static int nexcs;
static struct {
    char date[11];
    int loc; /* -1: every location */
} * hols;
static int nhols;
static unsigned vt_minutes[NVT];
static int vt_offered[NVT][NPROV];
static unsigned char seeded[NPROV][NDAYS]; /* the provider-day has appointments already */
static int waiting; /* entries of the waitlist waiting for a time (a later run) */

static void load_plan_setup(void)
{
    char from[11];
    pm_date_add(range_from, -1, from);
    Pm__Setup *s = get_setup(from);
    for (size_t i = 0; i < s->n_visit_types; i++) {
        int v = vt_index(s->visit_types[i]->id);
        if (v < 0)
            continue;
        vt_minutes[v] = s->visit_types[i]->duration_min;
        for (int p = 0; p < NPROV; p++) {
            int offered = s->visit_types[i]->n_providers == 0;
            for (size_t k = 0; k < s->visit_types[i]->n_providers; k++)
                offered |= strcmp(s->visit_types[i]->providers[k], PROVIDERS[p].id) == 0;
            vt_offered[v][p] = offered;
        }
    }
    tpls = calloc(s->n_templates + 1, sizeof *tpls);
    for (size_t i = 0; i < s->n_templates; i++) {
        const Pm__Template *t = s->templates[i];
        ptemplate *pt = &tpls[ntpls];
        if ((pt->prov = prov_index(t->provider)) < 0)
            continue;
        snprintf(pt->from, sizeof pt->from, "%s", t->valid_from);
        snprintf(pt->to, sizeof pt->to, "%s", t->valid_to);
        pt->b = calloc(t->n_blocks + 1, sizeof *pt->b);
        if (!pt->b)
            die("out of memory");
        for (size_t k = 0; k < t->n_blocks; k++) {
            const Pm__TemplateBlock *tb = t->blocks[k];
            pblock *b = &pt->b[pt->nb];
            if ((b->loc = loc_index(tb->location)) < 0)
                continue;
            b->wd = tb->weekday;
            b->s = tb->start_min;
            b->e = tb->end_min;
            b->cap = tb->capacity ? tb->capacity : 1;
            for (int v = 0; v < NVT; v++) {
                int in = tb->n_visit_types == 0;
                for (size_t j = 0; j < tb->n_visit_types; j++)
                    in |= strcmp(tb->visit_types[j], VTYPES[v].id) == 0;
                if (in && vt_offered[v][pt->prov] && vt_minutes[v])
                    b->vts[b->nvts++] = v;
            }
            pt->nb++;
        }
        ntpls++;
    }
    excs = calloc(s->n_exceptions + 1, sizeof *excs);
    for (size_t i = 0; i < s->n_exceptions; i++) {
        int p = prov_index(s->exceptions[i]->provider);
        if (p < 0)
            continue;
        excs[nexcs].prov = p;
        excs[nexcs].s = s->exceptions[i]->start;
        excs[nexcs++].e = s->exceptions[i]->end;
    }
    hols = calloc(s->n_holidays + 1, sizeof *hols);
    for (size_t i = 0; i < s->n_holidays; i++) {
        snprintf(hols[nhols].date, sizeof hols[0].date, "%s", s->holidays[i]->date);
        hols[nhols++].loc = *s->holidays[i]->location ? loc_index(s->holidays[i]->location) : -1;
    }
    if (!tpls || !excs || !hols)
        die("out of memory");

    Pm__Envelope *wl;
    request(PM__ENVELOPE__BODY_LIST_WAITLIST, &pm__list_waitlist__descriptor, &wl);
    waiting =
        (int)must(wl, PM__ENVELOPE__BODY_WAITLIST, "reading the waitlist")->waitlist->n_entries;

    /* the provider-days that have appointments already are left alone */
    for (int p = 0; p < NPROV; p++) {
        for (int first = 0; first < NDAYS; first += 31) {
            Pm__Envelope *e;
            Pm__GetSchedule *q =
                request(PM__ENVELOPE__BODY_GET_SCHEDULE, &pm__get_schedule__descriptor, &e);
            char d[11];
            day_of(first, d);
            q->provider = (char *)PROVIDERS[p].id;
            q->date = d;
            q->days = NDAYS - first < 31 ? (uint32_t)(NDAYS - first) : 31;
            Pm__Schedule *sc = must(e, PM__ENVELOPE__BODY_SCHEDULE, "reading a schedule")->schedule;
            for (size_t i = 0; i < sc->n_days; i++) {
                int k = pm_date_diff(range_from, sc->days[i]->date);
                if (k >= 0 && k < NDAYS && sc->days[i]->n_appointments)
                    seeded[p][k] = 1;
            }
        }
    }
}

static const ptemplate *template_on(int p, const char *date)
{
    const ptemplate *best = NULL;
    for (int i = 0; i < ntpls; i++) {
        const ptemplate *t = &tpls[i];
        if (t->prov != p || strcmp(t->from, date) > 0 || (*t->to && strcmp(t->to, date) < 0))
            continue;
        if (!best || strcmp(t->from, best->from) > 0)
            best = t;
    }
    return best;
}

/* Whether the location (-1: every location) is closed on date. */
static int holiday_on(const char *date, int loc)
{
    for (int i = 0; i < nhols; i++)
        if (strcmp(hols[i].date, date) == 0 && (hols[i].loc < 0 || hols[i].loc == loc))
            return 1;
    return 0;
}

/* The block of the provider's template that holds [t, t + minutes) on date, or NULL. */
static const pblock *block_at(int p, const char *date, time_t t, unsigned minutes, int vt)
{
    const ptemplate *tp = template_on(p, date);
    if (!tp || holiday_on(date, -1))
        return NULL;
    for (int i = 0; i < tp->nb; i++) {
        const pblock *b = &tp->b[i];
        if (b->wd != (unsigned)pm_weekday(date) || holiday_on(date, b->loc) || t < at(date, b->s) ||
            t + (time_t)minutes * MIN > at(date, b->e))
            continue;
        for (int k = 0; k < b->nvts; k++)
            if (b->vts[k] == vt)
                return b;
    }
    return NULL;
}

static int away(int p, time_t s, time_t e, time_t *until)
{
    for (int i = 0; i < nexcs; i++)
        if (excs[i].prov == p && excs[i].s < e && excs[i].e > s) {
            *until = excs[i].e;
            return 1;
        }
    return 0;
}

/* ---- planning the six weeks ------------------------------------------------------------ */

enum fate { F_BOOKED, F_ATTEND, F_NOSHOW, F_CANCEL };

typedef struct item {
    int prov, vt, loc, day, pat;
    time_t start;
    unsigned minutes;
    int clinic;       /* in a block of capacity above one */
    int series, occ;  /* of a weekly series (1-based), or 0 */
    int rebook;       /* books a slot a cancellation freed */
    const char *room; /* asked for ("" any) */
    const char *notes, *reason;
    enum fate fate;
    time_t booked_at, fate_at; /* when it was booked; cancelled or marked a no-show */
    /* the day of the visit, for those who came: arrived, roomed, seen, checked out */
    time_t flow[4];
    /* once booked */
    int ok;
    uint64_t id;
    char got_room[SCHED_CODE + 1];
} item;

static item *items;
static size_t nitems, cap_items;

static item *new_item(void)
{
    if (nitems == cap_items) {
        cap_items = cap_items ? cap_items * 2 : 4096;
        items = xrealloc(items, sizeof *items * cap_items);
    }
    item *it = &items[nitems++];
    memset(it, 0, sizeof *it);
    it->room = it->notes = it->reason = "";
    return it;
}

typedef struct series_plan {
    int def, prov, pat, ok;
    time_t first, booked_at;
    uint64_t id;
} series_plan;

static series_plan splans[NSERIES];
static int nsplans;

/* Time the providers are kept from, per provider-day: exceptions and series. */
static struct {
    int prov, day;
    time_t s, e;
} reserved[64];
static int nreserved;

static int busy_then(int p, int day, time_t s, time_t e, time_t *until)
{
    if (away(p, s, e, until))
        return 1;
    for (int i = 0; i < nreserved; i++)
        if (reserved[i].prov == p && reserved[i].day == day && reserved[i].s < e &&
            reserved[i].e > s) {
            *until = reserved[i].e;
            return 1;
        }
    return 0;
}

static int is_vt(int v, const char *id)
{
    return strcmp(VTYPES[v].id, id) == 0;
}

static int eligible(const patient *p, int vt, int day)
{
    if (!*p->mrn || p->nappts >= MAX_PER_PAT)
        return 0;
    if (day >= 0 && day < 64 && (p->busy >> day) & 1)
        return 0;
    if (is_vt(vt, "smear"))
        return p->sex == PM__SEX__FEMALE && p->age >= 25 && p->age <= 64;
    if (is_vt(vt, "checkup"))
        return p->age >= 18;
    if (is_vt(vt, "minor-surgery"))
        return p->age >= 16;
    if (is_vt(vt, "physio") || is_vt(vt, "physio-new"))
        return p->age >= 14;
    return 1;
}

/* How readily someone of this age comes for this kind of visit. */
static double appeal(const patient *p, int vt)
{
    int a = p->age;
    if (is_vt(vt, "vaccination"))
        return a < 6 || a >= 65 ? 1.0 : 0.25;
    if (is_vt(vt, "checkup"))
        return a >= 40 && a <= 74 ? 1.0 : 0.3;
    if (is_vt(vt, "physio") || is_vt(vt, "physio-new"))
        return a >= 25 && a <= 70 ? 1.0 : 0.4;
    return a < 5 ? 0.9 : a < 18 ? 0.4 : a < 40 ? 0.45 : a < 65 ? 0.65 : 1.0;
}

static int choose_patient(rng *r, int vt, int day, int loc)
{
    for (int tries = 0; tries < 600; tries++) {
        int i = (int)rn(r, (unsigned)npats);
        const patient *p = &pats[i];
        if (!eligible(p, vt, day) || (p->loc != loc && tries < 400 && chance(r, 0.85)) ||
            !chance(r, appeal(p, vt)))
            continue;
        return i;
    }
    return -1;
}

static void take_patient(int i, int day)
{
    if (day >= 0 && day < 64)
        pats[i].busy |= 1ull << day;
    pats[i].nappts++;
}

static const char *const NOTES_CONSULT[] = {"Sore throat for a week",
                                            "Knee pain after a fall",
                                            "Blood pressure follow-up",
                                            "Medication review",
                                            "Rash on both arms",
                                            "Fit note renewal",
                                            "Mole to check",
                                            "Asthma review",
                                            "Headaches on and off for a month",
                                            "Contraception review",
                                            "Back pain",
                                            "Cough not clearing",
                                            "Blood test results",
                                            "Dizzy spells",
                                            "Earache",
                                            "Follow-up after hospital discharge",
                                            "Low mood and poor sleep",
                                            NULL};
static const char *const NOTES_PHONE[] = {"Call on mobile",
                                          "Blood test results",
                                          "Repeat prescription query",
                                          "Call after 12:00; works mornings",
                                          "Fit note",
                                          NULL};
static const char *const NOTES_CHECKUP[] = {"NHS Health Check", "Diabetes annual review",
                                            "Blood pressure and weight", NULL};
static const char *const NOTES_VACC_CHILD[] = {"Childhood immunisations (1 year)",
                                               "Pre-school booster", NULL};
static const char *const NOTES_VACC_OLDER[] = {"Flu vaccine",      "COVID-19 booster",
                                               "Shingles vaccine", "Pneumococcal vaccine",
                                               "Flu vaccine",      NULL};
static const char *const NOTES_VACC_ADULT[] = {"Flu vaccine", "Travel: hepatitis A and typhoid",
                                               "Flu vaccine (carer)", "Whooping cough (pregnancy)",
                                               NULL};
static const char *const NOTES_SURGERY[] = {"Sebaceous cyst excision",
                                            "Skin tag removal",
                                            "Ingrown toenail: wedge resection",
                                            "Joint injection: knee",
                                            "Mole excision for histology",
                                            "Cryotherapy: warts",
                                            NULL};
static const char *const NOTES_PHYSIO_NEW[] = {"Lower back pain",
                                               "Shoulder pain for six weeks",
                                               "Ankle sprain",
                                               "Neck pain after a car accident",
                                               "Tennis elbow",
                                               "Knee pain when running",
                                               NULL};
static const char *const CANCEL_EARLY[] = {"Patient unwell",
                                           "Work commitments",
                                           "Going on holiday",
                                           "Childcare problem",
                                           "Feeling better, no longer needed",
                                           "Booked in error",
                                           "Prefers another day",
                                           "Hospital appointment the same day",
                                           "Family emergency",
                                           "Clinician unavailable",
                                           NULL};
static const char *const CANCEL_LATE[] = {"Unwell, phoned in the morning",
                                          "Car broke down",
                                          "Child off school sick",
                                          "Stuck at work",
                                          "Bus cancelled",
                                          "Caring for a relative",
                                          NULL};

static const char *notes_for(rng *r, int vt, const patient *p)
{
    if (is_vt(vt, "consult"))
        return chance(r, 0.3) ? pick(r, NOTES_CONSULT) : "";
    if (is_vt(vt, "phone"))
        return chance(r, 0.4) ? pick(r, NOTES_PHONE) : "";
    if (is_vt(vt, "checkup"))
        return chance(r, 0.5) ? pick(r, NOTES_CHECKUP) : "";
    if (is_vt(vt, "vaccination"))
        return pick(r, p->age < 6     ? NOTES_VACC_CHILD
                       : p->age >= 65 ? NOTES_VACC_OLDER
                                      : NOTES_VACC_ADULT);
    if (is_vt(vt, "minor-surgery"))
        return pick(r, NOTES_SURGERY);
    if (is_vt(vt, "physio-new"))
        return chance(r, 0.8) ? pick(r, NOTES_PHYSIO_NEW) : "";
    if (is_vt(vt, "smear"))
        return chance(r, 0.2) ? "Recall letter sent" : "";
    return "";
}

/* The room a visit type goes to first at a location, if the location has one. */
static const char *room_for(int vt, int loc)
{
    if (!*VTYPES[vt].room)
        return "";
    const char *id = KPRINTF("%s-%s", LOCATIONS[loc].rooms, VTYPES[vt].room);
    for (size_t i = 0; i < PM_ARRAY_LEN(ROOMS); i++)
        if (strcmp(ROOMS[i].id, id) == 0)
            return ROOMS[i].id;
    return "";
}

static item *plan_item(rng *r, int p, int vt, int loc, int day, time_t start, int clinic)
{
    int who = choose_patient(r, vt, day, loc);
    if (who < 0)
        return NULL;
    take_patient(who, day);
    item *it = new_item();
    it->prov = p;
    it->vt = vt;
    it->loc = loc;
    it->day = day;
    it->pat = who;
    it->start = start;
    it->minutes = vt_minutes[vt];
    it->clinic = clinic;
    it->room = room_for(vt, loc);
    it->notes = notes_for(r, vt, &pats[who]);
    return it;
}

/* How full a day gets: the past as it was, the coming days nearly full, further ahead
 * emptier. */
static double fill_for(rng *r, int ahead)
{
    double f = ahead < 0 ? 0.80 : ahead <= 2 ? 0.9 : ahead <= 7 ? 0.8 : ahead <= 14 ? 0.66 : 0.5;
    return f + (rf(r) - 0.5) * 0.14;
}

static int pick_vt(rng *r, int p, const pblock *b)
{
    /* the provider's mix, over what the block offers */
    unsigned w[NVT] = {0}, total = 0;
    char mix[128];
    snprintf(mix, sizeof mix, "%s", PROVIDERS[p].mix);
    for (char *t = strtok(mix, " "); t; t = strtok(NULL, " ")) {
        char *colon = strchr(t, ':');
        if (!colon)
            continue;
        *colon = 0;
        int v = vt_index(t);
        for (int k = 0; v >= 0 && k < b->nvts; k++)
            if (b->vts[k] == v)
                w[v] = (unsigned)atoi(colon + 1);
    }
    for (int v = 0; v < NVT; v++)
        total += w[v];
    if (!total) /* the block offers only what the mix leaves out */
        return b->nvts ? b->vts[rn(r, (unsigned)b->nvts)] : -1;
    unsigned x = rn(r, total);
    for (int v = 0; v < NVT; v++) {
        if (x < w[v])
            return v;
        x -= w[v];
    }
    return -1;
}

static int shortest_vt(const pblock *b)
{
    int best = -1;
    for (int k = 0; k < b->nvts; k++)
        if (best < 0 || vt_minutes[b->vts[k]] < vt_minutes[best])
            best = b->vts[k];
    return best;
}

static long bookable_min[2], filled_min[2]; /* the past, and ahead */

static void plan_block(rng *r, int p, int day, const char *date, const pblock *b, double fill)
{
    time_t bs = at(date, b->s), be = at(date, b->e), until;
    int ahead = day >= RANGE_BACK;
    for (time_t t = bs; t < be; t += 5 * MIN)
        if (!busy_then(p, day, t, t + 5 * MIN, &until))
            bookable_min[ahead] += 5 * (long)b->cap;
    if (b->cap > 1) { /* a clinic: several at once on the grid of its shortest visit */
        int vt = shortest_vt(b);
        if (vt < 0)
            return;
        time_t dur = (time_t)vt_minutes[vt] * MIN;
        for (time_t ts = bs; ts + dur <= be; ts += dur) {
            if (busy_then(p, day, ts, ts + dur, &until))
                continue;
            for (unsigned k = 0; k < b->cap; k++)
                if (chance(r, fill))
                    plan_item(r, p, vt, b->loc, day, ts, 1);
        }
        return;
    }
    time_t t = bs;
    while (t < be) {
        int vt = pick_vt(r, p, b);
        if (vt < 0)
            return;
        time_t dur = (time_t)vt_minutes[vt] * MIN;
        time_t step = (vt_minutes[vt] >= 15 ? 15 : vt_minutes[vt]) * MIN;
        /* on the grid the server offers slots on: from the block's start, every step */
        time_t ts = bs + (t - bs + step - 1) / step * step;
        if (ts + dur > be) {
            vt = shortest_vt(b);
            dur = (time_t)vt_minutes[vt] * MIN;
            step = (vt_minutes[vt] >= 15 ? 15 : vt_minutes[vt]) * MIN;
            ts = bs + (t - bs + step - 1) / step * step;
            if (ts + dur > be)
                return;
        }
        if (busy_then(p, day, ts, ts + dur, &until)) {
            t = until > ts ? until : ts + step;
            continue;
        }
        if (chance(r, fill) && plan_item(r, p, vt, b->loc, day, ts, 0))
            t = ts + dur;
        else
            t = ts + step;
    }
}

static void plan_day(rng *r, int p, int day)
{
    char date[11];
    day_of(day, date);
    const ptemplate *t = template_on(p, date);
    if (!t || holiday_on(date, -1))
        return;
    double fill = fill_for(r, day - RANGE_BACK);
    for (int i = 0; i < t->nb; i++)
        if (t->b[i].wd == (unsigned)pm_weekday(date) && !holiday_on(date, t->b[i].loc))
            plan_block(r, p, day, date, &t->b[i], fill);
}

/* Office hours for the moment a booking or cancellation was made, on the same day. */
static time_t office_hours(rng *r, time_t t)
{
    unsigned m = pm_local_minutes(t);
    if (m < 8 * 60)
        return t + (time_t)(8 * 60 - m + rn(r, 90)) * MIN;
    if (m > 18 * 60)
        return t - (time_t)(m - 18 * 60 + rn(r, 90)) * MIN;
    return t;
}

static time_t lead_for(rng *r, int vt)
{
    if (is_vt(vt, "consult") || is_vt(vt, "phone")) {
        unsigned u = rn(r, 100);
        if (u < 30)
            return rr(r, 30, 300) * MIN; /* the same day */
        if (u < 65)
            return rr(r, 20, 72) * HOUR;
        return rr(r, 4, 20) * DAY + rr(r, 0, 10) * HOUR;
    }
    return rr(r, 3, 24) * DAY + rr(r, 0, 10) * HOUR;
}

static void plan_series(rng *r)
{
    int p = prov_index("physio-nowak");
    int vt = vt_index("physio");
    if (p < 0 || vt < 0 || !vt_minutes[vt])
        return;
    for (int k = 0; k < NSERIES; k++) {
        char first[11];
        pm_date_add(range_from, 7 * SERIES[k].first_week, first);
        while (pm_weekday(first) != SERIES[k].weekday)
            pm_date_add(first, 1, first);
        int d0 = pm_date_diff(range_from, first), clash = 0;
        for (unsigned i = 0; i < SERIES[k].count; i++)
            if (d0 + 7 * (int)i < NDAYS && seeded[p][d0 + 7 * (int)i])
                clash = 1;
        if (clash || d0 >= NDAYS)
            continue;
        unsigned minutes = hhmm(SERIES[k].time);
        /* someone free on every one of those days */
        int who = -1;
        for (int tries = 0; tries < 2000 && who < 0; tries++) {
            int i = (int)rn(r, (unsigned)npats);
            int free = eligible(&pats[i], vt, -1) && pats[i].age >= 20 && pats[i].age <= 75;
            for (unsigned o = 0; o < SERIES[k].count && free; o++) {
                int d = d0 + 7 * (int)o;
                free = d >= NDAYS || d >= 64 || !((pats[i].busy >> d) & 1);
            }
            if (free)
                who = i;
        }
        if (who < 0)
            continue;
        series_plan *sp = &splans[nsplans++];
        sp->def = k;
        sp->prov = p;
        sp->pat = who;
        sp->first = at(first, minutes);
        time_t booked = office_hours(r, sp->first - rr(r, 2, 6) * DAY);
        sp->booked_at = booked < now_real ? booked : now_real - rr(r, 1, 48) * HOUR;
        for (unsigned o = 0; o < SERIES[k].count; o++) {
            int d = d0 + 7 * (int)o;
            if (d >= NDAYS)
                break;
            char date[11];
            day_of(d, date);
            time_t s = at(date, minutes), until;
            /* occurrences that do not fit are the server's to refuse */
            const pblock *b = block_at(p, date, s, vt_minutes[vt], vt);
            if (!b || away(p, s, s + (time_t)vt_minutes[vt] * MIN, &until))
                continue;
            take_patient(who, d);
            if (nreserved < (int)PM_ARRAY_LEN(reserved)) {
                reserved[nreserved].prov = p;
                reserved[nreserved].day = d;
                reserved[nreserved].s = s;
                reserved[nreserved++].e = s + (time_t)vt_minutes[vt] * MIN;
            }
            item *it = new_item();
            it->prov = p;
            it->vt = vt;
            it->loc = b->loc;
            it->room = room_for(vt, b->loc);
            it->day = d;
            it->pat = who;
            it->start = s;
            it->minutes = vt_minutes[vt];
            it->series = nsplans;
            it->occ = (int)o + 1;
            it->booked_at = sp->booked_at;
            it->notes = SERIES[k].notes;
            if (s >= now_real) {
                it->fate = F_BOOKED;
            } else if (SERIES[k].cancel_occ == o + 1 && !waiting) {
                it->fate = F_CANCEL;
                it->fate_at = office_hours(r, s - rr(r, 2, 5) * DAY);
                it->reason = "Away for work that week";
            } else if (SERIES[k].no_show_occ == o + 1) {
                it->fate = F_NOSHOW;
            } else {
                it->fate = F_ATTEND;
            }
        }
    }
}

/* What became of each visit, and when each step happened. */
static void plan_fates(rng *r)
{
    size_t planned = nitems;
    for (size_t i = 0; i < planned; i++) {
        item *it = &items[i];
        if (it->series)
            continue;
        int past = it->start < now_real;
        time_t b = it->start - lead_for(r, it->vt);
        double x = rf(r);
        it->fate = past ? (x < 0.08   ? F_NOSHOW
                           : x < 0.18 ? F_CANCEL
                                      : F_ATTEND)
                        : (x < 0.06 ? F_CANCEL : F_BOOKED);
        /* with patients on the waitlist (a run days after the first), a cancellation would
         * offer them the time at a moment long gone: the days it fills have none */
        if (waiting && it->fate == F_CANCEL)
            it->fate = past ? F_ATTEND : F_BOOKED;
        if (it->fate == F_CANCEL && past) {
            int late = chance(r, 0.3);
            time_t c = it->start - (late ? rr(r, 1, 20) * HOUR : rr(r, 26, 200) * HOUR);
            time_t oc = office_hours(r, c);
            it->fate_at = oc < it->start - 20 * MIN ? oc : c;
            if (b > it->fate_at - 45 * MIN)
                b = it->fate_at - rr(r, 1, 96) * HOUR;
            it->reason = pick(r, late ? CANCEL_LATE : CANCEL_EARLY);
        } else if (!past) {
            /* booked before now; cancelled, when it was, since */
            time_t latest = now_real - rr(r, it->fate == F_CANCEL ? 120 : 10, 2 * 24 * 60) * MIN;
            if (b > latest)
                b = latest;
            if (it->fate == F_CANCEL) {
                time_t span = now_real - 5 * MIN - (b + 45 * MIN);
                it->fate_at = b + 45 * MIN + (span > 0 ? (time_t)rn(r, (unsigned)span) : 0);
                it->reason = pick(r, it->start - it->fate_at < DAY ? CANCEL_LATE : CANCEL_EARLY);
            }
        }
        time_t ob = office_hours(r, b);
        it->booked_at = ob < it->start - 10 * MIN && ob <= now_real &&
                                (it->fate != F_CANCEL || ob < it->fate_at - 45 * MIN)
                            ? ob
                            : b;
    }
    /* a slot freed well ahead often goes to someone else */
    for (size_t i = 0; i < planned; i++) {
        item it = items[i];
        if (it.fate != F_CANCEL || it.start - it.fate_at < 3 * HOUR ||
            !chance(r, it.start < now_real ? 0.45 : 0.3))
            continue;
        time_t from = it.fate_at + 40 * MIN;
        time_t to =
            it.start - 15 * MIN < now_real - 5 * MIN ? it.start - 15 * MIN : now_real - 5 * MIN;
        if (to <= from)
            continue;
        item *n = plan_item(r, it.prov, it.vt, it.loc, it.day, it.start, it.clinic);
        if (!n)
            continue;
        n->rebook = 1;
        n->booked_at = from + (time_t)rn(r, (unsigned)(to - from));
        n->fate = it.start >= now_real ? F_BOOKED : chance(r, 0.06) ? F_NOSHOW : F_ATTEND;
    }
    /* no-shows are marked once the time is over (a no-show marked sooner offers the rest of
     * the slot to the waitlist) */
    for (size_t i = 0; i < nitems; i++) {
        item *it = &items[i];
        if (it->fate == F_NOSHOW)
            it->fate_at = it->start + (time_t)it->minutes * MIN + rr(r, 1, 30) * MIN;
    }
}

static int by_provider_and_time(const void *a, const void *b)
{
    const item *x = &items[*(const size_t *)a], *y = &items[*(const size_t *)b];
    if (x->prov != y->prov)
        return x->prov - y->prov;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The day of each visit that happened: arrival (a few late), the room, the provider,
 * check-out, each provider seeing one patient after another at the pace of the day. Each
 * step needs the clock at its own moment, so the server takes them one at a time: only
 * today's visits so far and those of the last day before today that had any are
 * replayed (the flow views, and closing yesterday, have them to show); earlier visits stay
 * booked, as history. */
static void plan_flow(rng *r)
{
    size_t *order = calloc(nitems + 1, sizeof *order);
    if (!order)
        die("out of memory");
    int first_day = RANGE_BACK;
    for (size_t i = 0; i < nitems; i++)
        if (items[i].fate == F_ATTEND && items[i].day < RANGE_BACK &&
            (first_day == RANGE_BACK || items[i].day > first_day))
            first_day = items[i].day;
    size_t n = 0;
    for (size_t i = 0; i < nitems; i++)
        if (items[i].fate == F_ATTEND && items[i].day >= first_day)
            order[n++] = i;
    qsort(order, n, sizeof *order, by_provider_and_time);
    time_t free_at = 0;
    int prev_prov = -1, prev_day = -1;
    for (size_t k = 0; k < n; k++) {
        item *it = &items[order[k]];
        if (it->prov != prev_prov || it->day != prev_day)
            free_at = 0;
        prev_prov = it->prov;
        prev_day = it->day;
        time_t dur = (time_t)it->minutes * MIN;
        time_t arrive =
            chance(r, 0.07) ? it->start + rr(r, 11, 25) * MIN : it->start - rr(r, 2, 15) * MIN;
        time_t room = 0, see, out;
        if (is_vt(it->vt, "phone")) {
            arrive = it->start;
            see = it->start + rr(r, 0, 3) * MIN;
            out = see + (time_t)((double)dur * (0.7 + 0.4 * rf(r)));
        } else if (it->clinic) {
            see = (arrive > it->start ? arrive : it->start) + rr(r, 0, 4) * MIN;
            out = see + (time_t)((double)dur * (0.6 + 0.4 * rf(r)));
        } else {
            time_t call = it->start;
            if (arrive + MIN > call)
                call = arrive + MIN;
            if (free_at > call)
                call = free_at;
            call += rr(r, 0, 3) * MIN;
            if (*it->room) {
                room = call;
                see = call + rr(r, 1, 4) * MIN;
            } else {
                see = call;
            }
            out = see + (time_t)((double)dur * (0.75 + 0.55 * rf(r)));
            free_at = out + rr(r, 0, 2) * MIN;
        }
        time_t steps[4] = {arrive, room, see, out};
        /* today's: only what has happened by now */
        for (int s = 0; s < 4; s++)
            if (steps[s] > now_real) {
                for (int j = s; j < 4; j++)
                    steps[j] = 0;
                break;
            }
        memcpy(it->flow, steps, sizeof steps);
        if (!it->flow[0])
            it->fate = F_BOOKED; /* not here yet */
    }
    free(order);
}

/* ---- carrying it out ------------------------------------------------------------------- */

/* A pool of connections, each job one request: the server commits the writes that arrive
 * together in one transaction, so a batch costs about one flush of the disk. */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    job_fn fn;
    const size_t *what;
    size_t n, next, finished;
    unsigned gen;
    int quit, started;
    pthread_t th[WORKERS];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .work = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static void *worker(void *arg)
{
    (void)arg;
    connect_saved();
    pthread_mutex_lock(&pool.mu);
    unsigned seen = 0;
    for (;;) {
        while (pool.gen == seen && !pool.quit)
            pthread_cond_wait(&pool.work, &pool.mu);
        if (pool.quit)
            break;
        seen = pool.gen;
        while (pool.next < pool.n) {
            size_t i = pool.next++;
            job_fn fn = pool.fn;
            size_t what = pool.what[i];
            pthread_mutex_unlock(&pool.mu);
            fn(what);
            pthread_mutex_lock(&pool.mu);
            if (++pool.finished == pool.n)
                pthread_cond_signal(&pool.done);
        }
    }
    pthread_mutex_unlock(&pool.mu);
    disconnect();
    return NULL;
}

/* Runs fn on every element of what, on the pool's connections; returns when all are done. */
static void run_jobs(job_fn fn, const size_t *what, size_t n)
{
    if (!n)
        return;
    if (!pool.started) {
        for (int i = 0; i < WORKERS; i++)
            if (pthread_create(&pool.th[i], NULL, worker, NULL) != 0)
                die("cannot start a thread");
        pool.started = 1;
    }
    pthread_mutex_lock(&pool.mu);
    pool.fn = fn;
    pool.what = what;
    pool.n = n;
    pool.next = pool.finished = 0;
    pool.gen++;
    pthread_cond_broadcast(&pool.work);
    while (pool.finished < n)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}

static void stop_pool(void)
{
    if (!pool.started)
        return;
    pthread_mutex_lock(&pool.mu);
    pool.quit = 1;
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(pool.th[i], NULL);
}

typedef struct timed {
    time_t t;
    size_t what;
} timed;

static int by_t(const void *a, const void *b)
{
    const timed *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->what < y->what ? -1 : x->what > y->what;
}

#define BATCH 96

/* Runs fn on the elements in order of time, a batch at a time: a batch spans at most span
 * seconds, with the scheduling clock at its first moment (or its last: a no-show is
 * marked after the start). */
static void run_timed(timed *v, size_t n, job_fn fn, time_t span, int at_last)
{
    qsort(v, n, sizeof *v, by_t);
    size_t *what = calloc(BATCH, sizeof *what);
    if (!what)
        die("out of memory");
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && j - i < BATCH && v[j].t - v[i].t <= span) {
            what[j - i] = v[j].what;
            j++;
        }
        clock_set(at_last ? v[j - 1].t : v[i].t);
        run_jobs(fn, what, j - i);
        i = j;
    }
    free(what);
}

static struct {
    int booked, series, occurrences, cancelled, late, no_shows, checked_out;
    int refused[32], flow_refused, other_refused;
} st;

static void bump(int *x)
{
    pthread_mutex_lock(&mu);
    (*x)++;
    pthread_mutex_unlock(&mu);
}

static void refused(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refused(int rc, const char *fmt, ...)
{
    int code = -rc;
    bump(code > 0 && code < 32 ? &st.refused[code] : &st.other_refused);
    if (verbose) {
        char what[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        say("refused: %s: %s", what, pc_last_error(pc));
    }
}

static void note_booked(item *it, const Pm__Appointment *a)
{
    it->ok = 1;
    it->id = a->id;
    snprintf(it->got_room, sizeof it->got_room, "%s", a->room);
}

static void run_book(item *it)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        Pm__Envelope *e, *resp;
        Pm__Book *b = request(PM__ENVELOPE__BODY_BOOK, &pm__book__descriptor, &e);
        b->patient_mrn = pats[it->pat].mrn;
        b->provider = (char *)PROVIDERS[it->prov].id;
        b->visit_type = (char *)VTYPES[it->vt].id;
        b->start = it->start;
        b->location = (char *)LOCATIONS[it->loc].id;
        b->room = (char *)it->room;
        b->notes = (char *)it->notes;
        int rc = call(e, PM__ENVELOPE__BODY_APPOINTMENT_OK, &resp);
        if (rc == PM_OK) {
            note_booked(it, resp->appointment_ok->appointment);
            bump(&st.booked);
            return;
        }
        if (rc == PM_E_ROOM_BUSY && *it->room) { /* any other room of the location */
            it->room = "";
            continue;
        }
        if (rc == PM_E_PATIENT_BUSY) { /* someone else, then */
            rng r = {(uint64_t)it->start ^ (uint64_t)attempt};
            pthread_mutex_lock(&mu);
            int who = choose_patient(&r, it->vt, it->day, it->loc);
            if (who >= 0) {
                take_patient(who, it->day);
                it->pat = who;
            }
            pthread_mutex_unlock(&mu);
            if (who >= 0)
                continue;
        }
        refused(rc, "booking %s with %s at %s", VTYPES[it->vt].id, PROVIDERS[it->prov].id,
                when(it->start));
        return;
    }
}

static void run_series(series_plan *sp)
{
    int k = (int)(sp - splans) + 1;
    const char *room = "";
    for (size_t i = 0; i < nitems; i++)
        if (items[i].series == k) {
            room = items[i].room;
            break;
        }
    Pm__Envelope *e, *resp;
    Pm__Book *b = request(PM__ENVELOPE__BODY_BOOK, &pm__book__descriptor, &e);
    b->patient_mrn = pats[sp->pat].mrn;
    b->provider = (char *)PROVIDERS[sp->prov].id;
    b->visit_type = "physio";
    b->start = sp->first;
    b->room = (char *)room;
    b->notes = (char *)SERIES[sp->def].notes;
    b->series_mode = PM__SERIES_MODE__FREE_ONES;
    b->repeat = msg(&pm__recurrence__descriptor);
    b->repeat->interval = 1;
    b->repeat->unit = PM__REPEAT_UNIT__WEEKS;
    b->repeat->count = SERIES[sp->def].count;
    int rc = call(e, PM__ENVELOPE__BODY_SERIES_RESULT, &resp);
    if (rc) {
        refused(rc, "a weekly series");
        return;
    }
    const Pm__SeriesResult *sr = resp->series_result;
    sp->ok = sr->applied;
    sp->id = sr->series_id;
    if (sr->applied)
        bump(&st.series);
    for (size_t o = 0; o < sr->n_occurrences; o++) {
        const Pm__Occurrence *oc = sr->occurrences[o];
        if (!oc->appointment) {
            if (verbose && oc->conflict)
                say("series %llu: none at %s: %s", (unsigned long long)sr->series_id,
                    when(oc->start), oc->conflict->message);
            continue;
        }
        bump(&st.occurrences);
        for (size_t i = 0; i < nitems; i++)
            if (items[i].series == k && items[i].start == oc->start)
                note_booked(&items[i], oc->appointment);
    }
}

static void run_cancel(size_t i)
{
    item *it = &items[i];
    if (!it->ok)
        return;
    Pm__Envelope *e, *resp;
    Pm__Cancel *c = request(PM__ENVELOPE__BODY_CANCEL, &pm__cancel__descriptor, &e);
    c->id = it->id;
    c->reason = (char *)it->reason;
    int rc = call(e, PM__ENVELOPE__BODY_APPOINTMENT_OK, &resp);
    if (rc) {
        refused(rc, "cancelling appointment %llu", (unsigned long long)it->id);
        return;
    }
    bump(&st.cancelled);
    if (resp->appointment_ok->appointment->late_cancel)
        bump(&st.late);
}

static void run_no_show(size_t i)
{
    item *it = &items[i];
    if (!it->ok)
        return;
    Pm__Envelope *e, *resp;
    Pm__MarkNoShow *m = request(PM__ENVELOPE__BODY_MARK_NO_SHOW, &pm__mark_no_show__descriptor, &e);
    m->id = it->id;
    int rc = call(e, PM__ENVELOPE__BODY_APPOINTMENT_OK, &resp);
    if (rc)
        refused(rc, "a no-show of appointment %llu", (unsigned long long)it->id);
    else
        bump(&st.no_shows);
}

static void run_flow_step(item *it, int step)
{
    static const Pm__FlowAction actions[] = {PM__FLOW_ACTION__ARRIVE, PM__FLOW_ACTION__TO_ROOM,
                                             PM__FLOW_ACTION__SEE, PM__FLOW_ACTION__CHECK_OUT};
    if (step == 1 && !*it->got_room)
        return;
    Pm__Envelope *e, *resp;
    Pm__FlowStep *f = request(PM__ENVELOPE__BODY_FLOW_STEP, &pm__flow_step__descriptor, &e);
    f->appointment_id = it->id;
    f->action = actions[step];
    f->room = step == 1 ? it->got_room : "";
    int rc = call(e, PM__ENVELOPE__BODY_APPOINTMENT_OK, &resp);
    if (rc) {
        /* a room still taken (the visit before ran over): straight to the provider */
        st.flow_refused++;
        if (verbose)
            say("refused: %s at %s: %s", PROVIDERS[it->prov].id, when(it->start),
                pc_last_error(pc));
        return;
    }
    st.checked_out += step == 3;
}

static void job_book(size_t w)
{
    if (w >= nitems)
        run_series(&splans[w - nitems]);
    else
        run_book(&items[w]);
}

static void run_plan(void)
{
    timed *v = calloc(nitems + (size_t)nsplans + 1, sizeof *v);
    size_t n = 0;
    if (!v)
        die("out of memory");
    /* the bookings, as they were made (a batch's clock: its first, within four hours) */
    for (int k = 0; k < nsplans; k++)
        v[n++] = (timed){splans[k].booked_at, nitems + (size_t)k};
    for (size_t i = 0; i < nitems; i++)
        if (!items[i].series && !items[i].rebook)
            v[n++] = (timed){items[i].booked_at, i};
    run_timed(v, n, job_book, 4 * HOUR, 0);
    /* the cancellations (within half an hour: a late one stays late), then the slots
     * they freed that someone else took */
    n = 0;
    for (size_t i = 0; i < nitems; i++)
        if (items[i].fate == F_CANCEL)
            v[n++] = (timed){items[i].fate_at, i};
    run_timed(v, n, run_cancel, 30 * MIN, 0);
    n = 0;
    for (size_t i = 0; i < nitems; i++)
        if (items[i].rebook)
            v[n++] = (timed){items[i].booked_at, i};
    run_timed(v, n, job_book, 30 * MIN, 0);
    /* no-shows, once the grace period was over */
    n = 0;
    for (size_t i = 0; i < nitems; i++)
        if (items[i].fate == F_NOSHOW && items[i].fate_at <= now_real)
            v[n++] = (timed){items[i].fate_at, i};
    run_timed(v, n, run_no_show, 2 * HOUR, 1);
    /* the days of the visits: step by step at the moment each happened, in order, one
     * request at a time (each needs its own time on the clock) */
    free(v);
    if (!clock_file)
        return;
    v = calloc(nitems * 4 + 1, sizeof *v);
    if (!v)
        die("out of memory");
    n = 0;
    for (size_t i = 0; i < nitems; i++)
        for (size_t k = 0; k < 4; k++)
            if (items[i].fate == F_ATTEND && items[i].ok && items[i].flow[k])
                v[n++] = (timed){items[i].flow[k], i * 4 + k};
    qsort(v, n, sizeof *v, by_t);
    for (size_t k = 0; k < n; k++) {
        clock_set(v[k].t);
        run_flow_step(&items[v[k].what / 4], (int)(v[k].what % 4));
    }
    free(v);
}

/* ---- the waitlist ------------------------------------------------------------------ */

static int wl_added;

static void seed_waitlist(rng *r)
{
    /* who waits for what already, closed entries too (a page at a time, back to the
     * first): a run never adds one twice */
    char have[PM_ARRAY_LEN(WAITLIST)] = {0};
    uint64_t before = 0;
    Pm__Envelope *e;
    for (int more = 1; more;) {
        Pm__ListWaitlist *q =
            request(PM__ENVELOPE__BODY_LIST_WAITLIST, &pm__list_waitlist__descriptor, &e);
        q->include_closed = 1;
        q->closed_limit = 1000;
        q->closed_before_id = before;
        Pm__Waitlist *wl = must(e, PM__ENVELOPE__BODY_WAITLIST, "reading the waitlist")->waitlist;
        more = (before = wl->closed_before_next) != 0;
        for (size_t i = 0; i < wl->n_entries; i++) {
            const Pm__WaitlistEntry *w = wl->entries[i];
            for (size_t k = 0; k < PM_ARRAY_LEN(WAITLIST); k++)
                if ((size_t)WAITLIST[k].patient < npats &&
                    strcmp(w->patient_mrn, pats[WAITLIST[k].patient].mrn) == 0 &&
                    strcmp(w->visit_type, WAITLIST[k].visit_type) == 0)
                    have[k] = 1;
        }
    }
    char to[11];
    pm_date_add(today, 28, to);
    for (size_t k = 0; k < PM_ARRAY_LEN(WAITLIST); k++) {
        if (have[k] || (size_t)WAITLIST[k].patient >= npats)
            continue;
        /* joined over the last few days, during opening hours */
        clock_set(office_hours(r, now_real - rr(r, 2, 96) * HOUR));
        Pm__AddToWaitlist *a =
            request(PM__ENVELOPE__BODY_ADD_TO_WAITLIST, &pm__add_to_waitlist__descriptor, &e);
        Pm__WaitlistEntry *w = a->entry = msg(&pm__waitlist_entry__descriptor);
        w->patient_mrn = pats[WAITLIST[k].patient].mrn;
        w->visit_type = (char *)WAITLIST[k].visit_type;
        w->providers = split_words(WAITLIST[k].providers, &w->n_providers);
        w->from_date = today;
        w->to_date = to;
        if (*WAITLIST[k].from) {
            w->earliest_min = hhmm(WAITLIST[k].from);
            w->latest_min = hhmm(WAITLIST[k].to);
        }
        w->priority = WAITLIST[k].priority;
        w->note = (char *)WAITLIST[k].note;
        Pm__Envelope *resp;
        int rc = call(e, PM__ENVELOPE__BODY_WAITLIST_OK, &resp);
        if (rc)
            refused(rc, "a waitlist entry");
        else
            wl_added++;
    }
}

/* ---- the run ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: demo-seed DEMO_DIR [--clock FILE] [--now TIME] [--verbose]\n"
            "  PRACTICE_CONFIG: the practice CLI's directory, logged in as a manager\n"
            "  --clock FILE: the server's PRACTICED_TEST_CLOCK file; the weeks are replayed\n"
            "  --now TIME: seed as if it were then (\"2026-12-01 10:30\"; with --clock, to see\n"
            "              a day in progress: the file is left at that time)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *demo_dir = NULL, *now_text = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--clock") == 0 && i + 1 < argc)
            clock_file = argv[++i];
        else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc)
            now_text = argv[++i];
        else if (strcmp(argv[i], "--verbose") == 0)
            verbose = 1;
        else if (argv[i][0] != '-' && !demo_dir)
            demo_dir = argv[i];
        else
            usage();
    }
    if (!demo_dir)
        usage();
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pm_arena_init(&keep, 0);
    clock_real(); /* whatever an interrupted run left: the real time until we say */

    read_saved();
    connect_saved();
    if (pm_tz_use(pc_timezone(pc)) != PM_OK)
        die("unknown time zone %s", pc_timezone(pc));
    now_real = time(NULL);
    if (now_text && pm_parse_local_time(now_text, now_real, &now_real) != 0)
        die("--now: a time such as \"2026-12-01 10:30\"");
    pm_local_date(now_real, today);
    pm_date_add(today, -RANGE_BACK, range_from);
    pm_date_add(today, 1 - pm_weekday(today), monday);

    seed_accounts(demo_dir);
    make_patients();
    seed_patients();
    seed_setup();
    load_plan_setup();

    rng r = {0xa9900000ull ^ (uint64_t)pm_date_diff("2026-01-01", today)};
    plan_series(&r);
    for (int d = 0; d < NDAYS; d++)
        for (int p = 0; p < NPROV; p++)
            if (!seeded[p][d])
                plan_day(&r, p, d);
    plan_fates(&r);
    plan_flow(&r);
    run_plan();
    stop_pool();
    seed_waitlist(&r);
    if (now_text)
        clock_set(now_real); /* the server stays at the moment asked for */
    else
        clock_real();

    for (size_t i = 0; i < nitems; i++)
        if (items[i].ok && items[i].fate != F_CANCEL)
            filled_min[items[i].day >= RANGE_BACK] += (long)items[i].minutes;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    unsigned char filled[NPROV][NDAYS] = {{0}};
    int fresh_days = 0;
    for (size_t i = 0; i < nitems; i++)
        if (!filled[items[i].prov][items[i].day]) {
            filled[items[i].prov][items[i].day] = 1;
            fresh_days++;
        }
    say("%zu patients (%d added), %d set-up records added, %d provider-days filled", npats,
        pat_added, setup_added, fresh_days);
    if (nitems) {
        int refusals = st.other_refused;
        for (int k = 0; k < 32; k++)
            refusals += st.refused[k];
        say("%d appointments booked and %d weekly series (%d visits); %d cancelled (%d late), "
            "%d no-shows, %d visits checked out; %d bookings refused",
            st.booked, st.series, st.occurrences, st.cancelled, st.late, st.no_shows,
            st.checked_out, refusals);
        for (int k = 0; k < 32; k++)
            if (st.refused[k])
                say("  refused %d times: %s", st.refused[k], pm_strerror(-k));
        if (st.flow_refused)
            say("  %d check-in steps refused", st.flow_refused);
        for (int a = 0; a < 2; a++)
            if (bookable_min[a])
                say("%s: %ld of %ld bookable hours taken (%.0f%%)", a ? "ahead" : "the past",
                    filled_min[a] / 60, bookable_min[a] / 60,
                    100.0 * (double)filled_min[a] / (double)bookable_min[a]);
    } else {
        say("every day of the six weeks has its appointments already");
    }
    say("%d waitlist entries added; %lu requests in %.1f s", wl_added, calls, secs);
    disconnect();
    pm_arena_free(&keep);
    free(items);
    free(pats);
    for (int i = 0; i < ntpls; i++)
        free(tpls[i].b);
    free(tpls);
    free(excs);
    free(hols);
    return 0;
}
