/* SPDX-License-Identifier: MIT */
#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cf-build-config.h"
#include "cf-ctl.h"

typedef struct {
  const char *name;
  int (*run) (int argc, char **argv, gboolean json);
  const char *summary;
} Command;

static const Command commands[] = {
  { "status", cf_ctl_status, N_("Show accounts, swap state, counters and sessions") },
  { "sessions", cf_ctl_sessions, N_("List the sessions") },
  { "explain-pane", cf_ctl_explain_pane,
    N_("Classify a pane capture offline: [FILE|-] [--now ISO8601] [--tz ZONE]") },
  { "hook", cf_ctl_hook, N_("Report a Claude Code hook event (run by Claude Code): EVENT") },
  { "install-hooks", cf_ctl_install_hooks,
    N_("Add the claude-failover hooks to an account's settings.json: ACCOUNT_HOME") },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "%s\n\n%s\n", _("Usage: claude-failoverctl [--json] COMMAND [ARGS...]"),
           _("Commands:"));
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-14s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, "\n%s\n", _("Options:\n"
                            "  --json         machine-readable output\n"
                            "  --help         show this help (COMMAND --help for a command)\n"
                            "  --version      show the version"));
}

int
main (int argc, char **argv)
{
  gboolean json = FALSE;
  int first = 1;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* Global options come before the command word. */
  for (; first < argc && argv[first][0] == '-'; first++)
    {
      if (g_str_equal (argv[first], "--json"))
        json = TRUE;
      else if (g_str_equal (argv[first], "--help") || g_str_equal (argv[first], "-h"))
        {
          print_usage (stdout);
          return 0;
        }
      else if (g_str_equal (argv[first], "--version"))
        {
          g_print ("claude-failoverctl %s\n", PACKAGE_VERSION);
          return 0;
        }
      else
        {
          g_printerr (_("claude-failoverctl: unknown option '%s' (see --help)\n"), argv[first]);
          return 2;
        }
    }
  if (first >= argc)
    {
      print_usage (stderr);
      return 2;
    }

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[first], commands[i].name))
      {
        /* Accept --json after the command word too. */
        g_autoptr(GPtrArray) args = g_ptr_array_new ();
        for (int j = first; j < argc; j++)
          {
            if (j > first && g_str_equal (argv[j], "--json"))
              json = TRUE;
            else
              g_ptr_array_add (args, argv[j]);
          }
        g_ptr_array_add (args, NULL);
        return commands[i].run ((int) args->len - 1, (char **) args->pdata, json);
      }

  g_printerr (_("claude-failoverctl: unknown command '%s' (see --help)\n"), argv[first]);
  return 2;
}
