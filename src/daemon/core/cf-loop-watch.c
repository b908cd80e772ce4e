/* SPDX-License-Identifier: MIT */
#include "cf-loop-watch.h"

#include <time.h>

static const gint64 bounds[CF_LOOP_WATCH_N_BUCKETS] = {
  100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, G_MAXINT64,
};

static GPollFunc original_poll;
static CfLoopStats stats;
static gint64 last_cpu_usec = -1;   /* thread CPU clock when the last poll returned */
static gint64 last_wall_usec;

const gint64 *
cf_loop_watch_bucket_bounds (void)
{
  return bounds;
}

void
cf_loop_stats_add (CfLoopStats *s, gint64 cpu_usec, gint64 wall_usec)
{
  cpu_usec = MAX (cpu_usec, 0);
  /* Two clocks read a few µs apart: an iteration never ran longer on the
   * CPU than it lasted. */
  wall_usec = MAX (wall_usec, cpu_usec);
  s->iterations++;
  s->cpu_sum_usec += cpu_usec;
  s->max_cpu_usec = MAX (s->max_cpu_usec, cpu_usec);
  s->max_wall_usec = MAX (s->max_wall_usec, wall_usec);
  for (guint i = 0; i < CF_LOOP_WATCH_N_BUCKETS; i++)
    if (cpu_usec <= bounds[i])
      s->buckets[i]++;
}

static gint64
thread_cpu_usec (void)
{
  struct timespec ts;

  if (clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return -1;
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gint
watched_poll (GPollFD *fds, guint n_fds, gint timeout)
{
  gint64 cpu = thread_cpu_usec ();
  gint64 wall = g_get_monotonic_time ();
  gint result;

  if (last_cpu_usec >= 0 && cpu >= 0)
    cf_loop_stats_add (&stats, cpu - last_cpu_usec, wall - last_wall_usec);
  result = original_poll (fds, n_fds, timeout);
  last_cpu_usec = thread_cpu_usec ();
  last_wall_usec = g_get_monotonic_time ();
  return result;
}

void
cf_loop_watch_install (GMainContext *context)
{
  if (original_poll != NULL)
    return;
  original_poll = g_main_context_get_poll_func (context);
  g_main_context_set_poll_func (context, watched_poll);
}

void
cf_loop_watch_get (CfLoopStats *out)
{
  *out = stats;
}
