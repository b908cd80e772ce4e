/* SPDX-License-Identifier: MIT */
/* When to switch accounts: the entry points (a limit, an unusable account,
 * an operator, a usage switch), the timers (return to the primary, end of
 * a total exhaustion, an exhaustion's expiry) and start-up. The decisions
 * are cf-failover-policy's; a switch's steps are cf-switcher-steps.c's. */
#include "cf-switcher-private.h"

#include <glib/gi18n.h>

#include "cf-failover-policy.h"
#include "cf-switcher-links.h"
#include "cf-symlinks.h"

#define RETRY_SECONDS 5

guint cf_switcher_signals[CF_SWITCHER_N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfSwitcher, cf_switcher, G_TYPE_OBJECT)
G_DEFINE_QUARK (cf-switcher-error-quark, cf_switcher_error)

static void evict_drained (CfSwitcher *self, const char *account);

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
        .exhausted_until = cf_switcher_account_exhausted_until (self, name),
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

/* ---- timers: return to the primary, end of total exhaustion -------------- */

static gboolean on_return_timer (gpointer user_data);

/* The return timer's decision, once the layout is checked (in a thread). */
static void
on_return_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CfSwitcher) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *layout = cf_switcher_links_check_finish (result, &error);
  const CfAccountConfig *primary = cf_switcher_primary_account (self);
  gint64 now = g_get_real_time ();
  gint64 until = cf_switcher_account_exhausted_until (self, primary->name);
  CfReturnInput input = {
    .busy = self->swap != NULL || cf_state_get_swap_journal (self->state)->partial,
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
      cf_state_set_swap_journal (self->state, CF_SWAP_SET_RETURN_AT,
                                 &(CfSwapJournal) { .return_at = 0 });
      cf_switcher_set_rest_state (self);
      return;
    case CF_RETURN_WAIT:
      /* Newer evidence pushed the primary's reset. */
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "CF_ACCOUNT", primary->name,
                        "MESSAGE", "Not returning to %s yet: it is exhausted for %" G_GINT64_FORMAT
                        " s more", primary->name, (until - now) / G_USEC_PER_SEC);
      cf_state_set_swap_journal (self->state, CF_SWAP_SET_RETURN_AT,
                                 &(CfSwapJournal) { .return_at = verdict.at });
      cf_switcher_arm_timers (self);
      return;
    case CF_RETURN_UNUSABLE:
      /* EnableAccount re-arms nothing: the operator switches back by hand. */
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "CF_ACCOUNT", primary->name,
                        "MESSAGE", "Not returning to %s: it is unusable (%s) until "
                        "EnableAccount", primary->name, input.primary_problem);
      cf_state_set_swap_journal (self->state, CF_SWAP_SET_RETURN_AT,
                                 &(CfSwapJournal) { .return_at = 0 });
      return;
    case CF_RETURN_LAYOUT:
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "CF_ACCOUNT", primary->name,
                        "MESSAGE", "Not returning to %s: %s", primary->name, layout);
      cf_state_set_swap_journal (self->state, CF_SWAP_SET_RETURN_AT,
                                 &(CfSwapJournal) { .return_at = verdict.at });
      cf_switcher_arm_timers (self);
      return;
    case CF_RETURN_SWITCH:
    default:
      cf_state_set_swap_journal (self->state, CF_SWAP_SET_RETURN_AT,
                                 &(CfSwapJournal) { .return_at = 0 });
      cf_switcher_swap_begin (self, cf_state_get_active_account (self->state), primary->name, "return");
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
  cf_state_set_dispatch_pause (self->state,
                               cf_state_get_dispatch_pause (self->state).operator_paused, 0);
  accounts = failover_accounts (self);
  target = cf_failover_after_reset ((const CfFailoverAccount *) accounts->data, accounts->len,
                                    active, cf_state_get_swap_journal (self->state)->partial,
                                    g_get_real_time ());
  if (target >= 0)
    /* The active account is still out and another one has reset: a switch
     * for the quota (SwapStarted's reasons are fixed, ARCHITECTURE.md 4.9). */
    cf_switcher_swap_begin (self, active,
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
  cf_switcher_arm_timers (self);
  return G_SOURCE_REMOVE;
}

static guint
timeout_for (gint64 when)
{
  gint64 delay_ms = (when - g_get_real_time ()) / 1000;

  return (guint) CLAMP (delay_ms, 0, G_MAXINT32);
}

void
cf_switcher_arm_timers (CfSwitcher *self)
{
  gint64 return_at = cf_state_get_swap_journal (self->state)->return_at;
  gint64 reset_at = cf_state_get_dispatch_pause (self->state).all_exhausted_until;

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
  if (cf_state_get_swap_journal (self->state)->partial)
    {
      g_set_error_literal (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_PARTIAL_SWAP,
                           _("a previous switch could not be rolled back: fix claude_link and "
                             "call ClearPartialSwap first"));
      return FALSE;
    }
  if (self->swap != NULL || cf_swap_state_in_progress (cf_state_get_swap_journal (self->state)->step))
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
  cf_switcher_swap_begin (self, active, target->name, "manual");
  return TRUE;
}

static void
on_clear_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  CfSwitcher *self = g_task_get_source_object (task);
  g_autofree char *linked = NULL;
  GError *error = NULL;

  linked = cf_switcher_links_clear_check_finish (result, &error);
  if (linked == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* The layout was looked at in a thread: the swap may have been cleared
   * (or a switch begun) meanwhile. */
  if (!cf_state_get_swap_journal (self->state)->partial)
    {
      g_task_return_new_error (task, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_INVALID,
                               _("there is no partial swap to clear"));
      return;
    }
  if (linked[0] != '\0' && cf_config_find_account (self->config, linked) != NULL)
    cf_state_set_active_account (self->state, linked);
  cf_state_set_swap_journal (self->state, CF_SWAP_SET_PARTIAL,
                             &(CfSwapJournal) { .partial = FALSE });
  cf_switcher_set_rest_state (self);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "CF_ACCOUNT", cf_state_get_active_account (self->state),
                    "MESSAGE", "Partial swap cleared by the operator; active account %s",
                    cf_state_get_active_account (self->state));
  g_task_return_boolean (task, TRUE);
}

void
cf_switcher_clear_partial_async (CfSwitcher *self, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (CF_IS_SWITCHER (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, cf_switcher_clear_partial_async);
  if (!cf_state_get_swap_journal (self->state)->partial)
    {
      g_task_return_new_error (task, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_INVALID,
                               _("there is no partial swap to clear"));
      return;
    }
  /* readlink and lstat of the layout: in a thread, never on the loop. */
  cf_switcher_links_clear_check_async (self->config, on_clear_checked, g_steal_pointer (&task));
}

gboolean
cf_switcher_clear_partial_finish (CfSwitcher *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
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
  cf_switcher_arm_timers (self);
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
  input.last_swap = cf_state_get_swap_journal (self->state)->last_when;
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
      cf_switcher_swap_begin (self, account,
                  ((CfAccountConfig *) g_ptr_array_index (self->config->accounts,
                                                          verdict.target))->name,
                  "quota");
      return;
    case CF_EXHAUSTED_ALL_OUT:
    default:
      /* Every account is out: keep the sessions, stop feeding them. */
      cf_state_set_dispatch_pause (self->state,
                                   cf_state_get_dispatch_pause (self->state).operator_paused,
                                   verdict.until);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "CF_ACCOUNT", account,
                        "MESSAGE", "Every account is exhausted: dispatch paused for %" G_GINT64_FORMAT
                        " s, until the earliest reset", (verdict.until - now) / G_USEC_PER_SEC);
      g_signal_emit (self, cf_switcher_signals[CF_SWITCHER_SIGNAL_ALL_EXHAUSTED], 0, verdict.until);
      cf_switcher_arm_timers (self);
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
  cf_switcher_swap_begin (self, account, target->name, "auth");
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
  cf_switcher_swap_begin (self, active, target->name, reason);
  self->swap->draining = TRUE;
  return TRUE;
}

void
cf_switcher_pause_until (CfSwitcher *self, gint64 until)
{
  if (until <= 0 || cf_state_get_dispatch_pause (self->state).all_exhausted_until == until)
    return;
  cf_state_set_dispatch_pause (self->state,
                               cf_state_get_dispatch_pause (self->state).operator_paused, until);
  g_signal_emit (self, cf_switcher_signals[CF_SWITCHER_SIGNAL_ALL_EXHAUSTED], 0, until);
  cf_switcher_arm_timers (self);
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
    active = cf_switcher_primary_account (self);
  if (!cf_swap_state_in_progress (cf_state_get_swap_journal (self->state)->step) && cf_switcher_has_claude_link (self) &&
      !cf_state_get_swap_journal (self->state)->partial)
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
  cf_switcher_recover_journal (self);
  if (self->swap == NULL && !cf_swap_state_in_progress (cf_state_get_swap_journal (self->state)->step))
    cf_switcher_set_rest_state (self);
  cf_switcher_arm_timers (self);
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
  g_clear_object (&self->store);
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

  cf_switcher_signals[CF_SWITCHER_SIGNAL_SWAP_STARTED] =
    g_signal_new ("swap-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  cf_switcher_signals[CF_SWITCHER_SIGNAL_SWAP_FINISHED] =
    g_signal_new ("swap-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_BOOLEAN, G_TYPE_STRING);
  cf_switcher_signals[CF_SWITCHER_SIGNAL_ALL_EXHAUSTED] =
    g_signal_new ("all-exhausted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
}

static void
cf_switcher_init (CfSwitcher *self)
{
}

CfSwitcher *
cf_switcher_new (CfConfig *config, CfState *state, CfStateStore *store, CfTmux *tmux,
                 CfWatcher *watcher, CfDispatcher *dispatcher, CfQuota *quota)
{
  CfSwitcher *self = g_object_new (CF_TYPE_SWITCHER, NULL);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->store = g_object_ref (store);
  self->tmux = g_object_ref (tmux);
  self->watcher = g_object_ref (watcher);
  self->dispatcher = g_object_ref (dispatcher);
  self->quota = g_object_ref (quota);
  return self;
}
