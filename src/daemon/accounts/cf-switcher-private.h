/* SPDX-License-Identifier: MIT */
#pragma once

/* Inside the switcher, shared by its two files: cf-switcher.c decides when
 * to switch (entry points, timers, start-up) and cf-switcher-steps.c runs
 * one switch through its journaled steps (saving, switching, resuming, its
 * end or rollback, the recovery of a switch a crash interrupted). Nothing
 * else includes this. */

#include "cf-switcher.h"

G_BEGIN_DECLS

typedef struct _Swap Swap;

struct _CfSwitcher {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfStateStore *store;          /* the journal waits on it */
  CfTmux *tmux;
  CfWatcher *watcher;
  CfDispatcher *dispatcher;
  CfQuota *quota;
  GCancellable *cancellable;   /* NULL when stopped */

  Swap *swap;                  /* the switch in progress, or NULL */
  gint64 last_failure;         /* µs epoch of the last failed automatic switch */
  gboolean return_checking;    /* the return timer's layout check is running */
  guint return_timer;
  guint reset_timer;
  guint expiry_timer;          /* the next account exhaustion to expire */
};

enum {
  CF_SWITCHER_SIGNAL_SWAP_STARTED,
  CF_SWITCHER_SIGNAL_SWAP_FINISHED,
  CF_SWITCHER_SIGNAL_ALL_EXHAUSTED,
  CF_SWITCHER_N_SIGNALS,
};
extern guint cf_switcher_signals[CF_SWITCHER_N_SIGNALS];

typedef void (*SwapStep) (Swap *swap);

struct _Swap {
  CfSwitcher *self;            /* strong */
  char *from;
  char *to;
  char *reason;
  SwapStep next;               /* runs once the journal is durable / ops are done */
  guint pending;               /* asynchronous operations of the current step */
  guint requeued;
  guint tasks_resumed;         /* pool tasks going on in their conversation */
  guint resumed;
  guint left_at_shell;
  /* A proactive (usage) switch: pool sessions are not killed; each
   * finishes its task on the old account and its next launch uses the new
   * one. Known from the reason after a crash. */
  gboolean draining;
  guint drained;
  char *why;                   /* a rollback in progress: why */
};

static inline const CfAccountConfig *
cf_switcher_primary_account (CfSwitcher *self)
{
  return g_ptr_array_index (self->config->accounts, 0);
}

static inline gint64
cf_switcher_account_exhausted_until (CfSwitcher *self, const char *name)
{
  CfAccountState *account = cf_state_lookup_account (self->state, name);

  return account != NULL ? account->exhausted_until : 0;
}

static inline gboolean
cf_switcher_has_claude_link (CfSwitcher *self)
{
  return self->config->claude_link != NULL && self->config->claude_link[0] != '\0';
}

/* cf-switcher-steps.c */
void cf_switcher_swap_begin (CfSwitcher *self, const char *from, const char *to,
                             const char *reason);
void cf_switcher_set_rest_state (CfSwitcher *self);
void cf_switcher_recover_journal (CfSwitcher *self);

/* cf-switcher.c */
void cf_switcher_arm_timers (CfSwitcher *self);

G_END_DECLS
