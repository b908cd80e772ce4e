/* SPDX-License-Identifier: MIT */
#include "cf-fault.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

gboolean
cf_fault_list_contains (const char *list, const char *name)
{
  gsize length;

  if (list == NULL || name == NULL || (length = strlen (name)) == 0)
    return FALSE;
  for (const char *p = list; *p != '\0'; )
    {
      const char *end = strchr (p, ',');
      gsize item = end != NULL ? (gsize) (end - p) : strlen (p);

      if (item == length && strncmp (p, name, length) == 0)
        return TRUE;
      if (end == NULL)
        break;
      p = end + 1;
    }
  return FALSE;
}

void
cf_fault_point (const char *name)
{
  static gsize initialised;
  static const char *crash_at;

  if (g_once_init_enter (&initialised))
    {
      crash_at = g_getenv ("CF_FAULT_CRASH_AT");
      g_once_init_leave (&initialised, 1);
    }
  if (crash_at == NULL || !cf_fault_list_contains (crash_at, name))
    return;
  g_printerr ("fault injection: crashing at %s\n", name);
  (void) kill (getpid (), SIGKILL);
  _exit (137);
}
