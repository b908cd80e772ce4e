/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Server-Sent Events framing (the WHATWG "event stream" format), for
 * GET /events. Pure. */

/* "event: NAME\ndata: LINE\n…\n": one event, DATA split into one data:
 * line per line (CR, LF and CRLF all end a line), so nothing in DATA can
 * end the event early or start another. A CR or LF in NAME becomes a
 * space. */
char *cf_sse_event (const char *name, const char *data);

/* ": TEXT\n\n": a comment, which clients ignore (a heartbeat); line breaks
 * in TEXT become spaces. */
char *cf_sse_comment (const char *text);

G_END_DECLS
