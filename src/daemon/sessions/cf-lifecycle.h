/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-config.h"
#include "cf-state.h"
#include "cf-tmux.h"

G_BEGIN_DECLS

/* Keeps the autonomous pool alive (at least pool.min sessions among the
 * configured names) and tracks which dedicated sessions exist. Reconciles on
 * start, every lifecycle.interval, when tmux (re)connects or reports a
 * session change. Never touches a tmux session outside its configured names. */

#define CF_TYPE_LIFECYCLE (cf_lifecycle_get_type ())
G_DECLARE_FINAL_TYPE (CfLifecycle, cf_lifecycle, CF, LIFECYCLE, GObject)

CfLifecycle *cf_lifecycle_new (CfConfig *config, CfState *state, CfTmux *tmux);
void cf_lifecycle_set_config (CfLifecycle *self, CfConfig *config);
void cf_lifecycle_start (CfLifecycle *self);
void cf_lifecycle_stop (CfLifecycle *self);
/* Asks for a reconciliation soon (coalesced with one already running). */
void cf_lifecycle_reconcile (CfLifecycle *self);
/* Number of reconciliations completed (tests, metrics). */
guint64 cf_lifecycle_get_passes (CfLifecycle *self);

G_END_DECLS
