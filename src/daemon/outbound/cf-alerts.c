/* SPDX-License-Identifier: MIT */
/* The alerts (CfNotify): the kinds and the webhook event of each, the
 * events — coalesced, queued on every channel that takes their kind — the
 * components followed (state, switcher, quota), and the object with its
 * channels and webhooks set up from the configuration. A channel's delivery
 * is in cf-alerts-channel.c, the text a person reads in cf-alerts-text.c. */
#include "cf-alerts-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-build-config.h"
#include "cf-taskq.h"
#include "cf-text.h"

typedef struct {
  CfNotify *self;
  CfNotifyKind kind;
  char *title;
  char *body;
  GStrv fields;
  guint suppressed;
  guint timer_id;
} Recent;

G_DEFINE_FINAL_TYPE (CfNotify, cf_notify, G_TYPE_OBJECT)

static const char *const kind_names[] = {
  [CF_NOTIFY_SWAP_STARTED] = "swap-started",
  [CF_NOTIFY_SWAP_FINISHED] = "swap-finished",
  [CF_NOTIFY_SWAP_FAILED] = "swap-failed",
  [CF_NOTIFY_ALL_EXHAUSTED] = "all-exhausted",
  [CF_NOTIFY_PARTIAL_SWAP] = "partial-swap",
  [CF_NOTIFY_TASK_FAILED] = "task-failed",
  [CF_NOTIFY_DAEMON_DEGRADED] = "daemon-degraded",
  [CF_NOTIFY_RESUME_FAILED] = "resume-failed",
  [CF_NOTIFY_TASK_DONE] = "task-done",
  [CF_NOTIFY_LIMIT] = "limit",
  [CF_NOTIFY_USAGE_WARNING] = "usage-warning",
  [CF_NOTIFY_NEEDS_INPUT] = "needs-input",
  [CF_NOTIFY_ACCOUNT_UNUSABLE] = "account-unusable",
  [CF_NOTIFY_TASK_STUCK] = "task-stuck",
  [CF_NOTIFY_TASK_UNSTUCK] = "task-unstuck",
};
G_STATIC_ASSERT (G_N_ELEMENTS (kind_names) == CF_NOTIFY_KIND_COUNT);

const char *
cf_notify_kind_to_string (CfNotifyKind kind)
{
  g_return_val_if_fail ((guint) kind < CF_NOTIFY_KIND_COUNT, "unknown");
  return kind_names[kind];
}

CfWebhookEvent
cf_notify_kind_webhook_event (CfNotifyKind kind)
{
  switch (kind)
    {
    case CF_NOTIFY_SWAP_STARTED:
    case CF_NOTIFY_SWAP_FINISHED:
    case CF_NOTIFY_SWAP_FAILED:
    case CF_NOTIFY_PARTIAL_SWAP:
      return CF_WEBHOOK_EVENT_SWAP;
    case CF_NOTIFY_RESUME_FAILED:
      return CF_WEBHOOK_EVENT_SWAP;
    case CF_NOTIFY_ALL_EXHAUSTED:
    case CF_NOTIFY_LIMIT:
    case CF_NOTIFY_ACCOUNT_UNUSABLE:
      return CF_WEBHOOK_EVENT_LIMIT;
    case CF_NOTIFY_TASK_FAILED:
      return CF_WEBHOOK_EVENT_TASK_FAILED;
    case CF_NOTIFY_TASK_DONE:
      return CF_WEBHOOK_EVENT_TASK_DONE;
    case CF_NOTIFY_USAGE_WARNING:
      return CF_WEBHOOK_EVENT_USAGE_WARNING;
    case CF_NOTIFY_NEEDS_INPUT:
      return CF_WEBHOOK_EVENT_NEEDS_INPUT;
    case CF_NOTIFY_TASK_STUCK:
    case CF_NOTIFY_TASK_UNSTUCK:
      return CF_WEBHOOK_EVENT_TASK_STUCK;
    case CF_NOTIFY_DAEMON_DEGRADED:
    case CF_NOTIFY_KIND_COUNT:
    default:
      return 0;
    }
}

/* Telegram and e-mail: everything a person must act on or know; a task
 * done, a limit (the switch says it) and usage warnings are the webhooks'
 * (each with its own event filter). */
static gboolean
kind_for_classic_channels (CfNotifyKind kind)
{
  return kind != CF_NOTIFY_TASK_DONE && kind != CF_NOTIFY_LIMIT &&
         kind != CF_NOTIFY_USAGE_WARNING && kind < CF_NOTIFY_KIND_COUNT;
}

void
cf_notify_options_init (CfNotifyOptions *options)
{
  options->timeout_ms = 10000;
  options->backoff_ms = 1000;
  options->max_retries = 3;
  options->max_retry_after_ms = 300000;
  options->queue_limit = 32;
  options->coalesce_ms = 60000;
}

/* ---- events -------------------------------------------------------------- */

static void
queue_everywhere (CfNotify *self, CfNotifyKind kind, const char *title, const char *body,
                  const char *const *fields)
{
  CfWebhookEvent event = cf_notify_kind_webhook_event (kind);

  if (kind_for_classic_channels (kind))
    for (guint i = 0; i < N_CHANNELS; i++)
      if (self->channels[i].enabled)
        channel_enqueue (&self->channels[i], kind, title, body, fields);
  for (guint i = 0; i < self->webhooks->len; i++)
    {
      Channel *webhook = g_ptr_array_index (self->webhooks, i);

      if (webhook->events & event)
        channel_enqueue (webhook, kind, title, body, fields);
    }
}

/* Whether any channel would take KIND. */
static gboolean
anyone_listens (CfNotify *self, CfNotifyKind kind)
{
  CfWebhookEvent event = cf_notify_kind_webhook_event (kind);

  if (kind_for_classic_channels (kind) &&
      (self->channels[CHANNEL_TELEGRAM].enabled || self->channels[CHANNEL_EMAIL].enabled))
    return TRUE;
  for (guint i = 0; i < self->webhooks->len; i++)
    if (((Channel *) g_ptr_array_index (self->webhooks, i))->events & event)
      return TRUE;
  return FALSE;
}

static void
recent_free (Recent *recent)
{
  cf_clock_clear (recent->self->clock, &recent->timer_id);
  g_free (recent->title);
  g_free (recent->body);
  g_strfreev (recent->fields);
  g_free (recent);
}

static char *
recent_key (CfNotifyKind kind, const char *title, const char *body)
{
  return g_strdup_printf ("%d\x1f%s\x1f%s", (int) kind, title, body);
}

static gboolean
on_window_end (gpointer user_data)
{
  Recent *recent = user_data;
  CfNotify *self = recent->self;
  g_autofree char *key = NULL;
  g_autofree char *note = NULL;
  g_autofree char *body = NULL;
  guint seconds = (self->options.coalesce_ms + 999) / 1000;

  if (recent->suppressed == 0)
    {
      recent->timer_id = 0;
      key = recent_key (recent->kind, recent->title, recent->body);
      g_hash_table_remove (self->recent, key);
      return G_SOURCE_REMOVE;
    }
  note = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                       "Repeated %u more time in the last %u s.",
                                       "Repeated %u more times in the last %u s.",
                                       recent->suppressed),
                          recent->suppressed, seconds);
  body = *recent->body != '\0' ? g_strconcat (recent->body, "\n\n", note, NULL)
                               : g_steal_pointer (&note);
  recent->suppressed = 0;
  queue_everywhere (self, recent->kind, recent->title, body,
                    (const char *const *) recent->fields);
  /* A new window: a burst that goes on gives one summary per window. */
  return G_SOURCE_CONTINUE;
}

void
cf_notify_event (CfNotify *self, CfNotifyKind kind, const char *title, const char *body)
{
  cf_notify_event_full (self, kind, title, body, NULL);
}

void
cf_notify_event_full (CfNotify *self, CfNotifyKind kind, const char *title, const char *body,
                      const char *const *fields)
{
  g_autofree char *key = NULL;
  Recent *recent;

  g_return_if_fail (CF_IS_NOTIFY (self));
  g_return_if_fail ((guint) kind < CF_NOTIFY_KIND_COUNT);
  g_return_if_fail (title != NULL);

  if (body == NULL)
    body = "";
  if (self->stopped)
    return;
  if (!anyone_listens (self, kind))
    {
      g_debug ("Notification %s not sent: no channel is on", cf_notify_kind_to_string (kind));
      return;
    }
  key = recent_key (kind, title, body);
  recent = g_hash_table_lookup (self->recent, key);
  if (recent != NULL)
    {
      recent->suppressed++;
      cf_counters_count (cf_state_get_counters (self->state), CF_EVENT_NOTIFY_COALESCED);
      return;
    }
  recent = g_new0 (Recent, 1);
  recent->self = self;
  recent->kind = kind;
  recent->title = g_strdup (title);
  recent->body = g_strdup (body);
  recent->fields = g_strdupv ((char **) fields);
  recent->timer_id = cf_clock_timeout_add (self->clock, MAX (self->options.coalesce_ms, 1),
                                           on_window_end, recent);
  g_hash_table_insert (self->recent, g_steal_pointer (&key), recent);
  queue_everywhere (self, kind, title, body, fields);
}

static void
on_task_finished (CfTaskEvents *events, const char *project, const char *task, const char *session,
                  const char *outcome, CfNotify *self)
{
  g_autofree char *title = NULL;
  g_autofree char *place = NULL;
  g_autofree char *file = NULL;
  GString *body;
  const char *const fields[] = { "project", project, "task", task,
                                 "session", session != NULL ? session : "",
                                 "outcome", outcome, NULL };

  if (g_str_equal (outcome, "done") || g_str_equal (outcome, "delegated-done"))
    {
      g_autofree char *done_body = NULL;

      /* TRANSLATORS: notification title; %s is the task id. */
      title = g_strdup_printf (_("Task %s done"), task);
      if (session != NULL && *session != '\0')
        /* TRANSLATORS: a project directory, then a session name. */
        done_body = g_strdup_printf (_("Project: %s\nSession: %s"), project, session);
      else
        done_body = g_strdup_printf (_("Project: %s"), project);
      cf_notify_event_full (self, CF_NOTIFY_TASK_DONE, title, done_body, fields);
      return;
    }
  if (!g_str_equal (outcome, "failed") && !g_str_equal (outcome, "delegated-failed"))
    return;
  file = g_strconcat (task, ".md", NULL);
  place = g_build_filename (project, CF_TASKQ_QUEUE_DIR, "failed", file, NULL);
  /* TRANSLATORS: notification title; %s is the task id. */
  title = g_strdup_printf (_("Task %s failed"), task);
  body = g_string_new (NULL);
  g_string_append_printf (body, _("Project: %s"), project);
  g_string_append_c (body, '\n');
  if (session != NULL && *session != '\0')
    {
      g_string_append_printf (body, _("Last session: %s"), session);
      g_string_append_c (body, '\n');
    }
  if (g_str_equal (outcome, "delegated-failed"))
    g_string_append (body, _("The remote job failed."));
  else
    g_string_append (body, _("No attempt is left, or the task file cannot be run."));
  g_string_append_c (body, '\n');
  /* TRANSLATORS: %s is the path of the task file in failed/. */
  g_string_append_printf (body, _("Moved to %s; the reason is in the .reason.txt file next to it."),
                          place);
  cf_notify_event_full (self, CF_NOTIFY_TASK_FAILED, title, body->str, fields);
  g_string_free (body, TRUE);
}

static void
on_swap_started (CfSwitcher *switcher, const char *from, const char *to, const char *reason,
                 CfNotify *self)
{
  g_autofree char *body = NULL;

  /* TRANSLATORS: accounts, then why ("quota", "usage", "auth", "manual", "return"). */
  const char *const fields[] = { "from", from, "to", to, "reason", reason, NULL };

  body = g_strdup_printf (_("From %s to %s (%s)."), from, to, reason);
  cf_notify_event_full (self, CF_NOTIFY_SWAP_STARTED, _("Switching Claude account"), body, fields);
}

static void
on_swap_finished (CfSwitcher *switcher, const char *from, const char *to, gboolean success,
                  const char *message, CfNotify *self)
{
  g_autofree char *body = NULL;
  const char *const fields[] = { "from", from, "to", to, "message", message, NULL };

  if (success)
    {
      body = g_strdup_printf (_("Now on %s (was %s).\n%s"), to, from, message);
      cf_notify_event_full (self, CF_NOTIFY_SWAP_FINISHED, _("Claude account switched"), body,
                            fields);
    }
  else if (cf_state_get_swap_journal (self->state)->partial)
    {
      body = g_strdup_printf (_("From %s to %s: %s\nAccount switches are refused until an "
                                "operator fixes the links and runs "
                                "\"claude-failoverctl clear-partial-swap\"."), from, to, message);
      cf_notify_event_full (self, CF_NOTIFY_PARTIAL_SWAP, _("Account switch failed half-way"),
                            body, fields);
    }
  else
    {
      body = g_strdup_printf (_("From %s to %s: %s\nStill on %s."), from, to, message, from);
      cf_notify_event_full (self, CF_NOTIFY_SWAP_FAILED, _("Account switch failed"), body, fields);
    }
}

static void
on_all_exhausted (CfSwitcher *switcher, gint64 until, CfNotify *self)
{
  g_autoptr(GDateTime) when = until > 0 ? g_date_time_new_from_unix_local (until / G_USEC_PER_SEC)
                                        : NULL;
  g_autofree char *time_text = when != NULL ? g_date_time_format (when, "%F %T %Z") : NULL;
  g_autofree char *body = NULL;

  if (time_text != NULL)
    /* TRANSLATORS: %s is a date and time. */
    body = g_strdup_printf (_("Dispatch is paused until the earliest reset, %s."), time_text);
  else
    body = g_strdup (_("Dispatch is paused until an account resets."));
  cf_notify_event (self, CF_NOTIFY_ALL_EXHAUSTED, _("Every Claude account is exhausted"), body);
}

static void
on_quota_exhausted (CfQuota *quota, const char *account, GStrv sessions, gint64 reset_at,
                    const char *evidence, CfNotify *self)
{
  g_autoptr(GDateTime) when = reset_at > 0 ? g_date_time_new_from_unix_local (reset_at / G_USEC_PER_SEC)
                                           : NULL;
  g_autofree char *time_text = when != NULL ? g_date_time_format (when, "%F %T %Z") : NULL;
  g_autofree char *iso = when != NULL ? g_date_time_format_iso8601 (when) : g_strdup ("");
  g_autofree char *joined = g_strjoinv (", ", sessions);
  g_autofree char *title = NULL;
  GString *body = g_string_new (NULL);
  const char *const fields[] = { "account", account, "sessions", joined, "reset_at", iso,
                                 "evidence", evidence != NULL ? evidence : "", NULL };

  /* TRANSLATORS: notification title; %s is an account name. */
  title = g_strdup_printf (_("Account %s hit its usage limit"), account);
  if (time_text != NULL)
    /* TRANSLATORS: %s is a date and time. */
    g_string_append_printf (body, _("Resets at %s."), time_text);
  else
    g_string_append (body, _("Reset time unknown."));
  if (*joined != '\0')
    {
      g_string_append_c (body, '\n');
      /* TRANSLATORS: %s lists tmux session names. */
      g_string_append_printf (body, _("Blocked sessions: %s"), joined);
    }
  cf_notify_event_full (self, CF_NOTIFY_LIMIT, title, body->str, fields);
  g_string_free (body, TRUE);
}

void
cf_notify_follow_quota (CfNotify *self, CfQuota *quota)
{
  g_return_if_fail (CF_IS_NOTIFY (self));

  g_signal_connect_object (quota, "exhausted", G_CALLBACK (on_quota_exhausted), self, 0);
}

void
cf_notify_follow_switcher (CfNotify *self, CfSwitcher *switcher)
{
  g_return_if_fail (CF_IS_NOTIFY (self));

  g_signal_connect_object (switcher, "swap-started", G_CALLBACK (on_swap_started), self, 0);
  g_signal_connect_object (switcher, "swap-finished", G_CALLBACK (on_swap_finished), self, 0);
  g_signal_connect_object (switcher, "all-exhausted", G_CALLBACK (on_all_exhausted), self, 0);
}

/* ---- object -------------------------------------------------------------- */

gboolean
cf_notify_telegram_enabled (CfNotify *self)
{
  return self->channels[CHANNEL_TELEGRAM].enabled;
}

gboolean
cf_notify_email_enabled (CfNotify *self)
{
  return self->channels[CHANNEL_EMAIL].enabled;
}

guint
cf_notify_get_n_webhooks (CfNotify *self)
{
  return self->webhooks->len;
}

guint
cf_notify_get_pending (CfNotify *self)
{
  guint n = 0;

  for (guint i = 0; i < N_CHANNELS; i++)
    n += g_queue_get_length (&self->channels[i].queue) + (self->channels[i].current != NULL);
  for (guint i = 0; i < self->webhooks->len; i++)
    {
      Channel *webhook = g_ptr_array_index (self->webhooks, i);

      n += g_queue_get_length (&webhook->queue) + (webhook->current != NULL);
    }
  return n;
}

static void
webhook_free (Channel *webhook)
{
  guint pending = g_queue_get_length (&webhook->queue) + (webhook->current != NULL);

  if (pending > 0)
    log_channel (G_LOG_LEVEL_WARNING, webhook, NULL,
                 "%u notifications dropped: the webhook was removed or changed", pending);
  channel_stop (webhook);
  g_free (webhook->url);
  g_free (webhook->owned_name);
  g_free (webhook);
}

static Channel *
webhook_new (CfNotify *self, const CfWebhookConfig *config, guint index)
{
  Channel *webhook = g_new0 (Channel, 1);
  g_autofree char *shown = cf_webhook_url_for_log (config->url);

  webhook->self = self;
  webhook->id = CHANNEL_WEBHOOK;
  webhook->owned_name = g_strdup_printf ("Webhook %u (%s, %s)", index + 1,
                                         cf_webhook_kind_to_string (config->kind), shown);
  webhook->name = webhook->owned_name;
  webhook->sent_event = CF_EVENT_NOTIFY_WEBHOOK_SENT;
  webhook->failed_event = CF_EVENT_NOTIFY_WEBHOOK_FAILED;
  webhook->enabled = TRUE;
  webhook->webhook_kind = config->kind;
  webhook->url = g_strdup (config->url);
  webhook->events = config->events;
  g_queue_init (&webhook->queue);
  return webhook;
}

static gboolean
webhooks_equal (GPtrArray *channels, GPtrArray *configs)
{
  if (channels->len != configs->len)
    return FALSE;
  for (guint i = 0; i < channels->len; i++)
    {
      const Channel *webhook = g_ptr_array_index (channels, i);
      const CfWebhookConfig *config = g_ptr_array_index (configs, i);

      if (webhook->webhook_kind != config->kind || webhook->events != config->events ||
          g_strcmp0 (webhook->url, config->url) != 0)
        return FALSE;
    }
  return TRUE;
}

static void
configure_webhooks (CfNotify *self, const CfConfig *config)
{
  if (webhooks_equal (self->webhooks, config->webhooks))
    return;
  g_ptr_array_set_size (self->webhooks, 0);
  for (guint i = 0; i < config->webhooks->len; i++)
    {
      Channel *webhook = webhook_new (self, g_ptr_array_index (config->webhooks, i), i);

      g_ptr_array_add (self->webhooks, webhook);
      log_channel (G_LOG_LEVEL_MESSAGE, webhook, NULL, "on");
    }
}

void
cf_notify_set_config (CfNotify *self, CfConfig *config)
{
  g_return_if_fail (CF_IS_NOTIFY (self));

  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
  for (guint i = 0; i < N_CHANNELS; i++)
    channel_configure (&self->channels[i], config);
  configure_webhooks (self, config);
}

void
cf_notify_set_clock (CfNotify *self, CfClock *clock)
{
  g_return_if_fail (CF_IS_NOTIFY (self));
  /* Timers armed on the old clock could not be removed from the new one. */
  g_return_if_fail (cf_notify_get_pending (self) == 0 && g_hash_table_size (self->recent) == 0);

  g_clear_pointer (&self->clock, cf_clock_unref);
  self->clock = cf_clock_ref (clock != NULL ? clock : cf_clock_get_default ());
}

void
cf_notify_stop (CfNotify *self)
{
  g_return_if_fail (CF_IS_NOTIFY (self));

  self->stopped = TRUE;
  for (guint i = 0; i < N_CHANNELS; i++)
    channel_stop (&self->channels[i]);
  for (guint i = 0; i < self->webhooks->len; i++)
    channel_stop (g_ptr_array_index (self->webhooks, i));
  g_hash_table_remove_all (self->recent);
  if (self->session != NULL)
    soup_session_abort (self->session);
}

static void
cf_notify_dispose (GObject *object)
{
  CfNotify *self = CF_NOTIFY (object);

  if (self->recent != NULL)
    cf_notify_stop (self);
  g_clear_object (&self->state);
  g_clear_object (&self->task_events);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (cf_notify_parent_class)->dispose (object);
}

static void
cf_notify_finalize (GObject *object)
{
  CfNotify *self = CF_NOTIFY (object);

  for (guint i = 0; i < N_CHANNELS; i++)
    {
      g_free (self->channels[i].off_reason);
      g_free (self->channels[i].secret);
      g_free (self->channels[i].recipient);
    }
  g_clear_pointer (&self->recent, g_hash_table_unref);
  g_clear_pointer (&self->webhooks, g_ptr_array_unref);
  g_clear_pointer (&self->config, cf_config_unref);
  g_clear_pointer (&self->clock, cf_clock_unref);
  g_free (self->host);
  G_OBJECT_CLASS (cf_notify_parent_class)->finalize (object);
}

static void
cf_notify_class_init (CfNotifyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cf_notify_dispose;
  object_class->finalize = cf_notify_finalize;
}

static void
cf_notify_init (CfNotify *self)
{
  static const struct {
    const char *name;
    CfEvent sent;
    CfEvent failed;
  } channels[N_CHANNELS] = {
    [CHANNEL_TELEGRAM] = { "Telegram", CF_EVENT_NOTIFY_TELEGRAM_SENT,
                           CF_EVENT_NOTIFY_TELEGRAM_FAILED },
    [CHANNEL_EMAIL] = { "E-mail", CF_EVENT_NOTIFY_EMAIL_SENT, CF_EVENT_NOTIFY_EMAIL_FAILED },
  };

  for (guint i = 0; i < N_CHANNELS; i++)
    {
      self->channels[i].self = self;
      self->channels[i].id = i;
      self->channels[i].name = channels[i].name;
      self->channels[i].sent_event = channels[i].sent;
      self->channels[i].failed_event = channels[i].failed;
      g_queue_init (&self->channels[i].queue);
    }
  self->recent = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) recent_free);
  self->webhooks = g_ptr_array_new_with_free_func ((GDestroyNotify) webhook_free);
  self->clock = cf_clock_get_default ();
}

CfNotify *
cf_notify_new (CfConfig *config, CfState *state, CfTaskEvents *task_events,
               const CfNotifyOptions *options)
{
  CfNotify *self = g_object_new (CF_TYPE_NOTIFY, NULL);

  if (options != NULL)
    self->options = *options;
  else
    cf_notify_options_init (&self->options);
  self->options.timeout_ms = MAX (self->options.timeout_ms, 1);
  self->state = g_object_ref (state);
  self->task_events = g_object_ref (task_events);
  self->host = g_strdup (g_get_host_name ());
  self->session = soup_session_new_with_options ("user-agent", "claude-failover/" PACKAGE_VERSION,
                                                 NULL);
  cf_notify_set_config (self, config);
  g_signal_connect_object (task_events, "task-finished", G_CALLBACK (on_task_finished), self, 0);
  return self;
}
