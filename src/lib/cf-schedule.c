/* SPDX-License-Identifier: MIT */
#include "cf-schedule.h"

guint
cf_schedule_cooldown_seconds (const GArray *cooldown_schedule, guint attempt)
{
  if (cooldown_schedule == NULL || cooldown_schedule->len == 0 || attempt == 0)
    return 0;
  attempt = MIN (attempt, cooldown_schedule->len);
  return g_array_index (cooldown_schedule, guint, attempt - 1);
}

gint64
cf_schedule_item_ready_at (const CfScheduleItem *item, const GArray *cooldown_schedule)
{
  guint wait;

  if (item->last_attempt_end <= 0)
    return 0;
  wait = cf_schedule_cooldown_seconds (cooldown_schedule, item->attempts + 1);
  return item->last_attempt_end + (gint64) wait * G_USEC_PER_SEC;
}

gboolean
cf_schedule_item_ready (const CfScheduleItem *item, const GArray *cooldown_schedule,
                        gint64 now_usec)
{
  return now_usec >= cf_schedule_item_ready_at (item, cooldown_schedule);
}

/* Sequence number of the project's last dispatch; never served sorts first. */
static gint64
served_rank (GHashTable *last_served, const char *project)
{
  gpointer value;

  if (last_served == NULL || !g_hash_table_lookup_extended (last_served, project, NULL, &value))
    return -1;
  return (gint64) GPOINTER_TO_SIZE (value);
}

/* Negative when A goes before B. */
static int
compare_items (const CfScheduleItem *a, const CfScheduleItem *b, GHashTable *last_served)
{
  gint64 ra, rb;
  int r;

  if (a->priority != b->priority)
    return a->priority < b->priority ? -1 : 1;   /* CF_PRIORITY_CRITICAL = 0 */
  if (g_strcmp0 (a->project, b->project) != 0)
    {
      ra = served_rank (last_served, a->project);
      rb = served_rank (last_served, b->project);
      if (ra != rb)
        return ra < rb ? -1 : 1;
    }
  if (a->queued_at != b->queued_at)
    return a->queued_at < b->queued_at ? -1 : 1;
  /* Total order, so the pick never depends on the input order. */
  r = g_strcmp0 (a->project, b->project);
  return r != 0 ? r : g_strcmp0 (a->task_id, b->task_id);
}

gint
cf_schedule_pick (const CfScheduleItem *items, guint n, GHashTable *last_served,
                  const GArray *cooldown_schedule, gint64 now_usec)
{
  gint best = -1;

  for (guint i = 0; i < n; i++)
    {
      if (!cf_schedule_item_ready (&items[i], cooldown_schedule, now_usec))
        continue;
      if (best < 0 || compare_items (&items[i], &items[best], last_served) < 0)
        best = (gint) i;
    }
  return best;
}
