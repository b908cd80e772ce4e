/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "cf-config.h"
#include "cf-health.h"
#include "cf-inbox.h"
#include "cf-quota.h"
#include "cf-state.h"
#include "cf-status-reporter.h"
#include "cf-task-events.h"
#include "cf-switcher.h"

G_BEGIN_DECLS

/* The read-only HTTP status API (ARCHITECTURE.md 4.7), a SoupServer on the
 * main loop; it only renders state and never waits on anything.
 *
 *   GET /health                 200 {"status":"ok",…} / 503 {"status":"degraded",…}
 *   GET /status                 the GetStatus snapshot (cf-status) as JSON
 *   GET /api/delegated/status   the delegation component's report; 404 when
 *                               delegation is off, 503 while it is on but
 *                               nothing provides the report
 *   GET /watchdog/status        systemd watchdog and main-loop lag
 *   GET /metrics                Prometheus text (cf-metrics)
 *   GET /events                 the D-Bus signals as Server-Sent Events (cf-http-events)
 *   GET /                       the dashboard page, when http.dashboard (cf-http-dashboard)
 *   GET /api/queue              queued tasks per project, for the dashboard
 *
 * HEAD works too; other methods get 405 (with Allow), other paths 404,
 * all with a JSON error body. Nothing secret is ever rendered.
 *
 * Where it listens: the sockets systemd passes (sd_listen_fds, e.g. from
 * claude-failover.socket) when there are any, else http.listen; "" there
 * and no socket passed = off. A passed socket must be loopback (or a Unix
 * socket) unless http.listen names exactly its address: an operator who
 * wants the API elsewhere says so in the configuration. http.listen itself
 * is never a wildcard (cf-config refuses it); a non-loopback address there
 * is served with a warning in the log. */

#define CF_TYPE_HTTP (cf_http_get_type ())
G_DECLARE_FINAL_TYPE (CfHttp, cf_http, CF, HTTP, GObject)

CfHttp *cf_http_new (CfConfig *config, CfState *state, CfTaskEvents *task_events, CfHealth *health);

/* Takes the systemd sockets or binds http.listen. FALSE (nothing served)
 * when a socket cannot be used or the address cannot be bound. */
gboolean cf_http_start (CfHttp *self, GError **error);
void cf_http_stop (CfHttp *self);

/* A reload: a new http.listen takes effect at the next start (warned). */
void cf_http_set_config (CfHttp *self, CfConfig *config);

/* The URLs served ("http://127.0.0.1:8377/"), NULL-terminated; empty when off. */
GStrv cf_http_get_urls (CfHttp *self);

/* The delegation component, asked as a CfStatusReporter: its status is the
 * body of /api/delegated/status (asked only while delegation is on), its
 * metrics are appended to /metrics. Holds a reference; NULL unregisters. */
void cf_http_set_delegation (CfHttp *self, CfStatusReporter *delegation);

/* What the dashboard and /events need beyond the state: the queue and the
 * failover signals (QuotaExhausted, SwapStarted, SwapFinished). */
void cf_http_set_cockpit (CfHttp *self, CfInbox *inbox, CfSwitcher *switcher, CfQuota *quota);

G_END_DECLS
