/* SPDX-License-Identifier: MIT */
#include <gio/gio.h>

#include "cf-submit.h"
#include "cf-task.h"

/* Whatever a submission holds, the file it becomes parses back to it. */
static void
test_compose_round_trip (void)
{
  static const struct { const char *title; const char *body; } rows[] = {
    { "Fix login redirect", "Body sent to Claude." },
    { "Quotes \" and \\ backslash: colon # hash", "multi\nline\n\nbody\n---\nnot frontmatter" },
    { "  padded  ", "" },
    { "Ünïcødé ✓ — tâche", "corps\ten tab" },
    { "- looks like: yaml [list]", "x" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_auto(CfSubmitOptions) options = { .priority = CF_PRIORITY_HIGH };
      const char *tags[] = { "web", "a b", NULL };
      g_autoptr(GError) error = NULL;
      g_autofree char *text = NULL;
      g_autoptr(CfTask) task = NULL;

      g_assert_true (cf_submit_options_set_string (&options, "model", "opus", &error));
      g_assert_true (cf_submit_options_set_strv (&options, "tags", tags, &error));
      g_assert_true (cf_submit_options_set_string (&options, "preferred_ai", "gemini", &error));
      g_assert_true (cf_submit_options_set_boolean (&options, "allow_delegation", TRUE, &error));
      g_assert_true (cf_submit_options_set_boolean (&options, "needs_claude_code", FALSE, &error));
      text = cf_submit_compose (rows[i].title, rows[i].body, &options, &error);
      g_assert_no_error (error);
      task = cf_task_parse ("t", text, strlen (text), &error);
      g_assert_no_error (error);
      {
        /* Titles are trimmed by the task parser. */
        g_autofree char *trimmed = g_strstrip (g_strdup (rows[i].title));
        g_assert_cmpstr (task->title, ==, trimmed);
      }
      g_assert_cmpint (task->priority, ==, CF_PRIORITY_HIGH);
      g_assert_cmpstr (task->model, ==, "opus");
      g_assert_cmpuint (g_strv_length (task->tags), ==, 2);
      g_assert_cmpstr (task->tags[1], ==, "a b");
      g_assert_cmpint (task->preferred_ai, ==, CF_PREFERRED_AI_GEMINI);
      g_assert_true (task->allow_delegation);
      g_assert_false (task->needs_claude_code);
      g_assert_true (g_str_has_prefix (rows[i].body, task->body) || rows[i].body[0] == '\0');
    }
}

static void
test_invalid_options (void)
{
  static const struct { const char *name; const char *value; const char *message; } rows[] = {
    { "priority", "urgent", "must be critical, high, default or low" },
    { "priority", "", "must be critical" },
    { "model", "opus; rm -rf /", "must be a model name" },
    { "model", "", "must be a model name" },
    { "preferred_ai", "chatgpt", "must be auto, claude-code" },
    { "tags", "x", "wrong type" },
    { "allow_delegation", "yes", "wrong type" },
    { "colour", "red", "unknown option 'colour'" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_auto(CfSubmitOptions) options = { 0 };
      g_autoptr(GError) error = NULL;

      g_assert_false (cf_submit_options_set_string (&options, rows[i].name, rows[i].value, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, rows[i].message));
    }
  {
    g_auto(CfSubmitOptions) options = { 0 };
    g_autoptr(GError) error = NULL;
    const char *bad[] = { "ok", "", NULL };
    g_assert_false (cf_submit_options_set_strv (&options, "tags", bad, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    g_assert_false (cf_submit_options_set_boolean (&options, "priority", TRUE, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  }
}

static void
test_invalid_text (void)
{
  g_auto(CfSubmitOptions) options = { 0 };
  g_autofree char *big = g_strnfill (CF_TASK_MAX_SIZE, 'x');
  static const struct { const char *title; const char *body; } rows[] = {
    { "", "body" }, { "   ", "body" }, { "bad \xff title", "b" }, { "t", "bad \xc3 body" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_null (cf_submit_compose (rows[i].title, rows[i].body, &options, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
  {
    g_autoptr(GError) error = NULL;
    g_assert_null (cf_submit_compose ("t", big, &options, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  }
}

static void
test_task_id (void)
{
  static const struct { const char *title; guint32 suffix; const char *id; } rows[] = {
    { "Fix login redirect", 0xbeef, "20261120-231500-fix-login-redirect-beef" },
    { "../../etc/passwd", 1, "20261120-231500-etc-passwd-0001" },
    { "!!!", 0x12345, "20261120-231500-task-2345" },
    { "Ünïcødé", 2, "20261120-231500-n-c-d-0002" },
    { "a very long title that goes on and on and on forever", 3,
      "20261120-231500-a-very-long-title-that-goes-on-and-on-an-0003" },
  };
  gint64 now = (gint64) 1795216500 * G_USEC_PER_SEC;   /* 2026-11-20 23:15:00 UTC */

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *id = cf_submit_task_id (rows[i].title, now, rows[i].suffix);
      g_assert_cmpstr (id, ==, rows[i].id);
      g_assert_true (cf_task_id_is_valid (id));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/submit/compose-round-trip", test_compose_round_trip);
  g_test_add_func ("/submit/invalid-options", test_invalid_options);
  g_test_add_func ("/submit/invalid-text", test_invalid_text);
  g_test_add_func ("/submit/task-id", test_task_id);
  return g_test_run ();
}
