/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the HTTP Host check.  Checks: no crash, no read past
 * the text, and an accepted value has the shape of a loopback host
 * ("localhost"-ending name, "127." address or "[::1]", then an optional
 * ":port"). */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-http-host.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autofree char *lower = NULL;
  char *colon;

  if (!cf_http_host_is_loopback (text))
    return 0;
  lower = g_ascii_strdown (text, -1);
  if (g_str_has_prefix (lower, "[::1]"))
    return 0;
  colon = strchr (lower, ':');
  if (colon != NULL)
    *colon = '\0';
  if (g_str_has_suffix (lower, "."))
    lower[strlen (lower) - 1] = '\0';
  g_assert_true (g_str_has_prefix (lower, "127.") || g_str_has_suffix (lower, "localhost"));
  for (const char *p = text; *p != '\0'; p++)
    g_assert_true (g_ascii_isgraph (*p));
  return 0;
}
