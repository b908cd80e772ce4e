/* SPDX-License-Identifier: MIT */
#include "cf-http.h"

#include <errno.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "cf-build-config.h"
#include "cf-http-dashboard.h"
#include "cf-http-events.h"
#include "cf-http-host.h"
#include "cf-http-listener.h"
#include "cf-json.h"
#include "cf-metrics.h"
#include "cf-status.h"

/* How often the main loop's responsiveness is sampled. */
#define LAG_PROBE_MS 1000

struct _CfHttp {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfHealth *health;
  SoupServer *server;
  CfHttpListener *listener;
  gboolean socket_activated;
  gint64 start_time;           /* µs since the epoch */

  gboolean watchdog_enabled;
  guint64 watchdog_usec;

  guint lag_probe_id;
  gint64 lag_expected;         /* monotonic µs the probe should run at */
  gint64 lag_last;
  gint64 lag_max;
  guint64 lag_samples;

  CfHttpEvents *events;        /* GET /events */
  CfInbox *inbox;              /* GET /api/queue */

  CfStatusReporter *delegation;
};

G_DEFINE_FINAL_TYPE (CfHttp, cf_http, G_TYPE_OBJECT)

typedef void (*EndpointFunc) (CfHttp *self, SoupServerMessage *msg);

/* ---- responses ----------------------------------------------------------- */

static void
respond (SoupServerMessage *msg, guint status, const char *content_type, char *body)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE, body, strlen (body));
}

static void
respond_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_root (generator, node);
  json_generator_set_pretty (generator, TRUE);
  text = cf_json_generate (generator, NULL);
  respond (msg, status, "application/json", g_strconcat (text, "\n", NULL));
}

static void
respond_error (SoupServerMessage *msg, guint status, const char *error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, error);
  json_builder_set_member_name (builder, "status");
  json_builder_add_int_value (builder, status);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  respond_json (msg, status, node);
}

/* ---- endpoints ----------------------------------------------------------- */

static void
endpoint_health (CfHttp *self, SoupServerMessage *msg)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GPtrArray) accounts = cf_state_list_accounts (self->state);
  gint64 now = g_get_real_time ();
  guint reasons = cf_health_get_reasons (self->health, now);
  guint available = 0;

  for (guint i = 0; i < accounts->len; i++)
    available += ((CfAccountState *) accounts->pdata[i])->exhausted_until <= now;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "status");
  json_builder_add_string_value (builder, reasons == 0 ? "ok" : "degraded");
  json_builder_set_member_name (builder, "reasons");
  json_builder_begin_array (builder);
  for (guint i = 0; i < CF_HEALTH_N_REASONS; i++)
    if (reasons & (1u << i))
      json_builder_add_string_value (builder, cf_health_reason_to_string (1u << i));
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "checks");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "tmux_connected");
  json_builder_add_boolean_value (builder, !(reasons & CF_HEALTH_TMUX_DISCONNECTED));
  json_builder_set_member_name (builder, "bus_name_owned");
  json_builder_add_boolean_value (builder, !(reasons & CF_HEALTH_BUS_NAME_NOT_OWNED));
  json_builder_set_member_name (builder, "partial_swap");
  json_builder_add_boolean_value (builder, (reasons & CF_HEALTH_PARTIAL_SWAP) != 0);
  json_builder_set_member_name (builder, "state_file_writable");
  json_builder_add_boolean_value (builder, !(reasons & CF_HEALTH_STATE_WRITE_FAILING));
  json_builder_set_member_name (builder, "accounts_available");
  json_builder_add_int_value (builder, available);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, PACKAGE_VERSION);
  json_builder_set_member_name (builder, "uptime_seconds");
  json_builder_add_int_value (builder, (now - self->start_time) / G_USEC_PER_SEC);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  respond_json (msg, reasons == 0 ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE, node);
}

static void
endpoint_status (CfHttp *self, SoupServerMessage *msg)
{
  g_autoptr(GVariant) snapshot = cf_status_snapshot (self->state, self->config,
                                                     g_get_real_time ());
  g_autoptr(JsonNode) node = cf_status_snapshot_to_json (snapshot);

  respond_json (msg, SOUP_STATUS_OK, node);
}

static void
endpoint_delegated_status (CfHttp *self, SoupServerMessage *msg)
{
  g_autoptr(JsonNode) node = NULL;

  if (!cf_config_delegation_enabled (self->config))
    {
      respond_error (msg, SOUP_STATUS_NOT_FOUND, "delegation is off");
      return;
    }
  if (self->delegation == NULL ||
      (node = cf_status_reporter_build_status (self->delegation)) == NULL)
    {
      respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                     "delegation is on but its component does not report");
      return;
    }
  respond_json (msg, SOUP_STATUS_OK, node);
}

static void
endpoint_watchdog_status (CfHttp *self, SoupServerMessage *msg)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "systemd_watchdog");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "enabled");
  json_builder_add_boolean_value (builder, self->watchdog_enabled);
  json_builder_set_member_name (builder, "interval_usec");
  json_builder_add_int_value (builder, (gint64) self->watchdog_usec);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "main_loop");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "probe_interval_usec");
  json_builder_add_int_value (builder, (gint64) LAG_PROBE_MS * 1000);
  json_builder_set_member_name (builder, "samples");
  json_builder_add_int_value (builder, (gint64) self->lag_samples);
  json_builder_set_member_name (builder, "lag_usec");
  json_builder_add_int_value (builder, self->lag_last);
  json_builder_set_member_name (builder, "max_lag_usec");
  json_builder_add_int_value (builder, self->lag_max);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "uptime_seconds");
  json_builder_add_int_value (builder, (g_get_real_time () - self->start_time) / G_USEC_PER_SEC);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  respond_json (msg, SOUP_STATUS_OK, node);
}

static void
endpoint_metrics (CfHttp *self, SoupServerMessage *msg)
{
  GString *out = g_string_sized_new (8192);
  CfLoopStats loop;
  CfMetricsContext context = {
    .health_reasons = cf_health_get_reasons (self->health, g_get_real_time ()),
    .delegation_enabled = cf_config_delegation_enabled (self->config),
    .start_time = self->start_time,
    .loop_lag_usec = self->lag_samples > 0 ? self->lag_last : -1,
    .loop_max_lag_usec = self->lag_max,
    .loop = &loop,
  };

  cf_loop_watch_get (&loop);

  cf_metrics_render (out, self->state, &context, g_get_real_time ());
  g_string_append_printf (out,
                          "# HELP claude_failover_http_connections HTTP connections open now.\n"
                          "# TYPE claude_failover_http_connections gauge\n"
                          "claude_failover_http_connections %u\n"
                          "# HELP claude_failover_http_connections_refused_total HTTP connections "
                          "closed unread: over the connection limit, or too few descriptors "
                          "left.\n"
                          "# TYPE claude_failover_http_connections_refused_total counter\n"
                          "claude_failover_http_connections_refused_total %" G_GUINT64_FORMAT "\n",
                          cf_http_listener_get_n_connections (self->listener),
                          cf_http_listener_get_n_refused (self->listener));
  if (self->delegation != NULL)
    cf_status_reporter_render_metrics (self->delegation, out);
  respond (msg, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8",
           g_string_free (out, FALSE));
}

static void
endpoint_events (CfHttp *self, SoupServerMessage *msg)
{
  cf_http_events_serve (self->events, msg);
}

static void
endpoint_dashboard (CfHttp *self, SoupServerMessage *msg)
{
  cf_http_dashboard_serve_page (msg, self->config->http_dashboard);
}

static void
endpoint_queue (CfHttp *self, SoupServerMessage *msg)
{
  cf_http_dashboard_serve_queue (msg, self->inbox);
}

/* The one route table. A route whose response stays open (a stream such
 * as Server-Sent Events) sets `streams`, so that its connection is not
 * closed after CF_HTTP_RESPONSE_TIMEOUT_S. */
static const struct {
  const char *path;
  EndpointFunc func;
  gboolean streams;
} endpoints[] = {
  { "/health", endpoint_health, FALSE },
  { "/status", endpoint_status, FALSE },
  { "/api/delegated/status", endpoint_delegated_status, FALSE },
  { "/watchdog/status", endpoint_watchdog_status, FALSE },
  { "/metrics", endpoint_metrics, FALSE },
  { "/events", endpoint_events, TRUE },
  { "/", endpoint_dashboard, FALSE },
  { "/api/queue", endpoint_queue, FALSE },
};

/* ---- refusals before the body ---------------------------------------------- */

typedef struct {
  GIOStream *stream;
  char *text;
} Refusal;

static void
refusal_free (Refusal *refusal)
{
  g_clear_object (&refusal->stream);
  g_free (refusal->text);
  g_free (refusal);
}

static void
on_refusal_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  refusal_free (user_data);
}

static void
on_refusal_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Refusal *refusal = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  g_io_stream_close_async (refusal->stream, G_PRIORITY_DEFAULT, NULL, on_refusal_closed,
                           refusal);
}

/* Answers STATUS and closes the connection without reading what follows
 * the headers: libsoup would otherwise read (and keep) the whole body. */
static void
refuse_unread (SoupServerMessage *msg, guint status, const char *error)
{
  g_autofree char *body = g_strdup_printf ("{\n  \"error\" : \"%s\",\n  \"status\" : %u\n}\n",
                                           error, status);
  Refusal *refusal;
  GIOStream *stream;

  stream = soup_server_message_steal_connection (msg);   /* MSG may be gone now */
  if (stream == NULL)
    return;
  refusal = g_new0 (Refusal, 1);
  refusal->stream = stream;
  refusal->text = g_strdup_printf ("HTTP/1.1 %u %s\r\n"
                                   "Content-Type: application/json\r\n"
                                   "Content-Length: %zu\r\n"
                                   "Cache-Control: no-store\r\n"
                                   "X-Content-Type-Options: nosniff\r\n"
                                   "Connection: close\r\n\r\n%s",
                                   status, soup_status_get_phrase (status), strlen (body), body);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), refusal->text,
                                   strlen (refusal->text), G_PRIORITY_DEFAULT, NULL,
                                   on_refusal_written, refusal);
}

static gboolean
has_body (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

  switch (soup_message_headers_get_encoding (headers))
    {
    case SOUP_ENCODING_NONE:
      return FALSE;
    case SOUP_ENCODING_CONTENT_LENGTH:
      return soup_message_headers_get_content_length (headers) > 0;
    default:
      return TRUE;
    }
}

/* Runs once the headers are in, before any body is read: a Host that is
 * neither loopback nor the address literal the request came in on (a DNS
 * rebinding from a browser) gets 421, any request body 413 (this API is
 * read-only), whichever listener the request came through. */
static void
handle_headers (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data)
{
  const char *host = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Host");
  GSocketAddress *local = soup_server_message_get_local_address (msg);
  g_autofree char *local_address = NULL;
  gboolean host_ok;

  if (local != NULL && G_IS_INET_SOCKET_ADDRESS (local))
    local_address = g_inet_address_to_string (
        g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
  host_ok = host == NULL || cf_http_host_is_acceptable (host, local_address);

  if (has_body (msg))
    {
      refuse_unread (msg, host_ok ? SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE
                                  : SOUP_STATUS_MISDIRECTED_REQUEST,
                     host_ok ? "request bodies are refused: this API is read-only"
                             : "the Host header does not name this machine's loopback");
      return;
    }
  if (!host_ok)
    respond_error (msg, SOUP_STATUS_MISDIRECTED_REQUEST,
                   "the Host header does not name this machine's loopback");
}

static void
handle_request (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data)
{
  CfHttp *self = user_data;
  const char *method = soup_server_message_get_method (msg);

  for (guint i = 0; i < G_N_ELEMENTS (endpoints); i++)
    if (g_str_equal (path, endpoints[i].path))
      {
        if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
          {
            soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                          "Allow", "GET, HEAD");
            respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                           "method not allowed: this API is read-only");
            return;
          }
        if (endpoints[i].streams)
          cf_http_listener_keep_open (self->listener, msg);
        endpoints[i].func (self, msg);
        return;
      }
  respond_error (msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
}

/* ---- main-loop lag ------------------------------------------------------- */

static gboolean
on_lag_probe (gpointer user_data)
{
  CfHttp *self = user_data;
  gint64 now = g_get_monotonic_time ();

  self->lag_last = MAX (now - self->lag_expected, 0);
  self->lag_max = MAX (self->lag_max, self->lag_last);
  self->lag_samples++;
  self->lag_expected = now + LAG_PROBE_MS * 1000;
  return G_SOURCE_CONTINUE;
}

/* ---- listening ----------------------------------------------------------- */

static char *
describe_address (GSocketAddress *address)
{
  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
      g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
      guint port = g_inet_socket_address_get_port (inet);

      if (g_socket_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
        return g_strdup_printf ("[%s]:%u", ip, port);
      return g_strdup_printf ("%s:%u", ip, port);
    }
  return g_strdup ("a Unix socket");
}

/* The configured http.listen as an address, or NULL when off. */
static GSocketAddress *
configured_address (CfHttp *self)
{
  g_autofree char *host = NULL;
  guint port = 0;

  if (self->config->http_listen == NULL || *self->config->http_listen == '\0' ||
      !cf_config_parse_listen (self->config->http_listen, &host, &port))
    return NULL;
  return g_inet_socket_address_new_from_string (host, port);
}

static gboolean
same_address (GSocketAddress *a, GSocketAddress *b)
{
  GInetSocketAddress *ia, *ib;

  if (a == NULL || b == NULL || !G_IS_INET_SOCKET_ADDRESS (a) || !G_IS_INET_SOCKET_ADDRESS (b))
    return FALSE;
  ia = G_INET_SOCKET_ADDRESS (a);
  ib = G_INET_SOCKET_ADDRESS (b);
  return g_inet_socket_address_get_port (ia) == g_inet_socket_address_get_port (ib) &&
         g_inet_address_equal (g_inet_socket_address_get_address (ia),
                               g_inet_socket_address_get_address (ib));
}

static gboolean
listen_on_passed_sockets (CfHttp *self, int n, GError **error)
{
  g_autoptr(GSocketAddress) configured = configured_address (self);

  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++)
    {
      g_autoptr(GSocket) socket = NULL;
      g_autoptr(GSocketAddress) local = NULL;
      g_autofree char *shown = NULL;
      int r = sd_is_socket (fd, AF_UNSPEC, SOCK_STREAM, 1);

      if (r <= 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "file descriptor %d passed by systemd is not a listening stream socket",
                       fd);
          return FALSE;
        }
      socket = g_socket_new_from_fd (fd, error);
      if (socket == NULL)
        return FALSE;
      local = g_socket_get_local_address (socket, error);
      if (local == NULL)
        return FALSE;
      shown = describe_address (local);
      if (G_IS_INET_SOCKET_ADDRESS (local) &&
          !g_inet_address_get_is_loopback (
              g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local))))
        {
          if (!same_address (local, configured))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           "the socket systemd passed listens on %s, which is not loopback; "
                           "the status API serves other addresses only when http.listen "
                           "names them (a single address, never a wildcard)", shown);
              return FALSE;
            }
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                            "MESSAGE", "HTTP status API on %s (not loopback, as http.listen "
                            "says): anyone who can reach it can read the status", shown);
        }
      if (!cf_http_listener_add_socket (self->listener, socket, error))
        return FALSE;
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "MESSAGE", "HTTP status API on %s (socket from systemd)", shown);
    }
  self->socket_activated = TRUE;
  return TRUE;
}

static gboolean
listen_on_configured_address (CfHttp *self, GError **error)
{
  g_autoptr(GSocketAddress) address = configured_address (self);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *shown = NULL;

  if (address == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "http.listen '%s' is not an address", self->config->http_listen);
      return FALSE;
    }
  shown = describe_address (address);
  if (!cf_http_listener_listen (self->listener, address, &local_error))
    {
      g_set_error (error, local_error->domain, local_error->code,
                   "cannot listen on %s (http.listen): %s", shown, local_error->message);
      return FALSE;
    }
  if (!g_inet_address_get_is_loopback (
          g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address))))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "MESSAGE", "HTTP status API on %s, which is not loopback: anyone who "
                      "can reach it can read the status", shown);
  else
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "MESSAGE", "HTTP status API on http://%s/", shown);
  return TRUE;
}

gboolean
cf_http_start (CfHttp *self, GError **error)
{
  int n;

  g_return_val_if_fail (CF_IS_HTTP (self), FALSE);
  g_return_val_if_fail (self->server == NULL, FALSE);

  /* Unset, so that nothing started later (the tmux server) inherits them. */
  n = sd_listen_fds (1);
  if (n < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-n),
                   "cannot read the sockets passed by systemd: %s", g_strerror (-n));
      return FALSE;
    }
  if (n == 0 && (self->config->http_listen == NULL || *self->config->http_listen == '\0'))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "MESSAGE", "HTTP status API off (http.listen is empty)");
      return TRUE;
    }

  self->server = soup_server_new ("server-header", "claude-failover/" PACKAGE_VERSION, NULL);
  soup_server_add_early_handler (self->server, NULL, handle_headers, self, NULL);
  soup_server_add_handler (self->server, NULL, handle_request, self, NULL);
  self->listener = cf_http_listener_new (self->server);
  if (!(n > 0 ? listen_on_passed_sockets (self, n, error)
              : listen_on_configured_address (self, error)))
    {
      cf_http_stop (self);
      return FALSE;
    }

  self->watchdog_enabled = sd_watchdog_enabled (0, &self->watchdog_usec) > 0;
  self->lag_expected = g_get_monotonic_time () + LAG_PROBE_MS * 1000;
  self->lag_probe_id = g_timeout_add (LAG_PROBE_MS, on_lag_probe, self);
  return TRUE;
}

void
cf_http_stop (CfHttp *self)
{
  g_return_if_fail (CF_IS_HTTP (self));

  g_clear_handle_id (&self->lag_probe_id, g_source_remove);
  if (self->server != NULL)
    {
      soup_server_disconnect (self->server);
      g_clear_pointer (&self->listener, cf_http_listener_free);
      g_clear_object (&self->server);
    }
}

GStrv
cf_http_get_urls (CfHttp *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (self->listener != NULL)
    {
      g_autoptr(GPtrArray) addresses = cf_http_listener_get_addresses (self->listener);

      for (guint i = 0; i < addresses->len; i++)
        if (G_IS_INET_SOCKET_ADDRESS (addresses->pdata[i]))
          {
            g_autofree char *shown = describe_address (addresses->pdata[i]);
            g_autofree char *url = g_strdup_printf ("http://%s/", shown);

            g_strv_builder_add (builder, url);
          }
    }
  return g_strv_builder_end (builder);
}

void
cf_http_set_config (CfHttp *self, CfConfig *config)
{
  g_return_if_fail (CF_IS_HTTP (self));

  if (!self->socket_activated && g_strcmp0 (config->http_listen, self->config->http_listen) != 0)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "MESSAGE", "http.listen changed: takes effect at the next restart");
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
}

void
cf_http_set_delegation (CfHttp *self, CfStatusReporter *delegation)
{
  g_return_if_fail (CF_IS_HTTP (self));
  g_return_if_fail (delegation == NULL || CF_IS_STATUS_REPORTER (delegation));

  g_set_object (&self->delegation, delegation);
}

void
cf_http_set_cockpit (CfHttp *self, CfInbox *inbox, CfSwitcher *switcher, CfQuota *quota)
{
  g_set_object (&self->inbox, inbox);
  cf_http_events_follow_failover (self->events, switcher, quota);
}

static void
cf_http_dispose (GObject *object)
{
  CfHttp *self = CF_HTTP (object);

  cf_http_stop (self);
  g_clear_pointer (&self->events, cf_http_events_free);
  g_clear_object (&self->delegation);
  g_clear_object (&self->inbox);
  g_clear_object (&self->health);
  g_clear_object (&self->state);
  g_clear_pointer (&self->config, cf_config_unref);
  G_OBJECT_CLASS (cf_http_parent_class)->dispose (object);
}

static void
cf_http_class_init (CfHttpClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_http_dispose;
}

static void
cf_http_init (CfHttp *self)
{
}

CfHttp *
cf_http_new (CfConfig *config, CfState *state, CfTaskEvents *task_events, CfHealth *health)
{
  CfHttp *self = g_object_new (CF_TYPE_HTTP, NULL);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->health = g_object_ref (health);
  self->start_time = g_get_real_time ();
  self->events = cf_http_events_new (state, task_events, NULL);
  return self;
}
