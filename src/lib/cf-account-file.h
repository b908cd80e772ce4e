/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* The one recipe for changing a file Claude Code owns in an account home
 * (.claude.json, settings.json), shared by the daemon (in a worker thread)
 * and claude-failoverctl install-hooks. Blocking I/O: never call it on the
 * main loop.
 *
 * Claude Code 2.1.332 writes both files under a proper-lockfile lock: it
 * creates the directory "<file>.lock" with mkdir(2) (the file's real path,
 * symbolic links followed), touches its mtime while it holds it, writes
 * "<file>.tmp.<pid>.<hex>", renames it over the file and removes the
 * directory; a lock directory older than 10 s counts as stale (its holder
 * died) and is removed by the next writer. We take the same lock, so that
 * neither write is lost, and replace the file the same way: a temporary
 * file in the same directory, renamed over it, with the original's mode and
 * owner. */

/* A lock directory this old (mtime, ms) belongs to a dead writer. */
#define CF_ACCOUNT_FILE_LOCK_STALE_MS 10000

typedef struct {
  guint lock_wait_ms;          /* give up on a held lock after this long */
  mode_t new_mode;             /* for a file that does not exist yet */
  uid_t new_uid;               /* owner of a new file; (uid_t) -1 = ours */
  gid_t new_gid;
  gsize max_size;              /* refuse bigger files */
} CfAccountFileOptions;

void cf_account_file_options_init (CfAccountFileOptions *options);

/* Turns TEXT (LENGTH bytes; NULL when the file does not exist) into
 * *OUT_TEXT, or NULL when nothing is to change. FALSE with ERROR leaves the
 * file as it is. */
typedef gboolean (*CfAccountFileMergeFunc) (const char *text,
                                            gsize length,
                                            char **out_text,
                                            gpointer user_data,
                                            GError **error);

/* Under Claude Code's lock: reads PATH (or the file its symbolic link
 * points to), calls MERGE, and replaces the file with its answer. Never
 * follows a link for the temporary file, never writes through anything but
 * a regular file. *WRITTEN_PATH (may be NULL) gets the path changed, or
 * NULL when nothing changed. G_IO_ERROR_BUSY when the lock stayed held. */
gboolean cf_account_file_update (const char *path,
                                 const CfAccountFileOptions *options,
                                 CfAccountFileMergeFunc merge,
                                 gpointer user_data,
                                 char **written_path,
                                 GError **error);

G_END_DECLS
