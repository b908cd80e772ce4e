/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* CfStatusReporter — one question the HTTP API asks of a component that
 * has a page of its own: "how are you doing?", as the JSON body of its
 * status endpoint and as Prometheus families for /metrics. CfDelegation
 * answers it for GET /api/delegated/status (cf_http_set_delegation), so
 * that the HTTP API does not know the delegation's insides. */
#define CF_TYPE_STATUS_REPORTER (cf_status_reporter_get_type ())
G_DECLARE_INTERFACE (CfStatusReporter, cf_status_reporter, CF, STATUS_REPORTER, GObject)

struct _CfStatusReporterInterface
{
  GTypeInterface parent_iface;

  JsonNode *(*build_status) (CfStatusReporter *self);
  void (*render_metrics) (CfStatusReporter *self, GString *out);
};

/* A new JSON node, or NULL when there is nothing to report. */
JsonNode *cf_status_reporter_build_status (CfStatusReporter *self);
/* Appends the implementer's Prometheus families to OUT (nothing when it
 * has none). */
void cf_status_reporter_render_metrics (CfStatusReporter *self, GString *out);

G_END_DECLS
