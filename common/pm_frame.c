#include "pm_frame.h"

#include "pm_err.h"
#include "pm_util.h"

#include <stdlib.h>
#include <string.h>

void pm_framer_init(pm_framer *f, uint32_t limit)
{
    memset(f, 0, sizeof *f);
    f->limit = limit;
}

void pm_framer_free(pm_framer *f)
{
    free(f->body);
    f->body = NULL;
    f->hdr_have = f->body_have = f->body_len = f->body_cap = 0;
}

int pm_framer_busy(const pm_framer *f)
{
    return f->hdr_have > 0;
}

int pm_framer_feed(pm_framer *f, const uint8_t *p, size_t n, size_t *consumed, uint8_t **frame,
                   uint32_t *frame_len)
{
    size_t used = 0;
    *frame = NULL;
    *frame_len = 0;
    if (f->error) {
        *consumed = 0;
        return f->error;
    }
    if (f->hdr_have < PM_FRAME_HDR) {
        size_t take = PM_FRAME_HDR - f->hdr_have;
        if (take > n)
            take = n;
        memcpy(f->hdr + f->hdr_have, p, take);
        f->hdr_have += (uint32_t)take;
        used += take;
        if (f->hdr_have < PM_FRAME_HDR) {
            *consumed = used;
            return 0;
        }
        uint32_t len = (uint32_t)f->hdr[0] << 24 | (uint32_t)f->hdr[1] << 16 |
                       (uint32_t)f->hdr[2] << 8 | f->hdr[3];
        if (len == 0 || len > f->limit) {
            *consumed = used;
            f->error = len == 0 ? PM_E_PROTOCOL : PM_E_FRAME_TOO_LARGE;
            return f->error;
        }
        f->body_len = len;
        f->body_have = 0;
        f->body_cap = 0;
    }
    size_t take = f->body_len - f->body_have;
    if (take > n - used)
        take = n - used;
    if (take == 0) {
        *consumed = used;
        return 0;
    }
    if (f->body_have + take > f->body_cap) {
        size_t cap = f->body_cap ? f->body_cap : 4096;
        while (cap < f->body_have + take)
            cap *= 2;
        if (cap > f->body_len)
            cap = f->body_len;
        uint8_t *grown = realloc(f->body, cap);
        if (!grown) {
            *consumed = used;
            f->error = PM_E_NOMEM;
            return f->error;
        }
        f->body = grown;
        f->body_cap = (uint32_t)cap;
    }
    memcpy(f->body + f->body_have, p + used, take);
    f->body_have += (uint32_t)take;
    used += take;
    *consumed = used;
    if (f->body_have < f->body_len)
        return 0;
    *frame = f->body;
    *frame_len = f->body_len;
    f->body = NULL;
    f->hdr_have = f->body_have = f->body_len = f->body_cap = 0;
    return 1;
}

uint8_t *pm_frame_pack(const Pm__Envelope *env, size_t *len)
{
    size_t body = pm__envelope__get_packed_size(env);
    uint8_t *buf = malloc(PM_FRAME_HDR + body);
    if (!buf)
        return NULL;
    buf[0] = (uint8_t)(body >> 24);
    buf[1] = (uint8_t)(body >> 16);
    buf[2] = (uint8_t)(body >> 8);
    buf[3] = (uint8_t)body;
    pm__envelope__pack(env, buf + PM_FRAME_HDR);
    *len = PM_FRAME_HDR + body;
    return buf;
}

size_t pm_frame_decode_budget(size_t len)
{
    /* Real messages unpack to about the size of their encoding plus structs. A hostile
     * one (a million empty repeated submessages: 2 bytes each on the wire, ~50 unpacked)
     * runs out of budget and is refused as malformed instead of costing 50 MiB. */
    return 64 * 1024 + len * 4;
}

/* Visits m and the messages inside it: drops what protobuf-c kept of fields it does not
 * know (strip), and checks every string is text (bad != NULL). */
static int walk(ProtobufCMessage *m, const char **bad, int strip, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    char *base = (char *)m;
    if (strip) {
        m->n_unknown_fields = 0;
        m->unknown_fields = NULL;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE && (f->type != PROTOBUF_C_TYPE_STRING || !bad))
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(const void *)(base + f->quantifier_offset) != f->id)
            continue;
        size_t n = 1;
        void *const *items = (void *const *)(void *)(base + f->offset);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)(const void *)(base + f->quantifier_offset);
            items = *(void *const *const *)(void *)(base + f->offset);
        }
        for (size_t k = 0; k < n; k++) {
            void *v = items[k];
            if (!v)
                continue;
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                const char *str = v;
                if (!pm_utf8_valid(str, strlen(str), 1)) {
                    *bad = f->name;
                    return 0;
                }
            } else if (depth < 32 && !walk(v, bad, strip, depth + 1)) {
                return 0;
            }
        }
    }
    return 1;
}

Pm__Envelope *pm_frame_decode(pm_arena *a, const uint8_t *body, size_t len)
{
    Pm__Envelope *env = pm__envelope__unpack(pm_arena_pbc(a), len, body);
    /* Fields this version does not know are dropped, not carried into stored records:
     * protobuf-c would pack some of them back in a form it cannot read (a field number 0
     * written in two bytes), and a record must hold only what the server checked. */
    if (env)
        walk(&env->base, NULL, 1, 0);
    return env;
}

int pm_msg_text_valid(const ProtobufCMessage *msg, const char **bad_field)
{
    *bad_field = NULL;
    return walk((ProtobufCMessage *)msg, bad_field, 0, 0);
}

static int read_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*i >= n)
            return -1;
        uint8_t b = p[(*i)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

size_t pm_pb_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

int pm_pb_fields(const uint8_t *p, size_t n, const unsigned *fields, size_t nf, const uint8_t **val,
                 size_t *len)
{
    size_t i = 0;
    int found = 0;
    for (size_t f = 0; f < nf; f++) {
        val[f] = NULL;
        len[f] = 0;
    }
    while (i < n) {
        uint64_t tag, v;
        if (read_varint(p, n, &i, &tag))
            return -1;
        switch (tag & 7) {
        case 0:
            if (read_varint(p, n, &i, &v))
                return -1;
            break;
        case 1:
            if (n - i < 8)
                return -1;
            i += 8;
            break;
        case 5:
            if (n - i < 4)
                return -1;
            i += 4;
            break;
        case 2:
            if (read_varint(p, n, &i, &v) || v > n - i)
                return -1;
            for (size_t f = 0; f < nf; f++)
                if ((tag >> 3) == fields[f]) {
                    found += val[f] == NULL;
                    val[f] = p + i;
                    len[f] = (size_t)v;
                }
            i += (size_t)v;
            break;
        default:
            return -1;
        }
    }
    for (size_t f = 0; f < nf; f++)
        if (!val[f])
            val[f] = p; /* absent: empty */
    return found;
}

int pm_pb_field(const uint8_t *p, size_t n, unsigned field, const uint8_t **val, size_t *len)
{
    const uint8_t *v;
    size_t l;
    int rc = pm_pb_fields(p, n, &field, 1, &v, &l);
    if (rc > 0) {
        *val = v;
        *len = l;
    }
    return rc;
}
