/* Error codes for the whole project: 0 is success, failures are negative. Codes down to
 * PM_E_ROOM_BUSY travel on the wire as pm.ErrorCode (the positive value); the rest are local
 * to a process (a client that cannot connect, a file that cannot be written). */
#ifndef PM_ERR_H
#define PM_ERR_H

#define PM_ERRNO_MAP(X)                                                                            \
    X(INTERNAL, 1, "internal error")                                                               \
    X(PROTOCOL, 2, "malformed or unexpected message")                                              \
    X(FRAME_TOO_LARGE, 3, "frame too large")                                                       \
    X(UNSUPPORTED_VERSION, 4, "unsupported protocol version")                                      \
    X(UNKNOWN_REQUEST, 5, "unknown request")                                                       \
    X(UNAUTHENTICATED, 6, "not logged in")                                                         \
    X(BAD_CREDENTIALS, 7, "wrong username or password")                                            \
    X(LOCKED, 8, "too many failed logins; try again later")                                        \
    X(SESSION_EXPIRED, 9, "session expired; log in again")                                         \
    X(PASSWORD_CHANGE_REQUIRED, 10, "password change required")                                    \
    X(PERMISSION_DENIED, 11, "permission denied")                                                  \
    X(INVALID_ARGUMENT, 12, "invalid argument")                                                    \
    X(NOT_FOUND, 13, "not found")                                                                  \
    X(CONFLICT, 14, "changed by someone else since you read it")                                   \
    X(ALREADY_EXISTS, 15, "already exists")                                                        \
    X(STORAGE, 16, "storage error; not saved")                                                     \
    X(BUSY, 17, "server busy; try again")                                                          \
    X(SHUTTING_DOWN, 18, "server shutting down")                                                   \
    X(ACCOUNT_DISABLED, 19, "account disabled")                                                    \
    X(RELOAD, 20, "too far behind; reload")                                                        \
    X(OUTSIDE_AVAILABILITY, 21, "outside the provider's availability")                             \
    X(SLOT_FULL, 22, "that time is fully booked")                                                  \
    X(PATIENT_BUSY, 23, "the patient has another appointment then")                                \
    X(ROOM_BUSY, 24, "the room is taken then")                                                     \
    X(CONNECT, 100, "cannot connect to server")                                                    \
    X(TLS, 101, "TLS failure")                                                                     \
    X(CERT, 102, "server certificate not trusted")                                                 \
    X(TIMEOUT, 103, "timed out")                                                                   \
    X(CLOSED, 104, "connection closed")                                                            \
    X(NOMEM, 105, "out of memory")                                                                 \
    X(IO, 106, "input/output error")                                                               \
    X(USAGE, 107, "invalid usage")                                                                 \
    X(CONFIG, 108, "configuration error")                                                          \
    X(MAP_FULL, 109, "database map full")

#define PM_WIRE_ERR_MAX 24

enum pm_err {
    PM_OK = 0,
#define PM_ERR_ENUM(name, num, msg) PM_E_##name = -(num),
    PM_ERRNO_MAP(PM_ERR_ENUM)
#undef PM_ERR_ENUM
};

/* Human message for an error code ("unknown error" for anything else). */
const char *pm_strerror(int err);
/* Upper-case name without prefix, e.g. "NOT_FOUND". */
const char *pm_err_name(int err);
/* Whether err is one that may be sent to a peer. */
int pm_err_is_wire(int err);

/* Translations of foreign codes, at the boundary, once. */
int pm_err_from_mdb(int rc);
int pm_err_from_mbedtls(int rc);
int pm_err_from_uv(int rc);
int pm_err_from_errno(int e);

#endif
