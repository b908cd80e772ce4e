/* SPDX-License-Identifier: MIT */
#include "cf-health.h"

#include <glib/gi18n.h>

struct _CfHealth {
  GObject parent_instance;

  CfState *state;
  CfStateStore *store;         /* NULL: the state is not persisted */
  guint grace_ms;
  gboolean tmux_connected;
  gboolean bus_name_owned;
  guint finished_tasks_stuck;
  guint notified;              /* reasons already announced by "degraded" */
  guint grace_id;
};

enum {
  SIGNAL_DEGRADED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfHealth, cf_health, G_TYPE_OBJECT)

static const char *const reason_codes[CF_HEALTH_N_REASONS] = {
  "tmux-disconnected",
  "bus-name-not-owned",
  "partial-swap",
  "state-write-failing",
  "all-accounts-exhausted",
  "finished-task-stuck",
};

/* Reasons "degraded" announces: the others are told by their own
 * notification. */
#define ANNOUNCED (~(guint) CF_HEALTH_FINISHED_TASK_STUCK)

const char *
cf_health_reason_to_string (CfHealthReason reason)
{
  for (guint i = 0; i < CF_HEALTH_N_REASONS; i++)
    if (reason == (1u << i))
      return reason_codes[i];
  g_return_val_if_reached ("unknown");
}

char *
cf_health_describe (guint reasons)
{
  GString *out = g_string_new (NULL);
  const char *texts[CF_HEALTH_N_REASONS] = {
    N_("The tmux control connection is down: sessions are neither watched nor started."),
    N_("The daemon does not own its D-Bus name: clients cannot reach it."),
    N_("An account switch failed half-way: switches are refused until an operator clears it."),
    N_("The state file cannot be written: a restart would lose recent state."),
    N_("Every Claude account has reached its usage limit."),
    N_("A finished task cannot leave active/ (disk full or no file descriptor left): "
       "it is kept there, never run again, and its move is retried."),
  };

  for (guint i = 0; i < CF_HEALTH_N_REASONS; i++)
    if (reasons & (1u << i))
      {
        if (out->len > 0)
          g_string_append_c (out, '\n');
        g_string_append_printf (out, "%s (%s)", _(texts[i]), reason_codes[i]);
      }
  return g_string_free (out, FALSE);
}

guint
cf_health_get_reasons (CfHealth *self, gint64 now)
{
  g_autoptr(GPtrArray) accounts = NULL;
  guint reasons = 0;
  gboolean any_available = FALSE;

  g_return_val_if_fail (CF_IS_HEALTH (self), 0);

  if (!self->tmux_connected)
    reasons |= CF_HEALTH_TMUX_DISCONNECTED;
  if (!self->bus_name_owned)
    reasons |= CF_HEALTH_BUS_NAME_NOT_OWNED;
  if (cf_state_get_swap_journal (self->state)->partial)
    reasons |= CF_HEALTH_PARTIAL_SWAP;
  if (self->store != NULL && cf_state_store_get_write_error (self->store) != NULL)
    reasons |= CF_HEALTH_STATE_WRITE_FAILING;
  accounts = cf_state_list_accounts (self->state);
  for (guint i = 0; i < accounts->len; i++)
    any_available |= ((CfAccountState *) accounts->pdata[i])->exhausted_until <= now;
  if (accounts->len > 0 && !any_available)
    reasons |= CF_HEALTH_ALL_ACCOUNTS_EXHAUSTED;
  if (self->finished_tasks_stuck > 0)
    reasons |= CF_HEALTH_FINISHED_TASK_STUCK;
  return reasons;
}

static gboolean
on_grace_over (gpointer user_data)
{
  CfHealth *self = user_data;
  guint reasons = cf_health_get_reasons (self, g_get_real_time ()) & ANNOUNCED;

  self->grace_id = 0;
  self->notified &= reasons;
  if ((reasons & ~self->notified) != 0)
    {
      self->notified = reasons;
      g_signal_emit (self, signals[SIGNAL_DEGRADED], 0, reasons);
    }
  return G_SOURCE_REMOVE;
}

static void
reevaluate (CfHealth *self)
{
  guint reasons = cf_health_get_reasons (self, g_get_real_time ()) & ANNOUNCED;

  /* A reason that went away may come back: announce it again then. */
  self->notified &= reasons;
  if ((reasons & ~self->notified) == 0)
    g_clear_handle_id (&self->grace_id, g_source_remove);
  else if (self->grace_id == 0)
    self->grace_id = g_timeout_add (self->grace_ms, on_grace_over, self);
}

static void
on_state_changed (CfState *state, guint what, CfHealth *self)
{
  if (what & (CF_STATE_CHANGE_PARTIAL_SWAP | CF_STATE_CHANGE_ACCOUNTS))
    reevaluate (self);
}

void
cf_health_set_tmux_connected (CfHealth *self, gboolean connected)
{
  g_return_if_fail (CF_IS_HEALTH (self));
  self->tmux_connected = !!connected;
  reevaluate (self);
}

void
cf_health_set_bus_name_owned (CfHealth *self, gboolean owned)
{
  g_return_if_fail (CF_IS_HEALTH (self));
  self->bus_name_owned = !!owned;
  reevaluate (self);
}

void
cf_health_set_finished_tasks_stuck (CfHealth *self, guint n)
{
  g_return_if_fail (CF_IS_HEALTH (self));
  self->finished_tasks_stuck = n;
}

static void
cf_health_dispose (GObject *object)
{
  CfHealth *self = CF_HEALTH (object);

  g_clear_handle_id (&self->grace_id, g_source_remove);
  g_clear_object (&self->state);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (cf_health_parent_class)->dispose (object);
}

static void
cf_health_class_init (CfHealthClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_health_dispose;

  signals[SIGNAL_DEGRADED] =
    g_signal_new ("degraded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
cf_health_init (CfHealth *self)
{
}

CfHealth *
cf_health_new (CfState *state, CfStateStore *store, guint grace_ms)
{
  CfHealth *self = g_object_new (CF_TYPE_HEALTH, NULL);

  self->state = g_object_ref (state);
  self->grace_ms = grace_ms;
  g_signal_connect_object (state, "changed", G_CALLBACK (on_state_changed), self, 0);
  if (store != NULL)
    {
      self->store = g_object_ref (store);
      g_signal_connect_object (store, "write-error-changed", G_CALLBACK (reevaluate), self,
                               G_CONNECT_SWAPPED);
    }
  /* Not connected, no name yet: if that lasts, it is worth a message. */
  reevaluate (self);
  return self;
}
