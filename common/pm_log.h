/* Logging to stderr: one line per call, one write(2) per line, so lines from the loop and
 * the writer thread never interleave. */
#ifndef PM_LOG_H
#define PM_LOG_H

enum pm_log_level { PM_LOG_ERROR = 0, PM_LOG_WARN, PM_LOG_INFO, PM_LOG_DEBUG };

void pm_log_set_level(enum pm_log_level level);
/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int pm_log_parse_level(const char *s);
void pm_log(enum pm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pm_error(...) pm_log(PM_LOG_ERROR, __VA_ARGS__)
#define pm_warn(...)  pm_log(PM_LOG_WARN, __VA_ARGS__)
#define pm_info(...)  pm_log(PM_LOG_INFO, __VA_ARGS__)
#define pm_debug(...) pm_log(PM_LOG_DEBUG, __VA_ARGS__)

#endif
