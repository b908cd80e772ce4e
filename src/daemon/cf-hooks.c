/* SPDX-License-Identifier: MIT */
#include "cf-hooks.h"

#include "cf-statusline.h"
#include "cf-text.h"

#include <glib/gi18n.h>
#include <string.h>

struct _CfHooks {
  GObject parent_instance;

  CfState *state;
  CfTmux *tmux;
  GCancellable *cancellable;
  guint64 routed;
};

enum {
  SIGNAL_HOOK,
  SIGNAL_STATUSLINE,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfHooks, cf_hooks, G_TYPE_OBJECT)

gboolean
cf_hooks_pane_is_valid (const char *pane)
{
  if (pane == NULL || pane[0] != '%' || pane[1] == '\0' || strlen (pane) > 16)
    return FALSE;
  for (const char *p = pane + 1; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

static void
deliver (CfHooks *self, const char *session_name, CfHookPayload *payload)
{
  CfSession *session = cf_state_lookup_session (self->state, session_name);

  if (session == NULL)
    {
      g_debug ("hook %s from session %s, which is not ours: ignored",
               payload->event_name, session_name);
      return;
    }
  if (payload->event == CF_HOOK_EVENT_SESSION_START && payload->session_id != NULL)
    cf_state_set_session_resume_uuid (self->state, session_name, payload->session_id);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "CF_SESSION", session_name,
                    "MESSAGE", "hook %s from %s", payload->event_name, session_name);
  self->routed++;
  g_signal_emit (self, signals[SIGNAL_HOOK], 0, session_name, payload);
}

/* A statusline report goes out even from a pane that is not ours: usage
 * is account-wide, and the report names its account home. */
static void
deliver_statusline (CfHooks *self, const char *session_name, CfStatusline *statusline)
{
  if (session_name != NULL && cf_state_lookup_session (self->state, session_name) == NULL)
    session_name = NULL;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "CF_SESSION", session_name ? session_name : "",
                    "MESSAGE", "statusline usage from %s",
                    session_name ? session_name : "a pane that is not ours");
  self->routed++;
  g_signal_emit (self, signals[SIGNAL_STATUSLINE], 0, session_name, statusline);
}

typedef struct {
  CfHooks *self;
  char *pane;
  CfHookPayload *payload;      /* or: */
  CfStatusline *statusline;
} Lookup;

static void
lookup_free (Lookup *lookup)
{
  g_object_unref (lookup->self);
  g_free (lookup->pane);
  cf_hook_payload_free (lookup->payload);
  cf_statusline_free (lookup->statusline);
  g_free (lookup);
}

static void
on_pane_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Lookup *lookup = user_data;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = cf_tmux_command_finish (CF_TMUX (source), result, &error);

  if (lines == NULL || lines[0] == NULL || lines[0][0] == '\0')
    {
      g_debug ("hook %s: pane %s not found: %s",
               lookup->payload ? lookup->payload->event_name : CF_STATUSLINE_EVENT,
               lookup->pane, error ? error->message : "no session");
      if (lookup->statusline != NULL)
        deliver_statusline (lookup->self, NULL, lookup->statusline);
      lookup_free (lookup);
      return;
    }
  if (cf_state_lookup_session (lookup->self->state, lines[0]) != NULL)
    cf_state_set_session_pane (lookup->self->state, lines[0], lookup->pane);
  if (lookup->statusline != NULL)
    deliver_statusline (lookup->self, lines[0], lookup->statusline);
  else
    deliver (lookup->self, lines[0], lookup->payload);
  lookup_free (lookup);
}

/* The StatusLine report of `claude-failoverctl statusline`: from a pane,
 * or from outside tmux with the account home ("config_dir") alone. */
static gboolean
report_statusline (CfHooks *self, const char *pane, const char *payload_json, GError **error)
{
  g_autoptr(CfStatusline) statusline = NULL;
  g_autoptr(GError) local_error = NULL;
  CfSession *session;
  g_autofree char *command = NULL;
  Lookup *lookup;

  if (!cf_statusline_parse (payload_json, strlen (payload_json), &statusline, &local_error))
    {
      g_set_error_literal (error, CF_HOOK_ERROR, CF_HOOK_ERROR_SYNTAX, local_error->message);
      return FALSE;
    }
  if (pane[0] == '\0')
    {
      if (statusline->config_dir == NULL)
        {
          g_set_error_literal (error, CF_HOOK_ERROR, CF_HOOK_ERROR_INVALID_EVENT,
                               _("a StatusLine report needs a tmux pane or a config_dir"));
          return FALSE;
        }
      deliver_statusline (self, NULL, statusline);
      return TRUE;
    }
  session = cf_state_find_session_by_pane (self->state, pane);
  if (session != NULL)
    {
      deliver_statusline (self, session->name, statusline);
      return TRUE;
    }
  lookup = g_new0 (Lookup, 1);
  lookup->self = g_object_ref (self);
  lookup->pane = g_strdup (pane);
  lookup->statusline = g_steal_pointer (&statusline);
  command = g_strdup_printf ("display-message -p -t %s \"#{session_name}\"", pane);
  cf_tmux_command_async (self->tmux, command, self->cancellable, on_pane_resolved, lookup);
  return TRUE;
}

gboolean
cf_hooks_report (CfHooks *self, const char *event, const char *pane, const char *payload_json,
                 GError **error)
{
  g_autoptr(CfHookPayload) payload = NULL;
  CfSession *session;
  g_autofree char *command = NULL;
  Lookup *lookup;

  if (g_strcmp0 (event, CF_STATUSLINE_EVENT) == 0 &&
      (pane[0] == '\0' || cf_hooks_pane_is_valid (pane)))
    return report_statusline (self, pane, payload_json, error);
  if (!cf_hooks_pane_is_valid (pane))
    {
      g_autofree char *shown = cf_text_for_message (pane);

      g_set_error (error, CF_HOOK_ERROR, CF_HOOK_ERROR_INVALID_EVENT,
                   _("'%s' is not a tmux pane id (expected %%N, from $TMUX_PANE)"), shown);
      return FALSE;
    }
  if (!cf_hook_payload_parse (event, payload_json, strlen (payload_json), &payload, error))
    return FALSE;

  session = cf_state_find_session_by_pane (self->state, pane);
  if (session != NULL)
    {
      deliver (self, session->name, payload);
      return TRUE;
    }

  /* Not known yet (a session created since the last reconciliation): ask
   * tmux. A pane id target is exact, unlike a session name. */
  lookup = g_new0 (Lookup, 1);
  lookup->self = g_object_ref (self);
  lookup->pane = g_strdup (pane);
  lookup->payload = g_steal_pointer (&payload);
  command = g_strdup_printf ("display-message -p -t %s \"#{session_name}\"", pane);
  cf_tmux_command_async (self->tmux, command, self->cancellable, on_pane_resolved, lookup);
  return TRUE;
}

guint64
cf_hooks_get_routed (CfHooks *self)
{
  return self->routed;
}

static void
cf_hooks_dispose (GObject *object)
{
  CfHooks *self = CF_HOOKS (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->state);
  g_clear_object (&self->tmux);
  G_OBJECT_CLASS (cf_hooks_parent_class)->dispose (object);
}

static void
cf_hooks_class_init (CfHooksClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_hooks_dispose;
  signals[SIGNAL_HOOK] =
    g_signal_new ("hook", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_POINTER);
  /* (gchararray session or NULL when the pane is not ours, gpointer CfStatusline*) */
  signals[SIGNAL_STATUSLINE] =
    g_signal_new ("statusline", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_POINTER);
}

static void
cf_hooks_init (CfHooks *self)
{
  self->cancellable = g_cancellable_new ();
}

CfHooks *
cf_hooks_new (CfState *state, CfTmux *tmux)
{
  CfHooks *self = g_object_new (CF_TYPE_HOOKS, NULL);

  self->state = g_object_ref (state);
  self->tmux = g_object_ref (tmux);
  return self;
}
