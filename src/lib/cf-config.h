/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "cf-webhook.h"

G_BEGIN_DECLS

/* Configuration (ARCHITECTURE.md 4.1): parsed from YAML into an immutable,
 * reference-counted struct. A reload builds a new one; holders keep theirs. */

#define CF_CONFIG_ERROR (cf_config_error_quark ())
GQuark cf_config_error_quark (void);

typedef enum {
  CF_CONFIG_ERROR_IO,          /* file cannot be read */
  CF_CONFIG_ERROR_SYNTAX,      /* not YAML, or YAML refused: bad UTF-8, duplicate keys,
                                  anchors/aliases, several documents, deep nesting */
  CF_CONFIG_ERROR_UNKNOWN_KEY,
  CF_CONFIG_ERROR_TYPE,        /* e.g. a list where a mapping is expected */
  CF_CONFIG_ERROR_VALUE,       /* well-typed but invalid */
  CF_CONFIG_ERROR_MISSING,     /* required key absent */
} CfConfigError;

typedef struct {
  char *name;
  char *home;                  /* absolute, ~ expanded */
  gint switch_at;              /* %, 0 = off; -1 = not set: quota.switch_at applies */
} CfAccountConfig;

typedef struct {
  char *name;
  char *project;               /* absolute, ~ expanded; may be NULL */
} CfDedicatedConfig;

typedef struct {
  CfWebhookKind kind;
  char *url;                   /* may hold a secret: log cf_webhook_url_for_log () */
  guint events;                /* CfWebhookEvent flags */
} CfWebhookConfig;

/* projects.isolation and projects.keep_worktrees (ARCHITECTURE.md 4.9). */
typedef enum {
  CF_ISOLATION_SHARED,
  CF_ISOLATION_WORKTREE,
} CfIsolation;

typedef enum {
  CF_KEEP_WORKTREES_ALWAYS,
  CF_KEEP_WORKTREES_ON_FAILURE,   /* kept when the task failed or left changes uncommitted */
  CF_KEEP_WORKTREES_NEVER,
} CfKeepWorktrees;

typedef enum {
  CF_PRIORITY_CRITICAL,
  CF_PRIORITY_HIGH,
  CF_PRIORITY_DEFAULT,
  CF_PRIORITY_LOW,
  CF_PRIORITY_COUNT,
} CfPriority;

typedef struct {
  char *source;                /* file name used in messages */

  char *state_file;
  char *runtime_dir;

  char *tmux_socket;           /* "" = default server */
  char *claude_command;
  guint tmux_nice;             /* 0..19: niceness of a tmux server the daemon starts */

  GPtrArray *accounts;         /* CfAccountConfig*, >= 1, first = primary */
  char *claude_link;
  gboolean prepare_accounts;   /* keep account homes launchable (ARCHITECTURE.md 4.9) */

  char *shared_root;
  GStrv shared_entries;

  char *pool_prefix;
  guint pool_start_index;
  guint pool_min;
  guint pool_max;
  GPtrArray *dedicated;        /* CfDedicatedConfig* */

  char *projects_dir;          /* NULL when set to "" (only extra is watched) */
  GStrv projects_extra;        /* never NULL */
  gboolean projects_allow_other_owners; /* serve project dirs of users other than us and root */
  CfIsolation projects_isolation;       /* default for tasks that do not say; default SHARED */
  guint projects_max_parallel;          /* tasks of one project launching/working at once, 0 = no limit */
  CfKeepWorktrees projects_keep_worktrees; /* default ON_FAILURE */

  gint64 idle_timeout_usec;
  gint64 prompt_timeout_usec;
  gint64 needs_input_timeout_usec; /* a session waiting for a person this long: task requeued */
  guint max_dispatch_per_task;
  GArray *cooldown_schedule;   /* guint seconds, one per attempt */
  char *models[CF_PRIORITY_COUNT];
  char *message_template;

  gint64 watcher_interval_usec;
  char *done_signal_dir;

  gint64 lifecycle_interval_usec;
  gint64 lifecycle_start_stagger_usec;  /* gap between session (re)starts, 0 = none */

  gint64 quota_interval_usec;
  guint quota_tail_lines;
  guint quota_pool_threshold;
  guint quota_dedicated_threshold;
  gint64 quota_reactivate_cooldown_usec;
  gint64 quota_return_margin_usec;
  gint quota_switch_at;        /* % of either window: switch before the refusal; 0 = off */
  gint quota_switch_back_below;/* % the primary must be under to switch back to it */
  gint quota_warn_at;          /* % that raises a warning; 0 = off */

  gint64 janitor_interval_usec;
  gint64 janitor_stale_signal_age_usec;

  char *telegram_token_env;
  char *telegram_chat_id_env;
  char *resend_api_key_env;
  char *notify_email_env;
  char *email_from;
  char *telegram_url;
  char *resend_url;

  char *delegation_url;
  char *delegation_api_key_env;
  gint64 delegation_reap_interval_usec;

  char *http_listen;           /* "" = disabled */
  gboolean http_dashboard;     /* GET / serves the dashboard; default TRUE */
  GPtrArray *webhooks;         /* CfWebhookConfig*, notifications.webhooks; never NULL */

  GStrv warnings;              /* deprecations etc., "FILE:LINE:COL: text"; never NULL */
} CfConfig;

/* HOME is what "~" expands to (the service user's home; NULL = g_get_home_dir ()).
 * DISPLAY_NAME names the source in error messages. Errors are one line,
 * "FILE:LINE:COL: KEY.PATH: message" (KEY.PATH like "pool.autonomous.min" or
 * "accounts[1].home"; omitted for YAML-level errors), LINE and COL 1-based;
 * only CF_CONFIG_ERROR_IO reads "FILE: message". */
CfConfig *cf_config_load_data (const char *data,
                               gssize length,
                               const char *display_name,
                               const char *home,
                               GError **error);
CfConfig *cf_config_load_file (const char *path,
                               const char *home,
                               GError **error);

CfConfig *cf_config_ref (CfConfig *config);
void cf_config_unref (CfConfig *config);

const CfAccountConfig *cf_config_find_account (const CfConfig *config, const char *name);
/* The switch_at (%) that applies to account NAME: its own, else
 * quota.switch_at (also for an unknown NAME). 0 = off. */
gint cf_config_account_switch_at (const CfConfig *config, const char *name);
/* Pool session name for index I (prefix + I). Newly allocated. */
char *cf_config_pool_session_name (const CfConfig *config, guint index);
/* TRUE when NAME is one of the autonomous pool names [start, start+max). */
gboolean cf_config_is_pool_session (const CfConfig *config, const char *name);
const CfDedicatedConfig *cf_config_find_dedicated (const CfConfig *config, const char *name);

/* Splits an http.listen value, "IPV4:PORT", "[IPV6]:PORT" or
 * "localhost:PORT", into the address (no brackets; localhost is 127.0.0.1)
 * and the port (1-65535). FALSE when TEXT is none of these. Pure. */
gboolean cf_config_parse_listen (const char *text, char **host, guint *port);

/* TRUE when remote delegation is on: delegation.url is set and the
 * environment variable named by delegation.api_key_env is set, non-empty. */
gboolean cf_config_delegation_enabled (const CfConfig *config);

const char *cf_priority_to_string (CfPriority priority);
gboolean cf_priority_from_string (const char *text, CfPriority *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfConfig, cf_config_unref)

G_END_DECLS
