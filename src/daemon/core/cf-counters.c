/* SPDX-License-Identifier: MIT */
/* The metrics registry: plain counts, read when /metrics is scraped. */
#include "cf-counters.h"

#include <string.h>

struct _CfCounters {
  GObject parent_instance;

  guint64 events[CF_EVENT_COUNT];
  guint64 totals[CF_COUNTER_COUNT];            /* lifetime */
  guint64 totals_at_start[CF_COUNTER_COUNT];   /* lifetime when loaded */
};

enum {
  SIGNAL_TOTALS_CHANGED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfCounters, cf_counters, G_TYPE_OBJECT)

static void
cf_counters_class_init (CfCountersClass *klass)
{
  /* totals-changed: a task total was incremented */
  signals[SIGNAL_TOTALS_CHANGED] =
    g_signal_new ("totals-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
cf_counters_init (CfCounters *self)
{
}

CfCounters *
cf_counters_new (void)
{
  return g_object_new (CF_TYPE_COUNTERS, NULL);
}

void
cf_counters_count (CfCounters *self, CfEvent event)
{
  g_return_if_fail (CF_IS_COUNTERS (self));
  g_return_if_fail ((guint) event < CF_EVENT_COUNT);
  self->events[event]++;
}

guint64
cf_counters_get (CfCounters *self, CfEvent event)
{
  g_return_val_if_fail (CF_IS_COUNTERS (self), 0);
  g_return_val_if_fail ((guint) event < CF_EVENT_COUNT, 0);
  return self->events[event];
}

void
cf_counters_increment (CfCounters *self, CfCounter counter)
{
  g_return_if_fail (CF_IS_COUNTERS (self));
  g_return_if_fail ((guint) counter < CF_COUNTER_COUNT);
  self->totals[counter]++;
  g_signal_emit (self, signals[SIGNAL_TOTALS_CHANGED], 0);
}

void
cf_counters_increment_silently (CfCounters *self, CfCounter counter)
{
  g_return_if_fail (CF_IS_COUNTERS (self));
  g_return_if_fail ((guint) counter < CF_COUNTER_COUNT);
  self->totals[counter]++;
}

void
cf_counters_emit_totals_changed (CfCounters *self)
{
  g_return_if_fail (CF_IS_COUNTERS (self));
  g_signal_emit (self, signals[SIGNAL_TOTALS_CHANGED], 0);
}

guint64
cf_counters_get_since_start (CfCounters *self, CfCounter counter)
{
  g_return_val_if_fail (CF_IS_COUNTERS (self), 0);
  g_return_val_if_fail ((guint) counter < CF_COUNTER_COUNT, 0);
  return self->totals[counter] - self->totals_at_start[counter];
}

guint64
cf_counters_get_lifetime (CfCounters *self, CfCounter counter)
{
  g_return_val_if_fail (CF_IS_COUNTERS (self), 0);
  g_return_val_if_fail ((guint) counter < CF_COUNTER_COUNT, 0);
  return self->totals[counter];
}

void
cf_counters_load_lifetime (CfCounters *self, const guint64 totals[CF_COUNTER_COUNT])
{
  g_return_if_fail (CF_IS_COUNTERS (self));
  memcpy (self->totals, totals, sizeof self->totals);
  memcpy (self->totals_at_start, totals, sizeof self->totals_at_start);
}
