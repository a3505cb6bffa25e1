/* Accounts, passwords and sessions.
 *
 * Passwords are Argon2id, hashed and verified on the libuv thread pool, never more than
 * hash_concurrency at once. Failed logins are counted per username in the store (known
 * or not, so an unknown user costs the same time and gets the same answer), with a
 * growing delay and a lock after lockout_failures. Sessions are 256-bit random tokens;
 * only their SHA-256 is kept, in memory for the gate and in the store so that a restart
 * does not log everyone out. Idle and absolute timeouts run on the monotonic clock. */
#ifndef AUTH_H
#define AUTH_H

#include <stdint.h>

#include "net.h"
#include "store.h"

struct req;

typedef struct session {
    struct session *next; /* hash chain */
    uint8_t hash[32];
    uint64_t account_id;
    int role;
    int must_change;
    char username[64];
    char device[64];
    char location[64];        /* display devices: their location */
    uint64_t expires_wall;    /* UTC seconds */
    uint64_t abs_deadline_ms; /* monotonic */
    uint64_t last_active_ms;  /* monotonic */
    uint32_t nconns;
} session;

typedef struct argon2_params {
    uint32_t m_kib;
    uint32_t t;
} argon2_params;

#define ARGON2_DEFAULT_M_KIB 19456
#define ARGON2_DEFAULT_T     2
#define PASSWORD_MIN         10
#define PASSWORD_MAX         128
#define USERNAME_MAX         32

/* Serve start: loads sessions, prepares the stand-in hash for unknown users. */
int auth_init(void);
void auth_shutdown(void);
/* Once a second: ends sessions past their timeouts and tells their screens. */
void auth_tick(void);
size_t auth_session_count(void);
/* Password hashes done since start, and the most that ran at once. */
void auth_hash_stats(uint64_t *done, uint64_t *peak);

/* Fills r's who-fields from the connection's session and checks the request may run:
 * 0, or UNAUTHENTICATED, SESSION_EXPIRED, PASSWORD_CHANGE_REQUIRED, PERMISSION_DENIED. */
int auth_gate(struct req *r);
void auth_conn_closed(conn *c);

/* Request paths. */
void auth_login(struct req *r);
void auth_resume(struct req *r);
void auth_logout(struct req *r);
void auth_change_password(struct req *r);
void accounts_create(struct req *r);
void accounts_create_device(struct req *r);
void accounts_reset_password(struct req *r);
int accounts_list(struct req *r, MDB_txn *txn);
void accounts_set_disabled(struct req *r);

/* Hashing, shared with init and the tests. */
int password_hash(const argon2_params *p, const char *password, char *out, size_t outlen);
int password_verify(const char *encoded, const char *password);
/* A one-time password people can read and type: "xxxx-xxxx-xxxx". */
void password_generate(char *out, size_t groups);
/* Checks a new password against the policy; returns a message or NULL. */
const char *password_policy(const char *password);
/* Checks a username: 1-32 of a-z 0-9 . _ -, starting with a letter. */
int username_valid(const char *name);
/* Creates an account in txn (init and CreateAccount). */
int account_insert(MDB_txn *txn, store *st, const char *username, const char *display_name,
                   int role, const char *pw_hash, int must_change, int device, const char *location,
                   uint64_t now, Pm__Account **out, pm_arena *a);
int argon2_params_load(MDB_txn *txn, store *st, argon2_params *p);

#endif
