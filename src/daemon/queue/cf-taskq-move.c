/* SPDX-License-Identifier: MIT */
/* The queue's moves (ARCHITECTURE.md 4.2): one transaction every move
 * goes through (taskq_move_run: lock, find, record in the meta file,
 * rename, fsync, tidy), and the moves built on it — claim, finish (with
 * the verdicts kept until a finish's move succeeds), reject, requeue. */
#include "cf-taskq-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "cf-fault.h"

/* --- The move transaction ---------------------------------------------------------- */

void
taskq_move_clear (TaskqMove *move)
{
  g_clear_pointer (&move->source, g_free);
  g_clear_pointer (&move->dest, g_free);
  g_clear_pointer (&move->meta, json_object_unref);
  g_clear_pointer (&move->meta_note, g_free);
}

static char *
place_file (const TaskqMove *move, CfTaskPlace place)
{
  g_autofree char *dir = taskq_place_dir (move->project, place);
  g_autofree char *file = move->file != NULL ? NULL : g_strconcat (move->id, ".md", NULL);

  return g_build_filename (dir, move->file != NULL ? move->file : file, NULL);
}

/* Loads the meta file into move->meta (a new one when there is none). A
 * corrupt one is moved aside when the move allows it: a move must not
 * depend on a file it is about to explain. *OLD_DATA is what the file
 * held, for RESTORE_META. */
static gboolean
load_meta (TaskqMove *move, char **old_data, gsize *old_length, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!taskq_meta_load (move->project, move->id, &move->meta, &local_error))
    {
      g_autofree char *path = NULL;
      g_autofree char *aside = NULL;

      if ((move->flags & TASKQ_MOVE_SET_ASIDE_CORRUPT) == 0 ||
          !g_error_matches (local_error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_CORRUPT_META))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      path = taskq_meta_path (move->project, move->id);
      aside = g_strdup_printf ("%s.corrupt-%" G_GINT64_FORMAT, path, move->now_usec);
      if (!taskq_move_replace (path, aside, error))
        return FALSE;
      move->meta_note = g_strdup_printf (_("the task's meta file could not be read (%s) and was moved to %s"),
                                         local_error->message, aside);
    }
  if (move->meta != NULL && (move->flags & TASKQ_MOVE_RESTORE_META) != 0)
    *old_data = taskq_meta_to_data (move->meta, old_length);
  if (move->meta == NULL)
    move->meta = taskq_meta_new (move->id);
  return TRUE;
}

static gboolean
rename_into_place (TaskqMove *move, GError **error)
{
  int saved;
  g_autofree char *other = NULL;

  if ((move->flags & TASKQ_MOVE_REPLACE) == 0)
    {
      if (move->rename_fallback == NULL)
        return taskq_move_no_replace (move->source, move->dest, error);
      if (renameat2 (AT_FDCWD, move->source, AT_FDCWD, move->dest, RENAME_NOREPLACE) == 0)
        return TRUE;
      saved = errno;
    }
  else if (rename (move->source, move->dest) == 0)
    return TRUE;
  else
    saved = errno;

  other = move->rename_fallback != NULL ? move->rename_fallback (move, saved) : NULL;
  if (other == NULL)
    return taskq_errno_error (error, saved == ENOENT ? move->source : move->dest, saved);
  g_free (move->dest);
  move->dest = g_steal_pointer (&other);
  return taskq_move_no_replace (move->source, move->dest, error);
}

static gboolean
move_locked (TaskqMove *move, GError **error)
{
  g_autofree char *old_data = NULL;
  gsize old_length = 0;

  for (guint i = 0; i < move->n_from && move->source == NULL; i++)
    {
      g_autofree char *path = place_file (move, move->from[i]);

      if (taskq_exists_no_follow (path, NULL))
        {
          move->source_place = move->from[i];
          move->source = g_steal_pointer (&path);
        }
    }
  if (move->source == NULL)
    {
      g_autofree char *shown = move->file != NULL ? g_filename_display_name (move->file)
                                                  : g_strdup (move->id);
      return taskq_not_in_place (error, shown, move->project, move->from_names);
    }
  if ((move->flags & TASKQ_MOVE_ANY_KIND) == 0 && !taskq_require_regular (move->source, error))
    return FALSE;
  move->dest = place_file (move, move->to);
  if (move->check != NULL && !move->check (move, error))
    return FALSE;
  if (move->prepare != NULL && !move->prepare (move, error))
    return FALSE;

  /* The meta file says where the task goes before it goes there: a crash
   * in between errs towards more attempts, never fewer. */
  if (move->id != NULL)
    {
      if (!load_meta (move, &old_data, &old_length, error))
        return FALSE;
      if (move->update != NULL)
        move->update (move, move->meta);
      if (move->fault != NULL && cf_fault_fail (move->fault))
        {
          g_autofree char *path = taskq_meta_path (move->project, move->id);
          return taskq_errno_error (error, path, ENOSPC);
        }
      if (!taskq_meta_store (move->project, move->id, move->meta, error))
        return FALSE;
    }
  if (move->before_rename != NULL && !move->before_rename (move, error))
    return FALSE;

  if (!rename_into_place (move, error))
    {
      /* The move did not happen: neither did what the meta file says. */
      if (move->id != NULL && (move->flags & TASKQ_MOVE_RESTORE_META) != 0)
        taskq_meta_restore (move->project, move->id, old_data, old_length);
      return FALSE;
    }
  if (!taskq_fsync_parents (move->source, move->dest, error))
    return FALSE;
  if (move->after != NULL)
    move->after (move);
  return TRUE;
}

gboolean
taskq_move_run (TaskqMove *move, GError **error)
{
  g_autoptr(CfTaskqLock) lock = NULL;
  gboolean ok;

  g_return_val_if_fail (move->id != NULL || move->file != NULL, FALSE);

  if (!taskq_check_project (move->project, error) ||
      (move->id != NULL && !taskq_check_id (move->id, error)) ||
      !cf_taskq_ensure_dirs (move->project, error))
    return FALSE;
  lock = cf_taskq_lock (move->project, error);
  if (lock == NULL)
    return FALSE;
  ok = move_locked (move, error);
  taskq_changed (move->project);
  return ok;
}

/* --- Claim ----------------------------------------------------------------------------- */

static gboolean
is_delegated (const char *project, const char *id)
{
  g_autofree char *path = taskq_marker_path (project, id);

  return taskq_exists_no_follow (path, NULL);
}

typedef struct {
  const char *session;
  const char *account;
  const char *model;
  guint attempt;
} Claim;

static gboolean
claim_check (TaskqMove *move, GError **error)
{
  if (taskq_exists_no_follow (move->dest, NULL))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS,
                   _("task '%s' of %s is already active"), move->id, move->project);
      return FALSE;
    }
  if (is_delegated (move->project, move->id))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_DELEGATED,
                   _("task '%s' of %s is delegated to the remote job API"), move->id, move->project);
      return FALSE;
    }
  return TRUE;
}

static void
claim_update (TaskqMove *move, JsonObject *meta)
{
  Claim *claim = move->data;
  JsonObject *event;

  claim->attempt = taskq_meta_attempts (meta) + 1;
  json_object_set_int_member (meta, "attempts", claim->attempt);
  taskq_set_string_or_null (meta, "session", claim->session);
  taskq_set_string_or_null (meta, "account", claim->account);
  taskq_set_string_or_null (meta, "model", claim->model);
  taskq_set_time (meta, "claimed_at", move->now_usec);
  json_object_set_null_member (meta, "last_reason");
  event = json_object_new ();
  json_object_set_string_member (event, "event", "claim");
  json_object_set_int_member (event, "attempt", claim->attempt);
  taskq_set_string_or_null (event, "session", claim->session);
  taskq_set_string_or_null (event, "account", claim->account);
  taskq_set_string_or_null (event, "model", claim->model);
  taskq_meta_update (meta, CF_TASK_PLACE_ACTIVE, "claimed", move->now_usec, event);
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
  static const CfTaskPlace from[] = { CF_TASK_PLACE_INBOX };
  Claim claim = { .session = session, .account = account, .model = model };
  /* Nothing dispatched when the rename fails: the attempt did not happen. */
  g_auto(TaskqMove) move = {
    .project = project, .id = id, .from = from, .n_from = G_N_ELEMENTS (from),
    .from_names = "inbox/", .to = CF_TASK_PLACE_ACTIVE, .flags = TASKQ_MOVE_RESTORE_META,
    .now_usec = now_usec, .data = &claim, .check = claim_check, .update = claim_update,
  };

  if (!taskq_move_run (&move, error))
    return FALSE;
  if (out_attempt != NULL)
    *out_attempt = claim.attempt;
  return TRUE;
}

/* --- Finish ---------------------------------------------------------------------------- */

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
  if (!taskq_read_regular (path, TASKQ_FOOTER_SOURCE_MAX_SIZE, &data, &length, error))
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
  return taskq_write_durably (path, text->str, text->len, error);
}

static char *
reason_file_path (const char *project, const char *name)
{
  g_autofree char *bare = taskq_has_md_suffix (name) ? g_strndup (name, strlen (name) - 3) : g_strdup (name);
  g_autofree char *stem = cf_task_id_is_valid (bare) ? g_strdup (bare) : taskq_sanitized_stem (bare);
  g_autofree char *file = g_strconcat (stem, TASKQ_REASON_SUFFIX, NULL);

  return g_build_filename (project, CF_TASKQ_QUEUE_DIR, "failed", file, NULL);
}

static gboolean
write_reason_file (const char *project, const char *name, const char *heading,
                   const char *reason, const char *note, guint attempts, gint64 now_usec,
                   GError **error)
{
  g_autofree char *path = reason_file_path (project, name);
  g_autofree char *shown_name = g_filename_display_name (name);
  g_autofree char *when = taskq_format_time (now_usec, FALSE);
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
  return taskq_write_durably (path, text->str, text->len, error);
}

typedef struct {
  const char *reason;
  const char *footer;
} Finish;

static gboolean
finish_prepare (TaskqMove *move, GError **error)
{
  Finish *finish = move->data;

  return finish->footer == NULL || append_footer (move->source, finish->footer, error);
}

static void
finish_update (TaskqMove *move, JsonObject *meta)
{
  Finish *finish = move->data;
  const char *outcome_name = taskq_place_names[move->to];
  JsonObject *event;

  taskq_set_string_or_null (meta, "last_reason", finish->reason);
  taskq_set_time (meta, "finished_at", move->now_usec);
  event = json_object_new ();
  json_object_set_string_member (event, "event", "finish");
  json_object_set_string_member (event, "from", taskq_place_names[move->source_place]);
  json_object_set_string_member (event, "outcome", outcome_name);
  taskq_set_string_or_null (event, "reason", finish->reason);
  taskq_meta_update (meta, move->to, outcome_name, move->now_usec, event);
}

static gboolean
finish_before_rename (TaskqMove *move, GError **error)
{
  Finish *finish = move->data;

  return move->to != CF_TASK_PLACE_FAILED ||
         write_reason_file (move->project, move->id, _("This task failed."), finish->reason, NULL,
                            taskq_meta_attempts (move->meta), move->now_usec, error);
}

static void
finish_after (TaskqMove *move)
{
  if (move->to == CF_TASK_PLACE_DONE)
    {
      g_autofree char *failed_copy = cf_taskq_task_path (move->project, CF_TASK_PLACE_FAILED,
                                                         move->id);

      if (!taskq_exists_no_follow (failed_copy, NULL))
        {
          g_autofree char *stale = reason_file_path (move->project, move->id);
          taskq_remove_quietly (stale, move->id);
        }
    }
  if (move->source_place == CF_TASK_PLACE_INBOX)
    {
      g_autofree char *marker = taskq_marker_path (move->project, move->id);
      taskq_remove_quietly (marker, move->id);
    }
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
  /* A delegated task never leaves the inbox until it is finished. */
  static const CfTaskPlace from[] = { CF_TASK_PLACE_ACTIVE, CF_TASK_PLACE_INBOX };
  Finish finish = { .reason = reason, .footer = footer };
  /* A finished file of an earlier run with the same id is superseded; the
   * meta history keeps what happened to it. */
  g_auto(TaskqMove) move = {
    .project = project, .id = id, .from = from, .n_from = G_N_ELEMENTS (from),
    .from_names = "active/ or inbox/",
    .to = outcome == CF_TASK_OUTCOME_DONE ? CF_TASK_PLACE_DONE : CF_TASK_PLACE_FAILED,
    .flags = TASKQ_MOVE_REPLACE, .now_usec = now_usec, .fault = "taskq-finish-meta",
    .data = &finish, .prepare = finish_prepare, .update = finish_update,
    .before_rename = finish_before_rename, .after = finish_after,
  };

  g_return_val_if_fail (outcome == CF_TASK_OUTCOME_DONE || outcome == CF_TASK_OUTCOME_FAILED, FALSE);

  return taskq_move_run (&move, error);
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
  g_autofree char *file = g_strconcat (id, TASKQ_VERDICT_SUFFIX, NULL);

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
  taskq_remove_quietly (path, id);
}

/* Best effort: the disk that refused the meta file may refuse this too;
 * the verdict in memory still holds for this run. */
static void
verdict_store (const char *project, const char *id, CfTaskOutcome outcome, const char *reason)
{
  g_autofree char *path = verdict_path (project, id);
  g_autofree char *text = verdict_text (outcome, reason);
  g_autoptr(GError) error = NULL;

  if (!taskq_write_durably (path, text, strlen (text), &error))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                      "CF_TASK", id,
                      "MESSAGE", "cannot keep the verdict of %s on disk, only in memory: %s",
                      id, error->message);
}

void
cf_taskq_keep_verdict (const char *project, const char *id, CfTaskOutcome outcome, const char *reason)
{
  if (!taskq_check_args (project, id, NULL))
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

  if (!taskq_check_args (project, id, NULL))
    return FALSE;
  key = verdict_key (project, id);
  G_LOCK (verdicts);
  if (verdicts != NULL)
    text = g_strdup (g_hash_table_lookup (verdicts, key));
  G_UNLOCK (verdicts);
  if (text != NULL)
    return verdict_parse (text, out_outcome, out_reason);

  path = verdict_path (project, id);
  if (!taskq_read_regular (path, TASKQ_VERDICT_MAX_SIZE, &text, &length, NULL) ||
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

  if (!taskq_check_args (project, id, error))
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

/* --- Reject ---------------------------------------------------------------------------- */

typedef struct {
  const char *reason;
  const char *file;
} Reject;

static void
reject_update (TaskqMove *move, JsonObject *meta)
{
  Reject *reject = move->data;
  JsonObject *event;

  taskq_set_string_or_null (meta, "last_reason", reject->reason);
  taskq_set_time (meta, "finished_at", move->now_usec);
  event = json_object_new ();
  json_object_set_string_member (event, "event", "reject");
  taskq_set_string_or_null (event, "reason", reject->reason);
  taskq_meta_update (meta, CF_TASK_PLACE_FAILED, "rejected", move->now_usec, event);
}

static gboolean
reject_before_rename (TaskqMove *move, GError **error)
{
  Reject *reject = move->data;

  return write_reason_file (move->project, reject->file, _("This task file was rejected."),
                            reject->reason, move->meta_note,
                            move->meta != NULL ? taskq_meta_attempts (move->meta) : 0,
                            move->now_usec, error);
}

/* A directory and a file of the same name cannot replace each other; the
 * rejected entry must still leave the inbox. */
static char *
reject_fallback (TaskqMove *move, int saved_errno)
{
  Reject *reject = move->data;
  g_autofree char *failed = NULL;
  g_autofree char *stem = NULL;
  g_autofree char *unique = NULL;

  if (saved_errno != EISDIR && saved_errno != ENOTDIR && saved_errno != ENOTEMPTY &&
      saved_errno != EEXIST)
    return NULL;
  failed = taskq_place_dir (move->project, CF_TASK_PLACE_FAILED);
  stem = taskq_sanitized_stem (reject->file);
  unique = g_strdup_printf ("%s.rejected-%" G_GINT64_FORMAT, stem, move->now_usec);
  return g_build_filename (failed, unique, NULL);
}

gboolean
cf_taskq_reject (const char *project,
                 const char *name,
                 const char *reason,
                 gint64 now_usec,
                 GError **error)
{
  static const CfTaskPlace from[] = { CF_TASK_PLACE_INBOX };
  g_autofree char *file = NULL;
  g_autofree char *id = NULL;
  Reject reject = { .reason = reason };
  g_auto(TaskqMove) move = {
    .project = project, .from = from, .n_from = G_N_ELEMENTS (from), .from_names = "inbox/",
    .to = CF_TASK_PLACE_FAILED,
    .flags = TASKQ_MOVE_REPLACE | TASKQ_MOVE_ANY_KIND | TASKQ_MOVE_SET_ASIDE_CORRUPT,
    .now_usec = now_usec, .data = &reject, .update = reject_update,
    .before_rename = reject_before_rename, .rename_fallback = reject_fallback,
  };

  if (!taskq_check_project (project, error))
    return FALSE;
  if (name != NULL && !taskq_has_md_suffix (name))
    {
      if (!taskq_check_id (name, error))
        return FALSE;
      file = g_strconcat (name, ".md", NULL);
    }
  else if (taskq_is_plain_file_name (name) && name[0] != '.')
    file = g_strdup (name);
  else
    {
      g_autofree char *shown = name != NULL ? g_strescape (name, NULL) : g_strdup ("");
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT,
                   _("'%s' is not a file name in the inbox"), shown);
      return FALSE;
    }
  id = taskq_id_of_task_file (file);
  reject.file = file;
  move.file = file;
  move.id = id;
  return taskq_move_run (&move, error);
}

/* --- Requeue --------------------------------------------------------------------------- */

typedef struct {
  gboolean count_attempt;
} Requeue;

static gboolean
requeue_check (TaskqMove *move, GError **error)
{
  if (move->source_place == CF_TASK_PLACE_ACTIVE &&
      cf_taskq_pending_verdict (move->project, move->id, NULL, NULL))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_FINISHED,
                   _("task %s is finished; its move out of active/ is being retried"), move->id);
      return FALSE;
    }
  if (taskq_exists_no_follow (move->dest, NULL))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS,
                   _("the inbox of %s already holds a task '%s'"), move->project, move->id);
      return FALSE;
    }
  return TRUE;
}

static void
requeue_update (TaskqMove *move, JsonObject *meta)
{
  Requeue *requeue = move->data;
  CfTaskPlace from = move->source_place;
  CfTaskPlace recorded = CF_TASK_PLACE_ABSENT;
  gboolean give_back;
  JsonObject *event;

  taskq_place_from_string (taskq_string_member (meta, "place"), &recorded);
  /* When the meta file already says "inbox", this requeue was interrupted
   * after its meta write: the attempt was given back then. */
  give_back = !requeue->count_attempt && from == CF_TASK_PLACE_ACTIVE &&
              recorded != CF_TASK_PLACE_INBOX && taskq_meta_attempts (meta) > 0;
  if (give_back)
    json_object_set_int_member (meta, "attempts", taskq_meta_attempts (meta) - 1);
  event = json_object_new ();
  json_object_set_string_member (event, "event", "requeue");
  json_object_set_string_member (event, "from", taskq_place_names[from]);
  json_object_set_boolean_member (event, "attempt_counted", !give_back);
  json_object_set_int_member (event, "attempts", taskq_meta_attempts (meta));
  taskq_meta_update (meta, CF_TASK_PLACE_INBOX,
                     requeue->count_attempt || from != CF_TASK_PLACE_ACTIVE ? "requeued" : "returned",
                     move->now_usec, event);
}

static void
requeue_after (TaskqMove *move)
{
  if (move->source_place == CF_TASK_PLACE_FAILED)
    {
      g_autofree char *reason = reason_file_path (move->project, move->id);
      taskq_remove_quietly (reason, move->id);
    }
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
  Requeue requeue = { .count_attempt = count_attempt };
  g_auto(TaskqMove) move = {
    .project = project, .id = id, .from = sources, .n_from = n_sources,
    .from_names = source_names, .to = CF_TASK_PLACE_INBOX, .now_usec = now_usec,
    .data = &requeue, .check = requeue_check, .update = requeue_update, .after = requeue_after,
  };

  return taskq_move_run (&move, error);
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
