/* SPDX-License-Identifier: MIT */
#include "cf-daemon.h"
#include "cf-worktree.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <systemd/sd-daemon.h>

#include "cf-account-prep.h"
#include "cf-build-config.h"
#include "cf-bus.h"
#include "cf-claude-probe.h"
#include "cf-claude-version.h"
#include "cf-delegation.h"
#include "cf-dispatcher.h"
#include "cf-event-source.h"
#include "cf-health.h"
#include "cf-hook-router.h"
#include "cf-http.h"
#include "cf-inbox.h"
#include "cf-janitor.h"
#include "cf-lifecycle.h"
#include "cf-alerts.h"
#include "cf-quota.h"
#include "cf-reloader.h"
#include "cf-switcher.h"
#include "cf-usage-switch.h"
#include "cf-usage-tracker.h"
#include "cf-watcher.h"
#include "cf-state.h"
#include "cf-state-store.h"
#include "cf-task-events.h"
#include "cf-tmux.h"

#define CF_TMUX_CONTROL_SESSION "claude-failover-control"
#define CF_STATE_DEBOUNCE_MS 200
#define CF_STATE_PERIOD_MS 10000
/* How long /health must stay degraded before a notification says so. */
#define CF_HEALTH_GRACE_MS 30000
/* `claude --version` answers in well under a second. */
#define CF_CLAUDE_VERSION_TIMEOUT_MS 10000

struct _CfDaemon {
  GObject parent_instance;

  gboolean shutting_down;

  CfConfig *config;
  char *config_path;
  sd_event *event;
  GSource *event_source;
  CfState *state;
  CfTaskEvents *task_events;   /* dispatched/finished, counted in the state's registry */
  CfStateStore *store;
  CfTmux *tmux;
  CfLifecycle *lifecycle;
  CfHookRouter *hooks;
  CfInbox *inbox;
  CfDispatcher *dispatcher;
  CfWatcher *watcher;
  CfJanitor *janitor;
  CfQuota *quota;
  CfUsageTracker *usage_tracker;
  CfUsageSwitch *usage_switch;
  CfSwitcher *switcher;
  CfDelegation *delegation;
  CfBus *bus;
  CfHealth *health;
  CfNotify *notify;
  CfHttp *http;
  CfAccountPrep *account_prep;
  GCancellable *cancellable;   /* the start-up and Reload jobs; cancelled at shutdown */
  gboolean ready;
};

enum {
  SIGNAL_QUIT,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

static void cf_daemon_reloader_init (CfReloaderInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CfDaemon, cf_daemon, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CF_TYPE_RELOADER, cf_daemon_reloader_init))

static void
update_status (CfDaemon *self)
{
  g_autoptr(GPtrArray) sessions = NULL;
  guint alive = 0;

  if (!self->ready)
    return;
  sessions = cf_state_list_sessions (self->state);
  for (guint i = 0; i < sessions->len; i++)
    if (((CfSession *) g_ptr_array_index (sessions, i))->state != CF_SESSION_DEAD)
      alive++;
  sd_notifyf (0, "STATUS=%u of %u sessions alive, account %s%s", alive, sessions->len,
              cf_state_get_active_account (self->state),
              cf_tmux_is_connected (self->tmux) ? "" : ", tmux disconnected");
}

static void
on_state_changed (CfState *state, guint what, CfDaemon *self)
{
  if (what & (CF_STATE_CHANGE_SESSIONS | CF_STATE_CHANGE_ACTIVE_ACCOUNT))
    update_status (self);
}

static void
on_name_acquired (CfBus *bus, CfDaemon *self)
{
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "CF_ACCOUNT", cf_state_get_active_account (self->state),
                    "MESSAGE", "Ready: own the bus name, active account %s",
                    cf_state_get_active_account (self->state));
  self->ready = TRUE;
  cf_health_set_bus_name_owned (self->health, TRUE);
  sd_notify (0, "READY=1");
  update_status (self);
}

static void
on_name_lost (CfBus *bus, const char *reason, CfDaemon *self)
{
  /* Without the name nobody can reach us. Exit non-zero after the usual
   * clean shutdown, so Restart=on-failure brings us back once the bus is. */
  cf_health_set_bus_name_owned (self->health, FALSE);
  g_signal_emit (self, signals[SIGNAL_QUIT], 0, 1, reason);
}

static void
on_tmux_connection (CfTmux *tmux, CfDaemon *self)
{
  g_log_structured (G_LOG_DOMAIN, cf_tmux_is_connected (tmux) ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_WARNING,
                    "MESSAGE", cf_tmux_is_connected (tmux) ? "tmux control connection up"
                                                           : "tmux control connection lost; reconnecting");
  cf_health_set_tmux_connected (self->health, cf_tmux_is_connected (tmux));
  update_status (self);
}

static void
on_quota_exhausted (CfQuota *quota, const char *account, GStrv sessions, gint64 reset_at,
                    const char *evidence, CfDaemon *self)
{
  cf_switcher_account_exhausted (self->switcher, account, reset_at, evidence);
}

static void
on_account_unusable (CfQuota *quota, const char *account, const char *problem, CfDaemon *self)
{
  CfAccountState *state = cf_state_lookup_account (self->state, account);
  gboolean known = state != NULL && g_strcmp0 (state->problem, problem) == 0;
  g_autofree char *body = NULL;

  cf_switcher_account_unusable (self->switcher, account, problem);
  if (known)
    return;                    /* notified when it was first seen */
  body = g_strdup_printf (_("Account %s cannot be used (%s): no usage reset will cure this. "
                            "The daemon switched away from it and will not use it again. "
                            "Log in again or settle the account (claude /login with "
                            "CLAUDE_CONFIG_DIR set to its home), then run "
                            "'claude-failoverctl accounts enable %s'."),
                          account, problem, account);
  cf_notify_event (self->notify, CF_NOTIFY_ACCOUNT_UNUSABLE, _("A Claude account is unusable"),
                   body);
}

static void
on_needs_input (CfWatcher *watcher, const char *name, const char *project, const char *task,
                const char *what, CfDaemon *self)
{
  g_autofree char *body = NULL;
  g_autofree char *timeout = g_strdup_printf ("%" G_GINT64_FORMAT " s",
                                              self->config->needs_input_timeout_usec / G_USEC_PER_SEC);

  if (task[0] != '\0')
    body = g_strdup_printf (_("Session %s (project %s, task %s) waits for a person: %s. Answer "
                              "it in its tmux session (tmux attach -t =%s); otherwise the task "
                              "goes back to the queue after %s."),
                            name, project, task, what, name, timeout);
  else
    body = g_strdup_printf (_("Session %s waits for a person: %s."), name, what);
  cf_notify_event (self->notify, CF_NOTIFY_NEEDS_INPUT, _("A Claude session needs input"), body);
}

/* Issue 18, break 3: a finished task whose move out of active/ fails is
 * kept there and never run again; the operator is told once per episode,
 * and told again when it is over. */
static void
on_task_stuck (CfWatcher *watcher, const char *session, const char *project, const char *task,
               const char *outcome, const char *error, CfDaemon *self)
{
  const char *const fields[] = { "project", project, "task", task, "session", session,
                                 "outcome", outcome, "error", error, NULL };
  g_autofree char *body =
    g_strdup_printf (_("Task %s (project %s) finished (%s) but cannot leave active/: %s. "
                       "It stays in active/ with its verdict and is never run again; the "
                       "daemon retries the move, and the task leaves active/ by itself once "
                       "the disk takes the write. Free disk space (and file descriptors) on "
                       "this machine."),
                     task, project, outcome, error);

  cf_health_set_finished_tasks_stuck (self->health, cf_watcher_count_stuck (watcher));
  cf_notify_event_full (self->notify, CF_NOTIFY_TASK_STUCK,
                        _("A finished task cannot leave active/"), body, fields);
}

static void
on_task_unstuck (CfWatcher *watcher, const char *session, const char *project, const char *task,
                 const char *outcome, guint retries, CfDaemon *self)
{
  const char *const fields[] = { "project", project, "task", task, "session", session,
                                 "outcome", outcome, NULL };
  g_autofree char *body =
    g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                  "Task %s (project %s, %s) has left active/ after %u retry: "
                                  "nothing more to do.",
                                  "Task %s (project %s, %s) has left active/ after %u retries: "
                                  "nothing more to do.", retries),
                     task, project, outcome, retries);

  cf_health_set_finished_tasks_stuck (self->health, cf_watcher_count_stuck (watcher));
  cf_notify_event_full (self->notify, CF_NOTIFY_TASK_UNSTUCK, _("A finished task left active/"),
                        body, fields);
}

static void
on_degraded (CfHealth *health, guint reasons, CfDaemon *self)
{
  g_autofree char *body = cf_health_describe (reasons);

  cf_notify_event (self->notify, CF_NOTIFY_DAEMON_DEGRADED, _("claude-failover is degraded"),
                   body);
}

/* Test hooks: short notification timeouts and grace periods, so that a
 * test does not wait for the production values. */
static guint
test_override_ms (const char *name, guint value)
{
  const char *text = g_getenv (name);
  guint64 number;

  if (text != NULL && g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT32, &number, NULL))
    return (guint) number;
  return value;
}

static CfNotify *
notify_new (CfDaemon *self)
{
  CfNotifyOptions options;

  cf_notify_options_init (&options);
  options.timeout_ms = test_override_ms ("CF_TEST_NOTIFY_TIMEOUT_MS", options.timeout_ms);
  options.backoff_ms = test_override_ms ("CF_TEST_NOTIFY_BACKOFF_MS", options.backoff_ms);
  return cf_notify_new (self->config, self->state, self->task_events, &options);
}

static gboolean
ensure_private_dir (const char *path, GError **error)
{
  GStatBuf st;

  if (g_mkdir_with_parents (path, 0700) < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("cannot create %s: %s"), path, g_strerror (saved_errno));
      return FALSE;
    }
  if (g_lstat (path, &st) < 0 || !S_ISDIR (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, _("%s is not a directory"), path);
      return FALSE;
    }
  if (st.st_uid != getuid ())
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   _("%s belongs to another user (uid %u)"), path, (guint) st.st_uid);
      return FALSE;
    }
  if ((st.st_mode & 077) != 0 && g_chmod (path, 0700) < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("cannot make %s private: %s"), path, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

static void
sync_accounts (CfDaemon *self)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();

  for (guint i = 0; i < self->config->accounts->len; i++)
    g_ptr_array_add (names, ((CfAccountConfig *) g_ptr_array_index (self->config->accounts, i))->name);
  g_ptr_array_add (names, NULL);
  cf_state_sync_accounts (self->state, (const char *const *) names->pdata);
}

static void
on_accounts_prepared (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GPtrArray) reports = cf_account_prep_all_finish (CF_ACCOUNT_PREP (source), result);

  /* Each line names the account, its home and what changed: no secret. */
  for (guint i = 0; reports != NULL && i < reports->len; i++)
    {
      CfAccountPrepReport *report = g_ptr_array_index (reports, i);

      g_log_structured (G_LOG_DOMAIN, report->ok ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING,
                        "CF_ACCOUNT", report->account,
                        "MESSAGE", "Account preparation: %s", report->line);
    }
}

static void
on_claude_version (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *version = cf_claude_probe_version_finish (result, &error);
  CfDaemon *self = user_data;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (version == NULL)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "MESSAGE", "Claude Code version unknown: %s", error->message);
      cf_state_set_daemon_facts (self->state, cf_state_get_daemon_facts (self->state).pending_tasks,
                                 "");
      return;
    }
  cf_state_set_daemon_facts (self->state, cf_state_get_daemon_facts (self->state).pending_tasks,
                             version);
  if (cf_claude_version_compare (version, CF_CLAUDE_TESTED_VERSION) > 0)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "CF_CLAUDE_VERSION", version,
                      "MESSAGE", "Claude Code %s (%s) is newer than %s, the version this "
                      "claude-failoverd was tested with: its screens, hooks or first-run "
                      "dialogs may have changed (see docs/compatibility.md)",
                      version, self->config->claude_command, CF_CLAUDE_TESTED_VERSION);
  else
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "CF_CLAUDE_VERSION", version,
                      "MESSAGE", "Claude Code %s (%s)", version, self->config->claude_command);
}

/* At start-up and on Reload: the account homes made launchable, and the
 * version of the Claude the sessions run; both off the main loop. */
static void
check_claude (CfDaemon *self)
{
  cf_account_prep_all_async (self->account_prep, self->cancellable, on_accounts_prepared, self);
  cf_claude_probe_version_async (self->config->claude_command, CF_CLAUDE_VERSION_TIMEOUT_MS,
                                 self->cancellable, on_claude_version, self);
}

CfAccountPrep *
cf_daemon_get_account_prep (CfDaemon *self)
{
  return self->account_prep;
}


static void
on_resume_failed (CfDispatcher *dispatcher, const char *session, const char *project,
                  const char *task, const char *account, const char *why, CfDaemon *self)
{
  g_autofree char *body =
    g_strdup_printf (_("Session %s could not resume the conversation of task %s (%s) on "
                       "account %s: %s. The task started over in a new conversation. Check "
                       "that the account's projects directory links to the shared one "
                       "(claude-failoverctl doctor)."),
                     session, task, project, account, why);

  cf_notify_event (self->notify, CF_NOTIFY_RESUME_FAILED, _("A conversation could not be resumed"),
                   body);
}

static void
reload_async (CfReloader *reloader, GAsyncReadyCallback callback, gpointer user_data)
{
  cf_daemon_reload_async (CF_DAEMON (reloader), callback, user_data);
}

static gboolean
reload_finish (CfReloader *reloader, GAsyncResult *result, GError **error)
{
  return cf_daemon_reload_finish (CF_DAEMON (reloader), result, error);
}

static void
cf_daemon_reloader_init (CfReloaderInterface *iface)
{
  iface->reload_async = reload_async;
  iface->reload_finish = reload_finish;
}

gboolean
cf_daemon_start (CfDaemon *self, GError **error)
{
  g_autofree char *quarantined = NULL;
  int r;

  if (!ensure_private_dir (self->config->runtime_dir, error))
    return FALSE;
  if (g_strcmp0 (self->config->done_signal_dir, self->config->runtime_dir) != 0 &&
      !ensure_private_dir (self->config->done_signal_dir, error))
    return FALSE;

  self->state = cf_state_new ();
  self->task_events = cf_task_events_new (cf_state_get_counters (self->state));
  self->store = cf_state_store_new (self->state, self->config->state_file);
  if (!cf_state_store_load (self->store, &quarantined, error))
    return FALSE;
  if (quarantined != NULL)
    g_printerr (_("claude-failoverd: state file %s was corrupt; moved to %s, starting clean\n"),
                self->config->state_file, quarantined);
  sync_accounts (self);
  g_signal_connect_object (self->state, "changed", G_CALLBACK (on_state_changed), self, 0);
  self->cancellable = g_cancellable_new ();
  self->account_prep = cf_account_prep_new (self->config, cf_account_prep_default_ctl_program ());
  self->health = cf_health_new (self->state, self->store,
                                test_override_ms ("CF_TEST_HEALTH_GRACE_MS", CF_HEALTH_GRACE_MS));
  self->notify = notify_new (self);
  g_signal_connect_object (self->health, "degraded", G_CALLBACK (on_degraded), self, 0);
  /* Before anything is spawned: the systemd sockets must not leak into tmux. */
  self->http = cf_http_new (self->config, self->state, self->task_events, self->health);
  if (!cf_http_start (self->http, error))
    return FALSE;

  r = sd_event_new (&self->event);
  if (r < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
                   "cannot create the event loop: %s", g_strerror (-r));
      return FALSE;
    }
  /* Answers WATCHDOG_USEC pings from the loop itself: a stuck loop gets killed. */
  (void) sd_event_set_watchdog (self->event, TRUE);
  self->event_source = cf_event_source_new (self->event);
  g_source_attach (self->event_source, NULL);

  self->tmux = cf_tmux_new (self->config->tmux_socket, CF_TMUX_CONTROL_SESSION);
  cf_tmux_set_nice (self->tmux, self->config->tmux_nice);
  self->hooks = cf_hook_router_new (self->state, self->tmux);
  self->inbox = cf_inbox_new (self->config, self->state);
  self->watcher = cf_watcher_new (self->config, self->state, self->task_events, self->tmux,
                                  self->hooks);
  self->dispatcher = cf_dispatcher_new (self->config, self->state, self->task_events, self->tmux,
                                        self->inbox, self->hooks);
  self->janitor = cf_janitor_new (self->config, self->state, self->inbox);
  cf_worktree_set_keep_policy (self->config->projects_keep_worktrees);
  /* Remote-routed tasks are the delegation's: the dispatcher skips them. */
  self->delegation = cf_delegation_new (self->config, self->state, self->task_events, self->inbox);
  cf_dispatcher_set_task_filter (self->dispatcher, CF_TASK_FILTER (self->delegation));
  cf_http_set_delegation (self->http, CF_STATUS_REPORTER (self->delegation));
  self->quota = cf_quota_new (self->config, self->state, self->tmux, self->hooks);
  self->usage_tracker = cf_usage_tracker_new (self->config, self->state, self->hooks, self->quota);
  self->switcher = cf_switcher_new (self->config, self->state, self->store, self->tmux,
                                    self->watcher, self->dispatcher, self->quota);
  cf_notify_follow_switcher (self->notify, self->switcher);
  g_signal_connect_object (self->dispatcher, "resume-failed", G_CALLBACK (on_resume_failed), self,
                           0);
  cf_dispatcher_set_account_prep (self->dispatcher, self->account_prep);
  g_signal_connect_object (self->dispatcher, "prompt-ready", G_CALLBACK (cf_quota_note_history),
                           self->quota, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->dispatcher, "launch-limited",
                           G_CALLBACK (cf_quota_note_launch_limit), self->quota, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->dispatcher, "turn-started",
                           G_CALLBACK (cf_watcher_note_turn_started), self->watcher,
                           G_CONNECT_SWAPPED);
  cf_notify_follow_quota (self->notify, self->quota);
  cf_http_set_cockpit (self->http, self->inbox, self->switcher, self->quota);
  /* Refuses a broken account layout before anything runs; finishes or
   * rolls back a switch the last run left half done. */
  if (!cf_switcher_start (self->switcher, error))
    return FALSE;
  g_signal_connect_object (self->quota, "exhausted", G_CALLBACK (on_quota_exhausted), self, 0);
  g_signal_connect_object (self->quota, "account-unusable", G_CALLBACK (on_account_unusable), self,
                           0);
  g_signal_connect_object (self->watcher, "needs-input", G_CALLBACK (on_needs_input), self, 0);
  g_signal_connect_object (self->watcher, "task-stuck", G_CALLBACK (on_task_stuck), self, 0);
  g_signal_connect_object (self->watcher, "task-unstuck", G_CALLBACK (on_task_unstuck), self, 0);
  self->usage_switch = cf_usage_switch_new (self->config, self->state, self->switcher,
                                            self->hooks);

  self->bus = cf_bus_new (self->state, self->task_events, self->config);
  cf_bus_set_components (self->bus, self->inbox, self->hooks, self->watcher);
  cf_bus_set_failover (self->bus, self->switcher, self->quota);
  cf_bus_set_reloader (self->bus, CF_RELOADER (self));
  g_signal_connect_object (self->bus, "name-acquired", G_CALLBACK (on_name_acquired), self, 0);
  g_signal_connect_object (self->bus, "name-lost", G_CALLBACK (on_name_lost), self, 0);
  if (!cf_bus_start (self->bus, self->event, error))
    return FALSE;

  g_signal_connect_object (self->tmux, "connected", G_CALLBACK (on_tmux_connection), self, 0);
  g_signal_connect_object (self->tmux, "disconnected", G_CALLBACK (on_tmux_connection), self, 0);
  self->lifecycle = cf_lifecycle_new (self->config, self->state, self->tmux);
  /* tmux first: commands issued while it connects wait for the connection. */
  cf_tmux_start (self->tmux);
  cf_lifecycle_start (self->lifecycle);
  cf_watcher_start (self->watcher);
  cf_inbox_start (self->inbox);
  cf_delegation_start (self->delegation);
  cf_dispatcher_start (self->dispatcher);
  cf_janitor_start (self->janitor);
  cf_quota_start (self->quota);
  /* After cf_http_new: the systemd sockets must not leak into `claude --version`. */
  check_claude (self);

  cf_state_store_enable_autosave (self->store, CF_STATE_DEBOUNCE_MS, CF_STATE_PERIOD_MS);
  return TRUE;
}

/* Runs in a worker thread: the file may sit on a slow disk, and whatever
 * it is (a FIFO, a device) must not hold the main loop. */
static void
load_config_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GError *error = NULL;
  CfConfig *config = cf_config_load_file (data, g_get_home_dir (), &error);

  if (config != NULL)
    g_task_return_pointer (task, config, (GDestroyNotify) cf_config_unref);
  else
    g_task_return_error (task, error);
}

static void
apply_config (CfDaemon *self, CfConfig *config)
{
  for (guint i = 0; config->warnings != NULL && config->warnings[i] != NULL; i++)
    g_warning ("%s", config->warnings[i]);
  if (g_strcmp0 (config->tmux_socket, self->config->tmux_socket) != 0)
    g_warning ("tmux.socket changed in %s: takes effect at the next restart", self->config_path);
  if (g_strcmp0 (config->state_file, self->config->state_file) != 0)
    g_warning ("state_file changed in %s: takes effect at the next restart", self->config_path);

  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
  cf_tmux_set_nice (self->tmux, config->tmux_nice);
  sync_accounts (self);
  cf_bus_set_config (self->bus, config);
  cf_lifecycle_set_config (self->lifecycle, config);
  cf_inbox_set_config (self->inbox, config);
  cf_watcher_set_config (self->watcher, config);
  cf_dispatcher_set_config (self->dispatcher, config);
  cf_delegation_set_config (self->delegation, config);
  cf_janitor_set_config (self->janitor, config);
  cf_worktree_set_keep_policy (config->projects_keep_worktrees);
  cf_quota_set_config (self->quota, config);
  cf_usage_tracker_set_config (self->usage_tracker, config);
  cf_usage_switch_set_config (self->usage_switch, config);
  cf_switcher_set_config (self->switcher, config);
  cf_notify_set_config (self->notify, config);
  cf_http_set_config (self->http, config);
  cf_account_prep_set_config (self->account_prep, config);
  check_claude (self);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "MESSAGE", "Configuration reloaded from %s", self->config_path);
}

static void
on_config_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) reload = user_data;
  CfDaemon *self = g_task_get_source_object (reload);
  g_autoptr(CfConfig) config = NULL;
  GError *error = NULL;

  config = g_task_propagate_pointer (G_TASK (result), &error);
  /* A reload that ends after shutdown began has nothing left to apply to. */
  if (config != NULL && !self->shutting_down)
    apply_config (self, config);
  sd_notify (0, "READY=1");
  if (config == NULL)
    g_task_return_error (reload, error);
  else
    g_task_return_boolean (reload, TRUE);
}

void
cf_daemon_reload_async (CfDaemon *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *reload = g_task_new (self, NULL, callback, user_data);
  g_autoptr(GTask) load = g_task_new (self, NULL, on_config_loaded, reload);

  g_task_set_source_tag (reload, cf_daemon_reload_async);
  sd_notifyf (0, "RELOADING=1\nMONOTONIC_USEC=%" G_GUINT64_FORMAT,
              (guint64) g_get_monotonic_time ());
  g_task_set_task_data (load, g_strdup (self->config_path), g_free);
  g_task_run_in_thread (load, load_config_in_thread);
}

gboolean
cf_daemon_reload_finish (CfDaemon *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
cf_daemon_shutdown (CfDaemon *self)
{
  g_autoptr(GError) error = NULL;

  self->shutting_down = TRUE;
  sd_notify (0, "STOPPING=1");
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  if (self->dispatcher != NULL)
    cf_dispatcher_stop (self->dispatcher);
  if (self->delegation != NULL)
    cf_delegation_stop (self->delegation);
  if (self->janitor != NULL)
    cf_janitor_stop (self->janitor);
  if (self->quota != NULL)
    cf_quota_stop (self->quota);
  if (self->usage_switch != NULL)
    cf_usage_switch_stop (self->usage_switch);
  if (self->switcher != NULL)
    cf_switcher_stop (self->switcher);
  if (self->inbox != NULL)
    cf_inbox_stop (self->inbox);
  if (self->watcher != NULL)
    cf_watcher_stop (self->watcher);
  if (self->lifecycle != NULL)
    cf_lifecycle_stop (self->lifecycle);
  if (self->tmux != NULL)
    cf_tmux_stop (self->tmux);
  if (self->bus != NULL)
    cf_bus_stop (self->bus);
  if (self->http != NULL)
    cf_http_stop (self->http);
  if (self->notify != NULL)
    cf_notify_stop (self->notify);
  if (self->store != NULL && !cf_state_store_save_sync (self->store, &error))
    g_warning ("Cannot write the state file at exit: %s", error->message);
}

static void
cf_daemon_dispose (GObject *object)
{
  CfDaemon *self = CF_DAEMON (object);

  g_clear_object (&self->usage_switch);
  g_clear_object (&self->switcher);
  g_clear_object (&self->usage_tracker);
  g_clear_object (&self->quota);
  if (self->dispatcher != NULL)
    cf_dispatcher_set_task_filter (self->dispatcher, NULL);
  g_clear_object (&self->dispatcher);
  if (self->http != NULL)
    cf_http_set_delegation (self->http, NULL);
  g_clear_object (&self->delegation);
  g_clear_object (&self->janitor);
  g_clear_object (&self->watcher);
  g_clear_object (&self->inbox);
  g_clear_object (&self->hooks);
  g_clear_object (&self->lifecycle);
  g_clear_object (&self->tmux);
  g_clear_object (&self->bus);
  g_clear_object (&self->http);
  g_clear_object (&self->notify);
  g_clear_object (&self->health);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->account_prep);
  g_clear_object (&self->store);
  g_clear_object (&self->state);
  g_clear_object (&self->task_events);
  if (self->event_source != NULL)
    {
      g_source_destroy (self->event_source);
      g_clear_pointer (&self->event_source, g_source_unref);
    }
  self->event = sd_event_unref (self->event);
  G_OBJECT_CLASS (cf_daemon_parent_class)->dispose (object);
}

static void
cf_daemon_finalize (GObject *object)
{
  CfDaemon *self = CF_DAEMON (object);

  g_clear_pointer (&self->config, cf_config_unref);
  g_free (self->config_path);
  G_OBJECT_CLASS (cf_daemon_parent_class)->finalize (object);
}

static void
cf_daemon_class_init (CfDaemonClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cf_daemon_dispose;
  object_class->finalize = cf_daemon_finalize;
  signals[SIGNAL_QUIT] =
    g_signal_new ("quit", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
}

static void
cf_daemon_init (CfDaemon *self)
{
}

CfDaemon *
cf_daemon_new (CfConfig *config, const char *config_path)
{
  CfDaemon *self = g_object_new (CF_TYPE_DAEMON, NULL);

  self->config = cf_config_ref (config);
  self->config_path = g_strdup (config_path);
  return self;
}
