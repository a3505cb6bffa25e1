/* Events: every change is written to the event log in the transaction that makes it,
 * with a global sequence number, and published to the connections subscribed to its
 * topic once the transaction is durable. A subscriber that says which sequence number
 * it saw last gets what it missed from the log first, with no gap and no duplicate. */
#ifndef EVENTS_H
#define EVENTS_H

#include <stdint.h>

#include "net.h"
#include "store.h"

struct req;

#define EVENT_TOPICS_MAX 4
#define TOPIC_MAX        63

/* Writer thread: appends ev (seq and time assigned here) to the log under its topics and
 * returns the frame subscribers will get. */
int events_append(wctx *ctx, const char *const *topics, size_t ntopics, Pm__Event *ev,
                  sframe **out);
/* A stored event's topics and where its encoded Event starts: 0 if malformed. */
size_t events_stored_topics(const uint8_t *p, size_t n, const char *topics[EVENT_TOPICS_MAX],
                            size_t lens[EVENT_TOPICS_MAX], size_t *ntopics);
/* Loop thread: sends f to every subscriber of topic that has not had it. */
void events_publish(sframe *f, const char *topic);
/* Whether role may subscribe to topic; a display device only to its location's board. */
int events_topic_allowed(const char *topic, int role, const char *location);
void events_subscribe(struct req *r);
/* Sends the next part of c's replay while its output is short; net calls it as the output
 * drains. */
void events_replay_pump(conn *c);
void events_unsubscribe(struct req *r);
void events_conn_closed(conn *c);
/* Writer thread: drops events older than the retention; returns how many. */
int events_expire(wctx *ctx, uint64_t before, unsigned max, unsigned *removed);

#endif
