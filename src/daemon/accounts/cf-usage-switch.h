/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-config.h"
#include "cf-hook-router.h"
#include "cf-state.h"
#include "cf-switcher.h"

G_BEGIN_DECLS

/* Acts on the usage policy (cf-usage-policy): whenever an account's usage,
 * the accounts or the active account change, and when a window resets or
 * a cooldown ends, it asks the policy and
 *   - switches, draining, with SwapStarted reason "usage" when the active
 *     account reached its switch_at and another account has room;
 *   - switches back to the primary ("return") after a usage switch, once
 *     the primary is below quota.switch_back_below;
 *   - pauses dispatch until the earliest reset + quota.return_margin when
 *     every account is out, and lets it resume by itself.
 * A limit actually hit stays the reactive switch's (CfSwitcher); the quota
 * monitor watches only sessions of the active account, so a StopFailure
 * rate_limit hook from a pool session still finishing on an older account
 * is handed to the switcher here (that account out, its tasks moved). */

#define CF_TYPE_USAGE_SWITCH (cf_usage_switch_get_type ())
G_DECLARE_FINAL_TYPE (CfUsageSwitch, cf_usage_switch, CF, USAGE_SWITCH, GObject)

CfUsageSwitch *cf_usage_switch_new (CfConfig *config, CfState *state, CfSwitcher *switcher,
                                    CfHookRouter *hooks);
void cf_usage_switch_set_config (CfUsageSwitch *self, CfConfig *config);
/* Stops acting (daemon shutdown). */
void cf_usage_switch_stop (CfUsageSwitch *self);

G_END_DECLS
