#include "net.h"

#include "auth.h"
#include "dispatch.h"
#include "events.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_time.h"
#include "server.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define PUMP_LIMIT   (256 * 1024) /* ciphertext in flight before we stop encrypting more */
#define STASH_MAX    (1u << 20)
#define TX_MAX       (PUMP_LIMIT + 64 * 1024)
#define END_GRACE_MS 3000

struct outq_node {
    struct outq_node *next;
    sframe *f;
};

struct wreq {
    uv_write_t req;
    conn *c;
    size_t len;
    uint8_t data[];
};

/* ---- shared frames ---- */

sframe *sframe_new(size_t len)
{
    if (len > UINT32_MAX)
        return NULL;
    sframe *f = malloc(sizeof *f + len);
    if (!f)
        return NULL;
    f->refs = 1;
    f->len = (uint32_t)len;
    f->seq = 0;
    return f;
}

sframe *sframe_pack(const Pm__Envelope *env)
{
    return sframe_pack_sized(env, pm__envelope__get_packed_size(env));
}

sframe *sframe_pack_sized(const Pm__Envelope *env, size_t body)
{
    sframe *f = sframe_new(PM_FRAME_HDR + body);
    if (!f)
        return NULL;
    f->data[0] = (uint8_t)(body >> 24);
    f->data[1] = (uint8_t)(body >> 16);
    f->data[2] = (uint8_t)(body >> 8);
    f->data[3] = (uint8_t)body;
    pm__envelope__pack(env, f->data + PM_FRAME_HDR);
    return f;
}

void sframe_ref(sframe *f)
{
    f->refs++;
}

void sframe_unref(sframe *f)
{
    if (f && --f->refs == 0)
        free(f);
}

/* ---- TLS BIO: mbedtls reads ciphertext from c->rx and writes it to c->tx ---- */

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    conn *c = ctx;
    if (c->rx_len == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = len < c->rx_len ? len : c->rx_len;
    memcpy(buf, c->rx, n);
    c->rx += n;
    c->rx_len -= n;
    return (int)n;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    conn *c = ctx;
    if (pm_buf_append(&c->tx, buf, len) != PM_OK)
        return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    return (int)len;
}

/* ---- lifetime ---- */

void conn_ref(conn *c)
{
    c->refs++;
}

static uint64_t conns_allocated; /* freed in conn_free: what the heap still holds */

static void conn_free(conn *c)
{
    conns_allocated--;
    struct outq_node *n = c->outq_head;
    while (n) {
        struct outq_node *next = n->next;
        sframe_unref(n->f);
        free(n);
        n = next;
    }
    mbedtls_ssl_free(&c->ssl);
    pm_framer_free(&c->framer);
    pm_buf_free(&c->stash);
    pm_buf_free(&c->pt_rest);
    pm_buf_free(&c->tx);
    free(c);
}

void conn_unref(conn *c)
{
    if (--c->refs == 0)
        conn_free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (--c->handles_open == 0)
        conn_unref(c);
}

/* Takes the connection out of everything that could still send to it or count it. */
static void conn_detach(conn *c, const char *why)
{
    c->closing = 1;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    srv.nconns--;
    events_conn_closed(c);
    auth_conn_closed(c);
    pm_info("conn %llu %s: closed (%s)", (unsigned long long)c->id, c->peer, why);
}

static void close_handles(conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

void conn_abort(conn *c, const char *why)
{
    if (!c->closing)
        conn_detach(c, why);
    close_handles(c);
}

static void on_end_timeout(uv_timer_t *t)
{
    close_handles(t->data);
}

static void on_shutdown(uv_shutdown_t *sreq, int status)
{
    (void)status;
    close_handles(sreq->data);
}

static void conn_pump(conn *c);
static void conn_flush(conn *c);
static void turn_close(void);
static void check_output(conn *c);

void conn_end(conn *c, const char *why)
{
    if (c->closing)
        return;
    conn_detach(c, why);
    uv_read_stop((uv_stream_t *)&c->tcp);
    /* What is queued still goes out (an error frame, answers to finished requests). */
    while (c->outq_head && !uv_is_closing((uv_handle_t *)&c->tcp)) {
        size_t before = c->outq_bytes;
        conn_pump(c);
        if (c->outq_bytes == before)
            break;
    }
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (c->handshake_done)
        mbedtls_ssl_close_notify(&c->ssl);
    conn_flush(c);
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        close_handles(c);
        return;
    }
    uv_timer_stop(&c->timer);
    uv_timer_start(&c->timer, on_end_timeout, END_GRACE_MS, 0);
}

void net_end_all(const char *why)
{
    while (srv.conns)
        conn_end(srv.conns, why);
    turn_close();
}

/* ---- output ---- */

static void on_write(uv_write_t *wr, int status)
{
    struct wreq *w = (struct wreq *)wr;
    conn *c = w->c;
    c->tx_inflight -= w->len;
    free(w);
    if (status < 0) {
        if (status != UV_ECANCELED)
            conn_abort(c, uv_strerror(status));
        return;
    }
    if (!c->closing) {
        conn_pump(c);
        if (!c->closing && c->over_soft_ms)
            check_output(c);
        if (!c->closing && c->replay_next)
            events_replay_pump(c);
    }
}

static void conn_flush(conn *c)
{
    if (c->tx.len == 0)
        return;
    if (uv_is_closing((uv_handle_t *)&c->tcp)) {
        pm_buf_free(&c->tx);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)c->tx.data, (unsigned)c->tx.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN || n == UV_ENOSYS)
        n = 0;
    if (n < 0) {
        pm_buf_free(&c->tx);
        conn_abort(c, uv_strerror(n));
        return;
    }
    size_t rest = c->tx.len - (size_t)n;
    if (rest) {
        struct wreq *w = malloc(sizeof *w + rest);
        if (!w) {
            pm_buf_free(&c->tx);
            conn_abort(c, "out of memory");
            return;
        }
        memcpy(w->data, c->tx.data + n, rest);
        w->c = c;
        w->len = rest;
        uv_buf_t wb = uv_buf_init((char *)w->data, (unsigned)rest);
        int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &wb, 1, on_write);
        if (rc) {
            free(w);
            pm_buf_free(&c->tx);
            conn_abort(c, uv_strerror(rc));
            return;
        }
        c->tx_inflight += rest;
    }
    /* An idle connection keeps no buffers: mbedtls's own are the floor. */
    pm_buf_free(&c->tx);
}

static void conn_pump(conn *c)
{
    while (c->outq_head && c->tx.len + c->tx_inflight < PUMP_LIMIT) {
        struct outq_node *node = c->outq_head;
        sframe *f = node->f;
        size_t left = f->len - c->outq_off;
        int n = mbedtls_ssl_write(&c->ssl, f->data + c->outq_off, left);
        if (n < 0) {
            char err[128];
            pm_tls_strerror(n, err, sizeof err);
            conn_abort(c, err);
            return;
        }
        c->outq_off += (uint32_t)n;
        c->outq_bytes -= (size_t)n;
        if (c->outq_off == f->len) {
            c->outq_head = node->next;
            if (!c->outq_head)
                c->outq_tail = &c->outq_head;
            c->outq_off = 0;
            sframe_unref(f);
            free(node);
        }
    }
    conn_flush(c);
}

/* A subscriber that falls behind is allowed a burst: over the soft limit for up to
 * out_soft_s seconds, never over the hard limit. Past either, it is cut off; the others
 * never wait for it. */
static void check_output(conn *c)
{
    size_t queued = c->outq_bytes + c->tx_inflight;
    if (queued <= srv.cfg.out_soft_limit) {
        c->over_soft_ms = 0;
    } else if (!c->over_soft_ms) {
        c->over_soft_ms = pm_mono_ms();
    } else if (pm_mono_ms() - c->over_soft_ms > (uint64_t)srv.cfg.out_soft_s * 1000) {
        pm_warn("conn %llu %s: over %zu bytes of output for %u s, client not keeping up",
                (unsigned long long)c->id, c->peer, srv.cfg.out_soft_limit, srv.cfg.out_soft_s);
        conn_abort(c, "too slow");
    }
}

/* Each connection's TLS buffers (~33 KiB) come from the heap; once most of a crowd has
 * gone, the allocator is asked to give the free pages back, so a server that held 10,000
 * screens for an hour does not keep their 350 MB after they left. */
#define TRIM_MIN_PEAK 256

/* Handing the freed pages back walks the whole heap: on the thread pool, not the loop. */
static struct {
    uv_work_t w;
    int busy;
} trim;

static void trim_run(uv_work_t *w)
{
    (void)w;
    malloc_trim(0);
}

static void trim_done(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
    trim.busy = 0;
}

void net_tick(void)
{
    static uint64_t peak;
    for (conn *c = srv.conns, *next; c; c = next) {
        next = c->next;
        if (c->over_soft_ms)
            check_output(c);
    }
    /* counted where the memory is freed: a closing connection keeps its buffers for up to
     * END_GRACE_MS after it left srv.nconns */
    if (conns_allocated > peak)
        peak = conns_allocated;
    if (peak >= TRIM_MIN_PEAK && conns_allocated < peak / 2 && !trim.busy &&
        uv_queue_work(srv.loop, &trim.w, trim_run, trim_done) == 0) {
        trim.busy = 1;
        peak = conns_allocated;
    }
}

void conn_send(conn *c, sframe *f)
{
    if (c->closing || !f)
        return;
    if (c->sink) {
        c->sink(c->sink_ud, f);
        return;
    }
    if (c->outq_bytes + c->tx_inflight + f->len > srv.cfg.out_limit) {
        pm_warn("conn %llu %s: output over %zu bytes, client not reading",
                (unsigned long long)c->id, c->peer, srv.cfg.out_limit);
        conn_abort(c, "too slow");
        return;
    }
    uint32_t off = 0;
    if (!c->outq_head && c->tx.len + c->tx_inflight < PUMP_LIMIT) {
        /* Nothing waiting (a live subscriber, most answers): straight to TLS and the
         * socket, with no queue entry to make and free. */
        int n = mbedtls_ssl_write(&c->ssl, f->data, f->len);
        if (n < 0) {
            char err[128];
            pm_tls_strerror(n, err, sizeof err);
            conn_abort(c, err);
            return;
        }
        off = (uint32_t)n;
        if (off == f->len) {
            conn_flush(c);
            if (!c->closing)
                check_output(c);
            return;
        }
    }
    struct outq_node *node = malloc(sizeof *node);
    if (!node) {
        conn_abort(c, "out of memory");
        return;
    }
    sframe_ref(f);
    node->f = f;
    node->next = NULL;
    *c->outq_tail = node;
    c->outq_tail = &node->next;
    c->outq_bytes += f->len - off;
    if (off)
        c->outq_off = off; /* alone in the queue: the part TLS took already */
    conn_pump(c);
    if (!c->closing)
        check_output(c);
}

void conn_send_env(conn *c, const Pm__Envelope *env)
{
    sframe *f = sframe_pack(env);
    if (!f) {
        conn_abort(c, "out of memory");
        return;
    }
    conn_send(c, f);
    sframe_unref(f);
}

void conn_send_error(conn *c, uint64_t id, int code, const char *message, const char *field)
{
    Pm__Envelope env = PM__ENVELOPE__INIT;
    Pm__Error err = PM__ERROR__INIT;
    env.id = id;
    env.body_case = PM__ENVELOPE__BODY_ERROR;
    env.error = &err;
    err.code = pm_err_is_wire(code) ? (Pm__ErrorCode)-code : PM__ERROR_CODE__INTERNAL;
    err.message = (char *)(message ? message : pm_strerror(code));
    if (field)
        err.field = (char *)field;
    conn_send_env(c, &env);
}

/* ---- input ---- */

/* Fairness: in one turn of the loop a connection dispatches at most TURN_FRAMES frames
 * or TURN_NS of work, then yields: what it sent stays queued (ciphertext in the socket
 * or its stash, plaintext in pt_rest) and it carries on in the next turn, after every
 * other connection had its share. One client flooding requests cannot hold the loop. */
#define TURN_FRAMES 32
#define TURN_NS     (1000 * 1000)
/* TLS handshakes, all connections together, get about this much of a turn: a full one
 * costs ~2.5 ms here (ECDHE and a signature), so 2,000 clients reconnecting without
 * tickets would otherwise hold the loop for seconds in one turn. The rest wait, in
 * order, for the next turns; established connections are served in every turn. */
#define TURN_HANDSHAKE_NS (2 * 1000 * 1000)

static struct {
    int init;
    uv_check_t check; /* after each poll: a new turn */
    uv_idle_t idle;   /* while some connection yielded: resume them, poll without waiting */
    uint64_t no;
    conn *head, **tail;    /* yielded: resumed in the next turn, all of them */
    conn *hs, **hs_tail;   /* handshakes waiting for handshake time, oldest first */
    conn *hs2, **hs2_tail; /* the same, past their ClientHello: served before new ones, so
                            * that one already paid for finishes before its timeout */
    uint64_t hs_no, hs_ns; /* the turn the handshake time hs_ns was spent in */
} turn;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_input(conn *c);
static void conn_keep_rx(conn *c);

static void on_turn_check(uv_check_t *h)
{
    (void)h;
    turn.no++;
}

static void conn_resume(conn *c)
{
    c->next_ready = NULL;
    c->yielded = 0;
    if (!c->closing && !srv.stopping) {
        if (!c->paused && !c->sink)
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        conn_input(c);
        if (!c->closing)
            conn_keep_rx(c);
    }
    conn_unref(c);
}

/* Whether this turn has handshake time left. */
static int handshake_time_left(void)
{
    if (turn.hs_no != turn.no) {
        turn.hs_no = turn.no;
        turn.hs_ns = 0;
    }
    return turn.hs_ns < TURN_HANDSHAKE_NS;
}

static void on_turn_idle(uv_idle_t *h)
{
    conn *list = turn.head;
    turn.head = NULL;
    turn.tail = &turn.head;
    while (list) {
        conn *c = list;
        list = c->next_ready;
        conn_resume(c);
    }
    while (turn.hs2 && handshake_time_left()) {
        conn *c = turn.hs2;
        turn.hs2 = c->next_ready;
        if (!turn.hs2)
            turn.hs2_tail = &turn.hs2;
        conn_resume(c);
    }
    while (!turn.hs2 && turn.hs && handshake_time_left()) {
        conn *c = turn.hs;
        turn.hs = c->next_ready;
        if (!turn.hs)
            turn.hs_tail = &turn.hs;
        conn_resume(c);
    }
    if (!turn.head && !turn.hs && !turn.hs2)
        uv_idle_stop(h);
}

static void turn_init(void)
{
    if (turn.init)
        return;
    turn.init = 1;
    turn.tail = &turn.head;
    turn.hs_tail = &turn.hs;
    turn.hs2_tail = &turn.hs2;
    uv_check_init(srv.loop, &turn.check);
    uv_check_start(&turn.check, on_turn_check);
    uv_unref((uv_handle_t *)&turn.check);
    uv_idle_init(srv.loop, &turn.idle);
}

/* Lets go of the connections waiting on a queue (they are closing: the server stops). */
static void turn_release(conn **head, conn ***tail)
{
    while (*head) {
        conn *c = *head;
        *head = c->next_ready;
        c->next_ready = NULL;
        c->yielded = 0;
        conn_unref(c);
    }
    *tail = head;
}

static void turn_close(void)
{
    if (!turn.init || uv_is_closing((uv_handle_t *)&turn.idle))
        return;
    turn_release(&turn.head, &turn.tail);
    turn_release(&turn.hs, &turn.hs_tail);
    turn_release(&turn.hs2, &turn.hs2_tail);
    uv_close((uv_handle_t *)&turn.check, NULL);
    uv_close((uv_handle_t *)&turn.idle, NULL);
}

/* c stops reading and waits on a queue of on_turn_idle's: the yielded (q = &turn.tail) or
 * the handshakes (&turn.hs_tail, &turn.hs2_tail). */
static void conn_defer(conn *c, conn ***q)
{
    turn_init();
    c->yielded = 1;
    if (!c->sink)
        uv_read_stop((uv_stream_t *)&c->tcp);
    conn_ref(c);
    **q = c;
    *q = &c->next_ready;
    uv_idle_start(&turn.idle, on_turn_idle);
}

/* Whether c has had its share of this turn; if so it stops reading, keeps rest[0..n)
 * and waits for the next. */
static int conn_yield(conn *c, const uint8_t *rest, size_t n)
{
    uint64_t now = uv_hrtime();
    if (c->turn_no != turn.no) {
        c->turn_no = turn.no;
        c->turn_frames = 0;
        c->turn_t0 = now;
    }
    if (++c->turn_frames < TURN_FRAMES && now - c->turn_t0 < TURN_NS)
        return 0;
    if (n && pm_buf_append(&c->pt_rest, rest, n) != PM_OK) {
        conn_abort(c, "out of memory");
        return 1;
    }
    conn_defer(c, &turn.tail);
    return 1;
}

/* A handshake step for c, unless this turn's handshake time is spent: then c waits for
 * the next turn with its ciphertext kept. Returns mbedtls's result, or WANT_READ when
 * deferred. */
static int conn_handshake_step(conn *c)
{
    if (c->yielded)
        return MBEDTLS_ERR_SSL_WANT_READ; /* waiting for its turn already */
    if (!handshake_time_left()) {
        /* on_turn_idle spends the next turns' time on the waiting ones first */
        srv.handshakes_deferred++;
        conn_defer(c, c->hs_started ? &turn.hs2_tail : &turn.hs_tail);
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    c->hs_started = 1;
    uint64_t t0 = uv_hrtime();
    int rc = mbedtls_ssl_handshake(&c->ssl);
    turn.hs_ns += uv_hrtime() - t0;
    return rc;
}

static void conn_frames(conn *c, const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n && !c->closing) {
        uint8_t *body;
        uint32_t blen;
        size_t used;
        int r = pm_framer_feed(&c->framer, p + off, n - off, &used, &body, &blen);
        off += used;
        if (r == 1) {
            if (c->turn_no != turn.no) {
                c->turn_no = turn.no;
                c->turn_frames = 0;
                c->turn_t0 = uv_hrtime();
            }
            dispatch_frame(c, body, blen);
            if (!c->closing && c->inflight >= srv.cfg.max_inflight && !c->paused) {
                c->paused = 1;
                uv_read_stop((uv_stream_t *)&c->tcp);
            }
            if (!c->closing && conn_yield(c, p + off, n - off))
                return;
        } else if (r < 0) {
            pm_warn("conn %llu %s: %s", (unsigned long long)c->id, c->peer, pm_strerror(r));
            conn_send_error(c, 0, r, r == PM_E_FRAME_TOO_LARGE ? "frame over the limit" : NULL,
                            NULL);
            conn_end(c, pm_strerror(r));
            return;
        }
    }
}

static void on_frame_timeout(uv_timer_t *t)
{
    conn *c = t->data;
    if (pm_framer_busy(&c->framer)) {
        conn_send_error(c, 0, PM_E_PROTOCOL, "frame not completed in time", NULL);
        conn_end(c, "frame not completed in time");
    }
}

/* After login the connection's timer bounds how long one frame may take to arrive
 * (before login the login timeout does). */
static void frame_timer(conn *c)
{
    if (!c->sess || c->closing)
        return;
    int busy = pm_framer_busy(&c->framer);
    int active = uv_is_active((uv_handle_t *)&c->timer);
    if (busy && !active)
        uv_timer_start(&c->timer, on_frame_timeout, srv.cfg.frame_timeout_ms, 0);
    else if (!busy && active)
        uv_timer_stop(&c->timer);
}

static void on_prelogin_timeout(uv_timer_t *t)
{
    conn *c = t->data;
    if (!c->sess)
        conn_end(c, "no login in time");
}

void conn_session_changed(conn *c)
{
    if (c->closing)
        return;
    uv_timer_stop(&c->timer);
    if (c->sess) {
        c->framer.limit = PM_FRAME_MAX;
        frame_timer(c);
    } else {
        c->framer.limit = PM_FRAME_MAX_PRELOGIN;
        uv_timer_start(&c->timer, on_prelogin_timeout, srv.cfg.prelogin_timeout_ms, 0);
    }
}

static void on_handshake_timeout(uv_timer_t *t)
{
    conn_abort(t->data, "TLS handshake timeout");
}

static void conn_input_locked(conn *c);

/* Drives the handshake, then decrypts and dispatches everything available. Not
 * re-entered: srv.ptbuf holds the plaintext being dispatched. */
static void conn_input(conn *c)
{
    c->in_input = 1;
    conn_input_locked(c);
    c->in_input = 0;
}

static void conn_input_locked(conn *c)
{
    if (!c->handshake_done) {
        int rc = conn_handshake_step(c);
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
            conn_flush(c);
            return;
        }
        if (rc) {
            char err[128];
            pm_tls_strerror(rc, err, sizeof err);
            conn_flush(c); /* the alert */
            conn_abort(c, err);
            return;
        }
        c->handshake_done = 1;
        srv.handshakes++;
        uv_timer_stop(&c->timer);
        uv_timer_start(&c->timer, on_prelogin_timeout, srv.cfg.prelogin_timeout_ms, 0);
    }
    if (c->pt_rest.len && !c->yielded) {
        /* what was left when it yielded; a new yield keeps the rest of it again */
        pm_buf rest = c->pt_rest;
        c->pt_rest.data = NULL;
        c->pt_rest.len = c->pt_rest.cap = 0;
        conn_frames(c, rest.data, rest.len);
        frame_timer(c);
        pm_buf_free(&rest);
    }
    while (!c->closing && !c->paused && !c->yielded) {
        int n = mbedtls_ssl_read(&c->ssl, srv.ptbuf, sizeof srv.ptbuf);
        if (n > 0) {
            conn_frames(c, srv.ptbuf, (size_t)n);
            frame_timer(c);
            continue;
        }
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
            break;
        if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            conn_end(c, "closed by client");
            break;
        }
        char err[128];
        pm_tls_strerror(n, err, sizeof err);
        conn_abort(c, err);
        break;
    }
    if (!c->closing)
        conn_flush(c);
}

/* Keeps the ciphertext mbedtls did not take yet (the connection is paused). */
static void conn_keep_rx(conn *c)
{
    if (c->rx_len == 0) {
        pm_buf_free(&c->stash);
        c->rx = NULL;
        return;
    }
    if (c->stash.data && c->rx >= c->stash.data && c->rx < c->stash.data + c->stash.len) {
        pm_buf_consume(&c->stash, c->stash.len - c->rx_len);
    } else {
        c->stash.len = 0;
        if (pm_buf_append(&c->stash, c->rx, c->rx_len) != PM_OK) {
            conn_abort(c, "input buffer full");
            return;
        }
    }
    c->rx = c->stash.data;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = (char *)srv.rxbuf;
    buf->len = sizeof srv.rxbuf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    if (nread == 0)
        return; /* EAGAIN: nothing this time */
    if (nread < 0) {
        if (nread == UV_EOF)
            conn_abort(c, "closed by client");
        else
            conn_abort(c, uv_strerror((int)nread));
        return;
    }
    if (c->closing)
        return;
    if (c->stash.len) {
        if (pm_buf_append(&c->stash, buf->base, (size_t)nread) != PM_OK) {
            conn_abort(c, "input buffer full");
            return;
        }
        c->rx = c->stash.data;
        c->rx_len = c->stash.len;
    } else {
        c->rx = (const uint8_t *)buf->base;
        c->rx_len = (size_t)nread;
    }
    conn_ref(c);
    conn_input(c);
    if (!c->closing)
        conn_keep_rx(c);
    conn_unref(c);
}

void conn_request_begin(conn *c)
{
    c->inflight++;
    srv.inflight++;
    conn_ref(c);
}

void conn_request_done(conn *c)
{
    c->inflight--;
    srv.inflight--;
    if (!c->closing && !srv.stopping && c->paused && c->inflight <= srv.cfg.max_inflight / 2) {
        c->paused = 0;
        /* a yielded connection goes on in its turn (on_turn_idle) */
        if (!c->yielded && !c->sink)
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        /* Inside conn_input the caller's loop goes on by itself. */
        if (!c->in_input && !c->yielded) {
            conn_input(c);
            if (!c->closing)
                conn_keep_rx(c);
        }
    }
    conn_unref(c);
    if (srv.stopping)
        server_maybe_finish_stop();
}

/* ---- accept ---- */

static conn *conn_alloc(void)
{
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    conns_allocated++;
    uv_tcp_init(srv.loop, &c->tcp);
    uv_timer_init(srv.loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    c->refs = 1;
    c->outq_tail = &c->outq_head;
    c->id = ++srv.next_conn_id;
    mbedtls_ssl_init(&c->ssl);
    pm_framer_init(&c->framer, PM_FRAME_MAX_PRELOGIN);
    pm_buf_init(&c->stash, STASH_MAX);
    pm_buf_init(&c->pt_rest, sizeof srv.ptbuf);
    pm_buf_init(&c->tx, TX_MAX);
    return c;
}

static void conn_register(conn *c)
{
    c->closing = 0;
    c->next = srv.conns;
    if (srv.conns)
        srv.conns->prev = c;
    srv.conns = c;
    srv.nconns++;
}

conn *conn_new_detached(void (*sink)(void *ud, sframe *f), void *ud)
{
    conn *c = conn_alloc();
    if (!c)
        return NULL;
    c->sink = sink;
    c->sink_ud = ud;
    snprintf(c->peer, sizeof c->peer, "detached");
    conn_register(c);
    return c;
}

static void on_connection(uv_stream_t *l, int status)
{
    if (status < 0) {
        pm_warn("accept: %s", uv_strerror(status));
        return;
    }
    conn *c = conn_alloc();
    if (!c)
        return;
    c->closing = 1; /* not in the list yet: conn_abort only closes handles */
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        close_handles(c);
        return;
    }
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0) {
        char ip[40] = "?";
        int port = 0;
        if (sa.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
        } else if (sa.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
        }
        snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
    }
    if (srv.stopping || srv.nconns >= srv.cfg.max_connections) {
        pm_warn("conn %s: refused, %s", c->peer,
                srv.stopping ? "shutting down" : "connection limit reached");
        close_handles(c);
        return;
    }
    if (mbedtls_ssl_setup(&c->ssl, &srv.tls) != 0) {
        pm_error("conn %s: out of memory for TLS", c->peer);
        close_handles(c);
        return;
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    conn_register(c);
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, 60);
    pm_info("conn %llu %s: open", (unsigned long long)c->id, c->peer);
    uv_timer_start(&c->timer, on_handshake_timeout, srv.cfg.handshake_timeout_ms, 0);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc)
        conn_abort(c, uv_strerror(rc));
}

int net_listen(const char *host, int port)
{
    struct sockaddr_storage sa;
    int rc;
    if (strchr(host, ':'))
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa);
    else
        rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&sa);
    if (rc) {
        pm_error("listen: bad address %s", host);
        return PM_E_CONFIG;
    }
    turn_init(); /* turns are counted from the start */
    uv_tcp_init(srv.loop, &srv.listener);
    rc = uv_tcp_bind(&srv.listener, (struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv.listener, 1024, on_connection);
    if (rc) {
        pm_error("listen on %s:%d: %s", host, port, uv_strerror(rc));
        uv_close((uv_handle_t *)&srv.listener, NULL);
        return pm_err_from_uv(rc);
    }
    return PM_OK;
}

int net_bound_port(void)
{
    struct sockaddr_storage sa;
    int len = sizeof sa;
    if (uv_tcp_getsockname(&srv.listener, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    if (sa.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&sa)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
}

void net_stop_listening(void)
{
    if (!uv_is_closing((uv_handle_t *)&srv.listener))
        uv_close((uv_handle_t *)&srv.listener, NULL);
}
