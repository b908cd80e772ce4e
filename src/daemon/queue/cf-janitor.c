/* SPDX-License-Identifier: MIT */
#include "cf-janitor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gi18n.h>
#include <unistd.h>

#include "cf-taskq.h"
#include "cf-worktree.h"

#define DONE_SIGNAL_PREFIX "agent-done-"
#define QUEUE_META_DIR "meta"

struct _CfJanitor {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfInbox *inbox;
  GCancellable *cancellable;   /* non-NULL while started */

  GHashTable *suspects;        /* "project\ttask" → Suspect*, from the last pass */
  GHashTable *problems;        /* project → its warning at the last pass */
  guint timer_id;
  gboolean first_pending;      /* the timer is the shorter first one */
  gpointer pass_in_flight;
  gboolean again;
  guint64 passes;
};

G_DEFINE_FINAL_TYPE (CfJanitor, cf_janitor, G_TYPE_OBJECT)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DIR, closedir)

/* An active task that no session had at some pass. */
typedef struct {
  gint64 first_seen;           /* snapshot time of the pass that first saw it so */
  gint64 meta_updated_at;      /* its meta file's last recorded move then */
} Suspect;

/* What one pass needs, copied on the main loop: the thread sees no object. */
typedef struct {
  GCancellable *cancellable;
  GPtrArray *projects;         /* char* */
  GHashTable *in_use;          /* "project\ttask" of the sessions working */
  gint64 snapshot_time;        /* µs since the epoch, when IN_USE was taken */
  GHashTable *suspects;        /* the previous pass's, read-only here */
  GHashTable *new_suspects;    /* this pass's */
  GHashTable *problems;        /* project → warning, the previous pass's, read-only */
  GHashTable *new_problems;    /* this pass's */
  gint64 grace_usec;
  gint64 stale_age_usec;
  guint max_attempts;
  CfKeepWorktrees keep_worktrees;
  char *signal_dir;            /* NULL = none */

  guint requeued;
  guint failed;
  guint meta_removed;
  guint signals_removed;
} Pass;

static void
pass_free (Pass *pass)
{
  g_clear_object (&pass->cancellable);
  g_ptr_array_unref (pass->projects);
  g_hash_table_unref (pass->in_use);
  g_hash_table_unref (pass->suspects);
  g_hash_table_unref (pass->new_suspects);
  g_hash_table_unref (pass->problems);
  g_hash_table_unref (pass->new_problems);
  g_free (pass->signal_dir);
  g_free (pass);
}

static void
log_task (GLogLevelFlags level, const char *project, const char *id, const char *session,
          const char *text)
{
  if (session != NULL && *session != '\0')
    g_log_structured (G_LOG_DOMAIN, level,
                      "CF_TASK", id,
                      "CF_PROJECT", project,
                      "CF_SESSION", session,
                      "MESSAGE", "%s: %s: %s", project, id, text);
  else
    g_log_structured (G_LOG_DOMAIN, level,
                      "CF_TASK", id,
                      "CF_PROJECT", project,
                      "MESSAGE", "%s: %s: %s", project, id, text);
}

static void
log_project (GLogLevelFlags level, const char *project, const char *text)
{
  g_log_structured (G_LOG_DOMAIN, level,
                    "CF_PROJECT", project,
                    "MESSAGE", "%s: %s", project, text);
}

/* A project's queue cannot be tidied (disk full, permissions): warned about
 * once, not at every pass, and told when it works again. Two failures are the
 * same when their error is (messages may name a fresh temporary file). */
static void
project_problem (Pass *pass, const char *project, const GError *error)
{
  const char *before = g_hash_table_lookup (pass->problems, project);

  if (error != NULL)
    {
      g_autofree char *kind = g_strdup_printf ("%s:%d", g_quark_to_string (error->domain),
                                               error->code);

      log_project (g_strcmp0 (before, kind) == 0 ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_WARNING,
                   project, error->message);
      g_hash_table_insert (pass->new_problems, g_strdup (project), g_steal_pointer (&kind));
    }
  else if (before != NULL)
    log_project (G_LOG_LEVEL_MESSAGE, project, "the queue can be tidied again");
}

static GHashTable *
problems_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* ---- worker thread ------------------------------------------------------ */

static char *
in_use_key (const char *project, const char *task)
{
  return g_strconcat (project, "\t", task, NULL);
}

static GHashTable *
suspects_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* An active task nobody works on goes back to the inbox, or to failed/ when
 * it has had all its attempts. The same answer is needed from two passes
 * GRACE apart with no move recorded in between: one snapshot can miss a
 * session that is about to publish its claim, or a finish still on its way
 * to done/. */
static void
release_task (Pass *pass, const char *project, const char *id)
{
  g_autofree char *key = in_use_key (project, id);
  g_autoptr(CfTaskMeta) meta = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  const char *session = NULL;
  gint64 now = g_get_real_time ();
  g_autofree char *verdict_reason = NULL;
  CfTaskOutcome outcome;
  gint64 updated_at;
  Suspect *before;
  gboolean give_up;

  if (g_hash_table_contains (pass->in_use, key))
    return;
  if (cf_taskq_pending_verdict (project, id, &outcome, &verdict_reason))
    {
      /* Finished, but its move failed: settle it with its own verdict
       * (and its worktree's footer, when a crash interrupted that). */
      g_autofree char *footer = cf_worktree_conclude (project, id, outcome == CF_TASK_OUTCOME_FAILED,
                                                      pass->keep_worktrees);
      if (cf_taskq_finish (project, id, outcome, verdict_reason, footer, now, &error))
        log_task (G_LOG_LEVEL_MESSAGE, project, id, NULL,
                  outcome == CF_TASK_OUTCOME_DONE ? "finished task moved to done/ at last"
                                                  : "finished task moved to failed/ at last");
      else if (!g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
        {
          g_autofree char *message =
            g_strdup_printf ("finished task still cannot leave active/: %s", error->message);
          log_task (G_LOG_LEVEL_INFO, project, id, NULL, message);
        }
      return;
    }
  if (!cf_taskq_read_meta (project, id, &meta, &error))
    {
      /* Without its history the attempt count is unknown: the operator decides. */
      log_task (G_LOG_LEVEL_WARNING, project, id, NULL, error->message);
      return;
    }
  updated_at = meta != NULL ? meta->updated_at_usec : 0;
  before = g_hash_table_lookup (pass->suspects, key);
  if (before == NULL || before->meta_updated_at != updated_at ||
      pass->snapshot_time - before->first_seen < pass->grace_usec)
    {
      Suspect *suspect = g_new0 (Suspect, 1);

      suspect->first_seen = before != NULL && before->meta_updated_at == updated_at ?
                            before->first_seen : pass->snapshot_time;
      suspect->meta_updated_at = updated_at;
      g_hash_table_insert (pass->new_suspects, g_steal_pointer (&key), suspect);
      return;
    }

  if (meta != NULL)
    session = meta->session;
  give_up = meta != NULL && meta->attempts >= pass->max_attempts;
  if (give_up)
    {
      /* TRANSLATORS: goes to failed/<id>.reason.txt, read by the operator */
      g_autofree char *reason =
        g_strdup_printf (_("no session was working on it; gave up after %u attempts"),
                         meta->attempts);
      if (cf_taskq_finish (project, id, CF_TASK_OUTCOME_FAILED, reason, NULL, now, &error))
        {
          pass->failed++;
          text = g_strdup_printf ("active without a session, moved to failed/ after %u attempts",
                                  meta->attempts);
        }
    }
  else if (cf_taskq_requeue_active (project, id, TRUE, now, &error))
    {
      pass->requeued++;
      text = g_strdup ("active without a session, requeued (attempt counted)");
    }

  if (text != NULL)
    log_task (G_LOG_LEVEL_MESSAGE, project, id, session, text);
  else if (!g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
    {
      /* NOT_FOUND: it finished meanwhile. */
      g_autofree char *message = g_strdup_printf ("active without a session, cannot release it: %s",
                                                  error->message);
      log_task (G_LOG_LEVEL_WARNING, project, id, session, message);
    }
}

/* The meta file of a task that is in no directory. Kept for a while (an
 * operator may still be moving the task by hand), then removed under the
 * queue lock, after checking again that the task did not come back. */
static void
remove_orphan_meta (Pass *pass, const char *project, const char *id)
{
  g_autofree char *name = g_strconcat (id, ".json", NULL);
  g_autofree char *path = g_build_filename (project, CF_TASKQ_QUEUE_DIR, QUEUE_META_DIR, name,
                                            NULL);
  gint64 now = g_get_real_time ();
  g_autoptr(GError) error = NULL;
  struct stat st;
  CfTaskqLock *lock;

  if (lstat (path, &st) < 0 || !S_ISREG (st.st_mode))
    return;
  if (now - ((gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000) <
      pass->stale_age_usec)
    return;

  lock = cf_taskq_lock (project, &error);
  if (lock == NULL)
    {
      g_autofree char *text = g_strdup_printf ("cannot lock the queue: %s", error->message);
      log_project (G_LOG_LEVEL_WARNING, project, text);
      return;
    }
  if (cf_taskq_locate (project, id) == CF_TASK_PLACE_ABSENT)
    {
      if (unlink (path) == 0)
        {
          pass->meta_removed++;
          log_task (G_LOG_LEVEL_INFO, project, id, NULL,
                    "removed the meta file of a task that no longer exists");
        }
      else if (errno != ENOENT)
        {
          g_autofree char *text = g_strdup_printf ("cannot remove %s: %s", path,
                                                   g_strerror (errno));
          log_task (G_LOG_LEVEL_WARNING, project, id, NULL, text);
        }
    }
  cf_taskq_unlock (lock);
}

/* Tasks in the inbox that a remote job has (their marker is next to them). */
static guint
count_delegated (const char *project)
{
  g_autoptr(GPtrArray) ids = NULL;
  guint n = 0;

  if (!cf_taskq_list_delegated (project, &ids, NULL))
    return 0;
  for (guint i = 0; i < ids->len; i++)
    if (cf_taskq_locate (project, g_ptr_array_index (ids, i)) == CF_TASK_PLACE_INBOX)
      n++;
  return n;
}

static gboolean
task_exists (const char *project, const char *id)
{
  return cf_taskq_locate (project, id) != CF_TASK_PLACE_ABSENT;
}

static void
tidy_project (Pass *pass, const char *project)
{
  guint pruned;
  g_autoptr(CfTaskqRecovery) recovery = NULL;
  g_autoptr(GError) error = NULL;

  if (!cf_taskq_recover (project, g_get_real_time (), &recovery, &error))
    {
      project_problem (pass, project, error);
      return;
    }
  if (recovery->temp_files_removed > 0)
    {
      g_autofree char *text = g_strdup_printf ("removed %u temporary files of interrupted writes",
                                               recovery->temp_files_removed);
      log_project (G_LOG_LEVEL_INFO, project, text);
    }
  for (guint i = 0; i < recovery->duplicates->len; i++)
    log_task (G_LOG_LEVEL_WARNING, project, g_ptr_array_index (recovery->duplicates, i), NULL,
              "the task is in several queue directories; the operator must keep one");

  for (guint i = 0; i < recovery->active->len; i++)
    release_task (pass, project, g_ptr_array_index (recovery->active, i));
  for (guint i = 0; i < recovery->orphan_meta->len; i++)
    remove_orphan_meta (pass, project, g_ptr_array_index (recovery->orphan_meta, i));
  /* A worktree outlives its task only when the task file was deleted:
   * the worktree goes, its branch cf/<id> stays for the operator. */
  pruned = cf_worktree_prune (project, task_exists);
  if (pruned > 0)
    {
      g_autofree char *text = g_strdup_printf ("removed %u worktrees of tasks that no longer exist "
                                               "(their branches are kept)", pruned);
      log_project (G_LOG_LEVEL_MESSAGE, project, text);
    }

  if (!cf_taskq_write_status (project, count_delegated (project), g_get_real_time (), &error))
    project_problem (pass, project, error);
  else
    project_problem (pass, project, NULL);
}

static void
sweep_done_signals (Pass *pass)
{
  g_autoptr(DIR) dir = NULL;
  struct dirent *entry;
  gint64 now = g_get_real_time ();
  uid_t uid = geteuid ();

  dir = opendir (pass->signal_dir);
  if (dir == NULL)
    {
      int saved = errno;

      if (saved != ENOENT)
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                          "MESSAGE", "%s: cannot sweep done signals: %s", pass->signal_dir,
                          g_strerror (saved));
      return;
    }
  while ((errno = 0, entry = readdir (dir)) != NULL)
    {
      const char *name = entry->d_name;
      g_autofree char *shown = NULL;
      struct stat st;

      if (strncmp (name, DONE_SIGNAL_PREFIX, strlen (DONE_SIGNAL_PREFIX)) != 0)
        continue;
      if (fstatat (dirfd (dir), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      shown = g_build_filename (pass->signal_dir, name, NULL);
      if (S_ISLNK (st.st_mode))
        {
          /* Nobody legitimate links here: following it would let anyone who
           * can write the directory make us act on another file. */
          if (unlinkat (dirfd (dir), name, 0) == 0)
            g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                              "MESSAGE", "%s: a symbolic link where done signals go: removed "
                              "without following it", shown);
          continue;
        }
      if (!S_ISREG (st.st_mode) || st.st_uid != uid)
        continue;
      if (now - ((gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000) <
          pass->stale_age_usec)
        continue;
      if (unlinkat (dirfd (dir), name, 0) == 0)
        {
          pass->signals_removed++;
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                            "MESSAGE", "%s: stale done signal removed", shown);
        }
      else if (errno != ENOENT)
        {
          int saved = errno;

          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                            "MESSAGE", "%s: cannot remove a stale done signal: %s", shown,
                            g_strerror (saved));
        }
    }
}

static void
pass_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Pass *pass = task_data;

  for (guint i = 0; i < pass->projects->len; i++)
    {
      if (g_cancellable_is_cancelled (pass->cancellable))
        break;
      tidy_project (pass, g_ptr_array_index (pass->projects, i));
    }
  if (pass->signal_dir != NULL && !g_cancellable_is_cancelled (pass->cancellable))
    sweep_done_signals (pass);
  g_task_return_boolean (task, TRUE);
}

/* ---- main loop ---------------------------------------------------------- */

static void start_pass (CfJanitor *self);

static void
on_pass_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CfJanitor *self = CF_JANITOR (source);
  Pass *pass = g_task_get_task_data (G_TASK (result));

  if (self->pass_in_flight != pass)
    return;                    /* stopped meanwhile */
  self->pass_in_flight = NULL;
  self->passes++;
  g_hash_table_unref (self->suspects);
  self->suspects = g_hash_table_ref (pass->new_suspects);
  g_hash_table_unref (self->problems);
  self->problems = g_hash_table_ref (pass->new_problems);
  g_debug ("janitor: pass %" G_GUINT64_FORMAT " over %u projects: %u requeued, %u failed, "
           "%u meta files and %u done signals removed, %u active tasks to confirm",
           self->passes, pass->projects->len, pass->requeued, pass->failed,
           pass->meta_removed, pass->signals_removed, g_hash_table_size (pass->new_suspects));
  if (self->again)
    {
      self->again = FALSE;
      start_pass (self);
    }
}

static GHashTable *
sessions_at_work (CfJanitor *self)
{
  GHashTable *in_use = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) sessions = cf_state_list_sessions (self->state);

  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);

      /* Stalled still holds its task: the watcher decides what happens to it. */
      if (session->state != CF_SESSION_LAUNCHING && !cf_session_state_holds_task (session->state))
        continue;
      if (*session->project == '\0' || *session->task == '\0')
        continue;
      g_hash_table_add (in_use, in_use_key (session->project, session->task));
    }
  return in_use;
}

static void
start_pass (CfJanitor *self)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, on_pass_done, NULL);
  CfConfig *config = self->config;
  Pass *pass = g_new0 (Pass, 1);

  pass->cancellable = g_object_ref (self->cancellable);
  pass->projects = cf_inbox_list_projects (self->inbox);
  pass->in_use = sessions_at_work (self);
  pass->snapshot_time = g_get_real_time ();
  pass->suspects = g_hash_table_ref (self->suspects);
  pass->new_suspects = suspects_new ();
  pass->problems = g_hash_table_ref (self->problems);
  pass->new_problems = problems_new ();
  pass->grace_usec = 2 * config->watcher_interval_usec;
  pass->stale_age_usec = config->janitor_stale_signal_age_usec;
  pass->max_attempts = MAX (config->max_dispatch_per_task, 1);
  pass->keep_worktrees = config->projects_keep_worktrees;
  if (config->done_signal_dir != NULL && *config->done_signal_dir != '\0')
    pass->signal_dir = g_strdup (config->done_signal_dir);

  self->pass_in_flight = pass;
  g_task_set_source_tag (task, start_pass);
  g_task_set_task_data (task, pass, (GDestroyNotify) pass_free);
  g_task_run_in_thread (task, pass_in_thread);
}

void
cf_janitor_run_now (CfJanitor *self)
{
  g_return_if_fail (CF_IS_JANITOR (self));

  if (self->cancellable == NULL)
    return;
  if (self->pass_in_flight != NULL)
    {
      self->again = TRUE;
      return;
    }
  start_pass (self);
}

static void arm_timer (CfJanitor *self, gboolean first);

static gboolean
on_timer (gpointer user_data)
{
  CfJanitor *self = user_data;

  if (self->first_pending)
    {
      /* From now on, the regular period. */
      self->timer_id = 0;
      arm_timer (self, FALSE);
      cf_janitor_run_now (self);
      return G_SOURCE_REMOVE;
    }
  cf_janitor_run_now (self);
  return G_SOURCE_CONTINUE;
}

static void
arm_timer (CfJanitor *self, gboolean first)
{
  CfConfig *config = self->config;
  gint64 interval = MAX (config->janitor_interval_usec, 10 * G_TIME_SPAN_MILLISECOND);

  if (first)
    interval = MIN (interval, 2 * MAX (config->watcher_interval_usec,
                                       config->lifecycle_interval_usec));
  g_clear_handle_id (&self->timer_id, g_source_remove);
  self->first_pending = first;
  self->timer_id = g_timeout_add ((guint) MIN (MAX (interval / 1000, 10), G_MAXUINT), on_timer,
                                  self);
}

void
cf_janitor_start (CfJanitor *self)
{
  g_return_if_fail (CF_IS_JANITOR (self));
  g_return_if_fail (self->cancellable == NULL);

  self->cancellable = g_cancellable_new ();
  arm_timer (self, TRUE);
}

void
cf_janitor_stop (CfJanitor *self)
{
  g_return_if_fail (CF_IS_JANITOR (self));

  g_clear_handle_id (&self->timer_id, g_source_remove);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->pass_in_flight = NULL;
  self->again = FALSE;
}

void
cf_janitor_set_config (CfJanitor *self, CfConfig *config)
{
  g_return_if_fail (CF_IS_JANITOR (self));
  g_return_if_fail (config != NULL);

  cf_config_ref (config);
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = config;
  /* A pending first pass keeps its purpose; otherwise the new period. */
  if (self->cancellable != NULL)
    arm_timer (self, self->first_pending);
}

guint64
cf_janitor_get_passes (CfJanitor *self)
{
  g_return_val_if_fail (CF_IS_JANITOR (self), 0);
  return self->passes;
}

static void
cf_janitor_dispose (GObject *object)
{
  CfJanitor *self = CF_JANITOR (object);

  cf_janitor_stop (self);
  g_clear_object (&self->inbox);
  g_clear_object (&self->state);
  G_OBJECT_CLASS (cf_janitor_parent_class)->dispose (object);
}

static void
cf_janitor_finalize (GObject *object)
{
  CfJanitor *self = CF_JANITOR (object);

  g_clear_pointer (&self->config, cf_config_unref);
  g_hash_table_unref (self->suspects);
  g_hash_table_unref (self->problems);
  G_OBJECT_CLASS (cf_janitor_parent_class)->finalize (object);
}

static void
cf_janitor_class_init (CfJanitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cf_janitor_dispose;
  object_class->finalize = cf_janitor_finalize;
}

static void
cf_janitor_init (CfJanitor *self)
{
  self->suspects = suspects_new ();
  self->problems = problems_new ();
}

CfJanitor *
cf_janitor_new (CfConfig *config, CfState *state, CfInbox *inbox)
{
  CfJanitor *self = g_object_new (CF_TYPE_JANITOR, NULL);

  g_return_val_if_fail (config != NULL, self);
  g_return_val_if_fail (CF_IS_STATE (state), self);
  g_return_val_if_fail (CF_IS_INBOX (inbox), self);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->inbox = g_object_ref (inbox);
  return self;
}
