/* SPDX-License-Identifier: MIT */
/* Persistence of a CfState: loading the state file (a corrupt one is moved
 * aside) and writing it durably — debounced after a change, periodically
 * while dirty, at once for a flush — in a worker thread, never on the loop
 * (the start-up and shutdown writes excepted). */
#include "cf-state-store.h"

#include <errno.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "cf-state-json.h"
#include "cf-state-private.h"

/* A state file holds tens of sessions: kilobytes. Anything near this is not
 * one of ours. */
#define STATE_FILE_MAX_BYTES (16 * 1024 * 1024)

struct _CfStateStore {
  GObject parent_instance;

  CfState *state;
  char *path;
  char *write_error;           /* last write's failure, NULL when it worked */

  gboolean dirty;
  gboolean write_in_flight;
  guint64 change_serial;       /* bumped by every persisted change */
  guint64 written_serial;      /* change_serial of the content on disk */
  guint64 in_flight_serial;    /* change_serial of the write in flight */
  GPtrArray *flush_waiters;    /* GTask*, each with its target serial */
  guint debounce_ms;
  guint debounce_id;
  guint periodic_id;
};

enum {
  SIGNAL_WRITE_ERROR_CHANGED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfStateStore, cf_state_store, G_TYPE_OBJECT)

static void schedule_save (CfStateStore *self);

static gboolean
write_file (const char *path, const char *contents, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot create %s: %s", dir, g_strerror (saved_errno));
      return FALSE;
    }
  return g_file_set_contents_full (path, contents, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                   0600, error);
}

static void
set_write_error (CfStateStore *self, const char *message)
{
  if (g_strcmp0 (self->write_error, message) == 0)
    return;
  /* Logged when it changes, not at every retry (a full disk retries often). */
  if (message == NULL)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "CF_STATE_FILE", self->path,
                      "MESSAGE", "State file %s written again", self->path);
  else
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "CF_STATE_FILE", self->path,
                      "MESSAGE", "Cannot write state file %s: %s", self->path, message);
  g_free (self->write_error);
  self->write_error = g_strdup (message);
  g_signal_emit (self, signals[SIGNAL_WRITE_ERROR_CHANGED], 0);
}

/* PATH.corrupt-<seconds since the epoch>, or PATH.corrupt-<seconds>.<n> when
 * that name is taken (a second corrupt file within the same second): a copy
 * kept for the operator is never overwritten. */
static char *
quarantine_path (const char *path)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  char *aside = g_strdup_printf ("%s.corrupt-%" G_GINT64_FORMAT, path, now);
  GStatBuf buf;

  for (guint n = 2; g_lstat (aside, &buf) == 0 && n < 10000; n++)
    {
      g_free (aside);
      aside = g_strdup_printf ("%s.corrupt-%" G_GINT64_FORMAT ".%u", path, now, n);
    }
  return aside;
}

gboolean
cf_state_store_load (CfStateStore *self, char **quarantined_to, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize length = 0;
  GStatBuf st;
  gboolean stat_ok;

  g_return_val_if_fail (CF_IS_STATE_STORE (self), FALSE);
  if (quarantined_to != NULL)
    *quarantined_to = NULL;
  if (self->path == NULL)
    return TRUE;

  /* Not read at all: a FIFO would block the start, a huge file eat memory. */
  stat_ok = g_stat (self->path, &st) == 0;
  if (stat_ok && !S_ISREG (st.st_mode))
    g_set_error_literal (&local_error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "not a regular file");
  else if (stat_ok && st.st_size > STATE_FILE_MAX_BYTES)
    g_set_error (&local_error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "%lld bytes, more than a state file can be (%d)", (long long) st.st_size,
                 STATE_FILE_MAX_BYTES);
  else if (!g_file_get_contents (self->path, &contents, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  if (local_error != NULL || !cf_state_from_json (self->state, contents, length, &local_error))
    {
      g_autofree char *aside = quarantine_path (self->path);
      if (g_rename (self->path, aside) < 0)
        {
          int saved_errno = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "state file %s is corrupt (%s) and cannot be moved aside: %s",
                       self->path, local_error->message, g_strerror (saved_errno));
          return FALSE;
        }
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "CF_STATE_FILE", self->path,
                        "MESSAGE", "State file %s is corrupt (%s); moved aside to %s, starting clean",
                        self->path, local_error->message, aside);
      cf_state_reset_content (self->state);
      if (quarantined_to != NULL)
        *quarantined_to = g_steal_pointer (&aside);
      self->dirty = TRUE;
    }
  return TRUE;
}

gboolean
cf_state_store_save_sync (CfStateStore *self, GError **error)
{
  g_autofree char *json = NULL;

  g_return_val_if_fail (CF_IS_STATE_STORE (self), FALSE);
  if (self->path == NULL)
    return TRUE;
  json = cf_state_to_json (self->state);
  if (!write_file (self->path, json, error))
    return FALSE;
  self->dirty = FALSE;
  cf_counters_count (cf_state_get_counters (self->state), CF_EVENT_STATE_WRITTEN);
  self->written_serial = self->change_serial;
  set_write_error (self, NULL);
  return TRUE;
}

typedef struct {
  char *path;
  char *json;
} WriteJob;

static void
write_job_free (WriteJob *job)
{
  g_free (job->path);
  g_free (job->json);
  g_free (job);
}

static void
write_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WriteJob *job = task_data;
  GError *error = NULL;

  if (write_file (job->path, job->json, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void save_now (CfStateStore *self);

/* Completes the flush waiters whose content is on disk; with ERROR, all of
 * those still waiting fail. */
static void
complete_waiters (CfStateStore *self, const GError *error)
{
  for (guint i = 0; i < self->flush_waiters->len; )
    {
      GTask *task = g_ptr_array_index (self->flush_waiters, i);
      guint64 target = *(guint64 *) g_task_get_task_data (task);

      if (error == NULL && target > self->written_serial)
        {
          i++;
          continue;
        }
      g_ptr_array_steal_index (self->flush_waiters, i);
      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
}

static void
write_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CfStateStore *self = CF_STATE_STORE (source);
  g_autoptr(GError) error = NULL;

  self->write_in_flight = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      /* Stay dirty: the periodic flush retries (e.g. after disk full). */
      self->dirty = TRUE;
      set_write_error (self, error->message);
      complete_waiters (self, error);
      return;
    }
  cf_counters_count (cf_state_get_counters (self->state), CF_EVENT_STATE_WRITTEN);
  self->written_serial = self->in_flight_serial;
  set_write_error (self, NULL);
  complete_waiters (self, NULL);
  if (self->dirty && self->flush_waiters->len > 0)
    save_now (self);
  else if (self->dirty)
    schedule_save (self);
}

static void
save_now (CfStateStore *self)
{
  g_autoptr(GTask) task = NULL;
  WriteJob *job;

  if (self->path == NULL || self->write_in_flight || !self->dirty)
    return;
  job = g_new0 (WriteJob, 1);
  job->path = g_strdup (self->path);
  job->json = cf_state_to_json (self->state);
  self->dirty = FALSE;
  self->write_in_flight = TRUE;
  self->in_flight_serial = self->change_serial;
  task = g_task_new (self, NULL, write_done, NULL);
  g_task_set_source_tag (task, save_now);
  g_task_set_task_data (task, job, (GDestroyNotify) write_job_free);
  g_task_run_in_thread (task, write_in_thread);
}

static gboolean
debounce_fired (gpointer user_data)
{
  CfStateStore *self = user_data;

  self->debounce_id = 0;
  save_now (self);
  return G_SOURCE_REMOVE;
}

static gboolean
periodic_fired (gpointer user_data)
{
  save_now (user_data);
  return G_SOURCE_CONTINUE;
}

static void
schedule_save (CfStateStore *self)
{
  /* Not reset by later changes: a change is on disk within debounce_ms
   * (plus one write) however busy the daemon is. */
  if (self->debounce_ms == 0 || self->debounce_id != 0 || self->write_in_flight)
    return;
  self->debounce_id = g_timeout_add (self->debounce_ms, debounce_fired, self);
}

void
cf_state_store_enable_autosave (CfStateStore *self, guint debounce_ms, guint period_ms)
{
  g_return_if_fail (CF_IS_STATE_STORE (self));
  self->debounce_ms = MAX (debounce_ms, 1);
  g_clear_handle_id (&self->periodic_id, g_source_remove);
  if (period_ms > 0)
    self->periodic_id = g_timeout_add (period_ms, periodic_fired, self);
  if (self->dirty)
    schedule_save (self);
}

void
cf_state_store_flush_async (CfStateStore *self, GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  guint64 *target = g_new (guint64, 1);

  g_task_set_source_tag (task, cf_state_store_flush_async);
  *target = self->change_serial;
  g_task_set_task_data (task, target, g_free);
  if (self->path == NULL || *target <= self->written_serial)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_ptr_array_add (self->flush_waiters, g_steal_pointer (&task));
  /* Now, not after the debounce: the caller waits on it. */
  g_clear_handle_id (&self->debounce_id, g_source_remove);
  save_now (self);
}

gboolean
cf_state_store_flush_finish (CfStateStore *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
cf_state_store_is_dirty (CfStateStore *self)
{
  return self->dirty || self->write_in_flight;
}

const char *
cf_state_store_get_write_error (CfStateStore *self)
{
  return self->write_error;
}

/* Before anyone hears "changed": a handler may flush and wait for it. */
static void
on_content_changed (CfState *state, CfStateStore *self)
{
  self->dirty = TRUE;
  self->change_serial++;
  schedule_save (self);
}

static void
cf_state_store_dispose (GObject *object)
{
  CfStateStore *self = CF_STATE_STORE (object);

  g_clear_handle_id (&self->debounce_id, g_source_remove);
  g_clear_handle_id (&self->periodic_id, g_source_remove);
  g_clear_object (&self->state);
  G_OBJECT_CLASS (cf_state_store_parent_class)->dispose (object);
}

static void
cf_state_store_finalize (GObject *object)
{
  CfStateStore *self = CF_STATE_STORE (object);

  g_ptr_array_unref (self->flush_waiters);
  g_free (self->write_error);
  g_free (self->path);
  G_OBJECT_CLASS (cf_state_store_parent_class)->finalize (object);
}

static void
cf_state_store_class_init (CfStateStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_state_store_dispose;
  G_OBJECT_CLASS (klass)->finalize = cf_state_store_finalize;

  /* write-error-changed: cf_state_store_get_write_error () changed */
  signals[SIGNAL_WRITE_ERROR_CHANGED] =
    g_signal_new ("write-error-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
cf_state_store_init (CfStateStore *self)
{
  self->flush_waiters = g_ptr_array_new ();
}

CfStateStore *
cf_state_store_new (CfState *state, const char *path)
{
  CfStateStore *self = g_object_new (CF_TYPE_STATE_STORE, NULL);

  self->state = g_object_ref (state);
  self->path = g_strdup (path);
  g_signal_connect_object (state, "content-changed", G_CALLBACK (on_content_changed), self, 0);
  return self;
}
