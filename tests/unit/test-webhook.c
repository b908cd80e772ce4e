/* SPDX-License-Identifier: MIT */
#include <glib.h>
#include <string.h>

#include "cf-webhook.h"

/* 2026-07-15T12:00:00Z */
#define NOW_USEC ((gint64) 1784116800 * G_USEC_PER_SEC)

static const char *const swap_fields[] = { "from", "main", "to", "backup", NULL };

typedef struct {
  const char *what;
  CfWebhookKind kind;
  CfWebhookEvent event;
  const char *detail;
  const char *title;
  const char *body;
  const char *const *fields;
  const char *content_type;
  const char *expected_body;   /* exact */
  const char *expected_headers;/* "Name: value\n" each, exact; NULL = none */
} PayloadCase;

static const PayloadCase payload_cases[] = {
  { "generic carries the event, its detail and the fields", CF_WEBHOOK_GENERIC,
    CF_WEBHOOK_EVENT_SWAP, "swap-started", "Switching Claude account", "From main to backup.",
    swap_fields, "application/json",
    "{\"event\":\"swap\",\"kind\":\"swap-started\",\"title\":\"Switching Claude account\","
    "\"body\":\"From main to backup.\",\"host\":\"vm1\",\"time\":\"2026-07-15T12:00:00Z\","
    "\"fields\":{\"from\":\"main\",\"to\":\"backup\"}}", NULL },
  { "generic without fields, controls dropped, newlines kept", CF_WEBHOOK_GENERIC,
    CF_WEBHOOK_EVENT_TASK_DONE, "task-done", "Task\tt1\ndone", "line 1\nline\0332", NULL,
    "application/json",
    "{\"event\":\"task-done\",\"kind\":\"task-done\",\"title\":\"Task t1 done\","
    "\"body\":\"line 1\\nline2\",\"host\":\"vm1\",\"time\":\"2026-07-15T12:00:00Z\","
    "\"fields\":{}}", NULL },
  { "slack: bold title, body, footer; & < > escaped", CF_WEBHOOK_SLACK,
    CF_WEBHOOK_EVENT_TASK_FAILED, "task-failed", "Task <x> failed", "a & b <!channel>", NULL,
    "application/json",
    "{\"text\":\"*Task &lt;x&gt; failed*\\na &amp; b &lt;!channel&gt;\\n"
    "_claude-failover on vm1_\"}", NULL },
  { "slack without a body", CF_WEBHOOK_SLACK, CF_WEBHOOK_EVENT_LIMIT, "all-exhausted",
    "Every Claude account is exhausted", "", NULL, "application/json",
    "{\"text\":\"*Every Claude account is exhausted*\\n_claude-failover on vm1_\"}", NULL },
  { "discord: markdown escaped, no mentions", CF_WEBHOOK_DISCORD, CF_WEBHOOK_EVENT_NEEDS_INPUT,
    "needs-input", "ccl-auto-1 needs input", "@everyone *look*", NULL, "application/json",
    "{\"content\":\"**ccl\\\\-auto\\\\-1 needs input**\\n@everyone \\\\*look\\\\*\\n"
    "*claude\\\\-failover on vm1*\",\"allowed_mentions\":{\"parse\":[]}}", NULL },
  { "ntfy: text body, title/priority/tags headers", CF_WEBHOOK_NTFY, CF_WEBHOOK_EVENT_SWAP,
    "swap-finished", "Claude account switched", "Now on backup (was main).", NULL,
    "text/plain; charset=utf-8", "Now on backup (was main).\nclaude-failover on vm1",
    "Title: Claude account switched\nPriority: default\n"
    "Tags: arrows_counterclockwise,claude-failover\n" },
  { "ntfy: a partial swap is urgent, a non-ASCII title RFC 2047", CF_WEBHOOK_NTFY,
    CF_WEBHOOK_EVENT_SWAP, "partial-swap", "Échec", "", NULL, "text/plain; charset=utf-8",
    "claude-failover on vm1",
    "Title: =?UTF-8?B?w4ljaGVj?=\nPriority: urgent\nTags: arrows_counterclockwise,claude-failover\n" },
  { "ntfy: task-failed is high", CF_WEBHOOK_NTFY, CF_WEBHOOK_EVENT_TASK_FAILED, "task-failed",
    "Task t failed", "Project: /p", NULL, "text/plain; charset=utf-8",
    "Project: /p\nclaude-failover on vm1",
    "Title: Task t failed\nPriority: high\nTags: x,claude-failover\n" },
  { "ntfy: task-done is low", CF_WEBHOOK_NTFY, CF_WEBHOOK_EVENT_TASK_DONE, "task-done",
    "Task t done", "", NULL, "text/plain; charset=utf-8", "claude-failover on vm1",
    "Title: Task t done\nPriority: low\nTags: white_check_mark,claude-failover\n" },
};

static void
test_payload_table (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (payload_cases); i++)
    {
      const PayloadCase *c = &payload_cases[i];
      CfWebhookMessage message = {
        .event = c->event, .detail = c->detail, .title = c->title, .body = c->body,
        .fields = c->fields, .host = "vm1", .now_usec = NOW_USEC,
      };
      g_autoptr(CfWebhookPayload) payload = NULL;
      g_autoptr(GString) headers = g_string_new (NULL);
      g_autofree char *body = NULL;
      gsize size = 0;
      const char *data;

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, c->what);
      payload = cf_webhook_payload_build (c->kind, &message);
      data = g_bytes_get_data (payload->body, &size);
      body = g_strndup (data, size);
      g_assert_cmpstr (payload->content_type, ==, c->content_type);
      g_assert_cmpstr (body, ==, c->expected_body);
      for (guint j = 0; j + 1 < payload->headers->len; j += 2)
        g_string_append_printf (headers, "%s: %s\n", (char *) g_ptr_array_index (payload->headers, j),
                                (char *) g_ptr_array_index (payload->headers, j + 1));
      g_assert_cmpstr (headers->str, ==, c->expected_headers != NULL ? c->expected_headers : "");
    }
}

/* What each service refuses or hides is cut, on a character boundary. */
static void
test_limits (void)
{
  g_autoptr(GString) long_body = g_string_new (NULL);
  static const struct {
    CfWebhookKind kind;
    gsize max;                 /* characters of the text, bytes for ntfy */
  } limits[] = {
    { CF_WEBHOOK_SLACK, 3000 + 20 },
    { CF_WEBHOOK_DISCORD, 2000 + 60 },
    { CF_WEBHOOK_NTFY, 4000 },
  };

  for (guint i = 0; i < 3000; i++)
    g_string_append (long_body, "éé");
  for (gsize i = 0; i < G_N_ELEMENTS (limits); i++)
    {
      CfWebhookMessage message = {
        .event = CF_WEBHOOK_EVENT_TASK_FAILED, .detail = "task-failed", .title = "T",
        .body = long_body->str, .host = "h", .now_usec = NOW_USEC,
      };
      g_autoptr(CfWebhookPayload) payload = cf_webhook_payload_build (limits[i].kind, &message);
      gsize size = 0;
      const char *data = g_bytes_get_data (payload->body, &size);

      g_assert_true (g_utf8_validate (data, size, NULL));
      if (limits[i].kind == CF_WEBHOOK_NTFY)
        g_assert_cmpuint (size, <=, limits[i].max);
      else
        g_assert_cmpuint (g_utf8_strlen (data, size), <=, limits[i].max);
      g_assert_nonnull (g_strstr_len (data, size, "…"));
    }
}

static void
test_names (void)
{
  CfWebhookKind kind;
  CfWebhookEvent event;

  for (guint i = 0; i < CF_WEBHOOK_KIND_COUNT; i++)
    {
      g_assert_true (cf_webhook_kind_from_string (cf_webhook_kind_to_string (i), &kind));
      g_assert_cmpint (kind, ==, i);
    }
  g_assert_false (cf_webhook_kind_from_string ("teams", &kind));
  g_assert_false (cf_webhook_kind_from_string ("", &kind));
  for (guint bit = 1; bit & CF_WEBHOOK_EVENTS_ALL; bit <<= 1)
    {
      g_assert_true (cf_webhook_event_from_string (cf_webhook_event_to_string (bit), &event));
      g_assert_cmpuint (event, ==, bit);
    }
  g_assert_false (cf_webhook_event_from_string ("Swap", &event));
  g_assert_false (CF_WEBHOOK_EVENTS_DEFAULT & CF_WEBHOOK_EVENT_TASK_DONE);
}

static void
test_url_for_log (void)
{
  static const struct {
    const char *url;
    const char *shown;
  } cases[] = {
    { "https://hooks.slack.com/services/T000/B000/s3cr3tT0ken", "https://hooks.slack.com/…" },
    { "https://discord.com/api/webhooks/123/s3cr3tT0ken?wait=true", "https://discord.com/…" },
    { "http://user:s3cr3t@127.0.0.1:8080/topic", "http://127.0.0.1:8080/…" },
    { "http://[::1]:9/x", "http://[::1]:9/…" },
    { "not a url", "(invalid URL)" },
    { NULL, "(invalid URL)" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *shown = cf_webhook_url_for_log (cases[i].url);

      g_assert_cmpstr (shown, ==, cases[i].shown);
      g_assert_null (strstr (shown, "s3cr3t"));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/webhook/payloads", test_payload_table);
  g_test_add_func ("/webhook/limits", test_limits);
  g_test_add_func ("/webhook/names", test_names);
  g_test_add_func ("/webhook/url-for-log", test_url_for_log);
  return g_test_run ();
}
