/* SPDX-License-Identifier: MIT */
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <signal.h>

#include "cf-build-config.h"
#include "cf-config.h"
#include "cf-names.h"
#include "cf-notifier-messages.h"
#include "cf-notifier-status.h"
#include "cf-notifier.h"

#define PROPERTIES_INTERFACE "org.freedesktop.DBus.Properties"
#define RECONNECT_SECONDS 5
/* A polkit agent may be waiting for the user's password meanwhile. */
#define SWITCH_TIMEOUT_MS (5 * 60 * 1000)

struct _CfNotifier
{
  GApplication parent_instance;

  GCancellable *cancellable;   /* every call in flight; cancelled at shutdown */
  GDBusConnection *system_bus; /* private connection, NULL while unreachable */
  gulong closed_handler;
  guint watch_id;
  guint manager_subscription;
  guint properties_subscription;
  guint reconnect_id;
  guint sigterm_id;
  guint sigint_id;
  gboolean connect_failed;     /* the last attempt failed (and was logged) */
  gboolean daemon_running;

  GHashTable *outboxes;        /* kind → Outbox */
  CfNotifierStatus *status;
  /* Conditions already announced, kept across daemon restarts so that a
   * restart does not announce them again. */
  gboolean all_exhausted_shown;
  gboolean partial_swap_shown;
  guint warn_at;               /* quota.warn_at, % (0 = off) */
  GHashTable *usage_warned;    /* account/window/reset already warned about */
};

G_DEFINE_FINAL_TYPE (CfNotifier, cf_notifier, G_TYPE_APPLICATION)

static void connect_system_bus (CfNotifier *self);

/* ---- showing ------------------------------------------------------------- */

/* GLib's freedesktop backend learns a notification's server id from the
 * Notify reply: one of the same kind sent before that reply would stack
 * instead of replacing it, and a withdrawal then would free what the reply
 * is written to. So a kind has one Notify in flight at a time: a Ping to
 * the notification server queued behind it answers after it, and only the
 * latest request made meanwhile (show or withdraw) is carried out then. */
typedef struct {
  gboolean in_flight;
  GNotification *waiting;      /* to show once the one in flight is answered */
  gboolean withdraw_waiting;   /* or to withdraw then */
} Outbox;

static void
outbox_free (gpointer data)
{
  Outbox *outbox = data;

  g_clear_object (&outbox->waiting);
  g_free (outbox);
}

static Outbox *
outbox_get (CfNotifier *self, const char *kind)
{
  Outbox *outbox = g_hash_table_lookup (self->outboxes, kind);

  if (outbox == NULL)
    {
      outbox = g_new0 (Outbox, 1);
      g_hash_table_insert (self->outboxes, (gpointer) kind, outbox);
    }
  return outbox;
}

typedef struct {
  CfNotifier *self;
  const char *kind;            /* static: CF_NOTIFIER_KIND_* */
} Sent;

static void send_now (CfNotifier *self, const char *kind, GNotification *notification);

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Sent *sent = user_data;
  g_autoptr(CfNotifier) self = sent->self;
  const char *kind = sent->kind;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GNotification) next = NULL;
  Outbox *outbox;

  g_free (sent);
  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  outbox = outbox_get (self, kind);
  outbox->in_flight = FALSE;
  next = g_steal_pointer (&outbox->waiting);
  if (next != NULL)
    send_now (self, kind, next);
  else if (outbox->withdraw_waiting)
    g_application_withdraw_notification (G_APPLICATION (self), kind);
  outbox->withdraw_waiting = FALSE;
}

static void
send_now (CfNotifier *self, const char *kind, GNotification *notification)
{
  GDBusConnection *session_bus = g_application_get_dbus_connection (G_APPLICATION (self));
  Sent *sent;

  /* The kind is the id: a new one replaces the previous one of its kind. */
  g_application_send_notification (G_APPLICATION (self), kind, notification);
  if (session_bus == NULL)
    return;
  outbox_get (self, kind)->in_flight = TRUE;
  sent = g_new0 (Sent, 1);
  sent->self = g_object_ref (self);
  sent->kind = kind;
  g_dbus_connection_call (session_bus, "org.freedesktop.Notifications",
                          "/org/freedesktop/Notifications", "org.freedesktop.DBus.Peer", "Ping",
                          NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, on_sent, sent);
}

static void
show (CfNotifier *self, CfNotifierMessage *message)
{
  g_autoptr(GNotification) notification = g_notification_new (message->title);
  g_autoptr(GIcon) icon = NULL;
  Outbox *outbox = outbox_get (self, message->kind);

  g_notification_set_body (notification, message->body);
  g_notification_set_priority (notification, message->priority);
  icon = g_themed_icon_new (message->priority >= G_NOTIFICATION_PRIORITY_HIGH
                            ? "dialog-warning" : "dialog-information");
  g_notification_set_icon (notification, icon);
  if (message->switch_back_to != NULL)
    g_notification_add_button_with_target (notification, _("Switch back now"), "app.switch-back",
                                           "s", message->switch_back_to);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "CF_NOTIFICATION", message->kind,
                    "MESSAGE", "Notification %s: %s", message->kind, message->title);
  if (outbox->in_flight)
    {
      g_set_object (&outbox->waiting, notification);
      outbox->withdraw_waiting = FALSE;
    }
  else
    send_now (self, message->kind, notification);
}

/* Takes back the notification of KIND: what it announced is over. */
static void
withdraw (CfNotifier *self, const char *kind)
{
  Outbox *outbox = outbox_get (self, kind);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "CF_NOTIFICATION", kind,
                    "MESSAGE", "Notification %s withdrawn", kind);
  if (outbox->in_flight)
    {
      g_clear_object (&outbox->waiting);
      outbox->withdraw_waiting = TRUE;
    }
  else
    g_application_withdraw_notification (G_APPLICATION (self), kind);
}

static void
show_conditions (CfNotifier *self)
{
  gboolean all_exhausted = cf_notifier_status_all_exhausted (self->status);
  gboolean partial_swap = self->status->partial_swap;
  g_autoptr(GTimeZone) local = g_time_zone_new_local ();
  g_autoptr(GPtrArray) warnings = cf_notifier_usage_warnings (self->status, self->warn_at,
                                                              self->usage_warned,
                                                              g_get_real_time (), local);

  for (guint i = 0; i < warnings->len; i++)
    show (self, g_ptr_array_index (warnings, i));

  if (all_exhausted && !self->all_exhausted_shown)
    {
      g_autoptr(CfNotifierMessage) message = NULL;
      g_autoptr(GTimeZone) tz = g_time_zone_new_local ();

      message = cf_notifier_message_all_exhausted (self->status, g_get_real_time (), tz);
      show (self, message);
    }
  else if (!all_exhausted && self->all_exhausted_shown)
    withdraw (self, CF_NOTIFIER_KIND_ALL_EXHAUSTED);
  self->all_exhausted_shown = all_exhausted;

  if (partial_swap && !self->partial_swap_shown)
    {
      g_autoptr(CfNotifierMessage) message = cf_notifier_message_partial_swap ();

      show (self, message);
    }
  else if (!partial_swap && self->partial_swap_shown)
    withdraw (self, CF_NOTIFIER_KIND_PARTIAL_SWAP);
  self->partial_swap_shown = partial_swap;
}

/* ---- reading the daemon's properties -------------------------------------- */

typedef enum {
  EVENT_NONE,
  EVENT_SWAP_STARTED,
  EVENT_SWAP_FINISHED,
} EventKind;

/* A signal whose notification needs the properties as they are after it:
 * PropertiesChanged leaves the daemon after its signals, so the notifier
 * reads them first. Replies come back in order, so notifications do too. */
typedef struct {
  CfNotifier *self;
  EventKind kind;
  char *from;
  char *to;
  char *text;                  /* the reason, or SwapFinished's message */
  gboolean success;
} Refresh;

static void
refresh_free (Refresh *refresh)
{
  g_object_unref (refresh->self);
  g_free (refresh->from);
  g_free (refresh->to);
  g_free (refresh->text);
  g_free (refresh);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Refresh, refresh_free)

static void
show_event (CfNotifier *self, const Refresh *event)
{
  g_autoptr(CfNotifierMessage) message = NULL;
  g_autoptr(GTimeZone) tz = g_time_zone_new_local ();
  gint64 now = g_get_real_time ();

  switch (event->kind)
    {
    case EVENT_SWAP_STARTED:
      message = cf_notifier_message_swap_started (self->status, event->from, event->to,
                                                  event->text, now, tz);
      break;
    case EVENT_SWAP_FINISHED:
      message = cf_notifier_message_swap_finished (self->status, event->from, event->to,
                                                   event->success, event->text, now, tz);
      break;
    case EVENT_NONE:
    default:
      return;
    }
  show (self, message);
}

static void
on_refreshed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Refresh) request = user_data;
  CfNotifier *self = request->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply != NULL)
    {
      g_autoptr(GVariant) properties = g_variant_get_child_value (reply, 0);

      cf_notifier_status_update_all (self->status, properties);
      show_conditions (self);
    }
  else
    /* The event is still shown, with what is known. */
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                      "MESSAGE", "Cannot read the daemon's properties: %s", error->message);
  show_event (self, request);
}

/* Reads every property, then shows the event of KIND (EVENT_NONE: only the
 * conditions). */
static void
refresh (CfNotifier *self, EventKind kind, const char *from, const char *to, const char *text,
         gboolean success)
{
  Refresh *request;

  if (self->system_bus == NULL)
    return;
  request = g_new0 (Refresh, 1);
  request->self = g_object_ref (self);
  request->kind = kind;
  request->from = g_strdup (from);
  request->to = g_strdup (to);
  request->text = g_strdup (text);
  request->success = success;
  g_dbus_connection_call (self->system_bus, CF_BUS_NAME, CF_OBJECT_PATH, PROPERTIES_INTERFACE,
                          "GetAll", g_variant_new ("(s)", CF_INTERFACE),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                          self->cancellable, on_refreshed, request);
}

/* ---- the daemon's signals ----------------------------------------------- */

static void
on_manager_signal (GDBusConnection *bus, const char *sender, const char *path,
                   const char *interface, const char *signal, GVariant *parameters,
                   gpointer user_data)
{
  CfNotifier *self = user_data;
  g_autoptr(CfNotifierMessage) message = NULL;
  g_autoptr(GTimeZone) tz = NULL;

  if (g_str_equal (signal, "SwapStarted") && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sss)")))
    {
      const char *from, *to, *reason;

      g_variant_get (parameters, "(&s&s&s)", &from, &to, &reason);
      refresh (self, EVENT_SWAP_STARTED, from, to, reason, FALSE);
    }
  else if (g_str_equal (signal, "SwapFinished") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ssbs)")))
    {
      const char *from, *to, *text;
      gboolean success;

      g_variant_get (parameters, "(&s&sb&s)", &from, &to, &success, &text);
      refresh (self, EVENT_SWAP_FINISHED, from, to, text, success);
    }
  else if (g_str_equal (signal, "QuotaExhausted") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sasts)")))
    {
      const char *account, *evidence;
      g_autofree const char **sessions = NULL;
      guint64 reset_at;

      g_variant_get (parameters, "(&s^a&st&s)", &account, &sessions, &reset_at, &evidence);
      tz = g_time_zone_new_local ();
      message = cf_notifier_message_quota_exhausted (account, sessions,
                                                     (gint64) MIN (reset_at, (guint64) G_MAXINT64),
                                                     evidence, g_get_real_time (), tz);
    }
  else if (g_str_equal (signal, "TaskFinished") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ssss)")))
    {
      const char *project, *task, *session, *outcome;

      g_variant_get (parameters, "(&s&s&s&s)", &project, &task, &session, &outcome);
      message = cf_notifier_message_task_failed (project, task, session, outcome);
    }
  else if (g_str_equal (signal, "SessionNeedsInput") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ssss)")))
    {
      const char *name, *project, *task, *what;

      g_variant_get (parameters, "(&s&s&s&s)", &name, &project, &task, &what);
      message = cf_notifier_message_needs_input (name, project, task, what);
    }
  if (message != NULL)
    show (self, message);
}

static void
on_properties_changed (GDBusConnection *bus, const char *sender, const char *path,
                       const char *interface, const char *signal, GVariant *parameters,
                       gpointer user_data)
{
  CfNotifier *self = user_data;
  g_autoptr(GVariant) changed = NULL;
  g_autofree const char **invalidated = NULL;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sa{sv}as)")))
    return;
  g_variant_get (parameters, "(&s@a{sv}^a&s)", NULL, &changed, &invalidated);
  cf_notifier_status_update_all (self->status, changed);
  if (invalidated != NULL && invalidated[0] != NULL)
    refresh (self, EVENT_NONE, NULL, NULL, NULL, FALSE);
  else
    show_conditions (self);
}

static void
on_name_appeared (GDBusConnection *bus, const char *name, const char *owner, gpointer user_data)
{
  CfNotifier *self = user_data;

  self->daemon_running = TRUE;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "MESSAGE", "claude-failoverd is on the system bus (%s)", owner);
  refresh (self, EVENT_NONE, NULL, NULL, NULL, FALSE);
}

static void
on_name_vanished (GDBusConnection *bus, const char *name, gpointer user_data)
{
  CfNotifier *self = user_data;

  /* Signal subscriptions follow the name's owner: nothing to redo. */
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "MESSAGE", self->daemon_running
                    ? "claude-failoverd left the system bus; waiting for it to come back"
                    : "Waiting for claude-failoverd on the system bus");
  self->daemon_running = FALSE;
}

/* ---- the system bus connection ------------------------------------------ */

static void
disconnect_system_bus (CfNotifier *self)
{
  if (self->system_bus == NULL)
    return;
  g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
  if (self->manager_subscription != 0)
    g_dbus_connection_signal_unsubscribe (self->system_bus, self->manager_subscription);
  if (self->properties_subscription != 0)
    g_dbus_connection_signal_unsubscribe (self->system_bus, self->properties_subscription);
  self->manager_subscription = 0;
  self->properties_subscription = 0;
  g_clear_signal_handler (&self->closed_handler, self->system_bus);
  g_clear_object (&self->system_bus);
  self->daemon_running = FALSE;
}

static gboolean
on_reconnect (gpointer user_data)
{
  CfNotifier *self = user_data;

  self->reconnect_id = 0;
  connect_system_bus (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (CfNotifier *self)
{
  if (self->reconnect_id == 0 && !g_cancellable_is_cancelled (self->cancellable))
    self->reconnect_id = g_timeout_add_seconds (RECONNECT_SECONDS, on_reconnect, self);
}

static void
on_system_bus_closed (GDBusConnection *bus, gboolean remote_peer_vanished, GError *error,
                      gpointer user_data)
{
  CfNotifier *self = user_data;

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                    "MESSAGE", "Lost the system bus (%s); reconnecting in %d s",
                    error ? error->message : "closed", RECONNECT_SECONDS);
  disconnect_system_bus (self);
  schedule_reconnect (self);
}

static void
on_system_bus_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CfNotifier) self = user_data;
  g_autoptr(GError) error = NULL;
  GDBusConnection *bus;

  bus = g_dbus_connection_new_for_address_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (bus == NULL)
    {
      /* Said once; the retries every few seconds stay quiet. */
      g_log_structured (G_LOG_DOMAIN,
                        self->connect_failed ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_WARNING,
                        "MESSAGE", "Cannot connect to the system bus: %s; retrying every %d s",
                        error->message, RECONNECT_SECONDS);
      self->connect_failed = TRUE;
      schedule_reconnect (self);
      return;
    }
  if (self->connect_failed)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "MESSAGE", "Connected to the system bus");
  self->connect_failed = FALSE;
  self->system_bus = bus;
  self->closed_handler = g_signal_connect (bus, "closed", G_CALLBACK (on_system_bus_closed), self);
  self->manager_subscription =
    g_dbus_connection_signal_subscribe (bus, CF_BUS_NAME, CF_INTERFACE, NULL, CF_OBJECT_PATH,
                                        NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_manager_signal,
                                        self, NULL);
  self->properties_subscription =
    g_dbus_connection_signal_subscribe (bus, CF_BUS_NAME, PROPERTIES_INTERFACE,
                                        "PropertiesChanged", CF_OBJECT_PATH, CF_INTERFACE,
                                        G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed,
                                        self, NULL);
  self->watch_id = g_bus_watch_name_on_connection (bus, CF_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   on_name_appeared, on_name_vanished,
                                                   self, NULL);
}

static void
connect_system_bus (CfNotifier *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;

  /* For the system bus this only reads DBUS_SYSTEM_BUS_ADDRESS or returns
   * the default socket path: it never waits. */
  address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (address == NULL)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "MESSAGE", "No system bus address: %s", error->message);
      schedule_reconnect (self);
      return;
    }
  /* A private connection: the shared one would end the process when the
   * bus goes away, this one is simply made again. */
  g_dbus_connection_new_for_address (address,
                                     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                     G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                     NULL, self->cancellable, on_system_bus_ready,
                                     g_object_ref (self));
}

/* ---- "Switch back now" ---------------------------------------------------- */

typedef struct {
  CfNotifier *self;
  char *account;
} SwitchBack;

static void
switch_back_free (SwitchBack *data)
{
  g_object_unref (data->self);
  g_free (data->account);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SwitchBack, switch_back_free)

static void
show_switch_error (CfNotifier *self, const char *account, const char *error)
{
  g_autoptr(CfNotifierMessage) message = cf_notifier_message_switch_error (account, error);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                    "CF_ACCOUNT", account,
                    "MESSAGE", "Cannot switch back to %s: %s", account, error);
  show (self, message);
}

static void
on_switch_back_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(SwitchBack) data = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      show_switch_error (data->self, data->account, error->message);
      return;
    }
  /* Its progress arrives as SwapStarted / SwapFinished. */
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "CF_ACCOUNT", data->account,
                    "MESSAGE", "Switching back to %s", data->account);
}

static void
on_switch_back (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  CfNotifier *self = user_data;
  const char *account = g_variant_get_string (parameter, NULL);
  SwitchBack *data;

  if (self->system_bus == NULL)
    {
      show_switch_error (self, account, _("The system bus is not reachable."));
      return;
    }
  data = g_new0 (SwitchBack, 1);
  data->self = g_object_ref (self);
  data->account = g_strdup (account);
  /* Interactive: the polkit agent of this session may ask for a password. */
  g_dbus_connection_call (self->system_bus, CF_BUS_NAME, CF_OBJECT_PATH, CF_INTERFACE,
                          "SwitchAccount", g_variant_new ("(s)", account), G_VARIANT_TYPE_UNIT,
                          G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, SWITCH_TIMEOUT_MS,
                          self->cancellable, on_switch_back_done, data);
}

/* ---- GApplication ----------------------------------------------------------- */

static gboolean
on_quit_signal (gpointer user_data)
{
  g_application_quit (G_APPLICATION (user_data));
  return G_SOURCE_CONTINUE;
}

/* quota.warn_at: --warn-at, else the daemon's configuration file when this
 * user may read it, else its default. */
static gboolean
read_warn_at (CfNotifier *self, GVariantDict *options)
{
  const char *path = DEFAULT_CONFIG_PATH;
  gint32 warn_at = -1;
  g_autoptr(CfConfig) config = NULL;
  g_autoptr(GError) error = NULL;

  g_variant_dict_lookup (options, "config", "^&ay", &path);
  if (g_variant_dict_lookup (options, "warn-at", "i", &warn_at))
    {
      if (warn_at < 0 || warn_at > 100)
        {
          g_printerr ("%s\n",
                      _("claude-failover-notifier: --warn-at must be a percentage from 0 to 100"));
          return FALSE;
        }
      self->warn_at = (guint) warn_at;
      return TRUE;
    }
  config = cf_config_load_file (path, NULL, &error);
  if (config != NULL)
    self->warn_at = (guint) config->quota_warn_at;
  else
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                      "MESSAGE", "quota.warn_at not read (%s): warning at %u %%",
                      error->message, self->warn_at);
  return TRUE;
}

static int
cf_notifier_handle_local_options (GApplication *app, GVariantDict *options)
{
  g_autoptr(GError) error = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("claude-failover-notifier %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (!read_warn_at (CF_NOTIFIER (app), options))
    return 1;
  if (!g_application_register (app, NULL, &error))
    {
      g_printerr (_("claude-failover-notifier: cannot register on the session bus: %s\n"),
                  error->message);
      return 1;
    }
  if (!g_application_get_is_remote (app) && g_application_get_dbus_connection (app) == NULL)
    {
      g_printerr (_("claude-failover-notifier: no session bus, so no desktop notifications "
                    "can be shown\n"));
      return 1;
    }
  return -1;
}

static void
cf_notifier_startup (GApplication *app)
{
  CfNotifier *self = CF_NOTIFIER (app);
  g_autoptr(GSimpleAction) switch_back = NULL;

  G_APPLICATION_CLASS (cf_notifier_parent_class)->startup (app);

  if (g_application_get_dbus_connection (app) == NULL)
    return;
  switch_back = g_simple_action_new ("switch-back", G_VARIANT_TYPE_STRING);
  g_signal_connect (switch_back, "activate", G_CALLBACK (on_switch_back), self);
  g_action_map_add_action (G_ACTION_MAP (app), G_ACTION (switch_back));

  /* No window: the notifier lives until the session ends. */
  g_application_hold (app);
  self->sigterm_id = g_unix_signal_add (SIGTERM, on_quit_signal, self);
  self->sigint_id = g_unix_signal_add (SIGINT, on_quit_signal, self);
  connect_system_bus (self);
}

static void
cf_notifier_activate (GApplication *app)
{
  /* Started again (autostart twice, or a click on a notification): the
   * running instance already does everything. */
}

static void
cf_notifier_shutdown (GApplication *app)
{
  CfNotifier *self = CF_NOTIFIER (app);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->reconnect_id, g_source_remove);
  g_clear_handle_id (&self->sigterm_id, g_source_remove);
  g_clear_handle_id (&self->sigint_id, g_source_remove);
  disconnect_system_bus (self);

  G_APPLICATION_CLASS (cf_notifier_parent_class)->shutdown (app);
}

static void
cf_notifier_finalize (GObject *object)
{
  CfNotifier *self = CF_NOTIFIER (object);

  disconnect_system_bus (self);
  g_clear_object (&self->cancellable);
  cf_notifier_status_free (self->status);
  g_hash_table_unref (self->outboxes);
  g_hash_table_unref (self->usage_warned);

  G_OBJECT_CLASS (cf_notifier_parent_class)->finalize (object);
}

static void
cf_notifier_class_init (CfNotifierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = cf_notifier_finalize;
  app_class->handle_local_options = cf_notifier_handle_local_options;
  app_class->startup = cf_notifier_startup;
  app_class->activate = cf_notifier_activate;
  app_class->shutdown = cf_notifier_shutdown;
}

static void
cf_notifier_init (CfNotifier *self)
{
  static const GOptionEntry entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Show the program's version and exit"), NULL },
    { "warn-at", 0, 0, G_OPTION_ARG_INT, NULL,
      N_("Warn when an account has used this percentage of a usage window "
         "(default: quota.warn_at)"),
      N_("PERCENT") },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      N_("The daemon's configuration file, read for quota.warn_at"), N_("FILE") },
    { NULL },
  };

  self->cancellable = g_cancellable_new ();
  self->status = cf_notifier_status_new ();
  self->warn_at = 85;
  self->usage_warned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->outboxes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, outbox_free);
  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  g_application_set_option_context_summary (
    G_APPLICATION (self),
    _("Shows desktop notifications about claude-failoverd: account switches, usage limits, "
      "exhausted accounts and failed tasks."));
  g_application_set_option_context_description (
    G_APPLICATION (self),
    _("It runs in the desktop session (started by XDG autostart), follows the daemon on the "
      "system bus and keeps following it across restarts."));
}

CfNotifier *
cf_notifier_new (void)
{
  return g_object_new (CF_TYPE_NOTIFIER,
                       "application-id", CF_NOTIFIER_APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       NULL);
}
