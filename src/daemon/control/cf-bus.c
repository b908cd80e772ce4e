/* SPDX-License-Identifier: MIT */
/* org.claudefailover.Manager's interface: the vtable, its properties
 * (rendered from cf-status) and the method handlers, each in the same order:
 * read the arguments, validate, authorise (authorize_then), act, reply.
 * What the object announces is in cf-bus-signals.c; the connection and the
 * bus name in cf-bus-connection.c. */
#include "cf-bus-private.h"

#include <errno.h>

#include "cf-build-config.h"
#include "cf-bus-variant.h"
#include "cf-event-source.h"
#include "cf-names.h"
#include "cf-polkit.h"
#include "cf-status.h"
#include "cf-submit.h"
#include "cf-switcher.h"
#include "cf-task.h"
#include "cf-taskq-async.h"
#include "cf-text.h"

#include <glib/gi18n.h>
#include <string.h>

/* ---- properties ----------------------------------------------------------
 * Rendered from cf-status, like GetStatus and HTTP /status, so all agree. */

static int
property_get (sd_bus *bus, const char *path, const char *interface, const char *property,
              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  CfBus *self = userdata;
  g_autoptr(GVariant) value = cf_status_get_property (self->state, self->config, property,
                                                      g_get_real_time ());

  if (value == NULL)
    return -ENOENT;
  return cf_bus_message_append_variant (reply, value);
}

/* ---- methods ------------------------------------------------------------ */

static int
method_get_status (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  CfBus *self = userdata;
  g_autoptr(sd_bus_message) reply = NULL;
  gint64 now = g_get_real_time ();
  int r;

  /* Callers poll it (applets, scripts, dashboards): built again only after
   * the state changed, not on every call. */
  if (self->status == NULL || now >= self->status_until)
    {
      g_clear_pointer (&self->status, g_variant_unref);
      self->status = cf_status_snapshot (self->state, self->config, now);
      self->status_until = cf_status_valid_until (self->state, now);
    }
  r = sd_bus_message_new_method_return (message, &reply);
  if (r < 0)
    return r;
  r = cf_bus_message_append_variant (reply, self->status);
  if (r < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
}


/* ---- method helpers ------------------------------------------------------ */

/* PROJECT is a known project directory, or the name of one. */
static char *
resolve_project (CfBus *self, const char *project, sd_bus_error *error)
{
  g_autoptr(GPtrArray) projects = NULL;
  g_autofree char *shown = NULL;

  if (self->inbox == NULL)
    return NULL;
  if (g_path_is_absolute (project))
    {
      g_autofree char *canonical = g_canonicalize_filename (project, NULL);
      if (cf_inbox_has_project (self->inbox, canonical))
        return g_steal_pointer (&canonical);
    }
  else if (*project != '\0' && strchr (project, '/') == NULL)
    {
      projects = cf_inbox_list_projects (self->inbox);
      for (guint i = 0; i < projects->len; i++)
        {
          g_autofree char *name = g_path_get_basename (g_ptr_array_index (projects, i));
          if (g_str_equal (name, project))
            return g_strdup (g_ptr_array_index (projects, i));
        }
    }
  shown = cf_text_for_message (project);
  sd_bus_error_setf (error, CF_ERROR_NO_SUCH_PROJECT,
                     _("No project '%s' (a project directory with .agent-queue/inbox under "
                       "projects.dir or projects.extra)"), shown);
  return NULL;
}

static int
check_task_id (const char *task_id, sd_bus_error *error)
{
  g_autofree char *shown = NULL;

  if (cf_task_id_is_valid (task_id))
    return 0;
  shown = cf_text_for_message (task_id);
  return sd_bus_error_setf (error, CF_ERROR_INVALID_ARGUMENT,
                            _("'%s' is not a task id (letters, digits, '.', '_', '-')"), shown);
}

/* A pending reply: the message is kept and answered from a callback. */
typedef struct _Pending Pending;
typedef void (*AuthorizedFunc) (Pending *p);

struct _Pending {
  CfBus *self;
  sd_bus_message *message;
  char *project;
  char *task_id;
  char *text;                  /* SubmitTask: the task file */
  char *session;               /* RecycleSession */
  char *account;               /* SwitchAccount */
  AuthorizedFunc authorized;   /* changes the state once the caller is authorised */
};

static Pending *
pending_new (CfBus *self, sd_bus_message *message, const char *project, const char *task_id)
{
  Pending *p = g_new0 (Pending, 1);

  p->self = g_object_ref (self);
  p->message = sd_bus_message_ref (message);
  p->project = g_strdup (project);
  p->task_id = g_strdup (task_id);
  return p;
}

static void
pending_free (Pending *p)
{
  g_object_unref (p->self);
  sd_bus_message_unref (p->message);
  g_free (p->project);
  g_free (p->task_id);
  g_free (p->text);
  g_free (p->session);
  g_free (p->account);
  g_free (p);
}

static void
reply_error (sd_bus_message *message, const char *name, const char *text)
{
  sd_bus_error error = SD_BUS_ERROR_NULL;

  sd_bus_error_set (&error, name, text);
  (void) sd_bus_reply_method_error (message, &error);
  sd_bus_error_free (&error);
}

static void
on_authorization (sd_bus_message *call, gboolean allowed, const sd_bus_error *error,
                  gpointer user_data)
{
  Pending *p = user_data;

  if (!allowed)
    {
      (void) sd_bus_reply_method_error (call, error);
      pending_free (p);
      return;
    }
  p->authorized (p);
}

/* Every mutating method ends here once its arguments are valid: the state
 * changes in AUTHORIZED (which owns P and replies) only when polkit, or the
 * caller being root or our own user, allows it (ARCHITECTURE.md 4.5).
 * ACTION_ID NULL: root and our own user only. */
static int
authorize_then (Pending *p, const char *action_id, AuthorizedFunc authorized)
{
  p->authorized = authorized;
  cf_polkit_authorize (p->self->polkit, p->message, action_id, on_authorization, p);
  return 1;
}

static const char *
taskq_error_name (const GError *error)
{
  if (g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
    return CF_ERROR_NO_SUCH_TASK;
  if (g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_INVALID_ARGUMENT) ||
      g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_EXISTS))
    return CF_ERROR_INVALID_ARGUMENT;
  return SD_BUS_ERROR_FAILED;
}

/* ---- ListTasks ---------------------------------------------------------- */

static void
on_tasks_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) listings = cf_taskq_list_all_finish (result, &error);
  g_autoptr(sd_bus_message) reply = NULL;
  int r;

  if (listings == NULL)
    {
      reply_error (p->message, SD_BUS_ERROR_FAILED, error->message);
      pending_free (p);
      return;
    }
  r = sd_bus_message_new_method_return (p->message, &reply);
  if (r >= 0)
    r = sd_bus_message_open_container (reply, 'a', "(ssssst)");
  for (guint i = 0; r >= 0 && i < listings->len; i++)
    {
      CfTaskListing *l = g_ptr_array_index (listings, i);
      CfSession *session = cf_state_find_session_by_task (p->self->state, l->project, l->id);

      r = sd_bus_message_append (reply, "(ssssst)", l->project, l->id,
                                 cf_task_place_to_string (l->place),
                                 session && l->place == CF_TASK_PLACE_ACTIVE ? session->name : "",
                                 l->title, (uint64_t) MAX (l->mtime_usec, 0));
    }
  if (r >= 0)
    r = sd_bus_message_close_container (reply);
  if (r >= 0)
    r = sd_bus_send (NULL, reply, NULL);
  if (r < 0)
    g_warning ("Cannot reply to ListTasks: %s", g_strerror (-r));
  pending_free (p);
}

static int
method_list_tasks (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  CfBus *self = userdata;
  g_autoptr(GPtrArray) projects = cf_inbox_list_projects (self->inbox);

  cf_taskq_list_all_async (projects, on_tasks_listed, pending_new (self, message, NULL, NULL));
  return 1;
}

/* ---- SubmitTask ------------------------------------------------------- */

static int
read_submit_options (sd_bus_message *message, CfSubmitOptions *options, sd_bus_error *error)
{
  int r;

  r = sd_bus_message_enter_container (message, 'a', "{sv}");
  if (r < 0)
    return r;
  while ((r = sd_bus_message_enter_container (message, 'e', "sv")) > 0)
    {
      g_autoptr(GError) local_error = NULL;
      const char *name = NULL, *contents = NULL;
      gboolean ok = FALSE;

      r = sd_bus_message_read (message, "s", &name);
      if (r < 0)
        return r;
      r = sd_bus_message_peek_type (message, NULL, &contents);
      if (r < 0)
        return r;
      r = sd_bus_message_enter_container (message, 'v', contents);
      if (r < 0)
        return r;
      if (g_str_equal (contents, "s"))
        {
          const char *value = NULL;
          r = sd_bus_message_read (message, "s", &value);
          ok = r >= 0 && cf_submit_options_set_string (options, name, value, &local_error);
        }
      else if (g_str_equal (contents, "b"))
        {
          int value = 0;
          r = sd_bus_message_read (message, "b", &value);
          ok = r >= 0 && cf_submit_options_set_boolean (options, name, value, &local_error);
        }
      else if (g_str_equal (contents, "as"))
        {
          g_auto(GStrv) value = NULL;
          r = sd_bus_message_read_strv (message, &value);
          ok = r >= 0 && cf_submit_options_set_strv (options, name, (const char *const *) value,
                                                     &local_error);
        }
      else
        {
          g_autofree char *shown = cf_text_for_message (name);

          r = sd_bus_message_skip (message, contents);
          g_set_error (&local_error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "option '%s' has an unsupported type '%s'", shown, contents);
        }
      if (r < 0)
        return r;
      if (!ok)
        return sd_bus_error_set (error, CF_ERROR_INVALID_ARGUMENT, local_error->message);
      r = sd_bus_message_exit_container (message);
      if (r < 0)
        return r;
      r = sd_bus_message_exit_container (message);
      if (r < 0)
        return r;
    }
  if (r < 0)
    return r;
  return sd_bus_message_exit_container (message);
}

static void
on_task_submitted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;

  if (!cf_taskq_submit_finish (result, &error))
    reply_error (p->message, taskq_error_name (error), error->message);
  else
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "CF_TASK", p->task_id, "CF_PROJECT", p->project,
                        "MESSAGE", "Task %s submitted to %s over D-Bus", p->task_id, p->project);
      (void) sd_bus_reply_method_return (p->message, "s", p->task_id);
    }
  pending_free (p);
}

static void
submit_task_authorized (Pending *p)
{
  cf_taskq_submit_async (p->project, p->task_id, p->text, on_task_submitted, p);
}

static int
method_submit_task (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  CfBus *self = userdata;
  g_auto(CfSubmitOptions) options = { .priority = CF_PRIORITY_DEFAULT };
  g_autoptr(GError) local_error = NULL;
  g_autofree char *project = NULL;
  g_autofree char *text = NULL;
  const char *project_arg, *title, *body;
  Pending *p;
  int r;

  r = sd_bus_message_read (message, "sss", &project_arg, &title, &body);
  if (r < 0)
    return r;
  r = read_submit_options (message, &options, error);
  if (r < 0 || sd_bus_error_is_set (error))
    return r < 0 ? r : -EINVAL;
  project = resolve_project (self, project_arg, error);
  if (project == NULL)
    return -ENOENT;
  text = cf_submit_compose (title, body, &options, &local_error);
  if (text == NULL)
    return sd_bus_error_set (error, CF_ERROR_INVALID_ARGUMENT, local_error->message);
  p = pending_new (self, message, project, NULL);
  p->task_id = cf_submit_task_id (title, g_get_real_time (), g_random_int ());
  p->text = g_steal_pointer (&text);
  return authorize_then (p, CF_POLKIT_MANAGE_TASKS, submit_task_authorized);
}

/* ---- RequeueTask / CancelTask ------------------------------------------ */

static void
on_operator_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;
  CfTaskPlace place = CF_TASK_PLACE_ABSENT;
  gboolean cancel = g_str_equal (sd_bus_message_get_member (p->message), "CancelTask");

  if (!cf_taskq_operator_finish (result, &place, &error))
    {
      if (place == CF_TASK_PLACE_ABSENT)
        reply_error (p->message, CF_ERROR_NO_SUCH_TASK, error->message);
      else if (g_error_matches (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
        reply_error (p->message, CF_ERROR_INVALID_ARGUMENT, error->message);
      else
        reply_error (p->message, taskq_error_name (error), error->message);
      pending_free (p);
      return;
    }
  if (cancel)
    cf_task_events_finished (p->self->task_events, p->project, p->task_id, "", "cancelled");
  (void) sd_bus_reply_method_return (p->message, "");
  pending_free (p);
}

static void
requeue_or_cancel_authorized (Pending *p)
{
  gboolean cancel = g_str_equal (sd_bus_message_get_member (p->message), "CancelTask");

  /* A running task is ended through its session; the watcher moves it. */
  if (cf_watcher_end_task (p->self->watcher, p->project, p->task_id, cancel))
    {
      (void) sd_bus_reply_method_return (p->message, "");
      pending_free (p);
      return;
    }
  cf_taskq_operator_async (p->project, p->task_id, cancel, on_operator_done, p);
}

static int
method_requeue_or_cancel (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  CfBus *self = userdata;
  g_autofree char *project = NULL;
  const char *project_arg, *task_id;
  int r;

  r = sd_bus_message_read (message, "ss", &project_arg, &task_id);
  if (r < 0)
    return r;
  r = check_task_id (task_id, error);
  if (r < 0)
    return r;
  project = resolve_project (self, project_arg, error);
  if (project == NULL)
    return -ENOENT;
  return authorize_then (pending_new (self, message, project, task_id), CF_POLKIT_MANAGE_TASKS,
                         requeue_or_cancel_authorized);
}

/* ---- dispatch control and sessions ------------------------------------ */

static void
pause_resume_authorized (Pending *p)
{
  gboolean pause = g_str_equal (sd_bus_message_get_member (p->message), "PauseDispatch");

  if (cf_state_get_dispatch_pause (p->self->state).operator_paused != pause)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "MESSAGE", pause ? "Dispatch paused over D-Bus" : "Dispatch resumed over D-Bus");
  cf_state_set_dispatch_pause (p->self->state, pause,
                               cf_state_get_dispatch_pause (p->self->state).all_exhausted_until);
  (void) sd_bus_reply_method_return (p->message, "");
  pending_free (p);
}

static int
method_pause_resume (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  return authorize_then (pending_new (userdata, message, NULL, NULL), CF_POLKIT_CONTROL,
                         pause_resume_authorized);
}

static void
on_reloaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) local_error = NULL;

  /* SOURCE is the reloader itself: the running reload holds it. */
  if (cf_reloader_reload_finish (CF_RELOADER (source), result, &local_error))
    (void) sd_bus_reply_method_return (p->message, "");
  else
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "MESSAGE", "Reload over D-Bus refused, keeping the running configuration: %s",
                        local_error->message);
      reply_error (p->message, SD_BUS_ERROR_FAILED, local_error->message);
    }
  pending_free (p);
}

static void
reload_authorized (Pending *p)
{
  if (p->self->reloader == NULL)
    {
      reply_error (p->message, SD_BUS_ERROR_NOT_SUPPORTED, _("Reload is not available"));
      pending_free (p);
      return;
    }
  cf_reloader_reload_async (p->self->reloader, on_reloaded, p);
}

static int
method_reload (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  CfBus *self = userdata;

  if (self->reloader == NULL)
    return sd_bus_error_set (error, SD_BUS_ERROR_NOT_SUPPORTED, _("Reload is not available"));
  return authorize_then (pending_new (self, message, NULL, NULL), CF_POLKIT_CONTROL,
                         reload_authorized);
}

static void
recycle_session_authorized (Pending *p)
{
  g_autoptr(GError) local_error = NULL;

  if (cf_state_lookup_session (p->self->state, p->session) == NULL)
    {
      g_autofree char *text = g_strdup_printf ("No session named '%s'", p->session);
      reply_error (p->message, CF_ERROR_NO_SUCH_SESSION, text);
    }
  else if (!cf_watcher_recycle (p->self->watcher, p->session, &local_error))
    reply_error (p->message, CF_ERROR_INVALID_ARGUMENT, local_error->message);
  else
    (void) sd_bus_reply_method_return (p->message, "");
  pending_free (p);
}

static int
method_recycle_session (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  CfBus *self = userdata;
  const char *name;
  Pending *p;
  int r;

  r = sd_bus_message_read (message, "s", &name);
  if (r < 0)
    return r;
  if (cf_state_lookup_session (self->state, name) == NULL)
    {
      g_autofree char *shown = cf_text_for_message (name);
      return sd_bus_error_setf (error, CF_ERROR_NO_SUCH_SESSION, _("No session named '%s'"), shown);
    }
  p = pending_new (self, message, NULL, NULL);
  p->session = g_strdup (name);
  return authorize_then (p, CF_POLKIT_CONTROL, recycle_session_authorized);
}

static void
report_hook_event_authorized (Pending *p)
{
  g_autoptr(GError) local_error = NULL;
  const char *event, *pane, *payload;
  int r;

  r = sd_bus_message_rewind (p->message, TRUE);
  if (r >= 0)
    r = sd_bus_message_read (p->message, "sss", &event, &pane, &payload);
  if (r < 0)
    reply_error (p->message, SD_BUS_ERROR_INVALID_ARGS, g_strerror (-r));
  else if (!cf_hook_router_report (p->self->hooks, event, pane, payload, &local_error))
    reply_error (p->message, CF_ERROR_INVALID_ARGUMENT, local_error->message);
  else
    (void) sd_bus_reply_method_return (p->message, "");
  pending_free (p);
}

/* ---- accounts ------------------------------------------------------------ */

static int
switcher_error (GError *error, sd_bus_error *bus_error)
{
  const char *name = CF_ERROR_INVALID_ARGUMENT;

  if (g_error_matches (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_NO_SUCH_ACCOUNT))
    name = CF_ERROR_NO_SUCH_ACCOUNT;
  else if (g_error_matches (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_IN_PROGRESS))
    name = CF_ERROR_SWAP_IN_PROGRESS;
  else if (g_error_matches (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_PARTIAL_SWAP))
    name = CF_ERROR_PARTIAL_SWAP;
  else if (g_error_matches (error, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_UNUSABLE))
    name = CF_ERROR_ACCOUNT_UNUSABLE;
  return sd_bus_error_set (bus_error, name, error->message);
}

static void
reply_switcher_result (Pending *p, gboolean ok, GError *error)
{
  sd_bus_error bus_error = SD_BUS_ERROR_NULL;

  if (ok)
    (void) sd_bus_reply_method_return (p->message, "");
  else
    {
      switcher_error (error, &bus_error);
      (void) sd_bus_reply_method_error (p->message, &bus_error);
      sd_bus_error_free (&bus_error);
    }
  pending_free (p);
}

static void
enable_account_authorized (Pending *p)
{
  g_autoptr(GError) local_error = NULL;
  gboolean ok;

  ok = cf_switcher_enable_account (p->self->switcher, p->account, &local_error);
  reply_switcher_result (p, ok, local_error);
}

/* EnableAccount and SwitchAccount: one account name ("" only where
 * EMPTY_OK: the next available one), checked, then authorised. */
static int
account_method (sd_bus_message *message, CfBus *self, gboolean empty_ok,
                AuthorizedFunc authorized, sd_bus_error *error)
{
  const char *account;
  Pending *p;
  int r;

  r = sd_bus_message_read (message, "s", &account);
  if (r < 0)
    return r;
  if ((!empty_ok || account[0] != '\0') && cf_config_find_account (self->config, account) == NULL)
    {
      g_autofree char *shown = cf_text_for_message (account);
      return sd_bus_error_setf (error, CF_ERROR_NO_SUCH_ACCOUNT, _("No account named '%s'"), shown);
    }
  if (self->switcher == NULL)
    return sd_bus_error_set (error, SD_BUS_ERROR_NOT_SUPPORTED, _("No account switcher"));
  p = pending_new (self, message, NULL, NULL);
  p->account = g_strdup (account);
  return authorize_then (p, CF_POLKIT_SWITCH_ACCOUNT, authorized);
}

static int
method_enable_account (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  return account_method (message, userdata, FALSE, enable_account_authorized, error);
}

static void
switch_account_authorized (Pending *p)
{
  g_autoptr(GError) local_error = NULL;
  gboolean ok;

  /* Answers once the switch has started; its end is SwapFinished. */
  ok = cf_switcher_switch (p->self->switcher, p->account, &local_error);
  reply_switcher_result (p, ok, local_error);
}

static int
method_switch_account (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  return account_method (message, userdata, TRUE, switch_account_authorized, error);
}

static void
on_partial_cleared (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) local_error = NULL;
  gboolean ok = cf_switcher_clear_partial_finish (CF_SWITCHER (source), result, &local_error);

  reply_switcher_result (user_data, ok, local_error);
}

static void
clear_partial_swap_authorized (Pending *p)
{
  cf_switcher_clear_partial_async (p->self->switcher, on_partial_cleared, p);
}

static int
method_clear_partial_swap (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  CfBus *self = userdata;

  if (self->switcher == NULL)
    return sd_bus_error_set (error, SD_BUS_ERROR_NOT_SUPPORTED, _("No account switcher"));
  return authorize_then (pending_new (self, message, NULL, NULL), CF_POLKIT_SWITCH_ACCOUNT,
                         clear_partial_swap_authorized);
}

static int
method_report_hook_event (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  const char *event, *pane, *payload;
  int r;

  r = sd_bus_message_read (message, "sss", &event, &pane, &payload);
  if (r < 0)
    return r;
  /* Hooks run as the daemon's user: nobody else may forge completions,
   * and polkit has no say in it. */
  return authorize_then (pending_new (userdata, message, NULL, NULL), NULL,
                         report_hook_event_authorized);
}

/* Every method is SD_BUS_VTABLE_UNPRIVILEGED: sd-bus would otherwise refuse
 * any caller without CAP_SYS_ADMIN. Reads are open; the mutating methods
 * authorise their caller themselves (authorize_then). */
const sd_bus_vtable manager_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_PROPERTY ("Version", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("ActiveAccount", "s", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Accounts", "a(ssbt)", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("SwapState", "s", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("PartialSwap", "b", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("LastSwap", "(tss)", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ReturnAt", "t", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("DispatchPaused", "b", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Sessions", "a(sssssst)", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("PendingTasks", "u", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("TasksDispatched", "t", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("TasksCompleted", "t", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("TasksFailed", "t", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("TasksDelegated", "t", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Usage", "a(sdtdtst)", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ClaudeVersion", "s", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("DispatchPausedReason", "s", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("DispatchResumesAt", "t", property_get, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_METHOD_WITH_ARGS ("GetStatus",
                           SD_BUS_NO_ARGS,
                           SD_BUS_RESULT ("a{sv}", status),
                           method_get_status, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("ListTasks",
                           SD_BUS_NO_ARGS,
                           SD_BUS_RESULT ("a(ssssst)", tasks),
                           method_list_tasks, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("SubmitTask",
                           SD_BUS_ARGS ("s", project, "s", title, "s", body, "a{sv}", options),
                           SD_BUS_RESULT ("s", task_id),
                           method_submit_task, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("RequeueTask",
                           SD_BUS_ARGS ("s", project, "s", task_id),
                           SD_BUS_NO_RESULT,
                           method_requeue_or_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("CancelTask",
                           SD_BUS_ARGS ("s", project, "s", task_id),
                           SD_BUS_NO_RESULT,
                           method_requeue_or_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("SwitchAccount",
                           SD_BUS_ARGS ("s", account),
                           SD_BUS_NO_RESULT,
                           method_switch_account, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("EnableAccount",
                           SD_BUS_ARGS ("s", account),
                           SD_BUS_NO_RESULT,
                           method_enable_account, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD ("ClearPartialSwap", "", "", method_clear_partial_swap, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD ("PauseDispatch", "", "", method_pause_resume, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD ("ResumeDispatch", "", "", method_pause_resume, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD ("Reload", "", "", method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("RecycleSession",
                           SD_BUS_ARGS ("s", name),
                           SD_BUS_NO_RESULT,
                           method_recycle_session, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("ReportHookEvent",
                           SD_BUS_ARGS ("s", event, "s", tmux_pane, "s", payload_json),
                           SD_BUS_NO_RESULT,
                           method_report_hook_event, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_SIGNAL_WITH_ARGS ("SessionChanged",
                           SD_BUS_ARGS ("s", name, "s", state, "s", project, "s", task),
                           0),
  SD_BUS_SIGNAL_WITH_ARGS ("TaskDispatched",
                           SD_BUS_ARGS ("s", project, "s", task_id, "s", session, "s", model,
                                        "s", account),
                           0),
  SD_BUS_SIGNAL_WITH_ARGS ("TaskFinished",
                           SD_BUS_ARGS ("s", project, "s", task_id, "s", session, "s", outcome),
                           0),
  SD_BUS_SIGNAL_WITH_ARGS ("QuotaExhausted",
                           SD_BUS_ARGS ("s", account, "as", sessions, "t", reset_at, "s", evidence),
                           0),
  SD_BUS_SIGNAL_WITH_ARGS ("SwapStarted",
                           SD_BUS_ARGS ("s", from, "s", to, "s", reason),
                           0),
  SD_BUS_SIGNAL_WITH_ARGS ("SwapFinished",
                           SD_BUS_ARGS ("s", from, "s", to, "b", success, "s", message),
                           0),
  SD_BUS_SIGNAL_WITH_ARGS ("SessionNeedsInput",
                           SD_BUS_ARGS ("s", name, "s", project, "s", task, "s", what),
                           0),
  SD_BUS_VTABLE_END,
};
