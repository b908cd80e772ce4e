/* SPDX-License-Identifier: MIT */
/* The launch state machine of CfDispatcher, one Launch per pool session
 * taking a task: check the session → claim (cf-dispatcher-claim.c) or read
 * the task again → its worktree → the account's preparation → respawn the
 * pane with Claude → wait for the prompt (dialogs, limits, exits) → paste →
 * Enter → confirm; and how a launch ends: done, failed (the task goes back
 * to the inbox, the session is recycled), aborted by a switch, or cancelled.
 * Choosing which task goes to which session is in cf-dispatcher.c. */
#include "cf-dispatcher-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-account-prep.h"
#include "cf-claude-command.h"
#include "cf-pane.h"
#include "cf-task.h"
#include "cf-taskq-async.h"
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

void
cf_dispatcher_launch_free (Launch *launch)
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
  cf_dispatcher_launch_step (launch);
  return G_SOURCE_REMOVE;
}

static void
launch_later (Launch *launch, guint ms)
{
  g_clear_handle_id (&launch->timer_id, g_source_remove);
  launch->timer_id = g_timeout_add (ms, on_launch_timer, launch);
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
    cf_task_events_finished (r->self->task_events, r->project, r->task_id, r->session,
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

/* How long a project whose queue lock another process holds is left alone
 * before a claim is tried again. */
#define CF_DISPATCHER_LOCKED_OUT_USEC (5 * G_USEC_PER_SEC)

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
  cf_dispatcher_arm_locked_out_timer (self);
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
          cf_dispatcher_arm_waiting_timer (self);
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
          cf_task_events_finished (self->task_events, launch->project, launch->task_id, "",
                                   "failed");
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
      cf_task_events_finished (self->task_events, launch->project, launch->task_id, "", "failed");
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
  cf_dispatcher_launch_step (launch);
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
  g_signal_emit (self, cf_dispatcher_signals[SIGNAL_RESUME_FAILED], 0, launch->session,
                 launch->project, launch->task_id, launch->account, why);
  launch->uuid = g_uuid_string_random ();
  launch->resuming = FALSE;
  launch->stage = STAGE_READ_TASK;
  cf_dispatcher_launch_step (launch);
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
  cf_dispatcher_launch_step (launch);
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
    cf_task_events_finished (self->task_events, launch->project, launch->task_id, launch->session,
                             "failed");
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
  cf_dispatcher_launch_step (launch);
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
  cf_dispatcher_launch_step (launch);
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
  cf_dispatcher_launch_step (launch);
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
    cf_dispatcher_launch_step (launch);
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
  cf_state_set_session_text (self->state, launch->session, CF_SESSION_TEXT_RESUME_UUID,
                             launch->uuid);
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
      g_signal_emit (launch->self, cf_dispatcher_signals[SIGNAL_LAUNCH_LIMITED], 0, launch->session,
                     text);
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
      g_signal_emit (launch->self, cf_dispatcher_signals[SIGNAL_PROMPT_READY], 0, launch->session,
                     text);
      launch->before_paste = g_steal_pointer (&text);
      launch->stage = STAGE_PASTE;
      cf_dispatcher_launch_step (launch);
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
launch_succeeded (Launch *launch, const char *how)
{
  CfDispatcher *self = launch->self;

  /* Before "working": the watcher must know the turn started before it
   * watches the session (cf_watcher_note_turn_started). */
  g_signal_emit (self, cf_dispatcher_signals[SIGNAL_TURN_STARTED], 0, launch->session,
                 launch->project, launch->task_id, how);
  cf_state_set_session_state (self->state, launch->session, CF_SESSION_WORKING);
  if (launch->resuming)
    log_launch (G_LOG_LEVEL_MESSAGE, launch, "task %s resumed in conversation %s",
                launch->task_id, launch->uuid);
  else
    {
      log_launch (G_LOG_LEVEL_MESSAGE, launch, "task %s dispatched", launch->task_id);
      cf_task_events_dispatched (self->task_events, launch->project, launch->task_id,
                                 launch->session, launch->model, launch->account);
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
      launch_succeeded (launch, verdict.busy ? "spinner" : "UserPromptSubmit hook");
      return;
    }
  if (verdict.limit && (!launch->resuming || verdict.dialog_kind == CF_PANE_DIALOG_LIMIT_MENU))
    {
      g_signal_emit (launch->self, cf_dispatcher_signals[SIGNAL_LAUNCH_LIMITED], 0, launch->session,
                     text);
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

void
cf_dispatcher_launch_step (Launch *launch)
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
        g_autoptr(GTask) task = cf_dispatcher_launch_job_new (launch, on_task_read);

        cf_taskq_run_in_pool (task, cf_dispatcher_read_active_in_thread);
      }
      break;

    case STAGE_CLAIM:
      {
        g_autoptr(GTask) task = cf_dispatcher_launch_job_new (launch, on_claimed);

        g_task_set_return_on_cancel (task, FALSE);
        /* The claim always runs to its end in the thread: its result must
         * reach on_claimed even when the launch was cancelled meanwhile (the
         * session killed by a switch). GTask's default would report
         * CANCELLED for a task already moved to active/, which was then
         * never returned: lost in active/ (load test, 9 of 2000). */
        g_task_set_check_cancellable (task, FALSE);
        cf_taskq_run_in_pool (task, cf_dispatcher_claim_in_thread);
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
            cf_dispatcher_launch_step (launch);
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
