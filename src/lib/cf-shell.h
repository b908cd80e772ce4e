/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Quotes TEXT for a POSIX shell with single quotes ('it'\''s'), always quoting
 * so that nothing in it is expanded. Newly allocated. Pure. */
char *cf_shell_quote (const char *text);

/* Quotes TEXT as one tmux command-language argument (double quotes, with
 * \\, \", \$, \~, \n, \r, \t and control bytes escaped) so that a control-mode
 * command line stays on one line and nothing is expanded. Newly allocated. */
char *cf_tmux_quote (const char *text);

/* TRUE when NAME is a non-empty session name made only of [A-Za-z0-9._-]. */
gboolean cf_session_name_is_valid (const char *name);

G_END_DECLS
