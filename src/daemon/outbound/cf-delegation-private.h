/* SPDX-License-Identifier: MIT */
#pragma once

/* Private to the files of CfDelegation (the daemon's remote delegation),
 * included by them only:
 *   cf-delegation.c          which tasks it takes (the dispatcher's skip
 *                            function), configuration, life cycle
 *   cf-delegation-submit.c   the kick that starts submissions, and one
 *                            submission: the task read and routed again in a
 *                            worker thread, POST /jobs, the marker written, or
 *                            the task given back to a local session
 *   cf-delegation-reaper.c   the reaping passes: markers scanned, jobs polled,
 *                            finished tasks moved to done/ or failed/
 *   cf-delegation-report.c   GET /api/delegated/status and the /metrics families
 * The rest of delegation: src/lib/cf-delegate-route.c (local or remote: the
 * routing decision), src/lib/cf-delegate-json.c (the job API's JSON and the
 * marker file), cf-delegate-client.c (the job API's HTTP client), and
 * src/delegate/ (the ccl-delegate command). */

#include "cf-delegation.h"

G_BEGIN_DECLS

/* Submissions and polls in flight at once: a slow API must not pile up
 * hundreds of connections. */
#define MAX_SUBMITS 4
#define MAX_POLLS 8
/* The first reaping pass: soon after start, once the inbox knows the projects. */
#define FIRST_PASS_MS 1000
#define INBOX_WAIT_MS 250
/* How much of the API's error text a reason file or a log line keeps. */
#define REASON_CHARS 1000

struct _CfDelegation {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfTaskEvents *task_events;
  CfInbox *inbox;
  CfClock *clock;              /* reaping timers and "now"; the real clock by default */
  CfDelegateClient *client;    /* NULL while delegation is off */
  CfDelegateClientOptions client_options;
  gboolean enabled;
  GCancellable *cancellable;   /* non-NULL while started */

  GHashTable *submitting;      /* key set: submissions in flight */
  GHashTable *local_only;      /* key set: given back this run */
  GHashTable *jobs;            /* key → Job* */

  guint kick_id;
  guint reap_id;
  gboolean pass_running;
  gboolean pass_wanted;
  gint64 pass_started;         /* monotonic µs */
  GQueue poll_queue;           /* keys (owned) of jobs to poll in this pass */
  guint polls_in_flight;
  gint64 last_reap;            /* real µs, 0 = never */
  gboolean warned_off;

  guint64 submitted;
  guint64 completed;
  guint64 failed;
  guint64 fallbacks;
  guint64 passes;
};

typedef struct {
  char *project;
  char *id;
  char *job_id;
  char *provider;
  gint64 submitted_at;         /* real µs */
  gint64 known_since;          /* monotonic µs */
  gboolean status_known;
  CfJobStatus status;
  char *last_error;
  gboolean polling;
  gboolean finishing;
  gboolean no_marker;          /* its marker could not be written: followed from memory */
} Job;

/* cf-delegation.c */
G_GNUC_INTERNAL char *make_key (const char *project, const char *id);
G_GNUC_INTERNAL void job_free (Job *job);
G_GNUC_INTERNAL void log_task (GLogLevelFlags level, const char *project, const char *id,
                               const char *format, ...) G_GNUC_PRINTF (4, 5);
G_GNUC_INTERNAL gboolean is_running (CfDelegation *self);
G_GNUC_INTERNAL gboolean wants (CfDelegation *self, const CfInboxTask *task, const char *key);

/* cf-delegation-submit.c */
G_GNUC_INTERNAL Job *add_job (CfDelegation *self, const char *project, const char *id,
                              const char *job_id, const char *provider, gint64 submitted_at);
G_GNUC_INTERNAL void schedule_kick (CfDelegation *self);

/* cf-delegation-reaper.c */
G_GNUC_INTERNAL void schedule_pass (CfDelegation *self, guint delay_ms);

G_END_DECLS
