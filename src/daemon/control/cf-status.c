/* SPDX-License-Identifier: MIT */
#include "cf-status.h"

#include "cf-build-config.h"

typedef GVariant *(*ValueFunc) (CfState *state, const CfConfig *config, gint64 now);

static GVariant *
value_version (CfState *state, const CfConfig *config, gint64 now)
{
  return g_variant_new_string (PACKAGE_VERSION);
}

static GVariant *
value_active_account (CfState *state, const CfConfig *config, gint64 now)
{
  return g_variant_new_string (cf_state_get_active_account (state));
}

static GVariant *
value_accounts (CfState *state, const CfConfig *config, gint64 now)
{
  g_autoptr(GPtrArray) accounts = cf_state_list_accounts (state);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ssbt)"));
  for (guint i = 0; i < accounts->len; i++)
    {
      CfAccountState *account = g_ptr_array_index (accounts, i);
      const CfAccountConfig *configured = cf_config_find_account (config, account->name);

      g_variant_builder_add (&builder, "(ssbt)", account->name,
                             configured ? configured->home : "",
                             account->exhausted_until <= now,
                             (guint64) MAX (account->exhausted_until, 0));
    }
  return g_variant_builder_end (&builder);
}

static GVariant *
value_swap_state (CfState *state, const CfConfig *config, gint64 now)
{
  return g_variant_new_string (cf_swap_state_to_string (cf_state_get_swap_journal (state)->step));
}

static GVariant *
value_partial_swap (CfState *state, const CfConfig *config, gint64 now)
{
  return g_variant_new_boolean (cf_state_get_swap_journal (state)->partial);
}

static GVariant *
value_last_swap (CfState *state, const CfConfig *config, gint64 now)
{
  const CfSwapJournal *swap = cf_state_get_swap_journal (state);

  return g_variant_new ("(tss)", (guint64) MAX (swap->last_when, 0), swap->last_from,
                        swap->last_to);
}

static GVariant *
value_return_at (CfState *state, const CfConfig *config, gint64 now)
{
  return g_variant_new_uint64 ((guint64) MAX (cf_state_get_swap_journal (state)->return_at, 0));
}

static GVariant *
value_dispatch_paused (CfState *state, const CfConfig *config, gint64 now)
{
  return g_variant_new_boolean (cf_state_get_dispatch_pause (state).paused);
}

/* Why DispatchPaused is true: "operator" (PauseDispatch), "accounts-exhausted"
 * (every account is out until DispatchResumesAt), or "" when it is not. */
static GVariant *
value_dispatch_paused_reason (CfState *state, const CfConfig *config, gint64 now)
{
  if (cf_state_get_dispatch_pause (state).operator_paused)
    return g_variant_new_string ("operator");
  return g_variant_new_string (cf_state_get_dispatch_pause (state).all_exhausted_until != 0
                               ? "accounts-exhausted" : "");
}

/* When dispatch resumes by itself (the earliest reset + return_margin), 0 =
 * not paused, or paused until an operator resumes it. */
static GVariant *
value_dispatch_resumes_at (CfState *state, const CfConfig *config, gint64 now)
{
  CfDispatchPause pause = cf_state_get_dispatch_pause (state);

  if (pause.operator_paused)
    return g_variant_new_uint64 (0);
  return g_variant_new_uint64 ((guint64) MAX (pause.all_exhausted_until, 0));
}

static GVariant *
value_sessions (CfState *state, const CfConfig *config, gint64 now)
{
  g_autoptr(GPtrArray) sessions = cf_state_list_sessions (state);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sssssst)"));
  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *s = g_ptr_array_index (sessions, i);

      /* Built field by field: a format string is parsed on every call, and
       * this runs once per session per GetStatus. */
      GVariant *fields[] = {
        g_variant_new_string (s->name),
        g_variant_new_string (cf_session_kind_to_string (s->kind)),
        g_variant_new_string (cf_session_state_to_string (s->state)),
        g_variant_new_string (s->project),
        g_variant_new_string (s->task),
        g_variant_new_string (s->account),
        g_variant_new_uint64 ((guint64) MAX (s->since, 0)),
      };

      g_variant_builder_add_value (&builder, g_variant_new_tuple (fields, G_N_ELEMENTS (fields)));
    }
  return g_variant_builder_end (&builder);
}

static GVariant *
value_pending_tasks (CfState *state, const CfConfig *config, gint64 now)
{
  return g_variant_new_uint32 (cf_state_get_daemon_facts (state).pending_tasks);
}

static GVariant *
value_claude_version (CfState *state, const CfConfig *config, gint64 now)
{
  return g_variant_new_string (cf_state_get_daemon_facts (state).claude_version);
}

static GVariant *
value_tasks_dispatched (CfState *state, const CfConfig *config, gint64 now)
{
  return g_variant_new_uint64 (cf_counters_get_since_start (cf_state_get_counters (state),
                                                            CF_COUNTER_DISPATCHED));
}

static GVariant *
value_tasks_completed (CfState *state, const CfConfig *config, gint64 now)
{
  return g_variant_new_uint64 (cf_counters_get_since_start (cf_state_get_counters (state),
                                                            CF_COUNTER_COMPLETED));
}

static GVariant *
value_tasks_failed (CfState *state, const CfConfig *config, gint64 now)
{
  return g_variant_new_uint64 (cf_counters_get_since_start (cf_state_get_counters (state),
                                                            CF_COUNTER_FAILED));
}

static GVariant *
value_tasks_delegated (CfState *state, const CfConfig *config, gint64 now)
{
  return g_variant_new_uint64 (cf_counters_get_since_start (cf_state_get_counters (state),
                                                            CF_COUNTER_DELEGATED));
}

/* Each account's windows as they stand at NOW (a window past its reset is
 * unknown again): -1 % and reset 0 when unknown. */
static GVariant *
value_usage (CfState *state, const CfConfig *config, gint64 now)
{
  g_autoptr(GPtrArray) accounts = cf_state_list_accounts (state);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sdtdtst)"));
  for (guint i = 0; i < accounts->len; i++)
    {
      CfAccountState *account = g_ptr_array_index (accounts, i);
      const CfUsageWindow *windows = account->usage.windows;
      CfUsageWindow five_hour = cf_usage_window_at (&windows[CF_USAGE_FIVE_HOUR], now);
      CfUsageWindow seven_day = cf_usage_window_at (&windows[CF_USAGE_SEVEN_DAY], now);
      gint64 updated = MAX (five_hour.updated, seven_day.updated);

      g_variant_builder_add (&builder, "(sdtdtst)", account->name,
                             cf_usage_window_is_known (&five_hour) ? five_hour.used : -1.0,
                             (guint64) MAX (five_hour.resets_at, 0),
                             cf_usage_window_is_known (&seven_day) ? seven_day.used : -1.0,
                             (guint64) MAX (seven_day.resets_at, 0),
                             account->problem ? account->problem : "", (guint64) MAX (updated, 0));
    }
  return g_variant_builder_end (&builder);
}

static const CfStatusProperty properties[] = {
  { "Version", "s", 0 },
  { "ActiveAccount", "s", CF_STATE_CHANGE_ACTIVE_ACCOUNT },
  { "Accounts", "a(ssbt)", CF_STATE_CHANGE_ACCOUNTS },
  { "SwapState", "s", CF_STATE_CHANGE_SWAP_STATE },
  { "PartialSwap", "b", CF_STATE_CHANGE_PARTIAL_SWAP },
  { "LastSwap", "(tss)", CF_STATE_CHANGE_LAST_SWAP },
  { "ReturnAt", "t", CF_STATE_CHANGE_RETURN_AT },
  { "DispatchPaused", "b", CF_STATE_CHANGE_DISPATCH_PAUSED },
  { "Sessions", "a(sssssst)", CF_STATE_CHANGE_SESSIONS },
  { "PendingTasks", "u", CF_STATE_CHANGE_PENDING_TASKS },
  { "TasksDispatched", "t", CF_STATE_CHANGE_COUNTERS },
  { "TasksCompleted", "t", CF_STATE_CHANGE_COUNTERS },
  { "TasksFailed", "t", CF_STATE_CHANGE_COUNTERS },
  { "TasksDelegated", "t", CF_STATE_CHANGE_COUNTERS },
  { "Usage", "a(sdtdtst)", CF_STATE_CHANGE_USAGE | CF_STATE_CHANGE_ACCOUNTS },
  { "ClaudeVersion", "s", CF_STATE_CHANGE_CLAUDE_VERSION },
  { "DispatchPausedReason", "s", CF_STATE_CHANGE_DISPATCH_PAUSED },
  { "DispatchResumesAt", "t", CF_STATE_CHANGE_DISPATCH_PAUSED },
};

/* Same order as properties[]. */
static const ValueFunc values[] = {
  value_version,
  value_active_account,
  value_accounts,
  value_swap_state,
  value_partial_swap,
  value_last_swap,
  value_return_at,
  value_dispatch_paused,
  value_sessions,
  value_pending_tasks,
  value_tasks_dispatched,
  value_tasks_completed,
  value_tasks_failed,
  value_tasks_delegated,
  value_usage,
  value_claude_version,
  value_dispatch_paused_reason,
  value_dispatch_resumes_at,
};

G_STATIC_ASSERT (G_N_ELEMENTS (properties) == G_N_ELEMENTS (values));

const CfStatusProperty *
cf_status_properties (guint *n_properties)
{
  *n_properties = G_N_ELEMENTS (properties);
  return properties;
}

GVariant *
cf_status_get_property (CfState *state, const CfConfig *config, const char *name, gint64 now)
{
  g_return_val_if_fail (CF_IS_STATE (state), NULL);
  g_return_val_if_fail (config != NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (properties); i++)
    if (g_strcmp0 (properties[i].name, name) == 0)
      return g_variant_ref_sink (values[i] (state, config, now));
  return NULL;
}

GVariant *
cf_status_snapshot (CfState *state, const CfConfig *config, gint64 now)
{
  GVariantBuilder builder;

  g_return_val_if_fail (CF_IS_STATE (state), NULL);
  g_return_val_if_fail (config != NULL, NULL);

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i < G_N_ELEMENTS (properties); i++)
    g_variant_builder_add (&builder, "{sv}", properties[i].name, values[i] (state, config, now));
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

gint64
cf_status_valid_until (CfState *state, gint64 now)
{
  g_autoptr(GPtrArray) accounts = cf_state_list_accounts (state);
  gint64 until = G_MAXINT64;

  /* value_accounts and value_usage are the values that read NOW. */
  for (guint i = 0; i < accounts->len; i++)
    {
      CfAccountState *account = g_ptr_array_index (accounts, i);
      gint64 usage_change = cf_usage_next_change (&account->usage, now);

      if (account->exhausted_until > now)
        until = MIN (until, account->exhausted_until);
      if (usage_change > 0)
        until = MIN (until, usage_change);
    }
  return until;
}

JsonNode *
cf_status_snapshot_to_json (GVariant *snapshot)
{
  g_return_val_if_fail (g_variant_is_of_type (snapshot, G_VARIANT_TYPE_VARDICT), NULL);
  return json_gvariant_serialize (snapshot);
}
