/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Task dependencies (frontmatter depends_on, ARCHITECTURE.md 4.9): whether
 * a task may start, wait, or must fail. Pure: the caller tells where each
 * task of the project is through LOOKUP. */

typedef enum {
  CF_DEPENDS_READY,            /* every dependency is in done/ */
  CF_DEPENDS_WAIT,             /* some dependency is still queued or running */
  CF_DEPENDS_FAIL,             /* a dependency failed, is unknown, or a cycle */
} CfDependsVerdict;

typedef enum {
  CF_DEPENDS_PLACE_UNKNOWN,    /* in no queue directory */
  CF_DEPENDS_PLACE_QUEUED,     /* inbox/ or active/ */
  CF_DEPENDS_PLACE_DONE,
  CF_DEPENDS_PLACE_FAILED,
} CfDependsPlace;

/* Where task ID is; for a QUEUED task *OUT_DEPENDS_ON its own depends_on
 * (may stay NULL: none), for a FAILED one *OUT_REASON why (may stay NULL).
 * Both are borrowed for the duration of the check. */
typedef CfDependsPlace (*CfDependsLookup) (const char *id,
                                           const char *const **out_depends_on,
                                           const char **out_reason,
                                           gpointer user_data);

/* *OUT_REASON (not NULL for WAIT and FAIL) is one translated line naming the
 * dependency: "waiting for a, b", "dependency a failed: …", "depends on
 * unknown task a", "dependency cycle: t → a → t". A failed or unknown
 * dependency wins over waiting; a cycle is found through queued tasks
 * only (a done or failed task never waits again), at most 10 000 visited. */
CfDependsVerdict cf_depends_check (const char *id,
                                   const char *const *depends_on,
                                   CfDependsLookup lookup,
                                   gpointer user_data,
                                   char **out_reason);

G_END_DECLS
