/* SPDX-License-Identifier: MIT */
/* claude-failoverctl explain-pane: the daemon's pane classifier, offline. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cf-ctl.h"
#include "cf-json.h"
#include "cf-hook-payload.h"
#include "cf-pane.h"
#include "cf-transcript.h"
#include "cf-verdict.h"

#define PROGRAM "claude-failoverctl"
/* Far beyond a full tmux history (50 000 lines of 200 columns); stops a
 * mistaken `explain-pane /dev/zero` from eating the machine. */
#define CF_EXPLAIN_MAX_INPUT ((gsize) 64 * 1024 * 1024)
#define CF_EXPLAIN_MAX_TAIL_LINES 1000

typedef struct {
  char *now;
  char *tz;
  char *hook;
  char *transcript;
  int tail_lines;
  gboolean json;
  gboolean help;
} ExplainOptions;

static void
explain_options_clear (ExplainOptions *options)
{
  g_clear_pointer (&options->now, g_free);
  g_clear_pointer (&options->tz, g_free);
  g_clear_pointer (&options->hook, g_free);
  g_clear_pointer (&options->transcript, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ExplainOptions, explain_options_clear)

static void
print_help (void)
{
  g_print ("%s\n\n%s\n\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n\n%s\n",
           _("Usage: claude-failoverctl [--json] explain-pane [FILE|-] [--now ISO8601] [--tz ZONE] "
             "[--tail-lines N] [--hook FILE] [--transcript FILE]"),
           _("Classifies a tmux pane capture (FILE, or standard input when FILE is \"-\" or\n"
             "missing) the way claude-failoverd would, without contacting the daemon."),
           _("Options:"),
           _("  --now ISO8601    time that reset times are computed against (default: now),\n"
             "                   e.g. 2026-07-15T12:00:00Z; without an offset it is a\n"
             "                   time in the --tz zone; @SECONDS is a Unix time"),
           _("  --tz ZONE        zone for reset times that name none, e.g. Europe/Berlin\n"
             "                   (default: the local zone)"),
           _("  --tail-lines N   output lines above the input area examined for limit\n"
             "                   messages (default: 3, as quota.tail_lines)"),
           _("  --hook FILE      a hook payload (JSON, as `claude-failoverctl hook` reads it):\n"
             "                   also print the verdict the daemon fuses from the hook,\n"
             "                   the transcript and the pane, as it logs it"),
           _("  --transcript FILE  a session transcript (JSON lines): its newest\n"
             "                   main-conversation assistant line is the transcript signal"),
           _("  --json           print one JSON object instead of the explanation"),
           _("  -h, --help       show this help"),
           _("Exit status: 0 classified, 1 the capture could not be read, 2 usage error."));
}

/* One line on stderr, as every claude-failoverctl error. */
static int
fail (int status, const char *format, ...) G_GNUC_PRINTF (2, 3);

static int
fail (int status, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("%s: %s\n", PROGRAM, message);
  return status;
}

static gboolean
read_fd (int fd, GByteArray *out, int *saved_errno)
{
  guint8 buffer[65536];

  for (;;)
    {
      ssize_t n = read (fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          *saved_errno = errno;
          return FALSE;
        }
      if (n == 0)
        return TRUE;
      if (out->len + (gsize) n > CF_EXPLAIN_MAX_INPUT)
        {
          *saved_errno = EFBIG;
          return FALSE;
        }
      g_byte_array_append (out, buffer, (guint) n);
    }
}

/* Returns the capture, or NULL after printing why it could not be read. */
static GByteArray *
read_capture (const char *path)
{
  g_autoptr(GByteArray) contents = g_byte_array_new ();
  gboolean from_stdin = path == NULL || g_str_equal (path, "-");
  int saved_errno = 0;
  int fd = from_stdin ? STDIN_FILENO : open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  gboolean ok;

  if (fd < 0)
    {
      saved_errno = errno;
      fail (1, _("cannot read '%s': %s"), path, g_strerror (saved_errno));
      return NULL;
    }
  ok = read_fd (fd, contents, &saved_errno);
  if (!from_stdin)
    close (fd);
  if (!ok)
    {
      if (from_stdin)
        fail (1, _("cannot read standard input: %s"), g_strerror (saved_errno));
      else
        fail (1, _("cannot read '%s': %s"), path, g_strerror (saved_errno));
      return NULL;
    }
  return g_steal_pointer (&contents);
}

static GDateTime *
parse_now (const char *text, GTimeZone *zone)
{
  if (text[0] == '@')
    {
      guint64 seconds = 0;
      g_autoptr(GDateTime) utc = NULL;

      if (!g_ascii_string_to_unsigned (text + 1, 10, 0, G_GUINT64_CONSTANT (253402300799),
                                       &seconds, NULL))
        return NULL;
      utc = g_date_time_new_from_unix_utc ((gint64) seconds);
      return utc ? g_date_time_to_timezone (utc, zone) : NULL;
    }
  return g_date_time_new_from_iso8601 (text, zone);
}

static char *
format_iso (GDateTime *instant)
{
  return g_date_time_format (instant, "%Y-%m-%dT%H:%M:%S%:z");
}

static const char *
yes_no (gboolean value)
{
  return value ? _("yes") : _("no");
}

/* Labels are translated, so the column is as wide as the widest one. */
static void
print_field (guint width, const char *label, const char *value)
{
  glong pad = (glong) width - g_utf8_strlen (label, -1);

  g_print ("  %s%*s %s\n", label, (int) MAX (pad, 0), "", value);
}

static char *
describe_delay (GDateTime *reset_at, GDateTime *now)
{
  gint64 delta = g_date_time_to_unix (reset_at) - g_date_time_to_unix (now);
  gint64 magnitude = delta < 0 ? -delta : delta;
  int hours = (int) MIN (magnitude / 3600, G_MAXINT);
  int minutes = (int) (magnitude % 3600) / 60;

  if (delta < 0)
    return g_strdup_printf (_("%dh %02dm ago"), hours, minutes);
  return g_strdup_printf (_("in %dh %02dm"), hours, minutes);
}

static const char *
verdict_summary (const CfPaneVerdict *verdict)
{
  if (verdict->limit)
    return _("usage limit reached: this session counts toward an account switch.");
  if (verdict->limit_match)
    return _("a limit message is vetoed by a server error: no account switch.");
  if (verdict->resume_failed)
    return _("the resume failed: Claude found no conversation with that session ID.");
  if (verdict->needs_input)
    return _("a dialog waits for a person: neither idle nor working.");
  if (verdict->dialog_kind != CF_PANE_DIALOG_NONE)
    return _("a dialog blocks Claude: never type a task into it.");
  if (verdict->exited)
    return _("Claude has exited: its last frame is history, not a prompt.");
  if (verdict->server_error)
    return _("server error, not a usage limit: no account switch.");
  if (verdict->throttle)
    return _("the server is throttling requests (a 429 that is not a usage limit): no account switch.");
  if (verdict->busy)
    return _("Claude is working.");
  if (verdict->ready)
    return _("idle at the prompt: ready for a task.");
  if (verdict->prompt)
    return _("at the prompt, but text is typed into the input box: not ready.");
  return _("no Claude Code input prompt recognised (a shell, a menu or a dialog).");
}

static void
print_explanation (const CfPaneVerdict *verdict, const char *source, GDateTime *now,
                   GTimeZone *zone, guint tail_lines)
{
  const char *labels[] = {
    _("Prompt visible:"), _("Busy:"), _("Limit:"), _("Resets at:"), _("Server error:"),
    _("Warning:"), _("Resume UUID:"), _("Deciding line:"), _("Ready:"), _("Exited:"),
    _("Dialog:"), _("Needs input:"), _("Throttle:"), _("Auto-continue:"), _("Resume failed:"),
  };
  g_autofree char *now_text = format_iso (now);
  g_autofree char *limit_text = NULL;
  g_autofree char *reset_text = NULL;
  g_autofree char *server_text = NULL;
  g_autofree char *warning_text = NULL;
  g_autofree char *snippet_text = NULL;
  g_autofree char *dialog_text = NULL;
  g_autofree char *throttle_text = NULL;
  guint width = 0;

  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    width = MAX (width, (guint) g_utf8_strlen (labels[i], -1));

  if (verdict->limit)
    limit_text = g_strdup_printf (_("yes (pattern %s)"), verdict->pattern);
  else if (verdict->limit_match)
    limit_text = g_strdup_printf (_("no: pattern %s matched, vetoed by the server error"),
                                  verdict->pattern);
  else
    limit_text = g_strdup (_("no"));

  if (verdict->reset_at != NULL)
    {
      g_autofree char *iso = format_iso (verdict->reset_at);
      g_autofree char *delay = describe_delay (verdict->reset_at, now);

      reset_text = g_strdup_printf ("%s (%s)", iso, delay);
    }
  else
    reset_text = g_strdup (verdict->limit_match ? _("unknown (the message names no time)") : _("none"));

  server_text = verdict->server_error
                  ? g_strdup_printf (_("yes (pattern %s)"), verdict->server_error_pattern)
                  : g_strdup (_("no"));
  warning_text = verdict->warning
                   ? g_strdup_printf (_("yes (pattern %s), not exhaustion"), verdict->warning_pattern)
                   : g_strdup (_("no"));
  snippet_text = verdict->snippet ? g_strdup (verdict->snippet) : g_strdup (_("none"));
  if (verdict->dialog_kind != CF_PANE_DIALOG_NONE)
    /* TRANSLATORS: dialog id, its first line, what the operator must do. */
    dialog_text = g_strdup_printf (_("%s: \"%s\" (fix: %s)"),
                                   cf_pane_dialog_to_string (verdict->dialog_kind),
                                   verdict->dialog ? verdict->dialog : "",
                                   cf_pane_dialog_fix (verdict->dialog_kind));
  else
    dialog_text = g_strdup (_("none"));
  throttle_text = verdict->throttle
                    ? g_strdup_printf (_("yes (pattern %s), not a usage limit"), verdict->throttle_pattern)
                    : g_strdup (_("no"));

  /* TRANSLATORS: %s is a file name, or "standard input". */
  g_print (_("Pane capture: %s\n"), source);
  /* TRANSLATORS: now (ISO 8601), zone identifier, pattern table version, line count. */
  g_print (_("Classified at %s (local zone %s) with pattern table v%d, last %u output lines\n\n"),
           now_text, g_time_zone_get_identifier (zone), CF_PANE_PATTERNS_VERSION, tail_lines);
  print_field (width, labels[0], yes_no (verdict->prompt));
  print_field (width, labels[1], yes_no (verdict->busy));
  print_field (width, labels[2], limit_text);
  print_field (width, labels[3], reset_text);
  print_field (width, labels[4], server_text);
  print_field (width, labels[5], warning_text);
  print_field (width, labels[6], verdict->resume_uuid ? verdict->resume_uuid : _("none"));
  print_field (width, labels[7], snippet_text);
  print_field (width, labels[8], yes_no (verdict->ready));
  print_field (width, labels[9], yes_no (verdict->exited));
  print_field (width, labels[10], dialog_text);
  print_field (width, labels[11], yes_no (verdict->needs_input));
  print_field (width, labels[12], throttle_text);
  print_field (width, labels[13], verdict->auto_continue ? verdict->auto_continue : _("none"));
  print_field (width, labels[14], yes_no (verdict->resume_failed));
  /* TRANSLATORS: followed by one of the verdict sentences. */
  g_print ("\n%s %s\n", _("Verdict:"), verdict_summary (verdict));
}

static void
add_string_or_null (JsonBuilder *builder, const char *key, const char *value)
{
  json_builder_set_member_name (builder, key);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_boolean (JsonBuilder *builder, const char *key, gboolean value)
{
  json_builder_set_member_name (builder, key);
  json_builder_add_boolean_value (builder, value);
}

struct _Fused;
static void add_fused_json (JsonBuilder *builder, const struct _Fused *fused);

static void
print_json (const CfPaneVerdict *verdict, GDateTime *now, GTimeZone *zone, guint tail_lines,
            const struct _Fused *fused)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *reset_text = verdict->reset_at ? format_iso (verdict->reset_at) : NULL;
  g_autofree char *now_text = format_iso (now);
  g_autofree char *output = NULL;

  json_builder_begin_object (builder);
  add_boolean (builder, "prompt", verdict->prompt);
  add_boolean (builder, "busy", verdict->busy);
  add_boolean (builder, "limit", verdict->limit);
  add_boolean (builder, "limit_match", verdict->limit_match);
  add_boolean (builder, "server_error", verdict->server_error);
  add_boolean (builder, "warning", verdict->warning);
  add_string_or_null (builder, "pattern", verdict->pattern);
  add_string_or_null (builder, "reset_at", reset_text);
  json_builder_set_member_name (builder, "reset_at_unix");
  if (verdict->reset_at != NULL)
    json_builder_add_int_value (builder, g_date_time_to_unix (verdict->reset_at));
  else
    json_builder_add_null_value (builder);
  add_string_or_null (builder, "resume_uuid", verdict->resume_uuid);
  add_string_or_null (builder, "snippet", verdict->snippet);
  add_string_or_null (builder, "warning_pattern", verdict->warning_pattern);
  add_string_or_null (builder, "server_error_pattern", verdict->server_error_pattern);
  add_boolean (builder, "needs_input", verdict->needs_input);
  add_boolean (builder, "throttle", verdict->throttle);
  add_string_or_null (builder, "auto_continue", verdict->auto_continue);
  add_string_or_null (builder, "dialog", verdict->dialog);
  add_boolean (builder, "resume_failed", verdict->resume_failed);
  add_boolean (builder, "ready", verdict->ready);
  add_boolean (builder, "exited", verdict->exited);
  add_string_or_null (builder, "dialog_kind",
                      verdict->dialog_kind != CF_PANE_DIALOG_NONE
                        ? cf_pane_dialog_to_string (verdict->dialog_kind) : NULL);
  add_string_or_null (builder, "dialog_fix", cf_pane_dialog_fix (verdict->dialog_kind));
  add_string_or_null (builder, "throttle_pattern", verdict->throttle_pattern);
  json_builder_set_member_name (builder, "patterns_version");
  json_builder_add_int_value (builder, CF_PANE_PATTERNS_VERSION);
  add_string_or_null (builder, "now", now_text);
  add_string_or_null (builder, "zone", g_time_zone_get_identifier (zone));
  json_builder_set_member_name (builder, "tail_lines");
  json_builder_add_int_value (builder, tail_lines);
  if (fused != NULL)
    add_fused_json (builder, fused);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  output = cf_json_generate (generator, NULL);
  g_print ("%s\n", output);
}

/* The signals beside the pane, as the daemon fuses them. */
typedef struct _Fused {
  CfHookPayload *payload;      /* --hook, or NULL */
  CfTranscriptEntry entry;     /* --transcript's newest assistant line (entry.assistant) */
  gboolean have_transcript;
  CfSessionVerdict verdict;
  char *decision;              /* the line the daemon logs after "SESSION: " */
} Fused;

static void
fused_clear (Fused *fused)
{
  g_clear_pointer (&fused->payload, cf_hook_payload_free);
  cf_transcript_entry_clear (&fused->entry);
  g_clear_pointer (&fused->decision, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fused, fused_clear)

/* Returns the exit status: 0, or 1 after printing why. */
static int
read_signals (const ExplainOptions *options, Fused *fused)
{
  if (options->hook != NULL)
    {
      g_autoptr(GByteArray) bytes = read_capture (options->hook);
      g_autoptr(GError) error = NULL;

      if (bytes == NULL)
        return 1;
      /* An empty file has no data at all. */
      if (!cf_hook_payload_parse (NULL, bytes->len > 0 ? (const char *) bytes->data : "", bytes->len,
                                  &fused->payload, &error))
        return fail (1, _("explain-pane: --hook '%s': %s"), options->hook, error->message);
    }
  if (options->transcript != NULL)
    {
      g_autoptr(GByteArray) bytes = read_capture (options->transcript);
      CfTranscriptCursor cursor = { 0 };

      if (bytes == NULL)
        return 1;
      /* What the daemon's first pass reads: the newest bytes, whole lines. */
      if (bytes->len > CF_TRANSCRIPT_READ_MAX)
        {
          cursor.skipping = TRUE;
          cf_transcript_cursor_feed (&cursor, (const char *) bytes->data + bytes->len - CF_TRANSCRIPT_READ_MAX,
                                     CF_TRANSCRIPT_READ_MAX, &fused->entry);
        }
      else
        cf_transcript_cursor_feed (&cursor, (const char *) bytes->data, bytes->len, &fused->entry);
      fused->have_transcript = TRUE;
    }
  return 0;
}

static void
fuse_signals (Fused *fused, const CfPaneVerdict *pane, gint64 now_unix, GTimeZone *zone)
{
  const CfTranscriptEntry *entry = fused->entry.assistant ? &fused->entry : NULL;

  if (fused->payload != NULL)
    {
      cf_hook_payload_decide (fused->payload, entry, pane, now_unix, zone);
      fused->verdict = fused->payload->verdict;
      fused->decision = cf_hook_payload_describe_decision (fused->payload);
    }
  else
    {
      cf_session_verdict_fuse (NULL, entry, pane, now_unix, zone, &fused->verdict);
      fused->decision = cf_session_verdict_describe (&fused->verdict);
    }
}

static void
print_fused (const Fused *fused, const ExplainOptions *options)
{
  g_autofree char *transcript_text = NULL;

  g_print ("\n");
  /* TRANSLATORS: %s is a file name or "none". */
  g_print (_("Hook: %s\n"), options->hook ? options->hook : _("none"));
  if (!fused->have_transcript)
    transcript_text = g_strdup (_("none"));
  else if (!fused->entry.assistant)
    /* TRANSLATORS: %s is a file name. */
    transcript_text = g_strdup_printf (_("%s (no main-conversation assistant line)"), options->transcript);
  else
    /* TRANSLATORS: file name, then the error of its newest assistant line ("rate_limit") or "none". */
    transcript_text = g_strdup_printf (_("%s (newest assistant line: error %s, status %d)"), options->transcript,
                                       fused->entry.error ? fused->entry.error : _("none"),
                                       fused->entry.api_error_status);
  g_print (_("Transcript: %s\n"), transcript_text);
  /* TRANSLATORS: followed by the decision as the daemon logs it. */
  g_print ("%s %s\n", _("Fused verdict:"), fused->decision);
}

static void
add_fused_json (JsonBuilder *builder, const struct _Fused *fused)
{
  json_builder_set_member_name (builder, "fused");
  json_builder_begin_object (builder);
  add_string_or_null (builder, "verdict", cf_session_verdict_kind_to_string (fused->verdict.kind));
  add_string_or_null (builder, "sources", cf_verdict_sources_to_string (fused->verdict.sources));
  add_string_or_null (builder, "conflicting", cf_verdict_sources_to_string (fused->verdict.conflicting));
  add_string_or_null (builder, "reason", fused->verdict.reason);
  json_builder_set_member_name (builder, "reset_at_unix");
  if (fused->verdict.reset_unix > 0)
    json_builder_add_int_value (builder, fused->verdict.reset_unix);
  else
    json_builder_add_null_value (builder);
  add_boolean (builder, "needs_input", fused->verdict.needs_input);
  add_string_or_null (builder, "decision", fused->decision);
  json_builder_end_object (builder);
}

int
cf_ctl_explain_pane (int argc, char **argv, gboolean json)
{
  g_auto(ExplainOptions) options = { .tail_lines = CF_PANE_DEFAULT_TAIL_LINES, .json = json };
  const GOptionEntry entries[] = {
    { "now", 0, 0, G_OPTION_ARG_STRING, &options.now, NULL, NULL },
    { "tz", 0, 0, G_OPTION_ARG_STRING, &options.tz, NULL, NULL },
    { "tail-lines", 0, 0, G_OPTION_ARG_INT, &options.tail_lines, NULL, NULL },
    { "hook", 0, 0, G_OPTION_ARG_FILENAME, &options.hook, NULL, NULL },
    { "transcript", 0, 0, G_OPTION_ARG_FILENAME, &options.transcript, NULL, NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &options.help, NULL, NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) args = NULL;
  g_autoptr(GTimeZone) zone = NULL;
  g_autoptr(GDateTime) now = NULL;
  g_autoptr(GByteArray) capture = NULL;
  g_auto(CfPaneVerdict) verdict = { 0 };
  g_auto(Fused) fused = { 0 };
  gboolean fuse = FALSE;
  CfPaneContext pane_context = { 0 };
  const char *path = NULL;

  /* The built-in help would exit() from inside the parser and print
   * GOption's layout; ours returns like every other command. */
  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);

  args = g_new0 (char *, argc + 1);
  for (int i = 0; i < argc; i++)
    args[i] = g_strdup (argv[i]);
  if (!g_option_context_parse_strv (context, &args, &error))
    return fail (2, _("explain-pane: %s (see --help)"), error->message);
  if (options.help)
    {
      print_help ();
      return 0;
    }

  for (guint i = 1; args[i] != NULL; i++)
    {
      if (path != NULL)
        return fail (2, _("explain-pane: unexpected argument '%s' (see --help)"), args[i]);
      path = args[i];
    }

  if (options.tail_lines < 1 || options.tail_lines > CF_EXPLAIN_MAX_TAIL_LINES)
    return fail (2, _("explain-pane: --tail-lines must be between 1 and %d"),
                 CF_EXPLAIN_MAX_TAIL_LINES);

  if (options.tz != NULL)
    {
      zone = g_time_zone_new_identifier (options.tz);
      if (zone == NULL)
        return fail (2, _("explain-pane: unknown time zone '%s' for --tz (e.g. Europe/Berlin, UTC)"),
                     options.tz);
    }
  else
    zone = g_time_zone_new_local ();

  if (options.now != NULL)
    {
      g_autoptr(GDateTime) given = parse_now (options.now, zone);

      if (given == NULL)
        return fail (2, _("explain-pane: invalid --now '%s': expected ISO 8601 such as "
                          "2026-07-15T12:00:00Z"),
                     options.now);
      /* Shown in the zone the explanation is about, whatever offset was typed. */
      now = g_date_time_to_timezone (given, zone);
    }
  else
    now = g_date_time_new_now (zone);

  capture = read_capture (path);
  if (capture == NULL)
    return 1;

  pane_context.now_unix = g_date_time_to_unix (now);
  pane_context.local_zone = zone;
  pane_context.tail_lines = (guint) options.tail_lines;
  cf_pane_classify ((const char *) capture->data, capture->len, &pane_context, &verdict);

  fuse = options.hook != NULL || options.transcript != NULL;
  if (fuse)
    {
      int status = read_signals (&options, &fused);

      if (status != 0)
        return status;
      fuse_signals (&fused, &verdict, pane_context.now_unix, zone);
    }

  if (options.json)
    print_json (&verdict, now, zone, pane_context.tail_lines, fuse ? &fused : NULL);
  else
    {
      print_explanation (&verdict,
                         path == NULL || g_str_equal (path, "-") ? _("standard input") : path,
                         now, zone, pane_context.tail_lines);
      if (fuse)
        print_fused (&fused, &options);
    }
  return 0;
}
