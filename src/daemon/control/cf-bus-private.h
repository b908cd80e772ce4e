/* SPDX-License-Identifier: MIT */
#pragma once

/* Private to the files of CfBus, included by them only:
 *   cf-bus.c             org.claudefailover.Manager's vtable: its properties
 *                        and its method handlers (validate, authorise, act)
 *   cf-bus-signals.c     what the Manager announces: the coalesced
 *                        PropertiesChanged and the signals it re-sends, and the
 *                        components it follows for them (cf_bus_new,
 *                        cf_bus_set_components, cf_bus_set_failover)
 *   cf-bus-connection.c  the GObject, the system bus connection and the name */

#include "cf-bus.h"
#include "cf-polkit.h"

G_BEGIN_DECLS

struct _CfBus {
  GObject parent_instance;

  CfState *state;
  CfTaskEvents *task_events;
  CfConfig *config;
  CfInbox *inbox;
  CfHookRouter *hooks;
  CfWatcher *watcher;
  CfSwitcher *switcher;
  CfQuota *quota;
  CfReloader *reloader;
  sd_bus *bus;
  CfPolkit *polkit;
  sd_bus_slot *vtable_slot;
  sd_bus_slot *name_slot;
  sd_bus_slot *disconnect_slot;
  gboolean name_acquired;

  GVariant *status;            /* the last GetStatus snapshot, dropped on any state change */
  gint64 status_until;         /* and no longer true from then (cf_status_valid_until) */
  guint pending_changes;       /* CfStateChange flags not yet announced */
  guint flush_id;
};

/* cf-bus.c: exported on CF_OBJECT_PATH by cf_bus_start. */
G_GNUC_INTERNAL extern const sd_bus_vtable manager_vtable[];

G_END_DECLS
