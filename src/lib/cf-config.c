/* SPDX-License-Identifier: MIT */
/* The configuration's public API: its defaults, loading it from text or
 * from a file, reference counting and lookups. The loader itself is in
 * cf-config-walk.c, cf-config-values.c, cf-config-schema.c and
 * cf-config-checks.c (see cf-config-private.h). */
#include "cf-config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf-config-private.h"

G_DEFINE_QUARK (cf-config-error-quark, cf_config_error)

/* A configuration is a few kilobytes; anything this large is a mistake
 * (or /dev/zero) and must not stall the daemon's start. */
#define CF_CONFIG_MAX_FILE_SIZE (1024 * 1024)

#define CF_CONFIG_DEFAULT_MESSAGE_TEMPLATE \
  "[{task}] {body}\n\nIMPORTANT: Tu dois EXECUTER les actions demandées, pas seulement les décrire."

/* --- Public API ---------------------------------------------------------------- */

static void
config_clear (CfConfig *config)
{
  g_free (config->source);
  g_free (config->state_file);
  g_free (config->runtime_dir);
  g_free (config->tmux_socket);
  g_free (config->claude_command);
  g_clear_pointer (&config->accounts, g_ptr_array_unref);
  g_free (config->claude_link);
  g_free (config->shared_root);
  g_strfreev (config->shared_entries);
  g_free (config->pool_prefix);
  g_clear_pointer (&config->dedicated, g_ptr_array_unref);
  g_free (config->projects_dir);
  g_strfreev (config->projects_extra);
  g_clear_pointer (&config->cooldown_schedule, g_array_unref);
  for (guint i = 0; i < CF_PRIORITY_COUNT; i++)
    g_free (config->models[i]);
  g_free (config->message_template);
  g_free (config->done_signal_dir);
  g_free (config->telegram_token_env);
  g_free (config->telegram_chat_id_env);
  g_free (config->resend_api_key_env);
  g_free (config->notify_email_env);
  g_free (config->email_from);
  g_free (config->telegram_url);
  g_free (config->resend_url);
  g_free (config->delegation_url);
  g_free (config->delegation_api_key_env);
  g_free (config->http_listen);
  g_clear_pointer (&config->webhooks, g_ptr_array_unref);
  g_strfreev (config->warnings);
}

static CfConfig *
config_new_with_defaults (const char *source, const char *home)
{
  static const char *const entries[] = { "session-env", "file-history", "projects", NULL };
  static const guint cooldown[] = { 0, 300, 900 };
  CfConfig *config = g_atomic_rc_box_new0 (CfConfig);

  config->source = g_strdup (source);
  config->state_file = g_strdup ("/var/lib/claude-failover/state.json");
  config->runtime_dir = g_strdup ("/run/claude-failover");
  config->tmux_socket = g_strdup ("");
  config->claude_command = g_strdup ("claude");
  config->tmux_nice = 10;
  config->accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) account_free);
  config->claude_link = g_build_filename (home, ".claude", NULL);
  config->prepare_accounts = TRUE;
  config->shared_root = g_build_filename (home, ".claude-shared", NULL);
  config->shared_entries = g_strdupv ((char **) entries);
  config->pool_prefix = g_strdup ("ccl-auto-");
  config->pool_start_index = 0;
  config->pool_min = 2;
  config->pool_max = 10;
  config->dedicated = g_ptr_array_new_with_free_func ((GDestroyNotify) dedicated_free);
  config->projects_dir = g_build_filename (home, "projects", NULL);
  config->projects_extra = g_new0 (char *, 1);
  config->projects_isolation = CF_ISOLATION_SHARED;
  config->projects_max_parallel = 0;
  config->projects_keep_worktrees = CF_KEEP_WORKTREES_ON_FAILURE;
  config->idle_timeout_usec = (gint64) 60 * 60 * G_USEC_PER_SEC;
  config->prompt_timeout_usec = (gint64) 30 * G_USEC_PER_SEC;
  config->needs_input_timeout_usec = (gint64) 10 * 60 * G_USEC_PER_SEC;
  config->max_dispatch_per_task = 3;
  config->cooldown_schedule = g_array_new (FALSE, FALSE, sizeof (guint));
  g_array_append_vals (config->cooldown_schedule, cooldown, G_N_ELEMENTS (cooldown));
  config->models[CF_PRIORITY_CRITICAL] = g_strdup ("opus");
  config->models[CF_PRIORITY_HIGH] = g_strdup ("sonnet");
  config->models[CF_PRIORITY_DEFAULT] = g_strdup ("sonnet");
  config->models[CF_PRIORITY_LOW] = g_strdup ("sonnet");
  config->message_template = g_strdup (CF_CONFIG_DEFAULT_MESSAGE_TEMPLATE);
  config->watcher_interval_usec = (gint64) 30 * G_USEC_PER_SEC;
  config->done_signal_dir = g_strdup ("/run/claude-failover");
  config->lifecycle_interval_usec = (gint64) 15 * G_USEC_PER_SEC;
  config->quota_interval_usec = (gint64) 30 * G_USEC_PER_SEC;
  config->quota_tail_lines = 3;
  config->quota_pool_threshold = 2;
  config->quota_dedicated_threshold = 1;
  config->quota_reactivate_cooldown_usec = (gint64) 5 * 60 * G_USEC_PER_SEC;
  config->quota_return_margin_usec = (gint64) 5 * 60 * G_USEC_PER_SEC;
  config->quota_switch_at = 95;
  config->quota_switch_back_below = 80;
  config->quota_warn_at = 85;
  config->lifecycle_start_stagger_usec = 2 * G_USEC_PER_SEC;
  config->janitor_interval_usec = (gint64) 5 * 60 * G_USEC_PER_SEC;
  config->janitor_stale_signal_age_usec = (gint64) 60 * 60 * G_USEC_PER_SEC;
  config->telegram_token_env = g_strdup ("TELEGRAM_BOT_TOKEN");
  config->telegram_chat_id_env = g_strdup ("TELEGRAM_CHAT_ID");
  config->resend_api_key_env = g_strdup ("RESEND_API_KEY");
  config->notify_email_env = g_strdup ("BETAWATCH_NOTIFY_EMAIL");
  config->email_from = g_strdup ("claude-failover <noreply@localhost>");
  config->telegram_url = g_strdup ("https://api.telegram.org");
  config->resend_url = g_strdup ("https://api.resend.com");
  config->delegation_url = g_strdup ("");
  config->delegation_api_key_env = g_strdup ("SECUTOOLS_API_KEY");
  config->delegation_reap_interval_usec = (gint64) 30 * G_USEC_PER_SEC;
  config->http_listen = g_strdup ("127.0.0.1:8377");
  config->http_dashboard = TRUE;
  config->webhooks = g_ptr_array_new_with_free_func ((GDestroyNotify) webhook_free);
  return config;
}

CfConfig *
cf_config_load_data (const char *data,
                     gssize length,
                     const char *display_name,
                     const char *home,
                     GError **error)
{
  g_autoptr(CfConfig) config = NULL;
  g_autoptr(CfYamlNode) root = NULL;
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) dedicated_at = g_ptr_array_new ();
  g_autoptr(GPtrArray) dedicated_paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) home_at = g_ptr_array_new ();
  g_autofree char *canonical_home = NULL;
  const char *end;
  Loader loader = { 0 };

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (data == NULL)
    data = "";
  if (length < 0)
    length = (gssize) strlen (data);
  if (display_name == NULL)
    display_name = "config.yaml";
  if (home == NULL)
    home = g_get_home_dir ();
  /* A relative home would make every "~" path relative; keep it visible in
   * the error for the path that uses it rather than guessing a cwd. */
  canonical_home = g_path_is_absolute (home) ? g_canonicalize_filename (home, "/") : g_strdup (home);

  loader.source = display_name;
  loader.home = canonical_home;
  loader.warnings = warnings;
  loader.seen = seen;
  loader.dedicated_at = dedicated_at;
  loader.dedicated_paths = dedicated_paths;
  loader.home_at = home_at;

  /* libyaml reports bad UTF-8 without a line and stops scalars at NUL;
   * checking first gives one precise message for both. */
  if (!g_utf8_validate_len (data, (gsize) length, &end))
    {
      guint line, column;

      position_of_offset (data, (gsize) length, (gsize) (end - data), &line, &column);
      if (*end == '\0')
        set_error_pos (error, &loader, line, column, NULL, CF_CONFIG_ERROR_SYNTAX,
                       _("contains a NUL byte"));
      else
        set_error_pos (error, &loader, line, column, NULL, CF_CONFIG_ERROR_SYNTAX,
                       _("invalid UTF-8"));
      return NULL;
    }

  if (!parse_tree (&loader, data, (gsize) length, &root, error))
    return NULL;

  if (root == NULL || cf_yaml_node_is_null (root))
    {
      set_error_pos (error, &loader, 1, 1, "accounts", CF_CONFIG_ERROR_MISSING,
                     _("required key is missing (the file is empty)"));
      return NULL;
    }
  if (root->type != CF_YAML_NODE_MAPPING)
    {
      set_error_at (error, &loader, root, NULL, CF_CONFIG_ERROR_TYPE,
                    root->type == CF_YAML_NODE_SEQUENCE
                    ? _("the configuration must be a mapping of keys, not a list")
                    : _("the configuration must be a mapping of keys, not a single value"));
      return NULL;
    }

  config = config_new_with_defaults (display_name, canonical_home);
  loader.config = config;
  loader.target = config;

  if (!walk_mapping (&loader, root, root, "", root_fields, error) ||
      !check_across_keys (&loader, root, error))
    return NULL;

  g_ptr_array_add (warnings, NULL);
  config->warnings = (GStrv) g_ptr_array_steal (warnings, NULL);
  return g_steal_pointer (&config);
}

/* Only a regular file of at most CF_CONFIG_MAX_FILE_SIZE bytes is read, so
 * a FIFO, a device or a runaway file fails at once instead of hanging the
 * caller (--check-config, or a reload) or exhausting memory. */
static gboolean
read_config_file (const char *path, char **out_data, gsize *out_length, GError **error)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  struct stat st;
  int fd;

  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
  fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, CF_CONFIG_ERROR, CF_CONFIG_ERROR_IO, "%s: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (fstat (fd, &st) < 0)
    {
      int saved = errno;
      close (fd);
      g_set_error (error, CF_CONFIG_ERROR, CF_CONFIG_ERROR_IO, "%s: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (S_ISDIR (st.st_mode))
    {
      close (fd);
      g_set_error (error, CF_CONFIG_ERROR, CF_CONFIG_ERROR_IO, "%s: %s", path, g_strerror (EISDIR));
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, CF_CONFIG_ERROR, CF_CONFIG_ERROR_IO, "%s: %s", path,
                   _("not a regular file (a FIFO, socket or device); the configuration must be a regular file"));
      return FALSE;
    }
  if (st.st_size > CF_CONFIG_MAX_FILE_SIZE)
    {
      close (fd);
      g_set_error (error, CF_CONFIG_ERROR, CF_CONFIG_ERROR_IO, "%s: %s", path,
                   _("the file is larger than 1 MiB"));
      return FALSE;
    }

  for (;;)
    {
      guint8 buffer[16384];
      ssize_t n = read (fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          close (fd);
          g_set_error (error, CF_CONFIG_ERROR, CF_CONFIG_ERROR_IO, "%s: %s", path, g_strerror (saved));
          return FALSE;
        }
      if (n == 0)
        break;
      if (bytes->len + (gsize) n > CF_CONFIG_MAX_FILE_SIZE)
        {
          close (fd);
          g_set_error (error, CF_CONFIG_ERROR, CF_CONFIG_ERROR_IO, "%s: %s", path,
                       _("the file is larger than 1 MiB"));
          return FALSE;
        }
      g_byte_array_append (bytes, buffer, (guint) n);
    }
  close (fd);

  *out_length = bytes->len;
  g_byte_array_append (bytes, (const guint8 *) "", 1);
  *out_data = (char *) g_byte_array_free (g_steal_pointer (&bytes), FALSE);
  return TRUE;
}

CfConfig *
cf_config_load_file (const char *path, const char *home, GError **error)
{
  g_autofree char *data = NULL;
  gsize length = 0;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!read_config_file (path, &data, &length, error))
    return NULL;
  return cf_config_load_data (data, (gssize) length, path, home, error);
}

CfConfig *
cf_config_ref (CfConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  return g_atomic_rc_box_acquire (config);
}

void
cf_config_unref (CfConfig *config)
{
  if (config != NULL)
    g_atomic_rc_box_release_full (config, (GDestroyNotify) config_clear);
}

const CfAccountConfig *
cf_config_find_account (const CfConfig *config, const char *name)
{
  g_return_val_if_fail (config != NULL, NULL);

  if (name == NULL)
    return NULL;
  for (guint i = 0; i < config->accounts->len; i++)
    {
      const CfAccountConfig *account = g_ptr_array_index (config->accounts, i);
      if (strcmp (account->name, name) == 0)
        return account;
    }
  return NULL;
}

gint
cf_config_account_switch_at (const CfConfig *config, const char *name)
{
  const CfAccountConfig *account = cf_config_find_account (config, name);

  if (account != NULL && account->switch_at >= 0)
    return account->switch_at;
  return config->quota_switch_at;
}

char *
cf_config_pool_session_name (const CfConfig *config, guint index)
{
  g_return_val_if_fail (config != NULL, NULL);
  return g_strdup_printf ("%s%u", config->pool_prefix, index);
}

gboolean
cf_config_is_pool_session (const CfConfig *config, const char *name)
{
  gsize prefix_length;
  const char *digits;
  guint64 index = 0;

  g_return_val_if_fail (config != NULL, FALSE);

  if (name == NULL || !g_str_has_prefix (name, config->pool_prefix))
    return FALSE;
  prefix_length = strlen (config->pool_prefix);
  digits = name + prefix_length;
  /* Exactly the spelling cf_config_pool_session_name produces: "x-01" is not "x-1". */
  if (*digits == '\0' || (digits[0] == '0' && digits[1] != '\0'))
    return FALSE;
  for (const char *p = digits; *p != '\0'; p++)
    {
      if (!g_ascii_isdigit (*p) || p - digits >= 10)
        return FALSE;
      index = index * 10 + (guint64) (*p - '0');
    }
  return index >= config->pool_start_index &&
         index < (guint64) config->pool_start_index + config->pool_max;
}

const CfDedicatedConfig *
cf_config_find_dedicated (const CfConfig *config, const char *name)
{
  g_return_val_if_fail (config != NULL, NULL);

  if (name == NULL)
    return NULL;
  for (guint i = 0; i < config->dedicated->len; i++)
    {
      const CfDedicatedConfig *session = g_ptr_array_index (config->dedicated, i);
      if (strcmp (session->name, name) == 0)
        return session;
    }
  return NULL;
}

static const char *const priority_names[CF_PRIORITY_COUNT] = {
  [CF_PRIORITY_CRITICAL] = "critical",
  [CF_PRIORITY_HIGH] = "high",
  [CF_PRIORITY_DEFAULT] = "default",
  [CF_PRIORITY_LOW] = "low",
};

gboolean
cf_config_delegation_enabled (const CfConfig *config)
{
  const char *key;

  if (config->delegation_url == NULL || *config->delegation_url == '\0' ||
      config->delegation_api_key_env == NULL || *config->delegation_api_key_env == '\0')
    return FALSE;
  key = g_getenv (config->delegation_api_key_env);
  return key != NULL && *key != '\0';
}

const char *
cf_priority_to_string (CfPriority priority)
{
  if ((guint) priority >= CF_PRIORITY_COUNT)
    return NULL;
  return priority_names[priority];
}

gboolean
cf_priority_from_string (const char *text, CfPriority *out)
{
  if (text == NULL)
    return FALSE;
  for (guint i = 0; i < CF_PRIORITY_COUNT; i++)
    {
      if (g_ascii_strcasecmp (text, priority_names[i]) == 0)
        {
          if (out != NULL)
            *out = (CfPriority) i;
          return TRUE;
        }
    }
  return FALSE;
}
