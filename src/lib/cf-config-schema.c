/* SPDX-License-Identifier: MIT */
/* The keys of config.yaml: one field table per section (key, parser, where
 * the value goes, flags), the root table that links them, and the list
 * sections whose items are tables of their own: accounts, pool.dedicated
 * and notifications.webhooks. A new key is one row here, its default in
 * config_new_with_defaults (cf-config.c), its doc in docs/configuration.md. */
#include "cf-config-private.h"

#include <glib/gi18n.h>

#include "cf-text.h"
#include "cf-webhook.h"

void
account_free (CfAccountConfig *account)
{
  g_free (account->name);
  g_free (account->home);
  g_free (account);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfAccountConfig, account_free)

void
dedicated_free (CfDedicatedConfig *dedicated)
{
  g_free (dedicated->name);
  g_free (dedicated->project);
  g_free (dedicated);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfDedicatedConfig, dedicated_free)

static const Field account_fields[] = {
  { "name", parse_string, offsetof (CfAccountConfig, name), 0, 0, NULL },
  { "home", parse_path, offsetof (CfAccountConfig, home), 0, 0, NULL },
  { "switch_at", parse_percent, offsetof (CfAccountConfig, switch_at), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field dedicated_fields[] = {
  { "name", parse_string, offsetof (CfDedicatedConfig, name), FIELD_SESSION_NAME, 0, NULL },
  { "project", parse_path, offsetof (CfDedicatedConfig, project), FIELD_EMPTY_IS_NULL, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

/* Runs FIELDS over one list item, writing into TARGET instead of the config. */
static gboolean
walk_item (Loader *loader, const CfYamlNode *item, const char *item_path, const Field *fields,
           gpointer target, GError **error)
{
  gpointer saved = loader->target;
  gboolean ok;

  if (!expect_mapping (loader, item, item, item_path, error))
    return FALSE;
  loader->target = target;
  ok = walk_mapping (loader, item, item, item_path, fields, error);
  loader->target = saved;
  return ok;
}

const CfYamlNode *
seen_key (const Loader *loader, const char *path)
{
  return g_hash_table_lookup (loader->seen, path);
}

static gboolean
require_key (Loader *loader, const CfYamlNode *item, const char *item_path, const char *key,
             const char *value, GError **error)
{
  g_autofree char *path = NULL;

  if (value != NULL)
    return TRUE;
  path = path_child (item_path, key);
  return set_error_at (error, loader, item, path, CF_CONFIG_ERROR_MISSING,
                       _("required key is missing"));
}

static gboolean
parse_accounts (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
                const Field *field, GError **error)
{
  GPtrArray *items;
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) homes = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *accounts = loader->config->accounts;

  if (!list_node (loader, at, value, path, &items, error))
    return FALSE;
  if (list_length (items) == 0)
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                         _("must list at least one account"));

  for (guint i = 0; i < list_length (items); i++)
    {
      const CfYamlNode *item = g_ptr_array_index (items, i);
      g_autofree char *item_path = path_item (path, i);
      g_autofree char *name_path = path_child (item_path, "name");
      g_autofree char *home_path = path_child (item_path, "home");
      g_autoptr(CfAccountConfig) account = g_new0 (CfAccountConfig, 1);
      const CfAccountConfig *other;

      account->switch_at = -1;

      if (!walk_item (loader, item, item_path, account_fields, account, error) ||
          !require_key (loader, item, item_path, "name", account->name, error) ||
          !require_key (loader, item, item_path, "home", account->home, error))
        return FALSE;

      other = g_hash_table_lookup (names, account->name);
      if (other != NULL)
        {
          g_autofree char *shown = cf_text_for_message (account->name);
          return set_error_at (error, loader, seen_key (loader, name_path), name_path,
                               CF_CONFIG_ERROR_VALUE,
                               _("account '%s' is defined twice"), shown);
        }
      other = g_hash_table_lookup (homes, account->home);
      if (other != NULL)
        {
          g_autofree char *shown = cf_text_for_message (other->name);
          return set_error_at (error, loader, seen_key (loader, home_path), home_path,
                               CF_CONFIG_ERROR_VALUE,
                               _("same home as account '%s'"), shown);
        }

      g_hash_table_insert (names, account->name, account);
      g_hash_table_insert (homes, account->home, account);
      g_ptr_array_add (loader->home_at, (gpointer) seen_key (loader, home_path));
      g_ptr_array_add (accounts, g_steal_pointer (&account));
    }
  return TRUE;
}

static gboolean
parse_dedicated (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
                 const Field *field, GError **error)
{
  GPtrArray *items;
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *dedicated = loader->config->dedicated;

  if (!list_node (loader, at, value, path, &items, error))
    return FALSE;

  g_ptr_array_set_size (dedicated, 0);
  g_ptr_array_set_size (loader->dedicated_at, 0);
  g_ptr_array_set_size (loader->dedicated_paths, 0);
  for (guint i = 0; i < list_length (items); i++)
    {
      const CfYamlNode *item = g_ptr_array_index (items, i);
      g_autofree char *item_path = path_item (path, i);
      g_autofree char *name_path = path_child (item_path, "name");
      g_autoptr(CfDedicatedConfig) session = g_new0 (CfDedicatedConfig, 1);
      const CfYamlNode *name_at;

      if (item->type == CF_YAML_NODE_SCALAR)
        {
          /* Shorthand: a bare name, no project. */
          gpointer saved = loader->target;
          gboolean ok;

          loader->target = session;
          ok = parse_string (loader, item, item, item_path, &dedicated_fields[0], error);
          loader->target = saved;
          if (!ok)
            return FALSE;
          name_at = item;
          g_free (name_path);
          name_path = g_strdup (item_path);
        }
      else
        {
          if (!walk_item (loader, item, item_path, dedicated_fields, session, error) ||
              !require_key (loader, item, item_path, "name", session->name, error))
            return FALSE;
          name_at = seen_key (loader, name_path);
        }

      if (!g_hash_table_add (names, session->name))
        {
          g_autofree char *shown = cf_text_for_message (session->name);
          return set_error_at (error, loader, name_at, name_path, CF_CONFIG_ERROR_VALUE,
                               _("dedicated session '%s' is listed twice"), shown);
        }
      g_ptr_array_add (loader->dedicated_at, (gpointer) name_at);
      g_ptr_array_add (loader->dedicated_paths, g_steal_pointer (&name_path));
      g_ptr_array_add (dedicated, g_steal_pointer (&session));
    }
  return TRUE;
}

/* One item of notifications.webhooks while it is read. */
typedef struct {
  char *kind;
  char *url;
  guint events;
  gboolean events_set;
} WebhookItem;

static void
webhook_item_clear (WebhookItem *item)
{
  g_clear_pointer (&item->kind, g_free);
  g_clear_pointer (&item->url, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (WebhookItem, webhook_item_clear)

void
webhook_free (CfWebhookConfig *webhook)
{
  g_free (webhook->url);
  g_free (webhook);
}

static gboolean
parse_webhook_events (Loader *loader, const CfYamlNode *at, const CfYamlNode *value,
                      const char *path, const Field *field, GError **error)
{
  WebhookItem *target = loader->target;
  GPtrArray *items;
  guint events = 0;

  if (!list_node (loader, at, value, path, &items, error))
    return FALSE;
  if (list_length (items) == 0)
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                         _("must list at least one event (swap, limit, usage-warning, "
                           "needs-input, task-failed, task-done, task-stuck)"));
  for (guint i = 0; i < list_length (items); i++)
    {
      const CfYamlNode *item = g_ptr_array_index (items, i);
      g_autofree char *item_path = path_item (path, i);
      CfWebhookEvent event;
      const char *text;

      if (!scalar_text (loader, item, item, item_path, FALSE, &text, error))
        return FALSE;
      if (!cf_webhook_event_from_string (text, &event))
        {
          g_autofree char *shown = cf_text_for_message (text);
          return set_error_at (error, loader, item, item_path, CF_CONFIG_ERROR_VALUE,
                               _("'%s' is not an event (swap, limit, usage-warning, "
                                 "needs-input, task-failed, task-done, task-stuck)"), shown);
        }
      events |= event;
    }
  target->events = events;
  target->events_set = TRUE;
  return TRUE;
}

static const Field webhook_fields[] = {
  { "kind", parse_string, offsetof (WebhookItem, kind), 0, 0, NULL },
  { "url", parse_string, offsetof (WebhookItem, url), FIELD_URL, 0, NULL },
  { "events", parse_webhook_events, 0, 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static gboolean
parse_webhooks (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
                const Field *field, GError **error)
{
  GPtrArray *items;
  GPtrArray *webhooks = loader->config->webhooks;

  if (!list_node (loader, at, value, path, &items, error))
    return FALSE;
  g_ptr_array_set_size (webhooks, 0);
  for (guint i = 0; i < list_length (items); i++)
    {
      const CfYamlNode *item = g_ptr_array_index (items, i);
      g_autofree char *item_path = path_item (path, i);
      g_autofree char *kind_path = path_child (item_path, "kind");
      g_auto(WebhookItem) read = { 0 };
      CfWebhookConfig *webhook;
      CfWebhookKind kind;

      if (!walk_item (loader, item, item_path, webhook_fields, &read, error) ||
          !require_key (loader, item, item_path, "kind", read.kind, error) ||
          !require_key (loader, item, item_path, "url", read.url, error))
        return FALSE;
      if (!cf_webhook_kind_from_string (read.kind, &kind))
        {
          g_autofree char *shown = cf_text_for_message (read.kind);
          return set_error_at (error, loader, seen_key (loader, kind_path), kind_path,
                               CF_CONFIG_ERROR_VALUE,
                               _("'%s' is not a webhook kind (generic, slack, discord, ntfy)"),
                               shown);
        }
      webhook = g_new0 (CfWebhookConfig, 1);
      webhook->kind = kind;
      webhook->url = g_steal_pointer (&read.url);
      webhook->events = read.events_set ? read.events : CF_WEBHOOK_EVENTS_DEFAULT;
      g_ptr_array_add (webhooks, webhook);
    }
  return TRUE;
}

#define CONFIG_OFFSET(member) offsetof (CfConfig, member)
#define MODEL_OFFSET(priority) (offsetof (CfConfig, models) + (priority) * sizeof (char *))

static const Field tmux_fields[] = {
  { "socket", parse_path, CONFIG_OFFSET (tmux_socket), FIELD_ALLOW_EMPTY, 0, NULL },
  { "claude_command", parse_string, CONFIG_OFFSET (claude_command), 0, 0, NULL },
  { "nice", parse_nice, CONFIG_OFFSET (tmux_nice), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field shared_state_fields[] = {
  { "root", parse_path, CONFIG_OFFSET (shared_root), 0, 0, NULL },
  { "entries", parse_entries, CONFIG_OFFSET (shared_entries), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field autonomous_fields[] = {
  { "prefix", parse_string, CONFIG_OFFSET (pool_prefix), FIELD_SESSION_NAME, 0, NULL },
  { "start_index", parse_uint, CONFIG_OFFSET (pool_start_index), 0, 0, NULL },
  { "min", parse_uint, CONFIG_OFFSET (pool_min), 0, 0, NULL },
  { "max", parse_uint, CONFIG_OFFSET (pool_max), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field pool_fields[] = {
  { "autonomous", parse_section, 0, 0, 0, autonomous_fields },
  { "dedicated", parse_dedicated, CONFIG_OFFSET (dedicated), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field projects_fields[] = {
  { "dir", parse_path, CONFIG_OFFSET (projects_dir), FIELD_EMPTY_IS_NULL, 0, NULL },
  { "extra", parse_path_list, CONFIG_OFFSET (projects_extra), 0, 0, NULL },
  { "allow_other_owners", parse_bool, CONFIG_OFFSET (projects_allow_other_owners), 0, 0, NULL },
  { "isolation", parse_isolation, CONFIG_OFFSET (projects_isolation), 0, 0, NULL },
  { "max_parallel", parse_uint, CONFIG_OFFSET (projects_max_parallel), 0, 0, NULL },
  { "keep_worktrees", parse_keep_worktrees, CONFIG_OFFSET (projects_keep_worktrees), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field models_fields[] = {
  { "critical", parse_string, MODEL_OFFSET (CF_PRIORITY_CRITICAL), 0, 0, NULL },
  { "high", parse_string, MODEL_OFFSET (CF_PRIORITY_HIGH), 0, 0, NULL },
  { "default", parse_string, MODEL_OFFSET (CF_PRIORITY_DEFAULT), 0, 0, NULL },
  { "low", parse_string, MODEL_OFFSET (CF_PRIORITY_LOW), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field dispatcher_fields[] = {
  { "idle_timeout", parse_duration, CONFIG_OFFSET (idle_timeout_usec), 0, 0, NULL },
  { "prompt_timeout", parse_duration, CONFIG_OFFSET (prompt_timeout_usec), 0, 0, NULL },
  { "needs_input_timeout", parse_duration, CONFIG_OFFSET (needs_input_timeout_usec), 0, 0, NULL },
  { "max_dispatch_per_task", parse_uint, CONFIG_OFFSET (max_dispatch_per_task), 0, 1, NULL },
  { "cooldown_schedule", parse_cooldown_schedule, CONFIG_OFFSET (cooldown_schedule), 0, 0, NULL },
  { "models", parse_section, 0, 0, 0, models_fields },
  { "message_template", parse_string, CONFIG_OFFSET (message_template), FIELD_MULTILINE, 0, NULL },
  { "projects_dir", parse_legacy_projects_dir, CONFIG_OFFSET (projects_dir),
    FIELD_EMPTY_IS_NULL | FIELD_DEPRECATED, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field watcher_fields[] = {
  { "interval", parse_duration, CONFIG_OFFSET (watcher_interval_usec), 0, 0, NULL },
  { "done_signal_dir", parse_path, CONFIG_OFFSET (done_signal_dir), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field lifecycle_fields[] = {
  { "interval", parse_duration, CONFIG_OFFSET (lifecycle_interval_usec), 0, 0, NULL },
  { "start_stagger", parse_duration, CONFIG_OFFSET (lifecycle_start_stagger_usec),
    FIELD_ALLOW_ZERO, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field quota_fields[] = {
  { "interval", parse_duration, CONFIG_OFFSET (quota_interval_usec), 0, 0, NULL },
  { "tail_lines", parse_uint, CONFIG_OFFSET (quota_tail_lines), 0, 1, NULL },
  { "pool_threshold", parse_uint, CONFIG_OFFSET (quota_pool_threshold), 0, 1, NULL },
  { "dedicated_threshold", parse_uint, CONFIG_OFFSET (quota_dedicated_threshold), 0, 1, NULL },
  { "reactivate_cooldown", parse_duration, CONFIG_OFFSET (quota_reactivate_cooldown_usec),
    FIELD_ALLOW_ZERO, 0, NULL },
  { "return_margin", parse_duration, CONFIG_OFFSET (quota_return_margin_usec),
    FIELD_ALLOW_ZERO, 0, NULL },
  { "switch_at", parse_percent, CONFIG_OFFSET (quota_switch_at), 0, 0, NULL },
  { "switch_back_below", parse_percent, CONFIG_OFFSET (quota_switch_back_below), 0, 0, NULL },
  { "warn_at", parse_percent, CONFIG_OFFSET (quota_warn_at), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field janitor_fields[] = {
  { "interval", parse_duration, CONFIG_OFFSET (janitor_interval_usec), 0, 0, NULL },
  { "stale_signal_age", parse_duration, CONFIG_OFFSET (janitor_stale_signal_age_usec), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field notifications_fields[] = {
  { "telegram_token_env", parse_string, CONFIG_OFFSET (telegram_token_env),
    FIELD_ENV_NAME | FIELD_ALLOW_EMPTY, 0, NULL },
  { "telegram_chat_id_env", parse_string, CONFIG_OFFSET (telegram_chat_id_env),
    FIELD_ENV_NAME | FIELD_ALLOW_EMPTY, 0, NULL },
  { "resend_api_key_env", parse_string, CONFIG_OFFSET (resend_api_key_env),
    FIELD_ENV_NAME | FIELD_ALLOW_EMPTY, 0, NULL },
  { "notify_email_env", parse_string, CONFIG_OFFSET (notify_email_env),
    FIELD_ENV_NAME | FIELD_ALLOW_EMPTY, 0, NULL },
  { "email_from", parse_string, CONFIG_OFFSET (email_from), 0, 0, NULL },
  { "telegram_url", parse_string, CONFIG_OFFSET (telegram_url), FIELD_URL, 0, NULL },
  { "resend_url", parse_string, CONFIG_OFFSET (resend_url), FIELD_URL, 0, NULL },
  { "webhooks", parse_webhooks, CONFIG_OFFSET (webhooks), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field delegation_fields[] = {
  { "url", parse_string, CONFIG_OFFSET (delegation_url), FIELD_URL | FIELD_ALLOW_EMPTY, 0, NULL },
  { "api_key_env", parse_string, CONFIG_OFFSET (delegation_api_key_env),
    FIELD_ENV_NAME | FIELD_ALLOW_EMPTY, 0, NULL },
  { "reap_interval", parse_duration, CONFIG_OFFSET (delegation_reap_interval_usec), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

static const Field http_fields[] = {
  { "listen", parse_string, CONFIG_OFFSET (http_listen), FIELD_LISTEN | FIELD_ALLOW_EMPTY, 0, NULL },
  { "dashboard", parse_bool, CONFIG_OFFSET (http_dashboard), 0, 0, NULL },
  { NULL, NULL, 0, 0, 0, NULL },
};

const Field root_fields[] = {
  { "state_file", parse_path, CONFIG_OFFSET (state_file), 0, 0, NULL },
  { "runtime_dir", parse_path, CONFIG_OFFSET (runtime_dir), 0, 0, NULL },
  { "tmux", parse_section, 0, 0, 0, tmux_fields },
  { "accounts", parse_accounts, CONFIG_OFFSET (accounts), 0, 0, NULL },
  { "claude_link", parse_path, CONFIG_OFFSET (claude_link), 0, 0, NULL },
  { "prepare_accounts", parse_bool, CONFIG_OFFSET (prepare_accounts), 0, 0, NULL },
  { "shared_state", parse_section, 0, 0, 0, shared_state_fields },
  { "pool", parse_section, 0, 0, 0, pool_fields },
  { "projects", parse_section, 0, 0, 0, projects_fields },
  { "dispatcher", parse_section, 0, 0, 0, dispatcher_fields },
  { "watcher", parse_section, 0, 0, 0, watcher_fields },
  { "lifecycle", parse_section, 0, 0, 0, lifecycle_fields },
  { "quota", parse_section, 0, 0, 0, quota_fields },
  { "janitor", parse_section, 0, 0, 0, janitor_fields },
  { "notifications", parse_section, 0, 0, 0, notifications_fields },
  { "delegation", parse_section, 0, 0, 0, delegation_fields },
  { "http", parse_section, 0, 0, 0, http_fields },
  { NULL, NULL, 0, 0, 0, NULL },
};
