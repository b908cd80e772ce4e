/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Parses the reset part of a limit message, relative to NOW_UNIX, and returns
 * the next instant matching it (never in the past by more than a minute), in
 * the zone the text names, else LOCAL_ZONE (NULL = UTC). Accepted forms:
 *   "9am", "8pm", "11:30pm", "at 11:30pm", "2pm (Pacific/Auckland)",
 *   "9am (America/Chicago)", "Jul 31, 2am (UTC)", "Jul 31 at 2am",
 *   "in 45 minutes", "in 2 hours", "in 1h 30m", and "|1760004000" epochs.
 * The first time expression in TEXT wins, so a whole message line works too.
 * Epochs and dates with an explicit year are absolute and returned as they
 * are, even when past. A wall time skipped by DST resolves to the instant the
 * clock jumps; a repeated one to its next occurrence. An unknown or malformed
 * zone name falls back to LOCAL_ZONE. Returns NULL when TEXT holds no reset
 * time (or names an impossible date, or NOW_UNIX is outside years 1..9999).
 * Pure. */
GDateTime *cf_reset_time_parse (const char *text,
                                gint64 now_unix,
                                GTimeZone *local_zone);

G_END_DECLS
