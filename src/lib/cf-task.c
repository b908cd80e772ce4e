/* SPDX-License-Identifier: MIT */
#include "cf-task.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-text.h"
#include "cf-yaml.h"

G_DEFINE_QUARK (cf-task-error-quark, cf_task_error)

/* The schema is two levels deep; the limit only bounds the recursive tree
 * code on hostile input (values of unknown keys are parsed too). */
#define CF_TASK_MAX_DEPTH 32

gboolean
cf_task_id_is_valid (const char *id)
{
  gsize n = 0;

  if (id == NULL || *id == '\0' || *id == '.')
    return FALSE;
  for (const char *p = id; *p != '\0'; p++, n++)
    {
      if (n >= CF_TASK_ID_MAX_LENGTH)
        return FALSE;
      if (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-')
        return FALSE;
    }
  return TRUE;
}

/* --- Names of the enumerations -------------------------------------------- */

static const char *const complexity_names[] = {
  [CF_COMPLEXITY_UNSET] = NULL,
  [CF_COMPLEXITY_LOW] = "low",
  [CF_COMPLEXITY_MEDIUM] = "medium",
  [CF_COMPLEXITY_HIGH] = "high",
};

static const char *const preferred_ai_names[] = {
  [CF_PREFERRED_AI_AUTO] = "auto",
  [CF_PREFERRED_AI_CLAUDE_CODE] = "claude-code",
  [CF_PREFERRED_AI_GPU] = "gpu",
  [CF_PREFERRED_AI_GEMINI] = "gemini",
  [CF_PREFERRED_AI_CLAUDE_API] = "claude-api",
  [CF_PREFERRED_AI_OTHER] = NULL,
};

const char *
cf_complexity_to_string (CfComplexity complexity)
{
  if ((guint) complexity >= G_N_ELEMENTS (complexity_names))
    return NULL;
  return complexity_names[complexity];
}

const char *
cf_preferred_ai_to_string (CfPreferredAi preferred)
{
  if ((guint) preferred >= G_N_ELEMENTS (preferred_ai_names))
    return NULL;
  return preferred_ai_names[preferred];
}

/* --- Text helpers ------------------------------------------------------------ */

static const char *const isolation_names[] = {
  [CF_TASK_ISOLATION_UNSET] = NULL,
  [CF_TASK_ISOLATION_SHARED] = "shared",
  [CF_TASK_ISOLATION_WORKTREE] = "worktree",
};

const char *
cf_task_isolation_to_string (CfTaskIsolation isolation)
{
  if ((guint) isolation >= G_N_ELEMENTS (isolation_names))
    return NULL;
  return isolation_names[isolation];
}

static gboolean
is_blank_or_control (gunichar c)
{
  return g_unichar_isspace (c) || g_unichar_iscntrl (c);
}

/* One line of text: runs of white space and control characters become one
 * space, ends trimmed. Titles and tags end up in notifications, D-Bus
 * properties and logs, where a stray newline or escape would do harm. */
static char *
collapse_text (const char *text, gsize length)
{
  GString *out = g_string_sized_new (length);
  const char *end = text + length;
  gboolean pending_space = FALSE;

  for (const char *p = text; p < end; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (is_blank_or_control (c))
        {
          pending_space = out->len > 0;
          continue;
        }
      if (pending_space)
        g_string_append_c (out, ' ');
      pending_space = FALSE;
      g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  return g_string_free (out, FALSE);
}

/* --- Parser state and errors ---------------------------------------------- */

typedef struct {
  const char *source;          /* "ID.md", for messages */
  const char *data;            /* after the byte-order mark */
  gsize length;
  gsize bom_length;
  gsize frontmatter_offset;    /* into data */
  guint frontmatter_line;      /* file line (1-based) where the YAML text starts */
  GPtrArray *warnings;
  GHashTable *seen_keys;       /* key → CfYamlNode* */
} Parser;

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

      if (b == '\n')
        {
          l++;
          c = 1;
        }
      else if ((b & 0xc0) != 0x80 && !(b == '\r' && i + 1 < length && data[i + 1] == '\n'))
        c++;
    }
  *line = l;
  *column = c;
}

static gboolean G_GNUC_PRINTF (7, 8)
set_error_pos (GError **error,
               const Parser *parser,
               guint line,
               guint column,
               const char *key,
               CfTaskError code,
               const char *format,
               ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  if (key != NULL)
    {
      /* Keys are file text too: a quoted key may hold a newline. */
      g_autofree char *shown_key = cf_text_for_message (key);

      g_set_error (error, CF_TASK_ERROR, code, "%s:%u:%u: %s: %s",
                   parser->source, line, column, shown_key, message);
    }
  else
    g_set_error (error, CF_TASK_ERROR, code, "%s:%u:%u: %s",
                 parser->source, line, column, message);
  return FALSE;
}

/* --- Parsing the frontmatter's YAML ------------------------------------- */

/* Parses TEXT into one tree. *out_root is NULL when it holds no document
 * (empty, or only comments). */
static gboolean
parse_tree (const Parser *parser, const char *text, gsize length, CfYamlNode **out_root,
            GError **error)
{
  CfYamlFailure failure;
  guint line, column;

  if (cf_yaml_parse (text, length, parser->frontmatter_line, CF_TASK_MAX_DEPTH, out_root,
                     &failure))
    return TRUE;

  switch (failure.kind)
    {
    case CF_YAML_FAILURE_NO_MEMORY:
      return set_error_pos (error, parser, parser->frontmatter_line, 1, NULL, CF_TASK_ERROR_SYNTAX,
                            _("out of memory while parsing the frontmatter"));
    case CF_YAML_FAILURE_READER:
      position_of_offset (parser->data, parser->length,
                          parser->frontmatter_offset + failure.offset, &line, &column);
      return set_error_pos (error, parser, line, column, NULL, CF_TASK_ERROR_SYNTAX,
                            _("invalid YAML in the frontmatter: %s"), failure.problem);
    case CF_YAML_FAILURE_SYNTAX:
      if (failure.context != NULL)
        /* TRANSLATORS: the first %s is libyaml's problem, the second what it
         * was doing, e.g. "while scanning a quoted scalar", then where that began. */
        return set_error_pos (error, parser, failure.line, failure.column, NULL,
                              CF_TASK_ERROR_SYNTAX,
                              _("invalid YAML in the frontmatter: %s (%s started at line %u, column %u)"),
                              failure.problem, failure.context,
                              failure.context_line, failure.context_column);
      return set_error_pos (error, parser, failure.line, failure.column, NULL,
                            CF_TASK_ERROR_SYNTAX,
                            _("invalid YAML in the frontmatter: %s"), failure.problem);
    case CF_YAML_FAILURE_ANCHOR:
      return set_error_pos (error, parser, failure.line, failure.column, NULL,
                            CF_TASK_ERROR_SYNTAX,
                            _("YAML anchors and aliases are not supported"));
    case CF_YAML_FAILURE_UNEXPECTED_EVENT:
      return set_error_pos (error, parser, failure.line, failure.column, NULL,
                            CF_TASK_ERROR_SYNTAX,
                            _("invalid YAML in the frontmatter: unexpected event"));
    case CF_YAML_FAILURE_TOO_DEEP:
      return set_error_pos (error, parser, failure.line, failure.column, NULL,
                            CF_TASK_ERROR_SYNTAX, _("the frontmatter is nested too deeply"));
    case CF_YAML_FAILURE_SECOND_DOCUMENT:
      return set_error_pos (error, parser, failure.line, failure.column, NULL,
                            CF_TASK_ERROR_SYNTAX,
                            _("the frontmatter must be one YAML document"));
    default:
      g_assert_not_reached ();
    }
}

/* --- Fields ---------------------------------------------------------------- */

/* The scalar's text, NULL for a YAML null; lists and mappings are type
 * errors. KEY locates the message, as in the configuration's errors. */
static gboolean
scalar_text (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value,
             const char **out, GError **error)
{
  if (value->type == CF_YAML_NODE_SEQUENCE)
    return set_error_pos (error, parser, key->line, key->column, key->value, CF_TASK_ERROR_TYPE,
                          _("must be a single value, not a list"));
  if (value->type == CF_YAML_NODE_MAPPING)
    return set_error_pos (error, parser, key->line, key->column, key->value, CF_TASK_ERROR_TYPE,
                          _("must be a single value, not a mapping"));
  *out = cf_yaml_node_is_null (value) ? NULL : value->value;
  return TRUE;
}

static gboolean
parse_title (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value, CfTask *task, GError **error)
{
  const char *text;
  g_autofree char *title = NULL;

  if (!scalar_text (parser, key, value, &text, error))
    return FALSE;
  title = text != NULL ? collapse_text (text, strlen (text)) : NULL;
  /* An empty title is no title: the heading or the id still names the task. */
  if (title == NULL || *title == '\0')
    return TRUE;
  g_free (task->title);
  task->title = g_steal_pointer (&title);
  task->title_from_frontmatter = TRUE;
  return TRUE;
}

static gboolean
parse_priority (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value, CfTask *task,
                GError **error)
{
  const char *text;
  g_autofree char *shown = NULL;

  if (!scalar_text (parser, key, value, &text, error))
    return FALSE;
  if (text == NULL || *text == '\0')
    return TRUE;
  if (cf_priority_from_string (text, &task->priority))
    return TRUE;
  shown = cf_text_for_message (text);
  /* "normal" and "medium" are refused on purpose: guessing a priority
   * would silently change which model runs the task. */
  return set_error_pos (error, parser, key->line, key->column, key->value, CF_TASK_ERROR_VALUE,
                        _("'%s' is not a priority (expected critical, high, default or low)"),
                        shown);
}

static gboolean
parse_tags (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value, CfTask *task, GError **error)
{
  g_autoptr(GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);

  if (value->type == CF_YAML_NODE_MAPPING)
    return set_error_pos (error, parser, key->line, key->column, key->value, CF_TASK_ERROR_TYPE,
                          _("must be a list or a single value, not a mapping"));

  if (value->type == CF_YAML_NODE_SCALAR)
    {
      if (!cf_yaml_node_is_null (value))
        g_ptr_array_add (tags, collapse_text (value->value, strlen (value->value)));
    }
  else
    {
      for (guint i = 0; i < value->children->len; i++)
        {
          const CfYamlNode *item = g_ptr_array_index (value->children, i);
          g_autofree char *path = NULL;

          if (item->type != CF_YAML_NODE_SCALAR)
            {
              path = g_strdup_printf ("%s[%u]", key->value, i);
              return set_error_pos (error, parser, item->line, item->column, path,
                                    CF_TASK_ERROR_TYPE,
                                    item->type == CF_YAML_NODE_SEQUENCE
                                    ? _("must be a single value, not a list")
                                    : _("must be a single value, not a mapping"));
            }
          if (!cf_yaml_node_is_null (item))
            g_ptr_array_add (tags, collapse_text (item->value, strlen (item->value)));
        }
    }

  /* Empty tags carry nothing; dropping them keeps "tags: ''" harmless. */
  for (guint i = tags->len; i > 0; i--)
    if (*(const char *) g_ptr_array_index (tags, i - 1) == '\0')
      g_ptr_array_remove_index (tags, i - 1);
  g_ptr_array_add (tags, NULL);
  g_strfreev (task->tags);
  task->tags = (GStrv) g_ptr_array_steal (tags, NULL);
  return TRUE;
}

static gboolean
parse_boolean (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value, gboolean *out,
               GError **error)
{
  const char *text;
  g_autofree char *shown = NULL;

  if (!scalar_text (parser, key, value, &text, error))
    return FALSE;
  if (text == NULL)
    return TRUE;
  if (g_ascii_strcasecmp (text, "true") == 0 || g_ascii_strcasecmp (text, "yes") == 0)
    {
      *out = TRUE;
      return TRUE;
    }
  if (g_ascii_strcasecmp (text, "false") == 0 || g_ascii_strcasecmp (text, "no") == 0)
    {
      *out = FALSE;
      return TRUE;
    }
  shown = cf_text_for_message (text);
  return set_error_pos (error, parser, key->line, key->column, key->value, CF_TASK_ERROR_TYPE,
                        _("'%s' is not a boolean (expected true, false, yes or no)"), shown);
}

static gboolean
parse_needs_claude_code (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value, CfTask *task,
                         GError **error)
{
  return parse_boolean (parser, key, value, &task->needs_claude_code, error);
}

static gboolean
parse_allow_delegation (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value, CfTask *task,
                        GError **error)
{
  return parse_boolean (parser, key, value, &task->allow_delegation, error);
}

static gboolean
parse_preferred_ai (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value, CfTask *task,
                    GError **error)
{
  const char *text;
  g_autofree char *name = NULL;

  if (!scalar_text (parser, key, value, &text, error))
    return FALSE;
  name = text != NULL ? collapse_text (text, strlen (text)) : g_strdup ("");
  if (*name == '\0')
    return TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (preferred_ai_names); i++)
    if (preferred_ai_names[i] != NULL && g_ascii_strcasecmp (name, preferred_ai_names[i]) == 0)
      {
        task->preferred_ai = (CfPreferredAi) i;
        g_free (task->preferred_ai_name);
        task->preferred_ai_name = g_strdup (preferred_ai_names[i]);
        return TRUE;
      }

  /* Tools name providers this version has never heard of; routing, not the
   * parser, decides what an unknown one means (it stays local). */
  task->preferred_ai = CF_PREFERRED_AI_OTHER;
  g_free (task->preferred_ai_name);
  task->preferred_ai_name = g_steal_pointer (&name);
  return TRUE;
}

static gboolean
parse_complexity (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value, CfTask *task,
                  GError **error)
{
  const char *text;
  g_autofree char *shown = NULL;

  if (!scalar_text (parser, key, value, &text, error))
    return FALSE;
  if (text == NULL || *text == '\0')
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (complexity_names); i++)
    if (complexity_names[i] != NULL && g_ascii_strcasecmp (text, complexity_names[i]) == 0)
      {
        task->complexity_hint = (CfComplexity) i;
        return TRUE;
      }
  shown = cf_text_for_message (text);
  return set_error_pos (error, parser, key->line, key->column, key->value, CF_TASK_ERROR_VALUE,
                        _("'%s' is not a complexity (expected low, medium or high)"), shown);
}

/* The model reaches the claude command line; the character set keeps it
 * one harmless word, and no leading '-' keeps it from reading as an option. */
static gboolean
model_is_valid (const char *text)
{
  gsize n = 0;

  if (*text == '-')
    return FALSE;
  for (const char *p = text; *p != '\0'; p++, n++)
    if (n >= CF_TASK_MODEL_MAX_LENGTH ||
        (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-'))
      return FALSE;
  return TRUE;
}

static gboolean
parse_model (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value, CfTask *task, GError **error)
{
  const char *text;
  g_autofree char *shown = NULL;

  if (!scalar_text (parser, key, value, &text, error))
    return FALSE;
  if (text == NULL || *text == '\0')
    return TRUE;
  if (!model_is_valid (text))
    {
      shown = cf_text_for_message (text);
      return set_error_pos (error, parser, key->line, key->column, key->value, CF_TASK_ERROR_VALUE,
                            _("'%s' is not a model name (letters, digits, '.', '_' and '-', "
                              "at most %u characters, not starting with '-')"),
                            shown, CF_TASK_MODEL_MAX_LENGTH);
    }
  g_free (task->model);
  task->model = g_strdup (text);
  return TRUE;
}

static gboolean
parse_isolation (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value, CfTask *task,
                 GError **error)
{
  const char *text;
  g_autofree char *shown = NULL;

  if (!scalar_text (parser, key, value, &text, error))
    return FALSE;
  if (text == NULL || *text == '\0')
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (isolation_names); i++)
    if (isolation_names[i] != NULL && g_ascii_strcasecmp (text, isolation_names[i]) == 0)
      {
        task->isolation = (CfTaskIsolation) i;
        return TRUE;
      }
  shown = cf_text_for_message (text);
  return set_error_pos (error, parser, key->line, key->column, key->value, CF_TASK_ERROR_VALUE,
                        _("'%s' is not an isolation (expected shared or worktree)"), shown);
}

static gboolean
add_dependency (const Parser *parser, const CfYamlNode *key, const CfYamlNode *item, const char *path,
                GPtrArray *ids, CfTask *task, GError **error)
{
  g_autofree char *shown = NULL;

  if (cf_yaml_node_is_null (item) || *item->value == '\0')
    return TRUE;
  shown = cf_text_for_message (item->value);
  if (!cf_task_id_is_valid (item->value))
    return set_error_pos (error, parser, item->line, item->column, path, CF_TASK_ERROR_VALUE,
                          _("'%s' is not a task id (letters, digits, '.', '_' and '-', "
                            "not starting with '.')"), shown);
  if (g_strcmp0 (item->value, task->id) == 0)
    return set_error_pos (error, parser, item->line, item->column, path, CF_TASK_ERROR_VALUE,
                          _("a task cannot depend on itself"));
  for (guint i = 0; i < ids->len; i++)
    if (g_strcmp0 (g_ptr_array_index (ids, i), item->value) == 0)
      return set_error_pos (error, parser, item->line, item->column, path, CF_TASK_ERROR_VALUE,
                            _("'%s' is listed twice"), shown);
  if (ids->len >= CF_TASK_MAX_DEPENDENCIES)
    return set_error_pos (error, parser, key->line, key->column, key->value, CF_TASK_ERROR_VALUE,
                          _("more than %u dependencies"), CF_TASK_MAX_DEPENDENCIES);
  g_ptr_array_add (ids, g_strdup (item->value));
  return TRUE;
}

static gboolean
parse_depends_on (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value, CfTask *task,
                  GError **error)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);

  if (value->type == CF_YAML_NODE_MAPPING)
    return set_error_pos (error, parser, key->line, key->column, key->value, CF_TASK_ERROR_TYPE,
                          _("must be a list or a single value, not a mapping"));
  if (value->type == CF_YAML_NODE_SCALAR)
    {
      if (!add_dependency (parser, key, value, key->value, ids, task, error))
        return FALSE;
    }
  else
    for (guint i = 0; i < value->children->len; i++)
      {
        const CfYamlNode *item = g_ptr_array_index (value->children, i);
        g_autofree char *path = g_strdup_printf ("%s[%u]", key->value, i);

        if (item->type != CF_YAML_NODE_SCALAR)
          return set_error_pos (error, parser, item->line, item->column, path, CF_TASK_ERROR_TYPE,
                                item->type == CF_YAML_NODE_SEQUENCE
                                ? _("must be a single value, not a list")
                                : _("must be a single value, not a mapping"));
        if (!add_dependency (parser, key, item, path, ids, task, error))
          return FALSE;
      }
  g_ptr_array_add (ids, NULL);
  g_strfreev (task->depends_on);
  task->depends_on = (GStrv) g_ptr_array_steal (ids, NULL);
  return TRUE;
}

typedef gboolean (*FieldParseFunc) (const Parser *parser, const CfYamlNode *key, const CfYamlNode *value,
                                    CfTask *task, GError **error);

static const struct {
  const char *key;
  FieldParseFunc parse;
} fields[] = {
  { "title", parse_title },
  { "priority", parse_priority },
  { "tags", parse_tags },
  { "needs_claude_code", parse_needs_claude_code },
  { "preferred_ai", parse_preferred_ai },
  { "allow_delegation", parse_allow_delegation },
  { "complexity_hint", parse_complexity },
  { "model", parse_model },
  { "isolation", parse_isolation },
  { "depends_on", parse_depends_on },
};

static void
warn_unknown_key (Parser *parser, const CfYamlNode *key)
{
  g_autofree char *shown = cf_text_for_message (key->value);
  g_autofree char *message = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    if (g_ascii_strcasecmp (key->value, fields[i].key) == 0)
      {
        message = g_strdup_printf (_("unknown key '%s' ignored, did you mean '%s'?"),
                                   shown, fields[i].key);
        break;
      }
  if (message == NULL)
    message = g_strdup_printf (_("unknown key '%s' ignored"), shown);
  g_ptr_array_add (parser->warnings, g_strdup_printf ("%s:%u:%u: %s", parser->source,
                                                      key->line, key->column, message));
}

static gboolean
apply_frontmatter (Parser *parser, const CfYamlNode *root, CfTask *task, GError **error)
{
  if (root->type != CF_YAML_NODE_MAPPING)
    return set_error_pos (error, parser, root->line, root->column, NULL,
                          CF_TASK_ERROR_NOT_MAPPING,
                          root->type == CF_YAML_NODE_SEQUENCE
                          ? _("the frontmatter must be a mapping of keys, not a list")
                          : _("the frontmatter must be a mapping of keys, not a single value"));

  for (guint i = 0; i + 1 < root->children->len; i += 2)
    {
      const CfYamlNode *key = g_ptr_array_index (root->children, i);
      const CfYamlNode *value = g_ptr_array_index (root->children, i + 1);
      const CfYamlNode *first;
      gboolean known = FALSE;

      if (key->type != CF_YAML_NODE_SCALAR)
        return set_error_pos (error, parser, key->line, key->column, NULL, CF_TASK_ERROR_TYPE,
                              _("keys must be single values, not lists or mappings"));

      first = g_hash_table_lookup (parser->seen_keys, key->value);
      if (first != NULL)
        return set_error_pos (error, parser, key->line, key->column, key->value,
                              CF_TASK_ERROR_SYNTAX,
                              _("duplicate key (first set at line %u)"), first->line);
      g_hash_table_insert (parser->seen_keys, key->value, (gpointer) key);

      for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
        if (strcmp (key->value, fields[f].key) == 0)
          {
            if (!fields[f].parse (parser, key, value, task, error))
              return FALSE;
            known = TRUE;
            break;
          }
      if (!known)
        warn_unknown_key (parser, key);
    }
  return TRUE;
}

/* --- Layout: frontmatter delimiters, body, heading ------------------------- */

/* LINE (without its "\n") is DELIMITER, allowing a CR and trailing blanks. */
static gboolean
line_is (const char *line, gsize length, const char *delimiter)
{
  while (length > 0 && (line[length - 1] == '\r' || line[length - 1] == ' ' ||
                        line[length - 1] == '\t'))
    length--;
  return length == strlen (delimiter) && memcmp (line, delimiter, length) == 0;
}

/* Finds the frontmatter. FALSE on an unterminated one. When there is none,
 * *yaml_length is 0 and *body_offset 0. */
static gboolean
split_frontmatter (Parser *parser, gboolean *has_frontmatter, gsize *yaml_length,
                   gsize *body_offset, GError **error)
{
  const char *data = parser->data;
  const char *end = data + parser->length;
  const char *newline = memchr (data, '\n', parser->length);
  const char *line;

  *has_frontmatter = FALSE;
  *yaml_length = 0;
  *body_offset = 0;

  if (!line_is (data, (newline != NULL ? newline : end) - data, "---"))
    return TRUE;

  *has_frontmatter = TRUE;
  parser->frontmatter_offset = newline != NULL ? (gsize) (newline + 1 - data) : parser->length;
  parser->frontmatter_line = 2;

  for (line = data + parser->frontmatter_offset; line < end; line = newline + 1)
    {
      newline = memchr (line, '\n', end - line);
      if (line_is (line, (newline != NULL ? newline : end) - line, "---") ||
          line_is (line, (newline != NULL ? newline : end) - line, "..."))
        {
          *yaml_length = (gsize) (line - data) - parser->frontmatter_offset;
          *body_offset = newline != NULL ? (gsize) (newline + 1 - data) : parser->length;
          return TRUE;
        }
      if (newline == NULL)
        break;
    }

  return set_error_pos (error, parser, 1, 1, NULL, CF_TASK_ERROR_UNTERMINATED,
                        _("the frontmatter opened by '---' on line 1 is never closed "
                          "(end it with a line '---')"));
}

/* CRLF and lone CR → LF; leading blank lines and trailing white space
 * dropped, so "frontmatter, empty line, text" gives "text". */
static char *
normalize_body (const char *text, gsize length)
{
  GString *out = g_string_sized_new (length);
  const char *end = text + length;
  gsize start = 0;

  /* A lone CR would act as Enter once pasted into a terminal. */
  for (const char *p = text; p < end; p++)
    {
      if (*p == '\r' && p + 1 < end && p[1] == '\n')
        continue;
      g_string_append_c (out, *p == '\r' ? '\n' : *p);
    }

  for (gsize i = 0; i < out->len; i++)
    {
      if (out->str[i] == '\n')
        start = i + 1;
      else if (out->str[i] != ' ' && out->str[i] != '\t')
        break;
    }
  g_string_erase (out, 0, (gssize) start);

  while (out->len > 0 && g_ascii_isspace (out->str[out->len - 1]))
    g_string_truncate (out, out->len - 1);
  return g_string_free (out, FALSE);
}

/* The text of a level-one ATX heading ("# Title", "# Title #"), or NULL. */
static char *
heading_text (const char *line, gsize length)
{
  gsize i = 0;
  gsize text_end;

  while (i < length && i < 3 && line[i] == ' ')
    i++;
  if (i >= length || line[i] != '#')
    return NULL;
  i++;
  if (i < length && line[i] != ' ' && line[i] != '\t')
    return NULL;

  text_end = length;
  while (text_end > i && (line[text_end - 1] == ' ' || line[text_end - 1] == '\t'))
    text_end--;
  /* A closing run of '#' counts only after a blank (CommonMark). */
  {
    gsize hashes = text_end;

    while (hashes > i && line[hashes - 1] == '#')
      hashes--;
    if (hashes < text_end && (hashes == i || line[hashes - 1] == ' ' || line[hashes - 1] == '\t'))
      text_end = hashes;
  }
  return collapse_text (line + i, text_end - i);
}

/* Length of a code fence opener/closer at the start of LINE, else 0. */
static gsize
fence_length (const char *line, gsize length, char *fence_char)
{
  gsize i = 0, n = 0;

  while (i < length && i < 3 && line[i] == ' ')
    i++;
  if (i >= length || (line[i] != '`' && line[i] != '~'))
    return 0;
  *fence_char = line[i];
  while (i + n < length && line[i + n] == *fence_char)
    n++;
  return n >= 3 ? n : 0;
}

/* The first level-one heading outside fenced code blocks, or NULL. */
static char *
first_heading (const char *body)
{
  const char *line = body;
  char open_char = 0;
  gsize open_length = 0;

  while (*line != '\0')
    {
      const char *newline = strchr (line, '\n');
      gsize length = newline != NULL ? (gsize) (newline - line) : strlen (line);
      char fence_char = 0;
      gsize fence = fence_length (line, length, &fence_char);

      if (open_length > 0)
        {
          if (fence >= open_length && fence_char == open_char)
            open_length = 0;
        }
      else if (fence > 0)
        {
          open_char = fence_char;
          open_length = fence;
        }
      else
        {
          g_autofree char *text = heading_text (line, length);

          if (text != NULL && *text != '\0')
            return g_steal_pointer (&text);
        }
      if (newline == NULL)
        break;
      line = newline + 1;
    }
  return NULL;
}

/* --- Public API ---------------------------------------------------------------- */

void
cf_task_free (CfTask *task)
{
  if (task == NULL)
    return;
  g_free (task->id);
  g_free (task->title);
  g_free (task->body);
  g_strfreev (task->tags);
  g_free (task->preferred_ai_name);
  g_free (task->model);
  g_strfreev (task->depends_on);
  g_strfreev (task->warnings);
  g_free (task);
}

static CfTask *
task_new_with_defaults (const char *id)
{
  CfTask *task = g_new0 (CfTask, 1);

  task->id = g_strdup (id);
  task->priority = CF_PRIORITY_DEFAULT;
  task->tags = g_new0 (char *, 1);
  task->preferred_ai = CF_PREFERRED_AI_AUTO;
  task->preferred_ai_name = g_strdup (preferred_ai_names[CF_PREFERRED_AI_AUTO]);
  task->complexity_hint = CF_COMPLEXITY_UNSET;
  task->isolation = CF_TASK_ISOLATION_UNSET;
  task->depends_on = g_new0 (char *, 1);
  return task;
}

CfTask *
cf_task_parse (const char *id, const char *data, gsize length, GError **error)
{
  g_autoptr(CfTask) task = NULL;
  g_autoptr(CfYamlNode) root = NULL;
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) seen_keys = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *source = NULL;
  g_autofree char *shown_id = NULL;
  gboolean has_frontmatter;
  gsize yaml_length, body_offset;
  const char *bad;
  Parser parser = { 0 };

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!cf_task_id_is_valid (id))
    {
      shown_id = cf_text_for_message (id);
      g_set_error (error, CF_TASK_ERROR, CF_TASK_ERROR_INVALID_ID,
                   _("'%s' is not a task id (letters, digits, '.', '_' and '-', "
                     "not starting with '.', at most %u characters)"),
                   shown_id, CF_TASK_ID_MAX_LENGTH);
      return NULL;
    }

  source = g_strconcat (id, ".md", NULL);
  if (data == NULL)
    data = "";

  if (length > CF_TASK_MAX_SIZE)
    {
      g_set_error (error, CF_TASK_ERROR, CF_TASK_ERROR_TOO_LARGE,
                   _("%s: the file is larger than 1 MiB (%lu bytes)"),
                   source, (unsigned long) length);
      return NULL;
    }

  parser.source = source;
  parser.warnings = warnings;
  parser.seen_keys = seen_keys;
  if (length >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    parser.bom_length = 3;
  parser.data = data + parser.bom_length;
  parser.length = length - parser.bom_length;

  /* libyaml stops scalars at NUL and reports bad UTF-8 without a line, and
   * the body goes to a terminal: one precise check first covers all three. */
  if (!g_utf8_validate_len (parser.data, parser.length, &bad))
    {
      gsize offset = (gsize) (bad - parser.data);
      guint line, column;

      position_of_offset (parser.data, parser.length, offset, &line, &column);
      if (*bad == '\0')
        set_error_pos (error, &parser, line, column, NULL, CF_TASK_ERROR_NUL_BYTE,
                       _("contains a NUL byte (at byte offset %lu)"),
                       (unsigned long) (offset + parser.bom_length));
      else
        set_error_pos (error, &parser, line, column, NULL, CF_TASK_ERROR_ENCODING,
                       _("is not valid UTF-8 (byte 0x%02x at byte offset %lu)"),
                       (guint) (guchar) *bad, (unsigned long) (offset + parser.bom_length));
      return NULL;
    }

  if (!split_frontmatter (&parser, &has_frontmatter, &yaml_length, &body_offset, error))
    return NULL;

  task = task_new_with_defaults (id);
  task->has_frontmatter = has_frontmatter;

  if (has_frontmatter)
    {
      if (!parse_tree (&parser, parser.data + parser.frontmatter_offset, yaml_length, &root, error))
        return NULL;
      if (root != NULL && !cf_yaml_node_is_null (root) && !apply_frontmatter (&parser, root, task, error))
        return NULL;
    }

  task->body = normalize_body (parser.data + body_offset, parser.length - body_offset);

  if (!task->title_from_frontmatter)
    {
      if (*task->body == '\0')
        {
          g_set_error (error, CF_TASK_ERROR, CF_TASK_ERROR_EMPTY,
                       _("%s: the task is empty (no body and no title)"), source);
          return NULL;
        }
      task->title = first_heading (task->body);
      if (task->title == NULL)
        task->title = g_strdup (id);
    }

  g_ptr_array_add (warnings, NULL);
  task->warnings = (GStrv) g_ptr_array_steal (warnings, NULL);
  return g_steal_pointer (&task);
}

char *
cf_task_render_message (const CfTask *task, const char *project_name, const char *template)
{
  GString *out;

  g_return_val_if_fail (task != NULL, NULL);
  g_return_val_if_fail (template != NULL, NULL);

  out = g_string_sized_new (strlen (template) + strlen (task->body) + 64);
  for (const char *p = template; *p != '\0';)
    {
      const char *name = p + 1;
      const char *close = name;
      const char *value = NULL;

      if (*p != '{')
        {
          g_string_append_c (out, *p++);
          continue;
        }
      while (g_ascii_isalnum (*close) || *close == '_')
        close++;
      if (*close == '}')
        {
          gsize n = (gsize) (close - name);

          if (n == 4 && strncmp (name, "task", n) == 0)
            value = task->id;
          else if (n == 5 && strncmp (name, "title", n) == 0)
            value = task->title;
          else if (n == 4 && strncmp (name, "body", n) == 0)
            value = task->body;
          else if (n == 7 && strncmp (name, "project", n) == 0)
            value = project_name;
        }
      if (value == NULL)
        {
          g_string_append_c (out, *p++);
          continue;
        }
      g_string_append (out, value);
      p = close + 1;
    }
  return g_string_free (out, FALSE);
}

const char *
cf_task_model (const CfTask *task, const CfConfig *config)
{
  g_return_val_if_fail (task != NULL, NULL);

  if (task->model != NULL)
    return task->model;
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail ((guint) task->priority < CF_PRIORITY_COUNT, NULL);
  return config->models[task->priority];
}
