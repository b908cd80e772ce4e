/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The one place that knows Claude Code's command line (ARCHITECTURE.md §5,
 * CLAUDE-CODE.md): the dispatcher's launches, the switcher's relaunches and
 * resumes all build their argv here. Pure: no I/O. */

typedef enum {
  CF_CLAUDE_NEW_CONVERSATION,  /* --session-id UUID: the conversation id chosen beforehand */
  CF_CLAUDE_RESUME,            /* --resume UUID: go on with that conversation */
} CfClaudeConversation;

/* argv for COMMAND (tmux.claude_command, split like a shell would split
 * it, but never run by a shell), "--model MODEL" unless MODEL is NULL or
 * empty, "--dangerously-skip-permissions", then the conversation flag with
 * UUID (which must be a canonical UUID). NULL with ERROR set when COMMAND
 * is empty or not a word list, or UUID is not a UUID. */
GStrv cf_claude_argv (const char *command,
                      const char *model,
                      CfClaudeConversation conversation,
                      const char *uuid,
                      GError **error);

G_END_DECLS
