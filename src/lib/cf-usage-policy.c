/* SPDX-License-Identifier: MIT */
#include "cf-usage-policy.h"

const char *
cf_usage_action_to_string (CfUsageAction action)
{
  switch (action)
    {
    case CF_USAGE_ACTION_SWITCH: return "switch";
    case CF_USAGE_ACTION_RETURN: return "return";
    case CF_USAGE_ACTION_WAIT: return "wait";
    case CF_USAGE_ACTION_STAY:
    default: return "stay";
    }
}

gboolean
cf_usage_policy_is_over (const CfUsagePolicyAccount *account, gint64 now)
{
  if (account->switch_at <= 0 || account->usage == NULL)
    return FALSE;
  return cf_usage_peak (account->usage, now) >= account->switch_at;
}

gboolean
cf_usage_policy_is_unusable (const CfUsagePolicyAccount *account, gint64 now)
{
  return (account->problem != NULL && account->problem[0] != '\0') ||
         account->exhausted_until > now;
}

static gboolean
is_out (const CfUsagePolicyAccount *account, gint64 now)
{
  return cf_usage_policy_is_unusable (account, now) || cf_usage_policy_is_over (account, now);
}

gint64
cf_usage_policy_back_at (const CfUsagePolicyAccount *account, gint64 now)
{
  gint64 back = now;

  if (account->problem != NULL && account->problem[0] != '\0')
    return 0;
  if (account->exhausted_until > now)
    back = account->exhausted_until;
  if (account->switch_at > 0 && account->usage != NULL)
    for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
      {
        CfUsageWindow window = cf_usage_window_at (&account->usage->windows[i], now);

        if (!cf_usage_window_is_known (&window) || window.used < account->switch_at)
          continue;
        if (window.resets_at == 0)
          return 0;
        back = MAX (back, window.resets_at);
      }
  return back;
}

/* Unknown counts as 0 %: usable, and as roomy as an idle account. */
static double
rank (const CfUsagePolicyAccount *account, gint64 now)
{
  double peak = account->usage != NULL ? cf_usage_peak (account->usage, now) : -1;

  return MAX (peak, 0);
}

static const CfUsagePolicyAccount *
find (const CfUsagePolicyInput *input, const char *name)
{
  for (guint i = 0; i < input->n_accounts; i++)
    if (g_strcmp0 (input->accounts[i].name, name) == 0)
      return &input->accounts[i];
  return NULL;
}

static gint64
cooldown_end (const CfUsagePolicyInput *input)
{
  if (input->last_switch <= 0 || input->cooldown <= 0)
    return 0;
  return input->last_switch + input->cooldown;
}

static CfUsageVerdict
verdict (CfUsageAction action, const char *target, gint64 until, const char *why)
{
  return (CfUsageVerdict) { .action = action, .target = target, .until = until, .why = why };
}

/* The next time a window of an account resets after NOW, or 0. */
static gint64
next_reset (const CfUsagePolicyInput *input, gint64 now)
{
  gint64 next = 0;

  for (guint i = 0; i < input->n_accounts; i++)
    {
      gint64 change = input->accounts[i].usage != NULL
                        ? cf_usage_next_change (input->accounts[i].usage, now) : 0;

      if (change > 0 && (next == 0 || change < next))
        next = change;
      if (input->accounts[i].exhausted_until > now &&
          (next == 0 || input->accounts[i].exhausted_until < next))
        next = input->accounts[i].exhausted_until;
    }
  return next;
}

/* The active account is fine: go back to the primary if we left it for
 * usage, it is back and comfortably below switch_back_below. */
static CfUsageVerdict
decide_return (const CfUsagePolicyInput *input, const CfUsagePolicyAccount *active, gint64 now)
{
  const CfUsagePolicyAccount *primary = &input->accounts[0];
  gint64 cooldown = cooldown_end (input);
  double peak;

  if (active == primary || g_strcmp0 (input->last_switch_reason, "usage") != 0)
    return verdict (CF_USAGE_ACTION_STAY, NULL, 0, "fine");
  if (is_out (primary, now))
    return verdict (CF_USAGE_ACTION_STAY, NULL, next_reset (input, now), "primary-out");
  peak = primary->usage != NULL ? cf_usage_peak (primary->usage, now) : -1;
  if (peak >= input->switch_back_below)
    return verdict (CF_USAGE_ACTION_STAY, NULL, next_reset (input, now), "primary-not-below");
  if (cooldown > now)
    return verdict (CF_USAGE_ACTION_STAY, NULL, cooldown, "cooldown");
  return verdict (CF_USAGE_ACTION_RETURN, primary->name, 0, "primary-back");
}

CfUsageVerdict
cf_usage_policy_decide (const CfUsagePolicyInput *input, gint64 now)
{
  const CfUsagePolicyAccount *active;
  const CfUsagePolicyAccount *best = NULL;
  gint64 earliest = 0;
  gint64 cooldown;

  g_return_val_if_fail (input != NULL, verdict (CF_USAGE_ACTION_STAY, NULL, 0, "no-input"));
  if (input->n_accounts == 0)
    return verdict (CF_USAGE_ACTION_STAY, NULL, 0, "no-accounts");
  active = find (input, input->active);
  if (active == NULL)
    return verdict (CF_USAGE_ACTION_STAY, NULL, 0, "no-active-account");
  if (!is_out (active, now))
    return decide_return (input, active, now);

  for (guint i = 0; i < input->n_accounts; i++)
    {
      const CfUsagePolicyAccount *candidate = &input->accounts[i];

      if (candidate == active || is_out (candidate, now))
        continue;
      /* Strictly lower only: ties go to the earlier configured account. */
      if (best == NULL || rank (candidate, now) < rank (best, now))
        best = candidate;
    }
  if (best != NULL)
    {
      cooldown = cooldown_end (input);
      if (cooldown > now)
        return verdict (CF_USAGE_ACTION_STAY, NULL, cooldown, "cooldown");
      return verdict (CF_USAGE_ACTION_SWITCH, best->name, 0, "over-threshold");
    }

  for (guint i = 0; i < input->n_accounts; i++)
    {
      gint64 back = cf_usage_policy_back_at (&input->accounts[i], now);

      if (back > 0 && (earliest == 0 || back < earliest))
        earliest = back;
    }
  return verdict (CF_USAGE_ACTION_WAIT, NULL,
                  earliest > 0 ? earliest + MAX (input->return_margin, 0) : 0, "all-out");
}
