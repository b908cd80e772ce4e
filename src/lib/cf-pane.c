/* SPDX-License-Identifier: MIT */
#include "cf-pane.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-reset-time.h"

/* The pattern table.  Every phrasing Claude Code has used for an exhausted,
 * nearly exhausted or failing account is a row; ARCHITECTURE.md 5 lists them
 * and tests/fixtures/panes holds one capture per phrasing.  Change a row →
 * bump CF_PANE_PATTERNS_VERSION. */

#define CF_EXAMPLES(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define CF_ROW(row_id, row_kind, row_regex, first_example, ...)                  \
  { .id = row_id, .kind = row_kind, .regex = row_regex, .example = first_example, \
    .examples = CF_EXAMPLES (first_example, ##__VA_ARGS__) }

/* Claude Code starts its own messages at the line start, after a transcript
 * marker; anchoring there keeps Claude's prose ("the text \"5-hour limit
 * reached\" means…") from counting as a limit. */
#define LEAD "^\\s*(?:[⎿●⏺•✗✘⚠]\\s*)?(?:error:\\s*)?"
/* "You've", "You’ve" (Claude Code uses both apostrophes) and "You have". */
#define YOU_HAVE "(?:you(?:'|’)?ve|you have)"
#define YOU_ARE "(?:you(?:'|’)?re|you are)"

static const CfPanePatternInfo pattern_table[] = {
  /* Limits.  Specific phrasings first so that the reported id is precise;
   * the generic row last. */
  CF_ROW ("claude-ai-epoch", CF_PANE_PATTERN_LIMIT,
          LEAD "claude(?: ai)? usage limit reached\\s*\\|\\s*\\d{9,13}",
          "Claude AI usage limit reached|1760004000"),
  CF_ROW ("claude-usage-reset-at", CF_PANE_PATTERN_LIMIT,
          LEAD "claude(?: ai)? usage limit reached\\b",
          "Claude usage limit reached. Your limit will reset at 9am (America/Chicago).",
          "Claude AI usage limit reached. Your limit will reset at 5pm."),
  CF_ROW ("auto-continue", CF_PANE_PATTERN_LIMIT,
          LEAD "(?:usage limit reached\\W+continuing automatically\\b"
          "|continuing automatically at\\s*\\d)",
          "Usage limit reached · continuing automatically at 7pm · esc or type to cancel"),
  CF_ROW ("five-hour-limit", CF_PANE_PATTERN_LIMIT,
          LEAD "5[- ]?hour limit reached\\b",
          "5-hour limit reached ∙ resets 9pm",
          "5-hour limit reached · resets 2pm (Pacific/Auckland) · /upgrade to Max or turn on /extra-usage"),
  CF_ROW ("weekly-limit", CF_PANE_PATTERN_LIMIT,
          LEAD "(?:opus |sonnet )?weekly limit reached\\b",
          "Weekly limit reached · resets 10am (Asia/Seoul)",
          "Opus weekly limit reached · resets Jul 31, 2am"),
  CF_ROW ("hit-session-limit", CF_PANE_PATTERN_LIMIT,
          LEAD YOU_HAVE " hit your session limit\\b",
          "You've hit your session limit · resets 8pm (America/New_York)"),
  CF_ROW ("hit-weekly-limit", CF_PANE_PATTERN_LIMIT,
          LEAD YOU_HAVE " hit your (?:[\\w-]+ )?weekly limit\\b",
          "You've hit your weekly limit · resets Jul 31, 2am (UTC)",
          "You’ve hit your Opus weekly limit · resets Aug 4, 9am"),
  CF_ROW ("hit-your-limit", CF_PANE_PATTERN_LIMIT,
          LEAD YOU_HAVE " hit your (?:[\\w-]+ )?limit\\b",
          "You've hit your limit · resets 11:30pm (Europe/Berlin)",
          "You've hit your limit · resets Feb 17 at 2pm (Asia/Seoul)"),
  CF_ROW ("extra-usage-exhausted", CF_PANE_PATTERN_LIMIT,
          LEAD YOU_ARE " out of extra usage\\b",
          "You're out of extra usage · resets 4pm (America/Los_Angeles)"),
  CF_ROW ("rate-limit-error", CF_PANE_PATTERN_LIMIT,
          LEAD "(?:api error:?\\s*\\(?\\d{3}\\)?:?\\s*\\{.*\\brate_limit_error\\b"
          "|api error:?\\s*\\(?429\\b|\\{.*\"rate_limit_error\")",
          "API Error: 429 {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"This request would exceed your account's rate limit.\"}}"),
  CF_ROW ("usage-limit-reached", CF_PANE_PATTERN_LIMIT,
          LEAD "(?:(?:usage|rate) limit (?:reached|exceeded)\\b"
          "|" YOU_HAVE " reached your (?:[\\w-]+ )?(?:usage )?limit\\b)",
          "Usage limit reached",
          "Rate limit exceeded",
          "You have reached your usage limit."),

  /* Warnings: a reset time is shown, but work goes on. */
  CF_ROW ("warning-approaching", CF_PANE_PATTERN_WARNING,
          LEAD "approaching (?:your )?(?:[\\w-]+ )?(?:usage )?limit\\b",
          "Approaching usage limit · resets at 3pm",
          "Approaching weekly limit",
          "Approaching Opus usage limit · resets 5pm"),
  CF_ROW ("warning-used-percent", CF_PANE_PATTERN_WARNING,
          LEAD YOU_HAVE " used \\d{1,3}% of your\\b",
          "You've used 98% of your weekly limit · resets Jul 31, 2am (UTC)",
          "You’ve used 90% of your session limit · resets 9pm"),

  /* Server errors stay in the transcript and quote rate limits: they veto. */
  CF_ROW ("server-api-error-5xx", CF_PANE_PATTERN_SERVER_ERROR,
          "\\bapi error:?\\s*\\(?5\\d\\d\\b",
          "API Error: 500 {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error\"}}",
          "API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
          "API Error (503): upstream connect error"),
  CF_ROW ("server-api-error-type", CF_PANE_PATTERN_SERVER_ERROR,
          "\"type\"\\s*:\\s*\"api_error\"",
          "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"rate limit service unavailable\"}}"),
  CF_ROW ("server-overloaded", CF_PANE_PATTERN_SERVER_ERROR,
          "\\boverloaded_error\\b",
          "{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}"),
  CF_ROW ("server-internal-error", CF_PANE_PATTERN_SERVER_ERROR,
          "\\binternal server error\\b",
          "Internal server error"),
  CF_ROW ("server-http-5xx", CF_PANE_PATTERN_SERVER_ERROR,
          "\\b(?:50[0234]|529)\\s+(?:bad gateway|service unavailable|gateway timeout|overloaded)\\b"
          "|\\b(?:bad gateway|service unavailable|gateway timeout)\\b",
          "502 Bad Gateway",
          "503 Service Unavailable",
          "529 Overloaded"),
};

/* Spinner glyphs Claude Code has cycled through (· ✢ ✳ ✶ ✻ ✽ and the
 * Windows/Ghostty variants), plus the Braille frames of older releases.
 * A glyph alone is not enough: "✻ Worked for 1m 52s" and "✻ Welcome to
 * Claude Code!" stay on screen when idle; a live spinner's verb ends in "…". */
#define SPINNER_GLYPHS "·✢✳✶✻✽∗*✱✲✴✵✷✸✹✺✼❋✦✧\\x{2800}-\\x{28FF}"

static const char spinner_source[] =
  "^\\s*[" SPINNER_GLYPHS "]\\s+\\p{L}[^…]{0,80}?(?:…|\\.\\.\\.)";
static const char interrupt_source[] = "\\besc to interrupt\\b";
static const char elapsed_source[] = "\\((?:\\d+h\\s*)?(?:\\d+m\\s*)?\\d+s\\s*·";
/* "❯ 1. Stop and wait for limit to reset": a selection menu, not the input. */
static const char menu_cursor_source[] = "^\\s*❯\\s*\\d{1,2}[.)]\\s";
static const char menu_option_source[] = "^\\s*\\d{1,2}[.)]\\s+\\S";
static const char resume_source[] =
  "\\bclaude\\s+--resume(?:=|\\s+)[\"']?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
  "-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?![0-9A-Fa-f-])";

/* How far above the input area a spinner is looked for: a todo list may
 * hang under the spinner line. */
#define CF_PANE_BUSY_WINDOW 12
/* Status lines under the input area (mode, hints, diff stats). */
#define CF_PANE_MAX_STATUS_LINES 6
/* A long multi-line input still sits between the two rules. */
#define CF_PANE_MAX_INPUT_LINES 40

typedef struct {
  GRegex *patterns[G_N_ELEMENTS (pattern_table)];
  GRegex *spinner;
  GRegex *interrupt;
  GRegex *elapsed;
  GRegex *menu_cursor;
  GRegex *menu_option;
  GRegex *resume;
} CfPaneRegexes;

static GRegex *
compile (const char *source)
{
  g_autoptr(GError) error = NULL;
  GRegex *regex = g_regex_new (source, G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, &error);

  /* The sources are constants checked by the unit tests. */
  if (regex == NULL)
    g_error ("pane pattern /%s/: %s", source, error->message);
  return regex;
}

/* Compiled once per process and never freed, like the table they come from. */
static const CfPaneRegexes *
regexes (void)
{
  static CfPaneRegexes compiled;
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised))
    {
      for (guint i = 0; i < G_N_ELEMENTS (pattern_table); i++)
        compiled.patterns[i] = compile (pattern_table[i].regex);
      compiled.spinner = compile (spinner_source);
      compiled.interrupt = compile (interrupt_source);
      compiled.elapsed = compile (elapsed_source);
      compiled.menu_cursor = compile (menu_cursor_source);
      compiled.menu_option = compile (menu_option_source);
      compiled.resume = compile (resume_source);
      g_once_init_leave (&initialised, 1);
    }
  return &compiled;
}

const CfPanePatternInfo *
cf_pane_patterns (guint *n_patterns)
{
  if (n_patterns != NULL)
    *n_patterns = G_N_ELEMENTS (pattern_table);
  return pattern_table;
}

const char *
cf_pane_pattern_kind_to_string (CfPanePatternKind kind)
{
  switch (kind)
    {
    case CF_PANE_PATTERN_LIMIT:
      return "limit";
    case CF_PANE_PATTERN_WARNING:
      return "warning";
    case CF_PANE_PATTERN_SERVER_ERROR:
      return "server-error";
    default:
      return "unknown";
    }
}

gboolean
cf_uuid_is_valid (const char *text)
{
  if (text == NULL)
    return FALSE;
  for (guint i = 0; i < 36; i++)
    {
      gboolean dash_position = i == 8 || i == 13 || i == 18 || i == 23;

      if (dash_position ? text[i] != '-' : !g_ascii_isxdigit (text[i]))
        return FALSE;
    }
  return text[36] == '\0';
}

void
cf_pane_verdict_clear (CfPaneVerdict *verdict)
{
  g_clear_pointer (&verdict->reset_at, g_date_time_unref);
  g_clear_pointer (&verdict->resume_uuid, g_free);
  g_clear_pointer (&verdict->snippet, g_free);
  g_clear_pointer (&verdict->dialog, g_free);
  memset (verdict, 0, sizeof *verdict);
}

/* Drops terminal escape sequences (a capture taken with -e, or raw output)
 * and control bytes, keeps newlines, then repairs UTF-8.  Escape sequences
 * are ASCII, so removing them never splits a multi-byte character. */
static char *
clean_text (const char *text, gsize length)
{
  g_autoptr(GString) out = g_string_sized_new (length + 1);
  gsize i = 0;

  while (i < length)
    {
      guchar c = text[i];

      if (c == 0x1B)
        {
          i++;
          if (i < length && text[i] == '[')
            {
              i++;
              while (i < length && (guchar) text[i] >= 0x20 && (guchar) text[i] <= 0x3F)
                i++;
              if (i < length && (guchar) text[i] >= 0x40 && (guchar) text[i] <= 0x7E)
                i++;
            }
          else if (i < length && text[i] == ']')
            {
              /* OSC: up to BEL or ST (ESC \); a lost terminator must not
               * swallow the rest of the pane, so a newline ends it too. */
              while (i < length && text[i] != '\a' && text[i] != 0x1B && text[i] != '\n')
                i++;
              if (i < length && text[i] == '\a')
                i++;
              else if (i + 1 < length && text[i] == 0x1B && text[i + 1] == '\\')
                i += 2;
            }
          else if (i < length && (guchar) text[i] >= 0x20 && (guchar) text[i] <= 0x7E)
            i++;
          continue;
        }
      if (c == '\r')
        {
          if (i + 1 >= length || text[i + 1] != '\n')
            g_string_append_c (out, '\n');
        }
      else if (c == '\t')
        g_string_append_c (out, ' ');
      else if (c == '\n' || c >= 0x20)
        {
          if (c != 0x7F)
            g_string_append_c (out, c);
        }
      i++;
    }

  return g_utf8_make_valid (out->str, out->len);
}

typedef enum {
  LINE_BLANK = 1 << 0,
  LINE_RULE = 1 << 1,
  LINE_MENU = 1 << 2,          /* a selection menu or its key hints */
  LINE_SPINNER = 1 << 3,
} LineFlags;

typedef struct {
  char **lines;                /* owned by the cleaned text: split in place */
  guint *flags;
  guint n;
  /* The input area is [input_start, n); output lies above it. */
  guint input_start;
  gboolean prompt;
  guint status_start;          /* first line under the input area's closing rule */
} CfPaneScreen;

static gboolean
is_space_char (gunichar c)
{
  return g_unichar_isspace (c) || c == 0x00A0 || c == 0x202F;
}

static const char *
skip_leading_space (const char *line)
{
  while (*line != '\0' && is_space_char (g_utf8_get_char (line)))
    line = g_utf8_next_char (line);
  return line;
}

static gboolean
is_rule_char (gunichar c)
{
  return c == 0x2500 /* ─ */ || c == 0x2501 /* ━ */ || c == 0x2550 /* ═ */
         || c == 0x254C /* ╌ */ || c == 0x2504 /* ┄ */;
}

/* "────────", "╭────╮", "╰────╯", and rules carrying a label after a run
 * of at least four horizontals ("──── plan mode ──"). */
static gboolean
is_rule (const char *line)
{
  const char *p = skip_leading_space (line);
  gunichar c = g_utf8_get_char (p);
  guint run = 0;

  if (c == 0x256D /* ╭ */ || c == 0x2570 /* ╰ */ || c == 0x250C /* ┌ */
      || c == 0x2514 /* └ */ || c == 0x251C /* ├ */)
    p = g_utf8_next_char (p);
  while (*p != '\0' && is_rule_char (g_utf8_get_char (p)))
    {
      run++;
      p = g_utf8_next_char (p);
    }
  return run >= 4;
}

/* "❯ …" in Claude Code 2.x, "│ > …" inside the 1.x input box. */
static gboolean
is_prompt (const CfPaneRegexes *re, const char *line)
{
  const char *p = skip_leading_space (line);

  if (g_utf8_get_char (p) == 0x2502 /* │ */)
    p = skip_leading_space (g_utf8_next_char (p));
  if (g_utf8_get_char (p) != 0x276F /* ❯ */ && *p != '>')
    return FALSE;
  return !g_regex_match (re->menu_cursor, p, 0, NULL);
}

static gboolean
is_menu_hint (const char *line)
{
  const char *p = skip_leading_space (line);

  return g_ascii_strncasecmp (p, "Enter to confirm", 16) == 0
         || g_ascii_strncasecmp (p, "Esc to cancel", 13) == 0
         || g_ascii_strncasecmp (p, "Enter to select", 15) == 0;
}

static void
mark_lines (const CfPaneRegexes *re, CfPaneScreen *screen)
{
  for (guint i = 0; i < screen->n; i++)
    {
      const char *line = screen->lines[i];

      if (*skip_leading_space (line) == '\0')
        screen->flags[i] |= LINE_BLANK;
      else if (is_rule (line))
        screen->flags[i] |= LINE_RULE;
      else if (g_regex_match (re->spinner, line, 0, NULL))
        screen->flags[i] |= LINE_SPINNER;
      if (is_menu_hint (line))
        screen->flags[i] |= LINE_MENU;
    }

  /* A menu is the cursor line, the numbered options touching it, and the
   * question it answers ("What do you want to do?"). */
  for (guint i = 0; i < screen->n; i++)
    {
      guint top = i;

      if (!g_regex_match (re->menu_cursor, screen->lines[i], 0, NULL))
        continue;
      screen->flags[i] |= LINE_MENU;
      for (; top > 0 && g_regex_match (re->menu_option, screen->lines[top - 1], 0, NULL); top--)
        screen->flags[top - 1] |= LINE_MENU;
      for (guint j = i + 1; j < screen->n && g_regex_match (re->menu_option, screen->lines[j], 0, NULL); j++)
        screen->flags[j] |= LINE_MENU;
      while (top > 0 && (screen->flags[top - 1] & LINE_BLANK))
        top--;
      if (top > 0 && g_str_has_suffix (screen->lines[top - 1], "?"))
        screen->flags[top - 1] |= LINE_MENU;
    }
}

/* Finds the bottom input area: a rule, the prompt line first under it, more
 * input lines, a closing rule, then a few status lines.  The ❯ of a menu or
 * of an echoed user message is never bracketed that way. */
static void
find_input_area (const CfPaneRegexes *re, CfPaneScreen *screen)
{
  guint seen = 0;

  screen->input_start = screen->n;
  screen->status_start = screen->n;
  screen->prompt = FALSE;

  for (guint close = screen->n; close > 0 && seen <= CF_PANE_MAX_STATUS_LINES; close--)
    {
      guint c = close - 1;

      if (screen->flags[c] & LINE_BLANK)
        continue;
      seen++;
      if (!(screen->flags[c] & LINE_RULE))
        continue;

      for (guint open = c; open > 0 && c - open < CF_PANE_MAX_INPUT_LINES; open--)
        {
          guint o = open - 1;
          guint first = o + 1;

          if (!(screen->flags[o] & LINE_RULE))
            continue;
          while (first < c && (screen->flags[first] & LINE_BLANK))
            first++;
          if (first < c && is_prompt (re, screen->lines[first]))
            {
              screen->input_start = o;
              screen->status_start = c + 1;
              screen->prompt = TRUE;
              return;
            }
          break;
        }
    }
}

/* The spinner sits just above the input area (a todo list may hang below
 * it); newer releases also say "esc to interrupt" in the status line. */
static gboolean
find_busy (const CfPaneRegexes *re, const CfPaneScreen *screen, guint *deciding_line)
{
  guint seen = 0;

  for (guint i = screen->input_start; i > 0 && seen < CF_PANE_BUSY_WINDOW; i--)
    {
      const char *line = screen->lines[i - 1];

      if (screen->flags[i - 1] & LINE_BLANK)
        continue;
      seen++;
      if ((screen->flags[i - 1] & LINE_SPINNER) || g_regex_match (re->interrupt, line, 0, NULL)
          || g_regex_match (re->elapsed, line, 0, NULL))
        {
          *deciding_line = i - 1;
          return TRUE;
        }
    }
  for (guint i = screen->status_start; i < screen->n; i++)
    if (g_regex_match (re->interrupt, screen->lines[i], 0, NULL))
      {
        *deciding_line = i;
        return TRUE;
      }
  return FALSE;
}

/* The last N output lines above the input area, bottom first: chrome
 * (rules, menus, the spinner) is not output. */
static guint
collect_tail (const CfPaneScreen *screen, guint tail_lines, guint *tail)
{
  guint count = 0;

  for (guint i = screen->input_start; i > 0 && count < tail_lines; i--)
    if (!(screen->flags[i - 1] & (LINE_BLANK | LINE_RULE | LINE_MENU | LINE_SPINNER)))
      tail[count++] = i - 1;
  return count;
}

static gint
match_row (const CfPaneRegexes *re, CfPanePatternKind kind, const char *line, gint *match_start)
{
  for (guint r = 0; r < G_N_ELEMENTS (pattern_table); r++)
    {
      g_autoptr(GMatchInfo) info = NULL;

      if (pattern_table[r].kind != kind)
        continue;
      if (g_regex_match (re->patterns[r], line, 0, &info))
        {
          gint start = 0, end = 0;

          g_match_info_fetch_pos (info, 0, &start, &end);
          if (match_start != NULL)
            *match_start = start;
          return (gint) r;
        }
    }
  return -1;
}

static gboolean
has_unclosed_paren (const char *text)
{
  const char *open = strrchr (text, '(');

  return open != NULL && strchr (open, ')') == NULL;
}

/* The reset time follows the phrase; a narrow pane may wrap it, even inside
 * "(Pacific/" "Auckland)", onto the line below. */
static GDateTime *
parse_reset (const char *from, const char *next_line, const CfPaneContext *context)
{
  GDateTime *reset;
  g_autofree char *joined = NULL;

  if (next_line != NULL && has_unclosed_paren (from))
    {
      joined = g_strconcat (from, skip_leading_space (next_line), NULL);
      return cf_reset_time_parse (joined, context->now_unix, context->local_zone);
    }
  reset = cf_reset_time_parse (from, context->now_unix, context->local_zone);
  if (reset == NULL && next_line != NULL)
    {
      joined = g_strconcat (from, " ", skip_leading_space (next_line), NULL);
      reset = cf_reset_time_parse (joined, context->now_unix, context->local_zone);
    }
  return reset;
}

static char *
make_snippet (const char *line)
{
  const char *start = skip_leading_space (line);
  gsize length = strlen (start);
  const char *cut;

  while (length > 0 && start[length - 1] == ' ')
    length--;
  if (length <= CF_PANE_SNIPPET_MAX)
    return g_strndup (start, length);

  /* Room for the "…" (3 bytes) that marks the cut. */
  cut = g_utf8_find_prev_char (start, start + CF_PANE_SNIPPET_MAX - 3 + 1);
  return g_strdup_printf ("%.*s…", (int) (cut - start), start);
}

static char *
find_resume_uuid (const CfPaneRegexes *re, const char *text)
{
  g_autoptr(GMatchInfo) info = NULL;
  char *last = NULL;

  g_regex_match (re->resume, text, 0, &info);
  while (g_match_info_matches (info))
    {
      g_autofree char *uuid = g_match_info_fetch (info, 1);

      if (cf_uuid_is_valid (uuid))
        {
          g_free (last);
          last = g_steal_pointer (&uuid);
        }
      if (!g_match_info_next (info, NULL))
        break;
    }
  return last;
}

typedef struct {
  const char *needle;
  CfPaneDialog kind;
} DialogRow;

static const DialogRow dialog_rows[] = {
  { "Quick safety check", CF_PANE_DIALOG_TRUST },
  { "Do you trust the files in this folder", CF_PANE_DIALOG_TRUST },
  { "Bypass Permissions mode", CF_PANE_DIALOG_BYPASS_WARNING },
  { "Unable to connect to Anthropic services", CF_PANE_DIALOG_ONBOARDING_FAILED },
  { "Detected a custom API key", CF_PANE_DIALOG_API_KEY },
  { "cannot be used with root/sudo privileges", CF_PANE_DIALOG_ROOT_REFUSED },
  { "No conversation found with session ID", CF_PANE_DIALOG_NO_CONVERSATION },
  { "Do you want to proceed?", CF_PANE_DIALOG_PERMISSION },
  { "Stop and wait for limit to reset", CF_PANE_DIALOG_LIMIT_MENU },
  { "Select login method", CF_PANE_DIALOG_LOGIN },
};

const char *
cf_pane_dialog_fix (CfPaneDialog dialog)
{
  switch (dialog)
    {
    case CF_PANE_DIALOG_NONE:
      return "";
    case CF_PANE_DIALOG_TRUST:
      return _("trust the project in the account's .claude.json (prepare_accounts does it)");
    case CF_PANE_DIALOG_BYPASS_WARNING:
      return _("accept the bypass-permissions warning in the account's settings.json "
               "(prepare_accounts does it)");
    case CF_PANE_DIALOG_ONBOARDING_FAILED:
      return _("complete the onboarding in the account's .claude.json (prepare_accounts does it)");
    case CF_PANE_DIALOG_API_KEY:
      return _("approve the API key in the account's .claude.json, or use a subscription login");
    case CF_PANE_DIALOG_ROOT_REFUSED:
      return _("run the service as a non-root user (or set IS_SANDBOX=1 in a sandbox)");
    case CF_PANE_DIALOG_NO_CONVERSATION:
      return _("link the account's projects directory to the shared one (claude-failoverctl doctor)");
    case CF_PANE_DIALOG_PERMISSION:
      return _("answer the question in the session (claude-failoverctl attach --write)");
    case CF_PANE_DIALOG_LIMIT_MENU:
      return _("the account is out of usage: switch accounts or wait for the reset");
    case CF_PANE_DIALOG_LOGIN:
      return _("log the account in once: CLAUDE_CONFIG_DIR=<home> claude, then /login");
    case CF_PANE_DIALOG_UNKNOWN_MENU:
    default:
      return _("look at the session (claude-failoverctl attach) and answer or fix what it asks");
    }
}

/* A dialog counts only below the last input area (or with none at all):
 * an old dialog scrolled above a live prompt is history. */
static void
find_dialog (const CfPaneScreen *screen, CfPaneVerdict *out)
{
  guint from = screen->prompt ? screen->input_start : 0;

  for (guint i = from; i < screen->n; i++)
    {
      const char *line = screen->lines[i];

      if (strstr (line, "Resume this session with:") != NULL || g_str_has_prefix (line, "Pane is dead"))
        out->exited = TRUE;
      if (strstr (line, "No conversation found with session ID") != NULL)
        out->resume_failed = TRUE;
      if (strstr (line, "not your usage limit") != NULL || strstr (line, "Request rejected (429)") != NULL)
        out->throttle = TRUE;
      for (guint r = 0; r < G_N_ELEMENTS (dialog_rows) && out->dialog_kind == CF_PANE_DIALOG_NONE; r++)
        if (strstr (line, dialog_rows[r].needle) != NULL)
          {
            out->dialog_kind = dialog_rows[r].kind;
            out->dialog = make_snippet (line);
          }
    }
  if (out->dialog_kind == CF_PANE_DIALOG_NONE && !screen->prompt)
    for (guint i = 0; i < screen->n; i++)
      if (screen->flags[i] & LINE_MENU)
        {
          out->dialog_kind = CF_PANE_DIALOG_UNKNOWN_MENU;
          out->dialog = make_snippet (screen->lines[i]);
          break;
        }
  out->needs_input = out->dialog_kind == CF_PANE_DIALOG_PERMISSION ||
                     out->dialog_kind == CF_PANE_DIALOG_UNKNOWN_MENU ||
                     out->dialog_kind == CF_PANE_DIALOG_LIMIT_MENU;
}

void
cf_pane_classify (const char *text,
                  gsize length,
                  const CfPaneContext *context,
                  CfPaneVerdict *out)
{
  const CfPaneRegexes *re = regexes ();
  g_autofree char *clean = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree guint *flags = NULL;
  g_autofree guint *tail = NULL;
  CfPaneScreen screen = { 0 };
  guint tail_lines, n_tail;
  guint busy_line = 0;
  gint limit_index = -1, warning_index = -1, server_index = -1;
  gint limit_start = 0;

  g_return_if_fail (context != NULL);
  g_return_if_fail (out != NULL);

  memset (out, 0, sizeof *out);
  if (text == NULL)
    text = "";
  if (length == (gsize) -1)
    length = strlen (text);

  clean = clean_text (text, length);
  lines = g_strsplit (clean, "\n", -1);
  screen.lines = lines;
  screen.n = g_strv_length (lines);
  /* Trailing spaces pad every tmux row to the pane width. */
  for (guint i = 0; i < screen.n; i++)
    g_strchomp (lines[i]);
  flags = g_new0 (guint, screen.n + 1);
  screen.flags = flags;

  mark_lines (re, &screen);
  find_input_area (re, &screen);
  out->prompt = screen.prompt;
  out->busy = find_busy (re, &screen, &busy_line);

  tail_lines = context->tail_lines > 0 ? context->tail_lines : CF_PANE_DEFAULT_TAIL_LINES;
  tail = g_new0 (guint, MIN (tail_lines, screen.n) + 1);
  n_tail = collect_tail (&screen, MIN (tail_lines, screen.n), tail);

  /* Bottom-most first: the newest message of each kind decides. */
  for (guint t = 0; t < n_tail; t++)
    {
      const char *line = lines[tail[t]];
      gint row;

      if (warning_index < 0 && (row = match_row (re, CF_PANE_PATTERN_WARNING, line, NULL)) >= 0)
        {
          warning_index = (gint) t;
          out->warning_pattern = pattern_table[row].id;
          continue;
        }
      if (server_index < 0 && (row = match_row (re, CF_PANE_PATTERN_SERVER_ERROR, line, NULL)) >= 0)
        {
          server_index = (gint) t;
          out->server_error_pattern = pattern_table[row].id;
        }
      if (limit_index < 0 && (row = match_row (re, CF_PANE_PATTERN_LIMIT, line, &limit_start)) >= 0)
        {
          limit_index = (gint) t;
          out->pattern = pattern_table[row].id;
        }
    }

  out->warning = warning_index >= 0;
  out->server_error = server_index >= 0;
  out->limit_match = limit_index >= 0;
  out->limit = out->limit_match && !out->server_error;

  if (out->limit_match)
    {
      const char *next_line = limit_index > 0 ? lines[tail[limit_index - 1]] : NULL;

      out->reset_at = parse_reset (lines[tail[limit_index]] + limit_start, next_line, context);
    }

  if (out->server_error)
    out->snippet = make_snippet (lines[tail[server_index]]);
  else if (out->limit_match)
    out->snippet = make_snippet (lines[tail[limit_index]]);
  else if (out->warning)
    out->snippet = make_snippet (lines[tail[warning_index]]);
  else if (out->busy)
    out->snippet = make_snippet (lines[busy_line]);

  out->resume_uuid = find_resume_uuid (re, clean);
  find_dialog (&screen, out);
  out->ready = out->prompt && !out->busy && !out->exited && out->dialog_kind == CF_PANE_DIALOG_NONE;
}
