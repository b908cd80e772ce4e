/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>
#include <systemd/sd-event.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_event, sd_event_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_slot, sd_bus_slot_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_creds, sd_bus_creds_unref)

/* A GSource that drives an sd_event loop from a GMainContext, so sd-bus (and
 * the sd-event watchdog) run on the one GLib main loop:
 * prepare → sd_event_prepare, check → sd_event_wait (e, 0), dispatch →
 * sd_event_dispatch, polling sd_event_get_fd. The source holds a reference
 * on EVENT. */
GSource *cf_event_source_new (sd_event *event);

G_END_DECLS
