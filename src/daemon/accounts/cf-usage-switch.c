/* SPDX-License-Identifier: MIT */
#include "cf-usage-switch.h"

#include "cf-usage-policy.h"

struct _CfUsageSwitch {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfSwitcher *switcher;
  CfHookRouter *hooks;
  guint idle_id;
  guint timer_id;
  gboolean paused;             /* dispatch paused by this component */
  gboolean pause_at_reset;     /* ... until a known reset + return_margin */
  gboolean stopped;
};

G_DEFINE_FINAL_TYPE (CfUsageSwitch, cf_usage_switch, G_TYPE_OBJECT)

static gboolean evaluate (gpointer user_data);

static void
queue_evaluation (CfUsageSwitch *self)
{
  if (self->idle_id == 0 && !self->stopped)
    self->idle_id = g_idle_add (evaluate, self);
}

static gboolean
on_timer (gpointer user_data)
{
  CfUsageSwitch *self = user_data;

  self->timer_id = 0;
  return evaluate (self);
}

/* Asks again at WHEN (µs epoch): a cooldown's end or a window's reset
 * changes the answer without any new reading. */
static void
arm_timer (CfUsageSwitch *self, gint64 when, gint64 now)
{
  g_clear_handle_id (&self->timer_id, g_source_remove);
  if (when <= now || self->stopped)
    return;
  self->timer_id = g_timeout_add ((guint) MIN ((when - now) / 1000 + 1, G_MAXINT32), on_timer,
                                  self);
}

static void
resume_if_paused (CfUsageSwitch *self)
{
  if (!self->paused)
    return;
  self->paused = FALSE;
  if (cf_state_get_dispatch_pause (self->state).all_exhausted_until != 0)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "MESSAGE", "An account has room again: dispatch resumes");
      cf_state_set_dispatch_pause (self->state,
                                   cf_state_get_dispatch_pause (self->state).operator_paused, 0);
    }
}

static void
act (CfUsageSwitch *self, const CfUsagePolicyAccount *active, const CfUsageVerdict *verdict,
     gint64 now)
{
  g_autoptr(GError) error = NULL;
  gint64 paused_until = cf_state_get_dispatch_pause (self->state).all_exhausted_until;

  /* Our pause lasts until the earliest reset + return_margin, even though
   * the account is back at its reset: the margin is for the clocks. A
   * pause whose end was a guess ends with the first reading with room. */
  if (self->paused && self->pause_at_reset && paused_until > now &&
      verdict->action != CF_USAGE_ACTION_WAIT)
    return;

  switch (verdict->action)
    {
    case CF_USAGE_ACTION_SWITCH:
      /* A limit actually hit is the reactive switch's to handle. */
      if (!cf_usage_policy_is_over (active, now) || cf_usage_policy_is_unusable (active, now))
        return;
      resume_if_paused (self);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "CF_ACCOUNT", active->name,
                        "MESSAGE", "Account %s reached %d%% of a usage window: switching to %s "
                        "before its limit", active->name, active->switch_at, verdict->target);
      if (!cf_switcher_switch_draining (self->switcher, verdict->target, "usage", &error))
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "CF_ACCOUNT", active->name,
                          "MESSAGE", "Cannot switch from %s for usage: %s", active->name,
                          error->message);
      return;
    case CF_USAGE_ACTION_RETURN:
      resume_if_paused (self);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "CF_ACCOUNT", verdict->target,
                        "MESSAGE", "The primary account %s has room again: switching back",
                        verdict->target);
      if (!cf_switcher_switch_draining (self->switcher, verdict->target, "return", &error))
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "CF_ACCOUNT", verdict->target,
                          "MESSAGE", "Cannot switch back to %s: %s", verdict->target,
                          error->message);
      return;
    case CF_USAGE_ACTION_WAIT:
      {
        gint64 until = verdict->until > 0 ? verdict->until
                                          : now + CF_SWITCHER_UNKNOWN_RESET_USEC;

        /* Left alone: a pause of its own by the reactive switch, or ours
         * with an unknown end that nothing new has fixed. */
        if (paused_until > now && (!self->paused || verdict->until == 0 || paused_until == until))
          return;
        self->paused = TRUE;
        self->pause_at_reset = verdict->until > 0;
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                          "CF_ACCOUNT", active->name,
                          "MESSAGE", "Every account is at its usage threshold: dispatch paused "
                          "for %" G_GINT64_FORMAT " s, until the earliest reset + return_margin",
                          (until - now) / G_USEC_PER_SEC);
        cf_switcher_pause_until (self->switcher, until);
        return;
      }
    case CF_USAGE_ACTION_STAY:
    default:
      resume_if_paused (self);
      return;
    }
}

static gboolean
evaluate (gpointer user_data)
{
  CfUsageSwitch *self = user_data;
  g_autoptr(GPtrArray) states = NULL;
  g_autoptr(GArray) accounts = NULL;
  CfUsagePolicyInput input = { 0 };
  CfUsageVerdict verdict;
  const CfUsagePolicyAccount *active = NULL;
  gint64 now = g_get_real_time ();
  gint64 next = 0;

  self->idle_id = 0;
  if (self->stopped || cf_state_get_swap_journal (self->state)->partial ||
      cf_swap_state_in_progress (cf_state_get_swap_journal (self->state)->step))
    return G_SOURCE_REMOVE;

  states = cf_state_list_accounts (self->state);
  accounts = g_array_sized_new (FALSE, TRUE, sizeof (CfUsagePolicyAccount), states->len);
  /* The configured order: the first account is the primary. */
  for (guint i = 0; i < self->config->accounts->len; i++)
    {
      const CfAccountConfig *configured = g_ptr_array_index (self->config->accounts, i);
      CfAccountState *account = cf_state_lookup_account (self->state, configured->name);
      CfUsagePolicyAccount row = { 0 };

      if (account == NULL)
        continue;
      row.name = account->name;
      row.usage = &account->usage;
      row.exhausted_until = account->exhausted_until;
      row.problem = account->problem;
      row.switch_at = cf_config_account_switch_at (self->config, account->name);
      g_array_append_val (accounts, row);
      if (cf_usage_next_change (&account->usage, now) > 0)
        next = next == 0 ? cf_usage_next_change (&account->usage, now)
                         : MIN (next, cf_usage_next_change (&account->usage, now));
    }
  input.accounts = (const CfUsagePolicyAccount *) accounts->data;
  input.n_accounts = accounts->len;
  input.active = cf_state_get_active_account (self->state);
  input.switch_back_below = self->config->quota_switch_back_below;
  input.last_switch = cf_state_get_swap_journal (self->state)->last_when;
  /* Persisted with LastSwap; a switch running now is not over yet. */
  input.last_switch_reason = cf_state_get_swap_journal (self->state)->last_reason;
  input.cooldown = self->config->quota_reactivate_cooldown_usec;
  input.return_margin = self->config->quota_return_margin_usec;

  verdict = cf_usage_policy_decide (&input, now);
  for (guint i = 0; i < accounts->len; i++)
    if (g_strcmp0 (g_array_index (accounts, CfUsagePolicyAccount, i).name, input.active) == 0)
      active = &g_array_index (accounts, CfUsagePolicyAccount, i);
  if (active != NULL)
    act (self, active, &verdict, now);
  if (verdict.action == CF_USAGE_ACTION_STAY && verdict.until > now)
    next = next == 0 ? verdict.until : MIN (next, verdict.until);
  arm_timer (self, next, now);
  return G_SOURCE_REMOVE;
}

static void
on_state_changed (CfState *state, guint what, CfUsageSwitch *self)
{
  if (what & (CF_STATE_CHANGE_USAGE | CF_STATE_CHANGE_ACCOUNTS | CF_STATE_CHANGE_ACTIVE_ACCOUNT |
              CF_STATE_CHANGE_SWAP_STATE | CF_STATE_CHANGE_LAST_SWAP |
              CF_STATE_CHANGE_PARTIAL_SWAP | CF_STATE_CHANGE_DISPATCH_PAUSED))
    queue_evaluation (self);
}

static void
on_swap_started (CfSwitcher *switcher, const char *from, const char *to, const char *reason,
                 CfUsageSwitch *self)
{
  /* A switch of any kind ends the pause this component made. */
  self->paused = FALSE;
}

static void
on_hook (CfHookRouter *hooks, const char *session_name, CfHookPayload *payload, CfUsageSwitch *self)
{
  CfSession *session = cf_state_lookup_session (self->state, session_name);
  g_autofree char *evidence = NULL;

  if (self->stopped || session == NULL || session->kind != CF_SESSION_POOL ||
      !cf_hook_payload_is_rate_limit (payload) || session->account[0] == '\0' ||
      g_str_equal (session->account, cf_state_get_active_account (self->state)))
    return;
  evidence = g_strdup_printf ("StopFailure rate_limit hook of %s, finishing on %s",
                              session->name, session->account);
  cf_switcher_account_exhausted (self->switcher, session->account, 0, evidence);
}

void
cf_usage_switch_set_config (CfUsageSwitch *self, CfConfig *config)
{
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
  queue_evaluation (self);
}

void
cf_usage_switch_stop (CfUsageSwitch *self)
{
  self->stopped = TRUE;
  g_clear_handle_id (&self->idle_id, g_source_remove);
  g_clear_handle_id (&self->timer_id, g_source_remove);
}

static void
cf_usage_switch_dispose (GObject *object)
{
  CfUsageSwitch *self = CF_USAGE_SWITCH (object);

  cf_usage_switch_stop (self);
  g_clear_object (&self->hooks);
  g_clear_object (&self->state);
  g_clear_object (&self->switcher);
  g_clear_pointer (&self->config, cf_config_unref);
  G_OBJECT_CLASS (cf_usage_switch_parent_class)->dispose (object);
}

static void
cf_usage_switch_class_init (CfUsageSwitchClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_usage_switch_dispose;
}

static void
cf_usage_switch_init (CfUsageSwitch *self)
{
}

CfUsageSwitch *
cf_usage_switch_new (CfConfig *config, CfState *state, CfSwitcher *switcher, CfHookRouter *hooks)
{
  CfUsageSwitch *self = g_object_new (CF_TYPE_USAGE_SWITCH, NULL);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->switcher = g_object_ref (switcher);
  g_signal_connect_object (state, "changed", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (switcher, "swap-started", G_CALLBACK (on_swap_started), self, 0);
  if (hooks != NULL)
    {
      self->hooks = g_object_ref (hooks);
      g_signal_connect_object (hooks, "hook", G_CALLBACK (on_hook), self, 0);
    }
  queue_evaluation (self);
  return self;
}
