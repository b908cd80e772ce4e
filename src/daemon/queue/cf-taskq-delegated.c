/* SPDX-License-Identifier: MIT */
/* Delegation markers (ARCHITECTURE.md 4.2, 4.8): inbox/<id>.md.delegated
 * kept durable beside a task a remote job has, and a task's "never
 * delegate again" note in its meta file. */
#include "cf-taskq-private.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

/* --- Delegation ---------------------------------------------------------------------- */

gboolean
cf_taskq_mark_delegated (const char *project,
                         const char *id,
                         const char *marker,
                         const char *job_id,
                         const char *provider,
                         gint64 now_usec,
                         GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autofree char *task = NULL;
  g_autofree char *path = NULL;
  g_autoptr(JsonObject) meta = NULL;
  g_autoptr(GError) meta_error = NULL;
  JsonObject *event;

  g_return_val_if_fail (marker != NULL, FALSE);

  if (!taskq_check_args (project, id, error) || !cf_taskq_ensure_dirs (project, error))
    return FALSE;
  lock = cf_taskq_lock (project, error);
  if (lock == NULL)
    return FALSE;

  task = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, id);
  path = taskq_marker_path (project, id);
  if (!taskq_exists_no_follow (task, NULL))
    return taskq_not_in_place (error, id, project, "inbox/");
  if (!taskq_require_regular (task, error))
    return FALSE;
  if (taskq_exists_no_follow (path, NULL))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS,
                   _("task '%s' of %s is already delegated"), id, project);
      return FALSE;
    }
  if (!taskq_write_durably (path, marker, strlen (marker), error))
    return FALSE;

  /* The marker is what counts; the history only tells the operator. */
  if (!taskq_meta_load (project, id, &meta, &meta_error))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "CF_TASK", id,
                        "MESSAGE", "%s", meta_error->message);
      return TRUE;
    }
  if (meta == NULL)
    meta = taskq_meta_new (id);
  event = json_object_new ();
  json_object_set_string_member (event, "event", "delegate");
  taskq_set_string_or_null (event, "job_id", job_id);
  taskq_set_string_or_null (event, "provider", provider);
  taskq_meta_annotate (meta, now_usec, event);
  if (!taskq_meta_store (project, id, meta, &meta_error))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "CF_TASK", id,
                      "MESSAGE", "%s", meta_error->message);
  return TRUE;
}

gboolean
cf_taskq_read_delegated (const char *project,
                         const char *id,
                         char **out,
                         gsize *out_length,
                         GError **error)
{
  g_autofree char *path = NULL;
  gsize length = 0;

  g_return_val_if_fail (out != NULL, FALSE);

  if (!taskq_check_args (project, id, error))
    return FALSE;
  path = taskq_marker_path (project, id);
  return taskq_read_regular (path, TASKQ_DELEGATED_MAX_SIZE, out, out_length != NULL ? out_length : &length,
                       error);
}

gboolean
cf_taskq_list_delegated (const char *project, GPtrArray **out_ids, GError **error)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(DIR) dir = NULL;
  g_autofree char *path = NULL;
  struct dirent *entry;

  g_return_val_if_fail (out_ids != NULL, FALSE);

  if (!taskq_check_project (project, error))
    return FALSE;
  path = taskq_place_dir (project, CF_TASK_PLACE_INBOX);
  if (!taskq_open_dir (path, &dir, error))
    return FALSE;
  while ((errno = 0, entry = readdir (dir)) != NULL)
    {
      const char *name = entry->d_name;
      gsize n = strlen (name);
      gsize suffix = strlen (TASKQ_DELEGATED_SUFFIX);
      g_autofree char *id = NULL;

      if (name[0] == '.' || n <= suffix || strcmp (name + n - suffix, TASKQ_DELEGATED_SUFFIX) != 0)
        continue;
      id = g_strndup (name, n - suffix);
      if (cf_task_id_is_valid (id) && taskq_is_regular_entry (dir, entry))
        g_ptr_array_add (ids, g_steal_pointer (&id));
    }
  if (errno != 0)
    return taskq_errno_error (error, path, errno);
  g_ptr_array_sort (ids, taskq_compare_strings);
  *out_ids = g_steal_pointer (&ids);
  return TRUE;
}

gboolean
cf_taskq_remove_delegated (const char *project, const char *id, GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;

  if (!taskq_check_args (project, id, error))
    return FALSE;
  lock = cf_taskq_lock (project, error);
  if (lock == NULL)
    return FALSE;
  path = taskq_marker_path (project, id);
  if (g_unlink (path) < 0)
    return errno == ENOENT ? TRUE : taskq_errno_error (error, path, errno);
  dir = g_path_get_dirname (path);
  return taskq_fsync_dir (dir, error);
}

gboolean
cf_taskq_set_local_only (const char *project,
                         const char *id,
                         const char *reason,
                         gint64 now_usec,
                         GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autoptr(JsonObject) meta = NULL;
  JsonObject *event;

  if (!taskq_check_args (project, id, error) || !cf_taskq_ensure_dirs (project, error))
    return FALSE;
  lock = cf_taskq_lock (project, error);
  if (lock == NULL)
    return FALSE;
  if (!taskq_meta_load (project, id, &meta, error))
    return FALSE;
  if (meta == NULL)
    meta = taskq_meta_new (id);
  json_object_set_boolean_member (meta, "local_only", TRUE);
  event = json_object_new ();
  json_object_set_string_member (event, "event", "local-only");
  taskq_set_string_or_null (event, "reason", reason);
  taskq_meta_annotate (meta, now_usec, event);
  return taskq_meta_store (project, id, meta, error);
}
