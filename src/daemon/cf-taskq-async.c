/* SPDX-License-Identifier: MIT */
#include "cf-taskq-async.h"
#include "cf-worktree.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <unistd.h>

typedef struct {
  char *project;
  char *id;
  CfTaskOutcome outcome;
  char *reason;
  char *footer;
  gboolean count_attempt;
  guint max_attempts;
  gboolean failed;
  gboolean cancel;
  char *text;
  CfTaskPlace place;
} Job;

static void
job_free (Job *job)
{
  g_free (job->project);
  g_free (job->id);
  g_free (job->reason);
  g_free (job->footer);
  g_free (job->text);
  g_free (job);
}

static GTask *
job_task (Job *job, gpointer source_tag, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  return task;
}

static void
finish_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Job *job = data;
  GError *error = NULL;

  if (cf_taskq_finish (job->project, job->id, job->outcome, job->reason, job->footer,
                       g_get_real_time (), &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
cf_taskq_finish_async (const char *project, const char *id, CfTaskOutcome outcome,
                       const char *reason, const char *footer,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job = g_new0 (Job, 1);
  g_autoptr(GTask) task = NULL;

  job->project = g_strdup (project);
  job->id = g_strdup (id);
  job->outcome = outcome;
  job->reason = g_strdup (reason);
  job->footer = g_strdup (footer);
  task = job_task (job, cf_taskq_finish_async, callback, user_data);
  g_task_run_in_thread (task, finish_in_thread);
}

gboolean
cf_taskq_finish_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
return_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Job *job = data;
  GError *error = NULL;
  gint64 now = g_get_real_time ();
  g_autofree char *verdict_reason = NULL;
  CfTaskOutcome outcome;
  gboolean ok;

  /* Only a task still running may go back: one already in done/ or failed/
   * (settled before a crash, say) stays there. */
  if (cf_taskq_locate (job->project, job->id) != CF_TASK_PLACE_ACTIVE)
    {
      g_task_return_new_error (task, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND,
                               _("task %s is not active"), job->id);
      return;
    }
  /* Finished already (its move failed): settle it, never run it again. */
  if (cf_taskq_pending_verdict (job->project, job->id, &outcome, &verdict_reason))
    {
      /* A crash may have come while its worktree was concluded. */
      g_autofree char *footer = cf_worktree_conclude (job->project, job->id,
                                                      outcome == CF_TASK_OUTCOME_FAILED,
                                                      cf_worktree_get_keep_policy ());
      job->failed = outcome == CF_TASK_OUTCOME_FAILED;
      ok = cf_taskq_finish (job->project, job->id, outcome, verdict_reason, footer, now, &error);
    }
  else if (job->count_attempt && cf_taskq_attempts (job->project, job->id) >= job->max_attempts)
    {
      g_autofree char *reason = g_strdup_printf (_("%s; gave up after %u attempts"),
                                                 job->reason, job->max_attempts);
      job->failed = TRUE;
      ok = cf_taskq_finish (job->project, job->id, CF_TASK_OUTCOME_FAILED, reason, NULL, now,
                            &error);
    }
  else
    ok = cf_taskq_requeue_active (job->project, job->id, job->count_attempt, now, &error);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
cf_taskq_return_async (const char *project, const char *id, gboolean count_attempt,
                       guint max_attempts, const char *reason,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job = g_new0 (Job, 1);
  g_autoptr(GTask) task = NULL;

  job->project = g_strdup (project);
  job->id = g_strdup (id);
  job->count_attempt = count_attempt;
  job->max_attempts = max_attempts;
  job->reason = g_strdup (reason);
  task = job_task (job, cf_taskq_return_async, callback, user_data);
  g_task_run_in_thread (task, return_in_thread);
}

gboolean
cf_taskq_return_finish (GAsyncResult *result, gboolean *out_failed, GError **error)
{
  Job *job = g_task_get_task_data (G_TASK (result));

  if (out_failed != NULL)
    *out_failed = job->failed;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
fsync_dir (const char *dir, GError **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved_errno;

  if (fd >= 0 && fsync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  saved_errno = errno;
  if (fd >= 0)
    close (fd);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               _("cannot sync %s: %s"), dir, g_strerror (saved_errno));
  return FALSE;
}

static void
submit_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Job *job = data;
  GError *error = NULL;
  g_autofree char *final = cf_taskq_task_path (job->project, CF_TASK_PLACE_INBOX, job->id);
  g_autofree char *inbox = NULL;
  g_autofree char *temp_name = NULL;
  g_autofree char *temp = NULL;

  if (final == NULL)
    {
      g_task_return_new_error (task, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT,
                               _("invalid task id '%s'"), job->id);
      return;
    }
  if (!cf_taskq_ensure_dirs (job->project, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  inbox = g_path_get_dirname (final);
  temp_name = g_strdup_printf (".%s.md.submit", job->id);
  temp = g_build_filename (inbox, temp_name, NULL);
  if (!g_file_set_contents_full (temp, job->text, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  /* An atomic appearance that refuses to replace a task that already has
   * this id: renameat2 (RENAME_NOREPLACE), else link(2) + unlink, whose
   * moment with two links the inbox refuses (a task file must be a file of
   * its own), so only where the filesystem lacks the former. */
  if (renameat2 (AT_FDCWD, temp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
    {
      if (!fsync_dir (inbox, &error))
        {
          g_task_return_error (task, error);
          return;
        }
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (errno == EEXIST || (errno != EINVAL && errno != ENOSYS) || link (temp, final) < 0)
    {
      int saved_errno = errno;
      g_unlink (temp);
      if (saved_errno == EEXIST)
        g_task_return_new_error (task, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS,
                                 _("a task %s already exists in %s"), job->id, inbox);
      else
        g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                                 _("cannot create %s: %s"), final, g_strerror (saved_errno));
      return;
    }
  g_unlink (temp);
  if (!fsync_dir (inbox, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

void
cf_taskq_submit_async (const char *project, const char *id, const char *text,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job = g_new0 (Job, 1);
  g_autoptr(GTask) task = NULL;

  job->project = g_strdup (project);
  job->id = g_strdup (id);
  job->text = g_strdup (text);
  task = job_task (job, cf_taskq_submit_async, callback, user_data);
  g_task_run_in_thread (task, submit_in_thread);
}

gboolean
cf_taskq_submit_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
operator_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Job *job = data;
  GError *error = NULL;
  gint64 now = g_get_real_time ();
  gboolean ok;

  job->place = cf_taskq_locate (job->project, job->id);
  if (job->cancel && job->place == CF_TASK_PLACE_INBOX)
    ok = cf_taskq_reject (job->project, job->id, _("cancelled by the operator"), now, &error);
  else if (!job->cancel && (job->place == CF_TASK_PLACE_DONE || job->place == CF_TASK_PLACE_FAILED))
    ok = cf_taskq_requeue (job->project, job->id, TRUE, now, &error);
  else
    {
      g_task_return_new_error (task, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND,
                               _("task %s is %s"), job->id, cf_task_place_to_string (job->place));
      return;
    }
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
cf_taskq_operator_async (const char *project, const char *id, gboolean cancel,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job = g_new0 (Job, 1);
  g_autoptr(GTask) task = NULL;

  job->project = g_strdup (project);
  job->id = g_strdup (id);
  job->cancel = cancel;
  task = job_task (job, cf_taskq_operator_async, callback, user_data);
  g_task_run_in_thread (task, operator_in_thread);
}

gboolean
cf_taskq_operator_finish (GAsyncResult *result, CfTaskPlace *out_place, GError **error)
{
  Job *job = g_task_get_task_data (G_TASK (result));

  if (out_place != NULL)
    *out_place = job->place;
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
cf_task_listing_free (CfTaskListing *listing)
{
  g_free (listing->project);
  g_free (listing->id);
  g_free (listing->title);
  g_free (listing);
}

static void
list_all_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GPtrArray *projects = data;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) cf_task_listing_free);
  static const CfTaskPlace places[] = {
    CF_TASK_PLACE_INBOX, CF_TASK_PLACE_ACTIVE, CF_TASK_PLACE_DONE, CF_TASK_PLACE_FAILED,
  };

  for (guint i = 0; i < projects->len; i++)
    {
      const char *project = g_ptr_array_index (projects, i);

      for (guint p = 0; p < G_N_ELEMENTS (places); p++)
        {
          g_autoptr(GPtrArray) ids = NULL;

          if (!cf_taskq_list (project, places[p], &ids, NULL))
            continue;
          for (guint k = 0; k < ids->len; k++)
            {
              const char *id = g_ptr_array_index (ids, k);
              g_autofree char *path = cf_taskq_task_path (project, places[p], id);
              g_autoptr(CfTask) parsed = NULL;
              CfTaskListing *listing = g_new0 (CfTaskListing, 1);
              GStatBuf st;

              listing->project = g_strdup (project);
              listing->id = g_strdup (id);
              listing->place = places[p];
              if (path != NULL && g_lstat (path, &st) == 0)
                listing->mtime_usec = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC +
                                      st.st_mtim.tv_nsec / 1000;
              if (cf_taskq_read_task_in (project, places[p], id, &parsed, NULL))
                listing->title = g_strdup (parsed->title);
              else
                listing->title = g_strdup (id);
              g_ptr_array_add (out, listing);
            }
        }
    }
  g_task_return_pointer (task, g_steal_pointer (&out), (GDestroyNotify) g_ptr_array_unref);
}

void
cf_taskq_list_all_async (GPtrArray *projects, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_source_tag (task, cf_taskq_list_all_async);
  g_task_set_task_data (task, g_ptr_array_ref (projects), (GDestroyNotify) g_ptr_array_unref);
  g_task_run_in_thread (task, list_all_in_thread);
}

GPtrArray *
cf_taskq_list_all_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
