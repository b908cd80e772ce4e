/* SPDX-License-Identifier: MIT */
#include "cf-test-jobapi.h"

#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <string.h>

static void
request_free (CfTestJobRequest *request)
{
  g_free (request->method);
  g_free (request->path);
  g_free (request->authorization);
  g_free (request->content_type);
  g_free (request->body);
  g_free (request);
}

static void
job_free (CfTestJob *job)
{
  g_free (job->id);
  g_free (job->status);
  g_free (job->result);
  g_free (job->provider);
  g_free (job->cost);
  g_free (job->error);
  g_free (job->request_body);
  g_free (job);
}

static void
respond (SoupServerMessage *msg, guint status, const char *json)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, json, strlen (json));
}

static char *
job_json (const CfTestJob *job)
{
  g_autoptr(GString) out = g_string_new ("{");
  g_autofree char *id = g_strescape (job->id, NULL);
  g_autofree char *status = g_strescape (job->status, NULL);

  g_string_append_printf (out, "\"id\":\"%s\",\"status\":\"%s\"", id, status);
  if (job->result != NULL)
    {
      g_autofree char *text = g_strescape (job->result, NULL);
      g_string_append_printf (out, ",\"result\":\"%s\"", text);
    }
  if (job->provider != NULL)
    g_string_append_printf (out, ",\"provider\":\"%s\"", job->provider);
  if (job->cost != NULL)
    g_string_append_printf (out, ",\"cost\":%s", job->cost);
  if (job->error != NULL)
    {
      g_autofree char *text = g_strescape (job->error, NULL);
      g_string_append_printf (out, ",\"error\":\"%s\"", text);
    }
  g_string_append_c (out, '}');
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
on_jobs (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
         gpointer user_data)
{
  CfTestJobApi *api = user_data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  CfTestJobRequest *request = g_new0 (CfTestJobRequest, 1);
  GQueue *statuses;
  guint status;

  request->method = g_strdup (method);
  request->path = g_strdup (path);
  request->authorization = g_strdup (soup_message_headers_get_one (headers, "Authorization"));
  request->content_type = g_strdup (soup_message_headers_get_content_type (headers, NULL));
  request->body = g_strndup (body->data != NULL ? body->data : "", body->length);
  g_ptr_array_add (api->requests, request);

  if (api->hang)
    {
      soup_server_message_pause (msg);
      g_ptr_array_add (api->paused, g_object_ref (msg));
      return;
    }
  if (api->raw_reply != NULL)
    {
      respond (msg, SOUP_STATUS_OK, api->raw_reply);
      return;
    }
  statuses = g_str_equal (method, "POST") ? &api->post_statuses : &api->get_statuses;
  status = GPOINTER_TO_UINT (g_queue_pop_head (statuses));
  if (status != 0)
    {
      respond (msg, status, "{\"error\":\"as the test asked\"}");
      return;
    }

  if (g_str_equal (method, "POST") && g_str_equal (path, "/api/jobs"))
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autofree char *id = g_strdup_printf ("job-%u", ++api->next_id);
      g_autofree char *reply = NULL;
      CfTestJob *job;

      if (!json_parser_load_from_data (parser, request->body, -1, NULL))
        {
          respond (msg, SOUP_STATUS_BAD_REQUEST, "{\"error\":\"not JSON\"}");
          return;
        }
      job = cf_test_job_api_set (api, id, "queued", NULL, NULL, NULL);
      job->request_body = g_strdup (request->body);
      {
        JsonObject *object = json_node_get_object (json_parser_get_root (parser));
        if (json_object_has_member (object, "provider"))
          job->provider = g_strdup (json_object_get_string_member (object, "provider"));
      }
      reply = g_strdup_printf ("{\"id\":\"%s\",\"status\":\"queued\"}", id);
      respond (msg, SOUP_STATUS_CREATED, reply);
      return;
    }
  if (g_str_equal (method, "GET") && g_str_has_prefix (path, "/api/jobs/"))
    {
      CfTestJob *job = cf_test_job_api_find (api, path + strlen ("/api/jobs/"));
      g_autofree char *reply = NULL;

      if (job == NULL)
        {
          respond (msg, SOUP_STATUS_NOT_FOUND, "{\"error\":\"no such job\"}");
          return;
        }
      reply = job_json (job);
      respond (msg, SOUP_STATUS_OK, reply);
      return;
    }
  respond (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "{\"error\":\"no\"}");
}

CfTestJobApi *
cf_test_job_api_new (void)
{
  CfTestJobApi *api = g_new0 (CfTestJobApi, 1);
  g_autoptr(GError) error = NULL;
  GSList *uris;

  api->server = soup_server_new (NULL, NULL);
  api->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);
  api->paused = g_ptr_array_new_with_free_func (g_object_unref);
  api->jobs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) job_free);
  g_queue_init (&api->post_statuses);
  g_queue_init (&api->get_statuses);
  soup_server_add_handler (api->server, "/api/jobs", on_jobs, api, NULL);
  g_assert_true (soup_server_listen_local (api->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (api->server);
  g_assert_nonnull (uris);
  api->url = g_strdup_printf ("http://127.0.0.1:%d/api", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return api;
}

void
cf_test_job_api_free (CfTestJobApi *api)
{
  if (api == NULL)
    return;
  soup_server_disconnect (api->server);
  g_ptr_array_unref (api->paused);
  g_object_unref (api->server);
  g_ptr_array_unref (api->requests);
  g_hash_table_unref (api->jobs);
  g_queue_clear (&api->post_statuses);
  g_queue_clear (&api->get_statuses);
  g_free (api->raw_reply);
  g_free (api->url);
  g_free (api);
}

CfTestJob *
cf_test_job_api_find (CfTestJobApi *api, const char *id)
{
  return g_hash_table_lookup (api->jobs, id);
}

static void
replace (char **field, const char *value)
{
  if (value != NULL)
    {
      g_free (*field);
      *field = g_strdup (value);
    }
}

CfTestJob *
cf_test_job_api_set (CfTestJobApi *api, const char *id, const char *status, const char *result,
                     const char *cost, const char *error)
{
  CfTestJob *job = cf_test_job_api_find (api, id);

  if (job == NULL)
    {
      job = g_new0 (CfTestJob, 1);
      job->id = g_strdup (id);
      job->status = g_strdup ("queued");
      g_hash_table_insert (api->jobs, job->id, job);
    }
  replace (&job->status, status);
  replace (&job->result, result);
  replace (&job->cost, cost);
  replace (&job->error, error);
  return job;
}

guint
cf_test_job_api_count (CfTestJobApi *api, const char *method)
{
  guint n = 0;

  for (guint i = 0; i < api->requests->len; i++)
    {
      CfTestJobRequest *request = g_ptr_array_index (api->requests, i);
      n += method == NULL || g_str_equal (request->method, method);
    }
  return n;
}

static void
queue_statuses (GQueue *queue, va_list args)
{
  guint status;

  while ((status = va_arg (args, guint)) != 0)
    g_queue_push_tail (queue, GUINT_TO_POINTER (status));
}

void
cf_test_job_api_fail_posts (CfTestJobApi *api, ...)
{
  va_list args;

  va_start (args, api);
  queue_statuses (&api->post_statuses, args);
  va_end (args);
}

void
cf_test_job_api_fail_gets (CfTestJobApi *api, ...)
{
  va_list args;

  va_start (args, api);
  queue_statuses (&api->get_statuses, args);
  va_end (args);
}
