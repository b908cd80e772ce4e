/* SPDX-License-Identifier: MIT */
/* claude-failoverctl attach: watch (or, with --write, type into) a session
 * on the daemon's tmux server. The socket comes from --socket, else from
 * tmux.socket in the daemon's configuration file; the checks below turn
 * tmux's terse failures into one line that says what to do, then the
 * process becomes `tmux attach-session`. */
#include "cf-ctl.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cf-build-config.h"
#include "cf-config.h"
#include "cf-ctl-args.h"
#include "cf-ctl-bus.h"
#include "cf-ctl-output.h"
#include "cf-names.h"

#define CF_CTL_DEFAULT_CONFIG DEFAULT_CONFIG_PATH

static const char *const session_arg_names[] = { "SESSION" };

static const CfCtlUsage attach_usage = {
  .command = "attach",
  .parameters = N_("SESSION [--write] [--socket PATH] [--config PATH]"),
  .summary = N_("Attaches this terminal to session SESSION on the daemon's tmux server,\n"
                "read-only unless --write (keys typed with --write reach Claude Code:\n"
                "never type into a pool session that is working). Detach with the tmux\n"
                "prefix key then d (C-b d by default)."),
  .description = N_("The tmux socket is --socket, else tmux.socket in the configuration file\n"
                    "(--config, default /etc/claude-failover/config.yaml). When tmux.socket\n"
                    "is empty the daemon uses its user's default server, /tmp/tmux-UID/default\n"
                    "for the daemon's uid (asked on the system bus, else the owner of\n"
                    "runtime_dir). Only the daemon's user and root can reach its server."),
  .json_help = N_("no effect: attach replaces itself with tmux"),
  .min_args = 1,
  .max_args = 1,
  .arg_names = session_arg_names,
};

/* The socket tmux uses without -S for user UID ($TMUX_TMPDIR is only
 * known for the caller). */
static char *
default_server_socket (uid_t uid)
{
  const char *tmpdir = uid == getuid () ? g_getenv ("TMUX_TMPDIR") : NULL;

  if (tmpdir == NULL || *tmpdir == '\0')
    tmpdir = "/tmp";
  return g_strdup_printf ("%s/tmux-%u/default", tmpdir, (unsigned) uid);
}

/* The user the daemon's default tmux server belongs to: the daemon's own
 * (asked on the system bus), else the owner of its runtime_dir (systemd
 * creates it for the service user), else the caller. */
static uid_t
daemon_user (const CfConfig *config)
{
  g_autoptr(sd_bus) bus = cf_ctl_bus_open ("attach", TRUE);
  sd_bus_creds *creds = NULL;
  uid_t uid = getuid ();
  GStatBuf st;

  if (bus != NULL && sd_bus_get_name_creds (bus, CF_BUS_NAME, SD_BUS_CREDS_EUID, &creds) >= 0)
    {
      gboolean known = sd_bus_creds_get_euid (creds, &uid) >= 0;

      sd_bus_creds_unref (creds);
      if (known)
        return uid;
    }
  if (config != NULL && config->runtime_dir != NULL && g_stat (config->runtime_dir, &st) == 0)
    return st.st_uid;
  return getuid ();
}

/* The daemon's tmux socket, or NULL after printing why not. *FROM_DEFAULT
 * says the socket is a default server's (tmux.socket empty or no
 * configuration), for the hint when nothing listens there. */
static char *
resolve_socket (const char *socket_option, const char *config_option, gboolean *from_default)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = NULL;
  const char *path = config_option != NULL ? config_option : CF_CTL_DEFAULT_CONFIG;

  *from_default = FALSE;
  if (socket_option != NULL)
    return g_strdup (socket_option);

  if (config_option == NULL && !g_file_test (path, G_FILE_TEST_EXISTS))
    {
      *from_default = TRUE;
      return default_server_socket (daemon_user (NULL));
    }
  config = cf_config_load_file (path, NULL, &error);
  if (config == NULL)
    {
      cf_ctl_fail (1, "attach", _("%s (pass --socket PATH to name the daemon's tmux socket)"),
                   error->message);
      return NULL;
    }
  if (config->tmux_socket == NULL || *config->tmux_socket == '\0')
    {
      *from_default = TRUE;
      return default_server_socket (daemon_user (config));
    }
  return g_strdup (config->tmux_socket);
}

/* The user owning PATH, for "run as USER"; NULL when unknown. */
static char *
owner_name (const char *path)
{
  struct stat st;
  struct passwd *pw;

  if (g_stat (path, &st) != 0)
    return NULL;
  pw = getpwuid (st.st_uid);
  return pw != NULL ? g_strdup (pw->pw_name) : g_strdup_printf ("%u", (unsigned) st.st_uid);
}

/* Connects to the tmux server at SOCKET_PATH the way a tmux client would:
 * TRUE when something accepts, else FALSE after printing why not. */
static gboolean
check_reachable (const char *socket_path, gboolean from_default)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  g_autofree char *owner = NULL;
  int saved_errno;
  int fd;

  if (strlen (socket_path) >= sizeof addr.sun_path)
    {
      cf_ctl_fail (1, "attach", _("tmux socket path too long: %s"), socket_path);
      return FALSE;
    }
  strcpy (addr.sun_path, socket_path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      cf_ctl_fail (1, "attach", _("cannot create a socket: %s"), g_strerror (errno));
      return FALSE;
    }
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0)
    {
      close (fd);
      return TRUE;
    }
  saved_errno = errno;
  close (fd);

  switch (saved_errno)
    {
    case EACCES:
    case EPERM:
      owner = owner_name (socket_path);
      if (owner != NULL)
        cf_ctl_fail (1, "attach",
                     _("cannot reach the tmux server at %s: permission denied (run as '%s' "
                       "or root, e.g. sudo -u %s claude-failoverctl attach …)"),
                     socket_path, owner, owner);
      else
        cf_ctl_fail (1, "attach",
                     _("cannot reach the tmux server at %s: permission denied (run as the "
                       "daemon's user or root)"), socket_path);
      return FALSE;
    case ENOENT:
    case ECONNREFUSED:
    case ENOTDIR:
      if (from_default)
        cf_ctl_fail (1, "attach",
                     _("no tmux server at %s, the default server of the daemon's user "
                       "(tmux.socket is empty): is claude-failoverd running? --socket PATH "
                       "names another"),
                     socket_path);
      else
        cf_ctl_fail (1, "attach", _("no tmux server at %s (is claude-failoverd running?)"),
                     socket_path);
      return FALSE;
    default:
      cf_ctl_fail (1, "attach", _("cannot reach the tmux server at %s: %s"), socket_path,
                   g_strerror (saved_errno));
      return FALSE;
    }
}

/* tmux would read ':' and '.' as window and pane separators even after
 * '=', and a control byte has no business in a session name. */
static gboolean
session_name_valid (const char *name)
{
  if (*name == '\0' || !g_utf8_validate (name, -1, NULL))
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f || *p == ':' || *p == '.')
      return FALSE;
  return TRUE;
}

/* TRUE when session NAME exists on the server, else FALSE after printing
 * why not. */
static gboolean
check_session (const char *socket_path, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *target = g_strconcat ("=", name, NULL);
  g_autofree char *err_text = NULL;
  const char *argv[] = { "tmux", "-S", socket_path, "has-session", "-t", target, NULL };
  int wait_status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, &err_text, &wait_status, &error))
    {
      cf_ctl_fail (1, "attach", _("cannot run tmux: %s"), error->message);
      return FALSE;
    }
  if (g_spawn_check_wait_status (wait_status, NULL))
    return TRUE;

  g_strstrip (err_text);
  if (strstr (err_text, "can't find session") != NULL || *err_text == '\0')
    {
      g_autofree char *shown = cf_ctl_printable (name);

      cf_ctl_fail (1, "attach",
                   _("no session '%s' on the tmux server at %s (see 'claude-failoverctl "
                     "sessions')"), shown, socket_path);
    }
  else
    {
      g_autofree char *shown = cf_ctl_printable (err_text);
      char *newline = strchr (shown, '\n');

      if (newline != NULL)
        *newline = '\0';
      cf_ctl_fail (1, "attach", _("tmux refused: %s"), shown);
    }
  return FALSE;
}

/* $TMUX is "SOCKET,PID,SESSION": tmux refuses to attach from inside a
 * client of the same server, which is right; a client of another server
 * (an operator's own tmux) may nest the daemon's. */
static void
drop_foreign_tmux_env (const char *socket_path)
{
  const char *tmux = g_getenv ("TMUX");
  g_auto(GStrv) parts = NULL;

  if (tmux == NULL)
    return;
  parts = g_strsplit (tmux, ",", 2);
  if (parts[0] == NULL || !g_str_equal (parts[0], socket_path))
    g_unsetenv ("TMUX");
}

int
cf_ctl_attach (int argc, char **argv, gboolean json)
{
  gboolean write = FALSE;
  g_autofree char *socket_option = NULL;
  g_autofree char *config_option = NULL;
  const GOptionEntry entries[] = {
    { "write", 0, 0, G_OPTION_ARG_NONE, &write,
      N_("let keys typed here reach the session (default: read-only)"), NULL },
    { "socket", 0, 0, G_OPTION_ARG_FILENAME, &socket_option,
      N_("the daemon's tmux socket (default: tmux.socket of the configuration)"), N_("PATH") },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_option,
      N_("the daemon's configuration file (default: /etc/claude-failover/config.yaml)"),
      N_("PATH") },
    { NULL },
  };
  g_auto(GStrv) args = NULL;
  g_autofree char *socket_path = NULL;
  g_autofree char *target = NULL;
  gboolean from_default = FALSE;
  int status = cf_ctl_parse_args (&attach_usage, entries, argc, argv, &json, &args);

  if (status >= 0)
    return status;
  if (!session_name_valid (args[0]))
    {
      g_autofree char *shown = cf_ctl_printable (args[0]);

      return cf_ctl_usage_error ("attach", _("invalid session name '%s'"), shown);
    }
  if (socket_option != NULL && *socket_option == '\0')
    return cf_ctl_usage_error ("attach", _("--socket needs a path"));

  socket_path = resolve_socket (socket_option, config_option, &from_default);
  if (socket_path == NULL)
    return 1;
  if (!check_reachable (socket_path, from_default))
    return 1;
  if (!check_session (socket_path, args[0]))
    return 1;
  if (!isatty (STDIN_FILENO) || !isatty (STDOUT_FILENO))
    return cf_ctl_fail (1, "attach", _("attach needs a terminal on standard input and output"));

  drop_foreign_tmux_env (socket_path);
  target = g_strconcat ("=", args[0], NULL);
  {
    const char *tmux_argv[] = { "tmux", "-S", socket_path, "attach-session",
                                write ? "-t" : "-r", write ? target : "-t",
                                write ? NULL : target, NULL };

    execvp ("tmux", (char **) tmux_argv);
  }
  return cf_ctl_fail (1, "attach", _("cannot run tmux: %s"), g_strerror (errno));
}
