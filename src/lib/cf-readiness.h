/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* When a file in a project inbox is ready to be read and listed: the state
 * machine of one inbox entry (ARCHITECTURE.md 4.2; cf-inbox.h states the
 * rules). Pure: every time and clock comes in with the event.
 *
 * Two clocks are involved. The scan clock orders scans and events: each
 * scan of an inbox takes ++clock when it starts, an event records the
 * current value, so "event clock >= scan clock" means the event came after
 * the scan began and the scan's view of the file may be older than the
 * event. Times ("now", a scan's begin and end) are monotonic microseconds,
 * except the real-time ones that are compared with a file's mtime. Nothing
 * assumes they never go backwards.
 *
 * One entry lives in CfReadiness; cf_readiness_step () is the only thing
 * that changes it; cf_readiness_state () names where it stands. */

/* What the scan and the parse cache compare. A meta file is rewritten by
 * rename, so its inode changes even within one mtime tick. */
typedef struct {
  gint64 mtime;                /* task file, µs since the epoch */
  goffset size;
  gint64 meta_mtime;           /* 0 when there is no meta file */
  goffset meta_size;           /* -1 when there is no meta file */
  guint64 meta_ino;
} CfReadinessKey;

gboolean cf_readiness_key_equal (const CfReadinessKey *a, const CfReadinessKey *b);

typedef struct {
  gint64 settle_usec;          /* two scans this far apart saw the same size and mtime */
  gint64 old_mtime_usec;       /* a scan saw an mtime at least this old */
  gint64 writing_hold_usec;    /* a CREATED/CHANGED this young holds both rules back */
  gint64 refusal_grace_usec;   /* content written in place is refused after this */
} CfReadinessConfig;

/* 500 ms, 2 s, 3 s, 5 s: the values cf-inbox.h documents. */
extern const CfReadinessConfig cf_readiness_config_default;

/* The named states, in the order cf_readiness_state () checks them. */
typedef enum {
  CF_READINESS_GONE,           /* an event (or a rejection) said it left; older scans are ignored */
  CF_READINESS_CLAIMED,        /* the dispatcher took it; back only if a later scan sees it */
  CF_READINESS_UNSEEN,         /* an event announced it, no scan has seen it (yet) */
  CF_READINESS_WRITING,        /* not ready; a writer changed it (CREATED/CHANGED) */
  CF_READINESS_SETTLING,       /* not ready; waiting for a size and mtime that stand still */
  CF_READINESS_SIGNALLED,      /* not ready; closed or moved in: a scan begun after that makes
                                  it ready */
  CF_READINESS_READY,          /* ready, to be read */
  CF_READINESS_READING,        /* ready, being read (a parse of this version is in flight) */
  CF_READINESS_FAILED,         /* ready, but this version could not be read (I/O error) */
  CF_READINESS_LISTED,         /* ready and parsed: in the listing */
  CF_READINESS_N_STATES,
} CfReadinessState;

const char *cf_readiness_state_name (CfReadinessState state);

/* One entry. Zero-initialised it is a name nobody has seen yet. The fields
 * are for cf_readiness_step (); read them only through the functions below
 * (and the key, which is what the last applied scan saw). */
typedef struct {
  CfReadinessKey key;          /* as the last applied scan saw it */
  gboolean observed;           /* a scan saw the file now in the inbox */
  gint64 seen_mono;            /* when its current (mtime, size) was first seen */
  guint64 scan_stamp;          /* clock of the last scan that saw it */
  guint64 event_clock;         /* clock at its newest event */

  gboolean ready;
  gboolean ready_signal;       /* an event said "complete": binds to the next scan after it */
  guint64 signal_clock;
  gboolean moved_in;           /* the current file was renamed or moved in */
  gint64 writing_since;        /* time of the last CREATED/CHANGED, 0 = none */
  gint64 parse_failed_since;   /* the current file's first content failure, 0 = none */

  gboolean forgotten;          /* claimed */
  guint64 forgotten_clock;
  gboolean gone;
  guint64 gone_clock;

  gboolean parsed;
  CfReadinessKey parsed_key;
  gboolean parse_in_flight;
  CfReadinessKey inflight_key;
  gboolean failed;             /* could not be read nor rejected (an I/O error) */
  CfReadinessKey failed_key;
  gboolean failure_logged;
} CfReadiness;

/* What reading a file gave (the parser's verdict). */
typedef enum {
  CF_READINESS_PARSE_OK,
  CF_READINESS_PARSE_CHANGED,  /* the file changed meanwhile: read again once ready */
  CF_READINESS_PARSE_GONE,
  CF_READINESS_PARSE_REJECTED, /* moved to failed/ */
  CF_READINESS_PARSE_DEFERRED, /* does not parse, but may still be being written */
  CF_READINESS_PARSE_WRITING,  /* its writer still has it open: read again once ready */
  CF_READINESS_PARSE_ERROR,    /* neither readable nor rejectable */
} CfReadinessParse;

typedef enum {
  /* Monitor events. */
  CF_READINESS_EVENT_COMPLETE,   /* moved in / renamed in (moved), or closed after writing */
  CF_READINESS_EVENT_WRITING,    /* created or changed (the writer may still have it open) */
  CF_READINESS_EVENT_LEFT,       /* deleted, moved out, renamed away */
  CF_READINESS_EVENT_ATTRIBUTES, /* touch, chmod: a read error may be gone */
  /* Scans: SCAN_SEEN for each file a scan listed, then SCAN_END for every
   * entry of that inbox (the ones just seen included). */
  CF_READINESS_EVENT_SCAN_SEEN,
  CF_READINESS_EVENT_SCAN_END,
  /* Reading. */
  CF_READINESS_EVENT_READ_WANTED, /* the inbox queues reads: ACTION_READ if this one is due */
  CF_READINESS_EVENT_PARSED,     /* a read of KEY finished with OUTCOME */
  /* The rest. */
  CF_READINESS_EVENT_CLAIMED,    /* the dispatcher took it */
  CF_READINESS_EVENT_UNWATCHED,  /* its project is no longer watched */
} CfReadinessEventType;

typedef struct {
  CfReadinessEventType type;
  guint64 clock;               /* events: the current scan clock; scans: the scan's */
  gint64 now;                  /* monotonic µs when the event is applied */
  gint64 now_real;             /* READ_WANTED: real time, compared with the mtime */
  gboolean moved;              /* COMPLETE: a rename or move (complete by construction) */
  gboolean full;               /* SCAN_SEEN: a full scan (clears read errors) */
  CfReadinessKey key;          /* SCAN_SEEN: as seen; PARSED: the version that was read */
  gint64 scan_begin;           /* SCAN_SEEN: monotonic, when the scan began */
  gint64 scan_end;             /* SCAN_SEEN: monotonic, when it ended */
  gint64 scan_begin_real;      /* SCAN_SEEN: real time when it began */
  CfReadinessParse outcome;    /* PARSED */
} CfReadinessEvent;

typedef enum {
  CF_READINESS_ACTION_NONE = 0,
  CF_READINESS_ACTION_SCAN = 1 << 0,        /* scan its inbox now */
  CF_READINESS_ACTION_SCAN_LATER = 1 << 1,  /* scan its inbox at DEADLINE */
  CF_READINESS_ACTION_DROP = 1 << 2,        /* SCAN_END: forget the entry */
  CF_READINESS_ACTION_STALE = 1 << 3,       /* SCAN_SEEN: seen before it left; nothing changed */
  CF_READINESS_ACTION_READ = 1 << 4,        /* READ_WANTED: read KEY now */
  CF_READINESS_ACTION_MAY_REFUSE = 1 << 5,  /* READ: a content error may refuse the file */
  CF_READINESS_ACTION_STORE = 1 << 6,       /* PARSED: take the task's fields (it is current) */
  CF_READINESS_ACTION_LOG_FAILURE = 1 << 7, /* PARSED: log the read error (first one) */
} CfReadinessAction;

typedef struct {
  guint actions;               /* CfReadinessAction bits */
  gint64 deadline;             /* SCAN_LATER: monotonic µs */
} CfReadinessResult;

/* Applies EVENT to SELF. SELF may be NULL for an entry that does not exist
 * (an event for an unknown name, a parse result of a forgotten entry): then
 * only the actions are computed. */
CfReadinessResult cf_readiness_step (CfReadiness *self, const CfReadinessEvent *event,
                                     const CfReadinessConfig *config);

CfReadinessState cf_readiness_state (const CfReadiness *self);
/* In the pending count: seen by a scan, not gone, not claimed. */
gboolean cf_readiness_counted (const CfReadiness *self);
/* In the listing: counted, ready and parsed in its current version. */
gboolean cf_readiness_listed (const CfReadiness *self);

G_END_DECLS
