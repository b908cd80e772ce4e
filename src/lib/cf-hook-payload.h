/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "cf-verdict.h"

G_BEGIN_DECLS

/* Claude Code hook events and the JSON they receive on stdin
 * (ARCHITECTURE.md 5). Pure: `claude-failoverctl hook` forwards the text,
 * the daemon parses it here. */

/* Larger payloads are refused. Claude Code's hook input is a handful of
 * short fields; the prompt of UserPromptSubmit is the only long one, and the
 * daemon needs only its beginning. Also the most `hook` reads from stdin. */
#define CF_HOOK_PAYLOAD_MAX 65536
/* The prompt is kept up to this many bytes, cut on a UTF-8 boundary. */
#define CF_HOOK_PROMPT_MAX 4096
/* Objects and arrays nested deeper are refused before json-glib sees them:
 * its parser recurses once per level. */
#define CF_HOOK_MAX_DEPTH 32
/* Event names are identifiers ("SessionStart"); longer ones are refused. */
#define CF_HOOK_EVENT_NAME_MAX 64

#define CF_HOOK_ERROR (cf_hook_error_quark ())
GQuark cf_hook_error_quark (void);

typedef enum {
  CF_HOOK_ERROR_INVALID_EVENT, /* the event name is not an identifier */
  CF_HOOK_ERROR_TOO_LARGE,     /* more than CF_HOOK_PAYLOAD_MAX bytes */
  CF_HOOK_ERROR_NUL_BYTE,      /* a NUL byte inside the given length */
  CF_HOOK_ERROR_ENCODING,      /* not UTF-8 */
  CF_HOOK_ERROR_TOO_DEEP,      /* nesting deeper than CF_HOOK_MAX_DEPTH */
  CF_HOOK_ERROR_SYNTAX,        /* not JSON, or empty */
  CF_HOOK_ERROR_NOT_OBJECT,    /* JSON, but not an object */
} CfHookError;

typedef enum {
  CF_HOOK_EVENT_OTHER,         /* any event this version does not act on */
  CF_HOOK_EVENT_SESSION_START,
  CF_HOOK_EVENT_USER_PROMPT_SUBMIT,
  CF_HOOK_EVENT_STOP,
  CF_HOOK_EVENT_STOP_FAILURE,
  CF_HOOK_EVENT_NOTIFICATION,
  CF_HOOK_EVENT_SESSION_END,
  CF_HOOK_EVENT_PRE_COMPACT,
  CF_HOOK_EVENT_SUBAGENT_STOP,
} CfHookEvent;

#define CF_HOOK_EVENT_LAST CF_HOOK_EVENT_SUBAGENT_STOP

/* Claude Code's spelling ("StopFailure"); "Other" for CF_HOOK_EVENT_OTHER
 * and for values outside the enum. */
const char *cf_hook_event_to_string (CfHookEvent event);
/* Exact, case-sensitive match of Claude Code's spelling; anything else,
 * NULL included, is CF_HOOK_EVENT_OTHER. */
CfHookEvent cf_hook_event_from_string (const char *name);
/* 1 to CF_HOOK_EVENT_NAME_MAX ASCII letters and digits, starting with a
 * letter: what Claude Code names its events. */
gboolean cf_hook_event_name_is_valid (const char *name);

/* The fields the daemon uses; every string is valid UTF-8 or NULL. A field
 * of the wrong JSON type is dropped, not an error: Claude Code versions
 * differ in what they send. */
typedef struct {
  CfHookEvent event;
  char *event_name;            /* never NULL: the event the hook ran for, as spelled */
  char *session_id;            /* canonical UUID (cf_uuid_is_valid), else NULL */
  char *transcript_path;
  char *cwd;
  char *hook_event_name;       /* as Claude Code wrote it in the payload */
  char *error;                 /* StopFailure: "rate_limit", "overloaded", "server_error", … */
  char *prompt;                /* UserPromptSubmit: at most CF_HOOK_PROMPT_MAX bytes */
  gboolean prompt_truncated;
  char *source;                /* SessionStart: "startup", "resume", "clear", "compact" */
  char *message;               /* Notification */
  char *last_assistant_message; /* Stop, StopFailure: the text on screen (at most CF_HOOK_PROMPT_MAX bytes) */
  char *notification_type;     /* Notification: permission_prompt, idle_prompt, … */
  /* Set by the daemon before it routes a Stop or StopFailure
   * (cf_hook_payload_set_verdict): the verdict fused from this hook, the
   * session's transcript and its pane. The questions below follow it when
   * set; the parser leaves it unset. */
  gboolean has_verdict;
  CfSessionVerdict verdict;
} CfHookPayload;

/* Parses the hook input JSON (LENGTH bytes; (gsize) -1 = NUL-terminated).
 * EVENT_NAME is the event the hook was registered for (the argument of
 * `claude-failoverctl hook`, the `event` of ReportHookEvent); NULL takes it
 * from the payload's "hook_event_name" ("Other" when that is missing or not
 * an identifier). "error" is read from "error_type" when that is a string
 * (some versions put a short code such as "429" in "error"), else from
 * "error" as a string, else from "error": {"type": …} (one level of
 * {"type": "error", "error": {…}} envelope is looked through).
 * Errors are CF_HOOK_ERROR; on error *OUT is left alone. */
gboolean cf_hook_payload_parse (const char *event_name,
                                const char *json,
                                gsize length,
                                CfHookPayload **out,
                                GError **error);
void cf_hook_payload_free (CfHookPayload *payload);

/* Attaches VERDICT (cf_session_verdict_fuse () of this payload, the
 * transcript and the pane) to PAYLOAD. */
void cf_hook_payload_set_verdict (CfHookPayload *payload, const CfSessionVerdict *verdict);
/* The hook as cf_session_verdict_fuse () reads it; points into PAYLOAD. */
void cf_hook_payload_to_verdict_hook (const CfHookPayload *payload, CfVerdictHook *out);
/* The daemon's decision on a hook, and `explain-pane --hook`'s: fuses
 * PAYLOAD with TRANSCRIPT (the newest main-conversation assistant line
 * appended for this turn, or NULL) and PANE (the newest capture, or NULL;
 * a busy pane is left out: it was captured before the turn the hook
 * reports ended) at NOW_UNIX (ZONE for reset times that name none) and
 * attaches the verdict to PAYLOAD. */
void cf_hook_payload_decide (CfHookPayload *payload,
                             const CfTranscriptEntry *transcript,
                             const CfPaneVerdict *pane,
                             gint64 now_unix,
                             GTimeZone *zone);
/* "StopFailure error=rate_limit → usage-limit (sources: hook,transcript; …)":
 * the decision as logged and as `explain-pane` prints it. */
char *cf_hook_payload_describe_decision (const CfHookPayload *payload);

/* With a fused verdict attached, a StopFailure is a usage limit when the
 * verdict says usage-limit, a throttle when it says throttle (except the
 * legacy case: a bare "rate_limit" with no message that no other signal
 * reads, which stays a limit), an unusable account when it says auth; a
 * verdict that describes the screen rather than the turn (working,
 * needs-input, idle, unknown) leaves the hook's own reading below.
 *
 * TRUE for a StopFailure whose error is a usage limit ("rate_limit", or the
 * API's "rate_limit_error"): the precise signal for an account switch.
 * Server errors and overload are not limits. Claude Code 2.1.332 says
 * "rate_limit" for every 429, server throttles included: when the payload
 * carries last_assistant_message, it must read as a usage limit ("You've
 * hit your 5-hour limit · …", a legacy phrasing), else it is a throttle
 * (cf_hook_payload_is_throttle), never a limit. */
gboolean cf_hook_payload_is_rate_limit (const CfHookPayload *payload);
/* TRUE for a StopFailure "rate_limit" whose message is not a usage limit
 * ("API Error: Server is temporarily limiting requests (not your usage
 * limit)", "Request rejected (429)"): Claude's own retry or a later prompt
 * cures it; no account switch. */
gboolean cf_hook_payload_is_throttle (const CfHookPayload *payload);
/* The reset time a usage-limit StopFailure names in last_assistant_message
 * ("You've hit your 5-hour limit · resets 1:47pm (UTC)"), read with the
 * pane's pattern table relative to NOW_UNIX (LOCAL_ZONE for a time without
 * a zone, NULL = UTC); NULL when the payload is no usage limit or names no
 * reset. The hook runs before Claude's screen is sure to show the line, so
 * this is the reset a switch decided on the hook can know. Pure. */
GDateTime *cf_hook_payload_reset_at (const CfHookPayload *payload,
                                     gint64 now_unix,
                                     GTimeZone *local_zone);
/* For a StopFailure whose error says the account itself cannot be used
 * (authentication_failed, oauth_org_not_allowed, account_on_hold,
 * verification_required, billing_error): that error, static; else NULL.
 * No switch back cures it: the account is unusable until EnableAccount. */
const char *cf_hook_payload_account_problem (const CfHookPayload *payload);
/* TRUE for a Notification that waits for a person (notification_type
 * permission_prompt, agent_needs_input or elicitation_dialog); idle_prompt
 * and the others are not. */
gboolean cf_hook_payload_needs_person (const CfHookPayload *payload);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfHookPayload, cf_hook_payload_free)

G_END_DECLS
