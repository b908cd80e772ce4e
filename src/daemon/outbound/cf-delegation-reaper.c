/* SPDX-License-Identifier: MIT */
/* Reaping the delegated jobs, every delegation.reap_interval: the markers of
 * every project read in a worker thread (also how jobs are found again after
 * a restart), each job polled a few at a time, and a finished one's task
 * moved to done/ (with its footer) or failed/ (with its reason), then
 * reported as "task-finished"; stale and unreadable markers handled. */
#include "cf-delegation-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-taskq-async.h"
#include "cf-taskq.h"

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
  cf_task_events_finished (self->task_events, finish->project, finish->id, "", finish->outcome);
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
      g_autofree char *footer = cf_delegate_footer (reply, job->provider,
                                                      cf_clock_now_real (self->clock));
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
  g_free (poll);
  start_polls (self);
  pass_maybe_over (self);
  /* Last: this reference may be the last one (the component was dropped
   * while the poll was in flight). */
  g_object_unref (self);
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
  self->last_reap = cf_clock_now_real (self->clock);
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
      self->last_reap = cf_clock_now_real (self->clock);
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
  self->pass_started = cf_clock_now_monotonic (self->clock);
  scan = g_new0 (Scan, 1);
  scan->self = g_object_ref (self);
  scan->projects = cf_inbox_list_projects (self->inbox);
  scan->found = g_ptr_array_new_with_free_func ((GDestroyNotify) found_free);
  task = g_task_new (NULL, NULL, on_scanned, NULL);
  g_task_set_task_data (task, scan, (GDestroyNotify) scan_free);
  g_task_run_in_thread (task, scan_in_thread);
  return G_SOURCE_REMOVE;
}

void
schedule_pass (CfDelegation *self, guint delay_ms)
{
  cf_clock_clear (self->clock, &self->reap_id);
  self->reap_id = cf_clock_timeout_add (self->clock, delay_ms, on_pass_timer, self);
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
