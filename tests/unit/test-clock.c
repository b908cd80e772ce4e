/* SPDX-License-Identifier: MIT */
/* CfClock: the manual clock's timeouts (order, removal, advancing past
 * several deadlines, re-arming and adding from a callback), its time, and
 * the real clock's timeouts on the main loop. */
#include <stdlib.h>
#include <string.h>

#include "cf-clock.h"

/* A case is a script of steps, one per string:
 *   "add NAME MS"           a one-shot timeout
 *   "every NAME MS N"       repeating, removed by returning G_SOURCE_REMOVE after N runs
 *   "chain NAME MS CHILD CMS"  one-shot whose callback adds CHILD in CMS
 *   "kill NAME MS VICTIM"   one-shot whose callback removes VICTIM
 *   "suicide NAME MS"       repeating, whose callback removes itself and
 *                           asks to run again (it must not)
 *   "remove NAME"           cf_clock_remove
 *   "advance MS"            cf_clock_advance
 *   "expect LOG"            the runs since the last expect, "name@ms ..." where
 *                           ms is the clock's time, from the start, in the callback
 *   "next MS"               cf_clock_next_deadline, from the start (-1: none)
 */
typedef struct {
  const char *name;
  const char *const steps[16];
} Case;

static const Case cases[] = {
  { "order by deadline", {
      "add a 300", "add b 100", "add c 200", "advance 1000",
      "expect b@100 c@200 a@300", "next -1" } },
  { "equal deadlines run in the order added", {
      "add x 50", "add y 50", "add z 50", "advance 50", "expect x@50 y@50 z@50" } },
  { "nothing before its deadline", {
      "add a 100", "advance 99", "expect", "next 100", "advance 1", "expect a@100" } },
  { "several deadlines in one advance, each at its own time", {
      "add a 10", "add b 20", "add c 35", "add d 500", "advance 40",
      "expect a@10 b@20 c@35", "next 500", "advance 460", "expect d@500" } },
  { "removal", {
      "add a 10", "add b 20", "remove a", "advance 100", "expect b@20" } },
  { "repeating from its deadline", {
      "every r 30 3", "advance 200", "expect r@30 r@60 r@90", "next -1" } },
  { "repeating interleaved with one-shots", {
      /* b was armed before r re-armed at 40: b runs first at 80. */
      "every r 40 3", "add a 50", "add b 80", "advance 1000",
      "expect r@40 a@50 b@80 r@80 r@120" } },
  { "a callback adds a timeout that falls in the same advance", {
      "chain p 10 q 5", "advance 100", "expect p@10 q@15" } },
  { "a callback adds a timeout past the advance", {
      "chain p 10 q 500", "advance 100", "expect p@10", "next 510", "advance 500",
      "expect q@510" } },
  { "a callback removes a later timeout", {
      "kill k 10 v", "add v 20", "advance 100", "expect k@10" } },
  { "a callback removes itself and returns CONTINUE", {
      "suicide s 10", "advance 100", "expect s@10", "next -1" } },
  { "zero interval runs at the next advance", {
      "add z 0", "next 0", "advance 0", "expect z@0" } },
};

typedef struct Fixture Fixture;

typedef struct {
  Fixture *f;
  char *name;
  guint id;
  guint runs;
  guint max_runs;              /* every */
  char *child;                 /* chain */
  guint child_ms;
  char *victim;                /* kill */
  gboolean suicide;
} T;

struct Fixture {
  CfClock *clock;
  gint64 start;
  GString *log;
  GHashTable *timers;          /* name → T* */
};

static void
t_free (T *t)
{
  g_free (t->name);
  g_free (t->child);
  g_free (t->victim);
  g_free (t);
}

static T *add_timer (Fixture *f, const char *name, guint ms);

static gboolean
on_timer (gpointer data)
{
  T *t = data;
  Fixture *f = t->f;

  t->runs++;
  g_string_append_printf (f->log, "%s%s@%" G_GINT64_FORMAT, f->log->len > 0 ? " " : "", t->name,
                          (cf_clock_now_monotonic (f->clock) - f->start) / 1000);
  if (t->child != NULL)
    add_timer (f, t->child, t->child_ms);
  if (t->victim != NULL)
    {
      T *victim = g_hash_table_lookup (f->timers, t->victim);
      cf_clock_clear (f->clock, &victim->id);
    }
  if (t->suicide)
    {
      cf_clock_clear (f->clock, &t->id);
      return G_SOURCE_CONTINUE;
    }
  if (t->max_runs > 0 && t->runs < t->max_runs)
    return G_SOURCE_CONTINUE;
  t->id = 0;
  return G_SOURCE_REMOVE;
}

static T *
add_timer (Fixture *f, const char *name, guint ms)
{
  T *t = g_new0 (T, 1);

  t->f = f;
  t->name = g_strdup (name);
  t->id = cf_clock_timeout_add (f->clock, ms, on_timer, t);
  g_assert_cmpuint (t->id, !=, 0);
  g_hash_table_replace (f->timers, g_strdup (name), t);
  return t;
}

static void
run_case (gconstpointer data)
{
  const Case *c = data;
  Fixture f = { 0 };

  f.clock = cf_clock_new_manual (5000000, 1700000000000000);
  f.start = cf_clock_now_monotonic (f.clock);
  f.log = g_string_new (NULL);
  f.timers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) t_free);
  for (guint i = 0; i < G_N_ELEMENTS (c->steps) && c->steps[i] != NULL; i++)
    {
      g_auto(GStrv) w = g_strsplit (c->steps[i], " ", -1);
      const char *op = w[0];

      if (g_str_equal (op, "add"))
        add_timer (&f, w[1], atoi (w[2]));
      else if (g_str_equal (op, "every"))
        add_timer (&f, w[1], atoi (w[2]))->max_runs = atoi (w[3]);
      else if (g_str_equal (op, "chain"))
        {
          T *t = add_timer (&f, w[1], atoi (w[2]));
          t->child = g_strdup (w[3]);
          t->child_ms = atoi (w[4]);
        }
      else if (g_str_equal (op, "kill"))
        add_timer (&f, w[1], atoi (w[2]))->victim = g_strdup (w[3]);
      else if (g_str_equal (op, "suicide"))
        add_timer (&f, w[1], atoi (w[2]))->suicide = TRUE;
      else if (g_str_equal (op, "remove"))
        cf_clock_clear (f.clock, &((T *) g_hash_table_lookup (f.timers, w[1]))->id);
      else if (g_str_equal (op, "advance"))
        cf_clock_advance (f.clock, (gint64) atoi (w[1]) * 1000);
      else if (g_str_equal (op, "expect"))
        {
          g_autofree char *expected = g_strjoinv (" ", w + 1);
          g_assert_cmpstr (f.log->str, ==, expected);
          g_string_truncate (f.log, 0);
        }
      else if (g_str_equal (op, "next"))
        {
          gint64 next = cf_clock_next_deadline (f.clock);
          g_assert_cmpint (next < 0 ? -1 : (next - f.start) / 1000, ==, atoi (w[1]));
        }
      else
        g_assert_not_reached ();
    }
  /* Every script ends with nothing left running from its log. */
  g_assert_cmpstr (f.log->str, ==, "");
  g_hash_table_unref (f.timers);
  g_string_free (f.log, TRUE);
  cf_clock_unref (f.clock);
}

static void
test_manual_time (void)
{
  g_autoptr(CfClock) clock = cf_clock_new_manual (1000, 1700000000000000);
  g_autoptr(CfClock) now = cf_clock_new_manual (0, 0);
  gint64 real = g_get_real_time ();

  g_assert_true (cf_clock_is_manual (clock));
  g_assert_cmpint (cf_clock_now_monotonic (clock), ==, 1000);
  g_assert_cmpint (cf_clock_now_real (clock), ==, 1700000000000000);
  cf_clock_advance (clock, 2500000);
  g_assert_cmpint (cf_clock_now_monotonic (clock), ==, 2501000);
  g_assert_cmpint (cf_clock_now_real (clock), ==, 1700000002500000);
  g_assert_cmpuint (cf_clock_get_n_timeouts (clock), ==, 0);
  /* 0, 0: starts at the real clock's times; then stands still. */
  g_assert_cmpint (ABS (cf_clock_now_real (now) - real), <, 5 * G_USEC_PER_SEC);
  real = cf_clock_now_real (now);
  g_usleep (2000);
  g_assert_cmpint (cf_clock_now_real (now), ==, real);
  g_assert_true (cf_clock_ref (clock) == clock);
  cf_clock_unref (clock);
}

static gboolean
count_and_quit (gpointer data)
{
  guint *count = data;

  (*count)++;
  return G_SOURCE_REMOVE;
}

static void
test_default_clock (void)
{
  CfClock *clock = cf_clock_get_default ();
  guint fired = 0, removed = 0;
  guint id;
  gint64 start = cf_clock_now_monotonic (clock);

  g_assert_false (cf_clock_is_manual (clock));
  g_assert_cmpint (ABS (cf_clock_now_real (clock) - g_get_real_time ()), <, G_USEC_PER_SEC);
  /* Ref and unref leave the default clock alone. */
  cf_clock_unref (cf_clock_ref (clock));
  cf_clock_timeout_add (clock, 20, count_and_quit, &fired);
  id = cf_clock_timeout_add (clock, 10, count_and_quit, &removed);
  cf_clock_clear (clock, &id);
  g_assert_cmpuint (id, ==, 0);
  while (fired == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (cf_clock_now_monotonic (clock) - start, >=, 20000);
  g_assert_cmpuint (removed, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/clock/manual/%u", i);
      g_test_add_data_func (path, &cases[i], run_case);
    }
  g_test_add_func ("/clock/manual-time", test_manual_time);
  g_test_add_func ("/clock/default", test_default_clock);
  return g_test_run ();
}
