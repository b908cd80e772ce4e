/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf-state-json.h"
#include "cf-state-store.h"
#include "cf-task-events.h"
#include "cf-test-util.h"

/* Warnings are part of the contract here (a quarantine is loud): record
 * them instead of letting GTest abort on them. */
static GPtrArray *warnings;

typedef struct {
  char *dir;
  char *path;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = cf_test_make_tmpdir ("cf-state-XXXXXX");
  f->path = g_build_filename (f->dir, "sub", "state.json", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  cf_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static void
populate (CfState *state)
{
  const char *accounts[] = { "main", "backup", NULL };

  cf_state_sync_accounts (state, accounts);
  cf_state_ensure_session (state, "ccl-auto-0", CF_SESSION_POOL);
  cf_state_set_session_state (state, "ccl-auto-0", CF_SESSION_WORKING);
  cf_state_set_session_work (state, "ccl-auto-0", "/home/x/projects/web", "fix-login");
  cf_state_set_session_text (state, "ccl-auto-0", CF_SESSION_TEXT_ACCOUNT, "main");
  cf_state_set_session_text (state, "ccl-auto-0", CF_SESSION_TEXT_RESUME_UUID,
                             "0b9f7a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
  cf_state_mark_session_failed (state, "ccl-auto-0", 1700000000000000);
  cf_state_ensure_session (state, "ccl-1-web", CF_SESSION_DEDICATED);
  cf_state_set_active_account (state, "backup");
  cf_state_set_account_exhausted_until (state, "main", 1800000000000000);
  cf_state_set_swap_journal (state, CF_SWAP_SET_STEP,
                             &(CfSwapJournal) { .step = CF_SWAP_SWITCHING, .from = (char *) "main",
                                                .to = (char *) "backup" });
  cf_state_set_swap_journal (state, CF_SWAP_SET_REASON,
                             &(CfSwapJournal) { .reason = (char *) "quota" });
  cf_state_set_dispatch_pause (state, cf_state_get_dispatch_pause (state).operator_paused,
                               1800000000000000);
  cf_state_set_swap_journal (state, CF_SWAP_SET_PARTIAL, &(CfSwapJournal) { .partial = TRUE });
  cf_state_set_swap_journal (state, CF_SWAP_SET_LAST,
                             &(CfSwapJournal) { .last_when = 1750000000000000,
                                                .last_from = (char *) "main",
                                                .last_to = (char *) "backup" });
  cf_state_record_account_usage (state, "main", CF_USAGE_FIVE_HOUR, 96.5, 1800000000000000,
                                 CF_USAGE_SOURCE_STATUSLINE, 1750000000000000);
  cf_state_record_account_usage (state, "backup", CF_USAGE_SEVEN_DAY, 100, 1800600000000000,
                                 CF_USAGE_SOURCE_LIMIT, 1750000000000001);
  cf_state_set_account_problem (state, "backup", "authentication_failed");
  cf_state_set_swap_journal (state, CF_SWAP_SET_RETURN_AT,
                             &(CfSwapJournal) { .return_at = 1800000300000000 });
  cf_state_set_dispatch_pause (state, TRUE,
                               cf_state_get_dispatch_pause (state).all_exhausted_until);
  cf_counters_increment (cf_state_get_counters (state), CF_COUNTER_DISPATCHED);
  cf_counters_increment (cf_state_get_counters (state), CF_COUNTER_DISPATCHED);
  cf_counters_increment (cf_state_get_counters (state), CF_COUNTER_FAILED);
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr(CfState) a = cf_state_new ();
  g_autoptr(CfStateStore) a_store = cf_state_store_new (a, f->path);
  g_autoptr(CfState) b = cf_state_new ();
  g_autoptr(CfStateStore) b_store = cf_state_store_new (b, f->path);
  g_autoptr(GError) error = NULL;
  g_autofree char *json_a = NULL;
  g_autofree char *json_b = NULL;
  g_autofree char *quarantined = NULL;
  CfSession *s;
  GStatBuf st;

  populate (a);
  g_assert_true (cf_state_store_save_sync (a_store, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  g_assert_true (cf_state_store_load (b_store, &quarantined, &error));
  g_assert_no_error (error);
  g_assert_null (quarantined);

  json_a = cf_state_to_json (a);
  json_b = cf_state_to_json (b);
  g_assert_cmpstr (json_a, ==, json_b);

  s = cf_state_lookup_session (b, "ccl-auto-0");
  g_assert_nonnull (s);
  g_assert_cmpint (s->kind, ==, CF_SESSION_POOL);
  g_assert_cmpint (s->state, ==, CF_SESSION_WORKING);
  g_assert_cmpstr (s->project, ==, "/home/x/projects/web");
  g_assert_cmpstr (s->task, ==, "fix-login");
  g_assert_cmpstr (s->resume_uuid, ==, "0b9f7a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
  g_assert_cmpint (s->last_fail, ==, 1700000000000000);
  g_assert_cmpint (cf_state_lookup_session (b, "ccl-1-web")->kind, ==, CF_SESSION_DEDICATED);
  g_assert_cmpstr (cf_state_get_active_account (b), ==, "backup");
  g_assert_cmpint (cf_state_get_swap_journal (b)->step, ==, CF_SWAP_SWITCHING);
  g_assert_cmpstr (cf_state_get_swap_journal (b)->from, ==, "main");
  g_assert_cmpstr (cf_state_get_swap_journal (b)->to, ==, "backup");
  g_assert_cmpstr (cf_state_get_swap_journal (b)->reason, ==, "quota");
  g_assert_cmpint (cf_state_get_dispatch_pause (b).all_exhausted_until, ==, 1800000000000000);
  g_assert_true (cf_state_get_swap_journal (b)->partial);
  g_assert_cmpint (cf_state_get_swap_journal (b)->last_when, ==, 1750000000000000);
  g_assert_cmpstr (cf_state_get_swap_journal (b)->last_from, ==, "main");
  g_assert_cmpstr (cf_state_get_swap_journal (b)->last_to, ==, "backup");
  /* The journal's reason when the switch was recorded. */
  g_assert_cmpstr (cf_state_get_swap_journal (b)->last_reason, ==, "quota");
  {
    CfAccountState *main_account = cf_state_lookup_account (b, "main");
    CfAccountState *backup = cf_state_lookup_account (b, "backup");
    const CfUsageWindow *five = &main_account->usage.windows[CF_USAGE_FIVE_HOUR];
    const CfUsageWindow *week = &backup->usage.windows[CF_USAGE_SEVEN_DAY];

    g_assert_cmpfloat (five->used, ==, 96.5);
    g_assert_cmpint (five->resets_at, ==, 1800000000000000);
    g_assert_cmpint (five->updated, ==, 1750000000000000);
    g_assert_cmpint (five->source, ==, CF_USAGE_SOURCE_STATUSLINE);
    g_assert_cmpfloat (main_account->usage.windows[CF_USAGE_SEVEN_DAY].used, ==, -1);
    g_assert_cmpfloat (week->used, ==, 100);
    g_assert_cmpint (week->source, ==, CF_USAGE_SOURCE_LIMIT);
    g_assert_cmpstr (backup->problem, ==, "authentication_failed");
  }
  g_assert_cmpint (cf_state_get_swap_journal (b)->return_at, ==, 1800000300000000);
  g_assert_true (cf_state_get_dispatch_pause (b).paused);
  /* Counters on D-Bus count since start: a fresh load starts at zero. */
  g_assert_cmpuint (cf_counters_get_since_start (cf_state_get_counters (a), CF_COUNTER_DISPATCHED),
                    ==, 2);
  g_assert_cmpuint (cf_counters_get_since_start (cf_state_get_counters (b), CF_COUNTER_DISPATCHED),
                    ==, 0);
  cf_counters_increment (cf_state_get_counters (b), CF_COUNTER_DISPATCHED);
  g_assert_cmpuint (cf_counters_get_since_start (cf_state_get_counters (b), CF_COUNTER_DISPATCHED),
                    ==, 1);
  g_free (json_b);
  json_b = cf_state_to_json (b);
  g_assert_nonnull (strstr (json_b, "\"tasks_dispatched\" : 3"));
}

static void
test_missing_file (Fixture *f, gconstpointer data)
{
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfStateStore) state_store = cf_state_store_new (state, f->path);
  g_autoptr(GError) error = NULL;

  g_assert_true (cf_state_store_load (state_store, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (cf_state_get_active_account (state), ==, "");
}

/* Each of these must be quarantined, not crash, and leave a clean state. */
static const char *corrupt_inputs[] = {
  "",
  "{",
  "garbage \x01\x02",
  "[]",
  "{\"version\": 99}",
  "{\"version\": \"1\"}",
  "{\"version\": 1, \"sessions\": {}}",
  "{\"version\": 1, \"sessions\": [{\"name\": \"x\", \"kind\": \"alien\", \"state\": \"idle\"}]}",
  "{\"version\": 1, \"sessions\": [{\"name\": \"x\", \"kind\": \"pool\", \"state\": \"zombie\"}]}",
  "{\"version\": 1, \"sessions\": [{\"kind\": \"pool\", \"state\": \"idle\"}]}",
  "{\"version\": 1, \"sessions\": [42]}",
  "{\"version\": 1, \"accounts\": [{\"exhausted_until\": 3}]}",
  "{\"version\": 1, \"swap\": {\"step\": \"flying\"}}",
  "{\"version\": 1, \"return_at\": \"soon\"}",
  "{\"version\": 1, \"counters\": {\"tasks_failed\": true}}",
  /* json-glib made these names bytes that are not UTF-8 (fuzz-state). */
  "{\"version\":1,\"sessions\":[{\"name\":\"\\udc00x\",\"kind\":\"pool\",\"state\":\"idle\"}]}",
  "{\"version\": 1, \"active_account\": \"a\\u0000b\"}",
  "{\"version\": 1, \"active_account\": \"caf\xe9\"}",
  "{\"version\": 1} // written by hand",
  "{\"version\": 1, \"return_at\": 99999999999999999999}",
};

static void
test_corrupt_quarantined (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (corrupt_inputs); i++)
    {
      g_autoptr(CfState) state = cf_state_new ();
      g_autoptr(CfStateStore) state_store = cf_state_store_new (state, f->path);
      g_autoptr(GError) error = NULL;
      g_autofree char *quarantined = NULL;
      g_autofree char *moved = NULL;
      g_autofree char *dir = g_path_get_dirname (f->path);

      g_mkdir_with_parents (dir, 0700);
      cf_test_write_file (f->path, corrupt_inputs[i]);
      populate (state);
      g_assert_true (cf_state_store_load (state_store, &quarantined, &error));
      g_assert_no_error (error);
      g_assert_nonnull (quarantined);
      g_assert_true (g_str_has_prefix (quarantined, f->path));
      g_assert_nonnull (strstr (quarantined, ".corrupt-"));
      g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
      g_assert_true (g_file_get_contents (quarantined, &moved, NULL, NULL));
      g_assert_cmpstr (moved, ==, corrupt_inputs[i]);
      g_unlink (quarantined);
      g_assert_cmpuint (warnings->len, ==, 1);
      g_assert_nonnull (strstr (g_ptr_array_index (warnings, 0), "is corrupt"));
      g_ptr_array_set_size (warnings, 0);
      /* Started clean, whatever was in memory before. */
      g_assert_cmpstr (cf_state_get_active_account (state), ==, "");
      g_assert_null (cf_state_lookup_session (state, "ccl-auto-0"));
      g_assert_false (cf_state_get_swap_journal (state)->partial);
    }
}

/* A state file of a million '[': json-glib recursed once per bracket and
 * the daemon died of a stack overflow on every start (fuzz-state). Now it
 * is quarantined like any other corrupt file. */
static void
test_deep_nesting_quarantined (Fixture *f, gconstpointer data)
{
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfStateStore) state_store = cf_state_store_new (state, f->path);
  g_autoptr(GError) error = NULL;
  g_autofree char *quarantined = NULL;
  g_autofree char *dir = g_path_get_dirname (f->path);
  gsize size = 1024 * 1024;
  g_autofree char *deep = g_malloc (size + 1);

  memset (deep, '[', size);
  deep[size] = '\0';
  g_mkdir_with_parents (dir, 0700);
  cf_test_write_file (f->path, deep);
  g_assert_true (cf_state_store_load (state_store, &quarantined, &error));
  g_assert_no_error (error);
  g_assert_nonnull (quarantined);
  g_unlink (quarantined);
  g_assert_cmpuint (warnings->len, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (warnings, 0), "nested more than"));
  g_ptr_array_set_size (warnings, 0);
}

/* A FIFO in the state file's place would block the start for good, and a
 * file of gigabytes would be read whole: neither is read, both are moved
 * aside like any corrupt file. */
static void
test_not_read_quarantined (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_path_get_dirname (f->path);
  const char *expected[] = { "not a regular file", "more than a state file can be" };

  g_mkdir_with_parents (dir, 0700);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(CfState) state = cf_state_new ();
      g_autoptr(CfStateStore) state_store = cf_state_store_new (state, f->path);
      g_autoptr(GError) error = NULL;
      g_autofree char *quarantined = NULL;

      if (i == 0)
        g_assert_cmpint (mkfifo (f->path, 0600), ==, 0);
      else
        {
          int fd = g_open (f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

          g_assert_cmpint (fd, >=, 0);
          g_assert_cmpint (ftruncate (fd, (off_t) 17 * 1024 * 1024), ==, 0);
          close (fd);
        }
      g_assert_true (cf_state_store_load (state_store, &quarantined, &error));
      g_assert_no_error (error);
      g_assert_nonnull (quarantined);
      g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
      g_unlink (quarantined);
      g_assert_cmpuint (warnings->len, ==, 1);
      g_assert_nonnull (strstr (g_ptr_array_index (warnings, 0), expected[i]));
      g_ptr_array_set_size (warnings, 0);
    }
}

/* Two corrupt files within one second: each keeps its own copy. */
static void
test_corrupt_copies_kept (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_autoptr(GPtrArray) copies = g_ptr_array_new_with_free_func (g_free);

  g_mkdir_with_parents (dir, 0700);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(CfState) state = cf_state_new ();
      g_autoptr(CfStateStore) state_store = cf_state_store_new (state, f->path);
      g_autoptr(GError) error = NULL;
      char *quarantined = NULL;

      cf_test_write_file (f->path, corrupt_inputs[i]);
      g_assert_true (cf_state_store_load (state_store, &quarantined, &error));
      g_assert_no_error (error);
      g_assert_nonnull (quarantined);
      g_ptr_array_add (copies, quarantined);
    }
  g_ptr_array_set_size (warnings, 0);
  for (guint i = 0; i < copies->len; i++)
    {
      g_autofree char *moved = NULL;

      for (guint j = 0; j < i; j++)
        g_assert_cmpstr (g_ptr_array_index (copies, i), !=, g_ptr_array_index (copies, j));
      g_assert_true (g_file_get_contents (g_ptr_array_index (copies, i), &moved, NULL, NULL));
      g_assert_cmpstr (moved, ==, corrupt_inputs[i]);
      g_unlink (g_ptr_array_index (copies, i));
    }
}

static void
count_changes (CfState *state, guint what, guint *flags)
{
  *flags |= what;
}

static void
test_change_signals (Fixture *f, gconstpointer data)
{
  g_autoptr(CfState) state = cf_state_new ();
  const char *accounts[] = { "main", NULL };
  guint flags = 0;

  g_signal_connect (state, "changed", G_CALLBACK (count_changes), &flags);
  cf_state_sync_accounts (state, accounts);
  g_assert_cmpuint (flags, ==, CF_STATE_CHANGE_ACCOUNTS | CF_STATE_CHANGE_ACTIVE_ACCOUNT);
  flags = 0;
  cf_state_sync_accounts (state, accounts);
  g_assert_cmpuint (flags, ==, 0);
  cf_state_set_dispatch_pause (state, FALSE,
                               cf_state_get_dispatch_pause (state).all_exhausted_until);
  g_assert_cmpuint (flags, ==, 0);
  cf_state_set_dispatch_pause (state, TRUE,
                               cf_state_get_dispatch_pause (state).all_exhausted_until);
  g_assert_cmpuint (flags, ==, CF_STATE_CHANGE_DISPATCH_PAUSED);
  flags = 0;
  cf_state_ensure_session (state, "w-1", CF_SESSION_POOL);
  g_assert_cmpuint (flags, ==, CF_STATE_CHANGE_SESSIONS);
  flags = 0;
  cf_state_set_session_state (state, "w-1", CF_SESSION_DEAD);
  g_assert_cmpuint (flags, ==, 0);
}

static void
log_changes (CfState *state, guint what, GArray *log)
{
  g_array_append_val (log, what);
}

static void
log_session_changes (CfState *state, CfSession *session, guint *count)
{
  (*count)++;
}

/* The grouped setters emit as the separate setters they replaced: one
 * "changed" per group of the swap journal, one for the dispatch pause, one
 * with the flag of each daemon fact that changed, nothing when unchanged. */
static void
test_grouped_setters (Fixture *f, gconstpointer data)
{
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(GArray) log = g_array_new (FALSE, FALSE, sizeof (guint));
  const CfSwapJournal *journal = cf_state_get_swap_journal (state);
  CfSwapJournal values = {
    .step = CF_SWAP_SWITCHING, .from = (char *) "main", .to = (char *) "backup",
    .reason = (char *) "quota", .partial = TRUE, .last_when = 7, .last_from = (char *) "a",
    .last_to = (char *) "b", .last_reason = (char *) "ignored", .return_at = 9,
  };
  CfDispatchPause pause;
  CfDaemonFacts facts;
  guint sessions = 0;

  g_signal_connect (state, "changed", G_CALLBACK (log_changes), log);
  cf_state_set_swap_journal (state, CF_SWAP_SET_STEP | CF_SWAP_SET_REASON | CF_SWAP_SET_PARTIAL |
                             CF_SWAP_SET_LAST | CF_SWAP_SET_RETURN_AT, &values);
  g_assert_cmpuint (log->len, ==, 5);
  g_assert_cmpuint (g_array_index (log, guint, 0), ==, CF_STATE_CHANGE_SWAP_STATE);
  g_assert_cmpuint (g_array_index (log, guint, 1), ==, CF_STATE_CHANGE_SWAP_STATE);
  g_assert_cmpuint (g_array_index (log, guint, 2), ==, CF_STATE_CHANGE_PARTIAL_SWAP);
  g_assert_cmpuint (g_array_index (log, guint, 3), ==, CF_STATE_CHANGE_LAST_SWAP);
  g_assert_cmpuint (g_array_index (log, guint, 4), ==, CF_STATE_CHANGE_RETURN_AT);
  g_assert_cmpint (journal->step, ==, CF_SWAP_SWITCHING);
  g_assert_cmpstr (journal->to, ==, "backup");
  g_assert_cmpstr (journal->last_reason, ==, "quota");   /* the journal's, not VALUES' */
  g_assert_cmpint (journal->return_at, ==, 9);
  g_array_set_size (log, 0);
  cf_state_set_swap_journal (state, CF_SWAP_SET_STEP | CF_SWAP_SET_REASON | CF_SWAP_SET_PARTIAL |
                             CF_SWAP_SET_LAST | CF_SWAP_SET_RETURN_AT, &values);
  g_assert_cmpuint (log->len, ==, 0);
  /* Only the FIELDS are taken. */
  cf_state_set_swap_journal (state, CF_SWAP_SET_REASON, &(CfSwapJournal) { .partial = FALSE });
  g_assert_cmpuint (log->len, ==, 1);
  g_assert_cmpstr (journal->reason, ==, "");
  g_assert_true (journal->partial);
  g_array_set_size (log, 0);

  cf_state_set_dispatch_pause (state, TRUE, 5);
  g_assert_cmpuint (log->len, ==, 1);
  g_assert_cmpuint (g_array_index (log, guint, 0), ==, CF_STATE_CHANGE_DISPATCH_PAUSED);
  pause = cf_state_get_dispatch_pause (state);
  g_assert_true (pause.paused && pause.operator_paused);
  g_assert_cmpint (pause.all_exhausted_until, ==, 5);
  cf_state_set_dispatch_pause (state, FALSE, -1);
  pause = cf_state_get_dispatch_pause (state);
  g_assert_false (pause.paused || pause.operator_paused);
  g_assert_cmpint (pause.all_exhausted_until, ==, 0);
  g_assert_cmpuint (log->len, ==, 2);
  cf_state_set_dispatch_pause (state, FALSE, 0);
  g_assert_cmpuint (log->len, ==, 2);
  g_array_set_size (log, 0);

  cf_state_set_daemon_facts (state, 3, "2.1.332");
  g_assert_cmpuint (log->len, ==, 1);
  g_assert_cmpuint (g_array_index (log, guint, 0), ==,
                    CF_STATE_CHANGE_PENDING_TASKS | CF_STATE_CHANGE_CLAUDE_VERSION);
  facts = cf_state_get_daemon_facts (state);
  g_assert_cmpuint (facts.pending_tasks, ==, 3);
  g_assert_cmpstr (facts.claude_version, ==, "2.1.332");
  cf_state_set_daemon_facts (state, 3, facts.claude_version);   /* its own string: no change */
  cf_state_set_daemon_facts (state, 4, cf_state_get_daemon_facts (state).claude_version);
  g_assert_cmpuint (log->len, ==, 2);
  g_assert_cmpuint (g_array_index (log, guint, 1), ==, CF_STATE_CHANGE_PENDING_TASKS);
  cf_state_set_daemon_facts (state, 4, NULL);
  g_assert_cmpstr (cf_state_get_daemon_facts (state).claude_version, ==, "");
  g_array_set_size (log, 0);

  /* A session's texts: the account is told, the resume uuid only saved,
   * the pane neither. */
  cf_state_ensure_session (state, "w-1", CF_SESSION_POOL);
  g_array_set_size (log, 0);
  g_signal_connect (state, "session-changed", G_CALLBACK (log_session_changes), &sessions);
  cf_state_set_session_text (state, "w-1", CF_SESSION_TEXT_PANE, "%3");
  g_assert_cmpstr (cf_state_lookup_session (state, "w-1")->pane_id, ==, "%3");
  cf_state_set_session_text (state, "w-1", CF_SESSION_TEXT_RESUME_UUID, "u-1");
  g_assert_cmpuint (log->len + sessions, ==, 0);
  cf_state_set_session_text (state, "w-1", CF_SESSION_TEXT_ACCOUNT, "main");
  g_assert_cmpuint (sessions, ==, 1);
  g_assert_cmpuint (log->len, ==, 1);
  g_assert_cmpstr (cf_state_lookup_session (state, "w-1")->account, ==, "main");
  g_assert_cmpstr (cf_state_lookup_session (state, "w-1")->resume_uuid, ==, "u-1");
}

static void
test_accounts_sync (Fixture *f, gconstpointer data)
{
  g_autoptr(CfState) state = cf_state_new ();
  const char *first[] = { "main", "backup", NULL };
  const char *second[] = { "other", "main", NULL };
  g_autoptr(GPtrArray) list = NULL;

  cf_state_sync_accounts (state, first);
  cf_state_set_active_account (state, "backup");
  cf_state_set_account_exhausted_until (state, "main", 42);
  cf_state_sync_accounts (state, second);
  list = cf_state_list_accounts (state);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (((CfAccountState *) list->pdata[0])->name, ==, "other");
  g_assert_cmpint (((CfAccountState *) list->pdata[1])->exhausted_until, ==, 42);
  /* The active account disappeared from the config: fall back to the primary. */
  g_assert_cmpstr (cf_state_get_active_account (state), ==, "other");
}

static void
test_autosave_debounced (Fixture *f, gconstpointer data)
{
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfStateStore) state_store = cf_state_store_new (state, f->path);
  g_autoptr(CfState) reread = cf_state_new ();
  g_autoptr(CfStateStore) reread_store = cf_state_store_new (reread, f->path);
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  g_autofree char *json = NULL;
  gint64 deadline;

  cf_state_store_enable_autosave (state_store, 50, 10000);
  /* A burst of 100 changes... */
  for (guint i = 0; i < 100; i++)
    cf_counters_increment (cf_state_get_counters (state), CF_COUNTER_COMPLETED);
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (cf_state_store_is_dirty (state_store) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  /* ...is written once, within the debounce delay. */
  g_assert_false (cf_state_store_is_dirty (state_store));
  g_assert_cmpuint (cf_counters_get (cf_state_get_counters (state), CF_EVENT_STATE_WRITTEN), ==, 1);
  g_assert_true (cf_state_store_load (reread_store, NULL, NULL));
  json = cf_state_to_json (reread);
  g_assert_nonnull (strstr (json, "\"tasks_completed\" : 100"));
}

static void
on_flushed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError **error = user_data;

  if (!cf_state_store_flush_finish (CF_STATE_STORE (source), result, error) && *error == NULL)
    g_assert_not_reached ();
  if (*error == NULL)
    *error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_EXISTS, "done");
}

/* The swap journal waits on cf_state_flush_async: it completes only once
 * the changes made before it are on disk, without the debounce delay. */
static void
test_flush_async (Fixture *f, gconstpointer data)
{
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfStateStore) state_store = cf_state_store_new (state, f->path);
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  g_autoptr(GError) result = NULL;
  gint64 started, deadline;

  cf_state_store_enable_autosave (state_store, 5000, 60000);   /* a long debounce */
  cf_state_set_swap_journal (state, CF_SWAP_SET_STEP,
                             &(CfSwapJournal) { .step = CF_SWAP_SAVING, .from = (char *) "main",
                                                .to = (char *) "backup" });
  started = g_get_monotonic_time ();
  cf_state_store_flush_async (state_store, NULL, on_flushed, &result);
  /* A change while the write is in flight is covered by a second write. */
  cf_state_set_swap_journal (state, CF_SWAP_SET_STEP,
                             &(CfSwapJournal) { .step = CF_SWAP_SWITCHING, .from = (char *) "main",
                                                .to = (char *) "backup" });
  deadline = started + 4 * G_USEC_PER_SEC;
  while (result == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_assert_error (result, G_IO_ERROR, G_IO_ERROR_EXISTS);   /* completed, no failure */
  g_assert_cmpint (g_get_monotonic_time () - started, <, 4 * G_USEC_PER_SEC);
  {
    g_autoptr(CfState) reread = cf_state_new ();
    g_autoptr(CfStateStore) reread_store = cf_state_store_new (reread, f->path);
    g_assert_true (cf_state_store_load (reread_store, NULL, NULL));
    /* At least the state at the call is on disk. */
    g_assert_cmpint (cf_state_get_swap_journal (reread)->step, !=, CF_SWAP_NORMAL);
  }
  /* A second flush covers the change made after the first call. */
  g_clear_error (&result);
  cf_state_store_flush_async (state_store, NULL, on_flushed, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  {
    g_autoptr(CfState) reread = cf_state_new ();
    g_autoptr(CfStateStore) reread_store = cf_state_store_new (reread, f->path);
    g_assert_true (cf_state_store_load (reread_store, NULL, NULL));
    g_assert_cmpint (cf_state_get_swap_journal (reread)->step, ==, CF_SWAP_SWITCHING);
  }
}

typedef struct {
  CfStateStore *store;
  GError *result;
  gboolean asked;
} FlushFromHandler;

static void
flush_on_change (CfState *state, guint what, FlushFromHandler *h)
{
  if (h->asked)
    return;
  h->asked = TRUE;
  cf_state_store_flush_async (h->store, NULL, on_flushed, &h->result);
}

/* The store hears of a change before "changed" is emitted: a handler that
 * flushes gets the change that woke it on disk. */
static void
test_flush_from_changed_handler (Fixture *f, gconstpointer data)
{
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfStateStore) state_store = cf_state_store_new (state, f->path);
  g_autoptr(CfState) reread = cf_state_new ();
  g_autoptr(CfStateStore) reread_store = cf_state_store_new (reread, f->path);
  FlushFromHandler h = { .store = state_store };

  g_signal_connect (state, "changed", G_CALLBACK (flush_on_change), &h);
  cf_state_set_swap_journal (state, CF_SWAP_SET_STEP,
                             &(CfSwapJournal) { .step = CF_SWAP_SAVING, .from = (char *) "main",
                                                .to = (char *) "backup" });
  while (h.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (h.result, G_IO_ERROR, G_IO_ERROR_EXISTS);   /* completed, no failure */
  g_clear_error (&h.result);
  g_assert_true (cf_state_store_load (reread_store, NULL, NULL));
  g_assert_cmpint (cf_state_get_swap_journal (reread)->step, ==, CF_SWAP_SAVING);
}

static void
record_signal (GString *log, const char *name)
{
  g_string_append_printf (log, "%s%s", log->len > 0 ? "," : "", name);
}

static void
record_finished (CfTaskEvents *task_events, const char *project, const char *task,
                 const char *session,
                 const char *outcome, GString *log)
{
  record_signal (log, "task-finished");
}

static void
record_changed (CfState *state, guint what, GString *log)
{
  record_signal (log, what == CF_STATE_CHANGE_COUNTERS ? "counters" : "other");
}

/* Task totals live in the registry and are persisted with the state: a
 * task event is told before its total is reported changed, and an
 * increment by another component is a persisted change. */
static void
test_task_totals_in_registry (Fixture *f, gconstpointer data)
{
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfStateStore) state_store = cf_state_store_new (state, f->path);
  g_autoptr(CfState) reread = cf_state_new ();
  g_autoptr(CfStateStore) reread_store = cf_state_store_new (reread, f->path);
  CfCounters *counters = cf_state_get_counters (state);
  g_autoptr(CfTaskEvents) task_events = cf_task_events_new (counters);
  g_autoptr(GString) log = g_string_new (NULL);

  g_signal_connect (task_events, "task-finished", G_CALLBACK (record_finished), log);
  g_signal_connect (state, "changed", G_CALLBACK (record_changed), log);
  cf_task_events_finished (task_events, "/p/web", "t-1", "ccl-auto-0", "done");
  g_assert_cmpstr (log->str, ==, "task-finished,counters");
  g_assert_cmpuint (cf_counters_get_since_start (counters, CF_COUNTER_COMPLETED), ==, 1);
  g_assert_cmpuint (cf_counters_get (counters, CF_EVENT_TASK_DONE), ==, 1);

  g_string_truncate (log, 0);
  g_assert_true (cf_state_store_save_sync (state_store, NULL));
  g_assert_false (cf_state_store_is_dirty (state_store));
  cf_counters_increment (counters, CF_COUNTER_DELEGATED);
  g_assert_cmpstr (log->str, ==, "counters");
  g_assert_true (cf_state_store_is_dirty (state_store));
  g_assert_true (cf_state_store_save_sync (state_store, NULL));

  /* Lifetime totals come back from the file; "since start" starts at 0. */
  g_assert_true (cf_state_store_load (reread_store, NULL, NULL));
  g_assert_cmpuint (cf_counters_get_lifetime (cf_state_get_counters (reread),
                                              CF_COUNTER_DELEGATED), ==, 1);
  g_assert_cmpuint (cf_counters_get_since_start (cf_state_get_counters (reread),
                                                 CF_COUNTER_DELEGATED), ==, 0);
}

/* A write that fails (the directory is gone) fails the waiters. */
static void
test_flush_async_failure (Fixture *f, gconstpointer data)
{
  g_autofree char *blocker = g_build_filename (f->dir, "a-file", NULL);
  g_autofree char *path = g_build_filename (blocker, "state.json", NULL);
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfStateStore) state_store = cf_state_store_new (state, path);

  cf_test_write_file (blocker, "not a directory\n");
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  g_autoptr(GError) result = NULL;

  g_ptr_array_set_size (warnings, 0);
  cf_state_set_swap_journal (state, CF_SWAP_SET_STEP,
                             &(CfSwapJournal) { .step = CF_SWAP_SAVING, .from = (char *) "main",
                                                .to = (char *) "backup" });
  cf_state_store_flush_async (state_store, NULL, on_flushed, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_assert_false (g_error_matches (result, G_IO_ERROR, G_IO_ERROR_EXISTS));
  g_assert_true (cf_state_store_is_dirty (state_store));
  g_assert_cmpuint (warnings->len, ==, 1);      /* "Cannot write state file" */
  g_ptr_array_set_size (warnings, 0);

  /* The same failure again (a retry on a full disk): not warned twice. */
  g_clear_error (&result);
  cf_state_set_swap_journal (state, CF_SWAP_SET_STEP,
                             &(CfSwapJournal) { .step = CF_SWAP_SWITCHING, .from = (char *) "main",
                                                .to = (char *) "backup" });
  cf_state_store_flush_async (state_store, NULL, on_flushed, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_assert_true (cf_state_store_is_dirty (state_store));
  g_assert_cmpuint (warnings->len, ==, 0);
}

static void
test_dispatch_paused_sources (void)
{
  g_autoptr(CfState) state = cf_state_new ();

  g_assert_false (cf_state_get_dispatch_pause (state).paused);
  cf_state_set_dispatch_pause (state, cf_state_get_dispatch_pause (state).operator_paused,
                               1800000000000000);
  g_assert_true (cf_state_get_dispatch_pause (state).paused);
  g_assert_false (cf_state_get_dispatch_pause (state).operator_paused);
  cf_state_set_dispatch_pause (state, TRUE,
                               cf_state_get_dispatch_pause (state).all_exhausted_until);
  cf_state_set_dispatch_pause (state, cf_state_get_dispatch_pause (state).operator_paused, 0);
  g_assert_true (cf_state_get_dispatch_pause (state).paused);
  cf_state_set_dispatch_pause (state, FALSE,
                               cf_state_get_dispatch_pause (state).all_exhausted_until);
  g_assert_false (cf_state_get_dispatch_pause (state).paused);
  g_assert_true (cf_swap_state_in_progress (CF_SWAP_SAVING));
  g_assert_true (cf_swap_state_in_progress (CF_SWAP_RESUMING));
  g_assert_false (cf_swap_state_in_progress (CF_SWAP_FALLBACK));
  g_assert_false (cf_swap_state_in_progress (CF_SWAP_NORMAL));
}

static void
test_events_counted (Fixture *f, gconstpointer data)
{
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfStateStore) state_store = cf_state_store_new (state, f->path);
  g_autoptr(CfState) reread = cf_state_new ();
  g_autoptr(CfStateStore) reread_store = cf_state_store_new (reread, f->path);
  g_autoptr(CfTaskEvents) task_events = cf_task_events_new (cf_state_get_counters (state));
  static const char *const outcomes[] = {
    "done", "failed", "requeued", "timeout", "cancelled", "delegated-done", "delegated-failed",
  };
  static const CfEvent events[] = {
    CF_EVENT_TASK_DONE, CF_EVENT_TASK_FAILED, CF_EVENT_TASK_REQUEUED, CF_EVENT_TASK_TIMEOUT,
    CF_EVENT_TASK_CANCELLED, CF_EVENT_TASK_DELEGATED_DONE, CF_EVENT_TASK_DELEGATED_FAILED,
  };
  guint flags = 0;

  /* Each outcome is counted under its own event, i times. */
  for (guint i = 0; i < G_N_ELEMENTS (outcomes); i++)
    for (guint j = 0; j <= i; j++)
      cf_task_events_finished (task_events, "/p", "t", "s", outcomes[i]);
  cf_task_events_finished (task_events, "/p", "t", "s", "no-such-outcome");
  for (guint i = 0; i < G_N_ELEMENTS (events); i++)
    g_assert_cmpuint (cf_counters_get (cf_state_get_counters (state), events[i]), ==, i + 1);
  g_assert_cmpuint (cf_counters_get_since_start (cf_state_get_counters (state),
                                                 CF_COUNTER_COMPLETED), ==, 1 + 6);
  g_assert_cmpuint (cf_counters_get_since_start (cf_state_get_counters (state), CF_COUNTER_FAILED),
                    ==, 2 + 7);

  /* Other events: counted, no "changed" signal, not persisted. */
  g_signal_connect (state, "changed", G_CALLBACK (count_changes), &flags);
  cf_counters_count (cf_state_get_counters (state), CF_EVENT_SWAP_FAILED);
  cf_counters_count (cf_state_get_counters (state), CF_EVENT_SWAP_FAILED);
  cf_counters_count (cf_state_get_counters (state), CF_EVENT_NOTIFY_TELEGRAM_FAILED);
  g_assert_cmpuint (flags, ==, 0);
  g_assert_cmpuint (cf_counters_get (cf_state_get_counters (state), CF_EVENT_SWAP_FAILED), ==, 2);
  g_assert_cmpuint (cf_counters_get (cf_state_get_counters (state),
                                     CF_EVENT_NOTIFY_TELEGRAM_FAILED), ==, 1);
  g_assert_cmpuint (cf_counters_get (cf_state_get_counters (state), CF_EVENT_SWAP_SUCCEEDED), ==,
                    0);
  g_assert_true (cf_state_store_save_sync (state_store, NULL));
  g_assert_true (cf_state_store_load (reread_store, NULL, NULL));
  g_assert_cmpuint (cf_counters_get (cf_state_get_counters (reread), CF_EVENT_SWAP_FAILED), ==, 0);
}

static void
count_signal (guint *n)
{
  (*n)++;
}

static gboolean
write_failed (gpointer state_store, gconstpointer data)
{
  return cf_state_store_get_write_error (state_store) != NULL;
}

static gboolean
written_cleanly (gpointer state_store, gconstpointer data)
{
  return cf_state_store_get_write_error (state_store) == NULL &&
         !cf_state_store_is_dirty (state_store);
}

static void
test_write_error_reported (Fixture *f, gconstpointer data)
{
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfStateStore) state_store = cf_state_store_new (state, f->path);
  g_autofree char *dir = g_path_get_dirname (f->path);
  guint signals = 0;

  g_signal_connect_swapped (state_store, "write-error-changed", G_CALLBACK (count_signal),
                            &signals);
  g_assert_null (cf_state_store_get_write_error (state_store));
  /* The state directory is a regular file: every write fails. */
  cf_test_write_file (dir, "not a directory");
  cf_state_store_enable_autosave (state_store, 10, 50);
  cf_state_set_dispatch_pause (state, TRUE,
                               cf_state_get_dispatch_pause (state).all_exhausted_until);
  g_assert_true (cf_test_run_until (state_store, write_failed, NULL, 5000));
  g_assert_nonnull (cf_state_store_get_write_error (state_store));
  g_assert_nonnull (strstr (cf_state_store_get_write_error (state_store), dir));
  g_assert_cmpuint (signals, ==, 1);
  g_assert_cmpuint (warnings->len, >, 0);
  g_ptr_array_set_size (warnings, 0);

  /* Once the directory is back, the periodic flush writes and clears it. */
  g_assert_cmpint (g_unlink (dir), ==, 0);
  g_assert_true (cf_test_run_until (state_store, written_cleanly, NULL, 5000));
  g_assert_null (cf_state_store_get_write_error (state_store));
  g_assert_cmpuint (signals, ==, 2);
  g_assert_true (g_file_test (f->path, G_FILE_TEST_IS_REGULAR));
  g_ptr_array_set_size (warnings, 0);
}

/* A file written before usage was tracked reads as "nothing known"; a
 * usage of the wrong shape is refused like any other bad member. */
static void
test_usage_from_older_files (void)
{
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfState) bad = cf_state_new ();
  g_autoptr(GError) error = NULL;
  const char *old = "{\"version\": 1, \"active_account\": \"main\", \"accounts\": "
                    "[{\"name\": \"main\", \"exhausted_until\": 0}], \"sessions\": [], "
                    "\"last_swap\": {\"when\": 5, \"from\": \"a\", \"to\": \"b\"}}";
  CfAccountState *account;

  g_assert_true (cf_state_from_json (state, old, -1, &error));
  g_assert_no_error (error);
  account = cf_state_lookup_account (state, "main");
  g_assert_nonnull (account);
  g_assert_cmpfloat (account->usage.windows[CF_USAGE_FIVE_HOUR].used, ==, -1);
  g_assert_cmpfloat (account->usage.windows[CF_USAGE_SEVEN_DAY].used, ==, -1);
  g_assert_cmpstr (cf_state_get_swap_journal (state)->last_reason, ==, "");

  g_assert_false (cf_state_from_json (bad, "{\"version\": 1, \"accounts\": [{\"name\": \"main\", "
                                      "\"usage\": {\"five_hour\": {\"used\": \"high\"}}}]}",
                                      -1, &error));
  g_assert_nonnull (error);
}

/* ARCHITECTURE.md 4.3 and 4.9: the names on the bus, in the state file,
 * and which states hold a task (switch, janitor, metrics). */
static void
test_session_state_names (void)
{
  static const struct {
    CfSessionState state;
    const char *name;
    gboolean holds_task;
  } rows[] = {
    { CF_SESSION_IDLE, "idle", FALSE },
    { CF_SESSION_LAUNCHING, "launching", FALSE },
    { CF_SESSION_WORKING, "working", TRUE },
    { CF_SESSION_STALLED, "stalled", TRUE },
    { CF_SESSION_FAILED, "failed", FALSE },
    { CF_SESSION_DEAD, "dead", FALSE },
    { CF_SESSION_BLOCKED, "blocked", TRUE },
    { CF_SESSION_NEEDS_INPUT, "needs-input", TRUE },
  };
  CfSessionState parsed;

  g_assert_cmpuint (G_N_ELEMENTS (rows), ==, CF_SESSION_STATE_LAST + 1);
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_assert_cmpstr (cf_session_state_to_string (rows[i].state), ==, rows[i].name);
      g_assert_true (cf_session_state_from_string (rows[i].name, &parsed));
      g_assert_cmpint (parsed, ==, rows[i].state);
      g_assert_cmpint (cf_session_state_holds_task (rows[i].state), ==, rows[i].holds_task);
    }
  g_assert_false (cf_session_state_from_string ("needs_input", &parsed));
  g_assert_false (cf_session_state_from_string ("Blocked", &parsed));
}

/* A blocked session with its task survives a restart as it was. */
static void
test_blocked_round_trip (void)
{
  g_autoptr(CfState) a = cf_state_new ();
  g_autoptr(CfState) b = cf_state_new ();
  g_autofree char *json = NULL;
  g_autoptr(GError) error = NULL;
  CfSession *s;

  cf_state_ensure_session (a, "ccl-auto-0", CF_SESSION_POOL);
  cf_state_set_session_work (a, "ccl-auto-0", "/p", "t1");
  cf_state_set_session_state (a, "ccl-auto-0", CF_SESSION_BLOCKED);
  cf_state_ensure_session (a, "ccl-auto-1", CF_SESSION_POOL);
  cf_state_set_session_work (a, "ccl-auto-1", "/p", "t2");
  cf_state_set_session_state (a, "ccl-auto-1", CF_SESSION_NEEDS_INPUT);
  json = cf_state_to_json (a);
  g_assert_true (cf_state_from_json (b, json, -1, &error));
  g_assert_no_error (error);
  s = cf_state_lookup_session (b, "ccl-auto-0");
  g_assert_cmpint (s->state, ==, CF_SESSION_BLOCKED);
  g_assert_true (cf_state_find_session_by_task (b, "/p", "t1") == s);
  g_assert_cmpint (cf_state_lookup_session (b, "ccl-auto-1")->state, ==, CF_SESSION_NEEDS_INPUT);
  g_assert_true (cf_state_find_session_by_task (b, "/p", "t2") == cf_state_lookup_session (b, "ccl-auto-1"));
}

int
main (int argc, char **argv)
{
  warnings = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (cf_test_record_warnings, warnings, NULL);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/state/round-trip", Fixture, NULL, fixture_setup, test_round_trip, fixture_teardown);
  g_test_add ("/state/flush-async", Fixture, NULL, fixture_setup, test_flush_async, fixture_teardown);
  g_test_add ("/state/flush-from-changed-handler", Fixture, NULL, fixture_setup,
              test_flush_from_changed_handler, fixture_teardown);
  g_test_add ("/state/task-totals-in-registry", Fixture, NULL, fixture_setup,
              test_task_totals_in_registry, fixture_teardown);
  g_test_add ("/state/flush-async-failure", Fixture, NULL, fixture_setup, test_flush_async_failure,
              fixture_teardown);
  g_test_add_func ("/state/dispatch-paused-sources", test_dispatch_paused_sources);
  g_test_add_func ("/state/usage-from-older-files", test_usage_from_older_files);
  g_test_add_func ("/state/session-state-names", test_session_state_names);
  g_test_add_func ("/state/blocked-round-trip", test_blocked_round_trip);
  g_test_add ("/state/missing-file", Fixture, NULL, fixture_setup, test_missing_file, fixture_teardown);
  g_test_add ("/state/corrupt-quarantined", Fixture, NULL, fixture_setup, test_corrupt_quarantined,
              fixture_teardown);
  g_test_add ("/state/deep-nesting-quarantined", Fixture, NULL, fixture_setup,
              test_deep_nesting_quarantined, fixture_teardown);
  g_test_add ("/state/not-read-quarantined", Fixture, NULL, fixture_setup,
              test_not_read_quarantined, fixture_teardown);
  g_test_add ("/state/corrupt-copies-kept", Fixture, NULL, fixture_setup, test_corrupt_copies_kept,
              fixture_teardown);
  g_test_add ("/state/change-signals", Fixture, NULL, fixture_setup, test_change_signals,
              fixture_teardown);
  g_test_add ("/state/grouped-setters", Fixture, NULL, fixture_setup, test_grouped_setters,
              fixture_teardown);
  g_test_add ("/state/accounts-sync", Fixture, NULL, fixture_setup, test_accounts_sync,
              fixture_teardown);
  g_test_add ("/state/autosave-debounced", Fixture, NULL, fixture_setup, test_autosave_debounced,
              fixture_teardown);
  g_test_add ("/state/events-counted", Fixture, NULL, fixture_setup, test_events_counted,
              fixture_teardown);
  g_test_add ("/state/write-error-reported", Fixture, NULL, fixture_setup,
              test_write_error_reported, fixture_teardown);
  return g_test_run ();
}
