/* SPDX-License-Identifier: MIT */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* An in-process job API (ARCHITECTURE.md 4.8) for the unit tests: a
 * SoupServer on 127.0.0.1 serving {url}/jobs and {url}/jobs/{id}, where
 * url = http://127.0.0.1:PORT/api. It records every request, keeps the jobs
 * it was given, and misbehaves on demand. */

typedef struct {
  char *method;
  char *path;
  char *authorization;         /* NULL when absent */
  char *content_type;
  char *body;
} CfTestJobRequest;

typedef struct {
  char *id;
  char *status;                /* queued, running, completed, failed (or anything) */
  char *result;
  char *provider;
  char *cost;                  /* JSON text of the value, e.g. "0.5" or "\"$1\"" */
  char *error;
  char *request_body;          /* the POST that created it */
} CfTestJob;

typedef struct {
  SoupServer *server;
  char *url;
  GPtrArray *requests;         /* CfTestJobRequest* */
  GQueue post_statuses;        /* GUINT_TO_POINTER: answers to the next POSTs, then 201 */
  GQueue get_statuses;         /* the same for GETs, then 200 (or 404 for unknown jobs) */
  char *raw_reply;             /* answered with 200 to every request, when set */
  gboolean hang;               /* never answer (requests are paused) */
  GPtrArray *paused;           /* SoupServerMessage* held by hang */
  GHashTable *jobs;            /* id → CfTestJob* */
  guint next_id;
} CfTestJobApi;

CfTestJobApi *cf_test_job_api_new (void);
void cf_test_job_api_free (CfTestJobApi *api);
/* The job with ID, or NULL. */
CfTestJob *cf_test_job_api_find (CfTestJobApi *api, const char *id);
/* Sets a job's fields (creating it); NULL leaves a field as it is. */
CfTestJob *cf_test_job_api_set (CfTestJobApi *api, const char *id, const char *status,
                                const char *result, const char *cost, const char *error);
/* Requests received with METHOD (NULL = all). */
guint cf_test_job_api_count (CfTestJobApi *api, const char *method);
/* Queues STATUS codes (0-terminated) answered to the next POSTs or GETs. */
void cf_test_job_api_fail_posts (CfTestJobApi *api, ...);
void cf_test_job_api_fail_gets (CfTestJobApi *api, ...);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfTestJobApi, cf_test_job_api_free)

G_END_DECLS
