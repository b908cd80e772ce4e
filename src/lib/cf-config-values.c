/* SPDX-License-Identifier: MIT */
/* One parser per type of configuration value (the FieldParseFunc of a
 * field table row): string, path, duration, whole number, percentage,
 * boolean, choice, section, lists of names, paths and seconds; and the
 * checks on text (control characters, variable names, URLs, listen
 * addresses, session names). */
#include "cf-config-private.h"

#include <arpa/inet.h>
#include <glib/gi18n.h>
#include <string.h>
#include <sys/socket.h>

#include "cf-duration.h"
#include "cf-shell.h"
#include "cf-text.h"

static gboolean
has_control_characters (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return TRUE;
  return FALSE;
}

static gboolean
is_env_name (const char *text)
{
  if (!g_ascii_isalpha (*text) && *text != '_')
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
is_http_url (const char *text)
{
  g_autoptr(GUri) uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  const char *scheme;

  if (uri == NULL)
    return FALSE;
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    return FALSE;
  return g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0';
}

gboolean
cf_config_parse_listen (const char *text, char **host, guint *port)
{
  const char *colon = text != NULL ? strrchr (text, ':') : NULL;
  g_autofree char *name = NULL;
  guchar address[16];
  guint number = 0;

  if (colon == NULL || colon == text || colon[1] == '\0')
    return FALSE;
  for (const char *p = colon + 1; *p != '\0'; p++)
    {
      if (!g_ascii_isdigit (*p))
        return FALSE;
      number = number * 10 + (guint) (*p - '0');
      if (number > 65535)
        return FALSE;
    }
  if (number == 0)
    return FALSE;

  if (text[0] == '[')
    {
      if (colon - text <= 2 || colon[-1] != ']')
        return FALSE;
      name = g_strndup (text + 1, colon - text - 2);
      if (inet_pton (AF_INET6, name, address) != 1)
        return FALSE;
    }
  else
    {
      name = g_strndup (text, colon - text);
      if (g_str_equal (name, "localhost"))
        {
          g_free (name);
          name = g_strdup ("127.0.0.1");
        }
      else if (inet_pton (AF_INET, name, address) != 1)
        return FALSE;
    }
  if (host != NULL)
    *host = g_steal_pointer (&name);
  if (port != NULL)
    *port = number;
  return TRUE;
}

/* 0.0.0.0 or ::, which listen on every interface. */
static gboolean
is_wildcard_address (const char *host)
{
  guchar address[16] = { 0 };
  static const guchar zero[16] = { 0 };

  if (inet_pton (AF_INET, host, address) == 1)
    return memcmp (address, zero, 4) == 0;
  if (inet_pton (AF_INET6, host, address) == 1)
    return memcmp (address, zero, 16) == 0;
  return FALSE;
}

static gboolean
check_text (Loader *loader, const CfYamlNode *at, const char *path, const char *text,
            guint flags, GError **error)
{
  g_autofree char *shown = NULL;

  if (*text == '\0')
    {
      if (flags & (FIELD_ALLOW_EMPTY | FIELD_EMPTY_IS_NULL))
        return TRUE;
      return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                           _("must not be empty"));
    }
  if (!(flags & FIELD_MULTILINE) && has_control_characters (text))
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                         _("must not contain control characters"));

  shown = cf_text_for_message (text);
  if ((flags & FIELD_ENV_NAME) && !is_env_name (text))
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                         _("'%s' is not an environment variable name"), shown);
  if ((flags & FIELD_URL) && !is_http_url (text))
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                         _("'%s' is not an http:// or https:// URL"), shown);
  if (flags & FIELD_LISTEN)
    {
      g_autofree char *host = NULL;

      if (!cf_config_parse_listen (text, &host, NULL))
        return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                             _("'%s' is not IP:PORT, [IPV6]:PORT or localhost:PORT "
                               "(use \"\" to disable)"), shown);
      /* The API is unauthenticated: its address is always one the operator
       * named, never every interface at once. */
      if (is_wildcard_address (host))
        return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                             _("'%s' listens on every interface; name one address "
                               "(127.0.0.1:PORT keeps the API on loopback)"), shown);
    }
  if ((flags & FIELD_SESSION_NAME) && !cf_session_name_is_valid (text))
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                         _("'%s' may contain only letters, digits, '-' and '_'"), shown);
  return TRUE;
}

gboolean
parse_string (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
              const Field *field, GError **error)
{
  char **slot = FIELD_SLOT (loader, field, char *);
  const char *text = NULL;

  if (!scalar_text (loader, at, value, path, FALSE, &text, error) ||
      !check_text (loader, at, path, text, field->flags, error))
    return FALSE;
  g_free (*slot);
  *slot = (*text == '\0' && (field->flags & FIELD_EMPTY_IS_NULL)) ? NULL : g_strdup (text);
  return TRUE;
}

/* Expands ~ and checks the result is absolute. *out is NULL for an empty
 * value the field allows. */
static gboolean
path_value (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
            guint flags, char **out, GError **error)
{
  const char *text;
  g_autofree char *expanded = NULL;
  g_autofree char *shown = NULL;

  *out = NULL;
  if (!scalar_text (loader, at, value, path, TRUE, &text, error) ||
      !check_text (loader, at, path, text, flags, error))
    return FALSE;
  if (*text == '\0')
    return TRUE;

  if (strcmp (text, "~") == 0)
    expanded = g_strdup (loader->home);
  else if (g_str_has_prefix (text, "~/"))
    expanded = g_build_filename (loader->home, text + 2, NULL);
  else
    expanded = g_strdup (text);

  if (!g_path_is_absolute (expanded))
    {
      shown = cf_text_for_message (text);
      return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                           _("'%s' is not an absolute path (start it with / or ~/)"), shown);
    }
  /* Lexical only (no symlinks resolved): "~/.claude/" and "~/.claude" must
   * compare equal, and a trailing slash would make link operations follow. */
  *out = g_canonicalize_filename (expanded, "/");
  return TRUE;
}

gboolean
parse_path (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
            const Field *field, GError **error)
{
  char **slot = FIELD_SLOT (loader, field, char *);
  char *result;

  if (!path_value (loader, at, value, path, field->flags, &result, error))
    return FALSE;
  g_free (*slot);
  if (result == NULL && (field->flags & FIELD_ALLOW_EMPTY))
    result = g_strdup ("");
  *slot = result;
  return TRUE;
}

gboolean
parse_legacy_projects_dir (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
                           const Field *field, GError **error)
{
  g_autofree char *message = NULL;

  if (!parse_path (loader, at, value, path, field, error))
    return FALSE;
  /* TRANSLATORS: both %s are configuration keys */
  message = g_strdup_printf (_("%s is deprecated, use %s"), path, "projects.dir");
  g_ptr_array_add (loader->warnings,
                   g_strdup_printf ("%s:%u:%u: %s", loader->source, at->line, at->column, message));
  return TRUE;
}

gboolean
parse_duration (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
                const Field *field, GError **error)
{
  const char *text;
  gint64 usec;
  g_autofree char *shown = NULL;

  if (!scalar_text (loader, at, value, path, FALSE, &text, error))
    return FALSE;
  if (*text == '\0')
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE, _("must not be empty"));
  shown = cf_text_for_message (text);
  if (!cf_duration_parse (text, &usec))
    {
      if (text[0] == '-' && g_ascii_isdigit (text[1]))
        return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                             _("must not be negative"));
      return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                           _("'%s' is not a duration (e.g. 500ms, 30s, 5m, 1h30m)"), shown);
    }
  if (usec == 0 && !(field->flags & FIELD_ALLOW_ZERO))
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                         _("must be greater than zero"));
  if (usec > CF_CONFIG_MAX_DURATION_USEC)
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                         _("must not exceed %s"), CF_CONFIG_MAX_DURATION_TEXT);
  *FIELD_SLOT (loader, field, gint64) = usec;
  return TRUE;
}

/* Decimal digits only: YAML's 0x10, 1_000, +3 and 1e3 are all refused. */
static gboolean
uint_value (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
            guint *out, GError **error)
{
  const char *text;
  guint64 number = 0;

  if (!scalar_text (loader, at, value, path, FALSE, &text, error))
    return FALSE;
  if (*text == '\0')
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE, _("must not be empty"));
  if (text[0] == '-' && g_ascii_isdigit (text[1]))
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE, _("must not be negative"));
  for (const char *p = text; *p != '\0'; p++)
    {
      if (!g_ascii_isdigit (*p))
        {
          g_autofree char *shown = cf_text_for_message (text);
          return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                               _("'%s' is not a whole number"), shown);
        }
      number = number * 10 + (guint64) (*p - '0');
      if (number > G_MAXUINT)
        return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                             _("is too large (at most %u)"), G_MAXUINT);
    }
  *out = (guint) number;
  return TRUE;
}

gboolean
parse_uint (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
            const Field *field, GError **error)
{
  guint number = 0;

  if (!uint_value (loader, at, value, path, &number, error))
    return FALSE;
  if (number < field->min)
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                         _("must be at least %u"), field->min);
  *FIELD_SLOT (loader, field, guint) = number;
  return TRUE;
}

/* A whole percentage, 0 to 100, into a gint. */
gboolean
parse_percent (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
               const Field *field, GError **error)
{
  guint number = 0;

  if (!uint_value (loader, at, value, path, &number, error))
    return FALSE;
  if (number > 100)
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                         _("must be a percentage from 0 to 100"));
  *FIELD_SLOT (loader, field, gint) = (gint) number;
  return TRUE;
}

gboolean
parse_bool (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
            const Field *field, GError **error)
{
  const char *text;
  g_autofree char *shown = NULL;

  if (!scalar_text (loader, at, value, path, FALSE, &text, error))
    return FALSE;
  if (g_ascii_strcasecmp (text, "true") == 0 || g_ascii_strcasecmp (text, "yes") == 0)
    {
      *FIELD_SLOT (loader, field, gboolean) = TRUE;
      return TRUE;
    }
  if (g_ascii_strcasecmp (text, "false") == 0 || g_ascii_strcasecmp (text, "no") == 0)
    {
      *FIELD_SLOT (loader, field, gboolean) = FALSE;
      return TRUE;
    }
  shown = cf_text_for_message (text);
  return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_TYPE,
                       _("'%s' is not a boolean (expected true, false, yes or no)"), shown);
}

static gboolean
parse_choice (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
              const char *const *names, guint n_names, const char *expected, int *out, GError **error)
{
  const char *text;
  g_autofree char *shown = NULL;

  if (!scalar_text (loader, at, value, path, FALSE, &text, error))
    return FALSE;
  for (guint i = 0; i < n_names; i++)
    if (g_ascii_strcasecmp (text, names[i]) == 0)
      {
        *out = (int) i;
        return TRUE;
      }
  shown = cf_text_for_message (text);
  return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                       _("'%s' is not one of %s"), shown, expected);
}

gboolean
parse_isolation (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
                 const Field *field, GError **error)
{
  static const char *const names[] = { [CF_ISOLATION_SHARED] = "shared", [CF_ISOLATION_WORKTREE] = "worktree" };
  int chosen = 0;

  if (!parse_choice (loader, at, value, path, names, G_N_ELEMENTS (names), "shared, worktree", &chosen, error))
    return FALSE;
  *FIELD_SLOT (loader, field, CfIsolation) = (CfIsolation) chosen;
  return TRUE;
}

gboolean
parse_keep_worktrees (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
                      const Field *field, GError **error)
{
  static const char *const names[] = {
    [CF_KEEP_WORKTREES_ALWAYS] = "always",
    [CF_KEEP_WORKTREES_ON_FAILURE] = "on-failure",
    [CF_KEEP_WORKTREES_NEVER] = "never",
  };
  int chosen = 0;

  if (!parse_choice (loader, at, value, path, names, G_N_ELEMENTS (names), "always, on-failure, never",
                     &chosen, error))
    return FALSE;
  *FIELD_SLOT (loader, field, CfKeepWorktrees) = (CfKeepWorktrees) chosen;
  return TRUE;
}

/* A niceness the service user may set on its own children: 0..19. */
gboolean
parse_nice (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
            const Field *field, GError **error)
{
  guint number = 0;

  if (!uint_value (loader, at, value, path, &number, error))
    return FALSE;
  if (number > 19)
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                         _("must be between 0 and 19"));
  *FIELD_SLOT (loader, field, guint) = number;
  return TRUE;
}

gboolean
parse_section (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
               const Field *field, GError **error)
{
  return walk_mapping (loader, at, value, path, field->children, error);
}

/* YAML null is an empty list: *out_items is then NULL. */
gboolean
list_node (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
           GPtrArray **out_items, GError **error)
{
  *out_items = NULL;
  if (cf_yaml_node_is_null (value))
    return TRUE;
  if (!expect_sequence (loader, at, value, path, error))
    return FALSE;
  *out_items = value->children;
  return TRUE;
}

guint
list_length (const GPtrArray *items)
{
  return items != NULL ? items->len : 0;
}

gboolean
parse_entries (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
               const Field *field, GError **error)
{
  GPtrArray *items;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  GStrv *slot = FIELD_SLOT (loader, field, GStrv);

  if (!list_node (loader, at, value, path, &items, error))
    return FALSE;
  for (guint i = 0; i < list_length (items); i++)
    {
      const CfYamlNode *item = g_ptr_array_index (items, i);
      g_autofree char *item_path = path_item (path, i);
      const char *text;

      if (!scalar_text (loader, item, item, item_path, FALSE, &text, error) ||
          !check_text (loader, item, item_path, text, 0, error))
        return FALSE;
      if (strchr (text, '/') != NULL || strcmp (text, ".") == 0 || strcmp (text, "..") == 0)
        {
          g_autofree char *shown = cf_text_for_message (text);
          return set_error_at (error, loader, item, item_path, CF_CONFIG_ERROR_VALUE,
                               _("'%s' must be a single file name"), shown);
        }
      if (!g_hash_table_add (names, (gpointer) text))
        {
          g_autofree char *shown = cf_text_for_message (text);
          return set_error_at (error, loader, item, item_path, CF_CONFIG_ERROR_VALUE,
                               _("'%s' is listed twice"), shown);
        }
      g_strv_builder_add (builder, text);
    }
  g_strfreev (*slot);
  *slot = g_strv_builder_end (builder);
  return TRUE;
}

gboolean
parse_path_list (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
                 const Field *field, GError **error)
{
  GPtrArray *items;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) unique = g_hash_table_new (g_str_hash, g_str_equal);
  GStrv *slot = FIELD_SLOT (loader, field, GStrv);

  if (!list_node (loader, at, value, path, &items, error))
    return FALSE;
  for (guint i = 0; i < list_length (items); i++)
    {
      const CfYamlNode *item = g_ptr_array_index (items, i);
      g_autofree char *item_path = path_item (path, i);
      char *result;

      if (!path_value (loader, item, item, item_path, 0, &result, error))
        return FALSE;
      g_ptr_array_add (paths, result);
      if (!g_hash_table_add (unique, result))
        {
          g_autofree char *shown = cf_text_for_message (result);
          return set_error_at (error, loader, item, item_path, CF_CONFIG_ERROR_VALUE,
                               _("'%s' is listed twice"), shown);
        }
    }
  g_ptr_array_add (paths, NULL);
  g_strfreev (*slot);
  *slot = (GStrv) g_ptr_array_steal (paths, NULL);
  return TRUE;
}

/* Integer seconds as in the Go predecessor, or a duration in whole seconds. */
gboolean
parse_cooldown_schedule (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
                         const Field *field, GError **error)
{
  GPtrArray *items;
  g_autoptr(GArray) seconds = g_array_new (FALSE, FALSE, sizeof (guint));
  GArray **slot = FIELD_SLOT (loader, field, GArray *);

  if (!list_node (loader, at, value, path, &items, error))
    return FALSE;
  if (list_length (items) == 0)
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_VALUE,
                         _("must list at least one delay"));
  for (guint i = 0; i < list_length (items); i++)
    {
      const CfYamlNode *item = g_ptr_array_index (items, i);
      g_autofree char *item_path = path_item (path, i);
      g_autofree char *shown = NULL;
      const char *text;
      gint64 usec;
      guint s;

      if (!scalar_text (loader, item, item, item_path, FALSE, &text, error))
        return FALSE;
      if (*text == '\0')
        return set_error_at (error, loader, item, item_path, CF_CONFIG_ERROR_VALUE,
                             _("must not be empty"));
      if (text[0] == '-' && g_ascii_isdigit (text[1]))
        return set_error_at (error, loader, item, item_path, CF_CONFIG_ERROR_VALUE,
                             _("must not be negative"));
      shown = cf_text_for_message (text);
      if (!cf_duration_parse (text, &usec))
        return set_error_at (error, loader, item, item_path, CF_CONFIG_ERROR_VALUE,
                             _("'%s' is not a number of seconds or a duration"), shown);
      if (usec % G_USEC_PER_SEC != 0)
        return set_error_at (error, loader, item, item_path, CF_CONFIG_ERROR_VALUE,
                             _("'%s' is not a whole number of seconds"), shown);
      if (usec > CF_CONFIG_MAX_DURATION_USEC)
        return set_error_at (error, loader, item, item_path, CF_CONFIG_ERROR_VALUE,
                             _("must not exceed %s"), CF_CONFIG_MAX_DURATION_TEXT);
      s = (guint) (usec / G_USEC_PER_SEC);
      g_array_append_val (seconds, s);
    }
  if (*slot != NULL)
    g_array_unref (*slot);
  *slot = g_steal_pointer (&seconds);
  return TRUE;
}
