/* SPDX-License-Identifier: MIT */
#include "cf-delegate-json.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "cf-json.h"

G_DEFINE_QUARK (cf-delegate-error-quark, cf_delegate_error)

/* The contract's objects are flat; the bound only keeps json-glib's
 * recursion short on hostile input. */
#define MAX_DEPTH 16
#define MARKER_VERSION 1
#define MARKER_MAX 4096

static const char *const status_names[] = {
  [CF_JOB_STATUS_QUEUED] = "queued",
  [CF_JOB_STATUS_RUNNING] = "running",
  [CF_JOB_STATUS_COMPLETED] = "completed",
  [CF_JOB_STATUS_FAILED] = "failed",
};

const char *
cf_job_status_to_string (CfJobStatus status)
{
  if ((guint) status >= G_N_ELEMENTS (status_names))
    return "unknown";
  return status_names[status];
}

gboolean
cf_job_status_from_string (const char *text, CfJobStatus *out)
{
  for (guint i = 0; text != NULL && i < G_N_ELEMENTS (status_names); i++)
    if (g_str_equal (text, status_names[i]))
      {
        if (out != NULL)
          *out = (CfJobStatus) i;
        return TRUE;
      }
  return FALSE;
}

gboolean
cf_job_status_is_final (CfJobStatus status)
{
  return status == CF_JOB_STATUS_COMPLETED || status == CF_JOB_STATUS_FAILED;
}

static gboolean
word_is_valid (const char *text, gsize max, const char *extra)
{
  gsize n = 0;

  if (text == NULL || *text == '\0')
    return FALSE;
  for (const char *p = text; *p != '\0'; p++, n++)
    if (n >= max || (!g_ascii_isalnum (*p) && strchr (extra, *p) == NULL))
      return FALSE;
  return TRUE;
}

gboolean
cf_delegate_job_id_is_valid (const char *id)
{
  return word_is_valid (id, CF_DELEGATE_JOB_ID_MAX, "._~:@+=-");
}

gboolean
cf_delegate_provider_is_valid (const char *provider)
{
  return word_is_valid (provider, CF_DELEGATE_PROVIDER_MAX, "._-");
}

void
cf_delegate_job_free (CfDelegateJob *job)
{
  if (job == NULL)
    return;
  g_free (job->id);
  g_free (job->result);
  g_free (job->provider);
  g_free (job->cost);
  g_free (job->error);
  g_free (job);
}

void
cf_delegate_marker_free (CfDelegateMarker *marker)
{
  if (marker == NULL)
    return;
  g_free (marker->job_id);
  g_free (marker->provider);
  g_free (marker);
}

/* ---- strict reading ------------------------------------------------------ */

/* WHAT names the document in messages ("the reply", "the marker"). */
static JsonObject *
read_object (const char *data, gsize length, gsize max, const char *what, GQuark domain,
             gint code, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) json_error = NULL;
  const char *invalid = NULL;
  JsonNode *root;

  if (data == NULL)
    length = 0;
  if (length > max)
    {
      /* TRANSLATORS: %s is "the reply" or "the marker" */
      g_set_error (error, domain, code, _("%s is larger than %lu bytes"), what,
                   (unsigned long) max);
      return NULL;
    }
  if (length > 0 && memchr (data, '\0', length) != NULL)
    {
      g_set_error (error, domain, code, _("%s contains a NUL byte"), what);
      return NULL;
    }
  if (length > 0 && !g_utf8_validate_len (data, length, &invalid))
    {
      g_set_error (error, domain, code,
                   _("%s is not UTF-8 (at byte offset %lu)"), what,
                   (unsigned long) (invalid - data));
      return NULL;
    }
  if (!cf_json_check_syntax (length > 0 ? data : "", length, MAX_DEPTH, CF_JSON_CHECK_EXACT,
                             &json_error))
    {
      if (g_error_matches (json_error, CF_JSON_ERROR, CF_JSON_ERROR_EMPTY))
        g_set_error (error, domain, code, _("%s is empty"), what);
      else
        g_set_error (error, domain, code, _("%s is not JSON: %s"), what, json_error->message);
      return NULL;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) length, &json_error))
    {
      /* cf_json_check_syntax accepted it: not reached with json-glib 1.6. */
      g_set_error (error, domain, code, _("%s is not JSON"), what);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, domain, code, _("%s is not a JSON object"), what);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* A member that may be absent or null (*out NULL), else a string. */
static gboolean
optional_string (JsonObject *object, const char *name, char **out, const char *what,
                 GQuark domain, gint code, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      /* TRANSLATORS: "the reply: member "result" must be a string or null" */
      g_set_error (error, domain, code, _("%s: member \"%s\" must be a string or null"), what,
                   name);
      return FALSE;
    }
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
required_string (JsonObject *object, const char *name, const char **out, const char *what,
                 GQuark domain, gint code, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    {
      g_set_error (error, domain, code, _("%s: member \"%s\" is missing"), what, name);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, domain, code, _("%s: member \"%s\" must be a string"), what, name);
      return FALSE;
    }
  *out = json_node_get_string (node);
  return TRUE;
}

static char *
shown (const char *text)
{
  return cf_delegate_one_line (text, 60);
}

static gboolean
read_job_id (JsonObject *object, char **out, const char *what, GQuark domain, gint code,
             GError **error)
{
  JsonNode *node = json_object_get_member (object, "id");
  g_autofree char *id = NULL;

  if (node == NULL)
    {
      g_set_error (error, domain, code, _("%s: member \"%s\" is missing"), what, "id");
      return FALSE;
    }
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64 &&
      json_node_get_int (node) >= 0)
    id = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    id = g_strdup (json_node_get_string (node));
  else
    {
      g_set_error (error, domain, code,
                   _("%s: member \"id\" must be a string or a non-negative integer"), what);
      return FALSE;
    }
  if (!cf_delegate_job_id_is_valid (id))
    {
      g_autofree char *text = shown (id);
      g_set_error (error, domain, code,
                   _("%s: job id '%s' is not 1 to %d letters, digits or ._~:@+=-"), what, text,
                   CF_DELEGATE_JOB_ID_MAX);
      return FALSE;
    }
  *out = g_steal_pointer (&id);
  return TRUE;
}

CfDelegateJob *
cf_delegate_job_parse (const char *data, gsize length, GError **error)
{
  const char *what = _("the reply");
  const GQuark domain = CF_DELEGATE_ERROR;
  const gint code = CF_DELEGATE_ERROR_BAD_REPLY;
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(CfDelegateJob) job = g_new0 (CfDelegateJob, 1);
  const char *status = NULL;
  JsonNode *cost;

  object = read_object (data, length, CF_DELEGATE_REPLY_MAX, what, domain, code, error);
  if (object == NULL || !read_job_id (object, &job->id, what, domain, code, error) ||
      !required_string (object, "status", &status, what, domain, code, error))
    return NULL;
  if (!cf_job_status_from_string (status, &job->status))
    {
      g_autofree char *text = shown (status);
      g_set_error (error, domain, code,
                   _("%s: status '%s' is not queued, running, completed or failed"), what, text);
      return NULL;
    }
  if (!optional_string (object, "result", &job->result, what, domain, code, error) ||
      !optional_string (object, "provider", &job->provider, what, domain, code, error) ||
      !optional_string (object, "error", &job->error, what, domain, code, error))
    return NULL;
  if (job->provider != NULL && !cf_delegate_provider_is_valid (job->provider))
    {
      g_autofree char *text = shown (job->provider);
      g_set_error (error, domain, code,
                   _("%s: provider '%s' is not 1 to %d letters, digits or ._-"), what, text,
                   CF_DELEGATE_PROVIDER_MAX);
      return NULL;
    }

  cost = json_object_get_member (object, "cost");
  if (cost != NULL && !JSON_NODE_HOLDS_NULL (cost))
    {
      GType type = JSON_NODE_HOLDS_VALUE (cost) ? json_node_get_value_type (cost) : G_TYPE_INVALID;

      if (type == G_TYPE_STRING)
        job->cost = g_strdup (json_node_get_string (cost));
      else if (type == G_TYPE_INT64 || type == G_TYPE_DOUBLE)
        job->cost = cf_json_to_string (cost);
      else
        {
          g_set_error (error, domain, code,
                       _("%s: member \"cost\" must be a number, a string or null"), what);
          return NULL;
        }
    }
  return g_steal_pointer (&job);
}

/* ---- writing -------------------------------------------------------------- */

static char *
object_to_string (JsonObject *object)
{
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);

  json_node_set_object (root, object);
  return cf_json_to_string (root);
}

char *
cf_delegate_request_to_json (const CfDelegateRequest *request)
{
  g_autoptr(JsonObject) object = json_object_new ();

  g_return_val_if_fail (request != NULL && request->provider != NULL &&
                        request->priority != NULL && request->prompt != NULL &&
                        request->project != NULL && request->task != NULL, NULL);

  json_object_set_string_member (object, "provider", request->provider);
  json_object_set_string_member (object, "priority", request->priority);
  json_object_set_string_member (object, "prompt", request->prompt);
  json_object_set_string_member (object, "project", request->project);
  json_object_set_string_member (object, "task", request->task);
  return object_to_string (object);
}

static char *
format_time (gint64 usec)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (MAX (usec, 0) / G_USEC_PER_SEC);

  if (time == NULL)
    return g_strdup ("1970-01-01T00:00:00Z");
  return g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ");
}

char *
cf_delegate_marker_to_json (const CfDelegateMarker *marker)
{
  g_autoptr(JsonObject) object = json_object_new ();
  g_autofree char *when = NULL;

  g_return_val_if_fail (marker != NULL && marker->job_id != NULL && marker->provider != NULL,
                        NULL);

  when = format_time (marker->submitted_at_usec);
  json_object_set_int_member (object, "version", MARKER_VERSION);
  json_object_set_string_member (object, "job_id", marker->job_id);
  json_object_set_string_member (object, "provider", marker->provider);
  json_object_set_string_member (object, "submitted_at", when);
  return object_to_string (object);
}

CfDelegateMarker *
cf_delegate_marker_parse (const char *data, gsize length, GError **error)
{
  const char *what = _("the marker");
  const GQuark domain = CF_DELEGATE_ERROR;
  const gint code = CF_DELEGATE_ERROR_BAD_MARKER;
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(CfDelegateMarker) marker = g_new0 (CfDelegateMarker, 1);
  g_autoptr(GDateTime) when = NULL;
  const char *job_id = NULL;
  const char *provider = NULL;
  const char *submitted_at = NULL;
  JsonNode *version;

  object = read_object (data, length, MARKER_MAX, what, domain, code, error);
  if (object == NULL)
    return NULL;
  version = json_object_get_member (object, "version");
  if (version == NULL || !JSON_NODE_HOLDS_VALUE (version) ||
      json_node_get_value_type (version) != G_TYPE_INT64 ||
      json_node_get_int (version) != MARKER_VERSION)
    {
      g_set_error (error, domain, code, _("%s is not a delegation marker of version %d"), what,
                   MARKER_VERSION);
      return NULL;
    }
  if (!required_string (object, "job_id", &job_id, what, domain, code, error) ||
      !required_string (object, "provider", &provider, what, domain, code, error) ||
      !required_string (object, "submitted_at", &submitted_at, what, domain, code, error))
    return NULL;
  if (!cf_delegate_job_id_is_valid (job_id))
    {
      g_set_error (error, domain, code, _("%s: \"job_id\" is not a job id"), what);
      return NULL;
    }
  if (!cf_delegate_provider_is_valid (provider))
    {
      g_set_error (error, domain, code, _("%s: \"provider\" is not a provider name"), what);
      return NULL;
    }
  when = g_date_time_new_from_iso8601 (submitted_at, NULL);
  if (when == NULL || g_date_time_to_unix (when) < 0)
    {
      g_set_error (error, domain, code, _("%s: \"submitted_at\" is not an ISO 8601 time"), what);
      return NULL;
    }
  marker->job_id = g_strdup (job_id);
  marker->provider = g_strdup (provider);
  marker->submitted_at_usec = g_date_time_to_unix (when) * G_USEC_PER_SEC;
  return g_steal_pointer (&marker);
}

char *
cf_delegate_one_line (const char *text, guint max_chars)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", -1);
  guint n = 0;

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (n++ >= max_chars)
        {
          g_string_append (out, "…");
          break;
        }
      if (g_unichar_iscntrl (c) || c == 0x2028 || c == 0x2029)
        g_string_append_c (out, ' ');
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
cf_delegate_footer (const CfDelegateJob *job, const char *provider, gint64 now_usec)
{
  g_autoptr(GString) out = g_string_new ("---\n");
  g_autofree char *when = format_time (now_usec);
  g_autofree char *cost = NULL;
  const char *who;

  g_return_val_if_fail (job != NULL, NULL);

  who = job->provider != NULL ? job->provider : provider;
  cost = job->cost != NULL ? cf_delegate_one_line (job->cost, 60) : g_strdup (_("unknown"));
  /* TRANSLATORS: the footer of a task the remote job API completed:
   * provider, job id, cost as the API gave it, time (ISO 8601 UTC) */
  g_string_append_printf (out, _("Delegated to %s: job %s, cost %s, completed %s."),
                          who != NULL ? who : _("(unknown provider)"), job->id, cost, when);
  g_string_append_c (out, '\n');
  if (job->result != NULL && *job->result != '\0')
    {
      g_autofree char *result = g_utf8_make_valid (job->result, -1);

      g_string_append_printf (out, "\n%s\n\n%s\n", _("Result:"), g_strchomp (result));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}
