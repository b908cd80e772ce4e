/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Fault injection for crash-safety tests. A fault point is a named place
 * (e.g. "swap-switching") where the daemon has just made a step durable.
 * When the environment variable CF_FAULT_CRASH_AT lists NAME (comma-
 * separated), the process logs it and kills itself with SIGKILL there, as
 * an outside `kill -9` would, but deterministically. Unset (production),
 * a fault point costs one string comparison against a cached NULL. */
void cf_fault_point (const char *name);

/* TRUE when LIST (comma-separated names) contains NAME. Pure. */
gboolean cf_fault_list_contains (const char *list, const char *name);

/* Error injection: TRUE when the caller is to fail as if the operation at
 * NAME had failed (e.g. "taskq-finish-meta": the write of a finished task's
 * meta file). CF_FAULT_FAIL lists "NAME" (fail every time) or "NAME:N"
 * (fail the first N times in this process), comma-separated. Thread-safe;
 * unset, it costs one comparison against a cached NULL. */
gboolean cf_fault_fail (const char *name);

/* How many times LIST makes NAME fail: FALSE when it does not name it;
 * *out_times is G_MAXUINT for "NAME", N for "NAME:N". Pure. */
gboolean cf_fault_fail_times (const char *list, const char *name, guint *out_times);

G_END_DECLS
