/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "cf-pane.h"
#include "cf-transcript.h"

G_BEGIN_DECLS

/* One verdict per session from three independent signals (issue 16 item 1):
 * the newest hook event, the newest main-conversation assistant line of the
 * transcript, and the pane.  Pure: "now" and the zone are arguments.
 *
 * A usage limit is declared only on usage-limit evidence (the "You've hit
 * your … limit" family or a legacy phrasing, the transcript's
 * "apiError": "usage_limit_reached", or the pane's limit); a 429 without it
 * is a throttle.  For the outcome of the last turn the hook is trusted
 * first, then the transcript, then the pane; the pane alone says what is on
 * screen now (a dialog, a spinner). */

typedef enum {
  CF_SESSION_VERDICT_UNKNOWN,      /* no usable evidence */
  CF_SESSION_VERDICT_IDLE,         /* the turn finished; ready for more */
  CF_SESSION_VERDICT_WORKING,
  CF_SESSION_VERDICT_NEEDS_INPUT,  /* a dialog, menu or permission question waits */
  CF_SESSION_VERDICT_TURN_FAILED,  /* an API error that is neither of the below
                                    * (invalid_request, max_output_tokens, …) */
  CF_SESSION_VERDICT_SERVER_ERROR, /* 5xx / overloaded */
  CF_SESSION_VERDICT_THROTTLE,     /* a 429 that is not a usage limit */
  CF_SESSION_VERDICT_USAGE_LIMIT,
  CF_SESSION_VERDICT_AUTH,         /* the account is unusable: reason says why */
} CfSessionVerdictKind;

typedef enum {
  CF_VERDICT_SOURCE_HOOK = 1 << 0,
  CF_VERDICT_SOURCE_TRANSCRIPT = 1 << 1,
  CF_VERDICT_SOURCE_PANE = 1 << 2,
} CfVerdictSource;

/* The newest hook event of the session, as the daemon received it. */
typedef struct {
  const char *event;                  /* "StopFailure", "Stop", "Notification", … */
  const char *error;                  /* StopFailure */
  const char *last_assistant_message; /* Stop, StopFailure */
  const char *notification_type;      /* Notification */
} CfVerdictHook;

typedef struct {
  CfSessionVerdictKind kind;
  gint64 reset_unix;           /* USAGE_LIMIT: when it ends; 0 = unknown */
  const char *reason;          /* static: the error or pattern behind an error verdict, or NULL */
  gboolean needs_input;        /* also set for a usage limit shown as a menu */
  guint sources;               /* CfVerdictSource bits of the signals that say KIND */
  guint conflicting;           /* CfVerdictSource bits of signals that said another error */
} CfSessionVerdict;

/* Any of HOOK, TRANSCRIPT (an assistant line, error or not) and PANE may be
 * NULL (missing).  A usage limit whose reset is known and not after
 * NOW_UNIX is over and does not count.  ZONE reads reset times that name
 * none (NULL = UTC). */
void cf_session_verdict_fuse (const CfVerdictHook *hook,
                              const CfTranscriptEntry *transcript,
                              const CfPaneVerdict *pane,
                              gint64 now_unix,
                              GTimeZone *zone,
                              CfSessionVerdict *out);

/* "usage-limit", "throttle", … */
const char *cf_session_verdict_kind_to_string (CfSessionVerdictKind kind);

/* "hook,transcript,pane" for the CfVerdictSource bits set; "none" for 0. Static. */
const char *cf_verdict_sources_to_string (guint sources);

/* One line, as the daemon logs a decision and `explain-pane` prints it:
 * "usage-limit (sources: hook,transcript; conflicting: none; reason:
 * hit-five-hour-limit; reset: 2026-12-06T16:04:00Z)", "; needs input"
 * added when set. */
char *cf_session_verdict_describe (const CfSessionVerdict *verdict);

/* TRUE for the StopFailure / transcript errors that no switch-back cures. */
gboolean cf_verdict_error_is_auth (const char *error);

G_END_DECLS
