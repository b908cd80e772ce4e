/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-config.h"
#include "cf-dispatcher.h"
#include "cf-quota.h"
#include "cf-state.h"
#include "cf-state-store.h"
#include "cf-tmux.h"
#include "cf-watcher.h"

G_BEGIN_DECLS

/* The account switch (ARCHITECTURE.md 4.3): normal → saving → switching →
 * resuming → normal, or fallback when the new account is not the primary.
 * Each step is journaled in the state file, durably, before it runs, so a
 * crash at any step is finished or rolled back at the next start:
 *   saving     resume UUID of every session running Claude (SessionStart
 *              hook, else the pane history), launches in progress ended;
 *   switching  the target's shared links ensured, claude_link flipped
 *              atomically (symlink + rename); on failure the link goes back
 *              to the previous home and the active account stays; if even
 *              that fails, PartialSwap is set and switches are refused
 *              until ClearPartialSwap;
 *   resuming   pool sessions killed (their tasks requeued, attempt not
 *              counted) and recreated by the lifecycle; dedicated sessions
 *              running Claude relaunched with
 *              `CLAUDE_CONFIG_DIR='<target>' <claude> --dangerously-skip-permissions
 *              --resume <uuid>`; LastSwap recorded; the return to the primary
 *              scheduled at its reset + quota.return_margin (ReturnAt).
 * At the return time the primary is checked again (its recorded exhaustion
 * must be over, its links sound) before switching back. When every account
 * is exhausted, dispatch pauses (sessions stay) until the earliest reset.
 *
 * Signals: "swap-started" (from, to, reason), "swap-finished" (from, to,
 * gboolean success, message), "all-exhausted" (gint64 until µs epoch). */

#define CF_SWITCHER_ERROR (cf_switcher_error_quark ())
GQuark cf_switcher_error_quark (void);

typedef enum {
  CF_SWITCHER_ERROR_NO_SUCH_ACCOUNT,
  CF_SWITCHER_ERROR_IN_PROGRESS,
  CF_SWITCHER_ERROR_PARTIAL_SWAP,
  CF_SWITCHER_ERROR_INVALID,
  CF_SWITCHER_ERROR_LAYOUT,    /* shared links or claude_link need the operator */
  CF_SWITCHER_ERROR_UNUSABLE,  /* the account has a problem (EnableAccount clears it) */
} CfSwitcherError;

/* Reset assumed when a limit names no time (the 5-hour window). */
#define CF_SWITCHER_UNKNOWN_RESET_USEC (5 * G_TIME_SPAN_HOUR)

#define CF_TYPE_SWITCHER (cf_switcher_get_type ())
G_DECLARE_FINAL_TYPE (CfSwitcher, cf_switcher, CF, SWITCHER, GObject)

CfSwitcher *cf_switcher_new (CfConfig *config, CfState *state, CfStateStore *store,
                             CfTmux *tmux, CfWatcher *watcher, CfDispatcher *dispatcher,
                             CfQuota *quota);
void cf_switcher_set_config (CfSwitcher *self, CfConfig *config);

/* Start-up: refuses a broken layout (CF_SWITCHER_ERROR_LAYOUT, every
 * problem of every account in the message), creates what is missing,
 * finishes or rolls back an interrupted switch and re-arms the timers. */
gboolean cf_switcher_start (CfSwitcher *self, GError **error);
void cf_switcher_stop (CfSwitcher *self);

/* SwitchAccount: ACCOUNT NULL or "" = the next available account. Checked
 * at once (errors above); the switch itself runs asynchronously. */
gboolean cf_switcher_switch (CfSwitcher *self, const char *account, GError **error);
/* ClearPartialSwap: once claude_link points at an account home again and
 * the links are sound, that account becomes the active one. The layout is
 * looked at in a worker thread (readlink, lstat), never on the loop. */
void cf_switcher_clear_partial_async (CfSwitcher *self, GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean cf_switcher_clear_partial_finish (CfSwitcher *self, GAsyncResult *result,
                                           GError **error);
/* The quota monitor's verdict: ACCOUNT is out until RESET_USEC (0 =
 * unknown). Switches to the next available account, or pauses dispatch
 * when there is none. */
void cf_switcher_account_exhausted (CfSwitcher *self, const char *account, gint64 reset_usec,
                                    const char *evidence);

/* ACCOUNT cannot be used at all (PROBLEM: authentication_failed,
 * billing_error, …, not a usage limit): its problem is recorded (Usage,
 * persisted), it is never switched to, and when it is the active account
 * the daemon switches away at once (SwapStarted reason "auth"). */
void cf_switcher_account_unusable (CfSwitcher *self, const char *account, const char *problem);
/* EnableAccount: clears ACCOUNT's problem. */
gboolean cf_switcher_enable_account (CfSwitcher *self, const char *account, GError **error);

/* A proactive switch (cf-usage-switch) to ACCOUNT, REASON "usage" or
 * "return": like a reactive one (journal, crash safety, dedicated sessions
 * relaunched), but draining: pool sessions are not killed, each finishes
 * its task on the old account and is launched on the new one next time. */
gboolean cf_switcher_switch_draining (CfSwitcher *self, const char *account, const char *reason,
                                      GError **error);
/* Every account is out by usage: dispatch paused until UNTIL (µs epoch),
 * then resumed like after a reset ("all-exhausted" is emitted). */
void cf_switcher_pause_until (CfSwitcher *self, gint64 until);

G_END_DECLS
