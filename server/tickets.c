#include "tickets.h"

#include "pm_cert.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_util.h"

#include <errno.h>
#include <mbedtls/gcm.h>
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAGIC     "PMTICKT1"
#define NAME_LEN  4
#define KEY_LEN   32
#define IV_LEN    12
#define TAG_LEN   16
#define ENTRY_LEN (NAME_LEN + KEY_LEN + 8)
#define FILE_LEN  (8 + 2 * ENTRY_LEN)
#define HEAD_LEN  (NAME_LEN + IV_LEN + 2)

typedef struct tkey {
    uint8_t name[NAME_LEN];
    uint8_t key[KEY_LEN];
    uint64_t created; /* wall clock */
    int set;
    mbedtls_gcm_context gcm;
} tkey;

struct tickets {
    tkey keys[2]; /* [0] seals; [1] the one before, still opens */
    pm_rng *rng;
    char path[4096];
    uint64_t accepted, issued;
};

static void key_drop(tkey *k)
{
    if (k->set)
        mbedtls_gcm_free(&k->gcm);
    mbedtls_platform_zeroize(k, sizeof *k);
}

static int key_arm(tkey *k)
{
    mbedtls_gcm_init(&k->gcm);
    k->set = 1;
    return mbedtls_gcm_setkey(&k->gcm, MBEDTLS_CIPHER_ID_AES, k->key, KEY_LEN * 8) == 0 ? PM_OK
                                                                                        : PM_E_TLS;
}

static int save(tickets *t)
{
    uint8_t buf[FILE_LEN] = {0};
    memcpy(buf, MAGIC, 8);
    for (int i = 0; i < 2; i++) {
        uint8_t *e = buf + 8 + i * ENTRY_LEN;
        if (!t->keys[i].set)
            continue;
        memcpy(e, t->keys[i].name, NAME_LEN);
        memcpy(e + NAME_LEN, t->keys[i].key, KEY_LEN);
        pm_put_u64(e + NAME_LEN + KEY_LEN, t->keys[i].created);
    }
    int rc = pm_write_file(t->path, buf, sizeof buf, 0600);
    mbedtls_platform_zeroize(buf, sizeof buf);
    return rc;
}

static int load(tickets *t)
{
    FILE *f = fopen(t->path, "rb");
    if (!f)
        return errno == ENOENT ? PM_E_NOT_FOUND : PM_E_IO;
    uint8_t buf[FILE_LEN];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int rc = PM_OK;
    if (n != sizeof buf || memcmp(buf, MAGIC, 8) != 0) {
        rc = PM_E_CONFIG;
    } else {
        for (int i = 0; i < 2 && rc == PM_OK; i++) {
            const uint8_t *e = buf + 8 + i * ENTRY_LEN;
            uint64_t created = pm_get_u64(e + NAME_LEN + KEY_LEN);
            if (!created)
                continue;
            memcpy(t->keys[i].name, e, NAME_LEN);
            memcpy(t->keys[i].key, e + NAME_LEN, KEY_LEN);
            t->keys[i].created = created;
            rc = key_arm(&t->keys[i]);
        }
        if (rc == PM_OK && !t->keys[0].set)
            rc = PM_E_CONFIG;
    }
    mbedtls_platform_zeroize(buf, sizeof buf);
    return rc;
}

/* A new sealing key; the old one goes on opening what it sealed. */
static int rotate(tickets *t)
{
    tkey fresh = {0};
    if (pm_rng_bytes(t->rng, fresh.name, NAME_LEN) || pm_rng_bytes(t->rng, fresh.key, KEY_LEN))
        return PM_E_TLS;
    fresh.created = (uint64_t)time(NULL);
    key_drop(&t->keys[1]);
    t->keys[1] = t->keys[0];
    t->keys[0] = fresh;
    int rc = key_arm(&t->keys[0]);
    return rc ? rc : save(t);
}

static int ticket_write(void *p, const mbedtls_ssl_session *session, unsigned char *start,
                        const unsigned char *end, size_t *tlen, uint32_t *lifetime)
{
    tickets *t = p;
    tkey *k = &t->keys[0];
    size_t room = (size_t)(end - start), plen = 0;
    if (room < HEAD_LEN + TAG_LEN)
        return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
    unsigned char *ct = start + HEAD_LEN;
    int r = mbedtls_ssl_session_save(session, ct, room - HEAD_LEN - TAG_LEN, &plen);
    if (r)
        return r;
    if (plen > 0xffff)
        return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
    memcpy(start, k->name, NAME_LEN);
    unsigned char *iv = start + NAME_LEN;
    if ((r = pm_rng_bytes(t->rng, iv, IV_LEN)) != 0)
        return r;
    start[NAME_LEN + IV_LEN] = (unsigned char)(plen >> 8);
    start[NAME_LEN + IV_LEN + 1] = (unsigned char)plen;
    /* the name, IV and length are authenticated with the sealed session */
    r = mbedtls_gcm_crypt_and_tag(&k->gcm, MBEDTLS_GCM_ENCRYPT, plen, iv, IV_LEN, start, HEAD_LEN,
                                  ct, ct, TAG_LEN, ct + plen);
    if (r)
        return r;
    *tlen = HEAD_LEN + plen + TAG_LEN;
    *lifetime = TICKET_LIFETIME_S;
    t->issued++;
    return 0;
}

static int ticket_parse(void *p, mbedtls_ssl_session *session, unsigned char *buf, size_t len)
{
    tickets *t = p;
    if (len < HEAD_LEN + TAG_LEN)
        return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    size_t plen = (size_t)buf[NAME_LEN + IV_LEN] << 8 | buf[NAME_LEN + IV_LEN + 1];
    if (len != HEAD_LEN + plen + TAG_LEN)
        return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    tkey *k = NULL;
    for (int i = 0; i < 2 && !k; i++)
        if (t->keys[i].set && memcmp(buf, t->keys[i].name, NAME_LEN) == 0)
            k = &t->keys[i];
    if (!k)
        return MBEDTLS_ERR_SSL_INVALID_MAC; /* a key we no longer have: a full handshake */
    unsigned char *ct = buf + HEAD_LEN;
    if (mbedtls_gcm_auth_decrypt(&k->gcm, plen, buf + NAME_LEN, IV_LEN, buf, HEAD_LEN, ct + plen,
                                 TAG_LEN, ct, ct) != 0)
        return MBEDTLS_ERR_SSL_INVALID_MAC;
    int r = mbedtls_ssl_session_load(session, ct, plen);
    mbedtls_platform_zeroize(ct, plen);
    if (r)
        return r;
    time_t now = time(NULL);
    if (session->start > now || now - session->start > (time_t)TICKET_LIFETIME_S)
        return MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
    t->accepted++;
    return 0;
}

int tickets_open(tickets **out, const char *dir, pm_rng *rng, mbedtls_ssl_config *conf)
{
    tickets *t = calloc(1, sizeof *t);
    if (!t)
        return PM_E_NOMEM;
    t->rng = rng;
    snprintf(t->path, sizeof t->path, "%s/tickets.key", dir);
    int rc = load(t);
    if (rc == PM_E_NOT_FOUND) {
        rc = rotate(t);
    } else if (rc == PM_E_CONFIG) {
        pm_warn("tls: %s is not a ticket key file; making a new one (clients do a full "
                "handshake once)",
                t->path);
        key_drop(&t->keys[0]);
        key_drop(&t->keys[1]);
        rc = rotate(t);
    }
    if (rc) {
        pm_error("tls: cannot keep the session ticket keys in %s: %s", t->path, pm_strerror(rc));
        tickets_close(t);
        return rc;
    }
    tickets_tick(t);
    mbedtls_ssl_conf_session_tickets_cb(conf, ticket_write, ticket_parse, t);
    *out = t;
    return PM_OK;
}

void tickets_tick(tickets *t)
{
    uint64_t now = (uint64_t)time(NULL);
    if (!t || now < t->keys[0].created + TICKET_LIFETIME_S)
        return;
    int rc = rotate(t);
    if (rc)
        pm_warn("tls: cannot save the new session ticket key: %s (kept in memory)",
                pm_strerror(rc));
    else
        pm_info("tls: new session ticket key; the previous one still opens its tickets");
}

void tickets_stats(const tickets *t, uint64_t *accepted, uint64_t *issued)
{
    *accepted = t ? t->accepted : 0;
    *issued = t ? t->issued : 0;
}

void tickets_close(tickets *t)
{
    if (!t)
        return;
    key_drop(&t->keys[0]);
    key_drop(&t->keys[1]);
    free(t);
}
