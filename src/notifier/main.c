/* SPDX-License-Identifier: MIT */
#include <glib/gi18n.h>

#include "cf-build-config.h"
#include "cf-i18n.h"
#include "cf-notifier.h"

int
main (int argc, char **argv)
{
  g_autoptr(CfNotifier) notifier = NULL;

  cf_i18n_init ();
  g_set_application_name (_("Claude failover notifications"));

  notifier = cf_notifier_new ();
  return g_application_run (G_APPLICATION (notifier), argc, argv);
}
