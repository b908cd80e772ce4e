/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The reactive failover decisions (ARCHITECTURE.md 4.9, issue 15 item 3):
 * when a session's limit evidence blocks it, when the blocked sessions
 * make the active account exhausted, which account comes next, when a
 * switch waits for quota.reactivate_cooldown, when every account is out,
 * and when to return to the primary. Each is a pure function of evidence,
 * configuration and NOW (µs since the epoch): no clock, no state, no logs.
 * cf-quota.c and cf-switcher.c gather the evidence, call these, log and
 * act. The proactive (usage) decision is cf-usage-policy.h. */

/* TRUE within COOLDOWN after SINCE (0 = never): the guard that keeps two
 * accounts from switching back and forth (quota.reactivate_cooldown). */
gboolean cf_failover_in_cooldown (gint64 since, gint64 cooldown, gint64 now);

/* ---- one session's limit evidence (cf-quota.c) --------------------------- */

/* A limit line whose reset (µs, 0 = none) is not after NOW is an old line
 * still on screen, not a limit now. */
gboolean cf_failover_limit_is_stale (gboolean limit, gint64 reset, gint64 now);

/* The reset a limit message gives that is worth keeping: RESET when it is
 * still ahead, else 0 (unknown). */
gint64 cf_failover_reset_to_keep (gint64 reset, gint64 now);

/* What stopped a session's Claude before it was relaunched: the limit
 * lines it showed and their resets (µs, 0 = none). */
typedef struct {
  const char *const *lines;
  guint n_lines;
  gint64 resets[2];
} CfLimitHistory;

/* TRUE when a limit seen now in a session with HISTORY (NULL = none) is
 * that history redrawn by the resumed conversation, not a limit of the
 * account it runs on: the session is still LAUNCHING (anything it shows,
 * or a late StopFailure hook of the Claude it replaced, is old), or LINE
 * (the screen line, NULL for a hook) or RESET (µs, 0 = none) is one of the
 * history's. Without it the next account gets the blame and the switch
 * ping-pongs back. */
gboolean cf_failover_limit_is_history (const CfLimitHistory *history, gboolean launching,
                                       const char *line, gint64 reset);

/* The evidence a session has given so far. */
typedef struct {
  gboolean exists;
  gboolean blocked;            /* counts toward the switch */
  gboolean from_hook;          /* a StopFailure hook said it */
  guint unconfirmed;           /* consecutive polls with a limit but no reset time */
} CfLimitEvidence;

typedef enum {
  CF_LIMIT_STEP_NONE,          /* nothing changes */
  CF_LIMIT_STEP_CLEAR,         /* no limit any more: the evidence goes, the session is unblocked */
  CF_LIMIT_STEP_KEEP,          /* still blocked: only the line's pattern and text are new */
  CF_LIMIT_STEP_BLOCK,         /* a limit with a reset time: blocked now */
  CF_LIMIT_STEP_SUSPECT,       /* a limit without a reset time: the next poll must confirm it */
  CF_LIMIT_STEP_CONFIRM,       /* the second poll in a row: blocked */
} CfLimitStep;

/* What a pane reading does to EVIDENCE: LIMIT (the pane shows a usage
 * limit, after the vetoes), BUSY (Claude is working), RESET (µs of the
 * limit's first reading, 0 = none). A hook's evidence is cleared only by a
 * pane that works again: the pane may not have drawn the line yet. */
CfLimitStep cf_failover_observe_limit (const CfLimitEvidence *evidence, gboolean limit,
                                       gboolean busy, gint64 reset, gint64 now);

const char *cf_limit_step_to_string (CfLimitStep step);

/* ---- the account's exhaustion (cf-quota.c) ------------------------------- */

/* One session Claude runs in on the active account. */
typedef struct {
  gboolean dedicated;          /* else a pool session */
  gboolean blocked;
  gint64 reset;                /* µs of its limit's reset, 0 = unknown */
} CfQuotaSession;

typedef struct {
  const CfQuotaSession *sessions;
  guint n_sessions;
  guint pool_threshold;        /* quota.pool_threshold */
  guint dedicated_threshold;   /* quota.dedicated_threshold */
  gint64 last_swap;            /* µs of the last switch, 0 = none */
  gint64 cooldown;             /* quota.reactivate_cooldown, µs */
  gint64 cooldown_told;        /* the LAST_SWAP whose cooldown the switcher was told of */
} CfQuotaInput;

typedef enum {
  CF_QUOTA_ACTION_HOLD,        /* not enough sessions blocked */
  CF_QUOTA_ACTION_TOLD,        /* exhausted within the cooldown, already told: nothing */
  CF_QUOTA_ACTION_EXHAUSTED,   /* the account is exhausted: tell the switcher */
} CfQuotaAction;

typedef struct {
  CfQuotaAction action;
  guint running[2];            /* [0] pool, [1] dedicated */
  guint blocked[2];
  guint need[2];               /* the thresholds, capped at the sessions running */
  gint64 reset;                /* EXHAUSTED: the latest reset of the blocked sessions, 0 = unknown */
  gint64 cooldown_told;        /* to remember for the next decision */
} CfQuotaVerdict;

/* The account is exhausted once quota.pool_threshold of its running pool
 * sessions (or all of them, when fewer run), or quota.dedicated_threshold
 * of its dedicated ones, are blocked. Within quota.reactivate_cooldown of
 * the last switch the switcher will not switch again: it is told once (it
 * may still have to pause dispatch). */
CfQuotaVerdict cf_quota_policy_decide (const CfQuotaInput *input, gint64 now);

const char *cf_quota_action_to_string (CfQuotaAction action);

/* ---- the switcher's choices (cf-switcher.c) ------------------------------ */

typedef struct {
  const char *name;
  gint64 exhausted_until;      /* µs; <= now = not exhausted */
  const char *problem;         /* NULL or "" = usable */
} CfFailoverAccount;

/* The index of the account after EXCLUDE in ACCOUNTS (configured order,
 * wrapping) that is available at NOW (not exhausted, no problem); -1 when
 * none. */
gint cf_failover_next_available (const CfFailoverAccount *accounts, guint n_accounts,
                                 const char *exclude, gint64 now);

/* When an account exhausted by a limit whose reset is RESET (µs, 0 or past
 * = unknown) is back: RESET, or NOW + UNKNOWN_RESET. */
gint64 cf_failover_exhausted_until (gint64 reset, gint64 unknown_reset, gint64 now);

typedef struct {
  const CfFailoverAccount *accounts;   /* configured order, the new exhaustion included */
  guint n_accounts;
  const char *exhausted;       /* the active account that ran out */
  gint64 until;                /* cf_failover_exhausted_until() of it */
  gint64 last_swap;            /* µs of the last switch, 0 = none */
  gint64 last_failure;         /* µs of the last failed automatic switch, 0 = none */
  gint64 cooldown;             /* quota.reactivate_cooldown, µs */
} CfExhaustedInput;

typedef enum {
  CF_EXHAUSTED_SWITCH,         /* switch to TARGET, reason "quota" */
  CF_EXHAUSTED_COOLDOWN,       /* the last switch was SINCE µs ago: no new one */
  CF_EXHAUSTED_RETRY_COOLDOWN, /* the last switch failed SINCE µs ago: no retry */
  CF_EXHAUSTED_ALL_OUT,        /* no account left: pause dispatch until UNTIL */
} CfExhaustedAction;

typedef struct {
  CfExhaustedAction action;
  gint target;                 /* SWITCH: an index of the input's accounts */
  gint64 since;                /* COOLDOWN, RETRY_COOLDOWN */
  gint64 until;                /* ALL_OUT: the earliest exhaustion's end */
} CfExhaustedVerdict;

/* The active account is exhausted and a switch is allowed (no switch in
 * progress, no partial swap): where to. */
CfExhaustedVerdict cf_failover_decide_exhausted (const CfExhaustedInput *input, gint64 now);

const char *cf_exhausted_action_to_string (CfExhaustedAction action);

/* When the switcher returns to the primary after a switch to TO_PRIMARY
 * (FALSE: to a backup): the primary's exhaustion's end plus RETURN_MARGIN;
 * 0 = no return timer (on the primary, or the primary not exhausted). */
gint64 cf_failover_return_at (gboolean to_primary, gint64 primary_exhausted_until,
                              gint64 return_margin, gint64 now);

typedef struct {
  gboolean busy;               /* a switch in progress or a partial swap */
  gboolean on_primary;
  gint64 primary_exhausted_until;
  const char *primary_problem; /* NULL or "" = usable */
  gboolean layout_broken;      /* the account layout needs fixing */
  gint64 return_margin;        /* quota.return_margin, µs */
  gint64 cooldown;             /* quota.reactivate_cooldown, µs */
} CfReturnInput;

typedef enum {
  CF_RETURN_RETRY,             /* busy: ask again a little later */
  CF_RETURN_ARRIVED,           /* already on the primary: no return pending */
  CF_RETURN_WAIT,              /* newer evidence pushed the primary's reset: wait until AT */
  CF_RETURN_UNUSABLE,          /* the primary has a problem: the operator switches back */
  CF_RETURN_LAYOUT,            /* the layout is broken: try again at AT */
  CF_RETURN_SWITCH,            /* switch back now, reason "return" */
} CfReturnAction;

typedef struct {
  CfReturnAction action;
  gint64 at;                   /* WAIT, LAYOUT: the new return time */
} CfReturnVerdict;

/* The return timer went off. */
CfReturnVerdict cf_failover_decide_return (const CfReturnInput *input, gint64 now);

const char *cf_return_action_to_string (CfReturnAction action);

/* The earliest account reset has passed (end of a total exhaustion): the
 * index of the account to switch to, for the quota, when the ACTIVE one is
 * still out and another is available; -1 = stay. PARTIAL: a partial swap
 * refuses switches. */
gint cf_failover_after_reset (const CfFailoverAccount *accounts, guint n_accounts,
                              const char *active, gboolean partial, gint64 now);

/* A switch journaled when the daemon died, its journal past SAVING when
 * SAVED: TRUE to finish it (the link, LINKED, already names TO), FALSE to
 * roll it back. */
gboolean cf_failover_recover_finishes (gboolean saved, const char *linked, const char *to);

G_END_DECLS
