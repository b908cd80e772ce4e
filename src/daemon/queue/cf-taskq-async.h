/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-taskq.h"

G_BEGIN_DECLS

/* The queue moves the main loop needs, run in the queue's own bounded
 * worker pool (each one fsyncs: never on the loop). Results come back on
 * the calling thread's main context. */

/* Completes a task: active → done/ or failed/ (cf_taskq_finish). */
void cf_taskq_complete_async (const char *project, const char *id, CfTaskOutcome outcome,
                              const char *reason, const char *footer,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean cf_taskq_complete_finish (GAsyncResult *result, GError **error);

/* Gives an active task back: to the inbox, or to failed/ when COUNT_ATTEMPT
 * and it already used MAX_ATTEMPTS (REASON then goes to its reason file).
 * *out_failed tells which. */
void cf_taskq_return_async (const char *project, const char *id, gboolean count_attempt,
                            guint max_attempts, const char *reason,
                            GAsyncReadyCallback callback, gpointer user_data);
gboolean cf_taskq_return_finish (GAsyncResult *result, gboolean *out_failed, GError **error);

/* Writes TEXT as inbox/<ID>.md (cf_taskq_submit: under the queue lock, a
 * temporary file recovery removes, renamed in without replacing a task:
 * CF_TASKQ_ERROR_EXISTS). */
void cf_taskq_submit_async (const char *project, const char *id, const char *text,
                            GAsyncReadyCallback callback, gpointer user_data);
gboolean cf_taskq_submit_finish (GAsyncResult *result, GError **error);

/* Operator moves. Requeue: back to the inbox from done/ or failed/ (an
 * active task is the watcher's business). Cancel: from the inbox to failed/
 * with "cancelled by the operator". CF_TASKQ_ERROR_NOT_FOUND when the task
 * is not where the move needs it; *out_place tells where it is. */
void cf_taskq_operator_async (const char *project, const char *id, gboolean cancel,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean cf_taskq_operator_finish (GAsyncResult *result, CfTaskPlace *out_place, GError **error);

typedef struct {
  char *project;
  char *id;
  CfTaskPlace place;
  char *title;                 /* the id when the file cannot be parsed */
  gint64 mtime_usec;
} CfTaskListing;

void cf_task_listing_free (CfTaskListing *listing);

/* Every task of PROJECTS in every place, for ListTasks. Result: GPtrArray
 * of CfTaskListing*, by project, place (inbox, active, done, failed) and
 * id. Calls made while a listing runs share its result or the next one's
 * (cf-taskq-list.c): the array is shared, read it only. Call from the
 * main loop's thread. */
void cf_taskq_list_all_async (GPtrArray *projects, GAsyncReadyCallback callback,
                              gpointer user_data);
GPtrArray *cf_taskq_list_all_finish (GAsyncResult *result, GError **error);

/* Runs FUNC for TASK in the queue's own bounded thread pool, beside the
 * moves above: for a component's own queue I/O (the dispatcher's claim and
 * its re-read of a claimed task). Completes on TASK's context. */
void cf_taskq_run_in_pool (GTask *task, GTaskThreadFunc func);

G_END_DECLS
