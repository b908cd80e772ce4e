/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "cf-usage.h"

G_BEGIN_DECLS

/* The proactive switching decision (ARCHITECTURE.md 4.9, quota.switch_at):
 * a pure function of the accounts' usage, the configuration, the last
 * switch and now. The daemon gathers the evidence and acts on the verdict.
 *
 * An account is "over" when either window known at NOW has reached its
 * switch_at, "unusable" when it has a problem or a reactive exhaustion not
 * yet over, and "out" when either. Unknown windows count as usable and, for
 * ranking, as 0 % used. */

typedef struct {
  const char *name;
  const CfUsage *usage;        /* NULL = nothing known */
  gint64 exhausted_until;      /* µs since the epoch; <= now = not exhausted */
  const char *problem;         /* NULL or "" = none */
  gint switch_at;              /* %, the account's own or quota.switch_at; 0 = off */
} CfUsagePolicyAccount;

typedef struct {
  const CfUsagePolicyAccount *accounts;   /* configured order: [0] is the primary */
  guint n_accounts;
  const char *active;
  gint switch_back_below;      /* % */
  gint64 last_switch;          /* µs since the epoch of the last switch, 0 = none */
  const char *last_switch_reason;         /* SwapStarted reason of that switch, or NULL */
  gint64 cooldown;             /* quota.reactivate_cooldown, µs */
  gint64 return_margin;        /* quota.return_margin, µs */
} CfUsagePolicyInput;

typedef enum {
  CF_USAGE_ACTION_STAY,        /* nothing to do (until UNTIL when set) */
  CF_USAGE_ACTION_SWITCH,      /* switch to TARGET now, reason "usage" */
  CF_USAGE_ACTION_RETURN,      /* switch back to the primary TARGET now, reason "return" */
  CF_USAGE_ACTION_WAIT,        /* every account is out: no dispatch until UNTIL */
} CfUsageAction;

typedef struct {
  CfUsageAction action;
  const char *target;          /* SWITCH, RETURN: an account name of the input */
  /* WAIT: the earliest time an account is back, plus return_margin (0 =
   * unknown: wait for a new reading). STAY: when the decision may change
   * without a new reading (a cooldown's end, a window's reset), 0 = none. */
  gint64 until;
  const char *why;             /* a short untranslated word for logs and tests */
} CfUsageVerdict;

gboolean cf_usage_policy_is_over (const CfUsagePolicyAccount *account, gint64 now);
gboolean cf_usage_policy_is_unusable (const CfUsagePolicyAccount *account, gint64 now);
/* When an out ACCOUNT stops being out: the latest of its exhaustion's end
 * and the resets of its windows over switch_at; 0 when one of those is
 * unknown or it has a problem (only an operator clears that). */
gint64 cf_usage_policy_back_at (const CfUsagePolicyAccount *account, gint64 now);

CfUsageVerdict cf_usage_policy_decide (const CfUsagePolicyInput *input, gint64 now);

const char *cf_usage_action_to_string (CfUsageAction action);

G_END_DECLS
