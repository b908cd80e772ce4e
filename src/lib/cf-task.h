/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "cf-config.h"

G_BEGIN_DECLS

/* A task file (ARCHITECTURE.md 4.2): optional YAML frontmatter between a
 * first line "---" and a closing "---" (or "...") line, then the Markdown
 * body sent to Claude. Pure: the caller reads the file. */

/* Larger files are refused: a task is a prompt, not a data set, and the
 * limit bounds what one inbox entry can cost the daemon. */
#define CF_TASK_MAX_SIZE 1048576
#define CF_TASK_ID_MAX_LENGTH 200
#define CF_TASK_MODEL_MAX_LENGTH 128

#define CF_TASK_ERROR (cf_task_error_quark ())
GQuark cf_task_error_quark (void);

/* One code per reason a task file is refused. Messages are one line,
 * "ID.md:LINE:COL: KEY: message" (KEY only for a field's problem), or
 * "ID.md: message" when no position applies; LINE and COL are 1-based and
 * count in the whole file, frontmatter delimiters included. */
typedef enum {
  CF_TASK_ERROR_INVALID_ID,    /* the id is not a task id (cf_task_id_is_valid) */
  CF_TASK_ERROR_TOO_LARGE,     /* more than CF_TASK_MAX_SIZE bytes */
  CF_TASK_ERROR_NUL_BYTE,      /* the message names the byte offset */
  CF_TASK_ERROR_ENCODING,      /* not UTF-8; the message names the byte offset */
  CF_TASK_ERROR_UNTERMINATED,  /* "---" opens a frontmatter that never closes */
  CF_TASK_ERROR_SYNTAX,        /* YAML refused: syntax, duplicate key, anchors/aliases,
                                  several documents, nesting deeper than 32 */
  CF_TASK_ERROR_NOT_MAPPING,   /* the frontmatter is a list or a single value */
  CF_TASK_ERROR_TYPE,          /* a list where a value is expected, a non-boolean… */
  CF_TASK_ERROR_VALUE,         /* unknown priority or complexity_hint, invalid model */
  CF_TASK_ERROR_EMPTY,         /* neither a title nor a body: nothing to send */
} CfTaskError;

typedef enum {
  CF_COMPLEXITY_UNSET,
  CF_COMPLEXITY_LOW,
  CF_COMPLEXITY_MEDIUM,
  CF_COMPLEXITY_HIGH,
} CfComplexity;

/* Where the task's session works (ARCHITECTURE.md 4.9): UNSET follows
 * projects.isolation; a value set here was asked for by the task itself. */
typedef enum {
  CF_TASK_ISOLATION_UNSET,
  CF_TASK_ISOLATION_SHARED,
  CF_TASK_ISOLATION_WORKTREE,
} CfTaskIsolation;

/* Most tasks one task may wait for; a longer list is refused. */
#define CF_TASK_MAX_DEPENDENCIES 64

typedef enum {
  CF_PREFERRED_AI_AUTO,
  CF_PREFERRED_AI_CLAUDE_CODE,
  CF_PREFERRED_AI_GPU,
  CF_PREFERRED_AI_GEMINI,
  CF_PREFERRED_AI_CLAUDE_API,
  CF_PREFERRED_AI_OTHER,       /* a value this version does not know; routing keeps it local */
} CfPreferredAi;

typedef struct {
  char *id;
  char *title;                 /* never NULL or empty: frontmatter, else first "# " heading, else id */
  gboolean title_from_frontmatter;
  char *body;                  /* never NULL; CRLF and CR → LF, leading blank lines and trailing
                                  white space removed */
  gboolean has_frontmatter;
  CfPriority priority;         /* default CF_PRIORITY_DEFAULT */
  GStrv tags;                  /* never NULL */
  gboolean needs_claude_code;
  CfPreferredAi preferred_ai;
  char *preferred_ai_name;     /* never NULL: the known spelling, or the unknown value as written */
  gboolean allow_delegation;
  CfComplexity complexity_hint;
  char *model;                 /* NULL: chosen by priority (cf_task_model) */
  CfTaskIsolation isolation;   /* default CF_TASK_ISOLATION_UNSET */
  GStrv depends_on;            /* never NULL; valid task ids of the same project, no
                                  duplicates, never the task's own id */
  GStrv warnings;              /* never NULL; "ID.md:LINE:COL: text", e.g. unknown keys */
} CfTask;

/* A file name without ".md": [A-Za-z0-9._-]+, not starting with '.', at
 * most CF_TASK_ID_MAX_LENGTH characters. Such an id is one safe path
 * component ("..", "/" and hidden files are impossible). */
gboolean cf_task_id_is_valid (const char *id);

/* DATA need not be NUL-terminated. A leading UTF-8 byte-order mark is
 * skipped; byte offsets in messages still count it. An empty body is fine
 * when the frontmatter has a title; with neither it is CF_TASK_ERROR_EMPTY.
 * Unknown frontmatter keys are ignored with a warning (tasks come from many
 * tools); every other problem is an error. */
CfTask *cf_task_parse (const char *id,
                       const char *data,
                       gsize length,
                       GError **error);
void cf_task_free (CfTask *task);

/* Replaces {task} (the id), {title}, {body} and, when PROJECT_NAME is not
 * NULL, {project} in TEMPLATE. Substituted text is not scanned again, and
 * any other {word} stays as written. */
char *cf_task_render_message (const CfTask *task,
                              const char *project_name,
                              const char *template);

/* The task's own model, else the configured one for its priority. */
const char *cf_task_model (const CfTask *task, const CfConfig *config);

const char *cf_complexity_to_string (CfComplexity complexity);   /* NULL for UNSET */
const char *cf_task_isolation_to_string (CfTaskIsolation isolation); /* NULL for UNSET */
const char *cf_preferred_ai_to_string (CfPreferredAi preferred); /* NULL for OTHER */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfTask, cf_task_free)

G_END_DECLS
