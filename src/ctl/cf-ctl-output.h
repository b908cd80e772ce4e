/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* What every claude-failoverctl command prints the same way: error lines,
 * colours, tables, times and JSON. */

#define CF_CTL_PROGRAM "claude-failoverctl"

/* Prints "claude-failoverctl: COMMAND: MESSAGE" on stderr (one line) and
 * returns STATUS. COMMAND may be NULL. */
int cf_ctl_fail (int status, const char *command, const char *format, ...) G_GNUC_PRINTF (3, 4);

/* A usage error: the line above with " (see 'claude-failoverctl COMMAND
 * --help')" appended; returns 2. */
int cf_ctl_usage_error (const char *command, const char *format, ...) G_GNUC_PRINTF (2, 3);

typedef enum {
  CF_CTL_STYLE_NONE,
  CF_CTL_STYLE_BOLD,
  CF_CTL_STYLE_DIM,
  CF_CTL_STYLE_RED,
  CF_CTL_STYLE_GREEN,
  CF_CTL_STYLE_YELLOW,
  CF_CTL_STYLE_BLUE,
  CF_CTL_STYLE_MAGENTA,
  CF_CTL_STYLE_CYAN,
} CfCtlStyle;

/* TRUE when standard output is a terminal, NO_COLOR is unset or empty and
 * TERM is not "dumb" (https://no-color.org). */
gboolean cf_ctl_use_colour (void);

/* TEXT wrapped in the escape sequences of STYLE, or a plain copy when
 * colour is off. */
char *cf_ctl_styled (CfCtlStyle style, const char *text);

/* Styles for the values the daemon reports. */
CfCtlStyle cf_ctl_style_for_session_state (const char *state);
CfCtlStyle cf_ctl_style_for_task_state (const char *state);
CfCtlStyle cf_ctl_style_for_outcome (const char *outcome);

/* TEXT safe to print on a terminal: control characters escaped (\n, \t,
 * \xNN), invalid UTF-8 replaced. Text from the daemon and from task files
 * must never move the operator's cursor or change their terminal. */
char *cf_ctl_printable (const char *text);

/* Columns TEXT takes on a terminal (wide characters count 2). */
gsize cf_ctl_text_width (const char *text);

/* TEXT cut to at most WIDTH columns, "…" marking the cut. */
char *cf_ctl_truncate (const char *text, gsize width);

/* "now", "12s ago", "12m ago", "3h05m ago", "2d ago", "in 3h05m"…:
 * USEC is µs since the epoch, NOW_USEC the present. */
char *cf_ctl_relative_time (gint64 usec, gint64 now_usec);

/* "2026-07-15 12:00:00 CEST (in 3h05m)" in the local zone. */
char *cf_ctl_absolute_time (gint64 usec);
/* A usage window as a bar of WIDTH cells, its percentage and the time to
 * its reset at NOW: "[█████░░░░░]  52% ↻2h13m"; "unknown" when PERCENT < 0. */
char *cf_ctl_usage_bar (double percent, gint64 reset_usec, gint64 now_usec, guint width);

/* "2026-07-15T12:00:00.123+02:00" in the local zone (JSON output). */
char *cf_ctl_iso8601 (gint64 usec);

/* An aligned table: one header row, cells padded to the widest cell of
 * their column, two spaces between columns, the last column unpadded.
 * Headers are bold and cells keep their style when colour is on. */
typedef struct _CfCtlTable CfCtlTable;

CfCtlTable *cf_ctl_table_new (guint n_columns, ...);
void cf_ctl_table_free (CfCtlTable *table);
/* Appends a row; cells are set with cf_ctl_table_set (). */
void cf_ctl_table_add_row (CfCtlTable *table);
/* Cell COLUMN of the last row: TEXT made printable, in STYLE. */
void cf_ctl_table_set (CfCtlTable *table, guint column, const char *text, CfCtlStyle style);
guint cf_ctl_table_get_n_rows (CfCtlTable *table);
void cf_ctl_table_print (CfCtlTable *table);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfCtlTable, cf_ctl_table_free)

/* Prints the document built in BUILDER on standard output: indented for
 * the read commands, on one line when COMPACT (monitor --json), then a
 * newline. */
void cf_ctl_print_json (JsonBuilder *builder, gboolean compact);

/* What "Dispatch:" says: running, or held and why, from GetStatus'
 * DispatchPaused, SwapState and how many of the accounts are available.
 * Translated; static. */
const char *cf_ctl_dispatch_text (gboolean paused, const char *swap_state, guint available,
                                  guint accounts);

/* Reads standard input until end of file or DEADLINE (monotonic µs),
 * keeping at most MAX bytes in INPUT (*TOO_LARGE then set); the rest is read
 * and dropped, so that Claude Code never writes into a closed pipe. Never
 * waits past DEADLINE (hooks and the statusline must return quickly). */
void cf_ctl_read_stdin (gint64 deadline, gsize max, GByteArray *input, gboolean *too_large);

G_END_DECLS
