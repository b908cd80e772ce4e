/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-config.h"
#include "cf-inbox.h"
#include "cf-state.h"

G_BEGIN_DECLS

/* Periodic housekeeping, every janitor.interval; each pass runs in a worker
 * thread. For every project the inbox watches:
 *
 *   - a task in active/ that no session works on (no session in state
 *     launching, working or stalled has it as its project and task when the
 *     pass starts) goes back to the inbox with its attempt counted, or to
 *     failed/ when it already used dispatcher.max_dispatch_per_task
 *     attempts. It must be found so by two passes at least 2 ×
 *     watcher.interval apart, with no move recorded in its meta file in
 *     between: one snapshot of the sessions can miss a claim about to be
 *     published or a finish on its way to done/;
 *   - crash leftovers are tidied (cf_taskq_recover), and the meta file of a
 *     task that is in no directory any more is removed once it is older
 *     than janitor.stale_signal_age;
 *   - status.json is rewritten.
 *
 * Then, in watcher.done_signal_dir, "agent-done-*" files older than
 * janitor.stale_signal_age are removed: only regular files owned by the
 * daemon's user; a symbolic link there is removed (never followed) and
 * logged as suspicious; anything else is left alone.
 *
 * The first pass runs min(janitor.interval, 2 × max(watcher.interval,
 * lifecycle.interval)) after start, once the other components had time to
 * reconcile the sessions a restart found. Passes never overlap; a pass asked
 * for during one runs right after it. */

#define CF_TYPE_JANITOR (cf_janitor_get_type ())
G_DECLARE_FINAL_TYPE (CfJanitor, cf_janitor, CF, JANITOR, GObject)

CfJanitor *cf_janitor_new (CfConfig *config, CfState *state, CfInbox *inbox);
void cf_janitor_start (CfJanitor *self);
void cf_janitor_stop (CfJanitor *self);
void cf_janitor_set_config (CfJanitor *self, CfConfig *config);
/* Starts a pass now (or right after the one running). */
void cf_janitor_run_now (CfJanitor *self);
/* Completed passes (tests, metrics). */
guint64 cf_janitor_get_passes (CfJanitor *self);

G_END_DECLS
