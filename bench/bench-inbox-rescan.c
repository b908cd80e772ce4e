/* SPDX-License-Identifier: MIT */
/* Full inbox rescans over many projects (ARCHITECTURE.md §7: 10 000 tasks
 * over 200 inboxes, full rescan < 100 ms). Measures, in one run:
 *   - the first full scan of a backlog, parsing included (start → all listed);
 *   - CfInbox's full rescan with nothing changed (readdir + lstat, cache hits);
 *   - a naive rescan that re-reads every task and meta file, as an index
 *     without the cache would, in the same process on the same tree and
 *     with as many threads;
 *   - the longest main-loop stall while CfInbox rescans. */
#include <glib/gstdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "cf-inbox.h"
#include "cf-taskq.h"
#include "cf-test-util.h"

#define WAIT_SECONDS 120

static gint64 last_tick;
static gint64 max_gap;

static gboolean
tick (gpointer data)
{
  gint64 now = g_get_monotonic_time ();

  if (last_tick != 0 && now - last_tick > max_gap)
    max_gap = now - last_tick;
  last_tick = now;
  return G_SOURCE_CONTINUE;
}

typedef gboolean (*Condition) (CfInbox *inbox, guint64 target);

static gboolean
listed_at_least (CfInbox *inbox, guint64 target)
{
  g_autoptr(GPtrArray) tasks = cf_inbox_list_pending (inbox);
  return tasks->len >= target;
}

static gboolean
scans_at_least (CfInbox *inbox, guint64 target)
{
  return cf_inbox_get_scans (inbox) >= target;
}

static gboolean
spin_until (CfInbox *inbox, Condition cond, guint64 target)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;

  while (!cond (inbox, target))
    {
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      g_main_context_iteration (NULL, TRUE);
    }
  return TRUE;
}

/* A backlog as a restarted daemon finds it: written an hour ago. */
static gboolean
make_tree (const char *projects_dir, guint projects, guint per_project, GPtrArray *paths)
{
  static const char *const priorities[] = { "critical", "high", "default", "low" };
  struct timeval times[2] = { { time (NULL) - 3600, 0 }, { time (NULL) - 3600, 0 } };

  for (guint p = 0; p < projects; p++)
    {
      g_autofree char *name = g_strdup_printf ("project-%03u", p);
      char *project = g_build_filename (projects_dir, name, NULL);
      g_autofree char *inbox = g_build_filename (project, CF_TASKQ_QUEUE_DIR, "inbox", NULL);

      g_ptr_array_add (paths, project);
      if (g_mkdir_with_parents (inbox, 0755) < 0 || !cf_taskq_ensure_dirs (project, NULL))
        return FALSE;
      for (guint t = 0; t < per_project; t++)
        {
          g_autofree char *id = g_strdup_printf ("task-%04u", t);
          g_autofree char *path = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, id);
          g_autofree char *text = g_strdup_printf ("---\ntitle: Task %u of %s\npriority: %s\n"
                                                   "tags: [bench]\n---\n"
                                                   "Do the thing number %u in %s, then report.\n",
                                                   t, name, priorities[t % 4], t, name);

          if (!g_file_set_contents (path, text, -1, NULL) || utimes (path, times) < 0)
            return FALSE;
        }
    }
  return TRUE;
}

typedef struct {
  GPtrArray *projects;
  gint next;                   /* atomic */
  gint parsed;                 /* atomic */
} NaiveWork;

static gpointer
naive_worker (gpointer data)
{
  NaiveWork *work = data;
  gint p;

  while ((p = g_atomic_int_add (&work->next, 1)) < (gint) work->projects->len)
    {
      const char *project = g_ptr_array_index (work->projects, p);
      g_autoptr(GPtrArray) entries = NULL;

      if (!cf_taskq_scan_inbox (project, &entries, NULL, NULL))
        continue;
      for (guint i = 0; i < entries->len; i++)
        {
          CfTaskqEntry *entry = g_ptr_array_index (entries, i);
          g_autoptr(CfTask) task = NULL;
          g_autoptr(CfTaskMeta) meta = NULL;

          if (cf_taskq_read_task (project, entry->id, &task, NULL))
            g_atomic_int_inc (&work->parsed);
          cf_taskq_read_meta (project, entry->id, &meta, NULL);
        }
    }
  return NULL;
}

/* What a rescan costs without a cache: every task and meta file read
 * again, on as many threads as CfInbox lists inboxes with. */
static guint
naive_rescan (GPtrArray *projects)
{
  NaiveWork work = { projects, 0, 0 };
  guint n_threads = MIN (g_get_num_processors (), 4);
  GThread *helpers[4];

  for (guint i = 1; i < n_threads; i++)
    helpers[i] = g_thread_new ("naive", naive_worker, &work);
  naive_worker (&work);
  for (guint i = 1; i < n_threads; i++)
    g_thread_join (helpers[i]);
  return (guint) work.parsed;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (GArray *values)
{
  g_array_sort (values, compare_doubles);
  return g_array_index (values, double, values->len / 2);
}

static double
maximum (GArray *values)
{
  g_array_sort (values, compare_doubles);
  return g_array_index (values, double, values->len - 1);
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  gint projects = 200, per_project = 50, rounds = 10;
  double assert_rescan_ms = 0;
  g_autofree char *json_out = NULL;
  const GOptionEntry entries[] = {
    { "projects", 0, 0, G_OPTION_ARG_INT, &projects, "Project inboxes (200)", "N" },
    { "tasks-per-project", 0, 0, G_OPTION_ARG_INT, &per_project, "Tasks per inbox (50)", "N" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "Rescans of each kind; the median counts (10)",
      "N" },
    { "assert-rescan-ms", 0, 0, G_OPTION_ARG_DOUBLE, &assert_rescan_ms,
      "Fail unless the median cached full rescan takes less than MS", "MS" },
    { "json-out", 0, 0, G_OPTION_ARG_FILENAME, &json_out,
      "Also write the numbers to FILE as JSON", "FILE" },
    { NULL },
  };
  g_autofree char *root = NULL;
  g_autofree char *projects_dir = NULL;
  g_autofree char *yaml = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(CfConfig) config = NULL;
  g_autoptr(CfState) state = NULL;
  g_autoptr(CfInbox) inbox = NULL;
  g_autoptr(GArray) cached = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) naive = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) stalls = g_array_new (FALSE, FALSE, sizeof (double));
  guint total, tick_id;
  guint64 parses_after_first;
  gint64 start;
  double first_ms, first_stall_ms, cached_ms, naive_ms;
  gboolean ok = TRUE;

  context = g_option_context_new ("- CfInbox full rescan benchmark");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || projects < 1 || per_project < 1 ||
      rounds < 1)
    {
      g_printerr ("bench-inbox-rescan: %s\n",
                  error != NULL ? error->message
                                : "--projects, --tasks-per-project and --rounds must be >= 1");
      return 2;
    }
  total = (guint) projects * (guint) per_project;

  root = g_dir_make_tmp ("cf-bench-inbox-XXXXXX", &error);
  if (root == NULL)
    {
      g_printerr ("bench-inbox-rescan: %s\n", error->message);
      return 1;
    }
  projects_dir = g_build_filename (root, "projects", NULL);
  if (!make_tree (projects_dir, (guint) projects, (guint) per_project, paths))
    {
      g_printerr ("bench-inbox-rescan: cannot create the task tree in %s\n", root);
      cf_test_remove_tree (root);
      return 1;
    }
  yaml = g_strdup_printf ("accounts:\n  - {name: main, home: %s/home}\n"
                          "projects:\n  dir: %s\n"
                          "lifecycle: {interval: 1h}\n",
                          root, projects_dir);
  config = cf_config_load_data (yaml, -1, "bench.yaml", root, &error);
  g_assert_no_error (error);
  state = cf_state_new ();
  inbox = cf_inbox_new (config, state);

  /* 1. The first full scan, parsing included. */
  tick_id = g_timeout_add (1, tick, NULL);
  start = g_get_monotonic_time ();
  cf_inbox_start (inbox);
  if (!spin_until (inbox, listed_at_least, total) || !spin_until (inbox, scans_at_least, 1))
    {
      g_printerr ("bench-inbox-rescan: the first scan did not list %u tasks\n", total);
      cf_test_remove_tree (root);
      return 1;
    }
  first_ms = (g_get_monotonic_time () - start) / 1000.0;
  first_stall_ms = max_gap / 1000.0;
  parses_after_first = cf_inbox_get_parses (inbox);

  /* 2. Cached rescans, with the 1 ms timer measuring main-loop stalls, and
   *    naive ones, interleaved so load from elsewhere hits both alike. */
  for (gint r = 0; r < rounds; r++)
    {
      guint64 target = cf_inbox_get_scans (inbox) + 1;
      double ms;

      last_tick = 0;
      max_gap = 0;
      start = g_get_monotonic_time ();
      cf_inbox_rescan (inbox);
      if (!spin_until (inbox, scans_at_least, target))
        {
          g_printerr ("bench-inbox-rescan: a rescan did not finish\n");
          ok = FALSE;
          break;
        }
      ms = (g_get_monotonic_time () - start) / 1000.0;
      g_array_append_val (cached, ms);
      ms = max_gap / 1000.0;
      g_array_append_val (stalls, ms);

      start = g_get_monotonic_time ();
      if (naive_rescan (paths) != total)
        {
          g_printerr ("bench-inbox-rescan: the naive rescan did not parse %u tasks\n", total);
          ok = FALSE;
          break;
        }
      ms = (g_get_monotonic_time () - start) / 1000.0;
      g_array_append_val (naive, ms);
    }
  g_source_remove (tick_id);

  if (ok)
    {
      cached_ms = median (cached);
      naive_ms = median (naive);
      g_print ("bench-inbox-rescan: %d projects x %d tasks = %u tasks, %d rescans of each kind, "
               "median\n", projects, per_project, total, rounds);
      g_print ("  first full scan with parsing   %9.1f ms  (%" G_GUINT64_FORMAT " files parsed)\n",
               first_ms, parses_after_first);
      g_print ("  cached full rescan (CfInbox)   %9.1f ms  (max %.1f ms, %" G_GUINT64_FORMAT
               " files parsed)\n", cached_ms, maximum (cached),
               cf_inbox_get_parses (inbox) - parses_after_first);
      g_print ("  naive full rescan (re-parse)   %9.1f ms\n", naive_ms);
      g_print ("  ratio naive/cached %.1f\n", naive_ms / cached_ms);
      g_print ("  longest main-loop stall: first scan %.1f ms, cached rescan %.1f ms "
               "(median of rounds)\n", first_stall_ms, median (stalls));
      if (json_out != NULL)
        {
          g_autoptr(GError) json_error = NULL;
          g_autofree char *json = g_strdup_printf (
            "{\"projects\": %d, \"tasks\": %u, \"rounds\": %d, \"first_ms\": %.3f, "
            "\"cached_ms\": %.3f, \"cached_max_ms\": %.3f, \"naive_ms\": %.3f, "
            "\"first_stall_ms\": %.3f, \"rescan_stall_ms\": %.3f, \"reparsed\": %"
            G_GUINT64_FORMAT "}\n",
            projects, total, rounds, first_ms, cached_ms, maximum (cached), naive_ms,
            first_stall_ms, median (stalls), cf_inbox_get_parses (inbox) - parses_after_first);

          if (!g_file_set_contents (json_out, json, -1, &json_error))
            {
              g_printerr ("bench-inbox-rescan: %s\n", json_error->message);
              ok = FALSE;
            }
        }
      if (cf_inbox_get_parses (inbox) != parses_after_first)
        {
          g_print ("  FAIL: an unchanged rescan parsed files again\n");
          ok = FALSE;
        }
      if (assert_rescan_ms > 0)
        {
          gboolean pass = cached_ms < assert_rescan_ms;
          g_print ("  %s: cached full rescan %.1f ms %s %.1f ms\n", pass ? "PASS" : "FAIL",
                   cached_ms, pass ? "<" : ">=", assert_rescan_ms);
          ok = ok && pass;
        }
    }

  cf_inbox_stop (inbox);
  cf_test_remove_tree (root);
  return ok ? 0 : 1;
}
