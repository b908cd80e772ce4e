/* SPDX-License-Identifier: MIT */
#include "cf-counters.h"

struct _CfCounters {
  GObject parent_instance;

  guint64 events[CF_EVENT_COUNT];
};

G_DEFINE_FINAL_TYPE (CfCounters, cf_counters, G_TYPE_OBJECT)

static void
cf_counters_class_init (CfCountersClass *klass)
{
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
