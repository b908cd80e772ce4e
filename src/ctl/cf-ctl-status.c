/* SPDX-License-Identifier: MIT */
/* `status` and `sessions`: read-only views of GetStatus. */
#include "cf-ctl.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "cf-names.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)

typedef struct {
  char *name, *home;
  gboolean available;
  guint64 exhausted_until;
} Account;

typedef struct {
  char *name, *kind, *state, *project, *task, *account;
  guint64 since;
} Session;

typedef struct {
  char *version;
  char *active_account;
  GPtrArray *accounts;         /* Account* */
  char *swap_state;
  gboolean partial_swap;
  guint64 last_swap_when;
  char *last_swap_from, *last_swap_to;
  guint64 return_at;
  gboolean dispatch_paused;
  GPtrArray *sessions;         /* Session* */
  guint32 pending_tasks;
  guint64 dispatched, completed, failed, delegated;
} Status;

static void
account_free (Account *a)
{
  g_free (a->name);
  g_free (a->home);
  g_free (a);
}

static void
session_free (Session *s)
{
  g_free (s->name);
  g_free (s->kind);
  g_free (s->state);
  g_free (s->project);
  g_free (s->task);
  g_free (s->account);
  g_free (s);
}

static void
status_clear (Status *status)
{
  g_free (status->version);
  g_free (status->active_account);
  g_clear_pointer (&status->accounts, g_ptr_array_unref);
  g_free (status->swap_state);
  g_free (status->last_swap_from);
  g_free (status->last_swap_to);
  g_clear_pointer (&status->sessions, g_ptr_array_unref);
}

static int
read_string (sd_bus_message *m, char **out)
{
  const char *s = NULL;
  int r = sd_bus_message_read (m, "s", &s);

  if (r >= 0)
    {
      g_free (*out);
      *out = g_strdup (s);
    }
  return r;
}

static int
read_accounts (sd_bus_message *m, GPtrArray *accounts)
{
  const char *name, *home;
  int available;
  uint64_t until;
  int r;

  r = sd_bus_message_enter_container (m, 'a', "(ssbt)");
  if (r < 0)
    return r;
  while ((r = sd_bus_message_read (m, "(ssbt)", &name, &home, &available, &until)) > 0)
    {
      Account *a = g_new0 (Account, 1);
      a->name = g_strdup (name);
      a->home = g_strdup (home);
      a->available = available;
      a->exhausted_until = until;
      g_ptr_array_add (accounts, a);
    }
  if (r < 0)
    return r;
  return sd_bus_message_exit_container (m);
}

static int
read_sessions (sd_bus_message *m, GPtrArray *sessions)
{
  const char *name, *kind, *state, *project, *task, *account;
  uint64_t since;
  int r;

  r = sd_bus_message_enter_container (m, 'a', "(sssssst)");
  if (r < 0)
    return r;
  while ((r = sd_bus_message_read (m, "(sssssst)", &name, &kind, &state, &project, &task,
                                   &account, &since)) > 0)
    {
      Session *s = g_new0 (Session, 1);
      s->name = g_strdup (name);
      s->kind = g_strdup (kind);
      s->state = g_strdup (state);
      s->project = g_strdup (project);
      s->task = g_strdup (task);
      s->account = g_strdup (account);
      s->since = since;
      g_ptr_array_add (sessions, s);
    }
  if (r < 0)
    return r;
  return sd_bus_message_exit_container (m);
}

static int
read_status_entry (sd_bus_message *m, const char *key, Status *st)
{
  const char *from, *to;
  uint64_t when;
  int b, r;

  if (g_str_equal (key, "Version"))
    return read_string (m, &st->version);
  if (g_str_equal (key, "ActiveAccount"))
    return read_string (m, &st->active_account);
  if (g_str_equal (key, "SwapState"))
    return read_string (m, &st->swap_state);
  if (g_str_equal (key, "Accounts"))
    return read_accounts (m, st->accounts);
  if (g_str_equal (key, "Sessions"))
    return read_sessions (m, st->sessions);
  if (g_str_equal (key, "PartialSwap") || g_str_equal (key, "DispatchPaused"))
    {
      r = sd_bus_message_read (m, "b", &b);
      if (r >= 0)
        *(g_str_equal (key, "PartialSwap") ? &st->partial_swap : &st->dispatch_paused) = b;
      return r;
    }
  if (g_str_equal (key, "LastSwap"))
    {
      r = sd_bus_message_read (m, "(tss)", &when, &from, &to);
      if (r >= 0)
        {
          st->last_swap_when = when;
          st->last_swap_from = g_strdup (from);
          st->last_swap_to = g_strdup (to);
        }
      return r;
    }
  if (g_str_equal (key, "PendingTasks"))
    return sd_bus_message_read (m, "u", &st->pending_tasks);
  if (g_str_equal (key, "ReturnAt"))
    return sd_bus_message_read (m, "t", &st->return_at);
  if (g_str_equal (key, "TasksDispatched"))
    return sd_bus_message_read (m, "t", &st->dispatched);
  if (g_str_equal (key, "TasksCompleted"))
    return sd_bus_message_read (m, "t", &st->completed);
  if (g_str_equal (key, "TasksFailed"))
    return sd_bus_message_read (m, "t", &st->failed);
  if (g_str_equal (key, "TasksDelegated"))
    return sd_bus_message_read (m, "t", &st->delegated);
  /* A newer daemon may add keys: skip what we do not know. */
  return sd_bus_message_skip (m, NULL);
}

/* Explains the usual D-Bus failures in one line an operator can act on. */
static void
print_bus_error (const sd_bus_error *error, int r)
{
  if (sd_bus_error_has_name (error, "org.freedesktop.DBus.Error.ServiceUnknown") ||
      sd_bus_error_has_name (error, "org.freedesktop.DBus.Error.NameHasNoOwner"))
    g_printerr (_("claude-failoverctl: claude-failoverd is not running (%s has no owner on the system bus)\n"),
                CF_BUS_NAME);
  else if (sd_bus_error_has_name (error, "org.freedesktop.DBus.Error.AccessDenied"))
    g_printerr (_("claude-failoverctl: access denied by the bus policy: %s\n"), error->message);
  else if (sd_bus_error_is_set (error))
    g_printerr (_("claude-failoverctl: %s (%s)\n"), error->message, error->name);
  else
    g_printerr (_("claude-failoverctl: D-Bus call failed: %s\n"), g_strerror (-r));
}

static gboolean
fetch_status (Status *st)
{
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  int r;

  st->accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) account_free);
  st->sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) session_free);

  r = sd_bus_open_system (&bus);
  if (r < 0)
    {
      g_printerr (_("claude-failoverctl: cannot connect to the system bus: %s\n"), g_strerror (-r));
      return FALSE;
    }
  r = sd_bus_call_method (bus, CF_BUS_NAME, CF_OBJECT_PATH, CF_INTERFACE, "GetStatus",
                          &error, &reply, "");
  if (r < 0)
    {
      print_bus_error (&error, r);
      sd_bus_error_free (&error);
      return FALSE;
    }

  r = sd_bus_message_enter_container (reply, 'a', "{sv}");
  while (r >= 0 && (r = sd_bus_message_enter_container (reply, 'e', "sv")) > 0)
    {
      const char *key = NULL, *contents = NULL;

      r = sd_bus_message_read (reply, "s", &key);
      if (r >= 0)
        r = sd_bus_message_peek_type (reply, NULL, &contents);
      if (r >= 0)
        r = sd_bus_message_enter_container (reply, 'v', contents);
      if (r >= 0)
        r = read_status_entry (reply, key, st);
      if (r >= 0)
        r = sd_bus_message_exit_container (reply);
      if (r >= 0)
        r = sd_bus_message_exit_container (reply);
    }
  if (r < 0)
    {
      g_printerr (_("claude-failoverctl: unexpected GetStatus reply: %s\n"), g_strerror (-r));
      return FALSE;
    }
  return TRUE;
}

/* "12m ago" / "in 3h" / "now"; USEC is µs since the epoch. */
static char *
relative_time (guint64 usec)
{
  gint64 delta = (g_get_real_time () - (gint64) usec) / G_USEC_PER_SEC;
  gint64 magnitude = ABS (delta);
  g_autofree char *amount = NULL;

  if (magnitude < 5)
    return g_strdup (_("now"));
  if (magnitude < 60)
    amount = g_strdup_printf ("%" G_GINT64_FORMAT "s", magnitude);
  else if (magnitude < 3600)
    amount = g_strdup_printf ("%" G_GINT64_FORMAT "m", magnitude / 60);
  else if (magnitude < 86400)
    amount = g_strdup_printf ("%" G_GINT64_FORMAT "h%02" G_GINT64_FORMAT "m",
                              magnitude / 3600, (magnitude % 3600) / 60);
  else
    amount = g_strdup_printf ("%" G_GINT64_FORMAT "d", magnitude / 86400);
  /* TRANSLATORS: %s is a duration such as "12m" */
  return delta >= 0 ? g_strdup_printf (_("%s ago"), amount) : g_strdup_printf (_("in %s"), amount);
}

static char *
absolute_time (guint64 usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local ((gint64) (usec / G_USEC_PER_SEC));
  g_autofree char *relative = relative_time (usec);
  g_autofree char *text = dt ? g_date_time_format (dt, "%Y-%m-%d %H:%M:%S %Z") : g_strdup ("?");

  return g_strdup_printf ("%s (%s)", text, relative);
}

static const char *
or_dash (const char *text)
{
  return text != NULL && *text != '\0' ? text : "-";
}

static void
print_sessions_table (GPtrArray *sessions)
{
  int w_name = strlen (_("NAME")), w_kind = strlen (_("KIND")), w_state = strlen (_("STATE"));
  int w_project = strlen (_("PROJECT")), w_task = strlen (_("TASK")), w_account = strlen (_("ACCOUNT"));

  for (guint i = 0; i < sessions->len; i++)
    {
      Session *s = g_ptr_array_index (sessions, i);
      w_name = MAX (w_name, (int) strlen (s->name));
      w_kind = MAX (w_kind, (int) strlen (s->kind));
      w_state = MAX (w_state, (int) strlen (s->state));
      w_project = MAX (w_project, (int) strlen (or_dash (s->project)));
      w_task = MAX (w_task, (int) strlen (or_dash (s->task)));
      w_account = MAX (w_account, (int) strlen (or_dash (s->account)));
    }
  g_print ("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w_name, _("NAME"), w_kind, _("KIND"),
           w_state, _("STATE"), w_project, _("PROJECT"), w_task, _("TASK"), w_account,
           _("ACCOUNT"), _("SINCE"));
  for (guint i = 0; i < sessions->len; i++)
    {
      Session *s = g_ptr_array_index (sessions, i);
      g_autofree char *since = relative_time (s->since);
      g_print ("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w_name, s->name, w_kind, s->kind,
               w_state, s->state, w_project, or_dash (s->project), w_task, or_dash (s->task),
               w_account, or_dash (s->account), since);
    }
}

static void
add_sessions_json (JsonBuilder *b, GPtrArray *sessions)
{
  json_builder_begin_array (b);
  for (guint i = 0; i < sessions->len; i++)
    {
      Session *s = g_ptr_array_index (sessions, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, s->name);
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, s->kind);
      json_builder_set_member_name (b, "state");
      json_builder_add_string_value (b, s->state);
      json_builder_set_member_name (b, "project");
      json_builder_add_string_value (b, s->project);
      json_builder_set_member_name (b, "task");
      json_builder_add_string_value (b, s->task);
      json_builder_set_member_name (b, "account");
      json_builder_add_string_value (b, s->account);
      json_builder_set_member_name (b, "since");
      json_builder_add_int_value (b, (gint64) s->since);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
print_json (JsonBuilder *b)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = NULL;

  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
}

static void
print_status_json (Status *st)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, st->version ? st->version : "");
  json_builder_set_member_name (b, "active_account");
  json_builder_add_string_value (b, st->active_account ? st->active_account : "");
  json_builder_set_member_name (b, "accounts");
  json_builder_begin_array (b);
  for (guint i = 0; i < st->accounts->len; i++)
    {
      Account *a = g_ptr_array_index (st->accounts, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, a->name);
      json_builder_set_member_name (b, "home");
      json_builder_add_string_value (b, a->home);
      json_builder_set_member_name (b, "available");
      json_builder_add_boolean_value (b, a->available);
      json_builder_set_member_name (b, "exhausted_until");
      json_builder_add_int_value (b, (gint64) a->exhausted_until);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "swap_state");
  json_builder_add_string_value (b, st->swap_state ? st->swap_state : "");
  json_builder_set_member_name (b, "partial_swap");
  json_builder_add_boolean_value (b, st->partial_swap);
  json_builder_set_member_name (b, "last_swap");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "when");
  json_builder_add_int_value (b, (gint64) st->last_swap_when);
  json_builder_set_member_name (b, "from");
  json_builder_add_string_value (b, st->last_swap_from ? st->last_swap_from : "");
  json_builder_set_member_name (b, "to");
  json_builder_add_string_value (b, st->last_swap_to ? st->last_swap_to : "");
  json_builder_end_object (b);
  json_builder_set_member_name (b, "return_at");
  json_builder_add_int_value (b, (gint64) st->return_at);
  json_builder_set_member_name (b, "dispatch_paused");
  json_builder_add_boolean_value (b, st->dispatch_paused);
  json_builder_set_member_name (b, "pending_tasks");
  json_builder_add_int_value (b, st->pending_tasks);
  json_builder_set_member_name (b, "tasks_dispatched");
  json_builder_add_int_value (b, (gint64) st->dispatched);
  json_builder_set_member_name (b, "tasks_completed");
  json_builder_add_int_value (b, (gint64) st->completed);
  json_builder_set_member_name (b, "tasks_failed");
  json_builder_add_int_value (b, (gint64) st->failed);
  json_builder_set_member_name (b, "tasks_delegated");
  json_builder_add_int_value (b, (gint64) st->delegated);
  json_builder_set_member_name (b, "sessions");
  add_sessions_json (b, st->sessions);
  json_builder_end_object (b);
  print_json (b);
}

static void
print_status_human (Status *st)
{
  g_print ("%-16s %s\n", _("Version:"), st->version);
  g_print ("%-16s %s\n", _("Active account:"), st->active_account);
  g_print ("%-16s %s%s\n", _("Swap state:"), st->swap_state,
           st->partial_swap ? _(" — PARTIAL SWAP: switches refused until cleared") : "");
  if (st->last_swap_when > 0)
    {
      g_autofree char *when = absolute_time (st->last_swap_when);
      g_print ("%-16s %s → %s, %s\n", _("Last swap:"), st->last_swap_from, st->last_swap_to, when);
    }
  else
    g_print ("%-16s %s\n", _("Last swap:"), _("never"));
  if (st->return_at > 0)
    {
      g_autofree char *when = absolute_time (st->return_at);
      g_print ("%-16s %s\n", _("Return at:"), when);
    }
  g_print ("%-16s %s\n", _("Dispatch:"), st->dispatch_paused ? _("paused") : _("running"));
  g_print ("%-16s %u\n", _("Pending tasks:"), st->pending_tasks);
  g_print (_("%-16s %" G_GUINT64_FORMAT " dispatched, %" G_GUINT64_FORMAT " completed, %"
             G_GUINT64_FORMAT " failed, %" G_GUINT64_FORMAT " delegated\n"),
           _("Tasks:"), st->dispatched, st->completed, st->failed, st->delegated);
  g_print ("\n%s\n", _("Accounts:"));
  for (guint i = 0; i < st->accounts->len; i++)
    {
      Account *a = g_ptr_array_index (st->accounts, i);
      g_autofree char *until = a->exhausted_until > 0 ? absolute_time (a->exhausted_until) : NULL;
      g_print ("  %s %-12s %s  %s%s%s\n",
               g_strcmp0 (a->name, st->active_account) == 0 ? "*" : " ",
               a->name, a->home, a->available ? _("available") : _("exhausted"),
               until ? _(" until ") : "", until ? until : "");
    }
  g_print ("\n%s\n", _("Sessions:"));
  print_sessions_table (st->sessions);
}

static gboolean
wants_help (int argc, char **argv, const char *usage, const char *summary)
{
  for (int i = 1; i < argc; i++)
    if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
      {
        g_print ("%s\n\n%s\n", usage, summary);
        return TRUE;
      }
  return FALSE;
}

int
cf_ctl_status (int argc, char **argv, gboolean json)
{
  Status st = { 0 };

  if (wants_help (argc, argv, _("Usage: claude-failoverctl [--json] status"),
                  _("Shows the daemon's accounts, swap state, counters and sessions.")))
    return 0;
  if (argc > 1)
    {
      g_printerr (_("claude-failoverctl: status takes no arguments (got '%s')\n"), argv[1]);
      return 2;
    }
  if (!fetch_status (&st))
    {
      status_clear (&st);
      return 1;
    }
  if (json)
    print_status_json (&st);
  else
    print_status_human (&st);
  status_clear (&st);
  return 0;
}

int
cf_ctl_sessions (int argc, char **argv, gboolean json)
{
  Status st = { 0 };

  if (wants_help (argc, argv, _("Usage: claude-failoverctl [--json] sessions"),
                  _("Lists the pool and dedicated sessions with their state.")))
    return 0;
  if (argc > 1)
    {
      g_printerr (_("claude-failoverctl: sessions takes no arguments (got '%s')\n"), argv[1]);
      return 2;
    }
  if (!fetch_status (&st))
    {
      status_clear (&st);
      return 1;
    }
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      add_sessions_json (b, st.sessions);
      print_json (b);
    }
  else
    print_sessions_table (st.sessions);
  status_clear (&st);
  return 0;
}
