/* SPDX-License-Identifier: MIT */
/* The commands that steer the daemon: `switch`, `clear-partial-swap`,
 * `pause`, `resume`, `reload` and `recycle`. */
#include "cf-ctl.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "cf-ctl-args.h"
#include "cf-ctl-bus.h"
#include "cf-ctl-output.h"
#include "cf-names.h"

static const char *const account_arg_names[] = { "ACCOUNT" };
static const char *const session_arg_names[] = { "SESSION" };

static const CfCtlUsage switch_usage = {
  .command = "switch",
  .json_help = N_("print the active account and the swap state after the\ncall as JSON"),
  .parameters = N_("[ACCOUNT]"),
  .summary = N_("Switches the pool to ACCOUNT, or to the next available account without one\n"
                "(SwitchAccount): every session's resume id is saved, the account is\n"
                "switched and the sessions are recreated on it."),
  .description = N_("Refused while a switch is in progress, and after a partial swap until\n"
                    "'claude-failoverctl clear-partial-swap'."),
  .min_args = 0,
  .max_args = 1,
  .arg_names = account_arg_names,
};

static const CfCtlUsage clear_partial_swap_usage = {
  .command = "clear-partial-swap",
  .json_help = N_("no output on success: the exit status says it"),
  .parameters = "",
  .summary = N_("Allows account switches again after a switch that failed half-way and could\n"
                "not roll back (ClearPartialSwap). Repair the account links first: see the\n"
                "daemon's log for what the failed switch left behind."),
};

static const CfCtlUsage pause_usage = {
  .command = "pause",
  .json_help = N_("no output on success: the exit status says it"),
  .parameters = "",
  .summary = N_("Stops dispatching new tasks (PauseDispatch); running tasks go on."),
};

static const CfCtlUsage resume_usage = {
  .command = "resume",
  .json_help = N_("no output on success: the exit status says it"),
  .parameters = "",
  .summary = N_("Dispatches tasks again after 'pause' (ResumeDispatch)."),
};

static const CfCtlUsage reload_usage = {
  .command = "reload",
  .json_help = N_("no output on success: the exit status says it"),
  .parameters = "",
  .summary = N_("Makes the daemon read its configuration file again (Reload), as SIGHUP does.\n"
                "A configuration with errors is refused and the running one is kept."),
};

static const CfCtlUsage recycle_usage = {
  .command = "recycle",
  .json_help = N_("no output on success: the exit status says it"),
  .parameters = N_("SESSION"),
  .summary = N_("Ends pool session SESSION's task, which goes back to the queue, and gives\n"
                "it a fresh Claude session (RecycleSession)."),
  .min_args = 1,
  .max_args = 1,
  .arg_names = session_arg_names,
};

/* Parses, connects and calls MEMBER with no arguments: -1 when the call
 * succeeded, else the exit status (help, usage error, failure). With
 * --json, a command that succeeded prints nothing: its exit status says it. */
static int
call_without_arguments (const CfCtlUsage *usage, const char *member, const char *action,
                        int argc, char **argv, gboolean *json)
{
  g_autoptr(sd_bus) bus = NULL;
  g_auto(GStrv) args = NULL;
  CfCtlCallInfo info = { .command = usage->command, .action = action };
  int status = cf_ctl_parse_args (usage, NULL, argc, argv, json, &args);

  if (status >= 0)
    return status;
  bus = cf_ctl_bus_open (usage->command, FALSE);
  if (bus == NULL)
    return 1;
  if (!cf_ctl_call_simple (bus, member, &info, CF_CTL_CALL_MUTATING, NULL, NULL))
    return 1;
  return -1;
}

int
cf_ctl_pause (int argc, char **argv, gboolean json)
{
  int status = call_without_arguments (&pause_usage, "PauseDispatch", CF_POLKIT_CONTROL,
                                       argc, argv, &json);

  if (status >= 0 || json)
    return MAX (status, 0);
  g_print ("%s\n", _("Dispatch paused: running tasks go on, no new task starts."));
  return 0;
}

int
cf_ctl_resume (int argc, char **argv, gboolean json)
{
  int status = call_without_arguments (&resume_usage, "ResumeDispatch", CF_POLKIT_CONTROL,
                                       argc, argv, &json);

  if (status >= 0 || json)
    return MAX (status, 0);
  g_print ("%s\n", _("Dispatch resumed."));
  return 0;
}

int
cf_ctl_reload (int argc, char **argv, gboolean json)
{
  int status = call_without_arguments (&reload_usage, "Reload", CF_POLKIT_CONTROL, argc, argv, &json);

  if (status >= 0 || json)
    return MAX (status, 0);
  g_print ("%s\n", _("Configuration reloaded."));
  return 0;
}

int
cf_ctl_clear_partial_swap (int argc, char **argv, gboolean json)
{
  int status = call_without_arguments (&clear_partial_swap_usage, "ClearPartialSwap",
                                       CF_POLKIT_SWITCH_ACCOUNT, argc, argv, &json);

  if (status >= 0 || json)
    return MAX (status, 0);
  g_print ("%s\n", _("Partial swap cleared: account switches are allowed again."));
  return 0;
}

int
cf_ctl_recycle (int argc, char **argv, gboolean json)
{
  g_autoptr(sd_bus) bus = NULL;
  g_auto(GStrv) args = NULL;
  g_autofree char *session = NULL;
  CfCtlCallInfo info = { .command = recycle_usage.command, .action = CF_POLKIT_CONTROL };
  int status = cf_ctl_parse_args (&recycle_usage, NULL, argc, argv, &json, &args);

  if (status >= 0)
    return status;
  info.session = args[0];
  bus = cf_ctl_bus_open (recycle_usage.command, FALSE);
  if (bus == NULL)
    return 1;
  if (!cf_ctl_call_simple (bus, "RecycleSession", &info, CF_CTL_CALL_MUTATING, NULL, "s", args[0]))
    return 1;
  if (json)
    return 0;
  session = cf_ctl_printable (args[0]);
  /* TRANSLATORS: %s is a session name */
  g_print (_("Session %s is being recycled.\n"), session);
  return 0;
}

int
cf_ctl_switch (int argc, char **argv, gboolean json)
{
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(CfCtlStatus) after = NULL;
  g_auto(GStrv) args = NULL;
  CfCtlCallInfo info = { .command = switch_usage.command, .action = CF_POLKIT_SWITCH_ACCOUNT };
  const char *account;
  int status = cf_ctl_parse_args (&switch_usage, NULL, argc, argv, &json, &args);

  if (status >= 0)
    return status;
  account = args[0] != NULL ? args[0] : "";
  info.account = account;
  bus = cf_ctl_bus_open (switch_usage.command, FALSE);
  if (bus == NULL)
    return 1;
  if (!cf_ctl_call_simple (bus, "SwitchAccount", &info, CF_CTL_CALL_MUTATING, NULL, "s", account))
    return 1;

  /* Say where things stand now: the switch may still be running. */
  after = cf_ctl_fetch_status (bus, switch_usage.command, CF_CTL_CALL_QUIET);
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "active_account");
      json_builder_add_string_value (b, after ? after->active_account : "");
      json_builder_set_member_name (b, "swap_state");
      json_builder_add_string_value (b, after ? after->swap_state : "");
      json_builder_end_object (b);
      cf_ctl_print_json (b, FALSE);
    }
  else if (after != NULL && g_str_equal (after->swap_state, "normal") &&
      (*account == '\0' || g_str_equal (after->active_account, account)))
    {
      g_autofree char *active = cf_ctl_printable (after->active_account);
      /* TRANSLATORS: %s is an account name */
      g_print (_("Switched to account %s.\n"), active);
    }
  else if (*account != '\0')
    {
      g_autofree char *target = cf_ctl_printable (account);
      /* TRANSLATORS: %s is an account name */
      g_print (_("Switching to account %s; follow it with 'claude-failoverctl monitor'.\n"),
               target);
    }
  else
    g_print ("%s\n", _("Switching to the next available account; follow it with "
                       "'claude-failoverctl monitor'."));
  return 0;
}
