/* SPDX-License-Identifier: MIT */
#include <glib.h>

#include "cf-depends.h"

/* A project's tasks as "id=place[:deps,…|reason]; …": place is queued,
 * done or failed; a queued task's deps are comma-separated, a failed
 * task's text after ':' is its reason. Unlisted ids are unknown. */
typedef struct {
  const char *name;
  const char *project;
  const char *depends_on;      /* the task "t"'s list, comma-separated, "" = none */
  CfDependsVerdict verdict;
  const char *reason;          /* NULL for READY */
} Case;

static const Case cases[] = {
  { "none", "", "", CF_DEPENDS_READY, NULL },
  { "all-done", "a=done; b=done", "a,b", CF_DEPENDS_READY, NULL },
  { "one-queued", "a=done; b=queued", "a,b", CF_DEPENDS_WAIT, "waiting for b" },
  { "two-queued", "a=queued; b=queued", "a,b", CF_DEPENDS_WAIT, "waiting for a, b" },
  { "failed-with-reason", "a=failed:gave up after 3 attempts", "a", CF_DEPENDS_FAIL,
    "dependency a failed: gave up after 3 attempts" },
  { "failed-without-reason", "a=failed", "a", CF_DEPENDS_FAIL, "dependency a failed" },
  { "failed-wins-over-waiting", "a=queued; b=failed:x", "a,b", CF_DEPENDS_FAIL,
    "dependency b failed: x" },
  { "unknown", "a=done", "a,zz", CF_DEPENDS_FAIL, "depends on unknown task zz" },
  { "direct-cycle", "a=queued:t", "a", CF_DEPENDS_FAIL, "dependency cycle: t → a → t" },
  { "long-cycle", "a=queued:b; b=queued:c; c=queued:t", "a", CF_DEPENDS_FAIL,
    "dependency cycle: t → a → b → c → t" },
  { "cycle-not-through-t", "a=queued:b; b=queued:a", "a", CF_DEPENDS_WAIT, "waiting for a" },
  { "chain-waits", "a=queued:b; b=queued; c=done", "a,c", CF_DEPENDS_WAIT, "waiting for a" },
  { "done-breaks-cycle", "a=done", "a", CF_DEPENDS_READY, NULL },
  { "diamond", "a=queued:c; b=queued:c; c=queued", "a,b", CF_DEPENDS_WAIT, "waiting for a, b" },
};

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

static GHashTable *
project_new (const char *text)
{
  GHashTable *nodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) node_free);
  g_auto(GStrv) entries = g_strsplit (text, ";", -1);

  for (guint i = 0; entries[i] != NULL; i++)
    {
      g_autofree char *entry = g_strstrip (g_strdup (entries[i]));
      g_auto(GStrv) id_rest = NULL;
      g_auto(GStrv) place_extra = NULL;
      Node *node;

      if (*entry == '\0')
        continue;
      id_rest = g_strsplit (entry, "=", 2);
      place_extra = g_strsplit (id_rest[1], ":", 2);
      node = g_new0 (Node, 1);
      if (g_str_equal (place_extra[0], "queued"))
        {
          node->place = CF_DEPENDS_PLACE_QUEUED;
          if (place_extra[1] != NULL)
            node->depends_on = g_strsplit (place_extra[1], ",", -1);
        }
      else if (g_str_equal (place_extra[0], "done"))
        node->place = CF_DEPENDS_PLACE_DONE;
      else
        {
          g_assert_cmpstr (place_extra[0], ==, "failed");
          node->place = CF_DEPENDS_PLACE_FAILED;
          node->reason = g_strdup (place_extra[1]);
        }
      g_hash_table_insert (nodes, g_strdup (id_rest[0]), node);
    }
  return nodes;
}

static CfDependsPlace
lookup (const char *id, const char *const **out_depends_on, const char **out_reason, gpointer user_data)
{
  Node *node = g_hash_table_lookup (user_data, id);

  if (node == NULL)
    return CF_DEPENDS_PLACE_UNKNOWN;
  *out_depends_on = (const char *const *) node->depends_on;
  *out_reason = node->reason;
  return node->place;
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  g_autoptr(GHashTable) project = project_new (c->project);
  g_auto(GStrv) depends_on = *c->depends_on != '\0' ? g_strsplit (c->depends_on, ",", -1)
                                                    : g_new0 (char *, 1);
  g_autofree char *reason = NULL;
  CfDependsVerdict verdict = cf_depends_check ("t", (const char *const *) depends_on, lookup, project,
                                               &reason);

  g_assert_cmpint (verdict, ==, c->verdict);
  g_assert_cmpstr (reason, ==, c->reason);
}

/* A ring of 20 000 queued tasks not through "t": the walk stops, the task waits. */
static void
test_bounded_walk (void)
{
  g_autoptr(GString) text = g_string_new ("");
  g_autoptr(GHashTable) project = NULL;
  const char *const depends_on[] = { "n0", NULL };
  g_autofree char *reason = NULL;

  for (guint i = 0; i < 20000; i++)
    g_string_append_printf (text, "n%u=queued:n%u;", i, (i + 1) % 20000);
  project = project_new (text->str);
  g_assert_cmpint (cf_depends_check ("t", depends_on, lookup, project, &reason), ==, CF_DEPENDS_WAIT);
  g_assert_cmpstr (reason, ==, "waiting for n0");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/depends/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_case);
    }
  g_test_add_func ("/depends/bounded-walk", test_bounded_walk);
  return g_test_run ();
}
