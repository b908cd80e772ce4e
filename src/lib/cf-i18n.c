/* SPDX-License-Identifier: MIT */
/* gettext set-up shared by every program. */
#include <glib/gi18n.h>
#include <locale.h>
#include <stdlib.h>

#include "cf-build-config.h"
#include "cf-i18n.h"

/* The locale from the environment and the catalogues under LOCALEDIR.
 * CF_LOCALEDIR, when set to an absolute path, replaces LOCALEDIR: the tests
 * point it at the build tree's po/ (po/fr/LC_MESSAGES/claude-failover.mo),
 * since an uninstalled binary would otherwise only find installed catalogues.
 * secure_getenv(): ignored in a set-user-ID or set-group-ID process. */
void
cf_i18n_init (void)
{
  const char *dir = secure_getenv ("CF_LOCALEDIR");

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, dir != NULL && g_path_is_absolute (dir) ? dir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}
