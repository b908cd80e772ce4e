/* SPDX-License-Identifier: MIT */
#include "cf-lifecycle.h"

struct _CfLifecycle {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfTmux *tmux;
  GCancellable *cancellable;

  guint timer_id;
  gboolean running;            /* a reconciliation is in flight */
  gboolean again;              /* another one was asked for meanwhile */
  guint creations_in_flight;
  guint64 passes;
};

G_DEFINE_FINAL_TYPE (CfLifecycle, cf_lifecycle, G_TYPE_OBJECT)

static void reconcile_begin (CfLifecycle *self);

static void
log_session (GLogLevelFlags level, const char *session, const char *message)
{
  g_log_structured (G_LOG_DOMAIN, level,
                    "CF_SESSION", session,
                    "MESSAGE", "%s: %s", session, message);
}

static void
reconcile_end (CfLifecycle *self)
{
  if (self->creations_in_flight > 0)
    return;
  self->running = FALSE;
  self->passes++;
  if (self->again)
    {
      self->again = FALSE;
      reconcile_begin (self);
    }
}

typedef struct {
  CfLifecycle *self;
  char *name;
} CreateData;

static void
on_session_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CreateData *data = user_data;
  CfLifecycle *self = data->self;
  g_autoptr(GError) error = NULL;

  if (!cf_tmux_finish_boolean (CF_TMUX (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *text = g_strdup_printf ("cannot create the pool session: %s",
                                                   error->message);
          log_session (G_LOG_LEVEL_WARNING, data->name, text);
        }
    }
  else
    {
      CfSession *session = cf_state_lookup_session (self->state, data->name);

      log_session (G_LOG_LEVEL_MESSAGE, data->name, "pool session created");
      /* A listing may have seen the new session first and the dispatcher
       * may already be launching in it: only a session still dead is ours
       * to mark idle. */
      if (session != NULL && session->state == CF_SESSION_DEAD)
        {
          cf_state_set_session_work (self->state, data->name, NULL, NULL);
          cf_state_set_session_text (self->state, data->name, CF_SESSION_TEXT_ACCOUNT, NULL);
          cf_state_set_session_state (self->state, data->name, CF_SESSION_IDLE);
        }
    }

  self->creations_in_flight--;
  reconcile_end (self);
  g_free (data->name);
  g_free (data);
  g_object_unref (self);
}

static void
on_failed_killed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (!cf_tmux_finish_boolean (CF_TMUX (source), result, &error))
    g_debug ("lifecycle: kill of a failed session: %s", error->message);
}

/* A session known to tmux: alive. One that tmux does not list: dead. */
static void
mark_presence (CfLifecycle *self, const char *name, CfSessionKind kind, CfTmuxSessionInfo *info)
{
  CfSession *session = cf_state_ensure_session (self->state, name, kind);
  gboolean present = info != NULL;

  cf_state_set_session_text (self->state, name, CF_SESSION_TEXT_PANE, info ? info->pane_id : NULL);
  if (present && session->state == CF_SESSION_DEAD)
    cf_state_set_session_state (self->state, name, CF_SESSION_IDLE);
  else if (present && session->state == CF_SESSION_FAILED && kind == CF_SESSION_POOL)
    {
      /* A failed pool session is never reused as it is: replaced by a fresh one. */
      log_session (G_LOG_LEVEL_MESSAGE, name, "replacing the failed session");
      cf_tmux_kill_session_async (self->tmux, name, self->cancellable, on_failed_killed, NULL);
    }
  else if (!present && session->state != CF_SESSION_DEAD)
    {
      log_session (G_LOG_LEVEL_WARNING, name, "session disappeared");
      if (cf_session_state_holds_task (session->state) || session->state == CF_SESSION_LAUNCHING)
        cf_state_mark_session_failed (self->state, name, g_get_real_time ());
      cf_state_set_session_state (self->state, name, CF_SESSION_DEAD);
    }
}

static void
on_sessions_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CfLifecycle *self = CF_LIFECYCLE (user_data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) listed = NULL;
  g_autoptr(GHashTable) present = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) configured = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) known = NULL;
  guint alive = 0;
  CfConfig *config = self->config;

  listed = cf_tmux_list_sessions_finish (CF_TMUX (source), result, &error);
  if (listed == NULL)
    {
      /* Without tmux nothing can be checked; the reconnect will retrigger us. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("lifecycle: cannot list tmux sessions: %s", error->message);
      reconcile_end (self);
      g_object_unref (self);
      return;
    }
  for (guint i = 0; i < listed->len; i++)
    {
      CfTmuxSessionInfo *info = g_ptr_array_index (listed, i);
      g_hash_table_insert (present, info->name, info);
    }

  for (guint i = 0; i < config->pool_max; i++)
    {
      g_autofree char *name = cf_config_pool_session_name (config, config->pool_start_index + i);
      CfTmuxSessionInfo *info = g_hash_table_lookup (present, name);

      /* Only names we created or adopted are tracked: an absent name beyond
       * min is not a session of ours yet. */
      if (info != NULL || cf_state_lookup_session (self->state, name) != NULL)
        mark_presence (self, name, CF_SESSION_POOL, info);
      if (info != NULL)
        alive++;
      g_hash_table_add (configured, g_steal_pointer (&name));
    }

  for (guint i = 0; i < config->dedicated->len; i++)
    {
      CfDedicatedConfig *dedicated = g_ptr_array_index (config->dedicated, i);
      mark_presence (self, dedicated->name, CF_SESSION_DEDICATED,
                     g_hash_table_lookup (present, dedicated->name));
      g_hash_table_add (configured, g_strdup (dedicated->name));
    }

  /* Sessions left over from a previous configuration stop being ours. */
  known = cf_state_list_sessions (self->state);
  for (guint i = 0; i < known->len; i++)
    {
      CfSession *session = g_ptr_array_index (known, i);
      if (!g_hash_table_contains (configured, session->name) &&
          (session->state == CF_SESSION_DEAD || session->state == CF_SESSION_IDLE))
        cf_state_remove_session (self->state, session->name);
    }

  for (guint i = 0; i < config->pool_max && alive < config->pool_min; i++)
    {
      g_autofree char *name = cf_config_pool_session_name (config, config->pool_start_index + i);
      CreateData *data;

      if (g_hash_table_contains (present, name))
        continue;
      cf_state_ensure_session (self->state, name, CF_SESSION_POOL);
      data = g_new0 (CreateData, 1);
      data->self = g_object_ref (self);
      data->name = g_strdup (name);
      self->creations_in_flight++;
      alive++;
      cf_tmux_new_session_async (self->tmux, name, g_get_home_dir (), NULL, NULL,
                                 self->cancellable, on_session_created, data);
    }

  reconcile_end (self);
  g_object_unref (self);
}

static void
reconcile_begin (CfLifecycle *self)
{
  self->running = TRUE;
  cf_tmux_list_sessions_async (self->tmux, self->cancellable, on_sessions_listed,
                               g_object_ref (self));
}

void
cf_lifecycle_reconcile (CfLifecycle *self)
{
  g_return_if_fail (CF_IS_LIFECYCLE (self));
  if (self->cancellable == NULL)
    return;
  if (self->running)
    {
      self->again = TRUE;
      return;
    }
  reconcile_begin (self);
}

static gboolean
on_timer (gpointer user_data)
{
  cf_lifecycle_reconcile (user_data);
  return G_SOURCE_CONTINUE;
}

static void
on_tmux_connected (CfTmux *tmux, CfLifecycle *self)
{
  cf_lifecycle_reconcile (self);
}

static void
on_tmux_disconnected (CfTmux *tmux, CfLifecycle *self)
{
  /* The sessions may be gone with the server: the next successful listing
   * after the reconnect decides; nothing to do until then. */
}

static void
arm_timer (CfLifecycle *self)
{
  guint interval_ms = MAX (self->config->lifecycle_interval_usec / 1000, 10);

  g_clear_handle_id (&self->timer_id, g_source_remove);
  self->timer_id = g_timeout_add (interval_ms, on_timer, self);
}

void
cf_lifecycle_start (CfLifecycle *self)
{
  g_return_if_fail (self->cancellable == NULL);
  self->cancellable = g_cancellable_new ();
  g_signal_connect_object (self->tmux, "connected", G_CALLBACK (on_tmux_connected), self, 0);
  g_signal_connect_object (self->tmux, "disconnected", G_CALLBACK (on_tmux_disconnected), self,
                           0);
  g_signal_connect_object (self->tmux, "sessions-changed", G_CALLBACK (cf_lifecycle_reconcile),
                           self, G_CONNECT_SWAPPED);
  arm_timer (self);
  if (cf_tmux_is_connected (self->tmux))
    cf_lifecycle_reconcile (self);
}

void
cf_lifecycle_stop (CfLifecycle *self)
{
  g_clear_handle_id (&self->timer_id, g_source_remove);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_signal_handlers_disconnect_by_data (self->tmux, self);
}

void
cf_lifecycle_set_config (CfLifecycle *self, CfConfig *config)
{
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
  if (self->cancellable != NULL)
    {
      arm_timer (self);
      cf_lifecycle_reconcile (self);
    }
}

guint64
cf_lifecycle_get_passes (CfLifecycle *self)
{
  return self->passes;
}

static void
cf_lifecycle_dispose (GObject *object)
{
  CfLifecycle *self = CF_LIFECYCLE (object);

  if (self->tmux != NULL)
    cf_lifecycle_stop (self);
  g_clear_object (&self->tmux);
  g_clear_object (&self->state);
  g_clear_pointer (&self->config, cf_config_unref);
  G_OBJECT_CLASS (cf_lifecycle_parent_class)->dispose (object);
}

static void
cf_lifecycle_class_init (CfLifecycleClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_lifecycle_dispose;
}

static void
cf_lifecycle_init (CfLifecycle *self)
{
}

CfLifecycle *
cf_lifecycle_new (CfConfig *config, CfState *state, CfTmux *tmux)
{
  CfLifecycle *self = g_object_new (CF_TYPE_LIFECYCLE, NULL);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->tmux = g_object_ref (tmux);
  return self;
}
