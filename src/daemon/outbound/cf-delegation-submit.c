/* SPDX-License-Identifier: MIT */
/* Submitting a task to the job API: it leaves the inbox listing, its file
 * is read and routed again in a worker thread, POST /jobs is sent and the
 * inbox/<id>.md.delegated marker written durably; on failure the task is
 * marked local-only and given back to the dispatcher. The kick starts the
 * submissions of the pending tasks this component takes. */
#include "cf-delegation-private.h"

#include <string.h>

#include "cf-delegate-route.h"
#include "cf-taskq-async.h"
#include "cf-taskq.h"

/* ---- submission -------------------------------------------------------------- */

typedef struct {
  CfDelegation *self;          /* strong */
  char *key;
  char *project;
  char *id;
  char *provider;              /* the route when the inbox parsed it */
  CfDelegateClient *client;    /* strong */
  /* prepared in a thread */
  char *prompt;
  char *priority;
  char *project_name;
  char *skip_reason;           /* not to be submitted after all: why (a log line) */
  /* after the POST */
  CfDelegateJob *job;
  char *error;                 /* the submission's error (fallback) */
  gint64 submitted_at;
} Submit;

static void
submit_free (Submit *submit)
{
  g_clear_object (&submit->self);
  g_clear_object (&submit->client);
  g_free (submit->key);
  g_free (submit->project);
  g_free (submit->id);
  g_free (submit->provider);
  g_free (submit->prompt);
  g_free (submit->priority);
  g_free (submit->project_name);
  g_free (submit->skip_reason);
  g_clear_pointer (&submit->job, cf_delegate_job_free);
  g_free (submit->error);
  g_free (submit);
}

static void
submission_over (Submit *submit, gboolean rescan)
{
  CfDelegation *self = submit->self;

  g_hash_table_remove (self->submitting, submit->key);
  if (rescan && is_running (self))
    cf_inbox_rescan (self->inbox);
  schedule_kick (self);
}

/* Reads and routes the task again: the file may have changed since the
 * inbox parsed it, or another path may have moved it. */
static void
prepare_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Submit *submit = data;
  g_autoptr(CfTask) parsed = NULL;
  g_autoptr(CfTaskMeta) meta = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *marker = NULL;
  CfDelegateRoute route;

  if (!cf_taskq_read_task (submit->project, submit->id, &parsed, &error))
    {
      submit->skip_reason = g_strdup_printf ("not read: %s", error->message);
      g_task_return_boolean (task, TRUE);
      return;
    }
  route = cf_delegate_route_task (parsed);
  if (route.provider == NULL)
    {
      submit->skip_reason = g_strdup_printf ("now routed locally (%s)",
                                             cf_delegate_reason_to_string (route.reason));
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (cf_taskq_read_meta (submit->project, submit->id, &meta, NULL) && meta != NULL &&
      meta->local_only)
    {
      submit->skip_reason = g_strdup ("local-only");
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (cf_taskq_read_delegated (submit->project, submit->id, &marker, NULL, NULL))
    {
      submit->skip_reason = g_strdup ("already delegated");
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_free (submit->provider);
  submit->provider = g_strdup (route.provider);
  submit->priority = g_strdup (cf_priority_to_string (parsed->priority));
  submit->project_name = g_path_get_basename (submit->project);
  submit->prompt = cf_delegate_prompt_for_task (parsed);
  g_task_return_boolean (task, TRUE);
}

static void
mark_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Submit *submit = data;
  CfDelegateMarker marker = {
    .job_id = submit->job->id, .provider = submit->provider,
    .submitted_at_usec = submit->submitted_at,
  };
  g_autofree char *json = cf_delegate_marker_to_json (&marker);
  GError *error = NULL;

  if (cf_taskq_mark_delegated (submit->project, submit->id, json, submit->job->id,
                               submit->provider, submit->submitted_at, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
local_only_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Submit *submit = data;
  GError *error = NULL;

  if (cf_taskq_set_local_only (submit->project, submit->id, submit->error,
                               cf_clock_now_real (submit->self->clock),
                               &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
run_in_thread (Submit *submit, GTaskThreadFunc func, GAsyncReadyCallback callback)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, submit);

  g_task_set_task_data (task, submit, NULL);
  g_task_run_in_thread (task, func);
}

Job *
add_job (CfDelegation *self, const char *project, const char *id, const char *job_id,
         const char *provider, gint64 submitted_at)
{
  Job *job = g_new0 (Job, 1);

  job->project = g_strdup (project);
  job->id = g_strdup (id);
  job->job_id = g_strdup (job_id);
  job->provider = g_strdup (provider);
  job->submitted_at = submitted_at;
  job->known_since = cf_clock_now_monotonic (self->clock);
  g_hash_table_replace (self->jobs, make_key (project, id), job);
  return job;
}

static void
on_marked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Submit *submit = user_data;
  CfDelegation *self = submit->self;
  g_autoptr(GError) error = NULL;
  Job *job;
  gboolean marked = TRUE;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
        {
          /* The task left the inbox while the job was being created. */
          log_task (G_LOG_LEVEL_WARNING, submit->project, submit->id,
                    "left the inbox during its submission; remote job %s is not followed",
                    submit->job->id);
          submission_over (submit, FALSE);
          submit_free (submit);
          return;
        }
      /* The job runs: follow it for this run at least. */
      log_task (G_LOG_LEVEL_WARNING, submit->project, submit->id,
                "cannot write the delegation marker for job %s: %s; a restart will not "
                "know the job", submit->job->id, error->message);
      marked = FALSE;
    }
  job = add_job (self, submit->project, submit->id, submit->job->id, submit->provider,
                 submit->submitted_at);
  job->status = submit->job->status;
  job->status_known = TRUE;
  job->no_marker = !marked;
  self->submitted++;
  cf_counters_increment (cf_state_get_counters (self->state), CF_COUNTER_DELEGATED);
  log_task (G_LOG_LEVEL_MESSAGE, submit->project, submit->id,
            "delegated to %s: job %s (%s)", submit->provider, submit->job->id,
            cf_job_status_to_string (submit->job->status));
  submission_over (submit, FALSE);
  submit_free (submit);
}

static void
on_local_only (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Submit *submit = user_data;
  CfDelegation *self = submit->self;
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    log_task (G_LOG_LEVEL_WARNING, submit->project, submit->id,
              "cannot record that it stays local: %s", error->message);
  /* In memory too, so the dispatcher takes it before the inbox has read
   * the meta file again. */
  g_hash_table_add (self->local_only, g_strdup (submit->key));
  self->fallbacks++;
  submission_over (submit, TRUE);
  submit_free (submit);
}

static void
on_submitted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Submit *submit = user_data;
  g_autoptr(GError) error = NULL;

  submit->job = cf_delegate_client_submit_finish (CF_DELEGATE_CLIENT (source), result, &error);
  if (submit->job != NULL)
    {
      run_in_thread (submit, mark_in_thread, on_marked);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* Stopping: the task is still in the inbox, without a marker. */
      submission_over (submit, FALSE);
      submit_free (submit);
      return;
    }
  submit->error = cf_delegate_one_line (error->message, REASON_CHARS);
  log_task (G_LOG_LEVEL_WARNING, submit->project, submit->id,
            "delegation to %s failed, running it locally instead: %s", submit->provider,
            submit->error);
  run_in_thread (submit, local_only_in_thread, on_local_only);
}

static void
on_prepared (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Submit *submit = user_data;
  CfDelegation *self = submit->self;
  CfDelegateRequest request;

  if (submit->skip_reason != NULL || !is_running (self))
    {
      if (submit->skip_reason != NULL)
        log_task (G_LOG_LEVEL_INFO, submit->project, submit->id, "not delegated: %s",
                  submit->skip_reason);
      submission_over (submit, TRUE);
      submit_free (submit);
      return;
    }
  request.provider = submit->provider;
  request.priority = submit->priority;
  request.prompt = submit->prompt;
  request.project = submit->project_name;
  request.task = submit->id;
  submit->submitted_at = cf_clock_now_real (self->clock);
  cf_delegate_client_submit_async (submit->client, &request, self->cancellable, on_submitted,
                                   submit);
}

static void
start_submission (CfDelegation *self, const CfInboxTask *task, char *key)
{
  Submit *submit = g_new0 (Submit, 1);

  g_hash_table_add (self->submitting, g_strdup (key));
  cf_inbox_forget (self->inbox, task->project, task->id);

  submit->self = g_object_ref (self);
  submit->client = g_object_ref (self->client);
  submit->key = key;
  submit->project = g_strdup (task->project);
  submit->id = g_strdup (task->id);
  submit->provider = g_strdup (task->provider);
  run_in_thread (submit, prepare_in_thread, on_prepared);
}

static gboolean
kick_now (gpointer user_data)
{
  CfDelegation *self = user_data;
  g_autoptr(GPtrArray) pending = NULL;

  self->kick_id = 0;
  /* The operator's pause holds new submissions too; an exhaustion pause
   * does not: the remote API is what still works then. */
  if (!is_running (self) || !self->enabled || cf_state_get_dispatch_pause (self->state).operator_paused ||
      !cf_inbox_has_routed (self->inbox))
    return G_SOURCE_REMOVE;
  pending = cf_inbox_list_pending (self->inbox);
  for (guint i = 0; i < pending->len; i++)
    {
      const CfInboxTask *task = g_ptr_array_index (pending, i);
      g_autofree char *key = NULL;

      if (g_hash_table_size (self->submitting) >= MAX_SUBMITS)
        break;
      if (task->provider == NULL)
        continue;
      key = make_key (task->project, task->id);
      if (!wants (self, task, key) || g_hash_table_contains (self->submitting, key) ||
          g_hash_table_contains (self->jobs, key))
        continue;
      start_submission (self, task, g_steal_pointer (&key));
    }
  return G_SOURCE_REMOVE;
}

void
schedule_kick (CfDelegation *self)
{
  if (self->kick_id == 0 && is_running (self) && self->enabled)
    self->kick_id = g_idle_add (kick_now, self);
}
