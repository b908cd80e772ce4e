/* SPDX-License-Identifier: MIT */
/* The CfTmux object: construction, start and stop, its settings and
 * counters, and tmux.nice for the server and the pane programs it starts
 * (their autogroups). The connection itself is in cf-tmux-control.c, the
 * typed operations in cf-tmux-ops.c. */
#include "cf-tmux.h"
#include "cf-tmux-private.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cf-shell.h"

#define DEFAULT_CONTROL_SESSION "claude-failover-control"

G_DEFINE_QUARK (cf-tmux-error-quark, cf_tmux_error)

guint cf_tmux_signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfTmux, cf_tmux, G_TYPE_OBJECT)

/* ---- tmux.nice ---------------------------------------------------------- */

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

  /* A pane's program joins its own autogroup when it calls setsid(), just
   * after tmux forks it: before that, this write would renice the server's
   * group (already done) and the new one would stay at nice 0. Waited for
   * here, in the worker thread, for up to a second. */
  for (guint waited = 0; renice->pane; waited++)
    {
      pid_t sid = getsid (renice->pid);

      if (sid == renice->pid)
        break;
      if (sid < 0 || waited == 100)
        {
          g_task_return_boolean (task, FALSE);   /* gone, or not a session */
          return;
        }
      g_usleep (10 * 1000);
    }
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
void
cf_tmux_on_pid_for_renice (GObject *source, GAsyncResult *result, gpointer user_data)
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
  cf_tmux_connect (self);
}

void
cf_tmux_stop (CfTmux *self)
{
  g_return_if_fail (CF_IS_TMUX (self));

  if (!self->running)
    return;
  self->running = FALSE;
  g_clear_handle_id (&self->reconnect_id, g_source_remove);
  cf_tmux_teardown (self, "stopped", TRUE);
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

  cf_tmux_signals[SIGNAL_CONNECTED] =
    g_signal_new ("connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  cf_tmux_signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  cf_tmux_signals[SIGNAL_SESSIONS_CHANGED] =
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
