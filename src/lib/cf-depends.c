/* SPDX-License-Identifier: MIT */
#include "cf-depends.h"

#include <glib/gi18n.h>

#include "cf-text.h"

#define MAX_VISITED 10000

/* Depth-first from START through queued tasks: the path back to ID, as
 * "ID → … → ID", or NULL. */
static gboolean
find_cycle (const char *id, const char *current, CfDependsLookup lookup, gpointer user_data,
            GHashTable *visited, GPtrArray *path)
{
  const char *const *next = NULL;
  const char *reason = NULL;

  if (g_hash_table_size (visited) >= MAX_VISITED || g_hash_table_contains (visited, current))
    return FALSE;
  g_hash_table_add (visited, (gpointer) current);
  if (lookup (current, &next, &reason, user_data) != CF_DEPENDS_PLACE_QUEUED || next == NULL)
    return FALSE;
  g_ptr_array_add (path, (gpointer) current);
  for (guint i = 0; next[i] != NULL; i++)
    {
      if (g_str_equal (next[i], id))
        return TRUE;
      if (find_cycle (id, next[i], lookup, user_data, visited, path))
        return TRUE;
    }
  g_ptr_array_remove_index (path, path->len - 1);
  return FALSE;
}

CfDependsVerdict
cf_depends_check (const char *id, const char *const *depends_on, CfDependsLookup lookup,
                  gpointer user_data, char **out_reason)
{
  g_autoptr(GPtrArray) waiting = g_ptr_array_new ();

  g_return_val_if_fail (out_reason != NULL, CF_DEPENDS_FAIL);
  *out_reason = NULL;
  if (depends_on == NULL)
    return CF_DEPENDS_READY;

  for (guint i = 0; depends_on[i] != NULL; i++)
    {
      const char *const *theirs = NULL;
      const char *reason = NULL;
      g_autofree char *shown = cf_text_for_message (depends_on[i]);

      switch (lookup (depends_on[i], &theirs, &reason, user_data))
        {
        case CF_DEPENDS_PLACE_DONE:
          break;
        case CF_DEPENDS_PLACE_QUEUED:
          g_ptr_array_add (waiting, (gpointer) depends_on[i]);
          break;
        case CF_DEPENDS_PLACE_FAILED:
          if (reason != NULL && *reason != '\0')
            {
              g_autofree char *why = cf_text_for_message (reason);
              *out_reason = g_strdup_printf (_("dependency %s failed: %s"), shown, why);
            }
          else
            *out_reason = g_strdup_printf (_("dependency %s failed"), shown);
          return CF_DEPENDS_FAIL;
        case CF_DEPENDS_PLACE_UNKNOWN:
        default:
          *out_reason = g_strdup_printf (_("depends on unknown task %s"), shown);
          return CF_DEPENDS_FAIL;
        }
    }
  if (waiting->len == 0)
    return CF_DEPENDS_READY;

  for (guint i = 0; i < waiting->len; i++)
    {
      g_autoptr(GHashTable) visited = g_hash_table_new (g_str_hash, g_str_equal);
      g_autoptr(GPtrArray) path = g_ptr_array_new ();

      if (find_cycle (id, g_ptr_array_index (waiting, i), lookup, user_data, visited, path))
        {
          g_autoptr(GString) chain = g_string_new (id);

          for (guint j = 0; j < path->len; j++)
            g_string_append_printf (chain, " → %s", (const char *) g_ptr_array_index (path, j));
          g_string_append_printf (chain, " → %s", id);
          *out_reason = g_strdup_printf (_("dependency cycle: %s"), chain->str);
          return CF_DEPENDS_FAIL;
        }
    }

  g_ptr_array_add (waiting, NULL);
  {
    g_autofree char *list = g_strjoinv (", ", (char **) waiting->pdata);
    *out_reason = g_strdup_printf (_("waiting for %s"), list);
  }
  return CF_DEPENDS_WAIT;
}
