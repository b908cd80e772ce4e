/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-state.h"
#include "cf-state-store.h"

G_BEGIN_DECLS

/* Whether the daemon can do its job (HTTP /health, the daemon-degraded
 * notification). The daemon tells it about tmux and the bus name; the rest
 * comes from the state. A reason is a stable code: */
typedef enum {
  CF_HEALTH_TMUX_DISCONNECTED = 1 << 0,      /* "tmux-disconnected" */
  CF_HEALTH_BUS_NAME_NOT_OWNED = 1 << 1,     /* "bus-name-not-owned" */
  CF_HEALTH_PARTIAL_SWAP = 1 << 2,           /* "partial-swap" */
  CF_HEALTH_STATE_WRITE_FAILING = 1 << 3,    /* "state-write-failing" */
  CF_HEALTH_ALL_ACCOUNTS_EXHAUSTED = 1 << 4, /* "all-accounts-exhausted" */
  CF_HEALTH_FINISHED_TASK_STUCK = 1 << 5,    /* "finished-task-stuck" */
} CfHealthReason;

#define CF_HEALTH_N_REASONS 6

/* The code of one reason. */
const char *cf_health_reason_to_string (CfHealthReason reason);
/* REASONS (flags) as a translated, one-line-per-reason explanation. */
char *cf_health_describe (guint reasons);

#define CF_TYPE_HEALTH (cf_health_get_type ())
G_DECLARE_FINAL_TYPE (CfHealth, cf_health, CF, HEALTH, GObject)

/* Signal "degraded" (guint reasons) when reasons have held for GRACE_MS
 * without a break, once per new reason: a tmux reconnect or a bus hiccup
 * shorter than that is not worth a message. Starts with tmux disconnected
 * and the name not owned, until told otherwise. */
/* STORE (may be NULL) tells whether the state file can be written. */
CfHealth *cf_health_new (CfState *state, CfStateStore *store, guint grace_ms);

void cf_health_set_tmux_connected (CfHealth *self, gboolean connected);
void cf_health_set_bus_name_owned (CfHealth *self, gboolean owned);
/* N finished tasks cannot leave active/ (their move is retried): reason
 * "finished-task-stuck" while N > 0. It has its own notification
 * (task-stuck), so it alone never makes "degraded" fire. */
void cf_health_set_finished_tasks_stuck (CfHealth *self, guint n);

/* The reasons now (flags; 0 = healthy). NOW (µs since the epoch) decides
 * whether accounts are still exhausted. */
guint cf_health_get_reasons (CfHealth *self, gint64 now);

G_END_DECLS
