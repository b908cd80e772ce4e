/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by cf-pane.c (the classifier) and cf-pane-patterns.c (the pattern
 * table and the expressions it matches with) only; nothing else includes
 * it. */

#include "cf-pane.h"

G_BEGIN_DECLS

/* The pattern table (CF_PANE_PATTERNS_VERSION): cf_pane_n_patterns rows. */
extern const CfPanePatternInfo cf_pane_pattern_table[];
extern const guint cf_pane_n_patterns;
/* The dim placeholders left in the box after an API error; NULL-terminated. */
extern const char *const cf_pane_placeholders[];

typedef struct {
  GRegex **patterns;           /* one per row of cf_pane_pattern_table */
  GRegex *spinner;
  GRegex *interrupt;
  GRegex *elapsed;
  GRegex *menu_cursor;
  GRegex *menu_option;
  GRegex *resume;
  GRegex *retry;
  GRegex *resume_hint;
  GRegex *shell_prompt;
  GRegex *banner;
  GRegex *pane_dead;
  GRegex *zone;
  GRegex *footer_gap;
  GRegex *suggestion;
} CfPaneRegexes;

/* The expressions of cf-pane-patterns.c, compiled at the first call. */
const CfPaneRegexes *cf_pane_regexes (void);

G_END_DECLS
