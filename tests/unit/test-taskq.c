/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cf-taskq.h"

#define NOW ((gint64) 1700000000 * G_USEC_PER_SEC)   /* 2023-11-14T22:13:20Z */

typedef struct {
  char *project;
} Fixture;

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      GStatBuf st;

      if (g_lstat (child, &st) == 0 && S_ISDIR (st.st_mode))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->project = g_dir_make_tmp ("cf-taskq-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_true (cf_taskq_ensure_dirs (f->project, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  remove_tree (f->project);
  g_free (f->project);
}

static char *
qpath (const Fixture *f, const char *dir, const char *name)
{
  return g_build_filename (f->project, ".agent-queue", dir, name, NULL);
}

static void
write_file (const char *path, const char *text)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, text, -1, &error));
  g_assert_no_error (error);
}

static char *
read_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

static void
add_task (const Fixture *f, const char *dir, const char *id, const char *text)
{
  g_autofree char *name = g_strconcat (id, ".md", NULL);
  g_autofree char *path = qpath (f, dir, name);

  write_file (path, text);
}

static gboolean
exists (const char *path)
{
  GStatBuf st;

  return g_lstat (path, &st) == 0;
}

/* In how many of the four state directories <id>.md is. */
static guint
places_of (const char *project, const char *id)
{
  static const CfTaskPlace places[] = {
    CF_TASK_PLACE_INBOX, CF_TASK_PLACE_ACTIVE, CF_TASK_PLACE_DONE, CF_TASK_PLACE_FAILED,
  };
  guint n = 0;

  for (guint i = 0; i < G_N_ELEMENTS (places); i++)
    {
      g_autofree char *path = cf_taskq_task_path (project, places[i], id);

      n += exists (path) ? 1 : 0;
    }
  return n;
}

static CfTaskMeta *
meta_of (const char *project, const char *id)
{
  g_autoptr(GError) error = NULL;
  CfTaskMeta *meta = NULL;

  g_assert_true (cf_taskq_read_meta (project, id, &meta, &error));
  g_assert_no_error (error);
  return meta;
}

/* --- The queue lock ---------------------------------------------------------------- */

static void
test_lock_held_elsewhere (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->project, ".agent-queue", ".lock", NULL);
  struct stat st;
  guint attempt = 0;
  gint64 start;
  int other;
  CfTaskqLock *lock;

  /* A lock file from before it was private is made 0600. */
  write_file (path, "");
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);
  add_task (f, "inbox", "fix", "Fix the login\n");
  lock = cf_taskq_lock (f->project, &error);
  g_assert_no_error (error);
  g_assert_nonnull (lock);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  cf_taskq_unlock (lock);

  /* Another open file description holds it, as another process would. */
  other = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (other, >=, 0);
  g_assert_cmpint (flock (other, LOCK_EX), ==, 0);

  start = g_get_monotonic_time ();
  g_assert_false (cf_taskq_claim (f->project, "fix", "ccl-auto-1", "main", "sonnet", NOW,
                                  &attempt, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, "held by another process"));
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, CF_TASKQ_LOCK_WAIT_USEC);
  g_assert_cmpint (g_get_monotonic_time () - start, <, CF_TASKQ_LOCK_WAIT_USEC + 2 * G_USEC_PER_SEC);
  /* Nothing changed. */
  g_assert_cmpint (cf_taskq_locate (f->project, "fix"), ==, CF_TASK_PLACE_INBOX);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "fix"), ==, 0);

  g_assert_false (cf_taskq_reject (f->project, "fix", "cancelled", NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_BUSY);
  g_clear_error (&error);
  g_assert_cmpint (cf_taskq_locate (f->project, "fix"), ==, CF_TASK_PLACE_INBOX);

  /* Released: the same claim goes through. */
  close (other);
  g_assert_true (cf_taskq_claim (f->project, "fix", "ccl-auto-1", "main", "sonnet", NOW,
                                 &attempt, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (attempt, ==, 1);
  g_assert_cmpint (cf_taskq_locate (f->project, "fix"), ==, CF_TASK_PLACE_ACTIVE);
}

static void
test_lock_created_private (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->project, ".agent-queue", ".lock", NULL);
  struct stat st;
  guint attempt = 0;

  add_task (f, "inbox", "fix", "Fix the login\n");
  g_assert_true (cf_taskq_claim (f->project, "fix", NULL, NULL, NULL, NOW, &attempt, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
}

/* --- A finished task whose move fails -------------------------------------------- */

static void
test_finish_keeps_verdict (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *meta_file = qpath (f, "meta", "fix.json");
  g_autofree char *sidecar = qpath (f, "meta", "fix.verdict");
  g_autofree char *reason = NULL;
  g_autofree char *text = NULL;
  CfTaskOutcome outcome = CF_TASK_OUTCOME_FAILED;
  guint attempt = 0;

  add_task (f, "inbox", "fix", "Fix the login\n");
  g_assert_true (cf_taskq_claim (f->project, "fix", "ccl-auto-1", "main", "sonnet", NOW,
                                 &attempt, &error));
  g_assert_no_error (error);
  g_assert_false (cf_taskq_pending_verdict (f->project, "fix", NULL, NULL));

  /* The meta file cannot be written (a directory in its place: EISDIR,
   * whoever runs the test). */
  g_assert_cmpint (g_unlink (meta_file), ==, 0);
  g_assert_cmpint (g_mkdir (meta_file, 0755), ==, 0);
  g_assert_false (cf_taskq_finish (f->project, "fix", CF_TASK_OUTCOME_DONE, NULL, NULL, NOW,
                                   &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_cmpint (cf_taskq_locate (f->project, "fix"), ==, CF_TASK_PLACE_ACTIVE);
  g_assert_true (cf_taskq_pending_verdict (f->project, "fix", &outcome, &reason));
  g_assert_cmpint (outcome, ==, CF_TASK_OUTCOME_DONE);
  g_assert_null (reason);
  text = read_file (sidecar);
  g_assert_cmpstr (text, ==, "done\n");

  /* Nothing gives it back to the inbox meanwhile. */
  g_assert_false (cf_taskq_requeue_active (f->project, "fix", TRUE, NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_FINISHED);
  g_clear_error (&error);
  g_assert_false (cf_taskq_requeue (f->project, "fix", FALSE, NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_FINISHED);
  g_clear_error (&error);
  g_assert_cmpint (cf_taskq_locate (f->project, "fix"), ==, CF_TASK_PLACE_ACTIVE);
  g_assert_cmpuint (places_of (f->project, "fix"), ==, 1);

  /* The disk is back: the retried move goes through and the verdict goes. */
  g_assert_cmpint (g_rmdir (meta_file), ==, 0);
  g_assert_true (cf_taskq_finish (f->project, "fix", CF_TASK_OUTCOME_DONE, NULL, NULL, NOW,
                                  &error));
  g_assert_no_error (error);
  g_assert_cmpint (cf_taskq_locate (f->project, "fix"), ==, CF_TASK_PLACE_DONE);
  g_assert_false (cf_taskq_pending_verdict (f->project, "fix", NULL, NULL));
  g_assert_false (exists (sidecar));
}

static void
test_verdict_on_disk_survives_restart (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sidecar = qpath (f, "meta", "gone.verdict");
  g_autofree char *reason = NULL;
  CfTaskOutcome outcome = CF_TASK_OUTCOME_DONE;
  guint attempt = 0;

  /* What a run that could not move the task left behind; this process
   * never saw it. */
  add_task (f, "inbox", "gone", "Deploy\n");
  g_assert_true (cf_taskq_claim (f->project, "gone", NULL, NULL, NULL, NOW, &attempt, &error));
  g_assert_no_error (error);
  write_file (sidecar, "failed\nthe tests did not pass");
  g_assert_true (cf_taskq_pending_verdict (f->project, "gone", &outcome, &reason));
  g_assert_cmpint (outcome, ==, CF_TASK_OUTCOME_FAILED);
  g_assert_cmpstr (reason, ==, "the tests did not pass");
  g_assert_false (cf_taskq_requeue_active (f->project, "gone", TRUE, NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_FINISHED);
  g_clear_error (&error);

  /* Garbage is no verdict. */
  write_file (sidecar, "maybe\n");
  g_assert_false (cf_taskq_pending_verdict (f->project, "gone", NULL, NULL));
  write_file (sidecar, "done");
  g_assert_false (cf_taskq_pending_verdict (f->project, "gone", NULL, NULL));
}

/* --- A task file still being written ------------------------------------------------ */

static void
test_read_task_open_for_writing (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTask) task = NULL;
  g_autofree char *path = qpath (f, "inbox", "slow.md");
  const char *half = "---\ntitle: Slow\n";
  int writer;

  writer = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  g_assert_cmpint (writer, >=, 0);
  g_assert_cmpint (write (writer, half, strlen (half)), ==, (gssize) strlen (half));
  g_assert_false (cf_taskq_read_task (f->project, "slow", &task, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_WRITING);
  g_clear_error (&error);
  g_assert_cmpint (close (writer), ==, 0);

  writer = open (path, O_WRONLY | O_APPEND | O_CLOEXEC);
  g_assert_cmpint (writer, >=, 0);
  g_assert_cmpint (write (writer, "---\nBody\n", 9), ==, 9);
  g_assert_false (cf_taskq_read_task (f->project, "slow", &task, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_WRITING);
  g_clear_error (&error);
  g_assert_cmpint (close (writer), ==, 0);

  g_assert_true (cf_taskq_read_task (f->project, "slow", &task, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (task->title, ==, "Slow");
}

/* --- Directories ------------------------------------------------------------------- */

static void
test_ensure_dirs (Fixture *f, gconstpointer data)
{
  static const char *const dirs[] = { "inbox", "active", "done", "failed", "meta" };
  g_autoptr(GError) error = NULL;
  g_autofree char *file = g_build_filename (f->project, "plain-file", NULL);
  g_autofree char *missing = g_build_filename (f->project, "missing", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = qpath (f, dirs[i], NULL);
      GStatBuf st;

      g_assert_cmpint (g_stat (path, &st), ==, 0);
      g_assert_true (S_ISDIR (st.st_mode));
      g_assert_cmpint (st.st_mode & 07777, ==, 0755 & ~umask (umask (0)));
    }
  /* Idempotent. */
  g_assert_true (cf_taskq_ensure_dirs (f->project, &error));
  g_assert_no_error (error);

  g_assert_false (cf_taskq_ensure_dirs (missing, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (exists (missing));

  write_file (file, "x");
  g_assert_false (cf_taskq_ensure_dirs (file, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_FAILED);
  g_clear_error (&error);

  g_assert_false (cf_taskq_ensure_dirs ("relative/project", &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT);
}

/* A queue directory replaced by a symlink: refused, nothing moved through it. */
static void
test_symlinked_queue_dirs (Fixture *f, gconstpointer data)
{
  static const char *const dirs[] = { "inbox", "active", "done", "failed", "meta" };
  g_autoptr(GError) error = NULL;
  g_autofree char *elsewhere = g_build_filename (f->project, "elsewhere", NULL);
  g_autofree char *victim = g_build_filename (elsewhere, "victim.md", NULL);

  g_assert_cmpint (g_mkdir (elsewhere, 0755), ==, 0);
  write_file (victim, "---\ntitle: not yours\n---\n");
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = qpath (f, dirs[i], NULL);
      g_autofree char *aside = g_strconcat (path, ".real", NULL);

      add_task (f, "inbox", "victim", "---\ntitle: mine\n---\n");
      g_assert_cmpint (g_rename (path, aside), ==, 0);
      g_assert_cmpint (symlink (elsewhere, path), ==, 0);

      g_assert_false (cf_taskq_ensure_dirs (f->project, &error));
      g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR);
      g_assert_nonnull (strstr (error->message, "is a symbolic link"));
      g_clear_error (&error);
      g_assert_false (cf_taskq_claim (f->project, "victim", "s", "a", "m", NOW, NULL, &error));
      g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR);
      g_clear_error (&error);
      /* Nothing left, entered or changed the directory the link points to. */
      g_assert_true (g_file_test (victim, G_FILE_TEST_IS_REGULAR));
      {
        g_autoptr(GDir) d = g_dir_open (elsewhere, 0, NULL);
        g_assert_cmpstr (g_dir_read_name (d), ==, "victim.md");
        g_assert_null (g_dir_read_name (d));
      }

      g_assert_cmpint (g_unlink (path), ==, 0);
      g_assert_cmpint (g_rename (aside, path), ==, 0);
      g_assert_true (cf_taskq_ensure_dirs (f->project, &error));
      g_assert_no_error (error);
    }
  /* The whole .agent-queue a symlink: refused too. */
  {
    g_autofree char *queue = g_build_filename (f->project, ".agent-queue", NULL);
    g_autofree char *aside = g_strconcat (queue, ".real", NULL);

    g_assert_cmpint (g_rename (queue, aside), ==, 0);
    g_assert_cmpint (symlink (aside, queue), ==, 0);
    g_assert_false (cf_taskq_ensure_dirs (f->project, &error));
    g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR);
  }
}

/* --- Scanning and reading ------------------------------------------------------------ */

static void
set_mtime (const char *path, time_t seconds)
{
  struct timespec times[2] = { { seconds, 0 }, { seconds, 0 } };

  g_assert_cmpint (utimensat (AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW), ==, 0);
}

static void
make_big_file (const char *path, off_t size)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, size), ==, 0);
  close (fd);
}

static const char *
rejected_reason (GPtrArray *rejected, const char *name)
{
  for (guint i = 0; i < rejected->len; i++)
    {
      CfTaskqRejected *item = g_ptr_array_index (rejected, i);

      if (strcmp (item->name, name) == 0)
        return item->reason;
    }
  return NULL;
}

static void
test_scan_inbox (Fixture *f, gconstpointer data)
{
  static const char *const ignored[] = {
    ".#a.md", ".a.md.swp", "a.md~", "c.tmp", "d.part", "notes.txt", "a.md.delegated",
    "x.md.tmp", ".hidden.md", ".md", "#a.md#",
  };
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GPtrArray) rejected = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *a = qpath (f, "inbox", "a.md");
  g_autofree char *b = qpath (f, "inbox", "b.md");
  g_autofree char *target = g_build_filename (f->project, "secret.txt", NULL);
  g_autofree char *link = qpath (f, "inbox", "link.md");
  g_autofree char *fifo = qpath (f, "inbox", "fifo.md");
  g_autofree char *dir = qpath (f, "inbox", "dir.md");
  g_autofree char *big = qpath (f, "inbox", "big.md");
  g_autofree char *limit = qpath (f, "inbox", "limit.md");
  g_autofree char *bad = qpath (f, "inbox", "bad name.md");
  CfTaskqEntry *entry;

  write_file (a, "task a");
  write_file (b, "task b");
  set_mtime (a, 1700000100);
  set_mtime (b, 1700000000);
  for (guint i = 0; i < G_N_ELEMENTS (ignored); i++)
    {
      g_autofree char *path = qpath (f, "inbox", ignored[i]);
      write_file (path, "ignored");
    }
  write_file (target, "do not read");
  g_assert_cmpint (symlink (target, link), ==, 0);
  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  make_big_file (big, CF_TASK_MAX_SIZE + 1);
  make_big_file (limit, CF_TASK_MAX_SIZE);
  set_mtime (limit, 1700000200);
  write_file (bad, "bad name");

  g_assert_true (cf_taskq_scan_inbox (f->project, &entries, &rejected, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (entries->len, ==, 3);
  entry = g_ptr_array_index (entries, 0);
  g_assert_cmpstr (entry->id, ==, "b");
  g_assert_cmpstr (entry->path, ==, b);
  g_assert_cmpint (entry->mtime_usec, ==, (gint64) 1700000000 * G_USEC_PER_SEC);
  g_assert_cmpint (entry->size, ==, 6);
  g_assert_false (entry->delegated);
  g_assert_cmpstr (((CfTaskqEntry *) g_ptr_array_index (entries, 1))->id, ==, "a");
  /* "a.md.delegated" was written above: a remote job has it. */
  g_assert_true (((CfTaskqEntry *) g_ptr_array_index (entries, 1))->delegated);
  g_assert_cmpstr (((CfTaskqEntry *) g_ptr_array_index (entries, 2))->id, ==, "limit");

  g_assert_cmpuint (rejected->len, ==, 5);
  g_assert_cmpstr (rejected_reason (rejected, "link.md"), ==,
                   "the task file is a symbolic link, not a regular file");
  g_assert_cmpstr (rejected_reason (rejected, "fifo.md"), ==,
                   "the task file is a FIFO, not a regular file");
  g_assert_cmpstr (rejected_reason (rejected, "dir.md"), ==,
                   "the task file is a directory, not a regular file");
  g_assert_cmpstr (rejected_reason (rejected, "big.md"), ==,
                   "the task file is larger than 1 MiB (1048577 bytes)");
  g_assert_nonnull (strstr (rejected_reason (rejected, "bad name.md"),
                            "the file name is not a task id"));

  /* Scanning read nothing: the symlink's target is as it was. */
  {
    g_autofree char *text = read_file (target);
    g_assert_cmpstr (text, ==, "do not read");
  }

  /* Either output may be skipped. */
  g_assert_true (cf_taskq_scan_inbox (f->project, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_scan_missing_queue (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("cf-taskq-XXXXXX", &error);
  GPtrArray *entries = NULL;

  g_assert_false (cf_taskq_scan_inbox (dir, &entries, NULL, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
  g_assert_null (entries);
  g_rmdir (dir);
}

static void
test_read_task (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTask) task = NULL;
  g_autofree char *target = g_build_filename (f->project, "secret.md", NULL);
  g_autofree char *link = qpath (f, "inbox", "link.md");
  g_autofree char *fifo = qpath (f, "inbox", "fifo.md");
  g_autofree char *big = qpath (f, "inbox", "big.md");
  g_autofree char *dir = qpath (f, "inbox", "dir.md");

  add_task (f, "inbox", "ok", "---\ntitle: Okay\npriority: high\n---\nDo it\n");
  g_assert_true (cf_taskq_read_task (f->project, "ok", &task, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (task->title, ==, "Okay");
  g_assert_cmpint (task->priority, ==, CF_PRIORITY_HIGH);
  g_assert_cmpstr (task->body, ==, "Do it");
  g_clear_pointer (&task, cf_task_free);

  add_task (f, "done", "old", "Finished work");
  g_assert_true (cf_taskq_read_task_in (f->project, CF_TASK_PLACE_DONE, "old", &task, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (task->body, ==, "Finished work");
  g_clear_pointer (&task, cf_task_free);

  write_file (target, "---\ntitle: secret\n---\n");
  g_assert_cmpint (symlink (target, link), ==, 0);
  g_assert_false (cf_taskq_read_task (f->project, "link", &task, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR);
  g_assert_nonnull (strstr (error->message, "is a symbolic link, not a regular file"));
  g_clear_error (&error);

  /* Opening a FIFO for reading would wait for a writer; this must not. */
  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
  g_assert_false (cf_taskq_read_task (f->project, "fifo", &task, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR);
  g_assert_nonnull (strstr (error->message, "is a FIFO"));
  g_clear_error (&error);

  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  g_assert_false (cf_taskq_read_task (f->project, "dir", &task, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR);
  g_clear_error (&error);

  /* A hard link to a file the writer may not read is not read either. */
  {
    g_autofree char *hard = qpath (f, "inbox", "hard.md");

    g_assert_cmpint (linkat (AT_FDCWD, target, AT_FDCWD, hard, 0), ==, 0);
    g_assert_false (cf_taskq_read_task (f->project, "hard", &task, &error));
    g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR);
    g_assert_nonnull (strstr (error->message, "has 2 hard links"));
    g_clear_error (&error);
  }

  make_big_file (big, CF_TASK_MAX_SIZE + 1);
  g_assert_false (cf_taskq_read_task (f->project, "big", &task, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_TOO_LARGE);
  g_clear_error (&error);

  g_assert_false (cf_taskq_read_task (f->project, "missing", &task, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
  g_clear_error (&error);

  add_task (f, "inbox", "broken", "---\npriority: normal\n---\nx");
  g_assert_false (cf_taskq_read_task (f->project, "broken", &task, &error));
  g_assert_error (error, CF_TASK_ERROR, CF_TASK_ERROR_VALUE);
  g_assert_nonnull (strstr (error->message, "broken.md:2:1: priority:"));
  g_clear_error (&error);

  g_assert_false (cf_taskq_read_task (f->project, "../secret", &task, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (cf_taskq_read_task_in (f->project, CF_TASK_PLACE_ABSENT, "ok", &task, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT);
}

/* --- Moves ---------------------------------------------------------------------------- */

static void
test_claim_finish_done (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTaskMeta) meta = NULL;
  g_autofree char *done = qpath (f, "done", "fix.md");
  g_autofree char *text = NULL;
  g_autofree char *meta_text = NULL;
  g_autofree char *meta_file = qpath (f, "meta", "fix.json");
  guint attempt = 0;

  add_task (f, "inbox", "fix", "Fix the login\n");
  g_assert_cmpint (cf_taskq_locate (f->project, "fix"), ==, CF_TASK_PLACE_INBOX);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "fix"), ==, 0);

  g_assert_true (cf_taskq_claim (f->project, "fix", "ccl-auto-1", "main", "sonnet", NOW,
                                 &attempt, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (attempt, ==, 1);
  g_assert_cmpint (cf_taskq_locate (f->project, "fix"), ==, CF_TASK_PLACE_ACTIVE);
  g_assert_cmpuint (places_of (f->project, "fix"), ==, 1);

  meta = meta_of (f->project, "fix");
  g_assert_cmpuint (meta->attempts, ==, 1);
  g_assert_cmpint (meta->place, ==, CF_TASK_PLACE_ACTIVE);
  g_assert_cmpstr (meta->session, ==, "ccl-auto-1");
  g_assert_cmpstr (meta->account, ==, "main");
  g_assert_cmpstr (meta->model, ==, "sonnet");
  g_assert_cmpint (meta->claimed_at_usec, ==, NOW);
  g_assert_cmpint (meta->finished_at_usec, ==, 0);
  g_assert_cmpstr (meta->last_outcome, ==, "claimed");
  g_clear_pointer (&meta, cf_task_meta_free);

  g_assert_true (cf_taskq_finish (f->project, "fix", CF_TASK_OUTCOME_DONE, "completed",
                                  "---\nDone by ccl-auto-1", NOW + 5 * G_USEC_PER_SEC, &error));
  g_assert_no_error (error);
  g_assert_cmpint (cf_taskq_locate (f->project, "fix"), ==, CF_TASK_PLACE_DONE);
  g_assert_cmpuint (places_of (f->project, "fix"), ==, 1);
  text = read_file (done);
  g_assert_cmpstr (text, ==, "Fix the login\n\n---\nDone by ccl-auto-1\n");

  meta = meta_of (f->project, "fix");
  g_assert_cmpuint (meta->attempts, ==, 1);
  g_assert_cmpint (meta->place, ==, CF_TASK_PLACE_DONE);
  g_assert_cmpstr (meta->last_outcome, ==, "done");
  g_assert_cmpstr (meta->last_reason, ==, "completed");
  g_assert_cmpint (meta->finished_at_usec, ==, NOW + 5 * G_USEC_PER_SEC);
  g_assert_cmpint (meta->updated_at_usec, ==, NOW + 5 * G_USEC_PER_SEC);

  /* The on-disk format an operator reads. */
  meta_text = read_file (meta_file);
  g_assert_nonnull (strstr (meta_text, "\"version\" : 1"));
  g_assert_nonnull (strstr (meta_text, "\"claimed_at\" : \"2023-11-14T22:13:20.000000Z\""));
  g_assert_nonnull (strstr (meta_text, "\"event\" : \"claim\""));
  g_assert_nonnull (strstr (meta_text, "\"event\" : \"finish\""));
}

static void
test_finish_failed_reason (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTaskMeta) meta = NULL;
  g_autofree char *reason_path = qpath (f, "failed", "boom.reason.txt");
  g_autofree char *reason = NULL;

  add_task (f, "inbox", "boom", "Explode\n");
  g_assert_true (cf_taskq_claim (f->project, "boom", "s", "a", "m", NOW, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (cf_taskq_finish (f->project, "boom", CF_TASK_OUTCOME_FAILED,
                                  "idle timeout after 60m", NULL, NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpint (cf_taskq_locate (f->project, "boom"), ==, CF_TASK_PLACE_FAILED);
  reason = read_file (reason_path);
  g_assert_nonnull (strstr (reason, "This task failed."));
  g_assert_nonnull (strstr (reason, "File: boom\n"));
  g_assert_nonnull (strstr (reason, "When: 2023-11-14T22:13:20Z\n"));
  g_assert_nonnull (strstr (reason, "Attempts: 1\n"));
  g_assert_nonnull (strstr (reason, "Reason: idle timeout after 60m\n"));
  meta = meta_of (f->project, "boom");
  g_assert_cmpstr (meta->last_outcome, ==, "failed");

  /* Retried by the operator: back to the inbox, count kept, stale reason gone. */
  g_assert_true (cf_taskq_requeue (f->project, "boom", TRUE, NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpint (cf_taskq_locate (f->project, "boom"), ==, CF_TASK_PLACE_INBOX);
  g_assert_false (exists (reason_path));
  g_assert_cmpuint (cf_taskq_attempts (f->project, "boom"), ==, 1);

  /* The second run succeeds. */
  g_assert_true (cf_taskq_claim (f->project, "boom", "s", "a", "m", NOW, NULL, &error));
  g_assert_true (cf_taskq_finish (f->project, "boom", CF_TASK_OUTCOME_DONE, NULL, NULL, NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "boom"), ==, 2);
  g_assert_cmpuint (places_of (f->project, "boom"), ==, 1);

  /* done → inbox as well, for an operator's "run it again". */
  g_assert_true (cf_taskq_requeue (f->project, "boom", FALSE, NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "boom"), ==, 2);
}

static void
test_requeue_attempts (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTaskMeta) meta = NULL;
  guint attempt = 0;

  add_task (f, "inbox", "t", "work");
  g_assert_true (cf_taskq_claim (f->project, "t", "s1", "main", "opus", NOW, &attempt, &error));
  g_assert_cmpuint (attempt, ==, 1);
  /* The session failed: the attempt stays counted. */
  g_assert_true (cf_taskq_requeue (f->project, "t", TRUE, NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpint (cf_taskq_locate (f->project, "t"), ==, CF_TASK_PLACE_INBOX);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "t"), ==, 1);
  meta = meta_of (f->project, "t");
  g_assert_cmpstr (meta->last_outcome, ==, "requeued");
  g_assert_cmpint (meta->place, ==, CF_TASK_PLACE_INBOX);
  g_clear_pointer (&meta, cf_task_meta_free);

  g_assert_true (cf_taskq_claim (f->project, "t", "s2", "main", "opus", NOW, &attempt, &error));
  g_assert_cmpuint (attempt, ==, 2);
  /* The account ran out: not the task's fault, the attempt is given back. */
  g_assert_true (cf_taskq_requeue (f->project, "t", FALSE, NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "t"), ==, 1);
  meta = meta_of (f->project, "t");
  g_assert_cmpstr (meta->last_outcome, ==, "returned");
  g_clear_pointer (&meta, cf_task_meta_free);

  g_assert_true (cf_taskq_claim (f->project, "t", "s3", "backup", "opus", NOW, &attempt, &error));
  g_assert_cmpuint (attempt, ==, 2);
  meta = meta_of (f->project, "t");
  g_assert_cmpstr (meta->session, ==, "s3");
  g_assert_cmpstr (meta->account, ==, "backup");
}

/* A requeue interrupted after its meta write leaves the task in active with
 * the meta saying "inbox"; repeating it must not give the attempt back twice. */
/* The daemon's requeue takes only running tasks: one that reached done/
 * (e.g. just before a crash) must never run again. */
static void
test_requeue_active_only (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint attempt = 0;

  add_task (f, "inbox", "t", "work");
  g_assert_true (cf_taskq_claim (f->project, "t", "s1", "main", "opus", NOW, &attempt, &error));
  g_assert_true (cf_taskq_finish (f->project, "t", CF_TASK_OUTCOME_DONE, NULL, NULL, NOW, &error));
  g_assert_false (cf_taskq_requeue_active (f->project, "t", TRUE, NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
  g_assert_cmpint (cf_taskq_locate (f->project, "t"), ==, CF_TASK_PLACE_DONE);
  g_clear_error (&error);

  add_task (f, "inbox", "u", "work");
  g_assert_false (cf_taskq_requeue_active (f->project, "u", TRUE, NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (cf_taskq_claim (f->project, "u", "s1", "main", "opus", NOW, &attempt, &error));
  g_assert_true (cf_taskq_requeue_active (f->project, "u", TRUE, NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpint (cf_taskq_locate (f->project, "u"), ==, CF_TASK_PLACE_INBOX);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "u"), ==, 1);
}

static void
test_requeue_give_back_once (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *inbox = qpath (f, "inbox", "t.md");
  g_autofree char *active = qpath (f, "active", "t.md");

  add_task (f, "inbox", "t", "work");
  g_assert_true (cf_taskq_claim (f->project, "t", "s", "a", "m", NOW, NULL, &error));
  g_assert_true (cf_taskq_requeue (f->project, "t", TRUE, NOW, &error));
  g_assert_true (cf_taskq_claim (f->project, "t", "s", "a", "m", NOW, NULL, &error));
  g_assert_cmpuint (cf_taskq_attempts (f->project, "t"), ==, 2);

  g_assert_true (cf_taskq_requeue (f->project, "t", FALSE, NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "t"), ==, 1);
  g_assert_cmpint (g_rename (inbox, active), ==, 0);

  g_assert_true (cf_taskq_requeue (f->project, "t", FALSE, NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "t"), ==, 1);
  g_assert_cmpint (cf_taskq_locate (f->project, "t"), ==, CF_TASK_PLACE_INBOX);
}

static void
test_requeue_refusals (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (cf_taskq_requeue (f->project, "nope", TRUE, NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
  g_clear_error (&error);

  add_task (f, "inbox", "t", "first");
  g_assert_false (cf_taskq_requeue (f->project, "t", TRUE, NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A new file with the same id arrived while the first one runs. */
  g_assert_true (cf_taskq_claim (f->project, "t", "s", "a", "m", NOW, NULL, &error));
  add_task (f, "inbox", "t", "second");
  g_assert_false (cf_taskq_requeue (f->project, "t", TRUE, NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS);
  g_clear_error (&error);
  {
    g_autofree char *path = qpath (f, "inbox", "t.md");
    g_autofree char *text = read_file (path);
    g_assert_cmpstr (text, ==, "second");
  }

  /* …and a claim of the second while the first runs is refused too. */
  g_assert_false (cf_taskq_claim (f->project, "t", "s", "a", "m", NOW, NULL, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "t"), ==, 1);
}

static void
test_claim_vanished (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTaskMeta) meta = NULL;
  g_autofree char *target = g_build_filename (f->project, "elsewhere.md", NULL);
  g_autofree char *link = qpath (f, "inbox", "link.md");
  guint attempt = 42;

  g_assert_false (cf_taskq_claim (f->project, "gone", "s", "a", "m", NOW, &attempt, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "task 'gone' is not in inbox/"));
  g_clear_error (&error);
  g_assert_cmpuint (attempt, ==, 42);
  meta = meta_of (f->project, "gone");
  g_assert_null (meta);

  write_file (target, "x");
  g_assert_cmpint (symlink (target, link), ==, 0);
  g_assert_false (cf_taskq_claim (f->project, "link", "s", "a", "m", NOW, NULL, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR);
  g_clear_error (&error);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "link"), ==, 0);

  g_assert_false (cf_taskq_finish (f->project, "gone", CF_TASK_OUTCOME_DONE, NULL, NULL, NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
}

static void
test_attempts_survive_restart (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint attempt = 0;
  int status = 0;
  pid_t pid;

  add_task (f, "inbox", "t", "work");
  /* Another process (the daemon before its restart) counts three attempts. */
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      for (guint i = 0; i < 3; i++)
        if (!cf_taskq_claim (f->project, "t", "s", "a", "m", NOW, NULL, NULL) ||
            !cf_taskq_requeue (f->project, "t", TRUE, NOW, NULL))
          _exit (1);
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);

  g_assert_cmpuint (cf_taskq_attempts (f->project, "t"), ==, 3);
  g_assert_true (cf_taskq_claim (f->project, "t", "s", "a", "m", NOW, &attempt, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (attempt, ==, 4);
}

static void
test_delegated_finish (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *marker = qpath (f, "inbox", "d.md.delegated");
  g_autofree char *done = qpath (f, "done", "d.md");
  g_autofree char *text = NULL;
  const char *footer = "---\nDelegated to gemini (job 17, cost $0.01)\n";

  add_task (f, "inbox", "d", "Summarise the logs");
  write_file (marker, "job 17");
  g_assert_true (cf_taskq_finish (f->project, "d", CF_TASK_OUTCOME_DONE, "delegated-done",
                                  footer, NOW, &error));
  g_assert_no_error (error);
  g_assert_false (exists (marker));
  text = read_file (done);
  g_assert_cmpstr (text, ==, "Summarise the logs\n\n---\nDelegated to gemini (job 17, cost $0.01)\n");
  g_assert_cmpuint (cf_taskq_attempts (f->project, "d"), ==, 0);
}

/* The marker next to an inbox task: written durably, listed, read back;
 * the task can no longer be claimed; finishing removes it. */
static void
test_mark_delegated (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *marker = qpath (f, "inbox", "d.md.delegated");
  g_autofree char *contents = NULL;
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(CfTaskMeta) meta = NULL;
  g_autofree char *meta_text = NULL;
  g_autofree char *meta_file = qpath (f, "meta", "d.json");
  gsize length = 0;
  guint attempt = 0;
  GStatBuf st;

  add_task (f, "inbox", "d", "Summarise the logs");
  add_task (f, "inbox", "e", "Another");
  g_assert_true (cf_taskq_mark_delegated (f->project, "d", "{\"job\":1}", "job-1", "gemini", NOW,
                                          &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_lstat (marker, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_true (cf_taskq_read_delegated (f->project, "d", &contents, &length, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (contents, ==, "{\"job\":1}");
  g_assert_cmpuint (length, ==, 9);

  /* Twice: refused, the first marker kept. */
  g_assert_false (cf_taskq_mark_delegated (f->project, "d", "other", "job-2", "gpu", NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS);
  g_clear_error (&error);
  g_clear_pointer (&contents, g_free);
  g_assert_true (cf_taskq_read_delegated (f->project, "d", &contents, NULL, &error));
  g_assert_cmpstr (contents, ==, "{\"job\":1}");

  /* A task that is not in the inbox cannot be marked. */
  g_assert_false (cf_taskq_mark_delegated (f->project, "zz", "m", "j", "gpu", NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (cf_taskq_read_delegated (f->project, "e", &contents, NULL, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Listed as delegated, seen so by the inbox scan, never claimed. */
  g_assert_true (cf_taskq_list_delegated (f->project, &ids, &error));
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (ids, 0), ==, "d");
  g_assert_true (cf_taskq_scan_inbox (f->project, &entries, NULL, &error));
  g_assert_cmpuint (entries->len, ==, 2);
  for (guint i = 0; i < entries->len; i++)
    {
      CfTaskqEntry *entry = g_ptr_array_index (entries, i);
      g_assert_cmpint (entry->delegated, ==, g_str_equal (entry->id, "d"));
    }
  g_assert_false (cf_taskq_claim (f->project, "d", "s", "a", "m", NOW, &attempt, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_DELEGATED);
  g_clear_error (&error);
  g_assert_cmpint (cf_taskq_locate (f->project, "d"), ==, CF_TASK_PLACE_INBOX);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "d"), ==, 0);
  /* The history says which job has it; no move was recorded. */
  meta_text = read_file (meta_file);
  g_assert_nonnull (strstr (meta_text, "\"job_id\" : \"job-1\""));
  g_assert_true (cf_taskq_read_meta (f->project, "d", &meta, &error));
  g_assert_null (meta->last_outcome);
  g_assert_false (meta->local_only);

  /* Removing is idempotent. */
  g_assert_true (cf_taskq_remove_delegated (f->project, "d", &error));
  g_assert_false (exists (marker));
  g_assert_true (cf_taskq_remove_delegated (f->project, "d", &error));
  g_assert_no_error (error);
  g_assert_true (cf_taskq_claim (f->project, "d", "s", "a", "m", NOW, &attempt, &error));
  g_assert_no_error (error);
}

/* A failed submission marks the task local-only, for good. */
static void
test_local_only (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTaskMeta) meta = NULL;
  guint attempt = 0;

  add_task (f, "inbox", "l", "Body");
  g_assert_true (cf_taskq_set_local_only (f->project, "l", "HTTP 400", NOW, &error));
  g_assert_no_error (error);
  g_assert_true (cf_taskq_read_meta (f->project, "l", &meta, &error));
  g_assert_true (meta->local_only);
  g_assert_cmpuint (meta->attempts, ==, 0);
  g_assert_cmpint (cf_taskq_locate (f->project, "l"), ==, CF_TASK_PLACE_INBOX);
  g_clear_pointer (&meta, cf_task_meta_free);

  /* Claims, returns and finishes keep it. */
  g_assert_true (cf_taskq_claim (f->project, "l", "s", "a", "m", NOW, &attempt, &error));
  g_assert_true (cf_taskq_requeue_active (f->project, "l", FALSE, NOW, &error));
  g_assert_true (cf_taskq_read_meta (f->project, "l", &meta, &error));
  g_assert_no_error (error);
  g_assert_true (meta->local_only);
  g_assert_cmpuint (meta->attempts, ==, 0);
}

/* A finish repeated after a crash that came after the footer was written
 * must not write it twice. */
static void
test_footer_once (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *done = qpath (f, "done", "t.md");
  g_autofree char *text = NULL;

  add_task (f, "active", "t", "Body\n\n---\nfooter line\n\n");
  g_assert_true (cf_taskq_finish (f->project, "t", CF_TASK_OUTCOME_DONE, NULL,
                                  "---\nfooter line", NOW, &error));
  g_assert_no_error (error);
  text = read_file (done);
  g_assert_cmpstr (text, ==, "Body\n\n---\nfooter line\n\n");
}

static void
test_reject (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTaskMeta) meta = NULL;
  g_autofree char *target = g_build_filename (f->project, "secret.txt", NULL);
  g_autofree char *link = qpath (f, "inbox", "link.md");
  g_autofree char *failed_link = qpath (f, "failed", "link.md");
  g_autofree char *fifo = qpath (f, "inbox", "fifo.md");
  g_autofree char *failed_fifo = qpath (f, "failed", "fifo.md");
  g_autofree char *dir = qpath (f, "inbox", "dir.md");
  g_autofree char *bad = qpath (f, "inbox", "bad name!.md");
  g_autofree char *failed_bad = qpath (f, "failed", "bad name!.md");
  g_autofree char *bad_reason = qpath (f, "failed", "bad_name_.reason.txt");
  g_autofree char *link_reason = qpath (f, "failed", "link.reason.txt");
  g_autofree char *text = NULL;
  GStatBuf st;

  write_file (target, "keep me");
  g_assert_cmpint (symlink (target, link), ==, 0);
  g_assert_true (cf_taskq_reject (f->project, "link.md",
                                  "the task file is a symbolic link, not a regular file", NOW, &error));
  g_assert_no_error (error);
  g_assert_false (exists (link));
  g_assert_cmpint (g_lstat (failed_link, &st), ==, 0);
  g_assert_true (S_ISLNK (st.st_mode));
  text = read_file (target);
  g_assert_cmpstr (text, ==, "keep me");
  g_clear_pointer (&text, g_free);
  text = read_file (link_reason);
  g_assert_nonnull (strstr (text, "This task file was rejected."));
  g_assert_nonnull (strstr (text, "File: link.md\n"));
  g_assert_nonnull (strstr (text, "Reason: the task file is a symbolic link, not a regular file\n"));
  g_assert_null (strstr (text, "Attempts:"));
  g_clear_pointer (&text, g_free);
  meta = meta_of (f->project, "link");
  g_assert_cmpstr (meta->last_outcome, ==, "rejected");
  g_assert_cmpint (meta->place, ==, CF_TASK_PLACE_FAILED);
  g_assert_cmpstr (meta->last_reason, ==, "the task file is a symbolic link, not a regular file");

  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
  g_assert_true (cf_taskq_reject (f->project, "fifo", "a FIFO", NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_lstat (failed_fifo, &st), ==, 0);
  g_assert_true (S_ISFIFO (st.st_mode));

  write_file (bad, "bad");
  g_assert_true (cf_taskq_reject (f->project, "bad name!.md", "bad name", NOW, &error));
  g_assert_no_error (error);
  g_assert_true (exists (failed_bad));
  text = read_file (bad_reason);
  g_assert_nonnull (strstr (text, "File: bad name!.md\n"));
  g_clear_pointer (&text, g_free);

  /* A directory cannot replace a file of the same name in failed/: it
   * leaves the inbox under another name. */
  {
    g_autofree char *failed_dir = qpath (f, "failed", "dir.md");
    g_autofree char *unique = g_strdup_printf ("dir.md.rejected-%" G_GINT64_FORMAT, NOW);
    g_autofree char *moved = qpath (f, "failed", unique);

    write_file (failed_dir, "an older failed task");
    g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
    g_assert_true (cf_taskq_reject (f->project, "dir.md", "a directory", NOW, &error));
    g_assert_no_error (error);
    g_assert_false (exists (dir));
    g_assert_cmpint (g_lstat (moved, &st), ==, 0);
    g_assert_true (S_ISDIR (st.st_mode));
  }

  g_assert_false (cf_taskq_reject (f->project, "nothing.md", "x", NOW, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
  g_clear_error (&error);
}

static void
test_reject_corrupt_meta (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *meta_file = qpath (f, "meta", "t.json");
  g_autofree char *aside_name = g_strdup_printf ("t.json.corrupt-%" G_GINT64_FORMAT, NOW);
  g_autofree char *aside = qpath (f, "meta", aside_name);
  g_autofree char *reason_path = qpath (f, "failed", "t.reason.txt");
  g_autofree char *text = NULL;

  add_task (f, "inbox", "t", "work");
  write_file (meta_file, "{ not json");
  g_assert_false (cf_taskq_claim (f->project, "t", "s", "a", "m", NOW, NULL, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_CORRUPT_META);
  g_assert_nonnull (strstr (error->message, "t.json: not a task meta file"));
  g_clear_error (&error);
  g_assert_cmpint (cf_taskq_locate (f->project, "t"), ==, CF_TASK_PLACE_INBOX);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "t"), ==, 0);

  /* A meta file of a million '[': json-glib recursed once per bracket and
   * the daemon died of a stack overflow. */
  {
    gsize size = 1024 * 1024 - 1;
    g_autofree char *deep = g_malloc (size + 1);

    memset (deep, '[', size);
    deep[size] = '\0';
    write_file (meta_file, deep);
    g_assert_false (cf_taskq_claim (f->project, "t", "s", "a", "m", NOW, NULL, &error));
    g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_CORRUPT_META);
    g_assert_nonnull (strstr (error->message, "nested more than"));
    g_clear_error (&error);
  }
  /* A session name json-glib would have made bytes that are not UTF-8. */
  write_file (meta_file, "{\"version\": 1, \"attempts\": 1, \"session\": \"\\udc00\"}");
  g_assert_false (cf_taskq_claim (f->project, "t", "s", "a", "m", NOW, NULL, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_CORRUPT_META);
  g_clear_error (&error);
  write_file (meta_file, "{\"version\": 1, \"attempts\": 1, \"session\": \"caf\xe9\"}");
  g_assert_false (cf_taskq_claim (f->project, "t", "s", "a", "m", NOW, NULL, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_CORRUPT_META);
  g_clear_error (&error);
  g_assert_cmpint (cf_taskq_locate (f->project, "t"), ==, CF_TASK_PLACE_INBOX);

  write_file (meta_file, "{\"version\": 1, \"attempts\": -3}");
  g_assert_false (cf_taskq_claim (f->project, "t", "s", "a", "m", NOW, NULL, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_CORRUPT_META);
  g_clear_error (&error);

  g_assert_true (cf_taskq_reject (f->project, "t", "its meta file is corrupt", NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpint (cf_taskq_locate (f->project, "t"), ==, CF_TASK_PLACE_FAILED);
  g_assert_true (exists (aside));
  text = read_file (reason_path);
  g_assert_nonnull (strstr (text, "Note: the task's meta file could not be read"));
  g_assert_cmpuint (cf_taskq_attempts (f->project, "t"), ==, 0);
}

typedef struct {
  const char *id;
  const char *name;            /* for reject */
} BadName;

static void
test_path_traversal (Fixture *f, gconstpointer data)
{
  static const BadName bad[] = {
    { "../escape", "../escape.md" },
    { "a/b", "a/b.md" },
    { "", "" },
    { ".hidden", ".hidden.md" },
    { "..", ".." },
    { "x\ny", "sub/x.md" },
  };
  g_autofree char *outside = g_build_filename (f->project, ".agent-queue", "escape.md", NULL);
  g_autofree char *sibling = g_build_filename (f->project, "escape.md", NULL);

  write_file (outside, "not in a state dir");
  write_file (sibling, "not in the queue");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CfTask) task = NULL;
      g_autoptr(CfTaskMeta) meta = NULL;
      const char *id = bad[i].id;

      g_assert_null (cf_taskq_task_path (f->project, CF_TASK_PLACE_INBOX, id));
      g_assert_cmpint (cf_taskq_locate (f->project, id), ==, CF_TASK_PLACE_ABSENT);
      g_assert_cmpuint (cf_taskq_attempts (f->project, id), ==, 0);

#define EXPECT_INVALID(call) \
      G_STMT_START { \
        g_assert_false (call); \
        g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT); \
        g_clear_error (&error); \
      } G_STMT_END

      EXPECT_INVALID (cf_taskq_read_task (f->project, id, &task, &error));
      EXPECT_INVALID (cf_taskq_read_meta (f->project, id, &meta, &error));
      EXPECT_INVALID (cf_taskq_claim (f->project, id, "s", "a", "m", NOW, NULL, &error));
      EXPECT_INVALID (cf_taskq_finish (f->project, id, CF_TASK_OUTCOME_FAILED, "x", "f", NOW, &error));
      EXPECT_INVALID (cf_taskq_requeue (f->project, id, TRUE, NOW, &error));
      EXPECT_INVALID (cf_taskq_reject (f->project, bad[i].name, "x", NOW, &error));
#undef EXPECT_INVALID
    }

  /* Relative projects are refused by everything. */
  {
    g_autoptr(GError) error = NULL;
    GPtrArray *ids = NULL;
    CfTaskqCounts counts;

    g_assert_null (cf_taskq_task_path ("proj", CF_TASK_PLACE_INBOX, "t"));
    g_assert_false (cf_taskq_list ("proj", CF_TASK_PLACE_INBOX, &ids, &error));
    g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    g_assert_false (cf_taskq_count ("proj", &counts, &error));
    g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    g_assert_false (cf_taskq_claim ("proj", "t", NULL, NULL, NULL, NOW, NULL, &error));
    g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT);
  }

  {
    g_autofree char *a = read_file (outside);
    g_autofree char *b = read_file (sibling);

    g_assert_cmpstr (a, ==, "not in a state dir");
    g_assert_cmpstr (b, ==, "not in the queue");
  }
}

/* --- Listing, status, recovery ------------------------------------------------------- */

static void
test_list_and_status (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *status_path = g_build_filename (f->project, ".agent-queue", "status.json", NULL);
  g_autofree char *fifo = qpath (f, "done", "pipe.md");
  JsonObject *status;
  CfTaskqCounts counts;
  GStatBuf st;

  add_task (f, "inbox", "c", "c");
  add_task (f, "inbox", "a", "a");
  add_task (f, "inbox", "b", "b");
  add_task (f, "active", "d", "d");
  add_task (f, "done", "e", "e");
  add_task (f, "done", "f", "f");
  add_task (f, "failed", "g", "g");
  {
    g_autofree char *path = qpath (f, "failed", "g.reason.txt");
    g_autofree char *hidden = qpath (f, "done", ".x.md");
    g_autofree char *marker = qpath (f, "inbox", "a.md.delegated");
    write_file (path, "why");
    write_file (hidden, "hidden");
    write_file (marker, "job");
  }
  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);

  g_assert_true (cf_taskq_list (f->project, CF_TASK_PLACE_INBOX, &ids, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (ids, 0), ==, "a");
  g_assert_cmpstr (g_ptr_array_index (ids, 1), ==, "b");
  g_assert_cmpstr (g_ptr_array_index (ids, 2), ==, "c");
  g_assert_cmpint (cf_taskq_locate (f->project, "d"), ==, CF_TASK_PLACE_ACTIVE);
  g_assert_cmpint (cf_taskq_locate (f->project, "g"), ==, CF_TASK_PLACE_FAILED);
  g_assert_cmpint (cf_taskq_locate (f->project, "z"), ==, CF_TASK_PLACE_ABSENT);

  g_assert_true (cf_taskq_count (f->project, &counts, &error));
  g_assert_cmpuint (counts.inbox, ==, 3);
  g_assert_cmpuint (counts.active, ==, 1);
  g_assert_cmpuint (counts.done, ==, 2);
  g_assert_cmpuint (counts.failed, ==, 1);

  g_assert_true (cf_taskq_write_status (f->project, 1, NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (status_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0644);
  g_assert_true (json_parser_load_from_file (parser, status_path, &error));
  g_assert_no_error (error);
  status = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (status, "inbox_count"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (status, "active_count"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (status, "done_count"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (status, "failed_count"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (status, "delegated_count"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (status, "updated_at"), ==, "2023-11-14T22:13:20Z");

  g_assert_cmpstr (cf_task_place_to_string (CF_TASK_PLACE_INBOX), ==, "inbox");
  g_assert_cmpstr (cf_task_place_to_string (CF_TASK_PLACE_ABSENT), ==, "absent");
  g_assert_cmpstr (cf_task_place_to_string ((CfTaskPlace) 99), ==, "absent");
}

static void
test_recover (Fixture *f, gconstpointer data)
{
  static const char *const temp_files[][2] = {
    { "active", "x.md.AbC123" },
    { "inbox", "x.md.delegated.Xy12Z9" },
    { "meta", "y.json.QwErTy" },
    { "failed", "z.reason.txt.A1b2C3" },
    { NULL, "status.json.Zz9Yy8" },
  };
  static const char *const kept_files[][2] = {
    { "inbox", "keep.md.backup" },  /* an operator's, not ours */
    { "active", "x.md.delegated" },
    { "meta", "y.json.corrupt-1" },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTaskqRecovery) recovery = NULL;
  g_autoptr(CfTaskMeta) meta = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (temp_files); i++)
    {
      g_autofree char *path = qpath (f, temp_files[i][0] != NULL ? temp_files[i][0] : "",
                                     temp_files[i][1]);
      write_file (path, "partial");
    }
  for (guint i = 0; i < G_N_ELEMENTS (kept_files); i++)
    {
      g_autofree char *path = qpath (f, kept_files[i][0], kept_files[i][1]);
      write_file (path, "kept");
    }
  add_task (f, "active", "orphan-active", "x");   /* no meta */
  add_task (f, "inbox", "claimed", "x");
  g_assert_true (cf_taskq_claim (f->project, "claimed", "s", "a", "m", NOW, NULL, &error));
  add_task (f, "inbox", "twice", "x");
  add_task (f, "done", "twice", "x");
  {
    g_autofree char *path = qpath (f, "meta", "ghost.json");
    write_file (path, "{\"version\": 1, \"attempts\": 2}");
  }

  g_assert_true (cf_taskq_recover (f->project, NOW, &recovery, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (recovery->temp_files_removed, ==, G_N_ELEMENTS (temp_files));
  for (guint i = 0; i < G_N_ELEMENTS (temp_files); i++)
    {
      g_autofree char *path = qpath (f, temp_files[i][0] != NULL ? temp_files[i][0] : "",
                                     temp_files[i][1]);
      g_assert_false (exists (path));
    }
  for (guint i = 0; i < G_N_ELEMENTS (kept_files); i++)
    {
      g_autofree char *path = qpath (f, kept_files[i][0], kept_files[i][1]);
      g_assert_true (exists (path));
    }

  g_assert_cmpuint (recovery->active->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (recovery->active, 0), ==, "claimed");
  g_assert_cmpstr (g_ptr_array_index (recovery->active, 1), ==, "orphan-active");
  g_assert_cmpuint (recovery->meta_created, ==, 1);
  g_assert_cmpuint (recovery->duplicates->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (recovery->duplicates, 0), ==, "twice");
  g_assert_cmpuint (recovery->orphan_meta->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (recovery->orphan_meta, 0), ==, "ghost");

  meta = meta_of (f->project, "orphan-active");
  g_assert_cmpuint (meta->attempts, ==, 1);
  g_assert_cmpstr (meta->last_outcome, ==, "recovered");
  g_clear_pointer (&meta, cf_task_meta_free);
  meta = meta_of (f->project, "claimed");
  g_assert_cmpuint (meta->attempts, ==, 1);
  g_assert_cmpstr (meta->last_outcome, ==, "claimed");
}

/* --- Concurrency ------------------------------------------------------------------ */

#define THREAD_TASKS 40

typedef struct {
  const char *project;
  guint claimed;
} ClaimerData;

static gpointer
claimer (gpointer data)
{
  ClaimerData *claimer_data = data;

  for (guint i = 0; i < THREAD_TASKS; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%02u", i);
      g_autoptr(GError) error = NULL;

      if (cf_taskq_claim (claimer_data->project, id, "s", "a", "m", NOW, NULL, &error))
        claimer_data->claimed++;
      else
        g_assert_true (g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND) ||
                       g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS));
    }
  return NULL;
}

/* Four threads race to claim the same tasks (two on each of two projects):
 * every task is claimed exactly once, and counted once. */
static void
test_threads (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *second = g_dir_make_tmp ("cf-taskq-XXXXXX", &error);
  const char *projects[] = { f->project, second };
  ClaimerData claimers[4] = { { f->project, 0 }, { f->project, 0 }, { second, 0 }, { second, 0 } };
  GThread *threads[4];

  g_assert_no_error (error);
  g_assert_true (cf_taskq_ensure_dirs (second, &error));
  for (guint p = 0; p < G_N_ELEMENTS (projects); p++)
    for (guint i = 0; i < THREAD_TASKS; i++)
      {
        g_autofree char *name = g_strdup_printf ("t%02u.md", i);
        g_autofree char *path = g_build_filename (projects[p], ".agent-queue", "inbox", name, NULL);
        write_file (path, "work");
      }

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("claimer", claimer, &claimers[i]);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  g_assert_cmpuint (claimers[0].claimed + claimers[1].claimed, ==, THREAD_TASKS);
  g_assert_cmpuint (claimers[2].claimed + claimers[3].claimed, ==, THREAD_TASKS);
  for (guint p = 0; p < G_N_ELEMENTS (projects); p++)
    for (guint i = 0; i < THREAD_TASKS; i++)
      {
        g_autofree char *id = g_strdup_printf ("t%02u", i);

        g_assert_cmpint (cf_taskq_locate (projects[p], id), ==, CF_TASK_PLACE_ACTIVE);
        g_assert_cmpuint (cf_taskq_attempts (projects[p], id), ==, 1);
      }
  remove_tree (second);
}

/* --- Crash safety ----------------------------------------------------------------- */

#define CRASH_TASKS 6
#define CRASH_ITERATIONS 120
#define CRASH_MIN_ITERATIONS 50
/* Past this, stop after the minimum: slow sanitizer builds stay under 10 s. */
#define CRASH_BUDGET_USEC (5 * G_USEC_PER_SEC)
#define CRASH_FOOTER "---\nfinished by the crash test"

static char *
random_id (GRand *rand, GPtrArray *ids)
{
  return g_strdup (g_ptr_array_index (ids, g_rand_int_range (rand, 0, (gint32) ids->len)));
}

/* The daemon's life in fast motion: claim, finish or requeue, retry,
 * status, until it is killed. Errors only mean another step must come first. */
static void G_GNUC_NORETURN
crash_child (const char *project, guint32 seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  static const CfTaskPlace places[] = {
    CF_TASK_PLACE_INBOX, CF_TASK_PLACE_ACTIVE, CF_TASK_PLACE_DONE, CF_TASK_PLACE_FAILED,
  };

  for (;;)
    {
      CfTaskPlace place = places[g_rand_int_range (rand, 0, G_N_ELEMENTS (places))];
      g_autoptr(GPtrArray) ids = NULL;
      g_autofree char *id = NULL;

      if (!cf_taskq_list (project, place, &ids, NULL) || ids->len == 0)
        continue;
      id = random_id (rand, ids);
      switch (place)
        {
        case CF_TASK_PLACE_INBOX:
          cf_taskq_claim (project, id, "ccl-auto-0", "main", "sonnet", g_get_real_time (), NULL, NULL);
          break;
        case CF_TASK_PLACE_ACTIVE:
          switch (g_rand_int_range (rand, 0, 3))
            {
            case 0:
              cf_taskq_requeue (project, id, TRUE, g_get_real_time (), NULL);
              break;
            case 1:
              cf_taskq_finish (project, id, CF_TASK_OUTCOME_DONE, "ok", CRASH_FOOTER,
                               g_get_real_time (), NULL);
              break;
            default:
              cf_taskq_finish (project, id, CF_TASK_OUTCOME_FAILED, "boom", NULL,
                               g_get_real_time (), NULL);
              break;
            }
          break;
        default:
          cf_taskq_requeue (project, id, TRUE, g_get_real_time (), NULL);
          break;
        }
      if (g_rand_int_range (rand, 0, 4) == 0)
        cf_taskq_write_status (project, 0, g_get_real_time (), NULL);
    }
}

/* g_file_set_contents' temporaries: "<target>.XXXXXX". */
static gboolean
looks_like_temp (const char *name)
{
  const char *dot = strrchr (name, '.');
  g_autofree char *target = NULL;

  if (dot == NULL || strlen (dot) != 7)
    return FALSE;
  for (const char *p = dot + 1; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p))
      return FALSE;
  target = g_strndup (name, dot - name);
  return g_str_has_suffix (target, ".md") || g_str_has_suffix (target, ".json") ||
         g_str_has_suffix (target, ".txt");
}

static void
check_no_temp_files (const char *project)
{
  static const char *const dirs[] = { "active", "failed", "meta", "" };

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = g_build_filename (project, ".agent-queue", dirs[i], NULL);
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      g_assert_nonnull (dir);
      while ((name = g_dir_read_name (dir)) != NULL)
        if (looks_like_temp (name))
          g_error ("%s/%s survived recovery", path, name);
    }
}

static void
test_crash_safety (Fixture *f, gconstpointer data)
{
  guint previous[CRASH_TASKS] = { 0 };
  gint64 started = g_get_monotonic_time ();
  guint moved_total = 0;
  guint iteration;

  for (guint i = 0; i < CRASH_TASKS; i++)
    {
      g_autofree char *id = g_strdup_printf ("task-%u", i);
      g_autofree char *text = g_strdup_printf ("work %u\n", i);
      add_task (f, "inbox", id, text);
    }

  for (iteration = 0;
       iteration < CRASH_ITERATIONS &&
       (iteration < CRASH_MIN_ITERATIONS || g_get_monotonic_time () - started < CRASH_BUDGET_USEC);
       iteration++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CfTaskqRecovery) recovery = NULL;
      g_autofree char *status_path = g_build_filename (f->project, ".agent-queue", "status.json", NULL);
      int status = 0;
      pid_t pid = fork ();

      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        crash_child (f->project, g_test_rand_int ());

      /* A random point inside some operation. */
      g_usleep (g_test_rand_int_range (200, 20000));
      g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      g_assert_true (WIFSIGNALED (status));

      g_assert_true (cf_taskq_recover (f->project, g_get_real_time (), &recovery, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (recovery->duplicates->len, ==, 0);
      check_no_temp_files (f->project);

      for (guint i = 0; i < CRASH_TASKS; i++)
        {
          g_autofree char *id = g_strdup_printf ("task-%u", i);
          g_autofree char *expected = g_strdup_printf ("work %u\n", i);
          g_autofree char *with_footer = g_strdup_printf ("work %u\n\n" CRASH_FOOTER "\n", i);
          g_autofree char *path = NULL;
          g_autofree char *text = NULL;
          g_autoptr(CfTaskMeta) meta = NULL;
          CfTaskPlace place = cf_taskq_locate (f->project, id);
          guint attempts;

          g_assert_cmpuint (places_of (f->project, id), ==, 1);
          path = cf_taskq_task_path (f->project, place, id);
          text = read_file (path);
          if (strcmp (text, expected) != 0)
            g_assert_cmpstr (text, ==, with_footer);

          /* Every meta file is whole: written atomically. */
          meta = meta_of (f->project, id);
          attempts = meta != NULL ? meta->attempts : 0;
          g_assert_cmpuint (attempts, >=, previous[i]);

          /* The meta file is written before each move, so it names where
           * the task is, or where an interrupted move was taking it. */
          switch (place)
            {
            case CF_TASK_PLACE_DONE:
            case CF_TASK_PLACE_FAILED:
              g_assert_nonnull (meta);
              g_assert_true (meta->place == place || meta->place == CF_TASK_PLACE_INBOX);
              break;
            case CF_TASK_PLACE_ACTIVE:
              g_assert_nonnull (meta);
              g_assert_cmpuint (attempts, >=, 1);
              break;
            case CF_TASK_PLACE_INBOX:
              g_assert_true (meta == NULL || meta->place == CF_TASK_PLACE_INBOX ||
                             meta->place == CF_TASK_PLACE_ACTIVE);
              break;
            case CF_TASK_PLACE_ABSENT:
            default:
              g_assert_not_reached ();
            }
          moved_total += attempts - previous[i];
          previous[i] = attempts;
        }

      if (g_file_test (status_path, G_FILE_TEST_EXISTS))
        {
          g_autoptr(JsonParser) parser = json_parser_new ();

          g_assert_true (json_parser_load_from_file (parser, status_path, &error));
          g_assert_no_error (error);
        }
    }

  /* The loop must have done real work between the kills. */
  g_assert_cmpuint (moved_total, >, 0);
  g_assert_cmpuint (iteration, >=, CRASH_MIN_ITERATIONS);
  g_test_message ("%u attempts over %u kills in %.1f s", moved_total, iteration,
                  (g_get_monotonic_time () - started) / 1e6);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/taskq/ensure-dirs", test_ensure_dirs);
  ADD ("/taskq/scan-inbox", test_scan_inbox);
  g_test_add_func ("/taskq/scan-missing-queue", test_scan_missing_queue);
  ADD ("/taskq/read-task", test_read_task);
  ADD ("/taskq/claim-finish-done", test_claim_finish_done);
  ADD ("/taskq/finish-failed-reason", test_finish_failed_reason);
  ADD ("/taskq/requeue-attempts", test_requeue_attempts);
  ADD ("/taskq/requeue-give-back-once", test_requeue_give_back_once);
  ADD ("/taskq/requeue-active-only", test_requeue_active_only);
  ADD ("/taskq/requeue-refusals", test_requeue_refusals);
  ADD ("/taskq/claim-vanished", test_claim_vanished);
  ADD ("/taskq/attempts-survive-restart", test_attempts_survive_restart);
  ADD ("/taskq/delegated-finish", test_delegated_finish);
  ADD ("/taskq/mark-delegated", test_mark_delegated);
  ADD ("/taskq/local-only", test_local_only);
  ADD ("/taskq/footer-once", test_footer_once);
  ADD ("/taskq/reject", test_reject);
  ADD ("/taskq/reject-corrupt-meta", test_reject_corrupt_meta);
  ADD ("/taskq/symlinked-queue-dirs", test_symlinked_queue_dirs);
  ADD ("/taskq/path-traversal", test_path_traversal);
  ADD ("/taskq/list-and-status", test_list_and_status);
  ADD ("/taskq/recover", test_recover);
  ADD ("/taskq/threads", test_threads);
  ADD ("/taskq/crash-safety", test_crash_safety);
  ADD ("/taskq/lock-held-elsewhere", test_lock_held_elsewhere);
  ADD ("/taskq/lock-created-private", test_lock_created_private);
  ADD ("/taskq/finish-keeps-verdict", test_finish_keeps_verdict);
  ADD ("/taskq/read-task-open-for-writing", test_read_task_open_for_writing);
  ADD ("/taskq/verdict-on-disk-survives-restart", test_verdict_on_disk_survives_restart);
#undef ADD

  return g_test_run ();
}
