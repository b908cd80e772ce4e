/* SPDX-License-Identifier: MIT */
#include "cf-http-dashboard.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "cf-dashboard-resources.h"
#include "cf-json.h"

#define DASHBOARD_RESOURCE "/org/claudefailover/dashboard/index.html"
#define QUEUE_TASKS_SHOWN 20

/* Inline script and style only, and fetches to this origin: the page can
 * load nothing from elsewhere even if a task title smuggled markup in. */
#define DASHBOARD_CSP "default-src 'none'; script-src 'unsafe-inline'; " \
                      "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; " \
                      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static void
respond_bytes (SoupServerMessage *msg, guint status, const char *content_type, GBytes *body)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  gsize size = 0;
  const char *data = g_bytes_get_data (body, &size);

  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY, data, size);
}

static void
respond_error (SoupServerMessage *msg, guint status, const char *text)
{
  g_autofree char *body = g_strdup_printf ("{\"error\":\"%s\"}", text);
  g_autoptr(GBytes) bytes = g_bytes_new_take (g_steal_pointer (&body), strlen (text) + 12);

  respond_bytes (msg, status, "application/json", bytes);
}

void
cf_http_dashboard_serve_page (SoupServerMessage *msg, gboolean enabled)
{
  g_autoptr(GBytes) page = NULL;
  g_autoptr(GError) error = NULL;

  if (!enabled)
    {
      respond_error (msg, SOUP_STATUS_NOT_FOUND, "the dashboard is off (http.dashboard: false)");
      return;
    }
  /* Through the symbol, so the linker keeps the resource in the daemon. */
  page = g_resource_lookup_data (cf_dashboard_get_resource (), DASHBOARD_RESOURCE,
                                 G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
  if (page == NULL)
    {
      g_warning ("Dashboard page missing from the build: %s", error->message);
      respond_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "the dashboard page is missing");
      return;
    }
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Content-Security-Policy", DASHBOARD_CSP);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "X-Frame-Options", "DENY");
  respond_bytes (msg, SOUP_STATUS_OK, "text/html; charset=utf-8", page);
}

typedef struct {
  const char *project;
  GPtrArray *tasks;            /* CfInboxTask*, borrowed, queue order */
} ProjectQueue;

static gint
busiest_first (gconstpointer a, gconstpointer b)
{
  const ProjectQueue *pa = *(ProjectQueue *const *) a;
  const ProjectQueue *pb = *(ProjectQueue *const *) b;

  if (pa->tasks->len != pb->tasks->len)
    return pa->tasks->len > pb->tasks->len ? -1 : 1;
  return g_strcmp0 (pa->project, pb->project);
}

static void
project_queue_free (ProjectQueue *queue)
{
  g_ptr_array_unref (queue->tasks);
  g_free (queue);
}

void
cf_http_dashboard_serve_queue (SoupServerMessage *msg, CfInbox *inbox)
{
  g_autoptr(GPtrArray) pending = NULL;
  g_autoptr(GHashTable) by_project = NULL;
  g_autoptr(GPtrArray) projects = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GBytes) body = NULL;
  gsize length = 0;
  char *text;

  if (inbox == NULL)
    {
      respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "the queue is not known yet");
      return;
    }
  pending = cf_inbox_list_pending (inbox);
  by_project = g_hash_table_new (g_str_hash, g_str_equal);
  projects = g_ptr_array_new_with_free_func ((GDestroyNotify) project_queue_free);
  for (guint i = 0; i < pending->len; i++)
    {
      CfInboxTask *task = g_ptr_array_index (pending, i);
      ProjectQueue *queue = g_hash_table_lookup (by_project, task->project);

      if (queue == NULL)
        {
          queue = g_new0 (ProjectQueue, 1);
          queue->project = task->project;
          queue->tasks = g_ptr_array_new ();
          g_hash_table_insert (by_project, (gpointer) task->project, queue);
          g_ptr_array_add (projects, queue);
        }
      g_ptr_array_add (queue->tasks, task);
    }
  g_ptr_array_sort (projects, busiest_first);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "projects");
  json_builder_begin_array (builder);
  for (guint i = 0; i < projects->len; i++)
    {
      ProjectQueue *queue = g_ptr_array_index (projects, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "project");
      json_builder_add_string_value (builder, queue->project);
      json_builder_set_member_name (builder, "queued");
      json_builder_add_int_value (builder, queue->tasks->len);
      json_builder_set_member_name (builder, "tasks");
      json_builder_begin_array (builder);
      for (guint j = 0; j < MIN (queue->tasks->len, QUEUE_TASKS_SHOWN); j++)
        {
          CfInboxTask *task = g_ptr_array_index (queue->tasks, j);

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "id");
          json_builder_add_string_value (builder, task->id);
          json_builder_set_member_name (builder, "priority");
          json_builder_add_string_value (builder, cf_priority_to_string (task->priority));
          json_builder_set_member_name (builder, "queued_at");
          json_builder_add_int_value (builder, task->queued_at);
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = cf_json_generate (generator, &length);
  body = g_bytes_new_take (text, length);
  respond_bytes (msg, SOUP_STATUS_OK, "application/json", body);
}
