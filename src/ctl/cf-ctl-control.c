/* SPDX-License-Identifier: MIT */
/* The commands that steer the daemon: `clear-partial-swap`, `pause`,
 * `resume`, `reload`, `recycle` and `accounts enable` (`switch` has its
 * own file). */
#include "cf-ctl.h"

#include <glib/gi18n.h>

#include "cf-ctl-args.h"
#include "cf-ctl-bus.h"
#include "cf-ctl-output.h"
#include "cf-names.h"

static const char *const session_arg_names[] = { "SESSION" };
static const char *const accounts_arg_names[] = { "enable", "NAME" };

static const CfCtlUsage accounts_usage = {
  .command = "accounts",
  .json_help = N_("no output on success: the exit status says it"),
  .parameters = N_("enable NAME"),
  .summary = N_("'accounts enable NAME' clears the problem of account NAME (EnableAccount):\n"
                "an account the daemon marked unusable (authentication_failed, billing_error,\n"
                "…: the problem column of 'status') may be switched to again. Fix the account\n"
                "first (log in again with CLAUDE_CONFIG_DIR set to its home)."),
  .min_args = 2,
  .max_args = 2,
  .arg_names = accounts_arg_names,
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
cf_ctl_accounts (int argc, char **argv, gboolean json)
{
  g_autoptr(sd_bus) bus = NULL;
  g_auto(GStrv) args = NULL;
  g_autofree char *account = NULL;
  CfCtlCallInfo info = { .command = accounts_usage.command, .action = CF_POLKIT_SWITCH_ACCOUNT };
  int status = cf_ctl_parse_args (&accounts_usage, NULL, argc, argv, &json, &args);

  if (status >= 0)
    return status;
  if (!g_str_equal (args[0], "enable"))
    {
      g_autofree char *shown = cf_ctl_printable (args[0]);
      /* TRANSLATORS: %s is what the user typed after "accounts" */
      return cf_ctl_fail (2, accounts_usage.command,
                          _("unknown action '%s' (known: enable)"), shown);
    }
  info.account = args[1];
  bus = cf_ctl_bus_open (accounts_usage.command, FALSE);
  if (bus == NULL)
    return 1;
  if (!cf_ctl_call_simple (bus, "EnableAccount", &info, CF_CTL_CALL_MUTATING, NULL, "s", args[1]))
    return 1;
  if (json)
    return 0;
  account = cf_ctl_printable (args[1]);
  /* TRANSLATORS: %s is an account name */
  g_print (_("Account %s is enabled: the daemon may switch to it again.\n"), account);
  return 0;
}
