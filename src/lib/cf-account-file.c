/* SPDX-License-Identifier: MIT */
#include "cf-account-file.h"

#include "cf-fault.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCK_POLL_MS 25

void
cf_account_file_options_init (CfAccountFileOptions *options)
{
  options->lock_wait_ms = 5000;
  options->new_mode = 0600;
  options->new_uid = (uid_t) -1;
  options->new_gid = (gid_t) -1;
  options->max_size = 16 * 1024 * 1024;
}

/* FORMAT takes the path, then the reason; a macro, so that it stays a checked literal. */
#define set_errno_error(error, saved_errno, format, path) \
  (g_set_error ((error), G_IO_ERROR, g_io_error_from_errno (saved_errno), (format), (path), \
                g_strerror (saved_errno)), \
   FALSE)

/* --- The lock ---------------------------------------------------------------------- */

static gint64
age_ms (const struct stat *st)
{
  struct timespec now;

  clock_gettime (CLOCK_REALTIME, &now);
  return ((gint64) now.tv_sec - st->st_mtim.tv_sec) * 1000 +
         ((gint64) now.tv_nsec - st->st_mtim.tv_nsec) / 1000000;
}

static gboolean
lock_acquire (const char *lock_path, guint wait_ms, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) wait_ms * 1000;

  for (;;)
    {
      struct stat st;

      if (mkdir (lock_path, 0777) == 0)
        return TRUE;
      if (errno != EEXIST)
        return set_errno_error (error, errno, _("cannot take the lock %s: %s"), lock_path);
      if (lstat (lock_path, &st) == 0 && S_ISDIR (st.st_mode) &&
          age_ms (&st) > CF_ACCOUNT_FILE_LOCK_STALE_MS)
        {
          /* As proper-lockfile does: its holder died. rmdir only removes it
           * if it is still an empty directory. */
          if (rmdir (lock_path) == 0 || errno == ENOENT)
            continue;
        }
      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                       _("Claude Code holds the lock %s (it is writing the file); try again later"),
                       lock_path);
          return FALSE;
        }
      g_usleep (LOCK_POLL_MS * 1000);
    }
}

/* --- The file ---------------------------------------------------------------------- */

typedef struct {
  char *path;                  /* the regular file to replace (a link's target) */
  gboolean exists;
  struct stat st;
} Target;

static void
target_clear (Target *target)
{
  g_clear_pointer (&target->path, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Target, target_clear)

static gboolean
resolve (const char *path, gsize max_size, Target *target, GError **error)
{
  struct stat st;

  target->exists = FALSE;
  if (lstat (path, &st) < 0)
    {
      if (errno == ENOENT)
        {
          target->path = g_strdup (path);
          return TRUE;
        }
      return set_errno_error (error, errno, _("cannot use %s: %s"), path);
    }
  if (S_ISLNK (st.st_mode))
    {
      /* A link into a dotfiles repository stays a link; its target changes. */
      target->path = realpath (path, NULL);
      if (target->path == NULL || stat (target->path, &st) < 0)
        return set_errno_error (error, errno, _("cannot follow the symbolic link %s: %s"), path);
    }
  else
    target->path = g_strdup (path);
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("%s is not a regular file"),
                   target->path);
      return FALSE;
    }
  if ((gsize) st.st_size > max_size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("%s is larger than %lu MiB"),
                   target->path, (unsigned long) (max_size / (1024 * 1024)));
      return FALSE;
    }
  target->exists = TRUE;
  target->st = st;
  return TRUE;
}

static gboolean
write_all (int fd, const char *text, gsize length)
{
  while (length > 0)
    {
      ssize_t n = write (fd, text, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      text += n;
      length -= (gsize) n;
    }
  return TRUE;
}

/* TEXT into a new file beside TARGET, with its mode and owner, then renamed
 * over it. */
static gboolean
replace (const Target *target, const CfAccountFileOptions *options, const char *text,
         GError **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.tmp.%d.%08x%08x", target->path, (int) getpid (),
                                          g_random_int (), g_random_int ());
  mode_t mode = target->exists ? (target->st.st_mode & 07777) : options->new_mode;
  uid_t uid = target->exists ? target->st.st_uid : options->new_uid;
  gid_t gid = target->exists ? target->st.st_gid : options->new_gid;
  int fd;
  int saved_errno;

  fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return set_errno_error (error, errno, _("cannot create %s: %s"), tmp);
  if (fchmod (fd, mode) < 0 ||
      ((uid != (uid_t) -1 || gid != (gid_t) -1) &&
       (uid != geteuid () || gid != getegid ()) && fchown (fd, uid, gid) < 0) ||
      !write_all (fd, text, strlen (text)) || fsync (fd) < 0)
    {
      saved_errno = errno;
      close (fd);
      unlink (tmp);
      return set_errno_error (error, saved_errno, _("cannot write %s: %s"), tmp);
    }
  if (close (fd) < 0 || rename (tmp, target->path) < 0)
    {
      saved_errno = errno;
      unlink (tmp);
      return set_errno_error (error, saved_errno, _("cannot replace %s: %s"), target->path);
    }
  return TRUE;
}

gboolean
cf_account_file_update (const char *path, const CfAccountFileOptions *options,
                        CfAccountFileMergeFunc merge, gpointer user_data, char **written_path,
                        GError **error)
{
  g_auto(Target) target = { 0 };
  g_autofree char *lock_path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *text = NULL;
  gsize length = 0;
  gboolean ok = FALSE;

  if (written_path != NULL)
    *written_path = NULL;
  if (!resolve (path, options->max_size, &target, error))
    return FALSE;
  lock_path = g_strconcat (target.path, ".lock", NULL);
  if (!lock_acquire (lock_path, options->lock_wait_ms, error))
    return FALSE;
  cf_fault_point ("account-file-locked");

  /* Read again under the lock: the file may have changed while we waited. */
  g_clear_pointer (&target.path, g_free);
  if (!resolve (path, options->max_size, &target, error))
    goto out;
  if (target.exists && !g_file_get_contents (target.path, &contents, &length, error))
    goto out;
  if (!merge (contents, length, &text, user_data, error))
    goto out;
  if (text != NULL)
    {
      if (!replace (&target, options, text, error))
        goto out;
      cf_fault_point ("account-file-replaced");
      if (written_path != NULL)
        *written_path = g_strdup (target.path);
    }
  ok = TRUE;

out:
  if (rmdir (lock_path) < 0 && errno != ENOENT && ok)
    return set_errno_error (error, errno, _("cannot release the lock %s: %s"), lock_path);
  return ok;
}
