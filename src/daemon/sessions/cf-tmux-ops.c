/* SPDX-License-Identifier: MIT */
/* The typed tmux operations of CfTmux, each one or a few commands on the
 * control connection (cf-tmux-control.c) with exact "=NAME:" targets:
 * has/new/kill session, send-keys (text, Enter), bracketed paste, respawn,
 * capture, the first pane's information and the list of sessions. */
#include "cf-tmux-private.h"

#include <string.h>

#include "cf-shell.h"

/* Fixed pane size of the sessions we create: detached sessions keep it, so
 * captures look the same whatever terminal the operator last attached. */
#define SESSION_WIDTH 200
#define SESSION_HEIGHT 50
#define LIST_FORMAT "#{session_name}\t#{pane_id}\t#{pane_pid}\t#{pane_dead}\t#{pane_current_command}"

static gboolean
text_has_control (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
        return TRUE;
    }
  return FALSE;
}

static char *
quoted_target (const char *name)
{
  g_autofree char *target = g_strdup_printf ("=%s:", name);

  return cf_tmux_quote (target);
}

static gboolean
check_name (GTask *task, const char *name)
{
  if (cf_session_name_is_valid (name))
    return TRUE;
  g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID,
                           "invalid tmux session name “%s”", name != NULL ? name : "(null)");
  return FALSE;
}

/* A -c directory taken literally: tmux expands formats there ("##" is '#'). */
static char *
quoted_directory (const char *cwd)
{
  g_autoptr(GString) literal = g_string_new (cwd);

  g_string_replace (literal, "#", "##", 0);
  return cf_tmux_quote (literal->str);
}

static gboolean
check_env (GTask *task, const char *const *env)
{
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      const char *eq = strchr (env[i], '=');

      if (eq == NULL || eq == env[i])
        {
          g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID,
                                   "environment entry “%s” is not KEY=VALUE", env[i]);
          return FALSE;
        }
    }
  return TRUE;
}

/* ---- operations --------------------------------------------------------- */

static void
reply_has_session (CfTmux *self, GTask *task, const char *verb, gboolean ok, GStrv lines,
                   gpointer data)
{
  g_auto(GStrv) owned = lines;

  /* %error here only ever means "can't find session". */
  if (task != NULL)
    g_task_return_boolean (task, ok);
}

void
cf_tmux_has_session_async (CfTmux *self, const char *name, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *target = NULL;

  g_return_if_fail (CF_IS_TMUX (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cf_tmux_has_session_async);
  if (!check_name (task, name))
    return;
  target = quoted_target (name);
  cf_tmux_submit (self, g_strdup_printf ("has-session -t %s", target), g_steal_pointer (&task),
                  reply_has_session, NULL, NULL);
}

gboolean
cf_tmux_has_session_finish (CfTmux *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
cf_tmux_new_session_async (CfTmux *self, const char *name, const char *cwd,
                           const char *const *env, const char *command,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GString) line = NULL;
  g_autofree char *quoted_name = NULL;

  g_return_if_fail (CF_IS_TMUX (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cf_tmux_new_session_async);
  if (!check_name (task, name))
    return;
  if (!check_env (task, env))
    return;

  quoted_name = cf_tmux_quote (name);
  line = g_string_new ("new-session -d -s ");
  g_string_append (line, quoted_name);
  g_string_append_printf (line, " -x %d -y %d", SESSION_WIDTH, SESSION_HEIGHT);
  if (cwd != NULL && *cwd != '\0')
    {
      g_autofree char *quoted_cwd = quoted_directory (cwd);

      g_string_append (line, " -c ");
      g_string_append (line, quoted_cwd);
    }
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_autofree char *quoted_env = cf_tmux_quote (env[i]);

      g_string_append (line, " -e ");
      g_string_append (line, quoted_env);
    }
  if (command != NULL && *command != '\0')
    {
      g_autofree char *quoted_command = cf_tmux_quote (command);

      g_string_append (line, " -- ");
      g_string_append (line, quoted_command);
    }
  cf_tmux_submit (self, g_string_free (g_steal_pointer (&line), FALSE), g_steal_pointer (&task),
                  cf_tmux_reply_boolean, NULL, NULL);
}

void
cf_tmux_kill_session_async (CfTmux *self, const char *name, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *target = NULL;

  g_return_if_fail (CF_IS_TMUX (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cf_tmux_kill_session_async);
  if (!check_name (task, name))
    return;
  target = quoted_target (name);
  cf_tmux_submit (self, g_strdup_printf ("kill-session -t %s", target), g_steal_pointer (&task),
                  cf_tmux_reply_boolean, NULL, NULL);
}

void
cf_tmux_send_text_async (CfTmux *self, const char *name, const char *text,
                         GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *target = NULL;
  g_autofree char *quoted_text = NULL;

  g_return_if_fail (CF_IS_TMUX (self));
  g_return_if_fail (text != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cf_tmux_send_text_async);
  if (!check_name (task, name))
    return;
  /* A typed newline would submit half a prompt; multi-line text goes
   * through cf_tmux_paste_async(). */
  if (strpbrk (text, "\r\n") != NULL)
    {
      g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID,
                               "text to type contains a line break");
      return;
    }
  /* Any other control character (C-u, C-c, ESC, DEL, C1) edits or ends the
   * line being typed: what follows it would run as typed (issue 18). */
  if (!g_utf8_validate (text, -1, NULL) || text_has_control (text))
    {
      g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID,
                               "text to type contains a control character or is not UTF-8");
      return;
    }
  if (*text == '\0')
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  target = quoted_target (name);
  quoted_text = cf_tmux_quote (text);
  cf_tmux_submit (self, g_strdup_printf ("send-keys -t %s -l -- %s", target, quoted_text),
                  g_steal_pointer (&task), cf_tmux_reply_boolean, NULL, NULL);
}

void
cf_tmux_send_enter_async (CfTmux *self, const char *name, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *target = NULL;

  g_return_if_fail (CF_IS_TMUX (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cf_tmux_send_enter_async);
  if (!check_name (task, name))
    return;
  target = quoted_target (name);
  cf_tmux_submit (self, g_strdup_printf ("send-keys -t %s Enter", target), g_steal_pointer (&task),
                  cf_tmux_reply_boolean, NULL, NULL);
}

typedef struct {
  char *buffer_name;
  char *set_error;             /* set-buffer's complaint, reported first */
} PasteJob;

static void
paste_job_clear (PasteJob *job)
{
  g_free (job->buffer_name);
  g_free (job->set_error);
}

static void
paste_job_release (gpointer job)
{
  g_rc_box_release_full (job, (GDestroyNotify) paste_job_clear);
}

static void
reply_paste_set (CfTmux *self, GTask *task, const char *verb, gboolean ok, GStrv lines,
                 gpointer data)
{
  g_auto(GStrv) owned = lines;
  PasteJob *job = data;

  if (!ok)
    job->set_error = cf_tmux_joined_output (lines, "command failed");
}

static void
reply_paste_buffer (CfTmux *self, GTask *task, const char *verb, gboolean ok, GStrv lines,
                    gpointer data)
{
  g_auto(GStrv) owned = lines;
  PasteJob *job = data;

  /* -d deletes the buffer only after a successful paste. */
  if (!ok && job->set_error == NULL)
    {
      g_autofree char *quoted = cf_tmux_quote (job->buffer_name);
      cf_tmux_submit (self, g_strdup_printf ("delete-buffer -b %s", quoted), NULL,
                      cf_tmux_reply_boolean, NULL, NULL);
    }
  if (task == NULL)
    return;
  if (job->set_error != NULL)
    g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND,
                             "tmux set-buffer: %s", job->set_error);
  else if (!ok)
    cf_tmux_return_command_error (task, verb, lines);
  else
    g_task_return_boolean (task, TRUE);
}

void
cf_tmux_paste_async (CfTmux *self, const char *name, const char *text,
                     GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *target = NULL;
  g_autofree char *quoted_text = NULL;
  g_autofree char *quoted_buffer = NULL;
  PasteJob *job;

  g_return_if_fail (CF_IS_TMUX (self));
  g_return_if_fail (text != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cf_tmux_paste_async);
  if (!check_name (task, name))
    return;
  if (*text == '\0')
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (self->state != CONN_CONNECTING && self->state != CONN_CONNECTED)
    {
      g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_DISCONNECTED,
                               "not connected to tmux");
      return;
    }

  /* A buffer of our own per paste: concurrent pastes into different
   * sessions cannot swap texts, and the operator's buffers are untouched. */
  job = g_rc_box_new0 (PasteJob);
  job->buffer_name = g_strdup_printf ("cf-paste-%u", ++self->paste_serial);
  quoted_buffer = cf_tmux_quote (job->buffer_name);
  quoted_text = cf_tmux_quote (text);
  target = quoted_target (name);

  /* Both lines are written back to back; the second one's reply ends the
   * operation, and it cannot come before the first one's. */
  cf_tmux_submit (self, g_strdup_printf ("set-buffer -b %s -- %s", quoted_buffer, quoted_text),
                  NULL, reply_paste_set, g_rc_box_acquire (job),
                  paste_job_release);
  cf_tmux_submit (self, g_strdup_printf ("paste-buffer -p -d -b %s -t %s", quoted_buffer, target),
                  g_steal_pointer (&task), reply_paste_buffer, job,
                  paste_job_release);
}

/* respawn-pane: set-option, respawn-pane and clear-history are written back
 * to back; the first failure among them is what the operation reports. */
typedef struct {
  char *error;
} RespawnJob;

static void
respawn_job_clear (RespawnJob *job)
{
  g_free (job->error);
}

static void
respawn_job_release (gpointer job)
{
  g_rc_box_release_full (job, (GDestroyNotify) respawn_job_clear);
}

static void
reply_respawn_step (CfTmux *self, GTask *task, const char *verb, gboolean ok, GStrv lines,
                    gpointer data)
{
  g_auto(GStrv) owned = lines;
  RespawnJob *job = data;

  if (!ok && job->error == NULL)
    {
      g_autofree char *text = cf_tmux_joined_output (lines, "command failed");
      job->error = g_strdup_printf ("tmux %s: %s", verb, text);
    }
  if (task == NULL)
    return;
  if (job->error != NULL)
    g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND, "%s", job->error);
  else
    g_task_return_boolean (task, TRUE);
}

void
cf_tmux_respawn_async (CfTmux *self, const char *name, const char *cwd,
                       const char *const *env, const char *const *argv,
                       GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GString) line = NULL;
  g_autofree char *target = NULL;
  RespawnJob *job;

  g_return_if_fail (CF_IS_TMUX (self));
  g_return_if_fail (argv != NULL && argv[0] != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cf_tmux_respawn_async);
  if (!check_name (task, name) || !check_env (task, env))
    return;
  if (argv[1] == NULL)
    {
      /* tmux hands a single argument to the shell: always exec directly. */
      g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID,
                               "respawn needs a program and at least one argument");
      return;
    }
  if (self->state != CONN_CONNECTING && self->state != CONN_CONNECTED)
    {
      g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_DISCONNECTED,
                               "not connected to tmux");
      return;
    }

  target = quoted_target (name);
  line = g_string_new ("respawn-pane -k -t ");
  g_string_append (line, target);
  if (cwd != NULL && *cwd != '\0')
    {
      g_autofree char *quoted_cwd = quoted_directory (cwd);
      g_string_append (line, " -c ");
      g_string_append (line, quoted_cwd);
    }
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_autofree char *quoted_env = cf_tmux_quote (env[i]);
      g_string_append (line, " -e ");
      g_string_append (line, quoted_env);
    }
  g_string_append (line, " --");
  for (guint i = 0; argv[i] != NULL; i++)
    {
      g_autofree char *quoted_arg = cf_tmux_quote (argv[i]);
      g_string_append_c (line, ' ');
      g_string_append (line, quoted_arg);
    }

  job = g_rc_box_new0 (RespawnJob);
  /* The pane outlives Claude: its last words (the resume hint) stay readable
   * and the session is not lost when Claude exits. */
  cf_tmux_submit (self, g_strdup_printf ("set-option -p -t %s remain-on-exit on", target), NULL,
                  reply_respawn_step, g_rc_box_acquire (job), respawn_job_release);
  cf_tmux_submit (self, g_string_free (g_steal_pointer (&line), FALSE), NULL, reply_respawn_step,
                  g_rc_box_acquire (job), respawn_job_release);
  /* Nothing of the previous program may be read as this one's screen. */
  cf_tmux_submit (self, g_strdup_printf ("clear-history -t %s", target), g_steal_pointer (&task),
                  reply_respawn_step, job, respawn_job_release);
  /* The new program is a session (and an autogroup) of its own. */
  if (self->nice > 0)
    {
      g_autofree char *query = g_strdup_printf ("display-message -p -t %s '#{pane_pid}'", target);

      cf_tmux_command_async (self, query, NULL, cf_tmux_on_pid_for_renice, GINT_TO_POINTER (TRUE));
    }
}

gboolean
cf_tmux_session_info_claude_exited (const CfTmuxSessionInfo *info)
{
  return info->pane_dead || cf_shell_is_shell_command (info->current_command);
}

static void
reply_capture (CfTmux *self, GTask *task, const char *verb, gboolean ok, GStrv lines,
               gpointer data)
{
  g_auto(GStrv) owned = lines;
  g_autofree char *text = NULL;

  if (task == NULL)
    return;
  if (!ok)
    {
      cf_tmux_return_command_error (task, verb, lines);
      return;
    }
  /* Panes can hold any bytes; consumers (D-Bus, JSON, the classifier)
   * need UTF-8. */
  text = g_strjoinv ("\n", lines);
  g_task_return_pointer (task, g_utf8_make_valid (text, -1), g_free);
}

void
cf_tmux_capture_async (CfTmux *self, const char *name, guint history_lines,
                       GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *target = NULL;
  char *line;

  g_return_if_fail (CF_IS_TMUX (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cf_tmux_capture_async);
  if (!check_name (task, name))
    return;
  target = quoted_target (name);
  if (history_lines > 0)
    line = g_strdup_printf ("capture-pane -p -J -t %s -S -%u", target, history_lines);
  else
    line = g_strdup_printf ("capture-pane -p -J -t %s", target);
  cf_tmux_submit (self, line, g_steal_pointer (&task), reply_capture, NULL, NULL);
}

char *
cf_tmux_capture_finish (CfTmux *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
cf_tmux_session_info_free (CfTmuxSessionInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->pane_id);
  g_free (info->current_command);
  g_free (info);
}

/* One LIST_FORMAT line. The command comes last and keeps any tab it has;
 * tmux itself escapes tabs in session names, so those never split. */
static CfTmuxSessionInfo *
parse_pane_line (const char *line)
{
  g_auto(GStrv) fields = g_strsplit (line, "\t", 5);
  CfTmuxSessionInfo *info;

  if (g_strv_length (fields) != 5)
    return NULL;
  info = g_new0 (CfTmuxSessionInfo, 1);
  info->name = g_utf8_make_valid (fields[0], -1);
  info->pane_id = g_strdup (fields[1]);
  info->pane_pid = g_ascii_strtoll (fields[2], NULL, 10);
  info->pane_dead = strcmp (fields[3], "1") == 0;
  info->current_command = g_utf8_make_valid (fields[4], -1);
  return info;
}

static void
reply_list (CfTmux *self, GTask *task, const char *verb, gboolean ok, GStrv lines,
            gpointer data)
{
  g_auto(GStrv) owned = lines;
  g_autoptr(GPtrArray) sessions = NULL;
  const char *previous = NULL;

  if (task == NULL)
    return;
  if (!ok)
    {
      cf_tmux_return_command_error (task, verb, lines);
      return;
    }
  sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) cf_tmux_session_info_free);
  /* list-panes -a walks sessions, then windows, then panes in index order:
   * a session's first line is its first pane. */
  for (guint i = 0; lines[i] != NULL; i++)
    {
      CfTmuxSessionInfo *info = parse_pane_line (lines[i]);

      if (info == NULL)
        continue;
      if ((previous != NULL && strcmp (previous, info->name) == 0)
          || strcmp (info->name, self->control_session) == 0)
        {
          cf_tmux_session_info_free (info);
          continue;
        }
      previous = info->name;
      g_ptr_array_add (sessions, info);
    }
  g_task_return_pointer (task, g_steal_pointer (&sessions), (GDestroyNotify) g_ptr_array_unref);
}

void
cf_tmux_list_sessions_async (CfTmux *self, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *format = cf_tmux_quote (LIST_FORMAT);

  g_return_if_fail (CF_IS_TMUX (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cf_tmux_list_sessions_async);
  cf_tmux_submit (self, g_strdup_printf ("list-panes -a -F %s", format), g_steal_pointer (&task),
                  reply_list, NULL, NULL);
}

GPtrArray *
cf_tmux_list_sessions_finish (CfTmux *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
reply_session_info (CfTmux *self, GTask *task, const char *verb, gboolean ok, GStrv lines,
                    gpointer data)
{
  g_auto(GStrv) owned = lines;
  CfTmuxSessionInfo *info = NULL;

  if (task == NULL)
    return;
  if (!ok)
    {
      cf_tmux_return_command_error (task, verb, lines);
      return;
    }
  if (lines[0] != NULL)
    info = parse_pane_line (lines[0]);
  if (info == NULL)
    {
      g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND,
                               "tmux %s: unexpected answer", verb);
      return;
    }
  g_task_return_pointer (task, info, (GDestroyNotify) cf_tmux_session_info_free);
}

void
cf_tmux_session_info_async (CfTmux *self, const char *name, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *target = NULL;
  g_autofree char *format = cf_tmux_quote (LIST_FORMAT);

  g_return_if_fail (CF_IS_TMUX (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cf_tmux_session_info_async);
  if (!check_name (task, name))
    return;
  target = quoted_target (name);
  cf_tmux_submit (self, g_strdup_printf ("list-panes -s -t %s -F %s", target, format),
                  g_steal_pointer (&task), reply_session_info, NULL, NULL);
}

CfTmuxSessionInfo *
cf_tmux_session_info_finish (CfTmux *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
