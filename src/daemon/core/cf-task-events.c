/* SPDX-License-Identifier: MIT */
/* Task events: the dispatched and finished signals, and counting them in
 * the metrics registry (cf-task-events.h). */
#include "cf-task-events.h"

struct _CfTaskEvents {
  GObject parent_instance;

  CfCounters *counters;
};

enum {
  SIGNAL_TASK_DISPATCHED,
  SIGNAL_TASK_FINISHED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfTaskEvents, cf_task_events, G_TYPE_OBJECT)

static const char *const outcome_names[] = {
  [CF_EVENT_TASK_DONE] = "done",
  [CF_EVENT_TASK_FAILED] = "failed",
  [CF_EVENT_TASK_REQUEUED] = "requeued",
  [CF_EVENT_TASK_TIMEOUT] = "timeout",
  [CF_EVENT_TASK_CANCELLED] = "cancelled",
  [CF_EVENT_TASK_DELEGATED_DONE] = "delegated-done",
  [CF_EVENT_TASK_DELEGATED_FAILED] = "delegated-failed",
};

void
cf_task_events_dispatched (CfTaskEvents *self, const char *project, const char *task,
                           const char *session, const char *model, const char *account)
{
  g_return_if_fail (CF_IS_TASK_EVENTS (self));
  cf_counters_increment_silently (self->counters, CF_COUNTER_DISPATCHED);
  g_signal_emit (self, signals[SIGNAL_TASK_DISPATCHED], 0, project, task, session, model, account);
  cf_counters_emit_totals_changed (self->counters);
}

void
cf_task_events_finished (CfTaskEvents *self, const char *project, const char *task,
                         const char *session, const char *outcome)
{
  g_return_if_fail (CF_IS_TASK_EVENTS (self));
  for (guint i = 0; outcome != NULL && i < G_N_ELEMENTS (outcome_names); i++)
    if (g_str_equal (outcome_names[i], outcome))
      cf_counters_count (self->counters, i);
  if (g_str_equal (outcome, "done") || g_str_equal (outcome, "delegated-done"))
    cf_counters_increment_silently (self->counters, CF_COUNTER_COMPLETED);
  else if (g_str_equal (outcome, "failed") || g_str_equal (outcome, "delegated-failed"))
    cf_counters_increment_silently (self->counters, CF_COUNTER_FAILED);
  g_signal_emit (self, signals[SIGNAL_TASK_FINISHED], 0, project, task, session, outcome);
  /* Also after an outcome with no total, as ever: the state reports its
   * counters changed after every task event. */
  cf_counters_emit_totals_changed (self->counters);
}

static void
cf_task_events_finalize (GObject *object)
{
  CfTaskEvents *self = CF_TASK_EVENTS (object);

  g_object_unref (self->counters);
  G_OBJECT_CLASS (cf_task_events_parent_class)->finalize (object);
}

static void
cf_task_events_class_init (CfTaskEventsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cf_task_events_finalize;

  /* task-dispatched (project, task, session, model, account) */
  signals[SIGNAL_TASK_DISPATCHED] =
    g_signal_new ("task-dispatched", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 5, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  /* task-finished (project, task, session, outcome) */
  signals[SIGNAL_TASK_FINISHED] =
    g_signal_new ("task-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_STRING, G_TYPE_STRING);
}

static void
cf_task_events_init (CfTaskEvents *self)
{
}

CfTaskEvents *
cf_task_events_new (CfCounters *counters)
{
  CfTaskEvents *self = g_object_new (CF_TYPE_TASK_EVENTS, NULL);

  self->counters = g_object_ref (counters);
  return self;
}
