/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the files of the on-disk queue (cf-taskq*.c) and nothing else:
 * their paths, the durable file helpers, the meta file and the one move
 * transaction. The public contract is cf-taskq.h. */

#include <dirent.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf-taskq.h"

G_BEGIN_DECLS

#define TASKQ_META_VERSION 1
#define TASKQ_LOCK_FILE ".lock"
#define TASKQ_STATUS_FILE "status.json"
#define TASKQ_REASON_SUFFIX ".reason.txt"
#define TASKQ_DELEGATED_SUFFIX ".md.delegated"
#define TASKQ_VERDICT_SUFFIX ".verdict"
/* "done" or "failed", a newline, the reason: a few hundred bytes. */
#define TASKQ_VERDICT_MAX_SIZE 8192
/* Meta files stay small (bounded history); anything bigger is not ours. */
#define TASKQ_META_MAX_SIZE (1024 * 1024)
/* A meta file is one flat object. */
#define TASKQ_META_MAX_DEPTH 8
/* Markers are a few hundred bytes (cf_delegate_marker_to_json). */
#define TASKQ_DELEGATED_MAX_SIZE 4096
/* A finished task file is re-read to append a footer; it may have grown
 * while it ran (tools append logs), so allow more than an inbox file. */
#define TASKQ_FOOTER_SOURCE_MAX_SIZE (16 * 1024 * 1024)

/* "absent", "inbox", "active", "done", "failed", by CfTaskPlace. */
extern const char *const taskq_place_names[CF_TASK_PLACE_FAILED + 1];
/* The four directories, in the order the queue looks at them. */
extern const CfTaskPlace taskq_task_places[4];
gboolean taskq_place_from_string (const char *text, CfTaskPlace *out);

/* --- Small owners (cf-taskq-file.c) --- */

typedef int FileDescriptor;

static inline void
taskq_close_fd (int fd)
{
  close (fd);
}

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (FileDescriptor, taskq_close_fd, -1)

static inline void
taskq_close_dir (DIR *dir)
{
  closedir (dir);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DIR, taskq_close_dir)

/* --- Errors, arguments and paths (cf-taskq.c) --- */

/* Sets a CF_TASKQ_ERROR naming PATH (NOT_FOUND for ENOENT, EXISTS for
 * EEXIST/ENOTEMPTY, else FAILED); returns FALSE. */
gboolean taskq_errno_error (GError **error, const char *path, int saved_errno);
/* NOT_FOUND: "task 'ID' is not in WHERE of PROJECT"; returns FALSE. */
gboolean taskq_not_in_place (GError **error, const char *id, const char *project, const char *where);
gboolean taskq_check_project (const char *project, GError **error);
gboolean taskq_check_id (const char *id, GError **error);
gboolean taskq_check_args (const char *project, const char *id, GError **error);
char *taskq_queue_path (const char *project, const char *child);
char *taskq_place_dir (const char *project, CfTaskPlace place);
char *taskq_meta_path (const char *project, const char *id);
char *taskq_marker_path (const char *project, const char *id);
gboolean taskq_is_plain_file_name (const char *name);
char *taskq_sanitized_stem (const char *name);
char *taskq_format_time (gint64 usec, gboolean fraction);
gboolean taskq_parse_time (const char *text, gint64 *out);
gboolean taskq_has_md_suffix (const char *name);
char *taskq_id_of_task_file (const char *name);
int taskq_compare_strings (gconstpointer a, gconstpointer b);
gboolean taskq_is_regular_entry (DIR *dir, const struct dirent *entry);

/* --- Durable file helpers (cf-taskq-file.c): the only place the queue
 * fsyncs, renames and writes files atomically. --- */

/* The temporary name of every atomic write of the queue:
 * "<dir>/.<name>.cftmp-XXXXXX" — hidden, so the inbox scan and people's
 * tools skip it, and spelled so recovery (cf_taskq_recover) removes it in
 * any queue directory without touching anybody else's files. */
#define TASKQ_TEMP_INFIX ".cftmp-"
gboolean taskq_is_temp_name (const char *name);

typedef enum {
  TASKQ_WRITE_REPLACE = 0,          /* replaces whatever PATH holds */
  TASKQ_WRITE_NO_REPLACE = 1 << 0,  /* CF_TASKQ_ERROR_EXISTS when PATH exists */
  TASKQ_WRITE_NOT_DURABLE = 1 << 1, /* atomic only: no fsync (status.json) */
} TaskqWriteMode;

/* Writes DATA to a temporary file beside PATH (mode 0644), fsyncs it,
 * renames it to PATH and fsyncs the directory. A failure leaves nothing
 * behind but, after a crash, the temporary file recovery removes (crash
 * point "taskq-write-temp": written, not yet renamed). */
gboolean taskq_write_atomic (const char *path, const char *data, gsize length,
                             TaskqWriteMode mode, GError **error);
/* The same, replacing: what meta, reason, verdict and marker files use. */
gboolean taskq_write_durably (const char *path, const char *data, gsize length, GError **error);
gboolean taskq_fsync_dir (const char *path, GError **error);
/* fsync of the directories holding A and B (once when they are the same). */
gboolean taskq_fsync_parents (const char *a, const char *b, GError **error);
gboolean taskq_move_no_replace (const char *from, const char *to, GError **error);
gboolean taskq_move_replace (const char *from, const char *to, GError **error);
const char *taskq_file_kind (mode_t mode);
gboolean taskq_set_not_regular (GError **error, const char *path, mode_t mode);
int taskq_open_regular (const char *path, gsize max, struct stat *st, GError **error);
gboolean taskq_read_regular (const char *path, gsize max, char **out_data, gsize *out_length,
                             GError **error);
gboolean taskq_require_regular (const char *path, GError **error);
gboolean taskq_exists_no_follow (const char *path, struct stat *st);
gboolean taskq_open_dir (const char *path, DIR **out, GError **error);
/* For files whose removal only tidies up: a failure is logged, not fatal. */
void taskq_remove_quietly (const char *path, const char *id);

/* --- Meta files (cf-taskq-meta.c) --- */

/* *out is NULL when there is no meta file. */
gboolean taskq_meta_load (const char *project, const char *id, JsonObject **out, GError **error);
JsonObject *taskq_meta_new (const char *id);
void taskq_set_string_or_null (JsonObject *object, const char *name, const char *value);
void taskq_set_time (JsonObject *object, const char *name, gint64 usec);
guint taskq_meta_attempts (JsonObject *object);
void taskq_meta_annotate (JsonObject *object, gint64 now_usec, JsonObject *event);
void taskq_meta_update (JsonObject *object, CfTaskPlace place, const char *outcome,
                        gint64 now_usec, JsonObject *event);
char *taskq_meta_to_data (JsonObject *object, gsize *length);
gboolean taskq_meta_store (const char *project, const char *id, JsonObject *object,
                           GError **error);
void taskq_meta_restore (const char *project, const char *id, const char *old_data,
                         gsize old_length);
const char *taskq_string_member (JsonObject *object, const char *name);

/* --- The move transaction (cf-taskq-move.c) --- */

typedef struct _TaskqMove TaskqMove;

typedef enum {
  TASKQ_MOVE_REPLACE = 1 << 0,         /* the destination may hold an older file */
  TASKQ_MOVE_ANY_KIND = 1 << 1,        /* move symlinks, FIFOs, directories too */
  TASKQ_MOVE_RESTORE_META = 1 << 2,    /* a failed rename puts the old meta file back */
  TASKQ_MOVE_SET_ASIDE_CORRUPT = 1 << 3, /* a corrupt meta file is moved aside, not fatal */
} TaskqMoveFlags;

/* One move of a task file between the queue's directories, the recipe
 * every move shares: under the queue lock, find the file in the first of
 * FROM that has it, let CHECK refuse, let PREPARE change the file, record
 * the move in the meta file (UPDATE edits it, the write is durable), let
 * BEFORE_RENAME write what else the move depends on, rename (RENAME may
 * pick another destination when the rename fails), fsync both
 * directories, and let AFTER tidy up. Any hook may be NULL. */
struct _TaskqMove {
  /* What to move. */
  const char *project;
  const char *id;              /* NULL: FILE is not a task id (no meta file) */
  const char *file;            /* the name in each FROM directory; NULL = "<id>.md" */
  const CfTaskPlace *from;
  guint n_from;
  const char *from_names;      /* for NOT_FOUND: "active/ or inbox/" */
  CfTaskPlace to;
  TaskqMoveFlags flags;
  gint64 now_usec;
  const char *fault;           /* CF_FAULT_FAIL name that fails the meta write, or NULL */
  gpointer data;               /* the hooks' */

  gboolean (*check) (TaskqMove *move, GError **error);
  gboolean (*prepare) (TaskqMove *move, GError **error);
  void (*update) (TaskqMove *move, JsonObject *meta);
  gboolean (*before_rename) (TaskqMove *move, GError **error);
  /* Another destination after the rename to DEST failed with SAVED_ERRNO
   * (moved there without replacing), or NULL to fail. */
  char *(*rename_fallback) (TaskqMove *move, int saved_errno);
  void (*after) (TaskqMove *move);

  /* Filled in as the move goes. */
  CfTaskPlace source_place;
  char *source;
  char *dest;
  JsonObject *meta;            /* NULL when ID is NULL */
  char *meta_note;             /* what SET_ASIDE_CORRUPT did, or NULL */
};

gboolean taskq_move_run (TaskqMove *move, GError **error);
void taskq_move_clear (TaskqMove *move);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TaskqMove, taskq_move_clear)

/* --- Queue I/O off the main loop (cf-taskq-async.c) --- */

typedef enum {
  TASKQ_LANE_MOVES,            /* finish, return, submit, operator moves */
  TASKQ_LANE_LIST,             /* ListTasks: one at a time */
} TaskqLane;

/* Runs FUNC for TASK in the queue's own bounded thread pool for LANE (not
 * GLib's shared pool, which state writes need); the task
 * completes on the context it was created in. Takes a reference. */
void taskq_run_in_pool (GTask *task, GTaskThreadFunc func, TaskqLane lane);

/* --- ListTasks (cf-taskq-list.c) --- */

/* Every move and submission bumps the queue's generation: a listing that
 * started before it cannot answer a caller who came after it, and the
 * cached directory listings are read again. */
void taskq_changed (const char *project);
guint64 taskq_generation (void);

/* What the listings did since the process started, for tests. */
typedef struct {
  guint runs;                  /* walks over the projects */
  guint dir_reads;             /* directories read (readdir) */
  guint files_parsed;          /* task files read and parsed for their title */
} TaskqListStats;
void taskq_list_stats (TaskqListStats *out);

G_END_DECLS
