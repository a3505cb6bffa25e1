#include "pm_err.h"

#include <errno.h>
#include <lmdb.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>
#include <uv.h>

const char *pm_strerror(int err)
{
    switch (err) {
    case PM_OK:
        return "ok";
#define PM_ERR_MSG(name, num, msg)                                                                 \
    case PM_E_##name:                                                                              \
        return msg;
        PM_ERRNO_MAP(PM_ERR_MSG)
#undef PM_ERR_MSG
    }
    return "unknown error";
}

const char *pm_err_name(int err)
{
    switch (err) {
    case PM_OK:
        return "OK";
#define PM_ERR_NAME(name, num, msg)                                                                \
    case PM_E_##name:                                                                              \
        return #name;
        PM_ERRNO_MAP(PM_ERR_NAME)
#undef PM_ERR_NAME
    }
    return "UNKNOWN";
}

int pm_err_is_wire(int err)
{
    return err <= 0 && err >= -PM_WIRE_ERR_MAX;
}

int pm_err_from_mdb(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return PM_OK;
    case MDB_NOTFOUND:
        return PM_E_NOT_FOUND;
    case MDB_KEYEXIST:
        return PM_E_ALREADY_EXISTS;
    case MDB_MAP_FULL:
        return PM_E_MAP_FULL;
    case ENOMEM:
        return PM_E_NOMEM;
    case ENOSPC:
    case EIO:
    case EDQUOT:
        return PM_E_STORAGE;
    default:
        return PM_E_STORAGE;
    }
}

int pm_err_from_mbedtls(int rc)
{
    if (rc >= 0)
        return PM_OK;
    switch (rc) {
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
        return PM_E_CERT;
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        return PM_E_NOMEM;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
    case MBEDTLS_ERR_NET_CONN_RESET:
        return PM_E_CLOSED;
    case MBEDTLS_ERR_NET_CONNECT_FAILED:
    case MBEDTLS_ERR_NET_UNKNOWN_HOST:
    case MBEDTLS_ERR_NET_SOCKET_FAILED:
        return PM_E_CONNECT;
    case MBEDTLS_ERR_SSL_TIMEOUT:
        return PM_E_TIMEOUT;
    default:
        return PM_E_TLS;
    }
}

int pm_err_from_uv(int rc)
{
    if (rc >= 0)
        return PM_OK;
    switch (rc) {
    case UV_ENOMEM:
    case UV_ENOBUFS:
        return PM_E_NOMEM;
    case UV_ECONNREFUSED:
    case UV_EADDRINUSE:
    case UV_EADDRNOTAVAIL:
    case UV_ENETUNREACH:
    case UV_EHOSTUNREACH:
        return PM_E_CONNECT;
    case UV_EOF:
    case UV_ECONNRESET:
    case UV_EPIPE:
        return PM_E_CLOSED;
    case UV_ETIMEDOUT:
        return PM_E_TIMEOUT;
    default:
        return PM_E_IO;
    }
}

int pm_err_from_errno(int e)
{
    switch (e) {
    case 0:
        return PM_OK;
    case ENOMEM:
        return PM_E_NOMEM;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
        return PM_E_CONNECT;
    case ETIMEDOUT:
        return PM_E_TIMEOUT;
    case EPIPE:
    case ECONNRESET:
        return PM_E_CLOSED;
    default:
        return PM_E_IO;
    }
}
