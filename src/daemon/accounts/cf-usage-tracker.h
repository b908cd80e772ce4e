/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-config.h"
#include "cf-hook-router.h"
#include "cf-quota.h"
#include "cf-state.h"

G_BEGIN_DECLS

/* Gathers each account's usage into state (ARCHITECTURE.md 4.9, `Usage`):
 * the statusline reports routed by CfHookRouter ("statusline"), the limits
 * CfQuota finds ("exhausted": the window is full until its reset), and the
 * usage warnings it sees on screen ("usage-warning", only where no recent
 * statusline reading exists). The
 * account of a report is the one whose home it names (CLAUDE_CONFIG_DIR of
 * the Claude that drew it), else the session's. Decisions are not made
 * here: see cf-usage-policy. */

#define CF_TYPE_USAGE_TRACKER (cf_usage_tracker_get_type ())
G_DECLARE_FINAL_TYPE (CfUsageTracker, cf_usage_tracker, CF, USAGE_TRACKER, GObject)

CfUsageTracker *cf_usage_tracker_new (CfConfig *config, CfState *state, CfHookRouter *hooks,
                                      CfQuota *quota);
void cf_usage_tracker_set_config (CfUsageTracker *self, CfConfig *config);

/* The account a report from SESSION (NULL = not ours) naming CONFIG_DIR
 * (NULL = none) is for, or NULL. Pure apart from reading SELF's config
 * and state. */
const char *cf_usage_tracker_account_for (CfUsageTracker *self, const char *session,
                                          const char *config_dir);

/* Reports recorded / dropped (no account) since start, for /metrics. */
guint64 cf_usage_tracker_get_reports (CfUsageTracker *self);
guint64 cf_usage_tracker_get_dropped (CfUsageTracker *self);

G_END_DECLS
