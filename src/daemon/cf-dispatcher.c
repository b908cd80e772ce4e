/* SPDX-License-Identifier: MIT */
#include "cf-dispatcher.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-account-prep.h"
#include "cf-claude-command.h"
#include "cf-pane.h"
#include "cf-schedule.h"
#include "cf-shell.h"
#include "cf-task.h"
#include "cf-taskq-async.h"
#include "cf-task-depends.h"
#include "cf-worktree.h"

#define READY_POLL_MS 50
/* How often the ready wait asks tmux whether the pane died: a program that
 * exits before drawing anything may leave a blank dead pane, without the
 * "Pane is dead" line the screen check reads (tmux 3.3a, seen under load). */
#define DEAD_CHECK_MS 500
/* Sent to Claude (not to a person) after --resume on the new account. */
#define RESUME_PROMPT "Your session was moved to another account after a usage limit. " \
                      "Continue the task you were working on from where you stopped."
#define PASTE_POLL_MS 50
#define PASTE_SHOW_TIMEOUT_MS 3000
#define CONFIRM_POLL_MS 100
#define CONFIRM_RETRY_MS 1500
#define CONFIRM_TIMEOUT_MS 4000

struct _CfDispatcher {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfTmux *tmux;
  CfInbox *inbox;
  CfHooks *hooks;
  CfAccountPrep *account_prep; /* NULL: no preparation before a launch */
  GHashTable *prepared;        /* "home\nproject" prepared since the last config */
  GCancellable *cancellable;

  GHashTable *launches;        /* session name → Launch* */
  GHashTable *last_served;     /* project → GSIZE sequence of its last launch */
  GHashTable *locked_out;      /* project → gint64* monotonic µs before which it is not tried */
  GHashTable *waiting;         /* "project\nid" → why it waits (depends_on), until a task of
                                  the project finishes or CF_DISPATCHER_WAITING_USEC passed */
  guint waiting_id;            /* re-checks the waiting tasks */
  gsize served_seq;
  guint kick_id;
  guint cooldown_id;           /* kicks when the earliest cooldown seen ends */
  gint64 cooldown_at;          /* µs epoch it is armed for, 0 = none */
  guint locked_out_id;         /* kicks when the earliest locked-out project may be tried */
  gulong handlers[5];
  CfDispatcherSkipFunc skip;
  gpointer skip_data;
  /* lifecycle.start_stagger: after a switch or a pause, launches go out
   * one at a time, this far apart, until a round has nothing to launch. */
  gboolean staggering;
  gint64 last_staggered_start; /* monotonic µs */
};

G_DEFINE_FINAL_TYPE (CfDispatcher, cf_dispatcher, G_TYPE_OBJECT)

enum {
  SIGNAL_RESUME_FAILED,
  SIGNAL_PROMPT_READY,
  SIGNAL_LAUNCH_LIMITED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];
/* How long a project whose queue lock another process holds is left alone
 * before a claim is tried again. */
#define CF_DISPATCHER_LOCKED_OUT_USEC (5 * G_USEC_PER_SEC)
/* How often tasks waiting for their dependencies are looked at again when
 * no task of their project finished meanwhile (a dependency settled by
 * hand, in another process). */
#define CF_DISPATCHER_WAITING_MS 5000

typedef enum {
  STAGE_CHECK_SESSION,
  STAGE_CLAIM,
  STAGE_READ_TASK,             /* a resume that failed: the task's text again */
  STAGE_WORKTREE,              /* isolation: worktree — the task's own git worktree */
  STAGE_PREPARE,               /* the account home trusts the project (prepare_accounts) */
  STAGE_RESPAWN,
  STAGE_WAIT_READY,
  STAGE_PASTE,
  STAGE_WAIT_PASTE,
  STAGE_CONFIRM,
  STAGE_DONE,
} Stage;

typedef struct {
  CfDispatcher *self;          /* strong while the launch lives */
  char *session;
  char *project;
  char *task_id;
  char *cwd;                   /* where the session works: the project, or the task's worktree */
  gboolean worktree;           /* the task works in a worktree of its own */
  gboolean worktree_asked;     /* ...because its frontmatter says so (else projects.isolation) */
  char *account;
  char *home;
  char *model;
  char *message;
  char *uuid;                  /* the conversation: pre-assigned, or the one resumed */
  gboolean resuming;           /* --resume UUID after a switch, not a new conversation */
  char *before_paste;          /* pane text just before the paste */
  guint attempt;
  gboolean claimed;
  gboolean confirmed;          /* UserPromptSubmit hook seen */
  gboolean enter_retried;
  gboolean session_died;       /* cancelled because the session disappeared */
  char *abort_reason;          /* account switch: end at the next step, attempt not counted */
  Stage stage;
  gint64 deadline;             /* monotonic µs for the current wait */
  gint64 confirm_started;
  gint64 dead_checked;         /* monotonic µs of the last pane-dead query */
  guint timer_id;
  GCancellable *cancellable;
} Launch;

static void launch_step (Launch *launch);
static void launch_fail (Launch *launch, const char *reason, gboolean count_attempt);

static void
log_launch (GLogLevelFlags level, Launch *launch, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
log_launch (GLogLevelFlags level, Launch *launch, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_log_structured (G_LOG_DOMAIN, level,
                    "CF_SESSION", launch->session,
                    "CF_TASK", launch->task_id ? launch->task_id : "",
                    "CF_PROJECT", launch->project ? launch->project : "",
                    "CF_ACCOUNT", launch->account ? launch->account : "",
                    "MESSAGE", "%s: %s", launch->session, text);
}

static void
launch_free (Launch *launch)
{
  g_clear_handle_id (&launch->timer_id, g_source_remove);
  g_clear_object (&launch->cancellable);
  g_free (launch->session);
  g_free (launch->project);
  g_free (launch->cwd);
  g_free (launch->task_id);
  g_free (launch->account);
  g_free (launch->home);
  g_free (launch->model);
  g_free (launch->message);
  g_free (launch->uuid);
  g_free (launch->before_paste);
  g_free (launch->abort_reason);
  g_clear_object (&launch->self);
  g_free (launch);
}

/* Ends LAUNCH (success or not) and looks for more work. */
static void
launch_finish (Launch *launch)
{
  CfDispatcher *self = g_object_ref (launch->self);

  g_hash_table_remove (self->launches, launch->session);   /* frees LAUNCH */
  cf_dispatcher_kick (self);
  g_object_unref (self);
}

/* TRUE when ERROR is a cancellation, after ending LAUNCH: a session that
 * died fails the launch (the task goes back); a daemon that stops leaves
 * the task where it is, for the restart's recovery. */
static gboolean
launch_cancelled (Launch *launch, const GError *error)
{
  if (error == NULL || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;
  if (launch->session_died && launch->self->cancellable != NULL)
    launch_fail (launch, "the session died during the launch", TRUE);
  else
    launch_finish (launch);
  return TRUE;
}

/* TRUE after ending LAUNCH when a switch asked it to stop (its attempt not
 * counted). Every step checks before it touches the pane or declares
 * success: the step in flight when the switch began (a capture answered
 * late by a busy tmux) would otherwise complete the launch on the old
 * account after the switch, which skips launching sessions, had moved on,
 * and the task stayed in active/ for good (load test, 3 of 10 000). */
static gboolean
launch_aborted (Launch *launch)
{
  g_autofree char *reason = NULL;

  if (launch->abort_reason == NULL)
    return FALSE;
  reason = g_strdup (launch->abort_reason);
  launch_fail (launch, reason, FALSE);
  return TRUE;
}

static gboolean
on_launch_timer (gpointer user_data)
{
  Launch *launch = user_data;

  launch->timer_id = 0;
  launch_step (launch);
  return G_SOURCE_REMOVE;
}

static void
launch_later (Launch *launch, guint ms)
{
  g_clear_handle_id (&launch->timer_id, g_source_remove);
  launch->timer_id = g_timeout_add (ms, on_launch_timer, launch);
}

/* ---- worker-thread jobs --------------------------------------------------- */

typedef struct {
  char *project;
  char *task_id;
  char *session;
  char *account;
  char *model_override;
  CfConfig *config;
  /* results */
  char *model;
  char *message;
  guint attempt;
  gboolean exhausted;          /* attempts used up: moved to failed/ */
  gboolean worktree;           /* isolation: worktree, by the task or projects.isolation */
  gboolean worktree_asked;     /* by the task itself */
  char *waiting;               /* depends_on not met yet: why (nothing was moved) */
  gboolean rejected;           /* unreadable task: moved to failed/ */
} ClaimJob;

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

static void
claim_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
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
static void
read_active_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
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

/* ---- the launch sequence -------------------------------------------------- */

typedef struct {
  CfDispatcher *self;
  char *project;
  char *task_id;
  char *session;
} Returning;

static void
on_returned (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Returning *r = user_data;
  g_autoptr(GError) error = NULL;
  gboolean failed = FALSE;

  if (!cf_taskq_return_finish (result, &failed, &error))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "CF_TASK", r->task_id,
                      "MESSAGE", "Cannot return task %s to the queue: %s", r->task_id,
                      error->message);
  else
    cf_state_task_finished (r->self->state, r->project, r->task_id, r->session,
                            failed ? "failed" : "requeued");
  cf_dispatcher_kick (r->self);
  g_object_unref (r->self);
  g_free (r->project);
  g_free (r->task_id);
  g_free (r->session);
  g_free (r);
}

static void
return_task (CfDispatcher *self, const char *project, const char *task_id, const char *session,
             const char *reason, gboolean count_attempt)
{
  Returning *r = g_new0 (Returning, 1);

  r->self = g_object_ref (self);
  r->project = g_strdup (project);
  r->task_id = g_strdup (task_id);
  r->session = g_strdup (session);
  cf_taskq_return_async (project, task_id, count_attempt, self->config->max_dispatch_per_task,
                         reason, on_returned, r);
}

static void
on_session_killed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (!cf_tmux_finish_boolean (CF_TMUX (source), result, &error))
    g_debug ("kill-session after a failed launch: %s", error->message);
}

static void
launch_fail (Launch *launch, const char *reason, gboolean count_attempt)
{
  CfDispatcher *self = launch->self;

  log_launch (G_LOG_LEVEL_WARNING, launch, "launch of %s failed: %s",
              launch->task_id ? launch->task_id : "(no task)", reason);
  if (launch->claimed)
    return_task (self, launch->project, launch->task_id, launch->session, reason, count_attempt);
  if (cf_state_lookup_session (self->state, launch->session) != NULL)
    {
      cf_state_mark_session_failed (self->state, launch->session, g_get_real_time ());
      cf_state_set_session_state_and_work (self->state, launch->session, CF_SESSION_FAILED, NULL, NULL);
    }
  /* Whatever runs in the pane is suspect: start from a fresh session. */
  cf_tmux_kill_session_async (self->tmux, launch->session, NULL, on_session_killed, NULL);
  launch_finish (launch);
}

static void arm_locked_out_timer (CfDispatcher *self);

static gboolean
on_locked_out_expired (gpointer user_data)
{
  CfDispatcher *self = user_data;

  self->locked_out_id = 0;
  arm_locked_out_timer (self);
  cf_dispatcher_kick (self);
  return G_SOURCE_REMOVE;
}

/* One timer, for the earliest project whose wait ends. */
static void
arm_locked_out_timer (CfDispatcher *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 earliest = G_MAXINT64;
  GHashTableIter iter;
  gpointer value;

  g_clear_handle_id (&self->locked_out_id, g_source_remove);
  if (self->cancellable == NULL)
    return;
  g_hash_table_iter_init (&iter, self->locked_out);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (*(gint64 *) value > now)
      earliest = MIN (earliest, *(gint64 *) value);
  if (earliest != G_MAXINT64)
    self->locked_out_id = g_timeout_add ((guint) ((earliest - now) / 1000 + 1),
                                         on_locked_out_expired, self);
}

/* Another process keeps the project's queue lock: its tasks wait (the
 * claim changed nothing), the other projects are served, and the project
 * is tried again every CF_DISPATCHER_LOCKED_OUT_USEC. Said once per
 * episode. */
static void
lock_out_project (CfDispatcher *self, Launch *launch, const char *reason)
{
  gint64 *until = g_hash_table_lookup (self->locked_out, launch->project);

  if (until == NULL)
    {
      log_launch (G_LOG_LEVEL_WARNING, launch, "%s: the project's tasks wait until it is "
                  "released (other projects are served)", reason);
      until = g_new (gint64, 1);
      g_hash_table_insert (self->locked_out, g_strdup (launch->project), until);
    }
  *until = g_get_monotonic_time () + CF_DISPATCHER_LOCKED_OUT_USEC;
  arm_locked_out_timer (self);
}

static gboolean
is_locked_out (CfDispatcher *self, const char *project)
{
  gint64 *until = g_hash_table_lookup (self->locked_out, project);

  return until != NULL && g_get_monotonic_time () < *until;
}

static gboolean
on_waiting_recheck (gpointer user_data)
{
  CfDispatcher *self = user_data;

  self->waiting_id = 0;
  g_hash_table_remove_all (self->waiting);
  cf_dispatcher_kick (self);
  return G_SOURCE_REMOVE;
}

static void
arm_waiting_timer (CfDispatcher *self)
{
  if (self->waiting_id == 0 && self->cancellable != NULL)
    self->waiting_id = g_timeout_add (CF_DISPATCHER_WAITING_MS, on_waiting_recheck, self);
}

/* A task of PROJECT finished: the tasks of that project that wait for
 * their dependencies are looked at again. */
static void
on_task_finished (CfState *state, const char *project, const char *task, const char *session,
                  const char *outcome, CfDispatcher *self)
{
  g_autofree char *prefix = g_strconcat (project, "\n", NULL);
  GHashTableIter iter;
  gpointer key;
  gboolean removed = FALSE;

  g_hash_table_iter_init (&iter, self->waiting);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (g_str_has_prefix (key, prefix))
      {
        g_hash_table_iter_remove (&iter);
        removed = TRUE;
      }
  if (removed)
    cf_dispatcher_kick (self);
}

static void
on_claimed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;
  CfDispatcher *self = launch->self;
  ClaimJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (job->waiting != NULL)
        {
          g_autofree char *key = g_strdup_printf ("%s\n%s", launch->project, launch->task_id);

          if (!g_hash_table_contains (self->waiting, key))
            log_launch (G_LOG_LEVEL_MESSAGE, launch, "task %s waits: %s", launch->task_id, job->waiting);
          g_hash_table_replace (self->waiting, g_steal_pointer (&key), g_strdup (job->waiting));
          arm_waiting_timer (self);
          cf_state_set_session_state_and_work (self->state, launch->session, CF_SESSION_IDLE, NULL, NULL);
          launch_finish (launch);
          return;
        }
      if (launch_cancelled (launch, error))
        return;
      if (job->rejected)
        {
          log_launch (G_LOG_LEVEL_WARNING, launch, "task %s moved to failed/: %s",
                      launch->task_id, error->message);
          cf_state_task_finished (self->state, launch->project, launch->task_id, "", "failed");
        }
      else if (g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_BUSY))
        lock_out_project (self, launch, error->message);
      else
        log_launch (G_LOG_LEVEL_INFO, launch, "task %s not claimed: %s", launch->task_id,
                    error->message);
      cf_state_set_session_state_and_work (self->state, launch->session, CF_SESSION_IDLE, NULL, NULL);
      launch_finish (launch);
      return;
    }
  if (g_hash_table_remove (self->locked_out, launch->project))
    log_launch (G_LOG_LEVEL_MESSAGE, launch, "the queue lock of %s is free again: its tasks "
                "are dispatched", launch->project);
  if (job->exhausted)
    {
      log_launch (G_LOG_LEVEL_WARNING, launch, "task %s used all its attempts: moved to failed/",
                  launch->task_id);
      cf_state_task_finished (self->state, launch->project, launch->task_id, "", "failed");
      cf_state_set_session_state_and_work (self->state, launch->session, CF_SESSION_IDLE, NULL, NULL);
      launch_finish (launch);
      return;
    }
  launch->claimed = TRUE;
  launch->attempt = job->attempt;
  launch->model = g_strdup (job->model);
  launch->message = g_strdup (job->message);
  launch->worktree = job->worktree;
  launch->worktree_asked = job->worktree_asked;
  launch->stage = launch->worktree ? STAGE_WORKTREE : STAGE_PREPARE;
  launch_step (launch);
}

/* A resumed conversation that Claude cannot find (the account's projects
 * are not the shared ones): the task starts over in a new conversation,
 * with its own text, in the same session; the attempt is not counted. */
static void
launch_start_over (Launch *launch, const char *why)
{
  CfDispatcher *self = launch->self;
  g_autofree char *old_uuid = g_steal_pointer (&launch->uuid);

  log_launch (G_LOG_LEVEL_WARNING, launch,
              "conversation %s cannot be resumed on account %s (%s; is %s/projects linked to "
              "the shared projects directory?): starting task %s over in a new conversation",
              old_uuid, launch->account, why, launch->home, launch->task_id);
  g_signal_emit (self, signals[SIGNAL_RESUME_FAILED], 0, launch->session, launch->project,
                 launch->task_id, launch->account, why);
  launch->uuid = g_uuid_string_random ();
  launch->resuming = FALSE;
  launch->stage = STAGE_READ_TASK;
  launch_step (launch);
}

static void
on_task_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;
  ClaimJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (!launch_cancelled (launch, error))
        launch_fail (launch, error->message, FALSE);
      return;
    }
  if (launch_aborted (launch))
    return;
  g_free (launch->model);
  launch->model = g_strdup (job->model);
  g_free (launch->message);
  launch->message = g_strdup (launch->resuming ? RESUME_PROMPT : job->message);
  launch->worktree = job->worktree;
  launch->worktree_asked = job->worktree_asked;
  launch->stage = launch->worktree ? STAGE_WORKTREE : STAGE_PREPARE;
  launch_step (launch);
}

static void
on_worktree_failed_moved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;
  CfDispatcher *self = launch->self;
  g_autoptr(GError) error = NULL;

  if (!cf_taskq_complete_finish (result, &error))
    log_launch (G_LOG_LEVEL_WARNING, launch, "cannot move task %s to failed/: %s", launch->task_id,
                error->message);
  else
    cf_state_task_finished (self->state, launch->project, launch->task_id, launch->session, "failed");
  cf_state_set_session_state_and_work (self->state, launch->session, CF_SESSION_IDLE, NULL, NULL);
  launch_finish (launch);
  cf_dispatcher_kick (self);
}

static void
on_worktree (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = cf_worktree_ensure_finish (result, &error);

  if (path == NULL && launch->worktree_asked)
    {
      /* The task asked for isolation: running it in the shared checkout
       * is what it wanted to avoid. */
      log_launch (G_LOG_LEVEL_WARNING, launch, "task %s asked for isolation: worktree: %s; "
                  "moved to failed/", launch->task_id, error->message);
      cf_taskq_complete_async (launch->project, launch->task_id, CF_TASK_OUTCOME_FAILED, error->message,
                               NULL, on_worktree_failed_moved, launch);
      return;
    }
  if (launch_aborted (launch))
    return;
  if (path == NULL)
    log_launch (G_LOG_LEVEL_WARNING, launch, "task %s runs in the shared project directory "
                "(projects.isolation: worktree): %s", launch->task_id, error->message);
  else
    {
      log_launch (G_LOG_LEVEL_INFO, launch, "task %s works in %s", launch->task_id, path);
      g_free (launch->cwd);
      launch->cwd = g_steal_pointer (&path);
    }
  launch->stage = STAGE_PREPARE;
  launch_step (launch);
}

static void
on_prepared (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;
  g_autoptr(GError) error = NULL;

  if (!cf_account_prep_ensure_finish (CF_ACCOUNT_PREP (source), result, &error))
    {
      if (launch_cancelled (launch, error))
        return;
      /* Not fatal here: a project left untrusted shows its dialog, and the
       * launch fails with that dialog's line and the fix. Said once per
       * home and project, not at every launch. */
      log_launch (G_LOG_LEVEL_WARNING, launch, "cannot prepare account %s for %s: %s",
                  launch->account, launch->cwd, error->message);
    }
  g_hash_table_add (launch->self->prepared,
                    g_strdup_printf ("%s\n%s", launch->home, launch->cwd));
  if (launch_aborted (launch))
    return;
  launch->stage = STAGE_RESPAWN;
  launch_step (launch);
}

static void
on_session_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTmuxSessionInfo) info = cf_tmux_session_info_finish (CF_TMUX (source), result, &error);

  if (launch_cancelled (launch, error))
    return;
  if (info == NULL)
    {
      launch_fail (launch, error ? error->message : "session gone", TRUE);
      return;
    }
  /* Whatever runs there (a shell, the previous task's Claude) is replaced
   * by the respawn: nothing is ever typed into it. */
  launch->stage = launch->resuming ? STAGE_READ_TASK : STAGE_CLAIM;
  launch_step (launch);
}

/* TRUE when the tmux operation behind RESULT succeeded and no switch asked
 * the launch to stop meanwhile; otherwise LAUNCH is ended (failed, aborted
 * or cancelled) and must not be touched again. Every launch step's reply
 * passes here or through launch_capture. */
static gboolean
launch_tmux_ok (Launch *launch, GObject *source, GAsyncResult *result)
{
  g_autoptr(GError) error = NULL;

  if (cf_tmux_finish_boolean (CF_TMUX (source), result, &error))
    return !launch_aborted (launch);
  if (!launch_cancelled (launch, error))
    launch_fail (launch, error->message, TRUE);
  return FALSE;
}

/* The captured pane, or NULL after ending LAUNCH as launch_tmux_ok does. */
static char *
launch_capture (Launch *launch, GObject *source, GAsyncResult *result)
{
  g_autoptr(GError) error = NULL;
  char *text = cf_tmux_capture_finish (CF_TMUX (source), result, &error);

  if (text == NULL && !launch_cancelled (launch, error))
    launch_fail (launch, error->message, TRUE);
  if (text != NULL && launch_aborted (launch))
    g_clear_pointer (&text, g_free);
  return text;
}

static void
on_keys_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;

  if (launch_tmux_ok (launch, source, result))
    launch_step (launch);
}

static void
on_respawned (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;
  CfDispatcher *self = launch->self;

  if (!launch_tmux_ok (launch, source, result))
    return;
  log_launch (G_LOG_LEVEL_MESSAGE, launch,
              "%s Claude (model %s, account %s, attempt %u, conversation %s)",
              launch->resuming ? "resuming" : "launching", launch->model, launch->account,
              launch->attempt, launch->uuid);
  /* Known before Claude draws anything: a switch during the launch can
   * already resume this conversation. */
  cf_state_set_session_resume_uuid (self->state, launch->session, launch->uuid);
  launch->stage = STAGE_WAIT_READY;
  launch->deadline = g_get_monotonic_time () + self->config->prompt_timeout_usec;
  launch->dead_checked = g_get_monotonic_time ();
  launch_later (launch, READY_POLL_MS);
}

static void
classify (const char *text, CfPaneVerdict *verdict)
{
  CfPaneContext context = { .now_unix = g_get_real_time () / G_USEC_PER_SEC, .tail_lines = 0 };

  cf_pane_classify (text, strlen (text), &context, verdict);
}

static void launch_start_over (Launch *launch, const char *why);

/* The ready wait goes on, or ends at dispatcher.prompt_timeout. */
static void
launch_wait_ready (Launch *launch)
{
  if (g_get_monotonic_time () > launch->deadline)
    {
      g_autofree char *reason = g_strdup_printf ("Claude was not ready within %" G_GINT64_FORMAT
                                                 " ms (dispatcher.prompt_timeout)",
                                                 launch->self->config->prompt_timeout_usec / 1000);
      launch_fail (launch, reason, TRUE);
      return;
    }
  launch_later (launch, READY_POLL_MS);
}

/* A dead pane ends the ready wait at once, whatever its screen shows. */
static void
on_ready_info (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTmuxSessionInfo) info = cf_tmux_session_info_finish (CF_TMUX (source), result,
                                                                  &error);

  if (info == NULL)
    {
      if (!launch_cancelled (launch, error))
        launch_fail (launch, error->message, TRUE);
      return;
    }
  if (launch_aborted (launch))
    return;
  if (info->pane_dead)
    {
      g_autofree char *reason =
        g_strdup_printf (_("Claude exited before showing its prompt: %s"),
                         _("its pane is dead and shows no exit status"));
      launch_fail (launch, reason, TRUE);
      return;
    }
  launch_wait_ready (launch);
}

static void
on_ready_capture (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;
  g_autofree char *text = launch_capture (launch, source, result);
  g_auto(CfPaneVerdict) verdict = { 0 };

  if (text == NULL)
    return;
  classify (text, &verdict);
  /* "No conversation found", or Claude exiting before its prompt: either
   * way the conversation does not go on here. Once: a fresh launch that
   * fails is an ordinary failure. */
  if (launch->resuming && (verdict.resume_failed || verdict.exited))
    {
      launch_start_over (launch, verdict.resume_failed && verdict.dialog != NULL ? verdict.dialog
                                 : verdict.snippet != NULL ? verdict.snippet
                                 : _("Claude exited"));
      return;
    }
  /* A resumed conversation redraws its earlier turns, the limit that ended
   * the last one included: only a live menu counts as a limit then. */
  if (verdict.limit && (!launch->resuming || verdict.dialog_kind == CF_PANE_DIALOG_LIMIT_MENU))
    {
      /* The account is out: not the task's fault. The quota hears it
       * before the session goes, so that the switch need not wait for a
       * pane poll to catch a session that only lives this long. */
      g_signal_emit (launch->self, signals[SIGNAL_LAUNCH_LIMITED], 0, launch->session, text);
      launch_fail (launch, "Claude shows a usage limit", FALSE);
      return;
    }
  if (verdict.dialog_kind != CF_PANE_DIALOG_NONE)
    {
      /* Never answered blindly, never typed into: Enter in most of them
       * exits Claude or trusts something nobody chose to trust. */
      g_autofree char *reason =
        g_strdup_printf (_("Claude shows a dialog instead of its prompt: “%s” — %s"),
                         verdict.dialog != NULL ? verdict.dialog : "?",
                         cf_pane_dialog_fix (verdict.dialog_kind));
      launch_fail (launch, reason, TRUE);
      return;
    }
  if (verdict.exited)
    {
      g_autofree char *reason =
        g_strdup_printf (_("Claude exited before showing its prompt: %s"),
                         verdict.snippet != NULL ? verdict.snippet : _("(nothing on screen)"));
      launch_fail (launch, reason, TRUE);
      return;
    }
  if (verdict.ready)
    {
      g_signal_emit (launch->self, signals[SIGNAL_PROMPT_READY], 0, launch->session, text);
      launch->before_paste = g_steal_pointer (&text);
      launch->stage = STAGE_PASTE;
      launch_step (launch);
      return;
    }
  if (g_get_monotonic_time () - launch->dead_checked >= DEAD_CHECK_MS * 1000)
    {
      launch->dead_checked = g_get_monotonic_time ();
      cf_tmux_session_info_async (launch->self->tmux, launch->session, launch->cancellable,
                                  on_ready_info, launch);
      return;
    }
  launch_wait_ready (launch);
}

static void
on_pasted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;

  if (!launch_tmux_ok (launch, source, result))
    return;
  launch->stage = STAGE_WAIT_PASTE;
  launch->deadline = g_get_monotonic_time () + PASTE_SHOW_TIMEOUT_MS * 1000;
  launch_later (launch, PASTE_POLL_MS);
}

static void
on_paste_capture (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;
  g_autofree char *text = launch_capture (launch, source, result);

  if (text == NULL)
    return;
  /* The paste registered once the screen changed (the input line shows the
   * text or "[Pasted text #1 +N lines]"); an Enter before that is swallowed. */
  if (g_strcmp0 (text, launch->before_paste) != 0 || g_get_monotonic_time () > launch->deadline)
    {
      launch->stage = STAGE_CONFIRM;
      launch->confirm_started = g_get_monotonic_time ();
      cf_tmux_send_enter_async (launch->self->tmux, launch->session, launch->cancellable,
                                on_keys_sent, launch);
      return;
    }
  launch_later (launch, PASTE_POLL_MS);
}

static void
launch_succeeded (Launch *launch)
{
  CfDispatcher *self = launch->self;

  cf_state_set_session_state (self->state, launch->session, CF_SESSION_WORKING);
  if (launch->resuming)
    log_launch (G_LOG_LEVEL_MESSAGE, launch, "task %s resumed in conversation %s",
                launch->task_id, launch->uuid);
  else
    {
      log_launch (G_LOG_LEVEL_MESSAGE, launch, "task %s dispatched", launch->task_id);
      cf_state_task_dispatched (self->state, launch->project, launch->task_id, launch->session,
                                launch->model, launch->account);
    }
  launch->stage = STAGE_DONE;
  launch_finish (launch);
}

static void
on_confirm_capture (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Launch *launch = user_data;
  g_autofree char *text = launch_capture (launch, source, result);
  g_auto(CfPaneVerdict) verdict = { 0 };
  gint64 waited;

  if (text == NULL)
    return;
  classify (text, &verdict);
  if (launch->confirmed || verdict.busy)
    {
      launch_succeeded (launch);
      return;
    }
  if (verdict.limit && (!launch->resuming || verdict.dialog_kind == CF_PANE_DIALOG_LIMIT_MENU))
    {
      g_signal_emit (launch->self, signals[SIGNAL_LAUNCH_LIMITED], 0, launch->session, text);
      launch_fail (launch, "Claude shows a usage limit", FALSE);
      return;
    }
  waited = (g_get_monotonic_time () - launch->confirm_started) / 1000;
  if (!launch->enter_retried && waited >= CONFIRM_RETRY_MS)
    {
      log_launch (G_LOG_LEVEL_INFO, launch, "submission not confirmed: pressing Enter again");
      launch->enter_retried = TRUE;
      cf_tmux_send_enter_async (launch->self->tmux, launch->session, launch->cancellable,
                                on_keys_sent, launch);
      return;
    }
  if (waited >= CONFIRM_TIMEOUT_MS)
    {
      launch_fail (launch, "the prompt was not submitted (no spinner, no UserPromptSubmit)", TRUE);
      return;
    }
  launch_later (launch, CONFIRM_POLL_MS);
}

/* A worker-thread job about LAUNCH's task (claim, or reading it again),
 * answered to CALLBACK with LAUNCH. */
static GTask *
launch_job_new (Launch *launch, GAsyncReadyCallback callback)
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

static void
launch_step (Launch *launch)
{
  CfDispatcher *self = launch->self;

  if (launch_aborted (launch))
    return;

  switch (launch->stage)
    {
    case STAGE_CHECK_SESSION:
      cf_tmux_session_info_async (self->tmux, launch->session, launch->cancellable,
                                  on_session_checked, launch);
      break;

    case STAGE_READ_TASK:
      {
        g_autoptr(GTask) task = launch_job_new (launch, on_task_read);

        g_task_run_in_thread (task, read_active_in_thread);
      }
      break;

    case STAGE_CLAIM:
      {
        g_autoptr(GTask) task = launch_job_new (launch, on_claimed);

        g_task_set_return_on_cancel (task, FALSE);
        /* The claim always runs to its end in the thread: its result must
         * reach on_claimed even when the launch was cancelled meanwhile (the
         * session killed by a switch). GTask's default would report
         * CANCELLED for a task already moved to active/, which was then
         * never returned: lost in active/ (load test, 9 of 2000). */
        g_task_set_check_cancellable (task, FALSE);
        g_task_run_in_thread (task, claim_in_thread);
      }
      break;

    case STAGE_WORKTREE:
      cf_worktree_ensure_async (launch->project, launch->task_id, launch->cancellable, on_worktree, launch);
      break;

    case STAGE_PREPARE:
      {
        g_autofree char *key = g_strdup_printf ("%s\n%s", launch->home, launch->cwd);

        if (self->account_prep == NULL || g_hash_table_contains (self->prepared, key))
          {
            launch->stage = STAGE_RESPAWN;
            launch_step (launch);
            return;
          }
        /* A project created since start-up is trusted before its first task. */
        cf_account_prep_ensure_async (self->account_prep, launch->home, launch->cwd,
                                      launch->cancellable, on_prepared, launch);
      }
      break;

    case STAGE_RESPAWN:
      {
        g_autoptr(GError) error = NULL;
        g_autofree char *config_dir = g_strdup_printf ("CLAUDE_CONFIG_DIR=%s", launch->home);
        /* Names the account to the statusline command (claude-failoverctl statusline). */
        g_autofree char *account = g_strdup_printf ("CF_ACCOUNT=%s", launch->account);
        const char *env[] = { config_dir, account, NULL };
        g_auto(GStrv) argv = cf_claude_argv (self->config->claude_command, launch->model,
                                             launch->resuming ? CF_CLAUDE_RESUME
                                                              : CF_CLAUDE_NEW_CONVERSATION,
                                             launch->uuid, &error);

        if (argv == NULL)
          {
            launch_fail (launch, error->message, TRUE);
            return;
          }
        cf_tmux_respawn_async (self->tmux, launch->session, launch->cwd, env,
                               (const char *const *) argv, launch->cancellable, on_respawned,
                               launch);
      }
      break;

    case STAGE_WAIT_READY:
      cf_tmux_capture_async (self->tmux, launch->session, 0, launch->cancellable,
                             on_ready_capture, launch);
      break;

    case STAGE_PASTE:
      cf_tmux_paste_async (self->tmux, launch->session, launch->message, launch->cancellable,
                           on_pasted, launch);
      break;

    case STAGE_WAIT_PASTE:
      cf_tmux_capture_async (self->tmux, launch->session, 0, launch->cancellable,
                             on_paste_capture, launch);
      break;

    case STAGE_CONFIRM:
      cf_tmux_capture_async (self->tmux, launch->session, 0, launch->cancellable,
                             on_confirm_capture, launch);
      break;

    case STAGE_DONE:
      break;
    }
}

/* ---- choosing work ---------------------------------------------------- */

static gboolean
session_is_free (CfDispatcher *self, CfSession *session)
{
  return session->kind == CF_SESSION_POOL &&
         session->state == CF_SESSION_IDLE &&
         cf_config_is_pool_session (self->config, session->name) &&
         !g_hash_table_contains (self->launches, session->name);
}

static gboolean
task_in_flight (CfDispatcher *self, const char *project, const char *task_id)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->launches);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Launch *launch = value;
      if (g_str_equal (launch->project, project) && g_str_equal (launch->task_id, task_id))
        return TRUE;
    }
  return cf_state_find_session_by_task (self->state, project, task_id) != NULL;
}

/* The ids of the tasks being launched or worked on (any project): with a
 * long queue, a pending task whose id is not in this small set needs no
 * task_in_flight() walk over every launch and session. */
/* Tasks launching or worked on, per project (projects.max_parallel). */
static GHashTable *
running_per_project (CfDispatcher *self, GPtrArray *sessions)
{
  GHashTable *running = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->launches);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Launch *launch = value;
      g_hash_table_replace (running, g_strdup (launch->project),
                            GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (running, launch->project)) + 1));
    }
  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);

      if (session->task[0] == '\0' || session->project[0] == '\0' ||
          g_hash_table_contains (self->launches, session->name))
        continue;
      g_hash_table_replace (running, g_strdup (session->project),
                            GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (running, session->project)) + 1));
    }
  return running;
}

static GHashTable *
ids_in_flight (CfDispatcher *self, GPtrArray *sessions)
{
  /* Copies: the dispatch loop still asks after launches have changed the
   * sessions' strings. */
  GHashTable *ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->launches);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_hash_table_add (ids, g_strdup (((Launch *) value)->task_id));
  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);
      if (session->task[0] != '\0')
        g_hash_table_add (ids, g_strdup (session->task));
    }
  return ids;
}

static void
start_launch (CfDispatcher *self, CfSession *session, CfInboxTask *task)
{
  const char *account = cf_state_get_active_account (self->state);
  const CfAccountConfig *configured = cf_config_find_account (self->config, account);
  Launch *launch;

  if (configured == NULL)
    return;
  launch = g_new0 (Launch, 1);
  launch->self = g_object_ref (self);
  launch->session = g_strdup (session->name);
  launch->project = g_strdup (task->project);
  launch->cwd = g_strdup (task->project);
  launch->task_id = g_strdup (task->id);
  launch->account = g_strdup (account);
  launch->home = g_strdup (configured->home);
  launch->uuid = g_uuid_string_random ();
  launch->cancellable = g_cancellable_new ();
  g_signal_connect_object (self->cancellable, "cancelled",
                           G_CALLBACK (g_cancellable_cancel), launch->cancellable,
                           G_CONNECT_SWAPPED);
  launch->stage = STAGE_CHECK_SESSION;
  g_hash_table_replace (self->launches, launch->session, launch);
  /* Served from the moment a session takes its task: the other free
   * sessions of this round go to the projects served longer ago, not all
   * to this one. */
  g_hash_table_replace (self->last_served, g_strdup (launch->project),
                        GSIZE_TO_POINTER (++self->served_seq));

  cf_inbox_forget (self->inbox, task->project, task->id);
  cf_state_set_session_account (self->state, session->name, account);
  cf_state_set_session_state_and_work (self->state, session->name, CF_SESSION_LAUNCHING,
                                       task->project, task->id);
  launch_step (launch);
}

static CfScheduleItem
schedule_item (const CfInboxTask *task)
{
  return (CfScheduleItem) {
    .project = task->project, .task_id = task->id, .priority = task->priority,
    .queued_at = task->queued_at, .attempts = task->attempts,
    .last_attempt_end = task->last_attempt_end,
  };
}

typedef struct {
  CfDispatcher *self;
  GHashTable *busy_ids;        /* ids_in_flight() */
  GHashTable *running;         /* project → GUINT count launching or working (max_parallel) */
  gint64 now;
  gint64 next_ready;           /* earliest end of a cooldown seen, 0 = none */
} Candidates;

/* A task may go to a session now: its cooldown has passed, delegation does
 * not want it, and no session has it already. */
static gboolean
dispatchable (const CfInboxTask *task, gpointer user_data)
{
  Candidates *c = user_data;
  CfDispatcher *self = c->self;
  CfScheduleItem item = schedule_item (task);

  if (!cf_schedule_item_ready (&item, self->config->cooldown_schedule, c->now))
    {
      gint64 at = cf_schedule_item_ready_at (&item, self->config->cooldown_schedule);

      if (c->next_ready == 0 || at < c->next_ready)
        c->next_ready = at;
      return FALSE;
    }
  if (self->skip != NULL && self->skip (task, self->skip_data))
    return FALSE;
  if (is_locked_out (self, task->project))
    return FALSE;
  if (self->config->projects_max_parallel > 0 &&
      GPOINTER_TO_UINT (g_hash_table_lookup (c->running, task->project)) >=
      self->config->projects_max_parallel)
    return FALSE;
  if (g_hash_table_size (self->waiting) > 0)
    {
      g_autofree char *key = g_strdup_printf ("%s\n%s", task->project, task->id);
      if (g_hash_table_contains (self->waiting, key))
        return FALSE;
    }
  return !g_hash_table_contains (c->busy_ids, task->id) ||
         !task_in_flight (self, task->project, task->id);
}

/* ---- lifecycle.start_stagger --------------------------------------------- */

static gboolean dispatch_now (gpointer user_data);

/* TRUE when the next staggered launch must wait: the round is put off
 * until the gap has passed. */
static gboolean
stagger_wait (CfDispatcher *self)
{
  gint64 gap = self->config->lifecycle_start_stagger_usec;
  gint64 elapsed = g_get_monotonic_time () - self->last_staggered_start;

  if (!self->staggering || gap <= 0 || self->last_staggered_start == 0 || elapsed >= gap)
    return FALSE;
  self->kick_id = g_timeout_add ((guint) ((gap - elapsed) / 1000 + 1), dispatch_now, self);
  return TRUE;
}

/* After a launch: TRUE when the round must stop there, the next launch
 * coming start_stagger later. */
static gboolean
stagger_started (CfDispatcher *self)
{
  gint64 gap = self->config->lifecycle_start_stagger_usec;

  if (!self->staggering || gap <= 0)
    return FALSE;
  self->last_staggered_start = g_get_monotonic_time ();
  self->kick_id = g_timeout_add ((guint) (gap / 1000 + 1), dispatch_now, self);
  return TRUE;
}

static gboolean
on_cooldown_over (gpointer user_data)
{
  CfDispatcher *self = user_data;

  self->cooldown_id = 0;
  self->cooldown_at = 0;
  cf_dispatcher_kick (self);
  return G_SOURCE_REMOVE;
}

/* A task waiting for its cooldown is dispatched when the cooldown ends,
 * not at the next unrelated event: one timer, for the earliest end seen. */
static void
arm_cooldown_timer (CfDispatcher *self, gint64 at, gint64 now)
{
  gint64 delay_ms;

  if (at <= 0 || (self->cooldown_id != 0 && self->cooldown_at <= at))
    return;
  g_clear_handle_id (&self->cooldown_id, g_source_remove);
  /* +1 ms: the timer must not fire a hair before the cooldown's end. */
  delay_ms = MAX ((at - now) / 1000 + 1, 1);
  self->cooldown_at = at;
  self->cooldown_id = g_timeout_add ((guint) MIN (delay_ms, G_MAXINT32), on_cooldown_over, self);
}

static gboolean
dispatch_now (gpointer user_data)
{
  CfDispatcher *self = user_data;
  g_autoptr(GPtrArray) sessions = NULL;
  g_autoptr(GPtrArray) heads = NULL;
  g_autoptr(GArray) items = NULL;
  g_autoptr(GHashTable) busy_ids = NULL;
  g_autoptr(GHashTable) running = NULL;
  Candidates candidates = { .self = self, .now = g_get_real_time () };
  guint free_sessions = 0;
  guint launched = 0;

  self->kick_id = 0;
  if (self->cancellable == NULL || cf_state_get_dispatch_paused (self->state) ||
      cf_swap_state_in_progress (cf_state_get_swap_state (self->state)) ||
      !cf_tmux_is_connected (self->tmux) ||
      cf_config_find_account (self->config, cf_state_get_active_account (self->state)) == NULL)
    return G_SOURCE_REMOVE;

  if (stagger_wait (self))
    return G_SOURCE_REMOVE;

  /* Most kicks find every session busy: then the queue is not even looked
   * at, and the main loop stays free for D-Bus and HTTP. */
  sessions = cf_state_list_sessions (self->state);
  for (guint i = 0; i < sessions->len; i++)
    if (session_is_free (self, g_ptr_array_index (sessions, i)))
      free_sessions++;
  if (free_sessions == 0)
    {
      self->staggering = FALSE;
      return G_SOURCE_REMOVE;
    }

  /* The best task overall is the best of some project's first dispatchable
   * task (cf_schedule_pick orders tasks of one project as the inbox queues
   * them), so only those are compared: one per project, whatever the
   * length of the queue (10 000 tasks, say). */
  busy_ids = ids_in_flight (self, sessions);
  candidates.busy_ids = busy_ids;
  running = running_per_project (self, sessions);
  candidates.running = running;
  heads = cf_inbox_list_heads (self->inbox, NULL, dispatchable, &candidates);
  items = g_array_sized_new (FALSE, FALSE, sizeof (CfScheduleItem), heads->len);
  for (guint i = 0; i < sessions->len && heads->len > 0; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);
      g_autoptr(GPtrArray) next = NULL;
      CfInboxTask *task;
      gint pick;

      if (!session_is_free (self, session))
        continue;
      g_array_set_size (items, 0);
      for (guint j = 0; j < heads->len; j++)
        {
          CfScheduleItem item = schedule_item (g_ptr_array_index (heads, j));
          g_array_append_val (items, item);
        }
      pick = cf_schedule_pick ((CfScheduleItem *) items->data, items->len, self->last_served,
                               self->config->cooldown_schedule, candidates.now);
      if (pick < 0)
        break;
      /* The launch takes the task out of the inbox's listing: the project's
       * next dispatchable task takes its place among the candidates. */
      task = g_ptr_array_index (heads, pick);
      g_hash_table_replace (running, g_strdup (task->project),
                            GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (running, task->project)) + 1));
      start_launch (self, session, task);
      launched++;
      if (stagger_started (self))
        break;
      next = cf_inbox_list_heads (self->inbox, task->project, dispatchable, &candidates);
      g_ptr_array_remove_index_fast (heads, pick);
      if (next->len > 0)
        g_ptr_array_add (heads, g_ptr_array_steal_index (next, 0));
    }
  arm_cooldown_timer (self, candidates.next_ready, candidates.now);
  if (launched == 0)
    self->staggering = FALSE;
  return G_SOURCE_REMOVE;
}

void
cf_dispatcher_set_skip_func (CfDispatcher *self, CfDispatcherSkipFunc skip, gpointer user_data)
{
  self->skip = skip;
  self->skip_data = user_data;
  cf_dispatcher_kick (self);
}

void
cf_dispatcher_kick (CfDispatcher *self)
{
  if (self->kick_id == 0 && self->cancellable != NULL)
    self->kick_id = g_idle_add (dispatch_now, self);
}

gboolean
cf_dispatcher_is_launching (CfDispatcher *self, const char *session)
{
  return g_hash_table_contains (self->launches, session);
}

static void
on_session_changed (CfState *state, CfSession *session, CfDispatcher *self)
{
  Launch *launch = g_hash_table_lookup (self->launches, session->name);

  if (launch != NULL && session->state == CF_SESSION_DEAD)
    {
      launch->session_died = TRUE;
      g_cancellable_cancel (launch->cancellable);
      return;
    }
  /* A freed session takes the next task at once, not at the next poll. */
  if (session->state == CF_SESSION_IDLE)
    cf_dispatcher_kick (self);
}

static void
on_state_changed (CfState *state, guint what, CfDispatcher *self)
{
  if (!(what & (CF_STATE_CHANGE_DISPATCH_PAUSED | CF_STATE_CHANGE_SWAP_STATE)))
    return;
  /* Dispatch opens again (a switch ended, a pause was lifted): the free
   * sessions start one by one, so that dozens never open at once. */
  if (!cf_state_get_dispatch_paused (state) &&
      !cf_swap_state_in_progress (cf_state_get_swap_state (state)))
    self->staggering = TRUE;
  cf_dispatcher_kick (self);
}

static void
on_hook (CfHooks *hooks, const char *session, CfHookPayload *payload, CfDispatcher *self)
{
  Launch *launch = g_hash_table_lookup (self->launches, session);

  if (launch != NULL && payload->event == CF_HOOK_EVENT_USER_PROMPT_SUBMIT &&
      launch->stage == STAGE_CONFIRM)
    launch->confirmed = TRUE;
}

void
cf_dispatcher_start (CfDispatcher *self)
{
  g_return_if_fail (self->cancellable == NULL);
  self->cancellable = g_cancellable_new ();
  self->handlers[0] = g_signal_connect_swapped (self->inbox, "tasks-available",
                                                G_CALLBACK (cf_dispatcher_kick), self);
  self->handlers[1] = g_signal_connect (self->state, "session-changed",
                                        G_CALLBACK (on_session_changed), self);
  self->handlers[2] = g_signal_connect (self->state, "changed", G_CALLBACK (on_state_changed), self);
  self->handlers[3] = g_signal_connect (self->hooks, "hook", G_CALLBACK (on_hook), self);
  self->handlers[4] = g_signal_connect (self->state, "task-finished", G_CALLBACK (on_task_finished), self);
  cf_dispatcher_kick (self);
}

void
cf_dispatcher_stop (CfDispatcher *self)
{
  if (self->cancellable == NULL)
    return;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->kick_id, g_source_remove);
  g_clear_handle_id (&self->cooldown_id, g_source_remove);
  self->cooldown_at = 0;
  g_clear_handle_id (&self->locked_out_id, g_source_remove);
  g_clear_handle_id (&self->waiting_id, g_source_remove);
  g_clear_signal_handler (&self->handlers[0], self->inbox);
  g_clear_signal_handler (&self->handlers[1], self->state);
  g_clear_signal_handler (&self->handlers[2], self->state);
  g_clear_signal_handler (&self->handlers[3], self->hooks);
  g_clear_signal_handler (&self->handlers[4], self->state);
}

void
cf_dispatcher_set_account_prep (CfDispatcher *self, CfAccountPrep *prep)
{
  g_set_object (&self->account_prep, prep);
  g_hash_table_remove_all (self->prepared);
}

void
cf_dispatcher_set_config (CfDispatcher *self, CfConfig *config)
{
  g_hash_table_remove_all (self->prepared);
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
  cf_dispatcher_kick (self);
}

static void
cf_dispatcher_dispose (GObject *object)
{
  CfDispatcher *self = CF_DISPATCHER (object);

  cf_dispatcher_stop (self);
  g_clear_pointer (&self->launches, g_hash_table_unref);
  g_clear_pointer (&self->last_served, g_hash_table_unref);
  g_clear_pointer (&self->prepared, g_hash_table_unref);
  g_clear_object (&self->account_prep);
  g_clear_pointer (&self->locked_out, g_hash_table_unref);
  g_clear_pointer (&self->waiting, g_hash_table_unref);
  g_clear_object (&self->inbox);
  g_clear_object (&self->hooks);
  g_clear_object (&self->tmux);
  g_clear_object (&self->state);
  g_clear_pointer (&self->config, cf_config_unref);
  G_OBJECT_CLASS (cf_dispatcher_parent_class)->dispose (object);
}

static void
cf_dispatcher_class_init (CfDispatcherClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_dispatcher_dispose;
  /* (session, project, task, account, why): a switch's resume found no
   * conversation; the task started over. */
  signals[SIGNAL_RESUME_FAILED] =
    g_signal_new ("resume-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 5, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_STRING, G_TYPE_STRING);
  /* (session, screen): Claude's prompt is ready, nothing pasted yet; a
   * resumed conversation's earlier turns are on that screen. */
  signals[SIGNAL_PROMPT_READY] =
    g_signal_new ("prompt-ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /* (session, screen): a launch ends because Claude shows a usage limit. */
  signals[SIGNAL_LAUNCH_LIMITED] =
    g_signal_new ("launch-limited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
cf_dispatcher_init (CfDispatcher *self)
{
  self->launches = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) launch_free);
  self->last_served = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->prepared = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->locked_out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->waiting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

CfDispatcher *
cf_dispatcher_new (CfConfig *config, CfState *state, CfTmux *tmux, CfInbox *inbox,
                   CfHooks *hooks)
{
  CfDispatcher *self = g_object_new (CF_TYPE_DISPATCHER, NULL);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->tmux = g_object_ref (tmux);
  self->inbox = g_object_ref (inbox);
  self->hooks = g_object_ref (hooks);
  return self;
}

gboolean
cf_dispatcher_resume (CfDispatcher *self, const char *name, const char *account)
{
  CfSession *session = cf_state_lookup_session (self->state, name);
  const CfAccountConfig *configured = cf_config_find_account (self->config, account);
  Launch *launch;

  if (session == NULL || configured == NULL || self->cancellable == NULL ||
      session->kind != CF_SESSION_POOL || session->task[0] == '\0' ||
      session->project[0] == '\0' || !cf_uuid_is_valid (session->resume_uuid) ||
      g_hash_table_contains (self->launches, name))
    return FALSE;
  launch = g_new0 (Launch, 1);
  launch->self = g_object_ref (self);
  launch->session = g_strdup (name);
  launch->project = g_strdup (session->project);
  launch->cwd = g_strdup (session->project);
  launch->task_id = g_strdup (session->task);
  launch->account = g_strdup (account);
  launch->home = g_strdup (configured->home);
  launch->uuid = g_strdup (session->resume_uuid);
  launch->resuming = TRUE;
  launch->claimed = TRUE;      /* in active/ already: a failure returns it */
  launch->cancellable = g_cancellable_new ();
  g_signal_connect_object (self->cancellable, "cancelled",
                           G_CALLBACK (g_cancellable_cancel), launch->cancellable,
                           G_CONNECT_SWAPPED);
  launch->stage = STAGE_CHECK_SESSION;
  g_hash_table_replace (self->launches, launch->session, launch);
  cf_state_set_session_account (self->state, name, account);
  cf_state_set_session_state (self->state, name, CF_SESSION_LAUNCHING);
  launch_step (launch);
  return TRUE;
}

void
cf_dispatcher_abort_launches (CfDispatcher *self, const char *reason)
{
  g_autoptr(GList) launches = g_hash_table_get_values (self->launches);

  /* A step in flight holds its launch: each ends at its next step (a
   * claim in its worker thread first completes, so the task is returned
   * from where it really is). One parked on a timer ends now. */
  for (GList *l = launches; l != NULL; l = l->next)
    {
      Launch *launch = l->data;

      if (launch->abort_reason != NULL)
        continue;
      launch->abort_reason = g_strdup (reason);
      if (launch->timer_id != 0)
        {
          g_clear_handle_id (&launch->timer_id, g_source_remove);
          launch_step (launch);
        }
    }
}
