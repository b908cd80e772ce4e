/* SPDX-License-Identifier: MIT */
#include <glib.h>

#include "cf-usage-policy.h"

#define SEC G_GINT64_CONSTANT (1000000)
#define NOW (G_GINT64_CONSTANT (1800000000) * SEC)
#define COOLDOWN (300 * SEC)
#define MARGIN (300 * SEC)
#define UNKNOWN (-1.0)
#define DEFAULT_SWITCH_AT 95

/* --- The usage model ------------------------------------------------------------ */

static void
test_record_and_age (void)
{
  CfUsage usage;
  CfUsageWindow window;

  cf_usage_init (&usage);
  g_assert_cmpfloat (cf_usage_peak (&usage, NOW), ==, -1);
  g_assert_cmpint (cf_usage_next_change (&usage, NOW), ==, 0);

  g_assert_true (cf_usage_record (&usage, CF_USAGE_FIVE_HOUR, 42, NOW + 3600 * SEC,
                                  CF_USAGE_SOURCE_STATUSLINE, NOW));
  g_assert_true (cf_usage_record (&usage, CF_USAGE_SEVEN_DAY, 170, NOW + 86400 * SEC,
                                  CF_USAGE_SOURCE_STATUSLINE, NOW));
  g_assert_cmpfloat (usage.windows[CF_USAGE_SEVEN_DAY].used, ==, 100);   /* clamped */
  g_assert_cmpfloat (cf_usage_peak (&usage, NOW), ==, 100);
  g_assert_cmpint (cf_usage_next_change (&usage, NOW), ==, NOW + 3600 * SEC);

  /* The same reading again changes nothing; an older one is ignored. */
  g_assert_false (cf_usage_record (&usage, CF_USAGE_FIVE_HOUR, 42, NOW + 3600 * SEC,
                                   CF_USAGE_SOURCE_STATUSLINE, NOW));
  g_assert_false (cf_usage_record (&usage, CF_USAGE_FIVE_HOUR, 10, NOW + 3600 * SEC,
                                   CF_USAGE_SOURCE_STATUSLINE, NOW - SEC));
  g_assert_cmpfloat (usage.windows[CF_USAGE_FIVE_HOUR].used, ==, 42);
  /* Nothing in the reading: nothing recorded. */
  g_assert_false (cf_usage_record (&usage, CF_USAGE_FIVE_HOUR, -1, 0,
                                   CF_USAGE_SOURCE_STATUSLINE, NOW + SEC));

  /* At its reset a window is unknown again, with when and whence kept. */
  window = cf_usage_window_at (&usage.windows[CF_USAGE_FIVE_HOUR], NOW + 3600 * SEC - 1);
  g_assert_cmpfloat (window.used, ==, 42);
  window = cf_usage_window_at (&usage.windows[CF_USAGE_FIVE_HOUR], NOW + 3600 * SEC);
  g_assert_false (cf_usage_window_is_known (&window));
  g_assert_cmpint (window.resets_at, ==, 0);
  g_assert_cmpint (window.updated, ==, NOW);
  g_assert_cmpint (window.source, ==, CF_USAGE_SOURCE_STATUSLINE);
  g_assert_cmpfloat (cf_usage_peak (&usage, NOW + 86400 * SEC), ==, -1);

  /* A limit without a percentage is a full window; a new reset without a
   * percentage starts a window nothing is known about. */
  g_assert_true (cf_usage_record (&usage, CF_USAGE_FIVE_HOUR, CF_USAGE_PERCENT_MAX,
                                  NOW + 600 * SEC, CF_USAGE_SOURCE_LIMIT, NOW + 2 * SEC));
  g_assert_cmpfloat (usage.windows[CF_USAGE_FIVE_HOUR].used, ==, 100);
  g_assert_true (cf_usage_record (&usage, CF_USAGE_FIVE_HOUR, -1, NOW + 18000 * SEC,
                                  CF_USAGE_SOURCE_WARNING, NOW + 3 * SEC));
  g_assert_cmpfloat (usage.windows[CF_USAGE_FIVE_HOUR].used, ==, -1);
  g_assert_cmpint (usage.windows[CF_USAGE_FIVE_HOUR].resets_at, ==, NOW + 18000 * SEC);
  /* A percentage without a reset keeps the known reset. */
  g_assert_true (cf_usage_record (&usage, CF_USAGE_FIVE_HOUR, 7, 0,
                                  CF_USAGE_SOURCE_WARNING, NOW + 4 * SEC));
  g_assert_cmpint (usage.windows[CF_USAGE_FIVE_HOUR].resets_at, ==, NOW + 18000 * SEC);

  g_assert_cmpstr (cf_usage_source_to_string (CF_USAGE_SOURCE_LIMIT), ==, "limit");
  g_assert_cmpint (cf_usage_source_from_string ("warning"), ==, CF_USAGE_SOURCE_WARNING);
  g_assert_cmpint (cf_usage_source_from_string ("bogus"), ==, CF_USAGE_SOURCE_NONE);
  g_assert_cmpstr (cf_usage_source_to_string (99), ==, "");
}

/* --- Usage warnings on screen ----------------------------------------------------------- */

typedef struct {
  const char *line;
  gboolean found;
  CfUsageWindowKind kind;
  double percent;
  gint64 reset;                /* Unix seconds, 0 = none */
} WarningCase;

/* NOW is 2027-01-15 08:00:00 UTC. */
static const WarningCase warning_cases[] = {
  { "You've used 92% of your 5-hour limit · resets 3pm (UTC)", TRUE, CF_USAGE_FIVE_HOUR, 92,
    G_GINT64_CONSTANT (1800000000) + 7 * 3600 },
  { "? for shortcuts                    You’ve used 90% of your session limit · resets 9pm",
    TRUE, CF_USAGE_FIVE_HOUR, 90, G_GINT64_CONSTANT (1800000000) + 13 * 3600 },
  { "You've used 98% of your weekly limit · resets Jan 17, 2am (UTC)", TRUE, CF_USAGE_SEVEN_DAY,
    98, G_GINT64_CONSTANT (1800000000) + 42 * 3600 },
  { "You've used 85% of your Opus limit", TRUE, CF_USAGE_SEVEN_DAY, 85, 0 },
  { "You've used 100% of your weekly Sonnet limit · resets in 2 hours", TRUE, CF_USAGE_SEVEN_DAY,
    100, G_GINT64_CONSTANT (1800000000) + 2 * 3600 },
  { "You've used 999% of your 5-hour limit", TRUE, CF_USAGE_FIVE_HOUR, 100, 0 },
  { "You've used 50% of your credit limit", FALSE, 0, 0, 0 },
  { "Approaching usage limit · resets at 3pm", FALSE, 0, 0, 0 },
  { "You've hit your 5-hour limit · resets 1:47pm (UTC)", FALSE, 0, 0, 0 },
  { "", FALSE, 0, 0, 0 },
};

static void
test_parse_warning (void)
{
  const gint64 now_unix = G_GINT64_CONSTANT (1800000000);
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();

  for (guint i = 0; i < G_N_ELEMENTS (warning_cases); i++)
    {
      const WarningCase *c = &warning_cases[i];
      CfUsageWindowKind kind = CF_USAGE_N_WINDOWS;
      double percent = -1;
      gint64 reset = -1;

      g_test_message ("case %u: %s", i, c->line);
      g_assert_cmpint (cf_usage_parse_warning (c->line, now_unix, utc, &kind, &percent, &reset),
                       ==, c->found);
      if (!c->found)
        continue;
      g_assert_cmpint (kind, ==, c->kind);
      g_assert_cmpfloat (percent, ==, c->percent);
      g_assert_cmpint (reset, ==, c->reset * SEC);
    }
  g_assert_false (cf_usage_parse_warning (NULL, now_unix, utc, NULL, NULL, NULL));
}

/* --- The policy ------------------------------------------------------------------- */

typedef struct {
  const char *name;
  double five;                 /* % or UNKNOWN */
  gint64 five_reset;           /* seconds from NOW, 0 = unknown */
  double week;
  gint64 week_reset;
  gint64 exhausted;            /* seconds from NOW, 0 = not */
  const char *problem;
  gint switch_at;              /* 0 in the table = DEFAULT_SWITCH_AT; -1 = off */
} Account;

typedef struct {
  const char *name;
  Account accounts[3];
  const char *active;
  gint64 last_switch;          /* seconds from NOW, 0 = never */
  const char *reason;
  CfUsageAction action;
  const char *target;
  gint64 until;                /* seconds from NOW; 0 = 0 */
  const char *why;
} Case;

#define A(name, five, week) { name, five, 0, week, 0, 0, NULL, 0 }
#define AR(name, five, five_reset, week, week_reset) \
  { name, five, five_reset, week, week_reset, 0, NULL, 0 }

static const Case cases[] = {
  /* threshold */
  { "below", { A ("main", 50, 60), A ("backup", 10, 10) }, "main", 0, NULL,
    CF_USAGE_ACTION_STAY, NULL, 0, "fine" },
  { "just-below", { A ("main", 94.9, 60), A ("backup", 10, 10) }, "main", 0, NULL,
    CF_USAGE_ACTION_STAY, NULL, 0, "fine" },
  { "five-hour-at-threshold", { A ("main", 95, 60), A ("backup", 10, 10) }, "main", 0, NULL,
    CF_USAGE_ACTION_SWITCH, "backup", 0, "over-threshold" },
  { "weekly-over", { A ("main", 10, 96), A ("backup", 10, 10) }, "main", 0, NULL,
    CF_USAGE_ACTION_SWITCH, "backup", 0, "over-threshold" },
  { "per-account-switch-at-higher", { { "main", 96, 0, 10, 0, 0, NULL, 98 }, A ("backup", 1, 1) },
    "main", 0, NULL, CF_USAGE_ACTION_STAY, NULL, 0, "fine" },
  { "per-account-switch-at-lower", { { "main", 91, 0, 10, 0, 0, NULL, 90 }, A ("backup", 1, 1) },
    "main", 0, NULL, CF_USAGE_ACTION_SWITCH, "backup", 0, "over-threshold" },
  { "switch-at-off", { { "main", 100, 0, 100, 0, 0, NULL, -1 }, A ("backup", 1, 1) },
    "main", 0, NULL, CF_USAGE_ACTION_STAY, NULL, 0, "fine" },
  { "active-exhausted-reactively", { { "main", UNKNOWN, 0, UNKNOWN, 0, 1000, NULL, 0 },
                                     A ("backup", 10, 10) },
    "main", 0, NULL, CF_USAGE_ACTION_SWITCH, "backup", 0, "over-threshold" },
  { "active-has-a-problem", { { "main", 1, 0, 1, 0, 0, "authentication_failed", 0 },
                              A ("backup", 10, 10) },
    "main", 0, NULL, CF_USAGE_ACTION_SWITCH, "backup", 0, "over-threshold" },
  { "unknown-active-account", { A ("main", 99, 99), A ("backup", 1, 1) }, "ghost", 0, NULL,
    CF_USAGE_ACTION_STAY, NULL, 0, "no-active-account" },

  /* target choice */
  { "most-headroom", { A ("main", 96, 10), A ("b", 70, 10), A ("c", 30, 40) }, "main", 0, NULL,
    CF_USAGE_ACTION_SWITCH, "c", 0, "over-threshold" },
  { "lowest-of-two-windows", { A ("main", 96, 10), A ("b", 20, 85), A ("c", 50, 50) }, "main", 0,
    NULL, CF_USAGE_ACTION_SWITCH, "c", 0, "over-threshold" },
  { "skip-over-candidate", { A ("main", 96, 10), A ("b", 97, 1), A ("c", 90, 10) }, "main", 0,
    NULL, CF_USAGE_ACTION_SWITCH, "c", 0, "over-threshold" },
  { "unknown-counts-usable", { A ("main", 96, 10), A ("b", UNKNOWN, UNKNOWN), A ("c", 60, 1) },
    "main", 0, NULL, CF_USAGE_ACTION_SWITCH, "b", 0, "over-threshold" },
  { "tie-goes-to-configured-order", { A ("main", 96, 10), A ("b", UNKNOWN, 0), A ("c", 0, 0) },
    "main", 0, NULL, CF_USAGE_ACTION_SWITCH, "b", 0, "over-threshold" },
  { "never-an-unusable-one", { A ("main", 96, 10),
                               { "b", 1, 0, 1, 0, 0, "authentication_failed", 0 },
                               { "c", 1, 0, 1, 0, 600, NULL, 0 } },
    "main", 0, NULL, CF_USAGE_ACTION_WAIT, NULL, 600 + 300, "all-out" },
  { "from-a-backup-back-to-primary", { A ("main", 20, 20), A ("b", 99, 10), A ("c", 97, 1) },
    "b", 0, "usage", CF_USAGE_ACTION_SWITCH, "main", 0, "over-threshold" },

  /* every account out */
  { "all-out-earliest-reset", { AR ("main", 96, 3600, 10, 86400), AR ("backup", 99, 1800, 5, 9000) },
    "main", 0, NULL, CF_USAGE_ACTION_WAIT, NULL, 1800 + 300, "all-out" },
  { "all-out-both-windows", { AR ("main", 96, 3600, 97, 86400), AR ("backup", 99, 1800, 99, 7200) },
    "main", 0, NULL, CF_USAGE_ACTION_WAIT, NULL, 7200 + 300, "all-out" },
  { "all-out-reset-unknown", { A ("main", 96, 10), A ("backup", 99, 5) }, "main", 0, NULL,
    CF_USAGE_ACTION_WAIT, NULL, 0, "all-out" },
  { "all-out-even-in-cooldown", { AR ("main", 96, 60, 10, 0), AR ("backup", 99, 120, 5, 0) },
    "main", -10, "usage", CF_USAGE_ACTION_WAIT, NULL, 60 + 300, "all-out" },

  /* stale windows */
  { "window-past-its-reset", { AR ("main", 99, -10, 10, 86400), A ("backup", 1, 1) }, "main", 0,
    NULL, CF_USAGE_ACTION_STAY, NULL, 0, "fine" },
  { "window-just-before-its-reset", { AR ("main", 99, 1, 10, 86400), A ("backup", 1, 1) }, "main", 0,
    NULL, CF_USAGE_ACTION_SWITCH, "backup", 0, "over-threshold" },
  { "stale-candidate-counts-unknown", { A ("main", 96, 10), AR ("b", 99, -1, 50, 0),
                                        A ("c", 40, 40) },
    "main", 0, NULL, CF_USAGE_ACTION_SWITCH, "c", 0, "over-threshold" },

  /* cooldown */
  { "cooldown-holds", { A ("main", 96, 10), A ("backup", 10, 10) }, "main", -100, "usage",
    CF_USAGE_ACTION_STAY, NULL, 200, "cooldown" },
  { "cooldown-over", { A ("main", 96, 10), A ("backup", 10, 10) }, "main", -300, "quota",
    CF_USAGE_ACTION_SWITCH, "backup", 0, "over-threshold" },

  /* return to the primary, with hysteresis */
  { "return-window-reset", { AR ("main", 99, -5, 30, 86400), A ("backup", 50, 50) }, "backup",
    -1000, "usage", CF_USAGE_ACTION_RETURN, "main", 0, "primary-back" },
  { "return-below", { A ("main", 79, 30), A ("backup", 50, 50) }, "backup", -1000, "usage",
    CF_USAGE_ACTION_RETURN, "main", 0, "primary-back" },
  { "no-return-not-below", { AR ("main", 85, 100, 30, 86400), A ("backup", 50, 50) }, "backup",
    -1000, "usage", CF_USAGE_ACTION_STAY, NULL, 100, "primary-not-below" },
  { "no-return-at-switch-back-below", { A ("main", 80, 30), A ("backup", 50, 50) }, "backup",
    -1000, "usage", CF_USAGE_ACTION_STAY, NULL, 0, "primary-not-below" },
  { "no-return-primary-still-over", { AR ("main", 97, 100, 30, 86400), A ("backup", 50, 50) },
    "backup", -1000, "usage", CF_USAGE_ACTION_STAY, NULL, 100, "primary-out" },
  { "no-return-primary-exhausted", { { "main", UNKNOWN, 0, UNKNOWN, 0, 500, NULL, 0 },
                                     A ("backup", 50, 50) },
    "backup", -1000, "usage", CF_USAGE_ACTION_STAY, NULL, 500, "primary-out" },
  { "no-return-in-cooldown", { A ("main", 10, 10), A ("backup", 50, 50) }, "backup", -100,
    "usage", CF_USAGE_ACTION_STAY, NULL, 200, "cooldown" },
  { "no-return-after-a-manual-switch", { A ("main", 10, 10), A ("backup", 50, 50) }, "backup",
    -1000, "manual", CF_USAGE_ACTION_STAY, NULL, 0, "fine" },
  { "no-return-after-a-limit", { A ("main", UNKNOWN, UNKNOWN), A ("backup", 50, 50) }, "backup",
    -1000, "quota", CF_USAGE_ACTION_STAY, NULL, 0, "fine" },
};

static void
fill_usage (const Account *a, CfUsage *usage)
{
  cf_usage_init (usage);
  if (a->five >= 0)
    usage->windows[CF_USAGE_FIVE_HOUR] = (CfUsageWindow) {
      a->five, a->five_reset != 0 ? NOW + a->five_reset * SEC : 0, NOW - 60 * SEC,
      CF_USAGE_SOURCE_STATUSLINE };
  if (a->week >= 0)
    usage->windows[CF_USAGE_SEVEN_DAY] = (CfUsageWindow) {
      a->week, a->week_reset != 0 ? NOW + a->week_reset * SEC : 0, NOW - 60 * SEC,
      CF_USAGE_SOURCE_STATUSLINE };
}

static void
test_decide (gconstpointer data)
{
  const Case *c = data;
  CfUsage usages[3];
  CfUsagePolicyAccount accounts[3];
  CfUsagePolicyInput input = {
    .accounts = accounts,
    .active = c->active,
    .switch_back_below = 80,
    .last_switch = c->last_switch != 0 ? NOW + c->last_switch * SEC : 0,
    .last_switch_reason = c->reason,
    .cooldown = COOLDOWN,
    .return_margin = MARGIN,
  };
  CfUsageVerdict verdict;

  for (guint i = 0; i < G_N_ELEMENTS (c->accounts) && c->accounts[i].name != NULL; i++)
    {
      const Account *a = &c->accounts[i];

      fill_usage (a, &usages[i]);
      accounts[i] = (CfUsagePolicyAccount) {
        .name = a->name,
        .usage = &usages[i],
        .exhausted_until = a->exhausted != 0 ? NOW + a->exhausted * SEC : 0,
        .problem = a->problem,
        .switch_at = a->switch_at == 0 ? DEFAULT_SWITCH_AT : MAX (a->switch_at, 0),
      };
      input.n_accounts++;
    }
  verdict = cf_usage_policy_decide (&input, NOW);
  g_assert_cmpstr (cf_usage_action_to_string (verdict.action), ==,
                   cf_usage_action_to_string (c->action));
  g_assert_cmpstr (verdict.target, ==, c->target);
  g_assert_cmpint (verdict.until, ==, c->until != 0 ? NOW + c->until * SEC : 0);
  g_assert_cmpstr (verdict.why, ==, c->why);
}

/* Readings oscillating around switch_at on both accounts, every 10 s for
 * two hours, each verdict acted on at once: at most one switch per
 * cooldown, and still some switching (the test would pass on a policy that
 * never switches otherwise). */
static void
test_oscillation (void)
{
  const char *names[] = { "main", "backup" };
  CfUsage usages[2];
  CfUsagePolicyAccount accounts[2];
  CfUsagePolicyInput input = {
    .accounts = accounts,
    .n_accounts = 2,
    .active = "main",
    .switch_back_below = 80,
    .cooldown = COOLDOWN,
    .return_margin = MARGIN,
  };
  gint64 last = 0;
  guint switches = 0;

  for (guint i = 0; i < 2; i++)
    {
      cf_usage_init (&usages[i]);
      accounts[i] = (CfUsagePolicyAccount) { .name = names[i], .usage = &usages[i],
                                             .switch_at = DEFAULT_SWITCH_AT };
    }
  for (gint64 t = 0; t < 7200; t += 10)
    {
      gint64 now = NOW + t * SEC;
      CfUsageVerdict verdict;

      /* main: 94, 96, 94, …; backup: 96, 94, … (out of phase). */
      cf_usage_record (&usages[0], CF_USAGE_FIVE_HOUR, (t / 10) % 2 ? 96 : 94,
                       NOW + 18000 * SEC, CF_USAGE_SOURCE_STATUSLINE, now);
      cf_usage_record (&usages[1], CF_USAGE_FIVE_HOUR, (t / 10) % 2 ? 94 : 96,
                       NOW + 18000 * SEC, CF_USAGE_SOURCE_STATUSLINE, now);
      verdict = cf_usage_policy_decide (&input, now);
      if (verdict.action == CF_USAGE_ACTION_SWITCH || verdict.action == CF_USAGE_ACTION_RETURN)
        {
          if (last != 0)
            g_assert_cmpint (now - last, >=, COOLDOWN);
          g_assert_cmpstr (verdict.target, !=, input.active);
          input.active = verdict.target;
          input.last_switch = last = now;
          input.last_switch_reason = verdict.action == CF_USAGE_ACTION_SWITCH ? "usage" : "return";
          switches++;
        }
    }
  g_assert_cmpuint (switches, >=, 2);
  g_assert_cmpuint (switches, <=, 7200 / 300 + 1);
}

/* Readings hovering just under switch_at and just over switch_back_below
 * never move anything. */
static void
test_hysteresis (void)
{
  CfUsage usages[2];
  CfUsagePolicyAccount accounts[2] = {
    { .name = "main", .usage = &usages[0], .switch_at = DEFAULT_SWITCH_AT },
    { .name = "backup", .usage = &usages[1], .switch_at = DEFAULT_SWITCH_AT },
  };
  CfUsagePolicyInput input = {
    .accounts = accounts, .n_accounts = 2, .active = "backup", .switch_back_below = 80,
    .last_switch = NOW - 3600 * SEC, .last_switch_reason = "usage", .cooldown = COOLDOWN,
  };

  cf_usage_init (&usages[0]);
  cf_usage_init (&usages[1]);
  for (gint64 t = 0; t < 3600; t += 10)
    {
      gint64 now = NOW + t * SEC;
      CfUsageVerdict verdict;

      cf_usage_record (&usages[0], CF_USAGE_SEVEN_DAY, (t / 10) % 2 ? 80 : 81,
                       NOW + 86400 * SEC, CF_USAGE_SOURCE_STATUSLINE, now);
      cf_usage_record (&usages[1], CF_USAGE_FIVE_HOUR, (t / 10) % 2 ? 94.9 : 90,
                       NOW + 18000 * SEC, CF_USAGE_SOURCE_STATUSLINE, now);
      verdict = cf_usage_policy_decide (&input, now);
      g_assert_cmpint (verdict.action, ==, CF_USAGE_ACTION_STAY);
    }
}

static void
test_back_at (void)
{
  CfUsage usage;
  CfUsagePolicyAccount account = { .name = "main", .usage = &usage, .switch_at = 95 };

  cf_usage_init (&usage);
  cf_usage_record (&usage, CF_USAGE_FIVE_HOUR, 99, NOW + 100 * SEC, CF_USAGE_SOURCE_STATUSLINE, NOW);
  cf_usage_record (&usage, CF_USAGE_SEVEN_DAY, 50, NOW + 9000 * SEC, CF_USAGE_SOURCE_STATUSLINE, NOW);
  g_assert_cmpint (cf_usage_policy_back_at (&account, NOW), ==, NOW + 100 * SEC);
  account.exhausted_until = NOW + 200 * SEC;
  g_assert_cmpint (cf_usage_policy_back_at (&account, NOW), ==, NOW + 200 * SEC);
  account.problem = "authentication_failed";
  g_assert_cmpint (cf_usage_policy_back_at (&account, NOW), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/usage/record-and-age", test_record_and_age);
  g_test_add_func ("/usage/parse-warning", test_parse_warning);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/usage-policy/decide/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_decide);
    }
  g_test_add_func ("/usage-policy/oscillation", test_oscillation);
  g_test_add_func ("/usage-policy/hysteresis", test_hysteresis);
  g_test_add_func ("/usage-policy/back-at", test_back_at);
  return g_test_run ();
}
