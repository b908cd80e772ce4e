/* SPDX-License-Identifier: MIT */
#include "cf-hook-payload.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "cf-json.h"
#include "cf-pane.h"

G_DEFINE_QUARK (cf-hook-error-quark, cf_hook_error)

static const char *const event_names[] = {
  [CF_HOOK_EVENT_OTHER] = "Other",
  [CF_HOOK_EVENT_SESSION_START] = "SessionStart",
  [CF_HOOK_EVENT_USER_PROMPT_SUBMIT] = "UserPromptSubmit",
  [CF_HOOK_EVENT_STOP] = "Stop",
  [CF_HOOK_EVENT_STOP_FAILURE] = "StopFailure",
  [CF_HOOK_EVENT_NOTIFICATION] = "Notification",
  [CF_HOOK_EVENT_SESSION_END] = "SessionEnd",
  [CF_HOOK_EVENT_PRE_COMPACT] = "PreCompact",
  [CF_HOOK_EVENT_SUBAGENT_STOP] = "SubagentStop",
};

G_STATIC_ASSERT (G_N_ELEMENTS (event_names) == CF_HOOK_EVENT_LAST + 1);

const char *
cf_hook_event_to_string (CfHookEvent event)
{
  if ((guint) event >= G_N_ELEMENTS (event_names))
    return event_names[CF_HOOK_EVENT_OTHER];
  return event_names[event];
}

CfHookEvent
cf_hook_event_from_string (const char *name)
{
  if (name == NULL)
    return CF_HOOK_EVENT_OTHER;
  for (guint i = CF_HOOK_EVENT_OTHER + 1; i < G_N_ELEMENTS (event_names); i++)
    if (g_str_equal (name, event_names[i]))
      return (CfHookEvent) i;
  return CF_HOOK_EVENT_OTHER;
}

gboolean
cf_hook_event_name_is_valid (const char *name)
{
  gsize i;

  if (name == NULL || !g_ascii_isalpha (name[0]))
    return FALSE;
  for (i = 0; name[i] != '\0'; i++)
    if (i >= CF_HOOK_EVENT_NAME_MAX || !g_ascii_isalnum (name[i]))
      return FALSE;
  return TRUE;
}

/* --- Field extraction ------------------------------------------------------------ */

static const char *
get_string (JsonObject *object, const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* A copy of a string member, or NULL when it is missing, not a string, or
 * (after a \u escape of a lone surrogate) not UTF-8. */
static char *
dup_string (JsonObject *object, const char *member)
{
  const char *value = get_string (object, member);

  if (value == NULL || !g_utf8_validate (value, -1, NULL))
    return NULL;
  return g_strdup (value);
}

/* The error kind of a StopFailure, in the order the header documents. */
static char *
dup_error_kind (JsonObject *object)
{
  JsonNode *node;
  JsonObject *error_object;
  char *kind;

  kind = dup_string (object, "error_type");
  if (kind != NULL)
    return kind;
  kind = dup_string (object, "error");
  if (kind != NULL)
    return kind;

  node = json_object_get_member (object, "error");
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  error_object = json_node_get_object (node);
  kind = dup_string (error_object, "type");
  /* The API's envelope: {"type": "error", "error": {"type": "rate_limit_error"}}. */
  if (kind != NULL && g_str_equal (kind, "error"))
    {
      JsonNode *inner = json_object_get_member (error_object, "error");

      /* "error" itself names no kind: without the inner object, there is none. */
      g_clear_pointer (&kind, g_free);
      if (inner != NULL && JSON_NODE_HOLDS_OBJECT (inner))
        kind = dup_string (json_node_get_object (inner), "type");
    }
  return kind;
}

void
cf_hook_payload_free (CfHookPayload *payload)
{
  if (payload == NULL)
    return;
  g_free (payload->event_name);
  g_free (payload->session_id);
  g_free (payload->transcript_path);
  g_free (payload->cwd);
  g_free (payload->hook_event_name);
  g_free (payload->error);
  g_free (payload->prompt);
  g_free (payload->source);
  g_free (payload->message);
  g_free (payload->last_assistant_message);
  g_free (payload->notification_type);
  g_free (payload);
}

gboolean
cf_hook_payload_parse (const char *event_name,
                       const char *json,
                       gsize length,
                       CfHookPayload **out,
                       GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) json_error = NULL;
  g_autoptr(CfHookPayload) payload = NULL;
  const char *invalid = NULL;
  const char *nul;
  JsonNode *root;
  JsonObject *object;
  g_autofree char *session_id = NULL;
  const char *prompt;

  g_return_val_if_fail (json != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (event_name != NULL && !cf_hook_event_name_is_valid (event_name))
    {
      g_set_error (error, CF_HOOK_ERROR, CF_HOOK_ERROR_INVALID_EVENT,
                   _("invalid hook event name (expected letters and digits, at most %d)"),
                   CF_HOOK_EVENT_NAME_MAX);
      return FALSE;
    }

  if (length == (gsize) -1)
    length = strlen (json);
  if (length > CF_HOOK_PAYLOAD_MAX)
    {
      g_set_error (error, CF_HOOK_ERROR, CF_HOOK_ERROR_TOO_LARGE,
                   _("the hook input is larger than %d bytes"), CF_HOOK_PAYLOAD_MAX);
      return FALSE;
    }
  nul = memchr (json, '\0', length);
  if (nul != NULL)
    {
      g_set_error (error, CF_HOOK_ERROR, CF_HOOK_ERROR_NUL_BYTE,
                   _("the hook input contains a NUL byte (at byte offset %lu)"),
                   (unsigned long) (nul - json));
      return FALSE;
    }
  if (!g_utf8_validate_len (json, length, &invalid))
    {
      g_set_error (error, CF_HOOK_ERROR, CF_HOOK_ERROR_ENCODING,
                   _("the hook input is not valid UTF-8 (at byte offset %lu)"),
                   (unsigned long) (invalid - json));
      return FALSE;
    }

  /* json-glib recurses once per level and accepts more than JSON; the
   * input comes from whatever runs the hook. */
  if (!cf_json_check_syntax (json, length, CF_HOOK_MAX_DEPTH, CF_JSON_CHECK_DEFAULT, &json_error))
    {
      if (g_error_matches (json_error, CF_JSON_ERROR, CF_JSON_ERROR_EMPTY))
        g_set_error_literal (error, CF_HOOK_ERROR, CF_HOOK_ERROR_SYNTAX,
                             _("the hook input is empty"));
      else if (g_error_matches (json_error, CF_JSON_ERROR, CF_JSON_ERROR_TOO_DEEP))
        g_set_error (error, CF_HOOK_ERROR, CF_HOOK_ERROR_TOO_DEEP,
                     _("the hook input is refused: %s"), json_error->message);
      else
        g_set_error (error, CF_HOOK_ERROR, CF_HOOK_ERROR_SYNTAX,
                     _("the hook input is not JSON: %s"), json_error->message);
      return FALSE;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, json, (gssize) length, &json_error))
    {
      /* What json-glib still refuses is a \u escape of a lone surrogate; its
       * message quotes the decoded bytes, which are not UTF-8. */
      g_autofree char *reason = g_utf8_make_valid (json_error->message, -1);

      for (char *p = reason; *p != '\0'; p++)
        if ((guchar) *p < 0x20)
          *p = ' ';
      g_set_error (error, CF_HOOK_ERROR, CF_HOOK_ERROR_SYNTAX,
                   _("the hook input is not JSON: %s"), reason);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, CF_HOOK_ERROR, CF_HOOK_ERROR_NOT_OBJECT,
                           _("the hook input must be a JSON object"));
      return FALSE;
    }
  object = json_node_get_object (root);

  payload = g_new0 (CfHookPayload, 1);
  payload->hook_event_name = dup_string (object, "hook_event_name");
  if (event_name != NULL)
    payload->event_name = g_strdup (event_name);
  else if (cf_hook_event_name_is_valid (payload->hook_event_name))
    payload->event_name = g_strdup (payload->hook_event_name);
  else
    payload->event_name = g_strdup (cf_hook_event_to_string (CF_HOOK_EVENT_OTHER));
  payload->event = cf_hook_event_from_string (payload->event_name);

  session_id = dup_string (object, "session_id");
  if (cf_uuid_is_valid (session_id))
    payload->session_id = g_steal_pointer (&session_id);
  payload->transcript_path = dup_string (object, "transcript_path");
  payload->cwd = dup_string (object, "cwd");
  payload->error = dup_error_kind (object);
  prompt = get_string (object, "prompt");
  payload->prompt = cf_json_dup_text (prompt, CF_HOOK_PROMPT_MAX, &payload->prompt_truncated);
  payload->source = dup_string (object, "source");
  payload->message = dup_string (object, "message");
  payload->notification_type = dup_string (object, "notification_type");
  payload->last_assistant_message =
    cf_json_dup_text (get_string (object, "last_assistant_message"), CF_HOOK_PROMPT_MAX, NULL);

  *out = g_steal_pointer (&payload);
  return TRUE;
}

static gboolean
error_is_429 (const CfHookPayload *payload)
{
  if (payload == NULL || payload->event != CF_HOOK_EVENT_STOP_FAILURE || payload->error == NULL)
    return FALSE;
  return g_str_equal (payload->error, "rate_limit") ||
         g_str_equal (payload->error, "rate_limit_error");
}

/* Whether the text Claude showed for the failed turn is a usage limit, read
 * with the pane's own pattern table (one table, one verdict). */
static gboolean
message_is_usage_limit (const char *message)
{
  CfPaneContext context = { .now_unix = 0, .tail_lines = 50 };
  g_auto(CfPaneVerdict) verdict = { 0 };

  cf_pane_classify (message, (gsize) -1, &context, &verdict);
  return verdict.limit_match && !verdict.throttle;
}

void
cf_hook_payload_set_verdict (CfHookPayload *payload, const CfSessionVerdict *verdict)
{
  g_return_if_fail (payload != NULL && verdict != NULL);
  payload->verdict = *verdict;
  payload->has_verdict = TRUE;
}

void
cf_hook_payload_to_verdict_hook (const CfHookPayload *payload, CfVerdictHook *out)
{
  memset (out, 0, sizeof *out);
  if (payload == NULL)
    return;
  out->event = payload->event_name;
  out->error = payload->error;
  out->last_assistant_message = payload->last_assistant_message;
  out->notification_type = payload->notification_type;
}

void
cf_hook_payload_decide (CfHookPayload *payload,
                        const CfTranscriptEntry *transcript,
                        const CfPaneVerdict *pane,
                        gint64 now_unix,
                        GTimeZone *zone)
{
  CfVerdictHook hook;
  CfSessionVerdict verdict;

  g_return_if_fail (payload != NULL);
  if (transcript != NULL && !transcript->assistant)
    transcript = NULL;
  if (pane != NULL && pane->busy)
    pane = NULL;
  cf_hook_payload_to_verdict_hook (payload, &hook);
  cf_session_verdict_fuse (&hook, transcript, pane, now_unix, zone, &verdict);
  cf_hook_payload_set_verdict (payload, &verdict);
}

char *
cf_hook_payload_describe_decision (const CfHookPayload *payload)
{
  g_autofree char *described = NULL;

  g_return_val_if_fail (payload != NULL, NULL);
  if (!payload->has_verdict)
    return g_strdup (payload->event_name);
  described = cf_session_verdict_describe (&payload->verdict);
  return g_strdup_printf ("%s%s%s → %s", payload->event_name, payload->error ? " error=" : "",
                          payload->error ? payload->error : "", described);
}

/* The fused verdict speaks about the failed turn (not only the screen). */
static gboolean
verdict_decides (const CfHookPayload *payload)
{
  if (payload == NULL || !payload->has_verdict || payload->event != CF_HOOK_EVENT_STOP_FAILURE)
    return FALSE;
  switch (payload->verdict.kind)
    {
    case CF_SESSION_VERDICT_TURN_FAILED:
    case CF_SESSION_VERDICT_SERVER_ERROR:
    case CF_SESSION_VERDICT_THROTTLE:
    case CF_SESSION_VERDICT_USAGE_LIMIT:
    case CF_SESSION_VERDICT_AUTH:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
hook_is_rate_limit (const CfHookPayload *payload)
{
  if (!error_is_429 (payload))
    return FALSE;
  /* Older releases sent no message: their "rate_limit" meant the limit. */
  return payload->last_assistant_message == NULL ||
         message_is_usage_limit (payload->last_assistant_message);
}

gboolean
cf_hook_payload_is_rate_limit (const CfHookPayload *payload)
{
  if (verdict_decides (payload))
    {
      if (payload->verdict.kind == CF_SESSION_VERDICT_USAGE_LIMIT)
        return TRUE;
      /* A bare 429 of an older release, and nothing else read it. */
      return payload->verdict.kind == CF_SESSION_VERDICT_THROTTLE && error_is_429 (payload) &&
             payload->last_assistant_message == NULL && payload->verdict.sources == CF_VERDICT_SOURCE_HOOK;
    }
  return hook_is_rate_limit (payload);
}

gboolean
cf_hook_payload_is_throttle (const CfHookPayload *payload)
{
  if (verdict_decides (payload))
    return payload->verdict.kind == CF_SESSION_VERDICT_THROTTLE && !cf_hook_payload_is_rate_limit (payload);
  return error_is_429 (payload) && !cf_hook_payload_is_rate_limit (payload);
}

GDateTime *
cf_hook_payload_reset_at (const CfHookPayload *payload, gint64 now_unix, GTimeZone *local_zone)
{
  CfPaneContext context = { .now_unix = now_unix, .local_zone = local_zone, .tail_lines = 50 };
  g_auto(CfPaneVerdict) verdict = { 0 };

  if (!cf_hook_payload_is_rate_limit (payload))
    return NULL;
  if (verdict_decides (payload) && payload->verdict.reset_unix > 0)
    return g_date_time_new_from_unix_utc (payload->verdict.reset_unix);
  if (payload->last_assistant_message == NULL)
    return NULL;
  cf_pane_classify (payload->last_assistant_message, (gsize) -1, &context, &verdict);
  if (!verdict.limit_match || verdict.reset_at == NULL)
    return NULL;
  return g_date_time_ref (verdict.reset_at);
}

const char *
cf_hook_payload_account_problem (const CfHookPayload *payload)
{
  static const char *const problems[] = {
    "authentication_failed", "oauth_org_not_allowed", "account_on_hold",
    "verification_required", "billing_error",
  };

  if (verdict_decides (payload))
    return payload->verdict.kind == CF_SESSION_VERDICT_AUTH ? payload->verdict.reason : NULL;
  if (payload == NULL || payload->event != CF_HOOK_EVENT_STOP_FAILURE || payload->error == NULL)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (problems); i++)
    if (g_str_equal (payload->error, problems[i]))
      return problems[i];
  return NULL;
}

gboolean
cf_hook_payload_needs_person (const CfHookPayload *payload)
{
  static const char *const types[] = {
    "permission_prompt", "agent_needs_input", "elicitation_dialog", NULL,
  };

  return payload != NULL && payload->event == CF_HOOK_EVENT_NOTIFICATION &&
         payload->notification_type != NULL &&
         g_strv_contains (types, payload->notification_type);
}
