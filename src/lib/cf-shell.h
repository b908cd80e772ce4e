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

/* TRUE when NAME is a non-empty session name made only of [A-Za-z0-9_-].
 * '.' and ':' are refused: tmux 3.3 replaces them with '_' in session names
 * ("a.b" becomes "a_b"), so "=a.b:" would never match the session. */
gboolean cf_session_name_is_valid (const char *name);

/* TRUE when COMMAND (tmux's pane_current_command) names an interactive
 * shell: the pane is back at its prompt, nothing runs in the foreground. */
gboolean cf_shell_is_shell_command (const char *command);

G_END_DECLS
