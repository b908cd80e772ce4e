/* SPDX-License-Identifier: MIT */
/* CfTaskFilter: the "is this task someone else's?" query interface. */
#include "cf-task-filter.h"

G_DEFINE_INTERFACE (CfTaskFilter, cf_task_filter, G_TYPE_OBJECT)

static void
cf_task_filter_default_init (CfTaskFilterInterface *iface)
{
}

gboolean
cf_task_filter_skip_task (CfTaskFilter *self, const CfInboxTask *task)
{
  g_return_val_if_fail (CF_IS_TASK_FILTER (self), FALSE);
  g_return_val_if_fail (task != NULL, FALSE);
  return CF_TASK_FILTER_GET_IFACE (self)->skip_task (self, task);
}
