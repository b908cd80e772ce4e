/* SPDX-License-Identifier: MIT */
/* Which directories are CfInbox's projects (ARCHITECTURE.md 4.1): the
 * discovery that runs in the scan thread (every <projects.dir>/<name>/ with
 * .agent-queue/inbox, projects.extra and the dedicated sessions' projects,
 * owners checked, configured queues created), applying it on the main loop
 * (a Project with its inbox monitor per project), and the watches on
 * projects.dir and on would-be projects that find a new inbox at once. */
#include "cf-inbox-private.h"

#include <glib/gi18n.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf-taskq.h"

/* Events on projects.dir come in bursts (mkdir -p, git clone). */
#define DISCOVER_DELAY_MS 50
#define MAX_CANDIDATE_WATCHES 1000

/* ---- discovery (scan thread) -------------------------------------------- */

static void
project_spec_free (ProjectSpec *spec)
{
  g_free (spec->path);
  g_free (spec);
}

static gboolean
is_directory (const char *path)
{
  struct stat st;

  return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

/* Whoever owns a project writes the tasks Claude runs with the service
 * user's accounts: only the service user's and root's projects are served
 * unless projects.allow_other_owners says otherwise. FALSE with *out_message
 * (naming the project and its owner) for another user's project. */
static gboolean
owner_allowed (const char *path, gboolean allow_other_owners, char **out_message)
{
  struct stat st;
  struct passwd entry, *found = NULL;
  char buffer[4096];
  g_autofree char *owner = NULL;

  if (allow_other_owners || stat (path, &st) < 0 || st.st_uid == 0 || st.st_uid == geteuid ())
    return TRUE;
  if (getpwuid_r (st.st_uid, &entry, buffer, sizeof buffer, &found) == 0 && found != NULL)
    owner = g_strdup_printf ("%s (uid %u)", found->pw_name, (guint) st.st_uid);
  else
    owner = g_strdup_printf ("uid %u", (guint) st.st_uid);
  *out_message = g_strdup_printf (_("%s: owned by %s, neither the service user nor root; its "
                                    "tasks are not run (projects.allow_other_owners allows it)"),
                                  path, owner);
  return FALSE;
}

int
cf_inbox_compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

void
cf_inbox_discover (ScanJob *job)
{
  g_autoptr(GHashTable) known = g_hash_table_new (g_str_hash, g_str_equal);

  job->specs = g_ptr_array_new_with_free_func ((GDestroyNotify) project_spec_free);
  job->candidates = g_ptr_array_new_with_free_func (g_free);
  job->failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  /* Configured projects first: their queue is created here, so the look at
   * projects.dir below already sees the ones that live there. */
  for (guint i = 0; i < job->explicit_paths->len; i++)
    {
      const char *path = g_ptr_array_index (job->explicit_paths, i);
      g_autoptr(GError) error = NULL;
      g_autofree char *refusal = NULL;
      ProjectSpec *spec;

      if (g_hash_table_contains (known, path))
        continue;
      if (!owner_allowed (path, job->allow_other_owners, &refusal))
        {
          g_hash_table_replace (job->failures, g_strdup (path), g_steal_pointer (&refusal));
          continue;
        }
      if (!cf_taskq_ensure_dirs (path, &error))
        {
          g_hash_table_replace (job->failures, g_strdup (path), g_strdup (error->message));
          continue;
        }
      spec = g_new0 (ProjectSpec, 1);
      spec->path = g_strdup (path);
      spec->explicit = TRUE;
      g_ptr_array_add (job->specs, spec);
      g_hash_table_add (known, spec->path);
    }

  if (job->projects_dir != NULL)
    {
      g_autoptr(GDir) dir = g_dir_open (job->projects_dir, 0, NULL);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        if (name[0] != '.')
          g_ptr_array_add (names, g_strdup (name));
      g_ptr_array_sort (names, cf_inbox_compare_strings);

      for (guint i = 0; i < names->len; i++)
        {
          g_autofree char *path = g_build_filename (job->projects_dir, names->pdata[i], NULL);
          g_autofree char *queue = NULL;
          g_autofree char *inbox = NULL;

          if (g_hash_table_contains (known, path) || !is_directory (path))
            continue;
          queue = g_build_filename (path, CF_TASKQ_QUEUE_DIR, NULL);
          inbox = g_build_filename (queue, "inbox", NULL);
          if (is_directory (inbox))
            {
              g_autoptr(GError) error = NULL;
              g_autofree char *refusal = NULL;
              ProjectSpec *spec;

              if (!owner_allowed (path, job->allow_other_owners, &refusal))
                {
                  g_hash_table_replace (job->failures, g_steal_pointer (&path),
                                        g_steal_pointer (&refusal));
                  continue;
                }
              /* A queue directory that is a symlink: refused, not followed. */
              if (!cf_taskq_ensure_dirs (path, &error))
                {
                  g_hash_table_replace (job->failures, g_steal_pointer (&path),
                                        g_strdup (error->message));
                  continue;
                }
              spec = g_new0 (ProjectSpec, 1);
              spec->path = g_steal_pointer (&path);
              g_ptr_array_add (job->specs, spec);
              g_hash_table_add (known, spec->path);
            }
          else if (job->candidates->len >= MAX_CANDIDATE_WATCHES)
            job->capped = TRUE;
          else if (is_directory (queue))
            g_ptr_array_add (job->candidates, g_steal_pointer (&queue));
          else
            g_ptr_array_add (job->candidates, g_steal_pointer (&path));
        }
    }
}

/* ---- applying it, and asking for it (main loop) ------------------------ */

static void watch_candidates (CfInbox *self, GPtrArray *paths, gboolean capped);

void
cf_inbox_apply_discovery (CfInbox *self, ScanJob *job)
{
  g_autoptr(GHashTable) wanted = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < job->specs->len; i++)
    {
      ProjectSpec *spec = g_ptr_array_index (job->specs, i);
      Project *project = g_hash_table_lookup (self->projects, spec->path);

      g_hash_table_add (wanted, spec->path);
      if (project != NULL)
        {
          project->explicit = spec->explicit;
          continue;
        }
      project = cf_inbox_project_new (self, spec->path, spec->explicit);
      g_hash_table_insert (self->projects, project->path, project);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "CF_PROJECT", project->path,
                        "MESSAGE", "%s: watching the inbox", project->path);
      /* The monitor exists from now on; this scan covers what came before. */
      cf_inbox_request_scan (project, 0);
    }

  g_hash_table_iter_init (&iter, self->projects);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (wanted, key))
      {
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                          "CF_PROJECT", (const char *) key,
                          "MESSAGE", "%s: inbox gone, no longer watched", (const char *) key);
        g_hash_table_iter_remove (&iter);
      }

  g_hash_table_iter_init (&iter, job->failures);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (self->warned, key))
      {
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                          "CF_PROJECT", (const char *) key,
                          "MESSAGE", "project not usable, will retry: %s",
                          (const char *) value);
        g_hash_table_add (self->warned, g_strdup (key));
      }
  g_hash_table_iter_init (&iter, self->warned);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (job->failures, key))
      g_hash_table_iter_remove (&iter);

  watch_candidates (self, job->candidates, job->capped);
}

char *
cf_inbox_canonical_project (const char *path)
{
  if (path == NULL || *path == '\0' || !g_path_is_absolute (path))
    return NULL;
  return g_canonicalize_filename (path, "/");
}

static void
start_discovery (CfInbox *self, gboolean scan_all)
{
  ScanJob *job = cf_inbox_scan_job_new (self);
  CfConfig *config = self->config;

  job->discover = TRUE;
  job->scan_all = scan_all;
  job->projects_dir = cf_inbox_canonical_project (config->projects_dir);
  job->allow_other_owners = config->projects_allow_other_owners;
  job->explicit_paths = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; config->projects_extra[i] != NULL; i++)
    {
      char *path = cf_inbox_canonical_project (config->projects_extra[i]);
      if (path != NULL)
        g_ptr_array_add (job->explicit_paths, path);
    }
  for (guint i = 0; i < config->dedicated->len; i++)
    {
      CfDedicatedConfig *dedicated = g_ptr_array_index (config->dedicated, i);
      char *path = cf_inbox_canonical_project (dedicated->project);
      if (path != NULL)
        g_ptr_array_add (job->explicit_paths, path);
    }
  self->discovery_job = job;
  cf_inbox_run_scan_job (self, job);
}

void
cf_inbox_maybe_start_discovery (CfInbox *self)
{
  if (self->cancellable == NULL || self->discovery_job != NULL)
    return;
  if (self->want_full)
    {
      self->want_full = FALSE;
      self->want_discover = FALSE;
      start_discovery (self, TRUE);
    }
  else if (self->want_discover)
    {
      self->want_discover = FALSE;
      start_discovery (self, FALSE);
    }
}

void
cf_inbox_request_full (CfInbox *self)
{
  self->want_full = TRUE;
  cf_inbox_maybe_start_discovery (self);
}

static gboolean
on_discover_timer (gpointer user_data)
{
  CfInbox *self = user_data;

  self->discover_timer_id = 0;
  self->want_discover = TRUE;
  cf_inbox_maybe_start_discovery (self);
  return G_SOURCE_REMOVE;
}

void
cf_inbox_request_discover (CfInbox *self)
{
  if (self->cancellable != NULL && self->discover_timer_id == 0)
    self->discover_timer_id = cf_clock_timeout_add (self->timebase, DISCOVER_DELAY_MS,
                                                    on_discover_timer, self);
}


/* ---- watching for new projects ----------------------------------------- */

static void
on_projects_dir_changed (GFileMonitor *monitor, GFile *file, GFile *other,
                         GFileMonitorEvent event, gpointer user_data)
{
  g_autofree char *name = g_file_get_basename (file);

  if (name != NULL && name[0] == '.')
    return;
  cf_inbox_request_discover (CF_INBOX (user_data));
}

/* A watched would-be project: only the directories that make it one matter
 * (a busy repository without a queue must not cause discoveries). */
static void
on_candidate_changed (GFileMonitor *monitor, GFile *file, GFile *other,
                      GFileMonitorEvent event, gpointer user_data)
{
  g_autofree char *name = g_file_get_basename (file);
  g_autofree char *other_name = other != NULL ? g_file_get_basename (other) : NULL;

  if (g_strcmp0 (name, CF_TASKQ_QUEUE_DIR) == 0 || g_strcmp0 (name, "inbox") == 0 ||
      g_strcmp0 (other_name, CF_TASKQ_QUEUE_DIR) == 0 || g_strcmp0 (other_name, "inbox") == 0)
    cf_inbox_request_discover (CF_INBOX (user_data));
}

void
cf_inbox_drop_monitor (gpointer data)
{
  GFileMonitor *monitor = data;

  g_signal_handlers_disconnect_matched (monitor, G_SIGNAL_MATCH_FUNC, 0, 0, NULL,
                                        on_candidate_changed, NULL);
  g_file_monitor_cancel (monitor);
  g_object_unref (monitor);
}

static void
watch_candidates (CfInbox *self, GPtrArray *paths, gboolean capped)
{
  g_autoptr(GHashTable) wanted = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key;
  gboolean added = FALSE;

  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      g_autoptr(GFile) file = NULL;
      g_autoptr(GError) error = NULL;
      GFileMonitor *monitor;

      g_hash_table_add (wanted, (gpointer) path);
      if (g_hash_table_contains (self->candidates, path))
        continue;
      file = g_file_new_for_path (path);
      monitor = g_file_monitor_directory (file, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
      if (monitor == NULL)
        {
          g_debug ("inbox: cannot watch %s: %s", path, error->message);
          continue;
        }
      g_signal_connect (monitor, "changed", G_CALLBACK (on_candidate_changed), self);
      g_hash_table_insert (self->candidates, g_strdup (path), monitor);
      added = TRUE;
    }

  g_hash_table_iter_init (&iter, self->candidates);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (wanted, key))
      g_hash_table_iter_remove (&iter);

  if (capped && !self->capped_logged)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "CF_PROJECT", self->config->projects_dir,
                      "MESSAGE", "%s: more than %u directories without a queue; new projects "
                      "among the others are found by the periodic scan",
                      self->config->projects_dir, MAX_CANDIDATE_WATCHES);
  self->capped_logged = capped;

  /* What changed between the look and the new watches would go unseen. */
  if (added)
    cf_inbox_request_discover (self);
}

void
cf_inbox_watch_projects_dir (CfInbox *self)
{
  g_autofree char *path = cf_inbox_canonical_project (self->config->projects_dir);
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (path, self->dir_monitor_path) == 0 && (path == NULL || self->dir_monitor != NULL))
    return;
  if (self->dir_monitor != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->dir_monitor, self);
      g_file_monitor_cancel (self->dir_monitor);
      g_clear_object (&self->dir_monitor);
    }
  g_clear_pointer (&self->dir_monitor_path, g_free);
  if (path == NULL)
    return;
  file = g_file_new_for_path (path);
  self->dir_monitor = g_file_monitor_directory (file, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
  if (self->dir_monitor == NULL)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "CF_PROJECT", path,
                        "MESSAGE", "%s: cannot watch for new projects, relying on periodic "
                        "scans: %s", path, error->message);
      return;
    }
  g_signal_connect (self->dir_monitor, "changed", G_CALLBACK (on_projects_dir_changed), self);
  self->dir_monitor_path = g_steal_pointer (&path);
}
