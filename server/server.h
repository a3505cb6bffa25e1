/* The daemon's shared state. There is one server per process, owned by the loop thread;
 * the writer thread touches only the store and the jobs handed to it. */
#ifndef SERVER_H
#define SERVER_H

#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <stdint.h>
#include <uv.h>

#include "pm_tls.h"
#include "store.h"

typedef struct server_config {
    const char *data_dir;
    char listen_host[64];
    int listen_port;
    const char *port_file;
    uint32_t idle_timeout_s;   /* session idle timeout */
    uint32_t session_max_s;    /* session absolute timeout */
    uint32_t lockout_failures; /* failed logins before the account locks */
    uint32_t lockout_s;        /* how long it stays locked */
    uint32_t login_delay_ms;   /* first failure's delay; doubles per failure */
    uint32_t login_delay_max_ms;
    uint32_t hash_concurrency; /* Argon2 hashes running at once */
    uint32_t max_connections;
    uint32_t max_inflight; /* requests in flight per connection before reading pauses */
    uint32_t handshake_timeout_ms;
    uint32_t prelogin_timeout_ms; /* a connection must log in within this */
    uint32_t frame_timeout_ms;    /* a started frame must be complete within this */
    uint32_t idem_retention_s;    /* request keys remembered at least this long */
    uint32_t event_retention_s;
    uint32_t replay_max;   /* events a subscriber may be behind and still be replayed */
    size_t out_limit;      /* bytes queued to one connection before it is cut off */
    size_t out_soft_limit; /* ... or held over this for longer than out_soft_s */
    uint32_t out_soft_s;
    unsigned writer_delay_ms; /* test hook */
    unsigned max_batch;       /* writes per commit at most */
} server_config;

void server_config_defaults(server_config *cfg);

typedef struct conn conn;
struct session;

typedef struct server {
    uv_loop_t *loop;
    server_config cfg;
    store *st;
    char practice_name[128];
    char timezone[64];

    pm_rng rng;
    mbedtls_ssl_config tls;
    mbedtls_x509_crt chain; /* server certificate followed by the practice CA */
    mbedtls_pk_context key;
    struct tickets *tickets; /* session tickets that outlive a restart */

    uv_tcp_t listener;
    uv_signal_t sigint, sigterm;
    uv_timer_t tick; /* once a second: session expiry, maintenance */

    conn *conns; /* every open connection */
    uint64_t nconns;
    uint64_t next_conn_id;
    uint64_t inflight;   /* requests accepted and not yet answered, server-wide */
    uint64_t replayed;   /* write requests answered from their request key's first answer */
    uint64_t handshakes; /* TLS handshakes completed */
    uint64_t handshakes_deferred; /* handshake steps put off to a later turn */
    int stopping;

    uint8_t rxbuf[65536]; /* shared read buffer: ciphertext lands here, is consumed at once */
    uint8_t ptbuf[16384]; /* shared plaintext buffer for mbedtls_ssl_read */
} server;

extern server srv;

/* practiced init / serve / backup / check */
int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_check(int argc, char **argv);

/* Begins a clean shutdown once every request in flight has been answered. */
void server_maybe_finish_stop(void);

#endif
