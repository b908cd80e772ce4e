/* SPDX-License-Identifier: MIT */
/* cf_account_prep_ensure_async: what the launch sequence calls before a
 * session starts on an account in a project, answered from a worker thread. */
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "cf-account-prep.h"
#include "cf-test-util.h"

typedef struct {
  char *dir;
  char *home;
  char *project;
  CfConfig *config;
  GAsyncResult *result;
  guint ticks;                 /* main-loop iterations while the job ran */
} Fixture;

static CfConfig *
config_for (const char *home, gboolean prepare)
{
  g_autofree char *yaml = g_strdup_printf ("accounts:\n  - {name: main, home: %s}\n"
                                           "prepare_accounts: %s\n",
                                           home, prepare ? "true" : "false");
  g_autoptr(GError) error = NULL;
  CfConfig *config = cf_config_load_data (yaml, -1, "test.yaml", "/nonexistent", &error);

  g_assert_no_error (error);
  return config;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = cf_test_make_tmpdir ("cf-test-prep-XXXXXX");
  f->home = g_build_filename (f->dir, "home", NULL);
  f->project = g_build_filename (f->dir, "projects", "fresh", NULL);
  g_assert_cmpint (g_mkdir_with_parents (f->home, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (f->project, 0755), ==, 0);
  f->config = config_for (f->home, TRUE);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->result);
  cf_config_unref (f->config);
  cf_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->home);
  g_free (f->project);
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;

  f->result = g_object_ref (result);
}

static gboolean
tick (gpointer user_data)
{
  ((Fixture *) user_data)->ticks++;
  return G_SOURCE_CONTINUE;
}

static gboolean
has_result (gpointer fixture, gconstpointer data)
{
  return ((Fixture *) fixture)->result != NULL;
}

static gboolean
ensure (Fixture *f, CfAccountPrep *prep, const char *home, const char *project, GError **error)
{
  guint id = g_timeout_add (1, tick, f);

  g_clear_object (&f->result);
  cf_account_prep_ensure_async (prep, home, project, NULL, on_done, f);
  /* The answer comes through the main loop, never within the call. */
  g_assert_null (f->result);
  g_assert_true (cf_test_run_until (f, has_result, NULL, 10000));
  g_source_remove (id);
  return cf_account_prep_ensure_finish (prep, f->result, error);
}

static JsonObject *
read_object (const char *path, JsonParser *parser)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

static void
test_trusts_the_project (Fixture *f, gconstpointer data)
{
  g_autoptr(CfAccountPrep) prep = cf_account_prep_new (f->config, "/bin/sh");
  g_autofree char *global = g_build_filename (f->home, ".claude.json", NULL);
  g_autofree char *settings = g_build_filename (f->home, "settings.json", NULL);
  g_autofree char *worktrees = g_build_filename (f->project, ".agent-queue", "worktrees", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root, *projects;
  JsonArray *stop;

  cf_test_write_file (global, "{\"numStartups\": 3}\n");
  g_assert_true (ensure (f, prep, f->home, f->project, &error));
  g_assert_no_error (error);

  root = read_object (global, parser);
  g_assert_cmpint (json_object_get_int_member (root, "numStartups"), ==, 3);
  g_assert_true (json_object_get_boolean_member (root, "hasCompletedOnboarding"));
  projects = json_object_get_object_member (root, "projects");
  g_assert_true (json_object_get_boolean_member (json_object_get_object_member (projects, f->project),
                                                 "hasTrustDialogAccepted"));
  /* Covered by its trusted project: no entry of its own. */
  g_assert_false (json_object_has_member (projects, worktrees));

  root = read_object (settings, parser);
  g_assert_true (json_object_get_boolean_member (root, "skipDangerousModePermissionPrompt"));
  stop = json_object_get_array_member (json_object_get_object_member (root, "hooks"), "Stop");
  g_assert_cmpstr (json_object_get_string_member (
                     json_array_get_object_element (
                       json_object_get_array_member (json_array_get_object_element (stop, 0), "hooks"),
                       0),
                     "command"),
                   ==, "/bin/sh hook Stop");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (root, "statusLine"),
                                                  "command"),
                   ==, "/bin/sh statusline");

  /* Again: nothing to change, still ready. */
  g_assert_true (ensure (f, prep, f->home, f->project, &error));
  g_assert_no_error (error);
}

static void
test_failures_are_one_line (Fixture *f, gconstpointer data)
{
  g_autoptr(CfAccountPrep) prep = cf_account_prep_new (f->config, "/bin/sh");
  g_autofree char *missing = g_build_filename (f->dir, "nobody", NULL);
  g_autofree char *global = g_build_filename (f->home, ".claude.json", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (ensure (f, prep, "relative/home", f->project, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_false (ensure (f, prep, missing, f->project, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "log in once with CLAUDE_CONFIG_DIR="));
  g_assert_null (strchr (error->message, '\n'));
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  cf_test_write_file (global, "{\"projects\": [], \"keep\": true}");
  g_assert_false (ensure (f, prep, f->home, f->project, &error));
  g_assert_nonnull (strstr (error->message, "cannot change .claude.json: \"projects\" is not an object"));
  g_assert_null (strchr (error->message, '\n'));
  g_clear_error (&error);
  {
    g_autofree char *text = NULL;

    g_assert_true (g_file_get_contents (global, &text, NULL, NULL));
    g_assert_cmpstr (text, ==, "{\"projects\": [], \"keep\": true}");
  }
}

/* Run as root (tests, odd setups), the files stay the account owner's. */
static void
test_owner_kept (Fixture *f, gconstpointer data)
{
  g_autoptr(CfAccountPrep) prep = cf_account_prep_new (f->config, "/bin/sh");
  g_autofree char *global = g_build_filename (f->home, ".claude.json", NULL);
  g_autofree char *settings = g_build_filename (f->home, "settings.json", NULL);
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  if (geteuid () != 0)
    {
      g_test_skip ("needs root to give files to another user");
      return;
    }
  cf_test_write_file (global, "{}");
  g_assert_cmpint (chown (global, 4242, 4343), ==, 0);
  g_assert_cmpint (chmod (global, 0640), ==, 0);
  g_assert_cmpint (chown (f->home, 5151, 5252), ==, 0);
  g_assert_true (ensure (f, prep, f->home, f->project, &error));
  g_assert_no_error (error);
  /* The existing file keeps its owner and mode; the new one gets the home's owner. */
  g_assert_cmpint (g_stat (global, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, 4242);
  g_assert_cmpuint (st.st_gid, ==, 4343);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0640);
  g_assert_cmpint (g_stat (settings, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, 5151);
  g_assert_cmpuint (st.st_gid, ==, 5252);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0600);
}

static void
test_off_does_nothing (Fixture *f, gconstpointer data)
{
  g_autoptr(CfConfig) off = config_for (f->home, FALSE);
  g_autoptr(CfAccountPrep) prep = cf_account_prep_new (off, "/bin/sh");
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;

  g_assert_true (ensure (f, prep, f->home, f->project, &error));
  g_assert_no_error (error);
  dir = g_dir_open (f->home, 0, NULL);
  g_assert_null (g_dir_read_name (dir));
}

static void
test_all_reports_each_account (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) reports = cf_account_prep_all_sync (f->config, "/nonexistent/ctl");
  CfAccountPrepReport *report;

  g_assert_cmpuint (reports->len, ==, 1);
  report = g_ptr_array_index (reports, 0);
  g_assert_cmpstr (report->account, ==, "main");
  g_assert_false (report->ok);
  g_assert_nonnull (strstr (report->line, "hooks and statusline not installed: /nonexistent/ctl"));
  g_assert_nonnull (strstr (report->line, ".claude.json: added onboarding"));
}

int
main (int argc, char **argv)
{
  g_setenv ("LANGUAGE", "", TRUE);
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/account-prep/ensure/trusts-the-project", Fixture, NULL, fixture_set_up,
              test_trusts_the_project, fixture_tear_down);
  g_test_add ("/account-prep/ensure/failures", Fixture, NULL, fixture_set_up,
              test_failures_are_one_line, fixture_tear_down);
  g_test_add ("/account-prep/ensure/owner-kept", Fixture, NULL, fixture_set_up, test_owner_kept,
              fixture_tear_down);
  g_test_add ("/account-prep/ensure/off", Fixture, NULL, fixture_set_up, test_off_does_nothing,
              fixture_tear_down);
  g_test_add ("/account-prep/all", Fixture, NULL, fixture_set_up, test_all_reports_each_account,
              fixture_tear_down);
  return g_test_run ();
}
