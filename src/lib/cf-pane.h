/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Pure classification of a Claude Code pane capture (ARCHITECTURE.md 5).
 * No I/O; "now" and the local zone are arguments. */

/* Bumped whenever the pattern table changes (logged with every decision). */
#define CF_PANE_PATTERNS_VERSION 2

typedef struct {
  gint64 now_unix;             /* seconds since the epoch */
  GTimeZone *local_zone;       /* zone for reset times that name none; NULL = UTC */
  guint tail_lines;            /* output lines above the input area examined for limits; 0 = 3 */
} CfPaneContext;

#define CF_PANE_DEFAULT_TAIL_LINES 3
/* Snippets are cut on a UTF-8 boundary to at most this many bytes. */
#define CF_PANE_SNIPPET_MAX 120

typedef enum {
  CF_PANE_PATTERN_LIMIT,        /* usage exhausted: counts toward a switch */
  CF_PANE_PATTERN_WARNING,      /* close to the limit: reported, never a switch */
  CF_PANE_PATTERN_SERVER_ERROR, /* 5xx / overloaded: vetoes any limit match */
  CF_PANE_PATTERN_THROTTLE,     /* a 429 that is not a usage limit: never a switch */
  CF_PANE_PATTERN_DIALOG,       /* a dialog or menu in place of the input box */
  CF_PANE_PATTERN_AUTO_CONTINUE, /* Claude Code's own continue after a limit */
} CfPanePatternKind;

/* What stands in place of Claude's input box (CLAUDE-CODE.md, first-run
 * dialogs, permission questions and menus), or made Claude exit. */
typedef enum {
  CF_PANE_DIALOG_NONE,
  CF_PANE_DIALOG_TRUST,             /* "Quick safety check: … trust?" */
  CF_PANE_DIALOG_BYPASS_WARNING,    /* "WARNING: … Bypass Permissions mode" */
  CF_PANE_DIALOG_ONBOARDING_FAILED, /* "Unable to connect to Anthropic services" */
  CF_PANE_DIALOG_API_KEY,           /* "Detected a custom API key …" */
  CF_PANE_DIALOG_ROOT_REFUSED,      /* "… cannot be used with root/sudo privileges …" */
  CF_PANE_DIALOG_NO_CONVERSATION,   /* "No conversation found with session ID: …" */
  CF_PANE_DIALOG_PERMISSION,        /* "Do you want to proceed?" + numbered options */
  CF_PANE_DIALOG_LIMIT_MENU,        /* /rate-limit-options: "Stop and wait for limit to reset" */
  CF_PANE_DIALOG_LOGIN,             /* "Select login method:" */
  CF_PANE_DIALOG_UNKNOWN_MENU,      /* a numbered menu no row knows */
} CfPaneDialog;

typedef struct {
  gboolean prompt;             /* the ❯ input line (or a shell-less Claude prompt) is visible */
  gboolean busy;               /* spinner / "esc to interrupt" / "(12s ·" above the input area */
  gboolean limit_match;        /* a limit pattern matched, before the 5xx veto */
  gboolean limit;              /* verdict: limit_match && !server_error */
  gboolean server_error;       /* a 5xx / overloaded / api_error payload is in the tail */
  gboolean warning;            /* an "approaching"/"used 98%" warning (not exhaustion) */
  const char *pattern;         /* static id of the matched limit pattern (vetoed or not), or NULL;
                                * the limit-options-menu dialog row when only that menu shows */
  GDateTime *reset_at;         /* owned; in the zone the message named (else local); or NULL */
  char *resume_uuid;           /* owned; last "claude --resume <uuid>" seen, validated; or NULL */
  char *snippet;               /* owned; <= CF_PANE_SNIPPET_MAX bytes of the deciding line, or NULL */
  const char *warning_pattern; /* static id of the warning pattern seen in the tail, or NULL */
  const char *server_error_pattern; /* static id of the server-error pattern, or NULL */
  /* Pattern table v2 (real CLI 2.1.332). */
  gboolean ready;              /* an empty (or placeholder-only) live ❯ box at the bottom:
                                * not busy, no dialog, not exited.  Says nothing about
                                * limits: check limit too before typing a task */
  gboolean exited;             /* Claude exited below its last frame: "Resume this session
                                * with:" and/or a shell prompt after the last ❯ box */
  CfPaneDialog dialog_kind;    /* what replaces the box or made Claude exit */
  char *dialog;                /* owned; the dialog's most telling line (snippet), or NULL */
  gboolean needs_input;        /* a permission question, a menu or an unknown dialog waits
                                * for a person (LIMIT_MENU too, with limit set) */
  gboolean throttle;           /* a 429 that is not a usage limit is in the tail */
  const char *throttle_pattern; /* static id of the throttle pattern, or NULL */
  const char *auto_continue;   /* "armed" | "fired" | "cancelled" | NULL */
  gboolean resume_failed;      /* "No conversation found with session ID" below the last box */
} CfPaneVerdict;

/* OUT is overwritten without being freed: clear it before reusing it.
 * TEXT need not be NUL-terminated (LENGTH (gsize) -1 = it is), valid UTF-8
 * or free of escape sequences. The deciding line is, in order: the server
 * error that vetoed a limit, the limit, the throttle, the warning, the busy
 * indicator.  When Claude has exited, its last frame is history: prompt and
 * busy are FALSE. */
void cf_pane_classify (const char *text,
                       gsize length,
                       const CfPaneContext *context,
                       CfPaneVerdict *out);
void cf_pane_verdict_clear (CfPaneVerdict *verdict);

/* Stable id ("trust", "limit-menu", …; "none") for logs and JSON. */
const char *cf_pane_dialog_to_string (CfPaneDialog dialog);
/* A translated one-line hint of what the operator must do, or NULL for NONE. */
const char *cf_pane_dialog_fix (CfPaneDialog dialog);

/* TRUE when TEXT is a canonical UUID (36 chars, 8-4-4-4-12 hex). */
gboolean cf_uuid_is_valid (const char *text);

/* One row of the versioned pattern table, for documentation and tests.
 * Rows are tried in table order; within a kind the first match wins. */
typedef struct {
  const char *id;
  const char *example;             /* == examples[0] */
  CfPanePatternKind kind;
  const char *regex;               /* GRegex, caseless, matched against one line */
  const char *const *examples;     /* NULL-terminated; each must match this row */
  CfPaneDialog dialog;             /* kind DIALOG: the dialog this line identifies */
  const char *auto_continue;       /* kind AUTO_CONTINUE: "armed", "fired" or "cancelled" */
  gboolean needs_menu;             /* kind DIALOG: counts only with a numbered menu below */
} CfPanePatternInfo;
const CfPanePatternInfo *cf_pane_patterns (guint *n_patterns);
const char *cf_pane_pattern_kind_to_string (CfPanePatternKind kind);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CfPaneVerdict, cf_pane_verdict_clear)

G_END_DECLS
