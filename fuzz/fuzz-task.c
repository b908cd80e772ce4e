/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the task file parser: any input either parses into a
 * task whose fields keep their documented guarantees, or fails with one
 * "fuzz.md:..." line; never crashes. Short inputs also go through the id
 * check, which guards every queue path. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-task.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_one_line (const char *text)
{
  g_assert_true (g_utf8_validate (text, -1, NULL));
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      g_assert_false (g_unichar_iscntrl (c));
      g_assert_true (c == ' ' || !g_unichar_isspace (c));
    }
  g_assert_false (g_str_has_prefix (text, " "));
  g_assert_false (g_str_has_suffix (text, " "));
}

static void
check_task (const CfTask *task)
{
  g_autofree char *message = NULL;

  g_assert_cmpstr (task->id, ==, "fuzz");
  g_assert_nonnull (task->title);
  g_assert_cmpstr (task->title, !=, "");
  check_one_line (task->title);
  g_assert_true (task->title_from_frontmatter || *task->body != '\0');

  g_assert_true (g_utf8_validate (task->body, -1, NULL));
  g_assert_null (strchr (task->body, '\r'));
  g_assert_false (g_str_has_prefix (task->body, "\n"));
  if (*task->body != '\0')
    g_assert_false (g_ascii_isspace (task->body[strlen (task->body) - 1]));

  g_assert_cmpuint (task->priority, <, CF_PRIORITY_COUNT);
  g_assert_cmpuint (task->isolation, <=, CF_TASK_ISOLATION_WORKTREE);
  g_assert_nonnull (task->depends_on);
  g_assert_cmpuint (g_strv_length (task->depends_on), <=, CF_TASK_MAX_DEPENDENCIES);
  for (guint i = 0; task->depends_on[i] != NULL; i++)
    {
      g_assert_true (cf_task_id_is_valid (task->depends_on[i]));
      g_assert_cmpstr (task->depends_on[i], !=, task->id);
    }
  g_assert_nonnull (cf_priority_to_string (task->priority));
  for (guint i = 0; task->tags[i] != NULL; i++)
    {
      g_assert_cmpstr (task->tags[i], !=, "");
      check_one_line (task->tags[i]);
    }
  g_assert_nonnull (task->preferred_ai_name);
  g_assert_true ((task->preferred_ai == CF_PREFERRED_AI_OTHER) ==
                 (cf_preferred_ai_to_string (task->preferred_ai) == NULL));
  if (task->preferred_ai != CF_PREFERRED_AI_OTHER)
    g_assert_cmpstr (task->preferred_ai_name, ==, cf_preferred_ai_to_string (task->preferred_ai));
  g_assert_cmpuint (task->complexity_hint, <=, CF_COMPLEXITY_HIGH);
  if (task->model != NULL)
    {
      g_assert_cmpuint (strlen (task->model), >, 0);
      g_assert_cmpuint (strlen (task->model), <=, CF_TASK_MODEL_MAX_LENGTH);
      g_assert_cmpint (task->model[0], !=, '-');
      g_assert_cmpuint (strspn (task->model, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789._-"), ==, strlen (task->model));
    }
  for (guint i = 0; task->warnings[i] != NULL; i++)
    {
      g_assert_true (g_str_has_prefix (task->warnings[i], "fuzz.md:"));
      g_assert_null (strchr (task->warnings[i], '\n'));
    }

  message = cf_task_render_message (task, "proj", "[{task}] {title} {project} {body} {x}");
  g_assert_true (g_str_has_prefix (message, "[fuzz] "));
  g_assert_true (g_str_has_suffix (message, " {x}"));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTask) task = NULL;

  task = cf_task_parse ("fuzz", (const char *) data, size, &error);
  if (task != NULL)
    {
      g_assert_no_error (error);
      check_task (task);
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == CF_TASK_ERROR);
      g_assert_cmpint (error->code, !=, CF_TASK_ERROR_INVALID_ID);
      g_assert_true (g_str_has_prefix (error->message, "fuzz.md:"));
      g_assert_null (strchr (error->message, '\n'));
    }

  if (size <= CF_TASK_ID_MAX_LENGTH + 2 && memchr (data, '\0', size) == NULL)
    {
      g_autofree char *id = g_strndup ((const char *) data, size);

      if (cf_task_id_is_valid (id))
        {
          g_assert_null (strchr (id, '/'));
          g_assert_cmpint (id[0], !=, '.');
          g_assert_cmpuint (strlen (id), ==, size);
        }
    }
  return 0;
}
