/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How much CPU the main thread spends in each main-loop iteration: the
 * work between two polls (prepare, check and dispatch of every ready
 * source). A D-Bus call or HTTP request that arrives meanwhile waits for
 * that work to end, so the longest iteration bounds the delay the daemon's
 * own work can add to any answer; the rest of a slow answer is waiting for a
 * CPU. Measured with the thread's CPU clock around the context's poll
 * function; exported at /metrics as a histogram. */

#define CF_LOOP_WATCH_N_BUCKETS 10

typedef struct {
  guint64 iterations;
  guint64 buckets[CF_LOOP_WATCH_N_BUCKETS];  /* cumulative: iterations ≤ bound */
  gint64 cpu_sum_usec;
  gint64 max_cpu_usec;
  gint64 max_wall_usec;                     /* the same span in wall time */
} CfLoopStats;

/* The buckets' upper bounds, µs, ascending (the last is G_MAXINT64: +Inf). */
const gint64 *cf_loop_watch_bucket_bounds (void);

/* Starts measuring CONTEXT's iterations (from the thread that runs it).
 * Once per process; later calls are ignored. */
void cf_loop_watch_install (GMainContext *context);

/* The counts so far (zeros before cf_loop_watch_install). */
void cf_loop_watch_get (CfLoopStats *stats);

/* Adds one iteration of CPU_USEC (WALL_USEC) to STATS. Pure. */
void cf_loop_stats_add (CfLoopStats *stats, gint64 cpu_usec, gint64 wall_usec);

G_END_DECLS
