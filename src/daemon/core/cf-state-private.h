/* SPDX-License-Identifier: MIT */
#pragma once

/* CfState's fields, for the files that persist it (cf-state-json.c: the
 * file format; cf-state-store.c: loading it) and nobody else: every other
 * file goes through cf-state.h. */

#include "cf-state.h"

G_BEGIN_DECLS

struct _CfState {
  GObject parent_instance;

  GHashTable *sessions;        /* name → CfSession* */
  GPtrArray *accounts;         /* CfAccountState*, configured order */
  char *active_account;

  CfSwapJournal swap;          /* strings never NULL */
  gboolean dispatch_paused;    /* by the operator */
  gint64 all_exhausted_until;  /* every account out: dispatch paused until then, 0 = no */
  guint pending_tasks;
  char *claude_version;         /* `claude --version`, "" = unknown; not persisted */
  CfCounters *counters;        /* the registry; its task totals are persisted */
};

CfSession *cf_state_session_new (const char *name, CfSessionKind kind);
void cf_state_session_free (CfSession *session);
void cf_state_account_free (CfAccountState *account);
/* Back to an empty store: no session, no account, no journal, counters 0. */
void cf_state_reset_content (CfState *self);

G_END_DECLS
