/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cf-shell.h"

/* Texts that must survive quoting byte for byte. */
static const char *const hostile_texts[] = {
  "plain",
  "two words",
  "$(touch PWNED) `touch PWNED` $HOME ${HOME} $",
  "it's \"double\" and 'single' quoted",
  "back\\slash \\n \\$ \\\\ \\0 \\",
  "line1\nline2\r\nend\ttab",
  "~/starts with a tilde",
  "~",
  "mid~tilde ~ again",
  "control \001\002\033[31m red \177 del",
  "UTF-8: é ❯ ✻ 日本語 🚀",
  "a ; b \\; c;",
  "#{session_name} #comment",
  "{ braces } }",
  "-leading dash",
  "%begin 1 2 3",
  "*?[glob]",
  "trailing newline\n",
};

/* --- cf_shell_quote ---------------------------------------------------------- */

static void
test_shell_quote_table (void)
{
  static const struct { const char *in, *out; } cases[] = {
    { "", "''" },
    { "abc", "'abc'" },
    { "it's", "'it'\\''s'" },
    { "'", "''\\'''" },
    { "$HOME", "'$HOME'" },
    { "a\nb", "'a\nb'" },
    { "\\", "'\\'" },
    { "~/x", "'~/x'" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *quoted = cf_shell_quote (cases[i].in);
      g_assert_cmpstr (quoted, ==, cases[i].out);
    }
}

static void
test_shell_quote_round_trip (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_file_test ("/bin/sh", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no /bin/sh");
      return;
    }
  dir = g_dir_make_tmp ("cf-shell-XXXXXX", &error);
  g_assert_no_error (error);

  for (gsize i = 0; i < G_N_ELEMENTS (hostile_texts); i++)
    {
      g_autofree char *quoted = cf_shell_quote (hostile_texts[i]);
      g_autofree char *script = g_strdup_printf ("printf '%%s' %s", quoted);
      const char *argv[] = { "/bin/sh", "-c", script, NULL };
      g_autofree char *out = NULL;
      int status = -1;

      g_assert_true (g_spawn_sync (dir, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                   &out, NULL, &status, &error));
      g_assert_no_error (error);
      g_assert_true (g_spawn_check_wait_status (status, NULL));
      g_assert_cmpstr (out, ==, hostile_texts[i]);
    }

  {
    g_autofree char *pwned = g_build_filename (dir, "PWNED", NULL);
    g_assert_false (g_file_test (pwned, G_FILE_TEST_EXISTS));
  }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* --- cf_tmux_quote ------------------------------------------------------------- */

static void
test_tmux_quote_table (void)
{
  static const struct { const char *in, *out; } cases[] = {
    { "", "\"\"" },
    { "abc", "\"abc\"" },
    { "a b", "\"a b\"" },
    { "\"", "\"\\\"\"" },
    { "\\", "\"\\\\\"" },
    { "$HOME", "\"\\$HOME\"" },
    { "~/x", "\"\\~/x\"" },
    { "a~b", "\"a~b\"" },
    { "a\nb", "\"a\\nb\"" },
    { "a\rb", "\"a\\rb\"" },
    { "a\tb", "\"a\\tb\"" },
    { "\001", "\"\\001\"" },
    { "\033[0m", "\"\\033[0m\"" },
    { "\177", "\"\\177\"" },
    { "é❯", "\"é❯\"" },
    { "it's", "\"it's\"" },
    { ";#{}", "\";#{}\"" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *quoted = cf_tmux_quote (cases[i].in);
      g_assert_cmpstr (quoted, ==, cases[i].out);
    }
}

static void
test_tmux_quote_one_line (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (hostile_texts); i++)
    {
      g_autofree char *quoted = cf_tmux_quote (hostile_texts[i]);

      for (const char *p = quoted; *p != '\0'; p++)
        g_assert_false ((guchar) *p < 0x20 || *p == 0x7f);
    }
}

/* A private tmux server on a socket in a temporary directory. */
typedef struct {
  char *dir;
  char *socket;
  char **env;
} TmuxServer;

static gboolean
tmux_run (TmuxServer *server, const char *const *args, char **out)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = -1;

  g_ptr_array_add (argv, (gpointer) "tmux");
  g_ptr_array_add (argv, (gpointer) "-S");
  g_ptr_array_add (argv, server->socket);
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  if (!g_spawn_sync (server->dir, (char **) argv->pdata, server->env, G_SPAWN_SEARCH_PATH,
                     NULL, NULL, out, &err, &status, &error))
    {
      g_test_message ("tmux: %s", error->message);
      return FALSE;
    }
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_test_message ("tmux %s failed: %s", args[0], err);
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_all (int fd, const char *data, gsize length)
{
  while (length > 0)
    {
      ssize_t n = write (fd, data, length);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      length -= (gsize) n;
    }
  return TRUE;
}

/* Sends COMMANDS through a control-mode client, as the daemon does, and
 * returns what the client printed once the final marker came back. */
static char *
tmux_control (TmuxServer *server, const char *commands)
{
  const char *argv[] = { "tmux", "-S", server->socket, "-C", "attach-session", "-t", "=cftest", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) output = g_string_new (NULL);
  g_autofree char *script = g_strconcat (commands, "display-message -p CF-QUOTE-DONE\n", NULL);
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  GPid pid;
  int in_fd, out_fd, status;

  g_assert_true (g_spawn_async_with_pipes (server->dir, (char **) argv, server->env,
                                           G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                           NULL, NULL, &pid, &in_fd, &out_fd, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (write_all (in_fd, script, strlen (script)));

  while (strstr (output->str, "\nCF-QUOTE-DONE\n") == NULL)
    {
      struct pollfd pfd = { .fd = out_fd, .events = POLLIN };
      char buffer[4096];
      ssize_t n;
      int timeout_ms = (int) ((deadline - g_get_monotonic_time ()) / 1000);

      g_assert_cmpint (timeout_ms, >, 0);
      if (poll (&pfd, 1, timeout_ms) < 0)
        {
          g_assert_cmpint (errno, ==, EINTR);
          continue;
        }
      n = read (out_fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR)
        continue;
      g_assert_cmpint (n, >, 0);
      g_string_append_len (output, buffer, n);
    }

  /* End of input detaches the control client. */
  close (in_fd);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  close (out_fd);
  g_spawn_close_pid (pid);
  return g_string_free (g_steal_pointer (&output), FALSE);
}

static void
test_tmux_round_trip (void)
{
  TmuxServer server = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) commands = g_string_new (NULL);
  g_autofree char *tmux = g_find_program_in_path ("tmux");
  g_autofree char *output = NULL;
  g_autofree char *pwned = NULL;

  if (tmux == NULL)
    {
      g_test_skip ("tmux is not installed");
      return;
    }

  server.dir = g_dir_make_tmp ("cf-tmux-quote-XXXXXX", &error);
  g_assert_no_error (error);
  server.socket = g_build_filename (server.dir, "sock", NULL);
  server.env = g_environ_unsetenv (g_get_environ (), "TMUX");
  server.env = g_environ_setenv (server.env, "HOME", server.dir, TRUE);

  {
    /* The session's program bounds the server's life if an assertion
     * aborts before kill-server. */
    const char *const start[] = { "-f", "/dev/null", "new-session", "-d", "-s", "cftest",
                                  "-x", "80", "-y", "24", "sleep 120", NULL };
    g_assert_true (tmux_run (&server, start, NULL));
  }

  for (gsize i = 0; i < G_N_ELEMENTS (hostile_texts); i++)
    {
      g_autofree char *quoted = cf_tmux_quote (hostile_texts[i]);
      g_string_append_printf (commands, "set-buffer -b cfq%" G_GSIZE_FORMAT " -- %s\n", i, quoted);
    }
  output = tmux_control (&server, commands->str);
  g_test_message ("control client said:\n%s", output);
  g_assert_null (strstr (output, "%error"));

  for (gsize i = 0; i < G_N_ELEMENTS (hostile_texts); i++)
    {
      g_autofree char *buffer = g_strdup_printf ("cfq%" G_GSIZE_FORMAT, i);
      g_autofree char *file = g_build_filename (server.dir, buffer, NULL);
      const char *const save[] = { "save-buffer", "-b", buffer, file, NULL };
      g_autofree char *contents = NULL;
      gsize length = 0;

      g_assert_true (tmux_run (&server, save, NULL));
      g_assert_true (g_file_get_contents (file, &contents, &length, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (contents, length, hostile_texts[i], strlen (hostile_texts[i]));
      g_unlink (file);
    }

  pwned = g_build_filename (server.dir, "PWNED", NULL);
  g_assert_false (g_file_test (pwned, G_FILE_TEST_EXISTS));

  {
    const char *const stop[] = { "kill-server", NULL };
    tmux_run (&server, stop, NULL);
  }
  g_unlink (server.socket);
  g_assert_cmpint (g_rmdir (server.dir), ==, 0);
  g_free (server.dir);
  g_free (server.socket);
  g_strfreev (server.env);
}

/* --- cf_session_name_is_valid ---------------------------------------------------- */

static void
test_session_names (void)
{
  static const struct { const char *name; gboolean valid; } cases[] = {
    { "ccl-auto-0", TRUE },
    { "ccl_1-web", TRUE },
    { "A", TRUE },
    { "0", TRUE },
    { "-", TRUE },
    { NULL, FALSE },
    { "", FALSE },
    { "a.b", FALSE },          /* tmux renames it a_b */
    { "a:b", FALSE },          /* tmux renames it a_b; ':' also separates targets */
    { "a b", FALSE },
    { "a/b", FALSE },
    { "é", FALSE },
    { "a$b", FALSE },
    { "a\nb", FALSE },
    { "=a", FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpint (cf_session_name_is_valid (cases[i].name), ==, cases[i].valid);
}

static void
test_shell_commands (void)
{
  static const struct { const char *command; gboolean shell; } rows[] = {
    { "bash", TRUE }, { "-bash", TRUE }, { "sh", TRUE }, { "zsh", TRUE }, { "fish", TRUE },
    { "claude", FALSE }, { "node", FALSE }, { "fake-claude", FALSE }, { "python3", FALSE },
    { "", FALSE }, { "-", FALSE }, { "bash2", FALSE }, { NULL, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    g_assert_cmpint (cf_shell_is_shell_command (rows[i].command), ==, rows[i].shell);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/shell/quote/table", test_shell_quote_table);
  g_test_add_func ("/shell/shell-commands", test_shell_commands);
  g_test_add_func ("/shell/quote/round-trip", test_shell_quote_round_trip);
  g_test_add_func ("/shell/tmux-quote/table", test_tmux_quote_table);
  g_test_add_func ("/shell/tmux-quote/one-line", test_tmux_quote_one_line);
  g_test_add_func ("/shell/tmux-quote/round-trip", test_tmux_round_trip);
  g_test_add_func ("/shell/session-name", test_session_names);
  return g_test_run ();
}
