/* SPDX-License-Identifier: MIT */
/* The names of the state's values, as the state file and the bus spell them. */
#include "cf-state-types.h"

static const char *const session_kind_names[] = { "pool", "dedicated" };
static const char *const session_state_names[] = {
  "idle", "launching", "working", "stalled", "failed", "dead", "blocked", "needs-input",
};
G_STATIC_ASSERT (G_N_ELEMENTS (session_state_names) == CF_SESSION_STATE_LAST + 1);
static const char *const swap_state_names[] = {
  "normal", "saving", "switching", "resuming", "fallback",
};

static gboolean
lookup_name (const char *const *names, guint n, const char *text, guint *out)
{
  for (guint i = 0; text != NULL && i < n; i++)
    if (g_str_equal (names[i], text))
      {
        *out = i;
        return TRUE;
      }
  return FALSE;
}

const char *
cf_session_kind_to_string (CfSessionKind kind)
{
  g_return_val_if_fail ((guint) kind < G_N_ELEMENTS (session_kind_names), "pool");
  return session_kind_names[kind];
}

gboolean
cf_session_kind_from_string (const char *text, CfSessionKind *out)
{
  guint i;

  if (!lookup_name (session_kind_names, G_N_ELEMENTS (session_kind_names), text, &i))
    return FALSE;
  *out = i;
  return TRUE;
}

const char *
cf_session_state_to_string (CfSessionState state)
{
  g_return_val_if_fail ((guint) state < G_N_ELEMENTS (session_state_names), "dead");
  return session_state_names[state];
}

gboolean
cf_session_state_from_string (const char *text, CfSessionState *out)
{
  guint i;

  if (!lookup_name (session_state_names, G_N_ELEMENTS (session_state_names), text, &i))
    return FALSE;
  *out = i;
  return TRUE;
}

gboolean
cf_session_state_holds_task (CfSessionState state)
{
  return state == CF_SESSION_WORKING || state == CF_SESSION_STALLED ||
         state == CF_SESSION_BLOCKED || state == CF_SESSION_NEEDS_INPUT;
}

const char *
cf_swap_state_to_string (CfSwapState state)
{
  g_return_val_if_fail ((guint) state < G_N_ELEMENTS (swap_state_names), "normal");
  return swap_state_names[state];
}

gboolean
cf_swap_state_from_string (const char *text, CfSwapState *out)
{
  guint i;

  if (!lookup_name (swap_state_names, G_N_ELEMENTS (swap_state_names), text, &i))
    return FALSE;
  *out = i;
  return TRUE;
}

gboolean
cf_swap_state_in_progress (CfSwapState state)
{
  return state == CF_SWAP_SAVING || state == CF_SWAP_SWITCHING || state == CF_SWAP_RESUMING;
}
