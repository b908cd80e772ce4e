/* SPDX-License-Identifier: MIT */
/* One account switch through its journaled steps (ARCHITECTURE.md 4.3):
 * saving (resume UUIDs), switching (links, in a thread: cf-switcher-links),
 * resuming (sessions moved), its end or rollback, and the recovery of a
 * switch a crash interrupted. When to switch is cf-switcher.c's. */
#include "cf-switcher-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-claude-command.h"
#include "cf-failover-policy.h"
#include "cf-fault.h"
#include "cf-pane.h"
#include "cf-shell.h"
#include "cf-switcher-links.h"
#include "cf-symlinks.h"

#define RESUME_HISTORY_LINES 200

static void
swap_free (Swap *swap)
{
  g_object_unref (swap->self);
  g_free (swap->from);
  g_free (swap->to);
  g_free (swap->reason);
  g_free (swap->why);
  g_free (swap);
}

static void
log_swap (GLogLevelFlags level, Swap *swap, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
log_swap (GLogLevelFlags level, Swap *swap, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_log_structured (G_LOG_DOMAIN, level,
                    "CF_SWAP_FROM", swap->from,
                    "CF_SWAP_TO", swap->to,
                    "CF_SWAP_REASON", swap->reason,
                    "CF_SWAP_STEP", cf_swap_state_to_string (cf_state_get_swap_journal (swap->self->state)->step),
                    "MESSAGE", "Switch %s → %s (%s): %s", swap->from, swap->to, swap->reason, message);
}

/* Where the switcher rests: on the primary, or on a backup (fallback). */
static CfSwapState
rest_state (CfSwitcher *self)
{
  return g_str_equal (cf_state_get_active_account (self->state),
                      cf_switcher_primary_account (self)->name)
         ? CF_SWAP_NORMAL : CF_SWAP_FALLBACK;
}

void
cf_switcher_set_rest_state (CfSwitcher *self)
{
  cf_state_set_swap_journal (self->state, CF_SWAP_SET_STEP,
                             &(CfSwapJournal) { .step = rest_state (self), .from = (char *) NULL,
                                                .to = (char *) NULL });
  cf_state_set_swap_journal (self->state, CF_SWAP_SET_REASON,
                             &(CfSwapJournal) { .reason = (char *) NULL });
}

/* ---- journal ---------------------------------------------------------- */

static void swap_rollback (Swap *swap, const char *why);

static void
on_journaled (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Swap *swap = user_data;
  g_autoptr(GError) error = NULL;

  if (!cf_state_store_flush_finish (CF_STATE_STORE (source), result, &error))
    {
      if (cf_state_get_swap_journal (swap->self->state)->step == CF_SWAP_RESUMING)
        /* The link is flipped: going on is the safe way. */
        log_swap (G_LOG_LEVEL_WARNING, swap, "journal not written (%s); going on",
                  error->message);
      else
        {
          g_autofree char *why = g_strdup_printf (_("cannot write the swap journal: %s"),
                                                  error->message);
          swap_rollback (swap, why);
          return;
        }
    }
  swap->next (swap);
}

/* Journals STEP durably, then runs NEXT. */
static void
journal_then (Swap *swap, CfSwapState step, SwapStep next)
{
  cf_state_set_swap_journal (swap->self->state, CF_SWAP_SET_STEP,
                             &(CfSwapJournal) { .step = step, .from = (char *) swap->from,
                                                .to = (char *) swap->to });
  cf_state_set_swap_journal (swap->self->state, CF_SWAP_SET_REASON,
                             &(CfSwapJournal) { .reason = (char *) swap->reason });
  swap->next = next;
  cf_state_store_flush_async (swap->self->store, NULL, on_journaled, swap);
}

static void
pending_done (Swap *swap)
{
  g_assert (swap->pending > 0);
  if (--swap->pending == 0)
    swap->next (swap);
}

/* ---- end of a switch ---------------------------------------------------- */

static void
swap_end (Swap *swap, gboolean success, const char *message)
{
  CfSwitcher *self = swap->self;

  cf_switcher_set_rest_state (self);
  cf_state_store_flush_async (self->store, NULL, NULL, NULL);
  log_swap (success ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING, swap, "%s", message);
  cf_counters_count (cf_state_get_counters (self->state), success ? CF_EVENT_SWAP_SUCCEEDED : CF_EVENT_SWAP_FAILED);
  if (self->swap == swap)
    self->swap = NULL;
  g_signal_emit (self, cf_switcher_signals[CF_SWITCHER_SIGNAL_SWAP_FINISHED], 0, swap->from, swap->to, success, message);
  cf_switcher_arm_timers (self);
  swap_free (swap);
}

static void
rollback_done (Swap *swap, const GError *error)
{
  CfSwitcher *self = swap->self;
  g_autofree char *message = NULL;

  if (error != NULL)
    {
      cf_state_set_swap_journal (self->state, CF_SWAP_SET_PARTIAL,
                                 &(CfSwapJournal) { .partial = TRUE });
      message = g_strdup_printf (_("switch from %s to %s failed (%s) and could not be "
                                   "rolled back (%s): switches are refused until "
                                   "ClearPartialSwap"),
                                 swap->from, swap->to, swap->why, error->message);
    }
  if (cf_config_find_account (self->config, swap->from) != NULL)
    cf_state_set_active_account (self->state, swap->from);
  if (message == NULL)
    message = g_strdup_printf (_("switch from %s to %s failed and was rolled back: %s"),
                               swap->from, swap->to, swap->why);
  swap_end (swap, FALSE, message);
}

static void
on_rolled_back (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  cf_switcher_links_rollback_finish (result, &error);
  rollback_done (user_data, error);
}

/* claude_link goes back to the previous home (in a thread; at start-up,
 * before the loop serves anyone, at once), the active account stays. */
static void
swap_rollback_full (Swap *swap, const char *why, gboolean at_start)
{
  CfSwitcher *self = swap->self;
  g_autoptr(GError) error = NULL;

  if (!g_str_equal (swap->reason, "manual"))
    self->last_failure = g_get_real_time ();
  swap->why = g_strdup (why);
  if (!at_start)
    {
      cf_switcher_links_rollback_async (self->config, swap->from, on_rolled_back, swap);
      return;
    }
  cf_switcher_links_rollback (self->config, swap->from, &error);
  rollback_done (swap, error);
}

static void
swap_rollback (Swap *swap, const char *why)
{
  swap_rollback_full (swap, why, FALSE);
}

static void
step_complete (Swap *swap)
{
  CfSwitcher *self = swap->self;
  const CfAccountConfig *primary = cf_switcher_primary_account (self);
  gint64 now = g_get_real_time ();
  gint64 return_at;
  g_autofree char *message = NULL;

  cf_state_set_swap_journal (self->state, CF_SWAP_SET_LAST,
                             &(CfSwapJournal) { .last_when = now, .last_from = (char *) swap->from,
                                                .last_to = (char *) swap->to });
  return_at = cf_failover_return_at (g_str_equal (swap->to, primary->name),
                                     cf_switcher_account_exhausted_until (self, primary->name),
                                     self->config->quota_return_margin_usec, now);
  cf_state_set_swap_journal (self->state, CF_SWAP_SET_RETURN_AT,
                             &(CfSwapJournal) { .return_at = return_at });
  if (!g_str_equal (swap->reason, "quota"))
    cf_state_set_dispatch_pause (self->state,
                                 cf_state_get_dispatch_pause (self->state).operator_paused, 0);
  if (swap->draining)
    message = g_strdup_printf (_("switched from %s to %s; sessions finishing their task on %s: "
                                 "%u, dedicated sessions resumed: %u, left at their shell: %u"),
                               swap->from, swap->to, swap->from, swap->drained, swap->resumed,
                               swap->left_at_shell);
  else
    message = g_strdup_printf (_("switched from %s to %s; tasks resumed in their conversation: "
                                 "%u, tasks requeued: %u, dedicated sessions resumed: %u, left "
                                 "at their shell: %u"),
                               swap->from, swap->to, swap->tasks_resumed, swap->requeued,
                               swap->resumed, swap->left_at_shell);
  swap_end (swap, TRUE, message);
}

/* ---- resuming: pool sessions recreated, dedicated ones relaunched -------- */

typedef struct {
  Swap *swap;
  char *session;
  gboolean resumes;            /* FALSE: left at the shell (no UUID known) */
} Relaunch;

static void
on_respawned (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Relaunch *relaunch = user_data;
  Swap *swap = relaunch->swap;
  g_autoptr(GError) error = NULL;

  if (!cf_tmux_finish_boolean (CF_TMUX (source), result, &error))
    log_swap (G_LOG_LEVEL_WARNING, swap, "cannot restart %s: %s", relaunch->session,
              error->message);
  else
    {
      cf_state_set_session_text (swap->self->state, relaunch->session, CF_SESSION_TEXT_ACCOUNT,
                                 swap->to);
      if (relaunch->resumes)
        swap->resumed++;
      else
        swap->left_at_shell++;
      log_swap (G_LOG_LEVEL_MESSAGE, swap, "%s %s", relaunch->session,
                relaunch->resumes ? "resumed on the new account"
                                  : "left at its shell: no conversation UUID known");
    }
  g_free (relaunch->session);
  g_free (relaunch);
  pending_done (swap);
}

/* Claude in a dedicated session is ended and started again on the new
 * account, resuming its conversation, in one step: respawn the pane (a
 * usage-limit menu may not take /exit) with the new command, in the
 * directory Claude ran in, and the user's shell once Claude exits. Claude's
 * argv reaches the shell as positional parameters: no path or id is ever
 * parsed as shell syntax. */
static void
relaunch_dedicated (Swap *swap, CfSession *session)
{
  CfSwitcher *self = swap->self;
  const CfAccountConfig *to = cf_config_find_account (self->config, swap->to);
  const CfDedicatedConfig *dedicated = cf_config_find_dedicated (self->config, session->name);
  Relaunch *relaunch = g_new0 (Relaunch, 1);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) claude = NULL;
  g_autofree char *config_dir = g_strdup_printf ("CLAUDE_CONFIG_DIR=%s", to->home);
  const char *env[] = { config_dir, NULL };

  relaunch->swap = swap;
  relaunch->session = g_strdup (session->name);
  relaunch->resumes = cf_uuid_is_valid (session->resume_uuid);
  if (relaunch->resumes)
    claude = cf_claude_argv (self->config->claude_command, NULL, CF_CLAUDE_RESUME,
                             session->resume_uuid, NULL);
  relaunch->resumes = claude != NULL;
  g_strv_builder_add_many (builder, "/bin/sh", "-c",
                           claude != NULL ? "\"$@\"; exec \"${SHELL:-/bin/sh}\""
                                          : "exec \"${SHELL:-/bin/sh}\"",
                           "sh", NULL);
  if (claude != NULL)
    g_strv_builder_addv (builder, (const char **) claude);
  argv = g_strv_builder_end (builder);
  swap->pending++;
  cf_tmux_respawn_async (self->tmux, session->name,
                         dedicated != NULL ? dedicated->project : NULL,
                         relaunch->resumes ? env : NULL, (const char *const *) argv, NULL,
                         on_respawned, relaunch);
}

/* A per-session operation of a switch step (UUID capture, dedicated check). */
typedef struct {
  Swap *swap;
  char *session;
  gboolean want_uuid;          /* the conversation is not known from a hook */
} Probe;

static void
on_dedicated_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *probe = user_data;
  Swap *swap = probe->swap;
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTmuxSessionInfo) info = cf_tmux_session_info_finish (CF_TMUX (source), result, &error);
  CfSession *session = cf_state_lookup_session (swap->self->state, probe->session);

  if (info != NULL && session != NULL && !cf_tmux_session_info_claude_exited (info))
    relaunch_dedicated (swap, session);
  g_free (probe->session);
  g_free (probe);
  pending_done (swap);
}

static void
step_resume (Swap *swap)
{
  CfSwitcher *self = swap->self;
  g_autoptr(GPtrArray) sessions = cf_state_list_sessions (self->state);

  cf_fault_point ("swap-resuming");
  log_swap (G_LOG_LEVEL_MESSAGE, swap, "claude_link points to the new account; moving sessions");
  cf_quota_reset (self->quota);
  swap->pending = 1;           /* held until every operation is issued */
  swap->next = step_complete;
  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);

      if (session->state == CF_SESSION_DEAD)
        continue;
      if (session->kind == CF_SESSION_POOL && swap->draining)
        {
          if (session->task[0] != '\0')
            swap->drained++;
          continue;
        }
      if (session->kind == CF_SESSION_POOL)
        {
          /* A launch in progress ends by itself (aborted when saving). */
          if (cf_dispatcher_is_launching (self->dispatcher, session->name))
            continue;
          /* Its conversation goes on on the new account, in the same
           * project directory: the task is not started again. A task whose
           * outcome is already being written is not resumed (it would run
           * twice). */
          if (cf_session_state_holds_task (session->state) &&
              session->task[0] != '\0' &&
              !cf_watcher_is_finishing (self->watcher, session->name) &&
              cf_dispatcher_resume (self->dispatcher, session->name, swap->to))
            {
              swap->tasks_resumed++;
              log_swap (G_LOG_LEVEL_MESSAGE, swap, "%s: task %s resumes in conversation %s",
                        session->name, session->task, session->resume_uuid);
              continue;
            }
          if (cf_session_state_holds_task (session->state) && session->task[0] != '\0')
            swap->requeued++;
          cf_watcher_evict (self->watcher, session->name, _("the account ran out: switching accounts"));
          continue;
        }
      if (g_str_equal (session->account, swap->to))
        continue;              /* already relaunched (a resumed, interrupted switch) */
      Probe *probe = g_new0 (Probe, 1);
      probe->swap = swap;
      probe->session = g_strdup (session->name);
      swap->pending++;
      cf_tmux_session_info_async (self->tmux, session->name, NULL, on_dedicated_checked, probe);
    }
  pending_done (swap);
}

/* ---- switching: links and claude_link ------------------------------------ */

static void
on_pointed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Swap *swap = user_data;
  g_autoptr(GError) error = NULL;

  if (!cf_switcher_links_point_finish (result, &error))
    {
      swap_rollback (swap, error->message);
      return;
    }
  cf_fault_point ("swap-flipped");
  cf_state_set_active_account (swap->self->state, swap->to);
  journal_then (swap, CF_SWAP_RESUMING, step_resume);
}

static void
step_switch (Swap *swap)
{
  CfSwitcher *self = swap->self;

  cf_fault_point ("swap-switching");
  if (cf_config_find_account (self->config, swap->to) == NULL)
    {
      swap_rollback (swap, _("the target account is no longer configured"));
      return;
    }
  cf_switcher_links_point_async (self->config, swap->to, on_pointed, swap);
}

/* ---- saving: resume UUIDs ------------------------------------------------ */

static void
after_save (Swap *swap)
{
  journal_then (swap, CF_SWAP_SWITCHING, step_switch);
}

static void
on_history (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *probe = user_data;
  Swap *swap = probe->swap;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = cf_tmux_capture_finish (CF_TMUX (source), result, &error);
  g_auto(CfPaneVerdict) verdict = { 0 };
  CfPaneContext context = { .now_unix = g_get_real_time () / G_USEC_PER_SEC };

  if (text != NULL)
    {
      cf_pane_classify (text, strlen (text), &context, &verdict);
      /* A task whose turn has already finished on screen (its Stop hook
       * still on its way) is done: resumed, it would be answered again on
       * the new account, requeued it would run twice. */
      if (cf_watcher_settle_if_finished (swap->self->watcher, probe->session, &verdict))
        log_swap (G_LOG_LEVEL_MESSAGE, swap, "%s: its task had finished on screen: done, "
                  "not resumed", probe->session);
      if (probe->want_uuid && verdict.resume_uuid != NULL &&
          cf_state_lookup_session (swap->self->state, probe->session))
        {
          cf_state_set_session_text (swap->self->state, probe->session, CF_SESSION_TEXT_RESUME_UUID,
                                     verdict.resume_uuid);
          log_swap (G_LOG_LEVEL_INFO, swap, "%s: conversation %s (from the pane history)",
                    probe->session, verdict.resume_uuid);
        }
    }
  g_free (probe->session);
  g_free (probe);
  pending_done (swap);
}

static void
step_save (Swap *swap)
{
  CfSwitcher *self = swap->self;
  g_autoptr(GPtrArray) sessions = cf_state_list_sessions (self->state);

  cf_fault_point ("swap-saving");
  swap->pending = 1;
  swap->next = after_save;
  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);
      gboolean running = session->kind == CF_SESSION_DEDICATED
                         ? session->state != CF_SESSION_DEAD
                         : (session->state == CF_SESSION_LAUNCHING ||
                            cf_session_state_holds_task (session->state));
      Probe *probe;

      gboolean pool_task = session->kind == CF_SESSION_POOL &&
                           session->state == CF_SESSION_WORKING && session->task[0] != '\0';
      gboolean want_uuid;

      if (!running)
        continue;
      want_uuid = !cf_uuid_is_valid (session->resume_uuid);
      if (!want_uuid)
        log_swap (G_LOG_LEVEL_INFO, swap, "%s: conversation %s (from its SessionStart hook)",
                  session->name, session->resume_uuid);
      /* A working pool session's pane is read anyway: has its task already
       * finished there? */
      if (!want_uuid && !pool_task)
        continue;
      if (want_uuid && session->resume_uuid[0] != '\0')
        cf_state_set_session_text (self->state, session->name, CF_SESSION_TEXT_RESUME_UUID, NULL);
      probe = g_new0 (Probe, 1);
      probe->swap = swap;
      probe->session = g_strdup (session->name);
      probe->want_uuid = want_uuid;
      swap->pending++;
      cf_tmux_capture_async (self->tmux, session->name, RESUME_HISTORY_LINES, NULL, on_history,
                             probe);
    }
  pending_done (swap);
}

void
cf_switcher_swap_begin (CfSwitcher *self, const char *from, const char *to, const char *reason)
{
  Swap *swap = g_new0 (Swap, 1);

  swap->self = g_object_ref (self);
  swap->from = g_strdup (from);
  swap->to = g_strdup (to);
  swap->reason = g_strdup (reason);
  self->swap = swap;
  g_clear_handle_id (&self->return_timer, g_source_remove);
  log_swap (G_LOG_LEVEL_MESSAGE, swap, "starting");
  cf_state_set_swap_journal (self->state, CF_SWAP_SET_STEP,
                             &(CfSwapJournal) { .step = CF_SWAP_SAVING, .from = (char *) from,
                                                .to = (char *) to });
  g_signal_emit (self, cf_switcher_signals[CF_SWITCHER_SIGNAL_SWAP_STARTED], 0, from, to, reason);
  cf_dispatcher_abort_launches (self->dispatcher, _("the account is being switched"));
  journal_then (swap, CF_SWAP_SAVING, step_save);
}

static gboolean
resume_interrupted (gpointer user_data)
{
  Swap *swap = user_data;

  step_resume (swap);
  return G_SOURCE_REMOVE;
}

/* A switch journaled when the daemon died: finish it when claude_link
 * already points to the target, roll it back otherwise. */
void
cf_switcher_recover_journal (CfSwitcher *self)
{
  CfSwapState step = cf_state_get_swap_journal (self->state)->step;
  const char *from = cf_state_get_swap_journal (self->state)->from;
  const char *to = cf_state_get_swap_journal (self->state)->to;
  const CfAccountConfig *linked = NULL;
  Swap *swap;

  if (!cf_swap_state_in_progress (step))
    return;
  swap = g_new0 (Swap, 1);
  swap->self = g_object_ref (self);
  swap->from = g_strdup (from);
  swap->to = g_strdup (to);
  swap->reason = g_strdup (cf_state_get_swap_journal (self->state)->reason[0]
                           ? cf_state_get_swap_journal (self->state)->reason : "quota");
  swap->draining = g_str_equal (swap->reason, "usage");
  self->swap = swap;
  if (cf_switcher_has_claude_link (self))
    linked = cf_symlinks_link_account (self->config, self->config->claude_link);
  else if (step == CF_SWAP_RESUMING)
    linked = cf_config_find_account (self->config, to);

  if (cf_failover_recover_finishes (step != CF_SWAP_SAVING, linked != NULL ? linked->name : NULL,
                                    to))
    {
      log_swap (G_LOG_LEVEL_WARNING, swap, "interrupted at step %s; claude_link already points "
                "to %s: finishing it", cf_swap_state_to_string (step), to);
      cf_state_set_active_account (self->state, to);
      cf_state_set_swap_journal (self->state, CF_SWAP_SET_STEP,
                                 &(CfSwapJournal) { .step = CF_SWAP_RESUMING, .from = (char *) from,
                                                    .to = (char *) to });
      g_idle_add (resume_interrupted, swap);
      return;
    }
  log_swap (G_LOG_LEVEL_WARNING, swap, "interrupted at step %s: rolling back",
            cf_swap_state_to_string (step));
  swap_rollback_full (swap, _("the daemon stopped during the switch"), TRUE);
}

