/* SPDX-License-Identifier: MIT */
/* The queue's durable file helpers, the only place its files are written,
 * renamed, fsynced and opened for reading: atomic writes with the one
 * temporary-file name recovery cleans, fsync of directories, renames that
 * do or do not replace, and reads that never follow a symlink nor block on
 * a FIFO. Used by the cf-taskq*.c files only (cf-taskq-private.h). */
#include "cf-taskq-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "cf-fault.h"

/* --- Durable file-system primitives --------------------------------------------- */

/* A rename is durable only once the directories holding the old and the new
 * entry are; fsync on a directory fd is how Linux makes them so. */
gboolean
taskq_fsync_dir (const char *path, GError **error)
{
  g_auto(FileDescriptor) fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    return taskq_errno_error (error, path, errno);
  /* Some file systems cannot sync a directory; they also have nothing to lose. */
  if (fsync (fd) < 0 && errno != EINVAL && errno != EROFS)
    return taskq_errno_error (error, path, errno);
  return TRUE;
}

gboolean
taskq_fsync_parents (const char *a, const char *b, GError **error)
{
  g_autofree char *dir_a = g_path_get_dirname (a);
  g_autofree char *dir_b = g_path_get_dirname (b);

  if (!taskq_fsync_dir (dir_b, error))
    return FALSE;
  return strcmp (dir_a, dir_b) == 0 || taskq_fsync_dir (dir_a, error);
}

/* --- Atomic writes ----------------------------------------------------------------- */

gboolean
taskq_is_temp_name (const char *name)
{
  const char *infix;
  gsize n = strlen (name);

  if (name[0] != '.' || n < strlen (TASKQ_TEMP_INFIX) + 8)
    return FALSE;
  infix = name + n - 6 - strlen (TASKQ_TEMP_INFIX);
  if (strncmp (infix, TASKQ_TEMP_INFIX, strlen (TASKQ_TEMP_INFIX)) != 0)
    return FALSE;
  for (gsize i = n - 6; i < n; i++)
    if (!g_ascii_isalnum (name[i]))
      return FALSE;
  return TRUE;
}

/* Creates "<dir>/.<base>.cftmp-XXXXXX" exclusively; *out_path is its name. */
static int
open_temp (const char *path, char **out_path, GError **error)
{
  static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);

  for (guint attempt = 0; attempt < 100; attempt++)
    {
      char suffix[7];
      g_autofree char *name = NULL;
      g_autofree char *temp = NULL;
      int fd;

      for (guint i = 0; i < 6; i++)
        suffix[i] = letters[g_random_int_range (0, sizeof letters - 1)];
      suffix[6] = '\0';
      name = g_strconcat (".", base, TASKQ_TEMP_INFIX, suffix, NULL);
      temp = g_build_filename (dir, name, NULL);
      fd = open (temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
      if (fd >= 0)
        {
          *out_path = g_steal_pointer (&temp);
          return fd;
        }
      if (errno != EEXIST)
        {
          taskq_errno_error (error, temp, errno);
          return -1;
        }
    }
  taskq_errno_error (error, path, EEXIST);
  return -1;
}

static gboolean
write_all (int fd, const char *path, const char *data, gsize length, GError **error)
{
  while (length > 0)
    {
      ssize_t n = write (fd, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return taskq_errno_error (error, path, errno);
      data += n;
      length -= (gsize) n;
    }
  return TRUE;
}

gboolean
taskq_write_atomic (const char *path, const char *data, gsize length, TaskqWriteMode mode,
                    GError **error)
{
  g_autofree char *temp = NULL;
  g_autofree char *dir = g_path_get_dirname (path);
  g_auto(FileDescriptor) fd = open_temp (path, &temp, error);
  gboolean moved;

  if (fd < 0)
    return FALSE;
  if (!write_all (fd, temp, data, length, error))
    goto fail;
  if ((mode & TASKQ_WRITE_NOT_DURABLE) == 0 && fsync (fd) < 0)
    {
      taskq_errno_error (error, temp, errno);
      goto fail;
    }
  if (close (g_steal_fd (&fd)) < 0)
    {
      taskq_errno_error (error, temp, errno);
      goto fail;
    }
  /* The file is durable under its temporary name: a crash from here to
   * the rename leaves what recovery removes. */
  cf_fault_point ("taskq-write-temp");
  if ((mode & TASKQ_WRITE_NO_REPLACE) != 0)
    moved = taskq_move_no_replace (temp, path, error);
  else
    moved = taskq_move_replace (temp, path, error);
  if (!moved)
    goto fail;
  return (mode & TASKQ_WRITE_NOT_DURABLE) != 0 || taskq_fsync_dir (dir, error);

fail:
  (void) g_unlink (temp);
  return FALSE;
}

gboolean
taskq_write_durably (const char *path, const char *data, gsize length, GError **error)
{
  return taskq_write_atomic (path, data, length, TASKQ_WRITE_REPLACE, error);
}

/* --- Renames ------------------------------------------------------------------------ */

/* rename(2) that refuses to replace: a second copy of a running task must
 * never overwrite the first. */
gboolean
taskq_move_no_replace (const char *from, const char *to, GError **error)
{
  if (renameat2 (AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
    return TRUE;
  if (errno != EINVAL && errno != ENOSYS)
    return taskq_errno_error (error, errno == ENOENT ? from : to, errno);

  /* The file system has no RENAME_NOREPLACE; the queue lock still keeps
   * our own callers from racing between this check and the rename. */
  {
    struct stat st;

    if (lstat (to, &st) == 0)
      return taskq_errno_error (error, to, EEXIST);
  }
  if (rename (from, to) < 0)
    return taskq_errno_error (error, errno == ENOENT ? from : to, errno);
  return TRUE;
}

gboolean
taskq_move_replace (const char *from, const char *to, GError **error)
{
  if (rename (from, to) < 0)
    return taskq_errno_error (error, errno == ENOENT ? from : to, errno);
  return TRUE;
}

const char *
taskq_file_kind (mode_t mode)
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

gboolean
taskq_set_not_regular (GError **error, const char *path, mode_t mode)
{
  g_autofree char *shown = g_filename_display_name (path);

  /* TRANSLATORS: %s after "is" is e.g. "a symbolic link" or "a FIFO" */
  g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_REGULAR,
               _("%s: is %s, not a regular file"), shown, taskq_file_kind (mode));
  return FALSE;
}

/* Opens PATH for reading without following a symlink or blocking on a FIFO,
 * and checks it is a regular file of at most MAX bytes. */
int
taskq_open_regular (const char *path, gsize max, struct stat *st, GError **error)
{
  g_auto(FileDescriptor) fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

  if (fd < 0)
    {
      int saved = errno;
      struct stat lst;

      if ((saved == ELOOP || saved == ENXIO) && lstat (path, &lst) == 0)
        taskq_set_not_regular (error, path, lst.st_mode);
      else
        taskq_errno_error (error, path, saved);
      return -1;
    }
  if (fstat (fd, st) < 0)
    {
      taskq_errno_error (error, path, errno);
      return -1;
    }
  if (!S_ISREG (st->st_mode))
    {
      taskq_set_not_regular (error, path, st->st_mode);
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
gboolean
taskq_read_regular (const char *path, gsize max, char **out_data, gsize *out_length, GError **error)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  g_auto(FileDescriptor) fd = -1;
  struct stat st;

  fd = taskq_open_regular (path, max, &st, error);
  if (fd < 0)
    return FALSE;
  for (;;)
    {
      guint8 buffer[65536];
      ssize_t n = read (fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return taskq_errno_error (error, path, errno);
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

/* --- Looking without following ----------------------------------------------------- */

gboolean
taskq_require_regular (const char *path, GError **error)
{
  struct stat st;

  if (lstat (path, &st) < 0)
    return taskq_errno_error (error, path, errno);
  if (!S_ISREG (st.st_mode))
    return taskq_set_not_regular (error, path, st.st_mode);
  return TRUE;
}

gboolean
taskq_exists_no_follow (const char *path, struct stat *st)
{
  struct stat local;

  return lstat (path, st != NULL ? st : &local) == 0;
}

gboolean
taskq_open_dir (const char *path, DIR **out, GError **error)
{
  DIR *dir = opendir (path);

  if (dir == NULL)
    return taskq_errno_error (error, path, errno);
  *out = dir;
  return TRUE;
}

/* For files whose removal only tidies up: a failure is logged, not fatal. */
void
taskq_remove_quietly (const char *path, const char *id)
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
