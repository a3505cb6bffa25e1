/* Framing: a 4-byte big-endian length, then that many bytes of one pm.Envelope.
 *
 * The framer is fed bytes as they arrive, in pieces of any size, and checks each length
 * against its current limit before allocating anything for the body. */
#ifndef PM_FRAME_H
#define PM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "pm_arena.h"
#include "practiced.pb-c.h"

#define PM_PROTOCOL_VERSION   1
#define PM_FRAME_HDR          4
#define PM_FRAME_MAX_PRELOGIN (16u * 1024)
#define PM_FRAME_MAX          (1024u * 1024)

typedef struct pm_framer {
    uint8_t hdr[PM_FRAME_HDR];
    uint32_t hdr_have;
    uint32_t body_len;
    uint32_t body_have;
    uint8_t *body; /* grows as the body arrives: a peer that promises a megabyte and
                      sends ten bytes costs ten bytes */
    uint32_t body_cap;
    uint32_t limit;
    int error; /* once a header was bad, every later feed fails the same way */
} pm_framer;

void pm_framer_init(pm_framer *f, uint32_t limit);
void pm_framer_free(pm_framer *f);

/* Consumes bytes from p[0..n). Returns 1 with *frame (malloc'd, owned by the caller) and
 * *frame_len set when a frame is complete; 0 when all of the input was consumed without
 * completing one; PM_E_FRAME_TOO_LARGE or PM_E_PROTOCOL (zero length) on a bad header.
 * *consumed says how many bytes were used in every case. */
int pm_framer_feed(pm_framer *f, const uint8_t *p, size_t n, size_t *consumed, uint8_t **frame,
                   uint32_t *frame_len);

/* Whether a frame is partly received (a header or body in progress). */
int pm_framer_busy(const pm_framer *f);

/* Packs env behind its length prefix into a malloc'd buffer. */
uint8_t *pm_frame_pack(const Pm__Envelope *env, size_t *len);

/* Decodes a frame body with the arena as allocator (its budget bounds the work). */
Pm__Envelope *pm_frame_decode(pm_arena *a, const uint8_t *body, size_t len);

/* Whether every string in msg (and its submessages) is valid UTF-8 without control
 * characters other than tab and line breaks; *bad_field names the first that is not.
 * protobuf-c does not check this itself. */
int pm_msg_text_valid(const ProtobufCMessage *msg, const char **bad_field);

/* Finds a length-delimited field (string, bytes, message) of an encoded message without
 * decoding it: 1 with *val and *len set (the last occurrence, as protobuf has it), 0 if absent,
 * -1 if the bytes are malformed. For hot paths that need one field of a stored record. */
int pm_pb_field(const uint8_t *p, size_t n, unsigned field, const uint8_t **val, size_t *len);
/* The same for nf fields in one pass: val[i], len[i] for fields[i] (empty when absent).
 * Returns how many were present, or -1. */
int pm_pb_fields(const uint8_t *p, size_t n, const unsigned *fields, size_t nf, const uint8_t **val,
                 size_t *len);
/* Writes v as a protobuf varint at p (at most 10 bytes); returns its length. */
size_t pm_pb_put_varint(uint8_t *p, uint64_t v);

/* Budget for decoding a body of len bytes: generous for real messages, bounded for
 * hostile ones (protobuf-c allocates per repeated element and per string). */
size_t pm_frame_decode_budget(size_t len);

#endif
