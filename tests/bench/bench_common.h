/* What the benchmarks share: clocks and latency samples, machine facts, a real practiced
 * started through the integration-test harness, its GetStats figures and its CPU and memory
 * as the kernel sees them, and realistic patients made up from lists of names.
 *
 * Benchmarks print figures and never assert timings: the machine is shared and noisy. Each
 * figure is one line "RESULT <metric> <value> <unit>", each target one line
 * "VERDICT target <what>: met|not met (<measured>)", and everything else starts with '#'. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

/* ---- clocks and samples ---- */

uint64_t bs_now_us(void);
void bs_sleep_us(uint64_t us);

/* Latency samples in microseconds; one per thread, merged at the end. */
typedef struct bs_lat {
    uint32_t *v;
    size_t n, cap;
} bs_lat;

void bs_lat_add(bs_lat *l, uint64_t us);
void bs_lat_merge(bs_lat *into, const bs_lat *from);
/* Sorts the samples; call before bs_lat_pct. */
void bs_lat_sort(bs_lat *l);
/* The pct quantile (0.5, 0.99) of sorted samples, 0 when there are none. */
uint64_t bs_lat_pct(const bs_lat *l, double pct);
void bs_lat_free(bs_lat *l);

/* ---- output ---- */

void bs_result(const char *metric, double value, const char *unit);
void bs_verdict(const char *target, int met, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Machine facts as '#' lines: CPUs, kernel, memory, the filesystem holding path, and a
 * one-second sample of how busy the CPUs are with other processes. */
void bs_print_machine(const char *path);
/* '# load WHEN: ...' after a one-second sample of /proc/stat. */
void bs_print_load(const char *when);

/* ---- processes ---- */

/* VmRSS of pid in KiB (pid 0: this process), or -1. */
long bs_rss_kib(pid_t pid);
/* CPU seconds (user + system) used by pid so far. */
double bs_cpu_s(pid_t pid);

/* Busy CPU seconds of the whole machine so far (every process and the kernel: /proc/stat
 * less idle and iowait). Less the benchmark's and the server's own over a window, it is
 * what the neighbours used meanwhile. */
double bs_machine_busy_s(void);

/* Write I/O of a process (/proc/PID/io): bytes given to write calls, write calls, and
 * bytes the kernel sent to the disk. */
typedef struct bs_io {
    uint64_t wchar, syscw, write_bytes;
} bs_io;
void bs_io_read(pid_t pid, bs_io *io);

/* Per-thread CPU of a process, to tell the loop thread from the writer. */
#define BS_MAX_TASKS 64
typedef struct bs_tasks {
    int n;
    pid_t tid[BS_MAX_TASKS];
    double cpu_s[BS_MAX_TASKS];
} bs_tasks;
void bs_tasks_read(pid_t pid, bs_tasks *t);
/* Prints each thread's CPU between two readings as cores over secs, the busiest first. */
void bs_tasks_print(pid_t pid, const bs_tasks *before, const bs_tasks *after, double secs);

/* perf record -e cpu-clock (250 Hz, DWARF call graphs) on pid into out, until bs_perf_stop (for
 * --perf FILE); returns perf's pid or 0 when perf cannot run. */
pid_t bs_perf_start(pid_t pid, const char *out);
void bs_perf_stop(pid_t perf);

/* Raises RLIMIT_NOFILE to want (or the hard limit); returns the soft limit now in force. */
long bs_raise_nofile(long want);

/* ---- the server ---- */

/* practiced init in a new directory under parent (default /tmp), fast Argon2, then
 * practiced serve through the harness (ts_start). extra: more serve arguments. */
int bs_server_start(ts_server *s, const char *parent, const char *extra);
/* Stops the server (SIGTERM, then SIGKILL) and removes its directory and log. */
void bs_server_finish(ts_server *s);

/* The server's databases as LMDB sees them (read-only, beside the running server):
 * entries, depth and pages of each, per unit when per > 0 (e.g. per patient). */
void bs_print_db_stats(const ts_server *s, const char *per_what, double per);

/* GetStats through a manager's client; *out lives in arena a. */
int bs_get_stats(pc_client *mgr, pm_arena *a, Pm__Stats **out);
/* The OpStat named op, or NULL (an op with no requests yet is absent). */
const Pm__OpStat *bs_op(const Pm__Stats *st, const char *op);
/* Prints where the writer's time went between two GetStats win seconds apart: per commit,
 * running the requests and committing (page writes and syncs), and the share of the
 * window it was busy, as RESULT lines under prefix. */
void bs_writer_times(const char *prefix, const Pm__Stats *a, const Pm__Stats *b, double win);
/* Prints an op's server-side figures as RESULT lines under prefix. */
void bs_print_op(const char *prefix, const Pm__OpStat *o);

/* Logs in n receptionists named prefixNN (created by the manager); NULL on failure. */
pc_client **bs_desks(ts_server *s, pc_client *mgr, const char *prefix, int n);
void bs_desks_free(pc_client **c, int n);

/* ---- made-up patients ---- */

typedef struct bs_rng {
    uint64_t s;
} bs_rng;
void bs_rng_seed(bs_rng *r, uint64_t seed);
uint64_t bs_rand(bs_rng *r);
/* Uniform in [0, n). */
uint32_t bs_randn(bs_rng *r, uint32_t n);

extern const char *const bs_last_names[];
extern const size_t bs_n_last_names;
extern const char *const bs_first_names[];
extern const size_t bs_n_first_names;

/* A realistic patient for CreatePatient, allocated in a: names (accents, hyphens,
 * particles), date of birth, sex, one or two phones, usually an email, an address,
 * language, insurance, an emergency contact and sometimes a note. */
Pm__Patient *bs_make_patient(bs_rng *r, pm_arena *a);

/* CreatePatient; returns the pc_call result. */
int bs_create_patient(pc_client *c, pm_arena *a, Pm__Patient *p);

/* At most n bytes of the first k UTF-8 characters of s into out (NUL-terminated). */
void bs_utf8_prefix(const char *s, size_t k, char *out, size_t n);

#endif
