/* SPDX-License-Identifier: MIT */
/* The queue's moves for the main loop (cf-taskq-async.h), run in the
 * queue's own bounded worker pool (taskq_run_in_pool) rather than GLib's
 * shared one. ListTasks is cf-taskq-list.c. */
#include "cf-taskq-async.h"
#include "cf-taskq-private.h"
#include "cf-worktree.h"

#include <glib/gi18n.h>

/* --- The queue's worker pool ------------------------------------------------------ */

/* Moves fsync and may wait up to CF_TASKQ_LOCK_WAIT_USEC for another
 * process's lock: a few at once, each project serialised by its lock
 * anyway. Listings are merged (cf-taskq-list.c): one at a time. */
#define MOVES_MAX_THREADS 8
#define LIST_MAX_THREADS 1

typedef struct {
  GTask *task;
  GTaskThreadFunc func;
} PoolJob;

static void
pool_run (gpointer data, gpointer user_data)
{
  PoolJob *job = data;

  /* Not a GLib worker: g_task_return_* completes the task on the context
   * it was created in, in a later iteration. */
  job->func (job->task, g_task_get_source_object (job->task), g_task_get_task_data (job->task),
             g_task_get_cancellable (job->task));
  g_object_unref (job->task);
  g_free (job);
}

void
taskq_run_in_pool (GTask *task, GTaskThreadFunc func, TaskqLane lane)
{
  static GThreadPool *pools[2];
  static gsize initialised;
  PoolJob *job = g_new0 (PoolJob, 1);

  if (g_once_init_enter (&initialised))
    {
      pools[TASKQ_LANE_MOVES] = g_thread_pool_new (pool_run, NULL, MOVES_MAX_THREADS, FALSE, NULL);
      pools[TASKQ_LANE_LIST] = g_thread_pool_new (pool_run, NULL, LIST_MAX_THREADS, FALSE, NULL);
      g_once_init_leave (&initialised, 1);
    }
  job->task = g_object_ref (task);
  job->func = func;
  g_thread_pool_push (pools[lane], job, NULL);
}

void
cf_taskq_run_in_pool (GTask *task, GTaskThreadFunc func)
{
  taskq_run_in_pool (task, func, TASKQ_LANE_MOVES);
}

/* --- Moves ------------------------------------------------------------------------- */

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
cf_taskq_complete_async (const char *project, const char *id, CfTaskOutcome outcome,
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
  task = job_task (job, cf_taskq_complete_async, callback, user_data);
  taskq_run_in_pool (task, finish_in_thread, TASKQ_LANE_MOVES);
}

gboolean
cf_taskq_complete_finish (GAsyncResult *result, GError **error)
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
  taskq_run_in_pool (task, return_in_thread, TASKQ_LANE_MOVES);
}

gboolean
cf_taskq_return_finish (GAsyncResult *result, gboolean *out_failed, GError **error)
{
  Job *job = g_task_get_task_data (G_TASK (result));

  if (out_failed != NULL)
    *out_failed = job->failed;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
submit_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Job *job = data;
  GError *error = NULL;

  if (cf_taskq_submit (job->project, job->id, job->text, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
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
  taskq_run_in_pool (task, submit_in_thread, TASKQ_LANE_MOVES);
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
  taskq_run_in_pool (task, operator_in_thread, TASKQ_LANE_MOVES);
}

gboolean
cf_taskq_operator_finish (GAsyncResult *result, CfTaskPlace *out_place, GError **error)
{
  Job *job = g_task_get_task_data (G_TASK (result));

  if (out_place != NULL)
    *out_place = job->place;
  return g_task_propagate_boolean (G_TASK (result), error);
}
