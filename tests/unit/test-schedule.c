/* SPDX-License-Identifier: MIT */
#include "cf-schedule.h"

#define S (G_USEC_PER_SEC)

static GArray *
schedule (const guint *seconds, guint n)
{
  GArray *array = g_array_new (FALSE, FALSE, sizeof (guint));
  g_array_append_vals (array, seconds, n);
  return array;
}

static void
test_cooldown (void)
{
  const guint go[] = { 0, 300, 900 };
  g_autoptr(GArray) cooldown = schedule (go, G_N_ELEMENTS (go));
  static const struct { guint attempt; guint expected; } rows[] = {
    { 0, 0 }, { 1, 0 }, { 2, 300 }, { 3, 900 }, { 4, 900 }, { 99, 900 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    g_assert_cmpuint (cf_schedule_cooldown_seconds (cooldown, rows[i].attempt), ==,
                      rows[i].expected);
  g_assert_cmpuint (cf_schedule_cooldown_seconds (NULL, 3), ==, 0);
}

static void
test_ready_at (void)
{
  const guint go[] = { 0, 300, 900 };
  g_autoptr(GArray) cooldown = schedule (go, G_N_ELEMENTS (go));
  static const struct { guint attempts; gint64 last_end; gint64 expected; } rows[] = {
    { 0, 0, 0 },                       /* never tried: no cooldown */
    { 1, 100 * S, 400 * S },           /* second attempt: 300 s after the first ended */
    { 2, 100 * S, 1000 * S },          /* third: 900 s */
    { 7, 100 * S, 1000 * S },          /* past the schedule: its last value */
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      CfScheduleItem item = { "p", "t", CF_PRIORITY_DEFAULT, 1 * S, rows[i].attempts,
                              rows[i].last_end };
      gint64 at = cf_schedule_item_ready_at (&item, cooldown);

      g_assert_cmpint (at, ==, rows[i].expected);
      /* Ready exactly from that time on, not a microsecond before. */
      g_assert_true (cf_schedule_item_ready (&item, cooldown, at));
      if (at > 0)
        g_assert_false (cf_schedule_item_ready (&item, cooldown, at - 1));
    }
}

typedef struct {
  const char *name;
  CfScheduleItem items[6];
  guint n;
  const char *served[3];       /* projects in the order they were last served */
  gint64 now;
  const char *expected;        /* "project/task" or NULL */
} PickCase;

static const PickCase pick_cases[] = {
  { "empty", { { 0 } }, 0, { NULL }, 1000 * S, NULL },
  { "oldest first within a project",
    { { "a", "new", CF_PRIORITY_DEFAULT, 20 * S }, { "a", "old", CF_PRIORITY_DEFAULT, 10 * S } },
    2, { NULL }, 1000 * S, "a/old" },
  { "critical jumps the queue",
    { { "a", "old", CF_PRIORITY_DEFAULT, 1 * S }, { "b", "urgent", CF_PRIORITY_CRITICAL, 50 * S },
      { "a", "high", CF_PRIORITY_HIGH, 2 * S } },
    3, { NULL }, 1000 * S, "b/urgent" },
  { "high before default before low",
    { { "a", "low", CF_PRIORITY_LOW, 1 * S }, { "a", "def", CF_PRIORITY_DEFAULT, 2 * S },
      { "a", "high", CF_PRIORITY_HIGH, 3 * S } },
    3, { NULL }, 1000 * S, "a/high" },
  { "never-served project beats a busy one",
    { { "busy", "t1", CF_PRIORITY_DEFAULT, 1 * S }, { "quiet", "t9", CF_PRIORITY_DEFAULT, 90 * S } },
    2, { "busy" }, 1000 * S, "quiet/t9" },
  { "least recently served project next",
    { { "a", "x", CF_PRIORITY_DEFAULT, 1 * S }, { "b", "y", CF_PRIORITY_DEFAULT, 2 * S },
      { "c", "z", CF_PRIORITY_DEFAULT, 3 * S } },
    3, { "b", "a", "c" }, 1000 * S, "b/y" },
  { "fairness never beats priority",
    { { "busy", "crit", CF_PRIORITY_CRITICAL, 5 * S }, { "quiet", "t", CF_PRIORITY_DEFAULT, 1 * S } },
    2, { "quiet", "busy" }, 1000 * S, "busy/crit" },
  { "task in cooldown is skipped",
    { { "a", "retry", CF_PRIORITY_CRITICAL, 1 * S, 1, 900 * S },
      { "a", "fresh", CF_PRIORITY_LOW, 2 * S } },
    2, { NULL }, 1000 * S, "a/fresh" },
  { "cooldown over",
    { { "a", "retry", CF_PRIORITY_CRITICAL, 1 * S, 1, 600 * S },
      { "a", "fresh", CF_PRIORITY_LOW, 2 * S } },
    2, { NULL }, 1000 * S, "a/retry" },
  { "third attempt waits the third cooldown",
    { { "a", "retry", CF_PRIORITY_DEFAULT, 1 * S, 2, 500 * S } },
    1, { NULL }, 1000 * S, NULL },
  { "tie broken by name, not input order",
    { { "b", "t", CF_PRIORITY_DEFAULT, 1 * S }, { "a", "t", CF_PRIORITY_DEFAULT, 1 * S } },
    2, { NULL }, 1000 * S, "a/t" },
};

static void
test_pick (void)
{
  const guint go[] = { 0, 300, 900 };
  g_autoptr(GArray) cooldown = schedule (go, G_N_ELEMENTS (go));

  for (guint i = 0; i < G_N_ELEMENTS (pick_cases); i++)
    {
      const PickCase *c = &pick_cases[i];
      g_autoptr(GHashTable) served = g_hash_table_new (g_str_hash, g_str_equal);
      g_autofree char *got = NULL;
      gint index;

      for (guint j = 0; j < G_N_ELEMENTS (c->served) && c->served[j] != NULL; j++)
        g_hash_table_insert (served, (gpointer) c->served[j], GSIZE_TO_POINTER (j + 1));
      index = cf_schedule_pick (c->items, c->n, served, cooldown, c->now);
      if (index >= 0)
        got = g_strdup_printf ("%s/%s", c->items[index].project, c->items[index].task_id);
      g_test_message ("%s", c->name);
      g_assert_cmpstr (got, ==, c->expected);
    }
}

/* Round-robin emerges from the serving history: 3 projects × 4 tasks are
 * served a, b, c, a, b, c, … rather than project by project. */
static void
test_fair_rotation (void)
{
  CfScheduleItem items[12];
  g_autoptr(GHashTable) served = g_hash_table_new (g_str_hash, g_str_equal);
  const char *projects[] = { "a", "b", "c" };
  g_autoptr(GString) order = g_string_new (NULL);
  guint n = 12;
  gsize seq = 0;

  for (guint i = 0; i < 12; i++)
    items[i] = (CfScheduleItem) { projects[i / 4], "t", CF_PRIORITY_DEFAULT, (gint64) i * S };
  while (n > 0)
    {
      gint k = cf_schedule_pick (items, n, served, NULL, 0);
      g_assert_cmpint (k, >=, 0);
      g_string_append (order, items[k].project);
      g_hash_table_insert (served, (gpointer) items[k].project, GSIZE_TO_POINTER (++seq));
      items[k] = items[--n];
    }
  g_assert_cmpstr (order->str, ==, "abcabcabcabc");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/schedule/cooldown", test_cooldown);
  g_test_add_func ("/schedule/ready-at", test_ready_at);
  g_test_add_func ("/schedule/pick", test_pick);
  g_test_add_func ("/schedule/fair-rotation", test_fair_rotation);
  return g_test_run ();
}
