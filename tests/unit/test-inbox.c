/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf-inbox.h"
#include "cf-taskq.h"
#include "cf-test-clock.h"

/* Rejections and I/O trouble are logged as warnings on purpose: record them
 * instead of letting GTest abort. */
static GPtrArray *warnings;

typedef struct {
  char *root;
  char *projects;              /* <root>/projects */
  CfState *state;
  CfInbox *inbox;
  guint available;             /* "tasks-available" emissions */
  gint64 available_at;         /* monotonic time of the last one */
  GPtrArray *rejected;         /* "project|name|reason" */
  CfClock *clock;              /* start_inbox_manual: the inbox's */
} Fixture;

static void
on_available (CfInbox *inbox, Fixture *f)
{
  f->available++;
  f->available_at = g_get_monotonic_time ();
}

static void
on_rejected (CfInbox *inbox, const char *project, const char *name, const char *reason, Fixture *f)
{
  g_ptr_array_add (f->rejected, g_strdup_printf ("%s|%s|%s", project, name, reason));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->root = cf_test_make_tmpdir ("cf-inbox-XXXXXX");
  f->projects = g_build_filename (f->root, "projects", NULL);
  g_assert_cmpint (g_mkdir (f->projects, 0755), ==, 0);
  f->state = cf_state_new ();
  f->rejected = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_set_size (warnings, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->inbox != NULL)
    {
      cf_inbox_stop (f->inbox);
      g_clear_object (&f->inbox);
    }
  g_clear_pointer (&f->clock, cf_clock_unref);
  g_clear_object (&f->state);
  cf_test_remove_tree (f->root);
  g_free (f->root);
  g_free (f->projects);
  g_ptr_array_unref (f->rejected);
}

/* EXTRA_YAML goes under the top level (e.g. "projects:\n  extra: [...]\n"
 * must then repeat "dir"). LIFECYCLE sets the fallback scan period. */
static CfConfig *
make_config (Fixture *f, const char *projects_yaml, const char *lifecycle)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *yaml = NULL;
  g_autofree char *projects = NULL;
  CfConfig *config;

  projects = projects_yaml != NULL ? g_strdup (projects_yaml)
                                   : g_strdup_printf ("projects:\n  dir: %s\n", f->projects);
  yaml = g_strdup_printf ("accounts:\n"
                          "  - {name: main, home: %s/home-main}\n"
                          "%s"
                          "lifecycle: {interval: %s}\n"
                          "watcher: {interval: 100ms, done_signal_dir: %s/run}\n",
                          f->root, projects, lifecycle, f->root);
  config = cf_config_load_data (yaml, -1, "test.yaml", f->root, &error);
  g_assert_no_error (error);
  return config;
}

static void
start_inbox (Fixture *f, CfConfig *config)
{
  f->inbox = cf_inbox_new (config, f->state);
  g_signal_connect (f->inbox, "tasks-available", G_CALLBACK (on_available), f);
  g_signal_connect (f->inbox, "task-rejected", G_CALLBACK (on_rejected), f);
  cf_inbox_start (f->inbox);
}

/* The inbox on a manual clock (f->clock): its readiness rules and timers
 * wait for run_virtual (); file events and worker threads stay real. */
static void
start_inbox_manual (Fixture *f, CfConfig *config)
{
  f->clock = cf_clock_new_manual (0, 0);
  f->inbox = cf_inbox_new (config, f->state);
  cf_inbox_set_clock (f->inbox, f->clock);
  g_signal_connect (f->inbox, "tasks-available", G_CALLBACK (on_available), f);
  g_signal_connect (f->inbox, "task-rejected", G_CALLBACK (on_rejected), f);
  cf_inbox_start (f->inbox);
}

/* Lets the loop handle what is under way (events, worker threads). */
static void
run_briefly (void)
{
  for (guint quiet = 0; quiet < 3;)
    {
      if (g_main_context_iteration (NULL, FALSE))
        quiet = 0;
      else
        {
          quiet++;
          g_usleep (2000);
        }
    }
}

/* Moves f->clock MS forward in 50 ms steps, the loop turning between. */
static void
run_virtual (Fixture *f, guint ms)
{
  run_briefly ();
  for (guint done = 0; done < ms; done += 50)
    {
      cf_clock_advance (f->clock, (gint64) MIN (50, ms - done) * 1000);
      run_briefly ();
    }
}

static gboolean
scans_reached (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return cf_inbox_get_scans (f->inbox) >= GPOINTER_TO_UINT (data);
}

/* Waits for one more full scan than now. */
static void
rescan_and_wait (Fixture *f)
{
  guint target = (guint) cf_inbox_get_scans (f->inbox) + 1;

  cf_inbox_rescan (f->inbox);
  g_assert_true (cf_test_run_until (f, scans_reached, GUINT_TO_POINTER (target), 5000));
}

static gboolean
pending_is (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;
  g_autoptr(GPtrArray) tasks = cf_inbox_list_pending (f->inbox);
  return tasks->len == GPOINTER_TO_UINT (data);
}

static gboolean
available_above (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return f->available > GPOINTER_TO_UINT (data);
}

static gboolean
rejected_is (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return f->rejected->len == GPOINTER_TO_UINT (data);
}

static gboolean
is_project (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return cf_inbox_has_project (f->inbox, data);
}

static gboolean
state_pending_is (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return cf_state_get_daemon_facts (f->state).pending_tasks == GPOINTER_TO_UINT (data);
}

/* The listed task ID; fails the test when it is not listed. */
static const CfInboxTask *
find_task (GPtrArray *tasks, const char *id)
{
  for (guint i = 0; i < tasks->len; i++)
    {
      const CfInboxTask *task = g_ptr_array_index (tasks, i);
      if (g_str_equal (task->id, id))
        return task;
    }
  g_error ("task %s is not listed", id);
}

static char *
make_project (const char *parent, const char *name)
{
  g_autofree char *path = g_build_filename (parent, name, NULL);
  g_autofree char *inbox = g_build_filename (path, CF_TASKQ_QUEUE_DIR, "inbox", NULL);

  g_assert_cmpint (g_mkdir_with_parents (inbox, 0755), ==, 0);
  return g_steal_pointer (&path);
}

static char *
task_text (const char *priority, const char *title)
{
  return g_strdup_printf ("---\ntitle: %s\npriority: %s\n---\nDo %s.\n", title, priority, title);
}

/* Written next to the queue, then renamed in: how tools should deliver. */
static void
deliver (const char *project, const char *id, const char *priority)
{
  g_autofree char *text = task_text (priority, id);
  g_autofree char *temp_name = g_strdup_printf (".%s.tmp", id);
  g_autofree char *temp = g_build_filename (project, temp_name, NULL);
  g_autofree char *dest = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, id);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (temp, text, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rename (temp, dest), ==, 0);
}

static void
deliver_text (const char *project, const char *id, const char *text)
{
  g_autofree char *temp = g_build_filename (project, "delivery.tmp", NULL);
  g_autofree char *dest = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, id);

  cf_test_write_file (temp, text);
  g_assert_cmpint (rename (temp, dest), ==, 0);
}

/* Written in place (open, write, close). */
static void
write_in_inbox (const char *project, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (project, CF_TASKQ_QUEUE_DIR, "inbox", name, NULL);
  FILE *file = fopen (path, "w");

  g_assert_nonnull (file);
  fputs (text, file);
  g_assert_cmpint (fclose (file), ==, 0);
}

static void
wait_first_scan (Fixture *f)
{
  g_assert_true (cf_test_run_until (f, scans_reached, GUINT_TO_POINTER (1), 5000));
}

/* ---- tests -------------------------------------------------------------- */

static void
test_renamed_in (Fixture *f, gconstpointer data)
{
  g_autofree char *project = make_project (f->projects, "web");
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  g_autoptr(GPtrArray) tasks = NULL;
  g_autofree char *text = task_text ("high", "login");
  g_autofree char *temp = g_build_filename (project, "login.tmp", NULL);
  g_autofree char *dest = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, "fix-login");
  const CfInboxTask *task;
  gint64 moved_at;
  guint before;

  start_inbox (f, config);
  wait_first_scan (f);
  g_assert_true (cf_inbox_has_project (f->inbox, project));

  cf_test_write_file (temp, text);
  before = f->available;
  moved_at = g_get_monotonic_time ();
  g_assert_cmpint (rename (temp, dest), ==, 0);
  g_assert_true (cf_test_run_until (f, available_above, GUINT_TO_POINTER (before), 2000));
  g_assert_true (pending_is (f, GUINT_TO_POINTER (1)));
  g_test_message ("renamed in -> tasks-available: %.1f ms", (f->available_at - moved_at) / 1000.0);
  g_assert_cmpint (f->available_at - moved_at, <, 100 * 1000);

  tasks = cf_inbox_list_pending (f->inbox);
  task = find_task (tasks, "fix-login");
  g_assert_cmpstr (task->project, ==, project);
  g_assert_cmpint (task->priority, ==, CF_PRIORITY_HIGH);
  g_assert_cmpuint (task->attempts, ==, 0);
  g_assert_cmpint (task->last_attempt_end, ==, 0);
  g_assert_cmpint (task->queued_at, >, 0);
  g_assert_true (cf_test_run_until (f, state_pending_is, GUINT_TO_POINTER (1), 1000));
}

static void
test_slow_writer (Fixture *f, gconstpointer data)
{
  g_autofree char *project = make_project (f->projects, "web");
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  g_autofree char *path = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, "slow");
  const char *first = "---\ntitle: Slow\npri";
  const char *rest = "ority: low\n---\nWritten in two parts.\n";
  g_autoptr(GPtrArray) tasks = NULL;
  int fd;

  start_inbox (f, config);
  wait_first_scan (f);

  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, first, strlen (first)), ==, (gssize) strlen (first));
  cf_test_run_for (150);
  /* A full scan in the middle must not take it for finished either. */
  rescan_and_wait (f);
  cf_test_run_for (150);
  g_assert_true (pending_is (f, GUINT_TO_POINTER (0)));
  g_assert_cmpuint (f->rejected->len, ==, 0);

  g_assert_cmpint (write (fd, rest, strlen (rest)), ==, (gssize) strlen (rest));
  g_assert_true (pending_is (f, GUINT_TO_POINTER (0)));
  g_assert_cmpint (close (fd), ==, 0);

  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (1), 2000));
  tasks = cf_inbox_list_pending (f->inbox);
  g_assert_cmpint (((CfInboxTask *) g_ptr_array_index (tasks, 0))->priority, ==, CF_PRIORITY_LOW);
  g_assert_cmpuint (f->rejected->len, ==, 0);
}

static void
test_editor_files_ignored (Fixture *f, gconstpointer data)
{
  g_autofree char *project = make_project (f->projects, "web");
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  const char *names[] = { ".task.md.swp", ".#task.md", "task.md~", "notes.txt", "task.md.part",
                          ".hidden.md" };

  start_inbox_manual (f, config);
  wait_first_scan (f);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    write_in_inbox (project, names[i], "---\ntitle: temp\n---\nbody\n");
  run_virtual (f, 700);
  rescan_and_wait (f);
  run_virtual (f, 700);

  g_assert_true (pending_is (f, GUINT_TO_POINTER (0)));
  g_assert_cmpuint (f->rejected->len, ==, 0);
  g_assert_cmpuint (cf_state_get_daemon_facts (f->state).pending_tasks, ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (project, CF_TASKQ_QUEUE_DIR, "inbox", names[i],
                                                NULL);
      g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
    }
}

static void
test_broken_task_rejected (Fixture *f, gconstpointer data)
{
  g_autofree char *project = make_project (f->projects, "web");
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  g_autofree char *failed = cf_taskq_task_path (project, CF_TASK_PLACE_FAILED, "broken");
  g_autofree char *reason_path = g_build_filename (project, CF_TASKQ_QUEUE_DIR, "failed",
                                                   "broken.reason.txt", NULL);
  g_autofree char *inbox_path = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, "broken");
  g_autofree char *reason = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(GPtrArray) tasks = NULL;

  start_inbox (f, config);
  wait_first_scan (f);
  deliver (project, "good-one", "default");
  deliver_text (project, "broken", "---\ntitle: [unclosed\n---\nbody\n");
  deliver (project, "good-two", "critical");

  g_assert_true (cf_test_run_until (f, rejected_is, GUINT_TO_POINTER (1), 2000));
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (2), 2000));
  expected = g_strdup_printf ("%s|broken.md|", project);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (f->rejected, 0), expected));
  g_assert_nonnull (strstr (g_ptr_array_index (f->rejected, 0), "broken.md:"));
  g_assert_true (g_file_test (failed, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (inbox_path, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_get_contents (reason_path, &reason, NULL, NULL));
  g_assert_nonnull (strstr (reason, "broken.md"));

  tasks = cf_inbox_list_pending (f->inbox);
  g_assert_cmpstr (((CfInboxTask *) g_ptr_array_index (tasks, 0))->id, ==, "good-two");
  g_assert_cmpstr (((CfInboxTask *) g_ptr_array_index (tasks, 1))->id, ==, "good-one");
  g_assert_true (cf_test_run_until (f, state_pending_is, GUINT_TO_POINTER (2), 1000));
}

/* Written in place, closed, does not parse: maybe a writer that paused
 * (GLib says "done" 2 s after the last write even without a close), so it
 * is refused only after 5 s without change; completed meanwhile, it is a
 * task. */
static void
test_in_place_refusal_waits (Fixture *f, gconstpointer data)
{
  g_autofree char *project = make_project (f->projects, "web");
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  g_autofree char *failed = cf_taskq_task_path (project, CF_TASK_PLACE_FAILED, "broken");
  gint64 written;

  start_inbox_manual (f, config);
  wait_first_scan (f);
  write_in_inbox (project, "paused.md", "---\ntitle: Paused\n");
  written = cf_clock_now_monotonic (f->clock);
  write_in_inbox (project, "broken.md", "---\ntitle: [unclosed\n---\nbody\n");
  run_virtual (f, 2000);
  g_assert_cmpuint (f->rejected->len, ==, 0);
  g_assert_true (pending_is (f, GUINT_TO_POINTER (0)));
  write_in_inbox (project, "paused.md", "---\ntitle: Paused\n---\nFinished later.\n");
  g_assert_true (cf_test_run_until_advancing (f, pending_is, GUINT_TO_POINTER (1), f->clock,
                                              G_USEC_PER_SEC, 2000));

  /* Refused, not before 5 s (the clock's): the waits up to 6 s pass at
   * once, the hourly scan never. */
  g_assert_true (cf_test_run_until_advancing (f, rejected_is, GUINT_TO_POINTER (1), f->clock,
                                              6 * G_USEC_PER_SEC, 8000));
  g_assert_cmpint (cf_clock_now_monotonic (f->clock) - written, >=, 5 * G_USEC_PER_SEC);
  g_assert_nonnull (strstr (g_ptr_array_index (f->rejected, 0), "|broken.md|"));
  g_assert_true (g_file_test (failed, G_FILE_TEST_IS_REGULAR));
  g_assert_true (pending_is (f, GUINT_TO_POINTER (1)));
}

static void
test_symlink_rejected (Fixture *f, gconstpointer data)
{
  g_autofree char *project = make_project (f->projects, "web");
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  g_autofree char *target = g_build_filename (f->root, "secret.md", NULL);
  g_autofree char *link_path = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, "link");
  g_autofree char *failed = cf_taskq_task_path (project, CF_TASK_PLACE_FAILED, "link");
  g_autofree char *content = NULL;
  struct stat st;

  cf_test_write_file (target, "---\ntitle: not yours\n---\nsecret\n");
  start_inbox (f, config);
  wait_first_scan (f);
  g_assert_cmpint (symlink (target, link_path), ==, 0);

  g_assert_true (cf_test_run_until (f, rejected_is, GUINT_TO_POINTER (1), 2000));
  g_assert_nonnull (strstr (g_ptr_array_index (f->rejected, 0), "|link.md|"));
  g_assert_cmpint (lstat (failed, &st), ==, 0);
  g_assert_true (S_ISLNK (st.st_mode));
  g_assert_cmpint (lstat (link_path, &st), <, 0);
  g_assert_true (g_file_get_contents (target, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "---\ntitle: not yours\n---\nsecret\n");
  g_assert_true (pending_is (f, GUINT_TO_POINTER (0)));
}

static void
test_new_project_picked_up (Fixture *f, gconstpointer data)
{
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  g_autofree char *project = g_build_filename (f->projects, "late", NULL);
  g_autofree char *queue = g_build_filename (project, CF_TASKQ_QUEUE_DIR, NULL);
  g_autofree char *inbox = g_build_filename (queue, "inbox", NULL);
  g_autofree char *other = g_build_filename (f->projects, "other", NULL);
  g_autofree char *other_queue = g_build_filename (other, CF_TASKQ_QUEUE_DIR, NULL);
  g_autofree char *fast = g_build_filename (f->projects, "fast", NULL);
  g_autofree char *fast_inbox = g_build_filename (fast, CF_TASKQ_QUEUE_DIR, "inbox", NULL);
  gint64 started;

  start_inbox (f, config);
  wait_first_scan (f);
  {
    g_autoptr(GPtrArray) none = cf_inbox_list_projects (f->inbox);
    g_assert_cmpuint (none->len, ==, 0);
  }

  /* Step by step, with pauses longer than the discovery debounce: each
   * level must be noticed by its own watch (the periodic scan is 1 h). */
  started = g_get_monotonic_time ();
  g_assert_cmpint (g_mkdir (project, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (other, 0755), ==, 0);
  cf_test_run_for (200);
  g_assert_cmpint (g_mkdir (queue, 0755), ==, 0);
  cf_test_run_for (200);
  g_assert_false (cf_inbox_has_project (f->inbox, project));
  g_assert_cmpint (g_mkdir (inbox, 0755), ==, 0);
  g_assert_true (cf_test_run_until (f, is_project, project, 2000));
  deliver (project, "first", "default");
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (1), 2000));
  g_assert_cmpint (g_get_monotonic_time () - started, <, 2 * G_USEC_PER_SEC);

  /* mkdir -p at once, task right after. */
  g_assert_cmpint (g_mkdir_with_parents (fast_inbox, 0755), ==, 0);
  deliver (fast, "second", "default");
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (2), 2000));

  /* A directory without a queue stays one: nothing is created in it. */
  g_assert_false (cf_inbox_has_project (f->inbox, other));
  g_assert_false (g_file_test (other_queue, G_FILE_TEST_EXISTS));
}

static void
test_explicit_projects (Fixture *f, gconstpointer data)
{
  g_autofree char *extra = g_build_filename (f->root, "extra", NULL);
  g_autofree char *dedicated = g_build_filename (f->root, "dedicated", NULL);
  g_autofree char *missing = g_build_filename (f->root, "missing", NULL);
  g_autofree char *random_dir = g_build_filename (f->projects, "random", NULL);
  g_autofree char *random_queue = g_build_filename (random_dir, CF_TASKQ_QUEUE_DIR, NULL);
  g_autofree char *yaml = g_strdup_printf ("projects:\n  dir: %s\n  extra: [%s, %s]\n"
                                           "pool:\n  dedicated:\n"
                                           "    - {name: ccl-1-web, project: %s}\n",
                                           f->projects, extra, missing, dedicated);
  g_autoptr(CfConfig) config = make_config (f, yaml, "1h");
  g_autoptr(GPtrArray) projects = NULL;
  g_autoptr(GPtrArray) tasks = NULL;

  g_assert_cmpint (g_mkdir (extra, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (dedicated, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (random_dir, 0755), ==, 0);
  start_inbox (f, config);
  wait_first_scan (f);

  projects = cf_inbox_list_projects (f->inbox);
  g_assert_cmpuint (projects->len, ==, 2);
  g_assert_true (cf_inbox_has_project (f->inbox, extra));
  g_assert_true (cf_inbox_has_project (f->inbox, dedicated));
  g_assert_false (cf_inbox_has_project (f->inbox, missing));
  g_assert_false (g_file_test (random_queue, G_FILE_TEST_EXISTS));
  for (guint i = 0; i < projects->len; i++)
    {
      const char *kinds[] = { "inbox", "active", "done", "failed" };
      for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
        {
          g_autofree char *dir = g_build_filename (projects->pdata[i], CF_TASKQ_QUEUE_DIR,
                                                   kinds[k], NULL);
          g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
        }
    }
  /* The missing one was reported once. */
  g_assert_cmpuint (warnings->len, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (warnings, 0), missing));

  deliver (extra, "from-extra", "default");
  deliver (dedicated, "from-dedicated", "low");
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (2), 2000));
  tasks = cf_inbox_list_pending (f->inbox);
  g_assert_cmpstr (find_task (tasks, "from-extra")->project, ==, extra);
  g_assert_cmpstr (find_task (tasks, "from-dedicated")->project, ==, dedicated);

  /* Once it exists, the next full scan takes it (and says nothing more). */
  g_assert_cmpint (g_mkdir (missing, 0755), ==, 0);
  rescan_and_wait (f);
  g_assert_true (cf_inbox_has_project (f->inbox, missing));
  g_assert_cmpuint (warnings->len, ==, 1);
}

static void
test_forget (Fixture *f, gconstpointer data)
{
  g_autofree char *project = make_project (f->projects, "web");
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  guint before;

  start_inbox (f, config);
  wait_first_scan (f);
  deliver (project, "task", "default");
  deliver (project, "other", "default");
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (2), 2000));
  g_assert_true (cf_test_run_until (f, state_pending_is, GUINT_TO_POINTER (2), 1000));

  cf_inbox_forget (f->inbox, project, "task");
  g_assert_true (pending_is (f, GUINT_TO_POINTER (1)));
  g_assert_true (cf_test_run_until (f, state_pending_is, GUINT_TO_POINTER (1), 1000));
  /* Unknown ids and projects are no-ops. */
  cf_inbox_forget (f->inbox, project, "nope");
  cf_inbox_forget (f->inbox, "/nowhere", "task");

  /* The dispatcher did not take it after all: the next scan brings it back. */
  before = f->available;
  rescan_and_wait (f);
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (2), 1000));
  g_assert_true (cf_test_run_until (f, state_pending_is, GUINT_TO_POINTER (2), 1000));
  g_assert_true (cf_test_run_until (f, available_above, GUINT_TO_POINTER (before), 1000));

  /* Forgotten then moved out (a claim): it stays gone. */
  cf_inbox_forget (f->inbox, project, "task");
  g_assert_true (cf_taskq_claim (project, "task", "ccl-auto-0", "main", "sonnet",
                                 g_get_real_time (), NULL, NULL));
  rescan_and_wait (f);
  g_assert_true (pending_is (f, GUINT_TO_POINTER (1)));
  g_assert_true (cf_test_run_until (f, state_pending_is, GUINT_TO_POINTER (1), 1000));
}

/* Routing facts ride along with each listed task; a task with a
 * delegation marker is neither listed nor pending, and comes back when the
 * marker goes. */
static void
test_delegation_fields (Fixture *f, gconstpointer data)
{
  g_autofree char *project = make_project (f->projects, "web");
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  g_autoptr(GPtrArray) tasks = NULL;

  start_inbox (f, config);
  wait_first_scan (f);
  deliver_text (project, "remote", "---\npreferred_ai: gemini\nallow_delegation: true\n---\nGo.\n");
  deliver_text (project, "local", "---\npreferred_ai: gemini\n---\nGo.\n");
  deliver_text (project, "marked", "---\npreferred_ai: gpu\nallow_delegation: true\n---\nGo.\n");
  deliver_text (project, "held", "---\npreferred_ai: gpu\nallow_delegation: true\n---\nGo.\n");
  g_assert_true (cf_taskq_set_local_only (project, "marked", "HTTP 400", g_get_real_time (), NULL));
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (4), 3000));

  tasks = cf_inbox_list_pending (f->inbox);
  g_assert_cmpstr (find_task (tasks, "remote")->provider, ==, "gemini");
  g_assert_false (find_task (tasks, "remote")->local_only);
  g_assert_null (find_task (tasks, "local")->provider);
  g_assert_cmpstr (find_task (tasks, "marked")->provider, ==, "gpu");
  g_assert_true (find_task (tasks, "marked")->local_only);

  /* A remote job has "held". */
  g_assert_true (cf_taskq_mark_delegated (project, "held", "{}", "j", "gpu", g_get_real_time (),
                                          NULL));
  cf_inbox_forget (f->inbox, project, "held");
  rescan_and_wait (f);
  rescan_and_wait (f);
  g_assert_true (pending_is (f, GUINT_TO_POINTER (3)));
  g_assert_true (cf_test_run_until (f, state_pending_is, GUINT_TO_POINTER (3), 1000));

  /* The operator takes it back by removing the marker. */
  g_assert_true (cf_taskq_remove_delegated (project, "held", NULL));
  rescan_and_wait (f);
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (4), 3000));
}

static void
test_requeued_task_read_again (Fixture *f, gconstpointer data)
{
  g_autofree char *project = make_project (f->projects, "web");
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  g_autoptr(GPtrArray) tasks = NULL;
  const CfInboxTask *task;
  guint attempt = 0;

  start_inbox (f, config);
  wait_first_scan (f);
  deliver (project, "retry-me", "high");
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (1), 2000));

  g_assert_true (cf_taskq_claim (project, "retry-me", "ccl-auto-0", "main", "sonnet",
                                 g_get_real_time (), &attempt, NULL));
  g_assert_cmpuint (attempt, ==, 1);
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (0), 2000));
  g_assert_true (cf_taskq_requeue (project, "retry-me", TRUE, g_get_real_time (), NULL));
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (1), 2000));

  tasks = cf_inbox_list_pending (f->inbox);
  task = g_ptr_array_index (tasks, 0);
  g_assert_cmpuint (task->attempts, ==, 1);
  g_assert_cmpint (task->last_attempt_end, >, 0);
  g_assert_cmpint (task->priority, ==, CF_PRIORITY_HIGH);
}

static void
test_pending_count (Fixture *f, gconstpointer data)
{
  g_autofree char *one = make_project (f->projects, "one");
  g_autofree char *two = make_project (f->projects, "two");
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  g_autofree char *gone = cf_taskq_task_path (one, CF_TASK_PLACE_INBOX, "a");
  g_autofree char *writing = cf_taskq_task_path (two, CF_TASK_PLACE_INBOX, "being-written");
  int fd;

  deliver (one, "a", "default");
  deliver (one, "b", "default");
  start_inbox (f, config);
  deliver (two, "c", "default");
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (3), 3000));
  g_assert_true (cf_test_run_until (f, state_pending_is, GUINT_TO_POINTER (3), 1000));

  /* A file still being written is in the inbox, so it counts; not listed. */
  fd = open (writing, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, "---\n", 4), ==, 4);
  g_assert_true (cf_test_run_until (f, state_pending_is, GUINT_TO_POINTER (4), 2000));
  g_assert_true (pending_is (f, GUINT_TO_POINTER (3)));
  g_assert_cmpint (write (fd, "title: done\n---\n", 16), ==, 16);
  close (fd);
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (4), 2000));
  g_assert_cmpuint (cf_state_get_daemon_facts (f->state).pending_tasks, ==, 4);

  g_assert_cmpint (g_unlink (gone), ==, 0);
  g_assert_true (cf_test_run_until (f, state_pending_is, GUINT_TO_POINTER (3), 2000));
  g_assert_true (pending_is (f, GUINT_TO_POINTER (3)));

  /* Claimed by the dispatcher: forgotten at once, then gone from disk. */
  cf_inbox_forget (f->inbox, two, "c");
  g_assert_true (cf_test_run_until (f, state_pending_is, GUINT_TO_POINTER (2), 1000));
  g_assert_true (cf_taskq_claim (two, "c", "ccl-auto-0", "main", "sonnet", g_get_real_time (),
                                 NULL, NULL));
  cf_test_run_for (200);
  g_assert_cmpuint (cf_state_get_daemon_facts (f->state).pending_tasks, ==, 2);
  g_assert_cmpuint (f->rejected->len, ==, 0);
}

static void
test_rescan_uses_cache (Fixture *f, gconstpointer data)
{
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  g_autoptr(GPtrArray) projects = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *changed = NULL;
  guint64 parses;
  const guint n_projects = 20, per_project = 100;

  for (guint p = 0; p < n_projects; p++)
    {
      g_autofree char *name = g_strdup_printf ("p%02u", p);
      char *project = make_project (f->projects, name);

      for (guint t = 0; t < per_project; t++)
        {
          g_autofree char *id = g_strdup_printf ("task-%03u", t);
          g_autofree char *text = task_text (t % 2 ? "high" : "low", id);
          g_autofree char *path = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, id);
          cf_test_write_file (path, text);
        }
      g_ptr_array_add (projects, project);
    }

  start_inbox (f, config);
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (n_projects * per_project), 20000));
  g_assert_true (cf_test_run_until (f, state_pending_is, GUINT_TO_POINTER (n_projects * per_project),
                            1000));
  cf_test_run_for (200);
  parses = cf_inbox_get_parses (f->inbox);
  g_assert_cmpuint (parses, >=, n_projects * per_project);

  rescan_and_wait (f);
  rescan_and_wait (f);
  cf_test_run_for (100);
  g_assert_cmpuint (cf_inbox_get_parses (f->inbox), ==, parses);
  g_assert_true (pending_is (f, GUINT_TO_POINTER (n_projects * per_project)));

  /* One file changed: that one alone is read again. */
  deliver (g_ptr_array_index (projects, 3), "task-007", "critical");
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (n_projects * per_project), 2000));
  cf_test_run_for (300);
  g_assert_cmpuint (cf_inbox_get_parses (f->inbox), ==, parses + 1);
  {
    g_autoptr(GPtrArray) tasks = cf_inbox_list_pending (f->inbox);
    const CfInboxTask *first = g_ptr_array_index (tasks, 0);
    g_assert_cmpstr (first->id, ==, "task-007");
    g_assert_cmpint (first->priority, ==, CF_PRIORITY_CRITICAL);
  }
}

static void
test_reload_moves_projects (Fixture *f, gconstpointer data)
{
  g_autofree char *old_project = make_project (f->projects, "old");
  g_autofree char *elsewhere = g_build_filename (f->root, "elsewhere", NULL);
  g_autofree char *new_project = NULL;
  g_autofree char *yaml = g_strdup_printf ("projects:\n  dir: %s\n", elsewhere);
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  g_autoptr(CfConfig) reloaded = NULL;

  g_assert_cmpint (g_mkdir (elsewhere, 0755), ==, 0);
  new_project = make_project (elsewhere, "new");
  deliver (old_project, "old-task", "default");
  deliver (new_project, "new-task", "default");
  start_inbox (f, config);
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (1), 3000));

  reloaded = make_config (f, yaml, "1h");
  cf_inbox_set_config (f->inbox, reloaded);
  g_assert_true (cf_test_run_until (f, is_project, new_project, 2000));
  g_assert_false (cf_inbox_has_project (f->inbox, old_project));
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (1), 2000));
  {
    g_autoptr(GPtrArray) tasks = cf_inbox_list_pending (f->inbox);
    g_assert_cmpstr (((CfInboxTask *) g_ptr_array_index (tasks, 0))->id, ==, "new-task");
  }
  /* The old directory is no longer watched. */
  deliver (old_project, "ignored", "default");
  cf_test_run_for (300);
  g_assert_true (pending_is (f, GUINT_TO_POINTER (1)));
}

static void
test_periodic_scan_without_events (Fixture *f, gconstpointer data)
{
  g_autofree char *project = make_project (f->projects, "web");
  g_autoptr(CfConfig) config = make_config (f, NULL, "100ms");
  guint64 scans;

  start_inbox_manual (f, config);
  wait_first_scan (f);
  /* The period is max(lifecycle.interval, 1 s). */
  scans = cf_inbox_get_scans (f->inbox);
  run_virtual (f, 950);
  g_assert_cmpuint (cf_inbox_get_scans (f->inbox), ==, scans);
  run_virtual (f, 100);
  g_assert_true (cf_test_run_until (f, scans_reached, GUINT_TO_POINTER (scans + 1), 2000));
  (void) project;
}

/* ---- heads: each project's first dispatchable task ------------------------ */

static gboolean
refuse_ids (const CfInboxTask *task, gpointer user_data)
{
  return !g_strv_contains ((const char *const *) user_data, task->id);
}

/* The first and second tasks of PROJECT in the full sorted listing. */
static void
first_two (GPtrArray *pending, const char *project, const CfInboxTask **first,
           const CfInboxTask **second)
{
  *first = *second = NULL;
  for (guint i = 0; i < pending->len && *second == NULL; i++)
    {
      const CfInboxTask *task = g_ptr_array_index (pending, i);
      if (!g_str_equal (task->project, project))
        continue;
      if (*first == NULL)
        *first = task;
      else
        *second = task;
    }
}

/* cf_inbox_list_heads, for every project and for each one alone, and with
 * the head refused, agrees with cf_inbox_list_pending. */
static void
assert_heads_match_listing (Fixture *f, const char *const *projects)
{
  g_autoptr(GPtrArray) pending = cf_inbox_list_pending (f->inbox);
  g_autoptr(GPtrArray) heads = cf_inbox_list_heads (f->inbox, NULL, NULL, NULL);
  guint expected = 0;

  for (const char *const *project = projects; *project != NULL; project++)
    {
      const CfInboxTask *first, *second, *head = NULL;
      g_autoptr(GPtrArray) alone = cf_inbox_list_heads (f->inbox, *project, NULL, NULL);
      g_autoptr(GPtrArray) next = NULL;
      const char *refused[] = { NULL, NULL };

      first_two (pending, *project, &first, &second);
      for (guint i = 0; i < heads->len; i++)
        if (g_str_equal (((CfInboxTask *) heads->pdata[i])->project, *project))
          head = heads->pdata[i];
      if (first == NULL)
        {
          g_assert_null (head);
          g_assert_cmpuint (alone->len, ==, 0);
          continue;
        }
      expected++;
      g_assert_true (head != NULL && alone->len == 1);
      g_assert_cmpstr (head->id, ==, first->id);
      g_assert_cmpint (head->priority, ==, first->priority);
      g_assert_cmpint (head->queued_at, ==, first->queued_at);
      g_assert_cmpstr (((CfInboxTask *) alone->pdata[0])->id, ==, first->id);

      refused[0] = first->id;
      next = cf_inbox_list_heads (f->inbox, *project, refuse_ids, (gpointer) refused);
      g_assert_cmpuint (next->len, ==, second != NULL ? 1 : 0);
      if (second != NULL)
        g_assert_cmpstr (((CfInboxTask *) next->pdata[0])->id, ==, second->id);
    }
  g_assert_cmpuint (heads->len, ==, expected);
}

static gboolean
routed_is (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return cf_inbox_has_routed (f->inbox) == GPOINTER_TO_INT (data);
}

static gboolean
listed_with_priority (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;
  g_autoptr(GPtrArray) tasks = cf_inbox_list_pending (f->inbox);

  for (guint i = 0; i < tasks->len; i++)
    {
      const CfInboxTask *task = g_ptr_array_index (tasks, i);
      if (g_str_equal (task->id, data))
        return task->priority == CF_PRIORITY_CRITICAL;
    }
  return FALSE;
}

/* Each project keeps its tasks in queue order as they come, change
 * priority, are taken by the dispatcher and leave: the heads always agree
 * with the full sorted listing. */
static void
test_heads (Fixture *f, gconstpointer data)
{
  static const char *const priorities[] = { "low", "default", "high", "critical" };
  g_autofree char *web = make_project (f->projects, "web");
  g_autofree char *api = make_project (f->projects, "api");
  g_autofree char *empty = make_project (f->projects, "empty");
  const char *const projects[] = { web, api, empty, "/nonexistent", NULL };
  g_autoptr(CfConfig) config = make_config (f, NULL, "1h");
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  g_autoptr(GPtrArray) heads = NULL;
  g_autofree char *taken = NULL;
  g_autofree char *from = NULL;
  g_autofree char *to = NULL;
  g_autofree char *path = NULL;

  start_inbox (f, config);
  wait_first_scan (f);
  for (guint i = 0; i < 40; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%02u", i);
      deliver (i % 2 == 0 ? web : api, id, priorities[g_rand_int_range (rand, 0, 4)]);
    }
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (40), 5000));
  g_assert_false (cf_inbox_has_routed (f->inbox));
  assert_heads_match_listing (f, projects);

  /* Taken by the dispatcher (forgotten, then moved to active/). */
  heads = cf_inbox_list_heads (f->inbox, web, NULL, NULL);
  g_assert_cmpuint (heads->len, ==, 1);
  taken = g_strdup (((CfInboxTask *) heads->pdata[0])->id);
  cf_inbox_forget (f->inbox, web, taken);
  assert_heads_match_listing (f, projects);
  g_clear_pointer (&heads, g_ptr_array_unref);
  heads = cf_inbox_list_heads (f->inbox, web, NULL, NULL);
  g_assert_cmpstr (((CfInboxTask *) heads->pdata[0])->id, !=, taken);
  from = cf_taskq_task_path (web, CF_TASK_PLACE_INBOX, taken);
  to = cf_taskq_task_path (web, CF_TASK_PLACE_ACTIVE, taken);
  g_assert_cmpint (rename (from, to), ==, 0);

  /* The newest task of web rewritten as critical and routed to a provider:
   * it moves up, and delegation has something to look at. */
  deliver_text (web, "t38", "---\npriority: critical\npreferred_ai: gemini\n"
                "allow_delegation: true\n---\nNow.\n");
  g_assert_true (cf_test_run_until (f, listed_with_priority, "t38", 3000));
  g_assert_true (cf_test_run_until (f, routed_is, GINT_TO_POINTER (TRUE), 3000));
  assert_heads_match_listing (f, projects);

  /* Gone from the inbox: off the queue, and nothing routed is left. */
  path = cf_taskq_task_path (web, CF_TASK_PLACE_INBOX, "t38");
  g_assert_cmpint (unlink (path), ==, 0);
  rescan_and_wait (f);
  g_assert_true (cf_test_run_until (f, routed_is, GINT_TO_POINTER (FALSE), 3000));
  assert_heads_match_listing (f, projects);
  g_assert_true (cf_test_run_until (f, pending_is, GUINT_TO_POINTER (38), 3000));
}

int
main (int argc, char **argv)
{
  warnings = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (cf_test_record_warnings, warnings, NULL);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/inbox/renamed-in", test_renamed_in);
  ADD ("/inbox/slow-writer", test_slow_writer);
  ADD ("/inbox/editor-files-ignored", test_editor_files_ignored);
  ADD ("/inbox/broken-task-rejected", test_broken_task_rejected);
  ADD ("/inbox/in-place-refusal-waits", test_in_place_refusal_waits);
  ADD ("/inbox/symlink-rejected", test_symlink_rejected);
  ADD ("/inbox/new-project-picked-up", test_new_project_picked_up);
  ADD ("/inbox/explicit-projects", test_explicit_projects);
  ADD ("/inbox/forget", test_forget);
  ADD ("/inbox/delegation-fields", test_delegation_fields);
  ADD ("/inbox/requeued-task-read-again", test_requeued_task_read_again);
  ADD ("/inbox/pending-count", test_pending_count);
  ADD ("/inbox/rescan-uses-cache", test_rescan_uses_cache);
  ADD ("/inbox/reload-moves-projects", test_reload_moves_projects);
  ADD ("/inbox/periodic-scan", test_periodic_scan_without_events);
  ADD ("/inbox/heads", test_heads);
#undef ADD
  return g_test_run ();
}
