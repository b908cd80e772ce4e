/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cf-quota.h"
#include "cf-state.h"
#include "cf-task-events.h"
#include "cf-switcher.h"

G_BEGIN_DECLS

/* GET /events (ARCHITECTURE.md 4.9): the D-Bus signals as Server-Sent
 * Events, one "event: <signal name>" with the arguments, under their
 * D-Bus names, as a JSON object in "data:" — SessionChanged, TaskDispatched,
 * TaskFinished (from CfState), QuotaExhausted, SwapStarted, SwapFinished
 * (from the quota and the switcher, once followed), and whatever another
 * component publishes (cf_http_events_publish). A ": heartbeat" comment
 * goes out every heartbeat_ms.
 *
 * Each client takes its connection out of the SoupServer and gets its own
 * queue, written asynchronously: nothing here waits on the loop. At most
 * max_clients at once (more get 503 with Retry-After); a client whose
 * unwritten bytes would pass buffer_limit (a reader too slow to keep up,
 * or gone without closing) is disconnected and logged, never buffered
 * without bound. A client that closes its side is forgotten at once. */

#define CF_TYPE_HTTP_EVENTS (cf_http_events_get_type ())
G_DECLARE_FINAL_TYPE (CfHttpEvents, cf_http_events, CF, HTTP_EVENTS, GObject)

typedef struct {
  guint max_clients;           /* 8 */
  gsize buffer_limit;          /* bytes waiting per client, 65 536 */
  guint heartbeat_ms;          /* 15 000 */
} CfHttpEventsOptions;

/* The defaults above, then CF_TEST_SSE_MAX_CLIENTS, CF_TEST_SSE_BUFFER_BYTES
 * and CF_TEST_SSE_HEARTBEAT_MS from the environment when set (tests). */
void cf_http_events_options_init (CfHttpEventsOptions *options);

/* OPTIONS NULL = cf_http_events_options_init (). */
CfHttpEvents *cf_http_events_new (CfState *state, CfTaskEvents *task_events,
                                  const CfHttpEventsOptions *options);
/* Closes every client, then drops the reference. */
void cf_http_events_free (CfHttpEvents *self);

void cf_http_events_follow_failover (CfHttpEvents *self, CfSwitcher *switcher, CfQuota *quota);

/* Sends event NAME with DATA (a JSON object; not taken) to every client. */
void cf_http_events_publish (CfHttpEvents *self, const char *name, JsonNode *data);

/* Answers GET (or HEAD) /events on MSG. */
void cf_http_events_serve (CfHttpEvents *self, SoupServerMessage *msg);

guint cf_http_events_get_n_clients (CfHttpEvents *self);
/* Clients disconnected for being too slow, since start. */
guint64 cf_http_events_get_n_dropped (CfHttpEvents *self);

G_END_DECLS
