/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib-object.h>

#include "cf-inbox.h"

G_BEGIN_DECLS

/* CfTaskFilter — one question a taker of queued tasks asks before it takes
 * one: "is this task someone else's?" The dispatcher asks it of each head of
 * the inbox listing (cf_dispatcher_set_task_filter); CfDelegation answers it
 * (TRUE for a task it takes or has), so that neither knows the other. */
#define CF_TYPE_TASK_FILTER (cf_task_filter_get_type ())
G_DECLARE_INTERFACE (CfTaskFilter, cf_task_filter, CF, TASK_FILTER, GObject)

struct _CfTaskFilterInterface
{
  GTypeInterface parent_iface;

  gboolean (*skip_task) (CfTaskFilter *self, const CfInboxTask *task);
};

/* TRUE when TASK must be left to the implementer. */
gboolean cf_task_filter_skip_task (CfTaskFilter *self, const CfInboxTask *task);

G_END_DECLS
