/* SPDX-License-Identifier: MIT */
#include <glib.h>
#include <string.h>

#include "cf-notifier-messages.h"
#include "cf-notifier-status.h"

#define SEC G_USEC_PER_SEC
#define MINUTE ((gint64) 60 * SEC)
#define HOUR ((gint64) 60 * MINUTE)

/* 2025-06-03 10:00:00 UTC = 15:45 in Asia/Kathmandu (+05:45), a Tuesday. */
#define NOW (G_GINT64_CONSTANT (1748944800) * SEC)

static GTimeZone *
kathmandu (void)
{
  GTimeZone *tz = g_time_zone_new_identifier ("Asia/Kathmandu");

  if (tz == NULL)
    tz = g_time_zone_new_offset (5 * 3600 + 45 * 60);
  return tz;
}

static GVariant *
accounts_variant (const char *spec)
{
  /* "name:available:until_seconds,…" */
  g_auto(GStrv) entries = g_strsplit (spec, ",", -1);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ssbt)"));
  for (guint i = 0; entries[i] && entries[i][0]; i++)
    {
      g_auto(GStrv) parts = g_strsplit (entries[i], ":", 3);
      guint64 until = g_ascii_strtoull (parts[2], NULL, 10);

      g_variant_builder_add (&builder, "(ssbt)", parts[0], "/home/x", g_str_equal (parts[1], "1"),
                             until == 0 ? (guint64) 0 : (guint64) (NOW + (gint64) until * SEC));
    }
  return g_variant_builder_end (&builder);
}

static CfNotifierStatus *
status_with (const char *accounts, const char *active, gboolean paused)
{
  CfNotifierStatus *status = cf_notifier_status_new ();

  g_assert_true (cf_notifier_status_update (status, "Accounts", accounts_variant (accounts)));
  g_assert_true (cf_notifier_status_update (status, "ActiveAccount", g_variant_new_string (active)));
  g_assert_true (cf_notifier_status_update (status, "DispatchPaused", g_variant_new_boolean (paused)));
  return status;
}

static void
test_status_update (void)
{
  g_autoptr(CfNotifierStatus) status = cf_notifier_status_new ();
  g_autoptr(GVariant) all = NULL;
  GVariantBuilder builder;
  const CfNotifierAccount *backup;

  g_assert_null (cf_notifier_status_primary (status));
  g_assert_cmpstr (status->active_account, ==, "");
  g_assert_false (cf_notifier_status_all_exhausted (status));

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "Accounts", accounts_variant ("main:0:3600,backup:1:0"));
  g_variant_builder_add (&builder, "{sv}", "ActiveAccount", g_variant_new_string ("backup"));
  g_variant_builder_add (&builder, "{sv}", "PartialSwap", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&builder, "{sv}", "ReturnAt", g_variant_new_uint64 (NOW + HOUR));
  g_variant_builder_add (&builder, "{sv}", "Sessions",
                         g_variant_new_array (G_VARIANT_TYPE ("(sssssst)"), NULL, 0));
  all = g_variant_ref_sink (g_variant_builder_end (&builder));
  cf_notifier_status_update_all (status, all);

  g_assert_cmpuint (status->accounts->len, ==, 2);
  g_assert_cmpstr (cf_notifier_status_primary (status), ==, "main");
  g_assert_cmpstr (status->active_account, ==, "backup");
  g_assert_true (status->partial_swap);
  g_assert_cmpint (status->return_at, ==, NOW + HOUR);
  backup = cf_notifier_status_find_account (status, "backup");
  g_assert_nonnull (backup);
  g_assert_true (backup->available);
  g_assert_cmpint (backup->exhausted_until, ==, 0);
  g_assert_cmpint (cf_notifier_status_find_account (status, "main")->exhausted_until, ==, NOW + HOUR);
  g_assert_null (cf_notifier_status_find_account (status, "nosuch"));
  g_assert_null (cf_notifier_status_find_account (status, NULL));

  /* Wrong types and unknown names change nothing. */
  g_assert_false (cf_notifier_status_update (status, "ActiveAccount", g_variant_new_uint32 (3)));
  g_assert_false (cf_notifier_status_update (status, "Accounts",
                                             g_variant_new_array (G_VARIANT_TYPE ("(sb)"), NULL, 0)));
  g_assert_false (cf_notifier_status_update (status, "PartialSwap", g_variant_new_string ("yes")));
  g_assert_false (cf_notifier_status_update (status, "Version", g_variant_new_string ("9")));
  g_assert_false (cf_notifier_status_update (status, NULL, g_variant_new_string ("x")));
  g_assert_false (cf_notifier_status_update (status, "ActiveAccount", NULL));
  cf_notifier_status_update_all (status, g_variant_new_string ("not a dict"));
  cf_notifier_status_update_all (status, NULL);
  g_assert_cmpstr (status->active_account, ==, "backup");
  g_assert_cmpuint (status->accounts->len, ==, 2);
  g_assert_true (status->partial_swap);
}

typedef struct {
  const char *accounts;
  gboolean paused;
  gboolean all_exhausted;
  gint64 earliest_seconds;     /* from NOW; -1 = none (0) */
} ExhaustedCase;

static const ExhaustedCase exhausted_cases[] = {
  { "main:0:3600,backup:0:600", TRUE, TRUE, 600 },
  { "main:0:3600,backup:0:600", FALSE, FALSE, 600 },      /* not paused (yet) */
  { "main:0:3600,backup:1:0", TRUE, FALSE, 3600 },        /* paused by an operator */
  { "main:0:0,backup:0:0", TRUE, TRUE, -1 },              /* reset times unknown */
  { "main:0:0,backup:0:900", TRUE, TRUE, 900 },
  { "solo:0:60", TRUE, TRUE, 60 },
  { "", TRUE, FALSE, -1 },                                /* Accounts not known */
};

static void
test_status_all_exhausted (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (exhausted_cases); i++)
    {
      const ExhaustedCase *c = &exhausted_cases[i];
      g_autoptr(CfNotifierStatus) status = status_with (c->accounts, "main", c->paused);

      g_test_message ("case %u: %s paused=%d", i, c->accounts, c->paused);
      g_assert_cmpint (cf_notifier_status_all_exhausted (status), ==, c->all_exhausted);
      g_assert_cmpint (cf_notifier_status_earliest_reset (status), ==,
                       c->earliest_seconds < 0 ? 0 : NOW + c->earliest_seconds * SEC);
    }
}

typedef struct {
  gint64 when;                 /* offset from NOW in µs; G_MININT64 = 0 (none) */
  const char *expected;        /* NULL = no text */
} TimeCase;

static const TimeCase time_cases[] = {
  { 30 * SEC, "15:45 (in less than a minute)" },
  { MINUTE, "15:46 (in 1 minute)" },
  { 59 * MINUTE + 59 * SEC, "16:44 (in 59 minutes)" },
  { HOUR, "16:45 (in 1 h 00 min)" },
  { 2 * HOUR + 5 * MINUTE, "17:50 (in 2 h 05 min)" },
  { 8 * HOUR, "23:45 (in 8 h 00 min)" },                /* still today at home */
  { 8 * HOUR + 15 * MINUTE, "Wed 4 Jun 00:00 (in 8 h 15 min)" },
  { 24 * HOUR, "Wed 4 Jun 15:45 (in 1 day)" },
  { 72 * HOUR + 5 * HOUR, "Fri 6 Jun 20:45 (in 3 days)" },
  { 0, "15:45" },
  { -2 * HOUR, "13:45" },                                /* past: no distance */
  { -16 * HOUR, "Mon 2 Jun 23:45" },
  { G_MININT64, NULL },
};

static void
test_format_time (void)
{
  g_autoptr(GTimeZone) tz = kathmandu ();
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autofree char *in_utc = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (time_cases); i++)
    {
      const TimeCase *c = &time_cases[i];
      g_autofree char *text = cf_notifier_format_time (c->when == G_MININT64 ? 0 : NOW + c->when,
                                                       NOW, tz);

      g_test_message ("case %u", i);
      g_assert_cmpstr (text, ==, c->expected);
    }
  /* The zone matters. */
  in_utc = cf_notifier_format_time (NOW + HOUR, NOW, utc);
  g_assert_cmpstr (in_utc, ==, "11:00 (in 1 h 00 min)");
  /* Beyond what GDateTime represents: no text rather than garbage. */
  g_assert_null (cf_notifier_format_time (G_MAXINT64, NOW, tz));
  g_assert_null (cf_notifier_format_time (-5, NOW, tz));
}

typedef struct {
  const char *text;
  guint max;
  const char *expected;
} OneLineCase;

static const OneLineCase one_line_cases[] = {
  { "plain", 10, "plain" },
  { "  two\n\nlines \t here  ", 50, "two lines here" },
  { "exactly10c", 10, "exactly10c" },
  { "exactly 11c", 10, "exactly 11…" },
  { "abcdefghijkl", 5, "abcde…" },
  { "word    word", 5, "word…" },
  { "ünïcödé text", 6, "ünïcöd…" },
  { "bad \xff\xfe bytes", 50, "bad \xef\xbf\xbd\xef\xbf\xbd bytes" },
  { "ctrl\x01\x1b[31mred", 50, "ctrl [31mred" },
  { "", 10, "" },
  { NULL, 10, "" },
};

static void
test_one_line (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (one_line_cases); i++)
    {
      const OneLineCase *c = &one_line_cases[i];
      g_autofree char *text = cf_notifier_one_line (c->text, c->max);

      g_test_message ("case %u", i);
      g_assert_cmpstr (text, ==, c->expected);
      g_assert_true (g_utf8_validate (text, -1, NULL));
    }
}

typedef struct {
  const char *reason;
  const char *body;
} ReasonCase;

static const ReasonCase reason_cases[] = {
  { "quota", "main reached its usage limit.\nmain resets at 16:45 (in 1 h 00 min)." },
  { "manual", "An operator asked for this switch.\nmain resets at 16:45 (in 1 h 00 min)." },
  { "return", "Returning to the primary account after its usage limit reset.\n"
              "main resets at 16:45 (in 1 h 00 min)." },
  { "reset", "A usage limit has reset, so dispatch resumes.\nmain resets at 16:45 (in 1 h 00 min)." },
  { "cosmic-ray", "Reason: cosmic-ray.\nmain resets at 16:45 (in 1 h 00 min)." },
};

static void
test_swap_started (void)
{
  g_autoptr(GTimeZone) tz = kathmandu ();
  g_autoptr(CfNotifierStatus) status = status_with ("main:0:3600,backup:1:0", "main", FALSE);
  g_autoptr(CfNotifierMessage) unknown = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (reason_cases); i++)
    {
      g_autoptr(CfNotifierMessage) message =
        cf_notifier_message_swap_started (status, "main", "backup", reason_cases[i].reason, NOW, tz);

      g_assert_cmpstr (message->kind, ==, CF_NOTIFIER_KIND_SWAP);
      g_assert_cmpstr (message->title, ==, "Switching Claude account from main to backup");
      g_assert_cmpstr (message->body, ==, reason_cases[i].body);
      g_assert_null (message->switch_back_to);
    }
  /* A source that is not exhausted (or unknown): no reset line. */
  unknown = cf_notifier_message_swap_started (status, "backup", "main", "manual", NOW, tz);
  g_assert_cmpstr (unknown->body, ==, "An operator asked for this switch.");
}

static void
test_swap_finished (void)
{
  g_autoptr(GTimeZone) tz = kathmandu ();
  g_autoptr(CfNotifierStatus) status = status_with ("main:0:3600,backup:1:0", "backup", FALSE);
  g_autoptr(CfNotifierMessage) away = NULL;
  g_autoptr(CfNotifierMessage) home = NULL;
  g_autoptr(CfNotifierMessage) failed = NULL;
  g_autoptr(CfNotifierStatus) unknown = cf_notifier_status_new ();
  g_autoptr(CfNotifierMessage) blind = NULL;

  cf_notifier_status_update (status, "ReturnAt", g_variant_new_uint64 (NOW + HOUR + SEC));
  away = cf_notifier_message_swap_finished (status, "main", "backup", TRUE,
                                            "switched from main to backup: 2 tasks requeued",
                                            NOW, tz);
  g_assert_cmpstr (away->kind, ==, CF_NOTIFIER_KIND_SWAP);
  g_assert_cmpstr (away->title, ==, "Now using Claude account backup");
  g_assert_cmpstr (away->body, ==,
                   "Switched from main to backup.\n"
                   "main resets at 16:45 (in 1 h 00 min).\n"
                   "Automatic return to main at 16:45 (in 1 h 00 min).\n"
                   "switched from main to backup: 2 tasks requeued");
  g_assert_cmpstr (away->switch_back_to, ==, "main");
  g_assert_cmpint (away->priority, ==, G_NOTIFICATION_PRIORITY_NORMAL);

  /* Back on the primary: no button, no return line. */
  cf_notifier_status_update (status, "ActiveAccount", g_variant_new_string ("main"));
  cf_notifier_status_update (status, "ReturnAt", g_variant_new_uint64 (0));
  home = cf_notifier_message_swap_finished (status, "backup", "main", TRUE, "", NOW, tz);
  g_assert_cmpstr (home->body, ==, "Switched from backup to main.");
  g_assert_null (home->switch_back_to);

  failed = cf_notifier_message_swap_finished (status, "main", "backup", FALSE,
                                              "switch from main to backup failed and was\n"
                                              "rolled back: <disk> & full", NOW, tz);
  g_assert_cmpstr (failed->title, ==, "Switching Claude account from main to backup failed");
  /* One line, and no markup for servers that parse it. */
  g_assert_cmpstr (failed->body, ==, "switch from main to backup failed and was rolled back: "
                   "\xe2\x80\xb9" "disk" "\xe2\x80\xba" " \xef\xbc\x86 full");
  g_assert_null (failed->switch_back_to);
  g_assert_cmpint (failed->priority, ==, G_NOTIFICATION_PRIORITY_URGENT);

  /* Properties not read yet: the signal alone decides, no primary known. */
  blind = cf_notifier_message_swap_finished (unknown, "a", "b", TRUE, "ok", NOW, tz);
  g_assert_cmpstr (blind->body, ==, "Switched from a to b.\nok");
  g_assert_null (blind->switch_back_to);
}

static void
test_quota_exhausted (void)
{
  g_autoptr(GTimeZone) tz = kathmandu ();
  const char *one[] = { "ccl-auto-0", NULL };
  const char *three[] = { "ccl-auto-0", "ccl-auto-1", "ccl-1-web", NULL };
  g_autofree char *long_evidence = g_strnfill (500, 'x');
  g_autoptr(CfNotifierMessage) single = NULL;
  g_autoptr(CfNotifierMessage) many = NULL;
  g_autoptr(CfNotifierMessage) none = NULL;

  single = cf_notifier_message_quota_exhausted ("main", one, NOW + 2 * HOUR + 5 * MINUTE,
                                               "ccl-auto-0 hit-limit: You've hit your limit",
                                               NOW, tz);
  g_assert_cmpstr (single->kind, ==, CF_NOTIFIER_KIND_QUOTA);
  g_assert_cmpstr (single->title, ==, "Claude account main reached its usage limit");
  g_assert_cmpstr (single->body, ==,
                   "1 session is blocked.\n"
                   "The limit resets at 17:50 (in 2 h 05 min).\n"
                   "Seen: ccl-auto-0 hit-limit: You've hit your limit");
  g_assert_cmpint (single->priority, ==, G_NOTIFICATION_PRIORITY_HIGH);

  many = cf_notifier_message_quota_exhausted ("main", three, 0, long_evidence, NOW, tz);
  g_assert_true (g_str_has_prefix (many->body, "3 sessions are blocked.\n"
                                               "The reset time is unknown.\nSeen: xxx"));
  g_assert_true (g_str_has_suffix (many->body, "x…"));
  g_assert_cmpint (g_utf8_strlen (many->body, -1), <, 300);

  none = cf_notifier_message_quota_exhausted ("main", NULL, 0, "", NOW, tz);
  g_assert_cmpstr (none->body, ==, "0 sessions are blocked.\nThe reset time is unknown.");
}

static void
test_conditions (void)
{
  g_autoptr(GTimeZone) tz = kathmandu ();
  g_autoptr(CfNotifierStatus) status = status_with ("main:0:3600,backup:0:600", "backup", TRUE);
  g_autoptr(CfNotifierStatus) unknown = status_with ("main:0:0,backup:0:0", "backup", TRUE);
  g_autoptr(CfNotifierMessage) exhausted = cf_notifier_message_all_exhausted (status, NOW, tz);
  g_autoptr(CfNotifierMessage) no_reset = cf_notifier_message_all_exhausted (unknown, NOW, tz);
  g_autoptr(CfNotifierMessage) partial = cf_notifier_message_partial_swap ();

  g_assert_cmpstr (exhausted->kind, ==, CF_NOTIFIER_KIND_ALL_EXHAUSTED);
  g_assert_cmpstr (exhausted->title, ==, "Every Claude account is exhausted");
  g_assert_cmpstr (exhausted->body, ==,
                   "Dispatch is paused until the earliest reset, at 15:55 (in 10 minutes).");
  g_assert_cmpint (exhausted->priority, ==, G_NOTIFICATION_PRIORITY_URGENT);
  g_assert_cmpstr (no_reset->body, ==, "Dispatch is paused until an account is available again.");

  g_assert_cmpstr (partial->kind, ==, CF_NOTIFIER_KIND_PARTIAL_SWAP);
  g_assert_nonnull (strstr (partial->body, "claude-failoverctl clear-partial-swap"));
  g_assert_cmpint (partial->priority, ==, G_NOTIFICATION_PRIORITY_URGENT);
}

/* A warning per window that reached warn_at, once per window and reset. */
static void
test_usage_warnings (void)
{
  g_autoptr(GTimeZone) tz = kathmandu ();
  g_autoptr(CfNotifierStatus) status = cf_notifier_status_new ();
  g_autoptr(GHashTable) warned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) first = NULL;
  g_autoptr(GPtrArray) again = NULL;
  g_autoptr(GPtrArray) next_window = NULL;
  g_autoptr(GPtrArray) off = NULL;
  g_autoptr(GHashTable) none = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  CfNotifierMessage *message;

  g_assert_true (cf_notifier_status_update (status, "Usage", g_variant_new_parsed (
    "[('main', 86.0, uint64 %t, 40.0, uint64 0, '', uint64 1), "
    " ('backup', 84.9, uint64 0, 99.0, uint64 0, '', uint64 1)]",
    (guint64) (NOW + 600 * G_USEC_PER_SEC))));
  first = cf_notifier_usage_warnings (status, 85, warned, NOW, tz);
  g_assert_cmpuint (first->len, ==, 2);
  message = g_ptr_array_index (first, 0);
  g_assert_cmpstr (message->kind, ==, CF_NOTIFIER_KIND_USAGE);
  g_assert_cmpstr (message->title, ==, "Claude account main has used 86% of its 5-hour limit");
  g_assert_cmpstr (message->body, ==, "It resets at 15:55 (in 10 minutes).");
  message = g_ptr_array_index (first, 1);
  g_assert_cmpstr (message->title, ==, "Claude account backup has used 99% of its weekly limit");
  g_assert_cmpstr (message->body, ==, "");

  /* The same readings again: nothing new. */
  again = cf_notifier_usage_warnings (status, 85, warned, NOW, tz);
  g_assert_cmpuint (again->len, ==, 0);
  /* A new 5-hour window of main reaching it again: warned again. */
  g_assert_true (cf_notifier_status_update (status, "Usage", g_variant_new_parsed (
    "[('main', 90.0, uint64 %t, 40.0, uint64 0, '', uint64 2)]",
    (guint64) (NOW + (gint64) 18600 * G_USEC_PER_SEC))));
  next_window = cf_notifier_usage_warnings (status, 85, warned, NOW, tz);
  g_assert_cmpuint (next_window->len, ==, 1);
  /* warn_at 0 is off; a malformed Usage is ignored. */
  off = cf_notifier_usage_warnings (status, 0, none, NOW, tz);
  g_assert_cmpuint (off->len, ==, 0);
  g_assert_false (cf_notifier_status_update (status, "Usage", g_variant_new_parsed ("[('x', 1.0)]")));
}

typedef struct {
  const char *project;
  const char *session;
  const char *outcome;
  const char *title;           /* NULL = no notification */
  const char *body;
} TaskCase;

static const TaskCase task_cases[] = {
  { "/home/claude/projects/web", "ccl-auto-1", "failed", "Task t1 failed", "Project web, session ccl-auto-1." },
  { "web", "", "failed", "Task t1 failed", "Project web." },
  { "/srv/p/api", "", "delegated-failed", "Delegated task t1 failed",
    "The remote AI service could not complete it (project api)." },
  { "/srv/p/a<b>&c", "s", "failed", "Task t1 failed",
    "Project a\xe2\x80\xb9" "b\xe2\x80\xba\xef\xbc\x86" "c, session s." },
  { "/srv/p/api", "s", "done", NULL, NULL },
  { "/srv/p/api", "s", "requeued", NULL, NULL },
  { "/srv/p/api", "s", "timeout", NULL, NULL },
  { "/srv/p/api", "s", "cancelled", NULL, NULL },
  { "/srv/p/api", "", "delegated-done", NULL, NULL },
  { "/srv/p/api", "", "", NULL, NULL },
};

static void
test_needs_input (void)
{
  static const struct {
    const char *session, *project, *task, *what, *title, *body;
  } rows[] = {
    { "ccl-auto-1", "/home/claude/projects/web", "t1", "permission_prompt: Claude needs your permission",
      "Session ccl-auto-1 needs input", "Project web, task t1: permission_prompt: Claude needs your permission" },
    { "ccl-1-web", "", "", "permission_prompt", "Session ccl-1-web needs input", "permission_prompt" },
    { "ccl-auto-2", "api", "t2", "permission: Do you want\n   to proceed?",
      "Session ccl-auto-2 needs input", "Project api, task t2: permission: Do you want to proceed?" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autoptr(CfNotifierMessage) message =
        cf_notifier_message_needs_input (rows[i].session, rows[i].project, rows[i].task, rows[i].what);

      g_test_message ("row %u", i);
      g_assert_cmpstr (message->kind, ==, CF_NOTIFIER_KIND_NEEDS_INPUT);
      g_assert_cmpint (message->priority, ==, G_NOTIFICATION_PRIORITY_HIGH);
      g_assert_cmpstr (message->title, ==, rows[i].title);
      g_assert_cmpstr (message->body, ==, rows[i].body);
    }
}

static void
test_task_failed (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (task_cases); i++)
    {
      const TaskCase *c = &task_cases[i];
      g_autoptr(CfNotifierMessage) message =
        cf_notifier_message_task_failed (c->project, "t1", c->session, c->outcome);

      g_test_message ("case %u: %s", i, c->outcome);
      if (c->title == NULL)
        {
          g_assert_null (message);
          continue;
        }
      g_assert_nonnull (message);
      g_assert_cmpstr (message->kind, ==, CF_NOTIFIER_KIND_TASK_FAILED);
      g_assert_cmpstr (message->title, ==, c->title);
      g_assert_cmpstr (message->body, ==, c->body);
    }
}

static void
test_switch_error (void)
{
  g_autoptr(CfNotifierMessage) message =
    cf_notifier_message_switch_error ("main", "Not authorized:\n  polkit said no");

  g_assert_cmpstr (message->kind, ==, CF_NOTIFIER_KIND_SWITCH_ERROR);
  g_assert_cmpstr (message->title, ==, "Could not switch back to main");
  g_assert_cmpstr (message->body, ==, "Not authorized: polkit said no");
  g_assert_null (message->switch_back_to);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/notifier/status/update", test_status_update);
  g_test_add_func ("/notifier/status/all-exhausted", test_status_all_exhausted);
  g_test_add_func ("/notifier/format-time", test_format_time);
  g_test_add_func ("/notifier/one-line", test_one_line);
  g_test_add_func ("/notifier/message/swap-started", test_swap_started);
  g_test_add_func ("/notifier/message/swap-finished", test_swap_finished);
  g_test_add_func ("/notifier/message/quota-exhausted", test_quota_exhausted);
  g_test_add_func ("/notifier/message/conditions", test_conditions);
  g_test_add_func ("/notifier/message/usage-warnings", test_usage_warnings);
  g_test_add_func ("/notifier/message/task-failed", test_task_failed);
  g_test_add_func ("/notifier/message/needs-input", test_needs_input);
  g_test_add_func ("/notifier/message/switch-error", test_switch_error);
  return g_test_run ();
}
