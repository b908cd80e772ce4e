/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "cf-config.h"

G_BEGIN_DECLS

/* Shared-state links (ARCHITECTURE.md 4.1 shared_state, 5): every account
 * home holds, for each entry E, a symlink <home>/E → <root>/E, so that a
 * conversation started under one account resumes under another. And the
 * claude_link (~/.claude) is a symlink to the active account's home.
 *
 * Nothing here ever deletes or replaces a file or directory that is not a
 * symlink we can recreate identically: a divergent link or a real file in
 * the way is reported, never "fixed" (it may hold the operator's data). */

#define CF_SYMLINKS_ERROR (cf_symlinks_error_quark ())
GQuark cf_symlinks_error_quark (void);

typedef enum {
  CF_LINK_OK,
  CF_LINK_MISSING,             /* nothing at the path: ensure creates it */
  CF_LINK_TARGET_MISSING,      /* the link is right, its target does not exist yet */
  CF_LINK_DIVERGENT,           /* a symlink to somewhere else */
  CF_LINK_OBSTRUCTED,          /* a file or directory (not a symlink) in the way */
  CF_LINK_TARGET_NOT_DIR,      /* the target exists and is not a directory */
  CF_LINK_HOME_NOT_DIR,        /* the account home exists and is not a directory */
  CF_LINK_UNREADABLE,          /* cannot be inspected (permissions, I/O) */
} CfLinkStatus;

/* The error codes are the CfLinkStatus of the problem. */
typedef CfLinkStatus CfSymlinksError;

/* TRUE for the statuses ensure repairs by itself (nothing is lost). */
gboolean cf_link_status_is_fixable (CfLinkStatus status);

typedef struct {
  char *account;               /* account name, or NULL for the claude_link */
  char *path;                  /* the link's path */
  char *expected;              /* what it should point to */
  char *found;                 /* what is there (readlink text, "directory", …), or NULL */
  CfLinkStatus status;
  char *message;               /* one line: what is wrong and what to do */
} CfLinkProblem;

void cf_link_problem_free (CfLinkProblem *problem);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfLinkProblem, cf_link_problem_free)

/* What is at LINK_PATH compared with a symlink to TARGET (absolute). A
 * relative link that resolves to TARGET counts as right. *FOUND (optional)
 * gets what is there. */
CfLinkStatus cf_symlinks_inspect (const char *link_path, const char *target, char **found);

/* Makes every <HOME>/<entry> a link to <ROOT>/<entry>: creates HOME, ROOT,
 * the targets (directories, 0700) and the missing links. Stops at the first
 * problem it must not fix (CF_SYMLINKS_ERROR, message naming the path and
 * the fix); links created before it stay (they are right). */
gboolean cf_symlinks_ensure (const char *home, const char *root, const char *const *entries,
                             GError **error);

/* Every problem of every account home and of the claude_link, at once.
 * INCLUDE_FIXABLE also lists what ensure would create. Result: GPtrArray of
 * CfLinkProblem* (empty when all is well), element free function set. The
 * claude_link must be absent or a symlink to one of the account homes. */
GPtrArray *cf_symlinks_validate_all (const CfConfig *config, gboolean include_fixable);

/* Points LINK_PATH at TARGET atomically: a new symlink beside it, then
 * rename(2) over the old one, so the link never disappears. Refuses to
 * replace anything but a symlink (CF_LINK_OBSTRUCTED). */
gboolean cf_symlinks_flip (const char *link_path, const char *target, GError **error);

/* The account whose home LINK_PATH points to, or NULL (absent, not a
 * link, or pointing elsewhere). */
const CfAccountConfig *cf_symlinks_link_account (const CfConfig *config, const char *link_path);

G_END_DECLS
