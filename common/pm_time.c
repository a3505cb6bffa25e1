#include "pm_time.h"

#include "pm_err.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

uint64_t pm_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t pm_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t pm_wall_s(void)
{
    return (uint64_t)time(NULL);
}

int pm_tz_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || name[0] == '/' || strstr(name, ".."))
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
            return 0;
    char path[128];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Local days recently converted, per thread, midnight to midnight: a request converts
 * many times within a few days (a booking's day, its template blocks, its topics), and
 * mktime and localtime_r cost a tenth of a booking's running time. Only days 24 hours
 * long are kept, so a day with a clock change always takes the C library's path; a new
 * zone (pm_tz_use) empties every thread's days. */
#define DAYS_KEPT 8
typedef struct local_day {
    time_t t0, t1; /* its midnight and the next */
    unsigned gen;  /* tz_gen when kept; 0: empty */
    char date[11];
} local_day;
static atomic_uint tz_gen = 1;
static _Thread_local local_day days_kept[DAYS_KEPT];
static _Thread_local unsigned days_next;

static const local_day *day_of_time(time_t t)
{
    unsigned g = atomic_load_explicit(&tz_gen, memory_order_relaxed);
    for (int i = 0; i < DAYS_KEPT; i++)
        if (days_kept[i].gen == g && t >= days_kept[i].t0 && t < days_kept[i].t1)
            return &days_kept[i];
    return NULL;
}

static const local_day *day_of_date(const char *date)
{
    unsigned g = atomic_load_explicit(&tz_gen, memory_order_relaxed);
    for (int i = 0; i < DAYS_KEPT; i++)
        if (days_kept[i].gen == g && memcmp(days_kept[i].date, date, 11) == 0)
            return &days_kept[i];
    return NULL;
}

static int instant_uncached(const char *date, unsigned minutes, time_t *out);

static void keep_day(const char date[11])
{
    unsigned gen = atomic_load_explicit(&tz_gen, memory_order_relaxed); /* before, not after */
    time_t t0, t1;
    char next[11];
    if (instant_uncached(date, 0, &t0) != 0)
        return;
    pm_date_add(date, 1, next);
    if (instant_uncached(next, 0, &t1) != 0 || t1 - t0 != 24 * 3600)
        return;
    local_day *d = &days_kept[days_next++ % DAYS_KEPT];
    *d = (local_day){t0, t1, gen, {0}};
    memcpy(d->date, date, 11);
}

void pm_tz_set(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
    atomic_fetch_add(&tz_gen, 1);
}

int pm_tz_use(const char *name)
{
    if (!pm_tz_valid(name))
        return PM_E_CONFIG;
    pm_tz_set(name);
    return PM_OK;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

int pm_parse_date(const char *s, int *y, int *m, int *d)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return -1;
    *y = atoi(s);
    *m = atoi(s + 5);
    *d = atoi(s + 8);
    if (*y < 1 || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m))
        return -1;
    return 0;
}

static time_t local_midnight(time_t t, int day_offset)
{
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_mday += day_offset;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

int pm_parse_when(const char *s, time_t now, time_t *out)
{
    if (strcmp(s, "now") == 0) {
        *out = now;
        return 0;
    }
    if (strcmp(s, "today") == 0) {
        *out = local_midnight(now, 0);
        return 0;
    }
    if (strcmp(s, "yesterday") == 0) {
        *out = local_midnight(now, -1);
        return 0;
    }
    int y, mo, d;
    char date[11];
    if (strlen(s) >= 10) {
        memcpy(date, s, 10);
        date[10] = 0;
        if (pm_parse_date(date, &y, &mo, &d) == 0) {
            int hh = 0, mm = 0;
            const char *rest = s + 10;
            if (*rest) {
                if (*rest != ' ' && *rest != 'T')
                    return -1;
                char extra;
                if (sscanf(rest + 1, "%2d:%2d%c", &hh, &mm, &extra) != 2 || hh > 23 || mm > 59 ||
                    hh < 0 || mm < 0)
                    return -1;
            }
            struct tm tm = {0};
            tm.tm_year = y - 1900;
            tm.tm_mon = mo - 1;
            tm.tm_mday = d;
            tm.tm_hour = hh;
            tm.tm_min = mm;
            tm.tm_isdst = -1;
            *out = mktime(&tm);
            return 0;
        }
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (end != s && v >= 0 && end[0] && !end[1]) {
        long unit = end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : end[0] == 'd' ? 86400 : 0;
        if (unit && v < 100000) {
            *out = now - v * unit;
            return 0;
        }
    }
    return -1;
}

void pm_format_local(time_t t, char *buf, size_t n)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

void pm_format_utc(time_t t, char *buf, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Dates are computed on a civil calendar with no zone (days since 1970-01-01), so that
 * adding days never trips over a daylight-saving change; only instants go through the
 * zone. */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153u * (unsigned)(m + (m > 2 ? -3 : 9)) + 2) / 5 + (unsigned)d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long yy = (long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static void format_ymd(int y, int m, int d, char out[11])
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
    memcpy(out, tmp, 10);
    out[10] = 0;
}

static void format_days(long z, char out[11])
{
    int y, m, d;
    civil_from_days(z, &y, &m, &d);
    format_ymd(y, m, d, out);
}

static int date_days(const char *date, long *z)
{
    int y, m, d;
    if (pm_parse_date(date, &y, &m, &d) != 0)
        return -1;
    *z = days_from_civil(y, m, d);
    return 0;
}

int pm_weekday(const char *date)
{
    long z;
    if (date_days(date, &z) != 0)
        return 0;
    /* 1970-01-01 was a Thursday (4) */
    long w = (z + 3) % 7;
    if (w < 0)
        w += 7;
    return (int)w + 1;
}

void pm_date_add(const char *date, int days, char out[11])
{
    long z;
    if (date_days(date, &z) != 0) {
        out[0] = 0;
        return;
    }
    format_days(z + days, out);
}

int pm_date_diff(const char *a, const char *b)
{
    long za, zb;
    if (date_days(a, &za) != 0 || date_days(b, &zb) != 0)
        return 0;
    return (int)(zb - za);
}

static int instant_uncached(const char *date, unsigned minutes, time_t *out)
{
    int y, m, d;
    if (pm_parse_date(date, &y, &m, &d) != 0 || minutes > 24 * 60)
        return -1;
    /* minutes == 1440 is the end of the day: the next day's midnight */
    if (minutes == 24 * 60) {
        char next[11];
        pm_date_add(date, 1, next);
        return instant_uncached(next, 0, out);
    }
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = (int)(minutes / 60);
    tm.tm_min = (int)(minutes % 60);
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = t;
    return 0;
}

int pm_local_instant(const char *date, unsigned minutes, time_t *out)
{
    if (minutes <= 24 * 60 && strnlen(date, 11) == 10) {
        const local_day *d = day_of_date(date);
        if (!d) {
            keep_day(date);
            d = day_of_date(date);
        }
        if (d) {
            *out = d->t0 + (time_t)minutes * 60;
            return 0;
        }
    }
    return instant_uncached(date, minutes, out);
}

void pm_local_date(time_t t, char out[11])
{
    const local_day *d = day_of_time(t);
    if (d) {
        memcpy(out, d->date, 11);
        return;
    }
    struct tm tm;
    localtime_r(&t, &tm);
    format_ymd(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, out);
    keep_day(out);
}

unsigned pm_local_minutes(time_t t)
{
    const local_day *d = day_of_time(t);
    if (d)
        return (unsigned)((t - d->t0) / 60);
    struct tm tm;
    localtime_r(&t, &tm);
    return (unsigned)(tm.tm_hour * 60 + tm.tm_min);
}

int pm_parse_hhmm(const char *s, unsigned *minutes)
{
    unsigned h = 0, m = 0;
    int n = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9' && n < 2) {
        h = h * 10 + (unsigned)(*p++ - '0');
        n++;
    }
    if (n == 0 || *p++ != ':')
        return -1;
    if (!(p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9') || p[2])
        return -1;
    m = (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
    if (h > 23 || m > 59)
        return -1;
    *minutes = h * 60 + m;
    return 0;
}

static int weekday_name(const char *s)
{
    static const char *const names[] = {"monday", "tuesday",  "wednesday", "thursday",
                                        "friday", "saturday", "sunday"};
    size_t n = strlen(s);
    if (n < 3)
        return 0;
    for (int i = 0; i < 7; i++)
        if (strncasecmp(s, names[i], n) == 0)
            return i + 1;
    return 0;
}

int pm_parse_local_date(const char *s, time_t now, char out[11])
{
    char today[11];
    pm_local_date(now, today);
    if (strcasecmp(s, "today") == 0) {
        memcpy(out, today, 11);
        return 0;
    }
    if (strcasecmp(s, "tomorrow") == 0) {
        pm_date_add(today, 1, out);
        return 0;
    }
    if (strcasecmp(s, "yesterday") == 0) {
        pm_date_add(today, -1, out);
        return 0;
    }
    int wd = weekday_name(s);
    if (wd) {
        int diff = (wd - pm_weekday(today) + 7) % 7;
        pm_date_add(today, diff, out);
        return 0;
    }
    int y, m, d;
    if (pm_parse_date(s, &y, &m, &d) != 0)
        return -1;
    memcpy(out, s, 10);
    out[10] = 0;
    return 0;
}

int pm_parse_local_time(const char *s, time_t now, time_t *out)
{
    char buf[64];
    if (strlen(s) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", s);
    char *sp = strrchr(buf, ' ');
    if (!sp)
        sp = strchr(buf, 'T');
    const char *day = "today", *hhmm = buf;
    if (sp) {
        *sp = 0;
        day = buf;
        hhmm = sp + 1;
    }
    char date[11];
    unsigned minutes;
    if (pm_parse_local_date(day, now, date) != 0 || pm_parse_hhmm(hhmm, &minutes) != 0)
        return -1;
    return pm_local_instant(date, minutes, out);
}
