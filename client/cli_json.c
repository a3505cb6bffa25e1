/* --json output: records as json-c objects with the field names of the wire contract,
 * every field present (empty when unset) so that scripts can rely on the shape. Times
 * are UTC, "YYYY-MM-DDTHH:MM:SSZ"; enums are lower-case words. */
#include "cli.h"

#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"

#include <stdlib.h>
#include <string.h>

void cj_print(json_object *o)
{
    fprintf(stdout, "%s\n",
            json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

json_object *cj_string(const char *s)
{
    return json_object_new_string(s ? s : "");
}

json_object *cj_time(uint64_t t)
{
    if (!t)
        return NULL;
    char buf[32];
    pm_format_utc((time_t)t, buf, sizeof buf);
    return json_object_new_string(buf);
}

static void add_str(json_object *o, const char *key, const char *s)
{
    json_object_object_add(o, key, cj_string(s));
}

static void add_bool(json_object *o, const char *key, int v)
{
    json_object_object_add(o, key, json_object_new_boolean(v));
}

static void add_u64(json_object *o, const char *key, uint64_t v)
{
    json_object_object_add(o, key, json_object_new_uint64(v));
}

static json_object *address(const Pm__Address *a)
{
    json_object *o = json_object_new_object();
    add_str(o, "line1", a ? a->line1 : NULL);
    add_str(o, "line2", a ? a->line2 : NULL);
    add_str(o, "city", a ? a->city : NULL);
    add_str(o, "region", a ? a->region : NULL);
    add_str(o, "postal_code", a ? a->postal_code : NULL);
    add_str(o, "country", a ? a->country : NULL);
    return o;
}

static json_object *insurance(const Pm__Insurance *i)
{
    json_object *o = json_object_new_object();
    add_str(o, "payer", i ? i->payer : NULL);
    add_str(o, "member_id", i ? i->member_id : NULL);
    add_str(o, "group_number", i ? i->group_number : NULL);
    return o;
}

static json_object *emergency(const Pm__EmergencyContact *e)
{
    json_object *o = json_object_new_object();
    add_str(o, "name", e ? e->name : NULL);
    add_str(o, "relationship", e ? e->relationship : NULL);
    add_str(o, "phone", e ? e->phone : NULL);
    return o;
}

static json_object *privacy(const Pm__PrivacyFlags *f)
{
    json_object *o = json_object_new_object();
    add_bool(o, "confidential", f && f->confidential);
    add_bool(o, "no_voicemail", f && f->no_voicemail);
    add_bool(o, "no_sms", f && f->no_sms);
    add_bool(o, "no_email", f && f->no_email);
    return o;
}

static json_object *phones(const Pm__Patient *p)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < p->n_phones; i++) {
        json_object *o = json_object_new_object();
        add_str(o, "number", p->phones[i]->number);
        add_str(o, "kind", cp_phone_kind_word(p->phones[i]->kind));
        json_object_array_add(arr, o);
    }
    return arr;
}

json_object *cj_patient(const Pm__Patient *p)
{
    json_object *o = json_object_new_object();
    add_str(o, "mrn", p->mrn);
    add_u64(o, "version", p->version);
    add_str(o, "first_name", p->first_name);
    add_str(o, "last_name", p->last_name);
    add_str(o, "preferred_name", p->preferred_name);
    add_str(o, "date_of_birth", p->date_of_birth);
    add_str(o, "sex", cp_sex_word(p->sex));
    json_object_object_add(o, "phones", phones(p));
    add_str(o, "email", p->email);
    json_object_object_add(o, "address", address(p->address));
    add_str(o, "preferred_language", p->preferred_language);
    json_object_object_add(o, "insurance", insurance(p->insurance));
    json_object_object_add(o, "emergency_contact", emergency(p->emergency_contact));
    json_object_object_add(o, "privacy", privacy(p->privacy));
    add_str(o, "notes", p->notes);
    json_object_object_add(o, "created_at", cj_time(p->created_at));
    add_str(o, "created_by", p->created_by);
    json_object_object_add(o, "updated_at", cj_time(p->updated_at));
    add_str(o, "updated_by", p->updated_by);
    return o;
}

json_object *cj_account(const Pm__Account *a)
{
    json_object *o = json_object_new_object();
    add_u64(o, "id", a->id);
    add_str(o, "username", a->username);
    add_str(o, "display_name", a->display_name);
    add_str(o, "role", cp_role_word(a->role));
    add_bool(o, "disabled", a->disabled);
    add_bool(o, "must_change_password", a->must_change_password);
    add_bool(o, "device", a->device);
    add_str(o, "location", a->location);
    json_object_object_add(o, "created_at", cj_time(a->created_at));
    add_u64(o, "version", a->version);
    return o;
}

static const char *outcome_word(Pm__Outcome o)
{
    switch (o) {
    case PM__OUTCOME__SUCCESS:
        return "success";
    case PM__OUTCOME__FAILURE:
        return "failure";
    case PM__OUTCOME__DENIED:
        return "denied";
    default:
        return "";
    }
}

json_object *cj_audit_entry(const Pm__AuditEntry *e)
{
    json_object *o = json_object_new_object();
    char local[32];
    add_u64(o, "seq", e->seq);
    json_object_object_add(o, "time", cj_time(e->time));
    pm_format_local((time_t)e->time, local, sizeof local);
    add_str(o, "local_time", local);
    add_str(o, "username", e->username);
    add_str(o, "device", e->device);
    add_str(o, "action", e->action);
    add_str(o, "record", e->record);
    add_str(o, "outcome", outcome_word(e->outcome));
    add_str(o, "error", e->error ? pm_err_name(-(int)e->error) : "");
    add_str(o, "detail", e->detail);
    return o;
}

json_object *cj_stats(const Pm__Stats *s)
{
    json_object *o = json_object_new_object();
    add_u64(o, "connections", s->connections);
    add_u64(o, "sessions", s->sessions);
    add_u64(o, "commits", s->commits);
    add_u64(o, "committed_writes", s->committed_writes);
    add_u64(o, "max_batch", s->max_batch);
    add_u64(o, "last_event_seq", s->last_event_seq);
    add_u64(o, "rss_bytes", s->rss_bytes);
    add_u64(o, "map_size", s->map_size);
    json_object *ops = json_object_new_array();
    for (size_t i = 0; i < s->n_ops; i++) {
        const Pm__OpStat *st = s->ops[i];
        json_object *x = json_object_new_object();
        add_str(x, "op", st->op);
        add_u64(x, "count", st->count);
        add_u64(x, "errors", st->errors);
        add_u64(x, "p50_us", st->p50_us);
        add_u64(x, "p99_us", st->p99_us);
        add_u64(x, "max_us", st->max_us);
        add_u64(x, "handler_p50_us", st->handler_p50_us);
        add_u64(x, "handler_p99_us", st->handler_p99_us);
        json_object_array_add(ops, x);
    }
    json_object_object_add(o, "ops", ops);
    return o;
}

/* ---- any message ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static json_object *enum_word(const ProtobufCEnumDescriptor *ed, int v)
{
    if (ed == &pm__error_code__descriptor)
        return json_object_new_string(v ? pm_err_name(-v) : "OK");
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
    if (!ev)
        return json_object_new_int(v);
    if (v == 0 && (ends_with(ev->name, "UNSPECIFIED") || ends_with(ev->name, "_NONE")))
        return json_object_new_string("");
    char word[64];
    size_t i;
    for (i = 0; ev->name[i] && i + 1 < sizeof word; i++)
        word[i] = (char)(ev->name[i] >= 'A' && ev->name[i] <= 'Z' ? ev->name[i] + 32 : ev->name[i]);
    word[i] = 0;
    return json_object_new_string(word);
}

static int is_instant(const char *name)
{
    return strcmp(name, "start") == 0 || strcmp(name, "end") == 0 || strcmp(name, "time") == 0 ||
           ends_with(name, "_at");
}

static json_object *local_time(int64_t t)
{
    if (!t)
        return NULL;
    char buf[32];
    cp_time((uint64_t)t, buf, sizeof buf);
    return json_object_new_string(buf);
}

/* The element size of a repeated field's array. */
static size_t element_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

static json_object *message_or_default(const ProtobufCMessageDescriptor *d, const void *m)
{
    if (m)
        return cj_message(m);
    /* the contract forbids recursive messages, so the defaults end */
    void *tmp = calloc(1, d->sizeof_message);
    if (!tmp)
        return NULL;
    d->message_init(tmp);
    json_object *o = cj_message(tmp);
    free(tmp);
    return o;
}

static json_object *field_value(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_object_new_int(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_object_new_int64(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (is_instant(f->name))
            return cj_time((uint64_t) * (const int64_t *)p);
        return json_object_new_int64(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (is_instant(f->name))
            return cj_time(*(const uint64_t *)p);
        return json_object_new_uint64(*(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_object_new_double(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_object_new_double(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_object_new_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM:
        return enum_word(f->descriptor, *(const int *)p);
    case PROTOBUF_C_TYPE_STRING:
        return cj_string(*(char *const *)p);
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        char *hex = malloc(b->len * 2 + 1);
        if (!hex)
            return NULL;
        pm_hex(b->data, b->len, hex);
        json_object *o = json_object_new_string(hex);
        free(hex);
        return o;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return message_or_default(f->descriptor, *(const void *const *)p);
    }
    return NULL;
}

json_object *cj_message(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    json_object *o = json_object_new_object();
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *p = base + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(const char *const *)p;
            json_object *a = json_object_new_array();
            for (size_t k = 0; k < n; k++)
                json_object_array_add(a, field_value(f, arr + k * element_size(f->type)));
            json_object_object_add(o, f->name, a);
            continue;
        }
        json_object_object_add(o, f->name, field_value(f, p));
        if (is_instant(f->name) &&
            (f->type == PROTOBUF_C_TYPE_INT64 || f->type == PROTOBUF_C_TYPE_UINT64)) {
            char key[64];
            snprintf(key, sizeof key, "%s_local", f->name);
            json_object_object_add(o, key, local_time(*(const int64_t *)p));
        }
    }
    return o;
}

void cj_print_messages(void *const *v, size_t n)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, cj_message(v[i]));
    cj_print(arr);
}
