/* SPDX-License-Identifier: MIT */
#include "cf-inbox.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf-delegate-route.h"
#include "cf-readiness.h"
#include "cf-task.h"
#include "cf-taskq.h"

/* Readiness (see the header): the rules are cf-readiness.c's. */
#define READINESS (&cf_readiness_config_default)

#define MIN_FULL_SCAN_USEC G_TIME_SPAN_SECOND
/* Events on projects.dir come in bursts (mkdir -p, git clone). */
#define DISCOVER_DELAY_MS 50
/* Parsing is split so the first tasks are listed before the last ones are
 * read, and so both cores work on a large first scan. */
#define PARSE_CHUNK 256
#define MAX_CANDIDATE_WATCHES 1000
/* A full scan is mostly lstat system calls: spread over the cores. */
#define MAX_SCAN_THREADS 4
#define PROJECTS_PER_SCAN_THREAD 16

#define QUEUE_META_DIR "meta"

/* What the cache compares (the task file's and its meta file's). */
typedef CfReadinessKey FileKey;

/* One "<id>.md" of an inbox. Its readiness (scan clock, events, parse
 * cache) is a CfReadiness that only cf_readiness_step () changes: the
 * scan clock orders scans and events (see cf-readiness.h). */
typedef struct _Project Project;

typedef struct {
  Project *project;
  char *id;
  CfReadiness readiness;

  CfPriority priority;
  guint attempts;
  gint64 last_attempt_end;
  const char *provider;        /* static, from cf_delegate_route */
  gboolean local_only;

  gboolean counted;            /* in the pending count */
  gboolean listed;             /* in cf_inbox_list_pending */
  gboolean routed;             /* listed, and its frontmatter names a remote provider */
  GSequenceIter *queued;       /* its place in project->queue while listed */
  CfPriority queued_priority;  /* the sort key it was queued with */
  gint64 queued_mtime;
} Entry;

struct _CfInbox {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  GCancellable *cancellable;   /* non-NULL while started */

  GHashTable *projects;        /* path → Project* */
  GHashTable *candidates;      /* directory path → GFileMonitor* (future projects) */
  GFileMonitor *dir_monitor;   /* projects.dir */
  char *dir_monitor_path;
  GHashTable *warned;          /* explicit projects whose failure was logged */
  gboolean capped_logged;

  guint64 clock;
  gpointer discovery_job;      /* the discovery in flight, NULL = none */
  gboolean want_full;
  gboolean want_discover;
  guint discover_timer_id;
  guint full_timer_id;
  guint scan_idle_id;
  guint flush_id;
  gboolean emit_available;

  guint pending;
  guint routed;                /* entries routed */
  guint64 scans;
  guint64 parses;
};

struct _Project {
  CfInbox *inbox;
  char *path;
  GFile *inbox_dir;
  gboolean explicit;
  GFileMonitor *monitor;
  GHashTable *entries;         /* id → Entry* */
  GSequence *queue;            /* the listed entries in queue order (queue_compare) */
  guint64 applied_clock;       /* of the newest scan applied */
  gpointer scan_job;           /* this project's own scan in flight */
  gboolean scan_wanted;
  guint settle_id;
  gint64 settle_due;
};

enum {
  SIGNAL_TASKS_AVAILABLE,
  SIGNAL_TASK_REJECTED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfInbox, cf_inbox, G_TYPE_OBJECT)

static void request_scan (Project *project, gint64 delay_usec);
static void request_discover (CfInbox *self);
static void request_full (CfInbox *self);

static void
log_task (GLogLevelFlags level, const char *project, const char *id, const char *text)
{
  g_log_structured (G_LOG_DOMAIN, level,
                    "CF_TASK", id,
                    "CF_PROJECT", project,
                    "MESSAGE", "%s: %s: %s", project, id, text);
}

void
cf_inbox_task_free (CfInboxTask *task)
{
  if (task == NULL)
    return;
  g_free (task->project);
  g_free (task->id);
  g_free (task);
}

/* "x.md" names the inbox can hold a task under; the rest is never ours
 * (cf_taskq_scan_inbox applies the same rule). */
static char *
candidate_id (GFile *file)
{
  g_autofree char *name = g_file_get_basename (file);
  gsize n = name != NULL ? strlen (name) : 0;

  if (n <= 3 || name[0] == '.' || strcmp (name + n - 3, ".md") != 0)
    return NULL;
  name[n - 3] = '\0';
  return g_steal_pointer (&name);
}

/* ---- the pending count and the "tasks-available" signal --------------- */

static gboolean
flush (gpointer user_data)
{
  CfInbox *self = user_data;

  self->flush_id = 0;
  cf_state_set_pending_tasks (self->state, self->pending);
  if (self->emit_available)
    {
      self->emit_available = FALSE;
      g_signal_emit (self, signals[SIGNAL_TASKS_AVAILABLE], 0);
    }
  return G_SOURCE_REMOVE;
}

static void
schedule_flush (CfInbox *self)
{
  if (self->flush_id == 0)
    self->flush_id = g_idle_add (flush, self);
}

/* A project's queue order: priority, then age (mtime), then id; the order
 * cf_schedule_pick uses between two tasks of one project. It reads the key
 * an entry was queued with, which later changes cannot disturb. */
static int
queue_compare (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const Entry *x = a;
  const Entry *y = b;

  if (x->queued_priority != y->queued_priority)
    return x->queued_priority < y->queued_priority ? -1 : 1;
  if (x->queued_mtime != y->queued_mtime)
    return x->queued_mtime < y->queued_mtime ? -1 : 1;
  return strcmp (x->id, y->id);
}

static void
entry_unqueue (Entry *entry)
{
  if (entry->queued != NULL)
    g_sequence_remove (entry->queued);
  entry->queued = NULL;
}

/* Keeps the entry's place in its project's queue in step with LISTED and
 * with its priority and mtime. */
static void
entry_requeue (Entry *entry, gboolean listed)
{
  if (entry->queued != NULL &&
      (!listed || entry->queued_priority != entry->priority ||
       entry->queued_mtime != entry->readiness.key.mtime))
    entry_unqueue (entry);
  if (listed && entry->queued == NULL)
    {
      entry->queued_priority = entry->priority;
      entry->queued_mtime = entry->readiness.key.mtime;
      entry->queued = g_sequence_insert_sorted (entry->project->queue, entry, queue_compare, NULL);
    }
}

/* Recomputes what follows from an entry's state; call after each change. */
static void
entry_refresh (CfInbox *self, Entry *entry)
{
  gboolean counted = cf_readiness_counted (&entry->readiness);
  gboolean listed = cf_readiness_listed (&entry->readiness);
  gboolean routed = listed && entry->provider != NULL;

  if (counted != entry->counted)
    {
      self->pending += counted ? 1 : (guint) -1;
      entry->counted = counted;
      schedule_flush (self);
    }
  if (listed && !entry->listed)
    {
      self->emit_available = TRUE;
      schedule_flush (self);
    }
  entry->listed = listed;
  if (routed != entry->routed)
    self->routed += routed ? 1 : (guint) -1;
  entry->routed = routed;
  entry_requeue (entry, listed);
}

/* Feeds EVENT (its "now" and clock filled in here) to ENTRY's state
 * machine; ENTRY may be NULL (no such entry). Scans of PROJECT the result
 * asks for are requested after the caller refreshed the entry: see
 * request_result_scans (). */
static CfReadinessResult
entry_step (CfInbox *self, Entry *entry, CfReadinessEvent *event)
{
  event->now = g_get_monotonic_time ();
  if (event->type != CF_READINESS_EVENT_SCAN_SEEN && event->type != CF_READINESS_EVENT_SCAN_END)
    event->clock = self->clock;
  return cf_readiness_step (entry != NULL ? &entry->readiness : NULL, event, READINESS);
}

static void
request_result_scans (Project *project, const CfReadinessEvent *event,
                      const CfReadinessResult *result)
{
  if (result->actions & CF_READINESS_ACTION_SCAN)
    request_scan (project, 0);
  if (result->actions & CF_READINESS_ACTION_SCAN_LATER)
    request_scan (project, result->deadline - event->now);
}

static Entry *
entry_new (Project *project, const char *id)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->project = project;
  entry->id = g_strdup (id);
  return entry;
}

static void
entry_free (Entry *entry)
{
  entry_unqueue (entry);
  g_free (entry->id);
  g_free (entry);
}

/* ---- projects ----------------------------------------------------------- */

static void
project_free (Project *project)
{
  CfInbox *self = project->inbox;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, project->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Entry *entry = value;
      CfReadinessEvent event = { .type = CF_READINESS_EVENT_UNWATCHED };

      entry_step (self, entry, &event);
      entry_refresh (self, entry);
    }
  if (project->monitor != NULL)
    {
      g_signal_handlers_disconnect_by_data (project->monitor, project);
      g_file_monitor_cancel (project->monitor);
      g_object_unref (project->monitor);
    }
  g_clear_handle_id (&project->settle_id, g_source_remove);
  g_hash_table_unref (project->entries);
  g_sequence_free (project->queue);
  g_object_unref (project->inbox_dir);
  g_free (project->path);
  g_free (project);
}

static Entry *
ensure_entry (Project *project, const char *id)
{
  Entry *entry = g_hash_table_lookup (project->entries, id);

  if (entry == NULL)
    {
      entry = entry_new (project, id);
      g_hash_table_insert (project->entries, entry->id, entry);
    }
  return entry;
}

/* A file entered the inbox under this name (MOVED: moved in or renamed) or
 * was closed after writing: it is complete, and the cache says nothing
 * about it. */
static void
note_complete (Project *project, const char *id, gboolean moved)
{
  CfInbox *self = project->inbox;
  Entry *entry = ensure_entry (project, id);
  CfReadinessEvent event = { .type = CF_READINESS_EVENT_COMPLETE, .moved = moved };
  CfReadinessResult result = entry_step (self, entry, &event);

  entry_refresh (self, entry);
  request_result_scans (project, &event, &result);
}

static void
note_writing (Project *project, const char *id)
{
  CfInbox *self = project->inbox;
  Entry *entry = ensure_entry (project, id);
  CfReadinessEvent event = { .type = CF_READINESS_EVENT_WRITING };
  CfReadinessResult result = entry_step (self, entry, &event);

  entry_refresh (self, entry);
  request_result_scans (project, &event, &result);
}

static void
note_left (Project *project, const char *id)
{
  CfInbox *self = project->inbox;
  Entry *entry = g_hash_table_lookup (project->entries, id);
  CfReadinessEvent event = { .type = CF_READINESS_EVENT_LEFT };

  if (entry == NULL)
    return;
  entry_step (self, entry, &event);
  entry_refresh (self, entry);
}

static void
on_inbox_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                  gpointer user_data)
{
  Project *project = user_data;
  CfInbox *self = project->inbox;
  g_autofree char *id = NULL;
  g_autofree char *other_id = NULL;

  if (g_file_equal (file, project->inbox_dir) ||
      event == G_FILE_MONITOR_EVENT_PRE_UNMOUNT || event == G_FILE_MONITOR_EVENT_UNMOUNTED)
    {
      request_discover (self);
      return;
    }

  id = candidate_id (file);
  if (event == G_FILE_MONITOR_EVENT_RENAMED && other != NULL)
    other_id = candidate_id (other);
  if (id == NULL && other_id == NULL)
    return;
  /* A name that is not a task id is the scan's to reject. */
  if ((id != NULL && !cf_task_id_is_valid (id)) ||
      (other_id != NULL && !cf_task_id_is_valid (other_id)))
    {
      request_scan (project, 0);
      if (id != NULL && !cf_task_id_is_valid (id))
        g_clear_pointer (&id, g_free);
      if (other_id != NULL && !cf_task_id_is_valid (other_id))
        g_clear_pointer (&other_id, g_free);
    }

  switch (event)
    {
    case G_FILE_MONITOR_EVENT_RENAMED:
      if (id != NULL)
        note_left (project, id);
      if (other_id != NULL)
        note_complete (project, other_id, TRUE);
      break;
    case G_FILE_MONITOR_EVENT_MOVED_IN:
      if (id != NULL)
        note_complete (project, id, TRUE);
      break;
    case G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT:
      if (id != NULL)
        note_complete (project, id, FALSE);
      break;
    case G_FILE_MONITOR_EVENT_MOVED_OUT:
    case G_FILE_MONITOR_EVENT_DELETED:
      if (id != NULL)
        note_left (project, id);
      break;
    case G_FILE_MONITOR_EVENT_CREATED:
    case G_FILE_MONITOR_EVENT_CHANGED:
      if (id != NULL)
        note_writing (project, id);
      break;
    case G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED:
      /* touch changes the mtime; chmod may make an unreadable file readable. */
      {
        Entry *entry = id != NULL ? g_hash_table_lookup (project->entries, id) : NULL;
        CfReadinessEvent step = { .type = CF_READINESS_EVENT_ATTRIBUTES };
        CfReadinessResult result = entry_step (self, entry, &step);

        request_result_scans (project, &step, &result);
      }
      break;
    default:
      break;
    }
}

static Project *
project_new (CfInbox *self, const char *path, gboolean explicit)
{
  Project *project = g_new0 (Project, 1);
  g_autofree char *inbox_path = g_build_filename (path, CF_TASKQ_QUEUE_DIR, "inbox", NULL);
  g_autoptr(GError) error = NULL;

  project->inbox = self;
  project->path = g_strdup (path);
  project->explicit = explicit;
  project->inbox_dir = g_file_new_for_path (inbox_path);
  project->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) entry_free);
  project->queue = g_sequence_new (NULL);
  project->monitor = g_file_monitor_directory (project->inbox_dir, G_FILE_MONITOR_WATCH_MOVES,
                                               NULL, &error);
  if (project->monitor == NULL)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "CF_PROJECT", path,
                      "MESSAGE", "%s: cannot watch the inbox, relying on periodic scans: %s",
                      inbox_path, error->message);
  else
    g_signal_connect (project->monitor, "changed", G_CALLBACK (on_inbox_changed), project);
  return project;
}

/* ---- scanning (worker thread) ------------------------------------------- */

typedef struct {
  char *id;
  FileKey key;
} Sighting;

typedef struct {
  char *name;
  char *reason;
} Rejection;

typedef struct {
  char *project;
  gboolean ok;                 /* the inbox could be listed */
  GArray *sightings;           /* Sighting */
  GPtrArray *rejections;       /* Rejection* */
  gint64 begin_mono;
  gint64 end_mono;
  gint64 begin_real;
} Listing;

typedef struct {
  char *path;
  gboolean explicit;
} ProjectSpec;

typedef struct {
  GCancellable *cancellable;
  guint64 clock;
  gboolean discover;
  gboolean scan_all;           /* scan every discovered project: a full scan */
  char *projects_dir;
  gboolean allow_other_owners; /* projects.allow_other_owners */
  GPtrArray *explicit_paths;   /* char* */
  GPtrArray *paths;            /* char*: projects to scan when not discovering */

  GPtrArray *specs;            /* ProjectSpec*, when discovering */
  GPtrArray *candidates;       /* char*: directories that may become projects */
  gboolean capped;
  GHashTable *failures;        /* unusable project → message */
  GPtrArray *listings;         /* Listing* */
} ScanJob;

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

static void
project_spec_free (ProjectSpec *spec)
{
  g_free (spec->path);
  g_free (spec);
}

static void
scan_job_free (ScanJob *job)
{
  g_clear_object (&job->cancellable);
  g_free (job->projects_dir);
  g_clear_pointer (&job->explicit_paths, g_ptr_array_unref);
  g_clear_pointer (&job->paths, g_ptr_array_unref);
  g_clear_pointer (&job->specs, g_ptr_array_unref);
  g_clear_pointer (&job->candidates, g_ptr_array_unref);
  g_clear_pointer (&job->failures, g_hash_table_unref);
  g_clear_pointer (&job->listings, g_ptr_array_unref);
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
list_inbox (const char *project)
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
  listing->begin_mono = g_get_monotonic_time ();
  listing->begin_real = g_get_real_time ();

  if (!cf_taskq_scan_inbox (project, &entries, &rejected, &error))
    {
      if (!g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                          "CF_PROJECT", project,
                          "MESSAGE", "cannot scan the inbox: %s", error->message);
      listing->end_mono = g_get_monotonic_time ();
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

      if (!cf_taskq_reject (project, item->name, item->reason, g_get_real_time (), &reject_error))
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
  listing->end_mono = g_get_monotonic_time ();
  return listing;
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

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
discover (ScanJob *job)
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
      g_ptr_array_sort (names, compare_strings);

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

typedef struct {
  GPtrArray *paths;
  Listing **listings;          /* one slot per path */
  GCancellable *cancellable;
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
      work->listings[i] = list_inbox (g_ptr_array_index (work->paths, i));
    }
  return NULL;
}

static GPtrArray *
list_inboxes (GPtrArray *paths, GCancellable *cancellable)
{
  GPtrArray *listings = g_ptr_array_new_with_free_func ((GDestroyNotify) listing_free);
  ListWork work = { paths, NULL, cancellable, 0 };
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

static void
scan_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  ScanJob *job = task_data;
  GPtrArray *paths = job->paths;
  g_autoptr(GPtrArray) spec_paths = NULL;

  if (job->discover)
    {
      discover (job);
      if (job->scan_all)
        {
          spec_paths = g_ptr_array_new ();
          for (guint i = 0; i < job->specs->len; i++)
            g_ptr_array_add (spec_paths, ((ProjectSpec *) g_ptr_array_index (job->specs, i))->path);
          paths = spec_paths;
        }
    }

  job->listings = list_inboxes (paths, job->cancellable);
  g_task_return_boolean (task, TRUE);
}

/* ---- parsing (worker thread) ------------------------------------------- */

/* CF_READINESS_PARSE_REJECTED: MESSAGE = reason; CF_READINESS_PARSE_ERROR: MESSAGE says why. */
typedef CfReadinessParse ParseOutcome;

typedef struct {
  char *project;
  char *id;
  FileKey key;
  gboolean may_refuse;         /* else a content error is CF_READINESS_PARSE_DEFERRED */
  ParseOutcome outcome;
  CfPriority priority;
  guint attempts;
  gint64 last_attempt_end;
  const char *provider;
  gboolean local_only;
  char *message;
} ParseItem;

typedef struct {
  GCancellable *cancellable;
  GPtrArray *items;            /* ParseItem* */
} ParseJob;

static void
parse_item_free (ParseItem *item)
{
  if (item == NULL)
    return;
  g_free (item->project);
  g_free (item->id);
  g_free (item->message);
  g_free (item);
}

static void
parse_job_free (ParseJob *job)
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

static void
parse_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
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

/* ---- applying results (main loop) -------------------------------------- */

static void
on_parsed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CfInbox *self = CF_INBOX (source);
  ParseJob *job = g_task_get_task_data (G_TASK (result));

  if (g_cancellable_is_cancelled (job->cancellable))
    return;

  for (guint i = 0; i < job->items->len; i++)
    {
      ParseItem *item = g_ptr_array_index (job->items, i);
      Project *project = g_hash_table_lookup (self->projects, item->project);
      Entry *entry = project != NULL ? g_hash_table_lookup (project->entries, item->id) : NULL;
      CfReadinessEvent event = {
        .type = CF_READINESS_EVENT_PARSED, .key = item->key, .outcome = item->outcome,
      };
      CfReadinessResult step = entry_step (self, entry, &event);

      if (step.actions & CF_READINESS_ACTION_STORE)
        {
          entry->priority = item->priority;
          entry->attempts = item->attempts;
          entry->last_attempt_end = item->last_attempt_end;
          entry->provider = item->provider;
          entry->local_only = item->local_only;
        }
      if (step.actions & CF_READINESS_ACTION_LOG_FAILURE)
        {
          g_autofree char *text = g_strdup_printf ("cannot read the task, will retry: %s",
                                                   item->message);
          log_task (G_LOG_LEVEL_WARNING, item->project, item->id, text);
        }

      switch (item->outcome)
        {
        case CF_READINESS_PARSE_OK:
        case CF_READINESS_PARSE_WRITING:
        case CF_READINESS_PARSE_DEFERRED:
          if (step.actions & (CF_READINESS_ACTION_STORE | CF_READINESS_ACTION_SCAN_LATER))
            entry_refresh (self, entry);
          break;

        case CF_READINESS_PARSE_REJECTED:
          {
            g_autofree char *name = g_strconcat (item->id, ".md", NULL);

            log_task (G_LOG_LEVEL_WARNING, item->project, item->id, item->message);
            if (entry != NULL)
              entry_refresh (self, entry);
            g_signal_emit (self, signals[SIGNAL_TASK_REJECTED], 0, item->project, name,
                           item->message);
          }
          break;

        case CF_READINESS_PARSE_CHANGED:
        case CF_READINESS_PARSE_GONE:
        case CF_READINESS_PARSE_ERROR:
          break;
        }
      if (project != NULL)
        request_result_scans (project, &event, &step);
    }
}

static void
start_parse (CfInbox *self, GPtrArray *items)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, on_parsed, NULL);
  ParseJob *job = g_new0 (ParseJob, 1);

  job->cancellable = g_object_ref (self->cancellable);
  job->items = g_ptr_array_ref (items);
  self->parses += items->len;
  g_task_set_source_tag (task, start_parse);
  g_task_set_task_data (task, job, (GDestroyNotify) parse_job_free);
  g_task_run_in_thread (task, parse_in_thread);
}

/* Adds PROJECT's entries that need reading to *BATCH. */
static void
queue_parses (CfInbox *self, Project *project, GPtrArray **batch)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, project->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Entry *entry = value;
      CfReadinessEvent event = { .type = CF_READINESS_EVENT_READ_WANTED,
                                 .now_real = g_get_real_time () };
      CfReadinessResult step = entry_step (self, entry, &event);
      ParseItem *item;

      if (!(step.actions & CF_READINESS_ACTION_READ))
        continue;
      item = g_new0 (ParseItem, 1);
      item->project = g_strdup (project->path);
      item->id = g_strdup (entry->id);
      item->key = entry->readiness.key;
      item->may_refuse = (step.actions & CF_READINESS_ACTION_MAY_REFUSE) != 0;
      if (*batch == NULL)
        *batch = g_ptr_array_new_with_free_func ((GDestroyNotify) parse_item_free);
      g_ptr_array_add (*batch, item);
    }
}

/* Sends *BATCH to worker threads in chunks, once the main loop is done
 * with the scan (they would only compete with it for the cores). */
static void
flush_parses (CfInbox *self, GPtrArray **batch)
{
  GPtrArray *items = *batch;

  for (guint start = 0; items != NULL && start < items->len; start += PARSE_CHUNK)
    {
      guint end = MIN (start + PARSE_CHUNK, items->len);
      g_autoptr(GPtrArray) chunk = g_ptr_array_new_full (end - start,
                                                         (GDestroyNotify) parse_item_free);

      for (guint i = start; i < end; i++)
        g_ptr_array_add (chunk, g_steal_pointer (&items->pdata[i]));
      start_parse (self, chunk);
    }
  g_clear_pointer (batch, g_ptr_array_unref);
}

static void
reconcile (CfInbox *self, Project *project, Listing *listing, guint64 clock, gboolean full,
           GPtrArray **batch)
{
  GHashTableIter iter;
  gpointer value;
  gboolean unsettled = FALSE;

  if (clock < project->applied_clock)
    return;                    /* a newer scan of this inbox was applied already */
  project->applied_clock = clock;
  if (!listing->ok)
    request_discover (self);

  for (guint i = 0; i < listing->sightings->len; i++)
    {
      Sighting *sighting = &g_array_index (listing->sightings, Sighting, i);
      Entry *entry = g_hash_table_lookup (project->entries, sighting->id);

      CfReadinessEvent event = {
        .type = CF_READINESS_EVENT_SCAN_SEEN, .clock = clock, .full = full,
        .key = sighting->key, .scan_begin = listing->begin_mono,
        .scan_end = listing->end_mono, .scan_begin_real = listing->begin_real,
      };

      if (entry == NULL)
        {
          entry = entry_new (project, sighting->id);
          g_hash_table_insert (project->entries, entry->id, entry);
        }
      entry_step (self, entry, &event);
    }

  g_hash_table_iter_init (&iter, project->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Entry *entry = value;
      CfReadinessEvent event = { .type = CF_READINESS_EVENT_SCAN_END, .clock = clock };
      CfReadinessResult step = entry_step (self, entry, &event);

      /* Seen by this scan, or kept for an event newer than it, or dropped. */
      if (step.actions & CF_READINESS_ACTION_SCAN_LATER)
        unsettled = TRUE;
      entry_refresh (self, entry);
      if (step.actions & CF_READINESS_ACTION_DROP)
        g_hash_table_iter_remove (&iter);
    }

  queue_parses (self, project, batch);
  if (unsettled)
    request_scan (project, READINESS->settle_usec);
}

static void
emit_rejections (CfInbox *self, Listing *listing)
{
  for (guint i = 0; i < listing->rejections->len; i++)
    {
      Rejection *rejection = g_ptr_array_index (listing->rejections, i);
      g_autofree char *shown = g_filename_display_name (rejection->name);

      log_task (G_LOG_LEVEL_WARNING, listing->project, shown, rejection->reason);
      g_signal_emit (self, signals[SIGNAL_TASK_REJECTED], 0, listing->project, rejection->name,
                     rejection->reason);
    }
}

static void
watch_candidates (CfInbox *self, GPtrArray *paths, gboolean capped);

static void
apply_discovery (CfInbox *self, ScanJob *job)
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
      project = project_new (self, spec->path, spec->explicit);
      g_hash_table_insert (self->projects, project->path, project);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "CF_PROJECT", project->path,
                        "MESSAGE", "%s: watching the inbox", project->path);
      /* The monitor exists from now on; this scan covers what came before. */
      request_scan (project, 0);
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

static void maybe_start_discovery (CfInbox *self);
static void start_project_scans (CfInbox *self);

static void
on_scanned (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CfInbox *self = CF_INBOX (source);
  ScanJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GPtrArray) batch = NULL;
  gboolean cancelled = g_cancellable_is_cancelled (job->cancellable);
  gboolean rescan_projects = FALSE;

  for (guint i = 0; i < job->listings->len; i++)
    emit_rejections (self, g_ptr_array_index (job->listings, i));
  if (cancelled)
    return;

  if (job->discover)
    apply_discovery (self, job);

  for (guint i = 0; i < job->listings->len; i++)
    {
      Listing *listing = g_ptr_array_index (job->listings, i);
      Project *project = g_hash_table_lookup (self->projects, listing->project);

      if (project == NULL)
        continue;
      if (project->scan_job == job)
        {
          project->scan_job = NULL;
          rescan_projects |= project->scan_wanted;
        }
      reconcile (self, project, listing, job->clock, job->scan_all, &batch);
    }
  flush_parses (self, &batch);

  if (job->discover)
    {
      if (job->scan_all)
        self->scans++;
      if (self->discovery_job == job)
        self->discovery_job = NULL;
      maybe_start_discovery (self);
    }
  if (rescan_projects)
    start_project_scans (self);
}

static ScanJob *
scan_job_new (CfInbox *self)
{
  ScanJob *job = g_new0 (ScanJob, 1);

  job->cancellable = g_object_ref (self->cancellable);
  job->clock = ++self->clock;
  return job;
}

static void
run_scan_job (CfInbox *self, ScanJob *job)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, on_scanned, NULL);

  g_task_set_source_tag (task, run_scan_job);
  g_task_set_task_data (task, job, (GDestroyNotify) scan_job_free);
  g_task_run_in_thread (task, scan_in_thread);
}

static char *
canonical_project (const char *path)
{
  if (path == NULL || *path == '\0' || !g_path_is_absolute (path))
    return NULL;
  return g_canonicalize_filename (path, "/");
}

static void
start_discovery (CfInbox *self, gboolean scan_all)
{
  ScanJob *job = scan_job_new (self);
  CfConfig *config = self->config;

  job->discover = TRUE;
  job->scan_all = scan_all;
  job->projects_dir = canonical_project (config->projects_dir);
  job->allow_other_owners = config->projects_allow_other_owners;
  job->explicit_paths = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; config->projects_extra[i] != NULL; i++)
    {
      char *path = canonical_project (config->projects_extra[i]);
      if (path != NULL)
        g_ptr_array_add (job->explicit_paths, path);
    }
  for (guint i = 0; i < config->dedicated->len; i++)
    {
      CfDedicatedConfig *dedicated = g_ptr_array_index (config->dedicated, i);
      char *path = canonical_project (dedicated->project);
      if (path != NULL)
        g_ptr_array_add (job->explicit_paths, path);
    }
  self->discovery_job = job;
  run_scan_job (self, job);
}

static void
maybe_start_discovery (CfInbox *self)
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

static void
request_full (CfInbox *self)
{
  self->want_full = TRUE;
  maybe_start_discovery (self);
}

static gboolean
on_discover_timer (gpointer user_data)
{
  CfInbox *self = user_data;

  self->discover_timer_id = 0;
  self->want_discover = TRUE;
  maybe_start_discovery (self);
  return G_SOURCE_REMOVE;
}

static void
request_discover (CfInbox *self)
{
  if (self->cancellable != NULL && self->discover_timer_id == 0)
    self->discover_timer_id = g_timeout_add (DISCOVER_DELAY_MS, on_discover_timer, self);
}

static void
start_project_scans (CfInbox *self)
{
  ScanJob *job = NULL;
  GHashTableIter iter;
  gpointer value;

  if (self->cancellable == NULL)
    return;
  g_hash_table_iter_init (&iter, self->projects);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Project *project = value;

      if (!project->scan_wanted || project->scan_job != NULL)
        continue;
      if (job == NULL)
        {
          job = scan_job_new (self);
          job->paths = g_ptr_array_new_with_free_func (g_free);
        }
      project->scan_wanted = FALSE;
      project->scan_job = job;
      g_ptr_array_add (job->paths, g_strdup (project->path));
    }
  if (job != NULL)
    run_scan_job (self, job);
}

static gboolean
on_scan_idle (gpointer user_data)
{
  CfInbox *self = user_data;

  self->scan_idle_id = 0;
  start_project_scans (self);
  return G_SOURCE_REMOVE;
}

static gboolean
on_settle (gpointer user_data)
{
  Project *project = user_data;

  project->settle_id = 0;
  request_scan (project, 0);
  return G_SOURCE_REMOVE;
}

static void
request_scan (Project *project, gint64 delay_usec)
{
  CfInbox *self = project->inbox;

  if (self->cancellable == NULL)
    return;
  if (delay_usec <= 0)
    {
      project->scan_wanted = TRUE;
      if (self->scan_idle_id == 0)
        self->scan_idle_id = g_idle_add (on_scan_idle, self);
      return;
    }
  {
    gint64 due = g_get_monotonic_time () + delay_usec;

    if (project->settle_id != 0 && project->settle_due <= due)
      return;
    g_clear_handle_id (&project->settle_id, g_source_remove);
    project->settle_due = due;
    project->settle_id = g_timeout_add ((guint) (delay_usec / 1000), on_settle, project);
  }
}

/* ---- watching for new projects ----------------------------------------- */

static void
on_projects_dir_changed (GFileMonitor *monitor, GFile *file, GFile *other,
                         GFileMonitorEvent event, gpointer user_data)
{
  g_autofree char *name = g_file_get_basename (file);

  if (name != NULL && name[0] == '.')
    return;
  request_discover (CF_INBOX (user_data));
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
    request_discover (CF_INBOX (user_data));
}

static void
drop_monitor (gpointer data)
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
    request_discover (self);
}

static void
watch_projects_dir (CfInbox *self)
{
  g_autofree char *path = canonical_project (self->config->projects_dir);
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

/* ---- public API --------------------------------------------------------- */

static gboolean
on_full_timer (gpointer user_data)
{
  request_full (user_data);
  return G_SOURCE_CONTINUE;
}

static void
arm_full_timer (CfInbox *self)
{
  gint64 interval = MAX (self->config->lifecycle_interval_usec, MIN_FULL_SCAN_USEC);

  g_clear_handle_id (&self->full_timer_id, g_source_remove);
  self->full_timer_id = g_timeout_add ((guint) MIN (interval / 1000, G_MAXUINT), on_full_timer,
                                       self);
}

void
cf_inbox_start (CfInbox *self)
{
  g_return_if_fail (CF_IS_INBOX (self));
  g_return_if_fail (self->cancellable == NULL);

  self->cancellable = g_cancellable_new ();
  watch_projects_dir (self);
  arm_full_timer (self);
  request_full (self);
}

void
cf_inbox_stop (CfInbox *self)
{
  g_return_if_fail (CF_IS_INBOX (self));

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->full_timer_id, g_source_remove);
  g_clear_handle_id (&self->discover_timer_id, g_source_remove);
  g_clear_handle_id (&self->scan_idle_id, g_source_remove);
  self->discovery_job = NULL;
  self->want_full = FALSE;
  self->want_discover = FALSE;
  if (self->dir_monitor != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->dir_monitor, self);
      g_file_monitor_cancel (self->dir_monitor);
      g_clear_object (&self->dir_monitor);
    }
  g_clear_pointer (&self->dir_monitor_path, g_free);
  g_hash_table_remove_all (self->candidates);
  g_hash_table_remove_all (self->projects);
}

void
cf_inbox_set_config (CfInbox *self, CfConfig *config)
{
  g_return_if_fail (CF_IS_INBOX (self));
  g_return_if_fail (config != NULL);

  cf_config_ref (config);
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = config;
  if (self->cancellable == NULL)
    return;
  watch_projects_dir (self);
  arm_full_timer (self);
  request_full (self);
}

void
cf_inbox_rescan (CfInbox *self)
{
  g_return_if_fail (CF_IS_INBOX (self));
  request_full (self);
}

/* ENTRY as a task whose strings belong to PROJECT and ENTRY. */
static CfInboxTask
entry_view (const Project *project, const Entry *entry)
{
  return (CfInboxTask) {
    .project = project->path, .id = entry->id, .priority = entry->priority,
    .queued_at = entry->readiness.key.mtime, .attempts = entry->attempts,
    .last_attempt_end = entry->last_attempt_end, .provider = entry->provider,
    .local_only = entry->local_only,
  };
}

static CfInboxTask *
task_copy_of (const CfInboxTask *view)
{
  CfInboxTask *task = g_memdup2 (view, sizeof *view);

  task->project = g_strdup (view->project);
  task->id = g_strdup (view->id);
  return task;
}

static int
compare_tasks (gconstpointer a, gconstpointer b)
{
  const CfInboxTask *x = *(CfInboxTask *const *) a;
  const CfInboxTask *y = *(CfInboxTask *const *) b;
  int order;

  if (x->priority != y->priority)
    return x->priority < y->priority ? -1 : 1;
  if (x->queued_at != y->queued_at)
    return x->queued_at < y->queued_at ? -1 : 1;
  order = strcmp (x->project, y->project);
  return order != 0 ? order : strcmp (x->id, y->id);
}

GPtrArray *
cf_inbox_list_pending (CfInbox *self)
{
  GPtrArray *tasks = g_ptr_array_new_with_free_func ((GDestroyNotify) cf_inbox_task_free);
  GHashTableIter projects;
  gpointer value;

  g_return_val_if_fail (CF_IS_INBOX (self), tasks);

  g_hash_table_iter_init (&projects, self->projects);
  while (g_hash_table_iter_next (&projects, NULL, &value))
    {
      Project *project = value;

      for (GSequenceIter *it = g_sequence_get_begin_iter (project->queue);
           !g_sequence_iter_is_end (it); it = g_sequence_iter_next (it))
        {
          CfInboxTask view = entry_view (project, g_sequence_get (it));
          g_ptr_array_add (tasks, task_copy_of (&view));
        }
    }
  g_ptr_array_sort (tasks, compare_tasks);
  return tasks;
}

/* The first entry of PROJECT's queue that ACCEPT takes, as a copy. */
static CfInboxTask *
project_head (Project *project, CfInboxAcceptFunc accept, gpointer user_data)
{
  for (GSequenceIter *it = g_sequence_get_begin_iter (project->queue);
       !g_sequence_iter_is_end (it); it = g_sequence_iter_next (it))
    {
      CfInboxTask view = entry_view (project, g_sequence_get (it));

      if (accept == NULL || accept (&view, user_data))
        return task_copy_of (&view);
    }
  return NULL;
}

GPtrArray *
cf_inbox_list_heads (CfInbox *self, const char *project_path, CfInboxAcceptFunc accept,
                     gpointer user_data)
{
  GPtrArray *heads = g_ptr_array_new_with_free_func ((GDestroyNotify) cf_inbox_task_free);
  GHashTableIter iter;
  gpointer value;
  CfInboxTask *head;

  g_return_val_if_fail (CF_IS_INBOX (self), heads);

  if (project_path != NULL)
    {
      Project *project = g_hash_table_lookup (self->projects, project_path);
      if (project != NULL && (head = project_head (project, accept, user_data)) != NULL)
        g_ptr_array_add (heads, head);
      return heads;
    }
  g_hash_table_iter_init (&iter, self->projects);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if ((head = project_head (value, accept, user_data)) != NULL)
      g_ptr_array_add (heads, head);
  return heads;
}

gboolean
cf_inbox_has_routed (CfInbox *self)
{
  g_return_val_if_fail (CF_IS_INBOX (self), FALSE);
  return self->routed > 0;
}

static Project *
lookup_project (CfInbox *self, const char *path)
{
  g_autofree char *canonical = canonical_project (path);

  return canonical != NULL ? g_hash_table_lookup (self->projects, canonical) : NULL;
}

void
cf_inbox_forget (CfInbox *self, const char *project_path, const char *id)
{
  Project *project;
  Entry *entry;

  g_return_if_fail (CF_IS_INBOX (self));
  g_return_if_fail (id != NULL);

  project = lookup_project (self, project_path);
  entry = project != NULL ? g_hash_table_lookup (project->entries, id) : NULL;
  if (entry == NULL)
    return;
  {
    CfReadinessEvent event = { .type = CF_READINESS_EVENT_CLAIMED };

    entry_step (self, entry, &event);
  }
  entry_refresh (self, entry);
}

GPtrArray *
cf_inbox_list_projects (CfInbox *self)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;

  g_return_val_if_fail (CF_IS_INBOX (self), paths);

  g_hash_table_iter_init (&iter, self->projects);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (paths, g_strdup (key));
  g_ptr_array_sort (paths, compare_strings);
  return paths;
}

gboolean
cf_inbox_has_project (CfInbox *self, const char *project)
{
  g_return_val_if_fail (CF_IS_INBOX (self), FALSE);
  return lookup_project (self, project) != NULL;
}

guint64
cf_inbox_get_scans (CfInbox *self)
{
  g_return_val_if_fail (CF_IS_INBOX (self), 0);
  return self->scans;
}

guint64
cf_inbox_get_parses (CfInbox *self)
{
  g_return_val_if_fail (CF_IS_INBOX (self), 0);
  return self->parses;
}

static void
cf_inbox_dispose (GObject *object)
{
  CfInbox *self = CF_INBOX (object);

  cf_inbox_stop (self);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_object (&self->state);
  G_OBJECT_CLASS (cf_inbox_parent_class)->dispose (object);
}

static void
cf_inbox_finalize (GObject *object)
{
  CfInbox *self = CF_INBOX (object);

  g_hash_table_unref (self->projects);
  g_hash_table_unref (self->candidates);
  g_hash_table_unref (self->warned);
  g_clear_pointer (&self->config, cf_config_unref);
  G_OBJECT_CLASS (cf_inbox_parent_class)->finalize (object);
}

static void
cf_inbox_class_init (CfInboxClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cf_inbox_dispose;
  object_class->finalize = cf_inbox_finalize;

  signals[SIGNAL_TASKS_AVAILABLE] =
    g_signal_new ("tasks-available", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_TASK_REJECTED] =
    g_signal_new ("task-rejected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void
cf_inbox_init (CfInbox *self)
{
  self->projects = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) project_free);
  self->candidates = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, drop_monitor);
  self->warned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

CfInbox *
cf_inbox_new (CfConfig *config, CfState *state)
{
  CfInbox *self = g_object_new (CF_TYPE_INBOX, NULL);

  g_return_val_if_fail (config != NULL, self);
  g_return_val_if_fail (CF_IS_STATE (state), self);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  return self;
}
