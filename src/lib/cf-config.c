/* SPDX-License-Identifier: MIT */
#include "cf-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cf-duration.h"
#include "cf-shell.h"
#include "cf-text.h"
#include "cf-webhook.h"
#include "cf-yaml.h"

G_DEFINE_QUARK (cf-config-error-quark, cf_config_error)

/* A configuration is a few kilobytes; anything this large is a mistake
 * (or /dev/zero) and must not stall the daemon's start. */
#define CF_CONFIG_MAX_FILE_SIZE (1024 * 1024)
/* pool.autonomous.max above this is refused: a typo, not a pool. */
#define CF_CONFIG_POOL_MAX_SESSIONS 200u

/* The schema is four levels deep; deeper input can only be an error, and
 * the limit keeps the recursive tree code bounded on hostile input. */
#define CF_CONFIG_MAX_DEPTH 32

/* Timers take milliseconds in a guint; 30 days stays far below that. */
#define CF_CONFIG_MAX_DURATION_USEC ((gint64) 720 * 3600 * G_USEC_PER_SEC)
#define CF_CONFIG_MAX_DURATION_TEXT "720h"

#define CF_CONFIG_DEFAULT_MESSAGE_TEMPLATE \
  "[{task}] {body}\n\nIMPORTANT: Tu dois EXECUTER les actions demandées, pas seulement les décrire."

/* --- Loader state and errors --------------------------------------------- */

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

static char *
path_child (const char *parent, const char *key)
{
  g_autofree char *shown = *key != '\0' ? cf_text_for_message (key) : g_strdup ("\"\"");

  if (parent == NULL || *parent == '\0')
    return g_steal_pointer (&shown);
  return g_strdup_printf ("%s.%s", parent, shown);
}

static char *
path_item (const char *parent, guint index)
{
  return g_strdup_printf ("%s[%u]", parent, index);
}

static gboolean G_GNUC_PRINTF (7, 0)
set_error_va (GError **error,
              const Loader *loader,
              guint line,
              guint column,
              const char *path,
              CfConfigError code,
              const char *format,
              va_list args)
{
  g_autofree char *message = g_strdup_vprintf (format, args);

  if (path != NULL)
    g_set_error (error, CF_CONFIG_ERROR, code, "%s:%u:%u: %s: %s",
                 loader->source, line, column, path, message);
  else
    g_set_error (error, CF_CONFIG_ERROR, code, "%s:%u:%u: %s",
                 loader->source, line, column, message);
  return FALSE;
}

static gboolean G_GNUC_PRINTF (6, 7)
set_error_at (GError **error,
              const Loader *loader,
              const CfYamlNode *at,
              const char *path,
              CfConfigError code,
              const char *format,
              ...)
{
  va_list args;

  va_start (args, format);
  set_error_va (error, loader, at->line, at->column, path, code, format, args);
  va_end (args);
  return FALSE;
}

static gboolean G_GNUC_PRINTF (7, 8)
set_error_pos (GError **error,
               const Loader *loader,
               guint line,
               guint column,
               const char *path,
               CfConfigError code,
               const char *format,
               ...)
{
  va_list args;

  va_start (args, format);
  set_error_va (error, loader, line, column, path, code, format, args);
  va_end (args);
  return FALSE;
}

/* Line and column (1-based, columns in characters like libyaml's marks) of
 * byte OFFSET in DATA. */
static void
position_of_offset (const char *data, gsize length, gsize offset, guint *line, guint *column)
{
  guint l = 1, c = 1;

  offset = MIN (offset, length);
  for (gsize i = 0; i < offset; i++)
    {
      guchar b = (guchar) data[i];

      if (b == '\n' || (b == '\r' && (i + 1 >= length || data[i + 1] != '\n')))
        {
          l++;
          c = 1;
        }
      else if ((b & 0xc0) != 0x80 && b != '\r')
        c++;
    }
  *line = l;
  *column = c;
}

/* --- Parsing the YAML ------------------------------------------------------ */

/* Parses DATA into one tree. *out_root is NULL for a stream with no document. */
static gboolean
parse_tree (const Loader *loader, const char *data, gsize length, CfYamlNode **out_root,
            GError **error)
{
  CfYamlFailure failure;
  guint line, column;

  if (cf_yaml_parse (data, length, 1, CF_CONFIG_MAX_DEPTH, out_root, &failure))
    return TRUE;

  switch (failure.kind)
    {
    case CF_YAML_FAILURE_NO_MEMORY:
      return set_error_pos (error, loader, 1, 1, NULL, CF_CONFIG_ERROR_SYNTAX,
                            _("out of memory while parsing YAML"));
    case CF_YAML_FAILURE_READER:
      position_of_offset (data, length, failure.offset, &line, &column);
      return set_error_pos (error, loader, line, column, NULL, CF_CONFIG_ERROR_SYNTAX,
                            _("invalid YAML: %s"), failure.problem);
    case CF_YAML_FAILURE_SYNTAX:
      if (failure.context != NULL)
        /* TRANSLATORS: the first %s is libyaml's problem, the second what it
         * was doing, e.g. "while scanning a quoted scalar", then where that began. */
        return set_error_pos (error, loader, failure.line, failure.column, NULL,
                              CF_CONFIG_ERROR_SYNTAX,
                              _("invalid YAML: %s (%s started at line %u, column %u)"),
                              failure.problem, failure.context,
                              failure.context_line, failure.context_column);
      return set_error_pos (error, loader, failure.line, failure.column, NULL,
                            CF_CONFIG_ERROR_SYNTAX, _("invalid YAML: %s"), failure.problem);
    case CF_YAML_FAILURE_ANCHOR:
      return set_error_pos (error, loader, failure.line, failure.column, NULL,
                            CF_CONFIG_ERROR_SYNTAX,
                            _("YAML anchors and aliases are not supported"));
    case CF_YAML_FAILURE_UNEXPECTED_EVENT:
      return set_error_pos (error, loader, failure.line, failure.column, NULL,
                            CF_CONFIG_ERROR_SYNTAX, _("invalid YAML: unexpected event"));
    case CF_YAML_FAILURE_TOO_DEEP:
      return set_error_pos (error, loader, failure.line, failure.column, NULL,
                            CF_CONFIG_ERROR_SYNTAX, _("nesting is too deep"));
    case CF_YAML_FAILURE_SECOND_DOCUMENT:
      return set_error_pos (error, loader, failure.line, failure.column, NULL,
                            CF_CONFIG_ERROR_SYNTAX, _("only one YAML document is allowed"));
    default:
      g_assert_not_reached ();
    }
}

/* --- Schema ---------------------------------------------------------------- */

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

static gboolean walk_mapping (Loader *loader, const CfYamlNode *at, const CfYamlNode *node,
                              const char *path, const Field *fields, GError **error);

static gboolean
expect_mapping (Loader *loader, const CfYamlNode *at, const CfYamlNode *node, const char *path, GError **error)
{
  if (node->type == CF_YAML_NODE_MAPPING)
    return TRUE;
  if (node->type == CF_YAML_NODE_SEQUENCE)
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_TYPE,
                         _("must be a mapping, not a list"));
  return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_TYPE,
                       _("must be a mapping, not a single value"));
}

static gboolean
expect_sequence (Loader *loader, const CfYamlNode *at, const CfYamlNode *node, const char *path, GError **error)
{
  if (node->type == CF_YAML_NODE_SEQUENCE)
    return TRUE;
  if (node->type == CF_YAML_NODE_MAPPING)
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_TYPE,
                         _("must be a list, not a mapping"));
  return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_TYPE,
                       _("must be a list, not a single value"));
}

/* The scalar's text, with YAML nulls as "". For paths, "~" is the home
 * directory rather than YAML's null. */
static gboolean
scalar_text (Loader *loader, const CfYamlNode *at, const CfYamlNode *node, const char *path,
             gboolean tilde_is_text, const char **out, GError **error)
{
  if (node->type == CF_YAML_NODE_SEQUENCE)
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_TYPE,
                         _("must be a single value, not a list"));
  if (node->type == CF_YAML_NODE_MAPPING)
    return set_error_at (error, loader, at, path, CF_CONFIG_ERROR_TYPE,
                         _("must be a single value, not a mapping"));
  if (cf_yaml_node_is_null (node) && !(tilde_is_text && strcmp (node->value, "~") == 0))
    *out = "";
  else
    *out = node->value;
  return TRUE;
}

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

static gboolean
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

static gboolean
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

static gboolean
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

static gboolean
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

static gboolean
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
static gboolean
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

static gboolean
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

static gboolean
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

static gboolean
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
static gboolean
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

static gboolean
parse_section (Loader *loader, const CfYamlNode *at, const CfYamlNode *value, const char *path,
               const Field *field, GError **error)
{
  return walk_mapping (loader, at, value, path, field->children, error);
}

/* YAML null is an empty list: *out_items is then NULL. */
static gboolean
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

static guint
list_length (const GPtrArray *items)
{
  return items != NULL ? items->len : 0;
}

static gboolean
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

static gboolean
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
static gboolean
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

static void
account_free (CfAccountConfig *account)
{
  g_free (account->name);
  g_free (account->home);
  g_free (account);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfAccountConfig, account_free)

static void
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

static const CfYamlNode *
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

static void
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

static const Field root_fields[] = {
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

static guint
edit_distance (const char *a, const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  g_autofree guint *row = g_new (guint, lb + 1);

  for (gsize j = 0; j <= lb; j++)
    row[j] = (guint) j;
  for (gsize i = 1; i <= la; i++)
    {
      guint diagonal = row[0];
      row[0] = (guint) i;
      for (gsize j = 1; j <= lb; j++)
        {
          guint above = row[j];
          guint cost = g_ascii_tolower (a[i - 1]) == g_ascii_tolower (b[j - 1]) ? 0 : 1;
          row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1), diagonal + cost);
          diagonal = above;
        }
    }
  return row[lb];
}

static gboolean
unknown_key_error (Loader *loader, const CfYamlNode *key, const char *path, const Field *fields,
                   GError **error)
{
  const char *best = NULL;
  guint best_distance = G_MAXUINT;
  g_autoptr(GString) known = g_string_new (NULL);

  for (const Field *f = fields; f->key != NULL; f++)
    {
      guint distance, limit;

      if (f->flags & FIELD_DEPRECATED)
        continue;
      if (known->len > 0)
        g_string_append (known, ", ");
      g_string_append (known, f->key);

      /* Long input cannot be a typo of a short key; skip the quadratic work. */
      if (strlen (key->value) > 64)
        continue;
      distance = edit_distance (key->value, f->key);
      limit = MAX (1, MIN (3, strlen (f->key) / 3));
      if (distance <= limit && distance < best_distance)
        {
          best = f->key;
          best_distance = distance;
        }
    }

  if (best != NULL)
    return set_error_at (error, loader, key, path, CF_CONFIG_ERROR_UNKNOWN_KEY,
                         _("unknown key, did you mean '%s'?"), best);
  return set_error_at (error, loader, key, path, CF_CONFIG_ERROR_UNKNOWN_KEY,
                       _("unknown key (known keys: %s)"), known->str);
}

static gboolean
walk_mapping (Loader *loader, const CfYamlNode *at, const CfYamlNode *node, const char *path,
              const Field *fields, GError **error)
{
  g_autoptr(GHashTable) keys = NULL;

  if (cf_yaml_node_is_null (node))
    return TRUE;
  if (!expect_mapping (loader, at, node, path, error))
    return FALSE;

  keys = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i + 1 < node->children->len; i += 2)
    {
      const CfYamlNode *key = g_ptr_array_index (node->children, i);
      const CfYamlNode *value = g_ptr_array_index (node->children, i + 1);
      g_autofree char *child = NULL;
      const CfYamlNode *first;
      const Field *field;

      if (key->type != CF_YAML_NODE_SCALAR)
        return set_error_at (error, loader, key, (path != NULL && *path != '\0') ? path : NULL,
                             CF_CONFIG_ERROR_TYPE,
                             _("keys must be single values, not lists or mappings"));

      child = path_child (path, key->value);
      first = g_hash_table_lookup (keys, key->value);
      if (first != NULL)
        return set_error_at (error, loader, key, child, CF_CONFIG_ERROR_SYNTAX,
                             _("duplicate key (first set at line %u)"), first->line);
      g_hash_table_insert (keys, key->value, (gpointer) key);

      for (field = fields; field->key != NULL; field++)
        if (strcmp (field->key, key->value) == 0)
          break;
      if (field->key == NULL)
        return unknown_key_error (loader, key, child, fields, error);

      g_hash_table_insert (loader->seen, g_strdup (child), (gpointer) key);
      if (!field->parse (loader, key, value, child, field, error))
        return FALSE;
    }
  return TRUE;
}

/* --- Checks across keys ------------------------------------------------------ */

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

static gboolean
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
