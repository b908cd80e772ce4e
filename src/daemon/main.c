/* SPDX-License-Identifier: MIT */
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <stdio.h>

#include "cf-account-prep.h"
#include "cf-build-config.h"
#include "cf-config.h"
#include "cf-daemon.h"
#include "cf-fd-limit.h"
#include "cf-i18n.h"
#include "cf-loop-watch.h"

typedef struct {
  GMainLoop *loop;
  CfDaemon *daemon;
  int exit_status;
} Context;

static gboolean
on_terminate (gpointer user_data)
{
  Context *context = user_data;

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE", "Terminating on signal");
  g_main_loop_quit (context->loop);
  return G_SOURCE_CONTINUE;
}

static void
on_reloaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (!cf_daemon_reload_finish (CF_DAEMON (source), result, &error))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "MESSAGE", "Reload refused, keeping the running configuration: %s",
                      error->message);
}

static gboolean
on_reload (gpointer user_data)
{
  Context *context = user_data;

  cf_daemon_reload_async (context->daemon, on_reloaded, NULL);
  return G_SOURCE_CONTINUE;
}

static void
on_quit (CfDaemon *daemon, int status, const char *reason, Context *context)
{
  g_log_structured (G_LOG_DOMAIN, status == 0 ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING,
                    "MESSAGE", "Exiting: %s", reason);
  if (status != 0)
    g_printerr ("claude-failoverd: %s\n", reason);
  context->exit_status = status;
  g_main_loop_quit (context->loop);
}

int
main (int argc, char **argv)
{
  g_autofree char *config_path = NULL;
  gboolean check_config = FALSE;
  gboolean show_version = FALSE;
  g_autoptr(GOptionContext) options = NULL;
  g_autofree char *config_help = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = NULL;
  g_autoptr(CfDaemon) daemon = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GPtrArray) reports = NULL;
  Context context = { 0 };
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      NULL /* set below, translated */, N_("PATH") },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
      N_("Validate the configuration and exit (0 valid, 1 invalid)"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &show_version, N_("Print the version and exit"), NULL },
    { NULL },
  };

  cf_i18n_init ();

  /* TRANSLATORS: %s is the default configuration file's path */
  config_help = g_strdup_printf (_("Configuration file (default %s)"), DEFAULT_CONFIG_PATH);
  entries[0].description = config_help;
  options = g_option_context_new (NULL);
  g_option_context_set_summary (options, _("Keeps a pool of Claude Code sessions busy and fails over between accounts."));
  g_option_context_add_main_entries (options, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("claude-failoverd: %s\n", error->message);
      return 2;
    }
  if (argc > 1)
    {
      g_printerr (_("claude-failoverd: unexpected argument '%s' (see --help)\n"), argv[1]);
      return 2;
    }
  if (show_version)
    {
      g_print ("claude-failoverd %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (config_path == NULL)
    config_path = g_strdup (DEFAULT_CONFIG_PATH);

  config = cf_config_load_file (config_path, g_get_home_dir (), &error);
  if (config != NULL)
    for (guint i = 0; config->warnings != NULL && config->warnings[i] != NULL; i++)
      g_printerr ("%s\n", config->warnings[i]);
  if (check_config)
    {
      if (config == NULL)
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
      g_print (_("%s: configuration is valid\n"), config_path);
      /* The account homes are made launchable here too, so that an operator
       * sees at once what the daemon would change (prepare_accounts). */
      reports = cf_account_prep_all_sync (config, cf_account_prep_default_ctl_program ());
      for (guint i = 0; i < reports->len; i++)
        {
          const CfAccountPrepReport *report = g_ptr_array_index (reports, i);

          /* On stdout: stderr is for what makes the configuration invalid. */
          g_print ("%s\n", report->line);
        }
      return 0;
    }
  if (config == NULL)
    {
      g_printerr ("claude-failoverd: %s\n", error->message);
      return 1;
    }

  cf_fd_limit_raise ();
  loop = g_main_loop_new (NULL, FALSE);
  daemon = cf_daemon_new (config, config_path);
  context.loop = loop;
  context.daemon = daemon;
  g_signal_connect (daemon, "quit", G_CALLBACK (on_quit), &context);
  g_unix_signal_add (SIGTERM, on_terminate, &context);
  g_unix_signal_add (SIGINT, on_terminate, &context);
  g_unix_signal_add (SIGHUP, on_reload, &context);

  if (!cf_daemon_start (daemon, &error))
    {
      g_printerr ("claude-failoverd: %s\n", error->message);
      cf_daemon_shutdown (daemon);
      return 1;
    }

  cf_loop_watch_install (g_main_loop_get_context (loop));
  g_main_loop_run (loop);
  cf_daemon_shutdown (daemon);
  return context.exit_status;
}
