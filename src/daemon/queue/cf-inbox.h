/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-clock.h"
#include "cf-config.h"
#include "cf-state.h"

G_BEGIN_DECLS

/* The index of the tasks waiting in every project inbox (ARCHITECTURE.md
 * 4.1 projects, 4.2 queue).
 *
 * Projects: every <projects.dir>/<name>/ (not hidden; symlinks to
 * directories count) that already has .agent-queue/inbox, plus each
 * projects.extra entry and each dedicated session's project. Only the
 * configured ones get their .agent-queue directories created. projects.dir
 * is watched, and so is each of its sub-directories that is not a project
 * yet (and its .agent-queue when present, at most 1000 such watches), so a
 * project whose inbox is created later is picked up at once.
 *
 * Readiness: a file in an inbox is indexed as soon as a scan sees it
 * (cf_taskq_scan_inbox filters and rejects names), but it is listed only
 * once it is *ready* and parsed:
 *   - it was renamed or moved into the inbox under a ".md" name
 *     (G_FILE_MONITOR_EVENT_MOVED_IN / RENAMED), or
 *   - CHANGES_DONE_HINT arrived for it (closed after writing; GLib also
 *     sends one 2 s after the last change when no close is seen, e.g. for
 *     a hard link), or
 *   - fallback, for changes the monitor cannot see (NFS, missed events):
 *     two scans ≥ 500 ms apart saw the same size and mtime, or a
 *     scan saw an mtime at least 2 s in the past. A CREATED or CHANGED
 *     event younger than 3 s without its CHANGES_DONE_HINT holds the
 *     fallback back (the writer still has the file open).
 * A file that changes after it was listed leaves the listing until it is
 * ready again. A scan that finds a not-yet-ready file looks again 500 ms
 * later (that project only). These rules are the state machine of
 * cf-readiness.h (src/lib), which each entry goes through.
 *
 * Scans: a full scan re-derives the projects and lists every inbox (readdir
 * + lstat of each task and of its meta file) in a worker thread, at start,
 * on cf_inbox_rescan(), and every max(lifecycle.interval, 1 s): monitors
 * can miss events (remote NFS writers; GIO reports no inotify queue
 * overflow), and this bounds the delay then. An event in one inbox scans
 * that inbox only. Parsing (cf_taskq_read_task, cf_taskq_read_meta) also
 * runs in worker threads and is cached by the task file's (mtime, size) and
 * its meta file's (mtime, size, inode): a rescan of unchanged inboxes reads
 * no file. A file moved in, renamed or closed after writing (an event) is
 * always read again.
 *
 * A file that scan or parse refuses (symlink, FIFO, over 1 MiB, bad name,
 * broken frontmatter, unreadable) is moved to failed/ with a reason file
 * (cf_taskq_reject, in the thread) and "task-rejected" is emitted. A file
 * that changed while it was parsed is not rejected: it is read again once
 * ready. Content that does not parse in a file written in place (not moved
 * in) is refused only once it failed for 5 s without changing, or its
 * mtime is 5 s old: it may be half written by a writer that paused (GLib's
 * 2 s "done" without a close).
 *
 * A task with a delegation marker (inbox/<id>.md.delegated: a remote job
 * has it) is not indexed: it waits for no session.
 *
 * CfState's pending count is kept equal to the number of task files the
 * index holds (valid "<id>.md" regular files seen in inboxes, ready or not,
 * minus the ones forgotten).
 *
 * Signals (on the main loop):
 *   "tasks-available" () — coalesced; a ready task entered the listing.
 *   "task-rejected" (gchararray project, gchararray name, gchararray reason)
 *     — after the file was moved to failed/. */

#define CF_TYPE_INBOX (cf_inbox_get_type ())
G_DECLARE_FINAL_TYPE (CfInbox, cf_inbox, CF, INBOX, GObject)

typedef struct {
  char *project;               /* absolute project directory */
  char *id;
  CfPriority priority;
  gint64 queued_at;            /* mtime of the task file, µs since the epoch */
  guint attempts;              /* from its meta file; 0 = never dispatched */
  gint64 last_attempt_end;     /* µs since the epoch, 0 = never */
  const char *provider;        /* the remote provider its frontmatter routes it to
                                  (cf_delegate_route, static), NULL = local */
  gboolean local_only;         /* its meta file says never to delegate it */
} CfInboxTask;

void cf_inbox_task_free (CfInboxTask *task);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfInboxTask, cf_inbox_task_free)

CfInbox *cf_inbox_new (CfConfig *config, CfState *state);
/* Installs the monitors and starts the first full scan. */
/* The clock of the readiness rules, scans and their timers (NULL = the real
 * one, the default); before cf_inbox_start. Unit tests pass a manual clock
 * and advance it instead of waiting. File times (mtime) stay the file
 * system's. */
void cf_inbox_set_clock (CfInbox *self, CfClock *clock);
void cf_inbox_start (CfInbox *self);
/* Drops monitors and timers; results of work in flight are discarded. */
void cf_inbox_stop (CfInbox *self);
/* Reload: re-derives the projects (and their monitors) and the timer. */
void cf_inbox_set_config (CfInbox *self, CfConfig *config);
/* Asks for a full scan (asynchronous, coalesced with one in flight). */
void cf_inbox_rescan (CfInbox *self);

/* The ready, parsed tasks: a new array of CfInboxTask copies it owns,
 * sorted by priority, then queued_at, project and id. */
GPtrArray *cf_inbox_list_pending (CfInbox *self);
/* Whether to take a task; TASK is a view valid during the call only. */
typedef gboolean (*CfInboxAcceptFunc) (const CfInboxTask *task, gpointer user_data);
/* For each project (only PROJECT, an absolute project directory as in
 * CfInboxTask, when not NULL), the first of its ready, parsed tasks in queue
 * order (priority, then queued_at, then id) that ACCEPT takes (NULL: the
 * first): a new array of CfInboxTask copies in no particular order. Each
 * project keeps its tasks sorted as they come and go, so this costs about
 * one ACCEPT call per project, not a walk over the whole queue. */
GPtrArray *cf_inbox_list_heads (CfInbox *self, const char *project, CfInboxAcceptFunc accept,
                                gpointer user_data);
/* TRUE when a listed task's frontmatter routes it to a remote provider. */
gboolean cf_inbox_has_routed (CfInbox *self);
/* The dispatcher took the task: it leaves the listing and the pending
 * count, and comes back only if a scan started after this call (or a
 * move into the inbox) finds it there again. */
void cf_inbox_forget (CfInbox *self, const char *project, const char *id);

/* Absolute project directories (owned copies, sorted). */
GPtrArray *cf_inbox_list_projects (CfInbox *self);
gboolean cf_inbox_has_project (CfInbox *self, const char *project);

/* Completed full scans and task files parsed since creation (tests, metrics). */
guint64 cf_inbox_get_scans (CfInbox *self);
guint64 cf_inbox_get_parses (CfInbox *self);

G_END_DECLS
