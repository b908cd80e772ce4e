/* SPDX-License-Identifier: MIT */
/* Remote delegation (CfDelegation): which tasks this component takes
 * (its CfTaskFilter, asked by the dispatcher), its configuration
 * and life cycle. Submitting is in cf-delegation-submit.c, reaping in
 * cf-delegation-reaper.c, the status and metrics in cf-delegation-report.c. */
#include "cf-delegation-private.h"

static void cf_delegation_task_filter_init (CfTaskFilterInterface *iface);
static void cf_delegation_status_reporter_init (CfStatusReporterInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CfDelegation, cf_delegation, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CF_TYPE_TASK_FILTER,
                                                      cf_delegation_task_filter_init)
                               G_IMPLEMENT_INTERFACE (CF_TYPE_STATUS_REPORTER,
                                                      cf_delegation_status_reporter_init))

char *
make_key (const char *project, const char *id)
{
  return g_strconcat (project, "\n", id, NULL);
}

void
job_free (Job *job)
{
  g_free (job->project);
  g_free (job->id);
  g_free (job->job_id);
  g_free (job->provider);
  g_free (job->last_error);
  g_free (job);
}

void
log_task (GLogLevelFlags level, const char *project, const char *id, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_log_structured (G_LOG_DOMAIN, level,
                    "CF_TASK", id,
                    "CF_PROJECT", project,
                    "MESSAGE", "%s: %s: %s", project, id, text);
}

gboolean
is_running (CfDelegation *self)
{
  return self->cancellable != NULL;
}

/* ---- routing: who takes a task -------------------------------------------- */

static void
on_state_changed (CfState *state, guint what, CfDelegation *self)
{
  if (what & CF_STATE_CHANGE_DISPATCH_PAUSED)
    schedule_kick (self);
}

gboolean
wants (CfDelegation *self, const CfInboxTask *task, const char *key)
{
  return self->enabled && task->provider != NULL && !task->local_only &&
         !g_hash_table_contains (self->local_only, key);
}

static gboolean
skip_task (CfTaskFilter *filter, const CfInboxTask *task)
{
  CfDelegation *self = CF_DELEGATION (filter);
  g_autofree char *key = make_key (task->project, task->id);

  /* Whatever the configuration says now, a task with a submission in
   * flight or a job is ours. */
  if (g_hash_table_contains (self->submitting, key) || g_hash_table_contains (self->jobs, key))
    return TRUE;
  return is_running (self) && wants (self, task, key);
}

static void
cf_delegation_task_filter_init (CfTaskFilterInterface *iface)
{
  iface->skip_task = skip_task;
}

static JsonNode *
build_status (CfStatusReporter *reporter)
{
  return cf_delegation_build_status (CF_DELEGATION (reporter));
}

static void
render_metrics (CfStatusReporter *reporter, GString *out)
{
  cf_delegation_render_metrics (CF_DELEGATION (reporter), out);
}

static void
cf_delegation_status_reporter_init (CfStatusReporterInterface *iface)
{
  iface->build_status = build_status;
  iface->render_metrics = render_metrics;
}

/* ---- configuration and life cycle ---------------------------------------------- */

static void
apply_config (CfDelegation *self)
{
  gboolean was_enabled = self->enabled;
  g_autoptr(GError) error = NULL;

  g_clear_object (&self->client);
  self->enabled = cf_config_delegation_enabled (self->config);
  if (self->enabled)
    {
      self->client = cf_delegate_client_new (self->config->delegation_url,
                                             g_getenv (self->config->delegation_api_key_env),
                                             &self->client_options, &error);
      if (self->client == NULL)
        {
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                            "MESSAGE", "Delegation stays off: %s", error->message);
          self->enabled = FALSE;
        }
    }
  if (self->enabled)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "MESSAGE", "Delegation on: job API %s, reaped every %" G_GINT64_FORMAT " ms",
                      cf_delegate_client_get_display_url (self->client),
                      self->config->delegation_reap_interval_usec / 1000);
  else if (was_enabled)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "MESSAGE", "Delegation off: every task runs locally");
  self->warned_off = FALSE;
}

void
cf_delegation_set_client_options (CfDelegation *self, const CfDelegateClientOptions *options)
{
  g_return_if_fail (CF_IS_DELEGATION (self));

  if (options != NULL)
    self->client_options = *options;
  else
    cf_delegate_client_options_init (&self->client_options);
  apply_config (self);
}

void
cf_delegation_set_clock (CfDelegation *self, CfClock *clock)
{
  g_return_if_fail (CF_IS_DELEGATION (self));
  g_return_if_fail (!is_running (self));

  g_clear_pointer (&self->clock, cf_clock_unref);
  self->clock = cf_clock_ref (clock != NULL ? clock : cf_clock_get_default ());
}

void
cf_delegation_start (CfDelegation *self)
{
  g_return_if_fail (CF_IS_DELEGATION (self));
  g_return_if_fail (self->cancellable == NULL);

  self->cancellable = g_cancellable_new ();
  g_signal_connect_object (self->inbox, "tasks-available", G_CALLBACK (schedule_kick), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->state, "changed", G_CALLBACK (on_state_changed), self, 0);
  schedule_pass (self, FIRST_PASS_MS);
  schedule_kick (self);
}

void
cf_delegation_stop (CfDelegation *self)
{
  g_return_if_fail (CF_IS_DELEGATION (self));

  if (self->cancellable == NULL)
    return;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_signal_handlers_disconnect_by_data (self->inbox, self);
  g_signal_handlers_disconnect_by_data (self->state, self);
  g_clear_handle_id (&self->kick_id, g_source_remove);
  cf_clock_clear (self->clock, &self->reap_id);
  g_queue_clear_full (&self->poll_queue, g_free);
}

void
cf_delegation_set_config (CfDelegation *self, CfConfig *config)
{
  g_return_if_fail (CF_IS_DELEGATION (self));

  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
  apply_config (self);
  if (is_running (self))
    {
      schedule_kick (self);
      cf_delegation_reap_now (self);
    }
}

gboolean
cf_delegation_is_enabled (CfDelegation *self)
{
  g_return_val_if_fail (CF_IS_DELEGATION (self), FALSE);
  return self->enabled;
}

void
cf_delegation_get_counts (CfDelegation *self, CfDelegationCounts *out)
{
  g_return_if_fail (CF_IS_DELEGATION (self));
  g_return_if_fail (out != NULL);

  out->active = g_hash_table_size (self->jobs);
  out->submitting = g_hash_table_size (self->submitting);
  out->submitted = self->submitted;
  out->completed = self->completed;
  out->failed = self->failed;
  out->fallbacks = self->fallbacks;
  out->passes = self->passes;
}

static void
cf_delegation_dispose (GObject *object)
{
  CfDelegation *self = CF_DELEGATION (object);

  cf_delegation_stop (self);
  g_clear_object (&self->client);
  g_clear_object (&self->inbox);
  g_clear_object (&self->state);
  g_clear_object (&self->task_events);
  G_OBJECT_CLASS (cf_delegation_parent_class)->dispose (object);
}

static void
cf_delegation_finalize (GObject *object)
{
  CfDelegation *self = CF_DELEGATION (object);

  g_hash_table_unref (self->submitting);
  g_hash_table_unref (self->local_only);
  g_hash_table_unref (self->jobs);
  g_clear_pointer (&self->config, cf_config_unref);
  g_clear_pointer (&self->clock, cf_clock_unref);
  G_OBJECT_CLASS (cf_delegation_parent_class)->finalize (object);
}

static void
cf_delegation_class_init (CfDelegationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cf_delegation_dispose;
  object_class->finalize = cf_delegation_finalize;
}

static void
cf_delegation_init (CfDelegation *self)
{
  self->submitting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->local_only = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->jobs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) job_free);
  g_queue_init (&self->poll_queue);
  self->clock = cf_clock_get_default ();
  cf_delegate_client_options_init (&self->client_options);
}

CfDelegation *
cf_delegation_new (CfConfig *config, CfState *state, CfTaskEvents *task_events, CfInbox *inbox)
{
  CfDelegation *self = g_object_new (CF_TYPE_DELEGATION, NULL);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->task_events = g_object_ref (task_events);
  self->inbox = g_object_ref (inbox);
  apply_config (self);
  return self;
}
