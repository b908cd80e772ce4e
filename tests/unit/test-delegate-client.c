/* SPDX-License-Identifier: MIT */
/* CfDelegateClient against an in-process job API: exact requests, retries
 * (5xx and transport errors, never 4xx), timeouts, cancellation, strict
 * replies. */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "cf-delegate-client.h"
#include "cf-test-jobapi.h"
#include "cf-test-util.h"

#define KEY "s3cr3t-key"

typedef struct {
  CfTestJobApi *api;
  CfDelegateClient *client;
  gboolean done;
  CfDelegateJob *job;
  GError *error;
  gint64 finished_at;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  CfDelegateClientOptions options;
  g_autoptr(GError) error = NULL;

  f->api = cf_test_job_api_new ();
  cf_delegate_client_options_init (&options);
  options.backoff_ms = 20;
  options.timeout_ms = 2000;
  f->client = cf_delegate_client_new (f->api->url, KEY, &options, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->client);
  g_clear_pointer (&f->job, cf_delegate_job_free);
  g_clear_error (&f->error);
  cf_test_job_api_free (f->api);
}

static void
reset (Fixture *f)
{
  f->done = FALSE;
  g_clear_pointer (&f->job, cf_delegate_job_free);
  g_clear_error (&f->error);
}

static void
on_submitted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;

  f->job = cf_delegate_client_submit_finish (CF_DELEGATE_CLIENT (source), result, &f->error);
  f->done = TRUE;
  f->finished_at = g_get_monotonic_time ();
}

static void
on_got (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;

  f->job = cf_delegate_client_get_finish (CF_DELEGATE_CLIENT (source), result, &f->error);
  f->done = TRUE;
  f->finished_at = g_get_monotonic_time ();
}

static gboolean
is_done (gpointer fixture, gconstpointer data)
{
  return ((Fixture *) fixture)->done;
}

static const CfDelegateRequest request = {
  .provider = "gemini", .priority = "high", .prompt = "Summarise \"the\" logs\n",
  .project = "web", .task = "t-1",
};

static void
submit (Fixture *f, CfDelegateClient *client, GCancellable *cancellable)
{
  reset (f);
  cf_delegate_client_submit_async (client != NULL ? client : f->client, &request, cancellable,
                                   on_submitted, f);
}

static void
get (Fixture *f, const char *id, GCancellable *cancellable)
{
  reset (f);
  cf_delegate_client_get_async (f->client, id, cancellable, on_got, f);
}

static void
wait_done (Fixture *f, guint timeout_ms)
{
  g_assert_true (cf_test_run_until (f, is_done, NULL, timeout_ms));
  /* Never the key, whatever went wrong. */
  if (f->error != NULL)
    {
      g_assert_null (strstr (f->error->message, KEY));
      g_assert_null (strchr (f->error->message, '\n'));
    }
}

static void
test_submit (Fixture *f, gconstpointer data)
{
  CfTestJobRequest *sent;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *body;

  submit (f, NULL, NULL);
  wait_done (f, 5000);
  g_assert_no_error (f->error);
  g_assert_cmpstr (f->job->id, ==, "job-1");
  g_assert_cmpint (f->job->status, ==, CF_JOB_STATUS_QUEUED);

  g_assert_cmpuint (f->api->requests->len, ==, 1);
  sent = g_ptr_array_index (f->api->requests, 0);
  g_assert_cmpstr (sent->method, ==, "POST");
  g_assert_cmpstr (sent->path, ==, "/api/jobs");
  g_assert_cmpstr (sent->authorization, ==, "Bearer " KEY);
  g_assert_cmpstr (sent->content_type, ==, "application/json");
  g_assert_true (json_parser_load_from_data (parser, sent->body, -1, NULL));
  body = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpuint (json_object_get_size (body), ==, 5);
  g_assert_cmpstr (json_object_get_string_member (body, "provider"), ==, "gemini");
  g_assert_cmpstr (json_object_get_string_member (body, "priority"), ==, "high");
  g_assert_cmpstr (json_object_get_string_member (body, "prompt"), ==, "Summarise \"the\" logs\n");
  g_assert_cmpstr (json_object_get_string_member (body, "project"), ==, "web");
  g_assert_cmpstr (json_object_get_string_member (body, "task"), ==, "t-1");
  g_assert_cmpuint (cf_delegate_client_get_requests (f->client), ==, 1);
}

static void
test_get (Fixture *f, gconstpointer data)
{
  CfTestJobRequest *sent;

  cf_test_job_api_set (f->api, "j:7", "completed", "All green.\nNothing to fix.", "0.25", NULL)
    ->provider = g_strdup ("gpu");
  get (f, "j:7", NULL);
  wait_done (f, 5000);
  g_assert_no_error (f->error);
  g_assert_cmpstr (f->job->id, ==, "j:7");
  g_assert_cmpint (f->job->status, ==, CF_JOB_STATUS_COMPLETED);
  g_assert_cmpstr (f->job->result, ==, "All green.\nNothing to fix.");
  g_assert_cmpstr (f->job->cost, ==, "0.25");
  g_assert_cmpstr (f->job->provider, ==, "gpu");
  sent = g_ptr_array_index (f->api->requests, 0);
  g_assert_cmpstr (sent->method, ==, "GET");
  g_assert_cmpstr (sent->path, ==, "/api/jobs/j:7");
  g_assert_cmpstr (sent->authorization, ==, "Bearer " KEY);

  cf_test_job_api_set (f->api, "j:8", "failed", NULL, NULL, "GPU out of memory");
  get (f, "j:8", NULL);
  wait_done (f, 5000);
  g_assert_no_error (f->error);
  g_assert_cmpint (f->job->status, ==, CF_JOB_STATUS_FAILED);
  g_assert_cmpstr (f->job->error, ==, "GPU out of memory");
}

static void
test_trailing_slash (Fixture *f, gconstpointer data)
{
  g_autofree char *url = g_strconcat (f->api->url, "//", NULL);
  g_autoptr(CfDelegateClient) client = cf_delegate_client_new (url, KEY, NULL, NULL);

  submit (f, client, NULL);
  wait_done (f, 5000);
  g_assert_no_error (f->error);
  g_assert_cmpstr (((CfTestJobRequest *) g_ptr_array_index (f->api->requests, 0))->path, ==,
                   "/api/jobs");
  g_assert_cmpstr (cf_delegate_client_get_display_url (client), ==, url);
}

static void
test_retry_5xx_then_success (Fixture *f, gconstpointer data)
{
  gint64 started = g_get_monotonic_time ();

  cf_test_job_api_fail_posts (f->api, 503, 500, 502, 0);
  submit (f, NULL, NULL);
  wait_done (f, 5000);
  g_assert_no_error (f->error);
  g_assert_cmpstr (f->job->id, ==, "job-1");
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, 4);
  /* 20 + 40 + 80 ms of backoff. */
  g_assert_cmpint (f->finished_at - started, >=, 140 * 1000);
}

static void
test_retry_5xx_gives_up (Fixture *f, gconstpointer data)
{
  cf_test_job_api_fail_posts (f->api, 500, 503, 500, 503, 500, 0);
  submit (f, NULL, NULL);
  wait_done (f, 5000);
  g_assert_null (f->job);
  g_assert_error (f->error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_SERVER);
  g_assert_true (g_str_has_prefix (f->error->message, "POST http://127.0.0.1:"));
  g_assert_nonnull (strstr (f->error->message, "/api/jobs: HTTP 503 Service Unavailable: "
                                               "{\"error\":\"as the test asked\"} (after 4 attempts)"));
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, 4);
  /* The fifth status was never asked for. */
  g_assert_cmpuint (g_queue_get_length (&f->api->post_statuses), ==, 1);
}

static void
test_4xx_not_retried (Fixture *f, gconstpointer data)
{
  static const guint statuses[] = { 400, 401, 403, 409, 422, 429 };

  for (guint i = 0; i < G_N_ELEMENTS (statuses); i++)
    {
      guint before = cf_test_job_api_count (f->api, "POST");

      cf_test_job_api_fail_posts (f->api, statuses[i], 0);
      submit (f, NULL, NULL);
      wait_done (f, 5000);
      g_assert_error (f->error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_REJECTED);
      g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, before + 1);
    }

  get (f, "nope", NULL);
  wait_done (f, 5000);
  g_assert_error (f->error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (f->error->message, "/api/jobs/nope: HTTP 404 Not Found"));
  g_assert_cmpuint (cf_test_job_api_count (f->api, "GET"), ==, 1);
}

static void
test_redirect_not_followed (Fixture *f, gconstpointer data)
{
  cf_test_job_api_fail_posts (f->api, 307, 0);
  submit (f, NULL, NULL);
  wait_done (f, 5000);
  g_assert_error (f->error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_UNEXPECTED);
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, 1);
}

static void
test_bad_reply_not_retried (Fixture *f, gconstpointer data)
{
  static const char *const replies[] = {
    "<html>oops</html>", "{\"id\":\"1\"}", "{\"id\":\"1\",\"status\":\"done\"}", "",
    "{\"id\":\"1\",\"status\":\"queued\"} {}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (replies); i++)
    {
      g_free (f->api->raw_reply);
      f->api->raw_reply = g_strdup (replies[i]);
      submit (f, NULL, NULL);
      wait_done (f, 5000);
      g_assert_error (f->error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_BAD_REPLY);
      g_assert_true (g_str_has_prefix (f->error->message, "POST http://127.0.0.1:"));
      g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, i + 1);
    }
}

static void
test_reply_too_large (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) large = g_string_new ("{\"id\":\"1\",\"status\":\"completed\",\"result\":\"");

  while (large->len < CF_DELEGATE_REPLY_MAX + 100)
    g_string_append (large, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  g_string_append (large, "\"}");
  f->api->raw_reply = g_string_free (g_steal_pointer (&large), FALSE);
  get (f, "1", NULL);
  wait_done (f, 10000);
  g_assert_error (f->error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_BAD_REPLY);
  g_assert_nonnull (strstr (f->error->message, "larger than 4194304 bytes"));
}

static void
test_transport_error_retried (Fixture *f, gconstpointer data)
{
  CfDelegateClientOptions options = { .timeout_ms = 2000, .max_retries = 2, .backoff_ms = 10 };
  g_autoptr(CfDelegateClient) client = NULL;
  g_autoptr(GError) error = NULL;

  /* Nobody listens on port 9 of loopback (discard is never enabled here). */
  client = cf_delegate_client_new ("http://127.0.0.1:9/api", KEY, &options, &error);
  g_assert_no_error (error);
  submit (f, client, NULL);
  wait_done (f, 5000);
  g_assert_error (f->error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_TRANSPORT);
  g_assert_nonnull (strstr (f->error->message, "(after 3 attempts)"));
  g_assert_cmpuint (cf_delegate_client_get_requests (client), ==, 3);
}

static void
test_timeout (Fixture *f, gconstpointer data)
{
  CfDelegateClientOptions options = { .timeout_ms = 150, .max_retries = 1, .backoff_ms = 10 };
  g_autoptr(CfDelegateClient) client = cf_delegate_client_new (f->api->url, KEY, &options, NULL);
  gint64 started = g_get_monotonic_time ();

  f->api->hang = TRUE;
  submit (f, client, NULL);
  wait_done (f, 5000);
  g_assert_error (f->error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_TRANSPORT);
  g_assert_nonnull (strstr (f->error->message, "no reply within 150 ms (after 2 attempts)"));
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, 2);
  g_assert_cmpint (f->finished_at - started, >=, 300 * 1000);
  g_assert_cmpint (f->finished_at - started, <, 2000 * 1000);
}

static gboolean
cancel_now (gpointer cancellable)
{
  g_cancellable_cancel (cancellable);
  return G_SOURCE_REMOVE;
}

static void
test_cancel_during_request (Fixture *f, gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gint64 started;

  f->api->hang = TRUE;
  submit (f, NULL, cancellable);
  g_timeout_add (100, cancel_now, cancellable);
  started = g_get_monotonic_time ();
  wait_done (f, 5000);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (f->finished_at - started, <, 1000 * 1000);
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, 1);
}

static void
test_cancel_during_backoff (Fixture *f, gconstpointer data)
{
  CfDelegateClientOptions options = { .timeout_ms = 2000, .max_retries = 3, .backoff_ms = 10000 };
  g_autoptr(CfDelegateClient) client = cf_delegate_client_new (f->api->url, KEY, &options, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gint64 started = g_get_monotonic_time ();

  cf_test_job_api_fail_posts (f->api, 503, 0);
  submit (f, client, cancellable);
  g_timeout_add (200, cancel_now, cancellable);
  wait_done (f, 5000);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (f->finished_at - started, <, 2000 * 1000);
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, 1);

  /* Already cancelled: nothing is sent. */
  submit (f, client, cancellable);
  wait_done (f, 5000);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (cf_test_job_api_count (f->api, "POST"), ==, 1);
}

static void
test_invalid_arguments (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *url;
    const char *key;
  } bad[] = {
    { "ftp://host/api", KEY }, { "not a url", KEY }, { "http:///x", KEY },
    { "http://host/api?x=1", KEY }, { NULL, KEY }, { "http://host/api", "" },
    { "http://host/api", NULL }, { "http://host/api", "key\r\nX-Evil: 1" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CfDelegateClient) client = cf_delegate_client_new (bad[i].url, bad[i].key, NULL,
                                                                   &error);
      g_assert_null (client);
      g_assert_error (error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_INVALID_ARGUMENT);
    }

  get (f, "../etc/passwd", NULL);
  wait_done (f, 1000);
  g_assert_error (f->error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (f->api->requests->len, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/delegate-client/submit", test_submit);
  ADD ("/delegate-client/get", test_get);
  ADD ("/delegate-client/trailing-slash", test_trailing_slash);
  ADD ("/delegate-client/retry-5xx-then-success", test_retry_5xx_then_success);
  ADD ("/delegate-client/retry-5xx-gives-up", test_retry_5xx_gives_up);
  ADD ("/delegate-client/4xx-not-retried", test_4xx_not_retried);
  ADD ("/delegate-client/redirect-not-followed", test_redirect_not_followed);
  ADD ("/delegate-client/bad-reply-not-retried", test_bad_reply_not_retried);
  ADD ("/delegate-client/reply-too-large", test_reply_too_large);
  ADD ("/delegate-client/transport-error-retried", test_transport_error_retried);
  ADD ("/delegate-client/timeout", test_timeout);
  ADD ("/delegate-client/cancel-during-request", test_cancel_during_request);
  ADD ("/delegate-client/cancel-during-backoff", test_cancel_during_backoff);
  ADD ("/delegate-client/invalid-arguments", test_invalid_arguments);
#undef ADD
  return g_test_run ();
}
