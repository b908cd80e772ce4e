/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One line of a Claude Code transcript (`transcript_path`, JSON lines), as
 * far as the verdict needs it (CLAUDE-CODE.md, "Structured usage data").
 * Pure: the caller reads the bytes appended since its last read. */

/* Longer lines are refused: an assistant line with a long answer is not an
 * API error line, and the daemon needs only those. */
#define CF_TRANSCRIPT_LINE_MAX (1024 * 1024)
#define CF_TRANSCRIPT_MAX_DEPTH 64
/* The text is kept up to this many bytes, cut on a UTF-8 boundary. */
#define CF_TRANSCRIPT_TEXT_MAX 1024

#define CF_TRANSCRIPT_ERROR (cf_transcript_error_quark ())
GQuark cf_transcript_error_quark (void);

typedef enum {
  CF_TRANSCRIPT_ERROR_TOO_LARGE,  /* more than CF_TRANSCRIPT_LINE_MAX bytes */
  CF_TRANSCRIPT_ERROR_SYNTAX,     /* not JSON (or too deep, NUL, not UTF-8) */
  CF_TRANSCRIPT_ERROR_NOT_OBJECT, /* JSON, but not an object */
} CfTranscriptError;

typedef struct {
  gboolean assistant;          /* "type": "assistant" of the main conversation (not a sidechain) */
  gboolean is_api_error;       /* "isApiErrorMessage": true */
  char *error;                 /* "error": "rate_limit", "server_error", … or NULL */
  char *api_error;             /* "apiError": "usage_limit_reached", … or NULL */
  int api_error_status;        /* "apiErrorStatus": 429, 500, …; 0 = none */
  gint64 resets_at;            /* "quotaLimits"."resetsAt" (Unix seconds); 0 = none */
  char *rate_limit_type;       /* "quotaLimits"."rateLimitType": "five_hour", … or NULL */
  char *text;                  /* the message's text blocks, joined; at most CF_TRANSCRIPT_TEXT_MAX */
  gint64 timestamp;            /* "timestamp" (Unix seconds); 0 = none */
} CfTranscriptEntry;

/* Parses LINE (LENGTH bytes, (gsize) -1 = NUL-terminated; a trailing
 * newline is allowed). Every field of the wrong JSON type is dropped, not an
 * error. Errors are CF_TRANSCRIPT_ERROR, one line; on error *OUT is cleared. */
gboolean cf_transcript_line_parse (const char *line,
                                   gsize length,
                                   CfTranscriptEntry *out,
                                   GError **error);
void cf_transcript_entry_clear (CfTranscriptEntry *entry);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CfTranscriptEntry, cf_transcript_entry_clear)

/* Reading a transcript as it grows: only the bytes appended since the last
 * read, at most CF_TRANSCRIPT_READ_MAX of them per pass. */
#define CF_TRANSCRIPT_READ_MAX (1024 * 1024)

typedef struct {
  guint64 offset;              /* file offset of the next byte to read */
  gboolean skipping;           /* inside a line longer than CF_TRANSCRIPT_LINE_MAX: dropped up to its newline */
} CfTranscriptCursor;

/* BYTES (LENGTH) are the transcript's bytes from CURSOR->offset on. Each
 * complete line is parsed; every main-conversation assistant line replaces
 * *NEWEST (lines that do not parse, and the other lines, are skipped). A
 * partial last line is left for the next pass (the offset stops at its
 * start), unless it already holds CF_TRANSCRIPT_LINE_MAX bytes: then it is
 * dropped up to its newline, on this pass and the next ones. Advances
 * CURSOR->offset past what was consumed; returns the number of assistant
 * lines seen. Pure. */
guint cf_transcript_cursor_feed (CfTranscriptCursor *cursor,
                                 const char *bytes,
                                 gsize length,
                                 CfTranscriptEntry *newest);

G_END_DECLS
