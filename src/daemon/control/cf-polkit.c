/* SPDX-License-Identifier: MIT */
#include "cf-polkit.h"

#include <glib/gi18n.h>
#include <unistd.h>

#include "cf-event-source.h"

#define POLKIT_BUS_NAME "org.freedesktop.PolicyKit1"
#define POLKIT_OBJECT_PATH "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_INTERFACE "org.freedesktop.PolicyKit1.Authority"
#define POLKIT_CHECK_ALLOW_USER_INTERACTION 1u

/* polkitd answers as soon as it has a verdict, except when it asks a person
 * for a password: then give them time to type it. */
#define INTERACTIVE_TIMEOUT_USEC (300 * G_USEC_PER_SEC)

/* Each check keeps its call (and the arguments in it) and holds a pending
 * reply on our bus connection, which dbus-daemon caps (128 on the system
 * bus: past that the bus refuses our calls, everyone's checks included).
 * So a check beyond these bounds is denied at once (issue 18, break 5). */
#define MAX_PENDING_PER_SENDER 8      /* checks from one connection */
#define MAX_IDENTIFYING 32            /* GetConnectionUnixUser in flight, all callers */
#define MAX_ASKING_PER_UID 16         /* CheckAuthorization in flight for one uid */
#define MAX_ASKING 64                 /* CheckAuthorization in flight, all callers */

struct _CfPolkit {
  GObject parent_instance;

  sd_bus *bus;
  CfPolkitFlags flags;
  uid_t own_uid;
  GQueue checks;             /* Check*, pending */
  gboolean disposing;
};

G_DEFINE_FINAL_TYPE (CfPolkit, cf_polkit, G_TYPE_OBJECT)

typedef struct {
  CfPolkit *polkit;          /* not a reference: the CfPolkit ends every check it disposes */
  GList link;                /* in polkit->checks */
  sd_bus_message *call;
  char *action_id;           /* NULL: trusted callers only */
  CfPolkitCallback callback;
  gpointer user_data;
  sd_bus_slot *slot;         /* the outstanding bus call, if any */
  guint idle_id;             /* a verdict already known, delivered from the loop */
  sd_bus_error verdict;      /* the denial idle_id delivers */
  gint64 uid;                /* the caller's, -1 until the bus said */
  gboolean asking;           /* CheckAuthorization sent */
} Check;

static const char *
call_member (const Check *check)
{
  const char *member = sd_bus_message_get_member (check->call);

  return member != NULL ? member : "?";
}

static const char *
error_text (const sd_bus_error *error)
{
  return error->message != NULL ? error->message : error->name;
}

static void
check_free (Check *check)
{
  sd_bus_slot_unref (check->slot);
  g_clear_handle_id (&check->idle_id, g_source_remove);
  sd_bus_error_free (&check->verdict);
  sd_bus_message_unref (check->call);
  g_free (check->action_id);
  g_free (check);
}

/* Takes CHECK out of the pending set and runs its callback; ERROR NULL or
 * unset means allowed. */
static void
check_finish (Check *check, const sd_bus_error *error)
{
  CfPolkit *self = check->polkit;
  gboolean allowed = error == NULL || !sd_bus_error_is_set (error);
  const char *sender = sd_bus_message_get_sender (check->call);

  g_queue_unlink (&self->checks, &check->link);
  check->slot = sd_bus_slot_unref (check->slot);
  g_clear_handle_id (&check->idle_id, g_source_remove);
  if (!allowed)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "CF_POLKIT_ACTION", check->action_id != NULL ? check->action_id : "",
                      "MESSAGE", "Denied %s to %s (uid %" G_GINT64_FORMAT "): %s",
                      call_member (check), sender != NULL ? sender : "?", check->uid,
                      error_text (error));
  check->callback (check->call, allowed, allowed ? NULL : error, check->user_data);
  check_free (check);
}

static void
check_finish_with (Check *check, const char *name, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
check_finish_with (Check *check, const char *name, const char *format, ...)
{
  sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  sd_bus_error_set (&error, name, text);
  check_finish (check, &error);
  sd_bus_error_free (&error);
}

static gboolean
deliver_verdict (gpointer user_data)
{
  Check *check = user_data;

  check->idle_id = 0;
  check_finish (check, &check->verdict);
  return G_SOURCE_REMOVE;
}

/* For verdicts known before any bus round trip: the callback still runs
 * from the loop, never inside cf_polkit_authorize. */
static void
check_finish_later (Check *check, const char *name, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
check_finish_later (Check *check, const char *name, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  sd_bus_error_set (&check->verdict, name, text);
  check->idle_id = g_idle_add (deliver_verdict, check);
}

static gboolean
error_means_absent (const sd_bus_error *error)
{
  return sd_bus_error_has_names (error, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                 SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                 "org.freedesktop.DBus.Error.Spawn.ServiceNotFound");
}

static int
on_check_reply (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Check *check = userdata;
  const sd_bus_error *error = sd_bus_message_get_error (reply);
  int authorized = FALSE, challenge = FALSE;
  gboolean dismissed = FALSE;
  const char *key, *value;
  int r;

  if (error != NULL)
    {
      if (error_means_absent (error))
        check_finish_with (check, SD_BUS_ERROR_ACCESS_DENIED,
                           _("Cannot authorize %s: polkit is not running (%s)"),
                           call_member (check), error_text (error));
      else
        check_finish_with (check, SD_BUS_ERROR_ACCESS_DENIED,
                           _("Cannot authorize %s: polkit failed: %s"),
                           call_member (check), error_text (error));
      return 0;
    }

  r = sd_bus_message_enter_container (reply, 'r', "bba{ss}");
  if (r >= 0)
    r = sd_bus_message_read (reply, "bb", &authorized, &challenge);
  if (r >= 0)
    r = sd_bus_message_enter_container (reply, 'a', "{ss}");
  while (r >= 0 && (r = sd_bus_message_read (reply, "{ss}", &key, &value)) > 0)
    if (g_str_equal (key, "polkit.dismissed") && g_str_equal (value, "true"))
      dismissed = TRUE;
  if (r < 0)
    {
      check_finish_with (check, SD_BUS_ERROR_ACCESS_DENIED,
                         _("Cannot authorize %s: polkit sent an unreadable answer: %s"),
                         call_member (check), g_strerror (-r));
      return 0;
    }

  if (authorized)
    check_finish (check, NULL);
  else if (dismissed)
    check_finish_with (check, SD_BUS_ERROR_ACCESS_DENIED,
                       _("Not authorized to call %s: the authentication dialog was dismissed"),
                       call_member (check));
  else if (challenge && sd_bus_message_get_allow_interactive_authorization (check->call) > 0)
    check_finish_with (check, SD_BUS_ERROR_ACCESS_DENIED,
                       _("Authentication is required to call %s (polkit action %s) and no "
                         "polkit authentication agent could ask for it"),
                       call_member (check), check->action_id);
  else if (challenge)
    check_finish_with (check, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                       _("Authentication is required to call %s (polkit action %s); "
                         "call it with interactive authorization allowed to be asked"),
                       call_member (check), check->action_id);
  else
    check_finish_with (check, SD_BUS_ERROR_ACCESS_DENIED,
                       _("Not authorized to call %s (polkit action %s)"),
                       call_member (check), check->action_id);
  return 0;
}

typedef enum {
  SAME_SENDER,
  IDENTIFYING,
  ASKING_SAME_UID,
  ASKING,
} CheckKind;

/* Pending checks other than LIKE of KIND (a few dozen at most). */
static guint
count_checks (CfPolkit *self, const Check *like, CheckKind kind)
{
  const char *sender = sd_bus_message_get_sender (like->call);
  guint n = 0;

  for (GList *l = self->checks.head; l != NULL; l = l->next)
    {
      const Check *c = l->data;

      if (c == like || c->idle_id != 0)
        continue;
      switch (kind)
        {
        case SAME_SENDER:
          n += g_strcmp0 (sd_bus_message_get_sender (c->call), sender) == 0;
          break;
        case IDENTIFYING:
          n += c->uid < 0;
          break;
        case ASKING_SAME_UID:
          n += c->asking && c->uid == like->uid;
          break;
        case ASKING:
          n += c->asking;
          break;
        }
    }
  return n;
}

static void
ask_polkitd (Check *check)
{
  CfPolkit *self = check->polkit;
  g_autoptr(sd_bus_message) request = NULL;
  gboolean interactive = sd_bus_message_get_allow_interactive_authorization (check->call) > 0;
  const char *sender = sd_bus_message_get_sender (check->call);
  int r;

  if (count_checks (self, check, ASKING_SAME_UID) >= MAX_ASKING_PER_UID)
    {
      check_finish_with (check, SD_BUS_ERROR_LIMITS_EXCEEDED,
                         _("Cannot authorize %s: uid %u already has %u authorizations "
                           "pending; wait for them to finish"),
                         call_member (check), (guint) check->uid, MAX_ASKING_PER_UID);
      return;
    }
  if (count_checks (self, check, ASKING) >= MAX_ASKING)
    {
      check_finish_with (check, SD_BUS_ERROR_LIMITS_EXCEEDED,
                         _("Cannot authorize %s: %u authorizations are pending; try again "
                           "later"), call_member (check), MAX_ASKING);
      return;
    }
  check->asking = TRUE;
  r = sd_bus_message_new_method_call (self->bus, &request, POLKIT_BUS_NAME, POLKIT_OBJECT_PATH,
                                      POLKIT_INTERFACE, "CheckAuthorization");
  if (r >= 0)
    r = sd_bus_message_append (request, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender,
                               check->action_id);
  /* details (none), flags, cancellation id (none) */
  if (r >= 0)
    r = sd_bus_message_append (request, "a{ss}us", 0,
                               interactive ? POLKIT_CHECK_ALLOW_USER_INTERACTION : 0u, "");
  if (r >= 0)
    r = sd_bus_call_async (self->bus, &check->slot, request, on_check_reply, check,
                           interactive ? INTERACTIVE_TIMEOUT_USEC : 0);
  if (r < 0)
    check_finish_with (check, SD_BUS_ERROR_ACCESS_DENIED,
                       _("Cannot authorize %s: cannot ask polkit: %s"), call_member (check),
                       g_strerror (-r));
}

static int
on_caller_uid (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Check *check = userdata;
  CfPolkit *self = check->polkit;
  const sd_bus_error *error = sd_bus_message_get_error (reply);
  uint32_t uid = 0;
  int r;

  check->slot = sd_bus_slot_unref (check->slot);
  if (error != NULL)
    {
      check_finish_with (check, SD_BUS_ERROR_ACCESS_DENIED, _("Cannot identify the caller of %s: %s"),
                         call_member (check), error_text (error));
      return 0;
    }
  r = sd_bus_message_read (reply, "u", &uid);
  if (r < 0)
    {
      check_finish_with (check, SD_BUS_ERROR_ACCESS_DENIED, _("Cannot identify the caller of %s: %s"),
                         call_member (check), g_strerror (-r));
      return 0;
    }

  check->uid = uid;
  if ((self->flags & CF_POLKIT_TRUST_PRIVILEGED) && (uid == 0 || uid == self->own_uid))
    check_finish (check, NULL);
  else if (check->action_id == NULL)
    check_finish_with (check, SD_BUS_ERROR_ACCESS_DENIED, _("Only root or uid %u may call %s"),
                       (guint) self->own_uid, call_member (check));
  else
    ask_polkitd (check);
  return 0;
}

void
cf_polkit_authorize (CfPolkit *self,
                     sd_bus_message *call,
                     const char *action_id,
                     CfPolkitCallback callback,
                     gpointer user_data)
{
  const char *sender = sd_bus_message_get_sender (call);
  Check *check;
  int r;

  g_return_if_fail (CF_IS_POLKIT (self));
  g_return_if_fail (call != NULL);
  g_return_if_fail (callback != NULL);

  check = g_new0 (Check, 1);
  check->polkit = self;
  check->link.data = check;
  check->call = sd_bus_message_ref (call);
  check->action_id = g_strdup (action_id);
  check->callback = callback;
  check->user_data = user_data;
  check->verdict = SD_BUS_ERROR_NULL;
  check->uid = -1;
  g_queue_push_tail_link (&self->checks, &check->link);

  if (self->disposing)
    {
      check_finish_later (check, SD_BUS_ERROR_ACCESS_DENIED,
                          _("Not authorized to call %s: claude-failoverd is shutting down"),
                          call_member (check));
      return;
    }
  /* Only a peer-to-peer connection has no sender; we never serve one. */
  if (sender == NULL)
    {
      check_finish_later (check, SD_BUS_ERROR_ACCESS_DENIED,
                          _("Cannot identify the caller of %s: the message has no sender"),
                          call_member (check));
      return;
    }
  if (count_checks (self, check, SAME_SENDER) >= MAX_PENDING_PER_SENDER)
    {
      check_finish_later (check, SD_BUS_ERROR_LIMITS_EXCEEDED,
                          _("Cannot authorize %s: this connection already has %u "
                            "authorizations pending; wait for them to finish"),
                          call_member (check), MAX_PENDING_PER_SENDER);
      return;
    }
  if (count_checks (self, check, IDENTIFYING) >= MAX_IDENTIFYING)
    {
      check_finish_later (check, SD_BUS_ERROR_LIMITS_EXCEEDED,
                          _("Cannot authorize %s: %u callers are being identified; try again "
                            "later"), call_member (check), MAX_IDENTIFYING);
      return;
    }
  /* Unique names are never reused, so the uid asked now is the caller's. */
  r = sd_bus_call_method_async (self->bus, &check->slot, "org.freedesktop.DBus",
                                "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                "GetConnectionUnixUser", on_caller_uid, check, "s", sender);
  if (r < 0)
    check_finish_later (check, SD_BUS_ERROR_ACCESS_DENIED,
                        _("Cannot identify the caller of %s: %s"), call_member (check),
                        g_strerror (-r));
}

guint
cf_polkit_get_n_pending (CfPolkit *self)
{
  g_return_val_if_fail (CF_IS_POLKIT (self), 0);

  return self->checks.length;
}

static void
cf_polkit_dispose (GObject *object)
{
  CfPolkit *self = CF_POLKIT (object);
  Check *check;

  /* A callback may start a new check: it is denied and drained here too. */
  self->disposing = TRUE;
  while ((check = g_queue_peek_head (&self->checks)) != NULL)
    {
      if (check->idle_id != 0)
        check_finish (check, &check->verdict);
      else
        check_finish_with (check, SD_BUS_ERROR_ACCESS_DENIED,
                           _("Not authorized to call %s: claude-failoverd is shutting down"),
                           call_member (check));
    }
  self->bus = sd_bus_unref (self->bus);
  G_OBJECT_CLASS (cf_polkit_parent_class)->dispose (object);
}

static void
cf_polkit_class_init (CfPolkitClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_polkit_dispose;
}

static void
cf_polkit_init (CfPolkit *self)
{
  g_queue_init (&self->checks);
}

CfPolkit *
cf_polkit_new (sd_bus *bus, CfPolkitFlags flags)
{
  CfPolkit *self = g_object_new (CF_TYPE_POLKIT, NULL);

  self->bus = sd_bus_ref (bus);
  self->flags = flags;
  self->own_uid = getuid ();
  return self;
}
