/* SPDX-License-Identifier: MIT */
#include <glib.h>

#include "cf-failover-policy.h"

#define SEC G_GINT64_CONSTANT (1000000)
#define NOW (G_GINT64_CONSTANT (1800000000) * SEC)
#define COOLDOWN (300 * SEC)
#define MARGIN (120 * SEC)
#define UNKNOWN_RESET (5 * 3600 * SEC)

/* --- cooldown, stale lines, resets ----------------------------------------- */

static void
test_cooldown (void)
{
  static const struct {
    gint64 since;
    gboolean expected;
  } cases[] = {
    { 0, FALSE },                         /* never */
    { NOW, TRUE },
    { NOW - COOLDOWN + 1, TRUE },
    { NOW - COOLDOWN, FALSE },            /* the cooldown's end is outside it */
    { NOW - 2 * COOLDOWN, FALSE },
    { NOW + SEC, TRUE },                  /* a clock step back: still within */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %u", i);
      g_assert_cmpint (cf_failover_in_cooldown (cases[i].since, COOLDOWN, NOW), ==,
                       cases[i].expected);
    }
}

static void
test_stale_and_reset (void)
{
  static const struct {
    gboolean limit;
    gint64 reset;
    gboolean stale;
    gint64 keep;
  } cases[] = {
    { TRUE, 0, FALSE, 0 },                /* no reset: not stale, nothing to keep */
    { TRUE, NOW + SEC, FALSE, NOW + SEC },
    { TRUE, NOW, TRUE, 0 },               /* reset now: over */
    { TRUE, NOW - 3600 * SEC, TRUE, 0 },
    { FALSE, NOW - 3600 * SEC, FALSE, 0 },
    { FALSE, NOW + SEC, FALSE, NOW + SEC },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %u", i);
      g_assert_cmpint (cf_failover_limit_is_stale (cases[i].limit, cases[i].reset, NOW), ==,
                       cases[i].stale);
      g_assert_cmpint (cf_failover_reset_to_keep (cases[i].reset, NOW), ==, cases[i].keep);
    }
  g_assert_cmpint (cf_failover_exhausted_until (NOW + 60 * SEC, UNKNOWN_RESET, NOW), ==,
                   NOW + 60 * SEC);
  g_assert_cmpint (cf_failover_exhausted_until (0, UNKNOWN_RESET, NOW), ==, NOW + UNKNOWN_RESET);
  g_assert_cmpint (cf_failover_exhausted_until (NOW, UNKNOWN_RESET, NOW), ==, NOW + UNKNOWN_RESET);
}

/* --- history: the limit a resumed conversation redraws ---------------------- */

#define LINE_5H "You've hit your limit · resets 3pm (UTC)"
#define LINE_WEEK "You've hit your weekly limit · resets Dec 9, 3pm (UTC)"
#define RESET_5H (NOW + 3600 * SEC)

static void
test_history (void)
{
  static const char *const lines[] = { LINE_5H, "StopFailure error=rate_limit" };
  static const CfLimitHistory history = { lines, G_N_ELEMENTS (lines), { RESET_5H, 0 } };
  static const struct {
    gboolean has_history;
    gboolean launching;
    const char *line;
    gint64 reset;
    gboolean expected;
  } cases[] = {
    { FALSE, TRUE, LINE_5H, RESET_5H, FALSE },     /* no history: always evidence */
    { TRUE, TRUE, LINE_WEEK, 0, TRUE },            /* still launching: anything is old */
    { TRUE, TRUE, NULL, 0, TRUE },                 /* a late hook of the replaced Claude */
    { TRUE, FALSE, LINE_5H, 0, TRUE },             /* the same line redrawn */
    { TRUE, FALSE, LINE_5H, RESET_5H + SEC, TRUE },
    { TRUE, FALSE, "resets 3pm", RESET_5H, TRUE }, /* another phrasing, the same reset */
    { TRUE, FALSE, NULL, RESET_5H, TRUE },         /* a hook naming the same reset */
    { TRUE, FALSE, LINE_WEEK, NOW + 86400 * SEC, FALSE }, /* a new limit */
    { TRUE, FALSE, NULL, 0, FALSE },               /* a hook, no reset: the resets' 0 is no match */
    { TRUE, FALSE, LINE_WEEK, 0, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %u", i);
      g_assert_cmpint (cf_failover_limit_is_history (cases[i].has_history ? &history : NULL,
                                                     cases[i].launching, cases[i].line,
                                                     cases[i].reset),
                       ==, cases[i].expected);
    }
}

/* --- one session's evidence ---------------------------------------------- */

static void
test_observe_limit (void)
{
  static const CfLimitEvidence none = { 0 };
  static const CfLimitEvidence suspected = { .exists = TRUE, .unconfirmed = 1 };
  static const CfLimitEvidence blocked = { .exists = TRUE, .blocked = TRUE };
  static const CfLimitEvidence hooked = { .exists = TRUE, .blocked = TRUE, .from_hook = TRUE };
  static const CfLimitEvidence named = { .exists = TRUE };   /* pattern only, never counted */
  static const struct {
    const CfLimitEvidence *evidence;
    gboolean limit;
    gboolean busy;
    gint64 reset;
    CfLimitStep expected;
  } cases[] = {
    { &none, FALSE, FALSE, 0, CF_LIMIT_STEP_NONE },
    { &none, TRUE, FALSE, RESET_5H, CF_LIMIT_STEP_BLOCK },
    { &none, TRUE, FALSE, 0, CF_LIMIT_STEP_SUSPECT },             /* one poll is not enough */
    { &named, TRUE, FALSE, 0, CF_LIMIT_STEP_SUSPECT },
    { &suspected, TRUE, FALSE, 0, CF_LIMIT_STEP_CONFIRM },        /* the second in a row */
    { &suspected, FALSE, FALSE, 0, CF_LIMIT_STEP_CLEAR },         /* not in a row: cleared */
    { &suspected, TRUE, FALSE, RESET_5H, CF_LIMIT_STEP_BLOCK },
    { &blocked, TRUE, FALSE, 0, CF_LIMIT_STEP_KEEP },
    { &blocked, TRUE, FALSE, RESET_5H, CF_LIMIT_STEP_BLOCK },     /* a (new) reset is read */
    { &blocked, FALSE, FALSE, 0, CF_LIMIT_STEP_CLEAR },
    { &blocked, TRUE, FALSE, NOW - SEC, CF_LIMIT_STEP_CLEAR },    /* an old line past its reset */
    { &none, TRUE, FALSE, NOW, CF_LIMIT_STEP_NONE },              /* stale, nothing to clear */
    { &hooked, FALSE, FALSE, 0, CF_LIMIT_STEP_NONE },             /* the pane has not drawn it yet */
    { &hooked, TRUE, FALSE, NOW - SEC, CF_LIMIT_STEP_NONE },
    { &hooked, FALSE, TRUE, 0, CF_LIMIT_STEP_CLEAR },             /* working again */
    { &hooked, TRUE, FALSE, 0, CF_LIMIT_STEP_KEEP },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      CfLimitStep step = cf_failover_observe_limit (cases[i].evidence, cases[i].limit,
                                                    cases[i].busy, cases[i].reset, NOW);

      g_test_message ("case %u: %s", i, cf_limit_step_to_string (step));
      g_assert_cmpstr (cf_limit_step_to_string (step), ==,
                       cf_limit_step_to_string (cases[i].expected));
    }
}

/* --- the account's exhaustion --------------------------------------------- */

#define P(blocked, reset) { FALSE, blocked, reset }
#define D(blocked, reset) { TRUE, blocked, reset }

static void
test_quota_decide (void)
{
  static const CfQuotaSession pool_one_of_two[] = { P (TRUE, RESET_5H), P (FALSE, 0) };
  static const CfQuotaSession pool_two[] = { P (TRUE, RESET_5H), P (TRUE, RESET_5H + 60 * SEC) };
  static const CfQuotaSession pool_later_first[] = {
    P (TRUE, RESET_5H + 60 * SEC), P (TRUE, 0), P (FALSE, NOW + 86400 * SEC), P (TRUE, RESET_5H),
  };
  static const CfQuotaSession pool_lone[] = { P (TRUE, 0) };
  static const CfQuotaSession dedicated_one[] = { P (FALSE, 0), D (TRUE, RESET_5H) };
  static const CfQuotaSession nothing_blocked[] = { P (FALSE, 0), D (FALSE, 0) };
  static const struct {
    const CfQuotaSession *sessions;
    guint n_sessions;
    guint pool_threshold;
    guint dedicated_threshold;
    gint64 last_swap;
    gint64 cooldown_told;
    CfQuotaAction action;
    gint64 reset;
    gint64 told;
    guint need_pool;
  } cases[] = {
    { NULL, 0, 1, 1, 0, 0, CF_QUOTA_ACTION_HOLD, 0, 0, 0 },            /* nothing runs */
    { nothing_blocked, 2, 1, 1, 0, 0, CF_QUOTA_ACTION_HOLD, 0, 0, 1 },
    { pool_one_of_two, 2, 2, 1, 0, 0, CF_QUOTA_ACTION_HOLD, 0, 0, 2 },  /* 1 of 2 needed */
    { pool_one_of_two, 2, 1, 1, 0, 0, CF_QUOTA_ACTION_EXHAUSTED, RESET_5H, 0, 1 },
    { pool_two, 2, 2, 1, 0, 0, CF_QUOTA_ACTION_EXHAUSTED, RESET_5H + 60 * SEC, 0, 2 },
    /* The latest reset of the blocked sessions, whatever their order. */
    { pool_later_first, 4, 3, 1, 0, 0, CF_QUOTA_ACTION_EXHAUSTED, RESET_5H + 60 * SEC, 0, 3 },
    { pool_lone, 1, 3, 1, 0, 0, CF_QUOTA_ACTION_EXHAUSTED, 0, 0, 1 },   /* fewer run: all of them */
    { pool_lone, 1, 0, 1, 0, 0, CF_QUOTA_ACTION_HOLD, 0, 0, 0 },        /* pool threshold 0: off */
    { dedicated_one, 2, 1, 1, 0, 0, CF_QUOTA_ACTION_EXHAUSTED, RESET_5H, 0, 1 },
    { dedicated_one, 2, 1, 0, 0, 0, CF_QUOTA_ACTION_HOLD, 0, 0, 1 },
    /* Within the cooldown: told once per last switch, then quiet. */
    { pool_two, 2, 1, 1, NOW - 10 * SEC, 0, CF_QUOTA_ACTION_EXHAUSTED, RESET_5H + 60 * SEC,
      NOW - 10 * SEC, 1 },
    { pool_two, 2, 1, 1, NOW - 10 * SEC, NOW - 10 * SEC, CF_QUOTA_ACTION_TOLD, 0,
      NOW - 10 * SEC, 1 },
    /* A newer switch is told again; past the cooldown every decision is told. */
    { pool_two, 2, 1, 1, NOW - 5 * SEC, NOW - 10 * SEC, CF_QUOTA_ACTION_EXHAUSTED,
      RESET_5H + 60 * SEC, NOW - 5 * SEC, 1 },
    { pool_two, 2, 1, 1, NOW - COOLDOWN, NOW - COOLDOWN, CF_QUOTA_ACTION_EXHAUSTED,
      RESET_5H + 60 * SEC, NOW - COOLDOWN, 1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      CfQuotaInput input = {
        .sessions = cases[i].sessions,
        .n_sessions = cases[i].n_sessions,
        .pool_threshold = cases[i].pool_threshold,
        .dedicated_threshold = cases[i].dedicated_threshold,
        .last_swap = cases[i].last_swap,
        .cooldown = COOLDOWN,
        .cooldown_told = cases[i].cooldown_told,
      };
      CfQuotaVerdict verdict = cf_quota_policy_decide (&input, NOW);

      g_test_message ("case %u: %s", i, cf_quota_action_to_string (verdict.action));
      g_assert_cmpstr (cf_quota_action_to_string (verdict.action), ==,
                       cf_quota_action_to_string (cases[i].action));
      g_assert_cmpint (verdict.reset, ==, cases[i].reset);
      g_assert_cmpint (verdict.cooldown_told, ==, cases[i].told);
      g_assert_cmpuint (verdict.need[0], ==, cases[i].need_pool);
    }
}

/* --- the switcher's choices ------------------------------------------------ */

static const CfFailoverAccount three_free[] = {
  { "primary", 0, NULL }, { "backup", 0, "" }, { "spare", 0, NULL },
};
static const CfFailoverAccount backup_out[] = {
  { "primary", NOW + 3600 * SEC, NULL }, { "backup", NOW + 60 * SEC, NULL },
  { "spare", NOW, NULL },     /* its exhaustion ends now: available */
};
static const CfFailoverAccount spare_broken[] = {
  { "primary", NOW + 3600 * SEC, NULL }, { "backup", NOW + 7200 * SEC, NULL },
  { "spare", 0, "authentication_failed" },
};
static const CfFailoverAccount two_out[] = {
  { "primary", NOW + 3600 * SEC, NULL }, { "backup", NOW + 600 * SEC, NULL },
};
static const CfFailoverAccount two_past[] = {
  { "primary", NOW - SEC, "authentication_failed" }, { "backup", 0, "billing_error" },
};

static void
test_next_available (void)
{
  static const struct {
    const CfFailoverAccount *accounts;
    guint n;
    const char *exclude;
    gint expected;
  } cases[] = {
    { three_free, 3, "primary", 1 },
    { three_free, 3, "backup", 2 },
    { three_free, 3, "spare", 0 },        /* wraps */
    { three_free, 3, "gone", 0 },         /* not configured: from the start */
    { backup_out, 3, "primary", 2 },      /* exhausted skipped */
    { backup_out, 3, "spare", -1 },
    { spare_broken, 3, "primary", -1 },   /* a problem is never switched to */
    { two_past, 2, "primary", -1 },
    { three_free, 1, "primary", -1 },     /* one account */
    { three_free, 0, "primary", -1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %u", i);
      g_assert_cmpint (cf_failover_next_available (cases[i].accounts, cases[i].n,
                                                   cases[i].exclude, NOW),
                       ==, cases[i].expected);
    }
}

static void
test_decide_exhausted (void)
{
  static const struct {
    const CfFailoverAccount *accounts;
    guint n;
    gint64 until;
    gint64 last_swap;
    gint64 last_failure;
    CfExhaustedAction action;
    gint target;
    gint64 since;
    gint64 pause_until;
  } cases[] = {
    { three_free, 3, NOW + 3600 * SEC, 0, 0, CF_EXHAUSTED_SWITCH, 1, 0, 0 },
    { backup_out, 3, NOW + 3600 * SEC, 0, 0, CF_EXHAUSTED_SWITCH, 2, 0, 0 },
    /* The ping-pong guard: a limit right after a switch does not switch
     * back, nor retry a failed switch at once. */
    { three_free, 3, NOW + 3600 * SEC, NOW - 30 * SEC, 0, CF_EXHAUSTED_COOLDOWN, 1, 30 * SEC, 0 },
    { three_free, 3, NOW + 3600 * SEC, NOW - COOLDOWN, 0, CF_EXHAUSTED_SWITCH, 1, 0, 0 },
    { three_free, 3, NOW + 3600 * SEC, 0, NOW - 40 * SEC, CF_EXHAUSTED_RETRY_COOLDOWN, 1,
      40 * SEC, 0 },
    { three_free, 3, NOW + 3600 * SEC, NOW - 30 * SEC, NOW - 40 * SEC, CF_EXHAUSTED_COOLDOWN, 1,
      30 * SEC, 0 },
    /* Every account out: no switch, whatever the cooldown; pause until the
     * earliest end. */
    { spare_broken, 3, NOW + 3600 * SEC, 0, 0, CF_EXHAUSTED_ALL_OUT, -1, 0, NOW + 3600 * SEC },
    { two_out, 2, NOW + 3600 * SEC, NOW - 30 * SEC, 0, CF_EXHAUSTED_ALL_OUT, -1, 0,
      NOW + 600 * SEC },
    /* Out for problems only: the account's own end. */
    { two_past, 2, NOW + UNKNOWN_RESET, 0, 0, CF_EXHAUSTED_ALL_OUT, -1, 0, NOW + UNKNOWN_RESET },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      CfExhaustedInput input = {
        .accounts = cases[i].accounts,
        .n_accounts = cases[i].n,
        .exhausted = "primary",
        .until = cases[i].until,
        .last_swap = cases[i].last_swap,
        .last_failure = cases[i].last_failure,
        .cooldown = COOLDOWN,
      };
      CfExhaustedVerdict verdict = cf_failover_decide_exhausted (&input, NOW);

      g_test_message ("case %u: %s", i, cf_exhausted_action_to_string (verdict.action));
      g_assert_cmpstr (cf_exhausted_action_to_string (verdict.action), ==,
                       cf_exhausted_action_to_string (cases[i].action));
      g_assert_cmpint (verdict.target, ==, cases[i].target);
      g_assert_cmpint (verdict.since, ==, cases[i].since);
      g_assert_cmpint (verdict.until, ==, cases[i].pause_until);
    }
}

static void
test_return (void)
{
  static const struct {
    gboolean busy;
    gboolean on_primary;
    gint64 primary_until;
    const char *problem;
    gboolean layout_broken;
    CfReturnAction action;
    gint64 at;
  } cases[] = {
    { FALSE, FALSE, 0, NULL, FALSE, CF_RETURN_SWITCH, 0 },
    { FALSE, FALSE, NOW, "", FALSE, CF_RETURN_SWITCH, 0 },            /* its end is now */
    { TRUE, FALSE, 0, NULL, FALSE, CF_RETURN_RETRY, 0 },
    { TRUE, TRUE, NOW + SEC, "x", TRUE, CF_RETURN_RETRY, 0 },         /* busy comes first */
    { FALSE, TRUE, NOW + SEC, NULL, TRUE, CF_RETURN_ARRIVED, 0 },
    { FALSE, FALSE, NOW + 60 * SEC, NULL, TRUE, CF_RETURN_WAIT, NOW + 60 * SEC + MARGIN },
    { FALSE, FALSE, 0, "authentication_failed", TRUE, CF_RETURN_UNUSABLE, 0 },
    { FALSE, FALSE, 0, NULL, TRUE, CF_RETURN_LAYOUT, NOW + COOLDOWN },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      CfReturnInput input = {
        .busy = cases[i].busy,
        .on_primary = cases[i].on_primary,
        .primary_exhausted_until = cases[i].primary_until,
        .primary_problem = cases[i].problem,
        .layout_broken = cases[i].layout_broken,
        .return_margin = MARGIN,
        .cooldown = COOLDOWN,
      };
      CfReturnVerdict verdict = cf_failover_decide_return (&input, NOW);

      g_test_message ("case %u: %s", i, cf_return_action_to_string (verdict.action));
      g_assert_cmpstr (cf_return_action_to_string (verdict.action), ==,
                       cf_return_action_to_string (cases[i].action));
      g_assert_cmpint (verdict.at, ==, cases[i].at);
    }

  /* The return time a finished switch arms. */
  g_assert_cmpint (cf_failover_return_at (FALSE, NOW + 3600 * SEC, MARGIN, NOW), ==,
                   NOW + 3600 * SEC + MARGIN);
  g_assert_cmpint (cf_failover_return_at (TRUE, NOW + 3600 * SEC, MARGIN, NOW), ==, 0);
  g_assert_cmpint (cf_failover_return_at (FALSE, NOW, MARGIN, NOW), ==, 0);
  g_assert_cmpint (cf_failover_return_at (FALSE, 0, MARGIN, NOW), ==, 0);
}

static void
test_after_reset_and_recovery (void)
{
  static const CfFailoverAccount active_free[] = {
    { "primary", NOW + 3600 * SEC, NULL }, { "backup", 0, NULL },
  };

  /* The active backup still out, the primary back: switch for the quota. */
  g_assert_cmpint (cf_failover_after_reset (backup_out, 3, "backup", FALSE, NOW), ==, 2);
  g_assert_cmpint (cf_failover_after_reset (backup_out, 3, "backup", TRUE, NOW), ==, -1);
  g_assert_cmpint (cf_failover_after_reset (active_free, 2, "backup", FALSE, NOW), ==, -1);
  g_assert_cmpint (cf_failover_after_reset (two_out, 2, "backup", FALSE, NOW), ==, -1);
  g_assert_cmpint (cf_failover_after_reset (three_free, 3, "gone", FALSE, NOW), ==, -1);

  g_assert_true (cf_failover_recover_finishes (TRUE, "backup", "backup"));
  g_assert_false (cf_failover_recover_finishes (FALSE, "backup", "backup"));
  g_assert_false (cf_failover_recover_finishes (TRUE, "primary", "backup"));
  g_assert_false (cf_failover_recover_finishes (TRUE, NULL, "backup"));
}

/* --- the swap ping-pong, step by step --------------------------------------
 *
 * What the 96-second end-to-end failover test shows with real panes: the
 * primary runs out, the switch resumes the conversation on the backup, and
 * the resumed conversation redraws the primary's limit. Counted as a limit
 * of the backup, that line would switch straight back (and again, and
 * again). Here the same sequence goes through the decisions alone. */

static void
test_ping_pong (void)
{
  CfFailoverAccount accounts[] = { { "primary", 0, NULL }, { "backup", 0, NULL } };
  const char *const lines[] = { LINE_5H };
  CfLimitHistory history = { lines, 1, { RESET_5H, 0 } };
  CfLimitEvidence evidence = { 0 };
  CfQuotaSession session = { FALSE, FALSE, 0 };
  CfQuotaInput quota = { &session, 1, 1, 1, 0, COOLDOWN, 0 };
  CfExhaustedInput exhausted = { accounts, 2, "primary", 0, 0, 0, COOLDOWN };
  CfQuotaVerdict quota_verdict;
  CfExhaustedVerdict verdict;
  gint64 now = NOW, switched;

  /* 1. The primary's pool session shows its limit: blocked, exhausted. */
  g_assert_false (cf_failover_limit_is_history (NULL, FALSE, LINE_5H, RESET_5H));
  g_assert_cmpint (cf_failover_observe_limit (&evidence, TRUE, FALSE, RESET_5H, now), ==,
                   CF_LIMIT_STEP_BLOCK);
  session.blocked = TRUE;
  session.reset = RESET_5H;
  quota_verdict = cf_quota_policy_decide (&quota, now);
  g_assert_cmpint (quota_verdict.action, ==, CF_QUOTA_ACTION_EXHAUSTED);
  g_assert_cmpint (quota_verdict.reset, ==, RESET_5H);

  /* 2. The switcher: to the backup, a return armed at the reset. */
  accounts[0].exhausted_until = cf_failover_exhausted_until (quota_verdict.reset, UNKNOWN_RESET,
                                                             now);
  exhausted.until = accounts[0].exhausted_until;
  verdict = cf_failover_decide_exhausted (&exhausted, now);
  g_assert_cmpint (verdict.action, ==, CF_EXHAUSTED_SWITCH);
  g_assert_cmpstr (accounts[verdict.target].name, ==, "backup");
  switched = now + 2 * SEC;
  g_assert_cmpint (cf_failover_return_at (FALSE, accounts[0].exhausted_until, MARGIN, switched),
                   ==, RESET_5H + MARGIN);

  /* 3. The session is relaunched on the backup; its evidence became its
   * history. While launching, and then once its prompt is in, the
   * redrawn line (or a late StopFailure of the old Claude) is history:
   * no evidence, no exhaustion of the backup. */
  now = switched + 5 * SEC;
  session.blocked = FALSE;
  session.reset = 0;
  quota.last_swap = switched;
  g_assert_true (cf_failover_limit_is_history (&history, TRUE, NULL, 0));
  g_assert_true (cf_failover_limit_is_history (&history, FALSE, LINE_5H, RESET_5H));
  g_assert_true (cf_failover_limit_is_history (&history, FALSE, NULL, RESET_5H));
  quota_verdict = cf_quota_policy_decide (&quota, now);
  g_assert_cmpint (quota_verdict.action, ==, CF_QUOTA_ACTION_HOLD);

  /* 4. Even a real new limit on the backup within the cooldown does not
   * switch back to the still exhausted primary, nor anywhere: the
   * switcher is told once, and the pause covers the earliest reset. */
  g_assert_false (cf_failover_limit_is_history (&history, FALSE, LINE_WEEK, NOW + 86400 * SEC));
  session.blocked = TRUE;
  session.reset = NOW + 86400 * SEC;
  quota_verdict = cf_quota_policy_decide (&quota, now);
  g_assert_cmpint (quota_verdict.action, ==, CF_QUOTA_ACTION_EXHAUSTED);
  quota.cooldown_told = quota_verdict.cooldown_told;
  g_assert_cmpint (cf_quota_policy_decide (&quota, now + SEC).action, ==, CF_QUOTA_ACTION_TOLD);
  accounts[1].exhausted_until = quota_verdict.reset;
  exhausted.exhausted = "backup";
  exhausted.until = accounts[1].exhausted_until;
  exhausted.last_swap = switched;
  verdict = cf_failover_decide_exhausted (&exhausted, now);
  g_assert_cmpint (verdict.action, ==, CF_EXHAUSTED_ALL_OUT);
  g_assert_cmpint (verdict.until, ==, RESET_5H);

  /* 5. With a third account free, the cooldown still holds the switch. */
  {
    CfFailoverAccount three[] = { accounts[0], accounts[1], { "spare", 0, NULL } };

    exhausted.accounts = three;
    exhausted.n_accounts = 3;
    verdict = cf_failover_decide_exhausted (&exhausted, now);
    g_assert_cmpint (verdict.action, ==, CF_EXHAUSTED_COOLDOWN);
    verdict = cf_failover_decide_exhausted (&exhausted, switched + COOLDOWN);
    g_assert_cmpint (verdict.action, ==, CF_EXHAUSTED_SWITCH);
    g_assert_cmpstr (three[verdict.target].name, ==, "spare");
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/failover-policy/cooldown", test_cooldown);
  g_test_add_func ("/failover-policy/stale-and-reset", test_stale_and_reset);
  g_test_add_func ("/failover-policy/history", test_history);
  g_test_add_func ("/failover-policy/observe-limit", test_observe_limit);
  g_test_add_func ("/failover-policy/quota-decide", test_quota_decide);
  g_test_add_func ("/failover-policy/next-available", test_next_available);
  g_test_add_func ("/failover-policy/decide-exhausted", test_decide_exhausted);
  g_test_add_func ("/failover-policy/return", test_return);
  g_test_add_func ("/failover-policy/after-reset-and-recovery", test_after_reset_and_recovery);
  g_test_add_func ("/failover-policy/ping-pong", test_ping_pong);
  return g_test_run ();
}
