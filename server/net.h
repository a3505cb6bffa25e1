/* Connections: TCP over libuv, TLS through mbedtls with in-memory BIOs, frames in and
 * out. Knows no domain rules: complete frames go to dispatch_frame(), answers come back
 * as shared frames. */
#ifndef NET_H
#define NET_H

#include <mbedtls/ssl.h>
#include <stdint.h>
#include <uv.h>

#include "pm_buf.h"
#include "pm_frame.h"

/* An encoded frame (length prefix included), shared by every connection it is queued
 * on: an event is encoded once for all its subscribers. Reference counts change on the
 * loop thread only. */
typedef struct sframe {
    uint32_t refs;
    uint32_t len;
    uint64_t seq; /* events: their sequence number; 0 otherwise */
    uint8_t data[];
} sframe;

sframe *sframe_new(size_t len);
/* Packs env into a new shared frame (refs = 1). */
sframe *sframe_pack(const Pm__Envelope *env);
/* The same when the body's packed size (pm__envelope__get_packed_size) is known. */
sframe *sframe_pack_sized(const Pm__Envelope *env, size_t body);
void sframe_ref(sframe *f);
void sframe_unref(sframe *f);

struct outq_node;
struct session;
struct sub;
typedef struct conn conn;

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    mbedtls_ssl_context ssl;
    conn *prev, *next;
    uint64_t id;
    uint32_t refs; /* the connection itself + each request in flight */
    uint32_t inflight;
    unsigned closing : 1;
    unsigned handshake_done : 1;
    unsigned hello_done : 1;
    unsigned paused : 1;
    unsigned in_input : 1;
    unsigned handles_open : 2;
    unsigned yielded : 1;    /* used its share of this loop turn; goes on in the next */
    unsigned hs_started : 1; /* a handshake step has run (its ClientHello is answered) */

    /* input: ciphertext not yet taken by mbedtls, either in srv.rxbuf or in stash */
    const uint8_t *rx;
    size_t rx_len;
    pm_buf stash;
    pm_framer framer;
    pm_buf pt_rest;   /* plaintext not yet framed when it yielded */
    uint64_t turn_no; /* the loop turn turn_frames counts in */
    uint64_t turn_t0; /* when its first frame of that turn began (uv_hrtime) */
    uint32_t turn_frames;
    conn *next_ready; /* in the list of yielded connections */

    /* output: frames waiting for TLS, then ciphertext waiting for the socket */
    struct outq_node *outq_head, **outq_tail;
    uint32_t outq_off; /* bytes of the head frame already given to TLS */
    size_t outq_bytes;
    pm_buf tx;
    size_t tx_inflight;    /* ciphertext bytes in uv_write requests not yet done */
    uint64_t over_soft_ms; /* when the output queue went over the soft limit, or 0 */

    struct session *sess;
    struct sub *subs;
    /* A connection without a socket (fuzzing, in-process tools): its frames go here. */
    void (*sink)(void *ud, sframe *f);
    void *sink_ud;
    uint64_t last_seq; /* newest event sent to this connection */
    /* replaying the log after Subscribe.since: the next event to look at and the last to
     * send (0, 0: live); fed as the output drains, live events wait in the log meanwhile */
    uint64_t replay_next, replay_until;
    char peer[48];
    char device[64];
};

int net_listen(const char *host, int port);
/* A connection with no socket and no TLS, registered like any other: what it is sent goes
 * to sink. For fuzzing the dispatcher and for in-process tools. */
conn *conn_new_detached(void (*sink)(void *ud, sframe *f), void *ud);
/* Stops accepting; open connections carry on. */
void net_stop_listening(void);
/* The address actually bound (for --listen ...:0). */
int net_bound_port(void);

/* Queues a frame (taking a reference) and sends what the socket can take. */
void conn_send(conn *c, sframe *f);
/* Encodes and queues env. */
void conn_send_env(conn *c, const Pm__Envelope *env);
/* Sends an error answer for request id. */
void conn_send_error(conn *c, uint64_t id, int code, const char *message, const char *field);
/* Flushes what is queued, says goodbye (TLS close_notify) and closes. */
void conn_end(conn *c, const char *why);
/* Closes at once, dropping anything queued. */
void conn_abort(conn *c, const char *why);
void conn_ref(conn *c);
void conn_unref(conn *c);
/* A request of c began (dispatch) / finished: reading pauses while too many are in
 * flight and resumes when half of them are done. */
void conn_request_begin(conn *c);
/* A request of c finished. */
void conn_request_done(conn *c);
/* The connection's session was bound or unbound: frame limit and timers follow. */
void conn_session_changed(conn *c);
/* Once a second: cuts off connections that stayed over the soft output limit too long. */
void net_tick(void);
/* Ends every connection (shutdown). */
void net_end_all(const char *why);

#endif
