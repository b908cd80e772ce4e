/* SPDX-License-Identifier: MIT */
/* CfReloader: the "reload the configuration" query interface. */
#include "cf-reloader.h"

G_DEFINE_INTERFACE (CfReloader, cf_reloader, G_TYPE_OBJECT)

static void
cf_reloader_default_init (CfReloaderInterface *iface)
{
}

void
cf_reloader_reload_async (CfReloader *self, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (CF_IS_RELOADER (self));
  CF_RELOADER_GET_IFACE (self)->reload_async (self, callback, user_data);
}

gboolean
cf_reloader_reload_finish (CfReloader *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (CF_IS_RELOADER (self), FALSE);
  return CF_RELOADER_GET_IFACE (self)->reload_finish (self, result, error);
}
