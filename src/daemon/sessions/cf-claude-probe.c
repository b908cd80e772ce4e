/* SPDX-License-Identifier: MIT */
#include "cf-claude-probe.h"

#include <glib/gi18n.h>

#include "cf-claude-version.h"

typedef struct {
  GSubprocess *process;
  GCancellable *cancellable;   /* ours: cancelled on timeout or by the caller's */
  GCancellable *caller;
  gulong caller_handler;
  guint timeout_id;
  gboolean timed_out;
  guint timeout_ms;
  char *command;
} Probe;

static void
probe_free (Probe *probe)
{
  g_clear_handle_id (&probe->timeout_id, g_source_remove);
  if (probe->caller != NULL)
    g_cancellable_disconnect (probe->caller, probe->caller_handler);
  g_clear_object (&probe->caller);
  g_clear_object (&probe->process);
  g_clear_object (&probe->cancellable);
  g_free (probe->command);
  g_free (probe);
}

static gboolean
on_timeout (gpointer user_data)
{
  Probe *probe = user_data;

  probe->timeout_id = 0;
  probe->timed_out = TRUE;
  g_subprocess_force_exit (probe->process);
  g_cancellable_cancel (probe->cancellable);
  return G_SOURCE_REMOVE;
}

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *probe = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *version = NULL;

  if (!g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &out, NULL, &error))
    {
      if (probe->timed_out)
        /* TRANSLATORS: a command, then a number of milliseconds */
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                 _("%s --version did not answer within %u ms"), probe->command,
                                 probe->timeout_ms);
      else
        g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  version = cf_claude_version_parse (out);
  if (!g_subprocess_get_successful (G_SUBPROCESS (source)) || version == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED,
                               _("%s --version printed no version"), probe->command);
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&version), g_free);
}

static void
on_caller_cancelled (GCancellable *caller, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

void
cf_claude_probe_version_async (const char *command, guint timeout_ms, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Probe *probe = g_new0 (Probe, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, cf_claude_probe_version_async);
  g_task_set_task_data (task, probe, (GDestroyNotify) probe_free);
  probe->command = g_strdup (command);
  probe->timeout_ms = timeout_ms;
  probe->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                     G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                     &error, command, "--version", NULL);
  if (probe->process == NULL)
    {
      /* TRANSLATORS: a command, then why it could not run */
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("cannot run %s: %s"),
                               command, error->message);
      g_error_free (error);
      g_object_unref (task);
      return;
    }
  probe->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      probe->caller = g_object_ref (cancellable);
      probe->caller_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_caller_cancelled),
                                                     probe->cancellable, NULL);
    }
  probe->timeout_id = g_timeout_add (timeout_ms, on_timeout, probe);
  g_subprocess_communicate_utf8_async (probe->process, NULL, probe->cancellable, on_communicated,
                                       task);
}

char *
cf_claude_probe_version_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
