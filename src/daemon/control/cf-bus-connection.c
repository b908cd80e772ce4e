/* SPDX-License-Identifier: MIT */
/* The CfBus object and its place on the system bus: connecting, exporting
 * the Manager's vtable (cf-bus.c), requesting the name and noticing its loss
 * or a dropped connection ("name-acquired", "name-lost"), and shutting down. */
#include "cf-bus-private.h"

#include "cf-event-source.h"
#include "cf-names.h"

enum {
  SIGNAL_NAME_ACQUIRED,
  SIGNAL_NAME_LOST,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfBus, cf_bus, G_TYPE_OBJECT)

/* ---- connection --------------------------------------------------------- */

static int
on_request_name_reply (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  CfBus *self = userdata;
  const sd_bus_error *error = sd_bus_message_get_error (reply);
  uint32_t result = 0;
  int r;

  self->name_slot = sd_bus_slot_unref (self->name_slot);
  if (error != NULL)
    {
      g_autofree char *reason = g_strdup_printf ("cannot own %s: %s", CF_BUS_NAME,
                                                 error->message ? error->message : error->name);
      g_signal_emit (self, signals[SIGNAL_NAME_LOST], 0, reason);
      return 0;
    }
  r = sd_bus_message_read (reply, "u", &result);
  if (r < 0 || (result != 1 /* PRIMARY_OWNER */ && result != 4 /* ALREADY_OWNER */))
    {
      g_autofree char *reason = g_strdup_printf ("cannot own %s: another process owns it",
                                                 CF_BUS_NAME);
      g_signal_emit (self, signals[SIGNAL_NAME_LOST], 0, reason);
      return 0;
    }
  self->name_acquired = TRUE;
  g_signal_emit (self, signals[SIGNAL_NAME_ACQUIRED], 0);
  return 0;
}

static int
on_disconnected (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  CfBus *self = userdata;

  self->name_acquired = FALSE;
  g_signal_emit (self, signals[SIGNAL_NAME_LOST], 0, "the system bus connection was closed");
  return 0;
}

static int
on_name_lost (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  CfBus *self = userdata;
  const char *name = NULL;

  if (sd_bus_message_read (message, "s", &name) < 0 || g_strcmp0 (name, CF_BUS_NAME) != 0)
    return 0;
  self->name_acquired = FALSE;
  g_signal_emit (self, signals[SIGNAL_NAME_LOST], 0, "the bus name was taken away");
  return 0;
}

gboolean
cf_bus_start (CfBus *self, sd_event *event, GError **error)
{
  g_autoptr(sd_bus) bus = NULL;
  int r;

  g_return_val_if_fail (self->bus == NULL, FALSE);

  r = sd_bus_open_system (&bus);
  if (r < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
                   "cannot connect to the system bus: %s", g_strerror (-r));
      return FALSE;
    }
  /* We decide what a lost connection means (a clean exit), not sd-bus. */
  (void) sd_bus_set_exit_on_disconnect (bus, 0);
  r = sd_bus_attach_event (bus, event, SD_EVENT_PRIORITY_NORMAL);
  if (r < 0)
    goto fail;
  r = sd_bus_add_object_vtable (bus, &self->vtable_slot, CF_OBJECT_PATH, CF_INTERFACE,
                                manager_vtable, self);
  if (r < 0)
    goto fail;
  r = sd_bus_match_signal (bus, &self->disconnect_slot, "org.freedesktop.DBus.Local",
                           "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                           "Disconnected", on_disconnected, self);
  if (r < 0)
    goto fail;
  r = sd_bus_match_signal_async (bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "NameLost", on_name_lost, NULL, self);
  if (r < 0)
    goto fail;
  r = sd_bus_request_name_async (bus, &self->name_slot, CF_BUS_NAME, 0,
                                 on_request_name_reply, self);
  if (r < 0)
    goto fail;

  self->polkit = cf_polkit_new (bus, CF_POLKIT_TRUST_PRIVILEGED);
  self->bus = g_steal_pointer (&bus);
  return TRUE;

fail:
  self->vtable_slot = sd_bus_slot_unref (self->vtable_slot);
  self->disconnect_slot = sd_bus_slot_unref (self->disconnect_slot);
  self->name_slot = sd_bus_slot_unref (self->name_slot);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
               "cannot set up the D-Bus object: %s", g_strerror (-r));
  return FALSE;
}

void
cf_bus_stop (CfBus *self)
{
  g_clear_handle_id (&self->flush_id, g_source_remove);
  /* Pending authorisations are answered (denied) while the bus still is. */
  g_clear_object (&self->polkit);
  self->vtable_slot = sd_bus_slot_unref (self->vtable_slot);
  self->disconnect_slot = sd_bus_slot_unref (self->disconnect_slot);
  self->name_slot = sd_bus_slot_unref (self->name_slot);
  if (self->bus != NULL)
    {
      sd_bus_detach_event (self->bus);
      self->bus = sd_bus_flush_close_unref (self->bus);
    }
  self->name_acquired = FALSE;
}

sd_bus *
cf_bus_get_connection (CfBus *self)
{
  return self->bus;
}

static void
cf_bus_dispose (GObject *object)
{
  CfBus *self = CF_BUS (object);

  cf_bus_stop (self);
  g_clear_object (&self->inbox);
  g_clear_object (&self->hooks);
  g_clear_object (&self->watcher);
  g_clear_object (&self->quota);
  g_clear_object (&self->switcher);
  g_clear_object (&self->state);
  g_clear_object (&self->task_events);
  g_clear_pointer (&self->config, cf_config_unref);
  g_clear_pointer (&self->status, g_variant_unref);
  g_clear_weak_pointer (&self->reloader);
  G_OBJECT_CLASS (cf_bus_parent_class)->dispose (object);
}

static void
cf_bus_class_init (CfBusClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_bus_dispose;

  signals[SIGNAL_NAME_ACQUIRED] =
    g_signal_new ("name-acquired", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_NAME_LOST] =
    g_signal_new ("name-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
cf_bus_init (CfBus *self)
{
}

void
cf_bus_set_reloader (CfBus *self, CfReloader *reloader)
{
  g_return_if_fail (CF_IS_BUS (self));
  g_return_if_fail (reloader == NULL || CF_IS_RELOADER (reloader));
  g_set_weak_pointer (&self->reloader, reloader);
}
