/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "cf-pane.h"

/* Digest of the pattern table (ids, kinds, regexes) for each
 * CF_PANE_PATTERNS_VERSION: editing a row without bumping the version fails
 * here, so every logged decision names the table that made it. */
#define CF_PANE_PATTERNS_DIGEST_V1 "f5c335d32ee91cae8dc65d345184395473b91e46eeb885266085a52c290e0b81"
#define CF_PANE_PATTERNS_DIGEST_V2 "6906ed89b0cf26f9bedda167729f738f075fcab842607b3163fb452cf513b4e6"

static const char *const input_area =
  "────────────────────────────────────────\n"
  "❯ \n"
  "────────────────────────────────────────\n"
  "  ⏵⏵ bypass permissions on (shift+tab to cycle)\n"
  "\n\n";

static void
classify_full (const char *text, gssize length, const char *now_iso, const char *zone_id,
               guint tail_lines, CfPaneVerdict *out)
{
  g_autoptr(GDateTime) now = g_date_time_new_from_iso8601 (now_iso, NULL);
  g_autoptr(GTimeZone) zone = zone_id ? g_time_zone_new_identifier (zone_id) : NULL;
  CfPaneContext context = { 0 };

  g_assert_nonnull (now);
  g_assert_true (zone_id == NULL || zone != NULL);
  context.now_unix = g_date_time_to_unix (now);
  context.local_zone = zone;
  context.tail_lines = tail_lines;
  cf_pane_classify (text, length < 0 ? (gsize) -1 : (gsize) length, &context, out);
}

static void
classify (const char *text, CfPaneVerdict *out)
{
  classify_full (text, -1, "2026-07-15T12:00:00Z", "UTC", 0, out);
}

/* Output lines followed by the Claude Code 2.x input area. */
static char *
screen (const char *output)
{
  return g_strconcat (output, "\n\n", input_area, NULL);
}

static char *
format_instant (GDateTime *instant)
{
  return instant ? g_date_time_format (instant, "%Y-%m-%dT%H:%M:%S%:z") : NULL;
}

static void
assert_snippet_well_formed (const char *snippet)
{
  if (snippet == NULL)
    return;
  g_assert_cmpuint (strlen (snippet), <=, CF_PANE_SNIPPET_MAX);
  g_assert_true (g_utf8_validate (snippet, -1, NULL));
  g_assert_cmpint (snippet[0], !=, ' ');
}

/* --- fixtures --------------------------------------------------------------------- */

static char *
key_string_or_null (GKeyFile *file, const char *group, const char *key)
{
  g_autofree char *value = g_key_file_get_string (file, group, key, NULL);

  if (value == NULL || *value == '\0')
    return NULL;
  return g_steal_pointer (&value);
}

static char *
key_with_default (GKeyFile *file, const char *group, const char *key)
{
  char *value = key_string_or_null (file, group, key);

  return value ? value : key_string_or_null (file, "defaults", key);
}

static gboolean
key_boolean (GKeyFile *file, const char *group, const char *key)
{
  g_autoptr(GError) error = NULL;
  gboolean value = g_key_file_get_boolean (file, group, key, &error);

  g_assert_no_error (error);
  return value;
}

static gboolean
key_boolean_default (GKeyFile *file, const char *group, const char *key)
{
  return key_boolean (file, g_key_file_has_key (file, group, key, NULL) ? group : "defaults", key);
}

static void
test_pane_fixtures (void)
{
  g_autoptr(GKeyFile) expected = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *expected_path = g_build_filename (CF_FIXTURES_DIR, "panes", "expected.ini", NULL);
  g_auto(GStrv) groups = NULL;
  guint checked = 0;

  g_key_file_load_from_file (expected, expected_path, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  groups = g_key_file_get_groups (expected, NULL);

  for (guint i = 0; groups[i] != NULL; i++)
    {
      const char *group = groups[i];
      g_autofree char *file = NULL;
      g_autofree char *path = NULL;
      g_autofree char *contents = NULL;
      g_autofree char *now = key_with_default (expected, group, "now");
      g_autofree char *zone = key_with_default (expected, group, "zone");
      g_autofree char *tail = key_with_default (expected, group, "tail_lines");
      g_autofree char *pattern = key_string_or_null (expected, group, "pattern");
      g_autofree char *reset_at = key_string_or_null (expected, group, "reset_at");
      g_autofree char *resume_uuid = key_string_or_null (expected, group, "resume_uuid");
      g_autofree char *snippet_prefix = key_string_or_null (expected, group, "snippet_prefix");
      g_autofree char *dialog_kind = key_with_default (expected, group, "dialog_kind");
      g_autofree char *dialog_prefix = key_with_default (expected, group, "dialog_prefix");
      g_autofree char *auto_continue = key_with_default (expected, group, "auto_continue");
      g_autofree char *got_reset = NULL;
      g_auto(CfPaneVerdict) verdict = { 0 };
      gsize length = 0;

      if (g_str_equal (group, "defaults"))
        continue;
      g_test_message ("fixture case %s", group);
      file = key_string_or_null (expected, group, "file");
      if (file == NULL)
        file = g_strconcat (group, ".txt", NULL);
      path = g_build_filename (CF_FIXTURES_DIR, "panes", file, NULL);
      g_file_get_contents (path, &contents, &length, &error);
      g_assert_no_error (error);

      classify_full (contents, (gssize) length, now, zone, (guint) g_ascii_strtoull (tail, NULL, 10),
                     &verdict);
      got_reset = format_instant (verdict.reset_at);

      g_assert_cmpint (verdict.prompt, ==, key_boolean (expected, group, "prompt"));
      g_assert_cmpint (verdict.busy, ==, key_boolean (expected, group, "busy"));
      g_assert_cmpint (verdict.limit_match, ==, key_boolean (expected, group, "limit_match"));
      g_assert_cmpint (verdict.limit, ==, key_boolean (expected, group, "limit"));
      g_assert_cmpint (verdict.server_error, ==, key_boolean (expected, group, "server_error"));
      g_assert_cmpint (verdict.warning, ==, key_boolean (expected, group, "warning"));
      g_assert_cmpstr (verdict.pattern, ==, pattern);
      g_assert_cmpstr (got_reset, ==, reset_at);
      g_assert_cmpstr (verdict.resume_uuid, ==, resume_uuid);
      g_assert_cmpint (verdict.ready, ==, key_boolean_default (expected, group, "ready"));
      g_assert_cmpint (verdict.exited, ==, key_boolean_default (expected, group, "exited"));
      g_assert_cmpint (verdict.needs_input, ==, key_boolean_default (expected, group, "needs_input"));
      g_assert_cmpint (verdict.throttle, ==, key_boolean_default (expected, group, "throttle"));
      g_assert_cmpint (verdict.resume_failed, ==, key_boolean_default (expected, group, "resume_failed"));
      g_assert_cmpstr (verdict.auto_continue, ==, auto_continue);
      if (verdict.dialog_kind == CF_PANE_DIALOG_NONE)
        g_assert_null (dialog_kind);
      else
        g_assert_cmpstr (cf_pane_dialog_to_string (verdict.dialog_kind), ==, dialog_kind);
      g_assert_true ((verdict.dialog != NULL) == (verdict.dialog_kind != CF_PANE_DIALOG_NONE));
      assert_snippet_well_formed (verdict.dialog);
      if (dialog_prefix != NULL && !g_str_has_prefix (verdict.dialog, dialog_prefix))
        g_error ("%s: dialog \"%s\" does not start with \"%s\"", group, verdict.dialog, dialog_prefix);
      g_assert_cmpint (verdict.limit, ==, verdict.limit_match && !verdict.server_error);
      g_assert_true ((verdict.server_error_pattern != NULL) == verdict.server_error);
      g_assert_true ((verdict.warning_pattern != NULL) == verdict.warning);
      assert_snippet_well_formed (verdict.snippet);
      if (snippet_prefix != NULL)
        {
          g_assert_nonnull (verdict.snippet);
          if (!g_str_has_prefix (verdict.snippet, snippet_prefix))
            g_error ("%s: snippet \"%s\" does not start with \"%s\"", group, verdict.snippet,
                     snippet_prefix);
        }
      else
        g_assert_true (verdict.snippet == NULL || verdict.busy || verdict.warning
                       || verdict.limit_match || verdict.server_error);
      checked++;
    }
  g_assert_cmpuint (checked, >=, 65);
}

/* Every capture in the directory has a row in expected.ini. */
static void
test_pane_fixtures_all_listed (void)
{
  g_autoptr(GKeyFile) expected = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir_path = g_build_filename (CF_FIXTURES_DIR, "panes", NULL);
  g_autofree char *expected_path = g_build_filename (dir_path, "expected.ini", NULL);
  g_autoptr(GDir) dir = NULL;
  g_auto(GStrv) groups = NULL;
  g_autoptr(GHashTable) listed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *name;

  g_key_file_load_from_file (expected, expected_path, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  groups = g_key_file_get_groups (expected, NULL);
  for (guint i = 0; groups[i] != NULL; i++)
    {
      char *file = key_string_or_null (expected, groups[i], "file");

      g_hash_table_add (listed, file ? file : g_strconcat (groups[i], ".txt", NULL));
    }

  dir = g_dir_open (dir_path, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".txt") && !g_hash_table_contains (listed, name))
      g_error ("fixture %s has no case in expected.ini", name);
}

/* --- pattern table ------------------------------------------------------------------ */

static void
test_pane_patterns_table (void)
{
  guint n = 0;
  const CfPanePatternInfo *rows = cf_pane_patterns (&n);
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  guint limits = 0, warnings = 0, server_errors = 0, throttles = 0, dialogs = 0, auto_continues = 0;
  gboolean dialog_seen[CF_PANE_DIALOG_UNKNOWN_MENU + 1] = { FALSE };

  g_assert_cmpuint (n, >=, 15);
  for (guint i = 0; i < n; i++)
    {
      const CfPanePatternInfo *row = &rows[i];

      g_assert_nonnull (row->id);
      g_assert_false (g_hash_table_contains (ids, row->id));
      g_hash_table_add (ids, (gpointer) row->id);
      g_assert_nonnull (row->regex);
      g_assert_nonnull (row->examples);
      g_assert_nonnull (row->examples[0]);
      g_assert_true (row->example == row->examples[0]);
      g_assert_cmpstr (cf_pane_pattern_kind_to_string (row->kind), !=, "unknown");
      limits += row->kind == CF_PANE_PATTERN_LIMIT;
      warnings += row->kind == CF_PANE_PATTERN_WARNING;
      server_errors += row->kind == CF_PANE_PATTERN_SERVER_ERROR;
      throttles += row->kind == CF_PANE_PATTERN_THROTTLE;
      dialogs += row->kind == CF_PANE_PATTERN_DIALOG;
      auto_continues += row->kind == CF_PANE_PATTERN_AUTO_CONTINUE;
      g_assert_true ((row->kind == CF_PANE_PATTERN_DIALOG) == (row->dialog != CF_PANE_DIALOG_NONE));
      g_assert_true ((row->kind == CF_PANE_PATTERN_AUTO_CONTINUE) == (row->auto_continue != NULL));
      g_assert_true (!row->needs_menu || row->kind == CF_PANE_PATTERN_DIALOG);
      dialog_seen[row->dialog] = TRUE;
    }
  /* Every dialog but the unknown menu has a row that names it. */
  for (guint d = CF_PANE_DIALOG_TRUST; d < CF_PANE_DIALOG_UNKNOWN_MENU; d++)
    if (!dialog_seen[d])
      g_error ("no pattern row for dialog %s", cf_pane_dialog_to_string (d));
  g_assert_cmpuint (limits, >=, 10);
  g_assert_cmpuint (warnings, >=, 2);
  g_assert_cmpuint (server_errors, >=, 3);
  g_assert_cmpuint (throttles, >=, 2);
  g_assert_cmpuint (dialogs, >=, 11);
  g_assert_cmpuint (auto_continues, >=, 3);
  g_assert_true (cf_pane_patterns (NULL) == rows);
}

/* Each example, as Claude Code prints it (bare, under "⎿", after "●"), is
 * classified by its own row: the order of the table keeps ids precise.
 * Dialog rows stand where the box was, under a menu when they need one;
 * auto-continue rows are found in the output or the footer. */
static const char *
example_kind_id (const CfPaneVerdict *verdict, const CfPanePatternInfo *row)
{
  switch (row->kind)
    {
    case CF_PANE_PATTERN_LIMIT:
      g_assert_false (verdict->warning);
      g_assert_false (verdict->throttle);
      return verdict->pattern;
    case CF_PANE_PATTERN_WARNING:
      g_assert_false (verdict->limit_match);
      return verdict->warning_pattern;
    case CF_PANE_PATTERN_THROTTLE:
      g_assert_false (verdict->limit_match);
      g_assert_false (verdict->server_error);
      return verdict->throttle_pattern;
    case CF_PANE_PATTERN_SERVER_ERROR:
      g_assert_false (verdict->limit);
      return verdict->server_error_pattern;
    default:
      g_assert_not_reached ();
    }
}

static void
test_pane_patterns_examples (void)
{
  static const char *const prefixes[] = { "", "  ⎿  ", "● " };
  guint n = 0;
  const CfPanePatternInfo *rows = cf_pane_patterns (&n);

  for (guint i = 0; i < n; i++)
    for (guint e = 0; rows[i].examples[e] != NULL; e++)
      for (guint p = 0; p < G_N_ELEMENTS (prefixes); p++)
        {
          g_autofree char *line = g_strconcat (prefixes[p], rows[i].examples[e], NULL);
          g_autofree char *text = NULL;
          g_auto(CfPaneVerdict) verdict = { 0 };

          if (rows[i].kind == CF_PANE_PATTERN_DIALOG)
            {
              if (p != 0)
                continue;
              text = g_strconcat ("● earlier output\n", input_area, line, "\n",
                                  rows[i].needs_menu ? "❯ 1. Yes\n  2. No\n" : "", NULL);
              classify (text, &verdict);
              if (verdict.dialog_kind != rows[i].dialog)
                g_error ("example \"%s\" classified as dialog %s, not %s", line,
                         cf_pane_dialog_to_string (verdict.dialog_kind),
                         cf_pane_dialog_to_string (rows[i].dialog));
              g_assert_false (verdict.ready);
              g_assert_nonnull (verdict.dialog);
              continue;
            }
          text = screen (line);
          classify (text, &verdict);
          if (rows[i].kind == CF_PANE_PATTERN_AUTO_CONTINUE)
            {
              g_autofree char *footer = g_strconcat (input_area, "  ⏵⏵ bypass permissions on           ",
                                                     rows[i].examples[e], "\n", NULL);
              g_auto(CfPaneVerdict) in_footer = { 0 };

              g_assert_cmpstr (verdict.auto_continue, ==, rows[i].auto_continue);
              classify (footer, &in_footer);
              g_assert_cmpstr (in_footer.auto_continue, ==, rows[i].auto_continue);
              continue;
            }
          {
            const char *got = example_kind_id (&verdict, &rows[i]);

            if (g_strcmp0 (got, rows[i].id) != 0)
              g_error ("example \"%s\" classified as %s, not %s", line, got ? got : "(none)",
                       rows[i].id);
          }
          g_assert_true (verdict.prompt);
        }
}


/* Every row added for the real CLI matches a line of a real capture
 * (claude-<version>-*.txt); rows of the legacy phrasings keep their own
 * fixtures. */
static void
test_pane_patterns_captured (void)
{
  static const char *const legacy[] = {
    "claude-ai-epoch", "claude-usage-reset-at", "auto-continue", "five-hour-limit", "weekly-limit",
    "hit-session-limit", "hit-weekly-limit", "extra-usage-exhausted", "rate-limit-error",
    "usage-limit-reached", "warning-approaching", "server-api-error-type", "server-overloaded",
    "server-http-5xx", "trust-legacy", NULL,
  };
  g_autofree char *dir_path = g_build_filename (CF_FIXTURES_DIR, "panes", NULL);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  guint n = 0;
  const CfPanePatternInfo *rows = cf_pane_patterns (&n);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *contents = NULL;
      g_auto(GStrv) split = NULL;

      if (!g_str_has_prefix (name, "claude-2.") || !g_str_has_suffix (name, ".txt"))
        continue;
      path = g_build_filename (dir_path, name, NULL);
      g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
      split = g_strsplit (contents, "\n", -1);
      /* Footer rows hold right-aligned notes: each is a line of its own. */
      for (guint i = 0; split[i] != NULL; i++)
        {
          g_auto(GStrv) parts = g_regex_split_simple ("\\s{3,}", split[i], 0, 0);

          for (guint p = 0; parts[p] != NULL; p++)
            g_ptr_array_add (lines, g_steal_pointer (&parts[p]));
        }
    }
  g_assert_cmpuint (lines->len, >, 500);

  for (guint r = 0; r < n; r++)
    {
      g_autoptr(GRegex) regex = NULL;
      gboolean found = FALSE;

      if (g_strv_contains (legacy, rows[r].id))
        continue;
      regex = g_regex_new (rows[r].regex, G_REGEX_CASELESS, 0, NULL);
      g_assert_nonnull (regex);
      for (guint i = 0; i < lines->len && !found; i++)
        found = g_regex_match (regex, g_ptr_array_index (lines, i), 0, NULL);
      if (!found)
        g_error ("pattern row %s matches no line of a real capture", rows[r].id);
    }
}

static void
test_pane_patterns_version (void)
{
  guint n = 0;
  const CfPanePatternInfo *rows = cf_pane_patterns (&n);
  g_autoptr(GString) all = g_string_new (NULL);
  g_autofree char *digest = NULL;

  for (guint i = 0; i < n; i++)
    {
      g_string_append_printf (all, "%s\t%s\t%s", rows[i].id,
                              cf_pane_pattern_kind_to_string (rows[i].kind), rows[i].regex);
      /* v2 rows also say what they mean (v1 rows hash as before). */
      if (rows[i].kind == CF_PANE_PATTERN_DIALOG)
        g_string_append_printf (all, "\t%s\t%d", cf_pane_dialog_to_string (rows[i].dialog),
                                rows[i].needs_menu);
      else if (rows[i].kind == CF_PANE_PATTERN_AUTO_CONTINUE)
        g_string_append_printf (all, "\t%s", rows[i].auto_continue);
      g_string_append_c (all, '\n');
    }
  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, all->str, all->len);

  g_assert_cmpint (CF_PANE_PATTERNS_VERSION, ==, 2);
  if (!g_str_equal (digest, CF_PANE_PATTERNS_DIGEST_V2))
    g_error ("the pattern table changed (digest %s): bump CF_PANE_PATTERNS_VERSION and "
             "record the new digest here", digest);
}

/* --- screen model --------------------------------------------------------------------- */

typedef struct {
  const char *output;          /* lines above the input area; NULL = no input area */
  const char *bare;            /* whole pane when OUTPUT is NULL */
  gboolean prompt;
  gboolean busy;
} BusyCase;

static void
test_pane_busy (void)
{
  static const BusyCase cases[] = {
    { "✻ Thinking… (12s · ↑ 1.2k tokens · esc to interrupt)", NULL, TRUE, TRUE },
    { "✢ Herding…", NULL, TRUE, TRUE },
    { "✳ Grilling hot dogs… (5s)", NULL, TRUE, TRUE },
    { "✽ Reticulating...", NULL, TRUE, TRUE },
    { "⠋ Processing…", NULL, TRUE, TRUE },
    { "* Clauding… (esc to interrupt)", NULL, TRUE, TRUE },
    { "● Bash(make check)\n  ⎿  Running… (40s · esc to interrupt)", NULL, TRUE, TRUE },
    { "● Bash(sleep 100)\n  ⎿  (1m 4s · timeout 10m)", NULL, TRUE, TRUE },
    { "● Task(explore)\n  ⎿  Done (12 tool uses · 45k tokens · 1m 4s)", NULL, TRUE, FALSE },
    { "✶ Brewing… (3s · ↑ 12 tokens)\n  ⎿  ☐ one\n     ☐ two\n     ☐ three\n     ☐ four", NULL, TRUE, TRUE },
    { "Working (2h 1m 3s · 9k tokens)", NULL, TRUE, TRUE },
    { "Took (2h 1m) to build", NULL, TRUE, FALSE },
    { "(4s · ↑ 30 tokens)", NULL, TRUE, TRUE },
    { "✻ Worked for 1m 52s", NULL, TRUE, FALSE },
    { "✻ Cooked for 12s", NULL, TRUE, FALSE },
    { "✻ Welcome to Claude Code!", NULL, TRUE, FALSE },
    { "· resets 9pm", NULL, TRUE, FALSE },
    { "· /upgrade …", NULL, TRUE, FALSE },
    { "● Loading…", NULL, TRUE, FALSE },
    { "Press esc or type to cancel", NULL, TRUE, FALSE },
    /* Claude Code 2.1.332: finished turns are not busy, retries are. */
    { "✻ Worked for 25s · done 11:25 AM", NULL, TRUE, FALSE },
    { "✻ Crunched for 25s · done 11:25 AM", NULL, TRUE, FALSE },
    { "✻ Cogitated for 1m 0s", NULL, TRUE, FALSE },
    { "✻ API error · retrying in 24s · attempt 1/10", NULL, TRUE, TRUE },
    { "✻ 529 Overloaded · retrying in 7s · attempt 5/10", NULL, TRUE, TRUE },
    { "✻ Waiting for API response · will retry in 4m 15s", NULL, TRUE, TRUE },
    { "Retrying in 8 seconds… (attempt 3/10)", NULL, TRUE, FALSE },
    { NULL, "claude@vm:~$ ls\nMakefile\nclaude@vm:~$", FALSE, FALSE },
    { NULL, "✻ Thinking… (1s · esc to interrupt)\n", FALSE, TRUE },
    { NULL, "────────\n❯ \n", FALSE, FALSE },
    { NULL, "❯ \n────────\n  ? for shortcuts", FALSE, FALSE },
    { NULL, "────────\n❯ \n────────\n  ? for shortcuts", TRUE, FALSE },
    { NULL, "────────\n❯ first line of a long input\n  second line\n  third\n────────\n", TRUE, FALSE },
    { NULL, "────────\n\n❯ \n\n────────\n", TRUE, FALSE },
    { NULL, "────────\n❯ \n────────\n ⏵⏵ accept edits on · esc to interrupt", TRUE, TRUE },
    { NULL, "╭──────╮\n│ > hi │\n╰──────╯\n  ? for shortcuts", TRUE, FALSE },
    { NULL, "────────\n❯ 1. Yes\n  2. No\n────────\n", FALSE, FALSE },
    { NULL, "────────\n❯ \n────────\n" "a\n" "b\n" "c\n" "d\n" "e\n" "f\n" "g\n", FALSE, FALSE },
    { NULL, "────────\n❯ \n────────\n" "a\n" "b\n" "c\n" "d\n" "e\n" "f\n", TRUE, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = cases[i].output ? screen (cases[i].output) : g_strdup (cases[i].bare);
      g_auto(CfPaneVerdict) verdict = { 0 };

      g_test_message ("busy case %u", i);
      classify (text, &verdict);
      g_assert_cmpint (verdict.prompt, ==, cases[i].prompt);
      g_assert_cmpint (verdict.busy, ==, cases[i].busy);
      assert_snippet_well_formed (verdict.snippet);
      if (verdict.busy)
        g_assert_nonnull (verdict.snippet);
    }
}

/* A todo list longer than the busy window hides the spinner: the window is
 * bounded so that a spinner line left far up in the scrollback never counts. */
static void
test_pane_busy_window (void)
{
  g_autoptr(GString) output = g_string_new ("✻ Thinking… (12s · esc to interrupt)\n");
  g_autofree char *text = NULL;
  g_auto(CfPaneVerdict) verdict = { 0 };

  for (guint i = 0; i < 30; i++)
    g_string_append_printf (output, "● line %u of later output\n", i);
  text = screen (output->str);
  classify (text, &verdict);
  g_assert_false (verdict.busy);
}

typedef struct {
  const char *text;            /* whole pane */
  guint tail_lines;
  gboolean limit;
} TailCase;

static void
test_pane_tail (void)
{
  g_autofree char *tail_3 = NULL;
  static const TailCase cases[] = {
    { "5-hour limit reached ∙ resets 9pm\nb\nc\n", 3, TRUE },
    { "5-hour limit reached ∙ resets 9pm\nb\nc\nd\n", 3, FALSE },
    { "5-hour limit reached ∙ resets 9pm\nb\nc\nd\n", 4, TRUE },
    { "5-hour limit reached ∙ resets 9pm\nb\nc\nd\n", 0, FALSE },
    { "5-hour limit reached ∙ resets 9pm\n\n\n\nb\n\n\nc\n\n\n\n", 3, TRUE },
    { "5-hour limit reached ∙ resets 9pm\nb\n────────\nc\n", 3, TRUE },
    { "5-hour limit reached ∙ resets 9pm\nb\n✻ Thinking… (1s)\nc\n", 3, TRUE },
    { "5-hour limit reached ∙ resets 9pm\n❯ 1. Wait\n  2. Upgrade\n  3. Extra\n  4. Other\nEnter to confirm · Esc to cancel\n", 1, TRUE },
    { "5-hour limit reached ∙ resets 9pm\nWhat now?\n\n❯ 1. Wait\n  2. Upgrade\n", 1, TRUE },
    { "5-hour limit reached ∙ resets 9pm\n1. a numbered list\n2. of output\n", 1, FALSE },
    { "x\n5-hour limit reached ∙ resets 9pm\n────────\n❯ \n────────\nstatus\n", 1, TRUE },
    { "5-hour limit reached ∙ resets 9pm\n────────\n❯ \n────────\nYou've hit your limit\n", 1, TRUE },
    { "5-hour limit reached ∙ resets 9pm", 1, TRUE },
    { "5-hour limit reached ∙ resets 9pm\r\nb\r\n", 2, TRUE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(CfPaneVerdict) verdict = { 0 };

      g_test_message ("tail case %u", i);
      classify_full (cases[i].text, -1, "2026-07-15T12:00:00Z", "UTC", cases[i].tail_lines, &verdict);
      g_assert_cmpint (verdict.limit, ==, cases[i].limit);
      if (verdict.limit)
        g_assert_cmpstr (verdict.pattern, ==, "five-hour-limit");
    }

  /* Status lines under the input area are never output. */
  tail_3 = g_strconcat ("● ok\n\n", input_area, "5-hour limit reached ∙ resets 9pm\n", NULL);
  {
    g_auto(CfPaneVerdict) verdict = { 0 };

    classify (tail_3, &verdict);
    g_assert_true (verdict.prompt);
    g_assert_false (verdict.limit_match);
  }
}

/* The veto: a 5xx anywhere in the tail cancels any limit in it, both ways round. */
static void
test_pane_server_veto (void)
{
  static const char *const outputs[] = {
    "You've hit your limit · resets 9pm\nAPI Error: 500 {\"type\":\"error\",\"error\":{\"type\":\"api_error\"}}",
    "API Error: 503 Service Unavailable\nYou've hit your limit · resets 9pm",
    "You've hit your limit · resets 9pm\n  ⎿  502 Bad Gateway",
    "Rate limit exceeded\n{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (outputs); i++)
    {
      g_autofree char *text = screen (outputs[i]);
      g_auto(CfPaneVerdict) verdict = { 0 };

      classify (text, &verdict);
      g_assert_true (verdict.limit_match);
      g_assert_true (verdict.server_error);
      g_assert_false (verdict.limit);
      g_assert_nonnull (verdict.server_error_pattern);
    }
}

static void
test_pane_reset_zone_default (void)
{
  g_autofree char *text = screen ("5-hour limit reached ∙ resets 9pm");
  g_auto(CfPaneVerdict) utc = { 0 };
  g_auto(CfPaneVerdict) berlin = { 0 };
  g_autofree char *utc_reset = NULL;
  g_autofree char *berlin_reset = NULL;

  classify_full (text, -1, "2026-07-15T12:00:00Z", NULL, 0, &utc);
  classify_full (text, -1, "2026-07-15T12:00:00Z", "Europe/Berlin", 0, &berlin);
  utc_reset = format_instant (utc.reset_at);
  berlin_reset = format_instant (berlin.reset_at);
  g_assert_cmpstr (utc_reset, ==, "2026-07-15T21:00:00+00:00");
  g_assert_cmpstr (berlin_reset, ==, "2026-07-15T21:00:00+02:00");
}

/* --- resume UUID, snippet, robustness -------------------------------------------------------- */

static void
test_pane_uuid_valid (void)
{
  g_assert_true (cf_uuid_is_valid ("3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0c"));
  g_assert_true (cf_uuid_is_valid ("3F1C9A2E-7B4D-4E8A-9C21-5D6E7F8A9B0C"));
  g_assert_true (cf_uuid_is_valid ("00000000-0000-0000-0000-000000000000"));
  g_assert_false (cf_uuid_is_valid (NULL));
  g_assert_false (cf_uuid_is_valid (""));
  g_assert_false (cf_uuid_is_valid ("3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0"));
  g_assert_false (cf_uuid_is_valid ("3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0c0"));
  g_assert_false (cf_uuid_is_valid ("3f1c9a2e7b4d-4e8a-9c21-5d6e7f8a9b0c-"));
  g_assert_false (cf_uuid_is_valid ("3f1c9a2g-7b4d-4e8a-9c21-5d6e7f8a9b0c"));
  g_assert_false (cf_uuid_is_valid ("{3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0}"));
  g_assert_false (cf_uuid_is_valid ("3f1c9a2e-7b4d-4e8a-9c21 5d6e7f8a9b0c"));
}

typedef struct {
  const char *text;
  const char *uuid;
} ResumeCase;

static void
test_pane_resume_uuid (void)
{
  static const ResumeCase cases[] = {
    { "claude --resume 3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0c\n", "3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0c" },
    { "$ claude   --resume=3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0c", "3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0c" },
    { "Run: claude --resume \"3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0c\"", "3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0c" },
    { "claude --resume 3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0c\nclaude --resume a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",
      "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d" },
    { "claude --resume a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d\nclaude --resume 3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0cff",
      "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d" },
    { "claude --resume 3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0c-1", NULL },
    { "claude --resume 3f1c9a2e7b4d4e8a9c215d6e7f8a9b0c1234", NULL },
    { "claude -r 3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0c", NULL },
    { "myclaude --resume 3f1c9a2e-7b4d-4e8a-9c21-5d6e7f8a9b0c", NULL },
    { "claude --resume", NULL },
    /* The 2.1.332 hint repeats the launch flags. */
    { "Resume this session with:\nclaude --model sonnet --dangerously-skip-permissions --resume e77f7190-7555-40bd-a0ac-c4e022aa58f0\n",
      "e77f7190-7555-40bd-a0ac-c4e022aa58f0" },
    { "claude --dangerously-skip-permissions --resume=e77f7190-7555-40bd-a0ac-c4e022aa58f0",
      "e77f7190-7555-40bd-a0ac-c4e022aa58f0" },
    { "claude --model sonnet | --resume e77f7190-7555-40bd-a0ac-c4e022aa58f0", NULL },
    { "claude --model sonnet\n--resume e77f7190-7555-40bd-a0ac-c4e022aa58f0", NULL },
    { "", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(CfPaneVerdict) verdict = { 0 };

      classify (cases[i].text, &verdict);
      g_assert_cmpstr (verdict.resume_uuid, ==, cases[i].uuid);
    }
}

static void
test_pane_snippet_utf8 (void)
{
  /* Every alignment of 3-byte characters against the cut. */
  for (guint pad = 0; pad < 4; pad++)
    for (guint chars = 30; chars < 60; chars++)
      {
        g_autoptr(GString) line = g_string_new ("You've hit your limit · resets 9pm ");
        g_autofree char *text = NULL;
        g_auto(CfPaneVerdict) verdict = { 0 };

        for (guint p = 0; p < pad; p++)
          g_string_append_c (line, 'x');
        for (guint c = 0; c < chars; c++)
          g_string_append (line, "∙");
        text = screen (line->str);
        classify (text, &verdict);
        g_assert_true (verdict.limit);
        assert_snippet_well_formed (verdict.snippet);
        if (line->len > CF_PANE_SNIPPET_MAX)
          g_assert_true (g_str_has_suffix (verdict.snippet, "…"));
        else
          g_assert_cmpstr (verdict.snippet, ==, line->str);
      }
}

static void
test_pane_robustness (void)
{
  static const char invalid_utf8[] = "You've hit your limit \xff\xfe resets 9pm\n\xc3\n\xe2\x9d";
  static const char with_nul[] = "You've hit\0 your limit · resets 9pm\n5-hour limit reached\0";
  g_autofree char *long_line = g_strnfill (100000, 'a');
  g_autofree char *many_lines = NULL;
  CfPaneContext context = { 0 };
  CfPaneVerdict verdict = { 0 };

  cf_pane_classify (NULL, 0, &context, &verdict);
  g_assert_false (verdict.prompt || verdict.busy || verdict.limit_match);
  cf_pane_verdict_clear (&verdict);

  cf_pane_classify ("", 0, &context, &verdict);
  g_assert_false (verdict.prompt);
  cf_pane_verdict_clear (&verdict);

  /* LENGTH bounds the text: the limit line past it is not read. */
  cf_pane_classify ("ok\nYou've hit your limit", 3, &context, &verdict);
  g_assert_false (verdict.limit_match);
  cf_pane_verdict_clear (&verdict);

  cf_pane_classify (invalid_utf8, sizeof invalid_utf8 - 1, &context, &verdict);
  g_assert_true (verdict.limit);
  g_assert_nonnull (verdict.reset_at);
  assert_snippet_well_formed (verdict.snippet);
  cf_pane_verdict_clear (&verdict);

  cf_pane_classify (with_nul, sizeof with_nul - 1, &context, &verdict);
  g_assert_true (verdict.limit);
  g_assert_cmpstr (verdict.pattern, ==, "five-hour-limit");
  cf_pane_verdict_clear (&verdict);

  cf_pane_classify (long_line, strlen (long_line), &context, &verdict);
  g_assert_false (verdict.limit_match);
  cf_pane_verdict_clear (&verdict);

  many_lines = g_strjoinv ("\n", (char *[]) { "✻ Thinking…", "\x1b[2J\x1b[H", "\x1b]0;title\a", "\x1b", NULL });
  cf_pane_classify (many_lines, strlen (many_lines), &context, &verdict);
  g_assert_true (verdict.busy);
  cf_pane_verdict_clear (&verdict);
  cf_pane_verdict_clear (&verdict);

  /* Clearing then reusing: classify overwrites every field. */
  verdict.busy = TRUE;
  verdict.pattern = "stale";
  cf_pane_classify ("idle", (gsize) -1, &context, &verdict);
  g_assert_false (verdict.busy);
  g_assert_null (verdict.pattern);
  cf_pane_verdict_clear (&verdict);
}

/* --- pattern table v2: the real CLI's screens ----------------------------------------- */

#define RULE "────────────────────────────────────────"
#define BOX_EMPTY RULE "\n❯ \n" RULE "\n  ⏵⏵ bypass permissions on (shift+tab to cycle)\n"
#define OLD_FRAME \
  "❯ Do a slow task\n✢ Philosophizing… (12s · ↓ 19 tokens)\n" RULE "\n❯ /exit\n" RULE "\n" \
  "  ⏵⏵ bypass permissions on (shift+tab to cycle) · esc to interrupt\n"
#define HINT "Resume this session with:\nclaude --model sonnet --dangerously-skip-permissions " \
  "--resume e77f7190-7555-40bd-a0ac-c4e022aa58f0\n"
#define BANNER " ▐▛███▛█   Claude Code v2.1.332\n▝▜██████▀  Sonnet 5.5 · Claude Max\n"

typedef struct {
  const char *what;
  const char *text;
  gboolean prompt;
  gboolean busy;
  gboolean ready;
  gboolean exited;
  CfPaneDialog dialog;
  gboolean needs_input;
} ReadyCase;

static void
test_pane_ready (void)
{
  static const ReadyCase cases[] = {
    { "fresh box", BANNER BOX_EMPTY, TRUE, FALSE, TRUE, FALSE, CF_PANE_DIALOG_NONE, FALSE },
    { "placeholder", "● API Error: 500 Internal server error.\n" RULE "\n❯ Resend your message to try again\n" RULE "\n",
      TRUE, FALSE, TRUE, FALSE, CF_PANE_DIALOG_NONE, FALSE },
    { "typed text", RULE "\n❯ fix the bug\n" RULE "\n", TRUE, FALSE, FALSE, FALSE, CF_PANE_DIALOG_NONE, FALSE },
    { "placeholder after an auth error", RULE "\n❯ Once fixed, resend your message\n" RULE "\n",
      TRUE, FALSE, TRUE, FALSE, CF_PANE_DIALOG_NONE, FALSE },
    { "pasted text", RULE "\n❯ [Pasted text #1 +5 lines]\n" RULE "\n", TRUE, FALSE, FALSE, FALSE, CF_PANE_DIALOG_NONE, FALSE },
    { "second input line", RULE "\n❯ \n  more\n" RULE "\n", TRUE, FALSE, FALSE, FALSE, CF_PANE_DIALOG_NONE, FALSE },
    { "working", "✢ Philosophizing… (12s · ↓ 19 tokens)\n" BOX_EMPTY, TRUE, TRUE, FALSE, FALSE, CF_PANE_DIALOG_NONE, FALSE },
    { "finished turn", "● Done.\n✻ Worked for 25s · done 11:25 AM\n" BOX_EMPTY, TRUE, FALSE, TRUE, FALSE, CF_PANE_DIALOG_NONE, FALSE },
    /* Issue 14 item 7: the old frame above the hint and the shell. */
    { "old frame, hint, shell", OLD_FRAME HINT "bash-5.2# ", FALSE, FALSE, FALSE, TRUE, CF_PANE_DIALOG_NONE, FALSE },
    { "old frame, hint", OLD_FRAME HINT, FALSE, FALSE, FALSE, TRUE, CF_PANE_DIALOG_NONE, FALSE },
    { "old frame, shell", OLD_FRAME "claude@vm:~/projects/web$", FALSE, FALSE, FALSE, TRUE, CF_PANE_DIALOG_NONE, FALSE },
    { "old frame, zsh", OLD_FRAME "me@host ~ %", FALSE, FALSE, FALSE, TRUE, CF_PANE_DIALOG_NONE, FALSE },
    { "old frame, dead pane", OLD_FRAME "\nPane is dead (status 0, Sun Dec  6 13:20:00 2026)\n", FALSE, FALSE, FALSE, TRUE,
      CF_PANE_DIALOG_NONE, FALSE },
    { "statusline ending in %", "● Done.\n" RULE "\n❯ \n" RULE "\n  5h: 92%\n", TRUE, FALSE, TRUE, FALSE,
      CF_PANE_DIALOG_NONE, FALSE },
    { "new Claude after the exit", OLD_FRAME HINT "bash-5.2# claude --resume e77f7190-7555-40bd-a0ac-c4e022aa58f0\n" BANNER BOX_EMPTY,
      TRUE, FALSE, TRUE, FALSE, CF_PANE_DIALOG_NONE, FALSE },
    { "new Claude's trust dialog after the exit",
      OLD_FRAME HINT "bash-5.2# claude\n" RULE "\n Accessing workspace:\n\n /w\n\n Quick safety check: Is this a project you "
      "created or one you trust? (Like your own code)\n\n ❯ No, exit\n   Yes, I trust this folder\n\n Enter to confirm · Esc to cancel\n",
      FALSE, FALSE, FALSE, FALSE, CF_PANE_DIALOG_TRUST, FALSE },
    { "a shell where Claude never ran", "claude@vm:~$ ls\nMakefile\nclaude@vm:~$", FALSE, FALSE, FALSE, FALSE,
      CF_PANE_DIALOG_NONE, FALSE },
    { "permission", "● Bash(touch x)\n  ⎿  Waiting…\n" RULE "\n Bash command\n\n Do you want to proceed?\n ❯ 1. Yes\n   2. No\n\n"
      " Esc to cancel · Tab to amend\n", FALSE, FALSE, FALSE, FALSE, CF_PANE_DIALOG_PERMISSION, TRUE },
    { "prose asking, box live", "● Do you want to proceed?\n" BOX_EMPTY, TRUE, FALSE, TRUE, FALSE, CF_PANE_DIALOG_NONE, FALSE },
    { "question without a menu", "● Bash(x)\n" RULE "\n Do you want to proceed?\n", FALSE, FALSE, FALSE, FALSE,
      CF_PANE_DIALOG_NONE, FALSE },
    { "unknown menu", "● Pick one\n" RULE "\n Which flavour?\n ❯ 1. Vanilla\n   2. Chocolate\n", FALSE, FALSE, FALSE, FALSE,
      CF_PANE_DIALOG_UNKNOWN_MENU, TRUE },
    { "stale refusal, then a menu", "No conversation found with session ID: e77f7190-7555-40bd-a0ac-c4e022aa58f0\n"
      "bash-5.2# claude\n" BANNER " Which flavour?\n ❯ 1. Vanilla\n   2. Chocolate\n", FALSE, FALSE, FALSE, FALSE,
      CF_PANE_DIALOG_UNKNOWN_MENU, TRUE },
    { "limit menu", "  ⎿  You've hit your weekly limit · resets Dec 9, 2:37pm (Europe/Berlin)\n❯ /rate-limit-options\n" RULE
      "\n  What do you want to do?\n  ❯ 1. Stop and wait for limit to reset\n    2. Wait here, then continue automatically at "
      "Dec 9, 2:37pm\n    3. Upgrade your plan\n", FALSE, FALSE, FALSE, FALSE, CF_PANE_DIALOG_LIMIT_MENU, TRUE },
    { "bypass warning", RULE "\n  WARNING: Claude Code running in Bypass Permissions mode\n  ❯ No, exit\n    Yes, I accept\n",
      FALSE, FALSE, FALSE, FALSE, CF_PANE_DIALOG_BYPASS_WARNING, FALSE },
    { "api key", "Detected a custom API key in your environment\n❯ No (recommended)\n  Yes\n", FALSE, FALSE, FALSE, FALSE,
      CF_PANE_DIALOG_API_KEY, FALSE },
    { "onboarding", "Unable to connect to Anthropic services\nFailed to connect to api.anthropic.com: ERR_BAD_REQUEST\n$ ",
      FALSE, FALSE, FALSE, TRUE, CF_PANE_DIALOG_ONBOARDING_FAILED, FALSE },
    { "login", "Select login method:\n❯ 1. Claude account with subscription\n  2. Anthropic Console account\n", FALSE, FALSE,
      FALSE, FALSE, CF_PANE_DIALOG_LOGIN, FALSE },
    { "dialog in old history, live box", "Quick safety check: Is this a project you created or one you trust?\n" BANNER BOX_EMPTY,
      TRUE, FALSE, TRUE, FALSE, CF_PANE_DIALOG_NONE, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(CfPaneVerdict) verdict = { 0 };

      g_test_message ("ready case: %s", cases[i].what);
      classify (cases[i].text, &verdict);
      g_assert_cmpint (verdict.prompt, ==, cases[i].prompt);
      g_assert_cmpint (verdict.busy, ==, cases[i].busy);
      g_assert_cmpint (verdict.ready, ==, cases[i].ready);
      g_assert_cmpint (verdict.exited, ==, cases[i].exited);
      g_assert_cmpstr (cf_pane_dialog_to_string (verdict.dialog_kind), ==, cf_pane_dialog_to_string (cases[i].dialog));
      g_assert_cmpint (verdict.needs_input, ==, cases[i].needs_input);
      g_assert_true ((verdict.dialog != NULL) == (cases[i].dialog != CF_PANE_DIALOG_NONE));
      g_assert_cmpint (verdict.resume_failed, ==, FALSE);
      if (cases[i].dialog == CF_PANE_DIALOG_LIMIT_MENU)
        g_assert_true (verdict.limit);
      assert_snippet_well_formed (verdict.dialog);
    }
}

typedef struct {
  const char *output;
  const char *footer;
  const char *auto_continue;
  gboolean limit;
  gboolean throttle;
  gboolean warning;
  const char *reset_at;        /* now 2026-07-15T12:00:00Z, local zone UTC */
} SignalCase;

static void
test_pane_limit_signals (void)
{
  static const SignalCase cases[] = {
    /* A zone in parentheses beats a zoneless time, in either order. */
    { "  ⎿  You've hit your 5-hour limit · resets 4:23pm (Europe/Berlin)\n● Usage limit reached · set to continue automatically at 4:23pm",
      "  ⚠ Usage limit reached · limit resets 4:23pm\n    Continuing automatically at 4:23pm · Esc to cancel",
      "armed", TRUE, FALSE, FALSE, "2026-07-15T16:23:00+02:00" },
    { "● Usage limit reached · set to continue automatically at 4:23pm", NULL, "armed", TRUE, FALSE, FALSE,
      "2026-07-15T16:23:00+00:00" },
    { "  ⎿  You've hit your 5-hour limit · resets 4:23pm (Europe/Berlin)\n     /upgrade to increase your usage limit.\n"
      "● Usage limit reached · set to continue automatically at 4:23pm\n● Automatic continue cancelled · /rate-limit-options to wait again",
      "  ⏵⏵ bypass permissions on (shift+tab to cycle)                    automatic continue cancelled",
      "cancelled", TRUE, FALSE, FALSE, "2026-07-15T16:23:00+02:00" },
    /* An older turn's zone does not leak into this one. */
    { "  ⎿  You've hit your 5-hour limit · resets 4:23pm (Europe/Berlin)\n❯ go on\n● Usage limit reached · set to continue automatically at 9pm",
      NULL, "armed", TRUE, FALSE, FALSE, "2026-07-15T21:00:00+00:00" },
    { "● Usage limit reached · set to continue automatically at 2:25pm\n● Usage limit reset · Continuing automatically\n● Done.",
      NULL, "fired", TRUE, FALSE, FALSE, "2026-07-15T14:25:00+00:00" },
    { "❯ Your claude.ai usage limit has reset. Continue the task you were working on when the limit was reached; do not repeat work that is already complete.\n● Done.",
      NULL, "fired", FALSE, FALSE, FALSE, NULL },
    /* Throttles are not limits. */
    { "● API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited", NULL, NULL, FALSE, TRUE,
      FALSE, NULL },
    { "● API Error: Request rejected (429) · Rate limited", NULL, NULL, FALSE, TRUE, FALSE, NULL },
    /* Footer warnings are warnings, never limits. */
    { "● Done.",
      "  ⏵⏵ bypass permissions on (shift+tab to cycle)      You've used 92% of your 5-hour limit · resets 1:04pm (UTC) · /upgrade to keep using Claude Code",
      NULL, FALSE, FALSE, TRUE, NULL },
    { "● Done.", "  You've hit your 5-hour limit · resets 1:04pm (UTC)", NULL, FALSE, FALSE, FALSE, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strconcat (cases[i].output, "\n", RULE "\n❯ \n" RULE "\n",
                                           cases[i].footer ? cases[i].footer : "", "\n", NULL);
      g_auto(CfPaneVerdict) verdict = { 0 };
      g_autofree char *reset = NULL;

      g_test_message ("signal case %u", i);
      classify_full (text, -1, "2026-07-15T12:00:00Z", "UTC", 0, &verdict);
      reset = format_instant (verdict.reset_at);
      g_assert_cmpstr (verdict.auto_continue, ==, cases[i].auto_continue);
      g_assert_cmpint (verdict.limit, ==, cases[i].limit);
      g_assert_cmpint (verdict.throttle, ==, cases[i].throttle);
      g_assert_cmpint (verdict.warning, ==, cases[i].warning);
      g_assert_cmpstr (reset, ==, cases[i].reset_at);
      g_assert_true (verdict.prompt);
      assert_snippet_well_formed (verdict.snippet);
      if (verdict.throttle || verdict.warning)
        g_assert_nonnull (verdict.snippet);
    }
}

static void
test_pane_dialog_fix (void)
{
  g_assert_null (cf_pane_dialog_fix (CF_PANE_DIALOG_NONE));
  g_assert_cmpstr (cf_pane_dialog_to_string (CF_PANE_DIALOG_NONE), ==, "none");
  for (guint d = CF_PANE_DIALOG_TRUST; d <= CF_PANE_DIALOG_UNKNOWN_MENU; d++)
    {
      const char *fix = cf_pane_dialog_fix (d);

      g_assert_nonnull (fix);
      g_assert_null (strchr (fix, '\n'));
      g_assert_cmpstr (cf_pane_dialog_to_string (d), !=, "unknown");
    }
  g_assert_nonnull (strstr (cf_pane_dialog_fix (CF_PANE_DIALOG_ROOT_REFUSED), "IS_SANDBOX=1"));
  g_assert_nonnull (strstr (cf_pane_dialog_fix (CF_PANE_DIALOG_TRUST), "prepare_accounts"));
  g_assert_nonnull (strstr (cf_pane_dialog_fix (CF_PANE_DIALOG_NO_CONVERSATION), "projects"));
}

/* A failed resume names itself: resume_failed, the dialog, and the exit. */
static void
test_pane_resume_failed (void)
{
  static const char text[] =
    "bash-5.2# claude --model sonnet --resume e77f7190-7555-40bd-a0ac-c4e022aa58f0\n"
    "No conversation found with session ID: e77f7190-7555-40bd-a0ac-c4e022aa58f0\n"
    "bash-5.2# ";
  g_auto(CfPaneVerdict) verdict = { 0 };

  classify (text, &verdict);
  g_assert_true (verdict.resume_failed);
  g_assert_true (verdict.exited);
  g_assert_cmpint (verdict.dialog_kind, ==, CF_PANE_DIALOG_NO_CONVERSATION);
  g_assert_cmpstr (verdict.dialog, ==, "No conversation found with session ID: e77f7190-7555-40bd-a0ac-c4e022aa58f0");
  g_assert_false (verdict.ready);
  g_assert_false (verdict.needs_input);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pane/fixtures", test_pane_fixtures);
  g_test_add_func ("/pane/fixtures-all-listed", test_pane_fixtures_all_listed);
  g_test_add_func ("/pane/patterns/table", test_pane_patterns_table);
  g_test_add_func ("/pane/patterns/examples", test_pane_patterns_examples);
  g_test_add_func ("/pane/patterns/version", test_pane_patterns_version);
  g_test_add_func ("/pane/patterns/captured", test_pane_patterns_captured);
  g_test_add_func ("/pane/busy", test_pane_busy);
  g_test_add_func ("/pane/busy-window", test_pane_busy_window);
  g_test_add_func ("/pane/tail", test_pane_tail);
  g_test_add_func ("/pane/server-veto", test_pane_server_veto);
  g_test_add_func ("/pane/reset-zone-default", test_pane_reset_zone_default);
  g_test_add_func ("/pane/uuid-valid", test_pane_uuid_valid);
  g_test_add_func ("/pane/resume-uuid", test_pane_resume_uuid);
  g_test_add_func ("/pane/snippet-utf8", test_pane_snippet_utf8);
  g_test_add_func ("/pane/robustness", test_pane_robustness);
  g_test_add_func ("/pane/ready", test_pane_ready);
  g_test_add_func ("/pane/limit-signals", test_pane_limit_signals);
  g_test_add_func ("/pane/dialog-fix", test_pane_dialog_fix);
  g_test_add_func ("/pane/resume-failed", test_pane_resume_failed);
  return g_test_run ();
}
