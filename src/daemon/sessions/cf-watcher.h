/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-config.h"
#include "cf-hook-router.h"
#include "cf-pane.h"
#include "cf-state.h"
#include "cf-task-events.h"
#include "cf-tmux.h"

G_BEGIN_DECLS

/* Notices when a working pool session has finished its task, strongest
 * signal first: the Stop hook; the done-signal file
 * <watcher.done_signal_dir>/agent-done-<session> (a regular file of ours,
 * never a symlink); the pane (no spinner, an empty input box, unchanged over
 * two consecutive polls, no usage limit on screen — and only once the task's
 * turn is known to have started: see cf_watcher_note_turn_started); watcher… idle_timeout
 * (outcome "timeout": the task goes back to the queue). Then the task moves
 * to done/, TaskFinished is emitted, and the session gets /exit and is
 * marked idle once back at its shell — so the dispatcher gives it the next
 * task at once. A session that dies while working has its task requeued.
 * Dedicated sessions are only marked working/idle from their hooks.
 *
 * A finished task whose move out of active/ fails stays there with its
 * verdict and the move is retried: signal "task-stuck" (session, project,
 * task, outcome, error) once when that starts, "task-unstuck" (session,
 * project, task, outcome, guint retries) when it has left active/. */

#define CF_TYPE_WATCHER (cf_watcher_get_type ())
G_DECLARE_FINAL_TYPE (CfWatcher, cf_watcher, CF, WATCHER, GObject)

CfWatcher *cf_watcher_new (CfConfig *config, CfState *state, CfTaskEvents *task_events,
                           CfTmux *tmux, CfHookRouter *hooks);
void cf_watcher_set_config (CfWatcher *self, CfConfig *config);
void cf_watcher_start (CfWatcher *self);
void cf_watcher_stop (CfWatcher *self);
/* Evidence that the turn of PROJECT/TASK started in pool session NAME (HOW:
 * "spinner", "UserPromptSubmit hook", …). Until some is there — this, the
 * watcher's own UserPromptSubmit hook for the task, or a poll that sees the
 * pane busy — an idle-looking pane never finishes the task: right after
 * the submission Claude still shows its idle prompt (with the pasted text in
 * the box) for up to a second, longer under load. The dispatcher reports it
 * when it confirms the submission. Noted before the session is working, it
 * is kept until then. */
void cf_watcher_note_turn_started (CfWatcher *self, const char *name, const char *project,
                                   const char *task, const char *how);
/* Finished tasks that cannot leave active/ now (between "task-stuck" and
 * "task-unstuck"). */
guint cf_watcher_count_stuck (CfWatcher *self);
/* Ends SESSION's task now (RecycleSession): requeued, session recycled. */
gboolean cf_watcher_recycle (CfWatcher *self, const char *session, GError **error);

/* Ends the task PROJECT/TASK that a working session runs: CANCEL moves it
 * to failed/ ("cancelled"), else back to the inbox ("requeued"); the
 * session is recycled. FALSE when no session is working on it. */
gboolean cf_watcher_end_task (CfWatcher *self, const char *project, const char *task,
                              gboolean cancel);

/* The account ran out (account switch): the task SESSION works on goes back
 * to the inbox with its attempt NOT counted, then the pool session is killed
 * (the lifecycle recreates it). A session without a task is just killed. */
void cf_watcher_evict (CfWatcher *self, const char *session, const char *why);
/* TRUE when SESSION's task already has its outcome (a Stop hook, the done
 * signal, …) and is being settled: it must not be resumed or run again. */
gboolean cf_watcher_is_finishing (CfWatcher *self, const char *session);
/* SESSION waits for a person (a permission question, a menu, an unknown
 * dialog, or a Notification hook asking for one, BY_HOOK): state
 * needs-input, signal "needs-input" (name, project, task, WHAT). A pool
 * session's task goes back to the queue after dispatcher.needs_input_timeout,
 * attempt counted, and the session is killed (never /exit into a dialog);
 * the pane busy again, a UserPromptSubmit or (for a pane dialog) the dialog
 * gone make it working again. Never done, never idle. */
void cf_watcher_enter_needs_input (CfWatcher *self, const char *session, const char *what,
                                   gboolean by_hook);
/* An account switch read SESSION's pane (VERDICT): when it shows the
 * task's turn finished (ready, no limit, no error, no dialog), the task is
 * done now (its Stop hook may still be on its way): TRUE, and
 * cf_watcher_is_finishing () is TRUE from then on, so that the switch
 * neither resumes nor requeues it. */
gboolean cf_watcher_settle_if_finished (CfWatcher *self, const char *session,
                                        const CfPaneVerdict *verdict);
/* Path of the done-signal file for SESSION. Newly allocated. */
char *cf_watcher_signal_path (CfConfig *config, const char *session);

G_END_DECLS
