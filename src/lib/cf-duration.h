/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Parses "500ms", "30s", "5m", "1h30m", "2h", "0" (bare integers are seconds).
 * Components must appear in descending order (h, m, s, ms, us), each at most
 * once; no sign, no fractions, no spaces.
 * Returns TRUE and stores microseconds in *out_usec; FALSE on any syntax error
 * or overflow. Pure. */
gboolean cf_duration_parse (const char *text, gint64 *out_usec);

/* Formats microseconds as the shortest duration string cf_duration_parse accepts
 * ("1h30m", "500ms", "0s"). Returns a newly allocated string. */
char *cf_duration_format (gint64 usec);

G_END_DECLS
