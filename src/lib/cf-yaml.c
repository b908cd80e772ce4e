/* SPDX-License-Identifier: MIT */
#include "cf-yaml.h"

#include <string.h>
#include <yaml.h>

void
cf_yaml_node_free (CfYamlNode *node)
{
  if (node == NULL)
    return;
  g_free (node->value);
  if (node->children != NULL)
    g_ptr_array_unref (node->children);
  g_free (node);
}

gboolean
cf_yaml_node_is_null (const CfYamlNode *node)
{
  static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

  if (node->type != CF_YAML_NODE_SCALAR || !node->plain)
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (nulls); i++)
    if (strcmp (node->value, nulls[i]) == 0)
      return TRUE;
  return FALSE;
}

typedef struct {
  yaml_parser_t parser;
  guint first_line;
  guint max_depth;
  CfYamlFailure *failure;
} TreeBuilder;

static guint
mark_line (const TreeBuilder *builder, const yaml_mark_t *mark)
{
  return (guint) MIN (mark->line, (gsize) (G_MAXUINT - builder->first_line)) + builder->first_line;
}

static guint
mark_column (const yaml_mark_t *mark)
{
  return (guint) MIN (mark->column, (gsize) G_MAXUINT - 1) + 1;
}

static gboolean
fail_at (TreeBuilder *builder, CfYamlFailureKind kind, const yaml_mark_t *mark)
{
  *builder->failure = (CfYamlFailure) {
    .kind = kind,
    .line = mark_line (builder, mark),
    .column = mark_column (mark),
  };
  return FALSE;
}

static gboolean
fail_from_libyaml (TreeBuilder *builder)
{
  const yaml_parser_t *parser = &builder->parser;
  CfYamlFailure *failure = builder->failure;

  *failure = (CfYamlFailure) {
    .problem = parser->problem != NULL ? parser->problem : "unknown error",
  };
  if (parser->error == YAML_MEMORY_ERROR)
    failure->kind = CF_YAML_FAILURE_NO_MEMORY;
  else if (parser->error == YAML_READER_ERROR)
    {
      failure->kind = CF_YAML_FAILURE_READER;
      failure->offset = parser->problem_offset;
    }
  else
    {
      failure->kind = CF_YAML_FAILURE_SYNTAX;
      failure->line = mark_line (builder, &parser->problem_mark);
      failure->column = mark_column (&parser->problem_mark);
      failure->context = parser->context;
      if (parser->context != NULL)
        {
          failure->context_line = mark_line (builder, &parser->context_mark);
          failure->context_column = mark_column (&parser->context_mark);
        }
    }
  return FALSE;
}

static gboolean
next_event (TreeBuilder *builder, yaml_event_t *event)
{
  if (!yaml_parser_parse (&builder->parser, event))
    return fail_from_libyaml (builder);
  return TRUE;
}

static CfYamlNode *
node_new (const TreeBuilder *builder, CfYamlNodeType type, const yaml_mark_t *mark)
{
  CfYamlNode *node = g_new0 (CfYamlNode, 1);

  node->type = type;
  node->line = mark_line (builder, mark);
  node->column = mark_column (mark);
  if (type != CF_YAML_NODE_SCALAR)
    node->children = g_ptr_array_new_with_free_func ((GDestroyNotify) cf_yaml_node_free);
  return node;
}

static const yaml_char_t *
event_anchor (const yaml_event_t *event)
{
  switch (event->type)
    {
    case YAML_SCALAR_EVENT:
      return event->data.scalar.anchor;
    case YAML_SEQUENCE_START_EVENT:
      return event->data.sequence_start.anchor;
    case YAML_MAPPING_START_EVENT:
      return event->data.mapping_start.anchor;
    case YAML_ALIAS_EVENT:
      return event->data.alias.anchor;
    default:
      return NULL;
    }
}

/* Builds the node that EVENT starts (the caller keeps and deletes EVENT). */
static CfYamlNode *
build_node (TreeBuilder *builder, const yaml_event_t *event, guint depth)
{
  g_autoptr(CfYamlNode) node = NULL;
  yaml_event_type_t end_type;

  if (event->type == YAML_ALIAS_EVENT || event_anchor (event) != NULL)
    {
      fail_at (builder, CF_YAML_FAILURE_ANCHOR, &event->start_mark);
      return NULL;
    }

  switch (event->type)
    {
    case YAML_SCALAR_EVENT:
      node = node_new (builder, CF_YAML_NODE_SCALAR, &event->start_mark);
      /* Callers refuse NUL before parsing, so this is the whole text. */
      node->value = g_strndup ((const char *) event->data.scalar.value, event->data.scalar.length);
      node->plain = event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
      return g_steal_pointer (&node);

    case YAML_SEQUENCE_START_EVENT:
      node = node_new (builder, CF_YAML_NODE_SEQUENCE, &event->start_mark);
      end_type = YAML_SEQUENCE_END_EVENT;
      break;

    case YAML_MAPPING_START_EVENT:
      node = node_new (builder, CF_YAML_NODE_MAPPING, &event->start_mark);
      end_type = YAML_MAPPING_END_EVENT;
      break;

    default:
      /* libyaml only emits node events here; anything else is its bug. */
      fail_at (builder, CF_YAML_FAILURE_UNEXPECTED_EVENT, &event->start_mark);
      return NULL;
    }

  if (depth >= builder->max_depth)
    {
      fail_at (builder, CF_YAML_FAILURE_TOO_DEEP, &event->start_mark);
      return NULL;
    }

  for (;;)
    {
      yaml_event_t child_event;
      CfYamlNode *child;

      if (!next_event (builder, &child_event))
        return NULL;
      if (child_event.type == end_type)
        {
          yaml_event_delete (&child_event);
          break;
        }
      child = build_node (builder, &child_event, depth + 1);
      yaml_event_delete (&child_event);
      if (child == NULL)
        return NULL;
      g_ptr_array_add (node->children, child);
    }

  return g_steal_pointer (&node);
}

gboolean
cf_yaml_parse (const char *text,
               gsize length,
               guint first_line,
               guint max_depth,
               CfYamlNode **out_root,
               CfYamlFailure *failure)
{
  TreeBuilder builder = { .first_line = first_line, .max_depth = max_depth, .failure = failure };
  g_autoptr(CfYamlNode) root = NULL;
  gboolean ok = FALSE;
  gboolean in_stream = TRUE;

  g_return_val_if_fail (text != NULL || length == 0, FALSE);
  g_return_val_if_fail (first_line >= 1, FALSE);
  g_return_val_if_fail (out_root != NULL, FALSE);
  g_return_val_if_fail (failure != NULL, FALSE);

  if (!yaml_parser_initialize (&builder.parser))
    {
      *failure = (CfYamlFailure) { .kind = CF_YAML_FAILURE_NO_MEMORY };
      return FALSE;
    }
  yaml_parser_set_input_string (&builder.parser, (const unsigned char *) text, length);
  yaml_parser_set_encoding (&builder.parser, YAML_UTF8_ENCODING);

  while (in_stream)
    {
      yaml_event_t event;

      if (!next_event (&builder, &event))
        goto out;

      switch (event.type)
        {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
          break;

        case YAML_STREAM_END_EVENT:
          in_stream = FALSE;
          break;

        case YAML_DOCUMENT_START_EVENT:
          if (root != NULL)
            {
              fail_at (&builder, CF_YAML_FAILURE_SECOND_DOCUMENT, &event.start_mark);
              yaml_event_delete (&event);
              goto out;
            }
          break;

        default:
          root = build_node (&builder, &event, 0);
          if (root == NULL)
            {
              yaml_event_delete (&event);
              goto out;
            }
          break;
        }
      yaml_event_delete (&event);
    }

  *out_root = g_steal_pointer (&root);
  ok = TRUE;

out:
  yaml_parser_delete (&builder.parser);
  return ok;
}
