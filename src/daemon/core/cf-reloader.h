/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* CfReloader — one question the D-Bus API asks when an authorised Reload()
 * comes in: "reload the configuration, and tell me whether it was taken".
 * CfDaemon answers it (the same reload as SIGHUP: the file is read off the
 * main loop); CfBus holds it (cf_bus_set_reloader) without knowing the
 * daemon. */
#define CF_TYPE_RELOADER (cf_reloader_get_type ())
G_DECLARE_INTERFACE (CfReloader, cf_reloader, CF, RELOADER, GObject)

struct _CfReloaderInterface
{
  GTypeInterface parent_iface;

  void (*reload_async) (CfReloader *self, GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*reload_finish) (CfReloader *self, GAsyncResult *result, GError **error);
};

void cf_reloader_reload_async (CfReloader *self, GAsyncReadyCallback callback,
                               gpointer user_data);
/* FALSE with ERROR when the new configuration was refused (the running one
 * stays). */
gboolean cf_reloader_reload_finish (CfReloader *self, GAsyncResult *result, GError **error);

G_END_DECLS
