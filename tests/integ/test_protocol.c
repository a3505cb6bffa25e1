/* Hostile and broken input on the wire: each case gets an error or a close, the server
 * stays up, and a logged-in control client keeps getting answers throughout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "pm_err.h"
#include "pm_frame.h"
#include "pm_time.h"

#include <mbedtls/net_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ts_server S;
static pc_client *CTRL;

static int setup(void **state)
{
    (void)state;
    if (ts_init(&S, NULL) || ts_start(&S, "--frame-timeout 2"))
        return -1;
    CTRL = ts_manager(&S);
    return CTRL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    pc_free(CTRL);
    int rc = ts_stop(&S, SIGTERM);
    if (rc == 0)
        ts_cleanup(&S);
    return rc;
}

/* The control client still gets a fast answer. */
static void control_ok(void)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PING), *resp = NULL;
    e->ping = pm_msg_new(&a, &pm__ping__descriptor);
    uint64_t t0 = pm_mono_us();
    assert_int_equal(pc_call(CTRL, e, &a, &resp), PM_OK);
    uint64_t us = pm_mono_us() - t0;
    print_message("      control client answered in %llu us\n", (unsigned long long)us);
    pm_arena_free(&a);
}

/* The next frame from the server: its decoded envelope (in a), or NULL on close. */
static Pm__Envelope *next(ts_raw *r, pm_arena *a, int *closed)
{
    uint8_t *body;
    uint32_t len;
    int rc = ts_raw_frame(r, 10000, &body, &len);
    *closed = rc == 0;
    assert_true(rc == 1 || rc == 0);
    if (rc != 1)
        return NULL;
    Pm__Envelope *e = pm__envelope__unpack(pm_arena_pbc(a), len, body);
    free(body);
    assert_non_null(e);
    return e;
}

static void expect_error(ts_raw *r, pm_arena *a, int code)
{
    int closed;
    Pm__Envelope *e = next(r, a, &closed);
    assert_non_null(e);
    assert_int_equal(e->body_case, PM__ENVELOPE__BODY_ERROR);
    assert_int_equal(-(int)e->error->code, code);
    assert_true(strlen(e->error->message) > 0);
}

static void expect_close(ts_raw *r, pm_arena *a)
{
    int closed;
    Pm__Envelope *e = next(r, a, &closed);
    assert_null(e);
    assert_true(closed);
}

static void hello(ts_raw *r, pm_arena *a)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_HELLO);
    Pm__Hello *h = pm_msg_new(a, &pm__hello__descriptor);
    h->protocol_version = PM_PROTOCOL_VERSION;
    e->hello = h;
    e->id = 1;
    assert_int_equal(ts_raw_env(r, e), 0);
    int closed;
    Pm__Envelope *resp = next(r, a, &closed);
    assert_non_null(resp);
    assert_int_equal(resp->body_case, PM__ENVELOPE__BODY_HELLO_OK);
    assert_int_equal(resp->id, 1);
}

static void send_len(ts_raw *r, uint32_t len)
{
    uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    assert_int_equal(ts_raw_send(r, h, 4), 0);
}

static void test_oversize_prelogin(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    ts_raw *r = ts_raw_open(&S);
    assert_non_null(r);
    hello(r, &a);
    send_len(r, PM_FRAME_MAX_PRELOGIN + 1);
    expect_error(r, &a, PM_E_FRAME_TOO_LARGE);
    expect_close(r, &a);
    ts_raw_close(r);
    /* and the largest length there is */
    r = ts_raw_open(&S);
    send_len(r, UINT32_MAX);
    expect_error(r, &a, PM_E_FRAME_TOO_LARGE);
    expect_close(r, &a);
    ts_raw_close(r);
    control_ok();
    pm_arena_free(&a);
}

static void test_zero_length(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    ts_raw *r = ts_raw_open(&S);
    send_len(r, 0);
    expect_error(r, &a, PM_E_PROTOCOL);
    expect_close(r, &a);
    ts_raw_close(r);
    control_ok();
    pm_arena_free(&a);
}

/* Garbage inside a well-framed message is answered, and the connection goes on. */
static void test_garbage_body(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    ts_raw *r = ts_raw_open(&S);
    hello(r, &a);
    uint8_t junk[300];
    srand(7);
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (uint8_t)rand();
        junk[0] = 0xff; /* an invalid wire type up front: never a valid Envelope */
        send_len(r, sizeof junk);
        assert_int_equal(ts_raw_send(r, junk, sizeof junk), 0);
        expect_error(r, &a, PM_E_PROTOCOL);
    }
    /* a valid message still works on the same connection */
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PING);
    e->ping = pm_msg_new(&a, &pm__ping__descriptor);
    e->id = 77;
    assert_int_equal(ts_raw_env(r, e), 0);
    int closed;
    Pm__Envelope *resp = next(r, &a, &closed);
    assert_non_null(resp);
    assert_int_equal(resp->body_case, PM__ENVELOPE__BODY_PONG);
    assert_int_equal(resp->id, 77);
    ts_raw_close(r);
    control_ok();
    pm_arena_free(&a);
}

static void test_order_and_version(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    /* a request before Hello */
    ts_raw *r = ts_raw_open(&S);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_LIST_ACCOUNTS);
    e->list_accounts = pm_msg_new(&a, &pm__list_accounts__descriptor);
    e->id = 5;
    assert_int_equal(ts_raw_env(r, e), 0);
    expect_error(r, &a, PM_E_PROTOCOL);
    expect_close(r, &a);
    ts_raw_close(r);
    /* a protocol version the server does not speak */
    r = ts_raw_open(&S);
    Pm__Envelope *h = pc_env(&a, PM__ENVELOPE__BODY_HELLO);
    h->hello = pm_msg_new(&a, &pm__hello__descriptor);
    h->hello->protocol_version = 99;
    assert_int_equal(ts_raw_env(r, h), 0);
    expect_error(r, &a, PM_E_UNSUPPORTED_VERSION);
    expect_close(r, &a);
    ts_raw_close(r);
    /* after Hello but before login: refused, the connection stays */
    r = ts_raw_open(&S);
    hello(r, &a);
    assert_int_equal(ts_raw_env(r, e), 0);
    expect_error(r, &a, PM_E_UNAUTHENTICATED);
    /* a forged session token */
    Pm__Envelope *rs = pc_env(&a, PM__ENVELOPE__BODY_RESUME);
    rs->resume = pm_msg_new(&a, &pm__resume__descriptor);
    static uint8_t forged[32] = {1, 2, 3};
    rs->resume->token.data = forged;
    rs->resume->token.len = 32;
    assert_int_equal(ts_raw_env(r, rs), 0);
    expect_error(r, &a, PM_E_SESSION_EXPIRED);
    /* a message type the server does not know (field 999 of Envelope) */
    static const uint8_t unknown[] = {0x08, 0x09, 0xba, 0x3e, 0x00};
    send_len(r, sizeof unknown);
    assert_int_equal(ts_raw_send(r, unknown, sizeof unknown), 0);
    expect_error(r, &a, PM_E_UNKNOWN_REQUEST);
    /* a response type sent as a request */
    Pm__Envelope *po = pc_env(&a, PM__ENVELOPE__BODY_PATIENT_OK);
    po->patient_ok = pm_msg_new(&a, &pm__patient_ok__descriptor);
    assert_int_equal(ts_raw_env(r, po), 0);
    expect_error(r, &a, PM_E_UNKNOWN_REQUEST);
    ts_raw_close(r);
    control_ok();
    pm_arena_free(&a);
}

/* Invalid UTF-8 in a string field is refused by the decoder. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    ts_raw *r = ts_raw_open(&S);
    hello(r, &a);
    /* Envelope{id=3, login{username="\xff\xfe", password="x"}} */
    static const uint8_t bad[] = {0x08, 0x03, 0x6a, 0x07, 0x0a, 0x02, 0xff, 0xfe, 0x12, 0x01, 'x'};
    send_len(r, sizeof bad);
    assert_int_equal(ts_raw_send(r, bad, sizeof bad), 0);
    expect_error(r, &a, PM_E_PROTOCOL);
    ts_raw_close(r);
    control_ok();
    pm_arena_free(&a);
}

/* Truncated frames: the client sends part of a frame and goes away, or stalls. */
static void test_truncated(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    for (int cut = 1; cut < 12; cut++) {
        ts_raw *r = ts_raw_open(&S);
        hello(r, &a);
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PING);
        e->ping = pm_msg_new(&a, &pm__ping__descriptor);
        e->ping->nonce = 123456789;
        size_t len;
        uint8_t *buf = pm_frame_pack(e, &len);
        assert_true((size_t)cut < len);
        assert_int_equal(ts_raw_send(r, buf, (size_t)cut), 0);
        free(buf);
        ts_raw_close(r); /* gone mid-frame */
    }
    /* a header promising 1000 bytes, then only 10, and the client waits: no answer */
    ts_raw *r = ts_raw_open(&S);
    hello(r, &a);
    send_len(r, 1000);
    uint8_t ten[10] = {0};
    assert_int_equal(ts_raw_send(r, ten, sizeof ten), 0);
    uint8_t *body;
    uint32_t blen;
    assert_int_equal(ts_raw_frame(r, 500, &body, &blen), -1);
    control_ok();
    ts_raw_close(r);
    pm_arena_free(&a);
}

/* After login the limit is 1 MiB; beyond it, an error and a close. */
static void test_oversize_after_login(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    ts_raw *r = ts_raw_open(&S);
    hello(r, &a);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_RESUME);
    e->resume = pm_msg_new(&a, &pm__resume__descriptor);
    e->resume->token.data = (uint8_t *)pc_token(CTRL);
    e->resume->token.len = 32;
    e->id = 2;
    assert_int_equal(ts_raw_env(r, e), 0);
    int closed;
    Pm__Envelope *resp = next(r, &a, &closed);
    assert_non_null(resp);
    assert_int_equal(resp->body_case, PM__ENVELOPE__BODY_LOGIN_OK);
    /* a 100 KiB request is fine now (a patient with long notes is refused politely) */
    Pm__Envelope *big = pc_env(&a, PM__ENVELOPE__BODY_SEARCH_PATIENTS);
    big->search_patients = pm_msg_new(&a, &pm__search_patients__descriptor);
    char *name = malloc(100 * 1024);
    memset(name, 'a', 100 * 1024 - 1);
    name[100 * 1024 - 1] = 0;
    big->search_patients->name = name;
    assert_int_equal(ts_raw_env(r, big), 0);
    expect_error(r, &a, PM_E_INVALID_ARGUMENT);
    free(name);
    send_len(r, PM_FRAME_MAX + 1);
    expect_error(r, &a, PM_E_FRAME_TOO_LARGE);
    expect_close(r, &a);
    ts_raw_close(r);
    control_ok();
    pm_arena_free(&a);
}

/* A logged-in client that sends a frame one byte now and then is cut off in bounded
 * time (the server runs with --frame-timeout 2). */
static void test_slow_frame(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    ts_raw *r = ts_raw_open(&S);
    hello(r, &a);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_RESUME);
    e->resume = pm_msg_new(&a, &pm__resume__descriptor);
    e->resume->token.data = (uint8_t *)pc_token(CTRL);
    e->resume->token.len = 32;
    assert_int_equal(ts_raw_env(r, e), 0);
    int closed;
    assert_non_null(next(r, &a, &closed));
    send_len(r, 500 * 1024);
    uint64_t t0 = pm_mono_ms();
    uint8_t *body = NULL;
    uint32_t len;
    int rc = -1;
    for (int i = 0; i < 10 && rc == -1; i++) {
        ts_raw_send(r, "x", 1);
        rc = ts_raw_frame(r, 1000, &body, &len);
    }
    assert_int_equal(rc, 1); /* the error frame */
    Pm__Envelope *err = pm__envelope__unpack(pm_arena_pbc(&a), len, body);
    free(body);
    assert_non_null(err);
    assert_int_equal(err->body_case, PM__ENVELOPE__BODY_ERROR);
    expect_close(r, &a);
    uint64_t ms = pm_mono_ms() - t0;
    print_message("      slow frame cut off after %llu ms\n", (unsigned long long)ms);
    assert_true(ms >= 1500 && ms < 6000);
    ts_raw_close(r);
    control_ok();
    pm_arena_free(&a);
}

/* Many connections that never finish the TLS handshake do not stop the others. */
static void test_stalled_handshakes(void **state)
{
    (void)state;
    mbedtls_net_context socks[200];
    char port[16];
    snprintf(port, sizeof port, "%d", S.port);
    for (int i = 0; i < 200; i++) {
        mbedtls_net_init(&socks[i]);
        assert_int_equal(mbedtls_net_connect(&socks[i], "127.0.0.1", port, MBEDTLS_NET_PROTO_TCP),
                         0);
        if (i % 2)
            assert_int_equal(mbedtls_net_send(&socks[i], (const unsigned char *)"\x16\x03\x01", 3),
                             3);
    }
    control_ok();
    for (int i = 0; i < 200; i++)
        mbedtls_net_free(&socks[i]);
    control_ok();
}

/* The client library's connections ask the kernel to notice a peer that went silent (a
 * server machine that lost power): keepalive after 30 s idle, three probes 10 s apart. */
static void test_client_keepalive(void **state)
{
    (void)state;
    pc_client *c = ts_client(&S);
    assert_non_null(c);
    int fd = pc_fd(c), on = 0, idle = 0, cnt = 0;
    socklen_t l = sizeof on;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &l), 0);
    l = sizeof idle;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &l), 0);
    l = sizeof cnt;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, &l), 0);
    assert_int_equal(on, 1);
    assert_int_equal(idle, 30);
    assert_int_equal(cnt, 3);
    pc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oversize_prelogin),    cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_garbage_body),         cmocka_unit_test(test_order_and_version),
        cmocka_unit_test(test_invalid_utf8),         cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_oversize_after_login), cmocka_unit_test(test_slow_frame),
        cmocka_unit_test(test_stalled_handshakes),   cmocka_unit_test(test_client_keepalive),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
