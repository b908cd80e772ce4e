/* SPDX-License-Identifier: MIT */
/* From text to a walked tree: errors that name their file, line, column and
 * key path; the YAML parse; the shape a node must have; and walk_mapping,
 * which runs a field table (cf-config-schema.c) over a mapping, refusing
 * duplicate keys and suggesting the nearest known key for an unknown one. */
#include "cf-config-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-text.h"

char *
path_child (const char *parent, const char *key)
{
  g_autofree char *shown = *key != '\0' ? cf_text_for_message (key) : g_strdup ("\"\"");

  if (parent == NULL || *parent == '\0')
    return g_steal_pointer (&shown);
  return g_strdup_printf ("%s.%s", parent, shown);
}

char *
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

gboolean G_GNUC_PRINTF (6, 7)
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

gboolean G_GNUC_PRINTF (7, 8)
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
void
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
gboolean
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

gboolean
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

gboolean
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
gboolean
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

gboolean
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
