/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "cf-config.h"

G_BEGIN_DECLS

/* SubmitTask (ARCHITECTURE.md 4.4): builds the task file a submission
 * becomes. Pure: the caller supplies "now" and the random suffix. */

typedef struct {
  CfPriority priority;         /* default CF_PRIORITY_DEFAULT */
  char *model;                 /* NULL = by priority */
  GStrv tags;                  /* NULL = none */
  char *preferred_ai;          /* NULL = auto */
  gboolean allow_delegation;
  gboolean allow_delegation_set;
  gboolean needs_claude_code;
  gboolean needs_claude_code_set;
} CfSubmitOptions;

void cf_submit_options_clear (CfSubmitOptions *options);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CfSubmitOptions, cf_submit_options_clear)

/* Validates NAME = VALUE for one option (NAME as in SubmitTask's options;
 * VALUE's type: priority/model/preferred_ai "s", tags "as", the booleans
 * "b"); FALSE with G_IO_ERROR_INVALID_ARGUMENT and a readable message. */
gboolean cf_submit_options_set_string (CfSubmitOptions *options, const char *name,
                                       const char *value, GError **error);
gboolean cf_submit_options_set_strv (CfSubmitOptions *options, const char *name,
                                     const char *const *value, GError **error);
gboolean cf_submit_options_set_boolean (CfSubmitOptions *options, const char *name,
                                        gboolean value, GError **error);

/* Task id: "<UTC yyyymmdd-hhmmss>-<slug of TITLE, ≤ 40 chars>-<SUFFIX as 4 hex>". */
char *cf_submit_task_id (const char *title, gint64 now_usec, guint32 suffix);

/* The file text: YAML frontmatter (title and the options that were set),
 * then BODY. FALSE when TITLE is empty or either is not UTF-8, has NUL
 * bytes, or the whole exceeds a task's maximum size. */
char *cf_submit_compose (const char *title, const char *body, const CfSubmitOptions *options,
                         GError **error);

G_END_DECLS
