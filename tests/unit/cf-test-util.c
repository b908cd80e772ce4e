/* SPDX-License-Identifier: MIT */
#include "cf-test-util.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

char *
cf_test_make_tmpdir (const char *tmpl)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp (tmpl, &error);

  g_assert_no_error (error);
  return dir;
}

void
cf_test_remove_tree (const char *path)
{
  struct stat st;

  if (lstat (path, &st) < 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          cf_test_remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

void
cf_test_write_file (const char *path, const char *text)
{
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

GLogWriterOutput
cf_test_record_warnings (GLogLevelFlags level,
                         const GLogField *fields,
                         gsize n_fields,
                         gpointer array)
{
  GPtrArray *warnings = array;

  if (level & G_LOG_LEVEL_WARNING)
    {
      for (gsize i = 0; i < n_fields; i++)
        if (g_str_equal (fields[i].key, "MESSAGE"))
          g_ptr_array_add (warnings, g_strdup (fields[i].value));
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, NULL);
}

gboolean
cf_test_run_until (gpointer fixture, CfTestCondition cond, gconstpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!cond (fixture, data))
    {
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      if (!cond (fixture, data))
        g_usleep (1000);
    }
  return TRUE;
}

static gboolean
never (gpointer fixture, gconstpointer data)
{
  return FALSE;
}

void
cf_test_run_for (guint ms)
{
  cf_test_run_until (NULL, never, NULL, ms);
}
