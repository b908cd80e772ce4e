/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the files of CfDispatcher only (cf-dispatcher.c,
 * cf-dispatcher-launch.c, cf-dispatcher-claim.c); nothing else includes it.
 * The instance, a launch in progress, the claim job, and the few calls one
 * file makes into another. */

#include "cf-dispatcher.h"

G_BEGIN_DECLS

struct _CfDispatcher {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfTaskEvents *task_events;
  CfTmux *tmux;
  CfInbox *inbox;
  CfHookRouter *hooks;
  CfAccountPrep *account_prep; /* NULL: no preparation before a launch */
  GHashTable *prepared;        /* "home\nproject" prepared since the last config */
  GCancellable *cancellable;

  GHashTable *launches;        /* session name → Launch* */
  GHashTable *last_served;     /* project → GSIZE sequence of its last launch */
  GHashTable *locked_out;      /* project → gint64* monotonic µs before which it is not tried */
  GHashTable *waiting;         /* "project\nid" → why it waits (depends_on), until a task of
                                  the project finishes or CF_DISPATCHER_WAITING_USEC passed */
  guint waiting_id;            /* re-checks the waiting tasks */
  gsize served_seq;
  guint kick_id;
  guint cooldown_id;           /* kicks when the earliest cooldown seen ends */
  gint64 cooldown_at;          /* µs epoch it is armed for, 0 = none */
  guint locked_out_id;         /* kicks when the earliest locked-out project may be tried */
  CfTaskFilter *task_filter;
  /* lifecycle.start_stagger: after a switch or a pause, launches go out
   * one at a time, this far apart, until a round has nothing to launch. */
  gboolean staggering;
  gint64 last_staggered_start; /* monotonic µs */
};

enum {
  SIGNAL_RESUME_FAILED,
  SIGNAL_PROMPT_READY,
  SIGNAL_LAUNCH_LIMITED,
  SIGNAL_TURN_STARTED,
  N_SIGNALS,
};
extern guint cf_dispatcher_signals[N_SIGNALS];

typedef enum {
  STAGE_CHECK_SESSION,
  STAGE_CLAIM,
  STAGE_READ_TASK,             /* a resume that failed: the task's text again */
  STAGE_WORKTREE,              /* isolation: worktree — the task's own git worktree */
  STAGE_PREPARE,               /* the account home trusts the project (prepare_accounts) */
  STAGE_RESPAWN,
  STAGE_WAIT_READY,
  STAGE_PASTE,
  STAGE_WAIT_PASTE,
  STAGE_CONFIRM,
  STAGE_DONE,
} Stage;

typedef struct {
  CfDispatcher *self;          /* strong while the launch lives */
  char *session;
  char *project;
  char *task_id;
  char *cwd;                   /* where the session works: the project, or the task's worktree */
  gboolean worktree;           /* the task works in a worktree of its own */
  gboolean worktree_asked;     /* ...because its frontmatter says so (else projects.isolation) */
  char *account;
  char *home;
  char *model;
  char *message;
  char *uuid;                  /* the conversation: pre-assigned, or the one resumed */
  gboolean resuming;           /* --resume UUID after a switch, not a new conversation */
  char *before_paste;          /* pane text just before the paste */
  guint attempt;
  gboolean claimed;
  gboolean confirmed;          /* UserPromptSubmit hook seen */
  gboolean enter_retried;
  gboolean session_died;       /* cancelled because the session disappeared */
  char *abort_reason;          /* account switch: end at the next step, attempt not counted */
  Stage stage;
  gint64 deadline;             /* monotonic µs for the current wait */
  gint64 confirm_started;
  gint64 dead_checked;         /* monotonic µs of the last pane-dead query */
  guint timer_id;
  GCancellable *cancellable;
} Launch;

typedef struct {
  char *project;
  char *task_id;
  char *session;
  char *account;
  char *model_override;
  CfConfig *config;
  /* results */
  char *model;
  char *message;
  guint attempt;
  gboolean exhausted;          /* attempts used up: moved to failed/ */
  gboolean worktree;           /* isolation: worktree, by the task or projects.isolation */
  gboolean worktree_asked;     /* by the task itself */
  char *waiting;               /* depends_on not met yet: why (nothing was moved) */
  gboolean rejected;           /* unreadable task: moved to failed/ */
} ClaimJob;


/* cf-dispatcher.c: choosing work. */
void cf_dispatcher_arm_locked_out_timer (CfDispatcher *self);
void cf_dispatcher_arm_waiting_timer (CfDispatcher *self);

/* cf-dispatcher-launch.c: the launch sequence. */
void cf_dispatcher_launch_step (Launch *launch);
void cf_dispatcher_launch_free (Launch *launch);

/* cf-dispatcher-claim.c: the worker-thread jobs. */
GTask *cf_dispatcher_launch_job_new (Launch *launch, GAsyncReadyCallback callback);
void cf_dispatcher_claim_in_thread (GTask *task, gpointer source, gpointer data,
                                    GCancellable *cancellable);
void cf_dispatcher_read_active_in_thread (GTask *task, gpointer source, gpointer data,
                                          GCancellable *cancellable);

G_END_DECLS
