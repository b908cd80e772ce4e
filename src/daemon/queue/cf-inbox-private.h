/* SPDX-License-Identifier: MIT */
#pragma once

/* What the three files of CfInbox share: cf-inbox.c (the index of entries,
 * its events, scans applied on the main loop and the public API),
 * cf-inbox-projects.c (which directories are projects, and the watches
 * that find new ones) and cf-inbox-scan.c (the worker threads that list
 * inboxes and read task files). Not for other components. */

#include "cf-inbox.h"
#include "cf-readiness.h"

G_BEGIN_DECLS

/* Readiness (see the header): the rules are cf-readiness.c's. */
#define READINESS (&cf_readiness_config_default)

/* What the cache compares (the task file's and its meta file's). */
typedef CfReadinessKey FileKey;

/* One "<id>.md" of an inbox. Its readiness (scan clock, events, parse
 * cache) is a CfReadiness that only cf_readiness_step () changes: the
 * scan clock orders scans and events (see cf-readiness.h). */
typedef struct _Project Project;

typedef struct {
  Project *project;
  char *id;
  CfReadiness readiness;

  CfPriority priority;
  guint attempts;
  gint64 last_attempt_end;
  const char *provider;        /* static, from cf_delegate_route */
  gboolean local_only;

  gboolean counted;            /* in the pending count */
  gboolean listed;             /* in cf_inbox_list_pending */
  gboolean routed;             /* listed, and its frontmatter names a remote provider */
  GSequenceIter *queued;       /* its place in project->queue while listed */
  CfPriority queued_priority;  /* the sort key it was queued with */
  gint64 queued_mtime;
} Entry;

struct _CfInbox {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfClock *timebase;           /* "now" and timers; the real clock by default */
  GCancellable *cancellable;   /* non-NULL while started */

  GHashTable *projects;        /* path → Project* */
  GHashTable *candidates;      /* directory path → GFileMonitor* (future projects) */
  GFileMonitor *dir_monitor;   /* projects.dir */
  char *dir_monitor_path;
  GHashTable *warned;          /* explicit projects whose failure was logged */
  gboolean capped_logged;

  guint64 clock;
  gpointer discovery_job;      /* the discovery in flight, NULL = none */
  gboolean want_full;
  gboolean want_discover;
  guint discover_timer_id;
  guint full_timer_id;
  guint scan_idle_id;
  guint flush_id;
  gboolean emit_available;

  guint pending;
  guint routed;                /* entries routed */
  guint64 scans;
  guint64 parses;
};

struct _Project {
  CfInbox *inbox;
  char *path;
  GFile *inbox_dir;
  gboolean explicit;
  GFileMonitor *monitor;
  GHashTable *entries;         /* id → Entry* */
  GSequence *queue;            /* the listed entries in queue order (queue_compare) */
  guint64 applied_clock;       /* of the newest scan applied */
  gpointer scan_job;           /* this project's own scan in flight */
  gboolean scan_wanted;
  guint settle_id;
  gint64 settle_due;
};

/* ---- scanning and parsing (handed to worker threads) -------------------- */

typedef struct {
  char *id;
  FileKey key;
} Sighting;

typedef struct {
  char *name;
  char *reason;
} Rejection;

typedef struct {
  char *project;
  gboolean ok;                 /* the inbox could be listed */
  GArray *sightings;           /* Sighting */
  GPtrArray *rejections;       /* Rejection* */
  gint64 begin_mono;
  gint64 end_mono;
  gint64 begin_real;
} Listing;

typedef struct {
  char *path;
  gboolean explicit;
} ProjectSpec;

typedef struct {
  GCancellable *cancellable;
  guint64 clock;
  gboolean discover;
  gboolean scan_all;           /* scan every discovered project: a full scan */
  char *projects_dir;
  gboolean allow_other_owners; /* projects.allow_other_owners */
  GPtrArray *explicit_paths;   /* char* */
  GPtrArray *paths;            /* char*: projects to scan when not discovering */

  GPtrArray *specs;            /* ProjectSpec*, when discovering */
  GPtrArray *candidates;       /* char*: directories that may become projects */
  gboolean capped;
  GHashTable *failures;        /* unusable project → message */
  GPtrArray *listings;         /* Listing* */
  CfClock *timebase;           /* the inbox's, for the listings' times */
} ScanJob;

/* What reading gave; REJECTED: MESSAGE = reason; ERROR: MESSAGE says why. */
typedef CfReadinessParse ParseOutcome;

typedef struct {
  char *project;
  char *id;
  FileKey key;
  gboolean may_refuse;         /* else a content error is CF_READINESS_PARSE_DEFERRED */
  ParseOutcome outcome;
  CfPriority priority;
  guint attempts;
  gint64 last_attempt_end;
  const char *provider;
  gboolean local_only;
  char *message;
} ParseItem;

typedef struct {
  GCancellable *cancellable;
  GPtrArray *items;            /* ParseItem* */
} ParseJob;

/* cf-inbox.c */
Project *cf_inbox_project_new (CfInbox *self, const char *path, gboolean explicit);
void cf_inbox_request_scan (Project *project, gint64 delay_usec);
ScanJob *cf_inbox_scan_job_new (CfInbox *self);
void cf_inbox_run_scan_job (CfInbox *self, ScanJob *job);

/* cf-inbox-projects.c */
char *cf_inbox_canonical_project (const char *path);
int cf_inbox_compare_strings (gconstpointer a, gconstpointer b);
/* In the scan thread: fills JOB's specs, candidates and failures. */
void cf_inbox_discover (ScanJob *job);
void cf_inbox_apply_discovery (CfInbox *self, ScanJob *job);
void cf_inbox_maybe_start_discovery (CfInbox *self);
void cf_inbox_request_full (CfInbox *self);
void cf_inbox_request_discover (CfInbox *self);
void cf_inbox_watch_projects_dir (CfInbox *self);
void cf_inbox_drop_monitor (gpointer data);

/* cf-inbox-scan.c */
void cf_inbox_scan_job_free (ScanJob *job);
void cf_inbox_scan_in_thread (GTask *task, gpointer source, gpointer task_data,
                              GCancellable *cancellable);
void cf_inbox_parse_item_free (ParseItem *item);
void cf_inbox_parse_job_free (ParseJob *job);
void cf_inbox_parse_in_thread (GTask *task, gpointer source, gpointer task_data,
                               GCancellable *cancellable);

G_END_DECLS
