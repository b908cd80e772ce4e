/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the account-file merges: any bytes as .claude.json
 * or settings.json either merge into text that parses again and merges to
 * itself (nothing left to change), or fail with one CF_CLAUDE_FILES_ERROR
 * line; never crash. The first line of the input is a project directory. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-claude-files.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef gboolean (*MergeFunc) (const char *text, gsize length, const char *dir, char **out,
                               CfClaudeChanges *changes, GError **error);

static gboolean
merge_global (const char *text, gsize length, const char *dir, char **out,
              CfClaudeChanges *changes, GError **error)
{
  const char *dirs[] = { dir, "/srv/fuzz", NULL };

  return cf_claude_files_merge_global_text (text, length, dirs, out, changes, error);
}

static gboolean
merge_settings (const char *text, gsize length, const char *dir, char **out,
                CfClaudeChanges *changes, GError **error)
{
  return cf_claude_files_merge_settings_text (text, length, "/usr/bin/claude-failoverctl", out,
                                              changes, error);
}

static void
check (MergeFunc merge, const char *text, gsize length, const char *dir)
{
  g_auto(CfClaudeChanges) changes = { 0 };
  g_auto(CfClaudeChanges) again = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *out2 = NULL;

  cf_claude_changes_init (&changes);
  cf_claude_changes_init (&again);
  if (!merge (text, length, dir, &out, &changes, &error))
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == CF_CLAUDE_FILES_ERROR);
      g_assert_null (strchr (error->message, '\n'));
      g_assert_null (out);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpint (out != NULL, ==, cf_claude_changes_any (&changes));
  if (out == NULL)
    return;
  g_assert_true (g_utf8_validate (out, -1, NULL));
  if (!merge (out, strlen (out), dir, &out2, &again, &error))
    g_error ("merged text refused: %s\n%s", error->message, out);
  g_assert_null (out2);
  g_assert_false (cf_claude_changes_any (&again));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *newline = memchr (data, '\n', size);
  g_autofree char *dir = NULL;
  g_autofree char *text = NULL;
  gsize length;

  if (newline == NULL)
    return 0;
  dir = g_strndup ((const char *) data, (gsize) (newline - data));
  length = size - (gsize) (newline - data) - 1;
  /* A copy of exactly the file's bytes, so ASan sees any read past it. */
  text = length > 0 ? g_memdup2 (newline + 1, length) : g_strdup ("");
  check (merge_global, text, length, dir);
  check (merge_settings, text, length, dir);
  return 0;
}
