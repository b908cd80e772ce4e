/* SPDX-License-Identifier: MIT */
#include "cf-bus.h"

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

struct _CfBus {
  GObject parent_instance;

  CfState *state;
  CfConfig *config;
  CfInbox *inbox;
  CfHooks *hooks;
  CfWatcher *watcher;
  CfSwitcher *switcher;
  CfQuota *quota;
  CfBusReloadFunc reload_func;
  CfBusReloadFinishFunc reload_finish;
  gpointer reload_data;
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
  gulong changed_handler;
  gulong session_handler;
  gulong dispatched_handler;
  gulong finished_handler;
  gulong failover_handlers[4];
  gulong needs_input_handler;  /* the watcher's "needs-input" */
};

enum {
  SIGNAL_NAME_ACQUIRED,
  SIGNAL_NAME_LOST,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfBus, cf_bus, G_TYPE_OBJECT)

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
    cf_state_task_finished (p->self->state, p->project, p->task_id, "", "cancelled");
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

  if (cf_state_get_operator_paused (p->self->state) != pause)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "MESSAGE", pause ? "Dispatch paused over D-Bus" : "Dispatch resumed over D-Bus");
  cf_state_set_dispatch_paused (p->self->state, pause);
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

  if (p->self->reload_finish (p->self->reload_data, result, &local_error))
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
  p->self->reload_func (p->self->reload_data, on_reloaded, p);
}

static int
method_reload (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  CfBus *self = userdata;

  if (self->reload_func == NULL)
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
  else if (!cf_hooks_report (p->self->hooks, event, pane, payload, &local_error))
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

static int
method_enable_account (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  CfBus *self = userdata;
  const char *account;
  Pending *p;
  int r;

  r = sd_bus_message_read (message, "s", &account);
  if (r < 0)
    return r;
  if (cf_config_find_account (self->config, account) == NULL)
    {
      g_autofree char *shown = cf_text_for_message (account);
      return sd_bus_error_setf (error, CF_ERROR_NO_SUCH_ACCOUNT, _("No account named '%s'"), shown);
    }
  if (self->switcher == NULL)
    return sd_bus_error_set (error, SD_BUS_ERROR_NOT_SUPPORTED, _("No account switcher"));
  p = pending_new (self, message, NULL, NULL);
  p->account = g_strdup (account);
  return authorize_then (p, CF_POLKIT_SWITCH_ACCOUNT, enable_account_authorized);
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
  CfBus *self = userdata;
  const char *account;
  Pending *p;
  int r;

  r = sd_bus_message_read (message, "s", &account);
  if (r < 0)
    return r;
  if (account[0] != '\0' && cf_config_find_account (self->config, account) == NULL)
    {
      g_autofree char *shown = cf_text_for_message (account);
      return sd_bus_error_setf (error, CF_ERROR_NO_SUCH_ACCOUNT, _("No account named '%s'"), shown);
    }
  if (self->switcher == NULL)
    return sd_bus_error_set (error, SD_BUS_ERROR_NOT_SUPPORTED, _("No account switcher"));
  p = pending_new (self, message, NULL, NULL);
  p->account = g_strdup (account);
  return authorize_then (p, CF_POLKIT_SWITCH_ACCOUNT, switch_account_authorized);
}

static void
clear_partial_swap_authorized (Pending *p)
{
  g_autoptr(GError) local_error = NULL;
  gboolean ok;

  ok = cf_switcher_clear_partial (p->self->switcher, &local_error);
  reply_switcher_result (p, ok, local_error);
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
static const sd_bus_vtable manager_vtable[] = {
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

/* ---- change propagation ------------------------------------------------- */

static gboolean
flush_changes (gpointer user_data)
{
  CfBus *self = user_data;
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  guint n_properties;
  const CfStatusProperty *properties = cf_status_properties (&n_properties);
  int r;

  self->flush_id = 0;
  for (guint i = 0; i < n_properties; i++)
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
  g_clear_pointer (&self->status, g_variant_unref);
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

static void
on_task_dispatched (CfState *state, const char *project, const char *task, const char *session,
                    const char *model, const char *account, CfBus *self)
{
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_emit_signal (self->bus, CF_OBJECT_PATH, CF_INTERFACE, "TaskDispatched", "sssss",
                          project, task, session, model, account);
  if (r < 0)
    g_warning ("Cannot emit TaskDispatched: %s", g_strerror (-r));
}

static void
on_task_finished (CfState *state, const char *project, const char *task, const char *session,
                  const char *outcome, CfBus *self)
{
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_emit_signal (self->bus, CF_OBJECT_PATH, CF_INTERFACE, "TaskFinished", "ssss",
                          project, task, session, outcome);
  if (r < 0)
    g_warning ("Cannot emit TaskFinished: %s", g_strerror (-r));
}

static void
on_needs_input (CfWatcher *watcher, const char *name, const char *project, const char *task,
                const char *what, CfBus *self)
{
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_emit_signal (self->bus, CF_OBJECT_PATH, CF_INTERFACE, "SessionNeedsInput", "ssss",
                          name, project, task, what);
  if (r < 0)
    g_warning ("Cannot emit SessionNeedsInput: %s", g_strerror (-r));
}

static void
on_quota_exhausted (CfQuota *quota, const char *account, GStrv sessions, gint64 reset_at,
                    const char *evidence, CfBus *self)
{
  g_autoptr(sd_bus_message) signal = NULL;
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_message_new_signal (self->bus, &signal, CF_OBJECT_PATH, CF_INTERFACE, "QuotaExhausted");
  if (r >= 0)
    r = sd_bus_message_append (signal, "s", account);
  if (r >= 0)
    r = sd_bus_message_append_strv (signal, sessions);
  if (r >= 0)
    r = sd_bus_message_append (signal, "ts", (uint64_t) MAX (reset_at, 0), evidence);
  if (r >= 0)
    r = sd_bus_send (self->bus, signal, NULL);
  if (r < 0)
    g_warning ("Cannot emit QuotaExhausted: %s", g_strerror (-r));
}

static void
on_swap_started (CfSwitcher *switcher, const char *from, const char *to, const char *reason,
                 CfBus *self)
{
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_emit_signal (self->bus, CF_OBJECT_PATH, CF_INTERFACE, "SwapStarted", "sss",
                          from, to, reason);
  if (r < 0)
    g_warning ("Cannot emit SwapStarted: %s", g_strerror (-r));
}

static void
on_swap_finished (CfSwitcher *switcher, const char *from, const char *to, gboolean success,
                  const char *message, CfBus *self)
{
  int r;

  if (self->bus == NULL || !self->name_acquired)
    return;
  r = sd_bus_emit_signal (self->bus, CF_OBJECT_PATH, CF_INTERFACE, "SwapFinished", "ssbs",
                          from, to, (int) success, message);
  if (r < 0)
    g_warning ("Cannot emit SwapFinished: %s", g_strerror (-r));
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
      g_clear_signal_handler (&self->dispatched_handler, self->state);
      g_clear_signal_handler (&self->finished_handler, self->state);
    }
  g_clear_object (&self->inbox);
  g_clear_object (&self->hooks);
  if (self->watcher != NULL)
    g_clear_signal_handler (&self->needs_input_handler, self->watcher);
  g_clear_object (&self->watcher);
  if (self->quota != NULL)
    g_clear_signal_handler (&self->failover_handlers[0], self->quota);
  if (self->switcher != NULL)
    {
      g_clear_signal_handler (&self->failover_handlers[1], self->switcher);
      g_clear_signal_handler (&self->failover_handlers[2], self->switcher);
    }
  g_clear_object (&self->quota);
  g_clear_object (&self->switcher);
  g_clear_object (&self->state);
  g_clear_pointer (&self->config, cf_config_unref);
  g_clear_pointer (&self->status, g_variant_unref);
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
  self->dispatched_handler = g_signal_connect (state, "task-dispatched",
                                               G_CALLBACK (on_task_dispatched), self);
  self->finished_handler = g_signal_connect (state, "task-finished",
                                             G_CALLBACK (on_task_finished), self);
  return self;
}

void
cf_bus_set_reload_func (CfBus *self, CfBusReloadFunc func, CfBusReloadFinishFunc finish,
                        gpointer user_data)
{
  self->reload_func = func;
  self->reload_finish = finish;
  self->reload_data = user_data;
}

void
cf_bus_set_components (CfBus *self, CfInbox *inbox, CfHooks *hooks, CfWatcher *watcher)
{
  g_set_object (&self->inbox, inbox);
  g_set_object (&self->hooks, hooks);
  if (self->watcher != NULL)
    g_clear_signal_handler (&self->needs_input_handler, self->watcher);
  g_set_object (&self->watcher, watcher);
  if (watcher != NULL)
    self->needs_input_handler = g_signal_connect (watcher, "needs-input",
                                                  G_CALLBACK (on_needs_input), self);
}

void
cf_bus_set_failover (CfBus *self, CfSwitcher *switcher, CfQuota *quota)
{
  g_return_if_fail (self->switcher == NULL && self->quota == NULL);
  self->switcher = g_object_ref (switcher);
  self->quota = g_object_ref (quota);
  self->failover_handlers[0] = g_signal_connect (quota, "exhausted",
                                                 G_CALLBACK (on_quota_exhausted), self);
  self->failover_handlers[1] = g_signal_connect (switcher, "swap-started",
                                                 G_CALLBACK (on_swap_started), self);
  self->failover_handlers[2] = g_signal_connect (switcher, "swap-finished",
                                                 G_CALLBACK (on_swap_finished), self);
}
