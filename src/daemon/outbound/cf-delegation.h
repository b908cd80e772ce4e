/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "cf-clock.h"
#include "cf-config.h"
#include "cf-delegate-client.h"
#include "cf-inbox.h"
#include "cf-state.h"
#include "cf-status-reporter.h"
#include "cf-task-events.h"
#include "cf-task-filter.h"

G_BEGIN_DECLS

/* Remote delegation (ARCHITECTURE.md 4.2, 4.8): tasks whose frontmatter
 * routes them to a remote provider go to the job API instead of a local
 * Claude Code session.
 *
 * On only when delegation.url is set and the variable named by
 * delegation.api_key_env holds a key (cf_config_delegation_enabled); off,
 * nothing is sent anywhere and every task runs locally.
 *
 * Who takes a task — the dispatcher or this component — without either
 * knowing the other: this component is the dispatcher's CfTaskFilter
 * (cf_dispatcher_set_task_filter), and it listens to the inbox's
 * "tasks-available". Both decide from the same facts of the inbox listing
 * (CfInboxTask.provider, from cf_delegate_route when the file was parsed,
 * and local_only), so each pending task is offered to exactly one of them;
 * cf_taskq_claim refusing a task that has a marker, under the queue lock,
 * is the last guard.
 *
 * A task is taken when delegation is on, its provider is set and it is not
 * local-only. The operator's PauseDispatch holds new submissions as it holds
 * local dispatch; a pause because every account is exhausted does not (the
 * remote API is what still works then). Jobs already submitted are reaped
 * in any case. Submission: the task leaves the inbox listing (it stays in
 * the inbox directory), the file is read again in a worker thread and routed
 * again (it may have changed), POST /jobs is sent, and inbox/<id>.md.delegated
 * (job id, provider, time) is written durably (fsync'd temporary file,
 * rename, fsync of the directory) before the submission is forgotten.
 * When the submission fails — a 4xx (not retried), or a 5xx or transport
 * error after the client's retries, or a reply that is not the contract's —
 * the task is marked local-only in its meta file and given back: the inbox
 * lists it again and the dispatcher runs it on a pool session. Its attempt
 * count is never touched by delegation.
 *
 * Reaping, every delegation.reap_interval (the first pass once the inbox has
 * found the projects): the markers of every project are read in a worker
 * thread — this is also how jobs are found again after a restart — and each
 * job is polled (GET /jobs/{id}, a few at a time). completed: the task goes
 * to done/ with a footer naming the provider, the cost and the job id (and
 * the result); failed, or unknown to the API (404): to failed/, the reason
 * in failed/<id>.reason.txt. Then "task-finished" (outcome delegated-done or
 * delegated-failed) through cf_task_events_finished. A marker whose task has
 * left the inbox is removed; a marker that cannot be read sends its task to
 * failed/ (the job, if any, is no longer followed). Other poll errors are
 * logged and the job polled again next time.
 *
 * Nothing blocks the main loop: files are read and written in worker
 * threads, HTTP is asynchronous, and stopping cancels what is in flight. */

#define CF_TYPE_DELEGATION (cf_delegation_get_type ())
G_DECLARE_FINAL_TYPE (CfDelegation, cf_delegation, CF, DELEGATION, GObject)

CfDelegation *cf_delegation_new (CfConfig *config, CfState *state, CfTaskEvents *task_events,
                                 CfInbox *inbox);
/* Test hook: the client's retry and timeout options (NULL = defaults). */
void cf_delegation_set_client_options (CfDelegation *self, const CfDelegateClientOptions *options);

/* The clock of the reaping passes and of the times it records (NULL = the
 * real one, the default); before cf_delegation_start. Unit tests pass a
 * manual clock and advance it instead of waiting. */
void cf_delegation_set_clock (CfDelegation *self, CfClock *clock);

void cf_delegation_start (CfDelegation *self);
void cf_delegation_stop (CfDelegation *self);
/* A reload; delegation may turn on or off (the key variable is read again). */
void cf_delegation_set_config (CfDelegation *self, CfConfig *config);

gboolean cf_delegation_is_enabled (CfDelegation *self);
/* Starts a reaping pass now (or right after the one running). */
void cf_delegation_reap_now (CfDelegation *self);

/* CfDelegation implements CfTaskFilter (cf-task-filter.h): skip_task is
 * TRUE for a task this component takes or has. */

typedef struct {
  guint active;                /* jobs with a marker, being followed */
  guint submitting;            /* submissions in flight */
  guint64 submitted;           /* since start: accepted by the API */
  guint64 completed;           /* since start: moved to done/ */
  guint64 failed;              /* since start: moved to failed/ */
  guint64 fallbacks;           /* since start: given back to a local session */
  guint64 passes;              /* reaping passes completed */
} CfDelegationCounts;

void cf_delegation_get_counts (CfDelegation *self, CfDelegationCounts *out);

/* The body of GET /api/delegated/status (its CfStatusReporter's
 * build_status, cf-status-reporter.h): a new JSON object
 *   {"enabled", "url", "reap_interval_ms", "active", "submitting",
 *    "submitted", "completed", "failed", "fallbacks", "last_reap",
 *    "jobs": [{"project", "task", "job_id", "provider", "status",
 *              "submitted_at", "last_error"}]}
 * (times ISO 8601 UTC or null; "url" without user information; never the
 * key). */
JsonNode *cf_delegation_build_status (CfDelegation *self);

/* Its Prometheus families for /metrics (its CfStatusReporter's
 * render_metrics). */
void cf_delegation_render_metrics (CfDelegation *self, GString *out);

G_END_DECLS
