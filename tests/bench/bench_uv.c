#include "bench_uv.h"

#include "bench_common.h"
#include "pm_err.h"
#include "pm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TX_MAX (64u << 20)

uint64_t bu_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double bu_thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bu_machine_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    unsigned long long v[8] = {0};
    double s = 0;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]) == 8)
        s = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
    fclose(f);
    return s;
}

void bu_print_lat(const char *prefix, bs_lat *l, double secs)
{
    char m[160];
    bs_lat_sort(l);
    snprintf(m, sizeof m, "%s.count", prefix);
    bs_result(m, (double)l->n, "requests");
    if (secs > 0) {
        snprintf(m, sizeof m, "%s.per_s", prefix);
        bs_result(m, (double)l->n / secs, "/s");
    }
    if (!l->n)
        return;
    snprintf(m, sizeof m, "%s.p50", prefix);
    bs_result(m, (double)bs_lat_pct(l, 0.5) / 1000.0, "ms");
    snprintf(m, sizeof m, "%s.p99", prefix);
    bs_result(m, (double)bs_lat_pct(l, 0.99) / 1000.0, "ms");
    snprintf(m, sizeof m, "%s.p999", prefix);
    bs_result(m, (double)bs_lat_pct(l, 0.999) / 1000.0, "ms");
    snprintf(m, sizeof m, "%s.max", prefix);
    bs_result(m, (double)bs_lat_pct(l, 1.0) / 1000.0, "ms");
}

/* ---- context ---- */

int bu_ctx_init(bu_ctx *x, uv_loop_t *loop, const char *ca_file, int port)
{
    memset(x, 0, sizeof *x);
    x->loop = loop;
    mbedtls_x509_crt_init(&x->ca);
    if (mbedtls_x509_crt_parse_file(&x->ca, ca_file) != 0) {
        fprintf(stderr, "cannot read the practice CA %s\n", ca_file);
        return -1;
    }
    if (pm_rng_init(&x->rng, "bench_uv") != PM_OK ||
        pm_tls_conf_init(&x->conf, MBEDTLS_SSL_IS_CLIENT, &x->rng) != PM_OK) {
        fprintf(stderr, "TLS set-up failed\n");
        return -1;
    }
    mbedtls_ssl_conf_authmode(&x->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&x->conf, &x->ca, NULL);
    mbedtls_ssl_conf_session_tickets(&x->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
    bu_ctx_port(x, port);
    return 0;
}

void bu_ctx_port(bu_ctx *x, int port)
{
    uv_ip4_addr("127.0.0.1", port, &x->addr);
}

void bu_ctx_free(bu_ctx *x)
{
    mbedtls_ssl_config_free(&x->conf);
    mbedtls_x509_crt_free(&x->ca);
    pm_rng_free(&x->rng);
}

/* ---- connection ---- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    bu_conn *c = ctx;
    if (pm_buf_append(&c->tx, buf, len) != PM_OK)
        return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    bu_conn *c = ctx;
    if (!c->rx_len)
        return MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = len < c->rx_len ? len : c->rx_len;
    memcpy(buf, c->rx, n);
    c->rx += n;
    c->rx_len -= n;
    return (int)n;
}

/* Called by mbedtls for each certificate it verifies: only in a full handshake. */
static int on_verify(void *ud, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    (void)crt;
    (void)flags;
    bu_conn *c = ud;
    if (depth == 0)
        c->full_handshake = 1;
    return 0;
}

void bu_conn_init(bu_conn *c, bu_ctx *x, const bu_ops *ops, void *ud)
{
    memset(c, 0, sizeof *c);
    c->x = x;
    c->ops = ops;
    c->ud = ud;
    c->next_id = 1;
    c->device = "bench";
    mbedtls_ssl_init(&c->ssl);
    mbedtls_ssl_session_init(&c->saved);
    pm_framer_init(&c->fr, PM_FRAME_MAX);
    pm_buf_init(&c->tx, TX_MAX);
}

void bu_conn_token(bu_conn *c, const uint8_t *token, const char *device)
{
    memcpy(c->token, token, 32);
    c->have_token = 1;
    if (device)
        c->device = device;
}

void bu_conn_topics(bu_conn *c, const char *const *topics, size_t n)
{
    c->topics = calloc(n, sizeof *c->topics);
    for (size_t i = 0; c->topics && i < n; i++)
        c->topics[i] = strdup(topics[i]);
    c->ntopics = c->topics ? n : 0;
}

void bu_conn_load(bu_conn *c, Pm__Envelope__BodyCase body, const char *location)
{
    c->load = body;
    c->load_location = location;
}

void bu_conn_free(bu_conn *c)
{
    mbedtls_ssl_free(&c->ssl);
    mbedtls_ssl_session_free(&c->saved);
    pm_framer_free(&c->fr);
    pm_buf_free(&c->tx);
    for (size_t i = 0; i < c->ntopics; i++)
        free(c->topics[i]);
    free(c->topics);
    c->topics = NULL;
    c->ntopics = 0;
}

struct wreq {
    uv_write_t req;
    uint8_t data[];
};

static void on_write(uv_write_t *w, int status)
{
    (void)status; /* a failed write shows as a failed read */
    free(w);
}

static void flush(bu_conn *c)
{
    if (!c->tx.len || c->state == BU_CLOSING || c->state == BU_IDLE)
        return;
    uv_buf_t b = uv_buf_init((char *)c->tx.data, (unsigned)c->tx.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN || n == UV_ENOSYS)
        n = 0;
    if (n < 0) {
        c->tx.len = 0;
        bu_close(c, uv_strerror(n));
        return;
    }
    size_t rest = c->tx.len - (size_t)n;
    if (rest) {
        struct wreq *w = malloc(sizeof *w + rest);
        if (!w) {
            c->tx.len = 0;
            bu_close(c, "out of memory");
            return;
        }
        memcpy(w->data, c->tx.data + n, rest);
        uv_buf_t wb = uv_buf_init((char *)w->data, (unsigned)rest);
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &wb, 1, on_write) != 0) {
            free(w);
            c->tx.len = 0;
            bu_close(c, "write failed");
            return;
        }
    }
    c->tx.len = 0;
}

static void on_closed(uv_handle_t *h)
{
    bu_conn *c = h->data;
    c->state = BU_IDLE;
    c->lost += (uint64_t)c->inflight;
    c->inflight = 0;
    memset(c->pend, 0, sizeof c->pend);
    pm_framer_free(&c->fr);
    pm_framer_init(&c->fr, PM_FRAME_MAX);
    c->tx.len = 0;
    c->rx_len = 0;
    if (c->ssl_ready)
        mbedtls_ssl_session_reset(&c->ssl);
    if (c->ops->down)
        c->ops->down(c, c->why);
}

void bu_close(bu_conn *c, const char *why)
{
    if (c->state == BU_CLOSING || c->state == BU_IDLE)
        return;
    snprintf(c->why, sizeof c->why, "%s", why ? why : "closed");
    c->state = BU_CLOSING;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Packs and encrypts one envelope; 0 when it went into the TLS output. */
static int write_env(bu_conn *c, const Pm__Envelope *e)
{
    size_t len;
    uint8_t *buf = pm_frame_pack(e, &len);
    if (!buf) {
        bu_close(c, "out of memory");
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        int n = mbedtls_ssl_write(&c->ssl, buf + off, len - off);
        if (n <= 0) {
            free(buf);
            char err[120];
            pm_tls_strerror(n, err, sizeof err);
            bu_close(c, err);
            return -1;
        }
        off += (size_t)n;
    }
    free(buf);
    flush(c);
    return 0;
}

static void set_key(bu_conn *c, Pm__Envelope *e, uint8_t key[16])
{
    /* time first, as pc_call does, then a counter standing in for its random half */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pm_put_u64(key, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    pm_put_u64(key + 8, ++c->x->key_ctr * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)c);
    e->request_key.data = key;
    e->request_key.len = 16;
}

/* The protocol steps before ready: each sends its request and sets the state. */
static void step_hello(bu_conn *c)
{
    Pm__Envelope e = PM__ENVELOPE__INIT;
    Pm__Hello h = PM__HELLO__INIT;
    h.protocol_version = PM_PROTOCOL_VERSION;
    h.client = "bench_uv";
    e.body_case = PM__ENVELOPE__BODY_HELLO;
    e.hello = &h;
    e.id = c->next_id++;
    c->state = BU_HELLO;
    write_env(c, &e);
}

static void step_load(bu_conn *c);

static void step_subscribe(bu_conn *c, uint64_t since)
{
    if (!c->ntopics) {
        step_load(c);
        return;
    }
    Pm__Envelope e = PM__ENVELOPE__INIT;
    Pm__Subscribe s = PM__SUBSCRIBE__INIT;
    uint8_t key[16];
    s.topics = c->topics;
    s.n_topics = c->ntopics;
    s.since = since;
    e.body_case = PM__ENVELOPE__BODY_SUBSCRIBE;
    e.subscribe = &s;
    e.id = c->next_id++;
    set_key(c, &e, key);
    c->state = BU_SUBSCRIBE;
    write_env(c, &e);
}

static void ready(bu_conn *c)
{
    c->state = BU_READY;
    c->t_ready = bu_now_us();
    if (c->ops->ready)
        c->ops->ready(c);
}

static void step_load(bu_conn *c)
{
    if (!c->load) {
        ready(c);
        return;
    }
    Pm__Envelope e = PM__ENVELOPE__INIT;
    Pm__GetBoard gb = PM__GET_BOARD__INIT;
    Pm__GetFlow gf = PM__GET_FLOW__INIT;
    uint8_t key[16];
    e.body_case = c->load;
    if (c->load == PM__ENVELOPE__BODY_GET_BOARD) {
        gb.location = (char *)c->load_location;
        e.get_board = &gb;
    } else {
        gf.location = (char *)c->load_location;
        e.get_flow = &gf;
    }
    e.id = c->next_id++;
    set_key(c, &e, key);
    c->state = BU_LOAD;
    write_env(c, &e);
}

static void step_resume(bu_conn *c)
{
    if (!c->have_token) {
        step_subscribe(c, c->last_seq);
        return;
    }
    Pm__Envelope e = PM__ENVELOPE__INIT;
    Pm__Resume r = PM__RESUME__INIT;
    r.token.data = c->token;
    r.token.len = 32;
    r.device = (char *)c->device;
    e.body_case = PM__ENVELOPE__BODY_RESUME;
    e.resume = &r;
    e.id = c->next_id++;
    c->state = BU_RESUME;
    write_env(c, &e);
}

static void setup_failed(bu_conn *c, const char *step, const Pm__Envelope *e)
{
    char why[160];
    snprintf(why, sizeof why, "%s: %s", step,
             e->body_case == PM__ENVELOPE__BODY_ERROR ? e->error->message : "unexpected answer");
    bu_close(c, why);
}

static void on_frame(bu_conn *c, const uint8_t *body, uint32_t len)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pm__envelope__unpack(pm_arena_pbc(&a), len, body);
    uint64_t now = bu_now_us();
    if (!e) {
        pm_arena_free(&a);
        bu_close(c, "a frame that does not decode");
        return;
    }
    if (e->id == 0 && (e->body_case == PM__ENVELOPE__BODY_EVENT ||
                       e->body_case == PM__ENVELOPE__BODY_SESSION_LOCKED)) {
        if (e->body_case == PM__ENVELOPE__BODY_EVENT && e->event) {
            if (e->event->seq <= c->last_seq)
                goto out; /* already had it */
            c->last_seq = e->event->seq;
        }
        if (c->ops->event)
            c->ops->event(c, e, now);
        goto out;
    }
    switch (c->state) {
    case BU_HELLO:
        if (e->body_case != PM__ENVELOPE__BODY_HELLO_OK)
            setup_failed(c, "Hello", e);
        else
            step_resume(c);
        break;
    case BU_RESUME:
        if (e->body_case != PM__ENVELOPE__BODY_LOGIN_OK)
            setup_failed(c, "Resume", e);
        else
            step_subscribe(c, c->subscribed ? c->last_seq : 0);
        break;
    case BU_SUBSCRIBE:
        if (e->body_case == PM__ENVELOPE__BODY_ERROR && e->error->code == PM__ERROR_CODE__RELOAD) {
            c->last_seq = 0; /* older than the server keeps: from now on, as a screen reloads */
            step_subscribe(c, 0);
        } else if (e->body_case != PM__ENVELOPE__BODY_SUBSCRIBED) {
            setup_failed(c, "Subscribe", e);
        } else {
            if (!c->subscribed || !c->last_seq)
                c->last_seq = e->subscribed->last_seq;
            c->subscribed = 1;
            step_load(c);
        }
        break;
    case BU_LOAD:
        if (e->body_case == PM__ENVELOPE__BODY_ERROR)
            setup_failed(c, "load", e);
        else
            ready(c);
        break;
    case BU_READY: {
        unsigned i = (unsigned)(e->id % BU_RING);
        if (e->id == 0 || c->pend[i].id != e->id)
            break; /* an error about no request (id 0), or a stray */
        uint64_t tag = c->pend[i].tag, t = c->pend[i].t;
        c->pend[i].id = 0;
        c->inflight--;
        c->ops->answer(c, tag, e, t, now);
        break;
    }
    default:
        break;
    }
out:
    pm_arena_free(&a);
}

/* Drives the handshake, then decrypts and handles every frame available. */
static void drive(bu_conn *c)
{
    if (c->state == BU_HANDSHAKE) {
        int r;
        while ((r = mbedtls_ssl_handshake(&c->ssl)) != 0) {
            if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
                flush(c);
                return;
            }
            char err[120], why[160];
            pm_tls_strerror(r, err, sizeof err);
            snprintf(why, sizeof why, "TLS handshake: %s", err);
            flush(c);
            bu_close(c, why);
            return;
        }
        c->t_tls = bu_now_us();
        c->x->handshakes++;
        c->x->full_handshakes += c->full_handshake;
        mbedtls_ssl_session_free(&c->saved);
        mbedtls_ssl_session_init(&c->saved);
        c->have_saved = mbedtls_ssl_get_session(&c->ssl, &c->saved) == 0;
        step_hello(c);
    }
    while (c->state > BU_HANDSHAKE && c->state < BU_CLOSING) {
        int n = mbedtls_ssl_read(&c->ssl, c->x->pt, sizeof c->x->pt);
        if (n > 0) {
            size_t off = 0;
            while (off < (size_t)n && c->state < BU_CLOSING) {
                uint8_t *body;
                uint32_t blen;
                size_t used;
                int r =
                    pm_framer_feed(&c->fr, c->x->pt + off, (size_t)n - off, &used, &body, &blen);
                off += used;
                if (r == 1) {
                    on_frame(c, body, blen);
                    free(body);
                } else if (r < 0) {
                    bu_close(c, "bad frame from the server");
                    return;
                }
            }
            continue;
        }
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
            break;
        if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            bu_close(c, "closed by the server");
            return;
        }
        char err[120];
        pm_tls_strerror(n, err, sizeof err);
        bu_close(c, err);
        return;
    }
    flush(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    bu_conn *c = h->data;
    *buf = uv_buf_init(c->x->rbuf, sizeof c->x->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    bu_conn *c = s->data;
    if (nread == 0 || c->state == BU_CLOSING)
        return;
    if (nread < 0) {
        bu_close(c, nread == UV_EOF ? "closed by the server" : uv_strerror((int)nread));
        return;
    }
    c->rx = (const uint8_t *)buf->base;
    c->rx_len = (size_t)nread;
    drive(c);
    c->rx_len = 0; /* mbedtls keeps a partial record itself */
}

static void on_connect(uv_connect_t *req, int status)
{
    bu_conn *c = req->data;
    if (c->state != BU_CONNECTING)
        return;
    if (status < 0) {
        c->x->connect_failures++;
        char why[120];
        snprintf(why, sizeof why, "connect: %s", uv_strerror(status));
        bu_close(c, why);
        return;
    }
    c->t_tcp = bu_now_us();
    uv_tcp_nodelay(&c->tcp, 1);
    int r = 0;
    if (!c->ssl_ready) {
        r = mbedtls_ssl_setup(&c->ssl, &c->x->conf);
        c->ssl_ready = r == 0;
    }
    if (r == 0)
        r = mbedtls_ssl_set_hostname(&c->ssl, "127.0.0.1");
    if (r == 0 && c->have_saved)
        r = mbedtls_ssl_set_session(&c->ssl, &c->saved);
    if (r) {
        bu_close(c, "TLS set-up failed");
        return;
    }
    mbedtls_ssl_set_verify(&c->ssl, on_verify, c);
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    c->full_handshake = 0;
    c->state = BU_HANDSHAKE;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        bu_close(c, "read_start failed");
        return;
    }
    drive(c);
}

int bu_connect(bu_conn *c)
{
    if (c->state != BU_IDLE)
        return -1;
    c->t_start = bu_now_us();
    c->t_tcp = c->t_tls = c->t_ready = 0;
    c->why[0] = 0;
    c->x->connects++;
    uv_tcp_init(c->x->loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    c->state = BU_CONNECTING;
    int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&c->x->addr, on_connect);
    if (rc) {
        snprintf(c->why, sizeof c->why, "connect: %s", uv_strerror(rc));
        c->state = BU_CLOSING;
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return -1;
    }
    return 0;
}

int bu_send(bu_conn *c, Pm__Envelope *e, uint64_t tag)
{
    if (c->state != BU_READY || c->inflight >= BU_RING)
        return -1;
    e->id = c->next_id++;
    unsigned i = (unsigned)(e->id % BU_RING);
    if (c->pend[i].id) /* a request that never got its answer: give its place up */
        c->inflight--;
    uint8_t key[16];
    if (!e->request_key.len)
        set_key(c, e, key);
    c->pend[i].id = e->id;
    c->pend[i].tag = tag;
    c->pend[i].t = bu_now_us();
    c->inflight++;
    int rc = write_env(c, e);
    if (e->request_key.data == key) {
        e->request_key.data = NULL;
        e->request_key.len = 0;
    }
    return rc;
}

#define BOARD_FIRST_MS 500
#define BOARD_MAX_MS   30000
#define DESK_FIRST_MS  250
#define DESK_MAX_MS    8000

uint64_t bu_backoff_ms(int desk, int was_up, uint64_t *backoff_ms, uint32_t rnd)
{
    uint64_t first = desk ? DESK_FIRST_MS : BOARD_FIRST_MS, max = desk ? DESK_MAX_MS : BOARD_MAX_MS;
    uint64_t b = was_up || !*backoff_ms ? first : *backoff_ms * 2;
    *backoff_ms = b > max ? max : b;
    return desk ? *backoff_ms : *backoff_ms / 2 + rnd % (*backoff_ms / 2 + 1);
}
