/* SPDX-License-Identifier: MIT */
/* CfInbox: the index of inbox entries and its listing (ARCHITECTURE.md
 * 4.2). Monitor events and scan and parse results, applied on the main
 * loop, go through each entry's readiness state machine (cf-readiness.c);
 * the pending count, the per-project queues and the signals follow from
 * it; scans are requested and coalesced here. Project discovery lives in
 * cf-inbox-projects.c, the worker threads in cf-inbox-scan.c. */
#include "cf-inbox-private.h"

#include <string.h>

#include "cf-task.h"
#include "cf-taskq.h"

#define MIN_FULL_SCAN_USEC G_TIME_SPAN_SECOND
/* Parsing is split so the first tasks are listed before the last ones are
 * read, and so both cores work on a large first scan. */
#define PARSE_CHUNK 256

enum {
  SIGNAL_TASKS_AVAILABLE,
  SIGNAL_TASK_REJECTED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfInbox, cf_inbox, G_TYPE_OBJECT)


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
  cf_state_set_daemon_facts (self->state, self->pending,
                             cf_state_get_daemon_facts (self->state).claude_version);
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
  event->now = cf_clock_now_monotonic (self->timebase);
  if (event->type != CF_READINESS_EVENT_SCAN_SEEN && event->type != CF_READINESS_EVENT_SCAN_END)
    event->clock = self->clock;
  return cf_readiness_step (entry != NULL ? &entry->readiness : NULL, event, READINESS);
}

static void
request_result_scans (Project *project, const CfReadinessEvent *event,
                      const CfReadinessResult *result)
{
  if (result->actions & CF_READINESS_ACTION_SCAN)
    cf_inbox_request_scan (project, 0);
  if (result->actions & CF_READINESS_ACTION_SCAN_LATER)
    cf_inbox_request_scan (project, result->deadline - event->now);
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
  cf_clock_clear (self->timebase, &project->settle_id);
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
      cf_inbox_request_discover (self);
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
      cf_inbox_request_scan (project, 0);
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

Project *
cf_inbox_project_new (CfInbox *self, const char *path, gboolean explicit)
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

      /* Refreshing an entry whose state did not change does nothing. */
      if (entry != NULL)
        entry_refresh (self, entry);
      if (item->outcome == CF_READINESS_PARSE_REJECTED)
        {
          g_autofree char *name = g_strconcat (item->id, ".md", NULL);

          log_task (G_LOG_LEVEL_WARNING, item->project, item->id, item->message);
          g_signal_emit (self, signals[SIGNAL_TASK_REJECTED], 0, item->project, name,
                         item->message);
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
  g_task_set_task_data (task, job, (GDestroyNotify) cf_inbox_parse_job_free);
  g_task_run_in_thread (task, cf_inbox_parse_in_thread);
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
                                 .now_real = cf_clock_now_real (self->timebase) };
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
        *batch = g_ptr_array_new_with_free_func ((GDestroyNotify) cf_inbox_parse_item_free);
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
                                                         (GDestroyNotify) cf_inbox_parse_item_free);

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
    cf_inbox_request_discover (self);

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
    cf_inbox_request_scan (project, READINESS->settle_usec);
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
    cf_inbox_apply_discovery (self, job);

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
      cf_inbox_maybe_start_discovery (self);
    }
  if (rescan_projects)
    start_project_scans (self);
}

ScanJob *
cf_inbox_scan_job_new (CfInbox *self)
{
  ScanJob *job = g_new0 (ScanJob, 1);

  job->cancellable = g_object_ref (self->cancellable);
  job->clock = ++self->clock;
  job->timebase = cf_clock_ref (self->timebase);
  return job;
}

void
cf_inbox_run_scan_job (CfInbox *self, ScanJob *job)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, on_scanned, NULL);

  g_task_set_source_tag (task, cf_inbox_run_scan_job);
  g_task_set_task_data (task, job, (GDestroyNotify) cf_inbox_scan_job_free);
  g_task_run_in_thread (task, cf_inbox_scan_in_thread);
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
          job = cf_inbox_scan_job_new (self);
          job->paths = g_ptr_array_new_with_free_func (g_free);
        }
      project->scan_wanted = FALSE;
      project->scan_job = job;
      g_ptr_array_add (job->paths, g_strdup (project->path));
    }
  if (job != NULL)
    cf_inbox_run_scan_job (self, job);
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
  cf_inbox_request_scan (project, 0);
  return G_SOURCE_REMOVE;
}

void
cf_inbox_request_scan (Project *project, gint64 delay_usec)
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
    gint64 due = cf_clock_now_monotonic (self->timebase) + delay_usec;

    if (project->settle_id != 0 && project->settle_due <= due)
      return;
    cf_clock_clear (self->timebase, &project->settle_id);
    project->settle_due = due;
    project->settle_id = cf_clock_timeout_add (self->timebase, (guint) (delay_usec / 1000),
                                               on_settle, project);
  }
}

/* ---- public API --------------------------------------------------------- */

static gboolean
on_full_timer (gpointer user_data)
{
  cf_inbox_request_full (user_data);
  return G_SOURCE_CONTINUE;
}

static void
arm_full_timer (CfInbox *self)
{
  gint64 interval = MAX (self->config->lifecycle_interval_usec, MIN_FULL_SCAN_USEC);

  cf_clock_clear (self->timebase, &self->full_timer_id);
  self->full_timer_id = cf_clock_timeout_add (self->timebase,
                                              (guint) MIN (interval / 1000, G_MAXUINT),
                                              on_full_timer, self);
}

void
cf_inbox_set_clock (CfInbox *self, CfClock *clock)
{
  g_return_if_fail (CF_IS_INBOX (self));
  g_return_if_fail (self->cancellable == NULL);

  g_clear_pointer (&self->timebase, cf_clock_unref);
  self->timebase = cf_clock_ref (clock != NULL ? clock : cf_clock_get_default ());
}

void
cf_inbox_start (CfInbox *self)
{
  g_return_if_fail (CF_IS_INBOX (self));
  g_return_if_fail (self->cancellable == NULL);

  self->cancellable = g_cancellable_new ();
  cf_inbox_watch_projects_dir (self);
  arm_full_timer (self);
  cf_inbox_request_full (self);
}

void
cf_inbox_stop (CfInbox *self)
{
  g_return_if_fail (CF_IS_INBOX (self));

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  cf_clock_clear (self->timebase, &self->full_timer_id);
  cf_clock_clear (self->timebase, &self->discover_timer_id);
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
  cf_inbox_watch_projects_dir (self);
  arm_full_timer (self);
  cf_inbox_request_full (self);
}

void
cf_inbox_rescan (CfInbox *self)
{
  g_return_if_fail (CF_IS_INBOX (self));
  cf_inbox_request_full (self);
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
  g_autofree char *canonical = cf_inbox_canonical_project (path);

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
  g_ptr_array_sort (paths, cf_inbox_compare_strings);
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
  g_clear_pointer (&self->timebase, cf_clock_unref);
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
  self->candidates = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, cf_inbox_drop_monitor);
  self->warned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->timebase = cf_clock_get_default ();
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
