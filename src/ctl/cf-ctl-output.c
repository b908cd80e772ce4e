/* SPDX-License-Identifier: MIT */
/* Error lines, colours, tables, times and JSON for claude-failoverctl. */
#include "cf-ctl-output.h"

#include <errno.h>
#include <poll.h>

#include "cf-statusline.h"

#include <glib/gi18n.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cf-json.h"

static void
print_error_line (const char *command, const char *message, const char *hint)
{
  g_autoptr(GString) line = g_string_new (CF_CTL_PROGRAM ": ");

  if (command != NULL)
    g_string_append_printf (line, "%s: ", command);
  /* One line, whatever the daemon or the system put in the message. */
  for (const char *p = message; *p != '\0'; p++)
    g_string_append_c (line, *p == '\n' || *p == '\r' ? ' ' : *p);
  if (hint != NULL)
    g_string_append (line, hint);
  g_printerr ("%s\n", line->str);
}

int
cf_ctl_fail (int status, const char *command, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  print_error_line (command, message, NULL);
  return status;
}

int
cf_ctl_usage_error (const char *command, const char *format, ...)
{
  g_autofree char *message = NULL;
  g_autofree char *hint = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  if (command != NULL)
    /* TRANSLATORS: appended to a usage error; %s is a command such as "submit". */
    hint = g_strdup_printf (_(" (see 'claude-failoverctl %s --help')"), command);
  else
    hint = g_strdup (_(" (see 'claude-failoverctl --help')"));
  print_error_line (command, message, hint);
  return 2;
}

/* ---- colour ------------------------------------------------------------- */

gboolean
cf_ctl_use_colour (void)
{
  static int use = -1;

  if (use < 0)
    {
      const char *no_colour = g_getenv ("NO_COLOR");
      const char *term = g_getenv ("TERM");

      use = isatty (STDOUT_FILENO) && (no_colour == NULL || *no_colour == '\0') &&
            g_strcmp0 (term, "dumb") != 0;
    }
  return use;
}

static const char *
style_sequence (CfCtlStyle style)
{
  switch (style)
    {
    case CF_CTL_STYLE_BOLD: return "\033[1m";
    case CF_CTL_STYLE_DIM: return "\033[2m";
    case CF_CTL_STYLE_RED: return "\033[1;31m";
    case CF_CTL_STYLE_GREEN: return "\033[32m";
    case CF_CTL_STYLE_YELLOW: return "\033[33m";
    case CF_CTL_STYLE_BLUE: return "\033[34m";
    case CF_CTL_STYLE_MAGENTA: return "\033[35m";
    case CF_CTL_STYLE_CYAN: return "\033[36m";
    case CF_CTL_STYLE_NONE:
    default:
      return NULL;
    }
}

char *
cf_ctl_styled (CfCtlStyle style, const char *text)
{
  const char *sequence = style_sequence (style);

  if (sequence == NULL || !cf_ctl_use_colour ())
    return g_strdup (text);
  return g_strconcat (sequence, text, "\033[0m", NULL);
}

CfCtlStyle
cf_ctl_style_for_session_state (const char *state)
{
  if (g_strcmp0 (state, "idle") == 0)
    return CF_CTL_STYLE_GREEN;
  if (g_strcmp0 (state, "working") == 0 || g_strcmp0 (state, "launching") == 0)
    return CF_CTL_STYLE_BLUE;
  if (g_strcmp0 (state, "stalled") == 0 || g_strcmp0 (state, "blocked") == 0 ||
      g_strcmp0 (state, "needs-input") == 0)
    return CF_CTL_STYLE_YELLOW;
  if (g_strcmp0 (state, "failed") == 0 || g_strcmp0 (state, "dead") == 0)
    return CF_CTL_STYLE_RED;
  return CF_CTL_STYLE_NONE;
}

CfCtlStyle
cf_ctl_style_for_task_state (const char *state)
{
  if (g_strcmp0 (state, "active") == 0)
    return CF_CTL_STYLE_BLUE;
  if (g_strcmp0 (state, "done") == 0)
    return CF_CTL_STYLE_GREEN;
  if (g_strcmp0 (state, "failed") == 0)
    return CF_CTL_STYLE_RED;
  return CF_CTL_STYLE_NONE;
}

CfCtlStyle
cf_ctl_style_for_outcome (const char *outcome)
{
  if (g_strcmp0 (outcome, "done") == 0 || g_strcmp0 (outcome, "delegated-done") == 0)
    return CF_CTL_STYLE_GREEN;
  if (g_strcmp0 (outcome, "requeued") == 0 || g_strcmp0 (outcome, "cancelled") == 0)
    return CF_CTL_STYLE_YELLOW;
  return CF_CTL_STYLE_RED;
}

/* ---- text --------------------------------------------------------------- */

char *
cf_ctl_printable (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", -1);
  GString *out = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else if (c == '\r')
        g_string_append (out, "\\r");
      else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  return g_string_free (out, FALSE);
}

static gsize
char_width (gunichar c)
{
  if (g_unichar_iszerowidth (c))
    return 0;
  return g_unichar_iswide (c) ? 2 : 1;
}

gsize
cf_ctl_text_width (const char *text)
{
  gsize width = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    width += char_width (g_utf8_get_char (p));
  return width;
}

char *
cf_ctl_truncate (const char *text, gsize width)
{
  GString *out;
  gsize used = 0;

  if (cf_ctl_text_width (text) <= width)
    return g_strdup (text);
  out = g_string_new (NULL);
  for (const char *p = text; *p != '\0' && width > 0; p = g_utf8_next_char (p))
    {
      gsize w = char_width (g_utf8_get_char (p));

      if (used + w > width - 1)
        break;
      g_string_append_len (out, p, g_utf8_next_char (p) - p);
      used += w;
    }
  if (width > 0)
    g_string_append (out, "…");
  return g_string_free (out, FALSE);
}

/* ---- times -------------------------------------------------------------- */

char *
cf_ctl_relative_time (gint64 usec, gint64 now_usec)
{
  gint64 delta = (now_usec - usec) / G_USEC_PER_SEC;
  gint64 magnitude = ABS (delta);
  g_autofree char *amount = NULL;

  if (magnitude < 5)
    return g_strdup (_("now"));
  if (magnitude < 60)
    amount = g_strdup_printf ("%" G_GINT64_FORMAT "s", magnitude);
  else if (magnitude < 3600)
    amount = g_strdup_printf ("%" G_GINT64_FORMAT "m", magnitude / 60);
  else if (magnitude < 86400)
    amount = g_strdup_printf ("%" G_GINT64_FORMAT "h%02" G_GINT64_FORMAT "m",
                              magnitude / 3600, (magnitude % 3600) / 60);
  else
    amount = g_strdup_printf ("%" G_GINT64_FORMAT "d", magnitude / 86400);
  /* TRANSLATORS: %s is a duration such as "12m" or "3h05m" */
  return delta >= 0 ? g_strdup_printf (_("%s ago"), amount) : g_strdup_printf (_("in %s"), amount);
}

char *
cf_ctl_absolute_time (gint64 usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (usec / G_USEC_PER_SEC);
  g_autofree char *relative = cf_ctl_relative_time (usec, g_get_real_time ());
  g_autofree char *text = dt ? g_date_time_format (dt, "%Y-%m-%d %H:%M:%S %Z") : g_strdup ("?");

  return g_strdup_printf ("%s (%s)", text, relative);
}

char *
cf_ctl_iso8601 (gint64 usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) precise = dt ? g_date_time_add (dt, usec % G_USEC_PER_SEC) : NULL;
  g_autofree char *date = NULL;
  g_autofree char *offset = NULL;

  if (precise == NULL)
    return g_strdup ("");
  date = g_date_time_format (precise, "%Y-%m-%dT%H:%M:%S");
  offset = g_date_time_format (precise, "%:z");
  return g_strdup_printf ("%s.%03d%s", date, g_date_time_get_microsecond (precise) / 1000,
                          offset);
}

/* ---- tables ------------------------------------------------------------- */

typedef struct {
  char *text;
  CfCtlStyle style;
} Cell;

struct _CfCtlTable {
  guint n_columns;
  GPtrArray *headers;          /* char* */
  GPtrArray *rows;             /* Cell[n_columns] */
};

static void
row_free (gpointer data, gpointer user_data)
{
  CfCtlTable *table = user_data;
  Cell *cells = data;

  for (guint i = 0; i < table->n_columns; i++)
    g_free (cells[i].text);
  g_free (cells);
}

CfCtlTable *
cf_ctl_table_new (guint n_columns, ...)
{
  CfCtlTable *table = g_new0 (CfCtlTable, 1);
  va_list args;

  table->n_columns = n_columns;
  table->headers = g_ptr_array_new_with_free_func (g_free);
  table->rows = g_ptr_array_new ();
  va_start (args, n_columns);
  for (guint i = 0; i < n_columns; i++)
    g_ptr_array_add (table->headers, g_strdup (va_arg (args, const char *)));
  va_end (args);
  return table;
}

void
cf_ctl_table_free (CfCtlTable *table)
{
  g_ptr_array_foreach (table->rows, row_free, table);
  g_ptr_array_unref (table->rows);
  g_ptr_array_unref (table->headers);
  g_free (table);
}

void
cf_ctl_table_add_row (CfCtlTable *table)
{
  g_ptr_array_add (table->rows, g_new0 (Cell, table->n_columns));
}

void
cf_ctl_table_set (CfCtlTable *table, guint column, const char *text, CfCtlStyle style)
{
  Cell *cells;

  g_return_if_fail (table->rows->len > 0 && column < table->n_columns);
  cells = g_ptr_array_index (table->rows, table->rows->len - 1);
  g_free (cells[column].text);
  cells[column].text = cf_ctl_printable (text);
  cells[column].style = style;
}

guint
cf_ctl_table_get_n_rows (CfCtlTable *table)
{
  return table->rows->len;
}

static void
append_cell (GString *line, const char *text, CfCtlStyle style, gsize width, gboolean last)
{
  g_autofree char *styled = cf_ctl_styled (style, text);
  gsize used = cf_ctl_text_width (text);

  g_string_append (line, styled);
  if (!last)
    {
      for (; used < width; used++)
        g_string_append_c (line, ' ');
      g_string_append (line, "  ");
    }
}

void
cf_ctl_table_print (CfCtlTable *table)
{
  g_autofree gsize *widths = g_new0 (gsize, table->n_columns);
  g_autoptr(GString) line = g_string_new (NULL);

  for (guint c = 0; c < table->n_columns; c++)
    widths[c] = cf_ctl_text_width (g_ptr_array_index (table->headers, c));
  for (guint r = 0; r < table->rows->len; r++)
    {
      Cell *cells = g_ptr_array_index (table->rows, r);
      for (guint c = 0; c < table->n_columns; c++)
        widths[c] = MAX (widths[c], cf_ctl_text_width (cells[c].text ? cells[c].text : ""));
    }

  for (guint c = 0; c < table->n_columns; c++)
    append_cell (line, g_ptr_array_index (table->headers, c), CF_CTL_STYLE_BOLD, widths[c],
                 c + 1 == table->n_columns);
  g_print ("%s\n", line->str);
  for (guint r = 0; r < table->rows->len; r++)
    {
      Cell *cells = g_ptr_array_index (table->rows, r);

      g_string_truncate (line, 0);
      for (guint c = 0; c < table->n_columns; c++)
        append_cell (line, cells[c].text ? cells[c].text : "", cells[c].style, widths[c],
                     c + 1 == table->n_columns);
      g_print ("%s\n", line->str);
    }
}

/* ---- JSON --------------------------------------------------------------- */

void
cf_ctl_print_json (JsonBuilder *builder, gboolean compact)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = NULL;

  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, !compact);
  text = cf_json_generate (generator, NULL);
  g_print ("%s\n", text);
}

char *
cf_ctl_usage_bar (double percent, gint64 reset_usec, gint64 now_usec, guint width)
{
  GString *bar;
  guint filled;

  if (percent < 0)
    /* TRANSLATORS: a usage window nothing is known about (yet, or since its reset) */
    return g_strdup (_("unknown"));
  percent = MIN (percent, 100.0);
  filled = (guint) (percent * width / 100.0 + 0.5);
  bar = g_string_new ("[");
  for (guint i = 0; i < width; i++)
    g_string_append (bar, i < filled ? "█" : "░");
  g_string_append_printf (bar, "] %3.0f%%", percent);
  if (reset_usec > 0)
    {
      g_autofree char *left = cf_statusline_format_remaining (reset_usec - now_usec);
      g_string_append_printf (bar, " ↻%s", left);
    }
  return g_string_free (bar, FALSE);
}

const char *
cf_ctl_dispatch_text (gboolean paused, const char *swap_state, guint available, guint accounts)
{
  if (paused)
    return _("paused by an operator (claude-failoverctl resume)");
  if (g_strcmp0 (swap_state, "saving") == 0 || g_strcmp0 (swap_state, "switching") == 0 ||
      g_strcmp0 (swap_state, "resuming") == 0)
    return _("held while the account switch runs");
  if (accounts > 0 && available == 0)
    return _("running, but every account is exhausted: sessions wait for a reset");
  return _("running");
}

void
cf_ctl_read_stdin (gint64 deadline, gsize max, GByteArray *input, gboolean *too_large)
{
  guint8 buffer[16384];

  for (;;)
    {
      struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
      gint64 now = g_get_monotonic_time ();
      ssize_t n;
      int r;

      if (now >= deadline)
        return;
      r = poll (&pfd, 1, (int) ((deadline - now + 999) / 1000));
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0 || (pfd.revents & POLLNVAL))
        return;
      n = read (STDIN_FILENO, buffer, sizeof buffer);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n <= 0)
        return;
      if (input->len + (gsize) n > max)
        *too_large = TRUE;
      if (!*too_large)
        g_byte_array_append (input, buffer, (guint) n);
    }
}
