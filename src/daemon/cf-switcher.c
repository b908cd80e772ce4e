/* SPDX-License-Identifier: MIT */
#include "cf-switcher.h"

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
#define RETRY_SECONDS 5

typedef struct _Swap Swap;

struct _CfSwitcher {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfTmux *tmux;
  CfWatcher *watcher;
  CfDispatcher *dispatcher;
  CfQuota *quota;
  GCancellable *cancellable;   /* NULL when stopped */

  Swap *swap;                  /* the switch in progress, or NULL */
  gint64 last_failure;         /* µs epoch of the last failed automatic switch */
  gboolean return_checking;    /* the return timer's layout check is running */
  guint return_timer;
  guint reset_timer;
  guint expiry_timer;          /* the next account exhaustion to expire */
};

enum {
  SIGNAL_SWAP_STARTED,
  SIGNAL_SWAP_FINISHED,
  SIGNAL_ALL_EXHAUSTED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfSwitcher, cf_switcher, G_TYPE_OBJECT)
G_DEFINE_QUARK (cf-switcher-error-quark, cf_switcher_error)

typedef void (*SwapStep) (Swap *swap);

struct _Swap {
  CfSwitcher *self;            /* strong */
  char *from;
  char *to;
  char *reason;
  SwapStep next;               /* runs once the journal is durable / ops are done */
  guint pending;               /* asynchronous operations of the current step */
  guint requeued;
  guint tasks_resumed;         /* pool tasks going on in their conversation */
  guint resumed;
  guint left_at_shell;
  /* A proactive (usage) switch: pool sessions are not killed; each
   * finishes its task on the old account and its next launch uses the new
   * one. Known from the reason after a crash. */
  gboolean draining;
  guint drained;
  char *why;                   /* a rollback in progress: why */
};

static void arm_timers (CfSwitcher *self);
static void evict_drained (CfSwitcher *self, const char *account);

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
                    "CF_SWAP_STEP", cf_swap_state_to_string (cf_state_get_swap_state (swap->self->state)),
                    "MESSAGE", "Switch %s → %s (%s): %s", swap->from, swap->to, swap->reason, message);
}

static const CfAccountConfig *
primary_account (CfSwitcher *self)
{
  return g_ptr_array_index (self->config->accounts, 0);
}

/* Where the switcher rests: on the primary, or on a backup (fallback). */
static CfSwapState
rest_state (CfSwitcher *self)
{
  return g_str_equal (cf_state_get_active_account (self->state), primary_account (self)->name)
         ? CF_SWAP_NORMAL : CF_SWAP_FALLBACK;
}

static void
set_rest_state (CfSwitcher *self)
{
  cf_state_set_swap_journal (self->state, rest_state (self), NULL, NULL);
  cf_state_set_swap_reason (self->state, NULL);
}

static gint64
account_exhausted_until (CfSwitcher *self, const char *name)
{
  CfAccountState *account = cf_state_lookup_account (self->state, name);

  return account != NULL ? account->exhausted_until : 0;
}

/* "" when NAME is usable, else why not (authentication_failed, …):
 * an unusable account is never switched to until EnableAccount. */
static const char *
account_problem (CfSwitcher *self, const char *name)
{
  CfAccountState *account = cf_state_lookup_account (self->state, name);

  return account != NULL && account->problem != NULL ? account->problem : "";
}

/* The evidence of the failover decisions: the configured accounts in their
 * order, with what the state knows of them. */
static GArray *
failover_accounts (CfSwitcher *self)
{
  GPtrArray *configured = self->config->accounts;
  GArray *accounts = g_array_sized_new (FALSE, TRUE, sizeof (CfFailoverAccount), configured->len);

  for (guint i = 0; i < configured->len; i++)
    {
      const char *name = ((CfAccountConfig *) g_ptr_array_index (configured, i))->name;
      CfFailoverAccount account = {
        .name = name,
        .exhausted_until = account_exhausted_until (self, name),
        .problem = account_problem (self, name),
      };

      g_array_append_val (accounts, account);
    }
  return accounts;
}

/* The account after EXCLUDE in the configured order (wrapping), available
 * now (not exhausted, not unusable); NULL when none. */
static const CfAccountConfig *
next_available (CfSwitcher *self, const char *exclude)
{
  g_autoptr(GArray) accounts = failover_accounts (self);
  gint next = cf_failover_next_available ((const CfFailoverAccount *) accounts->data,
                                          accounts->len, exclude, g_get_real_time ());

  return next >= 0 ? g_ptr_array_index (self->config->accounts, next) : NULL;
}

static gboolean
has_claude_link (CfSwitcher *self)
{
  return self->config->claude_link != NULL && self->config->claude_link[0] != '\0';
}

/* ---- journal ---------------------------------------------------------- */

static void swap_rollback (Swap *swap, const char *why);

static void
on_journaled (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Swap *swap = user_data;
  g_autoptr(GError) error = NULL;

  if (!cf_state_flush_finish (CF_STATE (source), result, &error))
    {
      if (cf_state_get_swap_state (swap->self->state) == CF_SWAP_RESUMING)
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
  cf_state_set_swap_journal (swap->self->state, step, swap->from, swap->to);
  cf_state_set_swap_reason (swap->self->state, swap->reason);
  swap->next = next;
  cf_state_flush_async (swap->self->state, NULL, on_journaled, swap);
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

  set_rest_state (self);
  cf_state_flush_async (self->state, NULL, NULL, NULL);
  log_swap (success ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING, swap, "%s", message);
  cf_state_count_event (self->state, success ? CF_EVENT_SWAP_SUCCEEDED : CF_EVENT_SWAP_FAILED);
  if (self->swap == swap)
    self->swap = NULL;
  g_signal_emit (self, signals[SIGNAL_SWAP_FINISHED], 0, swap->from, swap->to, success, message);
  arm_timers (self);
  swap_free (swap);
}

static void
rollback_done (Swap *swap, const GError *error)
{
  CfSwitcher *self = swap->self;
  g_autofree char *message = NULL;

  if (error != NULL)
    {
      cf_state_set_partial_swap (self->state, TRUE);
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
  const CfAccountConfig *primary = primary_account (self);
  gint64 now = g_get_real_time ();
  g_autofree char *message = NULL;

  cf_state_set_last_swap (self->state, now, swap->from, swap->to);
  cf_state_set_return_at (self->state,
                          cf_failover_return_at (g_str_equal (swap->to, primary->name),
                                                 account_exhausted_until (self, primary->name),
                                                 self->config->quota_return_margin_usec, now));
  if (!g_str_equal (swap->reason, "quota"))
    cf_state_set_all_exhausted_until (self->state, 0);
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
      cf_state_set_session_account (swap->self->state, relaunch->session, swap->to);
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
          cf_state_set_session_resume_uuid (swap->self->state, probe->session, verdict.resume_uuid);
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
        cf_state_set_session_resume_uuid (self->state, session->name, NULL);
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

static void
swap_begin (CfSwitcher *self, const char *from, const char *to, const char *reason)
{
  Swap *swap = g_new0 (Swap, 1);

  swap->self = g_object_ref (self);
  swap->from = g_strdup (from);
  swap->to = g_strdup (to);
  swap->reason = g_strdup (reason);
  self->swap = swap;
  g_clear_handle_id (&self->return_timer, g_source_remove);
  log_swap (G_LOG_LEVEL_MESSAGE, swap, "starting");
  cf_state_set_swap_journal (self->state, CF_SWAP_SAVING, from, to);
  g_signal_emit (self, signals[SIGNAL_SWAP_STARTED], 0, from, to, reason);
  cf_dispatcher_abort_launches (self->dispatcher, _("the account is being switched"));
  journal_then (swap, CF_SWAP_SAVING, step_save);
}

/* ---- timers: return to the primary, end of total exhaustion -------------- */

static gboolean on_return_timer (gpointer user_data);

/* The return timer's decision, once the layout is checked (in a thread). */
static void
on_return_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CfSwitcher) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *layout = cf_switcher_links_check_finish (result, &error);
  const CfAccountConfig *primary = primary_account (self);
  gint64 now = g_get_real_time ();
  gint64 until = account_exhausted_until (self, primary->name);
  CfReturnInput input = {
    .busy = self->swap != NULL || cf_state_get_partial_swap (self->state),
    .on_primary = g_str_equal (cf_state_get_active_account (self->state), primary->name),
    .primary_exhausted_until = until,
    .primary_problem = account_problem (self, primary->name),
    .layout_broken = layout != NULL,
    .return_margin = self->config->quota_return_margin_usec,
    .cooldown = self->config->quota_reactivate_cooldown_usec,
  };
  CfReturnVerdict verdict;

  self->return_checking = FALSE;
  if (error != NULL || self->cancellable == NULL)
    return;
  verdict = cf_failover_decide_return (&input, now);
  switch (verdict.action)
    {
    case CF_RETURN_RETRY:
      g_clear_handle_id (&self->return_timer, g_source_remove);
      self->return_timer = g_timeout_add_seconds (RETRY_SECONDS, on_return_timer, self);
      return;
    case CF_RETURN_ARRIVED:
      cf_state_set_return_at (self->state, 0);
      set_rest_state (self);
      return;
    case CF_RETURN_WAIT:
      /* Newer evidence pushed the primary's reset. */
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "CF_ACCOUNT", primary->name,
                        "MESSAGE", "Not returning to %s yet: it is exhausted for %" G_GINT64_FORMAT
                        " s more", primary->name, (until - now) / G_USEC_PER_SEC);
      cf_state_set_return_at (self->state, verdict.at);
      arm_timers (self);
      return;
    case CF_RETURN_UNUSABLE:
      /* EnableAccount re-arms nothing: the operator switches back by hand. */
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "CF_ACCOUNT", primary->name,
                        "MESSAGE", "Not returning to %s: it is unusable (%s) until "
                        "EnableAccount", primary->name, input.primary_problem);
      cf_state_set_return_at (self->state, 0);
      return;
    case CF_RETURN_LAYOUT:
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "CF_ACCOUNT", primary->name,
                        "MESSAGE", "Not returning to %s: %s", primary->name, layout);
      cf_state_set_return_at (self->state, verdict.at);
      arm_timers (self);
      return;
    case CF_RETURN_SWITCH:
    default:
      cf_state_set_return_at (self->state, 0);
      swap_begin (self, cf_state_get_active_account (self->state), primary->name, "return");
      return;
    }
}

static gboolean
on_return_timer (gpointer user_data)
{
  CfSwitcher *self = user_data;

  self->return_timer = 0;
  /* A check under way decides with the state as it is when it ends. */
  if (self->return_checking)
    return G_SOURCE_REMOVE;
  self->return_checking = TRUE;
  cf_switcher_links_check_async (self->config, self->cancellable, on_return_checked,
                                 g_object_ref (self));
  return G_SOURCE_REMOVE;
}

static gboolean
on_reset_timer (gpointer user_data)
{
  CfSwitcher *self = user_data;
  const char *active = cf_state_get_active_account (self->state);
  g_autoptr(GArray) accounts = NULL;
  gint target;

  self->reset_timer = 0;
  if (self->swap != NULL)
    {
      self->reset_timer = g_timeout_add_seconds (RETRY_SECONDS, on_reset_timer, self);
      return G_SOURCE_REMOVE;
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "MESSAGE", "An account's usage limit has reset: dispatch resumes");
  cf_state_set_all_exhausted_until (self->state, 0);
  accounts = failover_accounts (self);
  target = cf_failover_after_reset ((const CfFailoverAccount *) accounts->data, accounts->len,
                                    active, cf_state_get_partial_swap (self->state),
                                    g_get_real_time ());
  if (target >= 0)
    /* The active account is still out and another one has reset: a switch
     * for the quota (SwapStarted's reasons are fixed, ARCHITECTURE.md 4.9). */
    swap_begin (self, active,
                ((CfAccountConfig *) g_ptr_array_index (self->config->accounts, target))->name,
                "quota");
  return G_SOURCE_REMOVE;
}

static guint timeout_for (gint64 when);

/* An exhaustion whose time has passed is cleared, so that Accounts shows
 * the account available (and PropertiesChanged says so) on time. */
static gboolean
on_expiry_timer (gpointer user_data)
{
  CfSwitcher *self = user_data;
  g_autoptr(GPtrArray) accounts = cf_state_list_accounts (self->state);
  g_autoptr(GPtrArray) expired = g_ptr_array_new_with_free_func (g_free);
  gint64 now = g_get_real_time ();

  self->expiry_timer = 0;
  for (guint i = 0; i < accounts->len; i++)
    {
      CfAccountState *account = g_ptr_array_index (accounts, i);
      if (account->exhausted_until > 0 && account->exhausted_until <= now)
        g_ptr_array_add (expired, g_strdup (account->name));
    }
  for (guint i = 0; i < expired->len; i++)
    {
      const char *name = g_ptr_array_index (expired, i);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "CF_ACCOUNT", name,
                        "MESSAGE", "Account %s: its usage limit has reset", name);
      cf_state_set_account_exhausted_until (self->state, name, 0);
    }
  arm_timers (self);
  return G_SOURCE_REMOVE;
}

static guint
timeout_for (gint64 when)
{
  gint64 delay_ms = (when - g_get_real_time ()) / 1000;

  return (guint) CLAMP (delay_ms, 0, G_MAXINT32);
}

static void
arm_timers (CfSwitcher *self)
{
  gint64 return_at = cf_state_get_return_at (self->state);
  gint64 reset_at = cf_state_get_all_exhausted_until (self->state);

  g_autoptr(GPtrArray) accounts = cf_state_list_accounts (self->state);
  gint64 next_expiry = 0;

  g_clear_handle_id (&self->return_timer, g_source_remove);
  g_clear_handle_id (&self->reset_timer, g_source_remove);
  g_clear_handle_id (&self->expiry_timer, g_source_remove);
  if (self->cancellable == NULL)
    return;
  for (guint i = 0; i < accounts->len; i++)
    {
      gint64 until = ((CfAccountState *) g_ptr_array_index (accounts, i))->exhausted_until;
      if (until > 0 && (next_expiry == 0 || until < next_expiry))
        next_expiry = until;
    }
  if (next_expiry > 0)
    self->expiry_timer = g_timeout_add (timeout_for (next_expiry), on_expiry_timer, self);
  if (return_at > 0)
    self->return_timer = g_timeout_add (timeout_for (return_at), on_return_timer, self);
  if (reset_at > 0)
    self->reset_timer = g_timeout_add (timeout_for (reset_at), on_reset_timer, self);
}

/* ---- entry points -------------------------------------------------------- */

static gboolean
check_can_switch (CfSwitcher *self, GError **error)
{
  if (cf_state_get_partial_swap (self->state))
    {
      g_set_error_literal (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_PARTIAL_SWAP,
                           _("a previous switch could not be rolled back: fix claude_link and "
                             "call ClearPartialSwap first"));
      return FALSE;
    }
  if (self->swap != NULL || cf_swap_state_in_progress (cf_state_get_swap_state (self->state)))
    {
      g_set_error_literal (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_IN_PROGRESS,
                           _("an account switch is already in progress"));
      return FALSE;
    }
  return TRUE;
}

gboolean
cf_switcher_switch (CfSwitcher *self, const char *account, GError **error)
{
  const char *active = cf_state_get_active_account (self->state);
  const CfAccountConfig *target;

  if (self->cancellable == NULL)
    {
      g_set_error_literal (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_INVALID,
                           _("the daemon is stopping"));
      return FALSE;
    }
  if (account == NULL || account[0] == '\0')
    {
      target = next_available (self, active);
      if (target == NULL)
        {
          g_set_error_literal (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_NO_SUCH_ACCOUNT,
                               _("no other account is available (all exhausted or none configured)"));
          return FALSE;
        }
    }
  else
    {
      target = cf_config_find_account (self->config, account);
      if (target == NULL)
        {
          g_set_error (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_NO_SUCH_ACCOUNT,
                       _("no account named '%s'"), account);
          return FALSE;
        }
      if (g_str_equal (target->name, active))
        {
          g_set_error (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_INVALID,
                       _("'%s' is already the active account"), account);
          return FALSE;
        }
      if (account_problem (self, target->name)[0] != '\0')
        {
          g_set_error (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_UNUSABLE,
                       _("account '%s' is unusable (%s): fix it, then run "
                         "'claude-failoverctl accounts enable %s'"),
                       target->name, account_problem (self, target->name), target->name);
          return FALSE;
        }
    }
  if (!check_can_switch (self, error))
    return FALSE;
  swap_begin (self, active, target->name, "manual");
  return TRUE;
}

gboolean
cf_switcher_clear_partial (CfSwitcher *self, GError **error)
{
  g_autoptr(GPtrArray) problems = NULL;
  const CfAccountConfig *linked = NULL;

  if (!cf_state_get_partial_swap (self->state))
    {
      g_set_error_literal (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_INVALID,
                           _("there is no partial swap to clear"));
      return FALSE;
    }
  if (has_claude_link (self))
    {
      linked = cf_symlinks_link_account (self->config, self->config->claude_link);
      if (linked == NULL)
        {
          g_set_error (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_LAYOUT,
                       _("%s still points to none of the account homes: point it at one "
                         "(ln -sfn HOME %s), then clear"),
                       self->config->claude_link, self->config->claude_link);
          return FALSE;
        }
    }
  problems = cf_symlinks_validate_all (self->config, FALSE);
  if (problems->len > 0)
    {
      g_set_error (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_LAYOUT, "%s",
                   ((CfLinkProblem *) g_ptr_array_index (problems, 0))->message);
      return FALSE;
    }
  if (linked != NULL)
    cf_state_set_active_account (self->state, linked->name);
  cf_state_set_partial_swap (self->state, FALSE);
  set_rest_state (self);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "CF_ACCOUNT", cf_state_get_active_account (self->state),
                    "MESSAGE", "Partial swap cleared by the operator; active account %s",
                    cf_state_get_active_account (self->state));
  return TRUE;
}

void
cf_switcher_account_exhausted (CfSwitcher *self, const char *account, gint64 reset_usec,
                               const char *evidence)
{
  gint64 now = g_get_real_time ();
  gint64 until = cf_failover_exhausted_until (reset_usec, CF_SWITCHER_UNKNOWN_RESET_USEC, now);
  const char *active = cf_state_get_active_account (self->state);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) accounts = NULL;
  const char *last_from, *last_to;
  CfExhaustedInput input = {
    .exhausted = account,
    .until = until,
    .last_failure = self->last_failure,
    .cooldown = self->config->quota_reactivate_cooldown_usec,
  };
  CfExhaustedVerdict verdict;

  if (cf_config_find_account (self->config, account) == NULL)
    return;
  cf_state_set_account_exhausted_until (self->state, account, until);
  arm_timers (self);
  if (!g_str_equal (account, active) && self->cancellable != NULL)
    evict_drained (self, account);
  if (!g_str_equal (account, active) || self->cancellable == NULL)
    return;
  if (!check_can_switch (self, &error))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "CF_ACCOUNT", account,
                        "MESSAGE", "Account %s is exhausted but cannot be switched: %s",
                        account, error->message);
      return;
    }
  accounts = failover_accounts (self);
  input.accounts = (const CfFailoverAccount *) accounts->data;
  input.n_accounts = accounts->len;
  cf_state_get_last_swap (self->state, &input.last_swap, &last_from, &last_to);
  verdict = cf_failover_decide_exhausted (&input, now);
  switch (verdict.action)
    {
    case CF_EXHAUSTED_COOLDOWN:
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "CF_ACCOUNT", account,
                        "MESSAGE", "Account %s is exhausted, but the last switch was %" G_GINT64_FORMAT
                        " s ago: no new switch within quota.reactivate_cooldown",
                        account, verdict.since / G_USEC_PER_SEC);
      return;
    case CF_EXHAUSTED_RETRY_COOLDOWN:
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "CF_ACCOUNT", account,
                        "MESSAGE", "Account %s is exhausted; the last switch failed %" G_GINT64_FORMAT
                        " s ago: not retrying within quota.reactivate_cooldown",
                        account, verdict.since / G_USEC_PER_SEC);
      return;
    case CF_EXHAUSTED_SWITCH:
      swap_begin (self, account,
                  ((CfAccountConfig *) g_ptr_array_index (self->config->accounts,
                                                          verdict.target))->name,
                  "quota");
      return;
    case CF_EXHAUSTED_ALL_OUT:
    default:
      /* Every account is out: keep the sessions, stop feeding them. */
      cf_state_set_all_exhausted_until (self->state, verdict.until);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "CF_ACCOUNT", account,
                        "MESSAGE", "Every account is exhausted: dispatch paused for %" G_GINT64_FORMAT
                        " s, until the earliest reset", (verdict.until - now) / G_USEC_PER_SEC);
      g_signal_emit (self, signals[SIGNAL_ALL_EXHAUSTED], 0, verdict.until);
      arm_timers (self);
      return;
    }
}

/* ---- unusable accounts ----------------------------------------------------- */

void
cf_switcher_account_unusable (CfSwitcher *self, const char *account, const char *problem)
{
  const CfAccountConfig *target;
  g_autoptr(GError) error = NULL;

  if (cf_config_find_account (self->config, account) == NULL || problem == NULL ||
      problem[0] == '\0')
    return;
  if (!g_str_equal (account_problem (self, account), problem))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "CF_ACCOUNT", account,
                      "MESSAGE", "Account %s is unusable (%s): never switched to until "
                      "EnableAccount", account, problem);
  cf_state_set_account_problem (self->state, account, problem);
  if (self->cancellable == NULL || self->swap != NULL ||
      !g_str_equal (account, cf_state_get_active_account (self->state)))
    return;
  if (!check_can_switch (self, &error))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "CF_ACCOUNT", account,
                        "MESSAGE", "Account %s is unusable but cannot be switched: %s",
                        account, error->message);
      return;
    }
  target = next_available (self, account);
  if (target == NULL)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "CF_ACCOUNT", account,
                        "MESSAGE", "Account %s is unusable and no other account is available",
                        account);
      return;
    }
  /* No reactivate cooldown: staying on a dead account helps nobody. */
  swap_begin (self, account, target->name, "auth");
}

gboolean
cf_switcher_enable_account (CfSwitcher *self, const char *account, GError **error)
{
  if (cf_config_find_account (self->config, account) == NULL)
    {
      g_set_error (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_NO_SUCH_ACCOUNT,
                   _("no account named '%s'"), account);
      return FALSE;
    }
  if (account_problem (self, account)[0] != '\0')
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "CF_ACCOUNT", account,
                      "MESSAGE", "Account %s enabled again by the operator (was: %s)",
                      account, account_problem (self, account));
  cf_state_set_account_problem (self->state, account, NULL);
  return TRUE;
}

/* ---- proactive switches (cf-usage-switch) --------------------------------- */

/* After a usage switch, pool sessions still finishing on the old account
 * are on their own. When that account hits its limit anyway, the limit
 * takes over as in a reactive switch: their tasks go back to the queue
 * (attempt not counted) and start again on the active account. */
static void
evict_drained (CfSwitcher *self, const char *account)
{
  g_autoptr(GPtrArray) sessions = cf_state_list_sessions (self->state);

  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);

      if (session->kind != CF_SESSION_POOL || !g_str_equal (session->account, account) ||
          !cf_session_state_holds_task (session->state))
        continue;
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "CF_SESSION", session->name, "CF_TASK", session->task,
                        "CF_ACCOUNT", account,
                        "MESSAGE", "%s was finishing its task on %s, which is now exhausted: "
                        "the task starts again on the active account", session->name, account);
      cf_watcher_evict (self->watcher, session->name,
                        _("the account the session was finishing on ran out"));
    }
}

gboolean
cf_switcher_switch_draining (CfSwitcher *self, const char *account, const char *reason,
                             GError **error)
{
  const char *active = cf_state_get_active_account (self->state);
  const CfAccountConfig *target = cf_config_find_account (self->config, account);

  if (self->cancellable == NULL || target == NULL || g_str_equal (target->name, active))
    {
      g_set_error (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_INVALID,
                   _("cannot switch from %s to %s"), active, account);
      return FALSE;
    }
  if (!check_can_switch (self, error))
    return FALSE;
  if (cf_failover_in_cooldown (self->last_failure, self->config->quota_reactivate_cooldown_usec,
                               g_get_real_time ()))
    {
      g_set_error_literal (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_INVALID,
                           _("the last switch failed less than quota.reactivate_cooldown ago"));
      return FALSE;
    }
  swap_begin (self, active, target->name, reason);
  self->swap->draining = TRUE;
  return TRUE;
}

void
cf_switcher_pause_until (CfSwitcher *self, gint64 until)
{
  if (until <= 0 || cf_state_get_all_exhausted_until (self->state) == until)
    return;
  cf_state_set_all_exhausted_until (self->state, until);
  g_signal_emit (self, signals[SIGNAL_ALL_EXHAUSTED], 0, until);
  arm_timers (self);
}

/* ---- start-up ------------------------------------------------------------ */

static char *
join_problems (GPtrArray *problems)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < problems->len; i++)
    {
      CfLinkProblem *problem = g_ptr_array_index (problems, i);
      if (problem->account != NULL)
        g_string_append_printf (text, "%s[%s] %s", i ? "; " : "", problem->account, problem->message);
      else
        g_string_append_printf (text, "%s%s", i ? "; " : "", problem->message);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
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
static void
recover_journal (CfSwitcher *self)
{
  CfSwapState step = cf_state_get_swap_state (self->state);
  const char *from = cf_state_get_swap_from (self->state);
  const char *to = cf_state_get_swap_to (self->state);
  const CfAccountConfig *linked = NULL;
  Swap *swap;

  if (!cf_swap_state_in_progress (step))
    return;
  swap = g_new0 (Swap, 1);
  swap->self = g_object_ref (self);
  swap->from = g_strdup (from);
  swap->to = g_strdup (to);
  swap->reason = g_strdup (cf_state_get_swap_reason (self->state)[0]
                           ? cf_state_get_swap_reason (self->state) : "quota");
  swap->draining = g_str_equal (swap->reason, "usage");
  self->swap = swap;
  if (has_claude_link (self))
    linked = cf_symlinks_link_account (self->config, self->config->claude_link);
  else if (step == CF_SWAP_RESUMING)
    linked = cf_config_find_account (self->config, to);

  if (cf_failover_recover_finishes (step != CF_SWAP_SAVING, linked != NULL ? linked->name : NULL,
                                    to))
    {
      log_swap (G_LOG_LEVEL_WARNING, swap, "interrupted at step %s; claude_link already points "
                "to %s: finishing it", cf_swap_state_to_string (step), to);
      cf_state_set_active_account (self->state, to);
      cf_state_set_swap_journal (self->state, CF_SWAP_RESUMING, from, to);
      g_idle_add (resume_interrupted, swap);
      return;
    }
  log_swap (G_LOG_LEVEL_WARNING, swap, "interrupted at step %s: rolling back",
            cf_swap_state_to_string (step));
  swap_rollback_full (swap, _("the daemon stopped during the switch"), TRUE);
}

gboolean
cf_switcher_start (CfSwitcher *self, GError **error)
{
  g_autoptr(GPtrArray) problems = NULL;
  g_autoptr(GError) local_error = NULL;
  const CfAccountConfig *active;
  const CfAccountConfig *linked;

  if (self->cancellable != NULL)
    return TRUE;
  problems = cf_symlinks_validate_all (self->config, FALSE);
  if (problems->len > 0)
    {
      g_autofree char *text = join_problems (problems);
      g_set_error (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_LAYOUT,
                   _("the account layout needs fixing before the daemon can run: %s"), text);
      return FALSE;
    }
  self->cancellable = g_cancellable_new ();

  active = cf_config_find_account (self->config, cf_state_get_active_account (self->state));
  if (active == NULL)
    active = primary_account (self);
  if (!cf_swap_state_in_progress (cf_state_get_swap_state (self->state)) && has_claude_link (self) &&
      !cf_state_get_partial_swap (self->state))
    {
      linked = cf_symlinks_link_account (self->config, self->config->claude_link);
      if (linked != NULL && linked != active)
        {
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "CF_ACCOUNT", linked->name,
                            "MESSAGE", "%s points to %s (account %s), not to the recorded active "
                            "account %s: following the link", self->config->claude_link,
                            linked->home, linked->name, active->name);
          active = linked;
        }
      cf_state_set_active_account (self->state, active->name);
      if (linked == NULL && !cf_symlinks_flip (self->config->claude_link, active->home, &local_error))
        {
          g_set_error (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_LAYOUT, "%s",
                       local_error->message);
          g_clear_object (&self->cancellable);
          return FALSE;
        }
    }
  if (!cf_symlinks_ensure (active->home, self->config->shared_root,
                           (const char *const *) self->config->shared_entries, &local_error))
    {
      g_set_error (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_LAYOUT, "%s", local_error->message);
      g_clear_object (&self->cancellable);
      return FALSE;
    }
  recover_journal (self);
  if (self->swap == NULL && !cf_swap_state_in_progress (cf_state_get_swap_state (self->state)))
    set_rest_state (self);
  arm_timers (self);
  return TRUE;
}

void
cf_switcher_stop (CfSwitcher *self)
{
  if (self->cancellable == NULL)
    return;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->return_timer, g_source_remove);
  g_clear_handle_id (&self->reset_timer, g_source_remove);
  g_clear_handle_id (&self->expiry_timer, g_source_remove);
}

void
cf_switcher_set_config (CfSwitcher *self, CfConfig *config)
{
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
}

static void
cf_switcher_finalize (GObject *object)
{
  CfSwitcher *self = CF_SWITCHER (object);

  cf_switcher_stop (self);
  g_clear_pointer (&self->config, cf_config_unref);
  g_clear_object (&self->state);
  g_clear_object (&self->tmux);
  g_clear_object (&self->watcher);
  g_clear_object (&self->dispatcher);
  g_clear_object (&self->quota);
  G_OBJECT_CLASS (cf_switcher_parent_class)->finalize (object);
}

static void
cf_switcher_class_init (CfSwitcherClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cf_switcher_finalize;

  signals[SIGNAL_SWAP_STARTED] =
    g_signal_new ("swap-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_SWAP_FINISHED] =
    g_signal_new ("swap-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_BOOLEAN, G_TYPE_STRING);
  signals[SIGNAL_ALL_EXHAUSTED] =
    g_signal_new ("all-exhausted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
}

static void
cf_switcher_init (CfSwitcher *self)
{
}

CfSwitcher *
cf_switcher_new (CfConfig *config, CfState *state, CfTmux *tmux, CfWatcher *watcher,
                 CfDispatcher *dispatcher, CfQuota *quota)
{
  CfSwitcher *self = g_object_new (CF_TYPE_SWITCHER, NULL);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->tmux = g_object_ref (tmux);
  self->watcher = g_object_ref (watcher);
  self->dispatcher = g_object_ref (dispatcher);
  self->quota = g_object_ref (quota);
  return self;
}
