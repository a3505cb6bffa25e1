/* bench_conn_mem: what an idle logged-in connection costs the server in memory.
 *
 * Opens N TLS connections (default 1000) to one practiced, each bound to one manager
 * session with Resume (pc_set_token before pc_connect, so no Argon2 per connection), and
 * leaves them idle. The server's VmRSS before and after, once it has settled, gives KiB per
 * idle connection; then every connection sends one Ping and the figure is taken again
 * (per-request buffers should be freed once the answer is out); then all close.
 * Target: under 48 KiB per idle connection (mbedtls's own buffers are ~33 KiB of that). */
#include "bench_common.h"

#include "pm_err.h"

#include <getopt.h>
#include <mbedtls/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TARGET_KIB 48.0

static struct {
    long conns;
    int threads;
    double settle;
    const char *dir;
} opt = {1000, 2, 1.5, "/tmp"};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_conn_mem [options]\n\n"
            "Server memory per idle, logged-in TLS connection.\n\n"
            "  --conns N      connections (default %ld; 10000 needs RLIMIT_NOFILE > 10100,\n"
            "                 raised here up to the hard limit)\n"
            "  --threads N    client threads opening them (default %d)\n"
            "  --settle S     seconds to let the server settle before reading RSS (default "
            "%.1f)\n"
            "  --dir DIR      where the data directory goes (default %s)\n"
            "  --help\n\n"
            "Target: server RSS growth < %.0f KiB per idle connection.\n",
            opt.conns, opt.threads, opt.settle, opt.dir, TARGET_KIB);
}

typedef struct opener {
    pthread_t th;
    int idx;
    ts_server *s;
    pc_client **clients;
    const uint8_t *token;
    int ping;
    long ok, failed;
    char first_error[200];
} opener;

static void *open_main(void *arg)
{
    opener *o = arg;
    for (long i = o->idx; i < opt.conns; i += opt.threads) {
        if (o->ping) {
            if (!o->clients[i]) continue;
            pm_arena a;
            pm_arena_init(&a, 0);
            Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PING), *resp;
            Pm__Ping *p = pm_msg_new(&a, &pm__ping__descriptor);
            p->nonce = (uint64_t)i;
            e->ping = p;
            int rc = pc_call(o->clients[i], e, &a, &resp);
            if (rc == PM_OK && resp->body_case == PM__ENVELOPE__BODY_PONG &&
                resp->pong->nonce == (uint64_t)i) {
                o->ok++;
            } else if (!o->failed++) {
                snprintf(o->first_error, sizeof o->first_error, "ping: %s",
                         pc_last_error(o->clients[i]));
            }
            pm_arena_free(&a);
            continue;
        }
        pc_opts po = {.host = "127.0.0.1",
                      .port = o->s->port,
                      .ca_file = o->s->ca,
                      .client_name = "bench_conn_mem",
                      .timeout_ms = 60000};
        pc_client *c = pc_new(&po);
        if (!c) {
            o->failed++;
            continue;
        }
        pc_set_token(c, o->token, 32);
        pc_set_device(c, "bench idle screen");
        int rc = pc_connect(c);
        if (rc != PM_OK) {
            if (!o->failed++)
                snprintf(o->first_error, sizeof o->first_error, "connect %ld: %s", i,
                         pc_last_error(c));
            pc_free(c);
            continue;
        }
        o->clients[i] = c;
        o->ok++;
    }
    return NULL;
}

/* Runs the openers (or pingers) on every client; returns the number that failed. */
static long run_all(ts_server *s, pc_client **clients, const uint8_t *token, int ping, double *secs)
{
    opener *o = calloc((size_t)opt.threads, sizeof *o);
    uint64_t t0 = bs_now_us();
    for (int t = 0; t < opt.threads; t++) {
        o[t] = (opener){.idx = t, .s = s, .clients = clients, .token = token, .ping = ping};
        pthread_create(&o[t].th, NULL, open_main, &o[t]);
    }
    long failed = 0;
    for (int t = 0; t < opt.threads; t++) {
        pthread_join(o[t].th, NULL);
        failed += o[t].failed;
        if (o[t].failed)
            printf("# thread %d: %ld failed, first: %s\n", t, o[t].failed, o[t].first_error);
    }
    *secs = (double)(bs_now_us() - t0) / 1e6;
    free(o);
    return failed;
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
        if (labs(now - prev) <= 64) return now;
        prev = now;
    }
    return prev;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"conns", required_argument, 0, 'n'},  {"threads", required_argument, 0, 't'},
        {"settle", required_argument, 0, 's'}, {"dir", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'n':
            opt.conns = atol(optarg);
            break;
        case 't':
            opt.threads = atoi(optarg);
            break;
        case 's':
            opt.settle = atof(optarg);
            break;
        case 'd':
            opt.dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || opt.conns < 1 || opt.threads < 1) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("# bench_conn_mem: server %s\n", ts_practiced());
    bs_print_machine(opt.dir);
    long need = opt.conns + 200;
    long have = bs_raise_nofile(need);
    printf("# RLIMIT_NOFILE %ld (this process and the server it starts; need %ld)\n", have, need);
    if (have < need) {
        fprintf(stderr,
                "bench_conn_mem: %ld connections need %ld file descriptors; the limit "
                "is %ld (raise the hard limit, or pass a smaller --conns)\n",
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

    ts_server s;
    pc_client *mgr = NULL, **clients = calloc((size_t)opt.conns, sizeof *clients);
    int rc = 1;
    pm_arena a;
    pm_arena_init(&a, 0);
    char extra[64] = "";
    if (opt.conns > 11000) snprintf(extra, sizeof extra, "--max-connections %ld", opt.conns + 100);
    if (bs_server_start(&s, opt.dir, extra) != 0) goto out;
    if (!(mgr = ts_manager(&s))) goto out;
    const uint8_t *token = pc_token(mgr);
    if (!token) {
        fprintf(stderr, "the manager's client holds no token\n");
        goto out;
    }
    Pm__Stats *st;
    long client0 = bs_rss_kib(0);
    long rss0 = settled_rss(s.pid);
    bs_result("server.rss_before", (double)rss0, "KiB");

    double secs;
    long failed = run_all(&s, clients, token, 0, &secs);
    long opened = opt.conns - failed;
    bs_result("connections_opened", (double)opened, "connections");
    bs_result("connect_and_resume_per_s", (double)opened / secs, "connections/s");
    if (opened == 0) goto out;
    if (bs_get_stats(mgr, &a, &st) != PM_OK) goto out;
    bs_result("server.connections", (double)st->connections, "connections");
    bs_result("server.sessions", (double)st->sessions, "sessions");
    long rss1 = settled_rss(s.pid);
    double idle = (double)(rss1 - rss0) / (double)opened;
    bs_result("server.rss_idle", (double)rss1, "KiB");
    bs_result("server.rss_per_idle_connection", idle, "KiB");
    long client1 = bs_rss_kib(0);
    bs_result("bench_client.rss_per_connection", (double)(client1 - client0) / (double)opened,
              "KiB");

    failed = run_all(&s, clients, token, 1, &secs);
    bs_result("pings_answered", (double)(opened - failed), "pings");
    long rss2 = settled_rss(s.pid);
    bs_result("server.rss_after_ping", (double)rss2, "KiB");
    bs_result("server.rss_per_connection_after_ping", (double)(rss2 - rss0) / (double)opened,
              "KiB");

    for (long i = 0; i < opt.conns; i++) {
        pc_free(clients[i]);
        clients[i] = NULL;
    }
    long rss3 = settled_rss(s.pid);
    bs_result("server.rss_after_close", (double)rss3, "KiB");
    bs_result("server.rss_retained_per_closed_connection", (double)(rss3 - rss0) / (double)opened,
              "KiB");
    bs_verdict("server RSS < 48 KiB per idle connection", idle < TARGET_KIB,
               "%.1f KiB idle, %.1f KiB after one Ping each, %ld connections", idle,
               (double)(rss2 - rss0) / (double)opened, opened);
    bs_print_load("after");
    rc = 0;
out:
    if (rc) fprintf(stderr, "bench_conn_mem failed; server log: %s\n", s.log);
    for (long i = 0; clients && i < opt.conns; i++)
        pc_free(clients[i]);
    free(clients);
    pc_free(mgr);
    pm_arena_free(&a);
    bs_server_finish(&s);
    return rc;
}
