/* SPDX-License-Identifier: MIT */
/* The switcher's file-system steps in worker threads (cf-switcher-links):
 * what each does to a real temporary layout, the messages of its errors,
 * and that its result comes back on the caller's main context. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "cf-switcher.h"
#include "cf-switcher-links.h"
#include "cf-symlinks.h"
#include "cf-test-util.h"

typedef struct {
  char *dir;
  char *link;                  /* <dir>/claude */
  CfConfig *config;
  /* the last result */
  gboolean done;
  gboolean ok;
  char *text;
  GError *error;
  GThread *callback_thread;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autofree char *yaml = NULL;
  g_autoptr(GError) error = NULL;

  f->dir = cf_test_make_tmpdir ("cf-switcher-links-XXXXXX");
  f->link = g_build_filename (f->dir, "claude", NULL);
  yaml = g_strdup_printf ("accounts:\n"
                          "  - {name: main, home: %s/home-a}\n"
                          "  - {name: backup, home: %s/home-b}\n"
                          "claude_link: %s\n"
                          "shared_state: {root: %s/shared, entries: [projects, todos]}\n",
                          f->dir, f->dir, f->link, f->dir);
  f->config = cf_config_load_data (yaml, -1, "test.yaml", f->dir, &error);
  g_assert_no_error (error);
}

static void
reset_result (Fixture *f)
{
  f->done = FALSE;
  f->ok = FALSE;
  g_clear_pointer (&f->text, g_free);
  g_clear_error (&f->error);
  f->callback_thread = NULL;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  reset_result (f);
  cf_config_unref (f->config);
  cf_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->link);
}

static gboolean
is_done (gpointer fixture, gconstpointer data)
{
  return ((Fixture *) fixture)->done;
}

static void
wait_done (Fixture *f)
{
  g_assert_true (cf_test_run_until (f, is_done, NULL, 10000));
  /* The result comes back on the loop that asked. */
  g_assert_true (f->callback_thread == g_thread_self ());
}

static void
on_pointed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;

  f->ok = cf_switcher_links_point_finish (result, &f->error);
  f->callback_thread = g_thread_self ();
  f->done = TRUE;
}

static void
on_rolled_back (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;

  f->ok = cf_switcher_links_rollback_finish (result, &f->error);
  f->callback_thread = g_thread_self ();
  f->done = TRUE;
}

static void
on_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;

  f->text = cf_switcher_links_check_finish (result, &f->error);
  f->ok = f->error == NULL;
  f->callback_thread = g_thread_self ();
  f->done = TRUE;
}

static void
on_clear_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;

  f->text = cf_switcher_links_clear_check_finish (result, &f->error);
  f->ok = f->error == NULL;
  f->callback_thread = g_thread_self ();
  f->done = TRUE;
}

static char *
link_target (const char *path)
{
  return g_file_read_link (path, NULL);
}

static char *
in_dir (Fixture *f, const char *relative)
{
  return g_build_filename (f->dir, relative, NULL);
}

static void
point (Fixture *f, const char *account)
{
  reset_result (f);
  cf_switcher_links_point_async (f->config, account, on_pointed, f);
  wait_done (f);
}

static void
rollback (Fixture *f, const char *account)
{
  reset_result (f);
  cf_switcher_links_rollback_async (f->config, account, on_rolled_back, f);
  wait_done (f);
}

static void
check (Fixture *f)
{
  reset_result (f);
  cf_switcher_links_check_async (f->config, NULL, on_checked, f);
  wait_done (f);
}

static void
clear_check (Fixture *f)
{
  reset_result (f);
  cf_switcher_links_clear_check_async (f->config, on_clear_checked, f);
  wait_done (f);
}

/* ClearPartialSwap's look at the layout: the account claude_link names, or
 * the one-line reason it cannot be cleared yet. */
static void
test_clear_check (Fixture *f, gconstpointer data)
{
  g_autofree char *elsewhere = in_dir (f, "elsewhere");
  g_autofree char *projects_b = in_dir (f, "home-b/projects");

  g_assert_cmpint (symlink (elsewhere, f->link), ==, 0);
  clear_check (f);
  g_assert_false (f->ok);
  g_assert_true (g_error_matches (f->error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_LAYOUT));
  g_assert_nonnull (strstr (f->error->message, "points to none of the account homes"));
  g_assert_cmpint (g_unlink (f->link), ==, 0);

  point (f, "backup");
  g_assert_true (f->ok);
  clear_check (f);
  g_assert_no_error (f->error);
  g_assert_cmpstr (f->text, ==, "backup");

  /* A wrong shared link: named, and nothing cleared. */
  g_assert_cmpint (g_unlink (projects_b), ==, 0);
  cf_test_write_file (projects_b, "mine\n");
  clear_check (f);
  g_assert_true (g_error_matches (f->error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_LAYOUT));
  g_assert_nonnull (strstr (f->error->message, projects_b));
}

static void
test_point_and_roll_back (Fixture *f, gconstpointer data)
{
  g_autofree char *home_a = in_dir (f, "home-a");
  g_autofree char *home_b = in_dir (f, "home-b");
  g_autofree char *shared = in_dir (f, "shared/projects");
  g_autofree char *projects_b = in_dir (f, "home-b/projects");
  g_autofree char *target = NULL;

  point (f, "main");
  g_assert_no_error (f->error);
  g_assert_true (f->ok);
  target = link_target (f->link);
  g_assert_cmpstr (target, ==, home_a);
  g_clear_pointer (&target, g_free);
  check (f);
  g_assert_true (f->ok);
  g_assert_null (f->text);

  /* The switch: the backup's shared links made, claude_link flipped. */
  point (f, "backup");
  g_assert_no_error (f->error);
  target = link_target (projects_b);
  g_assert_cmpstr (target, ==, shared);
  g_clear_pointer (&target, g_free);
  target = link_target (f->link);
  g_assert_cmpstr (target, ==, home_b);
  g_clear_pointer (&target, g_free);

  /* Its rollback points the link back at the account it came from. */
  rollback (f, "main");
  g_assert_no_error (f->error);
  g_assert_true (f->ok);
  target = link_target (f->link);
  g_assert_cmpstr (target, ==, home_a);
  g_clear_pointer (&target, g_free);

  /* Nothing to do: already there, or an account no longer configured. */
  rollback (f, "main");
  g_assert_true (f->ok);
  g_assert_true (cf_switcher_links_rollback (f->config, "gone", NULL));
  target = link_target (f->link);
  g_assert_cmpstr (target, ==, home_a);
}

static void
test_errors (Fixture *f, gconstpointer data)
{
  g_autofree char *projects_b = in_dir (f, "home-b/projects");
  g_autofree char *home_b = in_dir (f, "home-b");

  point (f, "gone");
  g_assert_false (f->ok);
  g_assert_nonnull (f->error);
  g_assert_nonnull (strstr (f->error->message, "no longer configured"));

  /* A real file where the backup's shared link goes: nothing is replaced. */
  g_assert_cmpint (g_mkdir_with_parents (home_b, 0700), ==, 0);
  cf_test_write_file (projects_b, "mine\n");
  point (f, "backup");
  g_assert_false (f->ok);
  g_assert_true (g_str_has_prefix (f->error->message, "shared links of backup: "));
  g_assert_null (strchr (f->error->message, '\n'));
  check (f);
  g_assert_true (f->ok);
  g_assert_nonnull (f->text);
  g_assert_nonnull (strstr (f->text, projects_b));
  g_assert_cmpint (g_unlink (projects_b), ==, 0);

  /* A directory where claude_link goes: the flip refuses it, and so does
   * the rollback (the switcher's partial swap). */
  g_assert_cmpint (g_mkdir (f->link, 0700), ==, 0);
  point (f, "backup");
  g_assert_false (f->ok);
  g_assert_true (g_str_has_prefix (f->error->message, "cannot point "));
  g_assert_nonnull (strstr (f->error->message, home_b));
  rollback (f, "main");
  g_assert_false (f->ok);
  g_assert_nonnull (f->error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/switcher-links/point-and-roll-back", Fixture, NULL, fixture_setup,
              test_point_and_roll_back, fixture_teardown);
  g_test_add ("/switcher-links/errors", Fixture, NULL, fixture_setup, test_errors,
              fixture_teardown);
  g_test_add ("/switcher-links/clear-check", Fixture, NULL, fixture_setup, test_clear_check,
              fixture_teardown);
  return g_test_run ();
}
