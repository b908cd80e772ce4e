/* SPDX-License-Identifier: MIT */
/* ListTasks (ARCHITECTURE.md 4.4): every task of every project, answered
 * from a cache of what the queue directories showed, by one listing at a
 * time that every caller arriving meanwhile shares, in the queue's own
 * worker lane.
 *
 * The cache, per project and directory: the ids a readdir found, kept
 * while the directory's inode, mtime and ctime stay the same and no move
 * of this process happened (taskq_generation); and per task file its
 * title, kept while the file's inode, size, mtime and ctime stay the same.
 * So a call re-reads only directories that changed and parses only files
 * that changed; the ever-growing done/ costs one lstat per file. A
 * directory or file changed within RACY_USEC of its reading is read again
 * next time: a change in the same timestamp tick would not show in its
 * times. The reply is exactly what reading everything would give. */
#include "cf-taskq-async.h"
#include "cf-taskq-private.h"

#include <errno.h>
#include <string.h>

/* Longer than any file system's timestamp granularity (FAT: 2 s). */
#define RACY_USEC (2 * G_USEC_PER_SEC)

static gint generation;         /* atomic; only compared for equality */

void
taskq_changed (const char *project)
{
  (void) project;
  g_atomic_int_inc (&generation);
}

guint64
taskq_generation (void)
{
  return (guint) g_atomic_int_get (&generation);
}

/* --- The cache (worker side) ------------------------------------------------------- */

typedef struct {
  dev_t dev;
  ino_t ino;
  gint64 mtime_ns;
  gint64 ctime_ns;
  goffset size;
} Stamp;

typedef struct {
  Stamp stamp;
  char *title;
} CachedFile;

typedef struct {
  gboolean valid;
  Stamp stamp;
  guint64 generation;
  GPtrArray *ids;              /* char*, sorted (cf_taskq_list) */
  GHashTable *files;           /* id → CachedFile* */
} CachedDir;

typedef struct {
  CachedDir dirs[G_N_ELEMENTS (taskq_task_places)];
} CachedProject;

G_LOCK_DEFINE_STATIC (cache);
static GHashTable *cache;       /* project → CachedProject* */
static TaskqListStats stats;    /* under the cache lock */

static void
cached_file_free (CachedFile *file)
{
  g_free (file->title);
  g_free (file);
}

static void
cached_project_free (CachedProject *project)
{
  for (guint i = 0; i < G_N_ELEMENTS (project->dirs); i++)
    {
      g_clear_pointer (&project->dirs[i].ids, g_ptr_array_unref);
      g_clear_pointer (&project->dirs[i].files, g_hash_table_unref);
    }
  g_free (project);
}

static void
stamp_of (const struct stat *st, Stamp *out)
{
  out->dev = st->st_dev;
  out->ino = st->st_ino;
  out->mtime_ns = (gint64) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
  out->ctime_ns = (gint64) st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
  out->size = st->st_size;
}

static gboolean
stamp_equal (const Stamp *a, const Stamp *b)
{
  return a->dev == b->dev && a->ino == b->ino && a->mtime_ns == b->mtime_ns &&
         a->ctime_ns == b->ctime_ns && a->size == b->size;
}

/* Changed so recently that a further change may not move its mtime. (A
 * change always sets the mtime to "now": an older one cannot stay.) */
static gboolean
stamp_is_racy (const Stamp *stamp, gint64 read_at_usec)
{
  return stamp->mtime_ns / 1000 > read_at_usec - RACY_USEC;
}

void
taskq_list_stats (TaskqListStats *out)
{
  G_LOCK (cache);
  *out = stats;
  G_UNLOCK (cache);
}

/* The ids in DIR's place, from the cache while the directory is as it
 * was; NULL when it cannot be read (the place is left out, as before). */
static GPtrArray *
list_place (const char *project, CfTaskPlace place, CachedDir *dir)
{
  g_autofree char *path = taskq_place_dir (project, place);
  guint64 now_generation = taskq_generation ();
  gint64 read_at = g_get_real_time ();
  struct stat st;
  Stamp stamp;
  GPtrArray *ids = NULL;

  if (stat (path, &st) < 0)
    {
      dir->valid = FALSE;
      return NULL;
    }
  stamp_of (&st, &stamp);
  if (dir->valid && dir->generation == now_generation && stamp_equal (&dir->stamp, &stamp))
    return g_ptr_array_ref (dir->ids);

  stats.dir_reads++;
  if (!cf_taskq_list (project, place, &ids, NULL))
    {
      dir->valid = FALSE;
      return NULL;
    }
  g_clear_pointer (&dir->ids, g_ptr_array_unref);
  dir->ids = g_ptr_array_ref (ids);
  dir->stamp = stamp;
  dir->generation = now_generation;
  dir->valid = !stamp_is_racy (&stamp, read_at);
  return ids;
}

static char *
title_of (const char *project, CfTaskPlace place, const char *id, const char *path,
          CachedDir *dir, GHashTable *files, gint64 *out_mtime_usec)
{
  g_autoptr(CfTask) parsed = NULL;
  g_autoptr(GError) error = NULL;
  CachedFile *cached = dir->files != NULL ? g_hash_table_lookup (dir->files, id) : NULL;
  gint64 read_at = g_get_real_time ();
  char *title;
  struct stat st;
  Stamp stamp;
  gboolean have_stamp = path != NULL && lstat (path, &st) == 0;

  if (have_stamp)
    {
      stamp_of (&st, &stamp);
      *out_mtime_usec = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
      if (cached != NULL && stamp_equal (&cached->stamp, &stamp) &&
          !stamp_is_racy (&stamp, read_at))
        {
          gpointer key = NULL;

          g_hash_table_steal_extended (dir->files, id, &key, NULL);
          g_hash_table_insert (files, key, cached);
          return g_strdup (cached->title);
        }
    }

  stats.files_parsed++;
  if (cf_taskq_read_task_in (project, place, id, &parsed, &error))
    title = g_strdup (parsed->title);
  else
    title = g_strdup (id);
  /* A file still being written says nothing yet about its title. */
  if (have_stamp && !g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_WRITING))
    {
      CachedFile *file = g_new0 (CachedFile, 1);

      file->stamp = stamp;
      file->title = g_strdup (title);
      g_hash_table_insert (files, g_strdup (id), file);
    }
  return title;
}

/* Every task of PROJECTS, as ListTasks answers: by project, place, id. */
static GPtrArray *
list_all (GPtrArray *projects)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) cf_task_listing_free);
  g_autoptr(GHashTable) kept = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                      (GDestroyNotify) cached_project_free);

  G_LOCK (cache);
  if (cache == NULL)
    cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                   (GDestroyNotify) cached_project_free);
  stats.runs++;
  for (guint i = 0; i < projects->len; i++)
    {
      const char *project = g_ptr_array_index (projects, i);
      gpointer key = NULL;
      CachedProject *cached = NULL;

      if (g_hash_table_contains (kept, project))
        continue;
      if (!g_hash_table_steal_extended (cache, project, &key, (gpointer *) &cached))
        {
          cached = g_new0 (CachedProject, 1);
          key = g_strdup (project);
        }
      g_hash_table_insert (kept, key, cached);
    }
  for (guint i = 0; i < projects->len; i++)
    {
      const char *project = g_ptr_array_index (projects, i);
      CachedProject *cached = g_hash_table_lookup (kept, project);

      for (guint p = 0; p < G_N_ELEMENTS (taskq_task_places); p++)
        {
          CfTaskPlace place = taskq_task_places[p];
          CachedDir *dir = &cached->dirs[p];
          g_autoptr(GPtrArray) ids = list_place (project, place, dir);
          g_autoptr(GHashTable) files = NULL;

          if (ids == NULL)
            continue;
          files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) cached_file_free);
          for (guint k = 0; k < ids->len; k++)
            {
              const char *id = g_ptr_array_index (ids, k);
              g_autofree char *path = cf_taskq_task_path (project, place, id);
              CfTaskListing *listing = g_new0 (CfTaskListing, 1);

              listing->project = g_strdup (project);
              listing->id = g_strdup (id);
              listing->place = place;
              listing->title = title_of (project, place, id, path, dir, files,
                                         &listing->mtime_usec);
              g_ptr_array_add (out, listing);
            }
          /* Files that are gone drop out of the cache with the old table. */
          g_clear_pointer (&dir->files, g_hash_table_unref);
          dir->files = g_steal_pointer (&files);
        }
    }
  /* Projects no longer listed drop out of the cache. */
  g_hash_table_unref (cache);
  cache = g_steal_pointer (&kept);
  G_UNLOCK (cache);
  return g_steal_pointer (&out);
}

/* --- Merged calls (main-loop side) ------------------------------------------------ */

/* A listing and the callers waiting for it. A caller joins the listing
 * running when it asks for the same projects and no move happened since
 * that listing began (so its answer includes every move the caller could
 * know of); otherwise the next listing, which starts when the running one
 * ends, shared by everyone who arrives in between. */
typedef struct {
  GPtrArray *projects;         /* char* */
  guint64 generation;          /* taskq_generation () when it began */
  GPtrArray *waiters;          /* GTask* */
} Run;

static Run *running;
static Run *next_run;

static void
run_free (Run *run)
{
  g_ptr_array_unref (run->projects);
  g_ptr_array_unref (run->waiters);
  g_free (run);
}

static Run *
run_new (GPtrArray *projects)
{
  Run *run = g_new0 (Run, 1);

  run->projects = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < projects->len; i++)
    g_ptr_array_add (run->projects, g_strdup (g_ptr_array_index (projects, i)));
  run->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  return run;
}

static gboolean
same_projects (const Run *run, GPtrArray *projects)
{
  if (run->projects->len != projects->len)
    return FALSE;
  for (guint i = 0; i < projects->len; i++)
    if (strcmp (g_ptr_array_index (run->projects, i), g_ptr_array_index (projects, i)) != 0)
      return FALSE;
  return TRUE;
}

static void
list_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Run *run = data;

  g_task_return_pointer (task, list_all (run->projects), (GDestroyNotify) g_ptr_array_unref);
}

static void run_start (Run *run);

static void
on_run_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) listings = g_task_propagate_pointer (G_TASK (result), &error);

  for (guint i = 0; i < run->waiters->len; i++)
    {
      GTask *waiter = g_ptr_array_index (run->waiters, i);

      if (listings != NULL)
        g_task_return_pointer (waiter, g_ptr_array_ref (listings),
                               (GDestroyNotify) g_ptr_array_unref);
      else
        g_task_return_error (waiter, g_error_copy (error));
    }
  if (run == running)
    {
      running = g_steal_pointer (&next_run);
      if (running != NULL)
        run_start (running);
    }
  run_free (run);
}

static void
run_start (Run *run)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, on_run_done, run);

  run->generation = taskq_generation ();
  g_task_set_source_tag (task, run_start);
  g_task_set_task_data (task, run, NULL);
  taskq_run_in_pool (task, list_in_thread, TASKQ_LANE_LIST);
}

void
cf_taskq_list_all_async (GPtrArray *projects, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  Run *run;

  g_task_set_source_tag (task, cf_taskq_list_all_async);
  if (running != NULL && same_projects (running, projects) &&
      running->generation == taskq_generation ())
    run = running;
  else if (next_run != NULL && same_projects (next_run, projects))
    run = next_run;
  else if (running == NULL)
    {
      run = running = run_new (projects);
      run_start (run);
    }
  else if (next_run == NULL)
    run = next_run = run_new (projects);
  else
    {
      /* A third set of projects at once: its own listing, not merged. */
      run = run_new (projects);
      run_start (run);
    }
  g_ptr_array_add (run->waiters, task);
}

GPtrArray *
cf_taskq_list_all_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
cf_task_listing_free (CfTaskListing *listing)
{
  g_free (listing->project);
  g_free (listing->id);
  g_free (listing->title);
  g_free (listing);
}
