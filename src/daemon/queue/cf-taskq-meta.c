/* SPDX-License-Identifier: MIT */
/* meta/<id>.json: what the queue records about a task beside its file
 * (attempts, the last claim, the outcome, a bounded history), read and
 * written durably; CfTaskMeta for the callers. */
#include "cf-taskq-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-json.h"

/* *out is NULL when there is no meta file. */
gboolean
taskq_meta_load (const char *project, const char *id, JsonObject **out, GError **error)
{
  g_autofree char *path = taskq_meta_path (project, id);
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *shown = NULL;
  JsonObject *object;
  JsonNode *member;
  gsize length = 0;

  *out = NULL;
  if (!taskq_read_regular (path, TASKQ_META_MAX_SIZE, &data, &length, &local_error))
    {
      if (g_error_matches (local_error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  shown = g_filename_display_name (path);
  /* Whoever owns the project can write anything here: json-glib recurses
   * once per nesting level and makes lone \u surrogates bytes that are not
   * UTF-8, so only exact, shallow JSON reaches it. */
  if (memchr (data, '\0', length) != NULL || !g_utf8_validate_len (data, length, NULL))
    g_set_error_literal (&local_error, CF_JSON_ERROR, CF_JSON_ERROR_SYNTAX,
                         _("not UTF-8 text"));
  else if (cf_json_check_syntax (data, length, TASKQ_META_MAX_DEPTH, CF_JSON_CHECK_EXACT, &local_error))
    root = json_from_string (data, &local_error);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_CORRUPT_META,
                   _("%s: not a task meta file (%s); move it aside to reset the task's attempts"),
                   shown, local_error != NULL ? local_error->message : _("not a JSON object"));
      return FALSE;
    }
  object = json_node_get_object (root);
  member = json_object_get_member (object, "attempts");
  if (json_object_get_member (object, "version") == NULL ||
      json_node_get_value_type (json_object_get_member (object, "version")) != G_TYPE_INT64 ||
      json_object_get_int_member (object, "version") != TASKQ_META_VERSION ||
      member == NULL || json_node_get_value_type (member) != G_TYPE_INT64 ||
      json_node_get_int (member) < 0 || json_node_get_int (member) > G_MAXUINT)
    {
      g_set_error (error, CF_TASKQ_ERROR, CF_TASKQ_ERROR_CORRUPT_META,
                   _("%s: not a task meta file of version %d with a valid attempt count; "
                     "move it aside to reset the task's attempts"),
                   shown, TASKQ_META_VERSION);
      return FALSE;
    }
  *out = json_object_ref (object);
  return TRUE;
}

JsonObject *
taskq_meta_new (const char *id)
{
  JsonObject *object = json_object_new ();

  json_object_set_int_member (object, "version", TASKQ_META_VERSION);
  json_object_set_string_member (object, "id", id);
  json_object_set_int_member (object, "attempts", 0);
  return object;
}

void
taskq_set_string_or_null (JsonObject *object, const char *name, const char *value)
{
  if (value != NULL)
    json_object_set_string_member (object, name, value);
  else
    json_object_set_null_member (object, name);
}

void
taskq_set_time (JsonObject *object, const char *name, gint64 usec)
{
  g_autofree char *text = taskq_format_time (usec, TRUE);

  json_object_set_string_member (object, name, text);
}

guint
taskq_meta_attempts (JsonObject *object)
{
  return (guint) json_object_get_int_member (object, "attempts");
}

/* Appends EVENT (consumed) to the history without recording a move. */
void
taskq_meta_annotate (JsonObject *object, gint64 now_usec, JsonObject *event)
{
  JsonNode *member = json_object_get_member (object, "history");
  JsonArray *history;

  if (member != NULL && JSON_NODE_HOLDS_ARRAY (member))
    history = json_node_get_array (member);
  else
    {
      history = json_array_new ();
      json_object_set_array_member (object, "history", history);
    }
  taskq_set_time (event, "at", now_usec);
  json_array_add_object_element (history, event);
  while (json_array_get_length (history) > CF_TASKQ_HISTORY_MAX)
    json_array_remove_element (history, 0);
}

/* Records the move that is about to happen, and appends EVENT (consumed)
 * to the bounded history. */
void
taskq_meta_update (JsonObject *object, CfTaskPlace place, const char *outcome, gint64 now_usec,
             JsonObject *event)
{
  json_object_set_string_member (object, "place", taskq_place_names[place]);
  json_object_set_string_member (object, "last_outcome", outcome);
  taskq_set_time (object, "updated_at", now_usec);
  taskq_meta_annotate (object, now_usec, event);
}

char *
taskq_meta_to_data (JsonObject *object, gsize *length)
{
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonGenerator) generator = json_generator_new ();

  json_node_set_object (root, object);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return cf_json_generate (generator, length);
}

gboolean
taskq_meta_store (const char *project, const char *id, JsonObject *object, GError **error)
{
  g_autofree char *path = taskq_meta_path (project, id);
  gsize length = 0;
  g_autofree char *data = taskq_meta_to_data (object, &length);

  return taskq_write_durably (path, data, length, error);
}

/* Puts back what the meta file held before a move that did not happen. */
void
taskq_meta_restore (const char *project, const char *id, const char *old_data, gsize old_length)
{
  g_autofree char *path = taskq_meta_path (project, id);
  g_autoptr(GError) error = NULL;

  if (old_data == NULL)
    {
      taskq_remove_quietly (path, id);
      return;
    }
  if (!taskq_write_durably (path, old_data, old_length, &error))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "CF_TASK", id,
                      "MESSAGE", "%s", error->message);
}

const char *
taskq_string_member (JsonObject *object, const char *name)
{
  JsonNode *member = json_object_get_member (object, name);

  if (member == NULL || json_node_get_value_type (member) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (member);
}

static gint64
time_member (JsonObject *object, const char *name)
{
  gint64 usec = 0;

  return taskq_parse_time (taskq_string_member (object, name), &usec) ? usec : 0;
}

static CfTaskMeta *
meta_from_object (JsonObject *object)
{
  CfTaskMeta *meta = g_new0 (CfTaskMeta, 1);
  JsonNode *member;

  meta->attempts = taskq_meta_attempts (object);
  if (!taskq_place_from_string (taskq_string_member (object, "place"), &meta->place))
    meta->place = CF_TASK_PLACE_ABSENT;
  meta->session = g_strdup (taskq_string_member (object, "session"));
  meta->account = g_strdup (taskq_string_member (object, "account"));
  meta->model = g_strdup (taskq_string_member (object, "model"));
  meta->claimed_at_usec = time_member (object, "claimed_at");
  meta->finished_at_usec = time_member (object, "finished_at");
  meta->last_outcome = g_strdup (taskq_string_member (object, "last_outcome"));
  meta->last_reason = g_strdup (taskq_string_member (object, "last_reason"));
  meta->updated_at_usec = time_member (object, "updated_at");
  member = json_object_get_member (object, "local_only");
  meta->local_only = member != NULL && JSON_NODE_HOLDS_VALUE (member) &&
                     json_node_get_value_type (member) == G_TYPE_BOOLEAN &&
                     json_node_get_boolean (member);
  return meta;
}

gboolean
cf_taskq_read_meta (const char *project, const char *id, CfTaskMeta **out, GError **error)
{
  g_autoptr(JsonObject) object = NULL;

  g_return_val_if_fail (out != NULL, FALSE);

  *out = NULL;
  if (!taskq_check_args (project, id, error) || !taskq_meta_load (project, id, &object, error))
    return FALSE;
  if (object != NULL)
    *out = meta_from_object (object);
  return TRUE;
}

guint
cf_taskq_attempts (const char *project, const char *id)
{
  g_autoptr(CfTaskMeta) meta = NULL;

  if (!cf_taskq_read_meta (project, id, &meta, NULL) || meta == NULL)
    return 0;
  return meta->attempts;
}

