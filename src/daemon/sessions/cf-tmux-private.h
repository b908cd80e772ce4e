/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the files of CfTmux only (cf-tmux.c, cf-tmux-control.c,
 * cf-tmux-ops.c); nothing else includes it. The instance, the connection
 * states, and the few calls one file makes into another. */

#include <gio/gio.h>

#include "cf-tmux.h"

G_BEGIN_DECLS

#define RECONNECT_MIN_MS 100

typedef enum {
  CONN_STOPPED,     /* not started, or stopped */
  CONN_WAITING,     /* connection lost, reconnect timer armed */
  CONN_CONNECTING,  /* client spawned, probe command not answered yet */
  CONN_CONNECTED,
} ConnState;

/* Called once per command when its reply block ends. TASK is NULL for
 * internal commands and for commands whose caller cancelled; LINES is owned. */
typedef void (*ReplyFunc) (CfTmux *self, GTask *task, const char *verb, gboolean ok,
                           GStrv lines, gpointer data);

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
extern guint cf_tmux_signals[N_SIGNALS];

/* cf-tmux-control.c: the control-mode connection and its command queue. */
void cf_tmux_connect (CfTmux *self);
void cf_tmux_teardown (CfTmux *self, const char *reason, gboolean graceful);
void cf_tmux_submit (CfTmux *self, char *line, GTask *task, ReplyFunc reply,
                     gpointer data, GDestroyNotify data_free);
char *cf_tmux_joined_output (GStrv lines, const char *fallback);
void cf_tmux_return_command_error (GTask *task, const char *verb, GStrv lines);
void cf_tmux_reply_boolean (CfTmux *self, GTask *task, const char *verb, gboolean ok,
                            GStrv lines, gpointer data);

/* cf-tmux.c: the reply of "display-message -p '#{pid}'" (USER_DATA FALSE:
 * the server) or "… '#{pane_pid}'" (TRUE: a pane's program) lowers that
 * process's autogroup to tmux.nice. */
void cf_tmux_on_pid_for_renice (GObject *source, GAsyncResult *result, gpointer user_data);

G_END_DECLS
