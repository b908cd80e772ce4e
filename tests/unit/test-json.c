/* SPDX-License-Identifier: MIT */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "cf-json.h"

/* --- cf_json_check_syntax ---------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *text;
  guint max_depth;
  CfJsonCheckFlags flags;
  gboolean ok;
  CfJsonError code;
  const char *message;         /* exact */
} CheckCase;

static const CheckCase check_cases[] = {
  { "object", "{\"a\":[1,-2.5e+3,true,false,null,\"x\"],\"b\":{}}", 8, 0, TRUE, 0, NULL },
  { "scalar-top-level", " 42 ", 8, 0, TRUE, 0, NULL },
  { "string-top-level", "\"\\u00e9\\n\"", 8, 0, TRUE, 0, NULL },
  { "empty-containers", "[[],{},[{}]]", 8, 0, TRUE, 0, NULL },
  { "depth-exact", "[[[]]]", 3, 0, TRUE, 0, NULL },
  { "depth-over", "[[[[]]]]", 3, 0, FALSE, CF_JSON_ERROR_TOO_DEEP,
    "objects and arrays nested more than 3 deep at line 1, column 4" },
  { "empty", "", 8, 0, FALSE, CF_JSON_ERROR_EMPTY, "no JSON value, only white space" },
  { "blank", " \r\n ", 8, 0, FALSE, CF_JSON_ERROR_EMPTY, "no JSON value, only white space" },
  { "unexpected-end", "{\"a\":[1,", 8, 0, FALSE, CF_JSON_ERROR_SYNTAX,
    "the JSON ends too early at line 1, column 9" },
  { "second-line", "{\n  \"a\": tru\n}", 8, 0, FALSE, CF_JSON_ERROR_SYNTAX,
    "unexpected character at line 2, column 8" },
  { "comment", "{} // x", 8, 0, FALSE, CF_JSON_ERROR_SYNTAX,
    "unexpected data after the JSON value at line 1, column 4" },
  { "crlf-lines", "{\r\n\"a\":1\r\n,}", 8, 0, FALSE, CF_JSON_ERROR_SYNTAX,
    "expected a quoted member name at line 3, column 2" },
  { "big-integer-default", "[12345678901234567890]", 8, 0, TRUE, 0, NULL },
  { "big-integer-exact", "[1, 12345678901234567890]", 8, CF_JSON_CHECK_EXACT, FALSE,
    CF_JSON_ERROR_INEXACT, "an integer too large to be kept exactly at line 1, column 5" },
  { "int64-limits-exact", "[9223372036854775807,-9223372036854775808]", 8, CF_JSON_CHECK_EXACT,
    TRUE, 0, NULL },
  { "int64-over-exact", "[-9223372036854775809]", 8, CF_JSON_CHECK_EXACT, FALSE,
    CF_JSON_ERROR_INEXACT, "an integer too large to be kept exactly at line 1, column 2" },
  { "huge-double-exact", "{\"a\": 1e999}", 8, CF_JSON_CHECK_EXACT, FALSE, CF_JSON_ERROR_INEXACT,
    "a number too large to be kept at line 1, column 7" },
  { "tiny-double-exact", "[1e-999, 1.5e300]", 8, CF_JSON_CHECK_EXACT, TRUE, 0, NULL },
  { "nul-escape-default", "[\"a\\u0000b\"]", 8, 0, TRUE, 0, NULL },
  { "nul-escape-exact", "[\"a\\u0000b\"]", 8, CF_JSON_CHECK_EXACT, FALSE, CF_JSON_ERROR_INEXACT,
    "a \\u0000 character, which cannot be kept at line 1, column 4" },
  { "surrogate-pair-exact", "[\"\\ud83d\\ude00\\uD83D\\uDE00\"]", 8, CF_JSON_CHECK_EXACT, TRUE, 0, NULL },
  { "lone-high-surrogate-exact", "[\"ab\\udb9dE\"]", 8, CF_JSON_CHECK_EXACT, FALSE,
    CF_JSON_ERROR_INEXACT,
    "a \\u escape of half a UTF-16 surrogate pair, which cannot be kept at line 1, column 5" },
  { "high-then-high-exact", "[\"\\ud83d\\ud83d\"]", 8, CF_JSON_CHECK_EXACT, FALSE,
    CF_JSON_ERROR_INEXACT, "a \\u escape of half a UTF-16 surrogate pair, which cannot be kept at line 1, column 3" },
  { "high-at-end-exact", "[\"\\ud83d", 8, CF_JSON_CHECK_EXACT, FALSE,
    CF_JSON_ERROR_INEXACT, "a \\u escape of half a UTF-16 surrogate pair, which cannot be kept at line 1, column 3" },
  { "lone-low-surrogate-exact", "[\"\\udc00\"]", 8, CF_JSON_CHECK_EXACT, FALSE,
    CF_JSON_ERROR_INEXACT, "a \\u escape of half a UTF-16 surrogate pair, which cannot be kept at line 1, column 3" },
  { "lone-surrogate-default", "[\"\\udc00\"]", 8, 0, TRUE, 0, NULL },
  { "escaped-backslash-then-u0000-exact", "[\"a\\\\u0000\"]", 8, CF_JSON_CHECK_EXACT, TRUE, 0, NULL },
};

static void
test_check (gconstpointer data)
{
  const CheckCase *c = data;
  g_autoptr(GError) error = NULL;
  gboolean ok = cf_json_check_syntax (c->text, strlen (c->text), c->max_depth, c->flags, &error);

  if (c->ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      return;
    }
  g_assert_false (ok);
  g_assert_error (error, CF_JSON_ERROR, (gint) c->code);
  g_assert_cmpstr (error->message, ==, c->message);
}

static void
test_check_length (void)
{
  g_autoptr(GError) error = NULL;

  /* Bytes past LENGTH are not looked at. */
  g_assert_true (cf_json_check_syntax ("{}garbage", 2, 4, 0, &error));
  g_assert_false (cf_json_check_syntax ("{\"a\":1}", 6, 4, 0, &error));
  g_assert_error (error, CF_JSON_ERROR, CF_JSON_ERROR_SYNTAX);
}

/* --- cf_json_to_string -------------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *json;
  const char *expected;        /* what JSON.stringify (JSON.parse (json), null, 2) gives,
                                  except 1e18 and beyond (see append_double) */
} WriteCase;

static const WriteCase write_cases[] = {
  { "empty-object", "{}", "{}" },
  { "empty-array", " [ ] ", "[]" },
  { "nested",
    "{\"hooks\":{\"Stop\":[{\"matcher\":\"\",\"hooks\":[{\"type\":\"command\",\"command\":\"x\",\"timeout\":5}]}]},\"e\":{},\"l\":[]}",
    "{\n"
    "  \"hooks\": {\n"
    "    \"Stop\": [\n"
    "      {\n"
    "        \"matcher\": \"\",\n"
    "        \"hooks\": [\n"
    "          {\n"
    "            \"type\": \"command\",\n"
    "            \"command\": \"x\",\n"
    "            \"timeout\": 5\n"
    "          }\n"
    "        ]\n"
    "      }\n"
    "    ]\n"
    "  },\n"
    "  \"e\": {},\n"
    "  \"l\": []\n"
    "}" },
  { "member-order-kept", "{\"z\":1,\"a\":2,\"m\":3}", "{\n  \"z\": 1,\n  \"a\": 2,\n  \"m\": 3\n}" },
  { "scalars", "[true,false,null,-0,0,-7,9223372036854775807]",
    "[\n  true,\n  false,\n  null,\n  0,\n  0,\n  -7,\n  9223372036854775807\n]" },
  { "strings",
    "[\"quote \\\" backslash \\\\ slash \\/ tab \\t nl \\n cr \\r bs \\b ff \\f\",\"\\u0001\\u001f\\u007f\",\"é ✓ 😀 \\u00e9\"]",
    "[\n  \"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f\",\n"
    "  \"\\u0001\\u001f\x7f\",\n  \"é ✓ 😀 é\"\n]" },
  { "doubles",
    "[0.1,1e3,1.5e25,1e-7,0.000001,1e20,1e21,999999999999999900,-2.5,123.456,5e-324,1.7976931348623157e308,"
    "-0.0,0.30000000000000004,100.0,2e-6,1.25e-10]",
    "[\n  0.1,\n  1000,\n  1.5e+25,\n  1e-7,\n  0.000001,\n  1e+20,\n  1e+21,\n  999999999999999900,\n"
    "  -2.5,\n  123.456,\n  5e-324,\n  1.7976931348623157e+308,\n  0,\n  0.30000000000000004,\n"
    "  100,\n  0.000002,\n  1.25e-10\n]" },
};

static void
test_write (gconstpointer data)
{
  const WriteCase *c = data;
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  g_assert_true (json_parser_load_from_data (parser, c->json, -1, &error));
  g_assert_no_error (error);
  text = cf_json_to_string (json_parser_get_root (parser));
  g_assert_cmpstr (text, ==, c->expected);
}

/* Writing what was read gives the same text back: the fixed point Claude
 * Code's own settings.json is in. */
static void
test_write_fixed_point (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (write_cases); i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new_immutable ();
      g_autofree char *again = NULL;

      g_assert_true (json_parser_load_from_data (parser, write_cases[i].expected, -1, NULL));
      again = cf_json_to_string (json_parser_get_root (parser));
      g_assert_cmpstr (again, ==, write_cases[i].expected);
    }
}

static void
test_write_non_finite (void)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);
  g_autofree char *text = NULL;

  json_node_set_double (node, 1.0 / 0.0);
  text = cf_json_to_string (node);
  g_assert_cmpstr (text, ==, "null");
}

/* Every control character in a string survives cf_json_generate and a
 * parse, compact and pretty (json-glib 1.6 alone writes U+001F raw: the
 * state file was then unreadable, found by fuzz-state). */
static void
test_generate_control_characters (void)
{
  for (int pretty = 0; pretty <= 1; pretty++)
    for (guint c = 1; c < 0x20; c++)
      {
        g_autofree char *value = g_strdup_printf ("a%cb\n", (char) c);
        g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
        g_autoptr(JsonObject) object = json_object_new ();
        g_autoptr(JsonGenerator) generator = json_generator_new ();
        g_autoptr(JsonParser) parser = json_parser_new ();
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        gsize length = 0;
        JsonObject *back;

        json_object_set_string_member (object, "k", value);
        json_node_set_object (node, object);
        json_generator_set_root (generator, node);
        json_generator_set_pretty (generator, pretty);
        text = cf_json_generate (generator, &length);
        g_assert_cmpuint (length, ==, strlen (text));
        g_assert_true (cf_json_check_syntax (text, length, 8, CF_JSON_CHECK_DEFAULT, &error));
        g_assert_no_error (error);
        g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
        g_assert_no_error (error);
        back = json_node_get_object (json_parser_get_root (parser));
        g_assert_cmpstr (json_object_get_string_member (back, "k"), ==, value);
      }
}

/* Strings from a json-glib tree come out UTF-8 and bounded. json-glib 1.6
 * turns a lone surrogate into the three bytes of its CESU-8 form and may eat
 * the character after it: for those rows only the prefix is compared. */
static const struct {
  const char *name, *json_string, *expected;
  gsize max;
  gboolean truncated, prefix_only;
} dup_text_cases[] = {
  { "plain", "\"abc\"", "abc", 10, FALSE, FALSE },
  { "exactly-max", "\"abc\"", "abc", 3, FALSE, FALSE },
  { "cut", "\"abcdef\"", "abc", 3, TRUE, FALSE },
  { "cut-before-straddling-character", "\"ab\u00e9\"", "ab", 3, TRUE, FALSE },
  { "pair-kept", "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 10, FALSE, FALSE },
  { "lone-high-surrogate", "\"a\\ud945 b\"", "a\xef\xbf\xbd", 20, FALSE, TRUE },
  { "lone-surrogate-then-text", "\"\\ud800_hour\"", "\xef\xbf\xbd", 40, FALSE, TRUE },
  { "replacement-cut-whole", "\"ab\\ud945 c\"", "ab", 4, TRUE, FALSE },
};

static void
test_dup_text (gconstpointer data)
{
  const __typeof__ (dup_text_cases[0]) *c = data;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *copy = NULL;
  gboolean truncated = !c->truncated;

  g_assert_true (json_parser_load_from_data (parser, c->json_string, -1, &error));
  g_assert_no_error (error);
  copy = cf_json_dup_text (json_node_get_string (json_parser_get_root (parser)), c->max, &truncated);
  g_assert_nonnull (copy);
  g_assert_true (g_utf8_validate (copy, -1, NULL));
  g_assert_cmpuint (strlen (copy), <=, c->max);
  if (c->prefix_only)
    g_assert_true (g_str_has_prefix (copy, c->expected));
  else
    g_assert_cmpstr (copy, ==, c->expected);
  g_assert_cmpint (truncated, ==, c->truncated);
  g_assert_null (cf_json_dup_text (NULL, 10, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (check_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/json/check/%s", check_cases[i].name);
      g_test_add_data_func (path, &check_cases[i], test_check);
    }
  for (guint i = 0; i < G_N_ELEMENTS (write_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/json/write/%s", write_cases[i].name);
      g_test_add_data_func (path, &write_cases[i], test_write);
    }
  for (guint i = 0; i < G_N_ELEMENTS (dup_text_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/json/dup-text/%s", dup_text_cases[i].name);
      g_test_add_data_func (path, &dup_text_cases[i], test_dup_text);
    }
  g_test_add_func ("/json/check/length-is-respected", test_check_length);
  g_test_add_func ("/json/write/fixed-point", test_write_fixed_point);
  g_test_add_func ("/json/write/non-finite", test_write_non_finite);
  g_test_add_func ("/json/generate/control-characters", test_generate_control_characters);
  return g_test_run ();
}
