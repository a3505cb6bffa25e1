#include "pc.h"

#include "pm_buf.h"
#include "pm_cert.h"
#include "pm_err.h"
#include "pm_frame.h"
#include "pm_tls.h"
#include "pm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pem.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT 7440
#define RXCHUNK      16384

struct evq {
    struct evq *next;
    uint32_t len;
    uint8_t data[];
};

struct pc_client {
    pc_opts o;
    char host[256];
    char ca_file[4096];
    char name[64];
    char device[64];

    pm_rng rng;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_ssl_context ssl;
    mbedtls_net_context net;
    mbedtls_ssl_session saved;
    int have_saved;
    int ready; /* conf and CA loaded */
    int connected;

    uint64_t next_id;
    uint8_t token[32];
    int have_token;

    char err[512];
    pm_arena err_arena;
    Pm__Error *err_detail;
    char practice[128];
    char tz[64];
    unsigned clock_speed;

    pm_framer fr;
    pm_buf in; /* plaintext read from TLS, not yet framed */
    size_t in_off;
    int nowait; /* read_frame waits itself: the BIO takes what the socket has, or nothing */

    struct evq *evq_head, **evq_tail;
    pc_event_cb cb;
    void *ud;

    char **topics;
    size_t ntopics;
    uint64_t last_seq;
    int subscribed;
};

static int set_err(pc_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_err(pc_client *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->err_detail = NULL;
    return code;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

pc_client *pc_new(const pc_opts *opts)
{
    pc_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->o = *opts;
    snprintf(c->host, sizeof c->host, "%s", opts->host ? opts->host : "localhost");
    snprintf(c->ca_file, sizeof c->ca_file, "%s", opts->ca_file ? opts->ca_file : "");
    snprintf(c->name, sizeof c->name, "%s", opts->client_name ? opts->client_name : "libpractice");
    if (!c->o.port)
        c->o.port = DEFAULT_PORT;
    if (!c->o.timeout_ms)
        c->o.timeout_ms = 30000;
    if (!c->o.connect_timeout_ms)
        c->o.connect_timeout_ms = 10000;
    if (c->o.retries < 0)
        c->o.retries = 0;
    else if (!c->o.retries)
        c->o.retries = 2;
    c->o.host = c->host;
    c->o.ca_file = c->ca_file;
    c->evq_tail = &c->evq_head;
    c->next_id = 1;
    mbedtls_net_init(&c->net);
    mbedtls_ssl_init(&c->ssl);
    mbedtls_ssl_session_init(&c->saved);
    mbedtls_x509_crt_init(&c->ca);
    pm_arena_init(&c->err_arena, 0);
    pm_framer_init(&c->fr, PM_FRAME_MAX);
    pm_buf_init(&c->in, 4u << 20);
    return c;
}

static void drop_queue(pc_client *c)
{
    struct evq *e = c->evq_head;
    while (e) {
        struct evq *n = e->next;
        free(e);
        e = n;
    }
    c->evq_head = NULL;
    c->evq_tail = &c->evq_head;
}

void pc_close(pc_client *c)
{
    if (c->connected) {
        mbedtls_ssl_close_notify(&c->ssl);
        c->connected = 0;
    }
    mbedtls_net_free(&c->net);
    mbedtls_ssl_free(&c->ssl);
    mbedtls_ssl_init(&c->ssl);
    pm_framer_free(&c->fr);
    pm_framer_init(&c->fr, PM_FRAME_MAX);
    c->in.len = 0;
    c->in_off = 0;
}

void pc_free(pc_client *c)
{
    if (!c)
        return;
    pc_close(c);
    drop_queue(c);
    for (size_t i = 0; i < c->ntopics; i++)
        free(c->topics[i]);
    free(c->topics);
    mbedtls_ssl_session_free(&c->saved);
    if (c->ready) {
        mbedtls_ssl_config_free(&c->conf);
        pm_rng_free(&c->rng);
    }
    mbedtls_x509_crt_free(&c->ca);
    pm_arena_free(&c->err_arena);
    pm_buf_free(&c->in);
    mbedtls_platform_zeroize(c->token, sizeof c->token);
    free(c);
}

int pc_fd(const pc_client *c)
{
    return c->connected ? c->net.fd : -1;
}

const char *pc_last_error(const pc_client *c)
{
    return c->err;
}

const Pm__Error *pc_last_error_detail(const pc_client *c)
{
    return c->err_detail;
}

const char *pc_practice_name(const pc_client *c)
{
    return c->practice;
}

const char *pc_timezone(const pc_client *c)
{
    return c->tz;
}

unsigned pc_clock_speed(const pc_client *c)
{
    return c->clock_speed ? c->clock_speed : 1;
}

void pc_set_token(pc_client *c, const uint8_t *token, size_t len)
{
    if (len == sizeof c->token) {
        memcpy(c->token, token, len);
        c->have_token = 1;
    } else {
        c->have_token = 0;
    }
}

const uint8_t *pc_token(const pc_client *c)
{
    return c->have_token ? c->token : NULL;
}

void pc_set_device(pc_client *c, const char *device)
{
    snprintf(c->device, sizeof c->device, "%s", device ? device : "");
}

void pc_on_event(pc_client *c, pc_event_cb cb, void *ud)
{
    c->cb = cb;
    c->ud = ud;
}

int pc_subscribed(const pc_client *c)
{
    return c->subscribed;
}

uint64_t pc_last_seq(const pc_client *c)
{
    return c->last_seq;
}

Pm__Envelope *pc_env(pm_arena *a, Pm__Envelope__BodyCase body)
{
    Pm__Envelope *e = pm_msg_new(a, &pm__envelope__descriptor);
    if (e)
        e->body_case = body;
    return e;
}

/* ---- transport ---- */

/* mbedtls_net_send writes with write(2), which raises SIGPIPE on a connection the server
 * closed; a library must not kill its program for that. */
static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    int fd = ((pc_client *)ctx)->net.fd;
    for (;;) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MBEDTLS_ERR_SSL_WANT_WRITE;
        if (errno == EPIPE || errno == ECONNRESET)
            return MBEDTLS_ERR_NET_CONN_RESET;
        return MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

/* mbedtls_net_recv_timeout waits with select(2), which fails for descriptors from 1024
 * on; a process holding many connections (a load generator, a server-side tool) needs
 * poll. While read_frame reads (c->nowait), it does the waiting: the BIO only takes what
 * is there. */
static int bio_recv_timeout(void *ctx, unsigned char *buf, size_t len, uint32_t timeout)
{
    pc_client *c = ctx;
    int fd = c->net.fd;
    if (!c->nowait) {
        struct pollfd p = {fd, POLLIN, 0};
        int pr;
        do
            pr = poll(&p, 1, timeout ? (int)timeout : -1);
        while (pr < 0 && errno == EINTR);
        if (pr == 0)
            return MBEDTLS_ERR_SSL_TIMEOUT;
        if (pr < 0)
            return MBEDTLS_ERR_NET_RECV_FAILED;
    }
    for (;;) {
        ssize_t n = recv(fd, buf, len, c->nowait ? MSG_DONTWAIT : 0);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MBEDTLS_ERR_SSL_WANT_READ;
        if (errno == ECONNRESET || errno == EPIPE)
            return MBEDTLS_ERR_NET_CONN_RESET;
        return MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

static int tcp_connect(pc_client *c, const char *host, int port, int timeout_ms, int *fd_out)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, portstr, &hints, &res);
    if (g != 0)
        return set_err(c, PM_E_CONNECT, "cannot resolve %s: %s", host, gai_strerror(g));
    int rc = PM_E_CONNECT;
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (r != 0 && errno == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            int pr = poll(&p, 1, timeout_ms);
            if (pr == 1) {
                int e = 0;
                socklen_t el = sizeof e;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
                r = e ? -1 : 0;
                errno = e;
            } else {
                r = -1;
                if (pr == 0)
                    errno = ETIMEDOUT;
            }
        }
        if (r == 0) {
            fcntl(fd, F_SETFL, fl);
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            /* A screen that only listens would never learn that its server's machine lost
             * power or a NAT forgot it: after 30 s of silence the kernel asks, and gives up
             * on the connection 30 s later; poll then reports it and the screen reconnects. */
            int idle = 30, intvl = 10, cnt = 3;
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
            *fd_out = fd;
            rc = PM_OK;
            break;
        }
        last_errno = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (rc)
        return set_err(c, PM_E_CONNECT, "cannot connect to %s:%d: %s", host, port,
                       strerror(last_errno ? last_errno : ECONNREFUSED));
    return PM_OK;
}

static int tls_error(pc_client *c, int rc, const char *what)
{
    char buf[200];
    pm_tls_strerror(rc, buf, sizeof buf);
    int code = pm_err_from_mbedtls(rc);
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        char info[300] = "";
        uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
        mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        size_t n = strlen(info);
        while (n && info[n - 1] == '\n')
            info[--n] = 0;
        for (char *p = info; *p; p++)
            if (*p == '\n')
                *p = ';';
        return set_err(c, PM_E_CERT,
                       "the server at %s is not the practice's server (its certificate: %s)",
                       c->host, info);
    }
    return set_err(c, code, "%s: %s", what, buf);
}

static int load_conf(pc_client *c)
{
    if (c->ready)
        return PM_OK;
    if (!*c->ca_file)
        return set_err(c, PM_E_CONFIG, "no practice CA given");
    int rc = mbedtls_x509_crt_parse_file(&c->ca, c->ca_file);
    if (rc != 0)
        return set_err(c, PM_E_CONFIG, "cannot read the practice CA %s", c->ca_file);
    if (pm_rng_init(&c->rng, "libpractice") != PM_OK)
        return set_err(c, PM_E_TLS, "no randomness");
    if (pm_tls_conf_init(&c->conf, MBEDTLS_SSL_IS_CLIENT, &c->rng) != PM_OK) {
        pm_rng_free(&c->rng);
        return set_err(c, PM_E_TLS, "TLS setup failed");
    }
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    mbedtls_ssl_conf_read_timeout(&c->conf, (uint32_t)c->o.timeout_ms);
    mbedtls_ssl_conf_session_tickets(&c->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
    c->ready = 1;
    return PM_OK;
}

static int send_env(pc_client *c, const Pm__Envelope *env)
{
    size_t len;
    uint8_t *buf = pm_frame_pack(env, &len);
    if (!buf)
        return set_err(c, PM_E_NOMEM, "out of memory");
    size_t off = 0;
    int rc = PM_OK;
    while (off < len) {
        int n = mbedtls_ssl_write(&c->ssl, buf + off, len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n == MBEDTLS_ERR_SSL_WANT_WRITE || n == MBEDTLS_ERR_SSL_WANT_READ)
            continue;
        rc = tls_error(c, n, "sending");
        if (rc == PM_E_TLS)
            rc = PM_E_CLOSED;
        break;
    }
    free(buf);
    return rc;
}

/* Reads one frame (malloc'd) within timeout_ms (-1: no limit). The socket is read first
 * and waited on only once it has nothing: a screen woken by epoll pays one recv() per
 * record, not a poll() before it as well. */
static int read_frame(pc_client *c, int timeout_ms, uint8_t **frame, uint32_t *len)
{
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_ms() + (uint64_t)timeout_ms;
    int dry = 0; /* the socket had nothing the last time */
    for (;;) {
        while (c->in_off < c->in.len) {
            size_t used;
            int r = pm_framer_feed(&c->fr, c->in.data + c->in_off, c->in.len - c->in_off, &used,
                                   frame, len);
            c->in_off += used;
            if (r == 1)
                return PM_OK;
            if (r < 0)
                return set_err(c, PM_E_PROTOCOL, "the server sent a bad frame");
        }
        c->in.len = c->in_off = 0;
        if (dry && !mbedtls_ssl_check_pending(&c->ssl)) {
            uint64_t now = now_ms();
            int wait = deadline == UINT64_MAX ? -1 : now >= deadline ? 0 : (int)(deadline - now);
            struct pollfd p = {c->net.fd, POLLIN, 0};
            int pr = wait ? poll(&p, 1, wait) : 0;
            if (pr == 0)
                return set_err(c, PM_E_TIMEOUT, "no answer from the server in time");
            if (pr < 0 && errno != EINTR)
                return set_err(c, PM_E_IO, "poll: %s", strerror(errno));
            if (pr < 0)
                continue;
            dry = 0;
        }
        if (pm_buf_reserve(&c->in, RXCHUNK) != PM_OK)
            return set_err(c, PM_E_NOMEM, "out of memory");
        c->nowait = 1;
        int n = mbedtls_ssl_read(&c->ssl, c->in.data, RXCHUNK);
        c->nowait = 0;
        if (n > 0) {
            c->in.len = (size_t)n;
            continue;
        }
        if (n == MBEDTLS_ERR_SSL_WANT_READ) {
            dry = 1;
            continue;
        }
        if (n == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
        if (n == MBEDTLS_ERR_SSL_TIMEOUT)
            return set_err(c, PM_E_TIMEOUT, "no answer from the server in time");
        if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || n == MBEDTLS_ERR_NET_CONN_RESET)
            return set_err(c, PM_E_CLOSED, "the server closed the connection");
        int rc = tls_error(c, n, "receiving");
        return rc == PM_E_TLS ? PM_E_CLOSED : rc;
    }
}

static int is_push(const Pm__Envelope *e)
{
    return e->id == 0 && (e->body_case == PM__ENVELOPE__BODY_EVENT ||
                          e->body_case == PM__ENVELOPE__BODY_SESSION_LOCKED);
}

/* Takes note of a push (the newest event seen, a locked session); 0 for an event already
 * had, which is dropped. */
static int note_push(pc_client *c, const Pm__Envelope *e)
{
    if (e->body_case == PM__ENVELOPE__BODY_EVENT && e->event) {
        if (e->event->seq <= c->last_seq)
            return 0; /* already had it */
        c->last_seq = e->event->seq;
    }
    if (e->body_case == PM__ENVELOPE__BODY_SESSION_LOCKED) {
        c->have_token = 0;
        c->subscribed = 0;
    }
    return 1;
}

/* A push that arrived while waiting for an answer: kept encoded (the caller's arena holds
 * the decoded one only until it returns) for the next pc_poll. */
static void queue_push(pc_client *c, const uint8_t *frame, uint32_t len, const Pm__Envelope *e)
{
    if (!note_push(c, e))
        return;
    struct evq *q = malloc(sizeof *q + len);
    if (!q)
        return;
    q->next = NULL;
    q->len = len;
    memcpy(q->data, frame, len);
    *c->evq_tail = q;
    c->evq_tail = &q->next;
}

static int error_from(pc_client *c, const Pm__Envelope *e)
{
    const Pm__Error *er = e->error;
    pm_arena_free(&c->err_arena);
    /* copied through a pack/unpack round so the detail outlives the caller's arena */
    size_t n = pm__error__get_packed_size(er);
    uint8_t *tmp = malloc(n ? n : 1);
    c->err_detail = NULL;
    if (tmp) {
        pm__error__pack(er, tmp);
        c->err_detail = pm__error__unpack(pm_arena_pbc(&c->err_arena), n, tmp);
        free(tmp);
    }
    snprintf(c->err, sizeof c->err, "%s", *er->message ? er->message : pm_strerror(-(int)er->code));
    int code = -(int)er->code;
    return code < 0 ? code : PM_E_INTERNAL;
}

/* One request, one answer, on the current connection. */
static int roundtrip(pc_client *c, Pm__Envelope *req, pm_arena *a, Pm__Envelope **resp)
{
    int rc = send_env(c, req);
    if (rc)
        return rc;
    uint64_t deadline = now_ms() + (uint64_t)c->o.timeout_ms;
    for (;;) {
        uint64_t now = now_ms();
        uint8_t *frame;
        uint32_t len;
        rc = read_frame(c, now >= deadline ? 0 : (int)(deadline - now), &frame, &len);
        if (rc)
            return rc;
        Pm__Envelope *e = pm__envelope__unpack(pm_arena_pbc(a), len, frame);
        if (!e) {
            free(frame);
            return set_err(c, PM_E_PROTOCOL, "the server sent a message this client cannot read");
        }
        if (is_push(e)) {
            queue_push(c, frame, len, e);
            free(frame);
            continue;
        }
        free(frame);
        if (e->id != req->id && e->id != 0)
            continue; /* an answer to an earlier request that timed out */
        *resp = e;
        if (e->body_case == PM__ENVELOPE__BODY_ERROR && e->error)
            return error_from(c, e);
        return PM_OK;
    }
}

int pc_transport_error(int rc)
{
    return rc == PM_E_CLOSED || rc == PM_E_IO || rc == PM_E_TIMEOUT || rc == PM_E_CONNECT ||
           rc == PM_E_TLS;
}

static int hello_and_resume(pc_client *c)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_HELLO), *resp = NULL;
    Pm__Hello *h = pm_msg_new(&a, &pm__hello__descriptor);
    int rc = PM_E_NOMEM;
    if (!e || !h)
        goto out;
    h->protocol_version = PM_PROTOCOL_VERSION;
    h->client = c->name;
    e->hello = h;
    e->id = c->next_id++;
    rc = roundtrip(c, e, &a, &resp);
    if (rc)
        goto out;
    if (resp->body_case != PM__ENVELOPE__BODY_HELLO_OK) {
        rc = set_err(c, PM_E_PROTOCOL, "unexpected answer to Hello");
        goto out;
    }
    snprintf(c->practice, sizeof c->practice, "%s", resp->hello_ok->practice_name);
    snprintf(c->tz, sizeof c->tz, "%s", resp->hello_ok->timezone);
    c->clock_speed = resp->hello_ok->clock_speed ? resp->hello_ok->clock_speed : 1;
    if (c->have_token) {
        e = pc_env(&a, PM__ENVELOPE__BODY_RESUME);
        Pm__Resume *r = pm_msg_new(&a, &pm__resume__descriptor);
        if (!e || !r) {
            rc = PM_E_NOMEM;
            goto out;
        }
        r->token.data = c->token;
        r->token.len = sizeof c->token;
        r->device = c->device;
        e->resume = r;
        e->id = c->next_id++;
        rc = roundtrip(c, e, &a, &resp);
        if (rc == PM_E_SESSION_EXPIRED || rc == PM_E_ACCOUNT_DISABLED || rc == PM_E_NOT_FOUND)
            c->have_token = 0;
        if (rc)
            goto out;
    }
    if (c->subscribed && c->ntopics) {
        e = pc_env(&a, PM__ENVELOPE__BODY_SUBSCRIBE);
        Pm__Subscribe *s = pm_msg_new(&a, &pm__subscribe__descriptor);
        if (!e || !s) {
            rc = PM_E_NOMEM;
            goto out;
        }
        s->topics = c->topics;
        s->n_topics = c->ntopics;
        s->since = c->last_seq;
        e->subscribe = s;
        e->id = c->next_id++;
        rc = roundtrip(c, e, &a, &resp);
        if (rc && !pc_transport_error(rc)) /* refused (RELOAD, say): the caller subscribes anew */
            c->subscribed = 0;
    }
out:
    pm_arena_free(&a);
    return rc;
}

int pc_connect(pc_client *c)
{
    pc_close(c);
    int rc = load_conf(c);
    if (rc)
        return rc;
    int fd;
    if ((rc = tcp_connect(c, c->host, c->o.port, c->o.connect_timeout_ms, &fd)))
        return rc;
    c->net.fd = fd;
    int r = mbedtls_ssl_setup(&c->ssl, &c->conf);
    if (r == 0)
        r = mbedtls_ssl_set_hostname(&c->ssl, c->host);
    if (r == 0 && c->have_saved)
        mbedtls_ssl_set_session(&c->ssl, &c->saved);
    if (r) {
        pc_close(c);
        return tls_error(c, r, "TLS setup");
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, NULL, bio_recv_timeout);
    while ((r = mbedtls_ssl_handshake(&c->ssl)) != 0) {
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
        if (r == MBEDTLS_ERR_SSL_CONN_EOF || r == MBEDTLS_ERR_NET_CONN_RESET)
            /* what practiced does at its connection limit, or while it stops */
            rc = set_err(c, PM_E_CLOSED,
                         "the server at %s:%d closed the connection before the TLS handshake "
                         "was done (it may be at its connection limit, busy, or stopping); try "
                         "again later",
                         c->host, c->o.port);
        else
            rc = tls_error(c, r, "TLS handshake");
        pc_close(c);
        return rc;
    }
    c->connected = 1;
    mbedtls_ssl_session_free(&c->saved);
    mbedtls_ssl_session_init(&c->saved);
    c->have_saved = mbedtls_ssl_get_session(&c->ssl, &c->saved) == 0;
    rc = hello_and_resume(c);
    if (pc_transport_error(rc) || rc == PM_E_PROTOCOL)
        pc_close(c);
    return rc;
}

int pc_reconnect(pc_client *c)
{
    return pc_connect(c);
}

/* Before retry n: 50 ms doubling to at most 2 s, less up to half at random, so that the
 * desks a network blip cut off do not all come back in the same millisecond. */
static void backoff(int n)
{
    unsigned ms = n > 6 ? 2000u : 50u << (n - 1), jitter = 0;
    if (pm_random(&jitter, sizeof jitter) != PM_OK)
        jitter = (unsigned)n * 7919u;
    ms -= jitter % (ms / 2 + 1);
    usleep((useconds_t)ms * 1000);
}

int pc_call(pc_client *c, Pm__Envelope *req, pm_arena *a, Pm__Envelope **resp)
{
    req->id = c->next_id++;
    if (req->request_key.len == 0) {
        /* Time first, then random: the server's table of keys then grows at its end
         * instead of at a random page per write. */
        uint8_t *key = pm_arena_alloc(a, 16);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (!key || pm_random(key + 8, 8))
            return set_err(c, PM_E_NOMEM, "out of memory");
        pm_put_u64(key, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
        req->request_key.data = key;
        req->request_key.len = 16;
    }
    int rc = PM_E_CLOSED;
    for (int attempt = 0; attempt <= c->o.retries; attempt++) {
        if (attempt)
            backoff(attempt);
        if (!c->connected) {
            rc = pc_connect(c);
            if (rc && pc_transport_error(rc))
                continue;
            if (rc)
                return rc;
        }
        *resp = NULL;
        rc = roundtrip(c, req, a, resp);
        if (!pc_transport_error(rc))
            return rc;
        pc_close(c);
    }
    return rc;
}

int pc_login(pc_client *c, const char *user, const char *password, const char *device, pm_arena *a,
             Pm__LoginOk **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_LOGIN), *resp = NULL;
    Pm__Login *l = pm_msg_new(a, &pm__login__descriptor);
    if (!e || !l)
        return set_err(c, PM_E_NOMEM, "out of memory");
    l->username = (char *)user;
    l->password = (char *)password;
    l->device = (char *)(device ? device : c->device);
    e->login = l;
    c->have_token = 0;
    int rc = pc_call(c, e, a, &resp);
    if (rc)
        return rc;
    if (resp->body_case != PM__ENVELOPE__BODY_LOGIN_OK || resp->login_ok->token.len != 32)
        return set_err(c, PM_E_PROTOCOL, "unexpected answer to Login");
    memcpy(c->token, resp->login_ok->token.data, 32);
    c->have_token = 1;
    if (out)
        *out = resp->login_ok;
    return PM_OK;
}

int pc_subscribe(pc_client *c, const char *const *topics, size_t n, uint64_t since, pm_arena *a,
                 Pm__Subscribed **out)
{
    for (size_t i = 0; i < c->ntopics; i++)
        free(c->topics[i]);
    free(c->topics);
    c->topics = calloc(n ? n : 1, sizeof *c->topics);
    c->ntopics = 0;
    if (!c->topics)
        return set_err(c, PM_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        c->topics[i] = strdup(topics[i]);
        if (!c->topics[i])
            return set_err(c, PM_E_NOMEM, "out of memory");
        c->ntopics++;
    }
    c->subscribed = 0;
    c->last_seq = since;
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_SUBSCRIBE), *resp = NULL;
    Pm__Subscribe *s = pm_msg_new(a, &pm__subscribe__descriptor);
    if (!e || !s)
        return set_err(c, PM_E_NOMEM, "out of memory");
    s->topics = c->topics;
    s->n_topics = c->ntopics;
    s->since = since;
    e->subscribe = s;
    int rc = pc_call(c, e, a, &resp);
    if (rc) {
        /* cut off, not refused: the next reconnect subscribes (from since) */
        c->subscribed = pc_transport_error(rc);
        return rc;
    }
    if (resp->body_case != PM__ENVELOPE__BODY_SUBSCRIBED)
        return set_err(c, PM_E_PROTOCOL, "unexpected answer to Subscribe");
    c->subscribed = 1;
    if (!since)
        c->last_seq = resp->subscribed->last_seq;
    if (out)
        *out = resp->subscribed;
    return PM_OK;
}

static int deliver_queued(pc_client *c)
{
    int n = 0;
    while (c->evq_head) {
        struct evq *q = c->evq_head;
        c->evq_head = q->next;
        if (!c->evq_head)
            c->evq_tail = &c->evq_head;
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e = pm__envelope__unpack(pm_arena_pbc(&a), q->len, q->data);
        if (e && c->cb)
            c->cb(c->ud, e);
        pm_arena_free(&a);
        free(q);
        n++;
    }
    return n;
}

int pc_pending(const pc_client *c)
{
    /* mbedtls reads a record at a time, never past it: what it has not decrypted yet
     * is still in the socket, which wakes epoll again */
    return c->evq_head || c->in_off < c->in.len ||
           (c->connected && mbedtls_ssl_check_pending(&c->ssl));
}

int pc_poll(pc_client *c, int timeout_ms)
{
    int n = deliver_queued(c);
    if (n)
        return n;
    if (!c->connected)
        return set_err(c, PM_E_CLOSED, "not connected");
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = now_ms();
        int wait = deadline == UINT64_MAX ? -1 : now >= deadline ? 0 : (int)(deadline - now);
        uint8_t *frame;
        uint32_t len;
        int rc = read_frame(c, wait, &frame, &len);
        if (rc == PM_E_TIMEOUT)
            return 0;
        if (rc) {
            pc_close(c);
            return rc;
        }
        /* Decoded once and handed over at once; what the callback's own calls queue
         * meanwhile follows. */
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e = pm__envelope__unpack(pm_arena_pbc(&a), len, frame);
        if (e && is_push(e) && note_push(c, e)) {
            if (c->cb)
                c->cb(c->ud, e);
            n = 1;
        }
        pm_arena_free(&a);
        free(frame);
        n += deliver_queued(c);
        if (n)
            return n;
    }
}

/* ---- enrolment by fingerprint ---- */

int pc_fetch_ca(const char *host, int port, const char *fp_hex, const char *ca_out, char *err,
                size_t errlen)
{
    uint8_t want[32];
    if (pm_unhex(fp_hex, want, sizeof want) != 32) {
        snprintf(err, errlen, "a fingerprint is 64 hex digits (colons allowed)");
        return PM_E_USAGE;
    }
    char want_hex[65];
    pm_hex(want, 32, want_hex);
    pc_opts o = {.host = host, .port = port, .ca_file = ""};
    pc_client *c = pc_new(&o);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return PM_E_NOMEM;
    }
    int rc = PM_E_TLS;
    int fd;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt_init(&ca);
    if (pm_rng_init(&c->rng, "libpractice-enrol") != PM_OK)
        goto out;
    if (pm_tls_conf_init(&c->conf, MBEDTLS_SSL_IS_CLIENT, &c->rng) != PM_OK) {
        pm_rng_free(&c->rng);
        goto out;
    }
    c->ready = 1;
    /* Nothing is trusted yet: the chain is checked by hand below. */
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
    mbedtls_ssl_conf_read_timeout(&c->conf, 10000);
    if ((rc = tcp_connect(c, c->host, c->o.port, 10000, &fd)))
        goto out;
    c->net.fd = fd;
    int r = mbedtls_ssl_setup(&c->ssl, &c->conf);
    if (r == 0)
        r = mbedtls_ssl_set_hostname(&c->ssl, c->host);
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, NULL, bio_recv_timeout);
    while (r == 0 && (r = mbedtls_ssl_handshake(&c->ssl)) != 0)
        if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
            break;
    if (r) {
        rc = tls_error(c, r, "TLS handshake");
        goto out;
    }
    const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&c->ssl);
    const mbedtls_x509_crt *match = NULL;
    for (const mbedtls_x509_crt *x = peer; x && x->raw.len; x = x->next) {
        char hex[65];
        pm_cert_fingerprint_der(x->raw.p, x->raw.len, hex);
        if (strcmp(hex, want_hex) == 0)
            match = x;
    }
    if (!peer || !match) {
        snprintf(c->err, sizeof c->err,
                 "the server at %s:%d did not present a certificate with that fingerprint: "
                 "check the fingerprint with the practice manager",
                 host, port);
        rc = PM_E_CERT;
        goto out;
    }
    if (mbedtls_x509_crt_parse_der(&ca, match->raw.p, match->raw.len) != 0) {
        rc = PM_E_CERT;
        snprintf(c->err, sizeof c->err, "the practice CA does not parse");
        goto out;
    }
    uint32_t flags = 0;
    if (mbedtls_x509_crt_verify((mbedtls_x509_crt *)peer, &ca, NULL, host, &flags, NULL, NULL) !=
        0) {
        char info[300];
        mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        for (char *p = info; *p; p++)
            if (*p == '\n')
                *p = ' ';
        snprintf(c->err, sizeof c->err,
                 "the server's certificate does not verify against that CA for %s: %s", host, info);
        rc = PM_E_CERT;
        goto out;
    }
    unsigned char pem[4096];
    size_t olen;
    if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
                                 match->raw.p, match->raw.len, pem, sizeof pem, &olen) != 0) {
        rc = PM_E_INTERNAL;
        snprintf(c->err, sizeof c->err, "cannot encode the CA");
        goto out;
    }
    rc = pm_write_file(ca_out, pem, strlen((char *)pem), 0600);
    if (rc)
        snprintf(c->err, sizeof c->err, "cannot write %s", ca_out);
out:
    if (rc)
        snprintf(err, errlen, "%s", c->err);
    mbedtls_x509_crt_free(&ca);
    pc_free(c);
    return rc;
}
