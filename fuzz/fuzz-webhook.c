/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the webhook payloads and the event-stream framing:
 * any bytes as a notification's title, body, field and host (split at NUL
 * bytes) give, for every kind, a body that is UTF-8 (JSON that parses back
 * for the JSON kinds), header values with no line break, and SSE frames
 * that hold exactly one event. Never crash. */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-sse.h"
#include "cf-webhook.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *copy = g_malloc0 (size + 1);
  const char *parts[4] = { "", "", "", "" };
  const char *fields[3] = { NULL, NULL, NULL };
  const char *p = copy;
  g_autofree char *frame = NULL;

  if (size > 0)
    memcpy (copy, data, size);
  for (guint i = 0; i < 4 && p < copy + size; i++)
    {
      parts[i] = p;
      p += strlen (p) + 1;
    }
  fields[0] = "x";
  fields[1] = parts[2];

  for (guint kind = 0; kind < CF_WEBHOOK_KIND_COUNT; kind++)
    {
      CfWebhookMessage message = {
        .event = CF_WEBHOOK_EVENT_TASK_FAILED, .detail = "task-failed", .title = parts[0],
        .body = parts[1], .fields = fields, .host = parts[3], .now_usec = 0,
      };
      g_autoptr(CfWebhookPayload) payload = cf_webhook_payload_build (kind, &message);
      gsize length = 0;
      const char *body = g_bytes_get_data (payload->body, &length);

      g_assert_true (g_utf8_validate (body, length, NULL));
      if (g_str_equal (payload->content_type, "application/json"))
        {
          g_autoptr(JsonParser) parser = json_parser_new ();

          g_assert_true (json_parser_load_from_data (parser, body, length, NULL));
        }
      for (guint i = 0; i < payload->headers->len; i++)
        {
          const char *value = g_ptr_array_index (payload->headers, i);

          g_assert_null (strpbrk (value, "\r\n"));
        }
    }

  frame = cf_sse_event (parts[0], parts[1]);
  g_assert_true (g_str_has_suffix (frame, "\n\n"));
  /* The blank line that ends an event appears only at the end. */
  g_assert_true (strstr (frame, "\n\n") == frame + strlen (frame) - 2);
  g_assert_null (strchr (frame, '\r'));
  return 0;
}
