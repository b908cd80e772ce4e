/* SPDX-License-Identifier: MIT */
#include "cf-http-events.h"

#include <string.h>
#include <sys/socket.h>

#include "cf-json.h"
#include "cf-sse.h"

/* Per client, in the kernel, on top of options.buffer_limit. */
#define SEND_BUFFER_BYTES 32768

typedef struct _Client Client;

struct _CfHttpEvents {
  GObject parent_instance;

  CfHttpEventsOptions options;
  CfState *state;
  CfTaskEvents *task_events;
  CfSwitcher *switcher;
  CfQuota *quota;
  GPtrArray *clients;          /* Client*, open ones */
  guint heartbeat_id;
  guint64 n_dropped;
};

/* Alive while it is in owner->clients or an asynchronous call holds it. */
struct _Client {
  gint ref_count;
  CfHttpEvents *owner;         /* NULL once closed */
  GIOStream *stream;
  GCancellable *cancellable;
  GQueue queue;                /* GBytes* waiting */
  gsize queued_bytes;          /* waiting + the one being written */
  GBytes *writing;
  char *peer;                  /* for logs */
  guint8 read_buffer[512];
};

G_DEFINE_FINAL_TYPE (CfHttpEvents, cf_http_events, G_TYPE_OBJECT)

static Client *
client_ref (Client *client)
{
  g_atomic_int_inc (&client->ref_count);
  return client;
}

static void
client_unref (Client *client)
{
  if (!g_atomic_int_dec_and_test (&client->ref_count))
    return;
  g_queue_clear_full (&client->queue, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&client->writing, g_bytes_unref);
  g_clear_object (&client->cancellable);
  g_clear_object (&client->stream);
  g_free (client->peer);
  g_free (client);
}

static void
on_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  client_unref (user_data);
}

/* Forgets CLIENT and closes its connection; WHY (NULL = the client left)
 * is logged. */
static void
client_close (Client *client, const char *why)
{
  CfHttpEvents *owner = client->owner;

  if (owner == NULL)
    return;
  client->owner = NULL;
  if (why != NULL)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "MESSAGE", "Event stream client %s disconnected: %s", client->peer, why);
  g_cancellable_cancel (client->cancellable);
  g_io_stream_close_async (client->stream, G_PRIORITY_DEFAULT, NULL, on_closed, client_ref (client));
  /* Drops the list's reference. */
  g_ptr_array_remove (owner->clients, client);
}

static void client_flush (Client *client);

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        client_close (client, error->message);
      client_unref (client);
      return;
    }
  client->queued_bytes -= g_bytes_get_size (client->writing);
  g_clear_pointer (&client->writing, g_bytes_unref);
  client_flush (client);
  client_unref (client);
}

static void
client_flush (Client *client)
{
  gsize size;
  const void *data;

  if (client->owner == NULL || client->writing != NULL || g_queue_is_empty (&client->queue))
    return;
  client->writing = g_queue_pop_head (&client->queue);
  data = g_bytes_get_data (client->writing, &size);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (client->stream), data, size,
                                   G_PRIORITY_DEFAULT, client->cancellable, on_written,
                                   client_ref (client));
}

/* Queues TEXT (taken) for CLIENT, or disconnects it when that would pass
 * the buffer limit. */
static void
client_send (Client *client, char *text)
{
  CfHttpEvents *owner = client->owner;
  gsize size = strlen (text);

  if (owner == NULL)
    {
      g_free (text);
      return;
    }
  if (client->queued_bytes + size > owner->options.buffer_limit)
    {
      g_autofree char *why = g_strdup_printf ("too slow: %" G_GSIZE_FORMAT " bytes not yet "
                                              "read (limit %" G_GSIZE_FORMAT ")",
                                              client->queued_bytes + size,
                                              owner->options.buffer_limit);
      g_free (text);
      owner->n_dropped++;
      client_close (client, why);
      return;
    }
  g_queue_push_tail (&client->queue, g_bytes_new_take (text, size));
  client->queued_bytes += size;
  client_flush (client);
}

/* The client sends nothing after its request: a read that ends says it
 * left (or broke the protocol), either way it goes. */
static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n > 0 && client->owner != NULL)
    g_input_stream_read_async (G_INPUT_STREAM (source), client->read_buffer,
                               sizeof client->read_buffer, G_PRIORITY_DEFAULT,
                               client->cancellable, on_read, client_ref (client));
  else if (n == 0)
    client_close (client, NULL);
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    client_close (client, error->message);
  client_unref (client);
}

/* ---- events -------------------------------------------------------------- */

void
cf_http_events_publish (CfHttpEvents *self, const char *name, JsonNode *data)
{
  g_autoptr(JsonGenerator) generator = NULL;
  g_autofree char *json = NULL;
  g_autofree char *frame = NULL;
  g_autoptr(GPtrArray) clients = NULL;

  if (self->clients->len == 0)
    return;
  generator = json_generator_new ();
  json_generator_set_root (generator, data);
  json = cf_json_generate (generator, NULL);
  frame = cf_sse_event (name, json);
  /* client_send may remove a client from the list. */
  clients = g_ptr_array_copy (self->clients, (GCopyFunc) client_ref, NULL);
  g_ptr_array_set_free_func (clients, (GDestroyNotify) client_unref);
  for (guint i = 0; i < clients->len; i++)
    client_send (g_ptr_array_index (clients, i), g_strdup (frame));
}

static void
add_string (JsonBuilder *builder, const char *name, const char *value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value != NULL ? value : "");
}

/* NAMES_AND_VALUES: member names and string values alternating, NULL-terminated. */
static void
publish_strings (CfHttpEvents *self, const char *signal, ...)
{
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) root = NULL;
  const char *name;
  va_list args;

  if (self->clients->len == 0)
    return;
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  va_start (args, signal);
  while ((name = va_arg (args, const char *)) != NULL)
    add_string (builder, name, va_arg (args, const char *));
  va_end (args);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  cf_http_events_publish (self, signal, root);
}

static void
on_session_changed (CfState *state, CfSession *session, CfHttpEvents *self)
{
  publish_strings (self, "SessionChanged", "name", session->name,
                   "state", cf_session_state_to_string (session->state),
                   "project", session->project, "task", session->task, NULL);
}

static void
on_task_dispatched (CfTaskEvents *events, const char *project, const char *task,
                    const char *session, const char *model, const char *account,
                    CfHttpEvents *self)
{
  publish_strings (self, "TaskDispatched", "project", project, "task_id", task,
                   "session", session, "model", model, "account", account, NULL);
}

static void
on_task_finished (CfTaskEvents *events, const char *project, const char *task, const char *session,
                  const char *outcome, CfHttpEvents *self)
{
  publish_strings (self, "TaskFinished", "project", project, "task_id", task,
                   "session", session, "outcome", outcome, NULL);
}

static void
on_swap_started (CfSwitcher *switcher, const char *from, const char *to, const char *reason,
                 CfHttpEvents *self)
{
  publish_strings (self, "SwapStarted", "from", from, "to", to, "reason", reason, NULL);
}

static void
on_swap_finished (CfSwitcher *switcher, const char *from, const char *to, gboolean success,
                  const char *message, CfHttpEvents *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  if (self->clients->len == 0)
    return;
  json_builder_begin_object (builder);
  add_string (builder, "from", from);
  add_string (builder, "to", to);
  json_builder_set_member_name (builder, "success");
  json_builder_add_boolean_value (builder, success);
  add_string (builder, "message", message);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  cf_http_events_publish (self, "SwapFinished", root);
}

static void
on_quota_exhausted (CfQuota *quota, const char *account, GStrv sessions, gint64 reset_at,
                    const char *evidence, CfHttpEvents *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  if (self->clients->len == 0)
    return;
  json_builder_begin_object (builder);
  add_string (builder, "account", account);
  json_builder_set_member_name (builder, "sessions");
  json_builder_begin_array (builder);
  for (guint i = 0; sessions != NULL && sessions[i] != NULL; i++)
    json_builder_add_string_value (builder, sessions[i]);
  json_builder_end_array (builder);
  /* µs since the epoch, as the D-Bus t. */
  json_builder_set_member_name (builder, "reset_at");
  json_builder_add_int_value (builder, MAX (reset_at, 0));
  add_string (builder, "evidence", evidence);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  cf_http_events_publish (self, "QuotaExhausted", root);
}

static gboolean
on_heartbeat (gpointer user_data)
{
  CfHttpEvents *self = user_data;
  g_autoptr(GPtrArray) clients = g_ptr_array_copy (self->clients, (GCopyFunc) client_ref, NULL);

  g_ptr_array_set_free_func (clients, (GDestroyNotify) client_unref);
  for (guint i = 0; i < clients->len; i++)
    client_send (g_ptr_array_index (clients, i), cf_sse_comment ("heartbeat"));
  return G_SOURCE_CONTINUE;
}

/* ---- requests ------------------------------------------------------------ */

static void
respond_text (SoupServerMessage *msg, guint status, const char *content_type, const char *text)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY, text, strlen (text));
}

void
cf_http_events_serve (CfHttpEvents *self, SoupServerMessage *msg)
{
  static const char head[] = "HTTP/1.1 200 OK\r\n"
                             "Content-Type: text/event-stream; charset=utf-8\r\n"
                             "Cache-Control: no-store\r\n"
                             "X-Content-Type-Options: nosniff\r\n"
                             "X-Accel-Buffering: no\r\n"
                             "Connection: close\r\n"
                             "\r\n";
  Client *client;
  GIOStream *stream;
  GSocket *socket;
  const char *remote = soup_server_message_get_remote_host (msg);

  if (soup_server_message_get_method (msg) == SOUP_METHOD_HEAD)
    {
      respond_text (msg, SOUP_STATUS_OK, "text/event-stream; charset=utf-8", "");
      return;
    }
  if (self->clients->len >= self->options.max_clients)
    {
      g_autofree char *body = g_strdup_printf ("{\"error\":\"too many event stream clients "
                                               "(at most %u)\"}", self->options.max_clients);

      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "Retry-After", "10");
      respond_text (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "application/json", body);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "MESSAGE", "Event stream client %s refused: %u clients already",
                        remote != NULL ? remote : "?", self->clients->len);
      return;
    }

  client = g_new0 (Client, 1);
  client->ref_count = 1;
  client->owner = self;
  client->peer = g_strdup (remote != NULL ? remote : "?");
  client->cancellable = g_cancellable_new ();
  g_queue_init (&client->queue);
  socket = soup_server_message_get_socket (msg);
  /* From here the connection is ours: SoupServer forgets it. */
  stream = soup_server_message_steal_connection (msg);
  client->stream = g_object_ref (stream);
  /* The kernel would otherwise buffer megabytes for a reader that stalled
   * before our own limit noticed it. */
  if (socket != NULL)
    (void) g_socket_set_option (socket, SOL_SOCKET, SO_SNDBUF, (gint) SEND_BUFFER_BYTES, NULL);
  g_ptr_array_add (self->clients, client);
  client_send (client, g_strdup (head));
  client_send (client, cf_sse_comment ("claude-failover events"));
  g_input_stream_read_async (g_io_stream_get_input_stream (stream), client->read_buffer,
                             sizeof client->read_buffer, G_PRIORITY_DEFAULT, client->cancellable,
                             on_read, client_ref (client));
  g_object_unref (stream);
}

/* ---- object -------------------------------------------------------------- */

static guint
env_override (const char *name, guint value)
{
  const char *text = g_getenv (name);
  guint64 parsed;

  if (text != NULL && g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT, &parsed, NULL))
    return (guint) parsed;
  return value;
}

void
cf_http_events_options_init (CfHttpEventsOptions *options)
{
  options->max_clients = env_override ("CF_TEST_SSE_MAX_CLIENTS", 8);
  options->buffer_limit = env_override ("CF_TEST_SSE_BUFFER_BYTES", 65536);
  options->heartbeat_ms = env_override ("CF_TEST_SSE_HEARTBEAT_MS", 15000);
}

CfHttpEvents *
cf_http_events_new (CfState *state, CfTaskEvents *task_events,
                    const CfHttpEventsOptions *options)
{
  CfHttpEvents *self = g_object_new (CF_TYPE_HTTP_EVENTS, NULL);

  if (options != NULL)
    self->options = *options;
  else
    cf_http_events_options_init (&self->options);
  self->options.heartbeat_ms = MAX (self->options.heartbeat_ms, 1);
  self->state = g_object_ref (state);
  self->task_events = g_object_ref (task_events);
  g_signal_connect_object (state, "session-changed", G_CALLBACK (on_session_changed), self, 0);
  g_signal_connect_object (task_events, "task-dispatched", G_CALLBACK (on_task_dispatched), self,
                           0);
  g_signal_connect_object (task_events, "task-finished", G_CALLBACK (on_task_finished), self, 0);
  self->heartbeat_id = g_timeout_add (self->options.heartbeat_ms, on_heartbeat, self);
  return self;
}

void
cf_http_events_follow_failover (CfHttpEvents *self, CfSwitcher *switcher, CfQuota *quota)
{
  g_return_if_fail (self->switcher == NULL && self->quota == NULL);

  self->switcher = g_object_ref (switcher);
  self->quota = g_object_ref (quota);
  g_signal_connect_object (quota, "exhausted", G_CALLBACK (on_quota_exhausted), self, 0);
  g_signal_connect_object (switcher, "swap-started", G_CALLBACK (on_swap_started), self, 0);
  g_signal_connect_object (switcher, "swap-finished", G_CALLBACK (on_swap_finished), self, 0);
}

guint
cf_http_events_get_n_clients (CfHttpEvents *self)
{
  return self->clients->len;
}

guint64
cf_http_events_get_n_dropped (CfHttpEvents *self)
{
  return self->n_dropped;
}

void
cf_http_events_free (CfHttpEvents *self)
{
  if (self == NULL)
    return;
  g_return_if_fail (CF_IS_HTTP_EVENTS (self));
  g_object_run_dispose (G_OBJECT (self));
  g_object_unref (self);
}

static void
cf_http_events_dispose (GObject *object)
{
  CfHttpEvents *self = CF_HTTP_EVENTS (object);

  g_clear_handle_id (&self->heartbeat_id, g_source_remove);
  while (self->clients->len > 0)
    client_close (g_ptr_array_index (self->clients, self->clients->len - 1), NULL);
  g_clear_object (&self->switcher);
  g_clear_object (&self->quota);
  g_clear_object (&self->state);
  g_clear_object (&self->task_events);
  G_OBJECT_CLASS (cf_http_events_parent_class)->dispose (object);
}

static void
cf_http_events_finalize (GObject *object)
{
  CfHttpEvents *self = CF_HTTP_EVENTS (object);

  g_ptr_array_unref (self->clients);
  G_OBJECT_CLASS (cf_http_events_parent_class)->finalize (object);
}

static void
cf_http_events_class_init (CfHttpEventsClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_http_events_dispose;
  G_OBJECT_CLASS (klass)->finalize = cf_http_events_finalize;
}

static void
cf_http_events_init (CfHttpEvents *self)
{
  self->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_unref);
}
