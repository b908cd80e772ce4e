/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cf-config.h"
#include "cf-hook-router.h"
#include "cf-inbox.h"
#include "cf-quota.h"
#include "cf-reloader.h"
#include "cf-switcher.h"
#include "cf-state.h"
#include "cf-task-events.h"
#include "cf-watcher.h"

G_BEGIN_DECLS

/* org.claudefailover.Manager on the system bus: renders CfState as properties
 * and signals. All PropertiesChanged leave through one idle flush that
 * coalesces the changes of a main-loop iteration. Mutating methods validate
 * their arguments, then are authorised by CfPolkit, then change state. */

#define CF_TYPE_BUS (cf_bus_get_type ())
G_DECLARE_FINAL_TYPE (CfBus, cf_bus, CF, BUS, GObject)

CfBus *cf_bus_new (CfState *state, CfTaskEvents *task_events, CfConfig *config);
void cf_bus_set_config (CfBus *self, CfConfig *config);
/* The components method calls are forwarded to. */
void cf_bus_set_components (CfBus *self, CfInbox *inbox, CfHookRouter *hooks, CfWatcher *watcher);
/* SwitchAccount / ClearPartialSwap go to SWITCHER; QuotaExhausted,
 * SwapStarted and SwapFinished come from QUOTA and SWITCHER. */
void cf_bus_set_failover (CfBus *self, CfSwitcher *switcher, CfQuota *quota);

/* What Reload() runs once the caller is authorised, the same as SIGHUP: an
 * asynchronous reload (cf-reloader.h); its finish gives FALSE with ERROR
 * when the new configuration is refused. The bus keeps a weak pointer
 * (RELOADER owns the bus); without one, Reload() is not supported. */
void cf_bus_set_reloader (CfBus *self, CfReloader *reloader);

/* Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS honoured), attaches to
 * EVENT, exports the object and requests the name asynchronously.
 * Signals: "name-acquired" (), "name-lost" (gchararray reason) — the latter
 * also when the bus connection drops. */
gboolean cf_bus_start (CfBus *self, sd_event *event, GError **error);
void cf_bus_stop (CfBus *self);
sd_bus *cf_bus_get_connection (CfBus *self);

G_END_DECLS
