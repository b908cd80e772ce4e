/* SPDX-License-Identifier: MIT */
#include "cf-statusline.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "cf-json.h"
#include "cf-pane.h"

G_DEFINE_QUARK (cf-statusline-error-quark, cf_statusline_error)

/* Resets beyond this (year 9999) are nonsense, not a window. */
#define RESETS_AT_MAX_SECONDS G_GINT64_CONSTANT (253402300799)
#define CONFIG_DIR_MAX 4096
#define MODEL_MAX 128

void
cf_statusline_free (CfStatusline *statusline)
{
  if (statusline == NULL)
    return;
  g_free (statusline->session_id);
  g_free (statusline->model);
  g_free (statusline->config_dir);
  g_free (statusline);
}

static JsonNode *
get_member (JsonObject *object, const char *member)
{
  return object != NULL ? json_object_get_member (object, member) : NULL;
}

static JsonObject *
get_object (JsonObject *object, const char *member)
{
  JsonNode *node = get_member (object, member);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* A short printable string member, or NULL. */
static char *
dup_string (JsonObject *object, const char *member, gsize max)
{
  JsonNode *node = get_member (object, member);
  const char *value;

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  value = json_node_get_string (node);
  if (value[0] == '\0' || strlen (value) > max || !g_utf8_validate (value, -1, NULL))
    return NULL;
  for (const char *p = value; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return NULL;
  return g_strdup (value);
}

static gboolean
get_number (JsonObject *object, const char *member, double *out)
{
  JsonNode *node = get_member (object, member);
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    *out = (double) json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else
    return FALSE;
  return isfinite (*out);
}

static void
read_window (JsonObject *rate_limits, CfUsageWindowKind kind, CfStatuslineWindow *window)
{
  JsonObject *object = get_object (rate_limits, cf_usage_window_kind_to_string (kind));
  double value;

  window->used = -1;
  window->resets_at = 0;
  if (get_number (object, "used_percentage", &value) && value >= 0)
    window->used = MIN (value, CF_USAGE_PERCENT_MAX);
  if (get_number (object, "resets_at", &value) && value >= 1 && value <= RESETS_AT_MAX_SECONDS)
    window->resets_at = (gint64) value * G_USEC_PER_SEC;
}

static char *
dup_model (JsonObject *object)
{
  JsonObject *model = get_object (object, "model");
  char *name;

  if (model == NULL)
    return dup_string (object, "model", MODEL_MAX);
  name = dup_string (model, "display_name", MODEL_MAX);
  return name != NULL ? name : dup_string (model, "id", MODEL_MAX);
}

gboolean
cf_statusline_parse (const char *json, gsize length, CfStatusline **out, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) json_error = NULL;
  g_autoptr(CfStatusline) statusline = NULL;
  g_autofree char *session_id = NULL;
  g_autofree char *config_dir = NULL;
  JsonObject *object, *rate_limits;
  JsonNode *root;

  g_return_val_if_fail (json != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (length == (gsize) -1)
    length = strlen (json);
  if (length > CF_STATUSLINE_INPUT_MAX)
    {
      g_set_error (error, CF_STATUSLINE_ERROR, CF_STATUSLINE_ERROR_TOO_LARGE,
                   _("the statusline input is larger than %d bytes"), CF_STATUSLINE_INPUT_MAX);
      return FALSE;
    }
  if (memchr (json, '\0', length) != NULL || !g_utf8_validate_len (json, length, NULL))
    {
      g_set_error_literal (error, CF_STATUSLINE_ERROR, CF_STATUSLINE_ERROR_ENCODING,
                           _("the statusline input is not UTF-8 text"));
      return FALSE;
    }
  if (!cf_json_check_syntax (json, length, CF_STATUSLINE_MAX_DEPTH, CF_JSON_CHECK_DEFAULT,
                             &json_error))
    {
      g_set_error (error, CF_STATUSLINE_ERROR, CF_STATUSLINE_ERROR_SYNTAX,
                   _("the statusline input is not JSON: %s"), json_error->message);
      return FALSE;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, json, (gssize) length, NULL))
    {
      /* Only a \u escape of a lone surrogate gets here; json-glib's message
       * would quote its bytes, which are not UTF-8. */
      g_set_error_literal (error, CF_STATUSLINE_ERROR, CF_STATUSLINE_ERROR_SYNTAX,
                           _("the statusline input is not JSON: invalid string escape"));
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, CF_STATUSLINE_ERROR, CF_STATUSLINE_ERROR_NOT_OBJECT,
                           _("the statusline input must be a JSON object"));
      return FALSE;
    }
  object = json_node_get_object (root);

  statusline = g_new0 (CfStatusline, 1);
  session_id = dup_string (object, "session_id", 64);
  if (cf_uuid_is_valid (session_id))
    statusline->session_id = g_steal_pointer (&session_id);
  statusline->model = dup_model (object);
  config_dir = dup_string (object, "config_dir", CONFIG_DIR_MAX);
  if (config_dir != NULL && g_path_is_absolute (config_dir))
    statusline->config_dir = g_steal_pointer (&config_dir);

  rate_limits = get_object (object, "rate_limits");
  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      CfStatuslineWindow *window = &statusline->windows[i];

      read_window (rate_limits, (CfUsageWindowKind) i, window);
      if (window->used >= 0 || window->resets_at > 0)
        statusline->has_rate_limits = TRUE;
    }

  *out = g_steal_pointer (&statusline);
  return TRUE;
}

char *
cf_statusline_to_report (const CfStatusline *statusline, const char *config_dir)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonGenerator) generator = json_generator_new ();

  json_builder_begin_object (builder);
  if (statusline->session_id != NULL)
    {
      json_builder_set_member_name (builder, "session_id");
      json_builder_add_string_value (builder, statusline->session_id);
    }
  if (statusline->model != NULL)
    {
      json_builder_set_member_name (builder, "model");
      json_builder_add_string_value (builder, statusline->model);
    }
  if (config_dir != NULL)
    {
      json_builder_set_member_name (builder, "config_dir");
      json_builder_add_string_value (builder, config_dir);
    }
  json_builder_set_member_name (builder, "rate_limits");
  json_builder_begin_object (builder);
  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      const CfStatuslineWindow *window = &statusline->windows[i];

      if (window->used < 0 && window->resets_at <= 0)
        continue;
      json_builder_set_member_name (builder, cf_usage_window_kind_to_string (i));
      json_builder_begin_object (builder);
      if (window->used >= 0)
        {
          json_builder_set_member_name (builder, "used_percentage");
          json_builder_add_double_value (builder, window->used);
        }
      if (window->resets_at > 0)
        {
          json_builder_set_member_name (builder, "resets_at");
          json_builder_add_int_value (builder, window->resets_at / G_USEC_PER_SEC);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return cf_json_generate (generator, NULL);
}

char *
cf_statusline_key (const CfStatusline *statusline)
{
  GString *key = g_string_new (statusline->session_id ? statusline->session_id : "-");

  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    g_string_append_printf (key, " %.1f@%" G_GINT64_FORMAT, statusline->windows[i].used,
                            statusline->windows[i].resets_at / G_USEC_PER_SEC);
  return g_string_free (key, FALSE);
}

gboolean
cf_statusline_should_forward (const char *last_key, gint64 last_sent, const char *key,
                              gint64 now)
{
  gint64 since;

  if (last_key == NULL || last_sent <= 0 || last_sent > now)
    return TRUE;
  since = now - last_sent;
  if (since >= CF_STATUSLINE_REFRESH_USEC)
    return TRUE;
  return g_strcmp0 (last_key, key) != 0 && since >= CF_STATUSLINE_MIN_GAP_USEC;
}

char *
cf_statusline_format_remaining (gint64 usec)
{
  gint64 minutes = MAX (usec, 0) / (60 * G_USEC_PER_SEC);

  if (usec > 0 && minutes == 0)
    return g_strdup ("<1m");
  if (minutes < 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m", minutes);
  if (minutes < 24 * 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT "h%02" G_GINT64_FORMAT "m", minutes / 60,
                            minutes % 60);
  return g_strdup_printf ("%" G_GINT64_FORMAT "d%" G_GINT64_FORMAT "h", minutes / (24 * 60),
                          minutes / 60 % 24);
}

char *
cf_statusline_format (const CfStatusline *statusline, const char *account, gint64 now)
{
  /* TRANSLATORS: short names of the two usage windows in the status line. */
  const char *labels[CF_USAGE_N_WINDOWS] = { N_("5h"), N_("7d") };
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);

  if (account != NULL && account[0] != '\0')
    g_ptr_array_add (parts, g_strdup (account));
  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      const CfStatuslineWindow *window = &statusline->windows[i];
      g_autofree char *remaining = NULL;

      /* A window past its reset says nothing any more. */
      if (window->used < 0 || (window->resets_at > 0 && window->resets_at <= now))
        continue;
      if (window->resets_at <= 0)
        {
          g_ptr_array_add (parts, g_strdup_printf ("%s %.0f%%", _(labels[i]), window->used));
          continue;
        }
      remaining = cf_statusline_format_remaining (window->resets_at - now);
      g_ptr_array_add (parts, g_strdup_printf ("%s %.0f%% ↻%s", _(labels[i]), window->used,
                                               remaining));
    }
  if (parts->len == 0 || (parts->len == 1 && account != NULL && account[0] != '\0'))
    /* TRANSLATORS: shown instead of the percentages before Claude Code knows them. */
    g_ptr_array_add (parts, g_strdup (_("usage unknown")));
  g_ptr_array_add (parts, NULL);
  return g_strjoinv (" · ", (char **) parts->pdata);
}
