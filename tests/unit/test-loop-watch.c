/* SPDX-License-Identifier: MIT */
#include <glib.h>
#include <string.h>
#include <time.h>

#include "cf-loop-watch.h"
#include "cf-metrics.h"

/* Which buckets (cumulative, ≤ bound) one iteration of CPU µs lands in:
 * the index of the first bucket that counts it. */
static const struct {
  gint64 cpu_usec;
  guint first_bucket;
} bucket_cases[] = {
  { 0, 0 },
  { -5, 0 },                   /* a clock step backwards counts as 0 */
  { 100, 0 },
  { 101, 1 },
  { 999, 3 },
  { 1000, 3 },
  { 4999, 5 },
  { 5001, 6 },
  { 100000, 8 },
  { 100001, 9 },
  { G_GINT64_CONSTANT (3600000000), 9 },
};

static void
test_buckets (void)
{
  for (guint c = 0; c < G_N_ELEMENTS (bucket_cases); c++)
    {
      CfLoopStats stats = { 0 };

      cf_loop_stats_add (&stats, bucket_cases[c].cpu_usec, 7);
      g_assert_cmpuint (stats.iterations, ==, 1);
      for (guint i = 0; i < CF_LOOP_WATCH_N_BUCKETS; i++)
        g_assert_cmpuint (stats.buckets[i], ==, i >= bucket_cases[c].first_bucket ? 1 : 0);
      g_assert_cmpint (stats.max_cpu_usec, ==, MAX (bucket_cases[c].cpu_usec, 0));
      /* The wall time is never below the CPU time (two clocks, read apart). */
      g_assert_cmpint (stats.max_wall_usec, ==, MAX (bucket_cases[c].cpu_usec, 7));
    }
}

static void
test_sums_and_maxima (void)
{
  CfLoopStats stats = { 0 };

  cf_loop_stats_add (&stats, 300, 400);
  cf_loop_stats_add (&stats, 6000, 9000);
  cf_loop_stats_add (&stats, 50, 20000);
  g_assert_cmpuint (stats.iterations, ==, 3);
  g_assert_cmpint (stats.cpu_sum_usec, ==, 6350);
  g_assert_cmpint (stats.max_cpu_usec, ==, 6000);
  g_assert_cmpint (stats.max_wall_usec, ==, 20000);
  g_assert_cmpuint (stats.buckets[0], ==, 1);   /* ≤ 100 µs */
  g_assert_cmpuint (stats.buckets[5], ==, 2);   /* ≤ 5 ms */
  g_assert_cmpuint (stats.buckets[CF_LOOP_WATCH_N_BUCKETS - 1], ==, 3);
}

static gint64
thread_cpu_usec (void)
{
  struct timespec ts;

  g_assert_cmpint (clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts), ==, 0);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gboolean
burn_cpu (gpointer user_data)
{
  gint64 until = thread_cpu_usec () + GPOINTER_TO_INT (user_data);
  volatile guint64 spin = 0;

  while (thread_cpu_usec () < until)
    spin++;
  return G_SOURCE_REMOVE;
}

/* On a real context: an iteration that works 12 ms of CPU is counted above
 * 10 ms, and the quick ones around it below. */
static void
test_live_context (void)
{
  GMainContext *context = g_main_context_new ();
  CfLoopStats before, after;
  GSource *source;

  g_main_context_push_thread_default (context);
  cf_loop_watch_install (context);
  cf_loop_watch_get (&before);
  for (int i = 0; i < 5; i++)
    g_main_context_iteration (context, FALSE);
  source = g_idle_source_new ();
  g_source_set_callback (source, burn_cpu, GINT_TO_POINTER (12000), NULL);
  g_source_attach (source, context);
  g_source_unref (source);
  for (int i = 0; i < 5; i++)
    g_main_context_iteration (context, FALSE);
  cf_loop_watch_get (&after);

  g_assert_cmpuint (after.iterations - before.iterations, >=, 9);
  g_assert_cmpint (after.max_cpu_usec, >=, 12000);
  g_assert_cmpint (after.max_wall_usec, >=, 12000);
  g_assert_cmpint (after.cpu_sum_usec - before.cpu_sum_usec, >=, 12000);
  /* Exactly one iteration over 10 ms (bucket 6 is ≤ 10 ms). */
  g_assert_cmpuint ((after.iterations - before.iterations) - (after.buckets[6] - before.buckets[6]),
                    ==, 1);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}

/* /metrics shows the histogram as Prometheus wants it: cumulative buckets
 * ending in +Inf equal to _count. */
static void
test_metrics_text (void)
{
  CfLoopStats stats = { 0 };
  CfMetricsContext context = { .loop_lag_usec = -1, .loop = &stats };
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(GString) out = g_string_new (NULL);

  cf_loop_stats_add (&stats, 80, 90);
  cf_loop_stats_add (&stats, 3000, 3100);
  cf_metrics_render (out, state, &context, 0);
  g_assert_nonnull (strstr (out->str, "# TYPE claude_failover_main_loop_iteration_cpu_seconds histogram\n"));
  g_assert_nonnull (strstr (out->str, "claude_failover_main_loop_iteration_cpu_seconds_bucket{le=\"0.0001\"} 1\n"));
  g_assert_nonnull (strstr (out->str, "claude_failover_main_loop_iteration_cpu_seconds_bucket{le=\"0.0025\"} 1\n"));
  g_assert_nonnull (strstr (out->str, "claude_failover_main_loop_iteration_cpu_seconds_bucket{le=\"0.005\"} 2\n"));
  g_assert_nonnull (strstr (out->str, "claude_failover_main_loop_iteration_cpu_seconds_bucket{le=\"+Inf\"} 2\n"));
  g_assert_nonnull (strstr (out->str, "claude_failover_main_loop_iteration_cpu_seconds_count 2\n"));
  g_assert_nonnull (strstr (out->str, "claude_failover_main_loop_iteration_cpu_seconds_sum 0.003080\n"));
  g_assert_nonnull (strstr (out->str, "claude_failover_main_loop_iteration_max_cpu_seconds 0.003000\n"));
  g_assert_nonnull (strstr (out->str, "claude_failover_main_loop_iteration_max_wall_seconds 0.003100\n"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/loop-watch/buckets", test_buckets);
  g_test_add_func ("/loop-watch/sums-and-maxima", test_sums_and_maxima);
  g_test_add_func ("/loop-watch/live-context", test_live_context);
  g_test_add_func ("/loop-watch/metrics-text", test_metrics_text);
  return g_test_run ();
}
