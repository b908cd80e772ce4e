/* SPDX-License-Identifier: MIT */
/* claude-failoverctl install-hooks ACCOUNT_HOME: merges the hooks that run
 * `claude-failoverctl hook EVENT` into a Claude Code account's settings.json,
 * leaving everything else in the file as it was. */
#include "cf-ctl.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <grp.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf-json.h"
#include "cf-shell.h"

#define PROGRAM "claude-failoverctl"
#define SETTINGS_NAME "settings.json"
/* Seconds Claude Code gives each hook; `hook` itself finishes within 2. */
#define CF_INSTALL_HOOK_TIMEOUT 5
/* A settings file is a few KiB; this only stops a wrong path early. */
#define CF_SETTINGS_MAX_SIZE (16 * 1024 * 1024)
/* Far deeper than any settings.json; bounds json-glib's recursion. */
#define CF_SETTINGS_MAX_DEPTH 128
#define CF_SETTINGS_NEW_MODE 0600

/* The events the daemon acts on, in the order they are reported. */
static const char *const hook_events[] = {
  "Stop", "StopFailure", "SessionStart", "UserPromptSubmit", "Notification",
};

typedef struct {
  char *command;
  gboolean json;
  gboolean help;
} InstallOptions;

static void
install_options_clear (InstallOptions *options)
{
  g_clear_pointer (&options->command, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (InstallOptions, install_options_clear)

typedef struct {
  GPtrArray *added;            /* static event names */
  GPtrArray *updated;
  GPtrArray *unchanged;
} Changes;

static void
changes_clear (Changes *changes)
{
  g_clear_pointer (&changes->added, g_ptr_array_unref);
  g_clear_pointer (&changes->updated, g_ptr_array_unref);
  g_clear_pointer (&changes->unchanged, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Changes, changes_clear)

static void
print_help (void)
{
  g_print ("%s\n\n%s\n\n%s\n%s\n%s\n%s\n\n%s\n",
           _("Usage: claude-failoverctl [--json] install-hooks ACCOUNT_HOME [--command PATH]"),
           _("Adds to ACCOUNT_HOME/settings.json (a Claude Code config directory, as in\n"
             "CLAUDE_CONFIG_DIR) the hooks that report Stop, StopFailure, SessionStart,\n"
             "UserPromptSubmit and Notification to claude-failoverd through\n"
             "`claude-failoverctl hook EVENT`. Every other setting and hook is kept; a hook\n"
             "already running `claude-failoverctl hook EVENT` is kept too, with its path\n"
             "brought up to date, so running this again changes nothing. The file is\n"
             "created (mode 0600) when missing and replaced atomically, keeping its mode;\n"
             "run as root, files are read and written as the owner of ACCOUNT_HOME.\n"
             "A file that is not a JSON object, or whose \"hooks\" is not an object, is\n"
             "left untouched."),
           _("Options:"),
           _("  --command PATH   the claude-failoverctl the hooks run (default: this one)"),
           _("  --json           print {\"path\", \"added\", \"updated\", \"unchanged\"}"),
           _("  -h, --help       show this help"),
           _("Exit status: 0 installed or already installed, 1 failure, 2 usage error."));
}

/* One line on stderr, as every claude-failoverctl error. */
static int
fail (int status, const char *format, ...) G_GNUC_PRINTF (2, 3);

static int
fail (int status, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("%s: %s\n", PROGRAM, message);
  return status;
}

/* --- The hook command ------------------------------------------------------------- */

static char *
running_program (GError **error)
{
  g_autofree char *path = g_file_read_link ("/proc/self/exe", error);

  if (path == NULL)
    return NULL;
  /* The binary was replaced (an upgrade) while this copy runs. */
  if (g_str_has_suffix (path, " (deleted)"))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                   _("%s no longer exists; pass --command PATH"), path);
      return NULL;
    }
  return g_steal_pointer (&path);
}

static gboolean
needs_quoting (const char *word)
{
  for (const char *p = word; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("/._+-@%:,=", *p) == NULL)
      return TRUE;
  return *word == '\0';
}

/* Claude Code runs the command with a shell. */
static char *
hook_command (const char *program, const char *event)
{
  g_autofree char *quoted = needs_quoting (program) ? cf_shell_quote (program) : g_strdup (program);

  return g_strdup_printf ("%s hook %s", quoted, event);
}

/* A command that runs `claude-failoverctl hook EVENT` (from any path, or as
 * PROGRAM under another name) and nothing else. *SAME_PROGRAM tells
 * whether it runs PROGRAM itself. */
static gboolean
is_our_command (const char *command, const char *event, const char *program,
                gboolean *same_program)
{
  g_auto(GStrv) words = NULL;
  g_autofree char *base = NULL;
  int n = 0;

  if (!g_shell_parse_argv (command, &n, &words, NULL) || n != 3 ||
      !g_str_equal (words[1], "hook") || !g_str_equal (words[2], event))
    return FALSE;
  base = g_path_get_basename (words[0]);
  *same_program = g_str_equal (words[0], program);
  return *same_program || g_str_equal (base, "claude-failoverctl");
}

/* --- Merging ------------------------------------------------------------------------ */

static JsonObject *
new_group (const char *command)
{
  JsonObject *hook = json_object_new ();
  JsonArray *hooks = json_array_new ();
  JsonObject *group = json_object_new ();

  json_object_set_string_member (hook, "type", "command");
  json_object_set_string_member (hook, "command", command);
  json_object_set_int_member (hook, "timeout", CF_INSTALL_HOOK_TIMEOUT);
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
              !is_our_command (existing, event, program, &same_program))
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

/* Adds or updates our hooks in ROOT. FALSE with ERROR when the file's
 * shape is not Claude Code's; ROOT may then be half-changed and must not be
 * written. */
static gboolean
merge_hooks (JsonObject *root, const char *program, Changes *changes, GError **error)
{
  JsonNode *hooks_node = json_object_get_member (root, "hooks");
  JsonObject *hooks;

  if (hooks_node == NULL)
    json_object_set_object_member (root, "hooks", json_object_new ());
  else if (!JSON_NODE_HOLDS_OBJECT (hooks_node))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("\"hooks\" is not an object"));
      return FALSE;
    }
  hooks = json_object_get_object_member (root, "hooks");

  for (guint i = 0; i < G_N_ELEMENTS (hook_events); i++)
    {
      const char *event = hook_events[i];
      g_autofree char *command = hook_command (program, event);
      JsonNode *groups_node = json_object_get_member (hooks, event);
      JsonArray *groups;
      gboolean updated = FALSE;

      if (groups_node == NULL)
        json_object_set_array_member (hooks, event, json_array_new ());
      else if (!JSON_NODE_HOLDS_ARRAY (groups_node))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("\"hooks\".\"%s\" is not a list"), event);
          return FALSE;
        }
      groups = json_object_get_array_member (hooks, event);

      if (!update_existing (groups, event, program, command, &updated))
        {
          json_array_add_object_element (groups, new_group (command));
          g_ptr_array_add (changes->added, (gpointer) event);
        }
      else
        g_ptr_array_add (updated ? changes->updated : changes->unchanged, (gpointer) event);
    }
  return TRUE;
}

/* --- The file ---------------------------------------------------------------------- */

/* Root writing into a user's directory would create root-owned files that
 * Claude Code, running as that user, cannot read, and would follow links
 * the user planted with root's rights. Act as the owner of HOME instead,
 * for file access only (the process ends right after): its uid, the
 * directory's group, and none of root's groups. */
static gboolean
act_as_owner (const struct stat *home, GError **error)
{
  if (geteuid () != 0 || home->st_uid == 0)
    return TRUE;
  if (setgroups (0, NULL) < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("cannot drop root's groups: %s"), g_strerror (saved_errno));
      return FALSE;
    }
  setfsgid (home->st_gid);
  setfsuid (home->st_uid);
  /* Both calls return the previous value; asking again tells if they held. */
  if ((uid_t) setfsuid ((uid_t) -1) != home->st_uid || (gid_t) setfsgid ((gid_t) -1) != home->st_gid)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   _("cannot act as the owner of the account home (uid %u)"),
                   (guint) home->st_uid);
      return FALSE;
    }
  return TRUE;
}

/* The file to write: SETTINGS itself, or what its symbolic link points to
 * (a link into a dotfiles repository stays a link). *EXISTS and *MODE
 * describe it. */
static char *
resolve_settings (const char *settings, gboolean *exists, mode_t *mode, GError **error)
{
  struct stat st;
  g_autofree char *target = NULL;

  *exists = FALSE;
  *mode = CF_SETTINGS_NEW_MODE;
  if (lstat (settings, &st) < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        return g_strdup (settings);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   _("cannot use %s: %s"), settings, g_strerror (saved_errno));
      return NULL;
    }
  if (S_ISLNK (st.st_mode))
    {
      target = realpath (settings, NULL);
      if (target == NULL || stat (target, &st) < 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                       _("cannot follow the symbolic link %s: %s"), settings,
                       g_strerror (saved_errno));
          return NULL;
        }
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("%s is not a regular file"),
                   target ? target : settings);
      return NULL;
    }
  if (st.st_size > CF_SETTINGS_MAX_SIZE)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("%s is larger than %d MiB"),
                   target ? target : settings, CF_SETTINGS_MAX_SIZE / (1024 * 1024));
      return NULL;
    }
  *exists = TRUE;
  *mode = st.st_mode & 07777;
  return target ? g_steal_pointer (&target) : g_strdup (settings);
}

static gboolean
is_blank (const char *text, gsize length)
{
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isspace (text[i]))
      return FALSE;
  return TRUE;
}

/* The settings object of TEXT (LENGTH bytes); a blank file counts as {}. */
static JsonNode *
parse_settings (const char *text, gsize length, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  const char *invalid = NULL;

  if (is_blank (text, length))
    return json_node_init_object (json_node_alloc (), json_object_new ());
  if (!g_utf8_validate_len (text, length, &invalid))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("not UTF-8 text (at byte offset %lu)"),
                   (unsigned long) (invalid - text));
      return NULL;
    }
  /* json-glib would also take comments, single quotes and a second value,
   * and silently change integers beyond 64 bits: refuse what Claude Code
   * would refuse and what could not be written back unchanged. */
  if (!cf_json_check_syntax (text, length, CF_SETTINGS_MAX_DEPTH, CF_JSON_CHECK_EXACT, error))
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text, (gssize) length, error))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("the top level is not a JSON object"));
      return NULL;
    }
  return json_parser_steal_root (parser);
}

static gboolean
write_settings (const char *path, const char *text, mode_t mode, GError **error)
{
  mode_t saved_umask;
  gboolean ok;

  /* The mode is the file's own, not the caller's umask. */
  saved_umask = umask (0);
  ok = g_file_set_contents_full (path, text, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 (int) mode, error);
  umask (saved_umask);
  return ok;
}

/* --- Output ------------------------------------------------------------------------- */

static char *
join_events (GPtrArray *events)
{
  g_ptr_array_add (events, NULL);
  g_ptr_array_set_size (events, events->len - 1);
  return g_strjoinv (", ", (char **) events->pdata);
}

static void
add_string_array (JsonBuilder *builder, const char *key, GPtrArray *values)
{
  json_builder_set_member_name (builder, key);
  json_builder_begin_array (builder);
  for (guint i = 0; i < values->len; i++)
    json_builder_add_string_value (builder, g_ptr_array_index (values, i));
  json_builder_end_array (builder);
}

static void
print_changes_json (const char *path, Changes *changes)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *output = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "path");
  json_builder_add_string_value (builder, path);
  add_string_array (builder, "added", changes->added);
  add_string_array (builder, "updated", changes->updated);
  add_string_array (builder, "unchanged", changes->unchanged);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  output = cf_json_generate (generator, NULL);
  g_print ("%s\n", output);
}

static void
print_changes (const char *path, const char *program, Changes *changes)
{
  if (changes->added->len > 0)
    {
      g_autofree char *events = join_events (changes->added);
      /* TRANSLATORS: file name, then a list of hook events such as "Stop, StopFailure". */
      g_print (_("%s: added %s\n"), path, events);
    }
  if (changes->updated->len > 0)
    {
      g_autofree char *events = join_events (changes->updated);
      /* TRANSLATORS: file name, hook events, then the program path. */
      g_print (_("%s: updated %s to run %s\n"), path, events, program);
    }
  if (changes->added->len == 0 && changes->updated->len == 0)
    g_print (_("%s: already installed\n"), path);
}

int
cf_ctl_install_hooks (int argc, char **argv, gboolean json)
{
  g_auto(InstallOptions) options = { .json = json };
  const GOptionEntry entries[] = {
    { "command", 0, 0, G_OPTION_ARG_FILENAME, &options.command, NULL, NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &options.help, NULL, NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) args = NULL;
  g_auto(Changes) changes = { 0 };
  g_autofree char *program = NULL;
  g_autofree char *settings = NULL;
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) root = NULL;
  const char *home = NULL;
  struct stat home_st;
  gboolean exists = FALSE;
  gboolean trailing_newline = TRUE;
  gsize length = 0;
  mode_t mode;

  /* As in explain-pane: GOption's own help would exit() from the parser. */
  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  args = g_new0 (char *, argc + 1);
  for (int i = 0; i < argc; i++)
    args[i] = g_strdup (argv[i]);
  if (!g_option_context_parse_strv (context, &args, &error))
    return fail (2, _("install-hooks: %s (see --help)"), error->message);
  if (options.help)
    {
      print_help ();
      return 0;
    }
  for (guint i = 1; args[i] != NULL; i++)
    {
      if (home != NULL)
        return fail (2, _("install-hooks: unexpected argument '%s' (see --help)"), args[i]);
      home = args[i];
    }
  if (home == NULL || *home == '\0')
    return fail (2, _("install-hooks: missing ACCOUNT_HOME, e.g. ~/.claude-main (see --help)"));
  if (options.command != NULL && !g_path_is_absolute (options.command))
    return fail (2, _("install-hooks: --command needs an absolute path, not '%s'"),
                 options.command);

  if (options.command != NULL)
    program = g_strdup (options.command);
  else if ((program = running_program (&error)) == NULL)
    return fail (1, _("install-hooks: cannot tell where claude-failoverctl is: %s"),
                 error->message);

  if (stat (home, &home_st) < 0)
    {
      int saved_errno = errno;
      return fail (1, _("install-hooks: cannot use the account home %s: %s"), home,
                   g_strerror (saved_errno));
    }
  if (!S_ISDIR (home_st.st_mode))
    return fail (1, _("install-hooks: the account home %s is not a directory"), home);
  if (!act_as_owner (&home_st, &error))
    return fail (1, "install-hooks: %s", error->message);

  settings = g_build_filename (home, SETTINGS_NAME, NULL);
  path = resolve_settings (settings, &exists, &mode, &error);
  if (path == NULL)
    return fail (1, "install-hooks: %s", error->message);
  if (exists)
    {
      if (!g_file_get_contents (path, &contents, &length, &error))
        return fail (1, "install-hooks: %s", error->message);
      trailing_newline = length == 0 || contents[length - 1] == '\n';
    }
  root = parse_settings (exists ? contents : "", length, &error);
  if (root == NULL)
    /* TRANSLATORS: file name, then why it was refused. */
    return fail (1, _("install-hooks: cannot parse %s: %s; the file is unchanged"), path,
                 error->message);

  changes.added = g_ptr_array_new ();
  changes.updated = g_ptr_array_new ();
  changes.unchanged = g_ptr_array_new ();
  if (!merge_hooks (json_node_get_object (root), program, &changes, &error))
    return fail (1, _("install-hooks: %s in %s; the file is unchanged"), error->message, path);

  if (changes.added->len > 0 || changes.updated->len > 0)
    {
      g_autofree char *body = cf_json_to_string (root);

      text = g_strconcat (body, trailing_newline ? "\n" : "", NULL);
      if (!write_settings (path, text, mode, &error))
        return fail (1, "install-hooks: %s", error->message);
    }

  if (options.json)
    print_changes_json (path, &changes);
  else
    print_changes (path, program, &changes);
  return 0;
}
