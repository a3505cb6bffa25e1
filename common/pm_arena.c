#include "pm_arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pm_arena_chunk {
    struct pm_arena_chunk *next;
    size_t size;
    size_t off;
    max_align_t data[];
};

#define ALIGN       (_Alignof(max_align_t))
#define FIRST_CHUNK 2048

static void *pbc_alloc(void *data, size_t size)
{
    return pm_arena_alloc(data, size);
}

static void pbc_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr;
}

void pm_arena_init(pm_arena *a, size_t budget)
{
    a->head = NULL;
    a->used = 0;
    a->budget = budget;
    a->over = 0;
    a->pbc.alloc = pbc_alloc;
    a->pbc.free = pbc_free;
    a->pbc.allocator_data = a;
}

void pm_arena_free(pm_arena *a)
{
    struct pm_arena_chunk *c = a->head;
    while (c) {
        struct pm_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
    a->over = 0;
}

void *pm_arena_alloc(pm_arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / 4) { /* no request is this big; rounding and headers would wrap */
        a->over = 1;
        return NULL;
    }
    size_t rounded = (n + ALIGN - 1) & ~(ALIGN - 1);
    if (a->budget && (rounded > a->budget || a->used > a->budget - rounded)) {
        a->over = 1;
        return NULL;
    }
    struct pm_arena_chunk *c = a->head;
    if (!c || c->size - c->off < rounded) {
        size_t size = c ? c->size * 2 : FIRST_CHUNK;
        if (size > 1024 * 1024)
            size = 1024 * 1024;
        if (size < rounded)
            size = rounded;
        c = malloc(sizeof *c + size);
        if (!c) {
            a->over = 1;
            return NULL;
        }
        c->size = size;
        c->off = 0;
        /* A big one-off block goes behind the head so the head keeps its free space. */
        if (a->head && size == rounded && a->head->size - a->head->off > 0) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = (char *)c->data + c->off;
    c->off += rounded;
    a->used += rounded;
    memset(p, 0, n);
    return p;
}

void *pm_arena_memdup(pm_arena *a, const void *p, size_t n)
{
    void *q = pm_arena_alloc(a, n);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

char *pm_arena_strndup(pm_arena *a, const char *s, size_t n)
{
    char *q = pm_arena_alloc(a, n + 1);
    if (q) {
        memcpy(q, s, n);
        q[n] = 0;
    }
    return q;
}

char *pm_arena_strdup(pm_arena *a, const char *s)
{
    return pm_arena_strndup(a, s, strlen(s));
}

char *pm_arena_printf(pm_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *q = pm_arena_alloc(a, (size_t)n + 1);
    if (!q)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(q, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return q;
}

ProtobufCAllocator *pm_arena_pbc(pm_arena *a)
{
    return &a->pbc;
}

void *pm_msg_new(pm_arena *a, const ProtobufCMessageDescriptor *desc)
{
    void *m = pm_arena_alloc(a, desc->sizeof_message);
    if (m)
        protobuf_c_message_init(desc, m);
    return m;
}

int pm_arena_push(pm_arena *a, void ***v, size_t *n, size_t *cap, void *item)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        void **g = pm_arena_alloc(a, sizeof *g * nc);
        if (!g)
            return -1;
        if (*n)
            memcpy(g, *v, sizeof *g * *n);
        *v = g;
        *cap = nc;
    }
    (*v)[(*n)++] = item;
    return 0;
}
