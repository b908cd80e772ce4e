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

gboolean
cf_fault_fail_times (const char *list, const char *name, guint *out_times)
{
  gsize length;

  if (list == NULL || name == NULL || (length = strlen (name)) == 0)
    return FALSE;
  for (const char *p = list; *p != '\0'; )
    {
      const char *end = strchr (p, ',');
      gsize item = end != NULL ? (gsize) (end - p) : strlen (p);

      if (item >= length && strncmp (p, name, length) == 0)
        {
          guint64 times = 0;

          if (item == length)
            {
              *out_times = G_MAXUINT;
              return TRUE;
            }
          if (p[length] == ':' && item > length + 1)
            {
              gsize i;

              for (i = length + 1; i < item && g_ascii_isdigit (p[i]) && times <= G_MAXUINT; i++)
                times = times * 10 + (guint64) (p[i] - '0');
              if (i == item && times <= G_MAXUINT)
                {
                  *out_times = (guint) times;
                  return TRUE;
                }
            }
        }
      if (end == NULL)
        break;
      p = end + 1;
    }
  return FALSE;
}

typedef struct {
  char *name;
  guint left;
} FailCounter;

gboolean
cf_fault_fail (const char *name)
{
  static gsize initialised;
  static const char *fail_list;
  static GMutex mutex;
  static GHashTable *counters;   /* name → FailCounter* */
  FailCounter *counter;
  gboolean fail = FALSE;

  if (g_once_init_enter (&initialised))
    {
      fail_list = g_getenv ("CF_FAULT_FAIL");
      g_once_init_leave (&initialised, 1);
    }
  if (fail_list == NULL)
    return FALSE;

  g_mutex_lock (&mutex);
  if (counters == NULL)
    counters = g_hash_table_new (g_str_hash, g_str_equal);
  counter = g_hash_table_lookup (counters, name);
  if (counter == NULL)
    {
      guint times = 0;

      if (cf_fault_fail_times (fail_list, name, &times))
        {
          counter = g_new0 (FailCounter, 1);
          counter->name = g_strdup (name);
          counter->left = times;
          g_hash_table_insert (counters, counter->name, counter);
        }
    }
  if (counter != NULL && counter->left > 0)
    {
      if (counter->left != G_MAXUINT)
        counter->left--;
      fail = TRUE;
    }
  g_mutex_unlock (&mutex);
  if (fail)
    g_printerr ("fault injection: failing at %s\n", name);
  return fail;
}
