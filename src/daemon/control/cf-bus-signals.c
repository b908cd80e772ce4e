/* SPDX-License-Identifier: MIT */
/* What org.claudefailover.Manager announces: the PropertiesChanged of a
 * main-loop iteration coalesced into one idle flush, and the signals it
 * re-sends from the components it follows — CfState and CfTaskEvents
 * (cf_bus_new), the watcher (cf_bus_set_components), quota and switcher
 * (cf_bus_set_failover). */
#include "cf-bus-private.h"

#include "cf-event-source.h"
#include "cf-names.h"
#include "cf-status.h"

/* ---- change propagation ------------------------------------------------- */

static gboolean
flush_changes (gpointer user_data)
{
  CfBus *self = user_data;
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  guint n_properties;
  const CfStatusProperty *properties = cf_status_properties (&n_properties);
  int r;

  self->flush_id = 0;
  for (guint i = 0; i < n_properties; i++)
    if (properties[i].change & self->pending_changes)
      g_ptr_array_add (names, (gpointer) properties[i].name);
  self->pending_changes = 0;
  if (names->len == 0 || self->bus == NULL || !self->name_acquired)
    return G_SOURCE_REMOVE;
  g_ptr_array_add (names, NULL);
  r = sd_bus_emit_properties_changed_strv (self->bus, CF_OBJECT_PATH, CF_INTERFACE,
                                           (char **) names->pdata);
  if (r < 0)
    g_warning ("Cannot emit PropertiesChanged: %s", g_strerror (-r));
  return G_SOURCE_REMOVE;
}

static void
on_state_changed (CfState *state, guint what, CfBus *self)
{
  g_clear_pointer (&self->status, g_variant_unref);
  self->pending_changes |= what;
  if (self->flush_id == 0)
    self->flush_id = g_idle_add (flush_changes, self);
}

static void
on_session_changed (CfState *state, CfSession *session, CfBus *self)
{
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_emit_signal (self->bus, CF_OBJECT_PATH, CF_INTERFACE, "SessionChanged", "ssss",
                          session->name, cf_session_state_to_string (session->state),
                          session->project, session->task);
  if (r < 0)
    g_warning ("Cannot emit SessionChanged: %s", g_strerror (-r));
}

static void
on_task_dispatched (CfTaskEvents *events, const char *project, const char *task,
                    const char *session, const char *model, const char *account, CfBus *self)
{
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_emit_signal (self->bus, CF_OBJECT_PATH, CF_INTERFACE, "TaskDispatched", "sssss",
                          project, task, session, model, account);
  if (r < 0)
    g_warning ("Cannot emit TaskDispatched: %s", g_strerror (-r));
}

static void
on_task_finished (CfTaskEvents *events, const char *project, const char *task, const char *session,
                  const char *outcome, CfBus *self)
{
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_emit_signal (self->bus, CF_OBJECT_PATH, CF_INTERFACE, "TaskFinished", "ssss",
                          project, task, session, outcome);
  if (r < 0)
    g_warning ("Cannot emit TaskFinished: %s", g_strerror (-r));
}

static void
on_needs_input (CfWatcher *watcher, const char *name, const char *project, const char *task,
                const char *what, CfBus *self)
{
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_emit_signal (self->bus, CF_OBJECT_PATH, CF_INTERFACE, "SessionNeedsInput", "ssss",
                          name, project, task, what);
  if (r < 0)
    g_warning ("Cannot emit SessionNeedsInput: %s", g_strerror (-r));
}

static void
on_quota_exhausted (CfQuota *quota, const char *account, GStrv sessions, gint64 reset_at,
                    const char *evidence, CfBus *self)
{
  g_autoptr(sd_bus_message) signal = NULL;
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_message_new_signal (self->bus, &signal, CF_OBJECT_PATH, CF_INTERFACE, "QuotaExhausted");
  if (r >= 0)
    r = sd_bus_message_append (signal, "s", account);
  if (r >= 0)
    r = sd_bus_message_append_strv (signal, sessions);
  if (r >= 0)
    r = sd_bus_message_append (signal, "ts", (uint64_t) MAX (reset_at, 0), evidence);
  if (r >= 0)
    r = sd_bus_send (self->bus, signal, NULL);
  if (r < 0)
    g_warning ("Cannot emit QuotaExhausted: %s", g_strerror (-r));
}

static void
on_swap_started (CfSwitcher *switcher, const char *from, const char *to, const char *reason,
                 CfBus *self)
{
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_emit_signal (self->bus, CF_OBJECT_PATH, CF_INTERFACE, "SwapStarted", "sss",
                          from, to, reason);
  if (r < 0)
    g_warning ("Cannot emit SwapStarted: %s", g_strerror (-r));
}

static void
on_swap_finished (CfSwitcher *switcher, const char *from, const char *to, gboolean success,
                  const char *message, CfBus *self)
{
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_emit_signal (self->bus, CF_OBJECT_PATH, CF_INTERFACE, "SwapFinished", "ssbs",
                          from, to, (int) success, message);
  if (r < 0)
    g_warning ("Cannot emit SwapFinished: %s", g_strerror (-r));
}

void
cf_bus_set_config (CfBus *self, CfConfig *config)
{
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
  on_state_changed (self->state, CF_STATE_CHANGE_ACCOUNTS, self);
}

CfBus *
cf_bus_new (CfState *state, CfTaskEvents *task_events, CfConfig *config)
{
  CfBus *self = g_object_new (CF_TYPE_BUS, NULL);

  self->state = g_object_ref (state);
  self->task_events = g_object_ref (task_events);
  self->config = cf_config_ref (config);
  g_signal_connect_object (state, "changed", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (state, "session-changed", G_CALLBACK (on_session_changed), self, 0);
  g_signal_connect_object (task_events, "task-dispatched", G_CALLBACK (on_task_dispatched), self,
                           0);
  g_signal_connect_object (task_events, "task-finished", G_CALLBACK (on_task_finished), self, 0);
  return self;
}

void
cf_bus_set_components (CfBus *self, CfInbox *inbox, CfHookRouter *hooks, CfWatcher *watcher)
{
  g_set_object (&self->inbox, inbox);
  g_set_object (&self->hooks, hooks);
  /* A watcher replaced is not followed any more. */
  if (self->watcher != NULL)
    g_signal_handlers_disconnect_by_data (self->watcher, self);
  g_set_object (&self->watcher, watcher);
  if (watcher != NULL)
    g_signal_connect_object (watcher, "needs-input", G_CALLBACK (on_needs_input), self, 0);
}

void
cf_bus_set_failover (CfBus *self, CfSwitcher *switcher, CfQuota *quota)
{
  g_return_if_fail (self->switcher == NULL && self->quota == NULL);
  self->switcher = g_object_ref (switcher);
  self->quota = g_object_ref (quota);
  g_signal_connect_object (quota, "exhausted", G_CALLBACK (on_quota_exhausted), self, 0);
  g_signal_connect_object (switcher, "swap-started", G_CALLBACK (on_swap_started), self, 0);
  g_signal_connect_object (switcher, "swap-finished", G_CALLBACK (on_swap_finished), self, 0);
}
