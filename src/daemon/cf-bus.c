/* SPDX-License-Identifier: MIT */
#include "cf-bus.h"

#include <errno.h>

#include "cf-build-config.h"
#include "cf-event-source.h"
#include "cf-names.h"

struct _CfBus {
  GObject parent_instance;

  CfState *state;
  CfConfig *config;
  sd_bus *bus;
  sd_bus_slot *vtable_slot;
  sd_bus_slot *name_slot;
  sd_bus_slot *disconnect_slot;
  gboolean name_acquired;

  guint pending_changes;       /* CfStateChange flags not yet announced */
  guint flush_id;
  gulong changed_handler;
  gulong session_handler;
};

enum {
  SIGNAL_NAME_ACQUIRED,
  SIGNAL_NAME_LOST,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfBus, cf_bus, G_TYPE_OBJECT)

/* ---- property getters ---------------------------------------------------
 * One function per property: used by org.freedesktop.DBus.Properties and by
 * GetStatus, so both always agree. */

static int
property_get_version (sd_bus *bus, const char *path, const char *interface,
                      const char *property, sd_bus_message *reply, void *userdata,
                      sd_bus_error *error)
{
  return sd_bus_message_append (reply, "s", PACKAGE_VERSION);
}

static int
property_get_active_account (sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error)
{
  CfBus *self = userdata;

  return sd_bus_message_append (reply, "s", cf_state_get_active_account (self->state));
}

static int
property_get_accounts (sd_bus *bus, const char *path, const char *interface,
                       const char *property, sd_bus_message *reply, void *userdata,
                       sd_bus_error *error)
{
  CfBus *self = userdata;
  g_autoptr(GPtrArray) accounts = cf_state_list_accounts (self->state);
  gint64 now = g_get_real_time ();
  int r;

  r = sd_bus_message_open_container (reply, 'a', "(ssbt)");
  if (r < 0)
    return r;
  for (guint i = 0; i < accounts->len; i++)
    {
      CfAccountState *account = g_ptr_array_index (accounts, i);
      const CfAccountConfig *configured = cf_config_find_account (self->config, account->name);
      gboolean available = account->exhausted_until <= now;

      r = sd_bus_message_append (reply, "(ssbt)", account->name,
                                 configured ? configured->home : "", available,
                                 (uint64_t) MAX (account->exhausted_until, 0));
      if (r < 0)
        return r;
    }
  return sd_bus_message_close_container (reply);
}

static int
property_get_swap_state (sd_bus *bus, const char *path, const char *interface,
                         const char *property, sd_bus_message *reply, void *userdata,
                         sd_bus_error *error)
{
  CfBus *self = userdata;

  return sd_bus_message_append (reply, "s",
                                cf_swap_state_to_string (cf_state_get_swap_state (self->state)));
}

static int
property_get_partial_swap (sd_bus *bus, const char *path, const char *interface,
                           const char *property, sd_bus_message *reply, void *userdata,
                           sd_bus_error *error)
{
  CfBus *self = userdata;

  return sd_bus_message_append (reply, "b", cf_state_get_partial_swap (self->state));
}

static int
property_get_last_swap (sd_bus *bus, const char *path, const char *interface,
                        const char *property, sd_bus_message *reply, void *userdata,
                        sd_bus_error *error)
{
  CfBus *self = userdata;
  gint64 when;
  const char *from, *to;

  cf_state_get_last_swap (self->state, &when, &from, &to);
  return sd_bus_message_append (reply, "(tss)", (uint64_t) MAX (when, 0), from, to);
}

static int
property_get_return_at (sd_bus *bus, const char *path, const char *interface,
                        const char *property, sd_bus_message *reply, void *userdata,
                        sd_bus_error *error)
{
  CfBus *self = userdata;

  return sd_bus_message_append (reply, "t", (uint64_t) MAX (cf_state_get_return_at (self->state), 0));
}

static int
property_get_dispatch_paused (sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *error)
{
  CfBus *self = userdata;

  return sd_bus_message_append (reply, "b", cf_state_get_dispatch_paused (self->state));
}

static int
property_get_sessions (sd_bus *bus, const char *path, const char *interface,
                       const char *property, sd_bus_message *reply, void *userdata,
                       sd_bus_error *error)
{
  CfBus *self = userdata;
  g_autoptr(GPtrArray) sessions = cf_state_list_sessions (self->state);
  int r;

  r = sd_bus_message_open_container (reply, 'a', "(sssssst)");
  if (r < 0)
    return r;
  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *s = g_ptr_array_index (sessions, i);

      r = sd_bus_message_append (reply, "(sssssst)", s->name,
                                 cf_session_kind_to_string (s->kind),
                                 cf_session_state_to_string (s->state),
                                 s->project, s->task, s->account,
                                 (uint64_t) MAX (s->since, 0));
      if (r < 0)
        return r;
    }
  return sd_bus_message_close_container (reply);
}

static int
property_get_pending_tasks (sd_bus *bus, const char *path, const char *interface,
                            const char *property, sd_bus_message *reply, void *userdata,
                            sd_bus_error *error)
{
  CfBus *self = userdata;

  return sd_bus_message_append (reply, "u", cf_state_get_pending_tasks (self->state));
}

static CfCounter
counter_for_property (const char *property)
{
  if (g_str_equal (property, "TasksDispatched"))
    return CF_COUNTER_DISPATCHED;
  if (g_str_equal (property, "TasksCompleted"))
    return CF_COUNTER_COMPLETED;
  if (g_str_equal (property, "TasksFailed"))
    return CF_COUNTER_FAILED;
  return CF_COUNTER_DELEGATED;
}

static int
property_get_counter (sd_bus *bus, const char *path, const char *interface,
                      const char *property, sd_bus_message *reply, void *userdata,
                      sd_bus_error *error)
{
  CfBus *self = userdata;

  return sd_bus_message_append (reply, "t",
                                (uint64_t) cf_state_get_counter (self->state,
                                                                 counter_for_property (property)));
}

typedef struct {
  const char *name;
  const char *signature;
  sd_bus_property_get_t getter;
  CfStateChange change;        /* 0 = constant */
} PropertyInfo;

static const PropertyInfo properties[] = {
  { "Version", "s", property_get_version, 0 },
  { "ActiveAccount", "s", property_get_active_account, CF_STATE_CHANGE_ACTIVE_ACCOUNT },
  { "Accounts", "a(ssbt)", property_get_accounts, CF_STATE_CHANGE_ACCOUNTS },
  { "SwapState", "s", property_get_swap_state, CF_STATE_CHANGE_SWAP_STATE },
  { "PartialSwap", "b", property_get_partial_swap, CF_STATE_CHANGE_PARTIAL_SWAP },
  { "LastSwap", "(tss)", property_get_last_swap, CF_STATE_CHANGE_LAST_SWAP },
  { "ReturnAt", "t", property_get_return_at, CF_STATE_CHANGE_RETURN_AT },
  { "DispatchPaused", "b", property_get_dispatch_paused, CF_STATE_CHANGE_DISPATCH_PAUSED },
  { "Sessions", "a(sssssst)", property_get_sessions, CF_STATE_CHANGE_SESSIONS },
  { "PendingTasks", "u", property_get_pending_tasks, CF_STATE_CHANGE_PENDING_TASKS },
  { "TasksDispatched", "t", property_get_counter, CF_STATE_CHANGE_COUNTERS },
  { "TasksCompleted", "t", property_get_counter, CF_STATE_CHANGE_COUNTERS },
  { "TasksFailed", "t", property_get_counter, CF_STATE_CHANGE_COUNTERS },
  { "TasksDelegated", "t", property_get_counter, CF_STATE_CHANGE_COUNTERS },
};

/* ---- methods ------------------------------------------------------------ */

static int
method_get_status (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  CfBus *self = userdata;
  g_autoptr(sd_bus_message) reply = NULL;
  int r;

  r = sd_bus_message_new_method_return (message, &reply);
  if (r < 0)
    return r;
  r = sd_bus_message_open_container (reply, 'a', "{sv}");
  if (r < 0)
    return r;
  for (guint i = 0; i < G_N_ELEMENTS (properties); i++)
    {
      const PropertyInfo *p = &properties[i];

      r = sd_bus_message_open_container (reply, 'e', "sv");
      if (r < 0)
        return r;
      r = sd_bus_message_append (reply, "s", p->name);
      if (r < 0)
        return r;
      r = sd_bus_message_open_container (reply, 'v', p->signature);
      if (r < 0)
        return r;
      r = p->getter (sd_bus_message_get_bus (message), CF_OBJECT_PATH, CF_INTERFACE,
                     p->name, reply, self, error);
      if (r < 0)
        return r;
      r = sd_bus_message_close_container (reply);
      if (r < 0)
        return r;
      r = sd_bus_message_close_container (reply);
      if (r < 0)
        return r;
    }
  r = sd_bus_message_close_container (reply);
  if (r < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
}

static const sd_bus_vtable manager_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_PROPERTY ("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("ActiveAccount", "s", property_get_active_account, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Accounts", "a(ssbt)", property_get_accounts, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("SwapState", "s", property_get_swap_state, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("PartialSwap", "b", property_get_partial_swap, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("LastSwap", "(tss)", property_get_last_swap, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ReturnAt", "t", property_get_return_at, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("DispatchPaused", "b", property_get_dispatch_paused, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Sessions", "a(sssssst)", property_get_sessions, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("PendingTasks", "u", property_get_pending_tasks, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("TasksDispatched", "t", property_get_counter, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("TasksCompleted", "t", property_get_counter, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("TasksFailed", "t", property_get_counter, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("TasksDelegated", "t", property_get_counter, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_METHOD_WITH_ARGS ("GetStatus",
                           SD_BUS_NO_ARGS,
                           SD_BUS_RESULT ("a{sv}", status),
                           method_get_status, 0),
  SD_BUS_SIGNAL_WITH_ARGS ("SessionChanged",
                           SD_BUS_ARGS ("s", name, "s", state, "s", project, "s", task),
                           0),
  SD_BUS_VTABLE_END,
};

/* ---- change propagation ------------------------------------------------- */

static gboolean
flush_changes (gpointer user_data)
{
  CfBus *self = user_data;
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  int r;

  self->flush_id = 0;
  for (guint i = 0; i < G_N_ELEMENTS (properties); i++)
    if (properties[i].change & self->pending_changes)
      g_ptr_array_add (names, (gpointer) properties[i].name);
  self->pending_changes = 0;
  if (names->len == 0 || self->bus == NULL || !self->name_acquired)
    return G_SOURCE_REMOVE;
  g_ptr_array_add (names, NULL);
  r = sd_bus_emit_properties_changed_strv (self->bus, CF_OBJECT_PATH, CF_INTERFACE,
                                           (char **) names->pdata);
  if (r < 0)
    g_warning ("Cannot emit PropertiesChanged: %s", g_strerror (-r));
  return G_SOURCE_REMOVE;
}

static void
on_state_changed (CfState *state, guint what, CfBus *self)
{
  self->pending_changes |= what;
  if (self->flush_id == 0)
    self->flush_id = g_idle_add (flush_changes, self);
}

static void
on_session_changed (CfState *state, CfSession *session, CfBus *self)
{
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_emit_signal (self->bus, CF_OBJECT_PATH, CF_INTERFACE, "SessionChanged", "ssss",
                          session->name, cf_session_state_to_string (session->state),
                          session->project, session->task);
  if (r < 0)
    g_warning ("Cannot emit SessionChanged: %s", g_strerror (-r));
}

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

void
cf_bus_set_config (CfBus *self, CfConfig *config)
{
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
  on_state_changed (self->state, CF_STATE_CHANGE_ACCOUNTS, self);
}

static void
cf_bus_dispose (GObject *object)
{
  CfBus *self = CF_BUS (object);

  cf_bus_stop (self);
  if (self->state != NULL)
    {
      g_clear_signal_handler (&self->changed_handler, self->state);
      g_clear_signal_handler (&self->session_handler, self->state);
    }
  g_clear_object (&self->state);
  g_clear_pointer (&self->config, cf_config_unref);
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

CfBus *
cf_bus_new (CfState *state, CfConfig *config)
{
  CfBus *self = g_object_new (CF_TYPE_BUS, NULL);

  self->state = g_object_ref (state);
  self->config = cf_config_ref (config);
  self->changed_handler = g_signal_connect (state, "changed", G_CALLBACK (on_state_changed), self);
  self->session_handler = g_signal_connect (state, "session-changed",
                                            G_CALLBACK (on_session_changed), self);
  return self;
}
