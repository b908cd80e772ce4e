/* SPDX-License-Identifier: MIT */
#include "cf-claude-command.h"

#include <glib/gi18n.h>

#include "cf-pane.h"

GStrv
cf_claude_argv (const char *command, const char *model, CfClaudeConversation conversation,
                const char *uuid, GError **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) words = NULL;
  g_autoptr(GError) parse_error = NULL;

  if (command == NULL || !g_shell_parse_argv (command, NULL, &words, &parse_error))
    {
      g_set_error (error, G_SHELL_ERROR, G_SHELL_ERROR_FAILED,
                   _("tmux.claude_command is not a command line: %s"),
                   parse_error != NULL ? parse_error->message : _("empty"));
      return NULL;
    }
  if (uuid == NULL || !cf_uuid_is_valid (uuid))
    {
      g_set_error (error, G_SHELL_ERROR, G_SHELL_ERROR_FAILED,
                   _("not a conversation id: %s"), uuid != NULL ? uuid : "(none)");
      return NULL;
    }
  g_strv_builder_addv (builder, (const char **) words);
  if (model != NULL && *model != '\0')
    {
      g_strv_builder_add (builder, "--model");
      g_strv_builder_add (builder, model);
    }
  g_strv_builder_add (builder, "--dangerously-skip-permissions");
  g_strv_builder_add (builder, conversation == CF_CLAUDE_RESUME ? "--resume" : "--session-id");
  g_strv_builder_add (builder, uuid);
  return g_strv_builder_end (builder);
}
