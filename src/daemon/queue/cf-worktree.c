/* SPDX-License-Identifier: MIT */
#include "cf-worktree.h"

#include <errno.h>
#include <stdlib.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "cf-fault.h"
#include "cf-taskq.h"
#include "cf-task.h"
#include "cf-text.h"

G_DEFINE_QUARK (cf-worktree-error-quark, cf_worktree_error)

/* Output beyond this is cut: a footer names commits, it is not a log. */
#define FOOTER_MAX_LINES 50

static gint keep_policy = CF_KEEP_WORKTREES_ON_FAILURE;

void
cf_worktree_set_keep_policy (CfKeepWorktrees keep)
{
  g_atomic_int_set (&keep_policy, (gint) keep);
}

CfKeepWorktrees
cf_worktree_get_keep_policy (void)
{
  return (CfKeepWorktrees) g_atomic_int_get (&keep_policy);
}

char *
cf_worktree_path (const char *project, const char *id)
{
  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, CF_WORKTREE_DIR, id, NULL);
}

static char *
base_path (const char *project, const char *id)
{
  g_autofree char *name = g_strconcat (id, ".base", NULL);

  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, CF_WORKTREE_DIR, name, NULL);
}

static char *
last_line (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text != NULL ? text : "", "\n", -1);

  for (guint i = g_strv_length (lines); i > 0; i--)
    {
      g_strstrip (lines[i - 1]);
      if (*lines[i - 1] != '\0')
        return cf_text_for_message (lines[i - 1]);
    }
  return g_strdup ("");
}

/* git -C DIR ARGS…; *OUT_STDOUT (may be NULL) its output. */
static gboolean
run_git (const char *dir, const char *const *args, char **out_stdout, GError **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_get_environ ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_ptr_array_add (argv, (gpointer) "git");
  g_ptr_array_add (argv, (gpointer) "-C");
  g_ptr_array_add (argv, (gpointer) dir);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  envp = g_environ_setenv (envp, "GIT_TERMINAL_PROMPT", "0", TRUE);
  envp = g_environ_setenv (envp, "LC_ALL", "C", TRUE);

  if (!g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                     &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_autofree char *why = last_line (err);
      g_set_error (error, CF_WORKTREE_ERROR, CF_WORKTREE_ERROR_GIT, _("git %s failed: %s"), args[0], why);
      return FALSE;
    }
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&out);
  return TRUE;
}

static gboolean
remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", "--", path, NULL };
  int status = 0;

  return g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                       G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL) &&
         g_spawn_check_wait_status (status, NULL);
}

/* ---- one worktree operation at a time per repository -------------------------
 *
 * git's bookkeeping of worktrees (<common dir>/worktrees, what `git worktree
 * prune` deletes, the branch `worktree add -b` makes) is not safe to change
 * from two processes at once: a `prune` that runs while an `add` has made
 * <common dir>/worktrees but not yet its entry deletes the empty directory,
 * and the add fails with "could not create directory of
 * '.git/worktrees/<id>'"; a prune between the entry's mkdir and its
 * "locked" file deletes the entry itself. So every change (add, remove,
 * prune) holds its repository's mutex, in the worker thread that runs git:
 * the sync functions are called from the launch's and the conclusion's
 * threads and also from the janitor's and from the crash recovery of
 * cf_taskq_return_async, and one mutex serialises all of them, which a
 * queue of the async jobs alone would not. The mutex is a leaf: nothing
 * taken while it is held takes another lock or waits for another job (the
 * janitor's is_live runs before it is taken), so it cannot deadlock; a job
 * waiting for it waits in its pool thread, never on the main loop. Read-only
 * git (log, diff, status, rev-parse) runs without it.
 *
 * The key is the repository's common git directory: two projects that are
 * parts or linked worktrees of one repository share it. A kill -9 leaves
 * no lock behind (it lives in the process); what it interrupted is cleaned
 * by the next ensure or prune, which take the mutex like any other. */

static GMutex repo_locks_mutex;
static GHashTable *repo_keys;    /* project → its repository's key */
static GHashTable *repo_locks;   /* key → GMutex*, one per repository ever seen */

static char *
repository_key (const char *project)
{
  const char *args[] = { "rev-parse", "--git-common-dir", NULL };
  g_autofree char *common = NULL;
  g_autofree char *absolute = NULL;
  char *real;

  g_mutex_lock (&repo_locks_mutex);
  if (repo_keys != NULL && (real = g_hash_table_lookup (repo_keys, project)) != NULL)
    {
      char *key = g_strdup (real);
      g_mutex_unlock (&repo_locks_mutex);
      return key;
    }
  g_mutex_unlock (&repo_locks_mutex);

  if (!run_git (project, args, &common, NULL))
    {
      /* Not (yet) a repository: git will fail anyway; the project's own
       * path keeps its callers in order meanwhile. Not remembered. */
      real = realpath (project, NULL);
      absolute = g_strdup (real != NULL ? real : project);
      free (real);
      return g_steal_pointer (&absolute);
    }
  absolute = g_canonicalize_filename (g_strstrip (common), project);
  real = realpath (absolute, NULL);
  if (real != NULL)
    {
      g_free (absolute);
      absolute = g_strdup (real);
      free (real);
    }
  g_mutex_lock (&repo_locks_mutex);
  if (repo_keys == NULL)
    repo_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_replace (repo_keys, g_strdup (project), g_strdup (absolute));
  g_mutex_unlock (&repo_locks_mutex);
  return g_steal_pointer (&absolute);
}

/* The mutex of PROJECT's repository, locked: for g_autoptr(GMutexLocker). */
static GMutexLocker *
lock_repository (const char *project)
{
  g_autofree char *key = repository_key (project);
  GMutex *mutex;

  g_mutex_lock (&repo_locks_mutex);
  if (repo_locks == NULL)
    repo_locks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  mutex = g_hash_table_lookup (repo_locks, key);
  if (mutex == NULL)
    {
      mutex = g_new0 (GMutex, 1);
      g_mutex_init (mutex);
      g_hash_table_insert (repo_locks, g_steal_pointer (&key), mutex);
    }
  g_mutex_unlock (&repo_locks_mutex);
  return g_mutex_locker_new (mutex);
}

static gboolean
branch_exists (const char *project, const char *branch)
{
  g_autofree char *ref = g_strconcat ("refs/heads/", branch, NULL);
  const char *args[] = { "rev-parse", "--verify", "--quiet", ref, NULL };

  return run_git (project, args, NULL, NULL);
}

/* The worktree at PATH is a checkout of BRANCH (left by an earlier attempt). */
static gboolean
worktree_is_usable (const char *path, const char *branch)
{
  g_autofree char *dot_git = g_build_filename (path, ".git", NULL);
  g_autofree char *head = NULL;
  const char *args[] = { "symbolic-ref", "--short", "HEAD", NULL };

  if (!g_file_test (dot_git, G_FILE_TEST_EXISTS) || !run_git (path, args, &head, NULL))
    return FALSE;
  return g_str_equal (g_strstrip (head), branch);
}

gboolean
cf_worktree_ensure (const char *project, const char *id, char **out_path, GError **error)
{
  g_autofree char *path = cf_worktree_path (project, id);
  g_autofree char *base_file = base_path (project, id);
  g_autofree char *branch = g_strconcat (CF_WORKTREE_BRANCH_PREFIX, id, NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *head = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GMutexLocker) locker = NULL;
  const char *head_args[] = { "rev-parse", "--verify", "HEAD^{commit}", NULL };
  const char *prune_args[] = { "worktree", "prune", NULL };

  g_return_val_if_fail (cf_task_id_is_valid (id), FALSE);

  /* A retry or a resume finds its worktree without waiting for the others. */
  if (worktree_is_usable (path, branch))
    {
      *out_path = g_steal_pointer (&path);
      return TRUE;
    }
  locker = lock_repository (project);
  if (worktree_is_usable (path, branch))
    {
      *out_path = g_steal_pointer (&path);
      return TRUE;
    }
  if (!run_git (project, head_args, &head, &local_error))
    {
      g_autofree char *shown = cf_text_for_message (project);
      g_set_error (error, CF_WORKTREE_ERROR, CF_WORKTREE_ERROR_NOT_GIT,
                   _("%s is not a git repository with a commit (isolation: worktree needs one): %s"),
                   shown, local_error->message);
      return FALSE;
    }
  g_strstrip (head);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), _("Cannot create %s: %s"), dir,
                   g_strerror (saved));
      return FALSE;
    }
  /* Leftovers of an attempt a crash interrupted. */
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    remove_tree (path);
  run_git (project, prune_args, NULL, NULL);

  if (branch_exists (project, branch))
    {
      const char *args[] = { "worktree", "add", path, branch, NULL };

      if (!g_file_test (base_file, G_FILE_TEST_EXISTS))
        g_file_set_contents (base_file, head, -1, NULL);
      if (!run_git (project, args, NULL, error))
        return FALSE;
    }
  else
    {
      const char *args[] = { "worktree", "add", "-b", branch, path, head, NULL };

      /* The base first: a footer can always name the commits since it. */
      if (!g_file_set_contents (base_file, head, -1, error))
        return FALSE;
      cf_fault_point ("worktree-adding");
      if (!run_git (project, args, NULL, error))
        return FALSE;
    }
  cf_fault_point ("worktree-added");
  *out_path = g_steal_pointer (&path);
  return TRUE;
}

static void
append_lines (GString *footer, const char *text, const char *none)
{
  g_auto(GStrv) lines = g_strsplit (text != NULL ? text : "", "\n", -1);
  guint shown = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (*g_strstrip (lines[i]) == '\0')
        continue;
      if (shown++ == FOOTER_MAX_LINES)
        {
          g_string_append (footer, "    …\n");
          break;
        }
      g_string_append_printf (footer, "    %s\n", lines[i]);
    }
  if (shown == 0)
    g_string_append_printf (footer, "    %s\n", none);
}

char *
cf_worktree_conclude (const char *project, const char *id, gboolean failed, CfKeepWorktrees keep)
{
  g_autofree char *path = cf_worktree_path (project, id);
  g_autofree char *base_file = base_path (project, id);
  g_autofree char *branch = g_strconcat (CF_WORKTREE_BRANCH_PREFIX, id, NULL);
  g_autofree char *relative = g_build_filename (CF_TASKQ_QUEUE_DIR, CF_WORKTREE_DIR, id, NULL);
  g_autofree char *base = NULL;
  g_autofree char *range = NULL;
  g_autofree char *commits = NULL;
  g_autofree char *diffstat = NULL;
  g_autofree char *status = NULL;
  g_autoptr(GString) footer = NULL;
  gboolean exists = g_file_test (path, G_FILE_TEST_IS_DIR);
  gboolean dirty = FALSE;
  gboolean remove;
  const char *fate;

  if (!exists && !g_file_test (base_file, G_FILE_TEST_EXISTS))
    return NULL;
  if (!branch_exists (project, branch))
    return NULL;
  if (!g_file_get_contents (base_file, &base, NULL, NULL))
    {
      const char *args[] = { "merge-base", "HEAD", branch, NULL };
      if (!run_git (project, args, &base, NULL))
        base = g_strdup ("HEAD");
    }
  g_strstrip (base);
  range = g_strdup_printf ("%s..%s", base, branch);
  {
    const char *log_args[] = { "log", "--oneline", "--no-decorate", range, NULL };
    const char *diff_args[] = { "diff", "--stat", base, branch, NULL };
    run_git (project, log_args, &commits, NULL);
    run_git (project, diff_args, &diffstat, NULL);
  }
  if (exists)
    {
      const char *args[] = { "status", "--porcelain", NULL };
      dirty = !run_git (path, args, &status, NULL) || *g_strstrip (status) != '\0';
    }

  switch (keep)
    {
    case CF_KEEP_WORKTREES_ALWAYS:
      remove = FALSE;
      break;
    case CF_KEEP_WORKTREES_NEVER:
      remove = TRUE;
      break;
    case CF_KEEP_WORKTREES_ON_FAILURE:
    default:
      remove = !failed && !dirty;
      break;
    }
  if (!exists)
    fate = _("already removed");
  else if (remove)
    {
      const char *args[] = { "worktree", "remove", "--force", path, NULL };
      const char *prune_args[] = { "worktree", "prune", NULL };
      g_autoptr(GError) error = NULL;
      g_autoptr(GMutexLocker) locker = lock_repository (project);

      cf_fault_point ("worktree-removing");
      if (run_git (project, args, NULL, &error) ||
          (remove_tree (path) && run_git (project, prune_args, NULL, NULL)))
        fate = dirty ? _("removed with its uncommitted changes (keep_worktrees: never)") : _("removed");
      else
        fate = _("kept: it could not be removed");
    }
  else if (dirty)
    fate = _("kept: it has uncommitted changes");
  else if (failed)
    fate = _("kept: the task failed");
  else
    fate = _("kept (keep_worktrees: always)");

  footer = g_string_new ("\n---\n");
  /* TRANSLATORS: the footer written into done/<id>.md or failed/<id>.md of a task
   * that worked in its own git worktree */
  g_string_append_printf (footer, _("Branch: %s (worktree %s: %s)\n"), branch, relative, fate);
  g_string_append_printf (footer, _("Commits (git log --oneline %.12s..%s):\n"), base, branch);
  append_lines (footer, commits, _("(none)"));
  g_string_append (footer, _("Diffstat:\n"));
  append_lines (footer, diffstat, _("(no changes)"));
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    g_unlink (base_file);
  return g_string_free (g_steal_pointer (&footer), FALSE);
}

guint
cf_worktree_prune (const char *project, CfWorktreeLiveFunc is_live)
{
  g_autofree char *dir = g_build_filename (project, CF_TASKQ_QUEUE_DIR, CF_WORKTREE_DIR, NULL);
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) dead = g_ptr_array_new_with_free_func (g_free);
  const char *prune_args[] = { "worktree", "prune", NULL };
  g_autoptr(GMutexLocker) locker = NULL;
  const char *name;
  guint removed = 0;

  if (listing == NULL)
    return 0;
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *id = g_str_has_suffix (name, ".base")
                            ? g_strndup (name, strlen (name) - strlen (".base")) : g_strdup (name);

      if (cf_task_id_is_valid (id) && !is_live (project, id))
        g_ptr_array_add (dead, g_build_filename (dir, name, NULL));
    }
  if (dead->len == 0)
    return 0;
  /* After IS_LIVE (it reads the queue): the lock stays a leaf. */
  locker = lock_repository (project);
  for (guint i = 0; i < dead->len; i++)
    {
      const char *path = g_ptr_array_index (dead, i);

      if (g_str_has_suffix (path, ".base"))
        g_unlink (path);
      else
        {
          const char *args[] = { "worktree", "remove", "--force", path, NULL };
          if (!run_git (project, args, NULL, NULL))
            remove_tree (path);
          removed++;
        }
    }
  if (removed > 0)
    run_git (project, prune_args, NULL, NULL);
  return removed;
}

/* ---- async wrappers --------------------------------------------------------- */

typedef struct {
  char *project;
  char *id;
  gboolean failed;
  char *reason;                /* a failed task's */
  CfKeepWorktrees keep;
} Job;

static void
job_free (Job *job)
{
  g_free (job->project);
  g_free (job->id);
  g_free (job->reason);
  g_free (job);
}

static Job *
job_new (const char *project, const char *id)
{
  Job *job = g_new0 (Job, 1);

  job->project = g_strdup (project);
  job->id = g_strdup (id);
  return job;
}

static void
ensure_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Job *job = data;
  GError *error = NULL;
  char *path = NULL;

  if (cf_worktree_ensure (job->project, job->id, &path, &error))
    g_task_return_pointer (task, path, g_free);
  else
    g_task_return_error (task, error);
}

void
cf_worktree_ensure_async (const char *project, const char *id, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, cf_worktree_ensure_async);
  g_task_set_task_data (task, job_new (project, id), (GDestroyNotify) job_free);
  /* Runs to its end: a worktree half made by a cancelled launch is what
   * the next attempt reuses. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_run_in_thread (task, ensure_in_thread);
}

char *
cf_worktree_ensure_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
conclude_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Job *job = data;
  g_autofree char *path = cf_worktree_path (job->project, job->id);
  g_autofree char *base_file = base_path (job->project, job->id);

  /* Concluding runs git for a while: a crash meanwhile must not run the
   * finished task again (the janitor settles it with this verdict). */
  if (g_file_test (path, G_FILE_TEST_EXISTS) || g_file_test (base_file, G_FILE_TEST_EXISTS))
    cf_taskq_keep_verdict (job->project, job->id,
                           job->failed ? CF_TASK_OUTCOME_FAILED : CF_TASK_OUTCOME_DONE, job->reason);
  g_task_return_pointer (task, cf_worktree_conclude (job->project, job->id, job->failed, job->keep),
                         g_free);
}

void
cf_worktree_conclude_async (const char *project, const char *id, gboolean failed, const char *reason,
                            CfKeepWorktrees keep, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  Job *job = job_new (project, id);

  job->failed = failed;
  job->reason = g_strdup (reason);
  job->keep = keep;
  g_task_set_source_tag (task, cf_worktree_conclude_async);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  g_task_run_in_thread (task, conclude_in_thread);
}

char *
cf_worktree_conclude_finish (GAsyncResult *result)
{
  return g_task_propagate_pointer (G_TASK (result), NULL);
}
