/* SPDX-License-Identifier: MIT */
#include "cf-account-prep.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf-account-file.h"
#include "cf-build-config.h"
#include "cf-claude-files.h"

#define GLOBAL_NAME ".claude.json"
#define SETTINGS_NAME "settings.json"
#define WORKTREES_SUBDIR ".agent-queue/worktrees"

struct _CfAccountPrep {
  GObject parent_instance;

  CfConfig *config;
  char *ctl_program;
};

G_DEFINE_FINAL_TYPE (CfAccountPrep, cf_account_prep, G_TYPE_OBJECT)

const char *
cf_account_prep_default_ctl_program (void)
{
  const char *path = g_getenv ("CF_CTL_PATH");

  return path != NULL && g_path_is_absolute (path) ? path : BINDIR "/claude-failoverctl";
}

/* --- The work, in a worker thread ------------------------------------------------ */

static void
add_dir (GPtrArray *dirs, GHashTable *seen, const char *dir)
{
  g_autofree char *real = NULL;

  if (dir == NULL || !g_path_is_absolute (dir))
    return;
  if (g_hash_table_add (seen, g_strdup (dir)))
    g_ptr_array_add (dirs, g_strdup (dir));
  /* Claude sees the working directory by its real path. */
  real = realpath (dir, NULL);
  if (real != NULL && g_hash_table_add (seen, g_strdup (real)))
    g_ptr_array_add (dirs, g_steal_pointer (&real));
}

static void
add_project (GPtrArray *dirs, GHashTable *seen, const char *project)
{
  g_autofree char *worktrees = NULL;

  if (project == NULL)
    return;
  add_dir (dirs, seen, project);
  worktrees = g_build_filename (project, WORKTREES_SUBDIR, NULL);
  add_dir (dirs, seen, worktrees);
}

static int
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

/* Every project directory of CONFIG, NULL-terminated. Reads projects.dir. */
static GStrv
configured_project_dirs (const CfConfig *config)
{
  g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (config->projects_dir != NULL)
    {
      g_autoptr(GDir) dir = g_dir_open (config->projects_dir, 0, NULL);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (config->projects_dir, name, NULL);

          if (name[0] != '.' && g_file_test (path, G_FILE_TEST_IS_DIR))
            g_ptr_array_add (names, g_steal_pointer (&path));
        }
      g_ptr_array_sort (names, compare_paths);
      for (guint i = 0; i < names->len; i++)
        add_project (dirs, seen, g_ptr_array_index (names, i));
    }
  for (guint i = 0; config->projects_extra[i] != NULL; i++)
    add_project (dirs, seen, config->projects_extra[i]);
  for (guint i = 0; i < config->dedicated->len; i++)
    add_project (dirs, seen, ((CfDedicatedConfig *) g_ptr_array_index (config->dedicated, i))->project);
  g_ptr_array_add (dirs, NULL);
  return (GStrv) g_ptr_array_steal (dirs, NULL);
}

typedef struct {
  const char *const *project_dirs;
  const char *program;
  CfClaudeChanges changes;
} MergeData;

static gboolean
merge_global (const char *text, gsize length, char **out_text, gpointer user_data, GError **error)
{
  MergeData *data = user_data;

  return cf_claude_files_merge_global_text (text != NULL ? text : "", length, data->project_dirs,
                                            out_text, &data->changes, error);
}

static gboolean
merge_settings (const char *text, gsize length, char **out_text, gpointer user_data,
                GError **error)
{
  MergeData *data = user_data;

  return cf_claude_files_merge_settings_text (text != NULL ? text : "", length, data->program,
                                              out_text, &data->changes, error);
}

/* Merges into HOME/NAME; appends to PARTS what changed, or why not. */
static gboolean
update_file (const char *home, const struct stat *home_st, const char *name,
             CfAccountFileMergeFunc merge, MergeData *data, GPtrArray *parts, gboolean *changed)
{
  g_autofree char *path = g_build_filename (home, name, NULL);
  g_autoptr(GError) error = NULL;
  CfAccountFileOptions options;

  cf_account_file_options_init (&options);
  /* The daemon's preparation runs in a worker thread and may wait past the
   * staleness age: a lock left by a holder that died (a daemon killed while
   * writing, restarted at once) is then taken over instead of failing. */
  options.lock_wait_ms = CF_ACCOUNT_FILE_LOCK_STALE_MS + 2000;
  /* Root's daemon (tests, odd setups) makes files the account's owner can use. */
  if (geteuid () == 0)
    {
      options.new_uid = home_st->st_uid;
      options.new_gid = home_st->st_gid;
    }
  cf_claude_changes_init (&data->changes);
  if (!cf_account_file_update (path, &options, merge, data, NULL, &error))
    {
      /* TRANSLATORS: a file name, then why it could not be changed */
      g_ptr_array_add (parts, g_strdup_printf (_("cannot change %s: %s"), name, error->message));
      cf_claude_changes_clear (&data->changes);
      return FALSE;
    }
  if (cf_claude_changes_any (&data->changes))
    {
      g_autofree char *what = cf_claude_changes_describe (&data->changes);
      g_ptr_array_add (parts, g_strdup_printf ("%s: %s", name, what));
      *changed = TRUE;
    }
  cf_claude_changes_clear (&data->changes);
  return TRUE;
}

static gboolean
program_is_usable (const char *program)
{
  return program != NULL && g_path_is_absolute (program) &&
         g_file_test (program, G_FILE_TEST_IS_REGULAR) && access (program, X_OK) == 0;
}

/* Prepares one home; the line says what happened. */
static gboolean
prepare_home (const char *label, const char *home, const char *const *project_dirs,
              const char *ctl_program, char **line)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *joined = NULL;
  MergeData data = { project_dirs, NULL, { 0 } };
  struct stat home_st;
  gboolean ok = TRUE;
  gboolean changed = FALSE;

  if (stat (home, &home_st) < 0 || !S_ISDIR (home_st.st_mode))
    {
      int saved_errno = errno;

      if (saved_errno == 0 || access (home, F_OK) == 0)
        saved_errno = ENOTDIR;

      /* TRANSLATORS: account label, its home, why; then how to fix it */
      *line = g_strdup_printf (_("%s: cannot prepare %s: %s (log in once with "
                                 "CLAUDE_CONFIG_DIR=%s claude)"),
                               label, home, g_strerror (saved_errno), home);
      return FALSE;
    }
  ok &= update_file (home, &home_st, GLOBAL_NAME, merge_global, &data, parts, &changed);
  if (program_is_usable (ctl_program))
    data.program = ctl_program;
  ok &= update_file (home, &home_st, SETTINGS_NAME, merge_settings, &data, parts, &changed);
  if (data.program == NULL)
    /* TRANSLATORS: %s is the path of claude-failoverctl */
    g_ptr_array_add (parts, g_strdup_printf (_("hooks and statusline not installed: %s is not "
                                               "an executable file"),
                                             ctl_program != NULL ? ctl_program : "claude-failoverctl"));
  if (parts->len == 0)
    /* TRANSLATORS: account label, then its home */
    return *line = g_strdup_printf (_("%s: %s already prepared"), label, home), TRUE;
  g_ptr_array_add (parts, NULL);
  joined = g_strjoinv ("; ", (char **) parts->pdata);
  if (changed)
    /* TRANSLATORS: account label, its home, then what changed */
    *line = g_strdup_printf (_("%s: prepared %s: %s"), label, home, joined);
  else
    /* TRANSLATORS: account label, its home, then what could not change */
    *line = g_strdup_printf (_("%s: %s: %s"), label, home, joined);
  return ok && data.program != NULL;
}

static void
report_free (CfAccountPrepReport *report)
{
  g_free (report->account);
  g_free (report->line);
  g_free (report);
}

GPtrArray *
cf_account_prep_all_sync (CfConfig *config, const char *ctl_program)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func ((GDestroyNotify) report_free);
  g_auto(GStrv) dirs = NULL;

  if (!config->prepare_accounts)
    return lines;
  dirs = configured_project_dirs (config);
  for (guint i = 0; i < config->accounts->len; i++)
    {
      const CfAccountConfig *account = g_ptr_array_index (config->accounts, i);
      /* TRANSLATORS: %s is an account name */
      g_autofree char *label = g_strdup_printf (_("account %s"), account->name);
      CfAccountPrepReport *report = g_new0 (CfAccountPrepReport, 1);

      report->account = g_strdup (account->name);
      report->ok = prepare_home (label, account->home, (const char *const *) dirs, ctl_program,
                                 &report->line);
      g_ptr_array_add (lines, report);
    }
  return lines;
}

typedef struct {
  CfConfig *config;
  char *ctl_program;
  char *home;
  char *project_dir;
} Job;

static void
job_free (Job *job)
{
  g_clear_pointer (&job->config, cf_config_unref);
  g_free (job->ctl_program);
  g_free (job->home);
  g_free (job->project_dir);
  g_free (job);
}

static void
all_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Job *job = task_data;
  GPtrArray *lines = cf_account_prep_all_sync (job->config, job->ctl_program);

  g_task_return_pointer (task, lines, (GDestroyNotify) g_ptr_array_unref);
}

static Job *
job_new (CfAccountPrep *self)
{
  Job *job = g_new0 (Job, 1);

  job->config = cf_config_ref (self->config);
  job->ctl_program = g_strdup (self->ctl_program);
  return job;
}

void
cf_account_prep_all_async (CfAccountPrep *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, cf_account_prep_all_async);
  g_task_set_task_data (task, job_new (self), (GDestroyNotify) job_free);
  g_task_run_in_thread (task, all_thread);
}

GPtrArray *
cf_account_prep_all_finish (CfAccountPrep *self, GAsyncResult *result)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), NULL);
}

static void
ensure_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Job *job = task_data;
  g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *line = NULL;

  if (g_task_return_error_if_cancelled (task))
    return;
  add_project (dirs, seen, job->project_dir);
  g_ptr_array_add (dirs, NULL);
  if (prepare_home (_("account home"), job->home, (const char *const *) dirs->pdata,
                    job->ctl_program, &line))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", line);
}

void
cf_account_prep_ensure_async (CfAccountPrep *self, const char *account_home,
                              const char *project_dir, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  Job *job;

  g_task_set_source_tag (task, cf_account_prep_ensure_async);
  if (!self->config->prepare_accounts)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (account_home == NULL || !g_path_is_absolute (account_home) || project_dir == NULL ||
      !g_path_is_absolute (project_dir))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               _("an account home and a project directory must be absolute paths"));
      return;
    }
  job = job_new (self);
  job->home = g_strdup (account_home);
  job->project_dir = g_strdup (project_dir);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  g_task_run_in_thread (task, ensure_thread);
}

gboolean
cf_account_prep_ensure_finish (CfAccountPrep *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- The object -------------------------------------------------------------------- */

void
cf_account_prep_set_config (CfAccountPrep *self, CfConfig *config)
{
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
}

const char *
cf_account_prep_get_ctl_program (CfAccountPrep *self)
{
  return self->ctl_program;
}

static void
cf_account_prep_finalize (GObject *object)
{
  CfAccountPrep *self = CF_ACCOUNT_PREP (object);

  g_clear_pointer (&self->config, cf_config_unref);
  g_free (self->ctl_program);
  G_OBJECT_CLASS (cf_account_prep_parent_class)->finalize (object);
}

static void
cf_account_prep_class_init (CfAccountPrepClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cf_account_prep_finalize;
}

static void
cf_account_prep_init (CfAccountPrep *self)
{
}

CfAccountPrep *
cf_account_prep_new (CfConfig *config, const char *ctl_program)
{
  CfAccountPrep *self = g_object_new (CF_TYPE_ACCOUNT_PREP, NULL);

  self->config = cf_config_ref (config);
  self->ctl_program = g_strdup (ctl_program);
  return self;
}
