/* SPDX-License-Identifier: MIT */
#include "cf-transcript.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "cf-json.h"

G_DEFINE_QUARK (cf-transcript-error-quark, cf_transcript_error)

void
cf_transcript_entry_clear (CfTranscriptEntry *entry)
{
  g_clear_pointer (&entry->error, g_free);
  g_clear_pointer (&entry->api_error, g_free);
  g_clear_pointer (&entry->rate_limit_type, g_free);
  g_clear_pointer (&entry->text, g_free);
  memset (entry, 0, sizeof *entry);
}

static const char *
member_string (JsonObject *object, const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
member_boolean (JsonObject *object, const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  return node != NULL && json_node_get_value_type (node) == G_TYPE_BOOLEAN
         && json_node_get_boolean (node);
}

/* An integral JSON number, else 0. */
static gint64
member_integer (JsonObject *object, const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64)
    return 0;
  return json_node_get_int (node);
}

static JsonObject *
member_object (JsonObject *object, const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* "message": {"content": "…"} or {"content": [{"type": "text", "text": "…"}, …]}. */
static char *
message_text (JsonObject *message)
{
  JsonNode *content = message ? json_object_get_member (message, "content") : NULL;
  g_autoptr(GString) text = g_string_new (NULL);

  if (content == NULL)
    return NULL;
  if (json_node_get_value_type (content) == G_TYPE_STRING)
    return cf_json_dup_text (json_node_get_string (content), CF_TRANSCRIPT_TEXT_MAX, NULL);
  if (!JSON_NODE_HOLDS_ARRAY (content))
    return NULL;

  for (guint i = 0; i < json_array_get_length (json_node_get_array (content)); i++)
    {
      JsonNode *block = json_array_get_element (json_node_get_array (content), i);
      JsonObject *object = JSON_NODE_HOLDS_OBJECT (block) ? json_node_get_object (block) : NULL;
      const char *piece = member_string (object, "text");

      if (piece == NULL || g_strcmp0 (member_string (object, "type"), "text") != 0)
        continue;
      if (text->len > 0)
        g_string_append_c (text, '\n');
      g_string_append (text, piece);
      if (text->len > CF_TRANSCRIPT_TEXT_MAX)
        break;
    }
  return text->len > 0 ? cf_json_dup_text (text->str, CF_TRANSCRIPT_TEXT_MAX, NULL) : NULL;
}

static gint64
parse_timestamp (const char *text)
{
  g_autoptr(GDateTime) instant = NULL;
  g_autoptr(GTimeZone) utc = NULL;

  if (text == NULL)
    return 0;
  utc = g_time_zone_new_utc ();
  instant = g_date_time_new_from_iso8601 (text, utc);
  return instant ? g_date_time_to_unix (instant) : 0;
}

gboolean
cf_transcript_line_parse (const char *line,
                          gsize length,
                          CfTranscriptEntry *out,
                          GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) json_error = NULL;
  JsonNode *root;
  JsonObject *object, *quota;

  g_return_val_if_fail (out != NULL, FALSE);
  memset (out, 0, sizeof *out);
  if (line == NULL)
    line = "";
  if (length == (gsize) -1)
    length = strlen (line);
  while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r'))
    length--;

  if (length > CF_TRANSCRIPT_LINE_MAX)
    {
      g_set_error (error, CF_TRANSCRIPT_ERROR, CF_TRANSCRIPT_ERROR_TOO_LARGE,
                   _("the transcript line is longer than %d bytes"), CF_TRANSCRIPT_LINE_MAX);
      return FALSE;
    }
  if (memchr (line, '\0', length) != NULL || !g_utf8_validate_len (line, length, NULL))
    {
      g_set_error (error, CF_TRANSCRIPT_ERROR, CF_TRANSCRIPT_ERROR_SYNTAX,
                   _("the transcript line is not UTF-8 text"));
      return FALSE;
    }
  /* json-glib recurses once per level: bound the depth before it reads. */
  if (!cf_json_check_syntax (line, length, CF_TRANSCRIPT_MAX_DEPTH, CF_JSON_CHECK_DEFAULT, &json_error))
    {
      g_set_error (error, CF_TRANSCRIPT_ERROR, CF_TRANSCRIPT_ERROR_SYNTAX,
                   _("the transcript line is not JSON: %s"), json_error->message);
      return FALSE;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, line, (gssize) length, &json_error))
    {
      g_autofree char *reason = g_utf8_make_valid (json_error->message, -1);

      g_set_error (error, CF_TRANSCRIPT_ERROR, CF_TRANSCRIPT_ERROR_SYNTAX,
                   _("the transcript line is not JSON: %s"), reason);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, CF_TRANSCRIPT_ERROR, CF_TRANSCRIPT_ERROR_NOT_OBJECT,
                   _("the transcript line is not a JSON object"));
      return FALSE;
    }
  object = json_node_get_object (root);

  out->assistant = g_strcmp0 (member_string (object, "type"), "assistant") == 0
                   && !member_boolean (object, "isSidechain");
  out->timestamp = parse_timestamp (member_string (object, "timestamp"));
  if (!out->assistant)
    return TRUE;

  out->is_api_error = member_boolean (object, "isApiErrorMessage");
  out->error = cf_json_dup_text (member_string (object, "error"), CF_TRANSCRIPT_LINE_MAX, NULL);
  out->api_error = cf_json_dup_text (member_string (object, "apiError"), CF_TRANSCRIPT_LINE_MAX, NULL);
  out->api_error_status = (int) CLAMP (member_integer (object, "apiErrorStatus"), 0, 999);
  quota = member_object (object, "quotaLimits");
  out->resets_at = CLAMP (member_integer (quota, "resetsAt"), 0, G_GINT64_CONSTANT (253402300799));
  out->rate_limit_type = cf_json_dup_text (member_string (quota, "rateLimitType"), CF_TRANSCRIPT_LINE_MAX, NULL);
  out->text = message_text (member_object (object, "message"));
  return TRUE;
}

guint
cf_transcript_cursor_feed (CfTranscriptCursor *cursor,
                           const char *bytes,
                           gsize length,
                           CfTranscriptEntry *newest)
{
  gsize pos = 0;
  guint seen = 0;

  g_return_val_if_fail (cursor != NULL && newest != NULL, 0);
  g_return_val_if_fail (bytes != NULL || length == 0, 0);
  while (pos < length)
    {
      const char *start = bytes + pos;
      const char *newline = memchr (start, '\n', length - pos);
      gsize line_length;

      if (newline == NULL)
        {
          /* A partial line: wait for its end, unless it can never fit. */
          if (cursor->skipping || length - pos >= CF_TRANSCRIPT_LINE_MAX)
            {
              cursor->skipping = TRUE;
              pos = length;
            }
          break;
        }
      line_length = (gsize) (newline - start);
      pos += line_length + 1;
      if (cursor->skipping)
        {
          cursor->skipping = FALSE;
          continue;
        }
      {
        g_auto(CfTranscriptEntry) entry = { 0 };

        if (line_length == 0 || !cf_transcript_line_parse (start, line_length, &entry, NULL) || !entry.assistant)
          continue;
        cf_transcript_entry_clear (newest);
        *newest = entry;
        memset (&entry, 0, sizeof entry);
        seen++;
      }
    }
  cursor->offset += pos;
  return seen;
}
