/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-config.h"

G_BEGIN_DECLS

/* A git worktree per task (ARCHITECTURE.md 4.9, docs/worktrees.md):
 *
 *   <project>/.agent-queue/worktrees/<id>        the worktree, on branch cf/<id>
 *   <project>/.agent-queue/worktrees/<id>.base   the project's HEAD when it was made
 *
 * The branch is never deleted by the daemon. All functions but the _async
 * ones run git and touch files: for a worker thread. */

#define CF_WORKTREE_DIR "worktrees"
#define CF_WORKTREE_BRANCH_PREFIX "cf/"

#define CF_WORKTREE_ERROR (cf_worktree_error_quark ())
GQuark cf_worktree_error_quark (void);

typedef enum {
  CF_WORKTREE_ERROR_NOT_GIT,   /* the project is not a git repository with a commit */
  CF_WORKTREE_ERROR_GIT,       /* a git command failed; the message has its stderr's last line */
} CfWorktreeError;

char *cf_worktree_path (const char *project, const char *id);

/* The worktree of task ID, made if missing (new branch cf/ID from the
 * project's HEAD, or the existing branch: a retry or a resume goes back to
 * it). *OUT_PATH the worktree directory. */
gboolean cf_worktree_ensure (const char *project, const char *id, char **out_path, GError **error);

/* The task ID ended (FAILED or done): the footer for its task file
 * (branch, commits since the base, diffstat, what became of the worktree),
 * NULL when the task has no worktree. The worktree is removed according to
 * KEEP; the branch stays. */
char *cf_worktree_conclude (const char *project, const char *id, gboolean failed, CfKeepWorktrees keep);

/* Removes the worktrees (and .base files) of ids for which IS_LIVE returns
 * FALSE, then `git worktree prune`. Returns how many were removed. */
typedef gboolean (*CfWorktreeLiveFunc) (const char *project, const char *id);
guint cf_worktree_prune (const char *project, CfWorktreeLiveFunc is_live);

/* projects.keep_worktrees for the code that settles a finished task after
 * a crash and has no configuration of its own (cf_taskq_return_async);
 * the daemon sets it with each configuration. Thread-safe. */
void cf_worktree_set_keep_policy (CfKeepWorktrees keep);
CfKeepWorktrees cf_worktree_get_keep_policy (void);

void cf_worktree_ensure_async (const char *project, const char *id, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
/* The worktree path, or NULL with ERROR. */
char *cf_worktree_ensure_finish (GAsyncResult *result, GError **error);

/* Keeps the verdict (FAILED, REASON) pending first when the task has a
 * worktree (cf_taskq_keep_verdict). */
void cf_worktree_conclude_async (const char *project, const char *id, gboolean failed, const char *reason,
                                 CfKeepWorktrees keep, GAsyncReadyCallback callback, gpointer user_data);
/* The footer, NULL when none (never an error). */
char *cf_worktree_conclude_finish (GAsyncResult *result);

G_END_DECLS
