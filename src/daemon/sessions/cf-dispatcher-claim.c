/* SPDX-License-Identifier: MIT */
/* The worker-thread jobs of CfDispatcher's launches, the only dispatcher
 * code that touches the queue's files: claiming a task (inbox → active/,
 * its depends_on checked, its attempts counted, failed/ once they are used
 * up or the task cannot be read) and reading again the text of a task
 * already in active/ (a resume that must start over). */
#include "cf-dispatcher-private.h"

#include <glib/gi18n.h>

#include "cf-task.h"
#include "cf-taskq-async.h"
#include "cf-task-depends.h"

static void
claim_job_free (ClaimJob *job)
{
  g_free (job->project);
  g_free (job->task_id);
  g_free (job->session);
  g_free (job->account);
  g_free (job->model_override);
  g_free (job->model);
  g_free (job->message);
  g_free (job->waiting);
  cf_config_unref (job->config);
  g_free (job);
}

static void
choose_isolation (ClaimJob *job, const CfTask *parsed)
{
  job->worktree_asked = parsed->isolation == CF_TASK_ISOLATION_WORKTREE;
  job->worktree = job->worktree_asked ||
                  (parsed->isolation == CF_TASK_ISOLATION_UNSET &&
                   job->config->projects_isolation == CF_ISOLATION_WORKTREE);
}

void
cf_dispatcher_claim_in_thread (GTask *task, gpointer source, gpointer data,
                               GCancellable *cancellable)
{
  ClaimJob *job = data;
  g_autoptr(CfTask) parsed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *project_name = g_path_get_basename (job->project);
  gint64 now = g_get_real_time ();

  if (!cf_taskq_read_task (job->project, job->task_id, &parsed, &error))
    {
      if (error->domain == CF_TASK_ERROR ||
          g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR) ||
          g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_TOO_LARGE))
        {
          g_autoptr(GError) reject_error = NULL;
          if (!cf_taskq_reject (job->project, job->task_id, error->message, now, &reject_error))
            g_warning ("Cannot move %s to failed/: %s", job->task_id, reject_error->message);
          job->rejected = TRUE;
        }
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (parsed->depends_on[0] != NULL)
    {
      g_autofree char *reason = NULL;

      switch (cf_task_depends_check (job->project, parsed, &reason))
        {
        case CF_DEPENDS_READY:
          break;
        case CF_DEPENDS_WAIT:
          job->waiting = g_steal_pointer (&reason);
          g_task_return_boolean (task, FALSE);
          return;
        case CF_DEPENDS_FAIL:
        default:
          {
            g_autoptr(GError) reject_error = NULL;
            g_autofree char *line = g_strdup_printf ("%s.md: depends_on: %s", job->task_id, reason);

            if (!cf_taskq_reject (job->project, job->task_id, line, now, &reject_error))
              g_warning ("Cannot move %s to failed/: %s", job->task_id, reject_error->message);
            job->rejected = TRUE;
            g_task_return_new_error (task, CF_TASK_ERROR, CF_TASK_ERROR_VALUE, "%s", line);
            return;
          }
        }
    }
  choose_isolation (job, parsed);
  job->model = g_strdup (cf_task_model (parsed, job->config));
  job->message = cf_task_render_message (parsed, project_name, job->config->message_template);
  if (!cf_taskq_claim (job->project, job->task_id, job->session, job->account, job->model, now,
                       &job->attempt, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (job->attempt > job->config->max_dispatch_per_task)
    {
      g_autofree char *reason =
        g_strdup_printf (_("gave up after %u attempts (dispatcher.max_dispatch_per_task)"),
                         job->config->max_dispatch_per_task);
      if (!cf_taskq_finish (job->project, job->task_id, CF_TASK_OUTCOME_FAILED, reason, NULL,
                            now, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      job->exhausted = TRUE;
    }
  g_task_return_boolean (task, TRUE);
}

/* The text of a task already in active/ (a resume that must start over). */
void
cf_dispatcher_read_active_in_thread (GTask *task, gpointer source, gpointer data,
                                     GCancellable *cancellable)
{
  ClaimJob *job = data;
  g_autoptr(CfTask) parsed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *project_name = g_path_get_basename (job->project);

  if (!cf_taskq_read_task_in (job->project, CF_TASK_PLACE_ACTIVE, job->task_id, &parsed, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  choose_isolation (job, parsed);
  job->model = g_strdup (cf_task_model (parsed, job->config));
  job->message = cf_task_render_message (parsed, project_name, job->config->message_template);
  g_task_return_boolean (task, TRUE);
}

/* A worker-thread job about LAUNCH's task (claim, or reading it again),
 * answered to CALLBACK with LAUNCH. */
GTask *
cf_dispatcher_launch_job_new (Launch *launch, GAsyncReadyCallback callback)
{
  GTask *task = g_task_new (launch->self, launch->cancellable, callback, launch);
  ClaimJob *job = g_new0 (ClaimJob, 1);

  job->project = g_strdup (launch->project);
  job->task_id = g_strdup (launch->task_id);
  job->session = g_strdup (launch->session);
  job->account = g_strdup (launch->account);
  job->config = cf_config_ref (launch->self->config);
  g_task_set_task_data (task, job, (GDestroyNotify) claim_job_free);
  return task;
}
