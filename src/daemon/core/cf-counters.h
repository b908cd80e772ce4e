/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The metrics registry, rendered by /metrics (cf-metrics.c); a component
 * counts what it sees. Two kinds:
 * - events (CfEvent): since start, not persisted, no signal (read when
 *   scraped);
 * - task totals (CfCounter), also on the bus (TasksDispatched, …): kept
 *   for the life of the state file, which stores them (cf-state-json.c);
 *   each increment emits "totals-changed". */

typedef enum {
  CF_COUNTER_DISPATCHED,
  CF_COUNTER_COMPLETED,
  CF_COUNTER_FAILED,
  CF_COUNTER_DELEGATED,
  CF_COUNTER_COUNT,
} CfCounter;

typedef enum {
  CF_EVENT_TASK_DONE,
  CF_EVENT_TASK_FAILED,
  CF_EVENT_TASK_REQUEUED,
  CF_EVENT_TASK_TIMEOUT,
  CF_EVENT_TASK_CANCELLED,
  CF_EVENT_TASK_DELEGATED_DONE,
  CF_EVENT_TASK_DELEGATED_FAILED,
  CF_EVENT_SWAP_SUCCEEDED,         /* switcher: a switch completed */
  CF_EVENT_SWAP_FAILED,            /* switcher: a switch failed (rolled back or partial) */
  CF_EVENT_LIMIT_BY_HOOK,          /* quota: a session blocked, by a StopFailure hook */
  CF_EVENT_LIMIT_BY_PANE,          /* quota: a session blocked, by its pane */
  CF_EVENT_LIMIT_VETOED,           /* quota: a pane poll whose limit match 5xx text vetoed */
  CF_EVENT_DONE_BY_HOOK,           /* watcher: completion from the Stop hook */
  CF_EVENT_DONE_BY_SIGNAL_FILE,    /* watcher: completion from the done-signal file */
  CF_EVENT_DONE_BY_PANE,           /* watcher: completion from a stable idle pane */
  CF_EVENT_DONE_BY_IDLE_TIMEOUT,   /* watcher: dispatcher.idle_timeout reached */
  CF_EVENT_NOTIFY_TELEGRAM_SENT,
  CF_EVENT_NOTIFY_TELEGRAM_FAILED,
  CF_EVENT_NOTIFY_EMAIL_SENT,
  CF_EVENT_NOTIFY_EMAIL_FAILED,
  CF_EVENT_NOTIFY_WEBHOOK_SENT,    /* notifications.webhooks, all of them */
  CF_EVENT_NOTIFY_WEBHOOK_FAILED,
  CF_EVENT_NOTIFY_DROPPED,         /* queue full: the oldest pending one was dropped */
  CF_EVENT_NOTIFY_COALESCED,       /* identical to one sent moments before: merged */
  CF_EVENT_STATE_WRITTEN,          /* state store: the state file was written */
  CF_EVENT_COUNT,
} CfEvent;

#define CF_TYPE_COUNTERS (cf_counters_get_type ())
G_DECLARE_FINAL_TYPE (CfCounters, cf_counters, CF, COUNTERS, GObject)

CfCounters *cf_counters_new (void);
void cf_counters_count (CfCounters *self, CfEvent event);
guint64 cf_counters_get (CfCounters *self, CfEvent event);

void cf_counters_increment (CfCounters *self, CfCounter counter);
/* For a component that tells of an event between counting it and
 * announcing the new total (cf-task-events.c): the increment without
 * "totals-changed", then "totals-changed" alone. */
void cf_counters_increment_silently (CfCounters *self, CfCounter counter);
void cf_counters_emit_totals_changed (CfCounters *self);
/* Since start: the total less what the state file held when loaded. */
guint64 cf_counters_get_since_start (CfCounters *self, CfCounter counter);
/* The total over the state file's life, and setting all of them from the
 * file (no signal: loading is not a change). */
guint64 cf_counters_get_lifetime (CfCounters *self, CfCounter counter);
void cf_counters_load_lifetime (CfCounters *self, const guint64 totals[CF_COUNTER_COUNT]);

G_END_DECLS
