/* practiced serve: the loop thread's life from start to a clean stop. */
#include "auth.h"
#include "events.h"
#include "flow.h"
#include "net.h"
#include "pm_cert.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_time.h"
#include "pm_util.h"
#include "scheduling.h"
#include "server.h"
#include "tickets.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define DEFAULT_PORT    7440
#define MAINTENANCE_S   60
#define MAINTENANCE_MAX 2000 /* deletions per maintenance batch, to keep commits short */

void server_config_defaults(server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    cfg->listen_port = DEFAULT_PORT;
    cfg->idle_timeout_s = 15 * 60;
    cfg->session_max_s = 12 * 3600;
    cfg->lockout_failures = 10;
    cfg->lockout_s = 15 * 60;
    cfg->login_delay_ms = 250;
    cfg->login_delay_max_ms = 8000;
    cfg->hash_concurrency = 2;
    cfg->max_connections = 12000;
    cfg->max_inflight = 128;
    cfg->handshake_timeout_ms = 10000;
    cfg->prelogin_timeout_ms = 120000;
    cfg->frame_timeout_ms = 30000;
    cfg->idem_retention_s = 48 * 3600;
    cfg->event_retention_s = 7 * 86400;
    cfg->replay_max = 50000;
    cfg->out_limit = 32u << 20;
    cfg->out_soft_limit = 8u << 20;
    cfg->out_soft_s = 30;
    cfg->max_batch = 512;
}

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: practiced serve --data DIR [options]\n\n"
            "Serves the practice in DIR until SIGINT or SIGTERM, then answers what is in\n"
            "flight, closes connections cleanly and exits 0.\n\n"
            "  --listen ADDR:PORT      where to listen (default 127.0.0.1:%d; use\n"
            "                          0.0.0.0:%d for the practice's network)\n"
            "  --port-file PATH        write the port actually bound (for --listen ...:0)\n"
            "  --log-level LEVEL       error, warn, info (default) or debug\n"
            "  --idle-timeout SECS     end sessions idle this long (default 900)\n"
            "  --session-max SECS      end sessions this old (default 43200)\n"
            "  --lockout-failures N    lock an account after N failed logins (default 10)\n"
            "  --lockout-time SECS     for this long (default 900)\n"
            "  --login-delay-ms MS     delay after a failed login, doubling (default 250)\n"
            "  --hash-concurrency N    password hashes at once (default 2)\n"
            "  --max-connections N     refuse connections beyond N (default 12000)\n"
            "  --event-retention SECS  keep events for replay this long (default 604800)\n"
            "  --replay-max N          replay to a subscriber at most N events behind; one\n"
            "                          further behind is told to reload (default 50000)\n"
            "  --frame-timeout SECS    a request must arrive whole within this (default 30)\n"
            "  --max-output KIB        output queued for one connection before it is cut off\n"
            "                          as too slow (default 32768)\n"
            "  --soft-output KIB,SECS  ... or held over KIB for longer than SECS (8192,30)\n"
            "  --clock-speed N         demos and simulations: the scheduling clock runs N\n"
            "                          times faster than real time from the start\n"
            "  --clock-start WHEN      demos: the scheduling clock starts at WHEN, in the\n"
            "                          practice's time (\"today 08:45\", \"mon 09:00\")\n"
            "  --late-cancel-hours H   a cancellation under H hours before is late (default 24)\n"
            "  --offer-ttl SECS        a waitlist offer holds its slot this long (default 900)\n"
            "  --grace-minutes N       arriving later than N minutes is late; not arrived by\n"
            "                          then is overdue (default 10)\n"
            "  --auto-no-show          make the day's unarrived appointments no-shows the next\n"
            "                          day by itself, and those of days it was off, a month\n"
            "                          back at most (default: a manager closes the day)\n"
            "  --max-batch N           writes per commit at most (default 512; 1 turns group\n"
            "                          commit off, for comparison)\n"
            "  --writer-delay-ms MS    testing: hold each write batch this long\n",
            DEFAULT_PORT, DEFAULT_PORT);
}

static int parse_listen(const char *s, server_config *cfg)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[' && hl > 2 && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl >= sizeof cfg->listen_host)
        return -1;
    memcpy(cfg->listen_host, s, hl);
    cfg->listen_host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    cfg->listen_port = (int)port;
    return 0;
}

/* "KIB,SECS": the soft output limit and how long a connection may stay over it. */
static int parse_output_soft(const char *s, server_config *cfg)
{
    unsigned long kib, secs;
    char extra;
    if (sscanf(s, "%lu,%lu%c", &kib, &secs, &extra) != 2 || kib < 16 || secs == 0 || secs > 3600)
        return -1;
    cfg->out_soft_limit = (size_t)kib * 1024;
    cfg->out_soft_s = (uint32_t)secs;
    return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || end == s || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* ---- maintenance: forget what no longer needs keeping ---- */

typedef struct maint_job {
    wjob job;
    uint64_t idem_before, events_before;
    int sessions; /* the timed runs read every session; a run that follows on does not */
    unsigned idem_removed, events_removed, sessions_removed, slots_removed;
    wctx *ctx; /* while it runs */
} maint_job;

/* A request key past its retention: its stored answer goes with it. */
static int idem_old(const MDB_val *k, const MDB_val *v, void *arg, enum store_sweep *what)
{
    (void)v;
    wctx *ctx = ((maint_job *)arg)->ctx;
    if (k->mv_size <= 8 || pm_get_u64(k->mv_data) >= ((maint_job *)arg)->idem_before) {
        *what = SWEEP_STOP;
        return PM_OK;
    }
    int rc =
        store_del(ctx->txn, store_dbi(ctx->st, DB_IDEM), (uint8_t *)k->mv_data + 8, k->mv_size - 8);
    *what = SWEEP_DELETE;
    return rc == PM_E_NOT_FOUND ? PM_OK : rc;
}

static int session_over(const MDB_val *k, const MDB_val *v, void *arg, enum store_sweep *what)
{
    (void)k;
    Pm__StoredSession *ss = pm__stored_session__unpack(NULL, v->mv_size, v->mv_data);
    int expired = !ss || ss->expires_at <= ((maint_job *)arg)->ctx->now;
    if (ss)
        pm__stored_session__free_unpacked(ss, NULL);
    *what = expired ? SWEEP_DELETE : SWEEP_KEEP;
    return PM_OK;
}

static int maint_run(wjob *j, wctx *ctx)
{
    maint_job *m = (maint_job *)j;
    m->ctx = ctx;
    m->idem_removed = m->events_removed = m->sessions_removed = m->slots_removed = 0;
    int rc;
    if ((rc = store_sweep(ctx->txn, store_dbi(ctx->st, DB_IDEM_TIME), MAINTENANCE_MAX, UINT_MAX,
                          NULL, idem_old, m, &m->idem_removed)) ||
        (rc = events_expire(ctx, m->events_before, MAINTENANCE_MAX, &m->events_removed)) ||
        (rc = waitlist_forget_slots(ctx, MAINTENANCE_MAX, &m->slots_removed)))
        return rc;
    if (!m->sessions)
        return PM_OK;
    return store_sweep(ctx->txn, store_dbi(ctx->st, DB_SESSIONS), UINT_MAX, UINT_MAX, NULL,
                       session_over, m, &m->sessions_removed);
}

static void maintenance(int sessions);

static void maint_done(wjob *j)
{
    maint_job *m = (maint_job *)j;
    int more = 0;
    if (j->committed && j->status == PM_OK) {
        /* a sweep that stopped at its limit left more: another batch goes on at once
         * (behind whatever else is queued for the writer) */
        more = m->idem_removed == MAINTENANCE_MAX || m->events_removed == MAINTENANCE_MAX ||
               m->slots_removed == MAINTENANCE_MAX;
        if (m->idem_removed || m->events_removed || m->sessions_removed || m->slots_removed)
            pm_debug("maintenance: forgot %u request keys, %u events, %u sessions, %u offered "
                     "slots",
                     m->idem_removed, m->events_removed, m->sessions_removed, m->slots_removed);
    } else {
        pm_warn("maintenance: %s", pm_strerror(j->status));
    }
    free(m);
    if (more && !srv.stopping)
        maintenance(0);
}

static void maintenance(int sessions)
{
    maint_job *m = calloc(1, sizeof *m);
    if (!m)
        return;
    m->sessions = sessions;
    uint64_t now = pm_wall_s();
    m->idem_before = now > srv.cfg.idem_retention_s ? now - srv.cfg.idem_retention_s : 0;
    m->events_before = now > srv.cfg.event_retention_s ? now - srv.cfg.event_retention_s : 0;
    m->job.run = maint_run;
    m->job.done = maint_done;
    store_submit(srv.st, &m->job);
}

static void on_tick(uv_timer_t *t)
{
    static unsigned ticks;
    (void)t;
    auth_tick();
    net_tick();
    waitlist_tick();
    flow_tick();
    if (++ticks % MAINTENANCE_S == 0) {
        maintenance(1);
        tickets_tick(srv.tickets);
    }
}

/* ---- stopping ---- */

static int finishing;

void server_maybe_finish_stop(void)
{
    if (!srv.stopping || finishing || srv.inflight > 0)
        return;
    finishing = 1;
    pm_info("all requests answered; closing %llu connection(s)", (unsigned long long)srv.nconns);
    net_end_all("server stopping");
    uv_close((uv_handle_t *)&srv.tick, NULL);
    uv_close((uv_handle_t *)&srv.sigint, NULL);
    uv_close((uv_handle_t *)&srv.sigterm, NULL);
    store_writer_stop(srv.st);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (srv.stopping) {
        pm_warn("second %s: exiting now (every answered write is already durable)",
                strsignal(signum));
        _exit(1);
    }
    pm_info("%s: stopping; answering %llu request(s) in flight", strsignal(signum),
            (unsigned long long)srv.inflight);
    srv.stopping = 1;
    net_stop_listening();
    for (conn *c = srv.conns; c; c = c->next)
        uv_read_stop((uv_stream_t *)&c->tcp);
    server_maybe_finish_stop();
}

/* ---- TLS ---- */

static int tls_setup(const char *dir)
{
    char path[4096];
    pm_rng_init(&srv.rng, "practiced");
    mbedtls_x509_crt_init(&srv.chain);
    mbedtls_pk_init(&srv.key);
    snprintf(path, sizeof path, "%s/server.crt", dir);
    if (mbedtls_x509_crt_parse_file(&srv.chain, path) != 0) {
        pm_error("tls: cannot read %s", path);
        return PM_E_CONFIG;
    }
    /* The CA goes out after the server certificate, so that a client enrolling by
     * fingerprint sees it. */
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    if (mbedtls_x509_crt_parse_file(&srv.chain, path) != 0) {
        pm_error("tls: cannot read %s", path);
        return PM_E_CONFIG;
    }
    snprintf(path, sizeof path, "%s/server.key", dir);
    if (mbedtls_pk_parse_keyfile(&srv.key, path, NULL) != 0) {
        pm_error("tls: cannot read %s", path);
        return PM_E_CONFIG;
    }
    int rc = pm_tls_conf_init(&srv.tls, MBEDTLS_SSL_IS_SERVER, &srv.rng);
    if (rc)
        return rc;
    if (mbedtls_ssl_conf_own_cert(&srv.tls, &srv.chain, &srv.key) != 0)
        return PM_E_TLS;
    return tickets_open(&srv.tickets, dir, &srv.rng, &srv.tls);
}

static void tls_teardown(void)
{
    tickets_close(srv.tickets);
    srv.tickets = NULL;
    mbedtls_ssl_config_free(&srv.tls);
    mbedtls_pk_free(&srv.key);
    mbedtls_x509_crt_free(&srv.chain);
    pm_rng_free(&srv.rng);
}

static int write_port_file(const char *path, int port)
{
    char buf[16];
    int n = snprintf(buf, sizeof buf, "%d\n", port);
    return pm_write_file(path, buf, (size_t)n, 0644);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},
        {"listen", required_argument, 0, 'l'},
        {"port-file", required_argument, 0, 'p'},
        {"log-level", required_argument, 0, 'L'},
        {"idle-timeout", required_argument, 0, 'i'},
        {"session-max", required_argument, 0, 's'},
        {"lockout-failures", required_argument, 0, 'f'},
        {"lockout-time", required_argument, 0, 'T'},
        {"login-delay-ms", required_argument, 0, 'D'},
        {"hash-concurrency", required_argument, 0, 'c'},
        {"max-connections", required_argument, 0, 'm'},
        {"event-retention", required_argument, 0, 'e'},
        {"replay-max", required_argument, 0, 'R'},
        {"frame-timeout", required_argument, 0, 'F'},
        {"max-batch", required_argument, 0, 'B'},
        {"max-output", required_argument, 0, 'O'},
        {"soft-output", required_argument, 0, 'Q'},
        {"clock-speed", required_argument, 0, 'K'},
        {"clock-start", required_argument, 0, 'k'},
        {"late-cancel-hours", required_argument, 0, 'H'},
        {"offer-ttl", required_argument, 0, 'o'},
        {"grace-minutes", required_argument, 0, 'g'},
        {"auto-no-show", no_argument, 0, 'N'},
        {"writer-delay-ms", required_argument, 0, 'W'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    server_config *cfg = &srv.cfg;
    server_config_defaults(cfg);
    int c, bad = 0;
    uint32_t u = 0, clock_speed = 1;
    const char *clock_from = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            cfg->data_dir = optarg;
            break;
        case 'l':
            bad |= parse_listen(optarg, cfg);
            break;
        case 'p':
            cfg->port_file = optarg;
            break;
        case 'L': {
            int lv = pm_log_parse_level(optarg);
            if (lv < 0)
                bad = 1;
            else
                pm_log_set_level(lv);
            break;
        }
        case 'i':
            bad |= parse_u32(optarg, &cfg->idle_timeout_s) || cfg->idle_timeout_s == 0;
            break;
        case 's':
            bad |= parse_u32(optarg, &cfg->session_max_s) || cfg->session_max_s == 0;
            break;
        case 'f':
            bad |= parse_u32(optarg, &cfg->lockout_failures) || cfg->lockout_failures == 0;
            break;
        case 'T':
            bad |= parse_u32(optarg, &cfg->lockout_s);
            break;
        case 'D':
            bad |= parse_u32(optarg, &cfg->login_delay_ms);
            if (cfg->login_delay_ms > cfg->login_delay_max_ms)
                cfg->login_delay_max_ms = cfg->login_delay_ms;
            break;
        case 'c':
            bad |= parse_u32(optarg, &cfg->hash_concurrency) || cfg->hash_concurrency == 0;
            break;
        case 'm':
            bad |= parse_u32(optarg, &cfg->max_connections);
            break;
        case 'e':
            bad |= parse_u32(optarg, &cfg->event_retention_s);
            break;
        case 'H':
            bad |= parse_u32(optarg, &u) || u > 24 * 30;
            sched_cfg.late_cancel_s = u * 3600;
            break;
        case 'g':
            bad |= parse_u32(optarg, &u) || u > 240;
            flow_cfg.grace_s = u * 60;
            break;
        case 'N':
            flow_cfg.auto_no_show = 1;
            break;
        case 'o':
            bad |= parse_u32(optarg, &u) || u == 0 || u > 7 * 86400;
            sched_cfg.offer_ttl_s = u;
            break;
        case 'R':
            bad |= parse_u32(optarg, &cfg->replay_max) || cfg->replay_max == 0;
            break;
        case 'O':
            bad |= parse_u32(optarg, &u) || u < 64;
            cfg->out_limit = (size_t)u * 1024;
            if (cfg->out_soft_limit > cfg->out_limit)
                cfg->out_soft_limit = cfg->out_limit;
            break;
        case 'Q':
            bad |= parse_output_soft(optarg, cfg);
            break;
        case 'K':
            bad |= parse_u32(optarg, &u) || u == 0 || u > 3600;
            clock_speed = u;
            break;
        case 'B':
            bad |= parse_u32(optarg, &u) || u == 0 || u > 512;
            cfg->max_batch = u;
            break;
        case 'F':
            bad |= parse_u32(optarg, &u) || u == 0 || u > 3600;
            cfg->frame_timeout_ms = u * 1000;
            break;
        case 'k':
            clock_from = optarg;
            break;
        case 'W':
            bad |= parse_u32(optarg, &u);
            cfg->writer_delay_ms = u;
            break;
        case 'h':
            serve_usage(stdout);
            return 0;
        default:
            serve_usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "practiced serve: bad value '%s'\n", optarg ? optarg : "");
            return 2;
        }
    }
    if (!cfg->data_dir || optind < argc) {
        serve_usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    /* One server per practice. */
    char lockpath[4096];
    snprintf(lockpath, sizeof lockpath, "%s/practiced.lock", cfg->data_dir);
    int lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd < 0) {
        pm_error("cannot open %s: %s (is --data a practice made by 'practiced init'?)", lockpath,
                 strerror(errno));
        return 1;
    }
    if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
        pm_error("another practiced is already serving %s", cfg->data_dir);
        return 1;
    }

    int rc = store_open(&srv.st, cfg->data_dir, STORE_OPEN);
    if (rc) {
        pm_error("cannot open the practice in %s: %s", cfg->data_dir, pm_strerror(rc));
        return 1;
    }
    store_set_writer_delay(srv.st, cfg->writer_delay_ms);
    store_set_max_batch(srv.st, cfg->max_batch);
    MDB_txn *txn;
    if ((rc = store_txn_begin(srv.st, 0, &txn)) == PM_OK) {
        store_meta_get_str(txn, srv.st, "practice_name", srv.practice_name,
                           sizeof srv.practice_name);
        store_meta_get_str(txn, srv.st, "timezone", srv.timezone, sizeof srv.timezone);
        mdb_txn_abort(txn);
    }
    if (pm_tz_use(srv.timezone) != PM_OK) {
        pm_error("the practice's time zone '%s' is not installed (package tzdata)", srv.timezone);
        return 1;
    }
    if (clock_speed > 1 || clock_from) {
        time_t start = 0;
        if (clock_from && pm_parse_local_time(clock_from, time(NULL), &start) != 0) {
            pm_error("--clock-start: '%s' is not a time (\"today 08:45\", \"mon 09:00\")",
                     clock_from);
            return 2;
        }
        sched_clock_set(clock_speed, start);
        time_t t = sched_now();
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime(&t));
        pm_info("demo clock: the practice's time is %s, running %ux real time", when, clock_speed);
    }
    if ((rc = tls_setup(cfg->data_dir))) {
        pm_error("TLS setup failed: %s", pm_strerror(rc));
        return 1;
    }
    if ((rc = auth_init())) {
        pm_error("auth setup failed: %s", pm_strerror(rc));
        return 1;
    }
    srv.loop = uv_default_loop();
    if ((rc = store_writer_start(srv.st, srv.loop))) {
        pm_error("cannot start the writer thread: %s", pm_strerror(rc));
        return 1;
    }
    if ((rc = net_listen(cfg->listen_host, cfg->listen_port))) {
        store_writer_stop(srv.st);
        uv_run(srv.loop, UV_RUN_NOWAIT);
        return 1;
    }
    int port = net_bound_port();
    if (cfg->port_file && write_port_file(cfg->port_file, port) != PM_OK) {
        pm_error("cannot write %s", cfg->port_file);
        return 1;
    }
    uv_signal_init(srv.loop, &srv.sigint);
    uv_signal_init(srv.loop, &srv.sigterm);
    uv_signal_start(&srv.sigint, on_signal, SIGINT);
    uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
    uv_timer_init(srv.loop, &srv.tick);
    uv_timer_start(&srv.tick, on_tick, 1000, 1000);
    pm_info("practiced %s serving \"%s\" on %s:%d (data %s, time zone %s, pid %d)", PM_VERSION,
            srv.practice_name, cfg->listen_host, port, cfg->data_dir, srv.timezone, (int)getpid());
    maintenance(1);

    uv_run(srv.loop, UV_RUN_DEFAULT);

    auth_shutdown();
    tls_teardown();
    store_close(srv.st);
    uv_loop_close(srv.loop);
    close(lockfd);
    pm_info("stopped");
    return 0;
}
