/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Renders user text (a config value, a task's frontmatter) for a one-line
 * message: control characters escaped (\n, \t, \r, \xNN), cut after 60
 * characters with "…", so an error stays one readable line. TEXT must be
 * UTF-8. Newly allocated. Pure. */
char *cf_text_for_message (const char *text);

G_END_DECLS
