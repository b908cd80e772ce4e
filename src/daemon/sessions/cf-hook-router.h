/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-hook-payload.h"
#include "cf-pane.h"
#include "cf-state.h"
#include "cf-tmux.h"

G_BEGIN_DECLS

/* Routes Claude Code hook events (ReportHookEvent) to the session they came
 * from: the payload is validated here, the tmux pane ("%12") is mapped to
 * one of our sessions (from state, else asked of tmux), and "hook"
 * (gchararray session, gpointer CfHookPayload*) is emitted. Events from
 * panes that are not ours are dropped. SessionStart records the session's
 * Claude UUID in state (it changes on /clear).
 * Event "StatusLine" (`claude-failoverctl statusline`) carries usage
 * instead: it is parsed with cf_statusline_parse () and emitted as
 * "statusline" (gchararray session or NULL, gpointer CfStatusline*), also
 * from panes that are not ours, and with no pane when it names its
 * account home ("config_dir"). */

#define CF_TYPE_HOOK_ROUTER (cf_hook_router_get_type ())
G_DECLARE_FINAL_TYPE (CfHookRouter, cf_hook_router, CF, HOOK_ROUTER, GObject)

CfHookRouter *cf_hook_router_new (CfState *state, CfTmux *tmux);

/* FALSE with a CF_HOOK_ERROR for a bad event name, pane or payload. */
gboolean cf_hook_router_report (CfHookRouter *self, const char *event, const char *pane,
                          const char *payload_json, GError **error);

/* TRUE when PANE looks like a tmux pane id: '%' then digits. */
gboolean cf_hook_router_pane_is_valid (const char *pane);

guint64 cf_hook_router_get_routed (CfHookRouter *self);

/* The newest pane verdict of SESSION (the quota's poll): the pane signal
 * fused with a Stop / StopFailure hook and the session's transcript. */
void cf_hook_router_note_pane (CfHookRouter *self, const char *session, const CfPaneVerdict *verdict);

G_END_DECLS
