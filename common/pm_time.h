/* Time: stored times are UTC seconds; "today" and dates people type are in the practice
 * time zone, which a process selects once with pm_tz_use; timeouts use the monotonic
 * clock. */
#ifndef PM_TIME_H
#define PM_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

uint64_t pm_mono_ms(void);
uint64_t pm_mono_us(void);
uint64_t pm_wall_s(void);
/* Whether name is an installed IANA zone such as "Europe/Paris". */
int pm_tz_valid(const char *name);
/* Makes name the zone of localtime_r/mktime for this process. */
int pm_tz_use(const char *name);
/* Sets TZ as given, unchecked ("UTC0"); the way to change the zone in a process, since
 * the local-time functions below remember recent days. */
void pm_tz_set(const char *tz);
/* Strict YYYY-MM-DD with a real calendar date; 0 on success. */
int pm_parse_date(const char *s, int *y, int *m, int *d);
/* A point in time as people type it, in the local zone: "now", "today", "yesterday",
 * "YYYY-MM-DD", "YYYY-MM-DD HH:MM", or a span ago: "90m", "2h", "7d". 0 on success. */
int pm_parse_when(const char *s, time_t now, time_t *out);
/* A moment as a receptionist types it, in the local zone: "today 14:30", "tomorrow 9:00",
 * "2026-12-01 09:30", "mon 10:00" (the coming Monday; today if it is Monday), "14:30"
 * (today). 0 on success. */
int pm_parse_local_time(const char *s, time_t now, time_t *out);
/* A local date as people type it: "today", "tomorrow", "yesterday", "mon".."sun" (the
 * coming one), "YYYY-MM-DD". Writes YYYY-MM-DD into out[11]; 0 on success. */
int pm_parse_local_date(const char *s, time_t now, char out[11]);
/* Parses "H:MM" or "HH:MM" into minutes from midnight; 0 on success. */
int pm_parse_hhmm(const char *s, unsigned *minutes);

/* Calendar arithmetic in the local zone, right across daylight-saving changes. */
/* The instant of minutes past local midnight on date (YYYY-MM-DD); a time that does not
 * exist that day (the spring gap) moves forward past the gap. */
int pm_local_instant(const char *date, unsigned minutes, time_t *out);
/* The local date of an instant, YYYY-MM-DD. */
void pm_local_date(time_t t, char out[11]);
/* Minutes past local midnight of an instant. */
unsigned pm_local_minutes(time_t t);
/* 1 (Monday) to 7 (Sunday) for a date. */
int pm_weekday(const char *date);
/* date + days, YYYY-MM-DD. */
void pm_date_add(const char *date, int days, char out[11]);
/* Days from date a to date b (b - a). */
int pm_date_diff(const char *a, const char *b);

/* "YYYY-MM-DD HH:MM:SS" in the local zone. */
void pm_format_local(time_t t, char *buf, size_t n);
/* "YYYY-MM-DDTHH:MM:SSZ". */
void pm_format_utc(time_t t, char *buf, size_t n);

#endif
