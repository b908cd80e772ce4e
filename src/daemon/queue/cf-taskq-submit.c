/* SPDX-License-Identifier: MIT */
/* A submission (SubmitTask, ARCHITECTURE.md 4.4): a new task file written
 * into the inbox the way every queue write is — under the queue lock,
 * through the queue's one atomic write (its temporary name is the one
 * recovery removes), never replacing a task that has the id. */
#include "cf-taskq-private.h"

#include <glib/gi18n.h>
#include <string.h>

gboolean
cf_taskq_submit (const char *project, const char *id, const char *text, GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *path = NULL;
  gboolean ok;

  g_return_val_if_fail (text != NULL, FALSE);

  if (!taskq_check_args (project, id, error) || !cf_taskq_ensure_dirs (project, error))
    return FALSE;
  lock = cf_taskq_lock (project, error);
  if (lock == NULL)
    return FALSE;
  path = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, id);
  /* The file appears at once and whole: the inbox never sees it half
   * written, so it needs no settle time. */
  ok = taskq_write_atomic (path, text, strlen (text), TASKQ_WRITE_NO_REPLACE, &local_error);
  taskq_changed (project);
  if (ok)
    return TRUE;
  if (g_error_matches (local_error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS))
    {
      g_autofree char *inbox = taskq_place_dir (project, CF_TASK_PLACE_INBOX);

      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS,
                   _("a task %s already exists in %s"), id, inbox);
      return FALSE;
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}
