/* SPDX-License-Identifier: MIT */
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "cf-alerts.h"
#include "cf-test-clock.h"

/* The Telegram and Resend APIs are played by an in-process SoupServer on
 * loopback that records every request and answers from a script. The
 * notifier runs on a manual clock: the HTTP exchanges are real, the waits
 * (retries, timeouts, coalescing windows) pass when the test moves the
 * clock, and the times below are the clock's. */

/* Waits up to this long pass at once while waiting for the notifier to
 * settle: retries (backoff, Retry-After) are shorter, a request's timeout
 * (10 s by default) and the coalescing window (60 s) longer. */
#define RETRY_STEP (5 * G_USEC_PER_SEC)
#define MS 1000

#define TOKEN "123456:AAE-secret_token-XYZ"
#define CHAT "-100987654321"
#define KEY "re_secretkey_0123456789"
#define EMAILS "ops@example.org, oncall@example.org"

typedef struct {
  guint status;                /* 0 = hang: never answer */
  const char *retry_after;
  const char *location;
  const char *body;
} Reply;

typedef struct {
  char *method;
  char *path;
  char *content_type;
  char *authorization;
  char *user_agent;
  char *body;
  gint64 at;                   /* the clock's monotonic µs */
} Recorded;

typedef struct {
  SoupServer *server;
  char *url;
  GPtrArray *requests;         /* Recorded* */
  const Reply *script;
  guint script_length;
  GPtrArray *hanging;          /* SoupServerMessage* paused forever */
  GPtrArray *logs;             /* every log message, all levels */
  CfState *state;
  CfTaskEvents *task_events;
  CfConfig *config;
  CfNotify *notify;
  CfClock *clock;              /* manual */
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
  g_free (r->method);
  g_free (r->path);
  g_free (r->content_type);
  g_free (r->authorization);
  g_free (r->user_agent);
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
  const Reply *reply;
  static const Reply ok = { 200, NULL, NULL, "{\"ok\":true}" };

  r->method = g_strdup (soup_server_message_get_method (msg));
  r->path = g_strdup (path);
  r->content_type = g_strdup (soup_message_headers_get_one (headers, "Content-Type"));
  r->authorization = g_strdup (soup_message_headers_get_one (headers, "Authorization"));
  r->user_agent = g_strdup (soup_message_headers_get_one (headers, "User-Agent"));
  r->body = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  r->at = cf_clock_now_monotonic (f->clock);
  reply = f->requests->len < f->script_length ? &f->script[f->requests->len] : &ok;
  g_ptr_array_add (f->requests, r);

  if (reply->status == 0)
    {
      soup_server_message_pause (msg);
      g_ptr_array_add (f->hanging, g_object_ref (msg));
      return;
    }
  soup_server_message_set_status (msg, reply->status, NULL);
  if (reply->retry_after != NULL)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                  reply->retry_after);
  if (reply->location != NULL)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location",
                                  reply->location);
  if (reply->body != NULL)
    soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, reply->body,
                                      strlen (reply->body));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  f->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) recorded_free);
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
  f->clock = cf_clock_new_manual (0, 0);
  g_ptr_array_set_size (all_logs, 0);
}

static void
set_credentials (void)
{
  g_setenv ("CF_TEST_TG_TOKEN", TOKEN, TRUE);
  g_setenv ("CF_TEST_TG_CHAT", CHAT, TRUE);
  g_setenv ("CF_TEST_RESEND_KEY", KEY, TRUE);
  g_setenv ("CF_TEST_EMAIL", EMAILS, TRUE);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->notify);
  g_clear_pointer (&f->clock, cf_clock_unref);
  g_clear_pointer (&f->config, cf_config_unref);
  g_clear_object (&f->state);
  g_clear_object (&f->task_events);
  for (guint i = 0; i < f->hanging->len; i++)
    soup_server_message_unpause (g_ptr_array_index (f->hanging, i));
  g_ptr_array_unref (f->hanging);
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  /* Let the closed connections' callbacks run before the next test. */
  cf_test_run_for (20);
  g_ptr_array_unref (f->requests);
  g_free (f->url);
}

/* A notifier whose channels point at the fixture's server. CHANNELS:
 * "telegram", "email" or "both". */
static void
start_notify (Fixture *f, const char *channels, const CfNotifyOptions *options)
{
  g_autoptr(GError) error = NULL;
  gboolean telegram = g_str_equal (channels, "telegram") || g_str_equal (channels, "both");
  gboolean email = g_str_equal (channels, "email") || g_str_equal (channels, "both");
  g_autofree char *yaml = g_strdup_printf (
      "accounts: [{name: main, home: /h}]\n"
      "notifications:\n"
      "  telegram_token_env: '%s'\n"
      "  telegram_chat_id_env: CF_TEST_TG_CHAT\n"
      "  resend_api_key_env: '%s'\n"
      "  notify_email_env: CF_TEST_EMAIL\n"
      "  email_from: 'claude-failover <cf@example.org>'\n"
      "  telegram_url: '%s/tg/'\n"
      "  resend_url: '%s/resend'\n",
      telegram ? "CF_TEST_TG_TOKEN" : "", email ? "CF_TEST_RESEND_KEY" : "", f->url, f->url);
  CfNotifyOptions defaults;

  /* The URL has a trailing slash: the path is joined without a double one. */
  f->config = cf_config_load_data (yaml, -1, "test.yaml", "/h", &error);
  g_assert_no_error (error);
  if (options == NULL)
    {
      cf_notify_options_init (&defaults);
      defaults.backoff_ms = 20;
      options = &defaults;
    }
  f->notify = cf_notify_new (f->config, f->state, f->task_events, options);
  cf_notify_set_clock (f->notify, f->clock);
}

static gboolean
requests_at_least (gpointer fixture, gconstpointer n)
{
  return ((Fixture *) fixture)->requests->len >= GPOINTER_TO_UINT (n);
}

static gboolean
settled (gpointer fixture, gconstpointer data)
{
  return cf_notify_get_pending (((Fixture *) fixture)->notify) == 0;
}

/* Until nothing is queued or in flight, the retries' waits passing at once. */
static gboolean
settle (Fixture *f)
{
  return cf_test_run_until_advancing (f, settled, NULL, f->clock, RETRY_STEP, 5000);
}

/* Lets the clock run on past any retry that should not happen. */
static void
run_past_retries (Fixture *f)
{
  cf_test_clock_advance (f->clock, RETRY_STEP, 50);
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

static GList *
sorted_members (JsonObject *object)
{
  return g_list_sort (json_object_get_members (object), (GCompareFunc) g_strcmp0);
}

static void
assert_members (JsonObject *object, const char *const *expected)
{
  g_autoptr(GList) members = sorted_members (object);
  guint i = 0;

  for (GList *l = members; l != NULL; l = l->next, i++)
    {
      g_assert_nonnull (expected[i]);
      g_assert_cmpstr (l->data, ==, expected[i]);
    }
  g_assert_null (expected[i]);
}

static guint64
event_count (Fixture *f, CfEvent event)
{
  return cf_counters_get (cf_state_get_counters (f->state), event);
}

/* ---- exact requests ------------------------------------------------------ */

static void
test_telegram_request (Fixture *f, gconstpointer data)
{
  static const char *const keys[] = { "chat_id", "parse_mode", "text", NULL };
  g_autoptr(JsonObject) json = NULL;
  g_autofree char *expected = NULL;
  Recorded *r;

  start_notify (f, "telegram", NULL);
  g_assert_true (cf_notify_telegram_enabled (f->notify));
  g_assert_false (cf_notify_email_enabled (f->notify));
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_STARTED, "Switching <main> & \"backup\"",
                   "Limit reached on main\nresets at 9pm > now");
  g_assert_true (settle (f));

  g_assert_cmpuint (f->requests->len, ==, 1);
  r = g_ptr_array_index (f->requests, 0);
  g_assert_cmpstr (r->method, ==, "POST");
  g_assert_cmpstr (r->path, ==, "/tg/bot" TOKEN "/sendMessage");
  g_assert_cmpstr (r->content_type, ==, "application/json");
  g_assert_null (r->authorization);
  g_assert_true (g_str_has_prefix (r->user_agent, "claude-failover/"));
  json = parse_object (r->body);
  assert_members (json, keys);
  g_assert_cmpstr (json_object_get_string_member (json, "chat_id"), ==, CHAT);
  g_assert_cmpstr (json_object_get_string_member (json, "parse_mode"), ==, "HTML");
  expected = g_strdup_printf ("<b>Switching &lt;main&gt; &amp; &quot;backup&quot;</b>\n"
                              "Limit reached on main\nresets at 9pm &gt; now\n"
                              "\n<i>claude-failover on %s</i>", g_get_host_name ());
  g_assert_cmpstr (json_object_get_string_member (json, "text"), ==, expected);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_SENT), ==, 1);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_FAILED), ==, 0);
}

static void
test_resend_request (Fixture *f, gconstpointer data)
{
  static const char *const keys[] = { "from", "html", "subject", "to", NULL };
  g_autoptr(JsonObject) json = NULL;
  g_autofree char *expected = NULL;
  JsonArray *to;
  Recorded *r;

  start_notify (f, "email", NULL);
  g_assert_false (cf_notify_telegram_enabled (f->notify));
  g_assert_true (cf_notify_email_enabled (f->notify));
  cf_notify_event (f->notify, CF_NOTIFY_PARTIAL_SWAP, "Partial swap <b>",
                   "Links half flipped & stuck\nFix ~/.claude by hand");
  g_assert_true (settle (f));

  g_assert_cmpuint (f->requests->len, ==, 1);
  r = g_ptr_array_index (f->requests, 0);
  g_assert_cmpstr (r->method, ==, "POST");
  g_assert_cmpstr (r->path, ==, "/resend/emails");
  g_assert_cmpstr (r->content_type, ==, "application/json");
  g_assert_cmpstr (r->authorization, ==, "Bearer " KEY);
  json = parse_object (r->body);
  assert_members (json, keys);
  g_assert_cmpstr (json_object_get_string_member (json, "from"), ==,
                   "claude-failover <cf@example.org>");
  to = json_object_get_array_member (json, "to");
  g_assert_cmpuint (json_array_get_length (to), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (to, 0), ==, "ops@example.org");
  g_assert_cmpstr (json_array_get_string_element (to, 1), ==, "oncall@example.org");
  g_assert_cmpstr (json_object_get_string_member (json, "subject"), ==,
                   "[claude-failover] Partial swap <b>");
  expected = g_strdup_printf ("<p><b>Partial swap &lt;b&gt;</b></p>\n"
                              "<p>Links half flipped &amp; stuck<br>\nFix ~/.claude by hand</p>\n"
                              "<p><i>claude-failover on %s</i></p>\n", g_get_host_name ());
  g_assert_cmpstr (json_object_get_string_member (json, "html"), ==, expected);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_EMAIL_SENT), ==, 1);
}

static void
test_both_channels (Fixture *f, gconstpointer data)
{
  start_notify (f, "both", NULL);
  cf_notify_event (f->notify, CF_NOTIFY_ALL_EXHAUSTED, "All accounts exhausted", "");
  g_assert_true (settle (f));
  g_assert_cmpuint (f->requests->len, ==, 2);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_SENT), ==, 1);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_EMAIL_SENT), ==, 1);
}

/* ---- retries ------------------------------------------------------------- */

static void
test_5xx_then_success (Fixture *f, gconstpointer data)
{
  static const Reply script[] = {
    { 503, NULL, NULL, "{\"ok\":false}" },
    { 502, NULL, NULL, NULL },
  };
  CfNotifyOptions options;
  Recorded *r0, *r1, *r2;

  f->script = script;
  f->script_length = G_N_ELEMENTS (script);
  cf_notify_options_init (&options);
  options.backoff_ms = 100;
  start_notify (f, "telegram", &options);
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_FINISHED, "Switched", "to backup");
  g_assert_true (settle (f));
  /* Let a stray extra retry show up if there were one. */
  run_past_retries (f);

  g_assert_cmpuint (f->requests->len, ==, 3);
  r0 = g_ptr_array_index (f->requests, 0);
  r1 = g_ptr_array_index (f->requests, 1);
  r2 = g_ptr_array_index (f->requests, 2);
  /* The same request each time, after 100 then 200 ms. */
  g_assert_cmpstr (r0->body, ==, r1->body);
  g_assert_cmpstr (r1->body, ==, r2->body);
  g_assert_cmpint (r1->at - r0->at, ==, 100 * MS);
  g_assert_cmpint (r2->at - r1->at, ==, 200 * MS);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_SENT), ==, 1);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_FAILED), ==, 0);
}

static void
test_429_retry_after (Fixture *f, gconstpointer data)
{
  static const Reply script[] = {
    { 429, "1", NULL, "{\"ok\":false,\"error_code\":429,\"parameters\":{\"retry_after\":1}}" },
    { 429, "30", NULL, NULL },
  };
  CfNotifyOptions options;
  Recorded *r0, *r1, *r2;

  f->script = script;
  f->script_length = G_N_ELEMENTS (script);
  cf_notify_options_init (&options);
  options.backoff_ms = 10;
  options.max_retry_after_ms = 1500;
  start_notify (f, "telegram", &options);
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_FAILED, "Switch failed", "rolled back");
  g_assert_true (settle (f));

  g_assert_cmpuint (f->requests->len, ==, 3);
  r0 = g_ptr_array_index (f->requests, 0);
  r1 = g_ptr_array_index (f->requests, 1);
  r2 = g_ptr_array_index (f->requests, 2);
  /* Retry-After: 1 is honoured (not the 10 ms backoff)... */
  g_assert_cmpint (r1->at - r0->at, ==, 1000 * MS);
  /* ...and 30 s is capped at max_retry_after_ms. */
  g_assert_cmpint (r2->at - r1->at, ==, 1500 * MS);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_SENT), ==, 1);
}

/* No Retry-After header: Telegram's parameters.retry_after in the body is
 * honoured instead of the backoff. */
static void
test_429_retry_after_body (Fixture *f, gconstpointer data)
{
  static const Reply script[] = {
    { 429, NULL, NULL,
      "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 1\","
      "\"parameters\":{\"retry_after\":1}}" },
  };
  CfNotifyOptions options;
  Recorded *r0, *r1;

  f->script = script;
  f->script_length = G_N_ELEMENTS (script);
  cf_notify_options_init (&options);
  options.backoff_ms = 10;
  start_notify (f, "telegram", &options);
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_FAILED, "Switch failed", "rolled back");
  g_assert_true (settle (f));

  g_assert_cmpuint (f->requests->len, ==, 2);
  r0 = g_ptr_array_index (f->requests, 0);
  r1 = g_ptr_array_index (f->requests, 1);
  g_assert_cmpint (r1->at - r0->at, ==, 1000 * MS);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_SENT), ==, 1);
}

static void
test_400_not_retried (Fixture *f, gconstpointer data)
{
  static const Reply script[] = {
    { 400, NULL, NULL,
      "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}" },
  };
  gboolean logged = FALSE;

  f->script = script;
  f->script_length = G_N_ELEMENTS (script);
  start_notify (f, "telegram", NULL);
  cf_notify_event (f->notify, CF_NOTIFY_TASK_FAILED, "Task x failed", "");
  g_assert_true (settle (f));
  run_past_retries (f);

  g_assert_cmpuint (f->requests->len, ==, 1);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_FAILED), ==, 1);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_SENT), ==, 0);
  for (guint i = 0; i < all_logs->len; i++)
    logged |= strstr (all_logs->pdata[i], "not retried: HTTP 400: Bad Request: chat not found") != NULL;
  g_assert_true (logged);
}

static void
test_other_4xx_and_redirect_not_retried (Fixture *f, gconstpointer data)
{
  static const Reply script[] = {
    { 422, NULL, NULL, "{\"statusCode\":422,\"message\":\"Invalid `to` field\"}" },
    { 302, NULL, "/elsewhere", NULL },
  };

  f->script = script;
  f->script_length = G_N_ELEMENTS (script);
  start_notify (f, "email", NULL);
  cf_notify_event (f->notify, CF_NOTIFY_TASK_FAILED, "one", "");
  cf_notify_event (f->notify, CF_NOTIFY_TASK_FAILED, "two", "");
  g_assert_true (settle (f));
  run_past_retries (f);

  /* Neither retried, and the redirect was not followed (the key stays here). */
  g_assert_cmpuint (f->requests->len, ==, 2);
  g_assert_cmpstr (((Recorded *) f->requests->pdata[1])->path, ==, "/resend/emails");
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_EMAIL_FAILED), ==, 2);
}

static void
test_retries_exhausted (Fixture *f, gconstpointer data)
{
  static const Reply script[] = {
    { 500, NULL, NULL, NULL }, { 500, NULL, NULL, NULL },
    { 500, NULL, NULL, NULL }, { 500, NULL, NULL, NULL },
    { 500, NULL, NULL, NULL }, { 500, NULL, NULL, NULL },
  };

  f->script = script;
  f->script_length = G_N_ELEMENTS (script);
  start_notify (f, "telegram", NULL);
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_STARTED, "t", "b");
  g_assert_true (settle (f));
  run_past_retries (f);
  /* One attempt and three retries, after 20, 40 and 80 ms. */
  g_assert_cmpuint (f->requests->len, ==, 4);
  for (guint i = 1; i < 4; i++)
    g_assert_cmpint (((Recorded *) f->requests->pdata[i])->at -
                     ((Recorded *) f->requests->pdata[i - 1])->at, ==, (20 * MS) << (i - 1));
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_FAILED), ==, 1);
}

static void
test_transport_error_retried (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) probe = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *yaml = NULL;
  CfNotifyOptions options;
  guint port;

  /* A port nobody listens on: bound, then closed. */
  g_assert_true (g_socket_bind (probe, any, FALSE, &error));
  bound = g_socket_get_local_address (probe, &error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (probe, NULL);

  yaml = g_strdup_printf ("accounts: [{name: main, home: /h}]\n"
                          "notifications:\n"
                          "  telegram_token_env: CF_TEST_TG_TOKEN\n"
                          "  telegram_chat_id_env: CF_TEST_TG_CHAT\n"
                          "  resend_api_key_env: ''\n"
                          "  telegram_url: 'http://127.0.0.1:%u'\n", port);
  f->config = cf_config_load_data (yaml, -1, "test.yaml", "/h", &error);
  g_assert_no_error (error);
  cf_notify_options_init (&options);
  options.backoff_ms = 10;
  f->notify = cf_notify_new (f->config, f->state, f->task_events, &options);
  cf_notify_set_clock (f->notify, f->clock);
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_STARTED, "t", "b");
  g_assert_true (settle (f));
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_FAILED), ==, 1);
  {
    guint retries = 0;
    for (guint i = 0; i < all_logs->len; i++)
      retries += strstr (all_logs->pdata[i], "; retry ") != NULL;
    g_assert_cmpuint (retries, ==, 3);
  }
}

/* ---- a peer that never answers ------------------------------------------- */

static void
test_hanging_peer_times_out (Fixture *f, gconstpointer data)
{
  static const Reply script[] = { { 0, NULL, NULL, NULL }, { 0, NULL, NULL, NULL } };
  CfNotifyOptions options;
  gboolean logged = FALSE;

  f->script = script;
  f->script_length = G_N_ELEMENTS (script);
  cf_notify_options_init (&options);
  options.timeout_ms = 600;
  options.backoff_ms = 50;
  options.max_retries = 1;
  start_notify (f, "telegram", &options);
  cf_notify_event (f->notify, CF_NOTIFY_DAEMON_DEGRADED, "Degraded", "tmux-disconnected");

  /* The request reaches the peer, which never answers: the loop keeps
   * turning (this test's server runs on it), and the attempt is given up
   * at 600 ms, not before. */
  g_assert_true (cf_test_run_until (f, requests_at_least, GUINT_TO_POINTER (1), 5000));
  cf_test_clock_advance (f->clock, 599 * MS, 50);
  g_assert_cmpuint (f->requests->len, ==, 1);
  g_assert_cmpuint (cf_notify_get_pending (f->notify), ==, 1);
  g_assert_cmpint (cf_test_clock_advance_to_next (f->clock, 1 * MS, 5000), ==, 1 * MS);
  /* The retry, 50 ms after the timeout, hangs as well. */
  g_assert_cmpint (cf_test_clock_advance_to_next (f->clock, 50 * MS, 5000), ==, 50 * MS);
  g_assert_true (cf_test_run_until (f, requests_at_least, GUINT_TO_POINTER (2), 5000));
  g_assert_cmpint (((Recorded *) f->requests->pdata[1])->at -
                   ((Recorded *) f->requests->pdata[0])->at, ==, (600 + 50) * MS);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_FAILED), ==, 0);
  g_assert_cmpint (cf_test_clock_advance_to_next (f->clock, 600 * MS, 5000), ==, 600 * MS);
  g_assert_true (cf_test_run_until (f, settled, NULL, 5000));

  g_assert_cmpuint (f->requests->len, ==, 2);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_FAILED), ==, 1);
  for (guint i = 0; i < all_logs->len; i++)
    logged |= strstr (all_logs->pdata[i], "no answer within 600 ms") != NULL;
  g_assert_true (logged);
}

/* ---- channels off, coalescing, the bounded queue ----------------------- */

static void
test_channel_off_without_credentials (Fixture *f, gconstpointer data)
{
  guint off_logs = 0;

  g_unsetenv ("CF_TEST_TG_TOKEN");
  g_setenv ("CF_TEST_EMAIL", "", TRUE);
  start_notify (f, "both", NULL);
  g_assert_false (cf_notify_telegram_enabled (f->notify));
  g_assert_false (cf_notify_email_enabled (f->notify));
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_STARTED, "t", "b");
  cf_test_run_for (100);
  g_assert_cmpuint (f->requests->len, ==, 0);
  g_assert_cmpuint (cf_notify_get_pending (f->notify), ==, 0);

  /* Logged once per channel, naming the variable; a reload that changes
   * nothing logs nothing more. */
  cf_notify_set_config (f->notify, f->config);
  for (guint i = 0; i < all_logs->len; i++)
    {
      const char *line = all_logs->pdata[i];
      if (strstr (line, "off ("))
        off_logs++;
    }
  g_assert_cmpuint (off_logs, ==, 2);
  {
    g_autofree char *joined = NULL;
    g_ptr_array_add (all_logs, NULL);
    joined = g_strjoinv ("\n", (char **) all_logs->pdata);
    g_ptr_array_remove_index (all_logs, all_logs->len - 1);
    g_assert_nonnull (strstr (joined, "Telegram notifications: off (CF_TEST_TG_TOKEN is not set)"));
    g_assert_nonnull (strstr (joined, "E-mail notifications: off (CF_TEST_EMAIL is not set)"));
  }

  /* The variables appear and a reload turns the channel on. */
  g_setenv ("CF_TEST_TG_TOKEN", TOKEN, TRUE);
  cf_notify_set_config (f->notify, f->config);
  g_assert_true (cf_notify_telegram_enabled (f->notify));
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_STARTED, "t", "b");
  g_assert_true (cf_test_run_until (f, requests_at_least, GUINT_TO_POINTER (1), 5000));
  set_credentials ();
}

static void
test_burst_coalesced (Fixture *f, gconstpointer data)
{
  CfNotifyOptions options;
  g_autoptr(JsonObject) json = NULL;
  const char *text;

  cf_notify_options_init (&options);
  options.coalesce_ms = 1500;
  start_notify (f, "telegram", &options);
  for (guint i = 0; i < 5; i++)
    cf_notify_event (f->notify, CF_NOTIFY_DAEMON_DEGRADED, "Degraded", "tmux-disconnected");
  cf_notify_event (f->notify, CF_NOTIFY_DAEMON_DEGRADED, "Degraded", "partial-swap");
  g_assert_true (cf_test_run_until (f, settled, NULL, 5000));
  /* The first of the burst and the different one go at once... */
  g_assert_cmpuint (f->requests->len, ==, 2);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_COALESCED), ==, 4);
  /* ...and one summary of the four repeats when the window ends, not before. */
  cf_test_clock_advance (f->clock, 1499 * MS, 50);
  g_assert_cmpuint (f->requests->len, ==, 2);
  g_assert_cmpint (cf_test_clock_advance_to_next (f->clock, 1 * MS, 5000), ==, 1 * MS);
  g_assert_true (cf_test_run_until (f, requests_at_least, GUINT_TO_POINTER (3), 5000));
  json = parse_object (((Recorded *) f->requests->pdata[2])->body);
  text = json_object_get_string_member (json, "text");
  g_assert_nonnull (strstr (text, "tmux-disconnected\n\nRepeated 4 more times in the last 2 s."));
  /* Nothing more afterwards: the windows end empty. */
  cf_test_clock_advance (f->clock, 1700 * MS, 100);
  g_assert_cmpuint (f->requests->len, ==, 3);
  g_assert_cmpuint (cf_clock_get_n_timeouts (f->clock), ==, 0);
  /* A window over, the same event goes out again at once. */
  cf_notify_event (f->notify, CF_NOTIFY_DAEMON_DEGRADED, "Degraded", "tmux-disconnected");
  g_assert_true (cf_test_run_until (f, requests_at_least, GUINT_TO_POINTER (4), 3000));
}

static void
test_queue_bounded (Fixture *f, gconstpointer data)
{
  static const Reply script[] = { { 0, NULL, NULL, NULL } };
  CfNotifyOptions options;
  const char *titles[] = { "first", "second", "third", "fourth", "fifth" };
  const char *delivered[3];

  f->script = script;
  f->script_length = G_N_ELEMENTS (script);
  cf_notify_options_init (&options);
  options.queue_limit = 2;
  options.timeout_ms = 500;
  options.max_retries = 0;
  start_notify (f, "telegram", &options);
  for (guint i = 0; i < G_N_ELEMENTS (titles); i++)
    cf_notify_event (f->notify, CF_NOTIFY_TASK_FAILED, titles[i], "");
  /* "first" is in flight; of the four waiting, the two oldest are dropped. */
  g_assert_cmpuint (cf_notify_get_pending (f->notify), ==, 3);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_DROPPED), ==, 2);
  /* "first" hangs until its timeout; the others go then. */
  g_assert_true (cf_test_run_until (f, requests_at_least, GUINT_TO_POINTER (1), 5000));
  g_assert_cmpint (cf_test_clock_advance_to_next (f->clock, 500 * MS, 5000), ==, 500 * MS);
  g_assert_true (cf_test_run_until (f, settled, NULL, 5000));
  g_assert_cmpuint (f->requests->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(JsonObject) json = parse_object (((Recorded *) f->requests->pdata[i])->body);
      delivered[i] = strstr (json_object_get_string_member (json, "text"), "fourth") ? "fourth"
                   : strstr (json_object_get_string_member (json, "text"), "fifth") ? "fifth"
                   : strstr (json_object_get_string_member (json, "text"), "first") ? "first"
                   : "?";
    }
  g_assert_cmpstr (delivered[0], ==, "first");
  g_assert_cmpstr (delivered[1], ==, "fourth");
  g_assert_cmpstr (delivered[2], ==, "fifth");
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_FAILED), ==, 1);
  g_assert_cmpuint (event_count (f, CF_EVENT_NOTIFY_TELEGRAM_SENT), ==, 2);
}

/* ---- task failures, secrets, shutdown --------------------------------- */

static void
test_task_failed_notified (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonObject) json = NULL;
  const char *text;

  start_notify (f, "telegram", NULL);
  cf_task_events_finished (f->task_events, "/p/web", "fix-login", "ccl-auto-1", "requeued");
  cf_task_events_finished (f->task_events, "/p/web", "fix-login", "ccl-auto-1", "done");
  cf_task_events_finished (f->task_events, "/p/web", "fix-login", "ccl-auto-1", "failed");
  g_assert_true (settle (f));
  cf_test_run_for (100);
  g_assert_cmpuint (f->requests->len, ==, 1);
  json = parse_object (((Recorded *) f->requests->pdata[0])->body);
  text = json_object_get_string_member (json, "text");
  g_assert_true (g_str_has_prefix (text, "<b>Task fix-login failed</b>\n"
                                         "Project: /p/web\nLast session: ccl-auto-1\n"));
  g_assert_nonnull (strstr (text, "/p/web/.agent-queue/failed/fix-login.md"));

  cf_task_events_finished (f->task_events, "/p/api", "remote-1", "", "delegated-failed");
  g_assert_true (cf_test_run_until (f, requests_at_least, GUINT_TO_POINTER (2), 5000));
  g_clear_pointer (&json, json_object_unref);
  json = parse_object (((Recorded *) f->requests->pdata[1])->body);
  text = json_object_get_string_member (json, "text");
  g_assert_nonnull (strstr (text, "The remote job failed."));
  g_assert_null (strstr (text, "Last session"));
}

static void
test_secrets_never_logged (Fixture *f, gconstpointer data)
{
  /* Servers that echo the secrets back in their errors. */
  static const Reply script[] = {
    { 401, NULL, NULL, "{\"ok\":false,\"description\":\"Unauthorized: token " TOKEN
      " for chat " CHAT "\"}" },
    { 403, NULL, NULL, "{\"message\":\"API key " KEY " is invalid for ops@example.org\"}" },
    { 500, NULL, NULL, "plain text with " TOKEN },
  };
  g_autofree char *joined = NULL;

  f->script = script;
  f->script_length = G_N_ELEMENTS (script);
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  start_notify (f, "both", NULL);
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_FAILED, "Switch failed", "body");
  g_assert_true (settle (f));
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_FAILED, "again", "body");
  g_assert_true (settle (f));
  g_unsetenv ("G_MESSAGES_DEBUG");

  g_assert_cmpuint (f->requests->len, >=, 3);
  g_assert_cmpuint (all_logs->len, >, 0);
  g_ptr_array_add (all_logs, NULL);
  joined = g_strjoinv ("\n", (char **) all_logs->pdata);
  g_ptr_array_remove_index (all_logs, all_logs->len - 1);
  g_test_message ("logs:\n%s", joined);
  g_assert_null (strstr (joined, TOKEN));
  g_assert_null (strstr (joined, "AAE-secret_token"));
  g_assert_null (strstr (joined, KEY));
  g_assert_null (strstr (joined, CHAT));
  g_assert_null (strstr (joined, "ops@example.org"));
  g_assert_nonnull (strstr (joined, "[redacted]"));
}

static void
test_stop_cancels (Fixture *f, gconstpointer data)
{
  static const Reply script[] = { { 0, NULL, NULL, NULL } };
  CfNotifyOptions options;

  f->script = script;
  f->script_length = G_N_ELEMENTS (script);
  cf_notify_options_init (&options);
  start_notify (f, "telegram", &options);
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_STARTED, "one", "");
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_STARTED, "two", "");
  g_assert_true (cf_test_run_until (f, requests_at_least, GUINT_TO_POINTER (1), 5000));
  cf_notify_stop (f->notify);
  g_assert_cmpuint (cf_notify_get_pending (f->notify), ==, 0);
  cf_notify_event (f->notify, CF_NOTIFY_SWAP_STARTED, "three", "");
  g_assert_cmpuint (cf_notify_get_pending (f->notify), ==, 0);
  /* The cancelled reply arrives after the stop and the object's end. */
  g_clear_object (&f->notify);
  cf_test_run_for (100);
  g_assert_cmpuint (f->requests->len, ==, 1);
}

int
main (int argc, char **argv)
{
  all_logs = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (record_everything, NULL, NULL);
  set_credentials ();
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/notify/telegram-request", test_telegram_request);
  ADD ("/notify/resend-request", test_resend_request);
  ADD ("/notify/both-channels", test_both_channels);
  ADD ("/notify/5xx-then-success", test_5xx_then_success);
  ADD ("/notify/429-retry-after", test_429_retry_after);
  ADD ("/notify/429-retry-after-body", test_429_retry_after_body);
  ADD ("/notify/400-not-retried", test_400_not_retried);
  ADD ("/notify/4xx-and-redirect-not-retried", test_other_4xx_and_redirect_not_retried);
  ADD ("/notify/retries-exhausted", test_retries_exhausted);
  ADD ("/notify/transport-error-retried", test_transport_error_retried);
  ADD ("/notify/hanging-peer-times-out", test_hanging_peer_times_out);
  ADD ("/notify/channel-off", test_channel_off_without_credentials);
  ADD ("/notify/burst-coalesced", test_burst_coalesced);
  ADD ("/notify/queue-bounded", test_queue_bounded);
  ADD ("/notify/task-failed", test_task_failed_notified);
  ADD ("/notify/secrets-never-logged", test_secrets_never_logged);
  ADD ("/notify/stop-cancels", test_stop_cancels);
#undef ADD
  return g_test_run ();
}
