/* SPDX-License-Identifier: MIT */
/* One alert channel's delivery (Telegram, e-mail or a webhook): its
 * credentials from the environment, its bounded queue, one request in
 * flight built for its kind, the timeout, retries with backoff or the
 * server's Retry-After, and the counters and logs of each outcome. */
#include "cf-alerts-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "cf-json.h"
#include "cf-notify-reply.h"
#include "cf-text.h"

/* ---- channels ------------------------------------------------------------ */

static void
delivery_free (Delivery *d)
{
  g_free (d->title);
  g_free (d->body);
  g_strfreev (d->fields);
  g_free (d);
}

void
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

void
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
    .now_usec = cf_clock_now_real (self->clock),
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
parse_retry_after (CfNotify *self, SoupMessage *message)
{
  gint64 now_usec = cf_clock_now_real (self->clock);
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
  now = g_date_time_new_from_unix_utc (now_usec / G_USEC_PER_SEC);
  return MAX ((g_date_time_difference (date, now) - now_usec % G_USEC_PER_SEC) / 1000, 0);
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

  cf_counters_count (cf_state_get_counters (self->state), sent ? channel->sent_event : channel->failed_event);
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
  channel->retry_id = cf_clock_timeout_add (self->clock, (guint) delay, on_retry, channel);
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
  cf_clock_clear (self->clock, &channel->timeout_id);
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
      gint64 retry_after_ms = parse_retry_after (self, request->message);

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
  channel->timeout_id = cf_clock_timeout_add (self->clock, self->options.timeout_ms, on_timeout,
                                             channel);
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

void
channel_enqueue (Channel *channel, CfNotifyKind kind, const char *title, const char *body,
                 const char *const *fields)
{
  CfNotify *self = channel->self;
  Delivery *d;

  if (g_queue_get_length (&channel->queue) >= MAX (self->options.queue_limit, 1))
    {
      Delivery *oldest = g_queue_pop_head (&channel->queue);

      cf_counters_count (cf_state_get_counters (self->state), CF_EVENT_NOTIFY_DROPPED);
      log_channel (G_LOG_LEVEL_WARNING, channel, oldest,
                   "dropped: %u notifications are waiting (%" G_GUINT64_FORMAT
                   " dropped since start)", self->options.queue_limit,
                   cf_counters_get (cf_state_get_counters (self->state), CF_EVENT_NOTIFY_DROPPED));
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

void
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
  cf_clock_clear (channel->self->clock, &channel->timeout_id);
  cf_clock_clear (channel->self->clock, &channel->retry_id);
  g_clear_pointer (&channel->current, delivery_free);
  g_queue_clear_full (&channel->queue, (GDestroyNotify) delivery_free);
}
