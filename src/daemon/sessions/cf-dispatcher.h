/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-account-prep.h"
#include "cf-config.h"
#include "cf-hook-router.h"
#include "cf-inbox.h"
#include "cf-task-filter.h"
#include "cf-state.h"
#include "cf-task-events.h"
#include "cf-tmux.h"

G_BEGIN_DECLS

/* Gives each idle autonomous pool session one queued task (priority, then
 * fairness between projects, then age: cf-schedule.h) and runs the launch
 * sequence without blocking: claim (inbox → active) → respawn the session's
 * pane with Claude itself (cf_tmux_respawn_async: the project as working
 * directory, CLAUDE_CONFIG_DIR in its environment, argv from
 * cf_claude_argv with a conversation id chosen here, --session-id; nothing
 * typed into a shell) → wait for a ready prompt, failing at once on any
 * dialog (trust, bypass warning, onboarding, root refusal, …) with its first
 * line and the fix → bracketed paste of the message → Enter once the paste
 * shows → confirm (spinner or UserPromptSubmit hook), one more Enter if not.
 * A failed launch puts the task back in the inbox (attempt counted;
 * failed/ after dispatcher.max_dispatch_per_task) and recycles the session.
 * A task whose cooldown has not ended is dispatched when it ends (a timer
 * for the earliest one), not at the next unrelated event.
 *
 * Parallel tasks of one project (docs/worktrees.md): the claim first checks
 * the task's depends_on (cf_task_depends_check): it waits, not claimed and
 * with its reason logged, until a task of its project finishes (or 5 s
 * pass), and goes to failed/ at once on a failed or unknown dependency or a
 * cycle. projects.max_parallel keeps a project's further tasks out of the
 * candidates while that many are launching or working. With isolation:
 * worktree (the task's frontmatter or projects.isolation) a stage between
 * the claim and the account preparation makes the task's git worktree
 * (cf_worktree_ensure_async, a worker thread), which becomes the session's
 * working directory; a resume goes back to it.
 *
 * Signal "resume-failed" (session, project, task, account, why): a
 * cf_dispatcher_resume() found no conversation to resume; the task started
 * over in a new conversation in the same session, its attempt not counted.
 * Signal "prompt-ready" (session, screen): a launched or resumed Claude shows
 * its prompt and nothing has been pasted yet.
 * Signal "launch-limited" (session, screen): a launch ends because Claude
 * shows a usage limit (the task goes back, its attempt not counted).
 * Signal "turn-started" (session, project, task, how): the submission of a
 * task's prompt is confirmed ("spinner" or "UserPromptSubmit hook"), just
 * before the session is marked working (cf_watcher_note_turn_started). */

#define CF_TYPE_DISPATCHER (cf_dispatcher_get_type ())
G_DECLARE_FINAL_TYPE (CfDispatcher, cf_dispatcher, CF, DISPATCHER, GObject)

CfDispatcher *cf_dispatcher_new (CfConfig *config, CfState *state, CfTaskEvents *task_events,
                                 CfTmux *tmux, CfInbox *inbox, CfHookRouter *hooks);
void cf_dispatcher_set_config (CfDispatcher *self, CfConfig *config);
/* Before each launch the account home is made to trust the task's project
 * (cf_account_prep_ensure_async), once per home and project until the next
 * configuration. NULL: no preparation. */
void cf_dispatcher_set_account_prep (CfDispatcher *self, CfAccountPrep *prep);
void cf_dispatcher_start (CfDispatcher *self);
void cf_dispatcher_stop (CfDispatcher *self);
/* Looks for work now (coalesced into one idle callback). */
void cf_dispatcher_kick (CfDispatcher *self);
/* Ends every launch in progress (account switch): claimed tasks go back to
 * the inbox without counting the attempt, the sessions are recreated. */
void cf_dispatcher_abort_launches (CfDispatcher *self, const char *reason);
/* After an account switch: the pool session NAME, working on a task in the
 * conversation its state records, is respawned on ACCOUNT with --resume and
 * told to go on, in the same project directory; the task stays in active/.
 * FALSE (nothing started) when NAME has no task or no conversation id. */
gboolean cf_dispatcher_resume (CfDispatcher *self, const char *name, const char *account);
/* TRUE while a launch runs in SESSION. */
gboolean cf_dispatcher_is_launching (CfDispatcher *self, const char *session);

/* Pending tasks another component takes (remote delegation, cf-delegation.h):
 * FILTER is asked for each pending task at each dispatch pass, on the main
 * loop, and the task is left alone while it answers TRUE. It must answer
 * from memory. The dispatcher holds a reference; NULL removes it. */
void cf_dispatcher_set_task_filter (CfDispatcher *self, CfTaskFilter *filter);

G_END_DECLS
