/* SPDX-License-Identifier: MIT */
#include "cf-alerts.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "cf-build-config.h"
#include "cf-json.h"
#include "cf-notify-reply.h"
#include "cf-taskq.h"
#include "cf-text.h"
#include "cf-webhook.h"

/* Telegram counts at most 4096 characters of text; with the title and the
 * footer, a body of this many characters fits. */
#define MAX_BODY_CHARS 3000
#define MAX_TITLE_CHARS 200

typedef enum {
  CHANNEL_TELEGRAM,
  CHANNEL_EMAIL,
  N_CHANNELS,
  CHANNEL_WEBHOOK = N_CHANNELS,  /* self->webhooks, not self->channels */
} ChannelId;

typedef struct {
  CfNotifyKind kind;
  char *title;
  char *body;
  GStrv fields;                /* for the generic webhook; may be NULL */
  guint retries;               /* retries already made */
} Delivery;

typedef struct _Channel Channel;

/* One request in flight. STOP detaches it from its channel (channel = NULL)
 * so that the cancelled reply, arriving later, touches nothing freed. */
typedef struct {
  Channel *channel;
  SoupMessage *message;
} Request;

struct _Channel {
  CfNotify *self;
  ChannelId id;
  const char *name;            /* for logs; a webhook's never shows its URL */
  CfEvent sent_event;
  CfEvent failed_event;
  gboolean enabled;
  char *off_reason;            /* what was logged last about being off */
  char *secret;                /* bot token or API key; memory only */
  char *recipient;             /* chat id, or the e-mail addresses */
  GQueue queue;                /* Delivery* waiting */
  Delivery *current;           /* in flight, or waiting for its retry */
  Request *request;
  GCancellable *cancellable;
  gboolean timed_out;
  guint timeout_id;
  guint retry_id;
  /* CHANNEL_WEBHOOK: */
  CfWebhookKind webhook_kind;
  char *url;                   /* may hold a secret */
  guint events;                /* CfWebhookEvent flags */
  char *owned_name;
};

typedef struct {
  CfNotify *self;
  CfNotifyKind kind;
  char *title;
  char *body;
  GStrv fields;
  guint suppressed;
  guint timer_id;
} Recent;

struct _CfNotify {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfNotifyOptions options;
  SoupSession *session;
  Channel channels[N_CHANNELS];
  GPtrArray *webhooks;         /* Channel*, one per notifications.webhooks item */
  GHashTable *recent;          /* "kind\x1ftitle\x1fbody" → Recent* */
  gulong finished_handler;
  char *host;
  gboolean stopped;
};

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

/* ---- text ---------------------------------------------------------------- */

/* The first MAX characters of TEXT (UTF-8), with "…" when cut. */
static char *
truncate_chars (const char *text, glong max)
{
  g_autofree char *head = NULL;

  if (g_utf8_strlen (text, -1) <= max)
    return g_strdup (text);
  head = g_utf8_substring (text, 0, max - 1);
  return g_strconcat (head, "…", NULL);
}

/* TEXT with & < > " as entities: what Telegram's HTML parse mode and an
 * HTML mail body both accept (Telegram knows no &apos;). */
static void
append_escaped (GString *out, const char *text, gboolean line_breaks)
{
  for (const char *p = text; *p != '\0'; p++)
    switch (*p)
      {
      case '&':
        g_string_append (out, "&amp;");
        break;
      case '<':
        g_string_append (out, "&lt;");
        break;
      case '>':
        g_string_append (out, "&gt;");
        break;
      case '"':
        g_string_append (out, "&quot;");
        break;
      case '\n':
        g_string_append (out, line_breaks ? "<br>\n" : "\n");
        break;
      default:
        g_string_append_c (out, *p);
      }
}

static char *
one_line (const char *text)
{
  char *line = g_strdup (text);

  for (char *p = line; *p != '\0'; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t')
      *p = ' ';
  return line;
}

static char *
footer_text (CfNotify *self)
{
  /* TRANSLATORS: the last line of every notification; %s is the host name. */
  return g_strdup_printf (_("claude-failover on %s"), self->host);
}

static char *
telegram_text (CfNotify *self, const Delivery *d)
{
  g_autofree char *title = truncate_chars (d->title, MAX_TITLE_CHARS);
  g_autofree char *line = one_line (title);
  g_autofree char *body = truncate_chars (d->body, MAX_BODY_CHARS);
  g_autofree char *footer = footer_text (self);
  GString *out = g_string_new ("<b>");

  append_escaped (out, line, FALSE);
  g_string_append (out, "</b>\n");
  if (*body != '\0')
    {
      append_escaped (out, body, FALSE);
      g_string_append_c (out, '\n');
    }
  g_string_append (out, "\n<i>");
  append_escaped (out, footer, FALSE);
  g_string_append (out, "</i>");
  return g_string_free (out, FALSE);
}

static char *
email_subject (const Delivery *d)
{
  g_autofree char *title = truncate_chars (d->title, MAX_TITLE_CHARS);
  g_autofree char *line = one_line (title);

  return g_strconcat ("[claude-failover] ", line, NULL);
}

static char *
email_html (CfNotify *self, const Delivery *d)
{
  g_autofree char *title = truncate_chars (d->title, MAX_TITLE_CHARS);
  g_autofree char *line = one_line (title);
  g_autofree char *footer = footer_text (self);
  GString *out = g_string_new ("<p><b>");

  append_escaped (out, line, FALSE);
  g_string_append (out, "</b></p>\n");
  if (*d->body != '\0')
    {
      g_string_append (out, "<p>");
      append_escaped (out, d->body, TRUE);
      g_string_append (out, "</p>\n");
    }
  g_string_append (out, "<p><i>");
  append_escaped (out, footer, FALSE);
  g_string_append (out, "</i></p>\n");
  return g_string_free (out, FALSE);
}

/* TEXT with every secret of SELF replaced: for anything logged that a
 * server or libsoup wrote (errors, response bodies). */
static char *
scrub (CfNotify *self, const char *text)
{
  GString *out = g_string_new (text);

  for (guint i = 0; i < N_CHANNELS; i++)
    {
      g_auto(GStrv) recipients = NULL;

      if (self->channels[i].secret != NULL && strlen (self->channels[i].secret) >= 3)
        g_string_replace (out, self->channels[i].secret, "[redacted]", 0);
      if (self->channels[i].recipient == NULL)
        continue;
      /* The whole value, then each address of a list. */
      g_string_replace (out, self->channels[i].recipient, "[redacted]", 0);
      recipients = g_strsplit (self->channels[i].recipient, ",", -1);
      for (guint j = 0; recipients[j] != NULL; j++)
        {
          g_strstrip (recipients[j]);
          if (strlen (recipients[j]) >= 3)
            g_string_replace (out, recipients[j], "[redacted]", 0);
        }
    }
  /* A webhook's URL, and its path and query alone (where the token is). */
  for (guint i = 0; self->webhooks != NULL && i < self->webhooks->len; i++)
    {
      Channel *webhook = g_ptr_array_index (self->webhooks, i);
      g_autoptr(GUri) uri = g_uri_parse (webhook->url, G_URI_FLAGS_NONE, NULL);

      g_string_replace (out, webhook->url, "[redacted]", 0);
      if (uri == NULL)
        continue;
      if (strlen (g_uri_get_path (uri)) >= 3)
        g_string_replace (out, g_uri_get_path (uri), "[redacted]", 0);
      if (g_uri_get_query (uri) != NULL && strlen (g_uri_get_query (uri)) >= 3)
        g_string_replace (out, g_uri_get_query (uri), "[redacted]", 0);
      if (g_uri_get_userinfo (uri) != NULL && strlen (g_uri_get_userinfo (uri)) >= 3)
        g_string_replace (out, g_uri_get_userinfo (uri), "[redacted]", 0);
    }
  return g_string_free (out, FALSE);
}

/* ---- channels ------------------------------------------------------------ */

static void
delivery_free (Delivery *d)
{
  g_free (d->title);
  g_free (d->body);
  g_strfreev (d->fields);
  g_free (d);
}

static void
log_channel (GLogLevelFlags level, Channel *channel, const Delivery *d, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

static void
log_channel (GLogLevelFlags level, Channel *channel, const Delivery *d, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  if (d == NULL)
    g_log_structured (G_LOG_DOMAIN, level,
                      "CF_NOTIFY_CHANNEL", channel->name,
                      "MESSAGE", "%s notifications: %s", channel->name, text);
  else
    g_log_structured (G_LOG_DOMAIN, level,
                      "CF_NOTIFY_CHANNEL", channel->name,
                      "CF_NOTIFY_KIND", cf_notify_kind_to_string (d->kind),
                      "MESSAGE", "%s notification %s: %s", channel->name,
                      cf_notify_kind_to_string (d->kind), text);
}

static const char *
env_value (const char *name)
{
  const char *value;

  if (name == NULL || *name == '\0')
    return NULL;
  value = g_getenv (name);
  return value != NULL && *value != '\0' ? value : NULL;
}

/* Why the channel is off (NULL = on), naming variables, never values. */
static char *
read_credentials (Channel *channel, const CfConfig *config)
{
  const char *secret_var, *recipient_var;
  const char *secret, *recipient;

  if (channel->id == CHANNEL_TELEGRAM)
    {
      secret_var = config->telegram_token_env;
      recipient_var = config->telegram_chat_id_env;
    }
  else
    {
      secret_var = config->resend_api_key_env;
      recipient_var = config->notify_email_env;
    }
  g_clear_pointer (&channel->secret, g_free);
  g_clear_pointer (&channel->recipient, g_free);
  secret = env_value (secret_var);
  recipient = env_value (recipient_var);
  if (secret_var == NULL || *secret_var == '\0' || recipient_var == NULL || *recipient_var == '\0')
    return g_strdup ("disabled in the configuration");
  if (secret == NULL)
    return g_strdup_printf ("%s is not set", secret_var);
  if (recipient == NULL)
    return g_strdup_printf ("%s is not set", recipient_var);
  channel->secret = g_strdup (secret);
  channel->recipient = g_strdup (recipient);
  return NULL;
}

static void
channel_configure (Channel *channel, const CfConfig *config)
{
  g_autofree char *off = read_credentials (channel, config);

  channel->enabled = off == NULL;
  if (g_strcmp0 (off, channel->off_reason) == 0)
    return;
  if (off != NULL)
    log_channel (G_LOG_LEVEL_MESSAGE, channel, NULL, "off (%s)", off);
  else if (channel->off_reason != NULL)
    log_channel (G_LOG_LEVEL_MESSAGE, channel, NULL, "on");
  g_free (channel->off_reason);
  channel->off_reason = g_steal_pointer (&off);
}

static char *
join_url (const char *base, const char *path)
{
  gsize length = strlen (base);

  while (length > 0 && base[length - 1] == '/')
    length--;
  return g_strdup_printf ("%.*s%s", (int) length, base, path);
}

static GBytes *
json_bytes (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  gsize length = 0;
  char *text;

  json_generator_set_root (generator, root);
  text = cf_json_generate (generator, &length);
  return g_bytes_new_take (text, length);
}

static SoupMessage *
build_webhook_message (Channel *channel, const Delivery *d)
{
  CfNotify *self = channel->self;
  CfWebhookMessage message = {
    .event = cf_notify_kind_webhook_event (d->kind),
    .detail = cf_notify_kind_to_string (d->kind),
    .title = d->title,
    .body = d->body,
    .fields = (const char *const *) d->fields,
    .host = self->host,
    .now_usec = g_get_real_time (),
  };
  g_autoptr(CfWebhookPayload) payload = cf_webhook_payload_build (channel->webhook_kind, &message);
  SoupMessage *soup_message = soup_message_new (SOUP_METHOD_POST, channel->url);
  SoupMessageHeaders *headers;

  if (soup_message == NULL)
    return NULL;
  headers = soup_message_get_request_headers (soup_message);
  soup_message_set_request_body_from_bytes (soup_message, payload->content_type, payload->body);
  for (guint i = 0; i + 1 < payload->headers->len; i += 2)
    soup_message_headers_replace (headers, g_ptr_array_index (payload->headers, i),
                                  g_ptr_array_index (payload->headers, i + 1));
  /* The token in the URL must not travel to wherever a redirect points. */
  soup_message_add_flags (soup_message, SOUP_MESSAGE_NO_REDIRECT);
  return soup_message;
}

static SoupMessage *
build_message (Channel *channel, const Delivery *d)
{
  CfNotify *self = channel->self;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GBytes) body = NULL;
  g_autofree char *url = NULL;
  SoupMessage *message;

  if (channel->id == CHANNEL_WEBHOOK)
    return build_webhook_message (channel, d);
  json_builder_begin_object (builder);
  if (channel->id == CHANNEL_TELEGRAM)
    {
      g_autofree char *token = g_uri_escape_string (channel->secret, ":", FALSE);
      g_autofree char *path = g_strdup_printf ("/bot%s/sendMessage", token);
      g_autofree char *text = telegram_text (self, d);

      url = join_url (self->config->telegram_url, path);
      json_builder_set_member_name (builder, "chat_id");
      json_builder_add_string_value (builder, channel->recipient);
      json_builder_set_member_name (builder, "text");
      json_builder_add_string_value (builder, text);
      json_builder_set_member_name (builder, "parse_mode");
      json_builder_add_string_value (builder, "HTML");
    }
  else
    {
      g_auto(GStrv) addresses = g_strsplit (channel->recipient, ",", -1);
      g_autofree char *subject = email_subject (d);
      g_autofree char *html = email_html (self, d);

      url = join_url (self->config->resend_url, "/emails");
      json_builder_set_member_name (builder, "from");
      json_builder_add_string_value (builder, self->config->email_from);
      json_builder_set_member_name (builder, "to");
      json_builder_begin_array (builder);
      for (guint i = 0; addresses[i] != NULL; i++)
        {
          g_strstrip (addresses[i]);
          if (*addresses[i] != '\0')
            json_builder_add_string_value (builder, addresses[i]);
        }
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "subject");
      json_builder_add_string_value (builder, subject);
      json_builder_set_member_name (builder, "html");
      json_builder_add_string_value (builder, html);
    }
  json_builder_end_object (builder);

  message = soup_message_new (SOUP_METHOD_POST, url);
  if (message == NULL)
    return NULL;
  body = json_bytes (builder);
  soup_message_set_request_body_from_bytes (message, "application/json", body);
  soup_message_headers_replace (soup_message_get_request_headers (message), "Accept",
                                "application/json");
  if (channel->id == CHANNEL_EMAIL)
    {
      g_autofree char *bearer = g_strconcat ("Bearer ", channel->secret, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (message),
                                    "Authorization", bearer);
    }
  /* A redirect would carry the key or the token to wherever it points. */
  soup_message_add_flags (message, SOUP_MESSAGE_NO_REDIRECT);
  return message;
}

/* Retry-After: delay-seconds or an HTTP date; -1 when absent or unreadable. */
static gint64
parse_retry_after (SoupMessage *message)
{
  const char *value = soup_message_headers_get_one (soup_message_get_response_headers (message),
                                                    "Retry-After");
  g_autoptr(GDateTime) date = NULL;
  g_autoptr(GDateTime) now = NULL;
  guint64 seconds;

  if (value == NULL)
    return -1;
  while (g_ascii_isspace (*value))
    value++;
  if (g_ascii_isdigit (*value) && g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT32,
                                                              &seconds, NULL))
    return (gint64) seconds * 1000;
  date = soup_date_time_new_from_http_string (value);
  if (date == NULL)
    return -1;
  now = g_date_time_new_now_utc ();
  return MAX (g_date_time_difference (date, now) / 1000, 0);
}

/* A short reason from an error reply: Telegram's "description", Resend's
 * "message", else the start of the body. Scrubbed, one line. Also Telegram's
 * parameters.retry_after in *BODY_RETRY_AFTER_MS (-1 when absent). */
static char *
reply_reason (CfNotify *self, guint status, GBytes *body, gint64 *body_retry_after_ms)
{
  CfNotifyReply reply;
  g_autofree char *clean = NULL;
  g_autofree char *shown = NULL;
  gsize size = 0;
  const char *data = body != NULL ? g_bytes_get_data (body, &size) : NULL;

  cf_notify_reply_read (data, size, &reply);
  if (body_retry_after_ms != NULL)
    *body_retry_after_ms = reply.retry_after_ms;
  if (reply.detail == NULL)
    return g_strdup_printf ("HTTP %u", status);
  clean = scrub (self, reply.detail);
  cf_notify_reply_clear (&reply);
  shown = cf_text_for_message (clean);
  return g_strdup_printf ("HTTP %u: %s", status, shown);
}

static void channel_kick (Channel *channel);
static void channel_send (Channel *channel);

static void
finish_current (Channel *channel, gboolean sent)
{
  CfNotify *self = channel->self;

  cf_state_count_event (self->state, sent ? channel->sent_event : channel->failed_event);
  g_clear_pointer (&channel->current, delivery_free);
  channel_kick (channel);
}

static gboolean
on_retry (gpointer user_data)
{
  Channel *channel = user_data;

  channel->retry_id = 0;
  channel_send (channel);
  return G_SOURCE_REMOVE;
}

/* A failure worth another try, unless the retries are used up. */
static void
retry_or_fail (Channel *channel, const char *reason, gint64 retry_after_ms)
{
  CfNotify *self = channel->self;
  Delivery *d = channel->current;
  guint64 delay;

  if (d->retries >= self->options.max_retries)
    {
      log_channel (G_LOG_LEVEL_WARNING, channel, d, "not delivered after %u attempts: %s",
                   d->retries + 1, reason);
      finish_current (channel, FALSE);
      return;
    }
  if (retry_after_ms >= 0)
    delay = MIN ((guint64) retry_after_ms, self->options.max_retry_after_ms);
  else
    delay = MIN ((guint64) self->options.backoff_ms << MIN (d->retries, 20),
                 (guint64) G_MAXUINT32);
  d->retries++;
  log_channel (G_LOG_LEVEL_MESSAGE, channel, d, "%s; retry %u of %u in %" G_GUINT64_FORMAT " ms",
               reason, d->retries, self->options.max_retries, delay);
  channel->retry_id = g_timeout_add ((guint) delay, on_retry, channel);
}

static void
request_free (Request *request)
{
  g_clear_object (&request->message);
  g_free (request);
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  Channel *channel = request->channel;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
                                                              &error);
  CfNotify *self;
  guint status;

  if (channel == NULL)
    {
      request_free (request);
      return;
    }
  self = channel->self;
  channel->request = NULL;
  g_clear_handle_id (&channel->timeout_id, g_source_remove);
  g_clear_object (&channel->cancellable);
  status = soup_message_get_status (request->message);

  if (error != NULL)
    {
      g_autofree char *reason = NULL;

      if (channel->timed_out)
        reason = g_strdup_printf ("no answer within %u ms", self->options.timeout_ms);
      else
        {
          g_autofree char *clean = scrub (self, error->message);
          reason = cf_text_for_message (clean);
        }
      retry_or_fail (channel, reason, -1);
    }
  else if (SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      log_channel (G_LOG_LEVEL_INFO, channel, channel->current, "sent");
      finish_current (channel, TRUE);
    }
  else if (status == 429 /* Too Many Requests */ || status >= 500)
    {
      gint64 body_retry_after_ms = -1;
      g_autofree char *reason = reply_reason (self, status, body, &body_retry_after_ms);
      gint64 retry_after_ms = parse_retry_after (request->message);

      /* The header wins; Telegram may only say it in the body. */
      retry_or_fail (channel, reason, retry_after_ms >= 0 ? retry_after_ms : body_retry_after_ms);
    }
  else
    {
      g_autofree char *reason = reply_reason (self, status, body, NULL);
      log_channel (G_LOG_LEVEL_WARNING, channel, channel->current,
                   "refused, not retried: %s", reason);
      finish_current (channel, FALSE);
    }
  request_free (request);
}

static gboolean
on_timeout (gpointer user_data)
{
  Channel *channel = user_data;

  channel->timeout_id = 0;
  channel->timed_out = TRUE;
  g_cancellable_cancel (channel->cancellable);
  return G_SOURCE_REMOVE;
}

static void
channel_send (Channel *channel)
{
  CfNotify *self = channel->self;
  Request *request;
  SoupMessage *message = build_message (channel, channel->current);

  if (message == NULL)
    {
      log_channel (G_LOG_LEVEL_WARNING, channel, channel->current,
                   "not sent: the configured URL cannot be used");
      finish_current (channel, FALSE);
      return;
    }
  request = g_new0 (Request, 1);
  request->channel = channel;
  request->message = message;
  channel->request = request;
  channel->cancellable = g_cancellable_new ();
  channel->timed_out = FALSE;
  channel->timeout_id = g_timeout_add (self->options.timeout_ms, on_timeout, channel);
  soup_session_send_and_read_async (self->session, message, G_PRIORITY_DEFAULT,
                                    channel->cancellable, on_sent, request);
}

static void
channel_kick (Channel *channel)
{
  if (channel->current != NULL)
    return;
  channel->current = g_queue_pop_head (&channel->queue);
  if (channel->current != NULL)
    channel_send (channel);
}

static void
channel_enqueue (Channel *channel, CfNotifyKind kind, const char *title, const char *body,
                 const char *const *fields)
{
  CfNotify *self = channel->self;
  Delivery *d;

  if (g_queue_get_length (&channel->queue) >= MAX (self->options.queue_limit, 1))
    {
      Delivery *oldest = g_queue_pop_head (&channel->queue);

      cf_state_count_event (self->state, CF_EVENT_NOTIFY_DROPPED);
      log_channel (G_LOG_LEVEL_WARNING, channel, oldest,
                   "dropped: %u notifications are waiting (%" G_GUINT64_FORMAT
                   " dropped since start)", self->options.queue_limit,
                   cf_state_get_event_count (self->state, CF_EVENT_NOTIFY_DROPPED));
      delivery_free (oldest);
    }
  d = g_new0 (Delivery, 1);
  d->kind = kind;
  d->title = g_strdup (title);
  d->body = g_strdup (body);
  d->fields = g_strdupv ((char **) fields);
  g_queue_push_tail (&channel->queue, d);
  channel_kick (channel);
}

static void
channel_stop (Channel *channel)
{
  if (channel->request != NULL)
    {
      channel->request->channel = NULL;
      channel->request = NULL;
    }
  if (channel->cancellable != NULL)
    g_cancellable_cancel (channel->cancellable);
  g_clear_object (&channel->cancellable);
  g_clear_handle_id (&channel->timeout_id, g_source_remove);
  g_clear_handle_id (&channel->retry_id, g_source_remove);
  g_clear_pointer (&channel->current, delivery_free);
  g_queue_clear_full (&channel->queue, (GDestroyNotify) delivery_free);
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
  g_clear_handle_id (&recent->timer_id, g_source_remove);
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
      cf_state_count_event (self->state, CF_EVENT_NOTIFY_COALESCED);
      return;
    }
  recent = g_new0 (Recent, 1);
  recent->self = self;
  recent->kind = kind;
  recent->title = g_strdup (title);
  recent->body = g_strdup (body);
  recent->fields = g_strdupv ((char **) fields);
  recent->timer_id = g_timeout_add (MAX (self->options.coalesce_ms, 1), on_window_end, recent);
  g_hash_table_insert (self->recent, g_steal_pointer (&key), recent);
  queue_everywhere (self, kind, title, body, fields);
}

static void
on_task_finished (CfState *state, const char *project, const char *task, const char *session,
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
  else if (cf_state_get_partial_swap (self->state))
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
  if (self->state != NULL)
    g_clear_signal_handler (&self->finished_handler, self->state);
  g_clear_object (&self->state);
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
}

CfNotify *
cf_notify_new (CfConfig *config, CfState *state, const CfNotifyOptions *options)
{
  CfNotify *self = g_object_new (CF_TYPE_NOTIFY, NULL);

  if (options != NULL)
    self->options = *options;
  else
    cf_notify_options_init (&self->options);
  self->options.timeout_ms = MAX (self->options.timeout_ms, 1);
  self->state = g_object_ref (state);
  self->host = g_strdup (g_get_host_name ());
  self->session = soup_session_new_with_options ("user-agent", "claude-failover/" PACKAGE_VERSION,
                                                 NULL);
  cf_notify_set_config (self, config);
  self->finished_handler = g_signal_connect (state, "task-finished",
                                             G_CALLBACK (on_task_finished), self);
  return self;
}
