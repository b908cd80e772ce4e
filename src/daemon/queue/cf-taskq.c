/* SPDX-License-Identifier: MIT */
/* The queue's frame (cf-taskq.h): places and paths, argument checks, the
 * queue lock, its directories, looking at them (list, count, locate, scan
 * the inbox, read a task), status.json and start-up recovery. The moves
 * are cf-taskq-move.c, a submission cf-taskq-submit.c, delegation markers
 * cf-taskq-delegated.c, meta files cf-taskq-meta.c, the file helpers
 * cf-taskq-file.c. */
#include "cf-taskq-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf-json.h"

G_DEFINE_QUARK (cf-taskq-error-quark, cf_taskq_error)

const char *const taskq_place_names[CF_TASK_PLACE_FAILED + 1] = {
  [CF_TASK_PLACE_ABSENT] = "absent",
  [CF_TASK_PLACE_INBOX] = "inbox",
  [CF_TASK_PLACE_ACTIVE] = "active",
  [CF_TASK_PLACE_DONE] = "done",
  [CF_TASK_PLACE_FAILED] = "failed",
};

const CfTaskPlace taskq_task_places[4] = {
  CF_TASK_PLACE_INBOX, CF_TASK_PLACE_ACTIVE, CF_TASK_PLACE_DONE, CF_TASK_PLACE_FAILED,
};

const char *
cf_task_place_to_string (CfTaskPlace place)
{
  if ((guint) place >= G_N_ELEMENTS (taskq_place_names))
    return taskq_place_names[CF_TASK_PLACE_ABSENT];
  return taskq_place_names[place];
}

gboolean
taskq_place_from_string (const char *text, CfTaskPlace *out)
{
  for (guint i = 0; text != NULL && i < G_N_ELEMENTS (taskq_place_names); i++)
    if (strcmp (text, taskq_place_names[i]) == 0)
      {
        *out = (CfTaskPlace) i;
        return TRUE;
      }
  return FALSE;
}

/* --- Owners ------------------------------------------------------------------ */

void
cf_taskq_entry_free (CfTaskqEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->id);
  g_free (entry->path);
  g_free (entry);
}

void
cf_taskq_rejected_free (CfTaskqRejected *rejected)
{
  if (rejected == NULL)
    return;
  g_free (rejected->name);
  g_free (rejected->path);
  g_free (rejected->reason);
  g_free (rejected);
}

void
cf_task_meta_free (CfTaskMeta *meta)
{
  if (meta == NULL)
    return;
  g_free (meta->session);
  g_free (meta->account);
  g_free (meta->model);
  g_free (meta->last_outcome);
  g_free (meta->last_reason);
  g_free (meta);
}

void
cf_taskq_recovery_free (CfTaskqRecovery *recovery)
{
  if (recovery == NULL)
    return;
  g_clear_pointer (&recovery->active, g_ptr_array_unref);
  g_clear_pointer (&recovery->duplicates, g_ptr_array_unref);
  g_clear_pointer (&recovery->orphan_meta, g_ptr_array_unref);
  g_free (recovery);
}

/* --- Errors and paths --------------------------------------------------------- */

gboolean
taskq_errno_error (GError **error, const char *path, int saved_errno)
{
  g_autofree char *shown = g_filename_display_name (path);
  CfTaskqError code = CF_TASKQ_ERROR_FAILED;

  if (saved_errno == ENOENT)
    code = CF_TASKQ_ERROR_NOT_FOUND;
  else if (saved_errno == EEXIST || saved_errno == ENOTEMPTY)
    code = CF_TASKQ_ERROR_EXISTS;
  g_set_error (error, CF_TASKQ_ERROR, code, "%s: %s", shown, g_strerror (saved_errno));
  return FALSE;
}

gboolean
taskq_check_project (const char *project, GError **error)
{
  if (project != NULL && g_path_is_absolute (project))
    return TRUE;
  g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT,
               _("'%s' is not an absolute project directory"), project != NULL ? project : "");
  return FALSE;
}

gboolean
taskq_check_id (const char *id, GError **error)
{
  g_autofree char *shown = NULL;

  if (cf_task_id_is_valid (id))
    return TRUE;
  shown = id != NULL ? g_strescape (id, NULL) : g_strdup ("");
  g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT,
               _("'%s' is not a task id"), shown);
  return FALSE;
}

gboolean
taskq_check_args (const char *project, const char *id, GError **error)
{
  return taskq_check_project (project, error) && taskq_check_id (id, error);
}

char *
taskq_queue_path (const char *project, const char *child)
{
  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, child, NULL);
}

char *
taskq_place_dir (const char *project, CfTaskPlace place)
{
  return taskq_queue_path (project, taskq_place_names[place]);
}

char *
cf_taskq_task_path (const char *project, CfTaskPlace place, const char *id)
{
  g_autofree char *file = NULL;

  if (project == NULL || !g_path_is_absolute (project) || !cf_task_id_is_valid (id) ||
      place == CF_TASK_PLACE_ABSENT || (guint) place >= G_N_ELEMENTS (taskq_place_names))
    return NULL;
  file = g_strconcat (id, ".md", NULL);
  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, taskq_place_names[place], file, NULL);
}

char *
taskq_meta_path (const char *project, const char *id)
{
  g_autofree char *file = g_strconcat (id, ".json", NULL);

  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, CF_TASKQ_META_DIR, file, NULL);
}

/* A name that is one safe path component: inbox entries are rejected by
 * name, and those names come from whoever wrote into the inbox. */
gboolean
taskq_is_plain_file_name (const char *name)
{
  return name != NULL && *name != '\0' && strchr (name, '/') == NULL &&
         strcmp (name, ".") != 0 && strcmp (name, "..") != 0 && strlen (name) <= 255;
}

/* For names that are not ids: a bounded, harmless spelling for the reason
 * file. The reason file's text names the original. */
char *
taskq_sanitized_stem (const char *name)
{
  GString *out = g_string_new (NULL);

  for (const char *p = name; *p != '\0' && out->len < CF_TASK_ID_MAX_LENGTH; p++)
    g_string_append_c (out, (g_ascii_isalnum (*p) || *p == '-' || *p == '_' ||
                             (*p == '.' && out->len > 0)) ? *p : '_');
  return g_string_free (out, FALSE);
}

/* --- Time --------------------------------------------------------------------- */

char *
taskq_format_time (gint64 usec, gboolean fraction)
{
  g_autoptr(GDateTime) seconds = NULL;
  g_autoptr(GDateTime) time = NULL;

  usec = MAX (usec, 0);
  seconds = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  if (seconds == NULL)
    return g_strdup ("1970-01-01T00:00:00Z");
  time = g_date_time_add (seconds, usec % G_USEC_PER_SEC);
  return g_date_time_format (time, fraction ? "%Y-%m-%dT%H:%M:%S.%fZ" : "%Y-%m-%dT%H:%M:%SZ");
}

gboolean
taskq_parse_time (const char *text, gint64 *out)
{
  g_autoptr(GDateTime) time = text != NULL ? g_date_time_new_from_iso8601 (text, NULL) : NULL;

  if (time == NULL)
    return FALSE;
  *out = g_date_time_to_unix (time) * G_USEC_PER_SEC + g_date_time_get_microsecond (time);
  return TRUE;
}

gboolean
taskq_not_in_place (GError **error, const char *id, const char *project, const char *where)
{
  g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND,
               /* TRANSLATORS: task id, directory name(s), project directory */
               _("task '%s' is not in %s of %s"), id, where, project);
  return FALSE;
}

char *
taskq_marker_path (const char *project, const char *id)
{
  g_autofree char *file = g_strconcat (id, TASKQ_DELEGATED_SUFFIX, NULL);

  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, "inbox", file, NULL);
}

/* --- The queue lock ---------------------------------------------------------- */

struct _CfTaskqLock {
  int fd;
  GMutex *mutex;
};

/* Threads of this process take turns on a project through its mutex
 * (never freed: one per project directory); only then the flock, which
 * excludes other processes. So the bounded wait below is spent only on a
 * lock another process holds, never lost to a busy neighbour thread. */
G_LOCK_DEFINE_STATIC (project_mutexes);
static GHashTable *project_mutexes;   /* project → GMutex* */

static GMutex *
project_mutex (const char *project)
{
  GMutex *mutex;

  G_LOCK (project_mutexes);
  if (project_mutexes == NULL)
    project_mutexes = g_hash_table_new (g_str_hash, g_str_equal);
  mutex = g_hash_table_lookup (project_mutexes, project);
  if (mutex == NULL)
    {
      mutex = g_new0 (GMutex, 1);
      g_mutex_init (mutex);
      g_hash_table_insert (project_mutexes, g_strdup (project), mutex);
    }
  G_UNLOCK (project_mutexes);
  return mutex;
}

static gboolean
flock_bounded (int fd, const char *path, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + CF_TASKQ_LOCK_WAIT_USEC;

  while (flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      int saved = errno;

      if (saved == EINTR)
        continue;
      if (saved != EWOULDBLOCK)
        return taskq_errno_error (error, path, saved);
      if (g_get_monotonic_time () >= deadline)
        {
          g_autofree char *shown = g_filename_display_name (path);

          g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_BUSY,
                       _("%s: the queue lock is held by another process; try again later"),
                       shown);
          return FALSE;
        }
      g_usleep (CF_TASKQ_LOCK_RETRY_USEC);
    }
  return TRUE;
}

/* The file is 0600: whoever can open it can hold it, so nobody but the
 * service user may. The wait is bounded: a lock somebody keeps must cost
 * its project a retry later, never a worker thread (and whatever waits for
 * it) for good. */
static gboolean
open_and_lock (const char *project, int *out_fd, GError **error)
{
  g_autofree char *path = g_build_filename (project, CF_TASKQ_QUEUE_DIR, TASKQ_LOCK_FILE, NULL);
  g_auto(FileDescriptor) fd = -1;
  struct stat st;

  fd = open (path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
  if (fd < 0)
    return taskq_errno_error (error, path, errno);
  if (fstat (fd, &st) < 0)
    return taskq_errno_error (error, path, errno);
  if (!S_ISREG (st.st_mode))
    {
      g_autofree char *shown = g_filename_display_name (path);

      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR,
                   _("%s: is not a regular file"), shown);
      return FALSE;
    }
  /* Lock files made before it was 0600; another owner's stays as it is. */
  if ((st.st_mode & 077) != 0 && st.st_uid == geteuid ())
    (void) fchmod (fd, st.st_mode & 0600);
  if (!flock_bounded (fd, path, error))
    return FALSE;
  *out_fd = g_steal_fd (&fd);
  return TRUE;
}

CfTaskqLock *
cf_taskq_lock (const char *project, GError **error)
{
  GMutex *mutex;
  CfTaskqLock *lock;
  int fd = -1;

  if (!taskq_check_project (project, error))
    return NULL;
  mutex = project_mutex (project);
  g_mutex_lock (mutex);
  if (!open_and_lock (project, &fd, error))
    {
      g_mutex_unlock (mutex);
      return NULL;
    }
  lock = g_new0 (CfTaskqLock, 1);
  lock->fd = fd;
  lock->mutex = mutex;
  return lock;
}

void
cf_taskq_unlock (CfTaskqLock *lock)
{
  if (lock == NULL)
    return;
  /* Closing the descriptor releases the flock. */
  close (lock->fd);
  g_mutex_unlock (lock->mutex);
  g_free (lock);
}

/* The queue's own directories are real directories: through a symlink,
 * whoever writes the project would have the daemon move, write and delete
 * files wherever the link points. (The project directory itself may be a
 * link: that is where its owner keeps it.) */
static gboolean
check_queue_dir (const char *dir, GError **error)
{
  struct stat st;

  if (lstat (dir, &st) < 0)
    return taskq_errno_error (error, dir, errno);
  if (S_ISLNK (st.st_mode))
    {
      g_autofree char *shown = g_filename_display_name (dir);

      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR,
                   _("%s: is a symbolic link; the queue's directories must be real directories"),
                   shown);
      return FALSE;
    }
  if (!S_ISDIR (st.st_mode))
    return taskq_errno_error (error, dir, ENOTDIR);
  return TRUE;
}

gboolean
cf_taskq_ensure_dirs (const char *project, GError **error)
{
  static const char *const children[] = { "inbox", "active", "done", "failed", CF_TASKQ_META_DIR };
  g_autofree char *root = NULL;
  gboolean created = FALSE;
  struct stat st;

  if (!taskq_check_project (project, error))
    return FALSE;
  if (stat (project, &st) < 0)
    return taskq_errno_error (error, project, errno);
  if (!S_ISDIR (st.st_mode))
    return taskq_errno_error (error, project, ENOTDIR);

  root = g_build_filename (project, CF_TASKQ_QUEUE_DIR, NULL);
  if (mkdir (root, 0755) == 0)
    {
      if (!taskq_fsync_dir (project, error))
        return FALSE;
    }
  else if (errno != EEXIST)
    return taskq_errno_error (error, root, errno);
  else if (!check_queue_dir (root, error))
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (children); i++)
    {
      g_autofree char *dir = g_build_filename (root, children[i], NULL);

      if (mkdir (dir, 0755) == 0)
        created = TRUE;
      else if (errno != EEXIST)
        return taskq_errno_error (error, dir, errno);
      else if (!check_queue_dir (dir, error))
        return FALSE;
    }
  return !created || taskq_fsync_dir (root, error);
}

/* --- Looking at directories ------------------------------------------------------ */

gboolean
taskq_has_md_suffix (const char *name)
{
  gsize n = strlen (name);

  return n > 3 && strcmp (name + n - 3, ".md") == 0;
}

/* The id of a "<id>.md" name, or NULL. */
char *
taskq_id_of_task_file (const char *name)
{
  g_autofree char *id = NULL;

  if (!taskq_has_md_suffix (name))
    return NULL;
  id = g_strndup (name, strlen (name) - 3);
  return cf_task_id_is_valid (id) ? g_steal_pointer (&id) : NULL;
}

int
taskq_compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Regular "<valid id>.md" files, by d_type when the file system gives it. */
gboolean
taskq_is_regular_entry (DIR *dir, const struct dirent *entry)
{
  struct stat st;

  if (entry->d_type == DT_REG)
    return TRUE;
  if (entry->d_type != DT_UNKNOWN)
    return FALSE;
  return fstatat (dirfd (dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG (st.st_mode);
}

gboolean
cf_taskq_list (const char *project, CfTaskPlace place, GPtrArray **out_ids, GError **error)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(DIR) dir = NULL;
  g_autofree char *path = NULL;
  struct dirent *entry;

  g_return_val_if_fail (out_ids != NULL, FALSE);

  if (!taskq_check_project (project, error))
    return FALSE;
  if (place == CF_TASK_PLACE_ABSENT || (guint) place >= G_N_ELEMENTS (taskq_place_names))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT,
                   _("no directory holds absent tasks"));
      return FALSE;
    }
  path = taskq_place_dir (project, place);
  if (!taskq_open_dir (path, &dir, error))
    return FALSE;
  while ((errno = 0, entry = readdir (dir)) != NULL)
    {
      g_autofree char *id = NULL;

      if (entry->d_name[0] == '.')
        continue;
      id = taskq_id_of_task_file (entry->d_name);
      if (id != NULL && taskq_is_regular_entry (dir, entry))
        g_ptr_array_add (ids, g_steal_pointer (&id));
    }
  if (errno != 0)
    return taskq_errno_error (error, path, errno);
  g_ptr_array_sort (ids, taskq_compare_strings);
  *out_ids = g_steal_pointer (&ids);
  return TRUE;
}

gboolean
cf_taskq_count (const char *project, CfTaskqCounts *out, GError **error)
{
  guint counts[G_N_ELEMENTS (taskq_place_names)] = { 0 };

  g_return_val_if_fail (out != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (taskq_task_places); i++)
    {
      g_autoptr(GPtrArray) ids = NULL;

      if (!cf_taskq_list (project, taskq_task_places[i], &ids, error))
        return FALSE;
      counts[taskq_task_places[i]] = ids->len;
    }
  out->inbox = counts[CF_TASK_PLACE_INBOX];
  out->active = counts[CF_TASK_PLACE_ACTIVE];
  out->done = counts[CF_TASK_PLACE_DONE];
  out->failed = counts[CF_TASK_PLACE_FAILED];
  return TRUE;
}

CfTaskPlace
cf_taskq_locate (const char *project, const char *id)
{
  for (guint i = 0; i < G_N_ELEMENTS (taskq_task_places); i++)
    {
      g_autofree char *path = cf_taskq_task_path (project, taskq_task_places[i], id);

      if (path == NULL)
        return CF_TASK_PLACE_ABSENT;
      if (taskq_exists_no_follow (path, NULL))
        return taskq_task_places[i];
    }
  return CF_TASK_PLACE_ABSENT;
}

static int
compare_entries (gconstpointer a, gconstpointer b)
{
  const CfTaskqEntry *x = *(CfTaskqEntry *const *) a;
  const CfTaskqEntry *y = *(CfTaskqEntry *const *) b;

  if (x->mtime_usec != y->mtime_usec)
    return x->mtime_usec < y->mtime_usec ? -1 : 1;
  return strcmp (x->id, y->id);
}

static void
add_rejected (GPtrArray *rejected, const char *dir_path, const char *name, char *reason)
{
  CfTaskqRejected *item = g_new0 (CfTaskqRejected, 1);

  item->name = g_strdup (name);
  item->path = g_build_filename (dir_path, name, NULL);
  item->reason = reason;
  g_ptr_array_add (rejected, item);
}

static CfTaskqEntry *
entry_new (DIR *dir, const char *dir_path, const char *name, char *id, const struct stat *st)
{
  CfTaskqEntry *entry = g_new0 (CfTaskqEntry, 1);
  g_autofree char *marker = g_strconcat (id, TASKQ_DELEGATED_SUFFIX, NULL);
  struct stat marker_st;

  entry->id = id;
  entry->path = g_build_filename (dir_path, name, NULL);
  entry->mtime_usec = (gint64) st->st_mtim.tv_sec * G_USEC_PER_SEC + st->st_mtim.tv_nsec / 1000;
  entry->size = st->st_size;
  entry->delegated = fstatat (dirfd (dir), marker, &marker_st, AT_SYMLINK_NOFOLLOW) == 0;
  return entry;
}

gboolean
cf_taskq_scan_inbox (const char *project,
                     GPtrArray **out_entries,
                     GPtrArray **out_rejected,
                     GError **error)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) cf_taskq_entry_free);
  g_autoptr(GPtrArray) rejected = g_ptr_array_new_with_free_func ((GDestroyNotify) cf_taskq_rejected_free);
  g_autoptr(DIR) dir = NULL;
  g_autofree char *path = NULL;
  struct dirent *entry;

  if (!taskq_check_project (project, error))
    return FALSE;
  path = taskq_place_dir (project, CF_TASK_PLACE_INBOX);
  if (!taskq_open_dir (path, &dir, error))
    return FALSE;

  while ((errno = 0, entry = readdir (dir)) != NULL)
    {
      const char *name = entry->d_name;
      g_autofree char *id = NULL;
      struct stat st;

      /* Dotfiles cover editor locks and swap files; requiring ".md" covers
       * backups (x.md~), partial downloads (x.part, x.tmp) and markers. */
      if (name[0] == '.' || !taskq_has_md_suffix (name))
        continue;
      if (fstatat (dirfd (dir), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;   /* gone since readdir: nothing to do */

      if (!S_ISREG (st.st_mode))
        {
          /* TRANSLATORS: %s is e.g. "a symbolic link" or "a FIFO" */
          add_rejected (rejected, path, name,
                        g_strdup_printf (_("the task file is %s, not a regular file"),
                                         taskq_file_kind (st.st_mode)));
          continue;
        }
      if (st.st_size > CF_TASK_MAX_SIZE)
        {
          add_rejected (rejected, path, name,
                        g_strdup_printf (_("the task file is larger than 1 MiB (%lu bytes)"),
                                         (unsigned long) st.st_size));
          continue;
        }
      id = taskq_id_of_task_file (name);
      if (id == NULL)
        {
          add_rejected (rejected, path, name,
                        g_strdup_printf (_("the file name is not a task id followed by .md "
                                           "(letters, digits, '.', '_' and '-', not starting "
                                           "with '.', at most %u characters)"),
                                         CF_TASK_ID_MAX_LENGTH));
          continue;
        }

      g_ptr_array_add (entries, entry_new (dir, path, name, g_steal_pointer (&id), &st));
    }
  if (errno != 0)
    return taskq_errno_error (error, path, errno);

  g_ptr_array_sort (entries, compare_entries);
  if (out_entries != NULL)
    *out_entries = g_steal_pointer (&entries);
  if (out_rejected != NULL)
    *out_rejected = g_steal_pointer (&rejected);
  return TRUE;
}

/* A task written in place (not renamed in) must not be read before its
 * writer closed it, however long the writer pauses: a read lease cannot
 * be taken on a file some process has open for writing (EAGAIN). Without
 * leases here (another user's file and no CAP_LEASE, a file system without
 * them) this says nothing, and the callers' settle times decide alone. A
 * lease break during the instant it is held raises SIGURG, which is
 * ignored by default, instead of the fatal SIGIO. */
static gboolean
check_not_being_written (const char *path, GError **error)
{
  g_auto(FileDescriptor) fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
                                          O_NOCTTY);

  if (fd < 0)
    return TRUE;               /* taskq_read_regular says what is wrong */
  if (fcntl (fd, F_SETSIG, SIGURG) < 0)
    return TRUE;
  if (fcntl (fd, F_SETLEASE, F_RDLCK) < 0)
    {
      g_autofree char *shown = NULL;

      if (errno != EAGAIN)
        return TRUE;
      shown = g_filename_display_name (path);
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_WRITING,
                   _("%s: still open for writing"), shown);
      return FALSE;
    }
  (void) fcntl (fd, F_SETLEASE, F_UNLCK);
  return TRUE;
}

gboolean
cf_taskq_read_task_in (const char *project, CfTaskPlace place, const char *id, CfTask **out,
                       GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *data = NULL;
  gsize length = 0;

  g_return_val_if_fail (out != NULL, FALSE);

  if (!taskq_check_args (project, id, error))
    return FALSE;
  path = cf_taskq_task_path (project, place, id);
  if (path == NULL)
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT,
                   _("no directory holds absent tasks"));
      return FALSE;
    }
  if (place == CF_TASK_PLACE_INBOX && !check_not_being_written (path, error))
    return FALSE;
  if (!taskq_read_regular (path, CF_TASK_MAX_SIZE, &data, &length, error))
    return FALSE;
  *out = cf_task_parse (id, data, length, error);
  return *out != NULL;
}

gboolean
cf_taskq_read_task (const char *project, const char *id, CfTask **out, GError **error)
{
  return cf_taskq_read_task_in (project, CF_TASK_PLACE_INBOX, id, out, error);
}

/* --- Status and recovery ------------------------------------------------------------ */

gboolean
cf_taskq_write_status (const char *project, guint delegated_count, gint64 now_usec, GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *path = NULL;
  g_autofree char *data = NULL;
  g_autofree char *when = NULL;
  CfTaskqCounts counts;
  gsize length = 0;

  if (!taskq_check_project (project, error) || !cf_taskq_ensure_dirs (project, error))
    return FALSE;
  /* Held so recovery never removes the temporary file of a write in flight. */
  lock = cf_taskq_lock (project, error);
  if (lock == NULL || !cf_taskq_count (project, &counts, error))
    return FALSE;

  when = taskq_format_time (now_usec, FALSE);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "inbox_count");
  json_builder_add_int_value (builder, counts.inbox);
  json_builder_set_member_name (builder, "active_count");
  json_builder_add_int_value (builder, counts.active);
  json_builder_set_member_name (builder, "done_count");
  json_builder_add_int_value (builder, counts.done);
  json_builder_set_member_name (builder, "failed_count");
  json_builder_add_int_value (builder, counts.failed);
  json_builder_set_member_name (builder, "delegated_count");
  json_builder_add_int_value (builder, delegated_count);
  json_builder_set_member_name (builder, "updated_at");
  json_builder_add_string_value (builder, when);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  data = cf_json_generate (generator, &length);
  path = taskq_queue_path (project, TASKQ_STATUS_FILE);
  /* Advisory for monitors: atomic is what matters, not surviving power loss. */
  return taskq_write_atomic (path, data, length, TASKQ_WRITE_NOT_DURABLE, error);
}

/* The queue's atomic writes leave ".<name>.cftmp-XXXXXX" behind when a
 * crash comes before their rename (taskq_is_temp_name); versions before
 * them wrote with g_file_set_contents, "<target>.XXXXXX", which recovery
 * still removes where only the queue writes such names (TARGET_SUFFIX). */
static gboolean
is_temp_of (const char *name, const char *target_suffix)
{
  gsize n = strlen (name);
  gsize suffix;

  if (target_suffix == NULL)
    return taskq_is_temp_name (name);
  suffix = strlen (target_suffix);
  if (n < suffix + 7 || name[n - 7] != '.')
    return FALSE;
  for (gsize i = n - 6; i < n; i++)
    if (!g_ascii_isalnum (name[i]))
      return FALSE;
  return memcmp (name + n - 7 - suffix, target_suffix, suffix) == 0;
}

static gboolean
remove_temp_files (const char *dir_path, const char *target_suffix, guint *removed, GError **error)
{
  g_autoptr(DIR) dir = NULL;
  struct dirent *entry;

  if (!taskq_open_dir (dir_path, &dir, error))
    return FALSE;
  while ((errno = 0, entry = readdir (dir)) != NULL)
    {
      if (!is_temp_of (entry->d_name, target_suffix))
        continue;
      if (unlinkat (dirfd (dir), entry->d_name, 0) == 0)
        (*removed)++;
      else if (errno != ENOENT)
        {
          g_autofree char *path = g_build_filename (dir_path, entry->d_name, NULL);
          return taskq_errno_error (error, path, errno);
        }
    }
  if (errno != 0)
    return taskq_errno_error (error, dir_path, errno);
  return TRUE;
}

gboolean
cf_taskq_recover (const char *project, gint64 now_usec, CfTaskqRecovery **out, GError **error)
{
  static const struct {
    const char *dir;
    const char *suffix;
  } temp_kinds[] = {
    /* Not the inbox: other tools write there, and "x.md.backup" is theirs. */
    { "active", ".md" },
    { "inbox", TASKQ_DELEGATED_SUFFIX },
    { "failed", TASKQ_REASON_SUFFIX },
    { CF_TASKQ_META_DIR, ".json" },
    { CF_TASKQ_META_DIR, TASKQ_VERDICT_SUFFIX },
    { NULL, TASKQ_STATUS_FILE },
    /* The queue's own temporary name, anywhere in the queue. */
    { NULL, NULL },
    { "inbox", NULL },
    { "active", NULL },
    { "done", NULL },
    { "failed", NULL },
    { CF_TASKQ_META_DIR, NULL },
  };
  g_autoptr(CfTaskqRecovery) recovery = g_new0 (CfTaskqRecovery, 1);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autoptr(DIR) dir = NULL;
  g_autofree char *meta_dir = NULL;
  struct dirent *entry;

  g_return_val_if_fail (out != NULL, FALSE);

  if (!taskq_check_project (project, error) || !cf_taskq_ensure_dirs (project, error))
    return FALSE;
  lock = cf_taskq_lock (project, error);
  if (lock == NULL)
    return FALSE;

  recovery->active = g_ptr_array_new_with_free_func (g_free);
  recovery->duplicates = g_ptr_array_new_with_free_func (g_free);
  recovery->orphan_meta = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < G_N_ELEMENTS (temp_kinds); i++)
    {
      g_autofree char *path = taskq_queue_path (project, temp_kinds[i].dir);

      if (!remove_temp_files (path, temp_kinds[i].suffix, &recovery->temp_files_removed, error))
        return FALSE;
    }

  for (guint i = 0; i < G_N_ELEMENTS (taskq_task_places); i++)
    {
      g_autoptr(GPtrArray) ids = NULL;

      if (!cf_taskq_list (project, taskq_task_places[i], &ids, error))
        return FALSE;
      for (guint j = 0; j < ids->len; j++)
        {
          const char *id = g_ptr_array_index (ids, j);
          guint places = GPOINTER_TO_UINT (g_hash_table_lookup (seen, id));

          if (places == 1)
            g_ptr_array_add (recovery->duplicates, g_strdup (id));
          g_hash_table_insert (seen, g_strdup (id), GUINT_TO_POINTER (places + 1));
          if (taskq_task_places[i] == CF_TASK_PLACE_ACTIVE)
            g_ptr_array_add (recovery->active, g_strdup (id));
        }
    }

  for (guint i = 0; i < recovery->active->len; i++)
    {
      const char *id = g_ptr_array_index (recovery->active, i);
      g_autoptr(JsonObject) meta = NULL;
      JsonObject *event;

      if (!taskq_meta_load (project, id, &meta, error))
        return FALSE;
      if (meta != NULL)
        continue;
      /* It was running, so it had at least this attempt. */
      meta = taskq_meta_new (id);
      json_object_set_int_member (meta, "attempts", 1);
      event = json_object_new ();
      json_object_set_string_member (event, "event", "recover");
      taskq_meta_update (meta, CF_TASK_PLACE_ACTIVE, "recovered", now_usec, event);
      if (!taskq_meta_store (project, id, meta, error))
        return FALSE;
      recovery->meta_created++;
    }

  meta_dir = taskq_queue_path (project, CF_TASKQ_META_DIR);
  if (!taskq_open_dir (meta_dir, &dir, error))
    return FALSE;
  while ((errno = 0, entry = readdir (dir)) != NULL)
    {
      gsize n = strlen (entry->d_name);
      g_autofree char *id = NULL;

      if (n <= 5 || strcmp (entry->d_name + n - 5, ".json") != 0)
        continue;
      id = g_strndup (entry->d_name, n - 5);
      if (cf_task_id_is_valid (id) && !g_hash_table_contains (seen, id))
        g_ptr_array_add (recovery->orphan_meta, g_steal_pointer (&id));
    }
  if (errno != 0)
    return taskq_errno_error (error, meta_dir, errno);
  g_ptr_array_sort (recovery->orphan_meta, taskq_compare_strings);

  *out = g_steal_pointer (&recovery);
  return TRUE;
}

