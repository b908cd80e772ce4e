/* SPDX-License-Identifier: MIT */
/* `status` and `sessions`: read-only views of GetStatus. */
#include "cf-ctl.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "cf-ctl-args.h"
#include "cf-ctl-bus.h"
#include "cf-ctl-output.h"

static const char *
or_dash (const char *text)
{
  return text != NULL && *text != '\0' ? text : "-";
}

static int
compare_sessions (gconstpointer a, gconstpointer b)
{
  const CfCtlSession *x = *(CfCtlSession *const *) a;
  const CfCtlSession *y = *(CfCtlSession *const *) b;
  int kind = g_strcmp0 (x->kind, y->kind);

  /* Dedicated (the operator's own) first, then the pool; by name within. */
  return kind != 0 ? kind : g_strcmp0 (x->name, y->name);
}

static void
print_sessions_table (GPtrArray *sessions)
{
  g_autoptr(CfCtlTable) table = cf_ctl_table_new (7, _("NAME"), _("KIND"), _("STATE"),
                                                  _("PROJECT"), _("TASK"), _("ACCOUNT"),
                                                  _("SINCE"));
  gint64 now = g_get_real_time ();

  if (sessions->len == 0)
    {
      g_print ("%s\n", _("No sessions."));
      return;
    }
  g_ptr_array_sort (sessions, compare_sessions);
  for (guint i = 0; i < sessions->len; i++)
    {
      CfCtlSession *s = g_ptr_array_index (sessions, i);
      g_autofree char *since = s->since > 0 ? cf_ctl_relative_time ((gint64) s->since, now)
                                            : g_strdup ("-");
      g_autofree char *project = *s->project ? g_path_get_basename (s->project) : g_strdup ("-");

      cf_ctl_table_add_row (table);
      cf_ctl_table_set (table, 0, s->name, CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 1, s->kind, CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 2, s->state, cf_ctl_style_for_session_state (s->state));
      cf_ctl_table_set (table, 3, project, CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 4, or_dash (s->task), CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 5, or_dash (s->account), CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 6, since, CF_CTL_STYLE_DIM);
    }
  cf_ctl_table_print (table);
}

static void
add_string_member (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value != NULL ? value : "");
}

static void
add_int_member (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_bool_member (JsonBuilder *b, const char *name, gboolean value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

static void
add_sessions_json (JsonBuilder *b, GPtrArray *sessions)
{
  g_ptr_array_sort (sessions, compare_sessions);
  json_builder_begin_array (b);
  for (guint i = 0; i < sessions->len; i++)
    {
      CfCtlSession *s = g_ptr_array_index (sessions, i);
      json_builder_begin_object (b);
      add_string_member (b, "name", s->name);
      add_string_member (b, "kind", s->kind);
      add_string_member (b, "state", s->state);
      add_string_member (b, "project", s->project);
      add_string_member (b, "task", s->task);
      add_string_member (b, "account", s->account);
      add_int_member (b, "since", (gint64) s->since);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
print_status_json (CfCtlStatus *st)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string_member (b, "version", st->version);
  add_string_member (b, "active_account", st->active_account);
  json_builder_set_member_name (b, "accounts");
  json_builder_begin_array (b);
  for (guint i = 0; i < st->accounts->len; i++)
    {
      CfCtlAccount *a = g_ptr_array_index (st->accounts, i);
      json_builder_begin_object (b);
      add_string_member (b, "name", a->name);
      add_string_member (b, "home", a->home);
      add_bool_member (b, "available", a->available);
      add_int_member (b, "exhausted_until", (gint64) a->exhausted_until);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  add_string_member (b, "swap_state", st->swap_state);
  add_bool_member (b, "partial_swap", st->partial_swap);
  json_builder_set_member_name (b, "last_swap");
  json_builder_begin_object (b);
  add_int_member (b, "when", (gint64) st->last_swap_when);
  add_string_member (b, "from", st->last_swap_from);
  add_string_member (b, "to", st->last_swap_to);
  json_builder_end_object (b);
  add_int_member (b, "return_at", (gint64) st->return_at);
  add_bool_member (b, "dispatch_paused", st->dispatch_paused);
  add_string_member (b, "dispatch_paused_reason", st->dispatch_paused_reason);
  add_int_member (b, "dispatch_resumes_at", (gint64) st->dispatch_resumes_at);
  add_int_member (b, "pending_tasks", st->pending_tasks);
  add_int_member (b, "tasks_dispatched", (gint64) st->dispatched);
  add_int_member (b, "tasks_completed", (gint64) st->completed);
  add_int_member (b, "tasks_failed", (gint64) st->failed);
  add_int_member (b, "tasks_delegated", (gint64) st->delegated);
  json_builder_set_member_name (b, "sessions");
  add_sessions_json (b, st->sessions);
  json_builder_set_member_name (b, "usage");
  json_builder_begin_array (b);
  for (guint i = 0; i < st->usage->len; i++)
    {
      CfCtlAccountUsage *u = g_ptr_array_index (st->usage, i);

      json_builder_begin_object (b);
      add_string_member (b, "account", u->account);
      json_builder_set_member_name (b, "five_hour");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "used");
      json_builder_add_double_value (b, u->five_hour);
      add_int_member (b, "resets_at", (gint64) u->five_hour_reset);
      json_builder_end_object (b);
      json_builder_set_member_name (b, "seven_day");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "used");
      json_builder_add_double_value (b, u->seven_day);
      add_int_member (b, "resets_at", (gint64) u->seven_day_reset);
      json_builder_end_object (b);
      add_string_member (b, "problem", u->problem);
      add_int_member (b, "updated", (gint64) u->updated);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  cf_ctl_print_json (b, FALSE);
}

/* "Label:" padded so that the values line up. */
static void
print_field (const char *label, const char *value)
{
  gsize width = cf_ctl_text_width (label);

  g_print ("%s%*s %s\n", label, (int) (width < 16 ? 16 - width : 0), "", value);
}

static void
print_accounts_table (CfCtlStatus *st)
{
  g_autoptr(CfCtlTable) table = cf_ctl_table_new (4, "", _("ACCOUNT"), _("STATE"), _("HOME"));

  for (guint i = 0; i < st->accounts->len; i++)
    {
      CfCtlAccount *a = g_ptr_array_index (st->accounts, i);
      gboolean active = g_strcmp0 (a->name, st->active_account) == 0;
      g_autofree char *until = a->exhausted_until > 0 ? cf_ctl_absolute_time ((gint64) a->exhausted_until)
                                                      : NULL;
      g_autofree char *state = NULL;

      if (a->available)
        state = g_strdup (_("available"));
      else if (until != NULL)
        /* TRANSLATORS: %s is a date and a relative time */
        state = g_strdup_printf (_("exhausted until %s"), until);
      else
        state = g_strdup (_("exhausted"));
      cf_ctl_table_add_row (table);
      cf_ctl_table_set (table, 0, active ? "*" : " ", CF_CTL_STYLE_BOLD);
      cf_ctl_table_set (table, 1, a->name, active ? CF_CTL_STYLE_BOLD : CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 2, state, a->available ? CF_CTL_STYLE_GREEN : CF_CTL_STYLE_RED);
      cf_ctl_table_set (table, 3, a->home, CF_CTL_STYLE_NONE);
    }
  cf_ctl_table_print (table);
}

/* A bar per window, time to its reset, and why an account is unusable. */
static void
print_usage_table (CfCtlStatus *st)
{
  g_autoptr(CfCtlTable) table = NULL;
  gint64 now = g_get_real_time ();

  if (st->usage->len == 0)
    return;
  /* TRANSLATORS: column titles: the 5-hour and the weekly usage window */
  table = cf_ctl_table_new (4, _("ACCOUNT"), _("5-HOUR"), _("WEEKLY"), _("PROBLEM"));
  for (guint i = 0; i < st->usage->len; i++)
    {
      CfCtlAccountUsage *u = g_ptr_array_index (st->usage, i);
      g_autofree char *five = cf_ctl_usage_bar (u->five_hour, (gint64) u->five_hour_reset, now, 10);
      g_autofree char *week = cf_ctl_usage_bar (u->seven_day, (gint64) u->seven_day_reset, now, 10);
      double peak = MAX (u->five_hour, u->seven_day);

      cf_ctl_table_add_row (table);
      cf_ctl_table_set (table, 0, u->account, CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 1, five, u->five_hour >= 90 ? CF_CTL_STYLE_RED : CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 2, week, u->seven_day >= 90 ? CF_CTL_STYLE_RED : CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 3, u->problem[0] != '\0' ? u->problem : "-",
                        u->problem[0] != '\0' || peak >= 100 ? CF_CTL_STYLE_RED
                                                            : CF_CTL_STYLE_NONE);
    }
  g_print ("\n");
  cf_ctl_table_print (table);
}

static void
print_status_human (CfCtlStatus *st)
{
  g_autofree char *version = cf_ctl_printable (st->version);
  g_autofree char *active = cf_ctl_printable (st->active_account);
  g_autofree char *swap = NULL;
  g_autofree char *last = NULL;
  g_autofree char *tasks = NULL;
  g_autofree char *pending = g_strdup_printf ("%u", st->pending_tasks);

  print_field (_("Version:"), version);
  print_field (_("Active account:"), active);
  if (st->partial_swap)
    {
      g_autofree char *warning = cf_ctl_styled (CF_CTL_STYLE_RED,
                                                _("PARTIAL SWAP: switches refused until cleared"));
      g_autofree char *state = cf_ctl_printable (st->swap_state);
      swap = g_strdup_printf ("%s — %s", state, warning);
    }
  else
    swap = cf_ctl_printable (st->swap_state);
  print_field (_("Swap state:"), swap);
  if (st->last_swap_when > 0)
    {
      g_autofree char *when = cf_ctl_absolute_time ((gint64) st->last_swap_when);
      g_autofree char *from = cf_ctl_printable (st->last_swap_from);
      g_autofree char *to = cf_ctl_printable (st->last_swap_to);
      /* TRANSLATORS: from account → to account, then the time */
      last = g_strdup_printf (_("%s → %s, %s"), from, to, when);
    }
  else
    last = g_strdup (_("never"));
  print_field (_("Last swap:"), last);
  if (st->return_at > 0)
    {
      g_autofree char *when = cf_ctl_absolute_time ((gint64) st->return_at);
      print_field (_("Return at:"), when);
    }
  {
    guint available = 0;

    for (guint i = 0; i < st->accounts->len; i++)
      available += ((CfCtlAccount *) g_ptr_array_index (st->accounts, i))->available;
    /* The daemon's own reason first; older daemons do not give one. */
    if (g_strcmp0 (st->dispatch_paused_reason, "accounts-exhausted") == 0)
      available = 0;
    print_field (_("Dispatch:"),
                 cf_ctl_dispatch_text (st->dispatch_paused &&
                                       g_strcmp0 (st->dispatch_paused_reason,
                                                  "accounts-exhausted") != 0,
                                       st->swap_state, available, st->accounts->len));
    if (g_strcmp0 (st->dispatch_paused_reason, "accounts-exhausted") == 0 &&
        st->dispatch_resumes_at > 0)
      {
        g_autofree char *when = cf_ctl_absolute_time ((gint64) st->dispatch_resumes_at);
        /* TRANSLATORS: dispatch waits for the earliest usage reset */
        print_field (_("Resumes at:"), when);
      }
  }
  print_field (_("Pending tasks:"), pending);
  /* Plain %llu: a G_GUINT64_FORMAT macro would cut the msgid short. */
  tasks = g_strdup_printf (_("%llu dispatched, %llu completed, %llu failed, %llu delegated"),
                           (unsigned long long) st->dispatched, (unsigned long long) st->completed,
                           (unsigned long long) st->failed, (unsigned long long) st->delegated);
  print_field (_("Tasks:"), tasks);
  g_print ("\n");
  print_accounts_table (st);
  print_usage_table (st);
  g_print ("\n");
  print_sessions_table (st->sessions);
}

static const CfCtlUsage status_usage = {
  .command = "status",
  .parameters = "",
  .summary = N_("Shows the daemon's accounts, swap state, counters and sessions (GetStatus)."),
};

static const CfCtlUsage sessions_usage = {
  .command = "sessions",
  .parameters = "",
  .summary = N_("Lists the pool and dedicated sessions with their state, project, task and\n"
                "account."),
};

static int
run_status_command (const CfCtlUsage *usage, int argc, char **argv, gboolean json)
{
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(CfCtlStatus) st = NULL;
  g_auto(GStrv) args = NULL;
  int status = cf_ctl_parse_args (usage, NULL, argc, argv, &json, &args);

  if (status >= 0)
    return status;
  bus = cf_ctl_bus_open (usage->command, FALSE);
  if (bus == NULL)
    return 1;
  st = cf_ctl_fetch_status (bus, usage->command, CF_CTL_CALL_DEFAULT);
  if (st == NULL)
    return 1;
  if (usage == &status_usage)
    {
      if (json)
        print_status_json (st);
      else
        print_status_human (st);
    }
  else if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      add_sessions_json (b, st->sessions);
      cf_ctl_print_json (b, FALSE);
    }
  else
    print_sessions_table (st->sessions);
  return 0;
}

int
cf_ctl_status (int argc, char **argv, gboolean json)
{
  return run_status_command (&status_usage, argc, argv, json);
}

int
cf_ctl_sessions (int argc, char **argv, gboolean json)
{
  return run_status_command (&sessions_usage, argc, argv, json);
}
