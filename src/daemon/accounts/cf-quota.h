/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-config.h"
#include "cf-hook-router.h"
#include "cf-state.h"
#include "cf-tmux.h"

G_BEGIN_DECLS

/* Usage-limit detection (ARCHITECTURE.md 5). Evidence per session running
 * Claude on the active account (pool sessions launching/working/stalled,
 * dedicated sessions not at their shell), from two sources:
 *   - the StopFailure hook with error rate_limit: blocked at once;
 *   - every quota.interval, the last quota.tail_lines output lines of the
 *     pane, through the pane classifier (pattern table, 5xx veto, reset
 *     time). A match with a reset time blocks the session; one without
 *     needs a second consecutive poll. A poll without a match clears the
 *     pane's suspicion (hook evidence is cleared by a busy pane or a later
 *     prompt/Stop hook).
 * A switch is asked for ("exhausted") when quota.pool_threshold pool
 * sessions, or quota.dedicated_threshold dedicated ones, are blocked — each
 * threshold capped at the number of such sessions running Claude, so one
 * busy session alone can still reveal an empty account — unless the last
 * switch is younger than quota.reactivate_cooldown. Every decision is logged
 * with session, pattern, a 120-byte pane snippet and the reset time.
 *
 * Signal "exhausted" (gchararray account, GStrv sessions, gint64 reset_at µs
 * epoch or 0 when unknown, gchararray evidence); "usage-warning" (gchararray
 * session, gchararray line) for a usage warning in a polled pane's footer
 * (cf_usage_parse_warning () reads it). */

#define CF_TYPE_QUOTA (cf_quota_get_type ())
G_DECLARE_FINAL_TYPE (CfQuota, cf_quota, CF, QUOTA, GObject)

CfQuota *cf_quota_new (CfConfig *config, CfState *state, CfTmux *tmux, CfHookRouter *hooks);
void cf_quota_set_config (CfQuota *self, CfConfig *config);
void cf_quota_start (CfQuota *self);
void cf_quota_stop (CfQuota *self);
/* Forgets every piece of evidence (after a switch: the sessions are new). */
void cf_quota_reset (CfQuota *self);
/* Polls now instead of at the next tick (tests, benchmarks). */
void cf_quota_poll_now (CfQuota *self);
/* The screen a relaunched Claude in SESSION showed before it was given any
 * prompt (the dispatcher's ready check): a limit line there belongs to the
 * conversation it resumed, never to the account it now runs on. */
void cf_quota_note_history (CfQuota *self, const char *session, const char *screen);
/* SCREEN is what SESSION shows as its launch ends on a usage limit: taken as
 * that session's evidence and decided on at once (the session goes next). */
void cf_quota_note_launch_limit (CfQuota *self, const char *session, const char *screen);
/* Limit verdicts taken so far (metrics). */
guint64 cf_quota_get_detections (CfQuota *self);

G_END_DECLS
