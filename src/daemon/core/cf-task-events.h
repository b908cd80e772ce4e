/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib-object.h>

#include "cf-counters.h"

G_BEGIN_DECLS

/* Task events, reported by the components that cause them (dispatcher,
 * watcher, delegation, the bus's CancelTask) and heard by those that re-send
 * or act on them (the bus's TaskDispatched/TaskFinished, the HTTP event
 * stream, the alerts, the dispatcher). Each is counted in the metrics
 * registry, then emitted as "task-dispatched" (project, task, session,
 * model, account) or "task-finished" (project, task, session, outcome),
 * then its task total announced ("totals-changed", which the state hears
 * as CF_STATE_CHANGE_COUNTERS): nobody hears of the new total before the
 * event. OUTCOME is one of done, failed, requeued, timeout, cancelled,
 * delegated-done, delegated-failed. */

#define CF_TYPE_TASK_EVENTS (cf_task_events_get_type ())
G_DECLARE_FINAL_TYPE (CfTaskEvents, cf_task_events, CF, TASK_EVENTS, GObject)

/* Counts into COUNTERS (the state's registry, cf_state_get_counters ()). */
CfTaskEvents *cf_task_events_new (CfCounters *counters);

void cf_task_events_dispatched (CfTaskEvents *self, const char *project, const char *task,
                                const char *session, const char *model, const char *account);
void cf_task_events_finished (CfTaskEvents *self, const char *project, const char *task,
                              const char *session, const char *outcome);

G_END_DECLS
