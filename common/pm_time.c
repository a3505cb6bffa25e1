#include "pm_time.h"

#include "pm_err.h"

#include <ctype.h>
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

int pm_tz_use(const char *name)
{
    if (!pm_tz_valid(name))
        return PM_E_CONFIG;
    setenv("TZ", name, 1);
    tzset();
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
