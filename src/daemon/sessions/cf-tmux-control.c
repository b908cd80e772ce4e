/* SPDX-License-Identifier: MIT */
/* The control-mode connection of CfTmux: spawning `tmux -C`, reading and
 * framing its %begin/%end/%error reply blocks, writing commands without
 * blocking, the queue of commands waiting for their replies, teardown and
 * reconnection with backoff; and the raw command API (one checked command
 * per line). The object's lifecycle is in cf-tmux.c, the typed operations in
 * cf-tmux-ops.c. */
#include "cf-tmux-private.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>

#include "cf-fd-limit.h"

#define RECONNECT_MAX_MS 5000
/* A tmux client that neither answers nor exits (a wedged server) must not
 * hold every command forever: give up on it and start over. */
#define CONNECT_TIMEOUT_S 10
#define READ_CHUNK 65536

static const char *const conn_state_names[] = {
  "stopped", "waiting", "connecting", "connected",
};

typedef struct {
  GTask *task;
  char *verb;                  /* command name, for error messages */
  ReplyFunc reply;
  gpointer data;
  GDestroyNotify data_free;
  GSource *cancel_source;
} Pending;

/* Work decided while parsing a chunk of tmux output, run only once parsing is
 * over: task callbacks and signal handlers may re-enter (issue commands, stop
 * the client) and must find the parser in a consistent state. */
typedef struct {
  Pending *pending;            /* NULL: a "sessions-changed" notification */
  gboolean ok;
  GStrv lines;
} Event;

static const char *
socket_label (CfTmux *self)
{
  return self->socket_path != NULL ? self->socket_path : "(default)";
}

static void
log_connection (CfTmux *self, GLogLevelFlags level, const char *message)
{
  g_log_structured (G_LOG_DOMAIN, level,
                    "CF_TMUX_SOCKET", socket_label (self),
                    "CF_SESSION", self->control_session,
                    "CF_TMUX_STATE", conn_state_names[self->state],
                    "MESSAGE", "tmux control connection (%s): %s",
                    socket_label (self), message);
}

/* ---- pending commands ---------------------------------------------------- */

static void
pending_free (Pending *pending)
{
  if (pending->cancel_source != NULL)
    {
      g_source_destroy (pending->cancel_source);
      g_source_unref (pending->cancel_source);
    }
  g_clear_object (&pending->task);
  if (pending->data_free != NULL)
    pending->data_free (pending->data);
  g_free (pending->verb);
  g_free (pending);
}

static gboolean
on_pending_cancelled (GCancellable *cancellable, gpointer user_data)
{
  Pending *pending = user_data;
  g_autoptr(GTask) task = g_steal_pointer (&pending->task);

  /* The command stays queued: its reply block still arrives and must be
   * consumed in order, it just has nobody to go to. */
  g_clear_pointer (&pending->cancel_source, g_source_unref);
  g_task_return_error_if_cancelled (task);
  return G_SOURCE_REMOVE;
}

static void
event_free (Event *event)
{
  if (event->pending != NULL)
    pending_free (event->pending);
  g_strfreev (event->lines);
  g_free (event);
}

static void
fail_pending (Pending *pending, const GError *error)
{
  if (pending->task != NULL)
    g_task_return_error (pending->task, g_error_copy (error));
  pending_free (pending);
}

char *
cf_tmux_joined_output (GStrv lines, const char *fallback)
{
  if (lines == NULL || lines[0] == NULL)
    return g_strdup (fallback);
  return g_strjoinv ("\n", lines);
}

void
cf_tmux_return_command_error (GTask *task, const char *verb, GStrv lines)
{
  g_autofree char *text = cf_tmux_joined_output (lines, "command failed");

  g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND,
                           "tmux %s: %s", verb, text);
}

/* ---- connection teardown and reconnect ---------------------------------- */

static gboolean
on_reconnect_timeout (gpointer user_data)
{
  CfTmux *self = user_data;

  self->reconnect_id = 0;
  cf_tmux_connect (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (CfTmux *self)
{
  if (!self->running || self->reconnect_id != 0)
    return;
  self->state = CONN_WAITING;
  self->reconnect_id = g_timeout_add (self->reconnect_delay_ms, on_reconnect_timeout, self);
  self->reconnect_delay_ms = MIN (self->reconnect_delay_ms * 2, RECONNECT_MAX_MS);
}

/* Drops the connection, fails every command still waiting for a reply with
 * DISCONNECTED and, unless stopped, arms the reconnect timer. GRACEFUL closes
 * tmux's stdin so the client detaches cleanly instead of being killed. */
void
cf_tmux_teardown (CfTmux *self, const char *reason, gboolean graceful)
{
  g_autoptr(CfTmux) hold = g_object_ref (self);
  g_autoptr(GError) error = NULL;
  gboolean was_connected = self->state == CONN_CONNECTED;
  GQueue orphans = G_QUEUE_INIT;
  Pending *pending;

  if (self->state != CONN_CONNECTING && self->state != CONN_CONNECTED)
    return;

  self->generation++;
  g_clear_handle_id (&self->connect_timeout_id, g_source_remove);
  if (self->read_source != NULL)
    {
      g_source_destroy (self->read_source);
      g_clear_pointer (&self->read_source, g_source_unref);
    }
  if (self->write_source != NULL)
    {
      g_source_destroy (self->write_source);
      g_clear_pointer (&self->write_source, g_source_unref);
    }
  if (graceful && self->to_tmux != NULL)
    g_output_stream_close (self->to_tmux, NULL, NULL);
  if (self->process != NULL)
    {
      /* An idle control client quits on SIGTERM too; it is only a client,
       * the server and its sessions stay. GSubprocess reaps it. */
      if (graceful)
        g_subprocess_send_signal (self->process, SIGTERM);
      else
        g_subprocess_force_exit (self->process);
    }
  g_clear_object (&self->from_tmux);
  g_clear_object (&self->to_tmux);
  g_clear_object (&self->process);
  g_byte_array_set_size (self->read_buffer, 0);
  g_byte_array_set_size (self->write_buffer, 0);
  self->read_scanned = 0;
  self->attached = FALSE;
  g_clear_pointer (&self->exit_reason, g_free);
  self->in_block = FALSE;
  g_clear_pointer (&self->block_guard, g_free);
  g_ptr_array_set_size (self->block_lines, 0);

  orphans = self->pending;
  g_queue_init (&self->pending);

  self->state = CONN_STOPPED;
  schedule_reconnect (self);
  /* One warning per outage, not one per retry while tmux stays away. */
  if (!was_connected)
    self->failed_attempts++;
  if (!self->running)
    log_connection (self, G_LOG_LEVEL_MESSAGE, reason);
  else if (was_connected || self->failed_attempts == 1)
    log_connection (self, G_LOG_LEVEL_WARNING, reason);
  else
    log_connection (self, G_LOG_LEVEL_DEBUG, reason);

  /* State is final before anyone hears about it: callbacks that issue new
   * commands now get DISCONNECTED at once instead of joining a dead queue. */
  if (was_connected)
    g_signal_emit (self, cf_tmux_signals[SIGNAL_DISCONNECTED], 0);

  error = g_error_new (CF_TMUX_ERROR, CF_TMUX_ERROR_DISCONNECTED,
                       "tmux connection lost: %s", reason);
  while ((pending = g_queue_pop_head (&orphans)) != NULL)
    fail_pending (pending, error);
}

/* ---- reading and parsing ------------------------------------------------ */

static void flush_writes (CfTmux *self);

static void
push_reply (CfTmux *self, gboolean ok, GQueue *events)
{
  Event *event;
  Pending *pending = g_queue_pop_head (&self->pending);

  g_ptr_array_add (self->block_lines, NULL);
  if (pending == NULL)
    {
      /* Only possible if something other than cf_tmux_submit() wrote to tmux. */
      log_connection (self, G_LOG_LEVEL_WARNING, "reply without a command, ignored");
      g_ptr_array_set_size (self->block_lines, 0);
      return;
    }
  event = g_new0 (Event, 1);
  event->pending = pending;
  event->ok = ok;
  event->lines = (GStrv) g_ptr_array_steal (self->block_lines, NULL);
  g_queue_push_tail (events, event);
}

static void
handle_line (CfTmux *self, char *line, GQueue *events)
{
  if (self->in_block)
    {
      const char *guard = NULL;
      gboolean ok = FALSE;

      /* Output is raw pane text and may itself start with "%end": only the
       * exact time, number and flags of the %begin close the block. */
      if (g_str_has_prefix (line, "%end "))
        {
          guard = line + strlen ("%end ");
          ok = TRUE;
        }
      else if (g_str_has_prefix (line, "%error "))
        guard = line + strlen ("%error ");

      if (guard != NULL && strcmp (guard, self->block_guard) == 0)
        {
          self->in_block = FALSE;
          g_clear_pointer (&self->block_guard, g_free);
          if (self->block_ours)
            push_reply (self, ok, events);
          else
            g_ptr_array_set_size (self->block_lines, 0);
          if (!self->block_ours && !self->attached)
            {
              self->attached = TRUE;
              flush_writes (self);
            }
          return;
        }
      g_ptr_array_add (self->block_lines, g_strdup (line));
      return;
    }

  if (g_str_has_prefix (line, "%begin "))
    {
      const char *flags = strrchr (line, ' ');

      self->in_block = TRUE;
      self->block_guard = g_strdup (line + strlen ("%begin "));
      /* Flag 1 marks commands read from this client's stdin; blocks without
       * it (the attach command, hooks) have no caller waiting. */
      self->block_ours = (g_ascii_strtoull (flags + 1, NULL, 10) & 1) != 0;
    }
  else if (strcmp (line, "%sessions-changed") == 0)
    g_queue_push_tail (events, g_new0 (Event, 1));
  else if (g_str_has_prefix (line, "%exit "))
    {
      g_free (self->exit_reason);
      self->exit_reason = g_strdup (line + strlen ("%exit "));
    }
  else if (line[0] != '%' && line[0] != '\0')
    /* stderr is merged into stdout: tmux's own complaints land here. */
    log_connection (self, G_LOG_LEVEL_WARNING, line);
}

static void
parse_buffer (CfTmux *self, GQueue *events)
{
  guint8 *data = self->read_buffer->data;
  gsize len = self->read_buffer->len;
  gsize start = 0;
  gsize scan = self->read_scanned;

  while (scan < len)
    {
      guint8 *nl = memchr (data + scan, '\n', len - scan);

      if (nl == NULL)
        {
          scan = len;
          break;
        }
      *nl = '\0';
      handle_line (self, (char *) data + start, events);
      start = scan = (gsize) (nl - data) + 1;
    }
  if (start > 0)
    g_byte_array_remove_range (self->read_buffer, 0, start);
  self->read_scanned = scan - start;
}

static void
dispatch_events (CfTmux *self, GQueue *events)
{
  Event *event;

  while ((event = g_queue_pop_head (events)) != NULL)
    {
      Pending *pending = event->pending;

      if (pending == NULL)
        g_signal_emit (self, cf_tmux_signals[SIGNAL_SESSIONS_CHANGED], 0);
      else
        pending->reply (self, pending->task, pending->verb, event->ok,
                        g_steal_pointer (&event->lines), pending->data);
      event_free (event);
    }
}

static gboolean
on_tmux_readable (GObject *stream, gpointer user_data)
{
  CfTmux *self = user_data;
  g_autoptr(CfTmux) hold = g_object_ref (self);
  g_autoptr(GError) error = NULL;
  g_auto(GQueue) events = G_QUEUE_INIT;
  guint64 generation = self->generation;
  guint old_len = self->read_buffer->len;
  gssize n;

  g_byte_array_set_size (self->read_buffer, old_len + READ_CHUNK);
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream),
                                                self->read_buffer->data + old_len,
                                                READ_CHUNK, NULL, &error);
  g_byte_array_set_size (self->read_buffer, old_len + MAX (n, 0));
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;

  if (n > 0)
    parse_buffer (self, &events);
  dispatch_events (self, &events);

  /* A callback may have stopped or restarted the client meanwhile. */
  if (self->generation != generation)
    return G_SOURCE_REMOVE;
  if (n == 0)
    {
      g_autofree char *reason = NULL;

      if (self->exit_reason != NULL)
        reason = g_strdup_printf ("tmux client exited (%s)", self->exit_reason);
      cf_tmux_teardown (self, reason != NULL ? reason : "tmux client exited", FALSE);
      return G_SOURCE_REMOVE;
    }
  if (n < 0)
    {
      g_autofree char *reason = g_strdup_printf ("read failed: %s", error->message);
      cf_tmux_teardown (self, reason, FALSE);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* ---- writing ------------------------------------------------------------ */

static gboolean on_tmux_writable (GObject *stream, gpointer user_data);

static void
flush_writes (CfTmux *self)
{
  while (self->write_buffer->len > 0)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_pollable_output_stream_write_nonblocking (
        G_POLLABLE_OUTPUT_STREAM (self->to_tmux), self->write_buffer->data,
        self->write_buffer->len, NULL, &error);

      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          if (self->write_source == NULL)
            {
              self->write_source = g_pollable_output_stream_create_source (
                G_POLLABLE_OUTPUT_STREAM (self->to_tmux), NULL);
              g_source_set_callback (self->write_source, G_SOURCE_FUNC (on_tmux_writable),
                                     self, NULL);
              g_source_attach (self->write_source, NULL);
            }
          return;
        }
      if (n < 0)
        {
          /* The client is gone or going. Failing the queue from here would
           * run callers' callbacks inside their own submit call; killing the
           * client instead makes the reader see EOF and clean up. */
          g_autofree char *reason = g_strdup_printf ("write failed: %s", error->message);
          log_connection (self, G_LOG_LEVEL_DEBUG, reason);
          g_byte_array_set_size (self->write_buffer, 0);
          g_subprocess_force_exit (self->process);
          break;
        }
      g_byte_array_remove_range (self->write_buffer, 0, (guint) n);
    }
  if (self->write_source != NULL)
    {
      g_source_destroy (self->write_source);
      g_clear_pointer (&self->write_source, g_source_unref);
    }
}

static gboolean
on_tmux_writable (GObject *stream, gpointer user_data)
{
  CfTmux *self = user_data;

  /* flush_writes() drops this source once the buffer is empty. */
  flush_writes (self);
  return G_SOURCE_CONTINUE;
}

/* ---- connecting --------------------------------------------------------- */

static void
probe_reply (CfTmux *self, GTask *task, const char *verb, gboolean ok, GStrv lines,
             gpointer data)
{
  g_auto(GStrv) owned = lines;
  guint64 generation = GPOINTER_TO_SIZE (data);
  g_autofree char *message = NULL;

  if (generation != self->generation || self->state != CONN_CONNECTING)
    return;
  if (!ok)
    {
      /* Only costs CPU (%output lines are parsed and dropped): keep going. */
      g_autofree char *text = cf_tmux_joined_output (lines, "refused");
      g_autofree char *warning = g_strdup_printf ("cannot turn pane output off: %s", text);
      log_connection (self, G_LOG_LEVEL_WARNING, warning);
    }
  g_clear_handle_id (&self->connect_timeout_id, g_source_remove);
  self->state = CONN_CONNECTED;
  self->reconnect_delay_ms = RECONNECT_MIN_MS;
  if (self->failed_attempts > 1)
    message = g_strdup_printf ("connected after %u failed attempts", self->failed_attempts);
  self->failed_attempts = 0;
  log_connection (self, G_LOG_LEVEL_MESSAGE, message != NULL ? message : "connected");
  g_signal_emit (self, cf_tmux_signals[SIGNAL_CONNECTED], 0);
  if (self->nice > 0 && self->state == CONN_CONNECTED)
    cf_tmux_command_async (self, "display-message -p '#{pid}'", NULL, cf_tmux_on_pid_for_renice,
                           GINT_TO_POINTER (FALSE));
}

static gboolean
on_connect_timeout (gpointer user_data)
{
  CfTmux *self = user_data;

  self->connect_timeout_id = 0;
  cf_tmux_teardown (self, "tmux did not answer within " G_STRINGIFY (CONNECT_TIMEOUT_S) " s",
                    FALSE);
  return G_SOURCE_REMOVE;
}

/* Between fork and exec: async-signal-safe calls only. */
static void
control_client_setup (gpointer user_data)
{
  guint steps = GPOINTER_TO_UINT (user_data);

  if (steps > 0)
    {
      errno = 0;
      if (nice ((int) steps) == -1 && errno != 0)
        _exit (126);   /* never start sessions at the daemon's priority */
    }
  cf_fd_limit_restore_in_child ();
}

void
cf_tmux_connect (CfTmux *self)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GPollableInputStream *in;
  int fd;

  g_ptr_array_add (argv, (char *) "tmux");
  if (self->socket_path != NULL)
    {
      g_ptr_array_add (argv, (char *) "-S");
      g_ptr_array_add (argv, self->socket_path);
    }
  /* One -C (not -CC): no terminal is involved, stdin is a pipe. -A attaches
   * to the control session or creates it, starting the server if none runs.
   * The client stays attached until stdin closes; "cat" is a do-nothing
   * program for the session's only pane. */
  g_ptr_array_add (argv, (char *) "-C");
  g_ptr_array_add (argv, (char *) "new-session");
  g_ptr_array_add (argv, (char *) "-A");
  g_ptr_array_add (argv, (char *) "-s");
  g_ptr_array_add (argv, self->control_session);
  g_ptr_array_add (argv, (char *) "cat");
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE
                                        | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                        | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  /* Inside tmux, $TMUX makes new-session refuse to nest. */
  g_subprocess_launcher_unsetenv (launcher, "TMUX");
  g_subprocess_launcher_set_child_setup (launcher, control_client_setup,
                                         GUINT_TO_POINTER (self->nice), NULL);
  self->process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata,
                                                &error);
  if (self->process == NULL)
    {
      g_autofree char *reason = g_strdup_printf ("cannot run tmux: %s", error->message);
      self->failed_attempts++;
      self->state = CONN_STOPPED;
      log_connection (self, self->failed_attempts == 1 ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_DEBUG,
                      reason);
      schedule_reconnect (self);
      return;
    }

  self->from_tmux = g_object_ref (g_subprocess_get_stdout_pipe (self->process));
  self->to_tmux = g_object_ref (g_subprocess_get_stdin_pipe (self->process));
  /* A blocking write of a large paste into a full pipe would stall the loop. */
  fd = g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (self->to_tmux));
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (self->from_tmux));
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);

  in = G_POLLABLE_INPUT_STREAM (self->from_tmux);
  self->read_source = g_pollable_input_stream_create_source (in, NULL);
  g_source_set_callback (self->read_source, G_SOURCE_FUNC (on_tmux_readable), self, NULL);
  g_source_attach (self->read_source, NULL);

  self->state = CONN_CONNECTING;
  self->connect_timeout_id = g_timeout_add_seconds (CONNECT_TIMEOUT_S, on_connect_timeout, self);
  log_connection (self, G_LOG_LEVEL_DEBUG, "connecting");

  /* The first reply proves the client is attached and reading commands.
   * Pane output would otherwise stream to us as %output lines. */
  cf_tmux_submit (self, g_strdup ("refresh-client -f no-output"), NULL, probe_reply,
                  GSIZE_TO_POINTER (self->generation), NULL);
}

/* ---- submitting commands ------------------------------------------------ */

void
cf_tmux_submit (CfTmux *self, char *line, GTask *task, ReplyFunc reply, gpointer data,
                GDestroyNotify data_free)
{
  g_autofree char *owned_line = line;
  Pending *pending;
  GCancellable *cancellable;

  if (self->state != CONN_CONNECTING && self->state != CONN_CONNECTED)
    {
      if (task != NULL)
        {
          g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_DISCONNECTED,
                                   "not connected to tmux");
          g_object_unref (task);
        }
      if (data_free != NULL)
        data_free (data);
      return;
    }
  if (task != NULL && g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      if (data_free != NULL)
        data_free (data);
      return;
    }

  pending = g_new0 (Pending, 1);
  pending->task = task;
  pending->verb = g_strndup (line, strcspn (line, " "));
  pending->reply = reply;
  pending->data = data;
  pending->data_free = data_free;
  cancellable = task != NULL ? g_task_get_cancellable (task) : NULL;
  if (cancellable != NULL)
    {
      pending->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (pending->cancel_source, G_SOURCE_FUNC (on_pending_cancelled),
                             pending, NULL);
      g_source_attach (pending->cancel_source, NULL);
    }
  g_queue_push_tail (&self->pending, pending);

  g_byte_array_append (self->write_buffer, (const guint8 *) line, strlen (line));
  g_byte_array_append (self->write_buffer, (const guint8 *) "\n", 1);
  self->commands_sent++;
  /* When tmux attaches to an existing session, it runs commands read before
   * the attach without a client ("no current client"): hold them until the
   * attach command's block (the first one without flag 1) has ended. */
  if (self->attached)
    flush_writes (self);
}

/* tmux answers each command of a line with its own block, and an empty line,
 * a comment or an assignment with none (an empty line even detaches the
 * client). Anything but exactly one command would hand every later reply to
 * the wrong caller, so raw commands are checked: a lowercase command name,
 * then words with balanced quotes and no unquoted ';', braces or comment. */
static gboolean
command_is_single (const char *command)
{
  const char *p = command;
  char quote = '\0';
  gboolean word_start = FALSE;

  if (!g_ascii_islower (*p))
    return FALSE;
  while (g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '-')
    p++;
  if (*p != '\0' && *p != ' ')
    return FALSE;

  for (; *p != '\0'; p++)
    {
      char c = *p;

      if (c == '\n' || c == '\r')
        return FALSE;
      if (quote == '\'')
        {
          if (c == '\'')
            quote = '\0';
          continue;
        }
      if (quote == '"')
        {
          if (c == '\\' && p[1] != '\0')
            p++;
          else if (c == '"')
            quote = '\0';
          continue;
        }
      switch (c)
        {
        case ' ':
        case '\t':
          word_start = TRUE;
          continue;
        case '\\':
          if (p[1] == '\0' || p[1] == '\n' || p[1] == '\r')
            return FALSE;
          p++;
          break;
        case '\'':
        case '"':
          quote = c;
          break;
        case ';':
        case '{':
        case '}':
          return FALSE;
        case '#':
          if (word_start)
            return FALSE;
          break;
        default:
          break;
        }
      word_start = FALSE;
    }
  return quote == '\0';
}

/* ---- raw commands ------------------------------------------------------- */

static void
reply_lines (CfTmux *self, GTask *task, const char *verb, gboolean ok, GStrv lines,
             gpointer data)
{
  g_auto(GStrv) owned = lines;

  if (task == NULL)
    return;
  if (ok)
    g_task_return_pointer (task, g_steal_pointer (&owned), (GDestroyNotify) g_strfreev);
  else
    cf_tmux_return_command_error (task, verb, lines);
}

void
cf_tmux_reply_boolean (CfTmux *self, GTask *task, const char *verb, gboolean ok, GStrv lines,
                       gpointer data)
{
  g_auto(GStrv) owned = lines;

  if (task == NULL)
    return;
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    cf_tmux_return_command_error (task, verb, lines);
}

void
cf_tmux_command_async (CfTmux *self, const char *command, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (CF_IS_TMUX (self));
  g_return_if_fail (command != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cf_tmux_command_async);
  if (!command_is_single (command))
    {
      g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID,
                               "not a single tmux command: %s", command);
      return;
    }
  cf_tmux_submit (self, g_strdup (command), g_steal_pointer (&task), reply_lines, NULL, NULL);
}

GStrv
cf_tmux_command_finish (CfTmux *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
cf_tmux_finish_boolean (CfTmux *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
