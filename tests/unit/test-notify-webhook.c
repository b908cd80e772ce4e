/* SPDX-License-Identifier: MIT */
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "cf-alerts.h"
#include "cf-test-util.h"

/* notifications.webhooks: generic, Slack, Discord and ntfy peers played by
 * one in-process SoupServer on loopback that records every request and
 * answers from a per-path script. */

#define TOKEN "s3cr3t-T0KEN-abc123"

typedef struct {
  char *path;
  char *content_type;
  char *title, *priority, *tags;
  char *body;
} Recorded;

typedef struct {
  SoupServer *server;
  char *url;
  GPtrArray *requests;         /* Recorded* */
  GHashTable *statuses;        /* path → GUINT status, 0 = hang; missing = 200 */
  GPtrArray *hanging;
  CfState *state;
  CfTaskEvents *task_events;
  CfConfig *config;
  CfNotify *notify;
} Fixture;

static GPtrArray *all_logs;

static GLogWriterOutput
record_everything (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                   gpointer user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      g_ptr_array_add (all_logs, fields[i].length < 0 ? g_strdup (fields[i].value)
                                                      : g_strndup (fields[i].value, fields[i].length));
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    return g_log_writer_default (level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

static void
recorded_free (Recorded *r)
{
  g_free (r->path);
  g_free (r->content_type);
  g_free (r->title);
  g_free (r->priority);
  g_free (r->tags);
  g_free (r->body);
  g_free (r);
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
        gpointer user_data)
{
  Fixture *f = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  Recorded *r = g_new0 (Recorded, 1);
  gpointer status = NULL;
  gboolean scripted = g_hash_table_lookup_extended (f->statuses, path, NULL, &status);

  r->path = g_strdup (path);
  r->content_type = g_strdup (soup_message_headers_get_one (headers, "Content-Type"));
  r->title = g_strdup (soup_message_headers_get_one (headers, "Title"));
  r->priority = g_strdup (soup_message_headers_get_one (headers, "Priority"));
  r->tags = g_strdup (soup_message_headers_get_one (headers, "Tags"));
  r->body = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_ptr_array_add (f->requests, r);

  if (scripted && GPOINTER_TO_UINT (status) == 0)
    {
      soup_server_message_pause (msg);
      g_ptr_array_add (f->hanging, g_object_ref (msg));
      return;
    }
  soup_server_message_set_status (msg, scripted ? GPOINTER_TO_UINT (status) : 200, NULL);
  /* A hostile peer echoes the secret path back. */
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, path, strlen (path));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  f->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) recorded_free);
  f->statuses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  f->hanging = g_ptr_array_new_with_free_func (g_object_unref);
  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, handle, f, NULL);
  g_assert_true (soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  f->url = g_uri_to_string (uris->data);
  if (g_str_has_suffix (f->url, "/"))
    f->url[strlen (f->url) - 1] = '\0';
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  f->state = cf_state_new ();
  f->task_events = cf_task_events_new (cf_state_get_counters (f->state));
  g_ptr_array_set_size (all_logs, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->notify);
  g_clear_pointer (&f->config, cf_config_unref);
  g_clear_object (&f->state);
  g_clear_object (&f->task_events);
  for (guint i = 0; i < f->hanging->len; i++)
    soup_server_message_unpause (g_ptr_array_index (f->hanging, i));
  g_ptr_array_unref (f->hanging);
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  cf_test_run_for (20);
  g_ptr_array_unref (f->requests);
  g_hash_table_unref (f->statuses);
  g_free (f->url);
}

/* WEBHOOKS is the YAML list's items, "%1$s" standing for the server URL. */
static void
start_notify (Fixture *f, const char *webhooks, guint coalesce_ms, guint timeout_ms)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *items = NULL;
  g_autofree char *yaml = NULL;
  g_auto(GStrv) parts = g_strsplit (webhooks, "URL", -1);
  CfNotifyOptions options;

  items = g_strjoinv (f->url, parts);
  yaml = g_strdup_printf ("accounts: [{name: main, home: /h}]\n"
                          "notifications:\n"
                          "  telegram_token_env: ''\n"
                          "  resend_api_key_env: ''\n"
                          "  webhooks:\n%s", items);
  f->config = cf_config_load_data (yaml, -1, "test.yaml", "/h", &error);
  g_assert_no_error (error);
  cf_notify_options_init (&options);
  options.backoff_ms = 20;
  options.coalesce_ms = coalesce_ms;
  options.timeout_ms = timeout_ms;
  f->notify = cf_notify_new (f->config, f->state, f->task_events, &options);
}

static gboolean
settled (gpointer fixture, gconstpointer data)
{
  return cf_notify_get_pending (((Fixture *) fixture)->notify) == 0;
}

static gboolean
requests_at_least (gpointer fixture, gconstpointer n)
{
  return ((Fixture *) fixture)->requests->len >= GPOINTER_TO_UINT (n);
}

static Recorded *
request_for (Fixture *f, const char *path)
{
  for (guint i = 0; i < f->requests->len; i++)
    {
      Recorded *r = g_ptr_array_index (f->requests, i);

      if (g_str_equal (r->path, path))
        return r;
    }
  g_assert_not_reached ();
  return NULL;
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static const char *const swap_fields[] = { "from", "main", "to", "backup", "reason", "quota", NULL };

/* Each kind gets its own payload, at its own URL. */
static void
test_each_kind (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonObject) generic = NULL;
  g_autoptr(JsonObject) slack = NULL;
  g_autoptr(JsonObject) discord = NULL;
  g_autofree char *footer = g_strdup_printf ("claude-failover on %s", g_get_host_name ());
  g_autofree char *expected = NULL;
  JsonObject *fields;
  Recorded *r;

  start_notify (f,
                "    - {kind: generic, url: 'URL/generic/" TOKEN "', events: [swap]}\n"
                "    - {kind: slack, url: 'URL/slack/T0/B0/" TOKEN "', events: [swap]}\n"
                "    - {kind: discord, url: 'URL/discord/1/" TOKEN "', events: [swap]}\n"
                "    - {kind: ntfy, url: 'URL/ntfy-" TOKEN "', events: [swap]}\n", 60000, 10000);
  g_assert_cmpuint (cf_notify_get_n_webhooks (f->notify), ==, 4);
  cf_notify_event_full (f->notify, CF_NOTIFY_SWAP_STARTED, "Switching Claude account",
                        "From main to backup (quota).", swap_fields);
  g_assert_true (cf_test_run_until (f, settled, NULL, 5000));
  g_assert_cmpuint (f->requests->len, ==, 4);

  r = request_for (f, "/generic/" TOKEN);
  g_assert_cmpstr (r->content_type, ==, "application/json");
  generic = parse_object (r->body);
  g_assert_cmpstr (json_object_get_string_member (generic, "event"), ==, "swap");
  g_assert_cmpstr (json_object_get_string_member (generic, "kind"), ==, "swap-started");
  g_assert_cmpstr (json_object_get_string_member (generic, "title"), ==, "Switching Claude account");
  g_assert_cmpstr (json_object_get_string_member (generic, "body"), ==, "From main to backup (quota).");
  g_assert_cmpstr (json_object_get_string_member (generic, "host"), ==, g_get_host_name ());
  fields = json_object_get_object_member (generic, "fields");
  g_assert_cmpstr (json_object_get_string_member (fields, "from"), ==, "main");
  g_assert_cmpstr (json_object_get_string_member (fields, "to"), ==, "backup");
  g_assert_cmpstr (json_object_get_string_member (fields, "reason"), ==, "quota");

  r = request_for (f, "/slack/T0/B0/" TOKEN);
  slack = parse_object (r->body);
  g_assert_cmpuint (json_object_get_size (slack), ==, 1);
  expected = g_strdup_printf ("*Switching Claude account*\nFrom main to backup (quota).\n_%s_", footer);
  g_assert_cmpstr (json_object_get_string_member (slack, "text"), ==, expected);

  r = request_for (f, "/discord/1/" TOKEN);
  discord = parse_object (r->body);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (discord, "content"),
                                   "**Switching Claude account**\nFrom main to backup \\(quota\\).\n"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_object_get_object_member (discord, "allowed_mentions"), "parse")), ==, 0);

  r = request_for (f, "/ntfy-" TOKEN);
  g_assert_cmpstr (r->content_type, ==, "text/plain; charset=utf-8");
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf ("From main to backup (quota).\n%s", footer);
  g_assert_cmpstr (r->body, ==, expected);
  g_assert_cmpstr (r->title, ==, "Switching Claude account");
  g_assert_cmpstr (r->priority, ==, "default");
  g_assert_cmpstr (r->tags, ==, "arrows_counterclockwise,claude-failover");

  g_assert_cmpuint (cf_counters_get (cf_state_get_counters (f->state),
                                     CF_EVENT_NOTIFY_WEBHOOK_SENT), ==, 4);
  for (guint i = 0; i < all_logs->len; i++)
    g_assert_null (strstr (g_ptr_array_index (all_logs, i), TOKEN));
}

/* Each webhook gets only its events; task-done comes from the state. */
static void
test_event_filter (Fixture *f, gconstpointer data)
{
  Recorded *r;
  g_autoptr(JsonObject) json = NULL;

  start_notify (f,
                "    - {kind: generic, url: 'URL/done', events: [task-done]}\n"
                "    - {kind: generic, url: 'URL/default'}\n", 60000, 10000);
  g_signal_emit_by_name (f->task_events, "task-finished", "/p/web", "t-1", "ccl-auto-0", "done");
  g_assert_true (cf_test_run_until (f, settled, NULL, 5000));
  g_assert_cmpuint (f->requests->len, ==, 1);
  r = g_ptr_array_index (f->requests, 0);
  g_assert_cmpstr (r->path, ==, "/done");
  json = parse_object (r->body);
  g_assert_cmpstr (json_object_get_string_member (json, "event"), ==, "task-done");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (json, "fields"), "task"), ==, "t-1");

  /* task-failed: the default filter has it, the task-done one not. */
  g_signal_emit_by_name (f->task_events, "task-finished", "/p/web", "t-2", "ccl-auto-0", "failed");
  g_assert_true (cf_test_run_until (f, settled, NULL, 5000));
  g_assert_cmpuint (f->requests->len, ==, 2);
  r = g_ptr_array_index (f->requests, 1);
  g_assert_cmpstr (r->path, ==, "/default");

  /* daemon-degraded belongs to no webhook event. */
  cf_notify_event (f->notify, CF_NOTIFY_DAEMON_DEGRADED, "degraded", "");
  g_assert_true (cf_test_run_until (f, settled, NULL, 5000));
  g_assert_cmpuint (f->requests->len, ==, 2);
}

/* A finished task that cannot leave active/, then leaves it: the
 * "task-stuck" event (in the default filter), its own kinds, an urgent-ish
 * ntfy priority for the problem and a plain one for its end. */
static void
test_task_stuck (Fixture *f, gconstpointer data)
{
  static const char *const fields[] = { "project", "/p/web", "task", "t-9", NULL };
  g_autoptr(JsonObject) stuck = NULL;
  g_autoptr(JsonObject) unstuck = NULL;
  guint n_ntfy = 0;

  start_notify (f,
                "    - {kind: ntfy, url: 'URL/ntfy', events: [task-stuck]}\n"
                "    - {kind: generic, url: 'URL/default'}\n"
                "    - {kind: generic, url: 'URL/failed', events: [task-failed]}\n", 60000, 10000);
  cf_notify_event_full (f->notify, CF_NOTIFY_TASK_STUCK, "A finished task cannot leave active/",
                        "No space left on device.", fields);
  g_assert_true (cf_test_run_until (f, settled, NULL, 5000));
  cf_notify_event_full (f->notify, CF_NOTIFY_TASK_UNSTUCK, "A finished task left active/",
                        "The disk took the write.", fields);
  g_assert_true (cf_test_run_until (f, settled, NULL, 5000));
  g_assert_cmpuint (f->requests->len, ==, 4);
  for (guint i = 0; i < f->requests->len; i++)
    {
      Recorded *r = g_ptr_array_index (f->requests, i);

      g_assert_cmpstr (r->path, !=, "/failed");
      if (!g_str_equal (r->path, "/ntfy"))
        {
          JsonObject *json = parse_object (r->body);

          g_assert_cmpstr (json_object_get_string_member (json, "event"), ==, "task-stuck");
          if (stuck == NULL)
            stuck = json;
          else
            unstuck = json;
          continue;
        }
      g_assert_cmpstr (r->priority, ==, n_ntfy == 0 ? "high" : "default");
      g_assert_cmpstr (r->tags, ==, "floppy_disk,claude-failover");
      n_ntfy++;
    }
  g_assert_cmpuint (n_ntfy, ==, 2);
  g_assert_cmpstr (json_object_get_string_member (stuck, "kind"), ==, "task-stuck");
  g_assert_cmpstr (json_object_get_string_member (unstuck, "kind"), ==, "task-unstuck");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (stuck, "fields"), "task"), ==, "t-9");
  g_assert_true (CF_WEBHOOK_EVENTS_DEFAULT & CF_WEBHOOK_EVENT_TASK_STUCK);
}

/* 5xx is retried, 4xx is not; an echoed secret path never reaches the log. */
static void
test_retries_and_secrets (Fixture *f, gconstpointer data)
{
  g_hash_table_insert (f->statuses, g_strdup ("/flaky/" TOKEN), GUINT_TO_POINTER (503));
  g_hash_table_insert (f->statuses, g_strdup ("/gone/" TOKEN), GUINT_TO_POINTER (404));
  start_notify (f,
                "    - {kind: slack, url: 'URL/flaky/" TOKEN "', events: [limit]}\n"
                "    - {kind: discord, url: 'URL/gone/" TOKEN "', events: [limit]}\n", 60000, 10000);
  cf_notify_event (f->notify, CF_NOTIFY_LIMIT, "Account main hit its usage limit", "Resets at 9pm.");
  g_assert_true (cf_test_run_until (f, settled, NULL, 5000));
  /* 1 + 3 retries on the flaky one, 1 on the refusing one. */
  g_assert_cmpuint (f->requests->len, ==, 5);
  g_assert_cmpuint (cf_counters_get (cf_state_get_counters (f->state),
                                     CF_EVENT_NOTIFY_WEBHOOK_FAILED), ==, 2);
  g_assert_cmpuint (cf_counters_get (cf_state_get_counters (f->state),
                                     CF_EVENT_NOTIFY_WEBHOOK_SENT), ==, 0);
  g_assert_cmpuint (all_logs->len, >, 0);
  for (guint i = 0; i < all_logs->len; i++)
    {
      const char *line = g_ptr_array_index (all_logs, i);

      g_test_message ("log: %s", line);
      g_assert_null (strstr (line, TOKEN));
    }
}

/* The same event twice within the window: one request, then one summary. */
static void
test_coalescing (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonObject) json = NULL;

  start_notify (f, "    - {kind: generic, url: 'URL/c', events: [needs-input]}\n", 300, 10000);
  for (guint i = 0; i < 3; i++)
    cf_notify_event (f->notify, CF_NOTIFY_NEEDS_INPUT, "ccl-auto-1 needs input", "A dialog.");
  g_assert_true (cf_test_run_until (f, settled, NULL, 5000));
  g_assert_cmpuint (f->requests->len, ==, 1);
  g_assert_true (cf_test_run_until (f, requests_at_least, GUINT_TO_POINTER (2), 3000));
  json = parse_object (((Recorded *) g_ptr_array_index (f->requests, 1))->body);
  g_assert_nonnull (strstr (json_object_get_string_member (json, "body"), "Repeated 2 more times"));
}

static gboolean
on_tick (gpointer user_data)
{
  GArray *gaps = user_data;
  gint64 now = g_get_monotonic_time ();

  g_array_append_val (gaps, now);
  return G_SOURCE_CONTINUE;
}

/* A peer that never answers holds neither the caller nor the loop, nor the
 * other webhooks. */
static void
test_hanging_peer (Fixture *f, gconstpointer data)
{
  g_autoptr(GArray) ticks = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 before, worst = 0;
  guint tick_id;

  g_hash_table_insert (f->statuses, g_strdup ("/hang"), GUINT_TO_POINTER (0));
  start_notify (f,
                "    - {kind: ntfy, url: 'URL/hang', events: [swap]}\n"
                "    - {kind: generic, url: 'URL/fine', events: [swap]}\n", 0, 60000);
  tick_id = g_timeout_add (10, on_tick, ticks);
  before = g_get_monotonic_time ();
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *title = g_strdup_printf ("switch %u", i);

      cf_notify_event (f->notify, CF_NOTIFY_SWAP_FINISHED, title, "");
    }
  /* Queuing is immediate. */
  g_assert_cmpint (g_get_monotonic_time () - before, <, 50000);
  cf_test_run_for (500);
  g_source_remove (tick_id);
  for (guint i = 1; i < ticks->len; i++)
    worst = MAX (worst, g_array_index (ticks, gint64, i) - g_array_index (ticks, gint64, i - 1));
  g_test_message ("worst gap between 10 ms ticks: %" G_GINT64_FORMAT " µs", worst);
  g_assert_cmpuint (ticks->len, >=, 25);
  g_assert_cmpint (worst, <, 100000);
  /* The fine webhook got all 20 while the other's first request hangs. */
  g_assert_cmpuint (f->requests->len, ==, 21);
  g_assert_cmpuint (cf_notify_get_pending (f->notify), ==, 20);
}

int
main (int argc, char **argv)
{
  all_logs = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (record_everything, NULL, NULL);
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/notify-webhook/each-kind", test_each_kind);
  ADD ("/notify-webhook/event-filter", test_event_filter);
  ADD ("/notify-webhook/retries-and-secrets", test_retries_and_secrets);
  ADD ("/notify-webhook/coalescing", test_coalescing);
  ADD ("/notify-webhook/task-stuck", test_task_stuck);
  ADD ("/notify-webhook/hanging-peer", test_hanging_peer);
  return g_test_run ();
}
