/* SPDX-License-Identifier: MIT */
#pragma once

/* Private to the configuration loader; included by its files only:
 *   cf-config.c         the public API: defaults, loading a file or text, lookups
 *   cf-config-walk.c    errors with their position, the YAML tree, the shape of a
 *                       node, walking a mapping with a field table (unknown keys)
 *   cf-config-values.c  one parser per type of value: string, path, duration,
 *                       number, percentage, boolean, choice, lists
 *   cf-config-schema.c  the keys: one field table per section, and the list
 *                       sections (accounts, pool.dedicated, notifications.webhooks)
 *   cf-config-checks.c  the rules that span several keys
 * It holds the loader's state, the field table's types, and the functions one
 * of these files calls in another. */

#include <stddef.h>

#include "cf-config.h"
#include "cf-yaml.h"

G_BEGIN_DECLS

/* The schema is four levels deep; deeper input can only be an error, and
 * the limit keeps the recursive tree code bounded on hostile input. */
#define CF_CONFIG_MAX_DEPTH 32

/* Timers take milliseconds in a guint; 30 days stays far below that. */
#define CF_CONFIG_MAX_DURATION_USEC ((gint64) 720 * 3600 * G_USEC_PER_SEC)
#define CF_CONFIG_MAX_DURATION_TEXT "720h"

typedef struct {
  const char *source;
  const char *home;
  CfConfig *config;
  gpointer target;             /* struct the current field table writes into */
  GPtrArray *warnings;         /* char* */
  GHashTable *seen;            /* key path → key node, for checks across keys */
  GPtrArray *dedicated_at;     /* node of each dedicated name, parallel to config->dedicated */
  GPtrArray *dedicated_paths;  /* char*, the key path of each of those names */
  GPtrArray *home_at;          /* node of each account home, parallel to config->accounts */
} Loader;

typedef struct _Field Field;

/* AT locates errors about the value (its key, or the item itself). */
typedef gboolean (*FieldParseFunc) (Loader *loader,
                                    const CfYamlNode *at,
                                    const CfYamlNode *value,
                                    const char *path,
                                    const Field *field,
                                    GError **error);

enum {
  FIELD_ALLOW_EMPTY = 1 << 0,  /* "" is a meaningful value */
  FIELD_EMPTY_IS_NULL = 1 << 1,/* "" is stored as NULL */
  FIELD_ENV_NAME = 1 << 2,
  FIELD_URL = 1 << 3,
  FIELD_LISTEN = 1 << 4,
  FIELD_SESSION_NAME = 1 << 5,
  FIELD_ALLOW_ZERO = 1 << 6,   /* durations that may be 0 */
  FIELD_MULTILINE = 1 << 7,    /* control characters (newlines) allowed */
  FIELD_DEPRECATED = 1 << 8,   /* accepted, never suggested */
};

struct _Field {
  const char *key;
  FieldParseFunc parse;
  gsize offset;                /* into loader->target */
  guint flags;
  guint min;                   /* integers */
  const Field *children;       /* sections */
};

#define FIELD_SLOT(loader, field, type) \
  ((type *) (gpointer) ((guint8 *) (loader)->target + (field)->offset))

/* cf-config-walk.c */
G_GNUC_INTERNAL char *path_child (const char *parent, const char *key);
G_GNUC_INTERNAL char *path_item (const char *parent, guint index);
G_GNUC_INTERNAL gboolean set_error_at (GError **error, const Loader *loader, const CfYamlNode *at,
                                       const char *path, CfConfigError code, const char *format,
                                       ...) G_GNUC_PRINTF (6, 7);
G_GNUC_INTERNAL gboolean set_error_pos (GError **error, const Loader *loader, guint line,
                                        guint column, const char *path, CfConfigError code,
                                        const char *format, ...) G_GNUC_PRINTF (7, 8);
G_GNUC_INTERNAL void position_of_offset (const char *data, gsize length, gsize offset,
                                         guint *line, guint *column);
G_GNUC_INTERNAL gboolean parse_tree (const Loader *loader, const char *data, gsize length,
                                     CfYamlNode **out_root, GError **error);
G_GNUC_INTERNAL gboolean expect_mapping (Loader *loader, const CfYamlNode *at,
                                         const CfYamlNode *node, const char *path,
                                         GError **error);
G_GNUC_INTERNAL gboolean expect_sequence (Loader *loader, const CfYamlNode *at,
                                          const CfYamlNode *node, const char *path,
                                          GError **error);
G_GNUC_INTERNAL gboolean scalar_text (Loader *loader, const CfYamlNode *at,
                                      const CfYamlNode *node, const char *path,
                                      gboolean tilde_is_text, const char **out, GError **error);
G_GNUC_INTERNAL gboolean walk_mapping (Loader *loader, const CfYamlNode *at,
                                       const CfYamlNode *node, const char *path,
                                       const Field *fields, GError **error);

/* cf-config-values.c: the FieldParseFunc of each type of value. */
#define CF_CONFIG_DECLARE_PARSER(name) \
  G_GNUC_INTERNAL gboolean name (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, \
                                 const char *path, const Field *field, GError **error)
CF_CONFIG_DECLARE_PARSER (parse_string);
CF_CONFIG_DECLARE_PARSER (parse_path);
CF_CONFIG_DECLARE_PARSER (parse_legacy_projects_dir);
CF_CONFIG_DECLARE_PARSER (parse_duration);
CF_CONFIG_DECLARE_PARSER (parse_uint);
CF_CONFIG_DECLARE_PARSER (parse_percent);
CF_CONFIG_DECLARE_PARSER (parse_bool);
CF_CONFIG_DECLARE_PARSER (parse_isolation);
CF_CONFIG_DECLARE_PARSER (parse_keep_worktrees);
CF_CONFIG_DECLARE_PARSER (parse_nice);
CF_CONFIG_DECLARE_PARSER (parse_section);
CF_CONFIG_DECLARE_PARSER (parse_entries);
CF_CONFIG_DECLARE_PARSER (parse_path_list);
CF_CONFIG_DECLARE_PARSER (parse_cooldown_schedule);
/* YAML null is an empty list: *out_items is then NULL. */
G_GNUC_INTERNAL gboolean list_node (Loader *loader, const CfYamlNode *at, const CfYamlNode *value,
                                    const char *path, GPtrArray **out_items, GError **error);
G_GNUC_INTERNAL guint list_length (const GPtrArray *items);

/* cf-config-schema.c */
G_GNUC_INTERNAL extern const Field root_fields[];
G_GNUC_INTERNAL const CfYamlNode *seen_key (const Loader *loader, const char *path);
G_GNUC_INTERNAL void account_free (CfAccountConfig *account);
G_GNUC_INTERNAL void dedicated_free (CfDedicatedConfig *dedicated);
G_GNUC_INTERNAL void webhook_free (CfWebhookConfig *webhook);

/* cf-config-checks.c */
G_GNUC_INTERNAL gboolean check_across_keys (Loader *loader, const CfYamlNode *root, GError **error);

G_END_DECLS
