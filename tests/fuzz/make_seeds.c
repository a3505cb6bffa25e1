/* make_seeds: writes the seed corpora of the fuzz targets.
 *
 *   build/fuzz/tests/fuzz/make_seeds tests/fuzz/corpus
 *
 * DIR/fuzz_envelope: one Envelope body per message type of its oneof, requests and
 * answers, with every field set to a plausible value (found by the field's name, so a
 * type added to proto/practiced.proto gets its seed on the next run), and hostile ones.
 * DIR/fuzz_frame: streams of frames as a peer sends them, and broken headers.
 * DIR/fuzz_dispatch: what a logged-in manager sends after Hello and Resume (see
 * fuzz_dispatch.c): each request type alone, then sessions that build on each other
 * (create, read, update, search, subscribe, replay a request key, scheduling from set-up
 * to cancellation, a patient's flow through the practice, the other roles), and hostile
 * frames. They name the records fuzz_dispatch's practice holds (patients 100016, 100024,
 * 100032; accounts reception and drlee; location main, rooms room-1 and room-2, provider
 * dr-lee, visit type checkup, template dr-lee/1, exception 1, appointments 1 and 2,
 * waitlist entry 1) and the manager's password.
 *
 * The output is deterministic; files that already exist are overwritten, others (the
 * fuzzer's own finds, when someone commits them) are left alone. */
#include "pm_arena.h"
#include "pm_frame.h"
#include "pm_util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MANAGER_PASSWORD "fuzz-manager-pass-1" /* as fuzz_dispatch.c sets it */
#define START            1953964800            /* 2031-12-02 09:00 Paris, a Tuesday */

static pm_arena A;
static const char *out_dir;
static size_t total_bytes;
static unsigned total_files;

/* ---- output ---- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void die(const char *what)
{
    fprintf(stderr, "make_seeds: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void buf_add(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            die("out of memory");
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void buf_u32(buf *b, uint32_t v)
{
    uint8_t h[4];
    pm_put_u32(h, v);
    buf_add(b, h, 4);
}

static void buf_varint(buf *b, uint64_t v)
{
    while (v >= 0x80) {
        uint8_t c = (uint8_t)(v | 0x80);
        buf_add(b, &c, 1);
        v >>= 7;
    }
    uint8_t c = (uint8_t)v;
    buf_add(b, &c, 1);
}

static void buf_env(buf *b, const Pm__Envelope *env)
{
    size_t n = pm__envelope__get_packed_size(env);
    uint8_t *tmp = malloc(n ? n : 1);
    if (!tmp)
        die("out of memory");
    pm__envelope__pack(env, tmp);
    buf_add(b, tmp, n);
    free(tmp);
}

/* A frame: the length, then the envelope. */
static void buf_frame(buf *b, const Pm__Envelope *env)
{
    buf_u32(b, (uint32_t)pm__envelope__get_packed_size(env));
    buf_env(b, env);
}

static void buf_frame_raw(buf *b, const buf *body)
{
    buf_u32(b, (uint32_t)body->n);
    buf_add(b, body->p, body->n);
}

static void write_seed(const char *target, const char *name, const buf *b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (b->n && fwrite(b->p, 1, b->n, f) != b->n) || fclose(f) != 0)
        die(path);
    total_bytes += b->n;
    total_files++;
}

static void buf_reset(buf *b)
{
    b->n = 0;
}

/* ---- plausible values, by field name ---- */

struct sval {
    const char *msg, *field, *val; /* msg NULL: any message */
};

static const struct sval strings[] = {
    {"Login", "username", "admin"},
    {"Login", "password", MANAGER_PASSWORD},
    {"ChangePassword", "old_password", MANAGER_PASSWORD},
    {"ChangePassword", "new_password", "another-pass-2"},
    {"CreateAccount", "username", "anna"},
    {"CreateDevice", "name", "lobby2"},
    {"Location", "id", "main"},
    {"Location", "name", "Main Street"},
    {"Room", "id", "room-1"},
    {"Room", "name", "Room 1"},
    {"Provider", "id", "dr-lee"},
    {"Provider", "name", "Dr Lee"},
    {"Provider", "username", "drlee"},
    {"VisitType", "id", "checkup"},
    {"VisitType", "name", "Check-up"},
    {"Holiday", "name", "Christmas"},
    {"Template", "id", ""},
    {"Template", "valid_from", "2031-01-01"},
    {"Template", "valid_to", "2032-12-31"},
    {"DeleteTemplate", "id", "dr-lee/1"},
    {"GetFlow", "date", ""},
    {"CloseDay", "date", ""},
    {"WalkIn", "patient_mrn", "100032"},
    {"Book", "room", ""},
    {"Book", "override_reason", ""},
    {"Move", "room", ""},
    {"Move", "provider", ""},
    {"Move", "override_reason", ""},
    {"GetSchedule", "location", ""},
    {"GetSchedule", "room", ""},
    {"Holiday", "date", "2031-12-25"},
    {"DeleteHoliday", "date", "2031-12-25"},
    {"Holiday", "location", ""},
    {"DeleteHoliday", "location", ""},
    {"Patient", "mrn", ""},
    {"Patient", "created_by", ""},
    {"Patient", "updated_by", ""},
    {"Appointment", "patient_name", ""},
    {NULL, "username", "reception"},
    {NULL, "display_name", "Anna Reception"},
    {NULL, "device", "desk 1"},
    {NULL, "client", "practice-cli/0.1"},
    {NULL, "server", "practiced/0.1.0"},
    {NULL, "practice_name", "Fuzz Family Practice"},
    {NULL, "timezone", "Europe/Paris"},
    {NULL, "one_time_password", "abcd-efgh-jkmn"},
    {NULL, "mrn", "100016"},
    {NULL, "patient_mrn", "100016"},
    {NULL, "patient_name", "Ann Smith"},
    {NULL, "first_name", "Ann"},
    {NULL, "last_name", "Smith"},
    {NULL, "preferred_name", "Annie"},
    {NULL, "date_of_birth", "1984-02-29"},
    {NULL, "number", "+44 7700 900123"},
    {NULL, "phone", "+44 7700 900123"},
    {NULL, "email", "ann@example.org"},
    {NULL, "line1", "1 High Street"},
    {NULL, "line2", "Flat 2"},
    {NULL, "city", "London"},
    {NULL, "region", "Greater London"},
    {NULL, "postal_code", "N1 9GU"},
    {NULL, "country", "GB"},
    {NULL, "preferred_language", "en"},
    {NULL, "payer", "Acme Health"},
    {NULL, "member_id", "M-12345"},
    {NULL, "group_number", "G-1"},
    {NULL, "relationship", "sister"},
    {NULL, "notes", "Prefers mornings.\nAllergic to penicillin."},
    {NULL, "note", "any morning"},
    {NULL, "topics", "patients"},
    {NULL, "topic", "patients"},
    {NULL, "location", "main"},
    {NULL, "default_location", "main"},
    {NULL, "provider", "dr-lee"},
    {NULL, "providers", "dr-lee"},
    {NULL, "room", "room-1"},
    {NULL, "visit_type", "checkup"},
    {NULL, "visit_types", "checkup"},
    {NULL, "credentials", "MD"},
    {NULL, "color", "#3b82f6"},
    {NULL, "date", "2031-12-02"},
    {NULL, "from_date", "2031-12-01"},
    {NULL, "valid_from", "2031-01-01"},
    {NULL, "to_date", "2031-12-31"},
    {NULL, "valid_to", "2032-12-31"},
    {NULL, "until", "2032-03-01"},
    {NULL, "reason", "sick"},
    {NULL, "cancel_reason", "sick"},
    {NULL, "override_reason", "urgent"},
    {NULL, "what", "template"},
    {NULL, "action", "created"},
    {NULL, "op", "create_patient"},
    {NULL, "message", "hello"},
    {NULL, "field", "first_name"},
    {NULL, "holiday", "Christmas"},
    {NULL, "ticket", "A001"},
    {NULL, "location_name", "Main Street"},
    {NULL, "by", "admin"},
    {NULL, "record", "100016"},
    {NULL, "detail", "ok"},
    {NULL, "created_by", "admin"},
    {NULL, "updated_by", "admin"},
    {NULL, "id", "main"},
    {NULL, "name", "Ann Smith"},
};

struct ival {
    const char *msg, *field;
    int64_t val;
};

static const struct ival ints[] = {
    {"Template", "version", 0}, /* a Put with version 0 creates, 1 replaces */
    {"Exception", "id", 0},
    {"FlowStep", "appointment_id", 2},
    {"FlowStep", "version", 0},
    {"FlowStep", "action", PM__FLOW_ACTION__TO_ROOM},
    {"Cancel", "scope", PM__SCOPE__THIS},
    {"Move", "scope", PM__SCOPE__THIS},
    {"Book", "series_mode", PM__SERIES_MODE__ALL_OR_NONE},
    {"Move", "series_mode", PM__SERIES_MODE__ALL_OR_NONE},
    {"FindSlots", "count", 5},
    {"PatientAppointments", "limit", 10},
    {"Appointment", "series_id", 0},
    {"Appointment", "offer_id", 0},
    {"Book", "duration_min", 0},
    {"Move", "start", START + 3600},
    {"Move", "duration_min", 0},
    {"Exception", "start", START + 7 * 86400},
    {"Exception", "end", START + 7 * 86400 + 3 * 3600},
    {"Subscribe", "since", 0},
    {"QueryAudit", "since", 0},
    {"QueryAudit", "until", 0},
    {"QueryAudit", "after_seq", 0},
    {NULL, "protocol_version", 1},
    {NULL, "weekday", 2},
    {NULL, "weekdays", 2},
    {NULL, "start_min", 540},
    {NULL, "end_min", 1020},
    {NULL, "earliest_min", 480},
    {NULL, "latest_min", 720},
    {NULL, "duration_min", 30},
    {NULL, "capacity", 1},
    {NULL, "interval", 1},
    {NULL, "count", 3},
    {NULL, "days", 7},
    {NULL, "limit", 10},
    {NULL, "priority", 1},
    {NULL, "start", START},
    {NULL, "end", START + 1800},
    {NULL, "expires_at", START - 86400},
    {NULL, "nonce", 42},
    {NULL, "version", 1},
    {NULL, "series_index", 0},
    {NULL, "retry_after_ms", 0},
    {NULL, "conflicts", 1},
};

static const char *const true_bools[] = {"include_disabled", "accept", "needs_room", "chain_ok",
                                         "applied",          "device", "no_sms",     "confirm"};

static const char *string_for(const char *msg, const char *field)
{
    for (size_t i = 0; i < PM_ARRAY_LEN(strings); i++)
        if (strcmp(strings[i].field, field) == 0 &&
            (!strings[i].msg || !strcmp(strings[i].msg, msg)))
            return strings[i].val;
    return "x";
}

static const struct ival *int_entry(const char *msg, const char *field)
{
    for (size_t i = 0; i < PM_ARRAY_LEN(ints); i++)
        if (strcmp(ints[i].field, field) == 0 && (!ints[i].msg || !strcmp(ints[i].msg, msg)))
            return &ints[i];
    return NULL;
}

static int64_t int_for(const char *msg, const char *field)
{
    const struct ival *e = int_entry(msg, field);
    if (e)
        return e->val;
    if (strcmp(field, "id") == 0 || strstr(field, "_id"))
        return 1;
    if (strstr(field, "time") || strstr(field, "_at"))
        return START - 86400;
    return 1;
}

static size_t scalar_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

static void fill(ProtobufCMessage *m, int depth);

/* Sets one value of field f (of message msg) at dst. */
static void set_value(const char *msg, const ProtobufCFieldDescriptor *f, void *dst, int depth)
{
    int64_t v = int_for(msg, f->name);
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        int32_t x = (int32_t)v;
        memcpy(dst, &x, 4);
        break;
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        memcpy(dst, &v, 8);
        break;
    case PROTOBUF_C_TYPE_FLOAT: {
        float x = 1.5f;
        memcpy(dst, &x, 4);
        break;
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
        double x = 1.5;
        memcpy(dst, &x, 8);
        break;
    }
    case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean x = 0;
        for (size_t i = 0; i < PM_ARRAY_LEN(true_bools); i++)
            x |= strcmp(true_bools[i], f->name) == 0;
        memcpy(dst, &x, sizeof x);
        break;
    }
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        int x = ed->n_values > 1 ? ed->values[1].value : ed->values[0].value;
        if (!strcmp(f->name, "role"))
            x = PM__ROLE__RECEPTIONIST;
        if (int_entry(msg, f->name))
            x = (int)v;
        memcpy(dst, &x, sizeof x);
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        char *s = pm_arena_strdup(&A, string_for(msg, f->name));
        memcpy(dst, &s, sizeof s);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData b = {0, NULL};
        if (!strcmp(f->name, "token") || strstr(f->name, "hash")) {
            b.len = 32;
            b.data = pm_arena_alloc(&A, 32);
            memset(b.data, 0x5a, 32);
        }
        memcpy(dst, &b, sizeof b);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *sub = NULL;
        if (depth < 5) {
            sub = pm_msg_new(&A, f->descriptor);
            fill(sub, depth + 1);
        }
        memcpy(dst, &sub, sizeof sub);
        break;
    }
    }
}

/* Every field of m set, repeated ones to one element, the first member of each oneof. */
static void fill(ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    char *base = (char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t *which = (uint32_t *)(void *)(base + f->quantifier_offset);
            if (*which)
                continue;
            *which = f->id;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth >= 5)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            void *arr = pm_arena_alloc(&A, scalar_size(f->type));
            set_value(d->short_name, f, arr, depth);
            size_t one = 1;
            memcpy(base + f->quantifier_offset, &one, sizeof one);
            memcpy(base + f->offset, &arr, sizeof arr);
        } else {
            set_value(d->short_name, f, base + f->offset, depth);
        }
    }
}

/* ---- envelopes ---- */

static const ProtobufCFieldDescriptor *body_field(Pm__Envelope__BodyCase bc)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&pm__envelope__descriptor, (unsigned)bc);
    if (!f) {
        fprintf(stderr, "make_seeds: no Envelope field %d\n", (int)bc);
        exit(1);
    }
    return f;
}

/* An envelope with the given body, filled with plausible values. */
static Pm__Envelope *env_new(Pm__Envelope__BodyCase bc)
{
    Pm__Envelope *e = pm_msg_new(&A, &pm__envelope__descriptor);
    const ProtobufCFieldDescriptor *f = body_field(bc);
    ProtobufCMessage *body = pm_msg_new(&A, f->descriptor);
    fill(body, 1);
    memcpy((char *)e + f->offset, &body, sizeof body);
    e->body_case = bc;
    return e;
}

/* Answers, events and errors: what the server sends. Anything else in the oneof is a
 * request (so a request type added to the proto is seeded without a change here). */
static const char answers[] =
    " error hello_ok login_ok pong ok account_credential account_ok account_list patient_ok"
    " patient_list audit_list subscribed event session_locked stats setup appointment_ok"
    " series_result slot_list schedule appointment_list waitlist_ok waitlist flow board_state ";

static int is_answer(const char *name)
{
    char word[80];
    snprintf(word, sizeof word, " %s ", name);
    return strstr(answers, word) != NULL;
}

static uint64_t next_id;

/* Appends env as a frame with the next id. */
static void add(buf *b, Pm__Envelope *e)
{
    e->id = ++next_id;
    buf_frame(b, e);
}

/* A request for the dispatcher: as env_new, less what would make it fail for certain (a
 * single booking carries no recurrence, an update names its patient). */
static Pm__Envelope *dreq(Pm__Envelope__BodyCase bc)
{
    Pm__Envelope *e = env_new(bc);
    if (bc == PM__ENVELOPE__BODY_BOOK)
        e->book->repeat = NULL;
    if (bc == PM__ENVELOPE__BODY_UPDATE_PATIENT)
        e->update_patient->patient->mrn = "100016";
    return e;
}

static void set_key(Pm__Envelope *e, const char *key)
{
    e->request_key.data = (uint8_t *)key;
    e->request_key.len = strlen(key);
}

/* ---- hostile bodies ---- */

/* A length-delimited field: tag, length, bytes. */
static void pb_bytes(buf *b, unsigned field, const void *p, size_t n)
{
    buf_varint(b, (uint64_t)field << 3 | 2);
    buf_varint(b, n);
    buf_add(b, p, n);
}

static void pb_varint(buf *b, unsigned field, uint64_t v)
{
    buf_varint(b, (uint64_t)field << 3);
    buf_varint(b, v);
}

/* Envelope{field: Body{inner}} by hand. */
static void pb_wrap(buf *out, unsigned field, const buf *inner)
{
    pb_bytes(out, field, inner->p, inner->n);
}

static void hostile_bodies(void (*emit)(const char *name, const buf *body))
{
    buf b = {0}, in = {0}, in2 = {0};
    static const char *const bad_text[][2] = {
        {"utf8-invalid-byte", "\xff\xfe"},
        {"utf8-truncated", "Jos\xc3"},
        {"utf8-overlong", "\xc0\xaf"},
        {"utf8-surrogate", "\xed\xa0\x80"},
        {"utf8-too-large", "\xf4\x90\x80\x80"},
        {"control-char", "Ann\x01"},
        {"escape", "\x1b[2J"},
        {"newline-one-line", "Ann\nSmith"},
        {"embedded-nul", "Ann\0Smith"},
    };
    /* SearchPatients{name: ...} and CreatePatient{patient{first_name: ...}} */
    for (size_t i = 0; i < PM_ARRAY_LEN(bad_text); i++) {
        size_t n = strlen(bad_text[i][1]);
        if (!strcmp(bad_text[i][0], "embedded-nul"))
            n = 9;
        buf_reset(&b);
        buf_reset(&in);
        pb_varint(&b, 1, 7);
        pb_bytes(&in, 1, bad_text[i][1], n);
        pb_wrap(&b, PM__ENVELOPE__BODY_SEARCH_PATIENTS, &in);
        char name[64];
        snprintf(name, sizeof name, "edge-search-%s", bad_text[i][0]);
        emit(name, &b);

        buf_reset(&b);
        buf_reset(&in);
        buf_reset(&in2);
        pb_varint(&b, 1, 8);
        pb_bytes(&in2, 3, bad_text[i][1], n);
        pb_bytes(&in2, 4, "Smith", 5);
        pb_bytes(&in2, 6, "1984-02-29", 10);
        pb_wrap(&in, 1, &in2);
        pb_wrap(&b, PM__ENVELOPE__BODY_CREATE_PATIENT, &in);
        snprintf(name, sizeof name, "edge-create-%s", bad_text[i][0]);
        emit(name, &b);
    }

    /* Huge repeated fields: empty submessages and strings cost two bytes on the wire and
     * far more decoded; the budget refuses them. */
    buf_reset(&b);
    buf_reset(&in);
    for (int i = 0; i < 6000; i++)
        pb_bytes(&in, 1, "", 0); /* Subscribe.topics */
    pb_varint(&b, 1, 9);
    pb_wrap(&b, PM__ENVELOPE__BODY_SUBSCRIBE, &in);
    emit("edge-huge-repeated-topics", &b);

    buf_reset(&b);
    buf_reset(&in);
    buf_reset(&in2);
    pb_bytes(&in2, 3, "Ann", 3);
    for (int i = 0; i < 6000; i++)
        pb_bytes(&in2, 8, "", 0); /* Patient.phones */
    pb_wrap(&in, 1, &in2);
    pb_wrap(&b, PM__ENVELOPE__BODY_CREATE_PATIENT, &in);
    emit("edge-huge-repeated-phones", &b);

    buf_reset(&b);
    buf_reset(&in);
    for (int i = 0; i < 60; i++)
        pb_bytes(&in, 1, "patients", 8); /* within the budget, over TOPICS_MAX */
    pb_wrap(&b, PM__ENVELOPE__BODY_SUBSCRIBE, &in);
    emit("edge-many-topics", &b);

    buf_reset(&b);
    buf_reset(&in);
    for (int i = 0; i < 6000; i++)
        pb_bytes(&in, 1, "", 0); /* PatientList.patients */
    pb_wrap(&b, PM__ENVELOPE__BODY_PATIENT_LIST, &in);
    emit("edge-huge-repeated-answer", &b);

    /* Unknown fields of every wire type, a field number out of range, a group. */
    buf_reset(&b);
    pb_varint(&b, 1, 10);
    pb_varint(&b, 999, 1);
    pb_bytes(&b, 1000, "unknown", 7);
    buf_varint(&b, (1001u << 3) | 5);
    buf_add(&b, "\1\2\3\4", 4);
    buf_varint(&b, (1002u << 3) | 1);
    buf_add(&b, "\1\2\3\4\5\6\7\10", 8);
    buf_reset(&in);
    pb_wrap(&b, PM__ENVELOPE__BODY_PING, &in);
    emit("edge-unknown-fields", &b);

    buf_reset(&b);
    pb_varint(&b, 1, 11);
    buf_varint(&b, (500u << 3) | 3); /* start group */
    pb_varint(&b, 1, 1);
    buf_varint(&b, (500u << 3) | 4); /* end group */
    emit("edge-group", &b);

    buf_reset(&b);
    buf_varint(&b, ((uint64_t)1 << 32) << 3); /* field number over 2^29 */
    buf_varint(&b, 1);
    emit("edge-field-number-too-large", &b);

    /* Non-minimal and overlong varints. */
    buf_reset(&b);
    buf_add(&b, "\x08\x81\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11);
    emit("edge-varint-11-bytes", &b);
    buf_reset(&b);
    buf_add(&b, "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
    emit("edge-varint-max", &b);
    buf_reset(&b);
    buf_add(&b, "\x08\x80\x80\x80\x00", 5);
    buf_reset(&in);
    pb_wrap(&b, PM__ENVELOPE__BODY_PING, &in);
    emit("edge-varint-non-minimal", &b);

    /* An enum far out of range, and a negative one (ten bytes on the wire). */
    buf_reset(&b);
    buf_reset(&in);
    pb_bytes(&in, 1, "anna", 4);
    pb_varint(&in, 3, 0xffffffffffffffffull);
    pb_wrap(&b, PM__ENVELOPE__BODY_CREATE_ACCOUNT, &in);
    emit("edge-enum-negative", &b);
    buf_reset(&b);
    buf_reset(&in);
    pb_bytes(&in, 1, "anna", 4);
    pb_varint(&in, 3, 1000000);
    pb_wrap(&b, PM__ENVELOPE__BODY_CREATE_ACCOUNT, &in);
    emit("edge-enum-unknown", &b);

    /* Two bodies: the last one wins. The same submessage twice: they merge. */
    buf_reset(&b);
    buf_reset(&in);
    pb_varint(&in, 1, 5);
    pb_wrap(&b, PM__ENVELOPE__BODY_PING, &in);
    buf_reset(&in);
    pb_bytes(&in, 1, "100016", 6);
    pb_wrap(&b, PM__ENVELOPE__BODY_GET_PATIENT, &in);
    emit("edge-two-bodies", &b);
    buf_reset(&b);
    buf_reset(&in);
    pb_bytes(&in, 3, "Ann", 3);
    buf_reset(&in2);
    pb_wrap(&in2, 1, &in);
    pb_wrap(&b, PM__ENVELOPE__BODY_CREATE_PATIENT, &in2);
    buf_reset(&in);
    pb_bytes(&in, 4, "Smith", 5);
    pb_bytes(&in, 6, "1984-02-29", 10);
    buf_reset(&in2);
    pb_wrap(&in2, 1, &in);
    pb_wrap(&b, PM__ENVELOPE__BODY_CREATE_PATIENT, &in2);
    emit("edge-merged-submessage", &b);

    /* Truncated: a length running past the end, a tag cut short. */
    buf_reset(&b);
    pb_varint(&b, 1, 12);
    buf_varint(&b, (uint64_t)PM__ENVELOPE__BODY_LOGIN << 3 | 2);
    buf_varint(&b, 100);
    buf_add(&b,
            "\x0a\x05"
            "admin",
            7);
    emit("edge-truncated-body", &b);
    buf_reset(&b);
    buf_add(&b, "\x08", 1);
    emit("edge-truncated-tag", &b);
    buf_reset(&b);
    buf_add(&b, "\x12\x80\x80\x80\x80\x10", 6); /* request_key of 4 GiB */
    emit("edge-length-4g", &b);

    /* A request key over 64 bytes; a field of the wrong wire type. */
    buf_reset(&b);
    pb_varint(&b, 1, 13);
    char key[80];
    memset(key, 'k', sizeof key);
    pb_bytes(&b, 2, key, sizeof key);
    buf_reset(&in);
    pb_bytes(&in, 1, "100016", 6);
    pb_wrap(&b, PM__ENVELOPE__BODY_GET_PATIENT, &in);
    emit("edge-request-key-80", &b);
    buf_reset(&b);
    pb_bytes(&b, 1, "id as bytes", 11);
    emit("edge-wrong-wire-type", &b);

    /* Deep: Event{patient_changed{patient{address, insurance, ...}}} as an answer, and
     * a message nested in unknown fields a thousand deep. */
    buf_reset(&b);
    buf_reset(&in);
    for (int i = 0; i < 1000; i++) {
        buf_reset(&in2);
        pb_wrap(&in2, 7, &in);
        buf_reset(&in);
        buf_add(&in, in2.p, in2.n);
    }
    pb_wrap(&b, 2000, &in);
    emit("edge-deep-unknown", &b);

    free(b.p);
    free(in.p);
    free(in2.p);
}

/* ---- the three corpora ---- */

static void emit_envelope(const char *name, const buf *body)
{
    write_seed("fuzz_envelope", name, body);
}

static void emit_dispatch(const char *name, const buf *body)
{
    buf f = {0};
    buf_frame_raw(&f, body);
    write_seed("fuzz_dispatch", name, &f);
    free(f.p);
}

static void envelope_corpus(void)
{
    buf b = {0};
    write_seed("fuzz_envelope", "edge-empty", &b);
    for (unsigned i = 0; i < pm__envelope__descriptor.n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &pm__envelope__descriptor.fields[i];
        if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        Pm__Envelope *e = env_new((Pm__Envelope__BodyCase)f->id);
        e->id = f->id;
        buf_reset(&b);
        buf_env(&b, e);
        char name[96];
        snprintf(name, sizeof name, "%s-%s", is_answer(f->name) ? "answer" : "req", f->name);
        write_seed("fuzz_envelope", name, &b);
    }
    hostile_bodies(emit_envelope);
    free(b.p);
}

static void frame_corpus(void)
{
    buf b = {0}, one = {0};
    next_id = 0;
    /* A client's first words. */
    add(&b, env_new(PM__ENVELOPE__BODY_HELLO));
    add(&b, env_new(PM__ENVELOPE__BODY_LOGIN));
    add(&b, env_new(PM__ENVELOPE__BODY_PING));
    write_seed("fuzz_frame", "stream-prelogin", &b);

    /* Every request, then every answer, one stream each. */
    buf ans = {0};
    buf_reset(&b);
    for (unsigned i = 0; i < pm__envelope__descriptor.n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &pm__envelope__descriptor.fields[i];
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            add(is_answer(f->name) ? &ans : &b, env_new((Pm__Envelope__BodyCase)f->id));
    }
    write_seed("fuzz_frame", "stream-requests", &b);
    write_seed("fuzz_frame", "stream-answers", &ans);
    free(ans.p);

    /* Headers the framer must refuse, after a good frame. */
    static const struct {
        const char *name;
        uint32_t len;
    } heads[] = {
        {"edge-zero-length", 0},
        {"edge-over-prelogin-limit", PM_FRAME_MAX_PRELOGIN + 1},
        {"edge-over-limit", PM_FRAME_MAX + 1},
        {"edge-length-max", UINT32_MAX},
        {"edge-length-2g", 0x80000000u},
    };
    buf_reset(&one);
    add(&one, env_new(PM__ENVELOPE__BODY_PING));
    for (size_t i = 0; i < PM_ARRAY_LEN(heads); i++) {
        buf_reset(&b);
        buf_add(&b, one.p, one.n);
        buf_u32(&b, heads[i].len);
        buf_add(&b, "\x08\x01\x8a\x01\x00", 5);
        write_seed("fuzz_frame", heads[i].name, &b);
    }
    /* A body exactly at the limit before login, and one byte over it, in full: field 1,
     * then an unknown field 1000 (two-byte tag, two-byte length) filling the rest. */
    for (int over = 0; over < 2; over++) {
        buf body = {0};
        size_t data = PM_FRAME_MAX_PRELOGIN + (size_t)over - 6;
        uint8_t *filler = malloc(data);
        if (!filler)
            die("out of memory");
        memset(filler, 'a', data);
        pb_varint(&body, 1, 1);
        pb_bytes(&body, 1000, filler, data);
        free(filler);
        if (body.n != PM_FRAME_MAX_PRELOGIN + (size_t)over) {
            fprintf(stderr, "make_seeds: limit frame is %zu bytes\n", body.n);
            exit(1);
        }
        buf_reset(&b);
        buf_frame_raw(&b, &body);
        free(body.p);
        write_seed("fuzz_frame", over ? "edge-prelogin-limit-plus-1" : "edge-prelogin-limit", &b);
    }
    /* Cut short: inside a header, inside a body. */
    buf_reset(&b);
    buf_add(&b, one.p, one.n);
    buf_add(&b, "\0\0", 2);
    write_seed("fuzz_frame", "edge-truncated-header", &b);
    buf_reset(&b);
    buf_add(&b, one.p, one.n);
    buf_add(&b, one.p, one.n - 2);
    write_seed("fuzz_frame", "edge-truncated-body", &b);
    /* Many one-byte frames. */
    buf_reset(&b);
    for (int i = 0; i < 200; i++) {
        buf_u32(&b, 1);
        buf_add(&b, "\x08", 1);
    }
    write_seed("fuzz_frame", "edge-tiny-frames", &b);
    free(b.p);
    free(one.p);
}

static void dispatch_corpus(void)
{
    buf b = {0};
    /* Each request type alone. */
    for (unsigned i = 0; i < pm__envelope__descriptor.n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &pm__envelope__descriptor.fields[i];
        if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || is_answer(f->name))
            continue;
        next_id = 0;
        buf_reset(&b);
        add(&b, dreq((Pm__Envelope__BodyCase)f->id));
        char name[96];
        snprintf(name, sizeof name, "req-%s", f->name);
        write_seed("fuzz_dispatch", name, &b);
    }

    /* Patients: create (with a request key), read, update, search every way, list,
     * audit, and the same create again, answered from the stored first answer. */
    next_id = 0;
    buf_reset(&b);
    Pm__Envelope *e = env_new(PM__ENVELOPE__BODY_CREATE_PATIENT);
    set_key(e, "20261201T090000-desk1-0001");
    add(&b, e);
    add(&b, env_new(PM__ENVELOPE__BODY_GET_PATIENT));
    e = env_new(PM__ENVELOPE__BODY_UPDATE_PATIENT);
    e->update_patient->patient->mrn = "100016";
    e->update_patient->patient->version = 1;
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_SEARCH_PATIENTS);
    e->search_patients->name = "smi ann";
    e->search_patients->date_of_birth = "";
    e->search_patients->phone = "";
    e->search_patients->mrn = "";
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_SEARCH_PATIENTS);
    e->search_patients->name = "";
    e->search_patients->phone = "";
    e->search_patients->mrn = "";
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_SEARCH_PATIENTS);
    e->search_patients->name = "";
    e->search_patients->date_of_birth = "";
    e->search_patients->phone = "5551234";
    e->search_patients->mrn = "";
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_SEARCH_PATIENTS);
    e->search_patients->name = "nunez jose";
    e->search_patients->date_of_birth = "";
    e->search_patients->phone = "";
    e->search_patients->mrn = "";
    e->search_patients->limit = 500;
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_LIST_PATIENTS);
    e->list_patients->limit = 2;
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_QUERY_AUDIT);
    e->query_audit->username = "";
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_CREATE_PATIENT);
    set_key(e, "20261201T090000-desk1-0001");
    add(&b, e);
    write_seed("fuzz_dispatch", "seq-patients", &b);

    /* A stale update and an unknown patient. */
    next_id = 0;
    buf_reset(&b);
    e = env_new(PM__ENVELOPE__BODY_UPDATE_PATIENT);
    e->update_patient->patient->mrn = "100024";
    e->update_patient->patient->version = 7;
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_GET_PATIENT);
    e->get_patient->mrn = "999997";
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_GET_PATIENT);
    e->get_patient->mrn = "10001-6";
    add(&b, e);
    write_seed("fuzz_dispatch", "seq-patient-conflicts", &b);

    /* Subscribe, change, replay from the start, unsubscribe. */
    next_id = 0;
    buf_reset(&b);
    add(&b, env_new(PM__ENVELOPE__BODY_SUBSCRIBE));
    add(&b, env_new(PM__ENVELOPE__BODY_CREATE_PATIENT));
    e = env_new(PM__ENVELOPE__BODY_UPDATE_PATIENT);
    e->update_patient->patient->mrn = "100032";
    e->update_patient->patient->version = 1;
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_SUBSCRIBE);
    e->subscribe->since = 1;
    add(&b, e);
    add(&b, env_new(PM__ENVELOPE__BODY_UNSUBSCRIBE));
    e = env_new(PM__ENVELOPE__BODY_SUBSCRIBE);
    e->subscribe->since = 1000000;
    add(&b, e);
    write_seed("fuzz_dispatch", "seq-subscribe", &b);

    /* Accounts: create, list, disable, reset, enable, a device. */
    next_id = 0;
    buf_reset(&b);
    add(&b, env_new(PM__ENVELOPE__BODY_CREATE_ACCOUNT));
    add(&b, env_new(PM__ENVELOPE__BODY_LIST_ACCOUNTS));
    e = env_new(PM__ENVELOPE__BODY_SET_ACCOUNT_DISABLED);
    e->set_account_disabled->username = "drlee";
    e->set_account_disabled->disabled = 1;
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_RESET_PASSWORD);
    e->reset_password->username = "drlee";
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_SET_ACCOUNT_DISABLED);
    e->set_account_disabled->username = "drlee";
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_SET_ACCOUNT_DISABLED);
    e->set_account_disabled->username = "admin";
    e->set_account_disabled->disabled = 1;
    add(&b, e);
    add(&b, env_new(PM__ENVELOPE__BODY_CREATE_DEVICE));
    write_seed("fuzz_dispatch", "seq-accounts", &b);

    /* A second login on the same connection, stats, a password change, logout, and
     * what follows a logout. */
    next_id = 0;
    buf_reset(&b);
    add(&b, env_new(PM__ENVELOPE__BODY_LOGIN));
    add(&b, env_new(PM__ENVELOPE__BODY_PING));
    add(&b, env_new(PM__ENVELOPE__BODY_GET_STATS));
    add(&b, env_new(PM__ENVELOPE__BODY_CHANGE_PASSWORD));
    add(&b, env_new(PM__ENVELOPE__BODY_LOGOUT));
    add(&b, env_new(PM__ENVELOPE__BODY_PING));
    add(&b, env_new(PM__ENVELOPE__BODY_GET_PATIENT));
    add(&b, env_new(PM__ENVELOPE__BODY_RESUME));
    write_seed("fuzz_dispatch", "seq-login-logout", &b);

    /* Failed logins, a weak new password, a login as another role. */
    next_id = 0;
    buf_reset(&b);
    e = env_new(PM__ENVELOPE__BODY_LOGIN);
    e->login->password = "wrong-password";
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_LOGIN);
    e->login->username = "Nobody";
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_CHANGE_PASSWORD);
    e->change_password->new_password = "aaaaaaaaaaaa";
    add(&b, e);
    e = env_new(PM__ENVELOPE__BODY_CHANGE_PASSWORD);
    e->change_password->old_password = "wrong-password";
    add(&b, e);
    write_seed("fuzz_dispatch", "seq-bad-logins", &b);

    /* Scheduling on the practice's set-up: replace each record, book (under a key, then
     * the same key again), look, move, annotate, cancel (which offers the freed slot to
     * waitlist entry 1), answer the offer, take things away. */
    static const Pm__Envelope__BodyCase sched[] = {
        PM__ENVELOPE__BODY_SUBSCRIBE,
        PM__ENVELOPE__BODY_PUT_LOCATION,
        PM__ENVELOPE__BODY_PUT_ROOM,
        PM__ENVELOPE__BODY_PUT_PROVIDER,
        PM__ENVELOPE__BODY_PUT_VISIT_TYPE,
        PM__ENVELOPE__BODY_PUT_TEMPLATE,
        PM__ENVELOPE__BODY_PUT_HOLIDAY,
        PM__ENVELOPE__BODY_ADD_EXCEPTION,
        PM__ENVELOPE__BODY_GET_SETUP,
        PM__ENVELOPE__BODY_BOOK,
        PM__ENVELOPE__BODY_BOOK,
        PM__ENVELOPE__BODY_GET_APPOINTMENT,
        PM__ENVELOPE__BODY_FIND_SLOTS,
        PM__ENVELOPE__BODY_GET_SCHEDULE,
        PM__ENVELOPE__BODY_MOVE,
        PM__ENVELOPE__BODY_SET_NOTES,
        PM__ENVELOPE__BODY_PATIENT_APPOINTMENTS,
        PM__ENVELOPE__BODY_ADD_TO_WAITLIST,
        PM__ENVELOPE__BODY_CANCEL,
        PM__ENVELOPE__BODY_LIST_WAITLIST,
        PM__ENVELOPE__BODY_ANSWER_OFFER,
        PM__ENVELOPE__BODY_MARK_NO_SHOW,
        PM__ENVELOPE__BODY_REMOVE_FROM_WAITLIST,
        PM__ENVELOPE__BODY_DELETE_EXCEPTION,
        PM__ENVELOPE__BODY_DELETE_HOLIDAY,
        PM__ENVELOPE__BODY_DELETE_TEMPLATE,
    };
    next_id = 0;
    buf_reset(&b);
    for (size_t i = 0; i < PM_ARRAY_LEN(sched); i++) {
        e = dreq(sched[i]);
        if (sched[i] == PM__ENVELOPE__BODY_SUBSCRIBE) {
            static char *topics[] = {"setup", "schedule/provider/dr-lee", "schedule/location/main",
                                     "waitlist"};
            e->subscribe->topics = topics;
            e->subscribe->n_topics = PM_ARRAY_LEN(topics);
        }
        if (sched[i] == PM__ENVELOPE__BODY_BOOK)
            set_key(e, "20311202T090000-desk1-0002");
        /* appointment 1 is at version 1, then each change adds one */
        if (sched[i] == PM__ENVELOPE__BODY_SET_NOTES)
            e->set_notes->version = 2;
        if (sched[i] == PM__ENVELOPE__BODY_CANCEL)
            e->cancel->version = 3;
        add(&b, e);
    }
    write_seed("fuzz_dispatch", "seq-schedule", &b);

    /* Series: weekly on Tuesdays and Thursdays, all or none, then the free ones under a
     * key twice; moved and cancelled from the second occurrence on. */
    next_id = 0;
    buf_reset(&b);
    for (int i = 0; i < 3; i++) {
        e = env_new(PM__ENVELOPE__BODY_BOOK);
        static uint32_t days[] = {2, 4};
        e->book->repeat->unit = PM__REPEAT_UNIT__WEEKS;
        e->book->repeat->weekdays = days;
        e->book->repeat->n_weekdays = 2;
        e->book->repeat->count = 8;
        e->book->series_mode = i ? PM__SERIES_MODE__FREE_ONES : PM__SERIES_MODE__ALL_OR_NONE;
        if (i)
            set_key(e, "20311202T090000-desk1-0003");
        add(&b, e);
    }
    e = dreq(PM__ENVELOPE__BODY_MOVE);
    e->move->id = 4;
    e->move->scope = PM__SCOPE__THIS_AND_FOLLOWING;
    e->move->start = START + 1800;
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_CANCEL);
    e->cancel->id = 5;
    e->cancel->version = 2;
    e->cancel->scope = PM__SCOPE__ALL;
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_GET_SCHEDULE);
    e->get_schedule->days = 31;
    add(&b, e);
    write_seed("fuzz_dispatch", "seq-series", &b);

    /* New set-up records from nothing, and the conflicts a second desk makes. */
    next_id = 0;
    buf_reset(&b);
    e = dreq(PM__ENVELOPE__BODY_PUT_LOCATION);
    e->put_location->location->id = "north";
    e->put_location->location->version = 0;
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_PUT_ROOM);
    e->put_room->room->id = "room-9";
    e->put_room->room->location = "north";
    e->put_room->room->version = 0;
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_PUT_PROVIDER);
    e->put_provider->provider->id = "dr-okafor";
    e->put_provider->provider->default_location = "north";
    e->put_provider->provider->username = "";
    e->put_provider->provider->version = 0;
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_PUT_VISIT_TYPE);
    e->put_visit_type->visit_type->id = "consult";
    e->put_visit_type->visit_type->providers[0] = "dr-okafor";
    e->put_visit_type->visit_type->version = 0;
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_PUT_TEMPLATE);
    e->put_template->template_->provider = "dr-okafor";
    e->put_template->template_->blocks[0]->location = "north";
    e->put_template->template_->blocks[0]->visit_types[0] = "consult";
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_PUT_LOCATION);
    e->put_location->location->version = 7; /* stale */
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_BOOK);
    e->book->provider = "dr-okafor";
    e->book->visit_type = "consult";
    e->book->location = "north";
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_BOOK); /* the same time: the block's capacity is 1 */
    e->book->patient_mrn = "100024";
    e->book->provider = "dr-okafor";
    e->book->visit_type = "consult";
    e->book->location = "north";
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_BOOK); /* on the holiday, overridden */
    e->book->start = START + 23 * 86400;
    e->book->override = 1;
    e->book->override_reason = "urgent";
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_FIND_SLOTS);
    e->find_slots->visit_type = "consult";
    e->find_slots->providers = NULL;
    e->find_slots->n_providers = 0;
    e->find_slots->location = "";
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_GET_SCHEDULE);
    e->get_schedule->provider = "";
    e->get_schedule->room = "room-9";
    add(&b, e);
    write_seed("fuzz_dispatch", "seq-setup-create", &b);

    /* A patient's day: the walk-in (appointment 2) is roomed, seen, checked out, the
     * last step undone; another walks in; the desk's and the board's views; closing the
     * day. Watched on the flow and board topics. */
    next_id = 0;
    buf_reset(&b);
    e = dreq(PM__ENVELOPE__BODY_SUBSCRIBE);
    {
        static char *topics[] = {"flow/main", "board/main"};
        e->subscribe->topics = topics;
        e->subscribe->n_topics = 2;
    }
    add(&b, e);
    static const Pm__FlowAction steps[] = {PM__FLOW_ACTION__TO_ROOM, PM__FLOW_ACTION__SEE,
                                           PM__FLOW_ACTION__CHECK_OUT, PM__FLOW_ACTION__UNDO,
                                           PM__FLOW_ACTION__ARRIVE};
    for (size_t i = 0; i < PM_ARRAY_LEN(steps); i++) {
        e = dreq(PM__ENVELOPE__BODY_FLOW_STEP);
        e->flow_step->action = steps[i];
        if (steps[i] == PM__FLOW_ACTION__ARRIVE)
            e->flow_step->appointment_id = 1; /* tomorrow's: too early */
        add(&b, e);
    }
    add(&b, dreq(PM__ENVELOPE__BODY_WALK_IN));
    e = dreq(PM__ENVELOPE__BODY_FLOW_STEP);
    e->flow_step->appointment_id = 3;
    e->flow_step->room = "room-2";
    add(&b, e);
    e = dreq(PM__ENVELOPE__BODY_FLOW_STEP); /* room-2 is taken */
    e->flow_step->room = "room-2";
    add(&b, e);
    add(&b, dreq(PM__ENVELOPE__BODY_GET_FLOW));
    add(&b, dreq(PM__ENVELOPE__BODY_GET_BOARD));
    e = dreq(PM__ENVELOPE__BODY_CLOSE_DAY);
    e->close_day->confirm = 0;
    add(&b, e);
    add(&b, dreq(PM__ENVELOPE__BODY_CLOSE_DAY));
    write_seed("fuzz_dispatch", "seq-flow", &b);

    /* The other roles: a Resume whose token is 31 zero bytes and a role number becomes
     * that role's session (fuzz_dispatch.c, prepare_frame). What each may and may not do,
     * and the display's redacted board. */
    static const struct {
        Pm__Role role;
        Pm__Envelope__BodyCase reqs[6];
    } roles[] = {
        {PM__ROLE__RECEPTIONIST,
         {PM__ENVELOPE__BODY_GET_PATIENT, PM__ENVELOPE__BODY_BOOK, PM__ENVELOPE__BODY_QUERY_AUDIT,
          PM__ENVELOPE__BODY_LIST_ACCOUNTS, PM__ENVELOPE__BODY_WALK_IN,
          PM__ENVELOPE__BODY_CLOSE_DAY}},
        {PM__ROLE__CLINICIAN,
         {PM__ENVELOPE__BODY_SET_NOTES, PM__ENVELOPE__BODY_FLOW_STEP,
          PM__ENVELOPE__BODY_CREATE_PATIENT, PM__ENVELOPE__BODY_LIST_WAITLIST,
          PM__ENVELOPE__BODY_CHANGE_PASSWORD, PM__ENVELOPE__BODY_GET_SCHEDULE}},
        {PM__ROLE__DISPLAY,
         {PM__ENVELOPE__BODY_GET_BOARD, PM__ENVELOPE__BODY_SUBSCRIBE,
          PM__ENVELOPE__BODY_GET_PATIENT, PM__ENVELOPE__BODY_GET_FLOW,
          PM__ENVELOPE__BODY_CHANGE_PASSWORD, PM__ENVELOPE__BODY_LOGOUT}},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(roles); i++) {
        next_id = 0;
        buf_reset(&b);
        e = dreq(PM__ENVELOPE__BODY_RESUME);
        e->resume->token.data = pm_arena_alloc(&A, 32);
        e->resume->token.data[31] = (uint8_t)roles[i].role;
        add(&b, e);
        for (size_t k = 0; k < PM_ARRAY_LEN(roles[i].reqs); k++) {
            e = dreq(roles[i].reqs[k]);
            if (roles[i].reqs[k] == PM__ENVELOPE__BODY_SUBSCRIBE) {
                static char *topics[] = {"board/main"};
                e->subscribe->topics = topics;
            }
            add(&b, e);
        }
        /* and back to the manager */
        e = dreq(PM__ENVELOPE__BODY_RESUME);
        e->resume->token.data = pm_arena_alloc(&A, 32);
        e->resume->token.data[31] = PM__ROLE__MANAGER;
        add(&b, e);
        add(&b, dreq(PM__ENVELOPE__BODY_LIST_ACCOUNTS));
        char name[64];
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(&pm__role__descriptor, (int)roles[i].role);
        snprintf(name, sizeof name, "seq-role-%s", ev ? ev->name : "x");
        for (char *p = name; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        write_seed("fuzz_dispatch", name, &b);
    }

    /* Answers sent as requests; Hello again; an envelope with no body. */
    next_id = 0;
    buf_reset(&b);
    add(&b, env_new(PM__ENVELOPE__BODY_STATS));
    add(&b, env_new(PM__ENVELOPE__BODY_LOGIN_OK));
    add(&b, env_new(PM__ENVELOPE__BODY_HELLO));
    e = pm_msg_new(&A, &pm__envelope__descriptor);
    add(&b, e);
    write_seed("fuzz_dispatch", "seq-out-of-place", &b);

    /* Many requests in flight at once: over max_inflight, reading pauses. */
    next_id = 0;
    buf_reset(&b);
    for (int i = 0; i < 300; i++) {
        e = env_new(i % 3 ? PM__ENVELOPE__BODY_GET_PATIENT : PM__ENVELOPE__BODY_PING);
        add(&b, e);
    }
    write_seed("fuzz_dispatch", "seq-pipelined", &b);

    /* Headers net.c refuses, after a good frame. */
    buf one = {0};
    next_id = 0;
    add(&one, env_new(PM__ENVELOPE__BODY_PING));
    buf_reset(&b);
    buf_add(&b, one.p, one.n);
    buf_u32(&b, 0);
    buf_add(&b, one.p, one.n);
    write_seed("fuzz_dispatch", "edge-zero-length", &b);
    buf_reset(&b);
    buf_add(&b, one.p, one.n);
    buf_u32(&b, PM_FRAME_MAX + 1);
    buf_add(&b, one.p, one.n);
    write_seed("fuzz_dispatch", "edge-over-limit", &b);
    buf_reset(&b);
    buf_add(&b, one.p, one.n);
    buf_add(&b, one.p, 6);
    write_seed("fuzz_dispatch", "edge-truncated", &b);
    free(one.p);

    hostile_bodies(emit_dispatch);
    free(b.p);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR   (writes DIR/fuzz_frame, fuzz_envelope, "
                        "fuzz_dispatch)\n");
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
        die(out_dir);
    pm_arena_init(&A, 0);
    envelope_corpus();
    frame_corpus();
    dispatch_corpus();
    pm_arena_free(&A);
    printf("make_seeds: %u files, %zu bytes in %s\n", total_files, total_bytes, out_dir);
    return 0;
}
