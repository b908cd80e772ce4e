/* SPDX-License-Identifier: MIT */
#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

#include "cf-build-config.h"
#include "cf-ctl.h"
#include "cf-i18n.h"
#include "cf-ctl-output.h"

typedef enum {
  GROUP_VIEW,
  GROUP_TASKS,
  GROUP_CONTROL,
  GROUP_CLAUDE,
  GROUP_HIDDEN,
} Group;

typedef struct {
  const char *name;
  int (*run) (int argc, char **argv, gboolean json);
  Group group;
  /* The command reads --json among its own options (where an option's
   * value may be "--json"); the others get it removed beforehand. */
  gboolean parses_json;
  const char *summary;
} Command;

static const Command commands[] = {
  { "status", cf_ctl_status, GROUP_VIEW, TRUE,
    N_("Show accounts, swap state, counters and sessions") },
  { "sessions", cf_ctl_sessions, GROUP_VIEW, TRUE, N_("List the sessions") },
  { "tasks", cf_ctl_tasks, GROUP_VIEW, TRUE, N_("List the tasks: [PROJECT] [--state STATE]") },
  { "monitor", cf_ctl_monitor, GROUP_VIEW, TRUE, N_("Print the daemon's signals as they happen") },
  { "doctor", cf_ctl_doctor, GROUP_VIEW, TRUE,
    N_("Check the setup, each problem with its fix: [--json]") },
  { "attach", cf_ctl_attach, GROUP_VIEW, TRUE,
    N_("Watch a session in its tmux pane, read-only: SESSION [--write]") },
  { "submit", cf_ctl_submit, GROUP_TASKS, TRUE,
    N_("Queue a task: PROJECT --title TITLE [--priority P] [--file FILE|-]") },
  { "requeue", cf_ctl_requeue, GROUP_TASKS, TRUE, N_("Put a task back in the inbox: PROJECT TASK") },
  { "cancel", cf_ctl_cancel, GROUP_TASKS, TRUE, N_("Cancel a queued or running task: PROJECT TASK") },
  { "switch", cf_ctl_switch, GROUP_CONTROL, TRUE,
    N_("Switch to ACCOUNT, or to the next available one: [ACCOUNT]") },
  { "clear-partial-swap", cf_ctl_clear_partial_swap, GROUP_CONTROL, TRUE,
    N_("Allow switches again after a partial swap") },
  { "accounts", cf_ctl_accounts, GROUP_CONTROL, TRUE,
    N_("Let the daemon use an account marked unusable again: enable NAME") },
  { "pause", cf_ctl_pause, GROUP_CONTROL, TRUE, N_("Stop dispatching new tasks") },
  { "resume", cf_ctl_resume, GROUP_CONTROL, TRUE, N_("Dispatch tasks again") },
  { "reload", cf_ctl_reload, GROUP_CONTROL, TRUE, N_("Reload the configuration file") },
  { "recycle", cf_ctl_recycle, GROUP_CONTROL, TRUE,
    N_("Requeue a session's task and give it a fresh session: SESSION") },
  { "hook", cf_ctl_hook, GROUP_CLAUDE, FALSE,
    N_("Report a Claude Code hook event (run by Claude Code): EVENT") },
  { "statusline", cf_ctl_statusline, GROUP_CLAUDE, FALSE,
    N_("Claude Code's statusLine command: report usage, print one line: [--then COMMAND]") },
  { "install-hooks", cf_ctl_install_hooks, GROUP_CLAUDE, FALSE,
    N_("Add the claude-failover hooks to an account's settings.json: ACCOUNT_HOME") },
  { "explain-pane", cf_ctl_explain_pane, GROUP_CLAUDE, FALSE,
    N_("Classify a pane capture offline: [FILE|-] [--now ISO8601] [--tz ZONE]") },
  { "__complete", cf_ctl_complete, GROUP_HIDDEN, TRUE, NULL },
};

static const char *const group_titles[] = {
  N_("Viewing:"),
  N_("Tasks:"),
  N_("Control:"),
  N_("Claude Code hooks and offline tools:"),
};

static void
print_usage (void)
{
  FILE *out = stdout;

  fprintf (out, "%s\n", _("Usage: claude-failoverctl [--json] COMMAND [ARGS...]"));
  for (guint g = 0; g < G_N_ELEMENTS (group_titles); g++)
    {
      fprintf (out, "\n%s\n", _(group_titles[g]));
      for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
        if (commands[i].group == g)
          fprintf (out, "  %-20s %s\n", commands[i].name, _(commands[i].summary));
    }
  fprintf (out, "\n%s\n", _("Options:\n"
                            "  --json               machine-readable output\n"
                            "  -h, --help           show this help (COMMAND --help for a command)\n"
                            "  --version            show the version"));
  fprintf (out, "\n%s\n", _("Exit status: 0 ok, 1 failure, 2 usage error."));
}

int
main (int argc, char **argv)
{
  gboolean json = FALSE;
  int first = 1;

  cf_i18n_init ();

  /* Global options come before the command word. */
  for (; first < argc && argv[first][0] == '-'; first++)
    {
      if (g_str_equal (argv[first], "--json"))
        json = TRUE;
      else if (g_str_equal (argv[first], "--help") || g_str_equal (argv[first], "-h"))
        {
          print_usage ();
          return 0;
        }
      else if (g_str_equal (argv[first], "--version"))
        {
          g_print ("claude-failoverctl %s\n", PACKAGE_VERSION);
          return 0;
        }
      else
        return cf_ctl_usage_error (NULL, _("unknown option '%s'"), argv[first]);
    }
  if (first >= argc)
    return cf_ctl_usage_error (NULL, _("missing COMMAND"));

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[first], commands[i].name))
      {
        g_autoptr(GPtrArray) args = g_ptr_array_new ();

        for (int j = first; j < argc; j++)
          {
            /* Accept --json after the command word too. */
            if (!commands[i].parses_json && j > first && g_str_equal (argv[j], "--json"))
              json = TRUE;
            else
              g_ptr_array_add (args, argv[j]);
          }
        g_ptr_array_add (args, NULL);
        return commands[i].run ((int) args->len - 1, (char **) args->pdata, json);
      }

  return cf_ctl_usage_error (NULL, _("unknown command '%s'"), argv[first]);
}
