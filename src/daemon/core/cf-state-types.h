/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The values of the daemon's state (ARCHITECTURE.md 4.3) and their names,
 * as written in the state file and shown on the bus: a session's kind and
 * state, the step of an account switch. */

typedef enum {
  CF_SESSION_POOL,
  CF_SESSION_DEDICATED,
} CfSessionKind;

typedef enum {
  CF_SESSION_IDLE,
  CF_SESSION_LAUNCHING,
  CF_SESSION_WORKING,
  CF_SESSION_STALLED,
  CF_SESSION_FAILED,
  CF_SESSION_DEAD,
  CF_SESSION_BLOCKED,           /* waiting on a usage limit (ARCHITECTURE.md 4.9) */
  CF_SESSION_NEEDS_INPUT,       /* a dialog, menu or permission question waits for a person */
} CfSessionState;

#define CF_SESSION_STATE_LAST CF_SESSION_NEEDS_INPUT

typedef enum {
  CF_SWAP_NORMAL,
  CF_SWAP_SAVING,
  CF_SWAP_SWITCHING,
  CF_SWAP_RESUMING,
  CF_SWAP_FALLBACK,
} CfSwapState;

const char *cf_session_kind_to_string (CfSessionKind kind);
gboolean cf_session_kind_from_string (const char *text, CfSessionKind *out);
const char *cf_session_state_to_string (CfSessionState state);
gboolean cf_session_state_from_string (const char *text, CfSessionState *out);
/* TRUE for working, stalled, blocked and needs-input: Claude runs the
 * session's task (LAUNCHING excluded: the prompt is not typed yet). */
gboolean cf_session_state_holds_task (CfSessionState state);
const char *cf_swap_state_to_string (CfSwapState state);
/* TRUE for saving, switching, resuming: a switch is running. Fallback is a
 * resting state (on a backup account, return scheduled). */
gboolean cf_swap_state_in_progress (CfSwapState state);
gboolean cf_swap_state_from_string (const char *text, CfSwapState *out);

G_END_DECLS
