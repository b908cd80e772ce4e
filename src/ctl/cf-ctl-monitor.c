/* SPDX-License-Identifier: MIT */
/* `monitor`: the daemon's signals as they happen, one line each, across
 * daemon restarts, until SIGINT or SIGTERM. */
#include "cf-ctl.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "cf-ctl-args.h"
#include "cf-ctl-bus.h"
#include "cf-ctl-output.h"
#include "cf-names.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_event, sd_event_unref)

/* The widest event name, so that the text after it lines up. */
#define EVENT_WIDTH 17

typedef struct {
  gboolean json;
  char *owner;                 /* the daemon's unique name; NULL while it is not running */
  sd_event *event;
  int exit_status;
} Monitor;

/* ---- one line per event ------------------------------------------------- */

static void
flush_line (void)
{
  fflush (stdout);
}

static JsonBuilder *
json_event_begin (const char *event)
{
  JsonBuilder *b = json_builder_new ();
  g_autofree char *time = cf_ctl_iso8601 (g_get_real_time ());

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "time");
  json_builder_add_string_value (b, time);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, event);
  return b;
}

static void
json_event_end (JsonBuilder *b)
{
  json_builder_end_object (b);
  cf_ctl_print_json (b, TRUE);
  g_object_unref (b);
  flush_line ();
}

static void
json_add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
human_event (const char *event, CfCtlStyle style, const char *text)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *time = g_date_time_format (now, "%Y-%m-%d %H:%M:%S");
  g_autofree char *name = cf_ctl_styled (style, event);

  g_print ("%s  %s%*s  %s\n", time, name, (int) (EVENT_WIDTH - MIN (strlen (event), EVENT_WIDTH)),
           "", text);
  flush_line ();
}

/* "demo/TASK" with the project directory's base name. */
static char *
task_label (const char *project, const char *task)
{
  g_autofree char *base = *project ? g_path_get_basename (project) : g_strdup ("-");
  g_autofree char *label = g_strdup_printf ("%s/%s", base, task);

  return cf_ctl_printable (label);
}

/* ---- the daemon coming and going --------------------------------------- */

static void
report_daemon (Monitor *mon, gboolean initial)
{
  if (mon->json)
    {
      JsonBuilder *b = json_event_begin ("Daemon");
      json_builder_set_member_name (b, "running");
      json_builder_add_boolean_value (b, mon->owner != NULL);
      json_builder_set_member_name (b, "owner");
      if (mon->owner != NULL)
        json_builder_add_string_value (b, mon->owner);
      else
        json_builder_add_null_value (b);
      json_event_end (b);
      return;
    }
  if (mon->owner != NULL)
    {
      g_autofree char *text = initial ? g_strdup_printf (_("claude-failoverd is running (%s)"), mon->owner)
                                      : g_strdup_printf (_("claude-failoverd started (%s)"), mon->owner);
      human_event ("Daemon", CF_CTL_STYLE_GREEN, text);
    }
  else
    human_event ("Daemon", CF_CTL_STYLE_YELLOW,
                 initial ? _("claude-failoverd is not running; waiting for it")
                         : _("claude-failoverd stopped; waiting for it to come back"));
}

static int
on_name_owner_changed (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Monitor *mon = userdata;
  const char *name, *old_owner, *new_owner;

  if (sd_bus_message_read (m, "sss", &name, &old_owner, &new_owner) < 0 ||
      !g_str_equal (name, CF_BUS_NAME))
    return 0;
  /* The first GetNameOwner may already have told us. */
  if (g_strcmp0 (mon->owner, *new_owner ? new_owner : NULL) == 0)
    return 0;
  if (mon->owner != NULL && *new_owner != '\0')
    {
      /* Replaced without a gap: report both halves. */
      g_clear_pointer (&mon->owner, g_free);
      report_daemon (mon, FALSE);
    }
  g_free (mon->owner);
  mon->owner = *new_owner ? g_strdup (new_owner) : NULL;
  report_daemon (mon, FALSE);
  return 0;
}

static gboolean
from_daemon (Monitor *mon, sd_bus_message *m)
{
  /* Anyone may send a signal on the bus: only the name's owner counts. */
  return mon->owner != NULL && g_strcmp0 (sd_bus_message_get_sender (m), mon->owner) == 0;
}

/* ---- Manager signals ---------------------------------------------------- */

static int
show_session_changed (Monitor *mon, sd_bus_message *m)
{
  const char *name, *state, *project, *task;
  int r = sd_bus_message_read (m, "ssss", &name, &state, &project, &task);

  if (r < 0)
    return r;
  if (mon->json)
    {
      JsonBuilder *b = json_event_begin ("SessionChanged");
      json_add_string (b, "name", name);
      json_add_string (b, "state", state);
      json_add_string (b, "project", project);
      json_add_string (b, "task", task);
      json_event_end (b);
    }
  else
    {
      g_autofree char *session = cf_ctl_printable (name);
      g_autofree char *shown_state = cf_ctl_printable (state);
      g_autofree char *styled = cf_ctl_styled (cf_ctl_style_for_session_state (state), shown_state);
      g_autofree char *label = *task ? task_label (project, task) : NULL;
      g_autofree char *text = label ? g_strdup_printf (_("%s → %s (%s)"), session, styled, label)
                                    : g_strdup_printf (_("%s → %s"), session, styled);
      human_event ("SessionChanged", CF_CTL_STYLE_NONE, text);
    }
  return 0;
}

static int
show_task_dispatched (Monitor *mon, sd_bus_message *m)
{
  const char *project, *task, *session, *model, *account;
  int r = sd_bus_message_read (m, "sssss", &project, &task, &session, &model, &account);

  if (r < 0)
    return r;
  if (mon->json)
    {
      JsonBuilder *b = json_event_begin ("TaskDispatched");
      json_add_string (b, "project", project);
      json_add_string (b, "task_id", task);
      json_add_string (b, "session", session);
      json_add_string (b, "model", model);
      json_add_string (b, "account", account);
      json_event_end (b);
    }
  else
    {
      g_autofree char *label = task_label (project, task);
      g_autofree char *s = cf_ctl_printable (session);
      g_autofree char *mo = cf_ctl_printable (model);
      g_autofree char *a = cf_ctl_printable (account);
      /* TRANSLATORS: project/task → session (model M, account A) */
      g_autofree char *text = g_strdup_printf (_("%s → %s (model %s, account %s)"), label, s, mo, a);
      human_event ("TaskDispatched", CF_CTL_STYLE_BLUE, text);
    }
  return 0;
}

static int
show_session_needs_input (Monitor *mon, sd_bus_message *m)
{
  const char *name, *project, *task, *what;
  int r = sd_bus_message_read (m, "ssss", &name, &project, &task, &what);

  if (r < 0)
    return r;
  if (mon->json)
    {
      JsonBuilder *b = json_event_begin ("SessionNeedsInput");
      json_add_string (b, "name", name);
      json_add_string (b, "project", project);
      json_add_string (b, "task", task);
      json_add_string (b, "what", what);
      json_event_end (b);
    }
  else
    {
      g_autofree char *n = cf_ctl_printable (name);
      g_autofree char *w = cf_ctl_printable (what);
      g_autofree char *label = *task ? task_label (project, task) : NULL;
      /* TRANSLATORS: session (project/task): what waits for a person */
      g_autofree char *text = label != NULL ? g_strdup_printf (_("%s (%s): %s"), n, label, w)
                                            : g_strdup_printf (_("%s: %s"), n, w);
      human_event ("SessionNeedsInput", CF_CTL_STYLE_YELLOW, text);
    }
  return 0;
}

static int
show_task_finished (Monitor *mon, sd_bus_message *m)
{
  const char *project, *task, *session, *outcome;
  int r = sd_bus_message_read (m, "ssss", &project, &task, &session, &outcome);

  if (r < 0)
    return r;
  if (mon->json)
    {
      JsonBuilder *b = json_event_begin ("TaskFinished");
      json_add_string (b, "project", project);
      json_add_string (b, "task_id", task);
      json_add_string (b, "session", session);
      json_add_string (b, "outcome", outcome);
      json_event_end (b);
    }
  else
    {
      g_autofree char *label = task_label (project, task);
      g_autofree char *o = cf_ctl_printable (outcome);
      g_autofree char *styled = cf_ctl_styled (cf_ctl_style_for_outcome (outcome), o);
      g_autofree char *s = cf_ctl_printable (session);
      g_autofree char *text = *session ? g_strdup_printf (_("%s: %s (%s)"), label, styled, s)
                                       : g_strdup_printf (_("%s: %s"), label, styled);
      human_event ("TaskFinished", CF_CTL_STYLE_NONE, text);
    }
  return 0;
}

static int
show_quota_exhausted (Monitor *mon, sd_bus_message *m)
{
  const char *account, *evidence;
  g_auto(GStrv) sessions = NULL;
  uint64_t reset_at;
  int r;

  r = sd_bus_message_read (m, "s", &account);
  if (r >= 0)
    r = sd_bus_message_read_strv (m, &sessions);
  if (r >= 0)
    r = sd_bus_message_read (m, "ts", &reset_at, &evidence);
  if (r < 0)
    return r;
  if (sessions == NULL)
    sessions = g_new0 (char *, 1);
  if (mon->json)
    {
      JsonBuilder *b = json_event_begin ("QuotaExhausted");
      json_add_string (b, "account", account);
      json_builder_set_member_name (b, "sessions");
      json_builder_begin_array (b);
      for (guint i = 0; sessions[i] != NULL; i++)
        json_builder_add_string_value (b, sessions[i]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "reset_at");
      json_builder_add_int_value (b, (gint64) reset_at);
      json_add_string (b, "evidence", evidence);
      json_event_end (b);
    }
  else
    {
      g_autofree char *a = cf_ctl_printable (account);
      g_autofree char *joined = g_strjoinv (", ", sessions);
      g_autofree char *s = cf_ctl_printable (*joined ? joined : "-");
      g_autofree char *e = cf_ctl_printable (evidence);
      g_autofree char *reset = reset_at > 0 ? cf_ctl_absolute_time ((gint64) reset_at)
                                            : g_strdup (_("unknown"));
      g_autofree char *text = NULL;

      if (*evidence != '\0')
        /* TRANSLATORS: account, reset time, sessions, evidence */
        text = g_strdup_printf (_("account %s exhausted, resets %s; sessions: %s; evidence: %s"),
                                a, reset, s, e);
      else
        /* TRANSLATORS: account, reset time, sessions */
        text = g_strdup_printf (_("account %s exhausted, resets %s; sessions: %s"), a, reset, s);
      human_event ("QuotaExhausted", CF_CTL_STYLE_RED, text);
    }
  return 0;
}

static int
show_swap_started (Monitor *mon, sd_bus_message *m)
{
  const char *from, *to, *reason;
  int r = sd_bus_message_read (m, "sss", &from, &to, &reason);

  if (r < 0)
    return r;
  if (mon->json)
    {
      JsonBuilder *b = json_event_begin ("SwapStarted");
      json_add_string (b, "from", from);
      json_add_string (b, "to", to);
      json_add_string (b, "reason", reason);
      json_event_end (b);
    }
  else
    {
      g_autofree char *f = cf_ctl_printable (from);
      g_autofree char *t = cf_ctl_printable (to);
      g_autofree char *why = cf_ctl_printable (reason);
      /* TRANSLATORS: from account → to account: reason */
      g_autofree char *text = g_strdup_printf (_("%s → %s: %s"), f, t, why);
      human_event ("SwapStarted", CF_CTL_STYLE_YELLOW, text);
    }
  return 0;
}

static int
show_swap_finished (Monitor *mon, sd_bus_message *m)
{
  const char *from, *to, *message;
  int success;
  int r = sd_bus_message_read (m, "ssbs", &from, &to, &success, &message);

  if (r < 0)
    return r;
  if (mon->json)
    {
      JsonBuilder *b = json_event_begin ("SwapFinished");
      json_add_string (b, "from", from);
      json_add_string (b, "to", to);
      json_builder_set_member_name (b, "success");
      json_builder_add_boolean_value (b, success);
      json_add_string (b, "message", message);
      json_event_end (b);
    }
  else
    {
      g_autofree char *f = cf_ctl_printable (from);
      g_autofree char *t = cf_ctl_printable (to);
      g_autofree char *msg = cf_ctl_printable (message);
      g_autofree char *text = NULL;

      if (success)
        /* TRANSLATORS: from account → to account, then the daemon's message */
        text = g_strdup_printf (_("%s → %s succeeded: %s"), f, t, msg);
      else
        /* TRANSLATORS: from account → to account, then the daemon's message */
        text = g_strdup_printf (_("%s → %s FAILED: %s"), f, t, msg);
      human_event ("SwapFinished", success ? CF_CTL_STYLE_GREEN : CF_CTL_STYLE_RED, text);
    }
  return 0;
}

static int
on_manager_signal (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Monitor *mon = userdata;
  const char *member = sd_bus_message_get_member (m);
  int r;

  if (!from_daemon (mon, m) || member == NULL)
    return 0;
  if (g_str_equal (member, "SessionChanged"))
    r = show_session_changed (mon, m);
  else if (g_str_equal (member, "TaskDispatched"))
    r = show_task_dispatched (mon, m);
  else if (g_str_equal (member, "TaskFinished"))
    r = show_task_finished (mon, m);
  else if (g_str_equal (member, "QuotaExhausted"))
    r = show_quota_exhausted (mon, m);
  else if (g_str_equal (member, "SwapStarted"))
    r = show_swap_started (mon, m);
  else if (g_str_equal (member, "SwapFinished"))
    r = show_swap_finished (mon, m);
  else if (g_str_equal (member, "SessionNeedsInput"))
    r = show_session_needs_input (mon, m);
  else
    {
      /* A newer daemon's signal: say that it happened. */
      const char *signature = sd_bus_message_get_signature (m, TRUE);
      if (mon->json)
        {
          JsonBuilder *b = json_event_begin (member);
          json_add_string (b, "signature", signature ? signature : "");
          json_event_end (b);
        }
      else
        human_event (member, CF_CTL_STYLE_NONE, signature ? signature : "");
      r = 0;
    }
  if (r < 0)
    {
      /* TRANSLATORS: %s is a D-Bus signal name */
      g_autofree char *text = g_strdup_printf (_("malformed %s signal ignored: %s"), member,
                                               g_strerror (-r));
      g_printerr ("%s: monitor: %s\n", CF_CTL_PROGRAM, text);
    }
  return 0;
}

/* ---- PropertiesChanged ------------------------------------------------- */

/* The properties worth a line: Sessions, PendingTasks and the counters
 * change with every task and are covered by the task and session signals. */
static const char *const interesting_properties[] = {
  "ActiveAccount", "Accounts", "SwapState", "PartialSwap", "LastSwap", "ReturnAt",
  "DispatchPaused",
};

static gboolean
is_interesting (const char *name)
{
  return g_strv_contains ((const char *const *) interesting_properties, name);
}

static void
describe_accounts (GPtrArray *accounts, GString *text, JsonBuilder *b)
{
  if (b != NULL)
    json_builder_begin_array (b);
  for (guint i = 0; i < accounts->len; i++)
    {
      CfCtlAccount *a = g_ptr_array_index (accounts, i);

      if (b != NULL)
        {
          json_builder_begin_object (b);
          json_add_string (b, "name", a->name);
          json_add_string (b, "home", a->home);
          json_builder_set_member_name (b, "available");
          json_builder_add_boolean_value (b, a->available);
          json_builder_set_member_name (b, "exhausted_until");
          json_builder_add_int_value (b, (gint64) a->exhausted_until);
          json_builder_end_object (b);
        }
      if (text != NULL)
        {
          g_autofree char *name = cf_ctl_printable (a->name);
          g_autofree char *until = a->exhausted_until > 0
                                   ? cf_ctl_absolute_time ((gint64) a->exhausted_until) : NULL;

          if (i > 0)
            g_string_append (text, " ");
          if (a->available)
            /* TRANSLATORS: account name */
            g_string_append_printf (text, _("%s available"), name);
          else if (until != NULL)
            /* TRANSLATORS: account name, then a date */
            g_string_append_printf (text, _("%s exhausted until %s"), name, until);
          else
            /* TRANSLATORS: account name */
            g_string_append_printf (text, _("%s exhausted"), name);
          if (i + 1 < accounts->len)
            g_string_append (text, ",");
        }
    }
  if (b != NULL)
    json_builder_end_array (b);
}

/* Reads one property value; appends "Name=value" to TEXT or the member to B. */
static int
describe_property (sd_bus_message *m, const char *name, GString *text, JsonBuilder *b)
{
  g_autofree char *value = NULL;
  int r;

  if (b != NULL)
    json_builder_set_member_name (b, name);
  if (g_str_equal (name, "ActiveAccount") || g_str_equal (name, "SwapState"))
    {
      const char *s;
      r = sd_bus_message_read (m, "s", &s);
      if (r < 0)
        return r;
      if (b != NULL)
        json_builder_add_string_value (b, s);
      value = cf_ctl_printable (s);
    }
  else if (g_str_equal (name, "PartialSwap") || g_str_equal (name, "DispatchPaused"))
    {
      int v;
      r = sd_bus_message_read (m, "b", &v);
      if (r < 0)
        return r;
      if (b != NULL)
        json_builder_add_boolean_value (b, v);
      value = g_strdup (v ? "true" : "false");
    }
  else if (g_str_equal (name, "ReturnAt"))
    {
      uint64_t t;
      r = sd_bus_message_read (m, "t", &t);
      if (r < 0)
        return r;
      if (b != NULL)
        json_builder_add_int_value (b, (gint64) t);
      value = t > 0 ? cf_ctl_absolute_time ((gint64) t) : g_strdup (_("none"));
    }
  else if (g_str_equal (name, "LastSwap"))
    {
      const char *from, *to;
      uint64_t when;
      r = sd_bus_message_read (m, "(tss)", &when, &from, &to);
      if (r < 0)
        return r;
      if (b != NULL)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "when");
          json_builder_add_int_value (b, (gint64) when);
          json_add_string (b, "from", from);
          json_add_string (b, "to", to);
          json_builder_end_object (b);
        }
      if (when > 0)
        {
          g_autofree char *f = cf_ctl_printable (from);
          g_autofree char *t = cf_ctl_printable (to);
          g_autofree char *at = cf_ctl_absolute_time ((gint64) when);
          value = g_strdup_printf (_("%s → %s, %s"), f, t, at);
        }
      else
        value = g_strdup (_("never"));
    }
  else if (g_str_equal (name, "Accounts"))
    {
      g_autoptr(GPtrArray) accounts = cf_ctl_accounts_new ();
      g_autoptr(GString) list = g_string_new (NULL);
      r = cf_ctl_read_accounts (m, accounts);
      if (r < 0)
        return r;
      describe_accounts (accounts, list, b);
      value = g_strdup (list->str);
    }
  else
    return -EINVAL;
  if (text != NULL)
    {
      if (text->len > 0)
        g_string_append (text, "; ");
      g_string_append_printf (text, "%s=%s", name, value);
    }
  return 0;
}

static int
on_properties_changed (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Monitor *mon = userdata;
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(JsonBuilder) changed = NULL;
  g_auto(GStrv) invalidated = NULL;
  g_autoptr(GPtrArray) invalidated_shown = g_ptr_array_new ();
  const char *interface = NULL;
  guint n = 0;
  int r;

  if (!from_daemon (mon, m))
    return 0;
  r = sd_bus_message_read (m, "s", &interface);
  if (r < 0 || !g_str_equal (interface, CF_INTERFACE))
    return 0;
  if (mon->json)
    {
      changed = json_event_begin ("PropertiesChanged");
      json_builder_set_member_name (changed, "changed");
      json_builder_begin_object (changed);
    }
  r = sd_bus_message_enter_container (m, 'a', "{sv}");
  while (r >= 0 && (r = sd_bus_message_enter_container (m, 'e', "sv")) > 0)
    {
      const char *name = NULL, *contents = NULL;

      r = sd_bus_message_read (m, "s", &name);
      if (r >= 0)
        r = sd_bus_message_peek_type (m, NULL, &contents);
      if (r >= 0 && is_interesting (name))
        {
          r = sd_bus_message_enter_container (m, 'v', contents);
          if (r >= 0)
            r = describe_property (m, name, mon->json ? NULL : text, changed);
          if (r >= 0)
            r = sd_bus_message_exit_container (m);
          n++;
        }
      else if (r >= 0)
        r = sd_bus_message_skip (m, "v");
      if (r >= 0)
        r = sd_bus_message_exit_container (m);
    }
  if (r >= 0)
    r = sd_bus_message_exit_container (m);
  if (r >= 0)
    r = sd_bus_message_read_strv (m, &invalidated);
  if (r < 0)
    {
      g_printerr ("%s: monitor: %s\n", CF_CTL_PROGRAM,
                  _("malformed PropertiesChanged signal ignored"));
      return 0;
    }
  for (guint i = 0; invalidated != NULL && invalidated[i] != NULL; i++)
    if (is_interesting (invalidated[i]))
      g_ptr_array_add (invalidated_shown, invalidated[i]);
  if (n == 0 && invalidated_shown->len == 0)
    return 0;
  if (mon->json)
    {
      json_builder_end_object (changed);
      json_builder_set_member_name (changed, "invalidated");
      json_builder_begin_array (changed);
      for (guint i = 0; i < invalidated_shown->len; i++)
        json_builder_add_string_value (changed, g_ptr_array_index (invalidated_shown, i));
      json_builder_end_array (changed);
      json_event_end (g_steal_pointer (&changed));
      return 0;
    }
  for (guint i = 0; i < invalidated_shown->len; i++)
    {
      if (text->len > 0)
        g_string_append (text, "; ");
      /* TRANSLATORS: a property that changed without its new value in the signal */
      g_string_append_printf (text, _("%s changed"),
                              (const char *) g_ptr_array_index (invalidated_shown, i));
    }
  human_event ("PropertiesChanged", CF_CTL_STYLE_CYAN, text->str);
  return 0;
}

/* ---- set-up and loop ---------------------------------------------------- */

static int
on_disconnected (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Monitor *mon = userdata;

  cf_ctl_fail (1, "monitor", "%s", _("lost the connection to the system bus"));
  mon->exit_status = 1;
  sd_event_exit (mon->event, 1);
  return 0;
}

static int
on_exit_signal (sd_event_source *source, const struct signalfd_siginfo *info, void *userdata)
{
  Monitor *mon = userdata;

  mon->exit_status = 0;
  sd_event_exit (mon->event, 0);
  return 0;
}

static const CfCtlUsage monitor_usage = {
  .command = "monitor",
  .parameters = "",
  .summary = N_("Prints the daemon's signals as they arrive, one line each with the time:\n"
                "SessionChanged, TaskDispatched, TaskFinished, QuotaExhausted, SwapStarted,\n"
                "SwapFinished, SessionNeedsInput, and PropertiesChanged for the account,\n"
                "swap and dispatch properties. Keeps watching while the daemon stops and\n"
                "starts again (a \"Daemon\" line each time) until interrupted (Ctrl-C)."),
  .description = N_("With --json, each line is one JSON object with \"time\" (ISO 8601), \"event\"\n"
                    "and the signal's arguments under their D-Bus names."),
};

int
cf_ctl_monitor (int argc, char **argv, gboolean json)
{
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_event) event = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_auto(GStrv) args = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  Monitor mon = { 0 };
  const char *owner = NULL;
  sigset_t mask;
  int status = cf_ctl_parse_args (&monitor_usage, NULL, argc, argv, &json, &args);
  int r;

  if (status >= 0)
    return status;
  mon.json = json;

  bus = cf_ctl_bus_open ("monitor", FALSE);
  if (bus == NULL)
    return 1;
  r = sd_event_default (&event);
  if (r >= 0)
    {
      mon.event = event;
      sigemptyset (&mask);
      sigaddset (&mask, SIGINT);
      sigaddset (&mask, SIGTERM);
      r = sigprocmask (SIG_BLOCK, &mask, NULL) < 0 ? -errno : 0;
    }
  if (r >= 0)
    r = sd_event_add_signal (event, NULL, SIGINT, on_exit_signal, &mon);
  if (r >= 0)
    r = sd_event_add_signal (event, NULL, SIGTERM, on_exit_signal, &mon);
  if (r >= 0)
    r = sd_bus_attach_event (bus, event, SD_EVENT_PRIORITY_NORMAL);
  if (r >= 0)
    r = sd_bus_set_exit_on_disconnect (bus, 0);
  /* Subscribe first, then ask who owns the name: nothing falls in between. */
  if (r >= 0)
    r = sd_bus_match_signal (bus, NULL, "org.freedesktop.DBus.Local", NULL,
                             "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, &mon);
  if (r >= 0)
    r = sd_bus_add_match (bus, NULL,
                          "type='signal',sender='org.freedesktop.DBus',"
                          "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
                          "member='NameOwnerChanged',arg0='" CF_BUS_NAME "'",
                          on_name_owner_changed, &mon);
  if (r >= 0)
    r = sd_bus_add_match (bus, NULL,
                          "type='signal',sender='" CF_BUS_NAME "',path='" CF_OBJECT_PATH "',"
                          "interface='" CF_INTERFACE "'",
                          on_manager_signal, &mon);
  if (r >= 0)
    r = sd_bus_add_match (bus, NULL,
                          "type='signal',sender='" CF_BUS_NAME "',path='" CF_OBJECT_PATH "',"
                          "interface='org.freedesktop.DBus.Properties',"
                          "member='PropertiesChanged',arg0='" CF_INTERFACE "'",
                          on_properties_changed, &mon);
  if (r < 0)
    return cf_ctl_fail (1, "monitor", _("cannot subscribe to the daemon's signals: %s"),
                        g_strerror (-r));

  r = sd_bus_call_method (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetNameOwner", &error, &reply, "s", CF_BUS_NAME);
  if (r >= 0 && sd_bus_message_read (reply, "s", &owner) >= 0)
    mon.owner = g_strdup (owner);
  else if (!sd_bus_error_has_name (&error, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
    {
      const CfCtlCallInfo info = { .command = "monitor" };
      g_autofree char *line = cf_ctl_explain_error ("GetNameOwner", &info, &error, r);

      sd_bus_error_free (&error);
      return cf_ctl_fail (1, "monitor", "%s", line);
    }
  sd_bus_error_free (&error);
  report_daemon (&mon, TRUE);

  r = sd_event_loop (event);
  if (r < 0)
    mon.exit_status = cf_ctl_fail (1, "monitor", _("event loop failed: %s"), g_strerror (-r));
  sd_bus_detach_event (bus);
  g_free (mon.owner);
  return mon.exit_status;
}
