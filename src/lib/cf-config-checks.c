/* SPDX-License-Identifier: MIT */
/* The rules of the configuration that span several keys, run once the
 * whole file is read: accounts present, legacy and new key not both set,
 * homes apart from claude_link, quota thresholds in order, the pool's size
 * and names apart from the dedicated sessions'. */
#include "cf-config-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-text.h"

/* pool.autonomous.max above this is refused: a typo, not a pool. */
#define CF_CONFIG_POOL_MAX_SESSIONS 200u

static gboolean
check_pool (Loader *loader, GError **error)
{
  const CfConfig *config = loader->config;
  const CfYamlNode *min_at = seen_key (loader, "pool.autonomous.min");
  const CfYamlNode *max_at = seen_key (loader, "pool.autonomous.max");
  const CfYamlNode *start_at = seen_key (loader, "pool.autonomous.start_index");

  if (config->pool_max > CF_CONFIG_POOL_MAX_SESSIONS)
    return set_error_at (error, loader, max_at, "pool.autonomous.max", CF_CONFIG_ERROR_VALUE,
                         _("must be at most %u (each session is a Claude Code process)"),
                         CF_CONFIG_POOL_MAX_SESSIONS);
  if (config->pool_min > config->pool_max)
    {
      if (min_at != NULL)
        return set_error_at (error, loader, min_at, "pool.autonomous.min", CF_CONFIG_ERROR_VALUE,
                             _("must not exceed max (%u)"), config->pool_max);
      return set_error_at (error, loader, max_at, "pool.autonomous.max", CF_CONFIG_ERROR_VALUE,
                           _("must not be less than min (%u)"), config->pool_min);
    }

  if ((guint64) config->pool_start_index + config->pool_max > G_MAXUINT)
    {
      const CfYamlNode *at = start_at != NULL ? start_at : max_at;
      return set_error_at (error, loader, at,
                           start_at != NULL ? "pool.autonomous.start_index" : "pool.autonomous.max",
                           CF_CONFIG_ERROR_VALUE, _("start_index + max must not exceed %u"),
                           G_MAXUINT);
    }

  for (guint i = 0; i < config->dedicated->len; i++)
    {
      const CfDedicatedConfig *session = g_ptr_array_index (config->dedicated, i);

      if (cf_config_is_pool_session (config, session->name))
        {
          const char *path = g_ptr_array_index (loader->dedicated_paths, i);
          g_autofree char *shown = cf_text_for_message (session->name);
          g_autofree char *prefix = cf_text_for_message (config->pool_prefix);
          return set_error_at (error, loader, g_ptr_array_index (loader->dedicated_at, i), path,
                               CF_CONFIG_ERROR_VALUE,
                               _("'%s' is also an autonomous pool session name ('%s' %u to %u)"),
                               shown, prefix, config->pool_start_index,
                               config->pool_start_index + config->pool_max - 1);
        }
    }
  return TRUE;
}

/* The return must be below the switch, or the two would chase each other. */
static gboolean
check_quota (Loader *loader, GError **error)
{
  const CfConfig *config = loader->config;
  const CfYamlNode *back_at = seen_key (loader, "quota.switch_back_below");

  if (config->quota_switch_at > 0 && config->quota_switch_back_below >= config->quota_switch_at)
    {
      if (back_at != NULL)
        return set_error_at (error, loader, back_at, "quota.switch_back_below",
                             CF_CONFIG_ERROR_VALUE, _("must be less than quota.switch_at (%d)"),
                             config->quota_switch_at);
      return set_error_at (error, loader, seen_key (loader, "quota.switch_at"), "quota.switch_at",
                           CF_CONFIG_ERROR_VALUE,
                           _("must be greater than quota.switch_back_below (%d), or 0 (off)"),
                           config->quota_switch_back_below);
    }
  for (guint i = 0; i < config->accounts->len; i++)
    {
      const CfAccountConfig *account = g_ptr_array_index (config->accounts, i);
      g_autofree char *path = g_strdup_printf ("accounts[%u].switch_at", i);

      if (account->switch_at > 0 && config->quota_switch_back_below >= account->switch_at)
        return set_error_at (error, loader, seen_key (loader, path), path, CF_CONFIG_ERROR_VALUE,
                             _("must be greater than quota.switch_back_below (%d), or 0 (off)"),
                             config->quota_switch_back_below);
    }
  return TRUE;
}

gboolean
check_across_keys (Loader *loader, const CfYamlNode *root, GError **error)
{
  const CfConfig *config = loader->config;
  const CfYamlNode *legacy_at = seen_key (loader, "dispatcher.projects_dir");

  if (seen_key (loader, "accounts") == NULL)
    return set_error_at (error, loader, root, "accounts", CF_CONFIG_ERROR_MISSING,
                         _("required key is missing"));

  if (legacy_at != NULL && seen_key (loader, "projects.dir") != NULL)
    return set_error_at (error, loader, legacy_at, "dispatcher.projects_dir",
                         CF_CONFIG_ERROR_VALUE,
                         _("cannot be combined with projects.dir (its new name); keep only projects.dir"));

  for (guint i = 0; i < config->accounts->len; i++)
    {
      const CfAccountConfig *account = g_ptr_array_index (config->accounts, i);

      if (strcmp (account->home, config->claude_link) == 0)
        {
          g_autofree char *path = g_strdup_printf ("accounts[%u].home", i);
          g_autofree char *shown = cf_text_for_message (config->claude_link);
          return set_error_at (error, loader, g_ptr_array_index (loader->home_at, i), path,
                               CF_CONFIG_ERROR_VALUE,
                               _("must differ from claude_link (%s), which the daemon replaces with a symlink"),
                               shown);
        }
    }

  return check_quota (loader, error) && check_pool (loader, error);
}
