/* SPDX-License-Identifier: MIT */
/* The screen classifier: a pane capture cleaned of escape sequences, its
 * lines marked (rules, menus, spinners), the input box and the status lines
 * under it found, then read for the verdict — prompt ready, busy, limit and
 * its reset time, server error, throttle, warning, dialog, exited, resume
 * id, auto-continue. The patterns it matches with are in cf-pane-patterns.c. */
#include "cf-pane.h"
#include "cf-pane-private.h"

#include <string.h>

#include "cf-reset-time.h"

/* How far above the input area a spinner, Claude Code's auto-continue
 * state or a zoned reset time is looked for: a todo list may hang under
 * the spinner line. */
#define CF_PANE_BUSY_WINDOW 12
/* Status lines under the input area (mode, hints, diff stats). */
#define CF_PANE_MAX_STATUS_LINES 6
/* A long multi-line input still sits between the two rules. */
#define CF_PANE_MAX_INPUT_LINES 40

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
  guint box_prompt;            /* the ❯ line of the input area */
  guint box_close;             /* its closing rule */
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

/* Is line C the closing rule of a ❯ box?  Then *OPEN is its opening rule
 * and *FIRST its prompt line. */
static gboolean
box_closed_at (const CfPaneRegexes *re, const CfPaneScreen *screen, guint c, guint *open_rule,
               guint *first_line)
{
  if (!(screen->flags[c] & LINE_RULE))
    return FALSE;
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
          *open_rule = o;
          *first_line = first;
          return TRUE;
        }
      return FALSE;
    }
  return FALSE;
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
      guint open = 0, first = 0;

      if (screen->flags[c] & LINE_BLANK)
        continue;
      seen++;
      if (box_closed_at (re, screen, c, &open, &first))
        {
          screen->input_start = open;
          screen->status_start = c + 1;
          screen->box_prompt = first;
          screen->box_close = c;
          screen->prompt = TRUE;
          return;
        }
    }
}

/* The line after the last ❯ box anywhere on the screen (0 when there is
 * none): what Claude drew in place of its box, or after it exited. */
static guint
find_last_box_end (const CfPaneRegexes *re, const CfPaneScreen *screen)
{
  if (screen->prompt)
    return screen->status_start;
  for (guint close = screen->n; close > 0; close--)
    {
      guint open = 0, first = 0;

      if (box_closed_at (re, screen, close - 1, &open, &first))
        return close;
    }
  return 0;
}

/* The box holds nothing typed: empty, or only the placeholder left after an
 * API error (dim on screen, plain text in a capture). */
static gboolean
box_is_empty (const CfPaneRegexes *re, const CfPaneScreen *screen)
{
  const char *p = skip_leading_space (screen->lines[screen->box_prompt]);
  g_autofree char *content = NULL;

  if (g_utf8_get_char (p) == 0x2502 /* │ */)
    p = skip_leading_space (g_utf8_next_char (p));
  p = skip_leading_space (g_utf8_next_char (p)); /* ❯ or > */
  content = g_strdup (p);
  if (g_str_has_suffix (content, "│"))
    content[strlen (content) - strlen ("│")] = '\0';
  g_strchomp (content);
  if (*content != '\0' && !g_strv_contains (cf_pane_placeholders, content)
      && !g_regex_match (re->suggestion, content, 0, NULL))
    return FALSE;
  for (guint i = screen->box_prompt + 1; i < screen->box_close; i++)
    if (!(screen->flags[i] & LINE_BLANK))
      {
        const char *q = skip_leading_space (screen->lines[i]);

        if (!g_str_equal (q, "│"))
          return FALSE;
      }
  return TRUE;
}

static gboolean is_user_echo (const CfPaneRegexes *re, const char *line);

static gboolean
is_turn_boundary (const CfPaneRegexes *re, const char *line)
{
  return g_regex_match (re->banner, line, 0, NULL) || g_regex_match (re->resume_hint, line, 0, NULL)
         || g_regex_match (re->pane_dead, line, 0, NULL) || is_user_echo (re, line);
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
      /* Above the banner, the resume hint or the user's message lies an
       * earlier turn, or an earlier Claude's last frame. */
      if (is_turn_boundary (re, line))
        break;
      if ((screen->flags[i - 1] & LINE_SPINNER) || g_regex_match (re->interrupt, line, 0, NULL)
          || g_regex_match (re->elapsed, line, 0, NULL) || g_regex_match (re->retry, line, 0, NULL))
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
  for (guint r = 0; r < cf_pane_n_patterns; r++)
    {
      g_autoptr(GMatchInfo) info = NULL;

      if (cf_pane_pattern_table[r].kind != kind)
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

/* The dialog text without the box border around it. */
static char *
make_dialog_snippet (const char *line)
{
  const char *start = skip_leading_space (line);
  g_autofree char *copy = NULL;

  if (g_str_has_prefix (start, "│"))
    start = skip_leading_space (start + strlen ("│"));
  copy = g_strdup (start);
  g_strchomp (copy);
  if (g_str_has_suffix (copy, "│"))
    {
      copy[strlen (copy) - strlen ("│")] = '\0';
      g_strchomp (copy);
    }
  return make_snippet (copy);
}

/* Index of the first DIALOG row matching LINE, or -1. */
static gint
match_dialog_row (const CfPaneRegexes *re, const char *line)
{
  return match_row (re, CF_PANE_PATTERN_DIALOG, line, NULL);
}

static gboolean
dialog_exits_claude (CfPaneDialog dialog)
{
  return dialog == CF_PANE_DIALOG_ROOT_REFUSED || dialog == CF_PANE_DIALOG_NO_CONVERSATION
         || dialog == CF_PANE_DIALOG_ONBOARDING_FAILED;
}

static gboolean
dialog_is_menu (CfPaneDialog dialog)
{
  return dialog == CF_PANE_DIALOG_PERMISSION || dialog == CF_PANE_DIALOG_LIMIT_MENU
         || dialog == CF_PANE_DIALOG_UNKNOWN_MENU;
}

/* The question a numbered menu answers: the first line above its options. */
static guint
menu_question (const CfPaneRegexes *re, const CfPaneScreen *screen, guint from, guint cursor)
{
  for (guint i = cursor; i > from && cursor - i < CF_PANE_BUSY_WINDOW; i--)
    {
      guint line = i - 1;

      if ((screen->flags[line] & (LINE_BLANK | LINE_RULE))
          || g_regex_match (re->menu_option, screen->lines[line], 0, NULL))
        continue;
      return line;
    }
  return cursor;
}

/* Below the last ❯ box (FROM): the bottom-most dialog line decides the
 * kind; its text is the line of the first table row of that kind, or the
 * question of a menu.  A numbered menu no row knows waits for a person. */
static gint
find_dialog (const CfPaneRegexes *re, const CfPaneScreen *screen, const gint *rows, guint from,
             CfPaneVerdict *out)
{
  gint cursor = -1, bottom = -1;
  CfPaneDialog kind = CF_PANE_DIALOG_NONE;
  gint text_line = -1, text_row = -1;

  for (guint i = from; i < screen->n; i++)
    if (g_regex_match (re->menu_cursor, screen->lines[i], 0, NULL))
      cursor = (gint) i;

  for (guint i = screen->n; i > from && bottom < 0; i--)
    {
      gint row = rows[i - 1];

      if (row < 0 || (cf_pane_pattern_table[row].needs_menu && cursor < (gint) (i - 1)))
        continue;
      bottom = (gint) (i - 1);
      kind = cf_pane_pattern_table[row].dialog;
    }

  if (kind != CF_PANE_DIALOG_NONE && dialog_exits_claude (kind) && cursor > bottom)
    kind = CF_PANE_DIALOG_UNKNOWN_MENU;
  if (kind == CF_PANE_DIALOG_NONE && cursor >= 0)
    kind = CF_PANE_DIALOG_UNKNOWN_MENU;
  if (kind == CF_PANE_DIALOG_NONE)
    return -1;

  if (dialog_is_menu (kind) && cursor >= 0)
    text_line = (gint) menu_question (re, screen, from, (guint) cursor);
  else
    for (guint r = 0; r < cf_pane_n_patterns && text_line < 0; r++)
      {
        if (cf_pane_pattern_table[r].kind != CF_PANE_PATTERN_DIALOG ||
            cf_pane_pattern_table[r].dialog != kind)
          continue;
        for (guint i = from; i < screen->n; i++)
          if (rows[i] == (gint) r)
            {
              text_line = (gint) i;
              text_row = (gint) r;
              break;
            }
      }
  if (text_line < 0)
    text_line = bottom;

  out->dialog_kind = kind;
  {
    const char *line = screen->lines[text_line];
    g_autoptr(GMatchInfo) info = NULL;
    gint start = 0, end = 0;

    /* A footer note starts where its row matched, not at the line start. */
    if (text_row >= 0 && g_regex_match (re->patterns[text_row], line, 0, &info)
        && g_match_info_fetch_pos (info, 0, &start, &end))
      line += start;
    out->dialog = make_dialog_snippet (line);
  }
  out->needs_input = dialog_is_menu (kind);
  out->resume_failed = kind == CF_PANE_DIALOG_NO_CONVERSATION;
  return bottom >= 0 && cf_pane_pattern_table[rows[bottom]].dialog == kind ? rows[bottom] : -1;
}

/* Claude exited when, below its last box, the resume hint or a shell prompt
 * (the last line) comes after everything Claude draws: a banner, a dialog,
 * a menu.  A shell alone, where no Claude ever drew, is not an exit. */
static gboolean
find_exited (const CfPaneRegexes *re, const CfPaneScreen *screen, const gint *rows, guint from)
{
  gint marker = -1, claude_ui = -1, last = -1;
  gboolean claude_seen = from > 0;

  for (guint i = from; i < screen->n; i++)
    {
      const char *line = screen->lines[i];

      if (screen->flags[i] & LINE_BLANK)
        continue;
      last = (gint) i;
      if (g_regex_match (re->resume_hint, line, 0, NULL) || g_regex_match (re->pane_dead, line, 0, NULL))
        {
          marker = (gint) i;
          claude_seen = TRUE;
        }
      else if (rows[i] >= 0 && dialog_exits_claude (cf_pane_pattern_table[rows[i]].dialog))
        claude_seen = TRUE;
      else if (rows[i] >= 0 || g_regex_match (re->banner, line, 0, NULL)
               || g_regex_match (re->menu_cursor, line, 0, NULL))
        {
          claude_ui = (gint) i;
          claude_seen = TRUE;
        }
    }
  if (last >= 0 && last > claude_ui && g_regex_match (re->shell_prompt, screen->lines[last], 0, NULL))
    marker = MAX (marker, last);
  return claude_seen && marker >= 0 && marker > claude_ui;
}

/* An echoed user message ("❯ Do a task", "> …") starts a turn: state
 * shown above it belongs to an earlier turn. */
static gboolean
is_user_echo (const CfPaneRegexes *re, const char *line)
{
  const char *p = skip_leading_space (line);

  if (g_str_has_prefix (p, "❯"))
    p = skip_leading_space (p + strlen ("❯"));
  else if (*p == '>')
    p = skip_leading_space (p + 1);
  else
    return FALSE;
  /* "❯ /rate-limit-options": Claude Code opened its own menu. */
  return *p != '/' && is_prompt (re, line);
}

/* Claude Code's auto-continue state: the footer first, then the output of
 * the current turn, bottom first. */
static const char *
find_auto_continue (const CfPaneRegexes *re, const CfPaneScreen *screen)
{
  guint seen = 0;

  for (guint i = screen->n; i > screen->status_start; i--)
    {
      gint row = match_row (re, CF_PANE_PATTERN_AUTO_CONTINUE, screen->lines[i - 1], NULL);

      if (row >= 0)
        return cf_pane_pattern_table[row].auto_continue;
    }
  for (guint i = screen->input_start; i > 0 && seen < CF_PANE_BUSY_WINDOW; i--)
    {
      const char *line = screen->lines[i - 1];
      gint row;

      if (screen->flags[i - 1] & LINE_BLANK)
        continue;
      seen++;
      row = match_row (re, CF_PANE_PATTERN_AUTO_CONTINUE, line, NULL);
      if (row >= 0)
        return cf_pane_pattern_table[row].auto_continue;
      if (is_user_echo (re, line))
        break;
    }
  return NULL;
}

/* Footer rows hold right-aligned notes ("You've used 92% of your 5-hour
 * limit · resets …"): each run of text between wide gaps is matched on
 * its own.  Warnings only: a footer never shows exhaustion. */
static char *
find_footer_warning (const CfPaneRegexes *re, const CfPaneScreen *screen, const char **pattern)
{
  for (guint i = screen->n; i > screen->status_start; i--)
    {
      g_auto(GStrv) parts = NULL;
      const char *line = screen->lines[i - 1];

      if (screen->flags[i - 1] & LINE_BLANK)
        continue;
      parts = g_regex_split (re->footer_gap, line, 0);
      for (guint p = 0; parts[p] != NULL; p++)
        {
          gint row = match_row (re, CF_PANE_PATTERN_WARNING, parts[p], NULL);

          if (row >= 0)
            {
              *pattern = cf_pane_pattern_table[row].id;
              return make_snippet (parts[p]);
            }
        }
    }
  return NULL;
}

/* A reset time without a zone ("set to continue automatically at 4:23pm")
 * is read in the zone the limit line above it names ("resets 4:23pm
 * (Europe/Berlin)"): that is the zone of the Claude process.  Looks at the
 * output of the current turn, bottom first. */
static gint
find_zoned_limit_line (const CfPaneRegexes *re, const CfPaneScreen *screen, guint below,
                       gint *match_start)
{
  guint seen = 0;

  for (guint i = below; i > 0 && seen < CF_PANE_BUSY_WINDOW; i--)
    {
      const char *line = screen->lines[i - 1];

      if (screen->flags[i - 1] & LINE_BLANK)
        continue;
      seen++;
      if (match_row (re, CF_PANE_PATTERN_LIMIT, line, match_start) >= 0
          && g_regex_match (re->zone, line + *match_start, 0, NULL))
        return (gint) (i - 1);
      if (is_user_echo (re, line))
        break;
    }
  return -1;
}

void
cf_pane_classify (const char *text,
                  gsize length,
                  const CfPaneContext *context,
                  CfPaneVerdict *out)
{
  const CfPaneRegexes *re = cf_pane_regexes ();
  g_autofree char *clean = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree guint *flags = NULL;
  g_autofree guint *tail = NULL;
  g_autofree gint *dialog_rows = NULL;
  g_autofree char *footer_warning = NULL;
  CfPaneScreen screen = { 0 };
  guint tail_lines, n_tail, box_end;
  guint busy_line = 0;
  gint limit_index = -1, warning_index = -1, server_index = -1, throttle_index = -1;
  gint limit_start = 0;
  gint dialog_row;

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

  /* Dialogs, refusals and the exit live below the last box Claude drew. */
  box_end = find_last_box_end (re, &screen);
  dialog_rows = g_new (gint, screen.n + 1);
  for (guint i = 0; i < screen.n; i++)
    dialog_rows[i] = i >= box_end && !(flags[i] & LINE_BLANK) ? match_dialog_row (re, lines[i]) : -1;
  dialog_row = find_dialog (re, &screen, dialog_rows, box_end, out);
  out->exited = find_exited (re, &screen, dialog_rows, box_end);
  if (out->exited)
    {
      /* The last frame stays above the shell: history, not a live prompt. */
      out->prompt = FALSE;
      out->busy = FALSE;
    }

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
          out->warning_pattern = cf_pane_pattern_table[row].id;
          continue;
        }
      if (server_index < 0 && (row = match_row (re, CF_PANE_PATTERN_SERVER_ERROR, line, NULL)) >= 0)
        {
          server_index = (gint) t;
          out->server_error_pattern = cf_pane_pattern_table[row].id;
        }
      if (throttle_index < 0 && (row = match_row (re, CF_PANE_PATTERN_THROTTLE, line, NULL)) >= 0)
        {
          throttle_index = (gint) t;
          out->throttle_pattern = cf_pane_pattern_table[row].id;
          continue;
        }
      if (limit_index < 0 && (row = match_row (re, CF_PANE_PATTERN_LIMIT, line, &limit_start)) >= 0)
        {
          limit_index = (gint) t;
          out->pattern = cf_pane_pattern_table[row].id;
        }
    }

  if (warning_index < 0)
    footer_warning = find_footer_warning (re, &screen, &out->warning_pattern);

  out->warning = warning_index >= 0 || footer_warning != NULL;
  out->server_error = server_index >= 0;
  out->throttle = throttle_index >= 0;
  out->limit_match = limit_index >= 0;

  if (out->limit_match)
    {
      guint line = tail[limit_index];
      const char *next_line = limit_index > 0 ? lines[tail[limit_index - 1]] : NULL;
      gint zoned_start = 0;
      gint zoned = -1;

      /* A zone in parentheses beats a zoneless time. */
      if (!g_regex_match (re->zone, lines[line] + limit_start, 0, NULL))
        zoned = find_zoned_limit_line (re, &screen, line, &zoned_start);
      if (zoned >= 0)
        out->reset_at = parse_reset (lines[zoned] + zoned_start, NULL, context);
      else
        out->reset_at = parse_reset (lines[line] + limit_start, next_line, context);
    }
  else if (out->dialog_kind == CF_PANE_DIALOG_LIMIT_MENU && dialog_row >= 0)
    {
      /* The /rate-limit-options menu replaced the box and pushed the limit
       * line out of the tail: the menu itself says the account is out. */
      gint zoned_start = 0;
      gint zoned = find_zoned_limit_line (re, &screen, screen.n, &zoned_start);

      out->limit_match = TRUE;
      out->pattern = cf_pane_pattern_table[dialog_row].id;
      if (zoned >= 0)
        out->reset_at = parse_reset (lines[zoned] + zoned_start, NULL, context);
    }
  out->limit = out->limit_match && !out->server_error;

  if (out->server_error)
    out->snippet = make_snippet (lines[tail[server_index]]);
  else if (limit_index >= 0)
    out->snippet = make_snippet (lines[tail[limit_index]]);
  else if (out->limit_match)
    out->snippet = g_strdup (out->dialog);
  else if (out->throttle)
    out->snippet = make_snippet (lines[tail[throttle_index]]);
  else if (warning_index >= 0)
    out->snippet = make_snippet (lines[tail[warning_index]]);
  else if (footer_warning != NULL)
    out->snippet = g_steal_pointer (&footer_warning);
  else if (out->busy)
    out->snippet = make_snippet (lines[busy_line]);

  out->auto_continue = find_auto_continue (re, &screen);
  out->ready = out->prompt && !out->busy && !out->exited && out->dialog_kind == CF_PANE_DIALOG_NONE
               && box_is_empty (re, &screen);
  out->resume_uuid = find_resume_uuid (re, clean);
}
