/* SPDX-License-Identifier: MIT */
/* cf-worktree on real git in a temporary repository: the worktree made
 * and reused, the footer and keep_worktrees, the janitor's prune, and no
 * two of them changing one repository's worktrees at once. */
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

/* ---- one repository, many tasks at once ---------------------------------
 *
 * The tests run git through a wrapper first in PATH (written by main).
 * With CF_TEST_GIT_WATCH set to a directory, a `git -C DIR worktree …`
 * holds DIR/busy (an atomic mkdir) for its run plus 100 ms, and one that
 * finds it held appends itself to DIR/overlaps: two worktree changes of
 * one repository at the same time, which git's own bookkeeping does not
 * survive (the prune of one deletes the <git>/worktrees an add has just
 * made). Unset, the wrapper is only git. */

#define CONCURRENT 6

static char *wrapper_dir;

static void
write_git_wrapper (void)
{
  g_autofree char *real = g_find_program_in_path ("git");
  g_autofree char *script = NULL;
  g_autofree char *bin = NULL;
  g_autofree char *path = NULL;
  g_autofree char *search = NULL;

  if (real == NULL)
    return;
  wrapper_dir = cf_test_make_tmpdir ("cf-test-worktree-bin-XXXXXX");
  bin = g_build_filename (wrapper_dir, "git", NULL);
  script = g_strdup_printf ("#!/bin/sh\n"
                            "real='%s'\n"
                            "w=\"$CF_TEST_GIT_WATCH\"\n"
                            "if [ -n \"$w\" ] && [ \"$1\" = -C ] && [ \"$3\" = worktree ]; then\n"
                            "  if mkdir \"$w/busy\" 2>/dev/null; then\n"
                            "    sleep 0.1; \"$real\" \"$@\"; rc=$?; rmdir \"$w/busy\"; exit $rc\n"
                            "  fi\n"
                            "  echo \"git worktree $4 (another was running)\" >>\"$w/overlaps\"\n"
                            "fi\n"
                            "exec \"$real\" \"$@\"\n", real);
  cf_test_write_file (bin, script);
  g_assert_cmpint (g_chmod (bin, 0755), ==, 0);
  path = g_strdup (g_getenv ("PATH"));
  search = g_strconcat (wrapper_dir, G_SEARCHPATH_SEPARATOR_S, path != NULL ? path : "/usr/bin:/bin", NULL);
  g_setenv ("PATH", search, TRUE);
}

/* Starts watching (before any worker runs: g_setenv is not thread-safe). */
static char *
watch_start (Fixture *f)
{
  char *watch = g_build_filename (f->root, "watch", NULL);

  g_assert_cmpint (g_mkdir_with_parents (watch, 0755), ==, 0);
  g_setenv ("CF_TEST_GIT_WATCH", watch, TRUE);
  return watch;
}

/* Stops watching (all workers joined) and fails on an overlap. */
static void
watch_stop (const char *watch)
{
  g_autofree char *overlaps = g_build_filename (watch, "overlaps", NULL);
  g_autofree char *text = NULL;

  g_unsetenv ("CF_TEST_GIT_WATCH");
  if (g_file_get_contents (overlaps, &text, NULL, NULL))
    g_error ("git worktree commands of one repository ran at the same time:\n%s", text);
}

static guint
worktree_count (const char *project)
{
  g_autofree char *out = NULL;
  g_autofree char *cmd = g_strdup_printf ("git -C '%s' worktree list --porcelain", project);
  int status = 0;
  guint count = 0;

  g_assert_true (g_spawn_command_line_sync (cmd, &out, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  for (const char *p = out; (p = strstr (p, "worktree ")) != NULL; p++)
    if (p == out || p[-1] == '\n')
      count++;
  return count;
}

static void
assert_checkout_of (const char *path, const char *id)
{
  g_autofree char *cmd = g_strdup_printf ("git -C '%s' symbolic-ref --short HEAD", path);
  g_autofree char *out = NULL;
  g_autofree char *expected = g_strdup_printf ("cf/%s", id);
  int status = 0;

  g_assert_true (g_spawn_command_line_sync (cmd, &out, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpstr (g_strstrip (out), ==, expected);
}

typedef struct {
  guint pending;
  char *paths[CONCURRENT];
  GError *errors[CONCURRENT];
} Ensures;

typedef struct {
  Ensures *all;
  guint index;
} EnsureSlot;

static void
on_ensured (GObject *source, GAsyncResult *result, gpointer data)
{
  EnsureSlot *slot = data;

  slot->all->paths[slot->index] = cf_worktree_ensure_finish (result, &slot->all->errors[slot->index]);
  slot->all->pending--;
  g_free (slot);
}

static gboolean
ensures_done (gpointer fixture, gconstpointer data)
{
  const Ensures *all = data;

  return all->pending == 0;
}

/* What the dispatcher does when several tasks of one project start at once. */
static void
test_concurrent_ensure (Fixture *f, gconstpointer data)
{
  Ensures all = { 0 };
  g_autofree char *watch = NULL;

  if (skipped (f))
    return;
  watch = watch_start (f);
  for (guint i = 0; i < CONCURRENT; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%u", i + 1);
      EnsureSlot *slot = g_new0 (EnsureSlot, 1);

      slot->all = &all;
      slot->index = i;
      all.pending++;
      cf_worktree_ensure_async (f->project, id, NULL, on_ensured, slot);
    }
  g_assert_true (cf_test_run_until (f, ensures_done, &all, 60000));
  watch_stop (watch);
  for (guint i = 0; i < CONCURRENT; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%u", i + 1);
      g_autofree char *expected = g_build_filename (f->project, ".agent-queue", "worktrees", id, NULL);

      g_assert_no_error (all.errors[i]);
      g_assert_cmpstr (all.paths[i], ==, expected);
      assert_checkout_of (all.paths[i], id);
      g_free (all.paths[i]);
    }
  g_assert_cmpuint (worktree_count (f->project), ==, CONCURRENT + 1);
}

typedef enum { OP_ENSURE, OP_CONCLUDE, OP_PRUNE } OpKind;

typedef struct {
  const char *project;
  OpKind kind;
  const char *id;
  char *result;       /* the path, the footer, or the prune's count */
  GError *error;
} Op;

/* t1 and t2 are being concluded: still in active/, alive for the janitor. */
static gboolean
all_but_t3_live (const char *project, const char *id)
{
  return !g_str_equal (id, "t3");
}

static gpointer
run_op (gpointer data)
{
  Op *op = data;

  switch (op->kind)
    {
    case OP_ENSURE:
      cf_worktree_ensure (op->project, op->id, &op->result, &op->error);
      break;
    case OP_CONCLUDE:
      op->result = cf_worktree_conclude (op->project, op->id, FALSE, CF_KEEP_WORKTREES_NEVER);
      break;
    case OP_PRUNE:
      op->result = g_strdup_printf ("%u", cf_worktree_prune (op->project, all_but_t3_live));
      break;
    }
  return NULL;
}

/* Tasks ending (their worktrees removed), the janitor pruning and new
 * tasks starting, each in its own thread as in the daemon. */
static void
test_concurrent_mixed (Fixture *f, gconstpointer data)
{
  Op ops[] = {
    { f->project, OP_CONCLUDE, "t1" }, { f->project, OP_ENSURE, "t5" }, { f->project, OP_CONCLUDE, "t2" },
    { f->project, OP_PRUNE, NULL }, { f->project, OP_ENSURE, "t6" },
  };
  GThread *threads[G_N_ELEMENTS (ops)];
  g_autofree char *watch = NULL;

  if (skipped (f))
    return;
  for (guint i = 1; i <= 4; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *id = g_strdup_printf ("t%u", i);
      g_autofree char *path = NULL;

      g_assert_true (cf_worktree_ensure (f->project, id, &path, &error));
    }
  watch = watch_start (f);
  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    threads[i] = g_thread_new ("op", run_op, &ops[i]);
  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    g_thread_join (threads[i]);
  watch_stop (watch);

  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      g_assert_no_error (ops[i].error);
      g_assert_nonnull (ops[i].result);
      if (ops[i].kind == OP_CONCLUDE)
        {
          g_autofree char *line =
            g_strdup_printf ("Branch: cf/%s (worktree .agent-queue/worktrees/%s: removed)\n", ops[i].id, ops[i].id);
          if (strstr (ops[i].result, line) == NULL)
            g_error ("%s not in %s", line, ops[i].result);
        }
      else if (ops[i].kind == OP_PRUNE)
        g_assert_cmpstr (ops[i].result, ==, "1");
      else
        assert_checkout_of (ops[i].result, ops[i].id);
      g_free (ops[i].result);
    }
  for (guint i = 1; i <= 6; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%u", i);
      g_autofree char *path = cf_worktree_path (f->project, id);

      g_assert_cmpint (g_file_test (path, G_FILE_TEST_EXISTS), ==, i >= 4);
    }
  g_assert_cmpuint (worktree_count (f->project), ==, 4);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  write_git_wrapper ();
  g_test_add ("/worktree/ensure-reuses", Fixture, NULL, fixture_set_up, test_ensure_reuses, fixture_tear_down);
  g_test_add ("/worktree/not-git", Fixture, NULL, fixture_set_up, test_not_git, fixture_tear_down);
  g_test_add ("/worktree/prune", Fixture, NULL, fixture_set_up, test_prune, fixture_tear_down);
  g_test_add ("/worktree/concurrent/ensure", Fixture, NULL, fixture_set_up, test_concurrent_ensure,
              fixture_tear_down);
  g_test_add ("/worktree/concurrent/mixed", Fixture, NULL, fixture_set_up, test_concurrent_mixed,
              fixture_tear_down);
  for (guint i = 0; i < G_N_ELEMENTS (keep_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/worktree/conclude/%s", keep_cases[i].name);
      g_test_add (path, Fixture, &keep_cases[i], fixture_set_up, test_conclude, fixture_tear_down);
    }
  status = g_test_run ();
  if (wrapper_dir != NULL)
    cf_test_remove_tree (wrapper_dir);
  g_free (wrapper_dir);
  return status;
}
