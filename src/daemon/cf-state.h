/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-usage.h"

G_BEGIN_DECLS

/* The daemon's state (ARCHITECTURE.md 4.3): sessions, accounts, the swap
 * journal, counters. Components change it through the setters here; every
 * change marks the store dirty (persisted, debounced) and emits "changed"
 * with the CfStateChange flags, plus "session-changed" for a session. */

#define CF_STATE_VERSION 1

typedef enum {
  CF_SESSION_POOL,
  CF_SESSION_DEDICATED,
} CfSessionKind;

typedef enum {
  CF_SESSION_IDLE,
  CF_SESSION_LAUNCHING,
  CF_SESSION_WORKING,
  CF_SESSION_STALLED,
  CF_SESSION_FAILED,
  CF_SESSION_DEAD,
  CF_SESSION_BLOCKED,           /* waiting on a usage limit (ARCHITECTURE.md 4.9) */
  CF_SESSION_NEEDS_INPUT,       /* a dialog, menu or permission question waits for a person */
} CfSessionState;

#define CF_SESSION_STATE_LAST CF_SESSION_NEEDS_INPUT

typedef enum {
  CF_SWAP_NORMAL,
  CF_SWAP_SAVING,
  CF_SWAP_SWITCHING,
  CF_SWAP_RESUMING,
  CF_SWAP_FALLBACK,
} CfSwapState;

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
  CF_STATE_CHANGE_PERSISTENCE = 1 << 10,   /* the state file became (un)writable */
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

typedef struct {
  char *name;
  gint64 exhausted_until;      /* µs since epoch, 0 = available */
  CfUsage usage;               /* as last read; age it with cf_usage_window_at () */
  char *problem;               /* "" or why the account is unusable (ARCHITECTURE.md 4.9) */
} CfAccountState;

typedef enum {
  CF_COUNTER_DISPATCHED,
  CF_COUNTER_COMPLETED,
  CF_COUNTER_FAILED,
  CF_COUNTER_DELEGATED,
  CF_COUNTER_COUNT,
} CfCounter;

/* Events counted for /metrics only: since start, not persisted, no signal
 * (read when scraped). Task outcomes are counted by cf_state_task_finished;
 * the others by the component that sees them. */
typedef enum {
  CF_EVENT_TASK_DONE,
  CF_EVENT_TASK_FAILED,
  CF_EVENT_TASK_REQUEUED,
  CF_EVENT_TASK_TIMEOUT,
  CF_EVENT_TASK_CANCELLED,
  CF_EVENT_TASK_DELEGATED_DONE,
  CF_EVENT_TASK_DELEGATED_FAILED,
  CF_EVENT_SWAP_SUCCEEDED,         /* switcher: a switch completed */
  CF_EVENT_SWAP_FAILED,            /* switcher: a switch failed (rolled back or partial) */
  CF_EVENT_LIMIT_BY_HOOK,          /* quota: a session blocked, by a StopFailure hook */
  CF_EVENT_LIMIT_BY_PANE,          /* quota: a session blocked, by its pane */
  CF_EVENT_LIMIT_VETOED,           /* quota: a pane poll whose limit match 5xx text vetoed */
  CF_EVENT_DONE_BY_HOOK,           /* watcher: completion from the Stop hook */
  CF_EVENT_DONE_BY_SIGNAL_FILE,    /* watcher: completion from the done-signal file */
  CF_EVENT_DONE_BY_PANE,           /* watcher: completion from a stable idle pane */
  CF_EVENT_DONE_BY_IDLE_TIMEOUT,   /* watcher: dispatcher.idle_timeout reached */
  CF_EVENT_NOTIFY_TELEGRAM_SENT,
  CF_EVENT_NOTIFY_TELEGRAM_FAILED,
  CF_EVENT_NOTIFY_EMAIL_SENT,
  CF_EVENT_NOTIFY_EMAIL_FAILED,
  CF_EVENT_NOTIFY_WEBHOOK_SENT,    /* notifications.webhooks, all of them */
  CF_EVENT_NOTIFY_WEBHOOK_FAILED,
  CF_EVENT_NOTIFY_DROPPED,         /* queue full: the oldest pending one was dropped */
  CF_EVENT_NOTIFY_COALESCED,       /* identical to one sent moments before: merged */
  CF_EVENT_COUNT,
} CfEvent;

const char *cf_session_kind_to_string (CfSessionKind kind);
const char *cf_session_state_to_string (CfSessionState state);
gboolean cf_session_state_from_string (const char *text, CfSessionState *out);
/* TRUE for working, stalled, blocked and needs-input: Claude runs the
 * session's task (LAUNCHING excluded: the prompt is not typed yet). */
gboolean cf_session_state_holds_task (CfSessionState state);
const char *cf_swap_state_to_string (CfSwapState state);
/* TRUE for saving, switching, resuming: a switch is running. Fallback is a
 * resting state (on a backup account, return scheduled). */
gboolean cf_swap_state_in_progress (CfSwapState state);
gboolean cf_swap_state_from_string (const char *text, CfSwapState *out);

#define CF_TYPE_STATE (cf_state_get_type ())
G_DECLARE_FINAL_TYPE (CfState, cf_state, CF, STATE, GObject)

/* An empty, unsaved store bound to PATH (NULL = in memory only). */
CfState *cf_state_new (const char *path);

/* Reads PATH if it exists. A file that cannot be parsed is renamed to
 * PATH.corrupt-<unix time>, reported in *quarantined_to (newly allocated),
 * and the store starts clean; only I/O failures other than "absent" and a
 * failed quarantine return FALSE. */
gboolean cf_state_load (CfState *self, char **quarantined_to, GError **error);

/* Completes once every change made before the call is on disk (written
 * now, not after the debounce): the swap journal waits on it before each
 * step. Fails when the write fails (the store stays dirty and retries). */
void cf_state_flush_async (CfState *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
gboolean cf_state_flush_finish (CfState *self, GAsyncResult *result, GError **error);
/* Writes now, synchronously (start-up and shutdown only). */
gboolean cf_state_save_sync (CfState *self, GError **error);
/* Persistence on change: debounced (DEBOUNCE_MS after the first change) and a
 * periodic flush every PERIOD_MS when dirty; writes run in a worker thread. */
void cf_state_enable_autosave (CfState *self, guint debounce_ms, guint period_ms);
gboolean cf_state_is_dirty (CfState *self);
guint64 cf_state_get_write_count (CfState *self);
/* Serialises to JSON (what would be written). */
char *cf_state_to_json (CfState *self);
/* Parses JSON produced by cf_state_to_json into SELF (replacing its content). */
gboolean cf_state_from_json (CfState *self, const char *json, gssize length, GError **error);

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
void cf_state_set_session_account (CfState *self, const char *name, const char *account);
void cf_state_set_session_resume_uuid (CfState *self, const char *name, const char *uuid);
void cf_state_mark_session_failed (CfState *self, const char *name, gint64 when);
void cf_state_set_session_pane (CfState *self, const char *name, const char *pane_id);
/* The session whose pane is PANE_ID ("%12"), or NULL. */
CfSession *cf_state_find_session_by_pane (CfState *self, const char *pane_id);
/* The session working on PROJECT/TASK (launching or working), or NULL. */
CfSession *cf_state_find_session_by_task (CfState *self, const char *project, const char *task);

/* Task events: counted here and re-emitted as "task-dispatched" (project,
 * task, session, model, account) and "task-finished" (project, task,
 * session, outcome) for the bus. OUTCOME is one of done, failed, requeued,
 * timeout, cancelled, delegated-done, delegated-failed. */
void cf_state_task_dispatched (CfState *self, const char *project, const char *task,
                               const char *session, const char *model, const char *account);
void cf_state_task_finished (CfState *self, const char *project, const char *task,
                             const char *session, const char *outcome);

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

CfSwapState cf_state_get_swap_state (CfState *self);
void cf_state_set_swap_journal (CfState *self, CfSwapState step, const char *from,
                                const char *to);
const char *cf_state_get_swap_from (CfState *self);
const char *cf_state_get_swap_to (CfState *self);
/* Why the journaled switch runs: "quota", "manual", "return", "reset". */
const char *cf_state_get_swap_reason (CfState *self);
void cf_state_set_swap_reason (CfState *self, const char *reason);
gboolean cf_state_get_partial_swap (CfState *self);
void cf_state_set_partial_swap (CfState *self, gboolean partial);
void cf_state_get_last_swap (CfState *self, gint64 *when, const char **from, const char **to);
/* Also records the journal's reason (cf_state_get_swap_reason ()) as the
 * last switch's reason, persisted: "" when none was journaled. */
void cf_state_set_last_swap (CfState *self, gint64 when, const char *from, const char *to);
const char *cf_state_get_last_swap_reason (CfState *self);
gint64 cf_state_get_return_at (CfState *self);
void cf_state_set_return_at (CfState *self, gint64 when);
/* DispatchPaused: by the operator, or because every account is exhausted. */
gboolean cf_state_get_dispatch_paused (CfState *self);
gboolean cf_state_get_operator_paused (CfState *self);
void cf_state_set_dispatch_paused (CfState *self, gboolean paused);
/* Every account exhausted: dispatch paused until UNTIL (µs epoch), 0 = not. */
gint64 cf_state_get_all_exhausted_until (CfState *self);
void cf_state_set_all_exhausted_until (CfState *self, gint64 until);
guint cf_state_get_pending_tasks (CfState *self);
void cf_state_set_pending_tasks (CfState *self, guint count);
/* `<claude_command> --version` ("2.1.332"), "" = unknown. */
const char *cf_state_get_claude_version (CfState *self);
void cf_state_set_claude_version (CfState *self, const char *version);
guint64 cf_state_get_counter (CfState *self, CfCounter counter);
void cf_state_increment_counter (CfState *self, CfCounter counter);
void cf_state_count_event (CfState *self, CfEvent event);
guint64 cf_state_get_event_count (CfState *self, CfEvent event);

/* The error of the last failed write of the state file, NULL once a write
 * succeeds again; a change emits "changed" with CF_STATE_CHANGE_PERSISTENCE. */
const char *cf_state_get_write_error (CfState *self);

G_END_DECLS
