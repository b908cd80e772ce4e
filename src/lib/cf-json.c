/* SPDX-License-Identifier: MIT */
#include "cf-json.h"

#include <glib/gi18n.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (cf-json-error-quark, cf_json_error)

/* --- Strict syntax check --------------------------------------------------------- */

typedef enum {
  PROBLEM_NONE,
  PROBLEM_EMPTY,
  PROBLEM_UNEXPECTED_END,
  PROBLEM_TRAILING_DATA,
  PROBLEM_CONTROL_CHARACTER,
  PROBLEM_INVALID_U_ESCAPE,
  PROBLEM_INVALID_ESCAPE,
  PROBLEM_UNTERMINATED_STRING,
  PROBLEM_INVALID_NUMBER,
  PROBLEM_UNEXPECTED_CHARACTER,
  PROBLEM_EXPECTED_KEY,
  PROBLEM_EXPECTED_COLON,
  PROBLEM_EXPECTED_OBJECT_SEPARATOR,
  PROBLEM_EXPECTED_ARRAY_SEPARATOR,
  PROBLEM_TOO_DEEP,
  PROBLEM_NUL_ESCAPE,
  PROBLEM_LONE_SURROGATE,
  PROBLEM_INTEGER_RANGE,
  PROBLEM_NUMBER_RANGE,
} ScanProblem;

typedef struct {
  const char *data;
  gsize length;
  gsize pos;                   /* where the problem is */
  gboolean exact;
  ScanProblem problem;
} Scanner;

static gboolean
scanner_fail (Scanner *s, ScanProblem problem)
{
  s->problem = problem;
  return FALSE;
}

static void
skip_space (Scanner *s)
{
  while (s->pos < s->length)
    {
      char c = s->data[s->pos];

      if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
        break;
      s->pos++;
    }
}

/* The code unit of the \uXXXX escape at AT, or -1 when there is none. */
static int
u_escape_at (const Scanner *s, gsize at)
{
  int value = 0;

  if (at + 6 > s->length || s->data[at] != '\\' || s->data[at + 1] != 'u')
    return -1;
  for (guint k = 2; k < 6; k++)
    {
      if (!g_ascii_isxdigit (s->data[at + k]))
        return -1;
      value = value * 16 + g_ascii_xdigit_value (s->data[at + k]);
    }
  return value;
}

static gboolean
scan_string (Scanner *s)
{
  gsize start = s->pos;

  s->pos++;                    /* the opening quote */
  while (s->pos < s->length)
    {
      guchar c = (guchar) s->data[s->pos];

      if (c == '"')
        {
          s->pos++;
          return TRUE;
        }
      if (c < 0x20)
        return scanner_fail (s, PROBLEM_CONTROL_CHARACTER);
      if (c != '\\')
        {
          s->pos++;
          continue;
        }
      if (s->pos + 1 >= s->length)
        break;
      switch (s->data[s->pos + 1])
        {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          s->pos += 2;
          break;
        case 'u':
          for (guint k = 2; k < 6; k++)
            if (s->pos + k >= s->length || !g_ascii_isxdigit (s->data[s->pos + k]))
              return scanner_fail (s, PROBLEM_INVALID_U_ESCAPE);
          if (s->exact)
            {
              int unit = u_escape_at (s, s->pos);

              if (unit == 0)
                return scanner_fail (s, PROBLEM_NUL_ESCAPE);
              /* json-glib turns a lone surrogate into bytes that are not UTF-8. */
              if (unit >= 0xdc00 && unit <= 0xdfff)
                return scanner_fail (s, PROBLEM_LONE_SURROGATE);
              if (unit >= 0xd800 && unit <= 0xdbff)
                {
                  int low = u_escape_at (s, s->pos + 6);

                  if (low < 0xdc00 || low > 0xdfff)
                    return scanner_fail (s, PROBLEM_LONE_SURROGATE);
                  s->pos += 6;
                }
            }
          s->pos += 6;
          break;
        default:
          return scanner_fail (s, PROBLEM_INVALID_ESCAPE);
        }
    }
  /* The end of the input says nothing; where the string began does. */
  s->pos = start;
  return scanner_fail (s, PROBLEM_UNTERMINATED_STRING);
}

static gboolean
scan_digits (Scanner *s)
{
  gsize start = s->pos;

  while (s->pos < s->length && g_ascii_isdigit (s->data[s->pos]))
    s->pos++;
  return s->pos > start;
}

/* Whether json-glib reads the literal at START..END exactly: it keeps
 * integers as gint64 (wrapping around beyond) and the rest as doubles. */
static gboolean
number_is_exact (const char *start, gsize length, gboolean integer)
{
  g_autofree char *literal = g_strndup (start, length);

  if (integer)
    return g_ascii_string_to_signed (literal, 10, G_MININT64, G_MAXINT64, NULL, NULL);
  return isfinite (g_ascii_strtod (literal, NULL));
}

static gboolean
scan_number (Scanner *s)
{
  gsize start = s->pos;
  gboolean integer = TRUE;

  if (s->data[s->pos] == '-')
    s->pos++;
  if (s->pos < s->length && s->data[s->pos] == '0')
    s->pos++;
  else if (!scan_digits (s))
    return scanner_fail (s, PROBLEM_INVALID_NUMBER);
  if (s->pos < s->length && s->data[s->pos] == '.')
    {
      integer = FALSE;
      s->pos++;
      if (!scan_digits (s))
        return scanner_fail (s, PROBLEM_INVALID_NUMBER);
    }
  if (s->pos < s->length && (s->data[s->pos] == 'e' || s->data[s->pos] == 'E'))
    {
      integer = FALSE;
      s->pos++;
      if (s->pos < s->length && (s->data[s->pos] == '+' || s->data[s->pos] == '-'))
        s->pos++;
      if (!scan_digits (s))
        return scanner_fail (s, PROBLEM_INVALID_NUMBER);
    }
  if (s->exact && !number_is_exact (s->data + start, s->pos - start, integer))
    {
      s->pos = start;
      return scanner_fail (s, integer ? PROBLEM_INTEGER_RANGE : PROBLEM_NUMBER_RANGE);
    }
  return TRUE;
}

static gboolean
scan_literal (Scanner *s)
{
  static const char *const literals[] = { "true", "false", "null" };

  for (guint i = 0; i < G_N_ELEMENTS (literals); i++)
    {
      gsize n = strlen (literals[i]);

      if (s->length - s->pos >= n && memcmp (s->data + s->pos, literals[i], n) == 0)
        {
          s->pos += n;
          return TRUE;
        }
    }
  return scanner_fail (s, PROBLEM_UNEXPECTED_CHARACTER);
}

static gboolean
scan_scalar (Scanner *s)
{
  char c = s->data[s->pos];

  if (c == '"')
    return scan_string (s);
  if (c == '-' || g_ascii_isdigit (c))
    return scan_number (s);
  return scan_literal (s);
}

typedef enum {
  EXPECT_VALUE,
  EXPECT_VALUE_OR_CLOSE,       /* just after '[' */
  EXPECT_KEY,
  EXPECT_KEY_OR_CLOSE,         /* just after '{' */
  EXPECT_COLON,
  EXPECT_SEPARATOR,            /* after a value: ',' or the closing bracket */
} ScanState;

/* Iterative, with one byte of state per open container: no recursion. */
static gboolean
scan_document (Scanner *s, guint max_depth)
{
  g_autofree char *stack = g_malloc (MAX (max_depth, 1));
  guint depth = 0;
  ScanState state = EXPECT_VALUE;

  for (;;)
    {
      char c;

      skip_space (s);
      if (s->pos >= s->length)
        {
          if (state == EXPECT_SEPARATOR && depth == 0)
            return TRUE;
          /* Only the start of the document expects a value outside any container. */
          return scanner_fail (s, state == EXPECT_VALUE && depth == 0 ? PROBLEM_EMPTY
                                                                      : PROBLEM_UNEXPECTED_END);
        }
      c = s->data[s->pos];

      switch (state)
        {
        case EXPECT_VALUE_OR_CLOSE:
        case EXPECT_VALUE:
          if (state == EXPECT_VALUE_OR_CLOSE && c == ']')
            {
              depth--;
              s->pos++;
              state = EXPECT_SEPARATOR;
            }
          else if (c == '[' || c == '{')
            {
              if (depth == max_depth)
                return scanner_fail (s, PROBLEM_TOO_DEEP);
              stack[depth++] = c;
              s->pos++;
              state = c == '[' ? EXPECT_VALUE_OR_CLOSE : EXPECT_KEY_OR_CLOSE;
            }
          else if (scan_scalar (s))
            state = EXPECT_SEPARATOR;
          else
            return FALSE;
          break;

        case EXPECT_KEY_OR_CLOSE:
        case EXPECT_KEY:
          if (state == EXPECT_KEY_OR_CLOSE && c == '}')
            {
              depth--;
              s->pos++;
              state = EXPECT_SEPARATOR;
            }
          else if (c != '"')
            return scanner_fail (s, PROBLEM_EXPECTED_KEY);
          else if (scan_string (s))
            state = EXPECT_COLON;
          else
            return FALSE;
          break;

        case EXPECT_COLON:
          if (c != ':')
            return scanner_fail (s, PROBLEM_EXPECTED_COLON);
          s->pos++;
          state = EXPECT_VALUE;
          break;

        case EXPECT_SEPARATOR:
          if (depth == 0)
            return scanner_fail (s, PROBLEM_TRAILING_DATA);
          if (c == ',')
            {
              s->pos++;
              state = stack[depth - 1] == '{' ? EXPECT_KEY : EXPECT_VALUE;
            }
          else if (c == (stack[depth - 1] == '{' ? '}' : ']'))
            {
              depth--;
              s->pos++;
            }
          else
            return scanner_fail (s, stack[depth - 1] == '{' ? PROBLEM_EXPECTED_OBJECT_SEPARATOR
                                                            : PROBLEM_EXPECTED_ARRAY_SEPARATOR);
          break;
        }
    }
}

static const char *
describe_problem (ScanProblem problem, guint max_depth, char **owned)
{
  switch (problem)
    {
    case PROBLEM_EMPTY:
      return _("no JSON value, only white space");
    case PROBLEM_UNEXPECTED_END:
      return _("the JSON ends too early");
    case PROBLEM_TRAILING_DATA:
      return _("unexpected data after the JSON value");
    case PROBLEM_CONTROL_CHARACTER:
      return _("a control character inside a string");
    case PROBLEM_INVALID_U_ESCAPE:
      return _("an invalid \\u escape");
    case PROBLEM_INVALID_ESCAPE:
      return _("an invalid escape inside a string");
    case PROBLEM_UNTERMINATED_STRING:
      return _("a string that is never closed");
    case PROBLEM_INVALID_NUMBER:
      return _("an invalid number");
    case PROBLEM_EXPECTED_KEY:
      return _("expected a quoted member name");
    case PROBLEM_EXPECTED_COLON:
      return _("expected ':' after a member name");
    case PROBLEM_EXPECTED_OBJECT_SEPARATOR:
      return _("expected ',' or '}'");
    case PROBLEM_EXPECTED_ARRAY_SEPARATOR:
      return _("expected ',' or ']'");
    case PROBLEM_TOO_DEEP:
      *owned = g_strdup_printf (_("objects and arrays nested more than %u deep"), max_depth);
      return *owned;
    case PROBLEM_NUL_ESCAPE:
      return _("a \\u0000 character, which cannot be kept");
    case PROBLEM_LONE_SURROGATE:
      return _("a \\u escape of half a UTF-16 surrogate pair, which cannot be kept");
    case PROBLEM_INTEGER_RANGE:
      return _("an integer too large to be kept exactly");
    case PROBLEM_NUMBER_RANGE:
      return _("a number too large to be kept");
    case PROBLEM_NONE:
    case PROBLEM_UNEXPECTED_CHARACTER:
    default:
      return _("unexpected character");
    }
}

static CfJsonError
problem_code (ScanProblem problem)
{
  switch (problem)
    {
    case PROBLEM_EMPTY:
      return CF_JSON_ERROR_EMPTY;
    case PROBLEM_TOO_DEEP:
      return CF_JSON_ERROR_TOO_DEEP;
    case PROBLEM_NUL_ESCAPE:
    case PROBLEM_LONE_SURROGATE:
    case PROBLEM_INTEGER_RANGE:
    case PROBLEM_NUMBER_RANGE:
      return CF_JSON_ERROR_INEXACT;
    default:
      return CF_JSON_ERROR_SYNTAX;
    }
}

gboolean
cf_json_check_syntax (const char *data,
                      gsize length,
                      guint max_depth,
                      CfJsonCheckFlags flags,
                      GError **error)
{
  Scanner scanner = { .data = data, .length = length, .exact = (flags & CF_JSON_CHECK_EXACT) != 0 };
  g_autofree char *owned = NULL;
  const char *problem;
  guint line = 1, column = 1;

  g_return_val_if_fail (data != NULL || length == 0, FALSE);

  if (scan_document (&scanner, max_depth))
    return TRUE;

  problem = describe_problem (scanner.problem, max_depth, &owned);
  if (scanner.problem == PROBLEM_EMPTY)
    {
      g_set_error_literal (error, CF_JSON_ERROR, CF_JSON_ERROR_EMPTY, problem);
      return FALSE;
    }
  for (gsize i = 0; i < scanner.pos; i++)
    {
      if (data[i] == '\n')
        {
          line++;
          column = 1;
        }
      else if (((guchar) data[i] & 0xc0) != 0x80)
        column++;
    }
  /* TRANSLATORS: a JSON problem such as "an invalid number", then a position. */
  g_set_error (error, CF_JSON_ERROR, problem_code (scanner.problem),
               _("%s at line %u, column %u"), problem, line, column);
  return FALSE;
}

/* --- Writing as JSON.stringify (value, null, 2) ---------------------------------- */

static void
append_string (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    switch (*p)
      {
      case '"':
        g_string_append (out, "\\\"");
        break;
      case '\\':
        g_string_append (out, "\\\\");
        break;
      case '\b':
        g_string_append (out, "\\b");
        break;
      case '\f':
        g_string_append (out, "\\f");
        break;
      case '\n':
        g_string_append (out, "\\n");
        break;
      case '\r':
        g_string_append (out, "\\r");
        break;
      case '\t':
        g_string_append (out, "\\t");
        break;
      default:
        if (*p < 0x20)
          g_string_append_printf (out, "\\u%04x", *p);
        else
          g_string_append_c (out, (char) *p);
      }
  g_string_append_c (out, '"');
}

/* JavaScript's Number to String: the fewest significant digits that read
 * back as VALUE; plain decimals from 1e-6, else "1.5e+25". JavaScript
 * writes plain decimals up to 1e21, but from 1e18 on those read as integers
 * beyond gint64, which json-glib wraps around: they keep an exponent. */
static void
append_double (GString *out, double value)
{
  char exponential[G_ASCII_DTOSTR_BUF_SIZE];
  char format[16];
  const char *e;
  int digits, exponent;

  if (!isfinite (value))
    {
      g_string_append (out, "null");
      return;
    }
  if (value == 0)
    {
      g_string_append_c (out, '0');
      return;
    }
  for (digits = 1; digits < 17; digits++)
    {
      g_snprintf (format, sizeof format, "%%.%de", digits - 1);
      g_ascii_formatd (exponential, sizeof exponential, format, value);
      if (g_ascii_strtod (exponential, NULL) == value)
        break;
    }
  g_snprintf (format, sizeof format, "%%.%de", digits - 1);
  g_ascii_formatd (exponential, sizeof exponential, format, value);
  e = strchr (exponential, 'e');
  exponent = atoi (e + 1);

  if (exponent >= -6 && exponent < 18)
    {
      char plain[400];

      g_snprintf (format, sizeof format, "%%.%df", MAX (0, digits - 1 - exponent));
      g_ascii_formatd (plain, sizeof plain, format, value);
      g_string_append (out, plain);
      return;
    }
  /* "%e" pads the exponent to two digits and omits no sign; JavaScript
   * writes "e+25" and "e-7". */
  g_string_append_len (out, exponential, e - exponential);
  g_string_append_printf (out, "e%c%d", exponent < 0 ? '-' : '+', ABS (exponent));
}

static void
append_indent (GString *out, guint level)
{
  for (guint i = 0; i < level; i++)
    g_string_append (out, "  ");
}

static void
append_node (GString *out, JsonNode *node, guint level)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr(GList) names = json_object_get_members (object);

        if (names == NULL)
          {
            g_string_append (out, "{}");
            break;
          }
        g_string_append (out, "{\n");
        for (GList *l = names; l != NULL; l = l->next)
          {
            append_indent (out, level + 1);
            append_string (out, l->data);
            g_string_append (out, ": ");
            append_node (out, json_object_get_member (object, l->data), level + 1);
            g_string_append (out, l->next != NULL ? ",\n" : "\n");
          }
        append_indent (out, level);
        g_string_append_c (out, '}');
        break;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        if (n == 0)
          {
            g_string_append (out, "[]");
            break;
          }
        g_string_append (out, "[\n");
        for (guint i = 0; i < n; i++)
          {
            append_indent (out, level + 1);
            append_node (out, json_array_get_element (array, i), level + 1);
            g_string_append (out, i + 1 < n ? ",\n" : "\n");
          }
        append_indent (out, level);
        g_string_append_c (out, ']');
        break;
      }
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          append_double (out, json_node_get_double (node));
          break;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          break;
        case G_TYPE_STRING:
          append_string (out, json_node_get_string (node));
          break;
        default:
          g_string_append (out, "null");
          break;
        }
      break;
    case JSON_NODE_NULL:
    default:
      g_string_append (out, "null");
      break;
    }
}

char *
cf_json_to_string (JsonNode *node)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (node != NULL, NULL);
  append_node (out, node, 0);
  return g_string_free (out, FALSE);
}

char *
cf_json_generate (JsonGenerator *generator, gsize *length)
{
  gsize n = 0;
  g_autofree char *raw = json_generator_to_data (generator, &n);
  const char *p = raw;
  GString *out;

  while (*p != '\0' && ((guchar) *p >= 0x20 || *p == '\n'))
    p++;
  if (*p == '\0')
    {
      if (length != NULL)
        *length = n;
      return g_steal_pointer (&raw);
    }
  /* Outside strings json-glib writes no control character but the
   * newline; inside them a raw one is always a character to escape. UTF-8
   * continuation bytes are >= 0x80, so bytes are enough. */
  out = g_string_new_len (raw, p - raw);
  for (; *p != '\0'; p++)
    {
      if ((guchar) *p < 0x20 && *p != '\n')
        g_string_append_printf (out, "\\u%04x", (guint) (guchar) *p);
      else
        g_string_append_c (out, *p);
    }
  if (length != NULL)
    *length = out->len;
  return g_string_free (out, FALSE);
}

char *
cf_json_dup_text (const char *text, gsize max, gboolean *truncated)
{
  g_autofree char *valid = NULL;
  const char *cut;

  if (truncated != NULL)
    *truncated = FALSE;
  if (text == NULL)
    return NULL;
  valid = g_utf8_validate (text, -1, NULL) ? g_strdup (text) : g_utf8_make_valid (text, -1);
  if (strlen (valid) <= max)
    return g_steal_pointer (&valid);
  if (truncated != NULL)
    *truncated = TRUE;
  /* valid[max] starts the first character that does not fit whole, unless
   * it is a continuation byte of one that straddles the end. */
  cut = valid + max;
  while (cut > valid && ((guchar) *cut & 0xc0) == 0x80)
    cut--;
  return g_strndup (valid, (gsize) (cut - valid));
}
