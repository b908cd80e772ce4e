/* SPDX-License-Identifier: MIT */
#include "cf-submit.h"

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <string.h>

#include "cf-task.h"
#include "cf-text.h"

void
cf_submit_options_clear (CfSubmitOptions *options)
{
  g_clear_pointer (&options->model, g_free);
  g_clear_pointer (&options->tags, g_strfreev);
  g_clear_pointer (&options->preferred_ai, g_free);
}

static gboolean
is_model_name (const char *text)
{
  if (text == NULL || *text == '\0' || strlen (text) > CF_TASK_MODEL_MAX_LENGTH)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

static gboolean invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                                format, args));
  va_end (args);
  return FALSE;
}

static gboolean
wrong_option (const char *name, GError **error)
{
  static const char *const known[] = {
    "priority", "model", "tags", "preferred_ai", "allow_delegation", "needs_claude_code",
  };

  g_autofree char *shown = cf_text_for_message (name);

  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if (g_str_equal (name, known[i]))
      return invalid (error, _("option '%s' has the wrong type"), shown);
  return invalid (error, _("unknown option '%s' (known: priority, model, tags, preferred_ai, allow_delegation, needs_claude_code)"),
                  shown);
}

gboolean
cf_submit_options_set_string (CfSubmitOptions *options, const char *name, const char *value,
                              GError **error)
{
  static const char *const preferred[] = {
    "auto", "claude-code", "gpu", "gemini", "claude-api",
  };
  /* Values are echoed in one-line errors: escaped and cut short. */
  g_autofree char *shown = cf_text_for_message (value);

  if (g_str_equal (name, "priority"))
    {
      if (!cf_priority_from_string (value, &options->priority))
        return invalid (error, _("option 'priority' must be critical, high, default or low, not '%s'"),
                        shown);
      return TRUE;
    }
  if (g_str_equal (name, "model"))
    {
      if (!is_model_name (value))
        return invalid (error, _("option 'model' must be a model name like 'sonnet', not '%s'"), shown);
      g_free (options->model);
      options->model = g_strdup (value);
      return TRUE;
    }
  if (g_str_equal (name, "preferred_ai"))
    {
      for (guint i = 0; i < G_N_ELEMENTS (preferred); i++)
        if (g_str_equal (value, preferred[i]))
          {
            g_free (options->preferred_ai);
            options->preferred_ai = g_strdup (value);
            return TRUE;
          }
      return invalid (error, _("option 'preferred_ai' must be auto, claude-code, gpu, gemini or claude-api, not '%s'"),
                      shown);
    }
  return wrong_option (name, error);
}

gboolean
cf_submit_options_set_strv (CfSubmitOptions *options, const char *name, const char *const *value,
                            GError **error)
{
  if (!g_str_equal (name, "tags"))
    return wrong_option (name, error);
  for (guint i = 0; value[i] != NULL; i++)
    if (*value[i] == '\0' || strlen (value[i]) > 64 || strpbrk (value[i], "\n\r\t") != NULL)
      {
        g_autofree char *shown = cf_text_for_message (value[i]);
        return invalid (error, _("tag '%s' must be 1 to 64 characters on one line"), shown);
      }
  g_strfreev (options->tags);
  options->tags = g_strdupv ((char **) value);
  return TRUE;
}

gboolean
cf_submit_options_set_boolean (CfSubmitOptions *options, const char *name, gboolean value,
                               GError **error)
{
  if (g_str_equal (name, "allow_delegation"))
    {
      options->allow_delegation = value;
      options->allow_delegation_set = TRUE;
      return TRUE;
    }
  if (g_str_equal (name, "needs_claude_code"))
    {
      options->needs_claude_code = value;
      options->needs_claude_code_set = TRUE;
      return TRUE;
    }
  return wrong_option (name, error);
}

char *
cf_submit_task_id (const char *title, gint64 now_usec, guint32 suffix)
{
  g_autoptr(GDateTime) now = g_date_time_new_from_unix_utc (now_usec / G_USEC_PER_SEC);
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autoptr(GString) slug = g_string_new (NULL);
  gboolean dash = FALSE;

  for (const char *p = title; p != NULL && *p != '\0' && slug->len < 40; p++)
    {
      if (g_ascii_isalnum (*p))
        {
          if (dash && slug->len > 0)
            g_string_append_c (slug, '-');
          g_string_append_c (slug, g_ascii_tolower (*p));
          dash = FALSE;
        }
      else
        dash = TRUE;
    }
  if (slug->len == 0)
    g_string_append (slug, "task");
  return g_strdup_printf ("%s-%s-%04x", stamp, slug->str, suffix & 0xffff);
}

/* A YAML double-quoted scalar: JSON string escaping is valid YAML. */
static void
append_quoted (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if ((guchar) *p < 0x20 || *p == 0x7f)
            g_string_append_printf (out, "\\x%02x", (guchar) *p);
          else
            g_string_append_c (out, *p);
        }
    }
  g_string_append_c (out, '"');
}

static gboolean
check_text (const char *what, const char *text, GError **error)
{
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("the %s is not UTF-8"), what);
      return FALSE;
    }
  return TRUE;
}

char *
cf_submit_compose (const char *title, const char *body, const CfSubmitOptions *options,
                   GError **error)
{
  g_autoptr(GString) out = g_string_new ("---\ntitle: ");

  g_autofree char *trimmed = g_strstrip (g_strdup (title ? title : ""));

  if (trimmed[0] == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("the title is empty"));
      return NULL;
    }
  if (!check_text ("title", title, error) || !check_text ("body", body, error))
    return NULL;
  append_quoted (out, title);
  g_string_append_printf (out, "\npriority: %s\n", cf_priority_to_string (options->priority));
  if (options->model != NULL)
    g_string_append_printf (out, "model: %s\n", options->model);
  if (options->tags != NULL && options->tags[0] != NULL)
    {
      g_string_append (out, "tags: [");
      for (guint i = 0; options->tags[i] != NULL; i++)
        {
          if (i > 0)
            g_string_append (out, ", ");
          append_quoted (out, options->tags[i]);
        }
      g_string_append (out, "]\n");
    }
  if (options->preferred_ai != NULL)
    g_string_append_printf (out, "preferred_ai: %s\n", options->preferred_ai);
  if (options->allow_delegation_set)
    g_string_append_printf (out, "allow_delegation: %s\n", options->allow_delegation ? "true" : "false");
  if (options->needs_claude_code_set)
    g_string_append_printf (out, "needs_claude_code: %s\n", options->needs_claude_code ? "true" : "false");
  g_string_append (out, "---\n");
  g_string_append (out, body);
  if (out->len == 0 || out->str[out->len - 1] != '\n')
    g_string_append_c (out, '\n');
  if (out->len > CF_TASK_MAX_SIZE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("the task is larger than %d bytes"), CF_TASK_MAX_SIZE);
      return NULL;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}
