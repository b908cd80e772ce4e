/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* The HTTP API's own accept loop in front of a SoupServer, so that no local
 * user can take the daemon's descriptors or its listener away (issue 18,
 * break 1). It accepts on the listening sockets, refuses a connection at
 * once (closes it unread) beyond CF_HTTP_MAX_CONNECTIONS or when the
 * process is within CF_HTTP_FD_RESERVE descriptors of RLIMIT_NOFILE, hands
 * the others to the SoupServer, shuts a connection that has not delivered
 * its request within CF_HTTP_REQUEST_TIMEOUT_S (or has not taken its answer
 * within CF_HTTP_RESPONSE_TIMEOUT_S, unless kept open for a stream), and
 * after EMFILE/ENFILE pauses accepting briefly and always resumes.
 * One request per connection: every response says "Connection: close". */

#define CF_HTTP_MAX_CONNECTIONS 64
#define CF_HTTP_FD_RESERVE 64
#define CF_HTTP_REQUEST_TIMEOUT_S 10
#define CF_HTTP_RESPONSE_TIMEOUT_S 30

typedef struct _CfHttpListener CfHttpListener;

CfHttpListener *cf_http_listener_new (SoupServer *server);
void cf_http_listener_free (CfHttpListener *self);

/* Serves a socket already listening (systemd's); takes a reference. */
gboolean cf_http_listener_add_socket (CfHttpListener *self, GSocket *socket, GError **error);
/* Binds and listens on ADDRESS. */
gboolean cf_http_listener_listen (CfHttpListener *self, GSocketAddress *address, GError **error);

/* The local addresses served (GSocketAddress, owned by the listener). */
GPtrArray *cf_http_listener_get_addresses (CfHttpListener *self);

/* For a response that streams (e.g. Server-Sent Events): no response
 * timeout on MSG's connection. */
void cf_http_listener_keep_open (CfHttpListener *self, SoupServerMessage *msg);

guint cf_http_listener_get_n_connections (CfHttpListener *self);
guint64 cf_http_listener_get_n_refused (CfHttpListener *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfHttpListener, cf_http_listener_free)

G_END_DECLS
