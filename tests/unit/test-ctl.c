/* SPDX-License-Identifier: MIT */
/* claude-failoverctl's shared pieces: every D-Bus error explained, times,
 * text made safe for a terminal, tables, and command-line parsing. */
#include <glib.h>
#include <errno.h>
#include <locale.h>

#include "cf-ctl-args.h"
#include "cf-ctl-bus.h"
#include "cf-ctl-output.h"
#include "cf-names.h"

static GString *printed;
static GString *printed_err;

static void
capture_print (const char *text)
{
  g_string_append (printed, text);
}

static void
capture_printerr (const char *text)
{
  g_string_append (printed_err, text);
}

static void
capture_begin (void)
{
  g_string_truncate (printed, 0);
  g_string_truncate (printed_err, 0);
  g_set_print_handler (capture_print);
  g_set_printerr_handler (capture_printerr);
}

static void
capture_end (void)
{
  g_set_print_handler (NULL);
  g_set_printerr_handler (NULL);
}

/* ---- errors ------------------------------------------------------------- */

typedef struct {
  const char *name;            /* NULL: no D-Bus error, only R */
  const char *message;
  int r;
  const char *member;
  CfCtlCallInfo info;
  const char *expected;
} ErrorCase;

static const ErrorCase error_cases[] = {
  { SD_BUS_ERROR_SERVICE_UNKNOWN, "The name is not activatable", -EHOSTDOWN, "GetStatus",
    { .command = "status" },
    "the daemon is not running (org.claudefailover has no owner on the system bus)" },
  { SD_BUS_ERROR_NAME_HAS_NO_OWNER, "no owner", -ENXIO, "GetStatus", { 0 },
    "the daemon is not running (org.claudefailover has no owner on the system bus)" },
  { "org.freedesktop.DBus.Error.Spawn.ChildExited", "exited with 1", -EIO, "GetStatus", { 0 },
    "D-Bus could not start the daemon: exited with 1" },
  { SD_BUS_ERROR_ACCESS_DENIED, "Not authorized by polkit", -EACCES, "PauseDispatch",
    { .action = CF_POLKIT_CONTROL },
    "not authorised (polkit action org.claudefailover.control): Not authorized by polkit" },
  { SD_BUS_ERROR_ACCESS_DENIED,
    "Not authorized to call PauseDispatch (polkit action org.claudefailover.control)", -EACCES,
    "PauseDispatch", { .action = CF_POLKIT_CONTROL },
    "not authorised: Not authorized to call PauseDispatch (polkit action "
    "org.claudefailover.control)" },
  { SD_BUS_ERROR_ACCESS_DENIED,
    "Rejected send message, 2 matched rules; type=\"method_call\"", -EACCES, "PauseDispatch",
    { .action = CF_POLKIT_CONTROL },
    "not authorised by the D-Bus policy: Rejected send message, 2 matched rules; "
    "type=\"method_call\"" },
  { SD_BUS_ERROR_ACCESS_DENIED, "no", -EACCES, "GetStatus", { 0 },
    "not authorised by the D-Bus policy: no" },
  { SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, "x", -EACCES, "SwitchAccount",
    { .action = CF_POLKIT_SWITCH_ACCOUNT },
    "authorisation required (polkit action org.claudefailover.switch-account): run it from "
    "a terminal with a polkit agent, or as root" },
  { CF_ERROR_NO_SUCH_TASK, "No task", -EIO, "CancelTask",
    { .project = "demo", .task = "t-1" }, "no such task 't-1' in project 'demo'" },
  { CF_ERROR_NO_SUCH_PROJECT, "No project", -EIO, "SubmitTask", { .project = "web" },
    "no such project 'web' (a directory with .agent-queue/inbox under projects.dir or "
    "projects.extra)" },
  { CF_ERROR_NO_SUCH_SESSION, "No session", -EIO, "RecycleSession", { .session = "ccl-9" },
    "no such session 'ccl-9' (see 'claude-failoverctl sessions')" },
  { CF_ERROR_NO_SUCH_ACCOUNT, "No account", -EIO, "SwitchAccount", { .account = "spare" },
    "no such account 'spare' (see 'claude-failoverctl status')" },
  { CF_ERROR_NO_SUCH_ACCOUNT, "no other account is available", -EIO, "SwitchAccount",
    { .account = "" }, "no other account is available" },
  { CF_ERROR_INVALID_ARGUMENT, "bad\nthing", -EIO, "SubmitTask", { 0 },
    "the daemon refused the request: bad\nthing" },
  { CF_ERROR_SWAP_IN_PROGRESS, "busy", -EIO, "SwitchAccount", { 0 },
    "an account switch is in progress; try again when it has finished (busy)" },
  { CF_ERROR_PARTIAL_SWAP, "partial", -EIO, "SwitchAccount", { 0 },
    "account switches are refused after a partial swap: repair the account links, then "
    "run 'claude-failoverctl clear-partial-swap' (partial)" },
  { SD_BUS_ERROR_UNKNOWN_METHOD, "Unknown method", -EBADR, "Reload", { 0 },
    "the running daemon does not provide Reload (an older claude-failoverd?)" },
  { SD_BUS_ERROR_UNKNOWN_OBJECT, "Unknown object", -EBADR, "Reload", { 0 },
    "the running daemon does not provide Reload (an older claude-failoverd?)" },
  { SD_BUS_ERROR_NOT_SUPPORTED, "Reload is not available", -EOPNOTSUPP, "Reload", { 0 },
    "the daemon cannot do this: Reload is not available" },
  { SD_BUS_ERROR_NO_REPLY, "Timeout", -ETIMEDOUT, "GetStatus", { 0 },
    "the daemon did not answer in time" },
  { SD_BUS_ERROR_DISCONNECTED, "gone", -ECONNRESET, "GetStatus", { 0 },
    "lost the connection to the system bus" },
  { SD_BUS_ERROR_FAILED, "config.yaml:3:1: unknown key", -EIO, "Reload", { 0 },
    "config.yaml:3:1: unknown key" },
  { SD_BUS_ERROR_FAILED, "", -EIO, "Reload", { 0 }, " (org.freedesktop.DBus.Error.Failed)" },
  { "org.example.Error.Odd", "Something odd", -EIO, "GetStatus", { 0 },
    "Something odd (org.example.Error.Odd)" },
  { NULL, NULL, -ETIMEDOUT, "GetStatus", { 0 }, "the daemon did not answer in time" },
  { NULL, NULL, -ENOTCONN, "GetStatus", { 0 }, "lost the connection to the system bus" },
  { NULL, NULL, -EINVAL, "GetStatus", { 0 }, "D-Bus call failed: Invalid argument" },
};

static void
test_explain_errors (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      const ErrorCase *c = &error_cases[i];
      sd_bus_error error = SD_BUS_ERROR_NULL;
      g_autofree char *line = NULL;

      if (c->name != NULL)
        sd_bus_error_set (&error, c->name, c->message);
      line = cf_ctl_explain_error (c->member, &c->info, &error, c->r);
      g_assert_cmpstr (line, ==, c->expected);
      sd_bus_error_free (&error);
    }
}

/* The error line is one line, whatever the message holds. */
static void
test_fail_is_one_line (void)
{
  capture_begin ();
  g_assert_cmpint (cf_ctl_fail (1, "submit", "%s", "a\nb\rc"), ==, 1);
  g_assert_cmpint (cf_ctl_usage_error ("tasks", "bad %s", "state"), ==, 2);
  g_assert_cmpint (cf_ctl_usage_error (NULL, "missing COMMAND"), ==, 2);
  capture_end ();
  g_assert_cmpstr (printed_err->str, ==,
                   "claude-failoverctl: submit: a b c\n"
                   "claude-failoverctl: tasks: bad state (see 'claude-failoverctl tasks --help')\n"
                   "claude-failoverctl: missing COMMAND (see 'claude-failoverctl --help')\n");
  g_assert_cmpstr (printed->str, ==, "");
}

/* ---- times and text ----------------------------------------------------- */

static void
test_usage_bar (void)
{
  const gint64 now = G_GINT64_CONSTANT (1800000000) * G_USEC_PER_SEC;
  const struct {
    double percent;
    gint64 reset;              /* seconds from now, 0 = unknown */
    const char *expected;
  } cases[] = {
    { -1, 3600, "unknown" },
    { 0, 0, "[░░░░░░░░░░]   0%" },
    { 52, 2 * 3600 + 13 * 60, "[█████░░░░░]  52% ↻2h13m" },
    { 96.4, 600, "[██████████]  96% ↻10m" },
    { 140, 86400 * 3, "[██████████] 100% ↻3d0h" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = cf_ctl_usage_bar (cases[i].percent,
                                                cases[i].reset ? now + cases[i].reset * G_USEC_PER_SEC : 0,
                                                now, 10);
      g_assert_cmpstr (text, ==, cases[i].expected);
    }
}

static void
test_relative_time (void)
{
  const gint64 now = G_GINT64_CONSTANT (1800000000) * G_USEC_PER_SEC;
  const struct {
    gint64 seconds;            /* the time minus now */
    const char *expected;
  } cases[] = {
    { 0, "now" }, { -4, "now" }, { 4, "now" }, { -5, "5s ago" }, { -59, "59s ago" },
    { -60, "1m ago" }, { -12 * 60 - 30, "12m ago" }, { -3599, "59m ago" },
    { -3600, "1h00m ago" }, { -(3 * 3600 + 5 * 60), "3h05m ago" }, { -86399, "23h59m ago" },
    { -86400, "1d ago" }, { -10 * 86400, "10d ago" }, { 30, "in 30s" }, { 12 * 60, "in 12m" },
    { 3 * 3600 + 5 * 60 + 59, "in 3h05m" }, { 2 * 86400, "in 2d" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = cf_ctl_relative_time (now + cases[i].seconds * G_USEC_PER_SEC, now);
      g_assert_cmpstr (text, ==, cases[i].expected);
    }
}

static void
test_iso8601 (void)
{
  g_autofree char *text = cf_ctl_iso8601 (G_GINT64_CONSTANT (1893456000123456));

  /* main () sets TZ=UTC. */
  g_assert_cmpstr (text, ==, "2030-01-01T00:00:00.123+00:00");
}

static void
test_printable (void)
{
  const struct {
    const char *in, *out;
  } cases[] = {
    { "plain", "plain" },
    { "tab\there", "tab\\there" },
    { "two\nlines\r", "two\\nlines\\r" },
    { "\033[31mred", "\\x1b[31mred" },
    { "del\177", "del\\x7f" },
    { "c1 \302\233 csi", "c1 \\x9b csi" },
    { "ünïcödé → ok", "ünïcödé → ok" },
    { "bad \377 utf8", "bad \357\277\275 utf8" },
    { "", "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = cf_ctl_printable (cases[i].in);
      g_assert_cmpstr (text, ==, cases[i].out);
    }
}

static void
test_width_and_truncate (void)
{
  g_autofree char *same = cf_ctl_truncate ("Fix it", 6);
  g_autofree char *cut = cf_ctl_truncate ("Fix the login redirect", 10);
  g_autofree char *wide = cf_ctl_truncate ("日本語のタイトル", 7);
  g_autofree char *nothing = cf_ctl_truncate ("abc", 0);

  g_assert_cmpuint (cf_ctl_text_width ("abc"), ==, 3);
  g_assert_cmpuint (cf_ctl_text_width ("ünï"), ==, 3);
  g_assert_cmpuint (cf_ctl_text_width ("日本"), ==, 4);
  g_assert_cmpuint (cf_ctl_text_width ("e\xcc\x81"), ==, 1);  /* e + combining acute */
  g_assert_cmpstr (same, ==, "Fix it");
  g_assert_cmpstr (cut, ==, "Fix the l…");
  g_assert_cmpuint (cf_ctl_text_width (cut), ==, 10);
  /* Three wide characters (6 columns) and the ellipsis: 7. */
  g_assert_cmpstr (wide, ==, "日本語…");
  g_assert_cmpstr (nothing, ==, "");
}

/* ---- tables ------------------------------------------------------------- */

static void
test_table (void)
{
  g_autoptr(CfCtlTable) table = cf_ctl_table_new (3, "NAME", "STATE", "TITLE");

  /* Standard output is not a terminal under meson test. */
  g_assert_false (cf_ctl_use_colour ());
  cf_ctl_table_add_row (table);
  cf_ctl_table_set (table, 0, "ccl-auto-0", CF_CTL_STYLE_NONE);
  cf_ctl_table_set (table, 1, "working", CF_CTL_STYLE_BLUE);
  cf_ctl_table_set (table, 2, "Fix \033[2Jit", CF_CTL_STYLE_NONE);
  cf_ctl_table_add_row (table);
  cf_ctl_table_set (table, 0, "日本", CF_CTL_STYLE_NONE);
  cf_ctl_table_set (table, 1, "idle", CF_CTL_STYLE_GREEN);
  /* A cell never set prints as empty. */
  g_assert_cmpuint (cf_ctl_table_get_n_rows (table), ==, 2);
  capture_begin ();
  cf_ctl_table_print (table);
  capture_end ();
  g_assert_cmpstr (printed->str, ==,
                   "NAME        STATE    TITLE\n"
                   "ccl-auto-0  working  Fix \\x1b[2Jit\n"
                   "日本        idle     \n");
}

/* ---- command lines ------------------------------------------------------ */

static const char *const parse_arg_names[] = { "PROJECT", "TASK" };

static const CfCtlUsage parse_usage = {
  .command = "requeue",
  .parameters = "PROJECT TASK [--title T]",
  .summary = "Does things.",
  .description = "More.",
  .min_args = 1,
  .max_args = 2,
  .arg_names = parse_arg_names,
};

typedef struct {
  const char *argv[8];
  int status;                  /* -1: parsed */
  const char *args;            /* positional, joined by "|" */
  const char *title;
  gboolean json;
  const char *err;
} ParseCase;

static const ParseCase parse_cases[] = {
  { { "requeue", "demo", NULL }, -1, "demo", NULL, FALSE, "" },
  { { "requeue", "demo", "t-1", "--json", NULL }, -1, "demo|t-1", NULL, TRUE, "" },
  { { "requeue", "--title", "-x", "demo", NULL }, -1, "demo", "-x", FALSE, "" },
  { { "requeue", "--title=--json", "demo", NULL }, -1, "demo", "--json", FALSE, "" },
  { { "requeue", "--", "-odd", "--json", NULL }, -1, "-odd|--json", NULL, FALSE, "" },
  { { "requeue", NULL }, 2, NULL, NULL, FALSE,
    "claude-failoverctl: requeue: missing PROJECT (see 'claude-failoverctl requeue --help')\n" },
  { { "requeue", "a", "b", "c", NULL }, 2, NULL, NULL, FALSE,
    "claude-failoverctl: requeue: unexpected argument 'c' (see 'claude-failoverctl requeue --help')\n" },
  { { "requeue", "--bogus", "a", NULL }, 2, NULL, NULL, FALSE,
    "claude-failoverctl: requeue: Unknown option --bogus (see 'claude-failoverctl requeue --help')\n" },
  { { "requeue", "a", "--title", NULL }, 2, NULL, NULL, FALSE,
    "claude-failoverctl: requeue: Missing argument for --title (see 'claude-failoverctl requeue --help')\n" },
  { { "requeue", "a\377", NULL }, 2, NULL, NULL, FALSE,
    "claude-failoverctl: requeue: argument 1 is not UTF-8 text (see 'claude-failoverctl requeue --help')\n" },
  { { "requeue", "--bogus", "-h", NULL }, 0, NULL, NULL, FALSE, "" },
};

static void
test_parse_args (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (parse_cases); i++)
    {
      const ParseCase *c = &parse_cases[i];
      g_autofree char *title = NULL;
      const GOptionEntry entries[] = {
        { "title", 0, 0, G_OPTION_ARG_STRING, &title, "the title", "T" },
        { NULL },
      };
      g_auto(GStrv) args = NULL;
      gboolean json = FALSE;
      int argc = (int) g_strv_length ((char **) c->argv);
      int status;

      capture_begin ();
      status = cf_ctl_parse_args (&parse_usage, entries, argc, (char **) c->argv, &json, &args);
      capture_end ();
      g_assert_cmpint (status, ==, c->status);
      g_assert_cmpstr (printed_err->str, ==, c->err);
      if (status == -1)
        {
          g_autofree char *joined = g_strjoinv ("|", args);
          g_assert_cmpstr (joined, ==, c->args);
          g_assert_cmpstr (title, ==, c->title);
          g_assert_cmpint (json, ==, c->json);
        }
      else
        g_assert_null (args);
      if (status == 0)
        g_assert_true (g_str_has_prefix (printed->str,
                                         "Usage: claude-failoverctl [--json] requeue PROJECT TASK"));
    }
}

static void
test_help_text (void)
{
  const GOptionEntry entries[] = {
    { "title", 0, 0, G_OPTION_ARG_STRING, NULL, "the title,\non two lines", "TITLE" },
    { "a-very-long-option-name", 0, 0, G_OPTION_ARG_NONE, NULL, "long", NULL },
    { "hidden", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, NULL, "not shown", NULL },
    { NULL },
  };
  g_autofree char *help = cf_ctl_help_text (&parse_usage, entries);

  g_assert_cmpstr (help, ==,
                   "Usage: claude-failoverctl [--json] requeue PROJECT TASK [--title T]\n"
                   "\n"
                   "Does things.\n"
                   "\n"
                   "Options:\n"
                   "  --title TITLE         the title,\n"
                   "                        on two lines\n"
                   "  --a-very-long-option-name\n"
                   "                        long\n"
                   "  --json                machine-readable output (JSON)\n"
                   "  -h, --help            show this help\n"
                   "\n"
                   "More.\n");
}

int
main (int argc, char **argv)
{
  g_setenv ("TZ", "UTC", TRUE);
  g_setenv ("LANGUAGE", "", TRUE);
  setlocale (LC_ALL, "C.UTF-8");
  g_test_init (&argc, &argv, NULL);
  printed = g_string_new (NULL);
  printed_err = g_string_new (NULL);

  g_test_add_func ("/ctl/explain-errors", test_explain_errors);
  g_test_add_func ("/ctl/fail-is-one-line", test_fail_is_one_line);
  g_test_add_func ("/ctl/relative-time", test_relative_time);
  g_test_add_func ("/ctl/usage-bar", test_usage_bar);
  g_test_add_func ("/ctl/iso8601", test_iso8601);
  g_test_add_func ("/ctl/printable", test_printable);
  g_test_add_func ("/ctl/width-and-truncate", test_width_and_truncate);
  g_test_add_func ("/ctl/table", test_table);
  g_test_add_func ("/ctl/parse-args", test_parse_args);
  g_test_add_func ("/ctl/help-text", test_help_text);
  return g_test_run ();
}
