/* SPDX-License-Identifier: MIT */
/* CfDelegation in-process, with a real inbox on a scratch projects
 * directory and an in-process job API: submission → marker → reaping →
 * done/ or failed/; a restart that finds the job again from its marker;
 * fallbacks to a local session (5xx after the retries, 4xx sent once,
 * transport errors, bad replies); delegation off; the status report.
 * The component and the inbox run on a manual clock that the waits below
 * move on whenever the loop is idle, so reaping passes and inbox rescans
 * come one after another instead of every interval; the job API and the
 * client's retries keep real time. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "cf-delegate-json.h"
#include "cf-delegation.h"
#include "cf-taskq.h"
#include "cf-test-jobapi.h"
#include "cf-test-clock.h"

#define KEY_ENV "CF_TEST_DELEGATION_KEY"
#define KEY "k-123456"

static GPtrArray *warnings;

typedef struct {
  char *root;
  char *projects;
  char *project;               /* <projects>/web */
  CfTestJobApi *api;
  CfConfig *config;
  CfState *state;
  CfTaskEvents *task_events;
  CfInbox *inbox;
  CfDelegation *delegation;
  CfClock *clock;              /* the delegation's, manual */
  GPtrArray *finished;         /* "project|task|session|outcome" */
} Fixture;

static void
on_task_finished (CfTaskEvents *events, const char *project, const char *task, const char *session,
                  const char *outcome, Fixture *f)
{
  g_ptr_array_add (f->finished, g_strdup_printf ("%s|%s|%s|%s", project, task, session, outcome));
}

static CfConfig *
make_config (Fixture *f, const char *url)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *yaml = g_strdup_printf ("accounts:\n"
                                           "  - {name: main, home: %s/home-main}\n"
                                           "projects: {dir: %s}\n"
                                           "lifecycle: {interval: 200ms}\n"
                                           "delegation:\n"
                                           "  url: '%s'\n"
                                           "  api_key_env: " KEY_ENV "\n"
                                           "  reap_interval: 100ms\n",
                                           f->root, f->projects, url);
  CfConfig *config = cf_config_load_data (yaml, -1, "test.yaml", f->root, &error);

  g_assert_no_error (error);
  return config;
}

static void
start_delegation (Fixture *f)
{
  CfDelegateClientOptions options = { .timeout_ms = 2000, .max_retries = 3, .backoff_ms = 10,
                                      .max_connections = 16 };

  f->delegation = cf_delegation_new (f->config, f->state, f->task_events, f->inbox);
  cf_delegation_set_client_options (f->delegation, &options);
  cf_delegation_set_clock (f->delegation, f->clock);
  cf_delegation_start (f->delegation);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autofree char *inbox = NULL;

  g_setenv (KEY_ENV, KEY, TRUE);
  g_ptr_array_set_size (warnings, 0);
  f->root = cf_test_make_tmpdir ("cf-delegation-XXXXXX");
  f->projects = g_build_filename (f->root, "projects", NULL);
  f->project = g_build_filename (f->projects, "web", NULL);
  inbox = g_build_filename (f->project, CF_TASKQ_QUEUE_DIR, "inbox", NULL);
  g_assert_cmpint (g_mkdir_with_parents (inbox, 0755), ==, 0);
  g_assert_true (cf_taskq_ensure_dirs (f->project, NULL));
  f->api = cf_test_job_api_new ();
  f->config = make_config (f, f->api->url);
  f->state = cf_state_new ();
  f->task_events = cf_task_events_new (cf_state_get_counters (f->state));
  f->finished = g_ptr_array_new_with_free_func (g_free);
  f->clock = cf_clock_new_manual (0, 0);
  g_signal_connect (f->task_events, "task-finished", G_CALLBACK (on_task_finished), f);
  f->inbox = cf_inbox_new (f->config, f->state);
  cf_inbox_set_clock (f->inbox, f->clock);
  cf_inbox_start (f->inbox);
}

static void
stop_delegation (Fixture *f)
{
  if (f->delegation != NULL)
    {
      cf_delegation_stop (f->delegation);
      g_clear_object (&f->delegation);
    }
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  stop_delegation (f);
  cf_inbox_stop (f->inbox);
  /* Let worker threads finish what they hold before the files go. */
  cf_test_run_for (100);
  g_clear_object (&f->inbox);
  g_clear_object (&f->state);
  g_clear_object (&f->task_events);
  g_clear_pointer (&f->config, cf_config_unref);
  cf_test_job_api_free (f->api);
  cf_test_remove_tree (f->root);
  g_free (f->root);
  g_free (f->projects);
  g_free (f->project);
  g_ptr_array_unref (f->finished);
  g_clear_pointer (&f->clock, cf_clock_unref);
  g_unsetenv (KEY_ENV);
}

/* ---- helpers ---------------------------------------------------------------- */

/* Runs the loop until COND holds, the delegation's waits passing at once. */
static gboolean
run_until (Fixture *f, CfTestCondition cond, gconstpointer data, guint timeout_ms)
{
  return cf_test_run_until_advancing (f, cond, data, f->clock, G_MAXINT64, timeout_ms);
}

static char *
qpath (Fixture *f, const char *place, const char *name)
{
  return g_build_filename (f->project, CF_TASKQ_QUEUE_DIR, place, name, NULL);
}

/* Renamed into the inbox, as tools deliver. */
static void
deliver (Fixture *f, const char *id, const char *text)
{
  g_autofree char *temp = g_build_filename (f->project, "delivery.tmp", NULL);
  g_autofree char *dest = cf_taskq_task_path (f->project, CF_TASK_PLACE_INBOX, id);

  cf_test_write_file (temp, text);
  g_assert_cmpint (g_rename (temp, dest), ==, 0);
}

static void
deliver_remote (Fixture *f, const char *id, const char *provider)
{
  g_autofree char *text = g_strdup_printf ("---\ntitle: Check %s\npriority: high\n"
                                           "preferred_ai: %s\nallow_delegation: true\n---\n"
                                           "Summarise the build log.\n", id, provider);
  deliver (f, id, text);
}

static gboolean
queue_file_exists (Fixture *f, const char *place, const char *name)
{
  g_autofree char *path = qpath (f, place, name);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static gboolean
file_gone (gpointer fixture, gconstpointer path)
{
  return !g_file_test (path, G_FILE_TEST_EXISTS);
}

static gboolean
file_exists (gpointer fixture, gconstpointer path)
{
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
wait_file (Fixture *f, const char *place, const char *name, guint timeout_ms)
{
  g_autofree char *path = qpath (f, place, name);

  if (!run_until (f, file_exists, path, timeout_ms))
    g_error ("%s did not appear within %u ms", path, timeout_ms);
}

static gboolean
finished_reached (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;
  return f->finished->len >= GPOINTER_TO_UINT (data);
}

static gboolean
fallbacks_reached (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;
  CfDelegationCounts counts;

  cf_delegation_get_counts (f->delegation, &counts);
  return counts.fallbacks >= GPOINTER_TO_UINT (data);
}

static gboolean
passes_reached (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;
  CfDelegationCounts counts;

  cf_delegation_get_counts (f->delegation, &counts);
  return counts.passes >= GPOINTER_TO_UINT (data);
}

/* Lets N more reaping passes run. */
static void
run_passes (Fixture *f, guint n)
{
  CfDelegationCounts counts;

  cf_delegation_get_counts (f->delegation, &counts);
  g_assert_true (run_until (f, passes_reached, GUINT_TO_POINTER ((guint) counts.passes + n),
                            5000));
}

static gboolean
scans_above (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return cf_inbox_get_scans (f->inbox) > GPOINTER_TO_UINT (data);
}

/* A full rescan of the inbox, two reaping passes, and the kicks they cause. */
static void
rescan_and_settle (Fixture *f)
{
  guint scans = (guint) cf_inbox_get_scans (f->inbox);

  cf_inbox_rescan (f->inbox);
  g_assert_true (run_until (f, scans_above, GUINT_TO_POINTER (scans), 5000));
  run_passes (f, 2);
  cf_test_run_for (50);
}

static gboolean
active_is (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;
  CfDelegationCounts counts;

  cf_delegation_get_counts (f->delegation, &counts);
  return counts.active == GPOINTER_TO_UINT (data) && counts.submitting == 0;
}

/* The pending task ID, or NULL; owned by PENDING. */
static const CfInboxTask *
pending_task (GPtrArray *pending, const char *id)
{
  for (guint i = 0; i < pending->len; i++)
    {
      const CfInboxTask *task = g_ptr_array_index (pending, i);
      if (g_str_equal (task->id, id))
        return task;
    }
  return NULL;
}

static gboolean
listed (gpointer fixture, gconstpointer id)
{
  Fixture *f = fixture;
  g_autoptr(GPtrArray) pending = cf_inbox_list_pending (f->inbox);

  return pending_task (pending, id) != NULL;
}

static gboolean
listed_local (gpointer fixture, gconstpointer id)
{
  Fixture *f = fixture;
  g_autoptr(GPtrArray) pending = cf_inbox_list_pending (f->inbox);
  const CfInboxTask *task = pending_task (pending, id);

  return task != NULL && !cf_task_filter_skip_task (CF_TASK_FILTER (f->delegation), task);
}

static char *
read_text (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

static CfDelegateMarker *
read_marker (Fixture *f, const char *id)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) error = NULL;
  CfDelegateMarker *marker;
  gsize length = 0;

  g_assert_true (cf_taskq_read_delegated (f->project, id, &data, &length, &error));
  g_assert_no_error (error);
  marker = cf_delegate_marker_parse (data, length, &error);
  g_assert_no_error (error);
  return marker;
}

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static gboolean
has_warning (const char *needle)
{
  for (guint i = 0; i < warnings->len; i++)
    if (strstr (g_ptr_array_index (warnings, i), needle) != NULL)
      return TRUE;
  return FALSE;
}

/* ---- tests ------------------------------------------------------------------- */

static void
test_submit_reap_done (Fixture *f, gconstpointer data)
{
  g_autoptr(CfDelegateMarker) marker = NULL;
  g_autoptr(JsonObject) body = NULL;
  g_autoptr(GPtrArray) pending = NULL;
  g_autofree char *done = qpath (f, "done", "r.md");
  g_autofree char *marker_path = qpath (f, "inbox", "r.md.delegated");
  g_autofree char *text = NULL;
  g_autofree char *expected_finish = NULL;
  CfDelegationCounts counts;
  CfTestJob *job;
  gint64 before = cf_clock_now_real (f->clock) / G_USEC_PER_SEC * G_USEC_PER_SEC;

  start_delegation (f);
  g_assert_true (cf_delegation_is_enabled (f->delegation));
  deliver_remote (f, "r", "gemini");
  wait_file (f, "inbox", "r.md.delegated", 5000);
  g_assert_true (run_until (f, active_is, GUINT_TO_POINTER (1), 2000));

  /* One POST, with the contract's five members. */
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, 1);
  job = cf_test_job_api_find (f->api, "job-1");
  g_assert_nonnull (job);
  body = parse_object (job->request_body);
  g_assert_cmpuint (json_object_get_size (body), ==, 5);
  g_assert_cmpstr (json_object_get_string_member (body, "provider"), ==, "gemini");
  g_assert_cmpstr (json_object_get_string_member (body, "priority"), ==, "high");
  g_assert_cmpstr (json_object_get_string_member (body, "project"), ==, "web");
  g_assert_cmpstr (json_object_get_string_member (body, "task"), ==, "r");
  g_assert_cmpstr (json_object_get_string_member (body, "prompt"), ==,
                   "Check r\n\nSummarise the build log.");
  g_assert_cmpstr (((CfTestJobRequest *) g_ptr_array_index (f->api->requests, 0))->authorization,
                   ==, "Bearer " KEY);

  /* The marker names the job; the task waits in the inbox, not pending. */
  marker = read_marker (f, "r");
  g_assert_cmpstr (marker->job_id, ==, "job-1");
  g_assert_cmpstr (marker->provider, ==, "gemini");
  g_assert_cmpint (marker->submitted_at_usec, >=, before);
  g_assert_cmpint (cf_taskq_locate (f->project, "r"), ==, CF_TASK_PLACE_INBOX);
  g_assert_cmpuint (cf_counters_get_since_start (cf_state_get_counters (f->state),
                                                 CF_COUNTER_DELEGATED), ==, 1);
  rescan_and_settle (f);
  pending = cf_inbox_list_pending (f->inbox);
  g_assert_null (pending_task (pending, "r"));

  /* Running: polled, nothing moves. */
  cf_test_job_api_set (f->api, "job-1", "running", NULL, NULL, NULL);
  run_passes (f, 2);
  g_assert_cmpuint (cf_test_job_api_count (f->api, "GET"), >=, 2);
  g_assert_true (g_file_test (marker_path, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (f->finished->len, ==, 0);

  cf_test_job_api_set (f->api, "job-1", "completed", "All green.\nNothing to fix.", "0.0123",
                       NULL);
  wait_file (f, "done", "r.md", 5000);
  g_assert_true (run_until (f, finished_reached, GUINT_TO_POINTER (1), 2000));
  text = read_text (done);
  g_assert_true (g_str_has_prefix (text, "---\ntitle: Check r\n"));
  g_assert_nonnull (strstr (text, "Summarise the build log.\n\n---\nDelegated to gemini: job job-1, "
                                  "cost 0.0123, completed "));
  g_assert_true (g_str_has_suffix (text, ".\n\nResult:\n\nAll green.\nNothing to fix.\n"));
  g_assert_false (g_file_test (marker_path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (cf_taskq_locate (f->project, "r"), ==, CF_TASK_PLACE_DONE);
  expected_finish = g_strdup_printf ("%s|r||delegated-done", f->project);
  g_assert_cmpstr (g_ptr_array_index (f->finished, 0), ==, expected_finish);
  g_assert_cmpuint (cf_counters_get_since_start (cf_state_get_counters (f->state),
                                                 CF_COUNTER_COMPLETED), ==, 1);
  cf_delegation_get_counts (f->delegation, &counts);
  g_assert_cmpuint (counts.active, ==, 0);
  g_assert_cmpuint (counts.submitted, ==, 1);
  g_assert_cmpuint (counts.completed, ==, 1);
  g_assert_cmpuint (counts.failed, ==, 0);
  g_assert_cmpuint (counts.fallbacks, ==, 0);
  /* Submitted once, ever. */
  run_passes (f, 3);
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, 1);
}

static void
test_failed_job (Fixture *f, gconstpointer data)
{
  g_autofree char *reason_path = qpath (f, "failed", "x.reason.txt");
  g_autofree char *reason = NULL;
  g_autofree char *expected_finish = NULL;
  CfDelegationCounts counts;

  start_delegation (f);
  deliver_remote (f, "x", "gpu");
  wait_file (f, "inbox", "x.md.delegated", 5000);
  cf_test_job_api_set (f->api, "job-1", "failed", NULL, NULL, "GPU out of memory\nat step 3");
  wait_file (f, "failed", "x.md", 5000);
  g_assert_true (run_until (f, finished_reached, GUINT_TO_POINTER (1), 2000));
  reason = read_text (reason_path);
  g_assert_nonnull (strstr (reason, "Reason: the remote job failed (gpu, job job-1): "
                                    "GPU out of memory at step 3\n"));
  expected_finish = g_strdup_printf ("%s|x||delegated-failed", f->project);
  g_assert_cmpstr (g_ptr_array_index (f->finished, 0), ==, expected_finish);
  g_assert_cmpuint (cf_counters_get_since_start (cf_state_get_counters (f->state),
                                                 CF_COUNTER_FAILED), ==, 1);
  g_assert_false (queue_file_exists (f, "inbox", "x.md.delegated"));
  cf_delegation_get_counts (f->delegation, &counts);
  g_assert_cmpuint (counts.failed, ==, 1);
  g_assert_true (has_warning ("the remote job failed"));
}

static void
test_job_unknown_to_api (Fixture *f, gconstpointer data)
{
  g_autofree char *reason = NULL;

  start_delegation (f);
  deliver_remote (f, "lost", "gpu");
  wait_file (f, "inbox", "lost.md.delegated", 5000);
  g_hash_table_remove (f->api->jobs, "job-1");
  wait_file (f, "failed", "lost.md", 5000);
  reason = read_text (qpath (f, "failed", "lost.reason.txt"));
  g_assert_nonnull (strstr (reason, "the job API does not know job job-1"));
}

/* A transient poll error keeps the job; the next pass finishes it. */
static void
test_poll_errors_retried_next_pass (Fixture *f, gconstpointer data)
{
  start_delegation (f);
  deliver_remote (f, "p", "gemini");
  wait_file (f, "inbox", "p.md.delegated", 5000);
  cf_test_job_api_set (f->api, "job-1", "completed", "ok", NULL, NULL);
  /* Every GET of one pass (1 + 3 retries) fails, then the API is back. */
  cf_test_job_api_fail_gets (f->api, 503, 503, 503, 503, 0);
  wait_file (f, "done", "p.md", 5000);
  g_assert_true (has_warning ("job job-1: GET http://127.0.0.1:"));
  g_assert_cmpuint (cf_test_job_api_count (f->api, "GET"), >=, 5);
}

/* After a restart (a new component over the same disk), the job is found
 * again from its marker and finished; it is never submitted twice. */
static void
test_restart_finds_job (Fixture *f, gconstpointer data)
{
  CfDelegationCounts counts;

  start_delegation (f);
  deliver_remote (f, "long", "claude-api");
  wait_file (f, "inbox", "long.md.delegated", 5000);
  cf_test_job_api_set (f->api, "job-1", "running", NULL, NULL, NULL);
  stop_delegation (f);

  /* Meanwhile the job ends. */
  cf_test_job_api_set (f->api, "job-1", "completed", "Done while we were away.", "\"$0.40\"", NULL);
  cf_test_run_for (200);
  g_assert_cmpint (cf_taskq_locate (f->project, "long"), ==, CF_TASK_PLACE_INBOX);

  start_delegation (f);
  wait_file (f, "done", "long.md", 5000);
  g_assert_true (run_until (f, finished_reached, GUINT_TO_POINTER (1), 2000));
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, 1);
  cf_delegation_get_counts (f->delegation, &counts);
  g_assert_cmpuint (counts.completed, ==, 1);
  g_assert_cmpuint (counts.submitted, ==, 0);
  {
    g_autofree char *text = read_text (qpath (f, "done", "long.md"));
    g_assert_nonnull (strstr (text, "Delegated to claude-api: job job-1, cost $0.40, completed "));
  }
}

/* A marker written by an earlier daemon for a job the API still runs. */
static void
test_marker_from_disk (Fixture *f, gconstpointer data)
{
  CfDelegateMarker marker = { .job_id = "old-7", .provider = "gpu",
                              .submitted_at_usec = g_get_real_time () };
  g_autofree char *json = cf_delegate_marker_to_json (&marker);
  g_autoptr(GPtrArray) pending = NULL;

  deliver_remote (f, "old", "gpu");
  g_assert_true (cf_taskq_mark_delegated (f->project, "old", json, "old-7", "gpu",
                                          g_get_real_time (), NULL));
  cf_test_job_api_set (f->api, "old-7", "running", NULL, NULL, NULL);
  start_delegation (f);
  g_assert_true (run_until (f, active_is, GUINT_TO_POINTER (1), 3000));
  pending = cf_inbox_list_pending (f->inbox);
  g_assert_null (pending_task (pending, "old"));
  cf_test_job_api_set (f->api, "old-7", "completed", NULL, NULL, NULL);
  wait_file (f, "done", "old.md", 5000);
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, 0);
}

static void
check_fallback (Fixture *f, const char *id, guint posts)
{
  g_autoptr(CfTaskMeta) meta = NULL;
  g_autoptr(GPtrArray) pending = NULL;
  g_autofree char *marker = NULL;
  g_autofree char *name = g_strconcat (id, ".md.delegated", NULL);
  g_autofree char *marker_path = qpath (f, "inbox", name);
  const CfInboxTask *task;

  g_assert_true (run_until (f, fallbacks_reached, GUINT_TO_POINTER (1), 10000));
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, posts);
  /* Given back: listed again, for a local session, and marked for good. */
  g_assert_true (run_until (f, listed_local, id, 5000));
  g_assert_true (cf_taskq_read_meta (f->project, id, &meta, NULL));
  g_assert_true (meta->local_only);
  g_assert_cmpuint (meta->attempts, ==, 0);
  g_assert_false (g_file_test (marker_path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (cf_taskq_locate (f->project, id), ==, CF_TASK_PLACE_INBOX);
  g_assert_cmpuint (cf_counters_get_since_start (cf_state_get_counters (f->state),
                                                 CF_COUNTER_DELEGATED), ==, 0);
  g_assert_true (has_warning ("running it locally instead"));

  /* Never offered to the API again, whatever scans and kicks happen. */
  rescan_and_settle (f);
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, posts);
  pending = cf_inbox_list_pending (f->inbox);
  task = pending_task (pending, id);
  if (task == NULL)
    g_error ("%s is not pending", id);
  g_assert_true (task->local_only);
}

static void
test_fallback_5xx (Fixture *f, gconstpointer data)
{
  cf_test_job_api_fail_posts (f->api, 500, 503, 502, 500, 0);
  start_delegation (f);
  deliver_remote (f, "s", "gemini");
  /* 1 + 3 retries. */
  check_fallback (f, "s", 4);
  g_assert_true (has_warning ("(after 4 attempts)"));
}

static void
test_fallback_4xx_not_retried (Fixture *f, gconstpointer data)
{
  cf_test_job_api_fail_posts (f->api, 422, 0);
  start_delegation (f);
  deliver_remote (f, "q", "gemini");
  check_fallback (f, "q", 1);
  g_assert_true (has_warning ("HTTP 422"));
}

static void
test_fallback_bad_reply (Fixture *f, gconstpointer data)
{
  f->api->raw_reply = g_strdup ("{\"ok\": true}");
  start_delegation (f);
  deliver_remote (f, "b", "gemini");
  check_fallback (f, "b", 1);
  g_assert_true (has_warning ("member \"id\" is missing"));
}

static void
test_fallback_transport (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->config, cf_config_unref);
  f->config = make_config (f, "http://127.0.0.1:9/api");
  cf_inbox_set_config (f->inbox, f->config);
  start_delegation (f);
  deliver_remote (f, "t", "gpu");
  check_fallback (f, "t", 0);
  g_assert_true (has_warning ("(after 4 attempts)"));
}

/* Only the tasks the router sends away are submitted. */
static void
test_local_tasks_untouched (Fixture *f, gconstpointer data)
{
  static const char *const local[] = {
    "---\npreferred_ai: gemini\n---\nNot allowed.\n",
    "---\npreferred_ai: gemini\nallow_delegation: true\nneeds_claude_code: true\n---\nNeeds CC.\n",
    "---\npreferred_ai: claude-code\nallow_delegation: true\n---\nPrefers CC.\n",
    "---\npreferred_ai: auto\nallow_delegation: true\n---\nNo provider.\n",
    "---\npreferred_ai: llama\nallow_delegation: true\n---\nUnknown provider.\n",
    "No frontmatter.\n",
  };

  start_delegation (f);
  for (guint i = 0; i < G_N_ELEMENTS (local); i++)
    {
      g_autofree char *id = g_strdup_printf ("l%u", i);
      deliver (f, id, local[i]);
    }
  deliver_remote (f, "remote", "gpu");
  wait_file (f, "inbox", "remote.md.delegated", 5000);
  for (guint i = 0; i < G_N_ELEMENTS (local); i++)
    {
      g_autofree char *id = g_strdup_printf ("l%u", i);
      g_assert_true (run_until (f, listed_local, id, 2000));
    }
  rescan_and_settle (f);
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, 1);
}

/* The operator's pause holds submissions; resuming sends them. */
static void
test_operator_pause (Fixture *f, gconstpointer data)
{
  cf_state_set_dispatch_pause (f->state, TRUE,
                               cf_state_get_dispatch_pause (f->state).all_exhausted_until);
  start_delegation (f);
  deliver_remote (f, "w", "gpu");
  g_assert_true (run_until (f, listed, "w", 5000));
  run_passes (f, 2);
  g_assert_cmpuint (f->api->requests->len, ==, 0);
  cf_state_set_dispatch_pause (f->state, FALSE,
                               cf_state_get_dispatch_pause (f->state).all_exhausted_until);
  wait_file (f, "inbox", "w.md.delegated", 5000);
}

/* Off without the key: nothing leaves, every task is the dispatcher's. */
static void
test_disabled_without_key (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonNode) status = NULL;

  g_unsetenv (KEY_ENV);
  start_delegation (f);
  g_assert_false (cf_delegation_is_enabled (f->delegation));
  deliver_remote (f, "r", "gemini");
  g_assert_true (run_until (f, listed_local, "r", 5000));
  /* Off, the first pass is the only one (then kicks may still come). */
  g_assert_true (run_until (f, passes_reached, GUINT_TO_POINTER (1), 5000));
  cf_test_run_for (200);
  g_assert_cmpuint (f->api->requests->len, ==, 0);
  g_assert_false (queue_file_exists (f, "inbox", "r.md.delegated"));
  status = cf_delegation_build_status (f->delegation);
  g_assert_false (json_object_get_boolean_member (json_node_get_object (status), "enabled"));
  g_assert_true (json_object_get_null_member (json_node_get_object (status), "url"));

  /* An empty value is no key either. */
  g_setenv (KEY_ENV, "", TRUE);
  cf_delegation_set_config (f->delegation, f->config);
  g_assert_false (cf_delegation_is_enabled (f->delegation));

  /* Turned on by a reload with the key set: it goes. */
  g_setenv (KEY_ENV, KEY, TRUE);
  cf_delegation_set_config (f->delegation, f->config);
  g_assert_true (cf_delegation_is_enabled (f->delegation));
  wait_file (f, "inbox", "r.md.delegated", 5000);
}

/* Markers written by an earlier run wait while delegation is off. */
static void
test_disabled_keeps_markers (Fixture *f, gconstpointer data)
{
  deliver_remote (f, "m", "gpu");
  g_assert_true (cf_taskq_mark_delegated (f->project, "m", "{}", "j", "gpu", 0, NULL));
  g_unsetenv (KEY_ENV);
  start_delegation (f);
  g_assert_true (run_until (f, passes_reached, GUINT_TO_POINTER (1), 5000));
  g_assert_cmpint (cf_taskq_locate (f->project, "m"), ==, CF_TASK_PLACE_INBOX);
  g_assert_true (queue_file_exists (f, "inbox", "m.md.delegated"));
  g_assert_true (has_warning ("1 delegated tasks wait in their inbox, but delegation is off"));
  g_assert_cmpuint (f->api->requests->len, ==, 0);
}

static void
test_bad_marker (Fixture *f, gconstpointer data)
{
  g_autofree char *reason = NULL;

  deliver_remote (f, "bad", "gpu");
  g_assert_true (cf_taskq_mark_delegated (f->project, "bad", "job 17, I think", "17", "gpu", 0,
                                          NULL));
  start_delegation (f);
  wait_file (f, "failed", "bad.md", 5000);
  g_assert_true (run_until (f, finished_reached, GUINT_TO_POINTER (1), 2000));
  reason = read_text (qpath (f, "failed", "bad.reason.txt"));
  g_assert_nonnull (strstr (reason, "its delegation marker cannot be read (the marker is not JSON"));
  g_assert_false (queue_file_exists (f, "inbox", "bad.md.delegated"));
  g_assert_cmpuint (f->api->requests->len, ==, 0);
}

/* Markers whose task is elsewhere are tidied; a marker the operator
 * removed gives the task back. */
static void
test_stale_and_removed_markers (Fixture *f, gconstpointer data)
{
  g_autofree char *stale = qpath (f, "inbox", "gone.md.delegated");
  g_autofree char *taken = qpath (f, "inbox", "r.md.delegated");

  cf_test_write_file (stale, "{}");
  start_delegation (f);
  deliver_remote (f, "r", "gpu");
  wait_file (f, "inbox", "r.md.delegated", 5000);
  g_assert_true (run_until (f, active_is, GUINT_TO_POINTER (1), 3000));
  g_assert_true (run_until (f, file_gone, stale, 3000));

  g_assert_cmpint (g_unlink (taken), ==, 0);
  g_assert_true (run_until (f, active_is, GUINT_TO_POINTER (0), 3000));
}

static void
test_status_and_metrics (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GString) metrics = g_string_new (NULL);
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *json = NULL;
  JsonObject *status;
  JsonObject *job;

  start_delegation (f);
  deliver_remote (f, "r", "gemini");
  wait_file (f, "inbox", "r.md.delegated", 5000);
  cf_test_job_api_set (f->api, "job-1", "running", NULL, NULL, NULL);
  g_assert_true (run_until (f, active_is, GUINT_TO_POINTER (1), 3000));
  /* A whole pass after the job turned "running" (the one under way may
   * have polled before). */
  run_passes (f, 2);

  node = cf_delegation_build_status (f->delegation);
  json_generator_set_root (generator, node);
  json = json_generator_to_data (generator, NULL);
  g_assert_null (strstr (json, KEY));
  status = json_node_get_object (node);
  g_assert_true (json_object_get_boolean_member (status, "enabled"));
  g_assert_cmpstr (json_object_get_string_member (status, "url"), ==, f->api->url);
  g_assert_cmpint (json_object_get_int_member (status, "reap_interval_ms"), ==, 100);
  g_assert_cmpint (json_object_get_int_member (status, "active"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (status, "submitting"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (status, "submitted"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (status, "completed"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (status, "failed"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (status, "fallbacks"), ==, 0);
  g_assert_nonnull (json_object_get_string_member (status, "last_reap"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (status, "jobs")), ==, 1);
  job = json_array_get_object_element (json_object_get_array_member (status, "jobs"), 0);
  g_assert_cmpstr (json_object_get_string_member (job, "project"), ==, f->project);
  g_assert_cmpstr (json_object_get_string_member (job, "task"), ==, "r");
  g_assert_cmpstr (json_object_get_string_member (job, "job_id"), ==, "job-1");
  g_assert_cmpstr (json_object_get_string_member (job, "provider"), ==, "gemini");
  g_assert_cmpstr (json_object_get_string_member (job, "status"), ==, "running");
  g_assert_true (g_str_has_suffix (json_object_get_string_member (job, "submitted_at"), "Z"));
  g_assert_true (json_object_get_null_member (job, "last_error"));

  cf_delegation_render_metrics (f->delegation, metrics);
  g_assert_nonnull (strstr (metrics->str, "# TYPE claude_failover_delegation_jobs_active gauge\n"
                                          "claude_failover_delegation_jobs_active 1\n"));
  g_assert_nonnull (strstr (metrics->str,
                            "claude_failover_delegation_jobs_finished_total{outcome=\"completed\"} 0\n"));
  g_assert_nonnull (strstr (metrics->str, "claude_failover_delegation_fallbacks_total 0\n"));
}

int
main (int argc, char **argv)
{
  warnings = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (cf_test_record_warnings, warnings, NULL);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/delegation/submit-reap-done", test_submit_reap_done);
  ADD ("/delegation/failed-job", test_failed_job);
  ADD ("/delegation/job-unknown-to-api", test_job_unknown_to_api);
  ADD ("/delegation/poll-errors-retried", test_poll_errors_retried_next_pass);
  ADD ("/delegation/restart-finds-job", test_restart_finds_job);
  ADD ("/delegation/marker-from-disk", test_marker_from_disk);
  ADD ("/delegation/fallback-5xx", test_fallback_5xx);
  ADD ("/delegation/fallback-4xx-not-retried", test_fallback_4xx_not_retried);
  ADD ("/delegation/fallback-bad-reply", test_fallback_bad_reply);
  ADD ("/delegation/fallback-transport", test_fallback_transport);
  ADD ("/delegation/local-tasks-untouched", test_local_tasks_untouched);
  ADD ("/delegation/operator-pause", test_operator_pause);
  ADD ("/delegation/disabled-without-key", test_disabled_without_key);
  ADD ("/delegation/disabled-keeps-markers", test_disabled_keeps_markers);
  ADD ("/delegation/bad-marker", test_bad_marker);
  ADD ("/delegation/stale-and-removed-markers", test_stale_and_removed_markers);
  ADD ("/delegation/status-and-metrics", test_status_and_metrics);
#undef ADD
  return g_test_run ();
}
