/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* One persistent tmux control-mode connection (`tmux [-S socket] -C`) with an
 * asynchronous command queue. Replies are framed by %begin/%end/%error.
 * When the server or the connection dies, queued and in-flight commands fail
 * with CF_TMUX_ERROR_DISCONNECTED and the client reconnects with backoff
 * (starting a server if none runs). Nothing here blocks the main loop.
 * Every target is exact ("=NAME:"), so "w-1" never resolves to "w-10". */

#define CF_TMUX_ERROR (cf_tmux_error_quark ())
GQuark cf_tmux_error_quark (void);

typedef enum {
  CF_TMUX_ERROR_DISCONNECTED,  /* no connection, or it died before the reply */
  CF_TMUX_ERROR_COMMAND,       /* tmux answered %error; message = its output */
  CF_TMUX_ERROR_INVALID,       /* bad argument (e.g. an invalid session name) */
} CfTmuxError;

#define CF_TYPE_TMUX (cf_tmux_get_type ())
G_DECLARE_FINAL_TYPE (CfTmux, cf_tmux, CF, TMUX, GObject)

/* SOCKET_PATH: tmux -S path, or NULL/"" for the user's default server.
 * CONTROL_SESSION: name of the hidden session the control client attaches to
 * (created if absent, never listed; NULL = "claude-failover-control").
 * Signals: "connected" (), "disconnected" (), "sessions-changed" ().
 * Commands issued while the client is starting wait for it; commands issued
 * while it is down (between "disconnected" and the next "connected") fail at
 * once with CF_TMUX_ERROR_DISCONNECTED. */
CfTmux *cf_tmux_new (const char *socket_path, const char *control_session);
void cf_tmux_start (CfTmux *self);
/* The control client, and so a tmux server it starts and every session in
 * that server, runs NICE steps below the daemon's own CPU priority
 * (tmux.nice); its open-file limit is the one the daemon started with.
 * Takes effect at the next (re)connection. A server already running keeps
 * its priority. */
void cf_tmux_set_nice (CfTmux *self, guint nice);
void cf_tmux_stop (CfTmux *self);
gboolean cf_tmux_is_connected (CfTmux *self);
const char *cf_tmux_get_control_session (CfTmux *self);
/* Number of commands sent since start (for metrics / benchmarks). */
guint64 cf_tmux_get_commands_sent (CfTmux *self);

/* Raw command: exactly one tmux command on one line, arguments already quoted
 * (cf_tmux_quote); a ';', brace, comment or line break outside quotes is
 * CF_TMUX_ERROR_INVALID, since it would shift every later reply.
 * Result: GStrv of output lines (raw bytes, no '\n'). */
void cf_tmux_command_async (CfTmux *self, const char *command, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
GStrv cf_tmux_command_finish (CfTmux *self, GAsyncResult *result, GError **error);

/* Operations. Unless stated, finish with cf_tmux_finish_boolean(). */
void cf_tmux_has_session_async (CfTmux *self, const char *name, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
/* TRUE/FALSE for exists/absent; FALSE + error only on transport failure. */
gboolean cf_tmux_has_session_finish (CfTmux *self, GAsyncResult *result, GError **error);

/* Detached 200x50 session in CWD (may be NULL; taken literally, '#' included),
 * with ENV ("K=V" strings, may be NULL) set for the session, running COMMAND
 * (NULL = default shell). COMMAND is a shell command line (tmux runs it with
 * default-shell -c): quote every part of it with cf_shell_quote(). */
void cf_tmux_new_session_async (CfTmux *self, const char *name, const char *cwd,
                                const char *const *env, const char *command,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
void cf_tmux_kill_session_async (CfTmux *self, const char *name, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
/* send-keys -l: TEXT typed literally (no newline allowed; use paste). */
void cf_tmux_send_text_async (CfTmux *self, const char *name, const char *text,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data);
void cf_tmux_send_enter_async (CfTmux *self, const char *name, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
/* Bracketed paste (paste-buffer -p) of multi-line TEXT through a private buffer. */
void cf_tmux_paste_async (CfTmux *self, const char *name, const char *text,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data);
gboolean cf_tmux_finish_boolean (CfTmux *self, GAsyncResult *result, GError **error);

/* Replaces whatever runs in session NAME's pane with ARGV (a program and at
 * least one argument, executed directly by tmux: no shell parses it, so no
 * byte of a path or flag can act as shell syntax or reach a terminal), in
 * CWD, with ENV ("K=V", may be NULL) added to its environment. The pane
 * stays after the program exits (remain-on-exit) and its history is
 * cleared, so its screen holds only what ARGV draws. */
void cf_tmux_respawn_async (CfTmux *self, const char *name, const char *cwd,
                            const char *const *env, const char *const *argv,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data);

/* capture-pane -p -J: the visible screen plus HISTORY_LINES of history
 * (0 = visible screen only). Result: the text, lines joined with '\n' (no
 * trailing one; blank rows included), made valid UTF-8. */
void cf_tmux_capture_async (CfTmux *self, const char *name, guint history_lines,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data);
char *cf_tmux_capture_finish (CfTmux *self, GAsyncResult *result, GError **error);

typedef struct {
  char *name;
  char *pane_id;               /* "%12" ($TMUX_PANE) */
  gint64 pane_pid;
  char *current_command;       /* pane_current_command */
  gboolean pane_dead;
} CfTmuxSessionInfo;
void cf_tmux_session_info_free (CfTmuxSessionInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfTmuxSessionInfo, cf_tmux_session_info_free)

/* TRUE when Claude no longer runs in the pane: the pane is dead (the
 * program tmux started exited) or a shell is in the foreground. */
gboolean cf_tmux_session_info_claude_exited (const CfTmuxSessionInfo *info);

/* The first pane of session NAME (pid, current command, …).
 * Result: a CfTmuxSessionInfo*, free with cf_tmux_session_info_free(). */
void cf_tmux_session_info_async (CfTmux *self, const char *name, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
CfTmuxSessionInfo *cf_tmux_session_info_finish (CfTmux *self, GAsyncResult *result,
                                                GError **error);

/* Every session except the control session. Result: GPtrArray of CfTmuxSessionInfo*
 * (first pane of each session), element free function set. */
void cf_tmux_list_sessions_async (CfTmux *self, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *cf_tmux_list_sessions_finish (CfTmux *self, GAsyncResult *result, GError **error);

G_END_DECLS
