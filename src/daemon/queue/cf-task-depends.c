/* SPDX-License-Identifier: MIT */
#include "cf-task-depends.h"

#include "cf-taskq.h"

typedef struct {
  CfDependsPlace place;
  char **depends_on;
  char *reason;
} Node;

static void
node_free (Node *node)
{
  g_strfreev (node->depends_on);
  g_free (node->reason);
  g_free (node);
}

typedef struct {
  const char *project;
  GHashTable *nodes;           /* id → Node* */
} Lookup;

static char *
failed_reason (const char *project, const char *id)
{
  g_autoptr(CfTaskMeta) meta = NULL;

  if (!cf_taskq_read_meta (project, id, &meta, NULL) || meta == NULL)
    return NULL;
  return g_strdup (meta->last_reason);
}

static CfDependsPlace
lookup_on_disk (const char *id, const char *const **out_depends_on, const char **out_reason,
                gpointer user_data)
{
  Lookup *lookup = user_data;
  Node *node = g_hash_table_lookup (lookup->nodes, id);

  if (node == NULL)
    {
      CfTaskPlace place = cf_taskq_locate (lookup->project, id);

      node = g_new0 (Node, 1);
      switch (place)
        {
        case CF_TASK_PLACE_INBOX:
        case CF_TASK_PLACE_ACTIVE:
          {
            g_autoptr(CfTask) parsed = NULL;

            node->place = CF_DEPENDS_PLACE_QUEUED;
            /* An unreadable queued task has no known dependencies: it
             * fails on its own, and this one waits for that. */
            if (cf_taskq_read_task_in (lookup->project, place, id, &parsed, NULL))
              node->depends_on = g_strdupv (parsed->depends_on);
          }
          break;
        case CF_TASK_PLACE_DONE:
          node->place = CF_DEPENDS_PLACE_DONE;
          break;
        case CF_TASK_PLACE_FAILED:
          node->place = CF_DEPENDS_PLACE_FAILED;
          node->reason = failed_reason (lookup->project, id);
          break;
        case CF_TASK_PLACE_ABSENT:
        default:
          node->place = CF_DEPENDS_PLACE_UNKNOWN;
          break;
        }
      g_hash_table_insert (lookup->nodes, g_strdup (id), node);
    }
  *out_depends_on = (const char *const *) node->depends_on;
  *out_reason = node->reason;
  return node->place;
}

CfDependsVerdict
cf_task_depends_check (const char *project, const CfTask *task, char **out_reason)
{
  g_autoptr(GHashTable) nodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                       (GDestroyNotify) node_free);
  Lookup lookup = { .project = project, .nodes = nodes };

  return cf_depends_check (task->id, (const char *const *) task->depends_on, lookup_on_disk, &lookup,
                           out_reason);
}
