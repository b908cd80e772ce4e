/* SPDX-License-Identifier: MIT */
#include "cf-tmux.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>

#include "cf-fd-limit.h"
#include "cf-shell.h"

#define DEFAULT_CONTROL_SESSION "claude-failover-control"
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
/* A tmux client that neither answers nor exits (a wedged server) must not
 * hold every command forever: give up on it and start over. */
#define CONNECT_TIMEOUT_S 10
#define READ_CHUNK 65536
/* Fixed pane size of the sessions we create: detached sessions keep it, so
 * captures look the same whatever terminal the operator last attached. */
#define SESSION_WIDTH 200
#define SESSION_HEIGHT 50
#define LIST_FORMAT "#{session_name}\t#{pane_id}\t#{pane_pid}\t#{pane_dead}\t#{pane_current_command}"

G_DEFINE_QUARK (cf-tmux-error-quark, cf_tmux_error)

typedef enum {
  CONN_STOPPED,     /* not started, or stopped */
  CONN_WAITING,     /* connection lost, reconnect timer armed */
  CONN_CONNECTING,  /* client spawned, probe command not answered yet */
  CONN_CONNECTED,
} ConnState;

static const char *const conn_state_names[] = {
  "stopped", "waiting", "connecting", "connected",
};

/* Called once per command when its reply block ends. TASK is NULL for
 * internal commands and for commands whose caller cancelled; LINES is owned. */
typedef void (*ReplyFunc) (CfTmux *self, GTask *task, const char *verb, gboolean ok,
                           GStrv lines, gpointer data);

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

struct _CfTmux {
  GObject parent_instance;

  char *socket_path;           /* NULL = the user's default server */
  char *control_session;
  guint nice;

  gboolean running;            /* between cf_tmux_start and cf_tmux_stop */
  ConnState state;
  guint64 generation;          /* bumped on every teardown */

  GSubprocess *process;
  GInputStream *from_tmux;     /* pollable, non-blocking */
  GOutputStream *to_tmux;      /* pollable, non-blocking */
  GSource *read_source;
  GSource *write_source;
  GByteArray *read_buffer;
  gsize read_scanned;          /* bytes of read_buffer known to hold no '\n' */
  GByteArray *write_buffer;

  gboolean attached;           /* the attach command's own block has ended */
  char *exit_reason;           /* from "%exit REASON", for the log */
  GQueue pending;              /* Pending*, in the order the commands were written */
  gboolean in_block;
  gboolean block_ours;         /* %begin flags bit 0: the command came from us */
  char *block_guard;           /* "TIME NUMBER FLAGS" that the closing line repeats */
  GPtrArray *block_lines;

  guint reconnect_id;
  guint connect_timeout_id;
  guint reconnect_delay_ms;
  guint failed_attempts;
  guint64 commands_sent;
  guint paste_serial;
};

enum {
  SIGNAL_CONNECTED,
  SIGNAL_DISCONNECTED,
  SIGNAL_SESSIONS_CHANGED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfTmux, cf_tmux, G_TYPE_OBJECT)

static void connect_now (CfTmux *self);
static void submit (CfTmux *self, char *line, GTask *task, ReplyFunc reply,
                    gpointer data, GDestroyNotify data_free);

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

static char *
joined_output (GStrv lines, const char *fallback)
{
  if (lines == NULL || lines[0] == NULL)
    return g_strdup (fallback);
  return g_strjoinv ("\n", lines);
}

static void
return_command_error (GTask *task, const char *verb, GStrv lines)
{
  g_autofree char *text = joined_output (lines, "command failed");

  g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND,
                           "tmux %s: %s", verb, text);
}

/* ---- connection teardown and reconnect ---------------------------------- */

static gboolean
on_reconnect_timeout (gpointer user_data)
{
  CfTmux *self = user_data;

  self->reconnect_id = 0;
  connect_now (self);
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
static void
teardown (CfTmux *self, const char *reason, gboolean graceful)
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
    g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0);

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
      /* Only possible if something other than submit() wrote to tmux. */
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
        g_signal_emit (self, signals[SIGNAL_SESSIONS_CHANGED], 0);
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
      teardown (self, reason != NULL ? reason : "tmux client exited", FALSE);
      return G_SOURCE_REMOVE;
    }
  if (n < 0)
    {
      g_autofree char *reason = g_strdup_printf ("read failed: %s", error->message);
      teardown (self, reason, FALSE);
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

static void on_pid_for_renice (GObject *source, GAsyncResult *result, gpointer user_data);

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
      g_autofree char *text = joined_output (lines, "refused");
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
  g_signal_emit (self, signals[SIGNAL_CONNECTED], 0);
  if (self->nice > 0 && self->state == CONN_CONNECTED)
    cf_tmux_command_async (self, "display-message -p '#{pid}'", NULL, on_pid_for_renice,
                           GINT_TO_POINTER (FALSE));
}

static gboolean
on_connect_timeout (gpointer user_data)
{
  CfTmux *self = user_data;

  self->connect_timeout_id = 0;
  teardown (self, "tmux did not answer within " G_STRINGIFY (CONNECT_TIMEOUT_S) " s", FALSE);
  return G_SOURCE_REMOVE;
}

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

/* The tmux server calls setsid(), and so does every pane's program: with
 * the kernel's autogroups (the default where the CPU controller is not in
 * use) each of them competes with the daemon as a whole session, whatever
 * the niceness of its processes, and a new autogroup starts at nice 0. So a
 * server that runs at our tmux.nice (one we started, or one reniced to it)
 * gets that niceness on its autogroup too, and so does each program a
 * respawn starts in a pane (Claude, its hooks and its tools inherit it).
 * /proc writes: in a thread. */
typedef struct {
  pid_t pid;
  guint steps;
  gboolean pane;
} Renice;

static void
renice_autogroup_in_thread (GTask *task, gpointer source, gpointer task_data,
                            GCancellable *cancellable)
{
  const Renice *renice = task_data;
  g_autofree char *path = g_strdup_printf ("/proc/%d/autogroup", (int) renice->pid);
  g_autofree char *value = NULL;
  g_autoptr(GError) error = NULL;
  int own, target;

  errno = 0;
  own = getpriority (PRIO_PROCESS, 0);
  target = getpriority (PRIO_PROCESS, (id_t) renice->pid);
  if (errno != 0 || target < MIN (19, own + (int) renice->steps))
    {
      g_task_return_boolean (task, FALSE);   /* not ours to slow down */
      return;
    }
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_task_return_boolean (task, FALSE);   /* no autogroups in this kernel */
      return;
    }
  value = g_strdup_printf ("%d\n", MIN (19, own + (int) renice->steps));
  if (!g_file_set_contents_full (path, value, -1, G_FILE_SET_CONTENTS_NONE, 0644, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_autogroup_reniced (GObject *source, GAsyncResult *result, gpointer user_data)
{
  const Renice *renice = g_task_get_task_data (G_TASK (result));
  static gboolean pane_warned;
  g_autoptr(GError) error = NULL;

  if (g_task_propagate_boolean (G_TASK (result), &error))
    g_log_structured (G_LOG_DOMAIN, renice->pane ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_INFO,
                      "MESSAGE", "%s's autogroup set to tmux.nice",
                      renice->pane ? "A pane's program" : "The tmux server");
  else if (error != NULL)
    {
      /* A pane's failure is the same every time: said once. */
      gboolean first = !renice->pane || !pane_warned;

      if (renice->pane)
        pane_warned = TRUE;
      g_log_structured (G_LOG_DOMAIN, first ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_DEBUG,
                        "MESSAGE", "Cannot lower %s autogroup priority: %s",
                        renice->pane ? "a pane's" : "the tmux server's", error->message);
    }
}

/* The reply of "display-message -p '#{pid}'" or "… '#{pane_pid}'". */
static void
on_pid_for_renice (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = cf_tmux_command_finish (CF_TMUX (source), result, &error);
  g_autoptr(GTask) task = NULL;
  Renice *renice;
  gint64 pid = 0;

  if (lines == NULL || lines[0] == NULL ||
      !g_ascii_string_to_signed (lines[0], 10, 1, G_MAXINT, &pid, NULL))
    return;
  renice = g_new0 (Renice, 1);
  renice->pid = (pid_t) pid;
  renice->steps = CF_TMUX (source)->nice;
  renice->pane = GPOINTER_TO_INT (user_data);
  task = g_task_new (NULL, NULL, on_autogroup_reniced, NULL);
  g_task_set_task_data (task, renice, g_free);
  g_task_run_in_thread (task, renice_autogroup_in_thread);
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

static void
connect_now (CfTmux *self)
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
  submit (self, g_strdup ("refresh-client -f no-output"), NULL, probe_reply,
          GSIZE_TO_POINTER (self->generation), NULL);
}

/* ---- submitting commands ------------------------------------------------ */

static void
submit (CfTmux *self, char *line, GTask *task, ReplyFunc reply, gpointer data,
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
    return_command_error (task, verb, lines);
}

static void
reply_boolean (CfTmux *self, GTask *task, const char *verb, gboolean ok, GStrv lines,
               gpointer data)
{
  g_auto(GStrv) owned = lines;

  if (task == NULL)
    return;
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    return_command_error (task, verb, lines);
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
  submit (self, g_strdup (command), g_steal_pointer (&task), reply_lines, NULL, NULL);
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
  submit (self, g_strdup_printf ("has-session -t %s", target), g_steal_pointer (&task),
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
  submit (self, g_string_free (g_steal_pointer (&line), FALSE), g_steal_pointer (&task),
          reply_boolean, NULL, NULL);
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
  submit (self, g_strdup_printf ("kill-session -t %s", target), g_steal_pointer (&task),
          reply_boolean, NULL, NULL);
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
  submit (self, g_strdup_printf ("send-keys -t %s -l -- %s", target, quoted_text),
          g_steal_pointer (&task), reply_boolean, NULL, NULL);
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
  submit (self, g_strdup_printf ("send-keys -t %s Enter", target), g_steal_pointer (&task),
          reply_boolean, NULL, NULL);
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
    job->set_error = joined_output (lines, "command failed");
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
      submit (self, g_strdup_printf ("delete-buffer -b %s", quoted), NULL, reply_boolean,
              NULL, NULL);
    }
  if (task == NULL)
    return;
  if (job->set_error != NULL)
    g_task_return_new_error (task, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND,
                             "tmux set-buffer: %s", job->set_error);
  else if (!ok)
    return_command_error (task, verb, lines);
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
  submit (self, g_strdup_printf ("set-buffer -b %s -- %s", quoted_buffer, quoted_text),
          NULL, reply_paste_set, g_rc_box_acquire (job),
          paste_job_release);
  submit (self, g_strdup_printf ("paste-buffer -p -d -b %s -t %s", quoted_buffer, target),
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
      g_autofree char *text = joined_output (lines, "command failed");
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
  submit (self, g_strdup_printf ("set-option -p -t %s remain-on-exit on", target), NULL,
          reply_respawn_step, g_rc_box_acquire (job), respawn_job_release);
  submit (self, g_string_free (g_steal_pointer (&line), FALSE), NULL, reply_respawn_step,
          g_rc_box_acquire (job), respawn_job_release);
  /* Nothing of the previous program may be read as this one's screen. */
  submit (self, g_strdup_printf ("clear-history -t %s", target), g_steal_pointer (&task),
          reply_respawn_step, job, respawn_job_release);
  /* The new program is a session (and an autogroup) of its own. */
  if (self->nice > 0)
    {
      g_autofree char *query = g_strdup_printf ("display-message -p -t %s '#{pane_pid}'", target);

      cf_tmux_command_async (self, query, NULL, on_pid_for_renice, GINT_TO_POINTER (TRUE));
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
      return_command_error (task, verb, lines);
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
  submit (self, line, g_steal_pointer (&task), reply_capture, NULL, NULL);
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
      return_command_error (task, verb, lines);
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
  submit (self, g_strdup_printf ("list-panes -a -F %s", format), g_steal_pointer (&task),
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
      return_command_error (task, verb, lines);
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
  submit (self, g_strdup_printf ("list-panes -s -t %s -F %s", target, format),
          g_steal_pointer (&task), reply_session_info, NULL, NULL);
}

CfTmuxSessionInfo *
cf_tmux_session_info_finish (CfTmux *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- lifecycle ---------------------------------------------------------- */

void
cf_tmux_start (CfTmux *self)
{
  g_return_if_fail (CF_IS_TMUX (self));

  if (self->running)
    return;
  self->running = TRUE;
  self->reconnect_delay_ms = RECONNECT_MIN_MS;
  self->failed_attempts = 0;
  connect_now (self);
}

void
cf_tmux_stop (CfTmux *self)
{
  g_return_if_fail (CF_IS_TMUX (self));

  if (!self->running)
    return;
  self->running = FALSE;
  g_clear_handle_id (&self->reconnect_id, g_source_remove);
  teardown (self, "stopped", TRUE);
  self->state = CONN_STOPPED;
}

gboolean
cf_tmux_is_connected (CfTmux *self)
{
  g_return_val_if_fail (CF_IS_TMUX (self), FALSE);
  return self->state == CONN_CONNECTED;
}

const char *
cf_tmux_get_control_session (CfTmux *self)
{
  g_return_val_if_fail (CF_IS_TMUX (self), NULL);
  return self->control_session;
}

guint64
cf_tmux_get_commands_sent (CfTmux *self)
{
  g_return_val_if_fail (CF_IS_TMUX (self), 0);
  return self->commands_sent;
}

void
cf_tmux_set_nice (CfTmux *self, guint nice)
{
  g_return_if_fail (CF_IS_TMUX (self));

  self->nice = MIN (nice, 19);
}

CfTmux *
cf_tmux_new (const char *socket_path, const char *control_session)
{
  CfTmux *self;

  g_return_val_if_fail (control_session == NULL || cf_session_name_is_valid (control_session),
                        NULL);

  self = g_object_new (CF_TYPE_TMUX, NULL);
  self->socket_path = socket_path != NULL && *socket_path != '\0' ? g_strdup (socket_path) : NULL;
  self->control_session = g_strdup (control_session != NULL ? control_session
                                                            : DEFAULT_CONTROL_SESSION);
  return self;
}

static void
cf_tmux_dispose (GObject *object)
{
  CfTmux *self = CF_TMUX (object);

  cf_tmux_stop (self);
  G_OBJECT_CLASS (cf_tmux_parent_class)->dispose (object);
}

static void
cf_tmux_finalize (GObject *object)
{
  CfTmux *self = CF_TMUX (object);

  g_free (self->socket_path);
  g_free (self->control_session);
  g_byte_array_unref (self->read_buffer);
  g_byte_array_unref (self->write_buffer);
  g_ptr_array_unref (self->block_lines);
  g_free (self->block_guard);
  g_free (self->exit_reason);
  G_OBJECT_CLASS (cf_tmux_parent_class)->finalize (object);
}

static void
cf_tmux_class_init (CfTmuxClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cf_tmux_dispose;
  object_class->finalize = cf_tmux_finalize;

  signals[SIGNAL_CONNECTED] =
    g_signal_new ("connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_SESSIONS_CHANGED] =
    g_signal_new ("sessions-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /* Writing to the pipe of a tmux client that just died raises SIGPIPE,
   * which would kill the daemon; the write error is handled instead. GIO's
   * GSocket makes the same process-wide choice. */
  signal (SIGPIPE, SIG_IGN);
}

static void
cf_tmux_init (CfTmux *self)
{
  self->state = CONN_STOPPED;
  self->read_buffer = g_byte_array_new ();
  self->write_buffer = g_byte_array_new ();
  self->block_lines = g_ptr_array_new_with_free_func (g_free);
  g_queue_init (&self->pending);
}
