/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "cf-task.h"

G_BEGIN_DECLS

/* The on-disk task queue of one project (ARCHITECTURE.md 4.2):
 *
 *   <project>/.agent-queue/{inbox,active,done,failed}/<id>.md
 *   <project>/.agent-queue/status.json
 *   <project>/.agent-queue/meta/<id>.json       attempts, claim, outcome, history
 *   <project>/.agent-queue/failed/<id>.reason.txt   why it failed, for the operator
 *   <project>/.agent-queue/.lock                 serialises the moves (flock)
 *
 * The directory holding <id>.md is the task's state. Every move is one
 * rename(2), made after the metadata it depends on is durable, followed by
 * an fsync of both directories, so a crash at any point leaves each task in
 * exactly one directory and never lowers an attempt count.
 *
 * All functions are synchronous and meant for a worker thread. They share
 * no state: calls on different projects run in parallel, and the ones that
 * write hold an exclusive flock on the project's .lock (0600) for their
 * duration, so calls on the same project (from threads or processes) are
 * serialised. Waiting for another process's flock lasts at most
 * CF_TASKQ_LOCK_WAIT_USEC: a lock held longer fails the call with
 * CF_TASKQ_ERROR_BUSY and changes nothing, so the caller retries later.
 *
 * PROJECT must be an absolute path; ids must pass cf_task_id_is_valid.
 * Anything else fails with CF_TASKQ_ERROR_INVALID_ARGUMENT before any file
 * is touched. Messages are one translated line naming the path involved. */

#define CF_TASKQ_QUEUE_DIR ".agent-queue"
#define CF_TASKQ_META_DIR "meta"

/* History entries kept per task in its meta file (oldest dropped first). */
#define CF_TASKQ_HISTORY_MAX 50

#define CF_TASKQ_ERROR (cf_taskq_error_quark ())
GQuark cf_taskq_error_quark (void);

typedef enum {
  CF_TASKQ_ERROR_FAILED,           /* an I/O error */
  CF_TASKQ_ERROR_INVALID_ARGUMENT, /* relative project, invalid id, unsafe file name */
  CF_TASKQ_ERROR_NOT_FOUND,        /* the task is not where the operation needs it */
  CF_TASKQ_ERROR_EXISTS,           /* the destination already holds a task with this id */
  CF_TASKQ_ERROR_NOT_REGULAR,      /* a symlink, FIFO, directory or device */
  CF_TASKQ_ERROR_TOO_LARGE,        /* over CF_TASK_MAX_SIZE */
  CF_TASKQ_ERROR_CORRUPT_META,     /* meta/<id>.json is not a meta file of this format */
  CF_TASKQ_ERROR_DELEGATED,        /* a remote job has the task (inbox/<id>.md.delegated) */
  CF_TASKQ_ERROR_BUSY,             /* the queue lock stayed held for CF_TASKQ_LOCK_WAIT_USEC */
  CF_TASKQ_ERROR_FINISHED,         /* finished: a kept verdict waits for its move (no requeue) */
  CF_TASKQ_ERROR_WRITING,          /* an inbox file some process still has open for writing */
} CfTaskqError;

/* The longest a call waits for a project's queue lock, and how often it
 * tries again meanwhile. */
#define CF_TASKQ_LOCK_WAIT_USEC (1 * G_USEC_PER_SEC)
#define CF_TASKQ_LOCK_RETRY_USEC (10 * 1000)

typedef enum {
  CF_TASK_PLACE_ABSENT,
  CF_TASK_PLACE_INBOX,
  CF_TASK_PLACE_ACTIVE,
  CF_TASK_PLACE_DONE,
  CF_TASK_PLACE_FAILED,
} CfTaskPlace;

typedef enum {
  CF_TASK_OUTCOME_DONE,
  CF_TASK_OUTCOME_FAILED,
} CfTaskOutcome;

/* "inbox", "active", "done", "failed"; "absent" for ABSENT. */
const char *cf_task_place_to_string (CfTaskPlace place);

typedef struct {
  char *id;
  char *path;
  gint64 mtime_usec;           /* µs since the epoch */
  goffset size;
  gboolean delegated;          /* inbox/<id>.md.delegated exists: a remote job has it */
} CfTaskqEntry;

typedef struct {
  char *name;                  /* the file name in inbox/, as on disk (maybe not UTF-8) */
  char *path;
  char *reason;                /* one translated, UTF-8 line */
} CfTaskqRejected;

/* What meta/<id>.json records. Strings are NULL when never set. */
typedef struct {
  guint attempts;              /* claims so far, minus the ones given back */
  CfTaskPlace place;           /* where the last recorded move put the task */
  char *session;               /* last claim */
  char *account;
  char *model;
  gint64 claimed_at_usec;      /* 0 = never claimed */
  gint64 finished_at_usec;     /* 0 = never finished */
  char *last_outcome;          /* claimed, requeued, returned, done, failed, rejected, recovered */
  char *last_reason;
  gint64 updated_at_usec;
  gboolean local_only;         /* never to be delegated (cf_taskq_set_local_only) */
} CfTaskMeta;

typedef struct {
  guint inbox;
  guint active;
  guint done;
  guint failed;
} CfTaskqCounts;

typedef struct {
  GPtrArray *active;           /* char* ids in active/: the caller requeues or keeps them */
  GPtrArray *duplicates;       /* char* ids present in more than one directory */
  GPtrArray *orphan_meta;      /* char* ids with a meta file and no task file */
  guint meta_created;          /* active tasks that had no meta file (given attempts = 1) */
  guint temp_files_removed;    /* leftovers of writes a crash interrupted */
} CfTaskqRecovery;

void cf_taskq_entry_free (CfTaskqEntry *entry);
void cf_taskq_rejected_free (CfTaskqRejected *rejected);
void cf_task_meta_free (CfTaskMeta *meta);
void cf_taskq_recovery_free (CfTaskqRecovery *recovery);

/* Creates .agent-queue and its inbox, active, done, failed and meta
 * directories (0755) when missing. PROJECT itself must exist. */
gboolean cf_taskq_ensure_dirs (const char *project, GError **error);

/* Path of <id>.md in PLACE (not ABSENT), or NULL for an invalid id or a
 * relative project. Newly allocated; does not touch the disk. */
char *cf_taskq_task_path (const char *project, CfTaskPlace place, const char *id);

/* The inbox's candidate tasks. Dotfiles (editor locks ".#x.md", swap files
 * ".x.md.swp") and names not ending in ".md" (x.md~, x.tmp, x.part,
 * x.md.delegated) are ignored. Symlinks (never followed), non-regular files,
 * files over CF_TASK_MAX_SIZE and names that are not "<valid id>.md" go to
 * *out_rejected (CfTaskqRejected*) with a reason: the caller moves them
 * with cf_taskq_reject. *out_entries (CfTaskqEntry*) is sorted by mtime,
 * then id. Either out argument may be NULL. */
gboolean cf_taskq_scan_inbox (const char *project,
                              GPtrArray **out_entries,
                              GPtrArray **out_rejected,
                              GError **error);

/* Reads and parses inbox/<id>.md (cf_taskq_read_task_in: any place but
 * ABSENT) without following a symlink or blocking on a FIFO. Parse errors
 * come back in CF_TASK_ERROR; file problems in CF_TASKQ_ERROR. An inbox
 * file that a process still has open for writing is not read (WRITING),
 * where the system lets the daemon know (a lease on a file it owns or with
 * CAP_LEASE, on a local file system). */
gboolean cf_taskq_read_task (const char *project,
                             const char *id,
                             CfTask **out,
                             GError **error);
gboolean cf_taskq_read_task_in (const char *project,
                                CfTaskPlace place,
                                const char *id,
                                CfTask **out,
                                GError **error);

/* Writes TEXT as inbox/<ID>.md (SubmitTask) under the queue lock: to a
 * temporary file that recovery removes after a crash, fsync'd, then
 * renamed in, never replacing an existing task (CF_TASKQ_ERROR_EXISTS). */
gboolean cf_taskq_submit (const char *project,
                          const char *id,
                          const char *text,
                          GError **error);

/* inbox → active. Counts the attempt (*out_attempt, 1 for the first) and
 * records SESSION, ACCOUNT and MODEL (each may be NULL) in the meta file
 * before the move. CF_TASKQ_ERROR_NOT_FOUND when the task is no longer in
 * the inbox, EXISTS when active/ already holds the id: nothing changes.
 * A crash after the meta write and before the move leaves the task in the
 * inbox with the attempt counted; counts err upward, never downward.
 * DELEGATED when the task has a marker: a remote job has it. */
gboolean cf_taskq_claim (const char *project,
                         const char *id,
                         const char *session,
                         const char *account,
                         const char *model,
                         gint64 now_usec,
                         guint *out_attempt,
                         GError **error);

/* active → done/ or failed/ (or inbox → there, for a delegated task that was
 * never claimed: its inbox/<id>.md.delegated marker is removed). REASON
 * (may be NULL) goes into the meta file and, for FAILED, into
 * failed/<id>.reason.txt. FOOTER (may be NULL) is appended to the task file
 * first, once: finishing again after a crash does not repeat it. An older
 * file with the same id in the destination is replaced. */
gboolean cf_taskq_finish (const char *project,
                          const char *id,
                          CfTaskOutcome outcome,
                          const char *reason,
                          const char *footer,
                          gint64 now_usec,
                          GError **error);

/* A finished task whose move failed (disk full, no descriptor left, the
 * queue lock held) keeps its verdict: cf_taskq_finish remembers OUTCOME and
 * REASON from its start until the move succeeds (in memory, and in
 * meta/<id>.verdict once a move failed, when the disk takes it). Meanwhile
 * the task stays in active/, the requeues refuse it (FINISHED), and calling
 * cf_taskq_finish again retries the move. TRUE when ID has such a verdict;
 * *out_reason (may be NULL) is newly allocated. */
/* Keeps OUTCOME and REASON as the pending verdict of ID (memory and
 * meta/<id>.verdict, best effort) before work that precedes the move and a
 * crash may interrupt (a worktree's conclusion): a restart then settles the
 * task with it instead of running it again. */
void cf_taskq_keep_verdict (const char *project,
                            const char *id,
                            CfTaskOutcome outcome,
                            const char *reason);

gboolean cf_taskq_pending_verdict (const char *project,
                                   const char *id,
                                   CfTaskOutcome *out_outcome,
                                   char **out_reason);

/* Moves an entry out of the inbox into failed/ whatever it is (symlink,
 * FIFO, directory, unreadable or broken task) and writes REASON to the meta
 * file (when the name holds a valid id) and to a .reason.txt file next to
 * it. NAME is a file name in the inbox when it ends in ".md", else a task
 * id ("x" and "x.md" both mean inbox/x.md). A corrupt meta file is moved
 * aside (meta/<id>.json.corrupt-<µs>) rather than blocking the rejection. */
gboolean cf_taskq_reject (const char *project,
                          const char *name,
                          const char *reason,
                          gint64 now_usec,
                          GError **error);

/* active (or done/failed: an operator's retry) → inbox. From active, the
 * attempt counted at the claim stays counted unless COUNT_ATTEMPT is FALSE
 * (the account ran out: not the task's fault); giving it back is done once
 * even if the requeue is repeated after a crash. EXISTS when the inbox
 * already holds a new file with this id. A failed task's reason file is
 * removed. */
gboolean cf_taskq_requeue (const char *project,
                           const char *id,
                           gboolean count_attempt,
                           gint64 now_usec,
                           GError **error);

/* The same, from active/ only (checked under the queue lock): what the
 * daemon uses when a running task ends early, so that a task another path
 * already moved to done/ or failed/ is never queued again. NOT_FOUND when
 * it is not in active/. */
gboolean cf_taskq_requeue_active (const char *project,
                                  const char *id,
                                  gboolean count_attempt,
                                  gint64 now_usec,
                                  GError **error);

/* Delegation (ARCHITECTURE.md 4.2, 4.8): a delegated task stays in the
 * inbox, next to its marker inbox/<id>.md.delegated, until it is finished
 * (cf_taskq_finish moves it out and removes the marker). The marker's
 * content is the caller's (cf_delegate_marker_to_json); these functions
 * only keep it durable.
 *
 * mark_delegated: writes MARKER to a temporary file, fsyncs it, renames it
 * in and fsyncs the inbox, all before returning, and notes the job in the
 * meta history. NOT_FOUND when the task left the inbox, EXISTS when it
 * already has a marker. */
gboolean cf_taskq_mark_delegated (const char *project,
                                  const char *id,
                                  const char *marker,
                                  const char *job_id,
                                  const char *provider,
                                  gint64 now_usec,
                                  GError **error);
/* The marker's bytes (NUL-terminated); NOT_FOUND when there is none. */
gboolean cf_taskq_read_delegated (const char *project,
                                  const char *id,
                                  char **out,
                                  gsize *out_length,
                                  GError **error);
/* Ids (char*, sorted) with a marker in the inbox, whether their task file
 * is still there or not. */
gboolean cf_taskq_list_delegated (const char *project, GPtrArray **out_ids, GError **error);
/* Removes the marker (none: fine). */
gboolean cf_taskq_remove_delegated (const char *project, const char *id, GError **error);
/* Records that the task is never to be delegated again (a submission
 * failed): CfTaskMeta.local_only, REASON in the history. Attempts and the
 * task's place are untouched. */
gboolean cf_taskq_set_local_only (const char *project,
                                  const char *id,
                                  const char *reason,
                                  gint64 now_usec,
                                  GError **error);

/* Takes the project's queue lock (creating .lock 0600, and making an older
 * one of ours 0600) for a caller that changes the queue by other means:
 * give it back with cf_taskq_unlock. NULL with ERROR when it cannot be
 * taken (BUSY: another process held it for CF_TASKQ_LOCK_WAIT_USEC).
 * Threads of this process wait for each other without that bound. */
typedef struct _CfTaskqLock CfTaskqLock;
CfTaskqLock *cf_taskq_lock (const char *project, GError **error);
void cf_taskq_unlock (CfTaskqLock *lock);

/* Attempts recorded for ID; 0 when there is no (readable) meta file. */
guint cf_taskq_attempts (const char *project, const char *id);

/* *out is NULL when ID has no meta file. */
gboolean cf_taskq_read_meta (const char *project,
                             const char *id,
                             CfTaskMeta **out,
                             GError **error);

/* Where <id>.md is (lstat only). If it is in several directories, which
 * only happens when someone copies files by hand, the first of inbox,
 * active, done, failed; cf_taskq_recover reports those. */
CfTaskPlace cf_taskq_locate (const char *project, const char *id);

/* Ids (char*, sorted) of the regular "<valid id>.md" files in PLACE. */
gboolean cf_taskq_list (const char *project,
                        CfTaskPlace place,
                        GPtrArray **out_ids,
                        GError **error);

gboolean cf_taskq_count (const char *project, CfTaskqCounts *out, GError **error);

/* Counts the directories and writes status.json atomically: inbox_count,
 * active_count, done_count, failed_count, delegated_count, updated_at
 * (ISO 8601 UTC). */
gboolean cf_taskq_write_status (const char *project,
                                guint delegated_count,
                                gint64 now_usec,
                                GError **error);

/* Start-up reconciliation after a crash: removes the temporary files of
 * interrupted writes (".<name>.cftmp-XXXXXX" in any queue directory, the
 * inbox included: every queue write, SubmitTask's too, makes its file
 * under that name first), gives active tasks without a meta file one (attempts
 * = 1: they were running), and reports what the caller must decide. */
gboolean cf_taskq_recover (const char *project,
                           gint64 now_usec,
                           CfTaskqRecovery **out,
                           GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfTaskqEntry, cf_taskq_entry_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfTaskqRejected, cf_taskq_rejected_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfTaskMeta, cf_task_meta_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfTaskqRecovery, cf_taskq_recovery_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfTaskqLock, cf_taskq_unlock)

G_END_DECLS
