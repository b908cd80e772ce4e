/* SPDX-License-Identifier: MIT */
#include <glib.h>
#include <string.h>

#include "cf-config.h"
#include "cf-task.h"

#define ID "t"
#define SRC ID ".md"

/* --- Rejections ---------------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *id;              /* NULL: ID */
  const char *text;
  gssize length;               /* -1: NUL-terminated */
  CfTaskError code;
  const char *message;         /* substring of the message */
} ErrorCase;

static const ErrorCase error_cases[] = {
  /* the file itself */
  { "nul-byte", NULL, "---\ntitle: a\0b\n---\n", 18, CF_TASK_ERROR_NUL_BYTE,
    SRC ":2:9: contains a NUL byte (at byte offset 12)" },
  { "nul-in-body", NULL, "body\0", 5, CF_TASK_ERROR_NUL_BYTE,
    SRC ":1:5: contains a NUL byte (at byte offset 4)" },
  { "latin1", NULL, "Fix caf\xe9 page", -1, CF_TASK_ERROR_ENCODING,
    SRC ":1:8: is not valid UTF-8 (byte 0xe9 at byte offset 7)" },
  { "latin1-line-3", NULL, "a\r\nb\nc\xff", -1, CF_TASK_ERROR_ENCODING,
    SRC ":3:2: is not valid UTF-8 (byte 0xff at byte offset 6)" },
  { "bom-then-truncated", NULL, "\xef\xbb\xbf" "ab\xc3", -1, CF_TASK_ERROR_ENCODING,
    SRC ":1:3: is not valid UTF-8 (byte 0xc3 at byte offset 5)" },
  { "utf16", NULL, "\xff\xfe-\0-\0-\0", 8, CF_TASK_ERROR_ENCODING,
    SRC ":1:1: is not valid UTF-8 (byte 0xff at byte offset 0)" },

  /* frontmatter layout */
  { "unterminated", NULL, "---\ntitle: x\nbody\n", -1, CF_TASK_ERROR_UNTERMINATED,
    SRC ":1:1: the frontmatter opened by '---' on line 1 is never closed" },
  { "unterminated-only-opener", NULL, "---", -1, CF_TASK_ERROR_UNTERMINATED,
    SRC ":1:1: the frontmatter opened" },
  { "unterminated-closer-indented", NULL, "---\ntitle: x\n ---\nbody\n", -1,
    CF_TASK_ERROR_UNTERMINATED, SRC ":1:1:" },

  /* YAML */
  { "broken-flow", NULL, "---\ntitle: [a\n---\nbody\n", -1, CF_TASK_ERROR_SYNTAX,
    SRC ":3:1: invalid YAML in the frontmatter: did not find expected ',' or ']' "
    "(while parsing a flow sequence started at line 2, column 8)" },
  { "tab-indent", NULL, "---\ntitle: x\n\tpriority: high\n---\n", -1, CF_TASK_ERROR_SYNTAX,
    SRC ":3:1: invalid YAML in the frontmatter: found a tab character that violates indentation" },
  { "bad-indent", NULL, "---\ntitle: x\n  priority: high\n---\nb", -1, CF_TASK_ERROR_SYNTAX,
    SRC ":3:11: invalid YAML in the frontmatter: mapping values are not allowed in this context" },
  { "unclosed-quote", NULL, "---\ntitle: \"abc\n---\nb", -1, CF_TASK_ERROR_SYNTAX,
    SRC ":3:1: invalid YAML in the frontmatter: found unexpected end of stream "
    "(while scanning a quoted scalar started at line 2, column 8)" },
  { "control-char", NULL, "---\r\ntitle: a\x01z\r\n---\r\n", -1, CF_TASK_ERROR_SYNTAX,
    SRC ":2:9: invalid YAML in the frontmatter: control characters are not allowed" },
  { "duplicate-key", NULL, "---\ntitle: a\npriority: low\ntitle: b\n---\n", -1,
    CF_TASK_ERROR_SYNTAX, SRC ":4:1: title: duplicate key (first set at line 2)" },
  { "duplicate-unknown-key", NULL, "---\nfoo: 1\nfoo: 2\n---\nbody", -1,
    CF_TASK_ERROR_SYNTAX, SRC ":3:1: foo: duplicate key (first set at line 2)" },
  { "duplicate-key-shown-on-one-line", NULL, "---\n\"a\\nb\": 1\n\"a\\nb\": 2\n---\nbody", -1,
    CF_TASK_ERROR_SYNTAX, SRC ":3:1: a\\nb: duplicate key (first set at line 2)" },
  { "anchor", NULL, "---\ntitle: &a x\nx: *a\n---\nbody", -1, CF_TASK_ERROR_SYNTAX,
    SRC ":2:8: YAML anchors and aliases are not supported" },
  { "two-documents", NULL, "---\ntitle: a\n--- b\n---\nbody", -1, CF_TASK_ERROR_SYNTAX,
    SRC ":3:1: the frontmatter must be one YAML document" },
  { "too-deep", NULL, "---\nx: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n---\nb",
    -1, CF_TASK_ERROR_SYNTAX, SRC ":2:35: the frontmatter is nested too deeply" },
  { "not-mapping-list", NULL, "---\n- a\n- b\n---\nbody", -1, CF_TASK_ERROR_NOT_MAPPING,
    SRC ":2:1: the frontmatter must be a mapping of keys, not a list" },
  { "not-mapping-scalar", NULL, "---\njust some words\n---\nbody", -1, CF_TASK_ERROR_NOT_MAPPING,
    SRC ":2:1: the frontmatter must be a mapping of keys, not a single value" },
  { "complex-key", NULL, "---\n? [a]\n: b\n---\nbody", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:3: keys must be single values, not lists or mappings" },

  /* wrong types */
  { "title-list", NULL, "---\ntitle: [a, b]\n---\n", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:1: title: must be a single value, not a list" },
  { "priority-mapping", NULL, "---\npriority: {level: high}\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:1: priority: must be a single value, not a mapping" },
  { "tags-mapping", NULL, "---\ntags: {a: b}\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:1: tags: must be a list or a single value, not a mapping" },
  { "tags-nested", NULL, "---\ntags: [a, [b]]\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:11: tags[1]: must be a single value, not a list" },
  { "tags-item-mapping", NULL, "---\ntags:\n  - a\n  - {b: c}\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":4:5: tags[1]: must be a single value, not a mapping" },
  { "bool-maybe", NULL, "---\nneeds_claude_code: maybe\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:1: needs_claude_code: 'maybe' is not a boolean (expected true, false, yes or no)" },
  { "bool-number", NULL, "---\nallow_delegation: 1\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:1: allow_delegation: '1' is not a boolean" },
  { "bool-on", NULL, "---\nallow_delegation: on\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:1: allow_delegation: 'on' is not a boolean" },
  { "bool-list", NULL, "---\nallow_delegation: [true]\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:1: allow_delegation: must be a single value, not a list" },
  { "preferred-ai-list", NULL, "---\npreferred_ai: [gpu]\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:1: preferred_ai: must be a single value, not a list" },
  { "preferred-ai-mapping", NULL, "---\npreferred_ai: {a: b}\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:1: preferred_ai: must be a single value, not a mapping" },
  { "model-list", NULL, "---\nmodel: [opus]\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:1: model: must be a single value, not a list" },

  /* bad values */
  { "priority-normal", NULL, "---\npriority: normal\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":2:1: priority: 'normal' is not a priority (expected critical, high, default or low)" },
  { "priority-medium", NULL, "---\npriority: medium\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":2:1: priority: 'medium' is not a priority" },
  { "priority-number", NULL, "---\n\n\npriority: 1\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":4:1: priority: '1' is not a priority" },
  { "complexity", NULL, "---\ncomplexity_hint: extreme\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":2:1: complexity_hint: 'extreme' is not a complexity (expected low, medium or high)" },
  { "model-space", NULL, "---\nmodel: opus 4\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":2:1: model: 'opus 4' is not a model name" },
  { "model-option", NULL, "---\nmodel: --dangerously-skip-permissions\n---\nb", -1,
    CF_TASK_ERROR_VALUE, SRC ":2:1: model: '--dangerously-skip-permissions' is not a model name" },
  { "model-slash", NULL, "---\nmodel: ../opus\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":2:1: model: '../opus' is not a model name" },
  { "model-shell", NULL, "---\nmodel: \"opus;rm -rf ~\"\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":2:1: model: 'opus;rm -rf ~' is not a model name" },
  { "value-shown-on-one-line", NULL, "---\npriority: \"a\\nb\"\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":2:1: priority: 'a\\nb' is not a priority" },

  /* nothing to send */
  { "empty", NULL, "", -1, CF_TASK_ERROR_EMPTY, SRC ": the task is empty (no body and no title)" },
  { "blank", NULL, " \n\r\n\t\n", -1, CF_TASK_ERROR_EMPTY, SRC ": the task is empty" },
  { "bom-only", NULL, "\xef\xbb\xbf", -1, CF_TASK_ERROR_EMPTY, SRC ": the task is empty" },
  { "frontmatter-without-title", NULL, "---\npriority: high\n---\n\n", -1, CF_TASK_ERROR_EMPTY,
    SRC ": the task is empty" },
  { "empty-title", NULL, "---\ntitle: \"  \"\n---\n", -1, CF_TASK_ERROR_EMPTY,
    SRC ": the task is empty" },
  { "empty-frontmatter", NULL, "---\n---\n", -1, CF_TASK_ERROR_EMPTY, SRC ": the task is empty" },

  /* isolation and depends_on (ARCHITECTURE.md 4.9) */
  { "isolation-unknown", NULL, "---\nisolation: chroot\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":2:1: isolation: 'chroot' is not an isolation (expected shared or worktree)" },
  { "isolation-list", NULL, "---\nisolation: [worktree]\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:1: isolation:" },
  { "depends-on-bad-id", NULL, "---\ndepends_on: [a, ../b]\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":2:17: depends_on[1]: '../b' is not a task id" },
  { "depends-on-hidden-id", NULL, "---\ndepends_on: .x\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":2:13: depends_on: '.x' is not a task id" },
  { "depends-on-self", NULL, "---\ndepends_on: [a, t]\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":2:17: depends_on[1]: a task cannot depend on itself" },
  { "depends-on-twice", NULL, "---\ndepends_on: [a, a]\n---\nb", -1, CF_TASK_ERROR_VALUE,
    SRC ":2:17: depends_on[1]: 'a' is listed twice" },
  { "depends-on-mapping", NULL, "---\ndepends_on: {a: b}\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:1: depends_on: must be a list or a single value, not a mapping" },
  { "depends-on-nested", NULL, "---\ndepends_on: [[a]]\n---\nb", -1, CF_TASK_ERROR_TYPE,
    SRC ":2:14: depends_on[0]: must be a single value, not a list" },

  /* ids */
  { "id-traversal", "../etc/passwd", "body", -1, CF_TASK_ERROR_INVALID_ID,
    "'../etc/passwd' is not a task id" },
  { "id-hidden", ".x", "body", -1, CF_TASK_ERROR_INVALID_ID, "'.x' is not a task id" },
  { "id-dotdot", "..", "body", -1, CF_TASK_ERROR_INVALID_ID, "'..' is not a task id" },
  { "id-empty", "", "body", -1, CF_TASK_ERROR_INVALID_ID, "'' is not a task id" },
  { "id-space", "a b", "body", -1, CF_TASK_ERROR_INVALID_ID, "'a b' is not a task id" },
  { "id-newline", "a\nb", "body", -1, CF_TASK_ERROR_INVALID_ID, "'a\\nb' is not a task id" },
};

/* --- isolation and depends_on ----------------------------------------------------- */

typedef struct {
  const char *name;
  const char *text;
  CfTaskIsolation isolation;
  const char *depends_on;      /* joined with "," */
} SchedulingCase;

static const SchedulingCase scheduling_cases[] = {
  { "absent", "body", CF_TASK_ISOLATION_UNSET, "" },
  { "worktree", "---\nisolation: worktree\n---\nb", CF_TASK_ISOLATION_WORKTREE, "" },
  { "shared-any-case", "---\nisolation: Shared\n---\nb", CF_TASK_ISOLATION_SHARED, "" },
  { "isolation-empty", "---\nisolation:\n---\nb", CF_TASK_ISOLATION_UNSET, "" },
  { "depends-list", "---\ndepends_on: [a, b.2, c_d-e]\n---\nb", CF_TASK_ISOLATION_UNSET, "a,b.2,c_d-e" },
  { "depends-block-list", "---\ndepends_on:\n  - x\n  - y\n---\nb", CF_TASK_ISOLATION_UNSET, "x,y" },
  { "depends-single", "---\ndepends_on: first\n---\nb", CF_TASK_ISOLATION_UNSET, "first" },
  { "depends-empty-items-dropped", "---\ndepends_on: [a, '', ~]\n---\nb", CF_TASK_ISOLATION_UNSET, "a" },
  { "depends-null", "---\ndepends_on:\n---\nb", CF_TASK_ISOLATION_UNSET, "" },
  { "both", "---\nisolation: worktree\ndepends_on: [a]\n---\nb", CF_TASK_ISOLATION_WORKTREE, "a" },
};

static void
test_scheduling_case (gconstpointer data)
{
  const SchedulingCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTask) task = cf_task_parse (ID, c->text, strlen (c->text), &error);
  g_autofree char *joined = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (task->isolation, ==, c->isolation);
  g_assert_nonnull (task->depends_on);
  joined = g_strjoinv (",", task->depends_on);
  g_assert_cmpstr (joined, ==, c->depends_on);
}

static void
test_too_many_dependencies (void)
{
  g_autoptr(GString) text = g_string_new ("---\ndepends_on: [");
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTask) task = NULL;

  for (guint i = 0; i <= CF_TASK_MAX_DEPENDENCIES; i++)
    g_string_append_printf (text, "%sd%u", i > 0 ? ", " : "", i);
  g_string_append (text, "]\n---\nb");
  task = cf_task_parse (ID, text->str, text->len, &error);
  g_assert_null (task);
  g_assert_error (error, CF_TASK_ERROR, CF_TASK_ERROR_VALUE);
  g_assert_nonnull (strstr (error->message, "more than 64 dependencies"));
}

static void
test_error (gconstpointer data)
{
  const ErrorCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTask) task = NULL;
  gsize length = c->length < 0 ? strlen (c->text) : (gsize) c->length;

  task = cf_task_parse (c->id != NULL ? c->id : ID, c->text, length, &error);
  g_assert_null (task);
  g_assert_error (error, CF_TASK_ERROR, (gint) c->code);
  if (strstr (error->message, c->message) == NULL)
    g_error ("%s: expected \"%s\" in \"%s\"", c->name, c->message, error->message);
  g_assert_null (strchr (error->message, '\n'));
}

static void
test_too_large (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTask) task = NULL;
  g_autofree char *big = g_malloc (CF_TASK_MAX_SIZE + 1);

  memset (big, 'a', CF_TASK_MAX_SIZE + 1);
  task = cf_task_parse (ID, big, CF_TASK_MAX_SIZE + 1, &error);
  g_assert_null (task);
  g_assert_error (error, CF_TASK_ERROR, CF_TASK_ERROR_TOO_LARGE);
  g_assert_cmpstr (error->message, ==, SRC ": the file is larger than 1 MiB (1048577 bytes)");
  g_clear_error (&error);

  /* The limit itself is allowed. */
  task = cf_task_parse (ID, big, CF_TASK_MAX_SIZE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (task->body), ==, CF_TASK_MAX_SIZE);
}

/* --- Accepted files ------------------------------------------------------------ */

typedef struct {
  const char *name;
  const char *text;
  const char *title;
  gboolean title_from_frontmatter;
  const char *body;
  gboolean has_frontmatter;
  CfPriority priority;
  const char *tags;            /* joined with "," */
  gboolean needs_claude_code;
  CfPreferredAi preferred_ai;
  const char *preferred_ai_name;
  gboolean allow_delegation;
  CfComplexity complexity;
  const char *model;
  const char *warnings;        /* joined with "|" */
} Case;

#define DEFAULTS CF_PRIORITY_DEFAULT, "", FALSE, CF_PREFERRED_AI_AUTO, "auto", FALSE, \
  CF_COMPLEXITY_UNSET, NULL, ""

static const Case cases[] = {
  { "no-frontmatter", "Fix the login redirect.\n",
    ID, FALSE, "Fix the login redirect.", FALSE, DEFAULTS },
  { "every-field",
    "---\n"
    "title: Fix login redirect\n"
    "priority: high            # critical | high | default | low\n"
    "tags: [web, auth]\n"
    "needs_claude_code: true\n"
    "preferred_ai: gemini\n"
    "allow_delegation: yes\n"
    "complexity_hint: medium\n"
    "model: claude-sonnet-4.5_x\n"
    "---\n"
    "Body sent to Claude.\n",
    "Fix login redirect", TRUE, "Body sent to Claude.", TRUE, CF_PRIORITY_HIGH, "web,auth",
    TRUE, CF_PREFERRED_AI_GEMINI, "gemini", TRUE, CF_COMPLEXITY_MEDIUM, "claude-sonnet-4.5_x", "" },
  { "architecture-example",
    "---\ntitle: Fix login redirect\npriority: high            # critical | high | default | low   (critical → opus)\n"
    "tags: [web]\nneeds_claude_code: false\npreferred_ai: auto        # auto | claude-code | gpu | gemini | claude-api\n"
    "allow_delegation: false\ncomplexity_hint: medium   # low | medium | high\nmodel: sonnet             # optional override\n"
    "---\nBody sent to Claude.\n",
    "Fix login redirect", TRUE, "Body sent to Claude.", TRUE, CF_PRIORITY_HIGH, "web",
    FALSE, CF_PREFERRED_AI_AUTO, "auto", FALSE, CF_COMPLEXITY_MEDIUM, "sonnet", "" },
  { "priorities-case-insensitive", "---\npriority: CRITICAL\ncomplexity_hint: High\n---\nb",
    ID, FALSE, "b", TRUE, CF_PRIORITY_CRITICAL, "", FALSE, CF_PREFERRED_AI_AUTO, "auto", FALSE,
    CF_COMPLEXITY_HIGH, NULL, "" },
  { "priority-low", "---\npriority: low\ncomplexity_hint: low\n---\nb",
    ID, FALSE, "b", TRUE, CF_PRIORITY_LOW, "", FALSE, CF_PREFERRED_AI_AUTO, "auto", FALSE,
    CF_COMPLEXITY_LOW, NULL, "" },
  { "priority-quoted-default", "---\npriority: 'default'\n---\nb",
    ID, FALSE, "b", TRUE, DEFAULTS },
  { "booleans", "---\nneeds_claude_code: YES\nallow_delegation: True\n---\nb",
    ID, FALSE, "b", TRUE, CF_PRIORITY_DEFAULT, "", TRUE, CF_PREFERRED_AI_AUTO, "auto", TRUE,
    CF_COMPLEXITY_UNSET, NULL, "" },
  { "booleans-false", "---\nneeds_claude_code: No\nallow_delegation: \"false\"\n---\nb",
    ID, FALSE, "b", TRUE, DEFAULTS },
  { "nulls-are-defaults",
    "---\ntitle: ~\npriority:\ntags: null\nneeds_claude_code:\npreferred_ai: ~\n"
    "allow_delegation: Null\ncomplexity_hint:\nmodel: \"\"\n---\nb",
    ID, FALSE, "b", TRUE, DEFAULTS },
  { "tags-single-string", "---\ntags: web\n---\nb",
    ID, FALSE, "b", TRUE, CF_PRIORITY_DEFAULT, "web", FALSE, CF_PREFERRED_AI_AUTO, "auto", FALSE,
    CF_COMPLEXITY_UNSET, NULL, "" },
  { "tags-block-with-empties", "---\ntags:\n  - a\n  - ''\n  - ~\n  - 12\n  - \" b  c \"\n---\nb",
    ID, FALSE, "b", TRUE, CF_PRIORITY_DEFAULT, "a,12,b c", FALSE, CF_PREFERRED_AI_AUTO, "auto",
    FALSE, CF_COMPLEXITY_UNSET, NULL, "" },
  { "preferred-ai-known-case", "---\npreferred_ai: Claude-Code\n---\nb",
    ID, FALSE, "b", TRUE, CF_PRIORITY_DEFAULT, "", FALSE, CF_PREFERRED_AI_CLAUDE_CODE,
    "claude-code", FALSE, CF_COMPLEXITY_UNSET, NULL, "" },
  { "preferred-ai-others", "---\npreferred_ai: claude-api\n---\nb",
    ID, FALSE, "b", TRUE, CF_PRIORITY_DEFAULT, "", FALSE, CF_PREFERRED_AI_CLAUDE_API,
    "claude-api", FALSE, CF_COMPLEXITY_UNSET, NULL, "" },
  { "preferred-ai-gpu", "---\npreferred_ai: gpu\n---\nb",
    ID, FALSE, "b", TRUE, CF_PRIORITY_DEFAULT, "", FALSE, CF_PREFERRED_AI_GPU,
    "gpu", FALSE, CF_COMPLEXITY_UNSET, NULL, "" },
  { "preferred-ai-unknown-kept", "---\npreferred_ai: Mistral-Large\n---\nb",
    ID, FALSE, "b", TRUE, CF_PRIORITY_DEFAULT, "", FALSE, CF_PREFERRED_AI_OTHER,
    "Mistral-Large", FALSE, CF_COMPLEXITY_UNSET, NULL, "" },
  { "preferred-ai-number-is-text", "---\npreferred_ai: 42\n---\nb",
    ID, FALSE, "b", TRUE, CF_PRIORITY_DEFAULT, "", FALSE, CF_PREFERRED_AI_OTHER,
    "42", FALSE, CF_COMPLEXITY_UNSET, NULL, "" },
  { "unknown-keys-warn",
    "---\nfoo: 1\nTitle: Upper\nowner:\n  name: x\n  list: [1, 2]\n---\nb",
    ID, FALSE, "b", TRUE, CF_PRIORITY_DEFAULT, "", FALSE, CF_PREFERRED_AI_AUTO, "auto", FALSE,
    CF_COMPLEXITY_UNSET, NULL,
    SRC ":2:1: unknown key 'foo' ignored|"
    SRC ":3:1: unknown key 'Title' ignored, did you mean 'title'?|"
    SRC ":4:1: unknown key 'owner' ignored" },
  { "title-number", "---\ntitle: 42\n---\n",
    "42", TRUE, "", TRUE, DEFAULTS },
  { "title-collapsed", "---\ntitle: \"  Fix\\tthe\\n\\nlogin\\u0007 page \"\n---\nbody",
    "Fix the login page", TRUE, "body", TRUE, DEFAULTS },
  { "title-block-scalar", "---\ntitle: |\n  line one\n  line two\n---\nbody",
    "line one line two", TRUE, "body", TRUE, DEFAULTS },
  { "frontmatter-only-with-title", "---\ntitle: Only a title\n---\n",
    "Only a title", TRUE, "", TRUE, DEFAULTS },
  { "frontmatter-only-no-final-newline", "---\ntitle: Only\n---",
    "Only", TRUE, "", TRUE, DEFAULTS },
  { "title-from-heading", "Some intro\n\n# Fix login redirect\n\nDetails\n",
    "Fix login redirect", FALSE, "Some intro\n\n# Fix login redirect\n\nDetails", FALSE, DEFAULTS },
  { "heading-closing-hashes", "# Fix it ##\nx",
    "Fix it", FALSE, "# Fix it ##\nx", FALSE, DEFAULTS },
  { "heading-hash-inside-word", "# C# rocks\nx",
    "C# rocks", FALSE, "# C# rocks\nx", FALSE, DEFAULTS },
  { "heading-indented-3", "   # Indented\nx",
    "Indented", FALSE, "   # Indented\nx", FALSE, DEFAULTS },
  { "heading-indented-4-is-code", "    # code\n\n# Real",
    "Real", FALSE, "    # code\n\n# Real", FALSE, DEFAULTS },
  { "not-headings", "#hashtag\n## Second level\n#\nbody",
    ID, FALSE, "#hashtag\n## Second level\n#\nbody", FALSE, DEFAULTS },
  { "heading-in-fence-skipped", "```sh\n# not a title\n```\n~~~~\n# nor this\n~~~\n~~~~\n# Title\n",
    "Title", FALSE, "```sh\n# not a title\n```\n~~~~\n# nor this\n~~~\n~~~~\n# Title", FALSE, DEFAULTS },
  { "frontmatter-title-beats-heading", "---\ntitle: From YAML\n---\n# From heading\n",
    "From YAML", TRUE, "# From heading", TRUE, DEFAULTS },
  { "heading-after-frontmatter", "---\npriority: low\n---\n# From heading\ntext\n",
    "From heading", FALSE, "# From heading\ntext", TRUE, CF_PRIORITY_LOW, "", FALSE,
    CF_PREFERRED_AI_AUTO, "auto", FALSE, CF_COMPLEXITY_UNSET, NULL, "" },
  { "crlf",
    "---\r\ntitle: Windows\r\npriority: high\r\ntags:\r\n  - a\r\n---\r\n\r\nline 1\r\nline 2\r\n\r\n",
    "Windows", TRUE, "line 1\nline 2", TRUE, CF_PRIORITY_HIGH, "a", FALSE, CF_PREFERRED_AI_AUTO,
    "auto", FALSE, CF_COMPLEXITY_UNSET, NULL, "" },
  { "lone-cr", "a\rb\r\r\nc\r",
    ID, FALSE, "a\nb\n\nc", FALSE, DEFAULTS },
  { "bom", "\xef\xbb\xbf---\ntitle: With BOM\n---\nbody\n",
    "With BOM", TRUE, "body", TRUE, DEFAULTS },
  { "bom-no-frontmatter", "\xef\xbb\xbfplain body",
    ID, FALSE, "plain body", FALSE, DEFAULTS },
  { "dashes-in-body-are-not-frontmatter", "Intro\n---\ntitle: nope\n---\nmore\n",
    ID, FALSE, "Intro\n---\ntitle: nope\n---\nmore", FALSE, DEFAULTS },
  { "leading-blank-line-before-dashes", "\n---\ntitle: nope\n---\nx",
    ID, FALSE, "---\ntitle: nope\n---\nx", FALSE, DEFAULTS },
  { "horizontal-rule-in-body", "---\ntitle: a\n---\nOne\n\n---\n\nTwo\n",
    "a", TRUE, "One\n\n---\n\nTwo", TRUE, DEFAULTS },
  { "dots-close", "---\ntitle: Dots\n...\nbody",
    "Dots", TRUE, "body", TRUE, DEFAULTS },
  { "delimiters-with-trailing-blanks", "--- \t\ntitle: T\n---  \nbody",
    "T", TRUE, "body", TRUE, DEFAULTS },
  { "empty-frontmatter", "---\n---\nbody",
    ID, FALSE, "body", TRUE, DEFAULTS },
  { "comments-only-frontmatter", "---\n# just a comment\n---\nbody",
    ID, FALSE, "body", TRUE, DEFAULTS },
  { "flow-mapping", "---\n{title: Flow, priority: low}\n---\nbody",
    "Flow", TRUE, "body", TRUE, CF_PRIORITY_LOW, "", FALSE, CF_PREFERRED_AI_AUTO, "auto", FALSE,
    CF_COMPLEXITY_UNSET, NULL, "" },
  { "explicit-document-start-inside", "---\n--- {title: X}\n---\nbody",
    "X", TRUE, "body", TRUE, DEFAULTS },
  { "body-keeps-indentation", "---\ntitle: a\n---\n\n  \n    code\n  text\t \n",
    "a", TRUE, "    code\n  text", TRUE, DEFAULTS },
  { "body-keeps-control-characters", "a\x1b[1mb",
    ID, FALSE, "a\x1b[1mb", FALSE, DEFAULTS },
};

static char *
join_strv (char **strv, const char *separator)
{
  return g_strjoinv (separator, strv);
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTask) task = NULL;
  g_autofree char *tags = NULL;
  g_autofree char *warnings = NULL;

  task = cf_task_parse (ID, c->text, strlen (c->text), &error);
  g_assert_no_error (error);
  g_assert_nonnull (task);
  g_assert_cmpstr (task->id, ==, ID);
  g_assert_cmpstr (task->title, ==, c->title);
  g_assert_cmpint (task->title_from_frontmatter, ==, c->title_from_frontmatter);
  g_assert_cmpstr (task->body, ==, c->body);
  g_assert_cmpint (task->has_frontmatter, ==, c->has_frontmatter);
  g_assert_cmpint (task->priority, ==, c->priority);
  tags = join_strv (task->tags, ",");
  g_assert_cmpstr (tags, ==, c->tags);
  g_assert_cmpint (task->needs_claude_code, ==, c->needs_claude_code);
  g_assert_cmpint (task->preferred_ai, ==, c->preferred_ai);
  g_assert_cmpstr (task->preferred_ai_name, ==, c->preferred_ai_name);
  g_assert_cmpint (task->allow_delegation, ==, c->allow_delegation);
  g_assert_cmpint (task->complexity_hint, ==, c->complexity);
  g_assert_cmpstr (task->model, ==, c->model);
  warnings = join_strv (task->warnings, "|");
  g_assert_cmpstr (warnings, ==, c->warnings);
}

static void
test_length_is_respected (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTask) task = NULL;
  const char *text = "---\ntitle: a\n---\nbody and garbage \xff";

  /* The buffer need not be NUL-terminated: only LENGTH bytes count. */
  task = cf_task_parse (ID, text, strlen ("---\ntitle: a\n---\nbody"), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (task->body, ==, "body");

  g_clear_pointer (&task, cf_task_free);
  task = cf_task_parse (ID, NULL, 0, &error);
  g_assert_null (task);
  g_assert_error (error, CF_TASK_ERROR, CF_TASK_ERROR_EMPTY);
}

/* --- Ids ------------------------------------------------------------------------- */

static void
test_id_is_valid (void)
{
  g_autofree char *longest = g_strnfill (CF_TASK_ID_MAX_LENGTH, 'a');
  g_autofree char *too_long = g_strnfill (CF_TASK_ID_MAX_LENGTH + 1, 'a');
  static const char *const valid[] = {
    "fix-login", "a", "A.b_c-9", "2025-01-01.report", "x..y", "trailing.",
  };
  static const char *const invalid[] = {
    "", ".", "..", ".hidden", "a/b", "../x", "a b", "a\tb", "é", "a:b", "a*", "a\\b",
  };

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    g_assert_true (cf_task_id_is_valid (valid[i]));
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    g_assert_false (cf_task_id_is_valid (invalid[i]));
  /* A leading '-' is a valid file name; the id never reaches a command line. */
  g_assert_true (cf_task_id_is_valid ("-"));
  g_assert_false (cf_task_id_is_valid (NULL));
  g_assert_true (cf_task_id_is_valid (longest));
  g_assert_false (cf_task_id_is_valid (too_long));
}

static void
test_model_length (void)
{
  g_autofree char *longest = g_strnfill (CF_TASK_MODEL_MAX_LENGTH, 'm');
  g_autofree char *too_long = g_strnfill (CF_TASK_MODEL_MAX_LENGTH + 1, 'm');
  g_autofree char *ok_text = g_strdup_printf ("---\nmodel: %s\n---\nb", longest);
  g_autofree char *bad_text = g_strdup_printf ("---\nmodel: %s\n---\nb", too_long);
  g_autoptr(CfTask) task = NULL;
  g_autoptr(GError) error = NULL;

  task = cf_task_parse (ID, ok_text, strlen (ok_text), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (task->model, ==, longest);
  g_clear_pointer (&task, cf_task_free);

  task = cf_task_parse (ID, bad_text, strlen (bad_text), &error);
  g_assert_null (task);
  g_assert_error (error, CF_TASK_ERROR, CF_TASK_ERROR_VALUE);
  g_assert_nonnull (strstr (error->message, "at most 128 characters"));
}

/* --- Messages and models ------------------------------------------------------- */

typedef struct {
  const char *template;
  const char *project;
  const char *expected;
} RenderCase;

static const RenderCase render_cases[] = {
  { "[{task}] {body}", NULL, "[fix-login] Do {title} now" },
  { "{title}: {body} ({project})", "web", "Fix login: Do {title} now (web)" },
  { "{project}/{task}", NULL, "{project}/fix-login" },
  { "{unknown} {} {task {TASK} {{task}}", "p", "{unknown} {} {task {TASK} {fix-login}" },
  { "trailing {", "p", "trailing {" },
  { "{body}{body}", "p", "Do {title} nowDo {title} now" },
  { "", "p", "" },
  { "[{task}] {body}\n\nIMPORTANT: Tu dois EXECUTER les actions demandées, pas seulement les décrire.",
    NULL, "[fix-login] Do {title} now\n\nIMPORTANT: Tu dois EXECUTER les actions demandées, "
    "pas seulement les décrire." },
};

static void
test_render_message (void)
{
  const char *text = "---\ntitle: Fix login\n---\nDo {title} now\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTask) task = cf_task_parse ("fix-login", text, strlen (text), &error);

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (render_cases); i++)
    {
      g_autofree char *message = cf_task_render_message (task, render_cases[i].project,
                                                         render_cases[i].template);
      g_assert_cmpstr (message, ==, render_cases[i].expected);
    }
}

static void
test_model_choice (void)
{
  const char *yaml =
    "accounts:\n  - {name: main, home: /h/main}\n"
    "dispatcher:\n  models: {critical: opus, high: sonnet-h, default: sonnet-d, low: haiku}\n";
  static const struct {
    const char *text;
    const char *model;
  } rows[] = {
    { "---\npriority: critical\n---\nb", "opus" },
    { "---\npriority: high\n---\nb", "sonnet-h" },
    { "b", "sonnet-d" },
    { "---\npriority: low\n---\nb", "haiku" },
    { "---\npriority: critical\nmodel: haiku-3\n---\nb", "haiku-3" },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = cf_config_load_data (yaml, -1, "c.yaml", "/h", &error);

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autoptr(CfTask) task = cf_task_parse (ID, rows[i].text, strlen (rows[i].text), &error);

      g_assert_no_error (error);
      g_assert_cmpstr (cf_task_model (task, config), ==, rows[i].model);
    }
}

static void
test_enum_names (void)
{
  g_assert_null (cf_complexity_to_string (CF_COMPLEXITY_UNSET));
  g_assert_cmpstr (cf_complexity_to_string (CF_COMPLEXITY_LOW), ==, "low");
  g_assert_cmpstr (cf_complexity_to_string (CF_COMPLEXITY_MEDIUM), ==, "medium");
  g_assert_cmpstr (cf_complexity_to_string (CF_COMPLEXITY_HIGH), ==, "high");
  g_assert_null (cf_complexity_to_string ((CfComplexity) 99));
  g_assert_cmpstr (cf_preferred_ai_to_string (CF_PREFERRED_AI_AUTO), ==, "auto");
  g_assert_cmpstr (cf_preferred_ai_to_string (CF_PREFERRED_AI_CLAUDE_CODE), ==, "claude-code");
  g_assert_cmpstr (cf_preferred_ai_to_string (CF_PREFERRED_AI_GPU), ==, "gpu");
  g_assert_cmpstr (cf_preferred_ai_to_string (CF_PREFERRED_AI_GEMINI), ==, "gemini");
  g_assert_cmpstr (cf_preferred_ai_to_string (CF_PREFERRED_AI_CLAUDE_API), ==, "claude-api");
  g_assert_null (cf_preferred_ai_to_string (CF_PREFERRED_AI_OTHER));
  g_assert_null (cf_preferred_ai_to_string ((CfPreferredAi) 99));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/task/error/%s", error_cases[i].name);
      g_test_add_data_func (path, &error_cases[i], test_error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/task/parse/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_case);
    }
  for (guint i = 0; i < G_N_ELEMENTS (scheduling_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/task/scheduling/%s", scheduling_cases[i].name);
      g_test_add_data_func (path, &scheduling_cases[i], test_scheduling_case);
    }
  g_test_add_func ("/task/scheduling/too-many-dependencies", test_too_many_dependencies);
  g_test_add_func ("/task/error/too-large", test_too_large);
  g_test_add_func ("/task/parse/length-is-respected", test_length_is_respected);
  g_test_add_func ("/task/id-is-valid", test_id_is_valid);
  g_test_add_func ("/task/model-length", test_model_length);
  g_test_add_func ("/task/render-message", test_render_message);
  g_test_add_func ("/task/model-choice", test_model_choice);
  g_test_add_func ("/task/enum-names", test_enum_names);
  return g_test_run ();
}
