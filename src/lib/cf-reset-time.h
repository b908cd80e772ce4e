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
 * Returns NULL when TEXT holds no reset time. Pure. */
GDateTime *cf_reset_time_parse (const char *text,
                                gint64 now_unix,
                                GTimeZone *local_zone);

G_END_DECLS
