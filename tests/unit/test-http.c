/* SPDX-License-Identifier: MIT */
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "cf-health.h"
#include "cf-http.h"
#include "cf-test-util.h"

/* CfHealth's reasons and grace period, and CfHttp in-process: the delegation
 * hook, /metrics extensions, methods and paths. (The daemon's endpoints,
 * socket activation and address refusal run in tests/integration/test_http.py.) */

/* ---- health -------------------------------------------------------------- */

typedef struct {
  guint count;
  guint reasons;
} Degraded;

static void
on_degraded (CfHealth *health, guint reasons, Degraded *d)
{
  d->count++;
  d->reasons = reasons;
}

static gboolean
degraded_count_at_least (gpointer fixture, gconstpointer n)
{
  return ((Degraded *) fixture)->count >= GPOINTER_TO_UINT (n);
}

static void
test_health_reasons (void)
{
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfHealth) health = NULL;
  const char *accounts[] = { "main", "backup", NULL };
  gint64 now = g_get_real_time ();

  cf_state_sync_accounts (state, accounts);
  health = cf_health_new (state, NULL, 100000);
  g_assert_cmpuint (cf_health_get_reasons (health, now), ==,
                    CF_HEALTH_TMUX_DISCONNECTED | CF_HEALTH_BUS_NAME_NOT_OWNED);
  cf_health_set_tmux_connected (health, TRUE);
  cf_health_set_bus_name_owned (health, TRUE);
  g_assert_cmpuint (cf_health_get_reasons (health, now), ==, 0);

  cf_state_set_swap_journal (state, CF_SWAP_SET_PARTIAL, &(CfSwapJournal) { .partial = TRUE });
  g_assert_cmpuint (cf_health_get_reasons (health, now), ==, CF_HEALTH_PARTIAL_SWAP);
  cf_state_set_swap_journal (state, CF_SWAP_SET_PARTIAL, &(CfSwapJournal) { .partial = FALSE });

  /* All accounts exhausted, until the first one resets. */
  cf_state_set_account_exhausted_until (state, "main", now + 60 * G_USEC_PER_SEC);
  g_assert_cmpuint (cf_health_get_reasons (health, now), ==, 0);
  cf_state_set_account_exhausted_until (state, "backup", now + 120 * G_USEC_PER_SEC);
  g_assert_cmpuint (cf_health_get_reasons (health, now), ==, CF_HEALTH_ALL_ACCOUNTS_EXHAUSTED);
  g_assert_cmpuint (cf_health_get_reasons (health, now + 61 * G_USEC_PER_SEC), ==, 0);

  /* A finished task that cannot leave active/, until it has. */
  cf_health_set_finished_tasks_stuck (health, 2);
  g_assert_cmpuint (cf_health_get_reasons (health, now + 61 * G_USEC_PER_SEC), ==,
                    CF_HEALTH_FINISHED_TASK_STUCK);
  g_assert_cmpstr (cf_health_reason_to_string (CF_HEALTH_FINISHED_TASK_STUCK), ==,
                   "finished-task-stuck");
  cf_health_set_finished_tasks_stuck (health, 0);
  g_assert_cmpuint (cf_health_get_reasons (health, now + 61 * G_USEC_PER_SEC), ==, 0);

  g_assert_cmpstr (cf_health_reason_to_string (CF_HEALTH_STATE_WRITE_FAILING), ==,
                   "state-write-failing");
  {
    g_autofree char *text = cf_health_describe (CF_HEALTH_TMUX_DISCONNECTED |
                                                CF_HEALTH_PARTIAL_SWAP);
    g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

    g_assert_cmpuint (g_strv_length (lines), ==, 2);
    g_assert_true (g_str_has_suffix (lines[0], "(tmux-disconnected)"));
    g_assert_true (g_str_has_suffix (lines[1], "(partial-swap)"));
  }
}

static void
test_health_grace (void)
{
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfHealth) health = NULL;
  const char *accounts[] = { "main", NULL };
  Degraded d = { 0 };

  cf_state_sync_accounts (state, accounts);
  health = cf_health_new (state, NULL, 200);
  g_signal_connect (health, "degraded", G_CALLBACK (on_degraded), &d);

  /* Connected within the grace period: nothing to say. */
  cf_test_run_for (50);
  cf_health_set_tmux_connected (health, TRUE);
  cf_health_set_bus_name_owned (health, TRUE);
  cf_test_run_for (400);
  g_assert_cmpuint (d.count, ==, 0);

  /* A stuck finished task has its own notification (task-stuck): however
   * long it lasts, "degraded" does not announce it. */
  cf_health_set_finished_tasks_stuck (health, 1);
  cf_state_set_swap_journal (state, CF_SWAP_SET_PARTIAL, &(CfSwapJournal) { .partial = TRUE });
  cf_state_set_swap_journal (state, CF_SWAP_SET_PARTIAL, &(CfSwapJournal) { .partial = FALSE });
  cf_test_run_for (400);
  g_assert_cmpuint (d.count, ==, 0);
  cf_health_set_finished_tasks_stuck (health, 0);

  /* A problem that lasts is announced once... */
  cf_state_set_swap_journal (state, CF_SWAP_SET_PARTIAL, &(CfSwapJournal) { .partial = TRUE });
  g_assert_true (cf_test_run_until (&d, degraded_count_at_least, GUINT_TO_POINTER (1), 2000));
  g_assert_cmpuint (d.reasons, ==, CF_HEALTH_PARTIAL_SWAP);
  cf_test_run_for (400);
  g_assert_cmpuint (d.count, ==, 1);

  /* ...a new one is announced with all current reasons... */
  cf_health_set_tmux_connected (health, FALSE);
  g_assert_true (cf_test_run_until (&d, degraded_count_at_least, GUINT_TO_POINTER (2), 2000));
  g_assert_cmpuint (d.reasons, ==, CF_HEALTH_PARTIAL_SWAP | CF_HEALTH_TMUX_DISCONNECTED);

  /* ...a blip shorter than the grace period is not... */
  cf_health_set_tmux_connected (health, TRUE);
  cf_state_set_swap_journal (state, CF_SWAP_SET_PARTIAL, &(CfSwapJournal) { .partial = FALSE });
  cf_health_set_tmux_connected (health, FALSE);
  cf_test_run_for (50);
  cf_health_set_tmux_connected (health, TRUE);
  cf_test_run_for (400);
  g_assert_cmpuint (d.count, ==, 2);

  /* ...and one that went away and came back is announced again. */
  cf_state_set_swap_journal (state, CF_SWAP_SET_PARTIAL, &(CfSwapJournal) { .partial = TRUE });
  g_assert_true (cf_test_run_until (&d, degraded_count_at_least, GUINT_TO_POINTER (3), 2000));
  g_assert_cmpuint (d.reasons, ==, CF_HEALTH_PARTIAL_SWAP);
}

/* ---- http ---------------------------------------------------------------- */

typedef struct {
  CfState *state;
  CfTaskEvents *task_events;
  CfConfig *config;
  CfHealth *health;
  CfHttp *http;
  SoupSession *session;
  char *base;
  /* the last reply */
  gboolean done;
  guint status;
  char *content_type;
  char *allow;
  char *body;
} Fixture;

static guint
free_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const char *accounts[] = { "main", NULL };
  guint port = free_port ();
  g_autofree char *yaml = g_strdup_printf (
      "accounts: [{name: main, home: /h}]\n"
      "delegation: {url: 'http://127.0.0.1:9/jobs', api_key_env: CF_TEST_HTTP_DELEGATION_KEY}\n"
      "http: {listen: '127.0.0.1:%u'}\n", port);

  f->config = cf_config_load_data (yaml, -1, "test.yaml", "/h", &error);
  g_assert_no_error (error);
  f->state = cf_state_new ();
  f->task_events = cf_task_events_new (cf_state_get_counters (f->state));
  cf_state_sync_accounts (f->state, accounts);
  f->health = cf_health_new (f->state, NULL, 60000);
  cf_health_set_tmux_connected (f->health, TRUE);
  cf_health_set_bus_name_owned (f->health, TRUE);
  f->http = cf_http_new (f->config, f->state, f->task_events, f->health);
  g_assert_true (cf_http_start (f->http, &error));
  g_assert_no_error (error);
  f->session = soup_session_new ();
  f->base = g_strdup_printf ("http://127.0.0.1:%u", port);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->session);
  g_clear_object (&f->http);
  g_clear_object (&f->health);
  g_clear_object (&f->state);
  g_clear_object (&f->task_events);
  g_clear_pointer (&f->config, cf_config_unref);
  g_free (f->base);
  g_free (f->content_type);
  g_free (f->allow);
  g_free (f->body);
  g_unsetenv ("CF_TEST_HTTP_DELEGATION_KEY");
}

static void
on_reply (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
                                                              &error);
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);

  g_assert_no_error (error);
  f->status = soup_message_get_status (msg);
  f->content_type = g_strdup (soup_message_headers_get_one (headers, "Content-Type"));
  f->allow = g_strdup (soup_message_headers_get_one (headers, "Allow"));
  f->body = g_bytes_get_size (body) > 0 ? g_strndup (g_bytes_get_data (body, NULL),
                                                     g_bytes_get_size (body))
                                        : g_strdup ("");
  f->done = TRUE;
}

static gboolean
reply_done (gpointer fixture, gconstpointer data)
{
  return ((Fixture *) fixture)->done;
}

/* Sends METHOD PATH and runs the loop (the server is on it too) until the reply. */
static void
fetch (Fixture *f, const char *method, const char *path)
{
  g_autofree char *url = g_strconcat (f->base, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);

  g_clear_pointer (&f->content_type, g_free);
  g_clear_pointer (&f->allow, g_free);
  g_clear_pointer (&f->body, g_free);
  f->done = FALSE;
  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT, NULL, on_reply, f);
  g_assert_true (cf_test_run_until (f, reply_done, NULL, 5000));
}

static JsonNode *
parse (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  return node;
}

/* A stand-in for the delegation component: a CfStatusReporter that counts
 * the status requests. */
#define FAKE_TYPE_REPORTER (fake_reporter_get_type ())
G_DECLARE_FINAL_TYPE (FakeReporter, fake_reporter, FAKE, REPORTER, GObject)

struct _FakeReporter {
  GObject parent_instance;
  guint calls;
};

static void fake_reporter_iface_init (CfStatusReporterInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FakeReporter, fake_reporter, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CF_TYPE_STATUS_REPORTER,
                                                      fake_reporter_iface_init))

static void
fake_reporter_class_init (FakeReporterClass *klass)
{
}

static void
fake_reporter_init (FakeReporter *self)
{
}

static JsonNode *
delegation_report (CfStatusReporter *reporter)
{
  JsonBuilder *builder = json_builder_new ();
  JsonNode *node;

  FAKE_REPORTER (reporter)->calls++;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "active");
  json_builder_add_int_value (builder, 2);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  g_object_unref (builder);
  return node;
}

static void
delegation_metrics (CfStatusReporter *reporter, GString *out)
{
  g_string_append (out, "# HELP claude_failover_delegated_jobs Jobs at the remote API.\n"
                        "# TYPE claude_failover_delegated_jobs gauge\n"
                        "claude_failover_delegated_jobs{status=\"running\"} 2\n");
}

static void
fake_reporter_iface_init (CfStatusReporterInterface *iface)
{
  iface->build_status = delegation_report;
  iface->render_metrics = delegation_metrics;
}

static void
test_delegation_hook (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(FakeReporter) reporter = g_object_new (FAKE_TYPE_REPORTER, NULL);

  /* The key variable unset: delegation is off, whatever is registered. */
  cf_http_set_delegation (f->http, CF_STATUS_REPORTER (reporter));
  fetch (f, "GET", "/api/delegated/status");
  g_assert_cmpuint (f->status, ==, 404);
  g_assert_cmpuint (reporter->calls, ==, 0);

  /* On, but nothing reports. */
  g_setenv ("CF_TEST_HTTP_DELEGATION_KEY", "secret-key", TRUE);
  cf_http_set_delegation (f->http, NULL);
  fetch (f, "GET", "/api/delegated/status");
  g_assert_cmpuint (f->status, ==, 503);
  g_assert_null (strstr (f->body, "secret-key"));

  /* On, with the component's report and metrics. */
  cf_http_set_delegation (f->http, CF_STATUS_REPORTER (reporter));
  fetch (f, "GET", "/api/delegated/status");
  g_assert_cmpuint (f->status, ==, 200);
  g_assert_cmpstr (f->content_type, ==, "application/json");
  g_assert_cmpuint (reporter->calls, ==, 1);
  node = parse (f->body);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "active"), ==, 2);
  fetch (f, "GET", "/metrics");
  g_assert_cmpuint (f->status, ==, 200);
  g_assert_nonnull (strstr (f->body, "\nclaude_failover_delegation_enabled 1\n"));
  g_assert_true (g_str_has_suffix (f->body, "claude_failover_delegated_jobs{status=\"running\"} 2\n"));
}

static void
test_methods_and_paths (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonNode) node = NULL;
  g_auto(GStrv) urls = cf_http_get_urls (f->http);

  g_assert_cmpuint (g_strv_length (urls), ==, 1);
  g_assert_true (g_str_has_prefix (urls[0], f->base));

  fetch (f, "GET", "/health");
  g_assert_cmpuint (f->status, ==, 200);
  node = parse (f->body);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "status"), ==, "ok");

  cf_health_set_tmux_connected (f->health, FALSE);
  fetch (f, "GET", "/health");
  g_assert_cmpuint (f->status, ==, 503);
  g_assert_nonnull (strstr (f->body, "\"tmux-disconnected\""));
  fetch (f, "GET", "/metrics");
  g_assert_nonnull (strstr (f->body, "\nclaude_failover_healthy 0\n"));
  g_assert_nonnull (strstr (f->body,
                            "\nclaude_failover_health_problem{reason=\"tmux-disconnected\"} 1\n"));

  fetch (f, "DELETE", "/status");
  g_assert_cmpuint (f->status, ==, 405);
  g_assert_cmpstr (f->allow, ==, "GET, HEAD");
  fetch (f, "POST", "/metrics");
  g_assert_cmpuint (f->status, ==, 405);
  fetch (f, "GET", "/statu");
  g_assert_cmpuint (f->status, ==, 404);
  g_assert_cmpstr (f->content_type, ==, "application/json");
  fetch (f, "HEAD", "/status");
  g_assert_cmpuint (f->status, ==, 200);
  g_assert_cmpstr (f->body, ==, "");

  /* Stopped: nothing listens any more. */
  cf_http_stop (f->http);
  {
    g_auto(GStrv) none = cf_http_get_urls (f->http);
    g_assert_cmpuint (g_strv_length (none), ==, 0);
  }
}

static void
test_off_when_listen_empty (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = cf_config_load_data ("accounts: [{name: main, home: /h}]\n"
                                                    "http: {listen: ''}\n",
                                                    -1, "test.yaml", "/h", &error);
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfTaskEvents) task_events = cf_task_events_new (cf_state_get_counters (state));
  g_autoptr(CfHealth) health = cf_health_new (state, NULL, 1000);
  g_autoptr(CfHttp) http = cf_http_new (config, state, task_events, health);
  g_auto(GStrv) urls = NULL;

  g_assert_no_error (error);
  g_unsetenv ("LISTEN_FDS");
  g_assert_true (cf_http_start (http, &error));
  g_assert_no_error (error);
  urls = cf_http_get_urls (http);
  g_assert_cmpuint (g_strv_length (urls), ==, 0);
}

static void
test_port_taken (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) blocker = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                             G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(CfConfig) config = NULL;
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(CfTaskEvents) task_events = cf_task_events_new (cf_state_get_counters (state));
  g_autoptr(CfHealth) health = cf_health_new (state, NULL, 1000);
  g_autoptr(CfHttp) http = NULL;
  g_autofree char *yaml = NULL;
  g_autofree char *expected = NULL;
  guint port;

  g_assert_true (g_socket_bind (blocker, any, FALSE, NULL));
  g_assert_true (g_socket_listen (blocker, NULL));
  bound = g_socket_get_local_address (blocker, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  yaml = g_strdup_printf ("accounts: [{name: main, home: /h}]\nhttp: {listen: 'localhost:%u'}\n",
                          port);
  config = cf_config_load_data (yaml, -1, "test.yaml", "/h", &error);
  g_assert_no_error (error);
  http = cf_http_new (config, state, task_events, health);
  g_assert_false (cf_http_start (http, &error));
  expected = g_strdup_printf ("cannot listen on 127.0.0.1:%u (http.listen): ", port);
  g_assert_nonnull (error);
  g_assert_true (g_str_has_prefix (error->message, expected));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/health/reasons", test_health_reasons);
  g_test_add_func ("/health/grace", test_health_grace);
  g_test_add ("/http/delegation-hook", Fixture, NULL, fixture_setup, test_delegation_hook,
              fixture_teardown);
  g_test_add ("/http/methods-and-paths", Fixture, NULL, fixture_setup, test_methods_and_paths,
              fixture_teardown);
  g_test_add_func ("/http/off-when-listen-empty", test_off_when_listen_empty);
  g_test_add_func ("/http/port-taken", test_port_taken);
  return g_test_run ();
}
