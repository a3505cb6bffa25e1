/* The integration-test harness: a real practiced, started from its binary on
 * 127.0.0.1 with a fresh data directory and its own certificates, driven through the
 * real client library. */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pc.h"

typedef struct ts_server {
    char dir[256];
    char ca[300];
    char log[300];
    char manager[33];
    char otp[64];
    char fingerprint[65];
    char password[64]; /* the manager's password after ts_manager() */
    int port;
    pid_t pid;
    const char *env; /* "NAME=value ..." put before practiced serve, e.g. LD_PRELOAD */
} ts_server;

/* Path of the practiced binary under test. */
const char *ts_practiced(void);
/* practiced init in a new temporary directory (fast Argon2 settings unless the extra
 * arguments give others). Returns 0 on success. */
int ts_init(ts_server *s, const char *extra_args);
/* practiced serve on 127.0.0.1, an ephemeral port; waits until it listens. Its stderr
 * goes to s->log. */
int ts_start(ts_server *s, const char *extra_args);
/* Stops the server (SIGTERM) and starts it again on the same port with extra_args, so that
 * clients reconnect to it by themselves. Returns the stop's exit status, or -1 when the
 * start failed. */
int ts_restart(ts_server *s, const char *extra_args);
/* Sends sig (0: none, just wait) and waits; returns the exit status (or 128+signal). */
int ts_stop(ts_server *s, int sig);
/* Removes the data directory. */
void ts_cleanup(ts_server *s);
/* A connected client (not logged in). */
pc_client *ts_client(ts_server *s);
/* Logs in as the manager, replacing the one-time password the first time. */
pc_client *ts_manager(ts_server *s);
/* Creates an account of role and logs a client in as it (its password set). */
pc_client *ts_user(ts_server *s, pc_client *manager, const char *name, int role);
/* Runs a shell command; returns its exit status. Output goes to out (if given). */
int ts_sh(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Whether the server log contains s. */
int ts_log_has(ts_server *s, const char *needle);
/* Entries in the practice's LMDB database name, read beside the running server (LMDB
 * readers may be other processes); -1 when it cannot be read. */
long ts_db_entries(const ts_server *s, const char *name);
/* ts_db_entries until it is want, for up to timeout_ms; the last count read. */
long ts_db_entries_wait(const ts_server *s, const char *name, long want, int timeout_ms);

/* Request helpers on a client; each returns the pc_call result. */
int ts_create_patient(pc_client *c, pm_arena *a, const char *first, const char *last,
                      const char *dob, const char *phone, Pm__Patient **out);
int ts_get_patient(pc_client *c, pm_arena *a, const char *mrn, Pm__Patient **out);

/* A raw TLS connection for sending arbitrary bytes (hostile-input tests). */
typedef struct ts_raw ts_raw;
ts_raw *ts_raw_open(ts_server *s);
int ts_raw_send(ts_raw *r, const void *p, size_t n);
/* Reads one frame's body (malloc'd) within timeout_ms: 1 = got one, 0 = the server
 * closed the connection, -1 = timeout, -2 = error. */
int ts_raw_frame(ts_raw *r, int timeout_ms, uint8_t **body, uint32_t *len);
/* Sends an Envelope as a frame. */
int ts_raw_env(ts_raw *r, const Pm__Envelope *e);
void ts_raw_close(ts_raw *r);

/* ---- helpers for the hardening suites ---- */

/* A raw TLS connection whose socket gets SO_RCVBUF = rcvbuf before it connects (a
 * small receive window makes a client that stops reading fill the server's queue
 * sooner). */
ts_raw *ts_raw_open_rcvbuf(ts_server *s, int rcvbuf);
/* The raw connection's socket, for writing bytes below TLS. */
int ts_raw_fd(ts_raw *r);
/* Hello, then (token != NULL) Resume with a 32-byte session token; 0 when both were
 * answered as they should be. */
int ts_raw_login(ts_raw *r, const uint8_t *token);

/* Latency figures from a set of samples, in microseconds. */
typedef struct ts_latency {
    size_t n;
    size_t errors;
    uint64_t p50_us, p99_us, max_us;
} ts_latency;
/* Sorts samples in place and fills out. */
void ts_latency_of(uint64_t *samples, size_t n, ts_latency *out);

/* A control client: a thread that pings, then searches patients for `search` (if given),
 * over and over with pause_ms between requests, timing every answer, until stopped. It
 * takes c (a logged-in manager's client; nobody else may use it meanwhile). */
typedef struct ts_control ts_control;
ts_control *ts_control_start(pc_client *c, const char *search, int pause_ms);
/* The figures since the previous sample (or the start), printed as "label: ..." and
 * reset. */
void ts_control_sample(ts_control *t, const char *label, ts_latency *out);
/* Stops the thread and prints the figures for its whole life; the client is the
 * caller's again. */
void ts_control_stop(ts_control *t, const char *label, ts_latency *out);

/* ---- patient flow and the waiting-room display ---- */

/* One FlowStep (version 0: whatever it is now; room for TO_ROOM); *out the appointment. */
int ts_flow_step(pc_client *c, pm_arena *a, uint64_t appt, uint32_t version, Pm__FlowAction action,
                 const char *room, Pm__Appointment **out);
/* A SEE step naming who sees them (a walk-in for anyone; "" or NULL: nobody named). */
int ts_flow_see(pc_client *c, pm_arena *a, uint64_t appt, const char *provider,
                Pm__Appointment **out);
/* A walk-in (provider NULL or "": whoever is free first). */
int ts_walk_in(pc_client *c, pm_arena *a, const char *mrn, const char *location,
               const char *visit_type, const char *provider, const char *notes,
               Pm__Appointment **out);
/* CloseDay (date NULL: the server's default, yesterday). */
int ts_close_day(pc_client *c, pm_arena *a, const char *location, const char *date, int confirm,
                 Pm__AppointmentList **out);
/* GetFlow (date NULL: today). */
int ts_get_flow(pc_client *c, pm_arena *a, const char *location, const char *date, Pm__Flow **out);
int ts_get_board(pc_client *c, pm_arena *a, const char *location, Pm__BoardState **out);
/* Creates a display device for location (as the manager) and logs a new client in with
 * its secret; NULL on failure. */
pc_client *ts_display(ts_server *s, pc_client *manager, const char *name, const char *location);

/* On a raw connection that is logged in: Subscribe{topics, since} with id, then frames until
 * its answer (events before it are dropped). Returns 0 with *last_seq and *replayed, the
 * server's error code (negative PM_E_*), or 1 when the connection failed. */
int ts_raw_subscribe(ts_raw *r, const char *const *topics, size_t n, uint64_t since, uint64_t id,
                     uint64_t *last_seq, uint32_t *replayed);
/* The next frame decoded into a within timeout_ms: 1, 0 on close, -1 timeout, -2 error or
 * garbage. */
int ts_raw_next(ts_raw *r, pm_arena *a, int timeout_ms, Pm__Envelope **out);
#endif
