/* libpractice: the client side of the practiced protocol.
 *
 * A pc_client is one TLS connection to one server, trusting only the practice's CA and
 * checking the server's name. Requests are blocking (pc_call); events pushed by the
 * server are queued and handed to a callback from pc_poll, so a live screen can wait on
 * pc_fd() beside its keyboard. When the connection breaks, the next call reconnects
 * (resuming the TLS session and the login session) and resends the request with the
 * same request key, so the server does the work once. Subscriptions are renewed from
 * the last event seen. Not thread-safe: one client per thread. */
#ifndef PC_H
#define PC_H

#include <stddef.h>
#include <stdint.h>

#include "pm_arena.h"
#include "practiced.pb-c.h"

typedef struct pc_client pc_client;

typedef struct pc_opts {
    const char *host;        /* name or address, checked against the certificate */
    int port;                /* default 7440 */
    const char *ca_file;     /* the practice CA (PEM) */
    const char *client_name; /* sent in Hello */
    int timeout_ms;          /* per request; default 30000 */
    int connect_timeout_ms;  /* default 10000 */
    int retries;             /* reconnect-and-resend attempts per call; default 2 */
} pc_opts;

/* An event callback: env is an Event or a SessionLocked; valid during the call. */
typedef void (*pc_event_cb)(void *ud, const Pm__Envelope *env);

pc_client *pc_new(const pc_opts *opts);
void pc_free(pc_client *c);

/* Connects, says Hello, and resumes the session if the client holds a token. */
int pc_connect(pc_client *c);
void pc_close(pc_client *c);
int pc_fd(const pc_client *c);

/* Whether rc is the connection's failing (closed, reset, timed out, refused, TLS): the
 * request may be tried again once the connection is back. */
int pc_transport_error(int rc);

/* The last error's description: the server's message, or what failed locally. For
 * INVALID_ARGUMENT, pc_last_error_detail() has every field at fault. */
const char *pc_last_error(const pc_client *c);
const Pm__Error *pc_last_error_detail(const pc_client *c);
const char *pc_practice_name(const pc_client *c);
const char *pc_timezone(const pc_client *c);
/* How many times faster than real time the server's clock runs (1, or a demo's
 * --clock-speed), as said in its HelloOk. */
unsigned pc_clock_speed(const pc_client *c);

/* Sends req (its id and request key are set here) and waits for the answer, which is
 * decoded into arena a. Returns PM_OK with *resp set, or an error code: a server error
 * (with *resp the Error envelope) or a local one (PM_E_CONNECT, PM_E_TLS, PM_E_CERT,
 * PM_E_TIMEOUT, PM_E_CLOSED). */
int pc_call(pc_client *c, Pm__Envelope *req, pm_arena *a, Pm__Envelope **resp);

/* Log in with a password; on success the client holds the session token. */
int pc_login(pc_client *c, const char *user, const char *password, const char *device, pm_arena *a,
             Pm__LoginOk **out);
/* Use a token from an earlier login (e.g. saved by the CLI). */
void pc_set_token(pc_client *c, const uint8_t *token, size_t len);
/* The current token (32 bytes) or NULL. */
const uint8_t *pc_token(const pc_client *c);
void pc_set_device(pc_client *c, const char *device);

/* Subscribes to topics from event `since` (0: only new ones). Replayed and live events
 * then go to the callback; after a reconnect the client resubscribes from the last
 * event it saw. */
int pc_subscribe(pc_client *c, const char *const *topics, size_t n, uint64_t since, pm_arena *a,
                 Pm__Subscribed **out);
void pc_on_event(pc_client *c, pc_event_cb cb, void *ud);
/* Waits up to timeout_ms (0: just look, -1: forever) for events and hands each to the
 * callback. Returns the number delivered, or an error (the connection broke: call
 * pc_reconnect, or any pc_call, to carry on). */
int pc_poll(pc_client *c, int timeout_ms);
/* Whether pc_poll has something to hand over without reading the socket: an event that
 * came during a call, or data already read. A program waiting on pc_fd() with epoll
 * (level-triggered) calls pc_poll(c, 0) while this says so, instead of until it returns 0,
 * and saves a read of an empty socket per wake-up. */
int pc_pending(const pc_client *c);
/* Reconnects now, resubscribing where the stream left off. */
int pc_reconnect(pc_client *c);
uint64_t pc_last_seq(const pc_client *c);
/* Whether the library renews the subscription when it connects again: pc_subscribe
 * succeeded or was cut off, and no reconnect since had it refused (RELOAD, say). After a
 * successful pc_connect or pc_reconnect, whether events flow; if not, subscribe again. */
int pc_subscribed(const pc_client *c);

/* Fetches the server's certificate chain without trusting it and, if one certificate in
 * it has SHA-256 fingerprint fp_hex and the server's certificate verifies against it for
 * host, writes that CA to ca_out (PEM). For enrolment: 'practice connect --fingerprint'. */
int pc_fetch_ca(const char *host, int port, const char *fp_hex, const char *ca_out, char *err,
                size_t errlen);

/* Protocol helpers. */
Pm__Envelope *pc_env(pm_arena *a, Pm__Envelope__BodyCase body);

#endif
