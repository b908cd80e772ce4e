/* SPDX-License-Identifier: MIT */
/* capture-pane over the one control connection (CfTmux) against a forked
 * `tmux capture-pane` per call, on a private server with many sessions.
 * ARCHITECTURE.md §7: the control connection must be >= 10x cheaper. */
#include <stdlib.h>
#include <string.h>

#include "cf-tmux.h"

#define WAIT_SECONDS 60

typedef struct {
  guint remaining;
  guint failures;
  gsize bytes;
} Batch;

static guint opt_sessions = 50;
static guint opt_rounds = 10;
static guint opt_repeat = 3;
static double opt_assert_ratio = 0;
static double opt_assert_sequential_ratio = 0;
static char *opt_json_out = NULL;

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the main loop until *COUNTER reaches zero (FALSE on timeout). */
static gboolean
spin_until_zero (guint *counter)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
  guint tick_id = g_timeout_add (50, tick, NULL);

  while (*counter > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick_id);
  return *counter == 0;
}

static void
on_connected (CfTmux *tmux, guint *waiting)
{
  *waiting = 0;
}

static void
on_boolean_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Batch *batch = user_data;
  g_autoptr(GError) error = NULL;

  if (!cf_tmux_finish_boolean (CF_TMUX (source), result, &error))
    {
      g_printerr ("bench-tmux-capture: %s\n", error->message);
      batch->failures++;
    }
  batch->remaining--;
}

static void
on_capture_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Batch *batch = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = cf_tmux_capture_finish (CF_TMUX (source), result, &error);

  if (text == NULL)
    {
      g_printerr ("bench-tmux-capture: %s\n", error->message);
      batch->failures++;
    }
  else
    batch->bytes += strlen (text);
  batch->remaining--;
}

static char *
session_name (guint i)
{
  return g_strdup_printf ("bench-%02u", i);
}

/* Every capture in flight at once: what a poller of all sessions does. */
static double
run_pipelined (CfTmux *tmux, Batch *batch)
{
  gint64 start = g_get_monotonic_time ();

  batch->remaining = opt_sessions * opt_rounds;
  for (guint r = 0; r < opt_rounds; r++)
    for (guint i = 0; i < opt_sessions; i++)
      {
        g_autofree char *name = session_name (i);
        cf_tmux_capture_async (tmux, name, 0, NULL, on_capture_done, batch);
      }
  if (!spin_until_zero (&batch->remaining))
    return -1;
  return (double) (g_get_monotonic_time () - start) / (opt_sessions * opt_rounds);
}

/* One capture at a time, each waited for: the full round-trip latency. */
static double
run_sequential (CfTmux *tmux, Batch *batch)
{
  gint64 start = g_get_monotonic_time ();

  for (guint r = 0; r < opt_rounds; r++)
    for (guint i = 0; i < opt_sessions; i++)
      {
        g_autofree char *name = session_name (i);

        batch->remaining = 1;
        cf_tmux_capture_async (tmux, name, 0, NULL, on_capture_done, batch);
        if (!spin_until_zero (&batch->remaining))
          return -1;
      }
  return (double) (g_get_monotonic_time () - start) / (opt_sessions * opt_rounds);
}

/* What a daemon without a control connection does: one tmux process per
 * call. g_spawn_sync is fine here; the daemon itself never blocks. */
static double
run_forked (const char *socket, Batch *batch)
{
  gint64 start = g_get_monotonic_time ();

  for (guint r = 0; r < opt_rounds; r++)
    for (guint i = 0; i < opt_sessions; i++)
      {
        g_autofree char *name = session_name (i);
        g_autofree char *target = g_strdup_printf ("=%s:", name);
        g_autofree char *out = NULL;
        g_autoptr(GError) error = NULL;
        int status = 0;
        const char *argv[] = {
          "tmux", "-S", socket, "capture-pane", "-p", "-J", "-t", target, NULL,
        };

        if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                           &out, NULL, &status, &error)
            || !g_spawn_check_wait_status (status, &error))
          {
            g_printerr ("bench-tmux-capture: forked capture: %s\n", error->message);
            batch->failures++;
            continue;
          }
        batch->bytes += strlen (out);
      }
  return (double) (g_get_monotonic_time () - start) / (opt_sessions * opt_rounds);
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* The median of the repeats: one slow run (another process on the same two
 * cores) does not decide the verdict, and neither does one lucky run. */
static double
median (GArray *values)
{
  g_array_sort (values, compare_doubles);
  return g_array_index (values, double, values->len / 2);
}

static char *
tmux_version (void)
{
  const char *argv[] = { "tmux", "-V", NULL };
  char *out = NULL;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL,
                     NULL, NULL))
    return g_strdup ("tmux (unknown version)");
  return g_strstrip (out);
}

static void
kill_server (const char *socket)
{
  const char *argv[] = { "tmux", "-S", socket, "kill-server", NULL };

  g_spawn_sync (NULL, (char **) argv, NULL,
                G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, NULL, NULL, NULL, NULL);
}

static void
remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                NULL, NULL);
}

static int
run (const char *tmpdir)
{
  g_autofree char *socket = g_build_filename (tmpdir, "tmux.sock", NULL);
  g_autofree char *version = tmux_version ();
  g_autoptr(CfTmux) tmux = cf_tmux_new (socket, "bench-control");
  Batch setup = { 0, };
  Batch pipelined = { 0, };
  Batch sequential = { 0, };
  Batch forked = { 0, };
  guint waiting = 1;
  g_autoptr(GArray) runs_pipelined = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) runs_sequential = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) runs_forked = g_array_new (FALSE, FALSE, sizeof (double));
  double us_pipelined, us_sequential, us_forked, ratio_sequential, ratio_pipelined;
  guint total = opt_sessions * opt_rounds;
  gboolean ok = TRUE;

  g_signal_connect (tmux, "connected", G_CALLBACK (on_connected), &waiting);
  cf_tmux_start (tmux);
  if (!spin_until_zero (&waiting))
    {
      g_printerr ("bench-tmux-capture: cannot connect to tmux\n");
      return 1;
    }

  /* Sessions with a screenful of text, like a Claude Code pane. */
  setup.remaining = opt_sessions;
  for (guint i = 0; i < opt_sessions; i++)
    {
      g_autofree char *name = session_name (i);
      cf_tmux_new_session_async (tmux, name, tmpdir, NULL,
                                 "i=0; while [ $i -lt 60 ]; do "
                                 "echo \"line $i ✻ Thinking… (12s · ↑ 1.2k tokens)\"; "
                                 "i=$((i+1)); done; exec cat",
                                 NULL, on_boolean_done, &setup);
    }
  if (!spin_until_zero (&setup.remaining) || setup.failures > 0)
    {
      g_printerr ("bench-tmux-capture: cannot create the sessions\n");
      return 1;
    }

  /* Warm-up (and time for the panes to print), not measured. */
  for (guint round = 0; round < 3; round++)
    {
      Batch warm = { 0, };
      guint saved = opt_rounds;

      opt_rounds = 1;
      run_pipelined (tmux, &warm);
      opt_rounds = saved;
    }

  /* Interleaved, so that a burst of load elsewhere hits every method. */
  for (guint r = 0; r < opt_repeat; r++)
    {
      double us;

      pipelined.bytes = sequential.bytes = forked.bytes = 0;
      us = run_pipelined (tmux, &pipelined);
      g_array_append_val (runs_pipelined, us);
      us = run_sequential (tmux, &sequential);
      g_array_append_val (runs_sequential, us);
      us = run_forked (socket, &forked);
      g_array_append_val (runs_forked, us);
      if (pipelined.failures + sequential.failures + forked.failures > 0
          || g_array_index (runs_pipelined, double, r) < 0
          || g_array_index (runs_sequential, double, r) < 0)
        {
          g_printerr ("bench-tmux-capture: captures failed or timed out\n");
          return 1;
        }
    }
  us_pipelined = median (runs_pipelined);
  us_sequential = median (runs_sequential);
  us_forked = median (runs_forked);
  ratio_pipelined = us_forked / us_pipelined;
  ratio_sequential = us_forked / us_sequential;

  g_print ("bench-tmux-capture: %s, %u sessions x %u rounds = %u captures per method "
           "and run, median of %u runs\n", version, opt_sessions, opt_rounds, total, opt_repeat);
  g_print ("  control connection, pipelined   %9.1f us/capture  (%zu bytes/capture)\n",
           us_pipelined, pipelined.bytes / total);
  g_print ("  control connection, sequential  %9.1f us/capture\n", us_sequential);
  g_print ("  forked tmux capture-pane        %9.1f us/capture  (%zu bytes/capture)\n",
           us_forked, forked.bytes / total);
  g_print ("  ratio forked/pipelined %.1f, forked/sequential %.1f\n",
           ratio_pipelined, ratio_sequential);
  g_print ("  commands sent on the connection: %" G_GUINT64_FORMAT "\n",
           cf_tmux_get_commands_sent (tmux));
  cf_tmux_stop (tmux);

  /* For bench/run-all: the same numbers, machine-readable. */
  if (opt_json_out != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *json = g_strdup_printf (
        "{\"tmux_version\": \"%s\", \"sessions\": %u, \"captures\": %u, \"repeat\": %u, "
        "\"us_pipelined\": %.3f, \"us_sequential\": %.3f, \"us_forked\": %.3f, "
        "\"ratio_pipelined\": %.3f, \"ratio_sequential\": %.3f}\n",
        version, opt_sessions, total, opt_repeat, us_pipelined, us_sequential, us_forked,
        ratio_pipelined, ratio_sequential);

      if (!g_file_set_contents (opt_json_out, json, -1, &error))
        {
          g_printerr ("bench-tmux-capture: %s\n", error->message);
          return 1;
        }
    }

  /* Pipelined is the cost per command as the daemon pays it (every session
   * captured in one go); sequential adds the idle round trip through the
   * tmux client and server, which is latency rather than cost. */
  if (opt_assert_ratio > 0)
    {
      gboolean pass = ratio_pipelined >= opt_assert_ratio;
      g_print ("  %s: forked/pipelined %.1f %s %.1f\n", pass ? "PASS" : "FAIL",
               ratio_pipelined, pass ? ">=" : "<", opt_assert_ratio);
      ok = ok && pass;
    }
  if (opt_assert_sequential_ratio > 0)
    {
      gboolean pass = ratio_sequential >= opt_assert_sequential_ratio;
      g_print ("  %s: forked/sequential %.1f %s %.1f\n", pass ? "PASS" : "FAIL",
               ratio_sequential, pass ? ">=" : "<", opt_assert_sequential_ratio);
      ok = ok && pass;
    }
  return ok ? 0 : 1;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *tmux_path = NULL;
  g_autofree char *tmpdir = NULL;
  int sessions = (int) opt_sessions;
  int rounds = (int) opt_rounds;
  int repeat = (int) opt_repeat;
  int status;
  const GOptionEntry entries[] = {
    { "sessions", 0, 0, G_OPTION_ARG_INT, &sessions, "Sessions on the server (50)", "N" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "Captures per session and method (10)", "N" },
    { "repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "Runs per method; the median counts (3)", "N" },
    { "assert-ratio", 0, 0, G_OPTION_ARG_DOUBLE, &opt_assert_ratio,
      "Fail unless forked/pipelined >= RATIO", "RATIO" },
    { "assert-sequential-ratio", 0, 0, G_OPTION_ARG_DOUBLE, &opt_assert_sequential_ratio,
      "Fail unless forked/sequential >= RATIO", "RATIO" },
    { "json-out", 0, 0, G_OPTION_ARG_FILENAME, &opt_json_out,
      "Also write the numbers to FILE as JSON", "FILE" },
    { NULL },
  };

  context = g_option_context_new ("- tmux capture-pane benchmark");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || sessions < 1 || rounds < 1
      || repeat < 1)
    {
      g_printerr ("bench-tmux-capture: %s\n",
                  error != NULL ? error->message
                                : "--sessions, --rounds and --repeat must be >= 1");
      return 2;
    }
  opt_sessions = (guint) sessions;
  opt_rounds = (guint) rounds;
  opt_repeat = (guint) repeat;

  tmux_path = g_find_program_in_path ("tmux");
  if (tmux_path == NULL)
    {
      g_print ("bench-tmux-capture: SKIP: tmux is not installed\n");
      return 77;
    }

  tmpdir = g_dir_make_tmp ("cf-bench-tmux-XXXXXX", &error);
  if (tmpdir == NULL)
    {
      g_printerr ("bench-tmux-capture: %s\n", error->message);
      return 1;
    }
  /* A private server: no user tmux.conf, no nesting refusal. */
  g_setenv ("HOME", tmpdir, TRUE);
  g_unsetenv ("XDG_CONFIG_HOME");
  g_unsetenv ("TMUX");

  status = run (tmpdir);
  {
    g_autofree char *socket = g_build_filename (tmpdir, "tmux.sock", NULL);
    kill_server (socket);
  }
  remove_tree (tmpdir);
  return status;
}
