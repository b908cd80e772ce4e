/* SPDX-License-Identifier: MIT */
#include "cf-taskq.h"

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

#include "cf-fault.h"
#include "cf-json.h"

G_DEFINE_QUARK (cf-taskq-error-quark, cf_taskq_error)

#define META_VERSION 1
#define LOCK_FILE ".lock"
#define STATUS_FILE "status.json"
#define REASON_SUFFIX ".reason.txt"
#define DELEGATED_SUFFIX ".md.delegated"
#define VERDICT_SUFFIX ".verdict"
/* "done" or "failed", a newline, the reason: a few hundred bytes. */
#define VERDICT_MAX_SIZE 8192
/* Meta files stay small (bounded history); anything bigger is not ours. */
#define META_MAX_SIZE (1024 * 1024)
/* A meta file is one flat object. */
#define META_MAX_DEPTH 8
/* Markers are a few hundred bytes (cf_delegate_marker_to_json). */
#define DELEGATED_MAX_SIZE 4096
/* A finished task file is re-read to append a footer; it may have grown
 * while it ran (tools append logs), so allow more than an inbox file. */
#define FOOTER_SOURCE_MAX_SIZE (16 * 1024 * 1024)

static const char *const place_names[] = {
  [CF_TASK_PLACE_ABSENT] = "absent",
  [CF_TASK_PLACE_INBOX] = "inbox",
  [CF_TASK_PLACE_ACTIVE] = "active",
  [CF_TASK_PLACE_DONE] = "done",
  [CF_TASK_PLACE_FAILED] = "failed",
};

static const CfTaskPlace task_places[] = {
  CF_TASK_PLACE_INBOX, CF_TASK_PLACE_ACTIVE, CF_TASK_PLACE_DONE, CF_TASK_PLACE_FAILED,
};

const char *
cf_task_place_to_string (CfTaskPlace place)
{
  if ((guint) place >= G_N_ELEMENTS (place_names))
    return place_names[CF_TASK_PLACE_ABSENT];
  return place_names[place];
}

static gboolean
place_from_string (const char *text, CfTaskPlace *out)
{
  for (guint i = 0; text != NULL && i < G_N_ELEMENTS (place_names); i++)
    if (strcmp (text, place_names[i]) == 0)
      {
        *out = (CfTaskPlace) i;
        return TRUE;
      }
  return FALSE;
}

/* --- Small owners ------------------------------------------------------------ */

typedef int FileDescriptor;

static void
close_fd (int fd)
{
  close (fd);
}

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (FileDescriptor, close_fd, -1)

static void
close_dir (DIR *dir)
{
  closedir (dir);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DIR, close_dir)

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

static gboolean
set_errno_error (GError **error, const char *path, int saved_errno)
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

static gboolean
check_project (const char *project, GError **error)
{
  if (project != NULL && g_path_is_absolute (project))
    return TRUE;
  g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT,
               _("'%s' is not an absolute project directory"), project != NULL ? project : "");
  return FALSE;
}

static gboolean
check_id (const char *id, GError **error)
{
  g_autofree char *shown = NULL;

  if (cf_task_id_is_valid (id))
    return TRUE;
  shown = id != NULL ? g_strescape (id, NULL) : g_strdup ("");
  g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT,
               _("'%s' is not a task id"), shown);
  return FALSE;
}

static gboolean
check_args (const char *project, const char *id, GError **error)
{
  return check_project (project, error) && check_id (id, error);
}

static char *
queue_path (const char *project, const char *child)
{
  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, child, NULL);
}

static char *
place_dir (const char *project, CfTaskPlace place)
{
  return queue_path (project, place_names[place]);
}

char *
cf_taskq_task_path (const char *project, CfTaskPlace place, const char *id)
{
  g_autofree char *file = NULL;

  if (project == NULL || !g_path_is_absolute (project) || !cf_task_id_is_valid (id) ||
      place == CF_TASK_PLACE_ABSENT || (guint) place >= G_N_ELEMENTS (place_names))
    return NULL;
  file = g_strconcat (id, ".md", NULL);
  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, place_names[place], file, NULL);
}

static char *
meta_path (const char *project, const char *id)
{
  g_autofree char *file = g_strconcat (id, ".json", NULL);

  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, CF_TASKQ_META_DIR, file, NULL);
}

/* A name that is one safe path component: inbox entries are rejected by
 * name, and those names come from whoever wrote into the inbox. */
static gboolean
is_plain_file_name (const char *name)
{
  return name != NULL && *name != '\0' && strchr (name, '/') == NULL &&
         strcmp (name, ".") != 0 && strcmp (name, "..") != 0 && strlen (name) <= 255;
}

/* For names that are not ids: a bounded, harmless spelling for the reason
 * file. The reason file's text names the original. */
static char *
sanitized_stem (const char *name)
{
  GString *out = g_string_new (NULL);

  for (const char *p = name; *p != '\0' && out->len < CF_TASK_ID_MAX_LENGTH; p++)
    g_string_append_c (out, (g_ascii_isalnum (*p) || *p == '-' || *p == '_' ||
                             (*p == '.' && out->len > 0)) ? *p : '_');
  return g_string_free (out, FALSE);
}

/* --- Time --------------------------------------------------------------------- */

static char *
format_time (gint64 usec, gboolean fraction)
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

static gboolean
parse_time (const char *text, gint64 *out)
{
  g_autoptr(GDateTime) time = text != NULL ? g_date_time_new_from_iso8601 (text, NULL) : NULL;

  if (time == NULL)
    return FALSE;
  *out = g_date_time_to_unix (time) * G_USEC_PER_SEC + g_date_time_get_microsecond (time);
  return TRUE;
}

/* --- Durable file-system primitives --------------------------------------------- */

/* A rename is durable only once the directories holding the old and the new
 * entry are; fsync on a directory fd is how Linux makes them so. */
static gboolean
fsync_dir (const char *path, GError **error)
{
  g_auto(FileDescriptor) fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    return set_errno_error (error, path, errno);
  /* Some file systems cannot sync a directory; they also have nothing to lose. */
  if (fsync (fd) < 0 && errno != EINVAL && errno != EROFS)
    return set_errno_error (error, path, errno);
  return TRUE;
}

static gboolean
fsync_parents (const char *a, const char *b, GError **error)
{
  g_autofree char *dir_a = g_path_get_dirname (a);
  g_autofree char *dir_b = g_path_get_dirname (b);

  if (!fsync_dir (dir_b, error))
    return FALSE;
  return strcmp (dir_a, dir_b) == 0 || fsync_dir (dir_a, error);
}

static gboolean
write_durably (const char *path, const char *data, gsize length, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);

  if (!g_file_set_contents_full (path, data, (gssize) length,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, error))
    return FALSE;
  return fsync_dir (dir, error);
}

/* rename(2) that refuses to replace: a second copy of a running task must
 * never overwrite the first. */
static gboolean
move_no_replace (const char *from, const char *to, GError **error)
{
  if (renameat2 (AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
    return TRUE;
  if (errno != EINVAL && errno != ENOSYS)
    return set_errno_error (error, errno == ENOENT ? from : to, errno);

  /* The file system has no RENAME_NOREPLACE; the queue lock still keeps
   * our own callers from racing between this check and the rename. */
  {
    struct stat st;

    if (lstat (to, &st) == 0)
      return set_errno_error (error, to, EEXIST);
  }
  if (rename (from, to) < 0)
    return set_errno_error (error, errno == ENOENT ? from : to, errno);
  return TRUE;
}

static gboolean
move_replace (const char *from, const char *to, GError **error)
{
  if (rename (from, to) < 0)
    return set_errno_error (error, errno == ENOENT ? from : to, errno);
  return TRUE;
}

static const char *
file_kind (mode_t mode)
{
  if (S_ISLNK (mode))
    return _("a symbolic link");
  if (S_ISDIR (mode))
    return _("a directory");
  if (S_ISFIFO (mode))
    return _("a FIFO");
  if (S_ISSOCK (mode))
    return _("a socket");
  if (S_ISCHR (mode) || S_ISBLK (mode))
    return _("a device");
  return _("not a regular file");
}

static gboolean
set_not_regular (GError **error, const char *path, mode_t mode)
{
  g_autofree char *shown = g_filename_display_name (path);

  /* TRANSLATORS: %s after "is" is e.g. "a symbolic link" or "a FIFO" */
  g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR,
               _("%s: is %s, not a regular file"), shown, file_kind (mode));
  return FALSE;
}

/* Opens PATH for reading without following a symlink or blocking on a FIFO,
 * and checks it is a regular file of at most MAX bytes. */
static int
open_regular (const char *path, gsize max, struct stat *st, GError **error)
{
  g_auto(FileDescriptor) fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

  if (fd < 0)
    {
      int saved = errno;
      struct stat lst;

      if ((saved == ELOOP || saved == ENXIO) && lstat (path, &lst) == 0)
        set_not_regular (error, path, lst.st_mode);
      else
        set_errno_error (error, path, saved);
      return -1;
    }
  if (fstat (fd, st) < 0)
    {
      set_errno_error (error, path, errno);
      return -1;
    }
  if (!S_ISREG (st->st_mode))
    {
      set_not_regular (error, path, st->st_mode);
      return -1;
    }
  /* A second name of another file (a hard link to a secret the daemon may
   * read and its writer may not) is no more a task than a symlink is. */
  if (st->st_nlink > 1)
    {
      g_autofree char *shown = g_filename_display_name (path);

      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR,
                   _("%s: has %lu hard links; a task file must be a file of its own"), shown,
                   (unsigned long) st->st_nlink);
      return -1;
    }
  if ((guint64) st->st_size > max)
    {
      g_autofree char *shown = g_filename_display_name (path);

      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_TOO_LARGE,
                   _("%s: is larger than %lu bytes (%lu bytes)"), shown,
                   (unsigned long) max, (unsigned long) st->st_size);
      return -1;
    }
  return g_steal_fd (&fd);
}

/* Reads what the file holds now, not what fstat said: it may grow. */
static gboolean
read_regular (const char *path, gsize max, char **out_data, gsize *out_length, GError **error)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  g_auto(FileDescriptor) fd = -1;
  struct stat st;

  fd = open_regular (path, max, &st, error);
  if (fd < 0)
    return FALSE;
  for (;;)
    {
      guint8 buffer[65536];
      ssize_t n = read (fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return set_errno_error (error, path, errno);
      if (n == 0)
        break;
      if (bytes->len + (gsize) n > max)
        {
          g_autofree char *shown = g_filename_display_name (path);

          g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_TOO_LARGE,
                       _("%s: is larger than %lu bytes"), shown, (unsigned long) max);
          return FALSE;
        }
      g_byte_array_append (bytes, buffer, (guint) n);
    }
  *out_length = bytes->len;
  g_byte_array_append (bytes, (const guint8 *) "", 1);
  *out_data = (char *) g_byte_array_free (g_steal_pointer (&bytes), FALSE);
  return TRUE;
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
        return set_errno_error (error, path, saved);
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
  g_autofree char *path = g_build_filename (project, CF_TASKQ_QUEUE_DIR, LOCK_FILE, NULL);
  g_auto(FileDescriptor) fd = -1;
  struct stat st;

  fd = open (path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
  if (fd < 0)
    return set_errno_error (error, path, errno);
  if (fstat (fd, &st) < 0)
    return set_errno_error (error, path, errno);
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

  if (!check_project (project, error))
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

static CfTaskqLock *
lock_queue (const char *project, GError **error)
{
  return cf_taskq_lock (project, error);
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
    return set_errno_error (error, dir, errno);
  if (S_ISLNK (st.st_mode))
    {
      g_autofree char *shown = g_filename_display_name (dir);

      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR,
                   _("%s: is a symbolic link; the queue's directories must be real directories"),
                   shown);
      return FALSE;
    }
  if (!S_ISDIR (st.st_mode))
    return set_errno_error (error, dir, ENOTDIR);
  return TRUE;
}

gboolean
cf_taskq_ensure_dirs (const char *project, GError **error)
{
  static const char *const children[] = { "inbox", "active", "done", "failed", CF_TASKQ_META_DIR };
  g_autofree char *root = NULL;
  gboolean created = FALSE;
  struct stat st;

  if (!check_project (project, error))
    return FALSE;
  if (stat (project, &st) < 0)
    return set_errno_error (error, project, errno);
  if (!S_ISDIR (st.st_mode))
    return set_errno_error (error, project, ENOTDIR);

  root = g_build_filename (project, CF_TASKQ_QUEUE_DIR, NULL);
  if (mkdir (root, 0755) == 0)
    {
      if (!fsync_dir (project, error))
        return FALSE;
    }
  else if (errno != EEXIST)
    return set_errno_error (error, root, errno);
  else if (!check_queue_dir (root, error))
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (children); i++)
    {
      g_autofree char *dir = g_build_filename (root, children[i], NULL);

      if (mkdir (dir, 0755) == 0)
        created = TRUE;
      else if (errno != EEXIST)
        return set_errno_error (error, dir, errno);
      else if (!check_queue_dir (dir, error))
        return FALSE;
    }
  return !created || fsync_dir (root, error);
}

/* For files whose removal only tidies up: a failure is logged, not fatal. */
static void
remove_quietly (const char *path, const char *id)
{
  if (g_unlink (path) < 0 && errno != ENOENT)
    {
      int saved = errno;
      g_autofree char *shown = g_filename_display_name (path);

      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "CF_TASK", id,
                        "MESSAGE", "%s: %s", shown, g_strerror (saved));
    }
}

/* --- Meta files ----------------------------------------------------------------- */

/* *out is NULL when there is no meta file. */
static gboolean
meta_load (const char *project, const char *id, JsonObject **out, GError **error)
{
  g_autofree char *path = meta_path (project, id);
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *shown = NULL;
  JsonObject *object;
  JsonNode *member;
  gsize length = 0;

  *out = NULL;
  if (!read_regular (path, META_MAX_SIZE, &data, &length, &local_error))
    {
      if (g_error_matches (local_error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  shown = g_filename_display_name (path);
  /* Whoever owns the project can write anything here: json-glib recurses
   * once per nesting level and makes lone \u surrogates bytes that are not
   * UTF-8, so only exact, shallow JSON reaches it. */
  if (memchr (data, '\0', length) != NULL || !g_utf8_validate_len (data, length, NULL))
    g_set_error_literal (&local_error, CF_JSON_ERROR, CF_JSON_ERROR_SYNTAX,
                         _("not UTF-8 text"));
  else if (cf_json_check_syntax (data, length, META_MAX_DEPTH, CF_JSON_CHECK_EXACT, &local_error))
    root = json_from_string (data, &local_error);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_CORRUPT_META,
                   _("%s: not a task meta file (%s); move it aside to reset the task's attempts"),
                   shown, local_error != NULL ? local_error->message : _("not a JSON object"));
      return FALSE;
    }
  object = json_node_get_object (root);
  member = json_object_get_member (object, "attempts");
  if (json_object_get_member (object, "version") == NULL ||
      json_node_get_value_type (json_object_get_member (object, "version")) != G_TYPE_INT64 ||
      json_object_get_int_member (object, "version") != META_VERSION ||
      member == NULL || json_node_get_value_type (member) != G_TYPE_INT64 ||
      json_node_get_int (member) < 0 || json_node_get_int (member) > G_MAXUINT)
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_CORRUPT_META,
                   _("%s: not a task meta file of version %d with a valid attempt count; "
                     "move it aside to reset the task's attempts"),
                   shown, META_VERSION);
      return FALSE;
    }
  *out = json_object_ref (object);
  return TRUE;
}

static JsonObject *
meta_new (const char *id)
{
  JsonObject *object = json_object_new ();

  json_object_set_int_member (object, "version", META_VERSION);
  json_object_set_string_member (object, "id", id);
  json_object_set_int_member (object, "attempts", 0);
  return object;
}

static void
set_string_or_null (JsonObject *object, const char *name, const char *value)
{
  if (value != NULL)
    json_object_set_string_member (object, name, value);
  else
    json_object_set_null_member (object, name);
}

static void
set_time (JsonObject *object, const char *name, gint64 usec)
{
  g_autofree char *text = format_time (usec, TRUE);

  json_object_set_string_member (object, name, text);
}

static guint
meta_attempts (JsonObject *object)
{
  return (guint) json_object_get_int_member (object, "attempts");
}

/* Appends EVENT (consumed) to the history without recording a move. */
static void
meta_annotate (JsonObject *object, gint64 now_usec, JsonObject *event)
{
  JsonNode *member = json_object_get_member (object, "history");
  JsonArray *history;

  if (member != NULL && JSON_NODE_HOLDS_ARRAY (member))
    history = json_node_get_array (member);
  else
    {
      history = json_array_new ();
      json_object_set_array_member (object, "history", history);
    }
  set_time (event, "at", now_usec);
  json_array_add_object_element (history, event);
  while (json_array_get_length (history) > CF_TASKQ_HISTORY_MAX)
    json_array_remove_element (history, 0);
}

/* Records the move that is about to happen, and appends EVENT (consumed)
 * to the bounded history. */
static void
meta_update (JsonObject *object, CfTaskPlace place, const char *outcome, gint64 now_usec,
             JsonObject *event)
{
  json_object_set_string_member (object, "place", place_names[place]);
  json_object_set_string_member (object, "last_outcome", outcome);
  set_time (object, "updated_at", now_usec);
  meta_annotate (object, now_usec, event);
}

static char *
meta_to_data (JsonObject *object, gsize *length)
{
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonGenerator) generator = json_generator_new ();

  json_node_set_object (root, object);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return cf_json_generate (generator, length);
}

static gboolean
meta_store (const char *project, const char *id, JsonObject *object, GError **error)
{
  g_autofree char *path = meta_path (project, id);
  gsize length = 0;
  g_autofree char *data = meta_to_data (object, &length);

  return write_durably (path, data, length, error);
}

/* Puts back what the meta file held before a move that did not happen. */
static void
meta_restore (const char *project, const char *id, const char *old_data, gsize old_length)
{
  g_autofree char *path = meta_path (project, id);
  g_autoptr(GError) error = NULL;

  if (old_data == NULL)
    {
      remove_quietly (path, id);
      return;
    }
  if (!write_durably (path, old_data, old_length, &error))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "CF_TASK", id,
                      "MESSAGE", "%s", error->message);
}

static const char *
string_member (JsonObject *object, const char *name)
{
  JsonNode *member = json_object_get_member (object, name);

  if (member == NULL || json_node_get_value_type (member) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (member);
}

static gint64
time_member (JsonObject *object, const char *name)
{
  gint64 usec = 0;

  return parse_time (string_member (object, name), &usec) ? usec : 0;
}

static CfTaskMeta *
meta_from_object (JsonObject *object)
{
  CfTaskMeta *meta = g_new0 (CfTaskMeta, 1);
  JsonNode *member;

  meta->attempts = meta_attempts (object);
  if (!place_from_string (string_member (object, "place"), &meta->place))
    meta->place = CF_TASK_PLACE_ABSENT;
  meta->session = g_strdup (string_member (object, "session"));
  meta->account = g_strdup (string_member (object, "account"));
  meta->model = g_strdup (string_member (object, "model"));
  meta->claimed_at_usec = time_member (object, "claimed_at");
  meta->finished_at_usec = time_member (object, "finished_at");
  meta->last_outcome = g_strdup (string_member (object, "last_outcome"));
  meta->last_reason = g_strdup (string_member (object, "last_reason"));
  meta->updated_at_usec = time_member (object, "updated_at");
  member = json_object_get_member (object, "local_only");
  meta->local_only = member != NULL && JSON_NODE_HOLDS_VALUE (member) &&
                     json_node_get_value_type (member) == G_TYPE_BOOLEAN &&
                     json_node_get_boolean (member);
  return meta;
}

gboolean
cf_taskq_read_meta (const char *project, const char *id, CfTaskMeta **out, GError **error)
{
  g_autoptr(JsonObject) object = NULL;

  g_return_val_if_fail (out != NULL, FALSE);

  *out = NULL;
  if (!check_args (project, id, error) || !meta_load (project, id, &object, error))
    return FALSE;
  if (object != NULL)
    *out = meta_from_object (object);
  return TRUE;
}

guint
cf_taskq_attempts (const char *project, const char *id)
{
  g_autoptr(CfTaskMeta) meta = NULL;

  if (!cf_taskq_read_meta (project, id, &meta, NULL) || meta == NULL)
    return 0;
  return meta->attempts;
}

/* --- Looking at directories ------------------------------------------------------ */

static gboolean
has_md_suffix (const char *name)
{
  gsize n = strlen (name);

  return n > 3 && strcmp (name + n - 3, ".md") == 0;
}

/* The id of a "<id>.md" name, or NULL. */
static char *
id_of_task_file (const char *name)
{
  g_autofree char *id = NULL;

  if (!has_md_suffix (name))
    return NULL;
  id = g_strndup (name, strlen (name) - 3);
  return cf_task_id_is_valid (id) ? g_steal_pointer (&id) : NULL;
}

static gboolean
open_dir (const char *path, DIR **out, GError **error)
{
  DIR *dir = opendir (path);

  if (dir == NULL)
    return set_errno_error (error, path, errno);
  *out = dir;
  return TRUE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Regular "<valid id>.md" files, by d_type when the file system gives it. */
static gboolean
is_regular_entry (DIR *dir, const struct dirent *entry)
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

  if (!check_project (project, error))
    return FALSE;
  if (place == CF_TASK_PLACE_ABSENT || (guint) place >= G_N_ELEMENTS (place_names))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT,
                   _("no directory holds absent tasks"));
      return FALSE;
    }
  path = place_dir (project, place);
  if (!open_dir (path, &dir, error))
    return FALSE;
  while ((errno = 0, entry = readdir (dir)) != NULL)
    {
      g_autofree char *id = NULL;

      if (entry->d_name[0] == '.')
        continue;
      id = id_of_task_file (entry->d_name);
      if (id != NULL && is_regular_entry (dir, entry))
        g_ptr_array_add (ids, g_steal_pointer (&id));
    }
  if (errno != 0)
    return set_errno_error (error, path, errno);
  g_ptr_array_sort (ids, compare_strings);
  *out_ids = g_steal_pointer (&ids);
  return TRUE;
}

gboolean
cf_taskq_count (const char *project, CfTaskqCounts *out, GError **error)
{
  guint counts[G_N_ELEMENTS (place_names)] = { 0 };

  g_return_val_if_fail (out != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (task_places); i++)
    {
      g_autoptr(GPtrArray) ids = NULL;

      if (!cf_taskq_list (project, task_places[i], &ids, error))
        return FALSE;
      counts[task_places[i]] = ids->len;
    }
  out->inbox = counts[CF_TASK_PLACE_INBOX];
  out->active = counts[CF_TASK_PLACE_ACTIVE];
  out->done = counts[CF_TASK_PLACE_DONE];
  out->failed = counts[CF_TASK_PLACE_FAILED];
  return TRUE;
}

static gboolean
exists_no_follow (const char *path, struct stat *st)
{
  struct stat local;

  return lstat (path, st != NULL ? st : &local) == 0;
}

CfTaskPlace
cf_taskq_locate (const char *project, const char *id)
{
  for (guint i = 0; i < G_N_ELEMENTS (task_places); i++)
    {
      g_autofree char *path = cf_taskq_task_path (project, task_places[i], id);

      if (path == NULL)
        return CF_TASK_PLACE_ABSENT;
      if (exists_no_follow (path, NULL))
        return task_places[i];
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
  g_autofree char *marker = g_strconcat (id, DELEGATED_SUFFIX, NULL);
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

  if (!check_project (project, error))
    return FALSE;
  path = place_dir (project, CF_TASK_PLACE_INBOX);
  if (!open_dir (path, &dir, error))
    return FALSE;

  while ((errno = 0, entry = readdir (dir)) != NULL)
    {
      const char *name = entry->d_name;
      g_autofree char *id = NULL;
      struct stat st;

      /* Dotfiles cover editor locks and swap files; requiring ".md" covers
       * backups (x.md~), partial downloads (x.part, x.tmp) and markers. */
      if (name[0] == '.' || !has_md_suffix (name))
        continue;
      if (fstatat (dirfd (dir), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;   /* gone since readdir: nothing to do */

      if (!S_ISREG (st.st_mode))
        {
          /* TRANSLATORS: %s is e.g. "a symbolic link" or "a FIFO" */
          add_rejected (rejected, path, name,
                        g_strdup_printf (_("the task file is %s, not a regular file"),
                                         file_kind (st.st_mode)));
          continue;
        }
      if (st.st_size > CF_TASK_MAX_SIZE)
        {
          add_rejected (rejected, path, name,
                        g_strdup_printf (_("the task file is larger than 1 MiB (%lu bytes)"),
                                         (unsigned long) st.st_size));
          continue;
        }
      id = id_of_task_file (name);
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
    return set_errno_error (error, path, errno);

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
    return TRUE;               /* read_regular says what is wrong */
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

  if (!check_args (project, id, error))
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
  if (!read_regular (path, CF_TASK_MAX_SIZE, &data, &length, error))
    return FALSE;
  *out = cf_task_parse (id, data, length, error);
  return *out != NULL;
}

gboolean
cf_taskq_read_task (const char *project, const char *id, CfTask **out, GError **error)
{
  return cf_taskq_read_task_in (project, CF_TASK_PLACE_INBOX, id, out, error);
}

/* --- Moves ------------------------------------------------------------------------ */

static gboolean
require_regular (const char *path, GError **error)
{
  struct stat st;

  if (lstat (path, &st) < 0)
    return set_errno_error (error, path, errno);
  if (!S_ISREG (st.st_mode))
    return set_not_regular (error, path, st.st_mode);
  return TRUE;
}

static gboolean
not_in_place (GError **error, const char *id, const char *project, const char *where)
{
  g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND,
               /* TRANSLATORS: task id, directory name(s), project directory */
               _("task '%s' is not in %s of %s"), id, where, project);
  return FALSE;
}

static char *
marker_path (const char *project, const char *id)
{
  g_autofree char *file = g_strconcat (id, DELEGATED_SUFFIX, NULL);

  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, "inbox", file, NULL);
}

static gboolean
is_delegated (const char *project, const char *id)
{
  g_autofree char *path = marker_path (project, id);

  return exists_no_follow (path, NULL);
}

gboolean
cf_taskq_claim (const char *project,
                const char *id,
                const char *session,
                const char *account,
                const char *model,
                gint64 now_usec,
                guint *out_attempt,
                GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autofree char *inbox_path = NULL;
  g_autofree char *active_path = NULL;
  g_autoptr(JsonObject) meta = NULL;
  g_autofree char *old_data = NULL;
  gsize old_length = 0;
  JsonObject *event;
  guint attempt;

  if (!check_args (project, id, error) || !cf_taskq_ensure_dirs (project, error))
    return FALSE;
  lock = lock_queue (project, error);
  if (lock == NULL)
    return FALSE;

  inbox_path = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, id);
  active_path = cf_taskq_task_path (project, CF_TASK_PLACE_ACTIVE, id);
  if (!exists_no_follow (inbox_path, NULL))
    return not_in_place (error, id, project, "inbox/");
  if (!require_regular (inbox_path, error))
    return FALSE;
  if (exists_no_follow (active_path, NULL))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS,
                   _("task '%s' of %s is already active"), id, project);
      return FALSE;
    }
  if (is_delegated (project, id))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_DELEGATED,
                   _("task '%s' of %s is delegated to the remote job API"), id, project);
      return FALSE;
    }

  if (!meta_load (project, id, &meta, error))
    return FALSE;
  if (meta != NULL)
    old_data = meta_to_data (meta, &old_length);
  else
    meta = meta_new (id);

  attempt = meta_attempts (meta) + 1;
  json_object_set_int_member (meta, "attempts", attempt);
  set_string_or_null (meta, "session", session);
  set_string_or_null (meta, "account", account);
  set_string_or_null (meta, "model", model);
  set_time (meta, "claimed_at", now_usec);
  json_object_set_null_member (meta, "last_reason");
  event = json_object_new ();
  json_object_set_string_member (event, "event", "claim");
  json_object_set_int_member (event, "attempt", attempt);
  set_string_or_null (event, "session", session);
  set_string_or_null (event, "account", account);
  set_string_or_null (event, "model", model);
  meta_update (meta, CF_TASK_PLACE_ACTIVE, "claimed", now_usec, event);

  if (!meta_store (project, id, meta, error))
    return FALSE;
  if (!move_no_replace (inbox_path, active_path, error))
    {
      /* Nothing was dispatched: the attempt did not happen. */
      meta_restore (project, id, old_data, old_length);
      return FALSE;
    }
  if (!fsync_parents (inbox_path, active_path, error))
    return FALSE;

  if (out_attempt != NULL)
    *out_attempt = attempt;
  return TRUE;
}

/* Appends FOOTER to the task file at PATH unless it already ends with it
 * (a finish repeated after a crash). Replaces the file atomically. */
static gboolean
append_footer (const char *path, const char *footer, GError **error)
{
  g_autofree char *data = NULL;
  g_autofree char *trimmed_footer = g_strchomp (g_strdup (footer));
  g_autoptr(GString) text = NULL;
  gsize length = 0;
  gsize end;

  if (*trimmed_footer == '\0')
    return TRUE;
  if (!read_regular (path, FOOTER_SOURCE_MAX_SIZE, &data, &length, error))
    return FALSE;

  end = length;
  while (end > 0 && g_ascii_isspace (data[end - 1]))
    end--;
  if (end >= strlen (trimmed_footer) &&
      memcmp (data + end - strlen (trimmed_footer), trimmed_footer, strlen (trimmed_footer)) == 0)
    return TRUE;

  text = g_string_new_len (data, (gssize) length);
  if (text->len > 0 && text->str[text->len - 1] != '\n')
    g_string_append_c (text, '\n');
  g_string_append_c (text, '\n');
  g_string_append (text, trimmed_footer);
  g_string_append_c (text, '\n');
  return write_durably (path, text->str, text->len, error);
}

static char *
reason_file_path (const char *project, const char *name)
{
  g_autofree char *bare = has_md_suffix (name) ? g_strndup (name, strlen (name) - 3) : g_strdup (name);
  g_autofree char *stem = cf_task_id_is_valid (bare) ? g_strdup (bare) : sanitized_stem (bare);
  g_autofree char *file = g_strconcat (stem, REASON_SUFFIX, NULL);

  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, "failed", file, NULL);
}

static gboolean
write_reason_file (const char *project, const char *name, const char *heading,
                   const char *reason, const char *note, guint attempts, gint64 now_usec,
                   GError **error)
{
  g_autofree char *path = reason_file_path (project, name);
  g_autofree char *shown_name = g_filename_display_name (name);
  g_autofree char *when = format_time (now_usec, FALSE);
  g_autoptr(GString) text = g_string_new (NULL);

  g_string_append_printf (text, "%s\n\n", heading);
  /* TRANSLATORS: labels of the failed/<id>.reason.txt file operators read */
  g_string_append_printf (text, _("File: %s\n"), shown_name);
  g_string_append_printf (text, _("When: %s\n"), when);
  if (attempts > 0)
    g_string_append_printf (text, _("Attempts: %u\n"), attempts);
  g_string_append_printf (text, _("Reason: %s\n"),
                          reason != NULL && *reason != '\0' ? reason : _("(none given)"));
  if (note != NULL)
    g_string_append_printf (text, _("Note: %s\n"), note);
  return write_durably (path, text->str, text->len, error);
}

static gboolean
finish_task (const char *project,
             const char *id,
             CfTaskOutcome outcome,
             const char *reason,
             const char *footer,
             gint64 now_usec,
             GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autofree char *source = NULL;
  g_autofree char *dest = NULL;
  g_autoptr(JsonObject) meta = NULL;
  CfTaskPlace from = CF_TASK_PLACE_ACTIVE;
  CfTaskPlace to;
  const char *outcome_name;
  JsonObject *event;

  g_return_val_if_fail (outcome == CF_TASK_OUTCOME_DONE || outcome == CF_TASK_OUTCOME_FAILED, FALSE);

  if (!check_args (project, id, error) || !cf_taskq_ensure_dirs (project, error))
    return FALSE;
  lock = lock_queue (project, error);
  if (lock == NULL)
    return FALSE;

  to = outcome == CF_TASK_OUTCOME_DONE ? CF_TASK_PLACE_DONE : CF_TASK_PLACE_FAILED;
  outcome_name = place_names[to];
  source = cf_taskq_task_path (project, from, id);
  if (!exists_no_follow (source, NULL))
    {
      /* A delegated task never leaves the inbox until it is finished. */
      from = CF_TASK_PLACE_INBOX;
      g_free (source);
      source = cf_taskq_task_path (project, from, id);
      if (!exists_no_follow (source, NULL))
        return not_in_place (error, id, project, "active/ or inbox/");
    }
  if (!require_regular (source, error))
    return FALSE;
  dest = cf_taskq_task_path (project, to, id);

  if (footer != NULL && !append_footer (source, footer, error))
    return FALSE;

  if (!meta_load (project, id, &meta, error))
    return FALSE;
  if (meta == NULL)
    meta = meta_new (id);
  set_string_or_null (meta, "last_reason", reason);
  set_time (meta, "finished_at", now_usec);
  event = json_object_new ();
  json_object_set_string_member (event, "event", "finish");
  json_object_set_string_member (event, "from", place_names[from]);
  json_object_set_string_member (event, "outcome", outcome_name);
  set_string_or_null (event, "reason", reason);
  meta_update (meta, to, outcome_name, now_usec, event);
  if (cf_fault_fail ("taskq-finish-meta"))
    {
      g_autofree char *path = meta_path (project, id);
      return set_errno_error (error, path, ENOSPC);
    }
  if (!meta_store (project, id, meta, error))
    return FALSE;

  if (to == CF_TASK_PLACE_FAILED &&
      !write_reason_file (project, id, _("This task failed."), reason, NULL,
                          meta_attempts (meta), now_usec, error))
    return FALSE;

  /* A finished file of an earlier run with the same id is superseded; the
   * meta history keeps what happened to it. */
  if (!move_replace (source, dest, error) || !fsync_parents (source, dest, error))
    return FALSE;

  if (to == CF_TASK_PLACE_DONE)
    {
      g_autofree char *failed_copy = cf_taskq_task_path (project, CF_TASK_PLACE_FAILED, id);

      if (!exists_no_follow (failed_copy, NULL))
        {
          g_autofree char *stale = reason_file_path (project, id);
          remove_quietly (stale, id);
        }
    }
  if (from == CF_TASK_PLACE_INBOX)
    {
      g_autofree char *marker_file = g_strconcat (id, DELEGATED_SUFFIX, NULL);
      g_autofree char *marker = g_build_filename (project, CF_TASKQ_QUEUE_DIR, "inbox",
                                                  marker_file, NULL);
      remove_quietly (marker, id);
    }
  return TRUE;
}

/* --- Verdicts awaiting their move ----------------------------------------------- */

/* From the moment a task is finished until its move out of active/ has
 * succeeded, its verdict is kept: in memory for this process, and, once a
 * move failed, in meta/<id>.verdict when the disk takes it (for the next
 * run). While a verdict is kept the task is never given back to the
 * inbox: Claude did it, and running it again would repeat its work. */

G_LOCK_DEFINE_STATIC (verdicts);
static GHashTable *verdicts;   /* "<project>/<id>" → "done|failed\n<reason>" */

static char *
verdict_key (const char *project, const char *id)
{
  return g_strconcat (project, "/", id, NULL);
}

static char *
verdict_path (const char *project, const char *id)
{
  g_autofree char *file = g_strconcat (id, VERDICT_SUFFIX, NULL);

  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, CF_TASKQ_META_DIR, file, NULL);
}

static char *
verdict_text (CfTaskOutcome outcome, const char *reason)
{
  return g_strconcat (outcome == CF_TASK_OUTCOME_DONE ? "done" : "failed", "\n",
                      reason != NULL ? reason : "", NULL);
}

static gboolean
verdict_parse (const char *text, CfTaskOutcome *out_outcome, char **out_reason)
{
  const char *newline = strchr (text, '\n');
  CfTaskOutcome outcome;

  if (newline == NULL)
    return FALSE;
  if (newline - text == 4 && strncmp (text, "done", 4) == 0)
    outcome = CF_TASK_OUTCOME_DONE;
  else if (newline - text == 6 && strncmp (text, "failed", 6) == 0)
    outcome = CF_TASK_OUTCOME_FAILED;
  else
    return FALSE;
  if (out_outcome != NULL)
    *out_outcome = outcome;
  if (out_reason != NULL)
    *out_reason = newline[1] != '\0' ? g_strdup (newline + 1) : NULL;
  return TRUE;
}

static void
verdict_remember (const char *project, const char *id, CfTaskOutcome outcome, const char *reason)
{
  G_LOCK (verdicts);
  if (verdicts == NULL)
    verdicts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_replace (verdicts, verdict_key (project, id), verdict_text (outcome, reason));
  G_UNLOCK (verdicts);
}

static void
verdict_forget (const char *project, const char *id)
{
  g_autofree char *key = verdict_key (project, id);
  g_autofree char *path = verdict_path (project, id);

  G_LOCK (verdicts);
  if (verdicts != NULL)
    g_hash_table_remove (verdicts, key);
  G_UNLOCK (verdicts);
  remove_quietly (path, id);
}

/* Best effort: the disk that refused the meta file may refuse this too;
 * the verdict in memory still holds for this run. */
static void
verdict_store (const char *project, const char *id, CfTaskOutcome outcome, const char *reason)
{
  g_autofree char *path = verdict_path (project, id);
  g_autofree char *text = verdict_text (outcome, reason);
  g_autoptr(GError) error = NULL;

  if (!write_durably (path, text, strlen (text), &error))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                      "CF_TASK", id,
                      "MESSAGE", "cannot keep the verdict of %s on disk, only in memory: %s",
                      id, error->message);
}

void
cf_taskq_keep_verdict (const char *project, const char *id, CfTaskOutcome outcome, const char *reason)
{
  if (!check_args (project, id, NULL))
    return;
  verdict_remember (project, id, outcome, reason);
  verdict_store (project, id, outcome, reason);
}

gboolean
cf_taskq_pending_verdict (const char *project,
                          const char *id,
                          CfTaskOutcome *out_outcome,
                          char **out_reason)
{
  g_autofree char *key = NULL;
  g_autofree char *text = NULL;
  g_autofree char *path = NULL;
  gsize length = 0;

  if (!check_args (project, id, NULL))
    return FALSE;
  key = verdict_key (project, id);
  G_LOCK (verdicts);
  if (verdicts != NULL)
    text = g_strdup (g_hash_table_lookup (verdicts, key));
  G_UNLOCK (verdicts);
  if (text != NULL)
    return verdict_parse (text, out_outcome, out_reason);

  path = verdict_path (project, id);
  if (!read_regular (path, VERDICT_MAX_SIZE, &text, &length, NULL) ||
      strlen (text) != length || !g_utf8_validate (text, -1, NULL))
    return FALSE;
  return verdict_parse (text, out_outcome, out_reason);
}

gboolean
cf_taskq_finish (const char *project,
                 const char *id,
                 CfTaskOutcome outcome,
                 const char *reason,
                 const char *footer,
                 gint64 now_usec,
                 GError **error)
{
  GError *local_error = NULL;

  g_return_val_if_fail (outcome == CF_TASK_OUTCOME_DONE || outcome == CF_TASK_OUTCOME_FAILED, FALSE);

  if (!check_args (project, id, error))
    return FALSE;
  verdict_remember (project, id, outcome, reason);
  if (finish_task (project, id, outcome, reason, footer, now_usec, &local_error))
    {
      verdict_forget (project, id);
      return TRUE;
    }
  /* Not in active/ (nor a delegated task in the inbox): settled elsewhere. */
  if (g_error_matches (local_error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
    verdict_forget (project, id);
  else
    verdict_store (project, id, outcome, reason);
  g_propagate_error (error, local_error);
  return FALSE;
}

gboolean
cf_taskq_reject (const char *project,
                 const char *name,
                 const char *reason,
                 gint64 now_usec,
                 GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autofree char *file = NULL;
  g_autofree char *id = NULL;
  g_autofree char *inbox = NULL;
  g_autofree char *failed = NULL;
  g_autofree char *source = NULL;
  g_autofree char *dest = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *note = NULL;
  guint attempts = 0;

  if (!check_project (project, error))
    return FALSE;
  if (name != NULL && !has_md_suffix (name))
    {
      if (!check_id (name, error))
        return FALSE;
      file = g_strconcat (name, ".md", NULL);
    }
  else if (is_plain_file_name (name) && name[0] != '.')
    file = g_strdup (name);
  else
    {
      g_autofree char *shown = name != NULL ? g_strescape (name, NULL) : g_strdup ("");
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT,
                   _("'%s' is not a file name in the inbox"), shown);
      return FALSE;
    }
  id = id_of_task_file (file);

  if (!cf_taskq_ensure_dirs (project, error))
    return FALSE;
  lock = lock_queue (project, error);
  if (lock == NULL)
    return FALSE;

  inbox = place_dir (project, CF_TASK_PLACE_INBOX);
  failed = place_dir (project, CF_TASK_PLACE_FAILED);
  source = g_build_filename (inbox, file, NULL);
  if (!exists_no_follow (source, NULL))
    {
      g_autofree char *shown = g_filename_display_name (file);
      return not_in_place (error, shown, project, "inbox/");
    }

  if (id != NULL)
    {
      g_autoptr(JsonObject) meta = NULL;
      JsonObject *event;

      if (!meta_load (project, id, &meta, &local_error))
        {
          g_autofree char *path = meta_path (project, id);
          g_autofree char *aside = g_strdup_printf ("%s.corrupt-%" G_GINT64_FORMAT, path, now_usec);

          if (!g_error_matches (local_error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_CORRUPT_META))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          /* A rejection must not depend on a file it is about to explain;
           * the reason file tells the operator where the old one went. */
          if (!move_replace (path, aside, error))
            return FALSE;
          note = g_strdup_printf (_("the task's meta file could not be read (%s) and was moved to %s"),
                                  local_error->message, aside);
        }
      if (meta == NULL)
        meta = meta_new (id);
      attempts = meta_attempts (meta);
      set_string_or_null (meta, "last_reason", reason);
      set_time (meta, "finished_at", now_usec);
      event = json_object_new ();
      json_object_set_string_member (event, "event", "reject");
      set_string_or_null (event, "reason", reason);
      meta_update (meta, CF_TASK_PLACE_FAILED, "rejected", now_usec, event);
      if (!meta_store (project, id, meta, error))
        return FALSE;
    }

  if (!write_reason_file (project, file, _("This task file was rejected."), reason, note,
                          attempts, now_usec, error))
    return FALSE;

  dest = g_build_filename (failed, file, NULL);
  if (rename (source, dest) < 0)
    {
      int saved = errno;

      if (saved != EISDIR && saved != ENOTDIR && saved != ENOTEMPTY && saved != EEXIST)
        return set_errno_error (error, dest, saved);
      /* A directory and a file of the same name cannot replace each other;
       * the rejected entry must still leave the inbox. */
      {
        g_autofree char *stem = sanitized_stem (file);
        g_autofree char *unique = g_strdup_printf ("%s.rejected-%" G_GINT64_FORMAT, stem, now_usec);

        g_free (dest);
        dest = g_build_filename (failed, unique, NULL);
        if (!move_no_replace (source, dest, error))
          return FALSE;
      }
    }
  return fsync_parents (source, dest, error);
}

static gboolean
requeue_from (const char *project,
              const char *id,
              const CfTaskPlace *sources,
              guint n_sources,
              const char *source_names,
              gboolean count_attempt,
              gint64 now_usec,
              GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autofree char *source = NULL;
  g_autofree char *dest = NULL;
  g_autoptr(JsonObject) meta = NULL;
  CfTaskPlace from = CF_TASK_PLACE_ABSENT;
  CfTaskPlace recorded = CF_TASK_PLACE_ABSENT;
  gboolean give_back;
  JsonObject *event;

  if (!check_args (project, id, error) || !cf_taskq_ensure_dirs (project, error))
    return FALSE;
  lock = lock_queue (project, error);
  if (lock == NULL)
    return FALSE;

  dest = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, id);
  for (guint i = 0; i < n_sources && from == CF_TASK_PLACE_ABSENT; i++)
    {
      g_autofree char *path = cf_taskq_task_path (project, sources[i], id);

      if (exists_no_follow (path, NULL))
        {
          from = sources[i];
          source = g_steal_pointer (&path);
        }
    }
  if (from == CF_TASK_PLACE_ABSENT)
    return not_in_place (error, id, project, source_names);
  if (from == CF_TASK_PLACE_ACTIVE && cf_taskq_pending_verdict (project, id, NULL, NULL))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_FINISHED,
                   _("task %s is finished; its move out of active/ is being retried"), id);
      return FALSE;
    }
  if (!require_regular (source, error))
    return FALSE;
  if (exists_no_follow (dest, NULL))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS,
                   _("the inbox of %s already holds a task '%s'"), project, id);
      return FALSE;
    }

  if (!meta_load (project, id, &meta, error))
    return FALSE;
  if (meta == NULL)
    meta = meta_new (id);
  place_from_string (string_member (meta, "place"), &recorded);
  /* When the meta file already says "inbox", this requeue was interrupted
   * after its meta write: the attempt was given back then. */
  give_back = !count_attempt && from == CF_TASK_PLACE_ACTIVE && recorded != CF_TASK_PLACE_INBOX &&
              meta_attempts (meta) > 0;
  if (give_back)
    json_object_set_int_member (meta, "attempts", meta_attempts (meta) - 1);
  event = json_object_new ();
  json_object_set_string_member (event, "event", "requeue");
  json_object_set_string_member (event, "from", place_names[from]);
  json_object_set_boolean_member (event, "attempt_counted", !give_back);
  json_object_set_int_member (event, "attempts", meta_attempts (meta));
  meta_update (meta, CF_TASK_PLACE_INBOX,
               count_attempt || from != CF_TASK_PLACE_ACTIVE ? "requeued" : "returned",
               now_usec, event);
  if (!meta_store (project, id, meta, error))
    return FALSE;

  if (!move_no_replace (source, dest, error) || !fsync_parents (source, dest, error))
    return FALSE;

  if (from == CF_TASK_PLACE_FAILED)
    {
      g_autofree char *reason = reason_file_path (project, id);
      remove_quietly (reason, id);
    }
  return TRUE;
}

gboolean
cf_taskq_requeue (const char *project,
                  const char *id,
                  gboolean count_attempt,
                  gint64 now_usec,
                  GError **error)
{
  static const CfTaskPlace sources[] = {
    CF_TASK_PLACE_ACTIVE, CF_TASK_PLACE_FAILED, CF_TASK_PLACE_DONE,
  };

  return requeue_from (project, id, sources, G_N_ELEMENTS (sources), "active/, failed/ or done/",
                       count_attempt, now_usec, error);
}

gboolean
cf_taskq_requeue_active (const char *project,
                         const char *id,
                         gboolean count_attempt,
                         gint64 now_usec,
                         GError **error)
{
  static const CfTaskPlace sources[] = { CF_TASK_PLACE_ACTIVE };

  return requeue_from (project, id, sources, G_N_ELEMENTS (sources), "active/", count_attempt,
                       now_usec, error);
}

/* --- Delegation ---------------------------------------------------------------------- */

gboolean
cf_taskq_mark_delegated (const char *project,
                         const char *id,
                         const char *marker,
                         const char *job_id,
                         const char *provider,
                         gint64 now_usec,
                         GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autofree char *task = NULL;
  g_autofree char *path = NULL;
  g_autoptr(JsonObject) meta = NULL;
  g_autoptr(GError) meta_error = NULL;
  JsonObject *event;

  g_return_val_if_fail (marker != NULL, FALSE);

  if (!check_args (project, id, error) || !cf_taskq_ensure_dirs (project, error))
    return FALSE;
  lock = lock_queue (project, error);
  if (lock == NULL)
    return FALSE;

  task = cf_taskq_task_path (project, CF_TASK_PLACE_INBOX, id);
  path = marker_path (project, id);
  if (!exists_no_follow (task, NULL))
    return not_in_place (error, id, project, "inbox/");
  if (!require_regular (task, error))
    return FALSE;
  if (exists_no_follow (path, NULL))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS,
                   _("task '%s' of %s is already delegated"), id, project);
      return FALSE;
    }
  if (!write_durably (path, marker, strlen (marker), error))
    return FALSE;

  /* The marker is what counts; the history only tells the operator. */
  if (!meta_load (project, id, &meta, &meta_error))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "CF_TASK", id,
                        "MESSAGE", "%s", meta_error->message);
      return TRUE;
    }
  if (meta == NULL)
    meta = meta_new (id);
  event = json_object_new ();
  json_object_set_string_member (event, "event", "delegate");
  set_string_or_null (event, "job_id", job_id);
  set_string_or_null (event, "provider", provider);
  meta_annotate (meta, now_usec, event);
  if (!meta_store (project, id, meta, &meta_error))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "CF_TASK", id,
                      "MESSAGE", "%s", meta_error->message);
  return TRUE;
}

gboolean
cf_taskq_read_delegated (const char *project,
                         const char *id,
                         char **out,
                         gsize *out_length,
                         GError **error)
{
  g_autofree char *path = NULL;
  gsize length = 0;

  g_return_val_if_fail (out != NULL, FALSE);

  if (!check_args (project, id, error))
    return FALSE;
  path = marker_path (project, id);
  return read_regular (path, DELEGATED_MAX_SIZE, out, out_length != NULL ? out_length : &length,
                       error);
}

gboolean
cf_taskq_list_delegated (const char *project, GPtrArray **out_ids, GError **error)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(DIR) dir = NULL;
  g_autofree char *path = NULL;
  struct dirent *entry;

  g_return_val_if_fail (out_ids != NULL, FALSE);

  if (!check_project (project, error))
    return FALSE;
  path = place_dir (project, CF_TASK_PLACE_INBOX);
  if (!open_dir (path, &dir, error))
    return FALSE;
  while ((errno = 0, entry = readdir (dir)) != NULL)
    {
      const char *name = entry->d_name;
      gsize n = strlen (name);
      gsize suffix = strlen (DELEGATED_SUFFIX);
      g_autofree char *id = NULL;

      if (name[0] == '.' || n <= suffix || strcmp (name + n - suffix, DELEGATED_SUFFIX) != 0)
        continue;
      id = g_strndup (name, n - suffix);
      if (cf_task_id_is_valid (id) && is_regular_entry (dir, entry))
        g_ptr_array_add (ids, g_steal_pointer (&id));
    }
  if (errno != 0)
    return set_errno_error (error, path, errno);
  g_ptr_array_sort (ids, compare_strings);
  *out_ids = g_steal_pointer (&ids);
  return TRUE;
}

gboolean
cf_taskq_remove_delegated (const char *project, const char *id, GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;

  if (!check_args (project, id, error))
    return FALSE;
  lock = lock_queue (project, error);
  if (lock == NULL)
    return FALSE;
  path = marker_path (project, id);
  if (g_unlink (path) < 0)
    return errno == ENOENT ? TRUE : set_errno_error (error, path, errno);
  dir = g_path_get_dirname (path);
  return fsync_dir (dir, error);
}

gboolean
cf_taskq_set_local_only (const char *project,
                         const char *id,
                         const char *reason,
                         gint64 now_usec,
                         GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autoptr(JsonObject) meta = NULL;
  JsonObject *event;

  if (!check_args (project, id, error) || !cf_taskq_ensure_dirs (project, error))
    return FALSE;
  lock = lock_queue (project, error);
  if (lock == NULL)
    return FALSE;
  if (!meta_load (project, id, &meta, error))
    return FALSE;
  if (meta == NULL)
    meta = meta_new (id);
  json_object_set_boolean_member (meta, "local_only", TRUE);
  event = json_object_new ();
  json_object_set_string_member (event, "event", "local-only");
  set_string_or_null (event, "reason", reason);
  meta_annotate (meta, now_usec, event);
  return meta_store (project, id, meta, error);
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

  if (!check_project (project, error) || !cf_taskq_ensure_dirs (project, error))
    return FALSE;
  /* Held so recovery never removes the temporary file of a write in flight. */
  lock = lock_queue (project, error);
  if (lock == NULL || !cf_taskq_count (project, &counts, error))
    return FALSE;

  when = format_time (now_usec, FALSE);
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
  path = queue_path (project, STATUS_FILE);
  /* Advisory for monitors: atomic is what matters, not surviving power loss. */
  return g_file_set_contents_full (path, data, (gssize) length, G_FILE_SET_CONTENTS_CONSISTENT,
                                   0644, error);
}

/* g_file_set_contents writes "<target>.XXXXXX" and renames it; a crash
 * in between leaves that name behind. */
static gboolean
is_temp_of (const char *name, const char *target_suffix)
{
  gsize n = strlen (name);
  gsize suffix = strlen (target_suffix);

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

  if (!open_dir (dir_path, &dir, error))
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
          return set_errno_error (error, path, errno);
        }
    }
  if (errno != 0)
    return set_errno_error (error, dir_path, errno);
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
    { "inbox", DELEGATED_SUFFIX },
    { "failed", REASON_SUFFIX },
    { CF_TASKQ_META_DIR, ".json" },
    { CF_TASKQ_META_DIR, VERDICT_SUFFIX },
    { NULL, STATUS_FILE },
  };
  g_autoptr(CfTaskqRecovery) recovery = g_new0 (CfTaskqRecovery, 1);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(CfTaskqLock) lock = NULL;
  g_autoptr(DIR) dir = NULL;
  g_autofree char *meta_dir = NULL;
  struct dirent *entry;

  g_return_val_if_fail (out != NULL, FALSE);

  if (!check_project (project, error) || !cf_taskq_ensure_dirs (project, error))
    return FALSE;
  lock = lock_queue (project, error);
  if (lock == NULL)
    return FALSE;

  recovery->active = g_ptr_array_new_with_free_func (g_free);
  recovery->duplicates = g_ptr_array_new_with_free_func (g_free);
  recovery->orphan_meta = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < G_N_ELEMENTS (temp_kinds); i++)
    {
      g_autofree char *path = queue_path (project, temp_kinds[i].dir);

      if (!remove_temp_files (path, temp_kinds[i].suffix, &recovery->temp_files_removed, error))
        return FALSE;
    }

  for (guint i = 0; i < G_N_ELEMENTS (task_places); i++)
    {
      g_autoptr(GPtrArray) ids = NULL;

      if (!cf_taskq_list (project, task_places[i], &ids, error))
        return FALSE;
      for (guint j = 0; j < ids->len; j++)
        {
          const char *id = g_ptr_array_index (ids, j);
          guint places = GPOINTER_TO_UINT (g_hash_table_lookup (seen, id));

          if (places == 1)
            g_ptr_array_add (recovery->duplicates, g_strdup (id));
          g_hash_table_insert (seen, g_strdup (id), GUINT_TO_POINTER (places + 1));
          if (task_places[i] == CF_TASK_PLACE_ACTIVE)
            g_ptr_array_add (recovery->active, g_strdup (id));
        }
    }

  for (guint i = 0; i < recovery->active->len; i++)
    {
      const char *id = g_ptr_array_index (recovery->active, i);
      g_autoptr(JsonObject) meta = NULL;
      JsonObject *event;

      if (!meta_load (project, id, &meta, error))
        return FALSE;
      if (meta != NULL)
        continue;
      /* It was running, so it had at least this attempt. */
      meta = meta_new (id);
      json_object_set_int_member (meta, "attempts", 1);
      event = json_object_new ();
      json_object_set_string_member (event, "event", "recover");
      meta_update (meta, CF_TASK_PLACE_ACTIVE, "recovered", now_usec, event);
      if (!meta_store (project, id, meta, error))
        return FALSE;
      recovery->meta_created++;
    }

  meta_dir = queue_path (project, CF_TASKQ_META_DIR);
  if (!open_dir (meta_dir, &dir, error))
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
    return set_errno_error (error, meta_dir, errno);
  g_ptr_array_sort (recovery->orphan_meta, compare_strings);

  *out = g_steal_pointer (&recovery);
  return TRUE;
}
