/* SPDX-License-Identifier: MIT */
#include "cf-delegation.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-delegate-route.h"
#include "cf-taskq-async.h"
#include "cf-taskq.h"

/* Submissions and polls in flight at once: a slow API must not pile up
 * hundreds of connections. */
#define MAX_SUBMITS 4
#define MAX_POLLS 8
/* The first reaping pass: soon after start, once the inbox knows the projects. */
#define FIRST_PASS_MS 1000
#define INBOX_WAIT_MS 250
/* How much of the API's error text a reason file or a log line keeps. */
#define REASON_CHARS 1000

struct _CfDelegation {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfInbox *inbox;
  CfDelegateClient *client;    /* NULL while delegation is off */
  CfDelegateClientOptions client_options;
  gboolean enabled;
  GCancellable *cancellable;   /* non-NULL while started */
  gulong available_handler;
  gulong state_handler;

  GHashTable *submitting;      /* key set: submissions in flight */
  GHashTable *local_only;      /* key set: given back this run */
  GHashTable *jobs;            /* key → Job* */

  guint kick_id;
  guint reap_id;
  gboolean pass_running;
  gboolean pass_wanted;
  gint64 pass_started;         /* monotonic µs */
  GQueue poll_queue;           /* keys (owned) of jobs to poll in this pass */
  guint polls_in_flight;
  gint64 last_reap;            /* real µs, 0 = never */
  gboolean warned_off;

  guint64 submitted;
  guint64 completed;
  guint64 failed;
  guint64 fallbacks;
  guint64 passes;
};

G_DEFINE_FINAL_TYPE (CfDelegation, cf_delegation, G_TYPE_OBJECT)

typedef struct {
  char *project;
  char *id;
  char *job_id;
  char *provider;
  gint64 submitted_at;         /* real µs */
  gint64 known_since;          /* monotonic µs */
  gboolean status_known;
  CfJobStatus status;
  char *last_error;
  gboolean polling;
  gboolean finishing;
  gboolean no_marker;          /* its marker could not be written: followed from memory */
} Job;

static char *
make_key (const char *project, const char *id)
{
  return g_strconcat (project, "\n", id, NULL);
}

static void
job_free (Job *job)
{
  g_free (job->project);
  g_free (job->id);
  g_free (job->job_id);
  g_free (job->provider);
  g_free (job->last_error);
  g_free (job);
}

static void
log_task (GLogLevelFlags level, const char *project, const char *id, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

static void
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

static gboolean
is_running (CfDelegation *self)
{
  return self->cancellable != NULL;
}

static void schedule_kick (CfDelegation *self);
static void schedule_pass (CfDelegation *self, guint delay_ms);

/* ---- routing: who takes a task -------------------------------------------- */

static void
on_state_changed (CfState *state, guint what, CfDelegation *self)
{
  if (what & CF_STATE_CHANGE_DISPATCH_PAUSED)
    schedule_kick (self);
}

static gboolean
wants (CfDelegation *self, const CfInboxTask *task, const char *key)
{
  return self->enabled && task->provider != NULL && !task->local_only &&
         !g_hash_table_contains (self->local_only, key);
}

gboolean
cf_delegation_skip_task (const CfInboxTask *task, gpointer user_data)
{
  CfDelegation *self = user_data;
  g_autofree char *key = make_key (task->project, task->id);

  /* Whatever the configuration says now, a task with a submission in
   * flight or a job is ours. */
  if (g_hash_table_contains (self->submitting, key) || g_hash_table_contains (self->jobs, key))
    return TRUE;
  return is_running (self) && wants (self, task, key);
}

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

  if (cf_taskq_set_local_only (submit->project, submit->id, submit->error, g_get_real_time (),
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

static Job *
add_job (CfDelegation *self, const char *project, const char *id, const char *job_id,
         const char *provider, gint64 submitted_at)
{
  Job *job = g_new0 (Job, 1);

  job->project = g_strdup (project);
  job->id = g_strdup (id);
  job->job_id = g_strdup (job_id);
  job->provider = g_strdup (provider);
  job->submitted_at = submitted_at;
  job->known_since = g_get_monotonic_time ();
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
  cf_state_increment_counter (self->state, CF_COUNTER_DELEGATED);
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
  submit->submitted_at = g_get_real_time ();
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
  if (!is_running (self) || !self->enabled || cf_state_get_operator_paused (self->state) ||
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

static void
schedule_kick (CfDelegation *self)
{
  if (self->kick_id == 0 && is_running (self) && self->enabled)
    self->kick_id = g_idle_add (kick_now, self);
}

/* ---- reaping ------------------------------------------------------------------- */

typedef struct {
  char *project;
  char *id;
  CfTaskPlace place;           /* where <id>.md is */
  CfDelegateMarker *marker;    /* NULL when unreadable */
  char *error;
} Found;

static void
found_free (Found *found)
{
  if (found == NULL)
    return;
  g_free (found->project);
  g_free (found->id);
  g_clear_pointer (&found->marker, cf_delegate_marker_free);
  g_free (found->error);
  g_free (found);
}

typedef struct {
  CfDelegation *self;          /* strong */
  GPtrArray *projects;         /* char* */
  GPtrArray *found;            /* Found* */
} Scan;

static void
scan_free (Scan *scan)
{
  g_clear_object (&scan->self);
  g_ptr_array_unref (scan->projects);
  g_ptr_array_unref (scan->found);
  g_free (scan);
}

static void
scan_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Scan *scan = data;

  for (guint i = 0; i < scan->projects->len; i++)
    {
      const char *project = g_ptr_array_index (scan->projects, i);
      g_autoptr(GPtrArray) ids = NULL;
      g_autoptr(GError) error = NULL;

      if (!cf_taskq_list_delegated (project, &ids, &error))
        {
          if (!g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
            g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                              "CF_PROJECT", project,
                              "MESSAGE", "%s: cannot list delegation markers: %s", project,
                              error->message);
          continue;
        }
      for (guint j = 0; j < ids->len; j++)
        {
          Found *found = g_new0 (Found, 1);
          g_autofree char *data_text = NULL;
          g_autoptr(GError) read_error = NULL;
          gsize length = 0;

          found->project = g_strdup (project);
          found->id = g_strdup (g_ptr_array_index (ids, j));
          found->place = cf_taskq_locate (project, found->id);
          if (cf_taskq_read_delegated (project, found->id, &data_text, &length, &read_error))
            found->marker = cf_delegate_marker_parse (data_text, length, &read_error);
          if (found->marker == NULL)
            found->error = g_strdup (read_error != NULL ? read_error->message : "?");
          g_ptr_array_add (scan->found, found);
        }
    }
  g_task_return_boolean (task, TRUE);
}

typedef struct {
  CfDelegation *self;          /* strong */
  char *key;
  char *project;
  char *id;
  gboolean done;
  char *reason;
  char *footer;
  char *outcome;               /* delegated-done, delegated-failed */
} Finish;

static void
finish_free (Finish *finish)
{
  g_clear_object (&finish->self);
  g_free (finish->key);
  g_free (finish->project);
  g_free (finish->id);
  g_free (finish->reason);
  g_free (finish->footer);
  g_free (finish->outcome);
  g_free (finish);
}

static void
on_finished (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Finish *finish = user_data;
  CfDelegation *self = finish->self;
  Job *job = g_hash_table_lookup (self->jobs, finish->key);
  g_autoptr(GError) error = NULL;

  if (!cf_taskq_complete_finish (result, &error))
    {
      if (g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
        {
          log_task (G_LOG_LEVEL_WARNING, finish->project, finish->id,
                    "left the queue before its remote job ended; forgetting it");
          g_hash_table_remove (self->jobs, finish->key);
        }
      else
        {
          log_task (G_LOG_LEVEL_WARNING, finish->project, finish->id,
                    "cannot finish the delegated task, will try again: %s", error->message);
          if (job != NULL)
            job->finishing = FALSE;
        }
      finish_free (finish);
      return;
    }
  g_hash_table_remove (self->jobs, finish->key);
  if (finish->done)
    self->completed++;
  else
    self->failed++;
  log_task (finish->done ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING, finish->project, finish->id,
            "%s", finish->done ? "delegated task done" : finish->reason);
  cf_state_task_finished (self->state, finish->project, finish->id, "", finish->outcome);
  finish_free (finish);
}

static void
finish_job (CfDelegation *self, Job *job, gboolean done, const char *reason, const char *footer)
{
  Finish *finish = g_new0 (Finish, 1);

  job->finishing = TRUE;
  finish->self = g_object_ref (self);
  finish->key = make_key (job->project, job->id);
  finish->project = g_strdup (job->project);
  finish->id = g_strdup (job->id);
  finish->done = done;
  finish->reason = g_strdup (reason);
  finish->footer = g_strdup (footer);
  finish->outcome = g_strdup (done ? "delegated-done" : "delegated-failed");
  cf_taskq_complete_async (job->project, job->id,
                           done ? CF_TASK_OUTCOME_DONE : CF_TASK_OUTCOME_FAILED, reason, footer,
                           on_finished, finish);
}

typedef struct {
  CfDelegation *self;          /* strong */
  char *key;
} Poll;

static void start_polls (CfDelegation *self);
static void pass_maybe_over (CfDelegation *self);

static void
set_job_error (Job *job, const char *message)
{
  if (g_strcmp0 (job->last_error, message) != 0)
    log_task (G_LOG_LEVEL_WARNING, job->project, job->id, "job %s: %s", job->job_id, message);
  g_free (job->last_error);
  job->last_error = g_strdup (message);
}

static void
on_polled (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Poll *poll = user_data;
  CfDelegation *self = poll->self;
  Job *job = g_hash_table_lookup (self->jobs, poll->key);
  g_autoptr(GError) error = NULL;
  g_autoptr(CfDelegateJob) reply = cf_delegate_client_get_finish (CF_DELEGATE_CLIENT (source),
                                                                  result, &error);

  self->polls_in_flight--;
  if (job != NULL)
    job->polling = FALSE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || job == NULL || job->finishing)
    goto out;

  if (reply == NULL)
    {
      g_autofree char *message = cf_delegate_one_line (error->message, REASON_CHARS);

      if (g_error_matches (error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_NOT_FOUND))
        {
          g_autofree char *reason =
            g_strdup_printf (_("the job API does not know job %s (%s)"), job->job_id, message);
          finish_job (self, job, FALSE, reason, NULL);
        }
      else
        set_job_error (job, message);
      goto out;
    }

  g_clear_pointer (&job->last_error, g_free);
  job->status = reply->status;
  job->status_known = TRUE;
  if (reply->status == CF_JOB_STATUS_COMPLETED)
    {
      g_autofree char *footer = cf_delegate_footer (reply, job->provider, g_get_real_time ());
      finish_job (self, job, TRUE, "delegated-done", footer);
    }
  else if (reply->status == CF_JOB_STATUS_FAILED)
    {
      g_autofree char *text = reply->error != NULL ? cf_delegate_one_line (reply->error, REASON_CHARS)
                                                   : g_strdup (_("no error given"));
      /* TRANSLATORS: provider, job id, the API's error text */
      g_autofree char *reason = g_strdup_printf (_("the remote job failed (%s, job %s): %s"),
                                                 reply->provider != NULL ? reply->provider
                                                                         : job->provider,
                                                 job->job_id, text);
      finish_job (self, job, FALSE, reason, NULL);
    }

out:
  g_free (poll->key);
  g_object_unref (poll->self);
  g_free (poll);
  start_polls (self);
  pass_maybe_over (self);
}

static void
start_polls (CfDelegation *self)
{
  /* Stopped or turned off: the pass ends with what is in flight. */
  if (!is_running (self) || self->client == NULL)
    g_queue_clear_full (&self->poll_queue, g_free);
  while (self->polls_in_flight < MAX_POLLS && !g_queue_is_empty (&self->poll_queue) &&
         is_running (self) && self->client != NULL)
    {
      g_autofree char *key = g_queue_pop_head (&self->poll_queue);
      Job *job = g_hash_table_lookup (self->jobs, key);
      Poll *poll;

      if (job == NULL || job->polling || job->finishing)
        continue;
      job->polling = TRUE;
      poll = g_new0 (Poll, 1);
      poll->self = g_object_ref (self);
      poll->key = g_steal_pointer (&key);
      self->polls_in_flight++;
      cf_delegate_client_get_async (self->client, job->job_id, self->cancellable, on_polled, poll);
    }
}

static void
pass_maybe_over (CfDelegation *self)
{
  if (!self->pass_running || self->polls_in_flight > 0 || !g_queue_is_empty (&self->poll_queue))
    return;
  self->pass_running = FALSE;
  self->passes++;
  self->last_reap = g_get_real_time ();
  if (!is_running (self))
    return;
  if (self->pass_wanted)
    {
      self->pass_wanted = FALSE;
      schedule_pass (self, 0);
    }
  else
    schedule_pass (self, (guint) MAX (self->config->delegation_reap_interval_usec / 1000, 10));
}

static void
remove_marker_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Found *found = data;
  GError *error = NULL;

  if (cf_taskq_remove_delegated (found->project, found->id, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
on_marker_removed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Found *found = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    log_task (G_LOG_LEVEL_WARNING, found->project, found->id, "cannot remove its marker: %s",
              error->message);
}

/* A marker whose task has left the inbox: finished before a crash removed
 * it, or taken back by the operator. */
static void
remove_stale_marker (Found *found)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, on_marker_removed, NULL);

  log_task (G_LOG_LEVEL_INFO, found->project, found->id,
            "removing the delegation marker of a task that is %s, not in the inbox",
            cf_task_place_to_string (found->place));
  g_task_set_task_data (task, found, (GDestroyNotify) found_free);
  g_task_run_in_thread (task, remove_marker_in_thread);
}

static void
on_scanned (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Scan *scan = g_task_get_task_data (G_TASK (result));
  CfDelegation *self = scan->self;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key, value;

  if (!is_running (self))
    {
      self->pass_running = FALSE;
      return;
    }

  if (!self->enabled)
    {
      guint waiting = 0;

      for (guint i = 0; i < scan->found->len; i++)
        waiting += ((Found *) g_ptr_array_index (scan->found, i))->place == CF_TASK_PLACE_INBOX;
      if (waiting > 0 && !self->warned_off)
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                          "MESSAGE", "%u delegated tasks wait in their inbox, but delegation is "
                          "off (delegation.url or $%s unset): they stay there until it is on "
                          "again; remove a task's .md.delegated marker to run it locally",
                          waiting, self->config->delegation_api_key_env);
      self->warned_off = self->warned_off || waiting > 0;
      self->pass_running = FALSE;
      self->passes++;
      self->last_reap = g_get_real_time ();
      return;
    }

  for (guint i = 0; i < scan->found->len; i++)
    {
      Found *found = g_ptr_array_index (scan->found, i);
      char *job_key = make_key (found->project, found->id);
      Job *job;

      g_hash_table_add (seen, job_key);
      if (found->place != CF_TASK_PLACE_INBOX)
        {
          if (!g_hash_table_contains (self->submitting, job_key))
            {
              g_hash_table_remove (self->jobs, job_key);
              remove_stale_marker (g_steal_pointer (&scan->found->pdata[i]));
            }
          continue;
        }
      job = g_hash_table_lookup (self->jobs, job_key);
      if (found->marker == NULL)
        {
          g_autofree char *reason = NULL;

          if (job != NULL && job->finishing)
            continue;
          reason = g_strdup_printf (_("its delegation marker cannot be read (%s); the remote job, "
                                      "if any, is no longer followed"), found->error);
          if (job == NULL)
            job = add_job (self, found->project, found->id, "?", "?", 0);
          finish_job (self, job, FALSE, reason, NULL);
          continue;
        }
      if (job == NULL)
        {
          job = add_job (self, found->project, found->id, found->marker->job_id,
                         found->marker->provider, found->marker->submitted_at_usec);
          log_task (G_LOG_LEVEL_MESSAGE, found->project, found->id,
                    "following remote job %s (%s) from its marker", job->job_id, job->provider);
        }
      g_queue_push_tail (&self->poll_queue, g_strdup (job_key));
    }

  /* Jobs known before this scan began whose marker is gone: the operator
   * took the task back. A job whose marker could not be written is polled
   * from memory. */
  g_hash_table_iter_init (&iter, self->jobs);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Job *job = value;

      if (job->no_marker)
        {
          if (!job->finishing)
            g_queue_push_tail (&self->poll_queue, g_strdup (key));
        }
      else if (!g_hash_table_contains (seen, key) && !job->finishing && !job->polling &&
               job->known_since < self->pass_started)
        {
          log_task (G_LOG_LEVEL_MESSAGE, job->project, job->id,
                    "its delegation marker is gone; remote job %s is no longer followed",
                    job->job_id);
          g_hash_table_iter_remove (&iter);
        }
    }

  start_polls (self);
  pass_maybe_over (self);
}

static gboolean
on_pass_timer (gpointer user_data)
{
  CfDelegation *self = user_data;
  g_autoptr(GTask) task = NULL;
  Scan *scan;

  self->reap_id = 0;
  if (!is_running (self))
    return G_SOURCE_REMOVE;
  if (self->pass_running)
    {
      self->pass_wanted = TRUE;
      return G_SOURCE_REMOVE;
    }
  /* Before its first scan the inbox knows no project yet. */
  if (cf_inbox_get_scans (self->inbox) == 0)
    {
      schedule_pass (self, INBOX_WAIT_MS);
      return G_SOURCE_REMOVE;
    }
  self->pass_running = TRUE;
  self->pass_started = g_get_monotonic_time ();
  scan = g_new0 (Scan, 1);
  scan->self = g_object_ref (self);
  scan->projects = cf_inbox_list_projects (self->inbox);
  scan->found = g_ptr_array_new_with_free_func ((GDestroyNotify) found_free);
  task = g_task_new (NULL, NULL, on_scanned, NULL);
  g_task_set_task_data (task, scan, (GDestroyNotify) scan_free);
  g_task_run_in_thread (task, scan_in_thread);
  return G_SOURCE_REMOVE;
}

static void
schedule_pass (CfDelegation *self, guint delay_ms)
{
  g_clear_handle_id (&self->reap_id, g_source_remove);
  self->reap_id = g_timeout_add (delay_ms, on_pass_timer, self);
}

void
cf_delegation_reap_now (CfDelegation *self)
{
  g_return_if_fail (CF_IS_DELEGATION (self));

  if (!is_running (self))
    return;
  if (self->pass_running)
    self->pass_wanted = TRUE;
  else
    schedule_pass (self, 0);
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
cf_delegation_start (CfDelegation *self)
{
  g_return_if_fail (CF_IS_DELEGATION (self));
  g_return_if_fail (self->cancellable == NULL);

  self->cancellable = g_cancellable_new ();
  self->available_handler = g_signal_connect_swapped (self->inbox, "tasks-available",
                                                      G_CALLBACK (schedule_kick), self);
  self->state_handler = g_signal_connect (self->state, "changed", G_CALLBACK (on_state_changed),
                                          self);
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
  g_clear_signal_handler (&self->available_handler, self->inbox);
  g_clear_signal_handler (&self->state_handler, self->state);
  g_clear_handle_id (&self->kick_id, g_source_remove);
  g_clear_handle_id (&self->reap_id, g_source_remove);
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

/* ---- reports -------------------------------------------------------------------- */

static void
add_time (JsonBuilder *builder, const char *name, gint64 usec)
{
  json_builder_set_member_name (builder, name);
  if (usec <= 0)
    json_builder_add_null_value (builder);
  else
    {
      g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
      g_autofree char *text = time != NULL ? g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ") : NULL;

      if (text != NULL)
        json_builder_add_string_value (builder, text);
      else
        json_builder_add_null_value (builder);
    }
}

static void
add_int (JsonBuilder *builder, const char *name, gint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static int
compare_jobs (gconstpointer a, gconstpointer b)
{
  const Job *x = *(Job *const *) a;
  const Job *y = *(Job *const *) b;
  int order = strcmp (x->project, y->project);

  return order != 0 ? order : strcmp (x->id, y->id);
}

JsonNode *
cf_delegation_build_status (gpointer user_data)
{
  CfDelegation *self = user_data;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GPtrArray) jobs = g_ptr_array_new ();
  CfDelegationCounts counts;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (CF_IS_DELEGATION (self), NULL);

  cf_delegation_get_counts (self, &counts);
  g_hash_table_iter_init (&iter, self->jobs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (jobs, value);
  g_ptr_array_sort (jobs, compare_jobs);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "enabled");
  json_builder_add_boolean_value (builder, self->enabled);
  json_builder_set_member_name (builder, "url");
  if (self->client != NULL)
    json_builder_add_string_value (builder, cf_delegate_client_get_display_url (self->client));
  else
    json_builder_add_null_value (builder);
  add_int (builder, "reap_interval_ms", self->config->delegation_reap_interval_usec / 1000);
  add_int (builder, "active", counts.active);
  add_int (builder, "submitting", counts.submitting);
  add_int (builder, "submitted", (gint64) counts.submitted);
  add_int (builder, "completed", (gint64) counts.completed);
  add_int (builder, "failed", (gint64) counts.failed);
  add_int (builder, "fallbacks", (gint64) counts.fallbacks);
  add_time (builder, "last_reap", self->last_reap);
  json_builder_set_member_name (builder, "jobs");
  json_builder_begin_array (builder);
  for (guint i = 0; i < jobs->len; i++)
    {
      const Job *job = g_ptr_array_index (jobs, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "project");
      json_builder_add_string_value (builder, job->project);
      json_builder_set_member_name (builder, "task");
      json_builder_add_string_value (builder, job->id);
      json_builder_set_member_name (builder, "job_id");
      json_builder_add_string_value (builder, job->job_id);
      json_builder_set_member_name (builder, "provider");
      json_builder_add_string_value (builder, job->provider);
      json_builder_set_member_name (builder, "status");
      if (job->status_known)
        json_builder_add_string_value (builder, cf_job_status_to_string (job->status));
      else
        json_builder_add_null_value (builder);
      add_time (builder, "submitted_at", job->submitted_at);
      json_builder_set_member_name (builder, "last_error");
      if (job->last_error != NULL)
        json_builder_add_string_value (builder, job->last_error);
      else
        json_builder_add_null_value (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
family (GString *out, const char *name, const char *type, const char *help)
{
  g_string_append_printf (out, "# HELP claude_failover_%s %s\n# TYPE claude_failover_%s %s\n",
                          name, help, name, type);
}

void
cf_delegation_render_metrics (GString *out, gpointer user_data)
{
  CfDelegation *self = user_data;
  CfDelegationCounts counts;

  g_return_if_fail (CF_IS_DELEGATION (self));

  cf_delegation_get_counts (self, &counts);
  family (out, "delegation_jobs_active", "gauge",
          "Delegated tasks whose remote job is being followed.");
  g_string_append_printf (out, "claude_failover_delegation_jobs_active %u\n", counts.active);
  family (out, "delegation_submissions_in_flight", "gauge",
          "Submissions to the job API in progress.");
  g_string_append_printf (out, "claude_failover_delegation_submissions_in_flight %u\n",
                          counts.submitting);
  family (out, "delegation_jobs_finished_total", "counter",
          "Delegated tasks finished since start, by outcome.");
  g_string_append_printf (out,
                          "claude_failover_delegation_jobs_finished_total{outcome=\"completed\"} %"
                          G_GUINT64_FORMAT "\n"
                          "claude_failover_delegation_jobs_finished_total{outcome=\"failed\"} %"
                          G_GUINT64_FORMAT "\n",
                          counts.completed, counts.failed);
  family (out, "delegation_fallbacks_total", "counter",
          "Tasks given back to a local session after a failed submission, since start.");
  g_string_append_printf (out, "claude_failover_delegation_fallbacks_total %" G_GUINT64_FORMAT "\n",
                          counts.fallbacks);
}

static void
cf_delegation_dispose (GObject *object)
{
  CfDelegation *self = CF_DELEGATION (object);

  cf_delegation_stop (self);
  g_clear_object (&self->client);
  g_clear_object (&self->inbox);
  g_clear_object (&self->state);
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
  cf_delegate_client_options_init (&self->client_options);
}

CfDelegation *
cf_delegation_new (CfConfig *config, CfState *state, CfInbox *inbox)
{
  CfDelegation *self = g_object_new (CF_TYPE_DELEGATION, NULL);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->inbox = g_object_ref (inbox);
  apply_config (self);
  return self;
}
