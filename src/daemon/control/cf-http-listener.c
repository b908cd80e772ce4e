/* SPDX-License-Identifier: MIT */
#include "cf-http-listener.h"

#include <sys/resource.h>

/* Accepts per wake-up, so that one busy listener cannot hog the loop. */
#define ACCEPT_BATCH 32
/* After accept() fails (EMFILE, ENFILE, ENOBUFS…): pause, then try again. */
#define ACCEPT_PAUSE_MS 200
/* After shutting a connection down: how long libsoup has to let it go
 * before the descriptor is closed under it. */
#define CLOSE_GRACE_S 5
#define REFUSAL_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

typedef struct {
  CfHttpListener *owner;
  GSocket *socket;
  GSocketAddress *address;
  GSource *source;
  guint resume_id;
} Listening;

typedef struct {
  CfHttpListener *owner;
  GObject *stream;             /* the GSocketConnection, weakly */
  GSocket *socket;             /* the stream's, alive as long as it is */
  GSocketAddress *remote;      /* the key; what libsoup reports for its messages */
  guint timeout_id;
  gboolean shut_down;
} Connection;

struct _CfHttpListener {
  SoupServer *server;
  GPtrArray *listening;        /* Listening */
  GHashTable *connections;     /* GSocketAddress (remote) → Connection */
  guint64 n_refused;
  guint64 n_refused_logged;
  gint64 last_refusal_log;
  gint64 last_accept_error_log;
  gulong request_started_id;
  gulong request_read_id;
};

static void connection_set_timeout (Connection *connection, guint seconds);

/* ---- connections --------------------------------------------------------- */

static void
connection_free (Connection *connection)
{
  g_clear_handle_id (&connection->timeout_id, g_source_remove);
  g_clear_object (&connection->remote);
  g_free (connection);
}

static void
on_connection_gone (gpointer data, GObject *where_the_object_was)
{
  Connection *connection = data;

  g_hash_table_remove (connection->owner->connections, connection->remote);
}

static gboolean
on_connection_timeout (gpointer user_data)
{
  Connection *connection = user_data;

  connection->timeout_id = 0;
  if (!connection->shut_down)
    {
      /* libsoup sees end-of-file or a failed write and lets go of it. */
      connection->shut_down = TRUE;
      g_socket_shutdown (connection->socket, TRUE, TRUE, NULL);
      connection_set_timeout (connection, CLOSE_GRACE_S);
    }
  else
    g_socket_close (connection->socket, NULL);
  return G_SOURCE_REMOVE;
}

static void
connection_set_timeout (Connection *connection, guint seconds)
{
  g_clear_handle_id (&connection->timeout_id, g_source_remove);
  if (seconds > 0)
    connection->timeout_id = g_timeout_add_seconds (seconds, on_connection_timeout, connection);
}

static Connection *
connection_for_message (CfHttpListener *self, SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  return remote != NULL ? g_hash_table_lookup (self->connections, remote) : NULL;
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Connection", "close");
}

static void
on_request_read (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  Connection *connection = connection_for_message (user_data, msg);

  if (connection != NULL && !connection->shut_down)
    connection_set_timeout (connection, CF_HTTP_RESPONSE_TIMEOUT_S);
}

void
cf_http_listener_keep_open (CfHttpListener *self, SoupServerMessage *msg)
{
  Connection *connection = connection_for_message (self, msg);

  if (connection != NULL && !connection->shut_down)
    connection_set_timeout (connection, 0);
}

static void
log_refusals (CfHttpListener *self)
{
  gint64 now = g_get_monotonic_time ();

  if (self->last_refusal_log != 0 && now - self->last_refusal_log < REFUSAL_LOG_INTERVAL_US)
    return;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                    "MESSAGE", "HTTP: refused %" G_GUINT64_FORMAT " connection(s) unread "
                    "(%u open at most, %u descriptors kept for the daemon's own work)",
                    self->n_refused - self->n_refused_logged, CF_HTTP_MAX_CONNECTIONS,
                    CF_HTTP_FD_RESERVE);
  self->n_refused_logged = self->n_refused;
  self->last_refusal_log = now;
}

/* Read at each connection: the limit can change under us (prlimit). */
static gboolean
descriptors_low (int fd)
{
  struct rlimit limit;

  return getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
         (rlim_t) fd + CF_HTTP_FD_RESERVE >= limit.rlim_cur;
}

static void
admit (CfHttpListener *self, GSocket *client)
{
  int fd = g_socket_get_fd (client);
  g_autoptr(GSocketConnection) stream = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  Connection *connection;

  if (g_hash_table_size (self->connections) >= CF_HTTP_MAX_CONNECTIONS ||
      descriptors_low (fd))
    {
      self->n_refused++;
      g_socket_close (client, NULL);
      log_refusals (self);
      return;
    }
  local = g_socket_get_local_address (client, NULL);
  remote = g_socket_get_remote_address (client, NULL);
  if (local == NULL || remote == NULL)
    {
      g_socket_close (client, NULL);     /* the peer is gone already */
      return;
    }

  stream = g_socket_connection_factory_create_connection (client);
  connection = g_new0 (Connection, 1);
  connection->owner = self;
  connection->stream = G_OBJECT (stream);
  connection->socket = client;
  connection->remote = g_object_ref (remote);
  g_hash_table_insert (self->connections, connection->remote, connection);
  g_object_weak_ref (connection->stream, on_connection_gone, connection);
  connection_set_timeout (connection, CF_HTTP_REQUEST_TIMEOUT_S);

  soup_server_accept_iostream (self->server, G_IO_STREAM (stream), local, remote, NULL);
}

/* ---- listening ----------------------------------------------------------- */

static gboolean on_incoming (GSocket *socket, GIOCondition condition, gpointer user_data);

static void
listening_watch (Listening *listening)
{
  listening->source = g_socket_create_source (listening->socket, G_IO_IN, NULL);
  g_source_set_callback (listening->source, G_SOURCE_FUNC (on_incoming), listening, NULL);
  g_source_attach (listening->source, NULL);
}

static gboolean
on_resume (gpointer user_data)
{
  Listening *listening = user_data;

  listening->resume_id = 0;
  listening_watch (listening);
  return G_SOURCE_REMOVE;
}

static gboolean
on_incoming (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Listening *listening = user_data;
  CfHttpListener *self = listening->owner;

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) client = g_socket_accept (socket, NULL, &error);
      gint64 now;

      if (client != NULL)
        {
          admit (self, client);
          continue;
        }
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return G_SOURCE_CONTINUE;

      /* Out of descriptors or memory: the pending connections stay in the
       * kernel's queue; try again shortly, never give the listener up. */
      now = g_get_monotonic_time ();
      if (self->last_accept_error_log == 0 ||
          now - self->last_accept_error_log >= REFUSAL_LOG_INTERVAL_US)
        {
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                            "MESSAGE", "HTTP: cannot accept a connection (%s); "
                            "pausing the listener for %d ms", error->message, ACCEPT_PAUSE_MS);
          self->last_accept_error_log = now;
        }
      g_source_destroy (listening->source);
      g_clear_pointer (&listening->source, g_source_unref);
      listening->resume_id = g_timeout_add (ACCEPT_PAUSE_MS, on_resume, listening);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
listening_free (Listening *listening)
{
  if (listening->source != NULL)
    g_source_destroy (listening->source);
  g_clear_pointer (&listening->source, g_source_unref);
  g_clear_handle_id (&listening->resume_id, g_source_remove);
  if (listening->socket != NULL)
    g_socket_close (listening->socket, NULL);
  g_clear_object (&listening->socket);
  g_clear_object (&listening->address);
  g_free (listening);
}

gboolean
cf_http_listener_add_socket (CfHttpListener *self, GSocket *socket, GError **error)
{
  Listening *listening;
  g_autoptr(GSocketAddress) address = g_socket_get_local_address (socket, error);

  if (address == NULL)
    return FALSE;
  g_socket_set_blocking (socket, FALSE);
  listening = g_new0 (Listening, 1);
  listening->owner = self;
  listening->socket = g_object_ref (socket);
  listening->address = g_steal_pointer (&address);
  g_ptr_array_add (self->listening, listening);
  listening_watch (listening);
  return TRUE;
}

gboolean
cf_http_listener_listen (CfHttpListener *self, GSocketAddress *address, GError **error)
{
  g_autoptr(GSocket) socket = g_socket_new (g_socket_address_get_family (address),
                                            G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                                            error);

  if (socket == NULL)
    return FALSE;
  g_socket_set_listen_backlog (socket, 128);
  if (!g_socket_bind (socket, address, TRUE, error) || !g_socket_listen (socket, error))
    return FALSE;
  return cf_http_listener_add_socket (self, socket, error);
}

GPtrArray *
cf_http_listener_get_addresses (CfHttpListener *self)
{
  GPtrArray *addresses = g_ptr_array_new ();

  for (guint i = 0; i < self->listening->len; i++)
    g_ptr_array_add (addresses, ((Listening *) self->listening->pdata[i])->address);
  return addresses;
}

guint
cf_http_listener_get_n_connections (CfHttpListener *self)
{
  return g_hash_table_size (self->connections);
}

guint64
cf_http_listener_get_n_refused (CfHttpListener *self)
{
  return self->n_refused;
}

CfHttpListener *
cf_http_listener_new (SoupServer *server)
{
  CfHttpListener *self = g_new0 (CfHttpListener, 1);

  self->server = g_object_ref (server);
  self->listening = g_ptr_array_new_with_free_func ((GDestroyNotify) listening_free);
  self->connections = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                             (GDestroyNotify) connection_free);
  self->request_started_id = g_signal_connect (server, "request-started",
                                               G_CALLBACK (on_request_started), self);
  self->request_read_id = g_signal_connect (server, "request-read",
                                            G_CALLBACK (on_request_read), self);
  return self;
}

void
cf_http_listener_free (CfHttpListener *self)
{
  GHashTableIter iter;
  Connection *connection;

  if (self == NULL)
    return;
  g_clear_signal_handler (&self->request_started_id, self->server);
  g_clear_signal_handler (&self->request_read_id, self->server);
  g_ptr_array_unref (self->listening);
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &connection))
    {
      g_object_weak_unref (connection->stream, on_connection_gone, connection);
      g_socket_close (connection->socket, NULL);
    }
  g_hash_table_unref (self->connections);
  g_object_unref (self->server);
  g_free (self);
}
