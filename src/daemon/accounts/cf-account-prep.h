/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-config.h"

G_BEGIN_DECLS

/* Keeps each account home launchable without a person (prepare_accounts,
 * ARCHITECTURE.md 4.9): merges into <home>/.claude.json onboarding done and
 * the projects trusted, and into <home>/settings.json the bypass-permissions
 * warning accepted, the claude-failoverctl hooks and statusline. The merges
 * are cf-claude-files', the writes cf-account-file's (under Claude Code's own
 * lock, atomic, mode and owner kept); .credentials.json is never touched.
 * All file I/O runs in GTask worker threads, never on the main loop.
 *
 * The projects trusted: each subdirectory of projects.dir, projects.extra,
 * each dedicated session's project, and the worktree root
 * <project>/.agent-queue/worktrees of each (covered by its trusted project,
 * as Claude Code 2.1.332 lets a trusted parent cover its subdirectories).
 * A path reached through a symbolic link is trusted under its real path too,
 * the one Claude sees as its working directory. */

#define CF_TYPE_ACCOUNT_PREP (cf_account_prep_get_type ())
G_DECLARE_FINAL_TYPE (CfAccountPrep, cf_account_prep, CF, ACCOUNT_PREP, GObject)

/* CTL_PROGRAM is the claude-failoverctl that hooks and the statusline run
 * (absolute); when it is not an executable file, hooks and statusline are
 * left out and the report says so. */
CfAccountPrep *cf_account_prep_new (CfConfig *config, const char *ctl_program);
void cf_account_prep_set_config (CfAccountPrep *self, CfConfig *config);
const char *cf_account_prep_get_ctl_program (CfAccountPrep *self);

/* What preparing one account did. */
typedef struct {
  char *account;
  char *line;                  /* what changed or could not change; no secrets */
  gboolean ok;                 /* everything is in place */
} CfAccountPrepReport;

/* Prepares every configured account (start-up, Reload). Does nothing when
 * prepare_accounts is false. The result is a GPtrArray of
 * CfAccountPrepReport*, one per account in config order, or an empty array
 * when preparation is off. */
void cf_account_prep_all_async (CfAccountPrep *self,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
GPtrArray *cf_account_prep_all_finish (CfAccountPrep *self,
                                       GAsyncResult *result);

/* For the launch sequence: before Claude starts in PROJECT_DIR (absolute)
 * with CLAUDE_CONFIG_DIR=ACCOUNT_HOME, makes sure that home has onboarding
 * done, PROJECT_DIR (and its worktree root) trusted, the bypass warning
 * accepted, the hooks and statusline installed, so that a project created
 * after start-up is trusted before its first task. Call it and wait for
 * the callback before launching; _finish returns TRUE when the home is
 * ready (or prepare_accounts is false: nothing is done), FALSE with a
 * one-line ERROR saying what could not be changed (e.g. G_IO_ERROR_BUSY:
 * Claude Code held its lock on the file for seconds). Safe to call for
 * several sessions at once: writes to one file are serialised by the lock.
 * Never blocks the caller. */
void cf_account_prep_ensure_async (CfAccountPrep *self,
                                   const char *account_home,
                                   const char *project_dir,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean cf_account_prep_ensure_finish (CfAccountPrep *self,
                                        GAsyncResult *result,
                                        GError **error);

/* The same work as cf_account_prep_all_async, blocking: for
 * `claude-failoverd --check-config`, before any main loop runs. */
GPtrArray *cf_account_prep_all_sync (CfConfig *config, const char *ctl_program);

/* The claude-failoverctl to install: $CF_CTL_PATH when set, else the
 * installed one. */
const char *cf_account_prep_default_ctl_program (void);

G_END_DECLS
