/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "cf-loop-watch.h"
#include "cf-state.h"

G_BEGIN_DECLS

/* /metrics in the Prometheus text exposition format (version 0.0.4):
 * build info, health, sessions by kind and state, tasks by state and by
 * outcome, accounts, the swap journal and swaps, detection events,
 * delegation, notifications, state writes and the main loop's lag. Every
 * family has HELP and TYPE lines; every label combination is present, with
 * 0 when nothing happened, so rates and alerts work from the start. */

typedef struct {
  guint health_reasons;        /* CfHealthReason flags */
  gboolean delegation_enabled;
  gint64 start_time;           /* µs since the epoch */
  gint64 loop_lag_usec;        /* last measured main-loop lag, -1 = none yet */
  gint64 loop_max_lag_usec;
  const CfLoopStats *loop;     /* main-loop iterations; NULL = not measured */
} CfMetricsContext;

/* Appends the metrics to OUT. NOW is µs since the epoch. */
void cf_metrics_render (GString *out, CfState *state, const CfMetricsContext *context,
                        gint64 now);

/* Appends VALUE to OUT as a label value: \ " and newline escaped. */
void cf_metrics_append_label_value (GString *out, const char *value);

G_END_DECLS
