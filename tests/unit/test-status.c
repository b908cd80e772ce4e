/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cf-build-config.h"
#include "cf-bus-variant.h"
#include "cf-config.h"
#include "cf-metrics.h"
#include "cf-status.h"
#include "cf-task-events.h"
#include "cf-test-util.h"

#define NOW ((gint64) 1760000000 * G_USEC_PER_SEC)

static CfConfig *
load_config (void)
{
  g_autoptr(GError) error = NULL;
  CfConfig *config = cf_config_load_data ("accounts:\n"
                                          "  - {name: main, home: /h/main}\n"
                                          "  - {name: backup, home: /h/backup}\n",
                                          -1, "test.yaml", "/h", &error);
  g_assert_no_error (error);
  return config;
}

static CfState *
populated_state (void)
{
  CfState *state = cf_state_new ();
  g_autoptr(CfTaskEvents) task_events = NULL;
  const char *accounts[] = { "main", "backup", NULL };

  cf_state_sync_accounts (state, accounts);
  cf_state_set_account_exhausted_until (state, "main", NOW + 60 * G_USEC_PER_SEC);
  cf_state_set_active_account (state, "backup");
  cf_state_ensure_session (state, "ccl-auto-0", CF_SESSION_POOL);
  cf_state_set_session_state (state, "ccl-auto-0", CF_SESSION_WORKING);
  cf_state_set_session_work (state, "ccl-auto-0", "/p/web", "fix-login");
  cf_state_set_session_text (state, "ccl-auto-0", CF_SESSION_TEXT_ACCOUNT, "backup");
  cf_state_ensure_session (state, "ccl-1-web", CF_SESSION_DEDICATED);
  cf_state_set_swap_journal (state, CF_SWAP_SET_STEP,
                             &(CfSwapJournal) { .step = CF_SWAP_RESUMING, .from = (char *) "main",
                                                .to = (char *) "backup" });
  cf_state_set_swap_journal (state, CF_SWAP_SET_LAST,
                             &(CfSwapJournal) { .last_when = NOW - 5, .last_from = (char *) "main",
                                                .last_to = (char *) "backup" });
  cf_state_set_swap_journal (state, CF_SWAP_SET_RETURN_AT,
                             &(CfSwapJournal) { .return_at = NOW + 3600 });
  cf_state_set_dispatch_pause (state, TRUE,
                               cf_state_get_dispatch_pause (state).all_exhausted_until);
  cf_state_set_daemon_facts (state, 7, cf_state_get_daemon_facts (state).claude_version);
  cf_state_set_daemon_facts (state, cf_state_get_daemon_facts (state).pending_tasks, "2.1.332");
  task_events = cf_task_events_new (cf_state_get_counters (state));
  cf_task_events_dispatched (task_events, "/p/web", "fix-login", "ccl-auto-0", "sonnet",
                             "backup");
  cf_task_events_finished (task_events, "/p/web", "old", "ccl-auto-0", "failed");
  return state;
}

/* Printed VALUE, kept until the next call (for one-line assertions). */
static const char *
print_variant (GVariant *value)
{
  static char *text;

  g_free (text);
  text = g_variant_print (value, FALSE);
  return text;
}

static void
test_snapshot_values (void)
{
  g_autoptr(CfConfig) config = load_config ();
  g_autoptr(CfState) state = populated_state ();
  g_autoptr(GVariant) snapshot = cf_status_snapshot (state, config, NOW);
  g_autoptr(GVariant) accounts = NULL;
  g_autoptr(GVariant) sessions = NULL;
  g_autoptr(GVariant) last = NULL;
  const char *text = NULL;
  guint64 t = 0;
  guint32 u = 0;
  gboolean b = FALSE;
  guint n;
  const CfStatusProperty *properties = cf_status_properties (&n);

  g_assert_false (g_variant_is_floating (snapshot));
  g_assert_cmpuint (g_variant_n_children (snapshot), ==, n);
  g_assert_cmpuint (n, ==, 18);
  /* Every entry has the table's type, in the table's order. */
  for (guint i = 0; i < n; i++)
    {
      const char *key;
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GVariant) single = cf_status_get_property (state, config, properties[i].name, NOW);

      g_variant_get_child (snapshot, i, "{&sv}", &key, &value);
      g_assert_cmpstr (key, ==, properties[i].name);
      g_assert_cmpstr (g_variant_get_type_string (value), ==, properties[i].signature);
      g_assert_true (g_variant_equal (value, single));
      g_assert_false (g_variant_is_floating (single));
    }
  g_assert_null (cf_status_get_property (state, config, "NoSuchProperty", NOW));

  g_assert_true (g_variant_lookup (snapshot, "Version", "&s", &text));
  g_assert_cmpstr (text, ==, PACKAGE_VERSION);
  g_assert_true (g_variant_lookup (snapshot, "ActiveAccount", "&s", &text));
  g_assert_cmpstr (text, ==, "backup");
  accounts = g_variant_lookup_value (snapshot, "Accounts", G_VARIANT_TYPE ("a(ssbt)"));
  g_assert_cmpstr (print_variant (accounts), ==,
                   "[('main', '/h/main', false, 1760000060000000), ('backup', '/h/backup', true, 0)]");
  g_assert_true (g_variant_lookup (snapshot, "SwapState", "&s", &text));
  g_assert_cmpstr (text, ==, "resuming");
  g_assert_true (g_variant_lookup (snapshot, "PartialSwap", "b", &b));
  g_assert_false (b);
  last = g_variant_lookup_value (snapshot, "LastSwap", G_VARIANT_TYPE ("(tss)"));
  g_assert_cmpstr (print_variant (last), ==, "(1759999999999995, 'main', 'backup')");
  g_assert_true (g_variant_lookup (snapshot, "ReturnAt", "t", &t));
  g_assert_cmpuint (t, ==, NOW + 3600);
  g_assert_true (g_variant_lookup (snapshot, "DispatchPaused", "b", &b));
  g_assert_true (b);
  sessions = g_variant_lookup_value (snapshot, "Sessions", G_VARIANT_TYPE ("a(sssssst)"));
  g_assert_cmpuint (g_variant_n_children (sessions), ==, 2);
  {
    const char *name, *kind, *st, *project, *task, *account;
    guint64 since;

    g_variant_get_child (sessions, 1, "(&s&s&s&s&s&st)", &name, &kind, &st, &project, &task,
                         &account, &since);
    g_assert_cmpstr (name, ==, "ccl-auto-0");
    g_assert_cmpstr (kind, ==, "pool");
    g_assert_cmpstr (st, ==, "working");
    g_assert_cmpstr (project, ==, "/p/web");
    g_assert_cmpstr (task, ==, "fix-login");
    g_assert_cmpstr (account, ==, "backup");
    g_assert_cmpuint (since, >, 0);
  }
  g_assert_true (g_variant_lookup (snapshot, "PendingTasks", "u", &u));
  g_assert_cmpuint (u, ==, 7);
  g_assert_true (g_variant_lookup (snapshot, "TasksDispatched", "t", &t));
  g_assert_cmpuint (t, ==, 1);
  g_assert_true (g_variant_lookup (snapshot, "TasksFailed", "t", &t));
  g_assert_cmpuint (t, ==, 1);
  g_assert_true (g_variant_lookup (snapshot, "TasksCompleted", "t", &t));
  g_assert_cmpuint (t, ==, 0);
  g_assert_true (g_variant_lookup (snapshot, "ClaudeVersion", "&s", &text));
  g_assert_cmpstr (text, ==, "2.1.332");

  /* Availability is judged at NOW: later, main is available again. */
  g_clear_pointer (&accounts, g_variant_unref);
  accounts = cf_status_get_property (state, config, "Accounts", NOW + 61 * G_USEC_PER_SEC);
  g_assert_cmpstr (print_variant (accounts), ==,
                   "[('main', '/h/main', true, 1760000060000000), ('backup', '/h/backup', true, 0)]");
}

static void
test_snapshot_json (void)
{
  g_autoptr(CfConfig) config = load_config ();
  g_autoptr(CfState) state = populated_state ();
  g_autoptr(GVariant) snapshot = cf_status_snapshot (state, config, NOW);
  g_autoptr(JsonNode) node = cf_status_snapshot_to_json (snapshot);
  JsonObject *object;
  JsonArray *array;
  guint n;
  const CfStatusProperty *properties = cf_status_properties (&n);

  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  object = json_node_get_object (node);
  g_assert_cmpuint (json_object_get_size (object), ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_true (json_object_has_member (object, properties[i].name));
  g_assert_cmpstr (json_object_get_string_member (object, "ActiveAccount"), ==, "backup");
  g_assert_false (json_object_get_boolean_member (object, "PartialSwap"));
  g_assert_true (json_object_get_boolean_member (object, "DispatchPaused"));
  g_assert_cmpint (json_object_get_int_member (object, "PendingTasks"), ==, 7);
  g_assert_cmpint (json_object_get_int_member (object, "ReturnAt"), ==, NOW + 3600);
  /* structs as arrays, in D-Bus field order */
  array = json_array_get_array_element (json_object_get_array_member (object, "Accounts"), 0);
  g_assert_cmpuint (json_array_get_length (array), ==, 4);
  g_assert_cmpstr (json_array_get_string_element (array, 0), ==, "main");
  g_assert_cmpstr (json_array_get_string_element (array, 1), ==, "/h/main");
  g_assert_false (json_array_get_boolean_element (array, 2));
  g_assert_cmpint (json_array_get_int_element (array, 3), ==, NOW + 60 * G_USEC_PER_SEC);
  array = json_object_get_array_member (object, "LastSwap");
  g_assert_cmpint (json_array_get_int_element (array, 0), ==, NOW - 5);
  g_assert_cmpstr (json_array_get_string_element (array, 2), ==, "backup");
  array = json_object_get_array_member (object, "Sessions");
  g_assert_cmpuint (json_array_get_length (array), ==, 2);
  g_assert_cmpuint (json_array_get_length (json_array_get_array_element (array, 0)), ==, 7);
}

/* sd-bus needs a started bus to create messages; a socket pair is one. */
static sd_bus *
offline_bus (void)
{
  sd_bus *bus = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  g_assert_cmpint (sd_bus_new (&bus), >=, 0);
  g_assert_cmpint (sd_bus_set_fd (bus, fds[0], fds[0]), >=, 0);
  g_assert_cmpint (sd_bus_start (bus), >=, 0);
  close (fds[1]);
  return bus;
}

static char *
dump_message (sd_bus_message *message)
{
  char *text = NULL;
  size_t size = 0;
  FILE *f = open_memstream (&text, &size);

  g_assert_nonnull (f);
  g_assert_cmpint (sd_bus_message_seal (message, 1, 0), >=, 0);
  g_assert_cmpint (sd_bus_message_dump (message, f, 0), >=, 0);
  fclose (f);
  return text;
}

static void
test_variant_to_bus_message (void)
{
  g_autoptr(CfConfig) config = load_config ();
  g_autoptr(CfState) state = populated_state ();
  g_autoptr(GVariant) snapshot = cf_status_snapshot (state, config, NOW);
  g_autoptr(GVariant) mixed = g_variant_ref_sink (
      g_variant_new_parsed ("(byte 7, int16 -2, uint16 3, -4, uint32 5, int64 -6, uint64 7, 1.5,"
                            " objectpath '/a/b', signature 'a{sv}', <[true, false]>, @as [],"
                            " {'k': <(1, 'v')>})"));
  sd_bus *bus = offline_bus ();
  sd_bus_message *ours = NULL, *reference = NULL;
  g_autofree char *dump_ours = NULL, *dump_reference = NULL;

  /* The snapshot, appended from GVariant and by sd-bus's own format
   * functions from the same numbers, dumps identically. */
  g_assert_cmpint (sd_bus_message_new_signal (bus, &ours, "/x", "x.y", "Z"), >=, 0);
  g_assert_cmpint (sd_bus_message_new_signal (bus, &reference, "/x", "x.y", "Z"), >=, 0);
  g_assert_cmpint (cf_bus_message_append_variant (ours, snapshot), >=, 0);
  g_assert_cmpint (cf_bus_message_append_variant (ours, mixed), >=, 0);
  {
    g_autoptr(GVariantIter) iter = g_variant_iter_new (snapshot);
    const char *key;
    GVariant *value;

    g_assert_cmpint (sd_bus_message_open_container (reference, 'a', "{sv}"), >=, 0);
    while (g_variant_iter_next (iter, "{&sv}", &key, &value))
      {
        const char *type = g_variant_get_type_string (value);

        g_assert_cmpint (sd_bus_message_open_container (reference, 'e', "sv"), >=, 0);
        g_assert_cmpint (sd_bus_message_append (reference, "s", key), >=, 0);
        if (g_str_equal (type, "s"))
          g_assert_cmpint (sd_bus_message_append (reference, "v", "s",
                                                  g_variant_get_string (value, NULL)), >=, 0);
        else if (g_str_equal (type, "b"))
          g_assert_cmpint (sd_bus_message_append (reference, "v", "b",
                                                  (int) g_variant_get_boolean (value)), >=, 0);
        else if (g_str_equal (type, "t"))
          g_assert_cmpint (sd_bus_message_append (reference, "v", "t",
                                                  (uint64_t) g_variant_get_uint64 (value)), >=, 0);
        else if (g_str_equal (type, "u"))
          g_assert_cmpint (sd_bus_message_append (reference, "v", "u",
                                                  (uint32_t) g_variant_get_uint32 (value)), >=, 0);
        else if (g_str_equal (type, "(tss)"))
          g_assert_cmpint (sd_bus_message_append (reference, "v", "(tss)",
                                                  (uint64_t) (NOW - 5), "main", "backup"), >=, 0);
        else if (g_str_equal (type, "a(ssbt)"))
          g_assert_cmpint (sd_bus_message_append (reference, "v", "a(ssbt)", 2,
                                                  "main", "/h/main", 0,
                                                  (uint64_t) (NOW + 60 * G_USEC_PER_SEC),
                                                  "backup", "/h/backup", 1, (uint64_t) 0), >=, 0);
        else if (g_str_equal (type, "a(sssssst)"))
          {
            guint64 since0, since1;

            g_variant_get_child (value, 0, "(&s&s&s&s&s&st)", NULL, NULL, NULL, NULL, NULL,
                                 NULL, &since0);
            g_variant_get_child (value, 1, "(&s&s&s&s&s&st)", NULL, NULL, NULL, NULL, NULL,
                                 NULL, &since1);
            g_assert_cmpint (sd_bus_message_append (reference, "v", "a(sssssst)", 2,
                                                    "ccl-1-web", "dedicated", "dead", "", "", "",
                                                    (uint64_t) since0,
                                                    "ccl-auto-0", "pool", "working", "/p/web",
                                                    "fix-login", "backup", (uint64_t) since1),
                             >=, 0);
          }
        else if (g_str_equal (type, "a(sdtdtst)"))
          g_assert_cmpint (sd_bus_message_append (reference, "v", "a(sdtdtst)", 2,
                                                  "main", -1.0, (uint64_t) 0, -1.0, (uint64_t) 0,
                                                  "", (uint64_t) 0,
                                                  "backup", -1.0, (uint64_t) 0, -1.0,
                                                  (uint64_t) 0, "", (uint64_t) 0), >=, 0);
        else
          g_assert_not_reached ();
        g_assert_cmpint (sd_bus_message_close_container (reference), >=, 0);
        g_variant_unref (value);
      }
    g_assert_cmpint (sd_bus_message_close_container (reference), >=, 0);
  }
  g_assert_cmpint (sd_bus_message_append (reference, "(ynqiuxtdogvasa{sv})", 7, -2, 3, -4, 5,
                                          (int64_t) -6, (uint64_t) 7, 1.5, "/a/b", "a{sv}",
                                          "ab", 2, 1, 0, 0, 1, "k", "(is)", 1, "v"), >=, 0);

  dump_ours = dump_message (ours);
  dump_reference = dump_message (reference);
  g_assert_cmpstr (dump_ours, ==, dump_reference);
  g_assert_nonnull (strstr (dump_ours, "fix-login"));

  /* What D-Bus cannot carry is refused, not mangled. */
  {
    g_autoptr(GVariant) maybe = g_variant_ref_sink (g_variant_new_parsed ("@ms 'x'"));
    sd_bus_message *m = NULL;

    g_assert_cmpint (sd_bus_message_new_signal (bus, &m, "/x", "x.y", "Z"), >=, 0);
    g_assert_cmpint (cf_bus_message_append_variant (m, maybe), ==, -EINVAL);
    sd_bus_message_unref (m);
  }

  sd_bus_message_unref (ours);
  sd_bus_message_unref (reference);
  sd_bus_flush_close_unref (bus);
}

/* A snapshot stays true until the first exhaustion after it ends (or the
 * state changes): taken anywhere in [now, until) it is the same, and at
 * until it is not. */
static void
test_valid_until (void)
{
  g_autoptr(CfConfig) config = load_config ();
  g_autoptr(CfState) state = populated_state ();   /* main exhausted until NOW + 60 s */
  const struct {
    gint64 now;
    gint64 until;
  } cases[] = {
    { NOW - (gint64) 3600 * G_USEC_PER_SEC, NOW + 10 * G_USEC_PER_SEC },
    { NOW, NOW + 10 * G_USEC_PER_SEC },
    { NOW + 10 * G_USEC_PER_SEC, NOW + 60 * G_USEC_PER_SEC },
    { NOW + 59 * G_USEC_PER_SEC, NOW + 60 * G_USEC_PER_SEC },
    { NOW + 60 * G_USEC_PER_SEC, G_MAXINT64 },
    { NOW + (gint64) 86400 * G_USEC_PER_SEC, G_MAXINT64 },
  };

  cf_state_set_account_exhausted_until (state, "backup", NOW + 10 * G_USEC_PER_SEC);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GVariant) at_now = cf_status_snapshot (state, config, cases[i].now);
      gint64 until = cf_status_valid_until (state, cases[i].now);

      g_assert_cmpint (until, ==, cases[i].until);
      if (until != G_MAXINT64)
        {
          g_autoptr(GVariant) before = cf_status_snapshot (state, config, until - 1);
          g_autoptr(GVariant) at_until = cf_status_snapshot (state, config, until);

          g_assert_true (g_variant_equal (at_now, before));
          g_assert_false (g_variant_equal (at_now, at_until));
        }
    }
}

static void
count_usage_change (guint *changes, guint what)
{
  if (what & CF_STATE_CHANGE_USAGE)
    (*changes)++;
}

/* Usage shows each account's windows as they stand at NOW: a window past
 * its reset is unknown (-1, 0) again, and the snapshot says so from then on. */
static void
test_usage (void)
{
  g_autoptr(CfConfig) config = load_config ();
  g_autoptr(CfState) state = populated_state ();
  g_autoptr(GVariant) usage = NULL;
  gint64 reset_5h = NOW + 30 * G_USEC_PER_SEC;
  gint64 reset_7d = NOW + (gint64) 86400 * G_USEC_PER_SEC;

  usage = cf_status_get_property (state, config, "Usage", NOW);
  g_assert_cmpstr (print_variant (usage), ==,
                   "[('main', -1.0, 0, -1.0, 0, '', 0), ('backup', -1.0, 0, -1.0, 0, '', 0)]");
  cf_state_record_account_usage (state, "backup", CF_USAGE_FIVE_HOUR, 92.5, reset_5h,
                                 CF_USAGE_SOURCE_STATUSLINE, NOW - 10);
  cf_state_record_account_usage (state, "backup", CF_USAGE_SEVEN_DAY, 40, reset_7d,
                                 CF_USAGE_SOURCE_STATUSLINE, NOW - 10);
  cf_state_set_account_problem (state, "main", "authentication_failed");
  g_clear_pointer (&usage, g_variant_unref);
  usage = cf_status_get_property (state, config, "Usage", NOW);
  g_assert_cmpstr (print_variant (usage), ==,
                   "[('main', -1.0, 0, -1.0, 0, 'authentication_failed', 0), "
                   "('backup', 92.5, 1760000030000000, 40.0, 1760086400000000, '', 1759999999999990)]");
  /* main's exhaustion ends at +60 s, backup's 5-hour window resets at +30 s. */
  g_assert_cmpint (cf_status_valid_until (state, NOW), ==, reset_5h);
  g_clear_pointer (&usage, g_variant_unref);
  usage = cf_status_get_property (state, config, "Usage", reset_5h);
  g_assert_cmpstr (print_variant (usage), ==,
                   "[('main', -1.0, 0, -1.0, 0, 'authentication_failed', 0), "
                   "('backup', -1.0, 0, 40.0, 1760086400000000, '', 1759999999999990)]");

  /* Expiring at the reset stores what the property already showed, says
   * so, and names the next reset for the timer. */
  {
    guint changes = 0;
    gulong id = g_signal_connect_swapped (state, "changed", G_CALLBACK (count_usage_change),
                                          &changes);

    g_assert_cmpint (cf_state_expire_usage (state, reset_5h - 1), ==, reset_5h);
    g_assert_cmpuint (changes, ==, 0);
    g_assert_cmpint (cf_state_expire_usage (state, reset_5h), ==, reset_7d);
    g_assert_cmpuint (changes, ==, 1);
    g_assert_cmpint (cf_state_lookup_account (state, "backup")->usage.windows[CF_USAGE_FIVE_HOUR].resets_at,
                     ==, 0);
    g_assert_cmpint (cf_state_expire_usage (state, reset_5h + 1), ==, reset_7d);
    g_assert_cmpuint (changes, ==, 1);
    g_signal_handler_disconnect (state, id);
  }
}

/* /metrics renders the same numbers, per account and window. */
static void
test_usage_metrics (void)
{
  g_autoptr(CfState) state = populated_state ();
  g_autoptr(GString) out = g_string_new (NULL);
  CfMetricsContext context = { .loop_lag_usec = -1 };

  cf_state_record_account_usage (state, "backup", CF_USAGE_FIVE_HOUR, 92.5,
                                 NOW + 30 * G_USEC_PER_SEC, CF_USAGE_SOURCE_STATUSLINE, NOW - 10);
  cf_metrics_render (out, state, &context, NOW);
  g_assert_nonnull (strstr (out->str, "# TYPE claude_failover_account_usage_percent gauge\n"));
  g_assert_nonnull (strstr (out->str,
    "claude_failover_account_usage_percent{account=\"backup\",window=\"five_hour\"} 92.5\n"));
  g_assert_nonnull (strstr (out->str,
    "claude_failover_account_usage_percent{account=\"backup\",window=\"seven_day\"} -1\n"));
  g_assert_nonnull (strstr (out->str,
    "claude_failover_account_usage_percent{account=\"main\",window=\"five_hour\"} -1\n"));
  g_assert_nonnull (strstr (out->str,
    "claude_failover_account_usage_resets_at_seconds{account=\"backup\",window=\"five_hour\"} 1760000030\n"));
  g_assert_nonnull (strstr (out->str,
    "claude_failover_account_usage_updated_seconds{account=\"main\"} 0\n"));

  /* Past the reset: unknown again. */
  g_string_truncate (out, 0);
  cf_metrics_render (out, state, &context, NOW + 30 * G_USEC_PER_SEC);
  g_assert_nonnull (strstr (out->str,
    "claude_failover_account_usage_percent{account=\"backup\",window=\"five_hour\"} -1\n"));
}

static void
count_change (CfState *state, guint what, guint *count)
{
  (*count)++;
}

/* GetStatus reuses its snapshot until the state says "changed": so every
 * change a snapshot shows must say so. Each step below changes the state
 * through its API; whenever the snapshot differs afterwards, "changed" must
 * have been emitted. */
static void
test_every_visible_change_is_signalled (void)
{
  g_autoptr(CfConfig) config = load_config ();
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfTaskEvents) task_events = cf_task_events_new (cf_state_get_counters (state));
  const char *accounts[] = { "main", "backup", NULL };
  const char *one_account[] = { "main", NULL };
  g_autoptr(GVariant) last = NULL;
  guint changes = 0;

  g_signal_connect (state, "changed", G_CALLBACK (count_change), &changes);
  last = cf_status_snapshot (state, config, NOW);
  for (guint step = 0;; step++)
    {
      g_autoptr(GVariant) now = NULL;
      guint before = changes;

      switch (step)
        {
        case 0: cf_state_sync_accounts (state, accounts); break;
        case 1: cf_state_set_active_account (state, "backup"); break;
        case 2: cf_state_set_account_exhausted_until (state, "main", NOW + 60); break;
        case 3: cf_state_ensure_session (state, "ccl-auto-0", CF_SESSION_POOL); break;
        case 4: cf_state_set_session_state (state, "ccl-auto-0", CF_SESSION_LAUNCHING); break;
        case 5: cf_state_set_session_work (state, "ccl-auto-0", "/p/web", "t1"); break;
        case 6: cf_state_set_session_text (state, "ccl-auto-0", CF_SESSION_TEXT_ACCOUNT,
                                           "backup"); break;
        case 7: cf_task_events_dispatched (task_events, "/p/web", "t1", "ccl-auto-0", "sonnet",
                                           "backup"); break;
        case 8: cf_task_events_finished (task_events, "/p/web", "t1", "ccl-auto-0", "done"); break;
        case 9: cf_task_events_finished (task_events, "/p/web", "t2", "ccl-auto-0",
                                         "failed"); break;
        case 10: cf_counters_increment (cf_state_get_counters (state), CF_COUNTER_DELEGATED); break;
        case 11: cf_state_set_swap_journal (state, CF_SWAP_SET_STEP,
                                            &(CfSwapJournal) { .step = CF_SWAP_SAVING,
                                                               .from = (char *) "main",
                                                               .to = (char *) "backup" }); break;
        case 12: cf_state_set_swap_journal (state, CF_SWAP_SET_STEP,
                                            &(CfSwapJournal) { .step = CF_SWAP_FALLBACK,
                                                               .from = (char *) "main",
                                                               .to = (char *) "backup" }); break;
        case 13: cf_state_set_swap_journal (state, CF_SWAP_SET_PARTIAL,
                                            &(CfSwapJournal) { .partial = TRUE }); break;
        case 14: cf_state_set_swap_journal (state, CF_SWAP_SET_LAST,
                                            &(CfSwapJournal) { .last_when = NOW - 5,
                                                               .last_from = (char *) "main",
                                                               .last_to = (char *) "backup" }); break;
        case 15: cf_state_set_swap_journal (state, CF_SWAP_SET_RETURN_AT,
                                            &(CfSwapJournal) { .return_at = NOW + 3600 }); break;
        case 16: cf_state_set_dispatch_pause (state, TRUE,
                                              cf_state_get_dispatch_pause (state).all_exhausted_until); break;
        case 17: cf_state_set_dispatch_pause (state,
                                              cf_state_get_dispatch_pause (state).operator_paused,
                                              NOW + 7); break;
        case 18: cf_state_set_daemon_facts (state, 3,
                                            cf_state_get_daemon_facts (state).claude_version); break;
        case 19: cf_state_ensure_session (state, "ccl-auto-0", CF_SESSION_DEDICATED); break;
        case 20: cf_state_mark_session_failed (state, "ccl-auto-0", NOW); break;
        case 21: cf_state_remove_session (state, "ccl-auto-0"); break;
        case 22: cf_state_record_account_usage (state, "main", CF_USAGE_FIVE_HOUR, 50, NOW + 99,
                                                CF_USAGE_SOURCE_STATUSLINE, NOW); break;
        case 23: cf_state_set_account_problem (state, "main", "authentication_failed"); break;
        case 24: cf_state_sync_accounts (state, one_account); break;
        default: return;
        }
      now = cf_status_snapshot (state, config, NOW);
      if (!g_variant_equal (now, last))
        {
          if (changes == before)
            g_error ("step %u changed the snapshot without \"changed\": %s", step,
                     print_variant (now));
        }
      g_clear_pointer (&last, g_variant_unref);
      last = g_steal_pointer (&now);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/status/snapshot-values", test_snapshot_values);
  g_test_add_func ("/status/snapshot-json", test_snapshot_json);
  g_test_add_func ("/status/variant-to-bus-message", test_variant_to_bus_message);
  g_test_add_func ("/status/valid-until", test_valid_until);
  g_test_add_func ("/status/usage", test_usage);
  g_test_add_func ("/status/usage-metrics", test_usage_metrics);
  g_test_add_func ("/status/every-visible-change-is-signalled", test_every_visible_change_is_signalled);
  return g_test_run ();
}
