/* TLS session tickets that outlive the process: a restarted server still resumes the
 * sessions of every desk and board that reconnects (an abbreviated handshake instead of
 * a full one, no ECDHE or signature), which is what makes a reconnect storm short.
 *
 * A ticket is the session (mbedtls_ssl_session_save) sealed with AES-256-GCM under a key
 * kept in DIR/tickets.key (0600, beside server.key), replaced every lifetime; the key
 * before it still opens the tickets it sealed. A ticket older than its lifetime is
 * refused, so a client does a full handshake at least once a day. Loop thread only. */
#ifndef TICKETS_H
#define TICKETS_H

#include <mbedtls/ssl.h>
#include <stdint.h>

#include "pm_tls.h"

#define TICKET_LIFETIME_S 86400u

typedef struct tickets tickets;

/* Loads DIR/tickets.key, making it on first use, and hooks the tickets into conf. */
int tickets_open(tickets **out, const char *dir, pm_rng *rng, mbedtls_ssl_config *conf);
/* Once in a while (the server's tick): a key older than the lifetime is replaced. */
void tickets_tick(tickets *t);
/* Tickets accepted (resumed handshakes) and sealed since the start. */
void tickets_stats(const tickets *t, uint64_t *accepted, uint64_t *issued);
void tickets_close(tickets *t);

#endif
