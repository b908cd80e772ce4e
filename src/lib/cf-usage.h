/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An account's use of its two subscription windows (ARCHITECTURE.md 4.9,
 * `Usage`): the 5-hour and the weekly one, each a used percentage and the
 * time it resets, with when and from what it was learnt. Pure: "now" is
 * always an argument. A window whose reset has passed is unknown again,
 * never "still full". */

typedef enum {
  CF_USAGE_FIVE_HOUR,
  CF_USAGE_SEVEN_DAY,
  CF_USAGE_N_WINDOWS,
} CfUsageWindowKind;

typedef enum {
  CF_USAGE_SOURCE_NONE,
  CF_USAGE_SOURCE_STATUSLINE,  /* Claude Code's statusLine input (rate_limits) */
  CF_USAGE_SOURCE_LIMIT,       /* a usage limit was hit: 100 % until its reset */
  CF_USAGE_SOURCE_WARNING,     /* "You've used 92% of your 5-hour limit" on screen */
} CfUsageSource;

#define CF_USAGE_SOURCE_LAST CF_USAGE_SOURCE_WARNING

/* Percentages past this are clamped: the server reports overage as > 100. */
#define CF_USAGE_PERCENT_MAX 100.0

typedef struct {
  double used;                 /* percent, 0..100; < 0 = unknown */
  gint64 resets_at;            /* µs since the epoch, 0 = unknown */
  gint64 updated;              /* µs since the epoch of the reading, 0 = never */
  CfUsageSource source;
} CfUsageWindow;

typedef struct {
  CfUsageWindow windows[CF_USAGE_N_WINDOWS];
} CfUsage;

/* "statusline", "limit", "warning"; "" for none and values outside the enum. */
const char *cf_usage_source_to_string (CfUsageSource source);
/* The reverse; "" and unknown text are CF_USAGE_SOURCE_NONE. */
CfUsageSource cf_usage_source_from_string (const char *text);
/* "five_hour", "seven_day": the names Claude Code uses in rate_limits. */
const char *cf_usage_window_kind_to_string (CfUsageWindowKind kind);

void cf_usage_init (CfUsage *usage);
gboolean cf_usage_window_is_known (const CfUsageWindow *window);
gboolean cf_usage_equal (const CfUsage *a, const CfUsage *b);

/* WINDOW as it stands at NOW: past its reset, unknown (used -1, reset 0);
 * the time and source of the last reading are kept. */
CfUsageWindow cf_usage_window_at (const CfUsageWindow *window, gint64 now);
/* The latest reset among USAGE's known windows that is after NOW; 0 none.
 * Until the earliest one, cf_usage_window_at () gives the same answer. */
gint64 cf_usage_next_change (const CfUsage *usage, gint64 now);

/* Records a reading of window KIND: USED percent (< 0 = not in the reading,
 * the window keeps its value unless its reset changed), RESETS_AT µs (0 =
 * not in the reading: a known reset is kept while it is in the future).
 * A reading older than the window's last one is ignored. TRUE when the
 * window changed. */
gboolean cf_usage_record (CfUsage *usage, CfUsageWindowKind kind, double used,
                          gint64 resets_at, CfUsageSource source, gint64 when);

/* Reads a usage warning Claude Code shows in its footer ("You've used 92%
 * of your 5-hour limit · resets 3pm (Europe/Berlin)") anywhere in LINE:
 * the window (5-hour or session: five-hour; weekly, Opus, Sonnet: weekly),
 * the percentage and the reset (µs since the epoch, 0 when none is shown,
 * read with cf_reset_time_parse () at NOW_UNIX in LOCAL_ZONE). FALSE when
 * LINE holds no such warning or names another window. */
gboolean cf_usage_parse_warning (const char *line, gint64 now_unix, GTimeZone *local_zone,
                                 CfUsageWindowKind *kind, double *percent, gint64 *resets_at);

/* The highest used percentage of USAGE's windows known at NOW; -1 when
 * neither is known. */
double cf_usage_peak (const CfUsage *usage, gint64 now);

G_END_DECLS
