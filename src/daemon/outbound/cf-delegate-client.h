/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-delegate-json.h"

G_BEGIN_DECLS

/* A client of the remote job API (ARCHITECTURE.md 4.8) over libsoup 3,
 * asynchronous on the calling thread's main context:
 *
 *   submit  POST {url}/jobs      JSON request → {"id","status"}
 *   get     GET  {url}/jobs/{id}               → the job
 *
 * with "Authorization: Bearer <key>". Each attempt has its own timeout;
 * a transport error (connection, TLS, timeout) or a 5xx is retried up to
 * max_retries times, after backoff_ms, then twice that, and so on; a 4xx
 * never is. Redirects are not followed (the key would go with them).
 * Replies are read up to CF_DELEGATE_REPLY_MAX bytes and strictly
 * (cf_delegate_job_parse). Errors are CF_DELEGATE_ERROR (the code says
 * which kind; the message is one line naming the request, e.g.
 * "POST http://host/api/jobs: HTTP 400 Bad Request: …"), or G_IO_ERROR_CANCELLED
 * when the caller's GCancellable was cancelled — at once, whether a request
 * or a backoff wait was in progress. The key is never logged nor put in a
 * message. */

#define CF_TYPE_DELEGATE_CLIENT (cf_delegate_client_get_type ())
G_DECLARE_FINAL_TYPE (CfDelegateClient, cf_delegate_client, CF, DELEGATE_CLIENT, GObject)

typedef struct {
  guint timeout_ms;            /* per attempt; 30 000 */
  guint max_retries;           /* 3 (so at most 4 requests) */
  guint backoff_ms;            /* before the first retry, then doubling; 500 */
  guint max_connections;       /* to the API at once; 16 (libsoup's default is 2 per
                                  host: two hung submissions would stall the polls) */
} CfDelegateClientOptions;

void cf_delegate_client_options_init (CfDelegateClientOptions *options);

/* URL: the API's base, http:// or https://, with or without a final '/'.
 * API_KEY: non-empty, no control characters. OPTIONS NULL = defaults.
 * CF_DELEGATE_ERROR_INVALID_ARGUMENT otherwise. */
CfDelegateClient *cf_delegate_client_new (const char *url,
                                          const char *api_key,
                                          const CfDelegateClientOptions *options,
                                          GError **error);

void cf_delegate_client_submit_async (CfDelegateClient *self,
                                      const CfDelegateRequest *request,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
CfDelegateJob *cf_delegate_client_submit_finish (CfDelegateClient *self,
                                                 GAsyncResult *result,
                                                 GError **error);

/* JOB_ID must pass cf_delegate_job_id_is_valid. */
void cf_delegate_client_get_async (CfDelegateClient *self,
                                   const char *job_id,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
CfDelegateJob *cf_delegate_client_get_finish (CfDelegateClient *self,
                                              GAsyncResult *result,
                                              GError **error);

/* The base URL as given, without user information (for logs and status). */
const char *cf_delegate_client_get_display_url (CfDelegateClient *self);
/* HTTP requests sent so far, retries included. */
guint64 cf_delegate_client_get_requests (CfDelegateClient *self);

G_END_DECLS
