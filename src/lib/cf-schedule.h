/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "cf-config.h"

G_BEGIN_DECLS

/* Which queued task goes next (ARCHITECTURE.md 4.2): priority first (a
 * critical task jumps the queue), then fairness between projects (the one
 * served least recently wins, so one busy project cannot starve the others),
 * then age. Pure: the caller passes "now" and the serving history. */

typedef struct {
  const char *project;
  const char *task_id;
  CfPriority priority;
  gint64 queued_at;            /* µs since epoch (file mtime) */
  guint attempts;              /* attempts already made */
  gint64 last_attempt_end;     /* µs since epoch of the last failed attempt, 0 = none */
} CfScheduleItem;

/* Seconds to wait before attempt number ATTEMPT (1-based) per
 * dispatcher.cooldown_schedule; attempts past its end use its last value. */
guint cf_schedule_cooldown_seconds (const GArray *cooldown_schedule, guint attempt);

/* When ITEM's cooldown ends (µs since epoch; 0 = it has none). */
gint64 cf_schedule_item_ready_at (const CfScheduleItem *item, const GArray *cooldown_schedule);

/* TRUE when ITEM may be dispatched at NOW_USEC: its cooldown has passed. */
gboolean cf_schedule_item_ready (const CfScheduleItem *item, const GArray *cooldown_schedule,
                                 gint64 now_usec);

/* Index of the item to dispatch next among the N ITEMS, or -1 when none is
 * ready. LAST_SERVED maps project → sequence number of its last dispatch
 * (absent = never served; lower = longer ago); may be NULL. */
gint cf_schedule_pick (const CfScheduleItem *items, guint n, GHashTable *last_served,
                       const GArray *cooldown_schedule, gint64 now_usec);

G_END_DECLS
