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
/* Strict YYYY-MM-DD with a real calendar date; 0 on success. */
int pm_parse_date(const char *s, int *y, int *m, int *d);
/* A point in time as people type it, in the local zone: "now", "today", "yesterday",
 * "YYYY-MM-DD", "YYYY-MM-DD HH:MM", or a span ago: "90m", "2h", "7d". 0 on success. */
int pm_parse_when(const char *s, time_t now, time_t *out);
/* "YYYY-MM-DD HH:MM:SS" in the local zone. */
void pm_format_local(time_t t, char *buf, size_t n);
/* "YYYY-MM-DDTHH:MM:SSZ". */
void pm_format_utc(time_t t, char *buf, size_t n);

#endif
