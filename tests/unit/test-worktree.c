/* SPDX-License-Identifier: MIT */
/* cf-worktree on real git in a temporary repository: the worktree made
 * and reused, the footer and keep_worktrees, the janitor's prune. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "cf-test-util.h"
#include "cf-worktree.h"

typedef struct {
  char *root;
  char *project;
} Fixture;

static void
git (const char *dir, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_get_environ ();
  int status = 0;

  g_ptr_array_add (argv, (gpointer) "git");
  g_ptr_array_add (argv, (gpointer) "-C");
  g_ptr_array_add (argv, (gpointer) dir);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  envp = g_environ_setenv (envp, "GIT_AUTHOR_NAME", "t", TRUE);
  envp = g_environ_setenv (envp, "GIT_AUTHOR_EMAIL", "t@example.invalid", TRUE);
  envp = g_environ_setenv (envp, "GIT_COMMITTER_NAME", "t", TRUE);
  envp = g_environ_setenv (envp, "GIT_COMMITTER_EMAIL", "t@example.invalid", TRUE);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, envp,
                               G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                               NULL, NULL, NULL, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autofree char *readme = NULL;

  if (g_find_program_in_path ("git") == NULL)
    return;
  f->root = cf_test_make_tmpdir ("cf-test-worktree-XXXXXX");
  f->project = g_build_filename (f->root, "repo", NULL);
  g_mkdir_with_parents (f->project, 0755);
  readme = g_build_filename (f->project, "README", NULL);
  cf_test_write_file (readme, "base\n");
  git (f->project, (const char *[]) { "init", "-q", "-b", "main", NULL });
  git (f->project, (const char *[]) { "add", "README", NULL });
  git (f->project, (const char *[]) { "commit", "-q", "-m", "base", NULL });
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  if (f->root != NULL)
    cf_test_remove_tree (f->root);
  g_free (f->root);
  g_free (f->project);
}

static gboolean
skipped (Fixture *f)
{
  if (f->root == NULL)
    g_test_skip ("git is not installed");
  return f->root == NULL;
}

static char *
commit_in (const char *worktree, const char *name)
{
  g_autofree char *file = g_build_filename (worktree, name, NULL);
  g_autofree char *message = g_strdup_printf ("add %s", name);

  cf_test_write_file (file, "x\n");
  git (worktree, (const char *[]) { "add", name, NULL });
  git (worktree, (const char *[]) { "commit", "-q", "-m", message, NULL });
  return g_steal_pointer (&message);
}

static void
test_ensure_reuses (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL;
  g_autofree char *again = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *marker = NULL;

  if (skipped (f))
    return;
  expected = g_build_filename (f->project, ".agent-queue", "worktrees", "t1", NULL);
  g_assert_true (cf_worktree_ensure (f->project, "t1", &first, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (first, ==, expected);
  /* Work left in it survives a second ensure (a retry, a resume). */
  marker = g_build_filename (first, "work-in-progress", NULL);
  cf_test_write_file (marker, "x\n");
  g_assert_true (cf_worktree_ensure (f->project, "t1", &again, &error));
  g_assert_cmpstr (again, ==, expected);
  g_assert_true (g_file_test (marker, G_FILE_TEST_EXISTS));
}

static void
test_not_git (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *plain = NULL;
  g_autofree char *path = NULL;

  if (skipped (f))
    return;
  plain = g_build_filename (f->root, "plain", NULL);
  g_mkdir_with_parents (plain, 0755);
  g_assert_false (cf_worktree_ensure (plain, "t1", &path, &error));
  g_assert_error (error, CF_WORKTREE_ERROR, CF_WORKTREE_ERROR_NOT_GIT);
  g_assert_nonnull (strstr (error->message, "is not a git repository"));
  g_assert_null (strchr (error->message, '\n'));
}

typedef struct {
  const char *name;
  CfKeepWorktrees keep;
  gboolean failed;
  gboolean dirty;
  gboolean removed;
  const char *fate;
} KeepCase;

static const KeepCase keep_cases[] = {
  { "on-failure-clean-done", CF_KEEP_WORKTREES_ON_FAILURE, FALSE, FALSE, TRUE, "removed)" },
  { "on-failure-dirty", CF_KEEP_WORKTREES_ON_FAILURE, FALSE, TRUE, FALSE, "kept: it has uncommitted changes)" },
  { "on-failure-failed", CF_KEEP_WORKTREES_ON_FAILURE, TRUE, FALSE, FALSE, "kept: the task failed)" },
  { "always", CF_KEEP_WORKTREES_ALWAYS, FALSE, FALSE, FALSE, "kept (keep_worktrees: always))" },
  { "never-dirty", CF_KEEP_WORKTREES_NEVER, TRUE, TRUE, TRUE,
    "removed with its uncommitted changes (keep_worktrees: never))" },
};

static void
test_conclude (Fixture *f, gconstpointer data)
{
  const KeepCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *footer = NULL;
  g_autofree char *branch_line = NULL;

  if (skipped (f))
    return;
  g_assert_true (cf_worktree_ensure (f->project, "t1", &path, &error));
  subject = commit_in (path, "one.c");
  if (c->dirty)
    {
      g_autofree char *loose = g_build_filename (path, "loose.c", NULL);
      cf_test_write_file (loose, "y\n");
    }
  footer = cf_worktree_conclude (f->project, "t1", c->failed, c->keep);
  g_assert_nonnull (footer);
  branch_line = g_strdup_printf ("Branch: cf/t1 (worktree .agent-queue/worktrees/t1: %s\n", c->fate);
  if (strstr (footer, branch_line) == NULL)
    g_error ("%s: %s not in %s", c->name, branch_line, footer);
  g_assert_nonnull (strstr (footer, subject));
  g_assert_nonnull (strstr (footer, "one.c"));
  g_assert_nonnull (strstr (footer, "1 file changed"));
  g_assert_cmpint (g_file_test (path, G_FILE_TEST_EXISTS), ==, !c->removed);
  /* No worktree, no footer: a shared task's completion is untouched. */
  g_assert_null (cf_worktree_conclude (f->project, "other", FALSE, c->keep));
}

static gboolean
only_t2_lives (const char *project, const char *id)
{
  return g_str_equal (id, "t2");
}

static void
test_prune (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *gone = NULL;
  g_autofree char *live = NULL;

  if (skipped (f))
    return;
  g_assert_true (cf_worktree_ensure (f->project, "t1", &gone, &error));
  g_assert_true (cf_worktree_ensure (f->project, "t2", &live, &error));
  g_assert_cmpuint (cf_worktree_prune (f->project, only_t2_lives), ==, 1);
  g_assert_false (g_file_test (gone, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (live, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (cf_worktree_prune (f->project, only_t2_lives), ==, 0);
  /* The branch of the pruned worktree stays: ensure finds and reuses it. */
  g_clear_pointer (&gone, g_free);
  g_assert_true (cf_worktree_ensure (f->project, "t1", &gone, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/worktree/ensure-reuses", Fixture, NULL, fixture_set_up, test_ensure_reuses, fixture_tear_down);
  g_test_add ("/worktree/not-git", Fixture, NULL, fixture_set_up, test_not_git, fixture_tear_down);
  g_test_add ("/worktree/prune", Fixture, NULL, fixture_set_up, test_prune, fixture_tear_down);
  for (guint i = 0; i < G_N_ELEMENTS (keep_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/worktree/conclude/%s", keep_cases[i].name);
      g_test_add (path, Fixture, &keep_cases[i], fixture_set_up, test_conclude, fixture_tear_down);
    }
  return g_test_run ();
}
