/* SPDX-License-Identifier: MIT */
#include "cf-watcher.h"
#include "cf-worktree.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "cf-pane.h"
#include "cf-shell.h"
#include "cf-taskq-async.h"

#define EXIT_POLL_MS 200
#define EXIT_TIMEOUT_MS 10000
#define RESUME_HISTORY_LINES 200

struct _CfWatcher {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfTaskEvents *task_events;
  CfTmux *tmux;
  CfHookRouter *hooks;
  GCancellable *cancellable;

  GHashTable *watches;         /* session name → Watch* */
  GHashTable *early_stops;     /* session name → "project\ntask": Stop before the launch ended */
  GHashTable *turns;           /* session name → "project\ntask": its turn started, no watch yet */
  GHashTable *settling;        /* "project/task" → Settle*: finished, its move retried */
  guint timer_id;
};

G_DEFINE_FINAL_TYPE (CfWatcher, cf_watcher, G_TYPE_OBJECT)

enum {
  SIGNAL_NEEDS_INPUT,
  SIGNAL_TASK_STUCK,
  SIGNAL_TASK_UNSTUCK,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

/* A Watch is referenced by the watches table and by every asynchronous
 * call in flight for it (capture, session info, keys, queue move): a call
 * answered after the watch was ended or replaced finds it alive, marked
 * ended, and does nothing. */
typedef struct {
  CfWatcher *self;             /* weak: valid while !ended (the table holds the watch) */
  guint ref_count;
  gboolean ended;              /* removed from the table: every callback is moot */
  char *session;
  char *project;
  char *task;
  char *last_text;             /* pane at the previous poll */
  gboolean capturing;
  gboolean finishing;          /* outcome decided, recycling the session */
  gboolean session_died;       /* the tmux session disappeared meanwhile */
  const char *outcome;         /* static: done, timeout, requeued */
  char *why;                   /* the outcome's reason */
  gboolean evicted;            /* account switch: attempt not counted, session killed */
  gboolean kill_on_finish;     /* a dialog holds the pane: /exit + Enter could answer it */
  gboolean needs_input_by_hook; /* needs-input from a Notification hook (the pane may not show it) */
  gboolean seen_waiting;       /* needs-input: a poll has seen the pane not busy since */
  gboolean turn_started;       /* evidence that Claude took this task's prompt: until then an
                                * idle-looking pane is the prompt not yet taken, not a finished turn */
  gboolean told_not_started;   /* said once that an idle pane waits for that evidence */
  gint64 exit_deadline;
  guint timer_id;
} Watch;

static Watch *
watch_ref (Watch *watch)
{
  watch->ref_count++;
  return watch;
}

static void
watch_unref (Watch *watch)
{
  if (--watch->ref_count > 0)
    return;
  g_free (watch->session);
  g_free (watch->project);
  g_free (watch->task);
  g_free (watch->last_text);
  g_free (watch->why);
  g_free (watch);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Watch, watch_unref)

/* The table's destroy notify: the watch is over, whatever is still in flight. */
static void
watch_drop (Watch *watch)
{
  watch->ended = TRUE;
  g_clear_handle_id (&watch->timer_id, g_source_remove);
  watch_unref (watch);
}

static void
log_watch (GLogLevelFlags level, Watch *watch, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
log_watch (GLogLevelFlags level, Watch *watch, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_log_structured (G_LOG_DOMAIN, level,
                    "CF_SESSION", watch->session,
                    "CF_TASK", watch->task ? watch->task : "",
                    "CF_PROJECT", watch->project ? watch->project : "",
                    "MESSAGE", "%s: %s", watch->session, text);
}

char *
cf_watcher_signal_path (CfConfig *config, const char *session)
{
  g_autofree char *name = g_strdup_printf ("agent-done-%s", session);

  return g_build_filename (config->done_signal_dir, name, NULL);
}

/* A done-signal counts only as a regular file owned by us: anyone able to
 * plant a symlink or a file of theirs there must not complete tasks. */
static gboolean
signal_file_present (CfWatcher *self, const char *session)
{
  g_autofree char *path = cf_watcher_signal_path (self->config, session);
  GStatBuf st;

  if (g_lstat (path, &st) < 0)
    return FALSE;
  if (!S_ISREG (st.st_mode) || st.st_uid != getuid ())
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "CF_SESSION", session,
                        "MESSAGE", "Ignoring done-signal %s: not a regular file owned by uid %u",
                        path, (guint) getuid ());
      return FALSE;
    }
  return TRUE;
}

static void
remove_signal_file (CfWatcher *self, const char *session)
{
  g_autofree char *path = cf_watcher_signal_path (self->config, session);

  if (g_unlink (path) < 0 && errno != ENOENT)
    g_warning ("Cannot remove %s: %s", path, g_strerror (errno));
}

/* ---- recycling the session after its task ----------------------------- */

static gboolean exit_poll (gpointer user_data);

static void
watch_end (Watch *watch)
{
  /* Only this watch: the table may hold a newer one for the same session. */
  if (!watch->ended && g_hash_table_lookup (watch->self->watches, watch->session) == watch)
    g_hash_table_remove (watch->self->watches, watch->session);
}

static void
on_killed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (!cf_tmux_finish_boolean (CF_TMUX (source), result, &error))
    g_debug ("kill-session: %s", error->message);
}

static void
mark_idle (Watch *watch, const char *resume_uuid)
{
  CfWatcher *self = watch->self;

  if (cf_state_lookup_session (self->state, watch->session) != NULL)
    {
      if (resume_uuid != NULL)
        cf_state_set_session_text (self->state, watch->session, CF_SESSION_TEXT_RESUME_UUID,
                                   resume_uuid);
      cf_state_set_session_state_and_work (self->state, watch->session, CF_SESSION_IDLE,
                                           NULL, NULL);
    }
  watch_end (watch);
}

static void
on_exit_capture (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Watch) watch = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = cf_tmux_capture_finish (CF_TMUX (source), result, &error);
  g_auto(CfPaneVerdict) verdict = { 0 };
  CfPaneContext context = { .now_unix = g_get_real_time () / G_USEC_PER_SEC };

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || watch->ended)
    return;
  if (text != NULL)
    cf_pane_classify (text, strlen (text), &context, &verdict);
  mark_idle (watch, verdict.resume_uuid);
}

static void
on_exit_info (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Watch) watch = user_data;
  CfWatcher *self;
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTmuxSessionInfo) info = cf_tmux_session_info_finish (CF_TMUX (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || watch->ended)
    return;
  self = watch->self;
  if (info != NULL && cf_tmux_session_info_claude_exited (info))
    {
      /* Back at the shell: read the "claude --resume <uuid>" line. */
      cf_tmux_capture_async (self->tmux, watch->session, RESUME_HISTORY_LINES,
                             self->cancellable, on_exit_capture, watch_ref (watch));
      return;
    }
  if (info == NULL || g_get_monotonic_time () > watch->exit_deadline)
    {
      log_watch (G_LOG_LEVEL_WARNING, watch, "Claude did not exit after /exit: recreating the session");
      cf_tmux_kill_session_async (self->tmux, watch->session, NULL, on_killed, NULL);
      watch_end (watch);
      return;
    }
  watch->timer_id = g_timeout_add (EXIT_POLL_MS, exit_poll, watch);
}

static gboolean
exit_poll (gpointer user_data)
{
  Watch *watch = user_data;

  watch->timer_id = 0;
  cf_tmux_session_info_async (watch->self->tmux, watch->session, watch->self->cancellable,
                              on_exit_info, watch_ref (watch));
  return G_SOURCE_REMOVE;
}

/* Typing /exit or its Enter failed: the session goes, the lifecycle recreates it. */
static void
exit_not_sent (Watch *watch, GError *error)
{
  log_watch (G_LOG_LEVEL_WARNING, watch, "cannot send /exit: %s", error->message);
  cf_tmux_kill_session_async (watch->self->tmux, watch->session, NULL, on_killed, NULL);
  watch_end (watch);
}

static void
on_exit_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Watch) watch = user_data;
  g_autoptr(GError) error = NULL;

  if (!cf_tmux_finish_boolean (CF_TMUX (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !watch->ended)
        exit_not_sent (watch, error);
      return;
    }
  if (!watch->ended)
    exit_poll (watch);
}

static void
on_exit_typed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Watch) watch = user_data;
  g_autoptr(GError) error = NULL;

  if (!cf_tmux_finish_boolean (CF_TMUX (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !watch->ended)
        exit_not_sent (watch, error);
      return;
    }
  if (watch->ended)
    return;
  cf_tmux_send_enter_async (watch->self->tmux, watch->session, watch->self->cancellable,
                            on_exit_sent, watch_ref (watch));
}

static void
recycle_session (Watch *watch)
{
  CfWatcher *self = watch->self;

  /* Claude is being restarted: "launching" and no task, never "working"
   * without one (a restart finds it half-recycled by the same mark). */
  cf_state_set_session_state_and_work (self->state, watch->session, CF_SESSION_LAUNCHING,
                                       NULL, NULL);
  watch->exit_deadline = g_get_monotonic_time () + EXIT_TIMEOUT_MS * 1000;
  cf_tmux_send_text_async (self->tmux, watch->session, "/exit", self->cancellable,
                           on_exit_typed, watch_ref (watch));
}

/* ---- outcomes ----------------------------------------------------------- */

/* A finished task whose move out of active/ failed (disk full, no
 * descriptor left, the queue lock held): cf_taskq_finish keeps its verdict,
 * so nothing gives it back to the inbox, and the move is tried again with a
 * growing delay until it succeeds. Said once when it starts, once when it
 * ends: in the journal and by the signals "task-stuck" and "task-unstuck"
 * (the operator is told, cf-daemon.c). */
typedef struct {
  CfWatcher *self;             /* weak: the table holds the settle */
  char *key;
  char *project;
  char *task;
  char *session;
  const char *outcome;         /* static: done, cancelled */
  char *why;
  guint retries;
  guint timer_id;
} Settle;

#define SETTLE_FIRST_DELAY_MS 1000
#define SETTLE_MAX_DELAY_MS (60 * 1000)

static void
settle_free (Settle *settle)
{
  g_clear_handle_id (&settle->timer_id, g_source_remove);
  g_free (settle->key);
  g_free (settle->project);
  g_free (settle->task);
  g_free (settle->session);
  g_free (settle->why);
  g_free (settle);
}

static void settle_schedule (Settle *settle);

/* One retry in flight: finds its settle again by key, if it is still there. */
typedef struct {
  CfWatcher *self;             /* strong */
  char *key;
} SettleCall;

static void
on_settle_moved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SettleCall *call = user_data;
  g_autoptr(CfWatcher) self = call->self;
  g_autofree char *key = call->key;
  g_autoptr(GError) error = NULL;
  gboolean ok = cf_taskq_complete_finish (result, &error);
  Settle *settle = self->settling != NULL ? g_hash_table_lookup (self->settling, key) : NULL;

  g_free (call);
  if (settle == NULL)
    return;
  if (ok || g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "CF_SESSION", settle->session,
                        "CF_TASK", settle->task,
                        "CF_PROJECT", settle->project,
                        "MESSAGE", "task %s: finished (%s), out of active/ after %u retries",
                        settle->task, settle->outcome, settle->retries);
      if (ok)
        cf_task_events_finished (self->task_events, settle->project, settle->task, settle->session,
                                settle->outcome);
      /* Not found: the janitor settled it meanwhile with the same verdict.
       * Out of the table before the signal: cf_watcher_count_stuck. */
      g_hash_table_steal (self->settling, key);
      g_signal_emit (self, signals[SIGNAL_TASK_UNSTUCK], 0, settle->session, settle->project,
                     settle->task, settle->outcome, settle->retries);
      settle_free (settle);
      return;
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "CF_TASK", settle->task,
                    "MESSAGE", "task %s: move still failing: %s", settle->task, error->message);
  settle_schedule (settle);
}

static gboolean
on_settle_timer (gpointer user_data)
{
  Settle *settle = user_data;
  SettleCall *call = g_new0 (SettleCall, 1);

  settle->timer_id = 0;
  settle->retries++;
  call->self = g_object_ref (settle->self);
  call->key = g_strdup (settle->key);
  cf_taskq_complete_async (settle->project, settle->task,
                           g_str_equal (settle->outcome, "done") ? CF_TASK_OUTCOME_DONE
                                                                 : CF_TASK_OUTCOME_FAILED,
                           settle->why, NULL, on_settle_moved, call);
  return G_SOURCE_REMOVE;
}

static void
settle_schedule (Settle *settle)
{
  guint delay = SETTLE_FIRST_DELAY_MS;

  if (settle->self->cancellable == NULL)
    return;
  for (guint i = 0; i < settle->retries && delay < SETTLE_MAX_DELAY_MS; i++)
    delay *= 2;
  settle->timer_id = g_timeout_add (MIN (delay, SETTLE_MAX_DELAY_MS), on_settle_timer, settle);
}

static void
settle_later (Watch *watch, const GError *error)
{
  CfWatcher *self = watch->self;
  g_autofree char *key = g_strconcat (watch->project, "/", watch->task, NULL);
  Settle *settle;

  if (g_hash_table_contains (self->settling, key))
    return;
  log_watch (G_LOG_LEVEL_WARNING, watch, "task %s finished (%s) but cannot leave active/: %s; "
             "it stays there with its verdict and the move is retried (it is never run again)",
             watch->task, watch->outcome, error->message);
  settle = g_new0 (Settle, 1);
  settle->self = self;
  settle->key = g_steal_pointer (&key);
  settle->project = g_strdup (watch->project);
  settle->task = g_strdup (watch->task);
  settle->session = g_strdup (watch->session);
  settle->outcome = watch->outcome;
  settle->why = g_strdup (watch->why);
  g_hash_table_insert (self->settling, settle->key, settle);
  settle_schedule (settle);
  g_signal_emit (self, signals[SIGNAL_TASK_STUCK], 0, settle->session, settle->project,
                 settle->task, settle->outcome, error->message);
}

static void
on_task_moved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Watch) watch = user_data;
  CfWatcher *self;
  g_autoptr(GError) error = NULL;
  CfSession *session;
  gboolean failed = FALSE;
  gboolean ok;

  if (g_task_get_source_tag (G_TASK (result)) == cf_taskq_return_async)
    ok = cf_taskq_return_finish (result, &failed, &error);
  else
    ok = cf_taskq_complete_finish (result, &error);
  /* Ended during the move only when the watcher itself went away. */
  if (watch->ended)
    return;
  self = watch->self;
  if (!ok && g_task_get_source_tag (G_TASK (result)) != cf_taskq_return_async &&
      !g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
    settle_later (watch, error);
  else if (!ok)
    log_watch (G_LOG_LEVEL_WARNING, watch, "cannot move task %s: %s", watch->task, error->message);
  else
    cf_task_events_finished (self->task_events, watch->project, watch->task, watch->session,
                            failed ? "failed" : watch->outcome);
  if (watch->self->cancellable == NULL)
    return;
  session = cf_state_lookup_session (self->state, watch->session);
  if (session == NULL || session->state == CF_SESSION_DEAD)
    {
      if (session != NULL)
        cf_state_set_session_work (self->state, watch->session, NULL, NULL);
      watch_end (watch);
      return;
    }
  /* The session died and was already recreated and given new work while
   * the queue move ran: it is not this watch's to recycle any more. */
  if (watch->evicted || watch->kill_on_finish)
    {
      cf_state_set_session_work (self->state, watch->session, NULL, NULL);
      cf_tmux_kill_session_async (self->tmux, watch->session, NULL, on_killed, NULL);
      watch_end (watch);
      return;
    }
  if (watch->session_died || !cf_session_state_holds_task (session->state) ||
      !g_str_equal (session->task, watch->task) || !g_str_equal (session->project, watch->project))
    {
      watch_end (watch);
      return;
    }
  recycle_session (watch);
}

static void
on_concluded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Watch *watch = user_data;
  g_autofree char *footer = cf_worktree_conclude_finish (result);
  gboolean done = g_str_equal (watch->outcome, "done");

  /* The reference moves on to the queue move. */
  cf_taskq_complete_async (watch->project, watch->task, done ? CF_TASK_OUTCOME_DONE : CF_TASK_OUTCOME_FAILED,
                           done ? NULL : watch->why, footer, on_task_moved, watch);
}

/* OUTCOME: "done" moves the task to done/, "cancelled" to failed/;
 * "timeout" and "requeued" give it back to the queue, attempt counted. */
static void
finish_watch (Watch *watch, const char *outcome, const char *why)
{
  CfWatcher *self = watch->self;

  if (watch->finishing)
    return;
  watch->finishing = TRUE;
  watch->outcome = outcome;
  g_free (watch->why);
  watch->why = g_strdup (why);
  g_clear_handle_id (&watch->timer_id, g_source_remove);
  log_watch (G_LOG_LEVEL_MESSAGE, watch, "task %s: %s (%s)", watch->task, outcome, why);
  remove_signal_file (self, watch->session);
  if (g_str_equal (outcome, "done") || g_str_equal (outcome, "cancelled"))
    /* The footer (a worktree's branch, commits, diffstat) first; the
     * move then writes it into the task file. */
    cf_worktree_conclude_async (watch->project, watch->task, !g_str_equal (outcome, "done"),
                                g_str_equal (outcome, "done") ? NULL : why,
                                self->config->projects_keep_worktrees, on_concluded, watch_ref (watch));
  else
    cf_taskq_return_async (watch->project, watch->task, !watch->evicted,
                           self->config->max_dispatch_per_task, why, on_task_moved,
                           watch_ref (watch));
}

/* A completion seen by HOW (counted for /metrics), unless already decided. */
static void
finish_detected (Watch *watch, CfEvent how, const char *outcome, const char *why)
{
  if (watch->finishing)
    return;
  cf_counters_count (cf_state_get_counters (watch->self->state), how);
  finish_watch (watch, outcome, why);
}

/* ---- polling ------------------------------------------------------------ */

static void on_claude_check (GObject *source, GAsyncResult *result, gpointer user_data);
static void resume_working (CfWatcher *self, const char *name, const char *why);

static void
on_capture (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Watch) watch = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = cf_tmux_capture_finish (CF_TMUX (source), result, &error);
  g_auto(CfPaneVerdict) verdict = { 0 };
  CfPaneContext context = { .now_unix = g_get_real_time () / G_USEC_PER_SEC };
  CfSession *session;
  gboolean stable;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || watch->ended)
    return;
  context.tail_lines = watch->self->config->quota_tail_lines;
  watch->capturing = FALSE;
  if (text == NULL || watch->finishing)
    return;
  cf_pane_classify (text, strlen (text), &context, &verdict);
  stable = watch->last_text != NULL && g_str_equal (watch->last_text, text);
  g_free (watch->last_text);
  watch->last_text = g_steal_pointer (&text);
  /* A usage limit leaves a stable pane with no spinner: blocked, not done
   * (the quota decides; Claude's own limit menu is the limit's, not a
   * person's). */
  if (verdict.limit || verdict.dialog_kind == CF_PANE_DIALOG_LIMIT_MENU)
    return;
  session = cf_state_lookup_session (watch->self->state, watch->session);
  if (session == NULL || !g_str_equal (session->task, watch->task))
    return;
  if (session->state == CF_SESSION_NEEDS_INPUT && (!verdict.busy || verdict.needs_input))
    watch->seen_waiting = TRUE;
  if (verdict.needs_input)
    {
      g_autofree char *what = g_strdup_printf ("%s: %s", cf_pane_dialog_to_string (verdict.dialog_kind),
                                               verdict.dialog != NULL ? verdict.dialog : "");
      cf_watcher_enter_needs_input (watch->self, watch->session, what, FALSE);
      return;
    }
  if (session->state == CF_SESSION_BLOCKED || session->state == CF_SESSION_NEEDS_INPUT)
    {
      /* Claude works again (its own auto-continue, or a person answered),
       * or the dialog seen on the pane is gone: working again. A
       * needs-input from a hook (Claude may still show its spinner when
       * it fires) waits for the pane to pause, then work again. */
      gboolean works_again = verdict.busy && (session->state == CF_SESSION_BLOCKED ||
                                              !watch->needs_input_by_hook || watch->seen_waiting);

      if (works_again || (session->state == CF_SESSION_NEEDS_INPUT && !watch->needs_input_by_hook))
        resume_working (watch->self, watch->session,
                        verdict.busy ? "the pane is busy again" : "the dialog is gone");
      return;
    }
  if (verdict.busy)
    watch->turn_started = TRUE;
  /* Idle: an empty box, no spinner, twice the same, once the turn started (Claude runs
   * UserPromptSubmit with the pasted text still in its box, the spinner up to 1 s later). */
  if (stable && verdict.ready && !verdict.busy && !watch->turn_started && !watch->told_not_started)
    log_watch (G_LOG_LEVEL_INFO, watch, "task %s: the pane looks idle but its turn has not "
               "started yet (no spinner seen, no UserPromptSubmit): not done", watch->task);
  if (stable && verdict.ready && !verdict.busy && !watch->turn_started)
    watch->told_not_started = TRUE;
  else if (stable && verdict.ready && !verdict.busy)
    finish_detected (watch, CF_EVENT_DONE_BY_PANE, "done", "pane idle over two polls");
  else if (stable && !verdict.prompt && !verdict.busy)
    {
      /* No Claude prompt at all: is Claude still running there? */
      cf_tmux_session_info_async (watch->self->tmux, watch->session, watch->self->cancellable,
                                  on_claude_check, watch_ref (watch));
    }
}

static void
on_claude_check (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Watch) watch = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTmuxSessionInfo) info = cf_tmux_session_info_finish (CF_TMUX (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || info == NULL ||
      watch->ended || watch->finishing)
    return;
  /* Back at the shell with the task unfinished: Claude exited or crashed
   * (or a restart found the session after its /exit). A task already
   * settled stays where it is; a running one goes back to the queue. */
  if (cf_tmux_session_info_claude_exited (info))
    finish_watch (watch, "requeued", "Claude is no longer running in the session");
}

/* Evidence noted before WATCH existed (the launch confirmed its prompt
 * while the session was still launching), if it is for WATCH's task. */
static void
take_turn_evidence (CfWatcher *self, Watch *watch)
{
  const char *noted = g_hash_table_lookup (self->turns, watch->session);
  g_autofree char *expected = NULL;

  if (noted == NULL)
    return;
  expected = g_strdup_printf ("%s\n%s", watch->project, watch->task);
  watch->turn_started = g_str_equal (noted, expected);
  g_hash_table_remove (self->turns, watch->session);
}

void
cf_watcher_note_turn_started (CfWatcher *self, const char *name, const char *project,
                              const char *task, const char *how)
{
  Watch *watch;

  g_return_if_fail (CF_IS_WATCHER (self));
  if (name == NULL || project == NULL || task == NULL || project[0] == '\0' || task[0] == '\0')
    return;
  watch = g_hash_table_lookup (self->watches, name);
  if (watch != NULL && g_str_equal (watch->project, project) && g_str_equal (watch->task, task))
    {
      watch->turn_started = TRUE;
      return;
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "CF_SESSION", name, "CF_TASK", task, "CF_PROJECT", project,
                    "MESSAGE", "%s: the turn of task %s started (%s)", name, task, how);
  g_hash_table_replace (self->turns, g_strdup (name), g_strdup_printf ("%s\n%s", project, task));
}

static Watch *
ensure_watch (CfWatcher *self, CfSession *session)
{
  Watch *watch = g_hash_table_lookup (self->watches, session->name);

  if (watch != NULL && (!g_str_equal (watch->project, session->project) ||
                        !g_str_equal (watch->task, session->task)))
    {
      if (watch->finishing)
        return NULL;
      g_hash_table_remove (self->watches, session->name);
      watch = NULL;
    }
  if (watch == NULL)
    {
      watch = g_new0 (Watch, 1);
      watch->ref_count = 1;
      watch->self = self;
      watch->session = g_strdup (session->name);
      watch->project = g_strdup (session->project);
      watch->task = g_strdup (session->task);
      take_turn_evidence (self, watch);
      g_hash_table_replace (self->watches, watch->session, watch);
    }
  return watch;
}

static gboolean
is_watched_session (CfSession *session)
{
  return session->kind == CF_SESSION_POOL &&
         (session->state == CF_SESSION_WORKING || session->state == CF_SESSION_BLOCKED ||
          session->state == CF_SESSION_NEEDS_INPUT) &&
         session->task[0] != '\0' && session->project[0] != '\0';
}

/* ---- waiting: blocked and needs-input ------------------------------------ */

static void
resume_working (CfWatcher *self, const char *name, const char *why)
{
  CfSession *session = cf_state_lookup_session (self->state, name);
  Watch *watch = g_hash_table_lookup (self->watches, name);

  if (session == NULL ||
      (session->state != CF_SESSION_BLOCKED && session->state != CF_SESSION_NEEDS_INPUT))
    return;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "CF_SESSION", name, "CF_TASK", session->task,
                    "MESSAGE", "%s: %s → working (%s)", name,
                    cf_session_state_to_string (session->state), why);
  if (watch != NULL)
    watch->needs_input_by_hook = FALSE;
  cf_state_set_session_state (self->state, name, CF_SESSION_WORKING);
}

void
cf_watcher_enter_needs_input (CfWatcher *self, const char *name, const char *what,
                              gboolean by_hook)
{
  CfSession *session = cf_state_lookup_session (self->state, name);
  g_autofree char *project = NULL;
  g_autofree char *task = NULL;
  Watch *watch;

  if (session == NULL || session->state == CF_SESSION_NEEDS_INPUT)
    return;
  if (session->kind == CF_SESSION_POOL)
    {
      if (!is_watched_session (session) || (watch = ensure_watch (self, session)) == NULL ||
          watch->finishing)
        return;
      watch->needs_input_by_hook = by_hook;
      watch->seen_waiting = FALSE;
      /* Claude asks something about this task: its turn ran. */
      watch->turn_started = TRUE;
    }
  else if (session->state == CF_SESSION_DEAD)
    return;
  project = g_strdup (session->project);
  task = g_strdup (session->task);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                    "CF_SESSION", name, "CF_TASK", task,
                    "MESSAGE", "%s: needs input (%s)%s", name, what,
                    session->kind == CF_SESSION_POOL
                      ? ": the task goes back to the queue after dispatcher.needs_input_timeout"
                      : "");
  cf_state_set_session_state (self->state, name, CF_SESSION_NEEDS_INPUT);
  g_signal_emit (self, signals[SIGNAL_NEEDS_INPUT], 0, name, project, task, what);
}


static gboolean
on_tick (gpointer user_data)
{
  CfWatcher *self = user_data;
  g_autoptr(GPtrArray) sessions = cf_state_list_sessions (self->state);
  gint64 now = g_get_real_time ();

  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);
      Watch *watch;

      if (!is_watched_session (session) || (watch = ensure_watch (self, session)) == NULL ||
          watch->finishing)
        continue;
      if (signal_file_present (self, session->name))
        finish_detected (watch, CF_EVENT_DONE_BY_SIGNAL_FILE, "done", "done-signal file");
      else if (session->state == CF_SESSION_NEEDS_INPUT &&
               now - session->since > self->config->needs_input_timeout_usec)
        {
          watch->kill_on_finish = TRUE;
          finish_watch (watch, "requeued", _("nobody answered the session's question within "
                                             "dispatcher.needs_input_timeout"));
        }
      else if (session->state == CF_SESSION_WORKING &&
               now - session->since > self->config->idle_timeout_usec)
        finish_detected (watch, CF_EVENT_DONE_BY_IDLE_TIMEOUT, "timeout",
                         "dispatcher.idle_timeout reached");
      else if (!watch->capturing)
        {
          watch->capturing = TRUE;
          cf_tmux_capture_async (self->tmux, session->name, 0, self->cancellable, on_capture,
                                 watch_ref (watch));
        }
    }
  return G_SOURCE_CONTINUE;
}

/* ---- events ------------------------------------------------------------- */

static void
on_hook (CfHookRouter *hooks, const char *name, CfHookPayload *payload, CfWatcher *self)
{
  CfSession *session = cf_state_lookup_session (self->state, name);
  Watch *watch;

  if (session == NULL)
    return;
  if (session->kind == CF_SESSION_DEDICATED)
    {
      /* The operator's own session: follow it, never act on it. */
      if (payload->event == CF_HOOK_EVENT_USER_PROMPT_SUBMIT)
        cf_state_set_session_state (self->state, name, CF_SESSION_WORKING);
      else if (payload->event == CF_HOOK_EVENT_STOP)
        cf_state_set_session_state (self->state, name, CF_SESSION_IDLE);
      else if (cf_hook_payload_needs_person (payload))
        cf_watcher_enter_needs_input (self, name, payload->notification_type, TRUE);
      return;
    }
  if (cf_hook_payload_needs_person (payload))
    {
      g_autofree char *what = g_strdup_printf ("%s: %s", payload->notification_type,
                                               payload->message != NULL ? payload->message : "");
      cf_watcher_enter_needs_input (self, name, what, TRUE);
      return;
    }
  if (payload->event == CF_HOOK_EVENT_USER_PROMPT_SUBMIT)
    {
      /* Claude took a prompt for the task the session holds: the
       * dispatcher's (launching), Claude's own auto-continue after a
       * limit, or a person's answer. */
      if (session->kind == CF_SESSION_POOL &&
          (session->state == CF_SESSION_LAUNCHING || is_watched_session (session)))
        cf_watcher_note_turn_started (self, name, session->project, session->task,
                                      "UserPromptSubmit hook");
      resume_working (self, name, "UserPromptSubmit hook");
      return;
    }
  if (payload->event == CF_HOOK_EVENT_STOP && is_watched_session (session) &&
      (watch = ensure_watch (self, session)) != NULL)
    {
      if (session->state == CF_SESSION_NEEDS_INPUT)
        watch->kill_on_finish = watch->kill_on_finish || !watch->needs_input_by_hook;
      finish_detected (watch, CF_EVENT_DONE_BY_HOOK, "done", "Stop hook");
    }
  else if (payload->event == CF_HOOK_EVENT_STOP_FAILURE && !cf_hook_payload_is_rate_limit (payload) &&
           is_watched_session (session) && (watch = ensure_watch (self, session)) != NULL)
    {
      /* An API error ended the turn (500, 529, a throttle Claude gave up
       * retrying, …): the task is not finished. It goes back to the queue,
       * attempt counted, and runs again after its cooldown. A usage limit
       * is the quota's: the session is blocked, the switch resumes it. */
      g_autofree char *why = g_strdup_printf ("the turn failed (StopFailure %s)",
                                              payload->error != NULL ? payload->error : "unknown");
      finish_watch (watch, "requeued", why);
    }
  else if (payload->event == CF_HOOK_EVENT_STOP && session->kind == CF_SESSION_POOL &&
           session->state == CF_SESSION_LAUNCHING && session->task[0] != '\0')
    {
      /* A quick task can end before the dispatcher has confirmed its
       * prompt: the Stop hook must not be lost, or a switch in the next
       * second would requeue (and run again) a task already done. It
       * counts once the launch makes the session working on this task. */
      g_hash_table_replace (self->early_stops, g_strdup (name),
                            g_strdup_printf ("%s\n%s", session->project, session->task));
    }
}

static void
check_early_stop (CfWatcher *self, CfSession *session)
{
  const char *key = g_hash_table_lookup (self->early_stops, session->name);
  g_autofree char *expected = NULL;
  Watch *watch;

  if (key == NULL || session->state == CF_SESSION_LAUNCHING)
    return;
  expected = g_strdup_printf ("%s\n%s", session->project, session->task);
  if (session->state == CF_SESSION_WORKING && g_str_equal (key, expected) &&
      is_watched_session (session) && (watch = ensure_watch (self, session)) != NULL)
    {
      g_hash_table_remove (self->early_stops, session->name);
      finish_detected (watch, CF_EVENT_DONE_BY_HOOK, "done", "Stop hook (before the launch ended)");
      return;
    }
  g_hash_table_remove (self->early_stops, session->name);
}

static void
on_session_changed (CfState *state, CfSession *session, CfWatcher *self)
{
  Watch *watch;

  check_early_stop (self, session);
  if (session->state != CF_SESSION_DEAD || session->kind != CF_SESSION_POOL)
    return;
  watch = g_hash_table_lookup (self->watches, session->name);
  if (watch != NULL)
    watch->session_died = TRUE;
  if (watch != NULL && watch->finishing)
    {
      /* The task has its outcome; waiting for /exit in a dead pane is moot.
       * A queue move still in flight ends the watch itself (on_task_moved). */
      if (watch->timer_id != 0)
        watch_end (watch);
      return;
    }
  if (session->task[0] == '\0')
    return;
  /* Died while working: the task goes back to the queue, attempt counted. */
  watch = ensure_watch (self, session);
  if (watch != NULL)
    {
      watch->session_died = TRUE;
      finish_watch (watch, "requeued", "the session died while working");
    }
}

gboolean
cf_watcher_end_task (CfWatcher *self, const char *project, const char *task, gboolean cancel)
{
  CfSession *session = cf_state_find_session_by_task (self->state, project, task);
  Watch *watch;

  if (session == NULL || !is_watched_session (session) ||
      (watch = ensure_watch (self, session)) == NULL)
    return FALSE;
  finish_watch (watch, cancel ? "cancelled" : "requeued",
                cancel ? _("cancelled by the operator") : _("requeued by the operator"));
  return TRUE;
}

void
cf_watcher_evict (CfWatcher *self, const char *name, const char *why)
{
  CfSession *session = cf_state_lookup_session (self->state, name);
  Watch *watch;

  if (session == NULL || session->kind != CF_SESSION_POOL)
    return;
  if (is_watched_session (session) && (watch = ensure_watch (self, session)) != NULL)
    {
      if (watch->finishing)
        {
          /* Its outcome is decided; only make sure the session goes. */
          watch->evicted = TRUE;
          return;
        }
      watch->evicted = TRUE;
      finish_watch (watch, "requeued", why);
      return;
    }
  if (session->state != CF_SESSION_DEAD)
    cf_tmux_kill_session_async (self->tmux, name, NULL, on_killed, NULL);
}

gboolean
cf_watcher_is_finishing (CfWatcher *self, const char *name)
{
  Watch *watch = g_hash_table_lookup (self->watches, name);

  return (watch != NULL && watch->finishing) || g_hash_table_contains (self->early_stops, name);
}

gboolean
cf_watcher_recycle (CfWatcher *self, const char *name, GError **error)
{
  CfSession *session = cf_state_lookup_session (self->state, name);
  Watch *watch;

  if (session == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("no session named '%s'"), name);
      return FALSE;
    }
  if (is_watched_session (session) && (watch = ensure_watch (self, session)) != NULL)
    {
      finish_watch (watch, "requeued", "recycled by the operator");
      return TRUE;
    }
  if (session->kind == CF_SESSION_POOL)
    {
      cf_tmux_kill_session_async (self->tmux, name, NULL, on_killed, NULL);
      return TRUE;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
               _("'%s' is a dedicated session: the daemon never recycles it"), name);
  return FALSE;
}

typedef struct {
  CfWatcher *self;
  char *session;
} Orphan;

static void
on_orphan_returned (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Orphan *orphan = user_data;
  g_autoptr(GError) error = NULL;

  /* NOT_FOUND: the crash came before the claim; the task is still queued. */
  if (!cf_taskq_return_finish (result, NULL, &error) &&
      !g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
    g_warning ("%s: cannot return its task after a restart: %s", orphan->session, error->message);
  g_object_unref (orphan->self);
  g_free (orphan->session);
  g_free (orphan);
}

/* After a crash, state may hold sessions caught half-way: a launch that
 * never finished, or a recycle after the task was settled. Nothing can tell
 * what their pane is doing, so they start over: the task (if it was
 * claimed) goes back to the queue with the attempt counted, and the session
 * is killed for the lifecycle to recreate. Working sessions with a task are
 * simply watched again. */
static void
recover_after_restart (CfWatcher *self)
{
  g_autoptr(GPtrArray) sessions = cf_state_list_sessions (self->state);

  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);
      gboolean half_launched = session->state == CF_SESSION_LAUNCHING && session->task[0] != '\0';
      /* Launching without a task is a recycle; a state that holds a task
       * but has none is what older versions left for it. */
      gboolean half_recycled = (session->state == CF_SESSION_LAUNCHING ||
                                cf_session_state_holds_task (session->state)) &&
                               session->task[0] == '\0';

      /* Working before the restart: its launch was confirmed then. */
      if (is_watched_session (session))
        cf_watcher_note_turn_started (self, session->name, session->project, session->task,
                                      "working before the watcher started");
      if (session->kind != CF_SESSION_POOL || (!half_launched && !half_recycled))
        continue;
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "CF_SESSION", session->name, "CF_TASK", session->task,
                        "MESSAGE", "%s: was %s when the daemon stopped; starting it over",
                        session->name, cf_session_state_to_string (session->state));
      if (half_launched && session->task[0] != '\0' && session->project[0] != '\0')
        {
          Orphan *orphan = g_new0 (Orphan, 1);
          orphan->self = g_object_ref (self);
          orphan->session = g_strdup (session->name);
          cf_taskq_return_async (session->project, session->task, TRUE,
                                 self->config->max_dispatch_per_task,
                                 _("the daemon stopped during the launch"),
                                 on_orphan_returned, orphan);
        }
      cf_state_set_session_state_and_work (self->state, session->name, CF_SESSION_FAILED,
                                           NULL, NULL);
      cf_tmux_kill_session_async (self->tmux, session->name, NULL, on_killed, NULL);
    }
}

void
cf_watcher_start (CfWatcher *self)
{
  guint interval_ms = MAX (self->config->watcher_interval_usec / 1000, 10);

  g_return_if_fail (self->cancellable == NULL);
  self->cancellable = g_cancellable_new ();
  recover_after_restart (self);
  g_signal_connect_object (self->hooks, "hook", G_CALLBACK (on_hook), self, 0);
  g_signal_connect_object (self->state, "session-changed", G_CALLBACK (on_session_changed), self,
                           0);
  self->timer_id = g_timeout_add (interval_ms, on_tick, self);
}

void
cf_watcher_stop (CfWatcher *self)
{
  if (self->cancellable == NULL)
    return;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->timer_id, g_source_remove);
  g_hash_table_remove_all (self->settling);
  g_signal_handlers_disconnect_by_data (self->hooks, self);
  g_signal_handlers_disconnect_by_data (self->state, self);
}

guint
cf_watcher_count_stuck (CfWatcher *self)
{
  g_return_val_if_fail (CF_IS_WATCHER (self), 0);
  return g_hash_table_size (self->settling);
}

void
cf_watcher_set_config (CfWatcher *self, CfConfig *config)
{
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
  if (self->cancellable != NULL)
    {
      g_clear_handle_id (&self->timer_id, g_source_remove);
      self->timer_id = g_timeout_add (MAX (config->watcher_interval_usec / 1000, 10), on_tick, self);
    }
}

static void
cf_watcher_dispose (GObject *object)
{
  CfWatcher *self = CF_WATCHER (object);

  cf_watcher_stop (self);
  g_clear_pointer (&self->watches, g_hash_table_unref);
  g_clear_pointer (&self->early_stops, g_hash_table_unref);
  g_clear_pointer (&self->turns, g_hash_table_unref);
  g_clear_pointer (&self->settling, g_hash_table_unref);
  g_clear_object (&self->hooks);
  g_clear_object (&self->tmux);
  g_clear_object (&self->state);
  g_clear_object (&self->task_events);
  g_clear_pointer (&self->config, cf_config_unref);
  G_OBJECT_CLASS (cf_watcher_parent_class)->dispose (object);
}

static void
cf_watcher_class_init (CfWatcherClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_watcher_dispose;
  /* (name, project, task, what): a session waits for a person. */
  signals[SIGNAL_NEEDS_INPUT] =
    g_signal_new ("needs-input", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_STRING);
  /* (session, project, task, outcome, error): a finished task cannot leave
   * active/; its move is retried. Once per episode, not per retry. */
  signals[SIGNAL_TASK_STUCK] =
    g_signal_new ("task-stuck", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 5, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_STRING, G_TYPE_STRING);
  /* (session, project, task, outcome, retries): the same task left active/
   * at last (moved by a retry, or by the janitor meanwhile). */
  signals[SIGNAL_TASK_UNSTUCK] =
    g_signal_new ("task-unstuck", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 5, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_STRING, G_TYPE_UINT);
}

static void
cf_watcher_init (CfWatcher *self)
{
  self->watches = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) watch_drop);
  self->early_stops = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->turns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->settling = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) settle_free);
}

CfWatcher *
cf_watcher_new (CfConfig *config, CfState *state, CfTaskEvents *task_events, CfTmux *tmux,
                CfHookRouter *hooks)
{
  CfWatcher *self = g_object_new (CF_TYPE_WATCHER, NULL);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->task_events = g_object_ref (task_events);
  self->tmux = g_object_ref (tmux);
  self->hooks = g_object_ref (hooks);
  return self;
}

gboolean
cf_watcher_settle_if_finished (CfWatcher *self, const char *name, const CfPaneVerdict *verdict)
{
  CfSession *session = cf_state_lookup_session (self->state, name);
  Watch *watch;

  /* "ready": an empty live input box at the bottom, no spinner, no dialog,
   * Claude still running; and nothing that says the turn failed. A session
   * working for less than a second may show its box before the spinner,
   * and a turn with no evidence that it started is not finished. */
  if (session == NULL || session->kind != CF_SESSION_POOL ||
      session->state != CF_SESSION_WORKING || !is_watched_session (session) ||
      g_get_real_time () - session->since < G_USEC_PER_SEC ||
      !verdict->ready || verdict->busy || verdict->limit_match || verdict->server_error ||
      verdict->throttle || verdict->needs_input || verdict->auto_continue != NULL ||
      (watch = ensure_watch (self, session)) == NULL || watch->finishing || !watch->turn_started)
    return FALSE;
  finish_detected (watch, CF_EVENT_DONE_BY_PANE, "done",
                   "the pane showed the finished turn when the account switch came");
  return TRUE;
}
