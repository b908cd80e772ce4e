/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* YAML text as a tree of nodes that remember where they stand, for schema
 * code that points at the offending line. Pure. Anchors and aliases are
 * refused (a schema has no use for them and they allow "billion laughs"),
 * and so is more than one document. */

typedef enum {
  CF_YAML_NODE_SCALAR,
  CF_YAML_NODE_SEQUENCE,
  CF_YAML_NODE_MAPPING,
} CfYamlNodeType;

typedef struct _CfYamlNode CfYamlNode;
struct _CfYamlNode {
  CfYamlNodeType type;
  guint line;                  /* 1-based, counted from the parse's FIRST_LINE */
  guint column;                /* 1-based, in characters */
  char *value;                 /* scalars only */
  gboolean plain;              /* unquoted scalar: may be a YAML null */
  GPtrArray *children;         /* sequence items; mapping keys and values alternate */
};

void cf_yaml_node_free (CfYamlNode *node);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfYamlNode, cf_yaml_node_free)

/* TRUE for YAML's null spellings ("", ~, null, Null, NULL) when unquoted. */
gboolean cf_yaml_node_is_null (const CfYamlNode *node);

/* Why a parse failed. The caller words the message, so that each file
 * format keeps its own. */
typedef enum {
  CF_YAML_FAILURE_NO_MEMORY,
  CF_YAML_FAILURE_READER,      /* bytes libyaml cannot read: see offset */
  CF_YAML_FAILURE_SYNTAX,      /* libyaml's problem, and maybe its context */
  CF_YAML_FAILURE_ANCHOR,      /* an anchor or an alias */
  CF_YAML_FAILURE_UNEXPECTED_EVENT,
  CF_YAML_FAILURE_TOO_DEEP,    /* the node at line, column starts one level too many */
  CF_YAML_FAILURE_SECOND_DOCUMENT,
} CfYamlFailureKind;

typedef struct {
  CfYamlFailureKind kind;
  guint line;                  /* as in CfYamlNode; unset for NO_MEMORY and READER */
  guint column;
  gsize offset;                /* READER: byte offset into the parsed text */
  const char *problem;         /* READER and SYNTAX: libyaml's static text */
  const char *context;         /* SYNTAX: libyaml's static text, or NULL */
  guint context_line;          /* SYNTAX with a context: where it began */
  guint context_column;
} CfYamlFailure;

/* Parses the LENGTH bytes of TEXT (UTF-8, no NUL) into one tree, containers
 * nested at most MAX_DEPTH deep. Lines are numbered from FIRST_LINE, for
 * text that starts inside a larger file. *out_root is NULL for a stream
 * with no document. On FALSE, *failure says why. */
gboolean cf_yaml_parse (const char *text,
                        gsize length,
                        guint first_line,
                        guint max_depth,
                        CfYamlNode **out_root,
                        CfYamlFailure *failure);

G_END_DECLS
