/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The remote job API's data (ARCHITECTURE.md 4.8), pure:
 *
 *   POST {url}/jobs       {"provider","priority","prompt","project","task"}
 *                         → {"id","status"}
 *   GET  {url}/jobs/{id}  → {"id","status":"queued|running|completed|failed",
 *                            "result","provider","cost","error"}
 *
 * and what the daemon keeps of a submitted job: the marker
 * inbox/<task>.md.delegated, and the footer a completed task gets in done/.
 *
 * Replies are read strictly: at most CF_DELEGATE_REPLY_MAX bytes of UTF-8,
 * one RFC 8259 JSON object (no comments, no trailing data, nesting bounded),
 * "id" a job id (a string, or a non-negative integer taken as its decimal
 * text), "status" one of the four, every other known member absent, null or
 * of its type; unknown members are ignored. Anything else is
 * CF_DELEGATE_ERROR_BAD_REPLY with one line saying what is wrong. */

#define CF_DELEGATE_ERROR (cf_delegate_error_quark ())
GQuark cf_delegate_error_quark (void);

typedef enum {
  CF_DELEGATE_ERROR_BAD_REPLY,     /* the reply is not what the contract describes */
  CF_DELEGATE_ERROR_REJECTED,      /* a 4xx other than 404: final, never retried */
  CF_DELEGATE_ERROR_NOT_FOUND,     /* 404: the API does not know the job (or the path) */
  CF_DELEGATE_ERROR_SERVER,        /* a 5xx, after the retries */
  CF_DELEGATE_ERROR_TRANSPORT,     /* connection, TLS, timeout, after the retries */
  CF_DELEGATE_ERROR_UNEXPECTED,    /* a status the contract has no use for (1xx, 3xx) */
  CF_DELEGATE_ERROR_BAD_MARKER,    /* a .delegated marker this version cannot read */
  CF_DELEGATE_ERROR_INVALID_ARGUMENT,
} CfDelegateError;

/* A reply larger than this is refused (and not read further). */
#define CF_DELEGATE_REPLY_MAX (4 * 1024 * 1024)
#define CF_DELEGATE_JOB_ID_MAX 256
#define CF_DELEGATE_PROVIDER_MAX 64

typedef enum {
  CF_JOB_STATUS_QUEUED,
  CF_JOB_STATUS_RUNNING,
  CF_JOB_STATUS_COMPLETED,
  CF_JOB_STATUS_FAILED,
} CfJobStatus;

const char *cf_job_status_to_string (CfJobStatus status);
gboolean cf_job_status_from_string (const char *text, CfJobStatus *out);
/* completed or failed. */
gboolean cf_job_status_is_final (CfJobStatus status);

/* 1 to CF_DELEGATE_JOB_ID_MAX characters from [A-Za-z0-9._~:@+=-]: safe in
 * a URL path without escaping, in a file and on one log line. */
gboolean cf_delegate_job_id_is_valid (const char *id);
/* 1 to CF_DELEGATE_PROVIDER_MAX characters from [A-Za-z0-9._-]. */
gboolean cf_delegate_provider_is_valid (const char *provider);

typedef struct {
  char *id;
  CfJobStatus status;
  char *result;                /* NULL: absent or null */
  char *provider;              /* NULL: absent or null; else valid (see above) */
  char *cost;                  /* NULL: absent or null; a number in its shortest
                                  round-trip form, or the string as given */
  char *error;                 /* NULL: absent or null */
} CfDelegateJob;

void cf_delegate_job_free (CfDelegateJob *job);

/* A reply of either request. DATA need not be NUL-terminated. */
CfDelegateJob *cf_delegate_job_parse (const char *data, gsize length, GError **error);

typedef struct {
  const char *provider;
  const char *priority;
  const char *prompt;
  const char *project;
  const char *task;
} CfDelegateRequest;

/* The body of POST /jobs; every member must be non-NULL UTF-8. */
char *cf_delegate_request_to_json (const CfDelegateRequest *request);

/* inbox/<task>.md.delegated: which remote job has the task.
 *   {"version": 1, "job_id": "…", "provider": "…", "submitted_at": "<ISO 8601 UTC>"} */
typedef struct {
  char *job_id;
  char *provider;
  gint64 submitted_at_usec;    /* µs since the epoch */
} CfDelegateMarker;

void cf_delegate_marker_free (CfDelegateMarker *marker);
char *cf_delegate_marker_to_json (const CfDelegateMarker *marker);
/* Strict as the replies; errors are CF_DELEGATE_ERROR_BAD_MARKER. */
CfDelegateMarker *cf_delegate_marker_parse (const char *data, gsize length, GError **error);

/* What a completed task gets appended in done/: a rule, one line naming the
 * provider (the job's, else PROVIDER), the job id, the cost and when, then
 * the result when there is one. Translated. */
char *cf_delegate_footer (const CfDelegateJob *job, const char *provider, gint64 now_usec);

/* TEXT on one line for a reason file or a log: control characters become
 * spaces, cut after MAX_CHARS characters with "…". */
char *cf_delegate_one_line (const char *text, guint max_chars);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfDelegateJob, cf_delegate_job_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfDelegateMarker, cf_delegate_marker_free)

G_END_DECLS
