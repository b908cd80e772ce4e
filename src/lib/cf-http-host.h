/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE when an HTTP Host header value names this machine's loopback:
 * "localhost", a name under ".localhost", an IPv4 address in 127.0.0.0/8
 * (four decimal parts) or "[::1]", each optionally followed by ":port" and
 * compared without regard to case (a trailing dot on a name is allowed).
 * Anything else (a DNS name that may have been rebound to 127.0.0.1, an
 * empty value, odd IPv4 spellings a browser would not send) is FALSE. */
gboolean cf_http_host_is_loopback (const char *host);

/* TRUE when HOST is loopback (above) or names LOCAL_ADDRESS, the address
 * literal the request arrived on ("192.0.2.7", "2001:db8::1"), optionally
 * with ":port" (an IPv6 literal in brackets): an address literal cannot be
 * rebound by DNS, so an operator who serves the API on another address
 * (http.listen) can still reach it. LOCAL_ADDRESS may be NULL. */
gboolean cf_http_host_is_acceptable (const char *host, const char *local_address);

G_END_DECLS
