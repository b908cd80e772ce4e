/* SPDX-License-Identifier: MIT */
/* CfStatusReporter: the "how are you doing?" query interface of the HTTP API. */
#include "cf-status-reporter.h"

G_DEFINE_INTERFACE (CfStatusReporter, cf_status_reporter, G_TYPE_OBJECT)

static void
cf_status_reporter_default_init (CfStatusReporterInterface *iface)
{
}

JsonNode *
cf_status_reporter_build_status (CfStatusReporter *self)
{
  g_return_val_if_fail (CF_IS_STATUS_REPORTER (self), NULL);
  return CF_STATUS_REPORTER_GET_IFACE (self)->build_status (self);
}

void
cf_status_reporter_render_metrics (CfStatusReporter *self, GString *out)
{
  CfStatusReporterInterface *iface;

  g_return_if_fail (CF_IS_STATUS_REPORTER (self));
  iface = CF_STATUS_REPORTER_GET_IFACE (self);
  if (iface->render_metrics != NULL)
    iface->render_metrics (self, out);
}
