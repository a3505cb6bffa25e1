/* Many TLS client connections on one libuv loop, for the load generators (bench_load,
 * bench_storm, bench_flood).
 *
 * Why not the pc library: pc_call blocks its thread until the answer, so a thousand desks
 * and screens would need a thousand threads, and no request can be pipelined. Here one
 * thread holds every connection of a loop, sends as many requests as it likes and times each
 * answer. The protocol steps are the client library's, in its order, with the project's own
 * pieces: the TLS policy of common/pm_tls (TLS 1.2, the practice CA, the name checked,
 * session tickets kept and offered again on the next connect, as pc_connect does), the
 * framing of common/pm_frame, Hello, Resume with a session token, Subscribe from the last
 * event seen, then one read to show the screen (GetBoard, GetFlow), as the board and the desk
 * do after a reconnect. Requests carry a request key as pc_call's do.
 *
 * Not thread-safe: a bu_ctx and its connections belong to the thread running its loop. */
#ifndef BENCH_UV_H
#define BENCH_UV_H

#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <uv.h>

#include "pm_arena.h"
#include "pm_buf.h"
#include "pm_frame.h"
#include "pm_tls.h"
#include "practiced.pb-c.h"

#define BU_RING 1024 /* requests in flight on one connection, at most */

typedef struct bu_ctx {
    uv_loop_t *loop;
    pm_rng rng;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    struct sockaddr_in addr;
    uint8_t pt[16384]; /* plaintext out of mbedtls_ssl_read */
    char rbuf[65536];  /* ciphertext from the socket */
    uint64_t key_ctr;
    /* counters over every connection of the context */
    uint64_t handshakes, full_handshakes; /* full: the server's certificate was verified */
    uint64_t connects, connect_failures;
} bu_ctx;

/* Loads the practice CA and the client TLS policy; connections go to 127.0.0.1:port. */
int bu_ctx_init(bu_ctx *x, uv_loop_t *loop, const char *ca_file, int port);
void bu_ctx_free(bu_ctx *x);
/* Points later connects at another port (a restarted server keeps its own). */
void bu_ctx_port(bu_ctx *x, int port);

typedef struct bu_conn bu_conn;

enum bu_state {
    BU_IDLE,       /* never connected, or closed */
    BU_CONNECTING, /* TCP */
    BU_HANDSHAKE,  /* TLS */
    BU_HELLO,
    BU_RESUME,
    BU_SUBSCRIBE,
    BU_LOAD, /* the read a screen makes once it is back */
    BU_READY,
    BU_CLOSING,
};

typedef struct bu_ops {
    /* Logged in, subscribed and loaded: requests may be sent. */
    void (*ready)(bu_conn *c);
    /* The connection is closed (a connect that failed, or one that broke); why says what
     * happened. Requests in flight are dropped (c->lost counts them). bu_connect may be
     * called again from here. */
    void (*down)(bu_conn *c, const char *why);
    /* The answer to a request sent with bu_send (an Error envelope included). */
    void (*answer)(bu_conn *c, uint64_t tag, const Pm__Envelope *resp, uint64_t sent_us,
                   uint64_t now_us);
    /* A pushed Event (or SessionLocked). May be NULL. */
    void (*event)(bu_conn *c, const Pm__Envelope *env, uint64_t now_us);
} bu_ops;

struct bu_conn {
    bu_ctx *x;
    const bu_ops *ops;
    void *ud;
    int state;
    uv_tcp_t tcp;
    uv_connect_t creq;
    mbedtls_ssl_context ssl;
    int ssl_ready;
    mbedtls_ssl_session saved;
    int have_saved;
    pm_framer fr;
    pm_buf tx; /* ciphertext mbedtls wrote, not yet handed to the socket */
    const uint8_t *rx;
    size_t rx_len;

    /* what the connection does once TLS is up */
    uint8_t token[32];
    int have_token;
    const char *device;
    char **topics;
    size_t ntopics;
    int subscribed; /* the subscription was accepted once: renewed on every reconnect */
    uint64_t last_seq;
    Pm__Envelope__BodyCase load; /* 0, or GET_BOARD / GET_FLOW after subscribing */
    const char *load_location;

    uint64_t next_id;
    struct {
        uint64_t id, tag, t;
    } pend[BU_RING];
    int inflight;

    /* times of the latest connect (monotonic microseconds) */
    uint64_t t_start, t_tcp, t_tls, t_ready;
    int full_handshake; /* the latest handshake verified the certificate (no resumption) */
    uint64_t lost;      /* requests dropped by closes */
    char why[160];
};

/* Sets up a connection (not connected). */
void bu_conn_init(bu_conn *c, bu_ctx *x, const bu_ops *ops, void *ud);
/* The session token to Resume with after Hello (and on every reconnect). */
void bu_conn_token(bu_conn *c, const uint8_t *token, const char *device);
/* Topics to subscribe to after Resume; since 0 the first time, then the last event seen. */
void bu_conn_topics(bu_conn *c, const char *const *topics, size_t n);
/* A read made once subscribed, before ready (GetBoard or GetFlow of location). */
void bu_conn_load(bu_conn *c, Pm__Envelope__BodyCase body, const char *location);
/* Starts connecting; ops->ready or ops->down follows. */
int bu_connect(bu_conn *c);
/* Sends a request (its id and request key are set here); tag comes back with the answer.
 * Only when ready and fewer than BU_RING are in flight; returns 0 when sent. */
int bu_send(bu_conn *c, Pm__Envelope *e, uint64_t tag);
/* Closes the connection (ops->down follows). */
void bu_close(bu_conn *c, const char *why);
/* Frees what the connection holds; only when it is idle (closed). */
void bu_conn_free(bu_conn *c);

uint64_t bu_now_us(void);

/* How long a screen waits before its next reconnect, as the real ones do: a desk
 * (client/desk_net.c) 250 ms, doubling to 8 s, not jittered; a board (client/board.c)
 * 500 ms, doubling to 30 s, jittered over the upper half (rnd: any random number).
 * *backoff_ms carries the state (0 at first); was_up starts it again from the first
 * delay (the connection that broke had been up). */
uint64_t bu_backoff_ms(int desk, int was_up, uint64_t *backoff_ms, uint32_t rnd);

/* ---- helpers the benchmarks share ---- */

/* CPU time of the calling thread, in seconds. */
double bu_thread_cpu_s(void);

/* The whole machine's busy CPU time (/proc/stat: everything but idle and iowait), seconds. */
double bu_machine_busy_s(void);

/* Prints RESULT lines p50/p99/p999/max (ms) and count of sorted samples under prefix. */
struct bs_lat;
void bu_print_lat(const char *prefix, struct bs_lat *l, double secs);

#endif
