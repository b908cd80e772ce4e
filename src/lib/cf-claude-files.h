/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* What the daemon and claude-failoverctl merge into a Claude Code account
 * home (CLAUDE_CONFIG_DIR) so that Claude starts without a person: text in,
 * text out, and the list of what changed. Pure: the callers read and write
 * the files (src/daemon/accounts/cf-account-prep.c, src/ctl/cf-ctl-install-hooks.c).
 *
 * .claude.json: "hasCompletedOnboarding": true (else Claude checks
 * api.anthropic.com and exits), and "projects": {"<dir>":
 * {"hasTrustDialogAccepted": true}} for each project not yet trusted by
 * itself or by a trusted parent (Claude 2.1.332 lets a trusted parent cover
 * its subdirectories). settings.json: "skipDangerousModePermissionPrompt":
 * true (the bypass-permissions warning), the hooks that run
 * `claude-failoverctl hook EVENT`, and "statusLine" running
 * `claude-failoverctl statusline`, an operator's own statusline command kept
 * behind `--then`. Every other key is kept as it was. */

#define CF_CLAUDE_FILES_ERROR (cf_claude_files_error_quark ())
GQuark cf_claude_files_error_quark (void);

typedef enum {
  CF_CLAUDE_FILES_ERROR_INVALID,   /* not UTF-8 JSON, or not an object at the top */
  CF_CLAUDE_FILES_ERROR_SHAPE,     /* a key we merge into has another type */
} CfClaudeFilesError;

/* Far deeper than any Claude Code file; bounds json-glib's recursion. */
#define CF_CLAUDE_FILES_MAX_DEPTH 128

/* The object of the LENGTH bytes of TEXT (need not be NUL-terminated); a
 * blank text is {}. Refused: not UTF-8, not strict JSON (comments, a second
 * value), values json-glib cannot write back unchanged, a top level that is
 * not an object. New node. */
JsonNode *cf_claude_files_parse (const char *text, gsize length, GError **error);

/* ROOT as Claude Code writes it (two-space JSON), with a trailing newline
 * when TRAILING_NEWLINE. */
char *cf_claude_files_to_text (JsonNode *root, gboolean trailing_newline);

/* What a merge did, as names a person reads in a log line: "onboarding",
 * "trust /abs/dir", "bypass-warning", a hook event ("Stop", ...),
 * "statusLine". The strings are static or owned by the arrays. */
typedef struct {
  GPtrArray *added;
  GPtrArray *updated;          /* ours, with another program path */
  GPtrArray *unchanged;
} CfClaudeChanges;

void cf_claude_changes_init (CfClaudeChanges *changes);
void cf_claude_changes_clear (CfClaudeChanges *changes);
gboolean cf_claude_changes_any (const CfClaudeChanges *changes);
/* "added X, Y; updated Z" or "" when nothing changed. */
char *cf_claude_changes_describe (const CfClaudeChanges *changes);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CfClaudeChanges, cf_claude_changes_clear)

/* The hook events the daemon acts on, NULL-terminated. */
const char *const *cf_claude_hook_events (void);

/* Merges into the .claude.json object ROOT onboarding done and each of the
 * absolute directories PROJECT_DIRS (NULL-terminated, may be NULL) trusted.
 * FALSE with ERROR when "projects" or one of its entries is not an object;
 * ROOT may then be half-changed and must not be written. */
gboolean cf_claude_merge_global (JsonObject *root,
                                 const char *const *project_dirs,
                                 CfClaudeChanges *changes,
                                 GError **error);

/* Merges into the settings.json object ROOT our hooks running PROGRAM (an
 * absolute path of claude-failoverctl): a hook already running
 * `claude-failoverctl hook EVENT` from another path is brought to PROGRAM.
 * FALSE with ERROR when "hooks" or one of its events has another shape. */
gboolean cf_claude_merge_hooks (JsonObject *root,
                                const char *program,
                                CfClaudeChanges *changes,
                                GError **error);

/* Merges into ROOT "statusLine" running `PROGRAM statusline`; an operator's
 * own statusline command goes behind `--then`. FALSE with ERROR when
 * "statusLine" is not an object or its command is not a string. */
gboolean cf_claude_merge_statusline (JsonObject *root,
                                     const char *program,
                                     CfClaudeChanges *changes,
                                     GError **error);

/* Merges into ROOT the bypass-permissions warning accepted. */
void cf_claude_merge_bypass_accepted (JsonObject *root, CfClaudeChanges *changes);

/* Everything the daemon prepares in settings.json: the bypass warning, and
 * with PROGRAM (may be NULL: none of them) the hooks and the statusline. */
gboolean cf_claude_merge_settings (JsonObject *root,
                                   const char *program,
                                   CfClaudeChanges *changes,
                                   GError **error);

/* Whole-file forms of the merges above: *OUT_TEXT is the new text, or NULL
 * when nothing changed; the trailing newline follows the original's. */
gboolean cf_claude_files_merge_global_text (const char *text,
                                            gsize length,
                                            const char *const *project_dirs,
                                            char **out_text,
                                            CfClaudeChanges *changes,
                                            GError **error);
gboolean cf_claude_files_merge_settings_text (const char *text,
                                              gsize length,
                                              const char *program,
                                              char **out_text,
                                              CfClaudeChanges *changes,
                                              GError **error);

G_END_DECLS
