/* SPDX-License-Identifier: MIT */
#include "cf-claude-files.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-json.h"
#include "cf-shell.h"

#define CTL_NAME "claude-failoverctl"
/* Seconds Claude Code gives each hook; `hook` itself finishes within 2. */
#define HOOK_TIMEOUT 5

G_DEFINE_QUARK (cf-claude-files-error-quark, cf_claude_files_error)

/* The events the daemon acts on, in the order they are reported. */
static const char *const hook_events[] = {
  "Stop", "StopFailure", "SessionStart", "UserPromptSubmit", "Notification", NULL,
};

const char *const *
cf_claude_hook_events (void)
{
  return hook_events;
}

/* --- Changes --------------------------------------------------------------------- */

void
cf_claude_changes_init (CfClaudeChanges *changes)
{
  changes->added = g_ptr_array_new_with_free_func (g_free);
  changes->updated = g_ptr_array_new_with_free_func (g_free);
  changes->unchanged = g_ptr_array_new_with_free_func (g_free);
}

void
cf_claude_changes_clear (CfClaudeChanges *changes)
{
  g_clear_pointer (&changes->added, g_ptr_array_unref);
  g_clear_pointer (&changes->updated, g_ptr_array_unref);
  g_clear_pointer (&changes->unchanged, g_ptr_array_unref);
}

gboolean
cf_claude_changes_any (const CfClaudeChanges *changes)
{
  return changes->added->len > 0 || changes->updated->len > 0;
}

static char *
join (GPtrArray *items)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < items->len; i++)
    {
      if (i > 0)
        g_string_append (text, ", ");
      g_string_append (text, g_ptr_array_index (items, i));
    }
  return g_string_free (text, FALSE);
}

char *
cf_claude_changes_describe (const CfClaudeChanges *changes)
{
  g_autofree char *added = join (changes->added);
  g_autofree char *updated = join (changes->updated);

  if (changes->added->len > 0 && changes->updated->len > 0)
    /* TRANSLATORS: two lists of settings, e.g. "onboarding, Stop" */
    return g_strdup_printf (_("added %s; updated %s"), added, updated);
  if (changes->added->len > 0)
    /* TRANSLATORS: a list of settings, e.g. "onboarding, trust /srv/p, Stop" */
    return g_strdup_printf (_("added %s"), added);
  if (changes->updated->len > 0)
    /* TRANSLATORS: a list of settings, e.g. "Stop, statusLine" */
    return g_strdup_printf (_("updated %s"), updated);
  return g_strdup ("");
}

/* --- Text ------------------------------------------------------------------------ */

static gboolean
is_blank (const char *text, gsize length)
{
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isspace (text[i]))
      return FALSE;
  return TRUE;
}

JsonNode *
cf_claude_files_parse (const char *text, gsize length, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *invalid = NULL;

  if (is_blank (text, length))
    {
      JsonNode *empty = json_node_new (JSON_NODE_OBJECT);

      json_node_take_object (empty, json_object_new ());
      return empty;
    }
  if (!g_utf8_validate_len (text, length, &invalid))
    {
      g_set_error (error, CF_CLAUDE_FILES_ERROR, CF_CLAUDE_FILES_ERROR_INVALID,
                   _("not UTF-8 text (at byte offset %lu)"), (unsigned long) (invalid - text));
      return NULL;
    }
  /* json-glib would also take comments, single quotes and a second value,
   * and silently change integers beyond 64 bits: refuse what Claude Code
   * would refuse and what could not be written back unchanged. */
  if (!cf_json_check_syntax (text, length, CF_CLAUDE_FILES_MAX_DEPTH, CF_JSON_CHECK_EXACT,
                             &local_error))
    {
      g_set_error_literal (error, CF_CLAUDE_FILES_ERROR, CF_CLAUDE_FILES_ERROR_INVALID,
                           local_error->message);
      return NULL;
    }
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text, (gssize) length, &local_error))
    {
      g_set_error_literal (error, CF_CLAUDE_FILES_ERROR, CF_CLAUDE_FILES_ERROR_INVALID,
                           local_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error_literal (error, CF_CLAUDE_FILES_ERROR, CF_CLAUDE_FILES_ERROR_INVALID,
                           _("the top level is not a JSON object"));
      return NULL;
    }
  return json_parser_steal_root (parser);
}

char *
cf_claude_files_to_text (JsonNode *root, gboolean trailing_newline)
{
  g_autofree char *body = cf_json_to_string (root);

  return g_strconcat (body, trailing_newline ? "\n" : "", NULL);
}

static void
note (GPtrArray *list, const char *what)
{
  g_ptr_array_add (list, g_strdup (what));
}

/* --- .claude.json ---------------------------------------------------------------- */

static gboolean
is_trusted_entry (JsonObject *projects, const char *dir)
{
  JsonNode *entry = json_object_get_member (projects, dir);
  JsonNode *flag;

  if (entry == NULL || !JSON_NODE_HOLDS_OBJECT (entry))
    return FALSE;
  flag = json_object_get_member (json_node_get_object (entry), "hasTrustDialogAccepted");
  return flag != NULL && JSON_NODE_HOLDS_VALUE (flag) &&
         json_node_get_value_type (flag) == G_TYPE_BOOLEAN && json_node_get_boolean (flag);
}

/* DIR or one of its parents is trusted. */
static gboolean
is_covered (JsonObject *projects, const char *dir)
{
  g_autofree char *path = g_strdup (dir);

  for (;;)
    {
      char *slash;

      if (is_trusted_entry (projects, path))
        return TRUE;
      slash = strrchr (path, '/');
      if (slash == NULL || slash == path)
        return path[1] != '\0' && is_trusted_entry (projects, "/");
      *slash = '\0';
    }
}

/* DIR without trailing slashes; NULL when it is not absolute. */
static char *
normalize_dir (const char *dir)
{
  gsize length;

  if (dir == NULL || dir[0] != '/' || !g_utf8_validate (dir, -1, NULL))
    return NULL;
  length = strlen (dir);
  while (length > 1 && dir[length - 1] == '/')
    length--;
  return g_strndup (dir, length);
}

gboolean
cf_claude_merge_global (JsonObject *root, const char *const *project_dirs,
                        CfClaudeChanges *changes, GError **error)
{
  JsonNode *onboarding = json_object_get_member (root, "hasCompletedOnboarding");
  JsonNode *projects_node;
  JsonObject *projects;

  if (onboarding != NULL && JSON_NODE_HOLDS_VALUE (onboarding) &&
      json_node_get_value_type (onboarding) == G_TYPE_BOOLEAN && json_node_get_boolean (onboarding))
    note (changes->unchanged, "onboarding");
  else
    {
      json_object_set_boolean_member (root, "hasCompletedOnboarding", TRUE);
      note (changes->added, "onboarding");
    }

  if (project_dirs == NULL || project_dirs[0] == NULL)
    return TRUE;
  projects_node = json_object_get_member (root, "projects");
  if (projects_node != NULL && !JSON_NODE_HOLDS_NULL (projects_node) &&
      !JSON_NODE_HOLDS_OBJECT (projects_node))
    {
      g_set_error_literal (error, CF_CLAUDE_FILES_ERROR, CF_CLAUDE_FILES_ERROR_SHAPE,
                           _("\"projects\" is not an object"));
      return FALSE;
    }
  projects = projects_node != NULL && JSON_NODE_HOLDS_OBJECT (projects_node)
               ? json_node_get_object (projects_node) : NULL;

  for (guint i = 0; project_dirs[i] != NULL; i++)
    {
      g_autofree char *dir = normalize_dir (project_dirs[i]);
      g_autofree char *what = NULL;
      JsonNode *entry;

      if (dir == NULL)
        continue;
      what = g_strdup_printf ("trust %s", dir);
      if (projects != NULL && is_covered (projects, dir))
        {
          note (changes->unchanged, what);
          continue;
        }
      if (projects == NULL)
        {
          json_object_set_object_member (root, "projects", json_object_new ());
          projects = json_object_get_object_member (root, "projects");
        }
      entry = json_object_get_member (projects, dir);
      if (entry == NULL || JSON_NODE_HOLDS_NULL (entry))
        {
          json_object_set_object_member (projects, dir, json_object_new ());
          entry = json_object_get_member (projects, dir);
        }
      else if (!JSON_NODE_HOLDS_OBJECT (entry))
        {
          g_set_error (error, CF_CLAUDE_FILES_ERROR, CF_CLAUDE_FILES_ERROR_SHAPE,
                       _("\"projects\".\"%s\" is not an object"), dir);
          return FALSE;
        }
      json_object_set_boolean_member (json_node_get_object (entry), "hasTrustDialogAccepted", TRUE);
      note (changes->added, what);
    }
  return TRUE;
}

/* --- settings.json: hooks -------------------------------------------------------- */

static gboolean
needs_quoting (const char *word)
{
  for (const char *p = word; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("/._+-@%:,=", *p) == NULL)
      return TRUE;
  return *word == '\0';
}

/* Claude Code runs the commands with a shell. */
static char *
quote_word (const char *word)
{
  return needs_quoting (word) ? cf_shell_quote (word) : g_strdup (word);
}

/* WORD runs claude-failoverctl: PROGRAM itself (*SAME_PROGRAM), or one by
 * that name elsewhere. */
static gboolean
is_our_program (const char *word, const char *program, gboolean *same_program)
{
  g_autofree char *base = g_path_get_basename (word);

  *same_program = g_str_equal (word, program);
  return *same_program || g_str_equal (base, CTL_NAME);
}

/* A command that runs `claude-failoverctl hook EVENT` and nothing else. */
static gboolean
is_our_hook (const char *command, const char *event, const char *program, gboolean *same_program)
{
  g_auto(GStrv) words = NULL;
  int n = 0;

  if (!g_shell_parse_argv (command, &n, &words, NULL) || n != 3 ||
      !g_str_equal (words[1], "hook") || !g_str_equal (words[2], event))
    return FALSE;
  return is_our_program (words[0], program, same_program);
}

static JsonObject *
new_group (const char *command)
{
  JsonObject *hook = json_object_new ();
  JsonArray *hooks = json_array_new ();
  JsonObject *group = json_object_new ();

  json_object_set_string_member (hook, "type", "command");
  json_object_set_string_member (hook, "command", command);
  json_object_set_int_member (hook, "timeout", HOOK_TIMEOUT);
  json_array_add_object_element (hooks, hook);
  json_object_set_array_member (group, "hooks", hooks);
  return group;
}

/* Brings our hooks in GROUPS (Claude Code's [{"matcher", "hooks": [...]}])
 * to COMMAND; FALSE when there is none. *UPDATED tells whether one changed. */
static gboolean
update_existing (JsonArray *groups, const char *event, const char *program,
                 const char *command, gboolean *updated)
{
  gboolean found = FALSE;

  *updated = FALSE;
  for (guint i = 0; i < json_array_get_length (groups); i++)
    {
      JsonNode *group = json_array_get_element (groups, i);
      JsonNode *hooks_node;
      JsonArray *hooks;

      if (!JSON_NODE_HOLDS_OBJECT (group))
        continue;
      hooks_node = json_object_get_member (json_node_get_object (group), "hooks");
      if (hooks_node == NULL || !JSON_NODE_HOLDS_ARRAY (hooks_node))
        continue;
      hooks = json_node_get_array (hooks_node);
      for (guint j = 0; j < json_array_get_length (hooks); j++)
        {
          JsonNode *hook_node = json_array_get_element (hooks, j);
          JsonObject *hook;
          const char *type, *existing;
          gboolean same_program = FALSE;

          if (!JSON_NODE_HOLDS_OBJECT (hook_node))
            continue;
          hook = json_node_get_object (hook_node);
          type = json_object_get_string_member_with_default (hook, "type", NULL);
          existing = json_object_get_string_member_with_default (hook, "command", NULL);
          if (g_strcmp0 (type, "command") != 0 || existing == NULL ||
              !is_our_hook (existing, event, program, &same_program))
            continue;
          found = TRUE;
          if (!same_program)
            {
              json_object_set_string_member (hook, "command", command);
              *updated = TRUE;
            }
        }
    }
  return found;
}

gboolean
cf_claude_merge_hooks (JsonObject *root, const char *program, CfClaudeChanges *changes,
                       GError **error)
{
  JsonNode *hooks_node = json_object_get_member (root, "hooks");
  g_autofree char *quoted = quote_word (program);
  JsonObject *hooks;

  if (hooks_node == NULL)
    json_object_set_object_member (root, "hooks", json_object_new ());
  else if (!JSON_NODE_HOLDS_OBJECT (hooks_node))
    {
      g_set_error_literal (error, CF_CLAUDE_FILES_ERROR, CF_CLAUDE_FILES_ERROR_SHAPE,
                           _("\"hooks\" is not an object"));
      return FALSE;
    }
  hooks = json_object_get_object_member (root, "hooks");

  for (guint i = 0; hook_events[i] != NULL; i++)
    {
      const char *event = hook_events[i];
      g_autofree char *command = g_strdup_printf ("%s hook %s", quoted, event);
      JsonNode *groups_node = json_object_get_member (hooks, event);
      JsonArray *groups;
      gboolean updated = FALSE;

      if (groups_node == NULL)
        json_object_set_array_member (hooks, event, json_array_new ());
      else if (!JSON_NODE_HOLDS_ARRAY (groups_node))
        {
          g_set_error (error, CF_CLAUDE_FILES_ERROR, CF_CLAUDE_FILES_ERROR_SHAPE,
                       _("\"hooks\".\"%s\" is not a list"), event);
          return FALSE;
        }
      groups = json_object_get_array_member (hooks, event);

      if (!update_existing (groups, event, program, command, &updated))
        {
          json_array_add_object_element (groups, new_group (command));
          note (changes->added, event);
        }
      else
        note (updated ? changes->updated : changes->unchanged, event);
    }
  return TRUE;
}

/* --- settings.json: statusline and the bypass warning ------------------------------ */

static char *
statusline_command (const char *program, const char *then)
{
  g_autofree char *quoted = quote_word (program);
  g_autofree char *quoted_then = NULL;

  if (then == NULL)
    return g_strdup_printf ("%s statusline", quoted);
  quoted_then = cf_shell_quote (then);
  return g_strdup_printf ("%s statusline --then %s", quoted, quoted_then);
}

/* COMMAND is `claude-failoverctl statusline [--then CMD]`: *THEN gets CMD
 * (or NULL). */
static gboolean
is_our_statusline (const char *command, const char *program, gboolean *same_program,
                   char **then)
{
  g_auto(GStrv) words = NULL;
  int n = 0;

  *then = NULL;
  if (!g_shell_parse_argv (command, &n, &words, NULL) || n < 2 ||
      !g_str_equal (words[1], "statusline"))
    return FALSE;
  if (n != 2 && !(n == 4 && g_str_equal (words[2], "--then")))
    return FALSE;
  if (!is_our_program (words[0], program, same_program))
    return FALSE;
  if (n == 4)
    *then = g_strdup (words[3]);
  return TRUE;
}

gboolean
cf_claude_merge_statusline (JsonObject *root, const char *program, CfClaudeChanges *changes,
                            GError **error)
{
  JsonNode *node = json_object_get_member (root, "statusLine");
  JsonObject *status;
  JsonNode *command_node;
  const char *command;
  g_autofree char *then = NULL;
  g_autofree char *wanted = NULL;
  gboolean same_program = FALSE;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      JsonObject *created = json_object_new ();
      g_autofree char *fresh = statusline_command (program, NULL);

      json_object_set_string_member (created, "type", "command");
      json_object_set_string_member (created, "command", fresh);
      json_object_set_object_member (root, "statusLine", created);
      note (changes->added, "statusLine");
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, CF_CLAUDE_FILES_ERROR, CF_CLAUDE_FILES_ERROR_SHAPE,
                           _("\"statusLine\" is not an object"));
      return FALSE;
    }
  status = json_node_get_object (node);
  command_node = json_object_get_member (status, "command");
  if (command_node == NULL || !JSON_NODE_HOLDS_VALUE (command_node) ||
      json_node_get_value_type (command_node) != G_TYPE_STRING)
    {
      g_set_error_literal (error, CF_CLAUDE_FILES_ERROR, CF_CLAUDE_FILES_ERROR_SHAPE,
                           _("\"statusLine\".\"command\" is not a string"));
      return FALSE;
    }
  command = json_node_get_string (command_node);

  if (is_our_statusline (command, program, &same_program, &then))
    {
      if (same_program)
        {
          note (changes->unchanged, "statusLine");
          return TRUE;
        }
      wanted = statusline_command (program, then);
      note (changes->updated, "statusLine");
    }
  else
    {
      /* The operator's command keeps running, its output shown instead of ours. */
      wanted = statusline_command (program, *command != '\0' ? command : NULL);
      note (changes->added, "statusLine");
    }
  json_object_set_string_member (status, "type", "command");
  json_object_set_string_member (status, "command", wanted);
  return TRUE;
}

void
cf_claude_merge_bypass_accepted (JsonObject *root, CfClaudeChanges *changes)
{
  JsonNode *node = json_object_get_member (root, "skipDangerousModePermissionPrompt");

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_BOOLEAN && json_node_get_boolean (node))
    {
      note (changes->unchanged, "bypass-warning");
      return;
    }
  json_object_set_boolean_member (root, "skipDangerousModePermissionPrompt", TRUE);
  note (changes->added, "bypass-warning");
}

gboolean
cf_claude_merge_settings (JsonObject *root, const char *program, CfClaudeChanges *changes,
                          GError **error)
{
  cf_claude_merge_bypass_accepted (root, changes);
  if (program == NULL)
    return TRUE;
  return cf_claude_merge_hooks (root, program, changes, error) &&
         cf_claude_merge_statusline (root, program, changes, error);
}

/* --- Whole files ----------------------------------------------------------------- */

static gboolean
finish_text (JsonNode *root, const char *text, gsize length, const CfClaudeChanges *changes,
             char **out_text)
{
  gboolean trailing_newline = length == 0 || text[length - 1] == '\n';

  *out_text = cf_claude_changes_any (changes) ? cf_claude_files_to_text (root, trailing_newline)
                                              : NULL;
  return TRUE;
}

gboolean
cf_claude_files_merge_global_text (const char *text, gsize length,
                                   const char *const *project_dirs, char **out_text,
                                   CfClaudeChanges *changes, GError **error)
{
  g_autoptr(JsonNode) root = cf_claude_files_parse (text, length, error);

  *out_text = NULL;
  if (root == NULL ||
      !cf_claude_merge_global (json_node_get_object (root), project_dirs, changes, error))
    return FALSE;
  return finish_text (root, text, length, changes, out_text);
}

gboolean
cf_claude_files_merge_settings_text (const char *text, gsize length, const char *program,
                                     char **out_text, CfClaudeChanges *changes, GError **error)
{
  g_autoptr(JsonNode) root = cf_claude_files_parse (text, length, error);

  *out_text = NULL;
  if (root == NULL ||
      !cf_claude_merge_settings (json_node_get_object (root), program, changes, error))
    return FALSE;
  return finish_text (root, text, length, changes, out_text);
}
