/* SPDX-License-Identifier: MIT */
/* The queue's one move transaction (taskq_move_run), the locked
 * submission and its crash recovery, and the ListTasks cache and merging
 * (cf-taskq-move.c, cf-taskq-submit.c, cf-taskq-list.c). */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf-taskq-async.h"
#include "cf-taskq-private.h"
#include "cf-test-util.h"

#define NOW ((gint64) 1700000000 * G_USEC_PER_SEC)

typedef struct {
  char *project;
  GString *trace;              /* the hooks that ran, in order */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->project = cf_test_make_tmpdir ("cf-taskq-move-XXXXXX");
  g_assert_true (cf_taskq_ensure_dirs (f->project, &error));
  g_assert_no_error (error);
  f->trace = g_string_new (NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  cf_test_remove_tree (f->project);
  g_free (f->project);
  g_string_free (f->trace, TRUE);
}

static char *
qpath (const Fixture *f, const char *dir, const char *name)
{
  return g_build_filename (f->project, ".agent-queue", dir, name, NULL);
}

static gboolean
exists (const char *path)
{
  GStatBuf st;

  return g_lstat (path, &st) == 0;
}

/* The names in DIR, sorted, comma-separated. */
static char *
names_in (const Fixture *f, const char *dir)
{
  g_autofree char *path = qpath (f, dir, NULL);
  g_autoptr(GDir) listing = g_dir_open (path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (listing);
  while ((name = g_dir_read_name (listing)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, taskq_compare_strings);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (",", (char **) names->pdata);
}

static void
assert_names (const Fixture *f, const char *dir, const char *expected)
{
  g_autofree char *names = names_in (f, dir);

  g_assert_cmpstr (names, ==, expected);
}

/* TRUE when another open file description cannot take the queue lock. */
static gboolean
queue_locked (const Fixture *f)
{
  g_autofree char *path = g_build_filename (f->project, ".agent-queue", ".lock", NULL);
  int fd = open (path, O_RDWR | O_CLOEXEC);
  gboolean locked;

  g_assert_cmpint (fd, >=, 0);
  locked = flock (fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
  close (fd);
  return locked;
}

/* --- The move transaction ------------------------------------------------------------ */

static gboolean
trace_check (TaskqMove *move, GError **error)
{
  Fixture *f = move->data;

  g_assert_true (queue_locked (f));
  g_assert_true (exists (move->source));
  g_assert_cmpint (move->source_place, ==, CF_TASK_PLACE_ACTIVE);
  g_string_append (f->trace, "check,");
  return TRUE;
}

static gboolean
trace_prepare (TaskqMove *move, GError **error)
{
  Fixture *f = move->data;

  g_string_append (f->trace, "prepare,");
  return TRUE;
}

static void
trace_update (TaskqMove *move, JsonObject *meta)
{
  Fixture *f = move->data;

  json_object_set_int_member (meta, "attempts", 7);
  taskq_meta_update (meta, move->to, "done", move->now_usec, json_object_new ());
  g_string_append (f->trace, "update,");
}

static gboolean
trace_before_rename (TaskqMove *move, GError **error)
{
  Fixture *f = move->data;
  g_autoptr(CfTaskMeta) meta = NULL;

  /* What the move depends on is durable before it happens. */
  g_assert_true (cf_taskq_read_meta (f->project, move->id, &meta, NULL));
  g_assert_nonnull (meta);
  g_assert_cmpuint (meta->attempts, ==, 7);
  g_assert_cmpint (meta->place, ==, CF_TASK_PLACE_DONE);
  g_assert_true (exists (move->source));
  g_assert_false (exists (move->dest));
  g_string_append (f->trace, "before-rename,");
  return TRUE;
}

static void
trace_after (TaskqMove *move)
{
  Fixture *f = move->data;

  g_assert_true (queue_locked (f));
  g_assert_false (exists (move->source));
  g_assert_true (exists (move->dest));
  g_string_append (f->trace, "after");
}

static void
test_move_order (Fixture *f, gconstpointer data)
{
  static const CfTaskPlace from[] = { CF_TASK_PLACE_INBOX, CF_TASK_PLACE_ACTIVE };
  g_autofree char *active = qpath (f, "active", "t.md");
  g_autofree char *done = qpath (f, "done", "t.md");
  g_autoptr(GError) error = NULL;
  g_auto(TaskqMove) move = {
    .project = f->project, .id = "t", .from = from, .n_from = G_N_ELEMENTS (from),
    .from_names = "inbox/ or active/", .to = CF_TASK_PLACE_DONE, .now_usec = NOW, .data = f,
    .check = trace_check, .prepare = trace_prepare, .update = trace_update,
    .before_rename = trace_before_rename, .after = trace_after,
  };

  cf_test_write_file (active, "# t\n");
  g_assert_true (taskq_move_run (&move, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (f->trace->str, ==, "check,prepare,update,before-rename,after");
  g_assert_false (exists (active));
  g_assert_true (exists (done));
  g_assert_false (queue_locked (f));
  g_assert_cmpint (cf_taskq_locate (f->project, "t"), ==, CF_TASK_PLACE_DONE);
}

static gboolean
refuse (TaskqMove *move, GError **error)
{
  g_set_error_literal (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_DELEGATED, "refused");
  return FALSE;
}

static void
test_move_refused (Fixture *f, gconstpointer data)
{
  static const CfTaskPlace from[] = { CF_TASK_PLACE_ACTIVE };
  g_autofree char *active = qpath (f, "active", "t.md");
  g_autoptr(GError) error = NULL;
  g_auto(TaskqMove) missing = {
    .project = f->project, .id = "gone", .from = from, .n_from = 1, .from_names = "active/",
    .to = CF_TASK_PLACE_DONE, .now_usec = NOW,
  };
  g_auto(TaskqMove) refused = {
    .project = f->project, .id = "t", .from = from, .n_from = 1, .from_names = "active/",
    .to = CF_TASK_PLACE_DONE, .now_usec = NOW, .check = refuse,
  };

  cf_test_write_file (active, "# t\n");
  g_assert_false (taskq_move_run (&missing, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "active/"));
  g_clear_error (&error);

  /* A refusal changes nothing: no meta file, no move, no leftovers. */
  g_assert_false (taskq_move_run (&refused, &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_DELEGATED);
  g_assert_true (exists (active));
  assert_names (f, "meta", "");
  assert_names (f, "done", "");
  g_assert_false (queue_locked (f));
}

static void
update_attempts (TaskqMove *move, JsonObject *meta)
{
  json_object_set_int_member (meta, "attempts", taskq_meta_attempts (meta) + 1);
}

/* A rename that fails (the destination holds the id) puts the meta file
 * back when the move says so, and keeps the new one otherwise. */
static void
test_move_restore_meta (Fixture *f, gconstpointer data)
{
  static const CfTaskPlace from[] = { CF_TASK_PLACE_INBOX };
  g_autofree char *inbox = qpath (f, "inbox", "t.md");
  g_autofree char *active = qpath (f, "active", "t.md");
  g_autoptr(GError) error = NULL;

  cf_test_write_file (inbox, "# t\n");
  cf_test_write_file (active, "# an older t\n");
  for (guint restore = 0; restore < 2; restore++)
    {
      g_auto(TaskqMove) move = {
        .project = f->project, .id = "t", .from = from, .n_from = 1, .from_names = "inbox/",
        .to = CF_TASK_PLACE_ACTIVE, .now_usec = NOW, .update = update_attempts,
        .flags = restore ? TASKQ_MOVE_RESTORE_META : 0,
      };

      g_assert_false (taskq_move_run (&move, &error));
      g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS);
      g_clear_error (&error);
      g_assert_true (exists (inbox));
    }
  /* The first (not restoring) counted 1; the second's 2 was put back. */
  g_assert_cmpuint (cf_taskq_attempts (f->project, "t"), ==, 1);
  assert_names (f, "meta", "t.json");
}

static char *
fallback_dest (TaskqMove *move, int saved_errno)
{
  g_assert_true (saved_errno == EISDIR || saved_errno == ENOTEMPTY || saved_errno == EEXIST);
  return g_build_filename (move->project, ".agent-queue", "failed", "t.elsewhere", NULL);
}

static void
test_move_fallback (Fixture *f, gconstpointer data)
{
  static const CfTaskPlace from[] = { CF_TASK_PLACE_ACTIVE };
  g_autofree char *active = qpath (f, "active", "t.md");
  g_autofree char *blocker = qpath (f, "failed", "t.md");
  g_autofree char *inside = qpath (f, "failed", "t.md/x");
  g_autoptr(GError) error = NULL;
  g_auto(TaskqMove) move = {
    .project = f->project, .id = "t", .from = from, .n_from = 1, .from_names = "active/",
    .to = CF_TASK_PLACE_FAILED, .flags = TASKQ_MOVE_REPLACE, .now_usec = NOW,
    .rename_fallback = fallback_dest,
  };

  cf_test_write_file (active, "# t\n");
  g_assert_cmpint (g_mkdir (blocker, 0755), ==, 0);
  cf_test_write_file (inside, "x");
  g_assert_true (taskq_move_run (&move, &error));
  g_assert_no_error (error);
  g_assert_false (exists (active));
  assert_names (f, "failed", "t.elsewhere,t.md");
}

/* --- Submit ------------------------------------------------------------------------ */

typedef struct {
  const char *project;
  gboolean ok;
} SubmitCall;

static gpointer
submit_thread (gpointer data)
{
  SubmitCall *call = data;

  call->ok = cf_taskq_submit (call->project, "sub", "---\ntitle: sub\n---\nbody\n", NULL);
  return NULL;
}

/* SubmitTask waits for the queue lock like every other write. */
static void
test_submit_locked (Fixture *f, gconstpointer data)
{
  g_autofree char *inbox = qpath (f, "inbox", "sub.md");
  g_autoptr(GError) error = NULL;
  CfTaskqLock *lock = cf_taskq_lock (f->project, &error);
  SubmitCall call = { .project = f->project };
  GThread *thread;

  g_assert_no_error (error);
  thread = g_thread_new ("submit", submit_thread, &call);
  g_usleep (200 * 1000);
  g_assert_false (exists (inbox));
  assert_names (f, "inbox", "");
  cf_taskq_unlock (lock);
  g_thread_join (thread);
  g_assert_true (call.ok);
  g_assert_true (exists (inbox));

  /* Never over an existing task. */
  g_assert_false (cf_taskq_submit (f->project, "sub", "other\n", &error));
  g_assert_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS);
  assert_names (f, "inbox", "sub.md");
}

/* A crash between the temporary file's write and its rename leaves
 * nothing the inbox takes for a task, and nothing recovery leaves. */
static void
test_submit_crash (void)
{
  g_autofree char *project = NULL;
  g_autofree char *inbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GPtrArray) rejected = NULL;
  g_autoptr(CfTaskqRecovery) recovery = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *name;
  guint count = 0;

  if (g_test_subprocess ())
    {
      /* The parent's directory, by the parent's pid. */
      g_autofree char *dir_name = g_strdup_printf ("cf-taskq-submit-crash-%d", (int) getppid ());
      g_autofree char *parent_project = g_build_filename (g_get_tmp_dir (), dir_name, NULL);

      g_setenv ("CF_FAULT_CRASH_AT", "taskq-write-temp", TRUE);
      (void) cf_taskq_submit (parent_project, "crashed", "# crashed\n", NULL);
      return;                  /* not reached: the fault point kills the process */
    }

  {
    g_autofree char *dir_name = g_strdup_printf ("cf-taskq-submit-crash-%d", (int) getpid ());

    project = g_build_filename (g_get_tmp_dir (), dir_name, NULL);
    cf_test_remove_tree (project);
    g_assert_cmpint (g_mkdir (project, 0700), ==, 0);
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_failed ();

  inbox = g_build_filename (project, ".agent-queue", "inbox", NULL);
  dir = g_dir_open (inbox, 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_assert_true (taskq_is_temp_name (name));
      count++;
    }
  g_assert_cmpuint (count, ==, 1);
  g_assert_true (cf_taskq_scan_inbox (project, &entries, &rejected, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 0);
  g_assert_cmpuint (rejected->len, ==, 0);

  g_assert_true (cf_taskq_recover (project, NOW, &recovery, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (recovery->temp_files_removed, ==, 1);
  g_dir_rewind (dir);
  g_assert_null (g_dir_read_name (dir));
  cf_test_remove_tree (project);
}

/* --- ListTasks ---------------------------------------------------------------------- */

static void
on_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GPtrArray **out = user_data;
  g_autoptr(GError) error = NULL;

  *out = cf_taskq_list_all_finish (result, &error);
  g_assert_no_error (error);
}

static gboolean
both_listed (gpointer fixture, gconstpointer data)
{
  GPtrArray *const *results = data;

  return results[0] != NULL && results[1] != NULL;
}

static char *
describe (GPtrArray *listings)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < listings->len; i++)
    {
      CfTaskListing *l = g_ptr_array_index (listings, i);

      g_string_append_printf (out, "%s/%s:%s;", cf_task_place_to_string (l->place), l->id,
                              l->title);
    }
  return g_string_free (out, FALSE);
}

static gboolean
listed (gpointer fixture, gconstpointer data)
{
  GPtrArray *const *result = data;

  return *result != NULL;
}

static char *
list_once (Fixture *f)
{
  g_autoptr(GPtrArray) projects = g_ptr_array_new ();
  g_autoptr(GPtrArray) result = NULL;

  g_ptr_array_add (projects, f->project);
  cf_taskq_list_all_async (projects, on_listed, &result);
  g_assert_true (cf_test_run_until (f, listed, &result, 5000));
  return describe (result);
}

/* Sets the mtime of PATH an hour back: settled, as a file is unless it
 * was written a moment ago. */
static void
age (const char *path, gint64 seconds_back)
{
  struct timespec times[2] = {
    { .tv_nsec = UTIME_OMIT },
    { .tv_sec = time (NULL) - seconds_back },
  };

  g_assert_cmpint (utimensat (AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW), ==, 0);
}

static void
write_task (Fixture *f, const char *dir, const char *id, const char *title)
{
  g_autofree char *name = g_strconcat (id, ".md", NULL);
  g_autofree char *path = qpath (f, dir, name);
  g_autofree char *text = g_strdup_printf ("---\ntitle: %s\n---\nbody\n", title);

  cf_test_write_file (path, text);
  age (path, 3600);
}

static void
age_dirs (Fixture *f)
{
  static const char *const dirs[] = { "inbox", "active", "done", "failed" };

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = qpath (f, dirs[i], NULL);
      age (path, 3600);
    }
}

/* Two ListTasks calls at once read the directories once, and get the
 * same answer. */
static void
test_list_merged (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) projects = g_ptr_array_new ();
  GPtrArray *results[2] = { NULL, NULL };
  TaskqListStats before, after;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  write_task (f, "inbox", "a", "Alpha");
  write_task (f, "done", "b", "Beta");
  g_ptr_array_add (projects, f->project);

  taskq_list_stats (&before);
  cf_taskq_list_all_async (projects, on_listed, &results[0]);
  cf_taskq_list_all_async (projects, on_listed, &results[1]);
  g_assert_true (cf_test_run_until (f, both_listed, results, 5000));
  taskq_list_stats (&after);

  g_assert_cmpuint (after.runs - before.runs, ==, 1);
  g_assert_cmpuint (after.dir_reads - before.dir_reads, ==, 4);
  g_assert_cmpuint (after.files_parsed - before.files_parsed, ==, 2);
  first = describe (results[0]);
  second = describe (results[1]);
  g_assert_cmpstr (first, ==, "inbox/a:Alpha;done/b:Beta;");
  g_assert_cmpstr (second, ==, first);
  g_ptr_array_unref (results[0]);
  g_ptr_array_unref (results[1]);
}

/* A caller who comes after a move does not get a listing that began
 * before it. */
static void
test_list_after_move (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) projects = g_ptr_array_new ();
  GPtrArray *results[2] = { NULL, NULL };
  g_autofree char *second = NULL;

  write_task (f, "inbox", "a", "Alpha");
  g_ptr_array_add (projects, f->project);
  cf_taskq_list_all_async (projects, on_listed, &results[0]);
  g_assert_true (cf_taskq_claim (f->project, "a", NULL, NULL, NULL, NOW, NULL, NULL));
  cf_taskq_list_all_async (projects, on_listed, &results[1]);
  g_assert_true (cf_test_run_until (f, both_listed, results, 5000));
  second = describe (results[1]);
  g_assert_cmpstr (second, ==, "active/a:Alpha;");
  g_ptr_array_unref (results[0]);
  g_ptr_array_unref (results[1]);
}

/* Unchanged directories are not read again and unchanged files not
 * parsed again; a change of either is seen. */
static void
test_list_cached (Fixture *f, gconstpointer data)
{
  g_autofree char *c_path = qpath (f, "done", "c.md");
  TaskqListStats s0, s1, s2, s3, s4;
  g_autofree char *one = NULL;
  g_autofree char *two = NULL;
  g_autofree char *three = NULL;
  g_autofree char *four = NULL;
  g_autofree char *five = NULL;

  write_task (f, "inbox", "a", "Alpha");
  write_task (f, "done", "b", "Beta");
  write_task (f, "done", "c", "Gamma");
  age_dirs (f);

  taskq_list_stats (&s0);
  one = list_once (f);
  taskq_list_stats (&s1);
  g_assert_cmpstr (one, ==, "inbox/a:Alpha;done/b:Beta;done/c:Gamma;");
  g_assert_cmpuint (s1.dir_reads - s0.dir_reads, ==, 4);
  g_assert_cmpuint (s1.files_parsed - s0.files_parsed, ==, 3);

  two = list_once (f);
  taskq_list_stats (&s2);
  g_assert_cmpstr (two, ==, one);
  g_assert_cmpuint (s2.dir_reads - s1.dir_reads, ==, 0);
  g_assert_cmpuint (s2.files_parsed - s1.files_parsed, ==, 0);

  /* Edited in place: the directory is as it was, the file is not. */
  {
    FILE *file = fopen (c_path, "w");

    g_assert_nonnull (file);
    fputs ("---\ntitle: Delta\n---\nbody\n", file);
    g_assert_cmpint (fclose (file), ==, 0);
  }
  age (c_path, 1800);
  three = list_once (f);
  taskq_list_stats (&s3);
  g_assert_cmpstr (three, ==, "inbox/a:Alpha;done/b:Beta;done/c:Delta;");
  g_assert_cmpuint (s3.dir_reads - s2.dir_reads, ==, 0);
  g_assert_cmpuint (s3.files_parsed - s2.files_parsed, ==, 1);

  /* A move of the queue's own. */
  g_assert_true (cf_taskq_claim (f->project, "a", NULL, NULL, NULL, NOW, NULL, NULL));
  four = list_once (f);
  taskq_list_stats (&s4);
  g_assert_cmpstr (four, ==, "active/a:Alpha;done/b:Beta;done/c:Delta;");
  g_assert_cmpuint (s4.files_parsed - s3.files_parsed, ==, 1);

  /* Another process's new file: the directory's mtime moves. */
  write_task (f, "done", "d", "Epsilon");
  five = list_once (f);
  g_assert_cmpstr (five, ==, "active/a:Alpha;done/b:Beta;done/c:Delta;done/d:Epsilon;");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/taskq-move/order", test_move_order);
  ADD ("/taskq-move/refused", test_move_refused);
  ADD ("/taskq-move/restore-meta", test_move_restore_meta);
  ADD ("/taskq-move/fallback", test_move_fallback);
  ADD ("/taskq-submit/locked", test_submit_locked);
  g_test_add_func ("/taskq-submit/crash-before-rename", test_submit_crash);
  ADD ("/taskq-list/merged", test_list_merged);
  ADD ("/taskq-list/after-move", test_list_after_move);
  ADD ("/taskq-list/cached", test_list_cached);
#undef ADD

  return g_test_run ();
}
