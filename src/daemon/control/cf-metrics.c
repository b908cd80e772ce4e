/* SPDX-License-Identifier: MIT */
#include "cf-metrics.h"

#include "cf-build-config.h"
#include "cf-health.h"

#define PREFIX "claude_failover_"

void
cf_metrics_append_label_value (GString *out, const char *value)
{
  for (const char *p = value; *p != '\0'; p++)
    switch (*p)
      {
      case '\\':
        g_string_append (out, "\\\\");
        break;
      case '"':
        g_string_append (out, "\\\"");
        break;
      case '\n':
        g_string_append (out, "\\n");
        break;
      default:
        g_string_append_c (out, *p);
      }
}

static void
family (GString *out, const char *name, const char *type, const char *help)
{
  g_string_append_printf (out, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n",
                          name, help, name, type);
}

static void
sample (GString *out, const char *name, guint64 value)
{
  g_string_append_printf (out, PREFIX "%s %" G_GUINT64_FORMAT "\n", name, value);
}

/* NAME{LABEL="VALUE"} COUNT */
static void
sample1 (GString *out, const char *name, const char *label, const char *value, guint64 count)
{
  g_string_append_printf (out, PREFIX "%s{%s=\"", name, label);
  cf_metrics_append_label_value (out, value);
  g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n", count);
}

static void
sample2 (GString *out, const char *name, const char *label1, const char *value1,
         const char *label2, const char *value2, guint64 count)
{
  g_string_append_printf (out, PREFIX "%s{%s=\"", name, label1);
  cf_metrics_append_label_value (out, value1);
  g_string_append_printf (out, "\",%s=\"", label2);
  cf_metrics_append_label_value (out, value2);
  g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n", count);
}

/* Seconds since the epoch with the microseconds, as Prometheus wants them. */
static void
sample_seconds (GString *out, const char *name, const char *label, const char *value,
                gint64 usec)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  g_ascii_dtostr (buffer, sizeof buffer, (double) usec / G_USEC_PER_SEC);
  if (label == NULL)
    g_string_append_printf (out, PREFIX "%s %s\n", name, buffer);
  else
    {
      g_string_append_printf (out, PREFIX "%s{%s=\"", name, label);
      cf_metrics_append_label_value (out, value);
      g_string_append_printf (out, "\"} %s\n", buffer);
    }
}

static void
render_health (GString *out, const CfMetricsContext *context)
{
  family (out, "healthy", "gauge", "1 when /health answers ok, 0 when degraded.");
  sample (out, "healthy", context->health_reasons == 0);
  family (out, "health_problem", "gauge", "1 for each reason /health is degraded.");
  for (guint i = 0; i < CF_HEALTH_N_REASONS; i++)
    sample1 (out, "health_problem", "reason", cf_health_reason_to_string (1u << i),
             (context->health_reasons & (1u << i)) != 0);
}

static void
render_sessions (GString *out, CfState *state)
{
  g_autoptr(GPtrArray) sessions = cf_state_list_sessions (state);
  guint counts[2][CF_SESSION_STATE_LAST + 1] = { { 0 } };
  guint active_tasks = 0;

  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *s = g_ptr_array_index (sessions, i);

      counts[s->kind][s->state]++;
      if (*s->task != '\0' &&
          (s->state == CF_SESSION_LAUNCHING || cf_session_state_holds_task (s->state)))
        active_tasks++;
    }
  family (out, "sessions", "gauge", "Claude sessions by kind and state.");
  for (guint kind = CF_SESSION_POOL; kind <= CF_SESSION_DEDICATED; kind++)
    for (guint st = CF_SESSION_IDLE; st <= CF_SESSION_STATE_LAST; st++)
      sample2 (out, "sessions", "kind", cf_session_kind_to_string (kind),
               "state", cf_session_state_to_string (st), counts[kind][st]);

  family (out, "tasks", "gauge",
          "Tasks by state: pending in the inboxes, active in a session.");
  sample1 (out, "tasks", "state", "pending", cf_state_get_daemon_facts (state).pending_tasks);
  sample1 (out, "tasks", "state", "active", active_tasks);
}

static void
render_tasks (GString *out, CfCounters *counters)
{
  static const struct {
    CfEvent event;
    const char *outcome;
  } outcomes[] = {
    { CF_EVENT_TASK_DONE, "done" },
    { CF_EVENT_TASK_FAILED, "failed" },
    { CF_EVENT_TASK_REQUEUED, "requeued" },
    { CF_EVENT_TASK_TIMEOUT, "timeout" },
    { CF_EVENT_TASK_CANCELLED, "cancelled" },
    { CF_EVENT_TASK_DELEGATED_DONE, "delegated-done" },
    { CF_EVENT_TASK_DELEGATED_FAILED, "delegated-failed" },
  };

  family (out, "tasks_dispatched_total", "counter", "Tasks sent to a session since start.");
  sample (out, "tasks_dispatched_total",
          cf_counters_get_since_start (counters, CF_COUNTER_DISPATCHED));
  family (out, "tasks_completed_total", "counter",
          "Tasks completed since start (locally or delegated).");
  sample (out, "tasks_completed_total",
          cf_counters_get_since_start (counters, CF_COUNTER_COMPLETED));
  family (out, "tasks_failed_total", "counter",
          "Tasks moved to failed/ since start (locally or delegated).");
  sample (out, "tasks_failed_total", cf_counters_get_since_start (counters, CF_COUNTER_FAILED));
  family (out, "tasks_finished_total", "counter",
          "Task runs ended since start, by outcome (TaskFinished).");
  for (guint i = 0; i < G_N_ELEMENTS (outcomes); i++)
    sample1 (out, "tasks_finished_total", "outcome", outcomes[i].outcome,
             cf_counters_get (counters, outcomes[i].event));
}

static void
render_accounts (GString *out, CfState *state, gint64 now)
{
  g_autoptr(GPtrArray) accounts = cf_state_list_accounts (state);
  const char *active = cf_state_get_active_account (state);

  family (out, "account_active", "gauge", "1 for the account new sessions use.");
  for (guint i = 0; i < accounts->len; i++)
    {
      CfAccountState *a = g_ptr_array_index (accounts, i);
      sample1 (out, "account_active", "account", a->name, g_strcmp0 (a->name, active) == 0);
    }
  family (out, "account_available", "gauge",
          "1 when the account is not at its usage limit.");
  for (guint i = 0; i < accounts->len; i++)
    {
      CfAccountState *a = g_ptr_array_index (accounts, i);
      sample1 (out, "account_available", "account", a->name, a->exhausted_until <= now);
    }
  family (out, "account_exhausted_until_seconds", "gauge",
          "When the account's usage limit resets (0 = not exhausted).");
  for (guint i = 0; i < accounts->len; i++)
    {
      CfAccountState *a = g_ptr_array_index (accounts, i);
      sample_seconds (out, "account_exhausted_until_seconds", "account", a->name,
                      MAX (a->exhausted_until, 0));
    }
}

/* NAME{account="A",window="W"} VALUE, VALUE a double. */
static void
sample_window (GString *out, const char *name, const char *account, CfUsageWindowKind kind,
               double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  g_ascii_dtostr (buffer, sizeof buffer, value);
  g_string_append_printf (out, PREFIX "%s{account=\"", name);
  cf_metrics_append_label_value (out, account);
  g_string_append_printf (out, "\",window=\"%s\"} %s\n", cf_usage_window_kind_to_string (kind),
                          buffer);
}

/* The Usage property's numbers, windows aged at NOW like it. */
static void
render_usage (GString *out, CfState *state, gint64 now)
{
  g_autoptr(GPtrArray) accounts = cf_state_list_accounts (state);

  family (out, "account_usage_percent", "gauge",
          "Used share of the account's 5-hour and weekly windows (-1 = unknown).");
  for (guint i = 0; i < accounts->len; i++)
    for (guint w = 0; w < CF_USAGE_N_WINDOWS; w++)
      {
        CfAccountState *a = g_ptr_array_index (accounts, i);
        CfUsageWindow window = cf_usage_window_at (&a->usage.windows[w], now);

        sample_window (out, "account_usage_percent", a->name, w,
                       cf_usage_window_is_known (&window) ? window.used : -1);
      }
  family (out, "account_usage_resets_at_seconds", "gauge",
          "When the account's window resets (0 = unknown).");
  for (guint i = 0; i < accounts->len; i++)
    for (guint w = 0; w < CF_USAGE_N_WINDOWS; w++)
      {
        CfAccountState *a = g_ptr_array_index (accounts, i);
        CfUsageWindow window = cf_usage_window_at (&a->usage.windows[w], now);

        sample_window (out, "account_usage_resets_at_seconds", a->name, w,
                       (double) MAX (window.resets_at, 0) / G_USEC_PER_SEC);
      }
  family (out, "account_usage_updated_seconds", "gauge",
          "When the account's usage was last read (0 = never).");
  for (guint i = 0; i < accounts->len; i++)
    {
      CfAccountState *a = g_ptr_array_index (accounts, i);

      sample_seconds (out, "account_usage_updated_seconds", "account", a->name,
                      MAX (a->usage.windows[CF_USAGE_FIVE_HOUR].updated,
                           a->usage.windows[CF_USAGE_SEVEN_DAY].updated));
    }
}

static void
render_swaps (GString *out, CfState *state)
{
  const CfSwapJournal *swap = cf_state_get_swap_journal (state);
  CfCounters *counters = cf_state_get_counters (state);

  family (out, "swap_state", "gauge", "1 for the current step of the account switch.");
  for (guint st = CF_SWAP_NORMAL; st <= CF_SWAP_FALLBACK; st++)
    sample1 (out, "swap_state", "state", cf_swap_state_to_string (st), st == swap->step);
  family (out, "partial_swap", "gauge",
          "1 when a switch failed half-way and switches are refused.");
  sample (out, "partial_swap", swap->partial);
  family (out, "swaps_total", "counter", "Account switches since start, by result.");
  sample1 (out, "swaps_total", "result", "succeeded",
           cf_counters_get (counters, CF_EVENT_SWAP_SUCCEEDED));
  sample1 (out, "swaps_total", "result", "failed",
           cf_counters_get (counters, CF_EVENT_SWAP_FAILED));
  family (out, "last_swap_timestamp_seconds", "gauge",
          "When the last account switch happened (0 = never).");
  sample_seconds (out, "last_swap_timestamp_seconds", NULL, NULL, MAX (swap->last_when, 0));
  family (out, "return_at_timestamp_seconds", "gauge",
          "When the switch back to the primary account is due (0 = none).");
  sample_seconds (out, "return_at_timestamp_seconds", NULL, NULL,
                  MAX (swap->return_at, 0));
  family (out, "dispatch_paused", "gauge", "1 while dispatch is paused.");
  sample (out, "dispatch_paused", cf_state_get_dispatch_pause (state).paused);
}

static void
render_detections (GString *out, CfCounters *counters)
{
  static const struct {
    CfEvent event;
    const char *kind;
    const char *source;
  } detections[] = {
    { CF_EVENT_LIMIT_BY_HOOK, "limit", "hook" },
    { CF_EVENT_LIMIT_BY_PANE, "limit", "pane" },
    { CF_EVENT_LIMIT_VETOED, "limit-vetoed", "pane" },
    { CF_EVENT_DONE_BY_HOOK, "completion", "hook" },
    { CF_EVENT_DONE_BY_SIGNAL_FILE, "completion", "signal-file" },
    { CF_EVENT_DONE_BY_PANE, "completion", "pane" },
    { CF_EVENT_DONE_BY_IDLE_TIMEOUT, "completion", "idle-timeout" },
  };

  family (out, "detections_total", "counter",
          "Detections since start: sessions found at their usage limit, pane polls whose "
          "limit match server-error text vetoed, task completions; by how they were seen.");
  for (guint i = 0; i < G_N_ELEMENTS (detections); i++)
    sample2 (out, "detections_total", "event", detections[i].kind,
             "source", detections[i].source,
             cf_counters_get (counters, detections[i].event));
}

static void
render_delegation (GString *out, CfCounters *counters, const CfMetricsContext *context)
{
  family (out, "delegation_enabled", "gauge", "1 when remote delegation is on.");
  sample (out, "delegation_enabled", context->delegation_enabled);
  family (out, "delegated_tasks_total", "counter",
          "Tasks handed to the remote job API since start.");
  sample (out, "delegated_tasks_total",
          cf_counters_get_since_start (counters, CF_COUNTER_DELEGATED));
}

static void
render_notifications (GString *out, CfCounters *counters)
{
  static const struct {
    CfEvent event;
    const char *channel;
    const char *result;
  } notes[] = {
    { CF_EVENT_NOTIFY_TELEGRAM_SENT, "telegram", "sent" },
    { CF_EVENT_NOTIFY_TELEGRAM_FAILED, "telegram", "failed" },
    { CF_EVENT_NOTIFY_EMAIL_SENT, "email", "sent" },
    { CF_EVENT_NOTIFY_EMAIL_FAILED, "email", "failed" },
    { CF_EVENT_NOTIFY_WEBHOOK_SENT, "webhook", "sent" },
    { CF_EVENT_NOTIFY_WEBHOOK_FAILED, "webhook", "failed" },
  };

  family (out, "notifications_total", "counter",
          "Notifications since start, by channel and result (failed = not delivered after "
          "the retries, or refused).");
  for (guint i = 0; i < G_N_ELEMENTS (notes); i++)
    sample2 (out, "notifications_total", "channel", notes[i].channel,
             "result", notes[i].result, cf_counters_get (counters, notes[i].event));
  family (out, "notifications_dropped_total", "counter",
          "Notifications dropped because the queue was full.");
  sample (out, "notifications_dropped_total",
          cf_counters_get (counters, CF_EVENT_NOTIFY_DROPPED));
  family (out, "notifications_coalesced_total", "counter",
          "Notifications merged into an identical one sent moments before.");
  sample (out, "notifications_coalesced_total",
          cf_counters_get (counters, CF_EVENT_NOTIFY_COALESCED));
}

/* The main thread's CPU per main-loop iteration (cf-loop-watch.h): a
 * histogram, and the longest iteration in CPU and in wall time. */
static void
render_loop_iterations (GString *out, const CfLoopStats *loop)
{
  const gint64 *bounds = cf_loop_watch_bucket_bounds ();
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  family (out, "main_loop_iteration_cpu_seconds", "histogram",
          "Main-thread CPU per main-loop iteration: how long an arriving call can wait "
          "behind the daemon's own work.");
  for (guint i = 0; i < CF_LOOP_WATCH_N_BUCKETS; i++)
    {
      if (bounds[i] == G_MAXINT64)
        g_strlcpy (buffer, "+Inf", sizeof buffer);
      else
        g_ascii_formatd (buffer, sizeof buffer, "%g", (double) bounds[i] / G_USEC_PER_SEC);
      sample1 (out, "main_loop_iteration_cpu_seconds_bucket", "le", buffer, loop->buckets[i]);
    }
  g_string_append_printf (out, PREFIX "main_loop_iteration_cpu_seconds_sum %s\n",
                          g_ascii_formatd (buffer, sizeof buffer, "%.6f",
                                           (double) loop->cpu_sum_usec / G_USEC_PER_SEC));
  sample (out, "main_loop_iteration_cpu_seconds_count", loop->iterations);
  family (out, "main_loop_iteration_max_cpu_seconds", "gauge",
          "The main-loop iteration that used the most CPU since start.");
  g_string_append_printf (out, PREFIX "main_loop_iteration_max_cpu_seconds %s\n",
                          g_ascii_formatd (buffer, sizeof buffer, "%.6f",
                                           (double) loop->max_cpu_usec / G_USEC_PER_SEC));
  family (out, "main_loop_iteration_max_wall_seconds", "gauge",
          "The longest main-loop iteration in wall time since start (CPU plus preemption).");
  g_string_append_printf (out, PREFIX "main_loop_iteration_max_wall_seconds %s\n",
                          g_ascii_formatd (buffer, sizeof buffer, "%.6f",
                                           (double) loop->max_wall_usec / G_USEC_PER_SEC));
}

void
cf_metrics_render (GString *out, CfState *state, const CfMetricsContext *context, gint64 now)
{
  CfCounters *counters = cf_state_get_counters (state);
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  family (out, "build_info", "gauge", "The running claude-failoverd; always 1.");
  sample1 (out, "build_info", "version", PACKAGE_VERSION, 1);
  family (out, "start_time_seconds", "gauge", "When the daemon started.");
  sample_seconds (out, "start_time_seconds", NULL, NULL, context->start_time);
  render_health (out, context);
  render_sessions (out, state);
  render_tasks (out, counters);
  render_accounts (out, state, now);
  render_usage (out, state, now);
  render_swaps (out, state);
  render_detections (out, counters);
  render_delegation (out, counters, context);
  render_notifications (out, counters);

  family (out, "state_writes_total", "counter", "State file writes since start.");
  sample (out, "state_writes_total", cf_counters_get (counters, CF_EVENT_STATE_WRITTEN));
  if (context->loop_lag_usec >= 0)
    {
      family (out, "main_loop_lag_seconds", "gauge",
              "How late the last main-loop probe ran (all work shares one loop).");
      g_ascii_dtostr (buffer, sizeof buffer, (double) context->loop_lag_usec / G_USEC_PER_SEC);
      g_string_append_printf (out, PREFIX "main_loop_lag_seconds %s\n", buffer);
      family (out, "main_loop_max_lag_seconds", "gauge",
              "The worst main-loop probe delay since start.");
      g_ascii_dtostr (buffer, sizeof buffer,
                      (double) context->loop_max_lag_usec / G_USEC_PER_SEC);
      g_string_append_printf (out, PREFIX "main_loop_max_lag_seconds %s\n", buffer);
    }
  if (context->loop != NULL)
    render_loop_iterations (out, context->loop);
}
