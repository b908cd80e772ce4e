/* SPDX-License-Identifier: MIT */
#include <glib/gi18n.h>
#include <locale.h>

#include "cf-build-config.h"
#include "cf-notifier.h"

int
main (int argc, char **argv)
{
  g_autoptr(CfNotifier) notifier = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_application_name (_("Claude failover notifications"));

  notifier = cf_notifier_new ();
  return g_application_run (G_APPLICATION (notifier), argc, argv);
}
