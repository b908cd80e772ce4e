/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-counters.h"
#include "cf-state-types.h"
#include "cf-usage.h"

G_BEGIN_DECLS

/* The daemon's state model (ARCHITECTURE.md 4.3): sessions, accounts, the
 * swap journal, dispatch pause. Components change it through the setters
 * here; a change emits "changed" with the CfStateChange flags, plus
 * "session-changed" for a session. A change the state file records emits
 * "content-changed" first (before anyone hears "changed"): the store
 * (cf-state-store.h) persists it, in the format of cf-state-json.h. The
 * metrics registry (cf-counters.h) is its own object, handed out by
 * cf_state_get_counters (); only its task totals are in the state file.
 * Task events are not the state's: cf-task-events.h. */

#define CF_STATE_VERSION 1

typedef enum {
  CF_STATE_CHANGE_SESSIONS = 1 << 0,
  CF_STATE_CHANGE_ACTIVE_ACCOUNT = 1 << 1,
  CF_STATE_CHANGE_ACCOUNTS = 1 << 2,
  CF_STATE_CHANGE_SWAP_STATE = 1 << 3,
  CF_STATE_CHANGE_PARTIAL_SWAP = 1 << 4,
  CF_STATE_CHANGE_LAST_SWAP = 1 << 5,
  CF_STATE_CHANGE_RETURN_AT = 1 << 6,
  CF_STATE_CHANGE_DISPATCH_PAUSED = 1 << 7,
  CF_STATE_CHANGE_PENDING_TASKS = 1 << 8,
  CF_STATE_CHANGE_COUNTERS = 1 << 9,
  CF_STATE_CHANGE_USAGE = 1 << 11,         /* an account's usage or problem */
  CF_STATE_CHANGE_CLAUDE_VERSION = 1 << 12,
} CfStateChange;

typedef struct {
  char *name;
  CfSessionKind kind;
  CfSessionState state;
  char *project;               /* "" when none */
  char *task;                  /* "" when none */
  char *account;               /* account the running Claude was launched with, "" */
  gint64 since;                /* µs since epoch of the last state change */
  gint64 last_fail;            /* µs since epoch, 0 = never */
  char *resume_uuid;           /* "" when unknown */
  char *pane_id;               /* tmux pane ("%12") while alive, "" otherwise; not persisted */
} CfSession;

/* A session's text fields set by cf_state_set_session_text (). */
typedef enum {
  CF_SESSION_TEXT_ACCOUNT,     /* CfSession.account: "session-changed" */
  CF_SESSION_TEXT_RESUME_UUID, /* CfSession.resume_uuid: persisted, no "session-changed" */
  CF_SESSION_TEXT_PANE,        /* CfSession.pane_id: neither persisted nor signalled */
} CfSessionText;

typedef struct {
  char *name;
  gint64 exhausted_until;      /* µs since epoch, 0 = available */
  CfUsage usage;               /* as last read; age it with cf_usage_window_at () */
  char *problem;               /* "" or why the account is unusable (ARCHITECTURE.md 4.9) */
} CfAccountState;

typedef struct {
  CfSwapState step;
  char *from;
  char *to;
  char *reason;                /* why the switch runs: "quota", "manual", "return", "reset" */
  gboolean partial;
  gint64 last_when;            /* the last completed switch, 0 = never */
  char *last_from;
  char *last_to;
  char *last_reason;           /* the journal's reason when it completed */
  gint64 return_at;            /* µs since epoch, 0 = no return scheduled */
} CfSwapJournal;

/* Which fields cf_state_set_swap_journal () takes, grouped as they change. */
typedef enum {
  CF_SWAP_SET_STEP = 1 << 0,      /* step, from, to: "changed" SWAP_STATE */
  CF_SWAP_SET_REASON = 1 << 1,    /* reason: "changed" SWAP_STATE */
  CF_SWAP_SET_PARTIAL = 1 << 2,   /* partial: "changed" PARTIAL_SWAP */
  CF_SWAP_SET_LAST = 1 << 3,      /* last_when, last_from, last_to, and last_reason taken from
                                   * the journal's reason (not from VALUES): LAST_SWAP */
  CF_SWAP_SET_RETURN_AT = 1 << 4, /* return_at: "changed" RETURN_AT */
} CfSwapFields;

typedef struct {
  gboolean paused;             /* operator_paused || all_exhausted_until != 0 */
  gboolean operator_paused;    /* by the operator (PauseDispatch) */
  gint64 all_exhausted_until;  /* µs since epoch, 0 = not all exhausted */
} CfDispatchPause;

typedef struct {
  guint pending_tasks;         /* task files waiting in the inboxes */
  const char *claude_version;  /* `<claude_command> --version` ("2.1.332"), "" = unknown;
                                * borrowed, valid until the next change */
} CfDaemonFacts;

#define CF_TYPE_STATE (cf_state_get_type ())
G_DECLARE_FINAL_TYPE (CfState, cf_state, CF, STATE, GObject)

/* An empty state. */
CfState *cf_state_new (void);

/* Sessions, sorted by name. */
GPtrArray *cf_state_list_sessions (CfState *self);   /* borrowed CfSession*, container owned */
CfSession *cf_state_lookup_session (CfState *self, const char *name);
/* Adds NAME if unknown (state dead, since now) and returns it. */
CfSession *cf_state_ensure_session (CfState *self, const char *name, CfSessionKind kind);
void cf_state_remove_session (CfState *self, const char *name);
/* Each setter emits only when something changed. NULL strings mean "". */
void cf_state_set_session_state (CfState *self, const char *name, CfSessionState state);
void cf_state_set_session_work (CfState *self, const char *name, const char *project,
                                const char *task);
/* Both at once, one "session-changed": no view ever sees the state of one
 * with the work of the other (e.g. "working" without a task). */
void cf_state_set_session_state_and_work (CfState *self, const char *name, CfSessionState state,
                                          const char *project, const char *task);
void cf_state_set_session_text (CfState *self, const char *name, CfSessionText field,
                                const char *value);
void cf_state_mark_session_failed (CfState *self, const char *name, gint64 when);
/* The session whose pane is PANE_ID ("%12"), or NULL. */
CfSession *cf_state_find_session_by_pane (CfState *self, const char *pane_id);
/* The session working on PROJECT/TASK (launching or working), or NULL. */
CfSession *cf_state_find_session_by_task (CfState *self, const char *project, const char *task);

/* Accounts: the configured list is authoritative; SYNC keeps known exhaustion
 * for accounts still configured, drops the others, and fixes the active one. */
void cf_state_sync_accounts (CfState *self, const char *const *names);
GPtrArray *cf_state_list_accounts (CfState *self);   /* borrowed CfAccountState* */
const char *cf_state_get_active_account (CfState *self);
void cf_state_set_active_account (CfState *self, const char *name);
void cf_state_set_account_exhausted_until (CfState *self, const char *name, gint64 until);
CfAccountState *cf_state_lookup_account (CfState *self, const char *name);
/* Records a reading of window KIND of account NAME (cf_usage_record ()):
 * emits CF_STATE_CHANGE_USAGE when it changed anything. */
void cf_state_record_account_usage (CfState *self, const char *name, CfUsageWindowKind kind,
                                    double used, gint64 resets_at, CfUsageSource source,
                                    gint64 when);
void cf_state_set_account_problem (CfState *self, const char *name, const char *problem);
/* Forgets every usage window whose reset is at or before NOW (unknown
 * again, cf_usage_window_at ()), emitting CF_STATE_CHANGE_USAGE when one
 * was; returns the next reset after NOW (0 = none) for a timer. */
gint64 cf_state_expire_usage (CfState *self, gint64 now);

/* The journal of the running account switch and the last one: read-only,
 * valid until the next change; every string is "" when unset. */
const CfSwapJournal *cf_state_get_swap_journal (CfState *self);
/* Copies the FIELDS of VALUES into the journal (NULL strings mean ""; VALUES'
 * strings must not be the journal's own); each group of fields that changed
 * emits its own "changed", in the order of CfSwapFields. */
void cf_state_set_swap_journal (CfState *self, CfSwapFields fields, const CfSwapJournal *values);
/* DispatchPaused: by the operator, or because every account is exhausted
 * (dispatch paused until all_exhausted_until, µs epoch, 0 = not). */
CfDispatchPause cf_state_get_dispatch_pause (CfState *self);
/* Sets both (a negative UNTIL is 0); one "changed" DISPATCH_PAUSED when
 * either changed. */
void cf_state_set_dispatch_pause (CfState *self, gboolean operator_paused, gint64 until);
/* What the daemon learnt of its surroundings, not persisted. */
CfDaemonFacts cf_state_get_daemon_facts (CfState *self);
/* Sets both (NULL version = ""); one "changed" with the flag of each that
 * changed (PENDING_TASKS, CLAUDE_VERSION). */
void cf_state_set_daemon_facts (CfState *self, guint pending_tasks, const char *claude_version);
/* The metrics registry components count into (borrowed); its task totals
 * are persisted with the state, and a change of them is "changed"
 * CF_STATE_CHANGE_COUNTERS. */
CfCounters *cf_state_get_counters (CfState *self);

G_END_DECLS
