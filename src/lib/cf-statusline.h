/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "cf-usage.h"

G_BEGIN_DECLS

/* Claude Code's statusLine input (CLAUDE-CODE.md, "Structured usage data")
 * and the part of it `claude-failoverctl statusline` forwards to the daemon
 * (ReportHookEvent, event "StatusLine"). One parser reads both: the
 * forwarded report is the same shape, cut down, plus "config_dir". Pure. */

/* Larger input is refused (Claude Code sends a few hundred bytes). */
#define CF_STATUSLINE_INPUT_MAX 65536
#define CF_STATUSLINE_MAX_DEPTH 32
/* The event name of the report on the bus. */
#define CF_STATUSLINE_EVENT "StatusLine"
/* A report whose usage did not change is sent again after this long. */
#define CF_STATUSLINE_REFRESH_USEC (60 * G_USEC_PER_SEC)
/* Even a changed report waits this long after the previous one. */
#define CF_STATUSLINE_MIN_GAP_USEC (2 * G_USEC_PER_SEC)

#define CF_STATUSLINE_ERROR (cf_statusline_error_quark ())
GQuark cf_statusline_error_quark (void);

typedef enum {
  CF_STATUSLINE_ERROR_TOO_LARGE,
  CF_STATUSLINE_ERROR_ENCODING,  /* a NUL byte, or not UTF-8 */
  CF_STATUSLINE_ERROR_SYNTAX,    /* not JSON, empty, or nested too deep */
  CF_STATUSLINE_ERROR_NOT_OBJECT,
} CfStatuslineError;

typedef struct {
  double used;                 /* percent, clamped to 0..100; -1 = absent or invalid */
  gint64 resets_at;            /* µs since the epoch; 0 = absent or invalid */
} CfStatuslineWindow;

/* Members of the wrong type or out of range are dropped, never an error:
 * Claude Code versions differ in what they send. */
typedef struct {
  char *session_id;            /* canonical UUID, else NULL */
  char *model;                 /* model.display_name, else model.id, else a string "model" */
  char *config_dir;            /* "config_dir" (reports only): CLAUDE_CONFIG_DIR, absolute */
  gboolean has_rate_limits;    /* at least one window has a percentage or a reset */
  CfStatuslineWindow windows[CF_USAGE_N_WINDOWS];
} CfStatusline;

/* Parses LENGTH bytes of JSON ((gsize) -1 = NUL-terminated). Errors are
 * CF_STATUSLINE_ERROR, one line; on error *OUT is left alone. */
gboolean cf_statusline_parse (const char *json, gsize length, CfStatusline **out,
                              GError **error);
void cf_statusline_free (CfStatusline *statusline);

/* The report forwarded to the daemon: a compact JSON object with
 * session_id, model, rate_limits (resets_at in seconds, as Claude Code
 * writes it) and CONFIG_DIR (NULL = none). cf_statusline_parse () reads it
 * back to the same values. */
char *cf_statusline_to_report (const CfStatusline *statusline, const char *config_dir);

/* A short text that changes exactly when the report's usage does (session,
 * percentages, resets): what the rate limiter compares. */
char *cf_statusline_key (const CfStatusline *statusline);

/* Whether to forward a report with KEY at NOW, the last one having been
 * LAST_KEY at LAST_SENT (NULL / 0: none yet; a LAST_SENT in the future is
 * a clock that went back and counts as none). */
gboolean cf_statusline_should_forward (const char *last_key, gint64 last_sent,
                                       const char *key, gint64 now);

/* The line shown in Claude Code's footer: ACCOUNT (NULL/"" = left out),
 * then each known window with its percentage and the time to its reset at
 * NOW, e.g. "main · 5h 42% ↻2h13m · 7d 17% ↻3d4h". */
char *cf_statusline_format (const CfStatusline *statusline, const char *account, gint64 now);

/* "45s", "12m", "2h13m", "3d4h"; "0m" for none left. */
char *cf_statusline_format_remaining (gint64 usec);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfStatusline, cf_statusline_free)

G_END_DECLS
