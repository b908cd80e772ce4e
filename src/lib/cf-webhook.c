/* SPDX-License-Identifier: MIT */
#include "cf-webhook.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "cf-json.h"

/* What each service shows in full: Discord refuses content over 2000
 * characters, Slack cuts a text block at 3000, ntfy turns a body over
 * 4096 bytes into an attachment. */
#define DISCORD_MAX_CHARS 2000
#define SLACK_MAX_CHARS 3000
#define NTFY_MAX_BYTES 4000
#define TITLE_MAX_CHARS 200

static const char *const kind_names[] = {
  [CF_WEBHOOK_GENERIC] = "generic",
  [CF_WEBHOOK_SLACK] = "slack",
  [CF_WEBHOOK_DISCORD] = "discord",
  [CF_WEBHOOK_NTFY] = "ntfy",
};
G_STATIC_ASSERT (G_N_ELEMENTS (kind_names) == CF_WEBHOOK_KIND_COUNT);

static const struct {
  CfWebhookEvent event;
  const char *name;
  const char *ntfy_tag;        /* an emoji short code ntfy shows */
  const char *ntfy_priority;
} events[] = {
  { CF_WEBHOOK_EVENT_SWAP, "swap", "arrows_counterclockwise", "default" },
  { CF_WEBHOOK_EVENT_LIMIT, "limit", "hourglass", "high" },
  { CF_WEBHOOK_EVENT_USAGE_WARNING, "usage-warning", "warning", "default" },
  { CF_WEBHOOK_EVENT_NEEDS_INPUT, "needs-input", "raising_hand", "high" },
  { CF_WEBHOOK_EVENT_TASK_FAILED, "task-failed", "x", "high" },
  { CF_WEBHOOK_EVENT_TASK_DONE, "task-done", "white_check_mark", "low" },
  { CF_WEBHOOK_EVENT_TASK_STUCK, "task-stuck", "floppy_disk", "high" },
};

const char *
cf_webhook_kind_to_string (CfWebhookKind kind)
{
  return (guint) kind < CF_WEBHOOK_KIND_COUNT ? kind_names[kind] : "unknown";
}

gboolean
cf_webhook_kind_from_string (const char *text, CfWebhookKind *out)
{
  for (guint i = 0; i < CF_WEBHOOK_KIND_COUNT; i++)
    if (g_strcmp0 (text, kind_names[i]) == 0)
      {
        *out = i;
        return TRUE;
      }
  return FALSE;
}

const char *
cf_webhook_event_to_string (CfWebhookEvent event)
{
  for (guint i = 0; i < G_N_ELEMENTS (events); i++)
    if (events[i].event == event)
      return events[i].name;
  return "unknown";
}

gboolean
cf_webhook_event_from_string (const char *text, CfWebhookEvent *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (events); i++)
    if (g_strcmp0 (text, events[i].name) == 0)
      {
        *out = events[i].event;
        return TRUE;
      }
  return FALSE;
}

/* ---- text ---------------------------------------------------------------- */

/* TEXT as valid UTF-8 without control characters: newlines kept when
 * KEEP_NEWLINES, else (and tabs always) made spaces. */
static char *
clean_text (const char *text, gboolean keep_newlines)
{
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", -1);
  GString *out = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c == '\n')
        g_string_append_c (out, keep_newlines ? '\n' : ' ');
      else if (c == '\t' || c == '\r')
        g_string_append_c (out, ' ');
      else if (c < 0x20 || c == 0x7f)
        continue;
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static char *
cut_chars (const char *text, glong max)
{
  g_autofree char *head = NULL;

  if (g_utf8_strlen (text, -1) <= max)
    return g_strdup (text);
  head = g_utf8_substring (text, 0, max - 1);
  return g_strconcat (head, "…", NULL);
}

/* At most MAX bytes, cut on a character boundary, "…" marking the cut. */
static char *
cut_bytes (const char *text, gsize max)
{
  const char *end;

  if (strlen (text) <= max)
    return g_strdup (text);
  end = text + max - strlen ("…");
  while (end > text && ((guchar) *end & 0xc0) == 0x80)
    end--;
  return g_strdup_printf ("%.*s…", (int) (end - text), text);
}

static char *
title_line (const CfWebhookMessage *message)
{
  g_autofree char *line = clean_text (message->title, FALSE);

  return cut_chars (line, TITLE_MAX_CHARS);
}

static char *
footer (const CfWebhookMessage *message)
{
  g_autofree char *host = clean_text (message->host != NULL ? message->host : "", FALSE);

  /* TRANSLATORS: the last line of every notification; %s is the host name. */
  return g_strdup_printf (_("claude-failover on %s"), host);
}

/* Slack's mrkdwn reads & < > as markup (links, mentions). */
static void
append_slack_escaped (GString *out, const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    switch (*p)
      {
      case '&':
        g_string_append (out, "&amp;");
        break;
      case '<':
        g_string_append (out, "&lt;");
        break;
      case '>':
        g_string_append (out, "&gt;");
        break;
      default:
        g_string_append_c (out, *p);
      }
}

/* Discord's markdown: a backslash makes each of these characters plain. */
static void
append_discord_escaped (GString *out, const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      if (strchr ("\\*_~`|>#[]()-", *p) != NULL)
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
}

static GBytes *
json_bytes (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  gsize length = 0;
  char *text;

  json_generator_set_root (generator, root);
  text = cf_json_generate (generator, &length);
  return g_bytes_new_take (text, length);
}

static void
add_member (JsonBuilder *builder, const char *name, const char *value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value);
}

/* ---- payloads ------------------------------------------------------------- */

static GBytes *
generic_body (const CfWebhookMessage *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc (message->now_usec / G_USEC_PER_SEC);
  g_autofree char *time_text = when != NULL ? g_date_time_format (when, "%FT%TZ") : g_strdup ("");
  g_autofree char *title = title_line (message);
  g_autofree char *body = clean_text (message->body, TRUE);
  g_autofree char *host = clean_text (message->host, FALSE);
  g_autofree char *detail = clean_text (message->detail, FALSE);

  json_builder_begin_object (builder);
  add_member (builder, "event", cf_webhook_event_to_string (message->event));
  add_member (builder, "kind", detail);
  add_member (builder, "title", title);
  add_member (builder, "body", body);
  add_member (builder, "host", host);
  add_member (builder, "time", time_text);
  json_builder_set_member_name (builder, "fields");
  json_builder_begin_object (builder);
  for (guint i = 0; message->fields != NULL && message->fields[i] != NULL &&
                    message->fields[i + 1] != NULL; i += 2)
    {
      g_autofree char *name = clean_text (message->fields[i], FALSE);
      g_autofree char *value = clean_text (message->fields[i + 1], TRUE);

      add_member (builder, name, value);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  return json_bytes (builder);
}

static GBytes *
slack_body (const CfWebhookMessage *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *title = title_line (message);
  g_autofree char *body = clean_text (message->body, TRUE);
  g_autofree char *foot = footer (message);
  g_autofree char *text = NULL;
  GString *out = g_string_new ("*");

  append_slack_escaped (out, title);
  g_string_append (out, "*\n");
  if (*body != '\0')
    {
      append_slack_escaped (out, body);
      g_string_append_c (out, '\n');
    }
  g_string_append_c (out, '_');
  append_slack_escaped (out, foot);
  g_string_append_c (out, '_');
  text = cut_chars (out->str, SLACK_MAX_CHARS);
  g_string_free (out, TRUE);

  json_builder_begin_object (builder);
  add_member (builder, "text", text);
  json_builder_end_object (builder);
  return json_bytes (builder);
}

static GBytes *
discord_body (const CfWebhookMessage *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *title = title_line (message);
  g_autofree char *body = clean_text (message->body, TRUE);
  g_autofree char *foot = footer (message);
  g_autofree char *content = NULL;
  GString *out = g_string_new ("**");

  append_discord_escaped (out, title);
  g_string_append (out, "**\n");
  if (*body != '\0')
    {
      append_discord_escaped (out, body);
      g_string_append_c (out, '\n');
    }
  g_string_append_c (out, '*');
  append_discord_escaped (out, foot);
  g_string_append_c (out, '*');
  content = cut_chars (out->str, DISCORD_MAX_CHARS);
  g_string_free (out, TRUE);

  json_builder_begin_object (builder);
  add_member (builder, "content", content);
  /* Text from task files must never ping @everyone or a role. */
  json_builder_set_member_name (builder, "allowed_mentions");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "parse");
  json_builder_begin_array (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  return json_bytes (builder);
}

/* A header value: ASCII as it is, anything else as an RFC 2047 encoded
 * word, which ntfy decodes. */
static char *
header_value (const char *text)
{
  g_autofree char *encoded = NULL;

  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p >= 0x80)
      {
        encoded = g_base64_encode ((const guchar *) text, strlen (text));
        return g_strdup_printf ("=?UTF-8?B?%s?=", encoded);
      }
  return g_strdup (text);
}

static const char *
ntfy_priority (const CfWebhookMessage *message)
{
  /* Nothing runs any more until a person acts. */
  if (g_strcmp0 (message->detail, "partial-swap") == 0 ||
      g_strcmp0 (message->detail, "all-exhausted") == 0)
    return "urgent";
  if (g_strcmp0 (message->detail, "swap-failed") == 0)
    return "high";
  /* The end of a problem already told. */
  if (g_strcmp0 (message->detail, "task-unstuck") == 0)
    return "default";
  for (guint i = 0; i < G_N_ELEMENTS (events); i++)
    if (events[i].event == message->event)
      return events[i].ntfy_priority;
  return "default";
}

static void
ntfy_payload (const CfWebhookMessage *message, CfWebhookPayload *payload)
{
  g_autofree char *title = title_line (message);
  g_autofree char *body = clean_text (message->body, TRUE);
  g_autofree char *foot = footer (message);
  g_autofree char *text = NULL;
  g_autofree char *cut = NULL;
  const char *tag = "bell";

  for (guint i = 0; i < G_N_ELEMENTS (events); i++)
    if (events[i].event == message->event)
      tag = events[i].ntfy_tag;
  text = *body != '\0' ? g_strconcat (body, "\n", foot, NULL) : g_strdup (foot);
  cut = cut_bytes (text, NTFY_MAX_BYTES);
  payload->content_type = g_strdup ("text/plain; charset=utf-8");
  payload->body = g_bytes_new (cut, strlen (cut));
  g_ptr_array_add (payload->headers, g_strdup ("Title"));
  g_ptr_array_add (payload->headers, header_value (title));
  g_ptr_array_add (payload->headers, g_strdup ("Priority"));
  g_ptr_array_add (payload->headers, g_strdup (ntfy_priority (message)));
  g_ptr_array_add (payload->headers, g_strdup ("Tags"));
  g_ptr_array_add (payload->headers, g_strdup_printf ("%s,claude-failover", tag));
}

CfWebhookPayload *
cf_webhook_payload_build (CfWebhookKind kind, const CfWebhookMessage *message)
{
  CfWebhookPayload *payload = g_new0 (CfWebhookPayload, 1);

  payload->headers = g_ptr_array_new_with_free_func (g_free);
  switch (kind)
    {
    case CF_WEBHOOK_SLACK:
      payload->body = slack_body (message);
      break;
    case CF_WEBHOOK_DISCORD:
      payload->body = discord_body (message);
      break;
    case CF_WEBHOOK_NTFY:
      ntfy_payload (message, payload);
      return payload;
    case CF_WEBHOOK_GENERIC:
    case CF_WEBHOOK_KIND_COUNT:
    default:
      payload->body = generic_body (message);
      break;
    }
  payload->content_type = g_strdup ("application/json");
  return payload;
}

void
cf_webhook_payload_free (CfWebhookPayload *payload)
{
  if (payload == NULL)
    return;
  g_free (payload->content_type);
  g_clear_pointer (&payload->body, g_bytes_unref);
  g_clear_pointer (&payload->headers, g_ptr_array_unref);
  g_free (payload);
}

char *
cf_webhook_url_for_log (const char *url)
{
  g_autoptr(GUri) uri = url != NULL ? g_uri_parse (url, G_URI_FLAGS_NONE, NULL) : NULL;
  const char *host;
  g_autofree char *clean = NULL;

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return g_strdup ("(invalid URL)");
  host = g_uri_get_host (uri);
  clean = clean_text (host, FALSE);
  if (g_uri_get_port (uri) > 0)
    return g_strdup_printf ("%s://%s%s%s:%d/…", g_uri_get_scheme (uri),
                            strchr (clean, ':') != NULL ? "[" : "", clean,
                            strchr (clean, ':') != NULL ? "]" : "", g_uri_get_port (uri));
  return g_strdup_printf ("%s://%s%s%s/…", g_uri_get_scheme (uri),
                          strchr (clean, ':') != NULL ? "[" : "", clean,
                          strchr (clean, ':') != NULL ? "]" : "");
}
