/* SPDX-License-Identifier: MIT */
#include "cf-notify-reply.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "cf-json.h"

static char *
string_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);
  const char *value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  value = json_node_get_string (node);
  /* json-glib turns \u escapes of lone surrogates into bytes that are not
   * UTF-8, and \u0000 ends the C string early: keep only real text. */
  if (value == NULL || *value == '\0' || !g_utf8_validate (value, -1, NULL))
    return NULL;
  return g_strdup (value);
}

static gint64
retry_after_member (JsonObject *object)
{
  JsonNode *node = json_object_get_member (object, "parameters");
  JsonNode *value;
  gint64 seconds;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return -1;
  value = json_object_get_member (json_node_get_object (node), "retry_after");
  if (value == NULL || !JSON_NODE_HOLDS_VALUE (value) ||
      json_node_get_value_type (value) != G_TYPE_INT64)
    return -1;
  seconds = json_node_get_int (value);
  if (seconds < 0 || seconds > G_MAXUINT32)
    return -1;
  return seconds * 1000;
}

static void
read_json (const char *data, gsize size, CfNotifyReply *out)
{
  static const char *const keys[] = { "description", "message", "error" };
  g_autoptr(JsonParser) parser = NULL;
  JsonNode *root;
  JsonObject *object;

  if (!cf_json_check_syntax (data, size, CF_NOTIFY_REPLY_MAX_DEPTH, CF_JSON_CHECK_DEFAULT, NULL))
    return;
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) size, NULL))
    return;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  object = json_node_get_object (root);
  for (guint i = 0; out->detail == NULL && i < G_N_ELEMENTS (keys); i++)
    out->detail = string_member (object, keys[i]);
  out->retry_after_ms = retry_after_member (object);
}

/* The first CF_NOTIFY_REPLY_SNIPPET characters of a body that is UTF-8
 * (a cut through the last character is forgiven), else NULL. */
static char *
snippet (const char *data, gsize size)
{
  /* A character is at most 4 bytes: no need to look further. */
  gsize look = MIN (size, (gsize) CF_NOTIFY_REPLY_SNIPPET * 4);
  const char *end = NULL;
  const char *p = data;
  guint count = 0;

  if (g_utf8_validate_len (data, look, &end))
    end = data + look;
  else if (look - (gsize) (end - data) >= 4 ||
           g_utf8_get_char_validated (end, (gssize) (data + look - end)) != (gunichar) -2)
    return NULL;   /* not UTF-8 (or a NUL), not just a character cut at the end */
  while (p < end && count < CF_NOTIFY_REPLY_SNIPPET)
    {
      p = g_utf8_next_char (p);
      count++;
    }
  if (p == data)
    return NULL;
  return g_strndup (data, (gsize) (p - data));
}

void
cf_notify_reply_read (const char *data, gsize size, CfNotifyReply *out)
{
  g_return_if_fail (out != NULL);

  out->detail = NULL;
  out->retry_after_ms = -1;
  if (data == NULL || size == 0)
    return;
  if (size <= CF_NOTIFY_REPLY_MAX && memchr (data, '\0', size) == NULL &&
      g_utf8_validate_len (data, size, NULL))
    read_json (data, size, out);
  if (out->detail == NULL)
    out->detail = snippet (data, size);
}

void
cf_notify_reply_clear (CfNotifyReply *reply)
{
  g_clear_pointer (&reply->detail, g_free);
  reply->retry_after_ms = -1;
}
