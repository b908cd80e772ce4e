/* SPDX-License-Identifier: MIT */
/* CfWatcher against a real tmux server on a private socket: calls in flight
 * for a watch that ends meanwhile. */
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "cf-hook-router.h"
#include "cf-state.h"
#include "cf-test-util.h"
#include "cf-tmux.h"
#include "cf-watcher.h"

#define SESSION "ccl-auto-0"

/* Warnings logged by the code under test (g_log_set_writer_func can be
 * called once per process: set in main, emptied by each setup). */
static GPtrArray *warnings;

typedef struct {
  char *root;
  char *socket;
  char *project;
  GPid tmux_pid;
  CfConfig *config;
  CfState *state;
  CfTaskEvents *task_events;
  CfTmux *tmux;
  CfHookRouter *hooks;
  CfWatcher *watcher;
  GPtrArray *warnings;
  guint finished;
  char *last_outcome;
  GPtrArray *needs_input;      /* "name|project|task|what" of each "needs-input" */
} Fixture;

static char *
run_tmux (Fixture *f, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  gint status = 0;

  g_ptr_array_add (argv, (char *) "tmux");
  g_ptr_array_add (argv, (char *) "-S");
  g_ptr_array_add (argv, f->socket);
  g_ptr_array_add (argv, (char *) "-f");
  g_ptr_array_add (argv, (char *) "/dev/null");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  /* A blocking spawn is fine in a test program; the daemon never does it. */
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                     &status, NULL))
    return NULL;
  return status == 0 ? g_strstrip (g_steal_pointer (&out)) : NULL;
}

static gboolean
tmux_connected (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return cf_tmux_is_connected (f->tmux);
}

static gboolean
task_moved (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return f->finished > 0 || f->warnings->len > 0;
}

static void
on_task_finished (CfTaskEvents *events, const char *project, const char *task, const char *session,
                  const char *outcome, Fixture *f)
{
  f->finished++;
  g_free (f->last_outcome);
  f->last_outcome = g_strdup (outcome);
}

static void
on_needs_input (CfWatcher *watcher, const char *name, const char *project, const char *task,
                const char *what, Fixture *f)
{
  g_ptr_array_add (f->needs_input, g_strdup_printf ("%s|%s|%s|%s", name, project, task, what));
}

static gboolean
finished_once (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return f->finished > 0;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *yaml = NULL;
  g_autofree char *pid = NULL;
  const char *new_session[] = { "new-session", "-d", "-s", SESSION, "-x", "80", "-y", "20",
                                "sleep 600", NULL };
  const char *get_pid[] = { "display-message", "-p", "-t", "=" SESSION ":", "#{pid}", NULL };
  g_autofree char *tmux_path = g_find_program_in_path ("tmux");

  if (tmux_path == NULL)
    {
      g_test_skip ("tmux is not installed");
      return;
    }
  f->root = cf_test_make_tmpdir ("cf-watcher-XXXXXX");
  f->socket = g_build_filename (f->root, "tmux.sock", NULL);
  f->project = g_build_filename (f->root, "projects", "demo", NULL);
  for (guint i = 0; i < 4; i++)
    {
      const char *sub[] = { "inbox", "active", "done", "failed" };
      g_autofree char *dir = g_build_filename (f->project, ".agent-queue", sub[i], NULL);

      g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
    }
  yaml = g_strdup_printf ("accounts:\n"
                          "  - {name: main, home: %s/home-main}\n"
                          "projects:\n  dir: %s/projects\n"
                          "watcher: {interval: 50ms, done_signal_dir: %s}\n"
                          "dispatcher: {needs_input_timeout: 400ms}\n",
                          f->root, f->root, f->root);
  f->config = cf_config_load_data (yaml, -1, "test.yaml", f->root, &error);
  g_assert_no_error (error);

  pid = run_tmux (f, new_session);
  g_assert_nonnull (pid);
  g_clear_pointer (&pid, g_free);
  pid = run_tmux (f, get_pid);
  g_assert_nonnull (pid);
  f->tmux_pid = (GPid) g_ascii_strtoll (pid, NULL, 10);
  g_assert_cmpint (f->tmux_pid, >, 1);

  g_ptr_array_set_size (warnings, 0);
  f->warnings = g_ptr_array_ref (warnings);
  f->state = cf_state_new ();
  f->task_events = cf_task_events_new (cf_state_get_counters (f->state));
  g_signal_connect (f->task_events, "task-finished", G_CALLBACK (on_task_finished), f);
  f->tmux = cf_tmux_new (f->socket, NULL);
  cf_tmux_start (f->tmux);
  g_assert_true (cf_test_run_until (f, tmux_connected, NULL, 10000));
  f->hooks = cf_hook_router_new (f->state, f->tmux);
  f->watcher = cf_watcher_new (f->config, f->state, f->task_events, f->tmux, f->hooks);
  f->needs_input = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (f->watcher, "needs-input", G_CALLBACK (on_needs_input), f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  const char *kill_server[] = { "kill-server", NULL };

  if (f->root == NULL)
    return;
  kill (f->tmux_pid, SIGCONT);
  if (f->watcher != NULL)
    cf_watcher_stop (f->watcher);
  g_clear_object (&f->watcher);
  g_clear_object (&f->hooks);
  if (f->tmux != NULL)
    cf_tmux_stop (f->tmux);
  g_clear_object (&f->tmux);
  g_clear_object (&f->state);
  g_clear_object (&f->task_events);
  g_free (run_tmux (f, kill_server));
  g_clear_pointer (&f->config, cf_config_unref);
  g_clear_pointer (&f->warnings, g_ptr_array_unref);
  cf_test_remove_tree (f->root);
  g_free (f->root);
  g_free (f->socket);
  g_free (f->project);
  g_free (f->last_outcome);
  g_clear_pointer (&f->needs_input, g_ptr_array_unref);
}

/* The account switch evicts a working session whose pane capture is still
 * unanswered: the queue move ends the watch before tmux replies. The late
 * reply must find nothing to act on (it used to land in the freed watch:
 * SIGSEGV at the switch under load, heap-use-after-free under ASan). */
static void
test_evict_with_capture_in_flight (Fixture *f, gconstpointer data)
{
  g_autofree char *task = g_build_filename (f->project, ".agent-queue", "active", "t1.md", NULL);
  const char *has_session[] = { "has-session", "-t", "=" SESSION, NULL };
  g_autofree char *gone = NULL;

  if (f->root == NULL)
    return;
  cf_test_write_file (task, "Do the thing.\n");
  cf_state_ensure_session (f->state, SESSION, CF_SESSION_POOL);
  cf_state_set_session_work (f->state, SESSION, f->project, "t1");
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_WORKING);

  /* tmux stops answering; the watcher's next ticks send a capture that
   * stays in flight. */
  g_assert_cmpint (kill (f->tmux_pid, SIGSTOP), ==, 0);
  cf_watcher_start (f->watcher);
  cf_test_run_for (200);

  cf_watcher_evict (f->watcher, SESSION, "account switch (test)");
  g_assert_true (cf_test_run_until (f, task_moved, NULL, 10000));
  /* The move is done and the watch ended (its session is being killed). */
  cf_test_run_for (100);

  g_assert_cmpint (kill (f->tmux_pid, SIGCONT), ==, 0);
  /* The late capture reply, then the kill-session. */
  cf_test_run_for (500);

  g_assert_cmpuint (f->finished, ==, 1);
  for (guint i = 0; i < f->warnings->len; i++)
    g_test_message ("warning: %s", (char *) g_ptr_array_index (f->warnings, i));
  g_assert_cmpuint (f->warnings->len, ==, 0);
  g_assert_false (g_file_test (task, G_FILE_TEST_EXISTS));
  gone = run_tmux (f, has_session);
  g_assert_null (gone);
  /* Nothing finished the task a second time from the stale capture. */
  cf_test_run_for (300);
  g_assert_cmpuint (f->finished, ==, 1);
}

/* Claude finished a quick task (Stop hook) before the dispatcher confirmed
 * its prompt: the Stop counts once the session is working on that task,
 * instead of being dropped (then a switch in the next second requeued a
 * task already done, and it ran twice: load test, 50 x 2000). */
static void
test_stop_before_launch_ended (Fixture *f, gconstpointer data)
{
  g_autofree char *task = g_build_filename (f->project, ".agent-queue", "active", "t2.md", NULL);
  g_autofree char *done = g_build_filename (f->project, ".agent-queue", "done", "t2.md", NULL);
  g_autoptr(GError) error = NULL;
  const char *payload = "{\"hook_event_name\":\"Stop\",\"session_id\":\"s\","
                        "\"stop_hook_active\":false}";

  if (f->root == NULL)
    return;
  cf_test_write_file (task, "Do the quick thing.\n");
  /* Started first: at start it treats sessions caught launching as
   * leftovers of a crash. */
  cf_watcher_start (f->watcher);
  cf_state_ensure_session (f->state, SESSION, CF_SESSION_POOL);
  cf_state_set_session_text (f->state, SESSION, CF_SESSION_TEXT_PANE, "%0");
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_LAUNCHING);
  cf_state_set_session_work (f->state, SESSION, f->project, "t2");

  g_assert_true (cf_hook_router_report (f->hooks, "Stop", "%0", payload, &error));
  g_assert_no_error (error);
  cf_test_run_for (100);
  g_assert_cmpuint (f->finished, ==, 0);

  /* The dispatcher confirms the prompt. */
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_WORKING);
  g_assert_true (cf_test_run_until (f, task_moved, NULL, 5000));
  g_assert_cmpuint (f->finished, ==, 1);
  g_assert_cmpstr (f->last_outcome, ==, "done");
  g_assert_true (g_file_test (done, G_FILE_TEST_EXISTS));
}

/* A Stop seen during a launch that then fails is forgotten: it never
 * finishes the next task given to the session. */
static void
test_early_stop_forgotten (Fixture *f, gconstpointer data)
{
  g_autofree char *task = g_build_filename (f->project, ".agent-queue", "active", "t4.md", NULL);
  g_autoptr(GError) error = NULL;
  const char *payload = "{\"hook_event_name\":\"Stop\",\"session_id\":\"s\","
                        "\"stop_hook_active\":false}";

  if (f->root == NULL)
    return;
  cf_test_write_file (task, "Another thing.\n");
  cf_watcher_start (f->watcher);
  cf_state_ensure_session (f->state, SESSION, CF_SESSION_POOL);
  cf_state_set_session_text (f->state, SESSION, CF_SESSION_TEXT_PANE, "%0");
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_LAUNCHING);
  cf_state_set_session_work (f->state, SESSION, f->project, "t3");
  g_assert_true (cf_hook_router_report (f->hooks, "Stop", "%0", payload, &error));
  g_assert_no_error (error);
  /* The launch of t3 fails; t4 goes to the session later. */
  cf_state_set_session_work (f->state, SESSION, NULL, NULL);
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_IDLE);
  cf_state_set_session_work (f->state, SESSION, f->project, "t4");
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_LAUNCHING);
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_WORKING);
  cf_test_run_for (300);
  g_assert_cmpuint (f->finished, ==, 0);
  g_assert_true (g_file_test (task, G_FILE_TEST_EXISTS));
}

static void
start_working (Fixture *f, const char *task_id)
{
  g_autofree char *name = g_strconcat (task_id, ".md", NULL);
  g_autofree char *task = g_build_filename (f->project, ".agent-queue", "active", name, NULL);

  cf_test_write_file (task, "Needs a permission.\n");
  cf_watcher_start (f->watcher);
  cf_state_ensure_session (f->state, SESSION, CF_SESSION_POOL);
  cf_state_set_session_text (f->state, SESSION, CF_SESSION_TEXT_PANE, "%0");
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_LAUNCHING);
  cf_state_set_session_work (f->state, SESSION, f->project, task_id);
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_WORKING);
}

static gboolean
hooks_routed (gpointer fixture, gconstpointer data)
{
  Fixture *f = fixture;

  return cf_hook_router_get_routed (f->hooks) >= GPOINTER_TO_UINT (data);
}

/* Reports a hook event and waits until it reached the watcher. */
static void
report (Fixture *f, const char *event, const char *payload)
{
  g_autoptr(GError) error = NULL;
  guint before = (guint) cf_hook_router_get_routed (f->hooks);

  g_assert_true (cf_hook_router_report (f->hooks, event, "%0", payload, &error));
  g_assert_no_error (error);
  g_assert_true (cf_test_run_until (f, hooks_routed, GUINT_TO_POINTER (before + 1), 5000));
}

/* A Notification asking for a person: needs-input (signal with the
 * session, project, task and what), never done or idle, and after
 * dispatcher.needs_input_timeout the task goes back to the inbox. */
static void
test_needs_input_times_out (Fixture *f, gconstpointer data)
{
  g_autofree char *inbox = g_build_filename (f->project, ".agent-queue", "inbox", "t5.md", NULL);
  g_autofree char *expected = NULL;
  gint64 asked;

  if (f->root == NULL)
    return;
  start_working (f, "t5");
  report (f, "Notification", "{\"hook_event_name\":\"Notification\","
          "\"notification_type\":\"permission_prompt\","
          "\"message\":\"Claude needs your permission to use Bash\"}");
  asked = g_get_monotonic_time ();
  g_assert_cmpint (cf_state_lookup_session (f->state, SESSION)->state, ==, CF_SESSION_NEEDS_INPUT);
  g_assert_cmpuint (f->needs_input->len, ==, 1);
  expected = g_strdup_printf ("%s|%s|t5|permission_prompt: Claude needs your permission to use Bash",
                              SESSION, f->project);
  g_assert_cmpstr (g_ptr_array_index (f->needs_input, 0), ==, expected);
  /* Asked again: one signal. */
  report (f, "Notification", "{\"notification_type\":\"permission_prompt\"}");
  g_assert_cmpuint (f->needs_input->len, ==, 1);

  g_assert_true (cf_test_run_until (f, finished_once, NULL, 5000));
  g_assert_cmpint (g_get_monotonic_time () - asked, >=, 350 * 1000);
  g_assert_cmpstr (f->last_outcome, ==, "requeued");
  g_assert_true (g_file_test (inbox, G_FILE_TEST_EXISTS));
}

/* Answered (UserPromptSubmit; idle_prompt is no question): working again,
 * nothing requeued. */
static void
test_needs_input_answered (Fixture *f, gconstpointer data)
{
  g_autofree char *active = g_build_filename (f->project, ".agent-queue", "active", "t6.md", NULL);

  if (f->root == NULL)
    return;
  start_working (f, "t6");
  report (f, "Notification", "{\"notification_type\":\"idle_prompt\"}");
  g_assert_cmpint (cf_state_lookup_session (f->state, SESSION)->state, ==, CF_SESSION_WORKING);
  report (f, "Notification", "{\"notification_type\":\"elicitation_dialog\"}");
  g_assert_cmpint (cf_state_lookup_session (f->state, SESSION)->state, ==, CF_SESSION_NEEDS_INPUT);
  report (f, "UserPromptSubmit", "{\"prompt\":\"yes\"}");
  g_assert_cmpint (cf_state_lookup_session (f->state, SESSION)->state, ==, CF_SESSION_WORKING);
  cf_test_run_for (600);
  g_assert_cmpuint (f->finished, ==, 0);
  g_assert_cmpint (cf_state_lookup_session (f->state, SESSION)->state, ==, CF_SESSION_WORKING);
  g_assert_true (g_file_test (active, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (f->needs_input->len, ==, 1);
}

/* A StopFailure "rate_limit" without a message: alone, an older release's
 * usage limit (the quota's, the watcher leaves the task); with a transcript
 * whose newest line is the server's throttle, a failed turn (the task goes
 * back to the queue). A transcript that is a symlink or a FIFO is refused:
 * that signal is missing. */
#define THROTTLE_LINE "{\"type\":\"assistant\",\"isApiErrorMessage\":true,\"error\":\"rate_limit\"," \
  "\"apiErrorStatus\":429,\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"API Error: Server is " \
  "temporarily limiting requests (not your usage limit) · Rate limited\"}]}}\n"

static void
report_bare_429 (Fixture *f, const char *transcript)
{
  g_autofree char *payload = g_strdup_printf ("{\"hook_event_name\":\"StopFailure\",\"error\":\"rate_limit\","
                                              "\"transcript_path\":\"%s\"}", transcript);

  report (f, "StopFailure", payload);
}

static void
test_transcript_throttle_requeues (Fixture *f, gconstpointer data)
{
  g_autofree char *transcript = NULL;
  g_autofree char *inbox = NULL;

  if (f->root == NULL)
    return;
  transcript = g_build_filename (f->root, "s.jsonl", NULL);
  inbox = g_build_filename (f->project, ".agent-queue", "inbox", "t7.md", NULL);
  cf_test_write_file (transcript, "{\"type\":\"user\",\"message\":{\"content\":\"go\"}}\n" THROTTLE_LINE);
  start_working (f, "t7");
  report_bare_429 (f, transcript);
  g_assert_true (cf_test_run_until (f, finished_once, NULL, 5000));
  g_assert_cmpstr (f->last_outcome, ==, "requeued");
  g_assert_true (g_file_test (inbox, G_FILE_TEST_EXISTS));
}

static void
test_transcript_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *target = NULL;
  g_autofree char *link = NULL;
  g_autofree char *fifo = NULL;
  g_autofree char *active = NULL;

  if (f->root == NULL)
    return;
  target = g_build_filename (f->root, "target.jsonl", NULL);
  link = g_build_filename (f->root, "link.jsonl", NULL);
  fifo = g_build_filename (f->root, "fifo.jsonl", NULL);
  active = g_build_filename (f->project, ".agent-queue", "active", "t8.md", NULL);
  cf_test_write_file (target, THROTTLE_LINE);
  g_assert_cmpint (symlink (target, link), ==, 0);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  start_working (f, "t8");
  report_bare_429 (f, link);
  report_bare_429 (f, fifo);
  report_bare_429 (f, "/nonexistent.jsonl");
  cf_test_run_for (300);
  g_assert_cmpuint (f->finished, ==, 0);
  g_assert_true (g_file_test (active, G_FILE_TEST_EXISTS));
}

/* Claude Code 2.1.332 appends the turn's error line after its StopFailure
 * hook ran: the read is tried again until it is there. */
static gboolean
append_throttle_line (gpointer path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *grown = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  grown = g_strconcat (contents, THROTTLE_LINE, NULL);
  g_assert_true (g_file_set_contents (path, grown, -1, &error));
  return G_SOURCE_REMOVE;
}

static void
test_transcript_line_after_the_hook (Fixture *f, gconstpointer data)
{
  g_autofree char *transcript = NULL;
  g_autofree char *payload = NULL;
  g_autoptr(GError) error = NULL;

  if (f->root == NULL)
    return;
  transcript = g_build_filename (f->root, "late.jsonl", NULL);
  cf_test_write_file (transcript, "{\"type\":\"user\",\"message\":{\"content\":\"go\"}}\n");
  start_working (f, "t9");
  payload = g_strdup_printf ("{\"hook_event_name\":\"StopFailure\",\"error\":\"rate_limit\","
                             "\"transcript_path\":\"%s\"}", transcript);
  g_assert_true (cf_hook_router_report (f->hooks, "StopFailure", "%0", payload, &error));
  g_assert_no_error (error);
  g_timeout_add (250, append_throttle_line, transcript);
  g_assert_true (cf_test_run_until (f, finished_once, NULL, 5000));
  g_assert_cmpstr (f->last_outcome, ==, "requeued");
}

/* ---- a task is done by pane-idle only after its turn started ------------- */

#define RULE "──────────────────────────────────────────────────────────────────────────────"
#define HEADER " ▐▛███▛█   Claude Code v2.1.332\n▝▜██████▀  Opus 5.5 · Claude Max\n" \
               " ▝▝   ▝▝   /tmp/proj\n\n"
#define FOOTER "  ⏵⏵ bypass permissions on (shift+tab to cycle)\n"
/* Claude 2.1.332 right after the paste and Enter: its UserPromptSubmit hook
 * has run, but the screen still shows the idle prompt with the text in the
 * box (tests/integration: up to a second later the spinner appears). */
#define SCREEN_PASTED HEADER RULE "\n❯ Do the thing.\n" RULE "\n" FOOTER
/* The prompt above an empty box, no spinner yet (nor ever seen). */
#define SCREEN_IDLE HEADER "❯ Do the thing.\n\n" RULE "\n❯\u00a0\n" RULE "\n" FOOTER
#define SCREEN_BUSY HEADER "❯ Do the thing.\n\n✽ Sock-hopping… (1s · ↓ 3 tokens)\n\n" RULE \
                    "\n❯\u00a0\n" RULE "\n  ⏵⏵ bypass permissions on (shift+tab to cycle) · esc to interrupt\n"
#define SCREEN_FINISHED HEADER "❯ Do the thing.\n\n● Done: the thing is done.\n\n" \
                        "✻ Cooked for 1s · done 1:23 PM\n\n" RULE "\n❯\u00a0\n" RULE "\n" FOOTER

/* Shows SCREEN in the session's pane (same pane id: the hooks find it) and
 * waits until tmux has drawn its line MARK. */
static void
show_screen (Fixture *f, const char *screen, const char *mark)
{
  g_autofree char *path = g_build_filename (f->root, "screen.txt", NULL);
  g_autofree char *command = g_strdup_printf ("cat '%s'; exec sleep 600", path);
  const char *respawn[] = { "respawn-pane", "-k", "-t", "=" SESSION ":", command, NULL };
  const char *capture[] = { "capture-pane", "-p", "-t", "=" SESSION ":", NULL };
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  cf_test_write_file (path, screen);
  g_free (run_tmux (f, respawn));
  for (;;)
    {
      g_autofree char *shown = run_tmux (f, capture);

      if (shown != NULL && strstr (shown, mark) != NULL)
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      cf_test_run_for (20);
    }
}

static void
launch_task (Fixture *f, const char *task_id)
{
  g_autofree char *name = g_strconcat (task_id, ".md", NULL);
  g_autofree char *task = g_build_filename (f->project, ".agent-queue", "active", name, NULL);

  cf_test_write_file (task, "Do the thing.\n");
  cf_watcher_start (f->watcher);
  cf_state_ensure_session (f->state, SESSION, CF_SESSION_POOL);
  cf_state_set_session_text (f->state, SESSION, CF_SESSION_TEXT_PANE, "%0");
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_LAUNCHING);
  cf_state_set_session_work (f->state, SESSION, f->project, task_id);
}

/* The turn runs (a poll sees the spinner), then ends: done by the pane. */
static void
run_the_turn (Fixture *f, const char *task_id)
{
  g_autofree char *name = g_strconcat (task_id, ".md", NULL);
  g_autofree char *done = g_build_filename (f->project, ".agent-queue", "done", name, NULL);

  show_screen (f, SCREEN_BUSY, "Sock-hopping");
  /* Polls every 50 ms: one of them sees the spinner. */
  cf_test_run_for (600);
  g_assert_cmpuint (f->finished, ==, 0);
  show_screen (f, SCREEN_FINISHED, "Cooked for");
  g_assert_true (cf_test_run_until (f, finished_once, NULL, 5000));
  g_assert_cmpstr (f->last_outcome, ==, "done");
  g_assert_true (g_file_test (done, G_FILE_TEST_EXISTS));
}

/* The launch is confirmed by the UserPromptSubmit hook while the pane
 * still shows the pasted text in the idle box: that pane, unchanged over
 * many polls, is no finished turn (it was: "pane idle over two polls" 343
 * ms after the dispatch, before the request reached the API, under load). */
static void
test_prompt_taken_not_yet_drawn (Fixture *f, gconstpointer data)
{
  g_autofree char *active = NULL;

  if (f->root == NULL)
    return;
  active = g_build_filename (f->project, ".agent-queue", "active", "t10.md", NULL);
  launch_task (f, "t10");
  show_screen (f, SCREEN_PASTED, "Do the thing.");
  report (f, "UserPromptSubmit", "{\"hook_event_name\":\"UserPromptSubmit\",\"prompt\":\"Do the thing.\"}");
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_WORKING);
  cf_test_run_for (600);
  g_assert_cmpuint (f->finished, ==, 0);
  g_assert_true (g_file_test (active, G_FILE_TEST_EXISTS));
  run_the_turn (f, "t10");
}

/* Working, no UserPromptSubmit, no spinner seen yet: an empty idle box is
 * the prompt not yet taken, not a finished turn. */
static void
test_idle_before_any_busy_screen (Fixture *f, gconstpointer data)
{
  g_autofree char *active = NULL;

  if (f->root == NULL)
    return;
  active = g_build_filename (f->project, ".agent-queue", "active", "t11.md", NULL);
  launch_task (f, "t11");
  show_screen (f, SCREEN_IDLE, "Do the thing.");
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_WORKING);
  cf_test_run_for (600);
  g_assert_cmpuint (f->finished, ==, 0);
  g_assert_true (g_file_test (active, G_FILE_TEST_EXISTS));
  run_the_turn (f, "t11");
}

/* The dispatcher saw the spinner when it confirmed the submission (a
 * session without hooks): the finished pane is done at once, no poll
 * needs to have seen the spinner itself. Evidence for another task of the
 * same session counts for nothing. */
static void
test_turn_started_noted_by_dispatcher (Fixture *f, gconstpointer data)
{
  g_autofree char *t13 = NULL;

  if (f->root == NULL)
    return;
  t13 = g_build_filename (f->project, ".agent-queue", "active", "t13.md", NULL);
  launch_task (f, "t12");
  show_screen (f, SCREEN_FINISHED, "Cooked for");
  cf_watcher_note_turn_started (f->watcher, SESSION, f->project, "t-other", "spinner");
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_WORKING);
  cf_test_run_for (400);
  g_assert_cmpuint (f->finished, ==, 0);

  cf_state_set_session_state (f->state, SESSION, CF_SESSION_LAUNCHING);
  cf_state_set_session_work (f->state, SESSION, f->project, "t13");
  cf_test_write_file (t13, "Do the thing.\n");
  cf_watcher_note_turn_started (f->watcher, SESSION, f->project, "t13", "spinner");
  cf_state_set_session_state (f->state, SESSION, CF_SESSION_WORKING);
  g_assert_true (cf_test_run_until (f, finished_once, NULL, 5000));
  g_assert_cmpstr (f->last_outcome, ==, "done");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  warnings = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (cf_test_record_warnings, warnings, NULL);
  g_test_add ("/watcher/evict-with-capture-in-flight", Fixture, NULL, fixture_setup,
              test_evict_with_capture_in_flight, fixture_teardown);
  g_test_add ("/watcher/stop-before-launch-ended", Fixture, NULL, fixture_setup,
              test_stop_before_launch_ended, fixture_teardown);
  g_test_add ("/watcher/early-stop-forgotten", Fixture, NULL, fixture_setup,
              test_early_stop_forgotten, fixture_teardown);
  g_test_add ("/watcher/needs-input-times-out", Fixture, NULL, fixture_setup,
              test_needs_input_times_out, fixture_teardown);
  g_test_add ("/watcher/needs-input-answered", Fixture, NULL, fixture_setup,
              test_needs_input_answered, fixture_teardown);
  g_test_add ("/watcher/transcript-throttle-requeues", Fixture, NULL, fixture_setup,
              test_transcript_throttle_requeues, fixture_teardown);
  g_test_add ("/watcher/transcript-refused", Fixture, NULL, fixture_setup,
              test_transcript_refused, fixture_teardown);
  g_test_add ("/watcher/transcript-line-after-the-hook", Fixture, NULL, fixture_setup,
              test_transcript_line_after_the_hook, fixture_teardown);
  g_test_add ("/watcher/prompt-taken-not-yet-drawn", Fixture, NULL, fixture_setup,
              test_prompt_taken_not_yet_drawn, fixture_teardown);
  g_test_add ("/watcher/idle-before-any-busy-screen", Fixture, NULL, fixture_setup,
              test_idle_before_any_busy_screen, fixture_teardown);
  g_test_add ("/watcher/turn-started-noted-by-dispatcher", Fixture, NULL, fixture_setup,
              test_turn_started_noted_by_dispatcher, fixture_teardown);
  return g_test_run ();
}
