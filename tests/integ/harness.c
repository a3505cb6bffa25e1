#include "harness.h"

#include "pm_err.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *ts_practiced(void)
{
    const char *env = getenv("PRACTICED_BIN");
    return env ? env : PRACTICED_BIN;
}

int ts_sh(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = 0;
    char buf[4096];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, p)) > 0) {
        if (out && n + 1 < outlen) {
            size_t take = r < outlen - n - 1 ? r : outlen - n - 1;
            memcpy(out + n, buf, take);
            n += take;
        }
    }
    if (out && outlen)
        out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int field(const char *text, const char *key, char *out, size_t n)
{
    const char *p = strstr(text, key);
    if (!p)
        return -1;
    p += strlen(key);
    while (*p == ' ')
        p++;
    size_t i = 0;
    while (p[i] && p[i] != '\n' && i + 1 < n) {
        out[i] = p[i];
        i++;
    }
    out[i] = 0;
    return 0;
}

int ts_init(ts_server *s, const char *extra_args)
{
    signal(SIGPIPE, SIG_IGN); /* ts_raw writes to connections the server may have closed */
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/pm-test-XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    snprintf(s->ca, sizeof s->ca, "%s/ca.crt", s->dir);
    snprintf(s->log, sizeof s->log, "%s.log", s->dir);
    snprintf(s->manager, sizeof s->manager, "admin");
    char out[4096];
    int rc = ts_sh(out, sizeof out,
                   "%s init --data %s/p --name 'Test Practice' --tz Europe/Paris "
                   "--argon2-memory 256 --argon2-passes 1 %s 2>&1",
                   ts_practiced(), s->dir, extra_args ? extra_args : "");
    strncat(s->dir, "/p", sizeof s->dir - strlen(s->dir) - 1);
    snprintf(s->ca, sizeof s->ca, "%s/ca.crt", s->dir);
    if (rc != 0) {
        fprintf(stderr, "practiced init failed (%d): %s\n", rc, out);
        return -1;
    }
    if (field(out, "one-time-password:", s->otp, sizeof s->otp) ||
        field(out, "ca-fingerprint:", s->fingerprint, sizeof s->fingerprint) ||
        field(out, "manager:", s->manager, sizeof s->manager)) {
        fprintf(stderr, "practiced init printed no password or fingerprint:\n%s\n", out);
        return -1;
    }
    return 0;
}

int ts_start(ts_server *s, const char *extra_args)
{
    char portfile[320];
    snprintf(portfile, sizeof portfile, "%s/test.port", s->dir);
    unlink(portfile);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "exec env %s %s serve --data %s --listen 127.0.0.1:0 --port-file %s "
                 "--login-delay-ms 0 %s",
                 s->env ? s->env : "", ts_practiced(), s->dir, portfile,
                 extra_args ? extra_args : "");
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 1500; i++) { /* up to 30 s, for slow sanitizer builds */
        FILE *f = fopen(portfile, "r");
        if (f) {
            int port = 0;
            int ok = fscanf(f, "%d", &port) == 1;
            fclose(f);
            if (ok && port > 0) {
                s->port = port;
                return 0;
            }
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "practiced serve exited early; see %s\n", s->log);
            s->pid = 0;
            return -1;
        }
        usleep(20000);
    }
    fprintf(stderr, "practiced serve did not start listening\n");
    return -1;
}

int ts_restart(ts_server *s, const char *extra_args)
{
    int port = s->port;
    int rc = ts_stop(s, SIGTERM);
    char args[1024];
    snprintf(args, sizeof args, "--listen 127.0.0.1:%d %s", port, extra_args ? extra_args : "");
    return ts_start(s, args) == 0 ? rc : -1;
}

int ts_stop(ts_server *s, int sig)
{
    if (!s->pid)
        return -1;
    if (sig)
        kill(s->pid, sig);
    int st = 0;
    for (int i = 0; i < 3000; i++) { /* up to 60 s */
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid)
            break;
        if (i == 2999) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
        }
        usleep(20000);
    }
    s->pid = 0;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

void ts_cleanup(ts_server *s)
{
    if (s->pid)
        ts_stop(s, SIGKILL);
    char parent[256];
    snprintf(parent, sizeof parent, "%s", s->dir);
    char *slash = strrchr(parent, '/');
    if (slash && strncmp(parent, "/tmp/pm-test-", 13) == 0) {
        *slash = 0;
        ts_sh(NULL, 0, "rm -rf '%s' '%s'", parent, s->log);
    }
}

int ts_log_has(ts_server *s, const char *needle)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

pc_client *ts_client(ts_server *s)
{
    pc_opts o = {.host = "127.0.0.1",
                 .port = s->port,
                 .ca_file = s->ca,
                 .client_name = "practiced-tests",
                 .timeout_ms = 60000};
    pc_client *c = pc_new(&o);
    if (c && pc_connect(c) != PM_OK) {
        fprintf(stderr, "connect: %s\n", pc_last_error(c));
        pc_free(c);
        return NULL;
    }
    return c;
}

static int change_password(pc_client *c, pm_arena *a, const char *old, const char *pw)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_CHANGE_PASSWORD), *resp = NULL;
    Pm__ChangePassword *cp = pm_msg_new(a, &pm__change_password__descriptor);
    cp->old_password = (char *)old;
    cp->new_password = (char *)pw;
    e->change_password = cp;
    return pc_call(c, e, a, &resp);
}

pc_client *ts_manager(ts_server *s)
{
    pc_client *c = ts_client(s);
    if (!c)
        return NULL;
    pm_arena a;
    pm_arena_init(&a, 0);
    int rc;
    if (!*s->password) {
        Pm__LoginOk *ok;
        rc = pc_login(c, s->manager, s->otp, "test desk", &a, &ok);
        if (rc == PM_OK && ok->must_change_password) {
            snprintf(s->password, sizeof s->password, "manager-secret-1");
            rc = change_password(c, &a, s->otp, s->password);
        }
    } else {
        rc = pc_login(c, s->manager, s->password, "test desk", &a, NULL);
    }
    pm_arena_free(&a);
    if (rc != PM_OK) {
        fprintf(stderr, "manager login: %s\n", pc_last_error(c));
        pc_free(c);
        return NULL;
    }
    return c;
}

pc_client *ts_user(ts_server *s, pc_client *m, const char *name, int role)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_CREATE_ACCOUNT), *resp = NULL;
    Pm__CreateAccount *ca = pm_msg_new(&a, &pm__create_account__descriptor);
    ca->username = (char *)name;
    ca->role = (Pm__Role)role;
    e->create_account = ca;
    pc_client *c = NULL;
    int rc = pc_call(m, e, &a, &resp);
    if (rc == PM_OK) {
        char otp[64];
        snprintf(otp, sizeof otp, "%s", resp->account_credential->one_time_password);
        c = ts_client(s);
        if (c) {
            char pw[64];
            snprintf(pw, sizeof pw, "%s-password-1", name);
            rc = pc_login(c, name, otp, "test desk", &a, NULL);
            if (rc == PM_OK)
                rc = change_password(c, &a, otp, pw);
            if (rc != PM_OK) {
                fprintf(stderr, "user %s: %s\n", name, pc_last_error(c));
                pc_free(c);
                c = NULL;
            }
        }
    } else {
        fprintf(stderr, "create user %s: %s\n", name, pc_last_error(m));
    }
    pm_arena_free(&a);
    return c;
}

int ts_create_patient(pc_client *c, pm_arena *a, const char *first, const char *last,
                      const char *dob, const char *phone, Pm__Patient **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_CREATE_PATIENT), *resp = NULL;
    Pm__CreatePatient *cp = pm_msg_new(a, &pm__create_patient__descriptor);
    Pm__Patient *p = pm_msg_new(a, &pm__patient__descriptor);
    p->first_name = (char *)first;
    p->last_name = (char *)last;
    p->date_of_birth = (char *)dob;
    if (phone) {
        Pm__Phone *ph = pm_msg_new(a, &pm__phone__descriptor);
        ph->number = (char *)phone;
        ph->kind = PM__PHONE_KIND__MOBILE;
        p->phones = pm_arena_alloc(a, sizeof *p->phones);
        p->phones[0] = ph;
        p->n_phones = 1;
    }
    cp->patient = p;
    e->create_patient = cp;
    int rc = pc_call(c, e, a, &resp);
    if (rc == PM_OK && out)
        *out = resp->patient_ok->patient;
    return rc;
}

int ts_get_patient(pc_client *c, pm_arena *a, const char *mrn, Pm__Patient **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_GET_PATIENT), *resp = NULL;
    Pm__GetPatient *g = pm_msg_new(a, &pm__get_patient__descriptor);
    g->mrn = (char *)mrn;
    e->get_patient = g;
    int rc = pc_call(c, e, a, &resp);
    if (rc == PM_OK && out)
        *out = resp->patient_ok->patient;
    return rc;
}

/* ---- raw TLS ---- */

#include "pm_frame.h"
#include "pm_tls.h"

#include <mbedtls/net_sockets.h>
#include <poll.h>

struct ts_raw {
    pm_rng rng;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_ssl_context ssl;
    mbedtls_net_context net;
};

ts_raw *ts_raw_open(ts_server *s)
{
    ts_raw *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    mbedtls_x509_crt_init(&r->ca);
    mbedtls_ssl_init(&r->ssl);
    mbedtls_net_init(&r->net);
    pm_rng_init(&r->rng, "ts_raw");
    pm_tls_conf_init(&r->conf, MBEDTLS_SSL_IS_CLIENT, &r->rng);
    mbedtls_x509_crt_parse_file(&r->ca, s->ca);
    mbedtls_ssl_conf_ca_chain(&r->conf, &r->ca, NULL);
    mbedtls_ssl_conf_authmode(&r->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    int rc = mbedtls_net_connect(&r->net, "127.0.0.1", port, MBEDTLS_NET_PROTO_TCP);
    if (rc == 0)
        rc = mbedtls_ssl_setup(&r->ssl, &r->conf);
    if (rc == 0)
        rc = mbedtls_ssl_set_hostname(&r->ssl, "localhost");
    mbedtls_ssl_set_bio(&r->ssl, &r->net, mbedtls_net_send, mbedtls_net_recv, NULL);
    while (rc == 0 && (rc = mbedtls_ssl_handshake(&r->ssl)) != 0)
        if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
            break;
    if (rc) {
        ts_raw_close(r);
        return NULL;
    }
    return r;
}

int ts_raw_send(ts_raw *r, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        int w = mbedtls_ssl_write(&r->ssl, b, n);
        if (w == MBEDTLS_ERR_SSL_WANT_WRITE || w == MBEDTLS_ERR_SSL_WANT_READ)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int ts_raw_env(ts_raw *r, const Pm__Envelope *e)
{
    size_t len;
    uint8_t *buf = pm_frame_pack(e, &len);
    int rc = buf ? ts_raw_send(r, buf, len) : -1;
    free(buf);
    return rc;
}

static int raw_read(ts_raw *r, int timeout_ms, uint8_t *buf, size_t n)
{
    size_t have = 0;
    while (have < n) {
        if (!mbedtls_ssl_check_pending(&r->ssl)) {
            struct pollfd p = {r->net.fd, POLLIN, 0};
            int pr = poll(&p, 1, timeout_ms);
            if (pr == 0)
                return -1;
        }
        int got = mbedtls_ssl_read(&r->ssl, buf + have, n - have);
        if (got == MBEDTLS_ERR_SSL_WANT_READ)
            continue;
        if (got == 0 || got == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
            got == MBEDTLS_ERR_NET_CONN_RESET)
            return 0;
        if (got < 0)
            return -2;
        have += (size_t)got;
    }
    return 1;
}

int ts_raw_frame(ts_raw *r, int timeout_ms, uint8_t **body, uint32_t *len)
{
    uint8_t hdr[4];
    int rc = raw_read(r, timeout_ms, hdr, 4);
    if (rc != 1)
        return rc;
    *len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    *body = malloc(*len ? *len : 1);
    rc = raw_read(r, timeout_ms, *body, *len);
    if (rc != 1) {
        free(*body);
        *body = NULL;
    }
    return rc;
}

void ts_raw_close(ts_raw *r)
{
    if (!r)
        return;
    mbedtls_ssl_free(&r->ssl);
    mbedtls_net_free(&r->net);
    mbedtls_ssl_config_free(&r->conf);
    mbedtls_x509_crt_free(&r->ca);
    pm_rng_free(&r->rng);
    free(r);
}

/* ---- helpers for the hardening suites ---- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include "pm_time.h"

ts_raw *ts_raw_open_rcvbuf(ts_server *s, int rcvbuf)
{
    ts_raw *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    mbedtls_x509_crt_init(&r->ca);
    mbedtls_ssl_init(&r->ssl);
    mbedtls_net_init(&r->net);
    pm_rng_init(&r->rng, "ts_raw");
    pm_tls_conf_init(&r->conf, MBEDTLS_SSL_IS_CLIENT, &r->rng);
    mbedtls_x509_crt_parse_file(&r->ca, s->ca);
    mbedtls_ssl_conf_ca_chain(&r->conf, &r->ca, NULL);
    mbedtls_ssl_conf_authmode(&r->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    int rc = -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        r->net.fd = fd;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    }
    if (rc == 0)
        rc = mbedtls_ssl_setup(&r->ssl, &r->conf);
    if (rc == 0)
        rc = mbedtls_ssl_set_hostname(&r->ssl, "localhost");
    mbedtls_ssl_set_bio(&r->ssl, &r->net, mbedtls_net_send, mbedtls_net_recv, NULL);
    while (rc == 0 && (rc = mbedtls_ssl_handshake(&r->ssl)) != 0)
        if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
            break;
    if (rc) {
        ts_raw_close(r);
        return NULL;
    }
    return r;
}

int ts_raw_fd(ts_raw *r)
{
    return r->net.fd;
}

/* The next frame, decoded into a; NULL on close, timeout or garbage. */
static Pm__Envelope *raw_next(ts_raw *r, pm_arena *a)
{
    uint8_t *body;
    uint32_t len;
    if (ts_raw_frame(r, 30000, &body, &len) != 1)
        return NULL;
    Pm__Envelope *e = pm__envelope__unpack(pm_arena_pbc(a), len, body);
    free(body);
    return e;
}

int ts_raw_login(ts_raw *r, const uint8_t *token)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    int rc = -1;
    Pm__Envelope *h = pc_env(&a, PM__ENVELOPE__BODY_HELLO), *resp = NULL;
    h->hello = pm_msg_new(&a, &pm__hello__descriptor);
    h->hello->protocol_version = PM_PROTOCOL_VERSION;
    h->hello->client = "practiced-tests raw";
    h->id = 1;
    if (ts_raw_env(r, h) || !(resp = raw_next(r, &a)) ||
        resp->body_case != PM__ENVELOPE__BODY_HELLO_OK)
        goto out;
    if (token) {
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_RESUME);
        e->resume = pm_msg_new(&a, &pm__resume__descriptor);
        e->resume->token.data = (uint8_t *)token;
        e->resume->token.len = 32;
        e->resume->device = "raw test client";
        e->id = 2;
        if (ts_raw_env(r, e) || !(resp = raw_next(r, &a)) ||
            resp->body_case != PM__ENVELOPE__BODY_LOGIN_OK)
            goto out;
    }
    rc = 0;
out:
    pm_arena_free(&a);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void ts_latency_of(uint64_t *samples, size_t n, ts_latency *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (!n)
        return;
    qsort(samples, n, sizeof *samples, cmp_u64);
    out->p50_us = samples[(n - 1) / 2];
    out->p99_us = samples[(size_t)((double)(n - 1) * 0.99)];
    out->max_us = samples[n - 1];
}

struct ts_control {
    pthread_t thread;
    pthread_mutex_t mu;
    pc_client *c;
    char search[64];
    int pause_ms;
    int stop;
    uint64_t *all, *recent;
    size_t nall, nrecent, cap_all, cap_recent;
    size_t errors_all, errors_recent;
    char last_error[256];
};

static void push(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        uint64_t *g = realloc(*v, nc * sizeof *g);
        if (!g)
            return;
        *v = g;
        *cap = nc;
    }
    (*v)[(*n)++] = x;
}

static void *control_main(void *ud)
{
    ts_control *t = ud;
    for (unsigned i = 0;; i++) {
        pthread_mutex_lock(&t->mu);
        int stop = t->stop;
        pthread_mutex_unlock(&t->mu);
        if (stop)
            break;
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e, *resp = NULL;
        if (*t->search && i % 2) {
            e = pc_env(&a, PM__ENVELOPE__BODY_SEARCH_PATIENTS);
            e->search_patients = pm_msg_new(&a, &pm__search_patients__descriptor);
            e->search_patients->name = t->search;
            e->search_patients->limit = 10;
        } else {
            e = pc_env(&a, PM__ENVELOPE__BODY_PING);
            e->ping = pm_msg_new(&a, &pm__ping__descriptor);
            e->ping->nonce = i;
        }
        uint64_t t0 = pm_mono_us();
        int rc = pc_call(t->c, e, &a, &resp);
        uint64_t us = pm_mono_us() - t0;
        pthread_mutex_lock(&t->mu);
        push(&t->all, &t->nall, &t->cap_all, us);
        push(&t->recent, &t->nrecent, &t->cap_recent, us);
        if (rc != PM_OK) {
            t->errors_all++;
            t->errors_recent++;
            snprintf(t->last_error, sizeof t->last_error, "%s", pc_last_error(t->c));
        }
        pthread_mutex_unlock(&t->mu);
        pm_arena_free(&a);
        if (t->pause_ms)
            usleep((useconds_t)t->pause_ms * 1000);
    }
    return NULL;
}

ts_control *ts_control_start(pc_client *c, const char *search, int pause_ms)
{
    ts_control *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->c = c;
    snprintf(t->search, sizeof t->search, "%s", search ? search : "");
    t->pause_ms = pause_ms;
    if (pthread_create(&t->thread, NULL, control_main, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

static void print_latency(const char *label, const ts_latency *l, const char *err)
{
    printf(
        "      %s: %zu control requests, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %zu errors%s%s\n",
        label, l->n, (double)l->p50_us / 1000.0, (double)l->p99_us / 1000.0,
        (double)l->max_us / 1000.0, l->errors, l->errors ? ": " : "", l->errors ? err : "");
    fflush(stdout);
}

void ts_control_sample(ts_control *t, const char *label, ts_latency *out)
{
    pthread_mutex_lock(&t->mu);
    ts_latency_of(t->recent, t->nrecent, out);
    out->errors = t->errors_recent;
    t->nrecent = 0;
    t->errors_recent = 0;
    char err[256];
    snprintf(err, sizeof err, "%s", t->last_error);
    pthread_mutex_unlock(&t->mu);
    print_latency(label, out, err);
}

void ts_control_stop(ts_control *t, const char *label, ts_latency *out)
{
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    ts_latency_of(t->all, t->nall, out);
    out->errors = t->errors_all;
    print_latency(label, out, t->last_error);
    pthread_mutex_destroy(&t->mu);
    free(t->all);
    free(t->recent);
    free(t);
}

/* ---- patient flow and the waiting-room display ---- */

static int flow_step(pc_client *c, pm_arena *a, uint64_t appt, uint32_t version,
                     Pm__FlowAction action, const char *room, const char *provider,
                     Pm__Appointment **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_FLOW_STEP), *resp = NULL;
    Pm__FlowStep *s = pm_msg_new(a, &pm__flow_step__descriptor);
    s->appointment_id = appt;
    s->version = version;
    s->action = action;
    s->room = (char *)(room ? room : "");
    s->provider = (char *)(provider ? provider : "");
    e->flow_step = s;
    int rc = pc_call(c, e, a, &resp);
    if (rc == PM_OK && resp->body_case != PM__ENVELOPE__BODY_APPOINTMENT_OK)
        rc = PM_E_PROTOCOL;
    if (rc == PM_OK && out)
        *out = resp->appointment_ok->appointment;
    return rc;
}

int ts_flow_step(pc_client *c, pm_arena *a, uint64_t appt, uint32_t version, Pm__FlowAction action,
                 const char *room, Pm__Appointment **out)
{
    return flow_step(c, a, appt, version, action, room, NULL, out);
}

int ts_flow_see(pc_client *c, pm_arena *a, uint64_t appt, const char *provider,
                Pm__Appointment **out)
{
    return flow_step(c, a, appt, 0, PM__FLOW_ACTION__SEE, NULL, provider, out);
}

int ts_walk_in(pc_client *c, pm_arena *a, const char *mrn, const char *location,
               const char *visit_type, const char *provider, const char *notes,
               Pm__Appointment **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_WALK_IN), *resp = NULL;
    Pm__WalkIn *w = pm_msg_new(a, &pm__walk_in__descriptor);
    w->patient_mrn = (char *)mrn;
    w->location = (char *)location;
    w->visit_type = (char *)visit_type;
    w->provider = (char *)(provider ? provider : "");
    w->notes = (char *)(notes ? notes : "");
    e->walk_in = w;
    int rc = pc_call(c, e, a, &resp);
    if (rc == PM_OK && resp->body_case != PM__ENVELOPE__BODY_APPOINTMENT_OK)
        rc = PM_E_PROTOCOL;
    if (rc == PM_OK && out)
        *out = resp->appointment_ok->appointment;
    return rc;
}

int ts_close_day(pc_client *c, pm_arena *a, const char *location, const char *date, int confirm,
                 Pm__AppointmentList **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_CLOSE_DAY), *resp = NULL;
    Pm__CloseDay *cd = pm_msg_new(a, &pm__close_day__descriptor);
    cd->location = (char *)location;
    cd->date = (char *)(date ? date : "");
    cd->confirm = confirm;
    e->close_day = cd;
    int rc = pc_call(c, e, a, &resp);
    if (rc == PM_OK && resp->body_case != PM__ENVELOPE__BODY_APPOINTMENT_LIST)
        rc = PM_E_PROTOCOL;
    if (rc == PM_OK && out)
        *out = resp->appointment_list;
    return rc;
}

int ts_get_flow(pc_client *c, pm_arena *a, const char *location, const char *date, Pm__Flow **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_GET_FLOW), *resp = NULL;
    Pm__GetFlow *g = pm_msg_new(a, &pm__get_flow__descriptor);
    g->location = (char *)location;
    g->date = (char *)(date ? date : "");
    e->get_flow = g;
    int rc = pc_call(c, e, a, &resp);
    if (rc == PM_OK && resp->body_case != PM__ENVELOPE__BODY_FLOW)
        rc = PM_E_PROTOCOL;
    if (rc == PM_OK && out)
        *out = resp->flow;
    return rc;
}

int ts_get_board(pc_client *c, pm_arena *a, const char *location, Pm__BoardState **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_GET_BOARD), *resp = NULL;
    Pm__GetBoard *g = pm_msg_new(a, &pm__get_board__descriptor);
    g->location = (char *)location;
    e->get_board = g;
    int rc = pc_call(c, e, a, &resp);
    if (rc == PM_OK && resp->body_case != PM__ENVELOPE__BODY_BOARD_STATE)
        rc = PM_E_PROTOCOL;
    if (rc == PM_OK && out)
        *out = resp->board_state;
    return rc;
}

pc_client *ts_display(ts_server *s, pc_client *m, const char *name, const char *location)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_CREATE_DEVICE), *resp = NULL;
    Pm__CreateDevice *cd = pm_msg_new(&a, &pm__create_device__descriptor);
    cd->name = (char *)name;
    cd->location = (char *)location;
    e->create_device = cd;
    pc_client *c = NULL;
    if (pc_call(m, e, &a, &resp) != PM_OK) {
        fprintf(stderr, "create device %s: %s\n", name, pc_last_error(m));
    } else if ((c = ts_client(s)) != NULL) {
        char secret[128];
        snprintf(secret, sizeof secret, "%s", resp->account_credential->one_time_password);
        if (pc_login(c, name, secret, "waiting-room screen", &a, NULL) != PM_OK) {
            fprintf(stderr, "device %s login: %s\n", name, pc_last_error(c));
            pc_free(c);
            c = NULL;
        }
    }
    pm_arena_free(&a);
    return c;
}

int ts_raw_next(ts_raw *r, pm_arena *a, int timeout_ms, Pm__Envelope **out)
{
    uint8_t *body;
    uint32_t len;
    int rc = ts_raw_frame(r, timeout_ms, &body, &len);
    if (rc != 1)
        return rc;
    *out = pm__envelope__unpack(pm_arena_pbc(a), len, body);
    free(body);
    return *out ? 1 : -2;
}

int ts_raw_subscribe(ts_raw *r, const char *const *topics, size_t n, uint64_t since, uint64_t id,
                     uint64_t *last_seq, uint32_t *replayed)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_SUBSCRIBE), *resp = NULL;
    e->subscribe = pm_msg_new(&a, &pm__subscribe__descriptor);
    e->subscribe->topics = (char **)topics;
    e->subscribe->n_topics = n;
    e->subscribe->since = since;
    e->id = id;
    int rc = ts_raw_env(r, e) ? 1 : 2;
    while (rc == 2) {
        if (ts_raw_next(r, &a, 30000, &resp) != 1) {
            rc = 1;
        } else if (resp->id == id && resp->body_case == PM__ENVELOPE__BODY_SUBSCRIBED) {
            if (last_seq)
                *last_seq = resp->subscribed->last_seq;
            if (replayed)
                *replayed = resp->subscribed->replayed;
            rc = 0;
        } else if (resp->id == id && resp->body_case == PM__ENVELOPE__BODY_ERROR) {
            rc = -(int)resp->error->code;
        } else if (resp->id == id) {
            rc = 1;
        }
    }
    pm_arena_free(&a);
    return rc;
}

long ts_db_entries(const ts_server *s, const char *name)
{
    MDB_env *env;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_stat st;
    long n = -1;
    if (mdb_env_create(&env) != 0)
        return -1;
    mdb_env_set_maxdbs(env, 64);
    if (mdb_env_open(env, s->dir, MDB_RDONLY | MDB_NOTLS, 0600) == 0 &&
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0 && mdb_dbi_open(txn, name, 0, &dbi) == 0 &&
        mdb_stat(txn, dbi, &st) == 0)
        n = (long)st.ms_entries;
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

long ts_db_entries_wait(const ts_server *s, const char *name, long want, int timeout_ms)
{
    long n = ts_db_entries(s, name);
    for (int waited = 0; n != want && waited < timeout_ms; waited += 50) {
        usleep(50 * 1000);
        n = ts_db_entries(s, name);
    }
    return n;
}
