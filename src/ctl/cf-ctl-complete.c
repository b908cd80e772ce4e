/* SPDX-License-Identifier: MIT */
/* `__complete WHAT`: names for the bash completion, one per line. Not a
 * command for people, so not in --help. It never starts the daemon, gives
 * up after a second and prints nothing when the daemon cannot tell. */
#include "cf-ctl.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-ctl-bus.h"
#include "cf-ctl-output.h"

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

static void
print_unique (GPtrArray *names)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);

      /* A name with white space or controls would break the shell's word list. */
      if (*name == '\0' || strpbrk (name, " \t\n\r\\'\"") != NULL ||
          !g_hash_table_add (seen, (gpointer) name))
        continue;
      for (const char *p = name; *p != '\0'; p++)
        if ((guchar) *p < 0x20)
          goto next;
      g_print ("%s\n", name);
    next:
      ;
    }
}

int
cf_ctl_complete (int argc, char **argv, gboolean json)
{
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *what = argc > 1 ? argv[1] : "";

  if (!g_strv_contains ((const char *const[]) { "accounts", "sessions", "projects", "tasks", NULL },
                        what) ||
      (g_str_equal (what, "tasks") ? argc != 3 : argc != 2))
    return cf_ctl_usage_error ("__complete", _("expected accounts, sessions, projects or "
                                               "tasks PROJECT"));
  bus = cf_ctl_bus_open ("__complete", TRUE);
  if (bus == NULL)
    return 1;

  if (g_str_equal (what, "accounts") || g_str_equal (what, "sessions"))
    {
      g_autoptr(CfCtlStatus) st = cf_ctl_fetch_status (bus, "__complete", CF_CTL_CALL_QUIET);

      if (st == NULL)
        return 1;
      if (g_str_equal (what, "accounts"))
        for (guint i = 0; i < st->accounts->len; i++)
          g_ptr_array_add (names, g_strdup (((CfCtlAccount *) g_ptr_array_index (st->accounts, i))->name));
      else
        for (guint i = 0; i < st->sessions->len; i++)
          g_ptr_array_add (names, g_strdup (((CfCtlSession *) g_ptr_array_index (st->sessions, i))->name));
    }
  else
    {
      g_autoptr(GPtrArray) tasks = cf_ctl_fetch_tasks (bus, "__complete", CF_CTL_CALL_QUIET);

      if (tasks == NULL)
        return 1;
      for (guint i = 0; i < tasks->len; i++)
        {
          CfCtlTask *t = g_ptr_array_index (tasks, i);
          g_autofree char *base = g_path_get_basename (t->project);

          if (g_str_equal (what, "projects"))
            g_ptr_array_add (names, g_steal_pointer (&base));
          else if (g_str_equal (argv[2], base) || g_str_equal (argv[2], t->project))
            g_ptr_array_add (names, g_strdup (t->id));
        }
    }
  g_ptr_array_sort (names, compare_names);
  print_unique (names);
  return 0;
}
