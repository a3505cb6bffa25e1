/* bench_conn_mem: what an idle logged-in connection costs the server in memory.
 *
 * Opens N TLS connections (default 1000) to one practiced, each bound to one manager
 * session with Resume (pc_set_token before pc_connect, so no Argon2 per connection), and
 * leaves them idle. The server's VmRSS before and after, once it has settled, gives KiB per
 * idle connection; then every connection sends one Ping and the figure is taken again
 * (per-request buffers should be freed once the answer is out); then all close.
 * Target: under 48 KiB per idle connection (mbedtls's own buffers are ~33 KiB of that).
 *
 * The clients live in child processes of at most CLIENTS_PER_PROC connections each: the
 * client library waits with mbedtls_net_recv_timeout, which uses select() and fails on a
 * descriptor >= FD_SETSIZE (1024), so one process cannot hold more than ~1000. */
#include "bench_common.h"

#include "pm_err.h"

#include <errno.h>
#include <getopt.h>
#include <mbedtls/ssl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TARGET_KIB       48.0
#define CLIENTS_PER_PROC 900 /* keeps every client socket below FD_SETSIZE */

static struct {
    long conns;
    int procs, cycles, limit_check;
    double settle;
    const char *dir;
} opt = {1000, 2, 2, 1, 1.5, "/tmp"};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_conn_mem [options]\n\n"
            "Server memory per idle, logged-in TLS connection.\n\n"
            "  --conns N      connections (default %ld; 10000 needs RLIMIT_NOFILE > 10100,\n"
            "                 raised here up to the hard limit)\n"
            "  --procs N      client processes opening them at once (default %d; more are\n"
            "                 used so that none holds over %d connections)\n"
            "  --cycles N     open-idle-close rounds (default %d): later rounds show whether\n"
            "                 what the server keeps after a close is reused or leaked\n"
            "  --settle S     seconds to let the server settle before reading RSS (default "
            "%.1f)\n"
            "  --dir DIR      where the data directory goes (default %s)\n"
            "  --no-limit-check  start the server without --max-connections at the count\n"
            "                 (by default it gets exactly the manager and the N clients, and\n"
            "                 one more connection is tried while all are open)\n"
            "  --help\n\n"
            "Target: server RSS growth < %.0f KiB per idle connection; the connection over\n"
            "--max-connections refused, the server healthy.\n",
            opt.conns, opt.procs, CLIENTS_PER_PROC, opt.cycles, opt.settle, opt.dir, TARGET_KIB);
}

/* ---- a client process: opens, pings and closes its share on command ---- */

typedef struct reply {
    long ok, failed;
    long rss_kib;
    char first_error[200];
} reply;

typedef struct child {
    pid_t pid;
    int cmd_fd, reply_fd;
    long n;
} child;

static void child_open(const ts_server *s, const uint8_t *token, pc_client **c, long n, reply *r)
{
    for (long i = 0; i < n; i++) {
        pc_opts po = {.host = "127.0.0.1",
                      .port = s->port,
                      .ca_file = s->ca,
                      .client_name = "bench_conn_mem",
                      .timeout_ms = 60000};
        c[i] = pc_new(&po);
        if (!c[i]) {
            r->failed++;
            continue;
        }
        pc_set_token(c[i], token, 32);
        pc_set_device(c[i], "bench idle screen");
        if (pc_connect(c[i]) != PM_OK) {
            if (!r->failed++)
                snprintf(r->first_error, sizeof r->first_error, "connect: %s", pc_last_error(c[i]));
            pc_free(c[i]);
            c[i] = NULL;
            continue;
        }
        r->ok++;
    }
}

static void child_ping(pc_client **c, long n, reply *r)
{
    for (long i = 0; i < n; i++) {
        if (!c[i])
            continue;
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PING), *resp = NULL;
        Pm__Ping *p = pm_msg_new(&a, &pm__ping__descriptor);
        p->nonce = (uint64_t)i + 1;
        e->ping = p;
        int rc = pc_call(c[i], e, &a, &resp);
        if (rc == PM_OK && resp->body_case == PM__ENVELOPE__BODY_PONG &&
            resp->pong->nonce == (uint64_t)i + 1)
            r->ok++;
        else if (!r->failed++)
            snprintf(r->first_error, sizeof r->first_error, "ping: %s", pc_last_error(c[i]));
        pm_arena_free(&a);
    }
}

static void child_main(const ts_server *s, const uint8_t *token, long n, int cmd_fd, int reply_fd)
{
    pc_client **c = calloc((size_t)n, sizeof *c);
    char cmd;
    while (c && read(cmd_fd, &cmd, 1) == 1) {
        reply r = {0};
        if (cmd == 'o') {
            child_open(s, token, c, n, &r);
        } else if (cmd == 'p') {
            child_ping(c, n, &r);
        } else if (cmd == 'c') {
            for (long i = 0; i < n; i++) {
                pc_free(c[i]);
                c[i] = NULL;
            }
        } else {
            break;
        }
        r.rss_kib = bs_rss_kib(0);
        if (write(reply_fd, &r, sizeof r) != (ssize_t)sizeof r)
            break;
    }
    _exit(0);
}

/* Starts the client process for ch[i]; earlier children's pipes are closed in it, or
 * they would never see end-of-file on their command pipe. */
static int spawn(child *ch, int i, const ts_server *s, const uint8_t *token)
{
    int cmd[2], rep[2];
    if (pipe(cmd) != 0 || pipe(rep) != 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(cmd[1]);
        close(rep[0]);
        for (int j = 0; j < i; j++) {
            close(ch[j].cmd_fd);
            close(ch[j].reply_fd);
        }
        child_main(s, token, ch[i].n, cmd[0], rep[1]);
    }
    close(cmd[0]);
    close(rep[1]);
    ch[i].pid = pid;
    ch[i].cmd_fd = cmd[1];
    ch[i].reply_fd = rep[0];
    return 0;
}

/* Sends cmd to every child at once and sums their replies. */
static int command(child *ch, int n, char cmd, reply *sum, double *secs)
{
    memset(sum, 0, sizeof *sum);
    uint64_t t0 = bs_now_us();
    for (int i = 0; i < n; i++)
        if (write(ch[i].cmd_fd, &cmd, 1) != 1)
            return -1;
    for (int i = 0; i < n; i++) {
        reply r;
        if (read(ch[i].reply_fd, &r, sizeof r) != (ssize_t)sizeof r) {
            fprintf(stderr, "client process %d died\n", (int)ch[i].pid);
            return -1;
        }
        sum->ok += r.ok;
        sum->failed += r.failed;
        sum->rss_kib += r.rss_kib;
        if (r.failed)
            printf("# client process %d: %ld failed, first: %s\n", i, r.failed, r.first_error);
    }
    if (secs)
        *secs = (double)(bs_now_us() - t0) / 1e6;
    return 0;
}

static void reap(child *ch, int n)
{
    for (int i = 0; i < n; i++) {
        if (ch[i].pid <= 0)
            continue;
        close(ch[i].cmd_fd); /* EOF: the child exits */
        close(ch[i].reply_fd);
        int st;
        waitpid(ch[i].pid, &st, 0);
    }
}

/* ---- one connection over the limit ---- */

/* What a client sees when it connects to a full server: the pc library's answer (and how
 * long it took), and what the socket itself got after the TCP connect (the server accepts,
 * then closes at once: an end of file or a reset). rc PM_OK means it was let in. */
static int probe_pc(const ts_server *s, const uint8_t *token, char *what, size_t n, double *ms)
{
    pc_opts po = {.host = "127.0.0.1",
                  .port = s->port,
                  .ca_file = s->ca,
                  .client_name = "bench_conn_mem probe",
                  .timeout_ms = 10000,
                  .retries = -1};
    pc_client *c = pc_new(&po);
    if (!c)
        return PM_E_NOMEM;
    pc_set_token(c, token, 32);
    uint64_t t0 = bs_now_us();
    int rc = pc_connect(c);
    *ms = (double)(bs_now_us() - t0) / 1000.0;
    snprintf(what, n, "%s", rc == PM_OK ? "connected" : pc_last_error(c));
    pc_free(c);
    return rc;
}

static const char *probe_tcp(const ts_server *s, char *buf, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    sa.sin_addr.s_addr = htonl(0x7f000001);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(buf, n, "TCP connect failed: %s", strerror(errno));
    } else {
        struct timeval tv = {5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        static const char hello[] = "\x16\x03\x01\x00\x05hello"; /* the start of a record */
        ssize_t w = send(fd, hello, sizeof hello - 1, MSG_NOSIGNAL);
        char b[64];
        ssize_t r = recv(fd, b, sizeof b, 0);
        if (r == 0)
            snprintf(buf, n, "TCP connect accepted, then end of file (the server closed it)");
        else if (r < 0)
            snprintf(buf, n, "TCP connect accepted, then %s%s", strerror(errno),
                     w < 0 ? " (the first write failed too)" : "");
        else
            snprintf(buf, n, "TCP connect accepted, %zd bytes came back", r);
    }
    if (fd >= 0)
        close(fd);
    return buf;
}

/* The server's VmRSS once it stops moving (two readings 250 ms apart within 64 KiB), after
 * at least opt.settle seconds and at most 10 s more. */
static long settled_rss(pid_t pid)
{
    bs_sleep_us((uint64_t)(opt.settle * 1e6));
    long prev = bs_rss_kib(pid);
    for (int i = 0; i < 40; i++) {
        bs_sleep_us(250000);
        long now = bs_rss_kib(pid);
        if (labs(now - prev) <= 64)
            return now;
        prev = now;
    }
    return prev;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"conns", required_argument, 0, 'n'},  {"procs", required_argument, 0, 't'},
        {"settle", required_argument, 0, 's'}, {"dir", required_argument, 0, 'd'},
        {"cycles", required_argument, 0, 'c'}, {"no-limit-check", no_argument, 0, 'L'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    int chopt;
    while ((chopt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (chopt) {
        case 'n':
            opt.conns = atol(optarg);
            break;
        case 't':
            opt.procs = atoi(optarg);
            break;
        case 'c':
            opt.cycles = atoi(optarg);
            break;
        case 's':
            opt.settle = atof(optarg);
            break;
        case 'd':
            opt.dir = optarg;
            break;
        case 'L':
            opt.limit_check = 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || opt.conns < 1 || opt.procs < 1 || opt.cycles < 1) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("# bench_conn_mem: server %s\n", ts_practiced());
    bs_print_machine(opt.dir);
    long need = opt.conns + 200;
    long have = bs_raise_nofile(need);
    printf("# RLIMIT_NOFILE %ld (inherited by the server; it needs %ld)\n", have, need);
    if (have < need) {
        fprintf(stderr,
                "bench_conn_mem: %ld connections need %ld file descriptors in the server; the "
                "limit is %ld (raise the hard limit, or pass a smaller --conns)\n",
                opt.conns, need, have);
        return 2;
    }
    printf("# mbedtls: MBEDTLS_SSL_IN_CONTENT_LEN %d, MBEDTLS_SSL_OUT_CONTENT_LEN %d (each "
           "buffer adds ~0.3 KiB of record overhead), sizeof(mbedtls_ssl_context) %zu: "
           "~%.0f KiB per connection before anything of practiced's own\n",
           (int)MBEDTLS_SSL_IN_CONTENT_LEN, (int)MBEDTLS_SSL_OUT_CONTENT_LEN,
           sizeof(mbedtls_ssl_context),
           (double)(MBEDTLS_SSL_IN_CONTENT_LEN + MBEDTLS_SSL_OUT_CONTENT_LEN + 2 * 300 +
                    sizeof(mbedtls_ssl_context)) /
               1024.0);

    int nproc = opt.procs;
    if (nproc < (opt.conns + CLIENTS_PER_PROC - 1) / CLIENTS_PER_PROC)
        nproc = (int)((opt.conns + CLIENTS_PER_PROC - 1) / CLIENTS_PER_PROC);
    if (nproc > opt.conns)
        nproc = (int)opt.conns;
    printf("# %d client processes, up to %ld connections each\n", nproc,
           (opt.conns + nproc - 1) / nproc);

    ts_server s;
    pc_client *mgr = NULL;
    child *ch = calloc((size_t)nproc, sizeof *ch);
    int rc = 1;
    pm_arena a;
    pm_arena_init(&a, 0);
    char extra[64] = "";
    long limit = 0;
    if (opt.limit_check) /* the manager and the clients, and not one more */
        limit = opt.conns + 1;
    else if (opt.conns > 11000)
        limit = opt.conns + 100;
    if (limit) {
        snprintf(extra, sizeof extra, "--max-connections %ld", limit);
        printf("# practiced serve %s\n", extra);
    }
    if (bs_server_start(&s, opt.dir, extra) != 0)
        goto out;
    if (!(mgr = ts_manager(&s)))
        goto out;
    const uint8_t *token = pc_token(mgr);
    if (!token) {
        fprintf(stderr, "the manager's client holds no token\n");
        goto out;
    }
    for (int i = 0; i < nproc; i++) {
        ch[i].n = opt.conns / nproc + (i < opt.conns % nproc);
        if (spawn(ch, i, &s, token) != 0) {
            perror("fork");
            goto out;
        }
    }
    long rss0 = settled_rss(s.pid);
    bs_result("server.rss_before", (double)rss0, "KiB");

    reply r0, r;
    double secs;
    /* A first empty round: each child reports its RSS before it has any client. */
    if (command(ch, nproc, 'c', &r0, NULL) != 0 || command(ch, nproc, 'o', &r, &secs) != 0)
        goto out;
    long opened = r.ok;
    bs_result("connections_opened", (double)opened, "connections");
    bs_result("connections_failed", (double)r.failed, "connections");
    bs_result("connect_and_resume_per_s", (double)opened / secs, "connections/s");
    if (opened == 0)
        goto out;
    Pm__Stats *st;
    if (bs_get_stats(mgr, &a, &st) != PM_OK)
        goto out;
    bs_result("server.connections", (double)st->connections, "connections");
    bs_result("server.sessions", (double)st->sessions, "sessions");
    long rss1 = settled_rss(s.pid);
    double idle = (double)(rss1 - rss0) / (double)opened;
    bs_result("server.rss_idle", (double)rss1, "KiB");
    bs_result("server.rss_per_idle_connection", idle, "KiB");
    bs_result("bench_client.rss_per_connection", (double)(r.rss_kib - r0.rss_kib) / (double)opened,
              "KiB");

    int refused_ok = 1;
    if (opt.limit_check) {
        /* the server is full: one more, a few times, then is everybody else still served? */
        char what[256], tcp[256];
        double ms, worst = 0;
        int let_in = 0;
        for (int i = 0; i < 20; i++) {
            let_in += probe_pc(&s, token, what, sizeof what, &ms) == PM_OK;
            worst = ms > worst ? ms : worst;
        }
        printf("# over the limit (%ld open of --max-connections %ld), the pc library says: %s "
               "(%.1f ms)\n",
               opened + 1, limit, what, ms);
        printf("# at the socket: %s\n", probe_tcp(&s, tcp, sizeof tcp));
        bs_result("limit.extra_connections_let_in", let_in, "of 20");
        bs_result("limit.refusal_ms_max", worst, "ms");
        bs_result("limit.server_log_refusals", ts_log_has(&s, "connection limit reached"), "seen");
        Pm__Stats *st2;
        int healthy = bs_get_stats(mgr, &a, &st2) == PM_OK;
        bs_result("limit.server.connections_after", healthy ? (double)st2->connections : -1,
                  "connections");
        refused_ok = !let_in && healthy;
    }

    if (command(ch, nproc, 'p', &r, &secs) != 0)
        goto out;
    bs_result("pings_answered", (double)r.ok, "pings");
    long ping_failed = r.failed;
    long rss2 = settled_rss(s.pid);
    bs_result("server.rss_after_ping", (double)rss2, "KiB");
    bs_result("server.rss_per_connection_after_ping", (double)(rss2 - rss0) / (double)opened,
              "KiB");

    if (command(ch, nproc, 'c', &r, NULL) != 0)
        goto out;
    long rss3 = settled_rss(s.pid);
    if (opt.limit_check) {
        char what[256];
        double ms;
        int in = probe_pc(&s, token, what, sizeof what, &ms) == PM_OK;
        printf("# once the clients closed, a new connection: %s (%.1f ms)\n", what, ms);
        bs_result("limit.connect_after_close", in, "connected");
        refused_ok &= in;
    }
    bs_result("server.rss_after_close", (double)rss3, "KiB");
    bs_result("server.rss_retained_per_closed_connection", (double)(rss3 - rss0) / (double)opened,
              "KiB");
    for (int cycle = 2; cycle <= opt.cycles; cycle++) {
        char m[64];
        if (command(ch, nproc, 'o', &r, NULL) != 0)
            goto out;
        long rss_open = settled_rss(s.pid);
        snprintf(m, sizeof m, "cycle%d.connections_opened", cycle);
        bs_result(m, (double)r.ok, "connections");
        snprintf(m, sizeof m, "cycle%d.server.rss_idle", cycle);
        bs_result(m, (double)rss_open, "KiB");
        if (command(ch, nproc, 'c', &r, NULL) != 0)
            goto out;
        long rss_closed = settled_rss(s.pid);
        snprintf(m, sizeof m, "cycle%d.server.rss_after_close", cycle);
        bs_result(m, (double)rss_closed, "KiB");
    }
    bs_verdict("server RSS < 48 KiB per idle connection", idle < TARGET_KIB,
               "%.1f KiB idle, %.1f KiB after one Ping each, %ld connections", idle,
               (double)(rss2 - rss0) / (double)opened, opened);
    if (opt.limit_check)
        bs_verdict("the connection over --max-connections refused, the server healthy",
                   refused_ok && ping_failed == 0,
                   "limit %ld: 20 tries over it, GetStats and %ld pings answered meanwhile, a "
                   "connection let in once they closed",
                   limit, opened);
    bs_print_load("after");
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench_conn_mem failed; server log: %s\n", s.log);
    reap(ch, nproc);
    free(ch);
    pc_free(mgr);
    pm_arena_free(&a);
    bs_server_finish(&s);
    return rc;
}
