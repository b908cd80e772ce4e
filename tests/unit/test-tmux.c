/* SPDX-License-Identifier: MIT */
/* CfTmux against a real tmux server on a private socket. */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "cf-shell.h"
#include "cf-tmux.h"

#define WAIT_SECONDS 20

typedef struct {
  char *tmpdir;
  char *socket;
  CfTmux *tmux;
  guint connected;
  guint disconnected;
  guint sessions_changed;
  /* Set by the "disconnected" handler: a command issued at that moment. */
  GError *error_in_disconnected;
  gboolean issue_in_disconnected;
} Fixture;

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until COND holds; fails the test after WAIT_SECONDS. */
#define WAIT_UNTIL(cond)                                                      \
  G_STMT_START {                                                              \
    gint64 deadline_ = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC; \
    guint tick_ = g_timeout_add (10, tick, NULL);                             \
    while (!(cond) && g_get_monotonic_time () < deadline_)                    \
      g_main_context_iteration (NULL, TRUE);                                  \
    g_source_remove (tick_);                                                  \
    if (!(cond))                                                              \
      g_error ("timed out waiting for %s", #cond);                            \
  } G_STMT_END

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **slot = user_data;

  g_assert_null (*slot);
  *slot = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  WAIT_UNTIL (*slot != NULL);
  return *slot;
}

static void
run_tmux_cli (const char *socket, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, (char *) "tmux");
  g_ptr_array_add (argv, (char *) "-S");
  g_ptr_array_add (argv, (char *) socket);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  /* A blocking spawn is fine in a test program; the daemon never does it. */
  g_spawn_sync (NULL, (char **) argv->pdata, NULL,
                G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, NULL, NULL, NULL, NULL);
}

static void
remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                NULL, NULL);
}

static void
on_connected (CfTmux *tmux, Fixture *f)
{
  f->connected++;
}

static void on_disconnect_probe_done (GObject *source, GAsyncResult *result, gpointer user_data);

static void
on_disconnected (CfTmux *tmux, Fixture *f)
{
  f->disconnected++;
  g_assert_false (cf_tmux_is_connected (tmux));
  if (f->issue_in_disconnected && f->error_in_disconnected == NULL)
    cf_tmux_command_async (tmux, "display-message -p x", NULL, on_disconnect_probe_done, f);
}

static void
on_disconnect_probe_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;
  g_auto(GStrv) lines = cf_tmux_command_finish (CF_TMUX (source), result,
                                                &f->error_in_disconnected);

  g_assert_null (lines);
}

static void
on_sessions_changed (CfTmux *tmux, Fixture *f)
{
  f->sessions_changed++;
}

static gboolean
tmux_missing (void)
{
  g_autofree char *path = g_find_program_in_path ("tmux");

  return path == NULL;
}

static void
fixture_setup_socket (Fixture *f, const char *socket_relative)
{
  g_autoptr(GError) error = NULL;

  if (tmux_missing ())
    return;
  f->tmpdir = g_dir_make_tmp ("cf-test-tmux-XXXXXX", &error);
  g_assert_no_error (error);
  f->socket = g_build_filename (f->tmpdir, socket_relative, NULL);
  f->tmux = cf_tmux_new (f->socket, "cf-test-control");
  g_signal_connect (f->tmux, "connected", G_CALLBACK (on_connected), f);
  g_signal_connect (f->tmux, "disconnected", G_CALLBACK (on_disconnected), f);
  g_signal_connect (f->tmux, "sessions-changed", G_CALLBACK (on_sessions_changed), f);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  fixture_setup_socket (f, "tmux.sock");
  if (f->tmux == NULL)
    return;
  cf_tmux_start (f->tmux);
  /* Commands issued before the connection is up wait for it. */
  cf_tmux_has_session_async (f->tmux, "nothing-here", NULL, store_result, &result);
  g_assert_false (cf_tmux_has_session_finish (f->tmux, wait_result (&result), &error));
  g_assert_no_error (error);
  WAIT_UNTIL (f->connected == 1);
  g_assert_true (cf_tmux_is_connected (f->tmux));
}

static void
fixture_setup_unstarted (Fixture *f, gconstpointer data)
{
  fixture_setup_socket (f, "later/tmux.sock");
}

static void
fixture_setup_not_connected (Fixture *f, gconstpointer data)
{
  fixture_setup_socket (f, "tmux.sock");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->tmux != NULL)
    {
      const char *const kill_server[] = { "kill-server", NULL };

      f->issue_in_disconnected = FALSE;
      cf_tmux_stop (f->tmux);
      g_object_unref (f->tmux);
      run_tmux_cli (f->socket, kill_server);
    }
  if (f->tmpdir != NULL)
    remove_tree (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->socket);
  g_clear_error (&f->error_in_disconnected);
}

static gboolean
skip_without_tmux (Fixture *f)
{
  if (f->tmux != NULL)
    return FALSE;
  g_test_skip ("tmux is not installed");
  return TRUE;
}

/* ---- synchronous wrappers (for the test only) ---------------------------- */

static gboolean
has_session (Fixture *f, const char *name, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cf_tmux_has_session_async (f->tmux, name, NULL, store_result, &result);
  return cf_tmux_has_session_finish (f->tmux, wait_result (&result), error);
}

static gboolean
new_session (Fixture *f, const char *name, const char *cwd, const char *const *env,
             const char *command, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cf_tmux_new_session_async (f->tmux, name, cwd, env, command, NULL, store_result, &result);
  return cf_tmux_finish_boolean (f->tmux, wait_result (&result), error);
}

static gboolean
respawn (Fixture *f, const char *name, const char *cwd, const char *const *env,
         const char *const *argv, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cf_tmux_respawn_async (f->tmux, name, cwd, env, argv, NULL, store_result, &result);
  return cf_tmux_finish_boolean (f->tmux, wait_result (&result), error);
}

static gboolean
kill_session (Fixture *f, const char *name, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cf_tmux_kill_session_async (f->tmux, name, NULL, store_result, &result);
  return cf_tmux_finish_boolean (f->tmux, wait_result (&result), error);
}

static gboolean
send_text (Fixture *f, const char *name, const char *text, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cf_tmux_send_text_async (f->tmux, name, text, NULL, store_result, &result);
  return cf_tmux_finish_boolean (f->tmux, wait_result (&result), error);
}

static gboolean
send_enter (Fixture *f, const char *name, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cf_tmux_send_enter_async (f->tmux, name, NULL, store_result, &result);
  return cf_tmux_finish_boolean (f->tmux, wait_result (&result), error);
}

static gboolean
paste (Fixture *f, const char *name, const char *text, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cf_tmux_paste_async (f->tmux, name, text, NULL, store_result, &result);
  return cf_tmux_finish_boolean (f->tmux, wait_result (&result), error);
}

static char *
capture (Fixture *f, const char *name, guint history, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cf_tmux_capture_async (f->tmux, name, history, NULL, store_result, &result);
  return cf_tmux_capture_finish (f->tmux, wait_result (&result), error);
}

static GPtrArray *
list_sessions (Fixture *f, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cf_tmux_list_sessions_async (f->tmux, NULL, store_result, &result);
  return cf_tmux_list_sessions_finish (f->tmux, wait_result (&result), error);
}

static CfTmuxSessionInfo *
session_info (Fixture *f, const char *name, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cf_tmux_session_info_async (f->tmux, name, NULL, store_result, &result);
  return cf_tmux_session_info_finish (f->tmux, wait_result (&result), error);
}

static GStrv
command (Fixture *f, const char *line, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cf_tmux_command_async (f->tmux, line, NULL, store_result, &result);
  return cf_tmux_command_finish (f->tmux, wait_result (&result), error);
}

static gboolean
file_has_contents (const char *path, const char *expected)
{
  g_autofree char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  return strcmp (contents, expected) == 0;
}

static gboolean
capture_contains (Fixture *f, const char *name, const char *needle)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = capture (f, name, 0, &error);

  g_assert_no_error (error);
  return strstr (text, needle) != NULL;
}

static gboolean
current_command_is (Fixture *f, const char *name, const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTmuxSessionInfo) info = session_info (f, name, &error);

  g_assert_no_error (error);
  return strcmp (info->current_command, expected) == 0;
}

static void
assert_file_contents (const char *path, const char *expected)
{
  g_autofree char *contents = NULL;

  WAIT_UNTIL (file_has_contents (path, expected));
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, expected);
}

/* A session running "cat > PATH": whatever reaches the pane ends up in PATH,
 * a line at a time. */
static void
new_cat_session (Fixture *f, const char *name, const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *quoted = cf_shell_quote (path);
  g_autofree char *shell_command = g_strdup_printf ("exec cat > %s", quoted);

  g_assert_true (new_session (f, name, f->tmpdir, NULL, shell_command, &error));
  g_assert_no_error (error);
  WAIT_UNTIL (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* ---- tests ---------------------------------------------------------------- */

/* The control client is attached and has pane output turned off. */
static void
assert_client_ready (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = command (f, "display-message -p \"#{client_flags}|#{client_session}\"",
                                 &error);

  g_assert_no_error (error);
  g_assert_nonnull (strstr (lines[0], "no-output"));
  g_assert_true (g_str_has_suffix (lines[0], "|cf-test-control"));
}

static void
test_connect (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) sessions = NULL;
  g_auto(GStrv) lines = NULL;

  if (skip_without_tmux (f))
    return;
  g_assert_cmpstr (cf_tmux_get_control_session (f->tmux), ==, "cf-test-control");
  g_assert_cmpuint (cf_tmux_get_commands_sent (f->tmux), >=, 2);
  assert_client_ready (f);

  /* The hidden control session exists on the server but is never listed. */
  g_assert_true (has_session (f, "cf-test-control", &error));
  sessions = list_sessions (f, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sessions->len, ==, 0);

  lines = command (f, "display-message -p \"a;b #{session_name}\"", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  g_assert_cmpstr (lines[0], ==, "a;b cf-test-control");
}

static void
test_session_lifecycle (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) sessions = NULL;
  g_autoptr(CfTmuxSessionInfo) info = NULL;
  /* tmux would expand "#S" in -c, the shell "$x" and "~" if handed over raw. */
  g_autofree char *cwd = g_build_filename (f->tmpdir, "dir #S $x ~ 'q\" ;", NULL);
  g_autofree char *out = g_build_filename (f->tmpdir, "out", NULL);
  g_autofree char *quoted_out = cf_shell_quote (out);
  g_autofree char *shell_command = g_strdup_printf (
    "pwd > %s; printf '%%s|%%s\\n' \"$CF_A\" \"$CF_B\" >> %s; exec cat", quoted_out, quoted_out);
  g_autofree char *expected = g_strdup_printf ("%s\nv #S $HOME \"q\" ~|\n", cwd);
  const char *const env[] = { "CF_A=v #S $HOME \"q\" ~", "CF_B=", NULL };
  guint changes_before;

  if (skip_without_tmux (f))
    return;
  g_assert_cmpint (g_mkdir (cwd, 0700), ==, 0);
  g_assert_false (has_session (f, "w-1", &error));
  g_assert_no_error (error);

  changes_before = f->sessions_changed;
  g_assert_true (new_session (f, "w-1", cwd, env, shell_command, &error));
  g_assert_no_error (error);
  assert_file_contents (out, expected);
  g_assert_true (has_session (f, "w-1", &error));
  WAIT_UNTIL (f->sessions_changed > changes_before);

  /* A second session of the same name is refused by tmux. */
  g_assert_false (new_session (f, "w-1", NULL, NULL, NULL, &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
  g_assert_nonnull (strstr (error->message, "duplicate session"));
  g_clear_error (&error);

  /* A session with the default shell, no cwd, no env. */
  g_assert_true (new_session (f, "w-2", NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  sessions = list_sessions (f, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sessions->len, ==, 2);
  for (guint i = 0; i < sessions->len; i++)
    {
      CfTmuxSessionInfo *s = g_ptr_array_index (sessions, i);

      g_assert_cmpstr (s->name, ==, i == 0 ? "w-1" : "w-2");
      g_assert_true (s->pane_id[0] == '%');
      g_assert_cmpint (s->pane_pid, >, 1);
      g_assert_false (s->pane_dead);
    }

  /* pane_current_command follows the foreground process ("cat" after exec). */
  WAIT_UNTIL (current_command_is (f, "w-1", "cat"));
  info = session_info (f, "w-1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->name, ==, "w-1");
  g_assert_cmpint (info->pane_pid, ==,
                   ((CfTmuxSessionInfo *) g_ptr_array_index (sessions, 0))->pane_pid);

  g_assert_true (kill_session (f, "w-1", &error));
  g_assert_no_error (error);
  g_assert_false (has_session (f, "w-1", &error));
  g_assert_no_error (error);
  g_assert_false (kill_session (f, "w-1", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
  g_clear_error (&error);
  g_assert_null (session_info (f, "w-1", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
}

#define TRICKY_TEXT "$(touch %s) ; echo \"q'uote\" \\ ~ #{session_name} $HOME `id` end;"

static void
test_send_literal (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *marker = g_build_filename (f->tmpdir, "x", NULL);
  g_autofree char *text = NULL;
  g_autofree char *out = g_build_filename (f->tmpdir, "typed", NULL);
  g_autofree char *out2 = g_build_filename (f->tmpdir, "typed-in-shell", NULL);
  g_autofree char *expected = NULL;
  g_autofree char *shell_line = NULL;
  g_autofree char *quoted_text = NULL;
  g_autofree char *quoted_out2 = NULL;

  if (skip_without_tmux (f))
    return;
  text = g_strdup_printf (TRICKY_TEXT, marker);
  expected = g_strconcat (text, "\n", NULL);

  /* Into a program: the bytes arrive exactly as given. */
  new_cat_session (f, "lit", out);
  g_assert_true (send_text (f, "lit", text, &error));
  g_assert_no_error (error);
  g_assert_true (send_enter (f, "lit", &error));
  g_assert_no_error (error);
  assert_file_contents (out, expected);

  /* Into a shell: quoted with cf_shell_quote, nothing in it runs. */
  g_assert_true (new_session (f, "sh", f->tmpdir, NULL, "exec sh", &error));
  g_assert_no_error (error);
  quoted_text = cf_shell_quote (text);
  quoted_out2 = cf_shell_quote (out2);
  shell_line = g_strdup_printf ("printf '%%s\\n' %s > %s", quoted_text, quoted_out2);
  g_assert_true (send_text (f, "sh", shell_line, &error));
  g_assert_no_error (error);
  g_assert_true (send_enter (f, "sh", &error));
  g_assert_no_error (error);
  assert_file_contents (out2, expected);
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));

  /* Typed text never contains a line break. */
  g_assert_false (send_text (f, "lit", "two\nlines", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID);
  g_clear_error (&error);

  /* Nor any other control character: C-u, C-c, ESC, DEL (issue 18, break 6)
   * would edit or end the typed line, and U+0080..U+009F are C1 controls. */
  for (guint c = 1; c < 0x20; c++)
    {
      char typed[] = { 'a', (char) c, 'b', '\0' };

      g_test_message ("control byte %02x", c);
      g_assert_false (send_text (f, "lit", typed, &error));
      g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID);
      g_clear_error (&error);
    }
  g_assert_false (send_text (f, "lit", "a\x7f" "b", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (send_text (f, "lit", "a\xc2\x9b" "b", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID);
  g_clear_error (&error);
}

/* Turns bracketed-paste mode on, then saves every paste it receives
 * (markers included, raw bytes) to OUT.<n>. */
static const char paste_reader[] =
  "import os, sys, tty\n"
  "out = sys.argv[1]\n"
  "fd = sys.stdin.fileno()\n"
  "tty.setraw(fd)\n"
  "os.write(1, b'\\x1b[?2004hREADY')\n"
  "n = 0\n"
  "data = b''\n"
  "while True:\n"
  "    chunk = os.read(fd, 65536)\n"
  "    if not chunk:\n"
  "        break\n"
  "    data += chunk\n"
  "    end = data.find(b'\\x1b[201~')\n"
  "    while end >= 0:\n"
  "        n += 1\n"
  "        with open(out + '.tmp', 'wb') as f:\n"
  "            f.write(data[:end + 6])\n"
  "        os.rename(out + '.tmp', out + '.' + str(n))\n"
  "        data = data[end + 6:]\n"
  "        end = data.find(b'\\x1b[201~')\n";

static char *
expected_paste (const char *text)
{
  g_autoptr(GString) s = g_string_new (text);

  /* paste-buffer sends Enter (CR) for each newline, like a terminal. */
  g_string_replace (s, "\n", "\r", 0);
  g_string_prepend (s, "\033[200~");
  g_string_append (s, "\033[201~");
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
test_paste (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *script = g_build_filename (f->tmpdir, "reader.py", NULL);
  g_autofree char *out = g_build_filename (f->tmpdir, "pasted", NULL);
  g_autofree char *out1 = g_strconcat (out, ".1", NULL);
  g_autofree char *out2 = g_strconcat (out, ".2", NULL);
  g_autofree char *quoted_script = cf_shell_quote (script);
  g_autofree char *quoted_out = cf_shell_quote (out);
  g_autofree char *shell_command = NULL;
  g_autofree char *expected1 = NULL;
  g_autofree char *expected2 = NULL;
  g_autofree char *buffers = NULL;
  g_autoptr(GString) big = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;
  const char *text =
    "~ première ligne — ünïcödé ✓ 日本語 🙂\n"
    "\tindented $HOME #{session_name} \"double\" 'single' \\ back;slash\n"
    "\n"
    "last line without newline";

  if (skip_without_tmux (f))
    return;
  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("/usr/bin/python3 is not installed");
      return;
    }
  g_assert_true (g_file_set_contents (script, paste_reader, -1, &error));
  shell_command = g_strdup_printf ("exec /usr/bin/python3 %s %s", quoted_script, quoted_out);
  g_assert_true (new_session (f, "paste", f->tmpdir, NULL, shell_command, &error));
  g_assert_no_error (error);
  /* READY is printed after the mode switch: once tmux shows it, the pane
   * has asked for bracketed paste. */
  WAIT_UNTIL (capture_contains (f, "paste", "READY"));

  expected1 = expected_paste (text);
  g_assert_true (paste (f, "paste", text, &error));
  g_assert_no_error (error);
  assert_file_contents (out1, expected1);

  /* Bigger than a pipe buffer: the command line is written in pieces. */
  for (guint i = 0; i < 2000; i++)
    g_string_append_printf (big, "line %04u: «lorem ipsum dolor sit amet» ✓ $x #{y} \\z\n", i);
  expected2 = expected_paste (big->str);
  g_assert_true (paste (f, "paste", big->str, &error));
  g_assert_no_error (error);
  assert_file_contents (out2, expected2);

  /* Private buffers are deleted after use, also after a failed paste. */
  g_assert_false (paste (f, "no-such-session", "text", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
  g_clear_error (&error);
  lines = command (f, "list-buffers", &error);
  g_assert_no_error (error);
  buffers = g_strjoinv ("\n", lines);
  g_assert_cmpstr (buffers, ==, "");
}

static void
test_exact_target (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) sessions = NULL;
  g_autofree char *out = g_build_filename (f->tmpdir, "eleven", NULL);
  g_autofree char *text = NULL;
  g_autoptr(CfTmuxSessionInfo) info = NULL;

  if (skip_without_tmux (f))
    return;
  new_cat_session (f, "ccl-auto-11", out);

  /* A plain "-t ccl-auto-1" would resolve to ccl-auto-11 by prefix. */
  g_assert_false (has_session (f, "ccl-auto-1", &error));
  g_assert_no_error (error);
  g_assert_false (send_text (f, "ccl-auto-1", "LEAKED-TEXT", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
  g_clear_error (&error);
  g_assert_false (paste (f, "ccl-auto-1", "LEAKED-PASTE\n", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
  g_clear_error (&error);
  g_assert_false (send_enter (f, "ccl-auto-1", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
  g_clear_error (&error);
  g_assert_null (capture (f, "ccl-auto-1", 10, &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
  g_clear_error (&error);
  g_assert_null (session_info (f, "ccl-auto-1", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
  g_clear_error (&error);
  g_assert_false (kill_session (f, "ccl-auto-1", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
  g_clear_error (&error);

  /* ccl-auto-11 is alive and got nothing: the first line in its file is
   * the one sent to it directly. */
  g_assert_true (has_session (f, "ccl-auto-11", &error));
  g_assert_true (send_text (f, "ccl-auto-11", "SENTINEL", &error));
  g_assert_true (send_enter (f, "ccl-auto-11", &error));
  g_assert_no_error (error);
  assert_file_contents (out, "SENTINEL\n");
  text = capture (f, "ccl-auto-11", 100, &error);
  g_assert_no_error (error);
  g_assert_null (strstr (text, "LEAKED"));
  info = session_info (f, "ccl-auto-11", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->name, ==, "ccl-auto-11");

  sessions = list_sessions (f, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sessions->len, ==, 1);
  g_assert_cmpstr (((CfTmuxSessionInfo *) g_ptr_array_index (sessions, 0))->name, ==,
                   "ccl-auto-11");
}

static void
test_invalid (Fixture *f, gconstpointer data)
{
  const char *const bad_names[] = {
    "", "two words", "a:b", "a.b", "x;y", "=x", "a\nb", "ü", "semi;", "$x", NULL,
  };
  const char *const bad_commands[] = {
    "", " display-message -p x", "#comment", "display-message -p a ; display-message -p b",
    "display-message -p a;", "FOO=bar", "display-message -p \"x\nkill-server\"",
    "display-message -p 'open", "display-message -p \"open", "{", "%if 1",
    "if-shell true { display-message x }", "display-message -p #{session_name}",
    "display-message -p x\\", "Display", "display-message\t-p x", NULL,
  };
  const char *const no_equals[] = { "GOOD=1", "NOEQUALS", NULL };
  const char *const empty_key[] = { "=value", NULL };
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;

  if (skip_without_tmux (f))
    return;

  for (guint i = 0; i < G_N_ELEMENTS (bad_names); i++)
    {
      const char *name = bad_names[i];
      g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_object_unref);
      GAsyncResult *r[8] = { NULL, };
      g_autoptr(CfTmuxSessionInfo) info = NULL;
      g_autofree char *text = NULL;

      g_test_message ("name %s", name != NULL ? name : "(null)");
      cf_tmux_has_session_async (f->tmux, name, NULL, store_result, &r[0]);
      cf_tmux_new_session_async (f->tmux, name, NULL, NULL, NULL, NULL, store_result, &r[1]);
      cf_tmux_kill_session_async (f->tmux, name, NULL, store_result, &r[2]);
      cf_tmux_send_text_async (f->tmux, name, "x", NULL, store_result, &r[3]);
      cf_tmux_send_enter_async (f->tmux, name, NULL, store_result, &r[4]);
      cf_tmux_paste_async (f->tmux, name, "x", NULL, store_result, &r[5]);
      cf_tmux_capture_async (f->tmux, name, 0, NULL, store_result, &r[6]);
      cf_tmux_session_info_async (f->tmux, name, NULL, store_result, &r[7]);
      for (guint j = 0; j < G_N_ELEMENTS (r); j++)
        g_ptr_array_add (results, wait_result (&r[j]));

      g_assert_false (cf_tmux_has_session_finish (f->tmux, r[0], &error));
      g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID);
      g_clear_error (&error);
      for (guint j = 1; j <= 5; j++)
        {
          g_assert_false (cf_tmux_finish_boolean (f->tmux, r[j], &error));
          g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID);
          g_clear_error (&error);
        }
      text = cf_tmux_capture_finish (f->tmux, r[6], &error);
      g_assert_null (text);
      g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID);
      g_clear_error (&error);
      info = cf_tmux_session_info_finish (f->tmux, r[7], &error);
      g_assert_null (info);
      g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID);
      g_clear_error (&error);
    }

  for (guint i = 0; bad_commands[i] != NULL; i++)
    {
      g_auto(GStrv) bad = NULL;

      g_test_message ("command %s", bad_commands[i]);
      bad = command (f, bad_commands[i], &error);
      g_assert_null (bad);
      g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID);
      g_clear_error (&error);
    }

  g_assert_false (new_session (f, "env-bad", NULL, no_equals, NULL, &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (new_session (f, "env-bad", NULL, empty_key, NULL, &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (has_session (f, "env-bad", &error));
  g_assert_no_error (error);

  /* tmux's own refusals are COMMAND errors carrying its message, and the
   * reply stream is still in step afterwards. */
  lines = command (f, "has-session -t \"=nope:\"", &error);
  g_assert_null (lines);
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
  g_assert_nonnull (strstr (error->message, "can't find session: nope"));
  g_clear_error (&error);
  lines = command (f, "display-message -p \"still in step\"", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lines[0], ==, "still in step");
  g_assert_true (cf_tmux_is_connected (f->tmux));
}

typedef struct {
  guint next;
  guint done;
  gboolean failed_out_of_order;
} Pipeline;

typedef struct {
  Pipeline *pipeline;
  guint index;
} PipelineCall;

static void
pipelined_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PipelineCall *call = user_data;
  Pipeline *p = call->pipeline;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = cf_tmux_command_finish (CF_TMUX (source), result, &error);
  g_autofree char *expected = g_strdup_printf ("reply %u", call->index);

  if (call->index != p->next)
    p->failed_out_of_order = TRUE;
  p->next++;
  p->done++;
  /* Every 10th command fails: error blocks must not shift the others. */
  if (call->index % 10 == 9)
    {
      g_assert_null (lines);
      g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
    }
  else
    {
      g_assert_no_error (error);
      g_assert_cmpuint (g_strv_length (lines), ==, 1);
      g_assert_cmpstr (lines[0], ==, expected);
    }
  g_free (call);
}

static void
test_pipelined (Fixture *f, gconstpointer data)
{
  Pipeline pipeline = { 0, };
  guint64 sent_before;

  if (skip_without_tmux (f))
    return;
  sent_before = cf_tmux_get_commands_sent (f->tmux);
  for (guint i = 0; i < 200; i++)
    {
      PipelineCall *call = g_new0 (PipelineCall, 1);
      g_autofree char *line = NULL;

      call->pipeline = &pipeline;
      call->index = i;
      if (i % 10 == 9)
        line = g_strdup_printf ("has-session -t \"=absent-%u:\"", i);
      else
        line = g_strdup_printf ("display-message -p \"reply %u\"", i);
      cf_tmux_command_async (f->tmux, line, NULL, pipelined_done, call);
    }
  /* All 200 are written before the first reply is read. */
  g_assert_cmpuint (pipeline.done, ==, 0);
  WAIT_UNTIL (pipeline.done == 200);
  g_assert_false (pipeline.failed_out_of_order);
  g_assert_cmpuint (cf_tmux_get_commands_sent (f->tmux) - sent_before, ==, 200);
}

static void
test_capture (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *screen = NULL;
  g_autofree char *history = NULL;
  g_auto(GStrv) screen_lines = NULL;
  g_autofree char *after = NULL;
  /* Lines that look like control-mode framing must come back as text. */
  const char *shell_command =
    "i=1; while [ $i -le 120 ]; do echo line$i; i=$((i+1)); done; "
    "echo '%end 1 1 1'; echo '%error 1795216017 300 1'; echo '%begin 1 2 1'; "
    "echo '%sessions-changed'; echo DONE; exec cat";

  if (skip_without_tmux (f))
    return;
  g_assert_true (new_session (f, "cap", NULL, NULL, shell_command, &error));
  g_assert_no_error (error);
  WAIT_UNTIL (capture_contains (f, "cap", "DONE"));

  screen = capture (f, "cap", 0, &error);
  g_assert_no_error (error);
  screen_lines = g_strsplit (screen, "\n", -1);
  g_assert_cmpuint (g_strv_length (screen_lines), ==, 50);
  g_assert_nonnull (strstr (screen, "line120\n%end 1 1 1\n%error 1795216017 300 1\n"
                                    "%begin 1 2 1\n%sessions-changed\nDONE\n"));
  g_assert_false (g_str_has_prefix (screen, "line1\n"));
  g_assert_null (strstr (screen, "\nline1\n"));

  history = capture (f, "cap", 500, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (history, "line1\nline2\n"));
  g_assert_nonnull (strstr (history, "line120\n"));

  after = capture (f, "cap", 10, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (after, "DONE"));
  g_assert_true (cf_tmux_is_connected (f->tmux));
}

static void
test_reconnect (Fixture *f, gconstpointer data)
{
  const char *const kill_server[] = { "kill-server", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) slow = NULL;
  g_autoptr(GAsyncResult) queued = NULL;
  g_autoptr(GAsyncResult) capture_result = NULL;
  g_auto(GStrv) lines = NULL;
  gint64 lost_at;
  gint64 back_after;

  if (skip_without_tmux (f))
    return;
  g_assert_true (new_session (f, "before", NULL, NULL, "exec cat", &error));
  g_assert_no_error (error);

  /* run-shell holds the client's queue, so these are in flight for sure.
   * A dying server waits for the job and refuses clients meanwhile, so the
   * job is short: the reconnect time measured below stays meaningful. */
  cf_tmux_command_async (f->tmux, "run-shell \"sleep 1\"", NULL, store_result, &slow);
  cf_tmux_command_async (f->tmux, "display-message -p queued", NULL, store_result, &queued);
  cf_tmux_capture_async (f->tmux, "before", 0, NULL, store_result, &capture_result);
  f->issue_in_disconnected = TRUE;
  run_tmux_cli (f->socket, kill_server);
  lost_at = g_get_monotonic_time ();

  /* kill-server ends the running job and may still answer run-shell before
   * it goes; what is queued behind it is never answered. */
  lines = cf_tmux_command_finish (f->tmux, wait_result (&slow), &error);
  if (lines == NULL)
    g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_DISCONNECTED);
  g_clear_error (&error);
  g_clear_pointer (&lines, g_strfreev);
  lines = cf_tmux_command_finish (f->tmux, wait_result (&queued), &error);
  g_assert_null (lines);
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_DISCONNECTED);
  g_clear_error (&error);
  g_assert_null (cf_tmux_capture_finish (f->tmux, wait_result (&capture_result), &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_DISCONNECTED);
  g_clear_error (&error);
  g_assert_cmpuint (f->disconnected, ==, 1);

  /* While disconnected, commands fail at once instead of queueing. */
  WAIT_UNTIL (f->error_in_disconnected != NULL);
  g_assert_error (f->error_in_disconnected, CF_TMUX_ERROR, CF_TMUX_ERROR_DISCONNECTED);

  /* The client starts a new server by itself. */
  WAIT_UNTIL (f->connected == 2);
  back_after = g_get_monotonic_time () - lost_at;
  g_test_message ("reconnected %" G_GINT64_FORMAT " ms after kill-server",
                  back_after / 1000);
  g_assert_cmpint (back_after, <, 3 * G_USEC_PER_SEC);
  g_assert_true (cf_tmux_is_connected (f->tmux));
  assert_client_ready (f);

  g_assert_false (has_session (f, "before", &error));
  g_assert_no_error (error);
  g_assert_true (new_session (f, "after", NULL, NULL, "exec cat", &error));
  g_assert_no_error (error);
  g_assert_true (has_session (f, "after", &error));
  g_assert_no_error (error);

  /* A server that dies with nothing running is back after the first
   * backoff step (100 ms, reset by the successful connection). */
  run_tmux_cli (f->socket, kill_server);
  lost_at = g_get_monotonic_time ();
  WAIT_UNTIL (f->connected == 3);
  back_after = g_get_monotonic_time () - lost_at;
  g_test_message ("reconnected %" G_GINT64_FORMAT " ms after an idle kill-server",
                  back_after / 1000);
  g_assert_cmpint (back_after, <, G_USEC_PER_SEC);
  g_assert_cmpuint (f->disconnected, ==, 2);
}

static void
test_reconnect_backoff (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;

  if (skip_without_tmux (f))
    return;
  /* The socket's directory does not exist yet: every attempt fails. */
  cf_tmux_start (f->tmux);
  g_assert_false (has_session (f, "x", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_DISCONNECTED);
  g_clear_error (&error);
  {
    gint64 until = g_get_monotonic_time () + 700 * 1000;
    WAIT_UNTIL (g_get_monotonic_time () >= until);
  }
  g_assert_cmpuint (f->connected, ==, 0);
  g_assert_cmpuint (f->disconnected, ==, 0);
  g_assert_false (cf_tmux_is_connected (f->tmux));
  g_assert_false (has_session (f, "x", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_DISCONNECTED);
  g_clear_error (&error);

  dir = g_path_get_dirname (f->socket);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  WAIT_UNTIL (f->connected == 1);
  g_assert_false (has_session (f, "x", &error));
  g_assert_no_error (error);
}

static void
test_stop (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) slow = NULL;
  g_auto(GStrv) lines = NULL;

  if (skip_without_tmux (f))
    return;
  cf_tmux_command_async (f->tmux, "run-shell \"sleep 3\"", NULL, store_result, &slow);
  cf_tmux_stop (f->tmux);
  g_assert_false (cf_tmux_is_connected (f->tmux));
  g_assert_cmpuint (f->disconnected, ==, 1);
  lines = cf_tmux_command_finish (f->tmux, wait_result (&slow), &error);
  g_assert_null (lines);
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_DISCONNECTED);
  g_clear_error (&error);
  g_assert_false (has_session (f, "x", &error));
  g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_DISCONNECTED);
  g_clear_error (&error);

  /* Stopped means stopped: no reconnect behind the caller's back. */
  {
    gint64 until = g_get_monotonic_time () + 300 * 1000;
    WAIT_UNTIL (g_get_monotonic_time () >= until);
  }
  g_assert_cmpuint (f->connected, ==, 1);

  cf_tmux_start (f->tmux);
  WAIT_UNTIL (f->connected == 2);
  /* This time the control session already existed. */
  assert_client_ready (f);
  g_assert_true (has_session (f, "cf-test-control", &error));
  g_assert_no_error (error);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) already = g_cancellable_new ();
  g_autoptr(GAsyncResult) slow = NULL;
  g_autoptr(GAsyncResult) next = NULL;
  g_autoptr(GAsyncResult) never_sent = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) next_lines = NULL;
  guint64 sent;
  gint64 start;

  if (skip_without_tmux (f))
    return;
  cf_tmux_command_async (f->tmux, "run-shell \"sleep 1; echo slow\"", cancellable,
                         store_result, &slow);
  cf_tmux_command_async (f->tmux, "display-message -p next", NULL, store_result, &next);
  start = g_get_monotonic_time ();
  g_cancellable_cancel (cancellable);
  lines = cf_tmux_command_finish (f->tmux, wait_result (&slow), &error);
  g_assert_null (lines);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC / 2);

  /* The cancelled command's reply is still consumed, not handed on. */
  next_lines = cf_tmux_command_finish (f->tmux, wait_result (&next), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (next_lines[0], ==, "next");

  g_cancellable_cancel (already);
  sent = cf_tmux_get_commands_sent (f->tmux);
  cf_tmux_has_session_async (f->tmux, "x", already, store_result, &never_sent);
  g_assert_false (cf_tmux_has_session_finish (f->tmux, wait_result (&never_sent), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (cf_tmux_get_commands_sent (f->tmux), ==, sent);
}

static gboolean
pane_is_dead (Fixture *f, const char *name)
{
  g_autoptr(CfTmuxSessionInfo) info = session_info (f, name, NULL);

  return info != NULL && info->pane_dead;
}

/* The program runs with exactly its argv, in its directory, with its
 * environment: every control byte and shell character arrives as data (no
 * shell parses it, nothing is typed into a terminal); the old screen and
 * history are gone; the pane stays after the program exits. */
static void
test_respawn (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) nasty = g_string_new ("dir");
  g_autofree char *dir = NULL;
  g_autofree char *out = g_build_filename (f->tmpdir, "argv.out", NULL);
  g_autofree char *canary = NULL;
  g_autofree char *canary_home = g_build_filename (g_get_home_dir (), "CANARY", NULL);
  g_autofree char *expected = NULL;
  g_autofree char *script = NULL;
  g_autofree char *text = NULL;
  g_autoptr(CfTmuxSessionInfo) info = NULL;
  const char *env[] = { "CF_RESPAWN_VAR=va$lue \"q\" #{session_name}", NULL };

  if (skip_without_tmux (f))
    return;
  /* Every control byte but NUL (and '/' ) in the directory name; a
   * command substitution and a ';' that would run if a shell saw them. */
  for (int c = 1; c < 0x20; c++)
    g_string_append_c (nasty, (char) c);
  g_string_append (nasty, "\x7f $(touch CANARY);touch CANARY #{pane_id} ~x");
  dir = g_build_filename (f->tmpdir, nasty->str, NULL);
  canary = g_build_filename (dir, "CANARY", NULL);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);

  g_assert_true (new_session (f, "rs", f->tmpdir, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (send_text (f, "rs", "echo OLD-SCREEN-LINE", &error));
  g_assert_true (send_enter (f, "rs", &error));
  WAIT_UNTIL (capture_contains (f, "rs", "OLD-SCREEN-LINE"));

  /* tmux drops what a program wrote but tmux had not read yet when it
   * exited (tmux/tmux#506): the last line is given time to be read. */
  script = g_strdup_printf ("printf '%%s\\n' \"$PWD\" \"$CF_RESPAWN_VAR\" \"$@\" > %s; echo DONE-LINE; "
                            "sleep 0.3", out);
  {
    const char *argv[] = { "/bin/sh", "-c", script, "sh", nasty->str, "--resume", "$(id)", NULL };

    g_assert_true (respawn (f, "rs", dir, env, argv, &error));
    g_assert_no_error (error);
  }
  expected = g_strdup_printf ("%s\n%s\n%s\n--resume\n$(id)\n", dir, env[0] + strlen ("CF_RESPAWN_VAR="),
                              nasty->str);
  assert_file_contents (out, expected);
  g_assert_false (g_file_test (canary, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (canary_home, G_FILE_TEST_EXISTS));

  /* The program exited: its pane remains, dead, showing its last words only. */
  WAIT_UNTIL (pane_is_dead (f, "rs"));
  info = session_info (f, "rs", &error);
  g_assert_no_error (error);
  g_assert_true (cf_tmux_session_info_claude_exited (info));
  text = capture (f, "rs", 1000, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (text, "DONE-LINE"));
  g_assert_null (strstr (text, "OLD-SCREEN-LINE"));

  {
    const char *lonely[] = { "/bin/true", NULL };
    g_assert_false (respawn (f, "rs", NULL, NULL, lonely, &error));
    g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_INVALID);
    g_clear_error (&error);
  }
  {
    const char *argv[] = { "/bin/true", "x", NULL };
    g_assert_false (respawn (f, "no-such-session", NULL, NULL, argv, &error));
    g_assert_error (error, CF_TMUX_ERROR, CF_TMUX_ERROR_COMMAND);
  }
}

/* tmux.nice: the server the client starts, and a session in it, run
 * that many steps below the test's own priority. */
static gboolean
file_ends_with (const char *path, const char *suffix)
{
  g_autofree char *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL) && g_str_has_suffix (text, suffix);
}

static void
test_nice (Fixture *f, gconstpointer data)
{
  g_autofree char *autogroup = NULL;
  g_autofree char *enabled = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  int own, server, pane;

  if (f->tmux == NULL)
    {
      g_test_skip ("tmux is not installed");
      return;
    }
  errno = 0;
  own = getpriority (PRIO_PROCESS, 0);
  g_assert_cmpint (errno, ==, 0);
  if (own > 19 - 7)
    {
      g_test_skip ("the test already runs at a high niceness");
      return;
    }
  cf_tmux_set_nice (f->tmux, 7);
  cf_tmux_start (f->tmux);
  WAIT_UNTIL (f->connected == 1);
  g_assert_true (new_session (f, "niced", NULL, NULL, "exec cat", &error));
  g_assert_no_error (error);
  cf_tmux_command_async (f->tmux, "display-message -p -t niced '#{pid} #{pane_pid}'", NULL,
                         store_result, &result);
  lines = cf_tmux_command_finish (f->tmux, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_nonnull (lines);
  g_assert_cmpint (sscanf (lines[0], "%d %d", &server, &pane), ==, 2);
  errno = 0;
  g_assert_cmpint (getpriority (PRIO_PROCESS, (id_t) server), ==, own + 7);
  g_assert_cmpint (getpriority (PRIO_PROCESS, (id_t) pane), ==, own + 7);
  g_assert_cmpint (errno, ==, 0);
  /* The test itself is untouched. */
  g_assert_cmpint (getpriority (PRIO_PROCESS, 0), ==, own);

  /* With autogroups, the server's session competes as a whole: its
   * autogroup gets the niceness too. */
  autogroup = g_strdup_printf ("/proc/%d/autogroup", server);
  if (!g_file_get_contents ("/proc/sys/kernel/sched_autogroup_enabled", &enabled, NULL, NULL) ||
      enabled[0] != '1' || !g_file_test (autogroup, G_FILE_TEST_EXISTS))
    {
      g_test_message ("no autogroups here: the autogroup is not checked");
      return;
    }
  expected = g_strdup_printf (" nice %d\n", own + 7);
  WAIT_UNTIL (file_ends_with (autogroup, expected));

  /* A pane's program is a session, so an autogroup, of its own, and a new
   * autogroup starts at nice 0: a respawn gives it the niceness too. */
  {
    static const char *const argv[] = { "sleep", "600", NULL };
    g_autofree char *pane_autogroup = NULL;
    g_autofree char *server_group = NULL;
    g_autofree char *pane_group = NULL;
    g_auto(GStrv) after = NULL;
    int respawned = 0;

    g_assert_true (respawn (f, "niced", NULL, NULL, argv, &error));
    g_assert_no_error (error);
    g_clear_object (&result);
    cf_tmux_command_async (f->tmux, "display-message -p -t niced '#{pane_pid}'", NULL,
                           store_result, &result);
    after = cf_tmux_command_finish (f->tmux, wait_result (&result), &error);
    g_assert_no_error (error);
    g_assert_nonnull (after);
    g_assert_cmpint (sscanf (after[0], "%d", &respawned), ==, 1);
    g_assert_cmpint (respawned, !=, pane);
    pane_autogroup = g_strdup_printf ("/proc/%d/autogroup", respawned);
    /* Until its setsid() the program is still in the server's group. */
    WAIT_UNTIL (getsid (respawned) == respawned);
    WAIT_UNTIL (file_ends_with (pane_autogroup, expected));
    /* "/autogroup-N nice K": not the server's group. */
    g_assert_true (g_file_get_contents (autogroup, &server_group, NULL, NULL));
    g_assert_true (g_file_get_contents (pane_autogroup, &pane_group, NULL, NULL));
    g_assert_nonnull (strchr (server_group, ' '));
    *strchr (server_group, ' ') = '\0';
    g_assert_nonnull (strchr (pane_group, ' '));
    *strchr (pane_group, ' ') = '\0';
    g_assert_cmpstr (pane_group, !=, server_group);
  }
}

int
main (int argc, char **argv)
{
  g_autofree char *home = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  /* The private servers must not read the invoking user's tmux.conf. */
  home = g_dir_make_tmp ("cf-test-tmux-home-XXXXXX", NULL);
  g_assert_nonnull (home);
  g_setenv ("HOME", home, TRUE);
  /* Losing the connection is logged as a warning, which these tests cause
   * on purpose; criticals stay fatal. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_unsetenv ("TMUX");
  g_unsetenv ("XDG_CONFIG_HOME");

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/tmux/connect", test_connect);
  ADD ("/tmux/session-lifecycle", test_session_lifecycle);
  ADD ("/tmux/send-literal", test_send_literal);
  ADD ("/tmux/paste", test_paste);
  ADD ("/tmux/exact-target", test_exact_target);
  ADD ("/tmux/invalid", test_invalid);
  ADD ("/tmux/pipelined", test_pipelined);
  ADD ("/tmux/capture", test_capture);
  ADD ("/tmux/respawn", test_respawn);
  ADD ("/tmux/reconnect", test_reconnect);
  ADD ("/tmux/stop", test_stop);
  ADD ("/tmux/cancel", test_cancel);
#undef ADD
  g_test_add ("/tmux/nice", Fixture, NULL, fixture_setup_not_connected, test_nice,
              fixture_teardown);
  g_test_add ("/tmux/reconnect-backoff", Fixture, NULL, fixture_setup_unstarted,
              test_reconnect_backoff, fixture_teardown);
  status = g_test_run ();
  remove_tree (home);
  return status;
}
