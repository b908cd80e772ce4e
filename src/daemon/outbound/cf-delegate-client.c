/* SPDX-License-Identifier: MIT */
#include "cf-delegate-client.h"

#include <glib/gi18n.h>
#include <libsoup/soup.h>
#include <string.h>

#include "cf-build-config.h"

#define READ_CHUNK 65536
/* How much of an error reply's body a message quotes. */
#define EXCERPT_CHARS 200

struct _CfDelegateClient {
  GObject parent_instance;

  SoupSession *session;
  char *base;                  /* without a final '/' */
  char *display_url;
  char *authorization;         /* "Bearer <key>" */
  CfDelegateClientOptions options;
  guint64 requests;
};

G_DEFINE_FINAL_TYPE (CfDelegateClient, cf_delegate_client, G_TYPE_OBJECT)

void
cf_delegate_client_options_init (CfDelegateClientOptions *options)
{
  options->timeout_ms = 30000;
  options->max_retries = 3;
  options->backoff_ms = 500;
  options->max_connections = 16;
}

/* ---- one call: attempts, retries, cancellation ----------------------------- */

typedef struct {
  CfDelegateClient *self;
  char *method;
  GUri *uri;
  char *what;                  /* "POST http://host/jobs", for messages */
  GBytes *body;                /* NULL for GET */
  guint retries;

  SoupMessage *message;        /* the attempt in flight */
  GCancellable *attempt;       /* cancels the attempt in flight */
  GSource *timeout;            /* the attempt's deadline */
  gboolean timed_out;
  GByteArray *reply;
  GInputStream *stream;

  GSource *backoff;            /* waiting before the next attempt */
  GSource *caller_cancelled;   /* watches the caller's GCancellable */
} Call;

static void
drop_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static void
call_end_attempt (Call *call)
{
  drop_source (&call->timeout);
  g_clear_object (&call->attempt);
  g_clear_object (&call->message);
  g_clear_object (&call->stream);
  g_clear_pointer (&call->reply, g_byte_array_unref);
}

static void
call_free (Call *call)
{
  call_end_attempt (call);
  drop_source (&call->backoff);
  drop_source (&call->caller_cancelled);
  g_free (call->method);
  g_clear_pointer (&call->uri, g_uri_unref);
  g_free (call->what);
  g_clear_pointer (&call->body, g_bytes_unref);
  g_free (call);
}

static void start_attempt (GTask *task);

static void
finish_error (GTask *task, GError *error)
{
  /* Dropping the backoff source may drop a reference to TASK. */
  g_autoptr(GTask) hold = g_object_ref (task);
  Call *call = g_task_get_task_data (task);

  call_end_attempt (call);
  drop_source (&call->backoff);
  drop_source (&call->caller_cancelled);
  g_task_return_error (task, error);
}

static void
finish_cancelled (GTask *task)
{
  finish_error (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                           _("Operation was cancelled")));
}

static gboolean
on_backoff_done (gpointer user_data)
{
  GTask *task = user_data;
  Call *call = g_task_get_task_data (task);

  /* The source keeps its reference to TASK until this returns. */
  g_clear_pointer (&call->backoff, g_source_unref);
  start_attempt (task);
  return G_SOURCE_REMOVE;
}

/* A transport error or a 5xx: another attempt after the backoff, or the
 * error when the retries are used up. */
static void
retry_or_fail (GTask *task, CfDelegateError code, const char *reason)
{
  Call *call = g_task_get_task_data (task);
  CfDelegateClient *self = call->self;
  guint delay;

  call_end_attempt (call);
  if (call->retries >= self->options.max_retries)
    {
      if (self->options.max_retries > 0)
        finish_error (task, g_error_new (CF_DELEGATE_ERROR, code,
                                         /* TRANSLATORS: request, reason, number of tries */
                                         _("%s: %s (after %u attempts)"), call->what, reason,
                                         call->retries + 1));
      else
        finish_error (task, g_error_new (CF_DELEGATE_ERROR, code, "%s: %s", call->what, reason));
      return;
    }
  delay = (guint) MIN ((guint64) self->options.backoff_ms << MIN (call->retries, 20), G_MAXUINT);
  call->retries++;
  g_debug ("%s: %s; retry %u of %u in %u ms", call->what, reason, call->retries,
           self->options.max_retries, delay);
  call->backoff = g_timeout_source_new (delay);
  g_source_set_callback (call->backoff, on_backoff_done, g_object_ref (task), g_object_unref);
  g_source_attach (call->backoff, g_task_get_context (task));
}

static char *
excerpt (GByteArray *reply)
{
  g_autofree char *text = NULL;

  if (reply == NULL || reply->len == 0)
    return NULL;
  text = g_strndup ((const char *) reply->data, MIN (reply->len, EXCERPT_CHARS * 4));
  return cf_delegate_one_line (text, EXCERPT_CHARS);
}

static void
handle_reply (GTask *task)
{
  Call *call = g_task_get_task_data (task);
  SoupStatus status = soup_message_get_status (call->message);
  const char *phrase = soup_message_get_reason_phrase (call->message);
  g_autofree char *body = excerpt (call->reply);
  g_autofree char *described = NULL;
  g_autoptr(GError) error = NULL;
  CfDelegateJob *job;

  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      job = cf_delegate_job_parse ((const char *) call->reply->data, call->reply->len, &error);
      if (job == NULL)
        {
          finish_error (task, g_error_new (CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_BAD_REPLY,
                                           "%s: %s", call->what, error->message));
          return;
        }
      call_end_attempt (call);
      drop_source (&call->caller_cancelled);
      g_task_return_pointer (task, job, (GDestroyNotify) cf_delegate_job_free);
      return;
    }

  described = body != NULL ? g_strdup_printf ("HTTP %u %s: %s", status, phrase ? phrase : "", body)
                           : g_strdup_printf ("HTTP %u %s", status, phrase ? phrase : "");
  if (SOUP_STATUS_IS_SERVER_ERROR (status))
    retry_or_fail (task, CF_DELEGATE_ERROR_SERVER, described);
  else if (status == SOUP_STATUS_NOT_FOUND)
    finish_error (task, g_error_new (CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_NOT_FOUND, "%s: %s",
                                     call->what, described));
  else if (SOUP_STATUS_IS_CLIENT_ERROR (status))
    finish_error (task, g_error_new (CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_REJECTED, "%s: %s",
                                     call->what, described));
  else
    finish_error (task, g_error_new (CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_UNEXPECTED,
                                     /* TRANSLATORS: request, HTTP status and reason */
                                     _("%s: unexpected %s (redirects are not followed: set "
                                       "delegation.url to the final address)"),
                                     call->what, described));
}

/* After a failed step of the attempt: cancelled (by the caller or the
 * deadline) or a transport error. */
static void
attempt_failed (GTask *task, const GError *error)
{
  Call *call = g_task_get_task_data (task);
  GCancellable *caller = g_task_get_cancellable (task);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      if (caller != NULL && g_cancellable_is_cancelled (caller))
        {
          finish_cancelled (task);
          return;
        }
      if (call->timed_out)
        {
          g_autofree char *reason =
            g_strdup_printf (_("no reply within %u ms"), call->self->options.timeout_ms);
          retry_or_fail (task, CF_DELEGATE_ERROR_TRANSPORT, reason);
          return;
        }
    }
  retry_or_fail (task, CF_DELEGATE_ERROR_TRANSPORT, error->message);
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Call *call = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result,
                                                              &error);

  if (bytes == NULL)
    {
      attempt_failed (task, error);
      g_object_unref (task);
      return;
    }
  if (g_bytes_get_size (bytes) == 0)
    {
      handle_reply (task);
      g_object_unref (task);
      return;
    }
  if (call->reply->len + g_bytes_get_size (bytes) > CF_DELEGATE_REPLY_MAX)
    {
      finish_error (task, g_error_new (CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_BAD_REPLY,
                                       _("%s: the reply is larger than %d bytes"), call->what,
                                       CF_DELEGATE_REPLY_MAX));
      g_object_unref (task);
      return;
    }
  g_byte_array_append (call->reply, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_input_stream_read_bytes_async (call->stream, READ_CHUNK, G_PRIORITY_DEFAULT, call->attempt,
                                   on_read, task);
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Call *call = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GInputStream *stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);

  if (stream == NULL)
    {
      attempt_failed (task, error);
      g_object_unref (task);
      return;
    }
  call->stream = stream;
  call->reply = g_byte_array_new ();
  g_input_stream_read_bytes_async (call->stream, READ_CHUNK, G_PRIORITY_DEFAULT, call->attempt,
                                   on_read, task);
}

static gboolean
on_attempt_timeout (gpointer user_data)
{
  Call *call = user_data;

  call->timed_out = TRUE;
  g_clear_pointer (&call->timeout, g_source_unref);
  g_cancellable_cancel (call->attempt);
  return G_SOURCE_REMOVE;
}

static void
start_attempt (GTask *task)
{
  Call *call = g_task_get_task_data (task);
  CfDelegateClient *self = call->self;
  SoupMessageHeaders *headers;

  call->message = soup_message_new_from_uri (call->method, call->uri);
  soup_message_add_flags (call->message, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (call->message);
  soup_message_headers_replace (headers, "Authorization", self->authorization);
  soup_message_headers_replace (headers, "Accept", "application/json");
  if (call->body != NULL)
    soup_message_set_request_body_from_bytes (call->message, "application/json", call->body);

  call->attempt = g_cancellable_new ();
  call->timed_out = FALSE;
  call->timeout = g_timeout_source_new (self->options.timeout_ms);
  g_source_set_callback (call->timeout, on_attempt_timeout, call, NULL);
  g_source_attach (call->timeout, g_task_get_context (task));

  self->requests++;
  soup_session_send_async (self->session, call->message, G_PRIORITY_DEFAULT, call->attempt,
                           on_sent, g_object_ref (task));
}

static gboolean
on_caller_cancelled (GCancellable *cancellable, gpointer user_data)
{
  GTask *task = user_data;
  g_autoptr(GTask) hold = g_object_ref (task);
  Call *call = g_task_get_task_data (task);

  g_clear_pointer (&call->caller_cancelled, g_source_unref);
  if (call->attempt != NULL)
    /* The attempt's callback sees the caller's cancellable and ends the call. */
    g_cancellable_cancel (call->attempt);
  else if (call->backoff != NULL)
    finish_cancelled (task);
  return G_SOURCE_REMOVE;
}

static void
start_call (CfDelegateClient *self, const char *method, const char *path, GBytes *body,
            GCancellable *cancellable, gpointer source_tag, GAsyncReadyCallback callback,
            gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *url = g_strconcat (self->base, path, NULL);
  g_autoptr(GError) error = NULL;
  Call *call = g_new0 (Call, 1);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, call, (GDestroyNotify) call_free);
  call->self = self;
  call->method = g_strdup (method);
  call->body = body != NULL ? g_bytes_ref (body) : NULL;
  call->uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, &error);
  if (call->uri == NULL)
    {
      g_task_return_new_error (task, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_INVALID_ARGUMENT,
                               "%s %s: %s", method, self->display_url, error->message);
      return;
    }
  {
    g_autofree char *shown = g_uri_to_string_partial (call->uri, G_URI_HIDE_USERINFO);
    call->what = g_strdup_printf ("%s %s", method, shown);
  }
  if (g_task_return_error_if_cancelled (task))
    return;
  if (cancellable != NULL)
    {
      call->caller_cancelled = g_cancellable_source_new (cancellable);
      g_source_set_callback (call->caller_cancelled, (GSourceFunc) on_caller_cancelled, task, NULL);
      g_source_attach (call->caller_cancelled, g_task_get_context (task));
    }
  start_attempt (task);
}

/* ---- the API -------------------------------------------------------------- */

void
cf_delegate_client_submit_async (CfDelegateClient *self,
                                 const CfDelegateRequest *request,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autofree char *json = NULL;
  g_autoptr(GBytes) body = NULL;

  g_return_if_fail (CF_IS_DELEGATE_CLIENT (self));
  g_return_if_fail (request != NULL);

  json = cf_delegate_request_to_json (request);
  if (json == NULL)
    {
      g_task_report_new_error (self, callback, user_data, cf_delegate_client_submit_async,
                               CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_INVALID_ARGUMENT,
                               _("the job request is incomplete"));
      return;
    }
  body = g_bytes_new_take (json, strlen (json));
  json = NULL;
  start_call (self, "POST", "/jobs", body, cancellable, cf_delegate_client_submit_async, callback,
              user_data);
}

CfDelegateJob *
cf_delegate_client_submit_finish (CfDelegateClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
cf_delegate_client_get_async (CfDelegateClient *self,
                              const char *job_id,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_autofree char *path = NULL;

  g_return_if_fail (CF_IS_DELEGATE_CLIENT (self));

  if (!cf_delegate_job_id_is_valid (job_id))
    {
      g_task_report_new_error (self, callback, user_data, cf_delegate_client_get_async,
                               CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_INVALID_ARGUMENT,
                               _("'%s' is not a job id"), job_id != NULL ? job_id : "");
      return;
    }
  /* Valid ids need no escaping in a path. */
  path = g_strconcat ("/jobs/", job_id, NULL);
  start_call (self, "GET", path, NULL, cancellable, cf_delegate_client_get_async, callback,
              user_data);
}

CfDelegateJob *
cf_delegate_client_get_finish (CfDelegateClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

const char *
cf_delegate_client_get_display_url (CfDelegateClient *self)
{
  g_return_val_if_fail (CF_IS_DELEGATE_CLIENT (self), NULL);
  return self->display_url;
}

guint64
cf_delegate_client_get_requests (CfDelegateClient *self)
{
  g_return_val_if_fail (CF_IS_DELEGATE_CLIENT (self), 0);
  return self->requests;
}

/* ---- life cycle ------------------------------------------------------------ */

static void
cf_delegate_client_dispose (GObject *object)
{
  CfDelegateClient *self = CF_DELEGATE_CLIENT (object);

  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (cf_delegate_client_parent_class)->dispose (object);
}

static void
cf_delegate_client_finalize (GObject *object)
{
  CfDelegateClient *self = CF_DELEGATE_CLIENT (object);

  g_free (self->base);
  g_free (self->display_url);
  if (self->authorization != NULL)
    {
      memset (self->authorization, 0, strlen (self->authorization));
      g_free (self->authorization);
    }
  G_OBJECT_CLASS (cf_delegate_client_parent_class)->finalize (object);
}

static void
cf_delegate_client_class_init (CfDelegateClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cf_delegate_client_dispose;
  object_class->finalize = cf_delegate_client_finalize;
}

static void
cf_delegate_client_init (CfDelegateClient *self)
{
}

static gboolean
key_is_valid (const char *key)
{
  if (key == NULL || *key == '\0')
    return FALSE;
  for (const char *p = key; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return FALSE;
  return TRUE;
}

CfDelegateClient *
cf_delegate_client_new (const char *url,
                        const char *api_key,
                        const CfDelegateClientOptions *options,
                        GError **error)
{
  g_autoptr(CfDelegateClient) self = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autofree char *base = NULL;
  const char *scheme;
  gsize n;

  uri = url != NULL ? g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL) : NULL;
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || scheme == NULL ||
      (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    {
      g_set_error (error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_INVALID_ARGUMENT,
                   _("'%s' is not an http:// or https:// URL without a query"),
                   url != NULL ? url : "");
      return NULL;
    }
  if (!key_is_valid (api_key))
    {
      g_set_error_literal (error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_INVALID_ARGUMENT,
                           _("the API key is empty or contains control characters"));
      return NULL;
    }

  self = g_object_new (CF_TYPE_DELEGATE_CLIENT, NULL);
  if (options != NULL)
    self->options = *options;
  else
    cf_delegate_client_options_init (&self->options);
  self->options.timeout_ms = MAX (self->options.timeout_ms, 1);
  base = g_strdup (url);
  n = strlen (base);
  while (n > 0 && base[n - 1] == '/')
    base[--n] = '\0';
  self->base = g_steal_pointer (&base);
  self->display_url = g_uri_to_string_partial (uri, G_URI_HIDE_USERINFO);
  self->authorization = g_strconcat ("Bearer ", api_key, NULL);
  self->options.max_connections = MAX (self->options.max_connections, 1);
  self->session = soup_session_new_with_options ("user-agent", "claude-failover/" PACKAGE_VERSION,
                                                 "max-conns", (int) self->options.max_connections,
                                                 "max-conns-per-host",
                                                 (int) self->options.max_connections, NULL);
  return g_steal_pointer (&self);
}
