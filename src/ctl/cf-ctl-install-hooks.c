/* SPDX-License-Identifier: MIT */
/* claude-failoverctl install-hooks ACCOUNT_HOME: merges the hooks that run
 * `claude-failoverctl hook EVENT` and the statusline into a Claude Code
 * account's settings.json, leaving everything else in the file as it was.
 * The merge is cf-claude-files' (the daemon's too), the write cf-account-file's. */
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

#include "cf-account-file.h"
#include "cf-claude-files.h"
#include "cf-json.h"

#define PROGRAM "claude-failoverctl"
#define SETTINGS_NAME "settings.json"
/* A settings file is a few KiB; this only stops a wrong path early. */
#define CF_SETTINGS_MAX_SIZE (16 * 1024 * 1024)
#define CF_SETTINGS_NEW_MODE 0600

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

static void
print_help (void)
{
  g_print ("%s\n\n%s\n\n%s\n%s\n%s\n%s\n\n%s\n",
           _("Usage: claude-failoverctl [--json] install-hooks ACCOUNT_HOME [--command PATH]"),
           _("Adds to ACCOUNT_HOME/settings.json (a Claude Code config directory, as in\n"
             "CLAUDE_CONFIG_DIR) the hooks that report Stop, StopFailure, SessionStart,\n"
             "UserPromptSubmit and Notification to claude-failoverd through\n"
             "`claude-failoverctl hook EVENT`, and the statusLine that runs\n"
             "`claude-failoverctl statusline` (an existing statusline command is kept and\n"
             "run by it, behind --then). Every other setting and hook is kept; a hook\n"
             "already running `claude-failoverctl hook EVENT` is kept too, with its path\n"
             "brought up to date, so running this again changes nothing. The file is\n"
             "created (mode 0600) when missing and replaced atomically, keeping its mode,\n"
             "under the lock Claude Code takes for its own writes (settings.json.lock);\n"
             "run as root, files are read and written as the owner of ACCOUNT_HOME.\n"
             "A file that is not a JSON object, or whose \"hooks\" or \"statusLine\" has\n"
             "another shape, is left untouched."),
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

typedef struct {
  const char *program;
  CfClaudeChanges *changes;
  gboolean parsed;             /* a failure is about the shape, not the syntax */
} MergeData;

static gboolean
merge_settings (const char *text, gsize length, char **out_text, gpointer user_data,
                GError **error)
{
  MergeData *data = user_data;
  g_autoptr(JsonNode) root = cf_claude_files_parse (text != NULL ? text : "", length, error);

  *out_text = NULL;
  if (root == NULL)
    return FALSE;
  data->parsed = TRUE;
  if (!cf_claude_merge_hooks (json_node_get_object (root), data->program, data->changes, error) ||
      !cf_claude_merge_statusline (json_node_get_object (root), data->program, data->changes,
                                   error))
    return FALSE;
  if (cf_claude_changes_any (data->changes))
    *out_text = cf_claude_files_to_text (root, length == 0 || text[length - 1] == '\n');
  return TRUE;
}

/* --- Output ------------------------------------------------------------------------- */

static char *
join_names (GPtrArray *names)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) strv = NULL;

  for (guint i = 0; i < names->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (names, i));
  strv = g_strv_builder_end (builder);
  return g_strjoinv (", ", strv);
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
print_changes_json (const char *path, CfClaudeChanges *changes)
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
print_changes (const char *path, const char *program, CfClaudeChanges *changes)
{
  if (changes->added->len > 0)
    {
      g_autofree char *events = join_names (changes->added);
      /* TRANSLATORS: file name, then a list of hook events such as "Stop, StopFailure". */
      g_print (_("%s: added %s\n"), path, events);
    }
  if (changes->updated->len > 0)
    {
      g_autofree char *events = join_names (changes->updated);
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
  g_auto(CfClaudeChanges) changes = { 0 };
  g_autofree char *program = NULL;
  g_autofree char *settings = NULL;
  g_autofree char *path = NULL;
  CfAccountFileOptions file_options;
  MergeData data = { 0 };
  const char *home = NULL;
  struct stat home_st;
  gboolean exists = FALSE;
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

  cf_claude_changes_init (&changes);
  data.program = program;
  data.changes = &changes;
  cf_account_file_options_init (&file_options);
  file_options.new_mode = CF_SETTINGS_NEW_MODE;
  file_options.max_size = CF_SETTINGS_MAX_SIZE;
  if (!cf_account_file_update (path, &file_options, merge_settings, &data, NULL, &error))
    {
      if (!data.parsed && error->domain == CF_CLAUDE_FILES_ERROR)
        /* TRANSLATORS: file name, then why it was refused. */
        return fail (1, _("install-hooks: cannot parse %s: %s; the file is unchanged"), path,
                     error->message);
      if (error->domain == CF_CLAUDE_FILES_ERROR)
        return fail (1, _("install-hooks: %s in %s; the file is unchanged"), error->message,
                     path);
      return fail (1, "install-hooks: %s", error->message);
    }

  if (options.json)
    print_changes_json (path, &changes);
  else
    print_changes (path, program, &changes);
  return 0;
}
