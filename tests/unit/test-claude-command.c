/* SPDX-License-Identifier: MIT */
#include "cf-claude-command.h"

#define UUID "0b5e2a52-7f1c-4c7e-9d1e-3f6a2b8c9d01"

typedef struct {
  const char *name;
  const char *command;
  const char *model;
  CfClaudeConversation conversation;
  const char *uuid;
  const char *expected;        /* argv joined with '|', NULL = an error */
} Case;

static const Case cases[] = {
  { "new conversation", "claude", "sonnet", CF_CLAUDE_NEW_CONVERSATION, UUID,
    "claude|--model|sonnet|--dangerously-skip-permissions|--session-id|" UUID },
  { "resume keeps the model", "claude", "opus", CF_CLAUDE_RESUME, UUID,
    "claude|--model|opus|--dangerously-skip-permissions|--resume|" UUID },
  { "no model: Claude's default", "claude", NULL, CF_CLAUDE_RESUME, UUID,
    "claude|--dangerously-skip-permissions|--resume|" UUID },
  { "empty model is no model", "claude", "", CF_CLAUDE_NEW_CONVERSATION, UUID,
    "claude|--dangerously-skip-permissions|--session-id|" UUID },
  { "a path with a space, quoted", "'/opt/my claude/claude' --verbose", "sonnet",
    CF_CLAUDE_NEW_CONVERSATION, UUID,
    "/opt/my claude/claude|--verbose|--model|sonnet|--dangerously-skip-permissions|--session-id|" UUID },
  { "shell syntax stays a word", "claude;touch /tmp/x", "sonnet", CF_CLAUDE_NEW_CONVERSATION, UUID,
    "claude;touch|/tmp/x|--model|sonnet|--dangerously-skip-permissions|--session-id|" UUID },
  { "a model with shell syntax is one argument", "claude", "x$(id)", CF_CLAUDE_RESUME, UUID,
    "claude|--model|x$(id)|--dangerously-skip-permissions|--resume|" UUID },
  { "empty command", "", "sonnet", CF_CLAUDE_NEW_CONVERSATION, UUID, NULL },
  { "unbalanced quote", "'claude", "sonnet", CF_CLAUDE_NEW_CONVERSATION, UUID, NULL },
  { "not a uuid", "claude", "sonnet", CF_CLAUDE_RESUME, "--help", NULL },
  { "no uuid", "claude", "sonnet", CF_CLAUDE_RESUME, NULL, NULL },
};

static void
test_argv (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *c = &cases[i];
      g_autoptr(GError) error = NULL;
      g_auto(GStrv) argv = cf_claude_argv (c->command, c->model, c->conversation, c->uuid, &error);

      g_test_message ("case: %s", c->name);
      if (c->expected == NULL)
        {
          g_assert_null (argv);
          g_assert_nonnull (error);
          continue;
        }
      g_assert_no_error (error);
      {
        g_autofree char *joined = g_strjoinv ("|", argv);
        g_assert_cmpstr (joined, ==, c->expected);
      }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/claude-command/argv", test_argv);
  return g_test_run ();
}
