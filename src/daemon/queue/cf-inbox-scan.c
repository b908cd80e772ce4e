/* SPDX-License-Identifier: MIT */
/* CfInbox's worker threads: listing inboxes (readdir + lstat of each task
 * and of its meta file, refused names moved to failed/), spread over a few
 * threads for a full scan, and reading task files (parse, refuse or defer
 * them). Nothing here touches the index: the results go back to the main
 * loop in the job (cf-inbox.c applies them). */
#include "cf-inbox-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf-delegate-route.h"
#include "cf-task.h"
#include "cf-taskq.h"

/* A full scan is mostly lstat system calls: spread over the cores. */
#define MAX_SCAN_THREADS 4
#define PROJECTS_PER_SCAN_THREAD 16

#define QUEUE_META_DIR "meta"

/* ---- scanning (worker thread) ------------------------------------------- */

static void
sighting_clear (Sighting *sighting)
{
  g_free (sighting->id);
}

static void
rejection_free (Rejection *rejection)
{
  g_free (rejection->name);
  g_free (rejection->reason);
  g_free (rejection);
}

static void
listing_free (Listing *listing)
{
  g_free (listing->project);
  g_array_unref (listing->sightings);
  g_ptr_array_unref (listing->rejections);
  g_free (listing);
}

void
cf_inbox_scan_job_free (ScanJob *job)
{
  g_clear_object (&job->cancellable);
  g_free (job->projects_dir);
  g_clear_pointer (&job->explicit_paths, g_ptr_array_unref);
  g_clear_pointer (&job->paths, g_ptr_array_unref);
  g_clear_pointer (&job->specs, g_ptr_array_unref);
  g_clear_pointer (&job->candidates, g_ptr_array_unref);
  g_clear_pointer (&job->failures, g_hash_table_unref);
  g_clear_pointer (&job->listings, g_ptr_array_unref);
  cf_clock_unref (job->timebase);
  g_free (job);
}

static gint64
mtime_usec (const struct stat *st)
{
  return (gint64) st->st_mtim.tv_sec * G_USEC_PER_SEC + st->st_mtim.tv_nsec / 1000;
}

static void
stat_meta (int meta_fd, const char *id, FileKey *key)
{
  char name[CF_TASK_ID_MAX_LENGTH + sizeof ".json"];
  struct stat st;

  key->meta_mtime = 0;
  key->meta_size = -1;
  key->meta_ino = 0;
  if (meta_fd < 0)
    return;
  g_snprintf (name, sizeof name, "%s.json", id);
  if (fstatat (meta_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode))
    {
      key->meta_mtime = mtime_usec (&st);
      key->meta_size = st.st_size;
      key->meta_ino = st.st_ino;
    }
}

static int
open_meta_dir (const char *project)
{
  g_autofree char *path = g_build_filename (project, CF_TASKQ_QUEUE_DIR, QUEUE_META_DIR, NULL);

  return open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The key of inbox/<id>.md now; FALSE when it is not a regular file there. */
static gboolean
read_key (const char *project, const char *id, FileKey *key)
{
  g_autofree char *path = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, id);
  struct stat st;
  int meta_fd;

  if (path == NULL || lstat (path, &st) < 0 || !S_ISREG (st.st_mode))
    return FALSE;
  key->mtime = mtime_usec (&st);
  key->size = st.st_size;
  meta_fd = open_meta_dir (project);
  stat_meta (meta_fd, id, key);
  if (meta_fd >= 0)
    close (meta_fd);
  return TRUE;
}

static Listing *
list_inbox (const char *project, CfClock *timebase)
{
  Listing *listing = g_new0 (Listing, 1);
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GPtrArray) rejected = NULL;
  g_autoptr(GError) error = NULL;
  int meta_fd;

  listing->project = g_strdup (project);
  listing->sightings = g_array_new (FALSE, FALSE, sizeof (Sighting));
  g_array_set_clear_func (listing->sightings, (GDestroyNotify) sighting_clear);
  listing->rejections = g_ptr_array_new_with_free_func ((GDestroyNotify) rejection_free);
  listing->begin_mono = cf_clock_now_monotonic (timebase);
  listing->begin_real = cf_clock_now_real (timebase);

  if (!cf_taskq_scan_inbox (project, &entries, &rejected, &error))
    {
      if (!g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                          "CF_PROJECT", project,
                          "MESSAGE", "cannot scan the inbox: %s", error->message);
      listing->end_mono = cf_clock_now_monotonic (timebase);
      return listing;
    }
  listing->ok = TRUE;

  meta_fd = open_meta_dir (project);
  for (guint i = 0; i < entries->len; i++)
    {
      CfTaskqEntry *entry = g_ptr_array_index (entries, i);
      Sighting *sighting;

      /* A remote job has it until it is finished: not waiting for a session. */
      if (entry->delegated)
        continue;
      g_array_set_size (listing->sightings, listing->sightings->len + 1);
      sighting = &g_array_index (listing->sightings, Sighting, listing->sightings->len - 1);
      sighting->id = g_steal_pointer (&entry->id);
      sighting->key.mtime = entry->mtime_usec;
      sighting->key.size = entry->size;
      stat_meta (meta_fd, sighting->id, &sighting->key);
    }
  if (meta_fd >= 0)
    close (meta_fd);

  for (guint i = 0; i < rejected->len; i++)
    {
      CfTaskqRejected *item = g_ptr_array_index (rejected, i);
      g_autoptr(GError) reject_error = NULL;
      Rejection *rejection;

      if (!cf_taskq_reject (project, item->name, item->reason, cf_clock_now_real (timebase),
                            &reject_error))
        {
          if (!g_error_matches (reject_error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
            g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                              "CF_PROJECT", project,
                              "MESSAGE", "cannot move a refused inbox file to failed/: %s",
                              reject_error->message);
          continue;
        }
      rejection = g_new0 (Rejection, 1);
      rejection->name = g_steal_pointer (&item->name);
      rejection->reason = g_steal_pointer (&item->reason);
      g_ptr_array_add (listing->rejections, rejection);
    }
  listing->end_mono = cf_clock_now_monotonic (timebase);
  return listing;
}

typedef struct {
  GPtrArray *paths;
  Listing **listings;          /* one slot per path */
  GCancellable *cancellable;
  CfClock *timebase;
  gint next;                   /* atomic: the next path to take */
} ListWork;

static gpointer
list_worker (gpointer data)
{
  ListWork *work = data;
  gint i;

  while ((i = g_atomic_int_add (&work->next, 1)) < (gint) work->paths->len)
    {
      if (g_cancellable_is_cancelled (work->cancellable))
        break;
      work->listings[i] = list_inbox (g_ptr_array_index (work->paths, i), work->timebase);
    }
  return NULL;
}

static GPtrArray *
list_inboxes (GPtrArray *paths, GCancellable *cancellable, CfClock *timebase)
{
  GPtrArray *listings = g_ptr_array_new_with_free_func ((GDestroyNotify) listing_free);
  ListWork work = { paths, NULL, cancellable, timebase, 0 };
  GThread *helpers[MAX_SCAN_THREADS - 1];
  guint n_helpers;

  if (paths == NULL || paths->len == 0)
    return listings;
  work.listings = g_new0 (Listing *, paths->len);
  n_helpers = MIN (MIN ((guint) g_get_num_processors (), MAX_SCAN_THREADS),
                   paths->len / PROJECTS_PER_SCAN_THREAD + 1) - 1;
  for (guint i = 0; i < n_helpers; i++)
    helpers[i] = g_thread_new ("cf-inbox-scan", list_worker, &work);
  list_worker (&work);
  for (guint i = 0; i < n_helpers; i++)
    g_thread_join (helpers[i]);

  for (guint i = 0; i < paths->len; i++)
    if (work.listings[i] != NULL)
      g_ptr_array_add (listings, work.listings[i]);
  g_free (work.listings);
  return listings;
}

void
cf_inbox_scan_in_thread (GTask *task, gpointer source, gpointer task_data,
                         GCancellable *cancellable)
{
  ScanJob *job = task_data;
  GPtrArray *paths = job->paths;
  g_autoptr(GPtrArray) spec_paths = NULL;

  if (job->discover)
    {
      cf_inbox_discover (job);
      if (job->scan_all)
        {
          spec_paths = g_ptr_array_new ();
          for (guint i = 0; i < job->specs->len; i++)
            g_ptr_array_add (spec_paths, ((ProjectSpec *) g_ptr_array_index (job->specs, i))->path);
          paths = spec_paths;
        }
    }

  job->listings = list_inboxes (paths, job->cancellable, job->timebase);
  g_task_return_boolean (task, TRUE);
}

/* ---- parsing (worker thread) ------------------------------------------- */

void
cf_inbox_parse_item_free (ParseItem *item)
{
  if (item == NULL)
    return;
  g_free (item->project);
  g_free (item->id);
  g_free (item->message);
  g_free (item);
}

void
cf_inbox_parse_job_free (ParseJob *job)
{
  g_clear_object (&job->cancellable);
  g_ptr_array_unref (job->items);
  g_free (job);
}

/* Problems of the file itself, which no retry would fix. */
static gboolean
is_refusal (const GError *error, const char *project, const char *id)
{
  if (error->domain == CF_TASK_ERROR)
    return TRUE;
  if (g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR) ||
      g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_TOO_LARGE))
    return TRUE;
  if (g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_FAILED))
    {
      g_autofree char *path = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, id);
      return access (path, R_OK) < 0 && (errno == EACCES || errno == EPERM);
    }
  return FALSE;
}

static void
parse_one (ParseItem *item)
{
  g_autoptr(CfTask) task = NULL;
  g_autoptr(CfTaskMeta) meta = NULL;
  g_autoptr(GError) error = NULL;
  FileKey now;

  if (!cf_taskq_read_task (item->project, item->id, &task, &error))
    {
      if (g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
        item->outcome = CF_READINESS_PARSE_GONE;
      else if (g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_WRITING))
        item->outcome = CF_READINESS_PARSE_WRITING;
      else if (!is_refusal (error, item->project, item->id))
        {
          item->outcome = CF_READINESS_PARSE_ERROR;
          item->message = g_strdup (error->message);
        }
      else if (!read_key (item->project, item->id, &now))
        item->outcome = CF_READINESS_PARSE_GONE;
      else if (now.mtime != item->key.mtime || now.size != item->key.size)
        /* A half-written file fails to parse; only one that stood still is refused. */
        item->outcome = CF_READINESS_PARSE_CHANGED;
      else if (error->domain == CF_TASK_ERROR && !item->may_refuse)
        item->outcome = CF_READINESS_PARSE_DEFERRED;
      else
        {
          g_autoptr(GError) reject_error = NULL;

          if (cf_taskq_reject (item->project, item->id, error->message, g_get_real_time (),
                               &reject_error))
            {
              item->outcome = CF_READINESS_PARSE_REJECTED;
              item->message = g_strdup (error->message);
            }
          else if (g_error_matches (reject_error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
            item->outcome = CF_READINESS_PARSE_GONE;
          else
            {
              item->outcome = CF_READINESS_PARSE_ERROR;
              item->message = g_strdup_printf ("%s; moving it to failed/ failed too: %s",
                                               error->message, reject_error->message);
            }
        }
      return;
    }

  if (!cf_taskq_read_meta (item->project, item->id, &meta, &error))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                      "CF_TASK", item->id,
                      "MESSAGE", "%s: %s", item->project, error->message);
  if (!read_key (item->project, item->id, &now))
    {
      item->outcome = CF_READINESS_PARSE_GONE;
      return;
    }
  if (!cf_readiness_key_equal (&now, &item->key))
    {
      item->outcome = CF_READINESS_PARSE_CHANGED;
      return;
    }
  item->outcome = CF_READINESS_PARSE_OK;
  item->priority = task->priority;
  item->provider = cf_delegate_route_task (task).provider;
  if (meta != NULL)
    {
      item->local_only = meta->local_only;
      item->attempts = meta->attempts;
      /* A requeue records no finish time: the move back ended the attempt. */
      if (meta->attempts > 0)
        item->last_attempt_end = MAX (meta->finished_at_usec, meta->updated_at_usec);
    }
}

void
cf_inbox_parse_in_thread (GTask *task, gpointer source, gpointer task_data,
                          GCancellable *cancellable)
{
  ParseJob *job = task_data;

  for (guint i = 0; i < job->items->len; i++)
    {
      if (g_cancellable_is_cancelled (job->cancellable))
        break;
      parse_one (g_ptr_array_index (job->items, i));
    }
  g_task_return_boolean (task, TRUE);
}
