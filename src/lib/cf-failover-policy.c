/* SPDX-License-Identifier: MIT */
#include "cf-failover-policy.h"

static gboolean
has_problem (const CfFailoverAccount *account)
{
  return account->problem != NULL && account->problem[0] != '\0';
}

static gint
find (const CfFailoverAccount *accounts, guint n_accounts, const char *name)
{
  for (guint i = 0; i < n_accounts; i++)
    if (g_strcmp0 (accounts[i].name, name) == 0)
      return (gint) i;
  return -1;
}

gboolean
cf_failover_in_cooldown (gint64 since, gint64 cooldown, gint64 now)
{
  return since > 0 && now - since < cooldown;
}

/* ---- one session's limit evidence ---------------------------------------- */

gboolean
cf_failover_limit_is_stale (gboolean limit, gint64 reset, gint64 now)
{
  return limit && reset > 0 && reset <= now;
}

gint64
cf_failover_reset_to_keep (gint64 reset, gint64 now)
{
  return reset > now ? reset : 0;
}

gboolean
cf_failover_limit_is_history (const CfLimitHistory *history, gboolean launching,
                              const char *line, gint64 reset)
{
  if (history == NULL)
    return FALSE;
  if (launching)
    return TRUE;
  for (guint i = 0; line != NULL && i < history->n_lines; i++)
    if (g_strcmp0 (history->lines[i], line) == 0)
      return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (history->resets); i++)
    if (reset > 0 && history->resets[i] == reset)
      return TRUE;
  return FALSE;
}

CfLimitStep
cf_failover_observe_limit (const CfLimitEvidence *evidence, gboolean limit, gboolean busy,
                           gint64 reset, gint64 now)
{
  if (!limit || cf_failover_limit_is_stale (limit, reset, now))
    {
      if (!evidence->exists || (evidence->from_hook && !busy))
        return CF_LIMIT_STEP_NONE;
      return CF_LIMIT_STEP_CLEAR;
    }
  if (reset > 0)
    return CF_LIMIT_STEP_BLOCK;
  if (evidence->exists && evidence->blocked)
    return CF_LIMIT_STEP_KEEP;
  return (evidence->exists ? evidence->unconfirmed : 0) + 1 >= 2 ? CF_LIMIT_STEP_CONFIRM
                                                                   : CF_LIMIT_STEP_SUSPECT;
}

const char *
cf_limit_step_to_string (CfLimitStep step)
{
  switch (step)
    {
    case CF_LIMIT_STEP_CLEAR: return "clear";
    case CF_LIMIT_STEP_KEEP: return "keep";
    case CF_LIMIT_STEP_BLOCK: return "block";
    case CF_LIMIT_STEP_SUSPECT: return "suspect";
    case CF_LIMIT_STEP_CONFIRM: return "confirm";
    case CF_LIMIT_STEP_NONE:
    default: return "none";
    }
}

/* ---- the account's exhaustion -------------------------------------------- */

CfQuotaVerdict
cf_quota_policy_decide (const CfQuotaInput *input, gint64 now)
{
  CfQuotaVerdict verdict = { .action = CF_QUOTA_ACTION_HOLD,
                             .cooldown_told = input->cooldown_told };
  gboolean exhausted = FALSE;

  for (guint i = 0; i < input->n_sessions; i++)
    {
      const CfQuotaSession *session = &input->sessions[i];
      guint kind = session->dedicated ? 1 : 0;

      verdict.running[kind]++;
      if (session->blocked)
        {
          verdict.blocked[kind]++;
          /* Several phrasings (5-hour, weekly): out until the latest. */
          verdict.reset = MAX (verdict.reset, session->reset);
        }
    }
  verdict.need[0] = MIN (input->pool_threshold, verdict.running[0]);
  verdict.need[1] = MIN (input->dedicated_threshold, verdict.running[1]);
  for (guint kind = 0; kind < 2; kind++)
    exhausted |= verdict.need[kind] > 0 && verdict.blocked[kind] >= verdict.need[kind];
  if (!exhausted)
    {
      verdict.reset = 0;
      return verdict;
    }
  if (cf_failover_in_cooldown (input->last_swap, input->cooldown, now))
    {
      if (input->cooldown_told == input->last_swap)
        {
          verdict.action = CF_QUOTA_ACTION_TOLD;
          verdict.reset = 0;
          return verdict;
        }
      verdict.cooldown_told = input->last_swap;
    }
  verdict.action = CF_QUOTA_ACTION_EXHAUSTED;
  return verdict;
}

const char *
cf_quota_action_to_string (CfQuotaAction action)
{
  switch (action)
    {
    case CF_QUOTA_ACTION_TOLD: return "told";
    case CF_QUOTA_ACTION_EXHAUSTED: return "exhausted";
    case CF_QUOTA_ACTION_HOLD:
    default: return "hold";
    }
}

/* ---- the switcher's choices ---------------------------------------------- */

gint
cf_failover_next_available (const CfFailoverAccount *accounts, guint n_accounts,
                            const char *exclude, gint64 now)
{
  guint start = 0;

  for (guint i = 0; i < n_accounts; i++)
    if (g_strcmp0 (accounts[i].name, exclude) == 0)
      start = i + 1;
  for (guint n = 0; n < n_accounts; n++)
    {
      guint i = (start + n) % n_accounts;

      if (g_strcmp0 (accounts[i].name, exclude) != 0 && accounts[i].exhausted_until <= now &&
          !has_problem (&accounts[i]))
        return (gint) i;
    }
  return -1;
}

gint64
cf_failover_exhausted_until (gint64 reset, gint64 unknown_reset, gint64 now)
{
  return reset > now ? reset : now + unknown_reset;
}

CfExhaustedVerdict
cf_failover_decide_exhausted (const CfExhaustedInput *input, gint64 now)
{
  CfExhaustedVerdict verdict = { .target = -1 };
  gint64 earliest = G_MAXINT64;

  verdict.target = cf_failover_next_available (input->accounts, input->n_accounts,
                                               input->exhausted, now);
  if (verdict.target >= 0 && cf_failover_in_cooldown (input->last_swap, input->cooldown, now))
    {
      verdict.action = CF_EXHAUSTED_COOLDOWN;
      verdict.since = now - input->last_swap;
      return verdict;
    }
  if (verdict.target >= 0 && cf_failover_in_cooldown (input->last_failure, input->cooldown, now))
    {
      verdict.action = CF_EXHAUSTED_RETRY_COOLDOWN;
      verdict.since = now - input->last_failure;
      return verdict;
    }
  if (verdict.target >= 0)
    {
      verdict.action = CF_EXHAUSTED_SWITCH;
      return verdict;
    }
  /* Every account is out: keep the sessions, stop feeding them until the
   * first one is back. */
  for (guint i = 0; i < input->n_accounts; i++)
    if (input->accounts[i].exhausted_until > now)
      earliest = MIN (earliest, input->accounts[i].exhausted_until);
  verdict.action = CF_EXHAUSTED_ALL_OUT;
  verdict.until = earliest == G_MAXINT64 ? input->until : earliest;
  return verdict;
}

const char *
cf_exhausted_action_to_string (CfExhaustedAction action)
{
  switch (action)
    {
    case CF_EXHAUSTED_COOLDOWN: return "cooldown";
    case CF_EXHAUSTED_RETRY_COOLDOWN: return "retry-cooldown";
    case CF_EXHAUSTED_ALL_OUT: return "all-out";
    case CF_EXHAUSTED_SWITCH:
    default: return "switch";
    }
}

gint64
cf_failover_return_at (gboolean to_primary, gint64 primary_exhausted_until,
                       gint64 return_margin, gint64 now)
{
  if (to_primary || primary_exhausted_until <= now)
    return 0;
  return primary_exhausted_until + return_margin;
}

CfReturnVerdict
cf_failover_decide_return (const CfReturnInput *input, gint64 now)
{
  CfReturnVerdict verdict = { 0 };

  if (input->busy)
    verdict.action = CF_RETURN_RETRY;
  else if (input->on_primary)
    verdict.action = CF_RETURN_ARRIVED;
  else if (input->primary_exhausted_until > now)
    {
      verdict.action = CF_RETURN_WAIT;
      verdict.at = input->primary_exhausted_until + input->return_margin;
    }
  else if (input->primary_problem != NULL && input->primary_problem[0] != '\0')
    verdict.action = CF_RETURN_UNUSABLE;
  else if (input->layout_broken)
    {
      verdict.action = CF_RETURN_LAYOUT;
      verdict.at = now + input->cooldown;
    }
  else
    verdict.action = CF_RETURN_SWITCH;
  return verdict;
}

const char *
cf_return_action_to_string (CfReturnAction action)
{
  switch (action)
    {
    case CF_RETURN_RETRY: return "retry";
    case CF_RETURN_ARRIVED: return "arrived";
    case CF_RETURN_WAIT: return "wait";
    case CF_RETURN_UNUSABLE: return "unusable";
    case CF_RETURN_LAYOUT: return "layout";
    case CF_RETURN_SWITCH:
    default: return "switch";
    }
}

gint
cf_failover_after_reset (const CfFailoverAccount *accounts, guint n_accounts,
                         const char *active, gboolean partial, gint64 now)
{
  gint current = find (accounts, n_accounts, active);

  if (current < 0 || accounts[current].exhausted_until <= now || partial)
    return -1;
  return cf_failover_next_available (accounts, n_accounts, active, now);
}

gboolean
cf_failover_recover_finishes (gboolean saved, const char *linked, const char *to)
{
  return saved && linked != NULL && g_strcmp0 (linked, to) == 0;
}
