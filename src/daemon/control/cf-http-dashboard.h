/* SPDX-License-Identifier: MIT */
#pragma once

#include <libsoup/soup.h>

#include "cf-inbox.h"

G_BEGIN_DECLS

/* GET / (ARCHITECTURE.md 4.9): the read-only dashboard, one self-contained
 * page compiled into the daemon (data/dashboard/index.html as a GResource),
 * with a Content-Security-Policy that allows nothing from elsewhere; 404
 * when http.dashboard is false. It reads /status and GET /api/queue and
 * follows GET /events.
 *
 * GET /api/queue: the queued tasks per project, from the inbox's index (no
 * disk access): {"projects": [{"project", "queued", "tasks": [{"id",
 * "priority", "queued_at" (µs since the epoch)}, … at most 20]}]}, busiest
 * project first. 503 until the inbox is known. */

void cf_http_dashboard_serve_page (SoupServerMessage *msg, gboolean enabled);
void cf_http_dashboard_serve_queue (SoupServerMessage *msg, CfInbox *inbox);

G_END_DECLS
