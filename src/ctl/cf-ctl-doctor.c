/* SPDX-License-Identifier: MIT */
/* claude-failoverctl doctor: what an operator can get wrong, one verdict per
 * check with its fix. Reads the configuration and the account homes, asks
 * the daemon (GetStatus, its uid), tmux and the HTTP API; changes nothing.
 * Secrets are never read into the output: of .credentials.json only the
 * presence of claudeAiOauth.accessToken is checked. */
#include "cf-ctl.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <netinet/in.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "cf-build-config.h"
#include "cf-config.h"
#include "cf-ctl-args.h"
#include "cf-ctl-bus.h"
#include "cf-ctl-output.h"
#include "cf-names.h"
#include "cf-symlinks.h"

#define MIB ((guint64) 1024 * 1024)
#define DISK_FAIL_BYTES (100 * MIB)
#define DISK_WARN_BYTES (1024 * MIB)
#define VERSION_TIMEOUT_MS 15000

static const char *const hook_events[] = {
  "Stop", "StopFailure", "SessionStart", "UserPromptSubmit", "Notification", NULL,
};

typedef enum {
  VERDICT_OK,
  VERDICT_WARN,
  VERDICT_FAIL,
} Verdict;

static const char *const verdict_names[] = { "ok", "warn", "fail" };

typedef struct {
  char *check;
  char *account;               /* NULL when not about one account */
  Verdict verdict;
  char *message;
  char *fix;                   /* NULL when nothing to do */
} Check;

typedef struct {
  GPtrArray *checks;           /* Check* */
  CfConfig *config;
  CfCtlStatus *status;         /* NULL: the daemon did not answer */
  uid_t daemon_uid;
  gboolean daemon_uid_known;
  char *root;                  /* prefix for the installed files */
} Doctor;

static void
check_free (Check *check)
{
  g_free (check->check);
  g_free (check->account);
  g_free (check->message);
  g_free (check->fix);
  g_free (check);
}

static void G_GNUC_PRINTF (5, 6)
add (Doctor *d, const char *check, const char *account, Verdict verdict, const char *format, ...)
{
  Check *c = g_new0 (Check, 1);
  va_list args;

  va_start (args, format);
  c->message = g_strdup_vprintf (format, args);
  va_end (args);
  c->check = g_strdup (check);
  c->account = g_strdup (account);
  c->verdict = verdict;
  g_ptr_array_add (d->checks, c);
}

/* The fix of the check added last. */
static void G_GNUC_PRINTF (2, 3)
fix (Doctor *d, const char *format, ...)
{
  Check *c = g_ptr_array_index (d->checks, d->checks->len - 1);
  va_list args;

  va_start (args, format);
  g_free (c->fix);
  c->fix = g_strdup_vprintf (format, args);
  va_end (args);
}

/* ---- files --------------------------------------------------------------- */

/* The JSON object in PATH; NULL with *WHY set when it is missing or not an
 * object. */
static JsonObject *
read_json_object (const char *path, char **why)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  if (!json_parser_load_from_file (parser, path, &error))
    {
      *why = g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT)
               ? g_strdup_printf (_("%s is missing"), path)
               : g_strdup_printf (_("%s cannot be read: %s"), path, error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      *why = g_strdup_printf (_("%s is not a JSON object"), path);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

static gboolean
member_is_true (JsonObject *object, const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN && json_node_get_boolean (node);
}

static JsonObject *
member_object (JsonObject *object, const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* The project directories the pool works in: <projects.dir>/<name> with a
 * .agent-queue, projects.extra, and the dedicated sessions' projects. */
static GPtrArray *
list_projects (const CfConfig *config)
{
  GPtrArray *projects = g_ptr_array_new_with_free_func (g_free);

  if (config->projects_dir != NULL)
    {
      g_autoptr(GDir) dir = g_dir_open (config->projects_dir, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (config->projects_dir, name, NULL);
          g_autofree char *queue = g_build_filename (path, ".agent-queue", NULL);

          if (g_file_test (queue, G_FILE_TEST_IS_DIR))
            g_ptr_array_add (projects, g_steal_pointer (&path));
        }
    }
  for (guint i = 0; config->projects_extra[i] != NULL; i++)
    g_ptr_array_add (projects, g_strdup (config->projects_extra[i]));
  for (guint i = 0; i < config->dedicated->len; i++)
    {
      const CfDedicatedConfig *session = g_ptr_array_index (config->dedicated, i);

      if (session->project != NULL)
        g_ptr_array_add (projects, g_strdup (session->project));
    }
  g_ptr_array_sort (projects, (GCompareFunc) g_strcmp0);
  return projects;
}

/* Whether Claude Code trusts PROJECT: it or a parent has
 * hasTrustDialogAccepted in .claude.json's "projects". */
static gboolean
project_trusted (JsonObject *claude_json, const char *project)
{
  JsonObject *projects = member_object (claude_json, "projects");
  g_autofree char *dir = g_strdup (project);

  while (projects != NULL)
    {
      g_autofree char *parent = NULL;

      if (member_is_true (member_object (projects, dir), "hasTrustDialogAccepted"))
        return TRUE;
      parent = g_path_get_dirname (dir);
      if (g_str_equal (parent, dir))
        break;
      g_free (dir);
      dir = g_steal_pointer (&parent);
    }
  return FALSE;
}

/* Whether the hooks of EVENT run `claude-failoverctl hook EVENT`. */
static gboolean
hook_installed (JsonObject *settings, const char *event)
{
  JsonObject *hooks = member_object (settings, "hooks");
  JsonNode *groups = hooks != NULL ? json_object_get_member (hooks, event) : NULL;
  g_autofree char *suffix = g_strconcat (" hook ", event, NULL);

  if (groups == NULL || !JSON_NODE_HOLDS_ARRAY (groups))
    return FALSE;
  for (guint i = 0; i < json_array_get_length (json_node_get_array (groups)); i++)
    {
      JsonNode *group = json_array_get_element (json_node_get_array (groups), i);
      JsonNode *list = JSON_NODE_HOLDS_OBJECT (group)
                         ? json_object_get_member (json_node_get_object (group), "hooks") : NULL;

      if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
        continue;
      for (guint j = 0; j < json_array_get_length (json_node_get_array (list)); j++)
        {
          JsonNode *hook = json_array_get_element (json_node_get_array (list), j);
          JsonNode *command = JSON_NODE_HOLDS_OBJECT (hook)
                                ? json_object_get_member (json_node_get_object (hook), "command")
                                : NULL;
          const char *text = command != NULL && JSON_NODE_HOLDS_VALUE (command)
                               ? json_node_get_string (command) : NULL;

          if (text != NULL && strstr (text, "claude-failoverctl") != NULL &&
              g_str_has_suffix (text, suffix))
            return TRUE;
        }
    }
  return FALSE;
}

/* ---- checks -------------------------------------------------------------- */

static void
check_daemon (Doctor *d, sd_bus **bus)
{
  sd_bus_creds *creds = NULL;

  *bus = cf_ctl_bus_open ("doctor", TRUE);
  if (*bus != NULL)
    d->status = cf_ctl_fetch_status (*bus, "doctor", CF_CTL_CALL_QUIET);
  if (d->status == NULL)
    {
      add (d, "daemon", NULL, VERDICT_FAIL,
           _("claude-failoverd does not answer on the system bus (org.claudefailover)"));
      fix (d, _("systemctl start claude-failover, then journalctl -u claude-failover for why "
                "it stopped"));
      return;
    }
  if (sd_bus_get_name_creds (*bus, CF_BUS_NAME, SD_BUS_CREDS_EUID, &creds) >= 0 &&
      sd_bus_creds_get_euid (creds, &d->daemon_uid) >= 0)
    d->daemon_uid_known = TRUE;
  sd_bus_creds_unref (creds);
  if (g_strcmp0 (d->status->version, PACKAGE_VERSION) == 0)
    add (d, "daemon", NULL, VERDICT_OK, _("claude-failoverd %s answers on the system bus"),
         d->status->version);
  else
    {
      add (d, "daemon", NULL, VERDICT_WARN,
           _("claude-failoverd %s answers, but this claude-failoverctl is %s"),
           d->status->version, PACKAGE_VERSION);
      fix (d, _("restart the daemon after an upgrade: systemctl restart claude-failover"));
    }
}

typedef struct {
  GMainLoop *loop;
  char *output;
  gboolean done;
  gboolean timed_out;
} VersionRun;

static void
on_version_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  VersionRun *run = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &run->output, NULL, NULL);
  run->done = TRUE;
  g_main_loop_quit (run->loop);
}

static gboolean
on_version_timeout (gpointer user_data)
{
  VersionRun *run = user_data;

  run->timed_out = TRUE;
  g_main_loop_quit (run->loop);
  return G_SOURCE_REMOVE;
}

static void
check_claude (Doctor *d)
{
  const char *command = d->config->claude_command;
  g_autofree char *path = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_auto(GStrv) words = NULL;
  VersionRun run = { 0 };
  guint timer;

  path = strchr (command, '/') != NULL
           ? (g_file_test (command, G_FILE_TEST_IS_EXECUTABLE) ? g_strdup (command) : NULL)
           : g_find_program_in_path (command);
  if (path == NULL)
    {
      add (d, "claude", NULL, VERDICT_FAIL, _("the Claude command '%s' is not found"), command);
      fix (d, _("install Claude Code %s (scripts/setup does) or set tmux.claude_command to its "
                "path"), CF_CLAUDE_TESTED_VERSION);
      return;
    }
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE |
                              G_SUBPROCESS_FLAGS_STDIN_INHERIT, &error, path, "--version", NULL);
  if (process == NULL)
    {
      add (d, "claude", NULL, VERDICT_FAIL, _("%s cannot be run: %s"), path, error->message);
      fix (d, _("check its permissions and that it is Claude Code"));
      return;
    }
  loop = g_main_loop_new (NULL, FALSE);
  run.loop = loop;
  g_subprocess_communicate_utf8_async (process, NULL, cancellable, on_version_done, &run);
  timer = g_timeout_add (VERSION_TIMEOUT_MS, on_version_timeout, &run);
  g_main_loop_run (loop);
  if (!run.done)
    {
      g_subprocess_force_exit (process);
      g_cancellable_cancel (cancellable);
      while (!run.done)
        g_main_context_iteration (NULL, TRUE);
    }
  else
    g_source_remove (timer);
  if (run.output == NULL)
    run.output = g_strdup ("");
  words = g_strsplit (g_strstrip (run.output), " ", 2);
  if (run.timed_out || words[0] == NULL || *words[0] == '\0')
    {
      add (d, "claude", NULL, VERDICT_FAIL, _("%s --version printed no version"), path);
      fix (d, _("run it by hand as the service user to see why"));
    }
  else if (g_str_equal (words[0], CF_CLAUDE_TESTED_VERSION))
    add (d, "claude", NULL, VERDICT_OK, _("Claude Code %s at %s (the version tested)"), words[0],
         path);
  else
    {
      add (d, "claude", NULL, VERDICT_WARN, _("Claude Code %s at %s; claude-failover is tested "
                                              "with %s"), words[0], path,
           CF_CLAUDE_TESTED_VERSION);
      fix (d, _("prefer %s: screens and hook payloads of other versions may differ"),
           CF_CLAUDE_TESTED_VERSION);
    }
  g_free (run.output);
}

static void
check_account (Doctor *d, const CfAccountConfig *account, GPtrArray *projects, GPtrArray *links)
{
  const char *name = account->name;
  const char *home = account->home;
  g_autofree char *credentials_path = g_build_filename (home, ".credentials.json", NULL);
  g_autofree char *claude_json_path = g_build_filename (home, ".claude.json", NULL);
  g_autofree char *settings_path = g_build_filename (home, "settings.json", NULL);
  g_autoptr(JsonObject) credentials = NULL;
  g_autoptr(JsonObject) claude_json = NULL;
  g_autoptr(JsonObject) settings = NULL;
  g_autoptr(GPtrArray) untrusted = g_ptr_array_new ();
  g_autoptr(GPtrArray) missing_hooks = g_ptr_array_new ();
  g_autofree char *why = NULL;
  JsonObject *oauth;
  JsonObject *status_line;
  JsonNode *token;
  gboolean links_ok = TRUE;

  if (!g_file_test (home, G_FILE_TEST_IS_DIR))
    {
      add (d, "account-home", name, VERDICT_FAIL, _("account %s: its home %s does not exist"),
           name, home);
      fix (d, _("create it as the service user and log in: CLAUDE_CONFIG_DIR=%s claude, "
                "then /login"), home);
      return;
    }
  add (d, "account-home", name, VERDICT_OK, _("account %s: home %s"), name, home);

  credentials = read_json_object (credentials_path, &why);
  oauth = member_object (credentials, "claudeAiOauth");
  token = oauth != NULL ? json_object_get_member (oauth, "accessToken") : NULL;
  if (token != NULL && JSON_NODE_HOLDS_VALUE (token) && json_node_get_string (token) != NULL &&
      *json_node_get_string (token) != '\0')
    add (d, "account-login", name, VERDICT_OK, _("account %s: logged in"), name);
  else
    {
      add (d, "account-login", name, VERDICT_FAIL, _("account %s: not logged in (%s)"), name,
           why != NULL ? why : _("no claudeAiOauth access token in .credentials.json"));
      fix (d, _("as the service user: CLAUDE_CONFIG_DIR=%s claude, then /login"), home);
    }
  g_clear_pointer (&why, g_free);

  claude_json = read_json_object (claude_json_path, &why);
  if (member_is_true (claude_json, "hasCompletedOnboarding"))
    add (d, "account-onboarding", name, VERDICT_OK, _("account %s: onboarding done"), name);
  else
    {
      add (d, "account-onboarding", name, VERDICT_FAIL,
           _("account %s: onboarding not done (%s)"), name,
           why != NULL ? why : _("hasCompletedOnboarding is not true in .claude.json"));
      fix (d, _("set prepare_accounts: true (the daemon prepares the home) or run Claude Code "
                "once with CLAUDE_CONFIG_DIR=%s"), home);
    }
  g_clear_pointer (&why, g_free);

  settings = read_json_object (settings_path, &why);
  if (member_is_true (settings, "skipDangerousModePermissionPrompt"))
    add (d, "account-bypass", name, VERDICT_OK, _("account %s: bypass-permissions warning "
                                                  "accepted"), name);
  else
    {
      add (d, "account-bypass", name, VERDICT_FAIL, _("account %s: the bypass-permissions "
                                                      "warning would block every launch (%s)"),
           name, why != NULL ? why : _("skipDangerousModePermissionPrompt is not true"));
      fix (d, _("set \"skipDangerousModePermissionPrompt\": true in %s (prepare_accounts: true "
                "does it)"), settings_path);
    }

  for (guint i = 0; i < projects->len; i++)
    if (!project_trusted (claude_json, g_ptr_array_index (projects, i)))
      g_ptr_array_add (untrusted, g_ptr_array_index (projects, i));
  if (untrusted->len == 0)
    add (d, "account-trust", name, VERDICT_OK, _("account %s: all %u projects trusted"), name,
         projects->len);
  else
    {
      g_ptr_array_add (untrusted, NULL);
      {
        g_autofree char *list = g_strjoinv (", ", (char **) untrusted->pdata);

        add (d, "account-trust", name, VERDICT_FAIL,
             _("account %s: not trusted, the trust dialog would block: %s"), name, list);
      }
      fix (d, _("set prepare_accounts: true, or \"hasTrustDialogAccepted\": true for each "
                "project under \"projects\" in %s"), claude_json_path);
    }

  for (guint i = 0; hook_events[i] != NULL; i++)
    if (!hook_installed (settings, hook_events[i]))
      g_ptr_array_add (missing_hooks, (gpointer) hook_events[i]);
  if (missing_hooks->len == 0)
    add (d, "account-hooks", name, VERDICT_OK, _("account %s: hooks installed"), name);
  else
    {
      g_ptr_array_add (missing_hooks, NULL);
      {
        g_autofree char *list = g_strjoinv (", ", (char **) missing_hooks->pdata);

        add (d, "account-hooks", name, VERDICT_FAIL,
             _("account %s: hooks missing in %s: %s"), name, settings_path, list);
      }
      fix (d, _("claude-failoverctl install-hooks %s"), home);
    }

  status_line = member_object (settings, "statusLine");
  if (status_line != NULL && json_object_has_member (status_line, "command") &&
      JSON_NODE_HOLDS_VALUE (json_object_get_member (status_line, "command")) &&
      strstr (json_object_get_string_member (status_line, "command"), "claude-failoverctl") != NULL)
    add (d, "account-statusline", name, VERDICT_OK, _("account %s: statusline installed"), name);
  else
    {
      add (d, "account-statusline", name, VERDICT_WARN,
           _("account %s: the claude-failoverctl statusline is not installed: usage is read "
             "from the pane only"), name);
      fix (d, _("claude-failoverctl install-hooks %s"), home);
    }

  for (guint i = 0; i < links->len; i++)
    {
      CfLinkProblem *problem = g_ptr_array_index (links, i);

      if (g_strcmp0 (problem->account, name) != 0)
        continue;
      links_ok = FALSE;
      add (d, "account-links", name, cf_link_status_is_fixable (problem->status) ? VERDICT_WARN
                                                                                   : VERDICT_FAIL,
           _("account %s: %s"), name, problem->message);
      if (cf_link_status_is_fixable (problem->status))
        fix (d, _("the daemon creates it at its next start or switch"));
      else
        fix (d, _("move what is at %s aside, then restart the daemon (it links %s there)"),
             problem->path, problem->expected);
    }
  if (links_ok)
    add (d, "account-links", name, VERDICT_OK, _("account %s: shared links right"), name);

  if (d->status != NULL)
    for (guint i = 0; i < d->status->accounts->len; i++)
      {
        CfCtlAccount *state = g_ptr_array_index (d->status->accounts, i);
        g_autofree char *until = NULL;

        if (!g_str_equal (state->name, name) || state->available)
          continue;
        until = state->exhausted_until > 0 ? cf_ctl_absolute_time ((gint64) state->exhausted_until)
                                           : g_strdup (_("unknown"));
        add (d, "account-usable", name, VERDICT_WARN, _("account %s: exhausted until %s"), name,
             until);
        fix (d, _("nothing to do: the daemon switches back after the reset"));
      }
}

static void
check_claude_link (Doctor *d)
{
  const char *link = d->config->claude_link;
  const CfAccountConfig *pointed = cf_symlinks_link_account (d->config, link);
  g_autofree char *target = g_file_read_link (link, NULL);

  if (target == NULL)
    {
      GStatBuf st;

      add (d, "claude-link", NULL, VERDICT_FAIL,
           g_lstat (link, &st) == 0 ? _("%s is not a symbolic link") : _("%s does not exist"),
           link);
      fix (d, _("restart the daemon: it links %s to the active account's home"), link);
      return;
    }
  if (!g_file_test (link, G_FILE_TEST_IS_DIR))
    {
      add (d, "claude-link", NULL, VERDICT_FAIL, _("%s is dangling: it points to %s, which does "
                                                   "not exist"), link, target);
      fix (d, _("restore that account home, or point %s at the active account's home "
                "(ln -sfn HOME %s)"), link, link);
      return;
    }
  if (pointed == NULL)
    {
      add (d, "claude-link", NULL, VERDICT_FAIL, _("%s points to %s, no account's home"), link,
           target);
      fix (d, _("ln -sfn HOME %s with the active account's home"), link);
      return;
    }
  if (d->status != NULL && g_strcmp0 (pointed->name, d->status->active_account) != 0)
    {
      add (d, "claude-link", NULL, VERDICT_FAIL, _("%s points to account %s, but %s is active"),
           link, pointed->name, d->status->active_account);
      fix (d, _("claude-failoverctl switch %s puts it right"), d->status->active_account);
      return;
    }
  add (d, "claude-link", NULL, VERDICT_OK, _("%s points to account %s"), link, pointed->name);
}

/* The tmux socket the daemon uses: tmux.socket, else its user's default. */
static char *
tmux_socket_path (Doctor *d)
{
  const char *tmpdir = g_getenv ("TMUX_TMPDIR");

  if (d->config->tmux_socket != NULL && *d->config->tmux_socket != '\0')
    return g_strdup (d->config->tmux_socket);
  if (tmpdir == NULL || *tmpdir == '\0')
    tmpdir = "/tmp";
  return g_strdup_printf ("%s/tmux-%u/default", tmpdir,
                          (guint) (d->daemon_uid_known ? d->daemon_uid : getuid ()));
}

static void
check_tmux (Doctor *d)
{
  g_autofree char *path = tmux_socket_path (d);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  g_autofree char *out = NULL;
  const char *argv[] = { "tmux", "-S", path, "list-sessions", "-F", "#{session_name}", NULL };
  int status = 0;
  int fd;
  int saved_errno = 0;

  if (strlen (path) >= sizeof addr.sun_path)
    {
      add (d, "tmux", NULL, VERDICT_FAIL, _("tmux socket path too long: %s"), path);
      fix (d, _("set a shorter tmux.socket"));
      return;
    }
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    saved_errno = errno;
  if (fd >= 0)
    close (fd);
  if (saved_errno != 0)
    {
      add (d, "tmux", NULL, VERDICT_FAIL, _("no tmux server reachable at %s: %s"), path,
           g_strerror (saved_errno));
      fix (d, saved_errno == EACCES ? _("run doctor as root or as the service user")
                                    : _("the daemon starts it: systemctl restart claude-failover"));
      return;
    }
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, &out, NULL, &status, NULL) ||
      !g_spawn_check_wait_status (status, NULL))
    {
      add (d, "tmux", NULL, VERDICT_FAIL, _("the tmux server at %s does not answer"), path);
      fix (d, _("check tmux is installed and the server runs as the service user"));
      return;
    }
  {
    guint sessions = 0;

    for (const char *p = out; *p != '\0'; p++)
      sessions += *p == '\n';
    add (d, "tmux", NULL, VERDICT_OK, _("tmux server at %s: %u sessions"), path, sessions);
  }
}

static void
check_installed_files (Doctor *d)
{
  static const struct {
    const char *dir;
    const char *alternative;
    const char *file;
  } files[] = {
    { CF_POLKIT_ACTIONS_DIR, "/usr/share/polkit-1/actions", "org.claudefailover.policy" },
    { CF_DBUS_SYSTEM_CONF_DIR, "/usr/share/dbus-1/system.d", "org.claudefailover.conf" },
    { CF_DBUS_SYSTEM_SERVICES_DIR, "/usr/share/dbus-1/system-services",
      "org.claudefailover.service" },
  };
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *a = g_build_filename (d->root, files[i].dir, files[i].file, NULL);
      g_autofree char *b = g_build_filename (d->root, files[i].alternative, files[i].file, NULL);
      g_autofree char *c = g_build_filename (d->root, "/etc/dbus-1/system.d", files[i].file, NULL);

      if (!g_file_test (a, G_FILE_TEST_IS_REGULAR) && !g_file_test (b, G_FILE_TEST_IS_REGULAR) &&
          !(g_str_has_suffix (files[i].file, ".conf") && g_file_test (c, G_FILE_TEST_IS_REGULAR)))
        g_ptr_array_add (missing, g_steal_pointer (&a));
    }
  if (missing->len == 0)
    {
      add (d, "installed-files", NULL, VERDICT_OK,
           _("polkit policy, D-Bus policy and D-Bus activation file installed"));
      return;
    }
  g_ptr_array_add (missing, NULL);
  {
    g_autofree char *list = g_strjoinv (", ", (char **) missing->pdata);

    add (d, "installed-files", NULL, VERDICT_FAIL, _("not installed: %s"), list);
  }
  fix (d, _("meson install -C build (or the distribution package), then systemctl reload dbus"));
}

static void
check_service_user (Doctor *d)
{
  struct passwd *pw;

  if (d->daemon_uid_known)
    {
      pw = getpwuid (d->daemon_uid);
      if (pw != NULL && g_str_equal (pw->pw_name, SERVICE_USER))
        add (d, "service-user", NULL, VERDICT_OK, _("the daemon runs as %s"), pw->pw_name);
      else
        {
          add (d, "service-user", NULL, VERDICT_WARN,
               _("the daemon runs as %s, not the service user %s"),
               pw != NULL ? pw->pw_name : "?", SERVICE_USER);
          fix (d, _("run it from claude-failover.service (User=%s)"), SERVICE_USER);
        }
      return;
    }
  pw = getpwnam (SERVICE_USER);
  if (pw != NULL)
    add (d, "service-user", NULL, VERDICT_OK, _("the service user %s exists"), SERVICE_USER);
  else
    {
      add (d, "service-user", NULL, VERDICT_FAIL, _("the service user %s does not exist"),
           SERVICE_USER);
      fix (d, _("systemd-sysusers (the package installs its sysusers.d file)"));
    }
}

static void
check_disk (Doctor *d, const char *what, const char *path)
{
  g_autofree char *dir = g_strdup (path);
  struct statvfs st;
  guint64 free_bytes;

  while (statvfs (dir, &st) != 0)
    {
      g_autofree char *parent = g_path_get_dirname (dir);

      if (g_str_equal (parent, dir))
        return;
      g_free (dir);
      dir = g_steal_pointer (&parent);
    }
  free_bytes = (guint64) st.f_bavail * st.f_frsize;
  if (free_bytes < DISK_FAIL_BYTES)
    {
      /* Plain %llu: a G_GUINT64_FORMAT macro would cut the msgid short. */
      add (d, "disk", NULL, VERDICT_FAIL, _("%s: only %llu MiB free on %s"), what,
           (unsigned long long) (free_bytes / MIB), dir);
      fix (d, _("free some space: the state and the queue moves need it"));
    }
  else if (free_bytes < DISK_WARN_BYTES)
    {
      add (d, "disk", NULL, VERDICT_WARN, _("%s: %llu MiB free on %s"), what,
           (unsigned long long) (free_bytes / MIB), dir);
      fix (d, _("free some space soon"));
    }
  else
    add (d, "disk", NULL, VERDICT_OK, _("%s: %llu MiB free on %s"), what,
         (unsigned long long) (free_bytes / MIB), dir);
}

static void
check_http (Doctor *d)
{
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;
  g_autofree char *request = NULL;
  char reply[64] = { 0 };
  guint port = 0;
  gsize got = 0;

  if (d->config->http_listen == NULL || *d->config->http_listen == '\0')
    {
      add (d, "http", NULL, VERDICT_OK, _("HTTP API off (http.listen is empty)"));
      return;
    }
  if (!cf_config_parse_listen (d->config->http_listen, &host, &port))
    return;
  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 3);
  connection = g_socket_client_connect_to_host (client, host, port, NULL, &error);
  if (connection != NULL)
    {
      request = g_strdup_printf ("GET /health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                                 strchr (host, ':') != NULL ? "[::1]" : "127.0.0.1");
      if (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                     request, strlen (request), NULL, NULL, &error))
        g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (connection)), reply,
                                 sizeof reply - 1, &got, NULL, &error);
    }
  if (g_str_has_prefix (reply, "HTTP/1.1 200"))
    add (d, "http", NULL, VERDICT_OK, _("HTTP API at http://%s/ answers, healthy"),
         d->config->http_listen);
  else if (g_str_has_prefix (reply, "HTTP/1.1 503"))
    {
      add (d, "http", NULL, VERDICT_WARN, _("HTTP API at http://%s/ says the daemon is degraded"),
           d->config->http_listen);
      fix (d, _("curl http://%s/health shows why"), d->config->http_listen);
    }
  else
    {
      add (d, "http", NULL, VERDICT_FAIL, _("HTTP API at http://%s/ does not answer: %s"),
           d->config->http_listen, error != NULL ? error->message : _("no HTTP reply"));
      fix (d, _("check the daemon runs and nothing else holds the port (ss -ltnp)"));
    }
}

/* ---- output -------------------------------------------------------------- */

static void
print_human (Doctor *d)
{
  static const CfCtlStyle styles[] = { CF_CTL_STYLE_GREEN, CF_CTL_STYLE_YELLOW, CF_CTL_STYLE_RED };
  static const char *const marks[] = { "✓", "!", "✗" };
  guint problems = 0, warnings = 0;

  for (guint i = 0; i < d->checks->len; i++)
    {
      Check *c = g_ptr_array_index (d->checks, i);
      g_autofree char *mark = cf_ctl_styled (styles[c->verdict], marks[c->verdict]);
      g_autofree char *message = cf_ctl_printable (c->message);

      g_print ("%s %s\n", mark, message);
      if (c->fix != NULL && c->verdict != VERDICT_OK)
        {
          g_autofree char *fix_text = cf_ctl_printable (c->fix);
          g_autofree char *label = cf_ctl_styled (CF_CTL_STYLE_DIM, _("fix:"));

          g_print ("    %s %s\n", label, fix_text);
        }
      problems += c->verdict == VERDICT_FAIL;
      warnings += c->verdict == VERDICT_WARN;
    }
  if (problems == 0)
    g_print ("\n%s\n", warnings == 0 ? _("Healthy.")
                                     : _("Healthy, with warnings."));
  else
    {
      g_autofree char *summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u problem.",
                                                               "%u problems.", problems),
                                                  problems);

      g_print ("\n%s\n", summary);
    }
}

static void
print_json (Doctor *d, gboolean healthy)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "healthy");
  json_builder_add_boolean_value (builder, healthy);
  json_builder_set_member_name (builder, "checks");
  json_builder_begin_array (builder);
  for (guint i = 0; i < d->checks->len; i++)
    {
      Check *c = g_ptr_array_index (d->checks, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "check");
      json_builder_add_string_value (builder, c->check);
      json_builder_set_member_name (builder, "account");
      if (c->account != NULL)
        json_builder_add_string_value (builder, c->account);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "status");
      json_builder_add_string_value (builder, verdict_names[c->verdict]);
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, c->message);
      json_builder_set_member_name (builder, "fix");
      if (c->fix != NULL && c->verdict != VERDICT_OK)
        json_builder_add_string_value (builder, c->fix);
      else
        json_builder_add_null_value (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  cf_ctl_print_json (builder, FALSE);
}

static const CfCtlUsage doctor_usage = {
  .command = "doctor",
  .parameters = N_("[--config PATH] [--home DIR] [--root DIR]"),
  .summary = N_("Checks what an operator can get wrong, each with a one-line verdict and its\n"
                "fix: the daemon, the Claude command and its version, each account home\n"
                "(logged in, onboarding, bypass warning, trusted projects, hooks,\n"
                "statusline, shared links), ~/.claude, tmux, the installed polkit and D-Bus\n"
                "files, the service user, disk space and the HTTP API. Changes nothing."),
  .description = N_("Run it as root or as the service user: the account homes and the tmux\n"
                    "server are theirs. Exit status: 0 healthy (warnings allowed), 1 problems."),
  .json_help = N_("print {\"healthy\": bool, \"checks\": [{\"check\", \"account\", \"status\"\n"
                  "(ok, warn, fail), \"message\", \"fix\"}]}"),
  .min_args = 0,
  .max_args = 0,
};

int
cf_ctl_doctor (int argc, char **argv, gboolean json)
{
  g_autofree char *config_path = NULL;
  g_autofree char *home = NULL;
  g_autofree char *root = NULL;
  const GOptionEntry entries[] = {
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
      N_("the daemon's configuration file (default: /etc/claude-failover/config.yaml)"),
      N_("PATH") },
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &home,
      N_("what ~ means in the configuration (default: the daemon's user's home)"), N_("DIR") },
    { "root", 0, 0, G_OPTION_ARG_FILENAME, &root,
      N_("look for the installed polkit and D-Bus files under DIR (default: /)"), N_("DIR") },
    { NULL },
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) projects = NULL;
  g_autoptr(GPtrArray) links = NULL;
  Doctor d = { 0 };
  gboolean healthy = TRUE;
  int status = cf_ctl_parse_args (&doctor_usage, entries, argc, argv, &json, &args);

  if (status >= 0)
    return status;
  d.checks = g_ptr_array_new_with_free_func ((GDestroyNotify) check_free);
  d.root = g_strdup (root != NULL ? root : "/");

  check_daemon (&d, &bus);
  if (home == NULL && d.daemon_uid_known)
    {
      struct passwd *pw = getpwuid (d.daemon_uid);

      if (pw != NULL)
        home = g_strdup (pw->pw_dir);
    }
  d.config = cf_config_load_file (config_path != NULL ? config_path : DEFAULT_CONFIG_PATH, home,
                                  &error);
  if (d.config == NULL)
    {
      add (&d, "config", NULL, VERDICT_FAIL, "%s", error->message);
      fix (&d, _("claude-failoverd --check-config --config PATH shows every problem"));
    }
  else
    {
      add (&d, "config", NULL, VERDICT_OK, _("configuration %s is valid"), d.config->source);
      check_claude (&d);
      projects = list_projects (d.config);
      links = cf_symlinks_validate_all (d.config, TRUE);
      for (guint i = 0; i < d.config->accounts->len; i++)
        check_account (&d, g_ptr_array_index (d.config->accounts, i), projects, links);
      check_claude_link (&d);
      check_tmux (&d);
    }
  check_installed_files (&d);
  check_service_user (&d);
  if (d.config != NULL)
    {
      check_disk (&d, _("state"), d.config->state_file);
      if (d.config->projects_dir != NULL)
        check_disk (&d, _("queue"), d.config->projects_dir);
      check_http (&d);
    }

  for (guint i = 0; i < d.checks->len; i++)
    if (((Check *) g_ptr_array_index (d.checks, i))->verdict == VERDICT_FAIL)
      healthy = FALSE;
  if (json)
    print_json (&d, healthy);
  else
    print_human (&d);

  g_ptr_array_unref (d.checks);
  g_clear_pointer (&d.config, cf_config_unref);
  g_clear_pointer (&d.status, cf_ctl_status_free);
  g_free (d.root);
  return healthy ? 0 : 1;
}
