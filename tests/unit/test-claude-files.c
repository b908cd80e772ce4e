/* SPDX-License-Identifier: MIT */
/* The merges of an account's .claude.json and settings.json: text in, text
 * and the list of changes out. */
#include <glib.h>
#include <string.h>

#include "cf-claude-files.h"

#define CTL "/usr/bin/claude-failoverctl"

typedef struct {
  const char *name;
  const char *input;
  const char *dirs[4];
  const char *output;          /* NULL: nothing changes */
  const char *added;           /* the changes, joined with "|" */
  const char *unchanged;
  int error;                   /* -1: none */
} GlobalCase;

static const GlobalCase global_cases[] = {
  { "empty file", "", { "/srv/p", NULL },
    "{\n  \"hasCompletedOnboarding\": true,\n  \"projects\": {\n    \"/srv/p\": {\n"
    "      \"hasTrustDialogAccepted\": true\n    }\n  }\n}\n",
    "onboarding|trust /srv/p", "", -1 },
  { "keeps unknown keys and order",
    "{\"numStartups\": 3, \"userID\": \"u\", \"projects\": {\"/srv/p\": {\"allowedTools\": [],"
    " \"hasTrustDialogAccepted\": false}}}",
    { "/srv/p", NULL },
    "{\n  \"numStartups\": 3,\n  \"userID\": \"u\",\n  \"projects\": {\n    \"/srv/p\": {\n"
    "      \"allowedTools\": [],\n      \"hasTrustDialogAccepted\": true\n    }\n  },\n"
    "  \"hasCompletedOnboarding\": true\n}",
    "onboarding|trust /srv/p", "", -1 },
  { "already prepared",
    "{\"hasCompletedOnboarding\": true, \"projects\": {\"/srv/p\": {\"hasTrustDialogAccepted\": true}}}\n",
    { "/srv/p", "/srv/p/", NULL }, NULL, "", "onboarding|trust /srv/p|trust /srv/p", -1 },
  { "a trusted parent covers its subdirectories",
    "{\"hasCompletedOnboarding\": true, \"projects\": {\"/srv\": {\"hasTrustDialogAccepted\": true}}}",
    { "/srv/p/.agent-queue/worktrees", "/srvx", NULL },
    "{\n  \"hasCompletedOnboarding\": true,\n  \"projects\": {\n    \"/srv\": {\n"
    "      \"hasTrustDialogAccepted\": true\n    },\n    \"/srvx\": {\n"
    "      \"hasTrustDialogAccepted\": true\n    }\n  }\n}",
    "trust /srvx", "onboarding|trust /srv/p/.agent-queue/worktrees", -1 },
  { "onboarding only, relative dirs ignored", "{\"hasCompletedOnboarding\": false}\n",
    { "relative/dir", NULL }, "{\n  \"hasCompletedOnboarding\": true\n}\n", "onboarding", "", -1 },
  { "a string for true is not true", "{\"hasCompletedOnboarding\": \"true\"}", { NULL },
    "{\n  \"hasCompletedOnboarding\": true\n}", "onboarding", "", -1 },
  { "projects not an object", "{\"projects\": []}", { "/p", NULL }, NULL, "", "",
    CF_CLAUDE_FILES_ERROR_SHAPE },
  { "a project entry not an object", "{\"projects\": {\"/p\": 1}}", { "/p", NULL }, NULL, "", "",
    CF_CLAUDE_FILES_ERROR_SHAPE },
  { "not an object", "[1]", { NULL }, NULL, "", "", CF_CLAUDE_FILES_ERROR_INVALID },
  { "comments refused", "// x\n{}", { NULL }, NULL, "", "", CF_CLAUDE_FILES_ERROR_INVALID },
  { "two values refused", "{} {}", { NULL }, NULL, "", "", CF_CLAUDE_FILES_ERROR_INVALID },
  { "not UTF-8", "{\"a\": \"\xff\"}", { NULL }, NULL, "", "", CF_CLAUDE_FILES_ERROR_INVALID },
  { "huge integer refused", "{\"a\": 123456789012345678901234567890}", { NULL }, NULL, "", "",
    CF_CLAUDE_FILES_ERROR_INVALID },
};

static char *
joined (GPtrArray *items)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < items->len; i++)
    g_string_append_printf (text, "%s%s", i > 0 ? "|" : "", (char *) g_ptr_array_index (items, i));
  return g_strdup (text->str);
}

static void
check_changes (const CfClaudeChanges *changes, const char *added, const char *unchanged)
{
  g_autofree char *got_added = joined (changes->added);
  g_autofree char *got_unchanged = joined (changes->unchanged);

  g_assert_cmpstr (got_added, ==, added);
  g_assert_cmpstr (got_unchanged, ==, unchanged);
}

static void
test_global (void)
{
  g_test_set_nonfatal_assertions ();
  for (gsize i = 0; i < G_N_ELEMENTS (global_cases); i++)
    {
      const GlobalCase *c = &global_cases[i];
      g_auto(CfClaudeChanges) changes = { 0 };
      g_autoptr(GError) error = NULL;
      g_autofree char *out = NULL;
      gboolean ok;

      g_test_message ("case %s", c->name);
      cf_claude_changes_init (&changes);
      ok = cf_claude_files_merge_global_text (c->input, strlen (c->input), c->dirs, &out,
                                              &changes, &error);
      if (c->error >= 0)
        {
          g_assert_false (ok);
          g_assert_error (error, CF_CLAUDE_FILES_ERROR, c->error);
          g_assert_null (out);
          if (error != NULL)
            g_assert_null (strchr (error->message, '\n'));
          continue;
        }
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpstr (out, ==, c->output);
      check_changes (&changes, c->added, c->unchanged);
      g_assert_cmpint (cf_claude_changes_any (&changes), ==, c->output != NULL);
    }
}

typedef struct {
  const char *name;
  const char *input;
  const char *program;         /* NULL: the bypass warning only */
  const char *statusline;      /* the expected statusLine command, NULL: none */
  const char *added;
  const char *updated;
  int error;
} SettingsCase;

#define HOOKS "Stop|StopFailure|SessionStart|UserPromptSubmit|Notification"

static const SettingsCase settings_cases[] = {
  { "empty", "", CTL, CTL " statusline", "bypass-warning|" HOOKS "|statusLine", "", -1 },
  { "bypass only", "{\"env\": {\"A\": \"1\"}}", NULL, NULL, "bypass-warning", "", -1 },
  { "the operator's statusline goes behind --then",
    "{\"skipDangerousModePermissionPrompt\": true, \"statusLine\": {\"type\": \"command\","
    " \"command\": \"bash ~/line.sh 'a b'\", \"padding\": 0}}",
    CTL, CTL " statusline --then 'bash ~/line.sh '\\''a b'\\'''", HOOKS "|statusLine", "", -1 },
  { "ours from another path is updated, --then kept",
    "{\"statusLine\": {\"type\": \"command\", \"command\": \"/old/claude-failoverctl statusline"
    " --then x\"}}",
    CTL, CTL " statusline --then 'x'", "bypass-warning|" HOOKS, "statusLine", -1 },
  { "a program path with a space is quoted", "{}", "/opt/c f/claude-failoverctl",
    "'/opt/c f/claude-failoverctl' statusline", "bypass-warning|" HOOKS "|statusLine", "", -1 },
  { "statusLine not an object", "{\"statusLine\": \"x\"}", CTL, NULL, "", "",
    CF_CLAUDE_FILES_ERROR_SHAPE },
  { "statusLine command not a string", "{\"statusLine\": {\"command\": null}}", CTL, NULL, "", "",
    CF_CLAUDE_FILES_ERROR_SHAPE },
  { "hooks not an object", "{\"hooks\": []}", CTL, NULL, "", "", CF_CLAUDE_FILES_ERROR_SHAPE },
  { "an event not a list", "{\"hooks\": {\"Stop\": {}}}", CTL, NULL, "", "",
    CF_CLAUDE_FILES_ERROR_SHAPE },
};

static void
test_settings (void)
{
  g_test_set_nonfatal_assertions ();
  for (gsize i = 0; i < G_N_ELEMENTS (settings_cases); i++)
    {
      const SettingsCase *c = &settings_cases[i];
      g_auto(CfClaudeChanges) changes = { 0 };
      g_autoptr(GError) error = NULL;
      g_autofree char *out = NULL;
      g_autofree char *added = NULL;
      g_autofree char *updated = NULL;
      g_autoptr(JsonNode) root = NULL;
      JsonObject *object;
      gboolean ok;

      g_test_message ("case %s", c->name);
      cf_claude_changes_init (&changes);
      ok = cf_claude_files_merge_settings_text (c->input, strlen (c->input), c->program, &out,
                                                &changes, &error);
      if (c->error >= 0)
        {
          g_assert_false (ok);
          g_assert_error (error, CF_CLAUDE_FILES_ERROR, c->error);
          continue;
        }
      g_assert_no_error (error);
      g_assert_nonnull (out);
      if (out == NULL)
        continue;
      added = joined (changes.added);
      updated = joined (changes.updated);
      g_assert_cmpstr (added, ==, c->added);
      g_assert_cmpstr (updated, ==, c->updated);
      root = cf_claude_files_parse (out, strlen (out), &error);
      g_assert_no_error (error);
      object = json_node_get_object (root);
      g_assert_true (json_object_get_boolean_member (object, "skipDangerousModePermissionPrompt"));
      if (c->statusline != NULL)
        g_assert_cmpstr (json_object_get_string_member (
                           json_object_get_object_member (object, "statusLine"), "command"),
                         ==, c->statusline);
      else
        g_assert_false (json_object_has_member (object, "statusLine"));
      /* Merging the result again changes nothing. */
      {
        g_auto(CfClaudeChanges) again = { 0 };
        g_autofree char *out2 = NULL;

        cf_claude_changes_init (&again);
        g_assert_true (cf_claude_files_merge_settings_text (out, strlen (out), c->program, &out2,
                                                            &again, NULL));
        g_assert_null (out2);
        g_assert_cmpuint (again.added->len + again.updated->len, ==, 0);
      }
    }
}

static void
test_describe (void)
{
  g_auto(CfClaudeChanges) changes = { 0 };
  g_autofree char *none = NULL;
  g_autofree char *both = NULL;

  cf_claude_changes_init (&changes);
  none = cf_claude_changes_describe (&changes);
  g_assert_cmpstr (none, ==, "");
  g_ptr_array_add (changes.added, g_strdup ("onboarding"));
  g_ptr_array_add (changes.added, g_strdup ("trust /p"));
  g_ptr_array_add (changes.updated, g_strdup ("Stop"));
  both = cf_claude_changes_describe (&changes);
  g_assert_cmpstr (both, ==, "added onboarding, trust /p; updated Stop");
}

int
main (int argc, char **argv)
{
  g_setenv ("LANGUAGE", "", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/claude-files/global", test_global);
  g_test_add_func ("/claude-files/settings", test_settings);
  g_test_add_func ("/claude-files/describe", test_describe);
  return g_test_run ();
}
