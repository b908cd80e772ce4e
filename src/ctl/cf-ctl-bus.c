/* SPDX-License-Identifier: MIT */
/* Calls on org.claudefailover.Manager, their errors in plain words, and the
 * GetStatus and ListTasks replies decoded. */
#include "cf-ctl-bus.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "cf-ctl-output.h"
#include "cf-names.h"

/* Long enough for someone to type a password into a polkit agent. */
#define CF_CTL_INTERACTIVE_TIMEOUT_USEC (5 * 60 * G_USEC_PER_SEC)
#define CF_CTL_QUIET_TIMEOUT_USEC (1 * G_USEC_PER_SEC)

sd_bus *
cf_ctl_bus_open (const char *command, gboolean quiet)
{
  sd_bus *bus = NULL;
  int r = sd_bus_open_system (&bus);

  if (r < 0)
    {
      if (!quiet)
        cf_ctl_fail (1, command, _("cannot connect to the system bus: %s"), g_strerror (-r));
      return NULL;
    }
  return bus;
}

static gboolean
interactive_authorization_allowed (CfCtlCallFlags flags)
{
  return (flags & CF_CTL_CALL_MUTATING) && isatty (STDIN_FILENO);
}

int
cf_ctl_new_call (sd_bus *bus, const char *member, CfCtlCallFlags flags, sd_bus_message **call)
{
  g_autoptr(sd_bus_message) m = NULL;
  int r;

  r = sd_bus_message_new_method_call (bus, &m, CF_BUS_NAME, CF_OBJECT_PATH, CF_INTERFACE, member);
  if (r < 0)
    return r;
  if (interactive_authorization_allowed (flags))
    {
      r = sd_bus_message_set_allow_interactive_authorization (m, 1);
      if (r < 0)
        return r;
    }
  /* Completion must never start a daemon behind the operator's back. */
  if (flags & CF_CTL_CALL_QUIET)
    {
      r = sd_bus_message_set_auto_start (m, 0);
      if (r < 0)
        return r;
    }
  *call = g_steal_pointer (&m);
  return 0;
}

static const char *
or_question (const char *text)
{
  return text != NULL ? text : "?";
}

static gboolean
is_daemon_absent (const sd_bus_error *error)
{
  return sd_bus_error_has_name (error, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
         sd_bus_error_has_name (error, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

char *
cf_ctl_explain_error (const char *member, const CfCtlCallInfo *info, const sd_bus_error *error,
                      int r)
{
  const char *message = error->message != NULL ? error->message : "";

  if (!sd_bus_error_is_set (error))
    {
      if (r == -ETIMEDOUT)
        return g_strdup (_("the daemon did not answer in time"));
      if (r == -ECONNRESET || r == -ENOTCONN)
        return g_strdup (_("lost the connection to the system bus"));
      /* TRANSLATORS: %s is a system error such as "Invalid argument". */
      return g_strdup_printf (_("D-Bus call failed: %s"), g_strerror (-r));
    }
  if (is_daemon_absent (error))
    return g_strdup_printf (_("the daemon is not running (%s has no owner on the system bus)"),
                            CF_BUS_NAME);
  if (g_str_has_prefix (error->name, "org.freedesktop.DBus.Error.Spawn."))
    return g_strdup_printf (_("D-Bus could not start the daemon: %s"), message);
  if (sd_bus_error_has_name (error, SD_BUS_ERROR_ACCESS_DENIED))
    {
      /* dbus-daemon's own refusals name the rule that matched. */
      if (g_str_has_prefix (message, "Rejected send message") || info->action == NULL)
        return g_strdup_printf (_("not authorised by the D-Bus policy: %s"), message);
      /* Name the action once: the daemon's refusal usually does already. */
      if (strstr (message, info->action) != NULL)
        return g_strdup_printf (_("not authorised: %s"), message);
      return g_strdup_printf (_("not authorised (polkit action %s): %s"), info->action, message);
    }
  if (sd_bus_error_has_name (error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
    return g_strdup_printf (_("authorisation required (polkit action %s): run it from a "
                              "terminal with a polkit agent, or as root"),
                            or_question (info->action));
  if (sd_bus_error_has_name (error, CF_ERROR_NO_SUCH_TASK))
    return g_strdup_printf (_("no such task '%s' in project '%s'"), or_question (info->task),
                            or_question (info->project));
  if (sd_bus_error_has_name (error, CF_ERROR_NO_SUCH_PROJECT))
    return g_strdup_printf (_("no such project '%s' (a directory with .agent-queue/inbox "
                              "under projects.dir or projects.extra)"),
                            or_question (info->project));
  if (sd_bus_error_has_name (error, CF_ERROR_NO_SUCH_SESSION))
    return g_strdup_printf (_("no such session '%s' (see 'claude-failoverctl sessions')"),
                            or_question (info->session));
  /* SwitchAccount ("") with no other account to go to. */
  if (sd_bus_error_has_name (error, CF_ERROR_NO_SUCH_ACCOUNT) &&
      (info->account == NULL || *info->account == '\0'))
    return g_strdup (message);
  if (sd_bus_error_has_name (error, CF_ERROR_NO_SUCH_ACCOUNT))
    return g_strdup_printf (_("no such account '%s' (see 'claude-failoverctl status')"),
                            or_question (info->account));
  if (sd_bus_error_has_name (error, CF_ERROR_INVALID_ARGUMENT))
    return g_strdup_printf (_("the daemon refused the request: %s"), message);
  if (sd_bus_error_has_name (error, CF_ERROR_SWAP_IN_PROGRESS))
    return g_strdup_printf (_("an account switch is in progress; try again when it has "
                              "finished (%s)"), message);
  if (sd_bus_error_has_name (error, CF_ERROR_ACCOUNT_UNUSABLE))
    return g_strdup (message);
  if (sd_bus_error_has_name (error, CF_ERROR_PARTIAL_SWAP))
    return g_strdup_printf (_("account switches are refused after a partial swap: repair the "
                              "account links, then run 'claude-failoverctl clear-partial-swap' "
                              "(%s)"), message);
  if (sd_bus_error_has_name (error, SD_BUS_ERROR_UNKNOWN_METHOD) ||
      sd_bus_error_has_name (error, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
      sd_bus_error_has_name (error, SD_BUS_ERROR_UNKNOWN_INTERFACE))
    return g_strdup_printf (_("the running daemon does not provide %s (an older "
                              "claude-failoverd?)"), member);
  if (sd_bus_error_has_name (error, SD_BUS_ERROR_NOT_SUPPORTED))
    return g_strdup_printf (_("the daemon cannot do this: %s"), message);
  if (sd_bus_error_has_name (error, SD_BUS_ERROR_NO_REPLY) ||
      sd_bus_error_has_name (error, SD_BUS_ERROR_TIMEOUT) ||
      sd_bus_error_has_name (error, "org.freedesktop.DBus.Error.TimedOut"))
    return g_strdup (_("the daemon did not answer in time"));
  if (sd_bus_error_has_name (error, SD_BUS_ERROR_DISCONNECTED))
    return g_strdup (_("lost the connection to the system bus"));
  /* The daemon's own words for a failure it has no better name for. */
  if (sd_bus_error_has_name (error, SD_BUS_ERROR_FAILED) && *message != '\0')
    return g_strdup (message);
  /* TRANSLATORS: the daemon's error message, then the D-Bus error name. */
  return g_strdup_printf (_("%s (%s)"), message, error->name);
}

uint64_t
cf_ctl_call_timeout (CfCtlCallFlags flags)
{
  if (flags & CF_CTL_CALL_QUIET)
    return CF_CTL_QUIET_TIMEOUT_USEC;
  if (interactive_authorization_allowed (flags))
    return CF_CTL_INTERACTIVE_TIMEOUT_USEC;
  return 0;
}

gboolean
cf_ctl_call (sd_bus *bus, sd_bus_message *call, const CfCtlCallInfo *info, CfCtlCallFlags flags,
             sd_bus_message **reply)
{
  sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) answer = NULL;
  int r;

  r = sd_bus_call (bus, call, cf_ctl_call_timeout (flags), &error, &answer);
  if (r < 0)
    {
      if (!(flags & CF_CTL_CALL_QUIET))
        {
          g_autofree char *line = cf_ctl_explain_error (sd_bus_message_get_member (call), info,
                                                        &error, r);
          cf_ctl_fail (1, info->command, "%s", line);
        }
      sd_bus_error_free (&error);
      return FALSE;
    }
  if (reply != NULL)
    *reply = g_steal_pointer (&answer);
  return TRUE;
}

gboolean
cf_ctl_call_simple (sd_bus *bus, const char *member, const CfCtlCallInfo *info,
                    CfCtlCallFlags flags, sd_bus_message **reply, const char *types, ...)
{
  g_autoptr(sd_bus_message) call = NULL;
  va_list args;
  int r;

  r = cf_ctl_new_call (bus, member, flags, &call);
  if (r >= 0 && types != NULL && *types != '\0')
    {
      va_start (args, types);
      r = sd_bus_message_appendv (call, types, args);
      va_end (args);
    }
  if (r < 0)
    {
      if (!(flags & CF_CTL_CALL_QUIET))
        cf_ctl_fail (1, info->command, _("cannot build the %s call: %s"), member, g_strerror (-r));
      return FALSE;
    }
  return cf_ctl_call (bus, call, info, flags, reply);
}

/* ---- GetStatus ---------------------------------------------------------- */

static void
account_free (CfCtlAccount *a)
{
  g_free (a->name);
  g_free (a->home);
  g_free (a);
}

static void
session_free (CfCtlSession *s)
{
  g_free (s->name);
  g_free (s->kind);
  g_free (s->state);
  g_free (s->project);
  g_free (s->task);
  g_free (s->account);
  g_free (s);
}

void
cf_ctl_status_free (CfCtlStatus *status)
{
  g_free (status->version);
  g_free (status->active_account);
  g_clear_pointer (&status->accounts, g_ptr_array_unref);
  g_free (status->swap_state);
  g_free (status->dispatch_paused_reason);
  g_free (status->last_swap_from);
  g_free (status->last_swap_to);
  g_clear_pointer (&status->sessions, g_ptr_array_unref);
  g_clear_pointer (&status->usage, g_ptr_array_unref);
  g_free (status);
}

static void
usage_free (CfCtlAccountUsage *usage)
{
  g_free (usage->account);
  g_free (usage->problem);
  g_free (usage);
}

static int
read_usage (sd_bus_message *m, GPtrArray *rows)
{
  const char *account, *problem;
  double five, week;
  uint64_t five_reset, week_reset, updated;
  int r;

  r = sd_bus_message_enter_container (m, 'a', "(sdtdtst)");
  if (r < 0)
    return r;
  while ((r = sd_bus_message_read (m, "(sdtdtst)", &account, &five, &five_reset, &week,
                                   &week_reset, &problem, &updated)) > 0)
    {
      CfCtlAccountUsage *u = g_new0 (CfCtlAccountUsage, 1);

      u->account = g_strdup (account);
      u->five_hour = five;
      u->five_hour_reset = five_reset;
      u->seven_day = week;
      u->seven_day_reset = week_reset;
      u->problem = g_strdup (problem);
      u->updated = updated;
      g_ptr_array_add (rows, u);
    }
  if (r < 0)
    return r;
  return sd_bus_message_exit_container (m);
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

GPtrArray *
cf_ctl_accounts_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) account_free);
}

int
cf_ctl_read_accounts (sd_bus_message *m, GPtrArray *accounts)
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
      CfCtlAccount *a = g_new0 (CfCtlAccount, 1);
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
      CfCtlSession *s = g_new0 (CfCtlSession, 1);
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
read_status_entry (sd_bus_message *m, const char *key, CfCtlStatus *st)
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
    return cf_ctl_read_accounts (m, st->accounts);
  if (g_str_equal (key, "Sessions"))
    return read_sessions (m, st->sessions);
  if (g_str_equal (key, "Usage"))
    return read_usage (m, st->usage);
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
          g_free (st->last_swap_from);
          g_free (st->last_swap_to);
          st->last_swap_from = g_strdup (from);
          st->last_swap_to = g_strdup (to);
        }
      return r;
    }
  if (g_str_equal (key, "PendingTasks"))
    return sd_bus_message_read (m, "u", &st->pending_tasks);
  if (g_str_equal (key, "ReturnAt"))
    return sd_bus_message_read (m, "t", &st->return_at);
  if (g_str_equal (key, "DispatchPausedReason"))
    return read_string (m, &st->dispatch_paused_reason);
  if (g_str_equal (key, "DispatchResumesAt"))
    return sd_bus_message_read (m, "t", &st->dispatch_resumes_at);
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

CfCtlStatus *
cf_ctl_fetch_status (sd_bus *bus, const char *command, CfCtlCallFlags flags)
{
  g_autoptr(CfCtlStatus) st = g_new0 (CfCtlStatus, 1);
  g_autoptr(sd_bus_message) reply = NULL;
  const CfCtlCallInfo info = { .command = command };
  int r;

  st->accounts = cf_ctl_accounts_new ();
  st->sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) session_free);
  st->usage = g_ptr_array_new_with_free_func ((GDestroyNotify) usage_free);
  if (!cf_ctl_call_simple (bus, "GetStatus", &info, flags, &reply, NULL))
    return NULL;

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
      if (!(flags & CF_CTL_CALL_QUIET))
        cf_ctl_fail (1, command, _("unexpected GetStatus reply: %s"), g_strerror (-r));
      return NULL;
    }
  if (st->version == NULL)
    st->version = g_strdup ("");
  if (st->active_account == NULL)
    st->active_account = g_strdup ("");
  if (st->swap_state == NULL)
    st->swap_state = g_strdup ("");
  if (st->last_swap_from == NULL)
    st->last_swap_from = g_strdup ("");
  if (st->last_swap_to == NULL)
    st->last_swap_to = g_strdup ("");
  return g_steal_pointer (&st);
}

/* ---- ListTasks ---------------------------------------------------------- */

static void
task_free (CfCtlTask *t)
{
  g_free (t->project);
  g_free (t->id);
  g_free (t->state);
  g_free (t->session);
  g_free (t->title);
  g_free (t);
}

GPtrArray *
cf_ctl_fetch_tasks (sd_bus *bus, const char *command, CfCtlCallFlags flags)
{
  g_autoptr(GPtrArray) tasks = g_ptr_array_new_with_free_func ((GDestroyNotify) task_free);
  g_autoptr(sd_bus_message) reply = NULL;
  const CfCtlCallInfo info = { .command = command };
  const char *project, *id, *state, *session, *title;
  uint64_t mtime;
  int r;

  if (!cf_ctl_call_simple (bus, "ListTasks", &info, flags, &reply, NULL))
    return NULL;
  r = sd_bus_message_enter_container (reply, 'a', "(ssssst)");
  while (r >= 0 && (r = sd_bus_message_read (reply, "(ssssst)", &project, &id, &state, &session,
                                              &title, &mtime)) > 0)
    {
      CfCtlTask *t = g_new0 (CfCtlTask, 1);
      t->project = g_strdup (project);
      t->id = g_strdup (id);
      t->state = g_strdup (state);
      t->session = g_strdup (session);
      t->title = g_strdup (title);
      t->mtime = mtime;
      g_ptr_array_add (tasks, t);
    }
  if (r >= 0)
    r = sd_bus_message_exit_container (reply);
  if (r < 0)
    {
      if (!(flags & CF_CTL_CALL_QUIET))
        cf_ctl_fail (1, command, _("unexpected ListTasks reply: %s"), g_strerror (-r));
      return NULL;
    }
  return g_steal_pointer (&tasks);
}

GHashTable *
cf_ctl_project_labels (GPtrArray *tasks)
{
  g_autoptr(GHashTable) labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GHashTable) base_count = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < tasks->len; i++)
    {
      CfCtlTask *t = g_ptr_array_index (tasks, i);

      if (!g_hash_table_contains (labels, t->project))
        {
          char *base = g_path_get_basename (t->project);
          g_hash_table_insert (labels, g_strdup (t->project), base);
          g_hash_table_insert (base_count, g_strdup (base),
                               GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (base_count, base)) + 1));
        }
    }
  g_hash_table_iter_init (&iter, labels);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (GPOINTER_TO_UINT (g_hash_table_lookup (base_count, value)) > 1)
      g_hash_table_iter_replace (&iter, g_strdup (key));
  return g_steal_pointer (&labels);
}
