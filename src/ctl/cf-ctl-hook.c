/* SPDX-License-Identifier: MIT */
/* claude-failoverctl hook EVENT: run by Claude Code hooks. Forwards the hook
 * input on stdin and $TMUX_PANE to the daemon's ReportHookEvent, within a
 * fixed time, and never disturbs Claude Code: whatever happens it exits 0
 * and prints nothing on stdout, which Claude Code may show to the model. */
#include "cf-ctl.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <poll.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "cf-hook-payload.h"
#include "cf-ctl-output.h"
#include "cf-names.h"

/* Claude Code writes the input at once and closes the pipe; whoever keeps
 * it open gets at most this long. */
#define CF_HOOK_READ_BUDGET_USEC (1 * G_USEC_PER_SEC)
/* Everything, from the first read to the daemon's reply; a little under
 * the promised 2 s to leave room for process start and exit. */
#define CF_HOOK_TOTAL_BUDGET_USEC (G_USEC_PER_SEC * 18 / 10)
#define CF_HOOK_CALL_TIMEOUT_USEC (1500 * 1000)
/* Sent when the input cannot go on the bus as it is: nothing read, more
 * than CF_HOOK_PAYLOAD_MAX bytes, or not UTF-8 (D-Bus strings must be). */
#define CF_HOOK_EMPTY_PAYLOAD "{}"

/* Flushing waits for the connection handshake without any time limit: the
 * bus is only ever closed here. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)

static void
print_help (void)
{
  g_print ("%s\n\n%s\n\n%s\n\n%s\n%s\n\n%s\n",
           _("Usage: claude-failoverctl hook EVENT"),
           _("Reports a Claude Code hook event to claude-failoverd (ReportHookEvent): EVENT\n"
             "is the hook's event name (Stop, StopFailure, SessionStart, UserPromptSubmit,\n"
             "Notification, …), the hook input JSON is read from standard input and the\n"
             "tmux pane from $TMUX_PANE. `claude-failoverctl install-hooks` sets it up."),
           _("Claude Code is never held up or disturbed: standard input is read for at\n"
             "most 1 s and 64 KiB, the whole command takes under 2 s, nothing is printed\n"
             "on standard output, and a daemon that is not running or does not answer is\n"
             "not an error. Input that is larger or not UTF-8 is reported as {}; any other\n"
             "input is passed on as it is, and the daemon validates it."),
           _("Environment:"),
           _("  CF_HOOK_DEBUG=1  print one line on standard error when the event could\n"
             "                   not be reported"),
           _("Exit status: 0, also when the event could not be reported; 2 usage error."));
}

static int
usage_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

static int
usage_error (const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("claude-failoverctl: %s\n", message);
  return 2;
}

/* The text to report, NUL-terminated inside INPUT, or CF_HOOK_EMPTY_PAYLOAD. */
static const char *
choose_payload (GByteArray *input, gboolean too_large)
{
  if (too_large || input->len == 0 ||
      !g_utf8_validate_len ((const char *) input->data, input->len, NULL))
    return CF_HOOK_EMPTY_PAYLOAD;
  g_byte_array_append (input, (const guint8 *) "", 1);
  return (const char *) input->data;
}

/* sd_bus_call () first waits for the connection handshake with no limit
 * of its own (a stopped dbus-daemon still accepts connections): wait for
 * it here, against DEADLINE. */
static int
wait_until_ready (sd_bus *bus, gint64 deadline)
{
  for (;;)
    {
      gint64 now;
      int r = sd_bus_is_ready (bus);

      if (r != 0)
        return r;
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
}

static int
report (const char *event, const char *pane, const char *payload, gint64 deadline,
        sd_bus_error *error)
{
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  gint64 remaining;
  int r;

  r = sd_bus_open_system (&bus);
  if (r < 0)
    return r;
  r = sd_bus_message_new_method_call (bus, &call, CF_BUS_NAME, CF_OBJECT_PATH, CF_INTERFACE,
                                      "ReportHookEvent");
  if (r < 0)
    return r;
  /* Activating a stopped daemon would take longer than a hook may; the
   * pane classifier covers what a missed event would have said. */
  r = sd_bus_message_set_auto_start (call, 0);
  if (r < 0)
    return r;
  r = sd_bus_message_append (call, "sss", event, pane, payload);
  if (r < 0)
    return r;
  r = wait_until_ready (bus, deadline);
  if (r < 0)
    return r;
  remaining = deadline - g_get_monotonic_time ();
  if (remaining <= 0)
    return -ETIMEDOUT;
  return sd_bus_call (bus, call, (uint64_t) MIN (remaining, CF_HOOK_CALL_TIMEOUT_USEC), error,
                      &reply);
}

int
cf_ctl_hook (int argc, char **argv, gboolean json)
{
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GByteArray) input = g_byte_array_new ();
  sd_bus_error error = SD_BUS_ERROR_NULL;
  gboolean too_large = FALSE;
  const char *event = NULL;
  const char *pane;
  const char *payload;
  int r;

  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
        {
          print_help ();
          return 0;
        }
      if (argv[i][0] == '-')
        return usage_error (_("hook: unknown option '%s' (see --help)"), argv[i]);
      if (event != NULL)
        return usage_error (_("hook: unexpected argument '%s' (see --help)"), argv[i]);
      event = argv[i];
    }
  if (event == NULL)
    return usage_error (_("hook: missing EVENT, e.g. Stop (see --help)"));
  if (!cf_hook_event_name_is_valid (event))
    return usage_error (_("hook: invalid EVENT '%s': letters and digits, such as StopFailure"),
                        event);

  cf_ctl_read_stdin (start + CF_HOOK_READ_BUDGET_USEC, CF_HOOK_PAYLOAD_MAX, input, &too_large);
  payload = choose_payload (input, too_large);
  /* Outside tmux there is no pane; the daemon then goes by the session id. */
  pane = g_getenv ("TMUX_PANE");
  if (pane == NULL || !g_utf8_validate (pane, -1, NULL))
    pane = "";

  r = report (event, pane, payload, start + CF_HOOK_TOTAL_BUDGET_USEC, &error);
  if (r < 0 && g_strcmp0 (g_getenv ("CF_HOOK_DEBUG"), "1") == 0)
    {
      if (sd_bus_error_is_set (&error))
        /* TRANSLATORS: event name, then the D-Bus error message and name. */
        g_printerr (_("claude-failoverctl: hook %s: not reported to claude-failoverd: %s (%s)\n"),
                    event, error.message, error.name);
      else
        g_printerr (_("claude-failoverctl: hook %s: not reported to claude-failoverd: %s\n"),
                    event, g_strerror (-r));
    }
  sd_bus_error_free (&error);
  return 0;
}
