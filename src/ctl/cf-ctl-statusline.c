/* SPDX-License-Identifier: MIT */
/* claude-failoverctl statusline [--then CMD]: Claude Code's statusLine
 * command (ARCHITECTURE.md 4.9). Reads the statusLine JSON on stdin,
 * forwards its usage part to the daemon (ReportHookEvent "StatusLine") at
 * most once per few seconds per pane, and prints one line, or runs the
 * operator's own command on the same input. Runs on every redraw of the
 * footer: it returns within 50 ms whatever the daemon does (the call has
 * a deadline and never activates the daemon), and never prints an error
 * into the footer. */
#include "cf-ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "cf-ctl-output.h"
#include "cf-names.h"
#include "cf-statusline.h"

/* Claude Code writes the input at once and closes the pipe. */
#define READ_BUDGET_USEC (10 * 1000)
/* From start to the daemon's answer; the rest of the 50 ms is process
 * start, the line and exit. */
#define TOTAL_BUDGET_USEC (20 * 1000)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)

static void
print_help (void)
{
  g_print ("%s\n\n%s\n\n%s\n\n%s\n%s\n\n%s\n",
           _("Usage: claude-failoverctl statusline [--then COMMAND]"),
           _("Claude Code's statusLine command: reads the statusLine JSON on standard\n"
             "input, reports the account's usage (rate_limits) to claude-failoverd at most\n"
             "once every few seconds per tmux pane, and prints one line: the account, the\n"
             "5-hour and weekly use and the time to their reset. With --then, COMMAND (run\n"
             "by /bin/sh with the same input) prints the line instead.\n"
             "`claude-failoverctl install-hooks` sets it up."),
           _("It returns within 50 ms even when the daemon is stopped or slow (a report\n"
             "the daemon does not take in time is dropped), and never prints an error."),
           _("Environment:"),
           _("  TMUX_PANE          the pane the report is for\n"
             "  CLAUDE_CONFIG_DIR  the account home, reported with the usage\n"
             "  CF_ACCOUNT         the account name shown (else from CLAUDE_CONFIG_DIR)\n"
             "  CF_HOOK_DEBUG=1    print one line on standard error when the usage could\n"
             "                     not be reported"),
           _("Exit status: 0; 2 usage error; with --then, COMMAND's."));
}

/* '%' then digits, as tmux sets $TMUX_PANE; anything else is no pane. */
static gboolean
pane_is_valid (const char *pane)
{
  if (pane == NULL || pane[0] != '%' || pane[1] == '\0' || strlen (pane) > 16)
    return FALSE;
  for (const char *p = pane + 1; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

/* The rate limiter's file for this pane (or session), in a directory only
 * this user owns; NULL when there is none we can trust. */
static char *
limiter_path (const char *pane, const CfStatusline *statusline)
{
  const char *runtime = g_getenv ("XDG_RUNTIME_DIR");
  g_autofree char *dir = NULL;
  const char *key;
  struct stat st;

  if (runtime != NULL && g_path_is_absolute (runtime))
    dir = g_build_filename (runtime, "claude-failover", NULL);
  else
    dir = g_strdup_printf ("/tmp/claude-failover-%u", (unsigned) getuid ());
  if (g_mkdir (dir, 0700) < 0 && errno != EEXIST)
    return NULL;
  if (lstat (dir, &st) < 0 || !S_ISDIR (st.st_mode) || st.st_uid != getuid () ||
      (st.st_mode & 0077) != 0)
    return NULL;
  if (pane[0] == '%')
    key = pane + 1;
  else if (statusline->session_id != NULL)
    key = statusline->session_id;
  else
    key = "none";
  return g_strdup_printf ("%s/statusline-%s", dir, key);
}

static gboolean
limiter_allows (const char *path, const char *key, gint64 now)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  gint64 last_sent = 0;

  if (path == NULL || !g_file_get_contents (path, &contents, NULL, NULL))
    return TRUE;
  lines = g_strsplit (contents, "\n", 3);
  if (lines[0] == NULL || lines[1] == NULL)
    return TRUE;
  last_sent = g_ascii_strtoll (lines[0], NULL, 10);
  return cf_statusline_should_forward (lines[1], last_sent, key, now);
}

static void
limiter_record (const char *path, const char *key, gint64 now)
{
  g_autofree char *contents = NULL;

  if (path == NULL)
    return;
  contents = g_strdup_printf ("%" G_GINT64_FORMAT "\n%s\n", now, key);
  g_file_set_contents (path, contents, -1, NULL);
}

/* Calls ReportHookEvent without activation and waits for the answer until
 * DEADLINE (monotonic µs) at the latest. The answer must be waited for:
 * the daemon asks the bus who called, and a caller that has hung up is
 * nobody. A daemon that does not answer in time costs one lost report. */
static int
send_report (const char *pane, const char *report, gint64 deadline)
{
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  gint64 now;
  int r;

  r = sd_bus_open_system (&bus);
  if (r < 0)
    return r;
  r = sd_bus_message_new_method_call (bus, &call, CF_BUS_NAME, CF_OBJECT_PATH, CF_INTERFACE,
                                      "ReportHookEvent");
  if (r < 0)
    return r;
  if ((r = sd_bus_message_set_auto_start (call, 0)) < 0 ||
      (r = sd_bus_message_append (call, "sss", CF_STATUSLINE_EVENT, pane, report)) < 0)
    return r;
  /* sd_bus_call () would first wait for the handshake without a limit. */
  while ((r = sd_bus_is_ready (bus)) == 0)
    {
      r = sd_bus_process (bus, NULL);
      if (r < 0)
        return r;
      if (r > 0)
        continue;
      now = g_get_monotonic_time ();
      if (now >= deadline)
        return -ETIMEDOUT;
      r = sd_bus_wait (bus, (uint64_t) (deadline - now));
      if (r < 0 && r != -EINTR)
        return r;
    }
  if (r < 0)
    return r;
  now = g_get_monotonic_time ();
  if (now >= deadline)
    return -ETIMEDOUT;
  r = sd_bus_call (bus, call, (uint64_t) (deadline - now), &error, &reply);
  if (r < 0 && sd_bus_error_is_set (&error) && g_strcmp0 (g_getenv ("CF_HOOK_DEBUG"), "1") == 0)
    g_printerr ("claude-failoverctl: statusline: %s\n", error.message);
  sd_bus_error_free (&error);
  return r;
}

/* The account shown: $CF_ACCOUNT, else the account home's name without
 * its ".claude-" ("~/.claude-main" → "main"). */
static char *
account_name (void)
{
  const char *account = g_getenv ("CF_ACCOUNT");
  const char *home = g_getenv ("CLAUDE_CONFIG_DIR");
  g_autofree char *base = NULL;

  if (account != NULL && account[0] != '\0' && g_utf8_validate (account, -1, NULL))
    return g_strdup (account);
  if (home == NULL || home[0] == '\0' || !g_utf8_validate (home, -1, NULL))
    return NULL;
  base = g_path_get_basename (home);
  if (g_str_has_prefix (base, ".claude-") && base[8] != '\0')
    return g_strdup (base + 8);
  return NULL;
}

/* Hands the input to COMMAND as its standard input and becomes it; returns
 * only when that failed (our own line is printed then). */
static void
exec_then (const char *command, GByteArray *input)
{
  int fd = memfd_create ("claude-failover-statusline", MFD_CLOEXEC);

  if (fd >= 0)
    {
      if (write (fd, input->data, input->len) == (ssize_t) input->len &&
          lseek (fd, 0, SEEK_SET) == 0)
        dup2 (fd, STDIN_FILENO);
      close (fd);
    }
  fflush (stdout);
  execl ("/bin/sh", "sh", "-c", command, (char *) NULL);
}

int
cf_ctl_statusline (int argc, char **argv, gboolean json)
{
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GByteArray) input = g_byte_array_new ();
  g_autoptr(CfStatusline) statusline = NULL;
  g_autofree char *account = NULL;
  g_autofree char *line = NULL;
  const char *then = NULL;
  const char *pane;
  gboolean too_large = FALSE;

  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
        {
          print_help ();
          return 0;
        }
      if (g_str_equal (argv[i], "--then") && i + 1 < argc)
        then = argv[++i];
      else if (g_str_has_prefix (argv[i], "--then="))
        then = argv[i] + strlen ("--then=");
      else
        {
          g_printerr ("claude-failoverctl: %s\n",
                      g_str_equal (argv[i], "--then")
                        ? _("statusline: --then needs a COMMAND (see --help)")
                        : _("statusline: unexpected argument (see --help)"));
          return 2;
        }
    }

  cf_ctl_read_stdin (start + READ_BUDGET_USEC, CF_STATUSLINE_INPUT_MAX, input, &too_large);
  pane = g_getenv ("TMUX_PANE");
  if (pane == NULL || !pane_is_valid (pane))
    pane = "";

  if (!too_large && input->len > 0 &&
      cf_statusline_parse ((const char *) input->data, input->len, &statusline, NULL))
    {
      const char *home = g_getenv ("CLAUDE_CONFIG_DIR");
      g_autofree char *key = cf_statusline_key (statusline);
      g_autofree char *limiter = limiter_path (pane, statusline);
      gint64 now = g_get_real_time ();

      if (home != NULL && (!g_path_is_absolute (home) || !g_utf8_validate (home, -1, NULL)))
        home = NULL;
      if (statusline->has_rate_limits && (pane[0] != '\0' || home != NULL) &&
          limiter_allows (limiter, key, now))
        {
          g_autofree char *report = cf_statusline_to_report (statusline, home);
          int r = send_report (pane, report, start + TOTAL_BUDGET_USEC);

          if (r >= 0)
            limiter_record (limiter, key, now);
          else if (g_strcmp0 (g_getenv ("CF_HOOK_DEBUG"), "1") == 0)
            g_printerr (_("claude-failoverctl: statusline: not reported to claude-failoverd: %s\n"),
                        g_strerror (-r));
        }
    }

  if (then != NULL)
    exec_then (then, input);

  account = account_name ();
  if (statusline != NULL)
    line = cf_statusline_format (statusline, account, g_get_real_time ());
  else
    line = g_strdup (account != NULL ? account : "claude-failover");
  g_print ("%s\n", line);
  return 0;
}
