/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* What json-glib leaves out when reading and writing JSON that other
 * programs own (Claude Code's hook input and settings.json). Pure. */

#define CF_JSON_ERROR (cf_json_error_quark ())
GQuark cf_json_error_quark (void);

typedef enum {
  CF_JSON_ERROR_EMPTY,         /* nothing but white space */
  CF_JSON_ERROR_SYNTAX,        /* not RFC 8259 JSON */
  CF_JSON_ERROR_TOO_DEEP,      /* objects and arrays nested deeper than allowed */
  CF_JSON_ERROR_INEXACT,       /* CF_JSON_CHECK_EXACT: a value json-glib would change */
} CfJsonError;

typedef enum {
  CF_JSON_CHECK_DEFAULT = 0,
  /* Also refuse what a json-glib tree cannot carry unchanged: integers
   * outside gint64 (json-glib wraps them around), numbers that overflow a
   * double, \u0000 in strings (C strings end there) and \u escapes of lone
   * UTF-16 surrogates (json-glib makes them bytes that are not UTF-8). For
   * files that are rewritten from the tree. */
  CF_JSON_CHECK_EXACT = 1 << 0,
} CfJsonCheckFlags;

/* TRUE when the LENGTH bytes of DATA are one RFC 8259 JSON value, with
 * objects and arrays nested at most MAX_DEPTH deep. Runs in constant stack
 * space, so it can guard json-glib, whose parser recurses once per level and
 * also accepts comments, single-quoted strings, leading zeros and a second
 * value after the first. DATA need not be NUL-terminated; the caller checks
 * that it is UTF-8. Messages read "PROBLEM at line L, column C", columns
 * counting characters from 1. */
gboolean cf_json_check_syntax (const char *data,
                               gsize length,
                               guint max_depth,
                               CfJsonCheckFlags flags,
                               GError **error);

/* NODE written as JavaScript's JSON.stringify (value, null, 2) writes it,
 * which is how Claude Code writes settings.json: two-space indentation,
 * "key": value, {} and [] when empty, non-ASCII characters as they are,
 * doubles in their shortest exact form; a non-finite double is null, as in
 * JavaScript. No trailing newline. */
char *cf_json_to_string (JsonNode *node);

/* GENERATOR's JSON (json_generator_to_data), made valid: json-glib 1.6
 * writes the control character U+001F raw inside strings, which no JSON
 * parser (its own included) reads back. Every raw control byte but the
 * newline of pretty printing becomes \u00XX; json-glib escapes the others
 * itself. LENGTH (may be NULL) gets the length. */
char *cf_json_generate (JsonGenerator *generator, gsize *length);

/* A copy of TEXT, a string taken from a json-glib tree, that is UTF-8 and at
 * most MAX bytes long: json-glib turns a \u escape of a lone UTF-16
 * surrogate into bytes that are not UTF-8, and each such sequence becomes
 * U+FFFD; a longer text is cut at a character boundary, and TRUNCATED (may
 * be NULL) says so. NULL for NULL. */
char *cf_json_dup_text (const char *text, gsize max, gboolean *truncated);

G_END_DECLS
