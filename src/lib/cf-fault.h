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

G_END_DECLS
