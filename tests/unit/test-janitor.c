/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "cf-inbox.h"
#include "cf-janitor.h"
#include "cf-taskq.h"
#include "cf-test-util.h"

/* The janitor logs what it removes and refuses as warnings on purpose. */
static GPtrArray *warnings;

typedef struct {
  char *root;
  char *project;               /* <root>/projects/web */
  char *signals;               /* <root>/run */
  CfConfig *config;
  CfState *state;
  CfInbox *inbox;
  CfJanitor *janitor;
} Fixture;

static CfConfig *
make_config (Fixture *f, const char *janitor_interval)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *yaml = g_strdup_printf ("accounts:\n"
                                           "  - {name: main, home: %s/home-main}\n"
                                           "projects:\n  dir: %s/projects\n"
                                           "lifecycle: {interval: 100ms}\n"
                                           "watcher: {interval: 100ms, done_signal_dir: %s}\n"
                                           "janitor: {interval: %s, stale_signal_age: 1h}\n",
                                           f->root, f->root, f->signals, janitor_interval);
  CfConfig *config = cf_config_load_data (yaml, -1, "test.yaml", f->root, &error);

  g_assert_no_error (error);
  return config;
}

static gboolean
inbox_scanned (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return cf_inbox_get_scans (f->inbox) >= 1;
}

static gboolean
passes_reached (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return cf_janitor_get_passes (f->janitor) >= GPOINTER_TO_UINT (data);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  const char *janitor_interval = data != NULL ? data : "1h";
  g_autofree char *inbox = NULL;

  f->root = cf_test_make_tmpdir ("cf-janitor-XXXXXX");
  f->project = g_build_filename (f->root, "projects", "web", NULL);
  f->signals = g_build_filename (f->root, "run", NULL);
  inbox = g_build_filename (f->project, CF_TASKQ_QUEUE_DIR, "inbox", NULL);
  g_assert_cmpint (g_mkdir_with_parents (inbox, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (f->signals, 0700), ==, 0);
  g_assert_true (cf_taskq_ensure_dirs (f->project, NULL));

  f->config = make_config (f, janitor_interval);
  f->state = cf_state_new ();
  f->inbox = cf_inbox_new (f->config, f->state);
  cf_inbox_start (f->inbox);
  g_assert_true (cf_test_run_until (f, inbox_scanned, NULL, 5000));
  f->janitor = cf_janitor_new (f->config, f->state, f->inbox);
  g_ptr_array_set_size (warnings, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  cf_janitor_stop (f->janitor);
  g_clear_object (&f->janitor);
  cf_inbox_stop (f->inbox);
  g_clear_object (&f->inbox);
  g_clear_object (&f->state);
  g_clear_pointer (&f->config, cf_config_unref);
  cf_test_remove_tree (f->root);
  g_free (f->root);
  g_free (f->project);
  g_free (f->signals);
}

static void
run_pass (Fixture *f)
{
  guint target = (guint) cf_janitor_get_passes (f->janitor) + 1;

  cf_janitor_run_now (f->janitor);
  g_assert_true (cf_test_run_until (f, passes_reached, GUINT_TO_POINTER (target), 5000));
}

/* Two passes further apart than the grace (2 × watcher.interval = 200 ms). */
static void
run_confirmed_passes (Fixture *f)
{
  run_pass (f);
  cf_test_run_for (250);
  run_pass (f);
}

static void
add_task (Fixture *f, const char *id)
{
  g_autofree char *path = cf_taskq_task_path (f->project, CF_TASK_PLACE_INBOX, id);
  g_autofree char *text = g_strdup_printf ("---\ntitle: %s\n---\nDo it.\n", id);

  cf_test_write_file (path, text);
}

static void
claim (Fixture *f, const char *id, const char *session)
{
  g_autoptr(GError) error = NULL;

  cf_taskq_claim (f->project, id, session, "main", "sonnet", g_get_real_time (), NULL, &error);
  g_assert_no_error (error);
}

static void
set_working (Fixture *f, const char *session, CfSessionState state, const char *task)
{
  cf_state_ensure_session (f->state, session, CF_SESSION_POOL);
  cf_state_set_session_work (f->state, session, f->project, task);
  cf_state_set_session_state (f->state, session, state);
}

static void
age_file (const char *path, gint64 seconds)
{
  struct timeval times[2];

  times[0].tv_sec = times[1].tv_sec = time (NULL) - seconds;
  times[0].tv_usec = times[1].tv_usec = 0;
  g_assert_cmpint (lutimes (path, times), ==, 0);
}

static void
test_requeues_unattended (Fixture *f, gconstpointer data)
{
  g_autoptr(CfTaskMeta) meta = NULL;

  add_task (f, "orphan");
  add_task (f, "working");
  add_task (f, "stalled");
  add_task (f, "launching");
  claim (f, "orphan", "ccl-auto-0");
  claim (f, "working", "ccl-auto-1");
  claim (f, "stalled", "ccl-auto-2");
  claim (f, "launching", "ccl-auto-3");
  set_working (f, "ccl-auto-1", CF_SESSION_WORKING, "working");
  set_working (f, "ccl-auto-2", CF_SESSION_STALLED, "stalled");
  set_working (f, "ccl-auto-3", CF_SESSION_LAUNCHING, "launching");
  /* Idle with a task left over: that task is nobody's any more. */
  set_working (f, "ccl-auto-0", CF_SESSION_IDLE, "orphan");
  cf_janitor_start (f->janitor);

  /* One look is not enough. */
  run_pass (f);
  g_assert_cmpint (cf_taskq_locate (f->project, "orphan"), ==, CF_TASK_PLACE_ACTIVE);
  cf_test_run_for (250);
  run_pass (f);

  g_assert_cmpint (cf_taskq_locate (f->project, "orphan"), ==, CF_TASK_PLACE_INBOX);
  g_assert_cmpint (cf_taskq_locate (f->project, "working"), ==, CF_TASK_PLACE_ACTIVE);
  g_assert_cmpint (cf_taskq_locate (f->project, "stalled"), ==, CF_TASK_PLACE_ACTIVE);
  g_assert_cmpint (cf_taskq_locate (f->project, "launching"), ==, CF_TASK_PLACE_ACTIVE);
  g_assert_true (cf_taskq_read_meta (f->project, "orphan", &meta, NULL));
  g_assert_nonnull (meta);
  g_assert_cmpuint (meta->attempts, ==, 1);
  g_assert_cmpstr (meta->last_outcome, ==, "requeued");
}

static void
test_gives_up_after_max_attempts (Fixture *f, gconstpointer data)
{
  g_autofree char *reason_path = g_build_filename (f->project, CF_TASKQ_QUEUE_DIR, "failed",
                                                   "tired.reason.txt", NULL);
  g_autofree char *reason = NULL;

  add_task (f, "tired");
  for (guint i = 0; i < f->config->max_dispatch_per_task; i++)
    {
      claim (f, "tired", "ccl-auto-0");
      if (i + 1 < f->config->max_dispatch_per_task)
        g_assert_true (cf_taskq_requeue (f->project, "tired", TRUE, g_get_real_time (), NULL));
    }
  g_assert_cmpuint (cf_taskq_attempts (f->project, "tired"), ==, f->config->max_dispatch_per_task);
  cf_janitor_start (f->janitor);
  run_confirmed_passes (f);

  g_assert_cmpint (cf_taskq_locate (f->project, "tired"), ==, CF_TASK_PLACE_FAILED);
  g_assert_true (g_file_get_contents (reason_path, &reason, NULL, NULL));
  g_assert_nonnull (strstr (reason, "gave up after 3 attempts"));
}

static void
test_second_look_must_agree (Fixture *f, gconstpointer data)
{
  add_task (f, "claimed-late");
  add_task (f, "moved-between");
  claim (f, "claimed-late", "ccl-auto-0");
  claim (f, "moved-between", "ccl-auto-1");
  cf_janitor_start (f->janitor);

  run_pass (f);
  /* The dispatcher publishes its session only now. */
  set_working (f, "ccl-auto-0", CF_SESSION_LAUNCHING, "claimed-late");
  /* This one went back and was claimed again in between (a new attempt). */
  g_assert_true (cf_taskq_requeue (f->project, "moved-between", TRUE, g_get_real_time (), NULL));
  claim (f, "moved-between", "ccl-auto-1");
  cf_test_run_for (250);
  run_pass (f);
  g_assert_cmpint (cf_taskq_locate (f->project, "claimed-late"), ==, CF_TASK_PLACE_ACTIVE);
  g_assert_cmpint (cf_taskq_locate (f->project, "moved-between"), ==, CF_TASK_PLACE_ACTIVE);

  /* Unchanged since the second look, and nobody took it: released now. */
  cf_test_run_for (250);
  run_pass (f);
  g_assert_cmpint (cf_taskq_locate (f->project, "moved-between"), ==, CF_TASK_PLACE_INBOX);
  g_assert_cmpuint (cf_taskq_attempts (f->project, "moved-between"), ==, 2);
  g_assert_cmpint (cf_taskq_locate (f->project, "claimed-late"), ==, CF_TASK_PLACE_ACTIVE);
}

static void
test_quick_passes_wait_for_grace (Fixture *f, gconstpointer data)
{
  add_task (f, "orphan");
  claim (f, "orphan", "ccl-auto-0");
  cf_janitor_start (f->janitor);
  run_pass (f);
  run_pass (f);
  g_assert_cmpint (cf_taskq_locate (f->project, "orphan"), ==, CF_TASK_PLACE_ACTIVE);
  cf_test_run_for (250);
  run_pass (f);
  g_assert_cmpint (cf_taskq_locate (f->project, "orphan"), ==, CF_TASK_PLACE_INBOX);
}

static void
test_orphan_meta (Fixture *f, gconstpointer data)
{
  g_autofree char *meta_dir = g_build_filename (f->project, CF_TASKQ_QUEUE_DIR, "meta", NULL);
  g_autofree char *old_orphan = g_build_filename (meta_dir, "ghost.json", NULL);
  g_autofree char *new_orphan = g_build_filename (meta_dir, "recent.json", NULL);
  g_autofree char *done_meta = g_build_filename (meta_dir, "finished.json", NULL);

  add_task (f, "finished");
  claim (f, "finished", "ccl-auto-0");
  g_assert_true (cf_taskq_finish (f->project, "finished", CF_TASK_OUTCOME_DONE, NULL, NULL,
                                  g_get_real_time (), NULL));
  age_file (done_meta, 7200);
  cf_test_write_file (old_orphan, "{}");
  age_file (old_orphan, 7200);
  cf_test_write_file (new_orphan, "{}");
  cf_janitor_start (f->janitor);
  run_pass (f);

  g_assert_false (g_file_test (old_orphan, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (new_orphan, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (done_meta, G_FILE_TEST_EXISTS));
}

static void
test_status_written (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->project, CF_TASKQ_QUEUE_DIR, "status.json", NULL);
  g_autofree char *text = NULL;

  add_task (f, "a");
  add_task (f, "b");
  add_task (f, "c");
  claim (f, "c", "ccl-auto-0");
  set_working (f, "ccl-auto-0", CF_SESSION_WORKING, "c");
  /* "b" is delegated; a marker whose task is gone does not count. */
  g_assert_true (cf_taskq_mark_delegated (f->project, "b", "{}", "j1", "gpu", 0, NULL));
  g_assert_true (cf_taskq_mark_delegated (f->project, "a", "{}", "j2", "gpu", 0, NULL));
  g_assert_true (cf_taskq_finish (f->project, "a", CF_TASK_OUTCOME_DONE, NULL, NULL, 0, NULL));
  {
    g_autofree char *stale = g_build_filename (f->project, CF_TASKQ_QUEUE_DIR, "inbox",
                                               "gone.md.delegated", NULL);
    cf_test_write_file (stale, "{}");
  }
  g_unlink (path);
  cf_janitor_start (f->janitor);
  run_pass (f);

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "\"inbox_count\" : 1"));
  g_assert_nonnull (strstr (text, "\"active_count\" : 1"));
  g_assert_nonnull (strstr (text, "\"done_count\" : 1"));
  g_assert_nonnull (strstr (text, "\"delegated_count\" : 1"));
}

/* status.json cannot be written (here a directory is in its way; a full disk
 * in real life): warned about once, not at every pass. */
static void
test_problem_warned_once (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->project, CF_TASKQ_QUEUE_DIR, "status.json", NULL);

  g_unlink (path);
  g_assert_cmpint (g_mkdir (path, 0755), ==, 0);
  cf_janitor_start (f->janitor);
  run_pass (f);
  g_assert_cmpuint (warnings->len, ==, 1);
  run_pass (f);
  run_pass (f);
  g_assert_cmpuint (warnings->len, ==, 1);

  /* Fixed, then broken again: a new warning. */
  g_assert_cmpint (g_rmdir (path), ==, 0);
  run_pass (f);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  g_unlink (path);
  g_assert_cmpint (g_mkdir (path, 0755), ==, 0);
  run_pass (f);
  g_assert_cmpuint (warnings->len, ==, 2);
  g_rmdir (path);
}

static void
test_done_signals (Fixture *f, gconstpointer data)
{
  g_autofree char *old = g_build_filename (f->signals, "agent-done-ccl-auto-0", NULL);
  g_autofree char *fresh = g_build_filename (f->signals, "agent-done-ccl-auto-1", NULL);
  g_autofree char *link = g_build_filename (f->signals, "agent-done-evil", NULL);
  g_autofree char *victim = g_build_filename (f->root, "victim", NULL);
  g_autofree char *dir = g_build_filename (f->signals, "agent-done-dir", NULL);
  g_autofree char *unrelated = g_build_filename (f->signals, "state.json", NULL);
  g_autofree char *foreign = g_build_filename (f->signals, "agent-done-foreign", NULL);
  g_autofree char *content = NULL;
  gboolean as_root = geteuid () == 0;
  struct stat st;

  cf_test_write_file (old, "");
  age_file (old, 7200);
  cf_test_write_file (fresh, "");
  cf_test_write_file (victim, "keep me");
  age_file (victim, 7200);
  g_assert_cmpint (symlink (victim, link), ==, 0);
  age_file (link, 7200);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  age_file (dir, 7200);
  cf_test_write_file (unrelated, "");
  age_file (unrelated, 7200);
  if (as_root)
    {
      cf_test_write_file (foreign, "");
      g_assert_cmpint (chown (foreign, 65534, 65534), ==, 0);
      age_file (foreign, 7200);
    }
  cf_janitor_start (f->janitor);
  run_pass (f);

  g_assert_false (g_file_test (old, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (fresh, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (lstat (link, &st), <, 0);
  g_assert_true (g_file_get_contents (victim, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "keep me");
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  g_assert_true (g_file_test (unrelated, G_FILE_TEST_IS_REGULAR));
  if (as_root)
    g_assert_true (g_file_test (foreign, G_FILE_TEST_IS_REGULAR));
  else
    g_test_message ("not root: the foreign-owner case was not exercised");
  g_assert_cmpuint (warnings->len, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (warnings, 0), "agent-done-evil"));
}

static void
test_timer (Fixture *f, gconstpointer data)
{
  /* Interval 200 ms: the first pass after min(200 ms, 2 × 100 ms). */
  cf_janitor_start (f->janitor);
  g_assert_true (cf_test_run_until (f, passes_reached, GUINT_TO_POINTER (1), 1000));
  g_assert_true (cf_test_run_until (f, passes_reached, GUINT_TO_POINTER (3), 2000));
  cf_janitor_stop (f->janitor);
  {
    guint64 passes = cf_janitor_get_passes (f->janitor);
    cf_test_run_for (500);
    g_assert_cmpuint (cf_janitor_get_passes (f->janitor), <=, passes + 1);
    cf_janitor_run_now (f->janitor);
    cf_test_run_for (100);
    g_assert_cmpuint (cf_janitor_get_passes (f->janitor), <=, passes + 1);
  }
}

int
main (int argc, char **argv)
{
  warnings = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (cf_test_record_warnings, warnings, NULL);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, data, fn) g_test_add (path, Fixture, data, fixture_setup, fn, fixture_teardown)
  ADD ("/janitor/requeues-unattended", NULL, test_requeues_unattended);
  ADD ("/janitor/gives-up-after-max-attempts", NULL, test_gives_up_after_max_attempts);
  ADD ("/janitor/second-look-must-agree", NULL, test_second_look_must_agree);
  ADD ("/janitor/quick-passes-wait-for-grace", NULL, test_quick_passes_wait_for_grace);
  ADD ("/janitor/orphan-meta", NULL, test_orphan_meta);
  ADD ("/janitor/status-written", NULL, test_status_written);
  ADD ("/janitor/done-signals", NULL, test_done_signals);
  ADD ("/janitor/problem-warned-once", NULL, test_problem_warned_once);
  ADD ("/janitor/timer", "200ms", test_timer);
#undef ADD
  return g_test_run ();
}
